//! Deterministic random streams keyed by identity, not by scheduling.
//!
//! Every random quantity in Ember (initial voltages, per-neuron parameters drawn from a
//! distribution, synapses of a `fixed_probability` projection, per-synapse weights) comes
//! from a stream identified by `(seed, name, index)`: the scenario seed, a stable name such
//! as `"exc.init.voltage"` or `"exc_to_inh.connectivity"`, and the element index (neuron,
//! synapse or pre-synaptic row). A stream is a SplitMix64 generator whose starting state is
//! a hash of that triple, so
//!
//! * the value drawn for neuron 17 does not depend on how many other neurons exist, on the
//!   order populations are declared in, or on which thread computes it;
//! * work can be split across threads by index range and still give bit-identical results.
//!
//! SplitMix64 (Steele, Lea & Flood 2014) passes BigCrush and costs a handful of
//! instructions per draw, which matters for building 10⁸-synapse projections.

/// Golden-ratio increment of SplitMix64.
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output mix (a bijective avalanche of 64 bits).
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stable 64-bit hash of a name (FNV-1a followed by a SplitMix finaliser).
///
/// Stable across platforms, Rust versions and runs, unlike `std`'s `DefaultHasher`.
pub fn name_hash(name: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    mix64(h)
}

/// The starting state of the stream `(seed, name, index)`.
pub fn stream_key(seed: u64, name: &str, index: u64) -> u64 {
    mix64(mix64(seed ^ name_hash(name)).wrapping_add(index.wrapping_mul(GOLDEN)))
}

/// A random stream: SplitMix64 started from `stream_key(seed, name, index)`.
#[derive(Clone, Debug)]
pub struct RngStream {
    state: u64,
}

impl RngStream {
    /// The stream identified by `(seed, name, index)`.
    pub fn new(seed: u64, name: &str, index: u64) -> Self {
        Self::from_key(stream_key(seed, name, index))
    }

    /// A stream from a precomputed key; `RngStream::from_key(stream_key(s, n, i))` equals
    /// `RngStream::new(s, n, i)`. Use it to hash the name once for many indices with
    /// [`StreamFamily`].
    pub fn from_key(key: u64) -> Self {
        Self { state: key }
    }

    /// The stream for element `index` of a family whose name was hashed once into
    /// `family = mix(seed ^ name_hash(name))`; see [`StreamFamily`].
    fn keyed(family: u64, index: u64) -> Self {
        Self::from_key(mix64(family.wrapping_add(index.wrapping_mul(GOLDEN))))
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix64(self.state)
    }

