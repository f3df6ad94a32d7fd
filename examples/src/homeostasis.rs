//! A homeostatic current controller written as two user systems.
//!
//! Each neuron of a LIF population gets its own slowly adapting bias current that pulls its
//! firing rate towards a target (an integral controller, as in synaptic-scaling or
//! intrinsic-plasticity models of homeostasis):
//!
//! - [`estimate_rates`] runs in [`Phase::Record`], after every neuron model has written this
//!   step's [`Spikes`]: it updates each neuron's exponentially filtered rate estimate
//!   `r ← r·e^{−Δt/τ} + s·1000/τ` (Hz, with τ in ms and `s` = 1 on a spike step), whose mean
//!   over a stationary spike train is exactly the neuron's rate.
//! - [`inject_bias`] runs in [`Phase::Stimuli`], after the inputs were cleared in
//!   [`Phase::Start`] and before the neuron models read them in [`Phase::Integrate`]: it
//!   integrates the rate error, `bias += gain·(target − r)·Δt`, and adds the bias (nA) to
//!   the population's [`SynapticInput`].
//!
//! Both systems find their populations by the user component [`HomeostaticController`]
//! inserted on the population entity; populations without it are left alone. The engine
//! knows nothing about either: the phases they are placed in order them relative to the
//! neuron models, recorders and clock. Within a phase, [`Simulation::add_systems_in`] puts
//! them after everything registered there before (here: the engine's own current stimuli,
//! which also write `SynapticInput`), so the order — and with it every float sum — is fixed
//! and the schedule has no ambiguity.

use std::error::Error;

use bevy_ecs::prelude::*;
use ember_engine::Population;
use ember_engine::prelude::*;
use ember_models::Lif;

/// Per-neuron homeostatic controller state, a user component on a population entity.
///
/// All arrays hold `size × batch` values in the population's batch-major layout.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct HomeostaticController {
    /// Target firing rate, Hz.
    pub target_rate_hz: f32,
    /// Integral gain, nA per (Hz · ms): the bias changes by `gain · error · Δt` each step.
    pub gain: f32,
    /// Time constant of the rate estimate, ms.
    pub tau_ms: f32,
    /// Exponentially filtered firing rate of each neuron, Hz.
    pub rate_estimate: Vec<f32>,
    /// Bias current added to each neuron's input, nA.
    pub bias: Vec<f32>,
}

impl HomeostaticController {
    /// A controller for `len` neurons (`size × batch`) starting with no bias and a rate
    /// estimate of 0 Hz.
    pub fn new(len: usize, target_rate_hz: f32, gain: f32, tau_ms: f32) -> Self {
        Self {
            target_rate_hz,
            gain,
            tau_ms,
            rate_estimate: vec![0.0; len],
            bias: vec![0.0; len],
        }
    }
}

/// [`Phase::Record`]: folds this step's spikes into each neuron's rate estimate.
pub fn estimate_rates(
    clock: Res<Clock>,
    mut q: Query<(&Population, &Spikes, &mut HomeostaticController)>,
) {
    for (pop, spikes, mut ctl) in &mut q {
        let ctl = &mut *ctl;
        let decay = (-clock.dt() / ctl.tau_ms).exp();
        let jump = 1000.0 / ctl.tau_ms;
        ctl.rate_estimate.iter_mut().for_each(|r| *r *= decay);
        let n = pop.size as usize;
        for b in 0..spikes.batches() {
            for &i in spikes.batch(b) {
                ctl.rate_estimate[b * n + i as usize] += jump;
            }
        }
    }
}

/// [`Phase::Stimuli`]: integrates each neuron's rate error into its bias and adds the bias
/// to the population's input.
pub fn inject_bias(
    clock: Res<Clock>,
    mut q: Query<(&mut HomeostaticController, &mut SynapticInput)>,
) {
    let dt = clock.dt();
    for (mut ctl, mut input) in &mut q {
        let ctl = &mut *ctl;
        let k = ctl.gain * dt;
        for ((bias, &rate), x) in ctl
            .bias
            .iter_mut()
            .zip(&ctl.rate_estimate)
            .zip(&mut input.0)
        {
            *bias += k * (ctl.target_rate_hz - rate);
            *x += *bias;
        }
    }
}

/// Adds the controller's two systems to `sim`'s step schedule.
///
/// Call once per simulation, whatever the number of controlled populations.
pub fn add_homeostasis_systems(sim: &mut Simulation) {
    sim.add_systems_in(Phase::Record, estimate_rates)
        .add_systems_in(Phase::Stimuli, inject_bias);
}

