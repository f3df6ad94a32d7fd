//! Unsupervised pattern learning with STDP: a Poisson input layer and pair STDP make an
//! output neuron selective to a repeated input pattern.
//!
//! # The experiment
//!
//! 100 inputs on a 10 × 10 grid project all-to-all onto one LIF output neuron through
//! plastic synapses. Every input is a Poisson spike train firing at a low background rate
//! (5 Hz). A *presentation* (50 ms, then 50 ms of background only) raises a group of 20
//! inputs by 50 Hz; the *pattern* is a fixed group, the two diagonals of the grid (an "X",
//! [`cross_pattern`]). Training shows the pattern again and again: each presentation of it
//! is followed by a background-only slot of the same length, or, with
//! [`StdpConfig::distractors`], by a *distractor*, a fresh random group of 20 inputs
//! presented the same way. Weights start at random, U[0.25, 0.75), and learn by STDP.
//!
//! Before and after training the output neuron is tested with learning frozen (its
//! population in [`Mode::Eval`]): 20 presentations of the pattern alternate with 20 of a
//! *control* pattern, a fixed random group of 20 inputs none of which is in the X,
//! presented at the same rates with the same correlation. Before training both drive the
//! neuron alike; after it the pattern drives it hard and the control hardly at all.
//!
//! With the defaults (seed 1; `cargo run --release -p ember-examples --example
//! stdp_receptive_field`, under 0.1 s of compute for 68 s of simulated time):
//!
//! | | pattern | other / control |
//! |---|---|---|
//! | mean weight before → after training | 0.51 → 1.98 (20 of 20 ≥ 0.9·bound) | 0.51 → 0.13 (65 of 80 ≤ 0.1·bound) |
//! | output rate during presentations, before training | 10 Hz | 11 Hz |
//! | output rate during presentations, after training | 75 Hz | 1 Hz |
//!
//! With distractors the pattern still wins (mean weights 1.98 against 0.26; 77 Hz against
//! 9 Hz).
//!
//! # Why it works
//!
//! This is the competitive Hebbian learning of Song, Miller & Abbott (2000, *Nat.
//! Neurosci.* 3:919): additive pair STDP with hard bounds whose depression outweighs
//! potentiation (A₋τ₋ > A₊τ₊; here A₋ = 1.3·A₊ with τ₋ = τ₊, Song et al. used 1.05). For an input firing independently of the output
//! at rate r_pre the average drift is r_pre·r_post·(A₊τ₊ − A₋τ₋) < 0: uncorrelated inputs
//! are depressed, and the more the output fires, the faster. Inputs whose spikes *cause*
//! output spikes also see pre-before-post pairs at short lags, which potentiate them. The
//! pattern's inputs fire together, so together they make the output fire: they are
//! potentiated up to the bound, the output fires more, and every other input is pushed to
//! zero. The weights end bimodal and the output becomes a detector of the repeated
//! pattern — the principle behind Masquelier, Guyonneau & Thorpe (2008, *PLoS ONE*
//! 3:e1377), where STDP finds a spike pattern repeating at random times in Poisson noise.
//!
//! Two choices matter:
//!
//! - **Correlated pattern inputs.** During a presentation the active inputs share spikes:
//!   a "mother" Poisson train of rate 50 Hz / c drives them, each copying each mother event
//!   with probability c = 0.5 and a jitter of up to ±1 ms (Song et al.'s correlated
//!   inputs). Each input alone is still a Poisson train at background + 50 Hz; only the
//!   pairs are correlated. With independent inputs ([`StdpConfig::correlation`] = 0), the
//!   group only shares its rate; STDP picks it out too, but more slowly and less cleanly
//!   (mean weights 1.15 against 0.23 after the default training; 47 Hz against 0 Hz).
//! - **A synaptic current that outlasts the step.** In Ember a spike emitted in step k
//!   reaches the output — and the learning rule — in step k + 1, and with a delta synapse
//!   an output spike it triggers falls in that same step. STDP counts a pre arrival and a
//!   post spike of the same step both ways (A₊ − A₋ < 0 here), so through delta synapses
//!   the causal inputs would be *depressed*. A single-exponential current (τ_s = 5 ms)
//!   spreads the cause over the following milliseconds: the output spikes it triggers come
//!   after the arrival and potentiate it.
//!
//! # Model and parameters
//!
//! | what | value |
//! |---|---|
//! | Δt | 1 ms |
//! | inputs | 100 `spike_source` neurons replaying Poisson trains drawn here (below) |
//! | output | one `lif`: rest = reset = −70 mV, threshold −54 mV, τ_m = 20 ms, 2 ms refractory, R = 1 MΩ |
//! | synapses | `all_to_all`, `single_exponential_current`, Q = 20 pC, τ_s = 5 ms: a weight w gives an EPSP of 0.63·w mV peak and 20·w mV·ms area |
//! | plasticity | `stdp`, cumulative traces, η_post = A₊ = 0.02, η_pre = −A₋ = −1.3·A₊, τ₊ = τ₋ = 20 ms |
//! | bounds | hard, [0, 2] |
//! | training | 300 pattern presentations, each followed by one background-only (or distractor) slot: 60 s |
//! | tests | 20 pattern + 20 control presentations each, in eval mode: 4 s each |
//!
//! Initially the mean input drive is 100·5 Hz·0.5·20 mV·ms ≈ 5 mV above rest and a
//! presentation adds ≈ 10 mV: the neuron sits just below threshold and fires on
//! fluctuations, a few spikes per presentation. After learning a pattern presentation's
//! extra drive is ≈ 40 mV, the control's ≈ 0.
//!
//! Ember's `poisson` generator has one fixed rate per neuron; the rates here change with
//! every presentation, so the trains are drawn here and replayed by a
//! [`SpikeSource`]: background spikes with probability rate·Δt per step and input, as the
//! `poisson` model does, from counter-based streams ([`RngStream`]) keyed by the seed, so
//! a run is reproducible and independent of the thread count.
//!
//! The test switches the output population's [`PopulationMode`] to eval (STDP learns only
//! while the post population trains) and [`Simulation::clear`]s the state, traces included,
//! at each switch.

