//! Izhikevich neurons: Inferno's quadratic model with K-term current adaptation
//! (`izhikevich`), and the classic Izhikevich (2003) model given by (a, b, c, d)
//! (`izhikevich_abcd`), mapped exactly onto it.
//!
//! # Equations (`izhikevich`)
//!
//! Continuous: `τ_m dV/dt = a (V − V_rest)(V − V_crit) + R·(I(t) − Σₖ wₖ)` and
//! `τₖ dwₖ/dt = bₖ (V − V_rest) − wₖ`; spike when `V ≥ V_θ`, then `V ← V_reset`,
//! `wₖ ← wₖ + dₖ` and the neuron is refractory for `t_ref`.
//!
//! Discrete step (Inferno `Izhikevich.forward`: `apply_adaptive_currents`,
//! `voltage_thresholding_constant` with `voltage_integration_quadratic`, then
//! `adaptive_currents_linear`), for each neuron and batch copy:
//!
//! 1. `x = I − Σₖ wₖ` with the adaptation *before* the step.
//! 2. The [`qif`](crate::neurons::qif) step on `x`: `r ← max(r − Δt, 0)`, `x' = active ? x :
//!    0`, `V' = V + (Δt/τ_m)·[a (V − V_rest)(V − V_crit) + R·x']` (held while refractory
//!    with `refrac_lock`), `spike = active ∧ V' ≥ V_θ`, spiking neurons get `V ← V_reset`,
//!    `r ← t_ref`.
//! 3. In train mode only: `wₖ ← wₖ + (Δt/τₖ)·(bₖ (V − V_rest) − wₖ)` with the voltage
//!    *after* the step (after reset for a spiking neuron), skipped where the neuron is
//!    refractory after the step when `refrac_lock` (so on the spike step itself when
//!    `t_ref > 0`); then `wₖ ← wₖ + dₖ·spike` (always).
//! 4. w is shared by the batch copies: every copy computes its updated w from its own V and
//!    spikes, and the population's batch reduction (mean by default) combines them.
//!
//! Worked examples (INFERNO.md §1.4, Δt = 1): V₀ = −30 spikes, `V_reset = −70`,
//! `V_rest = −65`, b = 1, τ = 10, d = 5, w₀ = 0: `refrac_t = 0` gives
//! `w = 0 + 0.1·(1·(−70 + 65) − 0) + 5 = 4.5`; `refrac_t = 1` gives `w = 5.0`.
//!
//! # Parameters (`izhikevich`)
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `rest_v` | mV | resting voltage `V_rest` | `rest_v < crit_v` |
//! | `crit_v` | mV | critical voltage `V_crit` | `crit_v ≤ thresh_v` |
//! | `affinity` | 1 | curvature `a` | `> 0` |
//! | `reset_v` | mV | reset voltage `V_reset` | `reset_v < thresh_v` |
//! | `thresh_v` | mV | threshold `V_θ` | |
//! | `refrac_t` | ms | absolute refractory period `t_ref` | `≥ 0` |
//! | `tc_membrane` | ms | membrane time constant `τ_m` | `> 0` |
//! | `tc_adaptation` \[K\] | ms | adaptation time constants `τₖ` | `> 0` |
//! | `voltage_coupling` \[K\] | µS | couplings `bₖ` | finite, same K |
//! | `spike_increment` \[K\] | nA | increments `dₖ` | finite, same K |
//! | `resistance` | MΩ | membrane resistance `R` (default 1) | `≠ 0` |
//!
//! The membrane parameters may be one value or one per neuron; the `[K]` parameters are one
//! value per adaptation term, shared by all neurons. `init.adaptation` gives w₀ (nA).
//!
//! **Per-term versus per-neuron.** In scenario files a `[K]` parameter of `izhikevich` is
//! always per term: a number (K = 1) or a list of K numbers, whatever its length — a list as
//! long as the population is K = size terms, not one value per neuron (mismatched lists are
//! an error that says so; distribution forms are rejected). Per-neuron adaptation parameters
//! exist only for a single term: in scenario files through `izhikevich_abcd`'s `a`, `b`, `d`
//! (below), in Rust through [`Izhikevich::neuron_adaptation`]
//! ([`Izhikevich::with_neuron_adaptation`]), whose `tc_adaptation`, `voltage_coupling` and
//! `spike_increment` are each one value or one per neuron (the `[K]` lists are then empty;
//! K > 1 with per-neuron values cannot be expressed). The equations are unchanged, with
//! τ, b, d of neuron i in its update.
//!
//! # The classic model (`izhikevich_abcd`)
//!
//! Izhikevich (2003): `v' = 0.04v² + 5v + 140 − u + I`, `u' = a(bv − u)`, spike when
//! `v ≥ 30` (here `thresh_v`, default 30), then `v ← c`, `u ← u + d`. It maps *exactly*
//! onto `izhikevich` (K = 1, no input offset) with `w = u − b·V_rest`:
//!
//! * `w' = u' = a(bv − u) = a(b(v − V_rest) − w)`, so `τ₁ = 1/a`, `b₁ = b`, `d₁ = d`;
//! * `0.04(v − V_rest)(v − V_crit) − w = 0.04v² + 5v + 140 − u` for all v, u requires
//!   `V_rest + V_crit = −125` and `0.04·V_rest·V_crit + b·V_rest = 140`, i.e. `V_rest` is a
//!   root of `p² + (125 − 25b)p + 3500 = 0` and `V_crit = −125 − V_rest`. The smaller root
//!   is taken (it is the one with `V_rest < V_crit`, which exists for `b < 0.26`; larger b
//!   is rejected, naming `b` and, for per-neuron values, the neuron: `got b[17] = 0.3`).
//!   For b = 0.2: `V_rest = −70`, `V_crit = −55`.
//! * `affinity = 0.04`, `tc_membrane = 1` ms, `resistance = 1`, `reset_v = c`,
//!   `refrac_t = 0`.
//!
//! Every parameter may be one value or one per neuron, in any value form of a scenario file
//! (a number, a list of one value per neuron, `{ uniform = [lo, hi] }`, …), so the 2003
//! network's `a = 0.02 + 0.08r`, `b = 0.25 − 0.05r`, `c = −65 + 15r²`, `d = 8 − 6r²` are
//! written directly. The mapping above is then made per neuron: neuron i has `τᵢ = 1/aᵢ`,
//! `bᵢ`, `dᵢ`, `reset_v = cᵢ`, and its own `V_rest`, `V_crit` from `bᵢ` (so a per-neuron b
//! also makes `rest_v` and `crit_v` per neuron). With `a`, `b`, `d` single values the
//! adaptation is one shared term, exactly as in `izhikevich`; otherwise it is the
//! per-neuron single term ([`Izhikevich::neuron_adaptation`]). Either way the kernel is
//! chosen once per population (shared or per-neuron coefficients, monomorphised), never
//! per neuron, and a per-neuron population whose values are all equal gives bit-identical
//! results to the shared one.
//!
//! `init.voltage` defaults to −65 mV, and `init.adaptation` is Izhikevich's u (one value,
//! default `u₀ = b·v₀` per neuron), converted per neuron to `w₀ = u₀ − bᵢ·V_rest,ᵢ`. Traces
//! show w, not u (`u = w + bᵢ·V_rest,ᵢ`; [`IzhikevichAbcd::u_from_adaptation`]).
//! [`Simulation::clear`](ember_engine::Simulation::clear) resets V to −65 mV (the
//! population's initial default), and `keep_adaptations = false` sets w = 0, i.e.
//! `u = bᵢ·V_rest,ᵢ`.
//!
//! | name | unit | meaning | rule (per neuron) |
//! |---|---|---|---|
//! | `a` | ms⁻¹ | recovery rate | `> 0` |
//! | `b` | µS | recovery coupling | `< 0.26` (see above) |
//! | `c` | mV | reset voltage | `c < thresh_v` |
//! | `d` | nA | recovery increment per spike | finite |
//! | `thresh_v` | mV | spike cut-off (default 30) | `≥ V_crit` |
//!
//! Each may be one value or one per neuron; errors about a per-neuron value name the
//! neuron (`b[17] = 0.3`, `c` … `(neuron 3)`).
//!
//! Presets of Izhikevich (2003), Fig. 2 ([`IzhikevichPreset`]): RS (0.02, 0.2, −65, 8),
//! IB (0.02, 0.2, −55, 4), CH (0.02, 0.2, −50, 2), FS (0.1, 0.2, −65, 2),
//! LTS (0.02, 0.25, −65, 2).
//!
//! **Order of operations versus Izhikevich's published code.** The mapped model follows
//! Inferno's order, so it equals — step for step, up to f32 round-off — a direct Euler loop
//! `v ← v + Δt(0.04v² + 5v + 140 − u + I)`; if `v ≥ 30` then `v ← c`;
//! `u ← u + Δt·a(bv − u)` with that post-reset v; then `u ← u + d` on a spike. Izhikevich's
//! MATLAB code instead resets at the *start of the next* step (the voltage shows its value
//! ≥ 30 for one step) and updates u on the spike step with the unreset peak voltage, and it
//! takes two Δt/2 steps for v per 1 ms step of u. Spike trains are qualitatively the same,
//! not identical.
//!
//! Verified (`tests/nonlinear_izhikevich.rs`, 1000 steps at 10 nA, Δt = 1 and 0.5 ms, all
//! five presets): every step of the model, from its own state, equals a step of the direct
//! f64 loop to ≤ 3·10⁻⁶ relative. Run freely side by side, the spike steps are identical and
//! V and u agree to 10⁻⁴ (LTS at Δt = 1 ms: 1.6·10⁻³ of the 100 mV amplitude, f32 round-off
//! amplified by the upswings) — except FS at Δt = 0.5 ms, whose Euler map is chaotic: the
//! trains part after 23 spikes (a direct f32 loop of the 2003 equations parts from the f64
//! one even sooner, and in f64 alone a 10⁻⁹ change of u₀ parts them within 1000 steps).
//! The same holds neuron by neuron for a population with per-neuron a, b, c, d (five
//! neurons of the 2003 network, every step ≤ 4·10⁻⁶ relative; free-running, the FS-like
//! inhibitory ones at Δt = 0.5 ms part after more than 600 steps), and a per-neuron
//! population whose values are all equal is bit-identical to the shared-value one.
//!
//! References: Inferno `Izhikevich` (`inferno/neural/neurons/nonlinear.py`) and
//! `adaptive_currents_linear` (`inferno/neural/functional/neuron_adaptation.py`);
//! E. M. Izhikevich, "Simple model of spiking neurons", *IEEE Trans. Neural Netw.* 14(6),
//! 1569–1572 (2003); INFERNO.md §1.4 and trace F.

