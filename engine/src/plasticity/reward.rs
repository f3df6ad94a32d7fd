//! The reward (modulation) signal M(t) of reward-modulated rules (`mstdp`, `mstdpet`).
//!
//! [`Reward`] holds M for the current step, one value per batch copy (dimensionless; its
//! sign decides whether a modulated STDP term potentiates or depresses). Set it from Rust
//! between steps with [`Simulation::set_reward`](crate::Simulation::set_reward) /
//! [`Simulation::set_reward_per_copy`](crate::Simulation::set_reward_per_copy), or give a
//! [`RewardSchedule`] (the scenario's `reward = [[t_ms, value], …]`): piecewise constant,
//! each value holding from its time on, 0 before the first. When a schedule is installed
//! it sets every copy's reward at the start of each step's plasticity phase, overriding
//! values set by hand.

use bevy_ecs::prelude::*;

use crate::clock::{Clock, first_step_at_or_after};
use crate::error::BuildError;

/// M(t) for the current step, one value per batch copy (dimensionless).
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct Reward(pub Vec<f32>);

impl Reward {
    /// The reward of batch copy `b` (a single stored value applies to every copy; none
    /// means 0).
    #[inline]
    pub fn get(&self, b: usize) -> f32 {
        match self.0.get(b) {
            Some(&m) => m,
            None => self.0.first().copied().unwrap_or(0.0),
        }
    }
}

/// A piecewise-constant reward: value `values[n]` from step `steps[n]` on (steps
/// non-decreasing), 0 before the first.
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct RewardSchedule {
    steps: Vec<u64>,
    values: Vec<f32>,
}

impl RewardSchedule {
    /// The reward in step `step`. O(log n).
    pub fn value_at(&self, step: u64) -> f32 {
        match self.steps.partition_point(|&s| s <= step) {
            0 => 0.0,
            n => self.values[n - 1],
        }
    }

    /// The `(first step, value)` pieces, in order.
    pub fn pieces(&self) -> impl Iterator<Item = (u64, f32)> + '_ {
        self.steps.iter().copied().zip(self.values.iter().copied())
    }
}

/// Builds the schedule of a scenario's `reward = [[t_ms, value], …]` for Δt = `step_time`
/// ms: each value holds from the first step starting at or after its time (a time within
/// 10⁻⁹ Δt of a step counts as on it) until the next piece; the reward is 0 before the
/// first piece. Pairs may come in any order (sorted by time; of pairs landing on the same
/// step, the one listed last wins). Times must be finite and ≥ 0, values finite; errors name
/// `simulation.reward[i]`.
pub fn reward_schedule(pairs: &[[f64; 2]], step_time: f64) -> Result<RewardSchedule, BuildError> {
    for (i, &[t, v]) in pairs.iter().enumerate() {
        if !(t.is_finite() && t >= 0.0) {
            return Err(BuildError::invalid(
                format!("simulation.reward[{i}]"),
                format!("expected a time ≥ 0 ms, got {t}"),
            ));
        }
        if !v.is_finite() {
            return Err(BuildError::invalid(
                format!("simulation.reward[{i}]"),
                format!("expected a finite reward, got {v}"),
            ));
        }
    }
    let mut pieces: Vec<(u64, f32)> = pairs
        .iter()
        .map(|&[t, v]| (first_step_at_or_after(t, step_time), v as f32))
        .collect();
    // Stable: pairs on the same step keep their order, so the last one listed wins.
    pieces.sort_by_key(|p| p.0);
    Ok(RewardSchedule {
        steps: pieces.iter().map(|p| p.0).collect(),
        values: pieces.iter().map(|p| p.1).collect(),
    })
}

/// [`Phase::Plasticity`](crate::Phase::Plasticity), before the rules: sets every copy's
/// [`Reward`] from the [`RewardSchedule`], if one is installed.
pub fn update_reward(
    clock: Res<Clock>,
    schedule: Option<Res<RewardSchedule>>,
    reward: Option<ResMut<Reward>>,
) {
    if let (Some(schedule), Some(mut reward)) = (schedule, reward) {
        let m = schedule.value_at(clock.step);
        reward.0.iter_mut().for_each(|r| *r = m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piecewise_constant_from_each_time_on() {
        let s = reward_schedule(&[[100.0, -1.0], [0.0, 1.0], [100.0, 0.5]], 1.0).unwrap();
        assert_eq!(s.value_at(0), 1.0);
        assert_eq!(s.value_at(99), 1.0);
        assert_eq!(s.value_at(100), 0.5);
        assert_eq!(s.value_at(10_000), 0.5);
        let late = reward_schedule(&[[0.25, 2.0]], 0.1).unwrap();
        assert_eq!(late.value_at(2), 0.0);
        assert_eq!(late.value_at(3), 2.0);
        assert_eq!(reward_schedule(&[], 0.1).unwrap().value_at(5), 0.0);
    }

    #[test]
    fn rejects_bad_pairs() {
        let e = reward_schedule(&[[0.0, 1.0], [-1.0, 1.0]], 1.0).unwrap_err();
        assert_eq!(e.path, "simulation.reward[1]");
        let e = reward_schedule(&[[0.0, f64::NAN]], 1.0).unwrap_err();
        assert_eq!(e.path, "simulation.reward[0]");
        assert!(reward_schedule(&[[f64::INFINITY, 1.0]], 1.0).is_err());
    }

    #[test]
    fn single_value_applies_to_every_copy() {
        assert_eq!(Reward(vec![2.0]).get(3), 2.0);
        assert_eq!(Reward(vec![1.0, -1.0]).get(1), -1.0);
        assert_eq!(Reward::default().get(0), 0.0);
    }
}
