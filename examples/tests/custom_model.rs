//! The user-defined resonate-and-fire model of the `custom_model` example: spike times
//! against its closed-form solution and against a hand-written loop, the resonance it is
//! built to show, and equality of the Rust and scenario-file builds.

use ember_engine::SpikeEvent;
use ember_engine::prelude::*;
use ember_examples::custom_model::{
    RESONANCE_SCENARIO, ResonanceConfig, ResonanceResult, ResonateAndFire, run_resonance,
    run_resonance_scenario,
};

const DT: f64 = 0.1;

/// The spike steps of one resonator under a constant current, from the closed form
/// `z(t) = z∞ + (z0 − z∞)e^{(b+iω)t}` evaluated at whole steps: the first spike is in step
/// `n₁ − 1` where `n₁` is the first step count at which `V ≥ V_θ` from rest; after a spike
/// (reset to `x = 0`, `y = V_reset − V_rest`) the next one comes `m` steps after the end of
/// the refractory period, found the same way from the reset state.
fn closed_form_spike_steps(m: &ResonateAndFire, current: f64, steps: u64) -> Vec<u64> {
    let theta = f64::from(m.thresh_v - m.rest_v);
    let first_crossing = |z0: (f64, f64)| -> u64 {
        (1..100_000u64)
            .find(|&n| {
                let (_, y) = m.free_response(current, z0, n as f64 * DT);
                // Guard against near-ties that f32 round-off could resolve differently.
                assert!((y - theta).abs() > 1e-3, "near-tie at n = {n}: y = {y}");
                y >= theta
            })
            .expect("the neuron fires")
    };
    let n1 = first_crossing((0.0, 0.0));
    let m_steps = first_crossing((0.0, f64::from(m.reset_v - m.rest_v)));
    // Refractory steps after a spike in which the state is held (refrac_t = 0: none).
    let held = ((f64::from(m.refrac_t) / DT).round() as u64).saturating_sub(1);
    let mut out = vec![n1 - 1];
    while let Some(&last) = out.last() {
        let next = last + held + m_steps;
        if next >= steps {
            break;
        }
        out.push(next);
    }
    out
}

fn resonator_alone(m: ResonateAndFire, current: f32, steps: u64) -> Vec<u64> {
    let mut sim = Simulation::new(SimConfig {
        step_time: DT,
        ..Default::default()
    })
    .unwrap();
    sim.register_neuron_model::<ResonateAndFire>();
    let pop = sim.add_population("rf", 1, m, Default::default()).unwrap();
    sim.add_current(pop, Param::Scalar(current), 0.0, None, None)
        .unwrap();
    let rec = sim.record_spikes(pop).unwrap();
    sim.run_steps(steps).unwrap();
    sim.recorded_spikes(rec).iter().map(|e| e.step).collect()
}

#[test]
fn constant_current_spike_times_match_the_closed_form() {
    let steps = 3000;
    let mut m = ResonateAndFire::new(-65.0, -70.0, -49.0, 40.0, 50.0);
    for refrac_t in [0.0, 2.0] {
        m.refrac_t = refrac_t;
        let expected = closed_form_spike_steps(&m, 6.0, steps);
        assert!(expected.len() >= 5, "{expected:?}");
        assert_eq!(
            resonator_alone(m.clone(), 6.0, steps),
            expected,
            "refrac_t {refrac_t}"
        );
    }
}

/// Integrates one resonator driven by the recorded spikes of its LIF driver with the
/// closed-form step in f64: a delta synapse turns a driver spike in step k into a current
/// `w·Q/Δt` during step k + 1.
fn hand_loop(m: &ResonateAndFire, weight: f64, driver: &[u64], steps: u64) -> Vec<u64> {
    let (theta, reset) = (
        f64::from(m.thresh_v - m.rest_v),
        f64::from(m.reset_v - m.rest_v),
    );
    let mut z = (0.0, 0.0);
    let mut spikes = Vec::new();
    for k in 0..steps {
        let kicked = k > 0 && driver.binary_search(&(k - 1)).is_ok();
        let current = if kicked { weight * 1.0 / DT } else { 0.0 };
        z = m.free_response(current, z, DT);
        if z.1 >= theta {
            spikes.push(k);
            z = (0.0, reset);
        }
    }
    spikes
}

fn steps_of(events: &[SpikeEvent], neuron: u32) -> Vec<u64> {
    events
        .iter()
        .filter(|e| e.neuron == neuron)
        .map(|e| e.step)
        .collect()
}

