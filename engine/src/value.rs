//! Values: one number, one number per element, or a distribution to draw from.
//!
//! Scenario files accept the same forms wherever a parameter, an initial value, a weight or a
//! delay is expected (SCENARIO.md, "Values"). [`ValueSpec`] is that serde form;
//! [`ValueSpec::realize`] turns it into a [`Param`] for `n` elements, drawing random values
//! from the stream family `(seed, name)` so each element's value depends only on its identity.
//! [`Param`] keeps a single value unexpanded: kernels pick a scalar fast path for homogeneous
//! populations and an array path for heterogeneous ones, once per population, never per neuron.

use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rng::StreamFamily;

/// A parameter after realisation: one value shared by all elements, or one per element.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// The same value for every element.
    Scalar(f32),
    /// One value per element (length = element count).
    PerElement(Vec<f32>),
}

impl Param {
    /// The value of element `i`.
    #[inline]
    pub fn at(&self, i: usize) -> f32 {
        match self {
            Param::Scalar(v) => *v,
            Param::PerElement(v) => v[i],
        }
    }

    /// The single value, if every element shares it.
    pub fn as_scalar(&self) -> Option<f32> {
        match self {
            Param::Scalar(v) => Some(*v),
            Param::PerElement(_) => None,
        }
    }

    /// Expands to one value per element.
    pub fn to_vec(&self, n: usize) -> Vec<f32> {
        match self {
            Param::Scalar(v) => vec![*v; n],
            Param::PerElement(v) => v.clone(),
        }
    }

    /// Iterates over all distinct stored values (one for a scalar).
    pub fn values(&self) -> &[f32] {
        match self {
            Param::Scalar(v) => std::slice::from_ref(v),
            Param::PerElement(v) => v,
        }
    }

    /// The number of stored values if per element, `None` for a scalar.
    #[expect(
        clippy::len_without_is_empty,
        reason = "a scalar has no length; `None` says so"
    )]
    pub fn len(&self) -> Option<usize> {
        match self {
            Param::Scalar(_) => None,
            Param::PerElement(v) => Some(v.len()),
        }
    }
}

impl From<f32> for Param {
    fn from(v: f32) -> Self {
        Param::Scalar(v)
    }
}

impl From<Vec<f32>> for Param {
    fn from(v: Vec<f32>) -> Self {
        Param::PerElement(v)
    }
}

/// A value as written in a scenario (SCENARIO.md "Values").
#[derive(Clone, Debug, PartialEq)]
pub enum ValueSpec {
    /// `-50.0`: the same value for every element.
    Scalar(f64),
    /// `[-50.0, -51.0, ...]`: one value per element.
    List(Vec<f64>),
    /// `{ uniform = [lo, hi] }`: independent draws from U[lo, hi).
    Uniform {
        /// Lower bound (inclusive).
        lo: f64,
        /// Upper bound (exclusive).
        hi: f64,
    },
    /// `{ normal = { mean = m, std = s } }`: independent normal draws.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (≥ 0).
        std: f64,
    },
    /// `{ lognormal = { mu = m, sigma = s } }`: `exp(N(mu, sigma²))` draws.
    LogNormal {
        /// Mean of the underlying normal.
        mu: f64,
        /// Standard deviation of the underlying normal (≥ 0).
        sigma: f64,
    },
}

impl From<f64> for ValueSpec {
    fn from(v: f64) -> Self {
        ValueSpec::Scalar(v)
    }
}

/// Why a value could not be realised.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ValueError {
    /// A list whose length is not the element count.
    #[error("expected a list of {expected} values, got {got}")]
    WrongLength {
        /// Element count.
        expected: usize,
        /// List length given.
        got: usize,
    },
    /// A NaN or infinite number.
    #[error("expected a finite number, got {0}")]
    NotFinite(f64),
    /// A distribution with invalid parameters.
    #[error("{0}")]
    BadDistribution(String),
}

impl ValueSpec {
    /// Checks the spec without drawing (finite numbers, valid distribution parameters).
    pub fn check(&self) -> Result<(), ValueError> {
        let finite = |x: f64| {
            if x.is_finite() {
                Ok(())
            } else {
                Err(ValueError::NotFinite(x))
            }
        };
        match self {
            ValueSpec::Scalar(v) => finite(*v),
            ValueSpec::List(vs) => vs.iter().try_for_each(|v| finite(*v)),
            ValueSpec::Uniform { lo, hi } => {
                finite(*lo)?;
                finite(*hi)?;
                if lo > hi {
                    return Err(ValueError::BadDistribution(format!(
                        "uniform bounds must satisfy lo ≤ hi, got [{lo}, {hi}]"
                    )));
                }
                Ok(())
            }
            ValueSpec::Normal { mean, std } => {
                finite(*mean)?;
                finite(*std)?;
                if *std < 0.0 {
                    return Err(ValueError::BadDistribution(format!(
                        "normal std must be ≥ 0, got {std}"
                    )));
                }
                Ok(())
            }
            ValueSpec::LogNormal { mu, sigma } => {
                finite(*mu)?;
                finite(*sigma)?;
                if *sigma < 0.0 {
                    return Err(ValueError::BadDistribution(format!(
                        "lognormal sigma must be ≥ 0, got {sigma}"
                    )));
                }
                Ok(())
            }
        }
    }

