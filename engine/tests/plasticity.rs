//! Plasticity (issue 6): Inferno traces K (STDP, MSTDP, MSTDPET) and L (pair, nearest),
//! Sapicore nearest-pair STDP without its phantom spike, delayed arrivals, eval mode,
//! batch reduction, bounds, build errors, and a comparison of the event-driven engine with
//! a naive per-synapse reference on random spike trains for every rule, layout, delay form
//! and bounding mode.
//!
//! The populations are a scripted test model that emits given spikes, and the synapse model
//! does nothing: plasticity only looks at spikes, so the tests need nothing else.
//!
//! Step mapping (see `ember_engine::plasticity`): an Inferno input spike at call k is an
//! Ember pre spike at step k − 1 − D (it *arrives* in step k); post spikes and weights keep
//! their step index.

use bevy_ecs::prelude::*;
use ember_engine::plasticity::{
    Bounding, LearningRule, Mstdp, Mstdpet, NearestPairStdp, PlasticityRule, Stdp, TraceMode,
    TripletStdp, UpdateReduction, WeightBounds, reward_schedule,
};
use ember_engine::prelude::*;
use ember_engine::{
    Connectivity, DelayMode, ModelSystems, ParamError, ParamReader, ProjectionId, Weights,
};

/// A neuron model that emits scripted spikes: `(step, batch copy, neuron)`.
#[derive(Component, Clone, Debug, Default)]
struct Scripted {
    events: Vec<(u64, u32, u32)>,
}

impl Scripted {
    fn new(mut events: Vec<(u64, u32, u32)>) -> Self {
        events.sort_unstable();
        events.dedup();
        Self { events }
    }

    /// The same spikes in every one of `batch` copies.
    fn all_copies(spikes: &[(u64, u32)], batch: u32) -> Self {
        Self::new(
            spikes
                .iter()
                .flat_map(|&(k, n)| (0..batch).map(move |b| (k, b, n)))
                .collect(),
        )
    }
}

fn scripted_system(clock: Res<Clock>, mut q: Query<(&Scripted, &mut Spikes)>) {
    for (s, mut spikes) in &mut q {
        let start = s.events.partition_point(|e| e.0 < clock.step);
        for b in 0..spikes.batches() {
            let list = spikes.batch_mut(b);
            for &(k, bb, n) in &s.events[start..] {
                if k != clock.step {
                    break;
                }
                if bb as usize == b {
                    list.push(n);
                }
            }
        }
    }
}

impl NeuronModel for Scripted {
    const NAME: &'static str = "scripted";
    const PARAMS: &'static [&'static str] = &[];

    fn from_params(_: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Scripted::default())
    }

    fn validate(&self, _: usize) -> Result<(), ParamError> {
        Ok(())
    }

    fn initial_voltage(&self, _: usize) -> f32 {
        0.0
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add(Phase::Integrate, scripted_system);
    }
}

/// A synapse model that delivers nothing.
#[derive(Component, Clone, Debug)]
struct Silent;

impl SynapseModel for Silent {
    const NAME: &'static str = "silent";
    const PARAMS: &'static [&'static str] = &[];

    fn from_params(_: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Silent)
    }

    fn validate(&self) -> Result<(), ParamError> {
        Ok(())
    }

    fn add_systems(_: &mut ModelSystems<'_>) {}
}

fn sim(step_time: f64, batch_size: u32, mode: Mode) -> Simulation {
    Simulation::new(SimConfig {
        step_time,
        batch_size,
        mode,
        ..Default::default()
    })
    .unwrap()
}

/// pre (scripted) → post (scripted), connected by `rule` with weight `w`.
fn network(
    sim: &mut Simulation,
    pre: Scripted,
    pre_size: u32,
    post: Scripted,
    post_size: u32,
    rule: &ConnectRule,
    w: ValueSpec,
) -> ProjectionId {
    let a = sim
        .add_population("pre", pre_size, pre, Default::default())
        .unwrap();
    let b = sim
        .add_population("post", post_size, post, Default::default())
        .unwrap();
    sim.add_projection(Some("p"), a, b, rule, w, Silent)
        .unwrap()
}

fn weights(sim: &Simulation, p: ProjectionId) -> Vec<f32> {
    match &sim.get_projection::<Weights>(p).unwrap().0 {
        Param::PerElement(w) => w.clone(),
        Param::Scalar(w) => vec![*w],
    }
}

fn close(a: f32, b: f64, tol: f64) -> bool {
    (f64::from(a) - b).abs() <= tol
}

/// One pre and one post neuron, one-to-one, w = 0.2, Δt = 1 ms: Inferno's Florian example
/// layer. `pre`/`post` are Inferno call indices.
fn florian(rule: PlasticityRule, pre: &[u64], post: &[u64]) -> (Simulation, ProjectionId) {
    let mut s = sim(1.0, 1, Mode::Train);
    let pre: Vec<(u64, u32)> = pre.iter().map(|&k| (k - 1, 0)).collect();
    let post: Vec<(u64, u32)> = post.iter().map(|&k| (k, 0)).collect();
    let p = network(
        &mut s,
        Scripted::all_copies(&pre, 1),
        1,
        Scripted::all_copies(&post, 1),
        1,
        &ConnectRule::OneToOne,
        ValueSpec::Scalar(0.2),
    );
    s.add_plasticity(p, rule).unwrap();
    (s, p)
}

