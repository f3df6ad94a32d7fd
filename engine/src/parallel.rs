//! Low-latency fork–join for the step loop: a *team* of the pool's threads.
//!
//! A step at 10⁴–10⁵ neurons is tens of microseconds of work split over a handful of
//! passes (synapse decay, delivery, aggregation, the neuron kernel). Rayon's `join` costs
//! about 1 µs per parallel section on this machine class, mostly in waking and stealing,
//! which is why Ember used to stay on one thread below ~6·10⁴ neurons. While
//! [`Simulation::run_steps`](crate::Simulation::run_steps) runs with several threads, the
//! pool's other threads instead form a team: they wait actively for the next section, so
//! handing out a section costs a cache-line round trip each way (≈ 0.2 µs per section on a
//! 2-vCPU VM, plus whatever the slower part makes the other wait), as in OpenMP's active
//! wait policy. A member that sees no section for ~0.4 ms (a run of small populations
//! that never splits) goes to sleep on a condition variable and is woken by the next
//! section, so it does not take a core from the driver for nothing. Outside `run_steps`
//! nothing waits and every section runs on the calling thread.
//!
//! A spinning team is at the mercy of the scheduler: a member that is descheduled (another
//! process on its core) or asleep would make the driver wait for its share. So each share
//! is *claimed* (one atomic on a line its member keeps in cache), and a driver that has
//! finished its own share and still waits after a short grace (2 µs; a member normally
//! starts 0.2–1 µs after the publication) claims and runs the shares of the members that
//! have not started. Results do not depend on which thread runs a share. A member
//! preempted in the middle of its share is still waited for.
//!
//! Whole minutes can be like that on a shared VM: the second core runs its parts half as
//! fast, and two threads take longer than one. So the driver times the steps and, every
//! ~2 000 steps, runs 64 on the team and 64 alone (`SoloProbe`), then keeps
//! the faster mode (and probes less often, up to every ~33 000 steps, while the team wins
//! by 20 % or more); alone, every section is one part on the driver, exactly as on one
//! thread, so this too changes only how long a run takes.
//!
//! Kernels that produce spike lists use [`for_each_part_collecting`]: each part collects
//! its own spikes, and only the short lists travel between cores, never the flag arrays.
//!
//! Kernels split their arrays with [`for_each_part`]: contiguous parts, one per team
//! member, cut at multiples of [`PART_ALIGN`] elements. Each element sees the same
//! operations in the same order wherever the cut falls and whatever the thread count:
//! results are bit-identical for any `threads`, and for any cut.
//!
//! A system with several arrays to update (a synapse model's projections, the LIF
//! populations) hands them out in **one** section with [`for_each_share`] or
//! [`for_each_share_collecting`]: each share cuts every array with [`share_range`] (the cut
//! of `for_each_part`, so a thread keeps the post neurons it updated in the synapse pass
//! for the neuron pass, in its own cache) or leaves a small array whole to share 0. Each
//! section costs the team a hand-off, a wait for its slowest share and the member's first
//! touches of what the driver wrote (a cache line from the other core costs ≈ 60 ns on
//! the project's VM), so CUBA's 6 sections per step became 2 (see `DeliveryBatch` in
//! `projection` and `LifBatch` in `ember_models`), then 1 (the LIF pass pulls its
//! incoming deliveries into its own section, [`crate::pull`]).
//!
//! When populations differ in size, a run's team also follows a `CutPlan` made from the
//! population sizes as the run starts. Populations smaller than half a thread's fair share
//! of all neurons stay whole on share 0, and share 0 takes a smaller lead part of the
//! others, so that each thread still updates about as many neurons. A plan knows array
//! lengths only, so every pass over arrays of one length (neuron pass, delivery into it)
//! cuts them alike. Why and what it gained: see `CutPlan`.
//!
//! Equal neuron counts are not equal times (models differ in cost, and on a shared machine
//! one core is often slower than the other for seconds at a time), and every section waits
//! for its slowest share. So the team times each share's parts of the sections (a member's
//! from the moment the section was published, so that what is evened out is when the
//! shares finish, see `share_time`) and, every 128 steps, moves share 0's part of the led
//! populations toward even times (`rebalanced_lead`). The cut then depends on timing, but
//! only where it falls; the results do not.
//!
//! Work that follows a pass and depends on what each share found (the `lif` pass pushing
//! the spikes it found, see `lif_push` in `ember_models`) cannot be balanced in advance.
//! [`for_each_share_collecting_then`] hands it out by claims instead: each share opens the
//! units its lists make, takes half of what is left of them at a time, and when it has
//! none left takes over the unclaimed units of a share still busy ([`FollowUp`]). The
//! units must give the same results whichever share does them.
//!
//! Sections do not nest: a section started from inside another (or from any thread other
//! than the one driving the steps) runs serially on its caller.

