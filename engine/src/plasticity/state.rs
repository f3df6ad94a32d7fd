//! The per-projection learning state ([`Plasticity`]) and the step system.
//!
//! One step of a plastic projection (in train mode) runs, in this order:
//!
//! 1. the reward of each batch copy is read ([`Reward`]);
//! 2. **pre arrivals** of this step are taken from a ring of future arrivals (filled when
//!    the spikes were emitted, D + 1 steps earlier) and the pre traces are updated: one
//!    dense decay pass over the pre *neurons* (uniform delay) or nothing (per-synapse
//!    delays: lazy traces), then the arriving units' spike updates;
//! 3. **post spikes** of this step (the post population's `Spikes`) update the post traces
//!    the same way (dense, per neuron);
//! 4. **updates**: for each post neuron that spiked in some copy, the synapses onto it (a
//!    column of the connectivity: a CSC index built once at attach time for sparse
//!    layouts, computed for dense/lateral/diagonal ones); then, for each pre unit that
//!    arrived in some copy, its row (or its synapse), skipping synapses already handled in a
//!    column. Each touched synapse gathers its post- and pre-triggered terms over all batch
//!    copies, splits them into potentiation and depression by sign, reduces them over the
//!    batch and applies them once with the bounds — so bounding always sees the weight
//!    before the step's update, as Inferno's `Updater` does. MSTDPET instead adds the terms
//!    to its eligibility traces and then makes one pass over all synapses (decay and
//!    Δw = γ·M·z·Δt);
//! 5. this step's pre spikes are scheduled into the ring for their arrival steps.
//!
//! Work per step: O(pre + post neurons) for the dense trace decay, plus O(fan-in) per post
//! spike and O(fan-out) per pre arrival — never O(synapses), except MSTDPET's eligibility
//! pass. Nothing allocates in the step once the arrival buffers have reached their largest
//! size. Everything runs in a fixed order on one thread: results do not depend on the
//! thread count.

use bevy_ecs::prelude::*;

use super::bounds::{Bounds, split};
use super::nearest_pair::NearestPairKernel;
use super::reward::Reward;
use super::stdp::{PairKernel, sign};
use super::traces::{NEVER, Side, TraceSpec};
use super::triplet::TripletKernel;
use super::{LearningRule, PlasticityRule, UpdateReduction};
use crate::adaptation::PopulationMode;
use crate::clock::Clock;
use crate::delay::Delays;
use crate::population::Spikes;
use crate::projection::prefetch_read;
use crate::projection::{Connectivity, Layout, ProjectsFrom, ProjectsTo, Weights};
use crate::value::Param;

/// The update terms of a rule for one synapse and batch copy, from the traces after this
/// step's spikes: `post_term` is called when the post neuron spiked in step `k`, `pre_term`
/// when the pre unit's spike arrived in step `k`. Signed: > 0 potentiates.
pub(crate) trait Kernel {
    /// The post-triggered term.
    fn post_term(&self, pre: &Side, pu: usize, post: &Side, pj: usize, k: u64) -> f32;
    /// The pre-triggered term.
    fn pre_term(&self, pre: &Side, pu: usize, post: &Side, pj: usize, k: u64) -> f32;
}

#[derive(Clone, Copy, Debug)]
enum KernelKind {
    Pair(PairKernel),
    Triplet(TripletKernel),
    NearestPair(NearestPairKernel),
}

#[derive(Clone, Copy, Debug)]
enum Modulation {
    /// Unmodulated: terms apply as they are.
    None,
    /// Terms scaled by γ·M.
    Reward { scale: f32 },
    /// Terms feed eligibility traces; Δw = γ·M·z·Δt every step.
    Eligibility {
        scale: f32,
        decay: f32,
        inv_tau: f32,
        lanes: usize,
    },
}

/// How pre spikes reach the synapses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DelayKind {
    /// Every synapse has delay D: pre units are neurons.
    PerNeuron(u16),
    /// Delays differ per synapse (at most `max`): pre units are synapses.
    PerSynapse(u16),
}

impl DelayKind {
    fn of(delays: Option<&Delays>) -> Self {
        match delays {
            None => DelayKind::PerNeuron(0),
            Some(Delays::Uniform(d)) => DelayKind::PerNeuron(*d),
            Some(d) => DelayKind::PerSynapse(d.max()),
        }
    }

