//! The built-in models reproduce INFERNO.md §4.1 through a whole [`Simulation`]
//! (stimuli → synapses → aggregation → neuron kernels → recorders), not just their kernels.
//!
//! Conventions (SCENARIO.md "Time and step semantics", INFERNO.md index conventions): a
//! recorded value at step k is the value after step k, which is Inferno's value after
//! forward call k. A spike emitted by a population in step k reaches its synapses in step
//! k + 1, so Inferno's synapse current after call k (input spike at call 0) is Ember's
//! projection current after step k + 1 (driver spike at step 0).
//!
//! Spike steps are compared exactly; voltages and currents to 1e-5 relative (zeros exactly).

use ember_engine::bevy_ecs::entity::Entity;
use ember_engine::prelude::*;
use ember_engine::{ProjectionCurrent, ProjectionId, SynapseModel};
use ember_models::{DeltaCurrent, Exact, Lif, SingleExponentialCurrent, register_all};

/// Relative tolerance for voltages and currents against INFERNO.md.
const REL: f64 = 1e-5;

/// `actual` equals `expected` to [`REL`] relative; an expected 0 must be exactly 0.
fn assert_close(what: &str, actual: f32, expected: f64) {
    let a = f64::from(actual);
    if expected == 0.0 {
        assert_eq!(a, 0.0, "{what}: expected exactly 0, got {a}");
    } else {
        let rel = ((a - expected) / expected).abs();
        assert!(
            rel <= REL,
            "{what}: got {a}, expected {expected} (relative error {rel:.2e} > {REL:e})"
        );
    }
}

fn assert_all_close(what: &str, actual: &[f32], expected: &[f64]) {
    assert!(
        actual.len() >= expected.len(),
        "{what}: only {} values, expected at least {}",
        actual.len(),
        expected.len()
    );
    for (k, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert_close(&format!("{what}[{k}]"), a, e);
    }
}

fn new_sim(step_time: f64) -> Simulation {
    let mut sim = Simulation::new(SimConfig {
        step_time,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut sim);
    sim
}

/// Spike steps of neuron `neuron` among a recorder's events.
fn spike_steps(sim: &Simulation, recorder: Entity, neuron: u32) -> Vec<u64> {
    sim.recorded_spikes(recorder)
        .iter()
        .filter(|e| e.neuron == neuron)
        .map(|e| e.step)
        .collect()
}

/// Values of traced neuron slot `k` (single variable, batch 1) of a trace recorder.
fn trace_of(sim: &Simulation, recorder: Entity, k: usize) -> Vec<f32> {
    let t = sim.trace(recorder).expect("trace recorder");
    (0..t.steps.len()).map(|s| t.value(s, 0, 0, k, 1)).collect()
}

// ---------------------------------------------------------------------------------------
// Traces A and B: LIF under constant input
// ---------------------------------------------------------------------------------------

/// INFERNO.md trace A: V after calls 0..=15 (Δt = 1 ms).
const TRACE_A_V: [f64; 16] = [
    -58.57256, -57.28096, -56.11227, -55.0548, -54.09796, -53.23218, -52.44878, -51.73994,
    -51.09855, -50.5182, -65.0, -65.0, -63.09675, -61.37462, -59.81637, -58.4064,
];

/// INFERNO.md trace B: V after calls 0..=12 (Δt = 0.5 ms).
const TRACE_B_V: [f64; 13] = [
    -59.26844, -58.57256, -57.91062, -57.28096, -56.68201, -56.11227, -55.57031, -55.05479,
    -54.56441, -54.09795, -53.65424, -53.23217, -52.83068,
];

struct LifRun {
    spikes: Vec<u64>,
    voltage: Vec<f32>,
}

/// One trace-A neuron (rest −60, reset −65, θ −50, t_ref 2, τ 10, R 1) under a constant
/// 15 nA current stimulus, voltage recorded every step.
fn run_trace_a_neuron(step_time: f64, steps: u64, refrac_lock: bool) -> LifRun {
    let mut sim = new_sim(step_time);
    let cell = sim
        .add_population(
            "cell",
            1,
            Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0),
            PopulationOptions {
                refrac_lock,
                ..Default::default()
            },
        )
        .unwrap();
    sim.add_current(cell, Param::Scalar(15.0), 0.0, None, None)
        .unwrap();
    let spikes = sim.record_spikes(cell).unwrap();
    let trace = sim
        .record_trace(cell, vec![TraceVariable::Voltage], None, 1)
        .unwrap();
    sim.run_steps(steps).unwrap();
    assert_eq!(sim.clock().step, steps);
    assert_eq!(
        sim.trace(trace).unwrap().steps,
        (0..steps).collect::<Vec<_>>(),
        "every = 1 records every step"
    );
    LifRun {
        spikes: spike_steps(&sim, spikes, 0),
        voltage: trace_of(&sim, trace, 0),
    }
}

