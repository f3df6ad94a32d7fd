//! [`Simulation`]: the world, the step schedule, the clock and the thread pool.
//!
//! The step schedule runs on one thread ([`StepExecutor`]: bevy's single-threaded
//! semantics with less work per system): with ~10 systems per step and 10⁴ steps per
//! simulated second, the multi-threaded executor's ~100 µs per run would cost a second per
//! simulated second (DESIGN.md, measured). Parallelism lives *inside* systems
//! (large arrays split over rayon's pool), and the whole run executes inside one
//! `ThreadPool::install`, so the pool is entered once per `run_steps` call, not per step.

use std::collections::BTreeMap;
use std::sync::Arc;

use bevy_ecs::prelude::*;

use bevy_ecs::schedule::{IntoScheduleConfigs, LogLevel, ScheduleBuildSettings, ScheduleConfigs};
use bevy_ecs::system::ScheduleSystem;

use crate::adaptation::{
    Adaptation, BatchReducer, BatchReduction, Mode, PopulationMode, RestingVoltage,
};
use crate::aggregate::{
    AggregateRule, Aggregation, FusedAggregation, aggregate_projection_currents,
};
use crate::clock::{Clock, first_step_at_or_after, steps_in};
use crate::connectivity::ConnectRule;
use crate::delay::{DelayLine, DelayMode, Delays, delay_steps, schedule_delayed_arrivals};
use crate::error::{BuildError, BuildErrorKind, ScheduleError};
use crate::executor::{StepExecutor, StepRepeat};
use crate::input::{InputVisibility, system_type_of};
use crate::model::{
    ClearHook, ModelSystems, NeuronModel, SlotChain, SpawnContext, SynapseModel, Trusted,
};
use crate::parallel::{CutPlan, SoloProbe, Team};
use crate::phase::{Phase, Step};
use crate::population::{
    Population, PopulationId, RefracLock, Refractory, SpikeTotal, Spikes, SynapticInput, Voltage,
};
use crate::projection::{
    IncomingProjections, Projection, ProjectionCurrent, ProjectionId, ProjectsFrom, ProjectsTo,
    Weights,
};
use crate::record::{
    ProjectionTraceRecorder, ProjectionVariable, SpikeEvent, SpikeRecorder, TraceRecorder,
    TraceVariable, record_projection_trace_step, record_step, record_trace_step,
};
use crate::registry::ModelRegistry;
use crate::stimulus::{
    CurrentStimulus, Noise, NoiseStimulus, Sine, SineStimulus, apply_current_stimuli,
};
use crate::value::{Param, ValueSpec};

/// Global settings of a simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Δt, ms (> 0).
    pub step_time: f64,
    /// Seed of every random stream.
    pub seed: u64,
    /// Batch copies of every population's state (≥ 1).
    pub batch_size: u32,
    /// Compute threads; 0 = one per available core.
    pub threads: usize,
    /// Train (adaptations and plasticity update) or eval.
    pub mode: Mode,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            step_time: 0.1,
            seed: 0,
            batch_size: 1,
            threads: 1,
            mode: Mode::Train,
        }
    }
}

/// The [`ModelSet`](crate::ModelSet) name of the engine's own systems.
pub const ENGINE: &str = "ember";

/// The [`ModelSet`](crate::ModelSet) name of the engine's delay system (installed with the
/// first delayed projection).
pub const DELAYS: &str = "ember.delays";

/// The pending key of the engine's current stimuli system ([`apply_current_stimuli`],
/// installed once a stimulus exists; its set is still [`ENGINE`]'s).
const STIMULI: &str = "ember.stimuli";

/// The pending key of the engine's trace recording system ([`record_trace_step`],
/// installed with the first trace recorder; its set is [`ENGINE`]'s).
const TRACES: &str = "ember.traces";

/// The pending key of the engine's projection trace recording system
/// ([`record_projection_trace_step`], installed with the first projection trace recorder;
/// its set is [`ENGINE`]'s).
const PROJECTION_TRACES: &str = "ember.projection_traces";

/// The pending key of the engine's aggregation system ([`aggregate_projection_currents`],
/// installed once a population's currents are not summed inside its own neuron pass; its
/// set is still [`ENGINE`]'s).
const AGGREGATION: &str = "ember.aggregation";

/// Options of a population beyond its model parameters.
#[derive(Clone, Debug)]
pub struct PopulationOptions {
    /// Hold the voltage of refractory neurons (default true).
    pub refrac_lock: bool,
    /// Initial voltage, mV (default: the model's resting voltage).
    pub voltage: Option<Param>,
    /// Initial refractory time, ms (default 0).
    pub refrac: Option<Param>,
    /// Initial adaptation, one value per term (default 0); only for adaptive models.
    pub adaptation: Option<Vec<f32>>,
    /// Train or eval for this population (default: the simulation's mode).
    pub mode: Option<Mode>,
    /// Reduction of adaptation updates over the batch copies.
    pub batch_reduction: BatchReduction,
    /// How the currents of incoming projections combine (default: sum).
    pub aggregate: AggregateRule,
}

impl Default for PopulationOptions {
    fn default() -> Self {
        Self {
            refrac_lock: true,
            voltage: None,
            refrac: None,
            adaptation: None,
            mode: None,
            batch_reduction: BatchReduction::Mean,
            aggregate: AggregateRule::Sum,
        }
    }
}

/// A simulation: a bevy [`World`] holding populations and projections as entities, the
/// step [`Schedule`], and the compute thread pool.
///
/// ```
/// use ember_engine::prelude::*;
/// let mut sim = Simulation::new(SimConfig::default()).unwrap();
/// sim.run_steps(10).unwrap();
/// assert_eq!(sim.clock().step, 10);
/// ```
pub struct Simulation {
    world: World,
    schedule: Schedule,
    pool: Arc<rayon::ThreadPool>,
    config: SimConfig,
    pub(crate) registry: ModelRegistry,
    slots: SlotChain,
    /// Systems of registered models (and engine features) not used yet, by model name.
    pending: BTreeMap<&'static str, Vec<ScheduleConfigs<ScheduleSystem>>>,
    populations: Vec<(String, Entity)>,
    projections: Vec<(String, Entity)>,
    /// The systems vouched for ([`crate::input`], [`crate::pull`]).
    trusted: Trusted,
    /// Team or driver alone, carried across `run_steps` calls.
    solo_probe: SoloProbe,
    /// The last run's cut plan, with the lead its team arrived at.
    cut_plan: CutPlan,
    /// Asks the step executor for several steps in one `Schedule::run`.
    repeat: StepRepeat,
}

impl Simulation {
    /// A new, empty simulation.
    pub fn new(config: SimConfig) -> Result<Self, BuildError> {
        if !(config.step_time.is_finite() && config.step_time > 0.0) {
            return Err(BuildError::invalid(
                "simulation.step_time",
                format!("expected a finite Δt > 0 ms, got {}", config.step_time),
            ));
        }
        if config.batch_size == 0 {
            return Err(BuildError::invalid(
                "simulation.batch_size",
                "expected at least 1 batch copy, got 0",
            ));
        }
        let threads = if config.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            config.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("ember-compute-{i}"))
            .build()
            .map_err(|e| BuildError::invalid("threads", format!("cannot start threads: {e}")))?;
        // bevy's `par_iter` needs its compute pool; user systems may use it.
        bevy_tasks::ComputeTaskPool::get_or_init(|| {
            bevy_tasks::TaskPoolBuilder::new()
                .num_threads(threads)
                .build()
        });

