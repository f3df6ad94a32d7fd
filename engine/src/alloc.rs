//! [`CacheLineAlloc`]: a global allocator that starts every block of at least
//! [`CACHE_LINE`] bytes on a cache line.
//!
//! Why: the step loop streams the state arrays (voltages, refractory times, synaptic
//! currents, a `Vec<f32>` each) with 32-byte AVX2 loads and stores. A `Vec<f32>` asks for
//! 4-byte alignment and glibc's `malloc` gives 16: small blocks start anywhere on a 16-byte
//! boundary and large ones (served by `mmap`) 16 bytes past a page boundary. Then every
//! other 32-byte access of a kernel straddles two cache lines and costs the load or store
//! pipes twice. The neuron and decay passes are bound by exactly those pipes, so the split
//! accesses show up in the step time: with this allocator the `ember` binary runs CUBA
//! (4 000 and 64 000 neurons, 1 thread) about 1.12× faster, with byte-identical spikes
//! (benches/README, "Sixth pass").
//!
//! A library cannot choose the allocator of the program it is linked into, and a `Vec`'s
//! alignment is part of its type, so a program opts in with one line (the `ember` binary,
//! the benches and the examples do):
//!
//! ```
//! #[global_allocator]
//! static ALLOC: ember_engine::alloc::CacheLineAlloc = ember_engine::alloc::CacheLineAlloc;
//!
//! fn main() {
//!     let v = vec![0.0f32; 3200];
//!     assert_eq!(v.as_ptr() as usize % ember_engine::alloc::CACHE_LINE, 0);
//! }
//! ```
//!
//! How: a block of `size ≥ 64` bytes (and alignment ≤ 64) is taken from the system
//! allocator 64 bytes larger, with the system's own alignment; the block handed out starts
//! at the first line boundary at least 8 bytes in, and the 8 bytes before it record how far
//! in that is. Everything else passes through unchanged. Built on the system's `malloc`,
//! `calloc` and `realloc` rather than its aligned allocation, so zeroed blocks still come
//! from `calloc` (fresh pages are not written twice) and a growing `Vec` is still moved by
//! `realloc` (`mremap` for large blocks) instead of being copied.

use std::alloc::{GlobalAlloc, Layout, System};

/// The alignment [`CacheLineAlloc`] gives blocks of at least this many bytes, bytes (one
/// cache line on x86-64 and most AArch64 cores).
pub const CACHE_LINE: usize = 64;

/// The alignment asked of the system for the padded blocks: a machine word, where the
/// offset to the line boundary is recorded.
const HEADER: usize = std::mem::size_of::<usize>();

/// A [`GlobalAlloc`] over [`System`] that aligns every block of at least [`CACHE_LINE`]
/// bytes to [`CACHE_LINE`] (see the [module docs](self)); cost: 64 bytes per such block.
#[derive(Clone, Copy, Debug, Default)]
pub struct CacheLineAlloc;

/// Whether blocks of `layout` are padded (and start on a line).
#[inline]
fn padded(layout: Layout) -> bool {
    layout.size() >= CACHE_LINE && layout.align() <= CACHE_LINE
}

/// The system layout of the padded block holding `size` bytes.
#[inline]
fn outer(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(CACHE_LINE)?, HEADER).ok()
}

/// The offset from a system block at `base` (word-aligned) to the first line boundary at
/// least [`HEADER`] bytes in: in `HEADER..=CACHE_LINE`, so the user's block fits in the
/// [`CACHE_LINE`] extra bytes.
#[inline]
fn offset_of(base: *mut u8) -> usize {
    let addr = base as usize;
    ((addr + HEADER).next_multiple_of(CACHE_LINE)) - addr
}

/// Records `offset` in the word before `base + offset` and returns that address.
///
/// # Safety
/// `base` is a word-aligned block of at least `offset` bytes, `offset` from [`offset_of`].
#[inline]
unsafe fn place(base: *mut u8, offset: usize) -> *mut u8 {
    // SAFETY: `offset ≥ HEADER`, so the word before `base + offset` is in the block, and
    // it is word-aligned (the line boundary is).
    unsafe {
        let user = base.add(offset);
        user.cast::<usize>().sub(1).write(offset);
        user
    }
}

/// The offset recorded before the padded block at `ptr`.
///
/// # Safety
/// `ptr` was returned by [`place`] and is still allocated.
#[inline]
unsafe fn recorded(ptr: *mut u8) -> usize {
    // SAFETY: `place` wrote this word, which the user's block does not cover.
    unsafe { ptr.cast::<usize>().sub(1).read() }
}

