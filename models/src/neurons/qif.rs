//! Quadratic integrate-and-fire neuron (`qif`), with Inferno's semantics, and the quadratic
//! membrane kernel it shares with [`Izhikevich`](crate::Izhikevich).
//!
//! # Equations
//!
//! Continuous: `τ_m dV/dt = a (V − V_rest)(V − V_crit) + R·I(t)`, spike when `V ≥ V_θ`, then
//! `V ← V_reset` and the neuron is refractory for `t_ref`. Below `V_crit` the voltage
//! relaxes to `V_rest`; above it, it runs away towards the threshold.
//!
//! Discrete step (Inferno `voltage_thresholding_constant` with
//! `voltage_integration_quadratic`, explicit Euler), for each neuron:
//!
//! 1. `r ← max(r − Δt, 0)`; the neuron is active if `r = 0`.
//! 2. `I' = active ? I : 0` (refractory neurons receive no input).
//! 3. `V' = V + (Δt/τ_m)·[a (V − V_rest)(V − V_crit) + R·I']`, evaluated in Inferno's order
//!    (`(a·(V − V_rest))·(V − V_crit)`, then `+ R·I'`, then `·Δt/τ_m`, then `+ V`). With
//!    `refrac_lock` (default) a refractory neuron keeps `V`; without it, it evolves with
//!    zero input.
//! 4. `spike = active ∧ V' ≥ V_θ`; spiking neurons get `V ← V_reset`, `r ← t_ref`.
//!
//! The refractory bookkeeping is exactly [`Lif`](crate::Lif)'s (the period includes the
//! spike step; remaining times below 10⁻⁴·Δt count as elapsed, see
//! [`settle_refractory`]). The input is masked with a select rather than Inferno's `I·mask`,
//! which differs only for non-finite inputs.
//!
//! # Parameters
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `rest_v` | mV | resting voltage `V_rest` | `rest_v < crit_v` |
//! | `crit_v` | mV | critical voltage `V_crit` | `crit_v ≤ thresh_v` |
//! | `affinity` | 1 | curvature `a` | `> 0` |
//! | `reset_v` | mV | reset voltage `V_reset` | `reset_v < thresh_v` |
//! | `thresh_v` | mV | threshold `V_θ` | |
//! | `refrac_t` | ms | absolute refractory period `t_ref` | `≥ 0` |
//! | `tc_membrane` | ms | membrane time constant `τ_m` (Inferno: `time_constant`) | `> 0` |
//! | `resistance` | MΩ | membrane resistance `R` (default 1) | `≠ 0` |
//!
//! Every parameter may be one value or one per neuron; every value must be finite. Errors
//! name the parameter ([`ParamError::param`]).
//!
//! References: Inferno `QIF` (`inferno/neural/neurons/nonlinear.py`) and
//! `voltage_integration_quadratic` (`inferno/neural/functional/neuron_dynamics.py`);
//! Latham et al. (2000), *J. Neurophysiol.* 83:808; Gerstner et al., *Neuronal Dynamics*
//! (2014) §5.3.

use bevy_ecs::prelude::*;
use ember_engine::model::check;
use ember_engine::parallel;
use ember_engine::prelude::*;
use ember_engine::{ModelSystems, ParamError, ParamReader, Population, RefracLock, SpawnContext};

use crate::neurons::lif::collect_spikes;
use crate::neurons::{PARALLEL_MIN_NEURONS, settle_refractory};

/// QIF parameters (see the module docs for equations and units).
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Qif {
    /// Resting voltage, mV.
    pub rest_v: Param,
    /// Critical voltage, mV.
    pub crit_v: Param,
    /// Affinity (curvature) a, unitless.
    pub affinity: Param,
    /// Reset voltage after a spike, mV.
    pub reset_v: Param,
    /// Spike threshold, mV.
    pub thresh_v: Param,
    /// Absolute refractory period, ms.
    pub refrac_t: Param,
    /// Membrane time constant, ms.
    pub tc_membrane: Param,
    /// Membrane resistance, MΩ.
    pub resistance: Param,
}

