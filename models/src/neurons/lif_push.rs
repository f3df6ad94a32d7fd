//! Pushed delivery: on a thread team, each share delivers the spikes it has just found.
//!
//! A pulled projection ([`ember_engine::pull`]) is delivered by post range: every share
//! walks the rows of *every* spike of the previous step and keeps the part that lands in
//! its range. At CUBA 64 000 on 2 threads that made the delivery 30 % dearer in total
//! than on one thread (5.2 µs against 6.8 µs a step): the cost of a row is mostly getting
//! it (its offsets, its first lines), and each thread got each row.
//!
//! When every synapse of a projection adds the same term (a scalar weight: `scale · w`),
//! the order in which a current receives its terms cannot change it: `c` terms are `c`
//! additions of the same float in a row, whichever spikes they come from. Then the share
//! that found a spike delivers it, right after its neuron pass, while the next step's
//! decay has just been stored (*carried decay*): the part of the row in its own range of
//! the post population goes into the current at once, and every other share's part is
//! copied, as a run of targets, into an outbox for that share. At the start of the next
//! step each share adds what the others handed it into its range, before it reads it.
//! Each row is read once, by one thread.
//!
//! Same operations per element, so spikes and traces are bit-identical to one thread:
//!
//! - only with a carried decay (not on the last step of a run), so a pushed term lands
//!   after the decay, as when delivered;
//! - only when the pre and post populations run in the same section, so the post
//!   population's neuron pass of the step is over in every range by the time a share
//!   pushes into it (its own range: it ran it; the others: they receive at the next step);
//! - outboxes alternate between two sets by step parity: a share writes one set while the
//!   others read what it wrote the step before;
//! - when the cut of the post population has moved between the two steps (the team's
//!   rebalancing, or a switch between the team and its driver alone), the outboxes no
//!   longer match the ranges: the driver then adds all of them itself, before the section.
//!
//! **Shared pushes.** A spike may be pushed by any share, not only the one that found it:
//! its row's part in the pusher's own range goes into the current, the rest into the
//! pusher's outboxes, and every term is the same float. So the pushes are follow-up work
//! of the section ([`ember_engine::parallel::FollowUp`]): each share opens the spikes it
//! found to the team, pushes them in claims of half of what is left, then helps with the
//! spikes another share has not claimed yet. The section waits for its slowest share, and
//! the pushes (a third of a share's time at CUBA 64 000) follow where the spikes fell;
//! shared, they even out the shares' ends step by step. Measured on CUBA 64 000 × 2
//! threads (per-step timestamps of both shares): the driver's wait at the end of the
//! section fell from 0.5–0.6 µs to 0.1–0.3 µs a step, while pushing in claims cost the
//! shares ≈ 0.1 µs each; 10 s runs, 10 interleaved pairs: 1.037× faster (9 pairs ≥ 1.01).
//!
//! Measured (CUBA 64 000 × 5 s on 2 threads, 6 interleaved pairs against pulling every
//! projection): 1.03–1.07× faster, median 1.03; spikes identical. Per step the two shares'
//! delivery fell from 4.4 + 2.4 µs (pulled) to about 0.6 + 0.7 µs of receiving plus the
//! pushes, and the shares now take about equal times at the cut the team settles on.

use std::cell::UnsafeCell;

use bevy_ecs::prelude::*;
use ember_engine::parallel;
use ember_engine::{Connectivity, PushedTargets};

use crate::neurons::PARALLEL_MIN_NEURONS;

/// Where a pulled projection's spikes of the previous step come from in this step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arrival {
    /// Delivered now by post range, from the kept spike lists.
    Pull,
    /// Pushed by the last step: each share adds the outboxes of push slot `slot`
    /// addressed to it.
    Outboxes {
        /// Index into [`Pushes`].
        slot: usize,
    },
    /// Pushed by the last step and already all in the current.
    Done,
}

/// One writer's run of targets for one receiving share (written by one share in one
/// section, read by another in the next).
#[derive(Default)]
struct Outbox(UnsafeCell<PushedTargets>);

// SAFETY: an outbox is written only by its writer share during a section and read only by
// its receiving share during the next section (the other parity), or by the driver between
// sections; the sections' hand-offs order those accesses.
unsafe impl Sync for Outbox {}

/// One step's push into a projection's current.
#[derive(Clone, Copy, Debug)]
struct Push {
    /// Parity of the step (which set of outboxes).
    parity: usize,
    /// Shares of the section that pushed (writers).
    writers: usize,
    /// The term every synapse added (nA).
    add: f32,
}