use std::cell::{Cell, UnsafeCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

/// Parts are cut at multiples of this many elements (one 64-byte cache line of `f32`
/// × 16, so neighbouring parts never share a cache line of any state array).
pub const PART_ALIGN: usize = 256;

/// The most threads a team uses; a larger pool still runs sections on this many.
pub const MAX_TEAM: usize = 64;

/// The fewest elements of a light per-element pass (a decay, a sum, a LIF update) worth
/// splitting over the team: a section costs ≈ 0.2 µs plus the imbalance between the parts
/// (often more on a shared VM), such a pass ≈ 0.1 ns per element.
pub const PARALLEL_MIN_ELEMENTS: usize = 8_192;

/// Busy-wait rounds (`pause`: 25 ns each measured on this VM, so ~0.4 ms in all) before a
/// waiting thread gives its core back: the driver by yielding, a member by sleeping until
/// the next section.
const SPIN_ROUNDS: u32 = 1 << 14;

/// How long the driver, done with its own share, waits for the members to finish before
/// taking over the shares of those that have not started (see
/// [`Team::take_over_late_members`]).
const LATE_AFTER: std::time::Duration = std::time::Duration::from_micros(2);

/// A type-erased section: `job(k)` runs member `k`'s share.
type Job = dyn Fn(usize) + Sync;

/// A value alone on its cache lines (two, against adjacent-line prefetching), so the
/// driver's and the members' writes do not invalidate each other's other fields.
#[repr(align(128))]
struct Line<T>(T);

/// The shared state of one team (lives on the driver's stack for one `run_steps`).
pub(crate) struct Team {
    size: usize,
    /// The epoch, the current job and the stop flag, on one line: a member learns of a
    /// section, and finds its job, with a single cache miss.
    published: Line<Published>,
    /// Members (other than the driver) still running the current section; the driver
    /// counts down for a member whose share it has taken over.
    pending: Line<AtomicUsize>,
    /// Per member, the epoch of the last section whose share was claimed: by the member
    /// when it starts the section, or by the driver taking the share over from a member
    /// that has not started (see [`Team::take_over_late_members`]). Exactly one of the two
    /// claims a share.
    claims: Box<[Line<AtomicU64>]>,
    /// A member has missed the last section it was late for: take over without the grace
    /// (see [`Team::take_over_late_members`]); cleared when every member ran its own share
    /// again.
    missed: AtomicBool,
    /// Tests: members sleep this long after seeing each section, before claiming.
    #[cfg(test)]
    member_delay: Option<std::time::Duration>,
    /// A member's share panicked.
    panicked: AtomicBool,
    /// The driver runs every section alone, as one part ([`SoloProbe`]); read and written
    /// by the driver only.
    solo: AtomicBool,
    /// One output list per share, for [`for_each_part_collecting`].
    buffers: Box<[Line<ShareList>]>,
    /// Per share, the claims on the follow-up work of its lists
    /// ([`for_each_share_collecting_then`]).
    follow_ups: Box<[Line<FollowUpClaims>]>,
    /// Members asleep (or about to sleep) on `wake`; the driver notifies when it is > 0.
    sleepers: Line<AtomicUsize>,
    /// Where idle members sleep: a run whose steps hand out no section for a while (small
    /// populations only) then leaves the other cores alone instead of spinning on them.
    wake: (Mutex<()>, Condvar),
    /// How the team cuts arrays of each length (its lengths fixed for the team's lifetime,
    /// its lead moved by [`Team::rebalance`]).
    plan: CutPlan,
    /// Per share, the [`ticks`] spent running its parts of sections since the last
    /// [`Team::rebalance`] (a member's own line; the driver adds to it only when it takes
    /// a share over).
    busy: Box<[Line<AtomicU64>]>,
    /// Steps run on the team since the last [`Team::rebalance`] (driver only).
    team_steps: Cell<u32>,
    /// Tests: shares' times are not measured; the test adds them ([`Team::add_busy`]).
    #[cfg(test)]
    fake_busy: bool,
}

/// What the driver publishes to the members.
struct Published {
    /// Incremented once per section (and at the stop); members act when it changes.
    epoch: AtomicU64,
    /// The current section (valid while `pending > 0`).
    job: UnsafeCell<Option<*const Job>>,
    /// The driver has finished: members return.
    stop: AtomicBool,
    /// [`ticks`] when the current section was published (see [`share_time`]).
    at: AtomicU64,
}

/// The output list of one share (see [`Team::buffers`]), and where in it each output of a
/// [`for_each_share_collecting`] section ends.
struct ShareList(UnsafeCell<Vec<u32>>, UnsafeCell<[usize; MAX_COLLECTED]>);

// SAFETY: list `m` is used only by share `m` during a section and by the driver between
// sections (see `for_each_part_collecting`).
unsafe impl Sync for ShareList {}

// SAFETY: `job` is written only by the driver while no member reads it (between sections,
// `pending == 0`), published by the release store to `epoch`, and read by members after
// their acquire load of `epoch`; the pointee is `Sync` and outlives the section because the
// driver waits for `pending == 0` before returning (also when unwinding). `buffers[m]` is
// used only by share `m` during a section and by the driver between sections.
unsafe impl Sync for Team {}

thread_local! {
    /// The team this thread drives, if any (null otherwise, and while a section runs).
    static DRIVING: Cell<*const Team> = const { Cell::new(std::ptr::null()) };
    /// The cut plan of the team this thread belongs to (driver or member), if any.
    static PLAN: Cell<*const CutPlan> = const { Cell::new(std::ptr::null()) };
}

impl Team {
    pub(crate) fn new(size: usize) -> Self {
        let size = size.clamp(1, MAX_TEAM);
        Self {
            size,
            published: Line(Published {
                epoch: AtomicU64::new(0),
                job: UnsafeCell::new(None),
                stop: AtomicBool::new(false),
                at: AtomicU64::new(0),
            }),
            pending: Line(AtomicUsize::new(0)),
            claims: (0..size).map(|_| Line(AtomicU64::new(0))).collect(),
            missed: AtomicBool::new(false),
            #[cfg(test)]
            member_delay: None,
            panicked: AtomicBool::new(false),
            solo: AtomicBool::new(false),
            buffers: (0..size)
                .map(|_| {
                    Line(ShareList(
                        UnsafeCell::new(Vec::new()),
                        UnsafeCell::new([0; MAX_COLLECTED]),
                    ))
                })
                .collect(),
            follow_ups: (0..size).map(|_| Line(FollowUpClaims::default())).collect(),
            sleepers: Line(AtomicUsize::new(0)),
            wake: (Mutex::new(()), Condvar::new()),
            plan: CutPlan::default(),
            busy: (0..size).map(|_| Line(AtomicU64::new(0))).collect(),
            team_steps: Cell::new(0),
            #[cfg(test)]
            fake_busy: false,
        }
    }

    /// The team's plan, with the lead it has arrived at.
    pub(crate) fn plan(&self) -> &CutPlan {
        &self.plan
    }

    /// Runs share `k` of a section, adding its [`share_time`] to the share's busy time:
    /// a member counts from the section's publication (`published`), the driver (its own
    /// share, or one it took over) from its start.
    #[inline]
    fn run_share(&self, job: &(dyn Fn(usize) + Sync + '_), k: usize, published: Option<u64>) {
        #[cfg(test)]
        if self.fake_busy {
            return job(k);
        }
        let start = ticks();
        job(k);
        let time = share_time(published.unwrap_or(start), start, ticks());
        self.busy[k].0.fetch_add(time, Ordering::Relaxed);
    }

    /// Tests: adds `t` to share `k`'s busy time, as if its part had taken that long.
    #[cfg(test)]
    fn add_busy(&self, k: usize, t: u64) {
        self.busy[k].0.fetch_add(t, Ordering::Relaxed);
    }

    /// After a step run on the team: every [`BALANCE_STEPS`] such steps, moves the plan's
    /// lead by [`rebalanced_lead`] from the shares' busy times (by up to
    /// [`UNSETTLED_MAX_MOVE`] when they differ by more than [`UNSETTLED_IMBALANCE`]), and
    /// starts counting anew. Called by the driver between steps, while no section runs.
    fn rebalance(&self) {
        let steps = self.team_steps.get() + 1;
        if steps < BALANCE_STEPS {
            self.team_steps.set(steps);
            return;
        }
        self.team_steps.set(0);
        let take = |b: &Line<AtomicU64>| b.0.swap(0, Ordering::Relaxed) as f64;
        let driver = take(&self.busy[0]);
        let others = self.busy[1..].iter().map(take).sum::<f64>() / (self.size - 1) as f64;
        let plan = &self.plan;
        if plan.k != self.size || plan.cut == 0 {
            return;
        }
        let unsettled = is_unsettled(driver, others);
        let lead = rebalanced_lead(
            plan.lead.fraction(),
            driver,
            others,
            self.size,
            plan.held,
            plan.cut,
            if unsettled {
                UNSETTLED_MAX_MOVE
            } else {
                BALANCE_MAX_MOVE
            },
        );
        plan.set_lead(lead);
    }

    /// The team cutting arrays as `plan` says (see [`CutPlan`]); a plan made for another
    /// team size is ignored.
    pub(crate) fn with_plan(mut self, plan: CutPlan) -> Self {
        if plan.k == self.size {
            self.plan = plan;
        }
        self
    }

    /// The loop of member `k ≥ 1`: runs each section's share until the driver stops.
    pub(crate) fn member(&self, k: usize) {
        if k >= self.size {
            return;
        }
        let _plan = PlanGuard::set(&self.plan);
        let mut seen = 0;
        let mut idle = 0u32;
        loop {
            let epoch = self.published.0.epoch.load(Ordering::Acquire);
            if epoch == seen {
                idle = idle.saturating_add(1);
                if idle < SPIN_ROUNDS {
                    std::hint::spin_loop();
                } else {
                    self.sleep_until_after(seen);
                }
                continue;
            }
            seen = epoch;
            idle = 0;
            if self.published.0.stop.load(Ordering::Acquire) {
                return;
            }
            #[cfg(test)]
            if let Some(delay) = self.member_delay {
                // Tests: a member that is always late, between reading the epoch and
                // claiming its share (where a descheduled thread can stop).
                std::thread::sleep(delay);
            }
            if !self.claim(k, epoch) {
                // The driver took this share over (and counted it down): the section may
                // be over and its job gone.
                continue;
            }
            // SAFETY: see `unsafe impl Sync for Team`.
            let job = unsafe { (*self.published.0.job.get()).expect("a section is published") };
            let job = unsafe { &*job };
            let published = Some(self.published.0.at.load(Ordering::Relaxed));
            if catch_unwind(AssertUnwindSafe(|| self.run_share(job, k, published))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.pending.0.fetch_sub(1, Ordering::Release);
        }
    }

    /// Claims member `k`'s share of the section published as `epoch`: true for exactly one
    /// of the member and the driver. The member's own claim stays on a line it owns; the
    /// driver touches the line only when taking over.
    ///
    /// The claim only succeeds while the share holds an earlier epoch: a member that read
    /// `epoch` and was then descheduled while the driver took over that section and later
    /// ones must not claim (and run the job of) a section it never saw.
    fn claim(&self, k: usize, epoch: u64) -> bool {
        // Relaxed suffices for exclusivity (one modification order per atomic); the
        // section's data was published with `epoch`.
        let cell = &self.claims[k].0;
        let mut cur = cell.load(Ordering::Relaxed);
        while cur < epoch {
            match cell.compare_exchange_weak(cur, epoch, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
        false
    }

    /// Sleeps until the epoch differs from `seen` (a new section or the stop).
    fn sleep_until_after(&self, seen: u64) {
        let (lock, cvar) = &self.wake;
        let mut guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        // Announce the sleep before the last look at the epoch; the driver bumps the epoch
        // before looking at `sleepers` (both sequentially consistent), so either this
        // thread sees the new epoch or the driver sees the sleeper and notifies, which it
        // can only do once this thread waits (it holds the lock until then).
        self.sleepers.0.fetch_add(1, Ordering::SeqCst);
        while self.published.0.epoch.load(Ordering::SeqCst) == seen {
            guard = cvar.wait(guard).unwrap_or_else(PoisonError::into_inner);
        }
        self.sleepers.0.fetch_sub(1, Ordering::SeqCst);
    }

    /// Bumps the epoch (publishing a section or the stop) and wakes sleeping members.
    fn publish(&self) {
        self.published.0.epoch.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.0.load(Ordering::SeqCst) > 0 {
            let (lock, cvar) = &self.wake;
            drop(lock.lock().unwrap_or_else(PoisonError::into_inner));
            cvar.notify_all();
        }
    }

    /// Makes this thread the team's driver for the duration of `f`, then releases the
    /// members (also if `f` panics).
    pub(crate) fn drive<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Release<'a>(&'a Team);
        impl Drop for Release<'_> {
            fn drop(&mut self) {
                DRIVING.with(|d| d.set(std::ptr::null()));
                self.0.published.0.stop.store(true, Ordering::Release);
                self.0.publish();
            }
        }
        let _release = Release(self);
        let _plan = PlanGuard::set(&self.plan);
        DRIVING.with(|d| d.set(self));
        f()
    }

    /// Makes the driver run the next sections alone (`true`) or hand them out (`false`).
    pub(crate) fn set_solo(&self, solo: bool) {
        self.solo.store(solo, Ordering::Relaxed);
    }

    /// Runs `steps` steps (`step()` each) as the driver, choosing between the team and the
    /// driver alone with `probe`.
    pub(crate) fn drive_steps(&self, steps: u64, probe: &mut SoloProbe, mut step: impl FnMut()) {
        self.drive(|| {
            for _ in 0..steps {
                let solo = probe.solo_next();
                self.set_solo(solo);
                // Reading the clock costs ≈ 25 ns on the project's VM: only probe steps.
                let start = probe.times_next().then(std::time::Instant::now);
                step();
                probe.record(start.map_or(std::time::Duration::ZERO, |s| s.elapsed()));
                if !solo {
                    self.rebalance();
                }
            }
        });
    }

    /// After the driver's own share: waits up to [`LATE_AFTER`] for the members to finish,
    /// then claims and runs the share of every member that has not started the section
    /// (a member normally starts 0.2–1 µs after the publication). Once a member has missed
    /// a section there is no grace until every member runs its own share again.
    fn take_over_late_members(&self) {
        let pending = &self.pending.0;
        if pending.load(Ordering::Acquire) == 0 {
            self.missed.store(false, Ordering::Relaxed);
            return;
        }
        if !self.missed.load(Ordering::Relaxed) {
            let start = std::time::Instant::now();
            while start.elapsed() < LATE_AFTER {
                std::hint::spin_loop();
                if pending.load(Ordering::Acquire) == 0 {
                    return;
                }
            }
        }
        let epoch = self.published.0.epoch.load(Ordering::Relaxed);
        // SAFETY: the job is this section's (written by this thread before publishing).
        let job = unsafe { (*self.published.0.job.get()).expect("a section is running") };
        let mut took = false;
        for k in 1..self.size {
            if self.claim(k, epoch) {
                took = true;
                // SAFETY: the job lives until this section returns.
                let job = unsafe { &*job };
                if catch_unwind(AssertUnwindSafe(|| self.run_share(job, k, None))).is_err() {
                    self.panicked.store(true, Ordering::Relaxed);
                }
                pending.fetch_sub(1, Ordering::Release);
            }
        }
        self.missed.store(took, Ordering::Relaxed);
    }

    /// Runs one section: member shares on the others, share 0 here; returns when all are
    /// done. Panics (after every member has finished) if a member's share panicked.
    fn section<'a>(&self, job: &'a (dyn Fn(usize) + Sync + 'a)) {
        struct Wait<'a>(&'a Team);
        impl Drop for Wait<'_> {
            fn drop(&mut self) {
                // Members that started are waited for; a member that has not started after
                // the grace has its share run here (when not unwinding), so a descheduled
                // or sleeping thread never holds up the step.
                if !std::thread::panicking() {
                    self.0.take_over_late_members();
                }
                let mut idle = 0u32;
                while self.0.pending.0.load(Ordering::Acquire) != 0 {
                    idle = idle.saturating_add(1);
                    if idle < SPIN_ROUNDS {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                DRIVING.with(|d| d.set(self.0));
            }
        }
        // SAFETY: the lifetime is erased only for the duration of this call: `Wait` keeps
        // the borrow alive until every member has finished with it, even when unwinding.
        let erased: *const Job =
            unsafe { std::mem::transmute::<&'a (dyn Fn(usize) + Sync + 'a), &'static Job>(job) };
        unsafe { *self.published.0.job.get() = Some(erased) };
        self.pending.0.store(self.size - 1, Ordering::Relaxed);
        self.published.0.at.store(ticks(), Ordering::Relaxed);
        self.publish();
        // No nested sections while this one runs.
        DRIVING.with(|d| d.set(std::ptr::null()));
        let wait = Wait(self);
        self.run_share(job, 0, None);
        drop(wait);
        // A plain load first: a read-modify-write would take the line from the members.
        if self.panicked.load(Ordering::Relaxed) {
            self.panicked.store(false, Ordering::Relaxed);
            panic!("a parallel section of the step panicked on a team thread");
        }
    }
}

/// Steps per probe of each mode (the first [`PROBE_SKIP`] of them not timed: caches and
/// sleeping members settle after a switch).
const PROBE_STEPS: u64 = 64;
/// Steps of each probe left out of its timing.
const PROBE_SKIP: u64 = 8;
/// Steps run on the team between two probes, at first and whenever the last probe was
/// close or switched from the driver alone.
const HOLD_STEPS: u64 = 2048;
/// Steps run on the driver alone after a probe that switched to it; each further probe it
/// wins doubles the hold (up to [`MAX_HOLD_STEPS`]). Short, because a wrong switch costs
/// the whole hold at one thread's speed: one slow minute of the second vCPU, or a few slow
/// steps of the team inside the 56 timed ones, is enough to lose a probe.
const SOLO_FIRST_HOLD: u64 = 256;
/// The longest hold: after each probe in which the team was clearly faster
/// ([`CLEAR_WIN`]), or the driver alone again faster, the hold doubles up to this many
/// steps.
const MAX_HOLD_STEPS: u64 = 16 * HOLD_STEPS;
/// The team's step time, as a fraction of the driver's alone, below which a probe counts
/// as a clear win for the team.
const CLEAR_WIN: f64 = 0.8;

/// Whether the team or its driver alone runs a run's parallel sections, re-decided from
/// measured step times: after every hold, [`PROBE_STEPS`] steps run on the team and as
/// many on the driver alone, and the faster mode runs the next hold (the team unless the
/// driver alone is 3 % faster). On the team the hold is [`HOLD_STEPS`] steps, doubled (up
/// to [`MAX_HOLD_STEPS`]) after each probe the team won clearly; on the driver alone it is
/// [`SOLO_FIRST_HOLD`] after a switch and doubles while the driver keeps winning.
///
/// Why: on a shared machine the second core is sometimes slow for minutes (measured on
/// the project's VM: CUBA 64 000 took 0.45–0.51 s on 2 threads against 0.46 s on 1, and
/// 0.30–0.37 s minutes later). A part runs the same operations in the same order
/// whichever thread runs it and however the array is cut (see the module docs), so the
/// choice changes the time a run takes, never its results.
///
/// Why the hold grows: a probe is not free. Its steps on the driver alone run at the
/// speed of one thread, and each switch moves the member's part of the state between the
/// cores' caches. On CUBA 64 000, where the team runs a step in ≈ 24 µs against ≈ 36 µs
/// alone, a probe every 2 176 steps costs ≈ 1.5–2 % of the loop; every 32 896, ≈ 0.1 %.
#[derive(Clone, Debug)]
pub(crate) struct SoloProbe {
    /// Where the next step falls in the current cycle (probe on the team, probe alone,
    /// hold).
    phase: u64,
    /// Steps of the current cycle's hold.
    hold: u64,
    /// Timed steps of the current probe on the team and alone.
    team: std::time::Duration,
    solo: std::time::Duration,
    /// The mode chosen by the last probe.
    chosen_solo: bool,
}

impl Default for SoloProbe {
    /// A run starts on the team, with a first hold of [`HOLD_STEPS`] steps before the
    /// first probe: its first steps are the slowest of the run (first touches of the
    /// state, caches and pages still cold on both cores), so timing them would not say
    /// much, and a probe there cost ≈ 0.5 % of a CUBA 64 000 × 1 s run on 2 threads (64
    /// steps alone at the start). A member that does not start in time is still covered
    /// (the driver takes its share over, see [`Team::take_over_late_members`]).
    fn default() -> Self {
        SoloProbe {
            phase: 2 * PROBE_STEPS,
            hold: HOLD_STEPS,
            team: std::time::Duration::ZERO,
            solo: std::time::Duration::ZERO,
            chosen_solo: false,
        }
    }
}

impl SoloProbe {
    /// Whether the next step runs on the driver alone.
    pub(crate) fn solo_next(&self) -> bool {
        match self.phase {
            p if p < PROBE_STEPS => false,
            p if p < 2 * PROBE_STEPS => true,
            _ => self.chosen_solo,
        }
    }

    /// Whether [`SoloProbe::record`] uses the next step's time (a probe step).
    pub(crate) fn times_next(&self) -> bool {
        self.phase < 2 * PROBE_STEPS
    }

    /// Records the time the step announced by [`SoloProbe::solo_next`] took (any value
    /// when [`SoloProbe::times_next`] said it is not used).
    pub(crate) fn record(&mut self, took: std::time::Duration) {
        let p = self.phase;
        if p == 0 {
            self.team = std::time::Duration::ZERO;
            self.solo = std::time::Duration::ZERO;
        }
        if (PROBE_SKIP..PROBE_STEPS).contains(&p) {
            self.team += took;
        } else if (PROBE_STEPS + PROBE_SKIP..2 * PROBE_STEPS).contains(&p) {
            self.solo += took;
        }
        if p == 2 * PROBE_STEPS - 1 {
            let (team, solo) = (self.team.as_secs_f64(), self.solo.as_secs_f64());
            let was_solo = self.chosen_solo;
            self.chosen_solo = solo < 0.97 * team;
            self.hold = match (self.chosen_solo, was_solo) {
                (true, true) => (2 * self.hold).min(MAX_HOLD_STEPS),
                (true, false) => SOLO_FIRST_HOLD,
                (false, false) if team < CLEAR_WIN * solo => (2 * self.hold).min(MAX_HOLD_STEPS),
                (false, _) => HOLD_STEPS,
            };
        }
        self.phase += 1;
        if self.phase >= 2 * PROBE_STEPS + self.hold {
            self.phase = 0;
        }
    }
}

/// The number of parts a section over `len` elements is cut into on this thread now: the
/// team size when this thread drives a team and `len ≥ min_len`, else 1.
pub fn parts(len: usize, min_len: usize) -> usize {
    if len < min_len.max(2 * PART_ALIGN) {
        return 1;
    }
    DRIVING.with(|d| {
        let team = d.get();
        if team.is_null() {
            1
        } else {
            // SAFETY: a non-null pointer is set only by `Team::drive`/`section` for the
            // lifetime of the team, on this thread.
            let team = unsafe { &*team };
            if team.solo.load(Ordering::Relaxed) || team.plan.keeps_whole(len) {
                1
            } else {
                team.size.min(len / PART_ALIGN)
            }
        }
    })
}

/// Arrays (or tuples of arrays) that can be cut into contiguous parts.
pub trait Split: Sized + Send {
    /// The number of elements (all arrays of a tuple must have at least this many).
    fn len(&self) -> usize;
    /// Whether there are no elements.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Splits into `..mid` and `mid..`.
    fn split_at(self, mid: usize) -> (Self, Self);
}

impl<T: Send> Split for &mut [T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        self.split_at_mut(mid)
    }
}

impl<T: Sync> Split for &[T] {
    fn len(&self) -> usize {
        <[T]>::len(self)
    }
    fn split_at(self, mid: usize) -> (Self, Self) {
        <[T]>::split_at(self, mid)
    }
}

/// No data: as long as any other member of a tuple (for callers with nothing to pass).
impl Split for () {
    fn len(&self) -> usize {
        usize::MAX
    }
    fn split_at(self, _mid: usize) -> (Self, Self) {
        ((), ())
    }
}

macro_rules! split_tuple {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: Split),+> Split for ($($name,)+) {
            fn len(&self) -> usize {
                let mut n = usize::MAX;
                $(n = n.min(self.$idx.len());)+
                n
            }
            #[allow(non_snake_case)]
            fn split_at(self, mid: usize) -> (Self, Self) {
                $(let $name = self.$idx.split_at(mid);)+
                (($($name.0,)+), ($($name.1,)+))
            }
        }
    };
}
split_tuple!(A 0, B 1);
split_tuple!(A 0, B 1, C 2);
split_tuple!(A 0, B 1, C 2, D 3);
split_tuple!(A 0, B 1, C 2, D 3, E 4);

