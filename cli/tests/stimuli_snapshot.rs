//! Issue 5 (stimuli, generators, projection records) end to end through `ember run`:
//! snapshots of short runs of `tests/data/stimuli.toml` (current + sine + noise on one target)
//! and `tests/data/spike_source.toml` (a spike source driving a projection whose current and
//! weights are traced), and of the error messages of invalid uses of the new fields, in the
//! style of `tests/errors.rs`.

use std::fmt::Write as _;
use std::fs;

use ember_cli::run::{self, RunError, RunOptions};

/// Runs `text` (named `name`) with `threads` threads; returns (spikes.csv, traces.csv,
/// summary.json without wall_seconds and threads).
fn run_outputs(name: &str, text: &str, threads: usize) -> (String, String, String) {
    let sc = run::parse(name, text).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out: tmp.path().join("out"),
        threads,
        no_plot: true,
    };
    run::run(name, &sc, &opts).unwrap();
    let spikes = fs::read_to_string(opts.out.join("spikes.csv")).unwrap();
    let traces = fs::read_to_string(opts.out.join("traces.csv")).unwrap();
    let mut summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(opts.out.join("summary.json")).unwrap()).unwrap();
    let obj = summary.as_object_mut().unwrap();
    assert!(obj.shift_remove("wall_seconds").is_some());
    assert!(obj.shift_remove("threads").is_some());
    (
        spikes,
        traces,
        serde_json::to_string_pretty(&summary).unwrap(),
    )
}

fn report(spikes: &str, traces: &str, summary: &str) -> String {
    let mut text = String::new();
    writeln!(text, "spikes.csv:\n{spikes}").unwrap();
    writeln!(text, "traces.csv:\n{traces}").unwrap();
    writeln!(
        text,
        "summary.json without wall_seconds and threads:\n{summary}"
    )
    .unwrap();
    text
}

