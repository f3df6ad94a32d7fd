//! Snapshot tests of the error messages users see when a scenario is wrong.
//!
//! Each case starts from a small valid scenario ([`BASE`]), changes one thing, and snapshots
//! the `RunError` text (`<file>: line L, column C: <path>: <message>` for parse errors,
//! `<file>: <path>: <message>` for build errors) exactly as `ember run` prints it after
//! `error: `. Every message must name the file, the field path and what was expected.

use ember_cli::run::{self, RunError};

/// The file name shown in messages.
const FILE: &str = "bad.toml";

/// A small valid scenario; each test edits one part of it.
const BASE: &str = r#"[simulation]
step_time = 0.1
duration = 1.0
seed = 3

[[population]]
name = "exc"
size = 4
model = "lif"
params = { rest_v = -49.0, reset_v = -60.0, thresh_v = -50.0, refrac_t = 5.0, tc_membrane = 20.0 }

[[population]]
name = "inh"
size = 2
model = "lif"
params = { rest_v = -49.0, reset_v = -60.0, thresh_v = -50.0, refrac_t = 5.0, tc_membrane = 20.0 }

[[projection]]
pre = "exc"
post = "inh"
connectivity = { fixed_probability = 0.5 }
synapse = { model = "single_exponential_current", spike_charge = 5.0, time_constant = 5.0 }
weight = 1.62

[[stimulus]]
target = "exc"
kind = "current"
amplitude = 0.5

[[record]]
population = "exc"
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

/// [`BASE`] with the `n`th occurrence (0-based) of `from` replaced by `to`.
fn edit_nth(n: usize, from: &str, to: &str) -> String {
    let (at, _) = BASE
        .match_indices(from)
        .nth(n)
        .unwrap_or_else(|| panic!("`{from}` occurs fewer than {} times in BASE", n + 1));
    format!("{}{}{}", &BASE[..at], to, &BASE[at + from.len()..])
}

/// [`BASE`] with the first occurrence of `from` replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    edit_nth(0, from, to)
}

/// [`BASE`] with `extra` appended.
fn with(extra: &str) -> String {
    format!("{BASE}\n{extra}")
}

#[test]
fn base_scenario_is_valid() {
    check(BASE).unwrap();
}

#[test]
fn unknown_top_level_field() {
    let text = format!("verbose = true\n{BASE}");
    insta::assert_snapshot!("unknown_top_level_field", error_of(&text));
}

#[test]
fn unknown_simulation_field() {
    insta::assert_snapshot!(
        "unknown_simulation_field",
        error_of(&edit("seed = 3", "sead = 3"))
    );
}

#[test]
fn unknown_field_in_population() {
    insta::assert_snapshot!(
        "unknown_field_in_population",
        error_of(&edit_nth(1, "size = ", "sizee = "))
    );
}

#[test]
fn unknown_neuron_model() {
    insta::assert_snapshot!(
        "unknown_neuron_model",
        error_of(&edit("model = \"lif\"", "model = \"lifx\""))
    );
}

#[test]
fn missing_required_parameter() {
    insta::assert_snapshot!(
        "missing_required_parameter",
        error_of(&edit(", tc_membrane = 20.0", ""))
    );
}

#[test]
fn unknown_parameter() {
    insta::assert_snapshot!(
        "unknown_parameter",
        error_of(&edit(
            "tc_membrane = 20.0",
            "tc_membrane = 20.0, tau_m = 20.0"
        ))
    );
}

#[test]
fn negative_tc_membrane() {
    insta::assert_snapshot!(
        "negative_tc_membrane",
        error_of(&edit("tc_membrane = 20.0", "tc_membrane = -20.0"))
    );
}

#[test]
fn reset_v_not_below_thresh_v() {
    insta::assert_snapshot!(
        "reset_v_not_below_thresh_v",
        error_of(&edit("reset_v = -60.0", "reset_v = -50.0"))
    );
}

#[test]
fn per_neuron_reset_v_above_thresh_v() {
    insta::assert_snapshot!(
        "per_neuron_reset_v_above_thresh_v",
        error_of(&edit(
            "reset_v = -60.0",
            "reset_v = [-60.0, -60.0, -40.0, -60.0]"
        ))
    );
}

#[test]
fn zero_step_time() {
    insta::assert_snapshot!(
        "zero_step_time",
        error_of(&edit("step_time = 0.1", "step_time = 0.0"))
    );
}

