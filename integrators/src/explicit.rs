//! Explicit one-step Runge–Kutta integrators: [`Euler`], [`Heun`] and [`Rk4`], and the
//! [`Integrator`] trait they implement.
//!
//! All of them solve the autonomous initial value problem `dx/dt = f(x)` over one step of
//! size `h`. Inputs (synaptic currents, external drive, parameters) are held constant
//! across the stages of a step: the caller captures them in the closure `f`.

use crate::{Scalar, State};

/// A one-step method for `dx/dt = f(x)`.
///
/// `step(f, x, h)` returns the approximation of `x(t + h)` given `x = x(t)`. The
/// derivative `f` is treated as time-independent within the step (every input is frozen
/// at its value at the start of the step), so `f` is a function of the state only.
///
/// The trait has a generic method and is therefore not object-safe; use
/// [`Method`](crate::Method) to choose a method at run time.
pub trait Integrator {
    /// Global order of accuracy `p`: the error at a fixed time `T` is `O(h^p)` and the
    /// local (one-step) error is `O(h^(p+1))`.
    fn order(&self) -> u32;

    /// Number of evaluations of `f` per step.
    fn stages(&self) -> u32;

    /// Advances `x` by one step of size `h` under `dx/dt = f(x)`.
    fn step<S: State, F: FnMut(S) -> S>(&self, f: F, x: S, h: S::Scalar) -> S;
}

/// Forward (explicit) Euler method, order 1, one stage.
///
/// ```text
/// x_{n+1} = x_n + h · f(x_n)
/// ```
///
/// Local error `O(h²)`, global error `O(h)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Euler;

impl Integrator for Euler {
    #[inline]
    fn order(&self) -> u32 {
        1
    }

    #[inline]
    fn stages(&self) -> u32 {
        1
    }

    #[inline]
    fn step<S: State, F: FnMut(S) -> S>(&self, mut f: F, x: S, h: S::Scalar) -> S {
        x.add_scaled(h, f(x))
    }
}

/// Heun's method (explicit trapezoidal rule, "improved Euler"), order 2, two stages.
///
/// ```text
/// k1 = f(x_n)
/// k2 = f(x_n + h · k1)
/// x_{n+1} = x_n + h/2 · (k1 + k2)
/// ```
///
/// Local error `O(h³)`, global error `O(h²)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Heun;

impl Integrator for Heun {
    #[inline]
    fn order(&self) -> u32 {
        2
    }

    #[inline]
    fn stages(&self) -> u32 {
        2
    }

    #[inline]
    fn step<S: State, F: FnMut(S) -> S>(&self, mut f: F, x: S, h: S::Scalar) -> S {
        let k1 = f(x);
        let k2 = f(x.add_scaled(h, k1));
        x.add_scaled(h * S::Scalar::half(), k1.plus(k2))
    }
}

/// The classic fourth-order Runge–Kutta method, four stages.
///
/// ```text
/// k1 = f(x_n)
/// k2 = f(x_n + h/2 · k1)
/// k3 = f(x_n + h/2 · k2)
/// k4 = f(x_n + h · k3)
/// x_{n+1} = x_n + h/6 · (k1 + 2·k2 + 2·k3 + k4)
/// ```
///
/// Local error `O(h⁵)`, global error `O(h⁴)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rk4;

impl Integrator for Rk4 {
    #[inline]
    fn order(&self) -> u32 {
        4
    }

    #[inline]
    fn stages(&self) -> u32 {
        4
    }

    #[inline]
    fn step<S: State, F: FnMut(S) -> S>(&self, mut f: F, x: S, h: S::Scalar) -> S {
        let two = S::Scalar::two();
        let half_h = h * S::Scalar::half();
        let k1 = f(x);
        let k2 = f(x.add_scaled(half_h, k1));
        let k3 = f(x.add_scaled(half_h, k2));
        let k4 = f(x.add_scaled(h, k3));
        let sum = k1.add_scaled(two, k2).add_scaled(two, k3).plus(k4);
        x.add_scaled(h / S::Scalar::from_f64(6.0), sum)
    }
}

