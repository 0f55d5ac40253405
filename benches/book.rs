//! Book and feed-handler cost per ITCH message, beside `itchy` decoding the
//! same BinaryFILE buffer in the same run.
//!
//! - `book/apply_decoded`: `feed::itch::apply` over pre-decoded messages;
//! - `itch/floe_decode_apply`: `feed::itch::apply_bytes` over the buffer
//!   (decode + book), the hot path from a MoldUDP64 block;
//! - `itch/floe_decode_apply_window16k`: the same with a 16,384-slot order
//!   window (the default here is 262,144, one per order of all books), so
//!   that every order older than 16,384 references moves to its book's
//!   table and is found there: the cost when the window is too small for
//!   the feed;
//! - `itch/floe_decode`: `wire::itch::Message::parse` only;
//! - `itch/itchy_decode`: `itchy::MessageStream` over the same buffer.
//!
//! The stream is a synthetic day (`feed::synth`) of 500,000 messages on 16
//! symbols (about 248,000 order references, 26,000 orders resting at the
//! end); every iteration starts from empty, prefaulted books.

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use floe::book::Books;
use floe::feed::itch::{apply, apply_bytes};
use floe::feed::synth::{binary_file, SynthConfig, SynthDay};
use floe::time::Nanos;
use floe::wire::itch::{BinaryFileRecords, Message};
use std::hint::black_box;
use std::time::Duration;

const CFG: SynthConfig = SynthConfig {
    messages: 500_000,
    symbols: 16,
    seed: 1,
    orders_per_symbol: 2_000,
};

fn fresh_books() -> Books {
    let mut b = Books::with_capacity(16, 16_384, 2_048, &[]).expect("books");
    b.prefault();
    b
}

fn fresh_books_small_window() -> Books {
    let mut b = Books::with_window(16, 16_384, 2_048, &[], 16_384).expect("books");
    b.prefault();
    b
}

fn decode_apply(books: &mut Books, buf: &[u8]) {
    for rec in BinaryFileRecords::new(buf) {
        let Ok(bytes) = rec else { break };
        let _ = black_box(apply_bytes(books, bytes, Nanos::ZERO));
    }
}

fn book(c: &mut Criterion) {
    let msgs: Vec<Message> = SynthDay::new(CFG).collect();
    let mut g = c.benchmark_group("book");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(6));
    g.bench_function("apply_decoded", |b| {
        b.iter_batched_ref(
            fresh_books,
            |books| {
                for m in &msgs {
                    black_box(apply(books, m, Nanos::ZERO));
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn itch(c: &mut Criterion) {
    let buf = binary_file(CFG);
    let mut g = c.benchmark_group("itch");
    g.throughput(Throughput::Elements(CFG.messages));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(6));
    g.bench_function("floe_decode_apply", |b| {
        b.iter_batched_ref(
            fresh_books,
            |books| decode_apply(books, &buf),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("floe_decode_apply_window16k", |b| {
        b.iter_batched_ref(
            fresh_books_small_window,
            |books| decode_apply(books, &buf),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("floe_decode", |b| {
        b.iter(|| {
            for rec in BinaryFileRecords::new(&buf) {
                let Ok(bytes) = rec else { break };
                let _ = black_box(Message::parse(bytes));
            }
        })
    });
    g.bench_function("itchy_decode", |b| {
        b.iter(|| {
            for m in itchy::MessageStream::from_reader(&buf[..]) {
                let _ = black_box(m);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, book, itch);

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs this binary without `--bench` and
        // with test-harness flags criterion does not know: check on a small
        // day that both paths give the same books, and stop there.
        let cfg = SynthConfig {
            messages: 20_000,
            ..CFG
        };
        let mut a = fresh_books();
        for m in SynthDay::new(cfg) {
            apply(&mut a, &m, Nanos::ZERO);
        }
        let buf = binary_file(cfg);
        // A 1,024-slot window: most orders of this short day move to their
        // books' tables.
        let tiny = Books::with_window(16, 16_384, 2_048, &[], 1_024).expect("books");
        for mut b in [fresh_books(), tiny] {
            for rec in BinaryFileRecords::new(&buf) {
                apply_bytes(&mut b, rec.expect("record"), Nanos::ZERO).expect("decodes");
            }
            assert_eq!(a.counters, b.counters);
            for ((sa, ba), (sb, bb)) in a.iter().zip(b.iter()) {
                assert_eq!(
                    (sa, ba.top(), ba.order_count()),
                    (sb, bb.top(), bb.order_count())
                );
            }
        }
        assert_eq!(a.counters.unknown_refs, 0);
        println!("book bench: decoded and raw paths, default and tiny windows, agree on 20000 messages (run `cargo bench` to measure)");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
