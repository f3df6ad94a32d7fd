//! Aggregation rules of a population's incoming projections (SCENARIO.md `aggregate`,
//! Sapicore's `aggregate`), through a whole simulation.

use ember_engine::prelude::*;
use ember_engine::{AggregateRule, PopulationOptions};
use ember_models::{DeltaCurrent, Exact, Lif, Poisson, register_all};

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

/// `k` Poisson driver populations of `n` neurons (400 Hz at Δt = 1 ms, so each copy of
/// the batch sees its own spikes) project one to one, with per-synapse weights whose
/// magnitudes make the f32 sum depend on its order, onto a LIF population; `rule`
/// aggregates them. Returns the LIF input and voltage of steps 0–5 for both batch copies,
/// neuron by neuron.
fn lif_input_and_voltage(k: usize, n: u32, rule: AggregateRule) -> Vec<(f32, f32)> {
    const STEPS: usize = 6;
    const BATCH: usize = 2;
    let mut sim = Simulation::new(SimConfig {
        step_time: 1.0,
        batch_size: BATCH as u32,
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
            .add_population(&name, n, Poisson::new(400.0), Default::default())
            .unwrap();
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
    sim.run_steps(STEPS as u64).unwrap();
    let t = sim.trace(tr).unwrap();
    let mut out = Vec::new();
    for s in 0..STEPS {
        for b in 0..BATCH {
            for j in 0..n as usize {
                out.push((t.value(s, 0, b, j, BATCH), t.value(s, 1, b, j, BATCH)));
            }
        }
    }
    out
}

/// LIF adds a `Sum` of its incoming currents inside its own neuron loop (up to four
/// currents in the loop, more block by block). Both paths must give bit for bit what the
/// separate aggregation phase gives (a custom rule that sums in creation order; no
/// stimulus on the LIF, so both start from 0), for any number of projections, over a
/// population that spans several blocks and ends off a vector width, in a batch of two.
#[test]
fn lif_fused_sum_matches_the_aggregation_phase_bit_for_bit() {
    let ordered_sum = AggregateRule::Custom(|c| c.iter().fold(0.0, |acc, x| acc + x));
    let n = 2500;
    for k in 0..=6 {
        let fused = lif_input_and_voltage(k, n, AggregateRule::Sum);
        let phase = lif_input_and_voltage(k, n, ordered_sum);
        assert_eq!(fused.len(), phase.len());
        for (i, (f, p)) in fused.iter().zip(&phase).enumerate() {
            let (s, b, j) = (i / (2 * n as usize), i / n as usize % 2, i % n as usize);
            assert_eq!(
                (f.0.to_bits(), f.1.to_bits()),
                (p.0.to_bits(), p.1.to_bits()),
                "{k} projections, step {s}, copy {b}, neuron {j}: \
                 fused {f:?}, aggregation phase {p:?}"
            );
        }
        // The comparison is not vacuous: currents arrive, and the two batch copies differ.
        if k > 0 {
            let per_step = 2 * n as usize;
            let nonzero = fused.iter().filter(|&&(x, _)| x != 0.0).count();
            assert!(
                nonzero > fused.len() / 5,
                "{k} projections: {nonzero} non-zero inputs"
            );
            let step3 = &fused[3 * per_step..4 * per_step];
            let (copy0, copy1) = step3.split_at(n as usize);
            assert_ne!(
                copy0, copy1,
                "{k} projections: batch copies got the same input"
            );
        }
    }
}
