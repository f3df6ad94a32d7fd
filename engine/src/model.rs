//! Extension points: neuron and synapse models, and where their systems run.
//!
//! A model is a parameter component plus a kernel plus systems. Registering it
//! ([`Simulation::register_neuron_model`](crate::Simulation::register_neuron_model),
//! [`Simulation::register_synapse_model`](crate::Simulation::register_synapse_model)) makes
//! its name usable in scenario files and installs its systems once. The built-in models in
//! `ember-models` use exactly this path; nothing in the engine knows about any of them.
//!
//! Model systems are placed with [`ModelSystems::add`], which puts each model's systems in a
//! [`ModelSet`] inside the requested phase, ordered after the previously registered model's
//! set in that phase. The position is fixed at registration, but the systems join the
//! schedule only when the model's first population or projection is added: a registered
//! model that a network does not use costs nothing per step. Two models' systems typically write the same components on different
//! entities (every neuron model writes `Voltage`); the explicit order keeps the schedule free
//! of ambiguities and the execution order a function of registration order alone.

use std::any::TypeId;
use std::collections::BTreeMap;

use bevy_ecs::prelude::*;
use bevy_ecs::schedule::{IntoScheduleConfigs, ScheduleConfigs};
use bevy_ecs::system::ScheduleSystem;

use crate::error::{BuildError, BuildErrorKind, ParamError};
use crate::phase::Phase;
use crate::value::{Param, ValueSpec};

/// What a model needs to know when its components are inserted.
#[derive(Clone, Debug)]
pub struct SpawnContext<'a> {
    /// The population's or projection's name.
    pub name: &'a str,
    /// Δt, ms.
    pub step_time: f32,
    /// Number of neurons (populations) or post neurons (projections).
    pub size: u32,
    /// Batch copies.
    pub batch: u32,
    /// Scenario seed.
    pub seed: u64,
    /// Initial adaptation values, one per term, if given (`init.adaptation`). Adaptive
    /// models pass it to [`Adaptation::new`](crate::Adaptation::new); the engine checks its
    /// length against the model's number of terms.
    pub init_adaptation: Option<&'a [f32]>,
}

/// A neuron model: its parameter component, how it is read from a scenario, validated and
/// initialised, and the systems that advance it.
///
/// The systems must, in [`Phase::Integrate`]/[`Phase::Threshold`], update `Voltage`,
/// `Refractory` and `Spikes` of every population carrying `Self` from `SynapticInput`.
pub trait NeuronModel: Component + Sized {
    /// Registry name used in scenario files (`model = "lif"`).
    const NAME: &'static str;
    /// The parameter names the model accepts, for error messages and docs.
    const PARAMS: &'static [&'static str];

    /// Reads the parameters from a scenario's `params` table.
    fn from_params(params: &mut ParamReader<'_>) -> Result<Self, BuildError>;

    /// Checks the parameters against the model's rules for a population of `size` neurons
    /// (per-neuron arrays must have `size` entries).
    fn validate(&self, size: usize) -> Result<(), ParamError>;

    /// The default initial voltage of neuron `i` (its resting voltage), mV.
    fn initial_voltage(&self, i: usize) -> f32;

    /// Adds the model's systems to the step schedule; called once per simulation.
    fn add_systems(systems: &mut ModelSystems<'_>);

    /// Inserts the model's components on its population entity. The default inserts `self`;
    /// models that precompute per-Δt coefficients insert those too. When it runs, the entity
    /// already holds the engine's components with their initial values (`Voltage` from
    /// `init.voltage` or [`NeuronModel::initial_voltage`], `Refractory`, `SynapticInput`,
    /// `Spikes`, …), so a model may derive its own initial state from them.
    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let _ = ctx;
        entity.insert(self);
    }

    /// Resets model state the engine does not know about, for
    /// [`Simulation::clear`](crate::Simulation::clear) (which already resets `Voltage` to
    /// rest, `Refractory`, inputs, spikes and — unless `keep_adaptations` — `Adaptation`).
    /// The default does nothing.
    fn clear(entity: &mut EntityWorldMut<'_>, keep_adaptations: bool) {
        let _ = (entity, keep_adaptations);
    }
}

