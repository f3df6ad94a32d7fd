//! [`StepExecutor`]: runs the step schedule with as little work per system as the schedule
//! allows.
//!
//! A step of a small network is a few microseconds, and the schedule runs it 10⁴ times per
//! simulated second, so what the executor does around each system counts: bevy's
//! single-threaded executor evaluates every system's run conditions (and those of its
//! sets), asks every system whether it is an `ApplyDeferred` (a virtual call), keeps two
//! bit sets, wraps each system in `catch_unwind`, and at the end of the step calls
//! `apply_deferred` on every system that ran. On CUBA 4000 that was about 6% of a step,
//! and more than a third of an empty network's step (`benches/benches/empty_step.rs`).
//!
//! Most step schedules have no run conditions at all. For those, [`StepExecutor`] runs
//! the systems in the schedule's order with a plan worked out once per build: which
//! systems are `ApplyDeferred` points and which have deferred buffers (`Commands`) to
//! apply. Everything else about a run is bevy's: the same order, the same system calls
//! (ticks, parameter validation, skipped systems), the same error handler, and deferred
//! buffers applied at the same points. A panic in a system unwinds out of the step as
//! it would from any function.
//!
//! As soon as a system or a set has a run condition (seen by [`ConditionScan`], a build
//! pass, while the conditions are still in the schedule graph), the schedule runs on
//! bevy's [`SingleThreadedExecutor`] instead, unchanged.
//!
//! **Many steps per run.** `Schedule::run` also has its own work around the executor: the
//! world's change-tick check, the check for a changed schedule graph, the error handler's
//! lookup. A [`StepRepeat`] handle lets the caller ask for `n` repetitions of the schedule
//! in one `Schedule::run` (as [`Simulation::run_steps`](crate::Simulation::run_steps) does
//! on one thread): the executor then runs the schedule `n` times, each exactly as one run
//! (every system, deferred buffers applied at the same points and at the end), with the
//! change-tick check before each repetition after the first. The graph cannot change
//! between them (only `Schedule` methods change it, and the schedule is running), so
//! nothing else of `Schedule::run` needs repeating. CUBA 4000 × 1 s on one thread: 1.5 and
//! 3.6 % faster (medians of the ratios of 20 and 15 interleaved pairs).

use std::any::TypeId;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bevy_ecs::error::{BevyError, ErrorContext};
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::graph::DiGraph;
use bevy_ecs::schedule::{
    ApplyDeferred, FixedBitSet, FlattenedDependencies, NodeId, ScheduleBuildError,
    ScheduleBuildPass, ScheduleGraph, SingleThreadedExecutor, SystemExecutor, SystemKey,
    SystemSchedule, SystemSetKey, SystemWithAccess,
};
use bevy_ecs::system::{RunSystemError, System};
use bevy_platform::hash::FixedHasher;
use indexmap::IndexSet;

/// What the executor does at one position of the schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Task {
    /// Run the system; it has nothing to apply afterwards.
    Run,
    /// Run the system and remember to apply its deferred buffers.
    RunDeferred,
    /// An `ApplyDeferred` point: apply the buffers of the systems run since the last one.
    Apply,
}

/// The step schedule's executor (see the module docs): bevy's single-threaded semantics,
/// with a lean path for schedules without run conditions.
pub struct StepExecutor {
    /// Set by [`ConditionScan`] at each build: some system or set has run conditions.
    conditions: Arc<AtomicBool>,
    /// Whether this build runs on `general` (read from `conditions` at `init`).
    use_general: bool,
    /// bevy's executor, for schedules with run conditions.
    general: SingleThreadedExecutor,
    /// One task per system, in schedule order; empty until the first run after a build.
    plan: Vec<Task>,
    /// Positions of systems run since the last apply whose buffers are still pending.
    unapplied: Vec<usize>,
    /// Apply pending buffers at the end of the schedule (bevy's default: yes).
    apply_final_deferred: bool,
    /// How many times the next run repeats the schedule (see the module docs).
    repeat: StepRepeat,
}

/// A handle to ask a [`StepExecutor`] to run its schedule several times in the next
/// `Schedule::run` (see the module docs). Cloned from [`StepExecutor::repeat`] before the
/// executor is installed.
#[derive(Clone, Debug, Default)]
pub struct StepRepeat(Arc<AtomicU64>);