#[test]
fn negative_step_time() {
    insta::assert_snapshot!(
        "negative_step_time",
        error_of(&edit("step_time = 0.1", "step_time = -0.1"))
    );
}

#[test]
fn duration_not_a_multiple_of_step_time() {
    insta::assert_snapshot!(
        "duration_not_a_multiple_of_step_time",
        error_of(&edit("duration = 1.0", "duration = 1.05"))
    );
}

#[test]
fn negative_duration() {
    insta::assert_snapshot!(
        "negative_duration",
        error_of(&edit("duration = 1.0", "duration = -1.0"))
    );
}

#[test]
fn nan_step_time() {
    insta::assert_snapshot!(
        "nan_step_time",
        error_of(&edit("step_time = 0.1", "step_time = nan"))
    );
}

#[test]
fn nan_duration() {
    insta::assert_snapshot!(
        "nan_duration",
        error_of(&edit("duration = 1.0", "duration = nan"))
    );
}

#[test]
fn nan_parameter() {
    insta::assert_snapshot!(
        "nan_parameter",
        error_of(&edit("thresh_v = -50.0", "thresh_v = nan"))
    );
}

#[test]
fn infinite_parameter() {
    insta::assert_snapshot!(
        "infinite_parameter",
        error_of(&edit("tc_membrane = 20.0", "tc_membrane = inf"))
    );
}

#[test]
fn nan_weight() {
    insta::assert_snapshot!(
        "nan_weight",
        error_of(&edit("weight = 1.62", "weight = nan"))
    );
}

#[test]
fn nan_initial_voltage() {
    let text = edit_nth(
        0,
        "tc_membrane = 20.0 }\n",
        "tc_membrane = 20.0 }\ninit = { voltage = nan }\n",
    );
    insta::assert_snapshot!("nan_initial_voltage", error_of(&text));
}

#[test]
fn nan_stimulus_amplitude() {
    insta::assert_snapshot!(
        "nan_stimulus_amplitude",
        error_of(&edit("amplitude = 0.5", "amplitude = nan"))
    );
}

#[test]
fn nan_probability() {
    insta::assert_snapshot!(
        "nan_probability",
        error_of(&edit("fixed_probability = 0.5", "fixed_probability = nan"))
    );
}

#[test]
fn size_zero() {
    insta::assert_snapshot!("size_zero", error_of(&edit("size = 2", "size = 0")));
}

#[test]
fn negative_size() {
    insta::assert_snapshot!("negative_size", error_of(&edit("size = 2", "size = -2")));
}

#[test]
fn duplicate_population_names() {
    insta::assert_snapshot!(
        "duplicate_population_names",
        error_of(&edit("name = \"inh\"", "name = \"exc\""))
    );
}

#[test]
fn invalid_population_name() {
    insta::assert_snapshot!(
        "invalid_population_name",
        error_of(&edit("name = \"inh\"", "name = \"2inh\""))
    );
}

#[test]
fn unknown_population_in_projection_pre() {
    insta::assert_snapshot!(
        "unknown_population_in_projection_pre",
        error_of(&edit("pre = \"exc\"", "pre = \"excc\""))
    );
}

#[test]
fn unknown_population_in_stimulus_target() {
    insta::assert_snapshot!(
        "unknown_population_in_stimulus_target",
        error_of(&edit("target = \"exc\"", "target = \"ex\""))
    );
}

#[test]
fn probability_above_one() {
    insta::assert_snapshot!(
        "probability_above_one",
        error_of(&edit("fixed_probability = 0.5", "fixed_probability = 1.5"))
    );
}

#[test]
fn per_neuron_parameter_list_of_wrong_length() {
    insta::assert_snapshot!(
        "per_neuron_parameter_list_of_wrong_length",
        error_of(&edit(
            "thresh_v = -50.0",
            "thresh_v = [-50.0, -50.0, -50.0]"
        ))
    );
}

#[test]
fn per_neuron_initial_voltage_of_wrong_length() {
    let text = edit_nth(
        0,
        "tc_membrane = 20.0 }\n",
        "tc_membrane = 20.0 }\ninit = { voltage = [-60.0, -55.0] }\n",
    );
    insta::assert_snapshot!(
        "per_neuron_initial_voltage_of_wrong_length",
        error_of(&text)
    );
}

