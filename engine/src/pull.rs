//! Pulled delivery: a neuron pass that decays and delivers its incoming currents itself.
//!
//! A step of a current-based network normally makes two passes over every post population:
//! the synapse model's (`Phase::Synapses`: decay the projection currents, add the spikes'
//! weights) and the neuron model's (`Phase::Integrate`: sum the currents into the input,
//! integrate, threshold). On a thread team each pass is one parallel section, and each
//! section waits for its slowest share; the two passes are often slow on different threads
//! (delivery follows where the spikes land, integration where the neurons are), so those
//! waits add up instead of evening out. When nobody can tell the difference, the neuron
//! pass instead *pulls* the synapse pass into its own section: each share decays its range
//! of the currents, delivers into it, and integrates it, while it is in cache.
//!
//! A projection is **pulled** ([`Pulled`], set by
//! [`Simulation::initialize`](crate::Simulation::initialize) before every run) when
//!
//! - its synapse model's update is `Iⱼ ← Iⱼ·decay + scale·Σᵢ wᵢⱼ sᵢ` ([`DecayingCurrent`])
//!   and it has no delays;
//! - its pre and post populations are both updated by a neuron pass that can pull
//!   ([`PullsDelivery`]; that pass keeps the spike lists of the previous step for it), with
//!   one batch copy;
//! - the post population sums its currents inside its pass (`FusedAggregation` with the
//!   `Sum` rule), every one of its incoming projections can be pulled, and there are at
//!   most [`PullsDelivery::max_incoming`];
//! - its rows can be cut by post range (every rule except `pairs`);
//! - the simulation runs on more than one thread and some population is large enough for
//!   the team to cut its neuron pass (`PARALLEL_MIN_ELEMENTS` neurons): otherwise there is
//!   no section to save, and pulling measured 0–5 % *slower* on one thread and 8–11 %
//!   slower on a team of small populations (CUBA 4 000), so such a run keeps the two passes
//!   (but carries the decay, below);
//! - and no system the engine cannot vouch for touches a projection's current, or writes
//!   spikes, weights or connectivity, anywhere in the step (a user recorder of projection
//!   currents, a user plasticity rule, an exclusive system): such a system might look
//!   between the two passes. Built-in systems are vouched for
//!   ([`ModelSystems::add_confined`](crate::ModelSystems::add_confined)).
//!
//! Each current element gets the same operations in the same order either way (decay,
//! then the spikes' terms in spike and synapse order, then the neuron pass reads it), so
//! spikes and traces are bit-identical with and without pulling, whatever the thread count.
//! Only the time a step takes changes. (Pushed delivery, below, adds the terms in another
//! order, only where every term is the same float.)
//!
//! **Pushed delivery.** When every synapse of a pulled projection adds the same term (one
//! weight for the projection) and its pre population runs in the same section, the `lif`
//! pass goes further: each share delivers the spikes it has just found, into its own range
//! at once and into outboxes for the others, which add them at the start of the next step
//! (`lif_push` in `ember-models`; [`push_rows`](crate::push_rows)). Each row is then read
//! by one thread instead of every thread. The terms are all the same float, so their order
//! cannot change a current. Only with a carried decay (below), which it follows; like it,
//! a pushed current is incomplete between steps (the outboxes not yet added), which the
//! same rules about systems that might look make invisible.
//!
//! **Carried decay.** The neuron pass reads each pulled current anyway; while the value is
//! in a register it also stores the *next* step's decay, `Iⱼ·decay`, so the next step only
//! delivers (the decay's own sweep over the arrays cost ≈ 10 % of a CUBA 64 000 step on 2
//! threads; carrying it measured 2–3 % faster). The multiply is the same one, so results
//! are unchanged, but between the neuron pass and the next step's delivery a pulled
//! current is one decay ahead: hence no system the engine cannot vouch for may read
//! currents (the projection trace recorder is not vouched for), and the last step of each
//! `run_steps` call does not carry ([`RunSpan`]), so between runs the arrays hold the
//! step's currents.
//!
//! **Carried decay without pulling** ([`CarriedDecay`]). Where a projection is not pulled
//! (one thread, or a pre population outside the pass, or delays), the post population's
//! pass can still carry its decay: the synapse system delivers as before, but skips its
//! decay sweep when the pass of the step before has already applied it
//! ([`CarriedDecay::ahead`]). The rules are those of pulling for the post population (a
//! `lif` pass summing at most [`PullsDelivery::max_incoming`] currents, every one a
//! [`DecayingCurrent`], one copy), and no system the engine cannot vouch for may read or
//! write a current; the pre population, the rows' order and delays do not matter. On one
//! thread at CUBA 4 000 the sweep was ≈ 12 % of a step; carrying it measured ≈ 4 % faster
//! (20 interleaved pairs), as the pass's extra stores and the delivery into arrays no
//! longer in L1 take back most of it.

