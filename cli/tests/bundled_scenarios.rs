//! Snapshot tests of the bundled scenarios in `scenarios/` (short runs), plus the
//! properties the heterogeneous scenario exists to show.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use ember_cli::run::{self, RunOptions};

/// Runs a bundled scenario (optionally shortened) and returns spikes.csv.
fn run_scenario(file: &str, duration: Option<f64>, threads: usize) -> String {
    run_scenario_with_traces(file, duration, threads).0
}

/// Runs a bundled scenario (optionally shortened) and returns spikes.csv and traces.csv
/// (empty when nothing is traced).
fn run_scenario_with_traces(file: &str, duration: Option<f64>, threads: usize) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(file);
    let (name, mut sc) = run::load(&path).unwrap();
    if let Some(d) = duration {
        sc.simulation.duration = d;
    }
    let tmp = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out: tmp.path().join("out"),
        threads,
        no_plot: true,
    };
    run::run(&name, &sc, &opts).unwrap();
    (
        fs::read_to_string(opts.out.join("spikes.csv")).unwrap(),
        fs::read_to_string(opts.out.join("traces.csv")).unwrap_or_default(),
    )
}

/// Spike counts per (population, batch) and the first rows.
fn digest(spikes: &str, first_rows: usize) -> String {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for line in spikes.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        *counts
            .entry((f[0].to_owned(), f[2].to_owned()))
            .or_default() += 1;
    }
    let mut text = String::new();
    writeln!(text, "spike counts (population, batch):").unwrap();
    for ((pop, b), n) in &counts {
        writeln!(text, "  {pop} batch {b}: {n}").unwrap();
    }
    writeln!(text, "\nfirst {first_rows} rows:").unwrap();
    for line in spikes.lines().take(first_rows + 1) {
        writeln!(text, "{line}").unwrap();
    }
    text
}

/// Each batch copy's spike trains of `pop`, as (step, neuron) lists.
fn trains_by_batch(spikes: &str, pop: &str) -> BTreeMap<String, Vec<(u64, u32)>> {
    let mut out: BTreeMap<String, Vec<(u64, u32)>> = BTreeMap::new();
    for line in spikes.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        if f[0] == pop {
            out.entry(f[2].to_owned())
                .or_default()
                .push((f[3].parse().unwrap(), f[1].parse().unwrap()));
        }
    }
    out
}

#[test]
fn heterogeneous_scenario_snapshot_and_batch_independence() {
    let spikes = run_scenario("heterogeneous.toml", Some(100.0), 1);
    // Every population spikes, in every batch copy.
    for pop in ["input", "lif", "alif", "glif2", "rs", "adex", "readout"] {
        let trains = trains_by_batch(&spikes, pop);
        assert_eq!(trains.len(), 4, "{pop}: spikes in every batch copy");
    }
    // Independent Poisson inputs per batch copy: the copies' spikes differ.
    for pop in ["input", "lif", "alif", "glif2", "rs", "adex"] {
        let trains = trains_by_batch(&spikes, pop);
        let first = &trains["0"];
        assert!(
            trains.values().skip(1).all(|t| t != first),
            "{pop}: batch copies should differ"
        );
    }
    // Thread count does not change anything.
    assert_eq!(spikes, run_scenario("heterogeneous.toml", Some(100.0), 2));
    insta::assert_snapshot!("heterogeneous_100ms", digest(&spikes, 12));
}

#[test]
fn batch_copies_with_identical_inputs_spike_identically() {
    // The heterogeneous network without the Poisson layer, driven by one current that is
    // the same in every copy: all copies must agree exactly.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/heterogeneous.toml");
    let (_, mut sc) = run::load(&path).unwrap();
    sc.populations.retain(|p| p.name != "input");
    sc.projections.retain(|p| p.pre != "input");
    sc.records
        .retain(|r| r.population.as_deref() != Some("input"));
    let mut text = ember_engine::Scenario::to_toml(&sc).unwrap();
    for (target, amplitude) in [
        ("lif", 18.0),
        ("alif", 18.0),
        ("glif2", 18.0),
        ("rs", 10.0),
        ("adex", 1.0),
    ] {
        text += &format!(
            "\n[[stimulus]]\ntarget = \"{target}\"\nkind = \"current\"\namplitude = {amplitude:?}\n"
        );
    }
    let sc = run::parse("identical.toml", &text).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out: tmp.path().join("out"),
        threads: 1,
        no_plot: true,
    };
    run::run("identical.toml", &sc, &opts).unwrap();
    let spikes = fs::read_to_string(opts.out.join("spikes.csv")).unwrap();
    for pop in ["lif", "alif", "glif2", "rs", "adex", "readout"] {
        let trains = trains_by_batch(&spikes, pop);
        assert_eq!(trains.len(), 4, "{pop}: spikes in every batch copy");
        assert!(trains.values().all(|t| t == &trains["0"]), "{pop}");
    }
}

#[test]
fn coba_scenario_snapshot() {
    // 100 ms: the current kick (first 20 ms) and the start of self-sustained activity.
    let spikes = run_scenario("coba.toml", Some(100.0), 1);
    let late = spikes
        .lines()
        .skip(1)
        .filter(|l| {
            l.split(',')
                .nth(3)
                .is_some_and(|s| s.parse::<u64>().unwrap() >= 500)
        })
        .count();
    assert!(
        late > 1000,
        "activity continues after the kick: {late} spikes in 50–100 ms"
    );
    insta::assert_snapshot!("coba_100ms", digest(&spikes, 12));
}

