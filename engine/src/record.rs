//! Recorders: spikes and state traces sampled in [`Phase::Record`](crate::Phase::Record).
//!
//! A recorder is its own entity pointing at the population (or projection) it observes, so a
//! population can have several (different neurons, variables or sampling intervals).
//! Recorders append to plain vectors (reserved up front when the run length is known, as
//! [`Simulation::add_scenario`](crate::Simulation::add_scenario) does); nothing is formatted
//! or written during the run. A [`SpikeRecorder`] keeps 4 bytes per spike plus 16 per step
//! with spikes, since the pages it fills are a cost of the step loop (see its docs).
//!
//! [`TraceRecorder`] samples population state; [`ProjectionTraceRecorder`] samples a
//! projection's output current per post neuron and its weights per synapse (SCENARIO.md
//! `[[record]] projection = …`).

use bevy_ecs::prelude::*;

use crate::adaptation::{Adaptation, EffectiveThreshold};
use crate::clock::Clock;
use crate::population::{Refractory, SpikeTotal, Spikes, SynapticInput, Voltage};
use crate::projection::{ProjectionCurrent, Weights};
use crate::value::Param;

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

impl SpikeEvent {
    /// The spike of neuron `neuron` of batch copy `batch` in step `step`.
    pub const fn new(step: u64, batch: u32, neuron: u32) -> Self {
        SpikeEvent {
            step,
            batch,
            neuron,
        }
    }
}

/// Records every spike of `target`, in step order, then batch, then neuron.
///
/// Stored compactly: each spike's neuron index (4 bytes), plus one [`SpikeRun`] (16 bytes)
/// per step and batch copy that has spikes. Recording writes fresh memory all run long,
/// and on the project's VM each new page costs ≈ 3 µs to fault in: at CUBA 64 000
/// (≈ 36 spikes a step) 16-byte events took ≈ 0.45 µs a step in page faults alone, 3–6 %
/// of a step on the thread that runs the serial part of every step.
/// [`SpikeRecorder::events`] gives the spikes back as [`SpikeEvent`]s.
#[derive(Component, Clone, Debug)]
pub struct SpikeRecorder {
    /// The observed population.
    pub target: Entity,
    /// The neuron index of every recorded spike, in recording order.
    neurons: Vec<u32>,
    /// The steps (and batch copies) with spikes, in order; each owns the next `len`
    /// entries of `neurons`.
    runs: Vec<SpikeRun>,
}

/// The spikes of one batch copy of the observed population in one step (see
/// [`SpikeRecorder`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpikeRun {
    /// The step.
    pub step: u64,
    /// The batch copy.
    pub batch: u32,
    /// How many spikes (at least 1; a step with 2³² or more takes several runs).
    pub len: u32,
}

impl SpikeRecorder {
    /// An empty recorder of `target`, with room for `spikes` spikes.
    pub fn with_capacity(target: Entity, spikes: usize) -> Self {
        SpikeRecorder {
            target,
            neurons: Vec::with_capacity(spikes),
            runs: Vec::with_capacity(spikes / 4),
        }
    }

    /// Appends the spikes `neurons` of batch copy `batch` in step `step` (nothing if it is
    /// empty). The recorder keeps them in the order they come: the simulation records
    /// steps in increasing order, then batch copies, then neurons.
    pub fn push_run(&mut self, step: u64, batch: u32, neurons: &[u32]) {
        if neurons.is_empty() {
            return;
        }
        self.neurons.extend_from_slice(neurons);
        // A run counts at most 2³² − 1 spikes (a population's worth); more take several.
        for part in neurons.chunks(u32::MAX as usize) {
            let len = part.len() as u32;
            self.runs.push(SpikeRun { step, batch, len });
        }
    }

    /// Appends one spike (after every spike recorded so far, like
    /// [`push_run`](Self::push_run)); it joins the last run if that is of its step and
    /// batch copy.
    pub fn push(&mut self, event: SpikeEvent) {
        match self.runs.last_mut() {
            Some(run)
                if (run.step, run.batch) == (event.step, event.batch) && run.len < u32::MAX =>
            {
                run.len += 1;
                self.neurons.push(event.neuron);
            }
            _ => self.push_run(event.step, event.batch, &[event.neuron]),
        }
    }

    /// How many spikes were recorded.
    pub fn len(&self) -> usize {
        self.neurons.len()
    }

    /// Whether no spike was recorded.
    pub fn is_empty(&self) -> bool {
        self.neurons.is_empty()
    }