/// One member's part, taken exactly once by exactly one thread.
struct Slot<S>(UnsafeCell<Option<(usize, S)>>);

// SAFETY: slot `k` is accessed only by the thread running share `k` (exactly one).
unsafe impl<S: Send> Sync for Slot<S> {}

/// Calls `f(start, part)` for contiguous parts of `data` covering all of it, in parallel on
/// the team when there is one and `data.len() ≥ min_len` (see [`parts`]); `start` is the
/// index of the part's first element. Parts are cut at multiples of [`PART_ALIGN`].
pub fn for_each_part<S: Split>(data: S, min_len: usize, f: impl Fn(usize, S) + Sync) {
    let len = data.len();
    let k = parts(len, min_len);
    if k <= 1 {
        f(0, data);
        return;
    }
    split_and_run(data, k, |_, start, part| f(start, part));
}

/// [`for_each_part`] for kernels that also produce an ordered list of indices (the spiking
/// neurons): `f(start, part, out)` appends to a list of its own part (a buffer the team
/// keeps, so no allocation once warm), and the parts' lists are appended to `out` in part
/// order after the section, so `out` is what one serial pass would make. Each thread writes
/// only its own list and the driver reads just the few lines holding the results, where
/// collecting from a shared flag array afterwards would pull every flag line written by
/// another core across (a stalled store per line, tens of µs per step at 10⁵ neurons when
/// the two cores are far apart).
pub fn for_each_part_collecting<S: Split>(
    data: S,
    min_len: usize,
    out: &mut Vec<u32>,
    f: impl Fn(usize, S, &mut Vec<u32>) + Sync,
) {
    let len = data.len();
    let k = parts(len, min_len);
    if k <= 1 {
        f(0, data, out);
        return;
    }
    let team = DRIVING.with(Cell::get);
    // SAFETY: `k > 1`, so this thread drives `team` (live for the whole section); list `m`
    // is touched only by share `m` during the section and by the driver outside it.
    let buffers = unsafe { &(*team).buffers };
    // Cleared here, not in the shares: rounding can leave fewer parts than `k`, and a list
    // whose share gets no part must not carry an earlier section's indices.
    for buf in buffers.iter().take(k) {
        // SAFETY: no section is running.
        unsafe { (*buf.0.0.get()).clear() };
    }
    split_and_run(data, k, |m, start, part| {
        if let Some(buf) = buffers.get(m) {
            // SAFETY: as above; share `m` runs on exactly one thread.
            f(start, part, unsafe { &mut *buf.0.0.get() });
        }
    });
    for buf in buffers.iter().take(k) {
        // SAFETY: the section is over (every share finished before `section` returned).
        out.extend_from_slice(unsafe { &*buf.0.0.get() });
    }
}

/// The elements `len` elements cut into `k` parts give to part `m` (`0 ≤ m < k`): the cut
/// of [`for_each_part`] and [`for_each_part_collecting`], so a pass that cuts an array with
/// `share_range` gives each thread the elements those functions give it. Parts are
/// [`PART_ALIGN`]-aligned, so some may be empty. Equal parts, unless this thread belongs to
/// a team whose `CutPlan` gives share 0 a smaller lead part of arrays of this length.
pub fn share_range(len: usize, k: usize, m: usize) -> std::ops::Range<usize> {
    let lead = PLAN.with(|p| {
        let plan = p.get();
        // SAFETY: a non-null pointer is set only by `PlanGuard`, for as long as the team
        // (which owns the plan) runs on this thread.
        (!plan.is_null()).then(|| unsafe { &*plan }.lead_part(len, k))
    });
    match lead.flatten() {
        Some(lead) if m == 0 => 0..lead,
        Some(lead) => {
            let chunk = part_len(len - lead, k - 1);
            (lead + (m - 1) * chunk).min(len)..(lead + m * chunk).min(len)
        }
        None => {
            let chunk = part_len(len, k);
            (m * chunk).min(len)..((m + 1) * chunk).min(len)
        }
    }
}

/// The length of every part but the last when `len` elements are cut into `k` equal parts.
fn part_len(len: usize, k: usize) -> usize {
    len.div_ceil(k.max(1)).next_multiple_of(PART_ALIGN)
}

