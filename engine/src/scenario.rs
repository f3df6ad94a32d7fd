//! Scenario files: the serde types shared with the Rust API, loading with field-path errors,
//! and building a [`Simulation`] from a [`Scenario`].
//!
//! The types mirror SCENARIO.md exactly (`[simulation]`, `[[population]]`,
//! `[[projection]]`, `[[stimulus]]`, `[[record]]`) and reject unknown fields. Loading keeps
//! the path of the field being read (`population[1].params.tc_membrane`) and the line and
//! column of the error; building reports its own errors with the same paths. A `Scenario`
//! built in code serialises to the same formats: TOML, JSON and RON ([`Format`]).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::adaptation::{BatchReduction, Mode};
use crate::aggregate::AggregateRule;
use crate::clock::steps_in;
use crate::connectivity::ConnectRule;
use crate::error::{BuildError, BuildErrorKind};
use crate::population::PopulationId;
use crate::projection::ProjectionId;
use crate::record::ProjectionVariable;
use crate::record::{ProjectionTraceRecorder, TraceRecorder, TraceVariable};
use crate::simulation::{PopulationOptions, SimConfig, Simulation};
use crate::stimulus::SpikeSchedule;
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
///
/// The `spikes` entry of `params` (the `[neuron, time_ms]` pairs of `spike_source`) does not
/// fit a [`ValueSpec`]: it is read into [`PopulationSpec::spikes`] and written back into
/// `params`, so `params = { spikes = [[0, 1.0], [3, 2.5]] }` reads and writes as in
/// SCENARIO.md.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "PopulationSpecRaw", into = "PopulationSpecRaw")]
pub struct PopulationSpec {
    /// Unique name, `[A-Za-z][A-Za-z0-9_]*`.
    pub name: String,
    /// Number of neurons (≥ 1).
    pub size: u32,
    /// Registered neuron model name.
    pub model: String,
    /// Model parameters (every entry of `params` except `spikes`).
    pub params: BTreeMap<String, ValueSpec>,
    /// `params.spikes`: a spike list of `[neuron, time_ms]` pairs, for models that keep a
    /// [`SpikeSchedule`] (`spike_source`). Neurons are whole numbers
    /// below `size`; times are finite, ≥ 0 and go to step `round(time / step_time)`.
    pub spikes: Option<Vec<[f64; 2]>>,
    /// Initial state.
    pub init: InitSpec,
    /// Combination of incoming projection currents.
    pub aggregate: Aggregate,
    /// Hold the voltage of refractory neurons.
    pub refrac_lock: bool,
    /// Reduction of adaptation updates over the batch.
    pub batch_reduction: BatchReductionName,
    /// Train or eval for this population (default: the simulation's mode).
    pub mode: Option<Mode>,
}

/// The serde form of [`PopulationSpec`] (`params` with `spikes` inside).
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename = "PopulationSpec", deny_unknown_fields)]
struct PopulationSpecRaw {
    name: String,
    size: u32,
    model: String,
    #[serde(default, skip_serializing_if = "ParamsRaw::is_empty")]
    params: ParamsRaw,
    #[serde(default, skip_serializing_if = "is_default")]
    init: InitSpec,
    #[serde(default, skip_serializing_if = "is_default")]
    aggregate: Aggregate,
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    refrac_lock: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    batch_reduction: BatchReductionName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mode: Option<Mode>,
}

impl From<PopulationSpecRaw> for PopulationSpec {
    fn from(r: PopulationSpecRaw) -> Self {
        Self {
            name: r.name,
            size: r.size,
            model: r.model,
            params: r.params.values,
            spikes: r.params.spikes,
            init: r.init,
            aggregate: r.aggregate,
            refrac_lock: r.refrac_lock,
            batch_reduction: r.batch_reduction,
            mode: r.mode,
        }
    }
}

