//! Spike traces of one side of a projection (pre units or post neurons), per batch copy.
//!
//! A *unit* is a post neuron, a pre neuron (uniform delay: every synapse of the neuron sees
//! its spikes at the same step), or a synapse (delays that differ per synapse: each synapse
//! has its own arrival times). Element `b·units + u` is unit `u` of batch copy `b`.
//!
//! Every side keeps the step of each unit's latest spike (`last`, [`NEVER`] before the
//! first), which is also how the step loop recognises "this unit spiked now". Trace values
//! are stored in one of two ways:
//!
//! * **dense** (units = neurons): every value is multiplied by `e^{−Δt/τ}` once per step
//!   (an O(neurons) streaming pass, exactly Inferno's order: decay, then add the spike), so
//!   reading a trace is one load;
//! * **lazy** (units = synapses): a value is stored as of its last spike and decayed on
//!   read by `e^{−Δt/τ}` raised to the steps elapsed, so nothing per synapse is touched in a
//!   step without arrivals.

/// `last` of a unit that has never spiked.
pub(crate) const NEVER: u64 = u64::MAX;

/// How a trace reacts to a spike.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TraceSpec {
    /// τ, ms.
    pub(crate) tau: f32,
    /// The amount added (cumulative) or set (nearest) at a spike.
    pub(crate) amp: f32,
    /// Nearest trace (`x ← amp` at a spike) rather than cumulative (`x ← x + amp`).
    pub(crate) nearest: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Trace {
    pub(crate) value: Vec<f32>,
    decay: f32,
    amp: f32,
    nearest: bool,
}

impl Trace {
    fn new(spec: TraceSpec, len: usize, dt: f64) -> Self {
        Self {
            value: vec![0.0; len],
            decay: (-dt / f64::from(spec.tau)).exp() as f32,
            amp: spec.amp,
            nearest: spec.nearest,
        }
    }

    /// The lazy value of element `idx` (last spike `last`) at step `k ≥ last`.
    #[inline]
    fn lazy_at(&self, idx: usize, last: u64, k: u64) -> f32 {
        if last == NEVER {
            return 0.0;
        }
        let v = self.value[idx];
        match k - last {
            0 => v,
            1 => v * self.decay,
            n => v * self.decay.powi(n.min(i32::MAX as u64) as i32),
        }
    }
}

/// The traces of one side of a projection.
#[derive(Clone, Debug)]
pub(crate) struct Side {
    /// Units per batch copy.
    pub(crate) units: usize,
    /// Lazy (per-synapse) rather than dense (per-neuron) storage.
    pub(crate) lazy: bool,
    /// Step of each element's latest spike, [`NEVER`] before the first.
    pub(crate) last: Vec<u64>,
    /// The fast (pair) trace, if the rule has one.
    fast: Option<Trace>,
    /// The slow (triplet) trace, if the rule has one.
    slow: Option<Trace>,
    /// The slow trace one step before the latest spike (valid for elements that spiked in
    /// the current step).
    slow_prev: Vec<f32>,
}

impl Side {
    pub(crate) fn new(
        units: usize,
        batch: usize,
        lazy: bool,
        fast: Option<TraceSpec>,
        slow: Option<TraceSpec>,
        dt: f64,
    ) -> Self {
        let len = units * batch;
        Self {
            units,
            lazy,
            last: vec![NEVER; len],
            fast: fast.map(|s| Trace::new(s, len, dt)),
            slow: slow.map(|s| Trace::new(s, len, dt)),
            slow_prev: if slow.is_some() {
                vec![0.0; len]
            } else {
                Vec::new()
            },
        }
    }

    /// Forgets every spike.
    pub(crate) fn reset(&mut self) {
        self.last.fill(NEVER);
        for t in [&mut self.fast, &mut self.slow].into_iter().flatten() {
            t.value.fill(0.0);
        }
        self.slow_prev.fill(0.0);
    }

    /// Whether element `idx` spiked in step `k`.
    #[inline]
    pub(crate) fn spiked(&self, idx: usize, k: u64) -> bool {
        self.last[idx] == k
    }

