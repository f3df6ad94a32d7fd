//! # ember-engine
//!
//! The runtime of Ember, a spiking-neural-network simulator on an entity-component-system.
//! Goals, in order: **correct** (every model reproduces its reference; bit-identical results
//! for a seed on any thread count), **fast** (no allocation, hashing or dynamic dispatch per
//! neuron or synapse in the step loop), **composable** (heterogeneous networks, user
//! components and systems, scenario files), **small and clear** (one concept per module).
//!
//! A population of neurons is one bevy entity holding contiguous state arrays
//! ([`Voltage`], [`Refractory`], [`SynapticInput`], [`Spikes`]) and its model's parameter
//! component; a projection is one entity holding its synapses in CSR form. One run of the
//! step schedule advances the network by Δt through the public [`Phase`]s, where users add
//! their own systems next to the built-in ones.
//!
//! ```
//! use ember_engine::prelude::*;
//!
//! let mut sim = Simulation::new(SimConfig { step_time: 0.1, ..Default::default() }).unwrap();
//! // Models come from `ember-models` (or your own crate): see its docs.
//! sim.run_for(1.0).unwrap();
//! assert_eq!(sim.clock().step, 10);
//! ```

pub mod adaptation;
pub mod aggregate;
pub mod alloc;
pub mod clock;
pub mod connectivity;
pub mod delay;
pub mod error;
pub mod executor;
pub mod input;
pub mod model;
pub mod parallel;
pub mod phase;
pub mod plasticity;
pub mod population;
pub mod projection;
pub mod pull;
pub mod record;
mod registry;
pub mod rng;
pub mod scenario;
pub mod simulation;
pub mod stimulus;
pub mod targets;
pub mod value;

pub use adaptation::{
    Adaptation, BatchReducer, BatchReduction, EffectiveThreshold, Mode, PopulationMode,
    RestingVoltage,
};
pub use aggregate::{AggregateRule, Aggregation, FusedAggregation};
pub use clock::Clock;
pub use connectivity::ConnectRule;
pub use delay::{DelayLine, DelayMode, Delays};
pub use error::{BuildError, BuildErrorKind, ParamError, ScheduleError};
pub use input::InputVisibility;
pub use model::{
    ModelSet, ModelSystems, NeuronModel, ParamReader, Slot, SpawnContext, SynapseModel,
};
pub use phase::{Phase, Step};
pub use population::{
    Population, PopulationId, PreSpikes, RefracLock, Refractory, SpikeTotal, Spikes, SynapticInput,
    Voltage,
};
pub use projection::{
    Connectivity, DeliveryBatch, IncomingProjections, OutgoingProjections, Projection,
    ProjectionCurrent, ProjectionId, ProjectsFrom, ProjectsTo, PushedTargets, Weights, add_pushed,
    prepare_and_deliver_part, push_rows, rows_pushable,
};
pub use pull::{CarriedDecay, DecayingCurrent, Pulled, PullsDelivery, RunSpan};
pub use record::{
    ProjectionTraceRecorder, ProjectionTraceRow, ProjectionVariable, SpikeEvent, SpikeRecorder,
    SpikeRun, TraceRecorder, TraceVariable,
};
pub use scenario::{Scenario, ScenarioHandles};
pub use simulation::{ENGINE, PopulationOptions, RunForError, SimConfig, Simulation};
pub use stimulus::{
    CurrentStimulus, Noise, NoiseStimulus, Sine, SineStimulus, SpikeListError, SpikeSchedule,
};
pub use targets::{TargetIndex, TargetSlice, Targets};
pub use value::{Param, ValueSpec};

/// Re-export of bevy_ecs, so user crates use the same version.
pub use bevy_ecs;

/// The types most programs need.
pub mod prelude {
    pub use crate::{
        Adaptation, BatchReduction, BuildError, Clock, ConnectRule, Mode, NeuronModel, Noise,
        Param, Phase, PopulationId, PopulationOptions, ProjectionId, ProjectionVariable,
        Refractory, Scenario, SimConfig, Simulation, Sine, Spikes, SynapseModel, SynapticInput,
        TraceVariable, ValueSpec, Voltage,
    };
}
