//! Spike delivery throughput: `deliver_spikes` over a 10 000 × 10 000 projection at
//! p = 0.01 (≈ 10⁶ synapses, fan-out ≈ 100) for a list of 100 distinct random pre neurons
//! (sorted, as a population's spike list is), reported as synaptic events per second
//! (`Throughput::Elements` = the total row length of the spiking neurons).
//!
//! `scalar` uses one weight for the projection, `per_synapse` one weight per synapse
//! (an f32 read alongside each target). One thread: at ≈ 10⁴ events per step, delivery of
//! one projection is a sequential scatter-add.
//!
//! * `delivery_dense_1e6_synapses` — a 1000 × 1000 `all_to_all` projection (the dense layout:
//!   no target list, each spike adds a contiguous weight row) against the same synapses as
//!   sparse rows (`csr_*`), 100 spiking pre neurons (10⁵ events);
//! * `delivery_parallel_2e7_synapses` — 2000 × 100 000 at p = 0.1 (fan-out 10⁴), 100 spikes
//!   = 10⁶ events per step, on thread teams of 1 and 2 (`parallel::with_team`, as inside
//!   `run_steps`): above `PARALLEL_MIN_EVENTS` the post range is split across the team
//!   (results bit-identical).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_engine::parallel;
use ember_engine::projection::{Connectivity, deliver_spikes};
use ember_engine::rng::RngStream;
use ember_engine::{ConnectRule, Param, Weights};

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

const N: u32 = 10_000;
const SPIKES: usize = 100;

fn delivery(c: &mut Criterion) {
    let conn = ConnectRule::FixedProbability {
        p: 0.01,
        autapses: true,
    }
    .build(N, N, false, 0, "bench")
    .expect("builds");
    let mut rng = RngStream::new(0, "bench.spikes", 0);
    let mut spikes = Vec::with_capacity(SPIKES);
    while spikes.len() < SPIKES {
        let i = (rng.next_f64() * f64::from(N)) as u32;
        if !spikes.contains(&i) {
            spikes.push(i);
        }
    }
    spikes.sort_unstable();
    let events: usize = spikes.iter().map(|&i| conn.row(i as usize).len()).sum();
    let per_synapse: Vec<f32> = (0..conn.len())
        .map(|_| rng.uniform(0.0, 1.0) as f32)
        .collect();
    let cases = [
        ("scalar", Weights(Param::Scalar(0.5))),
        ("per_synapse", Weights(Param::PerElement(per_synapse))),
    ];

    let mut g = c.benchmark_group("delivery_1e6_synapses");
    g.throughput(Throughput::Elements(events as u64));
    for (name, weights) in &cases {
        let mut out = vec![0.0f32; N as usize];
        g.bench_function(format!("100_spikes_{name}"), |b| {
            b.iter(|| {
                deliver_spikes(&conn, weights, black_box(&spikes), 1e-3, &mut out);
                black_box(&mut out);
            })
        });
    }
    g.finish();
}

/// 100 distinct random neurons of `0..n`, sorted.
fn random_spikes(n: u32, seed: u64) -> Vec<u32> {
    let mut rng = RngStream::new(seed, "bench.spikes", 0);
    let mut spikes = Vec::with_capacity(SPIKES);
    while spikes.len() < SPIKES {
        let i = (rng.next_f64() * f64::from(n)) as u32;
        if !spikes.contains(&i) {
            spikes.push(i);
        }
    }
    spikes.sort_unstable();
    spikes
}

fn dense(c: &mut Criterion) {
    let n = 1000u32;
    let dense = Connectivity::dense(n, n);
    let (offsets, targets) = dense.to_csr();
    let csr = Connectivity::from_csr(offsets, targets);
    let spikes = random_spikes(n, 1);
    let per_synapse = Weights(Param::PerElement(
        (0..dense.len()).map(|k| (k % 7) as f32 * 0.1).collect(),
    ));
    let scalar = Weights(Param::Scalar(0.5));
    let mut g = c.benchmark_group("delivery_dense_1e6_synapses");
    g.throughput(Throughput::Elements((SPIKES * n as usize) as u64));
    for (name, conn, weights) in [
        ("dense_scalar", &dense, &scalar),
        ("dense_per_synapse", &dense, &per_synapse),
        ("csr_scalar", &csr, &scalar),
        ("csr_per_synapse", &csr, &per_synapse),
    ] {
        let mut out = vec![0.0f32; n as usize];
        g.bench_function(format!("100_spikes_{name}"), |b| {
            b.iter(|| {
                deliver_spikes(conn, weights, black_box(&spikes), 1e-3, &mut out);
                black_box(&mut out);
            })
        });
    }
    g.finish();
}

fn parallel(c: &mut Criterion) {
    let (pre, post) = (2000u32, 100_000u32);
    let conn = ConnectRule::FixedProbability {
        p: 0.1,
        autapses: true,
    }
    .build(pre, post, false, 0, "bench")
    .expect("builds");
    let spikes = random_spikes(pre, 2);
    let events: usize = spikes.iter().map(|&i| conn.row(i as usize).len()).sum();
    let weights = Weights(Param::Scalar(0.5));
    let mut g = c.benchmark_group("delivery_parallel_2e7_synapses");
    g.throughput(Throughput::Elements(events as u64));
    for threads in [1, 2] {
        let mut out = vec![0.0f32; post as usize];
        g.bench_function(format!("100_spikes_{threads}_threads"), |b| {
            parallel::with_team(threads, || {
                b.iter(|| {
                    deliver_spikes(&conn, &weights, black_box(&spikes), 1e-3, &mut out);
                    black_box(&mut out);
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, delivery, dense, parallel);
criterion_main!(benches);
