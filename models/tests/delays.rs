//! Synaptic delays against INFERNO.md traces I and J (whole-step delays, both rounding
//! modes), with Ember's one-step shift: a spike of step k reaches its synapse in step
//! k + 1 + D, so Inferno's output at call k (impulse at call 0) is Ember's current after
//! step k + 1.

use ember_engine::prelude::*;
use ember_engine::{DelayMode, ProjectionCurrent, ProjectionId};
use ember_models::{DeltaCurrent, Exact, SingleExponentialCurrent, register_all};

fn sim() -> Simulation {
    let mut sim = Simulation::new(SimConfig {
        step_time: 1.0,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut sim);
    sim
}

/// Drivers (exact neurons) that all spike in step 0 only.
fn drivers(sim: &mut Simulation, n: u32) -> PopulationId {
    let d = sim
        .add_population("drive", n, Exact::new(-60.0, -40.0), Default::default())
        .unwrap();
    sim.add_current(d, 1.0.into(), 0.0, Some(1.0), None)
        .unwrap();
    d
}

fn currents(sim: &mut Simulation, p: ProjectionId, steps: usize) -> Vec<f32> {
    (0..steps)
        .map(|_| {
            sim.run_steps(1).unwrap();
            sim.get_projection::<ProjectionCurrent>(p).unwrap().0[0]
        })
        .collect()
}

/// Trace J: a dense 2 → 1 connection, W = [1, 10], delays [1.0, 2.4] ms, delta synapse
/// Q = 1, Δt = 1, impulse on both inputs at step 0.
fn trace_j(
    mode: DelayMode,
    delays: [f64; 2],
    max_delay: Option<f64>,
) -> Result<Vec<f32>, BuildError> {
    let mut s = sim();
    let d = drivers(&mut s, 2);
    let out = s
        .add_population("out", 1, Exact::new(-60.0, -40.0), Default::default())
        .unwrap();
    let p = s.add_projection(
        None,
        d,
        out,
        &ConnectRule::AllToAll { autapses: true },
        ValueSpec::List(vec![1.0, 10.0]),
        DeltaCurrent { spike_charge: 1.0 },
    )?;
    s.set_delays(p, &ValueSpec::List(delays.to_vec()), mode, max_delay)?;
    Ok(currents(&mut s, p, 7))
}

#[test]
fn trace_j_dense_delays_both_modes() {
    // Inferno: previous [0, 1, 0, 10, 0, 0]; nearest [0, 1, 10, 0, 0, 0] — one step later here.
    assert_eq!(
        trace_j(DelayMode::Previous, [1.0, 2.4], None).unwrap(),
        [0.0, 0.0, 1.0, 0.0, 10.0, 0.0, 0.0]
    );
    assert_eq!(
        trace_j(DelayMode::Nearest, [1.0, 2.4], None).unwrap(),
        [0.0, 0.0, 1.0, 10.0, 0.0, 0.0, 0.0]
    );
}

#[test]
fn trace_j_delay_beyond_the_maximum_is_a_build_error() {
    // Inferno silently drops the 3.5 ms edge (max 3); Ember refuses to build.
    let err = trace_j(DelayMode::Previous, [1.0, 3.5], Some(3.0)).unwrap_err();
    assert!(err.path.ends_with(".delay"), "{err}");
    assert!(err.to_string().contains("max_delay"), "{err}");
    // Within the maximum it builds.
    assert!(trace_j(DelayMode::Previous, [1.0, 3.0], Some(3.0)).is_ok());
}

/// Trace I as Ember supports it: a single-exponential synapse (Q = 1, τ = 5) read D whole
/// steps late equals the undelayed synapse D steps earlier; the delay in ms rounds by mode.
#[test]
fn trace_i_whole_step_delayed_reads() {
    let run = |delay: f64, mode: DelayMode| {
        let mut s = sim();
        let d = drivers(&mut s, 1);
        let out = s
            .add_population("out", 1, Exact::new(-60.0, -40.0), Default::default())
            .unwrap();
        let syn = SingleExponentialCurrent {
            spike_charge: 1.0,
            time_constant: 5.0,
        };
        let p = s
            .add_projection(None, d, out, &ConnectRule::OneToOne, 1.0.into(), syn)
            .unwrap();
        s.set_delays(p, &ValueSpec::Scalar(delay), mode, None)
            .unwrap();
        currents(&mut s, p, 8)
    };
    let undelayed = run(0.0, DelayMode::Previous);
    // INFERNO.md trace H/I values after the spike (Ember: from step 1).
    assert!((undelayed[1] - 0.2).abs() < 1e-6);
    assert!((undelayed[2] - 0.163_746).abs() < 1e-5);
    // (delay ms, mode) → whole steps D, as Inferno's "previous"/"nearest" selectors.
    for (delay, mode, steps) in [
        (0.4, DelayMode::Previous, 1),
        (0.4, DelayMode::Nearest, 0),
        (0.5, DelayMode::Nearest, 1),
        (0.6, DelayMode::Nearest, 1),
        (1.0, DelayMode::Previous, 1),
        (1.4, DelayMode::Previous, 2),
        (1.5, DelayMode::Nearest, 2),
        (2.0, DelayMode::Nearest, 2),
        (2.5, DelayMode::Previous, 3),
    ] {
        let delayed = run(delay, mode);
        let expected: Vec<f32> = (0..8)
            .map(|k| {
                if k >= steps {
                    undelayed[k - steps]
                } else {
                    0.0
                }
            })
            .collect();
        assert_eq!(
            delayed, expected,
            "delay {delay} ms {mode:?} → {steps} steps"
        );
    }
}

#[test]
fn per_synapse_delays_are_deterministic_and_cleared() {
    let build = |threads: usize| {
        let mut s = Simulation::new(SimConfig {
            step_time: 0.1,
            threads,
            ..Default::default()
        })
        .unwrap();
        let lif = ember_models::Lif::new(-65.0, -65.0, -50.0, 2.0, 20.0);
        let p = s.add_population("p", 300, lif, Default::default()).unwrap();
        s.add_current(p, 20.0.into(), 0.0, None, None).unwrap();
        let syn = SingleExponentialCurrent {
            spike_charge: 1.0,
            time_constant: 5.0,
        };
        let rule = ConnectRule::FixedProbability {
            p: 0.1,
            autapses: false,
        };
        let proj = s
            .add_projection(None, p, p, &rule, 0.5.into(), syn)
            .unwrap();
        let delays = ValueSpec::Uniform { lo: 0.0, hi: 3.0 };
        s.set_delays(proj, &delays, DelayMode::Nearest, None)
            .unwrap();
        let rec = s.record_spikes(p).unwrap();
        s.run_steps(400).unwrap();
        (s, proj, rec)
    };
    let (mut a, proj, rec) = build(1);
    let (b, _, rec_b) = build(2);
    assert!(a.recorded_spikes(rec).len() > 100);
    assert_eq!(a.recorded_spikes(rec), b.recorded_spikes(rec_b));
    assert!(matches!(
        a.get_projection::<ember_engine::Delays>(proj),
        Some(ember_engine::Delays::PerSynapseShort(_))
    ));
    a.clear(true);
    assert!(
        a.get_projection::<ProjectionCurrent>(proj)
            .unwrap()
            .0
            .iter()
            .all(|&c| c == 0.0)
    );
}

/// The implicit layouts (`all_to_all` = dense, `all_to_all` without autapses = lateral,
/// `one_to_one` = diagonal) deliver, with per-synapse weights and delays, exactly what the
/// same synapses listed as `pairs` (stored as sparse rows) deliver, with and without delays.
#[test]
fn implicit_layouts_match_their_pairs_with_delays() {
    let n = 5u32;
    let cases = [
        (ConnectRule::AllToAll { autapses: true }, false),
        (ConnectRule::AllToAll { autapses: false }, true),
        (ConnectRule::OneToOne, true),
    ];
    for ((rule, same), delayed) in cases
        .into_iter()
        .flat_map(|c| [(c.clone(), false), (c, true)])
    {
        let run = |rule: &ConnectRule| {
            let mut s = sim();
            // Drivers spike in steps 0 and 3 (neurons 0, 2, 4) and step 1 (all).
            let d = drivers(&mut s, n);
            s.add_current(d, 1.0.into(), 3.0, Some(4.0), Some(vec![0, 2, 4]))
                .unwrap();
            s.add_current(d, 1.0.into(), 1.0, Some(2.0), None).unwrap();
            let post = if same {
                d
            } else {
                s.add_population("out", n, Exact::new(-60.0, -40.0), Default::default())
                    .unwrap()
            };
            let conn = rule.build(n, n, same, 0, "x").unwrap();
            let count = conn.len();
            let p = s
                .add_projection(
                    Some("p"),
                    d,
                    post,
                    rule,
                    ValueSpec::List((0..count).map(|k| 0.5 + k as f64).collect()),
                    SingleExponentialCurrent {
                        spike_charge: 1.0,
                        time_constant: 3.0,
                    },
                )
                .unwrap();
            let delays = ValueSpec::List((0..count).map(|k| (k % 4) as f64).collect());
            if delayed {
                s.set_delays(p, &delays, DelayMode::Previous, None).unwrap();
            }
            (0..12)
                .flat_map(|_| {
                    s.run_steps(1).unwrap();
                    s.get_projection::<ProjectionCurrent>(p).unwrap().0.clone()
                })
                .collect::<Vec<f32>>()
        };
        let conn = rule.build(n, n, same, 0, "x").unwrap();
        let pairs = ConnectRule::Pairs(conn.pairs().map(|(i, j)| [i, j]).collect());
        let implicit = run(&rule);
        assert!(implicit.iter().any(|&x| x != 0.0));
        assert_eq!(implicit, run(&pairs), "{rule:?}");
    }
}