    /// Ring slots per batch copy: arrivals are scheduled up to D + 1 steps ahead.
    fn slots(self) -> usize {
        match self {
            DelayKind::PerNeuron(d) | DelayKind::PerSynapse(d) => usize::from(d) + 2,
        }
    }
}

/// Future arrivals, by arrival step modulo the ring size, then batch copy.
#[derive(Clone, Debug)]
enum Arrivals {
    /// Arriving pre neurons.
    PerNeuron { delay: u64, slots: Vec<Vec<u32>> },
    /// Arriving synapses `(synapse, post neuron)`.
    PerSynapse { slots: Vec<Vec<(u32, u32)>> },
}

/// Largest ring (slots × batch × pre neurons) for which every slot reserves room for all
/// pre neurons up front; beyond it slots start smaller and grow to their largest use.
const RESERVE_ALL_LIMIT: usize = 1 << 22;

impl Arrivals {
    fn new(kind: DelayKind, pre: usize, batch: usize) -> Self {
        let n = kind.slots() * batch;
        match kind {
            DelayKind::PerNeuron(d) => {
                let cap = if n * pre <= RESERVE_ALL_LIMIT {
                    pre
                } else {
                    pre.min(1024)
                };
                Arrivals::PerNeuron {
                    delay: u64::from(d),
                    slots: (0..n).map(|_| Vec::with_capacity(cap)).collect(),
                }
            }
            DelayKind::PerSynapse(_) => Arrivals::PerSynapse {
                slots: (0..n).map(|_| Vec::with_capacity(64)).collect(),
            },
        }
    }

    fn clear(&mut self) {
        match self {
            Arrivals::PerNeuron { slots, .. } => slots.iter_mut().for_each(Vec::clear),
            Arrivals::PerSynapse { slots } => slots.iter_mut().for_each(Vec::clear),
        }
    }

    fn clear_slot(&mut self, slot: usize, batch: usize) {
        let r = slot * batch..(slot + 1) * batch;
        match self {
            Arrivals::PerNeuron { slots, .. } => slots[r].iter_mut().for_each(Vec::clear),
            Arrivals::PerSynapse { slots } => slots[r].iter_mut().for_each(Vec::clear),
        }
    }

    /// Schedules the pre spikes emitted in step `k` for their arrival steps.
    fn push(
        &mut self,
        k: u64,
        ring: usize,
        batch: usize,
        pre: &Spikes,
        conn: &Connectivity,
        delays: Option<&Delays>,
    ) {
        let copies = batch.min(pre.batches());
        match self {
            Arrivals::PerNeuron { delay, slots } => {
                let slot = ((k + 1 + *delay) % ring as u64) as usize;
                for b in 0..copies {
                    slots[slot * batch + b].extend_from_slice(pre.batch(b));
                }
            }
            Arrivals::PerSynapse { slots } => {
                for b in 0..copies {
                    for &i in pre.batch(b) {
                        let i = i as usize;
                        for (s, j) in conn.row_range(i).zip(conn.row(i).iter()) {
                            let d = delays.map_or(0, |d| u64::from(d.get(s)));
                            let slot = ((k + 1 + d) % ring as u64) as usize;
                            slots[slot * batch + b].push((s as u32, j));
                        }
                    }
                }
            }
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            Arrivals::PerNeuron { slots, .. } => slots.iter().map(|s| s.capacity() * 4).sum(),
            Arrivals::PerSynapse { slots } => slots.iter().map(|s| s.capacity() * 8).sum(),
        }
    }
}

/// The synapses onto each post neuron: `(synapse, pre neuron)` in increasing synapse order.
#[derive(Clone, Debug)]
enum Columns {
    /// Compressed sparse columns of a sparse layout.
    Csc {
        offsets: Vec<usize>,
        synapses: Vec<u32>,
        pre: Vec<u32>,
    },
    /// Every pre neuron i: synapse i·post + j.
    Dense { pre: usize, post: usize },
    /// Every neuron i ≠ j: synapse `i·(n − 1) + j − [j > i]`.
    Lateral { n: usize },
    /// Neuron j: synapse j.
    Diagonal,
}

