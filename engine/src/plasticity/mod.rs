//! Synaptic plasticity: learning rules on projections, run in
//! [`Phase::Plasticity`].
//!
//! | rule (`rule = …`) | type | reference |
//! |---|---|---|
//! | `stdp` | [`Stdp`] | pair STDP, cumulative or nearest traces (Inferno `STDP`) |
//! | `mstdp` | [`Mstdp`] | reward-modulated STDP (Inferno `MSTDP`, Florian 2007) |
//! | `mstdpet` | [`Mstdpet`] | reward-modulated STDP with eligibility traces (Inferno `MSTDPET`) |
//! | `triplet_stdp` | [`TripletStdp`] | Pfister–Gerstner triplet STDP (Inferno `TripletSTDP`) |
//! | `nearest_pair_stdp` | [`NearestPairStdp`] | nearest-pair exponential STDP (Sapicore `STDPSynapse`, without its phantom spike) |
//!
//! Every rule takes weight bounds ([`WeightBounds`]: hard clamping, or soft multiplicative /
//! power-law weight dependence with potentiation and depression bounded separately) and a
//! batch reduction ([`UpdateReduction`]). Attach one with
//! [`Simulation::add_plasticity`](crate::Simulation::add_plasticity), or from a scenario's
//! `plasticity = { rule = …, … }` through [`rule_from_spec`]. Modulated rules read the
//! [`Reward`] resource, settable with
//! [`Simulation::set_reward`](crate::Simulation::set_reward) or from a [`RewardSchedule`].
//!
//! # Design
//!
//! **Event-driven updates, traces per neuron.** A rule is a set of exponentially decaying
//! spike traces plus update terms evaluated only at spikes: when a post neuron spikes, the
//! synapses onto it (a column of the connectivity) get the post-triggered term from their
//! pre traces; when a pre spike arrives, the synapses of its row get the pre-triggered term
//! from the post traces. Traces are per *neuron* (and batch copy) whenever the rule allows,
//! so a step costs O(neurons) for the trace decay plus O(synapses touched by this step's
//! spikes); only MSTDPET's eligibility, which changes the weight every step while the
//! reward is non-zero, is per synapse and swept every step. A post → synapse index
//! (compressed sparse columns, 8 bytes per synapse) is built once when a rule is attached
//! to a sparse projection; dense, lateral and one-to-one projections compute their columns.
//! [`Plasticity`] documents the exact order of one step.
//!
//! **Arrival times.** The pre spike time a rule sees is the *arrival* of the spike at the
//! synapse (Inferno's `delayed = True`): a spike emitted in step e by the pre population
//! arrives in step e + 1 + D, D being the synapse's delay in steps. With one delay for the
//! whole projection every synapse of a pre neuron sees the same arrival, so the pre traces
//! stay per neuron; with delays that differ per synapse, each synapse keeps its own (lazily
//! decayed) pre trace.
//!
//! **Step mapping onto Inferno.** Inferno's trainers run after each call k of the layer,
//! and pair the spike *input to the connection in call k* (`connection.synspike`, the
//! presynaptic spike at the synapse) with the neuron's output spike of call k. In Ember the
//! post population's spikes of step k are in its `Spikes` when `Phase::Plasticity` runs in
//! step k, and a pre spike arrives in step e + 1 + D. So Ember step k *is* Inferno call k
//! for both sides, provided the Ember pre population emits one step (plus the delay)
//! earlier: an Inferno input spike at call k is an Ember pre spike at step k − 1 − D. With
//! that shift the weight after Ember step k equals the weight after Inferno call k (traces
//! K and L of `reference/INFERNO.md`: Inferno pre spikes at 10, 85, 115, 135 are Ember spike
//! source spikes at steps 9, 84, 114, 134; post spikes stay at 15, 75, 110, 140), and the
//! reward of Inferno call k is Ember's reward of step k (time k·Δt). This is the same
//! one-step shift as for synapse traces driven by a spike source (INFERNO.md, "Traces").
//!
//! **Batch.** Traces and eligibility are per batch copy; the weights are shared. Each
//! touched synapse gathers its terms over the copies, splits them into potentiation and
//! depression by sign (per copy, so a negative reward turns LTP into LTD), reduces each by
//! mean (STDP, triplet, nearest-pair) or sum (MSTDP, MSTDPET) — Inferno's defaults — and
//! applies them once, with the bounds evaluated at the weight before the step's update.
//!
//! **Train and eval.** Rules learn while the projection's *post* population is in
//! [`Mode::Train`](crate::Mode::Train) (Inferno trains a cell when the cell is in training
//! mode); in eval mode nothing is observed or changed.
//!
//! **Determinism.** The step runs on one thread in a fixed order (columns in spike order,
//! then rows), with per-synapse sums over batch copies in copy order: results do not
//! depend on the thread count.

