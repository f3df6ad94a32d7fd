//! A user-written bevy system in the step schedule: a homeostatic current controller.
//!
//! Ember's step is a bevy schedule split into public phases, and a user extends it the way
//! the built-in models do: by putting a system in a phase. Here the user defines a component,
//! `HomeostaticController`, inserts it on a population entity, and adds two systems (see
//! `ember_examples::homeostasis`): one in `Phase::Record` filters the population's spikes
//! into per-neuron rate estimates, one in `Phase::Stimuli` integrates the rate error into a
//! bias current added to `SynapticInput`.
//!
//! 200 LIF neurons (rest = reset = −65 mV, threshold −50 mV, 2 ms refractory, τ = 20 ms,
//! Δt = 0.1 ms) get a constant drive of 10 … 14 nA, below the 15 nA rheobase: alone they never
//! fire. With the controller, each neuron finds the bias that makes it fire at 20 Hz within
//! about two simulated seconds, and the learned bias mirrors its drive deficit (the neurons
//! with the weakest drive need the largest bias).
//!
//! Run with `cargo run --release -p ember-examples --example custom_system`.

use ember_examples::homeostasis::{HomeostasisConfig, run_homeostasis};

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = HomeostasisConfig::default();
    let with = run_homeostasis(&config)?;
    let without = run_homeostasis(&HomeostasisConfig {
        controller: false,
        ..config.clone()
    })?;

    println!(
        "{} LIF neurons, drive {:.0}–{:.0} nA (rheobase 15 nA), target {} Hz",
        config.neurons, config.drive_na.0, config.drive_na.1, config.target_rate_hz,
    );
    println!("second  rate with controller  rate without");
    for (s, (a, b)) in with
        .rate_per_second_hz
        .iter()
        .zip(&without.rate_per_second_hz)
        .enumerate()
    {
        println!("{:>6}  {a:>17.2} Hz  {b:>9.2} Hz", s + 1);
    }
    println!(
        "last second: {:.2} Hz on average (neurons between {:.0} and {:.0} Hz)",
        with.rate_hz, with.min_rate_hz, with.max_rate_hz
    );
    let last = with.drive_na.len() - 1;
    for i in [0, last / 2, last] {
        println!(
            "neuron {i:>3}: drive {:.2} nA + learned bias {:.2} nA = {:.2} nA",
            with.drive_na[i],
            with.bias_na[i],
            with.drive_na[i] + with.bias_na[i]
        );
    }
    Ok(())
}
