//! Equation-defined neurons through a [`Simulation`]: the Sapicore integrator trace, a
//! two-variable Izhikevich (2003) neuron against a hand-written Euler loop, Heun and RK4
//! against `ember-integrators`, injection, custom aggregation, scenario files, and thread
//! count independence.
//!
//! Two-dimensional states use `[f32; 2]`: ember-models has no `glam` dependency, and any
//! [`ember_integrators::State`] works the same way (glam's `Vec2` included).

use ember_engine::bevy_ecs;
use ember_engine::prelude::*;
use ember_engine::{ParamError, ParamReader, SpikeEvent};
use ember_integrators::Method;
use ember_models::neurons::equation::AggregateFn;
use ember_models::{DeltaCurrent, Equation, EquationNeuron, Exact, Lif, register_all};

// ---------------------------------------------------------------------------------------
// Equations
// ---------------------------------------------------------------------------------------

/// Sapicore's `LIFNeuron`: `dV/dt = (−(V − V_rest) + I/g_L)/τ_mem`, spike at `V ≥ V_θ`,
/// reset to `V_reset`. Buildable from scenario files.
#[derive(Clone, Copy, Debug, PartialEq)]
struct SapicoreLif {
    rest_v: f32,
    reset_v: f32,
    thresh_v: f32,
    leak_g: f32,
    tc_membrane: f32,
}

impl Default for SapicoreLif {
    /// Sapicore's defaults (threshold −55, rest −75, g_L 5, τ 5).
    fn default() -> Self {
        Self {
            rest_v: -75.0,
            reset_v: -75.0,
            thresh_v: -55.0,
            leak_g: 5.0,
            tc_membrane: 5.0,
        }
    }
}

impl Equation for SapicoreLif {
    const NAME: &'static str = "sapicore_lif";
    const PARAMS: &'static [&'static str] =
        &["rest_v", "reset_v", "thresh_v", "leak_g", "tc_membrane"];
    type State = f32;

    fn derivative(&self, v: f32, input: f32) -> f32 {
        (-(v - self.rest_v) + input / self.leak_g) / self.tc_membrane
    }
    fn voltage(&self, v: f32) -> f32 {
        v
    }
    fn with_voltage(&self, _: f32, v: f32) -> f32 {
        v
    }
    fn initial(&self) -> f32 {
        self.rest_v
    }
    fn spiked(&self, v: f32) -> bool {
        v >= self.thresh_v
    }
    fn reset(&self, _: f32) -> f32 {
        self.reset_v
    }

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rest_v: p.required_scalar("rest_v")?,
            reset_v: p.required_scalar("reset_v")?,
            thresh_v: p.required_scalar("thresh_v")?,
            leak_g: p.required_scalar("leak_g")?,
            tc_membrane: p.required_scalar("tc_membrane")?,
        })
    }

    fn validate(&self) -> Result<(), ParamError> {
        if self.tc_membrane.is_nan() || self.tc_membrane <= 0.0 {
            return Err(ParamError::new("tc_membrane", "must be > 0 ms"));
        }
        if self.leak_g == 0.0 {
            return Err(ParamError::new("leak_g", "must be non-zero"));
        }
        Ok(())
    }
}

/// Izhikevich (2003): `v' = 0.04v² + 5v + 140 − u + I`, `u' = a(bv − u)`; at `v ≥ 30`:
/// `v ← c`, `u ← u + d`. State `[v, u]`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Izhikevich2003 {
    a: f32,
    b: f32,
    c: f32,
    d: f32,
}

/// Regular spiking.
const RS: Izhikevich2003 = Izhikevich2003 {
    a: 0.02,
    b: 0.2,
    c: -65.0,
    d: 8.0,
};

impl Equation for Izhikevich2003 {
    const NAME: &'static str = "izhikevich2003_equation";
    type State = [f32; 2];

    fn derivative(&self, [v, u]: [f32; 2], input: f32) -> [f32; 2] {
        [
            0.04 * v * v + 5.0 * v + 140.0 - u + input,
            self.a * (self.b * v - u),
        ]
    }
    fn voltage(&self, x: [f32; 2]) -> f32 {
        x[0]
    }
    fn with_voltage(&self, [_, u]: [f32; 2], v: f32) -> [f32; 2] {
        [v, u]
    }
    fn initial(&self) -> [f32; 2] {
        [self.c, self.b * self.c]
    }
    fn spiked(&self, x: [f32; 2]) -> bool {
        x[0] >= 30.0
    }
    fn reset(&self, [_, u]: [f32; 2]) -> [f32; 2] {
        [self.c, u + self.d]
    }
}