/// How a team cuts the arrays of a network whose populations differ in size: which array
/// lengths stay whole with share 0 (the driving thread), and how much of the others share
/// 0 takes so that every thread gets about as many neurons.
///
/// Why: cutting a small population in parts costs per synapse row, not per neuron. A
/// projection's delivery fetches, on every thread, the offsets of each spiking row and
/// the cache line where the thread's part of the row starts, and a row of 16 targets is
/// one line that every thread needs (see benches/README.md, "Ninth pass"). CUBA 64 000
/// on 2 threads cut both populations in halves; keeping the 12 800 inhibitory neurons
/// (their LIF pass and the projections into them) whole on the driver, and giving the
/// driver 37.5 % of the 51 200 excitatory ones instead of half, took a step from
/// 23.1–23.6 µs to 21.5–21.9 µs. Results do not depend on the cut.
///
/// Lengths are all a plan knows, so every pass over arrays of one length (a population's
/// neuron pass, its incoming projections' delivery, its generators) cuts them the same
/// way and each thread keeps its neurons in its own cache.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CutPlan {
    /// The team size the plan is for (0: no plan).
    k: usize,
    /// Array lengths that stay whole, on share 0.
    whole: Vec<usize>,
    /// Array lengths cut with a lead part for share 0.
    led: Vec<usize>,
    /// Elements share 0 holds whole (populations of `whole` lengths and those too small
    /// to cut), and elements of led lengths: what [`rebalanced_lead`] weighs a move by.
    held: usize,
    cut: usize,
    /// Share 0's part of a led array, in units of 2⁻¹⁶ of its length: set by the plan,
    /// then moved between steps by the team to even out the shares' times
    /// ([`Team::rebalance`]).
    lead: Lead,
}

/// A [`CutPlan`]'s lead, in units of 2⁻¹⁶: written by the driver between steps, read by
/// every thread of the team during sections (the section's publication orders the two).
#[derive(Debug, Default)]
struct Lead(AtomicU32);

impl Lead {
    fn new(fraction: f64) -> Self {
        let lead = Lead::default();
        lead.set_fraction(fraction);
        lead
    }

    fn get(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    fn fraction(&self) -> f64 {
        f64::from(self.get()) / LEAD_ONE
    }

    fn set_fraction(&self, fraction: f64) {
        self.0.store(
            (fraction.clamp(0.0, 1.0) * LEAD_ONE) as u32,
            Ordering::Relaxed,
        );
    }
}

impl Clone for Lead {
    fn clone(&self) -> Self {
        Lead(AtomicU32::new(self.get()))
    }
}

impl PartialEq for Lead {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for Lead {}

/// A whole array as a [`Lead`].
const LEAD_ONE: f64 = 65_536.0;

impl CutPlan {
    /// The plan for a team of `k` threads and populations of `sizes` neurons (state array
    /// lengths). Populations below `min_len` stay whole with share 0 (no pass cuts them
    /// anyway); so do, smallest first, those smaller than half a thread's fair share of all
    /// neurons, while share 0's whole populations stay within a fair share. Share 0 then
    /// takes from each remaining (led) population what makes its total a fair share, and
    /// the other threads split the rest equally. With nothing kept whole share 0 starts
    /// with a fair share of every led population (equal cuts). No plan (equal cuts, and
    /// nothing for the team to rebalance) for one thread or when no population is led.
    pub(crate) fn new(k: usize, sizes: &[usize], min_len: usize) -> Self {
        let total: usize = sizes.iter().sum();
        if k < 2 || total == 0 {
            return Self::default();
        }
        let fair = total as f64 / k as f64;
        let mut held: usize = sizes.iter().filter(|&&n| n < min_len).sum();
        let mut lengths: Vec<usize> = sizes.iter().copied().filter(|&n| n >= min_len).collect();
        lengths.sort_unstable();
        lengths.dedup();
        let (mut whole, mut led) = (Vec::new(), Vec::new());
        for n in lengths {
            // Plans are by length: every population of this size goes the same way.
            let all = n * sizes.iter().filter(|&&m| m == n).count();
            if 2 * k * n <= total && (held + all) as f64 <= fair {
                whole.push(n);
                held += all;
            } else {
                led.push(n);
            }
        }
        let cut: usize = total - held;
        if led.is_empty() || cut == 0 {
            return Self::default();
        }
        let share = ((fair - held as f64) / cut as f64).clamp(0.0, 1.0 / k as f64);
        Self {
            k,
            whole,
            led,
            held,
            cut,
            lead: Lead::new(share),
        }
    }

    /// Takes over the lead `earlier` arrived at when it cuts the same lengths the same way
    /// (a run continued with [`Simulation::run_steps`](crate::Simulation::run_steps)
    /// starts where the last one left off).
    pub(crate) fn resume(&mut self, earlier: &CutPlan) {
        if (self.k, &self.whole, &self.led) == (earlier.k, &earlier.whole, &earlier.led) {
            self.lead = earlier.lead.clone();
        }
    }

    /// Sets share 0's lead (a fraction of each led array, clamped to `0..=1`).
    pub(crate) fn set_lead(&self, fraction: f64) {
        self.lead.set_fraction(fraction);
    }

    /// Whether arrays of `len` elements stay whole (with share 0).
    fn keeps_whole(&self, len: usize) -> bool {
        self.whole.contains(&len)
    }

