//! Projection records (issue 5): `current` per post neuron and `weight` per synapse, their
//! sampling, layout and row order, the scenario form `[[record]] projection = …`, and build
//! errors.
//!
//! The projection's synapse model here is a test model writing a known current pattern, so
//! the recorded values can be checked exactly without depending on spike delivery.

use bevy_ecs::prelude::*;
use ember_engine::prelude::*;
use ember_engine::{
    BuildErrorKind, ModelSystems, ParamError, ParamReader, Projection, ProjectionCurrent,
    ProjectionTraceRow,
};

/// A neuron model that does nothing.
#[derive(Component, Clone, Debug)]
struct Probe;

impl NeuronModel for Probe {
    const NAME: &'static str = "probe";
    const PARAMS: &'static [&'static str] = &[];

    fn from_params(_: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Probe)
    }

    fn validate(&self, _: usize) -> Result<(), ParamError> {
        Ok(())
    }

    fn initial_voltage(&self, _: usize) -> f32 {
        0.0
    }

    fn add_systems(_: &mut ModelSystems<'_>) {}
}

/// A synapse model whose current to post neuron j of batch copy b in step k is
/// `ramp(k, b, j)`.
#[derive(Component, Clone, Debug)]
struct Ramp;

fn ramp(k: u64, b: usize, j: usize) -> f32 {
    k as f32 + 0.5 * j as f32 - 100.0 * b as f32
}

fn ramp_system(clock: Res<Clock>, mut q: Query<(&Projection, &mut ProjectionCurrent), With<Ramp>>) {
    for (p, mut c) in &mut q {
        let n = p.post_size as usize;
        for (i, x) in c.0.iter_mut().enumerate() {
            *x = ramp(clock.step, i / n, i % n);
        }
    }
}

impl SynapseModel for Ramp {
    const NAME: &'static str = "ramp";
    const PARAMS: &'static [&'static str] = &[];

    fn from_params(_: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Ramp)
    }

    fn validate(&self) -> Result<(), ParamError> {
        Ok(())
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add(Phase::Synapses, ramp_system);
    }
}

const WEIGHTS: [f64; 6] = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0];

/// pre (3) → post (2), all to all: 6 synapses with weights [`WEIGHTS`] in canonical order.
fn network(batch_size: u32) -> (Simulation, ProjectionId) {
    let mut sim = Simulation::new(SimConfig {
        step_time: 0.1,
        batch_size,
        ..Default::default()
    })
    .unwrap();
    let pre = sim
        .add_population("pre", 3, Probe, Default::default())
        .unwrap();
    let post = sim
        .add_population("post", 2, Probe, Default::default())
        .unwrap();
    let proj = sim
        .add_projection(
            Some("ff"),
            pre,
            post,
            &ConnectRule::AllToAll { autapses: true },
            ValueSpec::List(WEIGHTS.to_vec()),
            Ramp,
        )
        .unwrap();
    (sim, proj)
}

#[test]
fn current_is_sampled_per_post_neuron_and_batch_copy_every_n_steps() {
    let (mut sim, proj) = network(2);
    let rec = sim
        .record_projection(
            proj,
            vec![ProjectionVariable::Current],
            Some(vec![1, 0]),
            None,
            3,
        )
        .unwrap();
    sim.run_steps(10).unwrap();
    let r = sim.projection_trace(rec).unwrap();
    assert_eq!(r.steps, [0, 3, 6, 9]);
    for (s, &k) in r.steps.iter().enumerate() {
        for b in 0..2 {
            for (slot, &j) in r.neurons.iter().enumerate() {
                assert_eq!(r.value(s, 0, b, slot), ramp(k, b, j as usize));
            }
        }
    }
    assert_eq!(r.values.len(), 4 * 2 * 2);
}