use std::any::TypeId;

use bevy_ecs::component::ComponentId;
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{Schedule, SystemWithAccess};

use crate::aggregate::{Aggregation, FusedAggregation};
use crate::delay::DelayLine;
use crate::input::untrusted_touches;
use crate::population::{Population, Spikes};
use crate::projection::{
    Connectivity, IncomingProjections, Layout, ProjectionCurrent, ProjectsFrom, ProjectsTo, Weights,
};

/// A projection whose synapse model updates its current (nA, per post neuron) as
///
/// `Iⱼ ← Iⱼ · decay + scale · Σᵢ wᵢⱼ sᵢ`
///
/// every step: first the decay, then each spike's weighted term, in spike order. Inserted
/// by such a model at spawn (`single_exponential_current`: `decay = exp(−Δt/τ)`,
/// `scale = Q/τ`), which then reads both from here. Such a model must also skip the decay
/// of a projection marked [`CarriedDecay::ahead`] (and clear the mark).
#[derive(Component, Clone, Copy, Debug, PartialEq)]
pub struct DecayingCurrent {
    /// Factor applied to the current each step (dimensionless, in (0, 1]).
    pub decay: f32,
    /// Factor applied to each weight of a spiking pre neuron (nA per unit weight).
    pub scale: f32,
}

/// A population whose neuron pass can run the decay and delivery of its incoming
/// [`DecayingCurrent`] projections itself (see the module docs), and which keeps its spike
/// lists of the previous step for the projections leaving it. Inserted by the neuron model
/// at spawn (`lif`).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PullsDelivery {
    /// The most incoming projections the pass pulls for one population.
    pub max_incoming: usize,
}

/// Marks a projection whose decay and delivery run inside its post population's neuron
/// pass this run (see the module docs); its synapse model's own system leaves it alone.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pulled;

/// Marks a projection whose decay its post population's neuron pass carries this run
/// ("carried decay" without pulling, see the module docs): the synapse model's system
/// still delivers its spikes, but skips the decay sweep while [`CarriedDecay::ahead`].
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CarriedDecay {
    /// The current already holds this step's decay, `Iⱼ·decay`, applied by the neuron
    /// pass of the step before (which sets it); the synapse system that finds it set
    /// skips the decay and clears it.
    pub ahead: bool,
}

/// The steps of the current [`Simulation::run_steps`](crate::Simulation::run_steps) call:
/// [`Clock::step`](crate::Clock) runs up to `end` (exclusive). Set by `run_steps` before
/// its first step and removed after its last; a pass that carries work into the next step
/// (the `lif` pass's carried decay) does so only while another step of the same call
/// follows, so that between runs every array holds what it would without pulling.
#[derive(Resource, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunSpan {
    /// One past the last step of the run.
    pub end: u64,
}

impl RunSpan {
    /// Whether another step of this run follows step `step`.
    #[inline]
    pub fn continues_after(&self, step: u64) -> bool {
        step.saturating_add(1) < self.end
    }
}

/// Marks every projection that can be pulled with [`Pulled`], every other one whose decay
/// can be carried with [`CarriedDecay`], and unmarks the others: see the module docs for
/// the rules. `confined` lists the system types vouched for; `team_cuts` says whether the
/// run's thread team cuts some neuron pass (only then does pulling save a section).
pub(crate) fn refresh(
    world: &mut World,
    schedule: &Schedule,
    confined: &[TypeId],
    team_cuts: bool,
) {
    let (pull_allowed, carry_allowed) = match schedule.systems_with_access() {
        Ok(systems) => {
            let watched = Watched::of(world);
            let (mut pull, mut carry) = (team_cuts, true);
            for (_, s) in systems {
                pull &= !watched.may_look_between(s, confined);
                carry &= !watched.may_read_currents(s, confined);
            }
            (pull, carry)
        }
        // An uninitialised schedule: nothing can be vouched for.
        Err(_) => (false, false),
    };
    let mut candidates = world
        .query_filtered::<Entity, Or<(With<DecayingCurrent>, With<Pulled>, With<CarriedDecay>)>>();
    let verdicts: Vec<(Entity, bool, bool)> = candidates
        .iter(world)
        .map(|p| {
            let pull = pull_allowed && pullable(world, p);
            (p, pull, !pull && carry_allowed && carryable(world, p))
        })
        .collect();
    for (p, pull, carry) in verdicts {
        let mut e = world.entity_mut(p);
        if pull && !e.contains::<Pulled>() {
            e.insert(Pulled);
        } else if !pull && e.contains::<Pulled>() {
            e.remove::<Pulled>();
        }
        // Every run ends with the arrays holding the step's currents (`RunSpan`), so a
        // new mark starts behind.
        if carry {
            e.insert(CarriedDecay::default());
        } else if e.contains::<CarriedDecay>() {
            e.remove::<CarriedDecay>();
        }
    }
}

