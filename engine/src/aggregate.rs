//! Aggregation: how a population combines the currents of its incoming projections.
//!
//! In [`Phase::Aggregate`](crate::Phase::Aggregate) each population adds to its
//! `SynapticInput` (which holds the stimuli of the step) a combination of the
//! `ProjectionCurrent`s of its incoming projections, element by element, in projection
//! creation order: their sum (default, and the fast path), mean, product, minimum, maximum,
//! or a user function (Sapicore's `aggregate`, e.g. shunting inhibition as a product).
//! A population without incoming projections receives nothing from this phase.
//!
//! A neuron model may instead fuse the `Sum` rule into its own pass over the neurons
//! ([`FusedAggregation`], used by `lif`): it adds the currents inside its neuron loop
//! (or, with many projections, block by block right before integrating), in the same
//! order, so the input and the results are bit-identical while the input array is swept
//! once instead of once per projection plus once (and, on a thread team, one parallel
//! section is saved per population and step).

use bevy_ecs::prelude::*;
use bevy_ecs::query::QueryFilter;

use crate::parallel::{self, PARALLEL_MIN_ELEMENTS};
use crate::population::SynapticInput;
use crate::projection::{IncomingProjections, ProjectionCurrent};

/// A rule combining the incoming currents (nA) of one neuron.
#[derive(Clone, Copy, Debug, Default)]
pub enum AggregateRule {
    /// Σ of the currents.
    #[default]
    Sum,
    /// Mean of the currents.
    Mean,
    /// Product of the currents.
    Prod,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// A user function of the currents, in projection creation order.
    Custom(fn(&[f32]) -> f32),
}

impl AggregateRule {
    /// Combines the currents of one neuron (never called with an empty slice).
    #[inline]
    pub fn combine(&self, currents: &[f32]) -> f32 {
        match self {
            AggregateRule::Sum => currents.iter().sum(),
            AggregateRule::Mean => currents.iter().sum::<f32>() / currents.len() as f32,
            AggregateRule::Prod => currents.iter().product(),
            AggregateRule::Min => currents.iter().copied().fold(f32::INFINITY, f32::min),
            AggregateRule::Max => currents.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            AggregateRule::Custom(f) => f(currents),
        }
    }
}

/// A population's aggregation rule, with a scratch buffer for the per-neuron currents.
#[derive(Component, Clone, Debug, Default)]
pub struct Aggregation {
    /// The rule.
    pub rule: AggregateRule,
    scratch: Vec<f32>,
}

impl Aggregation {
    /// A population aggregation with `rule`.
    pub fn new(rule: AggregateRule) -> Self {
        Self {
            rule,
            scratch: Vec::new(),
        }
    }
}

/// Marks a population whose neuron system performs the [`AggregateRule::Sum`] aggregation
/// itself, inside its own pass (with [`add_incoming`]); [`aggregate_projection_currents`]
/// then leaves it alone. Other rules are still aggregated in
/// [`Phase::Aggregate`](crate::Phase::Aggregate). Inserted by the neuron model at spawn.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct FusedAggregation;

impl Aggregation {
    /// Whether a population with [`FusedAggregation`] and this aggregation sums its
    /// currents inside its neuron system (the rule is `Sum`).
    pub fn fused(&self) -> bool {
        matches!(self.rule, AggregateRule::Sum)
    }
}

/// Adds to `part` (neurons `lo..lo + part.len()` of a population's input, batch-major) the
/// currents of its incoming projections, in creation order: the `Sum` path of
/// [`aggregate_projection_currents`] restricted to one part, for models with
/// [`FusedAggregation`].
#[inline]
pub fn add_incoming<F: QueryFilter>(
    part: &mut [f32],
    lo: usize,
    incoming: Option<&IncomingProjections>,
    currents: &Query<&ProjectionCurrent, F>,
) {
    for &p in incoming.map_or(&[][..], IncomingProjections::entities) {
        if let Ok(c) = currents.get(p) {
            let c = &c.0[lo..lo + part.len()];
            part.iter_mut().zip(c).for_each(|(x, c)| *x += c);
        }
    }
}

/// [`Phase::Aggregate`](crate::Phase::Aggregate): adds the aggregated incoming projection
/// currents to each population's input (except where the neuron system fuses the sum, see
/// [`FusedAggregation`]).
pub fn aggregate_projection_currents(
    mut pops: Query<(
        &IncomingProjections,
        &mut Aggregation,
        &mut SynapticInput,
        Has<FusedAggregation>,
    )>,
    currents: Query<&ProjectionCurrent>,
) {
    for (incoming, mut agg, mut input, fused) in &mut pops {
        let agg = &mut *agg;
        if fused && agg.fused() {
            continue;
        }
        if let AggregateRule::Sum = agg.rule {
            // One sweep per part of the neurons (parallel on a team for large
            // populations), adding the projections in creation order.
            let currents = &currents;
            parallel::for_each_part(&mut input.0[..], PARALLEL_MIN_ELEMENTS, |lo, part| {
                add_incoming(part, lo, Some(incoming), currents);
            });
            continue;
        }
        // Gather the currents neuron-major (`scratch[j·P + p]`) with one lookup per
        // projection, then combine per neuron; the scratch is reused across steps.
        let len = input.0.len();
        let sources = incoming
            .entities()
            .iter()
            .filter_map(|&e| currents.get(e).ok());
        let p = sources.clone().count();
        if p == 0 {
            continue;
        }
        agg.scratch.resize(len * p, 0.0);
        for (k, c) in sources.enumerate() {
            for (j, &x) in c.0.iter().enumerate().take(len) {
                agg.scratch[j * p + k] = x;
            }
        }
        for (x, row) in input.0.iter_mut().zip(agg.scratch.chunks_exact(p)) {
            *x += agg.rule.combine(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_combine_currents() {
        let c = [2.0, -1.0, 4.0];
        assert_eq!(AggregateRule::Sum.combine(&c), 5.0);
        assert_eq!(AggregateRule::Mean.combine(&c), 5.0 / 3.0);
        assert_eq!(AggregateRule::Prod.combine(&c), -8.0);
        assert_eq!(AggregateRule::Min.combine(&c), -1.0);
        assert_eq!(AggregateRule::Max.combine(&c), 4.0);
        assert_eq!(AggregateRule::Custom(|c| c[0] / c[2]).combine(&c), 0.5);
    }
}