/// Runs to step `last` and checks the weight after each step in `table`.
fn check_table(s: &mut Simulation, p: ProjectionId, table: &[(u64, f64)], what: &str) {
    for &(step, want) in table {
        let now = s.clock().step;
        s.run_steps(step + 1 - now).unwrap();
        let w = weights(s, p)[0];
        assert!(
            close(w, want, 1e-5),
            "{what}: after step {step}: {w} ≠ {want}"
        );
    }
}

const K_PRE: [u64; 4] = [10, 85, 115, 135];
const K_POST: [u64; 4] = [15, 75, 110, 140];
const K_STEPS: [u64; 13] = [10, 15, 16, 75, 85, 100, 110, 115, 135, 140, 141, 150, 200];

fn k_table(values: [f64; 13]) -> Vec<(u64, f64)> {
    K_STEPS.iter().copied().zip(values).collect()
}

/// Trace K: reward +1 for steps ≤ 100, −1 after.
fn k_reward(s: &mut Simulation) {
    s.set_reward_schedule(reward_schedule(&[[0.0, 1.0], [101.0, -1.0]], 1.0).unwrap());
}

#[test]
fn trace_k_stdp() {
    let (mut s, p) = florian(
        PlasticityRule::new(Stdp::new(0.2, -0.2, 20.0, 20.0)),
        &K_PRE,
        &K_POST,
    );
    let table = k_table([
        0.2, 0.35576, 0.35576, 0.363515, 0.236169, 0.236169, 0.294818, 0.110643, 0.042889,
        0.269036, 0.269036, 0.269036, 0.269036,
    ]);
    check_table(&mut s, p, &table, "STDP");
}

#[test]
fn trace_k_mstdp() {
    let (mut s, p) = florian(
        PlasticityRule::new(Mstdp::new(Stdp::new(0.2, -0.2, 20.0, 20.0))),
        &K_PRE,
        &K_POST,
    );
    k_reward(&mut s);
    let table = k_table([
        0.2, 0.35576, 0.35576, 0.363515, 0.236169, 0.236169, 0.177521, 0.361696, 0.42945, 0.203302,
        0.203302, 0.203302, 0.203302,
    ]);
    check_table(&mut s, p, &table, "MSTDP");
}

#[test]
fn trace_k_mstdpet() {
    let (mut s, p) = florian(
        PlasticityRule::new(Mstdpet::new(Stdp::new(0.2, -0.2, 20.0, 20.0), 25.0)),
        &K_PRE,
        &K_POST,
    );
    k_reward(&mut s);
    let table = k_table([
        0.2, 0.20623, 0.212217, 0.345357, 0.347335, 0.297507, 0.315142, 0.319454, 0.41397, 0.43054,
        0.426386, 0.39561, 0.334199,
    ]);
    check_table(&mut s, p, &table, "MSTDPET");
}

/// The reward can also be set by hand between steps.
#[test]
fn trace_k_mstdp_with_reward_set_by_hand() {
    let (mut s, p) = florian(
        PlasticityRule::new(Mstdp::new(Stdp::new(0.2, -0.2, 20.0, 20.0))),
        &K_PRE,
        &K_POST,
    );
    s.set_reward(1.0);
    s.run_steps(101).unwrap();
    assert_eq!(s.reward(), [1.0]);
    s.set_reward(-1.0);
    s.run_steps(100).unwrap();
    assert!(close(weights(&s, p)[0], 0.203302, 1e-5));
}

#[test]
fn trace_l_pair() {
    let (mut s, p) = florian(
        PlasticityRule::new(Stdp::new(1e-2, -1e-2, 20.0, 20.0)),
        &[5],
        &[10],
    );
    let mut table: Vec<(u64, f64)> = (0..10).map(|k| (k, 0.2)).collect();
    table.extend((10..40).map(|k| (k, 0.207788)));
    check_table(&mut s, p, &table, "pair");
}

#[test]
fn trace_l_nearest() {
    let rule = Stdp::new(1e-2, -1e-2, 20.0, 20.0).with_trace(TraceMode::Nearest);
    let (mut s, p) = florian(PlasticityRule::new(rule), &[3, 5], &[10, 12]);
    let table = [
        (9, 0.2),
        (10, 0.207788),
        (11, 0.207788),
        (12, 0.2148349),
        (30, 0.2148349),
    ];
    check_table(&mut s, p, &table, "nearest");
    // Cumulative traces pair every spike: 0.2 + 0.01·(e^{−5/20} + e^{−7/20}) + …
    let (mut c, q) = florian(
        PlasticityRule::new(Stdp::new(1e-2, -1e-2, 20.0, 20.0)),
        &[3, 5],
        &[10, 12],
    );
    c.run_steps(13).unwrap();
    let e = |n: f64| (-n / 20.0).exp();
    let want = 0.2 + 0.01 * (e(5.0) + e(7.0)) + 0.01 * (e(7.0) + e(9.0));
    assert!(close(weights(&c, q)[0], want, 1e-6));
}