/// The pushes into one projection's current.
struct PushSlot {
    /// The projection.
    projection: Entity,
    /// `2 × team × team` outboxes: `[parity][writer][receiver]`.
    outboxes: Vec<Outbox>,
    /// The team size `outboxes` is laid out for.
    team: usize,
    /// The receiving shares' ranges of the post population in the last push: share `d`
    /// owns `bounds[d]..bounds[d + 1]`.
    bounds: Vec<usize>,
    /// The last push, until the next step takes it ([`Pushes::arrival`]).
    pending: Option<Push>,
    /// The push this step's section receives ([`Arrival::Outboxes`]).
    received: Option<Push>,
}

impl PushSlot {
    fn index(&self, parity: usize, writer: usize, receiver: usize) -> usize {
        (parity * self.team + writer) * self.team + receiver
    }

    /// What `writer` handed `receiver` in the step of `parity`.
    ///
    /// # Safety
    /// No share may be writing that outbox (see [`Outbox`]).
    unsafe fn outbox(&self, parity: usize, writer: usize, receiver: usize) -> &PushedTargets {
        // SAFETY: by the caller.
        unsafe { &*self.outboxes[self.index(parity, writer, receiver)].0.get() }
    }
}

/// The push slots of the `lif` pass's projections, kept between steps (a system `Local`).
/// Slots keep their buffers, so once warm the step loop does not allocate.
#[derive(Default)]
pub struct Pushes {
    slots: Vec<PushSlot>,
}

/// The ends of the shares' ranges of a population of `n` neurons cut into `cut` parts
/// ([`parallel::share_range`]; one part: the whole population): share `d` owns
/// `0..ends[0]` for `d = 0`, else `ends[d − 1]..ends[d]`.
fn share_ends(n: usize, cut: usize) -> impl Iterator<Item = usize> {
    let cut = cut.max(1);
    (0..cut).map(move |d| {
        if d + 1 == cut {
            n
        } else {
            parallel::share_range(n, cut, d).end
        }
    })
}

/// The post ranges of a population of `n` neurons cut as the `lif` pass cuts it now
/// (`cut` parts, from [`cut_of`]), into `out`: share `d` owns `out[d]..out[d + 1]`.
fn fill_bounds(n: usize, cut: usize, out: &mut Vec<usize>) {
    out.clear();
    out.push(0);
    out.extend(share_ends(n, cut));
}

/// Whether `bounds` are the ranges [`fill_bounds`] would give now.
fn same_bounds(bounds: &[usize], n: usize, cut: usize) -> bool {
    bounds[1..].iter().copied().eq(share_ends(n, cut))
}

/// The number of parts the `lif` pass cuts a population of `n` neurons into now
/// (`LifBatch::run` takes its cut from here, so pushes and passes agree).
pub(crate) fn cut_of(n: usize) -> usize {
    if parallel::parts(usize::MAX, 0) > 1 {
        parallel::parts(n, PARALLEL_MIN_NEURONS)
    } else {
        1
    }
}

impl Pushes {
    fn find(&self, projection: Entity) -> Option<usize> {
        self.slots.iter().position(|s| s.projection == projection)
    }

    /// How the previous step's spikes of `projection` (post population of `n` neurons,
    /// current `current`) arrive in this step. A push of the last step is taken: its
    /// outboxes are read in this step's section, or, if the post population's cut has
    /// moved since, added here to `current` (all of it).
    pub(crate) fn arrival(&mut self, projection: Entity, n: usize, current: &mut [f32]) -> Arrival {
        let Some(slot) = self.find(projection) else {
            return Arrival::Pull;
        };
        let s = &mut self.slots[slot];
        s.received = None;
        let Some(push) = s.pending.take() else {
            return Arrival::Pull;
        };
        if same_bounds(&s.bounds, n, cut_of(n)) {
            s.received = Some(push);
            return Arrival::Outboxes { slot };
        }
        for writer in 0..push.writers {
            for receiver in 0..s.bounds.len() - 1 {
                // SAFETY: no section is running (this is the pass's serial part).
                let targets = unsafe { s.outbox(push.parity, writer, receiver) };
                targets.add_into(push.add, 0, current);
            }
        }
        Arrival::Done
    }

