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
//!   is rejected, naming `b`). For b = 0.2: `V_rest = −70`, `V_crit = −55`.
//! * `affinity = 0.04`, `tc_membrane = 1` ms, `resistance = 1`, `reset_v = c`,
//!   `refrac_t = 0`.
//!
//! `init.voltage` defaults to −65 mV, and `init.adaptation` is Izhikevich's u (one value,
//! default `u₀ = b·v₀` per neuron), converted to `w₀ = u₀ − b·V_rest`. Traces show w, not
//! u (`u = w + b·V_rest`). [`Simulation::clear`](ember_engine::Simulation::clear) resets V
//! to −65 mV (the population's initial default), and `keep_adaptations = false` sets
//! w = 0, i.e. `u = b·V_rest`.
//!
//! `a`, `b` and `d` are single values (they are the K = 1 adaptation parameters, shared by
//! all neurons); `c` and `thresh_v` may be one per neuron.
//!
//! | name | unit | meaning | rule |
//! |---|---|---|---|
//! | `a` | ms⁻¹ | recovery rate | `> 0` |
//! | `b` | µS | recovery coupling | `< 0.26` (see above) |
//! | `c` | mV | reset voltage | `c < thresh_v` |
//! | `d` | nA | recovery increment per spike | finite |
//! | `thresh_v` | mV | spike cut-off (default 30) | `≥ V_crit` |
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
//!
//! References: Inferno `Izhikevich` (`inferno/neural/neurons/nonlinear.py`) and
//! `adaptive_currents_linear` (`inferno/neural/functional/neuron_adaptation.py`);
//! E. M. Izhikevich, "Simple model of spiking neurons", *IEEE Trans. Neural Netw.* 14(6),
//! 1569–1572 (2003); INFERNO.md §1.4 and trace F.

use bevy_ecs::prelude::*;
use ember_engine::model::check;
use ember_engine::prelude::*;
use ember_engine::{
    BatchReducer, ModelSystems, ParamError, ParamReader, Population, PopulationMode, RefracLock,
    SpawnContext,
};