/// The scenario files in `scenarios/` (recursively), relative paths, sorted.
fn bundled_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(
                    p.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out.sort();
    out
}

/// INFERNO.md's neuron traces A–G as bundled scenarios, with the reference spike steps.
const INFERNO_SCENARIOS: [(&str, &[u64]); 9] = [
    ("inferno/lif.toml", &[10, 25, 40, 55]),
    ("inferno/lif_dt05.toml", &[21, 52, 83, 114]),
    ("inferno/alif.toml", &[20, 45, 75, 109, 146, 185]),
    (
        "inferno/alif_eval.toml",
        &[20, 40, 60, 80, 100, 120, 140, 160, 180],
    ),
    ("inferno/glif2.toml", &[20, 40, 62, 85, 110, 135, 161, 188]),
    ("inferno/qif.toml", &[44, 95, 146, 197]),
    ("inferno/izhikevich.toml", &[4, 31, 78, 125, 172, 219, 266]),
    (
        "inferno/adex.toml",
        &[
            118, 255, 414, 601, 821, 1077, 1368, 1688, 2027, 2377, 2733, 3092, 3452, 3813, 4174,
            4535, 4896,
        ],
    ),
    (
        "inferno/eif.toml",
        &[117, 235, 353, 471, 589, 707, 825, 943],
    ),
];

/// Scenarios snapshot-tested by the other tests of this file and `scenario_snapshot.rs`.
const OTHER_SCENARIOS: [&str; 5] = [
    "coba.toml",
    "cuba.toml",
    "feedforward.toml",
    "heterogeneous.toml",
    "izhikevich2003.toml",
];

#[test]
fn every_bundled_scenario_is_tested() {
    let mut expected: Vec<String> = INFERNO_SCENARIOS
        .iter()
        .map(|(f, _)| (*f).to_owned())
        .chain(OTHER_SCENARIOS.iter().map(|f| (*f).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(bundled_files(), expected);
}

#[test]
fn inferno_trace_scenarios_reproduce_the_reference_spike_steps() {
    for (file, expected) in INFERNO_SCENARIOS {
        let (spikes, traces) = run_scenario_with_traces(file, None, 1);
        let steps: Vec<u64> = spikes
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(3).unwrap().parse().unwrap())
            .collect();
        assert_eq!(steps, expected, "{file}");
        let name = file
            .trim_start_matches("inferno/")
            .trim_end_matches(".toml");
        let first_traces: String = traces.lines().take(9).map(|l| format!("{l}\n")).collect();
        insta::assert_snapshot!(
            format!("inferno_{name}"),
            format!("{spikes}\nfirst trace rows:\n{first_traces}")
        );
    }
}

#[test]
fn feedforward_scenario_snapshot() {
    let (spikes, traces) = run_scenario_with_traces("feedforward.toml", Some(200.0), 1);
    for pop in ["input", "hidden", "readout"] {
        assert!(
            spikes.lines().any(|l| l.starts_with(&format!("{pop},"))),
            "{pop} spikes within 200 ms"
        );
    }
    assert!(traces.lines().any(|l| l.starts_with("readout,voltage,0,")));
    insta::assert_snapshot!("feedforward_200ms", digest(&spikes, 12));
}

/// `ember validate` accepts every bundled scenario and `ember inspect` describes it (the
/// description is snapshot-tested: sizes, models, synapse counts, storage).
#[test]
fn validate_and_inspect_every_bundled_scenario() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut all = String::new();
    for file in bundled_files() {
        let (name, sc) = run::load(&base.join(&file)).unwrap();
        ember_cli::inspect::validate(&name, &sc).unwrap();
        let text = ember_cli::inspect::describe(&file, &sc).unwrap();
        writeln!(all, "{text}").unwrap();
    }
    insta::assert_snapshot!("inspect_bundled", all);
}

/// Izhikevich (2003): the network's population activity is rhythmic, not asynchronous —
/// spike counts in 5 ms bins after the initial transient (200–1000 ms) vary far more than
/// a Poisson population's would (Fano factor ≫ 1; ≈ 10 measured, 1 for independent
/// Poisson neurons).
#[test]
fn izhikevich2003_scenario_is_rhythmic_and_snapshot() {
    let spikes = run_scenario("izhikevich2003.toml", None, 1);
    let mut bins = [0u32; 200];
    for line in spikes.lines().skip(1) {
        let step: u64 = line.split(',').nth(3).unwrap().parse().unwrap();
        bins[(step / 10) as usize] += 1; // 10 steps of 0.5 ms = 5 ms
    }
    let late = &bins[40..];
    let mean = late.iter().map(|&c| f64::from(c)).sum::<f64>() / late.len() as f64;
    let var = late
        .iter()
        .map(|&c| (f64::from(c) - mean).powi(2))
        .sum::<f64>()
        / late.len() as f64;
    assert!(mean > 10.0, "active network: {mean} spikes per 5 ms");
    assert!(
        var / mean > 4.0,
        "synchronous volleys: Fano factor {}",
        var / mean
    );
    insta::assert_snapshot!("izhikevich2003_1s", digest(&spikes, 12));
}
