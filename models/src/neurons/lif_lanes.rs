//! The fused LIF pass for one shared set of coefficients, written with AVX2 intrinsics
//! (AVX-512 where the target has it: `wide`).
//!
//! Why: the portable loop in [`super::lif`] vectorises, but it can only hand its spikes on
//! as one 32-bit lane mask per neuron (a 32-byte store per 8 neurons, then a scan of 4 KiB
//! per block of 1 024) and OR the masks into a vector register across the loop. Here each
//! comparison's 8 lanes become 8 bits (`vmovmskps`, an integer result) stored as one byte:
//! the store and the OR move to the integer side, which the loop otherwise leaves idle,
//! and spike collection scans 128 bytes per block. (Packing four masks into one `u32`
//! before storing was slower: the compiler turned it into vector packing instructions.)
//! CUBA 4 000 × 10 s on 1 thread, 21 interleaved pairs: 1.035× (median ratio).
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

#[cfg(not(target_feature = "avx512f"))]
use std::arch::x86_64::{
    __m256, _CMP_GE_OQ, _CMP_LT_OQ, _mm256_add_ps, _mm256_and_ps, _mm256_blendv_ps, _mm256_cmp_ps,
    _mm256_loadu_ps, _mm256_movemask_ps, _mm256_mul_ps, _mm256_set1_ps, _mm256_setzero_ps,
    _mm256_storeu_ps, _mm256_sub_ps,
};

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

/// Coefficients broadcast to the 8 lanes.
#[cfg(not(target_feature = "avx512f"))]
struct Lanes {
    rest: __m256,
    reset: __m256,
    thresh: __m256,
    refrac_t: __m256,
    decay: __m256,
    resistance: __m256,
    dt: __m256,
    /// `Δt·10⁻⁴`: a remaining refractory time below it has elapsed.
    elapsed_below: __m256,
    /// Each current's carried decay factor (see [`lif_words`]).
    carry: [__m256; 4],
}

/// Runs the first `32·⌊n/32⌋` of the `n = voltage.len()` neurons: sets bit `b` of
/// `words[w]` if neuron `32·w + b` spiked, and returns how many neurons it ran and whether
/// any spiked. The caller runs the rest with the portable kernel.
///
/// With `carry = Some(d)`, each current `k` is also decayed in place right after it is
/// read, `Iₖ ← Iₖ·dₖ` (the next step's decay, carried into this sweep while the value is
/// in a register: `ember_models::neurons::lif`, "carried decay").
///
/// # Safety
/// Each of `currents` points to at least `n` readable elements (and, with `carry`,
/// writable ones that nothing else reads or writes during the call).
///
/// # Panics
/// If `refrac` or an input is shorter than `voltage`, `words` shorter than `n/32`, or
/// there are more than 4 currents.
#[expect(
    clippy::too_many_arguments,
    reason = "the pass's coefficients, input, currents with their carry, state and output"
)]
pub(crate) unsafe fn lif_words<const LOCK: bool>(
    k: &LifCoefficients,
    dt: f32,
    input: Input<'_>,
    currents: &[*const f32],
    carry: Option<[f32; 4]>,
    voltage: &mut [f32],
    refrac: &mut [f32],
    words: &mut [u32],
) -> (usize, bool) {
    let n = voltage.len();
    let n32 = n / 32 * 32;
    assert!(refrac.len() >= n && words.len() >= n32 / 32);
    assert!(currents.len() <= 4);
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
    let mut cur = [std::ptr::null::<f32>(); 4];
    cur[..currents.len()].copy_from_slice(currents);
    let decays = carry.unwrap_or([1.0; 4]);
    // SAFETY: this module is compiled only where AVX2 (and so AVX) is enabled.
    #[cfg(not(target_feature = "avx512f"))]
    let c = unsafe {
        Lanes {
            rest: _mm256_set1_ps(k.rest_v),
            reset: _mm256_set1_ps(k.reset_v),
            thresh: _mm256_set1_ps(k.thresh_v),
            refrac_t: _mm256_set1_ps(k.refrac_t),
            decay: _mm256_set1_ps(k.decay),
            resistance: _mm256_set1_ps(k.resistance),
            dt: _mm256_set1_ps(dt),
            elapsed_below: _mm256_set1_ps(dt * 1e-4),
            carry: decays.map(|d| _mm256_set1_ps(d)),
        }
    };
    let (v, r, w) = (
        voltage.as_mut_ptr(),
        refrac.as_mut_ptr(),
        words.as_mut_ptr(),
    );
    let unit = k.resistance == 1.0;
    #[cfg(target_feature = "avx512f")]
    let c = wide::Lanes16::new(k, dt, decays);
    macro_rules! run {
        ($n:literal, $mode:literal) => {
            // SAFETY: every array holds at least `n32` elements (asserted above, and the
            // currents by the caller's contract) and `words` at least `n32/32`; only
            // `input` in `Keep` mode and, with `carry`, the currents (writable by the
            // caller's contract) are written; `Read` mode never writes through its pointer.
            unsafe {
                match (unit, carry.is_some()) {
                    (true, false) => {
                        words_loop::<LOCK, $n, $mode, true, false>(&c, input, &cur, v, r, w, n32)
                    }
                    (false, false) => {
                        words_loop::<LOCK, $n, $mode, false, false>(&c, input, &cur, v, r, w, n32)
                    }
                    (true, true) => {
                        words_loop::<LOCK, $n, $mode, true, true>(&c, input, &cur, v, r, w, n32)
                    }
                    (false, true) => {
                        words_loop::<LOCK, $n, $mode, false, true>(&c, input, &cur, v, r, w, n32)
                    }
                }
            }
        };
    }
    macro_rules! by_count {
        ($mode:literal) => {
            match currents.len() {
                0 => run!(0, $mode),
                1 => run!(1, $mode),
                2 => run!(2, $mode),
                3 => run!(3, $mode),
                _ => run!(4, $mode),
            }
        };
    }
    let any = match mode {
        0 => by_count!(0),
        1 => by_count!(1),
        _ => by_count!(2),
    };
    (n32, any)
}