/// The [`NeuronModel::clear`] of a population's model, stored on the population.
#[derive(Component, Clone, Copy)]
pub struct ClearHook(pub fn(&mut EntityWorldMut<'_>, bool));

/// A synapse model: its parameter component and the systems that turn presynaptic spikes
/// into the projection's `ProjectionCurrent` in [`Phase::Synapses`].
pub trait SynapseModel: Component + Sized {
    /// Registry name used in scenario files (`synapse = { model = "delta_current", … }`).
    const NAME: &'static str;
    /// The parameter names the model accepts.
    const PARAMS: &'static [&'static str];

    /// Reads the parameters from a scenario's `synapse` table (without `model`).
    fn from_params(params: &mut ParamReader<'_>) -> Result<Self, BuildError>;

    /// Checks the parameters against the model's rules.
    fn validate(&self) -> Result<(), ParamError>;

    /// Adds the model's systems to the step schedule; called once per simulation.
    fn add_systems(systems: &mut ModelSystems<'_>);

    /// Inserts the model's components on its projection entity (default: `self`).
    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let _ = ctx;
        entity.insert(self);
    }
}

/// The system set of one model's systems within one phase (`model = "ember"` for the
/// engine's own systems). Use it to order a system relative to a model:
/// `.after(ModelSet { model: "lif", phase: Phase::Integrate })`.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ModelSet {
    /// The model's registry name.
    pub model: &'static str,
    /// The phase.
    pub phase: Phase,
}

/// The `index`-th slot of a phase: every group of systems placed with
/// [`ModelSystems::add`] or [`Simulation::add_systems_in`](crate::Simulation::add_systems_in)
/// gets the next slot, and slot n runs after slot n − 1.
#[derive(SystemSet, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    /// The phase.
    pub phase: Phase,
    /// Position within the phase, in registration order.
    pub index: u32,
}

/// The next free slot of each phase.
#[derive(Default)]
pub(crate) struct SlotChain {
    next: BTreeMap<Phase, u32>,
}

impl SlotChain {
    /// Allocates the next slot of `phase`, ordered after the previous one.
    pub(crate) fn next_slot(&mut self, schedule: &mut Schedule, phase: Phase) -> Slot {
        let index = self.next.entry(phase).or_insert(0);
        let slot = Slot {
            phase,
            index: *index,
        };
        if *index == 0 {
            schedule.configure_sets(slot.in_set(phase));
        } else {
            let prev = Slot {
                phase,
                index: *index - 1,
            };
            schedule.configure_sets(slot.in_set(phase).after(prev));
        }
        *index += 1;
        slot
    }
}

/// Places a model's systems in the step schedule (see the module docs).
pub struct ModelSystems<'a> {
    pub(crate) schedule: &'a mut Schedule,
    pub(crate) model: &'static str,
    pub(crate) slots: &'a mut SlotChain,
    /// Where the systems go until the model's first population or projection exists
    /// (`None`: straight into the schedule).
    pub(crate) pending: Option<&'a mut Vec<ScheduleConfigs<ScheduleSystem>>>,
    /// The systems the simulation vouches for.
    pub(crate) trusted: &'a mut Trusted,
}

/// The system types a simulation vouches for (by [`System::system_type`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct Trusted {
    /// `SynapticInput` users that never see another population's total ([`crate::input`]).
    pub(crate) input: Vec<TypeId>,
    /// Systems confined to their own model's state, or to after the neuron passes
    /// ([`crate::pull`]).
    pub(crate) confined: Vec<TypeId>,
}

impl Trusted {
    fn vouch(list: &mut Vec<TypeId>, kind: TypeId) {
        if !list.contains(&kind) {
            list.push(kind);
        }
    }
}

impl ModelSystems<'_> {
    /// Adds `systems` to `phase`, after everything registered earlier in that phase (the
    /// engine's own systems, earlier models, earlier user systems). The systems are also in
    /// [`ModelSet`] `{ model, phase }`.
    pub fn add<M>(
        &mut self,
        phase: Phase,
        systems: impl IntoScheduleConfigs<ScheduleSystem, M>,
    ) -> &mut Self {
        let slot = self.slots.next_slot(self.schedule, phase);
        let set = ModelSet {
            model: self.model,
            phase,
        };
        let configs = systems.into_configs().in_set(slot).in_set(set);
        match &mut self.pending {
            Some(pending) => pending.push(configs),
            None => {
                self.schedule.add_systems(configs);
            }
        }
        self
    }

    /// Adds one system to `phase` like [`ModelSystems::add`] and vouches that it touches
    /// `SynapticInput` only before the neuron pass (as a stimulus) or only for its own
    /// model's populations (as a neuron model's own pass), so it never sees another
    /// population's total input. Such systems do not stop a fused neuron pass from eliding
    /// its input total ([`crate::input`]); a system added with [`ModelSystems::add`] that
    /// touches `SynapticInput` does (which is always correct, only slower).
    pub fn add_input_user<M>(
        &mut self,
        phase: Phase,
        system: impl IntoSystem<(), (), M>,
    ) -> &mut Self {
        self.add_vouched(phase, system, true, false)
    }

    /// Adds one system to `phase` like [`ModelSystems::add`] and vouches that it touches
    /// projection currents (`ProjectionCurrent`), and writes spikes, weights or
    /// connectivity, only of its own model's populations and projections, or only after
    /// the neuron passes. Such systems do not stop a neuron pass from pulling its incoming
    /// deliveries ([`crate::pull`]); a system added with [`ModelSystems::add`] that touches
    /// them does (always correct, only slower). Synapse models, spike generators and
    /// learning rules are added this way.
    pub fn add_confined<M>(
        &mut self,
        phase: Phase,
        system: impl IntoSystem<(), (), M>,
    ) -> &mut Self {
        self.add_vouched(phase, system, false, true)
    }

    /// A neuron model's own pass: [`ModelSystems::add_input_user`] and
    /// [`ModelSystems::add_confined`] in one (it reads and writes the state of its own
    /// populations only).
    pub fn add_neuron_pass<M>(
        &mut self,
        phase: Phase,
        system: impl IntoSystem<(), (), M>,
    ) -> &mut Self {
        self.add_vouched(phase, system, true, true)
    }

    /// Adds `system` to `phase`, vouched for as an `input` user and/or as `confined`.
    fn add_vouched<M>(
        &mut self,
        phase: Phase,
        system: impl IntoSystem<(), (), M>,
        input: bool,
        confined: bool,
    ) -> &mut Self {
        let system: ScheduleSystem = Box::new(IntoSystem::into_system(system));
        let kind = (*system).system_type();
        if input {
            Trusted::vouch(&mut self.trusted.input, kind);
        }
        if confined {
            Trusted::vouch(&mut self.trusted.confined, kind);
        }
        self.add(phase, system)
    }
}