        let mut world = World::new();
        world.insert_resource(Clock {
            step: 0,
            step_time: config.step_time,
        });
        let mut schedule = Schedule::new(Step);
        let (executor, condition_scan) = StepExecutor::new();
        let repeat = executor.repeat();
        schedule.set_executor(executor);
        schedule.add_build_pass(condition_scan);
        schedule.set_build_settings(ScheduleBuildSettings {
            ambiguity_detection: LogLevel::Error,
            ..Default::default()
        });
        schedule.configure_sets(
            (
                Phase::Start,
                Phase::Stimuli,
                Phase::Synapses,
                Phase::Aggregate,
                Phase::Integrate,
                Phase::Threshold,
                Phase::Adapt,
                Phase::Plasticity,
                Phase::Record,
                Phase::End,
            )
                .chain(),
        );
        let mut sim = Self {
            world,
            schedule,
            pool: Arc::new(pool),
            config: SimConfig { threads, ..config },
            registry: ModelRegistry::default(),
            slots: SlotChain::default(),
            pending: BTreeMap::new(),
            populations: Vec::new(),
            projections: Vec::new(),
            // The engine's own `SynapticInput` users: the clear, the stimuli and the
            // aggregation run before any neuron pass; the trace recorder's `input` traces
            // are accounted per population.
            solo_probe: SoloProbe::default(),
            cut_plan: CutPlan::default(),
            repeat,
            trusted: Trusted {
                input: vec![
                    system_type_of(clear_inputs),
                    system_type_of(apply_current_stimuli),
                    system_type_of(aggregate_projection_currents),
                    system_type_of(record_trace_step),
                ],
                // The engine's systems that touch projection currents, spikes or weights:
                // the aggregation skips populations that sum in their pass (the only
                // ones pulling), the delay lines only read spikes before any neuron pass,
                // the spike recorder and learning rules run after every neuron pass and
                // read no current. (Not the projection trace recorder: within a run a
                // pulled current is one decay ahead after the neuron pass.)
                confined: vec![
                    system_type_of(aggregate_projection_currents),
                    system_type_of(schedule_delayed_arrivals),
                    system_type_of(record_step),
                    system_type_of(crate::plasticity::plasticity_system),
                ],
            },
        };
        // The engine's own systems take the first slot of their phases, through the same
        // path as models: everything registered later is ordered after them. Those that
        // many networks never need wait, with their slot reserved, until they are (every
        // system costs ~20 ns per step even when it finds nothing to do).
        sim.reserve(DELAYS, DELAYS, |s| {
            s.add(Phase::Synapses, schedule_delayed_arrivals);
        });
        sim.reserve(STIMULI, ENGINE, |s| {
            s.add(Phase::Stimuli, apply_current_stimuli);
        });
        sim.reserve(AGGREGATION, ENGINE, |s| {
            s.add(Phase::Aggregate, aggregate_projection_currents);
        });
        sim.reserve(TRACES, ENGINE, |s| {
            s.add(Phase::Record, record_trace_step);
        });
        sim.reserve(PROJECTION_TRACES, ENGINE, |s| {
            s.add(Phase::Record, record_projection_trace_step);
        });
        let mut engine = ModelSystems {
            schedule: &mut sim.schedule,
            model: ENGINE,
            slots: &mut sim.slots,
            pending: None,
            trusted: &mut sim.trusted,
        };
        engine
            .add(Phase::Start, clear_inputs)
            .add(Phase::Record, record_step)
            .add(Phase::End, tick_clock);
        Ok(sim)
    }

    /// The configuration (with `threads` resolved to the actual count).
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The clock.
    pub fn clock(&self) -> Clock {
        *self.world.resource::<Clock>()
    }

    /// The world, for reading components.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The world, for inserting components and resources of user systems.
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.world
    }

    /// Adds user systems to `phase`, ordered after everything registered in that phase so
    /// far (the engine's own systems, models, earlier user systems) and before anything
    /// registered later. This is the simplest way to extend a phase without ordering
    /// conflicts: a system that writes `SynapticInput` in [`Phase::Stimuli`] runs after the
    /// built-in current stimuli.
    pub fn add_systems_in<M>(
        &mut self,
        phase: Phase,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        let slot = self.slots.next_slot(&mut self.schedule, phase);
        self.schedule.add_systems(systems.in_set(slot));
        self
    }

    /// Adds user systems to the step schedule with full control: place them with
    /// `.in_set(Phase::…)` and order them against [`ModelSet`](crate::ModelSet)s or
    /// [`Slot`](crate::model::Slot)s yourself (conflicting systems without an order make
    /// [`Simulation::initialize`] fail).
    pub fn add_systems<M>(
        &mut self,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        self.schedule.add_systems(systems);
        self
    }

    /// The step schedule, for configuration beyond [`Simulation::add_systems`].
    pub fn schedule_mut(&mut self) -> &mut Schedule {
        &mut self.schedule
    }

    /// Registers a neuron model: its name becomes usable in scenarios and its systems are
    /// installed. Registering the same model twice is a no-op.
    pub fn register_neuron_model<M: NeuronModel>(&mut self) -> &mut Self {
        if self.registry.add_neuron::<M>() {
            let mut pending = Vec::new();
            let mut systems = ModelSystems {
                schedule: &mut self.schedule,
                model: M::NAME,
                slots: &mut self.slots,
                pending: Some(&mut pending),
                trusted: &mut self.trusted,
            };
            M::add_systems(&mut systems);
            self.pending.insert(M::NAME, pending);
        }
        self
    }

    /// Gives engine systems (placed by `add`, in the [`ModelSet`](crate::ModelSet)s of
    /// `model`) their slots now and keeps them out of the schedule, under `name`, until
    /// [`Simulation::install`].
    fn reserve(
        &mut self,
        name: &'static str,
        model: &'static str,
        add: impl FnOnce(&mut ModelSystems<'_>),
    ) {
        let mut pending = Vec::new();
        add(&mut ModelSystems {
            schedule: &mut self.schedule,
            model,
            slots: &mut self.slots,
            pending: Some(&mut pending),
            trusted: &mut self.trusted,
        });
        self.pending.insert(name, pending);
    }

    /// Adds the systems of `model` to the schedule if they are still pending (first use).
    fn install(&mut self, model: &'static str) {
        if let Some(configs) = self.pending.remove(model) {
            for c in configs {
                self.schedule.add_systems(c);
            }
        }
    }

    /// Registers a synapse model (see [`Simulation::register_neuron_model`]).
    pub fn register_synapse_model<S: SynapseModel>(&mut self) -> &mut Self {
        if self.registry.add_synapse::<S>() {
            let mut pending = Vec::new();
            let mut systems = ModelSystems {
                schedule: &mut self.schedule,
                model: S::NAME,
                slots: &mut self.slots,
                pending: Some(&mut pending),
                trusted: &mut self.trusted,
            };
            S::add_systems(&mut systems);
            self.pending.insert(S::NAME, pending);
        }
        self
    }

    /// The registered neuron model names, sorted.
    pub fn neuron_models(&self) -> Vec<&'static str> {
        self.registry.neuron_names()
    }

    /// The registered synapse model names, sorted.
    pub fn synapse_models(&self) -> Vec<&'static str> {
        self.registry.synapse_names()
    }

    /// Adds a population of `size` neurons of model `M` (registering the model if needed).
    pub fn add_population<M: NeuronModel>(
        &mut self,
        name: &str,
        size: u32,
        model: M,
        options: PopulationOptions,
    ) -> Result<PopulationId, BuildError> {
        self.add_population_at(
            &format!("population \"{name}\""),
            name,
            size,
            model,
            options,
        )
    }

    pub(crate) fn add_population_at<M: NeuronModel>(
        &mut self,
        path: &str,
        name: &str,
        size: u32,
        model: M,
        options: PopulationOptions,
    ) -> Result<PopulationId, BuildError> {
        check_name(&format!("{path}.name"), name)?;
        if self.populations.iter().any(|(n, _)| n == name) {
            return Err(BuildError::new(
                format!("{path}.name"),
                BuildErrorKind::Duplicate {
                    what: "population",
                    name: name.to_owned(),
                },
            ));
        }
        if size == 0 {
            return Err(BuildError::invalid(
                format!("{path}.size"),
                "expected at least 1 neuron, got 0",
            ));
        }
        if let Some(t) = self.registry.neuron_type(M::NAME)
            && t != std::any::TypeId::of::<M>()
        {
            return Err(BuildError::new(
                format!("{path}.model"),
                BuildErrorKind::Duplicate {
                    what: "neuron model (registered by another type)",
                    name: M::NAME.to_owned(),
                },
            ));
        }
        let n = size as usize;
        model
            .validate(n)
            .map_err(|e| BuildError::invalid(format!("{path}.params.{}", e.param), e.message))?;
        self.register_neuron_model::<M>();
        self.install(M::NAME);
        let batch = self.config.batch_size;
        let len = n * batch as usize;
        let voltage = match &options.voltage {
            Some(p) => init_array(&format!("{path}.init.voltage"), p, n, batch)?,
            None => (0..len).map(|k| model.initial_voltage(k % n)).collect(),
        };
        let refrac = match &options.refrac {
            Some(p) => {
                let r = init_array(&format!("{path}.init.refrac"), p, n, batch)?;
                if let Some(bad) = r.iter().find(|r| r.is_nan() || **r < 0.0) {
                    return Err(BuildError::invalid(
                        format!("{path}.init.refrac"),
                        format!("expected refractory times ≥ 0 ms, got {bad}"),
                    ));
                }
                r
            }
            None => vec![0.0; len],
        };
        let order = self.populations.len() as u32;
        let ctx = SpawnContext {
            name,
            step_time: self.config.step_time as f32,
            size,
            batch,
            seed: self.config.seed,
            init_adaptation: options.adaptation.as_deref(),
        };
        let rest: Vec<f32> = (0..n).map(|i| model.initial_voltage(i)).collect();
        let mut entity = self.world.spawn((
            Name::new(name.to_owned()),
            Population { size, batch, order },
            Voltage(voltage),
            Refractory(refrac),
            SynapticInput(vec![0.0; len]),
            Spikes::new(size, batch),
            RefracLock(options.refrac_lock),
            SpikeTotal(0),
            PopulationMode(options.mode.unwrap_or(self.config.mode)),
            BatchReducer(options.batch_reduction),
            RestingVoltage(rest),
            Aggregation::new(options.aggregate),
            ClearHook(M::clear),
        ));
        model.insert(&mut entity, &ctx);
        let id = entity.id();
        if let Some(init) = &options.adaptation {
            let terms = entity.get::<Adaptation>().map(Adaptation::terms);
            let problem = match terms {
                None => Some(format!("model `{}` has no adaptation", M::NAME)),
                Some(k) if k != init.len() => Some(format!(
                    "expected {k} values (one per adaptation term of model `{}`), got {}",
                    M::NAME,
                    init.len()
                )),
                Some(_) => None,
            };
            if let Some(message) = problem {
                entity.despawn();
                return Err(BuildError::invalid(
                    format!("{path}.init.adaptation"),
                    message,
                ));
            }
        }
        self.populations.push((name.to_owned(), id));
        Ok(PopulationId(id))
    }

    /// Adds a projection from `pre` to `post` with the given connection rule, weights and
    /// synapse model. `name` defaults to `"<pre>_to_<post>"`.
    pub fn add_projection<S: SynapseModel>(
        &mut self,
        name: Option<&str>,
        pre: PopulationId,
        post: PopulationId,
        rule: &ConnectRule,
        weights: ValueSpec,
        synapse: S,
    ) -> Result<ProjectionId, BuildError> {
        let name = match name {
            Some(n) => n.to_owned(),
            None => format!("{}_to_{}", self.name_of(pre.0), self.name_of(post.0)),
        };
        let path = format!("projection \"{name}\"");
        self.add_projection_at(&path, &name, pre, post, rule, weights, synapse)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "internal builder shared by the Rust and scenario paths"
    )]
    pub(crate) fn add_projection_at<S: SynapseModel>(
        &mut self,
        path: &str,
        name: &str,
        pre: PopulationId,
        post: PopulationId,
        rule: &ConnectRule,
        weights: ValueSpec,
        synapse: S,
    ) -> Result<ProjectionId, BuildError> {
        if self.projections.iter().any(|(n, _)| n == name) {
            return Err(BuildError::new(
                format!("{path}.name"),
                BuildErrorKind::Duplicate {
                    what: "projection",
                    name: name.to_owned(),
                },
            ));
        }
        if let Some(t) = self.registry.synapse_type(S::NAME)
            && t != std::any::TypeId::of::<S>()
        {
            return Err(BuildError::new(
                format!("{path}.synapse.model"),
                BuildErrorKind::Duplicate {
                    what: "synapse model (registered by another type)",
                    name: S::NAME.to_owned(),
                },
            ));
        }
        let pre_pop = *self.population(pre)?;
        let post_pop = *self.population(post)?;
        synapse
            .validate()
            .map_err(|e| BuildError::invalid(format!("{path}.synapse.{}", e.param), e.message))?;
        // Built on the simulation's pool: one pool, sized by `threads`, for all parallel work.
        let seed = self.config.seed;
        let conn = self
            .pool
            .install(|| rule.build(pre_pop.size, post_pop.size, pre == post, seed, name))
            .map_err(|e| BuildError::new(format!("{path}.connectivity"), e))?;
        let weights = weights
            .realize(conn.len(), self.config.seed, &format!("{name}.weight"))
            .map_err(|e| BuildError::new(format!("{path}.weight"), e))?;
        match &weights {
            Param::Scalar(w) if !w.is_finite() => {
                return Err(BuildError::invalid(
                    format!("{path}.weight"),
                    format!("expected a finite weight, got {w}"),
                ));
            }
            Param::PerElement(ws) => {
                if ws.len() != conn.len() {
                    return Err(BuildError::invalid(
                        format!("{path}.weight"),
                        format!(
                            "expected {} weights (one per synapse), got {}",
                            conn.len(),
                            ws.len()
                        ),
                    ));
                }
                if let Some(w) = ws.iter().find(|w| !w.is_finite()) {
                    return Err(BuildError::invalid(
                        format!("{path}.weight"),
                        format!("expected finite weights, got {w}"),
                    ));
                }
            }
            Param::Scalar(_) => {}
        }
        self.register_synapse_model::<S>();
        self.install(S::NAME);
        let batch = self.config.batch_size;
        let ctx = SpawnContext {
            name,
            step_time: self.config.step_time as f32,
            size: post_pop.size,
            batch,
            seed: self.config.seed,
            init_adaptation: None,
        };
        let order = self.projections.len() as u32;
        let mut entity = self.world.spawn((
            Name::new(name.to_owned()),
            Projection {
                pre_size: pre_pop.size,
                post_size: post_pop.size,
                batch,
                order,
            },
            ProjectsFrom(pre.0),
            ProjectsTo(post.0),
            conn,
            Weights(weights),
            ProjectionCurrent(vec![0.0; post_pop.len()]),
        ));
        synapse.insert(&mut entity, &ctx);
        let id = entity.id();
        self.projections.push((name.to_owned(), id));
        Ok(ProjectionId(id))
    }

    /// Gives projection `proj` transmission delays (ms; one value or one per synapse in
    /// canonical order, or a distribution), rounded to whole steps by `mode`; a spike of
    /// step k then reaches the synapse in step k + 1 + D. Delays longer than `max_delay`
    /// (ms, if given) or than 65 535 steps are rejected.
    pub fn set_delays(
        &mut self,
        proj: ProjectionId,
        delays: &ValueSpec,
        mode: DelayMode,
        max_delay: Option<f64>,
    ) -> Result<(), BuildError> {
        let path = format!("projection \"{}\"", self.name_of(proj.0));
        self.set_delays_at(&path, proj, delays, mode, max_delay)
    }

    pub(crate) fn set_delays_at(
        &mut self,
        path: &str,
        proj: ProjectionId,
        delays: &ValueSpec,
        mode: DelayMode,
        max_delay: Option<f64>,
    ) -> Result<(), BuildError> {
        let dpath = format!("{path}.delay");
        let dt = self.config.step_time;
        let (n, post, batch) = {
            let e = self.world.entity(proj.0);
            let p = e.get::<Projection>().ok_or_else(|| {
                BuildError::invalid(path, format!("{:?} is not a projection", proj.0))
            })?;
            let n = e
                .get::<crate::projection::Connectivity>()
                .map_or(0, |c| c.len());
            (n, p.post_size as usize, p.batch as usize)
        };
        let name = self.name_of(proj.0);
        let ms = delays
            .realize(n, self.config.seed, &format!("{name}.delay"))
            .map_err(|e| BuildError::new(dpath.clone(), e))?;
        let max_steps = match max_delay {
            Some(m) => Some(delay_steps(m, dt, mode).ok_or_else(|| {
                BuildError::invalid(
                    format!("{path}.max_delay"),
                    format!("expected a delay ≥ 0 ms, got {m}"),
                )
            })?),
            None => None,
        };
        let to_steps = |d: f32| -> Result<u16, BuildError> {
            let steps = delay_steps(f64::from(d), dt, mode).ok_or_else(|| {
                BuildError::invalid(&dpath, format!("expected a delay ≥ 0 ms, got {d}"))
            })?;
            if let Some(m) = max_steps
                && steps > m
            {
                return Err(BuildError::invalid(
                    &dpath,
                    format!(
                        "a delay of {d} ms ({steps} steps) exceeds the projection's \
                         max_delay of {} ms ({m} steps)",
                        max_delay.unwrap_or_default()
                    ),
                ));
            }
            u16::try_from(steps).map_err(|_| {
                BuildError::invalid(
                    &dpath,
                    format!("a delay of {d} ms is {steps} steps; at most 65535 are supported"),
                )
            })
        };
        let steps = match &ms {
            Param::Scalar(d) => Delays::Uniform(to_steps(*d)?),
            Param::PerElement(ds) => {
                Delays::compact(ds.iter().map(|&d| to_steps(d)).collect::<Result<_, _>>()?)
            }
        };
        if steps.max() == 0 {
            let mut e = self.world.entity_mut(proj.0);
            e.remove::<(Delays, DelayLine)>();
        } else {
            self.install(DELAYS);
            let mut e = self.world.entity_mut(proj.0);
            let line = DelayLine::new(steps.max(), post, batch);
            e.insert((steps, line));
        }
        Ok(())
    }

    /// Injects a constant current (nA) into `target` from `start` to `stop` ms (`None`: until
    /// the end); `neurons` selects neurons (default all), `amplitude` is one value or one per
    /// selected neuron.
    pub fn add_current(
        &mut self,
        target: PopulationId,
        amplitude: Param,
        start: f64,
        stop: Option<f64>,
        neurons: Option<Vec<u32>>,
    ) -> Result<Entity, BuildError> {
        let path = format!("stimulus on \"{}\"", self.name_of(target.0));
        self.add_current_at(&path, target, amplitude, start, stop, neurons)
    }

    pub(crate) fn add_current_at(
        &mut self,
        path: &str,
        target: PopulationId,
        amplitude: Param,
        start: f64,
        stop: Option<f64>,
        neurons: Option<Vec<u32>>,
    ) -> Result<Entity, BuildError> {
        let pop = *self.population(target)?;
        let count = match &neurons {
            Some(ns) => {
                check_indices(&format!("{path}.neurons"), ns, pop.size)?;
                ns.len()
            }
            None => pop.size as usize,
        };
        if let Some(l) = amplitude.len()
            && l != count
        {
            return Err(BuildError::invalid(
                format!("{path}.amplitude"),
                format!("expected {count} values (one per stimulated neuron), got {l}"),
            ));
        }
        if let Some(a) = amplitude.values().iter().find(|a| !a.is_finite()) {
            return Err(BuildError::invalid(
                format!("{path}.amplitude"),
                format!("expected a finite current, got {a}"),
            ));
        }
        if !(start.is_finite() && start >= 0.0) {
            return Err(BuildError::invalid(
                format!("{path}.start"),
                format!("expected a time ≥ 0 ms, got {start}"),
            ));
        }
        if let Some(stop) = stop
            && !(stop.is_finite() && stop >= start)
        {
            return Err(BuildError::invalid(
                format!("{path}.stop"),
                format!("expected a time ≥ start ({start} ms), got {stop}"),
            ));
        }
        let dt = self.config.step_time;
        let stim = CurrentStimulus {
            target: target.0,
            amplitude,
            start_step: first_step_at_or_after(start, dt),
            stop_step: stop.map_or(u64::MAX, |s| first_step_at_or_after(s, dt)),
            neurons,
            size: pop.size,
        };
        Ok(self.world.spawn(stim).id())
    }

    /// Injects a sinusoidal current into `target`:
    /// `I_j(t) = offset_j + amplitude_j · sin(2π · frequency · t / 1000 + phase)` nA, with
    /// the frequency in Hz and t = k·Δt ms the start of step k, while `start ≤ t < stop`
    /// (see [`Sine`]). Returns the stimulus entity.
    pub fn add_sine(&mut self, target: PopulationId, sine: Sine) -> Result<Entity, BuildError> {
        let path = format!("stimulus on \"{}\"", self.name_of(target.0));
        self.add_sine_at(&path, target, sine)
    }

    pub(crate) fn add_sine_at(
        &mut self,
        path: &str,
        target: PopulationId,
        sine: Sine,
    ) -> Result<Entity, BuildError> {
        let pop = *self.population(target)?;
        let count = stimulus_selection(path, sine.neurons.as_deref(), pop.size)?;
        stimulus_values(
            &format!("{path}.amplitude"),
            &sine.amplitude,
            count,
            "current",
        )?;
        stimulus_values(&format!("{path}.offset"), &sine.offset, count, "current")?;
        if !(sine.frequency.is_finite() && sine.frequency >= 0.0) {
            return Err(BuildError::invalid(
                format!("{path}.frequency"),
                format!("expected a finite frequency ≥ 0 Hz, got {}", sine.frequency),
            ));
        }
        if !sine.phase.is_finite() {
            return Err(BuildError::invalid(
                format!("{path}.phase"),
                format!("expected a finite phase in rad, got {}", sine.phase),
            ));
        }
        let (start_step, stop_step) =
            stimulus_window(path, sine.start, sine.stop, self.config.step_time)?;
        let stim = SineStimulus {
            target: target.0,
            amplitude: sine.amplitude,
            offset: sine.offset,
            frequency: sine.frequency,
            phase: sine.phase,
            start_step,
            stop_step,
            neurons: sine.neurons,
            size: pop.size,
        };
        Ok(self.world.spawn(stim).id())
    }

    /// Injects Gaussian noise into `target`: `I_j = mean_j + std_j · z` nA with z ~ N(0, 1)
    /// drawn anew per neuron and batch copy at the start of every `interval` (default Δt)
    /// from `start`, held in between (see [`Noise`]). Returns the stimulus entity.
    ///
    /// The draws come from the stream family `"<target>.stimulus.noise<m>"`, m being the
    /// number of noise stimuli added to `target` before this one, indexed by draw, batch copy
    /// and neuron; scenario files use the same keys, so they depend only on the seed, the
    /// target and the order of its noise stimuli.
    pub fn add_noise(&mut self, target: PopulationId, noise: Noise) -> Result<Entity, BuildError> {
        let path = format!("stimulus on \"{}\"", self.name_of(target.0));
        self.add_noise_at(&path, target, noise)
    }

    pub(crate) fn add_noise_at(
        &mut self,
        path: &str,
        target: PopulationId,
        noise: Noise,
    ) -> Result<Entity, BuildError> {
        let pop = *self.population(target)?;
        let count = stimulus_selection(path, noise.neurons.as_deref(), pop.size)?;
        stimulus_values(&format!("{path}.mean"), &noise.mean, count, "current")?;
        stimulus_values(
            &format!("{path}.std"),
            &noise.std,
            count,
            "standard deviation",
        )?;
        if let Some(bad) = noise.std.values().iter().find(|s| **s < 0.0) {
            return Err(BuildError::invalid(
                format!("{path}.std"),
                format!("expected a standard deviation ≥ 0 nA, got {bad}"),
            ));
        }
        let dt = self.config.step_time;
        let interval_steps = match noise.interval {
            None => 1,
            Some(ms) => steps_in(ms, dt).filter(|&n| n >= 1).ok_or_else(|| {
                BuildError::invalid(
                    format!("{path}.interval"),
                    format!(
                        "expected an interval > 0 ms that is a whole multiple of step_time = \
                         {dt} ms, got {ms}"
                    ),
                )
            })?,
        };
        let (start_step, stop_step) = stimulus_window(path, noise.start, noise.stop, dt)?;
        let ordinal = self
            .world
            .query::<&NoiseStimulus>()
            .iter(&self.world)
            .filter(|s| s.target == target.0)
            .count();
        let name = format!("{}.stimulus.noise{ordinal}", self.name_of(target.0));
        let stim = NoiseStimulus {
            target: target.0,
            mean: noise.mean,
            std: noise.std,
            interval_steps,
            start_step,
            stop_step,
            neurons: noise.neurons,
            size: pop.size,
            batch: pop.batch,
            family: crate::rng::StreamFamily::new(self.config.seed, &name),
            drawn: None,
            held: vec![0.0; count * pop.batch as usize],
        };
        Ok(self.world.spawn(stim).id())
    }

    /// Records `variables` of projection `proj` every `every` steps: `current` of the post
    /// neurons `neurons` (default all), `weight` of the synapses `synapses` (canonical
    /// indices, default all). A selection must come with its variable (`neurons` needs
    /// `current`, `synapses` needs `weight`). Returns the recorder entity.
    pub fn record_projection(
        &mut self,
        proj: ProjectionId,
        variables: Vec<ProjectionVariable>,
        neurons: Option<Vec<u32>>,
        synapses: Option<Vec<u64>>,
        every: u64,
    ) -> Result<Entity, BuildError> {
        let path = format!("record on \"{}\"", self.name_of(proj.0));
        self.record_projection_at(&path, proj, variables, neurons, synapses, every)
    }

    pub(crate) fn record_projection_at(
        &mut self,
        path: &str,
        proj: ProjectionId,
        mut variables: Vec<ProjectionVariable>,
        neurons: Option<Vec<u32>>,
        synapses: Option<Vec<u64>>,
        every: u64,
    ) -> Result<Entity, BuildError> {
        let (shape, synapse_count) = {
            let e = self.world.get_entity(proj.0).map_err(|_| {
                BuildError::invalid(path, format!("{:?} is not a projection", proj.0))
            })?;
            let shape = *e.get::<Projection>().ok_or_else(|| {
                BuildError::invalid(path, format!("{:?} is not a projection", proj.0))
            })?;
            let count = e
                .get::<crate::projection::Connectivity>()
                .map_or(0, |c| c.len());
            (shape, count as u64)
        };
        if every == 0 {
            return Err(BuildError::invalid(
                format!("{path}.every"),
                "expected a sampling interval of at least 1 step, got 0",
            ));
        }
        let mut seen = Vec::with_capacity(variables.len());
        variables.retain(|v| {
            let new = !seen.contains(v);
            seen.push(*v);
            new
        });
        if variables.is_empty() {
            return Err(BuildError::invalid(
                format!("{path}.variables"),
                "expected at least one projection variable (`current`, `weight`)",
            ));
        }
        let has = |v| variables.contains(&v);
        let neurons = match neurons {
            Some(_) if !has(ProjectionVariable::Current) => {
                return Err(BuildError::invalid(
                    format!("{path}.neurons"),
                    "`neurons` selects post neurons for `current`, which this record does not \
                     trace (select synapses of `weight` with `synapses`)",
                ));
            }
            Some(ns) => {
                check_indices(&format!("{path}.neurons"), &ns, shape.post_size)?;
                ns
            }
            None if has(ProjectionVariable::Current) => (0..shape.post_size).collect(),
            None => Vec::new(),
        };
        let synapses = match synapses {
            Some(_) if !has(ProjectionVariable::Weight) => {
                return Err(BuildError::invalid(
                    format!("{path}.synapses"),
                    "`synapses` selects synapses for `weight`, which this record does not trace",
                ));
            }
            Some(ss) => {
                if let Some(bad) = ss.iter().find(|&&i| i >= synapse_count) {
                    return Err(BuildError::invalid(
                        format!("{path}.synapses"),
                        format!(
                            "expected synapse indices < {synapse_count} (the projection's \
                             synapse count), got {bad}"
                        ),
                    ));
                }
                ss
            }
            None if has(ProjectionVariable::Weight) => (0..synapse_count).collect(),
            None => Vec::new(),
        };
        Ok(self
            .world
            .spawn(ProjectionTraceRecorder {
                target: proj.0,
                post_size: shape.post_size,
                batch: shape.batch,
                variables,
                neurons,
                synapses,
                every,
                steps: Vec::new(),
                values: Vec::new(),
            })
            .id())
    }

    /// A projection trace recorder.
    pub fn projection_trace(&self, recorder: Entity) -> Option<&ProjectionTraceRecorder> {
        self.world.get::<ProjectionTraceRecorder>(recorder)
    }

    /// Records the spikes of `target`; returns the recorder entity.
    pub fn record_spikes(&mut self, target: PopulationId) -> Result<Entity, BuildError> {
        let pop = *self.population(target)?;
        let reserve = (pop.len() / 8).max(64);
        Ok(self
            .world
            .spawn(SpikeRecorder::with_capacity(target.0, reserve))
            .id())
    }

    /// Records `variables` of `neurons` (default all) of `target` every `every` steps.
    pub fn record_trace(
        &mut self,
        target: PopulationId,
        variables: Vec<TraceVariable>,
        neurons: Option<Vec<u32>>,
        every: u64,
    ) -> Result<Entity, BuildError> {
        let path = format!("record on \"{}\"", self.name_of(target.0));
        self.record_trace_at(&path, target, variables, neurons, every)
    }

    pub(crate) fn record_trace_at(
        &mut self,
        path: &str,
        target: PopulationId,
        variables: Vec<TraceVariable>,
        neurons: Option<Vec<u32>>,
        every: u64,
    ) -> Result<Entity, BuildError> {
        let pop = *self.population(target)?;
        if every == 0 {
            return Err(BuildError::invalid(
                format!("{path}.every"),
                "expected a sampling interval of at least 1 step, got 0",
            ));
        }
        let neurons = match neurons {
            Some(ns) => {
                check_indices(&format!("{path}.neurons"), &ns, pop.size)?;
                ns
            }
            None => (0..pop.size).collect(),
        };
        Ok(self
            .world
            .spawn(TraceRecorder {
                target: target.0,
                size: pop.size,
                variables,
                neurons,
                every,
                steps: Vec::new(),
                values: Vec::new(),
            })
            .id())
    }

    /// The recorded spikes of a spike recorder, one [`SpikeEvent`] each (a new vector;
    /// [`Simulation::spike_recorder`] reads them in place). Empty if `recorder` is not one.
    pub fn recorded_spikes(&self, recorder: Entity) -> Vec<SpikeEvent> {
        self.spike_recorder(recorder)
            .map_or_else(Vec::new, |r| r.events().collect())
    }

    /// A spike recorder.
    pub fn spike_recorder(&self, recorder: Entity) -> Option<&SpikeRecorder> {
        self.world.get::<SpikeRecorder>(recorder)
    }

    /// A trace recorder.
    pub fn trace(&self, recorder: Entity) -> Option<&TraceRecorder> {
        self.world.get::<TraceRecorder>(recorder)
    }

    /// Looks up a population by name.
    pub fn population_id(&self, name: &str) -> Option<PopulationId> {
        self.populations
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| PopulationId(*e))
    }

    /// Looks up a projection by name.
    pub fn projection_id(&self, name: &str) -> Option<ProjectionId> {
        self.projections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, e)| ProjectionId(*e))
    }

    /// Population names and handles in declaration order.
    pub fn populations(&self) -> impl Iterator<Item = (&str, PopulationId)> {
        self.populations
            .iter()
            .map(|(n, e)| (n.as_str(), PopulationId(*e)))
    }

    /// Projection names and handles in creation order.
    pub fn projections(&self) -> impl Iterator<Item = (&str, ProjectionId)> {
        self.projections
            .iter()
            .map(|(n, e)| (n.as_str(), ProjectionId(*e)))
    }

    /// A component of a population (e.g. `Voltage`), if present.
    pub fn get<C: Component>(&self, id: PopulationId) -> Option<&C> {
        self.world.get::<C>(id.0)
    }

    /// A component of a projection (e.g. `Connectivity`), if present.
    pub fn get_projection<C: Component>(&self, id: ProjectionId) -> Option<&C> {
        self.world.get::<C>(id.0)
    }

    /// Adds `values` to (or, if `multiplicative`, multiplies by them) the membrane voltage of
    /// population `pop`, outside integration (Sapicore's `inject`).
    ///
    /// `values` holds one value for every neuron, one per neuron (applied to every batch
    /// copy), or one per neuron and batch copy (`size × batch`, batch-major). The change acts
    /// on the `Voltage` component, so it works for every model: built-in models integrate
    /// from the new voltage in the next step; models whose voltage is part of a larger state
    /// (equation neurons) fold it in at the start of their next step.
    pub fn inject(
        &mut self,
        pop: PopulationId,
        values: &[f32],
        multiplicative: bool,
    ) -> Result<(), BuildError> {
        let world = &mut self.world;
        let name = world
            .get::<Name>(pop.0)
            .map_or_else(|| format!("{:?}", pop.0), |n| n.as_str().to_owned());
        let path = format!("inject into \"{name}\"");
        let Some(&Population { size, batch, .. }) = world.get::<Population>(pop.0) else {
            return Err(BuildError::invalid(path, "not a population"));
        };
        let (n, len) = (size as usize, size as usize * batch as usize);
        if ![1, n, len].contains(&values.len()) {
            return Err(BuildError::invalid(
                format!("{path}.values"),
                format!(
                    "expected 1 value, {n} (one per neuron) or {len} (one per neuron and batch \
                     copy), got {}",
                    values.len()
                ),
            ));
        }
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(BuildError::invalid(
                format!("{path}.values"),
                format!("expected finite values, got {bad}"),
            ));
        }
        let Some(mut voltage) = world.get_mut::<Voltage>(pop.0) else {
            return Err(BuildError::invalid(path, "the population has no voltage"));
        };
        for (k, v) in voltage.0.iter_mut().enumerate() {
            let a = match values.len() {
                1 => values[0],
                l if l == len => values[k],
                _ => values[k % n],
            };
            if multiplicative {
                *v *= a;
            } else {
                *v += a;
            }
        }
        Ok(())
    }

    /// Resets the state to rest, like Inferno's `clear`: voltages to each neuron's resting
    /// voltage, refractory times, inputs, spikes and synaptic currents to zero; adaptations
    /// to zero unless `keep_adaptations` (Inferno's default keeps them). Parameters,
    /// connectivity, weights, recorded data and the clock are kept.
    pub fn clear(&mut self, keep_adaptations: bool) {
        let mut pops = self.world.query::<(
            &Population,
            &RestingVoltage,
            &mut Voltage,
            &mut Refractory,
            &mut SynapticInput,
            &mut Spikes,
            Option<&mut Adaptation>,
        )>();
        for (pop, rest, mut v, mut r, mut input, mut spikes, adaptation) in
            pops.iter_mut(&mut self.world)
        {
            for copy in v.0.chunks_exact_mut(pop.size as usize) {
                copy.copy_from_slice(&rest.0);
            }
            r.0.fill(0.0);
            input.0.fill(0.0);
            for b in 0..spikes.batches() {
                spikes.batch_mut(b);
            }
            if let (false, Some(mut a)) = (keep_adaptations, adaptation) {
                a.values_mut().fill(0.0);
            }
        }
        let mut currents = self.world.query::<&mut ProjectionCurrent>();
        for mut c in currents.iter_mut(&mut self.world) {
            c.0.fill(0.0);
        }
        let mut lines = self.world.query::<&mut DelayLine>();
        for mut line in lines.iter_mut(&mut self.world) {
            line.clear();
        }
        let hooks: Vec<(Entity, ClearHook)> = self
            .world
            .query::<(Entity, &ClearHook)>()
            .iter(&self.world)
            .map(|(e, h)| (e, *h))
            .collect();
        for (e, hook) in hooks {
            (hook.0)(&mut self.world.entity_mut(e), keep_adaptations);
        }
        // Learning traces restart (weights, the learned state, are kept).
        self.reset_plasticity();
    }

    /// Builds the step schedule, reporting conflicts between systems that have no order.
    /// It also adds the engine systems the network needs by now (stimuli, aggregation,
    /// trace recorders: they join with their first user) and refreshes what fused passes
    /// may leave out ([`crate::input`]); [`Simulation::run_steps`] calls it, and whoever
    /// runs the step schedule by hand must call it after changing the network.
    pub fn initialize(&mut self) -> Result<(), ScheduleError> {
        self.install_needed_engine_systems();
        self.schedule
            .initialize(&mut self.world)
            .map_err(|e| ScheduleError(e.to_string(self.schedule.graph(), &self.world)))?;
        InputVisibility::refresh(&mut self.world, &self.schedule, &self.trusted.input);
        // A team pulls projections into the neuron pass to save a section per step; where
        // no population is large enough to be cut (`PARALLEL_MIN_ELEMENTS`), every neuron
        // pass runs whole on the driver and there is no section to save, so the network
        // is set up as for one thread (decay carried, delivery by the synapse system, which
        // still splits steps with many events): the pull's bookkeeping cost CUBA 4 000
        // 0.87× of one thread's speed on 2 threads.
        let team_cuts = self.any_population_cut();
        let (world, confined) = (&mut self.world, &self.trusted.confined);
        crate::pull::refresh(world, &self.schedule, confined, team_cuts);
        Ok(())
    }

    /// Whether a team of this simulation's threads cuts any population's arrays: one has
    /// at least [`PARALLEL_MIN_ELEMENTS`](crate::parallel::PARALLEL_MIN_ELEMENTS) neurons
    /// per copy.
    fn any_population_cut(&mut self) -> bool {
        self.config.threads > 1
            && self
                .world
                .query::<&Population>()
                .iter(&self.world)
                .any(|p| p.size as usize >= crate::parallel::PARALLEL_MIN_ELEMENTS)
    }

    /// Installs the current stimuli, aggregation and trace recording systems once something
    /// needs them: a stimulus component (however it was added), a population whose incoming
    /// currents its neuron pass does not sum itself, a trace recorder.
    fn install_needed_engine_systems(&mut self) {
        if self.pending.contains_key(TRACES) {
            let w = &mut self.world;
            if w.query::<&TraceRecorder>().iter(w).next().is_some() {
                self.install(TRACES);
            }
        }
        if self.pending.contains_key(PROJECTION_TRACES) {
            let w = &mut self.world;
            if w.query::<&ProjectionTraceRecorder>()
                .iter(w)
                .next()
                .is_some()
            {
                self.install(PROJECTION_TRACES);
            }
        }
        if self.pending.contains_key(STIMULI) {
            let w = &mut self.world;
            let any = w.query::<&CurrentStimulus>().iter(w).next().is_some()
                || w.query::<&SineStimulus>().iter(w).next().is_some()
                || w.query::<&NoiseStimulus>().iter(w).next().is_some();
            if any {
                self.install(STIMULI);
            }
        }
        if self.pending.contains_key(AGGREGATION) {
            let w = &mut self.world;
            let any = w
                .query::<(&IncomingProjections, &Aggregation, Has<FusedAggregation>)>()
                .iter(w)
                .any(|(incoming, agg, fused)| {
                    let summed_in_pass = fused && agg.fused();
                    !incoming.entities().is_empty() && !summed_in_pass
                });
            if any {
                self.install(AGGREGATION);
            }
        }
    }

    /// Runs `n` steps.
    pub fn run_steps(&mut self, n: u64) -> Result<(), ScheduleError> {
        self.initialize()?;
        let end = self.clock().step.saturating_add(n);
        self.world.insert_resource(crate::pull::RunSpan { end });
        let (world, schedule) = (&mut self.world, &mut self.schedule);
        let threads = self.pool.current_num_threads();
        if threads == 1 || n == 0 {
            // All `n` steps in one `Schedule::run` (`crate::executor`, "Many steps per
            // run"); one at a time if the executor was replaced and did not take the count.
            let repeat = &self.repeat;
            self.pool.install(|| {
                if n > 0 {
                    repeat.set(n);
                    schedule.run(world);
                    if repeat.unclaimed() {
                        for _ in 1..n {
                            schedule.run(world);
                        }
                    }
                }
            });
            self.world.remove_resource::<crate::pull::RunSpan>();
            return Ok(());
        }
        // Every pool thread joins the team for the whole run: thread 0 drives the steps,
        // the others run the parallel sections the systems hand out (see `parallel`).
        // Small populations stay whole on the driver (see `CutPlan`).
        let sizes: Vec<usize> = world
            .query::<&Population>()
            .iter(world)
            .map(|p| p.size as usize)
            .collect();
        // The team moves the plan's lead to even out the threads' times; a later run with
        // the same plan starts from where this one left it.
        let mut plan = CutPlan::new(threads, &sizes, crate::parallel::PARALLEL_MIN_ELEMENTS);
        plan.resume(&self.cut_plan);
        let team = Team::new(threads).with_plan(plan);
        let probe = &mut self.solo_probe;
        let driver = std::sync::Mutex::new(Some((world, schedule, probe)));
        self.pool.broadcast(|ctx| {
            if ctx.index() == 0 {
                let taken = driver.lock().map(|mut d| d.take()).ok().flatten();
                if let Some((world, schedule, probe)) = taken {
                    team.drive_steps(n, probe, || schedule.run(world));
                }
            } else {
                team.member(ctx.index());
            }
        });
        self.cut_plan = team.plan().clone();
        self.world.remove_resource::<crate::pull::RunSpan>();
        Ok(())
    }

    /// Tests: moves the part of each large population that the driving thread takes in the
    /// next [`Simulation::run_steps`] on several threads (a fraction, `0..=1`), as the
    /// team's balancing does between steps. Results must not depend on it. Takes effect
    /// once a run on the same threads has made the plan.
    #[doc(hidden)]
    pub fn set_driver_lead(&mut self, fraction: f64) {
        self.cut_plan.set_lead(fraction);
    }

    /// Runs for `duration` ms, which must be a multiple of Δt (within 10⁻⁹).
    pub fn run_for(&mut self, duration: f64) -> Result<(), RunForError> {
        let n = steps_in(duration, self.config.step_time).ok_or(RunForError::NotAMultiple {
            duration,
            step_time: self.config.step_time,
        })?;
        self.run_steps(n).map_err(RunForError::Schedule)
    }

    fn population(&self, id: PopulationId) -> Result<&Population, BuildError> {
        self.world.get::<Population>(id.0).ok_or_else(|| {
            BuildError::invalid("population", format!("{:?} is not a population", id.0))
        })
    }

    fn name_of(&self, e: Entity) -> String {
        self.world
            .get::<Name>(e)
            .map_or_else(|| format!("{e:?}"), |n| n.as_str().to_owned())
    }
}