mod bounds;
mod nearest_pair;
mod reward;
mod spec;
mod state;
mod stdp;
mod traces;
mod triplet;

#[cfg(test)]
mod tests;

use bevy_ecs::prelude::*;
use serde::{Deserialize, Serialize};

pub use bounds::{Bounding, WeightBounds};
pub use nearest_pair::NearestPairStdp;
pub use reward::{Reward, RewardSchedule, reward_schedule, update_reward};
pub use spec::rule_from_spec;
pub use state::{Plasticity, plasticity_system};
pub use stdp::{Mstdp, Mstdpet, Stdp, TraceMode};
pub use triplet::TripletStdp;

use crate::delay::Delays;
use crate::error::{BuildError, BuildErrorKind};
use crate::phase::Phase;
use crate::projection::{
    Connectivity, Projection, ProjectionId, ProjectsFrom, ProjectsTo, Weights,
};
use crate::simulation::Simulation;
use crate::value::Param;

/// How the updates of the batch copies are combined into the shared weight change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateReduction {
    /// Mean over the B copies (Inferno's default for STDP, triplet STDP).
    Mean,
    /// Sum over the copies (Inferno's default for MSTDP, MSTDPET).
    Sum,
}

/// A learning rule and its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum LearningRule {
    /// Pair STDP (`stdp`).
    Stdp(Stdp),
    /// Reward-modulated STDP (`mstdp`).
    Mstdp(Mstdp),
    /// Reward-modulated STDP with eligibility traces (`mstdpet`).
    Mstdpet(Mstdpet),
    /// Triplet STDP (`triplet_stdp`).
    TripletStdp(TripletStdp),
    /// Nearest-pair exponential STDP (`nearest_pair_stdp`).
    NearestPairStdp(NearestPairStdp),
}

impl LearningRule {
    /// The scenario name of the rule.
    pub fn name(&self) -> &'static str {
        match self {
            LearningRule::Stdp(_) => "stdp",
            LearningRule::Mstdp(_) => "mstdp",
            LearningRule::Mstdpet(_) => "mstdpet",
            LearningRule::TripletStdp(_) => "triplet_stdp",
            LearningRule::NearestPairStdp(_) => "nearest_pair_stdp",
        }
    }

    /// Inferno's default batch reduction: sum for the modulated rules, mean otherwise.
    pub fn default_reduction(&self) -> UpdateReduction {
        match self {
            LearningRule::Mstdp(_) | LearningRule::Mstdpet(_) => UpdateReduction::Sum,
            _ => UpdateReduction::Mean,
        }
    }

    /// Whether the rule reads the [`Reward`].
    pub fn is_modulated(&self) -> bool {
        matches!(self, LearningRule::Mstdp(_) | LearningRule::Mstdpet(_))
    }
}

impl From<Stdp> for LearningRule {
    fn from(r: Stdp) -> Self {
        LearningRule::Stdp(r)
    }
}

impl From<Mstdp> for LearningRule {
    fn from(r: Mstdp) -> Self {
        LearningRule::Mstdp(r)
    }
}

impl From<Mstdpet> for LearningRule {
    fn from(r: Mstdpet) -> Self {
        LearningRule::Mstdpet(r)
    }
}

impl From<TripletStdp> for LearningRule {
    fn from(r: TripletStdp) -> Self {
        LearningRule::TripletStdp(r)
    }
}

impl From<NearestPairStdp> for LearningRule {
    fn from(r: NearestPairStdp) -> Self {
        LearningRule::NearestPairStdp(r)
    }
}

