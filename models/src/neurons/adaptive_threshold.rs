//! LIF neurons with spike-driven adaptive thresholds: `alif` and `glif2`.
//!
//! # Equations
//!
//! Membrane as [`Lif`] (exact exponential integration, refractory mask and
//! lock). The threshold is `Θ = Θ∞ + Σₖ θₖ` with K adaptation terms that jump by `dₖ` at each
//! spike and relax to 0:
//!
//! * continuous: `dθₖ/dt = −θₖ/τₖ + dₖ Σ δ(t − t_spike)`;
//! * discrete (Inferno `adaptive_thresholds_linear_spike`), after thresholding and reset:
//!   `θₖ ← θₖ·exp(−Δt/τₖ)` unless the neuron is refractory after the step (the decay is
//!   frozen on the spike step and throughout the refractory period when `refrac_lock`),
//!   then `θₖ ← θₖ + dₖ·spike`.
//!
//! The step uses the threshold from the θ *before* the update. θ is shared by the batch
//! copies: every copy computes its updated θ, and the population's batch reduction (mean by
//! default) combines them. θ updates only in train mode.
//!
//! `alif` resets to a constant `V ← V_reset`; `glif2` uses the linear reset
//! `V ← V_rest + m·(V − V_rest) − b` with `m = reset_v_mul`, `b = reset_v_add` applied to the
//! post-integration voltage that crossed threshold, and gives its adaptation as a *rate*
//! `λₖ = rc_adaptation` (`τₖ = 1/λₖ`).
//!
//! # Parameters
//!
//! | name | unit | model | rule |
//! |---|---|---|---|
//! | `rest_v` | mV | both | `rest_v < thresh_eq_v` |
//! | `reset_v` | mV | alif | `reset_v < thresh_eq_v` |
//! | `reset_v_add` | mV | glif2 | any |
//! | `reset_v_mul` | 1 | glif2 | any |
//! | `thresh_eq_v` | mV | both | equilibrium threshold Θ∞ |
//! | `refrac_t` | ms | both | `≥ 0` |
//! | `tc_membrane` | ms | both | `> 0` |
//! | `tc_adaptation` \[K\] | ms | alif | `> 0` |
//! | `rc_adaptation` \[K\] | ms⁻¹ | glif2 | `> 0` |
//! | `spike_increment` \[K\] | mV | both | any (same K as the time constants) |
//! | `resistance` | MΩ | both | `≠ 0` (default 1) |
//!
//! References: Inferno `ALIF` and `GLIF2` (`inferno/neural/neurons/linear.py`); Bellec et al.
//! (2018) for ALIF; Teeter et al. (2018) and the Allen Institute GLIF models for GLIF2.

use bevy_ecs::prelude::*;
use ember_engine::model::check;
use ember_engine::prelude::*;
use ember_engine::{
    BatchReducer, BatchReduction, EffectiveThreshold, ModelSystems, ParamError, ParamReader,
    Population, PopulationMode, RefracLock, SpawnContext,
};

use crate::Lif;
use crate::neurons::lif::{
    ConstantReset, LifKernel, LifSlices, LifSource, LifState, LinearReset, WithThreshold, lif_copy,
};

/// ALIF parameters (see the module docs).
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Alif {
    /// Resting voltage, mV.
    pub rest_v: Param,
    /// Reset voltage, mV.
    pub reset_v: Param,
    /// Equilibrium threshold Θ∞, mV.
    pub thresh_eq_v: Param,
    /// Absolute refractory period, ms.
    pub refrac_t: Param,
    /// Membrane time constant, ms.
    pub tc_membrane: Param,
    /// Threshold adaptation time constants τₖ, ms (K terms).
    pub tc_adaptation: Vec<f32>,
    /// Threshold increments dₖ per spike, mV (K terms).
    pub spike_increment: Vec<f32>,
    /// Membrane resistance, MΩ.
    pub resistance: Param,
}

/// GLIF2 parameters (see the module docs).
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Glif2 {
    /// Resting voltage, mV.
    pub rest_v: Param,
    /// Subtracted reset offset b, mV.
    pub reset_v_add: Param,
    /// Reset slope m.
    pub reset_v_mul: Param,
    /// Equilibrium threshold Θ∞, mV.
    pub thresh_eq_v: Param,
    /// Absolute refractory period, ms.
    pub refrac_t: Param,
    /// Membrane time constant, ms.
    pub tc_membrane: Param,
    /// Threshold adaptation rates λₖ, ms⁻¹ (K terms).
    pub rc_adaptation: Vec<f32>,
    /// Threshold increments dₖ per spike, mV (K terms).
    pub spike_increment: Vec<f32>,
    /// Membrane resistance, MΩ.
    pub resistance: Param,
}

