//! Connection rules: which pre neuron connects to which post neuron.
//!
//! Rules build a [`Connectivity`] in canonical synapse order: by pre index, then post index (for [`ConnectRule::Pairs`], the order given, which must be
//! grouped by pre neuron). Random rules draw from the stream family
//! `(seed, "<projection>.connectivity")`, one stream per *row of the draw*: pre neuron `i`
//! for `fixed_probability` and `fixed_outdegree`, post neuron `j` for `fixed_indegree`. The
//! result depends on the seed and the projection's name only — not on the thread count,
//! which only decides how rows are split into chunks built in parallel and concatenated in
//! row order.
//!
//! `all_to_all` and `one_to_one` store no targets at all (the dense, lateral and diagonal
//! [`Layout`](crate::projection::Layout)s, Inferno's `LinearDense`, `LinearLateral` and
//! `LinearDirect`); the other rules build compressed sparse rows (CSR).
//!
//! `fixed_probability` draws the gaps between successive targets from the geometric
//! distribution (`RngStream::geometric_skip`, drawn 64, 16 or 4 at a time by
//! [`GeometricDraws`] so their logarithms vectorise), so building
//! costs O(synapses), not O(pre × post): a 4000 × 4000 projection at p = 0.02 makes 320 000
//! draws, not 16 million.
//!
//! `fixed_indegree` and `fixed_outdegree` draw k distinct neurons per row with Floyd's
//! algorithm (k uniform draws, a per-thread bit set for membership, then a sort of the k
//! values): O(k log k) per row, never O(pre × post). `fixed_indegree` draws per post neuron
//! and is then transposed into rows by pre neuron; the transpose is a counting sort over
//! disjoint pre ranges built in parallel, and its output (each pre row sorted by post) is
//! unique, so it does not depend on how the work was split.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::projection::Connectivity;
use crate::rng::{GeometricDraws, RngStream, StreamFamily};

/// A connection rule (SCENARIO.md `connectivity`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectRule {
    /// Every pre neuron to every post neuron (without i → i when `autapses` is false and pre
    /// and post are the same population).
    AllToAll {
        /// Allow i → i when pre = post.
        autapses: bool,
    },
    /// Pre neuron i to post neuron i; sizes must match. On a population projecting to
    /// itself this is exactly the set of autapses.
    OneToOne,
    /// Each (pre, post) pair independently with probability `p`.
    FixedProbability {
        /// Connection probability, in [0, 1].
        p: f64,
        /// Allow i → i when pre = post.
        autapses: bool,
    },
    /// Each post neuron receives synapses from exactly `k` distinct pre neurons, drawn
    /// uniformly without replacement (independently per post neuron). On a self-projection
    /// without autapses post neuron j draws from the pre neurons other than j, so `k` must
    /// not exceed pre size − 1; otherwise it must not exceed the pre size.
    FixedIndegree {
        /// Synapses per post neuron.
        k: u64,
        /// Allow i → i when pre = post.
        autapses: bool,
    },
    /// Each pre neuron makes synapses onto exactly `k` distinct post neurons, drawn
    /// uniformly without replacement (independently per pre neuron). On a self-projection
    /// without autapses `k` must not exceed post size − 1; otherwise the post size.
    FixedOutdegree {
        /// Synapses per pre neuron.
        k: u64,
        /// Allow i → i when pre = post.
        autapses: bool,
    },
    /// Exactly the given `[pre, post]` pairs, one synapse each.
    ///
    /// The synapse order is the order given (SCENARIO.md), and synapses are stored in rows
    /// by pre neuron, so the pairs must be **grouped by pre neuron in non-decreasing pre
    /// order**; within one pre neuron the post indices may come in any order and keep it.
    /// `[[0, 2], [0, 1], [3, 0]]` is accepted (synapse 1 is 0 → 1); `[[1, 0], [0, 1]]` is
    /// rejected rather than silently reordered, which would make per-synapse lists
    /// (`weight`, `delay`, recorded `synapses`) refer to other synapses than the user
    /// meant. Indices must be within the population sizes, and a pair may appear only
    /// once (no multapses). An explicit `[i, i]` on a self-projection is an autapse the
    /// user asked for and is kept.
    Pairs(Vec<[u32; 2]>),
}