/// A perfect integrator `dv/dt = I` that never spikes: its voltage is the running sum of
/// its inputs × Δt, which exposes the aggregated input exactly.
struct Accumulator;

impl Equation for Accumulator {
    const NAME: &'static str = "accumulator";
    type State = f32;
    fn derivative(&self, _: f32, input: f32) -> f32 {
        input
    }
    fn voltage(&self, v: f32) -> f32 {
        v
    }
    fn with_voltage(&self, _: f32, v: f32) -> f32 {
        v
    }
    fn initial(&self) -> f32 {
        0.0
    }
    fn spiked(&self, _: f32) -> bool {
        false
    }
    fn reset(&self, v: f32) -> f32 {
        v
    }
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn sim(step_time: f64, batch_size: u32, threads: usize) -> Simulation {
    Simulation::new(SimConfig {
        step_time,
        batch_size,
        threads,
        ..Default::default()
    })
    .unwrap()
}

/// The recorded voltage (or other variable) of neuron slot `k`, batch copy `b`, per step.
fn trace(sim: &Simulation, rec: bevy_ecs::entity::Entity, k: usize, b: usize) -> Vec<f32> {
    let t = sim.trace(rec).unwrap();
    let batch = sim.config().batch_size as usize;
    (0..t.steps.len())
        .map(|s| t.value(s, 0, b, k, batch))
        .collect()
}

fn assert_rel(actual: &[f32], expected: &[f32], tol: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    for (s, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let rel = ((f64::from(a) - f64::from(e)) / f64::from(e)).abs();
        assert!(rel <= tol, "{what}, step {s}: {a} vs {e} (rel {rel:e})");
    }
}

// ---------------------------------------------------------------------------------------
// Sapicore integrator trace (INFERNO.md, "Sapicore integrators", A)
// ---------------------------------------------------------------------------------------

const SAPICORE_RK4: [f32; 10] = [
    -71.37466, -68.40649, -65.97633, -63.98669, -62.3577, -61.024, -59.93205, -59.03803, -58.30607,
    -57.70679,
];
const SAPICORE_EULER: [f32; 10] = [
    -71.0, -67.8, -65.24001, -63.19201, -61.5536, -60.24288, -59.19431, -58.35545, -57.68436,
    -57.14748,
];

/// Runs Sapicore's LIF defaults with I = 100 nA and h = 1 ms for 100 steps; returns the
/// voltage after each step and the spikes.
fn sapicore_run(method: Method) -> (Vec<f32>, Vec<SpikeEvent>) {
    let mut sim = sim(1.0, 1, 1);
    let model = EquationNeuron::new(SapicoreLif::default(), method).with_refractory(1.0);
    let pop = sim
        .add_population("lif", 1, model, Default::default())
        .unwrap();
    assert_eq!(sim.get::<Voltage>(pop).unwrap().0, [-75.0]);
    sim.add_current(pop, Param::Scalar(100.0), 0.0, None, None)
        .unwrap();
    let spikes = sim.record_spikes(pop).unwrap();
    let v = sim
        .record_trace(pop, vec![TraceVariable::Voltage], None, 1)
        .unwrap();
    sim.run_steps(100).unwrap();
    (trace(&sim, v, 0, 0), sim.recorded_spikes(spikes).to_vec())
}

#[test]
fn sapicore_trace_rk4_and_euler() {
    for (method, expected) in [(Method::Rk4, SAPICORE_RK4), (Method::Euler, SAPICORE_EULER)] {
        let (v, spikes) = sapicore_run(method);
        assert_eq!(v.len(), 100);
        assert_rel(&v[..10], &expected, 1e-4, method.name());
        assert!(spikes.is_empty(), "{method}: never spikes, got {spikes:?}");
        // V approaches V_rest + I/g_L = −55 from below without reaching it.
        assert!(v.iter().all(|&v| v < -55.0), "{method}");
        assert!(v[99] > -55.001, "{method}: {}", v[99]);
    }
}

// ---------------------------------------------------------------------------------------
// Izhikevich 2003 with a two-component state
// ---------------------------------------------------------------------------------------

#[test]
fn izhikevich_2003_euler_matches_a_hand_written_loop() {
    let (dt, steps, current) = (0.25f32, 1000, 10.0f32);
    let mut sim = sim(f64::from(dt), 1, 1);
    let pop = sim
        .add_population(
            "rs",
            1,
            EquationNeuron::new(RS, Method::Euler),
            Default::default(),
        )
        .unwrap();
    sim.add_current(pop, Param::Scalar(current), 0.0, None, None)
        .unwrap();
    let spikes = sim.record_spikes(pop).unwrap();
    let rec = sim
        .record_trace(pop, vec![TraceVariable::Voltage], None, 1)
        .unwrap();
    sim.run_steps(steps).unwrap();
    let v_sim = trace(&sim, rec, 0, 0);
    let spikes_sim: Vec<u64> = sim.recorded_spikes(spikes).iter().map(|e| e.step).collect();

    // The 2003 equations, forward Euler, written out by hand.
    let Izhikevich2003 { a, b, c, d } = RS;
    let (mut v, mut u) = (c, b * c);
    let (mut v_hand, mut spikes_hand) = (Vec::new(), Vec::new());
    for step in 0..steps {
        let dv = 0.04 * v * v + 5.0 * v + 140.0 - u + current;
        let du = a * (b * v - u);
        v += dt * dv;
        u += dt * du;
        if v >= 30.0 {
            v = c;
            u += d;
            spikes_hand.push(step);
        }
        v_hand.push(v);
    }
    assert_rel(&v_sim, &v_hand, 1e-4, "v");
    assert_eq!(spikes_sim, spikes_hand);
    assert!(spikes_hand.len() >= 5, "tonic spiking: {spikes_hand:?}");
    // Same operations in the same order: bit-identical, and u agrees too.
    assert_eq!(v_sim, v_hand);
    let eq = sim.get::<EquationNeuron<Izhikevich2003>>(pop).unwrap();
    assert_eq!(eq.states(), [[v, u]]);
}

#[test]
fn heun_and_rk4_match_the_integrators_crate() {
    let (dt, steps, current) = (0.1f32, 400, 12.0f32);
    for method in [Method::Heun, Method::Rk4] {
        let mut sim = sim(f64::from(dt), 1, 1);
        let pop = sim
            .add_population("rs", 1, EquationNeuron::new(RS, method), Default::default())
            .unwrap();
        sim.add_current(pop, Param::Scalar(current), 0.0, None, None)
            .unwrap();
        let rec = sim
            .record_trace(pop, vec![TraceVariable::Voltage], None, 1)
            .unwrap();
        sim.run_steps(steps).unwrap();

        let mut x = RS.initial();
        let mut expected = Vec::new();
        for _ in 0..steps {
            x = method.step(|y| RS.derivative(y, current), x, dt);
            if RS.spiked(x) {
                x = RS.reset(x);
            }
            expected.push(x[0]);
        }
        assert_eq!(trace(&sim, rec, 0, 0), expected, "{method}");
        assert!(expected.contains(&RS.c), "{method}: spikes");
    }
    assert_eq!(Method::Rk4.stages(), 4);
}

// ---------------------------------------------------------------------------------------
// Injection
// ---------------------------------------------------------------------------------------

#[test]
fn inject_adds_or_scales_the_voltage_of_equation_and_builtin_populations() {
    // Batch 2, two neurons: per-element injection makes the copies differ.
    let mut sim = sim(0.5, 2, 1);
    let eq = sim
        .add_population(
            "eq",
            2,
            EquationNeuron::new(RS, Method::Euler),
            Default::default(),
        )
        .unwrap();
    let lif = Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0);
    let lif_pop = sim
        .add_population("lif", 2, lif, Default::default())
        .unwrap();
    sim.run_steps(4).unwrap();
    let states0 = sim
        .get::<EquationNeuron<Izhikevich2003>>(eq)
        .unwrap()
        .states()
        .to_vec();
    let v0 = sim.get::<Voltage>(eq).unwrap().0.clone();