use std::error::Error;
use std::path::Path;

use ember_engine::plasticity::{PlasticityRule, Stdp, WeightBounds};
use ember_engine::prelude::*;
use ember_engine::rng::RngStream;
use ember_engine::{PopulationMode, Weights};
use ember_models::{Lif, SingleExponentialCurrent, SpikeSource};

/// Side of the square input grid.
pub const SIDE: usize = 10;
/// Number of inputs (`SIDE × SIDE`); input `i` sits at row `i / SIDE`, column `i % SIDE`.
pub const INPUTS: usize = SIDE * SIDE;

/// The learned pattern: the two diagonals of the grid, an "X" of 20 inputs.
pub fn cross_pattern() -> Vec<bool> {
    (0..INPUTS)
        .map(|i| {
            let (r, c) = (i / SIDE, i % SIDE);
            r == c || r + c == SIDE - 1
        })
        .collect()
}

/// Settings of [`run_stdp_receptive_field`] (see the module docs for the defaults).
#[derive(Clone, Debug, PartialEq)]
pub struct StdpConfig {
    /// Seed of the input spike trains, the distractors, the control pattern and the
    /// initial weights.
    pub seed: u64,
    /// Compute threads (results do not depend on it).
    pub threads: usize,
    /// Δt, ms.
    pub step_time_ms: f64,
    /// Rate of every input, at all times, Hz.
    pub background_hz: f64,
    /// Extra rate of the inputs of a presented group, Hz.
    pub active_hz: f64,
    /// Fraction of their extra spikes two inputs of a presented group share (0 to 1; 0:
    /// independent).
    pub correlation: f64,
    /// Jitter of the shared spikes, ms (uniform in ±jitter).
    pub jitter_ms: f64,
    /// Duration of one presentation, ms.
    pub presentation_ms: f64,
    /// Background-only pause after each presentation, ms.
    pub gap_ms: f64,
    /// Presentations of the pattern in training. Each is followed by a slot of the same
    /// length showing a distractor or nothing.
    pub train_presentations: usize,
    /// Show a fresh random group of as many inputs as the pattern between two pattern
    /// presentations (`true`) or nothing but background (`false`).
    pub distractors: bool,
    /// Presentations of the pattern, and as many of the control pattern, in each test.
    pub test_presentations: usize,
    /// Initial weights are drawn from U[lo, hi).
    pub initial_weight: (f64, f64),
    /// Upper hard bound of the weights (the lower one is 0).
    pub weight_max: f32,
    /// η_post = A₊: the potentiation of a pre-before-post pair at zero lag.
    pub lr_post: f32,
    /// A₋/A₊: η_pre = −ratio·η_post (> 1: depression dominates uncorrelated firing).
    pub depression_ratio: f32,
    /// τ₊ = τ₋ of the STDP window, ms.
    pub tc_stdp_ms: f32,
    /// Pattern presentations between two points of [`StdpResult::history`].
    pub report_every: usize,
}

