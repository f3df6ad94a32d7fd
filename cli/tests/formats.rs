//! Scenario formats and output formats of `ember run`:
//!
//! - the same scenario as `.toml`, `.json` and `.ron` parses to the same [`Scenario`] and
//!   gives byte-identical `spikes.csv` and `traces.csv`;
//! - `to_toml` / `to_json` / `to_ron` → parse gives back the scenario;
//! - JSON and RON errors name the line, column and field path (snapshots);
//! - `--format npy` writes `.npy` files whose header and records match the CSV files;
//! - `--seed` replaces the scenario's seed;
//! - running in chunks (as `ember run` does for its progress bar) changes nothing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ember_cli::output::{self, PopulationSpikes};
use ember_cli::run::{self, BUNDLED_CUBA};
use ember_engine::Scenario;
use ember_engine::scenario::Format;

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

/// Runs `ember run file --out out --no-plot <extra…>` and asserts success with nothing on
/// stderr (in particular no progress bar: stderr is not a terminal here).
fn run_ok(file: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-plot",
    ];
    args.extend_from_slice(extra);
    let o = ember(file.parent().unwrap(), &args);
    assert!(
        o.status.success(),
        "ember failed with {}:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.stderr.is_empty(),
        "unexpected stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// summary.json without the fields that vary from run to run.
fn summary_without_timing(dir: &Path) -> serde_json::Value {
    let mut s: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let o = s.as_object_mut().unwrap();
    o.shift_remove("wall_seconds").unwrap();
    o.shift_remove("threads").unwrap();
    s
}

fn parse_file(name: &str) -> Scenario {
    run::load(&data(name)).unwrap_or_else(|e| panic!("{e}")).1
}

#[test]
fn data_files_in_every_format_are_the_same_scenario() {
    for stem in ["traces", "values"] {
        let toml = parse_file(&format!("{stem}.toml"));
        for ext in ["json", "ron"] {
            assert_eq!(parse_file(&format!("{stem}.{ext}")), toml, "{stem}.{ext}");
        }
    }
}

#[test]
fn toml_json_and_ron_give_byte_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    for stem in ["traces", "values"] {
        let outs: Vec<PathBuf> = ["toml", "json", "ron"]
            .iter()
            .map(|ext| {
                let out = tmp.path().join(format!("{stem}_{ext}"));
                run_ok(&data(&format!("{stem}.{ext}")), &out, &["--threads", "1"]);
                out
            })
            .collect();
        for f in ["spikes.csv", "traces.csv"] {
            let toml = fs::read(outs[0].join(f)).unwrap();
            assert!(
                toml.iter().filter(|&&b| b == b'\n').count() > 2,
                "{stem}: {f} is (nearly) empty"
            );
            for out in &outs[1..] {
                assert!(
                    fs::read(out.join(f)).unwrap() == toml,
                    "{stem}: {f} differs in {}",
                    out.display()
                );
            }
        }
        let summary = summary_without_timing(&outs[0]);
        for out in &outs[1..] {
            assert_eq!(summary_without_timing(out), summary, "{}", out.display());
        }
    }
    // values.toml exercises batches, delays and every value form: check it did spike in
    // both batch copies and traced every variable it asks for.
    let spikes = fs::read_to_string(tmp.path().join("values_toml/spikes.csv")).unwrap();
    for needle in [",0,", ",1,", "lif,", "alif,"] {
        assert!(
            spikes.contains(needle),
            "no `{needle}` in values spikes.csv"
        );
    }
    let traces = fs::read_to_string(tmp.path().join("values_toml/traces.csv")).unwrap();
    for needle in [
        ",voltage,",
        ",input,",
        ",adaptation0,",
        ",adaptation1,",
        ",threshold,",
    ] {
        assert!(
            traces.contains(needle),
            "no `{needle}` in values traces.csv"
        );
    }
}

