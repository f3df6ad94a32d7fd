//! The phases of one simulation step, as public system sets.
//!
//! One run of the step schedule advances the network by one Δt. Its systems are grouped into
//! the phases below, chained in this order (after Brian2's schedule slots). Users place their
//! own systems in a phase with `.in_set(Phase::X)` and order them further with `.before(..)`
//! / `.after(..)`, exactly as the built-in models do; nothing runs outside these phases.

use bevy_ecs::schedule::{ScheduleLabel, SystemSet};

/// The label of Ember's step schedule (one run = one Δt).
#[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Step;

/// The ordered phases of a step.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Clears this step's input buffers (`SynapticInput`).
    Start,
    /// Current injections and spike generators add their input.
    Stimuli,
    /// Projections read their pre population's spikes of the previous step(s), advance their
    /// synapse state and write their output current (`ProjectionCurrent`). On a thread
    /// team, a neuron pass may run this update itself where no system can see the
    /// difference ([`crate::pull`]); the results are the same.
    Synapses,
    /// Populations combine incoming projection currents into `SynapticInput`.
    Aggregate,
    /// Neuron models integrate the membrane (built-in models fuse integration, thresholding
    /// and reset into one pass here, preserving Inferno's order of operations).
    Integrate,
    /// Thresholding for models that separate it from integration; after this phase
    /// `Spikes` holds this step's spikes for every population.
    Threshold,
    /// Adaptation updates of user models (skipped in eval mode). The built-in adaptive
    /// models (ALIF, GLIF2, Izhikevich, AdEx) update their adaptations inside their
    /// [`Phase::Integrate`] system, right after thresholding, exactly where Inferno's
    /// `forward` does; after this phase every adaptation holds this step's value.
    Adapt,
    /// Learning rules on projections.
    Plasticity,
    /// Recorders sample spikes and state.
    Record,
    /// End of step: the clock ticks.
    End,
}

impl Phase {
    /// All phases in execution order.
    pub const ALL: [Phase; 10] = [
        Phase::Start,
        Phase::Stimuli,
        Phase::Synapses,
        Phase::Aggregate,
        Phase::Integrate,
        Phase::Threshold,
        Phase::Adapt,
        Phase::Plasticity,
        Phase::Record,
        Phase::End,
    ];
}