/// Reset rule of an adaptive-threshold population.
#[derive(Clone, Debug)]
enum Reset {
    Constant,
    Linear { mul: Vec<f32>, add: Vec<f32> },
}

/// Precomputed state of an adaptive-threshold population.
#[derive(Component, Clone, Debug)]
pub struct ThresholdAdaptationKernel {
    membrane: LifKernel,
    reset: Reset,
    /// exp(−Δt/τₖ) per term.
    decay: Vec<f32>,
    /// dₖ per term, mV.
    increment: Vec<f32>,
    /// Θ∞ per neuron, mV.
    thresh_eq: Vec<f32>,
    /// This step's Θ per neuron, mV.
    thresh: Vec<f32>,
    /// Updated θ per batch copy (batch × size × K) before the reduction.
    per_batch: Vec<f32>,
    scratch: Vec<f32>,
}

impl ThresholdAdaptationKernel {
    fn new(
        membrane: &Lif,
        reset: Reset,
        decay: Vec<f32>,
        increment: Vec<f32>,
        ctx: &SpawnContext<'_>,
    ) -> Self {
        let n = ctx.size as usize;
        let terms = decay.len();
        Self {
            membrane: membrane.kernel(n, ctx.step_time),
            reset,
            decay,
            increment,
            thresh_eq: membrane.thresh_v.to_vec(n),
            thresh: vec![0.0; n],
            per_batch: vec![0.0; n * terms * ctx.batch as usize],
            scratch: Vec::new(),
        }
    }
}

/// One step of an adaptive-threshold population (pure over its arguments): thresholds from
/// θ, the LIF step with that threshold and the model's reset for each batch copy, then (in
/// train mode) the θ update reduced over the batch.
#[expect(
    clippy::too_many_arguments,
    reason = "a kernel adapter over the state slices"
)]
fn step_population(
    k: &mut ThresholdAdaptationKernel,
    n: usize,
    dt: f32,
    lock: bool,
    train: bool,
    reducer: &BatchReducer,
    input: &[f32],
    voltage: &mut [f32],
    refrac: &mut [f32],
    spikes: &mut Spikes,
    adaptation: &mut Adaptation,
    effective: &mut [f32],
) {
    let terms = adaptation.terms();
    let batch = voltage.len() / n;
    // With one batch copy and a built-in reduction the reduced value is the copy's value:
    // update θ in place instead of through the per-batch buffer.
    let in_place = batch == 1 && !matches!(reducer.0, BatchReduction::Custom(_));
    threshold_sums(terms, &k.thresh_eq, adaptation.values(), &mut k.thresh);
    for b in 0..batch {
        let r = b * n..(b + 1) * n;
        let state = LifState {
            voltage: &mut voltage[r.clone()],
            refrac: &mut refrac[r.clone()],
        };
        let out = spikes.batch_mut(b);
        let flags = &mut k.membrane.flags;
        let input = &input[r.clone()];
        match (&k.membrane.uniform, &k.reset) {
            (Some(c), reset) => {
                let src = WithThreshold {
                    inner: *c,
                    thresh_v: &k.thresh,
                };
                run(&src, reset, dt, lock, input, state, flags, out);
            }
            (None, reset) => {
                let src = WithThreshold {
                    inner: LifSlices::new(&k.membrane.arrays),
                    thresh_v: &k.thresh,
                };
                run(&src, reset, dt, lock, input, state, flags, out);
            }
        }
        if train {
            let update = ThetaUpdate {
                decay: &k.decay,
                increment: &k.increment,
                refrac: &refrac[r],
                flags: &k.membrane.flags,
                lock,
            };
            if in_place {
                update.apply(adaptation.values_mut(), None);
            } else {
                let dst = &mut k.per_batch[b * n * terms..(b + 1) * n * terms];
                update.apply(dst, Some(adaptation.values()));
            }
        }
    }
    if train && !in_place {
        let per_batch = &k.per_batch[..batch * n * terms];
        reducer
            .0
            .reduce_into(per_batch, batch, adaptation.values_mut(), &mut k.scratch);
    }
    for copy in effective.chunks_exact_mut(n) {
        threshold_sums(terms, &k.thresh_eq, adaptation.values(), copy);
    }
}

