//! The ITCH feed handler on the hot path: it performs no heap allocation
//! once the books exist and the directory is applied, and no byte string or
//! message sequence makes it panic.

mod common;

use floe::book::Books;
use floe::feed::itch::{apply, apply_bytes};
use floe::feed::synth::{binary_file, SynthConfig, SynthDay};
use floe::time::Nanos;
use floe::wire::itch::{BinaryFileRecords, Message};
use proptest::prelude::*;
use rand::SeedableRng;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts allocations per thread, so that tests running in parallel do
/// not see each other's.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    ALLOCATIONS.with(|c| c.set(c.get() + 1));
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: defers to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The feed handler allocates nothing per message: measured over a whole
/// synthetic day after its directory, both from decoded messages and from
/// raw BinaryFILE bytes (allocations counted on this thread only).
#[test]
fn apply_allocates_nothing_after_the_directory() {
    let cfg = SynthConfig {
        messages: 200_000,
        symbols: 12,
        seed: 17,
        orders_per_symbol: 1_500,
    };
    let msgs: Vec<Message> = SynthDay::new(cfg).collect();
    let buf = binary_file(cfg);
    let prologue = msgs.iter().position(|m| m.msg_type() == b'A').unwrap();

    let mut books = Books::with_capacity(12, 4_096, 1_024, &[]).unwrap();
    for m in &msgs[..prologue] {
        apply(&mut books, m, Nanos::ZERO);
    }
    let before = allocations();
    let mut quotes = 0u64;
    for m in &msgs[prologue..] {
        quotes += u64::from(apply(&mut books, m, Nanos(1)).is_some());
    }
    let during = allocations() - before;
    assert!(quotes > 1_000);
    assert_eq!(books.counters.unknown_refs, 0);
    assert_eq!(during, 0, "{during} allocations applying decoded messages");

    let mut books = Books::with_capacity(12, 4_096, 1_024, &[]).unwrap();
    let mut records = BinaryFileRecords::new(&buf);
    for _ in 0..prologue {
        let rec = records.next().unwrap().unwrap();
        apply_bytes(&mut books, rec, Nanos::ZERO).unwrap();
    }
    let before = allocations();
    for rec in records {
        apply_bytes(&mut books, rec.unwrap(), Nanos(1)).unwrap();
    }
    let during = allocations() - before;
    assert_eq!(books.counters.messages, cfg.messages);
    assert_eq!(during, 0, "{during} allocations applying raw bytes");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic: each is decoded and applied, counted as
    /// a message or a decode error.
    #[test]
    fn arbitrary_bytes_never_panic(
        records in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..60), 0..200)
    ) {
        let mut books = Books::with_capacity(2, 8, 4, &[]).unwrap();
        let mut errors = 0u64;
        for r in &records {
            if apply_bytes(&mut books, r, Nanos::ZERO).is_err() {
                errors += 1;
            }
        }
        prop_assert_eq!(books.counters.messages + errors, records.len() as u64);
        prop_assert_eq!(books.counters.decode_errors, errors);
    }

    /// Valid messages with random fields never panic against tiny
    /// capacities, and every message is counted. Locates and order
    /// references are folded into small spaces so that books, duplicates,
    /// unknown references and over-executions are all hit.
    #[test]
    fn random_messages_never_panic(seed in any::<u64>(), n in 1usize..2_000) {
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut books = Books::with_capacity(3, 16, 4, &[]).unwrap();
        let mut buf = [0u8; 64];
        for i in 0..n {
            let t = common::itch_gen::realistic_type(&mut rng);
            let m = common::itch_gen::random_message(&mut rng, t);
            let len = m.emit(&mut buf).unwrap();
            let b = &mut buf[..len];
            b[1] = 0;
            b[2] %= 4;
            if b"AFECXDUP".contains(&b[0]) {
                b[11..18].fill(0);
                b[18] %= 32;
            }
            if b[0] == b'U' {
                b[19..26].fill(0);
                b[26] %= 32;
            }
            prop_assert!(apply_bytes(&mut books, b, Nanos(i as u64)).is_ok());
        }
        prop_assert_eq!(books.counters.messages, n as u64);
        for (_, b) in books.iter() {
            prop_assert!(b.order_count() <= 16);
            let total: u64 = b.orders().map(|(_, o)| u64::from(o.qty.0)).sum();
            let levels: u64 = [floe::types::Side::Buy, floe::types::Side::Sell]
                .iter()
                .flat_map(|&s| b.levels(s))
                .map(|l| u64::from(l.qty.0))
                .sum();
            prop_assert_eq!(total, levels, "orders and levels agree");
        }
    }
}