#[test]
fn toml_syntax_error_names_line_and_column() {
    let msg = error_of(&edit("weight = 1.62", "weight = = 1.62"));
    // Line 23 is `weight = = 1.62`; column 10 is the second `=`.
    assert!(msg.starts_with("bad.toml: line 23, column 10:"), "{msg}");
    assert!(msg.contains("extra `=`"), "{msg}");
}

/// A syntax error has no field path, and the message then shows `column 10:: extra …` with
/// a doubled colon (`ParseError`'s Display appends `": {message}"` after a location that
/// already ends in `:`). The snapshot holds the intended text.
#[test]
fn toml_syntax_error() {
    insta::assert_snapshot!(
        "toml_syntax_error",
        error_of(&edit("weight = 1.62", "weight = = 1.62"))
    );
}

#[test]
fn toml_duplicate_key_names_line_and_column() {
    let msg = error_of(&edit("seed = 3", "seed = 3\nseed = 4"));
    // Line 5 is the second `seed = …`.
    assert!(msg.starts_with("bad.toml: line 5, column 1:"), "{msg}");
    assert!(msg.contains("duplicate key"), "{msg}");
}

/// Same doubled colon as [`toml_syntax_error`]; the snapshot holds the intended text.
#[test]
fn toml_duplicate_key() {
    insta::assert_snapshot!(
        "toml_duplicate_key",
        error_of(&edit("seed = 3", "seed = 3\nseed = 4"))
    );
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(
        "wrong_type",
        error_of(&edit("seed = 3", "seed = \"three\""))
    );
}

#[test]
fn missing_required_field() {
    insta::assert_snapshot!(
        "missing_required_field",
        error_of(&edit("duration = 1.0\n", ""))
    );
}

#[test]
fn unknown_synapse_model() {
    insta::assert_snapshot!(
        "unknown_synapse_model",
        error_of(&edit(
            "model = \"single_exponential_current\"",
            "model = \"double_exp\""
        ))
    );
}

#[test]
fn unknown_synapse_parameter() {
    insta::assert_snapshot!(
        "unknown_synapse_parameter",
        error_of(&edit(
            "time_constant = 5.0",
            "time_constant = 5.0, tau = 5.0"
        ))
    );
}

#[test]
fn invalid_connectivity_string() {
    insta::assert_snapshot!(
        "invalid_connectivity_string",
        error_of(&edit(
            "connectivity = { fixed_probability = 0.5 }",
            "connectivity = \"all_to_one\""
        ))
    );
}

#[test]
fn unknown_connectivity_rule_table() {
    insta::assert_snapshot!(
        "unknown_connectivity_rule_table",
        error_of(&edit(
            "connectivity = { fixed_probability = 0.5 }",
            "connectivity = { probability = 0.5 }"
        ))
    );
}

#[test]
fn unknown_value_distribution() {
    insta::assert_snapshot!(
        "unknown_value_distribution",
        error_of(&edit("weight = 1.62", "weight = { gaussian = [1.0, 0.1] }"))
    );
}

#[test]
fn unknown_stimulus_kind() {
    insta::assert_snapshot!(
        "unknown_stimulus_kind",
        error_of(&edit("kind = \"current\"", "kind = \"pulse\""))
    );
}

#[test]
fn unknown_stimulus_field() {
    insta::assert_snapshot!(
        "unknown_stimulus_field",
        error_of(&edit("amplitude = 0.5", "amplitude = 0.5\nduration = 3.0"))
    );
}

#[test]
fn record_with_population_and_projection() {
    insta::assert_snapshot!(
        "record_with_population_and_projection",
        error_of(&with(
            "[[record]]\npopulation = \"inh\"\nprojection = \"exc_to_inh\"\n"
        ))
    );
}

#[test]
fn record_with_neither_population_nor_projection() {
    insta::assert_snapshot!(
        "record_with_neither_population_nor_projection",
        error_of(&with("[[record]]\nvariables = [\"voltage\"]\n"))
    );
}

#[test]
fn unknown_trace_variable() {
    insta::assert_snapshot!(
        "unknown_trace_variable",
        error_of(&with(
            "[[record]]\npopulation = \"inh\"\nvariables = [\"voltage\", \"voltag\"]\n"
        ))
    );
}

#[test]
fn record_neuron_out_of_range() {
    insta::assert_snapshot!(
        "record_neuron_out_of_range",
        error_of(&with(
            "[[record]]\npopulation = \"inh\"\nvariables = [\"voltage\"]\nneurons = [0, 2]\n"
        ))
    );
}

