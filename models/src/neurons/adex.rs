//! Adaptive exponential integrate-and-fire neuron (`adex`), with Inferno's semantics.
//!
//! # Equations
//!
//! Continuous (Brette & Gerstner 2005), with K adaptation currents `wₖ`:
//!
//! * `τ_m dV/dt = −(V − V_rest) + Δ_T·exp((V − V_T)/Δ_T) + R·(I(t) − Σₖ wₖ)`;
//! * `τₖ dwₖ/dt = aₖ·(V − V_rest) − wₖ`, and `wₖ ← wₖ + bₖ` at each spike;
//! * spike when `V ≥ V_θ`, then `V ← V_reset` and the neuron is refractory for `t_ref`.
//!
//! Discrete step (Inferno `AdEx.forward`: `apply_adaptive_currents`,
//! `voltage_thresholding_constant` with `voltage_integration_exponential`, then
//! `adaptive_currents_linear`), for each neuron:
//!
//! 1. The membrane step of [`Eif`] (one explicit Euler step, refractory mask
//!    and lock, constant reset) with input `I − Σₖ wₖ`, using the adaptation *before* this
//!    step; the whole adapted input is zeroed while refractory.
//! 2. In train mode only, for each term, with the voltage `V` *after* the step and reset:
//!    `wₖ ← wₖ + (Δt/τₖ)·(aₖ·(V − V_rest) − wₖ)`, skipped (held) if `refrac_lock` and the
//!    neuron is refractory after the step — so the Euler part is frozen on the spike step
//!    when `t_ref > 0` and throughout the refractory period; then `wₖ ← wₖ + bₖ·spike`
//!    (always).
//!
//! Worked example (INFERNO.md 1.4, Δt = 1 ms): a neuron at −30 mV that spikes, reset
//! −70 mV, rest −65 mV, a = 1 µS, τ = 10 ms, b = 5 nA: `w = 0 + 0.1·(1·(−70 + 65) − 0) + 5
//! = 4.5` with `t_ref = 0`, and `w = 0 + 5 = 5` with `t_ref = 1` ms (held on the spike step).
//!
//! The adaptation is shared by the batch copies, as in Inferno: every copy computes its
//! updated `w` from its own voltages and spikes, and the population's batch reduction (mean
//! by default) combines them. It updates only in train mode (a population may override the
//! simulation's mode). A population with one term, one batch copy and a built-in reduction
//! updates `w` inside the membrane loop (the same arithmetic, one pass).
//!
//! The exponential is [`exp_poly`](crate::neurons::eif::exp_poly) (within 1 ulp of the
//! correctly rounded `exp`) and `(V − V_T)/Δ_T` is computed with a precomputed `1/Δ_T`, as
//! in [`eif`](crate::neurons::eif) (whose module docs give the accuracy).
//!
//! # Parameters
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `rest_v` | mV | resting voltage `V_rest` | `rest_v < rheobase_v` |
//! | `rheobase_v` | mV | rheobase (soft threshold) `V_T` | `rheobase_v ≤ thresh_v` |
//! | `sharpness` | mV | slope factor `Δ_T` | `> 0` |
//! | `reset_v` | mV | reset voltage `V_reset` | `reset_v < thresh_v` |
//! | `thresh_v` | mV | spike cut-off `V_θ` | |
//! | `refrac_t` | ms | absolute refractory period `t_ref` | `≥ 0` |
//! | `tc_membrane` | ms | membrane time constant `τ_m` | `> 0` |
//! | `tc_adaptation` \[K\] | ms | adaptation time constants `τₖ` | `> 0` |
//! | `voltage_coupling` \[K\] | µS | subthreshold coupling `aₖ` | any (same K) |
//! | `spike_increment` \[K\] | nA | spike-triggered increment `bₖ` | any (same K) |
//! | `resistance` | MΩ | membrane resistance `R` (default 1) | `≠ 0` |
//!
//! Every value must be finite. The membrane parameters may be one value or one per neuron;
//! the `[K]` parameters are one value per adaptation term (a single number means K = 1),
//! shared by all neurons, and must all have the same K. The initial adaptation
//! (`init.adaptation`) is one value per term, default 0.
//!
//! References: Inferno `AdEx` (`inferno/neural/neurons/nonlinear.py`) and
//! `adaptive_currents_linear` (`inferno/neural/functional/neuron_adaptation.py`); Brette &
//! Gerstner (2005), *J. Neurophysiol.* 94(5); Gerstner et al., *Neuronal Dynamics* (2014)
//! §6.1.

