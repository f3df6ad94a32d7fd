//! End-to-end tests of the `ember` binary: exit status, error output, and the files
//! `ember run` writes (SCENARIO.md, "Outputs of `ember run FILE --out DIR`").
//!
//! Runs are short (the CUBA network for 50 ms, a 7-neuron network for 20 ms) so the debug
//! build stays fast; one test runs the full bundled 1 s CUBA benchmark (a few seconds in
//! debug).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ember_cli::run::BUNDLED_CUBA;
use serde_json::Value;

/// `tests/data/<name>`.
fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Runs `ember` with `args` in `cwd`.
fn ember(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ember"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run the ember binary")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts `ember` succeeded, showing its output otherwise.
fn assert_success(o: &Output) {
    assert!(
        o.status.success(),
        "ember failed with {}:\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        stderr(o)
    );
}

/// Writes the bundled CUBA scenario with `duration` ms (and optional extra `[simulation]`
/// lines) to `dir/<name>.toml`.
fn write_short_cuba(dir: &Path, name: &str, duration: &str, extra_simulation: &str) -> PathBuf {
    let text = BUNDLED_CUBA.replacen(
        "duration = 1000.0",
        &format!("duration = {duration}{extra_simulation}"),
        1,
    );
    assert_ne!(
        text, BUNDLED_CUBA,
        "cuba.toml no longer says `duration = 1000.0`"
    );
    let path = dir.join(format!("{name}.toml"));
    fs::write(&path, text).unwrap();
    path
}

/// Runs `ember run file --out out <extra…>` and asserts success.
fn run_ok(file: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = ember(file.parent().unwrap(), &args);
    assert_success(&o);
}

/// One row of spikes.csv.
#[derive(Debug, Clone, PartialEq)]
struct SpikeRow {
    population: String,
    neuron: u32,
    batch: u32,
    step: u64,
    time: String,
}

/// Reads spikes.csv: (header, rows).
fn read_spikes(path: &Path) -> (String, Vec<SpikeRow>) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().expect("a header line").to_owned();
    let rows = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 5, "bad spikes.csv row `{l}`");
            SpikeRow {
                population: f[0].to_owned(),
                neuron: f[1].parse().unwrap(),
                batch: f[2].parse().unwrap(),
                step: f[3].parse().unwrap(),
                time: f[4].to_owned(),
            }
        })
        .collect();
    (header, rows)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn assert_png(path: &Path) {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(PNG_SIGNATURE),
        "{} is not a PNG",
        path.display()
    );
}

/// Checks summary.json against SCENARIO.md: exactly the documented keys, in order, and
/// consistent values. Returns (name, size, spikes, rate_hz) per population.
fn check_summary(
    s: &Value,
    steps: u64,
    duration: f64,
    seed: u64,
    batch: u64,
) -> Vec<(String, u64, u64, f64)> {
    let obj = s.as_object().expect("summary.json is an object");
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "steps",
            "step_time",
            "duration",
            "seed",
            "batch_size",
            "populations",
            "wall_seconds",
            "threads"
        ]
    );
    assert_eq!(s["steps"].as_u64(), Some(steps));
    assert_eq!(s["step_time"].as_f64(), Some(0.1));
    assert_eq!(s["duration"].as_f64(), Some(duration));
    assert_eq!(s["seed"].as_u64(), Some(seed));
    assert_eq!(s["batch_size"].as_u64(), Some(batch));
    assert!(s["wall_seconds"].as_f64().is_some_and(|w| w >= 0.0));
    assert!(s["threads"].as_u64().is_some_and(|t| t >= 1));
    s["populations"]
        .as_object()
        .expect("populations is an object")
        .iter()
        .map(|(name, p)| {
            let keys: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(keys, ["size", "spikes", "rate_hz"], "population {name}");
            let size = p["size"].as_u64().unwrap();
            let spikes = p["spikes"].as_u64().unwrap();
            let rate = p["rate_hz"].as_f64().unwrap();
            let expected = spikes as f64 / (size as f64 * batch as f64 * duration / 1000.0);
            assert!(
                (rate - expected).abs() <= 1e-9 * expected.max(1.0),
                "{name}: rate_hz {rate}, expected {expected}"
            );
            (name.clone(), size, spikes, rate)
        })
        .collect()
}