    // Additive, one value per neuron and batch copy.
    let add = [5.0, -3.0, 1.0, 0.0];
    sim.inject(eq, &add, false).unwrap();
    let v1: Vec<f32> = v0.iter().zip(&add).map(|(v, a)| v + a).collect();
    assert_eq!(sim.get::<Voltage>(eq).unwrap().0, v1);
    sim.run_steps(1).unwrap();
    // The next step integrates from the injected voltage, with u untouched.
    let dt = 0.5;
    let expected: Vec<[f32; 2]> = states0
        .iter()
        .zip(&v1)
        .map(|(&[_, u], &v)| Method::Euler.step(|y| RS.derivative(y, 0.0), [v, u], dt))
        .collect();
    let states1 = sim
        .get::<EquationNeuron<Izhikevich2003>>(eq)
        .unwrap()
        .states()
        .to_vec();
    assert_eq!(states1, expected);
    assert_eq!(
        sim.get::<Voltage>(eq).unwrap().0,
        expected.iter().map(|x| x[0]).collect::<Vec<_>>()
    );

    // Multiplicative, one value per neuron (every batch copy).
    let before = sim.get::<Voltage>(eq).unwrap().0.clone();
    sim.inject(eq, &[0.5, 2.0], true).unwrap();
    let scaled = [
        before[0] * 0.5,
        before[1] * 2.0,
        before[2] * 0.5,
        before[3] * 2.0,
    ];
    assert_eq!(sim.get::<Voltage>(eq).unwrap().0, scaled);
    sim.run_steps(1).unwrap();
    let states2 = sim
        .get::<EquationNeuron<Izhikevich2003>>(eq)
        .unwrap()
        .states();
    for (k, x) in states2.iter().enumerate() {
        let x0 = [scaled[k], expected[k][1]];
        assert_eq!(*x, Method::Euler.step(|y| RS.derivative(y, 0.0), x0, dt));
    }