#[test]
fn trace_a_lif_dt_1() {
    let run = run_trace_a_neuron(1.0, 60, true);
    assert_eq!(run.spikes, [10, 25, 40, 55]);
    assert_eq!(run.voltage.len(), 60);
    assert_all_close("trace A V", &run.voltage, &TRACE_A_V);
    // Every spike leaves the same state (V = reset, r = t_ref) under the same input, so the
    // trajectory repeats exactly with period 15 steps.
    assert_eq!(run.voltage[10..25], run.voltage[25..40]);
    assert_eq!(run.voltage[25..40], run.voltage[40..55]);
    for s in [25, 26, 40, 41, 55, 56] {
        assert_eq!(run.voltage[s], -65.0, "held at reset in step {s}");
    }
}

#[test]
fn trace_a_lif_dt_1_without_refrac_lock() {
    let run = run_trace_a_neuron(1.0, 60, false);
    assert_eq!(run.spikes, [10, 25, 40, 55]);
    // Before the first spike the lock plays no role.
    assert_all_close("trace A V (no lock)", &run.voltage[..11], &TRACE_A_V[..11]);
    // In step 11 the neuron is refractory: without the lock it leaks towards rest with zero
    // input (INFERNO.md 1.3) instead of being held at −65.
    let leaked = -60.0 + (-65.0f64 + 60.0) * (-0.1f64).exp();
    assert_close("V[11] without refrac_lock", run.voltage[11], leaked);
    assert_ne!(run.voltage[11], -65.0);
}

#[test]
fn trace_b_lif_dt_half() {
    let run = run_trace_a_neuron(0.5, 120, true);
    assert_eq!(run.spikes, [21, 52, 83, 114]);
    assert_eq!(run.voltage.len(), 120);
    assert_all_close("trace B V", &run.voltage, &TRACE_B_V);
    // t_ref = 2 ms = 4 steps including the spike step: held at reset for 3 steps after it.
    assert_eq!(run.voltage[21..25], [-65.0; 4]);
    assert!(run.voltage[25] > -65.0);
}

// ---------------------------------------------------------------------------------------
// Trace H: synapses driven by an Exact neuron
// ---------------------------------------------------------------------------------------

/// INFERNO.md trace H, DeltaCurrent (Q = 1, Δt = 1, spikes at calls 0 and 3).
const TRACE_H_DELTA: [f64; 10] = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];

/// INFERNO.md trace H, SingleExponential τ = 5 (Q = 1, Δt = 1, spikes at calls 0 and 3).
const TRACE_H_EXP: [f64; 10] = [
    0.2, 0.163746, 0.134064, 0.309762, 0.253612, 0.20764, 0.170001, 0.139185, 0.113955, 0.093299,
];

/// INFERNO.md trace H, SingleExponential τ = 5, Δt = 0.5, one spike at call 0.
const TRACE_H_EXP_HALF: [f64; 6] = [0.2, 0.180967, 0.163746, 0.148164, 0.134064, 0.121306];

struct SynapseRun {
    /// `ProjectionCurrent` of post neuron 0 after each step.
    current: Vec<f32>,
    /// The post population's recorded input after each step.
    post_input: Vec<f32>,
}