/// Why a rule cannot be applied.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConnectError {
    /// `one_to_one` between populations of different sizes.
    #[error("one_to_one needs equal sizes, got pre {pre} and post {post}")]
    SizeMismatch {
        /// Pre size.
        pre: u32,
        /// Post size.
        post: u32,
    },
    /// A probability outside [0, 1] or not finite.
    #[error("expected a probability in [0, 1], got {0}")]
    BadProbability(f64),
    /// More than 2³² − 1 targets would not fit the CSR offsets' contract.
    #[error("the projection would have {0} synapses, more than this build supports")]
    TooLarge(u128),
    /// `fixed_indegree` / `fixed_outdegree` asks for more distinct neurons than there are.
    #[error(
        "{rule} = {k} needs {k} distinct {side} neurons per row, but only {available} are \
         available ({side} size {size}{})",
        autapse_note(.without_self)
    )]
    DegreeTooLarge {
        /// `"fixed_indegree"` or `"fixed_outdegree"`.
        rule: &'static str,
        /// The degree asked for.
        k: u64,
        /// `"pre"` (indegree) or `"post"` (outdegree): the side drawn from.
        side: &'static str,
        /// That side's size.
        size: u32,
        /// How many neurons each row can draw from.
        available: u64,
        /// The neuron itself is excluded (self-projection without autapses).
        without_self: bool,
    },
    /// A `pairs` index beyond its population.
    #[error("pair {index} {pair:?}: {side} index {value} is out of range for {side} size {size}")]
    PairOutOfRange {
        /// Position in the list (0-based).
        index: usize,
        /// The pair.
        pair: [u32; 2],
        /// `"pre"` or `"post"`.
        side: &'static str,
        /// The offending index.
        value: u32,
        /// That population's size.
        size: u32,
    },
    /// `pairs` not grouped by pre neuron in non-decreasing order.
    #[error(
        "pair {index} {pair:?} comes after a pair with pre {previous}: list pairs grouped by \
         pre neuron in non-decreasing pre order (synapses are stored by pre neuron and keep \
         the order given)"
    )]
    PairsNotGrouped {
        /// Position in the list (0-based).
        index: usize,
        /// The pair.
        pair: [u32; 2],
        /// The pre index of the pair before it.
        previous: u32,
    },
    /// The same `[pre, post]` pair twice.
    #[error("pair {index} {pair:?} repeats pair {first}; each (pre, post) pair may appear once")]
    DuplicatePair {
        /// Position of the repeat (0-based).
        index: usize,
        /// Position of the first occurrence.
        first: usize,
        /// The pair.
        pair: [u32; 2],
    },
}

fn autapse_note(without_self: &bool) -> &'static str {
    if *without_self {
        ", minus the neuron itself: autapses are off"
    } else {
        ""
    }
}

/// Rows per parallel chunk when building.
const ROWS_PER_CHUNK: usize = 256;

/// The most targets [`build_rows`] reserves room for up front (4 GiB of `u32`, a little
/// over 10⁹ synapses): beyond, the array grows as rows come. Reserving is only address
/// space, but a system that does not overcommit memory counts it all.
const MAX_RESERVED: usize = 1 << 30;

/// The largest target array a 1-thread build maps in one call before writing it, bytes.
const POPULATE_MAX_BYTES: usize = 8 << 20;

/// Largest synapse count a build accepts (keeps `usize` byte counts far from overflow).
const MAX_SYNAPSES: u128 = usize::MAX as u128 / 8;

