//! Synaptic delays: whole-step transmission delays per synapse, through a post-side
//! ring buffer of arrivals.
//!
//! A spike emitted in step k reaches its synapses in step k + 1 + D, where D is the
//! synapse's delay in steps (SCENARIO.md): the minimum delay is one step, and `delay = 0`
//! means D = 0. A delay given in ms becomes D by [`DelayMode`]: `previous` rounds up to the
//! next whole step (Inferno's `interp_previous`: an arrival between two steps is seen at
//! the later one), `nearest` rounds to the nearest step with ties to the longer delay
//! (Inferno's `interp_nearest`). Values within 10⁻⁹ (relative) of a whole step count as
//! that step.
//!
//! Delivery stays event-driven: when a spike is processed (in step k, for a spike of step
//! k − 1), each synapse adds its weight to the post neuron's slot for step k + D in a ring
//! of `max D + 1` slots per projection ([`DelayLine`]). The synapse model then consumes the
//! slot of the current step instead of reading the spikes directly
//! ([`deliver_copy`]). Work is spikes × fan-out, memory is 1 byte per synapse for
//! per-synapse delays of at most 255 steps (2 bytes beyond; none for a uniform delay) plus `(max D + 1) × post × batch` floats.
//! Projections without delays keep the direct path and pay nothing.

use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::parallel::{self, Split};
use crate::population::Spikes;
use crate::projection::{
    Connectivity, DeliveryBatch, ProjectsFrom, Weights, deliver_between, deliver_spikes,
};
use crate::value::Param;

/// How a delay between two steps is rounded to whole steps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DelayMode {
    /// Round up to the next whole step.
    #[default]
    Previous,
    /// Round to the nearest step, ties to the longer delay.
    Nearest,
}

/// The delay in steps D for `delay_ms` (see the module docs), or `None` for a negative or
/// non-finite delay.
pub fn delay_steps(delay_ms: f64, step_time: f64, mode: DelayMode) -> Option<u64> {
    if !(delay_ms.is_finite() && delay_ms >= 0.0) {
        return None;
    }
    let r = delay_ms / step_time;
    let n = r.round();
    let steps = if (r - n).abs() <= 1e-9 * n.max(1.0) {
        n
    } else {
        match mode {
            DelayMode::Previous => r.ceil(),
            DelayMode::Nearest => (r + 0.5).floor(),
        }
    };
    Some(steps as u64)
}

/// Per-synapse delays of a projection, in steps (canonical synapse order).
#[derive(Component, Clone, Debug, PartialEq, Eq)]
pub enum Delays {
    /// One delay for every synapse.
    Uniform(u16),
    /// One delay per synapse, each ≤ 255 steps: 1 byte per synapse.
    PerSynapseShort(Vec<u8>),
    /// One delay per synapse (some > 255 steps): 2 bytes per synapse.
    PerSynapse(Vec<u16>),
}

impl Delays {
    /// The longest delay, steps.
    pub fn max(&self) -> u16 {
        match self {
            Delays::Uniform(d) => *d,
            Delays::PerSynapseShort(ds) => ds.iter().copied().max().map_or(0, u16::from),
            Delays::PerSynapse(ds) => ds.iter().copied().max().unwrap_or(0),
        }
    }

    /// The delay of synapse `s`, steps.
    pub fn get(&self, s: usize) -> u16 {
        match self {
            Delays::Uniform(d) => *d,
            Delays::PerSynapseShort(ds) => u16::from(ds[s]),
            Delays::PerSynapse(ds) => ds[s],
        }
    }

    /// The most compact form of per-synapse delays in steps: one shared value if all are
    /// equal, else 1 byte per synapse when all are ≤ 255 steps, else 2 bytes.
    pub fn compact(steps: Vec<u16>) -> Self {
        match steps.first() {
            None => Delays::Uniform(0),
            Some(&d) if steps.iter().all(|&x| x == d) => Delays::Uniform(d),
            Some(_) => match steps.iter().map(|&d| u8::try_from(d)).collect() {
                Ok(short) => Delays::PerSynapseShort(short),
                Err(_) => Delays::PerSynapse(steps),
            },
        }
    }

    /// Bytes of storage.
    pub fn memory_bytes(&self) -> usize {
        match self {
            Delays::Uniform(_) => 0,
            Delays::PerSynapseShort(ds) => ds.len(),
            Delays::PerSynapse(ds) => 2 * ds.len(),
        }
    }
}

/// The ring of future arrivals of a delayed projection: for each of `max D + 1` steps,
/// the weighted spike sum arriving at every post neuron of every batch copy.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct DelayLine {
    slots: usize,
    post: usize,
    batch: usize,
    head: usize,
    data: Vec<f32>,
}

impl DelayLine {
    /// A ring for delays up to `max_delay` steps onto `post` neurons × `batch` copies.
    pub fn new(max_delay: u16, post: usize, batch: usize) -> Self {
        let slots = usize::from(max_delay) + 1;
        Self {
            slots,
            post,
            batch,
            head: 0,
            data: vec![0.0; slots * post * batch],
        }
    }

