//! Scenario files: the serde types shared with the Rust API, loading with field-path errors,
//! and building a [`Simulation`] from a [`Scenario`].
//!
//! The types mirror SCENARIO.md exactly (`[simulation]`, `[[population]]`,
//! `[[projection]]`, `[[stimulus]]`, `[[record]]`) and reject unknown fields. Loading keeps
//! the path of the field being read (`population[1].params.tc_membrane`) and the line and
//! column of the error; building reports its own errors with the same paths. A `Scenario`
//! built in code serialises to the same format.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::adaptation::{BatchReduction, Mode};
use crate::aggregate::AggregateRule;
use crate::clock::steps_in;
use crate::connectivity::ConnectRule;
use crate::error::{BuildError, BuildErrorKind};
use crate::population::PopulationId;
use crate::projection::ProjectionId;
use crate::record::TraceVariable;
use crate::simulation::{PopulationOptions, SimConfig, Simulation};
use crate::value::ValueSpec;

fn one_u32() -> u32 {
    1
}
fn one_u64() -> u64 {
    1
}
fn yes() -> bool {
    true
}
fn unit_weight() -> ValueSpec {
    ValueSpec::Scalar(1.0)
}
fn zero_delay() -> ValueSpec {
    ValueSpec::Scalar(0.0)
}
fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}
fn is_true(b: &bool) -> bool {
    *b
}
fn is_one_u32(n: &u32) -> bool {
    *n == 1
}
fn is_one_u64(n: &u64) -> bool {
    *n == 1
}

/// A whole scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Clock, seed, batch and mode.
    pub simulation: SimulationSpec,
    /// `[[population]]` tables, in declaration order.
    #[serde(default, rename = "population", skip_serializing_if = "Vec::is_empty")]
    pub populations: Vec<PopulationSpec>,
    /// `[[projection]]` tables.
    #[serde(default, rename = "projection", skip_serializing_if = "Vec::is_empty")]
    pub projections: Vec<ProjectionSpec>,
    /// `[[stimulus]]` tables.
    #[serde(default, rename = "stimulus", skip_serializing_if = "Vec::is_empty")]
    pub stimuli: Vec<StimulusSpec>,
    /// `[[record]]` tables.
    #[serde(default, rename = "record", skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordSpec>,
}

/// `[simulation]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulationSpec {
    /// Δt, ms (> 0).
    pub step_time: f64,
    /// Duration, ms (≥ 0, a multiple of Δt).
    pub duration: f64,
    /// Seed of every random stream.
    #[serde(default, skip_serializing_if = "is_default")]
    pub seed: u64,
    /// Batch copies (≥ 1).
    #[serde(default = "one_u32", skip_serializing_if = "is_one_u32")]
    pub batch_size: u32,
    /// Train or eval.
    #[serde(default, skip_serializing_if = "is_default")]
    pub mode: Mode,
    /// Reward signal `[time_ms, value]` pairs (piecewise constant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<Vec<[f64; 2]>>,
}

/// How a population combines several incoming projections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// Σ of projection currents.
    #[default]
    Sum,
    /// Mean.
    Mean,
    /// Product.
    Prod,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
}

/// How adaptation updates are reduced over the batch (the named reductions; Rust code can
/// also give a custom function, see [`BatchReduction`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchReductionName {
    /// Mean over batch copies.
    #[default]
    Mean,
    /// Sum.
    Sum,
    /// Maximum.
    Max,
    /// Minimum.
    Min,
}

/// `init` of a population.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitSpec {
    /// Initial voltage, mV (default: the model's `rest_v`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voltage: Option<ValueSpec>,
    /// Initial refractory time, ms (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refrac: Option<ValueSpec>,
    /// Initial adaptation: one value per term (a single number for K = 1; default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptation: Option<ValueSpec>,
}

