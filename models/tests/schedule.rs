//! The step schedule with the built-in models: conflict-free, deterministic across thread
//! counts, and running its phases in the documented order.

use std::sync::OnceLock;

use ember_engine::bevy_ecs::prelude::*;
use ember_engine::prelude::*;
use ember_engine::stimulus::apply_current_stimuli;
use ember_engine::{Connectivity, SpikeEvent, SpikeTotal};
use ember_models::neurons::PARALLEL_MIN_NEURONS;
use ember_models::{DeltaCurrent, Exact, Lif, SingleExponentialCurrent, register_all};

fn new_sim(step_time: f64, threads: usize) -> Simulation {
    let mut sim = Simulation::new(SimConfig {
        step_time,
        seed: 7,
        threads,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut sim);
    sim
}

/// One population of every neuron model and one projection of every synapse model;
/// returns the (LIF, exact) populations.
fn every_model(sim: &mut Simulation) -> (PopulationId, PopulationId) {
    let lif = sim
        .add_population(
            "lif",
            4,
            Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0),
            Default::default(),
        )
        .unwrap();
    let exact = sim
        .add_population("exact", 4, Exact::new(-60.0, -40.0), Default::default())
        .unwrap();
    sim.add_projection(
        None,
        lif,
        exact,
        &ConnectRule::OneToOne,
        ValueSpec::Scalar(1.0),
        DeltaCurrent { spike_charge: 1.0 },
    )
    .unwrap();
    sim.add_projection(
        None,
        exact,
        lif,
        &ConnectRule::AllToAll { autapses: true },
        ValueSpec::Scalar(0.5),
        SingleExponentialCurrent {
            spike_charge: 1.0,
            time_constant: 5.0,
        },
    )
    .unwrap();
    sim.add_current(lif, Param::Scalar(15.0), 0.0, None, None)
        .unwrap();
    (lif, exact)
}

// ---------------------------------------------------------------------------------------
// Ambiguity detection
// ---------------------------------------------------------------------------------------

fn nudge_a(mut q: Query<&mut Voltage>) {
    for mut v in &mut q {
        v.0.iter_mut().for_each(|x| *x += 0.0);
    }
}

fn nudge_b(mut q: Query<&mut Voltage>) {
    for mut v in &mut q {
        v.0.iter_mut().for_each(|x| *x -= 0.0);
    }
}

#[test]
fn all_builtin_models_schedule_without_ambiguities() {
    let mut sim = new_sim(1.0, 1);
    // Registration reserves each model's place in the schedule; its systems join when its
    // first population or projection is added (here: lif, exact and the two current
    // synapses; tests/synapses.rs and the bundled heterogeneous scenario build the others
    // together and check the schedule as well).
    for m in ["exact", "lif", "alif", "glif2", "poisson"] {
        assert!(sim.neuron_models().contains(&m), "{m} registered");
    }
    for m in [
        "delta_current",
        "double_exponential_current",
        "single_exponential_conductance",
        "single_exponential_current",
    ] {
        assert!(sim.synapse_models().contains(&m), "{m} registered");
    }
    let (lif, exact) = every_model(&mut sim);
    sim.initialize()
        .unwrap_or_else(|e| panic!("built-in schedule has conflicts: {e}"));
    sim.run_steps(20).unwrap();
    assert_eq!(sim.clock().step, 20);
    // The LIF neurons fire in step 10 (trace A) and, through the delta projection, make the
    // exact neurons fire in step 11 — once each within 20 steps.
    let total = |p| sim.get::<SpikeTotal>(p).unwrap().0;
    assert!(total(lif) >= 4, "LIF spikes: {}", total(lif));
    assert_eq!(total(exact), 4);
}

#[test]
fn unordered_conflicting_user_systems_in_integrate_are_rejected() {
    let mut sim = new_sim(1.0, 1);
    every_model(&mut sim);
    sim.add_systems((nudge_a, nudge_b).in_set(Phase::Integrate));
    let err = sim
        .initialize()
        .expect_err("two unordered writers of Voltage must be reported");
    assert!(!err.0.is_empty());
    // Running builds the schedule too, so it refuses as well (and nothing advances).
    assert!(sim.run_steps(1).is_err());
    assert_eq!(sim.clock().step, 0);
}

