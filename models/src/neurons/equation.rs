//! Equation-defined neurons: a population whose membrane dynamics is a user Rust function,
//! integrated with Euler, Heun or RK4 (Sapicore's `Neuron(equation, integrator)`).
//!
//! # Why
//!
//! The built-in models are hand-written kernels: fast and exactly Inferno's semantics, but
//! each one is code. Exploring a new model should not require writing a kernel, a system and
//! a registration: it should be enough to write down its ODE. An [`Equation`] is that ODE,
//!
//! ```text
//! dx/dt = f(x, I)        x ∈ S  (f32, a glam vector such as Vec2 for (v, u), or [f32; N])
//! ```
//!
//! plus a threshold rule, a reset rule and which component of `x` is the membrane voltage.
//! [`EquationNeuron<E>`] turns it into an ordinary [`NeuronModel`]: it is registered, placed
//! in the schedule and built from scenario files through exactly the path the built-in models
//! use, and its system is monomorphised for `E` (the derivative is inlined into the
//! integrator; no dynamic dispatch per neuron).
//!
//! # The discrete step
//!
//! For each neuron and batch copy, with the population's input `I` (nA) and the simulation's
//! Δt (ms), following the order of Inferno's `neuron_dynamics` (like [`lif`](super::lif)):
//!
//! 1. `x ← with_voltage(x, V)` if the `Voltage` component was changed from outside since the
//!    last step (by `Simulation::inject`, a user system, `Simulation::clear`, …); see "Voltage" below.
//! 2. `r ← max(r − Δt, 0)`; the neuron is active if `r = 0`.
//! 3. If active: `x ← step(f(·, I), x, Δt)` with the chosen [`Method`], the input held
//!    constant across the stages:
//!    - Euler: `x + Δt·f(x, I)`;
//!    - Heun: `x + Δt/2·(k₁ + k₂)`, `k₁ = f(x, I)`, `k₂ = f(x + Δt·k₁, I)`;
//!    - RK4: `x + Δt/6·(k₁ + 2k₂ + 2k₃ + k₄)`.
//!
//!    If refractory: with `refrac_lock` (default) `x` is held; without it `x` evolves with
//!    `I = 0`.
//! 4. `spike = active ∧ spiked(x)`; a spiking neuron gets `x ← reset(x)` and `r ← refrac_t`.
//! 5. `V ← voltage(x)`; the spikes of each batch copy are stored as sorted indices.
//!
//! `refrac_t` (ms, default 0: no refractory period) has LIF's meaning: the refractory period
//! includes the spike step, so with Δt = 1 ms and `refrac_t = 2` ms the neuron is held for
//! one step and integrates again two steps after the spike.
//!
//! # Voltage
//!
//! The full state `x` lives in the [`EquationNeuron`] component (`size × batch` values,
//! batch-major like every state array); the `Voltage` component mirrors `voltage(x)` after
//! every step, so recorders, plots and user systems see equation neurons like any other.
//! The mirror also works backwards: a change to `Voltage` made between two steps is written
//! into the state with [`Equation::with_voltage`] at the start of the next step. That is how
//! `Simulation::inject` (Sapicore's `inject`) works for every model alike, and how an initial voltage
//! from `PopulationOptions::voltage` / `init.voltage` reaches the state. Other components of
//! the state are not touched by `Simulation::clear` (only the voltage is reset to
//! `voltage(initial())`).
//!
//! # Aggregation
//!
//! By default the engine sums the currents of all incoming projections into `SynapticInput`
//! (`Phase::Aggregate`). Sapicore's `aggregate` lets a neuron combine them with another rule,
//! e.g. shunting inhibition as a product. [`EquationNeuron::with_aggregate`] sets the
//! population's engine [`Aggregation`] to that function, so the input of neuron `j` is
//!
//! ```text
//! I_j = S_j + g(c_1j, c_2j, …, c_Pj)
//! ```
//!
//! where `S_j` is the input from stimuli, `c_pj` the `ProjectionCurrent` of the p-th
//! incoming projection in creation order, and `g` the user's function (not called when the
//! population has no incoming projection: the term is then 0). Any population can use the
//! same rules through `PopulationOptions::aggregate`.
//!
//! # Parameters (scenario files)
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `refrac_t` | ms | absolute refractory period (default 0) | `≥ 0`, one value or one per neuron |
//! | `order` | — | integrator: 1 = Euler, 2 = Heun, 4 = RK4 (default [`Equation::METHOD`]) | one of 1, 2, 4 |
//! | the equation's own | | read by [`Equation::from_params`] | [`Equation::validate`] |
//!
//! Equations are not registered by `ember_models::register_all`: register each one you use
//! with `sim.register_neuron_model::<EquationNeuron<MyEquation>>()` (or just add a
//! population of it). Its [`Equation::NAME`] must differ from every other registered model's
//! name.
//!
//! # Example
//!
//! A quadratic integrate-and-fire neuron `dv/dt = v² + I`, spiking at `v ≥ 10`, reset to −10:
//!
//! ```
//! use ember_engine::prelude::*;
//! use ember_integrators::Method;
//! use ember_models::neurons::equation::{Equation, EquationNeuron};
//!
//! struct Qif;
//! impl Equation for Qif {
//!     const NAME: &'static str = "doc_qif";
//!     type State = f32;
//!     fn derivative(&self, v: f32, input: f32) -> f32 { v * v + input }
//!     fn voltage(&self, v: f32) -> f32 { v }
//!     fn with_voltage(&self, _: f32, v: f32) -> f32 { v }
//!     fn initial(&self) -> f32 { -1.0 }
//!     fn spiked(&self, v: f32) -> bool { v >= 10.0 }
//!     fn reset(&self, _: f32) -> f32 { -10.0 }
//! }
//!
//! let mut sim = Simulation::new(SimConfig { step_time: 0.01, ..Default::default() })?;
//! let pop = sim.add_population("qif", 1, EquationNeuron::new(Qif, Method::Rk4), Default::default())?;
//! sim.add_current(pop, Param::Scalar(1.0), 0.0, None, None)?;
//! let rec = sim.record_spikes(pop)?;
//! sim.run_for(10.0)?;
//! // v² + 1 > 0: the neuron fires periodically (period ≈ π when the reset is far away).
//! assert!(sim.recorded_spikes(rec).len() >= 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use bevy_ecs::prelude::*;
use ember_engine::model::check;
use ember_engine::parallel;
use ember_engine::prelude::*;
use ember_engine::{
    AggregateRule, Aggregation, ModelSystems, ParamError, ParamReader, Population, RefracLock,
    SpawnContext,
};
use ember_integrators::{Euler, Heun, Integrator, Method, Rk4, State};

