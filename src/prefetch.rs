//! Cache prefetch hints for the hot path.
//!
//! A store into a line another core wrote last (a journal page the sync
//! thread prefaulted, a memory-NIC slot the receiver read) waits for the line
//! to move over. The writers ask for the lines they will write next while the
//! hot thread is idle, so the next trigger finds them in its own cache.

/// Asks for the cache line holding `p` in a writable state (`PREFETCHW`;
/// a plain load hint where the CPU lacks it). A hint only: it never faults,
/// whatever `p` is, and changes no memory.
#[inline(always)]
pub fn prefetch_write(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch accesses no memory in the language's sense and does
    // not fault on any address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_ET0 }>(p.cast::<i8>())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