    /// The fast trace of element `idx` at step `k` (after this step's spikes).
    #[inline]
    pub(crate) fn fast_at(&self, idx: usize, k: u64) -> f32 {
        match &self.fast {
            Some(t) if self.lazy => t.lazy_at(idx, self.last[idx], k),
            Some(t) => t.value[idx],
            None => 0.0,
        }
    }

    /// The slow trace of element `idx` one step before its spike in the current step.
    #[inline]
    pub(crate) fn slow_before(&self, idx: usize) -> f32 {
        self.slow_prev[idx]
    }

    /// First pass of a step, for each element that spikes in step `k`: remembers the slow
    /// trace as of step `k − 1`.
    #[inline]
    pub(crate) fn snapshot(&mut self, idx: usize, k: u64) {
        if let Some(slow) = &self.slow {
            self.slow_prev[idx] = if self.lazy {
                let last = self.last[idx];
                if last == NEVER || k == 0 {
                    0.0
                } else {
                    slow.lazy_at(idx, last, k - 1)
                }
            } else {
                slow.value[idx]
            };
        }
    }

    /// Second pass of a step: decays dense traces by one step.
    pub(crate) fn decay(&mut self) {
        if self.lazy {
            return;
        }
        for t in [&mut self.fast, &mut self.slow].into_iter().flatten() {
            let d = t.decay;
            t.value.iter_mut().for_each(|v| *v *= d);
        }
    }

    /// Third pass of a step: element `idx` spikes in step `k`.
    #[inline]
    pub(crate) fn spike(&mut self, idx: usize, k: u64) {
        let last = self.last[idx];
        let lazy = self.lazy;
        for t in [&mut self.fast, &mut self.slow].into_iter().flatten() {
            let before = if lazy {
                t.lazy_at(idx, last, k)
            } else {
                t.value[idx]
            };
            t.value[idx] = if t.nearest { t.amp } else { before + t.amp };
        }
        self.last[idx] = k;
    }

    /// Bytes of state.
    pub(crate) fn memory_bytes(&self) -> usize {
        let traces: usize = [&self.fast, &self.slow]
            .into_iter()
            .flatten()
            .map(|t| t.value.len() * 4)
            .sum();
        self.last.len() * 8 + traces + self.slow_prev.len() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(nearest: bool) -> TraceSpec {
        TraceSpec {
            tau: 20.0,
            amp: 0.5,
            nearest,
        }
    }

    /// Dense and lazy storage give the same values (to f32 rounding).
    #[test]
    fn dense_and_lazy_agree() {
        for nearest in [false, true] {
            let mut dense = Side::new(1, 1, false, Some(spec(nearest)), Some(spec(nearest)), 1.0);
            let mut lazy = Side::new(1, 1, true, Some(spec(nearest)), Some(spec(nearest)), 1.0);
            let spikes = [3u64, 4, 10, 30];
            for k in 0..40u64 {
                let s = spikes.contains(&k);
                for side in [&mut dense, &mut lazy] {
                    if s {
                        side.snapshot(0, k);
                    }
                    side.decay();
                    if s {
                        side.spike(0, k);
                    }
                }
                let (a, b) = (dense.fast_at(0, k), lazy.fast_at(0, k));
                assert!((a - b).abs() < 1e-6, "k {k}: {a} vs {b}");
                if s {
                    let (a, b) = (dense.slow_before(0), lazy.slow_before(0));
                    assert!((a - b).abs() < 1e-6, "k {k}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn cumulative_and_nearest_traces() {
        let mut c = Side::new(1, 1, false, Some(spec(false)), None, 1.0);
        let mut n = Side::new(1, 1, false, Some(spec(true)), None, 1.0);
        for side in [&mut c, &mut n] {
            side.decay();
            side.spike(0, 0);
            side.decay();
            side.spike(0, 1);
        }
        let d = (-1.0f64 / 20.0).exp() as f32;
        assert!((c.fast_at(0, 1) - (0.5 * d + 0.5)).abs() < 1e-7);
        assert_eq!(n.fast_at(0, 1), 0.5);
        assert!(c.spiked(0, 1) && !c.spiked(0, 0));
    }
}