impl StepRepeat {
    /// The next `Schedule::run` on this handle's executor runs the schedule `n` times (a
    /// count of 0 or 1 runs it once).
    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }

    /// Takes the pending count (at least 1), leaving none: the executor's side.
    fn take(&self) -> u64 {
        self.0.swap(0, Ordering::Relaxed).max(1)
    }

    /// Whether a count was set and not taken since (the schedule ran on another executor,
    /// or not at all), clearing it: the caller then runs the rest itself.
    pub fn unclaimed(&self) -> bool {
        self.0.swap(0, Ordering::Relaxed) > 1
    }
}

impl StepExecutor {
    /// An executor and the build pass that tells it whether the schedule has conditions;
    /// install both on the same schedule ([`Schedule::set_executor`],
    /// [`Schedule::add_build_pass`]).
    pub fn new() -> (Self, ConditionScan) {
        let conditions = Arc::new(AtomicBool::new(true));
        (
            Self {
                conditions: conditions.clone(),
                use_general: true,
                general: SingleThreadedExecutor::new(),
                plan: Vec::new(),
                unapplied: Vec::new(),
                apply_final_deferred: true,
                repeat: StepRepeat::default(),
            },
            ConditionScan(conditions),
        )
    }

    /// The handle that sets how many times this executor's next run repeats the schedule.
    pub fn repeat(&self) -> StepRepeat {
        self.repeat.clone()
    }

    /// One run of the schedule on the lean path (see the module docs).
    fn run_once(
        &mut self,
        systems: &mut [SystemWithAccess],
        world: &mut World,
        error_handler: fn(BevyError, ErrorContext),
    ) {
        for (i, &task) in self.plan.iter().enumerate() {
            if task == Task::Apply {
                apply_pending(&mut self.unapplied, systems, world);
                continue;
            }
            let system = &mut systems[i];
            if let Err(RunSystemError::Failed(err)) =
                system.run_without_applying_deferred((), world)
            {
                error_handler(
                    err,
                    ErrorContext::System {
                        name: system.name(),
                        last_run: system.get_last_run(),
                    },
                );
            }
            if task == Task::RunDeferred {
                self.unapplied.push(i);
            }
        }
        if self.apply_final_deferred {
            apply_pending(&mut self.unapplied, systems, world);
        }
    }
}

/// Applies the buffers of the systems at positions `unapplied`, in the order they ran.
fn apply_pending(unapplied: &mut Vec<usize>, systems: &mut [SystemWithAccess], world: &mut World) {
    for i in unapplied.drain(..) {
        systems[i].apply_deferred(world);
    }
}

impl SystemExecutor for StepExecutor {
    fn init(&mut self, schedule: &SystemSchedule) {
        self.use_general = self.conditions.load(Ordering::Relaxed);
        self.general.init(schedule);
        self.plan.clear();
        self.unapplied.clear();
    }

    fn run(
        &mut self,
        schedule: &mut SystemSchedule,
        world: &mut World,
        skip_systems: Option<&FixedBitSet>,
        error_handler: fn(BevyError, ErrorContext),
    ) {
        let times = self.repeat.take();
        if self.use_general || skip_systems.is_some() {
            for k in 0..times {
                if k > 0 {
                    world.check_change_ticks();
                }
                self.general
                    .run(schedule, world, skip_systems, error_handler);
            }
            return;
        }
        // SAFETY: systems are only called through the `System` trait, never replaced.
        let systems = unsafe { schedule.systems_mut() };
        if self.plan.len() != systems.len() {
            self.plan = systems
                .iter()
                .map(|s| {
                    if s.system_type() == TypeId::of::<ApplyDeferred>() {
                        Task::Apply
                    } else if s.has_deferred() {
                        Task::RunDeferred
                    } else {
                        Task::Run
                    }
                })
                .collect();
        }
        for k in 0..times {
            if k > 0 {
                world.check_change_ticks();
            }
            self.run_once(systems, world, error_handler);
        }
    }

    fn set_apply_final_deferred(&mut self, value: bool) {
        self.apply_final_deferred = value;
        self.general.set_apply_final_deferred(value);
    }
}

/// A schedule build pass that records whether any system or system set of the schedule has
/// run conditions, for [`StepExecutor`]. It adds no edges and changes nothing.
#[derive(Debug)]
pub struct ConditionScan(Arc<AtomicBool>);

impl ScheduleBuildPass for ConditionScan {
    type EdgeOptions = ();

    fn add_dependency(&mut self, _from: NodeId, _to: NodeId, _options: Option<&()>) {}

