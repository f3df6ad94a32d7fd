//! Connectivity build rate: `ConnectRule::build` for ≈ 10⁷ synapses, reported as synapses
//! built per second (`Throughput::Elements` = synapses built).
//!
//! * `fixed_probability/1e7_{1,2}_threads` — 10 000 × 10 000 at p = 0.1 (autapses allowed,
//!   distinct populations), built inside a rayon pool of 1 and 2 threads, as
//!   `Simulation::add_projection` does on its own pool;
//! * `fixed_indegree/1e7_{1,2}_threads` — the same sizes with k = 1000 per post neuron;
//! * `fixed_probability_1e8/{1,2}_threads` — 100 000 × 100 000 at p = 0.01 (10⁸ synapses,
//!   400 MB of targets per build; about 1 s per build, so 10 samples take a while).
//!
//! The build alone: weights, the ECS spawn and the schedule are not included.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_engine::ConnectRule;

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

const PRE: u32 = 10_000;
const POST: u32 = 10_000;

fn connectivity(c: &mut Criterion) {
    let cases = [
        (
            "fixed_probability",
            ConnectRule::FixedProbability {
                p: 0.1,
                autapses: true,
            },
        ),
        (
            "fixed_indegree",
            ConnectRule::FixedIndegree {
                k: 1000,
                autapses: true,
            },
        ),
    ];
    for (name, rule) in cases {
        let synapses = rule
            .build(PRE, POST, false, 0, "bench")
            .expect("builds")
            .len();
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        g.throughput(Throughput::Elements(synapses as u64));
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            g.bench_function(format!("1e7_{threads}_threads"), |b| {
                b.iter(|| {
                    pool.install(|| rule.build(PRE, POST, false, 0, "bench"))
                        .expect("builds")
                })
            });
        }
        g.finish();
    }
}

fn connectivity_1e8(c: &mut Criterion) {
    let n = 100_000;
    let rule = ConnectRule::FixedProbability {
        p: 0.01,
        autapses: true,
    };
    let synapses = rule.build(n, n, false, 0, "bench").expect("builds").len();
    let mut g = c.benchmark_group("fixed_probability_1e8");
    g.sample_size(10);
    g.throughput(Throughput::Elements(synapses as u64));
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        g.bench_function(format!("{threads}_threads"), |b| {
            b.iter(|| {
                pool.install(|| rule.build(n, n, false, 0, "bench"))
                    .expect("builds")
            })
        });
    }
    g.finish();
}

criterion_group!(benches, connectivity, connectivity_1e8);
criterion_main!(benches);
