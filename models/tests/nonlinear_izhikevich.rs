//! `qif`, `izhikevich` and `izhikevich_abcd` through a whole [`Simulation`]: INFERNO.md
//! traces E and F, the worked adaptation examples of §1.4, batches and their reductions,
//! train/eval mode, `clear`, scenario files, parameter validation, and the classic
//! Izhikevich (2003) presets against a direct Euler loop of the 2003 equations.
//!
//! Conventions as in `inferno_traces.rs`: a recorded value at step k is the value after
//! step k (Inferno's value after forward call k); spike steps are compared exactly and
//! voltages to 1e-5 relative.

#![expect(
    clippy::excessive_precision,
    reason = "INFERNO.md's parameters and values, digit for digit"
)]

use ember_engine::bevy_ecs::entity::Entity;
use ember_engine::prelude::*;
use ember_engine::{ParamError, RestingVoltage, ScenarioHandles};
use ember_models::neurons::izhikevich::classic_rest_crit;
use ember_models::{Izhikevich, IzhikevichAbcd, IzhikevichPreset, Qif, register_all};

/// Relative tolerance against INFERNO.md.
const REL: f64 = 1e-5;

fn assert_close(what: &str, actual: f32, expected: f64, rel: f64) {
    let a = f64::from(actual);
    let err = ((a - expected) / expected).abs();
    assert!(
        err <= rel,
        "{what}: got {a}, expected {expected} (relative error {err:.2e} > {rel:e})"
    );
}