#[test]
fn ambiguity_detection_is_specific_to_the_unordered_pair() {
    // Control: in a phase where no built-in system touches Voltage, the same two systems
    // are accepted once ordered …
    let mut sim = new_sim(1.0, 1);
    every_model(&mut sim);
    sim.add_systems((nudge_a, nudge_b).chain().in_set(Phase::Adapt));
    sim.initialize()
        .unwrap_or_else(|e| panic!("ordered writers must be accepted: {e}"));
    sim.run_steps(3).unwrap();

    // … and rejected when unordered.
    let mut sim = new_sim(1.0, 1);
    every_model(&mut sim);
    sim.add_systems((nudge_a, nudge_b).in_set(Phase::Adapt));
    assert!(sim.initialize().is_err());
}

// ---------------------------------------------------------------------------------------
// Determinism across thread counts
// ---------------------------------------------------------------------------------------

struct NetRun {
    spikes: Vec<SpikeEvent>,
    voltage: Vec<f32>,
}

/// A 2000-neuron recurrent LIF network (p = 0.05, random per-synapse weights,
/// single-exponential synapses) with random initial voltages and a constant drive.
fn recurrent_network(threads: usize) -> NetRun {
    const N: u32 = 2000;
    let mut sim = new_sim(0.1, threads);
    let seed = sim.config().seed;
    let v0 = ValueSpec::Uniform {
        lo: -65.0,
        hi: -50.0,
    }
    .realize(N as usize, seed, "net.init.voltage")
    .unwrap();
    let net = sim
        .add_population(
            "net",
            N,
            Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0),
            PopulationOptions {
                voltage: Some(v0),
                ..Default::default()
            },
        )
        .unwrap();
    let proj = sim
        .add_projection(
            None,
            net,
            net,
            &ConnectRule::FixedProbability {
                p: 0.05,
                autapses: false,
            },
            ValueSpec::Normal {
                mean: -0.5,
                std: 1.0,
            },
            SingleExponentialCurrent {
                spike_charge: 1.0,
                time_constant: 5.0,
            },
        )
        .unwrap();
    let synapses = sim.get_projection::<Connectivity>(proj).unwrap().len();
    assert!(
        (180_000..220_000).contains(&synapses),
        "{synapses} synapses"
    );
    sim.add_current(net, Param::Scalar(11.0), 0.0, None, None)
        .unwrap();
    let rec = sim.record_spikes(net).unwrap();
    sim.run_steps(2000).unwrap();
    NetRun {
        spikes: sim.recorded_spikes(rec).to_vec(),
        voltage: sim.get::<Voltage>(net).unwrap().0.clone(),
    }
}

#[test]
fn recurrent_network_is_identical_on_1_and_2_threads() {
    let one = recurrent_network(1);
    let two = recurrent_network(2);
    assert!(
        one.spikes.len() > 2000,
        "the network should be active, got {} spikes",
        one.spikes.len()
    );
    // Spikes spread over the run and over many neurons.
    let last = one.spikes.last().unwrap().step;
    assert!(last > 1900, "last spike at step {last}");
    let mut neurons: Vec<u32> = one.spikes.iter().map(|e| e.neuron).collect();
    neurons.sort_unstable();
    neurons.dedup();
    assert!(
        neurons.len() > 1000,
        "{} distinct neurons spiked",
        neurons.len()
    );
    assert_eq!(one.spikes.len(), two.spikes.len());
    assert!(
        one.spikes == two.spikes,
        "spike trains differ between 1 and 2 threads"
    );
    assert!(one.voltage == two.voltage, "final voltages differ");
}

