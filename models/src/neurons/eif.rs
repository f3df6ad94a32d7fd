//! Exponential integrate-and-fire neuron (`eif`), with Inferno's semantics.
//!
//! # Equations
//!
//! Continuous (Fourcaud-Trocmé et al. 2003):
//!
//! `τ_m dV/dt = −(V − V_rest) + Δ_T·exp((V − V_T)/Δ_T) + R·I(t)`,
//!
//! spike when `V ≥ V_θ`, then `V ← V_reset` and the neuron is refractory for `t_ref`.
//!
//! Discrete step (Inferno `voltage_thresholding_constant` with
//! `voltage_integration_exponential`, one explicit Euler step), for each neuron:
//!
//! 1. `r ← max(r − Δt, 0)`; the neuron is active if `r = 0`.
//! 2. `I' = active ? I : 0` (refractory neurons receive no input).
//! 3. `V' = V + (Δt/τ_m)·[−(V − V_rest) + Δ_T·exp((V − V_T)/Δ_T) + R·I']`. With `refrac_lock`
//!    (default) a refractory neuron keeps `V`; without it, it evolves with zero input.
//! 4. `spike = active ∧ V' ≥ V_θ`; spiking neurons get `V ← V_reset`, `r ← t_ref`.
//!
//! `Δt/τ_m` is computed once per population, as Inferno computes `step_time / time_constant`
//! before multiplying. The refractory bookkeeping is [`Lif`](crate::Lif)'s: the refractory
//! period includes the spike step, and remaining times below 10⁻⁴·Δt count as elapsed.
//! (Inferno's docstring for the integration kernel shows the quadratic model's formula; its
//! code is the formula above.)
//!
//! # The exponential, and the one deviation from Inferno's arithmetic
//!
//! `exp` is evaluated by [`exp_poly`], a branch-free polynomial that the compiler
//! vectorises, instead of the C library's `expf` call (a call keeps the neuron loop scalar:
//! measured ~4× slower per update than with `exp_poly`). It is within **1 ulp** of the
//! correctly rounded `exp` for every f32 argument in `[−87.3365, 88.376]` (checked
//! exhaustively, 99.2 % of the results exact, with and without FMA). Outside that range
//! `exp_poly` saturates (see its docs) instead of returning 0 or ∞. The tests hold the
//! INFERNO.md trace G voltages and adaptation to 10⁻⁵ and its spike steps exactly.
//!
//! Where the CPU has fused multiply-add (the workspace builds with `target-cpu=native`),
//! the polynomial and the update `V + rate·(…)` fuse each product with its sum ([`fused`]):
//! one rounding instead of two, and ~20 % fewer vector operations (AdEx: 5.5 → 4.4 ms per
//! 100 steps of 10⁵ neurons). Results stay bit-identical for every thread count; an FMA and
//! a non-FMA build can differ in the last bit.
//!
//! `(V − V_T)/Δ_T` is computed as `(V − V_T)·(1/Δ_T)` with `1/Δ_T` precomputed (the vector
//! division costs ~10 % of the whole update). It is the same number when `Δ_T` is a power
//! of two (the usual 2 mV, as in trace G); otherwise the argument of `exp` differs by at most
//! half an ulp, which changes the exponential term by at most `|V − V_T|/Δ_T · 6·10⁻⁸`
//! relative.
//!
//! # Parameters
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `rest_v` | mV | resting voltage `V_rest` | `rest_v < rheobase_v` |
//! | `rheobase_v` | mV | rheobase (soft threshold) `V_T` | `rheobase_v ≤ thresh_v` |
//! | `sharpness` | mV | slope factor `Δ_T` | `> 0` |
//! | `reset_v` | mV | reset voltage `V_reset` | `reset_v < thresh_v` |
//! | `thresh_v` | mV | spike cut-off `V_θ` | |
//! | `refrac_t` | ms | absolute refractory period `t_ref` | `≥ 0` |
//! | `tc_membrane` | ms | membrane time constant `τ_m` (Inferno: `time_constant`) | `> 0` |
//! | `resistance` | MΩ | membrane resistance `R` (default 1) | `≠ 0` |
//!
//! Every value must be finite; every parameter may be one value or one per neuron (a
//! homogeneous population runs a kernel specialised for shared coefficients, a heterogeneous
//! one reads per-neuron arrays; the choice is made once per population).
//!
//! References: Inferno `EIF` (`inferno/neural/neurons/nonlinear.py`) and
//! `voltage_integration_exponential` (`inferno/neural/functional/neuron_dynamics.py`);
//! Fourcaud-Trocmé, Hansel, van Vreeswijk & Brunel (2003), *J. Neurosci.* 23(37);
//! Gerstner et al., *Neuronal Dynamics* (2014) §5.2.

