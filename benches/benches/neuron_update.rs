//! Neuron update throughput of every neuron model: 10⁵ uncoupled neurons with a constant
//! drive, 1 thread, Δt = 0.1 ms, 100 steps per iteration, reported as neuron updates per
//! second (`Throughput::Elements(10⁷)`), like `lif_update` — whose LIF population is the
//! first case here, so each model's cost per update reads directly against LIF's.
//!
//! Each case includes the per-step schedule overhead, the input clear and the current
//! stimulus, as in a real run. Adaptive models run in train mode (adaptation updated every
//! step). Add a model by writing a builder and listing it in [`CASES`].

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ember_engine::{NeuronModel, Param, PopulationOptions, SimConfig, Simulation};
use ember_models::{
    Adex, Alif, Eif, Exact, Glif2, Izhikevich, IzhikevichPreset, Lif, Poisson, Qif,
};

/// Line-aligned state arrays: see [`ember_engine::alloc`].
#[global_allocator]
static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;

const NEURONS: u32 = 100_000;
const STEPS: u64 = 100;

/// A simulation of [`NEURONS`] neurons of `model` on 1 thread (Δt = 0.1 ms) with a constant
/// input `drive` (nA), ready to run.
fn population<M: NeuronModel>(model: M, drive: f32, options: PopulationOptions) -> Simulation {
    let mut sim = Simulation::new(SimConfig {
        step_time: 0.1,
        threads: 1,
        ..Default::default()
    })
    .expect("simulation");
    let pop = sim
        .add_population(M::NAME, NEURONS, model, options)
        .expect("population");
    sim.add_current(pop, Param::Scalar(drive), 0.0, None, None)
        .expect("stimulus");
    sim.initialize().expect("schedule builds");
    sim
}

/// LIF as in `lif_update` (τ 20 ms, ~50 Hz).
fn lif() -> Simulation {
    let model = Lif::new(-65.0, -65.0, -50.0, 2.0, 20.0);
    population(model, 20.0, Default::default())
}

/// QIF (τ 10 ms, rheobase 2.25 nA) driven at 5 nA: tonic firing.
fn qif() -> Simulation {
    let model = Qif::new(-65.0, -50.0, 0.04, -70.0, -30.0, 2.0, 10.0);
    population(model, 5.0, Default::default())
}

/// Izhikevich (2003) regular spiking mapped onto `izhikevich` (K = 1), 10 nA.
fn izhikevich() -> Simulation {
    let model = Izhikevich::preset(IzhikevichPreset::RegularSpiking);
    let w0 = model.voltage_coupling[0] * (-65.0 - model.rest_v.at(0));
    let options = PopulationOptions {
        voltage: Some(Param::Scalar(-65.0)),
        adaptation: Some(vec![w0]),
        ..Default::default()
    };
    population(model, 10.0, options)
}

/// EIF with INFERNO.md trace G's membrane (Brette–Gerstner 2005 tonic) at 0.75 nA: ~49 Hz,
/// LIF's rate.
fn eif() -> Simulation {
    let model = Eif::new(-70.6, -50.4, 2.0, -70.6, -40.4, 0.0, 281.0 / 30.0)
        .with_resistance((1.0f64 / 0.03) as f32);
    population(model, 0.75, Default::default())
}

/// AdEx of INFERNO.md trace G (K = 1, train mode) at its 1 nA: adapts from ~85 Hz to ~29 Hz.
fn adex() -> Simulation {
    let membrane = Eif::new(-70.6, -50.4, 2.0, -70.6, -40.4, 0.0, 281.0 / 30.0)
        .with_resistance((1.0f64 / 0.03) as f32);
    let model = Adex::new(membrane, vec![144.0], vec![0.004], vec![0.0805]);
    population(model, 1.0, Default::default())
}

/// ALIF with two threshold-adaptation terms (train mode), 20 nA.
fn alif() -> Simulation {
    let model = Alif {
        rest_v: (-65.0).into(),
        reset_v: (-65.0).into(),
        thresh_eq_v: (-50.0).into(),
        refrac_t: 2.0.into(),
        tc_membrane: 20.0.into(),
        tc_adaptation: vec![100.0, 1000.0],
        spike_increment: vec![1.0, 0.1],
        resistance: 1.0.into(),
    };
    population(model, 20.0, Default::default())
}

/// GLIF2 (one adaptation term, linear reset), 20 nA.
fn glif2() -> Simulation {
    let model = Glif2 {
        rest_v: (-65.0).into(),
        reset_v_add: 2.0.into(),
        reset_v_mul: 0.5.into(),
        thresh_eq_v: (-50.0).into(),
        refrac_t: 2.0.into(),
        tc_membrane: 20.0.into(),
        rc_adaptation: vec![0.01],
        spike_increment: vec![1.0],
        resistance: 1.0.into(),
    };
    population(model, 20.0, Default::default())
}

/// Exact neurons with a positive input (spike every step: the worst case).
fn exact() -> Simulation {
    population(Exact::new(-70.0, -40.0), 1.0, Default::default())
}

/// Poisson generators at 10 Hz (O(spikes) per step); the drive is ignored.
fn poisson() -> Simulation {
    population(Poisson::new(10.0), 0.0, Default::default())
}

/// Builds one case's simulation.
type Build = fn() -> Simulation;

/// The cases: (name, builder).
const CASES: &[(&str, Build)] = &[
    ("lif", lif),
    ("alif", alif),
    ("glif2", glif2),
    ("qif", qif),
    ("izhikevich", izhikevich),
    ("eif", eif),
    ("adex", adex),
    ("exact", exact),
    ("poisson", poisson),
];

fn neuron_update(c: &mut Criterion) {
    let mut g = c.benchmark_group("neuron_update");
    g.throughput(Throughput::Elements(u64::from(NEURONS) * STEPS));
    for (name, build) in CASES {
        let mut sim = build();
        g.bench_function(format!("{name}_1e5_neurons_1_thread"), |b| {
            b.iter(|| sim.run_steps(STEPS).expect("runs"))
        });
    }
    g.finish();
}

criterion_group!(benches, neuron_update);
criterion_main!(benches);