/// `[[population]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationSpec {
    /// Unique name, `[A-Za-z][A-Za-z0-9_]*`.
    pub name: String,
    /// Number of neurons (≥ 1).
    pub size: u32,
    /// Registered neuron model name.
    pub model: String,
    /// Model parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, ValueSpec>,
    /// Initial state.
    #[serde(default, skip_serializing_if = "is_default")]
    pub init: InitSpec,
    /// Combination of incoming projection currents.
    #[serde(default, skip_serializing_if = "is_default")]
    pub aggregate: Aggregate,
    /// Hold the voltage of refractory neurons.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub refrac_lock: bool,
    /// Reduction of adaptation updates over the batch.
    #[serde(default, skip_serializing_if = "is_default")]
    pub batch_reduction: BatchReductionName,
    /// Train or eval for this population (default: the simulation's mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

/// A connection rule as written in a scenario: a name or a one-rule table.
#[derive(Clone, Debug, PartialEq)]
pub enum ConnectivitySpec {
    /// `"all_to_all"`, or `{ all_to_all = true, autapses = … }`.
    AllToAll {
        /// `autapses` if given.
        autapses: Option<bool>,
    },
    /// `"one_to_one"`.
    OneToOne,
    /// `{ fixed_probability = p }`.
    FixedProbability {
        /// p ∈ [0, 1].
        p: f64,
        /// `autapses` if given.
        autapses: Option<bool>,
    },
    /// `{ fixed_indegree = k }`.
    FixedIndegree {
        /// k.
        k: u64,
        /// `autapses` if given.
        autapses: Option<bool>,
    },
    /// `{ fixed_outdegree = k }`.
    FixedOutdegree {
        /// k.
        k: u64,
        /// `autapses` if given.
        autapses: Option<bool>,
    },
    /// `{ pairs = [[pre, post], …] }`.
    Pairs {
        /// The pairs, in canonical order.
        pairs: Vec<[u32; 2]>,
    },
}

const RULE_KEYS: &[&str] = &[
    "all_to_all",
    "one_to_one",
    "fixed_probability",
    "fixed_indegree",
    "fixed_outdegree",
    "pairs",
    "autapses",
];

impl Serialize for ConnectivitySpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let (key, autapses) = match self {
            ConnectivitySpec::OneToOne => return s.serialize_str("one_to_one"),
            ConnectivitySpec::AllToAll { autapses: None } => return s.serialize_str("all_to_all"),
            ConnectivitySpec::AllToAll { autapses } => ("all_to_all", autapses),
            ConnectivitySpec::FixedProbability { autapses, .. } => ("fixed_probability", autapses),
            ConnectivitySpec::FixedIndegree { autapses, .. } => ("fixed_indegree", autapses),
            ConnectivitySpec::FixedOutdegree { autapses, .. } => ("fixed_outdegree", autapses),
            ConnectivitySpec::Pairs { .. } => ("pairs", &None),
        };
        let mut m = s.serialize_map(None)?;
        match self {
            ConnectivitySpec::AllToAll { .. } => m.serialize_entry(key, &true)?,
            ConnectivitySpec::FixedProbability { p, .. } => m.serialize_entry(key, p)?,
            ConnectivitySpec::FixedIndegree { k, .. }
            | ConnectivitySpec::FixedOutdegree { k, .. } => m.serialize_entry(key, k)?,
            ConnectivitySpec::Pairs { pairs } => m.serialize_entry(key, pairs)?,
            ConnectivitySpec::OneToOne => unreachable!("serialised as a string above"),
        }
        if let Some(a) = autapses {
            m.serialize_entry("autapses", a)?;
        }
        m.end()
    }
}

fn rule_key(c: &ConnectivitySpec) -> &'static str {
    match c {
        ConnectivitySpec::AllToAll { .. } => "all_to_all",
        ConnectivitySpec::OneToOne => "one_to_one",
        ConnectivitySpec::FixedProbability { .. } => "fixed_probability",
        ConnectivitySpec::FixedIndegree { .. } => "fixed_indegree",
        ConnectivitySpec::FixedOutdegree { .. } => "fixed_outdegree",
        ConnectivitySpec::Pairs { .. } => "pairs",
    }
}

struct ConnectivityVisitor;

