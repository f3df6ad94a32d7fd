//! # ember-models
//!
//! Ember's model zoo. Each model is a parameter component, a pure step kernel over slices,
//! and a thin system adapting queries to the kernel, registered through the same public
//! path a user's own model uses ([`Simulation::register_neuron_model`],
//! [`Simulation::register_synapse_model`]).
//!
//! | registry name | type | kind |
//! |---|---|---|
//! | `lif` | [`Lif`] | leaky integrate-and-fire (exact integration) |
//! | `alif` | [`Alif`] | LIF with spike-driven adaptive threshold |
//! | `glif2` | [`Glif2`] | LIF with adaptive threshold and linear reset |
//! | `qif` | [`Qif`] | quadratic integrate-and-fire (Euler) |
//! | `izhikevich` | [`Izhikevich`] | quadratic membrane with K-term current adaptation (Euler) |
//! | `izhikevich_abcd` | [`IzhikevichAbcd`] | classic Izhikevich (2003) by (a, b, c, d), mapped exactly onto `izhikevich` |
//! | `eif` | [`Eif`] | exponential integrate-and-fire (Euler) |
//! | `adex` | [`Adex`] | exponential membrane with K-term current adaptation (Euler; Brette–Gerstner AdEx) |
//! | `exact` | [`Exact`] | spikes whenever its input is positive |
//! | `poisson` | [`Poisson`] | generator: independent Poisson trains |
//! | `spike_source` | [`SpikeSource`] | generator: exactly the given `[neuron, time_ms]` spikes |
//! | [`Equation::NAME`] (yours; not in `register_all`) | [`EquationNeuron`] | your ODE `dx/dt = f(x, I)`, Euler/Heun/RK4, threshold and reset rules |
//! | `delta_current` | [`DeltaCurrent`] | synapse: `I = s·Q/Δt` |
//! | `single_exponential_current` | [`SingleExponentialCurrent`] | synapse: `I ← I·e^{−Δt/τ} + s·Q/τ` |
//! | `double_exponential_current` | [`DoubleExponentialCurrent`] | synapse: `I_{d,r} ← I_{d,r}·e^{−Δt/τ_{d,r}} + s·Q/(τ_d−τ_r)`, `I = I_d − I_r` |
//! | `single_exponential_conductance` | [`SingleExponentialConductance`] | synapse (COBA): `g ← g·e^{−Δt/τ} + w·s`, `I = g·(E_rev − V)` |
//!
//! ```
//! use ember_engine::prelude::*;
//! use ember_models::{Lif, register_all};
//!
//! let mut sim = Simulation::new(SimConfig { step_time: 1.0, ..Default::default() }).unwrap();
//! register_all(&mut sim);
//! let cell = sim
//!     .add_population("cell", 1, Lif::new(-60.0, -65.0, -50.0, 2.0, 10.0), Default::default())
//!     .unwrap();
//! sim.add_current(cell, Param::Scalar(15.0), 0.0, None, None).unwrap();
//! let rec = sim.record_spikes(cell).unwrap();
//! sim.run_steps(60).unwrap();
//! let steps: Vec<u64> = sim.recorded_spikes(rec).iter().map(|s| s.step).collect();
//! assert_eq!(steps, [10, 25, 40, 55]); // INFERNO.md trace A
//! ```

pub mod generators;
pub mod neurons;
pub mod synapses;

pub use generators::poisson::Poisson;
pub use generators::spike_source::SpikeSource;
pub use neurons::adaptive_threshold::{Alif, Glif2};
pub use neurons::adex::Adex;
pub use neurons::eif::Eif;
pub use neurons::equation::{Equation, EquationNeuron};
pub use neurons::exact::Exact;
pub use neurons::izhikevich::{Izhikevich, IzhikevichAbcd, IzhikevichPreset};
pub use neurons::lif::Lif;
pub use neurons::qif::Qif;
pub use synapses::conductance::SingleExponentialConductance;
pub use synapses::delta::DeltaCurrent;
pub use synapses::double_exponential::DoubleExponentialCurrent;
pub use synapses::single_exponential::SingleExponentialCurrent;

use ember_engine::Simulation;

/// Registers every built-in model with `sim`, so scenario files can name them.
pub fn register_all(sim: &mut Simulation) {
    sim.register_neuron_model::<Lif>()
        .register_neuron_model::<Alif>()
        .register_neuron_model::<Glif2>()
        .register_neuron_model::<Exact>()
        .register_neuron_model::<Qif>()
        .register_neuron_model::<Izhikevich>()
        .register_neuron_model::<IzhikevichAbcd>()
        .register_neuron_model::<Eif>()
        .register_neuron_model::<Adex>()
        .register_neuron_model::<Poisson>()
        .register_neuron_model::<SpikeSource>()
        .register_synapse_model::<DeltaCurrent>()
        .register_synapse_model::<SingleExponentialCurrent>()
        .register_synapse_model::<DoubleExponentialCurrent>()
        .register_synapse_model::<SingleExponentialConductance>();
}