/// Sapicore's nearest-pair exponential STDP, hand-computed, with Δt = 0.5 ms.
#[test]
fn nearest_pair_stdp_by_hand() {
    let mut s = sim(0.5, 1, Mode::Train);
    // Arrivals at steps 10, 26, 30, 40 (emitted one step earlier); post spikes at 15, 20,
    // 30, 35.
    let p = network(
        &mut s,
        Scripted::all_copies(&[(9, 0), (25, 0), (29, 0), (39, 0)], 1),
        1,
        Scripted::all_copies(&[(15, 0), (20, 0), (30, 0), (35, 0)], 1),
        1,
        &ConnectRule::OneToOne,
        ValueSpec::Scalar(0.5),
    );
    let rule = NearestPairStdp {
        alpha_plus: 0.1,
        alpha_minus: 0.12,
        tau_plus: 10.0,
        tau_minus: 20.0,
    };
    s.add_plasticity(p, PlasticityRule::new(rule)).unwrap();
    let ltp = |steps: f64| 0.1 * (-(steps * 0.5) / 10.0).exp();
    let ltd = |steps: f64| -0.12 * (-(steps * 0.5) / 20.0).exp();
    let mut w = 0.5;
    let mut table = vec![(10, w)]; // arrival 10: the post neuron never fired, no depression
    w += ltp(5.0); // post 15, nearest pre 10
    table.push((15, w));
    w += ltp(10.0); // post 20, nearest pre 10 again
    table.push((20, w));
    w += ltd(6.0); // arrival 26, nearest post 20
    table.push((26, w));
    table.push((30, w)); // arrival and post together: simultaneous, no change
    w += ltp(5.0); // post 35, nearest pre 30
    table.push((35, w));
    w += ltd(5.0); // arrival 40, nearest post 35
    table.push((40, w));
    table.push((60, w));
    check_table(&mut s, p, &table, "nearest pair");
}

/// A synapse whose post neuron never fired is not depressed (Sapicore's phantom spike at
/// t = 0 would depress it at every arrival); one whose pre neuron never fired is not
/// potentiated.
#[test]
fn nearest_pair_has_no_phantom_spike() {
    let mut s = sim(1.0, 1, Mode::Train);
    // pre 0 fires often, post 0 never; pre 1 never fires, post 1 fires often.
    let pre: Vec<(u64, u32)> = (0..20).map(|k| (5 * k + 2, 0)).collect();
    let post: Vec<(u64, u32)> = (0..20).map(|k| (5 * k + 4, 1)).collect();
    let p = network(
        &mut s,
        Scripted::all_copies(&pre, 1),
        2,
        Scripted::all_copies(&post, 1),
        2,
        &ConnectRule::OneToOne,
        ValueSpec::Scalar(0.5),
    );
    let rule = NearestPairStdp {
        alpha_plus: 0.1,
        alpha_minus: 0.1,
        tau_plus: 10.0,
        tau_minus: 10.0,
    };
    s.add_plasticity(p, PlasticityRule::new(rule)).unwrap();
    s.run_steps(120).unwrap();
    assert_eq!(weights(&s, p), [0.5, 0.5]);
}

/// With a delay of D steps a pre spike of step e is paired at its arrival e + 1 + D: a post
/// spike between emission and arrival precedes it (depression), one after it follows it
/// (potentiation).
#[test]
fn delayed_pre_spikes_pair_at_arrival() {
    let mut s = sim(1.0, 1, Mode::Train);
    let p = network(
        &mut s,
        Scripted::all_copies(&[(6, 0)], 1),
        1,
        Scripted::all_copies(&[(8, 0), (15, 0)], 1),
        1,
        &ConnectRule::OneToOne,
        ValueSpec::Scalar(0.2),
    );
    s.set_delays(p, &ValueSpec::Scalar(3.0), DelayMode::Previous, None)
        .unwrap();
    s.add_plasticity(p, PlasticityRule::new(Stdp::new(0.01, -0.01, 20.0, 20.0)))
        .unwrap();
    let e = |n: f64| (-n / 20.0).exp();
    let after_arrival = 0.2 - 0.01 * e(2.0);
    let table = [
        (9, 0.2),
        (10, after_arrival),
        (14, after_arrival),
        (15, after_arrival + 0.01 * e(5.0)),
    ];
    check_table(&mut s, p, &table, "uniform delay");
}

/// Per-synapse delays: each synapse pairs with its own arrival; delays set after the rule
/// work too.
#[test]
fn per_synapse_delays_pair_each_arrival() {
    for delays_first in [true, false] {
        let mut s = sim(1.0, 1, Mode::Train);
        let p = network(
            &mut s,
            Scripted::all_copies(&[(5, 0)], 1),
            1,
            Scripted::all_copies(&[(12, 0), (12, 1)], 1),
            2,
            &ConnectRule::AllToAll { autapses: true },
            ValueSpec::Scalar(0.2),
        );
        let delays = ValueSpec::List(vec![0.0, 4.0]);
        let rule = PlasticityRule::new(Stdp::new(0.01, -0.01, 20.0, 20.0));
        if delays_first {
            s.set_delays(p, &delays, DelayMode::Previous, None).unwrap();
            s.add_plasticity(p, rule).unwrap();
        } else {
            s.add_plasticity(p, rule).unwrap();
            s.set_delays(p, &delays, DelayMode::Previous, None).unwrap();
        }
        s.run_steps(20).unwrap();
        let e = |n: f64| (-n / 20.0).exp();
        let w = weights(&s, p);
        // Arrivals at 6 and 10, post spikes at 12.
        assert!(close(w[0], 0.2 + 0.01 * e(6.0), 1e-6), "{w:?}");
        assert!(close(w[1], 0.2 + 0.01 * e(2.0), 1e-6), "{w:?}");
    }
}