fn new_sim(step_time: f64, batch_size: u32, mode: Mode) -> Simulation {
    let mut sim = Simulation::new(SimConfig {
        step_time,
        batch_size,
        mode,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut sim);
    sim
}

fn sim_at(step_time: f64) -> Simulation {
    new_sim(step_time, 1, Mode::Train)
}

/// Spike steps of `neuron` in batch copy `batch`.
fn spike_steps(sim: &Simulation, recorder: Entity, batch: u32, neuron: u32) -> Vec<u64> {
    sim.recorded_spikes(recorder)
        .iter()
        .filter(|e| e.neuron == neuron && e.batch == batch)
        .map(|e| e.step)
        .collect()
}

/// Values of variable `var` of traced neuron slot `k`, batch copy `b` of `batch`.
fn trace_of(sim: &Simulation, recorder: Entity, var: usize, b: usize, k: usize) -> Vec<f32> {
    let t = sim.trace(recorder).expect("trace recorder");
    let batch = sim.config().batch_size as usize;
    (0..t.steps.len())
        .map(|s| t.value(s, var, b, k, batch))
        .collect()
}

fn adaptation(sim: &Simulation, pop: PopulationId) -> Vec<f32> {
    sim.get::<Adaptation>(pop).unwrap().values().to_vec()
}

// ---------------------------------------------------------------------------------------
// Trace E: QIF
// ---------------------------------------------------------------------------------------

/// INFERNO.md trace E: V after calls 0..=9.
const TRACE_E_V: [f64; 10] = [
    -59.5, -59.0475, -58.63368, -58.25164, -57.89591, -57.56205, -57.24641, -56.94595, -56.65808,
    -56.38058,
];

fn trace_e() -> Qif {
    Qif::new(-60.0, -50.0, 0.1, -65.0, -30.0, 1.0, 10.0)
}

#[test]
fn trace_e_qif() {
    let mut sim = sim_at(1.0);
    let pop = sim
        .add_population("qif", 1, trace_e(), Default::default())
        .unwrap();
    sim.add_current(pop, Param::Scalar(5.0), 0.0, None, None)
        .unwrap();
    let spikes = sim.record_spikes(pop).unwrap();
    let trace = sim
        .record_trace(pop, vec![TraceVariable::Voltage], None, 1)
        .unwrap();
    sim.run_steps(200).unwrap();
    assert_eq!(spike_steps(&sim, spikes, 0, 0), [44, 95, 146, 197]);
    let v = trace_of(&sim, trace, 0, 0, 0);
    for (k, &e) in TRACE_E_V.iter().enumerate() {
        assert_close(&format!("V[{k}]"), v[k], e, REL);
    }
    // The spike step shows the reset voltage; the next step is refractory (held).
    // refrac_t = Δt: the next step integrates again, from the reset voltage.
    assert_eq!(v[44], -65.0);
    assert_close(
        "V[45]",
        v[45],
        -65.0 + 0.1 * (0.1 * -5.0 * -15.0 + 5.0),
        1e-6,
    );
}

#[test]
fn qif_heterogeneous_parameters_match_homogeneous_populations() {
    // Two neurons with different time constants and inputs in one population equal two
    // homogeneous one-neuron populations.
    let mut sim = sim_at(1.0);
    let mut het = trace_e();
    het.tc_membrane = Param::PerElement(vec![10.0, 5.0]);
    het.crit_v = Param::PerElement(vec![-50.0, -45.0]);
    let pop = sim
        .add_population("het", 2, het, Default::default())
        .unwrap();
    sim.add_current(pop, Param::PerElement(vec![5.0, 7.0]), 0.0, None, None)
        .unwrap();
    let mut singles = vec![];
    for (i, (tau, crit, input)) in [(10.0, -50.0, 5.0), (5.0, -45.0, 7.0)]
        .into_iter()
        .enumerate()
    {
        let mut q = trace_e();
        q.tc_membrane = Param::Scalar(tau);
        q.crit_v = Param::Scalar(crit);
        let p = sim
            .add_population(&format!("single{i}"), 1, q, Default::default())
            .unwrap();
        sim.add_current(p, Param::Scalar(input), 0.0, None, None)
            .unwrap();
        singles.push(p);
    }
    let spikes = sim.record_spikes(pop).unwrap();
    let mut v = vec![vec![]; 2];
    for _ in 0..200 {
        sim.run_steps(1).unwrap();
        let het_v = &sim.get::<Voltage>(pop).unwrap().0;
        for i in 0..2 {
            let single_v = sim.get::<Voltage>(singles[i]).unwrap().0[0];
            assert_eq!(het_v[i], single_v, "neuron {i}");
            v[i].push(het_v[i]);
        }
    }
    let s0 = spike_steps(&sim, spikes, 0, 0);
    let s1 = spike_steps(&sim, spikes, 0, 1);
    assert_eq!(s0, [44, 95, 146, 197]);
    assert!(!s1.is_empty() && s1 != s0);
}

#[test]
fn qif_without_refrac_lock_evolves_with_zero_input_while_refractory() {
    let mut sim = sim_at(1.0);
    let mut q = trace_e();
    q.refrac_t = Param::Scalar(2.0);
    let options = PopulationOptions {
        refrac_lock: false,
        voltage: Some(Param::Scalar(-20.0)),
        ..Default::default()
    };
    let pop = sim.add_population("qif", 1, q, options).unwrap();
    sim.add_current(pop, Param::Scalar(1000.0), 0.0, None, None)
        .unwrap();
    sim.run_steps(2).unwrap();
    // Step 0: −20 + 0.1·(0.1·40·30 + 1000) ≥ −30 → spike, reset −65, r = 2.
    // Step 1: refractory, no input, not held: −65 + 0.1·(0.1·(−5)·(−15)) = −64.25.
    let v = sim.get::<Voltage>(pop).unwrap().0[0];
    assert_close("V", v, -64.25, 1e-6);
    assert_eq!(sim.get::<Refractory>(pop).unwrap().0[0], 1.0);
}

// ---------------------------------------------------------------------------------------
// Trace F: classic RS mapped as in INFERNO.md (with an input offset)
// ---------------------------------------------------------------------------------------

/// INFERNO.md trace F: V after calls 0..=9.
const TRACE_F_V: [f64; 10] = [
    -58.0, -50.468, -38.01281, -7.46973, -65.0, -66.40973, -67.28419, -67.68069, -67.74719,
    -67.61716,
];

fn trace_f() -> Izhikevich {
    Izhikevich::new(
        -82.6556444,
        -42.3443556,
        0.04,
        -65.0,
        30.0,
        0.0,
        1.0,
        50.0,
        0.2,
        8.0,
    )
}

fn trace_f_options(mode: Option<Mode>) -> PopulationOptions {
    PopulationOptions {
        voltage: Some(Param::Scalar(-65.0)),
        adaptation: Some(vec![3.5311289]),
        mode,
        ..Default::default()
    }
}

/// Runs trace F for `steps`; returns the simulation, population, spike and trace recorders
/// (voltage, adaptation0).
fn run_trace_f(mode: Option<Mode>, steps: u64) -> (Simulation, PopulationId, Entity, Entity) {
    let mut sim = sim_at(1.0);
    let pop = sim
        .add_population("izh", 1, trace_f(), trace_f_options(mode))
        .unwrap();
    sim.add_current(pop, Param::Scalar(10.0 + 16.5311289), 0.0, None, None)
        .unwrap();
    let spikes = sim.record_spikes(pop).unwrap();
    let vars = vec![TraceVariable::Voltage, TraceVariable::Adaptation(0)];
    let trace = sim.record_trace(pop, vars, None, 1).unwrap();
    sim.run_steps(steps).unwrap();
    (sim, pop, spikes, trace)
}

#[test]
fn trace_f_izhikevich_classic_rs_mapped() {
    let (sim, _, spikes, trace) = run_trace_f(None, 300);
    assert_eq!(
        spike_steps(&sim, spikes, 0, 0),
        [4, 31, 78, 125, 172, 219, 266]
    );
    let v = trace_of(&sim, trace, 0, 0, 0);
    for (k, &e) in TRACE_F_V.iter().enumerate() {
        assert_close(&format!("V[{k}]"), v[k], e, REL);
    }
}

#[test]
fn eval_mode_freezes_the_adaptation() {
    let (train, _, train_spikes, _) = run_trace_f(None, 300);
    let (eval, pop, eval_spikes, trace) = run_trace_f(Some(Mode::Eval), 300);
    let w = trace_of(&eval, trace, 1, 0, 0);
    assert!(w.iter().all(|&w| w == 3.5311289f32), "w frozen at w₀");
    assert_eq!(adaptation(&eval, pop), [3.5311289f32]);
    // The frozen w still enters the membrane: the first step equals train mode's, the
    // second uses w₀ again (train mode: w after step 0).
    let v = trace_of(&eval, trace, 0, 0, 0);
    assert_close("V[0]", v[0], TRACE_F_V[0], REL);
    let expected = -58.0 + 0.04 * (-58.0 + 82.6556444) * (-58.0 + 42.3443556) + 23.0;
    assert_close("V[1]", v[1], expected, REL);
    // ...but without the growing w the neuron fires faster than in train mode.
    let (s_train, s_eval) = (
        spike_steps(&train, train_spikes, 0, 0),
        spike_steps(&eval, eval_spikes, 0, 0),
    );
    assert_eq!(s_eval[0], 4);
    assert!(s_eval.len() > s_train.len(), "{s_eval:?} vs {s_train:?}");
    // The simulation-wide eval mode does the same.
    let mut sim = new_sim(1.0, 1, Mode::Eval);
    let pop = sim
        .add_population("izh", 1, trace_f(), trace_f_options(None))
        .unwrap();
    sim.add_current(pop, Param::Scalar(26.5311289), 0.0, None, None)
        .unwrap();
    sim.run_steps(50).unwrap();
    assert_eq!(adaptation(&sim, pop), [3.5311289f32]);
}

#[test]
fn clear_resets_voltage_and_keeps_or_zeroes_adaptations() {
    let (mut sim, pop, _, _) = run_trace_f(None, 100);
    let w = adaptation(&sim, pop)[0];
    assert!(w != 3.5311289 && w != 0.0);
    sim.clear(true);
    assert_eq!(sim.get::<Voltage>(pop).unwrap().0, [-82.6556444f32]);
    assert_eq!(sim.get::<Refractory>(pop).unwrap().0, [0.0]);
    assert_eq!(adaptation(&sim, pop), [w]);
    sim.clear(false);
    assert_eq!(adaptation(&sim, pop), [0.0]);
    // The population keeps running from the cleared state.
    sim.run_steps(1).unwrap();
    let v = sim.get::<Voltage>(pop).unwrap().0[0];
    assert_close("V after clear", v, -82.6556444 + 26.5311289, 1e-6);

    // izhikevich_abcd clears to its initial default voltage, −65 mV.
    let mut sim = sim_at(1.0);
    let pop = sim
        .add_population(
            "rs",
            1,
            IzhikevichAbcd::preset(IzhikevichPreset::RegularSpiking),
            Default::default(),
        )
        .unwrap();
    sim.add_current(pop, Param::Scalar(10.0), 0.0, None, None)
        .unwrap();
    sim.run_steps(30).unwrap();
    sim.clear(true);
    assert_eq!(sim.get::<RestingVoltage>(pop).unwrap().0, [-65.0]);
    assert_eq!(sim.get::<Voltage>(pop).unwrap().0, [-65.0]);
}

// ---------------------------------------------------------------------------------------
// INFERNO.md §1.4 worked examples: w = 4.5 and 5.0
// ---------------------------------------------------------------------------------------

/// V₀ = −30 (spikes on the first step), reset −70, rest −65, b = 1, τ = 10, d = 5.
fn worked_example(refrac_t: f32) -> Izhikevich {
    Izhikevich::new(
        -65.0, -50.0, 0.1, -70.0, -40.0, refrac_t, 10.0, 10.0, 1.0, 5.0,
    )
}

#[test]
fn worked_adaptation_examples() {
    for (refrac_t, expected) in [(0.0, 4.5), (1.0, 5.0)] {
        let mut sim = sim_at(1.0);
        let options = PopulationOptions {
            voltage: Some(Param::Scalar(-30.0)),
            ..Default::default()
        };
        let pop = sim
            .add_population("izh", 1, worked_example(refrac_t), options)
            .unwrap();
        let spikes = sim.record_spikes(pop).unwrap();
        sim.run_steps(1).unwrap();
        assert_eq!(spike_steps(&sim, spikes, 0, 0), [0]);
        assert_eq!(sim.get::<Voltage>(pop).unwrap().0, [-70.0]);
        // refrac_t = 0: 0 + 0.1·(1·(−70 + 65) − 0) + 5 = 4.5 (the post-reset voltage);
        // refrac_t = 1: the Euler step is frozen on the spike step, only + d: 5.0.
        assert_close("w", adaptation(&sim, pop)[0], expected, 1e-7);
    }
}

#[test]
fn without_refrac_lock_the_adaptation_steps_on_the_spike_step() {
    let mut sim = sim_at(1.0);
    let options = PopulationOptions {
        voltage: Some(Param::Scalar(-30.0)),
        refrac_lock: false,
        ..Default::default()
    };
    let pop = sim
        .add_population("izh", 1, worked_example(1.0), options)
        .unwrap();
    sim.run_steps(1).unwrap();
    assert_close("w", adaptation(&sim, pop)[0], 4.5, 1e-7);
}

// ---------------------------------------------------------------------------------------
// Batches and batch reduction
// ---------------------------------------------------------------------------------------

#[test]
fn batch_copies_with_identical_inputs_give_identical_spikes() {
    let mut sim = new_sim(1.0, 2, Mode::Train);
    let pop = sim
        .add_population("izh", 1, trace_f(), trace_f_options(None))
        .unwrap();
    sim.add_current(pop, Param::Scalar(26.5311289), 0.0, None, None)
        .unwrap();
    let spikes = sim.record_spikes(pop).unwrap();
    sim.run_steps(300).unwrap();
    let s0 = spike_steps(&sim, spikes, 0, 0);
    assert_eq!(s0, [4, 31, 78, 125, 172, 219, 266]);
    assert_eq!(s0, spike_steps(&sim, spikes, 1, 0));
    let v = &sim.get::<Voltage>(pop).unwrap().0;
    assert_eq!(v[0], v[1]);
}

/// Batch of 2, one neuron: copy 0 starts at −30 mV and spikes, copy 1 rests; d = 2,
/// `refrac_t = 1` (the Euler step is frozen for the spiker, copy 1 has V = rest so its step
/// is 0): the copies' updated w are 2 and 0.
fn reduced(reduction: BatchReduction) -> f32 {
    let mut sim = new_sim(1.0, 2, Mode::Train);
    let mut model = worked_example(1.0);
    model.spike_increment = vec![2.0];
    let options = PopulationOptions {
        batch_reduction: reduction,
        ..Default::default()
    };
    let pop = sim.add_population("izh", 1, model, options).unwrap();
    sim.world_mut()
        .get_mut::<Voltage>(pop.0)
        .unwrap()
        .0
        .copy_from_slice(&[-30.0, -65.0]);
    let spikes = sim.record_spikes(pop).unwrap();
    sim.run_steps(1).unwrap();
    assert_eq!(spike_steps(&sim, spikes, 0, 0), [0]);
    assert!(spike_steps(&sim, spikes, 1, 0).is_empty());
    assert_eq!(sim.get::<Voltage>(pop).unwrap().0, [-70.0, -65.0]);
    adaptation(&sim, pop)[0]
}

#[test]
fn batch_reduction_mean_sum_max_min_and_custom() {
    assert_eq!(reduced(BatchReduction::Mean), 1.0);
    assert_eq!(reduced(BatchReduction::Max), 2.0);
    assert_eq!(reduced(BatchReduction::Sum), 2.0);
    assert_eq!(reduced(BatchReduction::Min), 0.0);
    assert_eq!(
        reduced(BatchReduction::Custom(|v| v[0] * 10.0 + v[1])),
        20.0
    );
}

#[test]
fn several_adaptation_terms_add_up() {
    // Two identical terms with half the coupling and increment each act like one term.
    let run = |terms: usize| {
        let mut sim = new_sim(1.0, 2, Mode::Train);
        let mut model = trace_f();
        let k = terms as f32;
        model.tc_adaptation = vec![50.0; terms];
        model.voltage_coupling = vec![0.2 / k; terms];
        model.spike_increment = vec![8.0 / k; terms];
        let options = PopulationOptions {
            voltage: Some(Param::Scalar(-65.0)),
            adaptation: Some(vec![3.5311289 / k; terms]),
            ..Default::default()
        };
        let pop = sim.add_population("izh", 1, model, options).unwrap();
        sim.add_current(pop, Param::Scalar(26.5311289), 0.0, None, None)
            .unwrap();
        let spikes = sim.record_spikes(pop).unwrap();
        let trace = sim
            .record_trace(pop, vec![TraceVariable::Voltage], None, 1)
            .unwrap();
        sim.run_steps(300).unwrap();
        let w: f32 = adaptation(&sim, pop).iter().sum();
        (
            spike_steps(&sim, spikes, 0, 0),
            trace_of(&sim, trace, 0, 0, 0),
            w,
        )
    };
    let (s1, v1, w1) = run(1);
    let (s2, v2, w2) = run(2);
    assert_eq!(s1, [4, 31, 78, 125, 172, 219, 266]);
    assert_eq!(s1, s2);
    for (k, (a, b)) in v1.iter().zip(&v2).enumerate() {
        assert_close(&format!("V[{k}]"), *b, f64::from(*a), 1e-5);
    }
    assert_close("Σw", w2, f64::from(w1), 1e-5);
}

#[test]
fn large_populations_give_identical_results_on_one_and_two_threads() {
    let n = ember_models::neurons::PARALLEL_MIN_NEURONS as u32 + 1000;
    let run = |threads: usize| {
        let mut sim = Simulation::new(SimConfig {
            step_time: 0.5,
            threads,
            ..Default::default()
        })
        .unwrap();
        register_all(&mut sim);
        let v0: Vec<f32> = (0..n)
            .map(|i| -70.0 + 120.0 * i as f32 / n as f32)
            .collect();
        let options = PopulationOptions {
            voltage: Some(Param::PerElement(v0.clone())),
            ..Default::default()
        };
        let izh = sim
            .add_population("izh", n, trace_f(), options.clone())
            .unwrap();
        let mut q = trace_e();
        q.thresh_v = Param::Scalar(30.0);
        let qif = sim.add_population("qif", n, q, options).unwrap();
        let mut recs = vec![];
        for pop in [izh, qif] {
            sim.add_current(pop, Param::Scalar(5.0), 0.0, None, None)
                .unwrap();
            recs.push(sim.record_spikes(pop).unwrap());
        }
        sim.run_steps(4).unwrap();
        (
            sim.get::<Voltage>(izh).unwrap().0.clone(),
            sim.get::<Voltage>(qif).unwrap().0.clone(),
            adaptation(&sim, izh),
            sim.recorded_spikes(recs[0]).to_vec(),
            sim.recorded_spikes(recs[1]).to_vec(),
        )
    };
    let one = run(1);
    assert!(!one.3.is_empty() && !one.4.is_empty());
    assert!(one.3.windows(2).all(|w| w[0] < w[1]), "sorted spikes");
    assert_eq!(one, run(2));
}

// ---------------------------------------------------------------------------------------
// Classic Izhikevich (2003) from (a, b, c, d)
// ---------------------------------------------------------------------------------------

#[test]
fn classic_mapping_parameters() {
    // b = 0.2: p² + 120p + 3500 = 0 → −70 (and −50); crit = −125 − rest.
    assert_eq!(classic_rest_crit(0.2).unwrap(), (-70.0, -55.0));
    let rs = Izhikevich::preset(IzhikevichPreset::RegularSpiking);
    assert_eq!(rs.rest_v, Param::Scalar(-70.0));
    assert_eq!(rs.crit_v, Param::Scalar(-55.0));
    assert_eq!(rs.affinity, Param::Scalar(0.04));
    assert_eq!(rs.tc_membrane, Param::Scalar(1.0));
    assert_eq!(rs.reset_v, Param::Scalar(-65.0));
    assert_eq!(rs.thresh_v, Param::Scalar(30.0));
    assert_eq!(rs.refrac_t, Param::Scalar(0.0));
    assert_eq!(rs.resistance, Param::Scalar(1.0));
    assert_eq!(rs.tc_adaptation, [50.0]);
    assert_eq!(rs.voltage_coupling, [0.2]);
    assert_eq!(rs.spike_increment, [8.0]);
    // The identity 0.04(v − r)(v − c) − (u − b·r) = 0.04v² + 5v + 140 − u for every preset.
    for p in IzhikevichPreset::ALL {
        let (_, b, _, _) = p.abcd();
        let (r, c) = classic_rest_crit(b).unwrap();
        let (r, c, b) = (f64::from(r), f64::from(c), f64::from(b));
        for v in [-80.0, -65.0, -40.0, 0.0, 30.0] {
            let mapped = 0.04 * (v - r) * (v - c) + b * r;
            let classic = 0.04 * v * v + 5.0 * v + 140.0;
            assert!(
                (mapped - classic).abs() < 1e-4,
                "{}: {mapped} vs {classic}",
                p.abbreviation()
            );
        }
    }
    let abcd = IzhikevichAbcd::preset(IzhikevichPreset::LowThresholdSpiking);
    let w = abcd.adaptation_from_u(0, -16.25).unwrap();
    assert_close("u", abcd.u_from_adaptation(0, w).unwrap(), -16.25, 1e-7);
}

/// One step of a direct Euler loop of Izhikevich's (2003) equations in f64, with Inferno's
/// order of operations: v first; threshold and reset; u from the post-reset v; then + d on
/// a spike. Returns (v, u, spiked).
fn step_2003(
    (a, b, c, d): (f64, f64, f64, f64),
    dt: f64,
    input: f64,
    (v, u): (f64, f64),
) -> (f64, f64, bool) {
    let mut v = v + dt * (0.04 * v * v + 5.0 * v + 140.0 - u + input);
    let spike = v >= 30.0;
    if spike {
        v = c;
    }
    let mut u = u + dt * a * (b * v - u);
    if spike {
        u += d;
    }
    (v, u, spike)
}

/// How the mapped model compared with the direct loop.
#[derive(Debug)]
struct Comparison {
    spikes: usize,
    /// Largest one-step relative error of v and u (`|Δ| / max(|x|, 1)`).
    local: f64,
    /// The first step whose spike differs between the two free-running loops, if any.
    divergence: Option<usize>,
    /// Largest free-running error before the divergence: relative for u, and for v
    /// relative to the 100 mV spike amplitude (`|Δv| / max(|v|, 100 mV)`).
    global_v: f64,
    global_u: f64,
}

/// Runs the population `add` builds for `steps` under a constant `input` and compares its
/// V and u = w + b·V_rest with the 2003 equations: one step at a time from the model's own
/// state (local), and as an independent f64 loop from v₀ = −65, u₀ = b·v₀ (global).
fn compare_with_direct(
    preset: IzhikevichPreset,
    dt: f64,
    input: f32,
    steps: usize,
    add: impl Fn(&mut Simulation) -> PopulationId,
) -> Comparison {
    let mut sim = sim_at(dt);
    let pop = add(&mut sim);
    sim.add_current(pop, Param::Scalar(input), 0.0, None, None)
        .unwrap();
    let what = format!("{preset:?}, Δt = {dt}");
    let [cmp] = compare_neurons(&what, &mut sim, pop, &[preset.abcd()], input, steps)
        .try_into()
        .unwrap();
    cmp
}

/// Runs `sim` (Δt from its config, the population `pop` under a constant `input` nA) for
/// `steps` and compares each neuron i's V and u = w + bᵢ·V_rest,ᵢ with the 2003 equations
/// for `abcds[i]`, as [`compare_with_direct`]. One comparison per neuron.
fn compare_neurons(
    what: &str,
    sim: &mut Simulation,
    pop: PopulationId,
    abcds: &[(f32, f32, f32, f32)],
    input: f32,
    steps: usize,
) -> Vec<Comparison> {
    let dt = sim.config().step_time;
    let spikes = sim.record_spikes(pop).unwrap();
    let vars = vec![TraceVariable::Voltage, TraceVariable::Adaptation(0)];
    let trace = sim.record_trace(pop, vars, None, 1).unwrap();
    sim.run_steps(steps as u64).unwrap();
    abcds
        .iter()
        .enumerate()
        .map(|(i, &abcd)| {
            let what = format!("{what}, neuron {i} {abcd:?}");
            let v = trace_of(sim, trace, 0, 0, i);
            let w = trace_of(sim, trace, 1, 0, i);
            let ours = spike_steps(sim, spikes, 0, i as u32);
            compare_neuron(&what, abcd, dt, input, &v, &w, &ours)
        })
        .collect()
}

/// [`compare_neurons`] for one neuron with parameters `abcd` and its recorded V, w and
/// spike steps.
fn compare_neuron(
    what: &str,
    (a, b, c, d): (f32, f32, f32, f32),
    dt: f64,
    input: f32,
    v: &[f32],
    w: &[f32],
    ours: &[u64],
) -> Comparison {
    let abcd = (f64::from(a), f64::from(b), f64::from(c), f64::from(d));
    let (rest, _) = classic_rest_crit(b).unwrap();
    let steps = v.len();
    let state = |k: usize| {
        let u = f64::from(w[k]) + f64::from(b) * f64::from(rest);
        (f64::from(v[k]), u, ours.binary_search(&(k as u64)).is_ok())
    };
    let rel = |x: f64, e: f64, floor: f64| (x - e).abs() / e.abs().max(floor);
    let initial = (-65.0, abcd.1 * -65.0);
    let input = f64::from(input);
    let (mut local, mut global_v, mut global_u) = (0.0f64, 0.0f64, 0.0f64);
    let (mut free, mut divergence) = (initial, None);
    for k in 0..steps {
        let (av, au, aspike) = state(k);
        let prev = if k == 0 {
            initial
        } else {
            let (v, u, _) = state(k - 1);
            (v, u)
        };
        let (ev, eu, espike) = step_2003(abcd, dt, input, prev);
        assert_eq!(aspike, espike, "{what}, step {k}: spike");
        local = local.max(rel(av, ev, 1.0)).max(rel(au, eu, 1.0));
        let (fv, fu, fspike) = step_2003(abcd, dt, input, free);
        free = (fv, fu);
        if divergence.is_none() {
            if fspike != aspike {
                divergence = Some(k);
            } else {
                global_v = global_v.max(rel(av, fv, 100.0));
                global_u = global_u.max(rel(au, fu, 1.0));
            }
        }
    }
    Comparison {
        spikes: ours.len(),
        local,
        divergence,
        global_v,
        global_u,
    }
}

#[test]
fn classic_presets_match_a_direct_euler_loop_of_the_2003_equations() {
    for preset in IzhikevichPreset::ALL {
        let (a, b, c, d) = preset.abcd();
        let name = preset.abbreviation();
        for dt in [1.0, 0.5] {
            // The scenario model (`izhikevich_abcd`): v₀ = −65, u₀ = b·v₀ by default.
            let by_abcd = compare_with_direct(preset, dt, 10.0, 1000, |sim| {
                let model = IzhikevichAbcd::preset(preset);
                sim.add_population("abcd", 1, model, Default::default())
                    .unwrap()
            });
            // `Izhikevich::from_abcd` with the classic initial state given explicitly.
            let by_from_abcd = compare_with_direct(preset, dt, 10.0, 1000, |sim| {
                let model = Izhikevich::from_abcd(a, b, c, d, 30.0).unwrap();
                let (rest, _) = classic_rest_crit(b).unwrap();
                let options = PopulationOptions {
                    voltage: Some(Param::Scalar(-65.0)),
                    adaptation: Some(vec![b * (-65.0 - rest)]),
                    ..Default::default()
                };
                sim.add_population("izh", 1, model, options).unwrap()
            });
            eprintln!("{name} Δt = {dt}: {by_abcd:?}");
            assert_eq!(format!("{by_abcd:?}"), format!("{by_from_abcd:?}"));
            let cmp = by_abcd;
            assert!(cmp.spikes > 5, "{name}: {cmp:?}");
            // Every step of the mapped model is a step of the 2003 equations (f32 round-off).
            assert!(cmp.local <= 1e-5, "{name}, Δt = {dt}: {cmp:?}");
            if (preset, dt) == (IzhikevichPreset::FastSpiking, 0.5) {
                // This Euler map is chaotic: free-running trajectories part whatever the
                // arithmetic (see `fast_spiking_at_half_a_millisecond_is_chaotic`); ours
                // keeps the f64 loop's spike train for 23 spikes (404 steps).
                assert_eq!(cmp.divergence, Some(404), "{cmp:?}");
                continue;
            }
            // Free-running: identical spike steps over 1000 steps, and V and u within 1e-4
            // all along, except LTS at Δt = 1 ms: there the map amplifies a perturbation of
            // u₀ ~2400-fold in V (measured in f64), and f32 round-off of the time stepping
            // (not the mapping: an f64 run with the f32 parameters stays within 2e-5) grows
            // to 1.6e-3 of the 100 mV amplitude in V, 1.4e-4 in u, with the same spikes. A
            // direct f32 loop of the 2003 equations shows the same effect (3e-4 in V).
            assert_eq!(cmp.divergence, None, "{name}, Δt = {dt}: {cmp:?}");
            let (bound_v, bound_u) = match (preset, dt) {
                (IzhikevichPreset::LowThresholdSpiking, 1.0) => (2e-3, 2e-4),
                _ => (1e-4, 1e-4),
            };
            assert!(
                cmp.global_v <= bound_v && cmp.global_u <= bound_u,
                "{name}, Δt = {dt}: {cmp:?}"
            );
        }
    }
}

/// Why FS at Δt = 0.5 ms cannot match a free-running reference step for step: the Euler map
/// of the 2003 equations is chaotic there. In pure f64, perturbing u₀ by 10⁻⁹ changes the
/// spike train within 1000 steps; a direct f32 loop of the 2003 equations parts from the
/// f64 loop even earlier than the mapped model does (step 332 versus 404).
#[test]
fn fast_spiking_at_half_a_millisecond_is_chaotic() {
    let abcd = (0.1f32, 0.2f32, -65.0f32, 2.0f32);
    let abcd64 = (0.1f32 as f64, 0.2f32 as f64, -65.0, 2.0);
    let first_divergence = |u0_offset: f64| {
        let mut x = (-65.0, abcd64.1 * -65.0);
        let mut y = (-65.0, abcd64.1 * -65.0 + u0_offset);
        (0..1000).find(|_| {
            let (xv, xu, xs) = step_2003(abcd64, 0.5, 10.0, x);
            let (yv, yu, ys) = step_2003(abcd64, 0.5, 10.0, y);
            (x, y) = ((xv, xu), (yv, yu));
            xs != ys
        })
    };
    let perturbed = first_divergence(1e-9);
    assert!(perturbed.is_some_and(|k| k > 404), "{perturbed:?}");
    // A direct f32 loop of the 2003 equations.
    let (a, b, c, d) = abcd;
    let (mut v, mut u) = (-65.0f32, b * -65.0);
    let mut reference = (-65.0, abcd64.1 * -65.0);
    let f32_divergence = (0..1000).find(|_| {
        v += 0.5 * (0.04 * v * v + 5.0 * v + 140.0 - u + 10.0);
        let spike = v >= 30.0;
        if spike {
            v = c;
        }
        u += 0.5 * a * (b * v - u);
        if spike {
            u += d;
        }
        let (rv, ru, rs) = step_2003(abcd64, 0.5, 10.0, reference);
        reference = (rv, ru);
        rs != spike
    });
    assert_eq!(f32_divergence, Some(332));
}

// ---------------------------------------------------------------------------------------
// Per-neuron (a, b, c, d): the heterogeneity of the Izhikevich (2003) network
// ---------------------------------------------------------------------------------------

type Abcd = (f32, f32, f32, f32);

/// Five neurons of the 2003 network: excitatory r = 0, 0.5, 0.9 (a = 0.02, b = 0.2,
/// c = −65 + 15r², d = 8 − 6r²) and inhibitory r = 0.2, 0.7 (a = 0.02 + 0.08r,
/// b = 0.25 − 0.05r, c = −65, d = 2): a, b, c and d all differ between neurons.
fn network_neurons() -> Vec<Abcd> {
    let exc = |r: f32| (0.02, 0.2, -65.0 + 15.0 * r * r, 8.0 - 6.0 * r * r);
    let inh = |r: f32| (0.02 + 0.08 * r, 0.25 - 0.05 * r, -65.0, 2.0);
    vec![exc(0.0), exc(0.5), exc(0.9), inh(0.2), inh(0.7)]
}

/// `izhikevich_abcd` with one (a, b, c, d) per neuron, cut off at 30 mV.
fn per_neuron(abcds: &[Abcd]) -> IzhikevichAbcd {
    let col = |f: fn(&Abcd) -> f32| Param::PerElement(abcds.iter().map(f).collect());
    IzhikevichAbcd {
        a: col(|p| p.0),
        b: col(|p| p.1),
        c: col(|p| p.2),
        d: col(|p| p.3),
        thresh_v: 30.0.into(),
    }
}

#[test]
fn heterogeneous_population_matches_a_direct_euler_loop_per_neuron() {
    let abcds = network_neurons();
    let n = abcds.len() as u32;
    for dt in [1.0, 0.5] {
        // izhikevich_abcd with per-neuron a, b, c, d: v₀ = −65, u₀ = bᵢ·v₀ by default.
        let model = per_neuron(&abcds);
        let mut abcd_sim = sim_at(dt);
        let abcd_pop = abcd_sim
            .add_population("net", n, model.clone(), Default::default())
            .unwrap();
        let w0 = adaptation(&abcd_sim, abcd_pop);
        for (i, &(_, b, _, _)) in abcds.iter().enumerate() {
            // u₀ = bᵢ·v₀ (f32 here, f64 in the model): equal to f32 round-off of u₀.
            let expected = model.adaptation_from_u(i, b * -65.0).unwrap();
            assert!(
                (w0[i] - expected).abs() < 1e-5,
                "w₀[{i}]: {} vs {expected}",
                w0[i]
            );
        }
        // The same as `izhikevich` through `to_izhikevich`: per-neuron rest_v and crit_v
        // (from b) and a per-neuron adaptation term.
        let izh = model.to_izhikevich().unwrap();
        assert!(matches!(izh.rest_v, Param::PerElement(_)));
        assert!(izh.tc_adaptation.is_empty() && izh.neuron_adaptation.is_some());
        let mut izh_sim = sim_at(dt);
        let options = PopulationOptions {
            voltage: Some(Param::Scalar(-65.0)),
            ..Default::default()
        };
        let izh_pop = izh_sim.add_population("net", n, izh, options).unwrap();
        izh_sim
            .world_mut()
            .get_mut::<Adaptation>(izh_pop.0)
            .unwrap()
            .values_mut()
            .copy_from_slice(&w0);
        let mut runs = vec![];
        for (sim, pop) in [(&mut abcd_sim, abcd_pop), (&mut izh_sim, izh_pop)] {
            sim.add_current(pop, Param::Scalar(10.0), 0.0, None, None)
                .unwrap();
            let what = format!("Δt = {dt}");
            runs.push(compare_neurons(&what, sim, pop, &abcds, 10.0, 1000));
        }
        assert_eq!(format!("{:?}", runs[0]), format!("{:?}", runs[1]));
        for (i, cmp) in runs[0].iter().enumerate() {
            eprintln!("neuron {i} {:?}, Δt = {dt}: {cmp:?}", abcds[i]);
            // Every step, from the model's own state, is a step of the 2003 equations of
            // that neuron (f32 round-off), spikes included (checked in `compare_neuron`).
            assert!(cmp.spikes > 5, "neuron {i}, Δt = {dt}: {cmp:?}");
            assert!(cmp.local <= 1e-5, "neuron {i}, Δt = {dt}: {cmp:?}");
            // Free-running over the 1000 steps: the same spike steps, V and u within 1e-4
            // (2e-4 in V for neuron 1 at Δt = 1 ms: f32 round-off amplified by the upswings,
            // as for the LTS preset) — except the FS-like inhibitory neurons at Δt = 0.5 ms,
            // whose Euler map is chaotic like FS's there (see
            // `fast_spiking_at_half_a_millisecond_is_chaotic`): their trains part from the f64
            // loop's after more than 600 steps.
            if dt == 0.5 && i >= 3 {
                assert!(cmp.divergence.is_some_and(|k| k > 600), "{cmp:?}");
                continue;
            }
            assert_eq!(cmp.divergence, None, "neuron {i}, Δt = {dt}: {cmp:?}");
            assert!(
                cmp.global_v <= 2e-4 && cmp.global_u <= 1e-4,
                "neuron {i}, Δt = {dt}: {cmp:?}"
            );
        }
    }
}

/// V, w and spikes of every population after each of `steps` steps.
type Run = Vec<(Vec<f32>, Vec<f32>)>;

#[test]
fn per_neuron_values_all_equal_are_bit_identical_to_shared_values() {
    let (a, b, c, d) = IzhikevichPreset::LowThresholdSpiking.abcd();
    let n = 4;
    let shared = IzhikevichAbcd::new(a, b, c, d);
    let each = |x: f32| Param::PerElement(vec![x; n]);
    // Per-neuron a or d: shared membrane, per-neuron term; b: both per neuron (rest_v and
    // crit_v come from b); c: per-neuron membrane, shared term.
    let variants = [
        (
            "a",
            IzhikevichAbcd {
                a: each(a),
                ..shared.clone()
            },
        ),
        (
            "b",
            IzhikevichAbcd {
                b: each(b),
                ..shared.clone()
            },
        ),
        (
            "c",
            IzhikevichAbcd {
                c: each(c),
                ..shared.clone()
            },
        ),
        (
            "d",
            IzhikevichAbcd {
                d: each(d),
                ..shared.clone()
            },
        ),
        (
            "a, b, c, d",
            IzhikevichAbcd {
                a: each(a),
                b: each(b),
                c: each(c),
                d: each(d),
                thresh_v: each(30.0),
            },
        ),
    ];
    assert!(shared.to_izhikevich().unwrap().neuron_adaptation.is_none());
    for (name, m) in &variants {
        let izh = m.to_izhikevich().unwrap();
        let per_neuron_term = name != &"c";
        assert_eq!(izh.neuron_adaptation.is_some(), per_neuron_term, "{name}");
        assert_eq!(
            izh.rest_v.as_scalar().is_none(),
            name.contains('b'),
            "{name}"
        );
    }
    for batch in [1, 2] {
        let mut sim = new_sim(0.5, batch, Mode::Train);
        let models = std::iter::once(("shared", shared.clone())).chain(variants.clone());
        let mut pops = vec![];
        for (k, (_, model)) in models.enumerate() {
            let pop = sim
                .add_population(&format!("p{k}"), n as u32, model, Default::default())
                .unwrap();
            // Different states and inputs per neuron and batch copy (w₀ from v₀ = −65).
            let v0: Vec<f32> = (0..n * batch as usize)
                .map(|k| -70.0 + 9.0 * k as f32)
                .collect();
            let v = &mut sim.world_mut().get_mut::<Voltage>(pop.0).unwrap().0;
            v.copy_from_slice(&v0);
            let input = Param::PerElement(vec![4.0, 8.0, 12.0, 20.0]);
            sim.add_current(pop, input, 0.0, None, None).unwrap();
            pops.push((pop, sim.record_spikes(pop).unwrap()));
        }
        let mut runs: Vec<Run> = vec![vec![]; pops.len()];
        for _ in 0..1000 {
            sim.run_steps(1).unwrap();
            for (run, (pop, _)) in runs.iter_mut().zip(&pops) {
                let v = sim.get::<Voltage>(*pop).unwrap().0.clone();
                run.push((v, adaptation(&sim, *pop)));
            }
        }
        let spikes: Vec<_> = pops
            .iter()
            .map(|(_, rec)| sim.recorded_spikes(*rec).to_vec())
            .collect();
        assert!(spikes[0].len() > 20, "{}", spikes[0].len());
        for (k, (name, _)) in variants.iter().enumerate() {
            // Exact equality of every f32 (not a tolerance).
            assert!(runs[0] == runs[k + 1], "per-neuron {name}, batch {batch}");
            assert_eq!(spikes[0], spikes[k + 1], "per-neuron {name}, batch {batch}");
        }
    }
}

#[test]
fn large_heterogeneous_populations_match_single_neurons_across_parallel_chunks() {
    // Above PARALLEL_MIN_NEURONS the copy is split into chunks, each with its window of
    // the per-neuron coefficients; every neuron must see its own (a, b, c, d).
    let n = ember_models::neurons::PARALLEL_MIN_NEURONS.max(65_536) + 1000;
    let r = |i: usize| (i as f32 * 0.618_034).fract();
    let abcds: Vec<Abcd> = (0..n)
        .map(|i| {
            let r = r(i);
            if i % 5 == 0 {
                (0.02 + 0.08 * r, 0.25 - 0.05 * r, -65.0, 2.0)
            } else {
                (0.02, 0.2, -65.0 + 15.0 * r * r, 8.0 - 6.0 * r * r)
            }
        })
        .collect();
    let v0 = |i: usize| -70.0 + 99.0 * r(i * 7 + 3);
    let mut sim = sim_at(0.5);
    let options = PopulationOptions {
        voltage: Some(Param::PerElement((0..n).map(v0).collect())),
        ..Default::default()
    };
    let big = sim
        .add_population("big", n as u32, per_neuron(&abcds), options)
        .unwrap();
    sim.add_current(big, Param::Scalar(10.0), 0.0, None, None)
        .unwrap();
    let sample = [
        0,
        1,
        5,
        16_383,
        16_384,
        16_385,
        40_000,
        65_535,
        65_536,
        n - 1,
    ];
    let singles: Vec<PopulationId> = sample
        .iter()
        .map(|&i| {
            let options = PopulationOptions {
                voltage: Some(Param::Scalar(v0(i))),
                ..Default::default()
            };
            let (a, b, c, d) = abcds[i];
            let model = IzhikevichAbcd::new(a, b, c, d);
            let pop = sim
                .add_population(&format!("n{i}"), 1, model, options)
                .unwrap();
            sim.add_current(pop, Param::Scalar(10.0), 0.0, None, None)
                .unwrap();
            pop
        })
        .collect();
    let mut spiked = 0;
    for _ in 0..20 {
        sim.run_steps(1).unwrap();
        let v = &sim.get::<Voltage>(big).unwrap().0;
        let w = adaptation(&sim, big);
        for (&i, &single) in sample.iter().zip(&singles) {
            let sv = sim.get::<Voltage>(single).unwrap().0[0];
            assert_eq!(v[i], sv, "V of neuron {i}");
            assert_eq!(w[i], adaptation(&sim, single)[0], "w of neuron {i}");
            spiked += usize::from(sv == abcds[i].2);
        }
    }
    assert!(spiked > 0);
}

#[test]
fn per_neuron_errors_name_the_neuron() {
    let abcds = network_neurons();
    let error = |edit: &dyn Fn(&mut IzhikevichAbcd)| {
        let mut m = per_neuron(&abcds);
        edit(&mut m);
        m.validate(abcds.len()).unwrap_err()
    };
    assert_eq!(per_neuron(&abcds).validate(abcds.len()), Ok(()));
    // b ≥ 0.26: no exact mapping for that neuron.
    let e = error(&|m| m.b = Param::PerElement(vec![0.2, 0.2, 0.25, 0.3, 0.2]));
    assert_eq!(e.param, "b");
    assert!(e.message.contains("got b[3] = 0.3: "), "{e}");
    assert!(e.message.starts_with("must be below 0.26"), "{e}");
    // The other per-neuron rules name the neuron the same way.
    let e = error(&|m| m.a = Param::PerElement(vec![0.02, -0.01, 0.02, 0.1, 0.1]));
    assert_eq!(
        (e.param, e.message.contains("got a[1] = -0.01")),
        ("a", true),
        "{e}"
    );
    let e = error(&|m| m.d = Param::PerElement(vec![8.0, 8.0, 8.0, 2.0, f32::INFINITY]));
    assert_eq!(
        (e.param, e.message.contains("got d[4] = inf")),
        ("d", true),
        "{e}"
    );
    let e = error(&|m| {
        m.c = (-70.0).into();
        m.thresh_v = (-56.0).into();
    });
    assert_eq!(e.param, "thresh_v");
    assert!(e.message.contains("implied by b[0] = 0.2"), "{e}");
    let e = error(&|m| m.c = Param::PerElement(vec![-65.0, 31.0, -65.0, -65.0, -65.0]));
    assert_eq!(
        (e.param, e.message.contains("(neuron 1)")),
        ("c", true),
        "{e}"
    );
    let e = error(&|m| m.a = Param::PerElement(vec![0.02; 4]));
    assert_eq!(e.param, "a");
    assert!(e.message.contains("expected 5 values"), "{e}");
    // A single value keeps the single-value message.
    let e = error(&|m| m.b = 0.3.into());
    assert!(
        e.message.starts_with("must be below 0.26, got 0.3: "),
        "{e}"
    );

    // `izhikevich` with a per-neuron term (Rust only): the same rules, per neuron.
    let model = |tc: Param| {
        let m = worked_example(1.0).with_neuron_adaptation(tc, 1.0, 5.0);
        assert_eq!(m.terms(), 1);
        m
    };
    assert_eq!(
        model(Param::PerElement(vec![10.0, 20.0])).validate(2),
        Ok(())
    );
    let e = model(Param::PerElement(vec![10.0, -1.0]))
        .validate(2)
        .unwrap_err();
    assert_eq!(e.param, "tc_adaptation");
    assert!(e.message.contains("got tc_adaptation[1] = -1"), "{e}");
    let e = model(Param::PerElement(vec![10.0]))
        .validate(2)
        .unwrap_err();
    assert_eq!(e.param, "tc_adaptation");
    // The `[K]` lists must be empty alongside a per-neuron term (no K > 1 per neuron).
    let mut m = model(10.0.into());
    m.voltage_coupling = vec![1.0, 2.0];
    assert_eq!(m.validate(2).unwrap_err().param, "voltage_coupling");
}

#[test]
fn per_neuron_shared_coefficients_stay_on_the_shared_path() {
    // `neuron_adaptation` with single values runs exactly as the one-term lists.
    let run = |model: Izhikevich| {
        let mut sim = sim_at(1.0);
        let pop = sim
            .add_population("izh", 1, model, trace_f_options(None))
            .unwrap();
        sim.add_current(pop, Param::Scalar(26.5311289), 0.0, None, None)
            .unwrap();
        let spikes = sim.record_spikes(pop).unwrap();
        sim.run_steps(300).unwrap();
        let v = sim.get::<Voltage>(pop).unwrap().0.clone();
        (spike_steps(&sim, spikes, 0, 0), v, adaptation(&sim, pop))
    };
    let lists = run(trace_f());
    let per_neuron = run(trace_f().with_neuron_adaptation(50.0, 0.2, 8.0));
    assert_eq!(lists.0, [4, 31, 78, 125, 172, 219, 266]);
    assert_eq!(lists, per_neuron);
}

const HETEROGENEOUS_SCENARIO: &str = r#"
[simulation]
step_time = 0.5
duration = 500.0
seed = 7

[[population]]
name = "net"
size = 20
model = "izhikevich_abcd"
params = { a = { uniform = [0.02, 0.1] }, b = { uniform = [0.2, 0.25] }, c = { normal = { mean = -60.0, std = 3.0 } }, d = [8.0, 7.5, 7.0, 6.5, 6.0, 5.5, 5.0, 4.5, 4.0, 3.5, 3.0, 2.5, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0] }

[[stimulus]]
kind = "current"
target = "net"
amplitude = 10.0
"#;

#[test]
fn scenario_value_forms_for_a_b_d_give_one_value_per_neuron() {
    let (mut sim, h) = build(HETEROGENEOUS_SCENARIO).unwrap();
    let pop = h.populations[0].1;
    let m = sim.get::<IzhikevichAbcd>(pop).unwrap().clone();
    let values = |p: &Param, lo: f32, hi: f32| {
        let Param::PerElement(v) = p else {
            panic!("{p:?}: expected per-neuron values")
        };
        assert_eq!(v.len(), 20);
        assert!(v.iter().all(|x| (lo..hi).contains(x)), "{v:?}");
        assert!(v.iter().any(|x| *x != v[0]), "{v:?}");
        v.clone()
    };
    let a = values(&m.a, 0.02, 0.1);
    let b = values(&m.b, 0.2, 0.25);
    let c = values(&m.c, -80.0, -40.0);
    let d = values(&m.d, 2.0, 8.01);
    // The draws depend on the seed and the parameter's name only.
    let (again, _) = build(HETEROGENEOUS_SCENARIO).unwrap();
    assert_eq!(again.get::<IzhikevichAbcd>(pop).unwrap(), &m);
    // Each neuron runs its own 2003 equations (v₀ = −65, u₀ = bᵢ·v₀ by default).
    let abcds: Vec<Abcd> = (0..20).map(|i| (a[i], b[i], c[i], d[i])).collect();
    let cmps = compare_neurons("scenario", &mut sim, pop, &abcds, 10.0, h.steps as usize);
    for (i, cmp) in cmps.iter().enumerate() {
        assert!(cmp.spikes > 5, "neuron {i}: {cmp:?}");
        assert!(cmp.local <= 1e-5, "neuron {i}: {cmp:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Parameter validation: every rule names its field
// ---------------------------------------------------------------------------------------

fn qif_error(edit: impl FnOnce(&mut Qif), n: usize) -> Option<&'static str> {
    let mut q = trace_e();
    edit(&mut q);
    q.validate(n).err().map(|e: ParamError| e.param)
}

#[test]
fn qif_validation_names_the_parameter() {
    assert_eq!(qif_error(|_| {}, 1), None);
    // rest_v < crit_v ≤ thresh_v (crit_v = thresh_v is allowed).
    assert_eq!(qif_error(|q| q.rest_v = (-50.0).into(), 1), Some("rest_v"));
    assert_eq!(qif_error(|q| q.rest_v = (-40.0).into(), 1), Some("rest_v"));
    assert_eq!(qif_error(|q| q.crit_v = (-29.0).into(), 1), Some("crit_v"));
    assert_eq!(qif_error(|q| q.crit_v = (-30.0).into(), 1), None);
    // affinity > 0.
    assert_eq!(qif_error(|q| q.affinity = 0.0.into(), 1), Some("affinity"));
    assert_eq!(
        qif_error(|q| q.affinity = (-0.1).into(), 1),
        Some("affinity")
    );
    // reset_v < thresh_v.
    assert_eq!(
        qif_error(|q| q.reset_v = (-30.0).into(), 1),
        Some("reset_v")
    );
    // refrac_t ≥ 0 (0 allowed).
    assert_eq!(
        qif_error(|q| q.refrac_t = (-1.0).into(), 1),
        Some("refrac_t")
    );
    assert_eq!(qif_error(|q| q.refrac_t = 0.0.into(), 1), None);
    // tc_membrane > 0.
    assert_eq!(
        qif_error(|q| q.tc_membrane = 0.0.into(), 1),
        Some("tc_membrane")
    );
    // resistance ≠ 0 (negative allowed, as in Inferno).
    assert_eq!(
        qif_error(|q| q.resistance = 0.0.into(), 1),
        Some("resistance")
    );
    assert_eq!(qif_error(|q| q.resistance = (-1.0).into(), 1), None);
    // Finite values, one per neuron.
    assert_eq!(
        qif_error(|q| q.thresh_v = f32::NAN.into(), 1),
        Some("thresh_v")
    );
    assert_eq!(
        qif_error(|q| q.affinity = f32::INFINITY.into(), 1),
        Some("affinity")
    );
    let per_neuron = |v: Vec<f32>| Param::PerElement(v);
    assert_eq!(
        qif_error(|q| q.tc_membrane = per_neuron(vec![10.0, 20.0]), 3),
        Some("tc_membrane")
    );
    // Per-neuron rules are checked neuron by neuron.
    assert_eq!(
        qif_error(|q| q.crit_v = per_neuron(vec![-50.0, -61.0]), 2),
        Some("rest_v")
    );
    assert_eq!(
        qif_error(|q| q.thresh_v = per_neuron(vec![-30.0, -55.0]), 2),
        Some("crit_v")
    );
}

fn izhikevich_error(edit: impl FnOnce(&mut Izhikevich)) -> Option<&'static str> {
    let mut m = worked_example(1.0);
    edit(&mut m);
    m.validate(1).err().map(|e| e.param)
}

#[test]
fn izhikevich_validation_names_the_parameter() {
    assert_eq!(izhikevich_error(|_| {}), None);
    // The QIF rules.
    assert_eq!(
        izhikevich_error(|m| m.rest_v = (-50.0).into()),
        Some("rest_v")
    );
    assert_eq!(
        izhikevich_error(|m| m.crit_v = (-39.0).into()),
        Some("crit_v")
    );
    assert_eq!(
        izhikevich_error(|m| m.affinity = 0.0.into()),
        Some("affinity")
    );
    assert_eq!(
        izhikevich_error(|m| m.reset_v = (-40.0).into()),
        Some("reset_v")
    );
    assert_eq!(
        izhikevich_error(|m| m.refrac_t = (-0.5).into()),
        Some("refrac_t")
    );
    assert_eq!(
        izhikevich_error(|m| m.tc_membrane = (-1.0).into()),
        Some("tc_membrane")
    );
    assert_eq!(
        izhikevich_error(|m| m.resistance = 0.0.into()),
        Some("resistance")
    );
    // tc_adaptation > 0 for every term.
    assert_eq!(
        izhikevich_error(|m| m.tc_adaptation = vec![0.0]),
        Some("tc_adaptation")
    );
    assert_eq!(
        izhikevich_error(|m| {
            m.tc_adaptation = vec![10.0, -1.0];
            m.voltage_coupling = vec![1.0, 1.0];
            m.spike_increment = vec![5.0, 5.0];
        }),
        Some("tc_adaptation")
    );
    // The same number of terms K ≥ 1 in the three lists.
    assert_eq!(
        izhikevich_error(|m| m.voltage_coupling = vec![1.0, 2.0]),
        Some("voltage_coupling")
    );
    assert_eq!(
        izhikevich_error(|m| m.spike_increment = vec![]),
        Some("spike_increment")
    );
    assert_eq!(
        izhikevich_error(|m| {
            m.tc_adaptation = vec![];
            m.voltage_coupling = vec![];
            m.spike_increment = vec![];
        }),
        Some("tc_adaptation")
    );
    // Finite couplings and increments.
    assert_eq!(
        izhikevich_error(|m| m.voltage_coupling = vec![f32::NAN]),
        Some("voltage_coupling")
    );
    assert_eq!(
        izhikevich_error(|m| m.spike_increment = vec![f32::INFINITY]),
        Some("spike_increment")
    );
}

fn abcd_error(edit: impl FnOnce(&mut IzhikevichAbcd), n: usize) -> Option<&'static str> {
    let mut m = IzhikevichAbcd::preset(IzhikevichPreset::RegularSpiking);
    edit(&mut m);
    m.validate(n).err().map(|e| e.param)
}

#[test]
fn izhikevich_abcd_validation_names_the_parameter() {
    assert_eq!(abcd_error(|_| {}, 1), None);
    // a > 0 (τ = 1/a).
    assert_eq!(abcd_error(|m| m.a = 0.0.into(), 1), Some("a"));
    assert_eq!(abcd_error(|m| m.a = f32::NAN.into(), 1), Some("a"));
    // b < 0.26: beyond, no exact mapping with rest_v < crit_v exists.
    assert_eq!(abcd_error(|m| m.b = 0.261.into(), 1), Some("b"));
    assert_eq!(abcd_error(|m| m.b = 0.5.into(), 1), Some("b"));
    assert_eq!(abcd_error(|m| m.b = f32::NAN.into(), 1), Some("b"));
    assert_eq!(abcd_error(|m| m.b = (-0.1).into(), 1), None);
    assert_eq!(abcd_error(|m| m.b = 0.259.into(), 1), None);
    // c < thresh_v.
    assert_eq!(abcd_error(|m| m.c = 30.0.into(), 1), Some("c"));
    assert_eq!(
        abcd_error(|m| m.c = Param::PerElement(vec![-65.0, 31.0]), 2),
        Some("c")
    );
    assert_eq!(
        abcd_error(|m| m.c = Param::PerElement(vec![-65.0]), 2),
        Some("c")
    );
    // thresh_v ≥ crit_v (−55 for b = 0.2).
    assert_eq!(
        abcd_error(|m| m.thresh_v = (-56.0).into(), 1),
        Some("thresh_v")
    );
    assert_eq!(
        abcd_error(
            |m| {
                m.c = (-70.0).into();
                m.thresh_v = (-55.0).into()
            },
            1
        ),
        None
    );
    // d finite.
    assert_eq!(abcd_error(|m| m.d = f32::INFINITY.into(), 1), Some("d"));
    // The same errors from `Izhikevich::from_abcd`.
    assert_eq!(
        Izhikevich::from_abcd(-0.02, 0.2, -65.0, 8.0, 30.0)
            .unwrap_err()
            .param,
        "a"
    );
    assert_eq!(
        Izhikevich::from_abcd(0.02, 0.3, -65.0, 8.0, 30.0)
            .unwrap_err()
            .param,
        "b"
    );
    assert_eq!(
        Izhikevich::from_abcd(0.02, 0.2, 35.0, 8.0, 30.0)
            .unwrap_err()
            .param,
        "c"
    );
}

// ---------------------------------------------------------------------------------------
// Scenario files
// ---------------------------------------------------------------------------------------

fn build(toml: &str) -> Result<(Simulation, ScenarioHandles), BuildError> {
    let sc = Scenario::from_toml(toml).unwrap();
    let mut sim = Simulation::new(sc.config(1).unwrap()).unwrap();
    register_all(&mut sim);
    let h = sim.add_scenario(&sc)?;
    Ok((sim, h))
}

const SCENARIO: &str = r#"
[simulation]
step_time = 1.0
duration = 300.0
batch_size = 2

[[population]]
name = "qif"
size = 2
model = "qif"
params = { rest_v = -60.0, crit_v = [-50.0, -50.0], affinity = 0.1, reset_v = -65.0, thresh_v = -30.0, refrac_t = 1.0, tc_membrane = 10.0 }

[[population]]
name = "izh"
size = 1
model = "izhikevich"
params = { rest_v = -82.6556444, crit_v = -42.3443556, affinity = 0.04, reset_v = -65.0, thresh_v = 30.0, refrac_t = 0.0, tc_membrane = 1.0, tc_adaptation = 50.0, voltage_coupling = 0.2, spike_increment = 8.0 }
init = { voltage = -65.0, adaptation = 3.5311289 }
batch_reduction = "max"

[[population]]
name = "rs"
size = 2
model = "izhikevich_abcd"
params = { a = 0.02, b = 0.2, c = -65.0, d = 8.0 }
init = { voltage = [-65.0, -60.0] }

[[population]]
name = "rs_u"
size = 1
model = "izhikevich_abcd"
params = { a = 0.02, b = 0.2, c = -65.0, d = 8.0, thresh_v = 35.0 }
init = { adaptation = -14.0 }
mode = "eval"

[[stimulus]]
kind = "current"
target = "qif"
amplitude = 5.0

[[stimulus]]
kind = "current"
target = "izh"
amplitude = 26.5311289

[[record]]
population = "qif"

[[record]]
population = "izh"
"#;

#[test]
fn scenario_builds_and_reproduces_traces_e_and_f_in_both_batch_copies() {
    let (mut sim, h) = build(SCENARIO).unwrap();
    let pop = |name: &str| h.populations.iter().find(|(n, _)| n == name).unwrap().1;
    // izhikevich_abcd: w₀ = u₀ − b·rest with u₀ = b·v₀ by default (rest = −70 for b = 0.2)...
    let w = adaptation(&sim, pop("rs"));
    assert_close("w₀[0]", w[0], 0.2 * 5.0, 1e-6);
    assert_close("w₀[1]", w[1], 0.2 * 10.0, 1e-6);
    assert_eq!(
        sim.get::<Voltage>(pop("rs")).unwrap().0,
        [-65.0, -60.0, -65.0, -60.0]
    );
    // ...or from init.adaptation = u₀ = −14: w₀ = −14 + 14 = 0; v₀ defaults to −65.
    // (f32 b = 0.2000000030 and V_rest = −69.99999974 give −14 − b·V_rest ≈ 2e-7.)
    let w0 = adaptation(&sim, pop("rs_u"))[0];
    assert!(w0.abs() < 1e-6, "{w0}");
    assert_eq!(sim.get::<Voltage>(pop("rs_u")).unwrap().0, [-65.0, -65.0]);
    sim.run_steps(h.steps).unwrap();
    let qif_rec = h.spike_recorders[0].1;
    let izh_rec = h.spike_recorders[1].1;
    for b in 0..2 {
        for j in 0..2 {
            // Trace E (200 steps), continued with its period of 51 steps.
            assert_eq!(
                spike_steps(&sim, qif_rec, b, j),
                [44, 95, 146, 197, 248, 299]
            );
        }
        assert_eq!(
            spike_steps(&sim, izh_rec, b, 0),
            [4, 31, 78, 125, 172, 219, 266]
        );
    }
    // Eval mode (per population): w stays at w₀.
    assert_eq!(adaptation(&sim, pop("rs_u")), [w0]);
}

#[test]
fn scenario_errors_name_the_field() {
    let err = |from: &str, to: &str| {
        assert!(SCENARIO.contains(from), "{from}");
        match build(&SCENARIO.replace(from, to)) {
            Ok(_) => panic!("{to}: builds"),
            Err(e) => e.path,
        }
    };
    assert_eq!(
        err("crit_v = [-50.0, -50.0]", "crit_v = [-50.0, -20.0]"),
        "population[0].params.crit_v"
    );
    assert_eq!(
        err("crit_v = [-50.0, -50.0]", "crit_v = [-50.0]"),
        "population[0].params.crit_v"
    );
    assert_eq!(
        err("affinity = 0.1", "affinity = 0.0"),
        "population[0].params.affinity"
    );
    assert_eq!(
        err("tc_adaptation = 50.0", "tc_adaptation = [50.0, 10.0]"),
        "population[1].params.voltage_coupling"
    );
    assert_eq!(
        err("tc_adaptation = 50.0", "tc_adaptation = -50.0"),
        "population[1].params.tc_adaptation"
    );
    assert_eq!(
        err("tc_adaptation = 50.0", "tc_adaptation = 50.0, crit = 1.0"),
        "population[1].params.crit"
    );
    assert_eq!(
        err("adaptation = 3.5311289", "adaptation = [3.5311289, 1.0]"),
        "population[1].init.adaptation"
    );
    assert_eq!(
        err(
            "a = 0.02, b = 0.2, c = -65.0, d = 8.0 }\ninit = { voltage",
            "a = 0.02, b = 0.3, c = -65.0, d = 8.0 }\ninit = { voltage"
        ),
        "population[2].params.b"
    );
    assert_eq!(
        err(
            "a = 0.02, b = 0.2, c = -65.0, d = 8.0 }\ninit = { voltage",
            "a = [0.02, 0.03, 0.04], b = 0.2, c = -65.0, d = 8.0 }\ninit = { voltage"
        ),
        "population[2].params.a"
    );
    assert_eq!(
        err("d = 8.0, thresh_v = 35.0", "d = 8.0, thresh_v = -66.0"),
        "population[3].params.c"
    );
    assert_eq!(
        err("d = 8.0, thresh_v = 35.0", "thresh_v = 35.0"),
        "population[3].params.d"
    );
    // The full error, for messages.
    let error = |from: &str, to: &str| {
        assert!(SCENARIO.contains(from), "{from}");
        build(&SCENARIO.replace(from, to)).map(|_| ()).unwrap_err()
    };
    // A per-neuron b names the neuron.
    let rs = "a = 0.02, b = 0.2, c = -65.0, d = 8.0 }\ninit = { voltage";
    let e = error(rs, &rs.replace("b = 0.2", "b = [0.2, 0.3]"));
    assert_eq!(e.path, "population[2].params.b");
    assert!(
        e.to_string()
            .contains("must be below 0.26, got b[1] = 0.3: "),
        "{e}"
    );
    // `izhikevich`'s [K] parameters are per term; the errors say where per-neuron values go.
    let e = error("tc_adaptation = 50.0", "tc_adaptation = [50.0, 10.0]");
    assert_eq!(e.path, "population[1].params.voltage_coupling");
    assert!(
        e.to_string().contains("one value per adaptation term"),
        "{e}"
    );
    assert!(
        e.to_string().contains("`izhikevich_abcd`'s `a`, `b`, `d`"),
        "{e}"
    );
    let e = error(
        "tc_adaptation = 50.0",
        "tc_adaptation = { uniform = [10.0, 50.0] }",
    );
    assert_eq!(e.path, "population[1].params.tc_adaptation");
    assert!(
        e.to_string().contains("`izhikevich_abcd`'s `a`, `b`, `d`"),
        "{e}"
    );
}