/// Every format written by `Scenario::to_*` parses back to the same scenario, and writing
/// again gives the same text.
fn round_trip_all_formats(name: &str, sc: &Scenario) {
    for format in Format::ALL {
        let text = sc
            .to_string_with_format(format)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let back = Scenario::from_str_with_format(&text, format)
            .unwrap_or_else(|e| panic!("{name} as {format}: {e}\n{text}"));
        assert_eq!(
            &back, sc,
            "{name}: changed by the {format} round trip:\n{text}"
        );
        assert_eq!(
            back.to_string_with_format(format).unwrap(),
            text,
            "{name}: {format} text not stable"
        );
    }
    // The format-specific functions are the same as the generic ones.
    assert_eq!(
        Scenario::from_json(&sc.to_json().unwrap()).unwrap(),
        Scenario::from_ron(&sc.to_ron().unwrap()).unwrap()
    );
    assert_eq!(
        Scenario::from_toml(&sc.to_toml().unwrap()).unwrap(),
        Scenario::from_json(&sc.to_json().unwrap()).unwrap()
    );
}

#[test]
fn scenarios_round_trip_through_every_format() {
    round_trip_all_formats("cuba.toml", &run::parse("cuba.toml", BUNDLED_CUBA).unwrap());
    // roundtrip.toml has every optional field, plasticity (flattened map of untagged
    // numbers and strings), every connectivity form and all value forms.
    for file in ["roundtrip.toml", "values.toml", "traces.toml"] {
        round_trip_all_formats(file, &parse_file(file));
    }
    for file in ["coba.toml", "heterogeneous.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../scenarios")
            .join(file);
        round_trip_all_formats(file, &run::load(&path).unwrap().1);
    }
}

#[test]
fn scenario_changed_in_code_round_trips_through_json_and_ron() {
    use ember_engine::ValueSpec;
    let mut sc = parse_file("values.toml");
    sc.simulation.seed = u64::MAX;
    sc.simulation.reward = Some(vec![[0.0, 1.0], [2.5, -0.25]]);
    let p = &mut sc.populations[1];
    p.params.insert(
        "reset_v".to_owned(),
        ValueSpec::Normal {
            mean: -70.0,
            std: 0.125,
        },
    );
    p.init.voltage = Some(ValueSpec::List(vec![-65.0, -64.0, -63.0, -62.0, 1e-300]));
    sc.projections[0].weight = ValueSpec::LogNormal {
        mu: 0.1,
        sigma: 0.0,
    };
    sc.projections[2].name = Some("back".to_owned());
    round_trip_all_formats("values.toml (changed)", &sc);
}

#[test]
fn ron_accepts_explicit_some_and_comments() {
    let toml = parse_file("traces.toml");
    let ron = fs::read_to_string(data("traces.ron"))
        .unwrap()
        .replace("every: 4)", "every: 4 /* steps */)")
        .replace("neurons: [2]", "neurons: Some([2])");
    assert!(
        ron.contains("Some([2])") && ron.contains("/* steps */"),
        "traces.ron changed: edit this test"
    );
    assert_eq!(Scenario::from_ron(&ron).unwrap(), toml);
}

#[test]
fn formats_follow_the_extension() {
    for (file, format) in [
        ("a.toml", Some(Format::Toml)),
        ("a.json", Some(Format::Json)),
        ("a.ron", Some(Format::Ron)),
        ("a.JSON", Some(Format::Json)),
        ("a.yaml", None),
        ("toml", None),
    ] {
        assert_eq!(Format::from_path(Path::new(file)), format, "{file}");
    }
    // A JSON file with a .toml name is read as TOML, and fails as TOML.
    let tmp = tempfile::tempdir().unwrap();
    let wrong = tmp.path().join("wrong.toml");
    fs::copy(data("traces.json"), &wrong).unwrap();
    let err = run::load(&wrong).unwrap_err().to_string();
    assert!(err.contains("wrong.toml: line 1, column 1"), "{err}");
}

/// The message `ember run` prints for a bad data file, with its directory replaced by
/// `<data>`.
fn load_error(name: &str) -> String {
    let err = run::load(&data(name)).unwrap_err();
    assert!(err.is_input_error(), "{name}: {err}");
    err.to_string()
        .replace(&data("").display().to_string(), "<data>/")
}

