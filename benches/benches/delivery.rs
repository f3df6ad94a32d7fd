//! Spike delivery throughput: `deliver_spikes` over a 10 000 × 10 000 projection at
//! p = 0.01 (≈ 10⁶ synapses, fan-out ≈ 100) for a list of 100 distinct random pre neurons
//! (sorted, as a population's spike list is), reported as synaptic events per second
//! (`Throughput::Elements` = the total row length of the spiking neurons).
//!
//! `scalar` uses one weight for the projection, `per_synapse` one weight per synapse
//! (an f32 read alongside each target). One thread: delivery of one projection is a
//! sequential scatter-add.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_engine::projection::deliver_spikes;
use ember_engine::rng::RngStream;
use ember_engine::{ConnectRule, Param, Weights};

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

criterion_group!(benches, delivery);
criterion_main!(benches);
