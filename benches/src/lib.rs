//! Shared setup for Ember's criterion benches (the benches themselves are in `benches/`).
//!
//! Run them with `cargo bench -p ember-benches` (all) or `cargo bench -p ember-benches
//! --bench cuba`; peer comparisons with Brian2 live in `benches/compare/`.

use ember_engine::{PopulationId, Scenario, SimConfig, Simulation};
use ember_models::Lif;

/// The bundled CUBA scenario text (`scenarios/cuba.toml`).
pub const CUBA: &str = include_str!("../../scenarios/cuba.toml");

/// The bundled COBA scenario text (`scenarios/coba.toml`): CUBA's network with
/// conductance-based synapses (Brette et al. 2007, benchmark 1).
pub const COBA: &str = include_str!("../../scenarios/coba.toml");

/// Builds the bundled CUBA network on `threads` threads; returns it and its step count.
pub fn build_cuba(threads: usize) -> (Simulation, u64) {
    build_scenario(CUBA, threads)
}

/// Builds the bundled COBA network on `threads` threads; returns it and its step count.
pub fn build_coba(threads: usize) -> (Simulation, u64) {
    build_scenario(COBA, threads)
}

/// Builds a bundled scenario's network on `threads` threads; returns it and its step
/// count.
fn build_scenario(text: &str, threads: usize) -> (Simulation, u64) {
    let sc = Scenario::from_toml(text).expect("bundled scenario parses");
    let mut sim = Simulation::new(sc.config(threads).expect("valid config")).expect("simulation");
    ember_models::register_all(&mut sim);
    let h = sim.add_scenario(&sc).expect("bundled scenario builds");
    sim.initialize().expect("schedule builds");
    (sim, h.steps)
}

/// The bundled CUBA network with pair STDP (cumulative traces, τ = 20 ms, hard bounds
/// [0, 2·w]) on its excitatory → excitatory projection (204 310 plastic synapses), for
/// comparing the cost of learning with the static network. Learning rates are small
/// (1 % of the weight per pairing) so the activity stays close to the static network's.
pub fn build_cuba_plastic(threads: usize) -> (Simulation, u64) {
    let marker = "weight = 1.62\n";
    let at = CUBA.find(marker).expect("exc_to_exc weight line") + marker.len();
    let text = format!(
        "{}plasticity = {{ rule = \"stdp\", lr_post = 0.0162, lr_pre = -0.017, tc_post = 20.0, \
         tc_pre = 20.0, weight_min = 0.0, weight_max = 3.24 }}\n{}",
        &CUBA[..at],
        &CUBA[at..]
    );
    let sc = Scenario::from_toml(&text).expect("plastic CUBA parses");
    let mut sim = Simulation::new(sc.config(threads).expect("valid config")).expect("simulation");
    ember_models::register_all(&mut sim);
    let h = sim.add_scenario(&sc).expect("plastic CUBA builds");
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

#[cfg(test)]
mod tests {
    use super::*;
    use ember_engine::{Param, Weights};

    /// The plastic variant learns (exc → exc weights move, within their bounds) and the
    /// network stays active.
    #[test]
    fn plastic_cuba_learns_within_bounds() {
        let (mut sim, _) = build_cuba_plastic(1);
        sim.run_steps(1000).expect("runs");
        let id = sim.projection_id("exc_to_exc").expect("projection");
        let Some(Weights(Param::PerElement(w))) = sim.get_projection::<Weights>(id) else {
            panic!("plastic weights are per synapse");
        };
        assert!(w.iter().all(|&x| (0.0..=3.24).contains(&x)));
        assert!(w.iter().any(|&x| x != 1.62));
    }
}