impl<'de> Visitor<'de> for ConnectivityVisitor {
    type Value = ConnectivitySpec;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "\"all_to_all\", \"one_to_one\", or a table with one of fixed_probability, \
             fixed_indegree, fixed_outdegree, pairs (and optionally autapses)",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<ConnectivitySpec, E> {
        match v {
            "all_to_all" => Ok(ConnectivitySpec::AllToAll { autapses: None }),
            "one_to_one" => Ok(ConnectivitySpec::OneToOne),
            other => Err(de::Error::unknown_variant(
                other,
                &["all_to_all", "one_to_one"],
            )),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ConnectivitySpec, A::Error> {
        let mut rule: Option<ConnectivitySpec> = None;
        let mut autapses = None;
        while let Some(key) = map.next_key::<String>()? {
            let parsed = match key.as_str() {
                "autapses" => {
                    autapses = Some(map.next_value::<bool>()?);
                    continue;
                }
                "all_to_all" => {
                    let _: bool = map.next_value()?;
                    ConnectivitySpec::AllToAll { autapses: None }
                }
                "one_to_one" => {
                    let _: bool = map.next_value()?;
                    ConnectivitySpec::OneToOne
                }
                "fixed_probability" => ConnectivitySpec::FixedProbability {
                    p: map.next_value()?,
                    autapses: None,
                },
                "fixed_indegree" => ConnectivitySpec::FixedIndegree {
                    k: map.next_value()?,
                    autapses: None,
                },
                "fixed_outdegree" => ConnectivitySpec::FixedOutdegree {
                    k: map.next_value()?,
                    autapses: None,
                },
                "pairs" => ConnectivitySpec::Pairs {
                    pairs: map.next_value()?,
                },
                other => return Err(de::Error::unknown_field(other, RULE_KEYS)),
            };
            if let Some(first) = &rule {
                return Err(de::Error::custom(format!(
                    "more than one connection rule (`{}` and `{key}`); give exactly one",
                    rule_key(first)
                )));
            }
            rule = Some(parsed);
        }
        let mut rule = rule.ok_or_else(|| {
            de::Error::custom(
                "missing connection rule: expected one of fixed_probability, fixed_indegree, \
                 fixed_outdegree, pairs, all_to_all",
            )
        })?;
        match &mut rule {
            ConnectivitySpec::AllToAll { autapses: a }
            | ConnectivitySpec::FixedProbability { autapses: a, .. }
            | ConnectivitySpec::FixedIndegree { autapses: a, .. }
            | ConnectivitySpec::FixedOutdegree { autapses: a, .. } => *a = autapses,
            ConnectivitySpec::OneToOne | ConnectivitySpec::Pairs { .. } => {
                if autapses.is_some() {
                    return Err(de::Error::custom(
                        "`autapses` applies to all_to_all and the fixed_* rules only",
                    ));
                }
            }
        }
        Ok(rule)
    }
}

impl<'de> Deserialize<'de> for ConnectivitySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ConnectivityVisitor)
    }
}

/// `synapse = { model = "...", <params> }`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SynapseSpec {
    /// Registered synapse model name.
    pub model: String,
    /// The model's parameters.
    #[serde(flatten)]
    pub params: BTreeMap<String, ValueSpec>,
}

pub use crate::delay::DelayMode;

/// `plasticity = { rule = …, … }` (rules arrive in a later version).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlasticitySpec {
    /// Rule name.
    pub rule: String,
    /// The rule's fields.
    #[serde(flatten)]
    pub fields: BTreeMap<String, PlasticityField>,
}

/// A field of a plasticity table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PlasticityField {
    /// A number.
    Number(f64),
    /// A string (e.g. `trace = "nearest"`).
    Text(String),
}

/// `[[projection]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectionSpec {
    /// Pre population name.
    pub pre: String,
    /// Post population name.
    pub post: String,
    /// Unique name (default `<pre>_to_<post>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Connection rule.
    pub connectivity: ConnectivitySpec,
    /// Synapse model and parameters.
    pub synapse: SynapseSpec,
    /// Weight per synapse (default 1).
    #[serde(default = "unit_weight")]
    pub weight: ValueSpec,
    /// Delay per synapse, ms (default 0).
    #[serde(default = "zero_delay")]
    pub delay: ValueSpec,
    /// Rounding of delays.
    #[serde(default, skip_serializing_if = "is_default")]
    pub delay_mode: DelayMode,
    /// The longest delay the projection supports, ms (optional): longer delays are a
    /// build error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<f64>,
    /// Learning rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plasticity: Option<PlasticitySpec>,
}

