//! Weight bounds: hard clamping and soft (multiplicative / power-law) weight dependence.
//!
//! Every rule produces, per synapse and step, a potentiation magnitude U₊ ≥ 0 and a
//! depression magnitude U₋ ≥ 0 (the LTP/LTD split is by the sign of each term, as in
//! Inferno's `Updater`: a term that would raise the weight is potentiative, one that would
//! lower it is depressive). The weight then changes by
//!
//! | bounding | Δw |
//! |---|---|
//! | [`Bounding::Hard`] | `U₊ − U₋` |
//! | [`Bounding::Soft`] | `U₊·(w_max − w)^μ₊ − U₋·(w − w_min)^μ₋` |
//!
//! with `w` the weight before the step's update. In soft bounding a missing `w_max` leaves
//! potentiation unscaled (Inferno's *lower* bound variant), a missing `w_min` leaves
//! depression unscaled (*upper* variant); μ₊ = μ₋ = 1 is multiplicative weight dependence
//! (Inferno's `bound_upper_multiplicative` / `bound_lower_multiplicative`), other exponents
//! are Inferno's power-law dependence (`bound_upper_power`, `bound_lower_power`), and μ = 0
//! is additive. A negative base (a weight already beyond its bound) counts as 0, so the
//! factor never becomes NaN. In every mode the result is finally clamped to
//! `[w_min, w_max]` (each bound optional), so a weight never leaves its bounds whatever
//! the learning rates.

use serde::{Deserialize, Serialize};

/// How potentiation and depression depend on the current weight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub enum Bounding {
    /// No weight dependence: Δw = U₊ − U₋, then the weight is clamped to its bounds.
    #[default]
    Hard,
    /// Soft bounds: Δw = U₊·(w_max − w)^μ₊ − U₋·(w − w_min)^μ₋, then clamped. Needs at
    /// least one of `weight_min`, `weight_max`.
    Soft {
        /// Exponent μ₊ ≥ 0 of the potentiation factor (1: multiplicative).
        mu_plus: f32,
        /// Exponent μ₋ ≥ 0 of the depression factor (1: multiplicative).
        mu_minus: f32,
    },
}

impl Bounding {
    /// Multiplicative soft bounds (μ₊ = μ₋ = 1).
    pub const MULTIPLICATIVE: Bounding = Bounding::Soft {
        mu_plus: 1.0,
        mu_minus: 1.0,
    };
}

/// The bounds of a plastic projection's weights (units of the weights).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WeightBounds {
    /// Lowest weight (`weight_min`), if any.
    pub min: Option<f32>,
    /// Highest weight (`weight_max`), if any.
    pub max: Option<f32>,
    /// Weight dependence of the updates.
    pub bounding: Bounding,
}

impl WeightBounds {
    /// No bounds (the default): Δw = U₊ − U₋.
    pub const NONE: WeightBounds = WeightBounds {
        min: None,
        max: None,
        bounding: Bounding::Hard,
    };

    /// Hard bounds: weights are clamped to `[min, max]`.
    pub fn hard(min: Option<f32>, max: Option<f32>) -> Self {
        Self {
            min,
            max,
            bounding: Bounding::Hard,
        }
    }

    /// Soft bounds with exponents μ₊ (`mu_plus`) and μ₋ (`mu_minus`).
    pub fn soft(min: Option<f32>, max: Option<f32>, mu_plus: f32, mu_minus: f32) -> Self {
        Self {
            min,
            max,
            bounding: Bounding::Soft { mu_plus, mu_minus },
        }
    }
}

/// [`WeightBounds`] prepared for the step loop.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    min: f32,
    max: f32,
    soft: bool,
    has_min: bool,
    has_max: bool,
    mu_plus: f32,
    mu_minus: f32,
}

