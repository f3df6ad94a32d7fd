//! The fused LIF pass for one shared set of coefficients, written with AVX2 intrinsics
//! (AVX-512 where the target has it).
//!
//! Why: the portable loop in [`super::lif`] vectorises, but it can only hand its spikes on
//! as one 32-bit lane mask per neuron (a 32-byte store per 8 neurons, then a scan of 4 KiB
//! per block of 1 024) and OR the masks into a vector register across the loop. Here each
//! comparison's lanes become bits in an integer register (`vmovmskps`, or the mask register
//! of AVX-512), the integer side the loop otherwise leaves idle, and the rare vector with a
//! spike appends its neurons to the spike list at once: a branch that is nearly always
//! predicted not taken. (Before, the bits were stored, one byte per 8 neurons, and scanned
//! after the pass: the store per vector and the scan cost CUBA 4 000 × 10 s on 1 thread
//! 1.6–2.3 % more, 8 and 12 interleaved pairs. Storing the bits was itself 1.035× faster
//! than the lane masks, 21 pairs; packing four masks into one `u32` before storing was
//! slower, as the compiler turned it into vector packing instructions.)
//!
//! On a target with AVX-512F (`target-cpu=native` on the project's Zen 5 machines) the
//! loop takes 16 neurons per iteration instead: the comparisons give their 16 bits
//! directly in a mask register and the blends take it, so the spike bits need no
//! `movemask`. Zen 5 runs 512-bit operations at full width: CUBA 4 000 × 10 s on 1 thread,
//! 8 interleaved pairs against the 8-lane loop: 1.10–1.30×, median 1.25×.
//!
//! The arithmetic is the portable kernel's, operation for operation and in the same order
//! (`lif_neuron`: `(V_rest + R·I) + ((V − V_rest) − R·I)·e^{−Δt/τ}`, the refractory
//! countdown of `settle_refractory_elapsed`, ordered comparisons that are false on NaN), so
//! voltages, refractory times, input totals and spikes are bit-identical to it; the tests
//! of `lif` compare the two on every input mode, current count and `refrac_lock`.

use super::lif::LifCoefficients;