#[test]
fn json_syntax_error() {
    insta::assert_snapshot!("json_syntax_error", load_error("bad_syntax.json"));
}

#[test]
fn json_unknown_field() {
    insta::assert_snapshot!("json_unknown_field", load_error("bad_unknown_field.json"));
}

#[test]
fn ron_syntax_error() {
    insta::assert_snapshot!("ron_syntax_error", load_error("bad_syntax.ron"));
}

#[test]
fn ron_unknown_field() {
    insta::assert_snapshot!("ron_unknown_field", load_error("bad_unknown_field.ron"));
}

#[test]
fn ron_list_for_a_pair() {
    insta::assert_snapshot!("ron_list_for_a_pair", load_error("bad_uniform_list.ron"));
}

#[test]
fn json_type_and_trailing_errors_name_line_and_column() {
    let base = fs::read_to_string(data("traces.json")).unwrap();
    let bad = base.replacen("\"size\": 3", "\"size\": \"three\"", 1);
    assert_ne!(bad, base);
    let e = Scenario::from_json(&bad).unwrap_err();
    assert_eq!(e.path, "population[0].size");
    assert!(
        e.message.starts_with("invalid type: string \"three\""),
        "{e}"
    );
    assert!(e.line.is_some() && e.column.is_some(), "{e}");
    let e = Scenario::from_json(&format!("{base}\n{{}}")).unwrap_err();
    assert!(e.message.contains("trailing characters"), "{e}");
    assert!(Scenario::from_json("").unwrap_err().line.is_some());
    let e = Scenario::from_ron(&format!(
        "{}\n()",
        fs::read_to_string(data("traces.ron")).unwrap()
    ))
    .unwrap_err();
    assert!(e.message.contains("trailing"), "{e}");
}

#[test]
fn bad_json_and_ron_exit_2_and_write_nothing() {
    for file in ["bad_syntax.json", "bad_unknown_field.ron"] {
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
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{file}: {err}");
        assert!(
            err.starts_with(&format!("error: {}: line ", path.display())),
            "{file}: {err}"
        );
        assert!(!out.exists(), "{file}");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0, "{file}");
    }
}

/// A parsed `.npy` file: its header dict and records.
struct Npy {
    header: String,
    data: Vec<u8>,
}