#[test]
fn invalid_scenario_exits_2_names_file_and_field_and_writes_nothing() {
    // (file, field path, what was expected)
    let cases = [
        (
            "bad_unknown_field.toml",
            "population[1].sizee",
            "unknown field `sizee`",
        ),
        (
            "bad_tc_membrane.toml",
            "population[1].params.tc_membrane",
            "> 0",
        ),
    ];
    for (file, field, expected) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("x");
        let path = data(file);
        let o = ember(
            tmp.path(),
            &[
                "run",
                path.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{file}: stderr:\n{err}");
        assert!(err.starts_with("error: "), "{file}: {err}");
        assert!(
            err.contains(&path.display().to_string()),
            "{file}: stderr does not name the file:\n{err}"
        );
        assert!(
            err.contains(field),
            "{file}: stderr does not name `{field}`:\n{err}"
        );
        assert!(
            err.contains(expected),
            "{file}: stderr does not say `{expected}`:\n{err}"
        );
        assert!(o.stdout.is_empty(), "{file}: unexpected stdout");
        assert!(!out.exists(), "{file}: {} was created", out.display());
        // Nothing else appeared either (e.g. a default `out/` directory).
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0, "{file}");
    }
}

#[test]
fn unreadable_or_unsupported_files_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = tmp.path().join("scenario.yaml");
    fs::write(&yaml, "simulation: {}\n").unwrap();
    for (file, expected) in [
        ("missing.toml", "missing.toml: cannot read the file"),
        (
            "scenario.yaml",
            "scenario.yaml: unsupported scenario format `yaml`",
        ),
    ] {
        let o = ember(tmp.path(), &["run", file, "--out", "x"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{file}: {err}");
        assert!(err.contains(expected), "{file}: {err}");
        assert!(!tmp.path().join("x").exists(), "{file}");
    }
}

#[test]
fn thread_count_does_not_change_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = write_short_cuba(tmp.path(), "short", "50.0", "");
    let one = tmp.path().join("one");
    let two = tmp.path().join("two");
    run_ok(&file, &one, &["--threads", "1"]);
    run_ok(&file, &two, &["--threads", "2", "--no-plot"]);

    let spikes1 = fs::read(one.join("spikes.csv")).unwrap();
    let spikes2 = fs::read(two.join("spikes.csv")).unwrap();
    let lines = spikes1.iter().filter(|&&b| b == b'\n').count();
    assert!(lines > 1, "spikes.csv has no spikes");
    assert!(
        spikes1 == spikes2,
        "spikes.csv differs between 1 and 2 threads"
    );

    let mut s1 = read_json(&one.join("summary.json"));
    let mut s2 = read_json(&two.join("summary.json"));
    let pops = check_summary(&s1, 500, 50.0, 1, 1);
    check_summary(&s2, 500, 50.0, 1, 1);
    assert_eq!(s1["threads"].as_u64(), Some(1));
    assert_eq!(s2["threads"].as_u64(), Some(2));
    let names: Vec<&str> = pops.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["exc", "inh"]);
    assert_eq!((pops[0].1, pops[1].1), (3200, 800));
    assert_eq!(pops[0].2 + pops[1].2, lines as u64 - 1, "spikes ≠ rows");
    for s in [&mut s1, &mut s2] {
        let o = s.as_object_mut().unwrap();
        o.shift_remove("wall_seconds");
        o.shift_remove("threads");
    }
    assert_eq!(
        s1, s2,
        "summary.json differs beyond wall_seconds and threads"
    );

    assert_png(&one.join("raster.png"));
    assert!(
        !two.join("raster.png").exists(),
        "--no-plot wrote raster.png"
    );
    assert!(
        !one.join("traces.csv").exists(),
        "nothing traced, yet traces.csv"
    );
    assert!(
        !one.join("traces.png").exists(),
        "nothing traced, yet traces.png"
    );
}