#[test]
fn weights_are_sampled_per_synapse_in_canonical_order() {
    let (mut sim, proj) = network(1);
    let all = sim
        .record_projection(proj, vec![ProjectionVariable::Weight], None, None, 1)
        .unwrap();
    let some = sim
        .record_projection(
            proj,
            vec![ProjectionVariable::Weight],
            None,
            Some(vec![5, 0, 2]),
            1,
        )
        .unwrap();
    sim.run_steps(2).unwrap();
    let r = sim.projection_trace(all).unwrap();
    assert_eq!(r.synapses, [0, 1, 2, 3, 4, 5]);
    for s in 0..2 {
        for (k, &w) in WEIGHTS.iter().enumerate() {
            assert_eq!(r.value(s, 0, 0, k), w as f32);
        }
    }
    let r = sim.projection_trace(some).unwrap();
    let got: Vec<f32> = (0..3).map(|k| r.value(1, 0, 0, k)).collect();
    assert_eq!(got, [3.0, 0.5, 1.5]);
}

#[test]
fn scalar_weights_and_both_variables_give_rows_in_traces_csv_order() {
    let mut sim = Simulation::new(SimConfig {
        step_time: 0.1,
        batch_size: 2,
        ..Default::default()
    })
    .unwrap();
    let pre = sim
        .add_population("pre", 2, Probe, Default::default())
        .unwrap();
    let post = sim
        .add_population("post", 2, Probe, Default::default())
        .unwrap();
    let proj = sim
        .add_projection(
            None,
            pre,
            post,
            &ConnectRule::OneToOne,
            ValueSpec::Scalar(1.25),
            Ramp,
        )
        .unwrap();
    let rec = sim
        .record_projection(
            proj,
            vec![
                ProjectionVariable::Weight,
                ProjectionVariable::Current,
                ProjectionVariable::Weight,
            ],
            Some(vec![1]),
            Some(vec![1]),
            2,
        )
        .unwrap();
    sim.run_steps(3).unwrap();
    let r = sim.projection_trace(rec).unwrap();
    // Duplicates are dropped; weights are stored once per sample, shown for every copy.
    assert_eq!(
        r.variables,
        [ProjectionVariable::Weight, ProjectionVariable::Current]
    );
    let rows: Vec<ProjectionTraceRow> = r.rows().collect();
    let row = |variable, index, batch, step, value| ProjectionTraceRow {
        variable,
        index,
        batch,
        step,
        value,
    };
    let (w, c) = (ProjectionVariable::Weight, ProjectionVariable::Current);
    assert_eq!(
        rows,
        [
            row(w, 1, 0, 0, 1.25),
            row(w, 1, 1, 0, 1.25),
            row(c, 1, 0, 0, ramp(0, 0, 1)),
            row(c, 1, 1, 0, ramp(0, 1, 1)),
            row(w, 1, 0, 2, 1.25),
            row(w, 1, 1, 2, 1.25),
            row(c, 1, 0, 2, ramp(2, 0, 1)),
            row(c, 1, 1, 2, ramp(2, 1, 1)),
        ]
    );
    assert_eq!(w.name(), "weight");
    assert_eq!(ProjectionVariable::from_name("current"), Some(c));
    assert_eq!(ProjectionVariable::from_name("voltage"), None);
}

#[test]
fn invalid_projection_records_are_rejected() {
    let (mut sim, proj) = network(1);
    let (c, w) = (ProjectionVariable::Current, ProjectionVariable::Weight);
    /// Variables, neurons, synapses, every, and the field the error names.
    type Case = (
        Vec<ProjectionVariable>,
        Option<Vec<u32>>,
        Option<Vec<u64>>,
        u64,
        &'static str,
    );
    let cases: [Case; 6] = [
        (vec![w], Some(vec![0]), None, 1, "neurons"),
        (vec![c], None, Some(vec![0]), 1, "synapses"),
        (vec![w], None, Some(vec![0, 6]), 1, "synapses"),
        (vec![c], Some(vec![2]), None, 1, "neurons"),
        (vec![c], None, None, 0, "every"),
        (vec![], None, None, 1, "variables"),
    ];
    for (vars, neurons, synapses, every, field) in cases {
        let e = sim
            .record_projection(proj, vars, neurons, synapses, every)
            .unwrap_err();
        assert!(matches!(e.kind, BuildErrorKind::Invalid(_)), "{e}");
        assert_eq!(e.path, format!("record on \"ff\".{field}"), "{e}");
    }
    // Not a projection.
    let pop = sim.population_id("pre").unwrap();
    assert!(
        sim.record_projection(ProjectionId(pop.0), vec![c], None, None, 1)
            .is_err()
    );
}

