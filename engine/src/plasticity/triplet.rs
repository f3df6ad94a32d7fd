//! Triplet STDP (Pfister & Gerstner 2006; Inferno's `TripletSTDP`, scenario
//! `rule = "triplet_stdp"`).
//!
//! Four traces, each decaying by `e^{−Δt/τ}` per step and reacting to spikes like the pair
//! traces (cumulative or nearest, see [`TraceMode`]):
//!
//! | trace | side | τ | amplitude |
//! |---|---|---|---|
//! | x_a (fast) | pre | τ₊ = `tc_pre_fast` | \|α_post\| |
//! | x_b (slow) | pre | τ_x = `tc_pre_slow` | \|β_pre / α_pre\| |
//! | y_a (fast) | post | τ₋ = `tc_post_fast` | \|α_pre\| |
//! | y_b (slow) | post | τ_y = `tc_post_slow` | \|β_post / α_post\| |
//!
//! with α_post = `lr_post_pair`, β_post = `lr_post_triplet`, α_pre = `lr_pre_pair`,
//! β_pre = `lr_pre_triplet`. With the traces updated for step t,
//!
//! ```text
//! Δw(t) = sgn(α_post)·x_a(t)·(1 + y_b(t − Δt))·[post spike at t]
//!       + sgn(α_pre)·y_a(t)·(1 + x_b(t − Δt))·[pre arrival at t]
//! ```
//!
//! i.e. unscaled `x̂_a·(α_post + β_post·ŷ_b)` on post spikes and `ŷ_a·(α_pre + β_pre·x̂_b)`
//! on pre arrivals. The slow trace enters with its value of the *previous* step (before its
//! own spike is added), exactly as Inferno reads it (`read(2)`), so a spike does not pair
//! with itself. Hebbian triplet STDP has α_post > 0 > α_pre. Units: α, β in weight units;
//! τ in ms. Validation (Inferno's): α_post ≠ 0, α_pre ≠ 0, 0 < τ₊ < τ_x, 0 < τ₋ < τ_y; the
//! signs of β are ignored (Inferno takes their absolute values). Batch reduction: mean.

use serde::{Deserialize, Serialize};

use super::TraceMode;
use super::state::Kernel;
use super::stdp::sign;
use super::traces::{Side, TraceSpec};

/// Triplet STDP parameters (see the module docs for the equations).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TripletStdp {
    /// α_post: pair learning rate on post spikes (≠ 0), weight units.
    pub lr_post_pair: f32,
    /// β_post: triplet learning rate on post spikes (sign ignored), weight units.
    pub lr_post_triplet: f32,
    /// α_pre: pair learning rate on pre arrivals (≠ 0), weight units.
    pub lr_pre_pair: f32,
    /// β_pre: triplet learning rate on pre arrivals (sign ignored), weight units.
    pub lr_pre_triplet: f32,
    /// τ₋: fast post trace time constant, ms (> 0).
    pub tc_post_fast: f32,
    /// τ_y: slow post trace time constant, ms (> `tc_post_fast`).
    pub tc_post_slow: f32,
    /// τ₊: fast pre trace time constant, ms (> 0).
    pub tc_pre_fast: f32,
    /// τ_x: slow pre trace time constant, ms (> `tc_pre_fast`).
    pub tc_pre_slow: f32,
    /// Cumulative or nearest traces.
    pub trace: TraceMode,
}

impl TripletStdp {
    /// The (pre, post) trace specifications: (fast, slow) each.
    pub(crate) fn traces(&self) -> ((TraceSpec, TraceSpec), (TraceSpec, TraceSpec)) {
        let nearest = self.trace == TraceMode::Nearest;
        let spec = |tau: f32, amp: f32| TraceSpec {
            tau,
            amp: amp.abs(),
            nearest,
        };
        (
            (
                spec(self.tc_pre_fast, self.lr_post_pair),
                spec(self.tc_pre_slow, self.lr_pre_triplet / self.lr_pre_pair),
            ),
            (
                spec(self.tc_post_fast, self.lr_pre_pair),
                spec(self.tc_post_slow, self.lr_post_triplet / self.lr_post_pair),
            ),
        )
    }

    pub(crate) fn kernel(&self) -> TripletKernel {
        TripletKernel {
            sign_post: sign(self.lr_post_pair),
            sign_pre: sign(self.lr_pre_pair),
        }
    }
}

/// The triplet update terms.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TripletKernel {
    sign_post: f32,
    sign_pre: f32,
}

impl Kernel for TripletKernel {
    #[inline]
    fn post_term(&self, pre: &Side, pu: usize, post: &Side, pj: usize, k: u64) -> f32 {
        self.sign_post * pre.fast_at(pu, k) * (1.0 + post.slow_before(pj))
    }

    #[inline]
    fn pre_term(&self, pre: &Side, pu: usize, post: &Side, pj: usize, k: u64) -> f32 {
        self.sign_pre * post.fast_at(pj, k) * (1.0 + pre.slow_before(pu))
    }
}
