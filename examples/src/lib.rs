//! # ember-examples
//!
//! Runnable examples of Ember, one story each. Each example is a small binary under
//! `examples/examples/` printing a short human-readable result; its logic lives in a module
//! of this library so the integration tests in `examples/tests/` check the same code.
//!
//! | example | module | shows |
//! |---|---|---|
//! | `custom_model` | [`custom_model`] | a new neuron model (resonate-and-fire) defined outside Ember's crates — parameter component, kernel, system, registration — driven by built-in `lif` neurons, from Rust and from a scenario file |
//! | `custom_system` | [`homeostasis`] | a user component and two user systems placed in the step phases: a homeostatic controller that drives every neuron to a target rate |
//! | `heterogeneous` | [`heterogeneous`] | per-neuron parameters (`Param::PerElement`, `ValueSpec::realize`), two neuron models, `one_to_one`/`all_to_all` delta-current projections, the one-step delivery rule |
//! | `stdp_receptive_field` | [`stdp_receptive_field`] | pair STDP with hard bounds on an all-to-all projection: a repeated input pattern takes over an output neuron's weights (Song, Miller & Abbott 2000); train and eval modes; a spike source playing back seeded Poisson trains |
//!
//! Run one with
//!
//! ```text
//! cargo run --release -p ember-examples --example custom_model
//! cargo run --release -p ember-examples --example custom_system
//! cargo run --release -p ember-examples --example heterogeneous
//! ```
//!
//! ## A network in code, with a custom system
//!
//! Populations and projections are built with [`Simulation`](ember_engine::Simulation)'s
//! methods; any bevy system can join the step in one of the [`Phase`](ember_engine::Phase)s
//! and sees the same components as the built-in ones:
//!
//! ```
//! use bevy_ecs::prelude::*;
//! use ember_engine::prelude::*;
//! use ember_models::{DeltaCurrent, Exact, Lif};
//!
//! /// Spikes of every population so far, counted by a user system.
//! #[derive(Resource, Default)]
//! struct SpikeCount(usize);
//!
//! fn count_spikes(spikes: Query<&Spikes>, mut total: ResMut<SpikeCount>) {
//!     total.0 += spikes.iter().map(Spikes::count).sum::<usize>();
//! }
//!
//! let mut sim = Simulation::new(SimConfig { step_time: 0.1, ..Default::default() })?;
//! let lif = Lif::new(-65.0, -65.0, -50.0, 2.0, 20.0);
//! let exc = sim.add_population("exc", 100, lif, PopulationOptions::default())?;
//! let out = sim.add_population("out", 1, Exact::new(-70.0, -40.0), Default::default())?;
//! let all = ConnectRule::AllToAll { autapses: false };
//! sim.add_projection(None, exc, out, &all, 1.0.into(), DeltaCurrent { spike_charge: 1.0 })?;
//! sim.add_current(exc, Param::Scalar(20.0), 0.0, None, None)?;
//!
//! sim.world_mut().init_resource::<SpikeCount>();
//! sim.add_systems_in(Phase::Record, count_spikes); // after every model has spiked
//! sim.run_for(100.0)?;
//! println!("{} spikes in 100 ms", sim.world().resource::<SpikeCount>().0);
//! # assert!(sim.world().resource::<SpikeCount>().0 > 100);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod custom_model;
pub mod heterogeneous;
pub mod homeostasis;
pub mod stdp_receptive_field;
