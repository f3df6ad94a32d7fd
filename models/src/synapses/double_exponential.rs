//! Double exponential current synapse (`double_exponential_current`).
//!
//! Inferno's `DoubleExponentialCurrent`: the current is the difference of a slow (decay) and
//! a fast (rise) exponential, both kicked by the same amount `Q/(τ_d − τ_r)` per spike and
//! each decaying exactly with its own time constant:
//!
//! ```text
//! I_d(t + Δt) = I_d(t)·exp(−Δt/τ_d) + Q/(τ_d − τ_r)·s(t)
//! I_r(t + Δt) = I_r(t)·exp(−Δt/τ_r) + Q/(τ_d − τ_r)·s(t)
//! I = I_d − I_r
//! ```
//!
//! A spike's current `Q/(τ_d − τ_r)·(e^{−t/τ_d} − e^{−t/τ_r})` starts at 0, peaks at
//! `t_peak = τ_d τ_r/(τ_d − τ_r)·ln(τ_d/τ_r)` and integrates to Q (pC) over time. In the step
//! a spike arrives both components grow by the same amount, so the current is still exactly 0
//! then (INFERNO.md trace H).
//!
//! Per post neuron j the projection keeps `I_d,j = Σᵢ wᵢⱼ I_d,ij` and `I_r,j = Σᵢ wᵢⱼ I_r,ij`
//! ([`DoubleExponentialState`], batch-major like population state), both driven by the
//! weighted spike sum `Σᵢ wᵢⱼ sᵢ`; `ProjectionCurrent` holds `I_d − I_r` after the step.
//! Weights are dimensionless multipliers of the charge.
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `spike_charge` | pC | charge Q per spike | finite, `≠ 0` |
//! | `tc_rise` | ms | rise time constant τ_r | `> 0` |
//! | `tc_decay` | ms | decay time constant τ_d | `> tc_rise` |
//!
//! Reference: Inferno `inferno/neural/synapses/expcurrent.py` (`DoubleExponentialCurrent`),
//! INFERNO.md §1.5; the zoo page `docs/zoo/synapses-current.md`.

use bevy_ecs::prelude::*;
use ember_engine::DelayLine;
use ember_engine::delay::deliver_copy_between;
use ember_engine::model::ClearHook;
use ember_engine::parallel::PARALLEL_MIN_ELEMENTS;
use ember_engine::prelude::*;
use ember_engine::{
    Connectivity, ModelSystems, ParamError, ParamReader, PreSpikes, Projection, ProjectionCurrent,
    ProjectsFrom, SpawnContext, Weights,
};

/// Double-exponential synapse parameters.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct DoubleExponentialCurrent {
    /// Charge per spike, pC.
    pub spike_charge: f32,
    /// Rise time constant τ_r, ms.
    pub tc_rise: f32,
    /// Decay time constant τ_d, ms (`> tc_rise`).
    pub tc_decay: f32,
}

/// Precomputed per-Δt coefficients of a double-exponential projection.
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct DoubleExponentialDecay {
    /// `exp(−Δt/τ_d)`.
    pub decay: f32,
    /// `exp(−Δt/τ_r)`.
    pub rise: f32,
    /// `Q/(τ_d − τ_r)`, nA per unit weighted spike.
    pub kick: f32,
}

/// The two per-post-neuron components of a double-exponential projection, nA, batch-major
/// (`post_size × batch`). The delivered current is `decay − rise`.
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct DoubleExponentialState {
    /// `I_d` (decays with τ_d; Inferno's `pos_current`).
    pub decay: Vec<f32>,
    /// `I_r` (decays with τ_r; Inferno's `neg_current`).
    pub rise: Vec<f32>,
}