#[test]
fn zero_batch_size() {
    insta::assert_snapshot!(
        "zero_batch_size",
        error_of(&edit("seed = 3", "seed = 3\nbatch_size = 0"))
    );
}

#[test]
fn unknown_mode() {
    insta::assert_snapshot!(
        "unknown_mode",
        error_of(&edit("seed = 3", "seed = 3\nmode = \"test\""))
    );
}

#[test]
fn unknown_init_field() {
    let text = edit_nth(
        0,
        "tc_membrane = 20.0 }\n",
        "tc_membrane = 20.0 }\ninit = { volt = -60.0 }\n",
    );
    insta::assert_snapshot!("unknown_init_field", error_of(&text));
}

#[test]
fn uniform_bounds_reversed() {
    insta::assert_snapshot!(
        "uniform_bounds_reversed",
        error_of(&edit("weight = 1.62", "weight = { uniform = [2.0, 1.0] }"))
    );
}

#[test]
fn negative_normal_std() {
    insta::assert_snapshot!(
        "negative_normal_std",
        error_of(&edit(
            "thresh_v = -50.0",
            "thresh_v = { normal = { mean = -50.0, std = -1.0 } }"
        ))
    );
}

#[test]
fn two_connection_rules() {
    insta::assert_snapshot!(
        "two_connection_rules",
        error_of(&edit(
            "connectivity = { fixed_probability = 0.5 }",
            "connectivity = { fixed_probability = 0.5, all_to_all = true }"
        ))
    );
}

#[test]
fn one_to_one_with_different_sizes() {
    insta::assert_snapshot!(
        "one_to_one_with_different_sizes",
        error_of(&edit(
            "connectivity = { fixed_probability = 0.5 }",
            "connectivity = \"one_to_one\""
        ))
    );
}

#[test]
fn duplicate_projection_names() {
    let text = with(
        "[[projection]]\npre = \"exc\"\npost = \"inh\"\nconnectivity = \"all_to_all\"\n\
         synapse = { model = \"delta_current\", spike_charge = 1.0 }\n",
    );
    insta::assert_snapshot!("duplicate_projection_names", error_of(&text));
}

#[test]
fn negative_delay() {
    insta::assert_snapshot!(
        "negative_delay",
        error_of(&edit("weight = 1.62", "weight = 1.62\ndelay = -1.0"))
    );
}

#[test]
fn stimulus_stop_before_start() {
    insta::assert_snapshot!(
        "stimulus_stop_before_start",
        error_of(&edit(
            "amplitude = 0.5",
            "amplitude = 0.5\nstart = 0.5\nstop = 0.2"
        ))
    );
}

#[test]
fn stimulus_amplitude_list_of_wrong_length() {
    insta::assert_snapshot!(
        "stimulus_amplitude_list_of_wrong_length",
        error_of(&edit(
            "amplitude = 0.5",
            "amplitude = [0.5, 0.6]\nneurons = [0, 1, 2]"
        ))
    );
}

#[test]
fn unsupported_file_extension() {
    let dir = std::env::temp_dir().join(format!("ember-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("scenario.yaml");
    std::fs::write(&file, BASE).unwrap();
    let err = run::load(&file).unwrap_err();
    assert!(err.is_input_error());
    let msg = err.to_string().replace(&dir.display().to_string(), "<dir>");
    std::fs::remove_dir_all(&dir).unwrap();
    insta::assert_snapshot!("unsupported_file_extension", msg);
}

#[test]
fn missing_file() {
    let err = run::load(std::path::Path::new("no/such/scenario.toml")).unwrap_err();
    assert!(err.is_input_error());
    let msg = err.to_string();
    assert!(
        msg.starts_with("no/such/scenario.toml: cannot read the file: "),
        "{msg}"
    );
}

#[test]
fn delay_beyond_max_delay() {
    insta::assert_snapshot!(
        "delay_beyond_max_delay",
        error_of(&edit(
            "weight = 1.62",
            "weight = 1.62\ndelay = 3.5\nmax_delay = 3.0"
        ))
    );
}

#[test]
fn delays_within_max_delay_build() {
    check(&edit(
        "weight = 1.62",
        "weight = 1.62\ndelay = { uniform = [0.0, 3.0] }\ndelay_mode = \"nearest\"\nmax_delay = 3.0",
    ))
    .unwrap();
}
