//! Leaky integrate-and-fire neuron (`lif`), with Inferno's exact semantics.
//!
//! # Equations
//!
//! Continuous: `τ_m dV/dt = −(V − V_rest) + R·I(t)`, spike when `V ≥ V_θ`, then
//! `V ← V_reset` and the neuron is refractory for `t_ref`.
//!
//! Discrete step (Inferno `voltage_thresholding_constant` with `voltage_integration_linear`),
//! for each neuron, with `α = exp(−Δt/τ_m)` precomputed once:
//!
//! 1. `r ← max(r − Δt, 0)`; the neuron is active if `r = 0`.
//! 2. `I' = active ? I : 0` (refractory neurons receive no input).
//! 3. `V' = V_rest + R·I' + (V − V_rest − R·I')·α` — the exact solution for input held
//!    constant over the step. With `refrac_lock` (default) a refractory neuron keeps `V`.
//! 4. `spike = active ∧ V' ≥ V_θ`; spiking neurons get `V ← V_reset`, `r ← t_ref`.
//!
//! The refractory period therefore includes the spike step: with Δt = 1 ms and
//! `refrac_t = 2` ms the voltage is held at reset for one step after the spike and
//! integration resumes two steps after it (INFERNO.md trace A). A `refrac_t` that is not a
//! multiple of Δt is effectively rounded up. Unlike Inferno, a remaining refractory time
//! below 10⁻⁴·Δt counts as elapsed, so f32 round-off in the repeated subtraction (5.0 − 50 ×
//! 0.1 is not exactly 0 in f32) never adds a step.
//!
//! # Parameters
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `rest_v` | mV | resting voltage `V_rest` | finite (see below) |
//! | `reset_v` | mV | reset voltage `V_reset` | `reset_v < thresh_v` |
//! | `thresh_v` | mV | threshold `V_θ` | |
//! | `refrac_t` | ms | absolute refractory period `t_ref` | `≥ 0` |
//! | `tc_membrane` | ms | membrane time constant `τ_m` | `> 0` |
//! | `resistance` | MΩ | membrane resistance `R` (default 1) | `≠ 0` |
//!
//! Inferno also requires `rest_v < thresh_v`; Ember does not, because a resting voltage
//! above threshold is how the CUBA benchmark (Brette et al. 2007: `El = −49 mV`,
//! `Vt = −50 mV`) makes its neurons fire tonically, and Brian2 and NEST accept it.
//!
//! Every parameter may be one value or one per neuron. Reference: Inferno `LIF`
//! (`inferno/neural/neurons/linear.py`), Gerstner et al., *Neuronal Dynamics* (2014) §1.3.
//!
//! # Kernels
//!
//! One portable, auto-vectorised step does the arithmetic above. The system's fused pass
//! also adds the incoming projection currents in the same sweep. With one shared set of
//! parameters on an AVX2 target, the fused pass runs an intrinsics form of the same
//! operations (`lif_lanes`), which hands spikes on as bits and, with `R = 1` (the default),
//! folds the multiply by `R` away. All forms give bit-identical results, and tests compare
//! them.
//!
//! On a thread team the pass also runs the decay and delivery of its incoming
//! single-exponential projections, each thread on its own range
//! ([`ember_engine::pull`]), and its sweep stores the next step's decay of those currents
//! while it reads them (*carried decay*, `RawCurrents`; not past the last step of a
//! run). With one weight per projection, each thread then delivers the spikes it has just
//! found instead of every thread reading every spike's row in the next step
//! (*pushed delivery*, `lif_push`).

use std::cell::RefCell;

use bevy_ecs::prelude::*;
use bevy_ecs::query::QueryFilter;
use ember_engine::aggregate::add_incoming;
use ember_engine::model::check;
use ember_engine::parallel::{self, FollowUp, Split};
use ember_engine::prelude::*;
use ember_engine::{
    Aggregation, CarriedDecay, Connectivity, DecayingCurrent, FusedAggregation,
    IncomingProjections, InputVisibility, ProjectionCurrent, ProjectsFrom, Pulled, PullsDelivery,
    RunSpan, Weights, prepare_and_deliver_part,
};
use ember_engine::{ModelSystems, ParamError, ParamReader, Population, RefracLock, SpawnContext};

use crate::neurons::lif_push::{Arrival, Pushes, cut_of};
use crate::neurons::{PARALLEL_MIN_NEURONS, settle_refractory_elapsed};

/// LIF parameters (see the module docs for equations and units).
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Lif {
    /// Resting voltage, mV.
    pub rest_v: Param,
    /// Reset voltage after a spike, mV.
    pub reset_v: Param,
    /// Spike threshold, mV.
    pub thresh_v: Param,
    /// Absolute refractory period, ms.
    pub refrac_t: Param,
    /// Membrane time constant, ms.
    pub tc_membrane: Param,
    /// Membrane resistance, MΩ.
    pub resistance: Param,
}

impl Lif {
    /// Homogeneous parameters with `resistance = 1` MΩ.
    pub fn new(rest_v: f32, reset_v: f32, thresh_v: f32, refrac_t: f32, tc_membrane: f32) -> Self {
        Self {
            rest_v: rest_v.into(),
            reset_v: reset_v.into(),
            thresh_v: thresh_v.into(),
            refrac_t: refrac_t.into(),
            tc_membrane: tc_membrane.into(),
            resistance: 1.0.into(),
        }
    }

    /// The per-Δt coefficients of neuron `i`.
    fn coefficients(&self, i: usize, dt: f32) -> LifCoefficients {
        LifCoefficients {
            rest_v: self.rest_v.at(i),
            reset_v: self.reset_v.at(i),
            thresh_v: self.thresh_v.at(i),
            refrac_t: self.refrac_t.at(i),
            decay: (-dt / self.tc_membrane.at(i)).exp(),
            resistance: self.resistance.at(i),
        }
    }

    fn is_homogeneous(&self) -> bool {
        [
            &self.rest_v,
            &self.reset_v,
            &self.thresh_v,
            &self.refrac_t,
            &self.tc_membrane,
            &self.resistance,
        ]
        .iter()
        .all(|p| p.as_scalar().is_some())
    }
}

/// The coefficients of one neuron's step, Δt already folded in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LifCoefficients {
    /// `V_rest`, mV.
    pub rest_v: f32,
    /// `V_reset`, mV.
    pub reset_v: f32,
    /// `V_θ`, mV.
    pub thresh_v: f32,
    /// `t_ref`, ms.
    pub refrac_t: f32,
    /// `exp(−Δt/τ_m)`.
    pub decay: f32,
    /// `R`, MΩ.
    pub resistance: f32,
}

/// Per-neuron coefficients as arrays (heterogeneous populations).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LifArrays {
    rest_v: Vec<f32>,
    reset_v: Vec<f32>,
    thresh_v: Vec<f32>,
    refrac_t: Vec<f32>,
    decay: Vec<f32>,
    resistance: Vec<f32>,
}

/// Where a kernel gets neuron `i`'s coefficients: one shared set, or arrays. The kernel is
/// monomorphised for each, so the choice is made once per population, not per neuron.
pub trait LifSource: Sync {
    /// Coefficients of neuron `i` (`offset` is added by chunked callers).
    fn at(&self, i: usize) -> LifCoefficients;
    /// The same source restricted to neurons `start..` (for parallel chunks).
    fn offset(&self, start: usize) -> impl LifSource;
    /// The same source restricted to neurons `..n`: slicing once before the loop lets the
    /// compiler drop per-neuron bounds checks and vectorise.
    fn prefix(&self, n: usize) -> Self
    where
        Self: Sized;
    /// The coefficients of every neuron, if they are one shared set (the fused pass then
    /// runs its explicitly vectorised form where the target has one).
    fn shared(&self) -> Option<LifCoefficients> {
        None
    }
}

impl LifSource for LifCoefficients {
    #[inline(always)]
    fn at(&self, _i: usize) -> LifCoefficients {
        *self
    }
    fn offset(&self, _start: usize) -> impl LifSource {
        *self
    }
    fn prefix(&self, _n: usize) -> Self {
        *self
    }
    fn shared(&self) -> Option<LifCoefficients> {
        Some(*self)
    }
}

/// Borrowed per-neuron coefficient arrays.
#[derive(Clone, Copy)]
pub struct LifSlices<'a> {
    rest_v: &'a [f32],
    reset_v: &'a [f32],
    thresh_v: &'a [f32],
    refrac_t: &'a [f32],
    decay: &'a [f32],
    resistance: &'a [f32],
}

impl<'a> LifSlices<'a> {
    pub(crate) fn new(a: &'a LifArrays) -> Self {
        Self {
            rest_v: &a.rest_v,
            reset_v: &a.reset_v,
            thresh_v: &a.thresh_v,
            refrac_t: &a.refrac_t,
            decay: &a.decay,
            resistance: &a.resistance,
        }
    }
}

impl LifSource for LifSlices<'_> {
    #[inline(always)]
    fn at(&self, i: usize) -> LifCoefficients {
        LifCoefficients {
            rest_v: self.rest_v[i],
            reset_v: self.reset_v[i],
            thresh_v: self.thresh_v[i],
            refrac_t: self.refrac_t[i],
            decay: self.decay[i],
            resistance: self.resistance[i],
        }
    }
    fn offset(&self, s: usize) -> impl LifSource {
        LifSlices {
            rest_v: &self.rest_v[s..],
            reset_v: &self.reset_v[s..],
            thresh_v: &self.thresh_v[s..],
            refrac_t: &self.refrac_t[s..],
            decay: &self.decay[s..],
            resistance: &self.resistance[s..],
        }
    }
    fn prefix(&self, n: usize) -> Self {
        LifSlices {
            rest_v: &self.rest_v[..n],
            reset_v: &self.reset_v[..n],
            thresh_v: &self.thresh_v[..n],
            refrac_t: &self.refrac_t[..n],
            decay: &self.decay[..n],
            resistance: &self.resistance[..n],
        }
    }
}

/// The precomputed kernel state of a LIF population: coefficients for its Δt and an
/// array of the step's spike flags (one byte per neuron), filled for models that read the
/// flags after the update (plain LIF uses a per-block stack buffer instead).
#[derive(Component, Clone, Debug)]
pub struct LifKernel {
    pub(crate) uniform: Option<LifCoefficients>,
    pub(crate) arrays: LifArrays,
    pub(crate) flags: Vec<u8>,
}

/// The state a LIF step updates: one batch copy (or a chunk) of a population.
pub struct LifState<'a> {
    /// Membrane voltage, mV.
    pub voltage: &'a mut [f32],
    /// Remaining refractory time, ms.
    pub refrac: &'a mut [f32],
}

/// One LIF step over a slice of neurons (one batch copy or a chunk of it): the pure kernel
/// of the module docs. Sets `spiked[i]` to 1 if neuron `i` spiked, else 0.
///
/// All slices must have the same length. The loop is branch-free (selects only) so the
/// compiler vectorises it; spike indices are collected afterwards by [`collect_spikes`].
#[inline]
pub fn lif_step<S: LifSource, R: ResetRule>(
    c: &S,
    reset: &R,
    dt: f32,
    refrac_lock: bool,
    input: &[f32],
    state: LifState<'_>,
    spiked: &mut [u8],
) {
    let LifState { voltage, refrac } = state;
    let n = voltage.len();
    let (input, refrac, spiked) = (&input[..n], &mut refrac[..n], &mut spiked[..n]);
    let (c, reset) = (&c.prefix(n), &reset.prefix(n));
    for i in 0..n {
        let spike = lif_neuron(
            &c.at(i),
            reset,
            i,
            dt,
            refrac_lock,
            input[i],
            &mut voltage[i],
            &mut refrac[i],
        );
        spiked[i] = u8::from(spike);
    }
}

