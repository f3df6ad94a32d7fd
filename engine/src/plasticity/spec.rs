//! Reading a scenario's `plasticity = { rule = …, … }` table.

use crate::error::{BuildError, BuildErrorKind};
use crate::scenario::{PlasticityField, PlasticitySpec};

use super::{
    Bounding, LearningRule, Mstdp, Mstdpet, NearestPairStdp, PlasticityRule, Stdp, TraceMode,
    TripletStdp, UpdateReduction, WeightBounds,
};

/// The rule names [`rule_from_spec`] accepts.
pub const RULES: [&str; 5] = [
    "stdp",
    "mstdp",
    "mstdpet",
    "triplet_stdp",
    "nearest_pair_stdp",
];

/// Fields every rule accepts.
const COMMON: [&str; 6] = [
    "weight_min",
    "weight_max",
    "bounding",
    "mu_plus",
    "mu_minus",
    "batch_reduction",
];

/// The rule of a scenario's `plasticity` table at `path` (e.g. `projection[2].plasticity`),
/// validated ([`PlasticityRule::validate`]). Errors name `path.<field>`.
///
/// Fields per rule (numbers unless noted; time constants in ms):
///
/// | rule | required | optional |
/// |---|---|---|
/// | `stdp` | `lr_post`, `lr_pre`, `tc_post`, `tc_pre` | `trace` = `"cumulative"` (default) \| `"nearest"` |
/// | `mstdp` | as `stdp` | `trace`, `scale` (γ, default 1) |
/// | `mstdpet` | as `stdp`, `tc_eligibility` | `trace`, `scale` (γ, default 1) |
/// | `triplet_stdp` | `lr_post_pair`, `lr_post_triplet`, `lr_pre_pair`, `lr_pre_triplet`, `tc_post_fast`, `tc_post_slow`, `tc_pre_fast`, `tc_pre_slow` | `trace` |
/// | `nearest_pair_stdp` | `alpha_plus`, `alpha_minus`, `tau_plus`, `tau_minus` | |
///
/// Every rule also takes `weight_min`, `weight_max` (hard bounds, each optional),
/// `bounding` = `"hard"` (default) \| `"soft"`, with soft bounding the exponents
/// `mu_plus`, `mu_minus` (default 1: multiplicative; see [`WeightBounds`]), and
/// `batch_reduction` = `"mean"` \| `"sum"` (default: the rule's, see
/// [`LearningRule::default_reduction`]).
///
/// Errors: an unknown `rule`, an unknown field, a missing required field, text where a
/// number is expected (or the reverse), an unknown `trace` / `bounding` /
/// `batch_reduction`, `mu_plus` / `mu_minus` without `bounding = "soft"`, and every
/// violation of [`PlasticityRule::validate`] (NaN, time constants ≤ 0,
/// `weight_min > weight_max`, …).
pub fn rule_from_spec(spec: &PlasticitySpec, path: &str) -> Result<PlasticityRule, BuildError> {
    let mut r = Reader {
        spec,
        path,
        used: Vec::new(),
    };
    let learning = match spec.rule.as_str() {
        "stdp" => LearningRule::Stdp(r.stdp()?),
        "mstdp" => {
            let stdp = r.stdp()?;
            let scale = r.optional_number("scale")?.unwrap_or(1.0);
            LearningRule::Mstdp(Mstdp { stdp, scale })
        }
        "mstdpet" => {
            let stdp = r.stdp()?;
            let tc_eligibility = r.number("tc_eligibility")?;
            let scale = r.optional_number("scale")?.unwrap_or(1.0);
            LearningRule::Mstdpet(Mstdpet {
                stdp,
                tc_eligibility,
                scale,
            })
        }
        "triplet_stdp" => LearningRule::TripletStdp(TripletStdp {
            lr_post_pair: r.number("lr_post_pair")?,
            lr_post_triplet: r.number("lr_post_triplet")?,
            lr_pre_pair: r.number("lr_pre_pair")?,
            lr_pre_triplet: r.number("lr_pre_triplet")?,
            tc_post_fast: r.number("tc_post_fast")?,
            tc_post_slow: r.number("tc_post_slow")?,
            tc_pre_fast: r.number("tc_pre_fast")?,
            tc_pre_slow: r.number("tc_pre_slow")?,
            trace: r.trace()?,
        }),
        "nearest_pair_stdp" => LearningRule::NearestPairStdp(NearestPairStdp {
            alpha_plus: r.number("alpha_plus")?,
            alpha_minus: r.number("alpha_minus")?,
            tau_plus: r.number("tau_plus")?,
            tau_minus: r.number("tau_minus")?,
        }),
        other => {
            return Err(BuildError::new(
                format!("{path}.rule"),
                BuildErrorKind::UnknownName {
                    what: "plasticity rule",
                    name: other.to_owned(),
                    expected: RULES.join(", "),
                },
            ));
        }
    };
    let min = r.optional_number("weight_min")?;
    let max = r.optional_number("weight_max")?;
    let bounding = match r.optional_text("bounding")? {
        None | Some("hard") => None,
        Some("soft") => Some(()),
        Some(other) => {
            return Err(r.unknown_text("bounding", other, &["hard", "soft"]));
        }
    };
    let mu_plus = r.optional_number("mu_plus")?;
    let mu_minus = r.optional_number("mu_minus")?;
    let bounding = match bounding {
        Some(()) => Bounding::Soft {
            mu_plus: mu_plus.unwrap_or(1.0),
            mu_minus: mu_minus.unwrap_or(1.0),
        },
        None => {
            for (field, v) in [("mu_plus", mu_plus), ("mu_minus", mu_minus)] {
                if v.is_some() {
                    return Err(BuildError::invalid(
                        r.at(field),
                        "weight-dependence exponents apply to `bounding = \"soft\"` only",
                    ));
                }
            }
            Bounding::Hard
        }
    };
    let reduction = match r.optional_text("batch_reduction")? {
        None => None,
        Some("mean") => Some(UpdateReduction::Mean),
        Some("sum") => Some(UpdateReduction::Sum),
        Some(other) => {
            return Err(r.unknown_text("batch_reduction", other, &["mean", "sum"]));
        }
    };
    r.finish(learning.name())?;
    let rule = PlasticityRule {
        learning,
        bounds: WeightBounds { min, max, bounding },
        reduction,
    };
    rule.validate(path)?;
    Ok(rule)
}