    /// Realises the value for `n` elements; random forms draw element `i` from stream
    /// `(seed, name, i)`.
    pub fn realize(&self, n: usize, seed: u64, name: &str) -> Result<Param, ValueError> {
        self.check()?;
        let draw = |f: &dyn Fn(&mut crate::rng::RngStream) -> f64| {
            let fam = StreamFamily::new(seed, name);
            Param::PerElement(
                (0..n)
                    .map(|i| f(&mut fam.stream(i as u64)) as f32)
                    .collect(),
            )
        };
        Ok(match self {
            ValueSpec::Scalar(v) => Param::Scalar(*v as f32),
            ValueSpec::List(vs) => {
                if vs.len() != n {
                    return Err(ValueError::WrongLength {
                        expected: n,
                        got: vs.len(),
                    });
                }
                Param::PerElement(vs.iter().map(|v| *v as f32).collect())
            }
            ValueSpec::Uniform { lo, hi } => draw(&|s| s.uniform(*lo, *hi)),
            ValueSpec::Normal { mean, std } => draw(&|s| mean + std * s.standard_normal()),
            ValueSpec::LogNormal { mu, sigma } => {
                draw(&|s| (mu + sigma * s.standard_normal()).exp())
            }
        })
    }
}

impl Serialize for ValueSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            ValueSpec::Scalar(v) => s.serialize_f64(*v),
            ValueSpec::List(vs) => vs.serialize(s),
            ValueSpec::Uniform { lo, hi } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("uniform", &[lo, hi])?;
                m.end()
            }
            ValueSpec::Normal { mean, std } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(
                    "normal",
                    &NormalParams {
                        mean: *mean,
                        std: *std,
                    },
                )?;
                m.end()
            }
            ValueSpec::LogNormal { mu, sigma } => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(
                    "lognormal",
                    &LogNormalParams {
                        mu: *mu,
                        sigma: *sigma,
                    },
                )?;
                m.end()
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalParams {
    mean: f64,
    std: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogNormalParams {
    mu: f64,
    sigma: f64,
}

const VALUE_EXPECTED: &str = "a number, a list of numbers, or one of { uniform = [lo, hi] }, \
     { normal = { mean, std } }, { lognormal = { mu, sigma } }";

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = ValueSpec;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(VALUE_EXPECTED)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<ValueSpec, E> {
        Ok(ValueSpec::Scalar(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<ValueSpec, E> {
        Ok(ValueSpec::Scalar(v as f64))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<ValueSpec, E> {
        Ok(ValueSpec::Scalar(v as f64))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ValueSpec, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element::<f64>()? {
            out.push(v);
        }
        Ok(ValueSpec::List(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ValueSpec, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom(format!(
                "empty table; expected {VALUE_EXPECTED}"
            )));
        };
        let spec = match key.as_str() {
            "uniform" => {
                let [lo, hi] = map.next_value::<[f64; 2]>()?;
                ValueSpec::Uniform { lo, hi }
            }
            "normal" => {
                let p = map.next_value::<NormalParams>()?;
                ValueSpec::Normal {
                    mean: p.mean,
                    std: p.std,
                }
            }
            "lognormal" => {
                let p = map.next_value::<LogNormalParams>()?;
                ValueSpec::LogNormal {
                    mu: p.mu,
                    sigma: p.sigma,
                }
            }
            other => {
                return Err(de::Error::unknown_variant(
                    other,
                    &["uniform", "normal", "lognormal"],
                ));
            }
        };
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::custom(format!(
                "unexpected key `{extra}`: a distribution table has exactly one key"
            )));
        }
        Ok(spec)
    }
}

impl<'de> Deserialize<'de> for ValueSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_stays_scalar_and_list_checks_length() {
        assert_eq!(
            ValueSpec::Scalar(2.5).realize(10, 0, "x").unwrap(),
            Param::Scalar(2.5)
        );
        assert_eq!(
            ValueSpec::List(vec![1.0, 2.0]).realize(3, 0, "x"),
            Err(ValueError::WrongLength {
                expected: 3,
                got: 2
            })
        );
    }

    #[test]
    fn uniform_draws_depend_on_identity_only() {
        let spec = ValueSpec::Uniform {
            lo: -60.0,
            hi: -50.0,
        };
        let a = spec
            .realize(100, 9, "exc.init.voltage")
            .unwrap()
            .to_vec(100);
        let b = spec.realize(50, 9, "exc.init.voltage").unwrap().to_vec(50);
        assert_eq!(&a[..50], &b[..]);
        assert!(a.iter().all(|v| (-60.0..-50.0).contains(v)));
        let c = spec
            .realize(100, 10, "exc.init.voltage")
            .unwrap()
            .to_vec(100);
        assert_ne!(a, c);
    }

    #[test]
    fn rejects_nan_and_bad_distributions() {
        assert!(ValueSpec::Scalar(f64::NAN).check().is_err());
        assert!(ValueSpec::Uniform { lo: 1.0, hi: 0.0 }.check().is_err());
        assert!(
            ValueSpec::Normal {
                mean: 0.0,
                std: -1.0
            }
            .check()
            .is_err()
        );
        assert!(
            ValueSpec::LogNormal {
                mu: 0.0,
                sigma: -1.0
            }
            .check()
            .is_err()
        );
    }

    #[test]
    fn lognormal_is_positive() {
        let p = ValueSpec::LogNormal {
            mu: 0.0,
            sigma: 1.0,
        }
        .realize(1000, 1, "w")
        .unwrap();
        assert!(p.values().iter().all(|v| *v > 0.0));
    }
}
