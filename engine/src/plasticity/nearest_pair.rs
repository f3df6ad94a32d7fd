//! Nearest-pair exponential STDP (Sapicore's `STDPSynapse`, scenario
//! `rule = "nearest_pair_stdp"`), without Sapicore's phantom spike.
//!
//! Each pre unit remembers the step of its latest arrival, each post neuron the step of its
//! latest spike. With Δt_pair = (t_post − t_pre) in ms:
//!
//! ```text
//! on a post spike at t:  Δw = +α₊·e^{−(t − t_pre)/τ₊}   (t_pre: the latest arrival before t)
//! on a pre arrival at t: Δw = −α₋·e^{−(t − t_post)/τ₋}  (t_post: the latest post spike before t)
//! ```
//!
//! α₊ = `alpha_plus`, α₋ = `alpha_minus` (weight units, ≥ 0), τ₊ = `tau_plus`,
//! τ₋ = `tau_minus` (ms, > 0). Each event pairs with the *nearest* preceding spike of the
//! other side only (a pre spike may pair with several later post spikes). A pre arrival and
//! a post spike in the same step are simultaneous (Δt_pair = 0) and change nothing, as in
//! Sapicore, where both "last spike" stamps become equal.
//!
//! **No phantom spike.** Sapicore initialises every "last spike" stamp to t = 0, so a
//! synapse whose post neuron has never fired is depressed by `α₋·e^{−t/τ₋}` at every pre
//! arrival (and a pre neuron that never fired potentiates on post spikes). Here a neuron
//! that has not spiked yet has no spike to pair with: no update.
//!
//! **Once per event.** The Sapicore code we read recomputes Δw from the two "last spike"
//! stamps in *every* step and adds it again while the stamps differ, so one pairing keeps
//! changing the weight until the next spike. Here, as the rule is defined (and as in
//! nearest-neighbour STDP generally), a pairing changes the weight once, at the later of
//! its two spikes.
//!
//! Weight dependence: see [`WeightBounds`](super::WeightBounds); Sapicore's `mu_plus`,
//! `mu_minus` (unused there) correspond to soft bounds' exponents. Batch reduction: mean.

use serde::{Deserialize, Serialize};

use super::state::Kernel;
use super::traces::Side;

/// Nearest-pair STDP parameters (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NearestPairStdp {
    /// α₊ ≥ 0: potentiation amplitude (post after pre), weight units.
    pub alpha_plus: f32,
    /// α₋ ≥ 0: depression amplitude (pre after post), weight units.
    pub alpha_minus: f32,
    /// τ₊ > 0: potentiation window time constant, ms.
    pub tau_plus: f32,
    /// τ₋ > 0: depression window time constant, ms.
    pub tau_minus: f32,
}

impl NearestPairStdp {
    pub(crate) fn kernel(&self, dt: f64) -> NearestPairKernel {
        NearestPairKernel {
            alpha_plus: self.alpha_plus,
            alpha_minus: self.alpha_minus,
            rate_plus: -dt / f64::from(self.tau_plus),
            rate_minus: -dt / f64::from(self.tau_minus),
        }
    }
}

/// The nearest-pair update terms.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NearestPairKernel {
    alpha_plus: f32,
    alpha_minus: f32,
    /// −Δt/τ₊ (per step).
    rate_plus: f64,
    /// −Δt/τ₋ (per step).
    rate_minus: f64,
}

impl Kernel for NearestPairKernel {
    #[inline]
    fn post_term(&self, pre: &Side, pu: usize, _post: &Side, _pj: usize, k: u64) -> f32 {
        let last = pre.last[pu];
        // `NEVER` is u64::MAX, so a pre unit that never arrived fails the test.
        if last < k {
            self.alpha_plus * ((k - last) as f64 * self.rate_plus).exp() as f32
        } else {
            0.0
        }
    }

    #[inline]
    fn pre_term(&self, _pre: &Side, _pu: usize, post: &Side, pj: usize, k: u64) -> f32 {
        let last = post.last[pj];
        if last < k {
            -self.alpha_minus * ((k - last) as f64 * self.rate_minus).exp() as f32
        } else {
            0.0
        }
    }
}
