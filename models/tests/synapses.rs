//! `double_exponential_current` (INFERNO.md trace H and its closed form) and
//! `single_exponential_conductance` (closed forms against a held and an integrating post
//! neuron), through a whole [`Simulation`].
//!
//! Conventions as in `inferno_traces.rs`: a spike emitted by the driver in step k reaches the
//! synapse in step k + 1, so Inferno's synapse current after call k (input spike at call 0)
//! is Ember's `ProjectionCurrent` after step k + 1 (driver spike at step 0). Currents are
//! compared to 1e-5 relative, zeros exactly.

use ember_engine::bevy_ecs::entity::Entity;
use ember_engine::prelude::*;
use ember_engine::{PopulationOptions, ProjectionCurrent, ProjectionId, SynapseModel};
use ember_models::synapses::conductance::SynapticConductance;
use ember_models::synapses::double_exponential::DoubleExponentialState;
use ember_models::{
    DoubleExponentialCurrent, Exact, Lif, SingleExponentialConductance, register_all,
};

/// Relative tolerance against INFERNO.md and the closed forms.
const REL: f64 = 1e-5;

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
    assert!(actual.len() >= expected.len(), "{what}: too few values");
    for (k, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert_close(&format!("{what}[{k}]"), a, e);
    }
}

fn new_sim(step_time: f64, batch_size: u32) -> Simulation {
    let mut sim = Simulation::new(SimConfig {
        step_time,
        batch_size,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut sim);
    sim
}

/// Values of traced neuron slot `k` (single variable, batch copy 0 of `batch`) of a trace
/// recorder.
fn trace_of(sim: &Simulation, recorder: Entity, k: usize, batch: usize) -> Vec<f32> {
    let t = sim.trace(recorder).expect("trace recorder");
    (0..t.steps.len())
        .map(|s| t.value(s, 0, 0, k, batch))
        .collect()
}

/// A population of one `Exact` neuron spiking in exactly the steps `spikes` (a current
/// stimulus active in those steps only).
fn add_driver(sim: &mut Simulation, step_time: f64, spikes: &[u64]) -> PopulationId {
    let driver = sim
        .add_population("driver", 1, Exact::new(-60.0, -40.0), Default::default())
        .unwrap();
    for &s in spikes {
        let start = s as f64 * step_time;
        sim.add_current(
            driver,
            Param::Scalar(1.0),
            start,
            Some(start + step_time),
            None,
        )
        .unwrap();
    }
    driver
}

// ---------------------------------------------------------------------------------------
// double_exponential_current
// ---------------------------------------------------------------------------------------

const Q: f64 = 1.0;
const TAU_D: f64 = 10.0;
const TAU_R: f64 = 2.0;

/// INFERNO.md trace H, DoubleExponential τ_d = 10, τ_r = 2 (Q = 1, Δt = 1, spikes at calls
/// 0 and 3), current after calls 0..9.
const TRACE_H_DOUBLE: [f64; 10] = [
    0.0, 0.037288, 0.056356, 0.064711, 0.104161, 0.121912, 0.127089, 0.125172, 0.119432, 0.111811,
];

/// The closed form of the double-exponential current after Inferno call k, for input spikes
/// at calls `spikes`: `Σ_{m ≤ k} Q/(τ_d − τ_r)·(e^{−(k−m)Δt/τ_d} − e^{−(k−m)Δt/τ_r})`.
/// (Exact for the discrete update: both components decay exactly between calls, and a
/// spike at call m contributes `Q/(τ_d − τ_r)` to each at call m.)
fn double_closed_form(step_time: f64, spikes: &[u64], calls: u64) -> Vec<f64> {
    (0..calls)
        .map(|k| {
            spikes
                .iter()
                .filter(|&&m| m <= k)
                .map(|&m| {
                    let t = (k - m) as f64 * step_time;
                    Q / (TAU_D - TAU_R) * ((-t / TAU_D).exp() - (-t / TAU_R).exp())
                })
                .sum()
        })
        .collect()
}

struct DoubleRun {
    /// `ProjectionCurrent` after each step, one Vec per batch copy.
    current: Vec<Vec<f32>>,
    /// Post input (recorded, batch copy 0) after each step.
    post_input: Vec<f32>,
    sim: Simulation,
    proj: ProjectionId,
}

fn run_double(
    step_time: f64,
    batch: u32,
    spikes: &[u64],
    weight: f32,
    synapse: DoubleExponentialCurrent,
    steps: u64,
) -> DoubleRun {
    let mut sim = new_sim(step_time, batch);
    let driver = add_driver(&mut sim, step_time, spikes);
    let post = sim
        .add_population("post", 1, Exact::new(-60.0, -40.0), Default::default())
        .unwrap();
    let proj = sim
        .add_projection(
            None,
            driver,
            post,
            &ConnectRule::OneToOne,
            ValueSpec::Scalar(weight.into()),
            synapse,
        )
        .unwrap();
    let input = sim
        .record_trace(post, vec![TraceVariable::Input], None, 1)
        .unwrap();
    let mut current = vec![Vec::new(); batch as usize];
    for _ in 0..steps {
        sim.run_steps(1).unwrap();
        let c = sim.get_projection::<ProjectionCurrent>(proj).unwrap();
        assert_eq!(c.0.len(), batch as usize, "one post neuron per batch copy");
        for (b, v) in c.0.iter().enumerate() {
            current[b].push(*v);
        }
    }
    let post_input = trace_of(&sim, input, 0, batch as usize);
    DoubleRun {
        current,
        post_input,
        sim,
        proj,
    }
}

fn unit_double() -> DoubleExponentialCurrent {
    DoubleExponentialCurrent {
        spike_charge: Q as f32,
        tc_rise: TAU_R as f32,
        tc_decay: TAU_D as f32,
    }
}

/// Ember's current after step k + 1 is Inferno's after call k; nothing has arrived after
/// step 0; the post neuron's input is exactly the projection's current.
fn assert_shifted(what: &str, run: &DoubleRun, inferno: &[f64], scale: f64) {
    let expected: Vec<f64> = inferno.iter().map(|v| v * scale).collect();
    for (b, current) in run.current.iter().enumerate() {
        assert_eq!(current[0], 0.0, "{what}: batch {b}, current after step 0");
        assert_all_close(&format!("{what} (batch {b})"), &current[1..], &expected);
    }
    assert_eq!(
        run.post_input, run.current[0],
        "{what}: post input = current"
    );
}

#[test]
fn trace_h_constants_match_the_closed_form() {
    let closed = double_closed_form(1.0, &[0, 3], 10);
    for (k, (&c, &t)) in closed.iter().zip(&TRACE_H_DOUBLE).enumerate() {
        assert!(
            (c - t).abs() <= 5e-7,
            "call {k}: closed form {c}, INFERNO.md {t}"
        );
    }
}

#[test]
fn trace_h_double_exponential_current() {
    let run = run_double(1.0, 1, &[0, 3], 1.0, unit_double(), 11);
    assert_shifted("double exponential", &run, &TRACE_H_DOUBLE, 1.0);
    // In the step a spike arrives both components grow by Q/(τ_d − τ_r) = 0.125.
    let s = run
        .sim
        .get_projection::<DoubleExponentialState>(run.proj)
        .unwrap();
    // After step 10 = Inferno call 9: the spikes arrived 9 and 6 calls ago.
    let i_d = 0.125 * ((-9.0 / TAU_D).exp() + (-6.0 / TAU_D).exp());
    let i_r = 0.125 * ((-9.0 / TAU_R).exp() + (-6.0 / TAU_R).exp());
    assert_close("I_d after step 10", s.decay[0], i_d);
    assert_close("I_r after step 10", s.rise[0], i_r);
}

/// Δt = 0.5 ms, same Q, τ_d, τ_r and spikes at calls 0 and 3 (t = 0 and 1.5 ms): no
/// Inferno measurement exists, so the expected trace is [`double_closed_form`] with Δt = 0.5,
/// i.e. after call k: `Σ_{m∈{0,3}, m≤k} 0.125·(e^{−(k−m)/20} − e^{−(k−m)/4})`.
/// First values: 0, 0.021554, 0.037288, 0.048543, 0.077910, 0.098825, …
#[test]
fn double_exponential_current_dt_half_follows_the_closed_form() {
    let expected = double_closed_form(0.5, &[0, 3], 20);
    let documented = [0.0, 0.021554, 0.037288, 0.048543, 0.077910, 0.098825];
    for (k, (&c, &d)) in expected.iter().zip(&documented).enumerate() {
        assert!(
            (c - d).abs() <= 5e-7,
            "call {k}: closed form {c}, documented {d}"
        );
    }
    let run = run_double(0.5, 1, &[0, 3], 1.0, unit_double(), 21);
    assert_shifted("double exponential Δt=0.5", &run, &expected, 1.0);
}

#[test]
fn double_exponential_weight_and_charge_scale_current_in_every_batch_copy() {
    let run = run_double(1.0, 3, &[0, 3], 2.5, unit_double(), 11);
    assert_shifted("double exponential, w = 2.5", &run, &TRACE_H_DOUBLE, 2.5);
    let neg = DoubleExponentialCurrent {
        spike_charge: -3.0,
        ..unit_double()
    };
    let run = run_double(1.0, 1, &[0, 3], 0.5, neg, 11);
    assert_shifted(
        "double exponential, Q = −3, w = 0.5",
        &run,
        &TRACE_H_DOUBLE,
        -1.5,
    );
}

#[test]
fn double_exponential_clear_resets_both_components() {
    let mut run = run_double(1.0, 1, &[0], 1.0, unit_double(), 4);
    assert!(run.current[0][3] > 0.0);
    run.sim.clear(true);
    let s = run
        .sim
        .get_projection::<DoubleExponentialState>(run.proj)
        .unwrap();
    assert!(s.decay.iter().chain(&s.rise).all(|&x| x == 0.0));
    run.sim.run_steps(1).unwrap();
    let c = run
        .sim
        .get_projection::<ProjectionCurrent>(run.proj)
        .unwrap();
    assert_eq!(c.0, [0.0]);
}

// ---------------------------------------------------------------------------------------
// Validation: errors name the parameter
// ---------------------------------------------------------------------------------------

fn build_error<S: SynapseModel>(synapse: S) -> BuildError {
    let mut sim = new_sim(1.0, 1);
    let a = sim
        .add_population("a", 2, Exact::new(-60.0, -40.0), Default::default())
        .unwrap();
    sim.add_projection(
        Some("p"),
        a,
        a,
        &ConnectRule::OneToOne,
        ValueSpec::Scalar(1.0),
        synapse,
    )
    .unwrap_err()
}

#[test]
fn validation_errors_name_the_parameter() {
    let cases: [(BuildError, &str); 7] = [
        (
            build_error(DoubleExponentialCurrent {
                tc_decay: 2.0,
                ..unit_double()
            }),
            "tc_decay",
        ),
        (
            build_error(DoubleExponentialCurrent {
                tc_decay: 1.0,
                ..unit_double()
            }),
            "tc_decay",
        ),
        (
            build_error(DoubleExponentialCurrent {
                tc_rise: 0.0,
                ..unit_double()
            }),
            "tc_rise",
        ),
        (
            build_error(DoubleExponentialCurrent {
                tc_rise: -1.0,
                ..unit_double()
            }),
            "tc_rise",
        ),
        (
            build_error(DoubleExponentialCurrent {
                spike_charge: 0.0,
                ..unit_double()
            }),
            "spike_charge",
        ),
        (
            build_error(SingleExponentialConductance {
                time_constant: 5.0,
                reversal_v: f32::NAN,
            }),
            "reversal_v",
        ),
        (
            build_error(SingleExponentialConductance {
                time_constant: -5.0,
                reversal_v: 0.0,
            }),
            "time_constant",
        ),
    ];
    for (err, field) in cases {
        assert_eq!(
            err.path,
            format!("projection \"p\".synapse.{field}"),
            "{err}"
        );
    }
}

const SCENARIO: &str = r#"
[simulation]
step_time = 1.0
duration = 10.0

[[population]]
name = "a"
size = 4
model = "exact"
params = { rest_v = -60.0, thresh_v = -40.0 }

[[population]]
name = "b"
size = 4
model = "lif"
params = { rest_v = -60.0, reset_v = -65.0, thresh_v = -50.0, refrac_t = 2.0, tc_membrane = 10.0 }

[[projection]]
pre = "a"
post = "b"
connectivity = "all_to_all"
synapse = { model = "double_exponential_current", spike_charge = 1.0, tc_rise = 2.0, tc_decay = 10.0 }

[[projection]]
pre = "a"
post = "b"
name = "cond"
connectivity = "one_to_one"
synapse = { model = "single_exponential_conductance", time_constant = 5.0, reversal_v = 0.0 }
weight = 0.006

[[stimulus]]
target = "a"
kind = "current"
amplitude = 1.0
"#;

#[test]
fn scenario_files_name_both_synapses() {
    let sc = Scenario::from_toml(SCENARIO).unwrap();
    let mut sim = Simulation::new(sc.config(1).unwrap()).unwrap();
    register_all(&mut sim);
    let h = sim.add_scenario(&sc).unwrap();
    sim.run_steps(h.steps).unwrap();
    let cond = sim.projection_id("cond").unwrap();
    let s = sim.get_projection::<SingleExponentialConductance>(cond);
    assert_eq!(
        s,
        Some(&SingleExponentialConductance {
            time_constant: 5.0,
            reversal_v: 0.0
        })
    );
    let dbl = sim.projection_id("a_to_b").unwrap();
    assert!(
        sim.get_projection::<DoubleExponentialCurrent>(dbl)
            .is_some()
    );

    let bad = SCENARIO.replace("tc_rise = 2.0, tc_decay = 10.0", "tc_rise = 2.0");
    let sc = Scenario::from_toml(&bad).unwrap();
    let mut sim = Simulation::new(sc.config(1).unwrap()).unwrap();
    register_all(&mut sim);
    let e = sim.add_scenario(&sc).unwrap_err();
    assert!(e.path.ends_with("synapse.tc_decay"), "{e}");
}

// ---------------------------------------------------------------------------------------
// single_exponential_conductance
// ---------------------------------------------------------------------------------------

struct CondRun {
    /// Conductance of post neuron 0 after each step, µS.
    g: Vec<f32>,
    /// `ProjectionCurrent` of post neuron 0 after each step, nA.
    current: Vec<f32>,
    /// Post voltage after each step, mV.
    voltage: Vec<f32>,
    /// Post input after each step, nA.
    input: Vec<f32>,
}

fn run_conductance<M: NeuronModel>(
    step_time: f64,
    driver_spikes: &[u64],
    weight: f32,
    synapse: SingleExponentialConductance,
    post_model: M,
    steps: u64,
) -> CondRun {
    let mut sim = new_sim(step_time, 1);
    let driver = add_driver(&mut sim, step_time, driver_spikes);
    let post = sim
        .add_population("post", 1, post_model, Default::default())
        .unwrap();
    let proj = sim
        .add_projection(
            None,
            driver,
            post,
            &ConnectRule::OneToOne,
            ValueSpec::Scalar(weight.into()),
            synapse,
        )
        .unwrap();
    let rec = sim
        .record_trace(
            post,
            vec![TraceVariable::Voltage, TraceVariable::Input],
            None,
            1,
        )
        .unwrap();
    let (mut g, mut current) = (Vec::new(), Vec::new());
    for _ in 0..steps {
        sim.run_steps(1).unwrap();
        g.push(sim.get_projection::<SynapticConductance>(proj).unwrap().0[0]);
        current.push(sim.get_projection::<ProjectionCurrent>(proj).unwrap().0[0]);
    }
    let t = sim.trace(rec).unwrap();
    let var =
        |v: usize| -> Vec<f32> { (0..t.steps.len()).map(|s| t.value(s, v, 0, 0, 1)).collect() };
    CondRun {
        g,
        current,
        voltage: var(0),
        input: var(1),
    }
}

#[test]
fn conductance_decays_exactly_and_drives_a_held_voltage() {
    // Inhibitory reversal below rest: the exact post neuron never spikes, so its voltage is
    // rest_v = −60 mV throughout and I = g·(E_rev − V) = −20·g.
    let (dt, tau, w, e_rev, rest) = (0.5, 5.0, 0.25, -80.0, -60.0);
    let syn = SingleExponentialConductance {
        time_constant: tau,
        reversal_v: e_rev,
    };
    let run = run_conductance(dt, &[0], w, syn, Exact::new(rest, -40.0), 30);
    assert!(run.voltage.iter().all(|&v| v == rest));
    assert_eq!(
        (run.g[0], run.current[0]),
        (0.0, 0.0),
        "nothing arrives in step 0"
    );
    for k in 1..run.g.len() {
        // Spike emitted in step 0, arrives in step 1: g after step k = w·e^{−(k−1)Δt/τ}.
        let g = f64::from(w) * (-((k - 1) as f64) * dt / f64::from(tau)).exp();
        assert_close(&format!("g after step {k}"), run.g[k], g);
        let i = g * f64::from(e_rev - rest);
        assert_close(&format!("I after step {k}"), run.current[k], i);
    }
    assert_eq!(run.input, run.current, "post input = projection current");
}

#[test]
fn conductance_current_uses_the_post_voltage_at_the_start_of_the_step() {
    // Excitatory reversal: the exact post neuron spikes whenever g > 0, and its voltage then
    // is thresh_v; the current of step k uses the voltage after step k − 1.
    let (tau, w, e_rev, rest) = (5.0f32, 0.1f32, 0.0f32, -60.0f32);
    let syn = SingleExponentialConductance {
        time_constant: tau,
        reversal_v: e_rev,
    };
    let run = run_conductance(1.0, &[0, 2], w, syn, Exact::new(rest, -40.0), 12);
    let d = f64::from((-1.0 / tau).exp());
    let mut g = 0.0f64;
    for k in 0..run.g.len() {
        g = g * d + if k == 1 || k == 3 { f64::from(w) } else { 0.0 };
        assert_close(&format!("g after step {k}"), run.g[k], g);
        let v_start = if k == 0 { rest } else { run.voltage[k - 1] };
        let i = g * f64::from(e_rev - v_start);
        assert_close(&format!("I after step {k}"), run.current[k], i);
        // The post neuron spikes (voltage = thresh_v) exactly when its input is positive.
        let want_v = if run.current[k] > 0.0 { -40.0 } else { rest };
        assert_eq!(run.voltage[k], want_v, "post voltage after step {k}");
    }
    assert_eq!(run.voltage[0], rest);
    assert_eq!(run.voltage[1], -40.0);
}

#[test]
fn lif_driven_by_an_excitatory_conductance_converges_towards_reversal() {
    // The driver spikes every step, so g → g* = w/(1 − e^{−Δt/τ}). The LIF (threshold above
    // E_rev, so it never fires) integrates exactly with I_k = g_k·(E_rev − V_{k−1}) held over
    // step k, and settles at V* = (V_rest + R g* E_rev)/(1 + R g*), between rest and E_rev.
    let (dt, tau, w, e_rev) = (1.0f32, 5.0f32, 0.5f32, 0.0f32);
    let (rest, tc_m, r) = (-60.0f32, 10.0f32, 1.0f32);
    let syn = SingleExponentialConductance {
        time_constant: tau,
        reversal_v: e_rev,
    };
    let lif = Lif::new(rest, -65.0, 10.0, 2.0, tc_m);
    let steps = 200;
    let every: Vec<u64> = (0..steps).collect();
    let run = run_conductance(f64::from(dt), &every, w, syn, lif, steps);

    let d = f64::from((-dt / tau).exp());
    let alpha = f64::from((-dt / tc_m).exp());
    let (rest, e_rev, r) = (f64::from(rest), f64::from(e_rev), f64::from(r));
    for k in 1..steps as usize {
        // g after step k (k ≥ 1): w·Σ_{m<k} d^m.
        let g = f64::from(w) * (1.0 - d.powi(k as i32)) / (1.0 - d);
        assert_close(&format!("g after step {k}"), run.g[k], g);
        // One LIF step from the recorded voltage, closed form.
        let v0 = f64::from(run.voltage[k - 1]);
        let i = f64::from(run.g[k]) * (e_rev - v0);
        assert_close(&format!("I after step {k}"), run.current[k], i);
        let v1 = rest + r * i + (v0 - rest - r * i) * alpha;
        assert_close(&format!("V after step {k}"), run.voltage[k], v1);
        // Monotone approach towards E_rev (up to round-off once at V*), never past it.
        assert!(
            f64::from(run.voltage[k]) < e_rev,
            "V after step {k} past E_rev"
        );
        if k <= 50 {
            assert!(run.voltage[k] > run.voltage[k - 1], "V rises in step {k}");
        } else {
            // Near V* only f32 round-off (a few ulps) moves it.
            let drop = run.voltage[k - 1] - run.voltage[k];
            assert!(drop <= 1e-5, "V falls by {drop} in step {k}");
        }
    }
    let g_star = f64::from(w) / (1.0 - d);
    let v_star = (rest + r * g_star * e_rev) / (1.0 + r * g_star);
    assert_close("V after 200 steps", *run.voltage.last().unwrap(), v_star);
    assert!(
        v_star > rest + 0.7 * (e_rev - rest),
        "V* = {v_star} is near E_rev"
    );
}

#[test]
fn both_synapses_schedule_without_ambiguities() {
    // The conductance system reads the post `Voltage` in Phase::Synapses; neuron models
    // write it only in Phase::Integrate, so the schedule stays conflict-free.
    let mut sim = new_sim(1.0, 1);
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
        exact,
        lif,
        &ConnectRule::AllToAll { autapses: true },
        ValueSpec::Scalar(0.5),
        unit_double(),
    )
    .unwrap();
    sim.add_projection(
        Some("cond"),
        lif,
        lif,
        &ConnectRule::AllToAll { autapses: false },
        ValueSpec::Scalar(0.01),
        SingleExponentialConductance {
            time_constant: 5.0,
            reversal_v: 0.0,
        },
    )
    .unwrap();
    sim.add_current(lif, Param::Scalar(15.0), 0.0, None, None)
        .unwrap();
    sim.initialize()
        .unwrap_or_else(|e| panic!("schedule has conflicts: {e}"));
    sim.run_steps(50).unwrap();
    assert!(
        sim.synapse_models()
            .contains(&"single_exponential_conductance")
    );
}