impl ConnectRule {
    /// Checks the rule's own parameters and its compatibility with the sizes;
    /// `same_population` says whether pre and post are one population (which decides how
    /// many neurons a `fixed_indegree` / `fixed_outdegree` row can draw from).
    pub fn check(&self, pre: u32, post: u32, same_population: bool) -> Result<(), ConnectError> {
        match self {
            ConnectRule::OneToOne if pre != post => Err(ConnectError::SizeMismatch { pre, post }),
            ConnectRule::FixedProbability { p, .. } if !(0.0..=1.0).contains(p) => {
                Err(ConnectError::BadProbability(*p))
            }
            ConnectRule::FixedIndegree { k, autapses } => check_degree(
                "fixed_indegree",
                "pre",
                *k,
                pre,
                same_population && !autapses,
            ),
            ConnectRule::FixedOutdegree { k, autapses } => check_degree(
                "fixed_outdegree",
                "post",
                *k,
                post,
                same_population && !autapses,
            ),
            ConnectRule::Pairs(pairs) => check_pairs(pairs, pre, post),
            _ => Ok(()),
        }
    }

    /// Builds the synapses from `pre` to `post` neurons; `same_population` says whether pre
    /// and post are one population (where autapses i → i are meaningful).
    pub fn build(
        &self,
        pre: u32,
        post: u32,
        same_population: bool,
        seed: u64,
        projection_name: &str,
    ) -> Result<Connectivity, ConnectError> {
        self.build_rows_for(pre, post, same_population, seed, projection_name)
            .map(|c| c.with_post_size(post))
    }

    fn build_rows_for(
        &self,
        pre: u32,
        post: u32,
        same_population: bool,
        seed: u64,
        projection_name: &str,
    ) -> Result<Connectivity, ConnectError> {
        self.check(pre, post, same_population)?;
        let (pre_n, post_n) = (pre as usize, post as usize);
        let family = || StreamFamily::new(seed, &format!("{projection_name}.connectivity"));
        match *self {
            ConnectRule::OneToOne => Ok(Connectivity::diagonal(pre)),
            ConnectRule::AllToAll { autapses } => {
                let total = pre_n as u128 * post_n as u128;
                if total > MAX_SYNAPSES {
                    return Err(ConnectError::TooLarge(total));
                }
                Ok(if same_population && !autapses {
                    Connectivity::lateral(pre)
                } else {
                    Connectivity::dense(pre, post)
                })
            }
            ConnectRule::FixedProbability { p, autapses } => {
                let skip_self = same_population && !autapses;
                let family = family();
                let ln_q = (1.0 - p).ln();
                if p == 0.0 {
                    return Ok(Connectivity::from_csr(vec![0; pre_n + 1], Vec::new()));
                }
                // Successes among `post_n` trials, plus the draw that overshoots the row.
                let expected_draws = (post_n as f64 * p) as u64 + 1;
                // The mean number of synapses plus 4 standard deviations (binomial).
                let mean = pre_n as f64 * post_n as f64 * p;
                let expected = (mean + 4.0 * (mean * (1.0 - p)).sqrt()) as usize;
                build_rows(
                    pre_n,
                    expected.min(MAX_RESERVED),
                    || (),
                    |_, i, row| {
                        let mut draws =
                            GeometricDraws::new(family.stream(i as u64), ln_q, expected_draws);
                        let mut j = draws.draw();
                        while j < post_n as u64 {
                            if !(skip_self && j as usize == i) {
                                row.push(j as u32);
                            }
                            j = j.saturating_add(1).saturating_add(draws.draw());
                        }
                    },
                )
            }
            ConnectRule::FixedOutdegree { k, autapses } => {
                let skip_self = same_population && !autapses;
                let total = k as u128 * pre_n as u128;
                if total > MAX_SYNAPSES {
                    return Err(ConnectError::TooLarge(total));
                }
                let (k, family) = (k as usize, family());
                let available = post_n.saturating_sub(usize::from(skip_self));
                build_rows(
                    pre_n,
                    (k * pre_n).min(MAX_RESERVED),
                    || BitSet::new(available),
                    |marks, i, row| {
                        let start = row.len();
                        row.resize(start + k, 0);
                        let skip = skip_self.then_some(i as u32);
                        let mut s = family.stream(i as u64);
                        sample_sorted(&mut s, marks, available, skip, &mut row[start..]);
                    },
                )
            }
            ConnectRule::FixedIndegree { k, autapses } => {
                let total = k as u128 * post_n as u128;
                if total > MAX_SYNAPSES {
                    return Err(ConnectError::TooLarge(total));
                }
                Ok(build_indegree(
                    pre_n,
                    post_n,
                    k as usize,
                    same_population && !autapses,
                    family(),
                ))
            }
            ConnectRule::Pairs(ref pairs) => {
                let mut offsets = vec![0usize; pre_n + 1];
                for &[i, _] in pairs {
                    offsets[i as usize + 1] += 1;
                }
                for i in 0..pre_n {
                    offsets[i + 1] += offsets[i];
                }
                let targets = pairs.iter().map(|&[_, j]| j).collect();
                Ok(Connectivity::from_csr(offsets, targets))
            }
        }
    }
}

