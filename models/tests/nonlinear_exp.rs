//! The exponential models `eif` and `adex` through a whole [`Simulation`]: INFERNO.md trace G,
//! the worked current-adaptation examples of INFERNO.md 1.4, batch copies and reductions,
//! train/eval mode, `clear`, multi-term and heterogeneous parameters, scenario files, and one
//! test per parameter rule checking that the error names the field.
//!
//! Spike steps are compared exactly; voltages and adaptations to 1e-5 relative.

use ember_engine::bevy_ecs::entity::Entity;
use ember_engine::prelude::*;
use ember_engine::{ParamError, PopulationMode};
use ember_models::{Adex, Eif, register_all};

/// INFERNO.md trace G, AdEx: spike steps in 5000 steps of Δt = 0.1 ms.
const TRACE_G_ADEX: [u64; 17] = [
    118, 255, 414, 601, 821, 1077, 1368, 1688, 2027, 2377, 2733, 3092, 3452, 3813, 4174, 4535, 4896,
];

/// INFERNO.md trace G, EIF with the same membrane: spike steps in 1000 steps.
const TRACE_G_EIF: [u64; 8] = [117, 235, 353, 471, 589, 707, 825, 943];

/// Inferno's `resistance = 1/0.03`: a Python float, rounded to f32 where it meets the tensor.
const R_TRACE_G: f32 = (1.0f64 / 0.03) as f32;

/// Brette–Gerstner (2005) tonic membrane of trace G (`refrac_t = 0`).
fn trace_g_eif() -> Eif {
    Eif::new(-70.6, -50.4, 2.0, -70.6, -40.4, 0.0, 281.0 / 30.0).with_resistance(R_TRACE_G)
}

/// Trace G's AdEx: one term, τ = 144 ms, a = 0.004 µS, b = 0.0805 nA.
fn trace_g_adex() -> Adex {
    Adex::new(trace_g_eif(), vec![144.0], vec![0.004], vec![0.0805])
}

fn config(step_time: f64) -> SimConfig {
    SimConfig {
        step_time,
        ..Default::default()
    }
}

/// A simulation with every model registered.
fn new_sim(config: SimConfig) -> Simulation {
    let mut sim = Simulation::new(config).unwrap();
    register_all(&mut sim);
    sim
}

/// One population of `model` driven by a constant current, with its spikes and (per
/// `variables`) traces recorded.
struct Run {
    sim: Simulation,
    pop: PopulationId,
    spikes: Entity,
    trace: Entity,
}

impl Run {
    fn new<M: NeuronModel>(
        config: SimConfig,
        model: M,
        size: u32,
        options: PopulationOptions,
        current: f32,
        variables: Vec<TraceVariable>,
        steps: u64,
    ) -> Self {
        let mut sim = new_sim(config);
        let pop = sim.add_population("cell", size, model, options).unwrap();
        if current != 0.0 {
            sim.add_current(pop, Param::Scalar(current), 0.0, None, None)
                .unwrap();
        }
        let spikes = sim.record_spikes(pop).unwrap();
        let trace = sim.record_trace(pop, variables, None, 1).unwrap();
        sim.run_steps(steps).unwrap();
        Run {
            sim,
            pop,
            spikes,
            trace,
        }
    }

    /// Spike steps of `neuron` in batch copy `batch`.
    fn spike_steps(&self, neuron: u32, batch: u32) -> Vec<u64> {
        self.sim
            .recorded_spikes(self.spikes)
            .iter()
            .filter(|e| e.neuron == neuron && e.batch == batch)
            .map(|e| e.step)
            .collect()
    }

    /// Recorded values of variable slot `var` for `neuron`, batch copy `b` of `batch`.
    fn traced(&self, var: usize, neuron: usize, b: usize, batch: usize) -> Vec<f32> {
        let t = self.sim.trace(self.trace).unwrap();
        (0..t.steps.len())
            .map(|s| t.value(s, var, b, neuron, batch))
            .collect()
    }

    fn adaptation(&self) -> Vec<f32> {
        self.sim
            .get::<Adaptation>(self.pop)
            .unwrap()
            .values()
            .to_vec()
    }
}