/// In eval mode (the simulation's or the post population's) weights are frozen.
#[test]
fn eval_mode_freezes_weights() {
    let rules = [
        PlasticityRule::new(Stdp::new(0.2, -0.2, 20.0, 20.0)),
        PlasticityRule::new(Mstdpet::new(Stdp::new(0.2, -0.2, 20.0, 20.0), 25.0)),
    ];
    for rule in rules {
        let pre: Vec<(u64, u32)> = K_PRE.iter().map(|&k| (k - 1, 0)).collect();
        let post: Vec<(u64, u32)> = K_POST.iter().map(|&k| (k, 0)).collect();
        let mut s = sim(1.0, 1, Mode::Eval);
        let p = network(
            &mut s,
            Scripted::all_copies(&pre, 1),
            1,
            Scripted::all_copies(&post, 1),
            1,
            &ConnectRule::OneToOne,
            ValueSpec::Scalar(0.2),
        );
        s.add_plasticity(p, rule).unwrap();
        s.set_reward(1.0);
        s.run_steps(200).unwrap();
        assert_eq!(weights(&s, p), [0.2]);

        // A train-mode simulation with an eval-mode post population.
        let mut s = sim(1.0, 1, Mode::Train);
        let a = s
            .add_population("pre", 1, Scripted::all_copies(&pre, 1), Default::default())
            .unwrap();
        let b = s
            .add_population(
                "post",
                1,
                Scripted::all_copies(&post, 1),
                PopulationOptions {
                    mode: Some(Mode::Eval),
                    ..Default::default()
                },
            )
            .unwrap();
        let p = s
            .add_projection(
                None,
                a,
                b,
                &ConnectRule::OneToOne,
                ValueSpec::Scalar(0.2),
                Silent,
            )
            .unwrap();
        s.add_plasticity(p, rule).unwrap();
        s.set_reward(1.0);
        s.run_steps(200).unwrap();
        assert_eq!(weights(&s, p), [0.2]);
    }
}

/// STDP averages the copies' updates (Inferno's default), MSTDP sums them with each copy's
/// own reward; both can be overridden.
#[test]
fn batch_copies_are_reduced() {
    let e5 = (-5.0f64 / 20.0).exp();
    let run = |rule: PlasticityRule, rewards: Option<[f32; 2]>| {
        let mut s = sim(1.0, 2, Mode::Train);
        // Copy 0 pairs pre (arrival 10) with post 15; copy 1 has no post spike.
        let p = network(
            &mut s,
            Scripted::new(vec![(9, 0, 0), (9, 1, 0)]),
            1,
            Scripted::new(vec![(15, 0, 0)]),
            1,
            &ConnectRule::OneToOne,
            ValueSpec::Scalar(0.2),
        );
        s.add_plasticity(p, rule).unwrap();
        if let Some(r) = rewards {
            s.set_reward_per_copy(&r).unwrap();
        }
        s.run_steps(20).unwrap();
        weights(&s, p)[0]
    };
    let stdp = Stdp::new(0.2, -0.2, 20.0, 20.0);
    let mean = run(PlasticityRule::new(stdp), None);
    assert!(close(mean, 0.2 + 0.5 * 0.2 * e5, 1e-6), "{mean}");
    let sum = run(
        PlasticityRule::new(stdp).with_reduction(UpdateReduction::Sum),
        None,
    );
    assert!(close(sum, 0.2 + 0.2 * e5, 1e-6), "{sum}");
    let modulated = run(PlasticityRule::new(Mstdp::new(stdp)), Some([-2.0, 5.0]));
    assert!(close(modulated, 0.2 - 2.0 * 0.2 * e5, 1e-6), "{modulated}");
    let mut s = sim(1.0, 2, Mode::Train);
    assert!(s.set_reward_per_copy(&[1.0]).is_err());
}

#[test]
fn build_errors() {
    let mut s = sim(1.0, 1, Mode::Train);
    let p = network(
        &mut s,
        Scripted::default(),
        2,
        Scripted::default(),
        2,
        &ConnectRule::AllToAll { autapses: true },
        ValueSpec::List(vec![0.1, 0.5, 0.9, 0.3]),
    );
    let stdp = Stdp::new(0.01, -0.01, 20.0, 20.0);
    // An initial weight outside the bounds, naming the bound and the synapse.
    let e = s
        .add_plasticity(
            p,
            PlasticityRule::new(stdp).with_bounds(WeightBounds::hard(Some(0.0), Some(0.8))),
        )
        .unwrap_err();
    assert_eq!(e.path, "projection \"p\".plasticity.weight_max");
    assert!(e.to_string().contains("synapse 2"), "{e}");
    let e = s
        .add_plasticity(p, PlasticityRule::new(Stdp::new(0.01, -0.01, -1.0, 20.0)))
        .unwrap_err();
    assert_eq!(e.path, "projection \"p\".plasticity.tc_post");
    let e = s
        .add_plasticity(
            p,
            PlasticityRule::new(stdp).with_bounds(WeightBounds::soft(None, None, 1.0, 1.0)),
        )
        .unwrap_err();
    assert_eq!(e.path, "projection \"p\".plasticity.bounding");
    // One rule per projection.
    s.add_plasticity(p, PlasticityRule::new(stdp)).unwrap();
    let e = s.add_plasticity(p, PlasticityRule::new(stdp)).unwrap_err();
    assert_eq!(e.path, "projection \"p\".plasticity");
    // The shared weight became one per synapse.
    assert_eq!(weights(&s, p).len(), 4);
    assert!(s.plasticity(p).is_some_and(|pl| pl.memory_bytes() > 0));
}