/// Ten LIF populations, large (cut over the team) and small (whole) in turn, in a ring of
/// ten projections (seven single-exponential, three delta): each synapse system runs its
/// projections in one section (`ember_engine::DeliveryBatch`), and the LIF system needs
/// two batches for the ten populations. Returns every population's spikes and final
/// voltages.
fn batched_ring(threads: usize) -> Vec<NetRun> {
    let mut sim = new_sim(0.1, threads);
    let seed = sim.config().seed;
    let pops: Vec<PopulationId> = (0..10)
        .map(|k| {
            let n = if k % 2 == 0 {
                PARALLEL_MIN_NEURONS + 808
            } else {
                300
            };
            let name = format!("p{k}");
            let v0 = ValueSpec::Uniform {
                lo: -65.0,
                hi: -50.0,
            }
            .realize(n, seed, &format!("{name}.init.voltage"))
            .unwrap();
            let lif = Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0 + k as f32);
            let options = PopulationOptions {
                voltage: Some(v0),
                ..Default::default()
            };
            let pop = sim.add_population(&name, n as u32, lif, options).unwrap();
            sim.add_current(pop, Param::Scalar(10.5), 0.0, None, None)
                .unwrap();
            pop
        })
        .collect();
    for k in 0..10 {
        let (pre, post) = (pops[k], pops[(k + 1) % 10]);
        let rule = ConnectRule::FixedProbability {
            p: 0.01,
            autapses: false,
        };
        let weights = ValueSpec::Normal {
            mean: 0.2,
            std: 1.0,
        };
        // Two synapse models, so two systems each batch their own projections.
        if k % 3 == 2 {
            let syn = DeltaCurrent { spike_charge: 0.3 };
            sim.add_projection(None, pre, post, &rule, weights, syn)
                .unwrap();
        } else {
            let syn = SingleExponentialCurrent {
                spike_charge: 1.0,
                time_constant: 2.0 + k as f32,
            };
            sim.add_projection(None, pre, post, &rule, weights, syn)
                .unwrap();
        }
    }
    run_recorded(&mut sim, &pops, 300)
}

/// Records the spikes of `pops`, runs `steps` steps, and returns each population's spikes
/// and final voltages.
fn run_recorded(sim: &mut Simulation, pops: &[PopulationId], steps: u64) -> Vec<NetRun> {
    run_recorded_with(sim, pops, |sim| sim.run_steps(steps).unwrap())
}

/// [`run_recorded`] with the steps run by `run`.
fn run_recorded_with(
    sim: &mut Simulation,
    pops: &[PopulationId],
    run: impl FnOnce(&mut Simulation),
) -> Vec<NetRun> {
    let recs: Vec<_> = pops
        .iter()
        .map(|&p| sim.record_spikes(p).unwrap())
        .collect();
    run(sim);
    pops.iter()
        .zip(recs)
        .map(|(&p, rec)| NetRun {
            spikes: sim.recorded_spikes(rec).to_vec(),
            voltage: sim.get::<Voltage>(p).unwrap().0.clone(),
        })
        .collect()
}

/// Asserts that two runs have the same spikes and bit-identical voltages.
fn assert_same_runs(a: &[NetRun], b: &[NetRun], threads: usize) {
    for (k, (a, b)) in a.iter().zip(b).enumerate() {
        assert!(
            a.spikes == b.spikes,
            "population {k}: spikes differ on {threads} threads"
        );
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&a.voltage),
            bits(&b.voltage),
            "population {k}, {threads} threads"
        );
    }
}

#[test]
fn batched_passes_are_identical_on_1_2_and_3_threads() {
    let one = batched_ring(1);
    for (k, run) in one.iter().enumerate() {
        assert!(
            run.spikes.len() > 20,
            "population {k}: {} spikes",
            run.spikes.len()
        );
    }
    for threads in [2, 3] {
        assert_same_runs(&one, &batched_ring(threads), threads);
    }
}

/// Neurons per large population: above `PARALLEL_MIN_NEURONS` (and 2¹⁶), so the LIF kernel
/// splits it into parts, one per thread of the step's team, the last one partial.
const BIG: usize = if PARALLEL_MIN_NEURONS > 65_536 {
    PARALLEL_MIN_NEURONS
} else {
    65_536
} + 1000;

/// Steps of the large-population runs.
const BIG_STEPS: u64 = 100;

/// Neurons compared between the parallel (large) and serial (small) paths: both ends and
/// both sides of several chunk boundaries.
const PICKS: [usize; 10] = [
    0,
    1,
    16_383,
    16_384,
    32_767,
    32_769,
    65_535,
    65_536,
    BIG - 2,
    BIG - 1,
];

fn draw(n: usize, seed: u64, lo: f64, hi: f64, name: &str) -> Param {
    ValueSpec::Uniform { lo, hi }
        .realize(n, seed, name)
        .unwrap()
}

/// Restricts per-element values to the neurons in [`PICKS`].
fn pick(p: &Param) -> Param {
    match p {
        Param::Scalar(x) => Param::Scalar(*x),
        Param::PerElement(v) => Param::PerElement(PICKS.iter().map(|&i| v[i]).collect()),
    }
}