#[test]
fn only_the_resonantly_driven_neuron_fires_as_a_hand_loop_predicts() {
    let config = ResonanceConfig::default();
    let r = run_resonance(&config).unwrap();
    let steps = (config.duration_ms / DT).round() as u64;
    let n = config.drive_na.len();

    // The drivers fire periodically at ≈ 25, 50 and 100 Hz (periods in steps).
    let periods: Vec<u64> = (0..n as u32)
        .map(|j| {
            let s = steps_of(&r.driver_spikes, j);
            assert!(s.windows(2).all(|w| w[1] - w[0] == s[1] - s[0]), "{s:?}");
            s[1] - s[0]
        })
        .collect();
    assert_eq!(periods, [391, 200, 100]);

    // Each resonator matches the closed-form hand loop spike for spike.
    for j in 0..n as u32 {
        let driver = steps_of(&r.driver_spikes, j);
        let expected = hand_loop(&config.resonator, f64::from(config.weight), &driver, steps);
        assert_eq!(steps_of(&r.resonator_spikes, j), expected, "resonator {j}");
    }

    // Resonance: the 50 Hz drive (the eigenfrequency) makes its resonator fire; half the
    // rate and twice the rate do not.
    let counts = ResonanceResult::counts(&r.resonator_spikes, n);
    assert_eq!(counts[0], 0);
    assert!(counts[1] >= 5, "{counts:?}");
    assert_eq!(counts[2], 0);
}

#[test]
fn the_scenario_file_gives_the_same_spikes_as_the_rust_build() {
    let from_rust = run_resonance(&ResonanceConfig::default()).unwrap();
    let from_file = run_resonance_scenario(RESONANCE_SCENARIO).unwrap();
    assert!(!from_file.resonator_spikes.is_empty());
    assert_eq!(from_file, from_rust);
}

#[test]
fn scenario_errors_name_the_parameter_and_need_registration() {
    let with = |from: &str, to: &str| {
        assert!(RESONANCE_SCENARIO.contains(from), "{from}");
        let e = run_resonance_scenario(&RESONANCE_SCENARIO.replace(from, to)).unwrap_err();
        e.downcast::<BuildError>().map(|e| e.path).unwrap()
    };
    assert_eq!(
        with("frequency = 50.0", "frequency = 0.0"),
        "population[1].params.frequency"
    );
    assert_eq!(
        with("tc_damping = 40.0", "tc_damping = -1.0"),
        "population[1].params.tc_damping"
    );
    assert_eq!(
        with("thresh_v = -49.0", "thresh_v = -70.0"),
        "population[1].params.rest_v"
    );
    assert_eq!(
        with(
            "frequency = 50.0",
            "frequency = 50.0, capacitance = [1.0, 2.0, 3.0]"
        ),
        "population[1].params.capacitance"
    );
    assert_eq!(
        with("frequency = 50.0", "frequency = 50.0, q = 1.0"),
        "population[1].params.q"
    );
    assert_eq!(
        with("tc_damping = 40.0, ", ""),
        "population[1].params.tc_damping"
    );

    // Scenario names resolve through the registry only: without registering the model,
    // its name is unknown, exactly as a built-in's would be.
    let sc = Scenario::from_toml(RESONANCE_SCENARIO).unwrap();
    let mut sim = Simulation::new(sc.config(1).unwrap()).unwrap();
    ember_models::register_all(&mut sim);
    let e = sim.add_scenario(&sc).unwrap_err();
    assert_eq!(e.path, "population[1].model");
}

#[test]
fn injection_works_on_the_user_model() {
    let m = ResonateAndFire::new(-65.0, -65.0, -40.0, 40.0, 50.0);
    let mut sim = Simulation::new(SimConfig {
        step_time: DT,
        ..Default::default()
    })
    .unwrap();
    let pop = sim
        .add_population("rf", 1, m.clone(), Default::default())
        .unwrap();
    sim.inject(pop, &[10.0], false).unwrap();
    sim.run_steps(1).unwrap();
    // From (x, y) = (0, 10 mV) without input: a damped rotation.
    let (_, y) = m.free_response(0.0, (0.0, 10.0), DT);
    let v = sim.get::<Voltage>(pop).unwrap().0[0];
    assert!(
        (f64::from(v) - (-65.0 + y)).abs() < 1e-4,
        "{v} vs {}",
        -65.0 + y
    );
}
