//! The recorder's costs, with the peers measured in the same run.
//!
//! - `recorder/record_child_intent`: `Recorder::record` of a ChildIntent
//!   (56-byte payload, encoded in place in the mapping) into a warmed-up
//!   journal whose segment never rolls during a sample; peers:
//!   `recorder/journal_append_56B` (`Journal::append` of the same bytes,
//!   encoded beforehand) and `recorder/encode_then_append` (encode on the
//!   stack, then `Journal::append`);
//! - `snapshot/serialize_1000_parents`: `Engine::snapshot` of an engine
//!   with 1,000 live parents, each with a live, partly filled child — the
//!   part of `Recorder::maybe_snapshot` that runs on the hot thread (the
//!   size is printed); `snapshot/write_1000_parents`: the snapshot
//!   thread's part (temporary file, fsync, rename, directory fsync, prune)
//!   on `$TMPDIR`;
//! - `recovery/recorder_open_{1M,10M}`: `Recorder::open` of a journal of
//!   that many records written by an engine run (intent, accept, fill per
//!   child; 100 children per parent), no snapshot, files in the page cache
//!   (as after a process crash); peer: `recovery/journal_open_10M`, the raw
//!   `Journal::open` + iteration of the same directory;
//!   `recovery/recorder_open_10M_snapshot_every_100k`: the same run with
//!   the default `snapshot_every = 100_000`.
//!
//! The report, `FLOE_BENCH_SCENARIO=report cargo bench --bench recorder`,
//! prints Markdown tables and rows ready for BENCHMARKS.md, all from one
//! run (knobs: `FLOE_BENCH_RATE` 2,400,000, `FLOE_BENCH_SECONDS` 5,
//! `FLOE_BENCH_PEER_RECORDS` 2,000, `FLOE_BENCH_RECORDS` 10 M,
//! `FLOE_BENCH_TMP` the directory for the files, `FLOE_BENCH_ONLY=latency |
//! recovery`):
//!
//! 1. `sync = none`, paced at the rate (after a 0.5 s warm-up) on a thread
//!    pinned to the last core, the journal's background thread on the
//!    first, default 64 MiB segments (rolls included): `Journal::append` of
//!    64 bytes, `Recorder::record` of a child intent (56 bytes) and of a
//!    venue `Accepted` (65 bytes) — the two record sizes either side of
//!    64. Each call's service time, and its latency from the moment it was
//!    due (a call stuck behind a stalled one counts the stall: no
//!    coordinated omission), hdrhistogram p50/p99/p99.9/max.
//! 2. Durable, back to back (they cannot be paced at that rate): peers
//!    `write` + `fdatasync` and `pwrite` into a `fallocate`d file +
//!    `fdatasync`, 64 bytes each; `Journal::append` and `Recorder::record`
//!    with `sync = always`. Service time, and hdrhistogram's correction
//!    for the paced rate's interval.
//! 3. Recovery: an engine run journals `FLOE_BENCH_RECORDS` records, no
//!    snapshot; `Recorder::open` (scan, crc, replay through the engine,
//!    invariants; the state compared with the run's) three times with the
//!    files in the page cache (a process crash) and once after evicting
//!    them (a reboot); peers in the same run: `Journal::open` + iteration,
//!    and `Journal::open` + decode + apply by hand.
//!
//! `cargo bench --bench recorder [-- FILTER]` runs the criterion groups.
//! Without `--bench` (as under `cargo test --all-targets`) the binary
//! writes a small journal, recovers it and checks the state, runs the
//! report's code on tiny sizes, and stops. With `FLOE_BENCH_SCENARIO=record |
//! append | encode_append` and `FLOE_BENCH_ITERS=n` it runs that loop `n`
//! times without criterion, for `valgrind --tool=callgrind` at two values
//! of `n` (divide the difference); `FLOE_BENCH_SCENARIO=recover` prints
//! `Recorder::open`'s report, three times, for `FLOE_BENCH_RECORDS` records
//! (default 10 M; `FLOE_BENCH_SNAPSHOT_EVERY`, default 0; `FLOE_BENCH_DIR`
//! keeps the journal there and reuses it).

use criterion::{BenchmarkId, Criterion, Throughput};
use floe::algo::iceberg::IcebergParams;
use floe::config::Config;
use floe::config::SyncPolicy;
use floe::engine::record::MAX_RECORD_LEN;
use floe::engine::{
    Action, ChildIntent, ClientOrderId, Command, CommandKind, Engine, EngineOptions, IntentKind,
    Outbox, Record, Recorder,
};
use floe::journal::{Journal, JournalOptions};
use floe::order::{CancelReason, ChildTag, OrderEvent, OrderRef, OrderRequest, TimeInForce};
use floe::time::Nanos;
use floe::types::{Level, Price4, Qty, Quote, Side, Symbol};
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::hint::black_box;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SYMBOL: Symbol = Symbol(*b"AAPL    ");

