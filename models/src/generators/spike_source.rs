//! Spike source (`spike_source`): emits exactly the spikes of a given list.
//!
//! The list holds `(neuron, time_ms)` pairs in any order. The spike at `time` is emitted in
//! step `round(time / Δt)`, so it is reported with time `round(time / Δt) · Δt`: a time on
//! the step grid is reported unchanged, a time between steps goes to the nearest step
//! (halfway rounds up), and several spikes of one neuron that land in the same step are
//! emitted once (a neuron spikes at most once per step). Times past the end of the run are
//! never emitted. Every batch copy emits the same spikes.
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `spikes` | `[neuron, ms]` pairs | the spikes to emit | neuron a whole number `< size`; time finite, `≥ 0` |
//!
//! In scenario files: `params = { spikes = [[0, 1.0], [3, 2.5]] }`.
//!
//! The list becomes the engine's [`SpikeSchedule`] (sorted by step, with a cursor), so a step
//! costs O(its spikes), never a scan of the list. The voltage of a spike source is always 0
//! and it is never refractory; inputs to it are ignored.

use bevy_ecs::prelude::*;
use ember_engine::prelude::*;
use ember_engine::{ModelSystems, ParamError, ParamReader, SpawnContext, SpikeSchedule};

/// Spike source parameters: the spikes to emit.
///
/// Populations built from a scenario file get their list from `params.spikes` straight into
/// their [`SpikeSchedule`] and keep an empty `spikes` here; the schedule is what is emitted.
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct SpikeSource {
    /// `(neuron, time_ms)` pairs, in any order.
    pub spikes: Vec<(u32, f64)>,
}

impl SpikeSource {
    /// A source emitting `spikes` (`(neuron, time_ms)` pairs, in any order).
    pub fn new(spikes: impl Into<Vec<(u32, f64)>>) -> Self {
        Self {
            spikes: spikes.into(),
        }
    }
}

/// The spike-source system ([`Phase::Integrate`]): each population's spikes of this step
/// from its schedule, the same in every batch copy.
pub fn spike_source_system(
    clock: Res<Clock>,
    mut q: Query<(&mut SpikeSchedule, &mut Spikes), With<SpikeSource>>,
) {
    for (mut schedule, mut spikes) in &mut q {
        let neurons = schedule.advance(clock.step);
        for b in 0..spikes.batches() {
            spikes.batch_mut(b).extend_from_slice(neurons);
        }
    }
}

impl NeuronModel for SpikeSource {
    const NAME: &'static str = "spike_source";
    const PARAMS: &'static [&'static str] = &["spikes"];

    /// Scenario files give `spikes` as a list of pairs, which the scenario builder moves
    /// into the population's [`SpikeSchedule`] (a model that keeps one takes `spikes`); the
    /// numeric parameter table holds nothing for this model.
    fn from_params(_params: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self::default())
    }

    fn validate(&self, size: usize) -> Result<(), ParamError> {
        let size = u32::try_from(size).unwrap_or(u32::MAX);
        for (k, &(neuron, time)) in self.spikes.iter().enumerate() {
            SpikeSchedule::check(neuron, time, size).map_err(|message| {
                ParamError::new("spikes", format!("entry {k} ({neuron}, {time}): {message}"))
            })?;
        }
        Ok(())
    }

    fn initial_voltage(&self, _i: usize) -> f32 {
        0.0
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_confined(Phase::Integrate, spike_source_system);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        // Δt in f64 from the clock (the context's is f32), so times on the grid map to
        // their step exactly.
        let dt = entity
            .world()
            .get_resource::<Clock>()
            .map_or(f64::from(ctx.step_time), |c| c.step_time);
        // `validate` has checked every entry, so this cannot fail; an empty schedule is the
        // safe fallback all the same.
        let schedule = SpikeSchedule::new(&self.spikes, ctx.size, dt).unwrap_or_default();
        entity.insert((self, schedule));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_bad_entries() {
        assert!(
            SpikeSource::new(vec![(0, 1.0), (3, 2.5)])
                .validate(4)
                .is_ok()
        );
        let e = SpikeSource::new(vec![(0, 1.0), (4, 2.5)])
            .validate(4)
            .unwrap_err();
        assert_eq!(e.param, "spikes");
        assert!(e.message.contains("entry 1"), "{e}");
        assert!(SpikeSource::new(vec![(0, -1.0)]).validate(4).is_err());
        assert!(SpikeSource::new(vec![(0, f64::NAN)]).validate(4).is_err());
    }

    #[test]
    fn insert_builds_the_schedule_with_the_clock_step() {
        let mut world = World::new();
        world.insert_resource(Clock {
            step: 0,
            step_time: 0.1,
        });
        let mut e = world.spawn_empty();
        let ctx = SpawnContext {
            name: "s",
            step_time: 0.1,
            size: 4,
            batch: 1,
            seed: 0,
            init_adaptation: None,
        };
        SpikeSource::new(vec![(3, 2.5), (0, 1.0), (1, 1.0)]).insert(&mut e, &ctx);
        let spikes: Vec<_> = e.get::<SpikeSchedule>().unwrap().spikes().collect();
        assert_eq!(spikes, [(10, 0), (10, 1), (25, 3)]);
    }
}
