//! A Poisson generator's rate can change during a run (e.g. between stimulus presentations):
//! mutating its `Poisson` component takes effect from the next step.

use ember_engine::prelude::*;
use ember_models::{Poisson, register_all};

#[test]
fn changing_the_rate_takes_effect_next_step() {
    let mut sim = Simulation::new(SimConfig {
        step_time: 0.1,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut sim);
    let p = sim
        .add_population("input", 50, Poisson::new(0.0), Default::default())
        .unwrap();
    let rec = sim.record_spikes(p).unwrap();
    sim.run_steps(10).unwrap();
    assert!(sim.recorded_spikes(rec).is_empty());
    // 10 kHz at Δt = 0.1 ms: p = 1, every neuron spikes every step.
    sim.world_mut().get_mut::<Poisson>(p.0).unwrap().rate = 10_000.0.into();
    sim.run_steps(2).unwrap();
    assert_eq!(sim.recorded_spikes(rec).len(), 100);
    assert!(sim.recorded_spikes(rec).iter().all(|e| e.step >= 10));
    // Per-neuron rates: only the neurons with a non-zero rate spike.
    let rates: Vec<f32> = (0..50)
        .map(|i| if i % 2 == 0 { 10_000.0 } else { 0.0 })
        .collect();
    sim.world_mut().get_mut::<Poisson>(p.0).unwrap().rate = Param::PerElement(rates);
    sim.run_steps(1).unwrap();
    let last: Vec<u32> = sim
        .recorded_spikes(rec)
        .iter()
        .filter(|e| e.step == 12)
        .map(|e| e.neuron)
        .collect();
    assert_eq!(last, (0..50).step_by(2).collect::<Vec<u32>>());
}