use bevy_ecs::prelude::*;
use ember_engine::model::check;
use ember_engine::prelude::*;
use ember_engine::{
    BatchReducer, BuildErrorKind, ModelSystems, ParamError, ParamReader, Population,
    PopulationMode, RefracLock, SpawnContext,
};

use crate::Qif;
use crate::neurons::qif::{
    CurrentAdaptation, CurrentTerm, QuadraticMembrane, QuadraticSlices, QuadraticSource,
    QuadraticState, TermSource, current_update, quadratic_copy,
};

/// Izhikevich parameters (see the module docs).
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Izhikevich {
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
    /// Adaptation time constants τₖ, ms (K terms, shared by all neurons; empty when
    /// [`neuron_adaptation`](Self::neuron_adaptation) is set).
    pub tc_adaptation: Vec<f32>,
    /// Voltage couplings bₖ, µS (K terms, shared; empty with `neuron_adaptation`).
    pub voltage_coupling: Vec<f32>,
    /// Spike increments dₖ, nA (K terms, shared; empty with `neuron_adaptation`).
    pub spike_increment: Vec<f32>,
    /// Membrane resistance, MΩ.
    pub resistance: Param,
    /// A single adaptation term (K = 1) whose parameters may be one value per neuron,
    /// instead of the three `[K]` lists (which must then be empty). Rust only: in scenario
    /// files the `[K]` parameters are always per term (see the module docs).
    pub neuron_adaptation: Option<NeuronAdaptation>,
}