use crate::Qif;
use crate::neurons::qif::{
    CurrentAdaptation, CurrentTerm, QuadraticMembrane, QuadraticSlices, QuadraticSource,
    QuadraticState, current_update, quadratic_copy,
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
    /// Adaptation time constants τₖ, ms (K terms).
    pub tc_adaptation: Vec<f32>,
    /// Voltage couplings bₖ, µS (K terms).
    pub voltage_coupling: Vec<f32>,
    /// Spike increments dₖ, nA (K terms).
    pub spike_increment: Vec<f32>,
    /// Membrane resistance, MΩ.
    pub resistance: Param,
}

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
    /// with `u₀ = b·v₀`), or use [`IzhikevichAbcd`], which does so by default. Errors name
    /// `a`, `b`, `c`, `d` or `thresh_v`.
    pub fn from_abcd(a: f32, b: f32, c: f32, d: f32, thresh_v: f32) -> Result<Self, ParamError> {
        let abcd = IzhikevichAbcd {
            a,
            b,
            c: c.into(),
            d,
            thresh_v: thresh_v.into(),
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

    /// The precomputed kernel for a population (Δt and batch from `ctx`).
    fn kernel(&self, ctx: &SpawnContext<'_>) -> IzhikevichKernel {
        let n = ctx.size as usize;
        let dt = ctx.step_time;
        let terms: Vec<CurrentTerm> = (0..self.tc_adaptation.len())
            .map(|k| CurrentTerm {
                // Inferno: `step_time / time_constant` with τₖ an f32 buffer.
                rate: dt / self.tc_adaptation[k],
                coupling: self.voltage_coupling[k],
                increment: self.spike_increment[k],
            })
            .collect();
        IzhikevichKernel {
            membrane: self.membrane().membrane_kernel(n, dt),
            sum: if terms.len() > 1 {
                vec![0.0; n]
            } else {
                Vec::new()
            },
            per_batch: vec![0.0; n * terms.len() * ctx.batch as usize],
            scratch: Vec::new(),
            terms,
        }
    }

    /// Inserts the parameter-independent state of a population of this model: the kernel
    /// and the adaptation, initialised from `init` (one value per term for every neuron).
    fn insert_state(&self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let n = ctx.size as usize;
        let terms = self.tc_adaptation.len();
        entity.insert((
            self.kernel(ctx),
            Adaptation::new(n, terms, ctx.init_adaptation),
        ));
    }
}

/// `V_rest` and `V_crit` of the exact mapping of the classic equation with coupling `b`:
/// the smaller root of `p² + (125 − 25b)p + 3500 = 0` and `−125 − V_rest` (computed in
/// f64). Fails (naming `b`) when no root gives `V_rest < V_crit`, i.e. for `b ≥ 0.26`.
pub fn classic_rest_crit(b: f32) -> Result<(f32, f32), ParamError> {
    let bb = 125.0 - 25.0 * f64::from(b);
    let disc = bb * bb - 14_000.0;
    let rest = (-bb - disc.max(0.0).sqrt()) / 2.0;
    let crit = -125.0 - rest;
    if !b.is_finite() || disc < 0.0 || rest >= crit {
        return Err(ParamError::new(
            "b",
            format!(
                "must be below 0.26, got {b}: 0.04v² + 5v + 140 then has no exact form \
                 0.04(v − rest_v)(v − crit_v) + b·rest_v with rest_v < crit_v"
            ),
        ));
    }
    Ok((rest as f32, crit as f32))
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

/// The precomputed state of an Izhikevich population.
#[derive(Component, Clone, Debug)]
pub struct IzhikevichKernel {
    membrane: QuadraticMembrane,
    /// One entry per adaptation term.
    terms: Vec<CurrentTerm>,
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
/// reduced over the batch. For K = 1 the update is fused into the membrane loop.
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel adapter over the state slices"
)]
fn step_population<S: QuadraticSource>(
    c: &S,
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
                term: terms[0],
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
/// adaptation update.
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
        match uniform {
            Some(c) => step_population(c, terms, buffers, dt, lock.0, train, red, state),
            None => {
                let c = QuadraticSlices::new(arrays);
                step_population(&c, terms, buffers, dt, lock.0, train, red, state);
            }
        }
        if train && one_copy_swap(pop.batch as usize, a.terms(), red) {
            a.swap_values(per_batch);
        }
    }
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

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rest_v: p.required("rest_v")?,
            crit_v: p.required("crit_v")?,
            affinity: p.required("affinity")?,
            reset_v: p.required("reset_v")?,
            thresh_v: p.required("thresh_v")?,
            refrac_t: p.required("refrac_t")?,
            tc_membrane: p.required("tc_membrane")?,
            tc_adaptation: p.required_terms("tc_adaptation")?,
            voltage_coupling: p.required_terms("voltage_coupling")?,
            spike_increment: p.required_terms("spike_increment")?,
            resistance: p.optional("resistance", 1.0)?,
        })
    }

    /// The QIF rules ([`Qif`]'s `validate`) plus: the three `[K]` lists have the same K ≥ 1,
    /// `tc_adaptation > 0`, couplings and increments finite.
    fn validate(&self, n: usize) -> Result<(), ParamError> {
        self.membrane().validate(n)?;
        check::terms(&[
            ("tc_adaptation", &self.tc_adaptation),
            ("voltage_coupling", &self.voltage_coupling),
            ("spike_increment", &self.spike_increment),
        ])?;
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
        systems.add(Phase::Integrate, izhikevich_system::<Izhikevich>);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        self.insert_state(entity, ctx);
        entity.insert(self);
    }
}

/// The classic Izhikevich (2003) neuron by (a, b, c, d) — registry name `izhikevich_abcd`
/// (see the module docs). Runs as an `izhikevich` population.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct IzhikevichAbcd {
    /// Recovery rate a, ms⁻¹.
    pub a: f32,
    /// Recovery coupling b, µS.
    pub b: f32,
    /// Reset voltage c, mV (one value or one per neuron).
    pub c: Param,
    /// Recovery increment d per spike, nA.
    pub d: f32,
    /// Spike cut-off, mV (default 30; one value or one per neuron).
    pub thresh_v: Param,
}

impl IzhikevichAbcd {
    /// The classic initial voltage, mV (`init.voltage` default).
    pub const INITIAL_VOLTAGE: f32 = -65.0;

    /// Homogeneous parameters cut off at 30 mV.
    pub fn new(a: f32, b: f32, c: f32, d: f32) -> Self {
        Self {
            a,
            b,
            c: c.into(),
            d,
            thresh_v: 30.0.into(),
        }
    }