    /// Share 0's part (`0..lead`, aligned) of an array of `len` elements cut into `k`
    /// parts, when the plan leads it.
    fn lead_part(&self, len: usize, k: usize) -> Option<usize> {
        (k == self.k && self.led.contains(&len)).then(|| {
            ((len as u64 * u64::from(self.lead.get())) >> 16)
                .next_multiple_of(PART_ALIGN as u64)
                .min(len as u64) as usize
        })
    }
}

/// Team steps between two moves of a plan's lead ([`Team::rebalance`]): ≈ 3 ms at
/// CUBA 64 000, so that the lead settles within the first few hundred steps of a run and
/// follows a core that slows down within a few milliseconds.
///
/// Why not longer: the two vCPUs of the project's VM drift apart on a scale of
/// milliseconds, and a run starts far from even more often than not. Measured with
/// temporary time stamps of every section (CUBA 64 000 × 1 s, 2 threads, runs
/// interleaved): with 1 024-step windows (18 runs) the shares' finish times differed by
/// 0.3–13 µs (mean 4.3 µs) of a 25–40 µs step over the first 2 048 steps, and by
/// 1.3–6.7 µs (mean 3.4 µs) averaged over 256-step blocks of the whole run; with 128-step
/// windows (12 runs) by 0.0–1.5 µs (mean 0.6 µs) and 0.7–3.4 µs (mean 1.6 µs). The time
/// the threads spent waiting for each other fell from 7.1 % to 5.4 % of the sections
/// (means; 3.0–10.5 % and 3.6–8.8 %). The per-step noise (a share's time varies by ±1 µs
/// around its local median in half the steps, by 3–12 µs in a few per cent) averages out
/// over 128 steps to a few tenths of a microsecond.
const BALANCE_STEPS: u32 = 128;
/// The imbalance (`|driver − others| / max(driver, others)` over a window) above which the
/// lead counts as unsettled ([`is_unsettled`]) and may move by [`UNSETTLED_MAX_MOVE`]:
/// well above what a balanced team's windows differ by.
const UNSETTLED_IMBALANCE: f64 = 0.12;
/// The part of the measured imbalance a move corrects, and the largest move (as a
/// fraction of each led array): a noisy window cannot swing the cut far, and the lead
/// settles over a few windows without overshooting.
const BALANCE_GAIN: f64 = 0.5;
const BALANCE_MAX_MOVE: f64 = 1.0 / 32.0;
/// The largest move after an unsettled window: a 25 % imbalance (seen in the first
/// windows of a run) is corrected within a few windows rather than a dozen.
const UNSETTLED_MAX_MOVE: f64 = 1.0 / 8.0;

/// Whether a window's busy times (`driver`, and the mean of the `others`) differ by more
/// than [`UNSETTLED_IMBALANCE`].
fn is_unsettled(driver: f64, others: f64) -> bool {
    let larger = driver.max(others);
    larger > 0.0 && (driver - others).abs() > UNSETTLED_IMBALANCE * larger
}

/// Share 0's next lead (the fraction `lead` of every led array it takes) from the busy
/// times of the last window: `driver` for share 0, `others` the mean of the other
/// `k − 1` shares, share 0 holding `held` elements whole and the led arrays `cut`
/// elements in all.
///
/// Taking `δ` more elements moves `c·δ` of work to share 0 and `c·δ/(k − 1)` off each
/// other share, at `c = (driver + (k − 1)·others)/(held + cut)` per element (the mean
/// cost, fixed costs included, so the estimate errs on the small side). The two are even
/// at `δ = (others − driver)·(k − 1)/(c·k)`; the lead moves by [`BALANCE_GAIN`] of that,
/// at most `max_move`, and stays in `0..=1`. Without measured work it stays.
///
/// Why: equal neuron counts are not equal times. On CUBA 64 000 with the plan's even
/// split (measured with temporary probes, 2 threads) the member's LIF part took
/// 11.4–12.1 µs against the driver's 10.5 µs, and the member's synapse part 12.1 µs
/// against 10.8 µs: the driver's whole inhibitory population costs less per neuron in
/// delivery, and one core is often slower than the other on a shared machine. The step
/// waits for the slower share in every section.
pub(crate) fn rebalanced_lead(
    lead: f64,
    driver: f64,
    others: f64,
    k: usize,
    held: usize,
    cut: usize,
    max_move: f64,
) -> f64 {
    let work = driver + (k - 1) as f64 * others;
    if k < 2 || cut == 0 || work <= 0.0 || !work.is_finite() {
        return lead;
    }
    let per_element = work / (held + cut) as f64;
    let delta = (others - driver) * (k - 1) as f64 / (per_element * k as f64);
    let step = (BALANCE_GAIN * delta / cut as f64).clamp(-max_move, max_move);
    (lead + step).clamp(0.0, 1.0)
}

/// The time a share counts toward its busy time ([`Team::rebalance`]), in [`ticks`]: from
/// `start` to `end`, plus, for a member, the wait from the section's publication
/// (`published`) to its start, at most as long again.
///
/// Why: the section ends when its last share does, and a member starts its share only
/// after it sees the publication (≈ 0.2–1 µs on the project's VM, more when the two vCPUs
/// contend), while the driver starts at once. Balancing busy times alone left the driver
/// waiting that long at the end of every section; balancing from the publication evens
/// out when the shares *finish*. The cap keeps a member that was asleep or descheduled
/// (or a clock that differs between cores) from counting more than twice its own work.
#[inline]
fn share_time(published: u64, start: u64, end: u64) -> u64 {
    let work = end.wrapping_sub(start);
    let late = if start >= published {
        (start - published).min(work)
    } else {
        0
    };
    work + late
}

/// A cheap monotonic clock for timing shares: the time-stamp counter on x86-64 (cycles
/// at a constant rate), nanoseconds elsewhere. Only differences within a run are used.
#[inline]
fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` reads a counter; it has no preconditions.
        unsafe { std::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_nanos() as u64
    }
}

/// Sets this thread's [`PLAN`] for its lifetime (restoring the previous one).
struct PlanGuard(*const CutPlan);

impl PlanGuard {
    fn set(plan: &CutPlan) -> Self {
        PlanGuard(PLAN.with(|p| p.replace(plan)))
    }
}

impl Drop for PlanGuard {
    fn drop(&mut self) {
        PLAN.with(|p| p.set(self.0));
    }
}

/// Runs `f(m, k)` for each share `m` of one section, on the team when this thread drives
/// one (`k` = the team size) and else once, as `f(0, 1)`. For passes over several arrays
/// at once (the projections of a synapse model, say): each share cuts every array with
/// [`share_range`] or takes whole arrays, so one section replaces one per array.
///
/// `f` must give every element to exactly one share whatever `k` is, and act on each
/// element in an order that does not depend on `k`, for results not to depend on the
/// thread count.
pub fn for_each_share(f: impl Fn(usize, usize) + Sync) {
    let k = parts(usize::MAX, 0);
    if k <= 1 {
        f(0, 1);
        return;
    }
    let job = |m: usize| f(m, k);
    DRIVING.with(|d| {
        let team = d.get();
        // SAFETY: as in `parts`: `k > 1`, so this thread drives `team`.
        unsafe { (*team).section(&job) }
    });
}

/// The most lists one [`for_each_share_collecting`] section fills.
pub const MAX_COLLECTED: usize = 8;

/// [`for_each_share`] for passes that produce an ordered list of indices (the spiking
/// neurons) for each of several outputs: share `m` calls `f(m, k, j, list)` for each
/// output `j` in turn, appending output `j`'s indices of its part to `list` (a buffer of
/// its own, as in [`for_each_part_collecting`]); after the section each `outs[j]` gets
/// the shares' indices for it in share order, so it holds what one serial pass would make
/// when the shares cut the arrays in order ([`share_range`]). Nothing is cleared: the
/// indices are appended to `outs`.
///
/// # Panics
/// With more than [`MAX_COLLECTED`] outputs.
pub fn for_each_share_collecting(
    outs: &mut [&mut Vec<u32>],
    f: impl Fn(usize, usize, usize, &mut Vec<u32>) + Sync,
) {
    for_each_share_collecting_then(outs, f, &NoFollowUp);
}

/// Work that follows a [`for_each_share_collecting_then`] pass on the lists each share
/// found, cut into *units* (the `lif` pass: one unit per spike to deliver through one
/// projection) that any share may do: the share that found them, or, once it has done its
/// own, another share that has finished first.
///
/// Whatever share does a unit, it must give the same results: a share `m` writes only
/// what is its own in the section (its ranges of the arrays, its own outboxes).
pub trait FollowUp: Sync {
    /// How many units the lists of one share make (`lists[j]` for output `j`).
    fn units(&self, lists: &[&[u32]]) -> usize;
    /// Called once by share `m` in each section, before any [`FollowUp::run`] of it
    /// (where it clears what it is about to fill).
    fn begin(&self, m: usize);
    /// Share `m` does units `units` of the work made by share `owner`'s lists `lists`.
    fn run(&self, m: usize, owner: usize, lists: &[&[u32]], units: std::ops::Range<usize>);
}

/// No follow-up work.
struct NoFollowUp;

impl FollowUp for NoFollowUp {
    fn units(&self, _: &[&[u32]]) -> usize {
        0
    }
    fn begin(&self, _: usize) {}
    fn run(&self, _: usize, _: usize, _: &[&[u32]], _: std::ops::Range<usize>) {}
}

/// The claims on one share's follow-up units in the current section: the next unclaimed
/// unit, tagged with the section's epoch (a share's lists are ready, and its units open to
/// others, once the tag is the section's), and how many units there are.
#[derive(Default)]
struct FollowUpClaims {
    /// `epoch << 32 | next unit` (low 32 bits of the epoch).
    next: AtomicU64,
    /// Units in all (written before `next` is tagged).
    total: AtomicUsize,
}

/// The fewest units a claim takes (while that many are left).
const FOLLOW_UP_MIN_CLAIM: usize = 2;

impl FollowUpClaims {
    /// Opens `total` units for the section tagged `tag` (by the owner, once its lists are
    /// complete: the release makes them visible to a share that claims from them).
    fn open(&self, tag: u64, total: usize) {
        self.total.store(total, Ordering::Relaxed);
        self.next.store(tag << 32, Ordering::Release);
    }

    /// Claims the next units of the section tagged `tag`: half of those left (at least
    /// [`FOLLOW_UP_MIN_CLAIM`]), so that the owner takes long runs while some are left for
    /// a share that finishes early. `None` when all are claimed or the owner has not opened
    /// them in this section.
    fn claim(&self, tag: u64) -> Option<std::ops::Range<usize>> {
        let mut cur = self.next.load(Ordering::Acquire);
        loop {
            if cur >> 32 != tag {
                return None;
            }
            let next = (cur & u64::from(u32::MAX)) as usize;
            let total = self.total.load(Ordering::Relaxed);
            let left = total.checked_sub(next).filter(|&l| l > 0)?;
            let take = (left / 2).max(FOLLOW_UP_MIN_CLAIM).min(left);
            match self.next.compare_exchange_weak(
                cur,
                cur + take as u64,
                Ordering::Acquire,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(next..next + take),
                Err(now) => cur = now,
            }
        }
    }
}

/// The lists share `m` filled in the current section (`jobs` outputs).
///
/// # Safety
/// Share `m` must have finished filling them (its claims are open) and not be writing
/// them any more in this section.
unsafe fn share_lists(list: &ShareList, jobs: usize) -> arrayvec::ArrayVec<&[u32], MAX_COLLECTED> {
    // SAFETY: by the caller.
    let (list, ends) = unsafe { (&*list.0.get(), &*list.1.get()) };
    let mut lists = arrayvec::ArrayVec::new();
    let mut start = 0;
    for &end in &ends[..jobs] {
        lists.push(&list[start..end]);
        start = end;
    }
    lists
}

/// [`for_each_share_collecting`], then, still inside the section, the follow-up work
/// `then` of the indices each share appended for each output. Share `m` opens the units
/// of its own lists to the team, does them in claims (half of what is left each time, see
/// [`FollowUpClaims::claim`]), then helps with those of the other shares that are still
/// open: each section waits for its slowest share, and work that depends on what a share
/// found (the spikes it delivers) cannot be balanced in advance. Without a team, share 0
/// does all of it, on the whole lists.
///
/// # Panics
/// With more than [`MAX_COLLECTED`] outputs.
pub fn for_each_share_collecting_then(
    outs: &mut [&mut Vec<u32>],
    f: impl Fn(usize, usize, usize, &mut Vec<u32>) + Sync,
    then: &impl FollowUp,
) {
    assert!(
        outs.len() <= MAX_COLLECTED,
        "at most {MAX_COLLECTED} lists per section"
    );
    let k = parts(usize::MAX, 0);
    if k <= 1 {
        let mut starts = [0; MAX_COLLECTED];
        for (j, out) in outs.iter_mut().enumerate() {
            starts[j] = out.len();
            f(0, 1, j, out);
        }
        let lists: arrayvec::ArrayVec<&[u32], MAX_COLLECTED> =
            outs.iter().zip(starts).map(|(out, s)| &out[s..]).collect();
        then.begin(0);
        then.run(0, 0, &lists, 0..then.units(&lists));
        return;
    }
    let jobs = outs.len();
    let team = DRIVING.with(Cell::get);
    // SAFETY: `k > 1`, so this thread drives `team` (live for the whole section); list `m`
    // and its ends are written only by share `m` during the section (before it opens its
    // claims; read by the others only after) and by the driver outside it.
    let (buffers, claims, published) = unsafe {
        (
            &(*team).buffers,
            &(*team).follow_ups,
            &(*team).published.0.epoch,
        )
    };
    for buf in buffers.iter().take(k) {
        // SAFETY: no section is running.
        unsafe { (*buf.0.0.get()).clear() };
    }
    let job = |m: usize| {
        let (Some(buf), Some(Line(own))) = (buffers.get(m), claims.get(m)) else {
            return;
        };
        {
            // SAFETY: share `m` runs on exactly one thread; see above.
            let (list, ends) = unsafe { (&mut *buf.0.0.get(), &mut *buf.0.1.get()) };
            for (j, end) in ends.iter_mut().enumerate().take(jobs) {
                f(m, k, j, list);
                *end = list.len();
            }
        }
        // The section's epoch (read after the publication by every share).
        let tag = published.load(Ordering::Relaxed) & u64::from(u32::MAX);
        // SAFETY: share `m` has filled its lists and writes them no more.
        let lists = unsafe { share_lists(&buf.0, jobs) };
        let units = then.units(&lists);
        // Claims count units in 32 bits: more than that (4·10⁹ spikes in a step) stay
        // with their share.
        let shared = units <= u32::MAX as usize;
        own.open(tag, if shared { units } else { 0 });
        then.begin(m);
        if !shared {
            then.run(m, m, &lists, 0..units);
        }
        while let Some(units) = own.claim(tag) {
            then.run(m, m, &lists, units);
        }
        for owner in (1..k).map(|d| (m + d) % k) {
            let (Some(Line(their)), Some(buf)) = (claims.get(owner), buffers.get(owner)) else {
                continue;
            };
            let mut units = their.claim(tag);
            if units.is_none() {
                continue;
            }
            // SAFETY: the claim saw `owner`'s units open: its lists are complete.
            let lists = unsafe { share_lists(&buf.0, jobs) };
            while let Some(r) = units {
                then.run(m, owner, &lists, r);
                units = their.claim(tag);
            }
        }
    };
    DRIVING.with(|d| {
        // SAFETY: as in `parts`.
        unsafe { (*d.get()).section(&job) }
    });
    for (j, out) in outs.iter_mut().enumerate() {
        for buf in buffers.iter().take(k) {
            // SAFETY: the section is over (every share finished before `section` returned).
            let (list, ends) = unsafe { (&*buf.0.0.get(), &*buf.0.1.get()) };
            let start = if j == 0 { 0 } else { ends[j - 1] };
            out.extend_from_slice(&list[start..ends[j]]);
        }
    }
}

/// A mutable slice whose disjoint ranges the shares of one section take
/// ([`for_each_share`]): the borrow of the whole slice lasts as long as `Disjoint`.
pub struct Disjoint<'a, T> {
    ptr: *mut T,
    len: usize,
    _slice: std::marker::PhantomData<&'a mut [T]>,
}

// SAFETY: `Disjoint` hands out `&mut` ranges only through the unsafe `range`, whose caller
// keeps them disjoint; with `T: Send` each range may be used on any one thread.
unsafe impl<T: Send> Send for Disjoint<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Disjoint<'_, T> {}

impl<'a, T> Disjoint<'a, T> {
    /// Takes the slice for the lifetime `'a`.
    pub fn new(slice: &'a mut [T]) -> Self {
        Disjoint {
            ptr: slice.as_mut_ptr(),
            len: slice.len(),
            _slice: std::marker::PhantomData,
        }
    }

    /// The slice's length.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slice is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The elements `range`.
    ///
    /// # Safety
    /// No two ranges taken from this `Disjoint` and alive at the same time may overlap.
    ///
    /// # Panics
    /// If `range` is not within the slice.
    pub unsafe fn range(&self, range: std::ops::Range<usize>) -> &'a mut [T] {
        assert!(range.start <= range.end && range.end <= self.len);
        // SAFETY: within the slice (checked above); the caller keeps ranges disjoint.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(range.start), range.len()) }
    }
}

