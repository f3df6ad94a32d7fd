//! Stimuli: currents injected into populations, and spike schedules of spike sources.
//!
//! A stimulus is its own entity pointing at its target population, so any number of stimuli
//! can drive one population; they add up into the target's `SynapticInput` in
//! [`Phase::Stimuli`](crate::Phase::Stimuli), in one system ([`apply_current_stimuli`]):
//! first every [`CurrentStimulus`], then every [`SineStimulus`], then every
//! [`NoiseStimulus`], each kind in creation order (a fixed order, so the f32 sums are
//! reproducible).
//!
//! | kind | current added to neuron j, nA | SCENARIO.md |
//! |---|---|---|
//! | [`CurrentStimulus`] | `aⱼ` | `kind = "current"` |
//! | [`SineStimulus`] | `oⱼ + aⱼ·sin(2π·f·t/1000 + φ)` (f in Hz, t in ms) | `kind = "sine"` |
//! | [`NoiseStimulus`] | `μⱼ + σⱼ·z`, z ~ N(0, 1) redrawn every `interval` | `kind = "noise"` |
//!
//! **Time of a step.** Step k integrates from t = k·Δt to (k+1)·Δt; a stimulus sees
//! t = k·Δt, the start of the step (the time [`Clock::time`] reports). It is on in steps
//! whose start time is in `[start, stop)`: from the first step starting at or after `start`
//! to the last one starting before `stop` (times within 10⁻⁹ Δt of a step count as on it).
//!
//! [`SpikeSchedule`] is the state of spike-source populations (`spike_source` in
//! `ember-models`): a list of (step, neuron) spikes sorted by step, with a cursor, so that
//! emitting a step's spikes costs O(spikes of that step).

use bevy_ecs::prelude::*;

use crate::clock::Clock;
use crate::population::SynapticInput;
use crate::rng::{StreamFamily, normal_pair_f32};
use crate::value::Param;

/// A constant current `amplitude` (nA) added to the target's input while
/// `start_step ≤ step < stop_step` (SCENARIO.md `kind = "current"`).
#[derive(Component, Clone, Debug, PartialEq)]
pub struct CurrentStimulus {
    /// The target population entity.
    pub target: Entity,
    /// Current, nA: one value, or one per selected neuron.
    pub amplitude: Param,
    /// First step with the current on.
    pub start_step: u64,
    /// First step with the current off again (`u64::MAX`: until the end).
    pub stop_step: u64,
    /// The neurons receiving it (`None`: all), in the order `amplitude` lists them.
    pub neurons: Option<Vec<u32>>,
    /// The target population's size (the input array holds one copy per batch element).
    pub size: u32,
}

/// The stimulus system of [`Phase::Stimuli`](crate::Phase::Stimuli): adds every active
/// stimulus to its target's input, in every batch copy — all [`CurrentStimulus`]es, then all
/// [`SineStimulus`]es, then all [`NoiseStimulus`]es, each kind in creation order.
///
/// One system for every kind (its name predates sine and noise stimuli), so a user system
/// writing `SynapticInput` in [`Phase::Stimuli`](crate::Phase::Stimuli) orders itself
/// against all of them with `.after(apply_current_stimuli)` or
/// `.before(apply_current_stimuli)`.
pub fn apply_current_stimuli(
    clock: Res<Clock>,
    currents: Query<&CurrentStimulus>,
    sines: Query<&SineStimulus>,
    mut noises: Query<&mut NoiseStimulus>,
    mut inputs: Query<&mut SynapticInput>,
) {
    for s in &currents {
        if s.active(&clock)
            && let Ok(mut input) = inputs.get_mut(s.target)
        {
            s.apply(&mut input.0);
        }
    }
    for s in &sines {
        if s.active(&clock)
            && let Ok(mut input) = inputs.get_mut(s.target)
        {
            s.apply(clock.time(), &mut input.0);
        }
    }
    for mut s in &mut noises {
        if s.active(&clock)
            && let Ok(mut input) = inputs.get_mut(s.target)
        {
            s.apply(clock.step, &mut input.0);
        }
    }
}

impl CurrentStimulus {
    /// True in steps `start_step ≤ step < stop_step`.
    pub fn active(&self, clock: &Clock) -> bool {
        (self.start_step..self.stop_step).contains(&clock.step)
    }