#[test]
fn spikes_csv_header_and_order() {
    let tmp = tempfile::tempdir().unwrap();
    // Two batch copies, so the batch column takes part in the order too.
    let file = write_short_cuba(tmp.path(), "batch2", "50.0", "\nbatch_size = 2");
    let out = tmp.path().join("out");
    run_ok(&file, &out, &["--threads", "1", "--no-plot"]);

    let text = fs::read_to_string(out.join("spikes.csv")).unwrap();
    assert!(text.ends_with('\n'));
    assert!(!text.contains('\r'));
    let (header, rows) = read_spikes(&out.join("spikes.csv"));
    assert_eq!(header, "population,neuron,batch,step,time");
    assert!(!rows.is_empty());

    let order = |p: &str| match p {
        "exc" => 0,
        "inh" => 1,
        other => panic!("unknown population `{other}`"),
    };
    let key = |r: &SpikeRow| (r.step, order(&r.population), r.batch, r.neuron);
    for w in rows.windows(2) {
        assert!(
            key(&w[0]) < key(&w[1]),
            "rows out of order (or duplicated): {:?} then {:?}",
            w[0],
            w[1]
        );
    }
    let mut counts = [0u64; 2];
    for r in &rows {
        let size = [3200, 800][order(&r.population)];
        assert!(r.neuron < size, "{r:?}");
        assert!(r.batch < 2, "{r:?}");
        assert!(r.step < 500, "{r:?}");
        // time = step × Δt written as the shortest decimal of the f32.
        assert_eq!(r.time, ((r.step as f64 * 0.1) as f32).to_string(), "{r:?}");
        counts[order(&r.population)] += 1;
    }
    let summary = read_json(&out.join("summary.json"));
    let pops = check_summary(&summary, 500, 50.0, 1, 2);
    assert_eq!(
        counts,
        [pops[0].2, pops[1].2],
        "row counts ≠ summary spikes"
    );
    for b in 0..2 {
        assert!(
            rows.iter().any(|r| r.batch == b),
            "no spikes in batch copy {b}"
        );
    }
}