/// `[[stimulus]]`, tagged by `kind`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StimulusSpec {
    /// A constant current while `start ≤ t < stop`.
    Current {
        /// Target population.
        target: String,
        /// Current, nA.
        amplitude: ValueSpec,
        /// Start, ms (default 0).
        #[serde(default)]
        start: f64,
        /// Stop, ms (default: end of run).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stop: Option<f64>,
        /// Stimulated neurons (default all).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        neurons: Option<Vec<u32>>,
    },
}

/// `[[record]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    /// Observed population (exactly one of `population`, `projection`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population: Option<String>,
    /// Observed projection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection: Option<String>,
    /// Record spikes (populations; default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub spikes: bool,
    /// Traced variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<String>,
    /// Traced neurons (default all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neurons: Option<Vec<u32>>,
    /// Traced synapses (projections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synapses: Option<Vec<u64>>,
    /// Sampling interval, steps (default 1).
    #[serde(default = "one_u64", skip_serializing_if = "is_one_u64")]
    pub every: u64,
}

/// A scenario that could not be parsed: where, and what was expected.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ParseError {
    /// Field path (may be empty for syntax errors).
    pub path: String,
    /// 1-based line, if known.
    pub line: Option<usize>,
    /// 1-based column, if known.
    pub column: Option<usize>,
    /// What went wrong.
    pub message: String,
}

impl ParseError {
    /// `line L, column C: path: message`, leaving out the parts that are unknown.
    fn render(&self) -> String {
        let mut parts = Vec::with_capacity(3);
        if let (Some(l), Some(c)) = (self.line, self.column) {
            parts.push(format!("line {l}, column {c}"));
        }
        if !self.path.is_empty() {
            parts.push(self.path.clone());
        }
        parts.push(self.message.clone());
        parts.join(": ")
    }
}

impl Scenario {
    /// Parses a TOML scenario.
    pub fn from_toml(text: &str) -> Result<Scenario, ParseError> {
        let de = toml::Deserializer::parse(text).map_err(|e| toml_error(text, "", &e))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = clean_path(&e.path().to_string());
            toml_error(text, &path, e.inner())
        })
    }

    /// Serialises to TOML.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// The simulation settings, checked, with `threads` compute threads.
    pub fn config(&self, threads: usize) -> Result<SimConfig, BuildError> {
        let s = &self.simulation;
        if !(s.step_time.is_finite() && s.step_time > 0.0) {
            return Err(BuildError::invalid(
                "simulation.step_time",
                format!("expected a finite Δt > 0 ms, got {}", s.step_time),
            ));
        }
        self.steps()?;
        Ok(SimConfig {
            step_time: s.step_time,
            seed: s.seed,
            batch_size: s.batch_size,
            threads,
            mode: s.mode,
        })
    }

    /// The number of steps: `duration / step_time`, which must be a whole number (10⁻⁹).
    pub fn steps(&self) -> Result<u64, BuildError> {
        let s = &self.simulation;
        steps_in(s.duration, s.step_time).ok_or_else(|| {
            BuildError::invalid(
                "simulation.duration",
                format!(
                    "expected a duration ≥ 0 ms that is a multiple of step_time = {} ms, got {}",
                    s.step_time, s.duration
                ),
            )
        })
    }
}

/// serde_path_to_error writes `population[1].params.?` style segments; keep them readable.
fn clean_path(p: &str) -> String {
    if p == "." {
        String::new()
    } else {
        p.replace(".?", "")
    }
}

fn toml_error(text: &str, path: &str, e: &toml::de::Error) -> ParseError {
    let (line, column) = match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
            (Some(line), Some(column))
        }
        None => (None, None),
    };
    ParseError {
        path: path.to_owned(),
        line,
        column,
        message: e.message().trim().to_owned(),
    }
}

/// Arguments of a registered neuron model's builder.
pub(crate) struct PopulationBuild<'a> {
    pub(crate) path: &'a str,
    pub(crate) name: &'a str,
    pub(crate) size: u32,
    pub(crate) params: &'a BTreeMap<String, ValueSpec>,
    pub(crate) options: PopulationOptions,
}