/// Whether the decay of projection `p` can be carried into its post population's neuron
/// pass: the population's rules for pulling ([`pullable`]), except that any pre population,
/// rows in any order and delays will do, as the synapse system still delivers.
fn carryable(world: &World, p: Entity) -> bool {
    summing_post(world, p).is_some_and(|incoming| {
        incoming.iter().all(|&q| {
            let e = world.entity(q);
            e.contains::<DecayingCurrent>() && e.contains::<ProjectionCurrent>()
        })
    })
}

/// The incoming projections of `p`'s post population if that population can take them
/// into its pass: one copy, a neuron pass that can pull ([`PullsDelivery`]), the `Sum`
/// rule fused in, and no more than [`PullsDelivery::max_incoming`] of them.
fn summing_post(world: &World, p: Entity) -> Option<&[Entity]> {
    let post = world.get::<ProjectsTo>(p)?.0;
    let pulls = world.get::<PullsDelivery>(post)?;
    let sums = world.get::<FusedAggregation>(post).is_some()
        && world
            .get::<Aggregation>(post)
            .is_some_and(Aggregation::fused);
    if !sums || !single_copy(world, post) {
        return None;
    }
    let incoming = world.get::<IncomingProjections>(post)?.entities();
    (incoming.len() <= pulls.max_incoming).then_some(incoming)
}

/// Whether projection `p` can be pulled, its post population and all that population's
/// incoming projections considered (the schedule aside).
fn pullable(world: &World, p: Entity) -> bool {
    summing_post(world, p)
        .is_some_and(|incoming| incoming.iter().all(|&q| pullable_alone(world, q)))
}

/// Whether projection `p` alone meets the rules: a [`DecayingCurrent`] without delays,
/// rows that can be cut by post range, a current array, and a pre population that pulls.
fn pullable_alone(world: &World, p: Entity) -> bool {
    let e = world.entity(p);
    let cuttable = e
        .get::<Connectivity>()
        .is_some_and(|c| !matches!(c.layout(), Layout::Sparse { sorted: false, .. }));
    let pre_pulls = e.get::<ProjectsFrom>().is_some_and(|from| {
        world.get::<PullsDelivery>(from.0).is_some() && single_copy(world, from.0)
    });
    e.contains::<DecayingCurrent>()
        && e.contains::<ProjectionCurrent>()
        && e.contains::<Weights>()
        && !e.contains::<DelayLine>()
        && cuttable
        && pre_pulls
}

/// Whether population `pop` has one batch copy.
fn single_copy(world: &World, pop: Entity) -> bool {
    world.get::<Population>(pop).is_some_and(|p| p.batch == 1)
}

/// The components whose readers or writers might look between the synapse and neuron
/// passes.
struct Watched {
    /// Any access at all counts (reading an un-decayed current).
    current: Option<ComponentId>,
    /// Writes count (reads see the same values either way).
    written: [Option<ComponentId>; 3],
}

impl Watched {
    fn of(world: &World) -> Self {
        Watched {
            current: world.component_id::<ProjectionCurrent>(),
            written: [
                world.component_id::<Spikes>(),
                world.component_id::<Weights>(),
                world.component_id::<Connectivity>(),
            ],
        }
    }

    /// Whether `s`, unless `confined`, might read or write a projection's current (which,
    /// with a carried decay, is one decay ahead between the neuron and the synapse pass).
    fn may_read_currents(&self, s: &SystemWithAccess, confined: &[TypeId]) -> bool {
        untrusted_touches(s, confined, |a| {
            self.current
                .is_some_and(|id| a.has_read(id) || a.has_write(id))
        })
    }

    /// Whether `s`, unless `confined`, might see or change what a pulled delivery uses
    /// between the synapse and the neuron pass.
    fn may_look_between(&self, s: &SystemWithAccess, confined: &[TypeId]) -> bool {
        untrusted_touches(s, confined, |a| {
            self.current
                .is_some_and(|id| a.has_read(id) || a.has_write(id))
                || self.written.iter().flatten().any(|&id| a.has_write(id))
        })
    }
}
