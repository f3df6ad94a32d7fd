//! [`Targets`]: the post-neuron indices of sparse rows, 16 bits each wherever the post
//! population has at most 65 536 neurons.
//!
//! Why: delivering a spike reads its row of post indices, and with a few spikes per step
//! the rows of successive steps are scattered over the whole target array, so how much of
//! that array stays in cache decides how many of those reads wait on memory. CUBA 4 000's
//! four projections hold 320 000 targets: 1.28 MB as `u32`, more than the 1 MB L2 cache of
//! a Zen 4/5 core; as `u16`, 0.64 MB, which stays there beside the neuron state. The
//! narrow form also halves the bytes per synapse of every projection onto a population of
//! up to 65 536 neurons (Brian2 and NEST store 32-bit indices).
//!
//! The narrow indices live in the first half of the `u32` array the rows were built in:
//! [`Targets::narrow`] packs them in place (no second array, no new pages) and gives the
//! rest back. Everything that reads rows sees a [`TargetSlice`], `u32` or `u16`, and the
//! hot loops are written once over [`TargetIndex`] and instantiated for both.

/// An integer type post indices are stored in: `u32` or `u16`.
pub trait TargetIndex: Copy + Ord + Send + Sync + std::fmt::Debug + 'static {
    /// The index as a `usize`.
    fn index(self) -> usize;

    /// How many of `run` are below `bound`: in a sorted run, where `bound` would go
    /// (`run.partition_point(|j| j.index() < bound)`). Counted with a compare per index,
    /// which the compiler vectorises, rather than found by bisection: a sparse row is a
    /// few cache lines, and bisection's chain of dependent loads took longer than
    /// comparing them all (the rows are read in full right after anyway).
    fn count_below(run: &[Self], bound: usize) -> usize;
}

impl TargetIndex for u32 {
    #[inline(always)]
    fn index(self) -> usize {
        self as usize
    }

    #[inline(always)]
    fn count_below(run: &[Self], bound: usize) -> usize {
        match u32::try_from(bound) {
            Ok(b) => run.iter().filter(|&&j| j < b).count(),
            Err(_) => run.len(),
        }
    }
}

impl TargetIndex for u16 {
    #[inline(always)]
    fn index(self) -> usize {
        usize::from(self)
    }

    #[inline(always)]
    fn count_below(run: &[Self], bound: usize) -> usize {
        match u16::try_from(bound) {
            Ok(b) => run.iter().filter(|&&j| j < b).count(),
            Err(_) => run.len(),
        }
    }
}

/// A run of post indices, borrowed as stored.
#[derive(Clone, Copy, Debug)]
pub enum TargetSlice<'a> {
    /// 32-bit indices.
    Wide(&'a [u32]),
    /// 16-bit indices (post populations of at most 65 536 neurons).
    Narrow(&'a [u16]),
}

impl<'a> TargetSlice<'a> {
    /// Number of indices.
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            TargetSlice::Wide(t) => t.len(),
            TargetSlice::Narrow(t) => t.len(),
        }
    }

    /// True if there are none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index `k`.
    ///
    /// # Panics
    /// If `k ≥ len`.
    #[inline]
    pub fn get(&self, k: usize) -> u32 {
        match self {
            TargetSlice::Wide(t) => t[k],
            TargetSlice::Narrow(t) => u32::from(t[k]),
        }
    }

    /// Indices `range` of this run.
    ///
    /// # Panics
    /// If `range` is not within `..len`.
    #[inline]
    pub fn range(self, range: std::ops::Range<usize>) -> Self {
        match self {
            TargetSlice::Wide(t) => TargetSlice::Wide(&t[range]),
            TargetSlice::Narrow(t) => TargetSlice::Narrow(&t[range]),
        }
    }

    /// The indices in order, as `u32`.
    pub fn iter(self) -> impl Iterator<Item = u32> + 'a {
        let (wide, narrow): (&[u32], &[u16]) = match self {
            TargetSlice::Wide(t) => (t, &[]),
            TargetSlice::Narrow(t) => (&[], t),
        };
        wide.iter()
            .copied()
            .chain(narrow.iter().map(|&j| u32::from(j)))
    }

    /// Appends the indices to `out`, as `u32`.
    pub fn extend_into(self, out: &mut Vec<u32>) {
        match self {
            TargetSlice::Wide(t) => out.extend_from_slice(t),
            TargetSlice::Narrow(t) => out.extend(t.iter().map(|&j| u32::from(j))),
        }
    }
}