use bevy_ecs::prelude::*;
use ember_engine::model::check;
use ember_engine::parallel::{self, Split};
use ember_engine::prelude::*;
use ember_engine::{ModelSystems, ParamError, ParamReader, Population, RefracLock, SpawnContext};

use crate::neurons::lif::collect_spikes;
use crate::neurons::{PARALLEL_MIN_NEURONS, settle_refractory};

/// EIF parameters (see the module docs for equations, units and rules).
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Eif {
    /// Resting voltage `V_rest`, mV.
    pub rest_v: Param,
    /// Rheobase voltage `V_T`, mV.
    pub rheobase_v: Param,
    /// Sharpness (slope factor) `Δ_T`, mV.
    pub sharpness: Param,
    /// Reset voltage after a spike, mV.
    pub reset_v: Param,
    /// Spike threshold (cut-off), mV.
    pub thresh_v: Param,
    /// Absolute refractory period, ms.
    pub refrac_t: Param,
    /// Membrane time constant, ms.
    pub tc_membrane: Param,
    /// Membrane resistance, MΩ.
    pub resistance: Param,
}

impl Eif {
    /// Homogeneous parameters with `resistance = 1` MΩ.
    pub fn new(
        rest_v: f32,
        rheobase_v: f32,
        sharpness: f32,
        reset_v: f32,
        thresh_v: f32,
        refrac_t: f32,
        tc_membrane: f32,
    ) -> Self {
        Self {
            rest_v: rest_v.into(),
            rheobase_v: rheobase_v.into(),
            sharpness: sharpness.into(),
            reset_v: reset_v.into(),
            thresh_v: thresh_v.into(),
            refrac_t: refrac_t.into(),
            tc_membrane: tc_membrane.into(),
            resistance: 1.0.into(),
        }
    }

    /// The same parameters with membrane resistance `resistance` (MΩ).
    pub fn with_resistance(mut self, resistance: f32) -> Self {
        self.resistance = resistance.into();
        self
    }

    /// The per-Δt coefficients of neuron `i`.
    pub(crate) fn coefficients(&self, i: usize, dt: f32) -> EifCoefficients {
        EifCoefficients {
            rest_v: self.rest_v.at(i),
            rheobase_v: self.rheobase_v.at(i),
            sharpness: self.sharpness.at(i),
            inv_sharpness: 1.0 / self.sharpness.at(i),
            reset_v: self.reset_v.at(i),
            thresh_v: self.thresh_v.at(i),
            refrac_t: self.refrac_t.at(i),
            rate: dt / self.tc_membrane.at(i),
            resistance: self.resistance.at(i),
        }
    }