/// `out[i] = Θ∞ᵢ + Σₖ θᵢₖ`, with the common term counts unrolled so the loop vectorises.
fn threshold_sums(terms: usize, eq: &[f32], theta: &[f32], out: &mut [f32]) {
    fn fixed<const K: usize>(eq: &[f32], theta: &[f32], out: &mut [f32]) {
        let (rows, _) = theta.as_chunks::<K>();
        for ((o, &e), row) in out.iter_mut().zip(eq).zip(rows) {
            *o = e + row.iter().sum::<f32>();
        }
    }
    match terms {
        1 => fixed::<1>(eq, theta, out),
        2 => fixed::<2>(eq, theta, out),
        3 => fixed::<3>(eq, theta, out),
        4 => fixed::<4>(eq, theta, out),
        _ => {
            for ((o, &e), row) in out.iter_mut().zip(eq).zip(theta.chunks_exact(terms)) {
                *o = e + row.iter().sum::<f32>();
            }
        }
    }
}

/// The θ update of one batch copy (Inferno `adaptive_thresholds_linear_spike`):
/// `θ ← held ? θ : θ·decay`, then `θ += d·spike`.
struct ThetaUpdate<'a> {
    decay: &'a [f32],
    increment: &'a [f32],
    /// Refractory times after the step (held where > 0, with `lock`).
    refrac: &'a [f32],
    /// Spike flags of the step.
    flags: &'a [u8],
    lock: bool,
}

impl ThetaUpdate<'_> {
    /// Writes the updated θ into `dst`, from `src` (or from `dst` itself when `None`).
    fn apply(&self, dst: &mut [f32], src: Option<&[f32]>) {
        match self.decay.len() {
            1 => self.fixed::<1>(dst, src),
            2 => self.fixed::<2>(dst, src),
            3 => self.fixed::<3>(dst, src),
            4 => self.fixed::<4>(dst, src),
            k => {
                for i in 0..self.flags.len() {
                    for t in 0..k {
                        let th = src.map_or(dst[i * k + t], |s| s[i * k + t]);
                        dst[i * k + t] = self.one(th, t, i);
                    }
                }
            }
        }
    }

    #[inline(always)]
    fn one(&self, theta: f32, t: usize, i: usize) -> f32 {
        let held = self.lock & (self.refrac[i] > 0.0);
        let spiked = if self.flags[i] != 0 { 1.0 } else { 0.0 };
        let th = if held { theta } else { theta * self.decay[t] };
        th + self.increment[t] * spiked
    }

    fn fixed<const K: usize>(&self, dst: &mut [f32], src: Option<&[f32]>) {
        let decay: [f32; K] = self.decay.try_into().expect("K terms");
        let inc: [f32; K] = self.increment.try_into().expect("K terms");
        let (rows, _) = dst.as_chunks_mut::<K>();
        let per_neuron = rows.iter_mut().zip(self.refrac).zip(self.flags).enumerate();
        for (i, ((row, &r), &f)) in per_neuron {
            let held = self.lock & (r > 0.0);
            let spiked = if f != 0 { 1.0 } else { 0.0 };
            let from: [f32; K] = match src {
                Some(s) => s[i * K..(i + 1) * K].try_into().expect("K terms"),
                None => *row,
            };
            for t in 0..K {
                let th = if held { from[t] } else { from[t] * decay[t] };
                row[t] = th + inc[t] * spiked;
            }
        }
    }
}

#[expect(clippy::too_many_arguments, reason = "dispatch on the reset rule")]
fn run<S: LifSource>(
    src: &S,
    reset: &Reset,
    dt: f32,
    lock: bool,
    input: &[f32],
    state: LifState<'_>,
    flags: &mut [u8],
    out: &mut Vec<u32>,
) {
    match reset {
        Reset::Constant => lif_copy(src, &ConstantReset, dt, lock, input, state, flags, out),
        Reset::Linear { mul, add } => {
            let rule = LinearReset { mul, add };
            lif_copy(src, &rule, dt, lock, input, state, flags, out);
        }
    }
}

/// The state an adaptive-threshold system updates.
type AdaptiveState<'a> = (
    &'a Population,
    &'a mut ThresholdAdaptationKernel,
    &'a RefracLock,
    &'a PopulationMode,
    &'a BatchReducer,
    &'a SynapticInput,
    &'a mut Voltage,
    &'a mut Refractory,
    &'a mut Spikes,
    &'a mut Adaptation,
    &'a mut EffectiveThreshold,
);

