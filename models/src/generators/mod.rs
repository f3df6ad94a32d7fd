//! Spike generators: populations whose spikes come from a rule, not from a membrane.

pub mod poisson;
pub mod spike_source;
