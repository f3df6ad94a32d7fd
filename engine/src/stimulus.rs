//! Stimuli: currents injected into populations.
//!
//! A stimulus is its own entity pointing at its target population, so any number of stimuli
//! can drive one population; they add up into the target's `SynapticInput` in
//! [`Phase::Stimuli`](crate::Phase::Stimuli), in creation order.

use bevy_ecs::prelude::*;

use crate::clock::Clock;
use crate::population::SynapticInput;
use crate::value::Param;

/// A constant current `amplitude` (nA) added to the target's input while
/// `start_step ≤ step < stop_step` (SCENARIO.md `kind = "current"`).
#[derive(Component, Clone, Debug, PartialEq)]
pub struct CurrentStimulus {
    /// The target population entity.
    pub target: Entity,
    /// Current, nA: one value, or one per selected neuron.
    pub amplitude: Param,
    /// First step with the current on.
    pub start_step: u64,
    /// First step with the current off again (`u64::MAX`: until the end).
    pub stop_step: u64,
    /// The neurons receiving it (`None`: all), in the order `amplitude` lists them.
    pub neurons: Option<Vec<u32>>,
    /// The target population's size (the input array holds one copy per batch element).
    pub size: u32,
}

/// Adds every active current stimulus to its target's input (all batch copies).
pub fn apply_current_stimuli(
    clock: Res<Clock>,
    stimuli: Query<&CurrentStimulus>,
    mut inputs: Query<&mut SynapticInput>,
) {
    for s in &stimuli {
        if clock.step < s.start_step || clock.step >= s.stop_step {
            continue;
        }
        let Ok(mut input) = inputs.get_mut(s.target) else {
            continue;
        };
        for copy in input.0.chunks_exact_mut(s.size as usize) {
            match (&s.neurons, &s.amplitude) {
                (None, Param::Scalar(a)) => copy.iter_mut().for_each(|x| *x += a),
                (None, Param::PerElement(a)) => {
                    copy.iter_mut().zip(a).for_each(|(x, a)| *x += a);
                }
                (Some(neurons), amplitude) => {
                    for (k, &j) in neurons.iter().enumerate() {
                        copy[j as usize] += amplitude.at(k);
                    }
                }
            }
        }
    }
}
