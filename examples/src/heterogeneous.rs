//! A heterogeneous network: per-neuron parameters, two neuron models, a one-step readout.
//!
//! Two LIF populations receive the same constant current but differ *within* themselves:
//!
//! - `tau_spread`: each neuron's membrane time constant is drawn from U[10, 40) ms with
//!   [`ValueSpec::realize`] (stream family `(seed, "tau_spread.tc_membrane")`, so the draw of
//!   neuron `i` depends only on the seed, the name and `i`);
//! - `thresh_spread`: thresholds spread linearly from −58 mV (neuron 0) to −46 mV.
//!
//! With a constant suprathreshold drive, a LIF neuron's voltage trajectory from rest is
//! `V(t) = V_rest + R·I·(1 − e^{−t/τ})`: a shorter τ reaches any threshold sooner, and a
//! lower threshold is reached sooner, so spike counts fall monotonically along both spreads —
//! one [`Lif`] component with [`Param::PerElement`] arrays is enough to express that, and the
//! kernel picks its per-neuron path once per population.
//!
//! Both populations project through [`DeltaCurrent`] synapses onto [`Exact`] readouts, which
//! spike in any step whose input is positive:
//!
//! - `mirror` (one neuron per `tau_spread` neuron, `one_to_one`) copies `tau_spread`'s spike
//!   train delayed by one step;
//! - `any` (one neuron, `all_to_all` from both populations with weights drawn from
//!   U[0.5, 1.5)) spikes in step k + 1 exactly when some input neuron spiked in step k.
//!
//! The one-step lag is the engine's rule: projections deliver in [`Phase::Synapses`] the
//! spikes their pre population emitted in the previous step. A delta synapse is what makes
//! the readout exact: its current lasts one step, whereas a single-exponential current
//! decays but stays positive, so an `exact` readout behind it would keep spiking after the
//! first input.

use std::error::Error;

use ember_engine::SpikeEvent;
use ember_engine::prelude::*;
use ember_models::{DeltaCurrent, Exact, Lif};

/// Settings of [`run_heterogeneous`].
#[derive(Clone, Debug, PartialEq)]
pub struct HeterogeneousConfig {
    /// Neurons in each LIF population.
    pub neurons: u32,
    /// Simulated time, ms (a multiple of Δt = 0.1 ms).
    pub duration_ms: f64,
    /// Constant drive of both LIF populations, nA (R = 1 MΩ: 20 nA holds V at −45 mV).
    pub drive_na: f32,
    /// Seed of the random draws (membrane time constants, readout weights).
    pub seed: u64,
}

impl Default for HeterogeneousConfig {
    fn default() -> Self {
        Self {
            neurons: 20,
            duration_ms: 500.0,
            drive_na: 20.0,
            seed: 7,
        }
    }
}

/// What [`run_heterogeneous`] recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct HeterogeneousResult {
    /// Membrane time constant of each `tau_spread` neuron, ms.
    pub tc_membrane_ms: Vec<f32>,
    /// Spike count of each `tau_spread` neuron.
    pub tau_counts: Vec<u32>,
    /// Threshold of each `thresh_spread` neuron, mV.
    pub thresh_v_mv: Vec<f32>,
    /// Spike count of each `thresh_spread` neuron.
    pub thresh_counts: Vec<u32>,
    /// Every spike of `tau_spread`, in step then neuron order.
    pub tau_spikes: Vec<SpikeEvent>,
    /// Every spike of `thresh_spread`, in step then neuron order.
    pub thresh_spikes: Vec<SpikeEvent>,
    /// Every spike of the `mirror` readout.
    pub mirror_spikes: Vec<SpikeEvent>,
    /// The steps in which the `any` readout spiked.
    pub any_steps: Vec<u64>,
}

/// Builds and runs the network of the module docs.
pub fn run_heterogeneous(
    config: &HeterogeneousConfig,
) -> Result<HeterogeneousResult, Box<dyn Error>> {
    let mut sim = Simulation::new(SimConfig {
        step_time: 0.1,
        seed: config.seed,
        ..Default::default()
    })?;
    let n = config.neurons;

    // Membrane time constants drawn per neuron, realised up front so the caller sees them.
    let tc = ValueSpec::Uniform { lo: 10.0, hi: 40.0 }.realize(
        n as usize,
        config.seed,
        "tau_spread.tc_membrane",
    )?;
    let tau_model = Lif {
        tc_membrane: tc.clone(),
        ..Lif::new(-65.0, -65.0, -50.0, 2.0, 20.0)
    };
    let tau_pop = sim.add_population("tau_spread", n, tau_model, PopulationOptions::default())?;

    // Thresholds spread linearly, −58 mV … −46 mV.
    let thresh: Vec<f32> = (0..n)
        .map(|i| -58.0 + 12.0 * i as f32 / (n - 1).max(1) as f32)
        .collect();
    let thresh_model = Lif {
        thresh_v: Param::PerElement(thresh.clone()),
        ..Lif::new(-65.0, -65.0, -50.0, 2.0, 20.0)
    };
    let thresh_pop = sim.add_population("thresh_spread", n, thresh_model, Default::default())?;

    for pop in [tau_pop, thresh_pop] {
        sim.add_current(pop, Param::Scalar(config.drive_na), 0.0, None, None)?;
    }

    // Readouts: `exact` neurons spike whenever their input is positive.
    let readout = Exact::new(-70.0, -40.0);
    let mirror = sim.add_population("mirror", n, readout.clone(), Default::default())?;
    let any = sim.add_population("any", 1, readout, Default::default())?;
    let delta = DeltaCurrent { spike_charge: 1.0 };
    sim.add_projection(
        None,
        tau_pop,
        mirror,
        &ConnectRule::OneToOne,
        1.0.into(),
        delta,
    )?;
    for pre in [tau_pop, thresh_pop] {
        sim.add_projection(
            None,
            pre,
            any,
            &ConnectRule::AllToAll { autapses: false },
            ValueSpec::Uniform { lo: 0.5, hi: 1.5 },
            delta,
        )?;
    }

    let tau_rec = sim.record_spikes(tau_pop)?;
    let thresh_rec = sim.record_spikes(thresh_pop)?;
    let mirror_rec = sim.record_spikes(mirror)?;
    let any_rec = sim.record_spikes(any)?;
    sim.run_for(config.duration_ms)?;

    let counts = |events: &[SpikeEvent]| {
        let mut c = vec![0u32; n as usize];
        events.iter().for_each(|e| c[e.neuron as usize] += 1);
        c
    };
    let tau_spikes = sim.recorded_spikes(tau_rec).to_vec();
    let thresh_spikes = sim.recorded_spikes(thresh_rec).to_vec();
    Ok(HeterogeneousResult {
        tc_membrane_ms: tc.to_vec(n as usize),
        tau_counts: counts(&tau_spikes),
        thresh_v_mv: thresh,
        thresh_counts: counts(&thresh_spikes),
        tau_spikes,
        thresh_spikes,
        mirror_spikes: sim.recorded_spikes(mirror_rec).to_vec(),
        any_steps: sim
            .recorded_spikes(any_rec)
            .iter()
            .map(|e| e.step)
            .collect(),
    })
}