/// A block of `layout` from `system` (`System`'s `alloc` or `alloc_zeroed`): padded and
/// placed on a line when [`padded`], else as asked.
///
/// # Safety
/// `layout` has a non-zero size; `system` returns null or a block of the layout it is given.
#[inline]
unsafe fn padded_or_system(layout: Layout, system: impl FnOnce(Layout) -> *mut u8) -> *mut u8 {
    if !padded(layout) {
        return system(layout);
    }
    let Some(outer) = outer(layout.size()) else {
        return std::ptr::null_mut();
    };
    let base = system(outer);
    if base.is_null() {
        return base;
    }
    // SAFETY: `base` is a word-aligned block of `size + CACHE_LINE` bytes.
    unsafe { place(base, offset_of(base)) }
}

// SAFETY: padded blocks are taken from `System` with `outer(size)` and returned to it with
// the same layout (`size` is the caller's, the base recovered from the recorded offset);
// the block handed out, `size` bytes at a line boundary at most `CACHE_LINE` bytes into a
// block of `size + CACHE_LINE` bytes, lies inside it and meets `layout.align() ≤ CACHE_LINE`.
// Other blocks are `System`'s, with the caller's layout. Which kind a block is follows from
// its layout alone, so `dealloc` and `realloc` (given the layout of the allocation, as the
// contract requires) always take the matching path.
unsafe impl GlobalAlloc for CacheLineAlloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, non-zero size (the caller's contract).
        unsafe { padded_or_system(layout, |l| System.alloc(l)) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as in `alloc`; a padded block's header lies before the zeroed user block.
        unsafe { padded_or_system(layout, |l| System.alloc_zeroed(l)) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !padded(layout) {
            // SAFETY: allocated by `System` with this layout (see the impl's comment).
            return unsafe { System.dealloc(ptr, layout) };
        }
        // SAFETY: a padded block: its offset is recorded, its system layout is
        // `outer(size)`, which was valid when it was allocated.
        unsafe {
            let offset = recorded(ptr);
            let outer = outer(layout.size()).unwrap_unchecked();
            System.dealloc(ptr.sub(offset), outer);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY (whole body): the caller's contract: `ptr` is a block of `layout`,
        // `new_size > 0` and `Layout::from_size_align(new_size, layout.align())` is valid.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            match (padded(layout), padded(new_layout)) {
                (false, false) => System.realloc(ptr, layout, new_size),
                (true, true) => {
                    let Some(new_outer) = outer(new_size) else {
                        return std::ptr::null_mut();
                    };
                    let offset = recorded(ptr);
                    let old_outer = outer(layout.size()).unwrap_unchecked();
                    let base = System.realloc(ptr.sub(offset), old_outer, new_outer.size());
                    if base.is_null() {
                        return base;
                    }
                    // The system block may have moved to a different offset from a line
                    // boundary: move the contents (the first `offset + min` bytes were
                    // kept, `offset ≤ CACHE_LINE`) to the new boundary.
                    let new_offset = offset_of(base);
                    if new_offset != offset {
                        let len = layout.size().min(new_size);
                        std::ptr::copy(base.add(offset), base.add(new_offset), len);
                    }
                    place(base, new_offset)
                }
                // Across the threshold the two blocks come from different paths.
                _ => {
                    let new = self.alloc(new_layout);
                    if !new.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    new
                }
            }
        }
    }
}