impl Default for StdpConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            threads: 1,
            step_time_ms: 1.0,
            background_hz: 5.0,
            active_hz: 50.0,
            correlation: 0.5,
            jitter_ms: 1.0,
            presentation_ms: 50.0,
            gap_ms: 50.0,
            train_presentations: 300,
            distractors: false,
            test_presentations: 20,
            initial_weight: (0.25, 0.75),
            weight_max: 2.0,
            lr_post: 0.02,
            depression_ratio: 1.3,
            tc_stdp_ms: 20.0,
            report_every: 25,
        }
    }
}

/// Mean weights at one point of training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightSnapshot {
    /// Pattern presentations so far.
    pub presentations: usize,
    /// Mean weight from the pattern's inputs.
    pub pattern: f32,
    /// Mean weight from the other inputs.
    pub other: f32,
}

/// The output's response in one test (eval mode, weights frozen).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Response {
    /// Output rate during pattern presentations, Hz.
    pub pattern_hz: f64,
    /// Output rate during control-pattern presentations, Hz.
    pub control_hz: f64,
    /// Output rate in the background-only gaps, Hz.
    pub background_hz: f64,
}

/// What [`run_stdp_receptive_field`] measured.
#[derive(Clone, Debug, PartialEq)]
pub struct StdpResult {
    /// Which inputs belong to the pattern ([`cross_pattern`]).
    pub pattern: Vec<bool>,
    /// Which inputs belong to the control pattern (as many inputs, none of the pattern's).
    pub control: Vec<bool>,
    /// Weight of each input before training.
    pub weights_before: Vec<f32>,
    /// Weight of each input after training.
    pub weights_after: Vec<f32>,
    /// Mean weights every [`StdpConfig::report_every`] pattern presentations of training,
    /// from 0.
    pub history: Vec<WeightSnapshot>,
    /// Test before training.
    pub before: Response,
    /// Test after training.
    pub after: Response,
    /// Input spikes over the whole run.
    pub input_spikes: usize,
    /// Output spikes over the whole run.
    pub output_spikes: usize,
}

impl StdpResult {
    /// Mean weight after training from the pattern's inputs.
    pub fn pattern_weight(&self) -> f32 {
        mean_where(&self.weights_after, &self.pattern, true)
    }

    /// Mean weight after training from the other inputs.
    pub fn other_weight(&self) -> f32 {
        mean_where(&self.weights_after, &self.pattern, false)
    }
}

fn mean_where(values: &[f32], mask: &[bool], select: bool) -> f32 {
    let (sum, n) = values
        .iter()
        .zip(mask)
        .filter(|(_, m)| **m == select)
        .fold((0.0, 0), |(s, n), (v, _)| (s + v, n + 1));
    sum / n.max(1) as f32
}

/// One presentation slot: `presentation_ms` with `active` inputs at the active rate, then
/// `gap_ms` of background.
struct Slot {
    /// The active inputs (none: background only).
    active: Vec<bool>,
    /// What was shown.
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pattern,
    Control,
    Other,
}

