//! Pulled delivery (`ember_engine::pull`): which projections a `lif` pass runs itself on a
//! thread team, and that pulling changes nothing but the time a step takes.

use ember_engine::bevy_ecs::prelude::*;
use ember_engine::prelude::*;
use ember_engine::{CarriedDecay, DelayMode, ProjectionCurrent, Pulled, SpikeEvent};
use ember_models::{DeltaCurrent, Exact, Lif, Poisson, SingleExponentialCurrent, register_all};

fn new_sim(threads: usize) -> Simulation {
    let mut sim = Simulation::new(SimConfig {
        step_time: 0.1,
        seed: 11,
        threads,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut sim);
    sim
}

fn lif(sim: &mut Simulation, name: &str, n: u32) -> PopulationId {
    let v0 = ValueSpec::Uniform {
        lo: -65.0,
        hi: -50.0,
    }
    .realize(
        n as usize,
        sim.config().seed,
        &format!("{name}.init.voltage"),
    )
    .unwrap();
    let options = PopulationOptions {
        voltage: Some(v0),
        ..Default::default()
    };
    let model = Lif::new(-49.0, -60.0, -50.0, 5.0, 20.0);
    sim.add_population(name, n, model, options).unwrap()
}

fn connect(
    sim: &mut Simulation,
    name: &str,
    pre: PopulationId,
    post: PopulationId,
    w: f64,
    p: f64,
) -> ProjectionId {
    let weights = ValueSpec::Normal { mean: w, std: 0.5 };
    connect_with(sim, name, pre, post, weights, p)
}

fn connect_with(
    sim: &mut Simulation,
    name: &str,
    pre: PopulationId,
    post: PopulationId,
    weights: ValueSpec,
    p: f64,
) -> ProjectionId {
    let rule = ConnectRule::FixedProbability { p, autapses: false };
    let syn = SingleExponentialCurrent {
        spike_charge: 5.0,
        time_constant: 5.0,
    };
    sim.add_projection(Some(name), pre, post, &rule, weights, syn)
        .unwrap()
}

/// A CUBA-like pair of LIF populations, large enough to be cut over a team, with its four
/// single-exponential projections (weights drawn per synapse).
fn cuba_pair(threads: usize) -> (Simulation, [PopulationId; 2], Vec<ProjectionId>) {
    cuba_pair_with(threads, |w| ValueSpec::Normal { mean: w, std: 0.5 })
}

/// [`cuba_pair`] with the weights `weights(mean)`.
fn cuba_pair_with(
    threads: usize,
    weights: impl Fn(f64) -> ValueSpec,
) -> (Simulation, [PopulationId; 2], Vec<ProjectionId>) {
    let mut sim = new_sim(threads);
    let exc = lif(&mut sim, "exc", 24_000);
    let inh = lif(&mut sim, "inh", 6_000);
    let mut projections = Vec::new();
    let pairs = [
        ("ee", exc, exc, 1.6),
        ("ei", exc, inh, 1.6),
        ("ie", inh, exc, -9.0),
    ];
    for (name, pre, post, w) in pairs.into_iter().chain([("ii", inh, inh, -9.0)]) {
        projections.push(connect_with(&mut sim, name, pre, post, weights(w), 0.001));
    }
    (sim, [exc, inh], projections)
}

fn pulled(sim: &Simulation, projections: &[ProjectionId]) -> Vec<bool> {
    projections
        .iter()
        .map(|&p| sim.get_projection::<Pulled>(p).is_some())
        .collect()
}

fn carried(sim: &Simulation, projections: &[ProjectionId]) -> Vec<bool> {
    projections
        .iter()
        .map(|&p| sim.get_projection::<CarriedDecay>(p).is_some())
        .collect()
}

/// Every population's recorded spikes after `steps` steps.
fn run(sim: &mut Simulation, pops: &[PopulationId], steps: u64) -> Vec<Vec<SpikeEvent>> {
    let recorders: Vec<_> = pops
        .iter()
        .map(|&p| sim.record_spikes(p).unwrap())
        .collect();
    sim.run_steps(steps).unwrap();
    recorders
        .into_iter()
        .map(|r| sim.recorded_spikes(r).to_vec())
        .collect()
}

#[test]
fn a_lif_network_on_a_team_pulls_its_current_projections() {
    let (mut two, _, projections) = cuba_pair(2);
    two.initialize().unwrap();
    assert_eq!(pulled(&two, &projections), [true; 4]);
    // One thread has no section to save: the synapse system keeps its projections.
    let (mut one, _, projections) = cuba_pair(1);
    one.initialize().unwrap();
    assert_eq!(pulled(&one, &projections), [false; 4]);
}

/// A user system that reads the projection currents (a recorder of its own, say).
#[derive(Resource, Default)]
struct CurrentSum(f64);

fn sum_currents(currents: Query<&ProjectionCurrent>, mut sum: ResMut<CurrentSum>) {
    sum.0 += currents
        .iter()
        .flat_map(|c| c.0.iter())
        .map(|&x| f64::from(x))
        .sum::<f64>();
}

#[test]
fn an_unvouched_system_that_reads_currents_stops_pulling_with_the_same_results() {
    let (mut pulling, pops, projections) = cuba_pair(2);
    let with_pull = run(&mut pulling, &pops, 300);
    assert_eq!(pulled(&pulling, &projections), [true; 4]);

    let (mut watched, pops, projections) = cuba_pair(2);
    watched.world_mut().init_resource::<CurrentSum>();
    watched.add_systems_in(Phase::Record, sum_currents);
    let without = run(&mut watched, &pops, 300);
    assert_eq!(pulled(&watched, &projections), [false; 4]);
    assert_ne!(watched.world().resource::<CurrentSum>().0, 0.0);

    for (k, (a, b)) in with_pull.iter().zip(&without).enumerate() {
        assert!(a.len() > 100, "population {k}: {} spikes", a.len());
        assert!(
            a == b,
            "population {k}: spikes differ with and without pulling"
        );
    }
    // And both match one thread, where nothing is pulled.
    let (mut one, pops, _) = cuba_pair(1);
    assert!(
        run(&mut one, &pops, 300) == with_pull,
        "differs from one thread"
    );
}

/// The pulled pass carries the next step's decay into its sweep within a run, but not
/// past its last step: between runs, the currents are those of one thread, and a run in
/// several calls gives the spikes of one call.
/// Every projection's current, as bits.
fn currents(sim: &Simulation, projections: &[ProjectionId]) -> Vec<Vec<u32>> {
    projections
        .iter()
        .map(|&p| {
            let c = sim.get_projection::<ProjectionCurrent>(p).unwrap();
            c.0.iter().map(|x| x.to_bits()).collect()
        })
        .collect()
}

#[test]
fn between_runs_pulled_currents_hold_the_step_s_values() {
    let (mut one, pops, projections) = cuba_pair(1);
    let spikes_one = run(&mut one, &pops, 200);
    let (mut two, _, projections_two) = cuba_pair(2);
    let recorders: Vec<_> = pops
        .iter()
        .map(|&p| two.record_spikes(p).unwrap())
        .collect();
    for steps in [120, 1, 79] {
        two.run_steps(steps).unwrap();
        assert_eq!(pulled(&two, &projections_two), [true; 4]);
    }
    let spikes_two: Vec<Vec<SpikeEvent>> = recorders
        .into_iter()
        .map(|r| two.recorded_spikes(r).to_vec())
        .collect();
    assert!(spikes_one == spikes_two, "spikes differ");
    let (a, b) = (
        currents(&one, &projections),
        currents(&two, &projections_two),
    );
    assert!(a.iter().any(|c| c.iter().any(|&x| x != 0)), "no current");
    assert!(a == b, "the currents after the run differ");
}

#[test]
fn only_projections_the_lif_pass_can_run_whole_are_pulled() {
    let mut sim = new_sim(2);
    // Large enough to be cut on a team, so that the team pulls at all.
    let src = lif(&mut sim, "src", 10_000);
    let plain = lif(&mut sim, "plain", 2_000);
    let delayed = lif(&mut sim, "delayed", 2_000);
    let mixed = lif(&mut sim, "mixed", 2_000);
    let driven = lif(&mut sim, "driven", 2_000);
    let exact = sim
        .add_population("exact", 100, Exact::new(-60.0, -40.0), Default::default())
        .unwrap();
    let noise = sim
        .add_population("noise", 100, Poisson::new(10.0), Default::default())
        .unwrap();
    let to_plain = connect(&mut sim, "plain", src, plain, 1.0, 0.01);
    // A delay line: the delayed population's other projection is not pulled either.
    let with_delay = connect(&mut sim, "delayed", src, delayed, 1.0, 0.01);
    sim.set_delays(
        with_delay,
        &ValueSpec::Scalar(1.0),
        DelayMode::Previous,
        None,
    )
    .unwrap();
    let beside_delay = connect(&mut sim, "beside delay", src, delayed, 1.0, 0.01);
    // Another synapse model into the same population.
    let beside_delta = connect(&mut sim, "beside delta", src, mixed, 1.0, 0.01);
    let rule = ConnectRule::FixedProbability {
        p: 0.01,
        autapses: false,
    };
    let delta = DeltaCurrent { spike_charge: 1.0 };
    sim.add_projection(None, src, mixed, &rule, ValueSpec::Scalar(1.0), delta)
        .unwrap();
    // A pre population that is not a LIF pass (its spikes are not kept for a pull).
    let from_poisson = connect(&mut sim, "from poisson", noise, driven, 1.0, 0.01);
    // A post population that is not a LIF pass.
    let to_exact = connect(&mut sim, "to exact", src, exact, 1.0, 0.01);
    sim.initialize().unwrap();
    let verdicts = pulled(
        &sim,
        &[
            to_plain,
            with_delay,
            beside_delay,
            beside_delta,
            from_poisson,
            to_exact,
        ],
    );
    assert_eq!(verdicts, [true, false, false, false, false, false]);
}

/// With one weight per projection, each share pushes the spikes it finds
/// (`lif_push`): through several runs, and across the switches between the team and its
/// driver alone within a run (the team's probe runs steps 64–127 on the driver alone, so
/// the post ranges change under pushed outboxes twice), spikes and currents are those of
/// one thread, bit for bit, on 2 and 3 threads.
#[test]
fn pushed_delivery_gives_one_thread_s_spikes_and_currents() {
    let runs = [120u64, 1, 79, 200];
    let total: u64 = runs.iter().sum();
    let scalar = |w: f64| ValueSpec::Scalar(w);
    let (mut one, pops, projections) = cuba_pair_with(1, scalar);
    let spikes_one = run(&mut one, &pops, total);
    let counts: Vec<usize> = spikes_one.iter().map(Vec::len).collect();
    assert!(counts.iter().all(|&n| n > 2_000), "spikes: {counts:?}");
    for threads in [2, 3] {
        let (mut team, _, projections_team) = cuba_pair_with(threads, scalar);
        let recorders: Vec<_> = pops
            .iter()
            .map(|&p| team.record_spikes(p).unwrap())
            .collect();
        for steps in runs {
            team.run_steps(steps).unwrap();
        }
        assert_eq!(pulled(&team, &projections_team), [true; 4]);
        let spikes: Vec<Vec<SpikeEvent>> = recorders
            .into_iter()
            .map(|r| team.recorded_spikes(r).to_vec())
            .collect();
        assert!(spikes == spikes_one, "{threads} threads: spikes differ");
        assert!(
            currents(&one, &projections) == currents(&team, &projections_team),
            "{threads} threads: the currents after the runs differ"
        );
    }
}

/// Every population's recorded spikes after `steps` steps run one call per step: the
/// last step of a call carries nothing, so this is the pass without carried decay.
fn run_step_by_step(
    sim: &mut Simulation,
    pops: &[PopulationId],
    steps: u64,
) -> Vec<Vec<SpikeEvent>> {
    let recorders: Vec<_> = pops
        .iter()
        .map(|&p| sim.record_spikes(p).unwrap())
        .collect();
    for _ in 0..steps {
        sim.run_steps(1).unwrap();
    }
    recorders
        .into_iter()
        .map(|r| sim.recorded_spikes(r).to_vec())
        .collect()
}

/// On one thread nothing is pulled, but the `lif` pass carries its currents' decay
/// (`CarriedDecay`): the synapse system then only delivers. Spikes and currents are those
/// of the pass without carrying, bit for bit, and a system the engine cannot vouch for
/// that reads currents stops the carrying.
#[test]
fn one_thread_carries_the_decay_with_the_same_spikes_and_currents() {
    let (mut carrying, pops, projections) = cuba_pair(1);
    carrying.initialize().unwrap();
    assert_eq!(carried(&carrying, &projections), [true; 4]);
    assert_eq!(pulled(&carrying, &projections), [false; 4]);
    let with_carry = run(&mut carrying, &pops, 300);
    let counts: Vec<usize> = with_carry.iter().map(Vec::len).collect();
    assert!(counts.iter().all(|&n| n > 300), "spikes: {counts:?}");

    let (mut stepped, pops, projections_stepped) = cuba_pair(1);
    let without = run_step_by_step(&mut stepped, &pops, 300);
    assert!(
        with_carry == without,
        "spikes differ with and without carrying"
    );
    let a = currents(&carrying, &projections);
    assert!(a.iter().any(|c| c.iter().any(|&x| x != 0)), "no current");
    assert!(
        a == currents(&stepped, &projections_stepped),
        "currents differ"
    );

    let (mut watched, pops, projections) = cuba_pair(1);
    watched.world_mut().init_resource::<CurrentSum>();
    watched.add_systems_in(Phase::Record, sum_currents);
    let watched_spikes = run(&mut watched, &pops, 300);
    assert_eq!(carried(&watched, &projections), [false; 4]);
    assert!(watched_spikes == with_carry, "spikes differ when watched");
    // On a team the same projections are pulled instead.
    let (mut team, _, projections) = cuba_pair(2);
    team.initialize().unwrap();
    assert_eq!(carried(&team, &projections), [false; 4]);
}

/// Any pre population and delays will do for carrying (the synapse system still
/// delivers); the post population must be a `lif` pass summing only decaying currents.
#[test]
fn carried_decay_takes_delays_and_any_pre_population_with_the_same_spikes() {
    let build = || {
        let mut sim = new_sim(1);
        let src = lif(&mut sim, "src", 1_000);
        let post = lif(&mut sim, "post", 1_000);
        let mixed = lif(&mut sim, "mixed", 500);
        let exact = sim
            .add_population("exact", 100, Exact::new(-60.0, -40.0), Default::default())
            .unwrap();
        let noise = sim
            .add_population("noise", 200, Poisson::new(40.0), Default::default())
            .unwrap();
        let from_noise = connect(&mut sim, "noise", noise, src, 6.0, 0.2);
        let recurrent = connect(&mut sim, "recurrent", src, src, 1.0, 0.05);
        let delayed = connect(&mut sim, "delayed", src, post, 3.0, 0.05);
        sim.set_delays(delayed, &ValueSpec::Scalar(1.0), DelayMode::Previous, None)
            .unwrap();
        let beside_delta = connect(&mut sim, "beside delta", src, mixed, 1.0, 0.05);
        let rule = ConnectRule::FixedProbability {
            p: 0.05,
            autapses: false,
        };
        let delta = DeltaCurrent { spike_charge: 1.0 };
        sim.add_projection(None, src, mixed, &rule, ValueSpec::Scalar(1.0), delta)
            .unwrap();
        let to_exact = connect(&mut sim, "to exact", src, exact, 1.0, 0.05);
        let projections = vec![from_noise, recurrent, delayed, beside_delta, to_exact];
        (sim, [src, post, mixed], projections)
    };
    let (mut sim, pops, projections) = build();
    sim.initialize().unwrap();
    assert_eq!(
        carried(&sim, &projections),
        [true, true, true, false, false]
    );
    let with_carry = run(&mut sim, &pops, 400);
    let counts: Vec<usize> = with_carry.iter().map(Vec::len).collect();
    assert!(counts.iter().all(|&n| n > 50), "spikes: {counts:?}");
    let (mut stepped, pops, projections_stepped) = build();
    assert!(
        run_step_by_step(&mut stepped, &pops, 400) == with_carry,
        "spikes differ with and without carrying"
    );
    assert!(currents(&sim, &projections[..3]) == currents(&stepped, &projections_stepped[..3]));
}

/// More carried projections than `lif_system` walks in one step (it looks the rest up):
/// twelve populations in a ring, each taking four projections from the next four, give
/// the spikes of the pass without carrying.
#[test]
fn more_carried_projections_than_one_walk_takes_give_the_same_spikes() {
    let build = || {
        let mut sim = new_sim(1);
        let pops: Vec<PopulationId> = (0..12)
            .map(|k| lif(&mut sim, &format!("p{k}"), 300))
            .collect();
        let mut projections = Vec::new();
        for (k, &post) in pops.iter().enumerate() {
            for d in 1..=4 {
                let pre = pops[(k + d) % pops.len()];
                let w = if d % 2 == 0 { 3.0 } else { -1.0 };
                projections.push(connect(&mut sim, &format!("{k}<{d}"), pre, post, w, 0.1));
            }
        }
        (sim, pops, projections)
    };
    let (mut sim, pops, projections) = build();
    sim.initialize().unwrap();
    assert_eq!(carried(&sim, &projections), vec![true; 48]);
    let with_carry = run(&mut sim, &pops, 200);
    let total: usize = with_carry.iter().map(Vec::len).sum();
    assert!(total > 500, "{total} spikes");
    let (mut stepped, pops, projections_stepped) = build();
    assert!(
        run_step_by_step(&mut stepped, &pops, 200) == with_carry,
        "spikes differ"
    );
    assert!(currents(&sim, &projections) == currents(&stepped, &projections_stepped));
}

/// On a team, a population with an incoming projection from outside the LIF pass (here a
/// Poisson source) is not pulled but carried, and cut over the team: spikes and currents
/// are those of one thread and of the pass without carrying.
#[test]
fn carried_decay_on_a_team_gives_one_thread_s_spikes() {
    let build = |threads: usize| {
        let mut sim = new_sim(threads);
        let noise = sim
            .add_population("noise", 2_000, Poisson::new(20.0), Default::default())
            .unwrap();
        let big = lif(&mut sim, "big", 20_000);
        let drive = connect(&mut sim, "drive", noise, big, 4.0, 0.01);
        let recurrent = connect(&mut sim, "recurrent", big, big, 1.0, 0.002);
        (sim, [big], vec![drive, recurrent])
    };
    let (mut one, pops, projections) = build(1);
    let spikes_one = run(&mut one, &pops, 200);
    assert!(
        spikes_one[0].len() > 1_000,
        "{} spikes",
        spikes_one[0].len()
    );
    let (mut team, pops_team, projections_team) = build(2);
    let spikes_team = run(&mut team, &pops_team, 200);
    assert_eq!(carried(&team, &projections_team), [true, true]);
    assert_eq!(pulled(&team, &projections_team), [false, false]);
    assert!(spikes_team == spikes_one, "2 threads: spikes differ");
    assert!(currents(&team, &projections_team) == currents(&one, &projections));
    let (mut stepped, pops, _) = build(1);
    assert!(
        run_step_by_step(&mut stepped, &pops, 200) == spikes_one,
        "differs without carrying"
    );
}

/// A team whose populations are all too small to be cut (CUBA 4 000: 3 200 + 800 neurons)
/// has no section to save by pulling: its projections carry their decay as on one thread,
/// with one thread's spikes, on 2 and 3 threads.
#[test]
fn a_team_of_small_populations_carries_instead_of_pulling() {
    let build = |threads: usize| {
        let mut sim = new_sim(threads);
        let exc = lif(&mut sim, "exc", 3_200);
        let inh = lif(&mut sim, "inh", 800);
        let pairs = [
            ("ee", exc, exc, 1.6),
            ("ei", exc, inh, 1.6),
            ("ie", inh, exc, -9.0),
            ("ii", inh, inh, -9.0),
        ];
        let projections: Vec<_> = pairs
            .into_iter()
            .map(|(name, pre, post, w)| connect(&mut sim, name, pre, post, w, 0.02))
            .collect();
        (sim, [exc, inh], projections)
    };
    let (mut one, pops, _) = build(1);
    let spikes_one = run(&mut one, &pops, 300);
    assert!(spikes_one.iter().all(|s| s.len() > 100), "too few spikes");
    for threads in [2, 3] {
        let (mut team, pops, projections) = build(threads);
        let spikes = run(&mut team, &pops, 300);
        assert_eq!(pulled(&team, &projections), [false; 4], "{threads} threads");
        assert_eq!(carried(&team, &projections), [true; 4], "{threads} threads");
        assert!(spikes == spikes_one, "{threads} threads: spikes differ");
    }
}
