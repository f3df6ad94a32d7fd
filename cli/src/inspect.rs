//! `ember validate` and `ember inspect`: check a scenario and describe the network it
//! builds, without running it.
//!
//! Both build the network exactly as `ember run` does (so every error a run would report
//! is reported here, with the same file and field path), then stop before the first step.

use std::fmt::Write as _;

use ember_engine::{Connectivity, Population, Scenario, Weights};

use crate::run::{self, RunError};

/// Builds the scenario's network (1 thread) and discards it: `Ok` means `ember run` would
/// start.
pub fn validate(file: &str, sc: &Scenario) -> Result<(), RunError> {
    run::build(file, sc, 1).map(|_| ())
}

/// A human-readable description of the network: clock, populations (size, model) and
/// projections (rule result: synapse count, storage layout — `sparse` rows, or the
/// target-free `dense`, `lateral` and `diagonal` layouts of `all_to_all` and `one_to_one` —
/// and static memory: targets, per-synapse weights and delays).
pub fn describe(file: &str, sc: &Scenario) -> Result<String, RunError> {
    let (sim, h) = run::build(file, sc, 1)?;
    let s = &sc.simulation;
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(
        w,
        "{file}: {} steps of {} ms ({} ms), seed {}, batch {}",
        h.steps, s.step_time, s.duration, s.seed, s.batch_size
    );
    let _ = writeln!(w, "populations:");
    let mut neurons = 0u64;
    for (spec, (name, id)) in sc.populations.iter().zip(&h.populations) {
        let size = sim.get::<Population>(*id).map_or(0, |p| p.size);
        neurons += u64::from(size);
        let _ = writeln!(w, "  {name:<16} {size:>10} neurons  model {}", spec.model);
    }
    let _ = writeln!(w, "projections:");
    let (mut synapses, mut bytes) = (0usize, 0usize);
    for (spec, (name, id)) in sc.projections.iter().zip(&h.projections) {
        let conn = sim.get_projection::<Connectivity>(*id);
        let n = conn.map_or(0, Connectivity::len);
        let weight_bytes = match sim.get_projection::<Weights>(*id).map(|w| &w.0) {
            Some(ember_engine::Param::PerElement(v)) => v.len() * size_of::<f32>(),
            _ => 0,
        };
        let delay_bytes = sim
            .get_projection::<ember_engine::Delays>(*id)
            .map_or(0, ember_engine::Delays::memory_bytes);
        let mem = conn.map_or(0, Connectivity::memory_bytes) + weight_bytes + delay_bytes;
        synapses += n;
        bytes += mem;
        let layout = match conn.map(Connectivity::layout) {
            Some(ember_engine::projection::Layout::Dense { .. }) => "dense",
            Some(ember_engine::projection::Layout::Lateral { .. }) => "lateral",
            Some(ember_engine::projection::Layout::Diagonal { .. }) => "diagonal",
            _ => "sparse",
        };
        let _ = writeln!(
            w,
            "  {name:<16} {:>8} -> {:<8} {n:>12} synapses {:<10} {:>10}  synapse {}",
            spec.pre,
            spec.post,
            format!("({layout})"),
            human_bytes(mem),
            spec.synapse.model
        );
    }
    let _ = writeln!(
        w,
        "total: {neurons} neurons, {synapses} synapses, {} of synapse storage",
        human_bytes(bytes)
    );
    Ok(out)
}

fn human_bytes(b: usize) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_human_readable() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(2048), "2.0 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 512 * 1024), "3.5 MiB");
    }

    #[test]
    fn describe_counts_neurons_and_synapses() {
        let sc = run::parse("cuba.toml", run::BUNDLED_CUBA).unwrap();
        let text = describe("cuba.toml", &sc).unwrap();
        assert!(
            text.contains("exc                    3200 neurons  model lif"),
            "{text}"
        );
        assert!(text.contains("total: 4000 neurons"), "{text}");
        // p = 0.02 over 4000 × 4000 minus autapses: ≈ 320 000 synapses.
        let total: usize = text
            .lines()
            .find(|l| l.starts_with("total:"))
            .and_then(|l| l.split(", ").nth(1))
            .and_then(|s| s.split(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap();
        assert!((318_000..322_000).contains(&total), "{total}");
    }
}
