//! ALIF and GLIF2 against INFERNO.md: traces C and D, the θ sequence of §1.4, batch
//! reduction, eval mode, `clear`, and the validation rules.

use ember_engine::bevy_ecs::entity::Entity;
use ember_engine::prelude::*;
use ember_engine::{EffectiveThreshold, Mode, PopulationOptions};
use ember_models::{Alif, Glif2, register_all};

fn sim(step_time: f64, batch_size: u32, mode: Mode) -> Simulation {
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

fn close(what: &str, a: f32, e: f64) {
    let rel = ((f64::from(a) - e) / e).abs();
    assert!(rel <= 1e-5, "{what}: got {a}, expected {e} (rel {rel:.1e})");
}

/// INFERNO.md trace C: `ALIF(rest −65, reset −60, thresh_eq −52, refrac 5, τm 20,
/// τa 100, d 2)`, I = 20, Δt = 1.
fn trace_c() -> Alif {
    Alif {
        rest_v: (-65.0).into(),
        reset_v: (-60.0).into(),
        thresh_eq_v: (-52.0).into(),
        refrac_t: 5.0.into(),
        tc_membrane: 20.0.into(),
        tc_adaptation: vec![100.0],
        spike_increment: vec![2.0],
        resistance: 1.0.into(),
    }
}

/// INFERNO.md trace D.
fn trace_d() -> Glif2 {
    Glif2 {
        rest_v: (-65.0).into(),
        reset_v_add: 2.0.into(),
        reset_v_mul: 0.5.into(),
        thresh_eq_v: (-52.0).into(),
        refrac_t: 2.0.into(),
        tc_membrane: 20.0.into(),
        rc_adaptation: vec![0.01],
        spike_increment: vec![1.0],
        resistance: 1.0.into(),
    }
}

fn steps_of(sim: &Simulation, rec: Entity) -> Vec<u64> {
    sim.recorded_spikes(rec).iter().map(|e| e.step).collect()
}

#[test]
fn trace_c_alif_train_and_eval() {
    let mut s = sim(1.0, 1, Mode::Train);
    let p = s
        .add_population("alif", 1, trace_c(), Default::default())
        .unwrap();
    s.add_current(p, 20.0.into(), 0.0, None, None).unwrap();
    let rec = s.record_spikes(p).unwrap();
    s.run_steps(200).unwrap();
    assert_eq!(steps_of(&s, rec), [20, 45, 75, 109, 146, 185]);
    close(
        "final θ",
        s.get::<Adaptation>(p).unwrap().values()[0],
        5.7242813,
    );
    // The effective threshold after the step is Θ∞ + θ.
    close(
        "threshold",
        s.get::<EffectiveThreshold>(p).unwrap().0[0],
        -52.0 + 5.7242813,
    );

    let mut s = sim(1.0, 1, Mode::Eval);
    let p = s
        .add_population("alif", 1, trace_c(), Default::default())
        .unwrap();
    s.add_current(p, 20.0.into(), 0.0, None, None).unwrap();
    let rec = s.record_spikes(p).unwrap();
    s.run_steps(200).unwrap();
    let every_20: Vec<u64> = (1..10).map(|k| 20 * k).collect();
    assert_eq!(steps_of(&s, rec), every_20);
    assert_eq!(s.get::<Adaptation>(p).unwrap().values(), &[0.0]);
}

#[test]
fn population_mode_overrides_simulation_mode() {
    let mut s = sim(1.0, 1, Mode::Train);
    let opts = PopulationOptions {
        mode: Some(Mode::Eval),
        ..Default::default()
    };
    let p = s.add_population("alif", 1, trace_c(), opts).unwrap();
    s.add_current(p, 20.0.into(), 0.0, None, None).unwrap();
    let rec = s.record_spikes(p).unwrap();
    s.run_steps(60).unwrap();
    // Frozen threshold: the eval-mode spike train of trace C (every 20 steps).
    assert_eq!(steps_of(&s, rec), [20, 40]);
    assert_eq!(s.get::<Adaptation>(p).unwrap().values(), &[0.0]);
}

#[test]
fn alif_theta_is_frozen_during_refractoriness() {
    // INFERNO.md §1.4 (measured): refrac_t = 3, θ after a spike at step 0:
    // 2.0, 2.0, 2.0, 1.80967, 1.63746 (τa = 10, d = 2, Δt = 1).
    let mut m = trace_c();
    m.refrac_t = 3.0.into();
    m.tc_adaptation = vec![10.0];
    let opts = PopulationOptions {
        voltage: Some(Param::Scalar(-40.0)),
        ..Default::default()
    };
    let mut s = sim(1.0, 1, Mode::Train);
    let p = s.add_population("alif", 1, m, opts).unwrap();
    let mut theta = Vec::new();
    for _ in 0..5 {
        s.run_steps(1).unwrap();
        theta.push(s.get::<Adaptation>(p).unwrap().values()[0]);
    }
    for (k, (&a, e)) in theta
        .iter()
        .zip([2.0, 2.0, 2.0, 1.80967, 1.63746])
        .enumerate()
    {
        close(&format!("θ[{k}]"), a, e);
    }
}

#[test]
fn batch_reduction_of_threshold_adaptation() {
    // INFERNO.md §1.4 (measured): batch of 2, one spiker, d = 2: θ = 1.0 with mean,
    // 2.0 with max.
    for (reduction, expected) in [(BatchReduction::Mean, 1.0), (BatchReduction::Max, 2.0)] {
        let mut s = sim(1.0, 2, Mode::Train);
        let opts = PopulationOptions {
            batch_reduction: reduction,
            ..Default::default()
        };
        let p = s.add_population("alif", 1, trace_c(), opts).unwrap();
        // Copy 0 starts above threshold and spikes in step 0; copy 1 stays at rest.
        s.world_mut()
            .get_mut::<Voltage>(p.0)
            .unwrap()
            .0
            .copy_from_slice(&[-40.0, -65.0]);
        s.run_steps(1).unwrap();
        assert_eq!(s.get::<Spikes>(p).unwrap().batch(0), &[0]);
        assert!(s.get::<Spikes>(p).unwrap().batch(1).is_empty());
        assert_eq!(s.get::<Adaptation>(p).unwrap().values(), &[expected]);
    }
    // A custom reduction receives the copies' values in batch order.
    let mut s = sim(1.0, 2, Mode::Train);
    let opts = PopulationOptions {
        batch_reduction: BatchReduction::Custom(|v| v[0] * 10.0 + v[1]),
        ..Default::default()
    };
    let p = s.add_population("alif", 1, trace_c(), opts).unwrap();
    s.world_mut()
        .get_mut::<Voltage>(p.0)
        .unwrap()
        .0
        .copy_from_slice(&[-40.0, -65.0]);
    s.run_steps(1).unwrap();
    assert_eq!(s.get::<Adaptation>(p).unwrap().values(), &[20.0]);
}

#[test]
fn batch_copies_with_identical_inputs_spike_identically() {
    let mut s = sim(1.0, 3, Mode::Train);
    let p = s
        .add_population("alif", 4, trace_c(), Default::default())
        .unwrap();
    s.add_current(
        p,
        Param::PerElement(vec![18.0, 20.0, 25.0, 30.0]),
        0.0,
        None,
        None,
    )
    .unwrap();
    s.run_steps(150).unwrap();
    let rec = s.record_spikes(p).unwrap();
    s.run_steps(100).unwrap();
    let by_batch = |b: u32| -> Vec<(u64, u32)> {
        s.recorded_spikes(rec)
            .iter()
            .filter(|e| e.batch == b)
            .map(|e| (e.step, e.neuron))
            .collect()
    };
    assert!(!by_batch(0).is_empty());
    assert_eq!(by_batch(0), by_batch(1));
    assert_eq!(by_batch(0), by_batch(2));
}

#[test]
fn trace_d_glif2_linear_reset() {
    let mut s = sim(1.0, 1, Mode::Train);
    let p = s
        .add_population("glif2", 1, trace_d(), Default::default())
        .unwrap();
    s.add_current(p, 20.0.into(), 0.0, None, None).unwrap();
    let rec = s.record_spikes(p).unwrap();
    let tr = s
        .record_trace(p, vec![TraceVariable::Voltage], None, 1)
        .unwrap();
    s.run_steps(200).unwrap();
    assert_eq!(steps_of(&s, rec), [20, 40, 62, 85, 110, 135, 161, 188]);
    let t = s.trace(tr).unwrap();
    let expected = [-52.73482, -52.35759, -60.49938, -60.49938, -59.74347];
    for (k, e) in expected.into_iter().enumerate() {
        close(&format!("V[{}]", 18 + k), t.value(18 + k, 0, 0, 0, 1), e);
    }
}

#[test]
fn adaptation_trace_and_clear() {
    let mut s = sim(1.0, 1, Mode::Train);
    let p = s
        .add_population("alif", 1, trace_c(), Default::default())
        .unwrap();
    s.add_current(p, 20.0.into(), 0.0, None, None).unwrap();
    let tr = s
        .record_trace(
            p,
            vec![TraceVariable::Adaptation(0), TraceVariable::Threshold],
            None,
            1,
        )
        .unwrap();
    s.run_steps(21).unwrap();
    let t = s.trace(tr).unwrap();
    // Spike at step 20: θ jumps to 2, threshold to −50.
    assert_eq!(t.value(19, 0, 0, 0, 1), 0.0);
    assert_eq!(t.value(20, 0, 0, 0, 1), 2.0);
    assert_eq!(t.value(20, 1, 0, 0, 1), -50.0);

    s.clear(true);
    assert_eq!(s.get::<Voltage>(p).unwrap().0, [-65.0]);
    assert_eq!(s.get::<Refractory>(p).unwrap().0, [0.0]);
    assert_eq!(s.get::<Adaptation>(p).unwrap().values(), &[2.0]);
    s.clear(false);
    assert_eq!(s.get::<Adaptation>(p).unwrap().values(), &[0.0]);
}

#[test]
fn initial_adaptation_is_used_and_checked() {
    let mut s = sim(1.0, 1, Mode::Train);
    let opts = PopulationOptions {
        adaptation: Some(vec![3.0]),
        ..Default::default()
    };
    let p = s.add_population("alif", 2, trace_c(), opts).unwrap();
    assert_eq!(s.get::<Adaptation>(p).unwrap().values(), &[3.0, 3.0]);
    let opts = PopulationOptions {
        adaptation: Some(vec![3.0, 1.0]),
        ..Default::default()
    };
    let err = s.add_population("alif2", 2, trace_c(), opts).unwrap_err();
    assert!(err.path.ends_with("init.adaptation"), "{err}");
    assert!(s.population_id("alif2").is_none());
}

#[test]
fn multi_term_adaptation_sums_terms() {
    let mut m = trace_c();
    m.tc_adaptation = vec![10.0, 100.0];
    m.spike_increment = vec![1.0, 0.5];
    let mut s = sim(1.0, 1, Mode::Train);
    let opts = PopulationOptions {
        voltage: Some(Param::Scalar(-40.0)),
        ..Default::default()
    };
    let p = s.add_population("alif", 1, m, opts).unwrap();
    s.run_steps(1).unwrap();
    assert_eq!(s.get::<Adaptation>(p).unwrap().values(), &[1.0, 0.5]);
    assert_eq!(s.get::<EffectiveThreshold>(p).unwrap().0, [-50.5]);
}

fn alif_error(f: impl FnOnce(&mut Alif)) -> &'static str {
    let mut m = trace_c();
    f(&mut m);
    m.validate(1).unwrap_err().param
}

