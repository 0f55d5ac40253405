//! What the control plane costs the hot thread, each beside its peer:
//! - publishing statuses through the gateway endpoint vs a bare crossbeam
//!   `try_send` of the same messages (the control side's pump is not timed);
//! - `LatencyHistogram::record` vs `hdrhistogram::Histogram::record`;
//! - a single-writer `Counter::inc` vs `AtomicU64::fetch_add`.

use criterion::{criterion_group, criterion_main, Criterion};
use floe::algo::StatusCode;
use floe::config::Config;
use floe::control::gateway::{self, Outbound};
use floe::control::metrics::{Counter, LatencyHistogram};
use floe::engine::{Action, ClientOrderId, ParentStatus};
use floe::time::Nanos;
use floe::types::{Price4, Qty, Side, Symbol};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BATCH: usize = 64;

fn status(parent: u32, at: u64) -> ParentStatus {
    ParentStatus {
        parent,
        client_order_id: ClientOrderId::new(b"bench").unwrap(),
        symbol: Symbol::new("AAPL").unwrap(),
        side: Side::Buy,
        status: StatusCode::Working,
        total: Qty(10_000),
        requested_total: Qty(10_000),
        filled: Qty(0),
        live: Qty(100),
        leaves: Qty(10_000),
        remaining: Qty(9_900),
        display: Qty(100),
        limit: Price4(1_000_000),
        peg: false,
        notional: 0,
        children: 1,
        cancel_pending: false,
        waiting: None,
        last_reason: None,
        created_at: Nanos(1),
        updated_at: Nanos(at),
    }
}

fn publish(c: &mut Criterion) {
    let mut cfg = Config::default();
    cfg.pools.command_queue = 1024;
    cfg.pools.parents = 1024;
    let mut g = c.benchmark_group("status_publish_64");
    g.bench_function("gateway_endpoint", |b| {
        let (gw, mut ep) = gateway::channel(&cfg);
        let mut at = 0u64;
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                for p in 0..BATCH as u32 {
                    at += 1;
                    ep.route(&Action::Status(status(p, at)));
                }
                ep.flush();
                spent += t.elapsed();
                gw.pump();
            }
            spent
        });
    });
    g.bench_function("crossbeam_try_send", |b| {
        let (tx, rx) = crossbeam::channel::bounded::<Outbound>(2048);
        let mut at = 0u64;
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                for p in 0..BATCH as u32 {
                    at += 1;
                    let _ = tx.try_send(Outbound::Status {
                        seq: at,
                        status: status(p, at),
                    });
                }
                spent += t.elapsed();
                while let Ok(m) = rx.try_recv() {
                    black_box(m);
                }
            }
            spent
        });
    });
    g.finish();
}

fn histograms(c: &mut Criterion) {
    let mut g = c.benchmark_group("latency_record");
    let values: Vec<u64> = (0..4096u64).map(|i| (i * 7919) % 2_000_000 + 50).collect();
    g.bench_function("floe_latency_histogram", |b| {
        let h = LatencyHistogram::default();
        let mut i = 0;
        b.iter(|| {
            h.record(black_box(values[i & 4095]));
            i += 1;
        });
    });
    g.bench_function("hdrhistogram", |b| {
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).unwrap();
        let mut i = 0;
        b.iter(|| {
            let _ = h.record(black_box(values[i & 4095]));
            i += 1;
        });
    });
    g.finish();

    let mut g = c.benchmark_group("counter_inc");
    g.bench_function("single_writer_counter", |b| {
        let c = Counter::new();
        b.iter(|| black_box(&c).inc());
    });
    g.bench_function("atomic_fetch_add", |b| {
        let c = AtomicU64::new(0);
        b.iter(|| black_box(&c).fetch_add(1, Ordering::Relaxed));
    });
    g.finish();
}

criterion_group!(benches, publish, histograms);
criterion_main!(benches);
