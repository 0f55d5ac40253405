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
//!
//! - `compare`: wall-clock only — every round runs each of the timed modes
//!   once, interleaved, on the same buffer; prints the minimum and median
//!   nanoseconds per message of each over `FLOE_TIME_RUNS` rounds (default
//!   15). Interleaving exposes all modes to the same interference.
//!
//! Environment: `FLOE_ORDERS_PER_BOOK` (default 16,384) sizes the books,
//! `FLOE_WINDOW_SLOTS` the market-wide order window (default: one slot per
//! order of all books, as `Books::with_capacity` picks);
//! `FLOE_TIME_RUNS=N` also times the measured function N more times (fresh
//! books each run) and prints the fastest run's nanoseconds per message —
//! the minimum filters out preemption on a shared machine.

use floe::book::Books;
use floe::feed::itch::{apply, apply_bytes};
use floe::feed::synth::{binary_file, SynthConfig, SynthDay};
use floe::time::Nanos;
use floe::wire::itch::{BinaryFileRecords, Message};
use std::hint::black_box;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn books() -> Books {
    let orders = env("FLOE_ORDERS_PER_BOOK", 16_384);
    let mut b = match env("FLOE_WINDOW_SLOTS", 0) {
        0 => Books::with_capacity(64, orders, 2_048, &[]),
        slots => Books::with_window(64, orders, 2_048, &[], slots),
    }
    .expect("books");
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
    if mode == "compare" {
        compare(cfg, env("FLOE_TIME_RUNS", 15));
        return;
    }
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
    let runs = env("FLOE_TIME_RUNS", 0);
    if runs > 0 {
        let best = (0..runs)
            .map(|_| time_once(&mode, cfg))
            .fold(f64::INFINITY, f64::min);
        println!(
            "{mode} best of {runs}: {:.1} ns/message",
            best * 1e9 / n as f64
        );
    }
}

fn compare(cfg: SynthConfig, rounds: usize) {
    let modes = ["book", "decode-apply", "decode", "itchy"];
    let msgs: Vec<Message> = SynthDay::new(cfg).collect();
    let buf = binary_file(cfg);
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    for _ in 0..rounds {
        for (i, m) in modes.iter().enumerate() {
            let mut b = books();
            let t = std::time::Instant::now();
            match *m {
                "book" => black_box(measure_book(&mut b, &msgs)),
                "decode-apply" => black_box(measure_decode_apply(&mut b, &buf)),
                "decode" => black_box(measure_decode(&buf)),
                _ => black_box(measure_itchy(&buf)),
            };
            times[i].push(t.elapsed().as_secs_f64() * 1e9 / cfg.messages as f64);
        }
    }
    let mut mins = Vec::new();
    for (m, t) in modes.iter().zip(times.iter_mut()) {
        t.sort_by(f64::total_cmp);
        let (min, med) = (t[0], t[t.len() / 2]);
        mins.push(min);
        println!("{m:<22} min {min:7.1} ns/message   median {med:7.1}");
    }
    println!(
        "decode+apply / itchy decode-only (min): {:.2}",
        mins[1] / mins[3]
    );
}

/// One timed run of the measured function (setup excluded), in seconds.
fn time_once(mode: &str, cfg: SynthConfig) -> f64 {
    use std::time::Instant;
    match mode {
        "book" => {
            let msgs: Vec<Message> = SynthDay::new(cfg).collect();
            let mut b = books();
            let t = Instant::now();
            black_box(measure_book(&mut b, &msgs));
            t.elapsed().as_secs_f64()
        }
        "decode-apply" => {
            let buf = binary_file(cfg);
            let mut b = books();
            let t = Instant::now();
            black_box(measure_decode_apply(&mut b, &buf));
            t.elapsed().as_secs_f64()
        }
        "decode" => {
            let buf = binary_file(cfg);
            let t = Instant::now();
            black_box(measure_decode(&buf));
            t.elapsed().as_secs_f64()
        }
        _ => {
            let buf = binary_file(cfg);
            let t = Instant::now();
            black_box(measure_itchy(&buf));
            t.elapsed().as_secs_f64()
        }
    }
}