/// The single adaptation term (K = 1) of an [`Izhikevich`] population, each parameter one
/// value or one per neuron ([`Izhikevich::neuron_adaptation`]).
#[derive(Clone, Debug, PartialEq)]
pub struct NeuronAdaptation {
    /// Adaptation time constant τ, ms.
    pub tc_adaptation: Param,
    /// Voltage coupling b, µS.
    pub voltage_coupling: Param,
    /// Spike increment d, nA.
    pub spike_increment: Param,
}

impl NeuronAdaptation {
    fn all(&self) -> [(&'static str, &Param); 3] {
        [
            ("tc_adaptation", &self.tc_adaptation),
            ("voltage_coupling", &self.voltage_coupling),
            ("spike_increment", &self.spike_increment),
        ]
    }

    /// The term of neuron `i` at step `dt`.
    fn term(&self, i: usize, dt: f32) -> CurrentTerm {
        CurrentTerm {
            // As for the per-term lists: `step_time / time_constant` in f32.
            rate: dt / self.tc_adaptation.at(i),
            coupling: self.voltage_coupling.at(i),
            increment: self.spike_increment.at(i),
        }
    }
}

/// Appended to errors about the `[K]` parameters of `izhikevich`.
const PER_TERM_RULE: &str = "(`[K]` parameters take one value per adaptation term, shared by \
     all neurons; per-neuron adaptation parameters are `izhikevich_abcd`'s `a`, `b`, `d`)";

impl Izhikevich {
    /// Homogeneous parameters with one adaptation term and `resistance = 1` MΩ.
    #[expect(
        clippy::too_many_arguments,
        reason = "the model's parameters, in order"
    )]
    pub fn new(
        rest_v: f32,
        crit_v: f32,
        affinity: f32,
        reset_v: f32,
        thresh_v: f32,
        refrac_t: f32,
        tc_membrane: f32,
        tc_adaptation: f32,
        voltage_coupling: f32,
        spike_increment: f32,
    ) -> Self {
        Self {
            rest_v: rest_v.into(),
            crit_v: crit_v.into(),
            affinity: affinity.into(),
            reset_v: reset_v.into(),
            thresh_v: thresh_v.into(),
            refrac_t: refrac_t.into(),
            tc_membrane: tc_membrane.into(),
            tc_adaptation: vec![tc_adaptation],
            voltage_coupling: vec![voltage_coupling],
            spike_increment: vec![spike_increment],
            resistance: 1.0.into(),
            neuron_adaptation: None,
        }
    }

    /// These parameters with a single adaptation term (K = 1) given by `tc_adaptation` (ms),
    /// `voltage_coupling` (µS) and `spike_increment` (nA), each one value or one per neuron
    /// (sets [`neuron_adaptation`](Self::neuron_adaptation), empties the `[K]` lists).
    pub fn with_neuron_adaptation(
        mut self,
        tc_adaptation: impl Into<Param>,
        voltage_coupling: impl Into<Param>,
        spike_increment: impl Into<Param>,
    ) -> Self {
        self.tc_adaptation.clear();
        self.voltage_coupling.clear();
        self.spike_increment.clear();
        self.neuron_adaptation = Some(NeuronAdaptation {
            tc_adaptation: tc_adaptation.into(),
            voltage_coupling: voltage_coupling.into(),
            spike_increment: spike_increment.into(),
        });
        self
    }

    /// The number of adaptation terms K.
    pub fn terms(&self) -> usize {
        match &self.neuron_adaptation {
            Some(_) => 1,
            None => self.tc_adaptation.len(),
        }
    }

    /// The classic Izhikevich (2003) neuron `v' = 0.04v² + 5v + 140 − u + I`,
    /// `u' = a(bv − u)`, cut off at `thresh_v`, mapped exactly onto these parameters (see
    /// the module docs): `rest_v`/`crit_v` from [`classic_rest_crit`], `affinity = 0.04`,
    /// `tc_membrane = 1`, `tc_adaptation = 1/a`, `voltage_coupling = b`,
    /// `spike_increment = d`, `reset_v = c`, `refrac_t = 0`.
    ///
    /// Start it at the classic initial state with
    /// [`PopulationOptions`] `voltage = v₀` (−65) and
    /// `adaptation = [w₀]` with `w₀ = b·(v₀ − rest_v)` ([`IzhikevichAbcd::adaptation_from_u`]
    /// with `u₀ = b·v₀`), or use [`IzhikevichAbcd`], which does so by default (and takes
    /// per-neuron values). Errors name `a`, `b`, `c`, `d` or `thresh_v`.
    pub fn from_abcd(a: f32, b: f32, c: f32, d: f32, thresh_v: f32) -> Result<Self, ParamError> {
        let abcd = IzhikevichAbcd {
            thresh_v: thresh_v.into(),
            ..IzhikevichAbcd::new(a, b, c, d)
        };
        abcd.validate(1)?;
        abcd.to_izhikevich()
    }

    /// A preset of Izhikevich (2003), cut off at 30 mV.
    pub fn preset(p: IzhikevichPreset) -> Self {
        let (a, b, c, d) = p.abcd();
        Self::from_abcd(a, b, c, d, 30.0).expect("the presets are valid")
    }

    fn membrane(&self) -> Qif {
        Qif {
            rest_v: self.rest_v.clone(),
            crit_v: self.crit_v.clone(),
            affinity: self.affinity.clone(),
            reset_v: self.reset_v.clone(),
            thresh_v: self.thresh_v.clone(),
            refrac_t: self.refrac_t.clone(),
            tc_membrane: self.tc_membrane.clone(),
            resistance: self.resistance.clone(),
        }
    }

    /// The adaptation terms' coefficients at step `dt`: shared unless some parameter of
    /// [`neuron_adaptation`](Self::neuron_adaptation) is per neuron.
    fn adaptation_terms(&self, n: usize, dt: f32) -> Terms {
        match &self.neuron_adaptation {
            None => Terms::Shared(
                (0..self.tc_adaptation.len())
                    .map(|k| CurrentTerm {
                        // Inferno: `step_time / time_constant` with τₖ an f32 buffer.
                        rate: dt / self.tc_adaptation[k],
                        coupling: self.voltage_coupling[k],
                        increment: self.spike_increment[k],
                    })
                    .collect(),
            ),
            Some(t) if t.all().iter().all(|(_, p)| p.as_scalar().is_some()) => {
                Terms::Shared(vec![t.term(0, dt)])
            }
            Some(t) => {
                let ts: Vec<CurrentTerm> = (0..n).map(|i| t.term(i, dt)).collect();
                Terms::PerNeuron(TermArrays {
                    rate: ts.iter().map(|t| t.rate).collect(),
                    coupling: ts.iter().map(|t| t.coupling).collect(),
                    increment: ts.iter().map(|t| t.increment).collect(),
                })
            }
        }
    }

    /// The precomputed kernel for a population (Δt and batch from `ctx`).
    fn kernel(&self, ctx: &SpawnContext<'_>) -> IzhikevichKernel {
        let n = ctx.size as usize;
        let dt = ctx.step_time;
        let k = self.terms();
        IzhikevichKernel {
            membrane: self.membrane().membrane_kernel(n, dt),
            terms: self.adaptation_terms(n, dt),
            sum: if k > 1 { vec![0.0; n] } else { Vec::new() },
            per_batch: vec![0.0; n * k * ctx.batch as usize],
            scratch: Vec::new(),
        }
    }

    /// Inserts the parameter-independent state of a population of this model: the kernel
    /// and the adaptation, initialised from `init` (one value per term for every neuron).
    fn insert_state(&self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let n = ctx.size as usize;
        entity.insert((
            self.kernel(ctx),
            Adaptation::new(n, self.terms(), ctx.init_adaptation),
        ));
    }
}