impl Columns {
    fn new(conn: &Connectivity, post: usize) -> Self {
        match conn.layout() {
            Layout::Sparse {
                offsets, targets, ..
            } => {
                // Counting sort of the synapses by post neuron; each column keeps increasing
                // synapse order (hence increasing pre order).
                let mut col = vec![0usize; post + 1];
                let targets = targets.slice();
                for j in targets.iter() {
                    col[j as usize + 1] += 1;
                }
                for j in 0..post {
                    col[j + 1] += col[j];
                }
                let mut fill = col.clone();
                let mut synapses = vec![0u32; targets.len()];
                let mut pre = vec![0u32; targets.len()];
                for (i, w) in offsets.windows(2).enumerate() {
                    for (s, j) in targets.range(w[0]..w[1]).iter().enumerate() {
                        let j = j as usize;
                        synapses[fill[j]] = (w[0] + s) as u32;
                        pre[fill[j]] = i as u32;
                        fill[j] += 1;
                    }
                }
                Columns::Csc {
                    offsets: col,
                    synapses,
                    pre,
                }
            }
            Layout::Dense { pre, post } => Columns::Dense {
                pre: *pre as usize,
                post: *post as usize,
            },
            Layout::Lateral { n } => Columns::Lateral { n: *n as usize },
            Layout::Diagonal { .. } => Columns::Diagonal,
        }
    }

    /// Calls `f(synapse, pre neuron)` for every synapse onto post neuron `j`.
    #[inline]
    fn for_each(&self, j: usize, mut f: impl FnMut(usize, usize)) {
        match self {
            Columns::Csc {
                offsets,
                synapses,
                pre,
            } => {
                for c in offsets[j]..offsets[j + 1] {
                    f(synapses[c] as usize, pre[c] as usize);
                }
            }
            Columns::Dense { pre, post } => {
                for i in 0..*pre {
                    f(i * post + j, i);
                }
            }
            Columns::Lateral { n } => {
                let m = n - 1;
                for i in 0..j {
                    f(i * m + j - 1, i);
                }
                for i in j + 1..*n {
                    f(i * m + j, i);
                }
            }
            Columns::Diagonal => f(j, j),
        }
    }

    /// Asks the CPU to start loading the weights of column `j` (sparse layouts: they are
    /// scattered over the rows, one cache miss each otherwise). A hint only: no effect on
    /// results.
    fn prefetch(&self, j: usize, w: &[f32]) {
        if let Columns::Csc {
            offsets, synapses, ..
        } = self
        {
            for &s in &synapses[offsets[j]..offsets[j + 1]] {
                prefetch_read(w, s as usize);
            }
        }
    }

    fn memory_bytes(&self) -> usize {
        match self {
            Columns::Csc {
                offsets,
                synapses,
                pre,
            } => offsets.len() * 8 + synapses.len() * 4 + pre.len() * 4,
            _ => 0,
        }
    }
}

/// Per-step bookkeeping: which neurons spiked in *any* batch copy.
#[derive(Clone, Debug)]
struct Scratch {
    /// Step in which each post neuron last spiked in some copy.
    post_any: Vec<u64>,
    /// Step in which each pre neuron last arrived in some copy (uniform delay).
    pre_any: Vec<u64>,
    /// Post neurons spiking this step in some copy (each once).
    post_union: Vec<u32>,
    /// Pre neurons arriving this step in some copy (each once; uniform delay).
    pre_union: Vec<u32>,
    /// Synapses receiving an arrival this step in some copy (each once; per-synapse delays).
    syn_union: Vec<(u32, u32)>,
    /// γ·M per copy (times Δt for eligibility; 1 without modulation).
    modulation: Vec<f32>,
}

