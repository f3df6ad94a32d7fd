//! Typed errors for building and running simulations.
//!
//! Every build error carries the *field path* of the offending input — in scenario files the
//! TOML path (`population[1].params.tc_membrane`), in Rust the population or projection name
//! (`population "exc".params.tc_membrane`) — and says what was expected. Invalid input is
//! rejected when the network is built, never discovered mid-run.

use crate::connectivity::ConnectError;
use crate::value::ValueError;

/// An invalid network description, with the path of the offending field.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct BuildError {
    /// Field path, e.g. `population[1].params.tc_membrane`.
    pub path: String,
    /// What is wrong.
    pub kind: BuildErrorKind,
}

impl BuildError {
    /// A new error at `path`.
    pub fn new(path: impl Into<String>, kind: impl Into<BuildErrorKind>) -> Self {
        Self {
            path: path.into(),
            kind: kind.into(),
        }
    }

    /// An "invalid value" error with a free-text explanation of what was expected.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(path, BuildErrorKind::Invalid(message.into()))
    }
}

/// The kinds of build error.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BuildErrorKind {
    /// A name that refers to nothing registered or declared.
    #[error("unknown {what} `{name}`; expected one of: {expected}")]
    UnknownName {
        /// What kind of name (e.g. "neuron model", "population").
        what: &'static str,
        /// The name given.
        name: String,
        /// The names that would have been accepted.
        expected: String,
    },
    /// A name declared twice.
    #[error("duplicate {what} name `{name}`")]
    Duplicate {
        /// What kind of name.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A required field is missing.
    #[error("missing {0}")]
    Missing(String),
    /// A value is outside its valid range or inconsistent with others.
    #[error("{0}")]
    Invalid(String),
    /// A feature of the scenario format that this build does not implement yet.
    #[error("{0} is not supported yet")]
    Unsupported(String),
    /// A value form could not be realised.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// A connection rule could not be applied.
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

/// A model parameter that violates the model's validation rules (Inferno's), naming the
/// parameter; the builder turns it into a [`BuildError`] at `…params.<param>`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("`{param}` {message}")]
pub struct ParamError {
    /// The parameter's name as in scenario files, e.g. `tc_membrane`.
    pub param: &'static str,
    /// What was expected and what was found.
    pub message: String,
}

impl ParamError {
    /// A new parameter error.
    pub fn new(param: &'static str, message: impl Into<String>) -> Self {
        Self {
            param,
            message: message.into(),
        }
    }
}

/// An error while running: the step schedule could not be built (e.g. two user systems
/// writing the same component without an order between them).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("the step schedule is invalid: {0}")]
pub struct ScheduleError(pub String);
