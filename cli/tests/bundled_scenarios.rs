//! Snapshot tests of the bundled scenarios in `scenarios/` (short runs), plus the
//! properties the heterogeneous scenario exists to show.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use ember_cli::run::{self, RunOptions};

/// Runs a bundled scenario (optionally shortened) and returns spikes.csv.
fn run_scenario(file: &str, duration: Option<f64>, threads: usize) -> String {
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
    fs::read_to_string(opts.out.join("spikes.csv")).unwrap()
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