    /// A uniform draw from [0, 1) with 53 random bits.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform draw from (0, 1]: safe to take the logarithm of.
    #[inline]
    pub fn next_open_f64(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform draw from [lo, hi).
    #[inline]
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// A standard normal draw (Box–Muller, cosine branch: two uniforms per draw).
    #[inline]
    pub fn standard_normal(&mut self) -> f64 {
        let u1 = self.next_open_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Two independent standard normal draws (Marsaglia's polar method: uniform points
    /// (u, v) in the square [−1, 1)² until 0 < s = u² + v² < 1 — on average 1.27 tries —
    /// then `(u, v)·√(−2 ln s / s)`). One logarithm and one square root per pair and no
    /// trigonometry, several times cheaper than two
    /// [`standard_normal`](Self::standard_normal) calls.
    #[inline]
    pub fn standard_normal_pair(&mut self) -> (f64, f64) {
        loop {
            let u = 2.0 * self.next_f64() - 1.0;
            let v = 2.0 * self.next_f64() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = (-2.0 * s.ln() / s).sqrt();
                return (u * f, v * f);
            }
        }
    }

    /// The number of failures before the next success of a Bernoulli(p) sequence, drawn by
    /// inversion: `⌊ln U / ln(1 − p)⌋`. This is what makes `fixed_probability`
    /// connectivity O(synapses) instead of O(pre × post). `ln_q` is `ln(1 − p)`, precomputed
    /// by the caller; for p = 1 (`ln_q = −∞`) every trial succeeds. The logarithm is
    /// [`ln_open01`], so the draws do not depend on the platform's libm.
    #[inline]
    pub fn geometric_skip(&mut self, ln_q: f64) -> u64 {
        if ln_q == f64::NEG_INFINITY {
            return 0;
        }
        skip_count(ln_open01(self.next_open_f64()) / ln_q)
    }

    /// The next `N` draws of [`RngStream::geometric_skip`], in order, each
    /// from one uniform as there: the logarithms are independent, so they are computed
    /// side by side (vectorised) instead of one after the other. A caller that stops early
    /// just drops the rest; the stream has advanced by the whole batch.
    #[inline]
    pub fn geometric_skips<const N: usize>(&mut self, ln_q: f64) -> [u64; N] {
        if ln_q == f64::NEG_INFINITY {
            return [0; N];
        }
        // `next_open_f64` and `skip_count` lane by lane, in forms that vectorise (AVX2 has
        // no u64 ↔ f64 conversions, so the plain casts become four scalar ones each): the
        // same values (see the tests).
        let bits: [u64; N] = std::array::from_fn(|_| self.next_u64() >> 11);
        let u = bits.map(|w| (u53_to_f64(w) + 1.0) * (1.0 / (1u64 << 53) as f64));
        let k = u.map(|u| ln_open01(u) / ln_q);
        // Every lane checked, without stopping at the first out of range: one vector
        // comparison instead of a compare and branch per draw.
        if k.iter()
            .fold(true, |all, k| all & (0.0..TWO_POW_52).contains(k))
        {
            k.map(small_skip_count)
        } else {
            k.map(skip_count)
        }
    }
}

/// 2⁵².
const TWO_POW_52: f64 = 4_503_599_627_370_496.0;

/// `x as f64` for `x < 2⁵³`, exactly, with operations that vectorise: each half (27 and 26
/// bits) is placed in the mantissa of 2⁵² and 2⁵² subtracted, then `hi·2²⁶ + lo` (an
/// integer below 2⁵³, so exact).
#[inline(always)]
fn u53_to_f64(x: u64) -> f64 {
    const MAGIC: u64 = TWO_POW_52.to_bits();
    let hi = f64::from_bits((x >> 26) | MAGIC) - TWO_POW_52;
    let lo = f64::from_bits((x & ((1 << 26) - 1)) | MAGIC) - TWO_POW_52;
    hi * (1u64 << 26) as f64 + lo
}

/// [`skip_count`] of `k ∈ [0, 2⁵²)` (or −0): `⌊k⌋ + 2⁵²` is exact there, and its mantissa
/// bits are `⌊k⌋`.
#[inline(always)]
fn small_skip_count(k: f64) -> u64 {
    (k.trunc() + TWO_POW_52).to_bits() & ((1 << 52) - 1)
}

/// Draws per [`RngStream::geometric_skips`] call when few are expected: one AVX2 vector of
/// f64.
pub const GEOMETRIC_BATCH: usize = 4;

/// Draws per call while a few more vectors' worth are expected: four AVX2 vectors, whose
/// logarithms are independent chains the core overlaps. One vector at a time leaves it
/// waiting on each chain's latency (a polynomial and two divisions); the draws were ≈ 2/3
/// of building a `fixed_probability` projection, and CUBA 4 000's four projections built
/// in 3.9 ms instead of 4.7 ms with these batches.
pub const GEOMETRIC_MID_BATCH: usize = 4 * GEOMETRIC_BATCH;

/// Draws per call while many more are expected: sixteen AVX2 vectors, or eight of
/// AVX-512, whose 512-bit chains were still latency-bound two at a time (the mid batch).
/// CUBA 4 000 (rows of 64 and 16 expected draws): the draws' share of a one-step
/// process fell from 21 % to 18 % of its samples (`perf`, 40 processes each).
pub const GEOMETRIC_WIDE_BATCH: usize = 16 * GEOMETRIC_BATCH;

/// The geometric draws of one stream, computed ahead in batches: the same values, in the
/// same order, as repeated [`RngStream::geometric_skip`] calls, for a stream that is
/// dropped afterwards (its last batch may be cut short).
///
/// The batch width follows the caller's estimate of how many draws it will take:
/// [`GEOMETRIC_WIDE_BATCH`] while at least that many are still expected, then
/// [`GEOMETRIC_MID_BATCH`] likewise, then [`GEOMETRIC_BATCH`], so a short row computes no
/// more draws it throws away than with narrow batches alone. The estimate changes only the
/// speed, never the values.
pub struct GeometricDraws {
    stream: RngStream,
    ln_q: f64,
    batch: [u64; GEOMETRIC_WIDE_BATCH],
    next: usize,
    filled: usize,
    /// Draws still expected after the ones in `batch`.
    expected: u64,
}

impl GeometricDraws {
    /// Draws of Bernoulli(p) failure counts from `stream`, `ln_q = ln(1 − p)`, for a
    /// caller that expects to take about `expected` of them.
    pub fn new(stream: RngStream, ln_q: f64, expected: u64) -> Self {
        Self {
            stream,
            ln_q,
            batch: [0; GEOMETRIC_WIDE_BATCH],
            next: 0,
            filled: 0,
            expected,
        }
    }

    /// The next failure count.
    #[inline]
    pub fn draw(&mut self) -> u64 {
        if self.next == self.filled {
            self.refill();
        }
        self.next += 1;
        self.batch[self.next - 1]
    }

    /// Computes the next batch: wide while the estimate says many more draws are coming.
    /// Out of line, so the caller's loop around [`draw`](Self::draw) stays small.
    #[inline(never)]
    fn refill(&mut self) {
        if self.expected >= GEOMETRIC_WIDE_BATCH as u64 {
            self.batch = self.stream.geometric_skips(self.ln_q);
            self.filled = GEOMETRIC_WIDE_BATCH;
        } else if self.expected >= GEOMETRIC_MID_BATCH as u64 {
            let mid: [u64; GEOMETRIC_MID_BATCH] = self.stream.geometric_skips(self.ln_q);
            self.batch[..GEOMETRIC_MID_BATCH].copy_from_slice(&mid);
            self.filled = GEOMETRIC_MID_BATCH;
        } else {
            let narrow: [u64; GEOMETRIC_BATCH] = self.stream.geometric_skips(self.ln_q);
            self.batch[..GEOMETRIC_BATCH].copy_from_slice(&narrow);
            self.filled = GEOMETRIC_BATCH;
        }
        self.expected = self.expected.saturating_sub(self.filled as u64);
        self.next = 0;
    }
}

/// `⌊k⌋` of a non-negative ratio `k`, saturating at `u64::MAX`.
#[inline(always)]
fn skip_count(k: f64) -> u64 {
    if k >= u64::MAX as f64 {
        u64::MAX
    } else {
        k as u64
    }
}

/// The natural logarithm of `u` ∈ [2⁻¹⁰²², 1] (positive normal numbers up to 1), within
/// 1 ulp: fdlibm's `__ieee754_log` (the algorithm of glibc's and musl's classic `log`),
/// written branch-free for that range so a batch of them vectorises.
///
/// With `u = 2ᵏ·m`, `m ∈ [√½, √2)`, `f = m − 1` and `s = f/(2 + f)`:
/// `ln u = k·ln 2 + f − f²/2 + s·(f²/2 + R(s²))`, `R` the minimax polynomial of
/// `ln((1+s)/(1−s)) − 2s` over `|s| ≤ 0.1716`, and `ln 2` split in a high part (exact
/// times any `k`) and a low part.
///
/// Ember's own rather than `f64::ln` so that random connectivity and Poisson draws are the
/// same on every platform.
#[inline(always)]
#[expect(
    clippy::excessive_precision,
    reason = "fdlibm's constants as published; each rounds to the intended double"
)]
pub fn ln_open01(u: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
    const LG1: f64 = 6.666_666_666_666_735_130e-1;
    const LG2: f64 = 3.999_999_999_940_941_908e-1;
    const LG3: f64 = 2.857_142_874_366_239_149e-1;
    const LG4: f64 = 2.222_219_843_214_978_396e-1;
    const LG5: f64 = 1.818_357_216_161_805_012e-1;
    const LG6: f64 = 1.531_383_769_920_937_332e-1;
    const LG7: f64 = 1.479_819_860_511_658_591e-1;
    // Shift the exponent so the mantissa lands in [√½, √2): the high word of √½ is
    // 0x3fe6a09e.
    let bits = u.to_bits();
    let hx = (bits >> 32).wrapping_add(0x3ff0_0000 - 0x3fe6_a09e);
    let k = ((hx >> 20) as i64 - 0x3ff) as f64;
    let hx = (hx & 0x000f_ffff) + 0x3fe6_a09e;
    let m = f64::from_bits((hx << 32) | (bits & 0xffff_ffff));
    let f = m - 1.0;
    let hfsq = 0.5 * f * f;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    s * (hfsq + r) + k * LN2_LO - hfsq + f + k * LN2_HI
}