fn glif2_error(f: impl FnOnce(&mut Glif2)) -> &'static str {
    let mut m = trace_d();
    f(&mut m);
    m.validate(1).unwrap_err().param
}

#[test]
fn validation_names_the_field() {
    assert!(trace_c().validate(1).is_ok());
    assert!(trace_d().validate(1).is_ok());
    assert_eq!(alif_error(|m| m.rest_v = (-50.0).into()), "rest_v");
    assert_eq!(alif_error(|m| m.reset_v = (-52.0).into()), "reset_v");
    assert_eq!(alif_error(|m| m.refrac_t = (-1.0).into()), "refrac_t");
    assert_eq!(alif_error(|m| m.tc_membrane = 0.0.into()), "tc_membrane");
    assert_eq!(alif_error(|m| m.resistance = 0.0.into()), "resistance");
    assert_eq!(
        alif_error(|m| m.tc_adaptation = vec![-1.0]),
        "tc_adaptation"
    );
    assert_eq!(
        alif_error(|m| m.spike_increment = vec![1.0, 2.0]),
        "spike_increment"
    );
    assert_eq!(alif_error(|m| m.tc_adaptation = vec![]), "tc_adaptation");
    assert_eq!(
        alif_error(|m| m.thresh_eq_v = f32::NAN.into()),
        "thresh_eq_v"
    );
    assert_eq!(glif2_error(|m| m.rest_v = (-40.0).into()), "rest_v");
    assert_eq!(
        glif2_error(|m| m.rc_adaptation = vec![0.0]),
        "rc_adaptation"
    );
    assert_eq!(
        glif2_error(|m| m.tc_membrane = (-20.0).into()),
        "tc_membrane"
    );
    assert_eq!(glif2_error(|m| m.refrac_t = (-2.0).into()), "refrac_t");
    assert_eq!(glif2_error(|m| m.resistance = 0.0.into()), "resistance");
    assert_eq!(
        glif2_error(|m| m.spike_increment = vec![1.0, 1.0]),
        "spike_increment"
    );
    // GLIF2's reset parameters are unconstrained but must be finite.
    assert_eq!(
        glif2_error(|m| m.reset_v_mul = f32::NAN.into()),
        "reset_v_mul"
    );
    assert!({
        let mut m = trace_d();
        m.reset_v_add = (-100.0).into();
        m.reset_v_mul = 3.0.into();
        m.validate(1).is_ok()
    });
}