/// `p` with `f` applied to every value (a scalar stays a scalar).
fn map_param(p: &Param, f: impl Fn(f32) -> f32) -> Param {
    match p {
        Param::Scalar(v) => Param::Scalar(f(*v)),
        Param::PerElement(vs) => Param::PerElement(vs.iter().map(|&v| f(v)).collect()),
    }
}

/// Value `v` of parameter `p` at index `i` as an error shows it: `v` for a single value,
/// `name[i] = v` for a per-neuron one.
fn shown(name: &str, p: &Param, i: usize, v: f32) -> String {
    match p {
        Param::Scalar(_) => format!("{v}"),
        Param::PerElement(_) => format!("{name}[{i}] = {v}"),
    }
}

/// Every value of `p` is finite and satisfies `ok`; otherwise `param` gets "must be {what},
/// got {v}", naming the neuron if `p` is per neuron ("got b\[17\] = 0.3").
fn each_neuron(
    param: &'static str,
    p: &Param,
    what: &str,
    ok: impl Fn(f32) -> bool,
) -> Result<(), ParamError> {
    for (i, &v) in p.values().iter().enumerate() {
        if !v.is_finite() || !ok(v) {
            let got = shown(param, p, i, v);
            return Err(ParamError::new(param, format!("must be {what}, got {got}")));
        }
    }
    Ok(())
}

/// The smaller root of `p² + (125 − 25b)p + 3500 = 0` and `−125 − root`, if it is below
/// the other (computed in f64).
fn rest_crit(b: f32) -> Option<(f32, f32)> {
    let bb = 125.0 - 25.0 * f64::from(b);
    let disc = bb * bb - 14_000.0;
    let rest = (-bb - disc.max(0.0).sqrt()) / 2.0;
    let crit = -125.0 - rest;
    (b.is_finite() && disc >= 0.0 && rest < crit).then_some((rest as f32, crit as f32))
}

/// The error for a `b` without an exact mapping, `got` as [`shown`].
fn b_error(got: &str) -> ParamError {
    ParamError::new(
        "b",
        format!(
            "must be below 0.26, got {got}: 0.04v² + 5v + 140 then has no exact form \
             0.04(v − rest_v)(v − crit_v) + b·rest_v with rest_v < crit_v"
        ),
    )
}

/// `V_rest` and `V_crit` of the exact mapping of the classic equation with coupling `b`:
/// the smaller root of `p² + (125 − 25b)p + 3500 = 0` and `−125 − V_rest` (computed in
/// f64). Fails (naming `b`) when no root gives `V_rest < V_crit`, i.e. for `b ≥ 0.26`.
pub fn classic_rest_crit(b: f32) -> Result<(f32, f32), ParamError> {
    rest_crit(b).ok_or_else(|| b_error(&b.to_string()))
}

/// [`classic_rest_crit`] of neuron `i`'s `b` (the error names the neuron).
fn rest_crit_at(b: &Param, i: usize) -> Result<(f32, f32), ParamError> {
    let v = b.at(i);
    rest_crit(v).ok_or_else(|| b_error(&shown("b", b, i, v)))
}

/// [`classic_rest_crit`] of every value of `b`: `(V_rest, V_crit)`, one value or one per
/// neuron like `b` (the error names the neuron).
fn classic_rest_crit_each(b: &Param) -> Result<(Param, Param), ParamError> {
    let pairs = (0..b.values().len())
        .map(|i| rest_crit_at(b, i))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match b {
        Param::Scalar(_) => (pairs[0].0.into(), pairs[0].1.into()),
        Param::PerElement(_) => (
            Param::PerElement(pairs.iter().map(|p| p.0).collect()),
            Param::PerElement(pairs.iter().map(|p| p.1).collect()),
        ),
    })
}