/// Appends `offset + i` for every `flags[i] != 0` to `spikes`, in increasing order. Reads
/// the flags 64 at a time (one OR of eight words, which the compiler vectorises), so a
/// step without spikes costs about one test per 64 neurons; only blocks with a spike are
/// scanned word by word.
#[inline]
pub fn collect_spikes(flags: &[u8], offset: u32, spikes: &mut Vec<u32>) {
    const BLOCK: usize = 64;
    let blocks = flags.chunks_exact(BLOCK);
    let rest = blocks.remainder();
    for (k, block) in blocks.enumerate() {
        let word = |w: usize| u64::from_le_bytes(block[8 * w..8 * w + 8].try_into().expect("8"));
        if (0..BLOCK / 8).fold(0, |acc, w| acc | word(w)) == 0 {
            continue;
        }
        for w in 0..BLOCK / 8 {
            let mut bits = word(w);
            while bits != 0 {
                let byte = bits.trailing_zeros() / 8;
                spikes.push(offset + (k * BLOCK + w * 8) as u32 + byte);
                bits &= !(0xFFu64 << (byte * 8));
            }
        }
    }
    let base = flags.len() - rest.len();
    for (i, &f) in rest.iter().enumerate() {
        if f != 0 {
            spikes.push(offset + (base + i) as u32);
        }
    }
}

/// One neuron's step, branch-free (selects only); returns whether it spiked.
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "one neuron's scalar step, inlined"
)]
fn lif_neuron<R: ResetRule>(
    k: &LifCoefficients,
    reset: &R,
    i: usize,
    dt: f32,
    refrac_lock: bool,
    x: f32,
    v: &mut f32,
    r: &mut f32,
) -> bool {
    let (rem, active) = settle_refractory_elapsed(*r - dt, dt);
    let v_old = *v;
    let integrate = |ri: f32| k.rest_v + ri + (v_old - k.rest_v - ri) * k.decay;
    // Integrating with the input and choosing afterwards, rather than zeroing the input of
    // refractory neurons first, takes the refractory test off the integration's critical
    // path; the values are the same (a refractory neuron integrates R·I' = 0, or holds).
    let integrated = integrate(k.resistance * x);
    let held = if refrac_lock { v_old } else { integrate(0.0) };
    let v_new = if active { integrated } else { held };
    let spike = active & (v_new >= k.thresh_v);
    *v = if spike {
        reset.reset(i, k, v_new)
    } else {
        v_new
    };
    *r = if spike { k.refrac_t } else { rem };
    spike
}

/// What the voltage of a neuron that crossed threshold is reset to.
pub trait ResetRule: Sync {
    /// The voltage after reset of neuron `i` whose post-integration voltage was `v`.
    fn reset(&self, i: usize, k: &LifCoefficients, v: f32) -> f32;
    /// The same rule restricted to neurons `start..` (for parallel chunks).
    fn offset(&self, start: usize) -> impl ResetRule;
    /// The same rule restricted to neurons `..n` (see [`LifSource::prefix`]).
    fn prefix(&self, n: usize) -> Self
    where
        Self: Sized;
}

/// Constant reset `V ← V_reset` (Inferno `voltage_thresholding_constant`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ConstantReset;

impl ResetRule for ConstantReset {
    #[inline(always)]
    fn reset(&self, _i: usize, k: &LifCoefficients, _v: f32) -> f32 {
        k.reset_v
    }
    fn offset(&self, _start: usize) -> impl ResetRule {
        ConstantReset
    }
    fn prefix(&self, _n: usize) -> Self {
        ConstantReset
    }
}

/// Linear reset `V ← V_rest + m·(V − V_rest) − b` with per-neuron `m = mul[i]` and
/// `b = add[i]` (Inferno `voltage_thresholding_linear`, used by GLIF2).
#[derive(Clone, Copy, Debug)]
pub struct LinearReset<'a> {
    /// Multiplicative factor m per neuron.
    pub mul: &'a [f32],
    /// Subtracted offset b per neuron, mV.
    pub add: &'a [f32],
}

impl ResetRule for LinearReset<'_> {
    #[inline(always)]
    fn reset(&self, i: usize, k: &LifCoefficients, v: f32) -> f32 {
        k.rest_v + self.mul[i] * (v - k.rest_v) - self.add[i]
    }
    fn offset(&self, s: usize) -> impl ResetRule {
        LinearReset {
            mul: &self.mul[s..],
            add: &self.add[s..],
        }
    }
    fn prefix(&self, n: usize) -> Self {
        LinearReset {
            mul: &self.mul[..n],
            add: &self.add[..n],
        }
    }
}

/// A coefficient source whose threshold is replaced per neuron (adaptive thresholds:
/// `Θᵢ = Θ∞ᵢ + Σₖ θᵢₖ`, computed before the step).
#[derive(Clone, Copy)]
pub struct WithThreshold<'a, S> {
    /// The membrane coefficients.
    pub inner: S,
    /// The effective threshold of each neuron, mV.
    pub thresh_v: &'a [f32],
}

impl<S: LifSource> LifSource for WithThreshold<'_, S> {
    #[inline(always)]
    fn at(&self, i: usize) -> LifCoefficients {
        LifCoefficients {
            thresh_v: self.thresh_v[i],
            ..self.inner.at(i)
        }
    }
    fn offset(&self, s: usize) -> impl LifSource {
        WithThreshold {
            inner: self.inner.offset(s),
            thresh_v: &self.thresh_v[s..],
        }
    }
    fn prefix(&self, n: usize) -> Self {
        WithThreshold {
            inner: self.inner.prefix(n),
            thresh_v: &self.thresh_v[..n],
        }
    }
}

/// Runs [`lif_step`] over one batch copy and collects its spikes, split over the step's
/// thread team ([`parallel::for_each_part_collecting`]) when the copy is large enough to pay
/// for it. Neurons are independent and each part's spikes are joined in index order, so the
/// result is identical for any thread count; `flags` keeps the step's spike flags for
/// models that read them afterwards (the adaptive threshold).
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel adapter over the state slices"
)]
pub(crate) fn lif_copy<S: LifSource, R: ResetRule>(
    c: &S,
    reset: &R,
    dt: f32,
    lock: bool,
    input: &[f32],
    state: LifState<'_>,
    flags: &mut [u8],
    spikes: &mut Vec<u32>,
) {
    let LifState { voltage, refrac } = state;
    let n = voltage.len();
    let parts = (voltage, refrac, &mut flags[..n], &input[..n]);
    parallel::for_each_part_collecting(
        parts,
        PARALLEL_MIN_NEURONS,
        spikes,
        |s, (voltage, refrac, flags, input), spikes| {
            lif_step(
                &c.offset(s),
                &reset.offset(s),
                dt,
                lock,
                input,
                LifState { voltage, refrac },
                flags,
            );
            collect_spikes(flags, s as u32, spikes);
        },
    );
}

/// Neurons per block of the fused LIF pass: each block's spike masks (4 KiB, a per-thread
/// buffer) are collected right after it is integrated, while they are in L1; with more than
/// [`MAX_FUSED_CURRENTS`] projections the block's input is also summed with their currents
/// just before (still in L1 when integrated).
const AGGREGATE_BLOCK: usize = 1024;

/// The most incoming projection currents [`lif_step_summing`] adds inside the neuron loop;
/// a population with more adds them block by block before integrating (same order, same
/// sums).
const MAX_FUSED_CURRENTS: usize = 4;

/// A fixed number of incoming projection currents (nA, one slice each, in creation order)
/// that [`lif_step_summing`] adds inside the neuron loop. Tuples of slices rather than an
/// array: each slice stays a local whose length the compiler knows, so the loop vectorises
/// without a bounds-checked scalar tail.
trait CurrentSum: Copy {
    /// The same currents restricted to neurons `..n`.
    fn prefix(self, n: usize) -> Self;
    /// `(…((x + c₀ᵢ) + c₁ᵢ) + …)`: the currents of neuron `i` added to `x` in order.
    fn add_to(&self, i: usize, x: f32) -> f32;
    /// `(…(c₀ᵢ + c₁ᵢ) + …)` (0 without currents): [`CurrentSum::add_to`] of a zero input
    /// without the first addition, which only turns a −0 into +0.
    fn total(&self, i: usize) -> f32;
    /// Pointers to the currents, in order, how many there are, and their carried decay
    /// factors if they are decayed in place ([`RawCurrents`]; then the pointers are
    /// writable).
    #[cfg_attr(
        not(all(target_arch = "x86_64", target_feature = "avx2")),
        expect(dead_code, reason = "used by the AVX2 pass only")
    )]
    fn raw(&self) -> RawView;
    /// After neuron `i`'s currents were read: decays them in place where that is carried
    /// ([`RawCurrents`]); nothing otherwise.
    #[inline(always)]
    fn carry(&self, _i: usize) {}
}

impl CurrentSum for () {
    #[inline(always)]
    fn prefix(self, _n: usize) -> Self {}
    #[inline(always)]
    fn add_to(&self, _i: usize, x: f32) -> f32 {
        x
    }
    #[inline(always)]
    fn total(&self, _i: usize) -> f32 {
        0.0
    }
    fn raw(&self) -> RawView {
        ([std::ptr::null(); MAX_FUSED_CURRENTS], 0, None)
    }
}

/// What [`CurrentSum::raw`] returns: the currents' pointers, how many, and their carried
/// decay factors.
type RawView = (
    [*const f32; MAX_FUSED_CURRENTS],
    usize,
    Option<[f32; MAX_FUSED_CURRENTS]>,
);

/// [`CurrentSum`] for tuples of one or more slices.
macro_rules! current_sum_tuple {
    ($c0:ident: $t0:ty $(, $c:ident: $t:ty)*) => {
        impl CurrentSum for ($t0, $($t,)*) {
            #[inline(always)]
            fn prefix(self, n: usize) -> Self {
                let ($c0, $($c,)*) = self;
                (&$c0[..n], $(&$c[..n],)*)
            }
            #[inline(always)]
            fn add_to(&self, i: usize, x: f32) -> f32 {
                let ($c0, $($c,)*) = self;
                x + $c0[i] $(+ $c[i])*
            }
            #[inline(always)]
            fn total(&self, i: usize) -> f32 {
                let ($c0, $($c,)*) = self;
                $c0[i] $(+ $c[i])*
            }
            fn raw(
                &self,
            ) -> ([*const f32; MAX_FUSED_CURRENTS], usize, Option<[f32; MAX_FUSED_CURRENTS]>) {
                let ($c0, $($c,)*) = *self;
                let mut all = [std::ptr::null(); MAX_FUSED_CURRENTS];
                let mut count = 0;
                for c in [$c0, $($c,)*] {
                    all[count] = c.as_ptr();
                    count += 1;
                }
                (all, count, None)
            }
        }
    };
}
current_sum_tuple!(c0: &[f32]);
current_sum_tuple!(c0: &[f32], c1: &[f32]);
current_sum_tuple!(c0: &[f32], c1: &[f32], c2: &[f32]);
current_sum_tuple!(c0: &[f32], c1: &[f32], c2: &[f32], c3: &[f32]);

/// Up to [`MAX_FUSED_CURRENTS`] currents of neurons `..len`, read through pointers and, with
/// `decays`, each decayed in place right after it is read: `Iₖ ← Iₖ·dₖ`, the *next* step's
/// decay of a pulled projection carried into this sweep ("carried decay" in
/// [`lif_system`]). The values read, and so voltages and spikes, are those of the
/// slices; only the arrays are left one multiply ahead.
#[derive(Clone, Copy)]
struct RawCurrents {
    ptrs: [*mut f32; MAX_FUSED_CURRENTS],
    count: usize,
    len: usize,
    decays: Option<[f32; MAX_FUSED_CURRENTS]>,
}

// SAFETY: the arrays behind the pointers belong to one share of one section (a range of
// `parallel::Disjoint` arrays), which alone reads and writes them while it runs.
unsafe impl Send for RawCurrents {}
// SAFETY: as for `Send`.
unsafe impl Sync for RawCurrents {}

impl RawCurrents {
    /// Current `k` of neuron `i`.
    #[inline(always)]
    fn get(&self, k: usize, i: usize) -> f32 {
        assert!(i < self.len);
        // SAFETY: each pointer is valid for `len` elements (see `RawCurrents::new`).
        unsafe { *self.ptrs[k].add(i) }
    }