/// A driver population of `Exact` neurons, neuron i spiking in exactly the steps
/// `pre_spikes[i]` (current stimuli active in those steps only), projecting with `rule`,
/// `weights` and `synapse` onto one `Exact` neuron. Reads the projection current after
/// every one of `steps` steps.
fn run_synapse<S: SynapseModel>(
    step_time: f64,
    pre_spikes: &[&[u64]],
    rule: ConnectRule,
    weights: ValueSpec,
    synapse: S,
    steps: u64,
) -> SynapseRun {
    let mut sim = new_sim(step_time);
    let n_pre = pre_spikes.len() as u32;
    let driver = sim
        .add_population(
            "driver",
            n_pre,
            Exact::new(-60.0, -40.0),
            Default::default(),
        )
        .unwrap();
    for (i, steps) in pre_spikes.iter().enumerate() {
        for &s in *steps {
            let start = s as f64 * step_time;
            sim.add_current(
                driver,
                Param::Scalar(1.0),
                start,
                Some(start + step_time),
                Some(vec![i as u32]),
            )
            .unwrap();
        }
    }
    let post = sim
        .add_population("post", 1, Exact::new(-60.0, -40.0), Default::default())
        .unwrap();
    let proj: ProjectionId = sim
        .add_projection(None, driver, post, &rule, weights, synapse)
        .unwrap();
    let driver_spikes = sim.record_spikes(driver).unwrap();
    let input = sim
        .record_trace(post, vec![TraceVariable::Input], None, 1)
        .unwrap();
    let mut current = Vec::new();
    for _ in 0..steps {
        sim.run_steps(1).unwrap();
        let c = sim.get_projection::<ProjectionCurrent>(proj).unwrap();
        assert_eq!(c.0.len(), 1, "one post neuron, one batch copy");
        current.push(c.0[0]);
    }
    // The driver spikes exactly where asked (INFERNO.md's input spike train).
    for (i, want) in pre_spikes.iter().enumerate() {
        assert_eq!(
            spike_steps(&sim, driver_spikes, i as u32),
            *want,
            "driver neuron {i} spike steps"
        );
    }
    SynapseRun {
        current,
        post_input: trace_of(&sim, input, 0),
    }
}

/// Ember's current after step k + 1 is Inferno's after call k; after step 0 nothing has
/// arrived yet.
fn assert_shifted_trace(what: &str, run: &SynapseRun, inferno: &[f64], scale: f64) {
    assert_eq!(run.current[0], 0.0, "{what}: current after step 0");
    let expected: Vec<f64> = inferno.iter().map(|v| v * scale).collect();
    assert_all_close(what, &run.current[1..], &expected);
    // Aggregation: the post neuron's input is exactly the one projection's current.
    assert_eq!(
        run.post_input, run.current,
        "{what}: post input = projection current"
    );
}

#[test]
fn trace_h_delta_current() {
    let run = run_synapse(
        1.0,
        &[&[0, 3]],
        ConnectRule::OneToOne,
        ValueSpec::Scalar(1.0),
        DeltaCurrent { spike_charge: 1.0 },
        11,
    );
    assert_shifted_trace("delta", &run, &TRACE_H_DELTA, 1.0);
}

#[test]
fn trace_h_delta_current_charge_over_dt() {
    // I = s·Q/Δt: at Δt = 0.5 ms a unit charge gives 2 nA for one step.
    let run = run_synapse(
        0.5,
        &[&[0, 3]],
        ConnectRule::OneToOne,
        ValueSpec::Scalar(1.0),
        DeltaCurrent { spike_charge: 1.0 },
        11,
    );
    assert_shifted_trace("delta Δt=0.5", &run, &TRACE_H_DELTA, 2.0);
}

#[test]
fn trace_h_single_exponential_current() {
    let run = run_synapse(
        1.0,
        &[&[0, 3]],
        ConnectRule::OneToOne,
        ValueSpec::Scalar(1.0),
        SingleExponentialCurrent {
            spike_charge: 1.0,
            time_constant: 5.0,
        },
        11,
    );
    assert_shifted_trace("single exponential", &run, &TRACE_H_EXP, 1.0);
}

#[test]
fn trace_h_single_exponential_current_dt_half() {
    let run = run_synapse(
        0.5,
        &[&[0]],
        ConnectRule::OneToOne,
        ValueSpec::Scalar(1.0),
        SingleExponentialCurrent {
            spike_charge: 1.0,
            time_constant: 5.0,
        },
        7,
    );
    assert_shifted_trace("single exponential Δt=0.5", &run, &TRACE_H_EXP_HALF, 1.0);
}