/// `count` distinct inputs out of `candidates`, drawn from `rng` (partial Fisher–Yates).
fn choose(rng: &mut RngStream, mut candidates: Vec<usize>, count: usize) -> Vec<bool> {
    let mut mask = vec![false; INPUTS];
    for k in 0..count.min(candidates.len()) {
        let j = k + (rng.next_u64() % (candidates.len() - k) as u64) as usize;
        candidates.swap(k, j);
        mask[candidates[k]] = true;
    }
    mask
}

/// The input spike trains of the whole timeline, `(input, time_ms)`.
///
/// Background: in each step every input spikes with probability `background_hz·Δt/1000`
/// (one counter-based stream per step). Presentation: on top of that, a "mother" Poisson
/// train of rate `active_hz / correlation` (one stream per slot); each active input copies
/// each mother event with probability `correlation`, shifted by a jitter from
/// U[−jitter, jitter]. Each active input thus fires `active_hz` more, and two of them share a
/// fraction `correlation` of these spikes (Song, Miller & Abbott 2000's correlated inputs).
/// `correlation = 0` makes the active inputs independent Poisson trains instead.
fn input_spikes(config: &StdpConfig, slots: &[Slot], on: u64, slot_len: u64) -> Vec<(u32, f64)> {
    let dt = config.step_time_ms;
    let p_off = config.background_hz * dt / 1000.0;
    let c = config.correlation;
    let mut spikes = Vec::new();
    for (s, slot) in slots.iter().enumerate() {
        let start = s as u64 * slot_len;
        for k in start..start + slot_len {
            let mut rng = RngStream::new(config.seed, "stdp_receptive_field.background", k);
            for i in 0..INPUTS {
                if rng.next_f64() < p_off {
                    spikes.push((i as u32, k as f64 * dt));
                }
            }
        }
        let active: Vec<u32> = (0..INPUTS as u32)
            .filter(|&i| slot.active[i as usize])
            .collect();
        let mut rng = RngStream::new(config.seed, "stdp_receptive_field.presentation", s as u64);
        if c > 0.0 {
            let p_event = config.active_hz / c * dt / 1000.0;
            for k in start..start + on {
                if rng.next_f64() >= p_event {
                    continue;
                }
                for &i in &active {
                    if rng.next_f64() < c {
                        let jitter = rng.uniform(-config.jitter_ms, config.jitter_ms);
                        spikes.push((i, (k as f64 * dt + jitter).max(0.0)));
                    }
                }
            }
        } else {
            let p_on = config.active_hz * dt / 1000.0;
            for k in start..start + on {
                for &i in &active {
                    if rng.next_f64() < p_on {
                        spikes.push((i, k as f64 * dt));
                    }
                }
            }
        }
    }
    spikes
}