    fn range(&self, slot: usize, b: usize) -> std::ops::Range<usize> {
        let base = (slot * self.batch + b) * self.post;
        base..base + self.post
    }

    /// Drops every scheduled arrival (for `Simulation::clear`).
    pub fn clear(&mut self) {
        self.data.fill(0.0);
    }

    /// This step's arrivals for batch copy `b` (weighted spike sums per post neuron).
    pub fn arrivals(&self, b: usize) -> &[f32] {
        &self.data[self.range(self.head, b)]
    }

    /// This step's arrivals for copy `b`, to be consumed (zeroed) by the caller.
    pub fn arrivals_mut(&mut self, b: usize) -> &mut [f32] {
        let r = self.range(self.head, b);
        &mut self.data[r]
    }
}

/// [`Phase::Synapses`](crate::Phase::Synapses), before the synapse models: moves the ring to
/// this step and schedules the pre population's spikes of the previous step into the slots
/// of the steps they arrive in.
pub fn schedule_delayed_arrivals(
    clock: Res<Clock>,
    spikes: Query<&Spikes>,
    mut q: Query<(
        &ProjectsFrom,
        &Connectivity,
        &Weights,
        &Delays,
        &mut DelayLine,
    )>,
) {
    for (from, conn, weights, delays, mut line) in &mut q {
        let line = &mut *line;
        line.head = (clock.step % line.slots as u64) as usize;
        let Ok(pre) = spikes.get(from.0) else {
            continue;
        };
        for b in 0..line.batch.min(pre.batches()) {
            let spiking = pre.batch(b);
            match delays {
                // One delay: whole rows go to one slot — the undelayed delivery kernel
                // (vectorised dense rows, parallel post ranges), with scale 1 so the slot
                // holds exactly Σ w, in the same order as below.
                Delays::Uniform(d) => {
                    let slot = (line.head + usize::from(*d)) % line.slots;
                    let r = line.range(slot, b);
                    deliver_spikes(conn, weights, spiking, 1.0, &mut line.data[r]);
                }
                _ => {
                    for &i in spiking {
                        let r = conn.row_range(i as usize);
                        for (s, j) in r.zip(conn.row(i as usize).iter()) {
                            let slot = (line.head + usize::from(delays.get(s))) % line.slots;
                            let w = match &weights.0 {
                                Param::Scalar(w) => *w,
                                Param::PerElement(ws) => ws[s],
                            };
                            let k = line.range(slot, b).start + j as usize;
                            line.data[k] += w;
                        }
                    }
                }
            }
        }
    }
}

/// Adds `scale · Σ w` of this step's arrivals at batch copy `b` to `out`: from the delay
/// line when the projection has one (consuming it), else directly from the pre spikes of
/// the previous step (the undelayed path of [`deliver_spikes`]).
pub fn deliver_copy(
    conn: &Connectivity,
    weights: &Weights,
    pre: Option<&Spikes>,
    line: Option<&mut DelayLine>,
    b: usize,
    scale: f32,
    out: &mut [f32],
) {
    prepare_and_deliver_copy(
        conn,
        weights,
        pre,
        line,
        b,
        scale,
        out,
        usize::MAX,
        |_, _| {},
    );
}

/// [`deliver_copy`] preceded by `prepare(lo, part)` on each part of `out`, in one parallel
/// section when `out.len() ≥ min_len` (see [`crate::projection::prepare_and_deliver`]):
/// synapse models pass their per-step decay here.
#[expect(
    clippy::too_many_arguments,
    reason = "deliver_copy's arguments plus the fused pass"
)]
pub fn prepare_and_deliver_copy(
    conn: &Connectivity,
    weights: &Weights,
    pre: Option<&Spikes>,
    line: Option<&mut DelayLine>,
    b: usize,
    scale: f32,
    out: &mut [f32],
    min_len: usize,
    prepare: impl Fn(usize, &mut [f32]) + Sync,
) {
    let finish = |_: usize, _: &mut [f32], _: ()| {};
    deliver_copy_between(
        conn,
        weights,
        pre,
        line,
        b,
        scale,
        out,
        (),
        min_len,
        prepare,
        finish,
    );
}

