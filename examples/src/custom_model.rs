//! A neuron model written outside Ember's crates: the resonate-and-fire neuron.
//!
//! Ember's built-in models are ordinary users of the engine's public extension point: a
//! parameter component implementing [`NeuronModel`], a pure kernel over slices, a thin system
//! placed in [`Phase::Integrate`], and one registration call that makes the model's name
//! usable in scenario files. This module does the same for a model Ember does not ship, to
//! show that nothing distinguishes a built-in from a user's model: [`ResonateAndFire`] runs
//! next to the built-in `lif` and `delta_current` models, is built from Rust or from a TOML
//! scenario, is validated with errors naming the parameter, and is recorded like any other.
//!
//! # The model
//!
//! Izhikevich's resonate-and-fire neuron (Izhikevich 2001, *Resonate-and-fire neurons*,
//! Neural Networks 14:883–894) is the linearisation of a neuron near an Andronov–Hopf
//! bifurcation: its subthreshold state is a damped oscillator. With `z = x + i·y` (mV), `x`
//! current-like and `y = V − V_rest` voltage-like,
//!
//! ```text
//! dz/dt = (b + iω)·z + I/C,        b = −1/τ_d,  ω = 2π·f / 1000   (ms⁻¹, rad/ms)
//! ```
//!
//! that is `dx/dt = b·x − ω·y + I/C`, `dy/dt = ω·x + b·y`. It fires when `V ≥ V_θ`, and
//! then `V ← V_reset`, `x ← 0`.
//!
//! Unlike an integrator (LIF), a resonator prefers a *rhythm*: a brief input pulse starts a
//! damped oscillation of period `1/f`, so a second pulse one period later adds to it in
//! phase, while a pulse half a period later cancels it. A train of pulses at the resonant
//! frequency makes it fire; a train at twice that frequency — more input — never does.
//!
//! # The discrete step
//!
//! For input `I` held constant over a step the ODE has the exact solution
//!
//! ```text
//! z(t + Δt) = z∞ + (z(t) − z∞)·e^{(b + iω)Δt},     z∞ = −(I/C)/(b + iω),
//! ```
//!
//! so the kernel ([`resonator_step`]) is exact, like `lif`'s, with `e^{(b+iω)Δt}` and
//! `1/(b + iω)` precomputed per Δt ([`ResonatorCoefficients`]). Around it, the order of
//! operations is the built-in models' (Inferno's): refractory countdown, input zeroed and
//! state held while refractory (`refrac_lock`), integration, threshold, reset. `x` lives in
//! the [`ResonatorState`] component; `y` is read from and written to the population's
//! `Voltage`, so voltage recording and direct injection work as for any model.
//!
//! # Parameters
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `rest_v` | mV | resting voltage `V_rest` (the oscillator's centre) | `rest_v < thresh_v` |
//! | `reset_v` | mV | voltage after a spike `V_reset` | `reset_v < thresh_v` |
//! | `thresh_v` | mV | threshold `V_θ` | |
//! | `tc_damping` | ms | damping time constant `τ_d` | `> 0` |
//! | `frequency` | Hz | eigenfrequency `f` | `> 0` |
//! | `capacitance` | nF | input scale `C` (default 1): `1 nA` moves `x` at `1/C` mV/ms | `> 0` |
//! | `refrac_t` | ms | absolute refractory period (default 0) | `≥ 0` |
//!
//! Parameters are one value per population (a user model chooses what it supports; the
//! built-in models also take one value per neuron).
//!
//! # The experiment
//!
//! [`run_resonance`] builds three `lif` drivers with constant currents chosen to fire at
//! about 25, 50 and 100 Hz; each drives one resonate-and-fire neuron tuned to 50 Hz through
//! a `delta_current` synapse (a spike moves the resonator's `x` by about `w·Q/C` = 10 mV).
//! Only the neuron driven at its eigenfrequency fires. [`RESONANCE_SCENARIO`] is the same
//! network as a scenario file, and [`run_resonance_scenario`] gives identical spikes.

use std::error::Error;

use bevy_ecs::prelude::*;
use ember_engine::prelude::*;
use ember_engine::{
    ModelSystems, ParamError, ParamReader, Population, RefracLock, SpawnContext, SpikeEvent,
};
use ember_models::neurons::settle_refractory;
use ember_models::{DeltaCurrent, Lif, register_all};

/// Resonate-and-fire parameters (see the [module docs](self) for equations and units).
#[derive(Component, Clone, Debug, PartialEq)]
pub struct ResonateAndFire {
    /// Resting voltage, mV.
    pub rest_v: f32,
    /// Voltage after a spike, mV.
    pub reset_v: f32,
    /// Spike threshold, mV.
    pub thresh_v: f32,
    /// Damping time constant `τ_d`, ms.
    pub tc_damping: f32,
    /// Eigenfrequency `f`, Hz.
    pub frequency: f32,
    /// Input scale `C`, nF.
    pub capacitance: f32,
    /// Absolute refractory period, ms.
    pub refrac_t: f32,
}

impl ResonateAndFire {
    /// A resonator with `capacitance = 1` nF and no refractory period.
    pub fn new(rest_v: f32, reset_v: f32, thresh_v: f32, tc_damping: f32, frequency: f32) -> Self {
        Self {
            rest_v,
            reset_v,
            thresh_v,
            tc_damping,
            frequency,
            capacitance: 1.0,
            refrac_t: 0.0,
        }
    }

    /// `(b, ω)`: damping rate (ms⁻¹, negative) and angular frequency (rad/ms).
    pub fn eigenvalue(&self) -> (f64, f64) {
        let b = -1.0 / f64::from(self.tc_damping);
        let omega = 2.0 * std::f64::consts::PI * f64::from(self.frequency) / 1000.0;
        (b, omega)
    }

    /// The step coefficients for Δt = `dt` ms (computed in f64, stored as f32).
    pub fn coefficients(&self, dt: f32) -> ResonatorCoefficients {
        let (b, omega) = self.eigenvalue();
        let dt = f64::from(dt);
        let decay = (b * dt).exp();
        let norm = b * b + omega * omega;
        ResonatorCoefficients {
            rest_v: self.rest_v,
            reset_v: self.reset_v,
            thresh_v: self.thresh_v,
            refrac_t: self.refrac_t,
            rotate_re: (decay * (omega * dt).cos()) as f32,
            rotate_im: (decay * (omega * dt).sin()) as f32,
            fixed_re: (-b / norm) as f32,
            fixed_im: (omega / norm) as f32,
            inv_capacitance: 1.0 / self.capacitance,
        }
    }

    /// The exact solution from `(x0, y0)` (mV, `y = V − V_rest`) under a constant current
    /// `current` (nA) after `t` ms, in f64, ignoring the threshold:
    /// `z(t) = z∞ + (z0 − z∞)·e^{(b + iω)t}`, `z∞ = −(I/C)/(b + iω)`. Returns `(x, y)`.
    pub fn free_response(&self, current: f64, (x0, y0): (f64, f64), t: f64) -> (f64, f64) {
        let (b, omega) = self.eigenvalue();
        let u = current / f64::from(self.capacitance);
        let norm = b * b + omega * omega;
        // z∞ = −u/(b + iω) = u·(−b + iω)/(b² + ω²)
        let (zr, zi) = (-u * b / norm, u * omega / norm);
        let (er, ei) = (
            (b * t).exp() * (omega * t).cos(),
            (b * t).exp() * (omega * t).sin(),
        );
        let (dr, di) = (x0 - zr, y0 - zi);
        (zr + dr * er - di * ei, zi + dr * ei + di * er)
    }
}

/// One population's step coefficients for its Δt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResonatorCoefficients {
    /// `V_rest`, mV.
    pub rest_v: f32,
    /// `V_reset`, mV.
    pub reset_v: f32,
    /// `V_θ`, mV.
    pub thresh_v: f32,
    /// `t_ref`, ms.
    pub refrac_t: f32,
    /// `Re e^{(b+iω)Δt}`.
    pub rotate_re: f32,
    /// `Im e^{(b+iω)Δt}`.
    pub rotate_im: f32,
    /// `Re(−1/(b + iω))`, ms: `z∞ = (I/C)·(fixed_re + i·fixed_im)`.
    pub fixed_re: f32,
    /// `Im(−1/(b + iω))`, ms.
    pub fixed_im: f32,
    /// `1/C`, nF⁻¹.
    pub inv_capacitance: f32,
}

