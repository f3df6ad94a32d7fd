//! A neuron model Ember does not ship, defined in user code: the resonate-and-fire neuron.
//!
//! `ember_examples::custom_model` defines `ResonateAndFire` exactly the way the built-in
//! models are defined — a parameter component implementing `NeuronModel`, a pure kernel over
//! slices, a system in `Phase::Integrate`, and `sim.register_neuron_model::<ResonateAndFire>()`
//! — and nothing else. The model then works everywhere a built-in model does: next to `lif`
//! populations and `delta_current` projections, and by name in a scenario file.
//!
//! Three LIF drivers fire at about 25, 50 and 100 Hz; each drives one resonator tuned to
//! 50 Hz (damping τ = 40 ms). A resonator's response to a pulse is a damped oscillation, so
//! only pulses arriving in phase with it add up: the resonator driven at 50 Hz fires, the one
//! driven at 100 Hz — with twice the input — never does, since every second pulse arrives in
//! anti-phase and cancels the first.
//!
//! Run with `cargo run --release -p ember-examples --example custom_model`.

use ember_examples::custom_model::{
    RESONANCE_SCENARIO, ResonanceConfig, ResonanceResult, run_resonance, run_resonance_scenario,
};

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = ResonanceConfig::default();
    let r = run_resonance(&config)?;
    let n = config.drive_na.len();
    let drivers = ResonanceResult::counts(&r.driver_spikes, n);
    let resonators = ResonanceResult::counts(&r.resonator_spikes, n);
    let seconds = config.duration_ms / 1000.0;
    println!(
        "{} ms; resonators: f = {} Hz, τ_d = {} ms, threshold {} mV above rest",
        config.duration_ms,
        config.resonator.frequency,
        config.resonator.tc_damping,
        config.resonator.thresh_v - config.resonator.rest_v
    );
    println!("driver  drive (nA)  driver rate  resonator spikes");
    for j in 0..n {
        println!(
            "{j:>6}  {:>10.3}  {:>8.1} Hz  {:>16}",
            config.drive_na[j],
            f64::from(drivers[j]) / seconds,
            resonators[j]
        );
    }
    let from_file = run_resonance_scenario(RESONANCE_SCENARIO)?;
    println!(
        "the same network from a scenario file: {} driver and {} resonator spikes ({})",
        from_file.driver_spikes.len(),
        from_file.resonator_spikes.len(),
        if from_file == r {
            "identical"
        } else {
            "DIFFERENT"
        }
    );
    Ok(())
}