    fn params(&self) -> [(&'static str, &Param); 8] {
        [
            ("rest_v", &self.rest_v),
            ("rheobase_v", &self.rheobase_v),
            ("sharpness", &self.sharpness),
            ("reset_v", &self.reset_v),
            ("thresh_v", &self.thresh_v),
            ("refrac_t", &self.refrac_t),
            ("tc_membrane", &self.tc_membrane),
            ("resistance", &self.resistance),
        ]
    }

    /// The precomputed kernel state for `n` neurons at step `dt` (ms).
    pub(crate) fn kernel(&self, n: usize, dt: f32) -> EifKernel {
        let homogeneous = self.params().iter().all(|(_, p)| p.as_scalar().is_some());
        let (uniform, arrays) = if homogeneous {
            (Some(self.coefficients(0, dt)), EifArrays::default())
        } else {
            let cs: Vec<EifCoefficients> = (0..n).map(|i| self.coefficients(i, dt)).collect();
            let col = |f: fn(&EifCoefficients) -> f32| cs.iter().map(f).collect::<Vec<f32>>();
            let arrays = EifArrays {
                rest_v: col(|c| c.rest_v),
                rheobase_v: col(|c| c.rheobase_v),
                sharpness: col(|c| c.sharpness),
                inv_sharpness: col(|c| c.inv_sharpness),
                reset_v: col(|c| c.reset_v),
                thresh_v: col(|c| c.thresh_v),
                refrac_t: col(|c| c.refrac_t),
                rate: col(|c| c.rate),
                resistance: col(|c| c.resistance),
            };
            (None, arrays)
        };
        EifKernel {
            uniform,
            arrays,
            flags: vec![0; n],
        }
    }

    /// Inferno's rules for the exponential membrane (shared with [`Adex`](crate::Adex)).
    pub(crate) fn validate_membrane(&self, n: usize) -> Result<(), ParamError> {
        for (name, p) in self.params() {
            check::length(name, p, n)?;
            check::each(name, p, "a finite number", |_| true)?;
        }
        check::less_than("rest_v", &self.rest_v, "rheobase_v", &self.rheobase_v, n)?;
        check::at_most(
            "rheobase_v",
            &self.rheobase_v,
            "thresh_v",
            &self.thresh_v,
            n,
        )?;
        check::each("sharpness", &self.sharpness, "> 0 mV", |v| v > 0.0)?;
        check::less_than("reset_v", &self.reset_v, "thresh_v", &self.thresh_v, n)?;
        check::each("refrac_t", &self.refrac_t, "≥ 0 ms", |v| v >= 0.0)?;
        check::each("tc_membrane", &self.tc_membrane, "> 0 ms", |v| v > 0.0)?;
        check::each("resistance", &self.resistance, "non-zero", |v| v != 0.0)
    }
}

/// `a·b + c`, fused (one rounding) when the build targets a CPU with FMA — as the
/// workspace's `target-cpu=native` does on any x86-64 CPU since 2013 — and as a multiply
/// and an add otherwise. Results are bit-identical for every thread count; they can differ
/// in the last bit between an FMA and a non-FMA build.
#[inline(always)]
pub fn fused(a: f32, b: f32, c: f32) -> f32 {
    #[cfg(target_feature = "fma")]
    {
        a.mul_add(b, c)
    }
    #[cfg(not(target_feature = "fma"))]
    {
        a * b + c
    }
}

/// `exp(x)` for f32, branch-free so that loops calling it vectorise.
///
/// Cody–Waite range reduction `x = n·ln 2 + r`, `|r| ≤ ln 2 / 2` (`n` rounded to nearest
/// with the 1.5·2²³ trick, `ln 2` split in two parts so `n·ln2_hi` is exact), a degree-6
/// polynomial `1 + r + r²·q(r)` (q: degree-4 Chebyshev fit of `(eʳ − 1 − r)/r²`, fit error
/// < 7·10⁻⁸ in q, < 10⁻⁸ in the result) and scaling by `2ⁿ` built in the exponent bits.
/// Products and sums go through [`fused`]: one FMA each where the CPU has it (the
/// workspace's `target-cpu=native`), a multiply and an add otherwise; both variants meet
/// the accuracy below, and may differ from each other in the last bit.
///
/// Accuracy (checked exhaustively over all f32 inputs of the range, against `f64::exp`
/// rounded to f32, for both variants): for `x ∈ [−87.3365, 88.376]` (results
/// 1.18·10⁻³⁸ … 2.41·10³⁸) the result is within **1 ulp** of the correctly rounded value
/// (99.2 % exact). Outside that range `x` is clamped: below, the result is ≈ 1.18·10⁻³⁸
/// (`f32::MIN_POSITIVE`) instead of a subnormal or 0 (absolute error < 1.2·10⁻³⁸); above, ≈ 2.41·10³⁸ instead of up to
/// 3.4·10³⁸ or ∞. NaN gives NaN.
#[inline(always)]
pub fn exp_poly(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    // ln 2 ≈ LN2_HI + LN2_LO; LN2_HI = 355/512 exactly (9 significant bits), so n·LN2_HI
    // is exact for |n| ≤ 2¹⁵.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2²³ + 127: adding it rounds to an integer (ulp 1 in [2²³, 2²⁴)) and leaves
    // n + 127 in the low mantissa bits, so `bits << 23` is the f32 2ⁿ.
    const SHIFTER: f32 = 12_583_039.0;
    // n = round(x·log₂e) stays in [−126, 127]: 2ⁿ is a normal number.
    let x = x.clamp(-87.336_55, 88.376);
    let t = fused(x, LOG2_E, SHIFTER);
    let n = t - SHIFTER;
    let r = fused(-n, LN2_LO, fused(-n, LN2_HI, x));
    let q = 1.392_625_1e-3f32;
    let q = fused(q, r, 8.363_233e-3);
    let q = fused(q, r, 4.166_655_2e-2);
    let q = fused(q, r, 1.666_657_6e-1);
    let q = fused(q, r, 0.5);
    let y = fused(q, r * r, r) + 1.0;
    y * f32::from_bits(t.to_bits() << 23)
}

/// The coefficients of one neuron's step, Δt already folded in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EifCoefficients {
    /// `V_rest`, mV.
    pub rest_v: f32,
    /// `V_T`, mV.
    pub rheobase_v: f32,
    /// `Δ_T`, mV.
    pub sharpness: f32,
    /// `1/Δ_T`, mV⁻¹.
    pub inv_sharpness: f32,
    /// `V_reset`, mV.
    pub reset_v: f32,
    /// `V_θ`, mV.
    pub thresh_v: f32,
    /// `t_ref`, ms.
    pub refrac_t: f32,
    /// `Δt/τ_m`.
    pub rate: f32,
    /// `R`, MΩ.
    pub resistance: f32,
}

