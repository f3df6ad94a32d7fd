//! Plasticity from scenario files (issue 6): `tests/data/plasticity.toml` (STDP with hard
//! bounds on a dense projection, reward-modulated STDP with nearest traces on a sparse one,
//! a `[simulation] reward` schedule) runs, learns within its bounds, does not depend on the
//! thread count, and is snapshot-tested; invalid plasticity fields give clear errors.

use std::fs;

use ember_cli::run::{self, RunOptions};

const FILE: &str = "plasticity.toml";
const TEXT: &str = include_str!("data/plasticity.toml");

/// (spikes.csv, traces.csv) of a run with `threads` threads.
fn run_outputs(text: &str, threads: usize) -> (String, String) {
    let sc = run::parse(FILE, text).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out: tmp.path().join("out"),
        threads,
        no_plot: true,
    };
    run::run(FILE, &sc, &opts).unwrap();
    (
        fs::read_to_string(opts.out.join("spikes.csv")).unwrap(),
        fs::read_to_string(opts.out.join("traces.csv")).unwrap(),
    )
}

/// Weight rows of `projection`: (synapse, step, value).
fn weights(traces: &str, projection: &str) -> Vec<(u64, u64, f32)> {
    traces
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[0] == projection && f[1] == "weight")
        .map(|f| {
            (
                f[2].parse().unwrap(),
                f[4].parse().unwrap(),
                f[6].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn plastic_scenario_learns_within_bounds_on_any_thread_count() {
    let (spikes, traces) = run_outputs(TEXT, 1);
    assert_eq!((spikes.clone(), traces.clone()), run_outputs(TEXT, 2));
    for (projection, lo, hi) in [("stdp", 0.0, 5.0), ("reward", -2.0, 2.0)] {
        let w = weights(&traces, projection);
        assert!(
            w.iter().all(|&(_, _, v)| (lo..=hi).contains(&v)),
            "{projection}"
        );
        let first: Vec<f32> = w.iter().filter(|r| r.1 == 0).map(|r| r.2).collect();
        let last_step = w.iter().map(|r| r.1).max().unwrap();
        let last: Vec<f32> = w.iter().filter(|r| r.1 == last_step).map(|r| r.2).collect();
        assert_ne!(first, last, "{projection}: weights change");
    }
    // Without the rule (eval mode) the weights stay put.
    let eval = TEXT.replace("seed = 3\n", "seed = 3\nmode = \"eval\"\n");
    let (_, frozen) = run_outputs(&eval, 1);
    for projection in ["stdp", "reward"] {
        let w = weights(&frozen, projection);
        let first: Vec<f32> = w.iter().filter(|r| r.1 == 0).map(|r| r.2).collect();
        assert!(
            w.iter().all(|r| first.contains(&r.2)),
            "{projection} frozen"
        );
    }
    insta::assert_snapshot!("plasticity_200ms", format!("{spikes}\n{traces}"));
}

/// The message of a scenario that must fail to build as an input error.
fn error_of(text: &str) -> String {
    let e = run::parse(FILE, text)
        .and_then(|sc| run::build(FILE, &sc, 1).map(|_| ()))
        .expect_err("scenario was accepted");
    assert!(e.is_input_error(), "{e}");
    e.to_string()
}

fn edit(from: &str, to: &str) -> String {
    assert!(TEXT.contains(from), "`{from}` not in the scenario");
    TEXT.replacen(from, to, 1)
}

#[test]
fn plasticity_errors_name_the_field() {
    let cases = [
        ("unknown_rule", edit("rule = \"stdp\"", "rule = \"bcm\"")),
        ("missing_field", edit("lr_post = 0.2, ", "")),
        (
            "negative_time_constant",
            edit("tc_post = 20.0", "tc_post = -20.0"),
        ),
        (
            "unknown_field",
            edit("tc_pre = 20.0,", "tc_pre = 20.0, tc_bogus = 1.0,"),
        ),
        (
            "bad_trace_mode",
            edit("trace = \"nearest\"", "trace = \"closest\""),
        ),
        (
            "inverted_bounds",
            edit(
                "weight_min = 0.0, weight_max = 5.0",
                "weight_min = 5.0, weight_max = 0.0",
            ),
        ),
        ("reward_nan_time", edit("[100.0, -1.0]", "[nan, -1.0]")),
    ];
    let mut all = String::new();
    for (name, text) in cases {
        all += &format!("{name}: {}\n", error_of(&text));
    }
    insta::assert_snapshot!("plasticity_errors", all);
}