    /// The currents `parts[..count]`, each `len` long, decayed in place by `decays` if
    /// given.
    ///
    /// # Safety
    /// Each of `parts[..count]` is valid and writable for `len` elements, and nothing else
    /// reads or writes them while the value (or a copy) is in use.
    unsafe fn new(
        parts: &[*mut f32; MAX_FUSED_CURRENTS],
        count: usize,
        len: usize,
        decays: Option<[f32; MAX_FUSED_CURRENTS]>,
    ) -> Self {
        RawCurrents {
            ptrs: *parts,
            count,
            len,
            decays,
        }
    }

    /// The same currents, elements `start..start + len` only.
    ///
    /// # Panics
    /// If that range is not within `..self.len`.
    fn block(self, start: usize, len: usize) -> Self {
        assert!(start + len <= self.len);
        // Every slot, used or not (never read past `count`): a loop over the first `count`
        // compiled to a masked store, which the next read of the array waited for
        // (store-to-load forwarding cannot take a masked store).
        let ptrs = self.ptrs.map(|p| p.wrapping_add(start));
        RawCurrents { ptrs, len, ..self }
    }
}

impl CurrentSum for RawCurrents {
    #[inline(always)]
    fn prefix(self, n: usize) -> Self {
        assert!(n <= self.len);
        RawCurrents { len: n, ..self }
    }
    #[inline(always)]
    fn add_to(&self, i: usize, x: f32) -> f32 {
        (0..self.count).fold(x, |x, k| x + self.get(k, i))
    }
    #[inline(always)]
    fn total(&self, i: usize) -> f32 {
        match self.count {
            0 => 0.0,
            n => (1..n).fold(self.get(0, i), |x, k| x + self.get(k, i)),
        }
    }
    fn raw(&self) -> RawView {
        (
            self.ptrs.map(<*mut f32>::cast_const),
            self.count,
            self.decays,
        )
    }
    #[inline(always)]
    fn carry(&self, i: usize) {
        if let Some(decays) = self.decays {
            assert!(i < self.len);
            for (p, d) in self.ptrs[..self.count].iter().zip(decays) {
                // SAFETY: valid and writable for `len` elements (see `RawCurrents::new`).
                unsafe { *p.add(i) *= d };
            }
        }
    }
}

/// Where a fused LIF pass finds the input its projection currents are added to, and whether
/// it writes the total back ([`ember_engine::input`]):
///
/// - `&mut [f32]`: the population's `SynapticInput`, read, and the total stored (someone
///   may look at it after the pass);
/// - `&[f32]`: read (something wrote it since the last pass), the total not stored;
/// - `()`: nothing wrote it since it was last cleared, so it holds zeros: neither read nor
///   stored.
///
/// The total is `(…((base + c₀) + c₁) + …)` in every case, so all three give bit-identical
/// voltages and spikes. Not storing matters as much as not reading: a stored total marks the
/// array changed, so the next step would have to clear it and read it again.
trait InputTotal: Split {
    /// The same input restricted to neurons `..n`.
    fn prefix(self, n: usize) -> Self;
    /// Neuron `i`'s input before the projection currents are added, nA.
    fn base(&self, i: usize) -> f32;
    /// Neuron `i`'s total input: `currents` added to [`InputTotal::base`] in order, nA.
    #[inline(always)]
    fn sum(&self, i: usize, currents: &impl CurrentSum) -> f32 {
        currents.add_to(i, self.base(i))
    }
    /// Records neuron `i`'s total input `x` (nA) where it is kept.
    fn keep(&mut self, i: usize, x: f32);
    /// The same mode for the explicitly vectorised pass.
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    fn lanes(&mut self) -> super::lif_lanes::Input<'_>;
    /// The input array itself, where the total is kept (the blockwise sum adds into it).
    fn kept(&mut self) -> Option<&mut [f32]> {
        None
    }
}

impl InputTotal for &mut [f32] {
    #[inline(always)]
    fn prefix(self, n: usize) -> Self {
        &mut self[..n]
    }
    #[inline(always)]
    fn base(&self, i: usize) -> f32 {
        self[i]
    }
    #[inline(always)]
    fn keep(&mut self, i: usize, x: f32) {
        self[i] = x;
    }
    fn kept(&mut self) -> Option<&mut [f32]> {
        Some(self)
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    fn lanes(&mut self) -> super::lif_lanes::Input<'_> {
        super::lif_lanes::Input::Keep(self)
    }
}

impl InputTotal for &[f32] {
    #[inline(always)]
    fn prefix(self, n: usize) -> Self {
        &self[..n]
    }
    #[inline(always)]
    fn base(&self, i: usize) -> f32 {
        self[i]
    }
    #[inline(always)]
    fn keep(&mut self, _i: usize, _x: f32) {}
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    fn lanes(&mut self) -> super::lif_lanes::Input<'_> {
        super::lif_lanes::Input::Read(self)
    }
}

impl InputTotal for () {
    #[inline(always)]
    fn prefix(self, _n: usize) -> Self {}
    #[inline(always)]
    fn base(&self, _i: usize) -> f32 {
        0.0
    }
    /// Without the `0 + c₀` of the other inputs: one addition less on the neuron loop's
    /// longest chain. The total differs only where every current is −0 (−0 instead of
    /// +0, which no comparison and no voltage tells apart) and is never stored.
    #[inline(always)]
    fn sum(&self, i: usize, currents: &impl CurrentSum) -> f32 {
        currents.total(i)
    }
    #[inline(always)]
    fn keep(&mut self, _i: usize, _x: f32) {}
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    fn lanes(&mut self) -> super::lif_lanes::Input<'_> {
        super::lif_lanes::Input::Zero
    }
}

/// [`lif_step`] with the `Sum` aggregation inside the neuron loop: neuron `i` integrates
/// `x = (…((inputᵢ + c₀ᵢ) + c₁ᵢ) + …)` (the incoming projection currents in creation order,
/// nA, the order of [`ember_engine::aggregate::add_incoming`]); `inputᵢ` is the population's
/// input, or zero, and keeps `x` where someone may look at it ([`InputTotal`]). One sweep
/// instead of one per projection plus one.
///
/// The portable loop stores in `spiked[i]` a lane mask (`u32::MAX` if neuron `i` spiked,
/// else 0) rather than a 0/1 byte: the comparison's own mask is stored as is, where bytes
/// cost a pack and a shift per vector. With one shared set of coefficients on an AVX2
/// target the explicitly vectorised pass (`lif_lanes`, bit-identical) runs instead and
/// appends the block's spikes (`offset + i`) to `spikes` itself. The result says which, or
/// that no neuron spiked (so a block without spikes skips the collection). `refrac_lock`
/// selects one of two monomorphised loops, so the inner loop carries no test of it.
#[expect(
    clippy::too_many_arguments,
    reason = "the pass's coefficients, input, currents, state and both spike outputs"
)]
#[inline(always)]
fn lif_step_summing<S: LifSource>(
    c: &S,
    dt: f32,
    refrac_lock: bool,
    input: impl InputTotal,
    currents: impl CurrentSum,
    state: LifState<'_>,
    spiked: &mut [u32],
    spikes: (&mut Vec<u32>, u32),
) -> BlockSpikes {
    if refrac_lock {
        lif_summing_loop::<S, true>(c, dt, input, currents, state, spiked, spikes)
    } else {
        lif_summing_loop::<S, false>(c, dt, input, currents, state, spiked, spikes)
    }
}

/// The loop of [`lif_step_summing`] for one value of `refrac_lock`.
#[inline(always)]
fn lif_summing_loop<S: LifSource, const LOCK: bool>(
    c: &S,
    dt: f32,
    input: impl InputTotal,
    currents: impl CurrentSum,
    state: LifState<'_>,
    spiked: &mut [u32],
    #[cfg_attr(
        not(all(target_arch = "x86_64", target_feature = "avx2")),
        expect(unused_variables, reason = "appended to by the AVX2 pass only")
    )]
    (spikes, offset): (&mut Vec<u32>, u32),
) -> BlockSpikes {
    let LifState { voltage, refrac } = state;
    let n = voltage.len();
    let (mut input, refrac) = (input.prefix(n), &mut refrac[..n]);
    let currents = currents.prefix(n);
    #[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
    if let Some(k) = c.shared() {
        let (pointers, count, carry) = currents.raw();
        let lanes = input.lanes();
        let before = spikes.len();
        // SAFETY: every current holds `n` elements (`prefix(n)` above), writable with
        // `carry` and used by nothing else during the call (`RawCurrents`).
        let done = unsafe {
            super::lif_lanes::lif_pass::<LOCK>(
                &k,
                dt,
                lanes,
                (pointers, count),
                carry,
                voltage,
                refrac,
                (&mut *spikes, offset),
            )
        };
        // The last `n − done` (< 32) neurons: the portable kernel.
        for i in done..n {
            let x = input.sum(i, &currents);
            currents.carry(i);
            input.keep(i, x);
            let (v, r) = (&mut voltage[i], &mut refrac[i]);
            if lif_neuron(&k, &ConstantReset, i, dt, LOCK, x, v, r) {
                spikes.push(offset + i as u32);
            }
        }
        return if spikes.len() > before {
            BlockSpikes::Appended
        } else {
            BlockSpikes::None
        };
    }
    let (c, spiked) = (&c.prefix(n), &mut spiked[..n]);
    let mut any = 0u32;
    for i in 0..n {
        let x = input.sum(i, &currents);
        currents.carry(i);
        input.keep(i, x);
        let spike = lif_neuron(
            &c.at(i),
            &ConstantReset,
            i,
            dt,
            LOCK,
            x,
            &mut voltage[i],
            &mut refrac[i],
        );
        let mask = u32::from(spike).wrapping_neg();
        spiked[i] = mask;
        any |= mask;
    }
    if any != 0 {
        BlockSpikes::Masks
    } else {
        BlockSpikes::None
    }
}

/// How a block of the fused LIF pass left its spikes in the mask buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BlockSpikes {
    /// No neuron spiked.
    None,
    /// One lane mask per neuron ([`collect_spike_masks`]).
    Masks,
    /// The pass appended its spikes to the list itself (`lif_lanes`).
    #[cfg_attr(
        not(all(target_arch = "x86_64", target_feature = "avx2")),
        expect(dead_code, reason = "produced by the AVX2 pass only")
    )]
    Appended,
}

/// Appends `offset + i` for every `masks[i] != 0` to `spikes`, in increasing order (the
/// lane masks of [`lif_step_summing`]). Tests 16 masks at a time with one vectorised OR, so
/// a block without spikes costs about one test per 16 neurons.
#[inline]
fn collect_spike_masks(masks: &[u32], offset: u32, spikes: &mut Vec<u32>) {
    const BLOCK: usize = 16;
    let blocks = masks.chunks_exact(BLOCK);
    let rest = blocks.remainder();
    for (k, block) in blocks.enumerate() {
        if block.iter().fold(0, |acc, &m| acc | m) == 0 {
            continue;
        }
        for (j, &m) in block.iter().enumerate() {
            if m != 0 {
                spikes.push(offset + (k * BLOCK + j) as u32);
            }
        }
    }
    let base = masks.len() - rest.len();
    for (j, &m) in rest.iter().enumerate() {
        if m != 0 {
            spikes.push(offset + (base + j) as u32);
        }
    }
}

