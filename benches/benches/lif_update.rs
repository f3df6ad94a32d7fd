//! LIF neuron update throughput: 10⁵ uncoupled neurons with a constant drive, 100 steps
//! per iteration, reported as neuron updates per second (includes the per-step schedule
//! overhead, the input clear and the current stimulus, as in a real run).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_benches::lif_population;

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

const NEURONS: u32 = 100_000;
const STEPS: u64 = 100;

fn lif_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("lif_update");
    g.throughput(Throughput::Elements(u64::from(NEURONS) * STEPS));
    for threads in [1, 2] {
        let (mut sim, _) = lif_population(NEURONS, threads);
        g.bench_function(format!("1e5_neurons_{threads}_threads"), |b| {
            b.iter(|| sim.run_steps(STEPS).expect("runs"))
        });
    }
    g.finish();
}

criterion_group!(benches, lif_update);
criterion_main!(benches);