/// Cuts `data` into `k` (or fewer) aligned parts and runs `f(m, start, part)` for part `m` as
/// share `m` of a team section. Requires `k ≥ 2` from [`parts`] (so a team is driving).
fn split_and_run<S: Split>(data: S, k: usize, f: impl Fn(usize, usize, S) + Sync) {
    let slots: [Slot<S>; MAX_TEAM] = [const { Slot(UnsafeCell::new(None)) }; MAX_TEAM];
    let len = data.len();
    let mut rest = data;
    let mut start = 0;
    for (m, slot) in slots.iter().take(k).enumerate() {
        // The cut of `share_range`; empty parts (rounding, or a plan's lead) run nothing.
        let end = share_range(len, k, m).end;
        if end == start {
            continue;
        }
        let (part, tail) = rest.split_at(end - start);
        // SAFETY: no share runs yet.
        unsafe { *slot.0.get() = Some((start, part)) };
        rest = tail;
        start = end;
    }
    let job = |m: usize| {
        if let Some(slot) = slots.get(m) {
            // SAFETY: share `m` runs on exactly one thread.
            if let Some((start, part)) = unsafe { (*slot.0.get()).take() } {
                f(m, start, part);
            }
        }
    };
    DRIVING.with(|d| {
        let team = d.get();
        // SAFETY: as in `parts`.
        unsafe { (*team).section(&job) }
    });
}

