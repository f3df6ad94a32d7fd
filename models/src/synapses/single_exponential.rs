//! Single exponential current synapse (`single_exponential_current`).
//!
//! Inferno's `SingleExponentialCurrent`: each spike adds `Q/τ` and the current decays
//! exactly with time constant τ:
//!
//! `I(t + Δt) = I(t)·exp(−Δt/τ) + (Q/τ)·s(t)`,
//!
//! so a spike's current integrates to Q (pC) over time. Per post neuron j the projection
//! keeps `Iⱼ = Σᵢ wᵢⱼ Iᵢⱼ`, updated as `Iⱼ ← Iⱼ·exp(−Δt/τ) + (Q/τ) Σᵢ wᵢⱼ sᵢ`.
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `spike_charge` | pC | charge Q per spike | `≠ 0` |
//! | `time_constant` | ms | decay time constant τ | `> 0` |
//!
//! Both are read at spawn into a [`DecayingCurrent`] (`decay = exp(−Δt/τ)`, `scale = Q/τ`).
//! Where the post population's `lif` pass can run this update itself, in its own parallel
//! section, it does ([`ember_engine::pull`]; bit-identical, one section less per step),
//! and this system leaves those projections ([`Pulled`]) alone. Where that pass can only
//! carry the decay ([`CarriedDecay`]: it stores `Iⱼ·exp(−Δt/τ)` while it reads `Iⱼ`), this
//! system skips the decay sweep of the step after and only delivers.

use bevy_ecs::prelude::*;
use ember_engine::DelayLine;
use ember_engine::delay::queue_copies;
use ember_engine::parallel::PARALLEL_MIN_ELEMENTS;
use ember_engine::prelude::*;
use ember_engine::{
    CarriedDecay, Connectivity, DecayingCurrent, DeliveryBatch, ModelSystems, ParamError,
    ParamReader, PreSpikes, Projection, ProjectionCurrent, ProjectsFrom, Pulled, SpawnContext,
    Weights,
};

/// Single-exponential synapse parameters.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct SingleExponentialCurrent {
    /// Charge per spike, pC.
    pub spike_charge: f32,
    /// Decay time constant, ms.
    pub time_constant: f32,
}

/// What the system reads and writes of each projection.
type SingleExponentialProjection<'a> = (
    &'a Projection,
    &'a ProjectsFrom,
    &'a Connectivity,
    &'a Weights,
    &'a DecayingCurrent,
    &'a mut ProjectionCurrent,
    Option<&'a mut DelayLine>,
    Option<&'a mut CarriedDecay>,
);

/// The single-exponential system ([`Phase::Synapses`]), for the projections that are not
/// [`Pulled`] into their post population's neuron pass.
pub fn single_exponential_current_system(
    spikes: Query<&Spikes>,
    mut q: Query<
        SingleExponentialProjection<'_>,
        (With<SingleExponentialCurrent>, Without<Pulled>),
    >,
) {
    let mut pre_spikes = PreSpikes::new(&spikes);
    // The projections without delays decay and take their spikes in one parallel section.
    let mut batch = DeliveryBatch::new();
    let min = PARALLEL_MIN_ELEMENTS;
    // A factor of exactly 1 leaves every value as it is, so it stands for "no decay":
    // the decay a carried projection already holds.
    let decay_by = |decay: f32, _: usize, part: &mut [f32]| {
        if decay != 1.0 {
            part.iter_mut().for_each(|i| *i *= decay);
        }
    };
    for (proj, from, conn, w, current, out, line, carried) in &mut q {
        let pre = pre_spikes.get(from.0);
        let scale = current.scale;
        let out = (&mut out.into_inner().0[..], proj.post_size as usize);
        let line = line.map(Mut::into_inner);
        // Carried decay: the post population's pass of the last step decayed the current.
        let ahead = match carried {
            Some(mut c) if c.ahead => {
                c.ahead = false;
                true
            }
            _ => false,
        };
        let decay = if ahead { 1.0 } else { current.decay };
        queue_copies(
            &mut batch,
            conn,
            w,
            pre,
            line,
            scale,
            out,
            (decay, min),
            decay_by,
        );
    }
    batch.run(min, decay_by);
}

impl SynapseModel for SingleExponentialCurrent {
    const NAME: &'static str = "single_exponential_current";
    const PARAMS: &'static [&'static str] = &["spike_charge", "time_constant"];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            spike_charge: p.required_scalar("spike_charge")?,
            time_constant: p.required_scalar("time_constant")?,
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
        if !(self.time_constant.is_finite() && self.time_constant > 0.0) {
            return Err(ParamError::new(
                "time_constant",
                format!("must be > 0 ms, got {}", self.time_constant),
            ));
        }
        Ok(())
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_confined(Phase::Synapses, single_exponential_current_system);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let current = DecayingCurrent {
            decay: (-ctx.step_time / self.time_constant).exp(),
            scale: self.spike_charge / self.time_constant,
        };
        entity.insert((self, current));
    }
}