/// The model's state beyond the voltage, and its precomputed coefficients.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct ResonatorState {
    /// Step coefficients for the simulation's Δt.
    pub coefficients: ResonatorCoefficients,
    /// The current-like variable `x`, mV, `size × batch` (batch-major).
    pub x: Vec<f32>,
}

/// The slices one resonator step updates: one batch copy of a population.
pub struct ResonatorSlices<'a> {
    /// Membrane voltage `V = V_rest + y`, mV.
    pub voltage: &'a mut [f32],
    /// Current-like variable `x`, mV.
    pub x: &'a mut [f32],
    /// Remaining refractory time, ms.
    pub refrac: &'a mut [f32],
}

/// One exact resonate-and-fire step over one batch copy (the pure kernel of the module
/// docs); pushes the indices of spiking neurons, in increasing order, to `spikes`.
pub fn resonator_step(
    c: &ResonatorCoefficients,
    dt: f32,
    refrac_lock: bool,
    input: &[f32],
    state: ResonatorSlices<'_>,
    spikes: &mut Vec<u32>,
) {
    let ResonatorSlices { voltage, x, refrac } = state;
    for (i, ((v, x), r)) in voltage.iter_mut().zip(x).zip(refrac).enumerate() {
        let rem = settle_refractory(*r - dt, dt);
        let active = rem == 0.0;
        let (mut x_new, mut v_new) = (*x, *v);
        if active || !refrac_lock {
            let u = if active {
                input[i] * c.inv_capacitance
            } else {
                0.0
            };
            let (zr, zi) = (u * c.fixed_re, u * c.fixed_im);
            let (dr, di) = (*x - zr, (*v - c.rest_v) - zi);
            x_new = zr + dr * c.rotate_re - di * c.rotate_im;
            v_new = c.rest_v + (zi + dr * c.rotate_im + di * c.rotate_re);
        }
        let spike = active && v_new >= c.thresh_v;
        if spike {
            x_new = 0.0;
            v_new = c.reset_v;
            spikes.push(i as u32);
        }
        *r = if spike { c.refrac_t } else { rem };
        (*x, *v) = (x_new, v_new);
    }
}

