//! Delta current synapse (`delta_current`): a spike injects its whole charge in one step.
//!
//! Inferno's `DeltaCurrent`: `I = s · Q / Δt` (a Dirac δ of charge Q approximated over one
//! step). The current a post neuron j receives is `Σᵢ wᵢⱼ sᵢ Q/Δt`.
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `spike_charge` | pC | charge Q per spike | `≠ 0` |

use bevy_ecs::prelude::*;
use ember_engine::DelayLine;
use ember_engine::delay::queue_copies;
use ember_engine::parallel::PARALLEL_MIN_ELEMENTS;
use ember_engine::prelude::*;
use ember_engine::{
    Connectivity, DeliveryBatch, ModelSystems, ParamError, ParamReader, PreSpikes, Projection,
    ProjectionCurrent, ProjectsFrom, Weights,
};

/// Delta-current synapse parameters.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct DeltaCurrent {
    /// Charge per spike, pC.
    pub spike_charge: f32,
}

/// What the system reads and writes of each projection.
type DeltaProjection<'a> = (
    &'a Projection,
    &'a ProjectsFrom,
    &'a Connectivity,
    &'a Weights,
    &'a DeltaCurrent,
    &'a mut ProjectionCurrent,
    Option<&'a mut DelayLine>,
);

/// The delta-synapse system ([`Phase::Synapses`]): `I_j = (Q/Δt) Σᵢ wᵢⱼ sᵢ` from the pre
/// population's previous-step spikes.
pub fn delta_current_system(
    clock: Res<Clock>,
    spikes: Query<&Spikes>,
    mut q: Query<DeltaProjection<'_>>,
) {
    let dt = clock.dt();
    let mut pre_spikes = PreSpikes::new(&spikes);
    // The projections without delays take their spikes in one parallel section.
    let mut batch = DeliveryBatch::new();
    let min = PARALLEL_MIN_ELEMENTS;
    let clear = |_: f32, _: usize, part: &mut [f32]| part.fill(0.0);
    for (proj, from, conn, w, syn, out, line) in &mut q {
        let pre = pre_spikes.get(from.0);
        let scale = syn.spike_charge / dt;
        let out = (&mut out.into_inner().0[..], proj.post_size as usize);
        let line = line.map(Mut::into_inner);
        queue_copies(
            &mut batch,
            conn,
            w,
            pre,
            line,
            scale,
            out,
            (0.0, min),
            clear,
        );
    }
    batch.run(min, clear);
}

impl SynapseModel for DeltaCurrent {
    const NAME: &'static str = "delta_current";
    const PARAMS: &'static [&'static str] = &["spike_charge"];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            spike_charge: p.required_scalar("spike_charge")?,
        })
    }

    fn validate(&self) -> Result<(), ParamError> {
        if !(self.spike_charge.is_finite() && self.spike_charge != 0.0) {
            return Err(ParamError::new(
                "spike_charge",
                format!(
                    "must be a finite non-zero charge (pC), got {}",
                    self.spike_charge
                ),
            ));
        }
        Ok(())
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_confined(Phase::Synapses, delta_current_system);
    }
}