fn config() -> Config {
    let mut c = Config::default();
    c.pools.parents = 1024;
    c.pools.children = 2048;
    c.pools.client_order_ids = 1 << 17;
    c.book.symbols = 4;
    c.risk.max_live_parents = 1024;
    c.risk.max_child_qty = 1_000_000;
    c.risk.max_parent_notional = u64::MAX / 20_000;
    c.risk.position_limit = u64::MAX / 4;
    c.risk.child_orders_per_sec = u32::MAX;
    c.risk.child_orders_burst = u32::MAX;
    c.risk.price_collar_percent = 50;
    c
}

fn opts() -> EngineOptions {
    EngineOptions {
        account_query: false,
    }
}

fn intent(i: u64) -> Record {
    Record::ChildIntent(ChildIntent {
        at: Nanos(i),
        tag: ChildTag {
            parent: 7,
            child: (i % 1_000_000) as u32 + 1,
        },
        order_ref: OrderRef(i as u32 + 1),
        side: Side::Buy,
        symbol: SYMBOL,
        qty: Qty(100),
        price: Price4(100_0000),
        kind: IntentKind::Enter {
            tif: TimeInForce::Day,
            next_delay: Nanos(1_000_000),
            rng_draws: 2,
        },
    })
}

/// `o` with snapshots every `n` records (0: none).
fn with_snapshots(o: JournalOptions, n: u64) -> JournalOptions {
    JournalOptions {
        snapshot_every: n,
        ..o
    }
}

/// Journal options with a segment that holds `records` of `payload` bytes
/// without rolling.
fn sized(records: u64, payload: usize) -> JournalOptions {
    let need = 64 + records * floe::journal::record::record_len(payload) as u64 + 4096;
    let bytes = need.div_ceil(4096) * 4096;
    let mut o = JournalOptions::default().with_segment_bytes(bytes.clamp(1 << 20, 4 << 30));
    o.snapshot_every = 0;
    o
}

// ---------------------------------------------------------------------------
// A run that writes a realistic journal: icebergs of 10,000 in slices of
// 100, each child entered, accepted and filled at once
// ---------------------------------------------------------------------------

struct Gen {
    eng: Engine,
    rec: Recorder,
    out: Outbox,
    now: Nanos,
    soup: u64,
    events: VecDeque<OrderEvent>,
    sends: Vec<OrderRequest>,
    parents: u64,
    matches: u64,
}

impl Gen {
    fn new(dir: &Path, jopts: JournalOptions) -> Gen {
        let (rec, mut eng, _) = Recorder::open_with(&config(), opts(), dir, jopts).unwrap();
        let mut out = Outbox::with_capacity(64);
        let now = Nanos::from_ms(1);
        let q = Quote {
            symbol: SYMBOL,
            bid: Some(Level {
                price: Price4(100_0000),
                qty: Qty(500),
            }),
            ask: Some(Level {
                price: Price4(100_0100),
                qty: Qty(500),
            }),
            exch_ts: 0,
            rx_ts: now,
        };
        eng.on_quote(now, &q, &mut out);
        eng.on_session(now, true, &mut out);
        let mut g = Gen {
            eng,
            rec,
            out,
            now,
            soup: 0,
            events: VecDeque::new(),
            sends: Vec::new(),
            parents: 0,
            matches: 0,
        };
        g.settle();
        g
    }

    fn settle(&mut self) {
        let sends = &mut self.sends;
        self.rec
            .process(&self.eng, &mut self.out, |a| {
                if let Action::Send(s) = a {
                    sends.push(s);
                }
            })
            .unwrap();
        for s in std::mem::take(&mut self.sends) {
            let ts = self.now.0;
            match s {
                OrderRequest::Enter {
                    order,
                    tag,
                    side,
                    qty,
                    symbol,
                    price,
                    ..
                } => {
                    self.events.push_back(OrderEvent::Accepted {
                        ts,
                        order,
                        tag: Some(tag),
                        side,
                        qty,
                        symbol,
                        price,
                        venue_order_ref: u64::from(order.0),
                        live: true,
                    });
                    self.matches += 1;
                    self.events.push_back(OrderEvent::Executed {
                        ts,
                        order,
                        qty,
                        price,
                        liquidity: b'A',
                        match_number: self.matches,
                    });
                }
                OrderRequest::Cancel { order, .. } => self.events.push_back(OrderEvent::Canceled {
                    ts,
                    order,
                    decrement: Qty(0),
                    reason: CancelReason {
                        code: b'U',
                        text: "",
                    },
                }),
                OrderRequest::Replace { .. } | OrderRequest::AccountQuery => {}
            }
        }
    }

    fn new_parent(&mut self) {
        self.parents += 1;
        let mut id = [b'0'; 20];
        let mut v = self.parents;
        for d in id.iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        let side = if self.parents.is_multiple_of(2) {
            Side::Buy
        } else {
            Side::Sell
        };
        let params = IcebergParams {
            symbol: SYMBOL,
            side,
            total: Qty(10_000),
            display: Qty(100),
            variance_ppm: 0,
            limit: Price4(if side == Side::Buy { 100_0200 } else { 99_9900 }),
            min_delay_ms: 0,
            max_delay_ms: 0,
            tif: TimeInForce::Day,
            peg: false,
        };
        let cmd = Command {
            correlation: self.parents,
            kind: CommandKind::NewIceberg {
                client_order_id: ClientOrderId::new(&id).unwrap(),
                params,
                seed: self.parents,
            },
        };
        self.eng.on_command(self.now, &cmd, &mut self.out).unwrap();
        self.settle();
    }

