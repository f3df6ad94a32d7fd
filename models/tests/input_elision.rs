//! Input elision (`ember_engine::input`): the fused LIF pass skips reading and writing
//! `SynapticInput` where nobody can tell, and nowhere else. These tests pin both halves:
//! the results never change, the total is there for anyone who looks (a user system after
//! the neuron pass, an `input` trace), and without an observer the array really is left
//! alone.

use ember_engine::bevy_ecs::prelude::*;
use ember_engine::prelude::*;
use ember_engine::{
    InputVisibility, ProjectionCurrent, ProjectionId, ProjectionVariable, SpikeEvent,
};
use ember_models::{IzhikevichAbcd, Lif, SingleExponentialCurrent, register_all};

/// Who looks at `SynapticInput` after the neuron pass.
#[derive(Clone, Copy, PartialEq)]
enum Observer {
    Nobody,
    /// [`observe`] in `Phase::Record`.
    UserSystem,
    /// An `input` trace on the post population.
    Trace,
}

/// What [`observe`] saw each step: (input of post neuron 0, its projection current).
#[derive(Resource, Default)]
struct Seen(Vec<(f32, f32)>);

/// The post population and the projection into it, for [`observe`].
#[derive(Resource, Clone, Copy)]
struct Watched(PopulationId, ProjectionId);

fn observe(
    watched: Res<Watched>,
    mut seen: ResMut<Seen>,
    inputs: Query<&SynapticInput>,
    currents: Query<&ProjectionCurrent>,
) {
    let input = inputs.get(watched.0.0).expect("post population");
    let current = currents.get(watched.1.0).expect("projection");
    seen.0.push((input.0[0], current.0[0]));
}

struct Net {
    sim: Simulation,
    pre: PopulationId,
    post: PopulationId,
    spikes: Entity,
    /// The `input` trace of `post` and the `current` trace of the projection.
    traces: Option<(Entity, Entity)>,
}

/// A driven `pre` population (spiking every 5 ms from 2.9 ms on) projecting onto `post`,
/// which also gets a current pulse from 2 to 4 ms (so its input is written, then must be
/// cleared again).
fn net(observer: Observer) -> Net {
    let mut sim = Simulation::new(SimConfig {
        step_time: 0.1,
        seed: 3,
        ..Default::default()
    })
    .unwrap();
    register_all(&mut sim);
    let lif = || Lif::new(-60.0, -65.0, -50.0, 1.0, 10.0);
    let pre = sim
        .add_population("pre", 4, lif(), Default::default())
        .unwrap();
    let post = sim
        .add_population("post", 4, lif(), Default::default())
        .unwrap();
    let proj = sim
        .add_projection(
            None,
            pre,
            post,
            &ConnectRule::AllToAll { autapses: true },
            ValueSpec::Scalar(12.0),
            SingleExponentialCurrent {
                spike_charge: 2.0,
                time_constant: 2.0,
            },
        )
        .unwrap();
    sim.add_current(pre, Param::Scalar(40.0), 0.0, None, None)
        .unwrap();
    sim.add_current(post, Param::Scalar(4.5), 2.0, Some(4.0), None)
        .unwrap();
    let spikes = sim.record_spikes(post).unwrap();
    let mut traces = None;
    match observer {
        Observer::Nobody => {}
        Observer::UserSystem => {
            sim.world_mut().insert_resource(Watched(post, proj));
            sim.world_mut().init_resource::<Seen>();
            sim.add_systems_in(Phase::Record, observe);
        }
        Observer::Trace => {
            let vars = vec![TraceVariable::Input, TraceVariable::Voltage];
            let input = sim.record_trace(post, vars, None, 1).unwrap();
            let vars = vec![ProjectionVariable::Current];
            let current = sim.record_projection(proj, vars, None, None, 1).unwrap();
            traces = Some((input, current));
        }
    }
    Net {
        sim,
        pre,
        post,
        spikes,
        traces,
    }
}

fn run(observer: Observer) -> Net {
    let mut n = net(observer);
    n.sim.run_for(30.0).unwrap();
    n
}