fn check_degree(
    rule: &'static str,
    side: &'static str,
    k: u64,
    size: u32,
    without_self: bool,
) -> Result<(), ConnectError> {
    let available = u64::from(size).saturating_sub(u64::from(without_self));
    if k > available {
        return Err(ConnectError::DegreeTooLarge {
            rule,
            k,
            side,
            size,
            available,
            without_self,
        });
    }
    Ok(())
}

fn check_pairs(pairs: &[[u32; 2]], pre: u32, post: u32) -> Result<(), ConnectError> {
    let mut first_of = std::collections::HashMap::with_capacity(pairs.len());
    let mut previous = 0;
    for (index, &pair) in pairs.iter().enumerate() {
        for (side, value, size) in [("pre", pair[0], pre), ("post", pair[1], post)] {
            if value >= size {
                return Err(ConnectError::PairOutOfRange {
                    index,
                    pair,
                    side,
                    value,
                    size,
                });
            }
        }
        if pair[0] < previous {
            return Err(ConnectError::PairsNotGrouped {
                index,
                pair,
                previous,
            });
        }
        previous = pair[0];
        if let Some(&first) = first_of.get(&pair) {
            return Err(ConnectError::DuplicatePair { index, first, pair });
        }
        first_of.insert(pair, index);
    }
    Ok(())
}

/// A fixed-size bit set, cleared by the caller after each use (scratch for sampling).
struct BitSet(Vec<u64>);

impl BitSet {
    fn new(n: usize) -> Self {
        Self(vec![0; n.div_ceil(64)])
    }

    /// Sets bit `v`; returns whether it was already set.
    #[inline]
    fn test_and_set(&mut self, v: usize) -> bool {
        let (w, b) = (v / 64, 1u64 << (v % 64));
        let was = self.0[w] & b != 0;
        self.0[w] |= b;
        was
    }

    #[inline]
    fn clear(&mut self, v: usize) {
        self.0[v / 64] &= !(1u64 << (v % 64));
    }
}

/// A uniform integer in [0, m), m ≥ 1, without bias (Lemire's multiply-and-reject).
#[inline]
fn below(s: &mut RngStream, m: u64) -> u64 {
    let mut p = u128::from(s.next_u64()) * u128::from(m);
    if (p as u64) < m {
        let threshold = m.wrapping_neg() % m;
        while (p as u64) < threshold {
            p = u128::from(s.next_u64()) * u128::from(m);
        }
    }
    (p >> 64) as u64
}

