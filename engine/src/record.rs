//! Recorders: spikes and state traces sampled in [`Phase::Record`](crate::Phase::Record).
//!
//! A recorder is its own entity pointing at the population it observes, so a population can
//! have several (different neurons, variables or sampling intervals). Recorders append to
//! plain vectors reserved up front; nothing is formatted or written during the run.

use bevy_ecs::prelude::*;

use crate::adaptation::{Adaptation, EffectiveThreshold};
use crate::clock::Clock;
use crate::population::{Refractory, Spikes, SynapticInput, Voltage};

/// One recorded spike.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SpikeEvent {
    /// Step in which the spike was emitted (its time is `step × Δt`).
    pub step: u64,
    /// Batch copy.
    pub batch: u32,
    /// Neuron index within the population.
    pub neuron: u32,
}

/// Records every spike of `target`, in step order, then batch, then neuron.
#[derive(Component, Clone, Debug)]
pub struct SpikeRecorder {
    /// The observed population.
    pub target: Entity,
    /// The spikes so far.
    pub events: Vec<SpikeEvent>,
}

/// A population state variable that can be traced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceVariable {
    /// Membrane voltage after the step, mV.
    Voltage,
    /// Remaining refractory time after the step, ms.
    Refrac,
    /// Total input current of the step, nA.
    Input,
    /// Adaptation term k after the step (model units; shared by batch copies).
    Adaptation(u32),
    /// Effective threshold after the step, mV (adaptive-threshold models).
    Threshold,
}

impl TraceVariable {
    /// The always-available variables.
    pub const BASIC: [TraceVariable; 3] = [
        TraceVariable::Voltage,
        TraceVariable::Refrac,
        TraceVariable::Input,
    ];

    /// The names accepted in scenario files (`adaptation` expands to every term).
    pub const NAMES: [&'static str; 5] = ["voltage", "refrac", "input", "adaptation", "threshold"];

    /// The name used in `traces.csv` (`adaptation0`, `adaptation1`, … for terms).
    pub fn name(self) -> std::borrow::Cow<'static, str> {
        match self {
            TraceVariable::Voltage => "voltage".into(),
            TraceVariable::Refrac => "refrac".into(),
            TraceVariable::Input => "input".into(),
            TraceVariable::Adaptation(k) => format!("adaptation{k}").into(),
            TraceVariable::Threshold => "threshold".into(),
        }
    }

    /// Parses a single-variable name (`voltage`, `adaptation2`, …); `adaptation` without a
    /// term index is not a single variable (see [`TraceVariable::NAMES`]).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "voltage" => Some(TraceVariable::Voltage),
            "refrac" => Some(TraceVariable::Refrac),
            "input" => Some(TraceVariable::Input),
            "threshold" => Some(TraceVariable::Threshold),
            _ => name
                .strip_prefix("adaptation")
                .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|k| k.parse().ok())
                .map(TraceVariable::Adaptation),
        }
    }
}

/// Samples `variables` of `neurons` of `target` every `every` steps (steps 0, n, 2n, …).
///
/// Values are stored step-major: for each sampled step, for each variable, for each batch
/// copy, for each neuron.
#[derive(Component, Clone, Debug)]
pub struct TraceRecorder {
    /// The observed population.
    pub target: Entity,
    /// Population size (to index batch copies).
    pub size: u32,
    /// Traced variables.
    pub variables: Vec<TraceVariable>,
    /// Traced neurons.
    pub neurons: Vec<u32>,
    /// Sampling interval, steps (≥ 1).
    pub every: u64,
    /// The sampled steps.
    pub steps: Vec<u64>,
    /// The sampled values (see the type docs for the layout).
    pub values: Vec<f32>,
}

impl TraceRecorder {
    /// The recorded value of `variable` (index into `variables`) for batch `b`, neuron slot
    /// `k` (index into `neurons`) at sample `s`.
    pub fn value(&self, s: usize, variable: usize, b: usize, k: usize, batch: usize) -> f32 {
        let per_var = batch * self.neurons.len();
        self.values
            [s * self.variables.len() * per_var + variable * per_var + b * self.neurons.len() + k]
    }
}

/// Appends this step's spikes of each recorded population.
pub fn record_spikes(
    clock: Res<Clock>,
    mut recorders: Query<&mut SpikeRecorder>,
    spikes: Query<&Spikes>,
) {
    for mut rec in &mut recorders {
        let Ok(s) = spikes.get(rec.target) else {
            continue;
        };
        for b in 0..s.batches() {
            for &neuron in s.batch(b) {
                rec.events.push(SpikeEvent {
                    step: clock.step,
                    batch: b as u32,
                    neuron,
                });
            }
        }
    }
}

/// The components a trace can read.
type TracedState<'a> = (
    Option<&'a Voltage>,
    Option<&'a Refractory>,
    Option<&'a SynapticInput>,
    Option<&'a Adaptation>,
    Option<&'a EffectiveThreshold>,
);

/// Samples traced variables on steps that are multiples of each recorder's `every`.
pub fn record_traces(
    clock: Res<Clock>,
    mut recorders: Query<&mut TraceRecorder>,
    state: Query<TracedState<'_>>,
) {
    for mut rec in &mut recorders {
        if !clock.step.is_multiple_of(rec.every) {
            continue;
        }
        let Ok((v, r, i, a, th)) = state.get(rec.target) else {
            continue;
        };
        let rec = &mut *rec;
        rec.steps.push(clock.step);
        let size = rec.size as usize;
        let batch = v.map_or(1, |v| v.0.len() / size.max(1));
        for var in &rec.variables {
            let per_copy: &[f32] = match var {
                TraceVariable::Voltage => v.map_or(&[], |c| &c.0[..]),
                TraceVariable::Refrac => r.map_or(&[], |c| &c.0[..]),
                TraceVariable::Input => i.map_or(&[], |c| &c.0[..]),
                TraceVariable::Threshold => th.map_or(&[], |c| &c.0[..]),
                TraceVariable::Adaptation(k) => {
                    // Shared by batch copies: the same value for every copy.
                    if let Some(a) = a {
                        let (k, terms) = (*k as usize, a.terms());
                        for _ in 0..batch {
                            rec.values.extend(
                                rec.neurons
                                    .iter()
                                    .map(|&j| a.values()[j as usize * terms + k]),
                            );
                        }
                    }
                    continue;
                }
            };
            for copy in per_copy.chunks_exact(size) {
                rec.values
                    .extend(rec.neurons.iter().map(|&j| copy[j as usize]));
            }
        }
    }
}
