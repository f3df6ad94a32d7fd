//! Poisson spike generator (`poisson`): one independent Poisson train per neuron.
//!
//! In each step of Δt a neuron spikes with probability `p = rate · Δt / 1000` (rate in Hz,
//! Δt in ms; a rate of at least 1000/Δt Hz spikes every step). Draws come from counter-based
//! streams keyed by (seed, population name, step, batch copy, neuron), so every batch copy
//! gets an independent train and the trains do not depend on thread count or on any other
//! part of the network.
//!
//! With one rate for the whole population the step costs O(spikes), not O(neurons): the
//! gaps between spiking neurons are drawn from the geometric distribution, as
//! `fixed_probability` connectivity does. Per-neuron rates draw one uniform per neuron.
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `rate` | Hz | firing rate | `≥ 0`, finite |
//!
//! The voltage of a generator is always 0 and it is never refractory. Changing the `rate`
//! of the [`Poisson`] component during a run takes effect from the next step.

use bevy_ecs::prelude::*;
use ember_engine::model::check;
use ember_engine::prelude::*;
use ember_engine::rng::StreamFamily;
use ember_engine::{ModelSystems, ParamError, ParamReader, Population, SpawnContext};

/// Poisson generator parameters.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Poisson {
    /// Firing rate, Hz (one value or one per neuron).
    pub rate: Param,
}

impl Poisson {
    /// A homogeneous generator.
    pub fn new(rate_hz: f32) -> Self {
        Self {
            rate: rate_hz.into(),
        }
    }
}

/// Precomputed per-step spike probabilities and the stream family of a generator.
#[derive(Component, Clone, Debug)]
pub struct PoissonKernel {
    family: StreamFamily,
    /// `Some(ln(1 − p))` for one shared probability p < 1 (geometric skipping); `None` for
    /// per-neuron probabilities (in `probability`) or p = 1.
    ln_q: Option<f64>,
    probability: Vec<f64>,
}

impl PoissonKernel {
    /// Recomputes the per-step probabilities `p = min(rate · Δt / 1000, 1)` from `rate`
    /// (Hz) for `n` neurons and a step of `dt` ms. Reuses the probability array, so a
    /// rate change during a run allocates nothing once the array has its size.
    pub fn set_rates(&mut self, rate: &Param, n: usize, dt: f32) {
        let p = |rate: f32| (f64::from(rate) * f64::from(dt) / 1000.0).min(1.0);
        self.probability.clear();
        match rate.as_scalar() {
            Some(r) if p(r) < 1.0 => self.ln_q = Some((1.0 - p(r)).ln()),
            _ => {
                self.ln_q = None;
                self.probability.extend((0..n).map(|i| p(rate.at(i))));
            }
        }
    }
}

/// Appends to `out` the neurons of one batch copy that spike in `step` (sorted).
pub fn poisson_step(
    k: &PoissonKernel,
    n: usize,
    batch: usize,
    b: usize,
    step: u64,
    out: &mut Vec<u32>,
) {
    // One stream per (step, batch copy) for the shared-rate case, one per (step, copy,
    // neuron) otherwise: indices never collide within a run of < 2⁶⁴ / (n·batch) steps.
    let base = step
        .wrapping_mul((n * batch) as u64)
        .wrapping_add((b * n) as u64);
    match k.ln_q {
        // p = 0: ln(1 − p) = 0, never a spike.
        Some(0.0) => {}
        Some(ln_q) => {
            let mut s = k.family.stream(base);
            let mut j = s.geometric_skip(ln_q);
            while j < n as u64 {
                out.push(j as u32);
                j = j.saturating_add(1).saturating_add(s.geometric_skip(ln_q));
            }
        }
        None => {
            for (i, &p) in k.probability.iter().enumerate() {
                if p > 0.0 && k.family.stream(base.wrapping_add(i as u64)).next_f64() < p {
                    out.push(i as u32);
                }
            }
        }
    }
}

/// The Poisson system ([`Phase::Integrate`]). A rate changed during a run (by mutating the
/// population's [`Poisson`] component, e.g. from a user system or through
/// `Simulation::world_mut`) takes effect from the next step.
pub fn poisson_system(
    clock: Res<Clock>,
    mut q: Query<(&Population, Ref<Poisson>, &mut PoissonKernel, &mut Spikes)>,
) {
    for (pop, rate, mut k, mut spikes) in &mut q {
        let (n, batch) = (pop.size as usize, pop.batch as usize);
        if rate.is_changed() && !rate.is_added() {
            k.set_rates(&rate.rate, n, clock.dt());
        }
        for b in 0..batch {
            poisson_step(&k, n, batch, b, clock.step, spikes.batch_mut(b));
        }
    }
}

impl NeuronModel for Poisson {
    const NAME: &'static str = "poisson";
    const PARAMS: &'static [&'static str] = &["rate"];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rate: p.required("rate")?,
        })
    }

    fn validate(&self, n: usize) -> Result<(), ParamError> {
        check::length("rate", &self.rate, n)?;
        check::each("rate", &self.rate, "≥ 0 Hz", |r| r >= 0.0)
    }

    fn initial_voltage(&self, _i: usize) -> f32 {
        0.0
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_confined(Phase::Integrate, poisson_system);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let family = StreamFamily::new(ctx.seed, &format!("{}.poisson", ctx.name));
        let mut kernel = PoissonKernel {
            family,
            ln_q: None,
            probability: Vec::new(),
        };
        kernel.set_rates(&self.rate, ctx.size as usize, ctx.step_time);
        entity.insert((self, kernel));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(rate: Param, n: usize, dt: f32) -> PoissonKernel {
        let mut world = World::new();
        let mut e = world.spawn_empty();
        let ctx = SpawnContext {
            name: "p",
            step_time: dt,
            size: n as u32,
            batch: 1,
            seed: 3,
            init_adaptation: None,
        };
        Poisson { rate }.insert(&mut e, &ctx);
        e.get::<PoissonKernel>().unwrap().clone()
    }

    fn mean_count(k: &PoissonKernel, n: usize, steps: u64) -> f64 {
        let mut out = Vec::new();
        let mut total = 0;
        for step in 0..steps {
            out.clear();
            poisson_step(k, n, 1, 0, step, &mut out);
            assert!(out.windows(2).all(|w| w[0] < w[1]));
            total += out.len();
        }
        total as f64 / steps as f64
    }

    #[test]
    fn shared_and_per_neuron_rates_give_the_expected_counts() {
        // 1000 neurons at 50 Hz, Δt = 1 ms: p = 0.05, 50 spikes per step on average.
        let n = 1000;
        for k in [
            kernel(Param::Scalar(50.0), n, 1.0),
            kernel(Param::PerElement(vec![50.0; n]), n, 1.0),
        ] {
            let m = mean_count(&k, n, 400);
            // sd of the mean over 400 steps: sqrt(1000·0.05·0.95 / 400) ≈ 0.34
            assert!((m - 50.0).abs() < 4.0 * 0.35, "mean {m}");
        }
    }

    #[test]
    fn zero_rate_never_spikes_and_full_rate_always_does() {
        let zero = kernel(Param::Scalar(0.0), 10, 0.1);
        assert_eq!(mean_count(&zero, 10, 100), 0.0);
        let full = kernel(Param::Scalar(20_000.0), 10, 0.1);
        assert_eq!(mean_count(&full, 10, 10), 10.0);
    }

    #[test]
    fn negative_rate_is_rejected() {
        assert_eq!(Poisson::new(-1.0).validate(1).unwrap_err().param, "rate");
    }
}