const SCENARIO: &str = r#"
[simulation]
step_time = 0.1
duration = 1.0
batch_size = 2

[[population]]
name = "pre"
size = 3
model = "probe"

[[population]]
name = "post"
size = 2
model = "probe"

[[projection]]
pre = "pre"
post = "post"
name = "ff"
connectivity = "all_to_all"
synapse = { model = "ramp" }
weight = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]

[[record]]
population = "post"
variables = ["input"]

[[record]]
projection = "ff"
variables = ["current", "weight"]
neurons = [1]
synapses = [4, 1]
every = 5
"#;

fn build(text: &str) -> Result<(Simulation, ember_engine::ScenarioHandles), BuildError> {
    let sc = Scenario::from_toml(text).unwrap();
    let mut sim = Simulation::new(sc.config(1).unwrap()).unwrap();
    sim.register_neuron_model::<Probe>()
        .register_synapse_model::<Ramp>();
    let h = sim.add_scenario(&sc)?;
    Ok((sim, h))
}

#[test]
fn scenario_projection_records() {
    let (mut sim, h) = build(SCENARIO).unwrap();
    assert_eq!(h.projection_trace_recorders.len(), 1);
    let (k, rec) = h.projection_trace_recorders[0];
    assert_eq!(h.projections[k].0, "ff");
    // No spike recorder for a projection record (`spikes` defaults to true for populations).
    assert_eq!(h.spike_recorders.len(), 1);
    sim.run_steps(h.steps).unwrap();
    let r = sim.projection_trace(rec).unwrap();
    assert_eq!(r.steps, [0, 5]);
    assert_eq!(r.neurons, [1]);
    assert_eq!(r.synapses, [4, 1]);
    for (s, &step) in r.steps.iter().enumerate() {
        for b in 0..2 {
            assert_eq!(r.value(s, 0, b, 0), ramp(step, b, 1));
        }
        assert_eq!(r.value(s, 1, 0, 0), 2.5);
        assert_eq!(r.value(s, 1, 0, 1), 1.0);
    }
    // The current of the only projection is the post population's input.
    let input = sim.trace(h.trace_recorders[0].1).unwrap();
    assert_eq!(input.value(5, 0, 1, 1, 2), ramp(5, 1, 1));
}

#[test]
fn scenario_projection_record_errors() {
    let cases = [
        (
            "projection = \"ff\"",
            "projection = \"fb\"",
            "record[1].projection",
        ),
        (
            "\"current\", \"weight\"",
            "\"current\", \"voltage\"",
            "record[1].variables[1]",
        ),
        (
            "synapses = [4, 1]",
            "synapses = [4, 6]",
            "record[1].synapses",
        ),
        (
            "neurons = [1]\nsynapses",
            "neurons = [2]\nsynapses",
            "record[1].neurons",
        ),
        ("\"current\", \"weight\"", "\"weight\"", "record[1].neurons"),
        (
            "variables = [\"current\", \"weight\"]",
            "variables = []",
            "record[1].variables",
        ),
        ("every = 5", "every = 0", "record[1].every"),
        (
            "projection = \"ff\"",
            "projection = \"ff\"\npopulation = \"pre\"",
            "record[1]",
        ),
    ];
    for (from, to, path) in cases {
        assert!(SCENARIO.contains(from), "{from}");
        let Err(e) = build(&SCENARIO.replacen(from, to, 1)) else {
            panic!("accepted: {to}");
        };
        assert_eq!(e.path, path, "{to}: {e}");
    }
    // `spikes` is ignored on projection records, whatever its value.
    build(&SCENARIO.replace("every = 5", "every = 5\nspikes = false")).unwrap();
    build(&SCENARIO.replace("every = 5", "every = 5\nspikes = true")).unwrap();
    // `synapses` stays a projection field.
    let Err(e) = build(&SCENARIO.replace(
        "variables = [\"input\"]",
        "variables = [\"input\"]\nsynapses = [0]",
    )) else {
        panic!("accepted synapses on a population record");
    };
    assert_eq!(e.path, "record[0].synapses");
}