/// One step of one batch copy: `drive` holds the weighted spike sums scaled by
/// `Q/(τ_d − τ_r)` on entry and the current `I_d − I_r` on return.
#[inline]
pub fn double_exponential_step(
    k: &DoubleExponentialDecay,
    i_d: &mut [f32],
    i_r: &mut [f32],
    drive: &mut [f32],
) {
    for ((d, r), x) in i_d.iter_mut().zip(i_r.iter_mut()).zip(drive.iter_mut()) {
        *d = *d * k.decay + *x;
        *r = *r * k.rise + *x;
        *x = *d - *r;
    }
}

/// What the system reads and writes of each projection.
type DoubleExponentialProjection<'a> = (
    &'a Projection,
    &'a ProjectsFrom,
    &'a Connectivity,
    &'a Weights,
    &'a DoubleExponentialDecay,
    &'a mut DoubleExponentialState,
    &'a mut ProjectionCurrent,
    Option<&'a mut DelayLine>,
);

/// The double-exponential system ([`Phase::Synapses`]): delivers the pre population's
/// previous-step spikes into `ProjectionCurrent` (used as scratch), then advances both
/// components and writes the current. On a thread team each thread does all of it for its
/// own range of post neurons, in one section ([`deliver_copy_between`]).
pub fn double_exponential_current_system(
    spikes: Query<&Spikes>,
    mut q: Query<DoubleExponentialProjection<'_>>,
) {
    let mut pre_spikes = PreSpikes::new(&spikes);
    for (proj, from, conn, w, k, mut state, mut out, mut line) in &mut q {
        let post = proj.post_size as usize;
        let state = &mut *state;
        let pre = pre_spikes.get(from.0);
        for (b, ((drive, i_d), i_r)) in out
            .0
            .chunks_exact_mut(post)
            .zip(state.decay.chunks_exact_mut(post))
            .zip(state.rise.chunks_exact_mut(post))
            .enumerate()
        {
            deliver_copy_between(
                conn,
                w,
                pre,
                line.as_deref_mut(),
                b,
                k.kick,
                drive,
                (i_d, i_r),
                PARALLEL_MIN_ELEMENTS,
                |_, drive| drive.fill(0.0),
                |_, drive, (i_d, i_r)| double_exponential_step(k, i_d, i_r, drive),
            );
        }
    }
}

fn clear_state(entity: &mut EntityWorldMut<'_>, _keep_adaptations: bool) {
    if let Some(mut s) = entity.get_mut::<DoubleExponentialState>() {
        s.decay.fill(0.0);
        s.rise.fill(0.0);
    }
}

impl SynapseModel for DoubleExponentialCurrent {
    const NAME: &'static str = "double_exponential_current";
    const PARAMS: &'static [&'static str] = &["spike_charge", "tc_rise", "tc_decay"];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            spike_charge: p.required_scalar("spike_charge")?,
            tc_rise: p.required_scalar("tc_rise")?,
            tc_decay: p.required_scalar("tc_decay")?,
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
        if !(self.tc_rise.is_finite() && self.tc_rise > 0.0) {
            return Err(ParamError::new(
                "tc_rise",
                format!("must be > 0 ms, got {}", self.tc_rise),
            ));
        }
        if !(self.tc_decay.is_finite() && self.tc_decay > self.tc_rise) {
            return Err(ParamError::new(
                "tc_decay",
                format!(
                    "must be finite and > tc_rise ({} ms), got {}",
                    self.tc_rise, self.tc_decay
                ),
            ));
        }
        Ok(())
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_confined(Phase::Synapses, double_exponential_current_system);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let len = ctx.size as usize * ctx.batch as usize;
        let k = DoubleExponentialDecay {
            decay: (-ctx.step_time / self.tc_decay).exp(),
            rise: (-ctx.step_time / self.tc_rise).exp(),
            kick: self.spike_charge / (self.tc_decay - self.tc_rise),
        };
        entity.insert((
            self,
            k,
            DoubleExponentialState {
                decay: vec![0.0; len],
                rise: vec![0.0; len],
            },
            ClearHook(clear_state),
        ));
    }
}