/// Per-neuron coefficients as arrays (heterogeneous populations).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EifArrays {
    rest_v: Vec<f32>,
    rheobase_v: Vec<f32>,
    sharpness: Vec<f32>,
    inv_sharpness: Vec<f32>,
    reset_v: Vec<f32>,
    thresh_v: Vec<f32>,
    refrac_t: Vec<f32>,
    rate: Vec<f32>,
    resistance: Vec<f32>,
}

/// Where a kernel gets neuron `i`'s coefficients: one shared set, or arrays. The kernel is
/// monomorphised for each, so the choice is made once per population, not per neuron.
pub trait EifSource: Sync + Sized {
    /// Coefficients of neuron `i`.
    fn at(&self, i: usize) -> EifCoefficients;
    /// The same source restricted to neurons `start..start + len`.
    fn window(&self, start: usize, len: usize) -> Self;
}

impl EifSource for EifCoefficients {
    #[inline(always)]
    fn at(&self, _i: usize) -> EifCoefficients {
        *self
    }
    #[inline(always)]
    fn window(&self, _start: usize, _len: usize) -> Self {
        *self
    }
}

/// Borrowed per-neuron coefficient arrays.
#[derive(Clone, Copy, Debug)]
pub struct EifSlices<'a> {
    rest_v: &'a [f32],
    rheobase_v: &'a [f32],
    sharpness: &'a [f32],
    inv_sharpness: &'a [f32],
    reset_v: &'a [f32],
    thresh_v: &'a [f32],
    refrac_t: &'a [f32],
    rate: &'a [f32],
    resistance: &'a [f32],
}

impl<'a> EifSlices<'a> {
    /// Borrows `arrays`.
    pub fn new(a: &'a EifArrays) -> Self {
        Self {
            rest_v: &a.rest_v,
            rheobase_v: &a.rheobase_v,
            sharpness: &a.sharpness,
            inv_sharpness: &a.inv_sharpness,
            reset_v: &a.reset_v,
            thresh_v: &a.thresh_v,
            refrac_t: &a.refrac_t,
            rate: &a.rate,
            resistance: &a.resistance,
        }
    }
}

impl EifSource for EifSlices<'_> {
    #[inline(always)]
    fn at(&self, i: usize) -> EifCoefficients {
        EifCoefficients {
            rest_v: self.rest_v[i],
            rheobase_v: self.rheobase_v[i],
            sharpness: self.sharpness[i],
            inv_sharpness: self.inv_sharpness[i],
            reset_v: self.reset_v[i],
            thresh_v: self.thresh_v[i],
            refrac_t: self.refrac_t[i],
            rate: self.rate[i],
            resistance: self.resistance[i],
        }
    }
    #[inline(always)]
    fn window(&self, s: usize, len: usize) -> Self {
        let r = s..s + len;
        EifSlices {
            rest_v: &self.rest_v[r.clone()],
            rheobase_v: &self.rheobase_v[r.clone()],
            sharpness: &self.sharpness[r.clone()],
            inv_sharpness: &self.inv_sharpness[r.clone()],
            reset_v: &self.reset_v[r.clone()],
            thresh_v: &self.thresh_v[r.clone()],
            refrac_t: &self.refrac_t[r.clone()],
            rate: &self.rate[r.clone()],
            resistance: &self.resistance[r],
        }
    }
}

