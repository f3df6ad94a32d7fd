//! The homeostatic controller of the `custom_system` example reaches its target rate.

use ember_examples::homeostasis::{HomeostasisConfig, run_homeostasis};

/// Small enough for a debug build: 50 neurons, 3 simulated seconds.
fn config(controller: bool) -> HomeostasisConfig {
    HomeostasisConfig {
        neurons: 50,
        duration_ms: 3_000.0,
        controller,
        ..Default::default()
    }
}

#[test]
fn controller_converges_to_the_target_rate() {
    let r = run_homeostasis(&config(true)).unwrap();
    let target = r.target_rate_hz;
    assert!(
        (r.rate_hz - target).abs() <= 0.15 * target,
        "last-second rate {} Hz, target {target} Hz (history {:?})",
        r.rate_hz,
        r.rate_per_second_hz
    );
    // Every neuron, not just the mean, is regulated.
    assert!(
        r.min_rate_hz >= 0.85 * target && r.max_rate_hz <= 1.15 * target,
        "{r:?}"
    );
    // The learned bias compensates the drive: weaker drive, larger bias.
    assert!(
        r.bias_na.windows(2).all(|w| w[0] >= w[1]),
        "{:?}",
        r.bias_na
    );
}

#[test]
fn without_the_controller_the_rate_is_far_from_target() {
    let r = run_homeostasis(&config(false)).unwrap();
    assert!(r.rate_hz < 0.5 * r.target_rate_hz, "{r:?}");
    assert!(r.bias_na.is_empty());
}
