//! The model registry: registry names → typed builders.
//!
//! Scenario files name models by string; the registry maps each name to a monomorphised
//! builder function for that model type, so building a population from a scenario goes
//! through the same typed path as `Simulation::add_population::<M>` from Rust. Lookups
//! happen at build time only.

use std::any::TypeId;
use std::collections::BTreeMap;

use crate::error::BuildError;
use crate::model::{NeuronModel, ParamReader, SynapseModel};

/// Reads a neuron model's parameters and adds the population (monomorphised per model).
pub(crate) type NeuronBuilder = fn(
    &mut crate::Simulation,
    &crate::scenario::PopulationBuild<'_>,
) -> Result<crate::PopulationId, BuildError>;

/// Reads a synapse model's parameters and adds the projection (monomorphised per model).
pub(crate) type SynapseBuilder = fn(
    &mut crate::Simulation,
    &crate::scenario::ProjectionBuild<'_>,
) -> Result<crate::ProjectionId, BuildError>;

/// Registered models.
#[derive(Default)]
pub(crate) struct ModelRegistry {
    neurons: BTreeMap<&'static str, (TypeId, NeuronBuilder)>,
    synapses: BTreeMap<&'static str, (TypeId, SynapseBuilder)>,
}

impl ModelRegistry {
    /// Adds a neuron model; false if it was registered already.
    pub(crate) fn add_neuron<M: NeuronModel>(&mut self) -> bool {
        if self.neurons.contains_key(M::NAME) {
            return false;
        }
        self.neurons
            .insert(M::NAME, (TypeId::of::<M>(), build_population::<M>));
        true
    }

    /// Adds a synapse model; false if it was registered already.
    pub(crate) fn add_synapse<S: SynapseModel>(&mut self) -> bool {
        if self.synapses.contains_key(S::NAME) {
            return false;
        }
        self.synapses
            .insert(S::NAME, (TypeId::of::<S>(), build_projection::<S>));
        true
    }

    /// The type registered under a neuron model name.
    pub(crate) fn neuron_type(&self, name: &str) -> Option<TypeId> {
        self.neurons.get(name).map(|(t, _)| *t)
    }

    /// The type registered under a synapse model name.
    pub(crate) fn synapse_type(&self, name: &str) -> Option<TypeId> {
        self.synapses.get(name).map(|(t, _)| *t)
    }

    pub(crate) fn neuron(&self, name: &str) -> Option<NeuronBuilder> {
        self.neurons.get(name).map(|(_, b)| *b)
    }

    pub(crate) fn synapse(&self, name: &str) -> Option<SynapseBuilder> {
        self.synapses.get(name).map(|(_, b)| *b)
    }

    pub(crate) fn neuron_names(&self) -> Vec<&'static str> {
        self.neurons.keys().copied().collect()
    }

    pub(crate) fn synapse_names(&self) -> Vec<&'static str> {
        self.synapses.keys().copied().collect()
    }
}

fn build_population<M: NeuronModel>(
    sim: &mut crate::Simulation,
    b: &crate::scenario::PopulationBuild<'_>,
) -> Result<crate::PopulationId, BuildError> {
    let mut reader = ParamReader::new(
        b.params,
        format!("{}.params", b.path),
        M::NAME,
        b.name,
        b.size as usize,
        sim.config().seed,
    );
    let model = M::from_params(&mut reader)?;
    reader.finish(M::PARAMS)?;
    sim.add_population_at(b.path, b.name, b.size, model, b.options.clone())
}

fn build_projection<S: SynapseModel>(
    sim: &mut crate::Simulation,
    b: &crate::scenario::ProjectionBuild<'_>,
) -> Result<crate::ProjectionId, BuildError> {
    let mut reader = ParamReader::new(
        b.synapse_params,
        format!("{}.synapse", b.path),
        S::NAME,
        b.name,
        1,
        sim.config().seed,
    );
    let model = S::from_params(&mut reader)?;
    reader.finish(S::PARAMS)?;
    sim.add_projection_at(
        b.path,
        b.name,
        b.pre,
        b.post,
        b.rule,
        b.weights.clone(),
        model,
    )
}
