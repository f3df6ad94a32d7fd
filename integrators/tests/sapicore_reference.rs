//! Reference traces from Sapicore (h = 1 ms, f32 state).
//!
//! "Equation neuron": `dV/dt = (−(V − V_rest) + I/g_L)/τ_mem` with V_rest = −75,
//! g_L = 5, τ_mem = 5, I = 100, V(0) = −75. The fixed point is V∞ = V_rest + I/g_L = −55,
//! exactly the firing threshold, so the membrane approaches it from below and must never
//! reach it.
//!
//! LIF exact relaxation: x = −60 relaxing towards x∞ = −45 with h = 1, τ = 10.

use ember_integrators::{Euler, Integrator, Method, Rk4, decay_factor, relax_exact};

const V_REST: f32 = -75.0;
const G_L: f32 = 5.0;
const TAU_MEM: f32 = 5.0;
const I_EXT: f32 = 100.0;
const H: f32 = 1.0;
const THRESHOLD: f32 = -55.0;

/// V after steps 1..=10 (index 0 is the value after the first step).
const RK4_REFERENCE: [f32; 10] = [
    -71.37466, -68.40649, -65.97633, -63.98669, -62.3577, -61.024, -59.93205, -59.03803, -58.30607,
    -57.70679,
];
const EULER_REFERENCE: [f32; 10] = [
    -71.0, -67.8, -65.24001, -63.19201, -61.5536, -60.24288, -59.19431, -58.35545, -57.68436,
    -57.14748,
];

const REL_TOL: f32 = 1e-4;

fn dvdt(v: f32) -> f32 {
    (-(v - V_REST) + I_EXT / G_L) / TAU_MEM
}

fn trace<I: Integrator>(i: &I, steps: usize) -> Vec<f32> {
    let mut v = V_REST;
    (0..steps)
        .map(|_| {
            v = i.step(dvdt, v, H);
            v
        })
        .collect()
}

fn assert_matches(label: &str, got: &[f32], expected: &[f32]) {
    assert_eq!(got.len(), expected.len());
    for (k, (g, e)) in got.iter().zip(expected).enumerate() {
        let rel = ((g - e) / e).abs();
        assert!(
            rel <= REL_TOL,
            "{label} step {}: got {g}, Sapicore {e} (relative error {rel:e})",
            k + 1
        );
    }
    eprintln!("{label}: {got:?}");
}

fn assert_subthreshold(label: &str, v: &[f32]) {
    for (k, pair) in v.windows(2).enumerate() {
        assert!(
            pair[1] >= pair[0],
            "{label}: not monotone at step {}",
            k + 2
        );
    }
    if let Some(k) = v.iter().position(|&x| x >= THRESHOLD) {
        panic!(
            "{label}: reached threshold {THRESHOLD} at step {}: {}",
            k + 1,
            v[k]
        );
    }
}

#[test]
fn rk4_matches_sapicore_trace() {
    assert_matches("rk4", &trace(&Rk4, 10), &RK4_REFERENCE);
    assert_matches("Method::Rk4", &trace(&Method::Rk4, 10), &RK4_REFERENCE);
}

#[test]
fn euler_matches_sapicore_trace() {
    assert_matches("euler", &trace(&Euler, 10), &EULER_REFERENCE);
    assert_matches(
        "Method::Euler",
        &trace(&Method::Euler, 10),
        &EULER_REFERENCE,
    );
}

#[test]
fn the_two_references_are_distinguishable() {
    // Guard against a tolerance so loose that Euler would pass as RK4 or vice versa.
    let differs = RK4_REFERENCE
        .iter()
        .zip(&EULER_REFERENCE)
        .all(|(a, b)| ((a - b) / b).abs() > 10.0 * REL_TOL);
    assert!(differs);
}

#[test]
fn never_reaches_threshold_in_100_steps() {
    for m in Method::ALL {
        let v = trace(&m, 100);
        assert_subthreshold(m.name(), &v);
        eprintln!("{m}: V after 100 steps = {}", v[99]);
    }
}

#[test]
fn lif_exact_relaxation_reference() {
    let x = -60.0_f32;
    let x_inf = -60.0_f32 + 15.0;
    let v = relax_exact(x, x_inf, decay_factor(1.0_f32, 10.0));
    let expected = -58.57256_f32;
    assert!(
        ((v - expected) / expected).abs() <= 1e-5,
        "relax_exact gave {v}, reference {expected}"
    );
    // The same in f64 (generic path).
    let v64 = relax_exact(-60.0_f64, -45.0, decay_factor(1.0_f64, 10.0));
    assert!(((v64 - -58.57256) / -58.57256).abs() <= 1e-6);
}