    /// A preset of Izhikevich (2003).
    pub fn preset(p: IzhikevichPreset) -> Self {
        let (a, b, c, d) = p.abcd();
        Self::new(a, b, c, d)
    }

    /// The equivalent `izhikevich` parameters (errors as [`classic_rest_crit`]).
    pub fn to_izhikevich(&self) -> Result<Izhikevich, ParamError> {
        let (rest, crit) = classic_rest_crit(self.b)?;
        Ok(Izhikevich {
            rest_v: rest.into(),
            crit_v: crit.into(),
            affinity: 0.04.into(),
            reset_v: self.c.clone(),
            thresh_v: self.thresh_v.clone(),
            refrac_t: 0.0.into(),
            tc_membrane: 1.0.into(),
            tc_adaptation: vec![1.0 / self.a],
            voltage_coupling: vec![self.b],
            spike_increment: vec![self.d],
            resistance: 1.0.into(),
        })
    }

    /// The adaptation `w = u − b·V_rest` (nA) for Izhikevich's recovery variable u.
    pub fn adaptation_from_u(&self, u: f32) -> Result<f32, ParamError> {
        let (rest, _) = classic_rest_crit(self.b)?;
        Ok((f64::from(u) - f64::from(self.b) * f64::from(rest)) as f32)
    }

    /// Izhikevich's recovery variable `u = w + b·V_rest` for the adaptation w (nA).
    pub fn u_from_adaptation(&self, w: f32) -> Result<f32, ParamError> {
        let (rest, _) = classic_rest_crit(self.b)?;
        Ok((f64::from(w) + f64::from(self.b) * f64::from(rest)) as f32)
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

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            a: p.required_scalar("a")?,
            b: p.required_scalar("b")?,
            c: p.required("c")?,
            d: p.required_scalar("d")?,
            thresh_v: p.optional("thresh_v", 30.0)?,
        })
    }

    /// `a > 0`; `b < 0.26` (an exact mapping with `rest_v < crit_v` exists); `c < thresh_v`;
    /// `thresh_v ≥ crit_v`; `d` finite; per-neuron `c`, `thresh_v` of length `n`.
    fn validate(&self, n: usize) -> Result<(), ParamError> {
        check::length("c", &self.c, n)?;
        check::length("thresh_v", &self.thresh_v, n)?;
        check::each("c", &self.c, "a finite number", |_| true)?;
        check::each("thresh_v", &self.thresh_v, "a finite number", |_| true)?;
        check::each_term("a", &[self.a], "> 0 per ms", |v| v > 0.0)?;
        check::each_term("d", &[self.d], "finite", |_| true)?;
        let (_, crit) = classic_rest_crit(self.b)?;
        check::less_than("c", &self.c, "thresh_v", &self.thresh_v, n)?;
        let what = format!("at least the critical voltage {crit} mV implied by `b`");
        check::each("thresh_v", &self.thresh_v, &what, |v| v >= crit)?;
        self.to_izhikevich()?.validate(n).map_err(abcd_name)
    }

    fn initial_voltage(&self, _i: usize) -> f32 {
        Self::INITIAL_VOLTAGE
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add(Phase::Integrate, izhikevich_system::<IzhikevichAbcd>);
    }

    /// Inserts the `izhikevich` state. The adaptation starts at `w₀ = u₀ − b·V_rest`, with
    /// `u₀` from `init.adaptation`, else `u₀ = b·v₀` per neuron from the initial voltage
    /// (already on the entity).
    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let model = self.to_izhikevich().expect("validated before insertion");
        let rest = f64::from(model.rest_v.at(0));
        let b = f64::from(self.b);
        let n = ctx.size as usize;
        let w0: Vec<f32> = match ctx.init_adaptation {
            Some(&[u0]) => vec![(f64::from(u0) - b * rest) as f32; n],
            _ => {
                let v0 = entity
                    .get::<Voltage>()
                    .map(|v| v.0.clone())
                    .unwrap_or_default();
                (0..n)
                    .map(|i| {
                        let v = v0.get(i).copied().unwrap_or(Self::INITIAL_VOLTAGE);
                        (b * (f64::from(v) - rest)) as f32
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