impl Qif {
    /// Homogeneous parameters with `resistance = 1` MΩ.
    pub fn new(
        rest_v: f32,
        crit_v: f32,
        affinity: f32,
        reset_v: f32,
        thresh_v: f32,
        refrac_t: f32,
        tc_membrane: f32,
    ) -> Self {
        Self {
            rest_v: rest_v.into(),
            crit_v: crit_v.into(),
            affinity: affinity.into(),
            reset_v: reset_v.into(),
            thresh_v: thresh_v.into(),
            refrac_t: refrac_t.into(),
            tc_membrane: tc_membrane.into(),
            resistance: 1.0.into(),
        }
    }

    fn all(&self) -> [(&'static str, &Param); 8] {
        [
            ("rest_v", &self.rest_v),
            ("crit_v", &self.crit_v),
            ("affinity", &self.affinity),
            ("reset_v", &self.reset_v),
            ("thresh_v", &self.thresh_v),
            ("refrac_t", &self.refrac_t),
            ("tc_membrane", &self.tc_membrane),
            ("resistance", &self.resistance),
        ]
    }

    /// The per-Δt coefficients of neuron `i`.
    pub fn coefficients(&self, i: usize, dt: f32) -> QuadraticCoefficients {
        QuadraticCoefficients {
            rest_v: self.rest_v.at(i),
            crit_v: self.crit_v.at(i),
            affinity: self.affinity.at(i),
            reset_v: self.reset_v.at(i),
            thresh_v: self.thresh_v.at(i),
            refrac_t: self.refrac_t.at(i),
            // Inferno divides the Python floats (f64), then multiplies the f32 tensor.
            step_ratio: (f64::from(dt) / f64::from(self.tc_membrane.at(i))) as f32,
            resistance: self.resistance.at(i),
        }
    }

    /// The precomputed membrane kernel for `n` neurons at step `dt` (ms): one shared set
    /// of coefficients if every parameter is a single value, else per-neuron arrays.
    pub fn membrane_kernel(&self, n: usize, dt: f32) -> QuadraticMembrane {
        let homogeneous = self.all().iter().all(|(_, p)| p.as_scalar().is_some());
        let (uniform, arrays) = if homogeneous {
            (Some(self.coefficients(0, dt)), QuadraticArrays::default())
        } else {
            let cs: Vec<QuadraticCoefficients> = (0..n).map(|i| self.coefficients(i, dt)).collect();
            let col = |f: fn(&QuadraticCoefficients) -> f32| cs.iter().map(f).collect();
            let arrays = QuadraticArrays {
                rest_v: col(|c| c.rest_v),
                crit_v: col(|c| c.crit_v),
                affinity: col(|c| c.affinity),
                reset_v: col(|c| c.reset_v),
                thresh_v: col(|c| c.thresh_v),
                refrac_t: col(|c| c.refrac_t),
                step_ratio: col(|c| c.step_ratio),
                resistance: col(|c| c.resistance),
            };
            (None, arrays)
        };
        QuadraticMembrane {
            uniform,
            arrays,
            flags: vec![0; n],
        }
    }
}

/// The coefficients of one neuron's quadratic step, Δt already folded in.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QuadraticCoefficients {
    /// `V_rest`, mV.
    pub rest_v: f32,
    /// `V_crit`, mV.
    pub crit_v: f32,
    /// `a`, unitless.
    pub affinity: f32,
    /// `V_reset`, mV.
    pub reset_v: f32,
    /// `V_θ`, mV.
    pub thresh_v: f32,
    /// `t_ref`, ms.
    pub refrac_t: f32,
    /// `Δt/τ_m`.
    pub step_ratio: f32,
    /// `R`, MΩ.
    pub resistance: f32,
}

/// Per-neuron coefficients as arrays (heterogeneous populations).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuadraticArrays {
    rest_v: Vec<f32>,
    crit_v: Vec<f32>,
    affinity: Vec<f32>,
    reset_v: Vec<f32>,
    thresh_v: Vec<f32>,
    refrac_t: Vec<f32>,
    step_ratio: Vec<f32>,
    resistance: Vec<f32>,
}

/// Where a kernel gets neuron `i`'s coefficients: one shared set, or arrays. The kernel is
/// monomorphised for each, so the choice is made once per population, not per neuron.
pub trait QuadraticSource: Sync {
    /// Coefficients of neuron `i` (relative to the window's start).
    fn at(&self, i: usize) -> QuadraticCoefficients;
    /// The same source restricted to neurons `start..start + len` (chunks of a parallel
    /// split, and a window of known length so the kernel's index checks are hoisted).
    fn window(&self, start: usize, len: usize) -> impl QuadraticSource;
}

