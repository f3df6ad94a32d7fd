//! The exact neuron (`exact`): spikes whenever its input is positive.
//!
//! Inferno's `ExactNeuron` (`inferno.extra`): `spike = I > 0`; the voltage is derived —
//! `thresh_v` on a spike step, `rest_v` otherwise — and the neuron is never refractory.
//! Useful as a readout that turns any positive drive into a spike in the same step, and as
//! a precise spike source driven by a current stimulus.
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `rest_v` | mV | voltage shown without a spike | `rest_v < thresh_v` |
//! | `thresh_v` | mV | voltage shown on a spike step | |

use bevy_ecs::prelude::*;
use ember_engine::model::check;
use ember_engine::prelude::*;
use ember_engine::{ModelSystems, ParamError, ParamReader, Population, SpawnContext};

/// Exact-neuron parameters.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Exact {
    /// Voltage without a spike, mV.
    pub rest_v: Param,
    /// Voltage on a spike step, mV.
    pub thresh_v: Param,
}

impl Exact {
    /// Homogeneous parameters.
    pub fn new(rest_v: f32, thresh_v: f32) -> Self {
        Self {
            rest_v: rest_v.into(),
            thresh_v: thresh_v.into(),
        }
    }
}

/// Per-neuron `rest_v` and `thresh_v` (mV), expanded once so the step has no branch on
/// how the parameters were given.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct ExactKernel {
    rest_v: Vec<f32>,
    thresh_v: Vec<f32>,
}

/// One exact-neuron step over one batch copy: `spike = I > 0`, `V = spike ? V_θ : V_rest`;
/// pushes spiking indices (in order) to `spikes`.
pub fn exact_step(k: &ExactKernel, input: &[f32], voltage: &mut [f32], spikes: &mut Vec<u32>) {
    let params = k.rest_v.iter().zip(&k.thresh_v);
    let iter = input.iter().zip(voltage.iter_mut()).zip(params);
    for (i, ((&x, v), (&rest, &thresh))) in iter.enumerate() {
        let spike = x > 0.0;
        *v = if spike { thresh } else { rest };
        if spike {
            spikes.push(i as u32);
        }
    }
}

/// The exact-neuron system ([`Phase::Integrate`]).
pub fn exact_system(
    mut q: Query<(
        &Population,
        &ExactKernel,
        &SynapticInput,
        &mut Voltage,
        &mut Spikes,
    )>,
) {
    for (pop, k, input, mut v, mut spikes) in &mut q {
        let n = pop.size as usize;
        for b in 0..pop.batch as usize {
            let r = b * n..(b + 1) * n;
            exact_step(k, &input.0[r.clone()], &mut v.0[r], spikes.batch_mut(b));
        }
    }
}

impl NeuronModel for Exact {
    const NAME: &'static str = "exact";
    const PARAMS: &'static [&'static str] = &["rest_v", "thresh_v"];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rest_v: p.required("rest_v")?,
            thresh_v: p.required("thresh_v")?,
        })
    }

    fn validate(&self, n: usize) -> Result<(), ParamError> {
        check::length("rest_v", &self.rest_v, n)?;
        check::length("thresh_v", &self.thresh_v, n)?;
        check::less_than("rest_v", &self.rest_v, "thresh_v", &self.thresh_v, n)
    }

    fn initial_voltage(&self, i: usize) -> f32 {
        self.rest_v.at(i)
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_neuron_pass(Phase::Integrate, exact_system);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let n = ctx.size as usize;
        let kernel = ExactKernel {
            rest_v: self.rest_v.to_vec(n),
            thresh_v: self.thresh_v.to_vec(n),
        };
        entity.insert((self, kernel));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spikes_on_positive_input_only() {
        let k = ExactKernel {
            rest_v: vec![-60.0; 4],
            thresh_v: vec![-40.0, -40.0, -40.0, -30.0],
        };
        let mut v = vec![0.0; 4];
        let mut s = Vec::new();
        exact_step(&k, &[0.0, 0.5, -1.0, 2.0], &mut v, &mut s);
        assert_eq!(s, vec![1, 3]);
        assert_eq!(v, vec![-60.0, -40.0, -60.0, -30.0]);
    }

    #[test]
    fn rest_must_be_below_threshold() {
        assert_eq!(
            Exact::new(-40.0, -60.0).validate(1).unwrap_err().param,
            "rest_v"
        );
    }
}