/// Reads a model's parameters from a scenario table, realising each [`ValueSpec`] for the
/// population and remembering which were used, so that unknown names are reported.
pub struct ParamReader<'a> {
    table: &'a BTreeMap<String, ValueSpec>,
    used: Vec<String>,
    path: String,
    model: &'static str,
    size: usize,
    seed: u64,
    stream_prefix: String,
}

impl<'a> ParamReader<'a> {
    /// A reader over `table`, for model `model`, whose fields live at `path` (e.g.
    /// `population[0].params`) and whose random draws use streams `"<owner>.params.<name>"`.
    pub fn new(
        table: &'a BTreeMap<String, ValueSpec>,
        path: impl Into<String>,
        model: &'static str,
        owner: &str,
        size: usize,
        seed: u64,
    ) -> Self {
        Self {
            table,
            used: Vec::new(),
            path: path.into(),
            model,
            size,
            seed,
            stream_prefix: format!("{owner}.params"),
        }
    }

    /// The path of parameter `name`.
    pub fn path_of(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    /// A required parameter, realised for the population's elements.
    pub fn required(&mut self, name: &str) -> Result<Param, BuildError> {
        match self.table.get(name) {
            Some(spec) => self.realize(name, spec),
            None => Err(BuildError::new(
                self.path_of(name),
                BuildErrorKind::Missing(format!(
                    "required parameter `{name}` of model `{}`",
                    self.model
                )),
            )),
        }
    }

    /// An optional parameter with a default value.
    pub fn optional(&mut self, name: &str, default: f32) -> Result<Param, BuildError> {
        match self.table.get(name) {
            Some(spec) => self.realize(name, spec),
            None => Ok(Param::Scalar(default)),
        }
    }

    /// A required parameter that must be one value for the whole population/projection.
    pub fn required_scalar(&mut self, name: &str) -> Result<f32, BuildError> {
        let p = self.required(name)?;
        p.as_scalar().ok_or_else(|| {
            BuildError::invalid(
                self.path_of(name),
                "expected a single number (per-element values are not supported here)",
            )
        })
    }

    /// A required per-term parameter (`[K]` in the model table): a list of K numbers, or a
    /// single number for K = 1. Shared by all neurons.
    pub fn required_terms(&mut self, name: &str) -> Result<Vec<f32>, BuildError> {
        let Some(spec) = self.table.get(name) else {
            return Err(BuildError::new(
                self.path_of(name),
                BuildErrorKind::Missing(format!(
                    "required parameter `{name}` of model `{}`",
                    self.model
                )),
            ));
        };
        self.used.push(name.to_owned());
        let values = match spec {
            ValueSpec::Scalar(v) => vec![*v],
            ValueSpec::List(vs) if !vs.is_empty() => vs.clone(),
            _ => {
                return Err(BuildError::invalid(
                    self.path_of(name),
                    "expected one number per adaptation term (a number, or a non-empty list)",
                ));
            }
        };
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(BuildError::invalid(
                self.path_of(name),
                format!("expected finite numbers, got {bad}"),
            ));
        }
        Ok(values.into_iter().map(|v| v as f32).collect())
    }