/// The named parameter sets of Izhikevich (2003), Fig. 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IzhikevichPreset {
    /// RS: regular spiking (a, b, c, d) = (0.02, 0.2, −65, 8).
    RegularSpiking,
    /// IB: intrinsically bursting (0.02, 0.2, −55, 4).
    IntrinsicallyBursting,
    /// CH: chattering (0.02, 0.2, −50, 2).
    Chattering,
    /// FS: fast spiking (0.1, 0.2, −65, 2).
    FastSpiking,
    /// LTS: low-threshold spiking (0.02, 0.25, −65, 2).
    LowThresholdSpiking,
}

impl IzhikevichPreset {
    /// Every preset, in the paper's order.
    pub const ALL: [IzhikevichPreset; 5] = [
        IzhikevichPreset::RegularSpiking,
        IzhikevichPreset::IntrinsicallyBursting,
        IzhikevichPreset::Chattering,
        IzhikevichPreset::FastSpiking,
        IzhikevichPreset::LowThresholdSpiking,
    ];

    /// (a, b, c, d).
    pub fn abcd(self) -> (f32, f32, f32, f32) {
        match self {
            IzhikevichPreset::RegularSpiking => (0.02, 0.2, -65.0, 8.0),
            IzhikevichPreset::IntrinsicallyBursting => (0.02, 0.2, -55.0, 4.0),
            IzhikevichPreset::Chattering => (0.02, 0.2, -50.0, 2.0),
            IzhikevichPreset::FastSpiking => (0.1, 0.2, -65.0, 2.0),
            IzhikevichPreset::LowThresholdSpiking => (0.02, 0.25, -65.0, 2.0),
        }
    }

    /// The paper's abbreviation ("RS", "IB", "CH", "FS", "LTS").
    pub fn abbreviation(self) -> &'static str {
        match self {
            IzhikevichPreset::RegularSpiking => "RS",
            IzhikevichPreset::IntrinsicallyBursting => "IB",
            IzhikevichPreset::Chattering => "CH",
            IzhikevichPreset::FastSpiking => "FS",
            IzhikevichPreset::LowThresholdSpiking => "LTS",
        }
    }
}

/// The adaptation coefficients of a population, Δt folded in.
#[derive(Clone, Debug)]
enum Terms {
    /// K terms shared by all neurons.
    Shared(Vec<CurrentTerm>),
    /// One term (K = 1) with per-neuron coefficients.
    PerNeuron(TermArrays),
}

/// Per-neuron coefficients of the single adaptation term.
#[derive(Clone, Debug, Default, PartialEq)]
struct TermArrays {
    rate: Vec<f32>,
    coupling: Vec<f32>,
    increment: Vec<f32>,
}

/// Borrowed [`TermArrays`]: the per-neuron [`TermSource`] of the fused update.
#[derive(Clone, Copy)]
struct TermSlices<'a> {
    rate: &'a [f32],
    coupling: &'a [f32],
    increment: &'a [f32],
}

impl<'a> TermSlices<'a> {
    fn new(a: &'a TermArrays) -> Self {
        Self {
            rate: &a.rate,
            coupling: &a.coupling,
            increment: &a.increment,
        }
    }
}

impl TermSource for TermSlices<'_> {
    #[inline(always)]
    fn at(&self, i: usize) -> CurrentTerm {
        CurrentTerm {
            rate: self.rate[i],
            coupling: self.coupling[i],
            increment: self.increment[i],
        }
    }
    #[inline(always)]
    fn window(&self, s: usize, len: usize) -> impl TermSource {
        let r = s..s + len;
        TermSlices {
            rate: &self.rate[r.clone()],
            coupling: &self.coupling[r.clone()],
            increment: &self.increment[r],
        }
    }
}

/// The precomputed state of an Izhikevich population.
#[derive(Component, Clone, Debug)]
pub struct IzhikevichKernel {
    membrane: QuadraticMembrane,
    /// The adaptation terms' coefficients.
    terms: Terms,
    /// Σₖ wₖ per neuron (K > 1 only).
    sum: Vec<f32>,
    /// Updated w per batch copy (batch × size × K) before the reduction.
    per_batch: Vec<f32>,
    scratch: Vec<f32>,
}

/// The state one Izhikevich step updates.
pub struct IzhikevichState<'a> {
    /// Total input, nA (`size × batch`).
    pub input: &'a [f32],
    /// Membrane voltage, mV (`size × batch`).
    pub voltage: &'a mut [f32],
    /// Remaining refractory time, ms (`size × batch`).
    pub refrac: &'a mut [f32],
    /// This step's spikes (refilled).
    pub spikes: &'a mut Spikes,
    /// The shared adaptation w.
    pub adaptation: &'a mut Adaptation,
}

/// The scratch buffers of one Izhikevich step.
struct Buffers<'a> {
    /// Spike flags of one batch copy (`size`).
    flags: &'a mut [u8],
    /// Σₖ wₖ per neuron (K > 1 only).
    sum: &'a mut [f32],
    /// Updated w per batch copy before the reduction.
    per_batch: &'a mut [f32],
    /// The reduction's scratch.
    scratch: &'a mut Vec<f32>,
}

