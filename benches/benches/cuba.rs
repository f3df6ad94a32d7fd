//! CUBA benchmark (Brette et al. 2007), the bundled 4000-neuron scenario.
//!
//! `build`: parse + connect (320 000 synapses) + schedule; `run_1s`: 10 000 steps of the
//! built network (the simulation loop alone); `whole_1s`: both, as `ember run` does minus
//! file output; `plastic_run_1s`: the loop with pair STDP on the excitatory → excitatory
//! projection ([`ember_benches::build_cuba_plastic`]), to compare with `run_1s`.
//!
//! `coba_4000`: the same measurements of the bundled COBA scenario (the same network with
//! conductance-based synapses, [`ember_benches::build_coba`]).

use criterion::{Criterion, criterion_group, criterion_main};
use ember_benches::{build_coba, build_cuba, build_cuba_plastic};

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

fn cuba(c: &mut Criterion) {
    let mut g = c.benchmark_group("cuba_4000");
    g.sample_size(10);
    g.bench_function("build", |b| b.iter(|| build_cuba(1)));
    g.bench_function("run_1s", |b| {
        b.iter_batched(
            || build_cuba(1),
            |(mut sim, steps)| sim.run_steps(steps).expect("runs"),
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("plastic_run_1s", |b| {
        b.iter_batched(
            || build_cuba_plastic(1),
            |(mut sim, steps)| sim.run_steps(steps).expect("runs"),
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("whole_1s", |b| {
        b.iter(|| {
            let (mut sim, steps) = build_cuba(1);
            sim.run_steps(steps).expect("runs");
        })
    });
    g.finish();
}

fn coba(c: &mut Criterion) {
    let mut g = c.benchmark_group("coba_4000");
    g.sample_size(10);
    g.bench_function("build", |b| b.iter(|| build_coba(1)));
    g.bench_function("run_1s", |b| {
        b.iter_batched(
            || build_coba(1),
            |(mut sim, steps)| sim.run_steps(steps).expect("runs"),
            criterion::BatchSize::PerIteration,
        )
    });
    g.bench_function("whole_1s", |b| {
        b.iter(|| {
            let (mut sim, steps) = build_coba(1);
            sim.run_steps(steps).expect("runs");
        })
    });
    g.finish();
}

criterion_group!(benches, cuba, coba);
criterion_main!(benches);
