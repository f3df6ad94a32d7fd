//! Projections: one entity per set of synapses from one population to another.
//!
//! Synapses are stored in compressed sparse rows (CSR) by presynaptic neuron: the targets of
//! pre neuron `i` are `targets[offsets[i]..offsets[i + 1]]`, in increasing post index. A
//! target is a `u16` onto populations of up to 65 536 neurons and a `u32` beyond
//! ([`Targets`]); with an `f32` weight per synapse that is 6 or 8 bytes, and delivering a
//! spike touches one contiguous row — work proportional to spikes × fan-out, never
//! pre × post.
//!
//! A projection entity points at its populations through the bevy relationships
//! [`ProjectsFrom`] and [`ProjectsTo`]; bevy keeps the reverse lists
//! ([`OutgoingProjections`], [`IncomingProjections`]) on the populations up to date. The
//! synapse model's parameter component (e.g. `SingleExponentialCurrent`) and the output
//! current [`ProjectionCurrent`] live on the same entity.

use bevy_ecs::component::Component;
use bevy_ecs::entity::Entity;

use crate::parallel;
pub use crate::targets::{TargetIndex, TargetSlice, Targets};
use crate::value::Param;

/// The presynaptic population of a projection.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
#[relationship(relationship_target = OutgoingProjections)]
pub struct ProjectsFrom(pub Entity);

/// The projections leaving a population, in creation order (maintained by bevy).
#[derive(Component, Debug, Default, PartialEq, Eq)]
#[relationship_target(relationship = ProjectsFrom)]
pub struct OutgoingProjections(Vec<Entity>);

impl OutgoingProjections {
    /// The projection entities, in creation order.
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

/// The postsynaptic population of a projection.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
#[relationship(relationship_target = IncomingProjections)]
pub struct ProjectsTo(pub Entity);

/// The projections arriving at a population, in creation order (maintained by bevy). This
/// order is the fixed summation order of aggregation.
#[derive(Component, Debug, Default, PartialEq, Eq)]
#[relationship_target(relationship = ProjectsTo)]
pub struct IncomingProjections(Vec<Entity>);

impl IncomingProjections {
    /// The projection entities, in creation order.
    pub fn entities(&self) -> &[Entity] {
        &self.0
    }
}

/// Shape of a projection.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Projection {
    /// Pre population size.
    pub pre_size: u32,
    /// Post population size.
    pub post_size: u32,
    /// Batch copies (equal to both populations').
    pub batch: u32,
    /// Creation order (0 = first projection added).
    pub order: u32,
}

/// A handle to a projection entity, returned when it is added.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProjectionId(pub Entity);

/// How a projection's synapses are stored.
///
/// Rules with a regular structure need no target list: `all_to_all` is Inferno's
/// `LinearDense` (a dense pre × post weight matrix, row-major in canonical order),
/// `all_to_all` without autapses on a self-projection is `LinearLateral` (the matrix without
/// its diagonal), and `one_to_one` is `LinearDirect` (the diagonal). They cost only their
/// weights (4 bytes per synapse, or nothing with one shared weight), and delivering a spike
/// adds a contiguous weight row to a contiguous slice of the output, which the compiler
/// vectorises. Every other rule stores its targets in compressed sparse rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Compressed sparse rows: the targets of pre neuron `i` are
    /// `targets[offsets[i]..offsets[i + 1]]`.
    Sparse {
        /// Row offsets, length pre + 1.
        offsets: Vec<usize>,
        /// Post indices in canonical synapse order (`u16` where the post population
        /// allows, see [`Connectivity::with_post_size`]).
        targets: Targets,
        /// Whether every row is strictly increasing (all rules except `pairs`, which keeps
        /// the order given); sorted rows can be split by post range for parallel delivery.
        sorted: bool,
    },
    /// Every pre neuron to every post neuron: synapse `i·post + j` is i → j.
    Dense {
        /// Pre population size.
        pre: u32,
        /// Post population size.
        post: u32,
    },
    /// Every neuron of a population to every other one (no i → i): row i holds
    /// `0..i, i+1..n`, synapse indices `i·(n − 1)..(i + 1)·(n − 1)`.
    Lateral {
        /// Population size.
        n: u32,
    },
    /// Pre neuron i to post neuron i: synapse i.
    Diagonal {
        /// Population size (pre = post).
        n: u32,
    },
}

/// The synapses of a projection, in canonical order (by pre neuron, then post neuron; for
/// `pairs`, the order given), stored as the [`Layout`] their rule allows. Two
/// connectivities are equal when they list the same synapses in the same order, whatever
/// their layouts.
#[derive(Component, Clone, Debug)]
pub struct Connectivity {
    layout: Layout,
    /// `0, 1, …, post − 1` for the implicit layouts, so rows can be borrowed as slices.
    iota: Vec<u32>,
    /// The post population size, when known (sparse rows built for a projection).
    post_size: Option<usize>,
}

impl PartialEq for Connectivity {
    fn eq(&self, other: &Self) -> bool {
        match (&self.layout, &other.layout) {
            (Layout::Sparse { .. }, Layout::Sparse { .. })
            | (Layout::Dense { .. }, Layout::Dense { .. })
            | (Layout::Lateral { .. }, Layout::Lateral { .. })
            | (Layout::Diagonal { .. }, Layout::Diagonal { .. }) => self.layout == other.layout,
            _ => {
                self.pre_size() == other.pre_size()
                    && (0..self.pre_size()).all(|i| self.row(i).iter().eq(other.row(i).iter()))
            }
        }
    }
}

impl Eq for Connectivity {}

impl Default for Connectivity {
    fn default() -> Self {
        Self::from_csr(vec![0], Vec::new())
    }
}

/// The post targets of one pre neuron: at most two contiguous runs (two only for
/// [`Layout::Lateral`], which skips the diagonal), in synapse order.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    /// First run.
    head: TargetSlice<'a>,
    /// Second run (empty except for lateral rows).
    tail: &'a [u32],
}

impl<'a> Row<'a> {
    /// Number of targets.
    #[inline]
    pub fn len(&self) -> usize {
        self.head.len() + self.tail.len()
    }

    /// True if the row has no targets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first run of targets, as stored.
    pub fn head(&self) -> TargetSlice<'a> {
        self.head
    }

    /// The second run (empty except for lateral rows).
    pub fn tail(&self) -> &'a [u32] {
        self.tail
    }

    /// The targets, in synapse order.
    pub fn iter(self) -> impl Iterator<Item = u32> + 'a {
        self.head.iter().chain(self.tail.iter().copied())
    }

    /// Whether `j` is a target.
    pub fn contains(&self, j: u32) -> bool {
        let in_head = match self.head {
            TargetSlice::Wide(t) => t.contains(&j),
            TargetSlice::Narrow(t) => u16::try_from(j).is_ok_and(|j| t.contains(&j)),
        };
        in_head || self.tail.contains(&j)
    }

    /// The targets as a vector.
    pub fn to_vec(self) -> Vec<u32> {
        self.iter().collect()
    }
}

