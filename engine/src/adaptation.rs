//! Adaptation state, train/eval mode and batch reduction, shared by adaptive models.
//!
//! Adaptive neuron models (ALIF, GLIF2, Izhikevich, AdEx) keep K adaptation terms per
//! neuron ([`Adaptation`]). As in Inferno, adaptations are *shared by all batch copies* of
//! a population: each copy computes its own updated values from its own voltages and
//! spikes, and the population's [`BatchReducer`] combines them (mean by default) into the
//! one stored value. Adaptations update only in [`Mode::Train`]; a population's
//! [`PopulationMode`] can override the simulation's mode.

use bevy_ecs::component::Component;
use serde::{Deserialize, Serialize};

/// Train or eval mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Adaptations and plasticity update.
    #[default]
    Train,
    /// Adaptations and plasticity are frozen.
    Eval,
}

/// The mode a population runs in (the simulation's unless overridden).
#[derive(Component, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PopulationMode(pub Mode);

impl PopulationMode {
    /// True if adaptations update.
    pub fn trains(&self) -> bool {
        self.0 == Mode::Train
    }
}

/// How per-batch-copy adaptation values are combined into the shared value.
#[derive(Clone, Copy, Debug, Default)]
pub enum BatchReduction {
    /// Arithmetic mean (Inferno's default `torch.mean`).
    #[default]
    Mean,
    /// Sum.
    Sum,
    /// Maximum.
    Max,
    /// Minimum.
    Min,
    /// A user function of the B values of one neuron's term (in batch order).
    Custom(fn(&[f32]) -> f32),
}

impl BatchReduction {
    /// Reduces one term's values over the batch.
    #[inline]
    pub fn reduce(&self, values: &[f32]) -> f32 {
        match self {
            BatchReduction::Mean => values.iter().sum::<f32>() / values.len() as f32,
            BatchReduction::Sum => values.iter().sum(),
            BatchReduction::Max => values.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            BatchReduction::Min => values.iter().copied().fold(f32::INFINITY, f32::min),
            BatchReduction::Custom(f) => f(values),
        }
    }

    /// Combines `per_batch` (batch-major: `per_batch[b * len + j]`) into `out` (length
    /// `len`). With one batch copy this is a copy for every reduction but `Custom`.
    pub fn reduce_into(
        &self,
        per_batch: &[f32],
        batch: usize,
        out: &mut [f32],
        scratch: &mut Vec<f32>,
    ) {
        let len = out.len();
        debug_assert_eq!(per_batch.len(), batch * len);
        if batch == 1 && !matches!(self, BatchReduction::Custom(_)) {
            out.copy_from_slice(per_batch);
            return;
        }
        for (j, o) in out.iter_mut().enumerate() {
            scratch.clear();
            scratch.extend((0..batch).map(|b| per_batch[b * len + j]));
            *o = self.reduce(scratch);
        }
    }
}

/// The batch reduction of a population's adaptation updates.
#[derive(Component, Clone, Copy, Debug, Default)]
pub struct BatchReducer(pub BatchReduction);

/// K adaptation terms per neuron, shared by all batch copies: `values[i * terms + k]`.
/// Units are the model's (mV for threshold adaptation, nA for current adaptation).
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct Adaptation {
    terms: usize,
    values: Vec<f32>,
}

impl Adaptation {
    /// `terms` terms for each of `size` neurons, each starting at `init[k]` (zeros when
    /// `init` is `None` or does not have `terms` values — the engine reports that case).
    pub fn new(size: usize, terms: usize, init: Option<&[f32]>) -> Self {
        let mut values = vec![0.0; size * terms];
        if let Some(init) = init.filter(|i| i.len() == terms) {
            for row in values.chunks_exact_mut(terms) {
                row.copy_from_slice(&init[..terms]);
            }
        }
        Self { terms, values }
    }

    /// Number of terms K.
    pub fn terms(&self) -> usize {
        self.terms
    }

    /// All values, neuron-major.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// All values, neuron-major, for updating.
    pub fn values_mut(&mut self) -> &mut [f32] {
        &mut self.values
    }

    /// Swaps the stored values with `values` (same length), e.g. with a buffer a kernel has
    /// just filled with the updated values of the only batch copy: no copy needed.
    ///
    /// # Panics
    /// If the lengths differ (a kernel bug).
    pub fn swap_values(&mut self, values: &mut Vec<f32>) {
        assert_eq!(values.len(), self.values.len(), "adaptation buffer length");
        std::mem::swap(&mut self.values, values);
    }

    /// The K terms of neuron `i`.
    pub fn neuron(&self, i: usize) -> &[f32] {
        &self.values[i * self.terms..(i + 1) * self.terms]
    }
}

/// The effective threshold of adaptive-threshold models after the step (mV, `size × batch`),
/// `Θ∞ + Σₖ θₖ`; traced as `threshold`.
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct EffectiveThreshold(pub Vec<f32>);

/// The resting voltage of each neuron (mV, `size`), what [`Simulation::clear`] resets the
/// voltage to.
///
/// [`Simulation::clear`]: crate::Simulation::clear
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct RestingVoltage(pub Vec<f32>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions() {
        let v = [2.0, 0.0, 1.0];
        assert_eq!(BatchReduction::Mean.reduce(&v), 1.0);
        assert_eq!(BatchReduction::Sum.reduce(&v), 3.0);
        assert_eq!(BatchReduction::Max.reduce(&v), 2.0);
        assert_eq!(BatchReduction::Min.reduce(&v), 0.0);
        assert_eq!(BatchReduction::Custom(|v| v[0] * 10.0).reduce(&v), 20.0);
    }

    #[test]
    fn reduce_into_is_per_element_over_batch() {
        // batch 2, 3 elements: copy 0 = [2, 0, 4], copy 1 = [0, 0, 2]
        let per_batch = [2.0, 0.0, 4.0, 0.0, 0.0, 2.0];
        let mut out = [0.0; 3];
        let mut scratch = Vec::new();
        BatchReduction::Mean.reduce_into(&per_batch, 2, &mut out, &mut scratch);
        assert_eq!(out, [1.0, 0.0, 3.0]);
        BatchReduction::Max.reduce_into(&per_batch, 2, &mut out, &mut scratch);
        assert_eq!(out, [2.0, 0.0, 4.0]);
    }

    #[test]
    fn adaptation_init_fills_every_neuron() {
        let a = Adaptation::new(3, 2, Some(&[1.0, 5.0]));
        assert_eq!(a.neuron(2), &[1.0, 5.0]);
        assert_eq!(Adaptation::new(2, 1, None).values(), &[0.0, 0.0]);
    }
}