/// Settings of [`run_homeostasis`].
#[derive(Clone, Debug, PartialEq)]
pub struct HomeostasisConfig {
    /// Number of LIF neurons.
    pub neurons: u32,
    /// Simulated time, ms (a multiple of 1 000: the rate is measured in the last second).
    pub duration_ms: f64,
    /// The constant drive, nA, spread linearly over the neurons from the first value (neuron
    /// 0) to the second (last neuron). With `R = 1` MΩ the rheobase is 15 nA.
    pub drive_na: (f32, f32),
    /// Attach the controller (`false`: the same network without it, for comparison).
    pub controller: bool,
    /// Target rate, Hz.
    pub target_rate_hz: f32,
    /// Integral gain, nA per (Hz · ms).
    pub gain: f32,
    /// Time constant of the rate estimate, ms.
    pub tau_ms: f32,
}

impl Default for HomeostasisConfig {
    fn default() -> Self {
        Self {
            neurons: 200,
            duration_ms: 5_000.0,
            drive_na: (10.0, 14.0),
            controller: true,
            target_rate_hz: 20.0,
            gain: 2.5e-4,
            tau_ms: 200.0,
        }
    }
}

/// What [`run_homeostasis`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct HomeostasisResult {
    /// The target rate, Hz.
    pub target_rate_hz: f32,
    /// Mean firing rate over the population in the last simulated second, Hz.
    pub rate_hz: f32,
    /// Slowest neuron's rate in the last second, Hz.
    pub min_rate_hz: f32,
    /// Fastest neuron's rate in the last second, Hz.
    pub max_rate_hz: f32,
    /// Mean population rate in each simulated second, Hz (the convergence history).
    pub rate_per_second_hz: Vec<f32>,
    /// Final bias current of each neuron, nA (empty without the controller).
    pub bias_na: Vec<f32>,
    /// The constant drive of each neuron, nA.
    pub drive_na: Vec<f32>,
}

/// Builds `config.neurons` LIF neurons (rest −65 mV, reset −65 mV, threshold −50 mV,
/// refractory 2 ms, τ = 20 ms, R = 1 MΩ, Δt = 0.1 ms) with a weak constant drive,
/// optionally attaches a [`HomeostaticController`], runs for `config.duration_ms` and
/// measures the firing rates second by second.
pub fn run_homeostasis(config: &HomeostasisConfig) -> Result<HomeostasisResult, Box<dyn Error>> {
    let mut sim = Simulation::new(SimConfig {
        step_time: 0.1,
        ..Default::default()
    })?;
    let n = config.neurons;
    let lif = Lif::new(-65.0, -65.0, -50.0, 2.0, 20.0);
    let pop = sim.add_population("homeostatic", n, lif, PopulationOptions::default())?;
    let (lo, hi) = config.drive_na;
    let drive: Vec<f32> = (0..n)
        .map(|i| lo + (hi - lo) * i as f32 / (n - 1).max(1) as f32)
        .collect();
    sim.add_current(pop, Param::PerElement(drive.clone()), 0.0, None, None)?;
    if config.controller {
        let len = n as usize * sim.config().batch_size as usize;
        let ctl =
            HomeostaticController::new(len, config.target_rate_hz, config.gain, config.tau_ms);
        sim.world_mut().entity_mut(pop.0).insert(ctl);
        add_homeostasis_systems(&mut sim);
    }
    let recorder = sim.record_spikes(pop)?;
    sim.run_for(config.duration_ms)?;

    // Spike counts per neuron and per simulated second.
    let steps_per_second = sim.clock().steps_in(1000.0).ok_or("Δt must divide 1 s")?;
    let seconds = (sim.clock().step / steps_per_second).max(1) as usize;
    let mut per_second = vec![0u64; seconds];
    let mut last_second = vec![0u64; n as usize];
    for e in sim.recorded_spikes(recorder) {
        let s = (e.step / steps_per_second) as usize;
        if s < seconds {
            per_second[s] += 1;
        }
        if s + 1 == seconds {
            last_second[e.neuron as usize] += 1;
        }
    }
    let rate_per_second_hz: Vec<f32> = per_second.iter().map(|&c| c as f32 / n as f32).collect();
    let bias_na = sim
        .get::<HomeostaticController>(pop)
        .map_or_else(Vec::new, |c| c.bias.clone());
    Ok(HomeostasisResult {
        target_rate_hz: config.target_rate_hz,
        rate_hz: *rate_per_second_hz.last().unwrap_or(&0.0),
        min_rate_hz: last_second.iter().copied().min().unwrap_or(0) as f32,
        max_rate_hz: last_second.iter().copied().max().unwrap_or(0) as f32,
        rate_per_second_hz,
        bias_na,
        drive_na: drive,
    })
}