/// Whether every row `targets[offsets[r]..offsets[r + 1]]` strictly ascends. The descents
/// (`t[k] ≥ t[k + 1]`) of the whole target array are counted in one pass that vectorises,
/// then compared with those straddling a row boundary, which are allowed. Row by row, the
/// check took 6 % of building CUBA 4 000's four projections.
fn rows_ascend<T: TargetIndex>(offsets: &[usize], targets: &[T]) -> bool {
    let descents: usize = targets
        .iter()
        .zip(targets.iter().skip(1))
        .map(|(a, b)| usize::from(a >= b))
        .sum();
    if descents == 0 {
        return true;
    }
    let mut at_boundaries = 0;
    let mut last = 0;
    // Inner offsets; an empty row repeats one, which is counted once.
    for &o in &offsets[1..offsets.len() - 1] {
        if o != last && o < targets.len() && targets[o - 1] >= targets[o] {
            at_boundaries += 1;
        }
        last = o;
    }
    descents == at_boundaries
}

impl Connectivity {
    /// Builds from row offsets (length pre + 1, non-decreasing, last = targets.len()) and
    /// targets (each < the post size, in canonical order within a row).
    ///
    /// # Panics
    /// If the offsets are inconsistent with `targets` (a bug in a connectivity builder, not a
    /// user input error).
    pub fn from_csr(offsets: Vec<usize>, targets: Vec<u32>) -> Self {
        assert!(!offsets.is_empty() && offsets[0] == 0);
        assert_eq!(*offsets.last().expect("non-empty"), targets.len());
        assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
        let sorted = rows_ascend(&offsets, &targets);
        Self {
            layout: Layout::Sparse {
                offsets,
                targets: Targets::wide(targets),
                sorted,
            },
            iota: Vec::new(),
            post_size: None,
        }
    }

    /// Every pre neuron to every post neuron, without a target list (Inferno's
    /// `LinearDense`).
    pub fn dense(pre: u32, post: u32) -> Self {
        Self {
            layout: Layout::Dense { pre, post },
            iota: (0..post).collect(),
            post_size: None,
        }
    }

    /// Every neuron of a population of `n` to every other one (Inferno's `LinearLateral`).
    pub fn lateral(n: u32) -> Self {
        Self {
            layout: Layout::Lateral { n },
            iota: (0..n).collect(),
            post_size: None,
        }
    }

    /// Neuron i to neuron i for `n` neurons (Inferno's `LinearDirect`).
    pub fn diagonal(n: u32) -> Self {
        Self {
            layout: Layout::Diagonal { n },
            iota: (0..n).collect(),
            post_size: None,
        }
    }

    /// The storage layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// One past the largest post index any synapse can have: the post size for the
    /// implicit layouts, `u32::MAX + 1` (unknown) for sparse rows unless set by
    /// [`with_post_size`](Self::with_post_size).
    #[inline]
    pub fn post_bound(&self) -> usize {
        match &self.layout {
            Layout::Sparse { .. } => self.post_size.unwrap_or(u32::MAX as usize + 1),
            Layout::Dense { post, .. } => *post as usize,
            Layout::Lateral { n } | Layout::Diagonal { n } => *n as usize,
        }
    }

    /// Records the post population size (for sparse rows; implicit layouts know it), so
    /// that delivery into the whole post population skips per-row range checks. Sparse
    /// rows onto at most 65 536 post neurons are stored as `u16` from then on
    /// ([`Targets::narrow`]; the synapses are unchanged).
    pub fn with_post_size(mut self, post: u32) -> Self {
        self.post_size = Some(post as usize);
        if let Layout::Sparse { targets, .. } = &mut self.layout
            && post <= NARROW_POST_MAX
        {
            targets.narrow();
        }
        self
    }

    /// Number of synapses.
    pub fn len(&self) -> usize {
        match &self.layout {
            Layout::Sparse { targets, .. } => targets.len(),
            Layout::Dense { pre, post } => *pre as usize * *post as usize,
            Layout::Lateral { n } => *n as usize * (*n as usize).saturating_sub(1),
            Layout::Diagonal { n } => *n as usize,
        }
    }

    /// True if there are no synapses.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of pre neurons (rows).
    pub fn pre_size(&self) -> usize {
        match &self.layout {
            Layout::Sparse { offsets, .. } => offsets.len() - 1,
            Layout::Dense { pre, .. } => *pre as usize,
            Layout::Lateral { n } | Layout::Diagonal { n } => *n as usize,
        }
    }

    /// The synapse index range of pre neuron `i`.
    #[inline]
    pub fn row_range(&self, i: usize) -> std::ops::Range<usize> {
        match &self.layout {
            Layout::Sparse { offsets, .. } => offsets[i]..offsets[i + 1],
            Layout::Dense { post, .. } => i * *post as usize..(i + 1) * *post as usize,
            Layout::Lateral { n } => {
                let m = *n as usize - 1;
                i * m..(i + 1) * m
            }
            Layout::Diagonal { .. } => i..i + 1,
        }
    }

    /// The post targets of pre neuron `i`, in synapse order.
    #[inline]
    pub fn row(&self, i: usize) -> Row<'_> {
        let empty: &[u32] = &[];
        match &self.layout {
            Layout::Sparse {
                offsets, targets, ..
            } => Row {
                head: targets.slice().range(offsets[i]..offsets[i + 1]),
                tail: empty,
            },
            Layout::Dense { .. } => Row {
                head: TargetSlice::Wide(&self.iota),
                tail: empty,
            },
            Layout::Lateral { .. } => Row {
                head: TargetSlice::Wide(&self.iota[..i]),
                tail: &self.iota[i + 1..],
            },
            Layout::Diagonal { .. } => Row {
                head: TargetSlice::Wide(&self.iota[i..=i]),
                tail: empty,
            },
        }
    }

    /// All (pre, post) pairs in canonical synapse order.
    pub fn pairs(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        (0..self.pre_size()).flat_map(move |i| self.row(i).iter().map(move |j| (i as u32, j)))
    }

    /// All targets in canonical synapse order.
    pub fn targets(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.pre_size()).flat_map(move |i| self.row(i).iter())
    }

    /// The CSR form (row offsets, targets) of any layout.
    pub fn to_csr(&self) -> (Vec<usize>, Vec<u32>) {
        let mut offsets = Vec::with_capacity(self.pre_size() + 1);
        offsets.push(0);
        offsets.extend((0..self.pre_size()).map(|i| self.row_range(i).end));
        (offsets, self.targets().collect())
    }

    /// Bytes of static storage (offsets + targets; the index row of implicit layouts).
    pub fn memory_bytes(&self) -> usize {
        match &self.layout {
            Layout::Sparse {
                offsets, targets, ..
            } => offsets.len() * size_of::<usize>() + targets.memory_bytes(),
            _ => self.iota.len() * size_of::<u32>(),
        }
    }
}

/// Synaptic weights: one for the whole projection or one per synapse in canonical order.
/// Their unit is the synapse model's: dimensionless multipliers of the current for current
/// synapses, µS per spike for conductance synapses.
#[derive(Component, Clone, Debug, PartialEq)]
pub struct Weights(pub Param);