#[cfg(not(target_feature = "avx512f"))]
/// The loop of [`lif_words`] for `N` currents, input mode `MODE` (0 zero, 1 read, 2 keep),
/// `UNIT` (`R = 1`, the multiply folded) and `CARRY` (the currents decayed in place).
///
/// # Safety
/// `v`, `r`, each of `cur[..N]` and (modes 1, 2) `input` point to at least `n32` elements,
/// `words` to at least `n32/32`; `n32` is a multiple of 32; with `CARRY`, `cur[..N]` are
/// writable.
#[inline(always)]
unsafe fn words_loop<
    const LOCK: bool,
    const N: usize,
    const MODE: u8,
    const UNIT: bool,
    const CARRY: bool,
>(
    c: &Lanes,
    input: *mut f32,
    cur: &[*const f32; 4],
    v: *mut f32,
    r: *mut f32,
    words: *mut u32,
    n32: usize,
) -> bool {
    // Byte `k` of the words (little-endian) holds neurons `8k..8k + 8`: one byte store
    // per 8 neurons (x86-64 is little-endian, so word `w` gets neurons `32w..32w + 32`).
    let bytes = words.cast::<u8>();
    let mut any = 0u32;
    for i in (0..n32).step_by(8) {
        // SAFETY: `i + 8 ≤ n32` (the caller's contract), and byte `i/8` lies in word
        // `i/32 < n32/32`.
        unsafe {
            let bits = lane8::<LOCK, N, MODE, UNIT, CARRY>(c, input, cur, v, r, i);
            bytes.add(i / 8).write(bits as u8);
            any |= bits;
        }
    }
    any != 0
}

/// Neurons `i..i + 8`: the portable `lif_neuron` with the constant reset, on 8 lanes;
/// returns the spike bits (bit `l` for neuron `i + l`).
///
/// # Safety
/// As [`words_loop`], with `i + 8 ≤ n32`.
#[cfg(not(target_feature = "avx512f"))]
#[inline(always)]
unsafe fn lane8<
    const LOCK: bool,
    const N: usize,
    const MODE: u8,
    const UNIT: bool,
    const CARRY: bool,