    /// Runs until the journal holds `n` records, with up to `live` parents
    /// working at once.
    fn run(&mut self, n: u64, live: u32) {
        while self.rec.last_seq() < n {
            self.now = self.now + Nanos(1_000);
            if self.eng.live_parents() < live {
                self.new_parent();
                continue;
            }
            match self.events.pop_front() {
                Some(ev) => {
                    self.soup += 1;
                    self.eng
                        .on_order_event(self.now, self.soup, &ev, &mut self.out)
                        .unwrap();
                    self.settle();
                }
                None => {
                    self.eng.poll(self.now, &mut self.out);
                    self.settle();
                }
            }
        }
    }
}

/// Writes a journal of at least `n` records into `dir`; returns the
/// engine's snapshot bytes at the end and the time it took.
fn generate(dir: &Path, n: u64, snapshot_every: u64) -> (Vec<u8>, Duration) {
    let _ = std::fs::remove_dir_all(dir);
    let jopts = with_snapshots(JournalOptions::default(), snapshot_every);
    let t = Instant::now();
    let mut g = Gen::new(dir, jopts);
    g.run(n, 100);
    g.rec.wait_snapshot().unwrap();
    let mut s = Vec::new();
    g.eng.snapshot(&mut s);
    (s, t.elapsed())
}

/// An engine with `n` live parents, each with a live child partly filled.
fn busy_engine(n: u32) -> Engine {
    let cfg = config();
    let mut eng = Engine::with_options(&cfg, opts());
    let mut out = Outbox::with_capacity(64);
    let mut now = Nanos::from_ms(1);
    let q = Quote {
        symbol: SYMBOL,
        bid: Some(Level {
            price: Price4(100_0000),
            qty: Qty(500),
        }),
        ask: Some(Level {
            price: Price4(100_0100),
            qty: Qty(500),
        }),
        exch_ts: 0,
        rx_ts: now,
    };
    eng.on_quote(now, &q, &mut out);
    eng.on_session(now, true, &mut out);
    out.clear();
    let mut soup = 0;
    for i in 0..u64::from(n) {
        now = now + Nanos(1_000);
        let mut id = *b"busy-0000000";
        let mut v = i;
        for d in id[5..].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        let cmd = Command {
            correlation: i,
            kind: CommandKind::NewIceberg {
                client_order_id: ClientOrderId::new(&id).unwrap(),
                params: IcebergParams {
                    symbol: SYMBOL,
                    side: Side::Buy,
                    total: Qty(10_000),
                    display: Qty(100),
                    variance_ppm: 200_000,
                    limit: Price4(100_0200),
                    min_delay_ms: 1,
                    max_delay_ms: 5,
                    tif: TimeInForce::Day,
                    peg: false,
                },
                seed: i,
            },
        };
        eng.on_command(now, &cmd, &mut out).unwrap();
        let sends: Vec<OrderRequest> = out
            .drain()
            .filter_map(|a| match a {
                Action::Send(s) => Some(s),
                _ => None,
            })
            .collect();
        for s in sends {
            if let OrderRequest::Enter {
                order,
                tag,
                side,
                qty,
                symbol,
                price,
                ..
            } = s
            {
                for ev in [
                    OrderEvent::Accepted {
                        ts: now.0,
                        order,
                        tag: Some(tag),
                        side,
                        qty,
                        symbol,
                        price,
                        venue_order_ref: u64::from(order.0),
                        live: true,
                    },
                    OrderEvent::Executed {
                        ts: now.0,
                        order,
                        qty: Qty(qty.0 / 2),
                        price,
                        liquidity: b'A',
                        match_number: soup + 1,
                    },
                ] {
                    soup += 1;
                    eng.on_order_event(now, soup, &ev, &mut out).unwrap();
                    out.clear();
                }
            }
        }
    }
    assert_eq!(eng.live_parents(), n);
    eng
}

// ---------------------------------------------------------------------------
// Plain loops (callgrind)
// ---------------------------------------------------------------------------

#[inline(never)]
fn record_loop(rec: &mut Recorder, n: u64) {
    for i in 0..n {
        black_box(rec.record(black_box(&intent(i))).unwrap());
    }
}

#[inline(never)]
fn append_loop(j: &mut Journal, payload: &[u8], n: u64) {
    for _ in 0..n {
        black_box(j.append(0x0104, black_box(payload)).unwrap());
    }
}

#[inline(never)]
fn encode_append_loop(j: &mut Journal, n: u64) {
    for i in 0..n {
        let r = intent(i);
        let mut b = [0u8; MAX_RECORD_LEN];
        let len = r.encode(&mut b).unwrap();
        black_box(j.append(r.record_type(), &b[..len]).unwrap());
    }
}