/// The current a projection delivers to each post neuron this step, nA
/// (`Σᵢ wᵢⱼ · Iᵢⱼ`, batch-major like population state).
#[derive(Component, Clone, Debug, Default, PartialEq)]
pub struct ProjectionCurrent(pub Vec<f32>);

/// Fewest synaptic events (spikes × fan-out) in one step for which a projection's delivery
/// alone is split over the step's thread team by post-neuron range (a section costs
/// ≈ 0.2 µs plus the parts' imbalance; an event ≈ 1–3 ns).
pub const PARALLEL_MIN_EVENTS: usize = 1 << 12;

/// Adds `scale · wᵢⱼ` to `out[j]` for every synapse i → j of every spiking pre neuron i in
/// `spikes` (event-driven delivery: work ∝ spikes × fan-out).
///
/// Each `out[j]` receives its terms in spike order, then synapse order — a fixed order, so
/// the sums are bit-identical whatever the thread count. When a step has at least
/// [`PARALLEL_MIN_EVENTS`] events and a thread team runs the step
/// ([`crate::parallel`]), the post neurons are split into ranges, one per thread (rows
/// sorted by post are cut by binary search; `pairs` rows in user order are always
/// delivered by one thread).
///
/// `out` is one batch copy of the post population's array.
#[inline]
pub fn deliver_spikes(
    conn: &Connectivity,
    weights: &Weights,
    spikes: &[u32],
    scale: f32,
    out: &mut [f32],
) {
    prepare_and_deliver(conn, weights, spikes, scale, out, usize::MAX, |_, _| {});
}

/// [`deliver_spikes`] preceded by `prepare(lo, part)` on each part `out[lo..lo + part.len()]`
/// (a synapse model's decay, say), in the same parallel section: the post array is swept
/// once per thread instead of twice. Parts are cut when `out.len() ≥ min_len` (see
/// [`parallel::for_each_part`]) or the step has [`PARALLEL_MIN_EVENTS`] events; `prepare`
/// must act on each element independently of the others, so the cut cannot change results.
pub fn prepare_and_deliver(
    conn: &Connectivity,
    weights: &Weights,
    spikes: &[u32],
    scale: f32,
    out: &mut [f32],
    min_len: usize,
    prepare: impl Fn(usize, &mut [f32]) + Sync,
) {
    let finish = |_: usize, _: &mut [f32], _: ()| {};
    deliver_between(
        conn,
        weights,
        spikes,
        scale,
        out,
        (),
        min_len,
        prepare,
        finish,
    );
}

/// [`prepare_and_deliver`] followed by `finish(lo, part, aux_part)` on each part, where
/// `aux_part` is the same range of `aux` (arrays as long as `out`, e.g. a conductance and
/// the post voltage): a synapse model whose output is computed from what was delivered does
/// it in the same section, on the same thread, while the part is in cache. `finish` must
/// act on each element independently of the others.
///
/// # Panics
/// If `aux` is shorter than `out`.
#[expect(
    clippy::too_many_arguments,
    reason = "prepare_and_deliver's arguments plus the finishing pass"
)]
pub fn deliver_between<A: parallel::Split>(
    conn: &Connectivity,
    weights: &Weights,
    spikes: &[u32],
    scale: f32,
    out: &mut [f32],
    aux: A,
    min_len: usize,
    prepare: impl Fn(usize, &mut [f32]) + Sync,
    finish: impl Fn(usize, &mut [f32], A) + Sync,
) {
    assert!(
        aux.len() >= out.len(),
        "auxiliary arrays shorter than the output"
    );
    let splittable = !matches!(conn.layout, Layout::Sparse { sorted: false, .. });
    let min_len = if parallel::parts(out.len(), min_len) > 1 {
        min_len
    } else if splittable
        && parallel::parts(out.len(), 0) > 1
        && spikes
            .iter()
            .map(|&i| conn.row_range(i as usize).len())
            .sum::<usize>()
            >= PARALLEL_MIN_EVENTS
    {
        0
    } else {
        usize::MAX
    };
    if splittable {
        parallel::for_each_part((out, aux), min_len, |lo, (part, aux)| {
            prefetch_first_rows(conn, weights, spikes);
            prepare(lo, &mut *part);
            deliver_range(conn, weights, spikes, scale, lo, &mut *part);
            finish(lo, part, aux);
        });
    } else {
        prefetch_first_rows(conn, weights, spikes);
        parallel::for_each_part(&mut *out, min_len, &prepare);
        deliver_range(conn, weights, spikes, scale, 0, out);
        parallel::for_each_part((out, aux), min_len, |lo, (part, aux)| {
            finish(lo, part, aux);
        });
    }
}

/// How many projections a [`DeliveryBatch`] holds (a synapse model with more runs one
/// section per this many).
pub const BATCH_PROJECTIONS: usize = 8;

/// How one projection of a [`DeliveryBatch`] is shared out.
#[derive(Clone, Copy, Debug)]
enum Share {
    /// Cut into this many parts with [`parallel::share_range`].
    Cut(usize),
    /// Left whole, to share 0 (see [`DeliveryBatch`]).
    Whole,
}

/// One projection's delivery in a [`DeliveryBatch`].
struct Queued<'a> {
    conn: &'a Connectivity,
    weights: &'a Weights,
    spikes: &'a [u32],
    scale: f32,
    /// The synapse model's value for `prepare` (a decay factor, say).
    param: f32,
    out: parallel::Disjoint<'a, f32>,
    share: Share,
}

/// [`prepare_and_deliver`] for up to [`BATCH_PROJECTIONS`] projections of a synapse model
/// in **one** parallel section, where one call per projection makes one section each.
///
/// Each section costs the thread team a hand-off and a wait for its slowest part, and a
/// member's first touches of what the driver wrote for it (≈ 0.5–1 µs in all on the
/// project's 2-vCPU VM); CUBA's four projections made four per step. Here each share does
/// its part of every projection in turn, and one projection's imbalance evens out against
/// another's. A projection is cut into parts as [`prepare_and_deliver`] cuts it (the same
/// rule and the same [`parallel::share_range`] cut as the post population's neuron pass,
/// so each thread keeps working on the post neurons it last touched); one too small to cut
/// stays whole with share 0, the driving thread, where the neuron pass of a population
/// too small to cut runs too (handing a small array to another core costs more than
/// updating it: ≈ 60 ns per cache line on the project's VM), and a batch with nothing to
/// cut runs without a section. Every post element gets
/// the same operations in the same order as in [`prepare_and_deliver`], so results are
/// bit-identical, whatever the thread count.
///
/// Fill it with [`DeliveryBatch::push`], run it with [`DeliveryBatch::run`] (also when
/// [`DeliveryBatch::is_full`]).
pub struct DeliveryBatch<'a> {
    queued: arrayvec::ArrayVec<Queued<'a>, BATCH_PROJECTIONS>,
}

