//! Neuron models: parameter components, pure step kernels and the systems that run them.

pub mod adaptive_threshold;
pub mod adex;
pub mod eif;
pub mod equation;
pub mod exact;
pub mod izhikevich;
pub mod lif;
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