    fn collapse_set(
        &mut self,
        _set: SystemSetKey,
        _systems: &IndexSet<SystemKey, FixedHasher>,
        _dependency_flattening: &DiGraph<NodeId>,
    ) -> impl Iterator<Item = (NodeId, NodeId)> {
        std::iter::empty()
    }

    fn build(
        &mut self,
        _world: &mut World,
        graph: &mut ScheduleGraph,
        _dependency_flattened: FlattenedDependencies<'_>,
    ) -> Result<(), ScheduleBuildError> {
        let any = graph.systems.iter().any(|(_, _, c)| !c.is_empty())
            || graph.system_sets.iter().any(|(_, _, c)| !c.is_empty());
        self.0.store(any, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_ecs::schedule::ScheduleLabel;

    #[derive(ScheduleLabel, Clone, Debug, PartialEq, Eq, Hash)]
    struct Test;

    /// What the systems saw, in the order they ran.
    #[derive(Resource, Default)]
    struct Log(Vec<&'static str>);

    #[derive(Resource)]
    struct Enabled(bool);

    #[derive(Component)]
    struct Marker;

    /// A schedule on a [`StepExecutor`], and the flag its scan sets.
    fn schedule() -> (Schedule, Arc<AtomicBool>) {
        let mut s = Schedule::new(Test);
        let (executor, scan) = StepExecutor::new();
        let flag = scan.0.clone();
        s.set_executor(executor);
        s.add_build_pass(scan);
        (s, flag)
    }

    /// A schedule on a [`StepExecutor`], and its repeat handle.
    fn repeating_schedule() -> (Schedule, StepRepeat) {
        let mut s = Schedule::new(Test);
        let (executor, scan) = StepExecutor::new();
        let repeat = executor.repeat();
        s.set_executor(executor);
        s.add_build_pass(scan);
        (s, repeat)
    }

    fn world() -> World {
        let mut w = World::new();
        w.init_resource::<Log>();
        w.insert_resource(Enabled(false));
        w
    }

    fn first(mut log: ResMut<Log>) {
        log.0.push("first");
    }

    fn second(mut log: ResMut<Log>) {
        log.0.push("second");
    }

    fn spawn_marker(mut commands: Commands, mut log: ResMut<Log>) {
        commands.spawn(Marker);
        log.0.push("spawn");
    }

    fn count_markers(markers: Query<&Marker>, mut log: ResMut<Log>) {
        log.0.push(match markers.iter().count() {
            0 => "no marker",
            1 => "one marker",
            _ => "markers",
        });
    }

    fn enabled(flag: Res<Enabled>) -> bool {
        flag.0
    }

    #[test]
    fn runs_systems_in_schedule_order_without_conditions() {
        let (mut s, flag) = schedule();
        let mut w = world();
        s.add_systems((first, second).chain());
        s.run(&mut w);
        s.run(&mut w);
        assert!(
            !flag.load(Ordering::Relaxed),
            "no conditions: the lean path"
        );
        assert_eq!(
            w.resource::<Log>().0,
            ["first", "second", "first", "second"]
        );
    }

    #[test]
    fn applies_commands_at_the_inserted_sync_point_and_at_the_end() {
        let (mut s, flag) = schedule();
        let mut w = world();
        // bevy inserts an `ApplyDeferred` between a system with commands and a later one.
        s.add_systems((spawn_marker, count_markers).chain());
        s.run(&mut w);
        assert!(!flag.load(Ordering::Relaxed));
        assert_eq!(w.resource::<Log>().0, ["spawn", "one marker"]);

        // Without a later system, the end of the schedule applies them.
        let (mut s, _) = schedule();
        let mut w = world();
        s.add_systems(spawn_marker);
        s.run(&mut w);
        assert_eq!(w.query::<&Marker>().iter(&w).count(), 1);

        // ... unless the schedule says not to.
        let (mut s, _) = schedule();
        let mut w = world();
        s.set_apply_final_deferred(false);
        s.add_systems(spawn_marker);
        s.run(&mut w);
        assert_eq!(w.query::<&Marker>().iter(&w).count(), 0);
    }

    #[test]
    fn honours_run_conditions_of_systems_and_sets() {
        #[derive(SystemSet, Clone, Debug, PartialEq, Eq, Hash)]
        struct Gated;

        let (mut s, flag) = schedule();
        let mut w = world();
        s.add_systems((first, second.run_if(enabled)).chain());
        s.run(&mut w);
        assert!(flag.load(Ordering::Relaxed), "a condition: bevy's executor");
        w.resource_mut::<Enabled>().0 = true;
        s.run(&mut w);
        assert_eq!(w.resource::<Log>().0, ["first", "first", "second"]);

        let (mut s, flag) = schedule();
        let mut w = world();
        s.configure_sets(Gated.run_if(enabled));
        s.add_systems((first, second.in_set(Gated)).chain());
        s.run(&mut w);
        assert!(flag.load(Ordering::Relaxed));
        assert_eq!(w.resource::<Log>().0, ["first"]);

        // Conditions removed again (a rebuilt schedule): back to the lean path.
        let (mut s, flag) = schedule();
        let mut w = world();
        s.add_systems(first.run_if(enabled));
        s.run(&mut w);
        assert!(flag.load(Ordering::Relaxed));
        s.remove_systems_in_set(first, &mut w, Default::default())
            .unwrap();
        s.add_systems(second);
        s.run(&mut w);
        assert!(!flag.load(Ordering::Relaxed));
        assert_eq!(w.resource::<Log>().0, ["second"]);
    }

    #[test]
    fn reports_a_failing_system_to_the_error_handler() {
        use std::sync::atomic::AtomicUsize;
        static HANDLED: AtomicUsize = AtomicUsize::new(0);
        fn fails() -> Result {
            Err("no luck".into())
        }
        fn handler(error: BevyError, ctx: ErrorContext) {
            assert!(error.to_string().contains("no luck"));
            assert!(ctx.name().to_string().contains("fails"), "{ctx}");
            HANDLED.fetch_add(1, Ordering::Relaxed);
        }
        let (mut s, _) = schedule();
        let mut w = world();
        w.insert_resource(bevy_ecs::error::FallbackErrorHandler(handler));
        s.add_systems((fails, first).chain());
        s.run(&mut w);
        s.run(&mut w);
        assert_eq!(HANDLED.load(Ordering::Relaxed), 2);
        // The schedule went on after each failure.
        assert_eq!(w.resource::<Log>().0, ["first", "first"]);
    }

    #[test]
    fn repeats_the_schedule_as_often_as_asked_for_one_run() {
        let (mut s, repeat) = repeating_schedule();
        let mut w = world();
        s.add_systems((first, second).chain());
        repeat.set(3);
        s.run(&mut w);
        assert!(!repeat.unclaimed(), "the executor took the count");
        assert_eq!(w.resource::<Log>().0, ["first", "second"].repeat(3));
        // The count was for that run only.
        s.run(&mut w);
        assert_eq!(w.resource::<Log>().0.len(), 8);
        // A count of 0 or 1 is one run.
        for n in [0, 1] {
            repeat.set(n);
            s.run(&mut w);
        }
        assert_eq!(w.resource::<Log>().0.len(), 12);
    }

    #[test]
    fn each_repetition_applies_its_commands_before_the_next() {
        let (mut s, repeat) = repeating_schedule();
        let mut w = world();
        // No sync point after `spawn_marker`: only the end of a repetition applies it.
        s.add_systems((count_markers, spawn_marker).chain());
        repeat.set(3);
        s.run(&mut w);
        assert_eq!(
            w.resource::<Log>().0,
            [
                "no marker",
                "spawn",
                "one marker",
                "spawn",
                "markers",
                "spawn"
            ]
        );
        assert_eq!(w.query::<&Marker>().iter(&w).count(), 3);
    }

    #[test]
    fn repeats_on_bevys_executor_too_when_there_are_conditions() {
        let (mut s, repeat) = repeating_schedule();
        let mut w = world();
        w.resource_mut::<Enabled>().0 = true;
        s.add_systems((first, second.run_if(enabled)).chain());
        repeat.set(2);
        s.run(&mut w);
        assert_eq!(
            w.resource::<Log>().0,
            ["first", "second", "first", "second"]
        );
    }

    #[test]
    fn a_count_no_executor_took_is_reported_unclaimed() {
        let mut s = Schedule::new(Test);
        let repeat = StepExecutor::new().0.repeat();
        let mut w = world();
        s.add_systems(first);
        repeat.set(4);
        s.run(&mut w);
        assert_eq!(w.resource::<Log>().0, ["first"]);
        assert!(repeat.unclaimed());
        assert!(!repeat.unclaimed(), "cleared by the first look");
    }
}