#[test]
fn traces_csv_and_png() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_ok(&data("traces.toml"), &out, &["--threads", "1"]);
    assert_png(&out.join("traces.png"));
    assert_png(&out.join("raster.png"));

    let text = fs::read_to_string(out.join("traces.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("target,variable,index,batch,step,time,value")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 7), "rows of 7 fields");

    // record[0]: drive, voltage, neurons 0 and 1, every step: 200 steps × 2 neurons.
    // record[1]: follow, voltage and input, neuron 2, every 4 steps: 50 samples × 2 variables.
    let steps: usize = 200;
    assert_eq!(rows.len(), steps * 2 + steps.div_ceil(4) * 2);
    let (drive, follow) = rows.split_at(steps * 2);

    for (i, r) in drive.iter().enumerate() {
        let step = i / 2;
        let expected = [
            "drive".to_owned(),
            "voltage".to_owned(),
            (i % 2).to_string(),
            "0".to_owned(),
            step.to_string(),
            ((step as f64 * 0.1) as f32).to_string(),
        ];
        assert_eq!(r[..6], expected, "drive row {i}");
        let v: f32 = r[6].parse().unwrap();
        assert!((-70.0..-50.0).contains(&v), "drive row {i}: voltage {v}");
    }
    // The value at step k is the value after step k: from rest with 20 nA,
    // V = -45 + (-65 + 45)·exp(-0.1/10) after step 0.
    let v0: f64 = drive[0][6].parse().unwrap();
    let expected_v0 = -45.0 - 20.0 * (-0.01f64).exp();
    assert!((v0 - expected_v0).abs() < 1e-3, "{v0} vs {expected_v0}");
    // The driven neurons do fire (the voltage falls back to reset).
    assert!(
        drive.iter().any(|r| r[6] == "-70"),
        "no reset in drive voltage"
    );

    for (i, r) in follow.iter().enumerate() {
        let step = (i / 2) * 4;
        let variable = ["voltage", "input"][i % 2];
        let expected = [
            "follow".to_owned(),
            variable.to_owned(),
            "2".to_owned(),
            "0".to_owned(),
            step.to_string(),
            ((step as f64 * 0.1) as f32).to_string(),
        ];
        assert_eq!(r[..6], expected, "follow row {i}");
        assert!(r[6].parse::<f32>().unwrap().is_finite(), "follow row {i}");
    }
    // The follower receives synaptic input once the drivers fire.
    assert!(
        follow
            .iter()
            .any(|r| r[1] == "input" && r[6].parse::<f32>().unwrap() > 0.0),
        "follow never gets input"
    );

    // Both populations' spikes are recorded (records default to spikes = true).
    let (_, spikes) = read_spikes(&out.join("spikes.csv"));
    assert!(spikes.iter().any(|r| r.population == "drive"));

    // --no-plot skips traces.png too, but still writes traces.csv.
    let quiet = tmp.path().join("quiet");
    run_ok(&data("traces.toml"), &quiet, &["--no-plot"]);
    assert!(!quiet.join("traces.png").exists());
    assert!(!quiet.join("raster.png").exists());
    assert_eq!(fs::read_to_string(quiet.join("traces.csv")).unwrap(), text);
}

#[test]
fn default_output_directory_is_out_slash_stem() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("tiny.toml");
    fs::copy(data("traces.toml"), &file).unwrap();
    let o = ember(tmp.path(), &["run", "tiny.toml", "--no-plot"]);
    assert_success(&o);
    for f in ["spikes.csv", "summary.json", "traces.csv"] {
        assert!(
            tmp.path().join("out/tiny").join(f).is_file(),
            "out/tiny/{f}"
        );
    }
}

#[test]
fn run_without_file_runs_bundled_cuba() {
    // The full 1 s CUBA benchmark; about 3 s in a debug build.
    let tmp = tempfile::tempdir().unwrap();
    let o = ember(tmp.path(), &["run"]);
    assert_success(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("scenarios/cuba.toml (bundled)"), "{stdout}");

    let out = tmp.path().join("out/cuba");
    assert!(out.join("spikes.csv").is_file());
    assert_png(&out.join("raster.png"));
    let summary = read_json(&out.join("summary.json"));
    let pops = check_summary(&summary, 10_000, 1000.0, 1, 1);
    let names: Vec<&str> = pops.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(names, ["exc", "inh"]);
    for (name, _, _, rate) in &pops {
        assert!(
            (3.0..=9.0).contains(rate),
            "{name}: {rate} Hz, expected 3–9 Hz (asynchronous irregular state)"
        );
    }
    let (header, rows) = read_spikes(&out.join("spikes.csv"));
    assert_eq!(header, "population,neuron,batch,step,time");
    assert_eq!(rows.len() as u64, pops.iter().map(|p| p.2).sum::<u64>());
}

/// SCENARIO.md: "The format is chosen by extension: `.toml` (primary …), `.json`, `.ron`."
#[test]
fn json_scenario_gives_the_same_outputs_as_toml() {
    let tmp = tempfile::tempdir().unwrap();
    let sc = ember_cli::run::parse("traces.toml", include_str!("data/traces.toml")).unwrap();
    let json = tmp.path().join("traces.json");
    fs::write(&json, serde_json::to_string_pretty(&sc).unwrap()).unwrap();
    run_ok(&json, &tmp.path().join("from_json"), &["--no-plot"]);
    run_ok(
        &data("traces.toml"),
        &tmp.path().join("from_toml"),
        &["--no-plot"],
    );
    for f in ["spikes.csv", "traces.csv"] {
        assert_eq!(
            fs::read(tmp.path().join("from_json").join(f)).unwrap(),
            fs::read(tmp.path().join("from_toml").join(f)).unwrap(),
            "{f}"
        );
    }
}