fn run_plain(name: &str, n: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    match name {
        "record" => {
            let (mut rec, _, _) =
                Recorder::open_with(&config(), opts(), &dir, sized(n, 56)).unwrap();
            record_loop(&mut rec, n);
        }
        "append" => {
            let (mut j, _) = Journal::open(&dir, sized(n, 56)).unwrap();
            let mut b = [0u8; MAX_RECORD_LEN];
            let len = intent(0).encode(&mut b).unwrap();
            append_loop(&mut j, &b[..len], n);
        }
        "encode_append" => {
            let (mut j, _) = Journal::open(&dir, sized(n, 56)).unwrap();
            encode_append_loop(&mut j, n);
        }
        "recover" => {
            let n: u64 = std::env::var("FLOE_BENCH_RECORDS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(10_000_000);
            let every: u64 = std::env::var("FLOE_BENCH_SNAPSHOT_EVERY")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            // FLOE_BENCH_DIR keeps the journal between runs (to profile the
            // open alone): generated only when the directory does not exist.
            let keep = std::env::var_os("FLOE_BENCH_DIR").map(std::path::PathBuf::from);
            let dir = keep.clone().unwrap_or(dir);
            let want = if keep.as_ref().is_some_and(|d| d.exists()) {
                None
            } else {
                let (want, took) = generate(&dir, n, every);
                println!(
                    "generated {n} records (snapshot_every {every}) in {:.1} s",
                    took.as_secs_f64()
                );
                Some(want)
            };
            for _ in 0..3 {
                let jopts = with_snapshots(JournalOptions::default(), every);
                let (rec, eng, report) =
                    Recorder::open_with(&config(), opts(), &dir, jopts).unwrap();
                let mut got = Vec::new();
                eng.snapshot(&mut got);
                if let Some(want) = &want {
                    assert_eq!(&got, want, "recovered state differs from the run's");
                }
                println!("{report}");
                drop(rec);
            }
        }
        other => panic!("unknown scenario {other}"),
    }
}

// ---------------------------------------------------------------------------
// The report (FLOE_BENCH_SCENARIO=report): paced append latency of the
// Recorder and the raw journal, the durable peers, `sync = always`, and
// recovery of 10 M records, in one run, printed as Markdown
// ---------------------------------------------------------------------------

/// The report's knobs, from the environment.
struct ReportArgs {
    rate: f64,
    seconds: f64,
    peer_records: u64,
    recovery_records: u64,
    warm_seconds: f64,
    dir: PathBuf,
    /// `latency` or `recovery`: only that part.
    only: Option<String>,
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("{name}={s}: not a number")),
        Err(_) => default,
    }
}

impl ReportArgs {
    fn from_env() -> ReportArgs {
        ReportArgs {
            rate: env_or("FLOE_BENCH_RATE", 2_400_000.0),
            seconds: env_or("FLOE_BENCH_SECONDS", 5.0),
            peer_records: env_or("FLOE_BENCH_PEER_RECORDS", 2_000),
            recovery_records: env_or("FLOE_BENCH_RECORDS", 10_000_000),
            warm_seconds: 0.5,
            only: std::env::var("FLOE_BENCH_ONLY").ok(),
            dir: std::env::var_os("FLOE_BENCH_TMP")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir),
        }
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

fn ns(d: Duration) -> u64 {
    d.as_nanos().min(u128::from(u64::MAX)) as u64
}

/// One row of a latency table: service time (the call alone) and the
/// latency corrected for coordinated omission at the target rate.
struct Lat {
    name: String,
    service: Histogram<u64>,
    corrected: Histogram<u64>,
    /// Records per second achieved (paced) or sustainable (back to back).
    rate: f64,
    note: String,
}

fn quantiles(h: &Histogram<u64>) -> String {
    format!(
        "{} | {} | {} | {}",
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    )
}

fn lat_table(title: &str, corrected: &str, rows: &[Lat]) {
    println!("\n### {title}\n");
    println!(
        "| ns | records | service p50 | p99 | p99.9 | max | {corrected} p50 | p99 | p99.9 | max | records/s | note |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {:.0} | {} |",
            r.name,
            r.service.len(),
            quantiles(&r.service),
            quantiles(&r.corrected),
            r.rate,
            r.note
        );
    }
}

/// Runs `f` on a new thread pinned to the last core (given the core).
fn on_last_core<R: Send>(f: impl FnOnce(Option<usize>) -> R + Send) -> R {
    std::thread::scope(|s| {
        s.spawn(|| f(pin_last_core()))
            .join()
            .expect("the pinned thread panicked")
    })
}

/// The first three fields of `/proc/loadavg` (other tenants' load skews
/// every wall-clock figure).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn pin_last_core() -> Option<usize> {
    let ids = core_affinity::get_core_ids()?;
    let last = *ids.last()?;
    core_affinity::set_for_current(last).then_some(last.id)
}

/// Journal options of the paced runs: the default 64 MiB segments (rolls
/// are part of what is measured), no snapshots, the journal's background
/// thread on the first core (the appending thread is on the last).
fn paced_opts(sync: SyncPolicy, cores: usize) -> JournalOptions {
    let mut o = JournalOptions::default().with_sync(sync);
    o.snapshot_every = 0;
    o.worker_core = (cores > 1).then_some(0);
    o
}