/// Fills `out` with `out.len()` distinct values drawn uniformly without replacement from
/// `0..available` (Floyd's algorithm), sorted; with `skip = Some(x)` the values are then
/// shifted past `x` (so they range over `0..=available` minus `x`). `marks` must be clear
/// and at least `available` bits long; it is left clear.
fn sample_sorted(
    s: &mut RngStream,
    marks: &mut BitSet,
    available: usize,
    skip: Option<u32>,
    out: &mut [u32],
) {
    let k = out.len();
    for (slot, j) in out.iter_mut().zip(available - k..available) {
        let t = below(s, j as u64 + 1) as usize;
        let v = if marks.test_and_set(t) {
            marks.test_and_set(j);
            j
        } else {
            t
        };
        *slot = v as u32;
    }
    out.sort_unstable();
    for &v in out.iter() {
        marks.clear(v as usize);
    }
    if let Some(x) = skip {
        for v in out.iter_mut() {
            if *v >= x {
                *v += 1;
            }
        }
    }
}

/// `fixed_indegree`: k sources per post neuron from stream j, then transposed to rows by
/// pre neuron (each sorted by post).
fn build_indegree(
    pre_n: usize,
    post_n: usize,
    k: usize,
    skip_self: bool,
    family: StreamFamily,
) -> Connectivity {
    if k == 0 || post_n == 0 {
        return Connectivity::from_csr(vec![0; pre_n + 1], Vec::new());
    }
    let available = pre_n.saturating_sub(usize::from(skip_self));
    // Sources of post j, sorted: `sources[j * k..(j + 1) * k]`.
    let mut sources = vec![0u32; post_n * k];
    sources
        .par_chunks_mut(ROWS_PER_CHUNK * k)
        .enumerate()
        .for_each_init(
            || BitSet::new(available),
            |marks, (c, chunk)| {
                for (r, row) in chunk.chunks_mut(k).enumerate() {
                    let j = c * ROWS_PER_CHUNK + r;
                    let mut s = family.stream(j as u64);
                    sample_sorted(&mut s, marks, available, skip_self.then_some(j as u32), row);
                }
            },
        );
    // Transpose: each task owns a range of pre rows and scans every post row's (sorted)
    // sources for that range — a count pass, then a scatter pass in increasing post order.
    // The scan costs O(post · log k) per task, so the task count stays ≤ k / 8 to keep the
    // total O(synapses); the output is the same for any task count.
    let tasks = (rayon::current_num_threads() * 2)
        .min((k / 8).max(1))
        .min(pre_n.max(1));
    let rows_per_task = pre_n.div_ceil(tasks).max(1);
    let sources = &sources;
    let chunks: Vec<(Vec<usize>, Vec<u32>)> = (0..tasks)
        .into_par_iter()
        .map(|t| {
            let lo = (t * rows_per_task).min(pre_n);
            let hi = (lo + rows_per_task).min(pre_n);
            let in_range = |row: &[u32]| {
                let a = row.partition_point(|&i| (i as usize) < lo);
                let b = a + row[a..].partition_point(|&i| (i as usize) < hi);
                a..b
            };
            let mut lens = vec![0usize; hi - lo];
            for row in sources.chunks(k) {
                for &i in &row[in_range(row)] {
                    lens[i as usize - lo] += 1;
                }
            }
            let mut cursor = Vec::with_capacity(hi - lo);
            let mut total = 0;
            for &l in &lens {
                cursor.push(total);
                total += l;
            }
            let mut targets = vec![0u32; total];
            for (j, row) in sources.chunks(k).enumerate() {
                for &i in &row[in_range(row)] {
                    let c = &mut cursor[i as usize - lo];
                    targets[*c] = j as u32;
                    *c += 1;
                }
            }
            (lens, targets)
        })
        .collect();
    concat_chunks(pre_n, chunks)
}