/// The incoming projection currents of one batch copy that a fused LIF pass adds (each
/// slice covers the copy's neurons, in creation order).
#[derive(Clone, Copy)]
enum Incoming<'a> {
    /// At most [`MAX_FUSED_CURRENTS`]: added inside the neuron loop.
    Fused([&'a [f32]; MAX_FUSED_CURRENTS], usize),
    /// The pulled currents of one share's part, from neuron `usize` on
    /// ([`ember_engine::pull`]), which the share has just delivered into.
    Pulled(RawCurrents, usize),
    /// More: `add(i, block)` adds them to the block of neurons `i..` before it is
    /// integrated (called once per block, not per neuron).
    Blockwise(&'a (dyn Fn(usize, &mut [f32]) + Sync)),
}

/// A value that starts on a cache line, so the vector stores of a kernel into it never
/// straddle two lines (see `ember_engine::alloc`).
#[repr(C, align(64))]
struct LineAligned<T>(T);

thread_local! {
    /// The spike masks of the block being integrated, one buffer per thread, reused so
    /// that no step zeroes or allocates one (every mask is written before it is read).
    static BLOCK_MASKS: RefCell<LineAligned<[u32; AGGREGATE_BLOCK]>> =
        const { RefCell::new(LineAligned([0; AGGREGATE_BLOCK])) };
}

/// [`lif_copy`] with the population's `Sum` aggregation fused in
/// ([`ember_engine::FusedAggregation`]): each part adds the incoming currents of its
/// neurons to its input ([`InputTotal`]: kept as the total where someone may look at it)
/// in the same sweep that integrates them ([`lif_step_summing`]), then collects its spikes
/// from masks that never leave L1 (nor the thread).
///
/// # Panics
/// With [`Incoming::Blockwise`] currents and an input that does not keep the total.
fn lif_copy_aggregating<S: LifSource, I: InputTotal>(
    c: &S,
    dt: f32,
    lock: bool,
    input: I,
    incoming: Incoming<'_>,
    state: LifState<'_>,
    spikes: &mut Vec<u32>,
) {
    let LifState { voltage, refrac } = state;
    let n = voltage.len();
    let parts = (voltage, refrac, input.prefix(n));
    parallel::for_each_part_collecting(
        parts,
        PARALLEL_MIN_NEURONS,
        spikes,
        |s, (voltage, refrac, input), spikes| {
            lif_part_aggregating(c, dt, lock, s, (voltage, refrac, input), incoming, spikes);
        },
    );
}

/// One part of [`lif_copy_aggregating`]: neurons `s..s + voltage.len()` of the copy, whose
/// spikes are appended to `spikes`.
#[inline(always)]
fn lif_part_aggregating<S: LifSource, I: InputTotal>(
    c: &S,
    dt: f32,
    lock: bool,
    s: usize,
    (voltage, refrac, input): (&mut [f32], &mut [f32], I),
    incoming: Incoming<'_>,
    spikes: &mut Vec<u32>,
) {
    BLOCK_MASKS.with_borrow_mut(|masks| {
        let mut rest = (voltage, refrac, input);
        let mut at = s;
        // The explicitly vectorised pass appends its spikes itself and needs no mask
        // buffer: one block for the whole part (less set-up per neuron).
        let appends = cfg!(all(target_arch = "x86_64", target_feature = "avx2"))
            && c.shared().is_some()
            && !matches!(incoming, Incoming::Blockwise(..));
        let block = if appends { usize::MAX } else { AGGREGATE_BLOCK };
        while !rest.is_empty() {
            let len = block.min(rest.len());
            let (block, tail) = rest.split_at(len);
            let (voltage, refrac, mut input) = block;
            let state = LifState { voltage, refrac };
            let flags = &mut masks.0[..len.min(AGGREGATE_BLOCK)];
            let c = &c.offset(at);
            let (slices, count) = match incoming {
                Incoming::Fused(slices, count) => (slices, count),
                Incoming::Pulled(..) | Incoming::Blockwise(..) => {
                    ([&[][..]; MAX_FUSED_CURRENTS], 0)
                }
            };
            let cur = |k: usize| &slices[k][at..at + len];
            let out = (&mut *spikes, at as u32);
            let spiked = match (incoming, count) {
                (Incoming::Pulled(raw, from), _) => {
                    let raw = raw.block(at - from, len);
                    lif_step_summing(c, dt, lock, input, raw, state, flags, out)
                }
                (Incoming::Blockwise(add), _) => {
                    let kept = input.kept().expect("blockwise sums keep the input");
                    add(at, kept);
                    lif_step_summing(c, dt, lock, input, (), state, flags, out)
                }
                (_, 0) => lif_step_summing(c, dt, lock, input, (), state, flags, out),
                (_, 1) => lif_step_summing(c, dt, lock, input, (cur(0),), state, flags, out),
                (_, 2) => {
                    let currents = (cur(0), cur(1));
                    lif_step_summing(c, dt, lock, input, currents, state, flags, out)
                }
                (_, 3) => {
                    let currents = (cur(0), cur(1), cur(2));
                    lif_step_summing(c, dt, lock, input, currents, state, flags, out)
                }
                _ => {
                    let currents = (cur(0), cur(1), cur(2), cur(3));
                    lif_step_summing(c, dt, lock, input, currents, state, flags, out)
                }
            };
            match spiked {
                BlockSpikes::None | BlockSpikes::Appended => {}
                BlockSpikes::Masks => collect_spike_masks(flags, at as u32, spikes),
            }
            at += len;
            rest = tail;
        }
    });
}

/// The LIF system ([`Phase::Integrate`]): fused integrate, threshold and reset, with the
/// `Sum` aggregation of the incoming currents fused in as well
/// ([`ember_engine::FusedAggregation`]). Populations whose currents are fused in the
/// neuron loop run in one parallel section (`LifBatch`). Their incoming projections may be
/// pulled into that section (decayed and delivered there, [`Pulled`]) or have only their
/// decay carried into it ([`CarriedDecay`]): see [`ember_engine::pull`].
#[expect(
    clippy::too_many_arguments,
    reason = "a system's parameters: the pass's state between steps is two locals"
)]
pub fn lif_system(
    clock: Res<Clock>,
    visibility: Option<Res<InputVisibility>>,
    mut q: Query<LifPopulation<'_>>,
    currents: Query<&ProjectionCurrent, (Without<Pulled>, Without<CarriedDecay>)>,
    mut carried: Query<CarriedProjection<'_>, Without<Pulled>>,
    pulled: Query<PulledProjection<'_>, With<Pulled>>,
    mut previous: Local<PreviousSpikes>,
    mut pushes: Local<Pushes>,
    span: Option<Res<RunSpan>>,
) {
    let dt = clock.dt();
    // Pulled projections deliver the spikes of the previous step, which this pass is about
    // to replace: keep them aside first (a swap of buffers per population, no copy).
    let pulling = !pulled.is_empty();
    if pulling {
        previous.keep(&mut q);
    }
    // Carried decay: the sweep that reads the pulled currents also applies the next step's
    // decay to them, unless this is the last step of the run (between runs the arrays hold
    // the step's currents, as without pulling).
    let decayed = previous.decayed;
    let continues = span.is_some_and(|s| s.continues_after(clock.step));
    let carry = pulling && continues;
    // Projections whose decay alone this pass carries ([`CarriedDecay`]: on one thread,
    // or fed from outside the pass), found by one walk of their query and marked ahead of
    // the next step's delivery as they are ([`CarriedDecay::ahead`]): the engine marks
    // only projections into a one-copy population of this pass that sums at most
    // `MAX_FUSED_CURRENTS` currents in its sweep, which carries their decay exactly when
    // the run continues.
    let mut carried_walk: arrayvec::ArrayVec<(Entity, *mut f32, f32), WALKED_PULLED> =
        arrayvec::ArrayVec::new();
    let mut carried_complete = true;
    for (p, mut current, decay, mut mark) in &mut carried {
        if carried_walk.is_full() {
            carried_complete = false;
            break;
        }
        mark.ahead = continues;
        carried_walk.push((p, current.0.as_mut_ptr(), decay.decay));
    }
    previous.decayed = carry;
    let previous = &*previous;
    // The pulled projections, found by one walk of their query: a lookup each would cost
    // ~20 ns, as much as updating ~50 neurons. A network with more than fit here looks
    // the rest up.
    let mut walked: arrayvec::ArrayVec<(Entity, PulledInput<'_>), WALKED_PULLED> =
        arrayvec::ArrayVec::new();
    let mut complete = true;
    if pulling {
        // SAFETY: each projection's current is borrowed once per run of this system:
        // here, or by the lookup in `take_pulled` if the walk stopped before it.
        for item in unsafe { pulled.iter_unsafe() } {
            if walked.is_full() {
                complete = false;
                break;
            }
            walked.push((item.0, PulledInput::new(item, previous)));
        }
    }
    let mut take_pulled = |p: Entity| -> Option<PulledInput<'_>> {
        if let Some(i) = walked.iter().position(|(e, _)| *e == p) {
            return Some(walked.swap_remove(i).1);
        }
        // SAFETY: not walked, so not borrowed yet; taken at most once (a projection has
        // one post population, which comes once in `q`).
        let item = (!complete).then(|| unsafe { pulled.get_unchecked(p) }.ok())??;
        Some(PulledInput::new(item, previous))
    };
    let pushes = &mut *pushes;
    let parity = (clock.step % 2) as usize;
    let mut batch = LifBatch::new(dt);
    for (id, pop, kernel, lock, input, v, r, spikes, (agg, incoming)) in &mut q {
        let n = pop.size as usize;
        // Every LIF population carries `FusedAggregation`: with the `Sum` rule its
        // currents are added here (other rules were aggregated in `Phase::Aggregate`).
        let sources = incoming
            .filter(|_| agg.fused())
            .map_or(&[][..], IncomingProjections::entities);
        // The engine pulls all of a population's incoming projections or none.
        let mut pulled_in = arrayvec::ArrayVec::new();
        if pulling {
            for (k, &p) in sources.iter().enumerate() {
                match take_pulled(p) {
                    Some(mut input) => {
                        // SAFETY: no section is running; the whole current is this
                        // projection's.
                        let current = unsafe { input.out.range(0..input.out.len()) };
                        input.arrival = pushes.arrival(input.projection, n, current);
                        pulled_in.push(input);
                    }
                    None if k == 0 => break,
                    None => unreachable!("the engine pulls all incoming projections or none"),
                }
            }
        }
        let pulls = !pulled_in.is_empty();
        // Or projections whose decay this pass carries: their writable arrays.
        let carried_in = if pulls || carried_walk.is_empty() {
            None
        } else {
            walked_carried(&carried_walk, carried_complete, sources).or_else(|| {
                (!carried_complete)
                    .then(|| carried_arrays(&mut carried, sources, continues))
                    .flatten()
            })
        };
        // Otherwise usually 1 to `MAX_FUSED_CURRENTS` projections that all have a current:
        // their arrays with one lookup each (an ECS lookup, ~12 ns, costs as much as
        // updating ~40 neurons).
        let held = if pulls || carried_in.is_some() {
            None
        } else {
            held_arrays(&currents, sources)
        };
        let count = match (held, carried_in) {
            (Some((_, count)), _) | (None, Some((_, _, count))) => count,
            (None, None) if pulls => sources.len(),
            (None, None) => sources.iter().filter(|&&p| currents.contains(p)).count(),
        };
        // The input array is read only if something wrote it since this system last ran
        // (otherwise it holds the zeros of the last clear) and written only if someone may
        // look at the total afterwards or the currents are summed into it block by block
        // (`ember_engine::input`). Reading through `&` leaves its change tick alone.
        let keep =
            visibility.as_ref().is_none_or(|v| v.must_keep(id)) || count > MAX_FUSED_CURRENTS;
        let read = keep || input.is_changed();
        let lock = lock.0;
        let fused_of = |range: std::ops::Range<usize>| {
            let mut fused = [&[][..]; MAX_FUSED_CURRENTS];
            match held {
                Some((arrays, _)) => {
                    for (slot, c) in fused.iter_mut().zip(&arrays[..count]) {
                        *slot = &c[range.clone()];
                    }
                }
                None => {
                    let slices = sources.iter().filter_map(|&p| currents.get(p).ok());
                    for (slot, c) in fused.iter_mut().zip(slices) {
                        *slot = &c.0[range.clone()];
                    }
                }
            }
            fused
        };
        if pop.batch == 1 && count <= MAX_FUSED_CURRENTS {
            // One copy, currents fused in the neuron loop: joins the batch.
            let input = if keep {
                JobInput::Keep(parallel::Disjoint::new(&mut input.into_inner().0[..n]))
            } else if read {
                JobInput::Read(&Ref::from(input).into_inner().0[..n])
            } else {
                JobInput::Zero
            };
            if batch.is_full() {
                batch.run(pushes, parity);
            }
            let job = LifJob {
                id,
                kernel,
                lock,
                input,
                incoming: match carried_in {
                    _ if pulls => Incoming::Fused([&[][..]; MAX_FUSED_CURRENTS], 0),
                    // SAFETY: each array holds the post population's `n` currents and is
                    // used by nothing else until the batch has run (`carried` is not
                    // looked at again for this population; `currents` excludes it).
                    Some((ptrs, decays, count)) => Incoming::Pulled(
                        unsafe { RawCurrents::new(&ptrs, count, n, continues.then_some(decays)) },
                        0,
                    ),
                    None => Incoming::Fused(fused_of(0..n), count),
                },
                pulled: 0..0,
                decayed,
                carry,
                voltage: parallel::Disjoint::new(&mut v.into_inner().0[..n]),
                refrac: parallel::Disjoint::new(&mut r.into_inner().0[..n]),
                cut: 1,
            };
            batch.push(job, spikes.into_inner().batch_mut(0), &mut pulled_in);
            continue;
        }
        // Pulled or carried only into one copy with at most `MAX_FUSED_CURRENTS`
        // (`PullsDelivery`).
        assert!(
            !pulls && carried_in.is_none(),
            "a pulled or carried population outside the batched pass"
        );
        let (mut input, mut v, mut r, mut spikes) = (input, v, r, spikes);
        for b in 0..pop.batch as usize {
            let range = b * n..(b + 1) * n;
            let add =
                |i: usize, block: &mut [f32]| add_incoming(block, b * n + i, incoming, &currents);
            let incoming = if count > MAX_FUSED_CURRENTS {
                Incoming::Blockwise(&add)
            } else {
                Incoming::Fused(fused_of(range.clone()), count)
            };
            let state = LifState {
                voltage: &mut v.0[range.clone()],
                refrac: &mut r.0[range.clone()],
            };
            let out = spikes.batch_mut(b);
            if keep {
                let input = &mut input.0[range];
                lif_copy_with(kernel, dt, lock, input, incoming, state, out);
            } else if read {
                let input = &input.0[range];
                lif_copy_with(kernel, dt, lock, input, incoming, state, out);
            } else {
                lif_copy_with(kernel, dt, lock, (), incoming, state, out);
            }
        }
    }
    batch.run(pushes, parity);
}