>(
    c: &Lanes,
    input: *mut f32,
    cur: &[*const f32; 4],
    v: *mut f32,
    r: *mut f32,
    i: usize,
) -> u32 {
    // SAFETY: every pointer is valid for `i..i + 8` (the caller's contract); AVX2 is
    // enabled wherever this module is compiled.
    unsafe {
        let zero = _mm256_setzero_ps();
        // The total input: `(…((base + c₀) + c₁) + …)`, or `(…(c₀ + c₁) + …)` from a
        // zero input (as `InputTotal::sum`).
        let mut loaded = [zero; 4];
        for (l, p) in loaded.iter_mut().zip(&cur[..N]) {
            *l = _mm256_loadu_ps(p.add(i));
        }
        let (mut x, rest) = match (MODE, N) {
            (0, 0) => (zero, &loaded[..0]),
            (0, _) => (loaded[0], &loaded[1..N]),
            _ => (_mm256_loadu_ps(input.add(i)), &loaded[..N]),
        };
        for &l in rest {
            x = _mm256_add_ps(x, l);
        }
        if CARRY {
            for ((p, &l), &d) in cur[..N].iter().zip(&loaded).zip(&c.carry) {
                _mm256_storeu_ps(p.cast_mut().add(i), _mm256_mul_ps(l, d));
            }
        }
        if MODE == 2 {
            _mm256_storeu_ps(input.add(i), x);
        }
        let v_old = _mm256_loadu_ps(v.add(i));
        // `settle_refractory_elapsed(r − Δt, Δt)`.
        let r_minus_dt = _mm256_sub_ps(_mm256_loadu_ps(r.add(i)), c.dt);
        let active = _mm256_cmp_ps::<_CMP_LT_OQ>(r_minus_dt, c.elapsed_below);
        let rem = _mm256_blendv_ps(r_minus_dt, zero, active);
        // `(V_rest + ri) + ((V − V_rest) − ri)·decay`.
        let integrate = |ri: __m256| {
            let above = _mm256_sub_ps(_mm256_sub_ps(v_old, c.rest), ri);
            _mm256_add_ps(_mm256_add_ps(c.rest, ri), _mm256_mul_ps(above, c.decay))
        };
        let ri = if UNIT {
            x
        } else {
            _mm256_mul_ps(c.resistance, x)
        };
        let integrated = integrate(ri);
        let held = if LOCK { v_old } else { integrate(zero) };
        let v_new = _mm256_blendv_ps(held, integrated, active);
        let spike = _mm256_and_ps(active, _mm256_cmp_ps::<_CMP_GE_OQ>(v_new, c.thresh));
        _mm256_storeu_ps(v.add(i), _mm256_blendv_ps(v_new, c.reset, spike));
        _mm256_storeu_ps(r.add(i), _mm256_blendv_ps(rem, c.refrac_t, spike));
        _mm256_movemask_ps(spike) as u32
    }
}

/// The AVX-512 form of the loop: 16 neurons per iteration, the same operations per lane.
/// Spike bits come straight from the comparison's mask register (two bytes per 16
/// neurons).
#[cfg(target_feature = "avx512f")]
mod wide {
    use std::arch::x86_64::{
        __m512, __mmask16, _CMP_GE_OQ, _CMP_LT_OQ, _mm512_add_ps, _mm512_cmp_ps_mask,
        _mm512_loadu_ps, _mm512_mask_blend_ps, _mm512_mask_cmp_ps_mask, _mm512_mul_ps,
        _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps, _mm512_sub_ps,
    };

    use super::LifCoefficients;

    /// Coefficients broadcast to the 16 lanes (as the 8-lane `Lanes`).
    pub(super) struct Lanes16 {
        rest: __m512,
        reset: __m512,
        thresh: __m512,
        refrac_t: __m512,
        decay: __m512,
        resistance: __m512,
        dt: __m512,
        elapsed_below: __m512,
        carry: [__m512; 4],
    }

    impl Lanes16 {
        pub(super) fn new(k: &LifCoefficients, dt: f32, decays: [f32; 4]) -> Self {
            // SAFETY: this module is compiled only where AVX-512F is enabled.
            unsafe {
                Lanes16 {
                    rest: _mm512_set1_ps(k.rest_v),
                    reset: _mm512_set1_ps(k.reset_v),
                    thresh: _mm512_set1_ps(k.thresh_v),
                    refrac_t: _mm512_set1_ps(k.refrac_t),
                    decay: _mm512_set1_ps(k.decay),
                    resistance: _mm512_set1_ps(k.resistance),
                    dt: _mm512_set1_ps(dt),
                    elapsed_below: _mm512_set1_ps(dt * 1e-4),
                    carry: decays.map(|d| _mm512_set1_ps(d)),
                }
            }
        }
    }