use crate::neurons::lif::collect_spikes;
use crate::neurons::{PARALLEL_MIN_NEURONS, settle_refractory};

/// A custom combination of the currents (nA) a neuron receives from its incoming
/// projections, in projection creation order; returns the neuron's synaptic input, nA.
pub type AggregateFn = fn(&[f32]) -> f32;

/// A neuron model given by its ODE `dx/dt = f(x, I)`, a threshold rule and a reset rule
/// (see the [module docs](self)).
///
/// All methods are called per neuron in the step loop and should be cheap and pure; they
/// are inlined into the monomorphised kernel.
pub trait Equation: Send + Sync + 'static {
    /// Registry name used in scenario files (`model = "…"`); must be unique among the
    /// simulation's registered neuron models.
    const NAME: &'static str;

    /// The equation's own scenario parameter names (for error messages); `refrac_t` and
    /// `order` are accepted for every equation in addition.
    const PARAMS: &'static [&'static str] = &[];

    /// The integrator used when a scenario gives no `order`.
    const METHOD: Method = Method::Euler;

    /// The state `x`: `f32`, a glam `Vec2`/`Vec3`/`Vec4`, `[f32; N]`, or any type
    /// implementing [`State`] over `f32`.
    type State: State<Scalar = f32> + Send + Sync + 'static;

    /// `dx/dt = f(x, I)`, per ms, for input current `input` (nA). The input is the same in
    /// every stage of a step.
    fn derivative(&self, state: Self::State, input: f32) -> Self::State;

    /// The membrane voltage of `state`, mV (recorded as `Voltage`).
    fn voltage(&self, state: Self::State) -> f32;

    /// `state` with its voltage set to `v` (mV), leaving the other components alone; the
    /// inverse of [`Equation::voltage`]: `voltage(with_voltage(x, v))` should be `v`.
    fn with_voltage(&self, state: Self::State, v: f32) -> Self::State;

    /// The initial (resting) state of every neuron.
    fn initial(&self) -> Self::State;

    /// The threshold rule, applied to the state after integration, e.g. `v ≥ θ`.
    fn spiked(&self, state: Self::State) -> bool;

    /// The reset rule, applied to the state of a neuron that spiked, e.g. `v ← c, u ← u + d`.
    fn reset(&self, state: Self::State) -> Self::State;

    /// Reads the equation's parameters from a scenario's `params` table (`refrac_t` and
    /// `order` are read before, by [`EquationNeuron`]). The default fails: such an equation
    /// is built in Rust only.
    fn from_params(params: &mut ParamReader<'_>) -> Result<Self, BuildError>
    where
        Self: Sized,
    {
        let path = params.path_of("");
        Err(BuildError::invalid(
            path.trim_end_matches('.'),
            format!(
                "equation neuron `{}` is built from Rust only: its `Equation` type does not \
                 implement `from_params`",
                Self::NAME
            ),
        ))
    }

    /// Checks the equation's parameters (default: accepts everything).
    fn validate(&self) -> Result<(), ParamError> {
        Ok(())
    }
}