/// The current adaptation seen by the exponential kernel: what is subtracted from each
/// neuron's input before the step, and (for a fused update) how it changes after it.
///
/// [`NoAdaptation`] is EIF's; AdEx supplies its own (see [`Adex`](crate::Adex)). The
/// kernel is monomorphised for each, so EIF pays nothing for the hook.
pub trait InputAdaptation: Send + Sized {
    /// The same adaptation restricted to the first `len` neurons (lets the compiler drop
    /// bounds checks in the loop).
    fn prefix(self, len: usize) -> Self;
    /// Splits into neurons `..mid` and `mid..` (for parallel halves).
    fn split_at(self, mid: usize) -> (Self, Self);
    /// `Σₖ wₖ` of neuron `i`, nA, subtracted from its input.
    fn current(&self, i: usize) -> f32;
    /// Called after neuron `i`'s step with its voltage after reset `v`, whether its
    /// adaptation takes its continuous (Euler) step — not when `refrac_lock` holds it
    /// because the neuron is refractory after the step — and whether it spiked.
    fn update(&mut self, i: usize, c: &EifCoefficients, v: f32, evolve: bool, spike: bool);
}

/// No current adaptation (EIF).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAdaptation;

impl InputAdaptation for NoAdaptation {
    #[inline(always)]
    fn prefix(self, _len: usize) -> Self {
        self
    }
    #[inline(always)]
    fn split_at(self, _mid: usize) -> (Self, Self) {
        (self, self)
    }
    #[inline(always)]
    fn current(&self, _i: usize) -> f32 {
        0.0
    }
    #[inline(always)]
    fn update(&mut self, _: usize, _: &EifCoefficients, _: f32, _: bool, _: bool) {}
}

/// The precomputed kernel state of an EIF population: coefficients for its Δt and a scratch
/// array of spike flags (one byte per neuron).
#[derive(Component, Clone, Debug)]
pub struct EifKernel {
    pub(crate) uniform: Option<EifCoefficients>,
    pub(crate) arrays: EifArrays,
    pub(crate) flags: Vec<u8>,
}

impl EifKernel {
    /// `V_rest` of neuron `i`, mV.
    #[inline]
    pub(crate) fn rest_v(&self, i: usize) -> f32 {
        match &self.uniform {
            Some(c) => c.rest_v,
            None => self.arrays.rest_v[i],
        }
    }
}

/// The state an exponential step updates: one batch copy (or a part of it).
pub struct EifState<'a> {
    /// Membrane voltage, mV.
    pub voltage: &'a mut [f32],
    /// Remaining refractory time, ms.
    pub refrac: &'a mut [f32],
}

/// One exponential integrate-and-fire step over a slice of neurons (one batch copy or a part
/// of it): the pure kernel of the module docs, with `adaptation.current(i)` subtracted from
/// the input (before the refractory mask, as Inferno's `apply_adaptive_currents`). Sets
/// `spiked[i]` to 1 if neuron `i` spiked, else 0, and returns whether any neuron spiked (so
/// that a step without spikes skips scanning the flags).
///
/// All slices must have the same length. The loop is branch-free (selects only, and
/// [`exp_poly`]) so the compiler vectorises it.
#[inline]
pub fn eif_step<S: EifSource, A: InputAdaptation>(
    c: &S,
    adaptation: A,
    dt: f32,
    refrac_lock: bool,
    input: &[f32],
    state: EifState<'_>,
    spiked: &mut [u8],
) -> bool {
    // Monomorphised on the lock, so the loop carries no select for it.
    if refrac_lock {
        eif_loop::<S, A, true>(c, adaptation, dt, input, state, spiked)
    } else {
        eif_loop::<S, A, false>(c, adaptation, dt, input, state, spiked)
    }
}

#[inline(always)]
fn eif_loop<S: EifSource, A: InputAdaptation, const LOCK: bool>(
    c: &S,
    adaptation: A,
    dt: f32,
    input: &[f32],
    state: EifState<'_>,
    spiked: &mut [u8],
) -> bool {
    let EifState { voltage, refrac } = state;
    let n = voltage.len();
    let c = c.window(0, n);
    let mut a = adaptation.prefix(n);
    let (input, refrac, spiked) = (&input[..n], &mut refrac[..n], &mut spiked[..n]);
    let mut any = false;
    for i in 0..n {
        let spike = eif_neuron::<A, LOCK>(
            &c.at(i),
            &mut a,
            i,
            dt,
            input[i],
            &mut voltage[i],
            &mut refrac[i],
        );
        spiked[i] = u8::from(spike);
        any |= spike;
    }
    any
}