impl From<PopulationSpec> for PopulationSpecRaw {
    fn from(p: PopulationSpec) -> Self {
        Self {
            name: p.name,
            size: p.size,
            model: p.model,
            params: ParamsRaw {
                values: p.params,
                spikes: p.spikes,
            },
            init: p.init,
            aggregate: p.aggregate,
            refrac_lock: p.refrac_lock,
            batch_reduction: p.batch_reduction,
            mode: p.mode,
        }
    }
}

/// The name in `params` of a spike list.
const SPIKES_PARAM: &str = "spikes";

/// A population's `params` table: values, and the `spikes` list if any.
#[derive(Clone, Default)]
struct ParamsRaw {
    values: BTreeMap<String, ValueSpec>,
    spikes: Option<Vec<[f64; 2]>>,
}

impl ParamsRaw {
    fn is_empty(&self) -> bool {
        self.values.is_empty() && self.spikes.is_none()
    }
}

impl Serialize for ParamsRaw {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m =
            s.serialize_map(Some(self.values.len() + usize::from(self.spikes.is_some())))?;
        let mut spikes = self.spikes.as_ref();
        for (k, v) in &self.values {
            if let Some(list) = spikes.filter(|_| k.as_str() > SPIKES_PARAM) {
                m.serialize_entry(SPIKES_PARAM, list)?;
                spikes = None;
            }
            m.serialize_entry(k, v)?;
        }
        if let Some(list) = spikes {
            m.serialize_entry(SPIKES_PARAM, list)?;
        }
        m.end()
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = ParamsRaw;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a table of model parameters")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ParamsRaw, A::Error> {
        let mut out = ParamsRaw::default();
        while let Some(key) = map.next_key::<String>()? {
            if key == SPIKES_PARAM {
                let pairs: Vec<SpikePair> = map.next_value()?;
                out.spikes = Some(pairs.into_iter().map(|p| p.0).collect());
            } else {
                let v = map.next_value()?;
                out.values.insert(key, v);
            }
        }
        Ok(out)
    }
}

/// One `[neuron, time_ms]` entry of a spike list: exactly two numbers.
struct SpikePair([f64; 2]);

struct SpikePairVisitor;

impl<'de> Visitor<'de> for SpikePairVisitor {
    type Value = SpikePair;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a [neuron, time_ms] pair")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpikePair, A::Error> {
        let mut pair = [0.0; 2];
        for (k, x) in pair.iter_mut().enumerate() {
            *x = seq
                .next_element()?
                .ok_or_else(|| de::Error::invalid_length(k, &self))?;
        }
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(3, &self));
        }
        Ok(SpikePair(pair))
    }
}

impl<'de> Deserialize<'de> for SpikePair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A tuple, like `[f64; 2]`: a list `[n, t]` in TOML and JSON, `(n, t)` in RON.
        d.deserialize_tuple(2, SpikePairVisitor)
    }
}

impl<'de> Deserialize<'de> for ParamsRaw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ParamsVisitor)
    }
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