    /// The recorded steps with spikes, in recording order: each run and its neurons.
    pub fn runs(&self) -> impl Iterator<Item = (SpikeRun, &[u32])> + '_ {
        let mut start = 0;
        self.runs.iter().map(move |&run| {
            let end = start + run.len as usize;
            let neurons = &self.neurons[start..end];
            start = end;
            (run, neurons)
        })
    }

    /// The recorded spikes, one [`SpikeEvent`] each, in recording order (step, batch and
    /// neuron order for a simulation's recorder).
    pub fn events(&self) -> impl Iterator<Item = SpikeEvent> + '_ {
        self.runs().flat_map(|(run, neurons)| {
            neurons
                .iter()
                .map(move |&neuron| SpikeEvent::new(run.step, run.batch, neuron))
        })
    }

    /// Memory the recorder holds, bytes (its reserved capacity).
    pub fn heap_bytes(&self) -> usize {
        self.neurons.capacity() * std::mem::size_of::<u32>()
            + self.runs.capacity() * std::mem::size_of::<SpikeRun>()
    }
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

    /// Reserves room for `samples` more samples of `batch` copies (best effort: if the
    /// memory is not available now, the vectors grow during the run instead).
    pub fn reserve_samples(&mut self, samples: usize, batch: usize) {
        let per_sample = self.variables.len() * batch * self.neurons.len();
        let _ = self.steps.try_reserve(samples);
        let _ = self.values.try_reserve(samples.saturating_mul(per_sample));
    }
}

/// [`Phase::Record`](crate::Phase::Record): every spike recorder takes this step's spikes,
/// and each population's [`SpikeTotal`] adds them. Trace recorders have their own systems
/// ([`record_trace_step`], [`record_projection_trace_step`]), which the simulation installs
/// with the first such recorder: each system costs a step some 15–20 ns of schedule
/// overhead and parameter fetching even when it finds nothing to do.
pub fn record_step(
    clock: Res<Clock>,
    mut spike_recorders: Query<&mut SpikeRecorder>,
    spikes: Query<&Spikes>,
    mut totals: Query<(&Spikes, &mut SpikeTotal)>,
) {
    record_spikes(clock.step, &mut spike_recorders, &spikes);
    for (s, mut total) in &mut totals {
        total.0 += s.count() as u64;
    }
}

/// [`Phase::Record`](crate::Phase::Record): every [`TraceRecorder`] samples this step (on
/// its multiples of `every`).
pub fn record_trace_step(
    clock: Res<Clock>,
    mut recorders: Query<&mut TraceRecorder>,
    state: Query<TracedState<'_>>,
) {
    record_traces(clock.step, &mut recorders, &state);
}

/// [`Phase::Record`](crate::Phase::Record): every [`ProjectionTraceRecorder`] samples this
/// step (on its multiples of `every`).
pub fn record_projection_trace_step(
    clock: Res<Clock>,
    mut recorders: Query<&mut ProjectionTraceRecorder>,
    projections: Query<(Option<&ProjectionCurrent>, Option<&Weights>)>,
) {
    record_projection_traces(clock.step, &mut recorders, &projections);
}