    /// Adds the current to `input` (the target's input array, all batch copies).
    pub fn apply(&self, input: &mut [f32]) {
        for copy in input.chunks_exact_mut(self.size as usize) {
            match (&self.neurons, &self.amplitude) {
                (None, Param::Scalar(a)) => copy.iter_mut().for_each(|x| *x += a),
                (None, Param::PerElement(a)) => {
                    copy.iter_mut().zip(a).for_each(|(x, a)| *x += a);
                }
                (Some(neurons), amplitude) => {
                    for (k, &j) in neurons.iter().enumerate() {
                        copy[j as usize] += amplitude.at(k);
                    }
                }
            }
        }
    }
}

/// A sinusoidal current, the Rust form of SCENARIO.md `kind = "sine"`, for
/// [`Simulation::add_sine`](crate::Simulation::add_sine):
///
/// `I_j(t) = offset_j + amplitude_j · sin(2π · frequency · t / 1000 + phase)`, nA,
///
/// with `frequency` in Hz and t = k·Δt in ms the start time of step k, evaluated in f64 and
/// rounded to f32 once. The whole current (offset included) is on while `start ≤ t < stop`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sine {
    /// Amplitude, nA: one value, or one per selected neuron.
    pub amplitude: Param,
    /// Frequency, Hz (finite, ≥ 0).
    pub frequency: f64,
    /// Phase at t = 0, rad (finite; default 0).
    pub phase: f64,
    /// Offset, nA: one value, or one per selected neuron (default 0).
    pub offset: Param,
    /// Start, ms (≥ 0; default 0).
    pub start: f64,
    /// Stop, ms (≥ start; `None`, the default: until the end).
    pub stop: Option<f64>,
    /// The stimulated neurons (`None`, the default: all), in the order per-neuron values
    /// list them.
    pub neurons: Option<Vec<u32>>,
}

impl Sine {
    /// `amplitude · sin(2π · frequency_hz · t / 1000)` on every neuron for the whole run
    /// (phase 0, offset 0); change the public fields for the rest.
    pub fn new(amplitude: impl Into<Param>, frequency_hz: f64) -> Self {
        Self {
            amplitude: amplitude.into(),
            frequency: frequency_hz,
            phase: 0.0,
            offset: Param::Scalar(0.0),
            start: 0.0,
            stop: None,
            neurons: None,
        }
    }
}

/// Gaussian noise current, the Rust form of SCENARIO.md `kind = "noise"`, for
/// [`Simulation::add_noise`](crate::Simulation::add_noise):
///
/// `I_j = mean_j + std_j · z`, nA, with z ~ N(0, 1) drawn anew for every stimulated neuron
/// and batch copy at the start of every `interval` (counted from `start`) and held until
/// the next draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Noise {
    /// Mean, nA: one value, or one per selected neuron.
    pub mean: Param,
    /// Standard deviation, nA (≥ 0): one value, or one per selected neuron.
    pub std: Param,
    /// Time between draws, ms: a whole multiple of Δt, > 0 (`None`, the default: Δt, a new
    /// draw every step).
    pub interval: Option<f64>,
    /// Start, ms (≥ 0; default 0).
    pub start: f64,
    /// Stop, ms (≥ start; `None`, the default: until the end).
    pub stop: Option<f64>,
    /// The stimulated neurons (`None`, the default: all), in the order per-neuron values
    /// list them.
    pub neurons: Option<Vec<u32>>,
}

impl Noise {
    /// Noise of `mean` and `std` (nA) on every neuron, redrawn every step, for the whole run.
    pub fn new(mean: impl Into<Param>, std: impl Into<Param>) -> Self {
        Self {
            mean: mean.into(),
            std: std.into(),
            interval: None,
            start: 0.0,
            stop: None,
            neurons: None,
        }
    }
}

/// A sinusoidal current on a population (see [`Sine`] for the equation), active while
/// `start_step ≤ step < stop_step`.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct SineStimulus {
    /// The target population entity.
    pub target: Entity,
    /// Amplitude, nA: one value, or one per selected neuron.
    pub amplitude: Param,
    /// Offset, nA: one value, or one per selected neuron.
    pub offset: Param,
    /// Frequency, Hz.
    pub frequency: f64,
    /// Phase at t = 0, rad.
    pub phase: f64,
    /// First step with the current on.
    pub start_step: u64,
    /// First step with the current off again (`u64::MAX`: until the end).
    pub stop_step: u64,
    /// The neurons receiving it (`None`: all).
    pub neurons: Option<Vec<u32>>,
    /// The target population's size.
    pub size: u32,
}

