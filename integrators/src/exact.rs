//! Exact integration of linear relaxation `dx/dt = (x∞ − x)/τ` (exponential Euler).

use crate::{Scalar, State};

/// Per-step decay factor `e^(−h/τ)` for [`relax_exact`].
///
/// Precompute it once per `(h, τ)` pair; it is the same for every step and every neuron
/// sharing the time constant. Limits: `τ = ∞` or `h = 0` give `1` (no change),
/// `τ → 0⁺` gives `0` (instant relaxation to `x∞`); `h = τ = 0` gives NaN.
#[inline]
pub fn decay_factor<T: Scalar>(h: T, tau: T) -> T {
    (-(h / tau)).exp()
}

/// One exact step of the linear relaxation
///
/// ```text
/// dx/dt = (x∞ − x) / τ
/// ```
///
/// with `x∞` held constant over the step:
///
/// ```text
/// x(t + h) = x∞ + (x(t) − x∞) · e^(−h/τ)
/// ```
///
/// where `decay = e^(−h/τ)` comes from [`decay_factor`]. Unlike the explicit methods this
/// has no truncation error and is unconditionally stable for any `h ≥ 0`; `n` steps
/// reproduce `x∞ + (x0 − x∞) · e^(−n·h/τ)` up to rounding.
///
/// Generic over [`State`], so it applies component-wise to `f32`, `f64`, glam vectors and
/// arrays alike (for vectors, all components share one `τ`).
#[inline]
pub fn relax_exact<S: State>(x: S, x_inf: S, decay: S::Scalar) -> S {
    x_inf.add_scaled(decay, x.minus(x_inf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decay_factor_values_and_limits() {
        assert!((decay_factor(1.0_f32, 10.0) - 0.904_837_4).abs() < 1e-7);
        assert!((decay_factor(0.5_f64, 2.0) - (-0.25_f64).exp()).abs() < 1e-16);
        assert_eq!(decay_factor(0.0_f32, 5.0), 1.0);
        assert_eq!(decay_factor(1.0_f32, f32::INFINITY), 1.0);
        assert_eq!(decay_factor(1.0_f64, 0.0), 0.0);
    }

    #[test]
    fn relax_exact_endpoints() {
        assert_eq!(relax_exact(-70.0_f32, -50.0, 1.0), -70.0);
        assert_eq!(relax_exact(-70.0_f32, -50.0, 0.0), -50.0);
        assert_eq!(relax_exact(-70.0_f64, -50.0, 0.5), -60.0);
        assert_eq!(relax_exact([2.0_f32, -4.0], [0.0, 0.0], 0.25), [0.5, -1.0]);
    }

    #[test]
    fn relax_exact_satisfies_the_ode() {
        // Central difference of the exact step in h reproduces (x∞ − x)/τ.
        let (x, x_inf, tau, t) = (-65.0_f64, -40.0, 8.0, 3.0);
        let sol = |t: f64| relax_exact(x, x_inf, decay_factor(t, tau));
        let d = 1e-5;
        let deriv = (sol(t + d) - sol(t - d)) / (2.0 * d);
        assert!((deriv - (x_inf - sol(t)) / tau).abs() < 1e-8);
    }

    #[test]
    fn n_steps_match_closed_form_f32() {
        let (x0, x_inf, tau, h) = (-70.0_f32, -45.0_f32, 10.0_f32, 0.5_f32);
        let decay = decay_factor(h, tau);
        let mut x = x0;
        for n in 1..=200 {
            x = relax_exact(x, x_inf, decay);
            let t = f64::from(h) * n as f64;
            let closed = f64::from(x_inf) + f64::from(x0 - x_inf) * (-t / f64::from(tau)).exp();
            let rel = ((f64::from(x) - closed) / closed).abs();
            assert!(
                rel <= 1e-6,
                "step {n}: {x} vs closed form {closed} (rel {rel:e})"
            );
        }
        // After 200 steps (t = 10 τ) the state is essentially at x∞ but not past it.
        assert!(x < x_inf && x_inf - x < 25.0 * 5e-5);
    }

    #[test]
    fn n_steps_match_closed_form_f64_vector() {
        let x0 = glam::DVec3::new(-70.0, 0.0, 3.0);
        let x_inf = glam::DVec3::new(-50.0, 1.0, 3.0);
        let (tau, h) = (7.0, 0.1);
        let decay = decay_factor(h, tau);
        let mut x = x0;
        for n in 1..=100 {
            x = relax_exact(x, x_inf, decay);
            let closed = x_inf + (x0 - x_inf) * (-(h * n as f64) / tau).exp();
            assert!((x - closed).abs().max_element() <= 1e-12 * closed.abs().max_element());
        }
    }
}