/// A scalar weight is expanded to one per synapse when a rule is attached.
#[test]
fn scalar_weights_become_per_synapse() {
    let mut s = sim(1.0, 1, Mode::Train);
    let p = network(
        &mut s,
        Scripted::all_copies(&[(4, 1)], 1),
        3,
        Scripted::all_copies(&[(10, 0)], 1),
        2,
        &ConnectRule::AllToAll { autapses: true },
        ValueSpec::Scalar(0.3),
    );
    s.add_plasticity(p, PlasticityRule::new(Stdp::new(0.01, -0.01, 20.0, 20.0)))
        .unwrap();
    s.run_steps(12).unwrap();
    let w = weights(&s, p);
    assert_eq!(w.len(), 6);
    // Only synapse 1 → 0 (index 2) learned.
    for (k, &x) in w.iter().enumerate() {
        if k == 2 {
            assert!(close(x, 0.3 + 0.01 * (-5.0f64 / 20.0).exp(), 1e-6));
        } else {
            assert_eq!(x, 0.3);
        }
    }
}

/// `reset_plasticity` forgets traces: a post spike after the reset does not pair with a
/// pre arrival before it.
#[test]
fn reset_forgets_traces() {
    let (mut s, p) = florian(
        PlasticityRule::new(Stdp::new(0.2, -0.2, 20.0, 20.0)),
        &[10],
        &[15],
    );
    s.run_steps(12).unwrap();
    s.reset_plasticity();
    s.run_steps(10).unwrap();
    assert_eq!(weights(&s, p), [0.2]);
}

// ---------------------------------------------------------------------------------------
// Random spike trains against a naive reference.
// ---------------------------------------------------------------------------------------

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Spikes `(step, copy, neuron)` with probability `p` per step, neuron and copy.
    fn train(&mut self, steps: u64, batch: u32, n: u32, p: f64) -> Vec<(u64, u32, u32)> {
        let mut out = Vec::new();
        for k in 0..steps {
            for b in 0..batch {
                for i in 0..n {
                    if self.uniform() < p {
                        out.push((k, b, i));
                    }
                }
            }
        }
        out
    }
}

/// The naive reference: every synapse has its own traces, decayed every step; arrivals are
/// found by looking back D + 1 steps in the pre spike history.
struct Reference {
    rule: PlasticityRule,
    dt: f64,
    batch: usize,
    synapses: Vec<(usize, usize)>,
    delays: Vec<u64>,
    w: Vec<f32>,
    /// Per (copy, synapse): fast and slow pre traces, slow before the step, last arrival.
    pre: Vec<[f32; 3]>,
    pre_last: Vec<Option<u64>>,
    /// Per (copy, post neuron).
    post: Vec<[f32; 3]>,
    post_last: Vec<Option<u64>>,
    /// Per (copy, synapse): z_post, z_pre.
    z: Vec<[f32; 2]>,
    post_size: usize,
}

struct TraceParams {
    tau: f32,
    amp: f32,
    nearest: bool,
}

impl Reference {
    fn traces(&self) -> [Option<TraceParams>; 4] {
        let t = |tau: f32, amp: f32, nearest: bool| {
            Some(TraceParams {
                tau,
                amp: amp.abs(),
                nearest,
            })
        };
        let pair = |s: &Stdp| {
            let n = s.trace == TraceMode::Nearest;
            [
                t(s.tc_pre, s.lr_post, n),
                None,
                t(s.tc_post, s.lr_pre, n),
                None,
            ]
        };
        match &self.rule.learning {
            LearningRule::Stdp(s) => pair(s),
            LearningRule::Mstdp(m) => pair(&m.stdp),
            LearningRule::Mstdpet(m) => pair(&m.stdp),
            LearningRule::TripletStdp(r) => {
                let n = r.trace == TraceMode::Nearest;
                [
                    t(r.tc_pre_fast, r.lr_post_pair, n),
                    t(r.tc_pre_slow, r.lr_pre_triplet / r.lr_pre_pair, n),
                    t(r.tc_post_fast, r.lr_pre_pair, n),
                    t(r.tc_post_slow, r.lr_post_triplet / r.lr_post_pair, n),
                ]
            }
            LearningRule::NearestPairStdp(_) => [None, None, None, None],
        }
    }

    fn update_trace(
        x: &mut [f32; 3],
        spike: bool,
        fast: &Option<TraceParams>,
        slow: &Option<TraceParams>,
        dt: f64,
    ) {
        x[2] = x[1];
        for (v, p) in [(0, fast), (1, slow)] {
            if let Some(p) = p {
                x[v] *= (-dt / f64::from(p.tau)).exp() as f32;
                if spike {
                    x[v] = if p.nearest { p.amp } else { x[v] + p.amp };
                }
            }
        }
    }