#[test]
fn synapse_weight_scales_current() {
    let delta = run_synapse(
        1.0,
        &[&[0, 3]],
        ConnectRule::OneToOne,
        ValueSpec::Scalar(2.5),
        DeltaCurrent { spike_charge: 1.0 },
        11,
    );
    assert_shifted_trace("delta, w = 2.5", &delta, &TRACE_H_DELTA, 2.5);
    let exp = run_synapse(
        1.0,
        &[&[0, 3]],
        ConnectRule::OneToOne,
        ValueSpec::Scalar(2.5),
        SingleExponentialCurrent {
            spike_charge: 1.0,
            time_constant: 5.0,
        },
        11,
    );
    assert_shifted_trace("single exponential, w = 2.5", &exp, &TRACE_H_EXP, 2.5);
}

#[test]
fn synapse_charge_scales_current() {
    let exp = run_synapse(
        1.0,
        &[&[0, 3]],
        ConnectRule::OneToOne,
        ValueSpec::Scalar(1.0),
        SingleExponentialCurrent {
            spike_charge: -3.0,
            time_constant: 5.0,
        },
        11,
    );
    assert_shifted_trace("single exponential, Q = −3", &exp, &TRACE_H_EXP, -3.0);
}

#[test]
fn two_pre_neurons_sum_weighted_onto_one_post() {
    // pre 0 spikes at 0; pre 1 at 0 and 3. Weights per synapse in canonical (pre) order:
    // w(0 → 0) = 0.5, w(1 → 0) = 2.0.
    let pre: [&[u64]; 2] = [&[0], &[0, 3]];
    let rule = ConnectRule::AllToAll { autapses: false };
    let weights = ValueSpec::List(vec![0.5, 2.0]);

    let delta = run_synapse(
        1.0,
        &pre,
        rule.clone(),
        weights.clone(),
        DeltaCurrent { spike_charge: 1.0 },
        11,
    );
    // Alone, pre 0 gives 1 after step 1; pre 1 gives TRACE_H_DELTA.
    let expected: Vec<f64> = (0..10)
        .map(|k| 0.5 * f64::from(u8::from(k == 0)) + 2.0 * TRACE_H_DELTA[k])
        .collect();
    assert_shifted_trace("delta, two pre", &delta, &expected, 1.0);

    let exp = run_synapse(
        1.0,
        &pre,
        rule,
        weights,
        SingleExponentialCurrent {
            spike_charge: 1.0,
            time_constant: 5.0,
        },
        11,
    );
    // Alone, pre 0 gives (Q/τ)·e^{−kΔt/τ} after call k; pre 1 gives TRACE_H_EXP.
    let expected: Vec<f64> = (0..10)
        .map(|k| 0.5 * 0.2 * (-0.2 * k as f64).exp() + 2.0 * TRACE_H_EXP[k])
        .collect();
    assert_shifted_trace("single exponential, two pre", &exp, &expected, 1.0);
}

// ---------------------------------------------------------------------------------------
// Exact neuron voltage semantics
// ---------------------------------------------------------------------------------------