/// `plasticity = { rule = …, … }`: a learning rule (see [`crate::plasticity`] for the
/// rules, their fields and [`crate::plasticity::rule_from_spec`] for validation).
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
    /// A sinusoidal current `offset + amplitude · sin(2π · frequency · t / 1000 + phase)`,
    /// t = k·Δt (ms) at the start of step k, while `start ≤ t < stop` (see
    /// [`Sine`](crate::Sine)).
    Sine {
        /// Target population.
        target: String,
        /// Amplitude, nA (a value: one per stimulated neuron if a list).
        amplitude: ValueSpec,
        /// Frequency, Hz (≥ 0).
        frequency: f64,
        /// Phase at t = 0, rad (default 0).
        #[serde(default, skip_serializing_if = "is_default")]
        phase: f64,
        /// Offset, nA (a value; default 0).
        #[serde(default = "zero_value", skip_serializing_if = "is_zero_value")]
        offset: ValueSpec,
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
    /// Gaussian noise `mean + std · z`, z ~ N(0, 1) drawn per neuron and batch copy at the
    /// start of every `interval` from `start` and held in between (see
    /// [`Noise`](crate::Noise)).
    Noise {
        /// Target population.
        target: String,
        /// Mean, nA (a value).
        mean: ValueSpec,
        /// Standard deviation, nA (a value, ≥ 0).
        std: ValueSpec,
        /// Time between draws, ms: a whole multiple of `step_time` (default: `step_time`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        interval: Option<f64>,
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

fn zero_value() -> ValueSpec {
    ValueSpec::Scalar(0.0)
}
fn is_zero_value(v: &ValueSpec) -> bool {
    *v == ValueSpec::Scalar(0.0)
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
    /// Record spikes (populations; default true). Projection records ignore it: a
    /// projection has no spikes of its own.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub spikes: bool,
    /// Traced variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<String>,
    /// Traced neurons (default all): population neurons, or the post neurons of a
    /// projection's `current`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neurons: Option<Vec<u32>>,
    /// Traced synapses of a projection's `weight`, canonical indices (default all).
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

/// A scenario file format. `ember` picks it from the file's extension (SCENARIO.md: `.toml`,
/// `.json`, `.ron`); every format reads and writes the same serde types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// TOML, the primary format (`.toml`).
    Toml,
    /// JSON (`.json`): the same tables as objects, arrays of tables as arrays.
    Json,
    /// RON, Rusty Object Notation (`.ron`): structs as `( … )`, the free-form tables
    /// (`params`, `synapse`, `connectivity`, distributions, `plasticity`) as maps
    /// `{ "key": … }`, fixed pairs (`uniform`, `reward`, `pairs`) as tuples `( , )`.
    /// Optional fields are written bare (the `implicit_some` extension is always on).
    Ron,
}

impl Format {
    /// Every format, TOML first.
    pub const ALL: [Format; 3] = [Format::Toml, Format::Json, Format::Ron];

    /// The format of a file extension (`"toml"`, `"json"`, `"ron"`, any letter case).
    pub fn from_extension(ext: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.extension().eq_ignore_ascii_case(ext))
    }

    /// The format of a file, by its extension.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(Format::from_extension)
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Json => "json",
            Format::Ron => "ron",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Toml => "TOML",
            Format::Json => "JSON",
            Format::Ron => "RON",
        })
    }
}

/// A scenario that could not be written in a format (e.g. TOML cannot hold a value the
/// types allow; JSON writes NaN and infinities as `null`, which then does not parse back).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot write the scenario as {format}: {message}")]
pub struct SerializeError {
    /// The format being written.
    pub format: Format,
    /// What went wrong.
    pub message: String,
}

/// The RON options used for reading and writing: `implicit_some`, so optional fields are
/// written as plain values (`stop: 10.0`; `Some(10.0)` is accepted too).
fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
}

impl Scenario {
    /// Parses a scenario in `format`.
    pub fn from_str_with_format(text: &str, format: Format) -> Result<Scenario, ParseError> {
        match format {
            Format::Toml => Scenario::from_toml(text),
            Format::Json => Scenario::from_json(text),
            Format::Ron => Scenario::from_ron(text),
        }
    }

