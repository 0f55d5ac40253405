//! Instruction counts per ITCH message, for `valgrind --tool=callgrind`
//! (run by `scripts/bench-instructions`).
//!
//! `cargo run --release --example itch_instructions -- MODE [MESSAGES] [SYMBOLS]`
//! builds a synthetic day in memory, then runs one measured function over
//! it; callgrind is told to count only inside that function
//! (`--toggle-collect='*measure_*'`), so its total divided by the message
//! count is the cost per message. Modes:
//!
//! - `book`: book apply of pre-decoded messages (`feed::itch::apply`);
//! - `decode-apply`: floe decode + apply from the BinaryFILE buffer
//!   (`feed::itch::apply_bytes`);
//! - `decode`: floe decode only (`wire::itch::Message::parse`);
//! - `itchy`: `itchy` decode only over the same buffer.

use floe::book::Books;
use floe::feed::itch::{apply, apply_bytes};
use floe::feed::synth::{binary_file, SynthConfig, SynthDay};
use floe::time::Nanos;
use floe::wire::itch::{BinaryFileRecords, Message};
use std::hint::black_box;

fn books() -> Books {
    let mut b = Books::with_capacity(64, 16_384, 2_048, &[]).expect("books");
    b.prefault();
    b
}

#[inline(never)]
fn measure_book(books: &mut Books, msgs: &[Message]) -> u64 {
    let mut quotes = 0;
    for m in msgs {
        if apply(books, m, Nanos::ZERO).is_some() {
            quotes += 1;
        }
    }
    quotes
}

#[inline(never)]
fn measure_decode_apply(books: &mut Books, buf: &[u8]) -> u64 {
    let mut quotes = 0;
    for rec in BinaryFileRecords::new(buf) {
        let Ok(bytes) = rec else { break };
        if let Ok(Some(_)) = apply_bytes(books, bytes, Nanos::ZERO) {
            quotes += 1;
        }
    }
    quotes
}

#[inline(never)]
fn measure_decode(buf: &[u8]) -> u64 {
    let mut n = 0;
    for rec in BinaryFileRecords::new(buf) {
        let Ok(bytes) = rec else { break };
        if let Ok(m) = Message::parse(bytes) {
            black_box(&m);
            n += 1;
        }
    }
    n
}

#[inline(never)]
fn measure_itchy(buf: &[u8]) -> u64 {
    let mut n = 0;
    for m in itchy::MessageStream::from_reader(buf) {
        let Ok(m) = m else { break };
        black_box(&m);
        n += 1;
    }
    n
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "decode-apply".into());
    let messages: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let symbols: u16 = args.next().and_then(|s| s.parse().ok()).unwrap_or(16);
    let cfg = SynthConfig {
        messages,
        symbols,
        seed: 1,
        orders_per_symbol: 2_000,
    };
    let n = match mode.as_str() {
        "book" => {
            let msgs: Vec<Message> = SynthDay::new(cfg).collect();
            let mut b = books();
            let q = measure_book(&mut b, &msgs);
            eprintln!("quotes {q}, unknown refs {}", b.counters.unknown_refs);
            msgs.len() as u64
        }
        "decode-apply" => {
            let buf = binary_file(cfg);
            let mut b = books();
            let q = measure_decode_apply(&mut b, &buf);
            eprintln!("quotes {q}, unknown refs {}", b.counters.unknown_refs);
            b.counters.messages
        }
        "decode" => measure_decode(&binary_file(cfg)),
        "itchy" => measure_itchy(&binary_file(cfg)),
        other => {
            eprintln!("unknown mode {other}: book | decode-apply | decode | itchy");
            std::process::exit(2);
        }
    };
    println!("{mode} messages {n}");
}