/// How many population copies a [`LifBatch`] holds.
const BATCH_POPULATIONS: usize = parallel::MAX_COLLECTED;

/// The input of a [`LifJob`] (see [`InputTotal`]).
enum JobInput<'a> {
    /// The total is kept in the input array.
    Keep(parallel::Disjoint<'a, f32>),
    /// The input array is read, not written.
    Read(&'a [f32]),
    /// The input array holds zeros and is left alone.
    Zero,
}

/// What `lif_system` reads and writes of each population.
type LifPopulation<'a> = (
    Entity,
    &'a Population,
    &'a LifKernel,
    &'a RefracLock,
    &'a mut SynapticInput,
    &'a mut Voltage,
    &'a mut Refractory,
    &'a mut Spikes,
    (&'a Aggregation, Option<&'a IncomingProjections>),
);

/// What `lif_system` reads and writes of a projection pulled into its pass.
type PulledProjection<'a> = (
    Entity,
    &'a ProjectsFrom,
    &'a Connectivity,
    &'a Weights,
    &'a DecayingCurrent,
    &'a mut ProjectionCurrent,
);

/// The LIF populations' spike lists of the previous step (one batch copy each), kept while
/// the pass rebuilds the lists: the spikes its pulled projections deliver
/// ([`ember_engine::pull`]). Slots follow the query's order and keep their buffers, so
/// the step loop does not allocate.
#[derive(Default)]
pub struct PreviousSpikes {
    kept: Vec<(Entity, Vec<u32>)>,
    /// The last run of the pass carried the pulled currents' decay into its sweep.
    decayed: bool,
}

impl PreviousSpikes {
    /// Swaps every one-copy population's spike list into its slot.
    fn keep(&mut self, q: &mut Query<LifPopulation<'_>>) {
        let mut slot = 0;
        for (id, pop, _, _, _, _, _, mut spikes, _) in q.iter_mut() {
            if pop.batch != 1 {
                continue;
            }
            if self.kept.len() == slot {
                self.kept.push((id, Vec::new()));
            }
            let (entity, kept) = &mut self.kept[slot];
            if *entity != id || kept.capacity() < pop.size as usize {
                *entity = id;
                kept.reserve(pop.size as usize);
            }
            spikes.swap_batch(0, kept);
            slot += 1;
        }
        self.kept.truncate(slot);
    }

    /// The kept spikes of population `pre`.
    ///
    /// # Panics
    /// If `pre` is not a one-copy LIF population (the engine pulls only those).
    fn of(&self, pre: Entity) -> &[u32] {
        match self.kept.iter().find(|(e, _)| *e == pre) {
            Some((_, kept)) => kept,
            None => unreachable!("a pulled projection from outside the LIF pass"),
        }
    }
}

/// A projection pulled into a [`LifJob`]: each share decays and delivers into its part of
/// the current right before integrating those neurons.
struct PulledInput<'a> {
    /// The projection.
    projection: Entity,
    /// Its pre population.
    pre: Entity,
    /// How the previous step's spikes arrive in this step.
    arrival: Arrival,
    conn: &'a Connectivity,
    weights: &'a Weights,
    /// The pre population's spikes of the previous step.
    spikes: &'a [u32],
    current: DecayingCurrent,
    out: parallel::Disjoint<'a, f32>,
}

/// How many pulled projections `lif_system` finds by walking their query (the rest, by
/// lookup): a full [`LifBatch`] of populations with the most currents each.
const WALKED_PULLED: usize = BATCH_POPULATIONS * MAX_FUSED_CURRENTS;

impl<'a> PulledInput<'a> {
    /// The input of one pulled projection (`item` from `lif_system`'s query), with the
    /// previous spikes of its pre population.
    fn new(
        item: (
            Entity,
            &'a ProjectsFrom,
            &'a Connectivity,
            &'a Weights,
            &'a DecayingCurrent,
            Mut<'a, ProjectionCurrent>,
        ),
        previous: &'a PreviousSpikes,
    ) -> Self {
        let (projection, from, conn, weights, current, out) = item;
        PulledInput {
            projection,
            pre: from.0,
            arrival: Arrival::Pull,
            conn,
            weights,
            spikes: previous.of(from.0),
            current: *current,
            out: parallel::Disjoint::new(&mut out.into_inner().0[..]),
        }
    }
}

/// One population copy's LIF pass (with fused currents) in a [`LifBatch`].
struct LifJob<'a> {
    /// The population.
    id: Entity,
    kernel: &'a LifKernel,
    lock: bool,
    input: JobInput<'a>,
    incoming: Incoming<'a>,
    /// Its projections pulled into the pass (then `incoming` is empty): a range of the
    /// batch's pulled inputs (kept there, so that a job stays small to move).
    pulled: std::ops::Range<usize>,
    /// The pulled currents were decayed by the last step's sweep (carried decay).
    decayed: bool,
    /// This step's sweep decays the pulled currents for the next step.
    carry: bool,
    voltage: parallel::Disjoint<'a, f32>,
    refrac: parallel::Disjoint<'a, f32>,
    /// Parts it is cut into (1: whole, to share 0).
    cut: usize,
}

/// The LIF passes of up to [`BATCH_POPULATIONS`] populations in **one** parallel section
/// ([`parallel::for_each_share_collecting`]), where one [`lif_copy_with`] per population
/// makes one section each (CUBA's two populations made two per step; a section costs the
/// team a hand-off, a wait for its slowest part and the member's first touches of what the
/// driver wrote, ≈ 0.5–1 µs on the project's VM). A population is cut as
/// [`lif_copy_aggregating`] cuts it (at [`PARALLEL_MIN_NEURONS`], with the same
/// [`parallel::share_range`] cut as its incoming projections' synapse pass), and one too
/// small to cut stays whole with share 0, as its projections' arrays do
/// ([`ember_engine::DeliveryBatch`]); a batch with nothing to cut runs without a section.
/// Each neuron gets the same operations as in [`lif_copy_aggregating`] and each spike list
/// comes out in neuron order: results are bit-identical, whatever the thread count.
struct LifBatch<'a> {
    dt: f32,
    jobs: arrayvec::ArrayVec<LifJob<'a>, BATCH_POPULATIONS>,
    /// The jobs' pulled projections ([`LifJob::pulled`]).
    pulled: arrayvec::ArrayVec<PulledInput<'a>, WALKED_PULLED>,
    /// Each job's spike list (cleared), filled by the run.
    spikes: arrayvec::ArrayVec<&'a mut Vec<u32>, BATCH_POPULATIONS>,
}

impl<'a> LifBatch<'a> {
    #[inline(always)]
    fn new(dt: f32) -> Self {
        LifBatch {
            dt,
            jobs: arrayvec::ArrayVec::new_const(),
            pulled: arrayvec::ArrayVec::new_const(),
            spikes: arrayvec::ArrayVec::new_const(),
        }
    }

    fn is_full(&self) -> bool {
        self.jobs.is_full()
    }

    fn push(
        &mut self,
        mut job: LifJob<'a>,
        spikes: &'a mut Vec<u32>,
        pulled: &mut arrayvec::ArrayVec<PulledInput<'a>, MAX_FUSED_CURRENTS>,
    ) {
        assert!(!self.is_full(), "a full LIF batch: run it first");
        let start = self.pulled.len();
        self.pulled.extend(pulled.drain(..));
        job.pulled = start..self.pulled.len();
        self.jobs.push(job);
        self.spikes.push(spikes);
    }

    /// The pulled inputs this step pushes (see `lif_push`), into `out` as `(input, pre
    /// job, slot)`: those of a job that carries its decay, with a scalar weight, sorted
    /// sparse rows and the pre population in this batch. `writers`: the shares of this
    /// step's section. (Filled in place: returning the array would copy all of it.)
    fn prepare_pushes(
        &self,
        pushes: &mut Pushes,
        parity: usize,
        writers: usize,
        out: &mut arrayvec::ArrayVec<(usize, usize, usize), WALKED_PULLED>,
    ) {
        for job in self.jobs.iter().filter(|j| j.carry) {
            for input in job.pulled.clone() {
                let p = &self.pulled[input];
                let Param::Scalar(w) = p.weights.0 else {
                    continue;
                };
                let pre = self.jobs.iter().position(|j| j.id == p.pre);
                let Some(pre) = pre.filter(|_| ember_engine::rows_pushable(p.conn)) else {
                    continue;
                };
                let (n, add) = (job.voltage.len(), p.current.scale * w);
                let slot = pushes.prepare(p.projection, parity, writers, n, job.cut, add);
                out.push((input, pre, slot));
            }
        }
    }

    /// Runs the queued passes and empties the batch (`parity`: the step's, for the
    /// pushes' outboxes).
    fn run(&mut self, pushes: &mut Pushes, parity: usize) {
        if self.jobs.is_empty() {
            return;
        }
        let mut any_cut = false;
        if parallel::parts(usize::MAX, 0) > 1 {
            for job in &mut self.jobs {
                job.cut = cut_of(job.voltage.len());
                any_cut |= job.cut > 1;
            }
        }
        let writers = if any_cut {
            parallel::parts(usize::MAX, 0)
        } else {
            1
        };
        let mut pushed = arrayvec::ArrayVec::new();
        if !self.pulled.is_empty() {
            self.prepare_pushes(pushes, parity, writers, &mut pushed);
        }
        let (jobs, pulled, dt) = (&self.jobs[..], &self.pulled[..], self.dt);
        let pushes = &*pushes;
        let delivery = PushDelivery {
            pushed: &pushed,
            pulled,
            pushes,
            parity,
        };
        if any_cut {
            parallel::for_each_share_collecting_then(
                &mut self.spikes,
                |m, _, j, spikes| jobs[j].run_share(dt, m, spikes, pulled, pushes),
                &delivery,
            );
        } else {
            // Nothing to cut: no section, every population whole on this thread.
            for (job, out) in jobs.iter().zip(&mut self.spikes) {
                job.run_share(dt, 0, out, pulled, pushes);
            }
            if !pushed.is_empty() {
                let lists: arrayvec::ArrayVec<&[u32], BATCH_POPULATIONS> =
                    self.spikes.iter().map(|s| &s[..]).collect();
                delivery.begin(0);
                delivery.run(0, 0, &lists, 0..delivery.units(&lists));
            }
        }
        self.jobs.clear();
        self.spikes.clear();
        self.pulled.clear();
    }
}