/// Runs `f` on this thread as the driver of a team of `threads` threads (this one and
/// `threads − 1` scoped helpers started for the call), so the sections `f` starts run in
/// parallel, as they do inside [`Simulation::run_steps`](crate::Simulation::run_steps).
/// For tests and benchmarks of kernels outside a simulation.
pub fn with_team<R>(threads: usize, f: impl FnOnce() -> R) -> R {
    let team = Team::new(threads);
    std::thread::scope(|s| {
        for k in 1..team.size {
            let team = &team;
            s.spawn(move || team.member(k));
        }
        team.drive(f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_plan_keeps_small_populations_whole_and_leads_the_rest() {
        let min = PARALLEL_MIN_ELEMENTS;
        // CUBA 64 000 on 2 threads: 12 800 inhibitory neurons whole, the driver 37.5 % of
        // the 51 200 excitatory ones (32 000 in all).
        let plan = CutPlan::new(2, &[51_200, 12_800], min);
        assert_eq!(
            (&plan.whole[..], &plan.led[..]),
            (&[12_800][..], &[51_200][..])
        );
        assert_eq!(plan.lead_part(51_200, 2), Some(19_200));
        assert_eq!(plan.lead_part(51_200, 3), None);
        assert_eq!(plan.lead_part(12_800, 2), None);
        assert!(plan.keeps_whole(12_800) && !plan.keeps_whole(51_200));
        // A population below `min` (never cut) counts toward the driver's share:
        // (31 500 − 3 000) / 60 000 = 47.5 %, rounded up to whole cache-line groups.
        let plan = CutPlan::new(2, &[60_000, 3_000], min);
        assert!(plan.whole.is_empty());
        assert_eq!(plan.lead_part(60_000, 2), Some(28_672));
        // Nothing whole (equal populations; populations that all together would take more
        // than the driver's fair share, 4 × 9 000 > 56 000 / 2): every length is led,
        // from an even split, so that the team can still move the cut.
        for sizes in [
            &[30_000, 30_000][..],
            &[9_000; 10][..],
            &[20_000, 9_000, 9_000, 9_000, 9_000][..],
        ] {
            let plan = CutPlan::new(2, sizes, min);
            assert!(plan.whole.is_empty() && plan.held == 0, "{sizes:?}");
            assert_eq!(plan.cut, sizes.iter().sum::<usize>());
            assert_eq!(
                plan.lead_part(30_000, 2),
                sizes.contains(&30_000).then_some(15_104)
            );
            assert_eq!(
                plan.lead_part(9_000, 2),
                sizes.contains(&9_000).then_some(4_608)
            );
        }
        // No plan: one thread, or nothing large enough to cut.
        for (k, sizes) in [(1, &[51_200, 12_800][..]), (2, &[3_200, 800][..])] {
            assert_eq!(CutPlan::new(k, sizes, min), CutPlan::default(), "{sizes:?}");
        }
    }

    #[test]
    fn a_team_with_a_plan_cuts_every_pass_by_it() {
        let plan = CutPlan::new(2, &[51_200, 12_800], PARALLEL_MIN_ELEMENTS);
        let team = Team::new(2).with_plan(plan);
        let (mut big, mut small) = (vec![0u32; 51_200], vec![0u32; 12_800]);
        let parts_seen = Mutex::new(Vec::new());
        let ranges = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            s.spawn(|| team.member(1));
            team.drive(|| {
                assert_eq!((parts(12_800, 0), parts(51_200, 0)), (1, 2));
                for_each_part(&mut big[..], 0, |start, part| {
                    part.fill(start as u32 + 1);
                    parts_seen.lock().unwrap().push((start, part.len()));
                });
                for_each_part(&mut small[..], 0, |start, part| {
                    part.fill(7);
                    parts_seen.lock().unwrap().push((start, part.len()));
                });
                // Each share, on its own thread, cuts as `for_each_part` did.
                for_each_share(|m, k| ranges.lock().unwrap().push((m, share_range(51_200, k, m))));
            });
        });
        let mut parts_seen = parts_seen.into_inner().unwrap();
        parts_seen.sort_unstable();
        assert_eq!(parts_seen, [(0, 12_800), (0, 19_200), (19_200, 32_000)]);
        assert!(big[..19_200].iter().all(|&x| x == 1));
        assert!(big[19_200..].iter().all(|&x| x == 19_201));
        assert!(small.iter().all(|&x| x == 7));
        let mut ranges = ranges.into_inner().unwrap();
        ranges.sort_unstable_by_key(|r| r.0);
        assert_eq!(ranges, [(0, 0..19_200), (1, 19_200..51_200)]);
        // Outside the team: no plan, equal parts.
        assert_eq!(share_range(51_200, 2, 0), 0..25_600);
    }

    #[test]
    fn a_member_counts_its_wait_for_the_section_at_most_twice_its_work() {
        // The driver starts at the publication: its work alone.
        assert_eq!(share_time(100, 100, 150), 50);
        // A member that started 10 ticks after the publication.
        assert_eq!(share_time(90, 100, 150), 60);
        // One that was asleep, or a clock that differs between cores: at most twice.
        assert_eq!(share_time(0, 100, 150), 100);
        // A publication stamped after the start (clocks apart): its work alone.
        assert_eq!(share_time(120, 100, 150), 50);
    }

    #[test]
    fn the_lead_moves_toward_even_busy_times() {
        let (held, cut) = (12_800, 51_200);
        // Even times: no move; nothing measured: no move.
        assert_eq!(
            rebalanced_lead(0.375, 10.0, 10.0, 2, held, cut, BALANCE_MAX_MOVE),
            0.375
        );
        assert_eq!(
            rebalanced_lead(0.375, 0.0, 0.0, 2, held, cut, BALANCE_MAX_MOVE),
            0.375
        );
        // The member 1.0 slower of 20.5 in all: c = 20.5 / 64 000 per element, even at
        // δ = 1.0 / (2c) = 1 561 elements; half of it, as a fraction of the led array.
        let c = 20.5 / 64_000.0;
        let moved = rebalanced_lead(0.375, 9.75, 10.75, 2, held, cut, BALANCE_MAX_MOVE);
        assert!((moved - (0.375 + 0.5 * (1.0 / (2.0 * c)) / 51_200.0)).abs() < 1e-12);
        // The driver slower: the lead shrinks.
        assert!(rebalanced_lead(0.375, 10.75, 9.75, 2, held, cut, BALANCE_MAX_MOVE) < 0.375);
        // Large imbalances move by at most `BALANCE_MAX_MOVE`, and the lead stays in 0..=1.
        assert_eq!(
            rebalanced_lead(0.5, 1.0, 9.0, 2, 0, cut, BALANCE_MAX_MOVE),
            0.5 + BALANCE_MAX_MOVE
        );
        assert_eq!(
            rebalanced_lead(0.5, 9.0, 1.0, 2, 0, cut, BALANCE_MAX_MOVE),
            0.5 - BALANCE_MAX_MOVE
        );
        assert_eq!(
            rebalanced_lead(0.99, 1.0, 9.0, 2, 0, cut, BALANCE_MAX_MOVE),
            1.0
        );
        assert_eq!(
            rebalanced_lead(0.01, 9.0, 1.0, 2, 0, cut, BALANCE_MAX_MOVE),
            0.0
        );
        // Three threads: share 0 against the mean of the other two.
        assert!(rebalanced_lead(1.0 / 3.0, 9.0, 10.0, 3, 0, cut, BALANCE_MAX_MOVE) > 1.0 / 3.0);
    }

    /// Runs `steps` steps of a team of 2 over one led array of `len` elements whose
    /// member elements cost 3 units each and the driver's 1 (the test reports these times
    /// instead of measured ones), adding 1 to every element each step: the team's plan and
    /// the array.
    fn run_costed_team(len: usize, steps: u32) -> (CutPlan, Vec<u32>) {
        let plan = CutPlan::new(2, &[len], PARALLEL_MIN_ELEMENTS);
        let mut team = Team::new(2).with_plan(plan);
        team.fake_busy = true;
        let team = team;
        let mut data = vec![0u32; len];
        std::thread::scope(|s| {
            s.spawn(|| team.member(1));
            team.drive(|| {
                for _ in 0..steps {
                    for_each_part(&mut data[..], 0, |start, part| {
                        part.iter_mut().for_each(|x| *x += 1);
                        let (m, cost) = if start == 0 { (0, 1) } else { (1, 3) };
                        team.add_busy(m, cost * part.len() as u64);
                    });
                    team.rebalance();
                }
            });
        });
        (team.plan().clone(), data)
    }

    #[test]
    fn a_team_settles_where_its_shares_take_equal_times() {
        // Even at 3/4 for the driver.
        let len = 32_768;
        let steps = 16 * BALANCE_STEPS;
        let (plan, data) = run_costed_team(len, steps);
        // Every element was updated once per step, wherever the cut stood.
        assert!(data.iter().all(|&x| x == steps));
        let lead = plan.lead_part(len, 2).unwrap();
        assert!(lead.abs_diff(len * 3 / 4) <= 2 * PART_ALIGN, "lead {lead}");
        // A later run with the same plan resumes from there; another plan does not.
        let mut next = CutPlan::new(2, &[len], PARALLEL_MIN_ELEMENTS);
        next.resume(&plan);
        assert_eq!(next.lead_part(len, 2), Some(lead));
        let mut other = CutPlan::new(2, &[len, 9_000], PARALLEL_MIN_ELEMENTS);
        let fresh = other.clone();
        other.resume(&plan);
        assert_eq!(other, fresh);
    }

    #[test]
    fn a_far_off_lead_moves_by_more_until_it_is_within_the_noise() {
        // Busy times more than 12 % apart move the lead by up to `UNSETTLED_MAX_MOVE`.
        assert!(!is_unsettled(10.0, 11.0));
        assert!(is_unsettled(10.0, 12.0) && is_unsettled(12.0, 10.0));
        assert!(!is_unsettled(0.0, 0.0));
        // Even at 3/4 for the driver, 1/4 away from the even split: within 6 windows of
        // `BALANCE_STEPS` (moves of at most 1/32 would need 8) the lead is there.
        let len = 32_768;
        let (plan, _) = run_costed_team(len, 6 * BALANCE_STEPS);
        let lead = plan.lead_part(len, 2).unwrap();
        assert!(lead.abs_diff(len * 3 / 4) <= 2 * PART_ALIGN, "lead {lead}");
    }

    #[test]
    fn serial_without_a_team() {
        assert_eq!(parts(1 << 20, 0), 1);
        let mut v = vec![0u32; 5000];
        for_each_part(&mut v[..], 0, |start, part| {
            assert_eq!((start, part.len()), (0, 5000));
        });
    }

    #[test]
    fn parts_cover_everything_once_in_aligned_pieces() {
        for size in [2, 3, 4] {
            for len in [0, 1, 511, 512, 513, 1000, 4097, 100_000] {
                let mut v = vec![0u32; len];
                let idx: Vec<u32> = (0..len as u32).collect();
                with_team(size, || {
                    for_each_part((&mut v[..], &idx[..]), 0, |start, (out, idx)| {
                        assert_eq!(start % PART_ALIGN, 0);
                        assert_eq!(idx.first().map_or(start, |&i| i as usize), start);
                        for (o, &i) in out.iter_mut().zip(idx) {
                            *o += i + 1;
                        }
                    });
                });
                assert!(
                    v.iter().enumerate().all(|(i, &x)| x == i as u32 + 1),
                    "{size} {len}"
                );
            }
        }
    }

    #[test]
    fn collected_indices_come_out_in_serial_order() {
        let flags: Vec<u8> = (0..100_000u32).map(|i| u8::from(i % 7 == 3)).collect();
        let serial: Vec<u32> = (0..100_000u32).filter(|i| i % 7 == 3).collect();
        let collect = |start: usize, part: &[u8], out: &mut Vec<u32>| {
            let hits = part.iter().enumerate().filter(|&(_, &f)| f != 0);
            out.extend(hits.map(|(i, _)| (start + i) as u32));
        };
        for size in [1, 2, 3] {
            with_team(size, || {
                // Twice: the team's lists are cleared and reused between sections.
                for _ in 0..2 {
                    let mut out = vec![7];
                    for_each_part_collecting(&flags[..], 0, &mut out, collect);
                    assert_eq!(out[0], 7, "appends to what was there");
                    assert_eq!(out[1..], serial[..], "team of {size}");
                }
            });
        }
        // 8 448 elements on 8 threads: parts of 1 280 (1 056 rounded up to 256), so only 7
        // parts; the 8th list, filled by a longer section before, must not leak in.
        with_team(8, || {
            let mut out = Vec::new();
            for_each_part_collecting(&flags[..], 0, &mut out, collect);
            assert_eq!(out, serial);
            out.clear();
            for_each_part_collecting(&flags[..8448], 0, &mut out, collect);
            assert_eq!(out[..], serial[..serial.partition_point(|&i| i < 8448)]);
        });
    }

    #[test]
    fn small_inputs_and_nested_sections_stay_serial() {
        with_team(2, || {
            assert_eq!(parts(100, 0), 1);
            assert_eq!(parts(1 << 20, 1 << 21), 1);
            assert_eq!(parts(1 << 20, 0), 2);
            let mut v = vec![0u8; 1 << 16];
            for_each_part(&mut v[..], 0, |_, part| {
                // Inside a section nothing nests.
                assert_eq!(parts(1 << 20, 0), 1);
                part.fill(1);
            });
            assert!(v.iter().all(|&x| x == 1));
            // The team is usable again after the section.
            assert_eq!(parts(1 << 20, 0), 2);
        });
    }

    #[test]
    fn an_idle_member_sleeps_and_wakes_for_the_next_section() {
        // Each share lasts 20 ms, far longer than a wake-up, so the member enters in time
        // and runs its own share rather than leaving it to the driver.
        let ids = |v: &mut [u8]| {
            let seen = Mutex::new(Vec::new());
            for_each_part(v, 0, |_, part| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                part.fill(1);
                seen.lock().unwrap().push(std::thread::current().id());
            });
            let mut seen = seen.into_inner().unwrap();
            seen.sort_by_key(|id| format!("{id:?}"));
            seen.dedup();
            seen.len()
        };
        with_team(2, || {
            let mut v = vec![0u8; 1 << 16];
            assert_eq!(ids(&mut v), 2, "two threads share the section");
            // Long enough for the member to stop spinning and sleep (SPIN_ROUNDS pauses).
            std::thread::sleep(std::time::Duration::from_millis(100));
            assert_eq!(ids(&mut v), 2, "the sleeping member woke for its share");
            assert!(v.iter().all(|&x| x == 1));
        });
    }

    /// A member that never starts (a thread descheduled on a busy machine, in the extreme)
    /// does not hold up the driver: its share is taken over, and the results, spike
    /// lists included, are those of a serial pass.
    #[test]
    fn the_driver_takes_over_the_share_of_a_member_that_never_starts() {
        let flags: Vec<u8> = (0..50_000u32).map(|i| u8::from(i % 5 == 1)).collect();
        let serial: Vec<u32> = (0..50_000u32).filter(|i| i % 5 == 1).collect();
        let team = Team::new(2);
        let (out, v) = team.drive(|| {
            assert_eq!(parts(50_000, 0), 2, "the driver cuts for a team of two");
            let mut v = vec![0u32; 50_000];
            for_each_part(&mut v[..], 0, |start, part| {
                for (i, x) in part.iter_mut().enumerate() {
                    *x = (start + i) as u32 * 3;
                }
            });
            let mut out = Vec::new();
            for_each_part_collecting(&flags[..], 0, &mut out, |start, part, out| {
                let hits = part.iter().enumerate().filter(|&(_, &f)| f != 0);
                out.extend(hits.map(|(i, _)| (start + i) as u32));
            });
            (out, v)
        });
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32 * 3));
        assert_eq!(out, serial);
    }

    /// Runs `f` on a thread of its own and returns its result, failing the test if it
    /// takes longer than `secs` (a team that waits forever must fail, not hang the suite).
    fn within<T: Send + 'static>(
        secs: u64,
        what: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || done_tx.send(f()).unwrap());
        let limit = std::time::Duration::from_secs(secs);
        done_rx
            .recv_timeout(limit)
            .unwrap_or_else(|_| panic!("{what} did not finish within {secs} s"))
    }

    /// More team threads than cores, so members are preempted at any point (between
    /// reading a section's epoch and claiming their share, say) while the driver takes
    /// their shares over: every section must still run each share exactly once, and the
    /// run must end (a doubly counted share would leave the driver waiting forever).
    #[test]
    fn oversubscribed_teams_run_every_share_exactly_once() {
        let v = within(120, "the oversubscribed team", || {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let flags: Vec<u8> = (0..20_000u32).map(|i| u8::from(i % 3 == 0)).collect();
            let serial: Vec<u32> = (0..20_000u32).filter(|i| i % 3 == 0).collect();
            let mut v = vec![0u32; 20_000];
            with_team(2 * cores + 1, || {
                let mut out = Vec::new();
                for round in 0..5_000u32 {
                    for_each_part(&mut v[..], 0, |_, part| {
                        part.iter_mut().for_each(|x| *x += 1)
                    });
                    if round % 16 == 0 {
                        out.clear();
                        for_each_part_collecting(&flags[..], 0, &mut out, |start, part, out| {
                            let hits = part.iter().enumerate().filter(|&(_, &f)| f != 0);
                            out.extend(hits.map(|(i, _)| (start + i) as u32));
                        });
                        assert_eq!(out, serial, "round {round}");
                    }
                }
            });
            v
        });
        assert!(
            v.iter().all(|&x| x == 5_000),
            "every share ran exactly once per section"
        );
    }

    /// Members that always arrive late (a sleep between seeing a section and claiming
    /// their share): the driver takes their shares over, and a member that wakes with the
    /// epoch of a section long finished must not claim a later one (it would run a share
    /// twice and leave the driver waiting forever).
    #[test]
    fn late_members_never_claim_a_section_they_did_not_see() {
        let v = within(60, "the team with late members", || {
            let mut team = Team::new(3);
            team.member_delay = Some(std::time::Duration::from_micros(300));
            let mut v = vec![0u32; 20_000];
            std::thread::scope(|s| {
                for k in 1..team.size {
                    let team = &team;
                    s.spawn(move || team.member(k));
                }
                team.drive(|| {
                    for _ in 0..3_000 {
                        for_each_part(&mut v[..], 0, |_, p| p.iter_mut().for_each(|x| *x += 1));
                    }
                });
            });
            v
        });
        assert!(
            v.iter().all(|&x| x == 3_000),
            "every share ran exactly once per section"
        );
    }

    #[test]
    fn a_panicking_share_panics_the_driver_after_the_section() {
        let r = std::panic::catch_unwind(|| {
            with_team(2, || {
                let v = vec![0u8; 1 << 16];
                for_each_part(&v[..], 0, |start, _| assert_eq!(start, 0, "boom"));
            })
        });
        assert!(r.is_err());
    }

    /// Feeds `probe` one cycle of steps taking `team` on the team and `solo` alone (and a
    /// second, as `drive_steps` does not time them, on steps it says it does not use).
    /// A probe about to probe (the state a run's probe reaches after its first hold).
    fn probing() -> SoloProbe {
        SoloProbe {
            phase: 0,
            ..SoloProbe::default()
        }
    }

    /// A run starts with a hold on the team; its first probe follows the hold.
    #[test]
    fn a_run_probes_first_after_a_hold_on_the_team() {
        let mut probe = SoloProbe::default();
        for _ in 0..HOLD_STEPS {
            assert!(!probe.solo_next() && !probe.times_next());
            probe.record(std::time::Duration::from_micros(10));
        }
        assert_eq!(probe.phase, 0, "the first probe starts after the hold");
        let modes = one_cycle(&mut probe, 30, 50);
        let p = PROBE_STEPS as usize;
        assert!(modes[..p].iter().all(|&s| !s) && modes[p..2 * p].iter().all(|&s| s));
    }

    fn one_cycle(probe: &mut SoloProbe, team: u64, solo: u64) -> Vec<bool> {
        let mut modes = Vec::new();
        loop {
            let s = probe.solo_next();
            modes.push(s);
            let us = match (probe.times_next(), s) {
                (false, _) => 1_000_000,
                (true, true) => solo,
                (true, false) => team,
            };
            probe.record(std::time::Duration::from_micros(us));
            if probe.phase == 0 {
                return modes;
            }
        }
    }

    #[test]
    fn the_probe_holds_the_faster_mode_between_probes() {
        let mut probe = probing();
        let p = PROBE_STEPS as usize;
        // The team is faster: probe both, then hold the team.
        let modes = one_cycle(&mut probe, 30, 50);
        assert!(modes[..p].iter().all(|&s| !s));
        assert!(modes[p..2 * p].iter().all(|&s| s));
        assert!(modes[2 * p..].iter().all(|&s| !s));
        // The second core became slow: the next probe picks the driver alone.
        let modes = one_cycle(&mut probe, 60, 50);
        assert!(modes[2 * p..].iter().all(|&s| s));
        // Within 3 % the team keeps the sections.
        let modes = one_cycle(&mut probe, 100, 98);
        assert!(modes[2 * p..].iter().all(|&s| !s));
        // Slow steps right after a switch (here: the start of the run) are not counted.
        let mut probe = probing();
        for k in 0..2 * PROBE_STEPS {
            let s = probe.solo_next();
            let slow = k < PROBE_SKIP;
            let us = if slow {
                10_000
            } else if s {
                40
            } else {
                30
            };
            probe.record(std::time::Duration::from_micros(us));
        }
        assert!(!probe.solo_next());
    }

    #[test]
    fn the_hold_grows_while_the_team_wins_clearly_and_resets_otherwise() {
        let mut probe = probing();
        let probes = 2 * PROBE_STEPS as usize;
        let hold = HOLD_STEPS as usize;
        // The team takes 30 µs a step against 50 alone (< 80 %): each hold doubles, to
        // at most MAX_HOLD_STEPS.
        let lens: Vec<usize> = (0..6)
            .map(|_| one_cycle(&mut probe, 30, 50).len() - probes)
            .collect();
        let max = MAX_HOLD_STEPS as usize;
        assert_eq!(lens, [2 * hold, 4 * hold, 8 * hold, max, max, max]);
        // A close win (90 against 100 alone) keeps the team but probes again soon.
        let modes = one_cycle(&mut probe, 90, 100);
        assert_eq!(modes.len(), probes + hold);
        assert!(modes[probes..].iter().all(|&s| !s));
        // A loss hands the sections to the driver alone, for a short hold first, then
        // doubling while it keeps winning.
        one_cycle(&mut probe, 30, 50);
        let first = SOLO_FIRST_HOLD as usize;
        let modes = one_cycle(&mut probe, 60, 50);
        assert_eq!(modes.len(), probes + first);
        assert!(modes[probes..].iter().all(|&s| s));
        let lens: Vec<usize> = (0..3)
            .map(|_| one_cycle(&mut probe, 60, 50).len() - probes)
            .collect();
        assert_eq!(lens, [2 * first, 4 * first, 8 * first]);
        // Back on the team, from the team's first hold (a clear win, but after a switch).
        let modes = one_cycle(&mut probe, 30, 50);
        assert_eq!(modes.len(), probes + hold);
        assert!(modes[probes..].iter().all(|&s| !s));
    }

    #[test]
    fn solo_steps_run_every_section_as_one_part_with_the_same_results() {
        let team = Team::new(2);
        let len = 4 * PARALLEL_MIN_ELEMENTS;
        let mut v = vec![1.0f32; len];
        let mut parts_seen = Vec::new();
        let mut probe = probing();
        std::thread::scope(|s| {
            s.spawn(|| team.member(1));
            team.drive_steps(2 * PROBE_STEPS, &mut probe, || {
                let k = std::sync::atomic::AtomicUsize::new(0);
                for_each_part(&mut v[..], PARALLEL_MIN_ELEMENTS, |start, part| {
                    k.fetch_add(1, Ordering::Relaxed);
                    for (i, x) in part.iter_mut().enumerate() {
                        *x = *x * 0.5 + (start + i) as f32;
                    }
                });
                parts_seen.push(k.into_inner());
            });
        });
        let p = PROBE_STEPS as usize;
        assert!(parts_seen[..p].iter().all(|&k| k == 2), "{parts_seen:?}");
        assert!(parts_seen[p..].iter().all(|&k| k == 1), "{parts_seen:?}");
        let mut w = vec![1.0f32; len];
        for _ in 0..2 * PROBE_STEPS {
            for (i, x) in w.iter_mut().enumerate() {
                *x = *x * 0.5 + i as f32;
            }
        }
        assert_eq!(v, w);
    }

    #[test]
    fn shares_cut_arrays_as_for_each_part_does_and_each_runs_once() {
        for size in 1..=4 {
            for len in [0, 1, 511, 512, 1000, 4096, 10_000, 65_537] {
                with_team(size, || {
                    let mut parts = Vec::new();
                    let data = vec![0u8; len];
                    let seen = Mutex::new(Vec::new());
                    for_each_part(&data[..], 0, |start, part: &[u8]| {
                        seen.lock().unwrap().push(start..start + part.len());
                    });
                    parts.extend(seen.into_inner().unwrap());
                    parts.sort_by_key(|r| r.start);
                    let k = super::parts(len, 0);
                    let cut: Vec<_> = (0..k)
                        .map(|m| share_range(len, k, m))
                        .filter(|r| !r.is_empty() || len == 0)
                        .collect();
                    assert_eq!(cut, parts, "team {size}, {len} elements");
                });
            }
            let runs: Vec<AtomicUsize> = (0..MAX_TEAM).map(|_| AtomicUsize::new(0)).collect();
            let shares = AtomicUsize::new(0);
            with_team(size, || {
                for_each_share(|m, k| {
                    runs[m].fetch_add(1, Ordering::Relaxed);
                    shares.store(k, Ordering::Relaxed);
                });
            });
            let k = shares.load(Ordering::Relaxed);
            assert_eq!(k, size);
            assert!(runs[..k].iter().all(|r| r.load(Ordering::Relaxed) == 1));
            assert!(runs[k..].iter().all(|r| r.load(Ordering::Relaxed) == 0));
        }
        // Without a team: one share.
        let calls = AtomicUsize::new(0);
        for_each_share(|m, k| {
            assert_eq!((m, k), (0, 1));
            calls.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(calls.into_inner(), 1);
    }

    /// Share `m` of `k`'s range of output `j` (of length `lens[j]`) in the collecting
    /// tests: long arrays are cut, short ones are share 0's.
    fn test_share(lens: &[usize], j: usize, k: usize, m: usize) -> std::ops::Range<usize> {
        if lens[j] >= 4096 {
            share_range(lens[j], k, m)
        } else if m == 0 {
            0..lens[j]
        } else {
            0..0
        }
    }

    /// Several outputs in one section: each list comes out in serial order, appended to
    /// what it held.
    #[test]
    fn collected_lists_of_several_outputs_come_out_in_serial_order() {
        let lens = [100_000usize, 300, 0, 65_536, 9_000];
        let keep = |j: usize, i: usize| (i * (j + 3)) % 11 == 2;
        for size in 1..=3 {
            let mut lists: Vec<Vec<u32>> = lens.iter().map(|_| vec![7]).collect();
            with_team(size, || {
                let mut outs: Vec<&mut Vec<u32>> = lists.iter_mut().collect();
                for_each_share_collecting(&mut outs, |m, k, j, list| {
                    let range = test_share(&lens, j, k, m);
                    list.extend(range.filter(|&i| keep(j, i)).map(|i| i as u32));
                });
            });
            for (j, list) in lists.iter().enumerate() {
                let mut expect = vec![7];
                expect.extend((0..lens[j]).filter(|&i| keep(j, i)).map(|i| i as u32));
                assert_eq!(*list, expect, "team {size}, output {j}");
            }
        }
    }

    /// Records who did which follow-up unit: `(doer, owner, index)`, where `index` is the
    /// unit's element of the owner's lists (outputs one after the other).
    struct Recorder {
        done: Mutex<Vec<(usize, usize, u32)>>,
        begun: Vec<AtomicBool>,
        /// The first claim of share 0's own units waits (up to 10 s) until another share
        /// has done one of them.
        hold_share_0: bool,
        taken_from_0: AtomicBool,
    }

    impl Recorder {
        fn new(size: usize, hold_share_0: bool) -> Self {
            Recorder {
                done: Mutex::new(Vec::new()),
                begun: (0..size).map(|_| AtomicBool::new(false)).collect(),
                hold_share_0,
                taken_from_0: AtomicBool::new(false),
            }
        }
    }

    impl FollowUp for Recorder {
        fn units(&self, lists: &[&[u32]]) -> usize {
            lists.iter().map(|l| l.len()).sum()
        }
        fn begin(&self, m: usize) {
            assert!(
                !self.begun[m].swap(true, Ordering::Relaxed),
                "share {m} began twice"
            );
        }
        fn run(&self, m: usize, owner: usize, lists: &[&[u32]], units: std::ops::Range<usize>) {
            assert!(
                self.begun[m].load(Ordering::Relaxed),
                "share {m} ran before begin"
            );
            if self.hold_share_0 && m == 0 && owner == 0 {
                let start = std::time::Instant::now();
                while !self.taken_from_0.load(Ordering::Acquire)
                    && start.elapsed() < std::time::Duration::from_secs(10)
                {
                    std::thread::yield_now();
                }
            }
            let all: Vec<u32> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            let mut done = self.done.lock().unwrap();
            done.extend(all[units].iter().map(|&i| (m, owner, i)));
            if m != 0 && owner == 0 {
                self.taken_from_0.store(true, Ordering::Release);
            }
        }
    }

    /// Every follow-up unit is done exactly once, after the share that does it began, and
    /// the lists still come out in serial order.
    #[test]
    fn follow_up_units_are_each_done_once() {
        let lens = [60_000usize, 500, 20_000];
        let keep = |j: usize, i: usize| (i * (j + 5)) % 13 == 4;
        for size in 1..=3 {
            let mut lists: Vec<Vec<u32>> = lens.iter().map(|_| Vec::new()).collect();
            let recorder = Recorder::new(size, false);
            with_team(size, || {
                let mut outs: Vec<&mut Vec<u32>> = lists.iter_mut().collect();
                let f = |m: usize, k: usize, j: usize, list: &mut Vec<u32>| {
                    let range = test_share(&lens, j, k, m);
                    // Outputs apart by index: output j's elements are j · 10⁶ + i.
                    let base = (j * 1_000_000) as u32;
                    list.extend(range.filter(|&i| keep(j, i)).map(|i| base + i as u32));
                };
                for_each_share_collecting_then(&mut outs, f, &recorder);
            });
            let mut done: Vec<u32> = recorder
                .done
                .into_inner()
                .unwrap()
                .iter()
                .map(|d| d.2)
                .collect();
            done.sort_unstable();
            let mut expect: Vec<u32> = lists.iter().flatten().copied().collect();
            expect.sort_unstable();
            assert_eq!(done, expect, "team {size}");
            for (j, list) in lists.iter().enumerate() {
                let base = (j * 1_000_000) as u32;
                let serial: Vec<u32> = (0..lens[j])
                    .filter(|&i| keep(j, i))
                    .map(|i| base + i as u32)
                    .collect();
                assert_eq!(*list, serial, "team {size}, output {j}");
            }
        }
    }

    /// A share that has done its own follow-up units takes over those another share has
    /// not claimed yet (here share 0 holds on to its first claim until that happens).
    #[test]
    fn a_share_done_first_takes_over_units_of_another() {
        let mut list = Vec::new();
        let recorder = Recorder::new(2, true);
        with_team(2, || {
            let mut outs = [&mut list];
            // Share 0 finds 100 elements, share 1 none.
            let f = |m: usize, _: usize, _: usize, list: &mut Vec<u32>| {
                if m == 0 {
                    list.extend(0..100);
                }
            };
            for_each_share_collecting_then(&mut outs, f, &recorder);
        });
        let done = recorder.done.into_inner().unwrap();
        assert_eq!(done.len(), 100);
        assert!(done.iter().all(|&(_, owner, _)| owner == 0));
        // Share 0's first claim took half; share 1 took some of the rest.
        let by_1 = done.iter().filter(|d| d.0 == 1).count();
        assert!((1..=50).contains(&by_1), "share 1 did {by_1} units");
        assert_eq!(list, (0..100).collect::<Vec<u32>>());
    }
}
