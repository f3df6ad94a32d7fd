//! Synapse models: turn presynaptic spikes into the current a projection delivers.
//!
//! Every model here is linear in the spikes, so the state of all synapses onto one post
//! neuron collapses into one value (or, for `double_exponential_current`, two values) per
//! post neuron: `Σᵢ wᵢⱼ Iᵢⱼ` evolves like a single synapse driven by the weighted spike sum.
//! The current after the step is what `ProjectionCurrent` holds. The conductance synapse
//! keeps the summed conductance `Σᵢ wᵢⱼ gᵢⱼ` and turns it into a current with the post
//! neuron's voltage.
//!
//! | registry name | type | update per step |
//! |---|---|---|
//! | `delta_current` | [`delta::DeltaCurrent`] | `I = s·Q/Δt` |
//! | `single_exponential_current` | [`single_exponential::SingleExponentialCurrent`] | `I ← I·e^{−Δt/τ} + s·Q/τ` |
//! | `double_exponential_current` | [`double_exponential::DoubleExponentialCurrent`] | `I_{d,r} ← I_{d,r}·e^{−Δt/τ_{d,r}} + s·Q/(τ_d−τ_r)`, `I = I_d − I_r` |
//! | `single_exponential_conductance` | [`conductance::SingleExponentialConductance`] | `g ← g·e^{−Δt/τ} + w·s`, `I = g·(E_rev − V)` |

pub mod conductance;
pub mod delta;
pub mod double_exponential;
pub mod single_exponential;