/// Arguments of a registered synapse model's builder.
pub(crate) struct ProjectionBuild<'a> {
    pub(crate) path: &'a str,
    pub(crate) name: &'a str,
    pub(crate) pre: PopulationId,
    pub(crate) post: PopulationId,
    pub(crate) rule: &'a ConnectRule,
    pub(crate) weights: ValueSpec,
    pub(crate) synapse_params: &'a BTreeMap<String, ValueSpec>,
}

/// What [`Simulation::add_scenario`] built: handles in declaration order and the recorders.
#[derive(Clone, Debug, Default)]
pub struct ScenarioHandles {
    /// Number of steps to run.
    pub steps: u64,
    /// Populations, in declaration order.
    pub populations: Vec<(String, PopulationId)>,
    /// Projections, in declaration order.
    pub projections: Vec<(String, ProjectionId)>,
    /// Spike recorders: (population index, recorder entity), at most one per population.
    pub spike_recorders: Vec<(usize, bevy_ecs::entity::Entity)>,
    /// Trace recorders: (population index, recorder entity), in `[[record]]` order.
    pub trace_recorders: Vec<(usize, bevy_ecs::entity::Entity)>,
}

fn unknown(what: &'static str, name: &str, expected: Vec<&str>) -> BuildErrorKind {
    BuildErrorKind::UnknownName {
        what,
        name: name.to_owned(),
        expected: if expected.is_empty() {
            "(none declared)".to_owned()
        } else {
            expected.join(", ")
        },
    }
}