/// `actual` equals `expected` to 1e-5 relative (an expected 0 must be exactly 0).
fn assert_close(what: &str, actual: f32, expected: f64) {
    let a = f64::from(actual);
    if expected == 0.0 {
        assert_eq!(a, 0.0, "{what}: expected exactly 0, got {a}");
    } else {
        let rel = ((a - expected) / expected).abs();
        assert!(
            rel <= 1e-5,
            "{what}: got {a}, expected {expected} (rel {rel:.2e})"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Trace G
// ---------------------------------------------------------------------------------------

#[test]
fn trace_g_adex_spike_steps() {
    let run = Run::new(
        config(0.1),
        trace_g_adex(),
        1,
        Default::default(),
        1.0,
        vec![],
        5000,
    );
    assert_eq!(run.spike_steps(0, 0), TRACE_G_ADEX);
}

#[test]
fn trace_g_eif_spike_steps() {
    let run = Run::new(
        config(0.1),
        trace_g_eif(),
        1,
        Default::default(),
        1.0,
        vec![],
        1000,
    );
    assert_eq!(run.spike_steps(0, 0), TRACE_G_EIF);
}

/// Inferno's AdEx forward step written out directly in f32 with the C library's `expf`
/// (`refrac_t = 0`, refrac_lock): returns V and w after every step and the spike steps.
fn inferno_adex(adapt: bool, steps: usize) -> (Vec<f32>, Vec<f32>, Vec<u64>) {
    let (dt, rest, vt, sharp, reset, thresh) = (0.1f32, -70.6f32, -50.4f32, 2.0f32, -70.6, -40.4);
    // Inferno divides the Python floats `step_time / time_constant` in double precision.
    let rate = (0.1f64 / (281.0 / 30.0)) as f32;
    let resistance = R_TRACE_G;
    let (rate_w, a, b) = (dt / 144.0f32, 0.004f32, 0.0805f32);
    let (mut v, mut w) = (rest, 0.0f32);
    let (mut vs, mut ws, mut spikes) = (vec![], vec![], vec![]);
    for k in 0..steps {
        let x = if adapt { 1.0 - w } else { 1.0 };
        let integrated =
            v + rate * (-(v - rest) + sharp * ((v - vt) / sharp).exp() + resistance * x);
        let spike = integrated >= thresh;
        v = if spike { reset } else { integrated };
        if adapt {
            w = w + rate_w * (a * (v - rest) - w) + if spike { b } else { 0.0 };
        }
        if spike {
            spikes.push(k as u64);
        }
        vs.push(v);
        ws.push(w);
    }
    (vs, ws, spikes)
}

#[test]
fn trace_g_adex_matches_a_direct_inferno_step_to_1e5() {
    let vars = vec![TraceVariable::Voltage, TraceVariable::Adaptation(0)];
    let run = Run::new(
        config(0.1),
        trace_g_adex(),
        1,
        Default::default(),
        1.0,
        vars,
        5000,
    );
    let (v_ref, w_ref, spikes_ref) = inferno_adex(true, 5000);
    assert_eq!(
        spikes_ref, TRACE_G_ADEX,
        "the reference itself reproduces trace G"
    );
    let (v, w) = (run.traced(0, 0, 0, 1), run.traced(1, 0, 0, 1));
    for k in 0..5000 {
        assert_close(&format!("V[{k}]"), v[k], f64::from(v_ref[k]));
        assert_close(&format!("w[{k}]"), w[k], f64::from(w_ref[k]));
    }
}

#[test]
fn trace_g_eif_matches_a_direct_inferno_step_to_1e5() {
    let vars = vec![TraceVariable::Voltage];
    let run = Run::new(
        config(0.1),
        trace_g_eif(),
        1,
        Default::default(),
        1.0,
        vars,
        1000,
    );
    let (v_ref, _, spikes_ref) = inferno_adex(false, 1000);
    assert_eq!(spikes_ref, TRACE_G_EIF);
    for (k, v) in run.traced(0, 0, 0, 1).into_iter().enumerate() {
        assert_close(&format!("V[{k}]"), v, f64::from(v_ref[k]));
    }
}

// ---------------------------------------------------------------------------------------
// Worked examples (INFERNO.md 1.4) and batches
// ---------------------------------------------------------------------------------------

/// The AdEx of the worked example: rest −65, reset −70, a = 1 µS, τ = 10 ms, b = `b` nA,
/// with V_T = −50, Δ_T = 2, cut-off −40 (so V₀ = −30 mV spikes in step 0), Δt = 1 ms.
fn worked(refrac_t: f32, coupling: f32, increment: f32) -> Adex {
    Adex::new(
        Eif::new(-65.0, -50.0, 2.0, -70.0, -40.0, refrac_t, 10.0),
        vec![10.0],
        vec![coupling],
        vec![increment],
    )
}

fn starting_at(voltage: f32) -> PopulationOptions {
    PopulationOptions {
        voltage: Some(Param::Scalar(voltage)),
        ..Default::default()
    }
}

#[test]
fn worked_example_uses_the_post_reset_voltage() {
    // refrac_t = 0: w = 0 + 0.1·(1·(−70 + 65) − 0) + 5 = 4.5 (not 8.5 with V₀ = −30).
    let run = Run::new(
        config(1.0),
        worked(0.0, 1.0, 5.0),
        1,
        starting_at(-30.0),
        0.0,
        vec![TraceVariable::Voltage],
        1,
    );
    assert_eq!(run.spike_steps(0, 0), [0]);
    assert_eq!(run.traced(0, 0, 0, 1), [-70.0]);
    assert_close("w", run.adaptation()[0], 4.5);
}

#[test]
fn worked_example_holds_the_euler_step_on_a_refractory_spike_step() {
    // refrac_t = 1: refractory after the spike step, so only the increment: w = 5.0.
    let run = Run::new(
        config(1.0),
        worked(1.0, 1.0, 5.0),
        1,
        starting_at(-30.0),
        0.0,
        vec![],
        1,
    );
    assert_eq!(run.spike_steps(0, 0), [0]);
    assert_close("w", run.adaptation()[0], 5.0);
}

#[test]
fn refrac_lock_false_does_not_hold_the_adaptation() {
    // Without refrac_lock Inferno passes no refracs: the Euler step runs on the spike step.
    let options = PopulationOptions {
        refrac_lock: false,
        ..starting_at(-30.0)
    };
    let run = Run::new(
        config(1.0),
        worked(1.0, 1.0, 5.0),
        1,
        options,
        0.0,
        vec![],
        1,
    );
    assert_close("w", run.adaptation()[0], 4.5);
}

/// Batch 2 of the worked AdEx (`refrac_t`, coupling, b = 2): copy 0 starts at −30 mV and
/// spikes in step 0, copy 1 stays at rest; returns w after one step and the voltages.
fn one_spiker_of_two(reduction: BatchReduction, refrac_t: f32, coupling: f32) -> Run {
    let cfg = SimConfig {
        batch_size: 2,
        ..config(1.0)
    };
    let mut sim = new_sim(cfg);
    let options = PopulationOptions {
        batch_reduction: reduction,
        ..Default::default()
    };
    let pop = sim
        .add_population("cell", 1, worked(refrac_t, coupling, 2.0), options)
        .unwrap();
    sim.world_mut().get_mut::<Voltage>(pop.0).unwrap().0[0] = -30.0;
    let spikes = sim.record_spikes(pop).unwrap();
    let trace = sim
        .record_trace(pop, vec![TraceVariable::Voltage], None, 1)
        .unwrap();
    sim.run_steps(1).unwrap();
    Run {
        sim,
        pop,
        spikes,
        trace,
    }
}

#[test]
fn batch_reduction_mean_and_max_of_one_spiker() {
    // INFERNO.md 1.4's measured example (batch of 2, one spiker, increment 2) adapted to w:
    // held Euler step on the spike step (refrac_t = 1), no coupling → per-copy w = 2 and 0.
    for (reduction, expected) in [
        (BatchReduction::Mean, 1.0),
        (BatchReduction::Max, 2.0),
        (BatchReduction::Sum, 2.0),
        (BatchReduction::Min, 0.0),
        (BatchReduction::Custom(|v| v[0] * 10.0 + v[1]), 20.0),
    ] {
        let run = one_spiker_of_two(reduction, 1.0, 0.0);
        assert_eq!(run.spike_steps(0, 0), [0]);
        assert!(run.spike_steps(0, 1).is_empty());
        assert_eq!(run.adaptation(), [expected], "{reduction:?}");
    }
}

#[test]
fn batch_reduction_combines_each_copys_euler_step() {
    // With coupling 1 and refrac_t = 0 each copy takes its own Euler step from its own
    // post-step voltage: copy 0 → 0 + 0.1·(−70 + 65) + 2 = 1.5; copy 1 → 0.1·(V₁ + 65).
    let mean = one_spiker_of_two(BatchReduction::Mean, 0.0, 1.0);
    let max = one_spiker_of_two(BatchReduction::Max, 0.0, 1.0);
    let v1 = mean.traced(0, 0, 1, 2)[0];
    assert!(v1 > -65.0 && v1 < -64.99, "copy 1 stays near rest: {v1}");
    let w0 = 0.0f32 + 0.1 * (1.0 * (-70.0f32 - -65.0) - 0.0) + 2.0;
    let w1 = 0.0f32 + 0.1 * (1.0 * (v1 - -65.0) - 0.0);
    assert_eq!(w0, 1.5);
    assert_close("mean", mean.adaptation()[0], f64::from((w0 + w1) / 2.0));
    assert_close("max", max.adaptation()[0], f64::from(w0));
}

#[test]
fn batch_copies_with_identical_inputs_spike_identically() {
    let cfg = SimConfig {
        batch_size: 2,
        ..config(0.1)
    };
    let vars = vec![TraceVariable::Voltage];
    let batch = Run::new(cfg, trace_g_adex(), 1, Default::default(), 1.0, vars, 5000);
    assert_eq!(batch.spike_steps(0, 0), TRACE_G_ADEX);
    assert_eq!(batch.spike_steps(0, 1), TRACE_G_ADEX);
    assert_eq!(batch.traced(0, 0, 0, 2), batch.traced(0, 0, 1, 2));
    // The mean of two identical updates is the single-copy update.
    let single = Run::new(
        config(0.1),
        trace_g_adex(),
        1,
        Default::default(),
        1.0,
        vec![],
        5000,
    );
    assert_eq!(batch.adaptation(), single.adaptation());

    let cfg = SimConfig {
        batch_size: 3,
        ..config(0.1)
    };
    let eif = Run::new(cfg, trace_g_eif(), 1, Default::default(), 1.0, vec![], 1000);
    for b in 0..3 {
        assert_eq!(eif.spike_steps(0, b), TRACE_G_EIF);
    }
}

// ---------------------------------------------------------------------------------------
// Mode and clear
// ---------------------------------------------------------------------------------------

#[test]
fn eval_mode_freezes_the_adaptation() {
    // Frozen at w = 0, AdEx is the EIF of the same membrane: trace G's EIF spike steps.
    let cfg = SimConfig {
        mode: Mode::Eval,
        ..config(0.1)
    };
    let run = Run::new(
        cfg,
        trace_g_adex(),
        1,
        Default::default(),
        1.0,
        vec![],
        1000,
    );
    assert_eq!(run.spike_steps(0, 0), TRACE_G_EIF);
    assert_eq!(run.adaptation(), [0.0]);

    // A frozen non-zero adaptation keeps subtracting the same current.
    let options = PopulationOptions {
        adaptation: Some(vec![0.25]),
        ..Default::default()
    };
    let cfg = SimConfig {
        mode: Mode::Eval,
        ..config(0.1)
    };
    let run = Run::new(cfg, trace_g_adex(), 1, options, 1.0, vec![], 1000);
    assert_eq!(run.adaptation(), [0.25]);
    let slower = run.spike_steps(0, 0);
    assert!(!slower.is_empty() && slower[0] > TRACE_G_EIF[0]);
    // … which is the same as an EIF with 0.25 nA less input.
    let eif = Run::new(
        config(0.1),
        trace_g_eif(),
        1,
        Default::default(),
        0.75,
        vec![],
        1000,
    );
    assert_eq!(slower, eif.spike_steps(0, 0));
}

#[test]
fn population_mode_overrides_the_simulation_mode() {
    let frozen = PopulationOptions {
        mode: Some(Mode::Eval),
        ..Default::default()
    };
    let run = Run::new(config(0.1), trace_g_adex(), 1, frozen, 1.0, vec![], 1000);
    assert_eq!(run.spike_steps(0, 0), TRACE_G_EIF);
    assert_eq!(
        *run.sim.get::<PopulationMode>(run.pop).unwrap(),
        PopulationMode(Mode::Eval)
    );

    let training = PopulationOptions {
        mode: Some(Mode::Train),
        ..Default::default()
    };
    let cfg = SimConfig {
        mode: Mode::Eval,
        ..config(0.1)
    };
    let run = Run::new(cfg, trace_g_adex(), 1, training, 1.0, vec![], 5000);
    assert_eq!(run.spike_steps(0, 0), TRACE_G_ADEX);
}

#[test]
fn clear_resets_state_and_keeps_or_zeroes_the_adaptation() {
    let mut run = Run::new(
        config(0.1),
        trace_g_adex(),
        1,
        Default::default(),
        1.0,
        vec![],
        1000,
    );
    let w = run.adaptation();
    assert!(w[0] > 0.1, "adapted: {w:?}");
    run.sim.clear(true);
    assert_eq!(run.adaptation(), w);
    assert_eq!(run.sim.get::<Voltage>(run.pop).unwrap().0, [-70.6]);
    assert_eq!(run.sim.get::<Refractory>(run.pop).unwrap().0, [0.0]);
    assert_eq!(run.sim.get::<Spikes>(run.pop).unwrap().count(), 0);

    run.sim.clear(false);
    assert_eq!(run.adaptation(), [0.0]);
    // From rest with w = 0 the run starts over: trace G again, 1000 steps later.
    run.sim.run_steps(5000).unwrap();
    let again: Vec<u64> = run
        .spike_steps(0, 0)
        .into_iter()
        .filter(|&s| s >= 1000)
        .collect();
    let expected: Vec<u64> = TRACE_G_ADEX.iter().map(|s| s + 1000).collect();
    assert_eq!(again, expected);
}

#[test]
fn clear_keeping_the_adaptation_delays_the_next_spike() {
    let mut run = Run::new(
        config(0.1),
        trace_g_adex(),
        1,
        Default::default(),
        1.0,
        vec![],
        1000,
    );
    run.sim.clear(true);
    run.sim.run_steps(500).unwrap();
    let first = run
        .spike_steps(0, 0)
        .into_iter()
        .find(|&s| s >= 1000)
        .unwrap();
    assert!(
        first - 1000 > TRACE_G_ADEX[0],
        "adapted neuron fires later: {first}"
    );
}

// ---------------------------------------------------------------------------------------
// Several terms, heterogeneous parameters, scenario files
// ---------------------------------------------------------------------------------------

#[test]
fn two_half_terms_equal_one_term() {
    // Halving a and b halves each term exactly, so Σw and everything else are unchanged;
    // this runs the general (multi-term) update path.
    let split = Adex::new(
        trace_g_eif(),
        vec![144.0, 144.0],
        vec![0.002, 0.002],
        vec![0.04025, 0.04025],
    );
    let vars = vec![TraceVariable::Voltage];
    let two = Run::new(config(0.1), split, 1, Default::default(), 1.0, vars, 5000);
    assert_eq!(two.spike_steps(0, 0), TRACE_G_ADEX);
    let w = two.adaptation();
    assert_eq!(w[0], w[1]);
    let vars = vec![TraceVariable::Voltage];
    let one = Run::new(
        config(0.1),
        trace_g_adex(),
        1,
        Default::default(),
        1.0,
        vars,
        5000,
    );
    assert_eq!(two.traced(0, 0, 0, 1), one.traced(0, 0, 0, 1));
    assert_eq!(w[0] + w[1], one.adaptation()[0]);

    // An inert second term (a = b = 0) changes nothing either.
    let inert = Adex::new(
        trace_g_eif(),
        vec![144.0, 10.0],
        vec![0.004, 0.0],
        vec![0.0805, 0.0],
    );
    let run = Run::new(config(0.1), inert, 1, Default::default(), 1.0, vec![], 5000);
    assert_eq!(run.spike_steps(0, 0), TRACE_G_ADEX);
    assert_eq!(run.adaptation()[1], 0.0);
}

#[test]
fn custom_reduction_of_one_copy_takes_the_general_path_with_the_same_result() {
    let options = PopulationOptions {
        batch_reduction: BatchReduction::Custom(|v| v[0]),
        ..Default::default()
    };
    let vars = vec![TraceVariable::Voltage, TraceVariable::Adaptation(0)];
    let custom = Run::new(config(0.1), trace_g_adex(), 1, options, 1.0, vars, 3000);
    let vars = vec![TraceVariable::Voltage, TraceVariable::Adaptation(0)];
    let fused = Run::new(
        config(0.1),
        trace_g_adex(),
        1,
        Default::default(),
        1.0,
        vars,
        3000,
    );
    assert_eq!(custom.traced(0, 0, 0, 1), fused.traced(0, 0, 0, 1));
    assert_eq!(custom.traced(1, 0, 0, 1), fused.traced(1, 0, 0, 1));
}

#[test]
fn per_neuron_parameters_run_each_neuron_with_its_own() {
    // Neurons 0 and 2 have trace G's membrane; neuron 1 a slower one (τ = 20 ms) and a
    // different rheobase: the array path must give 0 and 2 trace G exactly.
    let mut eif = trace_g_eif();
    eif.tc_membrane = Param::PerElement(vec![281.0 / 30.0, 20.0, 281.0 / 30.0]);
    eif.rheobase_v = Param::PerElement(vec![-50.4, -48.0, -50.4]);
    let run = Run::new(
        config(0.1),
        eif.clone(),
        3,
        Default::default(),
        1.0,
        vec![],
        1000,
    );
    assert_eq!(run.spike_steps(0, 0), TRACE_G_EIF);
    assert_eq!(run.spike_steps(2, 0), TRACE_G_EIF);
    assert_ne!(run.spike_steps(1, 0), TRACE_G_EIF);

    let adex = Adex::new(eif, vec![144.0], vec![0.004], vec![0.0805]);
    let run = Run::new(config(0.1), adex, 3, Default::default(), 1.0, vec![], 5000);
    assert_eq!(run.spike_steps(0, 0), TRACE_G_ADEX);
    assert_eq!(run.spike_steps(2, 0), TRACE_G_ADEX);
    assert_ne!(run.spike_steps(1, 0), TRACE_G_ADEX);
    let w = run.adaptation();
    assert_eq!(w[0], w[2]);
}

#[test]
fn large_populations_split_in_parallel_with_identical_results() {
    // 70 000 neurons per copy: above the parallel threshold, so the kernel splits into
    // parallel parts; 1 and 2 threads and a single neuron must agree exactly.
    let run = |threads: usize, size: u32| {
        let cfg = SimConfig {
            threads,
            ..config(0.1)
        };
        let r = Run::new(
            cfg,
            trace_g_adex(),
            size,
            Default::default(),
            1.0,
            vec![],
            130,
        );
        let v = r.sim.get::<Voltage>(r.pop).unwrap().0.clone();
        (r.adaptation(), v, r.spike_steps(size - 1, 0))
    };
    let (w1, v1, s1) = run(1, 70_000);
    let (w2, v2, s2) = run(2, 70_000);
    assert_eq!((&w1, &v1, &s1), (&w2, &v2, &s2));
    let (w, v, s) = run(1, 1);
    assert_eq!(s1, [TRACE_G_ADEX[0]]);
    assert_eq!(s, s1);
    assert!(w1.iter().all(|&x| x == w[0]) && v1.iter().all(|&x| x == v[0]));
}

const SCENARIO: &str = r#"
[simulation]
step_time = 0.1
duration = 500.0

[[population]]
name = "adex"
size = 2
model = "adex"
params = { rest_v = -70.6, rheobase_v = -50.4, sharpness = 2.0, reset_v = -70.6, thresh_v = -40.4, refrac_t = 0.0, tc_membrane = 9.366666666666667, tc_adaptation = [144.0], voltage_coupling = 0.004, spike_increment = [0.0805], resistance = 33.333333333333336 }

[[population]]
name = "eif"
size = 1
model = "eif"
params = { rest_v = -70.6, rheobase_v = -50.4, sharpness = 2.0, reset_v = -70.6, thresh_v = -40.4, refrac_t = 0.0, tc_membrane = 9.366666666666667, resistance = 33.333333333333336 }

[[stimulus]]
target = "adex"
kind = "current"
amplitude = 1.0

[[stimulus]]
target = "eif"
kind = "current"
amplitude = 1.0

[[record]]
population = "adex"

[[record]]
population = "eif"
"#;

#[test]
fn scenario_files_name_both_models() {
    let sc = Scenario::from_toml(SCENARIO).unwrap();
    let mut sim = new_sim(sc.config(1).unwrap());
    let h = sim.add_scenario(&sc).unwrap();
    sim.run_steps(h.steps).unwrap();
    let steps = |pop: usize, neuron: u32| -> Vec<u64> {
        let (_, rec) = h.spike_recorders.iter().find(|(p, _)| *p == pop).unwrap();
        sim.recorded_spikes(*rec)
            .iter()
            .filter(|e| e.neuron == neuron)
            .map(|e| e.step)
            .collect()
    };
    let adex: Vec<u64> = TRACE_G_ADEX.iter().copied().filter(|&s| s < 5000).collect();
    assert_eq!(steps(0, 0), adex);
    assert_eq!(steps(0, 1), adex);
    assert_eq!(steps(1, 0)[..TRACE_G_EIF.len()], TRACE_G_EIF);
    assert!(sim.neuron_models().contains(&"eif") && sim.neuron_models().contains(&"adex"));
}

#[test]
fn scenario_errors_name_the_field() {
    let bad = SCENARIO.replace("sharpness = 2.0, reset_v", "sharpness = -2.0, reset_v");
    let sc = Scenario::from_toml(&bad).unwrap();
    let mut sim = new_sim(sc.config(1).unwrap());
    let e = sim.add_scenario(&sc).unwrap_err();
    assert_eq!(e.path, "population[0].params.sharpness", "{e}");

    let bad = SCENARIO.replace(
        "spike_increment = [0.0805]",
        "spike_increment = [0.0805, 0.1]",
    );
    let sc = Scenario::from_toml(&bad).unwrap();
    let mut sim = new_sim(sc.config(1).unwrap());
    let e = sim.add_scenario(&sc).unwrap_err();
    assert_eq!(e.path, "population[0].params.spike_increment", "{e}");

    let bad = SCENARIO.replace("tc_adaptation = [144.0], ", "");
    let sc = Scenario::from_toml(&bad).unwrap();
    let mut sim = new_sim(sc.config(1).unwrap());
    let e = sim.add_scenario(&sc).unwrap_err();
    assert_eq!(e.path, "population[0].params.tc_adaptation", "{e}");

    let bad = SCENARIO.replace(
        "sharpness = 2.0, reset_v",
        "sharpness = 2.0, slope = 1.0, reset_v",
    );
    let sc = Scenario::from_toml(&bad).unwrap();
    let mut sim = new_sim(sc.config(1).unwrap());
    let e = sim.add_scenario(&sc).unwrap_err();
    assert_eq!(e.path, "population[0].params.slope", "{e}");
}

// ---------------------------------------------------------------------------------------
// Parameter validation: every rule names its field
// ---------------------------------------------------------------------------------------

/// A valid EIF: rest −70 < V_T −50 ≤ cut-off −40, reset −70 < −40.
fn eif_ok() -> Eif {
    Eif::new(-70.0, -50.0, 2.0, -70.0, -40.0, 1.0, 10.0)
}

fn adex_ok() -> Adex {
    Adex::new(
        eif_ok(),
        vec![100.0, 10.0],
        vec![0.01, -0.5],
        vec![0.1, 0.0],
    )
}

fn eif_error(change: impl Fn(&mut Eif), n: usize) -> ParamError {
    let mut m = eif_ok();
    change(&mut m);
    m.validate(n).unwrap_err()
}

fn adex_error(change: impl Fn(&mut Adex), n: usize) -> ParamError {
    let mut m = adex_ok();
    change(&mut m);
    m.validate(n).unwrap_err()
}

/// Each membrane rule, as a change to the parameters and the field it must name. Applied to
/// EIF and (through the same fields) AdEx.
type MembraneCase = (&'static str, fn(&mut Eif));

const MEMBRANE_RULES: [MembraneCase; 12] = [
    // rest_v < rheobase_v
    ("rest_v", |m| m.rest_v = Param::Scalar(-50.0)),
    ("rest_v", |m| m.rest_v = Param::Scalar(-45.0)),
    // rheobase_v ≤ thresh_v
    ("rheobase_v", |m| m.rheobase_v = Param::Scalar(-39.0)),
    // sharpness > 0
    ("sharpness", |m| m.sharpness = Param::Scalar(0.0)),
    ("sharpness", |m| m.sharpness = Param::Scalar(-1.0)),
    // reset_v < thresh_v
    ("reset_v", |m| m.reset_v = Param::Scalar(-40.0)),
    // refrac_t ≥ 0
    ("refrac_t", |m| m.refrac_t = Param::Scalar(-0.5)),
    // tc_membrane > 0
    ("tc_membrane", |m| m.tc_membrane = Param::Scalar(0.0)),
    ("tc_membrane", |m| m.tc_membrane = Param::Scalar(-10.0)),
    // resistance ≠ 0
    ("resistance", |m| m.resistance = Param::Scalar(0.0)),
    // finite values
    ("thresh_v", |m| m.thresh_v = f32::NAN.into()),
    ("resistance", |m| m.resistance = f32::INFINITY.into()),
];

#[test]
fn valid_parameters_pass() {
    assert!(eif_ok().validate(1).is_ok());
    assert!(adex_ok().validate(1).is_ok());
    // rheobase_v = thresh_v is allowed (≤), as are negative couplings and increments.
    let mut m = eif_ok();
    m.rheobase_v = Param::Scalar(-40.0);
    assert!(m.validate(1).is_ok());
    // Inferno's rules say nothing about rest_v vs thresh_v beyond rest_v < rheobase_v.
    let mut m = eif_ok();
    m.refrac_t = Param::Scalar(0.0);
    assert!(m.validate(1).is_ok());
}

#[test]
fn eif_rules_name_the_field() {
    for (field, change) in MEMBRANE_RULES {
        let e = eif_error(change, 1);
        assert_eq!(e.param, field, "{e}");
    }
}

#[test]
fn adex_membrane_rules_name_the_field() {
    for (field, change) in MEMBRANE_RULES {
        let e = adex_error(
            |a| {
                let mut m = a.membrane();
                change(&mut m);
                let (tc, vc, si) = (
                    a.tc_adaptation.clone(),
                    a.voltage_coupling.clone(),
                    a.spike_increment.clone(),
                );
                *a = Adex::new(m, tc, vc, si);
            },
            1,
        );
        assert_eq!(e.param, field, "{e}");
    }
}

#[test]
fn adex_term_rules_name_the_field() {
    // tc_adaptation > 0, per term.
    let e = adex_error(|a| a.tc_adaptation[1] = 0.0, 1);
    assert_eq!(e.param, "tc_adaptation", "{e}");
    assert!(e.message.contains("term 1"), "{e}");
    let e = adex_error(|a| a.tc_adaptation[0] = -5.0, 1);
    assert_eq!(e.param, "tc_adaptation", "{e}");
    // Equal K: the list that differs from tc_adaptation is named.
    let e = adex_error(|a| a.voltage_coupling.truncate(1), 1);
    assert_eq!(e.param, "voltage_coupling", "{e}");
    let e = adex_error(|a| a.spike_increment.push(0.2), 1);
    assert_eq!(e.param, "spike_increment", "{e}");
    // At least one term.
    let e = adex_error(
        |a| {
            a.tc_adaptation.clear();
            a.voltage_coupling.clear();
            a.spike_increment.clear();
        },
        1,
    );
    assert_eq!(e.param, "tc_adaptation", "{e}");
    // Finite terms.
    let e = adex_error(|a| a.voltage_coupling[0] = f32::NAN, 1);
    assert_eq!(e.param, "voltage_coupling", "{e}");
    let e = adex_error(|a| a.spike_increment[1] = f32::INFINITY, 1);
    assert_eq!(e.param, "spike_increment", "{e}");
    let e = adex_error(|a| a.tc_adaptation[0] = f32::NAN, 1);
    assert_eq!(e.param, "tc_adaptation", "{e}");
}

#[test]
fn per_neuron_rules_name_the_field_and_the_neuron() {
    let e = eif_error(
        |m| m.rest_v = Param::PerElement(vec![-70.0, -70.0, -49.0]),
        3,
    );
    assert_eq!(e.param, "rest_v");
    assert!(e.message.contains("neuron 2"), "{e}");
    let e = eif_error(|m| m.rheobase_v = Param::PerElement(vec![-50.0, -35.0]), 2);
    assert_eq!(e.param, "rheobase_v");
    assert!(e.message.contains("neuron 1"), "{e}");
    let e = eif_error(|m| m.sharpness = Param::PerElement(vec![2.0, 0.0]), 2);
    assert_eq!(e.param, "sharpness");
    let e = adex_error(|a| a.reset_v = Param::PerElement(vec![-70.0, -30.0]), 2);
    assert_eq!(e.param, "reset_v");
    // One value per neuron: the length must match the population.
    let e = eif_error(|m| m.tc_membrane = Param::PerElement(vec![10.0, 10.0]), 3);
    assert_eq!(e.param, "tc_membrane");
    assert!(e.message.contains("one per neuron"), "{e}");
}

#[test]
fn building_an_invalid_population_reports_the_parameter_path() {
    let mut sim = new_sim(config(0.1));
    let mut m = eif_ok();
    m.rheobase_v = Param::Scalar(-30.0);
    let e = sim
        .add_population("bad", 1, m, Default::default())
        .unwrap_err();
    assert_eq!(e.path, "population \"bad\".params.rheobase_v", "{e}");
    let mut a = adex_ok();
    a.tc_adaptation[0] = 0.0;
    let e = sim
        .add_population("bad", 1, a, Default::default())
        .unwrap_err();
    assert_eq!(e.path, "population \"bad\".params.tc_adaptation", "{e}");
    // init.adaptation must have one value per term.
    let options = PopulationOptions {
        adaptation: Some(vec![0.0]),
        ..Default::default()
    };
    let e = sim
        .add_population("bad", 1, adex_ok(), options)
        .unwrap_err();
    assert_eq!(e.path, "population \"bad\".init.adaptation", "{e}");
}