/// Calls `op(prep(i))` at `rate` per second for `seconds` after a warm-up
/// of `warm_seconds`, each call timed alone (service) and from the moment it was due
/// (response: a call delayed by a stalled predecessor counts the stall, so
/// the histogram has no coordinated omission). `prep` is not timed.
fn paced<T>(
    name: &str,
    (rate, seconds, warm_seconds): (f64, f64, f64),
    mut prep: impl FnMut(u64) -> T,
    mut op: impl FnMut(T),
) -> Lat {
    let interval = 1e9 / rate;
    let warm = (rate * warm_seconds) as u64;
    let n = warm + (rate * seconds) as u64;
    let mut service = hist();
    let mut response = hist();
    let (mut late, mut slow) = (0u64, 0u64);
    let start = Instant::now() + Duration::from_millis(10);
    let mut measured_from = start;
    for i in 0..n {
        let x = prep(i);
        let due = start + Duration::from_nanos((i as f64 * interval) as u64);
        let mut now = Instant::now();
        if i >= warm && now > due {
            late += 1;
        }
        while now < due {
            std::hint::spin_loop();
            now = Instant::now();
        }
        op(x);
        let t1 = Instant::now();
        if i == warm {
            measured_from = due;
        }
        if i >= warm {
            let s = ns(t1 - now);
            slow += u64::from(s > 10_000);
            service.record(s.max(1)).unwrap();
            response.record(ns(t1 - due).max(1)).unwrap();
        }
    }
    let took = measured_from.elapsed().as_secs_f64();
    Lat {
        name: name.to_string(),
        rate: (n - warm) as f64 / took,
        note: format!("{late} started late, {slow} over 10 µs"),
        service,
        corrected: response,
    }
}

/// `n` calls of `op` back to back, each timed; the corrected histogram is
/// hdrhistogram's correction for the interval of `rate` (what callers
/// arriving at that rate would have seen behind each call).
fn back_to_back(name: &str, n: u64, rate: f64, mut op: impl FnMut(u64)) -> Lat {
    let interval = (1e9 / rate).max(1.0) as u64;
    let mut service = hist();
    let mut corrected = hist();
    let t = Instant::now();
    for i in 0..n {
        let t0 = Instant::now();
        op(i);
        let s = ns(t0.elapsed()).max(1);
        service.record(s).unwrap();
        corrected.record_correct(s, interval).unwrap();
    }
    Lat {
        name: name.to_string(),
        rate: n as f64 / t.elapsed().as_secs_f64(),
        note: "back to back".into(),
        service,
        corrected,
    }
}

fn venue_accepted(i: u64) -> Record {
    Record::VenueEvent {
        at: Nanos(i),
        soup_seq: i + 1,
        event: OrderEvent::Accepted {
            ts: i,
            order: OrderRef(i as u32 + 1),
            tag: Some(ChildTag {
                parent: 7,
                child: (i % 1_000_000) as u32 + 1,
            }),
            side: Side::Sell,
            qty: Qty(100),
            symbol: SYMBOL,
            price: Price4(100_0100),
            venue_order_ref: i,
            live: true,
        },
    }
}

fn raw_payload(i: u64) -> [u8; 64] {
    let mut p = [0x5Au8; 64];
    p[..8].copy_from_slice(&i.to_le_bytes());
    p
}

fn preallocated(path: &Path, len: u64) -> File {
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    // SAFETY: fallocate reads only its integer arguments; `f` owns the fd.
    let rc = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, len as libc::off_t) };
    assert_eq!(rc, 0, "fallocate {}", path.display());
    f.sync_all().unwrap();
    f
}

/// Writes back and drops the directory's files from the page cache (as
/// after a reboot).
fn evict(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if !p.is_file() {
            continue;
        }
        let f = File::open(&p).unwrap();
        f.sync_all().unwrap();
        // SAFETY: posix_fadvise reads only its integer arguments; `f` owns the fd.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    }
}

fn ratio(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}×")
    } else {
        format!("{x:.2}×")
    }
}