impl Simulation {
    /// Adds everything a scenario declares (populations, projections, stimuli, recorders)
    /// to this simulation, whose configuration should come from [`Scenario::config`].
    /// Every error names the scenario field path.
    pub fn add_scenario(&mut self, sc: &Scenario) -> Result<ScenarioHandles, BuildError> {
        let steps = sc.steps()?;
        if sc.simulation.batch_size != self.config().batch_size {
            return Err(BuildError::invalid(
                "simulation.batch_size",
                "differs from the simulation's batch size",
            ));
        }
        if let Some(reward) = &sc.simulation.reward
            && let Some(bad) = reward.iter().flatten().find(|v| !v.is_finite())
        {
            return Err(BuildError::invalid(
                "simulation.reward",
                format!("expected finite [time_ms, value] pairs, got {bad}"),
            ));
        }
        let mut h = ScenarioHandles {
            steps,
            ..Default::default()
        };
        for (i, p) in sc.populations.iter().enumerate() {
            h.populations
                .push((p.name.clone(), self.build_population(i, p)?));
        }
        let names: Vec<&str> = sc.populations.iter().map(|p| p.name.as_str()).collect();
        let lookup = |path: String, name: &str| -> Result<(usize, PopulationId), BuildError> {
            names
                .iter()
                .position(|n| *n == name)
                .map(|k| (k, h.populations[k].1))
                .ok_or_else(|| BuildError::new(path, unknown("population", name, names.clone())))
        };
        let mut projections = Vec::new();
        for (i, p) in sc.projections.iter().enumerate() {
            let path = format!("projection[{i}]");
            let (pre_k, pre) = lookup(format!("{path}.pre"), &p.pre)?;
            let (post_k, post) = lookup(format!("{path}.post"), &p.post)?;
            let name = p
                .name
                .clone()
                .unwrap_or_else(|| format!("{}_to_{}", p.pre, p.post));
            crate::simulation::check_name(&format!("{path}.name"), &name)?;
            let rule = connect_rule(
                &format!("{path}.connectivity"),
                &p.connectivity,
                (sc.populations[pre_k].size, sc.populations[post_k].size),
                pre == post,
            )?;
            if let Some(pl) = &p.plasticity {
                return Err(BuildError::new(
                    format!("{path}.plasticity"),
                    BuildErrorKind::Unsupported(format!("plasticity (rule `{}`)", pl.rule)),
                ));
            }
            let builder = self.registry.synapse(&p.synapse.model).ok_or_else(|| {
                BuildError::new(
                    format!("{path}.synapse.model"),
                    unknown("synapse model", &p.synapse.model, self.synapse_models()),
                )
            })?;
            let id = builder(
                self,
                &ProjectionBuild {
                    path: &path,
                    name: &name,
                    pre,
                    post,
                    rule: &rule,
                    weights: p.weight.clone(),
                    synapse_params: &p.synapse.params,
                },
            )?;
            self.set_delays_at(&path, id, &p.delay, p.delay_mode, p.max_delay)?;
            projections.push((name, id));
        }
        h.projections = projections;
        for (i, s) in sc.stimuli.iter().enumerate() {
            let path = format!("stimulus[{i}]");
            match s {
                StimulusSpec::Current {
                    target,
                    amplitude,
                    start,
                    stop,
                    neurons,
                } => {
                    let (k, id) = lookup(format!("{path}.target"), target)?;
                    let n = neurons
                        .as_ref()
                        .map_or(sc.populations[k].size as usize, Vec::len);
                    let amp = amplitude
                        .realize(n, self.config().seed, &format!("stimulus[{i}].amplitude"))
                        .map_err(|e| BuildError::new(format!("{path}.amplitude"), e))?;
                    self.add_current_at(&path, id, amp, *start, *stop, neurons.clone())?;
                }
            }
        }
        let mut spiking = vec![false; sc.populations.len()];
        for (i, r) in sc.records.iter().enumerate() {
            let path = format!("record[{i}]");
            let target = match (&r.population, &r.projection) {
                (Some(p), None) => p,
                (None, Some(_)) => {
                    return Err(BuildError::new(
                        format!("{path}.projection"),
                        BuildErrorKind::Unsupported("recording projections".to_owned()),
                    ));
                }
                _ => {
                    return Err(BuildError::invalid(
                        path,
                        "expected exactly one of `population` or `projection`",
                    ));
                }
            };
            let (k, id) = lookup(format!("{path}.population"), target)?;
            if r.synapses.is_some() {
                return Err(BuildError::invalid(
                    format!("{path}.synapses"),
                    "`synapses` applies to projection records only",
                ));
            }
            let (terms, has_threshold) = {
                let e = self.world().entity(id.0);
                (
                    e.get::<crate::Adaptation>()
                        .map_or(0, crate::Adaptation::terms),
                    e.contains::<crate::EffectiveThreshold>(),
                )
            };
            let model = &sc.populations[k].model;
            let mut vars = Vec::new();
            for (j, v) in r.variables.iter().enumerate() {
                let vpath = format!("{path}.variables[{j}]");
                let expanded: Vec<TraceVariable> = if v == "adaptation" {
                    (0..terms as u32).map(TraceVariable::Adaptation).collect()
                } else {
                    vec![TraceVariable::from_name(v).ok_or_else(|| {
                        BuildError::new(
                            vpath.clone(),
                            unknown("variable", v, TraceVariable::NAMES.to_vec()),
                        )
                    })?]
                };
                for var in expanded {
                    let available = match var {
                        TraceVariable::Adaptation(t) => (t as usize) < terms,
                        TraceVariable::Threshold => has_threshold,
                        _ => true,
                    };
                    if !available {
                        return Err(BuildError::invalid(
                            vpath,
                            format!("model `{model}` has no variable `{}`", var.name()),
                        ));
                    }
                    if !vars.contains(&var) {
                        vars.push(var);
                    }
                }
                if v == "adaptation" && terms == 0 {
                    return Err(BuildError::invalid(
                        vpath,
                        format!("model `{model}` has no adaptation"),
                    ));
                }
            }
            if r.spikes && !spiking[k] {
                spiking[k] = true;
                h.spike_recorders.push((k, self.record_spikes(id)?));
            }
            if !vars.is_empty() {
                let e = self.record_trace_at(&path, id, vars, r.neurons.clone(), r.every)?;
                h.trace_recorders.push((k, e));
            } else if r.every == 0 {
                return Err(BuildError::invalid(
                    format!("{path}.every"),
                    "expected a sampling interval of at least 1 step, got 0",
                ));
            }
        }
        h.spike_recorders.sort_by_key(|(k, _)| *k);
        Ok(h)
    }

