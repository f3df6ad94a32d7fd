//! Populations: one entity per group of neurons, holding contiguous state arrays.
//!
//! A population is never split into per-neuron entities: every state component is a
//! structure-of-arrays `Vec<f32>` of length `size × batch` (batch-major: element `b·size + i`
//! is neuron `i` of batch copy `b`), so kernels stream through memory and vectorise.

use bevy_ecs::component::Component;
use bevy_ecs::entity::Entity;
use bevy_ecs::system::Query;

/// Identity and shape of a population.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Population {
    /// Number of neurons.
    pub size: u32,
    /// Number of independent batch copies of the state.
    pub batch: u32,
    /// Declaration order (0 = first population added); orders output rows.
    pub order: u32,
}

impl Population {
    /// `size × batch`: the length of every state array.
    pub fn len(&self) -> usize {
        self.size as usize * self.batch as usize
    }

    /// True if the population has no neurons (never the case for a built population).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A handle to a population entity, returned when it is added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PopulationId(pub Entity);

/// Membrane voltage, mV, one per neuron and batch copy.
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct Voltage(pub Vec<f32>);

/// Remaining refractory time, ms (0 = not refractory), one per neuron and batch copy.
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct Refractory(pub Vec<f32>);

/// Total input current of this step, nA (stimuli plus aggregated projections).
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct SynapticInput(pub Vec<f32>);

/// Whether a refractory neuron holds its voltage (`true`, Inferno's `refrac_lock`) or keeps
/// evolving with zero input (`false`).
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefracLock(pub bool);

impl Default for RefracLock {
    fn default() -> Self {
        RefracLock(true)
    }
}

/// The spikes a population emitted in the most recent step: a sorted list of neuron indices
/// per batch copy. During step k it holds step k − 1's spikes until the population's model
/// runs in [`Phase::Integrate`](crate::Phase::Integrate)/[`Phase::Threshold`](crate::Phase::Threshold),
/// which is what lets projections deliver step k − 1's spikes in step k.
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct Spikes {
    lists: Vec<Vec<u32>>,
}

/// The spikes of each projection's pre population, for a synapse system that walks its
/// projections: consecutive projections from the same population (a network's projections
/// are usually declared grouped by source) share one ECS lookup, which costs about as much
/// as updating ~40 LIF neurons (~12 ns).
pub struct PreSpikes<'q, 'w, 's, 'd> {
    spikes: &'q Query<'w, 's, &'d Spikes>,
    last: Option<(Entity, Option<&'q Spikes>)>,
}

impl<'q, 'w, 's, 'd> PreSpikes<'q, 'w, 's, 'd> {
    /// Lookups through `spikes`.
    pub fn new(spikes: &'q Query<'w, 's, &'d Spikes>) -> Self {
        Self { spikes, last: None }
    }

    /// The spikes of `population` (`None` if it has none).
    #[inline]
    pub fn get(&mut self, population: Entity) -> Option<&'q Spikes> {
        match self.last {
            Some((e, s)) if e == population => s,
            _ => {
                let s = self.spikes.get(population).ok();
                self.last = Some((population, s));
                s
            }
        }
    }
}

impl Spikes {
    /// Empty spike lists for `batch` copies of `size` neurons (capacity reserved so that
    /// recording spikes never allocates in the step loop).
    pub fn new(size: u32, batch: u32) -> Self {
        Self {
            lists: (0..batch)
                .map(|_| Vec::with_capacity(size as usize))
                .collect(),
        }
    }

    /// The sorted spiking neuron indices of batch copy `b`.
    pub fn batch(&self, b: usize) -> &[u32] {
        &self.lists[b]
    }

    /// Number of batch copies.
    pub fn batches(&self) -> usize {
        self.lists.len()
    }

    /// Total spikes over all batch copies.
    pub fn count(&self) -> usize {
        self.lists.iter().map(Vec::len).sum()
    }

    /// Clears batch `b`'s list and returns it for refilling in increasing neuron order.
    pub fn batch_mut(&mut self, b: usize) -> &mut Vec<u32> {
        let l = &mut self.lists[b];
        l.clear();
        l
    }

    /// Moves batch `b`'s list into `kept` without a copy and makes `kept`'s old buffer,
    /// cleared, the new list: a pass that rebuilds the list keeps the previous step's spikes
    /// this way (see [`crate::pull`]). `kept` should hold capacity for the population's
    /// size, as every list does, so that refilling never allocates.
    pub fn swap_batch(&mut self, b: usize, kept: &mut Vec<u32>) {
        std::mem::swap(&mut self.lists[b], kept);
        self.lists[b].clear();
    }

    /// Rebuilds batch `b`'s list from spike flags (index order, so the list is sorted).
    pub fn collect_flags(&mut self, b: usize, flags: &[bool]) {
        let l = self.batch_mut(b);
        for (i, &f) in flags.iter().enumerate() {
            if f {
                l.push(i as u32);
            }
        }
    }
}

/// Total spikes a population has emitted since the start (all batch copies), counted in
/// [`Phase::Record`](crate::Phase::Record) whether or not spikes are recorded.
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpikeTotal(pub u64);

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_ecs::world::World;

    #[test]
    fn pre_spikes_reuses_only_the_lookup_of_the_same_population() {
        let mut w = World::new();
        let spiking = |neurons: &[u32]| {
            let mut s = Spikes::new(4, 1);
            s.batch_mut(0).extend_from_slice(neurons);
            s
        };
        let a = w.spawn(spiking(&[1])).id();
        let b = w.spawn(spiking(&[2, 3])).id();
        let silent = w.spawn_empty().id();
        let mut q = w.query::<&Spikes>();
        let q = q.query(&w);
        let mut pre = PreSpikes::new(&q);
        // The first spike of each lookup (9: no spikes component).
        let seen: Vec<u32> = [a, a, b, b, a, silent, silent, b]
            .into_iter()
            .map(|p| pre.get(p).map_or(9, |s| s.batch(0)[0]))
            .collect();
        assert_eq!(seen, [1, 1, 2, 2, 1, 9, 9, 2]);
    }
}