use bevy_ecs::prelude::*;
use ember_engine::model::check;
use ember_engine::prelude::*;
use ember_engine::{
    BatchReducer, ModelSystems, ParamError, ParamReader, Population, PopulationMode, RefracLock,
    SpawnContext,
};

use crate::Eif;
use crate::neurons::eif::{EifCoefficients, EifKernel, EifState, InputAdaptation, run_copy};

/// AdEx parameters (see the module docs for equations, units and rules).
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Adex {
    /// Resting voltage `V_rest`, mV.
    pub rest_v: Param,
    /// Rheobase voltage `V_T`, mV.
    pub rheobase_v: Param,
    /// Sharpness (slope factor) `Δ_T`, mV.
    pub sharpness: Param,
    /// Reset voltage after a spike, mV.
    pub reset_v: Param,
    /// Spike threshold (cut-off), mV.
    pub thresh_v: Param,
    /// Absolute refractory period, ms.
    pub refrac_t: Param,
    /// Membrane time constant, ms.
    pub tc_membrane: Param,
    /// Adaptation time constants τₖ, ms (K terms).
    pub tc_adaptation: Vec<f32>,
    /// Subthreshold couplings aₖ, µS (K terms).
    pub voltage_coupling: Vec<f32>,
    /// Spike-triggered increments bₖ, nA (K terms).
    pub spike_increment: Vec<f32>,
    /// Membrane resistance, MΩ.
    pub resistance: Param,
}

impl Adex {
    /// The membrane of `membrane` (an [`Eif`], whose `tc_membrane` and `resistance` are
    /// used) with K adaptation terms given by three lists of K values.
    pub fn new(
        membrane: Eif,
        tc_adaptation: Vec<f32>,
        voltage_coupling: Vec<f32>,
        spike_increment: Vec<f32>,
    ) -> Self {
        let Eif {
            rest_v,
            rheobase_v,
            sharpness,
            reset_v,
            thresh_v,
            refrac_t,
            tc_membrane,
            resistance,
        } = membrane;
        Self {
            rest_v,
            rheobase_v,
            sharpness,
            reset_v,
            thresh_v,
            refrac_t,
            tc_membrane,
            tc_adaptation,
            voltage_coupling,
            spike_increment,
            resistance,
        }
    }

    /// The membrane parameters as an [`Eif`].
    pub fn membrane(&self) -> Eif {
        Eif {
            rest_v: self.rest_v.clone(),
            rheobase_v: self.rheobase_v.clone(),
            sharpness: self.sharpness.clone(),
            reset_v: self.reset_v.clone(),
            thresh_v: self.thresh_v.clone(),
            refrac_t: self.refrac_t.clone(),
            tc_membrane: self.tc_membrane.clone(),
            resistance: self.resistance.clone(),
        }
    }
}

/// One adaptation term's update (Inferno `adaptive_currents_linear`): the Euler step
/// `w + (Δt/τ)·(a·(V − V_rest) − w)` if `evolve` (not held by the refractory lock), then
/// `+ b` if the neuron spiked.
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "one term's scalar update, inlined"
)]
pub fn adapt_current(
    w: f32,
    rate: f32,
    coupling: f32,
    increment: f32,
    v: f32,
    rest_v: f32,
    evolve: bool,
    spike: bool,
) -> f32 {
    let euler = crate::neurons::eif::fused(
        rate,
        crate::neurons::eif::fused(coupling, v - rest_v, -w),
        w,
    );
    let w = if evolve { euler } else { w };
    if spike { w + increment } else { w }
}

/// One term updated in place inside the membrane loop (K = 1, one batch copy, train mode).
struct FusedTerm<'a> {
    w: &'a mut [f32],
    rate: f32,
    coupling: f32,
    increment: f32,
}