/// A plasticity rule as attached to a projection: the learning rule, the weight bounds and
/// the batch reduction.
///
/// ```
/// use ember_engine::plasticity::{PlasticityRule, Stdp, WeightBounds};
/// let rule = PlasticityRule::new(Stdp::new(0.01, -0.012, 20.0, 20.0))
///     .with_bounds(WeightBounds::soft(Some(0.0), Some(1.0), 1.0, 1.0));
/// assert!(rule.validate("plasticity").is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlasticityRule {
    /// The learning rule.
    pub learning: LearningRule,
    /// Weight bounds and weight dependence.
    pub bounds: WeightBounds,
    /// Batch reduction; `None`: the rule's default ([`LearningRule::default_reduction`]).
    pub reduction: Option<UpdateReduction>,
}

impl PlasticityRule {
    /// `learning` without bounds and with its default batch reduction.
    pub fn new(learning: impl Into<LearningRule>) -> Self {
        Self {
            learning: learning.into(),
            bounds: WeightBounds::NONE,
            reduction: None,
        }
    }

    /// The same rule with `bounds`.
    pub fn with_bounds(self, bounds: WeightBounds) -> Self {
        Self { bounds, ..self }
    }

    /// The same rule with batch reduction `reduction`.
    pub fn with_reduction(self, reduction: UpdateReduction) -> Self {
        Self {
            reduction: Some(reduction),
            ..self
        }
    }

    /// Checks every parameter; errors name `path.<field>` (scenario field names).
    ///
    /// Rules: learning rates and amplitudes finite; time constants finite and > 0 ms;
    /// `scale` ≥ 0; triplet: `lr_post_pair ≠ 0`, `lr_pre_pair ≠ 0`, `tc_post_slow >
    /// tc_post_fast`, `tc_pre_slow > tc_pre_fast` (Inferno's); nearest-pair amplitudes
    /// ≥ 0; bounds finite with `weight_min ≤ weight_max`; soft bounding needs at least one
    /// bound and exponents `mu_plus`, `mu_minus` finite and ≥ 0.
    pub fn validate(&self, path: &str) -> Result<(), BuildError> {
        let at = |field: &str| format!("{path}.{field}");
        let finite = |field: &str, v: f32| -> Result<(), BuildError> {
            if v.is_finite() {
                Ok(())
            } else {
                Err(BuildError::invalid(
                    at(field),
                    format!("expected a finite number, got {v}"),
                ))
            }
        };
        let time = |field: &str, v: f32| -> Result<(), BuildError> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(BuildError::invalid(
                    at(field),
                    format!("expected a time constant > 0 ms, got {v}"),
                ))
            }
        };
        let non_negative = |field: &str, v: f32| -> Result<(), BuildError> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(BuildError::invalid(
                    at(field),
                    format!("expected a finite number ≥ 0, got {v}"),
                ))
            }
        };
        let stdp = |s: &Stdp| -> Result<(), BuildError> {
            finite("lr_post", s.lr_post)?;
            finite("lr_pre", s.lr_pre)?;
            time("tc_post", s.tc_post)?;
            time("tc_pre", s.tc_pre)
        };
        match &self.learning {
            LearningRule::Stdp(s) => stdp(s)?,
            LearningRule::Mstdp(m) => {
                stdp(&m.stdp)?;
                non_negative("scale", m.scale)?;
            }
            LearningRule::Mstdpet(m) => {
                stdp(&m.stdp)?;
                time("tc_eligibility", m.tc_eligibility)?;
                non_negative("scale", m.scale)?;
            }
            LearningRule::TripletStdp(t) => {
                for (field, v) in [
                    ("lr_post_pair", t.lr_post_pair),
                    ("lr_pre_pair", t.lr_pre_pair),
                ] {
                    finite(field, v)?;
                    if v == 0.0 {
                        return Err(BuildError::invalid(
                            at(field),
                            "expected a non-zero learning rate (the triplet trace amplitude \
                             is divided by it)",
                        ));
                    }
                }
                finite("lr_post_triplet", t.lr_post_triplet)?;
                finite("lr_pre_triplet", t.lr_pre_triplet)?;
                time("tc_post_fast", t.tc_post_fast)?;
                time("tc_pre_fast", t.tc_pre_fast)?;
                time("tc_post_slow", t.tc_post_slow)?;
                time("tc_pre_slow", t.tc_pre_slow)?;
                for (slow, fast, s, f) in [
                    (
                        "tc_post_slow",
                        "tc_post_fast",
                        t.tc_post_slow,
                        t.tc_post_fast,
                    ),
                    ("tc_pre_slow", "tc_pre_fast", t.tc_pre_slow, t.tc_pre_fast),
                ] {
                    if s <= f {
                        return Err(BuildError::invalid(
                            at(slow),
                            format!("expected a time constant > `{fast}` ({f} ms), got {s}"),
                        ));
                    }
                }
            }
            LearningRule::NearestPairStdp(n) => {
                non_negative("alpha_plus", n.alpha_plus)?;
                non_negative("alpha_minus", n.alpha_minus)?;
                time("tau_plus", n.tau_plus)?;
                time("tau_minus", n.tau_minus)?;
            }
        }
        let b = &self.bounds;
        if let Some(min) = b.min {
            finite("weight_min", min)?;
        }
        if let Some(max) = b.max {
            finite("weight_max", max)?;
        }
        if let (Some(min), Some(max)) = (b.min, b.max)
            && min > max
        {
            return Err(BuildError::invalid(
                at("weight_min"),
                format!("expected weight_min ≤ weight_max ({max}), got {min}"),
            ));
        }
        if let Bounding::Soft { mu_plus, mu_minus } = b.bounding {
            if b.min.is_none() && b.max.is_none() {
                return Err(BuildError::invalid(
                    at("bounding"),
                    "soft bounding scales updates by the distance to a bound: give \
                     weight_min, weight_max or both",
                ));
            }
            non_negative("mu_plus", mu_plus)?;
            non_negative("mu_minus", mu_minus)?;
        }
        Ok(())
    }
}