/// The system of model `M` (`Alif` or `Glif2`), in [`Phase::Integrate`]: integration,
/// thresholding, reset and (in [`Phase::Integrate`] too, right after, as Inferno's
/// `forward` does) the adaptation update.
pub fn threshold_adaptation_system<M: Component>(
    clock: Res<Clock>,
    mut q: Query<AdaptiveState<'_>, With<M>>,
) {
    let dt = clock.dt();
    for (pop, mut k, lock, mode, reducer, input, mut v, mut r, mut spikes, mut a, mut eff) in &mut q
    {
        step_population(
            &mut k,
            pop.size as usize,
            dt,
            lock.0,
            mode.trains(),
            reducer,
            &input.0,
            &mut v.0,
            &mut r.0,
            &mut spikes,
            &mut a,
            &mut eff.0,
        );
    }
}

/// Inserts an adaptive-threshold model with its kernel, its K adaptation terms (initial
/// values from `init.adaptation`, else 0) and its effective threshold (Θ∞ + Σθ).
fn insert_adaptive<M: Component>(
    entity: &mut EntityWorldMut<'_>,
    model: M,
    kernel: ThresholdAdaptationKernel,
    ctx: &SpawnContext<'_>,
) {
    let n = ctx.size as usize;
    let adaptation = Adaptation::new(n, kernel.decay.len(), ctx.init_adaptation);
    let effective = (0..ctx.batch).flat_map(|_| {
        (0..n).map(|i| kernel.thresh_eq[i] + adaptation.neuron(i).iter().sum::<f32>())
    });
    let effective = EffectiveThreshold(effective.collect());
    entity.insert((model, kernel, adaptation, effective));
}

fn validate_membrane(
    n: usize,
    params: &[(&'static str, &Param)],
    refrac_t: &Param,
    tc_membrane: &Param,
    resistance: &Param,
) -> Result<(), ParamError> {
    for (name, p) in params {
        check::length(name, p, n)?;
        check::each(name, p, "a finite number", |_| true)?;
    }
    check::each("refrac_t", refrac_t, "≥ 0 ms", |v| v >= 0.0)?;
    check::each("tc_membrane", tc_membrane, "> 0 ms", |v| v > 0.0)?;
    check::each("resistance", resistance, "non-zero", |v| v != 0.0)
}

impl Alif {
    fn membrane(&self) -> Lif {
        Lif {
            rest_v: self.rest_v.clone(),
            reset_v: self.reset_v.clone(),
            thresh_v: self.thresh_eq_v.clone(),
            refrac_t: self.refrac_t.clone(),
            tc_membrane: self.tc_membrane.clone(),
            resistance: self.resistance.clone(),
        }
    }
}

impl NeuronModel for Alif {
    const NAME: &'static str = "alif";
    const PARAMS: &'static [&'static str] = &[
        "rest_v",
        "reset_v",
        "thresh_eq_v",
        "refrac_t",
        "tc_membrane",
        "tc_adaptation",
        "spike_increment",
        "resistance",
    ];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rest_v: p.required("rest_v")?,
            reset_v: p.required("reset_v")?,
            thresh_eq_v: p.required("thresh_eq_v")?,
            refrac_t: p.required("refrac_t")?,
            tc_membrane: p.required("tc_membrane")?,
            tc_adaptation: p.required_terms("tc_adaptation")?,
            spike_increment: p.required_terms("spike_increment")?,
            resistance: p.optional("resistance", 1.0)?,
        })
    }

    fn validate(&self, n: usize) -> Result<(), ParamError> {
        validate_membrane(
            n,
            &[
                ("rest_v", &self.rest_v),
                ("reset_v", &self.reset_v),
                ("thresh_eq_v", &self.thresh_eq_v),
                ("refrac_t", &self.refrac_t),
                ("tc_membrane", &self.tc_membrane),
                ("resistance", &self.resistance),
            ],
            &self.refrac_t,
            &self.tc_membrane,
            &self.resistance,
        )?;
        check::less_than("rest_v", &self.rest_v, "thresh_eq_v", &self.thresh_eq_v, n)?;
        check::less_than(
            "reset_v",
            &self.reset_v,
            "thresh_eq_v",
            &self.thresh_eq_v,
            n,
        )?;
        check::terms(&[
            ("tc_adaptation", &self.tc_adaptation),
            ("spike_increment", &self.spike_increment),
        ])?;
        check::each_term("tc_adaptation", &self.tc_adaptation, "> 0 ms", |v| v > 0.0)?;
        check::each_term("spike_increment", &self.spike_increment, "finite", |_| true)
    }

    fn initial_voltage(&self, i: usize) -> f32 {
        self.rest_v.at(i)
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_neuron_pass(Phase::Integrate, threshold_adaptation_system::<Alif>);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let decay = self
            .tc_adaptation
            .iter()
            .map(|tau| (-ctx.step_time / tau).exp())
            .collect();
        let kernel = ThresholdAdaptationKernel::new(
            &self.membrane(),
            Reset::Constant,
            decay,
            self.spike_increment.clone(),
            ctx,
        );
        insert_adaptive(entity, self, kernel, ctx);
    }
}