/// The rows of `traces.csv` for `target` and `variable`, as (index, batch, step, value).
fn rows(traces: &str, target: &str, variable: &str) -> Vec<(u64, u32, u64, f32)> {
    traces
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[0] == target && f[1] == variable)
        .map(|f| {
            (
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
                f[6].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn stimuli_run_is_reproducible() {
    let text = include_str!("data/stimuli.toml");
    let (spikes, traces, summary) = run_outputs("stimuli.toml", text, 1);
    assert_eq!(
        (spikes.clone(), traces.clone(), summary.clone()),
        run_outputs("stimuli.toml", text, 2),
        "the thread count changed the outputs"
    );
    // The probe's input is the sine in closed form: t = step·Δt at the start of the step.
    let probe = rows(&traces, "probe", "input");
    assert_eq!(probe.len(), 10 * 2);
    for (index, _, step, value) in probe {
        assert_eq!(index, 1);
        let t = step as f64 * 0.1;
        let expected = 0.5 + 2.0 * (std::f64::consts::TAU * 200.0 * t / 1000.0 + 0.25).sin();
        assert_eq!(value, expected as f32, "step {step}");
    }
    // After 4 ms only the currents and the sine remain: both batch copies agree again.
    for (index, batch, step, value) in rows(&traces, "cells", "input") {
        if step >= 40 && batch == 1 {
            let copy0 = rows(&traces, "cells", "input")
                .into_iter()
                .find(|r| (r.0, r.1, r.2) == (index, 0, step))
                .unwrap();
            assert_eq!(value, copy0.3, "neuron {index}, step {step}");
        }
    }
    insta::assert_snapshot!("stimuli_5ms", report(&spikes, &traces, &summary));
}

#[test]
fn spike_source_run_is_reproducible() {
    let text = include_str!("data/spike_source.toml");
    let (spikes, traces, summary) = run_outputs("spike_source.toml", text, 1);
    let src: Vec<&str> = spikes.lines().filter(|l| l.starts_with("src,")).collect();
    assert_eq!(
        src,
        [
            "src,0,0,10,1",
            "src,1,0,10,1",
            "src,2,0,10,1",
            "src,0,0,25,2.5"
        ]
    );
    // Weights of synapses 5 (pre 2 → post 1) and 0 (pre 0 → post 0), every 5 steps.
    let weights = rows(&traces, "drive", "weight");
    assert_eq!(weights.len(), 10 * 2);
    for (index, _, _, value) in weights {
        assert_eq!(value, if index == 5 { 0.25 } else { 1.0 });
    }
    insta::assert_snapshot!("spike_source_5ms", report(&spikes, &traces, &summary));
}

/// The file name shown in messages.
const FILE: &str = "bad.toml";

/// A small valid scenario using every new feature; each test edits one part of it.
const BASE: &str = r#"[simulation]
step_time = 0.1
duration = 1.0
seed = 3

[[population]]
name = "src"
size = 3
model = "spike_source"
params = { spikes = [[0, 0.2], [2, 0.5]] }

[[population]]
name = "exc"
size = 4
model = "lif"
params = { rest_v = -49.0, reset_v = -60.0, thresh_v = -50.0, refrac_t = 5.0, tc_membrane = 20.0 }

[[projection]]
pre = "src"
post = "exc"
connectivity = "all_to_all"
synapse = { model = "delta_current", spike_charge = 1.0 }

[[stimulus]]
target = "exc"
kind = "sine"
amplitude = 0.5
frequency = 10.0

[[stimulus]]
target = "exc"
kind = "noise"
mean = 0.0
std = 0.2
interval = 0.5

[[record]]
projection = "src_to_exc"
variables = ["current", "weight"]
neurons = [0, 3]
synapses = [0, 11]
"#;

/// Parses and builds `text` (named [`FILE`]) with one thread.
fn check(text: &str) -> Result<(), RunError> {
    let sc = run::parse(FILE, text)?;
    run::build(FILE, &sc, 1)?;
    Ok(())
}

/// The message for `text`, which must fail as an input error (exit status 2).
fn error_of(text: &str) -> String {
    match check(text) {
        Ok(()) => panic!("scenario was accepted:\n{text}"),
        Err(e) => {
            assert!(e.is_input_error(), "not an input error: {e}");
            let msg = e.to_string();
            assert!(msg.starts_with("bad.toml: "), "file name missing: {msg}");
            msg
        }
    }
}

/// [`BASE`] with the first occurrence of `from` replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "`{from}` is not in BASE");
    BASE.replacen(from, to, 1)
}

#[test]
fn base_scenario_is_valid() {
    check(BASE).unwrap();
}

#[test]
fn sine_negative_frequency() {
    insta::assert_snapshot!(
        "sine_negative_frequency",
        error_of(&edit("frequency = 10.0", "frequency = -10.0"))
    );
}

#[test]
fn sine_missing_frequency() {
    insta::assert_snapshot!(
        "sine_missing_frequency",
        error_of(&edit("frequency = 10.0\n", ""))
    );
}

#[test]
fn sine_nan_phase() {
    insta::assert_snapshot!(
        "sine_nan_phase",
        error_of(&edit("frequency = 10.0", "frequency = 10.0\nphase = nan"))
    );
}

#[test]
fn noise_negative_std() {
    insta::assert_snapshot!(
        "noise_negative_std",
        error_of(&edit("std = 0.2", "std = -0.2"))
    );
}

#[test]
fn noise_interval_not_a_multiple_of_step_time() {
    insta::assert_snapshot!(
        "noise_interval_not_a_multiple_of_step_time",
        error_of(&edit("interval = 0.5", "interval = 0.25"))
    );
}

#[test]
fn noise_zero_interval() {
    insta::assert_snapshot!(
        "noise_zero_interval",
        error_of(&edit("interval = 0.5", "interval = 0.0"))
    );
}

#[test]
fn noise_neuron_out_of_range() {
    insta::assert_snapshot!(
        "noise_neuron_out_of_range",
        error_of(&edit("interval = 0.5", "interval = 0.5\nneurons = [1, 4]"))
    );
}

#[test]
fn spike_source_neuron_out_of_range() {
    insta::assert_snapshot!(
        "spike_source_neuron_out_of_range",
        error_of(&edit("[2, 0.5]", "[3, 0.5]"))
    );
}

#[test]
fn spike_source_fractional_neuron() {
    insta::assert_snapshot!(
        "spike_source_fractional_neuron",
        error_of(&edit("[2, 0.5]", "[1.5, 0.5]"))
    );
}

#[test]
fn spike_source_negative_time() {
    insta::assert_snapshot!(
        "spike_source_negative_time",
        error_of(&edit("[2, 0.5]", "[2, -0.5]"))
    );
}

#[test]
fn spike_source_nan_time() {
    insta::assert_snapshot!(
        "spike_source_nan_time",
        error_of(&edit("[2, 0.5]", "[2, nan]"))
    );
}

#[test]
fn spike_source_missing_spikes() {
    insta::assert_snapshot!(
        "spike_source_missing_spikes",
        error_of(&edit("params = { spikes = [[0, 0.2], [2, 0.5]] }\n", ""))
    );
}

#[test]
fn spike_list_entry_not_a_pair() {
    insta::assert_snapshot!(
        "spike_list_entry_not_a_pair",
        error_of(&edit("[2, 0.5]", "[2, 0.5, 1.0]"))
    );
}

#[test]
fn spike_list_on_a_neuron_model() {
    insta::assert_snapshot!(
        "spike_list_on_a_neuron_model",
        error_of(&edit(
            "tc_membrane = 20.0 }",
            "tc_membrane = 20.0, spikes = [[0, 1.0]] }"
        ))
    );
}

#[test]
fn projection_record_unknown_projection() {
    insta::assert_snapshot!(
        "projection_record_unknown_projection",
        error_of(&edit(
            "projection = \"src_to_exc\"",
            "projection = \"exc_to_src\""
        ))
    );
}

#[test]
fn projection_record_unknown_variable() {
    insta::assert_snapshot!(
        "projection_record_unknown_variable",
        error_of(&edit("\"current\", \"weight\"", "\"current\", \"voltage\""))
    );
}

#[test]
fn projection_record_synapse_out_of_range() {
    insta::assert_snapshot!(
        "projection_record_synapse_out_of_range",
        error_of(&edit("synapses = [0, 11]", "synapses = [0, 12]"))
    );
}

#[test]
fn projection_record_neurons_without_current() {
    insta::assert_snapshot!(
        "projection_record_neurons_without_current",
        error_of(&edit("\"current\", \"weight\"", "\"weight\""))
    );
}

#[test]
fn projection_record_without_variables() {
    insta::assert_snapshot!(
        "projection_record_without_variables",
        error_of(&edit(
            "variables = [\"current\", \"weight\"]\nneurons = [0, 3]\nsynapses = [0, 11]\n",
            ""
        ))
    );
}