/// SCENARIO.md: "With `--format npy`, spikes and traces are also written as `.npy` arrays."
#[test]
fn format_npy_also_writes_npy_arrays() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_ok(
        &data("traces.toml"),
        &out,
        &["--no-plot", "--format", "npy"],
    );
    for f in ["spikes.csv", "traces.csv", "spikes.npy", "traces.npy"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // NumPy format 1.0: magic, version, header length, a header dict padded to a multiple
    // of 64 bytes, then one packed record per CSV row (tests/formats.rs checks the values).
    for (f, csv, record_size) in [
        ("spikes.npy", "spikes.csv", 4 + 4 + 4 + 8 + 4),
        ("traces.npy", "traces.csv", 4 + 64 + 4 + 4 + 8 + 4 + 4),
    ] {
        let bytes = fs::read(out.join(f)).unwrap();
        assert!(bytes.starts_with(b"\x93NUMPY\x01\x00"), "{f}");
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0, "{f}");
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        let rows = fs::read_to_string(out.join(csv)).unwrap().lines().count() - 1;
        assert!(rows > 0, "{csv}");
        assert!(
            header.starts_with("{'descr': [(")
                && header.contains(&format!("'fortran_order': False, 'shape': ({rows},), }}"))
                && header.ends_with('\n'),
            "{f}: {header}"
        );
        assert_eq!(bytes.len() - 10 - header_len, rows * record_size, "{f}");
    }
}

#[test]
fn validate_accepts_good_and_rejects_bad_scenarios_without_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let cuba = tmp.path().join("cuba.toml");
    fs::write(&cuba, BUNDLED_CUBA).unwrap();
    let o = ember(tmp.path(), &["validate", cuba.to_str().unwrap()]);
    assert_success(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("cuba.toml: ok"));

    let bad = data("bad_tc_membrane.toml");
    let o = ember(tmp.path(), &["validate", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("population[1].params.tc_membrane"),
        "{}",
        stderr(&o)
    );
    // Neither command writes anything.
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn inspect_describes_populations_projections_and_synapse_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let cuba = tmp.path().join("cuba.toml");
    fs::write(&cuba, BUNDLED_CUBA).unwrap();
    let o = ember(tmp.path(), &["inspect", cuba.to_str().unwrap()]);
    assert_success(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    for needle in [
        "10000 steps of 0.1 ms",
        "exc                    3200 neurons  model lif",
        "inh_to_inh",
        "synapse single_exponential_current",
        "total: 4000 neurons",
        "of synapse storage",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let bad = data("bad_unknown_field.toml");
    let o = ember(tmp.path(), &["inspect", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}

/// The exact output of `ember validate` and `ember inspect` (stdout, stderr, exit status)
/// on a good and a bad file, snapshot-tested.
#[test]
fn validate_and_inspect_output_snapshots() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("cuba.toml"), BUNDLED_CUBA).unwrap();
    fs::copy(data("bad_tc_membrane.toml"), tmp.path().join("bad.toml")).unwrap();
    let mut all = String::new();
    for args in [
        ["validate", "cuba.toml"],
        ["validate", "bad.toml"],
        ["inspect", "cuba.toml"],
        ["inspect", "bad.toml"],
    ] {
        let o = ember(tmp.path(), &args);
        all += &format!(
            "$ ember {}\nstatus: {:?}\nstdout:\n{}stderr:\n{}\n",
            args.join(" "),
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            stderr(&o)
        );
    }
    insta::assert_snapshot!("validate_and_inspect", all);
}