/// Why [`Simulation::run_for`] could not run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RunForError {
    /// The duration is not a whole number of steps.
    #[error("duration {duration} ms is not a non-negative multiple of Δt = {step_time} ms")]
    NotAMultiple {
        /// Requested duration, ms.
        duration: f64,
        /// Δt, ms.
        step_time: f64,
    },
    /// The schedule could not be built.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
}

/// Names are identifiers: `[A-Za-z][A-Za-z0-9_]*`.
pub(crate) fn check_name(path: &str, name: &str) -> Result<(), BuildError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(BuildError::invalid(
            path,
            format!("expected a name matching [A-Za-z][A-Za-z0-9_]*, got `{name}`"),
        ))
    }
}

fn check_indices(path: &str, ns: &[u32], size: u32) -> Result<(), BuildError> {
    if let Some(bad) = ns.iter().find(|&&j| j >= size) {
        return Err(BuildError::invalid(
            path,
            format!("expected neuron indices < {size}, got {bad}"),
        ));
    }
    Ok(())
}

/// Checks a stimulus's `neurons` against the target size; returns the stimulated count.
fn stimulus_selection(path: &str, neurons: Option<&[u32]>, size: u32) -> Result<usize, BuildError> {
    match neurons {
        Some(ns) => {
            check_indices(&format!("{path}.neurons"), ns, size)?;
            Ok(ns.len())
        }
        None => Ok(size as usize),
    }
}

