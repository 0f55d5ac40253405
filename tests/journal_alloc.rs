//! The append path allocates nothing, rolls included: a counting global
//! allocator sees zero allocations on the appending thread.

use floe::config::SyncPolicy;
use floe::journal::{Journal, JournalOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; the bookkeeping only
// touches const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            ALLOCS.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn appends_allocate_nothing(sync: SyncPolicy, segment_bytes: u64, min_rolls: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let opts = JournalOptions::default()
        .with_segment_bytes(segment_bytes)
        .with_sync(sync);
    let (mut j, _) = Journal::open(tmp.path(), opts).unwrap();
    let payload = [0x5Au8; 64];
    for _ in 0..1000 {
        j.append(1, &payload).unwrap();
    }
    let start_segment = j.position().0;
    COUNTING.with(|c| c.set(true));
    for i in 0..100_000u32 {
        j.append(2, &payload).unwrap();
        j.append_with(3, 20, |b| b[..4].copy_from_slice(&i.to_le_bytes()))
            .unwrap();
    }
    COUNTING.with(|c| c.set(false));
    let rolls = j.position().0 - start_segment;
    assert!(rolls >= min_rolls, "only {rolls} rolls");
    assert_eq!(ALLOCS.with(Cell::get), 0, "allocations on the append path");
    assert_eq!(j.last_seq(), 201_000);
}

#[test]
fn appends_and_rolls_allocate_nothing() {
    appends_allocate_nothing(SyncPolicy::None, 64 << 10, 200);
    ALLOCS.with(|c| c.set(0));
    // Spares for `batch` are fsynced when made: fewer, larger segments.
    appends_allocate_nothing(SyncPolicy::Batch, 1 << 20, 10);
}
