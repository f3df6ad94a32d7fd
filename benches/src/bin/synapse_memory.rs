//! Synapse memory and build rate at scale: builds one `fixed_probability` projection of
//! about `SYNAPSES` synapses (default 10⁸: 100 000 × 100 000 LIF neurons at p = 0.01) through
//! `Simulation::add_projection`, as a user would, and reports the build time, the build
//! rate, the resident-set growth (`VmRSS` of `/proc/self/status`) and bytes per synapse —
//! with a scalar weight, with per-synapse weights (`uniform`), and with per-synapse weights
//! and per-synapse delays (`uniform` in [0.1, 3] ms; the delays' growth is measured
//! separately as the `set_delays` step), each in a fresh process (freed build scratch stays in the allocator's arenas, so a second build in the
//! same process would show inflated growth).
//!
//! ```sh
//! cargo run --release -p ember-benches --bin synapse_memory -- [SYNAPSES] [THREADS] [VARIANT]
//! ```
//!
//! `SYNAPSES` defaults to 1e8, `THREADS` to 1; `VARIANT` (`scalar`, `per_synapse` or
//! `per_synapse_delays`) runs
//! one variant in this process, otherwise both run, each in a child process.
//!
//! Linux only (reads `/proc/self/status`). Not part of `cargo test`.

use std::time::Instant;

use ember_engine::{ConnectRule, Connectivity, DelayMode, SimConfig, Simulation, ValueSpec};
use ember_models::{DeltaCurrent, Lif};

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

const P: f64 = 0.01;

/// A field of `/proc/self/status` in kB (e.g. `VmRSS`, `VmHWM`).
fn status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn measure(label: &str, n: u32, threads: usize, weights: ValueSpec, delays: bool) {
    let mut sim = Simulation::new(SimConfig {
        threads,
        ..Default::default()
    })
    .expect("simulation");
    let lif = || Lif::new(-65.0, -65.0, -50.0, 2.0, 20.0);
    let pre = sim
        .add_population("pre", n, lif(), Default::default())
        .expect("population");
    let post = sim
        .add_population("post", n, lif(), Default::default())
        .expect("population");
    let rule = ConnectRule::FixedProbability {
        p: P,
        autapses: true,
    };
    let synapse = DeltaCurrent { spike_charge: 1.0 };

    let before = status_kb("VmRSS");
    let start = Instant::now();
    let id = sim
        .add_projection(None, pre, post, &rule, weights, synapse)
        .expect("projection");
    let secs = start.elapsed().as_secs_f64();
    let after = status_kb("VmRSS");
    let peak = status_kb("VmHWM");

    let synapses = sim
        .world()
        .get::<Connectivity>(id.0)
        .expect("projection has connectivity")
        .len();
    let growth = after.saturating_sub(before) * 1024;
    println!(
        "{label}: {synapses} synapses ({n} x {n}, p = {P}), {threads} thread(s): \
         build {secs:.2} s = {:.3e} synapses/s; VmRSS {before} kB -> {after} kB \
         (+{:.1} MiB; process peak VmHWM {peak} kB) = {:.2} bytes/synapse",
        synapses as f64 / secs,
        growth as f64 / (1024.0 * 1024.0),
        growth as f64 / synapses as f64,
    );
    if delays {
        let start = Instant::now();
        sim.set_delays(
            id,
            &ValueSpec::Uniform { lo: 0.1, hi: 3.0 },
            DelayMode::Previous,
            None,
        )
        .expect("delays");
        let secs = start.elapsed().as_secs_f64();
        let with_delays = status_kb("VmRSS");
        let extra = with_delays.saturating_sub(after) * 1024;
        let total = with_delays.saturating_sub(before) * 1024;
        println!(
            "  + per-synapse delays: set in {secs:.2} s; VmRSS -> {with_delays} kB \
             (+{:.2} bytes/synapse for the delays) = {:.2} bytes/synapse in all",
            extra as f64 / synapses as f64,
            total as f64 / synapses as f64,
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let synapses: f64 = args
        .first()
        .map_or(1e8, |s| s.parse().expect("SYNAPSES: a number, e.g. 1e8"));
    let threads: usize = args
        .get(1)
        .map_or(1, |s| s.parse().expect("THREADS: an integer"));
    let n = (synapses / P).sqrt().round() as u32;
    match args.get(2).map(String::as_str) {
        Some("scalar") => measure("scalar weight", n, threads, ValueSpec::Scalar(0.5), false),
        Some("per_synapse") => measure(
            "per-synapse weights (uniform)",
            n,
            threads,
            ValueSpec::Uniform { lo: 0.0, hi: 1.0 },
            false,
        ),
        Some("per_synapse_delays") => measure(
            "per-synapse weights and delays (uniform)",
            n,
            threads,
            ValueSpec::Uniform { lo: 0.0, hi: 1.0 },
            true,
        ),
        Some(other) => {
            panic!("VARIANT: scalar, per_synapse or per_synapse_delays, got {other}")
        }
        // Each variant in a fresh process: memory freed by one build stays in the
        // allocator's arenas (and in VmRSS) and would inflate the next one's growth.
        None => {
            for variant in ["scalar", "per_synapse", "per_synapse_delays"] {
                let exe = std::env::current_exe().expect("own executable");
                let status = std::process::Command::new(exe)
                    .args([
                        synapses.to_string(),
                        threads.to_string(),
                        variant.to_owned(),
                    ])
                    .status()
                    .expect("runs");
                assert!(status.success(), "{variant} run failed");
            }
        }
    }
}