    fn realize(&mut self, name: &str, spec: &ValueSpec) -> Result<Param, BuildError> {
        self.used.push(name.to_owned());
        spec.realize(
            self.size,
            self.seed,
            &format!("{}.{name}", self.stream_prefix),
        )
        .map_err(|e| BuildError::new(self.path_of(name), e))
    }

    /// Fails on any parameter in the table that the model did not read.
    pub fn finish(self, known: &[&str]) -> Result<(), BuildError> {
        for key in self.table.keys() {
            if !self.used.iter().any(|u| u == key) {
                return Err(BuildError::new(
                    self.path_of(key),
                    BuildErrorKind::UnknownName {
                        what: "parameter",
                        name: key.clone(),
                        expected: format!("{} (model `{}`)", known.join(", "), self.model),
                    },
                ));
            }
        }
        Ok(())
    }
}

/// Validation helpers for model parameters (Inferno's rules), naming the parameter.
pub mod check {
    use super::*;

    /// Every value satisfies `ok`; otherwise `param` gets "must be {what}, got {v}".
    pub fn each(
        param: &'static str,
        p: &Param,
        what: &str,
        ok: impl Fn(f32) -> bool,
    ) -> Result<(), ParamError> {
        for &v in p.values() {
            if !v.is_finite() || !ok(v) {
                return Err(ParamError::new(param, format!("must be {what}, got {v}")));
            }
        }
        Ok(())
    }

    /// `a[i] < b[i]` for every neuron (either may be scalar); the error names `a`.
    pub fn less_than(
        a_name: &'static str,
        a: &Param,
        b_name: &'static str,
        b: &Param,
        n: usize,
    ) -> Result<(), ParamError> {
        compare(a_name, a, b_name, b, n, true)
    }

    /// `a[i] ≤ b[i]` for every neuron (either may be scalar); the error names `a`.
    pub fn at_most(
        a_name: &'static str,
        a: &Param,
        b_name: &'static str,
        b: &Param,
        n: usize,
    ) -> Result<(), ParamError> {
        compare(a_name, a, b_name, b, n, false)
    }

    /// `a[i] < b[i]` (`strict`) or `a[i] ≤ b[i]` for every neuron; NaN always fails.
    fn compare(
        a_name: &'static str,
        a: &Param,
        b_name: &'static str,
        b: &Param,
        n: usize,
        strict: bool,
    ) -> Result<(), ParamError> {
        use std::cmp::Ordering::{Equal, Less};
        let m = if a.as_scalar().is_some() && b.as_scalar().is_some() {
            1
        } else {
            n
        };
        for i in 0..m {
            let (x, y) = (a.at(i), b.at(i));
            let ok = match x.partial_cmp(&y) {
                Some(Less) => true,
                Some(Equal) => !strict,
                _ => false,
            };
            if !ok {
                let at = if m > 1 {
                    format!(" (neuron {i})")
                } else {
                    String::new()
                };
                let (relation, negation) = if strict {
                    ("less than", "≥")
                } else {
                    ("at most", ">")
                };
                return Err(ParamError::new(
                    a_name,
                    format!("must be {relation} `{b_name}`{at}, got {x} {negation} {y}"),
                ));
            }
        }
        Ok(())
    }

    /// Per-term parameter lists all have the same number of terms K ≥ 1 (a list of one
    /// value is *not* broadcast: Inferno's fill-forward of shorter lists is buggy, and a
    /// silent broadcast would hide a typo). Returns K; the error names the first list that
    /// differs from the first one.
    pub fn terms(lists: &[(&'static str, &[f32])]) -> Result<usize, ParamError> {
        let Some((first, l0)) = lists.first() else {
            return Ok(0);
        };
        if l0.is_empty() {
            return Err(ParamError::new(first, "must have at least one term"));
        }
        for (name, l) in &lists[1..] {
            if l.len() != l0.len() {
                return Err(ParamError::new(
                    name,
                    format!(
                        "must have one value per adaptation term: `{first}` has {}, `{name}` has {}",
                        l0.len(),
                        l.len()
                    ),
                ));
            }
        }
        Ok(l0.len())
    }

    /// Every term value satisfies `ok`.
    pub fn each_term(
        param: &'static str,
        values: &[f32],
        what: &str,
        ok: impl Fn(f32) -> bool,
    ) -> Result<(), ParamError> {
        for (k, &v) in values.iter().enumerate() {
            if !v.is_finite() || !ok(v) {
                return Err(ParamError::new(
                    param,
                    format!("must be {what}, got {v} (term {k})"),
                ));
            }
        }
        Ok(())
    }

    /// A per-element array has exactly `n` entries.
    pub fn length(param: &'static str, p: &Param, n: usize) -> Result<(), ParamError> {
        match p.len() {
            Some(l) if l != n => Err(ParamError::new(
                param,
                format!("expected {n} values (one per neuron), got {l}"),
            )),
            _ => Ok(()),
        }
    }
}