impl SineStimulus {
    /// `sin(2π · f · t / 1000 + φ)` at `t` ms, in f64.
    #[inline]
    pub fn sine_at(&self, t: f64) -> f64 {
        (std::f64::consts::TAU * self.frequency * t / 1000.0 + self.phase).sin()
    }

    /// The current of selection slot `k` (index into `neurons`, or the neuron itself when
    /// all are stimulated) at `t` ms, nA: `offset_k + amplitude_k · sin(2π·f·t/1000 + φ)`.
    pub fn current_at(&self, k: usize, t: f64) -> f32 {
        (f64::from(self.offset.at(k)) + f64::from(self.amplitude.at(k)) * self.sine_at(t)) as f32
    }

    /// True in steps `start_step ≤ step < stop_step`.
    pub fn active(&self, clock: &Clock) -> bool {
        (self.start_step..self.stop_step).contains(&clock.step)
    }

    /// Adds the current at `t` ms to `input` (the target's input array, all batch copies).
    pub fn apply(&self, t: f64, input: &mut [f32]) {
        let sine = self.sine_at(t);
        let uniform = match (&self.offset, &self.amplitude) {
            (Param::Scalar(o), Param::Scalar(a)) => {
                Some((f64::from(*o) + f64::from(*a) * sine) as f32)
            }
            _ => None,
        };
        let at = |k: usize| {
            uniform.unwrap_or_else(|| {
                (f64::from(self.offset.at(k)) + f64::from(self.amplitude.at(k)) * sine) as f32
            })
        };
        for copy in input.chunks_exact_mut(self.size as usize) {
            match &self.neurons {
                None => copy.iter_mut().enumerate().for_each(|(j, x)| *x += at(j)),
                Some(neurons) => {
                    for (k, &j) in neurons.iter().enumerate() {
                        copy[j as usize] += at(k);
                    }
                }
            }
        }
    }
}

/// Gaussian noise on a population (see [`Noise`]), active while
/// `start_step ≤ step < stop_step`.
///
/// Draw number d covers steps `start_step + d·interval_steps …` up to the next draw. The
/// value for neuron j (population index) of batch copy b in draw d is `mean + std · z`,
/// where neurons 2i and 2i + 1 share one Box–Muller pair
/// ([`normal_pair_f32`]) of the first 64 bits of stream
/// `(seed, family name, d·size·batch + b·size + 2i)`: z is its first value for the even
/// neuron and its second for the odd one; `mean + std · z` is computed in f32. It depends on nothing but that identity: not
/// on the thread count, the other neurons selected or other stimuli.
#[derive(Component, Clone, Debug)]
pub struct NoiseStimulus {
    /// The target population entity.
    pub target: Entity,
    /// Mean, nA: one value, or one per selected neuron.
    pub mean: Param,
    /// Standard deviation, nA: one value, or one per selected neuron.
    pub std: Param,
    /// Steps between draws (≥ 1).
    pub interval_steps: u64,
    /// First step with the current on.
    pub start_step: u64,
    /// First step with the current off again (`u64::MAX`: until the end).
    pub stop_step: u64,
    /// The neurons receiving it (`None`: all).
    pub neurons: Option<Vec<u32>>,
    /// The target population's size.
    pub size: u32,
    /// Batch copies of the target.
    pub batch: u32,
    /// The random streams of this stimulus.
    pub family: StreamFamily,
    /// The draw number `held` holds (`None`: nothing drawn yet).
    pub drawn: Option<u64>,
    /// The currents of the current draw, nA: for each batch copy, for each selected neuron.
    pub held: Vec<f32>,
}

impl NoiseStimulus {
    /// The number of stimulated neurons.
    pub fn selected(&self) -> usize {
        self.neurons.as_ref().map_or(self.size as usize, Vec::len)
    }