/// One neuron's step, branch-free (selects only); returns whether it spiked.
#[inline(always)]
fn eif_neuron<A: InputAdaptation, const LOCK: bool>(
    k: &EifCoefficients,
    a: &mut A,
    i: usize,
    dt: f32,
    x: f32,
    v: &mut f32,
    r: &mut f32,
) -> bool {
    let rem = settle_refractory(*r - dt, dt);
    let active = rem == 0.0;
    // Inferno: `resistance * ((inputs − Σw) * mask)`.
    let drive = if active {
        k.resistance * (x - a.current(i))
    } else {
        0.0
    };
    let v_old = *v;
    // Inferno's `voltage_integration_exponential`: (−(V − V_rest) + Δ_T·e^{(V − V_T)/Δ_T})
    // + drive, then V + rate·(…), except that the division by Δ_T is a multiplication by
    // 1/Δ_T and each product is fused with its sum where the CPU has FMA (see the module
    // docs and [`fused`]).
    let exp = exp_poly((v_old - k.rheobase_v) * k.inv_sharpness);
    let integrated = fused(
        k.rate,
        fused(k.sharpness, exp, -(v_old - k.rest_v)) + drive,
        v_old,
    );
    let v_new = if active | !LOCK { integrated } else { v_old };
    let spike = active & (v_new >= k.thresh_v);
    let v_after = if spike { k.reset_v } else { v_new };
    let r_after = if spike { k.refrac_t } else { rem };
    *v = v_after;
    *r = r_after;
    // Inferno holds the adaptation where `refrac > 0`; refractory times are never NaN
    // (validated), so `r ≤ 0` is its exact complement, which lets the update be one masked
    // add.
    a.update(i, k, v_after, !LOCK | (r_after <= 0.0), spike);
    spike
}

/// Runs [`eif_step`] over one batch copy and collects its spikes, split over the step's
/// thread team ([`parallel::for_each_part_collecting`]) when the copy has at least
/// [`PARALLEL_MIN_NEURONS`] neurons. Neurons are independent and the parts' spikes are
/// joined in index order, so the result is identical for any thread count.
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel adapter over the state slices"
)]
pub(crate) fn eif_copy<S: EifSource, A: InputAdaptation>(
    c: &S,
    adaptation: A,
    dt: f32,
    lock: bool,
    input: &[f32],
    state: EifState<'_>,
    flags: &mut [u8],
    spikes: &mut Vec<u32>,
) {
    let flags = &mut flags[..state.voltage.len()];
    if state.voltage.len() < PARALLEL_MIN_NEURONS {
        if eif_step(c, adaptation, dt, lock, input, state, flags) {
            collect_spikes(flags, 0, spikes);
        }
    } else {
        eif_split(c, adaptation, dt, lock, input, state, flags, spikes);
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "a kernel adapter over the state slices"
)]
fn eif_split<S: EifSource, A: InputAdaptation>(
    c: &S,
    adaptation: A,
    dt: f32,
    lock: bool,
    input: &[f32],
    state: EifState<'_>,
    flags: &mut [u8],
    spikes: &mut Vec<u32>,
) {
    let n = state.voltage.len();
    let parts = (
        state.voltage,
        state.refrac,
        flags,
        &input[..n],
        Adapt(adaptation, n),
    );
    // Each part collects its own spikes (its flags stay in its core's cache).
    parallel::for_each_part_collecting(
        parts,
        0,
        spikes,
        |s, (voltage, refrac, flags, input, a), spikes| {
            let len = voltage.len();
            let state = EifState { voltage, refrac };
            if eif_step(&c.window(s, len), a.0, dt, lock, input, state, flags) {
                collect_spikes(flags, s as u32, spikes);
            }
        },
    );
}

/// An adaptation with its neuron count, so it splits with the state arrays.
struct Adapt<A>(A, usize);

impl<A: InputAdaptation> Split for Adapt<A> {
    fn len(&self) -> usize {
        self.1
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        let (a, b) = self.0.split_at(mid);
        (Adapt(a, mid), Adapt(b, self.1 - mid))
    }
}

