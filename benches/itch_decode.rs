//! ITCH 5.0 decoding throughput: floe's `Message::parse` against the `itchy`
//! crate over the same BinaryFILE buffer of 1,000,000 messages in a realistic
//! mix (mostly adds, deletes, cancels, executions and replaces).
//!
//! `cargo bench --bench itch_decode` runs both under criterion and prints
//! messages/s of each and their ratio; under `cargo test` it only checks that
//! both decoders agree on a small buffer. With `FLOE_DECODE_ONLY=floe|itchy` (and
//! optionally `FLOE_DECODE_MESSAGES=N`) the binary instead builds the buffer
//! and runs one decode pass of that decoder, so `scripts/bench-instructions`
//! can count its instructions under callgrind (`decode_floe` / `decode_itchy`
//! are the functions to collect).

#[path = "../tests/common/itch_gen.rs"]
#[allow(dead_code)]
mod itch_gen;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use floe::wire::itch::{BinaryFileRecords, Message};
use rand::rngs::SmallRng;
use rand::SeedableRng;

const MESSAGES: usize = 1_000_000;

/// Decodes every record with floe; returns (messages decoded, sum of timestamps).
#[inline(never)]
fn decode_floe(buf: &[u8]) -> (u64, u64) {
    let (mut n, mut acc) = (0u64, 0u64);
    for rec in BinaryFileRecords::new(buf) {
        let Ok(rec) = rec else { break };
        // The whole decoded message escapes, so no field read can be skipped.
        if let Ok(m) = black_box(&Message::parse(rec)) {
            acc = acc.wrapping_add(m.header().timestamp);
            n += 1;
        }
    }
    (n, acc)
}

/// Decodes every record with itchy; returns (messages decoded, sum of timestamps).
#[inline(never)]
fn decode_itchy(buf: &[u8]) -> (u64, u64) {
    let (mut n, mut acc) = (0u64, 0u64);
    for r in itchy::MessageStream::from_reader(buf) {
        if let Ok(m) = black_box(&r) {
            acc = acc.wrapping_add(m.timestamp);
            n += 1;
        }
    }
    (n, acc)
}

fn buffer(messages: usize) -> Vec<u8> {
    let mut rng = SmallRng::seed_from_u64(0x1_0000_0000);
    itch_gen::binary_file(&mut rng, messages)
}

fn criterion_dir() -> PathBuf {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return h.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("criterion")
}

/// Mean time per iteration (ns) criterion recorded for `name` in this group.
fn mean_ns(dir: &std::path::Path, name: &str) -> Option<f64> {
    let path = dir
        .join("itch_decode")
        .join(name)
        .join("new/estimates.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

fn main() {
    if let Ok(which) = std::env::var("FLOE_DECODE_ONLY") {
        let n = std::env::var("FLOE_DECODE_MESSAGES")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(MESSAGES);
        let buf = buffer(n);
        let (decoded, acc) = match which.as_str() {
            "floe" => decode_floe(black_box(&buf)),
            "itchy" => decode_itchy(black_box(&buf)),
            other => panic!("FLOE_DECODE_ONLY must be floe or itchy, not {other}"),
        };
        assert_eq!(decoded as usize, n, "{which} decoded every message");
        println!("{which}: decoded {decoded} messages (checksum {acc:#x})");
        return;
    }

    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs this binary without `--bench` (and
        // with test-harness flags criterion does not know): check on a small
        // buffer that both decoders agree, and stop there.
        let buf = buffer(20_000);
        assert_eq!(decode_floe(&buf), decode_itchy(&buf));
        assert_eq!(decode_floe(&buf).0, 20_000);
        println!(
            "itch_decode: floe and itchy agree on 20000 messages (run `cargo bench` to measure)"
        );
        return;
    }

    let buf = buffer(MESSAGES);
    // Both decoders see the same messages.
    assert_eq!(decode_floe(&buf), decode_itchy(&buf));
    assert_eq!(decode_floe(&buf).0 as usize, MESSAGES);

    let dir = criterion_dir();
    let mut c = Criterion::default()
        .output_directory(&dir)
        .sample_size(20)
        .measurement_time(Duration::from_secs(6))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("itch_decode");
        g.throughput(Throughput::Elements(MESSAGES as u64));
        g.bench_function("floe", |b| b.iter(|| decode_floe(black_box(&buf))));
        g.bench_function("itchy", |b| b.iter(|| decode_itchy(black_box(&buf))));
        g.finish();
    }
    c.final_summary();

    if let (Some(f), Some(i)) = (mean_ns(&dir, "floe"), mean_ns(&dir, "itchy")) {
        let rate = |ns: f64| MESSAGES as f64 / (ns * 1e-9);
        println!(
            "itch_decode: {} messages ({} bytes): floe {:.1} M msg/s, itchy {:.1} M msg/s, floe/itchy = {:.2}x",
            MESSAGES,
            buf.len(),
            rate(f) / 1e6,
            rate(i) / 1e6,
            i / f
        );
    }
}