struct BigRun {
    /// Final voltages of the heterogeneous and homogeneous large populations.
    het: Vec<f32>,
    hom: Vec<f32>,
    /// Spike totals of the large populations.
    het_spikes: u64,
    hom_spikes: u64,
    /// `[heterogeneous, homogeneous]`: the [`PICKS`] of each large population and the small
    /// population holding the same neurons.
    picked: [Picked; 2],
}

/// Voltage traces (step-major, then neuron) and `(step, slot in PICKS)` spikes of the
/// picked neurons of a large population and of their small (serial-path) copy.
struct Picked {
    big_trace: Vec<f32>,
    small_trace: Vec<f32>,
    big_spikes: Vec<(u64, u32)>,
    small_spikes: Vec<(u64, u32)>,
}

/// Two large LIF populations — heterogeneous (random τ, θ) and homogeneous — with random
/// initial voltages and constant currents, each with a small copy of its [`PICKS`] (serial
/// kernel path: same parameters, initial voltages and currents).
fn big_run(threads: usize) -> BigRun {
    let mut sim = new_sim(1.0, threads);
    let seed = sim.config().seed;
    let mut lif = Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0);
    lif.tc_membrane = draw(BIG, seed, 5.0, 20.0, "big.params.tc_membrane");
    lif.thresh_v = draw(BIG, seed, -52.0, -48.0, "big.params.thresh_v");
    let v0 = draw(BIG, seed, -65.0, -50.0, "big.init.voltage");
    // Every neuron gets 15 nA; the picked neurons get different extra currents, so a chunk
    // reading another chunk's input would show (per-neuron amplitudes for all neurons
    // would cost as much as the kernel itself in a debug build).
    let extra = Param::PerElement((0..PICKS.len()).map(|k| 0.5 * k as f32).collect());
    let small_lif = Lif {
        rest_v: pick(&lif.rest_v),
        reset_v: pick(&lif.reset_v),
        thresh_v: pick(&lif.thresh_v),
        refrac_t: pick(&lif.refrac_t),
        tc_membrane: pick(&lif.tc_membrane),
        resistance: pick(&lif.resistance),
    };
    let init = |v: &Param| PopulationOptions {
        voltage: Some(v.clone()),
        ..Default::default()
    };

    let hom_lif = Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0);
    let pops = [
        (
            sim.add_population("het", BIG as u32, lif, init(&v0))
                .unwrap(),
            sim.add_population("het_small", PICKS.len() as u32, small_lif, init(&pick(&v0)))
                .unwrap(),
        ),
        (
            sim.add_population("hom", BIG as u32, hom_lif.clone(), init(&v0))
                .unwrap(),
            sim.add_population("hom_small", PICKS.len() as u32, hom_lif, init(&pick(&v0)))
                .unwrap(),
        ),
    ];
    let picked: Vec<u32> = PICKS.iter().map(|&i| i as u32).collect();
    let recorders = pops.map(|(big, small)| {
        for (pop, neurons) in [(big, Some(picked.clone())), (small, None)] {
            sim.add_current(pop, Param::Scalar(15.0), 0.0, None, None)
                .unwrap();
            sim.add_current(pop, extra.clone(), 0.0, None, neurons)
                .unwrap();
        }
        let volts = |sim: &mut Simulation, p, n: Option<Vec<u32>>| {
            sim.record_trace(p, vec![TraceVariable::Voltage], n, 1)
                .unwrap()
        };
        (
            volts(&mut sim, big, Some(picked.clone())),
            volts(&mut sim, small, None),
            sim.record_spikes(big).unwrap(),
            sim.record_spikes(small).unwrap(),
        )
    });
    sim.run_steps(BIG_STEPS).unwrap();

    let events = |rec, map_to_slot: bool| -> Vec<(u64, u32)> {
        sim.recorded_spikes(rec)
            .iter()
            .filter_map(|e| {
                if map_to_slot {
                    PICKS
                        .iter()
                        .position(|&i| i as u32 == e.neuron)
                        .map(|k| (e.step, k as u32))
                } else {
                    Some((e.step, e.neuron))
                }
            })
            .collect()
    };
    let picked = recorders.map(|(bt, st, bs, ss)| Picked {
        big_trace: sim.trace(bt).unwrap().values.clone(),
        small_trace: sim.trace(st).unwrap().values.clone(),
        big_spikes: events(bs, true),
        small_spikes: events(ss, false),
    });
    let (het, hom) = (pops[0].0, pops[1].0);
    BigRun {
        het: sim.get::<Voltage>(het).unwrap().0.clone(),
        hom: sim.get::<Voltage>(hom).unwrap().0.clone(),
        het_spikes: sim.get::<SpikeTotal>(het).unwrap().0,
        hom_spikes: sim.get::<SpikeTotal>(hom).unwrap().0,
        picked,
    }
}

