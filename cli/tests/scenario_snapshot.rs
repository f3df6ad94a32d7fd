//! Pins exact reproducibility: a short CUBA run (100 ms, one thread) must produce exactly
//! the same spikes and summary forever, unless a change is meant to alter results (then the
//! snapshot is reviewed and updated on purpose).

use std::fmt::Write as _;
use std::fs;

use ember_cli::run::{self, BUNDLED_CUBA, RunOptions};

/// FNV-1a (64 bit) of `bytes`: a dependency-free fingerprint of a whole output file.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn short_cuba_run_is_reproducible() {
    let mut sc = run::parse("cuba.toml", BUNDLED_CUBA).unwrap();
    sc.simulation.duration = 100.0;
    let tmp = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out: tmp.path().join("out"),
        threads: 1,
        no_plot: true,
    };
    let report = run::run("cuba.toml", &sc, &opts).unwrap();
    assert_eq!(report.summary.threads, 1);

    let spikes = fs::read_to_string(opts.out.join("spikes.csv")).unwrap();
    let mut summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(opts.out.join("summary.json")).unwrap()).unwrap();
    let obj = summary.as_object_mut().unwrap();
    assert!(obj.shift_remove("wall_seconds").is_some());
    assert!(obj.shift_remove("threads").is_some());

    let mut text = String::new();
    writeln!(text, "spike counts per population (spikes.csv rows):").unwrap();
    for pop in ["exc", "inh"] {
        let n = spikes
            .lines()
            .skip(1)
            .filter(|l| l.split(',').next() == Some(pop))
            .count();
        writeln!(text, "  {pop}: {n}").unwrap();
    }
    writeln!(
        text,
        "spikes.csv: {} lines, fnv1a64 {:#018x}",
        spikes.lines().count(),
        fnv1a64(spikes.as_bytes())
    )
    .unwrap();
    writeln!(text, "\nfirst 10 spike rows of spikes.csv:").unwrap();
    for line in spikes.lines().take(11) {
        writeln!(text, "{line}").unwrap();
    }
    writeln!(text, "\nsummary.json without wall_seconds and threads:").unwrap();
    writeln!(text, "{}", serde_json::to_string_pretty(&summary).unwrap()).unwrap();

    insta::assert_snapshot!("short_cuba_100ms_threads_1", text);
}
