//! Shared setup for Ember's criterion benches (the benches themselves are in `benches/`).
//!
//! Run them with `cargo bench -p ember-benches` (all) or `cargo bench -p ember-benches
//! --bench cuba`; peer comparisons with Brian2 live in `benches/compare/`.

use ember_engine::{PopulationId, Scenario, SimConfig, Simulation};
use ember_models::Lif;

/// The bundled CUBA scenario text (`scenarios/cuba.toml`).
pub const CUBA: &str = include_str!("../../scenarios/cuba.toml");

/// Builds the bundled CUBA network on `threads` threads; returns it and its step count.
pub fn build_cuba(threads: usize) -> (Simulation, u64) {
    let sc = Scenario::from_toml(CUBA).expect("bundled scenario parses");
    let mut sim = Simulation::new(sc.config(threads).expect("valid config")).expect("simulation");
    ember_models::register_all(&mut sim);
    let h = sim.add_scenario(&sc).expect("bundled scenario builds");
    sim.initialize().expect("schedule builds");
    (sim, h.steps)
}

/// A population of `n` uncoupled LIF neurons (τ 20 ms, Δt 0.1 ms) with a constant drive
/// that makes them fire at about 50 Hz, for measuring the neuron update alone.
pub fn lif_population(n: u32, threads: usize) -> (Simulation, PopulationId) {
    let mut sim = Simulation::new(SimConfig {
        step_time: 0.1,
        threads,
        ..Default::default()
    })
    .expect("simulation");
    let pop = sim
        .add_population(
            "lif",
            n,
            Lif::new(-65.0, -65.0, -50.0, 2.0, 20.0),
            Default::default(),
        )
        .expect("population");
    sim.add_current(pop, 20.0.into(), 0.0, None, None)
        .expect("stimulus");
    sim.initialize().expect("schedule builds");
    (sim, pop)
}