/// One step of an Izhikevich population (pure over its arguments): the quadratic step of
/// every batch copy on `I − Σₖ wₖ`, then (in train mode) the current-adaptation update
/// reduced over the batch. For K = 1 the update is fused into the membrane loop, with the
/// term from `fused` (shared or per neuron); for K > 1 it uses the shared `terms`.
///
/// Not inlined: each (membrane, term) source pair is compiled on its own, so the code of
/// one (e.g. its spike-collection loop) does not depend on the others being present.
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel adapter over the state slices"
)]
#[inline(never)]
fn step_population<S: QuadraticSource, T: TermSource + Copy>(
    c: &S,
    fused: T,
    terms: &[CurrentTerm],
    buffers: Buffers<'_>,
    dt: f32,
    lock: bool,
    train: bool,
    reduction: &BatchReduction,
    s: IzhikevichState<'_>,
) {
    let IzhikevichState {
        input,
        voltage,
        refrac,
        spikes,
        adaptation,
    } = s;
    let Buffers {
        flags,
        sum,
        per_batch,
        scratch,
    } = buffers;
    let n = flags.len();
    let batch = voltage.len() / n;
    let k = adaptation.terms();
    if k > 1 {
        for (i, s) in sum.iter_mut().enumerate() {
            *s = adaptation.neuron(i).iter().sum::<f32>();
        }
    }
    let w = adaptation.values();
    for b in 0..batch {
        let r = b * n..(b + 1) * n;
        let input = &input[r.clone()];
        let out = spikes.batch_mut(b);
        let state = QuadraticState {
            voltage: &mut voltage[r.clone()],
            refrac: &mut refrac[r.clone()],
            spiked: &mut *flags,
        };
        if train && k == 1 {
            let a = CurrentAdaptation {
                current: w,
                updated: &mut per_batch[r],
                term: fused,
            };
            quadratic_copy::<_, true, true>(c, dt, lock, input, a, state, out);
            continue;
        }
        let a = CurrentAdaptation {
            current: if k == 1 { w } else { &*sum },
            updated: &mut [],
            term: CurrentTerm::default(),
        };
        quadratic_copy::<_, true, false>(c, dt, lock, input, a, state, out);
        if train {
            let dst = &mut per_batch[b * n * k..(b + 1) * n * k];
            let (v, rf) = (&voltage[r.clone()], &refrac[r]);
            for i in 0..n {
                let held = lock & (rf[i] > 0.0);
                let spike = flags[i] != 0;
                let rest = c.at(i).rest_v;
                for (t, term) in terms.iter().enumerate() {
                    let j = i * k + t;
                    dst[j] = current_update(term, rest, w[j], v[i], held, spike);
                }
            }
        }
    }
    // One copy and a built-in reduction: the reduced value is the copy's value, which the
    // caller swaps in (`Adaptation::swap_values`) instead of copying.
    if train && !one_copy_swap(batch, k, reduction) {
        let per_batch = &per_batch[..batch * n * k];
        reduction.reduce_into(per_batch, batch, adaptation.values_mut(), scratch);
    }
}

/// True when the updated adaptation of a step is exactly the per-batch buffer (one batch
/// copy, one term, built-in reduction), so it can be swapped in rather than reduced.
fn one_copy_swap(batch: usize, terms: usize, reduction: &BatchReduction) -> bool {
    batch == 1 && terms == 1 && !matches!(reduction, BatchReduction::Custom(_))
}

/// The components an Izhikevich system reads and writes.
type IzhikevichQuery<'a> = (
    &'a Population,
    &'a mut IzhikevichKernel,
    &'a RefracLock,
    &'a PopulationMode,
    &'a BatchReducer,
    &'a SynapticInput,
    &'a mut Voltage,
    &'a mut Refractory,
    &'a mut Spikes,
    &'a mut Adaptation,
);

/// The system of model `M` (`Izhikevich` or `IzhikevichAbcd`), in [`Phase::Integrate`]:
/// integration, thresholding, reset and, right after (as Inferno's `forward` does), the
/// adaptation update. The kernel is monomorphised over the membrane coefficients (shared or
/// per neuron) and the single term's coefficients (shared or per neuron), chosen once per
/// population.
pub fn izhikevich_system<M: Component>(
    clock: Res<Clock>,
    mut q: Query<IzhikevichQuery<'_>, With<M>>,
) {
    let dt = clock.dt();
    for (pop, mut k, lock, mode, reducer, input, mut v, mut r, mut spikes, mut a) in &mut q {
        let IzhikevichKernel {
            membrane,
            terms,
            sum,
            per_batch,
            scratch,
        } = &mut *k;
        let QuadraticMembrane {
            uniform,
            arrays,
            flags,
        } = membrane;
        debug_assert_eq!(pop.size as usize, flags.len());
        let buffers = Buffers {
            flags,
            sum,
            per_batch,
            scratch,
        };
        let state = IzhikevichState {
            input: &input.0,
            voltage: &mut v.0,
            refrac: &mut r.0,
            spikes: &mut spikes,
            adaptation: &mut a,
        };
        let (train, red) = (mode.trains(), &reducer.0);
        // The K = 1 term (unused for K > 1).
        let first = |t: &[CurrentTerm]| t.first().copied().unwrap_or_default();
        match (uniform, &*terms) {
            (Some(c), Terms::Shared(t)) => {
                step_population(c, first(t), t, buffers, dt, lock.0, train, red, state);
            }
            (Some(c), Terms::PerNeuron(t)) => {
                let t = TermSlices::new(t);
                step_population(c, t, &[], buffers, dt, lock.0, train, red, state);
            }
            (None, Terms::Shared(t)) => {
                let c = QuadraticSlices::new(arrays);
                step_population(&c, first(t), t, buffers, dt, lock.0, train, red, state);
            }
            (None, Terms::PerNeuron(t)) => {
                let (c, t) = (QuadraticSlices::new(arrays), TermSlices::new(t));
                step_population(&c, t, &[], buffers, dt, lock.0, train, red, state);
            }
        }
        if train && one_copy_swap(pop.batch as usize, a.terms(), red) {
            a.swap_values(per_batch);
        }
    }
}