/// The learning state of a plastic projection: its rule, the spike traces of both sides,
/// the future pre arrivals, the eligibility traces (MSTDPET) and the post → synapse index.
///
/// One step k in train mode, in this order:
///
/// 1. the reward of each batch copy is read ([`Reward`]);
/// 2. the pre spikes arriving in step k (emitted in step k − 1 − D, kept in a ring of
///    future arrivals) update the pre traces: a dense decay pass over the pre neurons
///    (uniform delay) or nothing (per-synapse delays: lazily decayed traces), then each
///    arriving unit's spike update;
/// 3. the post population's spikes of step k update the post traces the same way;
/// 4. each post neuron that spiked in some copy has its column of synapses updated, then
///    each arriving pre unit its row (skipping synapses already updated in a column): a
///    touched synapse gathers its post- and pre-triggered terms over the copies, splits
///    them by sign into potentiation and depression, reduces them over the batch and
///    applies them once through the bounds, evaluated at the weight before the step.
///    MSTDPET instead adds the terms to its eligibility traces and then sweeps all
///    synapses (Δw = γ·M·z·Δt, then z decays);
/// 5. the pre spikes of step k are scheduled for their arrival steps.
///
/// Work per step: O(pre + post neurons) for the trace decay plus O(fan-in) per post spike
/// and O(fan-out) per arrival — O(synapses) only for MSTDPET's sweep. Nothing allocates once
/// the arrival buffers have reached their largest size.
///
/// Attached by [`Simulation::add_plasticity`](crate::Simulation::add_plasticity); the
/// projection's `Weights` are per synapse from then on. Memory: per-neuron traces
/// (4–12 bytes per neuron and batch copy per side), a CSC index for sparse layouts
/// (8 bytes per synapse), per-synapse pre traces only when delays differ per synapse
/// (12–20 bytes per synapse and copy), eligibility (4 or 8 bytes per synapse and copy,
/// MSTDPET only), and the arrival ring.
#[derive(Component, Clone, Debug)]
pub struct Plasticity {
    rule: PlasticityRule,
    kernel: KernelKind,
    modulation: Modulation,
    bounds: Bounds,
    /// Batch reduction factor: 1 (sum) or 1/B (mean).
    reduce: f32,
    batch: usize,
    dt: f64,
    pre_size: usize,
    post_size: usize,
    synapses: usize,
    delay: DelayKind,
    pre: Side,
    post: Side,
    columns: Columns,
    arrivals: Arrivals,
    /// MSTDPET: `z[(s·B + b)·lanes + l]`, stored already decayed by one step (what the
    /// next step adds to).
    eligibility: Vec<f32>,
    scratch: Scratch,
}

impl Plasticity {
    /// The state of `rule` (already validated) on a projection with connectivity `conn`
    /// from `pre_size` to `post_size` neurons, `batch` copies, Δt = `dt` ms.
    pub(crate) fn new(
        rule: PlasticityRule,
        conn: &Connectivity,
        pre_size: usize,
        post_size: usize,
        batch: usize,
        delays: Option<&Delays>,
        dt: f64,
    ) -> Self {
        let bounds = Bounds::new(&rule.bounds);
        let (kernel, modulation) = match &rule.learning {
            LearningRule::Stdp(s) => (KernelKind::Pair(s.kernel()), Modulation::None),
            LearningRule::Mstdp(m) => (
                KernelKind::Pair(m.stdp.kernel()),
                Modulation::Reward { scale: m.scale },
            ),
            LearningRule::Mstdpet(m) => {
                // Two lanes only when soft bounds must see the halves apart.
                let split = bounds.is_soft() && sign(m.stdp.lr_post) != sign(m.stdp.lr_pre);
                (
                    KernelKind::Pair(m.stdp.kernel()),
                    Modulation::Eligibility {
                        scale: m.scale,
                        decay: (-dt / f64::from(m.tc_eligibility)).exp() as f32,
                        inv_tau: 1.0 / m.tc_eligibility,
                        lanes: if split { 2 } else { 1 },
                    },
                )
            }
            LearningRule::TripletStdp(t) => (KernelKind::Triplet(t.kernel()), Modulation::None),
            LearningRule::NearestPairStdp(n) => {
                (KernelKind::NearestPair(n.kernel(dt)), Modulation::None)
            }
        };
        let reduce = match rule.reduction.unwrap_or(rule.learning.default_reduction()) {
            UpdateReduction::Mean => 1.0 / batch as f32,
            UpdateReduction::Sum => 1.0,
        };
        let synapses = conn.len();
        let lanes = match modulation {
            Modulation::Eligibility { lanes, .. } => lanes,
            _ => 0,
        };
        let delay = DelayKind::of(delays);
        let mut state = Self {
            rule,
            kernel,
            modulation,
            bounds,
            reduce,
            batch,
            dt,
            pre_size,
            post_size,
            synapses,
            delay,
            pre: Side::new(0, 0, false, None, None, dt),
            post: Side::new(0, 0, false, None, None, dt),
            columns: Columns::new(conn, post_size),
            arrivals: Arrivals::new(delay, pre_size, batch),
            eligibility: vec![0.0; synapses * batch * lanes],
            scratch: Scratch {
                post_any: vec![NEVER; post_size],
                pre_any: vec![NEVER; pre_size],
                post_union: Vec::with_capacity(post_size),
                pre_union: Vec::with_capacity(pre_size),
                syn_union: Vec::with_capacity(64),
                modulation: vec![0.0; batch],
            },
        };
        state.build_sides();
        state
    }