    /// Prepares a push into `projection` in this step (of `parity`) by a section of
    /// `writers` shares, its post population of `n` neurons cut into `cut` parts, every
    /// synapse adding `add`; returns the slot.
    pub(crate) fn prepare(
        &mut self,
        projection: Entity,
        parity: usize,
        writers: usize,
        n: usize,
        cut: usize,
        add: f32,
    ) -> usize {
        let slot = match self.find(projection) {
            Some(slot) => slot,
            None => {
                self.slots.push(PushSlot {
                    projection,
                    outboxes: Vec::new(),
                    team: 0,
                    bounds: Vec::new(),
                    pending: None,
                    received: None,
                });
                self.slots.len() - 1
            }
        };
        let s = &mut self.slots[slot];
        let team = writers.max(cut);
        if s.team < team {
            // Laid out anew for the larger team, keeping what the last push wrote.
            let mut outboxes: Vec<Outbox> =
                (0..2 * team * team).map(|_| Outbox::default()).collect();
            for parity in 0..2 {
                for writer in 0..s.team {
                    for receiver in 0..s.team {
                        let from = s.index(parity, writer, receiver);
                        let to = (parity * team + writer) * team + receiver;
                        outboxes[to] = std::mem::take(&mut s.outboxes[from]);
                    }
                }
            }
            s.outboxes = outboxes;
            s.team = team;
        }
        fill_bounds(n, cut, &mut s.bounds);
        s.pending = Some(Push {
            parity,
            writers,
            add,
        });
        slot
    }

    /// Empties share `writer`'s outboxes of slot `slot` for the step of `parity`, before
    /// its first [`Pushes::push`] into them in the section.
    ///
    /// # Safety
    /// Only share `writer` may call this, in the section of the push (see [`Outbox`]).
    pub(crate) unsafe fn begin(&self, slot: usize, parity: usize, writer: usize) {
        let s = &self.slots[slot];
        for receiver in 0..s.bounds.len() - 1 {
            // SAFETY: this share writes only its own outboxes of this parity; their
            // readers read them in the next section.
            unsafe { (*s.outboxes[s.index(parity, writer, receiver)].0.get()).clear() };
        }
    }

    /// Share `writer`'s push of the rows of the first `count` of `spikes` into slot `slot`
    /// (of the step of `parity`): the part in its own range into `own_part`, the rest into
    /// its outboxes (appended); the rows of the rest of `spikes` are prefetched. `spikes`
    /// may have been found by any share of the section: every synapse adds the same term,
    /// so who delivers a spike does not change a current.
    ///
    /// # Safety
    /// Only share `writer` may call this, after its [`Pushes::begin`] in the section, with
    /// `own_part` its range of the post population's current (`bounds[writer]..bounds[writer
    /// + 1]`, empty if it has none), whose neuron pass of the step is over.
    pub(crate) unsafe fn push(
        &self,
        slot: usize,
        parity: usize,
        writer: usize,
        conn: &Connectivity,
        (spikes, count): (&[u32], usize),
        own_part: &mut [f32],
    ) {
        let s = &self.slots[slot];
        let add = s.pending.map_or(0.0, |p| p.add);
        let bounds = &s.bounds;
        ember_engine::push_rows(
            conn,
            spikes,
            count,
            add,
            bounds,
            writer,
            own_part,
            |d, run| {
                // SAFETY: as above.
                unsafe { &mut *s.outboxes[s.index(parity, writer, d)].0.get() }.push_run(run);
            },
        );
    }

    /// The post range of share `share` in slot `slot`'s push (empty if it has none).
    pub(crate) fn own_range(&self, slot: usize, share: usize) -> std::ops::Range<usize> {
        let b = &self.slots[slot].bounds;
        match (b.get(share), b.get(share + 1)) {
            (Some(&lo), Some(&hi)) => lo..hi,
            _ => 0..0,
        }
    }

    /// Adds into `part` (post neurons `lo..lo + part.len()`, share `receiver`'s range) what
    /// the other shares pushed into slot `slot` in the last step.
    ///
    /// # Safety
    /// Only in the section after the push, by share `receiver`.
    pub(crate) unsafe fn receive(&self, slot: usize, receiver: usize, lo: usize, part: &mut [f32]) {
        let s = &self.slots[slot];
        let Some(push) = s.received else {
            return;
        };
        for writer in (0..push.writers).filter(|&w| w != receiver) {
            // SAFETY: written in the last section (the other parity is written in this
            // one), by the caller's contract.
            let targets = unsafe { s.outbox(push.parity, writer, receiver) };
            targets.add_into(push.add, lo, part);
        }
    }
}
