//! Pair-based STDP and its reward-modulated forms (Inferno's `STDP`, `MSTDP`, `MSTDPET`).
//!
//! **Traces.** Each pre unit carries a trace x_pre with time constant τ_pre and amplitude
//! |η_post|, each post neuron a trace x_post with τ_post and amplitude |η_pre| (η_post =
//! `lr_post`, η_pre = `lr_pre`). Every step Δt they decay by `e^{−Δt/τ}`; a spike in the
//! step then adds the amplitude (`trace = "cumulative"`) or sets the trace to it
//! (`trace = "nearest"`):
//!
//! ```text
//! cumulative: x(t) = x(t − Δt)·e^{−Δt/τ} + A·[spike at t]
//! nearest:    x(t) = A if spike at t, else x(t − Δt)·e^{−Δt/τ}
//! ```
//!
//! For the pre side "spike at t" means *arrival* at the synapse (see the
//! [module docs](super) for the step mapping).
//!
//! **STDP** (`stdp`). With traces already updated for step t:
//!
//! ```text
//! Δw(t) = sgn(η_post)·x_pre(t)·[post spike at t] + sgn(η_pre)·x_post(t)·[pre arrival at t]
//! ```
//!
//! (sgn(0) = +1). Hebbian STDP has η_post > 0 > η_pre. A pre arrival and a post spike in
//! the same step both count (each trace already holds its own spike's amplitude), as in
//! Inferno. Per batch copy b the terms are computed from that copy's traces and reduced
//! over the batch (mean by default) before bounding.
//!
//! **MSTDP** (`mstdp`): the same terms scaled by γ·M_b(t), with M_b(t) the reward of batch
//! copy b in step t ([`Reward`](super::Reward)) and γ = `scale` (default 1):
//! `Δw(t) = γ·M(t)·(…)`; reduced by sum by default. The sign of each scaled term decides
//! whether it is potentiation or depression for bounding, per batch copy.
//!
//! **MSTDPET** (`mstdpet`): two eligibility traces per synapse and batch copy (τ_z =
//! `tc_eligibility`, ms), updated every step and then used:
//!
//! ```text
//! z_post(t) = z_post(t − Δt)·e^{−Δt/τ_z} + x_pre(t)·[post spike at t] / τ_z
//! z_pre(t)  = z_pre(t − Δt)·e^{−Δt/τ_z}  + x_post(t)·[pre arrival at t] / τ_z
//! Δw(t) = γ·M(t)·(sgn(η_post)·z_post(t) + sgn(η_pre)·z_pre(t))·Δt
//! ```
//!
//! (Florian 2007: τ_z·dz/dt = −z + ζ, dw/dt = γ·M·z; z is in trace units per ms, so Δw
//! does not depend on Δt in the continuum limit. Inferno's docstring has the factor Δt; the
//! trainer code we read applies γ·M·z without it. Both agree at Δt = 1 ms, where trace K is
//! measured, and Ember reproduces that trace.) The order within a step is Inferno's: decay,
//! add this step's terms, then use z for Δw. When the weight dependence needs them apart (soft bounds with η_post,
//! η_pre of opposite signs) the two halves are stored separately, otherwise as one signed
//! sum: one f32 per synapse and batch copy.

use serde::{Deserialize, Serialize};

use super::state::Kernel;
use super::traces::{Side, TraceSpec};

/// How a spike trace reacts to a spike (Inferno's `trace_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceMode {
    /// `x ← x + A`: every spike adds its amplitude (all-to-all pairing).
    #[default]
    Cumulative,
    /// `x ← A`: a spike resets the trace to its amplitude (nearest-spike pairing).
    Nearest,
}

/// Pair-based STDP parameters (Inferno's `STDP`, scenario `rule = "stdp"`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stdp {
    /// η_post: learning rate of updates on post spikes (weighs x_pre; > 0 for Hebbian
    /// LTP). Units of the weight.
    pub lr_post: f32,
    /// η_pre: learning rate of updates on pre arrivals (weighs x_post; < 0 for Hebbian
    /// LTD). Units of the weight.
    pub lr_pre: f32,
    /// τ_post: time constant of the post trace, ms (> 0).
    pub tc_post: f32,
    /// τ_pre: time constant of the pre trace, ms (> 0).
    pub tc_pre: f32,
    /// Cumulative or nearest traces.
    pub trace: TraceMode,
}

impl Stdp {
    /// Cumulative-trace STDP with learning rates η_post, η_pre and time constants τ_post,
    /// τ_pre (ms).
    pub fn new(lr_post: f32, lr_pre: f32, tc_post: f32, tc_pre: f32) -> Self {
        Self {
            lr_post,
            lr_pre,
            tc_post,
            tc_pre,
            trace: TraceMode::Cumulative,
        }
    }

    /// The same rule with `trace` traces.
    pub fn with_trace(self, trace: TraceMode) -> Self {
        Self { trace, ..self }
    }

    /// The pre and post trace specifications.
    pub(crate) fn traces(&self) -> (TraceSpec, TraceSpec) {
        let nearest = self.trace == TraceMode::Nearest;
        (
            TraceSpec {
                tau: self.tc_pre,
                amp: self.lr_post.abs(),
                nearest,
            },
            TraceSpec {
                tau: self.tc_post,
                amp: self.lr_pre.abs(),
                nearest,
            },
        )
    }

    pub(crate) fn kernel(&self) -> PairKernel {
        PairKernel {
            sign_post: sign(self.lr_post),
            sign_pre: sign(self.lr_pre),
        }
    }
}

/// Reward-modulated STDP parameters (Inferno's `MSTDP`, scenario `rule = "mstdp"`):
/// Δw = γ·M(t)·(STDP terms).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mstdp {
    /// The STDP terms.
    pub stdp: Stdp,
    /// γ ≥ 0, dimensionless (Inferno's `scale`, default 1).
    pub scale: f32,
}

impl Mstdp {
    /// MSTDP with γ = 1.
    pub fn new(stdp: Stdp) -> Self {
        Self { stdp, scale: 1.0 }
    }
}

/// Reward-modulated STDP with eligibility traces (Inferno's `MSTDPET`, scenario
/// `rule = "mstdpet"`): Δw = γ·M(t)·z(t)·Δt.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mstdpet {
    /// The STDP terms feeding the eligibility traces.
    pub stdp: Stdp,
    /// τ_z: time constant of the eligibility traces, ms (> 0).
    pub tc_eligibility: f32,
    /// γ ≥ 0, ms⁻¹·(weight units) per unit of reward·trace (Inferno's `scale`, default 1).
    pub scale: f32,
}

impl Mstdpet {
    /// MSTDPET with γ = 1.
    pub fn new(stdp: Stdp, tc_eligibility: f32) -> Self {
        Self {
            stdp,
            tc_eligibility,
            scale: 1.0,
        }
    }
}

/// +1 for x ≥ 0, −1 otherwise (Inferno classifies a zero learning rate as potentiative).
pub(crate) fn sign(x: f32) -> f32 {
    if x >= 0.0 { 1.0 } else { -1.0 }
}

/// The pair-STDP update terms.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PairKernel {
    sign_post: f32,
    sign_pre: f32,
}

impl Kernel for PairKernel {
    #[inline]
    fn post_term(&self, pre: &Side, pu: usize, _post: &Side, _pj: usize, k: u64) -> f32 {
        self.sign_post * pre.fast_at(pu, k)
    }

    #[inline]
    fn pre_term(&self, _pre: &Side, _pu: usize, post: &Side, pj: usize, k: u64) -> f32 {
        self.sign_pre * post.fast_at(pj, k)
    }
}