    // A built-in LIF population, one value for all neurons: rest −60, so V = −60 + 8 at the
    // injection, and the next step relaxes exactly: −60 + 8·e^{−Δt/τ}.
    assert_eq!(sim.get::<Voltage>(lif_pop).unwrap().0, [-60.0; 4]);
    sim.inject(lif_pop, &[8.0], false).unwrap();
    sim.run_steps(1).unwrap();
    let relaxed = -60.0 + 8.0 * (-0.5f32 / 10.0).exp();
    for &v in &sim.get::<Voltage>(lif_pop).unwrap().0 {
        assert!((v - relaxed).abs() < 1e-5, "{v} vs {relaxed}");
    }
    sim.inject(lif_pop, &[0.0], true).unwrap();
    assert_eq!(sim.get::<Voltage>(lif_pop).unwrap().0, [0.0; 4]);

    // Wrong lengths and non-finite values are rejected, naming the population.
    let e = sim.inject(eq, &[1.0, 2.0, 3.0], false).unwrap_err();
    assert_eq!(e.path, "inject into \"eq\".values");
    assert!(sim.inject(eq, &[f32::NAN], true).is_err());
}

#[test]
fn initial_voltages_from_options_enter_the_state() {
    let mut sim = sim(0.25, 1, 1);
    let options = PopulationOptions {
        voltage: Some(Param::PerElement(vec![-70.0, -65.0])),
        ..Default::default()
    };
    let pop = sim
        .add_population("rs", 2, EquationNeuron::new(RS, Method::Euler), options)
        .unwrap();
    let eq = sim.get::<EquationNeuron<Izhikevich2003>>(pop).unwrap();
    // u starts at b·c = −13 whatever the voltage.
    assert_eq!(eq.states(), [[-70.0, -13.0], [-65.0, -13.0]]);
}

// ---------------------------------------------------------------------------------------
// Custom aggregation
// ---------------------------------------------------------------------------------------

fn product(c: &[f32]) -> f32 {
    c.iter().product()
}

fn maximum(c: &[f32]) -> f32 {
    c.iter().copied().fold(f32::NEG_INFINITY, f32::max)
}