#[test]
fn exact_neuron_voltage_is_threshold_on_spike_steps_and_rest_otherwise() {
    let mut sim = new_sim(1.0);
    let rest = [-60.0f32, -70.0, -65.0];
    let thresh = [-40.0f32, -50.0, -45.0];
    let pop = sim
        .add_population(
            "exact",
            3,
            Exact {
                rest_v: Param::PerElement(rest.to_vec()),
                thresh_v: Param::PerElement(thresh.to_vec()),
            },
            Default::default(),
        )
        .unwrap();
    // Initial voltage is rest.
    assert_eq!(sim.get::<Voltage>(pop).unwrap().0, rest);
    // Steps 0..5: neuron 0 gets +0.5 (spikes), neuron 1 gets 0 (no spike: input must be
    // > 0), neuron 2 gets −1 (no spike).
    sim.add_current(
        pop,
        Param::PerElement(vec![0.5, 0.0, -1.0]),
        0.0,
        Some(5.0),
        None,
    )
    .unwrap();
    // Step 2: neuron 2 gets +2 more (net +1 > 0: spikes).
    sim.add_current(pop, Param::Scalar(2.0), 2.0, Some(3.0), Some(vec![2]))
        .unwrap();
    // Step 7: neuron 1 gets a tiny positive current (spikes).
    sim.add_current(pop, Param::Scalar(1e-6), 7.0, Some(8.0), Some(vec![1]))
        .unwrap();
    let spikes = sim.record_spikes(pop).unwrap();
    let vtrace = sim
        .record_trace(pop, vec![TraceVariable::Voltage], None, 1)
        .unwrap();
    let rtrace = sim
        .record_trace(pop, vec![TraceVariable::Refrac], None, 1)
        .unwrap();
    sim.run_steps(10).unwrap();

    let want: [Vec<u64>; 3] = [vec![0, 1, 2, 3, 4], vec![7], vec![2]];
    for (i, want) in want.iter().enumerate() {
        let got = spike_steps(&sim, spikes, i as u32);
        assert_eq!(&got, want, "neuron {i} spike steps");
        let v = trace_of(&sim, vtrace, i);
        assert_eq!(v.len(), 10);
        for (step, &v) in v.iter().enumerate() {
            let expected = if want.contains(&(step as u64)) {
                thresh[i]
            } else {
                rest[i]
            };
            assert_eq!(v, expected, "neuron {i} voltage after step {step}");
        }
        assert!(
            trace_of(&sim, rtrace, i).iter().all(|&r| r == 0.0),
            "exact neurons are never refractory"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Heterogeneous LIF parameters
// ---------------------------------------------------------------------------------------

#[test]
fn heterogeneous_lif_matches_homogeneous_single_neuron_populations() {
    const STEPS: u64 = 400;
    let rest = [-60.0f32, -65.0, -55.0];
    let reset = [-65.0f32, -70.0, -62.0];
    let thresh = [-50.0f32, -52.0, -45.0];
    let refrac = [2.0f32, 1.0, 0.5];
    let tc = [10.0f32, 20.0, 5.0];
    let resistance = [1.0f32, 2.0, 0.5];
    let current = [15.0f32, 10.0, 30.0];
    let v0 = [-60.0f32, -58.0, -50.0];

    let mut sim = new_sim(0.25);
    let het = sim
        .add_population(
            "het",
            3,
            Lif {
                rest_v: rest.to_vec().into(),
                reset_v: reset.to_vec().into(),
                thresh_v: thresh.to_vec().into(),
                refrac_t: refrac.to_vec().into(),
                tc_membrane: tc.to_vec().into(),
                resistance: resistance.to_vec().into(),
            },
            PopulationOptions {
                voltage: Some(v0.to_vec().into()),
                ..Default::default()
            },
        )
        .unwrap();
    sim.add_current(het, current.to_vec().into(), 0.0, None, None)
        .unwrap();
    let het_spikes = sim.record_spikes(het).unwrap();
    let het_trace = sim
        .record_trace(het, vec![TraceVariable::Voltage], None, 1)
        .unwrap();

    let mut singles = Vec::new();
    for i in 0..3 {
        let mut model = Lif::new(rest[i], reset[i], thresh[i], refrac[i], tc[i]);
        model.resistance = resistance[i].into();
        let pop = sim
            .add_population(
                &format!("single{i}"),
                1,
                model,
                PopulationOptions {
                    voltage: Some(v0[i].into()),
                    ..Default::default()
                },
            )
            .unwrap();
        sim.add_current(pop, current[i].into(), 0.0, None, None)
            .unwrap();
        let s = sim.record_spikes(pop).unwrap();
        let t = sim
            .record_trace(pop, vec![TraceVariable::Voltage], None, 1)
            .unwrap();
        singles.push((s, t));
    }
    sim.run_steps(STEPS).unwrap();

    let mut trains = Vec::new();
    for (i, &(s, t)) in singles.iter().enumerate() {
        let want_spikes = spike_steps(&sim, s, 0);
        let got_spikes = spike_steps(&sim, het_spikes, i as u32);
        assert!(
            want_spikes.len() >= 3,
            "neuron {i} should fire repeatedly, got {want_spikes:?}"
        );
        assert_eq!(got_spikes, want_spikes, "neuron {i} spike steps");
        let want_v = trace_of(&sim, t, 0);
        let got_v = trace_of(&sim, het_trace, i);
        assert_eq!(got_v.len(), STEPS as usize);
        for (step, (&g, &w)) in got_v.iter().zip(&want_v).enumerate() {
            assert!(
                (g - w).abs() <= 1e-6 * w.abs(),
                "neuron {i} V after step {step}: heterogeneous {g}, homogeneous {w}"
            );
        }
        trains.push(want_spikes);
    }
    // The neurons really are different (a kernel mixing up neurons would be caught).
    assert_ne!(trains[0], trains[1]);
    assert_ne!(trains[1], trains[2]);
    assert_ne!(trains[0], trains[2]);
}