/// Marks that the plasticity systems are in the step schedule.
#[derive(Resource)]
struct PlasticityInstalled;

/// Learning rules and the reward signal.
impl Simulation {
    /// Attaches `rule` to projection `proj`: its weights become one per synapse (a shared
    /// weight is copied to every synapse) and learn in every train-mode step from then on.
    ///
    /// Errors (at `projection "<name>".plasticity…`): an invalid rule
    /// ([`PlasticityRule::validate`]), an initial weight outside `[weight_min, weight_max]`,
    /// a projection that already has a rule, or an entity that is not a projection.
    /// Attach the rule after [`Simulation::set_delays`]: delays changed later still work
    /// but drop the arrivals in flight at that moment.
    pub fn add_plasticity(
        &mut self,
        proj: ProjectionId,
        rule: PlasticityRule,
    ) -> Result<(), BuildError> {
        let name = self
            .world()
            .get::<Name>(proj.0)
            .map_or_else(|| format!("{:?}", proj.0), |n| n.as_str().to_owned());
        let path = format!("projection \"{name}\".plasticity");
        self.add_plasticity_at(&path, proj, rule)
    }

    /// [`Simulation::add_plasticity`] with errors at `path` (a scenario's
    /// `projection[i].plasticity`).
    pub(crate) fn add_plasticity_at(
        &mut self,
        path: &str,
        proj: ProjectionId,
        rule: PlasticityRule,
    ) -> Result<(), BuildError> {
        rule.validate(path)?;
        let dt = self.config().step_time;
        let state = {
            let entity = self.world().get_entity(proj.0).map_err(|_| {
                BuildError::invalid(path, format!("{:?} is not a projection", proj.0))
            })?;
            let (Some(shape), Some(conn), Some(weights), Some(_), Some(_)) = (
                entity.get::<Projection>(),
                entity.get::<Connectivity>(),
                entity.get::<Weights>(),
                entity.get::<ProjectsFrom>(),
                entity.get::<ProjectsTo>(),
            ) else {
                return Err(BuildError::invalid(
                    path,
                    format!("{:?} is not a projection", proj.0),
                ));
            };
            if entity.contains::<Plasticity>() {
                return Err(BuildError::invalid(
                    path,
                    "the projection already has a plasticity rule (one rule per projection)",
                ));
            }
            if u32::try_from(conn.len()).is_err() {
                return Err(BuildError::new(
                    path,
                    BuildErrorKind::Unsupported(format!(
                        "plasticity on a projection of {} synapses (more than 2³² − 1)",
                        conn.len()
                    )),
                ));
            }
            let b = bounds::Bounds::new(&rule.bounds);
            if let Some((s, w)) = weights
                .0
                .values()
                .iter()
                .enumerate()
                .find(|(_, w)| !b.contains(**w))
            {
                let field = match rule.bounds.min {
                    Some(min) if *w < min => "weight_min",
                    _ => "weight_max",
                };
                let synapse = if weights.0.as_scalar().is_some() {
                    "the projection's weight".to_owned()
                } else {
                    format!("the weight of synapse {s}")
                };
                return Err(BuildError::invalid(
                    format!("{path}.{field}"),
                    format!("{synapse} ({w}) is outside [weight_min, weight_max]"),
                ));
            }
            Plasticity::new(
                rule,
                conn,
                shape.pre_size as usize,
                shape.post_size as usize,
                shape.batch as usize,
                entity.get::<Delays>(),
                dt,
            )
        };
        let mut entity = self.world_mut().entity_mut(proj.0);
        let n = entity.get::<Connectivity>().map_or(0, Connectivity::len);
        if let Some(mut weights) = entity.get_mut::<Weights>()
            && let Param::Scalar(w) = weights.0
        {
            weights.0 = Param::PerElement(vec![w; n]);
        }
        entity.insert(state);
        self.install_plasticity();
        Ok(())
    }