    /// (Re)builds both sides' traces for the current delay kind.
    fn build_sides(&mut self) {
        let ((pre_fast, pre_slow), (post_fast, post_slow)) = self.trace_specs();
        let (units, lazy) = match self.delay {
            DelayKind::PerNeuron(_) => (self.pre_size, false),
            DelayKind::PerSynapse(_) => (self.synapses, true),
        };
        self.pre = Side::new(units, self.batch, lazy, pre_fast, pre_slow, self.dt);
        self.post = Side::new(
            self.post_size,
            self.batch,
            false,
            post_fast,
            post_slow,
            self.dt,
        );
    }

    /// The (pre, post) trace specifications.
    fn trace_specs(&self) -> (SideSpecs, SideSpecs) {
        match &self.rule.learning {
            LearningRule::Stdp(s) => pair_specs(s.traces()),
            LearningRule::Mstdp(m) => pair_specs(m.stdp.traces()),
            LearningRule::Mstdpet(m) => pair_specs(m.stdp.traces()),
            LearningRule::TripletStdp(t) => {
                let ((pf, ps), (qf, qs)) = t.traces();
                ((Some(pf), Some(ps)), (Some(qf), Some(qs)))
            }
            LearningRule::NearestPairStdp(_) => ((None, None), (None, None)),
        }
    }

    /// The rule.
    pub fn rule(&self) -> &PlasticityRule {
        &self.rule
    }

    /// Bytes of learning state (traces, indices, eligibility, arrival buffers).
    pub fn memory_bytes(&self) -> usize {
        self.pre.memory_bytes()
            + self.post.memory_bytes()
            + self.columns.memory_bytes()
            + self.arrivals.memory_bytes()
            + self.eligibility.len() * 4
            + self.scratch.post_any.len() * 8
            + self.scratch.pre_any.len() * 8
    }

    /// Forgets all spikes, traces, eligibility and scheduled arrivals (weights are kept).
    pub fn reset(&mut self) {
        self.pre.reset();
        self.post.reset();
        self.arrivals.clear();
        self.eligibility.fill(0.0);
        self.scratch.post_any.fill(NEVER);
        self.scratch.pre_any.fill(NEVER);
    }

    /// Adapts to delays set after the rule was attached (drops scheduled arrivals and, if
    /// the pre units change between neurons and synapses, the pre traces).
    fn follow_delays(&mut self, delays: Option<&Delays>) {
        let kind = DelayKind::of(delays);
        if kind == self.delay {
            return;
        }
        let units_change = matches!(
            (kind, self.delay),
            (DelayKind::PerNeuron(_), DelayKind::PerSynapse(_))
                | (DelayKind::PerSynapse(_), DelayKind::PerNeuron(_))
        );
        self.delay = kind;
        self.arrivals = Arrivals::new(kind, self.pre_size, self.batch);
        if units_change {
            let post = self.post.clone();
            self.build_sides();
            self.post = post;
        }
    }

    /// One step (see the module docs).
    fn step(&mut self, inp: &StepInput<'_>, w: &mut [f32]) {
        let k = inp.k;
        let ring = self.delay.slots();
        let slot = (k % ring as u64) as usize;
        if !inp.train {
            // Frozen: nothing is observed; arrivals due now are dropped so the ring stays
            // consistent when training resumes.
            self.arrivals.clear_slot(slot, self.batch);
            return;
        }
        self.read_modulation(inp.reward);
        self.update_pre(k, slot);
        self.update_post(k, inp.post);
        match self.kernel {
            KernelKind::Pair(kern) => self.learn(&kern, k, slot, inp, w),
            KernelKind::Triplet(kern) => self.learn(&kern, k, slot, inp, w),
            KernelKind::NearestPair(kern) => self.learn(&kern, k, slot, inp, w),
        }
        self.arrivals.clear_slot(slot, self.batch);
        if let Some(pre) = inp.pre {
            self.arrivals
                .push(k, ring, self.batch, pre, inp.conn, inp.delays);
        }
    }