    fn build_population(
        &mut self,
        i: usize,
        p: &PopulationSpec,
    ) -> Result<PopulationId, BuildError> {
        let path = format!("population[{i}]");
        crate::simulation::check_name(&format!("{path}.name"), &p.name)?;
        let builder = self.registry.neuron(&p.model).ok_or_else(|| {
            BuildError::new(
                format!("{path}.model"),
                unknown("neuron model", &p.model, self.neuron_models()),
            )
        })?;
        let adaptation = match &p.init.adaptation {
            None => None,
            Some(ValueSpec::Scalar(v)) => Some(vec![*v as f32]),
            Some(ValueSpec::List(vs)) => Some(vs.iter().map(|v| *v as f32).collect()),
            Some(_) => {
                return Err(BuildError::invalid(
                    format!("{path}.init.adaptation"),
                    "expected one number per adaptation term (a number or a list)",
                ));
            }
        };
        if let Some(bad) = adaptation.iter().flatten().find(|v| !v.is_finite()) {
            return Err(BuildError::invalid(
                format!("{path}.init.adaptation"),
                format!("expected finite values, got {bad}"),
            ));
        }
        let seed = self.config().seed;
        let n = p.size as usize;
        let realize = |field: &str, spec: &Option<ValueSpec>| {
            spec.as_ref()
                .map(|s| {
                    s.realize(n, seed, &format!("{}.init.{field}", p.name))
                        .map_err(|e| BuildError::new(format!("{path}.init.{field}"), e))
                })
                .transpose()
        };
        let options = PopulationOptions {
            refrac_lock: p.refrac_lock,
            voltage: realize("voltage", &p.init.voltage)?,
            refrac: realize("refrac", &p.init.refrac)?,
            adaptation,
            mode: p.mode,
            aggregate: match p.aggregate {
                Aggregate::Sum => AggregateRule::Sum,
                Aggregate::Mean => AggregateRule::Mean,
                Aggregate::Prod => AggregateRule::Prod,
                Aggregate::Min => AggregateRule::Min,
                Aggregate::Max => AggregateRule::Max,
            },
            batch_reduction: match p.batch_reduction {
                BatchReductionName::Mean => BatchReduction::Mean,
                BatchReductionName::Sum => BatchReduction::Sum,
                BatchReductionName::Max => BatchReduction::Max,
                BatchReductionName::Min => BatchReduction::Min,
            },
        };
        builder(
            self,
            &PopulationBuild {
                path: &path,
                name: &p.name,
                size: p.size,
                params: &p.params,
                options,
            },
        )
    }
}

/// Maps a scenario connectivity form to a [`ConnectRule`]. The rules added after the first
/// three (`fixed_indegree`, `fixed_outdegree`, `pairs`) are also checked against the
/// population sizes here, so their errors name the rule's field
/// (`projection[0].connectivity.pairs: pair 3 [1, 1] repeats pair 2; …`).
fn connect_rule(
    path: &str,
    c: &ConnectivitySpec,
    (pre_size, post_size): (u32, u32),
    same: bool,
) -> Result<ConnectRule, BuildError> {
    let autapses = |a: &Option<bool>| a.unwrap_or(!same);
    let rule = match c {
        ConnectivitySpec::AllToAll { autapses: a } => {
            return Ok(ConnectRule::AllToAll {
                autapses: autapses(a),
            });
        }
        ConnectivitySpec::OneToOne => return Ok(ConnectRule::OneToOne),
        ConnectivitySpec::FixedProbability { p, autapses: a } => {
            if !(0.0..=1.0).contains(p) {
                return Err(BuildError::invalid(
                    format!("{path}.fixed_probability"),
                    format!("expected a probability in [0, 1], got {p}"),
                ));
            }
            return Ok(ConnectRule::FixedProbability {
                p: *p,
                autapses: autapses(a),
            });
        }
        ConnectivitySpec::FixedIndegree { k, autapses: a } => ConnectRule::FixedIndegree {
            k: *k,
            autapses: autapses(a),
        },
        ConnectivitySpec::FixedOutdegree { k, autapses: a } => ConnectRule::FixedOutdegree {
            k: *k,
            autapses: autapses(a),
        },
        ConnectivitySpec::Pairs { pairs } => ConnectRule::Pairs(pairs.clone()),
    };
    rule.check(pre_size, post_size, same)
        .map_err(|e| BuildError::new(format!("{path}.{}", rule_key(c)), e))?;
    Ok(rule)
}