/// Where the pass gets each neuron's input before the currents are added, and whether it
/// stores the total (the lane form of the `InputTotal` modes of `lif`).
pub(crate) enum Input<'a> {
    /// Nothing wrote the input: the total starts from the first current (from 0 without).
    Zero,
    /// The input is read, the total not stored.
    Read(&'a [f32]),
    /// The input is read and the total stored in its place.
    Keep(&'a mut [f32]),
}

/// One vector register of `f32` lanes and the operations the pass needs on it: 8 lanes
/// with AVX2 ([`avx2::F32x8`]), 16 with AVX-512F ([`avx512::F32x16`]), whose comparisons
/// give a mask register instead of a vector. The pass is written once over this trait.
///
/// # Safety
/// Implementations call intrinsics of their target feature; they are compiled only where
/// the feature is enabled. Loads and stores need `LANES` valid elements at the pointer.
trait Vector: Copy {
    /// Lanes per register (8 or 16).
    const LANES: usize;
    /// The result of a comparison, one bit or lane per lane.
    type Mask: Copy;
    fn splat(x: f32) -> Self;
    fn zero() -> Self;
    /// # Safety
    /// `p` points to `LANES` readable elements.
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `p` points to `LANES` writable elements.
    unsafe fn store(self, p: *mut f32);
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    /// `self < o`, ordered (false on NaN).
    fn lt(self, o: Self) -> Self::Mask;
    /// `m ∧ self ≥ o`, ordered.
    fn ge_and(self, o: Self, m: Self::Mask) -> Self::Mask;
    /// `b` in the lanes of `m`, `a` elsewhere.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    /// Bit `l` set for lane `l` of `m`.
    fn bits(m: Self::Mask) -> u32;
}

/// The 8-lane vector of AVX2.
#[cfg(not(target_feature = "avx512f"))]
mod avx2 {
    use std::arch::x86_64::{
        __m256, _CMP_GE_OQ, _CMP_LT_OQ, _mm256_add_ps, _mm256_and_ps, _mm256_blendv_ps,
        _mm256_cmp_ps, _mm256_loadu_ps, _mm256_movemask_ps, _mm256_mul_ps, _mm256_set1_ps,
        _mm256_setzero_ps, _mm256_storeu_ps, _mm256_sub_ps,
    };

    /// Eight `f32` lanes; masks are vectors of all-ones or zero lanes.
    #[derive(Clone, Copy)]
    pub(super) struct F32x8(__m256);

    // SAFETY (every method): this module is compiled only where AVX2 (and so AVX) is
    // enabled; loads and stores have the caller's `LANES` elements.
    impl super::Vector for F32x8 {
        const LANES: usize = 8;
        type Mask = __m256;
        #[inline(always)]
        fn splat(x: f32) -> Self {
            F32x8(unsafe { _mm256_set1_ps(x) })
        }
        #[inline(always)]
        fn zero() -> Self {
            F32x8(unsafe { _mm256_setzero_ps() })
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            F32x8(unsafe { _mm256_loadu_ps(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            unsafe { _mm256_storeu_ps(p, self.0) }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            F32x8(unsafe { _mm256_add_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            F32x8(unsafe { _mm256_sub_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            F32x8(unsafe { _mm256_mul_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn lt(self, o: Self) -> __m256 {
            unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn ge_and(self, o: Self, m: __m256) -> __m256 {
            unsafe { _mm256_and_ps(m, _mm256_cmp_ps::<_CMP_GE_OQ>(self.0, o.0)) }
        }
        #[inline(always)]
        fn select(m: __m256, a: Self, b: Self) -> Self {
            F32x8(unsafe { _mm256_blendv_ps(a.0, b.0, m) })
        }
        #[inline(always)]
        fn bits(m: __m256) -> u32 {
            unsafe { _mm256_movemask_ps(m) as u32 }
        }
    }
}

/// The 16-lane vector of AVX-512F.
#[cfg(target_feature = "avx512f")]
mod avx512 {
    use std::arch::x86_64::{
        __m512, __mmask16, _CMP_GE_OQ, _CMP_LT_OQ, _mm512_add_ps, _mm512_cmp_ps_mask,
        _mm512_loadu_ps, _mm512_mask_blend_ps, _mm512_mask_cmp_ps_mask, _mm512_mul_ps,
        _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps,
    };

    /// Sixteen `f32` lanes; masks are mask registers (one bit per lane).
    #[derive(Clone, Copy)]
    pub(super) struct F32x16(__m512);

    // SAFETY (every method): this module is compiled only where AVX-512F is enabled;
    // loads and stores have the caller's `LANES` elements.
    impl super::Vector for F32x16 {
        const LANES: usize = 16;
        type Mask = __mmask16;
        #[inline(always)]
        fn splat(x: f32) -> Self {
            F32x16(unsafe { _mm512_set1_ps(x) })
        }
        #[inline(always)]
        fn zero() -> Self {
            F32x16(unsafe { _mm512_setzero_ps() })
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            F32x16(unsafe { _mm512_loadu_ps(p) })
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            unsafe { _mm512_storeu_ps(p, self.0) }
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            F32x16(unsafe { _mm512_add_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            F32x16(unsafe { _mm512_sub_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            F32x16(unsafe { _mm512_mul_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn lt(self, o: Self) -> __mmask16 {
            unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(self.0, o.0) }
        }
        #[inline(always)]
        fn ge_and(self, o: Self, m: __mmask16) -> __mmask16 {
            unsafe { _mm512_mask_cmp_ps_mask::<_CMP_GE_OQ>(m, self.0, o.0) }
        }
        #[inline(always)]
        fn select(m: __mmask16, a: Self, b: Self) -> Self {
            F32x16(unsafe { _mm512_mask_blend_ps(m, a.0, b.0) })
        }
        #[inline(always)]
        fn bits(m: __mmask16) -> u32 {
            u32::from(m)
        }
    }
}

/// The widest vector of the target.
#[cfg(not(target_feature = "avx512f"))]
type Wide = avx2::F32x8;
/// The widest vector of the target.
#[cfg(target_feature = "avx512f")]
type Wide = avx512::F32x16;

/// Coefficients broadcast to every lane.
struct Lanes<V> {
    rest: V,
    reset: V,
    thresh: V,
    refrac_t: V,
    decay: V,
    resistance: V,
    dt: V,
    /// `Δt·10⁻⁴`: a remaining refractory time below it has elapsed.
    elapsed_below: V,
    /// Each current's carried decay factor (see [`lif_pass`]).
    carry: [V; 4],
}

/// Runs the first `32·⌊n/32⌋` of the `n = voltage.len()` neurons: appends `offset + i` to
/// `spikes` for each neuron `i` that spiked, in order, and returns how many neurons it
/// ran. The caller runs the rest with the portable kernel.
///
/// With `carry = Some(d)`, each current `k` is also decayed in place right after it is
/// read, `Iₖ ← Iₖ·dₖ` (the next step's decay, carried into this sweep while the value is
/// in a register: `ember_models::neurons::lif`, "carried decay").
///
/// # Safety
/// Each of the first `count` of `currents` points to at least `n` readable elements (and,
/// with `carry`, writable ones that nothing else reads or writes during the call).
///
/// # Panics
/// If `refrac` or an input is shorter than `voltage`, or there are more than 4 currents.
#[expect(
    clippy::too_many_arguments,
    reason = "the pass's coefficients, input, currents with their carry, state and output"
)]
pub(crate) unsafe fn lif_pass<const LOCK: bool>(
    k: &LifCoefficients,
    dt: f32,
    input: Input<'_>,
    (currents, count): ([*const f32; 4], usize),
    carry: Option<[f32; 4]>,
    voltage: &mut [f32],
    refrac: &mut [f32],
    (spikes, offset): (&mut Vec<u32>, u32),
) -> usize {
    let n = voltage.len();
    let n32 = n / 32 * 32;
    assert!(refrac.len() >= n);
    // Room for every neuron to spike (allocates only while the list's capacity grows to
    // its population's size).
    spikes.reserve(n32);
    assert!(count <= 4);
    let (input, mode): (*mut f32, u8) = match input {
        Input::Zero => (std::ptr::null_mut(), 0),
        Input::Read(x) => {
            assert!(x.len() >= n);
            (x.as_ptr().cast_mut(), 1)
        }
        Input::Keep(x) => {
            assert!(x.len() >= n);
            (x.as_mut_ptr(), 2)
        }
    };
    // `currents` is used whole, by value (slots from `count` on are never read): copying
    // only the first `count` compiled to a masked store, which the loop's first reads
    // waited for.
    let decays = carry.unwrap_or([1.0; 4]);
    let c = Lanes::<Wide> {
        rest: Wide::splat(k.rest_v),
        reset: Wide::splat(k.reset_v),
        thresh: Wide::splat(k.thresh_v),
        refrac_t: Wide::splat(k.refrac_t),
        decay: Wide::splat(k.decay),
        resistance: Wide::splat(k.resistance),
        dt: Wide::splat(dt),
        elapsed_below: Wide::splat(dt * 1e-4),
        carry: decays.map(Wide::splat),
    };
    let (v, r) = (voltage.as_mut_ptr(), refrac.as_mut_ptr());
    // SAFETY: `len ≤ capacity`; the room after it is what was reserved above.
    let w = (unsafe { spikes.as_mut_ptr().add(spikes.len()) }, offset);
    let unit = k.resistance == 1.0;
    macro_rules! run {
        ($n:literal, $mode:literal) => {
            // SAFETY: every array holds at least `n32` elements (asserted above, and the
            // currents by the caller's contract) and `spikes` room for `n32` more; only
            // `input` in `Keep` mode and, with `carry`, the currents (writable by the
            // caller's contract) are written; `Read` mode never writes through its pointer.
            unsafe {
                match (unit, carry.is_some()) {
                    (true, false) => pass_loop::<Wide, LOCK, $n, $mode, true, false>(
                        &c, input, &currents, v, r, w, n32,
                    ),
                    (false, false) => pass_loop::<Wide, LOCK, $n, $mode, false, false>(
                        &c, input, &currents, v, r, w, n32,
                    ),
                    (true, true) => pass_loop::<Wide, LOCK, $n, $mode, true, true>(
                        &c, input, &currents, v, r, w, n32,
                    ),
                    (false, true) => pass_loop::<Wide, LOCK, $n, $mode, false, true>(
                        &c, input, &currents, v, r, w, n32,
                    ),
                }
            }
        };
    }
    macro_rules! by_count {
        ($mode:literal) => {
            match count {
                0 => run!(0, $mode),
                1 => run!(1, $mode),
                2 => run!(2, $mode),
                3 => run!(3, $mode),
                _ => run!(4, $mode),
            }
        };
    }
    let spiked = match mode {
        0 => by_count!(0),
        1 => by_count!(1),
        _ => by_count!(2),
    };
    // SAFETY: the loop wrote `spiked ≤ n32` values after the old length, within the room
    // reserved.
    unsafe { spikes.set_len(spikes.len() + spiked) };
    n32
}

/// The loop of [`lif_pass`] for `N` currents, input mode `MODE` (0 zero, 1 read, 2 keep),
/// `UNIT` (`R = 1`, the multiply folded) and `CARRY` (the currents decayed in place), on
/// vectors `V`; writes `offset + i` for each spiking neuron `i` at `out`, in order, and
/// returns how many.
///
/// # Safety
/// `v`, `r`, each of `cur[..N]` and (modes 1, 2) `input` point to at least `n32` elements,
/// `out` to room for `n32`; `n32` is a multiple of 32; with `CARRY`, `cur[..N]` are
/// writable.
#[inline(always)]
unsafe fn pass_loop<
    V: Vector,
    const LOCK: bool,
    const N: usize,
    const MODE: u8,
    const UNIT: bool,
    const CARRY: bool,
>(
    c: &Lanes<V>,
    input: *mut f32,
    cur: &[*const f32; 4],
    v: *mut f32,
    r: *mut f32,
    (out, offset): (*mut u32, u32),
    n32: usize,
) -> usize {
    let mut count = 0;
    for i in (0..n32).step_by(V::LANES) {
        // SAFETY: `i + LANES ≤ n32` (the caller's contract); at most `i + LANES ≤ n32`
        // spikes are written.
        unsafe {
            let bits = lanes::<V, LOCK, N, MODE, UNIT, CARRY>(c, input, cur, v, r, i);
            // Rare (a few spikes a step in thousands of neurons): a branch that is nearly
            // always predicted, where a store of the bits and a later scan for them cost
            // a store per vector and a pass over the words.
            if bits != 0 {
                let base = offset + i as u32;
                let mut left = bits;
                while left != 0 {
                    out.add(count).write(base + left.trailing_zeros());
                    count += 1;
                    left &= left - 1;
                }
            }
        }
    }
    count
}

/// Neurons `i..i + LANES`: the portable `lif_neuron` with the constant reset, one neuron
/// per lane; returns the spike bits (bit `l` for neuron `i + l`).
///
/// # Safety
/// As [`pass_loop`], with `i + LANES ≤ n32`.
#[inline(always)]
unsafe fn lanes<
    V: Vector,
    const LOCK: bool,
    const N: usize,
    const MODE: u8,
    const UNIT: bool,
    const CARRY: bool,
>(
    c: &Lanes<V>,
    input: *mut f32,
    cur: &[*const f32; 4],
    v: *mut f32,
    r: *mut f32,
    i: usize,
) -> u32 {
    // SAFETY: every pointer is valid for `i..i + LANES` (the caller's contract).
    unsafe {
        let zero = V::zero();
        // The total input: `(…((base + c₀) + c₁) + …)`, or `(…(c₀ + c₁) + …)` from a
        // zero input (as `InputTotal::sum`).
        let mut loaded = [zero; 4];
        for (l, p) in loaded.iter_mut().zip(&cur[..N]) {
            *l = V::load(p.add(i));
        }
        let (mut x, rest) = match (MODE, N) {
            (0, 0) => (zero, &loaded[..0]),
            (0, _) => (loaded[0], &loaded[1..N]),
            _ => (V::load(input.add(i)), &loaded[..N]),
        };
        for &l in rest {
            x = x.add(l);
        }
        if CARRY {
            for ((p, &l), &d) in cur[..N].iter().zip(&loaded).zip(&c.carry) {
                l.mul(d).store(p.cast_mut().add(i));
            }
        }
        if MODE == 2 {
            x.store(input.add(i));
        }
        let v_old = V::load(v.add(i));
        // `settle_refractory_elapsed(r − Δt, Δt)`.
        let r_minus_dt = V::load(r.add(i)).sub(c.dt);
        let active = r_minus_dt.lt(c.elapsed_below);
        let rem = V::select(active, r_minus_dt, zero);
        // `(V_rest + ri) + ((V − V_rest) − ri)·decay`.
        let integrate = |ri: V| {
            let above = v_old.sub(c.rest).sub(ri);
            c.rest.add(ri).add(above.mul(c.decay))
        };
        let ri = if UNIT { x } else { c.resistance.mul(x) };
        let integrated = integrate(ri);
        let held = if LOCK { v_old } else { integrate(zero) };
        let v_new = V::select(active, held, integrated);
        let spike = v_new.ge_and(c.thresh, active);
        V::select(spike, v_new, c.reset).store(v.add(i));
        V::select(spike, rem, c.refrac_t).store(r.add(i));
        V::bits(spike)
    }
}