/// Reads fields, remembering which were used so unknown ones can be reported.
struct Reader<'a> {
    spec: &'a PlasticitySpec,
    path: &'a str,
    used: Vec<&'static str>,
}

impl<'a> Reader<'a> {
    fn at(&self, field: &str) -> String {
        format!("{}.{field}", self.path)
    }

    fn stdp(&mut self) -> Result<Stdp, BuildError> {
        Ok(Stdp {
            lr_post: self.number("lr_post")?,
            lr_pre: self.number("lr_pre")?,
            tc_post: self.number("tc_post")?,
            tc_pre: self.number("tc_pre")?,
            trace: self.trace()?,
        })
    }

    fn trace(&mut self) -> Result<TraceMode, BuildError> {
        match self.optional_text("trace")? {
            None | Some("cumulative") => Ok(TraceMode::Cumulative),
            Some("nearest") => Ok(TraceMode::Nearest),
            Some(other) => Err(self.unknown_text("trace", other, &["cumulative", "nearest"])),
        }
    }

    fn number(&mut self, field: &'static str) -> Result<f32, BuildError> {
        self.optional_number(field)?.ok_or_else(|| {
            BuildError::new(
                self.at(field),
                BuildErrorKind::Missing(format!(
                    "required field `{field}` of plasticity rule `{}`",
                    self.spec.rule
                )),
            )
        })
    }

    fn optional_number(&mut self, field: &'static str) -> Result<Option<f32>, BuildError> {
        self.used.push(field);
        match self.spec.fields.get(field) {
            None => Ok(None),
            Some(PlasticityField::Number(v)) => {
                if v.is_finite() {
                    Ok(Some(*v as f32))
                } else {
                    Err(BuildError::invalid(
                        self.at(field),
                        format!("expected a finite number, got {v}"),
                    ))
                }
            }
            Some(PlasticityField::Text(t)) => Err(BuildError::invalid(
                self.at(field),
                format!("expected a number, got the text \"{t}\""),
            )),
        }
    }

    fn optional_text(&mut self, field: &'static str) -> Result<Option<&'a str>, BuildError> {
        self.used.push(field);
        match self.spec.fields.get(field) {
            None => Ok(None),
            Some(PlasticityField::Text(t)) => Ok(Some(t.as_str())),
            Some(PlasticityField::Number(v)) => Err(BuildError::invalid(
                self.at(field),
                format!("expected a text value, got the number {v}"),
            )),
        }
    }

    fn unknown_text(&self, field: &str, got: &str, expected: &[&str]) -> BuildError {
        BuildError::new(
            self.at(field),
            BuildErrorKind::UnknownName {
                what: match field {
                    "trace" => "trace mode",
                    "bounding" => "bounding mode",
                    _ => "batch reduction",
                },
                name: got.to_owned(),
                expected: expected.join(", "),
            },
        )
    }

    /// Fails on the first field (in name order) that the rule did not read.
    fn finish(&self, rule: &str) -> Result<(), BuildError> {
        match self
            .spec
            .fields
            .keys()
            .find(|k| !self.used.contains(&k.as_str()))
        {
            None => Ok(()),
            Some(k) => {
                let mut known: Vec<&str> = self
                    .used
                    .iter()
                    .copied()
                    .filter(|f| !COMMON.contains(f))
                    .collect();
                known.extend(COMMON);
                Err(BuildError::new(
                    self.at(k),
                    BuildErrorKind::UnknownName {
                        what: "plasticity field",
                        name: k.clone(),
                        expected: format!("{} (rule `{rule}`)", known.join(", ")),
                    },
                ))
            }
        }
    }
}