/// Builds CSR rows in parallel chunks (each chunk's rows in order, chunks concatenated in
/// order): deterministic whatever the thread count. `init` makes per-task scratch, which
/// `fill_row` must leave as it found it so rows do not depend on which task built them.
/// `expected`: about how many synapses there will be (room reserved for them).
///
/// On one thread the rows go straight into the final arrays: chunks would only add a copy
/// of every target and a first touch of their own pages (CUBA 4 000: ≈ 140 of the
/// construction's ≈ 660 page faults).
fn build_rows<S>(
    pre: usize,
    expected: usize,
    init: impl Fn() -> S + Sync + Send,
    fill_row: impl Fn(&mut S, usize, &mut Vec<u32>) + Sync,
) -> Result<Connectivity, ConnectError> {
    if rayon::current_num_threads() == 1 {
        let mut scratch = init();
        let mut offsets = Vec::with_capacity(pre + 1);
        let mut targets = Vec::with_capacity(expected);
        // Mapped at once while the array fits in cache (see `alloc::populate`); a larger
        // one is better faulted in page by page, each page zeroed just before it is written
        // (10⁹ synapses built in 7.2 s populated, 6.6 s not).
        if expected * size_of::<u32>() <= POPULATE_MAX_BYTES {
            crate::alloc::populate(targets.spare_capacity_mut());
        }
        offsets.push(0);
        for i in 0..pre {
            fill_row(&mut scratch, i, &mut targets);
            offsets.push(targets.len());
        }
        // Gives back the untouched rest of the room (in place: no copy).
        targets.shrink_to_fit();
        return Ok(Connectivity::from_csr(offsets, targets));
    }
    let chunks: Vec<(Vec<usize>, Vec<u32>)> = (0..pre.div_ceil(ROWS_PER_CHUNK))
        .into_par_iter()
        .map_init(init, |scratch, c| {
            let rows = c * ROWS_PER_CHUNK..((c + 1) * ROWS_PER_CHUNK).min(pre);
            let mut lens = Vec::with_capacity(rows.len());
            // This chunk's share of `expected`, a little over (the room left untouched
            // costs no memory): a growing vector would be copied as it grows.
            let share = expected as f64 * rows.len() as f64 / pre as f64;
            let mut targets = Vec::with_capacity((share * 1.05) as usize + 64);
            for i in rows {
                let before = targets.len();
                fill_row(scratch, i, &mut targets);
                lens.push(targets.len() - before);
            }
            (lens, targets)
        })
        .collect();
    Ok(concat_chunks(pre, chunks))
}