/// Runs one batch copy with the kernel's coefficient source (shared or per neuron).
pub(crate) fn run_copy<A: InputAdaptation>(
    kernel: &mut EifKernel,
    adaptation: A,
    dt: f32,
    lock: bool,
    input: &[f32],
    state: EifState<'_>,
    spikes: &mut Vec<u32>,
) {
    let flags = &mut kernel.flags;
    match &kernel.uniform {
        Some(c) => eif_copy(c, adaptation, dt, lock, input, state, flags, spikes),
        None => {
            let c = EifSlices::new(&kernel.arrays);
            eif_copy(&c, adaptation, dt, lock, input, state, flags, spikes);
        }
    }
}

/// The EIF system ([`Phase::Integrate`]): fused integrate, threshold and reset.
pub fn eif_system(
    clock: Res<Clock>,
    mut q: Query<(
        &Population,
        &mut EifKernel,
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
        for b in 0..pop.batch as usize {
            let range = b * n..(b + 1) * n;
            let state = EifState {
                voltage: &mut v.0[range.clone()],
                refrac: &mut r.0[range.clone()],
            };
            let input = &input.0[range];
            let out = spikes.batch_mut(b);
            run_copy(&mut kernel, NoAdaptation, dt, lock.0, input, state, out);
        }
    }
}