/// The resonate-and-fire system ([`Phase::Integrate`]): a thin adapter from the query to
/// [`resonator_step`], one call per batch copy.
pub fn resonate_and_fire_system(
    clock: Res<Clock>,
    mut q: Query<(
        &Population,
        &mut ResonatorState,
        &RefracLock,
        &SynapticInput,
        &mut Voltage,
        &mut Refractory,
        &mut Spikes,
    )>,
) {
    let dt = clock.dt();
    for (pop, mut state, lock, input, mut v, mut r, mut spikes) in &mut q {
        let n = pop.size as usize;
        let state = &mut *state;
        for b in 0..pop.batch as usize {
            let range = b * n..(b + 1) * n;
            let slices = ResonatorSlices {
                voltage: &mut v.0[range.clone()],
                x: &mut state.x[range.clone()],
                refrac: &mut r.0[range.clone()],
            };
            let input = &input.0[range];
            resonator_step(
                &state.coefficients,
                dt,
                lock.0,
                input,
                slices,
                spikes.batch_mut(b),
            );
        }
    }
}

/// An optional parameter that must be a single number.
fn optional_scalar(p: &mut ParamReader<'_>, name: &str, default: f32) -> Result<f32, BuildError> {
    p.optional(name, default)?.as_scalar().ok_or_else(|| {
        BuildError::invalid(
            p.path_of(name),
            "expected a single number (this model takes one value per population)",
        )
    })
}

/// `ok(value)` or an error naming `param`.
fn require(
    param: &'static str,
    value: f32,
    what: &str,
    ok: impl Fn(f32) -> bool,
) -> Result<(), ParamError> {
    if value.is_finite() && ok(value) {
        Ok(())
    } else {
        Err(ParamError::new(
            param,
            format!("must be {what}, got {value}"),
        ))
    }
}