impl Bounds {
    pub(crate) fn new(b: &WeightBounds) -> Self {
        let (soft, mu_plus, mu_minus) = match b.bounding {
            Bounding::Hard => (false, 1.0, 1.0),
            Bounding::Soft { mu_plus, mu_minus } => (true, mu_plus, mu_minus),
        };
        Self {
            min: b.min.unwrap_or(f32::NEG_INFINITY),
            max: b.max.unwrap_or(f32::INFINITY),
            soft,
            has_min: b.min.is_some(),
            has_max: b.max.is_some(),
            mu_plus,
            mu_minus,
        }
    }

    /// Whether `w` lies within the bounds.
    pub(crate) fn contains(&self, w: f32) -> bool {
        w >= self.min && w <= self.max
    }

    /// Whether the update depends on the weight (soft bounds), i.e. potentiation and
    /// depression must be kept apart until they are applied.
    pub(crate) fn is_soft(&self) -> bool {
        self.soft
    }

    /// Applies potentiation `p ≥ 0` and depression `d ≥ 0` to `w` (see the module docs).
    #[inline]
    pub(crate) fn apply(&self, w: &mut f32, p: f32, d: f32) {
        if p == 0.0 && d == 0.0 {
            return;
        }
        let x = *w;
        let next = if self.soft {
            let fp = if self.has_max {
                power((self.max - x).max(0.0), self.mu_plus)
            } else {
                1.0
            };
            let fd = if self.has_min {
                power((x - self.min).max(0.0), self.mu_minus)
            } else {
                1.0
            };
            x + p * fp - d * fd
        } else {
            x + p - d
        };
        *w = next.max(self.min).min(self.max);
    }
}

/// `base^mu` with the common exponents 1 and 0 exact and cheap.
#[inline]
fn power(base: f32, mu: f32) -> f32 {
    if mu == 1.0 {
        base
    } else if mu == 0.0 {
        1.0
    } else {
        base.powf(mu)
    }
}

/// Adds a signed update term to potentiation (`v ≥ 0`) or depression (`v < 0`).
#[inline]
pub(crate) fn split(v: f32, p: &mut f32, d: &mut f32) {
    if v >= 0.0 {
        *p += v;
    } else {
        *d -= v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_bounds_clamp() {
        let b = Bounds::new(&WeightBounds::hard(Some(0.0), Some(1.0)));
        let mut w = 0.9;
        b.apply(&mut w, 0.5, 0.0);
        assert_eq!(w, 1.0);
        b.apply(&mut w, 0.0, 3.0);
        assert_eq!(w, 0.0);
        let none = Bounds::new(&WeightBounds::NONE);
        let mut w = 0.5;
        none.apply(&mut w, 2.0, 0.25);
        assert_eq!(w, 2.25);
    }

    #[test]
    fn soft_bounds_scale_by_distance_to_the_bound() {
        let b = Bounds::new(&WeightBounds::soft(Some(0.0), Some(2.0), 1.0, 1.0));
        let mut w = 1.5;
        b.apply(&mut w, 0.1, 0.2);
        // 1.5 + 0.1·0.5 − 0.2·1.5
        assert!((w - 1.25).abs() < 1e-6, "{w}");
        let p = Bounds::new(&WeightBounds::soft(Some(0.0), Some(2.0), 0.5, 2.0));
        let mut w = 1.0;
        p.apply(&mut w, 0.1, 0.1);
        assert!((w - (1.0 + 0.1 - 0.1)).abs() < 1e-6, "{w}");
        // Only an upper bound: depression unscaled.
        let u = Bounds::new(&WeightBounds::soft(None, Some(1.0), 1.0, 1.0));
        let mut w = 0.5;
        u.apply(&mut w, 0.2, 0.3);
        assert!((w - (0.5 + 0.1 - 0.3)).abs() < 1e-6, "{w}");
    }

    #[test]
    fn split_by_sign() {
        let (mut p, mut d) = (0.0, 0.0);
        split(0.5, &mut p, &mut d);
        split(-0.25, &mut p, &mut d);
        assert_eq!((p, d), (0.5, 0.25));
    }
}