    /// Adds the reward and learning systems to [`Phase::Plasticity`] (once) and makes sure
    /// the [`Reward`] resource exists.
    fn install_plasticity(&mut self) {
        let batch = self.config().batch_size as usize;
        if !self.world().contains_resource::<Reward>() {
            self.world_mut().insert_resource(Reward(vec![0.0; batch]));
        }
        if !self.world().contains_resource::<PlasticityInstalled>() {
            self.world_mut().insert_resource(PlasticityInstalled);
            self.add_systems_in(
                Phase::Plasticity,
                (update_reward, plasticity_system).chain(),
            );
        }
    }

    /// Sets the reward M of every batch copy for the coming steps (dimensionless; read by
    /// `mstdp` and `mstdpet`). A [`RewardSchedule`], if set, overrides it at the next step.
    pub fn set_reward(&mut self, reward: f32) {
        let batch = self.config().batch_size as usize;
        self.world_mut()
            .insert_resource(Reward(vec![reward; batch]));
    }

    /// Sets the reward of each batch copy (`rewards.len()` must be the batch size).
    pub fn set_reward_per_copy(&mut self, rewards: &[f32]) -> Result<(), BuildError> {
        let batch = self.config().batch_size as usize;
        if rewards.len() != batch {
            return Err(BuildError::invalid(
                "reward",
                format!(
                    "expected {batch} values (one per batch copy), got {}",
                    rewards.len()
                ),
            ));
        }
        self.world_mut().insert_resource(Reward(rewards.to_vec()));
        Ok(())
    }

    /// The current reward of each batch copy.
    pub fn reward(&self) -> &[f32] {
        self.world().get_resource::<Reward>().map_or(&[], |r| &r.0)
    }

    /// Drives the reward from `schedule` (e.g. [`reward_schedule`] of a scenario's
    /// `reward`): from now on every step's reward is the schedule's value for that step.
    pub fn set_reward_schedule(&mut self, schedule: RewardSchedule) {
        self.world_mut().insert_resource(schedule);
        self.install_plasticity();
    }

    /// The learning state of projection `proj`, if it has a rule.
    pub fn plasticity(&self, proj: ProjectionId) -> Option<&Plasticity> {
        self.world().get::<Plasticity>(proj.0)
    }

    /// Forgets every plastic projection's traces, eligibility and in-flight arrivals
    /// (weights are kept), like Inferno's trainer `clear()`. Meant to accompany
    /// [`Simulation::clear`].
    pub fn reset_plasticity(&mut self) {
        let mut q = self.world_mut().query::<&mut Plasticity>();
        for mut p in q.iter_mut(self.world_mut()) {
            p.reset();
        }
    }
}