/// Two independent standard normal draws from 64 random bits, in f32, without branches
/// (so a loop of them vectorises): the Box–Muller transform
///
/// `z₀ = √(−2 ln u₁) · cos 2πu₂`, `z₁ = √(−2 ln u₁) · sin 2πu₂`,
///
/// with u₁ ∈ [2⁻³², 1] from the high 32 bits (exact near 0, where the tails come from)
/// and u₂ ∈ [0, 1) from 24 of the low bits. `ln`, `sin` and `cos` are polynomials
/// accurate to a few f32 ulps ([`ln_f32`], [`sincos_turns`]). The tails are cut at
/// |z| ≤ √(64 ln 2) ≈ 6.66 (probability 2.7·10⁻¹¹ per draw).
///
/// Several times cheaper than [`RngStream::standard_normal_pair`] (f64 polar method with
/// libm's `ln` and a rejection loop); used for noise currents, which draw every neuron
/// every interval.
#[inline(always)]
pub fn normal_pair_f32(bits: u64) -> (f32, f32) {
    const TWO_POW_M32: f32 = 1.0 / 4_294_967_296.0;
    let u1 = ((bits >> 32) as u32 as f32 * TWO_POW_M32).max(TWO_POW_M32);
    let u2 = ((bits as u32) >> 8) as f32 * (1.0 / 16_777_216.0);
    let r = (-2.0 * ln_f32(u1)).max(0.0).sqrt();
    let (s, c) = sincos_turns(u2);
    (r * c, r * s)
}