fn fresh(root: &Path, name: &str) -> PathBuf {
    let d = root.join(name);
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn report(a: &ReportArgs) {
    let root = tempfile::tempdir_in(&a.dir).unwrap();
    let r = root.path();
    // Read before any thread is pinned: the mask of this thread.
    let cores = core_affinity::get_core_ids().map_or(1, |c| c.len());
    let date = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let date = &date[..10];
    println!(
        "# recorder report, {date}: {cores} cores, load average {}, files in {}",
        load_average(),
        r.display()
    );
    let mut t = hist();
    for _ in 0..1_000_000 {
        let a = Instant::now();
        let b = Instant::now();
        t.record(ns(b - a).max(1)).unwrap();
    }
    println!(
        "timer: Instant::now() twice p50 {} ns, p99 {} ns (included in every figure below)",
        t.value_at_quantile(0.5),
        t.value_at_quantile(0.99)
    );

    // 1. and 2. on a thread of their own pinned to the last core (the
    // journal's background thread goes to the first); recovery runs
    // unpinned, its replay using both cores.
    let run_latency = a.only.as_deref().is_none_or(|o| o == "latency");
    let run_recovery = a.only.as_deref().is_none_or(|o| o == "recovery");
    let (none, durable) = if run_latency {
        on_last_core(|core| {
            println!("appending thread pinned to core {core:?}");
            // 1. sync = none, paced.
            let mut none = Vec::new();
            {
                let dir = fresh(r, "paced-journal");
                let (mut j, _) = Journal::open(&dir, paced_opts(SyncPolicy::None, cores)).unwrap();
                j.warm_up().unwrap();
                let mut l = paced(
                    "`Journal::append`, 64 B payload (88 B record)",
                    (a.rate, a.seconds, a.warm_seconds),
                    raw_payload,
                    |p| {
                        black_box(j.append(1, &p).unwrap());
                    },
                );
                l.note += &format!(", {} segments", j.position().0);
                assert_eq!(j.background_error(), None);
                none.push(l);
                drop(j);
                std::fs::remove_dir_all(&dir).unwrap();
            }
            for (name, make, len) in [
                (
                    "`Recorder::record`, child intent, 56 B payload (80 B record)",
                    intent as fn(u64) -> Record,
                    56usize,
                ),
                (
                    "`Recorder::record`, venue accepted, 65 B payload (96 B record)",
                    venue_accepted,
                    65,
                ),
            ] {
                assert_eq!(make(0).encoded_len(), len);
                let dir = fresh(r, "paced-recorder");
                let (mut rec, _, _) = Recorder::open_with(
                    &config(),
                    opts(),
                    &dir,
                    paced_opts(SyncPolicy::None, cores),
                )
                .unwrap();
                rec.warm_up().unwrap();
                let mut l = paced(name, (a.rate, a.seconds, a.warm_seconds), make, |x| {
                    black_box(rec.record(&x).unwrap());
                });
                l.note += &format!(", {} segments", rec.journal().position().0);
                assert_eq!(rec.journal().background_error(), None);
                none.push(l);
                drop(rec);
                std::fs::remove_dir_all(&dir).unwrap();
            }
            lat_table(
                &format!(
                "sync = none, paced at {:.0} records/s for {} s (+{} s warm-up), 64 MiB segments",
                a.rate, a.seconds, a.warm_seconds
            ),
                "from schedule",
                &none,
            );

            // 2. Durable: the peers and sync = always, back to back.
            let n = a.peer_records;
            let mut durable = Vec::new();
            {
                let mut f = OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .write(true)
                    .open(r.join("write.dat"))
                    .unwrap();
                durable.push(back_to_back(
                    "peer: `write` + `fdatasync`, 64 B, ordinary file",
                    n,
                    a.rate,
                    |i| {
                        f.write_all(&raw_payload(i)).unwrap();
                        f.sync_data().unwrap();
                    },
                ));
                let f = preallocated(&r.join("pwrite.dat"), 64 << 20);
                durable.push(back_to_back(
                    "peer: `pwrite` + `fdatasync`, 64 B, `fallocate`d file",
                    n,
                    a.rate,
                    |i| {
                        f.write_all_at(&raw_payload(i), i * 64).unwrap();
                        f.sync_data().unwrap();
                    },
                ));
            }
            {
                let dir = fresh(r, "always-journal");
                let (mut j, _) =
                    Journal::open(&dir, paced_opts(SyncPolicy::Always, cores)).unwrap();
                j.warm_up().unwrap();
                durable.push(back_to_back(
                    "`Journal::append`, 64 B, sync = always",
                    n,
                    a.rate,
                    |i| {
                        let seq = j.append(1, &raw_payload(i)).unwrap();
                        assert_eq!(j.synced_seq(), seq);
                    },
                ));
                drop(j);
                let dir = fresh(r, "always-recorder");
                let (mut rec, _, _) = Recorder::open_with(
                    &config(),
                    opts(),
                    &dir,
                    paced_opts(SyncPolicy::Always, cores),
                )
                .unwrap();
                rec.warm_up().unwrap();
                durable.push(back_to_back(
                    "`Recorder::record`, child intent 56 B, sync = always",
                    n,
                    a.rate,
                    |i| {
                        let seq = rec.record(&intent(i)).unwrap();
                        assert_eq!(rec.journal().synced_seq(), seq);
                    },
                ));
            }
            lat_table(
                &format!(
                    "durable, {n} back to back (cannot be paced at {:.0}/s)",
                    a.rate
                ),
                &format!("corrected at {:.0}/s", a.rate),
                &durable,
            );
            (none, durable)
        })
    } else {
        (Vec::new(), Vec::new())
    };

    let recovered = if run_recovery {
        // 3. Recovery of N records through the Recorder.
        let n = a.recovery_records;
        let dir = fresh(r, "recovery");
        let (want, took) = generate(&dir, n, 0);
        let (files, bytes) = std::fs::read_dir(&dir).unwrap().fold((0, 0), |(f, b), e| {
            let m = e.unwrap().metadata().unwrap();
            (f + 1, b + m.len())
        });
        println!(
            "\n### recovery of {n} records: an engine run (icebergs of 10,000 in slices of 100, 100 live), no snapshot\n\n\
             written in {:.1} s; {files} files, {:.0} MiB; then opened as after a process crash (files in the page cache) and after a reboot (evicted)\n",
            took.as_secs_f64(),
            bytes as f64 / f64::from(1 << 20)
        );
        println!(
            "| run | `Recorder::open` s | journal scan s | replay s | records/s | peer: `Journal::open` + iteration s | peer: `Journal::open` + decode + apply by hand s |"
        );
        println!("|---|---|---|---|---|---|---|");
        let mut best = f64::MAX;
        let mut peer_best = f64::MAX;
        let mut single_best = f64::MAX;
        for run in 0..4 {
            let cold = run == 3;
            if cold {
                evict(&dir);
            }
            let jopts = with_snapshots(JournalOptions::default(), 0);
            let (rec, eng, rep) =
                Recorder::open_with(&config(), opts(), &dir, jopts.clone()).unwrap();
            assert_eq!(rep.last_seq, rep.records_replayed);
            assert!(rep.last_seq >= n && rep.bytes_cut == 0, "{rep}");
            let mut got = Vec::new();
            eng.snapshot(&mut got);
            assert_eq!(got, want, "recovered state differs from the run's");
            drop((rec, eng));
            if cold {
                evict(&dir);
            }
            let t = Instant::now();
            let (j, rc) = Journal::open(&dir, jopts.clone()).unwrap();
            let mut count = 0u64;
            for x in rc.records() {
                black_box(x.payload);
                count += 1;
            }
            assert_eq!(count, rep.last_seq);
            let peer = t.elapsed().as_secs_f64();
            drop((rc, j));
            // What `Recorder::open` does, by hand: decode and apply each record.
            if cold {
                evict(&dir);
            }
            let t = Instant::now();
            let (j, rc) = Journal::open(&dir, jopts.clone()).unwrap();
            let mut e1 = Engine::with_options(&config(), opts());
            for x in rc.records() {
                e1.apply(&Record::decode(x.rec_type, x.payload).unwrap())
                    .unwrap();
            }
            let single = t.elapsed().as_secs_f64();
            drop((rc, j, e1));
            let e = rep.elapsed.as_secs_f64();
            if !cold {
                best = best.min(e);
                peer_best = peer_best.min(peer);
                single_best = single_best.min(single);
            }
            println!(
                "| {} | {e:.3} | {:.3} | {:.3} | {:.2} M | {peer:.3} | {single:.3} |",
                if cold {
                    "evicted".to_string()
                } else {
                    format!("page cache {run}")
                },
                rep.journal_time.as_secs_f64(),
                rep.replay_time.as_secs_f64(),
                rep.records_replayed as f64 / e / 1e6,
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
        Some((n, best, peer_best, single_best))
    } else {
        None
    };

    // The rows for BENCHMARKS.md.
    let cmd = "`FLOE_BENCH_SCENARIO=report cargo bench --bench recorder`";
    let us = |v: u64| format!("{:.2} µs", v as f64 / 1e3);
    println!(
        "\n### rows for BENCHMARKS.md (load average now {})\n",
        load_average()
    );
    println!("| metric | floe | peer (same run) | ratio | goal | met? | command | date |");
    println!("|---|---|---|---|---|---|---|---|");
    if let Some(pwrite) = durable.get(1) {
        for l in &none {
            let p999 = l.corrected.value_at_quantile(0.999);
            let peer = pwrite.service.value_at_quantile(0.999);
            println!(
                "| {}, sync=none, paced {:.1} M/s: p50/p99/p99.9/max from schedule | {}/{}/{}/{} ns | pwrite+fdatasync p99.9 {} | {} (pwrite ÷ floe) | p99.9 ≤ 1 µs | {} | {cmd} | {date} |",
                l.name,
                a.rate / 1e6,
                l.corrected.value_at_quantile(0.5),
                l.corrected.value_at_quantile(0.99),
                p999,
                l.corrected.max(),
                us(peer),
                ratio(peer as f64 / p999 as f64),
                if p999 <= 1_000 { "yes" } else { "no" }
            );
        }
        for l in &durable[2..] {
            let p50 = l.service.value_at_quantile(0.5);
            let peer = pwrite.service.value_at_quantile(0.5);
            println!(
                "| cost of sync=always: {} p50/p99/p99.9/max | {}/{}/{}/{} | pwrite+fdatasync p50 {} | {} (floe ÷ pwrite) | — | — | {cmd} | {date} |",
                l.name,
                us(p50),
                us(l.service.value_at_quantile(0.99)),
                us(l.service.value_at_quantile(0.999)),
                us(l.service.max()),
                us(peer),
                ratio(p50 as f64 / peer as f64),
            );
        }
    }
    if let Some((n, best, peer_best, single_best)) = recovered {
        println!(
            "| recovery of {n} records via `Recorder::open` (scan + replay through the engine), page cache, best of 3 | {best:.3} s | `Journal::open` + iteration {peer_best:.3} s (+ decode and apply by hand: {single_best:.3} s) | {} (floe ÷ peer) | ≤ 2 s | {} | {cmd} | {date} |",
            ratio(best / peer_best),
            if best <= 2.0 { "yes" } else { "no" }
        );
    }
}

// ---------------------------------------------------------------------------
// criterion
// ---------------------------------------------------------------------------

fn record(c: &mut Criterion) {
    let mut g = c.benchmark_group("recorder");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("record_child_intent", |b| {
        b.iter_custom(|iters| {
            let tmp = tempfile::tempdir().unwrap();
            let (mut rec, _, _) =
                Recorder::open_with(&config(), opts(), tmp.path(), sized(iters, 56)).unwrap();
            let t = Instant::now();
            record_loop(&mut rec, iters);
            t.elapsed()
        })
    });
    g.bench_function("journal_append_56B", |b| {
        b.iter_custom(|iters| {
            let tmp = tempfile::tempdir().unwrap();
            let (mut j, _) = Journal::open(tmp.path(), sized(iters, 56)).unwrap();
            j.warm_up().unwrap();
            let mut buf = [0u8; MAX_RECORD_LEN];
            let len = intent(0).encode(&mut buf).unwrap();
            let t = Instant::now();
            append_loop(&mut j, &buf[..len], iters);
            t.elapsed()
        })
    });
    g.bench_function("encode_then_append", |b| {
        b.iter_custom(|iters| {
            let tmp = tempfile::tempdir().unwrap();
            let (mut j, _) = Journal::open(tmp.path(), sized(iters, 56)).unwrap();
            j.warm_up().unwrap();
            let t = Instant::now();
            encode_append_loop(&mut j, iters);
            t.elapsed()
        })
    });
    g.finish();
}

fn snapshot(c: &mut Criterion) {
    let mut g = c.benchmark_group("snapshot");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(3));
    let eng = busy_engine(1_000);
    let mut buf = Vec::new();
    eng.snapshot(&mut buf);
    println!("snapshot of 1,000 live parents: {} bytes", buf.len());
    g.bench_function("serialize_1000_parents", |b| {
        b.iter(|| {
            buf.clear();
            eng.snapshot(&mut buf);
            black_box(buf.len())
        })
    });
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(tmp.path(), JournalOptions::default()).unwrap();
    let mut seq = 0;
    g.bench_function("write_1000_parents", |b| {
        b.iter(|| {
            seq = j.append(1, b"x").unwrap();
            black_box(j.write_snapshot(seq, &buf).unwrap())
        })
    });
    g.finish();
}

fn recovery(c: &mut Criterion) {
    let mut g = c.benchmark_group("recovery");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    let tmp = tempfile::tempdir().unwrap();
    for (name, n, every) in [
        ("recorder_open_1M", 1_000_000u64, 0u64),
        ("recorder_open_10M", 10_000_000, 0),
        ("recorder_open_10M_snapshot_every_100k", 10_000_000, 100_000),
    ] {
        let dir = tmp.path().join(name);
        let (want, took) = generate(&dir, n, every);
        println!("{name}: {n} records written in {:.1} s", took.as_secs_f64());
        let jopts = with_snapshots(JournalOptions::default(), every);
        g.throughput(Throughput::Elements(n));
        g.bench_with_input(BenchmarkId::from_parameter(name), &dir, |b, dir| {
            b.iter(|| {
                let (rec, eng, report) =
                    Recorder::open_with(&config(), opts(), dir, jopts.clone()).unwrap();
                assert!(report.last_seq >= n);
                drop(rec);
                black_box(eng)
            })
        });
        let (_, eng, report) = Recorder::open_with(&config(), opts(), &dir, jopts).unwrap();
        let mut got = Vec::new();
        eng.snapshot(&mut got);
        assert_eq!(got, want, "{name}: recovered state differs from the run's");
        println!("{name}: {report}");
        if n == 10_000_000 && every == 0 {
            g.bench_with_input(
                BenchmarkId::from_parameter("journal_open_10M"),
                &dir,
                |b, dir| {
                    b.iter(|| {
                        let (j, rec) = Journal::open(dir, JournalOptions::default()).unwrap();
                        let mut bytes = 0usize;
                        for r in rec.records() {
                            bytes += r.payload.len();
                        }
                        drop(j);
                        black_box(bytes)
                    })
                },
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    g.finish();
}

fn main() {
    if let Ok(name) = std::env::var("FLOE_BENCH_SCENARIO") {
        if name == "report" {
            report(&ReportArgs::from_env());
            return;
        }
        let n = std::env::var("FLOE_BENCH_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000);
        run_plain(&name, n);
        return;
    }
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets`: write a small journal the way the
        // benchmark does, recover it, compare, and stop.
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("j");
        let (want, _) = generate(&dir, 20_000, 3_000);
        let jopts = with_snapshots(JournalOptions::default(), 3_000);
        let (_, eng, rep) = Recorder::open_with(&config(), opts(), &dir, jopts).unwrap();
        let mut got = Vec::new();
        eng.snapshot(&mut got);
        assert_eq!(got, want, "recovered state differs from the run's");
        assert!(rep.snapshot_seq.is_some(), "{rep}");
        println!("recorder bench: {rep} (run `cargo bench` to measure)");
        // And the report's code paths, tiny (the figures mean nothing here).
        report(&ReportArgs {
            rate: 100_000.0,
            seconds: 0.02,
            peer_records: 20,
            recovery_records: 20_000,
            warm_seconds: 0.01,
            dir: std::env::temp_dir(),
            only: None,
        });
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    record(&mut c);
    snapshot(&mut c);
    recovery(&mut c);
    c.final_summary();
}