/// Appends this step's spikes of each recorded population.
fn record_spikes(step: u64, recorders: &mut Query<&mut SpikeRecorder>, spikes: &Query<&Spikes>) {
    for mut rec in recorders {
        let Ok(s) = spikes.get(rec.target) else {
            continue;
        };
        for b in 0..s.batches() {
            let neurons = s.batch(b);
            // Checked here too, so a step without spikes leaves the recorder unchanged
            // (no change tick from the mutable borrow).
            if !neurons.is_empty() {
                rec.push_run(step, b as u32, neurons);
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
fn record_traces(
    step: u64,
    recorders: &mut Query<&mut TraceRecorder>,
    state: &Query<TracedState<'_>>,
) {
    for mut rec in recorders {
        if !step.is_multiple_of(rec.every) {
            continue;
        }
        let Ok((v, r, i, a, th)) = state.get(rec.target) else {
            continue;
        };
        let rec = &mut *rec;
        rec.steps.push(step);
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

/// A projection variable that can be traced (SCENARIO.md `[[record]] projection = …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProjectionVariable {
    /// The current the projection delivers to each post neuron in the step, nA
    /// ([`ProjectionCurrent`], `Σᵢ wᵢⱼ · Iᵢⱼ`, before aggregation); one trace per post neuron
    /// and batch copy.
    Current,
    /// The weight of each synapse after the step (the synapse model's unit; [`Weights`]);
    /// one trace per synapse, indexed in canonical synapse order, shared by the batch copies.
    Weight,
}

impl ProjectionVariable {
    /// The names accepted in scenario files.
    pub const NAMES: [&'static str; 2] = ["current", "weight"];

    /// The name used in scenario files and `traces.csv`.
    pub fn name(self) -> &'static str {
        match self {
            ProjectionVariable::Current => "current",
            ProjectionVariable::Weight => "weight",
        }
    }

    /// Parses `current` or `weight`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "current" => Some(ProjectionVariable::Current),
            "weight" => Some(ProjectionVariable::Weight),
            _ => None,
        }
    }
}

/// Samples `variables` of projection `target` every `every` steps (steps 0, n, 2n, …):
/// [`ProjectionVariable::Current`] of the post neurons `neurons`,
/// [`ProjectionVariable::Weight`] of the synapses `synapses` (canonical indices).
///
/// Values are stored step-major: for each sampled step, for each variable in `variables`
/// order, `current` as `batch × neurons.len()` values (batch-major), `weight` as
/// `synapses.len()` values (weights are shared by the batch copies, so they are stored once).
#[derive(Component, Clone, Debug)]
pub struct ProjectionTraceRecorder {
    /// The observed projection.
    pub target: Entity,
    /// Post population size (to index batch copies of the current).
    pub post_size: u32,
    /// Batch copies.
    pub batch: u32,
    /// Traced variables (each at most once).
    pub variables: Vec<ProjectionVariable>,
    /// Post neurons whose current is traced.
    pub neurons: Vec<u32>,
    /// Synapses whose weight is traced (canonical synapse indices).
    pub synapses: Vec<u64>,
    /// Sampling interval, steps (≥ 1).
    pub every: u64,
    /// The sampled steps.
    pub steps: Vec<u64>,
    /// The sampled values (see the type docs for the layout).
    pub values: Vec<f32>,
}

/// One value of a [`ProjectionTraceRecorder`], as a row of `traces.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProjectionTraceRow {
    /// The variable.
    pub variable: ProjectionVariable,
    /// Post neuron (`current`) or canonical synapse index (`weight`).
    pub index: u64,
    /// Batch copy (`weight` rows repeat the shared value for every copy).
    pub batch: u32,
    /// The step sampled (the value is the one after that step).
    pub step: u64,
    /// The value: nA (`current`) or the weight.
    pub value: f32,
}

impl ProjectionTraceRecorder {
    /// Values per sample of variable `v`.
    fn width(&self, v: ProjectionVariable) -> usize {
        match v {
            ProjectionVariable::Current => self.batch as usize * self.neurons.len(),
            ProjectionVariable::Weight => self.synapses.len(),
        }
    }

    /// Values per sampled step.
    fn stride(&self) -> usize {
        self.variables.iter().map(|&v| self.width(v)).sum()
    }

    /// The recorded value of `variable` (index into `variables`) at sample `s` for batch
    /// copy `b` and slot `k` (index into `neurons` for `current`, into `synapses` for
    /// `weight`; `b` is ignored for `weight`).
    pub fn value(&self, s: usize, variable: usize, b: usize, k: usize) -> f32 {
        let before: usize = self.variables[..variable]
            .iter()
            .map(|&v| self.width(v))
            .sum();
        let within = match self.variables[variable] {
            ProjectionVariable::Current => b * self.neurons.len() + k,
            ProjectionVariable::Weight => k,
        };
        self.values[s * self.stride() + before + within]
    }

    /// The traced indices of `variable`: post neurons for `current`, synapses for `weight`.
    fn count(&self, variable: ProjectionVariable) -> usize {
        match variable {
            ProjectionVariable::Current => self.neurons.len(),
            ProjectionVariable::Weight => self.synapses.len(),
        }
    }

    /// The index written for slot `k` of `variable`.
    fn index(&self, variable: ProjectionVariable, k: usize) -> u64 {
        match variable {
            ProjectionVariable::Current => u64::from(self.neurons[k]),
            ProjectionVariable::Weight => self.synapses[k],
        }
    }

    /// Every recorded value in `traces.csv` order: by step, then variable, batch copy,
    /// index (`weight` values repeat for every batch copy).
    pub fn rows(&self) -> impl Iterator<Item = ProjectionTraceRow> + '_ {
        self.steps.iter().enumerate().flat_map(move |(s, &step)| {
            self.variables
                .iter()
                .enumerate()
                .flat_map(move |(vi, &variable)| {
                    (0..self.batch).flat_map(move |b| {
                        (0..self.count(variable)).map(move |k| ProjectionTraceRow {
                            variable,
                            index: self.index(variable, k),
                            batch: b,
                            step,
                            value: self.value(s, vi, b as usize, k),
                        })
                    })
                })
        })
    }

    /// Reserves room for `samples` more samples (best effort, see
    /// [`TraceRecorder::reserve_samples`]).
    pub fn reserve_samples(&mut self, samples: usize) {
        let per_sample = self.stride();
        let _ = self.steps.try_reserve(samples);
        let _ = self.values.try_reserve(samples.saturating_mul(per_sample));
    }
}

/// Samples traced projection variables on steps that are multiples of each recorder's
/// `every`.
fn record_projection_traces(
    step: u64,
    recorders: &mut Query<&mut ProjectionTraceRecorder>,
    projections: &Query<(Option<&ProjectionCurrent>, Option<&Weights>)>,
) {
    for mut rec in recorders {
        if !step.is_multiple_of(rec.every) {
            continue;
        }
        let Ok((current, weights)) = projections.get(rec.target) else {
            continue;
        };
        let rec = &mut *rec;
        rec.steps.push(step);
        let n = rec.post_size as usize;
        for var in &rec.variables {
            match var {
                ProjectionVariable::Current => {
                    let c = current.map_or(&[][..], |c| &c.0[..]);
                    for b in 0..rec.batch as usize {
                        let copy = c.get(b * n..(b + 1) * n).unwrap_or(&[]);
                        rec.values.extend(
                            rec.neurons
                                .iter()
                                .map(|&j| copy.get(j as usize).copied().unwrap_or(f32::NAN)),
                        );
                    }
                }
                ProjectionVariable::Weight => match weights.map(|w| &w.0) {
                    Some(Param::Scalar(w)) => {
                        rec.values
                            .extend(std::iter::repeat_n(*w, rec.synapses.len()));
                    }
                    Some(Param::PerElement(ws)) => {
                        rec.values.extend(rec.synapses.iter().map(|&i| {
                            usize::try_from(i)
                                .ok()
                                .and_then(|i| ws.get(i))
                                .copied()
                                .unwrap_or(f32::NAN)
                        }));
                    }
                    None => rec
                        .values
                        .extend(std::iter::repeat_n(f32::NAN, rec.synapses.len())),
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn ev(step: u64, batch: u32, neuron: u32) -> SpikeEvent {
        SpikeEvent::new(step, batch, neuron)
    }

    #[test]
    fn a_spike_recorder_gives_back_its_spikes_in_order() {
        let mut r = SpikeRecorder::with_capacity(Entity::PLACEHOLDER, 4);
        assert!(r.is_empty());
        r.push_run(3, 0, &[1, 4, 9]);
        r.push_run(3, 1, &[]);
        r.push_run(3, 1, &[2]);
        r.push_run(7, 0, &[0]);
        r.push(ev(7, 0, 5));
        r.push(ev(8, 0, 5));
        assert_eq!(r.len(), 7);
        assert_eq!(
            r.events().collect::<Vec<_>>(),
            [
                ev(3, 0, 1),
                ev(3, 0, 4),
                ev(3, 0, 9),
                ev(3, 1, 2),
                ev(7, 0, 0),
                ev(7, 0, 5),
                ev(8, 0, 5)
            ]
        );
        // An empty run is not stored; a pushed spike joins the run of its step and batch.
        let runs: Vec<(SpikeRun, Vec<u32>)> = r.runs().map(|(run, n)| (run, n.to_vec())).collect();
        let run = |step, batch, len| SpikeRun { step, batch, len };
        assert_eq!(
            runs,
            [
                (run(3, 0, 3), vec![1, 4, 9]),
                (run(3, 1, 1), vec![2]),
                (run(7, 0, 2), vec![0, 5]),
                (run(8, 0, 1), vec![5])
            ]
        );
    }

    #[test]
    fn spikes_keep_their_recording_order_when_a_step_comes_again() {
        // A clock set back by hand between runs: nothing is dropped, merged or reordered.
        let mut r = SpikeRecorder::with_capacity(Entity::PLACEHOLDER, 0);
        r.push_run(5, 0, &[2, 3]);
        r.push_run(1, 0, &[7]);
        r.push(ev(1, 0, 4));
        r.push(ev(5, 0, 1));
        assert_eq!(
            r.events().collect::<Vec<_>>(),
            [
                ev(5, 0, 2),
                ev(5, 0, 3),
                ev(1, 0, 7),
                ev(1, 0, 4),
                ev(5, 0, 1)
            ]
        );
        assert_eq!(r.runs().count(), 3);
    }

    #[test]
    fn dense_spikes_take_four_bytes_each() {
        // 100 steps of 40 spikes: 4 000 neuron indices and 100 runs.
        let mut r = SpikeRecorder::with_capacity(Entity::PLACEHOLDER, 0);
        let neurons: Vec<u32> = (0..40).map(|i| i * 3).collect();
        for step in 0..100 {
            r.push_run(step, 0, &neurons);
        }
        let used = r.len() * 4 + 100 * std::mem::size_of::<SpikeRun>();
        assert_eq!(used, 17_600);
        assert!(r.heap_bytes() >= used && r.heap_bytes() < 2 * used + 1024);
        assert_eq!(r.events().count(), 4_000);
    }
}