impl QuadraticSource for QuadraticCoefficients {
    #[inline(always)]
    fn at(&self, _i: usize) -> QuadraticCoefficients {
        *self
    }
    #[inline(always)]
    fn window(&self, _start: usize, _len: usize) -> impl QuadraticSource {
        *self
    }
}

/// Borrowed per-neuron coefficient arrays.
#[derive(Clone, Copy)]
pub struct QuadraticSlices<'a> {
    rest_v: &'a [f32],
    crit_v: &'a [f32],
    affinity: &'a [f32],
    reset_v: &'a [f32],
    thresh_v: &'a [f32],
    refrac_t: &'a [f32],
    step_ratio: &'a [f32],
    resistance: &'a [f32],
}

impl<'a> QuadraticSlices<'a> {
    /// Borrows the arrays.
    pub fn new(a: &'a QuadraticArrays) -> Self {
        Self {
            rest_v: &a.rest_v,
            crit_v: &a.crit_v,
            affinity: &a.affinity,
            reset_v: &a.reset_v,
            thresh_v: &a.thresh_v,
            refrac_t: &a.refrac_t,
            step_ratio: &a.step_ratio,
            resistance: &a.resistance,
        }
    }
}

impl QuadraticSource for QuadraticSlices<'_> {
    #[inline(always)]
    fn at(&self, i: usize) -> QuadraticCoefficients {
        QuadraticCoefficients {
            rest_v: self.rest_v[i],
            crit_v: self.crit_v[i],
            affinity: self.affinity[i],
            reset_v: self.reset_v[i],
            thresh_v: self.thresh_v[i],
            refrac_t: self.refrac_t[i],
            step_ratio: self.step_ratio[i],
            resistance: self.resistance[i],
        }
    }
    #[inline(always)]
    fn window(&self, s: usize, len: usize) -> impl QuadraticSource {
        let r = s..s + len;
        QuadraticSlices {
            rest_v: &self.rest_v[r.clone()],
            crit_v: &self.crit_v[r.clone()],
            affinity: &self.affinity[r.clone()],
            reset_v: &self.reset_v[r.clone()],
            thresh_v: &self.thresh_v[r.clone()],
            refrac_t: &self.refrac_t[r.clone()],
            step_ratio: &self.step_ratio[r.clone()],
            resistance: &self.resistance[r],
        }
    }
}

/// The precomputed quadratic-membrane state of a population: coefficients for its Δt and
/// a scratch array of spike flags (one byte per neuron).
#[derive(Clone, Debug)]
pub struct QuadraticMembrane {
    pub(crate) uniform: Option<QuadraticCoefficients>,
    pub(crate) arrays: QuadraticArrays,
    pub(crate) flags: Vec<u8>,
}

/// The kernel component of a `qif` population.
#[derive(Component, Clone, Debug)]
pub struct QifKernel(pub QuadraticMembrane);

/// The coefficients of one current-adaptation term k (shared by all neurons), Δt folded in.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CurrentTerm {
    /// `Δt/τₖ`.
    pub rate: f32,
    /// Voltage coupling `bₖ`, µS.
    pub coupling: f32,
    /// Spike increment `dₖ`, nA.
    pub increment: f32,
}

/// Where the fused single-term update gets neuron `i`'s [`CurrentTerm`]: one term shared by
/// all neurons ([`CurrentTerm`] itself), or one per neuron (e.g. `izhikevich_abcd`'s
/// per-neuron a, b, d). The kernel is monomorphised for each, as for [`QuadraticSource`].
pub trait TermSource: Sync {
    /// The term of neuron `i` (relative to the window's start).
    fn at(&self, i: usize) -> CurrentTerm;
    /// The same source restricted to neurons `start..start + len`.
    fn window(&self, start: usize, len: usize) -> impl TermSource;
}

impl TermSource for CurrentTerm {
    #[inline(always)]
    fn at(&self, _i: usize) -> CurrentTerm {
        *self
    }
    #[inline(always)]
    fn window(&self, _start: usize, _len: usize) -> impl TermSource {
        *self
    }
}

/// One current-adaptation update of one term (Inferno `adaptive_currents_linear`):
/// `w + (Δt/τₖ)·(bₖ·(V − V_rest) − w)` unless `held`, then `+ dₖ` if the neuron spiked.
/// `v` is the voltage after the step (after reset for a spiking neuron).
#[inline(always)]
pub fn current_update(
    t: &CurrentTerm,
    rest_v: f32,
    w: f32,
    v: f32,
    held: bool,
    spike: bool,
) -> f32 {
    let stepped = w + t.rate * (t.coupling * (v - rest_v) - w);
    let w = if held { w } else { stepped };
    if spike { w + t.increment } else { w }
}