fn read_npy(path: &Path) -> Npy {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "{}", path.display());
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + len) % 64, 0, "data not 64-byte aligned");
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(header.ends_with('\n'));
    Npy {
        header: header.trim_end().to_owned(),
        data: bytes[10 + len..].to_vec(),
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
fn f32_at(b: &[u8], at: usize) -> f32 {
    f32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

#[test]
fn npy_files_hold_the_csv_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // values.toml plus a projection record: its rows follow the population rows, with
    // target = populations + projection index.
    let file = tmp.path().join("values_projection.toml");
    let text = fs::read_to_string(data("values.toml")).unwrap()
        + "\n[[record]]\nprojection = \"lif_alif\"\nvariables = [\"current\", \"weight\"]\n\
           neurons = [0, 1]\nsynapses = [0, 3]\nevery = 50\n";
    fs::write(&file, text).unwrap();
    run_ok(&file, &out, &["--format", "npy"]);
    let populations = ["input", "lif", "alif", "input_to_lif", "lif_alif"];

    let spikes = read_npy(&out.join("spikes.npy"));
    let csv = fs::read_to_string(out.join("spikes.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(
        spikes.header,
        format!(
            "{{'descr': [('population', '<u4'), ('neuron', '<u4'), ('batch', '<u4'), \
             ('step', '<u8'), ('time', '<f4')], 'fortran_order': False, 'shape': ({},), }}",
            rows.len()
        )
    );
    assert_eq!(spikes.data.len(), rows.len() * 24);
    for (r, rec) in rows.iter().zip(spikes.data.chunks(24)) {
        assert_eq!(populations[u32_at(rec, 0) as usize], r[0], "{r:?}");
        assert_eq!(u32_at(rec, 4).to_string(), r[1], "{r:?}");
        assert_eq!(u32_at(rec, 8).to_string(), r[2], "{r:?}");
        assert_eq!(u64_at(rec, 12).to_string(), r[3], "{r:?}");
        assert_eq!(f32_at(rec, 20).to_string(), r[4], "{r:?}");
    }

    let traces = read_npy(&out.join("traces.npy"));
    let csv = fs::read_to_string(out.join("traces.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(
        traces.header,
        format!(
            "{{'descr': [('target', '<u4'), ('variable', '<U16'), ('index', '<u4'), \
             ('batch', '<u4'), ('step', '<u8'), ('time', '<f4'), ('value', '<f4')], \
             'fortran_order': False, 'shape': ({},), }}",
            rows.len()
        )
    );
    const SIZE: usize = 4 + 64 + 4 + 4 + 8 + 4 + 4;
    assert_eq!(traces.data.len(), rows.len() * SIZE);
    for (r, rec) in rows.iter().zip(traces.data.chunks(SIZE)) {
        assert_eq!(populations[u32_at(rec, 0) as usize], r[0], "{r:?}");
        let variable: String = (0..16)
            .map(|i| u32_at(rec, 4 + 4 * i))
            .take_while(|&c| c != 0)
            .map(|c| char::from_u32(c).unwrap())
            .collect();
        assert_eq!(variable, r[1], "{r:?}");
        assert_eq!(u32_at(rec, 68).to_string(), r[2], "{r:?}");
        assert_eq!(u32_at(rec, 72).to_string(), r[3], "{r:?}");
        assert_eq!(u64_at(rec, 76).to_string(), r[4], "{r:?}");
        assert_eq!(f32_at(rec, 84).to_string(), r[5], "{r:?}");
        assert_eq!(f32_at(rec, 88).to_string(), r[6], "{r:?}");
    }
    let projection_rows = rows.iter().filter(|r| r[0] == "lif_alif").count();
    assert!(projection_rows > 0 && rows.last().unwrap()[0] == "lif_alif");

    // Without --format npy (or with --format csv) no .npy file appears.
    for extra in [&[][..], &["--format", "csv"][..]] {
        let csv_only = tmp.path().join(format!("csv{}", extra.len()));
        run_ok(&data("values.toml"), &csv_only, extra);
        assert!(csv_only.join("spikes.csv").is_file());
        assert!(!csv_only.join("spikes.npy").exists());
        assert!(!csv_only.join("traces.npy").exists());
    }
}

#[test]
fn npy_without_traces_writes_spikes_npy_only() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("short.toml");
    fs::write(
        &file,
        BUNDLED_CUBA.replacen("duration = 1000.0", "duration = 5.0", 1),
    )
    .unwrap();
    let out = tmp.path().join("out");
    run_ok(&file, &out, &["--format", "npy"]);
    assert!(out.join("spikes.npy").is_file());
    assert!(!out.join("traces.npy").exists());
    assert!(!out.join("traces.csv").exists());
    let spikes = read_npy(&out.join("spikes.npy"));
    let rows = fs::read_to_string(out.join("spikes.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(spikes.data.len(), rows * 24);
    assert!(spikes.header.ends_with(&format!("'shape': ({rows},), }}")));
}

#[test]
fn seed_option_replaces_the_scenario_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let cuba = BUNDLED_CUBA.replacen("duration = 1000.0", "duration = 20.0", 1);
    assert!(
        cuba.contains("seed = 1\n"),
        "cuba.toml no longer has seed = 1"
    );
    let file = tmp.path().join("seed1.toml");
    fs::write(&file, &cuba).unwrap();
    let seeded = tmp.path().join("seed9.toml");
    fs::write(&seeded, cuba.replacen("seed = 1\n", "seed = 9\n", 1)).unwrap();

    let (plain, overridden, in_file) = (
        tmp.path().join("plain"),
        tmp.path().join("overridden"),
        tmp.path().join("in_file"),
    );
    run_ok(&file, &plain, &[]);
    run_ok(&file, &overridden, &["--seed", "9"]);
    run_ok(&seeded, &in_file, &[]);
    let seed_of = |dir: &Path| summary_without_timing(dir)["seed"].as_u64();
    assert_eq!(seed_of(&plain), Some(1));
    assert_eq!(seed_of(&overridden), Some(9));
    let spikes = |dir: &Path| fs::read(dir.join("spikes.csv")).unwrap();
    assert!(
        spikes(&overridden) == spikes(&in_file),
        "--seed 9 ≠ seed = 9"
    );
    assert!(
        spikes(&overridden) != spikes(&plain),
        "--seed changed nothing"
    );

    let o = ember(tmp.path(), &["run", "seed1.toml", "--seed", "minus one"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!tmp.path().join("out").exists());
}

/// The spikes.csv bytes of `sc` run with the given chunk sizes (cycled until done).
fn spikes_csv_in_chunks(sc: &Scenario, chunks: &[u64]) -> Vec<u8> {
    let (mut sim, h) = run::build("chunks.toml", sc, 1).unwrap();
    let mut done = 0;
    for &n in chunks.iter().cycle() {
        let n = n.min(h.steps - done);
        sim.run_steps(n).unwrap();
        done += n;
        if done == h.steps {
            break;
        }
    }
    let spikes: Vec<PopulationSpikes<'_>> = h
        .spike_recorders
        .iter()
        .map(|&(k, rec)| PopulationSpikes {
            name: &h.populations[k].0,
            index: k as u32,
            spikes: sim.spike_recorder(rec).expect("a spike recorder"),
        })
        .collect();
    let mut out = Vec::new();
    output::write_spikes_csv(&mut out, &spikes, sc.simulation.step_time).unwrap();
    out
}

#[test]
fn running_in_chunks_gives_identical_spikes() {
    let mut sc = run::parse("cuba.toml", BUNDLED_CUBA).unwrap();
    sc.simulation.duration = 30.0;
    let whole = spikes_csv_in_chunks(&sc, &[u64::MAX]);
    assert!(
        whole.iter().filter(|&&b| b == b'\n').count() > 10,
        "too few spikes"
    );
    for chunks in [&[1][..], &[7, 1, 30, 2], &[299, 1]] {
        assert!(
            spikes_csv_in_chunks(&sc, chunks) == whole,
            "chunks {chunks:?} changed spikes.csv"
        );
    }
    // `ember run` (which runs in adaptive chunks) writes the same file.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("cuba30.toml");
    fs::write(&file, sc.to_toml().unwrap()).unwrap();
    run_ok(&file, &tmp.path().join("out"), &["--threads", "1"]);
    assert!(fs::read(tmp.path().join("out/spikes.csv")).unwrap() == whole);
}

#[test]
fn progress_chunks_match_a_single_run_in_the_library_too() {
    let sc = parse_file("values.toml");
    let (mut a, h) = run::build("a", &sc, 1).unwrap();
    let (mut b, _) = run::build("b", &sc, 1).unwrap();
    a.run_steps(h.steps).unwrap();
    // An enabled bar makes the steps run in several growing chunks (it draws only after a
    // second, so this short run prints nothing).
    let mut bar = ember_cli::progress::Progress::new(h.steps, true);
    ember_cli::progress::run_in_chunks(&mut b, h.steps, &mut bar).unwrap();
    for &(_, rec) in &h.spike_recorders {
        assert_eq!(a.recorded_spikes(rec), b.recorded_spikes(rec));
    }
    for &(_, rec) in &h.trace_recorders {
        let (ta, tb) = (a.trace(rec).unwrap(), b.trace(rec).unwrap());
        assert_eq!(ta.steps, tb.steps);
        assert!(
            ta.values
                .iter()
                .zip(&tb.values)
                .all(|(x, y)| x.to_bits() == y.to_bits())
        );
    }
}
