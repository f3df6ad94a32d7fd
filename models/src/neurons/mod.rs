//! Neuron models: parameter components, pure step kernels and the systems that run them.

pub mod adaptive_threshold;
pub mod adex;
pub mod eif;
pub mod equation;
pub mod exact;
pub mod izhikevich;
pub mod lif;
#[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
mod lif_lanes;
mod lif_push;
pub mod qif;

/// Below this many neurons per batch copy a kernel runs on one thread: handing a section to
/// the step's thread team ([`ember_engine::parallel`], ≈ 0.2 µs plus imbalance) costs more
/// than it saves (a light kernel updates ~10⁴ neurons per µs on this machine class).
pub const PARALLEL_MIN_NEURONS: usize = 8_192;

/// Inferno's refractory countdown `max(r − Δt, 0)` applied to `r_minus_dt = r − Δt`, with
/// remaining times below 10⁻⁴·Δt treated as elapsed so that f32 round-off in the repeated
/// subtraction never lengthens the refractory period by a step.
#[inline(always)]
pub fn settle_refractory(r_minus_dt: f32, dt: f32) -> f32 {
    if r_minus_dt < dt * 1e-4 {
        0.0
    } else {
        r_minus_dt
    }
}

/// [`settle_refractory`] together with whether the period has elapsed: returns
/// `(rem, elapsed)` with `rem = settle_refractory(r_minus_dt, dt)` and `elapsed` exactly
/// `rem == 0.0` (also for NaN: not elapsed), but taken from the one comparison the
/// countdown makes, so a vectorised kernel does not compare `rem` with zero again.
#[inline(always)]
pub fn settle_refractory_elapsed(r_minus_dt: f32, dt: f32) -> (f32, bool) {
    // `rem` is 0 exactly when the comparison holds: otherwise it is r − Δt ≥ 10⁻⁴·Δt > 0
    // (Δt > 0 is validated) or NaN.
    let elapsed = r_minus_dt < dt * 1e-4;
    (if elapsed { 0.0 } else { r_minus_dt }, elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_is_exactly_a_zero_remainder() {
        let dt = 0.1f32;
        let thr = dt * 1e-4;
        let below = f32::from_bits(thr.to_bits() - 1);
        for r_minus_dt in [
            -dt,
            -0.0,
            0.0,
            below,
            thr,
            f32::from_bits(thr.to_bits() + 1),
            0.05,
            1.9,
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ] {
            let (rem, elapsed) = settle_refractory_elapsed(r_minus_dt, dt);
            let settled = settle_refractory(r_minus_dt, dt);
            assert_eq!(rem.to_bits(), settled.to_bits(), "{r_minus_dt}");
            assert_eq!(elapsed, settled == 0.0, "{r_minus_dt}");
        }
        assert!(settle_refractory_elapsed(below, dt).1);
        assert!(!settle_refractory_elapsed(thr, dt).1);
    }
}