/// The adaptation current as the quadratic kernel sees it.
pub struct CurrentAdaptation<'a, T: TermSource = CurrentTerm> {
    /// `Σₖ wₖ` per neuron, subtracted from the input (read when `SUBTRACT`).
    pub current: &'a [f32],
    /// The updated single term per neuron (written when `UPDATE`; K = 1, in which case
    /// `current` is that term's old value).
    pub updated: &'a mut [f32],
    /// The single term's coefficients, shared or per neuron (used when `UPDATE`).
    pub term: T,
}

impl CurrentAdaptation<'_> {
    /// No adaptation current (QIF).
    pub fn none() -> CurrentAdaptation<'static> {
        CurrentAdaptation {
            current: &[],
            updated: &mut [],
            term: CurrentTerm::default(),
        }
    }
}

/// The state a quadratic step updates: one batch copy (or a chunk) of a population.
pub struct QuadraticState<'a> {
    /// Membrane voltage, mV.
    pub voltage: &'a mut [f32],
    /// Remaining refractory time, ms.
    pub refrac: &'a mut [f32],
    /// Set to 1 where the neuron spiked, else 0.
    pub spiked: &'a mut [u8],
}

/// One quadratic step over a slice of neurons (one batch copy or a chunk of it): the pure
/// kernel of the module docs, on the effective input `I − Σₖ wₖ` when `SUBTRACT`, and with
/// the fused single-term current-adaptation update ([`current_update`], held where the
/// neuron is refractory after the step when `refrac_lock`) when `UPDATE`.
///
/// All slices must have the same length (the adaptation slices and term source only when
/// used). The loop is branch-free (selects only) so the compiler vectorises it.
#[inline]
pub fn quadratic_step<S: QuadraticSource, const SUBTRACT: bool, const UPDATE: bool>(
    c: &S,
    dt: f32,
    refrac_lock: bool,
    input: &[f32],
    adaptation: CurrentAdaptation<'_, impl TermSource>,
    state: QuadraticState<'_>,
) {
    let QuadraticState {
        voltage,
        refrac,
        spiked,
    } = state;
    let n = voltage.len();
    let c = c.window(0, n);
    let (input, refrac, spiked) = (&input[..n], &mut refrac[..n], &mut spiked[..n]);
    let current = if SUBTRACT || UPDATE {
        &adaptation.current[..n]
    } else {
        adaptation.current
    };
    let updated = if UPDATE {
        &mut adaptation.updated[..n]
    } else {
        adaptation.updated
    };
    let term = adaptation.term.window(0, if UPDATE { n } else { 0 });
    for i in 0..n {
        let k = c.at(i);
        let x = if SUBTRACT {
            input[i] - current[i]
        } else {
            input[i]
        };
        let spike = quadratic_neuron(&k, dt, refrac_lock, x, &mut voltage[i], &mut refrac[i]);
        spiked[i] = u8::from(spike);
        if UPDATE {
            let held = refrac_lock & (refrac[i] > 0.0);
            let t = term.at(i);
            updated[i] = current_update(&t, k.rest_v, current[i], voltage[i], held, spike);
        }
    }
}

/// One neuron's quadratic step, branch-free (selects only); returns whether it spiked.
#[inline(always)]
fn quadratic_neuron(
    k: &QuadraticCoefficients,
    dt: f32,
    refrac_lock: bool,
    x: f32,
    v: &mut f32,
    r: &mut f32,
) -> bool {
    let rem = settle_refractory(*r - dt, dt);
    let active = rem == 0.0;
    let xi = if active { x } else { 0.0 };
    let v_old = *v;
    let dyn_v = k.affinity * (v_old - k.rest_v) * (v_old - k.crit_v);
    let integrated = v_old + k.step_ratio * (dyn_v + k.resistance * xi);
    let v_new = if active | !refrac_lock {
        integrated
    } else {
        v_old
    };
    let spike = active & (v_new >= k.thresh_v);
    *v = if spike { k.reset_v } else { v_new };
    *r = if spike { k.refrac_t } else { rem };
    spike
}