/// Natural logarithm of a positive normal f32, branch-free: `x = m·2ᵉ` with
/// m ∈ [√½, √2), then Cephes' `logf` polynomial for ln m (error ≲ 2 ulp).
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    let bits = x.to_bits();
    // m ∈ [1, 2) and its exponent; then fold m ≥ √2 down to [√½, 1).
    let m = f32::from_bits((bits & 0x007F_FFFF) | 0x3F80_0000);
    let e = ((bits >> 23) & 0xFF) as i32 - 127;
    let big = m > std::f32::consts::SQRT_2;
    let f = if big { 0.5 * m } else { m } - 1.0;
    let e = (if big { e + 1 } else { e }) as f32;
    let z = f * f;
    let p = 7.037_683_6e-2;
    let p = p * f - 1.151_461e-1;
    let p = p * f + 1.167_699_9e-1;
    let p = p * f - 1.242_014_1e-1;
    let p = p * f + 1.424_932_3e-1;
    let p = p * f - 1.666_805_8e-1;
    let p = p * f + 2.000_071_5e-1;
    let p = p * f - 2.499_999_4e-1;
    let p = p * f + 3.333_333e-1;
    let y = p * f * z - 2.121_944_4e-4 * e - 0.5 * z;
    // ln 2 = 0.693359375 − 2.12194440·10⁻⁴, split so e·ln 2 adds without rounding error.
    f + y + 0.693_359_4 * e
}

/// `(sin 2πt, cos 2πt)` for t ∈ [0, 1) (t in turns), branch-free: the nearest quarter
/// turn q is taken out exactly, the rest a ∈ [−π/4, π/4] goes through Taylor polynomials
/// (error < 4·10⁻⁸), and the quadrant rotates the result.
#[inline(always)]
pub fn sincos_turns(t: f32) -> (f32, f32) {
    let q = (4.0 * t).round();
    let a = (t - 0.25 * q) * std::f32::consts::TAU;
    let a2 = a * a;
    let s =
        a * (1.0 + a2 * (-1.0 / 6.0 + a2 * (1.0 / 120.0 + a2 * (-1.0 / 5040.0 + a2 / 362_880.0))));
    let c = 1.0 + a2 * (-0.5 + a2 * (1.0 / 24.0 + a2 * (-1.0 / 720.0 + a2 * (1.0 / 40_320.0))));
    // Rotate by q quarter turns: q = 0 or 4: (s, c); 1: (c, −s); 2: (−s, −c); 3: (−c, s).
    let q = q as u32 & 3;
    let (s, c) = if q & 1 == 1 { (c, -s) } else { (s, c) };
    if q & 2 == 2 { (-s, -c) } else { (s, c) }
}

/// All streams sharing `(seed, name)`, indexed by element; hashes the name once.
#[derive(Clone, Copy, Debug)]
pub struct StreamFamily {
    family: u64,
}