/// The pushed deliveries of a [`LifBatch`]'s section (see `lif_push`), as work that
/// follows the neuron pass: one unit per spike to deliver through one pushed projection,
/// in the order of `pushed`, then of the spike list. Any share may deliver any unit (every
/// synapse adds the same term): the spikes a share found are its own to start with, and a
/// share that has finished early helps with another's.
struct PushDelivery<'s, 'a> {
    /// `(pulled input, pre job, push slot)` per pushed projection.
    pushed: &'s [(usize, usize, usize)],
    pulled: &'s [PulledInput<'a>],
    pushes: &'s Pushes,
    parity: usize,
}

impl FollowUp for PushDelivery<'_, '_> {
    fn units(&self, lists: &[&[u32]]) -> usize {
        self.pushed
            .iter()
            .map(|&(_, pre, _)| lists[pre].len())
            .sum()
    }

    fn begin(&self, m: usize) {
        for &(_, _, slot) in self.pushed {
            // SAFETY: share `m` in the section of the push (or alone without one).
            unsafe { self.pushes.begin(slot, self.parity, m) };
        }
    }

    fn run(&self, m: usize, _owner: usize, lists: &[&[u32]], units: std::ops::Range<usize>) {
        let mut first = 0;
        for &(input, pre, slot) in self.pushed {
            let spikes = lists[pre];
            let (lo, hi) = (first, first + spikes.len());
            first = hi;
            let (a, b) = (units.start.max(lo), units.end.min(hi));
            if a >= b {
                continue;
            }
            let p = &self.pulled[input];
            // SAFETY: share `m`'s range of the post population's current, whose pass it
            // ran in this section (it runs all its parts before any follow-up work), used
            // by this share alone; the outboxes it writes are its own, cleared by `begin`.
            unsafe {
                let own = p.out.range(self.pushes.own_range(slot, m));
                // The spikes after this claim's go on being prefetched.
                let spikes = (&spikes[a - lo..], b - a);
                self.pushes.push(slot, self.parity, m, p.conn, spikes, own);
            }
            if units.end <= hi {
                break;
            }
        }
    }
}

impl LifJob<'_> {
    /// Share `m`'s part of the pass, its spikes appended to `spikes` (`pulled`: the
    /// batch's pulled inputs; `pushes`: what they received from other shares).
    fn run_share(
        &self,
        dt: f32,
        m: usize,
        spikes: &mut Vec<u32>,
        pulled: &[PulledInput<'_>],
        pushes: &Pushes,
    ) {
        let n = self.voltage.len();
        let range = match self.cut {
            0 | 1 if m == 0 => 0..n,
            0 | 1 => return,
            k => parallel::share_range(n, k, m),
        };
        if range.is_empty() {
            return;
        }
        let lo = range.start;
        // SAFETY: share `m` alone takes `range` of these arrays (the cut's ranges are
        // disjoint; an uncut job is share 0's).
        let (v, r) = unsafe {
            (
                self.voltage.range(range.clone()),
                self.refrac.range(range.clone()),
            )
        };
        let (lock, mut inc) = (self.lock, self.incoming);
        let pulled = &pulled[self.pulled.clone()];
        if !pulled.is_empty() {
            let mut ptrs = [std::ptr::null_mut(); MAX_FUSED_CURRENTS];
            let mut decays = [1.0; MAX_FUSED_CURRENTS];
            // Decayed by the last step's sweep already (carried decay), or now.
            let decayed = self.decayed;
            for ((ptr, d), p) in ptrs.iter_mut().zip(&mut decays).zip(pulled) {
                // SAFETY: as for the state arrays above.
                let part = unsafe { p.out.range(range.clone()) };
                let (decay, scale) = (p.current.decay, p.current.scale);
                let decay_part = |part: &mut [f32]| {
                    if !decayed {
                        part.iter_mut().for_each(|i| *i *= decay);
                    }
                };
                match p.arrival {
                    Arrival::Pull => prepare_and_deliver_part(
                        p.conn, p.weights, p.spikes, scale, lo, part, decay_part,
                    ),
                    // SAFETY: this share's range, in the section after the push.
                    Arrival::Outboxes { slot } => unsafe { pushes.receive(slot, m, lo, part) },
                    Arrival::Done => {}
                }
                *ptr = part.as_mut_ptr();
                *d = decay;
            }
            let (count, len) = (pulled.len(), range.len());
            // SAFETY: each part is this share's range of its current (`len` elements), used
            // by nothing else during the section.
            let raw = unsafe { RawCurrents::new(&ptrs, count, len, self.carry.then_some(decays)) };
            inc = Incoming::Pulled(raw, lo);
        }
        match &self.kernel.uniform {
            Some(c) => self.input_part(c, dt, lock, lo, range, v, r, inc, spikes),
            None => {
                let c = LifSlices::new(&self.kernel.arrays);
                self.input_part(&c, dt, lock, lo, range, v, r, inc, spikes);
            }
        }
    }

    /// [`lif_part_aggregating`] with this job's input mode.
    #[expect(
        clippy::too_many_arguments,
        reason = "a part's slices and the pass's constants"
    )]
    #[inline(always)]
    fn input_part<S: LifSource>(
        &self,
        c: &S,
        dt: f32,
        lock: bool,
        lo: usize,
        range: std::ops::Range<usize>,
        v: &mut [f32],
        r: &mut [f32],
        incoming: Incoming<'_>,
        spikes: &mut Vec<u32>,
    ) {
        match &self.input {
            JobInput::Keep(input) => {
                // SAFETY: as for the state arrays in `run_share`.
                let input = unsafe { input.range(range) };
                lif_part_aggregating(c, dt, lock, lo, (v, r, input), incoming, spikes);
            }
            JobInput::Read(input) => {
                let input = &input[range];
                lif_part_aggregating(c, dt, lock, lo, (v, r, input), incoming, spikes);
            }
            JobInput::Zero => lif_part_aggregating(c, dt, lock, lo, (v, r, ()), incoming, spikes),
        }
    }
}

/// What `lif_system` reads and writes of a projection whose decay it carries.
type CarriedProjection<'a> = (
    Entity,
    &'a mut ProjectionCurrent,
    &'a DecayingCurrent,
    &'a mut CarriedDecay,
);

/// Writable pointers to the current arrays of the projections `sources` whose decay the
/// pass carries ([`CarriedDecay`]), their decay factors, and how many; each marked
/// [`CarriedDecay::ahead`] if `carry` (the pass stores the next step's decay), unmarked
/// otherwise. `None` if the first is not carried (the engine carries all of a population's
/// incoming projections or none).
///
/// # Panics
/// If only some are carried, or there are more than [`MAX_FUSED_CURRENTS`].
fn carried_arrays(
    carried: &mut Query<CarriedProjection<'_>, Without<Pulled>>,
    sources: &[Entity],
    carry: bool,
) -> Option<(
    [*mut f32; MAX_FUSED_CURRENTS],
    [f32; MAX_FUSED_CURRENTS],
    usize,
)> {
    if !carried.contains(*sources.first()?) {
        return None;
    }
    let mut ptrs = [std::ptr::null_mut(); MAX_FUSED_CURRENTS];
    let mut decays = [1.0; MAX_FUSED_CURRENTS];
    macro_rules! take {
        ($($p:ident),+) => {{
            let found = carried
                .get_many_mut([$($p),+])
                .expect("the engine carries all incoming projections or none");
            for ((ptr, d), (_, mut current, decay, mut mark)) in
                ptrs.iter_mut().zip(&mut decays).zip(found)
            {
                *ptr = current.0.as_mut_ptr();
                *d = decay.decay;
                mark.ahead = carry;
            }
        }};
    }
    match *sources {
        [a] => take!(a),
        [a, b] => take!(a, b),
        [a, b, c] => take!(a, b, c),
        [a, b, c, d] => take!(a, b, c, d),
        _ => unreachable!("more carried projections than the pass fuses"),
    }
    Some((ptrs, decays, sources.len()))
}

/// [`carried_arrays`] from the walk of the carried projections (`(projection, current,
/// decay)`, already marked): `None` if one of `sources` was not walked (the first is not
/// carried, or the walk was not `complete`).
///
/// # Panics
/// If the walk was complete and only some were walked, or there are more than
/// [`MAX_FUSED_CURRENTS`].
fn walked_carried(
    walk: &[(Entity, *mut f32, f32)],
    complete: bool,
    sources: &[Entity],
) -> Option<(
    [*mut f32; MAX_FUSED_CURRENTS],
    [f32; MAX_FUSED_CURRENTS],
    usize,
)> {
    let find = |p: Entity| walk.iter().find(|(e, ..)| *e == p);
    find(*sources.first()?)?;
    assert!(
        sources.len() <= MAX_FUSED_CURRENTS,
        "more carried projections than fused"
    );
    let mut ptrs = [std::ptr::null_mut(); MAX_FUSED_CURRENTS];
    let mut decays = [1.0; MAX_FUSED_CURRENTS];
    for ((ptr, d), &p) in ptrs.iter_mut().zip(&mut decays).zip(sources) {
        let found = find(p);
        assert!(
            found.is_some() || !complete,
            "the engine carries all incoming projections or none"
        );
        let &(_, current, decay) = found?;
        (*ptr, *d) = (current, decay);
    }
    Some((ptrs, decays, sources.len()))
}

/// The current arrays of the projections `sources`, looked up together, and how many:
/// `None` unless there are 1 to [`MAX_FUSED_CURRENTS`] and every one has a current.
fn held_arrays<'a, F: QueryFilter>(
    currents: &'a Query<'_, '_, &ProjectionCurrent, F>,
    sources: &[Entity],
) -> Option<([&'a [f32]; MAX_FUSED_CURRENTS], usize)> {
    let mut out = [&[][..]; MAX_FUSED_CURRENTS];
    macro_rules! take {
        ($($p:ident),+) => {{
            let found = currents.get_many([$($p),+]).ok()?;
            for (slot, c) in out.iter_mut().zip(found) {
                *slot = &c.0[..];
            }
        }};
    }
    match *sources {
        [a] => take!(a),
        [a, b] => take!(a, b),
        [a, b, c] => take!(a, b, c),
        [a, b, c, d] => take!(a, b, c, d),
        _ => return None,
    }
    Some((out, sources.len()))
}

/// [`lif_copy_aggregating`] with `kernel`'s coefficients: one set for every neuron, or
/// per-neuron arrays.
fn lif_copy_with(
    kernel: &LifKernel,
    dt: f32,
    lock: bool,
    input: impl InputTotal,
    incoming: Incoming<'_>,
    state: LifState<'_>,
    spikes: &mut Vec<u32>,
) {
    match &kernel.uniform {
        Some(c) => lif_copy_aggregating(c, dt, lock, input, incoming, state, spikes),
        None => {
            let c = LifSlices::new(&kernel.arrays);
            lif_copy_aggregating(&c, dt, lock, input, incoming, state, spikes);
        }
    }
}

impl NeuronModel for Lif {
    const NAME: &'static str = "lif";
    const PARAMS: &'static [&'static str] = &[
        "rest_v",
        "reset_v",
        "thresh_v",
        "refrac_t",
        "tc_membrane",
        "resistance",
    ];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rest_v: p.required("rest_v")?,
            reset_v: p.required("reset_v")?,
            thresh_v: p.required("thresh_v")?,
            refrac_t: p.required("refrac_t")?,
            tc_membrane: p.required("tc_membrane")?,
            resistance: p.optional("resistance", 1.0)?,
        })
    }

    fn validate(&self, n: usize) -> Result<(), ParamError> {
        for (name, p) in [
            ("rest_v", &self.rest_v),
            ("reset_v", &self.reset_v),
            ("thresh_v", &self.thresh_v),
            ("refrac_t", &self.refrac_t),
            ("tc_membrane", &self.tc_membrane),
            ("resistance", &self.resistance),
        ] {
            check::length(name, p, n)?;
            check::each(name, p, "a finite number", |_| true)?;
        }
        check::less_than("reset_v", &self.reset_v, "thresh_v", &self.thresh_v, n)?;
        check::each("refrac_t", &self.refrac_t, "≥ 0 ms", |v| v >= 0.0)?;
        check::each("tc_membrane", &self.tc_membrane, "> 0 ms", |v| v > 0.0)?;
        check::each("resistance", &self.resistance, "non-zero", |v| v != 0.0)?;
        Ok(())
    }

    fn initial_voltage(&self, i: usize) -> f32 {
        self.rest_v.at(i)
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_neuron_pass(Phase::Integrate, lif_system);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let kernel = self.kernel(ctx.size as usize, ctx.step_time);
        let pulls = PullsDelivery {
            max_incoming: MAX_FUSED_CURRENTS,
        };
        entity.insert((self, kernel, FusedAggregation, pulls));
    }
}