/// The large runs on 1 and 2 threads, computed once for the tests that share them.
fn big_runs() -> &'static (BigRun, BigRun) {
    static RUNS: OnceLock<(BigRun, BigRun)> = OnceLock::new();
    RUNS.get_or_init(|| (big_run(1), big_run(2)))
}

#[test]
fn large_populations_are_identical_on_1_and_2_threads() {
    let (one, two) = big_runs();
    // Active: on average several spikes per neuron.
    assert!(one.het_spikes > 2 * BIG as u64, "{} spikes", one.het_spikes);
    assert!(one.hom_spikes > 2 * BIG as u64, "{} spikes", one.hom_spikes);
    assert!(one.het == two.het, "heterogeneous voltages differ");
    assert!(one.hom == two.hom, "homogeneous voltages differ");
    assert_eq!(
        (one.het_spikes, one.hom_spikes),
        (two.het_spikes, two.hom_spikes)
    );
}

#[test]
fn parallel_chunk_path_matches_the_serial_kernel() {
    for (threads, run) in [(1, &big_runs().0), (2, &big_runs().1)] {
        for (kind, p) in ["heterogeneous", "homogeneous"].iter().zip(&run.picked) {
            let what = format!("{kind}, {threads} thread(s)");
            assert_eq!(
                p.big_trace.len(),
                BIG_STEPS as usize * PICKS.len(),
                "{what}"
            );
            assert!(
                p.big_trace == p.small_trace,
                "{what}: voltages of the parallel and serial paths differ"
            );
            assert!(
                p.small_spikes.len() >= 2 * PICKS.len(),
                "{what}: {:?}",
                p.small_spikes
            );
            assert_eq!(p.big_spikes, p.small_spikes, "{what}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Phase order
// ---------------------------------------------------------------------------------------

/// `(step, neurons)` as seen by a system in `Phase::Threshold`.
#[derive(Resource, Default)]
struct SeenInThreshold(Vec<(u64, Vec<u32>)>);

fn watch_spikes(
    clock: Res<Clock>,
    q: Query<&Spikes, With<Exact>>,
    mut seen: ResMut<SeenInThreshold>,
) {
    for s in &q {
        if s.count() > 0 {
            seen.0.push((clock.step, s.batch(0).to_vec()));
        }
    }
}

/// Adds 1 nA to neuron 1 of every `Exact` population in step 5.
fn kick_in_step_5(clock: Res<Clock>, mut q: Query<&mut SynapticInput, With<Exact>>) {
    if clock.step == 5 {
        for mut input in &mut q {
            input.0[1] += 1.0;
        }
    }
}

#[test]
fn threshold_phase_sees_this_steps_spikes_and_stimuli_phase_drives_this_step() {
    let mut sim = new_sim(1.0, 1);
    let pop = sim
        .add_population("exact", 2, Exact::new(-60.0, -40.0), Default::default())
        .unwrap();
    // Neuron 0 spikes in step 3 (current stimulus).
    sim.add_current(pop, Param::Scalar(1.0), 3.0, Some(4.0), Some(vec![0]))
        .unwrap();
    sim.world_mut().init_resource::<SeenInThreshold>();
    sim.add_systems((
        watch_spikes.in_set(Phase::Threshold),
        // It writes SynapticInput like the built-in current stimuli: order it after them.
        kick_in_step_5
            .in_set(Phase::Stimuli)
            .after(apply_current_stimuli),
    ));
    let rec = sim.record_spikes(pop).unwrap();
    sim.run_steps(10).unwrap();

    let events: Vec<(u64, u32)> = sim
        .recorded_spikes(rec)
        .iter()
        .map(|e| (e.step, e.neuron))
        .collect();
    // The user system's input makes neuron 1 spike in the same step it was added.
    assert_eq!(events, [(3, 0), (5, 1)]);
    // A Threshold-phase system sees exactly this step's spikes (not the previous step's,
    // and none in the steps after them).
    let seen = &sim.world().resource::<SeenInThreshold>().0;
    assert_eq!(*seen, [(3, vec![0]), (5, vec![1])]);
}

#[test]
fn model_systems_join_the_schedule_on_first_use_only() {
    let mut sim = new_sim(1.0, 1);
    let lif = ember_models::Lif::new(-65.0, -65.0, -50.0, 2.0, 20.0);
    sim.add_population("a", 2, lif.clone(), Default::default())
        .unwrap();
    sim.initialize().unwrap();
    let with_lif = sim.schedule_mut().systems_len();
    // A second LIF population adds nothing; the first ALIF population adds its system.
    sim.add_population("b", 2, lif, Default::default()).unwrap();
    sim.initialize().unwrap();
    assert_eq!(sim.schedule_mut().systems_len(), with_lif);
    let alif = ember_models::Alif {
        rest_v: (-65.0).into(),
        reset_v: (-65.0).into(),
        thresh_eq_v: (-50.0).into(),
        refrac_t: 2.0.into(),
        tc_membrane: 20.0.into(),
        tc_adaptation: vec![100.0],
        spike_increment: vec![1.0],
        resistance: 1.0.into(),
    };
    sim.add_population("c", 2, alif, Default::default())
        .unwrap();
    sim.initialize().unwrap();
    assert_eq!(sim.schedule_mut().systems_len(), with_lif + 1);
    sim.run_steps(5).unwrap();
}

/// Whether the step schedule holds a system of `system`'s type.
fn has_system<M>(sim: &mut Simulation, system: impl IntoSystem<(), (), M>) -> bool {
    let kind = IntoSystem::into_system(system).system_type();
    sim.initialize().unwrap();
    let schedule = sim.schedule_mut();
    schedule
        .systems()
        .unwrap()
        .any(|(_, s)| (**s).system_type() == kind)
}

#[test]
fn stimulus_aggregation_and_trace_systems_join_the_schedule_when_needed() {
    use ember_engine::aggregate::aggregate_projection_currents;
    let mut sim = new_sim(1.0, 1);
    let lif = Lif::new(-65.0, -65.0, -50.0, 2.0, 20.0);
    let a = sim
        .add_population("a", 2, lif.clone(), Default::default())
        .unwrap();
    let syn = SingleExponentialCurrent {
        spike_charge: 1.0,
        time_constant: 5.0,
    };
    let all = ConnectRule::AllToAll { autapses: false };
    sim.add_projection(None, a, a, &all, ValueSpec::Scalar(1.0), syn)
        .unwrap();
    // LIF sums its own currents, nothing stimulates it, nothing is traced: none of these
    // systems runs.
    use ember_engine::record::{record_projection_trace_step, record_trace_step};
    assert!(!has_system(&mut sim, apply_current_stimuli));
    assert!(!has_system(&mut sim, aggregate_projection_currents));
    assert!(!has_system(&mut sim, record_trace_step));
    assert!(!has_system(&mut sim, record_projection_trace_step));
    let trace = sim
        .record_trace(a, vec![ember_engine::TraceVariable::Voltage], None, 1)
        .unwrap();
    assert!(has_system(&mut sim, record_trace_step));
    assert!(!has_system(&mut sim, record_projection_trace_step));

    // A stimulus component spawned by hand (not through `add_current`) still works.
    let rec = sim.record_spikes(a).unwrap();
    sim.world_mut()
        .spawn(ember_engine::stimulus::CurrentStimulus {
            target: a.0,
            amplitude: Param::Scalar(40.0),
            start_step: 0,
            stop_step: u64::MAX,
            neurons: Some(vec![1]),
            size: 2,
        });
    // A user system ordered after the engine's stimuli set (it writes `SynapticInput`
    // too, so without that order the schedule would be ambiguous and fail to build).
    sim.add_systems(
        kick_in_step_5
            .in_set(Phase::Stimuli)
            .after(ember_engine::ModelSet {
                model: ember_engine::ENGINE,
                phase: Phase::Stimuli,
            }),
    );
    sim.run_steps(10).unwrap();
    assert!(has_system(&mut sim, apply_current_stimuli));
    assert!(sim.recorded_spikes(rec).iter().any(|e| e.neuron == 1));
    assert_eq!(sim.trace(trace).unwrap().steps.len(), 10);

    // A population whose currents are combined by another rule needs the aggregation.
    let options = ember_engine::PopulationOptions {
        aggregate: ember_engine::AggregateRule::Max,
        ..Default::default()
    };
    let b = sim.add_population("b", 2, lif, options).unwrap();
    assert!(!has_system(&mut sim, aggregate_projection_currents));
    let ab = sim
        .add_projection(None, a, b, &all, ValueSpec::Scalar(1.0), syn)
        .unwrap();
    assert!(has_system(&mut sim, aggregate_projection_currents));
    let current = vec![ember_engine::ProjectionVariable::Current];
    let ptrace = sim.record_projection(ab, current, None, None, 1).unwrap();
    assert!(has_system(&mut sim, record_projection_trace_step));
    sim.run_steps(5).unwrap();
    assert_eq!(sim.projection_trace(ptrace).unwrap().steps.len(), 5);
}

/// A large and a mid-size LIF population (40 000 and 9 000 neurons, like CUBA's
/// excitatory and inhibitory ones) joined both ways: on 2 threads the team keeps the
/// mid-size one whole on the driver and gives the driver a smaller lead part of the large
/// one (`parallel::CutPlan`), in its LIF pass and in its incoming projections' delivery.
/// Runs 150 steps, in one run without `leads`; else in `leads.len() + 1` runs, the driver's
/// part of the large population set to each lead in turn after the first run.
fn planned_pair(threads: usize, leads: &[f64]) -> Vec<NetRun> {
    let mut sim = new_sim(0.1, threads);
    let seed = sim.config().seed;
    let pops: Vec<PopulationId> = [("exc", 40_000u32), ("inh", 9_000)]
        .iter()
        .map(|&(name, n)| {
            let v0 = ValueSpec::Uniform {
                lo: -65.0,
                hi: -50.0,
            }
            .realize(n as usize, seed, &format!("{name}.init.voltage"))
            .unwrap();
            let options = PopulationOptions {
                voltage: Some(v0),
                ..Default::default()
            };
            let lif = Lif::new(-49.0, -60.0, -50.0, 5.0, 20.0);
            sim.add_population(name, n, lif, options).unwrap()
        })
        .collect();
    let rule = ConnectRule::FixedProbability {
        p: 0.0005,
        autapses: false,
    };
    for (pre, post, w) in [(0, 0, 1.6), (0, 1, 1.6), (1, 0, -9.0), (1, 1, -9.0)] {
        let syn = SingleExponentialCurrent {
            spike_charge: 5.0,
            time_constant: 5.0,
        };
        let weights = ValueSpec::Normal { mean: w, std: 0.5 };
        sim.add_projection(None, pops[pre], pops[post], &rule, weights, syn)
            .unwrap();
    }
    let chunk = 150 / (leads.len() as u64 + 1);
    run_recorded_with(&mut sim, &pops, |sim| {
        sim.run_steps(150 - chunk * leads.len() as u64).unwrap();
        for &lead in leads {
            sim.set_driver_lead(lead);
            sim.run_steps(chunk).unwrap();
        }
    })
}

#[test]
fn a_planned_cut_gives_the_same_results_as_one_thread() {
    let one = planned_pair(1, &[]);
    for (k, run) in one.iter().enumerate() {
        let n = run.spikes.len();
        assert!(n > 100, "population {k}: {n} spikes");
    }
    assert_same_runs(&one, &planned_pair(2, &[]), 2);
}

/// The team moves the driver's part between steps to even out the threads' times
/// (`parallel::rebalanced_lead`); wherever it stands, from none of the large population to
/// all of it, results are those of one thread.
#[test]
fn a_moving_cut_gives_the_same_results_as_one_thread() {
    let one = planned_pair(1, &[]);
    let leads = [0.0, 1.0, 0.1, 0.9, 0.37, 0.5];
    assert_same_runs(&one, &planned_pair(2, &leads), 2);
    assert_same_runs(&one, &planned_pair(3, &leads), 3);
}
