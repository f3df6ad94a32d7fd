//! The `spike_source` generator (issue 5): exactly the listed spikes, in every batch copy,
//! from Rust and from scenario files (`params = { spikes = [[neuron, time_ms], …] }`), driving
//! a projection whose current and weights are recorded; and its build errors.

use ember_engine::prelude::*;
use ember_engine::{ScenarioHandles, SpikeEvent, SpikeSchedule};
use ember_models::{SpikeSource, register_all};

fn sim(step_time: f64, batch_size: u32) -> Simulation {
    let mut s = Simulation::new(SimConfig {
        step_time,
        batch_size,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut s);
    s
}

const fn ev(step: u64, batch: u32, neuron: u32) -> SpikeEvent {
    SpikeEvent::new(step, batch, neuron)
}

#[test]
fn emits_exactly_the_listed_spikes_in_every_batch_copy() {
    let mut s = sim(0.1, 2);
    let spikes = vec![
        (3, 2.5),  // step 25
        (0, 1.0),  // step 10
        (1, 1.0),  // step 10
        (2, 0.04), // nearest step: 0
        (0, 1.02), // nearest step: 10, merged with (0, 1.0)
        (2, 0.96), // nearest step: 10
        (1, 3.0),  // step 30: past the end of a 30-step run
        (1, 2.9),  // step 29: the last step
    ];
    let src = s
        .add_population("src", 4, SpikeSource::new(spikes), Default::default())
        .unwrap();
    assert_eq!(s.get::<SpikeSchedule>(src).unwrap().len(), 7);
    let rec = s.record_spikes(src).unwrap();
    s.run_steps(30).unwrap();
    let mut expected = Vec::new();
    for (step, neurons) in [(0, &[2][..]), (10, &[0, 1, 2]), (25, &[3]), (29, &[1])] {
        for b in 0..2 {
            expected.extend(neurons.iter().map(|&j| ev(step, b, j)));
        }
    }
    assert_eq!(s.recorded_spikes(rec), expected);
    // A spike source's voltage stays 0.
    assert!(s.get::<Voltage>(src).unwrap().0.iter().all(|&v| v == 0.0));
}

#[test]
fn rust_spike_lists_are_checked() {
    let mut s = sim(0.1, 1);
    for bad in [vec![(4, 1.0)], vec![(0, -0.5)], vec![(1, f64::NAN)]] {
        let e = s
            .add_population("src", 4, SpikeSource::new(bad), Default::default())
            .unwrap_err();
        assert_eq!(e.path, "population \"src\".params.spikes", "{e}");
    }
    // An empty list is a silent source.
    let src = s
        .add_population("src", 4, SpikeSource::default(), Default::default())
        .unwrap();
    let rec = s.record_spikes(src).unwrap();
    s.run_steps(10).unwrap();
    assert!(s.recorded_spikes(rec).is_empty());
}

const SCENARIO: &str = r#"
[simulation]
step_time = 0.5
duration = 5.0
batch_size = 2

[[population]]
name = "src"
size = 4
model = "spike_source"
params = { spikes = [[0, 1.0], [3, 2.5], [1, 1.0], [2, 4.5]] }

[[population]]
name = "tgt"
size = 2
model = "exact"
params = { rest_v = 0.0, thresh_v = 1.0 }

[[projection]]
pre = "src"
post = "tgt"
name = "drive"
connectivity = { pairs = [[0, 0], [1, 1], [3, 1]] }
synapse = { model = "delta_current", spike_charge = 1.0 }
weight = [1.0, 2.0, 3.0]

[[record]]
population = "src"

[[record]]
population = "tgt"

[[record]]
projection = "drive"
variables = ["current", "weight"]
synapses = [2]
"#;

fn build(text: &str) -> Result<(Simulation, ScenarioHandles), BuildError> {
    let sc = Scenario::from_toml(text)
        .map_err(|e| panic!("{e}"))
        .unwrap();
    let mut s = Simulation::new(sc.config(1).unwrap()).unwrap();
    register_all(&mut s);
    let h = s.add_scenario(&sc)?;
    Ok((s, h))
}

#[test]
fn scenario_spike_source_drives_a_projection() {
    let (mut s, h) = build(SCENARIO).unwrap();
    s.run_steps(h.steps).unwrap();
    let src = s.recorded_spikes(h.spike_recorders[0].1);
    let mut expected = Vec::new();
    for (step, neurons) in [(2, &[0, 1][..]), (5, &[3]), (9, &[2])] {
        for b in 0..2 {
            expected.extend(neurons.iter().map(|&j| ev(step, b, j)));
        }
    }
    assert_eq!(src, expected);
    // A spike in step k reaches the synapses in step k + 1: I = w·Q/Δt.
    let rec = s
        .projection_trace(h.projection_trace_recorders[0].1)
        .unwrap();
    assert_eq!(rec.steps.len(), 10);
    for (k, _) in rec.steps.iter().enumerate() {
        let expected = match k {
            3 => [1.0 / 0.5, 2.0 / 0.5],
            6 => [0.0, 3.0 / 0.5],
            _ => [0.0, 0.0],
        };
        for b in 0..2 {
            for (j, &x) in expected.iter().enumerate() {
                assert_eq!(rec.value(k, 0, b, j), x as f32, "step {k}");
            }
        }
        // Synapse 2 is the pair [3, 1].
        assert_eq!(rec.value(k, 1, 0, 0), 3.0);
    }
    // The exact neurons fire whenever their input is positive.
    let tgt = s.recorded_spikes(h.spike_recorders[1].1);
    let expected: Vec<SpikeEvent> = [(3, 0, 0), (3, 0, 1), (3, 1, 0), (3, 1, 1)]
        .into_iter()
        .chain([(6, 0, 1), (6, 1, 1)])
        .map(|(k, b, j)| ev(k, b, j))
        .collect();
    assert_eq!(tgt, expected);
}

#[test]
fn scenario_spike_lists_round_trip() {
    let sc = Scenario::from_toml(SCENARIO).unwrap();
    assert_eq!(
        sc.populations[0].spikes,
        Some(vec![[0.0, 1.0], [3.0, 2.5], [1.0, 1.0], [2.0, 4.5]])
    );
    assert!(sc.populations[0].params.is_empty());
    assert_eq!(sc.populations[1].spikes, None);
    let text = sc.to_toml().unwrap();
    assert_eq!(Scenario::from_toml(&text).unwrap(), sc, "{text}");
    // `spikes` is written back into `params`, in key order with the numbers.
    let mut sc2 = sc.clone();
    sc2.populations[1].spikes = Some(vec![[1.0, 0.5]]);
    sc2.populations[1]
        .params
        .insert("zeta".into(), ValueSpec::Scalar(1.0));
    let text = sc2.to_toml().unwrap();
    assert!(
        text.contains("rest_v = 0.0\nspikes = [[1.0, 0.5]]\nthresh_v = 1.0\nzeta = 1.0\n"),
        "{text}"
    );
    assert_eq!(Scenario::from_toml(&text).unwrap(), sc2);
}

#[test]
fn scenario_spike_list_errors() {
    let spikes = "spikes = [[0, 1.0], [3, 2.5], [1, 1.0], [2, 4.5]]";
    let cases = [
        ("[3, 2.5]", "[4, 2.5]", "population[0].params.spikes[1]"),
        ("[3, 2.5]", "[1.5, 2.5]", "population[0].params.spikes[1]"),
        ("[3, 2.5]", "[-1, 2.5]", "population[0].params.spikes[1]"),
        ("[2, 4.5]", "[2, -4.5]", "population[0].params.spikes[3]"),
        ("[2, 4.5]", "[2, nan]", "population[0].params.spikes[3]"),
        ("[2, 4.5]", "[2, inf]", "population[0].params.spikes[3]"),
        (spikes, "", "population[0].params.spikes"),
        (
            "thresh_v = 1.0 }",
            "thresh_v = 1.0, spikes = [[0, 1.0]] }",
            "population[1].params.spikes",
        ),
        (
            spikes,
            &format!("{spikes}, rate = 5.0"),
            "population[0].params.rate",
        ),
    ];
    for (from, to, path) in cases {
        assert!(SCENARIO.contains(from), "{from}");
        let Err(e) = build(&SCENARIO.replacen(from, to, 1)) else {
            panic!("accepted: {to}");
        };
        assert_eq!(e.path, path, "{to}: {e}");
    }
    // A spike list must be a list of pairs.
    for bad in [
        "spikes = 3.0",
        "spikes = [1.0, 2.0]",
        "spikes = [[1.0, 2.0, 3.0]]",
    ] {
        let e = Scenario::from_toml(&SCENARIO.replace(spikes, bad)).unwrap_err();
        assert!(
            e.path.starts_with("population[0].params.spikes"),
            "{bad}: {e}"
        );
    }
    // An empty list is a silent source.
    let (mut s, h) = build(&SCENARIO.replace(spikes, "spikes = []")).unwrap();
    s.run_steps(h.steps).unwrap();
    assert!(s.recorded_spikes(h.spike_recorders[0].1).is_empty());
}