/// Asks the kernel to map the whole pages of `room` now, in one call, rather than one page
/// fault at a time as they are first written (Linux ≥ 5.14, `MADV_POPULATE_WRITE`;
/// elsewhere, or if the call fails, nothing happens and the pages fault in as usual).
///
/// Why: building a projection writes its target array once, front to back, into room
/// reserved for it; each first touch of a page was a fault (≈ 1 µs here with its memory
/// cgroup accounting). The contents are unchanged: freshly mapped pages are zero either way.
/// Only for room that stays in cache until it is written: a page faulted in is zeroed just
/// before its first write, while populated pages are zeroed all at once and, beyond the
/// cache, written back to memory and read again.
///
/// Returns whether the kernel mapped them.
pub fn populate<T>(room: &mut [std::mem::MaybeUninit<T>]) -> bool {
    #[cfg(not(target_os = "linux"))]
    {
        let _ = room;
        false
    }
    #[cfg(target_os = "linux")]
    {
        const MADV_POPULATE_WRITE: i32 = 23;
        const PAGE: usize = 4096;
        let start = room.as_mut_ptr() as usize;
        let end = start + std::mem::size_of_val(room);
        let (first, last) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
        // SAFETY: the range lies within `room`, memory this process owns and may write;
        // populating it writes nothing the program can observe.
        last > first
            && unsafe {
                libc::madvise(
                    first as *mut libc::c_void,
                    last - first,
                    MADV_POPULATE_WRITE,
                )
            } == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resident memory of this process, bytes (Linux).
    #[cfg(target_os = "linux")]
    fn resident_bytes() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("procfs");
        let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
        pages * 4096
    }

    /// Populating maps the room at once (resident memory grows by about its size before
    /// anything is written) on kernels that have `MADV_POPULATE_WRITE` (5.14 and later).
    #[cfg(target_os = "linux")]
    #[test]
    fn populate_maps_the_room_before_it_is_written() {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
        let mut parts = release.trim().split(['.', '-']);
        let major: u32 = parts.next().unwrap().parse().unwrap();
        let minor: u32 = parts.next().unwrap().parse().unwrap();
        let size = 256 << 20;
        let mut room: Vec<u8> = Vec::with_capacity(size);
        let before = resident_bytes();
        let done = populate(room.spare_capacity_mut());
        let grown = resident_bytes().saturating_sub(before);
        if (major, minor) >= (5, 14) {
            assert!(done, "kernel {release}");
        }
        if done {
            assert!(
                grown >= size / 2,
                "resident memory grew by {grown} bytes only"
            );
        }
        room.extend(std::iter::repeat_n(7u8, 1000));
        assert!(room.iter().all(|&b| b == 7));
        let mut tiny: Vec<u32> = Vec::with_capacity(3);
        assert!(
            !populate(tiny.spare_capacity_mut()),
            "less than a page: nothing to map"
        );
    }

    fn fill(p: *mut u8, n: usize, seed: u8) {
        for k in 0..n {
            // SAFETY: `p` holds `n` bytes.
            unsafe { p.add(k).write(seed.wrapping_add(k as u8)) };
        }
    }

    fn holds(p: *const u8, n: usize, seed: u8) -> bool {
        // SAFETY: `p` holds `n` initialised bytes.
        (0..n).all(|k| unsafe { p.add(k).read() } == seed.wrapping_add(k as u8))
    }

    #[test]
    fn blocks_of_a_line_or_more_start_on_a_line() {
        let a = CacheLineAlloc;
        let mut misaligned_by_system = 0;
        for size in [64, 65, 100, 1000, 3200 * 4, 12_800 * 4, 1 << 20] {
            for align in [1, 4, 8, 16, 32, 64] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: a non-zero size; freed with the same layout.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % CACHE_LINE, 0, "size {size} align {align}");
                    fill(p, size, 7);
                    assert!(holds(p, size, 7));
                    a.dealloc(p, layout);
                    let s = System.alloc(layout);
                    misaligned_by_system += usize::from(!(s as usize).is_multiple_of(CACHE_LINE));
                    System.dealloc(s, layout);
                }
            }
        }
        // What the allocator is for: the system does not line-align these by itself.
        assert!(misaligned_by_system > 0);
    }

    #[test]
    fn small_and_over_aligned_blocks_keep_their_layout() {
        let a = CacheLineAlloc;
        for (size, align) in [(1, 1), (8, 8), (63, 4), (64, 128), (4096, 4096)] {
            let layout = Layout::from_size_align(size, align).unwrap();
            // SAFETY: as above.
            unsafe {
                let p = a.alloc(layout);
                assert_eq!(p as usize % align, 0);
                fill(p, size, 3);
                assert!(holds(p, size, 3));
                a.dealloc(p, layout);
            }
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_and_aligned() {
        let a = CacheLineAlloc;
        for size in [64, 4000, 1 << 22] {
            let layout = Layout::from_size_align(size, 4).unwrap();
            // SAFETY: as above.
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert_eq!(p as usize % CACHE_LINE, 0);
                assert!((0..size).all(|k| p.add(k).read() == 0));
                a.dealloc(p, layout);
            }
        }
    }

    #[test]
    fn realloc_keeps_contents_and_alignment_across_sizes() {
        let a = CacheLineAlloc;
        // Grow from below the threshold to an `mmap`-sized block and back down, across the
        // threshold both ways, checking the contents at every step.
        let sizes = [
            16, 40, 64, 200, 5000, 300_000, 3_000_000, 70_000, 1000, 64, 63, 8,
        ];
        let align = 4;
        let mut layout = Layout::from_size_align(sizes[0], align).unwrap();
        // SAFETY: every call gets the block's current layout.
        unsafe {
            let mut p = a.alloc(layout);
            fill(p, layout.size(), 11);
            for &size in &sizes[1..] {
                let kept = layout.size().min(size);
                p = a.realloc(p, layout, size);
                assert!(!p.is_null());
                assert!(holds(p, kept, 11), "{} -> {size}", layout.size());
                if size >= CACHE_LINE {
                    assert_eq!(p as usize % CACHE_LINE, 0, "{size}");
                }
                layout = Layout::from_size_align(size, align).unwrap();
                fill(p, size, 11);
            }
            a.dealloc(p, layout);
        }
    }

    #[test]
    fn offsets_leave_room_for_the_header_and_the_block() {
        for addr in (0..256).step_by(HEADER) {
            let off = offset_of(addr as *mut u8);
            assert!((HEADER..=CACHE_LINE).contains(&off), "{addr}: {off}");
            assert_eq!((addr + off) % CACHE_LINE, 0);
        }
    }
}