/// The post indices of a sparse layout, in synapse order: `u32`, or `u16` once
/// [`narrow`](Self::narrow)ed (see the [module docs](self)).
#[derive(Clone, Debug, Default)]
pub struct Targets {
    /// The `u32` indices, or (narrow) the `u16` indices packed two per word, low half
    /// first in memory (`words` as bytes is the `u16` array).
    words: Vec<u32>,
    /// Number of indices.
    len: usize,
    /// Whether `words` holds `u16` indices.
    narrow: bool,
}

/// The largest index the narrow form holds.
const NARROW_MAX: u32 = u16::MAX as u32;

/// Indices packed per block by [`Targets::narrow`]: read into a buffer first, so the
/// stores (which overwrite the first half of the block's bytes) never reach an index not
/// yet read, and both loops vectorise.
const PACK_BLOCK: usize = 64;

impl Targets {
    /// 32-bit indices.
    pub fn wide(indices: Vec<u32>) -> Self {
        Self {
            len: indices.len(),
            words: indices,
            narrow: false,
        }
    }

    /// Number of indices.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if there are none.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the indices are stored as `u16`.
    pub fn is_narrow(&self) -> bool {
        self.narrow
    }

    /// All indices, as stored.
    #[inline]
    pub fn slice(&self) -> TargetSlice<'_> {
        if self.narrow {
            // SAFETY: `words` holds `len` packed `u16` (at most `2·words.len()`), and a
            // `u32` array is aligned for `u16`.
            TargetSlice::Narrow(unsafe {
                std::slice::from_raw_parts(self.words.as_ptr().cast::<u16>(), self.len)
            })
        } else {
            TargetSlice::Wide(&self.words)
        }
    }

    /// Bytes of storage.
    pub fn memory_bytes(&self) -> usize {
        self.words.len() * size_of::<u32>()
    }

    /// Stores the indices as `u16` if every one is at most 65 535, in place: the array
    /// shrinks to half. Returns whether they are narrow now. Values are unchanged.
    pub fn narrow(&mut self) -> bool {
        if self.narrow {
            return true;
        }
        if self.words.iter().fold(0, |m, &j| m.max(j)) > NARROW_MAX {
            return false;
        }
        let n = self.len;
        let base = self.words.as_mut_ptr();
        let mut buffer = [0u32; PACK_BLOCK];
        for start in (0..n).step_by(PACK_BLOCK) {
            let m = PACK_BLOCK.min(n - start);
            // SAFETY: indices `start..start + m` lie within the `n` words. The stores go to
            // bytes `2·start..2·(start + m)`, which lie within words `..start + m`: all
            // already read (into `buffer`, this block, or by an earlier block).
            unsafe {
                std::ptr::copy_nonoverlapping(base.add(start), buffer.as_mut_ptr(), m);
                let out = base.cast::<u16>().add(start);
                for (k, &j) in buffer[..m].iter().enumerate() {
                    out.add(k).write(j as u16);
                }
            }
        }
        self.words.truncate(n.div_ceil(2));
        self.words.shrink_to_fit();
        self.narrow = true;
        true
    }
}

impl PartialEq for Targets {
    /// Equal when they hold the same indices, whichever the storage.
    fn eq(&self, other: &Self) -> bool {
        match (self.slice(), other.slice()) {
            (TargetSlice::Wide(a), TargetSlice::Wide(b)) => a == b,
            (TargetSlice::Narrow(a), TargetSlice::Narrow(b)) => a == b,
            (a, b) => a.len() == b.len() && a.iter().eq(b.iter()),
        }
    }
}

