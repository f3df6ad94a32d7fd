//! Aggregation rules of a population's incoming projections (SCENARIO.md `aggregate`,
//! Sapicore's `aggregate`), through a whole simulation.

use ember_engine::prelude::*;
use ember_engine::{AggregateRule, PopulationOptions};
use ember_models::{DeltaCurrent, Exact, register_all};

/// Two drivers spike in step 0; their delta projections (weights 2 and 3, Q = 1, Δt = 1)
/// deliver 2 nA and 3 nA in step 1 to a post neuron that also gets a 0.5 nA stimulus.
/// Returns the post neuron's total input in step 1.
fn input_in_step_1(rule: AggregateRule) -> f32 {
    let mut sim = Simulation::new(SimConfig {
        step_time: 1.0,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut sim);
    let model = || Exact::new(-60.0, -40.0);
    let a = sim
        .add_population("a", 1, model(), Default::default())
        .unwrap();
    let b = sim
        .add_population("b", 1, model(), Default::default())
        .unwrap();
    let opts = PopulationOptions {
        aggregate: rule,
        ..Default::default()
    };
    let post = sim.add_population("post", 1, model(), opts).unwrap();
    for (pre, w) in [(a, 2.0), (b, 3.0)] {
        sim.add_current(pre, 1.0.into(), 0.0, Some(1.0), None)
            .unwrap();
        let syn = DeltaCurrent { spike_charge: 1.0 };
        sim.add_projection(None, pre, post, &ConnectRule::OneToOne, w.into(), syn)
            .unwrap();
    }
    sim.add_current(post, 0.5.into(), 0.0, None, None).unwrap();
    let tr = sim
        .record_trace(post, vec![TraceVariable::Input], None, 1)
        .unwrap();
    sim.run_steps(2).unwrap();
    let t = sim.trace(tr).unwrap();
    // Step 0: only the stimulus (projections carry nothing yet).
    assert_eq!(t.value(0, 0, 0, 0, 1), 0.5);
    t.value(1, 0, 0, 0, 1)
}

#[test]
fn every_rule_combines_the_projection_currents_and_adds_stimuli() {
    assert_eq!(input_in_step_1(AggregateRule::Sum), 0.5 + 5.0);
    assert_eq!(input_in_step_1(AggregateRule::Mean), 0.5 + 2.5);
    assert_eq!(input_in_step_1(AggregateRule::Prod), 0.5 + 6.0);
    assert_eq!(input_in_step_1(AggregateRule::Min), 0.5 + 2.0);
    assert_eq!(input_in_step_1(AggregateRule::Max), 0.5 + 3.0);
    // Shunting-style user rule: excitation divided by (1 + inhibition).
    let shunt = AggregateRule::Custom(|c| c[0] / (1.0 + c[1]));
    assert_eq!(input_in_step_1(shunt), 0.5 + 0.5);
}