/// A recurrent network large enough (20 000 post neurons) for the synapse system to split
/// its post range over a team of two, with `synapse` on its one projection: the synapse
/// state `state(sim, projection)`, the current and the voltages after `steps` steps, and
/// the spike count.
fn big_run<S: SynapseModel>(
    threads: usize,
    steps: u64,
    synapse: S,
    weight: f64,
    state: fn(&Simulation, ProjectionId) -> Vec<f32>,
) -> (Vec<f32>, Vec<f32>, Vec<f32>, u64) {
    let mut sim = Simulation::new(SimConfig {
        step_time: 0.1,
        threads,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut sim);
    let n = 20_000;
    let lif = Lif::new(-49.0, -60.0, -50.0, 5.0, 20.0);
    let init = PopulationOptions {
        // Spread over [−60, −50) mV so the neurons do not fire in lockstep.
        voltage: Some(Param::PerElement(
            (0..n)
                .map(|i| -60.0 + (i * 7919 % 1000) as f32 / 100.0)
                .collect(),
        )),
        ..Default::default()
    };
    let pop = sim.add_population("pop", n, lif, init).unwrap();
    let proj = sim
        .add_projection(
            None,
            pop,
            pop,
            &ConnectRule::FixedProbability {
                p: 0.004,
                autapses: false,
            },
            ValueSpec::Uniform {
                lo: 0.0,
                hi: weight,
            },
            synapse,
        )
        .unwrap();
    let spikes = sim.record_spikes(pop).unwrap();
    sim.run_steps(steps).unwrap();
    let current = sim
        .get_projection::<ProjectionCurrent>(proj)
        .unwrap()
        .0
        .clone();
    let v = sim.get::<Voltage>(pop).unwrap().0.clone();
    let count = sim.recorded_spikes(spikes).len() as u64;
    (state(&sim, proj), current, v, count)
}

/// Synapse systems that clear, deliver and update each part of the post range on the
/// thread that owns it (conductance, double exponential) must give results that do not
/// depend on the thread count.
#[test]
fn large_projections_are_identical_on_1_and_2_threads() {
    let conductance = SingleExponentialConductance {
        time_constant: 5.0,
        reversal_v: 0.0,
    };
    let g = |sim: &Simulation, p: ProjectionId| {
        sim.get_projection::<SynapticConductance>(p)
            .unwrap()
            .0
            .clone()
    };
    let double = unit_double();
    let components = |sim: &Simulation, p: ProjectionId| {
        let s = sim.get_projection::<DoubleExponentialState>(p).unwrap();
        [s.decay.clone(), s.rise.clone()].concat()
    };
    let runs = [
        (
            "conductance",
            big_run(1, 200, conductance, 0.012, g),
            big_run(2, 200, conductance, 0.012, g),
        ),
        (
            "double exponential",
            big_run(1, 200, double, 2.0, components),
            big_run(2, 200, double, 2.0, components),
        ),
    ];
    for (what, one, two) in runs {
        assert!(
            one.3 > 1_000,
            "{what}: {} spikes, the network must be active",
            one.3
        );
        assert!(one.0.iter().any(|&x| x > 0.0), "{what}: no synaptic state");
        assert!(one.0 == two.0, "{what}: synaptic states differ");
        assert!(one.1 == two.1, "{what}: currents differ");
        assert!(one.2 == two.2, "{what}: voltages differ");
        assert_eq!(one.3, two.3, "{what}");
    }
}