    fn read_modulation(&mut self, reward: Option<&Reward>) {
        let m = |b: usize| reward.map_or(0.0, |r| r.get(b));
        let (mods, dt) = (&mut self.scratch.modulation, self.dt as f32);
        match self.modulation {
            Modulation::None => mods.fill(1.0),
            Modulation::Reward { scale } => {
                for (b, v) in mods.iter_mut().enumerate() {
                    *v = scale * m(b);
                }
            }
            Modulation::Eligibility { scale, .. } => {
                for (b, v) in mods.iter_mut().enumerate() {
                    *v = scale * m(b) * dt;
                }
            }
        }
    }

    /// Step 2: pre arrivals update the pre traces.
    fn update_pre(&mut self, k: u64, slot: usize) {
        let Self {
            pre,
            arrivals,
            scratch,
            batch,
            ..
        } = self;
        let batch = *batch;
        let units = pre.units;
        match arrivals {
            Arrivals::PerNeuron { slots, .. } => {
                let lists = &slots[slot * batch..(slot + 1) * batch];
                for (b, list) in lists.iter().enumerate() {
                    for &i in list {
                        pre.snapshot(b * units + i as usize, k);
                    }
                }
                pre.decay();
                scratch.pre_union.clear();
                for (b, list) in lists.iter().enumerate() {
                    for &i in list {
                        pre.spike(b * units + i as usize, k);
                        let any = &mut scratch.pre_any[i as usize];
                        if *any != k {
                            *any = k;
                            scratch.pre_union.push(i);
                        }
                    }
                }
            }
            Arrivals::PerSynapse { slots } => {
                let lists = &slots[slot * batch..(slot + 1) * batch];
                for (b, list) in lists.iter().enumerate() {
                    for &(s, _) in list {
                        pre.snapshot(b * units + s as usize, k);
                    }
                }
                scratch.syn_union.clear();
                for (b, list) in lists.iter().enumerate() {
                    for &(s, j) in list {
                        let s_ = s as usize;
                        pre.spike(b * units + s_, k);
                        if (0..b).all(|c| !pre.spiked(c * units + s_, k)) {
                            scratch.syn_union.push((s, j));
                        }
                    }
                }
            }
        }
    }

    /// Step 3: post spikes update the post traces.
    fn update_post(&mut self, k: u64, spikes: &Spikes) {
        let copies = self.batch.min(spikes.batches());
        let n = self.post_size;
        for b in 0..copies {
            for &j in spikes.batch(b) {
                self.post.snapshot(b * n + j as usize, k);
            }
        }
        self.post.decay();
        self.scratch.post_union.clear();
        for b in 0..copies {
            for &j in spikes.batch(b) {
                self.post.spike(b * n + j as usize, k);
                let any = &mut self.scratch.post_any[j as usize];
                if *any != k {
                    *any = k;
                    self.scratch.post_union.push(j);
                }
            }
        }
    }

    /// Step 4.
    fn learn<K: Kernel>(
        &mut self,
        kern: &K,
        k: u64,
        slot: usize,
        inp: &StepInput<'_>,
        w: &mut [f32],
    ) {
        match self.modulation {
            Modulation::Eligibility {
                decay,
                inv_tau,
                lanes,
                ..
            } => self.learn_eligibility(kern, k, slot, inp, w, decay, inv_tau, lanes),
            _ => self.learn_immediate(kern, k, inp.conn, w),
        }
    }