/// A `[K]` parameter of `izhikevich` from a scenario (errors explain the per-term rule).
fn per_term(p: &mut ParamReader<'_>, name: &str) -> Result<Vec<f32>, BuildError> {
    p.required_terms(name).map_err(|e| match e.kind {
        BuildErrorKind::Invalid(m) => BuildError::invalid(e.path, format!("{m} {PER_TERM_RULE}")),
        _ => e,
    })
}

impl NeuronModel for Izhikevich {
    const NAME: &'static str = "izhikevich";
    const PARAMS: &'static [&'static str] = &[
        "rest_v",
        "crit_v",
        "affinity",
        "reset_v",
        "thresh_v",
        "refrac_t",
        "tc_membrane",
        "tc_adaptation",
        "voltage_coupling",
        "spike_increment",
        "resistance",
    ];

    /// The `[K]` parameters are always per term: a number (K = 1) or a list of K numbers.
    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rest_v: p.required("rest_v")?,
            crit_v: p.required("crit_v")?,
            affinity: p.required("affinity")?,
            reset_v: p.required("reset_v")?,
            thresh_v: p.required("thresh_v")?,
            refrac_t: p.required("refrac_t")?,
            tc_membrane: p.required("tc_membrane")?,
            tc_adaptation: per_term(p, "tc_adaptation")?,
            voltage_coupling: per_term(p, "voltage_coupling")?,
            spike_increment: per_term(p, "spike_increment")?,
            resistance: p.optional("resistance", 1.0)?,
            neuron_adaptation: None,
        })
    }

    /// The QIF rules ([`Qif`]'s `validate`) plus: the three `[K]` lists have the same K ≥ 1,
    /// `tc_adaptation > 0`, couplings and increments finite. With
    /// [`neuron_adaptation`](Self::neuron_adaptation) the lists are empty and its values
    /// obey the same rules, per neuron (errors name the neuron).
    fn validate(&self, n: usize) -> Result<(), ParamError> {
        self.membrane().validate(n)?;
        let lists = [
            ("tc_adaptation", &self.tc_adaptation[..]),
            ("voltage_coupling", &self.voltage_coupling[..]),
            ("spike_increment", &self.spike_increment[..]),
        ];
        if let Some(t) = &self.neuron_adaptation {
            if let Some((name, l)) = lists.iter().find(|(_, l)| !l.is_empty()) {
                return Err(ParamError::new(
                    name,
                    format!(
                        "must be empty when the adaptation is given per neuron \
                         (`neuron_adaptation`, one term), got {} values",
                        l.len()
                    ),
                ));
            }
            for (name, p) in t.all() {
                check::length(name, p, n)?;
            }
            each_neuron("tc_adaptation", &t.tc_adaptation, "> 0 ms", |v| v > 0.0)?;
            each_neuron("voltage_coupling", &t.voltage_coupling, "finite", |_| true)?;
            return each_neuron("spike_increment", &t.spike_increment, "finite", |_| true);
        }
        check::terms(&lists).map_err(|e| ParamError {
            message: format!("{} {PER_TERM_RULE}", e.message),
            ..e
        })?;
        check::each_term("tc_adaptation", &self.tc_adaptation, "> 0 ms", |v| v > 0.0)?;
        check::each_term("voltage_coupling", &self.voltage_coupling, "finite", |_| {
            true
        })?;
        check::each_term("spike_increment", &self.spike_increment, "finite", |_| true)
    }

    fn initial_voltage(&self, i: usize) -> f32 {
        self.rest_v.at(i)
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_neuron_pass(Phase::Integrate, izhikevich_system::<Izhikevich>);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        self.insert_state(entity, ctx);
        entity.insert(self);
    }
}

/// The classic Izhikevich (2003) neuron by (a, b, c, d) — registry name `izhikevich_abcd`
/// (see the module docs). Runs as an `izhikevich` population. Every parameter is one value
/// or one per neuron.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct IzhikevichAbcd {
    /// Recovery rate a, ms⁻¹.
    pub a: Param,
    /// Recovery coupling b, µS.
    pub b: Param,
    /// Reset voltage c, mV.
    pub c: Param,
    /// Recovery increment d per spike, nA.
    pub d: Param,
    /// Spike cut-off, mV (default 30).
    pub thresh_v: Param,
}

impl IzhikevichAbcd {
    /// The classic initial voltage, mV (`init.voltage` default).
    pub const INITIAL_VOLTAGE: f32 = -65.0;

    /// Homogeneous parameters cut off at 30 mV.
    pub fn new(a: f32, b: f32, c: f32, d: f32) -> Self {
        Self {
            a: a.into(),
            b: b.into(),
            c: c.into(),
            d: d.into(),
            thresh_v: 30.0.into(),
        }
    }

    /// A preset of Izhikevich (2003).
    pub fn preset(p: IzhikevichPreset) -> Self {
        let (a, b, c, d) = p.abcd();
        Self::new(a, b, c, d)
    }