impl Default for DeliveryBatch<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> DeliveryBatch<'a> {
    /// An empty batch.
    pub fn new() -> Self {
        DeliveryBatch {
            queued: arrayvec::ArrayVec::new_const(),
        }
    }

    /// Whether the batch holds [`BATCH_PROJECTIONS`] projections (run it before the next
    /// push).
    pub fn is_full(&self) -> bool {
        self.queued.is_full()
    }

    /// Queues `out[j] ← prepare(param, out[j])` then the delivery of `spikes` into `out`
    /// (one batch copy of the post population's array), as [`prepare_and_deliver`] does.
    ///
    /// # Panics
    /// If the batch is full.
    pub fn push(
        &mut self,
        conn: &'a Connectivity,
        weights: &'a Weights,
        spikes: &'a [u32],
        scale: f32,
        param: f32,
        out: &'a mut [f32],
    ) {
        assert!(!self.is_full(), "a full delivery batch: run it first");
        // The row offsets of its first spikes start loading now, while the caller queues
        // the rest: each row's address depends on them (CUBA 4 000 × 10 s on 1 thread,
        // where a step delivers about 4 rows: 1.022×, 10 pairs; prefetched at the start
        // of `run` instead, the same, 1.007×, 14 pairs). Prefetching every queued
        // projection's first rows at the start of `run` was slower (0.97×).
        prefetch_first_offsets(conn, spikes);
        self.queued.push(Queued {
            conn,
            weights,
            spikes,
            scale,
            param,
            out: parallel::Disjoint::new(out),
            share: Share::Whole,
        });
    }

    /// Runs the queued projections in one section (see [`DeliveryBatch`]) and empties the
    /// batch: each post array is cut when it has at least `min_len` elements (see
    /// [`parallel::for_each_part`]) or the step has [`PARALLEL_MIN_EVENTS`] events for it;
    /// `prepare(param, lo, part)` acts on `out[lo..lo + part.len()]` and must act on each
    /// element independently of the others.
    pub fn run(&mut self, min_len: usize, prepare: impl Fn(f32, usize, &mut [f32]) + Sync) {
        let queued = &mut self.queued[..];
        if queued.is_empty() {
            return;
        }
        let shared_out = parallel::parts(usize::MAX, 0) > 1 && Self::share_out(queued, min_len);
        let shared = &*queued;
        let share = |m: usize| {
            for q in shared {
                let range = match q.share {
                    Share::Cut(k) => parallel::share_range(q.out.len(), k, m),
                    Share::Whole if m == 0 => 0..q.out.len(),
                    Share::Whole => continue,
                };
                if range.is_empty() {
                    continue;
                }
                let lo = range.start;
                // SAFETY: share `m` alone takes `range` of this array: cut ranges of
                // different shares are disjoint, a whole array has one owner.
                let part = unsafe { q.out.range(range) };
                prefetch_first_rows(q.conn, q.weights, q.spikes);
                prepare(q.param, lo, &mut *part);
                deliver_range(q.conn, q.weights, q.spikes, q.scale, lo, part);
            }
        };
        if shared_out {
            parallel::for_each_share(|m, _| share(m));
        } else {
            // Nothing to cut: no section, the arrays are left whole to this thread.
            share(0);
        }
        self.queued.clear();
    }

    /// Decides how the shares of a section share out each queued projection (all are
    /// queued whole to share 0): whether any is cut.
    fn share_out(queued: &mut [Queued<'a>], min_len: usize) -> bool {
        let mut any = false;
        for q in queued.iter_mut() {
            let len = q.out.len();
            let splittable = !matches!(q.conn.layout, Layout::Sparse { sorted: false, .. });
            let cut = parallel::parts(len, min_len);
            let cut = if !splittable {
                1
            } else if cut > 1 {
                cut
            } else if parallel::parts(len, 0) > 1
                && q.spikes
                    .iter()
                    .map(|&i| q.conn.row_range(i as usize).len())
                    .sum::<usize>()
                    >= PARALLEL_MIN_EVENTS
            {
                parallel::parts(len, 0)
            } else {
                1
            };
            if cut > 1 {
                q.share = Share::Cut(cut);
                any = true;
            }
        }
        any
    }
}

/// One part of [`prepare_and_deliver`], for a pass that cuts the post array itself (a
/// neuron pass pulling its incoming deliveries, [`crate::pull`]): `prepare(part)` on the
/// post neurons `lo..lo + part.len()`, then the terms of `spikes` that land there, each in
/// spike order and synapse order, exactly as every part of [`prepare_and_deliver`] gets
/// them. The rows of the first spikes start loading before `prepare`.
///
/// # Panics
/// If the rows are in user order (`pairs`) and `part` is not the whole post array, or an
/// index is out of range.
#[inline]
pub fn prepare_and_deliver_part(
    conn: &Connectivity,
    weights: &Weights,
    spikes: &[u32],
    scale: f32,
    lo: usize,
    part: &mut [f32],
    prepare: impl FnOnce(&mut [f32]),
) {
    let whole = lo == 0 && part.len() >= conn.post_bound();
    assert!(
        whole || !matches!(conn.layout, Layout::Sparse { sorted: false, .. }),
        "rows in user order cannot be delivered by post range"
    );
    prefetch_first_rows(conn, weights, spikes);
    prepare(&mut *part);
    deliver_range(conn, weights, spikes, scale, lo, part);
}

/// [`deliver_spikes`] restricted to the post neurons `lo..lo + out.len()`; `out[k]` is post
/// neuron `lo + k`.
fn deliver_range(
    conn: &Connectivity,
    weights: &Weights,
    spikes: &[u32],
    scale: f32,
    lo: usize,
    out: &mut [f32],
) {
    let hi = lo + out.len();
    // `out` covers the whole post population: no row needs cutting.
    let whole = lo == 0 && hi >= conn.post_bound();
    let w = &weights.0;
    match &conn.layout {
        Layout::Sparse {
            offsets, targets, ..
        } => match targets.slice() {
            TargetSlice::Wide(t) => deliver_rows(offsets, t, w, spikes, scale, lo, whole, out),
            TargetSlice::Narrow(t) => deliver_rows(offsets, t, w, spikes, scale, lo, whole, out),
        },
        Layout::Dense { post, .. } => {
            for &i in spikes {
                let base = i as usize * *post as usize;
                add_run(w, scale, base + lo..base + hi, out);
            }
        }
        Layout::Lateral { n } => {
            let m = *n as usize - 1;
            for &i in spikes {
                let i = i as usize;
                let base = i * m;
                // Targets 0..i at synapses base + j; targets i + 1..n at base + j − 1.
                let (l, h) = (lo, hi.min(i));
                if l < h {
                    add_run(w, scale, base + l..base + h, &mut out[..h - lo]);
                }
                let (l, h) = (lo.max(i + 1), hi);
                if l < h {
                    add_run(w, scale, base + l - 1..base + h - 1, &mut out[l - lo..]);
                }
            }
        }
        Layout::Diagonal { .. } => {
            for &i in spikes {
                let i = i as usize;
                if (lo..hi).contains(&i) {
                    out[i - lo] += match w {
                        Param::Scalar(w) => scale * w,
                        Param::PerElement(ws) => scale * ws[i],
                    };
                }
            }
        }
    }
}