/// Runs [`quadratic_step`] over one batch copy and collects its spikes into `spikes`,
/// split over the step's thread team when the copy has at least [`PARALLEL_MIN_NEURONS`]
/// neurons. Neurons are independent and the parts' spikes are joined in index order, so
/// the result is identical for any thread count.
#[inline]
pub fn quadratic_copy<S: QuadraticSource, const SUBTRACT: bool, const UPDATE: bool>(
    c: &S,
    dt: f32,
    lock: bool,
    input: &[f32],
    adaptation: CurrentAdaptation<'_, impl TermSource>,
    state: QuadraticState<'_>,
    spikes: &mut Vec<u32>,
) {
    let QuadraticState {
        voltage,
        refrac,
        spiked,
    } = state;
    let n = voltage.len();
    if n < PARALLEL_MIN_NEURONS {
        let state = QuadraticState {
            voltage,
            refrac,
            spiked: &mut *spiked,
        };
        quadratic_step::<S, SUBTRACT, UPDATE>(c, dt, lock, input, adaptation, state);
        collect_spikes(&spiked[..n], 0, spikes);
    } else {
        let CurrentAdaptation {
            current,
            updated,
            term,
        } = adaptation;
        let body = |s: usize,
                    voltage: &mut [f32],
                    refrac: &mut [f32],
                    flags: &mut [u8],
                    out,
                    spikes: &mut Vec<u32>| {
            let len = voltage.len();
            let current = if SUBTRACT || UPDATE {
                &current[s..s + len]
            } else {
                current
            };
            let adaptation = CurrentAdaptation {
                current,
                updated: out,
                term: if UPDATE {
                    term.window(s, len)
                } else {
                    term.window(0, 0)
                },
            };
            let state = QuadraticState {
                voltage,
                refrac,
                spiked: flags,
            };
            let c = c.window(s, len);
            quadratic_step::<_, SUBTRACT, UPDATE>(
                &c,
                dt,
                lock,
                &input[s..s + len],
                adaptation,
                state,
            );
            // Collected by the part itself: its flags stay in its core's cache.
            collect_spikes(flags, s as u32, spikes);
        };
        let spiked = &mut spiked[..n];
        if UPDATE {
            let parts = (voltage, refrac, spiked, &mut updated[..n]);
            parallel::for_each_part_collecting(parts, 0, spikes, |s, (v, r, f, out), spk| {
                body(s, v, r, f, out, spk)
            });
        } else {
            let parts = (voltage, refrac, spiked);
            parallel::for_each_part_collecting(parts, 0, spikes, |s, (v, r, f), spk| {
                body(s, v, r, f, &mut [], spk)
            });
        }
    }
}

/// The QIF system ([`Phase::Integrate`]): fused integrate, threshold and reset.
pub fn qif_system(
    clock: Res<Clock>,
    mut q: Query<(
        &Population,
        &mut QifKernel,
        &RefracLock,
        &SynapticInput,
        &mut Voltage,
        &mut Refractory,
        &mut Spikes,
    )>,
) {
    let dt = clock.dt();
    for (pop, mut kernel, lock, input, mut v, mut r, mut spikes) in &mut q {
        let n = pop.size as usize;
        let m = &mut kernel.0;
        for b in 0..pop.batch as usize {
            let range = b * n..(b + 1) * n;
            let state = QuadraticState {
                voltage: &mut v.0[range.clone()],
                refrac: &mut r.0[range.clone()],
                spiked: &mut m.flags,
            };
            let input = &input.0[range];
            let out = spikes.batch_mut(b);
            let none = CurrentAdaptation::none();
            match &m.uniform {
                Some(c) => {
                    quadratic_copy::<_, false, false>(c, dt, lock.0, input, none, state, out);
                }
                None => {
                    let c = QuadraticSlices::new(&m.arrays);
                    quadratic_copy::<_, false, false>(&c, dt, lock.0, input, none, state, out);
                }
            }
        }
    }
}