    /// Event-driven updates (STDP, MSTDP, triplet, nearest-pair).
    fn learn_immediate<K: Kernel>(&self, kern: &K, k: u64, conn: &Connectivity, w: &mut [f32]) {
        let Self {
            pre,
            post,
            columns,
            scratch,
            bounds,
            reduce,
            batch,
            delay,
            ..
        } = self;
        let (batch, r) = (*batch, *reduce);
        let per_synapse = matches!(delay, DelayKind::PerSynapse(_));
        let (nu, np) = (pre.units, post.units);
        let mods = &scratch.modulation;
        // Synapses onto post neurons that spiked in some copy: both kinds of term. The next
        // column's scattered weights are prefetched while this one is updated.
        if let Some(&j) = scratch.post_union.first() {
            columns.prefetch(j as usize, w);
        }
        for (n, &j) in scratch.post_union.iter().enumerate() {
            let j = j as usize;
            if let Some(&next) = scratch.post_union.get(n + 1) {
                columns.prefetch(next as usize, w);
            }
            columns.for_each(j, |s, i| {
                let u = if per_synapse { s } else { i };
                let (mut p, mut d) = (0.0, 0.0);
                for (b, &m) in mods.iter().enumerate().take(batch) {
                    let (pu, pj) = (b * nu + u, b * np + j);
                    if post.spiked(pj, k) {
                        split(m * kern.post_term(pre, pu, post, pj, k), &mut p, &mut d);
                    }
                    if pre.spiked(pu, k) {
                        split(m * kern.pre_term(pre, pu, post, pj, k), &mut p, &mut d);
                    }
                }
                bounds.apply(&mut w[s], p * r, d * r);
            });
        }
        // Arrivals at synapses whose post neuron did not spike in any copy: pre terms only.
        let mut pre_only = |s: usize, u: usize, j: usize| {
            if scratch.post_any[j] == k {
                return;
            }
            let (mut p, mut d) = (0.0, 0.0);
            for (b, &m) in mods.iter().enumerate().take(batch) {
                let (pu, pj) = (b * nu + u, b * np + j);
                if pre.spiked(pu, k) {
                    split(m * kern.pre_term(pre, pu, post, pj, k), &mut p, &mut d);
                }
            }
            bounds.apply(&mut w[s], p * r, d * r);
        };
        if per_synapse {
            for &(s, j) in &scratch.syn_union {
                pre_only(s as usize, s as usize, j as usize);
            }
        } else {
            for &i in &scratch.pre_union {
                let i = i as usize;
                for (s, j) in conn.row_range(i).zip(conn.row(i).iter()) {
                    pre_only(s, i, j as usize);
                }
            }
        }
    }

    /// MSTDPET: terms feed the eligibility traces, then one pass over all synapses.
    #[expect(
        clippy::too_many_arguments,
        reason = "the eligibility constants unpacked from the modulation once per step"
    )]
    fn learn_eligibility<K: Kernel>(
        &mut self,
        kern: &K,
        k: u64,
        slot: usize,
        inp: &StepInput<'_>,
        w: &mut [f32],
        decay: f32,
        inv_tau: f32,
        lanes: usize,
    ) {
        let Self {
            pre,
            post,
            columns,
            arrivals,
            eligibility: z,
            scratch,
            bounds,
            reduce,
            batch,
            delay,
            ..
        } = self;
        let (batch, r) = (*batch, *reduce);
        let per_synapse = matches!(delay, DelayKind::PerSynapse(_));
        let (nu, np) = (pre.units, post.units);
        let last_lane = lanes - 1;
        let conn = inp.conn;
        // Post spikes: z_post += x_pre / τ_z.
        for b in 0..batch.min(inp.post.batches()) {
            for &j in inp.post.batch(b) {
                let j = j as usize;
                columns.for_each(j, |s, i| {
                    let u = if per_synapse { s } else { i };
                    let t = kern.post_term(pre, b * nu + u, post, b * np + j, k);
                    z[(s * batch + b) * lanes] += t * inv_tau;
                });
            }
        }
        // Pre arrivals: z_pre += x_post / τ_z.
        match arrivals {
            Arrivals::PerNeuron { slots, .. } => {
                for b in 0..batch {
                    for &i in &slots[slot * batch + b] {
                        let i = i as usize;
                        for (s, j) in conn.row_range(i).zip(conn.row(i).iter()) {
                            let t = kern.pre_term(pre, b * nu + i, post, b * np + j as usize, k);
                            z[(s * batch + b) * lanes + last_lane] += t * inv_tau;
                        }
                    }
                }
            }
            Arrivals::PerSynapse { slots } => {
                for b in 0..batch {
                    for &(s, j) in &slots[slot * batch + b] {
                        let s = s as usize;
                        let t = kern.pre_term(pre, b * nu + s, post, b * np + j as usize, k);
                        z[(s * batch + b) * lanes + last_lane] += t * inv_tau;
                    }
                }
            }
        }
        // Δw = γ·M·z·Δt for every synapse, then the decay for the next step.
        let mods = &scratch.modulation;
        if mods.iter().all(|&m| m == 0.0) {
            z.iter_mut().for_each(|v| *v *= decay);
            return;
        }
        let per = batch * lanes;
        for (ws, zs) in w.iter_mut().zip(z.chunks_exact_mut(per)) {
            let (mut p, mut d) = (0.0, 0.0);
            for (b, &m) in mods.iter().enumerate() {
                for v in &mut zs[b * lanes..(b + 1) * lanes] {
                    split(m * *v, &mut p, &mut d);
                    *v *= decay;
                }
            }
            bounds.apply(ws, p * r, d * r);
        }
    }
}