/// Two `exact` sources spiking in steps [0, 30) (A) and [10, 40) (B) drive three
/// accumulator populations of two neurons through delta synapses (Q = 1 pC, Δt = 1 ms, so
/// a spike is 1 nA × weight for one step): A with weights [2, 4], B with weight 3. Each
/// target also gets a 0.5 nA stimulus.
#[test]
fn custom_aggregate_replaces_the_sum_of_projection_currents() {
    let mut sim = sim(1.0, 1, 1);
    register_all(&mut sim);
    let a = sim
        .add_population("a", 2, Exact::new(-70.0, -40.0), Default::default())
        .unwrap();
    let b = sim
        .add_population("b", 2, Exact::new(-70.0, -40.0), Default::default())
        .unwrap();
    sim.add_current(a, Param::Scalar(1.0), 0.0, Some(30.0), None)
        .unwrap();
    sim.add_current(b, Param::Scalar(1.0), 10.0, Some(40.0), None)
        .unwrap();
    let aggregates: [(&str, Option<AggregateFn>); 3] = [
        ("prod", Some(product)),
        ("max", Some(maximum)),
        ("sum", None),
    ];
    let delta = DeltaCurrent { spike_charge: 1.0 };
    let mut recs = Vec::new();
    for (name, aggregate) in aggregates {
        let mut model = EquationNeuron::new(Accumulator, Method::Euler);
        model.aggregate = aggregate;
        let t = sim
            .add_population(name, 2, model, Default::default())
            .unwrap();
        let w_a = ValueSpec::List(vec![2.0, 4.0]);
        sim.add_projection(None, a, t, &ConnectRule::OneToOne, w_a, delta)
            .unwrap();
        sim.add_projection(None, b, t, &ConnectRule::OneToOne, 3.0.into(), delta)
            .unwrap();
        sim.add_current(t, Param::Scalar(0.5), 0.0, None, None)
            .unwrap();
        let rec = sim
            .record_trace(t, vec![TraceVariable::Input], None, 1)
            .unwrap();
        recs.push((name, t, rec));
    }
    // An aggregate without incoming projections leaves the stimulus alone.
    let lonely_model = EquationNeuron::new(Accumulator, Method::Euler).with_aggregate(product);
    let lonely = sim
        .add_population("lonely", 1, lonely_model, Default::default())
        .unwrap();
    sim.add_current(lonely, Param::Scalar(0.25), 0.0, None, None)
        .unwrap();
    let steps = 50;
    sim.run_steps(steps).unwrap();

    for (name, t, rec) in recs {
        for (j, w_a) in [(0usize, 2.0f32), (1, 4.0)] {
            // Spikes of step k arrive in step k + 1.
            let expected: Vec<f32> = (0..steps)
                .map(|k| {
                    let c_a = if (1..=30).contains(&k) { w_a } else { 0.0 };
                    let c_b = if (11..=40).contains(&k) { 3.0 } else { 0.0 };
                    0.5 + match name {
                        "prod" => c_a * c_b,
                        "max" => c_a.max(c_b),
                        _ => c_a + c_b,
                    }
                })
                .collect();
            assert_eq!(trace(&sim, rec, j, 0), expected, "{name}, neuron {j}");
            // The accumulator integrated exactly that input (Euler, Δt = 1).
            let v = sim.get::<Voltage>(t).unwrap().0[j];
            let total: f32 = expected.iter().fold(0.0, |s, x| s + x);
            assert_eq!(v, total, "{name}, neuron {j}");
        }
    }
    assert_eq!(sim.get::<Voltage>(lonely).unwrap().0, [0.25 * steps as f32]);
}

// ---------------------------------------------------------------------------------------
// Scenario files
// ---------------------------------------------------------------------------------------

fn scenario(params: &str) -> Scenario {
    Scenario::from_toml(&format!(
        r#"
[simulation]
step_time = 1.0
duration = 100.0

[[population]]
name = "cell"
size = 1
model = "sapicore_lif"
params = {{ {params} }}

[[stimulus]]
kind = "current"
target = "cell"
amplitude = 100.0

[[record]]
population = "cell"
variables = ["voltage"]
"#
    ))
    .unwrap()
}

const SAPICORE_PARAMS: &str =
    "rest_v = -75.0, reset_v = -75.0, thresh_v = -55.0, leak_g = 5.0, tc_membrane = 5.0";

fn build(sc: &Scenario) -> Result<(Simulation, ember_engine::ScenarioHandles), BuildError> {
    let mut sim = Simulation::new(sc.config(1)?)?;
    register_all(&mut sim);
    sim.register_neuron_model::<EquationNeuron<SapicoreLif>>();
    let h = sim.add_scenario(sc)?;
    Ok((sim, h))
}