impl NeuronModel for Qif {
    const NAME: &'static str = "qif";
    const PARAMS: &'static [&'static str] = &[
        "rest_v",
        "crit_v",
        "affinity",
        "reset_v",
        "thresh_v",
        "refrac_t",
        "tc_membrane",
        "resistance",
    ];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rest_v: p.required("rest_v")?,
            crit_v: p.required("crit_v")?,
            affinity: p.required("affinity")?,
            reset_v: p.required("reset_v")?,
            thresh_v: p.required("thresh_v")?,
            refrac_t: p.required("refrac_t")?,
            tc_membrane: p.required("tc_membrane")?,
            resistance: p.optional("resistance", 1.0)?,
        })
    }

    /// Inferno's rules: `rest_v < crit_v ≤ thresh_v`, `affinity > 0`, `reset_v < thresh_v`,
    /// `refrac_t ≥ 0`, `tc_membrane > 0`, `resistance ≠ 0`; all values finite and per-neuron
    /// arrays of length `n`.
    fn validate(&self, n: usize) -> Result<(), ParamError> {
        for (name, p) in self.all() {
            check::length(name, p, n)?;
            check::each(name, p, "a finite number", |_| true)?;
        }
        check::less_than("rest_v", &self.rest_v, "crit_v", &self.crit_v, n)?;
        check::at_most("crit_v", &self.crit_v, "thresh_v", &self.thresh_v, n)?;
        check::each("affinity", &self.affinity, "> 0", |v| v > 0.0)?;
        check::less_than("reset_v", &self.reset_v, "thresh_v", &self.thresh_v, n)?;
        check::each("refrac_t", &self.refrac_t, "≥ 0 ms", |v| v >= 0.0)?;
        check::each("tc_membrane", &self.tc_membrane, "> 0 ms", |v| v > 0.0)?;
        check::each("resistance", &self.resistance, "non-zero", |v| v != 0.0)
    }

    fn initial_voltage(&self, i: usize) -> f32 {
        self.rest_v.at(i)
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_neuron_pass(Phase::Integrate, qif_system);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let kernel = QifKernel(self.membrane_kernel(ctx.size as usize, ctx.step_time));
        entity.insert((self, kernel));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace_e() -> Qif {
        Qif::new(-60.0, -50.0, 0.1, -65.0, -30.0, 1.0, 10.0)
    }

    fn step<S: QuadraticSource>(
        c: &S,
        lock: bool,
        input: &[f32],
        v: &mut [f32],
        r: &mut [f32],
    ) -> Vec<u32> {
        let mut flags = vec![0u8; v.len()];
        let mut spikes = Vec::new();
        let state = QuadraticState {
            voltage: v,
            refrac: r,
            spiked: &mut flags,
        };
        quadratic_copy::<_, false, false>(
            c,
            1.0,
            lock,
            input,
            CurrentAdaptation::none(),
            state,
            &mut spikes,
        );
        spikes
    }

    #[test]
    fn first_step_is_euler() {
        let c = trace_e().coefficients(0, 1.0);
        let (mut v, mut r) = ([-60.0f32], [0.0f32]);
        assert!(step(&c, true, &[5.0], &mut v, &mut r).is_empty());
        assert_eq!(v[0], -59.5);
    }

    #[test]
    fn array_path_and_parallel_chunks_agree_with_scalar_path() {
        let q = trace_e();
        let c = q.coefficients(0, 1.0);
        let n = PARALLEL_MIN_NEURONS + 1000;
        let mut het = q.clone();
        het.rest_v = Param::PerElement(vec![-60.0; n]);
        let arrays = het.membrane_kernel(n, 1.0).arrays;
        let input: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 3.0).collect();
        let v0: Vec<f32> = (0..n).map(|i| -60.0 + (i % 40) as f32).collect();
        let r0: Vec<f32> = (0..n)
            .map(|i| if i % 11 == 0 { 1.5 } else { 0.0 })
            .collect();
        let (mut v1, mut r1) = (v0.clone(), r0.clone());
        let (mut v2, mut r2) = (v0.clone(), r0.clone());
        let s1 = step(&c, true, &input, &mut v1, &mut r1);
        let s2 = step(
            &QuadraticSlices::new(&arrays),
            true,
            &input,
            &mut v2,
            &mut r2,
        );
        assert_eq!((&v1, &r1, &s1), (&v2, &r2, &s2));
        for i in [0, 1, 11, 39, n - 1] {
            let (mut v, mut r) = (v0[i], r0[i]);
            let spiked = quadratic_neuron(&c, 1.0, true, input[i], &mut v, &mut r);
            assert_eq!((v, r), (v1[i], r1[i]));
            assert_eq!(spiked, s1.binary_search(&(i as u32)).is_ok());
        }
        assert!(!s1.is_empty());
    }
}