fn post_state(n: &Net) -> (Vec<f32>, Vec<SpikeEvent>) {
    let v = n.sim.get::<Voltage>(n.post).unwrap().0.clone();
    (v, n.sim.recorded_spikes(n.spikes).to_vec())
}

fn keeps(n: &Net, p: PopulationId) -> bool {
    n.sim.world().resource::<InputVisibility>().must_keep(p.0)
}

#[test]
fn without_an_observer_the_input_is_left_alone_and_results_do_not_change() {
    let plain = run(Observer::Nobody);
    let watched = run(Observer::UserSystem);
    let traced = run(Observer::Trace);
    let (v, spikes) = post_state(&plain);
    assert!(!spikes.is_empty(), "the network must make post fire");
    assert_eq!((v.clone(), spikes.clone()), post_state(&watched));
    assert_eq!((v, spikes), post_state(&traced));

    assert!(!keeps(&plain, plain.post) && !keeps(&plain, plain.pre));
    // The pulse ended at 4 ms: its input was cleared and never rewritten with the
    // projection's (non-zero) current.
    let current = plain.sim.world();
    let mut q = current.try_query::<&ProjectionCurrent>().unwrap();
    assert!(q.iter(current).all(|c| c.0.iter().any(|&x| x != 0.0)));
    let input = &plain.sim.get::<SynapticInput>(plain.post).unwrap().0;
    assert!(input.iter().all(|&x| x == 0.0), "{input:?}");
}

#[test]
fn a_user_system_after_the_neuron_pass_sees_the_total_input() {
    let n = run(Observer::UserSystem);
    assert!(keeps(&n, n.post) && keeps(&n, n.pre));
    let seen = &n.sim.world().resource::<Seen>().0;
    assert_eq!(seen.len(), 300);
    let mut driven = 0;
    for (step, &(input, current)) in seen.iter().enumerate() {
        // A refractory step still reports the summed input.
        assert_eq!(input, total_input(step, current), "step {step}");
        driven += usize::from(current != 0.0);
    }
    assert!(
        driven > 200,
        "the projection must drive post: {driven} steps"
    );
}

/// The input post neuron 0 must hold after the neuron pass of `step`, given its projection
/// current: the stimulus (steps 20..40) plus the current, summed in the pass's order.
fn total_input(step: usize, current: f32) -> f32 {
    let stimulus = if (20..40).contains(&step) { 4.5 } else { 0.0 };
    (0.0 + stimulus) + current
}

#[test]
fn an_input_trace_records_the_total_and_keeps_only_its_population() {
    let n = run(Observer::Trace);
    assert!(keeps(&n, n.post));
    assert!(!keeps(&n, n.pre));
    let (input, current) = n.traces.unwrap();
    let (input, current) = (
        n.sim.trace(input).unwrap(),
        n.sim.projection_trace(current).unwrap(),
    );
    assert_eq!(input.steps.len(), 300);
    for s in 0..300 {
        let c = current.value(s, 0, 0, 0);
        assert_eq!(input.value(s, 0, 0, 0, 1), total_input(s, c), "sample {s}");
    }
}

/// An exclusive system (it could read anything).
fn exclusive(_world: &mut World) {}

#[test]
fn other_built_in_models_keep_elision_and_exclusive_systems_stop_it() {
    let mut n = net(Observer::Nobody);
    let other = n
        .sim
        .add_population(
            "abcd",
            3,
            IzhikevichAbcd::new(0.02, 0.2, -65.0, 8.0),
            Default::default(),
        )
        .unwrap();
    n.sim
        .add_current(other, Param::Scalar(10.0), 0.0, None, None)
        .unwrap();
    n.sim.run_for(1.0).unwrap();
    assert!(
        !keeps(&n, n.post),
        "a built-in neuron model's own pass sees only its input"
    );
    n.sim.add_systems_in(Phase::Plasticity, exclusive);
    n.sim.run_for(1.0).unwrap();
    assert!(keeps(&n, n.post) && keeps(&n, other));
}