impl InputAdaptation for FusedTerm<'_> {
    #[inline(always)]
    fn prefix(self, len: usize) -> Self {
        FusedTerm {
            w: &mut self.w[..len],
            ..self
        }
    }
    #[inline(always)]
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (w0, w1) = self.w.split_at_mut(mid);
        let (rate, coupling, increment) = (self.rate, self.coupling, self.increment);
        (
            FusedTerm {
                w: w0,
                rate,
                coupling,
                increment,
            },
            FusedTerm {
                w: w1,
                rate,
                coupling,
                increment,
            },
        )
    }
    #[inline(always)]
    fn current(&self, i: usize) -> f32 {
        self.w[i]
    }
    #[inline(always)]
    fn update(&mut self, i: usize, c: &EifCoefficients, v: f32, evolve: bool, spike: bool) {
        let (rate, coupling, increment) = (self.rate, self.coupling, self.increment);
        let w = &mut self.w[i];
        *w = adapt_current(*w, rate, coupling, increment, v, c.rest_v, evolve, spike);
    }
}

/// `Σₖ wₖ` per neuron, read-only (the update runs in a separate pass).
struct Shift<'a>(&'a [f32]);

impl InputAdaptation for Shift<'_> {
    #[inline(always)]
    fn prefix(self, len: usize) -> Self {
        Shift(&self.0[..len])
    }
    #[inline(always)]
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (a, b) = self.0.split_at(mid);
        (Shift(a), Shift(b))
    }
    #[inline(always)]
    fn current(&self, i: usize) -> f32 {
        self.0[i]
    }
    #[inline(always)]
    fn update(&mut self, _: usize, _: &EifCoefficients, _: f32, _: bool, _: bool) {}
}

/// Precomputed state of an AdEx population.
#[derive(Component, Clone, Debug)]
pub struct AdexKernel {
    membrane: EifKernel,
    /// Δt/τₖ per term.
    rate: Vec<f32>,
    /// aₖ per term, µS.
    coupling: Vec<f32>,
    /// bₖ per term, nA.
    increment: Vec<f32>,
    /// Σₖ wₖ per neuron (K > 1).
    total: Vec<f32>,
    /// Updated w per batch copy (batch × size × K) before the reduction.
    per_batch: Vec<f32>,
    scratch: Vec<f32>,
}

/// One step of an AdEx population (pure over its arguments): the membrane step of every
/// batch copy with the input reduced by `Σₖ wₖ`, then (in train mode) the adaptation update
/// of every copy, reduced over the batch.
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel adapter over the state slices"
)]
fn step_population(
    k: &mut AdexKernel,
    n: usize,
    dt: f32,
    lock: bool,
    train: bool,
    reduction: &BatchReduction,
    input: &[f32],
    voltage: &mut [f32],
    refrac: &mut [f32],
    spikes: &mut Spikes,
    adaptation: &mut Adaptation,
) {
    let terms = adaptation.terms();
    let batch = voltage.len() / n;
    let builtin = !matches!(reduction, BatchReduction::Custom(_));
    if train && batch == 1 && terms == 1 && builtin {
        // A built-in reduction of one copy is that copy's value: update in place.
        let fused = FusedTerm {
            w: adaptation.values_mut(),
            rate: k.rate[0],
            coupling: k.coupling[0],
            increment: k.increment[0],
        };
        let state = EifState { voltage, refrac };
        run_copy(
            &mut k.membrane,
            fused,
            dt,
            lock,
            input,
            state,
            spikes.batch_mut(0),
        );
        return;
    }
    let AdexKernel {
        membrane,
        rate,
        coupling,
        increment,
        total,
        per_batch,
        scratch,
    } = k;
    let w = adaptation.values();
    let shift: &[f32] = if terms == 1 {
        w
    } else {
        for (t, row) in total.iter_mut().zip(w.chunks_exact(terms)) {
            *t = row.iter().sum();
        }
        total
    };
    for b in 0..batch {
        let range = b * n..(b + 1) * n;
        let state = EifState {
            voltage: &mut voltage[range.clone()],
            refrac: &mut refrac[range.clone()],
        };
        let out = spikes.batch_mut(b);
        run_copy(
            membrane,
            Shift(shift),
            dt,
            lock,
            &input[range.clone()],
            state,
            out,
        );
        if train {
            let dst = &mut per_batch[b * n * terms..(b + 1) * n * terms];
            let (v, r) = (&voltage[range.clone()], &refrac[range]);
            for i in 0..n {
                let evolve = !lock || r[i] <= 0.0;
                let spike = membrane.flags[i] != 0;
                let rest_v = membrane.rest_v(i);
                for t in 0..terms {
                    let j = i * terms + t;
                    dst[j] = adapt_current(
                        w[j],
                        rate[t],
                        coupling[t],
                        increment[t],
                        v[i],
                        rest_v,
                        evolve,
                        spike,
                    );
                }
            }
        }
    }
    if train {
        let per_batch = &per_batch[..batch * n * terms];
        reduction.reduce_into(per_batch, batch, adaptation.values_mut(), scratch);
    }
}