/// Concatenates per-chunk (row lengths, targets) in chunk order into one CSR. The targets
/// are copied in parallel, each chunk into its own range of the array (and freed once
/// copied): at 10⁹ synapses the copy and the first touch of the array's pages took more
/// than a second on one thread.
fn concat_chunks(pre: usize, chunks: Vec<(Vec<usize>, Vec<u32>)>) -> Connectivity {
    let total: usize = chunks.iter().map(|(_, t)| t.len()).sum();
    let mut offsets = Vec::with_capacity(pre + 1);
    offsets.push(0);
    for (lens, _) in &chunks {
        for l in lens {
            let last = *offsets.last().expect("non-empty");
            offsets.push(last + l);
        }
    }
    let mut targets: Vec<u32> = Vec::with_capacity(total);
    let mut rest = &mut targets.spare_capacity_mut()[..total];
    let mut parts = Vec::with_capacity(chunks.len());
    for (_, t) in &chunks {
        let (part, tail) = rest.split_at_mut(t.len());
        parts.push(part);
        rest = tail;
    }
    chunks
        .into_par_iter()
        .zip(parts)
        .for_each(|((_, t), part)| {
            for (slot, &x) in part.iter_mut().zip(&t) {
                slot.write(x);
            }
        });
    // SAFETY: the parts cover `..total` exactly and each was written whole above.
    unsafe { targets.set_len(total) };
    Connectivity::from_csr(offsets, targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Floyd's algorithm picks every k-subset with the same probability: 2 of 5 gives 10
    /// subsets, each expected 4000 times in 40 000 rows (within 4σ), always sorted; with a
    /// skipped value the subsets range over the other five of 0..6.
    #[test]
    fn sampling_is_uniform_over_subsets_and_skips() {
        let family = StreamFamily::new(9, "t.connectivity");
        let mut marks = BitSet::new(5);
        for skip in [None, Some(2)] {
            let mut counts = std::collections::BTreeMap::new();
            let rows = 40_000u64;
            for r in 0..rows {
                let mut out = [0u32; 2];
                sample_sorted(&mut family.stream(r), &mut marks, 5, skip, &mut out);
                assert!(out[0] < out[1] && out[1] < 5 + u32::from(skip.is_some()));
                assert!(skip.is_none_or(|x| !out.contains(&x)));
                *counts.entry(out).or_insert(0u64) += 1;
            }
            assert!(marks.0.iter().all(|&w| w == 0), "scratch left clear");
            assert_eq!(counts.len(), 10);
            let (n, p) = (rows as f64, 0.1);
            let sd = (n * p * (1.0 - p)).sqrt();
            for (subset, &c) in &counts {
                assert!((c as f64 - n * p).abs() < 4.0 * sd, "{subset:?}: {c}");
            }
        }
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut s = StreamFamily::new(1, "b").stream(0);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            seen[below(&mut s, 7) as usize] = true;
        }
        assert!(seen.iter().all(|&x| x));
        assert_eq!(below(&mut s, 1), 0);
    }

    #[test]
    fn all_to_all_without_autapses_skips_diagonal() {
        let c = ConnectRule::AllToAll { autapses: false }
            .build(3, 3, true, 0, "p")
            .unwrap();
        assert_eq!(c.len(), 6);
        assert_eq!(c.row(1).to_vec(), [0, 2]);
        let c = ConnectRule::AllToAll { autapses: false }
            .build(3, 3, false, 0, "p")
            .unwrap();
        assert_eq!(c.len(), 9);
    }

    #[test]
    fn one_to_one_needs_equal_sizes() {
        let c = ConnectRule::OneToOne.build(4, 4, false, 0, "p").unwrap();
        assert_eq!(c.targets().collect::<Vec<_>>(), [0, 1, 2, 3]);
        assert_eq!(
            ConnectRule::OneToOne.build(4, 5, false, 0, "p"),
            Err(ConnectError::SizeMismatch { pre: 4, post: 5 })
        );
    }

    #[test]
    fn fixed_probability_count_within_4_sigma_and_rows_sorted() {
        let (pre, post, p) = (2000u32, 3000u32, 0.02);
        let c = ConnectRule::FixedProbability { p, autapses: true }
            .build(pre, post, false, 42, "a_to_b")
            .unwrap();
        let n = pre as f64 * post as f64;
        let sd = (n * p * (1.0 - p)).sqrt();
        assert!((c.len() as f64 - n * p).abs() < 4.0 * sd, "{}", c.len());
        for i in 0..pre as usize {
            assert!(c.row(i).to_vec().windows(2).all(|w| w[0] < w[1]));
            assert!(c.row(i).iter().all(|j| j < post));
        }
    }

    #[test]
    fn fixed_probability_is_deterministic_and_name_dependent() {
        let rule = ConnectRule::FixedProbability {
            p: 0.1,
            autapses: false,
        };
        let a = rule.build(500, 500, true, 1, "x").unwrap();
        let b = rule.build(500, 500, true, 1, "x").unwrap();
        let c = rule.build(500, 500, true, 1, "y").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!((0..500).all(|i| !a.row(i).contains(i as u32)));
    }

    #[test]
    fn probability_edges() {
        let one = ConnectRule::FixedProbability {
            p: 1.0,
            autapses: true,
        }
        .build(5, 7, false, 0, "z")
        .unwrap();
        assert_eq!(one.len(), 35);
        let zero = ConnectRule::FixedProbability {
            p: 0.0,
            autapses: true,
        }
        .build(5, 7, false, 0, "z")
        .unwrap();
        assert_eq!(zero.len(), 0);
        assert!(
            ConnectRule::FixedProbability {
                p: 1.5,
                autapses: true
            }
            .check(1, 1, false)
            .is_err()
        );
    }
}