impl Glif2 {
    fn membrane(&self) -> Lif {
        Lif {
            rest_v: self.rest_v.clone(),
            // Unused: GLIF2 resets linearly.
            reset_v: self.rest_v.clone(),
            thresh_v: self.thresh_eq_v.clone(),
            refrac_t: self.refrac_t.clone(),
            tc_membrane: self.tc_membrane.clone(),
            resistance: self.resistance.clone(),
        }
    }
}

impl NeuronModel for Glif2 {
    const NAME: &'static str = "glif2";
    const PARAMS: &'static [&'static str] = &[
        "rest_v",
        "reset_v_add",
        "reset_v_mul",
        "thresh_eq_v",
        "refrac_t",
        "tc_membrane",
        "rc_adaptation",
        "spike_increment",
        "resistance",
    ];

    fn from_params(p: &mut ParamReader<'_>) -> Result<Self, BuildError> {
        Ok(Self {
            rest_v: p.required("rest_v")?,
            reset_v_add: p.required("reset_v_add")?,
            reset_v_mul: p.required("reset_v_mul")?,
            thresh_eq_v: p.required("thresh_eq_v")?,
            refrac_t: p.required("refrac_t")?,
            tc_membrane: p.required("tc_membrane")?,
            rc_adaptation: p.required_terms("rc_adaptation")?,
            spike_increment: p.required_terms("spike_increment")?,
            resistance: p.optional("resistance", 1.0)?,
        })
    }

    fn validate(&self, n: usize) -> Result<(), ParamError> {
        validate_membrane(
            n,
            &[
                ("rest_v", &self.rest_v),
                ("reset_v_add", &self.reset_v_add),
                ("reset_v_mul", &self.reset_v_mul),
                ("thresh_eq_v", &self.thresh_eq_v),
                ("refrac_t", &self.refrac_t),
                ("tc_membrane", &self.tc_membrane),
                ("resistance", &self.resistance),
            ],
            &self.refrac_t,
            &self.tc_membrane,
            &self.resistance,
        )?;
        check::less_than("rest_v", &self.rest_v, "thresh_eq_v", &self.thresh_eq_v, n)?;
        check::terms(&[
            ("rc_adaptation", &self.rc_adaptation),
            ("spike_increment", &self.spike_increment),
        ])?;
        check::each_term("rc_adaptation", &self.rc_adaptation, "> 0 per ms", |v| {
            v > 0.0
        })?;
        check::each_term("spike_increment", &self.spike_increment, "finite", |_| true)
    }

    fn initial_voltage(&self, i: usize) -> f32 {
        self.rest_v.at(i)
    }

    fn add_systems(systems: &mut ModelSystems<'_>) {
        systems.add_neuron_pass(Phase::Integrate, threshold_adaptation_system::<Glif2>);
    }

    fn insert(self, entity: &mut EntityWorldMut<'_>, ctx: &SpawnContext<'_>) {
        let n = ctx.size as usize;
        // Inferno implements the rate as a time constant τ = 1/λ: exp(−Δt/τ).
        let decay = self
            .rc_adaptation
            .iter()
            .map(|rate| (-ctx.step_time / (1.0 / rate)).exp())
            .collect();
        let reset = Reset::Linear {
            mul: self.reset_v_mul.to_vec(n),
            add: self.reset_v_add.to_vec(n),
        };
        let kernel = ThresholdAdaptationKernel::new(
            &self.membrane(),
            reset,
            decay,
            self.spike_increment.clone(),
            ctx,
        );
        insert_adaptive(entity, self, kernel, ctx);
    }
}
