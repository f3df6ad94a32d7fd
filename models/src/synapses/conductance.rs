//! Single exponential conductance synapse (`single_exponential_conductance`), beyond Inferno
//! (whose synapses are all current-based).
//!
//! Conductance-based (COBA) synapses as in the COBA benchmark (Brette et al. 2007,
//! benchmark 1): each spike raises the synaptic conductance by the synapse's weight, the
//! conductance decays exactly with time constant τ, and the current into the post neuron is
//! driven by the distance of its voltage from the reversal potential:
//!
//! ```text
//! g_j(t + Δt) = g_j(t)·exp(−Δt/τ) + Σᵢ wᵢⱼ sᵢ(t)
//! I_j(t + Δt) = g_j(t + Δt)·(E_rev − V_j(t))
//! ```
//!
//! **Units.** The weight `w` is the conductance increment per spike in **µS** (not a
//! dimensionless multiplier as for the current synapses; there is no `spike_charge`), `g` is
//! in µS, voltages in mV, so `I = g·(E_rev − V)` is in µS·mV = **nA**, the unit of every
//! synaptic current in Ember. For example Brette et al.'s COBA excitatory synapse
//! (Δg = 6 nS, τ = 5 ms, E = 0 mV) is `weight = 0.006`, `time_constant = 5`, `reversal_v = 0`.
//!
//! **Coupling.** `V_j(t)` is the post population's `Voltage` at the start of the step, i.e.
//! after the previous step (this system runs in [`Phase::Synapses`], before neuron models
//! integrate in [`Phase::Integrate`]). The neuron then integrates its membrane with this
//! current held constant over the step. This is the standard explicit (operator-splitting)
//! coupling — the one Brian2 uses for the COBA benchmark with Euler integration, where `g`
//! and the driving force `E_rev − V` are taken at the start of the step and held over it; it
//! is first-order accurate in Δt in the coupling (the membrane itself may still be
//! integrated exactly for the held current, as `lif` does). For a LIF neuron the voltage moves towards the reversal potential and, with a
//! constant conductance, settles at `(V_rest + R g E_rev)/(1 + R g)` — exactly, also for the
//! discrete map.
//!
//! Per post neuron j the projection keeps `g_j = Σᵢ wᵢⱼ gᵢⱼ` ([`SynapticConductance`],
//! batch-major like population state); `ProjectionCurrent` holds `I_j` after the step.
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `time_constant` | ms | decay time constant τ of the conductance | `> 0` |
//! | `reversal_v` | mV | reversal potential E_rev | finite |
//! | (projection `weight`) | µS | conductance increment per spike | finite |
//!
//! References: R. Brette et al., "Simulation of networks of spiking neurons: a review of
//! tools and strategies", J. Comput. Neurosci. 23:349–398 (2007), benchmark 1 (COBA), and
//! its Brian2 implementation.

use bevy_ecs::prelude::*;
use ember_engine::DelayLine;
use ember_engine::delay::deliver_copy_between;
use ember_engine::model::ClearHook;
use ember_engine::parallel::PARALLEL_MIN_ELEMENTS;
use ember_engine::prelude::*;
use ember_engine::{
    Connectivity, ModelSystems, ParamError, ParamReader, PreSpikes, Projection, ProjectionCurrent,
    ProjectsFrom, ProjectsTo, SpawnContext, Weights,
};

/// Single-exponential conductance synapse parameters.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct SingleExponentialConductance {
    /// Decay time constant τ of the conductance, ms.
    pub time_constant: f32,
    /// Reversal potential E_rev, mV.
    pub reversal_v: f32,
}

/// Precomputed `exp(−Δt/τ)` of a conductance projection.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct ConductanceDecay(pub f32);

/// The synaptic conductance onto each post neuron, µS, batch-major (`post_size × batch`).
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct SynapticConductance(pub Vec<f32>);