/// The sparse-row part of [`deliver_range`], for targets stored as `T`: rows of `spikes`
/// cut to the post range `lo..lo + out.len()` unless `whole`.
#[expect(
    clippy::too_many_arguments,
    reason = "deliver_range's arguments, with the rows unpacked"
)]
#[inline(always)]
fn deliver_rows<T: TargetIndex>(
    offsets: &[usize],
    targets: &[T],
    w: &Param,
    spikes: &[u32],
    scale: f32,
    lo: usize,
    whole: bool,
    out: &mut [f32],
) {
    let hi = lo + out.len();
    // Rows are scattered over the target array: each would otherwise cost a few full
    // memory latencies (at 64 000 neurons most of the delivery time). The rows of the
    // first spikes started loading before the synapse model's sweep
    // (`prefetch_first_rows`, called by `deliver_between`), then each iteration asks for
    // the row `PREFETCH_AHEAD` spikes ahead.
    let prefetch_row = |ahead: u32| prefetch_row(offsets, targets, w, ahead);
    let far = 2 * PREFETCH_AHEAD;
    for (n, &i) in spikes.iter().enumerate() {
        if let Some(&ahead) = spikes.get(n + far) {
            prefetch_read(offsets, ahead as usize + 1);
        }
        if let Some(&ahead) = spikes.get(n + PREFETCH_AHEAD) {
            prefetch_row(ahead);
        }
        let (mut a, mut b) = (offsets[i as usize], offsets[i as usize + 1]);
        if !whole {
            // Cut the row to `lo..hi`; a part at either end of the post range searches
            // for one bound only.
            let row = &targets[a..b];
            let first = if lo == 0 {
                0
            } else {
                row.partition_point(|&j| j.index() < lo)
            };
            let last = if hi >= conn_post_bound(targets, a, b) {
                row.len()
            } else {
                first + row[first..].partition_point(|&j| j.index() < hi)
            };
            (a, b) = (a + first, a + last);
        }
        match w {
            Param::Scalar(w) => {
                let add = scale * w;
                for &j in &targets[a..b] {
                    out[j.index() - lo] += add;
                }
            }
            Param::PerElement(ws) => {
                for (&j, &w) in targets[a..b].iter().zip(&ws[a..b]) {
                    out[j.index() - lo] += scale * w;
                }
            }
        }
    }
}

/// Whether [`push_rows`] can deliver through these rows: sparse rows in increasing post
/// order (every rule except `pairs`).
pub fn rows_pushable(conn: &Connectivity) -> bool {
    matches!(conn.layout, Layout::Sparse { sorted: true, .. })
}