#[test]
fn scenario_files_build_equation_neurons() {
    let sc = scenario(&format!("{SAPICORE_PARAMS}, refrac_t = 1.0, order = 4"));
    let (mut sim, h) = build(&sc).unwrap();
    assert!(sim.neuron_models().contains(&"sapicore_lif"));
    sim.run_steps(h.steps).unwrap();
    let rec = h.trace_recorders[0].1;
    let v = trace(&sim, rec, 0, 0);
    assert_rel(&v[..10], &SAPICORE_RK4, 1e-4, "scenario rk4");
    assert!(sim.recorded_spikes(h.spike_recorders[0].1).is_empty());
    let eq = sim
        .get::<EquationNeuron<SapicoreLif>>(h.populations[0].1)
        .unwrap();
    assert_eq!(
        (eq.method, &eq.refrac_t),
        (Method::Rk4, &Param::Scalar(1.0))
    );

    // Without `order`, the equation's default method (Euler).
    let (mut sim, h) = build(&scenario(SAPICORE_PARAMS)).unwrap();
    sim.run_steps(h.steps).unwrap();
    let v = trace(&sim, h.trace_recorders[0].1, 0, 0);
    assert_rel(&v[..10], &SAPICORE_EULER, 1e-4, "scenario euler");
}

#[test]
fn scenario_errors_name_the_field() {
    let err = |params: &str| build(&scenario(params)).err().unwrap();
    let e = err(&format!("{SAPICORE_PARAMS}, order = 3"));
    assert_eq!(e.path, "population[0].params.order");
    let e = err(&format!("{SAPICORE_PARAMS}, refrac_t = -1.0"));
    assert_eq!(e.path, "population[0].params.refrac_t");
    let e = err(&format!("{SAPICORE_PARAMS}, tau = 2.0"));
    assert_eq!(e.path, "population[0].params.tau");
    let e =
        err("rest_v = -75.0, reset_v = -75.0, thresh_v = -55.0, leak_g = 5.0, tc_membrane = 0.0");
    assert_eq!(e.path, "population[0].params.tc_membrane");
    let e = err("rest_v = -75.0");
    assert_eq!(e.path, "population[0].params.reset_v");

    // An equation without `from_params` is built from Rust only.
    let mut sim = sim(1.0, 1, 1);
    sim.register_neuron_model::<EquationNeuron<Accumulator>>();
    let sc = Scenario::from_toml(
        "[simulation]\nstep_time = 1.0\nduration = 1.0\n\n[[population]]\nname = \"x\"\n\
         size = 1\nmodel = \"accumulator\"\n",
    )
    .unwrap();
    let e = sim.add_scenario(&sc).unwrap_err();
    assert_eq!(e.path, "population[0].params");
    assert!(e.to_string().contains("from_params"), "{e}");
}

// ---------------------------------------------------------------------------------------
// Large populations: parallel chunks, identical results on any thread count
// ---------------------------------------------------------------------------------------

#[test]
fn large_populations_give_identical_results_on_one_and_two_threads() {
    let n = ember_models::neurons::PARALLEL_MIN_NEURONS as u32 + 1000;
    let run = |threads: usize| {
        let mut sim = sim(0.5, 1, threads);
        let v0: Vec<f32> = (0..n)
            .map(|i| -70.0 + 120.0 * i as f32 / n as f32)
            .collect();
        let options = PopulationOptions {
            voltage: Some(Param::PerElement(v0)),
            ..Default::default()
        };
        let model = EquationNeuron::new(RS, Method::Rk4).with_refractory(1.0);
        let pop = sim.add_population("rs", n, model, options).unwrap();
        sim.add_current(pop, Param::Scalar(5.0), 0.0, None, None)
            .unwrap();
        let rec = sim.record_spikes(pop).unwrap();
        sim.run_steps(6).unwrap();
        (
            sim.get::<Voltage>(pop).unwrap().0.clone(),
            sim.get::<Refractory>(pop).unwrap().0.clone(),
            sim.recorded_spikes(rec).to_vec(),
        )
    };
    let one = run(1);
    assert!(!one.2.is_empty(), "neurons started above 30 mV spike");
    assert!(one.2.windows(2).all(|w| w[0] < w[1]), "sorted spikes");
    assert_eq!(one, run(2));
}
