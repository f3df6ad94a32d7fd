//! The schedule's fixed cost per step: a `Simulation` with no populations (only the
//! engine's own systems: clock, input clearing, stimuli, recorders), and one with a single
//! 1-neuron LIF population (the smallest real network: one model system more), 10 000 steps
//! per iteration, reported per step (`Throughput::Elements` = steps).
//!
//! Every microsecond here costs 10 ms per simulated second at Δt = 0.1 ms.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_engine::{SimConfig, Simulation};
use ember_models::Lif;

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

const STEPS: u64 = 10_000;

fn empty_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("empty_step");
    g.throughput(Throughput::Elements(STEPS));
    let mut empty = Simulation::new(SimConfig {
        step_time: 0.1,
        threads: 1,
        ..Default::default()
    })
    .expect("simulation");
    empty.initialize().expect("schedule builds");
    g.bench_function("no_populations_10k_steps", |b| {
        b.iter(|| empty.run_steps(STEPS).expect("runs"))
    });
    let mut one = Simulation::new(SimConfig {
        step_time: 0.1,
        threads: 1,
        ..Default::default()
    })
    .expect("simulation");
    one.add_population(
        "one",
        1,
        Lif::new(-65.0, -65.0, -50.0, 2.0, 20.0),
        Default::default(),
    )
    .expect("population");
    one.initialize().expect("schedule builds");
    g.bench_function("one_lif_neuron_10k_steps", |b| {
        b.iter(|| one.run_steps(STEPS).expect("runs"))
    });
    g.finish();
}

criterion_group!(benches, empty_step);
criterion_main!(benches);