/// Builds the network, tests it, trains it, tests it again; see the module docs.
pub fn run_stdp_receptive_field(config: &StdpConfig) -> Result<StdpResult, Box<dyn Error>> {
    if !(0.0..=1.0).contains(&config.correlation) {
        return Err(format!("correlation {} is not in [0, 1]", config.correlation).into());
    }
    let dt = config.step_time_ms;
    let steps = |ms: f64| -> Result<u64, Box<dyn Error>> {
        let n = (ms / dt).round();
        if (n * dt - ms).abs() > 1e-9 * ms.max(1.0) {
            return Err(format!("{ms} ms is not a multiple of Δt = {dt} ms").into());
        }
        Ok(n as u64)
    };
    let (on, slot_len) = (
        steps(config.presentation_ms)?,
        steps(config.presentation_ms + config.gap_ms)?,
    );

    let pattern = cross_pattern();
    let size = pattern.iter().filter(|p| **p).count();
    let mut rng = RngStream::new(config.seed, "stdp_receptive_field.control", 0);
    let control = choose(
        &mut rng,
        (0..INPUTS).filter(|&i| !pattern[i]).collect(),
        size,
    );

    // The timeline: test, train, test. Slot `s` starts at step `s·slot_len`.
    let mut slots: Vec<Slot> = Vec::new();
    let test = |slots: &mut Vec<Slot>| {
        for _ in 0..config.test_presentations {
            slots.push(Slot {
                active: pattern.clone(),
                kind: Kind::Pattern,
            });
            slots.push(Slot {
                active: control.clone(),
                kind: Kind::Control,
            });
        }
    };
    test(&mut slots);
    let train_start = slots.len();
    for k in 0..config.train_presentations {
        slots.push(Slot {
            active: pattern.clone(),
            kind: Kind::Pattern,
        });
        let active = if config.distractors {
            let mut rng = RngStream::new(config.seed, "stdp_receptive_field.distractor", k as u64);
            choose(&mut rng, (0..INPUTS).collect(), size)
        } else {
            vec![false; INPUTS]
        };
        slots.push(Slot {
            active,
            kind: Kind::Other,
        });
    }
    let test_start = slots.len();
    test(&mut slots);

    let spikes = input_spikes(config, &slots, on, slot_len);
    let input_spike_count = spikes.len();

    let mut sim = Simulation::new(SimConfig {
        step_time: dt,
        seed: config.seed,
        threads: config.threads,
        ..Default::default()
    })?;
    let input = sim.add_population(
        "input",
        INPUTS as u32,
        SpikeSource::new(spikes),
        PopulationOptions::default(),
    )?;
    let lif = Lif::new(-70.0, -70.0, -54.0, 2.0, 20.0);
    let output = sim.add_population("output", 1, lif, PopulationOptions::default())?;
    let all = ConnectRule::AllToAll { autapses: false };
    let (lo, hi) = config.initial_weight;
    let proj = sim.add_projection(
        None,
        input,
        output,
        &all,
        ValueSpec::Uniform { lo, hi },
        // Weight 1: 20 pC into 1 MΩ, τ_m = 20 ms: an EPSP of 0.63 mV peak.
        SingleExponentialCurrent {
            spike_charge: 20.0,
            time_constant: 5.0,
        },
    )?;
    let stdp = Stdp::new(
        config.lr_post,
        -config.depression_ratio * config.lr_post,
        config.tc_stdp_ms,
        config.tc_stdp_ms,
    );
    let bounds = WeightBounds::hard(Some(0.0), Some(config.weight_max));
    sim.add_plasticity(proj, PlasticityRule::new(stdp).with_bounds(bounds))?;
    let recorder = sim.record_spikes(output)?;
    let weights = |sim: &Simulation| -> Vec<f32> {
        sim.get_projection::<Weights>(proj)
            .map_or_else(Vec::new, |w| w.0.values().to_vec())
    };
    let set_mode = |sim: &mut Simulation, mode: Mode| {
        sim.clear(false);
        sim.world_mut()
            .entity_mut(output.0)
            .insert(PopulationMode(mode));
    };
    let weights_before = weights(&sim);

    set_mode(&mut sim, Mode::Eval);
    sim.run_steps(train_start as u64 * slot_len)?;
    set_mode(&mut sim, Mode::Train);
    let mut history = Vec::new();
    let mut done = 0;
    let snapshot = |sim: &Simulation, presentations| {
        let w = weights(sim);
        WeightSnapshot {
            presentations,
            pattern: mean_where(&w, &pattern, true),
            other: mean_where(&w, &pattern, false),
        }
    };
    history.push(snapshot(&sim, 0));
    while done < config.train_presentations {
        let n = config
            .report_every
            .max(1)
            .min(config.train_presentations - done);
        sim.run_steps(2 * n as u64 * slot_len)?;
        done += n;
        history.push(snapshot(&sim, done));
    }
    let weights_after = weights(&sim);
    set_mode(&mut sim, Mode::Eval);
    sim.run_steps((slots.len() - test_start) as u64 * slot_len)?;

    // Output spikes per slot, split into presentation and gap.
    let mut on_count = vec![0usize; slots.len()];
    let mut off_count = vec![0usize; slots.len()];
    let out_spikes = sim.recorded_spikes(recorder);
    for e in &out_spikes {
        let s = (e.step / slot_len) as usize;
        if s < slots.len() {
            if e.step % slot_len < on {
                on_count[s] += 1;
            } else {
                off_count[s] += 1;
            }
        }
    }
    let response = |range: std::ops::Range<usize>| {
        let rate = |kind: Kind| {
            let (count, n) = range
                .clone()
                .filter(|&s| slots[s].kind == kind)
                .fold((0, 0), |(c, n), s| (c + on_count[s], n + 1));
            count as f64 * 1000.0 / (n.max(1) as f64 * config.presentation_ms)
        };
        let gaps: usize = range.clone().map(|s| off_count[s]).sum();
        Response {
            pattern_hz: rate(Kind::Pattern),
            control_hz: rate(Kind::Control),
            background_hz: gaps as f64 * 1000.0 / (range.len().max(1) as f64 * config.gap_ms),
        }
    };
    Ok(StdpResult {
        before: response(0..train_start),
        after: response(test_start..slots.len()),
        pattern,
        control,
        weights_before,
        weights_after,
        history,
        input_spikes: input_spike_count,
        output_spikes: out_spikes.len(),
    })
}

