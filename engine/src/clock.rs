//! Simulation time as an integer step counter.
//!
//! Time is `step × step_time`, computed on demand, so a 10⁷-step run has no accumulated
//! floating-point drift (a float clock advanced by 0.1 ms drifts by ~10⁻⁴ ms after 10⁶ steps).

use bevy_ecs::resource::Resource;

/// The simulation clock: the index of the step being computed and Δt.
///
/// During step k every system sees `step == k`; the step advances from t = k·Δt to
/// (k+1)·Δt, and the clock ticks to k + 1 in [`Phase::End`](crate::Phase::End).
#[derive(Resource, Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    /// Index of the current step (0-based).
    pub step: u64,
    /// Δt, ms.
    pub step_time: f64,
}

impl Clock {
    /// Start time of the current step, ms: `step × step_time`.
    pub fn time(&self) -> f64 {
        self.step as f64 * self.step_time
    }

    /// Δt as f32, ms (the precision kernels use).
    pub fn dt(&self) -> f32 {
        self.step_time as f32
    }

    /// The number of steps in `duration` ms: `round(duration / step_time)`, or `None` when
    /// `duration` is not a multiple of Δt within 10⁻⁹ relative (or is negative or not finite).
    pub fn steps_in(&self, duration: f64) -> Option<u64> {
        steps_in(duration, self.step_time)
    }
}

/// `round(duration / step_time)` when `duration` is a non-negative multiple of `step_time`
/// within 10⁻⁹ (relative to the step count), else `None`.
pub fn steps_in(duration: f64, step_time: f64) -> Option<u64> {
    if !(duration.is_finite() && duration >= 0.0 && step_time > 0.0) {
        return None;
    }
    let ratio = duration / step_time;
    let n = ratio.round();
    if (ratio - n).abs() <= 1e-9 * n.max(1.0) {
        Some(n as u64)
    } else {
        None
    }
}

/// The first step whose start time is ≥ `t` ms (steps within 10⁻⁹ Δt of `t` count as at `t`).
pub fn first_step_at_or_after(t: f64, step_time: f64) -> u64 {
    let s = t / step_time;
    let r = s.round();
    let s = if (s - r).abs() <= 1e-9 * r.abs().max(1.0) {
        r
    } else {
        s.ceil()
    };
    s.max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_in_accepts_multiples_only() {
        assert_eq!(steps_in(1000.0, 0.1), Some(10_000));
        assert_eq!(steps_in(0.3, 0.1), Some(3));
        assert_eq!(steps_in(0.0, 0.1), Some(0));
        assert_eq!(steps_in(0.35, 0.1), None);
        assert_eq!(steps_in(-1.0, 0.1), None);
        assert_eq!(steps_in(f64::NAN, 0.1), None);
    }

    #[test]
    fn first_step_rounds_up_between_steps() {
        assert_eq!(first_step_at_or_after(0.0, 0.1), 0);
        assert_eq!(first_step_at_or_after(0.3, 0.1), 3);
        assert_eq!(first_step_at_or_after(0.25, 0.1), 3);
        assert_eq!(first_step_at_or_after(500.0, 0.1), 5000);
    }

    #[test]
    fn time_is_step_times_dt() {
        let c = Clock {
            step: 3,
            step_time: 0.1,
        };
        assert_eq!(c.time(), 3.0 * 0.1);
    }
}
