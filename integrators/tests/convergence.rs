//! Measured global convergence orders of the explicit integrators.
//!
//! For each method, integrate to a fixed time `T` with several step sizes `h`, take the
//! global error `e(h)` at `T` against the exact solution, and fit the slope of
//! `log e` vs `log h` by least squares. The slope must equal the method's order within
//! ±0.25.

use ember_integrators::{Euler, Heun, Integrator, Method, Rk4, State, integrate};
use glam::{DVec2, Vec2};

const TOL: f64 = 0.25;

/// Least-squares slope of `ys` against `xs`.
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    assert_eq!(xs.len(), ys.len());
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().sum::<f64>() / n;
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    sxy / sxx
}

/// Fits the convergence order from `(h, error)` pairs; also checks that every error is
/// far from zero (so the fit measures truncation error, not round-off or an exact hit).
fn fitted_order(label: &str, hs: &[f64], errors: &[f64], floor: f64) -> f64 {
    for (h, e) in hs.iter().zip(errors) {
        assert!(
            e.is_finite() && *e > floor,
            "{label}: error {e:e} at h = {h} is not above the round-off floor {floor:e}"
        );
    }
    let lx: Vec<f64> = hs.iter().map(|h| h.ln()).collect();
    let ly: Vec<f64> = errors.iter().map(|e| e.ln()).collect();
    let p = slope(&lx, &ly);
    let errs: Vec<String> = errors.iter().map(|e| format!("{e:.3e}")).collect();
    eprintln!(
        "{label}: h = {hs:?}, errors = [{}], fitted order = {p:.4}",
        errs.join(", ")
    );
    p
}

fn assert_order(label: &str, measured: f64, expected: u32) {
    assert!(
        (measured - f64::from(expected)).abs() <= TOL,
        "{label}: measured order {measured:.4}, expected {expected} ± {TOL}"
    );
}

/// Number of steps of size `h` to reach `t_end`, checking `h` divides it.
fn steps(t_end: f64, h: f64) -> usize {
    let n = (t_end / h).round();
    assert!(
        (n * h - t_end).abs() < 1e-12,
        "h = {h} does not divide T = {t_end}"
    );
    n as usize
}

/// Global error at `t_end` for `dy/dt = −y`, `y(0) = 1`; exact `e^{−t}`.
fn decay_error<I: Integrator>(i: &I, h: f64, t_end: f64) -> f64 {
    let y = integrate(i, |y: f64| -y, 1.0, h, steps(t_end, h));
    (y - (-t_end).exp()).abs()
}

/// Global error at `t_end` for the rotation `d(x, y)/dt = (−y, x)`, `(x, y)(0) = (1, 0)`;
/// exact `(cos t, sin t)`. Error is the Euclidean distance.
fn rotation_error_f64<I: Integrator>(i: &I, h: f64, t_end: f64) -> f64 {
    let p = integrate(
        i,
        |p: DVec2| DVec2::new(-p.y, p.x),
        DVec2::X,
        h,
        steps(t_end, h),
    );
    p.distance(DVec2::new(t_end.cos(), t_end.sin()))
}

/// Same rotation with the `f32` glam `Vec2` state; error measured in `f64`.
fn rotation_error_f32<I: Integrator>(i: &I, h: f64, t_end: f64) -> f64 {
    let p = integrate(
        i,
        |p: Vec2| Vec2::new(-p.y, p.x),
        Vec2::X,
        h as f32,
        steps(t_end, h),
    );
    let (x, y) = (f64::from(p.x), f64::from(p.y));
    (x - t_end.cos()).hypot(y - t_end.sin())
}

/// Step sizes and end time per method for the f64 fits. RK4 uses coarser steps and a
/// longer horizon so its error stays many orders of magnitude above f64 round-off.
fn f64_setup(order: u32) -> (&'static [f64], f64) {
    match order {
        4 => (&[0.2, 0.1, 0.05, 0.025], 2.0),
        _ => (&[0.1, 0.05, 0.025, 0.0125], 1.0),
    }
}

fn check_method<I: Integrator>(name: &str, i: &I) {
    let (hs, t_end) = f64_setup(i.order());

    let errors: Vec<f64> = hs.iter().map(|&h| decay_error(i, h, t_end)).collect();
    let p = fitted_order(&format!("{name} dy/dt=-y (f64)"), hs, &errors, 1e-11);
    assert_order(name, p, i.order());

    let errors: Vec<f64> = hs
        .iter()
        .map(|&h| rotation_error_f64(i, h, t_end))
        .collect();
    let p = fitted_order(&format!("{name} rotation (DVec2)"), hs, &errors, 1e-11);
    assert_order(name, p, i.order());
}

#[test]
fn euler_is_first_order() {
    check_method("euler", &Euler);
}

#[test]
fn heun_is_second_order() {
    check_method("heun", &Heun);
}

#[test]
fn rk4_is_fourth_order() {
    check_method("rk4", &Rk4);
}

#[test]
fn method_enum_has_the_same_orders() {
    for m in Method::ALL {
        let (hs, t_end) = f64_setup(m.order());
        let errors: Vec<f64> = hs.iter().map(|&h| decay_error(&m, h, t_end)).collect();
        let p = fitted_order(&format!("Method::{m:?} dy/dt=-y (f64)"), hs, &errors, 1e-11);
        assert_order(m.name(), p, m.order());
    }
}

/// The f32 glam path: coarse steps keep the truncation error far above f32 round-off
/// (~1e-7 here, versus a smallest RK4 error of ~1.6e-6), so even RK4's order is measurable in single precision.
#[test]
fn rotation_in_f32_vec2() {
    let hs = [0.4, 0.2, 0.1];
    let t_end = 2.0;
    for m in Method::ALL {
        let errors: Vec<f64> = hs
            .iter()
            .map(|&h| rotation_error_f32(&m, h, t_end))
            .collect();
        let p = fitted_order(&format!("{m} rotation (Vec2, f32)"), &hs, &errors, 1e-6);
        assert_order(m.name(), p, m.order());
    }
}

/// Sanity check of the fitting helper itself on synthetic data.
#[test]
fn slope_fit_recovers_known_power() {
    let hs = [0.1, 0.05, 0.025, 0.0125];
    let es: Vec<f64> = hs.iter().map(|h: &f64| 3.0 * h.powi(3)).collect();
    let lx: Vec<f64> = hs.iter().map(|h| h.ln()).collect();
    let ly: Vec<f64> = es.iter().map(|e| e.ln()).collect();
    assert!((slope(&lx, &ly) - 3.0).abs() < 1e-12);
}

/// A generic state check that the rotation preserves nothing it should not: after one
/// full period RK4 returns close to the start, Euler spirals outwards (|R(ih)| > 1).
#[test]
fn rotation_qualitative_behaviour() {
    let h = std::f64::consts::TAU / 64.0;
    let f = |p: DVec2| DVec2::new(-p.y, p.x);
    let rk4 = integrate(&Rk4, f, DVec2::X, h, 64);
    let euler = integrate(&Euler, f, DVec2::X, h, 64);
    assert!(rk4.distance(DVec2::X) < 1e-5);
    assert!(euler.length() > 1.3);
    // State arithmetic is consistent with glam's own operators.
    assert_eq!(
        DVec2::X.add_scaled(h, f(DVec2::X)),
        DVec2::X + f(DVec2::X) * h
    );
}