    /// Parses a TOML scenario.
    pub fn from_toml(text: &str) -> Result<Scenario, ParseError> {
        let de = toml::Deserializer::parse(text).map_err(|e| toml_error(text, "", &e))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = clean_path(&e.path().to_string());
            toml_error(text, &path, e.inner())
        })
    }

    /// Parses a JSON scenario: the TOML document as a JSON object (`"population"` is an
    /// array of objects, values take the same forms). Errors carry the field path, line and
    /// column.
    pub fn from_json(text: &str) -> Result<Scenario, ParseError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let sc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = clean_path(&e.path().to_string());
            json_error(&path, e.inner())
        })?;
        de.end().map_err(|e| json_error("", &e))?;
        Ok(sc)
    }

    /// Parses a RON scenario (see [`Format::Ron`] for how the tables are written). Errors
    /// carry the field path, line and column.
    pub fn from_ron(text: &str) -> Result<Scenario, ParseError> {
        let mut de = ron::Deserializer::from_str_with_options(text, &ron_options())
            .map_err(|e| ron_error(text, "", &e))?;
        let sc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = clean_path(&e.path().to_string());
            ron_error(text, &path, &de.span_error(e.into_inner()))
        })?;
        de.end()
            .map_err(|e| ron_error(text, "", &de.span_error(e)))?;
        Ok(sc)
    }

    /// Serialises to TOML.
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// Serialises to pretty-printed JSON (two-space indent, fields in declaration order,
    /// ending in a newline).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self).map(|s| s + "\n")
    }

    /// Serialises to pretty-printed RON, starting with `#![enable(implicit_some)]` so other
    /// RON readers accept the bare optional fields too.
    pub fn to_ron(&self) -> Result<String, ron::Error> {
        let pretty = ron::ser::PrettyConfig::new()
            .indentor("    ")
            .depth_limit(4)
            .extensions(ron::extensions::Extensions::IMPLICIT_SOME);
        ron::ser::to_string_pretty(self, pretty).map(|s| s + "\n")
    }

    /// Serialises to `format` ([`to_toml`](Self::to_toml), [`to_json`](Self::to_json) or
    /// [`to_ron`](Self::to_ron)).
    pub fn to_string_with_format(&self, format: Format) -> Result<String, SerializeError> {
        let err = |message: String| SerializeError { format, message };
        match format {
            Format::Toml => self.to_toml().map_err(|e| err(e.to_string())),
            Format::Json => self.to_json().map_err(|e| err(e.to_string())),
            Format::Ron => self.to_ron().map_err(|e| err(e.to_string())),
        }
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
    let p = p.replace(".?", "");
    if p == "." || p == "?" {
        String::new()
    } else {
        p
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

/// A serde_json error: its message without the ` at line L column C` suffix, which goes to
/// the line and column fields instead.
fn json_error(path: &str, e: &serde_json::Error) -> ParseError {
    let full = e.to_string();
    let (line, column) = if e.line() > 0 {
        (Some(e.line()), Some(e.column()))
    } else {
        (None, None)
    };
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    ParseError {
        path: path.to_owned(),
        line,
        column,
        message: full
            .strip_suffix(&suffix)
            .unwrap_or(&full)
            .trim()
            .to_owned(),
    }
}

/// A RON error with its position: the start of the offending token (RON's span may start
/// at the whitespace before it).
fn ron_error(text: &str, path: &str, e: &ron::error::SpannedError) -> ParseError {
    let (line, col) = (e.span.start.line, e.span.start.col);
    // Byte offset of (line, col), both 1-based, col counted in chars.
    let offset = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>();
    let offset = text[offset.min(text.len())..]
        .char_indices()
        .nth(col.saturating_sub(1))
        .map(|(i, _)| offset + i);
    let token = offset.and_then(|o| {
        text[o..]
            .char_indices()
            .find(|(_, c)| !c.is_whitespace())
            .map(|(i, _)| o + i)
    });
    let (line, column) = match token {
        Some(at) => {
            let before = &text[..at];
            (
                before.matches('\n').count() + 1,
                before.chars().rev().take_while(|&c| c != '\n').count() + 1,
            )
        }
        None => (line, col),
    };
    ParseError {
        path: path.to_owned(),
        line: Some(line),
        column: Some(column),
        message: ron_message(&e.code),
    }
}

/// RON's message, in serde's words for the errors the other formats report through serde
/// (unknown and missing fields, unknown variants, wrong types), so a mistake reads the same
/// in every format.
fn ron_message(code: &ron::Error) -> String {
    fn one_of(expected: &[&str]) -> String {
        match expected {
            [] => "there are none".to_owned(),
            [one] => format!("expected `{one}`"),
            many => {
                let names: Vec<String> = many.iter().map(|n| format!("`{n}`")).collect();
                format!("expected one of {}", names.join(", "))
            }
        }
    }
    match code {
        ron::Error::NoSuchStructField {
            expected, found, ..
        } => format!("unknown field `{found}`, {}", one_of(expected)),
        ron::Error::NoSuchEnumVariant {
            expected, found, ..
        } => format!("unknown variant `{found}`, {}", one_of(expected)),
        ron::Error::MissingStructField { field, .. } => format!("missing field `{field}`"),
        ron::Error::DuplicateStructField { field, .. } => format!("duplicate field `{field}`"),
        ron::Error::InvalidValueForType { expected, found } => {
            format!("invalid type: {found}, expected {expected}")
        }
        other => other.to_string().trim().to_owned(),
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
    /// Projection trace recorders ([`ProjectionTraceRecorder`]):
    /// (projection index, recorder entity), in `[[record]]` order.
    pub projection_trace_recorders: Vec<(usize, bevy_ecs::entity::Entity)>,
}

/// Samples a recorder with interval `every` takes in a run of `steps` steps (steps 0, n, 2n, …).
fn samples(steps: u64, every: u64) -> usize {
    usize::try_from(steps.div_ceil(every.max(1))).unwrap_or(usize::MAX)
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
        if let Some(reward) = &sc.simulation.reward {
            let schedule = crate::plasticity::reward_schedule(reward, sc.simulation.step_time)?;
            self.set_reward_schedule(schedule);
        }
        let mut h = ScenarioHandles {
            steps,
            ..Default::default()
        };
        for (i, p) in sc.populations.iter().enumerate() {
            let schedule = self.scenario_spike_schedule(i, p)?;
            let id = self.build_population(i, p)?;
            self.attach_spike_schedule(i, p, id, schedule)?;
            h.populations.push((p.name.clone(), id));
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
            let learning = match &p.plasticity {
                Some(pl) => Some(crate::plasticity::rule_from_spec(
                    pl,
                    &format!("{path}.plasticity"),
                )?),
                None => None,
            };
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
            if let Some(rule) = learning {
                self.add_plasticity_at(&format!("{path}.plasticity"), id, rule)?;
            }
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
                StimulusSpec::Sine {
                    target,
                    amplitude,
                    frequency,
                    phase,
                    offset,
                    start,
                    stop,
                    neurons,
                } => {
                    let (k, id) = lookup(format!("{path}.target"), target)?;
                    let n = neurons
                        .as_ref()
                        .map_or(sc.populations[k].size as usize, Vec::len);
                    let sine = crate::Sine {
                        amplitude: self.stimulus_value(i, "amplitude", amplitude, n)?,
                        frequency: *frequency,
                        phase: *phase,
                        offset: self.stimulus_value(i, "offset", offset, n)?,
                        start: *start,
                        stop: *stop,
                        neurons: neurons.clone(),
                    };
                    self.add_sine_at(&path, id, sine)?;
                }
                StimulusSpec::Noise {
                    target,
                    mean,
                    std,
                    interval,
                    start,
                    stop,
                    neurons,
                } => {
                    let (k, id) = lookup(format!("{path}.target"), target)?;
                    let n = neurons
                        .as_ref()
                        .map_or(sc.populations[k].size as usize, Vec::len);
                    let noise = crate::Noise {
                        mean: self.stimulus_value(i, "mean", mean, n)?,
                        std: self.stimulus_value(i, "std", std, n)?,
                        interval: *interval,
                        start: *start,
                        stop: *stop,
                        neurons: neurons.clone(),
                    };
                    self.add_noise_at(&path, id, noise)?;
                }
            }
        }
        let batch = sc.simulation.batch_size as usize;
        let mut spiking = vec![false; sc.populations.len()];
        for (i, r) in sc.records.iter().enumerate() {
            let path = format!("record[{i}]");
            let target = match (&r.population, &r.projection) {
                (Some(p), None) => p,
                (None, Some(name)) => {
                    let Some(k) = h.projections.iter().position(|(n, _)| n == name) else {
                        return Err(BuildError::new(
                            format!("{path}.projection"),
                            unknown(
                                "projection",
                                name,
                                h.projections.iter().map(|(n, _)| n.as_str()).collect(),
                            ),
                        ));
                    };
                    let mut vars = Vec::with_capacity(r.variables.len());
                    for (j, v) in r.variables.iter().enumerate() {
                        vars.push(ProjectionVariable::from_name(v).ok_or_else(|| {
                            BuildError::new(
                                format!("{path}.variables[{j}]"),
                                unknown(
                                    "projection variable",
                                    v,
                                    ProjectionVariable::NAMES.to_vec(),
                                ),
                            )
                        })?);
                    }
                    let e = self.record_projection_at(
                        &path,
                        h.projections[k].1,
                        vars,
                        r.neurons.clone(),
                        r.synapses.clone(),
                        r.every,
                    )?;
                    if let Some(mut rec) = self.world_mut().get_mut::<ProjectionTraceRecorder>(e) {
                        rec.reserve_samples(samples(steps, r.every));
                    }
                    h.projection_trace_recorders.push((k, e));
                    continue;
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
                if let Some(mut rec) = self.world_mut().get_mut::<TraceRecorder>(e) {
                    rec.reserve_samples(samples(steps, r.every), batch);
                }
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

    /// Realises a stimulus value for its `n` stimulated neurons (random forms draw from the
    /// streams `stimulus[i].<field>`).
    fn stimulus_value(
        &self,
        i: usize,
        field: &str,
        spec: &ValueSpec,
        n: usize,
    ) -> Result<crate::Param, BuildError> {
        spec.realize(n, self.config().seed, &format!("stimulus[{i}].{field}"))
            .map_err(|e| BuildError::new(format!("stimulus[{i}].{field}"), e))
    }

    /// The spike schedule of `params.spikes` of population `i`, checked (whole neuron indices
    /// below the size, finite times ≥ 0 ms), if the population has one.
    fn scenario_spike_schedule(
        &self,
        i: usize,
        p: &PopulationSpec,
    ) -> Result<Option<SpikeSchedule>, BuildError> {
        let Some(pairs) = &p.spikes else {
            return Ok(None);
        };
        let path = format!("population[{i}].params.{SPIKES_PARAM}");
        let mut list = Vec::with_capacity(pairs.len());
        for (j, &[neuron, time]) in pairs.iter().enumerate() {
            if !(neuron.fract() == 0.0 && neuron >= 0.0 && neuron < f64::from(p.size)) {
                return Err(BuildError::invalid(
                    format!("{path}[{j}]"),
                    format!(
                        "expected [neuron, time_ms] with a whole neuron index < {} (the \
                         population size), got neuron {neuron}",
                        p.size
                    ),
                ));
            }
            list.push((neuron as u32, time));
        }
        SpikeSchedule::new(&list, p.size, self.config().step_time)
            .map(Some)
            .map_err(|e| BuildError::invalid(format!("{path}[{}]", e.index), e.message))
    }

    /// Gives a built population its scenario spike list. A model takes one if it keeps a
    /// [`SpikeSchedule`] (`spike_source`): then `spikes` is required; other models reject it.
    fn attach_spike_schedule(
        &mut self,
        i: usize,
        p: &PopulationSpec,
        id: PopulationId,
        schedule: Option<SpikeSchedule>,
    ) -> Result<(), BuildError> {
        let path = format!("population[{i}].params.{SPIKES_PARAM}");
        let takes_spikes = self.world().entity(id.0).contains::<SpikeSchedule>();
        match (schedule, takes_spikes) {
            (Some(s), true) => {
                self.world_mut().entity_mut(id.0).insert(s);
                Ok(())
            }
            (Some(_), false) => Err(BuildError::invalid(
                path,
                format!(
                    "model `{}` takes no spike list; `{SPIKES_PARAM}` is a parameter of spike \
                     sources (`spike_source`)",
                    p.model
                ),
            )),
            (None, true) => Err(BuildError::new(
                path,
                BuildErrorKind::Missing(format!(
                    "required parameter `{SPIKES_PARAM}` of model `{}` (a list of \
                     [neuron, time_ms] pairs)",
                    p.model
                )),
            )),
            (None, false) => Ok(()),
        }
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