/// One step of one batch copy: `drive` holds the weighted spike sums (µS) on entry and the
/// current `g·(E_rev − V)` (nA) on return; `v` is the post voltage at the start of the step.
#[inline]
pub fn conductance_step(decay: f32, reversal_v: f32, g: &mut [f32], v: &[f32], drive: &mut [f32]) {
    for ((g, &v), x) in g.iter_mut().zip(v).zip(drive.iter_mut()) {
        *g = *g * decay + *x;
        *x = *g * (reversal_v - v);
    }
}

/// What [`single_exponential_conductance_system`] reads and writes of each projection.
type ConductanceProjection<'a> = (
    &'a Projection,
    &'a ProjectsFrom,
    &'a ProjectsTo,
    &'a Connectivity,
    &'a Weights,
    &'a SingleExponentialConductance,
    &'a ConductanceDecay,
    &'a mut SynapticConductance,
    &'a mut ProjectionCurrent,
    Option<&'a mut DelayLine>,
);

/// The conductance system ([`Phase::Synapses`]): delivers the pre population's previous-step
/// spikes, advances the conductances and writes `g·(E_rev − V)` into `ProjectionCurrent`,
/// reading the post population's `Voltage` (written only later, in [`Phase::Integrate`]).
/// On a thread team each thread does all three for its own range of post neurons, in one
/// section ([`deliver_copy_between`]), so the arrays stay in that thread's cache for the
/// neuron pass that follows.
pub fn single_exponential_conductance_system(
    spikes: Query<&Spikes>,
    voltages: Query<&Voltage>,
    mut q: Query<ConductanceProjection<'_>>,
) {
    let mut pre_spikes = PreSpikes::new(&spikes);
    for (proj, from, to, conn, w, syn, decay, mut g, mut out, mut line) in &mut q {
        let post = proj.post_size as usize;
        let Ok(v) = voltages.get(to.0) else {
            continue;
        };
        debug_assert_eq!(v.0.len(), out.0.len());
        let pre = pre_spikes.get(from.0);
        let (decay, reversal_v) = (decay.0, syn.reversal_v);
        for (b, ((drive, g), v)) in out
            .0
            .chunks_exact_mut(post)
            .zip(g.0.chunks_exact_mut(post))
            .zip(v.0.chunks_exact(post))
            .enumerate()
        {
            // Per part of the post range, on one thread: clear the drive, deliver Σ w
            // into it, then decay g, add the drive and compute the current.
            deliver_copy_between(
                conn,
                w,
                pre,
                line.as_deref_mut(),
                b,
                1.0,
                drive,
                (g, v),
                PARALLEL_MIN_ELEMENTS,
                |_, drive| drive.fill(0.0),
                |_, drive, (g, v)| conductance_step(decay, reversal_v, g, v, drive),
            );
        }
    }
}

fn clear_state(entity: &mut EntityWorldMut<'_>, _keep_adaptations: bool) {
    if let Some(mut g) = entity.get_mut::<SynapticConductance>() {
        g.0.fill(0.0);
    }
}

impl SynapseModel for SingleExponentialConductance {
    const NAME: &'static str = "single_exponential_conductance";
    const PARAMS: &'static [&'static str] = &["time_constant", "reversal_v"];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            time_constant: p.required_scalar("time_constant")?,
            reversal_v: p.required_scalar("reversal_v")?,
        })
    }

    fn validate(&self) -> Result<(), ParamError> {
        if !(self.time_constant.is_finite() && self.time_constant > 0.0) {
            return Err(ParamError::new(
                "time_constant",
                format!("must be > 0 ms, got {}", self.time_constant),
            ));
        }
        if !self.reversal_v.is_finite() {
            return Err(ParamError::new(
                "reversal_v",
                format!("must be a finite voltage (mV), got {}", self.reversal_v),
            ));
        }
        Ok(())
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_confined(Phase::Synapses, single_exponential_conductance_system);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let len = ctx.size as usize * ctx.batch as usize;
        let decay = (-ctx.step_time / self.time_constant).exp();
        entity.insert((
            self,
            ConductanceDecay(decay),
            SynapticConductance(vec![0.0; len]),
            ClearHook(clear_state),
        ));
    }
}