impl NeuronModel for Eif {
    const NAME: &'static str = "eif";
    const PARAMS: &'static [&'static str] = &[
        "rest_v",
        "rheobase_v",
        "sharpness",
        "reset_v",
        "thresh_v",
        "refrac_t",
        "tc_membrane",
        "resistance",
    ];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rest_v: p.required("rest_v")?,
            rheobase_v: p.required("rheobase_v")?,
            sharpness: p.required("sharpness")?,
            reset_v: p.required("reset_v")?,
            thresh_v: p.required("thresh_v")?,
            refrac_t: p.required("refrac_t")?,
            tc_membrane: p.required("tc_membrane")?,
            resistance: p.optional("resistance", 1.0)?,
        })
    }

    fn validate(&self, n: usize) -> Result<(), ParamError> {
        self.validate_membrane(n)
    }

    fn initial_voltage(&self, i: usize) -> f32 {
        self.rest_v.at(i)
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_neuron_pass(Phase::Integrate, eif_system);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let kernel = self.kernel(ctx.size as usize, ctx.step_time);
        entity.insert((self, kernel));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite f32 of the same sign.
    fn ulps(a: f32, b: f32) -> u32 {
        a.to_bits().abs_diff(b.to_bits())
    }

    #[test]
    fn exp_poly_is_within_one_ulp_on_a_sweep() {
        // Every 61st f32 of the accurate range (the exhaustive check is documented).
        let mut worst = 0;
        for (lo, hi) in [(0.0f32, 88.376f32), (-0.0, -87.3365)] {
            let mut bits = lo.to_bits();
            loop {
                let x = f32::from_bits(bits);
                if x.abs() > hi.abs() {
                    break;
                }
                let exact = f64::from(x).exp() as f32;
                worst = worst.max(ulps(exp_poly(x), exact));
                bits += 61;
            }
        }
        assert!(worst <= 1, "worst error {worst} ulp");
    }

    #[test]
    fn exp_poly_saturates_and_propagates_nan() {
        assert_eq!(exp_poly(0.0), 1.0);
        assert!((exp_poly(-1000.0) - f32::MIN_POSITIVE).abs() < 1e-40);
        assert_eq!(exp_poly(f32::NEG_INFINITY), exp_poly(-1000.0));
        let top = exp_poly(1000.0);
        assert!(top.is_finite() && top > 2.4e38);
        assert_eq!(exp_poly(f32::INFINITY), top);
        assert!(exp_poly(f32::NAN).is_nan());
    }

    fn trace_g() -> EifCoefficients {
        // INFERNO.md trace G membrane: Δt = 0.1 ms.
        Eif::new(-70.6, -50.4, 2.0, -70.6, -40.4, 0.0, 281.0 / 30.0)
            .with_resistance(1.0 / 0.03)
            .coefficients(0, 0.1)
    }

    fn step<S: EifSource>(
        c: &S,
        lock: bool,
        dt: f32,
        input: &[f32],
        v: &mut [f32],
        r: &mut [f32],
    ) -> Vec<u32> {
        let mut flags = vec![0u8; v.len()];
        let state = EifState {
            voltage: v,
            refrac: r,
        };
        eif_step(c, NoAdaptation, dt, lock, input, state, &mut flags);
        let mut spikes = Vec::new();
        collect_spikes(&flags, 0, &mut spikes);
        spikes
    }

    #[test]
    fn first_step_is_inferno_euler() {
        let c = trace_g();
        let (mut v, mut r) = ([-70.6f32], [0.0f32]);
        step(&c, true, 0.1, &[1.0], &mut v, &mut r);
        // The same formula with the C library's expf.
        let (v0, rate, r) = (-70.6f32, 0.1f32 / (281.0f32 / 30.0), 1.0f32 / 0.03);
        let expected = v0 + rate * (-(v0 - -70.6) + 2.0 * ((v0 - -50.4) / 2.0).exp() + r * 1.0);
        assert!((v[0] - expected).abs() <= 1e-6 * expected.abs());
    }

    #[test]
    fn refractory_neurons_hold_or_leak_without_input() {
        let c = EifCoefficients {
            refrac_t: 2.0,
            ..trace_g()
        };
        let (mut v, mut r) = ([-40.0f32], [0.0f32]);
        // Above the cut-off after the step: spikes, resets, refractory.
        assert_eq!(step(&c, true, 1.0, &[0.0], &mut v, &mut r), [0]);
        assert_eq!((v[0], r[0]), (-70.6, 2.0));
        // Locked: held at reset while refractory, whatever the input.
        assert!(step(&c, true, 1.0, &[1000.0], &mut v, &mut r).is_empty());
        assert_eq!((v[0], r[0]), (-70.6, 1.0));
        // Unlocked: evolves with zero input.
        let (mut v, mut r) = ([-60.0f32], [2.0f32]);
        step(&c, false, 1.0, &[1000.0], &mut v, &mut r);
        let v0 = -60.0f32;
        let expected = v0 + c.rate * (-(v0 - -70.6) + 2.0 * exp_poly((v0 - -50.4) / 2.0) + 0.0);
        assert_eq!(v[0], expected);
        assert_eq!(r[0], 1.0);
    }

    #[test]
    fn array_path_and_parallel_split_agree_with_shared_coefficients() {
        let c = EifCoefficients {
            refrac_t: 0.3,
            ..trace_g()
        };
        let n = PARALLEL_MIN_NEURONS + 1234;
        let arrays = EifArrays {
            rest_v: vec![c.rest_v; n],
            rheobase_v: vec![c.rheobase_v; n],
            sharpness: vec![c.sharpness; n],
            inv_sharpness: vec![c.inv_sharpness; n],
            reset_v: vec![c.reset_v; n],
            thresh_v: vec![c.thresh_v; n],
            refrac_t: vec![c.refrac_t; n],
            rate: vec![c.rate; n],
            resistance: vec![c.resistance; n],
        };
        let input: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.4).collect();
        let v0: Vec<f32> = (0..n).map(|i| -71.0 + (i % 311) as f32 * 0.1).collect();
        let r0: Vec<f32> = (0..n).map(|i| if i % 5 == 0 { 0.2 } else { 0.0 }).collect();
        let (mut v1, mut r1) = (v0.clone(), r0.clone());
        let s1 = step(&c, true, 0.1, &input, &mut v1, &mut r1);
        let (mut v2, mut r2) = (v0.clone(), r0.clone());
        let mut flags = vec![0; n];
        let mut s2 = Vec::new();
        let state = EifState {
            voltage: &mut v2,
            refrac: &mut r2,
        };
        let slices = EifSlices::new(&arrays);
        eif_copy(
            &slices,
            NoAdaptation,
            0.1,
            true,
            &input,
            state,
            &mut flags,
            &mut s2,
        );
        assert_eq!((&v1, &r1, &s1), (&v2, &r2, &s2));
        assert!(!s1.is_empty());
    }

    #[test]
    fn validation_names_the_parameter() {
        let ok = Eif::new(-70.0, -50.0, 2.0, -70.0, -40.0, 1.0, 10.0);
        assert!(ok.validate(1).is_ok());
        // rheobase_v = thresh_v is allowed (≤).
        let mut eq = ok.clone();
        eq.rheobase_v = (-40.0).into();
        assert!(eq.validate(1).is_ok());
        let mut bad = ok.clone();
        bad.rheobase_v = Param::PerElement(vec![-50.0, -30.0]);
        let e = bad.validate(2).unwrap_err();
        assert_eq!(e.param, "rheobase_v");
        assert!(e.message.contains("neuron 1"), "{e}");
    }
}
