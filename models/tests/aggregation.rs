//! Aggregation rules of a population's incoming projections (SCENARIO.md `aggregate`,
//! Sapicore's `aggregate`), through a whole simulation.

use ember_engine::prelude::*;
use ember_engine::{AggregateRule, PopulationOptions};
use ember_models::{DeltaCurrent, Exact, Lif, register_all};

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

/// `k` driver populations of `n` neurons spike every step and project one to one, with
/// per-synapse weights whose magnitudes make the f32 sum depend on its order, onto a LIF
/// population; `rule` aggregates them. Returns the LIF input and voltage of steps 0–3,
/// neuron by neuron.
fn lif_input_and_voltage(k: usize, n: u32, rule: AggregateRule) -> Vec<(f32, f32)> {
    let mut sim = Simulation::new(SimConfig {
        step_time: 1.0,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut sim);
    let opts = PopulationOptions {
        aggregate: rule,
        ..Default::default()
    };
    // τ = 20 ms, threshold far enough that some neurons spike and some do not.
    let lif = Lif::new(-60.0, -65.0, -50.0, 2.0, 20.0);
    let post = sim.add_population("post", n, lif, opts).unwrap();
    let scales = [3.0e7, 1.25, -3.0e7, 0.3, -7.5, 11.0];
    for (p, scale) in scales.iter().take(k).enumerate() {
        let name = format!("driver{p}");
        let pre = sim
            .add_population(&name, n, Exact::new(-60.0, -40.0), Default::default())
            .unwrap();
        sim.add_current(pre, 1.0.into(), 0.0, None, None).unwrap();
        // A different weight per neuron, so a part or block read at the wrong offset shows.
        let w = (0..n)
            .map(|i| scale * (1.0 + f64::from((i * 7 + p as u32 * 13) % 31) / 17.0))
            .collect();
        let syn = DeltaCurrent { spike_charge: 1.0 };
        let rule = ConnectRule::OneToOne;
        sim.add_projection(None, pre, post, &rule, ValueSpec::List(w), syn)
            .unwrap();
    }
    let vars = vec![TraceVariable::Input, TraceVariable::Voltage];
    let tr = sim.record_trace(post, vars, None, 1).unwrap();
    sim.run_steps(4).unwrap();
    let t = sim.trace(tr).unwrap();
    (0..4)
        .flat_map(|s| (0..n as usize).map(move |j| (s, j)))
        .map(|(s, j)| (t.value(s, 0, 0, j, 1), t.value(s, 1, 0, j, 1)))
        .collect()
}

/// LIF adds a `Sum` of its incoming currents inside its own neuron loop (up to four
/// currents in the loop, more block by block). Both paths must give bit for bit what the
/// separate aggregation phase gives (a custom rule that sums in creation order; no
/// stimulus on the LIF, so both start from 0), for any number of projections, over a
/// population that spans several blocks and ends off a vector width.
#[test]
fn lif_fused_sum_matches_the_aggregation_phase_bit_for_bit() {
    let ordered_sum = AggregateRule::Custom(|c| c.iter().fold(0.0, |acc, x| acc + x));
    let n = 2500;
    for k in 0..=6 {
        let fused = lif_input_and_voltage(k, n, AggregateRule::Sum);
        let phase = lif_input_and_voltage(k, n, ordered_sum);
        assert_eq!(fused.len(), phase.len());
        for (i, (f, p)) in fused.iter().zip(&phase).enumerate() {
            let (s, j) = (i / n as usize, i % n as usize);
            assert_eq!(
                (f.0.to_bits(), f.1.to_bits()),
                (p.0.to_bits(), p.1.to_bits()),
                "{k} projections, step {s}, neuron {j}: fused {f:?}, aggregation phase {p:?}"
            );
        }
        // The comparison is not vacuous: from step 1 on the currents arrive.
        if k > 0 {
            assert!(fused[n as usize..].iter().all(|&(x, _)| x != 0.0));
        }
    }
}