/// Applies `steps` consecutive steps of size `h` to `x0` with `integrator`, returning
/// `x(t0 + steps · h)`. The derivative `f` is the same for every step.
#[inline]
pub fn integrate<I, S, F>(integrator: &I, mut f: F, x0: S, h: S::Scalar, steps: usize) -> S
where
    I: Integrator,
    S: State,
    F: FnMut(S) -> S,
{
    let mut x = x0;
    for _ in 0..steps {
        x = integrator.step(&mut f, x, h);
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Method;

    /// One step on the linear test equation `dx/dt = λx` multiplies `x` by the method's
    /// stability polynomial `R(z)`, `z = hλ`: the truncated Taylor series of `e^z`.
    fn one_linear_step<I: Integrator>(i: &I, lambda: f64, h: f64) -> f64 {
        i.step(|x: f64| lambda * x, 1.0, h)
    }

    #[test]
    fn stability_polynomials() {
        for &(lambda, h) in &[(-1.0, 0.1), (-3.0, 0.25), (2.0, 0.5), (-0.7, 1.3)] {
            let z: f64 = lambda * h;
            let euler = 1.0 + z;
            let heun = euler + z * z / 2.0;
            let rk4 = heun + z.powi(3) / 6.0 + z.powi(4) / 24.0;
            assert!((one_linear_step(&Euler, lambda, h) - euler).abs() < 1e-14);
            assert!((one_linear_step(&Heun, lambda, h) - heun).abs() < 1e-14);
            assert!((one_linear_step(&Rk4, lambda, h) - rk4).abs() < 1e-14);
        }
    }

    #[test]
    fn stage_counts_match_evaluations() {
        fn count<I: Integrator>(i: &I) -> u32 {
            let mut calls = 0;
            let _ = i.step(
                |x: f32| {
                    calls += 1;
                    -x
                },
                1.0,
                0.1,
            );
            calls
        }
        assert_eq!(count(&Euler), Euler.stages());
        assert_eq!(count(&Heun), Heun.stages());
        assert_eq!(count(&Rk4), Rk4.stages());
        assert_eq!([Euler.stages(), Heun.stages(), Rk4.stages()], [1, 2, 4]);
        assert_eq!([Euler.order(), Heun.order(), Rk4.order()], [1, 2, 4]);
    }

    #[test]
    fn exact_on_polynomials_up_to_order() {
        // Autonomous system (t, y) with dt/dt = 1, dy/dt = t^p has the exact solution
        // y = t^(p+1)/(p+1). A method of order p integrates it exactly from t = 0.
        fn poly<I: Integrator>(i: &I, p: i32, h: f64) -> f64 {
            let [_, y] = i.step(|[t, _]: [f64; 2]| [1.0, t.powi(p)], [0.0, 0.0], h);
            y
        }
        let h = 0.7;
        assert!((poly(&Euler, 0, h) - h).abs() < 1e-15);
        assert!((poly(&Heun, 1, h) - h * h / 2.0).abs() < 1e-15);
        assert!((poly(&Rk4, 3, h) - h.powi(4) / 4.0).abs() < 1e-15);
        // ...and one order beyond is not exact (guards against a wrong method order).
        assert!((poly(&Euler, 1, h) - h * h / 2.0).abs() > 1e-3);
        assert!((poly(&Heun, 2, h) - h.powi(3) / 3.0).abs() > 1e-3);
        assert!((poly(&Rk4, 4, h) - h.powi(5) / 5.0).abs() > 1e-4);
    }

    #[test]
    fn integrate_repeats_steps() {
        let f = |x: f64| -2.0 * x;
        let mut x = 3.0;
        for _ in 0..7 {
            x = Rk4.step(f, x, 0.05);
        }
        assert_eq!(integrate(&Rk4, f, 3.0, 0.05, 7), x);
        assert_eq!(integrate(&Euler, f, 3.0, 0.05, 0), 3.0);
        assert!((integrate(&Euler, f, 3.0, 0.05, 2) - 3.0 * 0.9 * 0.9).abs() < 1e-15);
    }

    #[test]
    fn vector_states_decay_component_wise() {
        use glam::{Vec3, Vec4};
        // dx_i/dt = −x_i / τ_i, decoupled; RK4 with h = 0.1 to t = 1 is accurate to ~1e-6.
        let taus = [0.5_f32, 1.0, 2.0, 4.0];
        let h = 0.1_f32;
        let exact: [f32; 4] = core::array::from_fn(|i| (1.0 + i as f32) * (-1.0 / taus[i]).exp());

        let arr = integrate(
            &Rk4,
            |x: [f32; 3]| core::array::from_fn(|i| -x[i] / taus[i]),
            [1.0, 2.0, 3.0],
            h,
            10,
        );
        let v3 = integrate(
            &Rk4,
            |x: Vec3| -x / Vec3::new(taus[0], taus[1], taus[2]),
            Vec3::new(1.0, 2.0, 3.0),
            h,
            10,
        );
        let v4 = integrate(
            &Method::Heun,
            |x: Vec4| -x / Vec4::from_array(taus),
            Vec4::new(1.0, 2.0, 3.0, 4.0),
            h,
            10,
        );
        for i in 0..3 {
            assert!(
                (arr[i] - exact[i]).abs() < 1e-5,
                "[f32; 3][{i}] = {}",
                arr[i]
            );
            assert!((v3[i] - exact[i]).abs() < 1e-5, "Vec3[{i}] = {}", v3[i]);
        }
        // Heun's error is O(h²): looser, but still far tighter than the decay itself.
        for i in 0..4 {
            assert!((v4[i] - exact[i]).abs() < 5e-3, "Vec4[{i}] = {}", v4[i]);
            assert!(
                (v4[i] - exact[i]).abs() > 1e-6,
                "Heun should not be exact here"
            );
        }
    }
}