impl NeuronModel for ResonateAndFire {
    const NAME: &'static str = "resonate_and_fire";
    const PARAMS: &'static [&'static str] = &[
        "rest_v",
        "reset_v",
        "thresh_v",
        "tc_damping",
        "frequency",
        "capacitance",
        "refrac_t",
    ];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rest_v: p.required_scalar("rest_v")?,
            reset_v: p.required_scalar("reset_v")?,
            thresh_v: p.required_scalar("thresh_v")?,
            tc_damping: p.required_scalar("tc_damping")?,
            frequency: p.required_scalar("frequency")?,
            capacitance: optional_scalar(p, "capacitance", 1.0)?,
            refrac_t: optional_scalar(p, "refrac_t", 0.0)?,
        })
    }

    fn validate(&self, _size: usize) -> Result<(), ParamError> {
        let finite = |_| true;
        require("rest_v", self.rest_v, "a finite voltage", finite)?;
        require("thresh_v", self.thresh_v, "a finite voltage", finite)?;
        let below = format!("less than `thresh_v` ({} mV)", self.thresh_v);
        require("rest_v", self.rest_v, &below, |v| v < self.thresh_v)?;
        require("reset_v", self.reset_v, &below, |v| v < self.thresh_v)?;
        require("tc_damping", self.tc_damping, "> 0 ms", |v| v > 0.0)?;
        require("frequency", self.frequency, "> 0 Hz", |v| v > 0.0)?;
        require("capacitance", self.capacitance, "> 0 nF", |v| v > 0.0)?;
        require("refrac_t", self.refrac_t, "≥ 0 ms", |v| v >= 0.0)
    }

    fn initial_voltage(&self, _i: usize) -> f32 {
        self.rest_v
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add(Phase::Integrate, resonate_and_fire_system);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let len = ctx.size as usize * ctx.batch as usize;
        let state = ResonatorState {
            coefficients: self.coefficients(ctx.step_time),
            x: vec![0.0; len],
        };
        entity.insert((self, state));
    }
}

/// Settings of [`run_resonance`].
#[derive(Clone, Debug, PartialEq)]
pub struct ResonanceConfig {
    /// Constant current of each LIF driver, nA (rheobase 15 nA). The defaults make them
    /// fire every 39.1, 20 and 10 ms.
    pub drive_na: Vec<f32>,
    /// The resonators, one per driver.
    pub resonator: ResonateAndFire,
    /// Synaptic weight of each driver → resonator delta synapse (charge 1 pC).
    pub weight: f32,
    /// Simulated time, ms (Δt = 0.1 ms).
    pub duration_ms: f64,
}

impl Default for ResonanceConfig {
    fn default() -> Self {
        Self {
            drive_na: vec![15.375, 17.9375, 27.125],
            resonator: ResonateAndFire::new(-65.0, -65.0, -49.0, 40.0, 50.0),
            weight: 10.0,
            duration_ms: 500.0,
        }
    }
}

/// The drivers of [`run_resonance`]: LIF, rest = reset = −65 mV, threshold −50 mV, 2 ms
/// refractory, τ = 10 ms, R = 1 MΩ.
pub fn driver_model() -> Lif {
    Lif::new(-65.0, -65.0, -50.0, 2.0, 10.0)
}

/// What [`run_resonance`] and [`run_resonance_scenario`] recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct ResonanceResult {
    /// Every spike of the LIF drivers.
    pub driver_spikes: Vec<SpikeEvent>,
    /// Every spike of the resonators.
    pub resonator_spikes: Vec<SpikeEvent>,
    /// The resonators' voltages at the end, mV.
    pub final_voltage: Vec<f32>,
}

impl ResonanceResult {
    /// Spikes per neuron of `events` for `n` neurons.
    pub fn counts(events: &[SpikeEvent], n: usize) -> Vec<u32> {
        let mut c = vec![0; n];
        events.iter().for_each(|e| c[e.neuron as usize] += 1);
        c
    }
}

/// Builds the experiment of the module docs with the Rust API and runs it.
pub fn run_resonance(config: &ResonanceConfig) -> Result<ResonanceResult, Box<dyn Error>> {
    let mut sim = Simulation::new(SimConfig {
        step_time: 0.1,
        ..Default::default()
    })?;
    register_all(&mut sim);
    sim.register_neuron_model::<ResonateAndFire>();
    let n = config.drive_na.len() as u32;
    let drivers = sim.add_population("drivers", n, driver_model(), Default::default())?;
    let resonators = sim.add_population(
        "resonators",
        n,
        config.resonator.clone(),
        Default::default(),
    )?;
    sim.add_projection(
        None,
        drivers,
        resonators,
        &ConnectRule::OneToOne,
        f64::from(config.weight).into(),
        DeltaCurrent { spike_charge: 1.0 },
    )?;
    let drive = Param::PerElement(config.drive_na.clone());
    sim.add_current(drivers, drive, 0.0, None, None)?;
    let driver_rec = sim.record_spikes(drivers)?;
    let resonator_rec = sim.record_spikes(resonators)?;
    sim.run_for(config.duration_ms)?;
    Ok(ResonanceResult {
        driver_spikes: sim.recorded_spikes(driver_rec).to_vec(),
        resonator_spikes: sim.recorded_spikes(resonator_rec).to_vec(),
        final_voltage: sim
            .get::<Voltage>(resonators)
            .ok_or("no voltage")?
            .0
            .clone(),
    })
}