    fn all(&self) -> [(&'static str, &Param); 5] {
        [
            ("a", &self.a),
            ("b", &self.b),
            ("c", &self.c),
            ("d", &self.d),
            ("thresh_v", &self.thresh_v),
        ]
    }

    /// The equivalent `izhikevich` parameters (errors as [`classic_rest_crit`], naming the
    /// neuron of a per-neuron `b`). With `a`, `b` and `d` single values the adaptation is
    /// the one-term lists `[1/a]`, `[b]`, `[d]`; otherwise it is
    /// [`neuron_adaptation`](Izhikevich::neuron_adaptation) `(1/a, b, d)`. Per-neuron `b`
    /// gives per-neuron `rest_v` and `crit_v`.
    pub fn to_izhikevich(&self) -> Result<Izhikevich, ParamError> {
        let (rest_v, crit_v) = classic_rest_crit_each(&self.b)?;
        let tc = map_param(&self.a, |a| 1.0 / a);
        let model = Izhikevich {
            rest_v,
            crit_v,
            affinity: 0.04.into(),
            reset_v: self.c.clone(),
            thresh_v: self.thresh_v.clone(),
            refrac_t: 0.0.into(),
            tc_membrane: 1.0.into(),
            tc_adaptation: Vec::new(),
            voltage_coupling: Vec::new(),
            spike_increment: Vec::new(),
            resistance: 1.0.into(),
            neuron_adaptation: None,
        };
        Ok(
            match (tc.as_scalar(), self.b.as_scalar(), self.d.as_scalar()) {
                (Some(tc), Some(b), Some(d)) => Izhikevich {
                    tc_adaptation: vec![tc],
                    voltage_coupling: vec![b],
                    spike_increment: vec![d],
                    ..model
                },
                _ => model.with_neuron_adaptation(tc, self.b.clone(), self.d.clone()),
            },
        )
    }

    /// The adaptation `w = u − b·V_rest` (nA) of neuron `i` for Izhikevich's recovery
    /// variable u.
    pub fn adaptation_from_u(&self, i: usize, u: f32) -> Result<f32, ParamError> {
        let (rest, _) = rest_crit_at(&self.b, i)?;
        Ok((f64::from(u) - f64::from(self.b.at(i)) * f64::from(rest)) as f32)
    }

    /// Izhikevich's recovery variable `u = w + b·V_rest` of neuron `i` for the adaptation
    /// w (nA).
    pub fn u_from_adaptation(&self, i: usize, w: f32) -> Result<f32, ParamError> {
        let (rest, _) = rest_crit_at(&self.b, i)?;
        Ok((f64::from(w) + f64::from(self.b.at(i)) * f64::from(rest)) as f32)
    }
}

/// Renames an `izhikevich` parameter error to the `izhikevich_abcd` parameter it comes from.
fn abcd_name(e: ParamError) -> ParamError {
    let param = match e.param {
        "reset_v" => "c",
        "tc_adaptation" => "a",
        "voltage_coupling" | "rest_v" | "crit_v" => "b",
        "spike_increment" => "d",
        other => other,
    };
    ParamError { param, ..e }
}

impl NeuronModel for IzhikevichAbcd {
    const NAME: &'static str = "izhikevich_abcd";
    const PARAMS: &'static [&'static str] = &["a", "b", "c", "d", "thresh_v"];

    /// Every parameter in any value form (one value, a list of one per neuron, or a
    /// distribution drawn per neuron).
    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            a: p.required("a")?,
            b: p.required("b")?,
            c: p.required("c")?,
            d: p.required("d")?,
            thresh_v: p.optional("thresh_v", 30.0)?,
        })
    }

    /// Per neuron: `a > 0`; `b < 0.26` (an exact mapping with `rest_v < crit_v` exists);
    /// `c < thresh_v`; `thresh_v ≥ crit_v`; all finite; per-neuron values of length `n`.
    /// Errors about a per-neuron value name the neuron (`got b[17] = 0.3`).
    fn validate(&self, n: usize) -> Result<(), ParamError> {
        for (name, p) in self.all() {
            check::length(name, p, n)?;
        }
        each_neuron("c", &self.c, "a finite number", |_| true)?;
        each_neuron("thresh_v", &self.thresh_v, "a finite number", |_| true)?;
        each_neuron("a", &self.a, "> 0 per ms", |v| v > 0.0)?;
        each_neuron("d", &self.d, "finite", |_| true)?;
        let (_, crit) = classic_rest_crit_each(&self.b)?;
        check::less_than("c", &self.c, "thresh_v", &self.thresh_v, n)?;
        let m = if crit.as_scalar().is_some() && self.thresh_v.as_scalar().is_some() {
            1
        } else {
            n
        };
        for i in 0..m {
            let (t, crit) = (self.thresh_v.at(i), crit.at(i));
            if t < crit {
                let (got, b) = (shown("thresh_v", &self.thresh_v, i, t), &self.b);
                return Err(ParamError::new(
                    "thresh_v",
                    format!(
                        "must be at least the critical voltage {crit} mV implied by {}, got {got}",
                        match b {
                            Param::Scalar(v) => format!("`b` = {v}"),
                            Param::PerElement(v) => format!("b[{i}] = {}", v[i]),
                        }
                    ),
                ));
            }
        }
        self.to_izhikevich()?.validate(n).map_err(abcd_name)
    }

    fn initial_voltage(&self, _i: usize) -> f32 {
        Self::INITIAL_VOLTAGE
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_neuron_pass(Phase::Integrate, izhikevich_system::<IzhikevichAbcd>);
    }

    /// Inserts the `izhikevich` state. The adaptation starts at `w₀ = u₀ − b·V_rest` per
    /// neuron, with `u₀` from `init.adaptation`, else `u₀ = b·v₀` per neuron from the initial
    /// voltage (already on the entity).
    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let model = self.to_izhikevich().expect("validated before insertion");
        let rest = |i: usize| f64::from(model.rest_v.at(i));
        let b = |i: usize| f64::from(self.b.at(i));
        let n = ctx.size as usize;
        let w0: Vec<f32> = match ctx.init_adaptation {
            Some(&[u0]) => (0..n)
                .map(|i| (f64::from(u0) - b(i) * rest(i)) as f32)
                .collect(),
            _ => {
                let v0 = entity
                    .get::<Voltage>()
                    .map(|v| v.0.clone())
                    .unwrap_or_default();
                (0..n)
                    .map(|i| {
                        let v = v0.get(i).copied().unwrap_or(Self::INITIAL_VOLTAGE);
                        (b(i) * (f64::from(v) - rest(i))) as f32
                    })
                    .collect()
            }
        };
        model.insert_state(entity, ctx);
        if let Some(mut a) = entity.get_mut::<Adaptation>()
            && a.terms() == 1
            && ctx.init_adaptation.is_none_or(|u| u.len() == 1)
        {
            a.values_mut().copy_from_slice(&w0);
        }
        entity.insert(self);
    }
}