    /// The normal pair of neurons `2i`, `2i + 1` (`even` = 2i), batch copy `b`, draw `d`.
    #[inline(always)]
    fn pair(&self, d: u64, b: usize, even: u32) -> (f32, f32) {
        let (n, batch) = (u64::from(self.size), u64::from(self.batch));
        let index = d
            .wrapping_mul(n.wrapping_mul(batch))
            .wrapping_add(b as u64 * n)
            .wrapping_add(u64::from(even));
        normal_pair_f32(self.family.first_u64(index))
    }

    /// The standard normal z of neuron `j`, batch copy `b` in draw `d`.
    #[inline]
    pub fn z(&self, d: u64, b: usize, j: u32) -> f32 {
        let (z0, z1) = self.pair(d, b, j & !1);
        if j & 1 == 0 { z0 } else { z1 }
    }

    /// Fills `held` with draw `d`.
    fn draw(&mut self, d: u64) {
        let m = self.selected();
        let mut held = std::mem::take(&mut self.held);
        for b in 0..self.batch as usize {
            let out = &mut held[b * m..(b + 1) * m];
            match (&self.neurons, &self.mean, &self.std) {
                // All neurons, one mean and std (the common case): a branch-free loop over
                // the pairs, which the compiler vectorises.
                (None, &Param::Scalar(mean), &Param::Scalar(std)) => {
                    let mut pairs = out.chunks_exact_mut(2);
                    for (k2, pair) in (&mut pairs).enumerate() {
                        let (z0, z1) = self.pair(d, b, 2 * k2 as u32);
                        pair[0] = mean + std * z0;
                        pair[1] = mean + std * z1;
                    }
                    if let [last] = pairs.into_remainder() {
                        *last = mean + std * self.pair(d, b, (m - 1) as u32).0;
                    }
                }
                (None, mean, std) => {
                    for (k, x) in out.iter_mut().enumerate() {
                        *x = mean.at(k) + std.at(k) * self.z(d, b, k as u32);
                    }
                }
                (Some(neurons), mean, std) => {
                    for (k, (x, &j)) in out.iter_mut().zip(neurons).enumerate() {
                        *x = mean.at(k) + std.at(k) * self.z(d, b, j);
                    }
                }
            }
        }
        self.held = held;
        self.drawn = Some(d);
    }

    /// True in steps `start_step ≤ step < stop_step`.
    pub fn active(&self, clock: &Clock) -> bool {
        (self.start_step..self.stop_step).contains(&clock.step)
    }

    /// Adds the noise of `step` to `input` (the target's input array, all batch copies),
    /// drawing anew when `step` starts an interval (or nothing is drawn for its interval).
    pub fn apply(&mut self, step: u64, input: &mut [f32]) {
        let d = step.saturating_sub(self.start_step) / self.interval_steps;
        if self.drawn != Some(d) {
            self.draw(d);
        }
        let m = self.selected();
        for (copy, held) in input
            .chunks_exact_mut(self.size as usize)
            .zip(self.held.chunks_exact(m.max(1)))
        {
            match &self.neurons {
                None => copy.iter_mut().zip(held).for_each(|(x, h)| *x += h),
                Some(neurons) => {
                    for (&j, h) in neurons.iter().zip(held) {
                        copy[j as usize] += h;
                    }
                }
            }
        }
    }
}

/// Why a spike list was rejected: the offending entry (index into the list) and what was
/// expected.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("spikes[{index}]: {message}")]
pub struct SpikeListError {
    /// Index of the offending `(neuron, time)` entry.
    pub index: usize,
    /// What was expected.
    pub message: String,
}

/// The spikes a spike-source population emits: each `(neuron, time_ms)` of its list in step
/// `round(time / Δt)` (SCENARIO.md `spike_source`; a spike reported with step k has time
/// k·Δt, so a time on the step grid is reported unchanged). Times between steps go to the
/// nearest step (halfway rounds up); several spikes of one neuron that land in one step are
/// emitted once (a neuron spikes at most once per step). Every batch copy emits the same
/// spikes.
///
/// Stored sorted by step, then neuron, with a cursor at the first spike not yet emitted:
/// [`SpikeSchedule::advance`] costs O(spikes of the step), never a scan of the whole list.
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct SpikeSchedule {
    steps: Vec<u64>,
    neurons: Vec<u32>,
    cursor: usize,
}