/// A population of equation-defined neurons: the [`Equation`], its integrator, the
/// refractory period, an optional custom aggregation, and the per-neuron states (see the
/// [module docs](self)).
#[derive(Component, Clone)]
pub struct EquationNeuron<E: Equation> {
    /// The ODE, threshold and reset.
    pub equation: E,
    /// The integrator (Euler, Heun or RK4), stepping with the simulation's Δt.
    pub method: Method,
    /// Absolute refractory period, ms (one value or one per neuron; default 0).
    pub refrac_t: Param,
    /// Custom combination of incoming projection currents (`None`: the engine's sum).
    pub aggregate: Option<AggregateFn>,
    /// `size × batch` states, batch-major (empty until the population is added).
    states: Vec<E::State>,
    /// Spike flags of one batch copy.
    flags: Vec<u8>,
}

impl<E: Equation> EquationNeuron<E> {
    /// Neurons following `equation`, integrated with `method`, without refractory period or
    /// custom aggregation.
    pub fn new(equation: E, method: Method) -> Self {
        Self {
            equation,
            method,
            refrac_t: Param::Scalar(0.0),
            aggregate: None,
            states: Vec::new(),
            flags: Vec::new(),
        }
    }

    /// Sets the absolute refractory period, ms (one value or one per neuron).
    pub fn with_refractory(mut self, refrac_t: impl Into<Param>) -> Self {
        self.refrac_t = refrac_t.into();
        self
    }

    /// Combines the incoming projection currents with `aggregate` instead of summing them
    /// (see "Aggregation" in the [module docs](self)).
    pub fn with_aggregate(mut self, aggregate: AggregateFn) -> Self {
        self.aggregate = Some(aggregate);
        self
    }

    /// The states after the last step, batch-major (`b·size + i`); empty before the
    /// population is added. A voltage changed since the last step (e.g. by `Simulation::inject`) is
    /// folded in at the start of the next step.
    pub fn states(&self) -> &[E::State] {
        &self.states
    }
}

impl<E: Equation> fmt::Debug for EquationNeuron<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EquationNeuron")
            .field("equation", &E::NAME)
            .field("method", &self.method)
            .field("refrac_t", &self.refrac_t)
            .field("aggregate", &self.aggregate.is_some())
            .field("states", &self.states.len())
            .finish()
    }
}

/// The per-neuron state one equation step updates: one batch copy or a chunk of it.
pub struct EquationSlices<'a, S> {
    /// The ODE states.
    pub states: &'a mut [S],
    /// Membrane voltage, mV (read for external changes, written as `voltage(x)`).
    pub voltage: &'a mut [f32],
    /// Remaining refractory time, ms.
    pub refrac: &'a mut [f32],
}

/// One step of equation neurons over a slice (the pure kernel of the module docs): sets
/// `spiked[i]` to 1 if neuron `i` spiked, else 0.
///
/// `first` is the population index of the slice's first neuron (for per-neuron
/// `refrac_t`); all slices have the length of `state.states`.
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel over plain slices and scalars, mirroring `lif_step`"
)]
#[inline]
pub fn equation_step<E: Equation, I: Integrator>(
    equation: &E,
    integrator: &I,
    dt: f32,
    refrac_lock: bool,
    refrac_t: &Param,
    first: usize,
    input: &[f32],
    state: EquationSlices<'_, E::State>,
    spiked: &mut [u8],
) {
    let EquationSlices {
        states,
        voltage,
        refrac,
    } = state;
    let n = states.len();
    let (voltage, refrac) = (&mut voltage[..n], &mut refrac[..n]);
    let (input, spiked) = (&input[..n], &mut spiked[..n]);
    for i in 0..n {
        let mut x = states[i];
        let v_ext = voltage[i];
        if v_ext.to_bits() != equation.voltage(x).to_bits() {
            x = equation.with_voltage(x, v_ext);
        }
        let rem = settle_refractory(refrac[i] - dt, dt);
        let active = rem == 0.0;
        if active || !refrac_lock {
            let drive = if active { input[i] } else { 0.0 };
            x = integrator.step(|y| equation.derivative(y, drive), x, dt);
        }
        let spike = active && equation.spiked(x);
        if spike {
            x = equation.reset(x);
            refrac[i] = refrac_t.at(first + i);
        } else {
            refrac[i] = rem;
        }
        states[i] = x;
        voltage[i] = equation.voltage(x);
        spiked[i] = u8::from(spike);
    }
}