    /// [`super::lif_words`]'s loop on 16 lanes; the contract of the 8-lane one.
    ///
    /// # Safety
    /// As the 8-lane `words_loop`.
    #[inline(always)]
    pub(super) unsafe fn words_loop<
        const LOCK: bool,
        const N: usize,
        const MODE: u8,
        const UNIT: bool,
        const CARRY: bool,
    >(
        c: &Lanes16,
        input: *mut f32,
        cur: &[*const f32; 4],
        v: *mut f32,
        r: *mut f32,
        words: *mut u32,
        n32: usize,
    ) -> bool {
        // Bytes `2k, 2k + 1` of the words hold neurons `16k..16k + 16` (little-endian).
        let halves = words.cast::<u16>();
        let mut any: __mmask16 = 0;
        for i in (0..n32).step_by(16) {
            // SAFETY: `i + 16 ≤ n32`, and half-word `i/16` lies in word `i/32 < n32/32`.
            unsafe {
                let bits = lane16::<LOCK, N, MODE, UNIT, CARRY>(c, input, cur, v, r, i);
                halves.add(i / 16).write(bits);
                any |= bits;
            }
        }
        any != 0
    }

    /// Neurons `i..i + 16`: `lane8`'s operations on 16 lanes; returns the spike bits.
    ///
    /// # Safety
    /// As [`words_loop`], with `i + 16 ≤ n32`.
    #[inline(always)]
    unsafe fn lane16<
        const LOCK: bool,
        const N: usize,
        const MODE: u8,
        const UNIT: bool,
        const CARRY: bool,
    >(
        c: &Lanes16,
        input: *mut f32,
        cur: &[*const f32; 4],
        v: *mut f32,
        r: *mut f32,
        i: usize,
    ) -> __mmask16 {
        // SAFETY: every pointer is valid for `i..i + 16` (the caller's contract);
        // AVX-512F is enabled wherever this module is compiled.
        unsafe {
            let zero = _mm512_setzero_ps();
            let mut loaded = [zero; 4];
            for (l, p) in loaded.iter_mut().zip(&cur[..N]) {
                *l = _mm512_loadu_ps(p.add(i));
            }
            let (mut x, rest) = match (MODE, N) {
                (0, 0) => (zero, &loaded[..0]),
                (0, _) => (loaded[0], &loaded[1..N]),
                _ => (_mm512_loadu_ps(input.add(i)), &loaded[..N]),
            };
            for &l in rest {
                x = _mm512_add_ps(x, l);
            }
            if CARRY {
                for ((p, &l), &d) in cur[..N].iter().zip(&loaded).zip(&c.carry) {
                    _mm512_storeu_ps(p.cast_mut().add(i), _mm512_mul_ps(l, d));
                }
            }
            if MODE == 2 {
                _mm512_storeu_ps(input.add(i), x);
            }
            let v_old = _mm512_loadu_ps(v.add(i));
            let r_minus_dt = _mm512_sub_ps(_mm512_loadu_ps(r.add(i)), c.dt);
            let active = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(r_minus_dt, c.elapsed_below);
            let rem = _mm512_mask_blend_ps(active, r_minus_dt, zero);
            let integrate = |ri: __m512| {
                let above = _mm512_sub_ps(_mm512_sub_ps(v_old, c.rest), ri);
                _mm512_add_ps(_mm512_add_ps(c.rest, ri), _mm512_mul_ps(above, c.decay))
            };
            let ri = if UNIT {
                x
            } else {
                _mm512_mul_ps(c.resistance, x)
            };
            let integrated = integrate(ri);
            let held = if LOCK { v_old } else { integrate(zero) };
            let v_new = _mm512_mask_blend_ps(active, held, integrated);
            let spike = _mm512_mask_cmp_ps_mask::<_CMP_GE_OQ>(active, v_new, c.thresh);
            _mm512_storeu_ps(v.add(i), _mm512_mask_blend_ps(spike, v_new, c.reset));
            _mm512_storeu_ps(r.add(i), _mm512_mask_blend_ps(spike, rem, c.refrac_t));
            spike
        }
    }
}

#[cfg(target_feature = "avx512f")]
use wide::words_loop;