/// Pixels per weight in [`weights_png`].
pub const CELL_PX: usize = 24;

/// The colour of a weight `x ∈ [0, 1]` (fraction of the maximum): a perceptual dark →
/// bright ramp (matplotlib's *inferno*, five stops).
fn colour(x: f32) -> [u8; 3] {
    const STOPS: [[f32; 3]; 5] = [
        [0.0, 0.0, 4.0],
        [87.0, 16.0, 110.0],
        [188.0, 55.0, 84.0],
        [249.0, 142.0, 9.0],
        [252.0, 255.0, 164.0],
    ];
    let x = x.clamp(0.0, 1.0) * (STOPS.len() - 1) as f32;
    let k = (x.floor() as usize).min(STOPS.len() - 2);
    let f = x - k as f32;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    [0, 1, 2].map(|c| (a[c] + f * (b[c] - a[c])).round() as u8)
}

/// A PNG of two 10 × 10 weight maps side by side (`before`, then `after`, each input a
/// [`CELL_PX`]-pixel square at its grid position, 0 dark → `weight_max` bright), with a
/// colour bar from 0 to `weight_max` below them.
pub fn weights_png(
    before: &[f32],
    after: &[f32],
    weight_max: f32,
) -> Result<Vec<u8>, Box<dyn Error>> {
    const MARGIN: usize = 12;
    const GAP: usize = 24;
    const BAR: usize = 12;
    let panel = SIDE * CELL_PX;
    let width = 2 * MARGIN + 2 * panel + GAP;
    let height = 2 * MARGIN + panel + MARGIN + BAR;
    let mut rgb = vec![255u8; width * height * 3];
    let mut put = |x: usize, y: usize, c: [u8; 3]| {
        let k = 3 * (y * width + x);
        rgb[k..k + 3].copy_from_slice(&c);
    };
    for (p, w) in [before, after].into_iter().enumerate() {
        let x0 = MARGIN + p * (panel + GAP);
        for (i, &v) in w.iter().take(INPUTS).enumerate() {
            let (r, c) = (i / SIDE, i % SIDE);
            let colour = colour(v / weight_max);
            for dy in 0..CELL_PX {
                for dx in 0..CELL_PX {
                    // A one-pixel grey grid line between cells.
                    let edge = dx == CELL_PX - 1 || dy == CELL_PX - 1;
                    let px = if edge { [64, 64, 64] } else { colour };
                    put(x0 + c * CELL_PX + dx, MARGIN + r * CELL_PX + dy, px);
                }
            }
        }
    }
    let bar_width = width - 2 * MARGIN;
    for dx in 0..bar_width {
        let c = colour(dx as f32 / (bar_width - 1) as f32);
        for dy in 0..BAR {
            put(MARGIN + dx, 2 * MARGIN + panel + dy, c);
        }
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(out)
}

/// Writes [`weights_png`] of `result`'s weights to `path`, creating its directory.
pub fn write_weights_png(
    path: &Path,
    result: &StdpResult,
    weight_max: f32,
) -> Result<(), Box<dyn Error>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let png = weights_png(&result.weights_before, &result.weights_after, weight_max)?;
    std::fs::write(path, png)?;
    Ok(())
}