/// The experiment of [`run_resonance`] with the default [`ResonanceConfig`], as a scenario
/// file: the user model is named by its registry name like the built-in ones.
pub const RESONANCE_SCENARIO: &str = r#"
[simulation]
step_time = 0.1      # ms
duration = 500.0     # ms

[[population]]
name = "drivers"
size = 3
model = "lif"
params = { rest_v = -65.0, reset_v = -65.0, thresh_v = -50.0, refrac_t = 2.0, tc_membrane = 10.0 }

[[population]]
name = "resonators"
size = 3
model = "resonate_and_fire"   # registered by the user, not by ember-models
params = { rest_v = -65.0, reset_v = -65.0, thresh_v = -49.0, tc_damping = 40.0, frequency = 50.0 }

[[projection]]
pre = "drivers"
post = "resonators"
connectivity = "one_to_one"
synapse = { model = "delta_current", spike_charge = 1.0 }
weight = 10.0

[[stimulus]]
kind = "current"
target = "drivers"
amplitude = [15.375, 17.9375, 27.125]   # nA: ≈ 25, 50 and 100 Hz

[[record]]
population = "drivers"

[[record]]
population = "resonators"
"#;

/// Parses `toml`, registers the built-in models and [`ResonateAndFire`], builds and runs
/// the scenario; expects populations `drivers` and `resonators`, both recorded.
pub fn run_resonance_scenario(toml: &str) -> Result<ResonanceResult, Box<dyn Error>> {
    let sc = Scenario::from_toml(toml)?;
    let mut sim = Simulation::new(sc.config(1)?)?;
    register_all(&mut sim);
    sim.register_neuron_model::<ResonateAndFire>();
    let h = sim.add_scenario(&sc)?;
    sim.run_steps(h.steps)?;
    let index = |name: &str| {
        h.populations
            .iter()
            .position(|(n, _)| n == name)
            .ok_or(format!("no population `{name}`"))
    };
    let recorded = |k: usize| -> Result<Vec<SpikeEvent>, String> {
        let (_, rec) = h
            .spike_recorders
            .iter()
            .find(|(i, _)| *i == k)
            .ok_or(format!("population {k} is not recorded"))?;
        Ok(sim.recorded_spikes(*rec).to_vec())
    };
    let (d, r) = (index("drivers")?, index("resonators")?);
    Ok(ResonanceResult {
        driver_spikes: recorded(d)?,
        resonator_spikes: recorded(r)?,
        final_voltage: sim
            .get::<Voltage>(h.populations[r].1)
            .ok_or("no voltage")?
            .0
            .clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_step_agrees_with_the_free_response() {
        let m = ResonateAndFire::new(-65.0, -65.0, -40.0, 40.0, 50.0);
        let c = m.coefficients(0.1);
        let (mut v, mut x, mut r) = ([-60.0f32], [3.0f32], [0.0f32]);
        let mut spikes = Vec::new();
        let slices = ResonatorSlices {
            voltage: &mut v,
            x: &mut x,
            refrac: &mut r,
        };
        resonator_step(&c, 0.1, true, &[20.0], slices, &mut spikes);
        let (xe, ye) = m.free_response(20.0, (3.0, 5.0), 0.1);
        assert!((f64::from(x[0]) - xe).abs() < 1e-5, "{} vs {xe}", x[0]);
        assert!(
            (f64::from(v[0]) + 65.0 - ye).abs() < 1e-4,
            "{} vs {ye}",
            v[0]
        );
        assert!(spikes.is_empty());
    }

    #[test]
    fn free_response_solves_the_ode() {
        // Central differences reproduce dx/dt = b·x − ω·y + I/C, dy/dt = ω·x + b·y.
        let m = ResonateAndFire::new(-65.0, -65.0, -40.0, 25.0, 30.0);
        let (b, w) = m.eigenvalue();
        let (i, z0, t, h) = (7.0, (1.0, -2.0), 3.0, 1e-5);
        let (x, y) = m.free_response(i, z0, t);
        let (xp, yp) = m.free_response(i, z0, t + h);
        let (xm, ym) = m.free_response(i, z0, t - h);
        assert!(((xp - xm) / (2.0 * h) - (b * x - w * y + i)).abs() < 1e-6);
        assert!(((yp - ym) / (2.0 * h) - (w * x + b * y)).abs() < 1e-6);
        assert_eq!(m.free_response(i, z0, 0.0), z0);
    }
}