/// The state the AdEx system updates.
type AdexState<'a> = (
    &'a Population,
    &'a mut AdexKernel,
    &'a RefracLock,
    &'a PopulationMode,
    &'a BatchReducer,
    &'a SynapticInput,
    &'a mut Voltage,
    &'a mut Refractory,
    &'a mut Spikes,
    &'a mut Adaptation,
);

/// The AdEx system ([`Phase::Integrate`]): integration, thresholding, reset and (right
/// after, as Inferno's `forward` does) the adaptation update.
pub fn adex_system(clock: Res<Clock>, mut q: Query<AdexState<'_>>) {
    let dt = clock.dt();
    for (pop, mut k, lock, mode, reducer, input, mut v, mut r, mut spikes, mut a) in &mut q {
        step_population(
            &mut k,
            pop.size as usize,
            dt,
            lock.0,
            mode.trains(),
            &reducer.0,
            &input.0,
            &mut v.0,
            &mut r.0,
            &mut spikes,
            &mut a,
        );
    }
}

impl NeuronModel for Adex {
    const NAME: &'static str = "adex";
    const PARAMS: &'static [&'static str] = &[
        "rest_v",
        "rheobase_v",
        "sharpness",
        "reset_v",
        "thresh_v",
        "refrac_t",
        "tc_membrane",
        "tc_adaptation",
        "voltage_coupling",
        "spike_increment",
        "resistance",
    ];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rest_v: p.required("rest_v")?,
            rheobase_v: p.required("rheobase_v")?,
            sharpness: p.required("sharpness")?,
            reset_v: p.required("reset_v")?,
            thresh_v: p.required("thresh_v")?,
            refrac_t: p.required("refrac_t")?,
            tc_membrane: p.required("tc_membrane")?,
            tc_adaptation: p.required_terms("tc_adaptation")?,
            voltage_coupling: p.required_terms("voltage_coupling")?,
            spike_increment: p.required_terms("spike_increment")?,
            resistance: p.optional("resistance", 1.0)?,
        })
    }

    fn validate(&self, n: usize) -> Result<(), ParamError> {
        self.membrane().validate_membrane(n)?;
        check::terms(&[
            ("tc_adaptation", &self.tc_adaptation),
            ("voltage_coupling", &self.voltage_coupling),
            ("spike_increment", &self.spike_increment),
        ])?;
        check::each_term("tc_adaptation", &self.tc_adaptation, "> 0 ms", |v| v > 0.0)?;
        check::each_term("voltage_coupling", &self.voltage_coupling, "finite", |_| {
            true
        })?;
        check::each_term("spike_increment", &self.spike_increment, "finite", |_| true)
    }

    fn initial_voltage(&self, i: usize) -> f32 {
        self.rest_v.at(i)
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_neuron_pass(Phase::Integrate, adex_system);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let n = ctx.size as usize;
        let terms = self.tc_adaptation.len();
        let kernel = AdexKernel {
            membrane: self.membrane().kernel(n, ctx.step_time),
            rate: self
                .tc_adaptation
                .iter()
                .map(|tau| ctx.step_time / tau)
                .collect(),
            coupling: self.voltage_coupling.clone(),
            increment: self.spike_increment.clone(),
            total: vec![0.0; if terms > 1 { n } else { 0 }],
            per_batch: vec![0.0; n * terms * ctx.batch as usize],
            scratch: Vec::with_capacity(ctx.batch as usize),
        };
        let adaptation = Adaptation::new(n, terms, ctx.init_adaptation);
        entity.insert((self, kernel, adaptation));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptation_update_follows_inferno_order() {
        // INFERNO.md 1.4: post-reset V = −70, rest −65, a = 1, Δt/τ = 0.1, b = 5.
        assert_eq!(
            adapt_current(0.0, 0.1, 1.0, 5.0, -70.0, -65.0, true, true),
            4.5
        );
        assert_eq!(
            adapt_current(0.0, 0.1, 1.0, 5.0, -70.0, -65.0, false, true),
            5.0
        );
        // No spike: the Euler step only.
        assert_eq!(
            adapt_current(2.0, 0.5, 0.5, 5.0, -61.0, -65.0, true, false),
            2.0
        );
    }
}