/// Runs [`equation_step`] over one batch copy, in parallel chunks when it is large, and
/// appends its spikes (sorted) to `spikes`. Neurons are independent, so the result does not
/// depend on the thread count.
#[expect(
    clippy::too_many_arguments,
    reason = "the kernel's arguments plus the output list"
)]
fn equation_copy<E: Equation, I: Integrator + Sync>(
    equation: &E,
    integrator: &I,
    dt: f32,
    lock: bool,
    refrac_t: &Param,
    input: &[f32],
    state: EquationSlices<'_, E::State>,
    flags: &mut [u8],
    spikes: &mut Vec<u32>,
) {
    let EquationSlices {
        states,
        voltage,
        refrac,
    } = state;
    if states.len() < PARALLEL_MIN_NEURONS {
        let state = EquationSlices {
            states,
            voltage,
            refrac,
        };
        equation_step(
            equation, integrator, dt, lock, refrac_t, 0, input, state, flags,
        );
        collect_spikes(flags, 0, spikes);
    } else {
        // Each part collects its own spikes (its flags stay in its core's cache).
        let parts = (states, voltage, refrac, &mut *flags);
        parallel::for_each_part_collecting(
            parts,
            0,
            spikes,
            |s, (states, voltage, refrac, flags), spikes| {
                let input = &input[s..s + states.len()];
                let state = EquationSlices {
                    states,
                    voltage,
                    refrac,
                };
                equation_step(
                    equation, integrator, dt, lock, refrac_t, s, input, state, flags,
                );
                collect_spikes(flags, s as u32, spikes);
            },
        );
    }
}

/// The components [`equation_system`] updates for each population of `E`.
type EquationQuery<'a, E> = (
    &'a Population,
    &'a mut EquationNeuron<E>,
    &'a RefracLock,
    &'a SynapticInput,
    &'a mut Voltage,
    &'a mut Refractory,
    &'a mut Spikes,
);

/// The equation-neuron system ([`Phase::Integrate`]): fused integrate, threshold and reset
/// for every population of `E`.
pub fn equation_system<E: Equation>(clock: Res<Clock>, mut pops: Query<EquationQuery<'_, E>>) {
    let dt = clock.dt();
    for (pop, mut neuron, lock, input, mut v, mut r, mut spikes) in &mut pops {
        let n = pop.size as usize;
        let EquationNeuron {
            equation,
            method,
            refrac_t,
            states,
            flags,
            ..
        } = &mut *neuron;
        if flags.len() != n {
            flags.resize(n, 0);
        }
        for b in 0..pop.batch as usize {
            let range = b * n..(b + 1) * n;
            let state = EquationSlices {
                states: &mut states[range.clone()],
                voltage: &mut v.0[range.clone()],
                refrac: &mut r.0[range.clone()],
            };
            let x = &input.0[range];
            let out = spikes.batch_mut(b);
            let (lock, rt) = (lock.0, &*refrac_t);
            match *method {
                Method::Euler => {
                    equation_copy(equation, &Euler, dt, lock, rt, x, state, flags, out)
                }
                Method::Heun => equation_copy(equation, &Heun, dt, lock, rt, x, state, flags, out),
                Method::Rk4 => equation_copy(equation, &Rk4, dt, lock, rt, x, state, flags, out),
            }
        }
    }
}

/// Reads the `order` parameter: 1 = Euler, 2 = Heun, 4 = RK4.
fn method_from_params(p: &mut ParamReader<'_>, default: Method) -> Result<Method, BuildError> {
    let order = p.optional("order", default.order() as f32)?;
    let method = order
        .as_scalar()
        .and_then(|o| Method::ALL.into_iter().find(|m| m.order() as f32 == o));
    method.ok_or_else(|| {
        BuildError::invalid(
            p.path_of("order"),
            format!(
                "expected the integrator's order: 1 (Euler), 2 (Heun) or 4 (RK4), got {:?}",
                order.values()
            ),
        )
    })
}