/// Checks a stimulus value: finite, and one value or one per stimulated neuron.
fn stimulus_values(path: &str, p: &Param, count: usize, what: &str) -> Result<(), BuildError> {
    if let Some(l) = p.len()
        && l != count
    {
        return Err(BuildError::invalid(
            path,
            format!("expected {count} values (one per stimulated neuron), got {l}"),
        ));
    }
    if let Some(a) = p.values().iter().find(|a| !a.is_finite()) {
        return Err(BuildError::invalid(
            path,
            format!("expected a finite {what}, got {a}"),
        ));
    }
    Ok(())
}

/// Checks `0 ≤ start ≤ stop` (ms) and returns the first step on and the first step off.
fn stimulus_window(
    path: &str,
    start: f64,
    stop: Option<f64>,
    dt: f64,
) -> Result<(u64, u64), BuildError> {
    if !(start.is_finite() && start >= 0.0) {
        return Err(BuildError::invalid(
            format!("{path}.start"),
            format!("expected a time ≥ 0 ms, got {start}"),
        ));
    }
    if let Some(stop) = stop
        && !(stop.is_finite() && stop >= start)
    {
        return Err(BuildError::invalid(
            format!("{path}.stop"),
            format!("expected a time ≥ start ({start} ms), got {stop}"),
        ));
    }
    Ok((
        first_step_at_or_after(start, dt),
        stop.map_or(u64::MAX, |s| first_step_at_or_after(s, dt)),
    ))
}