    fn bound(&self, w: f32, p: f32, d: f32) -> f32 {
        if p == 0.0 && d == 0.0 {
            return w;
        }
        let b = &self.rule.bounds;
        let (lo, hi) = (
            b.min.unwrap_or(f32::NEG_INFINITY),
            b.max.unwrap_or(f32::INFINITY),
        );
        let next = match b.bounding {
            Bounding::Hard => w + p - d,
            Bounding::Soft { mu_plus, mu_minus } => {
                let fp = if b.max.is_some() {
                    (hi - w).max(0.0).powf(mu_plus)
                } else {
                    1.0
                };
                let fd = if b.min.is_some() {
                    (w - lo).max(0.0).powf(mu_minus)
                } else {
                    1.0
                };
                w + p * fp - d * fd
            }
        };
        next.max(lo).min(hi)
    }

    /// Step `k` given the pre spike history (`pre[k][b]` lists) and this step's post spikes.
    #[expect(
        clippy::needless_range_loop,
        reason = "the reference indexes synapses and neurons explicitly, like the equations"
    )]
    fn step(
        &mut self,
        k: u64,
        pre_hist: &[Vec<Vec<bool>>],
        post_now: &[Vec<bool>],
        reward: &[f32],
    ) {
        let [pf, ps, qf, qs] = self.traces();
        let (batch, ns) = (self.batch, self.synapses.len());
        let sign = |x: f32| if x >= 0.0 { 1.0f32 } else { -1.0 };
        let arrived = |b: usize, s: usize| -> bool {
            let (i, _) = self.synapses[s];
            let back = 1 + self.delays[s];
            k >= back && pre_hist[(k - back) as usize][b][i]
        };
        let arrivals: Vec<Vec<bool>> = (0..batch)
            .map(|b| (0..ns).map(|s| arrived(b, s)).collect())
            .collect();
        for b in 0..batch {
            for s in 0..ns {
                let a = arrivals[b][s];
                Self::update_trace(&mut self.pre[b * ns + s], a, &pf, &ps, self.dt);
                if a {
                    self.pre_last[b * ns + s] = Some(k);
                }
            }
            for j in 0..self.post_size {
                let sp = post_now[b][j];
                Self::update_trace(
                    &mut self.post[b * self.post_size + j],
                    sp,
                    &qf,
                    &qs,
                    self.dt,
                );
                if sp {
                    self.post_last[b * self.post_size + j] = Some(k);
                }
            }
        }
        let reduce = match self
            .rule
            .reduction
            .unwrap_or(self.rule.learning.default_reduction())
        {
            UpdateReduction::Mean => 1.0 / batch as f32,
            UpdateReduction::Sum => 1.0,
        };
        let dt = self.dt;
        for s in 0..ns {
            let j = self.synapses[s].1;
            let (mut p, mut d) = (0.0f32, 0.0f32);
            let mut add = |v: f32| {
                if v >= 0.0 { p += v } else { d -= v }
            };
            for b in 0..batch {
                let (x, y) = (self.pre[b * ns + s], self.post[b * self.post_size + j]);
                let (arr, post) = (arrivals[b][s], post_now[b][j]);
                match &self.rule.learning {
                    LearningRule::Stdp(r) => {
                        if post {
                            add(sign(r.lr_post) * x[0]);
                        }
                        if arr {
                            add(sign(r.lr_pre) * y[0]);
                        }
                    }
                    LearningRule::Mstdp(m) => {
                        let g = m.scale * reward[b];
                        if post {
                            add(g * sign(m.stdp.lr_post) * x[0]);
                        }
                        if arr {
                            add(g * sign(m.stdp.lr_pre) * y[0]);
                        }
                    }
                    LearningRule::Mstdpet(m) => {
                        let decay = (-dt / f64::from(m.tc_eligibility)).exp() as f32;
                        let z = &mut self.z[b * ns + s];
                        z[0] *= decay;
                        z[1] *= decay;
                        if post {
                            z[0] += x[0] / m.tc_eligibility;
                        }
                        if arr {
                            z[1] += y[0] / m.tc_eligibility;
                        }
                        let g = m.scale * reward[b] * dt as f32;
                        add(g * sign(m.stdp.lr_post) * z[0]);
                        add(g * sign(m.stdp.lr_pre) * z[1]);
                    }
                    LearningRule::TripletStdp(r) => {
                        if post {
                            add(sign(r.lr_post_pair) * x[0] * (1.0 + y[2]));
                        }
                        if arr {
                            add(sign(r.lr_pre_pair) * y[0] * (1.0 + x[2]));
                        }
                    }
                    LearningRule::NearestPairStdp(r) => {
                        let pre_last = self.pre_last[b * ns + s];
                        let post_last = self.post_last[b * self.post_size + j];
                        if post && let Some(l) = pre_last.filter(|&l| l < k) {
                            add(r.alpha_plus
                                * (-((k - l) as f64 * dt) / f64::from(r.tau_plus)).exp() as f32);
                        }
                        if arr && let Some(l) = post_last.filter(|&l| l < k) {
                            add(-r.alpha_minus
                                * (-((k - l) as f64 * dt) / f64::from(r.tau_minus)).exp() as f32);
                        }
                    }
                }
            }
            self.w[s] = self.bound(self.w[s], p * reduce, d * reduce);
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Shape {
    Dense,
    Lateral,
    Sparse,
    Pairs,
    Diagonal,
}

#[derive(Clone, Copy, Debug)]
enum DelayForm {
    None,
    Uniform,
    PerSynapse,
}

fn rules() -> Vec<LearningRule> {
    let stdp = Stdp::new(0.05, -0.06, 15.0, 12.0);
    vec![
        stdp.into(),
        stdp.with_trace(TraceMode::Nearest).into(),
        Stdp::new(-0.04, 0.05, 10.0, 20.0).into(),
        Mstdp { stdp, scale: 0.7 }.into(),
        Mstdpet {
            stdp,
            tc_eligibility: 25.0,
            scale: 1.5,
        }
        .into(),
        Mstdpet::new(
            Stdp::new(0.05, 0.03, 15.0, 12.0).with_trace(TraceMode::Nearest),
            10.0,
        )
        .into(),
        TripletStdp {
            lr_post_pair: 0.02,
            lr_post_triplet: 0.03,
            lr_pre_pair: -0.025,
            lr_pre_triplet: 0.01,
            tc_post_fast: 10.0,
            tc_post_slow: 40.0,
            tc_pre_fast: 12.0,
            tc_pre_slow: 30.0,
            trace: TraceMode::Cumulative,
        }
        .into(),
        TripletStdp {
            lr_post_pair: 0.02,
            lr_post_triplet: 0.03,
            lr_pre_pair: -0.025,
            lr_pre_triplet: 0.01,
            tc_post_fast: 10.0,
            tc_post_slow: 40.0,
            tc_pre_fast: 12.0,
            tc_pre_slow: 30.0,
            trace: TraceMode::Nearest,
        }
        .into(),
        NearestPairStdp {
            alpha_plus: 0.05,
            alpha_minus: 0.06,
            tau_plus: 10.0,
            tau_minus: 15.0,
        }
        .into(),
    ]
}

fn bounds_list() -> Vec<WeightBounds> {
    vec![
        WeightBounds::NONE,
        WeightBounds::hard(Some(0.0), Some(1.0)),
        WeightBounds::soft(Some(0.0), Some(1.0), 1.0, 1.0),
        WeightBounds::soft(Some(-0.5), Some(1.0), 0.5, 2.0),
        WeightBounds::soft(None, Some(1.0), 1.0, 1.0),
        WeightBounds::hard(Some(0.3), None),
    ]
}

/// Runs the engine and the reference side by side; returns the largest difference seen, and
/// checks the weights stay inside their bounds after every step.
#[expect(clippy::too_many_arguments, reason = "one test case's parameters")]
fn compare(
    seed: u64,
    learning: LearningRule,
    bounds: WeightBounds,
    shape: Shape,
    delay: DelayForm,
    batch: u32,
    steps: u64,
    rate: f64,
) -> f64 {
    let mut rng = Rng(seed);
    let dt = 0.5;
    let (pre_n, post_n) = match shape {
        Shape::Lateral | Shape::Diagonal => (5u32, 5u32),
        _ => (5, 4),
    };
    let pre_events = rng.train(steps, batch, pre_n, rate);
    let post_events = match shape {
        Shape::Lateral => pre_events.clone(),
        _ => rng.train(steps, batch, post_n, rate),
    };
    let rule = match shape {
        Shape::Dense => ConnectRule::AllToAll { autapses: true },
        Shape::Lateral => ConnectRule::AllToAll { autapses: false },
        Shape::Sparse => ConnectRule::FixedProbability {
            p: 0.5,
            autapses: true,
        },
        Shape::Pairs => {
            ConnectRule::Pairs(vec![[0, 3], [0, 1], [2, 2], [2, 0], [3, 1], [4, 3], [4, 0]])
        }
        Shape::Diagonal => ConnectRule::OneToOne,
    };
    let mut s = Simulation::new(SimConfig {
        step_time: dt,
        batch_size: batch,
        seed,
        ..Default::default()
    })
    .unwrap();
    let a = s
        .add_population(
            "pre",
            pre_n,
            Scripted::new(pre_events.clone()),
            Default::default(),
        )
        .unwrap();
    let b = match shape {
        Shape::Lateral => a,
        _ => s
            .add_population(
                "post",
                post_n,
                Scripted::new(post_events.clone()),
                Default::default(),
            )
            .unwrap(),
    };
    let (lo, hi) = (
        bounds.min.unwrap_or(-0.5).max(-0.5),
        bounds.max.unwrap_or(1.0).min(1.0),
    );
    let p = s
        .add_projection(
            None,
            a,
            b,
            &rule,
            ValueSpec::Uniform {
                lo: f64::from(lo),
                hi: f64::from(hi),
            },
            Silent,
        )
        .unwrap();
    let synapses: Vec<(usize, usize)> = s
        .get_projection::<Connectivity>(p)
        .unwrap()
        .pairs()
        .map(|(i, j)| (i as usize, j as usize))
        .collect();
    let ns = synapses.len();
    let delays: Vec<u64> = match delay {
        DelayForm::None => vec![0; ns],
        DelayForm::Uniform => vec![3; ns],
        DelayForm::PerSynapse => (0..ns).map(|k| (k as u64 * 7 + seed) % 5).collect(),
    };
    if !matches!(delay, DelayForm::None) {
        let ms: Vec<f64> = delays.iter().map(|&d| d as f64 * dt).collect();
        s.set_delays(p, &ValueSpec::List(ms), DelayMode::Previous, None)
            .unwrap();
    }
    let prule = PlasticityRule {
        learning,
        bounds,
        reduction: None,
    };
    s.add_plasticity(p, prule).unwrap();
    let mut reference = Reference {
        rule: prule,
        dt,
        batch: batch as usize,
        synapses: synapses.clone(),
        delays,
        w: weights(&s, p),
        pre: vec![[0.0; 3]; ns * batch as usize],
        pre_last: vec![None; ns * batch as usize],
        post: vec![[0.0; 3]; post_n as usize * batch as usize],
        post_last: vec![None; post_n as usize * batch as usize],
        z: vec![[0.0; 2]; ns * batch as usize],
        post_size: post_n as usize,
    };
    let flags = |events: &[(u64, u32, u32)], k: u64, n: u32| -> Vec<Vec<bool>> {
        let mut f = vec![vec![false; n as usize]; batch as usize];
        for &(kk, bb, i) in events {
            if kk == k {
                f[bb as usize][i as usize] = true;
            }
        }
        f
    };
    let mut pre_hist = Vec::new();
    let mut worst = 0.0f64;
    let initial = weights(&s, p);
    for k in 0..steps {
        let reward: Vec<f32> = (0..batch)
            .map(|_| (rng.uniform() * 4.0 - 1.5) as f32)
            .collect();
        s.set_reward_per_copy(&reward).unwrap();
        s.run_steps(1).unwrap();
        let post_now = flags(&post_events, k, post_n);
        reference.step(k, &pre_hist, &post_now, &reward);
        pre_hist.push(flags(&pre_events, k, pre_n));
        let got = weights(&s, p);
        for (x, y) in got.iter().zip(&reference.w) {
            if let Some(lo) = bounds.min {
                assert!(*x >= lo, "{x} below {lo}");
            }
            if let Some(hi) = bounds.max {
                assert!(*x <= hi, "{x} above {hi}");
            }
            worst = worst.max(f64::from((x - y).abs()) / (1.0 + f64::from(y.abs())));
        }
    }
    let moved = weights(&s, p)
        .iter()
        .zip(&initial)
        .any(|(a, b)| (a - b).abs() > 1e-4);
    assert!(moved, "{} {shape:?}: no weight changed", learning.name());
    worst
}

/// Every rule, bounding mode, layout and delay form on random spike trains: the
/// event-driven engine matches the naive per-synapse reference, and weights never leave
/// their bounds.
#[test]
fn random_trains_match_the_reference_and_respect_bounds() {
    let shapes = [
        Shape::Dense,
        Shape::Lateral,
        Shape::Sparse,
        Shape::Pairs,
        Shape::Diagonal,
    ];
    let delays = [DelayForm::None, DelayForm::Uniform, DelayForm::PerSynapse];
    let mut case = 0u64;
    for learning in rules() {
        for bounds in bounds_list() {
            for (n, shape) in shapes.iter().enumerate() {
                let delay = delays[(case as usize + n) % 3];
                let batch = 1 + (case % 2) as u32;
                case += 1;
                let worst = compare(case, learning, bounds, *shape, delay, batch, 160, 0.12);
                assert!(
                    worst < 2e-5,
                    "{} {bounds:?} {shape:?} {delay:?} batch {batch}: difference {worst}",
                    learning.name()
                );
            }
        }
    }
}

/// Large learning rates drive every rule against the bounds, which still hold.
#[test]
fn large_learning_rates_stay_within_bounds() {
    let big: Vec<LearningRule> = vec![
        Stdp::new(0.8, -0.9, 20.0, 20.0).into(),
        Mstdp::new(Stdp::new(0.8, -0.9, 20.0, 20.0)).into(),
        Mstdpet::new(Stdp::new(0.8, -0.9, 20.0, 20.0), 5.0).into(),
        TripletStdp {
            lr_post_pair: 0.5,
            lr_post_triplet: 0.9,
            lr_pre_pair: -0.6,
            lr_pre_triplet: 0.5,
            tc_post_fast: 10.0,
            tc_post_slow: 40.0,
            tc_pre_fast: 12.0,
            tc_pre_slow: 30.0,
            trace: TraceMode::Cumulative,
        }
        .into(),
        NearestPairStdp {
            alpha_plus: 0.9,
            alpha_minus: 0.8,
            tau_plus: 20.0,
            tau_minus: 20.0,
        }
        .into(),
    ];
    let bounded = [
        WeightBounds::hard(Some(0.0), Some(1.0)),
        WeightBounds::soft(Some(0.0), Some(1.0), 1.0, 1.0),
        WeightBounds::soft(Some(-0.5), Some(1.0), 0.5, 3.0),
    ];
    for (n, learning) in big.into_iter().enumerate() {
        for (m, bounds) in bounded.iter().enumerate() {
            for seed in 0..3 {
                let case = 1000 + (n * 10 + m) as u64 * 7 + seed;
                // `compare` asserts the bounds after every step.
                compare(
                    case,
                    learning,
                    *bounds,
                    Shape::Dense,
                    DelayForm::PerSynapse,
                    2,
                    120,
                    0.3,
                );
            }
        }
    }
}