impl Lif {
    /// The precomputed kernel state for `n` neurons at step `dt` (ms).
    pub(crate) fn kernel(&self, n: usize, dt: f32) -> LifKernel {
        let (uniform, arrays) = if self.is_homogeneous() {
            (Some(self.coefficients(0, dt)), LifArrays::default())
        } else {
            let cs: Vec<LifCoefficients> = (0..n).map(|i| self.coefficients(i, dt)).collect();
            let col = |f: fn(&LifCoefficients) -> f32| cs.iter().map(f).collect::<Vec<f32>>();
            let arrays = LifArrays {
                rest_v: col(|c| c.rest_v),
                reset_v: col(|c| c.reset_v),
                thresh_v: col(|c| c.thresh_v),
                refrac_t: col(|c| c.refrac_t),
                decay: col(|c| c.decay),
                resistance: col(|c| c.resistance),
            };
            (None, arrays)
        };
        LifKernel {
            uniform,
            arrays,
            flags: vec![0; n],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neurons::settle_refractory;

    /// Per-neuron arrays holding `c` for each of `n` neurons (the array path, same values).
    fn arrays_of(c: &LifCoefficients, n: usize) -> LifArrays {
        LifArrays {
            rest_v: vec![c.rest_v; n],
            reset_v: vec![c.reset_v; n],
            thresh_v: vec![c.thresh_v; n],
            refrac_t: vec![c.refrac_t; n],
            decay: vec![c.decay; n],
            resistance: vec![c.resistance; n],
        }
    }

    /// One block of the fused pass through `c`: the spikes, collected from the masks or
    /// appended by the pass (after what the list held: that stays first).
    fn summing_block<S: LifSource>(
        c: &S,
        lock: bool,
        input: impl InputTotal,
        currents: &[&[f32]],
        v: &mut [f32],
        r: &mut [f32],
    ) -> Vec<u32> {
        let n = v.len();
        let mut flags = vec![0u32; n];
        let state = LifState {
            voltage: v,
            refrac: r,
        };
        let f = &mut flags;
        let mut list = vec![u32::MAX];
        let o = (&mut list, 0);
        let spiked = match *currents {
            [] => lif_step_summing(c, 0.1, lock, input, (), state, f, o),
            [a] => lif_step_summing(c, 0.1, lock, input, (a,), state, f, o),
            [a, b] => lif_step_summing(c, 0.1, lock, input, (a, b), state, f, o),
            [a, b, d] => lif_step_summing(c, 0.1, lock, input, (a, b, d), state, f, o),
            [a, b, d, e] => lif_step_summing(c, 0.1, lock, input, (a, b, d, e), state, f, o),
            _ => unreachable!(),
        };
        block_spikes(spiked, &flags, list)
    }

    /// The spike list of a block: `list` (a marker, then what the pass appended) with the
    /// masks' spikes collected, or as appended; checks the result and the marker.
    fn block_spikes(spiked: BlockSpikes, flags: &[u32], mut list: Vec<u32>) -> Vec<u32> {
        match spiked {
            BlockSpikes::None => assert_eq!(list.len(), 1, "spikes appended but not reported"),
            BlockSpikes::Masks => collect_spike_masks(flags, 0, &mut list),
            BlockSpikes::Appended => assert!(list.len() > 1, "reported but not appended"),
        }
        assert_eq!(list.remove(0), u32::MAX, "the list's earlier content moved");
        list
    }

    /// Shared coefficients take the explicitly vectorised pass on AVX2 targets
    /// (`lif_lanes`); per-neuron arrays with the same values take the portable loop. Both
    /// must give the same bits for every input mode, current count, `refrac_lock` and
    /// resistance, with a ragged tail, refractory neurons, −0 currents and a NaN input.
    #[test]
    fn shared_coefficients_pass_matches_the_portable_loop() {
        let n = 3 * 32 + 13;
        let wave = |i: usize, m: usize, scale: f32| ((i * m) % 17) as f32 * scale - 4.0;
        let currents: Vec<Vec<f32>> = (0..4)
            .map(|k| {
                (0..n)
                    .map(|i| {
                        if i % 29 == 3 {
                            -0.0
                        } else {
                            wave(i, 7 + 4 * k, 0.6)
                        }
                    })
                    .collect()
            })
            .collect();
        for resistance in [1.0, 2.5] {
            let lif = Lif {
                resistance: resistance.into(),
                ..Lif::new(-60.0, -65.0, -52.0, 1.0, 10.0)
            };
            let shared = lif.coefficients(0, 0.1);
            let arrays = arrays_of(&shared, n);
            let slices = LifSlices::new(&arrays);
            for lock in [true, false] {
                for count in 0..=4 {
                    let cur: Vec<&[f32]> = currents[..count].iter().map(Vec::as_slice).collect();
                    for mode in 0..3 {
                        let mut v0: Vec<f32> = (0..n).map(|i| -60.0 + wave(i, 5, 0.9)).collect();
                        let mut r0: Vec<f32> = (0..n).map(|i| [0.0, 0.05, 0.3][i % 3]).collect();
                        let mut in0: Vec<f32> = (0..n).map(|i| wave(i, 3, 1.1)).collect();
                        in0[7] = f32::NAN;
                        let (mut v1, mut r1, mut in1) = (v0.clone(), r0.clone(), in0.clone());
                        let (mut a, mut b) = (Vec::new(), Vec::new());
                        for _ in 0..6 {
                            let (c0, c1) = (&cur[..], &cur[..]);
                            let (s0, s1) = match mode {
                                0 => (
                                    summing_block(&shared, lock, (), c0, &mut v0, &mut r0),
                                    summing_block(&slices, lock, (), c1, &mut v1, &mut r1),
                                ),
                                1 => (
                                    summing_block(&shared, lock, &in0[..], c0, &mut v0, &mut r0),
                                    summing_block(&slices, lock, &in1[..], c1, &mut v1, &mut r1),
                                ),
                                _ => (
                                    summing_block(
                                        &shared,
                                        lock,
                                        &mut in0[..],
                                        c0,
                                        &mut v0,
                                        &mut r0,
                                    ),
                                    summing_block(
                                        &slices,
                                        lock,
                                        &mut in1[..],
                                        c1,
                                        &mut v1,
                                        &mut r1,
                                    ),
                                ),
                            };
                            a.extend(s0);
                            b.extend(s1);
                        }
                        let bits = |x: &[f32]| x.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                        let case =
                            format!("R {resistance}, lock {lock}, {count} currents, mode {mode}");
                        assert_eq!(bits(&v0), bits(&v1), "{case}");
                        assert_eq!(bits(&r0), bits(&r1), "{case}");
                        assert_eq!(bits(&in0), bits(&in1), "{case}");
                        assert_eq!(a, b, "{case}");
                        // Not vacuous: neurons spike, also in the tail.
                        assert!(a.len() > 10, "{case}: {} spikes", a.len());
                        assert!(a.iter().any(|&i| i >= 96), "{case}");
                    }
                }
            }
        }
    }

    /// [`summing_block`] through [`RawCurrents`] carrying `decays` into the sweep.
    fn carrying_block<S: LifSource>(
        c: &S,
        lock: bool,
        input: impl InputTotal,
        currents: &mut [Vec<f32>],
        decays: [f32; MAX_FUSED_CURRENTS],
        v: &mut [f32],
        r: &mut [f32],
    ) -> Vec<u32> {
        let n = v.len();
        let mut ptrs = [std::ptr::null_mut(); MAX_FUSED_CURRENTS];
        for (p, c) in ptrs.iter_mut().zip(currents.iter_mut()) {
            assert!(c.len() >= n);
            *p = c.as_mut_ptr();
        }
        // SAFETY: every array holds `n` elements, and nothing else uses them meanwhile.
        let raw = unsafe { RawCurrents::new(&ptrs, currents.len(), n, Some(decays)) };
        let mut flags = vec![0u32; n];
        let state = LifState {
            voltage: v,
            refrac: r,
        };
        let mut list = vec![u32::MAX];
        let o = (&mut list, 0);
        let spiked = lif_step_summing(c, 0.1, lock, input, raw, state, &mut flags, o);
        block_spikes(spiked, &flags, list)
    }

    /// The carried decay (`RawCurrents`, the `CARRY` lanes of `lif_lanes`) reads the same
    /// currents as the plain pass, so voltages, refractory times, totals and spikes keep
    /// their bits, and leaves each current multiplied by its decay, as a separate sweep
    /// would: on the vectorised pass (shared coefficients) and the portable one, with a
    /// ragged tail.
    #[test]
    fn carried_decay_keeps_the_results_and_decays_each_current() {
        let n = 3 * 32 + 13;
        let wave = |i: usize, m: usize, scale: f32| ((i * m) % 17) as f32 * scale - 4.0;
        let decays = [0.98, 0.5, 0.9, 0.25];
        let shared = Lif::new(-60.0, -65.0, -52.0, 1.0, 10.0).coefficients(0, 0.1);
        let arrays = arrays_of(&shared, n);
        let slices = LifSlices::new(&arrays);
        let bits = |x: &[f32]| x.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for count in 1..=MAX_FUSED_CURRENTS {
            for (lock, keep, portable) in [
                (true, false, false),
                (false, true, false),
                (true, true, true),
            ] {
                let currents: Vec<Vec<f32>> = (0..count)
                    .map(|k| (0..n).map(|i| wave(i, 7 + 4 * k, 0.6)).collect())
                    .collect();
                let mut v0: Vec<f32> = (0..n).map(|i| -60.0 + wave(i, 5, 0.9)).collect();
                let mut r0: Vec<f32> = (0..n).map(|i| [0.0, 0.05, 0.3][i % 3]).collect();
                let mut in0: Vec<f32> = (0..n).map(|i| wave(i, 3, 1.1)).collect();
                let (mut v1, mut r1, mut in1) = (v0.clone(), r0.clone(), in0.clone());
                let (plain, mut carried) = (currents.clone(), currents);
                let cur: Vec<&[f32]> = plain.iter().map(Vec::as_slice).collect();
                macro_rules! pair {
                    ($c:expr, $in0:expr, $in1:expr) => {
                        (
                            summing_block($c, lock, $in0, &cur, &mut v0, &mut r0),
                            carrying_block($c, lock, $in1, &mut carried, decays, &mut v1, &mut r1),
                        )
                    };
                }
                let (a, b) = match (keep, portable) {
                    (false, _) => pair!(&shared, (), ()),
                    (true, false) => pair!(&shared, &mut in0[..], &mut in1[..]),
                    (true, true) => pair!(&slices, &mut in0[..], &mut in1[..]),
                };
                let case =
                    format!("{count} currents, lock {lock}, keep {keep}, portable {portable}");
                assert_eq!(bits(&v0), bits(&v1), "{case}");
                assert_eq!(bits(&r0), bits(&r1), "{case}");
                assert_eq!(bits(&in0), bits(&in1), "{case}");
                assert_eq!(a, b, "{case}");
                assert!(!a.is_empty(), "{case}: no spikes");
                for (k, (p, c)) in plain.iter().zip(&carried).enumerate() {
                    let decayed: Vec<f32> = p.iter().map(|x| x * decays[k]).collect();
                    assert_eq!(bits(&decayed), bits(c), "{case}: current {k}");
                }
            }
        }
    }

    #[test]
    fn zero_input_totals_equal_the_sums_from_zero() {
        let c0 = [1.5f32, -0.0, -0.0, 0.0, 1e-30, -2.0];
        let c1 = [0.25f32, -0.0, 0.0, -0.0, -1e-30, 2.0];
        let c2 = [3.0f32, -0.0, 7.0, 0.0, 0.1, -0.3];
        let c3 = [-1.0f32, -0.0, -7.0, 0.0, 0.2, 0.3];
        for i in 0..c0.len() {
            let sums = [
                ((&c0[..],).add_to(i, 0.0), (&c0[..],).total(i)),
                (
                    (&c0[..], &c1[..]).add_to(i, 0.0),
                    (&c0[..], &c1[..]).total(i),
                ),
                (
                    (&c0[..], &c1[..], &c2[..]).add_to(i, 0.0),
                    (&c0[..], &c1[..], &c2[..]).total(i),
                ),
                (
                    (&c0[..], &c1[..], &c2[..], &c3[..]).add_to(i, 0.0),
                    (&c0[..], &c1[..], &c2[..], &c3[..]).total(i),
                ),
                (().add_to(i, 0.0), ().total(i)),
            ];
            for (k, (from_zero, total)) in sums.into_iter().enumerate() {
                // Equal bits, except a −0 total where the sum from +0 gives +0.
                let same = from_zero.to_bits() == total.to_bits()
                    || (from_zero == 0.0 && total == 0.0 && total.is_sign_negative());
                assert!(same, "neuron {i}, sum {k}: {from_zero} vs {total}");
            }
        }
        // The only difference: all currents −0.
        assert!((&c0[..], &c1[..]).total(1).is_sign_negative());
        assert!((&c0[..], &c1[..]).add_to(1, 0.0).is_sign_positive());
    }

    /// Runs the kernel and collects spikes, as the system does.
    fn step<S: LifSource>(
        c: &S,
        lock: bool,
        input: &[f32],
        v: &mut [f32],
        r: &mut [f32],
        offset: u32,
    ) -> Vec<u32> {
        let mut flags = vec![0u8; v.len()];
        lif_step(
            c,
            &ConstantReset,
            1.0,
            lock,
            input,
            LifState {
                voltage: v,
                refrac: r,
            },
            &mut flags,
        );
        let mut spikes = Vec::new();
        collect_spikes(&flags, offset, &mut spikes);
        spikes
    }

    fn trace_a() -> LifCoefficients {
        // INFERNO.md trace A: rest −60, reset −65, thresh −50, refrac 2, τ 10, R 1, Δt 1.
        Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0).coefficients(0, 1.0)
    }

    #[test]
    fn first_step_is_exact_exponential() {
        let (mut v, mut r) = ([-60.0f32], [0.0f32]);
        let s = step(&trace_a(), true, &[15.0], &mut v, &mut r, 0);
        assert!((v[0] - (-58.57256)).abs() < 1e-4);
        assert!(s.is_empty());
    }

    #[test]
    fn spike_resets_and_refractory_includes_spike_step() {
        let c = trace_a();
        let (mut v, mut r) = ([-50.5f32], [0.0f32]);
        let s = step(&c, true, &[15.0], &mut v, &mut r, 0);
        assert_eq!(s, [0]);
        assert_eq!((v[0], r[0]), (-65.0, 2.0));
        // Next step: refractory (2 − 1 = 1 > 0): held at reset, no input, no spike.
        let s = step(&c, true, &[1000.0], &mut v, &mut r, 0);
        assert_eq!((v[0], r[0], s.len()), (-65.0, 1.0, 0));
        // Then active again: integrates.
        step(&c, true, &[15.0], &mut v, &mut r, 0);
        assert_eq!(r[0], 0.0);
        assert!((v[0] - (-63.09675)).abs() < 1e-4);
    }

    #[test]
    fn without_lock_refractory_neurons_leak_with_zero_input() {
        let c = trace_a();
        let (mut v, mut r) = ([-65.0f32], [2.0f32]);
        let s = step(&c, false, &[1000.0], &mut v, &mut r, 0);
        let expected = -60.0 + (-65.0f32 + 60.0) * (-0.1f32).exp();
        assert!((v[0] - expected).abs() < 1e-5);
        assert!(s.is_empty());
    }

    #[test]
    fn refractory_countdown_is_not_lengthened_by_round_off() {
        // 5 ms at Δt = 0.1 ms: exactly 50 steps of countdown, in f32.
        let mut r = 5.0f32;
        let mut steps = 0;
        while r > 0.0 {
            r = settle_refractory(r - 0.1, 0.1);
            steps += 1;
        }
        assert_eq!(steps, 50);
    }

    #[test]
    fn collect_spikes_reads_words_and_remainder_in_order() {
        let mut flags = vec![0u8; 21];
        for i in [0, 7, 8, 15, 16, 20] {
            flags[i] = 1;
        }
        let mut out = vec![99];
        collect_spikes(&flags, 1000, &mut out);
        assert_eq!(out, [99, 1000, 1007, 1008, 1015, 1016, 1020]);
        // Whole 64-flag blocks (empty, full, sparse) and the remainder after them.
        let mut flags = vec![0u8; 64 * 3 + 5];
        let set: [u32; 8] = [64, 65, 71, 72, 127, 128 + 63, 192, 196];
        for i in set {
            flags[i as usize] = 1;
        }
        let mut out = Vec::new();
        collect_spikes(&flags, 0, &mut out);
        assert_eq!(out, set);
    }

    #[test]
    fn collect_spike_masks_reads_blocks_and_remainder_in_order() {
        // Whole 16-mask blocks (empty, full, sparse) and a remainder after them.
        let mut masks = vec![0u32; 16 * 3 + 5];
        let set: [u32; 9] = [16, 17, 23, 24, 31, 32 + 15, 48, 50, 52];
        for i in set {
            masks[i as usize] = u32::MAX;
        }
        let mut out = vec![7];
        collect_spike_masks(&masks, 100, &mut out);
        let expected: Vec<u32> = [7].into_iter().chain(set.iter().map(|i| i + 100)).collect();
        assert_eq!(out, expected);
        let mut out = Vec::new();
        collect_spike_masks(&[0; 40], 0, &mut out);
        assert!(out.is_empty());
    }

    /// The fused pass (currents summed in the loop, lane masks, per-block collection)
    /// gives the reference kernel's voltages, countdowns, input totals and spike list, with
    /// and without `refrac_lock`, over several blocks and a ragged end, for a shared and a
    /// per-neuron coefficient source. (The shared source runs as one block.)
    #[test]
    fn fused_pass_matches_the_reference_kernel() {
        let n = 64 * AGGREGATE_BLOCK + 77;
        let lif = Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0);
        let shared = lif.coefficients(0, 1.0);
        let arrays = LifArrays {
            rest_v: (0..n).map(|i| -60.0 + (i % 5) as f32).collect(),
            reset_v: vec![-65.0; n],
            thresh_v: (0..n).map(|i| -50.0 - (i % 3) as f32).collect(),
            refrac_t: vec![2.0; n],
            decay: vec![(-0.1f32).exp(); n],
            resistance: vec![1.0; n],
        };
        let c0: Vec<f32> = (0..n).map(|i| ((i * 37) % 23) as f32 * 0.9).collect();
        let c1: Vec<f32> = (0..n).map(|i| -(((i * 11) % 7) as f32)).collect();
        for lock in [true, false] {
            let mut v0: Vec<f32> = (0..n).map(|i| -65.0 + ((i * 13) % 17) as f32).collect();
            let mut r0: Vec<f32> = (0..n).map(|i| [0.0, 0.5, 1.0, 2.0][i % 4]).collect();
            let mut v1 = v0.clone();
            let mut r1 = r0.clone();
            for slices in [false, true] {
                let (mut fused, mut reference) = (Vec::new(), Vec::new());
                for _ in 0..4 {
                    let mut input = vec![0.5f32; n];
                    let state = LifState {
                        voltage: &mut v0,
                        refrac: &mut r0,
                    };
                    let incoming = Incoming::Fused([&c0, &c1, &[], &[]], 2);
                    let mut spikes = Vec::new();
                    fn run_fused<S: LifSource>(
                        c: &S,
                        lock: bool,
                        input: &mut [f32],
                        incoming: Incoming<'_>,
                        state: LifState<'_>,
                        spikes: &mut Vec<u32>,
                    ) {
                        lif_copy_aggregating(c, 1.0, lock, input, incoming, state, spikes);
                    }
                    if slices {
                        let c = LifSlices::new(&arrays);
                        run_fused(&c, lock, &mut input, incoming, state, &mut spikes);
                    } else {
                        run_fused(&shared, lock, &mut input, incoming, state, &mut spikes);
                    }
                    let summed: Vec<f32> = (0..n).map(|i| 0.5 + c0[i] + c1[i]).collect();
                    assert_eq!(input, summed);
                    let expected = if slices {
                        step(&LifSlices::new(&arrays), lock, &summed, &mut v1, &mut r1, 0)
                    } else {
                        step(&shared, lock, &summed, &mut v1, &mut r1, 0)
                    };
                    assert_eq!(spikes, expected, "lock {lock}, slices {slices}");
                    fused.extend(spikes);
                    reference.extend(expected);
                }
                assert_eq!(v0, v1);
                assert_eq!(r0, r1);
                // Not vacuous: neurons spike, in every block.
                assert!(fused.len() > 100, "{} spikes", fused.len());
                assert!(fused.iter().any(|&i| i as usize >= 64 * AGGREGATE_BLOCK));
                assert_eq!(fused, reference);
            }
        }
    }