/// Expands an initial-value parameter to `size × batch` elements (per-neuron values repeat
/// in every batch copy).
fn init_array(path: &str, p: &Param, n: usize, batch: u32) -> Result<Vec<f32>, BuildError> {
    if let Some(l) = p.len()
        && l != n
    {
        return Err(BuildError::invalid(
            path,
            format!("expected {n} values (one per neuron), got {l}"),
        ));
    }
    if let Some(v) = p.values().iter().find(|v| !v.is_finite()) {
        return Err(BuildError::invalid(
            path,
            format!("expected finite values, got {v}"),
        ));
    }
    let one = p.to_vec(n);
    Ok((0..batch).flat_map(|_| one.iter().copied()).collect())
}

/// [`Phase::Start`]: zero every population's input that was written since the last clear
/// (the others still hold zeros: see [`crate::input`]).
fn clear_inputs(mut q: Query<&mut SynapticInput>) {
    for mut input in &mut q {
        if !input.is_changed() {
            continue;
        }
        let min = crate::parallel::PARALLEL_MIN_ELEMENTS;
        crate::parallel::for_each_part(&mut input.0[..], min, |_, part| part.fill(0.0));
    }
}

/// [`Phase::End`]: the clock ticks.
fn tick_clock(mut clock: ResMut<Clock>) {
    clock.step += 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_steps_runs_every_step_on_an_executor_the_user_installed() {
        use bevy_ecs::schedule::SingleThreadedExecutor;
        #[derive(Resource, Default)]
        struct Steps(Vec<u64>);
        fn log_step(clock: Res<Clock>, mut steps: ResMut<Steps>) {
            steps.0.push(clock.step);
        }
        for replaced in [false, true] {
            let config = SimConfig {
                threads: 1,
                ..Default::default()
            };
            let mut sim = Simulation::new(config).unwrap();
            sim.world_mut().init_resource::<Steps>();
            sim.add_systems_in(Phase::Record, log_step);
            if replaced {
                sim.schedule_mut()
                    .set_executor(SingleThreadedExecutor::new());
            }
            sim.run_steps(5).unwrap();
            sim.run_steps(0).unwrap();
            sim.run_steps(2).unwrap();
            assert_eq!(sim.clock().step, 7);
            assert_eq!(sim.world().resource::<Steps>().0, [0, 1, 2, 3, 4, 5, 6]);
        }
    }

    #[test]
    fn rejects_bad_config() {
        assert!(
            Simulation::new(SimConfig {
                step_time: 0.0,
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            Simulation::new(SimConfig {
                step_time: f64::NAN,
                ..Default::default()
            })
            .is_err()
        );
        assert!(
            Simulation::new(SimConfig {
                batch_size: 0,
                ..Default::default()
            })
            .is_err()
        );
    }

    #[test]
    fn run_for_counts_steps_and_rejects_fractions() {
        let mut sim = Simulation::new(SimConfig::default()).unwrap();
        sim.run_for(1.0).unwrap();
        assert_eq!(sim.clock().step, 10);
        assert!(sim.run_for(0.05).is_err());
        assert_eq!(sim.clock().step, 10);
    }

    #[test]
    fn names_must_be_identifiers() {
        assert!(check_name("p", "exc_1").is_ok());
        assert!(check_name("p", "1exc").is_err());
        assert!(check_name("p", "").is_err());
        assert!(check_name("p", "a-b").is_err());
    }
}
