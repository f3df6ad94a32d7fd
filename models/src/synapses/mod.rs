//! Synapse models: turn presynaptic spikes into the current a projection delivers.
//!
//! Both models here are linear in the spikes, so the state of all synapses onto one post
//! neuron collapses into one value per post neuron: `Σᵢ wᵢⱼ Iᵢⱼ` evolves like a single
//! synapse driven by the weighted spike sum. That is what `ProjectionCurrent` holds.

pub mod delta;
pub mod single_exponential;