    #[test]
    fn validation_names_the_parameter() {
        let mut bad = Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0);
        bad.tc_membrane = Param::Scalar(-1.0);
        assert_eq!(bad.validate(1).unwrap_err().param, "tc_membrane");
        let bad = Lif::new(-60.0, -45.0, -50.0, 2.0, 10.0);
        assert_eq!(bad.validate(1).unwrap_err().param, "reset_v");
        // A resting voltage above threshold is allowed (CUBA's El = −49 > Vt = −50).
        assert!(Lif::new(-49.0, -60.0, -50.0, 5.0, 20.0).validate(1).is_ok());
        let mut bad = Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0);
        bad.resistance = Param::Scalar(0.0);
        assert_eq!(bad.validate(1).unwrap_err().param, "resistance");
        let mut bad = Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0);
        bad.refrac_t = Param::PerElement(vec![1.0, -1.0]);
        assert_eq!(bad.validate(2).unwrap_err().param, "refrac_t");
        let mut bad = Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0);
        bad.thresh_v = Param::Scalar(f32::NAN);
        assert!(bad.validate(1).is_err());
    }

    #[test]
    fn blocks_remainder_and_array_path_agree_with_scalar_reference() {
        // 19 neurons: two 8-lane blocks plus a 3-neuron remainder.
        let c = trace_a();
        let n = 19;
        let arrays = arrays_of(&c, n);
        let input: Vec<f32> = (0..n).map(|i| (i % 5) as f32 * 8.0).collect();
        let v0: Vec<f32> = (0..n).map(|i| -60.0 + (i as f32) * 0.6).collect();
        let r0: Vec<f32> = (0..n).map(|i| if i % 7 == 0 { 1.0 } else { 0.0 }).collect();
        let (mut v1, mut r1) = (v0.clone(), r0.clone());
        let (mut v2, mut r2) = (v0.clone(), r0.clone());
        let s1 = step(&c, true, &input, &mut v1, &mut r1, 100);
        let s2 = step(
            &LifSlices::new(&arrays),
            true,
            &input,
            &mut v2,
            &mut r2,
            100,
        );
        assert_eq!((&v1, &r1, &s1), (&v2, &r2, &s2));
        // Scalar reference, neuron by neuron.
        let mut expected = vec![];
        for i in 0..n {
            let (mut v, mut r) = (v0[i], r0[i]);
            if lif_neuron(&c, &ConstantReset, i, 1.0, true, input[i], &mut v, &mut r) {
                expected.push(100 + i as u32);
            }
            assert_eq!((v, r), (v1[i], r1[i]), "neuron {i}");
        }
        assert_eq!(s1, expected);
        assert!(!s1.is_empty() && s1.windows(2).all(|w| w[0] < w[1]));
    }
}