impl<E: Equation> NeuronModel for EquationNeuron<E> {
    const NAME: &'static str = E::NAME;
    const PARAMS: &'static [&'static str] = E::PARAMS;

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        let refrac_t = p.optional("refrac_t", 0.0)?;
        let method = method_from_params(p, E::METHOD)?;
        let equation = E::from_params(p)?;
        Ok(Self::new(equation, method).with_refractory(refrac_t))
    }

    fn validate(&self, n: usize) -> Result<(), ParamError> {
        check::length("refrac_t", &self.refrac_t, n)?;
        check::each("refrac_t", &self.refrac_t, "≥ 0 ms", |v| v >= 0.0)?;
        self.equation.validate()
    }

    fn initial_voltage(&self, _i: usize) -> f32 {
        self.equation.voltage(self.equation.initial())
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_neuron_pass(Phase::Integrate, equation_system::<E>);
    }

    fn insert(mut self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let n = ctx.size as usize;
        let len = n * ctx.batch as usize;
        let x0 = self.equation.initial();
        let v0 = self.equation.voltage(x0);
        // Initial voltages given in the population options become part of the state.
        self.states = match entity.get::<Voltage>() {
            Some(v) if v.0.len() == len => {
                v.0.iter()
                    .map(|&v| {
                        if v.to_bits() == v0.to_bits() {
                            x0
                        } else {
                            self.equation.with_voltage(x0, v)
                        }
                    })
                    .collect()
            }
            _ => vec![x0; len],
        };
        self.flags = vec![0; n];
        if let Some(f) = self.aggregate {
            entity.insert(Aggregation::new(AggregateRule::Custom(f)));
        }
        entity.insert(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dv/dt = I`, spike at `v ≥ 1`, reset to 0.
    struct Integrator1;
    impl Equation for Integrator1 {
        const NAME: &'static str = "test_integrator";
        type State = f32;
        fn derivative(&self, _: f32, input: f32) -> f32 {
            input
        }
        fn voltage(&self, v: f32) -> f32 {
            v
        }
        fn with_voltage(&self, _: f32, v: f32) -> f32 {
            v
        }
        fn initial(&self) -> f32 {
            0.0
        }
        fn spiked(&self, v: f32) -> bool {
            v >= 1.0
        }
        fn reset(&self, _: f32) -> f32 {
            0.0
        }
    }

    fn run(lock: bool, refrac_t: f32, steps: usize) -> (Vec<f32>, Vec<f32>, Vec<usize>) {
        let (mut x, mut v, mut r) = ([0.0f32], [0.0f32], [0.0f32]);
        let (mut vs, mut rs, mut spikes) = (vec![], vec![], vec![]);
        for s in 0..steps {
            let mut flag = [0u8];
            let state = EquationSlices {
                states: &mut x,
                voltage: &mut v,
                refrac: &mut r,
            };
            let rt = Param::Scalar(refrac_t);
            equation_step(
                &Integrator1,
                &Euler,
                1.0,
                lock,
                &rt,
                0,
                &[0.5],
                state,
                &mut flag,
            );
            vs.push(v[0]);
            rs.push(r[0]);
            if flag[0] == 1 {
                spikes.push(s);
            }
        }
        (vs, rs, spikes)
    }

    #[test]
    fn refractory_period_includes_the_spike_step() {
        let (v, r, spikes) = run(true, 2.0, 8);
        assert_eq!(spikes, [1, 4, 7]);
        assert_eq!(v, [0.5, 0.0, 0.0, 0.5, 0.0, 0.0, 0.5, 0.0]);
        assert_eq!(r, [0.0, 2.0, 1.0, 0.0, 2.0, 1.0, 0.0, 2.0]);
        // Without a refractory period the neuron fires every other step.
        assert_eq!(run(true, 0.0, 6).2, [1, 3, 5]);
    }

    #[test]
    fn external_voltage_changes_enter_the_state() {
        let (mut x, mut v, mut r) = ([0.25f32], [0.75f32], [0.0f32]);
        let mut flag = [0u8];
        let state = EquationSlices {
            states: &mut x,
            voltage: &mut v,
            refrac: &mut r,
        };
        let rt = Param::Scalar(0.0);
        equation_step(
            &Integrator1,
            &Euler,
            1.0,
            true,
            &rt,
            0,
            &[0.5],
            state,
            &mut flag,
        );
        // 0.75 (not the stale 0.25) + 0.5 ≥ 1: spike and reset.
        assert_eq!((x[0], v[0], flag[0]), (0.0, 0.0, 1));
    }

    #[test]
    fn scenario_parameters_need_from_params() {
        let table = Default::default();
        let mut p = ParamReader::new(&table, "population[0].params", "x", "x", 1, 0);
        let e = <EquationNeuron<Integrator1> as NeuronModel>::from_params(&mut p).unwrap_err();
        assert_eq!(e.path, "population[0].params");
        assert!(e.to_string().contains("from_params"), "{e}");
    }
}