impl Eq for Targets {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packing in place keeps every value and order, at every length around the block
    /// size (odd lengths included), and frees half the words.
    #[test]
    fn narrowing_keeps_the_values_in_place() {
        for n in [0usize, 1, 2, 63, 64, 65, 127, 128, 129, 1000, 4097] {
            let values: Vec<u32> = (0..n as u32)
                .map(|k| k.wrapping_mul(2_654_435_761) >> 16)
                .collect();
            let wide = Targets::wide(values.clone());
            let mut t = wide.clone();
            assert!(t.narrow(), "{n}");
            assert!(t.is_narrow());
            assert_eq!(t.len(), n);
            assert_eq!(t.slice().iter().collect::<Vec<_>>(), values, "{n}");
            assert!(matches!(t.slice(), TargetSlice::Narrow(s) if s.len() == n));
            assert_eq!(t.memory_bytes(), n.div_ceil(2) * 4);
            assert_eq!(t, wide);
            assert!(t.narrow(), "narrowing twice is a no-op");
            assert_eq!(t, wide);
        }
    }

    #[test]
    fn indices_beyond_sixteen_bits_stay_wide() {
        let mut t = Targets::wide(vec![3, 65_535, 65_536, 7]);
        assert!(!t.narrow());
        assert!(!t.is_narrow());
        assert_eq!(t.slice().iter().collect::<Vec<_>>(), [3, 65_535, 65_536, 7]);
        let mut edge = Targets::wide(vec![65_535, 0]);
        assert!(edge.narrow());
        assert_eq!(edge.slice().get(0), 65_535);
        assert_eq!(edge.slice().range(1..2).iter().collect::<Vec<_>>(), [0]);
    }

    #[test]
    fn slices_read_and_extend_alike() {
        let values = vec![0u32, 9, 400, 65_000];
        let mut narrow = Targets::wide(values.clone());
        narrow.narrow();
        let wide = Targets::wide(values.clone());
        for t in [&narrow, &wide] {
            let s = t.slice();
            assert_eq!(s.len(), 4);
            assert_eq!((0..4).map(|k| s.get(k)).collect::<Vec<_>>(), values);
            let mut out = vec![1];
            s.range(1..3).extend_into(&mut out);
            assert_eq!(out, [1, 9, 400]);
        }
        assert_ne!(narrow, Targets::wide(vec![0, 9, 400, 65_001]));
        assert_ne!(narrow, Targets::wide(vec![0, 9, 400]));
    }

    /// `count_below` finds where a bound goes in a sorted run, as bisection does, for
    /// bounds below, inside, between repeated indices and beyond either index width.
    #[test]
    fn counting_below_a_bound_is_the_partition_point() {
        let wide: Vec<u32> = vec![0, 3, 3, 3, 17, 40, 40, 65_535, 65_536, 70_000, 1 << 31];
        let narrow: Vec<u16> = vec![0, 1, 1, 9, 300, 300, 301, 40_000, 65_534, 65_535];
        let bounds = [
            0,
            1,
            2,
            3,
            4,
            40,
            41,
            300,
            301,
            65_535,
            65_536,
            65_537,
            1 << 31,
            usize::MAX,
        ];
        for &b in &bounds {
            for start in 0..wide.len() {
                let run = &wide[start..];
                let expect = run.partition_point(|&j| (j as usize) < b);
                assert_eq!(
                    u32::count_below(run, b),
                    expect,
                    "wide from {start}, bound {b}"
                );
            }
            for start in 0..narrow.len() {
                let run = &narrow[start..];
                let expect = run.partition_point(|&j| usize::from(j) < b);
                assert_eq!(
                    u16::count_below(run, b),
                    expect,
                    "narrow from {start}, bound {b}"
                );
            }
        }
        // Long runs (the vector loop and its remainder).
        let long: Vec<u16> = (0..1000u16).map(|i| i / 3).collect();
        for b in [0, 1, 100, 332, 333, 334, 5000] {
            let expect = long.partition_point(|&j| usize::from(j) < b);
            assert_eq!(u16::count_below(&long, b), expect, "long, bound {b}");
        }
    }
}