impl SpikeSchedule {
    /// Checks one entry of a spike list: a neuron index below `size` and a finite time ≥ 0 ms.
    pub fn check(neuron: u32, time: f64, size: u32) -> Result<(), String> {
        if neuron >= size {
            return Err(format!(
                "expected a neuron index < {size} (the population size), got {neuron}"
            ));
        }
        if !(time.is_finite() && time >= 0.0) {
            return Err(format!("expected a finite spike time ≥ 0 ms, got {time}"));
        }
        Ok(())
    }

    /// The schedule of `spikes` (`(neuron, time_ms)` in any order) for a population of
    /// `size` neurons simulated with Δt = `step_time` ms. Rejects neurons ≥ `size` and
    /// negative, NaN or infinite times.
    pub fn new(spikes: &[(u32, f64)], size: u32, step_time: f64) -> Result<Self, SpikeListError> {
        for (index, &(neuron, time)) in spikes.iter().enumerate() {
            Self::check(neuron, time, size).map_err(|message| SpikeListError { index, message })?;
        }
        let mut events: Vec<(u64, u32)> = spikes
            .iter()
            // Saturating float-to-int cast: times far beyond any run map to u64::MAX.
            .map(|&(neuron, time)| ((time / step_time).round() as u64, neuron))
            .collect();
        events.sort_unstable();
        events.dedup();
        Ok(Self {
            steps: events.iter().map(|e| e.0).collect(),
            neurons: events.iter().map(|e| e.1).collect(),
            cursor: 0,
        })
    }

    /// Number of scheduled spikes (per batch copy, after merging spikes of one step).
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True if nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The scheduled `(step, neuron)` spikes, sorted.
    pub fn spikes(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.steps.iter().copied().zip(self.neurons.iter().copied())
    }

    /// The neurons spiking in `step` (sorted), moving the cursor past them; spikes of
    /// earlier steps that were never asked for are skipped.
    pub fn advance(&mut self, step: u64) -> &[u32] {
        let mut start = self.cursor;
        while start < self.steps.len() && self.steps[start] < step {
            start += 1;
        }
        let mut end = start;
        while end < self.steps.len() && self.steps[end] == step {
            end += 1;
        }
        self.cursor = end;
        &self.neurons[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_rounds_sorts_merges_and_advances() {
        let s = SpikeSchedule::new(
            &[(3, 2.5), (0, 0.1), (1, 0.1), (0, 0.14), (2, 0.05)],
            4,
            0.1,
        )
        .unwrap();
        let spikes: Vec<_> = s.spikes().collect();
        // 0.05 / 0.1 = 0.5 rounds up to step 1; 0.14 rounds to step 1 and merges.
        assert_eq!(spikes, [(1, 0), (1, 1), (1, 2), (25, 3)]);
        let mut s = s;
        assert!(s.advance(0).is_empty());
        assert_eq!(s.advance(1), [0, 1, 2]);
        assert!(s.advance(2).is_empty());
        // Skipping ahead past step 25 drops it.
        assert!(s.advance(30).is_empty());
        assert!(s.advance(25).is_empty());
    }

    #[test]
    fn schedule_rejects_bad_entries() {
        let e = SpikeSchedule::new(&[(0, 1.0), (4, 1.0)], 4, 0.1).unwrap_err();
        assert_eq!(e.index, 1);
        assert!(SpikeSchedule::new(&[(0, -0.1)], 4, 0.1).is_err());
        assert!(SpikeSchedule::new(&[(0, f64::NAN)], 4, 0.1).is_err());
        assert!(SpikeSchedule::new(&[(0, f64::INFINITY)], 4, 0.1).is_err());
    }

    #[test]
    fn sine_current_is_the_closed_form() {
        let s = SineStimulus {
            target: Entity::PLACEHOLDER,
            amplitude: Param::Scalar(2.0),
            offset: Param::Scalar(0.5),
            frequency: 10.0,
            phase: 0.25,
            start_step: 0,
            stop_step: u64::MAX,
            neurons: None,
            size: 1,
        };
        // 10 Hz at t = 25 ms: a quarter period, 2π·10·25/1000 = π/2.
        let expected = 0.5 + 2.0 * (std::f64::consts::FRAC_PI_2 + 0.25).sin();
        assert!((f64::from(s.current_at(0, 25.0)) - expected).abs() < 1e-6);
        assert_eq!(s.current_at(0, 0.0), (0.5 + 2.0 * 0.25f64.sin()) as f32);
    }
}
