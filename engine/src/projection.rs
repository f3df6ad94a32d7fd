//! Projections: one entity per set of synapses from one population to another.
//!
//! Synapses are stored in compressed sparse rows (CSR) by presynaptic neuron: the targets of
//! pre neuron `i` are `targets[offsets[i]..offsets[i + 1]]`, in increasing post index. With a
//! `u32` target and an `f32` weight a synapse costs 8 bytes, and delivering a spike touches
//! one contiguous row — work proportional to spikes × fan-out, never pre × post.
//!
//! A projection entity points at its populations through the bevy relationships
//! [`ProjectsFrom`] and [`ProjectsTo`]; bevy keeps the reverse lists
//! ([`OutgoingProjections`], [`IncomingProjections`]) on the populations up to date. The
//! synapse model's parameter component (e.g. `SingleExponentialCurrent`) and the output
//! current [`ProjectionCurrent`] live on the same entity.

use bevy_ecs::component::Component;
use bevy_ecs::entity::Entity;

use crate::value::Param;

/// The presynaptic population of a projection.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
#[relationship(relationship_target = OutgoingProjections)]
pub struct ProjectsFrom(pub Entity);

/// The projections leaving a population, in creation order (maintained by bevy).
#[derive(Component, Debug, Default, PartialEq, Eq)]
#[relationship_target(relationship = ProjectsFrom)]
pub struct OutgoingProjections(Vec<Entity>);

impl OutgoingProjections {
    /// The projection entities, in creation order.
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

/// The postsynaptic population of a projection.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
#[relationship(relationship_target = IncomingProjections)]
pub struct ProjectsTo(pub Entity);

/// The projections arriving at a population, in creation order (maintained by bevy). This
/// order is the fixed summation order of aggregation.
#[derive(Component, Debug, Default, PartialEq, Eq)]
#[relationship_target(relationship = ProjectsTo)]
pub struct IncomingProjections(Vec<Entity>);

impl IncomingProjections {
    /// The projection entities, in creation order.
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

/// Shape of a projection.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Projection {
    /// Pre population size.
    pub pre_size: u32,
    /// Post population size.
    pub post_size: u32,
    /// Batch copies (equal to both populations').
    pub batch: u32,
    /// Creation order (0 = first projection added).
    pub order: u32,
}

/// A handle to a projection entity, returned when it is added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProjectionId(pub Entity);

/// Synapses in CSR form by pre neuron.
#[derive(Component, Clone, Debug, Default, PartialEq, Eq)]
pub struct Connectivity {
    offsets: Vec<usize>,
    targets: Vec<u32>,
}

impl Connectivity {
    /// Builds from row offsets (length pre + 1, non-decreasing, last = targets.len()) and
    /// targets (each < `post_size`, increasing within a row or in the caller's canonical order).
    ///
    /// # Panics
    /// If the offsets are inconsistent with `targets` (a bug in a connectivity builder, not a
    /// user input error).
    pub fn from_csr(offsets: Vec<usize>, targets: Vec<u32>) -> Self {
        assert!(!offsets.is_empty() && offsets[0] == 0);
        assert_eq!(*offsets.last().expect("non-empty"), targets.len());
        assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
        Self { offsets, targets }
    }

    /// Number of synapses.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True if there are no synapses.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Number of pre neurons (rows).
    pub fn pre_size(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The synapse index range of pre neuron `i`.
    #[inline]
    pub fn row_range(&self, i: usize) -> std::ops::Range<usize> {
        self.offsets[i]..self.offsets[i + 1]
    }

    /// The post targets of pre neuron `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &[u32] {
        &self.targets[self.row_range(i)]
    }

    /// All targets in canonical synapse order (by pre, then post).
    pub fn targets(&self) -> &[u32] {
        &self.targets
    }

    /// The row offsets (length pre + 1).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Bytes of static storage (offsets + targets).
    pub fn memory_bytes(&self) -> usize {
        self.offsets.len() * size_of::<usize>() + self.targets.len() * size_of::<u32>()
    }
}

/// Synaptic weights: one for the whole projection or one per synapse in canonical order.
/// Their unit is the synapse model's: dimensionless multipliers of the current for current
/// synapses, µS per spike for conductance synapses.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Weights(pub Param);

/// The current a projection delivers to each post neuron this step, nA
/// (`Σᵢ wᵢⱼ · Iᵢⱼ`, batch-major like population state).
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct ProjectionCurrent(pub Vec<f32>);

/// Adds `scale · w` to `out[target]` for every synapse of every spiking pre neuron in
/// `spikes` (event-driven delivery; sums in spike order, then row order — a fixed order).
///
/// `out` is one batch copy of the post population's array.
#[inline]
pub fn deliver_spikes(
    conn: &Connectivity,
    weights: &Weights,
    spikes: &[u32],
    scale: f32,
    out: &mut [f32],
) {
    match &weights.0 {
        Param::Scalar(w) => {
            let add = scale * w;
            for &i in spikes {
                for &j in conn.row(i as usize) {
                    out[j as usize] += add;
                }
            }
        }
        Param::PerElement(ws) => {
            for &i in spikes {
                let r = conn.row_range(i as usize);
                for (&j, &w) in conn.targets[r.clone()].iter().zip(&ws[r]) {
                    out[j as usize] += scale * w;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_adds_weighted_rows_of_spiking_neurons() {
        // pre 0 -> {0, 2}, pre 1 -> {}, pre 2 -> {1, 2}
        let conn = Connectivity::from_csr(vec![0, 2, 2, 4], vec![0, 2, 1, 2]);
        let mut out = vec![0.0; 3];
        deliver_spikes(&conn, &Weights(Param::Scalar(2.0)), &[0, 2], 0.5, &mut out);
        assert_eq!(out, vec![1.0, 1.0, 2.0]);
        let mut out = vec![0.0; 3];
        let ws = Weights(Param::PerElement(vec![1.0, 2.0, 3.0, 4.0]));
        deliver_spikes(&conn, &ws, &[2], 1.0, &mut out);
        assert_eq!(out, vec![0.0, 3.0, 4.0]);
    }
}
