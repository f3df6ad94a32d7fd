//! Scale: a CUBA-like network (Brette et al. 2007 benchmark 2: 80 % excitatory LIF neurons,
//! exponential currents, random connectivity) at sizes far beyond the 4000-neuron
//! benchmark, built and run as a user would (`Scenario` → `Simulation::add_scenario`),
//! reporting build time and rate, the time per step, the resident set (`VmRSS` of
//! `/proc/self/status`) and bytes per synapse.
//!
//! ```sh
//! cargo run --release -p ember-benches --bin scale -- NEURONS SYNAPSES_PER_NEURON [THREADS] [MS]
//! cargo run --release -p ember-benches --bin scale -- 1000000 100 2 100   # 10⁸ synapses
//! cargo run --release -p ember-benches --bin scale -- 100000 10000 2 100  # 10⁹ synapses
//! ```
//!
//! Each neuron receives on average K = SYNAPSES_PER_NEURON synapses (`fixed_probability`
//! p = K/N). To keep the CUBA activity regime as K grows, the weights are scaled by 80/K
//! (CUBA's 80 inputs per neuron): we = 1.62·80/K mV, wi = −9·80/K mV. Weights are one value
//! per projection, so a synapse costs its 4-byte target. Linux only. Not part of
//! `cargo test`.

use std::time::Instant;

use ember_engine::scenario::ConnectivitySpec;
use ember_engine::{Connectivity, Scenario, Simulation, SpikeTotal, ValueSpec};

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

/// A field of `/proc/self/status` in kB.
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: f64| -> f64 {
        args.get(i)
            .map_or(default, |s| s.parse().expect("numeric argument"))
    };
    let n = arg(0, 1e6) as u32;
    let k = arg(1, 100.0);
    let threads = arg(2, 2.0) as usize;
    let ms = arg(3, 100.0);

    let mut sc = Scenario::from_toml(ember_benches::CUBA).expect("bundled CUBA parses");
    sc.simulation.duration = ms;
    let exc = n * 4 / 5;
    sc.populations[0].size = exc;
    sc.populations[1].size = n - exc;
    let p = (k / f64::from(n)).min(1.0);
    let scale = 80.0 / k;
    for proj in &mut sc.projections {
        proj.connectivity = ConnectivitySpec::FixedProbability { p, autapses: None };
        if let ValueSpec::Scalar(w) = proj.weight {
            proj.weight = ValueSpec::Scalar(w * scale);
        }
    }

    let before = status_kb("VmRSS");
    let start = Instant::now();
    let mut sim = Simulation::new(sc.config(threads).expect("config")).expect("simulation");
    ember_models::register_all(&mut sim);
    let h = sim.add_scenario(&sc).expect("builds");
    sim.initialize().expect("schedule");
    let build = start.elapsed().as_secs_f64();
    let after_build = status_kb("VmRSS");
    let synapses: usize = h
        .projections
        .iter()
        .map(|(_, id)| {
            sim.get_projection::<Connectivity>(*id)
                .map_or(0, Connectivity::len)
        })
        .sum();

    let start = Instant::now();
    sim.run_steps(h.steps).expect("runs");
    let run = start.elapsed().as_secs_f64();
    let peak = status_kb("VmHWM");
    let spikes: u64 = h
        .populations
        .iter()
        .map(|(_, id)| sim.get::<SpikeTotal>(*id).map_or(0, |t| t.0))
        .sum();

    let growth = (after_build.saturating_sub(before) * 1024) as f64;
    println!(
        "scale: {n} neurons, {synapses} synapses ({:.0} per neuron), {threads} thread(s)",
        synapses as f64 / f64::from(n)
    );
    println!(
        "  build {build:.2} s = {:.3e} synapses/s; VmRSS {before} kB -> {after_build} kB \
         = {:.2} bytes/synapse (network state included); peak VmHWM {peak} kB",
        synapses as f64 / build,
        growth / synapses as f64
    );
    println!(
        "  run {ms} ms ({} steps): {run:.2} s = {:.1} µs/step; {spikes} spikes = {:.2} Hz; \
         {:.3e} synaptic events/s",
        h.steps,
        run / h.steps as f64 * 1e6,
        spikes as f64 / f64::from(n) / (ms / 1000.0),
        spikes as f64 * synapses as f64 / f64::from(n) / run
    );
}
