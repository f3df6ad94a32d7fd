//! Scenario-table parsing and validation of plasticity rules.

use std::collections::BTreeMap;

use super::*;
use crate::scenario::{PlasticityField, PlasticitySpec};

const PATH: &str = "projection[0].plasticity";

fn spec(rule: &str, fields: &[(&str, PlasticityField)]) -> PlasticitySpec {
    PlasticitySpec {
        rule: rule.to_owned(),
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn n(v: f64) -> PlasticityField {
    PlasticityField::Number(v)
}

fn t(v: &str) -> PlasticityField {
    PlasticityField::Text(v.to_owned())
}

fn stdp_fields() -> Vec<(&'static str, PlasticityField)> {
    vec![
        ("lr_post", n(0.01)),
        ("lr_pre", n(-0.012)),
        ("tc_post", n(20.0)),
        ("tc_pre", n(15.0)),
    ]
}

fn with(
    mut fields: Vec<(&'static str, PlasticityField)>,
    extra: &[(&'static str, PlasticityField)],
) -> Vec<(&'static str, PlasticityField)> {
    for (k, v) in extra {
        fields.retain(|(f, _)| f != k);
        fields.push((k, v.clone()));
    }
    fields
}

fn err(rule: &str, fields: &[(&str, PlasticityField)]) -> BuildError {
    rule_from_spec(&spec(rule, fields), PATH).unwrap_err()
}

#[test]
fn every_rule_parses() {
    let r = rule_from_spec(&spec("stdp", &stdp_fields()), PATH).unwrap();
    assert_eq!(r, PlasticityRule::new(Stdp::new(0.01, -0.012, 20.0, 15.0)));
    let r = rule_from_spec(
        &spec(
            "mstdp",
            &with(stdp_fields(), &[("trace", t("nearest")), ("scale", n(0.5))]),
        ),
        PATH,
    )
    .unwrap();
    assert_eq!(
        r.learning,
        LearningRule::Mstdp(Mstdp {
            stdp: Stdp::new(0.01, -0.012, 20.0, 15.0).with_trace(TraceMode::Nearest),
            scale: 0.5
        })
    );
    let r = rule_from_spec(
        &spec(
            "mstdpet",
            &with(
                stdp_fields(),
                &[
                    ("tc_eligibility", n(25.0)),
                    ("weight_min", n(0.0)),
                    ("weight_max", n(1.0)),
                    ("bounding", t("soft")),
                    ("mu_minus", n(0.5)),
                    ("batch_reduction", t("mean")),
                ],
            ),
        ),
        PATH,
    )
    .unwrap();
    assert_eq!(
        r.learning,
        LearningRule::Mstdpet(Mstdpet::new(Stdp::new(0.01, -0.012, 20.0, 15.0), 25.0))
    );
    assert_eq!(r.bounds, WeightBounds::soft(Some(0.0), Some(1.0), 1.0, 0.5));
    assert_eq!(r.reduction, Some(UpdateReduction::Mean));
    let triplet = [
        ("lr_post_pair", n(0.005)),
        ("lr_post_triplet", n(0.006)),
        ("lr_pre_pair", n(-0.007)),
        ("lr_pre_triplet", n(0.001)),
        ("tc_post_fast", n(33.7)),
        ("tc_post_slow", n(125.0)),
        ("tc_pre_fast", n(16.8)),
        ("tc_pre_slow", n(101.0)),
    ];
    let r = rule_from_spec(&spec("triplet_stdp", &triplet), PATH).unwrap();
    assert_eq!(r.learning.name(), "triplet_stdp");
    let np = [
        ("alpha_plus", n(0.01)),
        ("alpha_minus", n(0.012)),
        ("tau_plus", n(20.0)),
        ("tau_minus", n(20.0)),
        ("weight_max", n(2.0)),
    ];
    let r = rule_from_spec(&spec("nearest_pair_stdp", &np), PATH).unwrap();
    assert_eq!(r.bounds, WeightBounds::hard(None, Some(2.0)));
    assert_eq!(r.learning.default_reduction(), UpdateReduction::Mean);
}

#[test]
fn errors_name_the_field() {
    let e = err("hebb", &stdp_fields());
    assert_eq!(e.path, format!("{PATH}.rule"));
    assert!(matches!(e.kind, BuildErrorKind::UnknownName { .. }), "{e}");
    assert!(e.to_string().contains("nearest_pair_stdp"), "{e}");

    let e = err("stdp", &with(stdp_fields(), &[("tc_elig", n(1.0))]));
    assert_eq!(e.path, format!("{PATH}.tc_elig"));
    assert!(e.to_string().contains("lr_post"), "{e}");

    let fields: Vec<_> = stdp_fields()
        .into_iter()
        .filter(|(k, _)| *k != "tc_pre")
        .collect();
    let e = err("stdp", &fields);
    assert_eq!(e.path, format!("{PATH}.tc_pre"));
    assert!(matches!(e.kind, BuildErrorKind::Missing(_)), "{e}");

    let e = err("stdp", &with(stdp_fields(), &[("lr_post", n(f64::NAN))]));
    assert_eq!(e.path, format!("{PATH}.lr_post"));

    let e = err("stdp", &with(stdp_fields(), &[("tc_post", n(-5.0))]));
    assert_eq!(e.path, format!("{PATH}.tc_post"));
    let e = err(
        "mstdpet",
        &with(stdp_fields(), &[("tc_eligibility", n(0.0))]),
    );
    assert_eq!(e.path, format!("{PATH}.tc_eligibility"));

    let e = err(
        "stdp",
        &with(
            stdp_fields(),
            &[("weight_min", n(1.0)), ("weight_max", n(0.5))],
        ),
    );
    assert_eq!(e.path, format!("{PATH}.weight_min"));

    let e = err("stdp", &with(stdp_fields(), &[("trace", t("all"))]));
    assert_eq!(e.path, format!("{PATH}.trace"));
    assert!(matches!(e.kind, BuildErrorKind::UnknownName { .. }), "{e}");

    let e = err("stdp", &with(stdp_fields(), &[("bounding", t("sharp"))]));
    assert_eq!(e.path, format!("{PATH}.bounding"));

    let e = err("stdp", &with(stdp_fields(), &[("lr_pre", t("fast"))]));
    assert_eq!(e.path, format!("{PATH}.lr_pre"));
    let e = err("stdp", &with(stdp_fields(), &[("trace", n(1.0))]));
    assert_eq!(e.path, format!("{PATH}.trace"));

    let e = err("stdp", &with(stdp_fields(), &[("mu_plus", n(2.0))]));
    assert_eq!(e.path, format!("{PATH}.mu_plus"));
    let e = err(
        "stdp",
        &with(
            stdp_fields(),
            &[
                ("bounding", t("soft")),
                ("weight_max", n(1.0)),
                ("mu_plus", n(-1.0)),
            ],
        ),
    );
    assert_eq!(e.path, format!("{PATH}.mu_plus"));
    let e = err("stdp", &with(stdp_fields(), &[("bounding", t("soft"))]));
    assert_eq!(e.path, format!("{PATH}.bounding"));

    // `scale` and `tc_eligibility` belong to the modulated rules only.
    let e = err("stdp", &with(stdp_fields(), &[("scale", n(1.0))]));
    assert_eq!(e.path, format!("{PATH}.scale"));
    let e = err(
        "nearest_pair_stdp",
        &[
            ("alpha_plus", n(0.01)),
            ("alpha_minus", n(0.012)),
            ("tau_plus", n(20.0)),
            ("tau_minus", n(20.0)),
            ("trace", t("nearest")),
        ],
    );
    assert_eq!(e.path, format!("{PATH}.trace"));
    let e = err(
        "nearest_pair_stdp",
        &[
            ("alpha_plus", n(-0.01)),
            ("alpha_minus", n(0.012)),
            ("tau_plus", n(20.0)),
            ("tau_minus", n(20.0)),
        ],
    );
    assert_eq!(e.path, format!("{PATH}.alpha_plus"));
}

#[test]
fn triplet_validation_follows_inferno() {
    let base = vec![
        ("lr_post_pair", n(0.005)),
        ("lr_post_triplet", n(0.006)),
        ("lr_pre_pair", n(-0.007)),
        ("lr_pre_triplet", n(0.001)),
        ("tc_post_fast", n(33.7)),
        ("tc_post_slow", n(125.0)),
        ("tc_pre_fast", n(16.8)),
        ("tc_pre_slow", n(101.0)),
    ];
    let e = err(
        "triplet_stdp",
        &with(base.clone(), &[("lr_pre_pair", n(0.0))]),
    );
    assert_eq!(e.path, format!("{PATH}.lr_pre_pair"));
    let e = err(
        "triplet_stdp",
        &with(base.clone(), &[("tc_post_slow", n(30.0))]),
    );
    assert_eq!(e.path, format!("{PATH}.tc_post_slow"));
    let e = err("triplet_stdp", &with(base, &[("tc_pre_slow", n(16.8))]));
    assert_eq!(e.path, format!("{PATH}.tc_pre_slow"));
}
