//! Aggregation: how a population combines the currents of its incoming projections.
//!
//! In [`Phase::Aggregate`](crate::Phase::Aggregate) each population adds to its
//! `SynapticInput` (which holds the stimuli of the step) a combination of the
//! `ProjectionCurrent`s of its incoming projections, element by element, in projection
//! creation order: their sum (default, and the fast path), mean, product, minimum, maximum,
//! or a user function (Sapicore's `aggregate`, e.g. shunting inhibition as a product).
//! A population without incoming projections receives nothing from this phase.

use bevy_ecs::prelude::*;

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

/// [`Phase::Aggregate`](crate::Phase::Aggregate): adds the aggregated incoming projection
/// currents to each population's input.
pub fn aggregate_projection_currents(
    mut pops: Query<(&IncomingProjections, &mut Aggregation, &mut SynapticInput)>,
    currents: Query<&ProjectionCurrent>,
) {
    for (incoming, mut agg, mut input) in &mut pops {
        let agg = &mut *agg;
        if let AggregateRule::Sum = agg.rule {
            for &p in incoming.entities() {
                if let Ok(c) = currents.get(p) {
                    input.0.iter_mut().zip(&c.0).for_each(|(x, c)| *x += c);
                }
            }
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