/// [`prepare_and_deliver_copy`] for every batch copy of one projection's post array `out`
/// (`post` elements per copy), `prepare(param, lo, part)` being the synapse model's pass:
/// without a delay line the copies join `batch` (run when full; the caller runs it after
/// its last projection), so all of a model's undelayed projections share one parallel
/// section ([`DeliveryBatch`]); with one they run now, one section per copy.
#[expect(
    clippy::too_many_arguments,
    reason = "prepare_and_deliver_copy's arguments plus the batch"
)]
#[inline]
pub fn queue_copies<'a, F>(
    batch: &mut DeliveryBatch<'a>,
    conn: &'a Connectivity,
    weights: &'a Weights,
    pre: Option<&'a Spikes>,
    line: Option<&mut DelayLine>,
    scale: f32,
    (out, post): (&'a mut [f32], usize),
    (param, min_len): (f32, usize),
    prepare: F,
) where
    F: Fn(f32, usize, &mut [f32]) + Sync + Copy,
{
    let copies = out.chunks_exact_mut(post.max(1));
    match line {
        Some(line) => {
            for (b, copy) in copies.enumerate() {
                let prepare = |lo: usize, part: &mut [f32]| prepare(param, lo, part);
                prepare_and_deliver_copy(
                    conn,
                    weights,
                    pre,
                    Some(&mut *line),
                    b,
                    scale,
                    copy,
                    min_len,
                    prepare,
                );
            }
        }
        None => {
            for (b, copy) in copies.enumerate() {
                if batch.is_full() {
                    batch.run(min_len, prepare);
                }
                let spikes = pre.map_or(&[][..], |p| p.batch(b));
                batch.push(conn, weights, spikes, scale, param, copy);
            }
        }
    }
}

/// [`prepare_and_deliver_copy`] followed by `finish(lo, part, aux_part)` on each part, in
/// the same section (see [`deliver_between`]): `aux` holds arrays as long as `out`.
///
/// # Panics
/// If `aux` is shorter than `out`.
#[expect(
    clippy::too_many_arguments,
    reason = "prepare_and_deliver_copy's arguments plus the finishing pass"
)]
pub fn deliver_copy_between<A: Split>(
    conn: &Connectivity,
    weights: &Weights,
    pre: Option<&Spikes>,
    line: Option<&mut DelayLine>,
    b: usize,
    scale: f32,
    out: &mut [f32],
    aux: A,
    min_len: usize,
    prepare: impl Fn(usize, &mut [f32]) + Sync,
    finish: impl Fn(usize, &mut [f32], A) + Sync,
) {
    assert!(
        aux.len() >= out.len(),
        "auxiliary arrays shorter than the output"
    );
    match line {
        Some(line) => {
            let parts = (out, line.arrivals_mut(b), aux);
            parallel::for_each_part(parts, min_len, |lo, (out, arrivals, aux)| {
                prepare(lo, &mut *out);
                for (o, a) in out.iter_mut().zip(arrivals) {
                    *o += scale * *a;
                    *a = 0.0;
                }
                finish(lo, out, aux);
            });
        }
        None => match pre {
            Some(pre) => {
                let spikes = pre.batch(b);
                deliver_between(
                    conn, weights, spikes, scale, out, aux, min_len, prepare, finish,
                );
            }
            None => parallel::for_each_part((out, aux), min_len, |lo, (out, aux)| {
                prepare(lo, &mut *out);
                finish(lo, out, aux);
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_synapse_delays_take_the_smallest_storage() {
        assert_eq!(Delays::compact(vec![3, 3, 3]), Delays::Uniform(3));
        assert_eq!(Delays::compact(vec![]), Delays::Uniform(0));
        let short = Delays::compact(vec![0, 255, 7]);
        assert_eq!(short, Delays::PerSynapseShort(vec![0, 255, 7]));
        assert_eq!(
            (short.max(), short.get(1), short.memory_bytes()),
            (255, 255, 3)
        );
        let long = Delays::compact(vec![0, 256, 7]);
        assert_eq!(long, Delays::PerSynapse(vec![0, 256, 7]));
        assert_eq!(
            (long.max(), long.get(1), long.memory_bytes()),
            (256, 256, 6)
        );
    }

    #[test]
    fn rounding_modes() {
        // INFERNO.md trace J: 1.0 ms → 1 step both ways; 2.4 ms → 3 (previous), 2 (nearest).
        assert_eq!(delay_steps(1.0, 1.0, DelayMode::Previous), Some(1));
        assert_eq!(delay_steps(1.0, 1.0, DelayMode::Nearest), Some(1));
        assert_eq!(delay_steps(2.4, 1.0, DelayMode::Previous), Some(3));
        assert_eq!(delay_steps(2.4, 1.0, DelayMode::Nearest), Some(2));
        // Ties go to the longer delay; near-whole values snap.
        assert_eq!(delay_steps(0.5, 1.0, DelayMode::Nearest), Some(1));
        assert_eq!(delay_steps(0.3, 0.1, DelayMode::Previous), Some(3));
        assert_eq!(delay_steps(0.0, 0.1, DelayMode::Previous), Some(0));
        assert_eq!(delay_steps(0.04, 0.1, DelayMode::Nearest), Some(0));
        assert_eq!(delay_steps(0.04, 0.1, DelayMode::Previous), Some(1));
        assert_eq!(delay_steps(-1.0, 0.1, DelayMode::Previous), None);
        assert_eq!(delay_steps(f64::NAN, 0.1, DelayMode::Previous), None);
    }
}