/// The (fast, slow) traces of one side.
type SideSpecs = (Option<TraceSpec>, Option<TraceSpec>);

fn pair_specs((pre, post): (TraceSpec, TraceSpec)) -> (SideSpecs, SideSpecs) {
    ((Some(pre), None), (Some(post), None))
}

/// What one step of one projection sees.
struct StepInput<'a> {
    k: u64,
    train: bool,
    conn: &'a Connectivity,
    delays: Option<&'a Delays>,
    pre: Option<&'a Spikes>,
    post: &'a Spikes,
    reward: Option<&'a Reward>,
}

/// [`Phase::Plasticity`](crate::Phase::Plasticity): one learning step of every plastic
/// projection, in creation order of their entities' query iteration (each projection's
/// update only touches its own weights, so the order does not affect results).
///
/// Learning happens when the post population is in train mode
/// ([`PopulationMode`]); in eval mode the rule is frozen (no trace, eligibility or weight
/// change; spikes are not observed).
#[expect(
    clippy::type_complexity,
    reason = "one query over the components a plastic projection reads and writes"
)]
pub fn plasticity_system(
    clock: Res<Clock>,
    reward: Option<Res<Reward>>,
    pops: Query<(&Spikes, Option<&PopulationMode>)>,
    mut projs: Query<(
        &mut Plasticity,
        &mut Weights,
        &Connectivity,
        &ProjectsFrom,
        &ProjectsTo,
        Option<Ref<Delays>>,
    )>,
) {
    let reward = reward.as_deref();
    for (mut pl, mut weights, conn, from, to, delays) in &mut projs {
        let Ok((post, mode)) = pops.get(to.0) else {
            continue;
        };
        let pre = pops.get(from.0).ok().map(|(s, _)| s);
        let delays_changed = delays.as_ref().is_some_and(Ref::is_changed);
        let delays = delays.as_deref();
        if delays_changed || delays.is_none() {
            pl.follow_delays(delays);
        }
        if let Param::Scalar(w) = weights.0 {
            weights.0 = Param::PerElement(vec![w; conn.len()]);
        }
        let Param::PerElement(w) = &mut weights.0 else {
            continue;
        };
        if w.len() != pl.synapses {
            continue;
        }
        let inp = StepInput {
            k: clock.step,
            train: mode.is_none_or(PopulationMode::trains),
            conn,
            delays,
            pre,
            post,
            reward,
        };
        pl.step(&inp, w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns list exactly the synapses onto each post neuron, for every layout.
    #[test]
    fn columns_match_the_rows() {
        let conns = [
            (
                Connectivity::from_csr(vec![0, 2, 2, 5], vec![0, 3, 1, 2, 3]),
                4,
            ),
            (Connectivity::dense(3, 4), 4),
            (Connectivity::lateral(4), 4),
            (Connectivity::diagonal(4), 4),
        ];
        for (conn, post) in conns {
            let cols = Columns::new(&conn, post);
            for j in 0..post {
                let mut got = Vec::new();
                cols.for_each(j, |s, i| got.push((s, i)));
                let want: Vec<(usize, usize)> = (0..conn.pre_size())
                    .flat_map(|i| {
                        conn.row_range(i)
                            .zip(conn.row(i).iter())
                            .filter(move |&(_, t)| t as usize == j)
                            .map(move |(s, _)| (s, i))
                    })
                    .collect();
                assert_eq!(got, want, "{:?} column {j}", conn.layout());
            }
        }
    }
}