impl StreamFamily {
    /// The family `(seed, name, ·)`.
    pub fn new(seed: u64, name: &str) -> Self {
        Self {
            family: mix64(seed ^ name_hash(name)),
        }
    }

    /// The stream for element `index`; identical to `RngStream::new(seed, name, index)`.
    #[inline]
    pub fn stream(&self, index: u64) -> RngStream {
        RngStream::keyed(self.family, index)
    }

    /// The first 64 bits of stream `index`: `self.stream(index).next_u64()`, inlined
    /// (two SplitMix mixes, no state), for loops that take one draw per element.
    #[inline(always)]
    pub fn first_u64(&self, index: u64) -> u64 {
        let key = mix64(self.family.wrapping_add(index.wrapping_mul(GOLDEN)));
        mix64(key.wrapping_add(GOLDEN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_matches_direct_streams() {
        let fam = StreamFamily::new(7, "exc.init.voltage");
        for i in [0u64, 1, 17, 4_000_000_000] {
            assert_eq!(
                fam.stream(i).next_u64(),
                RngStream::new(7, "exc.init.voltage", i).next_u64()
            );
        }
    }

    #[test]
    fn streams_differ_by_seed_name_and_index() {
        let a = RngStream::new(1, "a", 0).next_u64();
        assert_ne!(a, RngStream::new(2, "a", 0).next_u64());
        assert_ne!(a, RngStream::new(1, "b", 0).next_u64());
        assert_ne!(a, RngStream::new(1, "a", 1).next_u64());
        // Pinned value: changing the generator changes every scenario's output.
        assert_eq!(RngStream::new(0, "", 0).next_u64(), 0xe087_d893_73d6_2e2c);
    }

    #[test]
    fn uniform_moments() {
        let mut s = RngStream::new(3, "u", 0);
        let n = 200_000;
        let (mut sum, mut sq) = (0.0, 0.0);
        for _ in 0..n {
            let x = s.next_f64();
            assert!((0.0..1.0).contains(&x));
            sum += x;
            sq += x * x;
        }
        let mean = sum / n as f64;
        let var = sq / n as f64 - mean * mean;
        assert!((mean - 0.5).abs() < 4.0 * (1.0 / 12.0 / n as f64).sqrt());
        assert!((var - 1.0 / 12.0).abs() < 1e-3);
    }

    #[test]
    fn normal_moments() {
        let mut s = RngStream::new(3, "n", 0);
        let n = 200_000;
        let (mut sum, mut sq) = (0.0, 0.0);
        for _ in 0..n {
            let x = s.standard_normal();
            sum += x;
            sq += x * x;
        }
        let mean = sum / n as f64;
        let var = sq / n as f64 - mean * mean;
        assert!(mean.abs() < 4.0 / (n as f64).sqrt());
        assert!((var - 1.0).abs() < 0.02);
    }

    /// The polar pairs: mean 0, variance 1, uncorrelated within a pair, and tails as a
    /// normal's (P(|z| > 2) ≈ 4.55 %), over 100 000 keyed streams.
    #[test]
    fn normal_pair_moments_and_independence() {
        let family = StreamFamily::new(5, "pairs");
        let n = 100_000;
        let (mut sum, mut sq, mut cross, mut tail) = (0.0, 0.0, 0.0, 0usize);
        for i in 0..n {
            let (a, b) = family.stream(i).standard_normal_pair();
            sum += a + b;
            sq += a * a + b * b;
            cross += a * b;
            tail += usize::from(a.abs() > 2.0) + usize::from(b.abs() > 2.0);
        }
        let m = 2.0 * n as f64;
        let mean = sum / m;
        assert!(mean.abs() < 4.0 / m.sqrt(), "{mean}");
        assert!((sq / m - mean * mean - 1.0).abs() < 0.02);
        assert!((cross / n as f64).abs() < 4.0 / (n as f64).sqrt());
        let p = 0.0455;
        let expected = p * m;
        assert!(
            (tail as f64 - expected).abs() < 4.0 * (m * p * (1.0 - p)).sqrt(),
            "{tail}"
        );
    }

    #[test]
    fn first_u64_is_the_streams_first_draw() {
        let fam = StreamFamily::new(11, "noise");
        for i in [0u64, 1, 2, 99, u64::MAX] {
            assert_eq!(fam.first_u64(i), fam.stream(i).next_u64());
        }
    }

    /// The f32 logarithm against f64's over every binade of (0, 1] and above.
    #[test]
    fn ln_f32_is_accurate() {
        let mut worst = 0.0f64;
        let mut x = 2.0f32.powi(-40);
        while x < 1e6 {
            for k in 0..64 {
                let v = x * (1.0 + k as f32 / 64.0);
                let exact = f64::from(v).ln();
                let err = (f64::from(ln_f32(v)) - exact).abs() / exact.abs().max(1e-3);
                worst = worst.max(err);
            }
            x *= 2.0;
        }
        assert!(worst < 4e-7, "{worst}");
        assert_eq!(ln_f32(1.0), 0.0);
    }

    #[test]
    fn sincos_turns_is_accurate() {
        for k in 0..=100_000u32 {
            let t = k as f32 / 100_000.0 * 0.999_999_9;
            let (s, c) = sincos_turns(t);
            let a = std::f64::consts::TAU * f64::from(t);
            assert!((f64::from(s) - a.sin()).abs() < 3e-7, "sin {t}");
            assert!((f64::from(c) - a.cos()).abs() < 3e-7, "cos {t}");
        }
    }

    /// The f32 Box–Muller pairs equal the f64 transform of the same uniforms to 2·10⁻⁶
    /// (relative to the radius), and over 10⁶ keyed draws have mean 0, variance 1, kurtosis 3, no correlation within
    /// a pair, normal tail masses beyond 2 and 4, and nothing beyond 6.66.
    #[test]
    fn normal_pair_f32_is_normal() {
        let family = StreamFamily::new(5, "pairs32");
        let n = 500_000;
        let (mut sum, mut sq, mut quad, mut cross) = (0.0, 0.0, 0.0, 0.0);
        let (mut tail2, mut tail4, mut max) = (0usize, 0usize, 0.0f64);
        for i in 0..n {
            let bits = family.first_u64(i);
            let (a, b) = normal_pair_f32(bits);
            // The same (f32-rounded) uniform, transformed in f64.
            let u1 = ((bits >> 32) as u32 as f32 / 4_294_967_296.0).max(1.0 / 4_294_967_296.0);
            let u1 = f64::from(u1);
            let u2 = ((bits as u32) >> 8) as f64 / 16_777_216.0;
            let r = (-2.0 * u1.ln()).sqrt();
            let theta = std::f64::consts::TAU * u2;
            assert!(
                (f64::from(a) - r * theta.cos()).abs() < 2e-6 * r.max(1.0),
                "{i}"
            );
            assert!(
                (f64::from(b) - r * theta.sin()).abs() < 2e-6 * r.max(1.0),
                "{i}"
            );
            for z in [f64::from(a), f64::from(b)] {
                sum += z;
                sq += z * z;
                quad += z * z * z * z;
                tail2 += usize::from(z.abs() > 2.0);
                tail4 += usize::from(z.abs() > 4.0);
                max = max.max(z.abs());
            }
            cross += f64::from(a) * f64::from(b);
        }
        let m = 2.0 * n as f64;
        assert!((sum / m).abs() < 4.0 / m.sqrt());
        assert!((sq / m - 1.0).abs() < 0.01);
        assert!((quad / m - 3.0).abs() < 0.05);
        assert!((cross / n as f64).abs() < 4.0 / (n as f64).sqrt());
        for (count, p) in [(tail2, 0.045_500_26), (tail4, 6.334e-5)] {
            let expected = p * m;
            let sd = (m * p * (1.0 - p)).sqrt();
            assert!(
                (count as f64 - expected).abs() < 4.0 * sd,
                "{count} vs {expected}"
            );
        }
        assert!(max <= 6.67, "{max}");
    }

    /// The distance in ulps between two positive or two negative finite f64.
    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn ln_open01_is_within_one_ulp_of_libm() {
        let mut s = RngStream::new(11, "ln", 0);
        let edges = [
            1.0,
            0.5,
            0.25,
            f64::EPSILON / 2.0,
            2f64.powi(-1022),
            std::f64::consts::FRAC_1_SQRT_2,
        ];
        let mut worst = 0;
        for u in edges
            .into_iter()
            .chain((0..200_000).map(|_| s.next_open_f64()))
        {
            let (own, libm) = (ln_open01(u), u.ln());
            assert!(ulps(own, libm) <= 1, "ln({u:e}): {own:e} vs {libm:e}");
            worst = worst.max(ulps(own, libm));
        }
        assert_eq!(ln_open01(1.0), 0.0);
        // Uniform mantissas over the whole range as well, not only draws near 1.
        for e in -1022..=0 {
            let u = 2f64.powi(e) * (1.0 + s.next_f64());
            let u = if u > 1.0 { u / 2.0 } else { u };
            assert!(ulps(ln_open01(u), u.ln()) <= 1, "ln({u:e})");
        }
        assert!(worst <= 1);
    }

    #[test]
    fn batched_geometric_draws_equal_single_draws() {
        let ln_q = (1.0f64 - 0.02).ln();
        let one = RngStream::new(5, "g", 3);
        let (mut a, mut b) = (one.clone(), one.clone());
        let batch: [u64; GEOMETRIC_BATCH] = a.geometric_skips(ln_q);
        let singles: Vec<u64> = (0..GEOMETRIC_BATCH)
            .map(|_| b.geometric_skip(ln_q))
            .collect();
        assert_eq!(batch.to_vec(), singles);
        // Wide batches, narrow ones and the switch between them, whatever the estimate.
        for expected in [0, 1, 15, 16, 17, 40, 63, 64, 65, 100, 1000] {
            let mut draws = GeometricDraws::new(one.clone(), ln_q, expected);
            let mut c = one.clone();
            for k in 0..150 {
                assert_eq!(
                    draws.draw(),
                    c.geometric_skip(ln_q),
                    "draw {k} of {expected}"
                );
            }
        }
        let mut all = GeometricDraws::new(RngStream::new(1, "g", 0), f64::NEG_INFINITY, 20);
        assert!((0..9).all(|_| all.draw() == 0));
        // Every probability regime, down to skips beyond 2⁵² (the batch's plain-cast path)
        // and saturating ones.
        for p in [0.9f64, 0.5, 0.02, 1e-6, 1e-12, 1e-300] {
            let ln_q = (-p).ln_1p();
            let one = RngStream::new(11, "g", 7);
            let (mut a, mut b) = (one.clone(), one);
            for round in 0..2000 {
                let batch: [u64; GEOMETRIC_WIDE_BATCH] = a.geometric_skips(ln_q);
                for (lane, &k) in batch.iter().enumerate() {
                    assert_eq!(
                        k,
                        b.geometric_skip(ln_q),
                        "p {p}, round {round}, lane {lane}"
                    );
                }
            }
        }
    }

    /// The vectorisable conversions against the casts they replace, at the edges of their
    /// ranges and on random values.
    #[test]
    fn vectorisable_conversions_equal_the_casts() {
        let mut s = RngStream::new(3, "conv", 0);
        let edges = [
            0,
            1,
            (1 << 26) - 1,
            1 << 26,
            (1 << 52) - 1,
            1 << 52,
            (1 << 53) - 1,
        ];
        let random = (0..100_000).map(|_| s.next_u64() >> 11);
        for w in edges.into_iter().chain(random) {
            assert_eq!(u53_to_f64(w).to_bits(), (w as f64).to_bits(), "{w}");
        }
        let edges = [
            0.0,
            -0.0,
            0.5,
            1.0,
            1.999_999,
            1e15 + 0.5,
            TWO_POW_52 - 1.0,
            TWO_POW_52 - 0.5,
        ];
        let random = (0..100_000).map(|_| s.next_f64() * 2f64.powi((s.next_u64() % 53) as i32));
        for k in edges.into_iter().chain(random) {
            assert_eq!(small_skip_count(k), skip_count(k), "{k}");
        }
    }

    #[test]
    fn geometric_skip_mean() {
        // Mean number of failures before a success is (1 − p)/p.
        let p: f64 = 0.02;
        let ln_q = (1.0 - p).ln();
        let mut s = RngStream::new(5, "g", 0);
        let n = 100_000;
        let total: u64 = (0..n).map(|_| s.geometric_skip(ln_q)).sum();
        let mean = total as f64 / n as f64;
        let expected = (1.0 - p) / p;
        let sd = ((1.0 - p) / (p * p) / n as f64).sqrt();
        assert!((mean - expected).abs() < 4.0 * sd, "{mean} vs {expected}");
        assert_eq!(s.geometric_skip(f64::NEG_INFINITY), 0);
    }
}