/// Delivers `spikes` through the rows of `conn` when every synapse adds the same term
/// `add` (nA; `scale · w` for a scalar weight `w`), cut by the post ranges of the shares
/// of a section: share `d` owns post neurons `bounds[d]..bounds[d + 1]`. The part of each
/// row in share `own`'s range is added into `own_part` (post neuron `bounds[own] + k` at
/// `own_part[k]`; empty when `own` has no range); each other share's part is handed to
/// `outbox(d, targets)`, for share `d` to add ([`add_pushed`]) before it next reads its
/// range.
///
/// Why the order may change: every term is the same float, so a current that receives `c`
/// of them gets `c` additions of `add` in a row, whichever spikes they come from; the
/// result is the one spike-ordered delivery ([`deliver_spikes`]) computes. With per-synapse
/// weights the order matters, and this must not be used.
///
/// A thread that delivers its own spikes this way reads only their rows, once; delivering
/// by post range ([`deliver_spikes`] on a part), every thread reads the rows of every
/// spike.
///
/// Only the first `count` spikes are delivered; the rest of `spikes` (those the caller
/// delivers next) have their rows prefetched as the first ones go, so that delivering a
/// list in several calls waits no longer than in one.
///
/// # Panics
/// If the rows are not sorted sparse rows ([`rows_pushable`]), or a target of share
/// `own` lies beyond `bounds`.
#[expect(
    clippy::too_many_arguments,
    reason = "the rows, the spikes, the term, the cut and the two destinations"
)]
pub fn push_rows(
    conn: &Connectivity,
    spikes: &[u32],
    count: usize,
    add: f32,
    bounds: &[usize],
    own: usize,
    own_part: &mut [f32],
    mut outbox: impl FnMut(usize, TargetSlice<'_>),
) {
    let Layout::Sparse {
        offsets,
        targets,
        sorted: true,
    } = &conn.layout
    else {
        panic!("push_rows needs sorted sparse rows");
    };
    let (spikes, cut) = ((spikes, count), (bounds, own));
    match targets.slice() {
        TargetSlice::Wide(t) => push_rows_of(offsets, t, spikes, add, cut, own_part, |d, run| {
            outbox(d, TargetSlice::Wide(run))
        }),
        TargetSlice::Narrow(t) => push_rows_of(offsets, t, spikes, add, cut, own_part, |d, run| {
            outbox(d, TargetSlice::Narrow(run))
        }),
    }
}

/// [`push_rows`] for targets stored as `T` (`(spikes, count)` and `(bounds, own)` as
/// there).
#[inline(always)]
fn push_rows_of<T: TargetIndex>(
    offsets: &[usize],
    targets: &[T],
    (spikes, count): (&[u32], usize),
    add: f32,
    (bounds, own): (&[usize], usize),
    own_part: &mut [f32],
    mut outbox: impl FnMut(usize, &[T]),
) {
    let shares = bounds.len() - 1;
    let lo = bounds.get(own).copied().unwrap_or(0);
    let far = 2 * PREFETCH_AHEAD;
    spikes
        .iter()
        .take(far)
        .for_each(|&i| prefetch_read(offsets, i as usize + 1));
    spikes
        .iter()
        .take(PREFETCH_AHEAD)
        .for_each(|&i| prefetch_row(offsets, targets, &Param::Scalar(0.0), i));
    for (n, &i) in spikes.iter().enumerate().take(count) {
        if let Some(&ahead) = spikes.get(n + far) {
            prefetch_read(offsets, ahead as usize + 1);
        }
        if let Some(&ahead) = spikes.get(n + PREFETCH_AHEAD) {
            prefetch_row(offsets, targets, &Param::Scalar(0.0), ahead);
        }
        let row = &targets[offsets[i as usize]..offsets[i as usize + 1]];
        let mut start = 0;
        for d in 0..shares {
            let end = if d + 1 == shares {
                row.len()
            } else {
                start + T::count_below(&row[start..], bounds[d + 1])
            };
            let part = &row[start..end];
            if !part.is_empty() {
                if d == own {
                    for &j in part {
                        own_part[j.index() - lo] += add;
                    }
                } else {
                    outbox(d, part);
                }
            }
            start = end;
        }
    }
}

/// Adds `add` to `part[j − lo]` for each post neuron `j` of `targets` (handed over by
/// [`push_rows`] on another share): `Iⱼ ← Iⱼ + add` once per entry, in entry order.
#[inline]
pub fn add_pushed<T: TargetIndex>(targets: &[T], add: f32, lo: usize, part: &mut [f32]) {
    for &j in targets {
        part[j.index() - lo] += add;
    }
}

/// Post indices handed from one share to another ([`push_rows`]'s outbox runs), kept in
/// the width the rows store them in: `u16` for post populations of up to 65 536 neurons,
/// else `u32`.
///
/// Why: the receiving share reads them on another core, where every cache line is a
/// transfer between the cores' caches. At CUBA 64 000 on 2 threads receiving them took
/// ≈ 0.5 µs a step per share; 2-byte indices halve the lines (CUBA 64 000 × 5 s on 2
/// threads: 1.045× faster, 10 interleaved pairs, every one ≥ 1.02).
#[derive(Clone, Debug, Default)]
pub struct PushedTargets {
    narrow: Vec<u16>,
    wide: Vec<u32>,
}

impl PushedTargets {
    /// Empties the buffer (keeping its memory).
    pub fn clear(&mut self) {
        self.narrow.clear();
        self.wide.clear();
    }

    /// Appends a run of post indices.
    pub fn push_run(&mut self, run: TargetSlice<'_>) {
        match run {
            TargetSlice::Narrow(t) => self.narrow.extend_from_slice(t),
            TargetSlice::Wide(t) => self.wide.extend_from_slice(t),
        }
    }

    /// How many indices it holds.
    pub fn len(&self) -> usize {
        self.narrow.len() + self.wide.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`add_pushed`] of every index it holds: `Iⱼ ← Iⱼ + add` once per entry (`part`
    /// holds post neurons `lo..lo + part.len()`). Every entry adds the same float, so
    /// the order of the entries does not change a current.
    pub fn add_into(&self, add: f32, lo: usize, part: &mut [f32]) {
        add_pushed(&self.narrow, add, lo, part);
        add_pushed(&self.wide, add, lo, part);
    }
}

/// The largest post population whose sparse rows are stored as `u16` (indices up to
/// 65 535).
const NARROW_POST_MAX: u32 = 1 << 16;

/// How many spikes ahead delivery prefetches a row (rows in flight at once).
const PREFETCH_AHEAD: usize = 6;

/// Starts loading the rows of the first [`PREFETCH_AHEAD`] spikes and the row offsets of
/// twice as many (random reads too, so fetched twice as far ahead). [`deliver_between`]
/// calls it before the synapse model's `prepare` pass, whose sweep over the post array
/// then hides the rows' latency: with a few spikes per step (CUBA 4 000 has about two) the
/// rows of a step are otherwise each a full cache miss, waited for one after the other.
#[inline]
fn prefetch_first_rows(conn: &Connectivity, weights: &Weights, spikes: &[u32]) {
    if let Layout::Sparse {
        offsets, targets, ..
    } = &conn.layout
    {
        spikes
            .iter()
            .take(2 * PREFETCH_AHEAD)
            .for_each(|&i| prefetch_read(offsets, i as usize + 1));
        let first = spikes.iter().take(PREFETCH_AHEAD);
        match targets.slice() {
            TargetSlice::Wide(t) => first.for_each(|&i| prefetch_row(offsets, t, &weights.0, i)),
            TargetSlice::Narrow(t) => {
                first.for_each(|&i| prefetch_row(offsets, t, &weights.0, i));
            }
        }
    }
}

/// Starts loading the row offsets of the first `2·PREFETCH_AHEAD` spikes (as
/// [`prefetch_first_rows`] does first).
#[inline]
fn prefetch_first_offsets(conn: &Connectivity, spikes: &[u32]) {
    if let Layout::Sparse { offsets, .. } = &conn.layout {
        spikes
            .iter()
            .take(2 * PREFETCH_AHEAD)
            .for_each(|&i| prefetch_read(offsets, i as usize + 1));
    }
}

/// Prefetches the first [`PREFETCH_ROW_MAX`] synapses of row `i` (targets, and weights
/// when per synapse).
#[inline(always)]
fn prefetch_row<T>(offsets: &[usize], targets: &[T], w: &Param, i: u32) {
    let (a, b) = (offsets[i as usize], offsets[i as usize + 1]);
    let end = b.min(a + PREFETCH_ROW_MAX);
    // One prefetch per cache line: 16 `u32` targets or weights, 32 `u16` targets.
    for k in (a..end).step_by(64 / size_of::<T>()) {
        prefetch_read(targets, k);
    }
    if let Param::PerElement(ws) = w {
        for k in (a..end).step_by(16) {
            prefetch_read(ws, k);
        }
    }
}

/// The most elements of a row delivery prefetches (8 cache lines of `u32`); the hardware
/// prefetcher follows longer rows by itself.
const PREFETCH_ROW_MAX: usize = 128;

/// A prefetch hint for `data[index]` (x86-64: `prefetcht0`; elsewhere nothing). Reads no
/// memory and cannot fault: an out-of-range index is simply not prefetched.
#[inline(always)]
pub(crate) fn prefetch_read<T>(data: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = data.get(index) {
        // SAFETY: `_mm_prefetch` is a hint on a valid address; SSE is baseline on x86-64.
        unsafe {
            std::arch::x86_64::_mm_prefetch(
                std::ptr::from_ref(x).cast::<i8>(),
                std::arch::x86_64::_MM_HINT_T0,
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, index);
}

/// One past the last target of row `targets[a..b]` (0 for an empty row). For a sorted row
/// that is one past its largest target, so a row whose bound is ≤ `hi` needs no range cut;
/// unsorted (`pairs`) rows are only ever delivered whole, where every target is < `hi`.
#[inline]
fn conn_post_bound<T: TargetIndex>(targets: &[T], a: usize, b: usize) -> usize {
    if a == b {
        0
    } else {
        targets[b - 1].index() + 1
    }
}

/// `out[k] += scale · w[synapses.start + k]` for a contiguous run of targets.
#[inline]
fn add_run(w: &Param, scale: f32, synapses: std::ops::Range<usize>, out: &mut [f32]) {
    match w {
        Param::Scalar(w) => {
            let add = scale * w;
            out.iter_mut().for_each(|o| *o += add);
        }
        Param::PerElement(ws) => {
            for (o, &w) in out.iter_mut().zip(&ws[synapses]) {
                *o += scale * w;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_adds_weighted_rows_of_spiking_neurons() {
        // pre 0 -> {0, 2}, pre 1 -> {}, pre 2 -> {1, 2}
        let conn = Connectivity::from_csr(vec![0, 2, 2, 4], vec![0, 2, 1, 2]);
        let mut out = vec![0.0; 3];
        deliver_spikes(&conn, &Weights(Param::Scalar(2.0)), &[0, 2], 0.5, &mut out);
        assert_eq!(out, vec![1.0, 1.0, 2.0]);
        let mut out = vec![0.0; 3];
        let ws = Weights(Param::PerElement(vec![1.0, 2.0, 3.0, 4.0]));
        deliver_spikes(&conn, &ws, &[2], 1.0, &mut out);
        assert_eq!(out, vec![0.0, 3.0, 4.0]);
    }

    /// The CSR equivalent of an implicit layout, for comparison.
    fn as_csr(c: &Connectivity) -> Connectivity {
        let (offsets, targets) = c.to_csr();
        Connectivity::from_csr(offsets, targets)
    }

    fn weights(n: usize) -> Weights {
        Weights(Param::PerElement(
            (0..n)
                .map(|k| ((k * 37 % 101) as f32 - 50.0) / 7.0)
                .collect(),
        ))
    }

    /// The one-pass sortedness check against the row-by-row one it replaced, on rows that
    /// ascend, repeat a target, or descend, next to empty rows and at either end.
    #[test]
    fn rows_ascend_exactly_when_every_row_does() {
        let naive = |offsets: &[usize], targets: &[u32]| {
            offsets
                .windows(2)
                .all(|w| targets[w[0]..w[1]].windows(2).all(|t| t[0] < t[1]))
        };
        let mut s = crate::rng::RngStream::new(4, "rows", 0);
        let mut seen = [0usize; 2];
        for case in 0..3000 {
            let rows = 1 + case % 7;
            let mut offsets = vec![0];
            let mut targets = Vec::new();
            for _ in 0..rows {
                let len = (s.next_u64() % 5) as usize;
                let mut t: Vec<u32> = (0..len).map(|_| (s.next_u64() % 12) as u32).collect();
                if !s.next_u64().is_multiple_of(4) {
                    t.sort_unstable();
                    t.dedup();
                }
                targets.extend(t);
                offsets.push(targets.len());
            }
            let expected = naive(&offsets, &targets);
            assert_eq!(
                rows_ascend(&offsets, &targets),
                expected,
                "{offsets:?} {targets:?}"
            );
            seen[usize::from(expected)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 300), "{seen:?}");
    }

    #[test]
    fn implicit_layouts_list_the_canonical_synapses() {
        let dense = Connectivity::dense(2, 3);
        assert_eq!(dense.len(), 6);
        assert_eq!(
            dense.pairs().collect::<Vec<_>>(),
            [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
        );
        let lateral = Connectivity::lateral(3);
        assert_eq!(lateral.len(), 6);
        assert_eq!(lateral.row(1).to_vec(), [0, 2]);
        assert_eq!(lateral.row_range(2), 4..6);
        assert_eq!(lateral.to_csr(), (vec![0, 2, 4, 6], vec![1, 2, 0, 2, 0, 1]));
        let diagonal = Connectivity::diagonal(3);
        assert_eq!(diagonal.to_csr(), (vec![0, 1, 2, 3], vec![0, 1, 2]));
        assert!(Connectivity::lateral(1).is_empty());
        // No target list: only the 0..post index row.
        assert_eq!(Connectivity::dense(1000, 10).memory_bytes(), 40);
    }

    /// Rows pushed by shares (each its own spikes, its range at once, the others' parts
    /// through outboxes added afterwards) give bit for bit what one delivery in spike order
    /// gives, for every way of cutting the post range in up to 3 shares and of dealing the
    /// spikes to them; the own part gets exactly the own range's terms. Rows stored as
    /// `u32` and as `u16` alike.
    #[test]
    fn pushed_rows_add_what_one_delivery_adds() {
        // 7 pre neurons, 9 post; rows with repeats across rows, an empty row, both ends.
        let offsets = vec![0, 4, 4, 7, 12, 13, 17, 20];
        let targets = vec![
            0, 3, 4, 8, /* 1: empty */ 1, 2, 8, 0, 1, 2, 3, 4, 8, 2, 5, 6, 7, 0, 4, 5,
        ];
        let wide = Connectivity::from_csr(offsets, targets);
        let narrow = wide.clone().with_post_size(9);
        assert!(matches!(narrow.layout, Layout::Sparse { ref targets, .. } if targets.is_narrow()));
        for conn in [wide, narrow] {
            pushed_rows_add_what_one_delivery_adds_through(&conn);
        }
    }

    fn pushed_rows_add_what_one_delivery_adds_through(conn: &Connectivity) {
        let conn = conn.clone();
        assert!(rows_pushable(&conn));
        let (post, add) = (9usize, 0.3f32);
        let base: Vec<f32> = (0..post).map(|j| 0.7 * j as f32 - 1.1).collect();
        let spikes = [3u32, 0, 6, 1, 2, 4, 5, 3];
        let mut expected = base.clone();
        deliver_spikes(
            &conn,
            &Weights(Param::Scalar(1.0)),
            &spikes,
            add,
            &mut expected,
        );
        let mut cuts = vec![vec![0, post]];
        for a in 0..=post {
            cuts.push(vec![0, a, post]);
            for b in a..=post {
                cuts.push(vec![0, a, b, post]);
            }
        }
        for bounds in &cuts {
            let shares = bounds.len() - 1;
            for deal in 0..shares.pow(3) {
                // Spike k goes to share (deal / shares^(k mod 3)) mod shares.
                let owner = |k: usize| (deal / shares.pow((k % 3) as u32)) % shares;
                let mut current = base.clone();
                let mut outboxes = vec![vec![PushedTargets::default(); shares]; shares];
                for (own, boxes) in outboxes.iter_mut().enumerate() {
                    let mine: Vec<u32> = (0..spikes.len())
                        .filter(|&k| owner(k) == own)
                        .map(|k| spikes[k])
                        .collect();
                    let part = &mut current[bounds[own]..bounds[own + 1]];
                    push_rows(
                        &conn,
                        &mine,
                        mine.len(),
                        add,
                        bounds,
                        own,
                        part,
                        |d, run| {
                            assert_ne!(d, own);
                            assert!(
                                run.iter()
                                    .all(|j| (bounds[d]..bounds[d + 1]).contains(&(j as usize)))
                            );
                            boxes[d].push_run(run);
                        },
                    );
                }
                for (writer, boxes) in outboxes.iter().enumerate() {
                    for (d, run) in boxes.iter().enumerate() {
                        assert!(d != writer || run.is_empty());
                        let lo = bounds[d];
                        run.add_into(add, lo, &mut current[lo..bounds[d + 1]]);
                    }
                }
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&current),
                    bits(&expected),
                    "bounds {bounds:?}, deal {deal}"
                );
            }
        }
    }

    /// Every layout delivers exactly (bit for bit) what its CSR equivalent delivers, over the
    /// whole post range and over every sub-range the parallel split can cut.
    #[test]
    fn implicit_layouts_deliver_like_csr_in_any_range() {
        let spikes = [4, 0, 2, 5];
        for (conn, post) in [
            (Connectivity::dense(6, 9), 9),
            (Connectivity::lateral(6), 6),
            (Connectivity::diagonal(6), 6),
        ] {
            let csr = as_csr(&conn);
            for w in [Weights(Param::Scalar(0.3)), weights(conn.len())] {
                let mut expected = vec![0.0; post];
                deliver_spikes(&csr, &w, &spikes, 1.5, &mut expected);
                for lo in 0..post {
                    for hi in lo + 1..=post {
                        // Rows onto ≤ 65 536 neurons become `u16` once sized.
                        let sized = csr.clone().with_post_size(post as u32);
                        assert!(matches!(
                            sized.layout,
                            Layout::Sparse { ref targets, .. } if targets.is_narrow()
                        ));
                        for c in [&conn, &csr, &sized] {
                            let mut part = vec![0.0; hi - lo];
                            deliver_range(c, &w, &spikes, 1.5, lo, &mut part);
                            assert_eq!(part, expected[lo..hi], "{:?} {lo}..{hi}", c.layout());
                        }
                    }
                }
            }
        }
    }

    /// A step with ≥ `PARALLEL_MIN_EVENTS` events is split by post range on a 2-thread pool;
    /// the result is bit-identical to one thread for sorted CSR rows (`u32` and `u16`, which
    /// agree) and dense rows.
    #[test]
    fn parallel_delivery_is_bit_identical_to_serial() {
        let post = 20_000u32;
        // Pseudo-random sorted rows of ~1250 targets each.
        let sparse = random_rows(64, post, 12345);
        let narrow = sparse.clone().with_post_size(post);
        let dense = Connectivity::dense(64, post);
        let spikes: Vec<u32> = (0..64).rev().collect();
        let mut wide_result = None;
        for conn in [&sparse, &narrow, &dense] {
            let w = weights(conn.len());
            let events: usize = spikes.iter().map(|&i| conn.row(i as usize).len()).sum();
            assert!(events >= PARALLEL_MIN_EVENTS, "{events}");
            let run = |threads| {
                let mut out = vec![0.0f32; post as usize];
                parallel::with_team(threads, || deliver_spikes(conn, &w, &spikes, 0.7, &mut out));
                out
            };
            let one = run(1);
            assert!(one.iter().any(|&x| x != 0.0));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&run(2)), bits(&one));
            assert_eq!(bits(&run(3)), bits(&one));
            match conn.layout() {
                Layout::Sparse { targets, .. } if targets.is_narrow() => {
                    assert_eq!(wide_result.as_ref(), Some(&bits(&one)));
                }
                Layout::Sparse { .. } => wide_result = Some(bits(&one)),
                _ => {}
            }
        }
    }

    #[test]
    fn deliver_between_finishes_each_part_with_its_own_range_of_aux() {
        // Every post neuron j receives spikes from rows 0..4 (dense), then `finish` writes
        // out[j]·aux0[j] + aux1[j] into aux0: any misaligned part would mix neurons.
        let post = 20_000usize;
        let conn = Connectivity::dense(4, post as u32);
        let w = weights(conn.len());
        let spikes = [0u32, 2, 3];
        let run = |threads| {
            let mut out = vec![0.5f32; post];
            let mut a0: Vec<f32> = (0..post).map(|j| j as f32).collect();
            let a1: Vec<f32> = (0..post).map(|j| (j % 7) as f32).collect();
            parallel::with_team(threads, || {
                deliver_between(
                    &conn,
                    &w,
                    &spikes,
                    2.0,
                    &mut out,
                    (&mut a0[..], &a1[..]),
                    1024,
                    |_, part| part.iter_mut().for_each(|x| *x *= 0.5),
                    |_, part, (a0, a1)| {
                        for ((o, x), y) in part.iter().zip(a0.iter_mut()).zip(a1) {
                            *x = *o * *x + *y;
                        }
                    },
                );
            });
            (out, a0)
        };
        let (out, a0) = run(1);
        // The serial reference: prepare, deliver, finish element by element.
        let mut expect_out = vec![0.25f32; post];
        deliver_spikes(&conn, &w, &spikes, 2.0, &mut expect_out);
        assert_eq!(out, expect_out);
        for (j, &x) in a0.iter().enumerate() {
            assert_eq!(x, expect_out[j] * j as f32 + (j % 7) as f32, "neuron {j}");
        }
        assert_eq!(run(2), (out.clone(), a0.clone()));
        assert_eq!(run(3), (out, a0));
    }

    /// Sorted rows of about `post / 16` pseudo-random targets each, `rows` of them.
    fn random_rows(rows: usize, post: u32, seed: u64) -> Connectivity {
        let mut offsets = vec![0];
        let mut targets = Vec::new();
        let mut x = seed;
        for _ in 0..rows {
            for j in 0..post {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if x >> 60 == 0 {
                    targets.push(j);
                }
            }
            offsets.push(targets.len());
        }
        Connectivity::from_csr(offsets, targets)
    }

    /// A batch cuts large post arrays, gives small ones whole to one share, cuts a small
    /// one with many events, keeps unsorted rows whole, and runs more projections than it
    /// holds in several sections: every array comes out bit-identical to
    /// `prepare_and_deliver` on one thread, for any team size.
    #[test]
    fn a_delivery_batch_matches_one_projection_at_a_time() {
        // 64 rows of 5 targets in descending order.
        let unsorted = Connectivity::from_csr(
            (0..=64).map(|i| 5 * i).collect(),
            (0..64u32)
                .flat_map(|i| [19_999 - i, 700 + i, 12 + i, 4, 3])
                .collect(),
        );
        assert!(matches!(
            unsorted.layout,
            Layout::Sparse { sorted: false, .. }
        ));
        let conns = [
            (random_rows(64, 20_000, 1), 20_000usize),
            (random_rows(64, 600, 2), 600),
            (Connectivity::dense(64, 3_000), 3_000),
            (unsorted, 20_000),
            (random_rows(64, 9_000, 3), 9_000),
        ];
        let spikes: Vec<u32> = (0..64).rev().collect();
        let few = [1u32, 0];
        // 10 projections (more than a batch holds) over the five layouts.
        let cases: Vec<(usize, &[u32], f32)> = (0..10)
            .map(|c| {
                let s: &[u32] = if c == 3 || c == 8 || c == 6 {
                    &few
                } else {
                    &spikes
                };
                (c % 5, s, 0.5 + c as f32 / 16.0)
            })
            .collect();
        let ws: Vec<Weights> = conns.iter().map(|(c, _)| weights(c.len())).collect();
        let start = |c: usize| -> Vec<f32> {
            (0..conns[cases[c].0].1)
                .map(|j| (j % 13) as f32 - 6.0)
                .collect()
        };
        let decay = |d: f32, _: usize, part: &mut [f32]| part.iter_mut().for_each(|x| *x *= d);
        let expect: Vec<Vec<f32>> = (0..cases.len())
            .map(|c| {
                let (k, s, d) = cases[c];
                let mut out = start(c);
                let (conn, w) = (&conns[k].0, &ws[k]);
                prepare_and_deliver(conn, w, s, 1.5, &mut out, usize::MAX, |lo, p| {
                    decay(d, lo, p)
                });
                out
            })
            .collect();
        let bits = |v: &[Vec<f32>]| -> Vec<Vec<u32>> {
            v.iter()
                .map(|a| a.iter().map(|x| x.to_bits()).collect())
                .collect()
        };
        for threads in 1..=3 {
            let mut outs: Vec<Vec<f32>> = (0..cases.len()).map(start).collect();
            parallel::with_team(threads, || {
                let mut batch = DeliveryBatch::new();
                for (c, out) in outs.iter_mut().enumerate() {
                    if batch.is_full() {
                        batch.run(8_192, decay);
                    }
                    let (k, s, d) = cases[c];
                    batch.push(&conns[k].0, &ws[k], s, 1.5, d, out);
                }
                batch.run(8_192, decay);
            });
            assert_eq!(bits(&outs), bits(&expect), "{threads} threads");
        }
    }
}
