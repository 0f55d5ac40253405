//! Engine cost per event, outputs included.
//!
//! - `quote/unchanged`: a top-of-book update on a symbol with 10 live
//!   icebergs (100 parents on 10 symbols, half pegged) that moves no child;
//! - `quote/reprice`: the bid moves and the symbol's 5 pegged children are
//!   re-priced (5 Replace intents), plus the 5 `Replaced` reports that
//!   settle them: 6 events per iteration;
//! - `fill/next_slice`: a fill that completes the live child and releases
//!   the next slice with zero delay, the tick-to-trade core (journal records
//!   encoded as the runtime would, send, status);
//! - `command/query`, `command/amend`, `command/new_cancel` (accept a parent,
//!   send its first child, cancel it and settle the venue's cancel: 3
//!   events);
//! - peer, same run: `peer/venue_enter_cancel`, the venue's matching engine
//!   taking one Enter that rests and its Cancel (2 requests), i.e. the other
//!   end of the orders measured above.
//!
//! With `FLOE_BENCH_SCENARIO=<name>` and `FLOE_BENCH_ITERS=<n>` the binary
//! runs one scenario `n` times without criterion, for instruction counts:
//! `valgrind --tool=callgrind` at two values of `n`, and divide the
//! difference (see BENCHMARKS.md).

use criterion::{criterion_group, Criterion, Throughput};
use floe::algo::iceberg::IcebergParams;
use floe::config::Config;
use floe::engine::record::MAX_RECORD_LEN;
use floe::engine::{Action, ClientOrderId, Command, CommandKind, Engine, EngineOptions, Outbox};
use floe::order::{CancelReason, OrderEvent, OrderRef, OrderRequest, TimeInForce};
use floe::time::Nanos;
use floe::types::{Level, Price4, Qty, Quote, Side, Symbol};
use std::hint::black_box;

fn config() -> Config {
    let mut c = Config::default();
    c.pools.parents = 256;
    c.pools.children = 512;
    c.pools.client_order_ids = 1 << 17;
    c.book.symbols = 16;
    c.risk.max_live_parents = 200;
    c.risk.max_child_qty = 1_000_000;
    c.risk.max_parent_notional = u64::MAX / 20_000;
    c.risk.position_limit = u64::MAX / 4;
    c.risk.child_orders_per_sec = u32::MAX;
    c.risk.child_orders_burst = u32::MAX;
    c.risk.price_collar_percent = 50;
    c
}

fn sym(i: usize) -> Symbol {
    let mut b = *b"SYM00   ";
    b[3] = b'0' + (i / 10) as u8;
    b[4] = b'0' + (i % 10) as u8;
    Symbol(b)
}

fn quote(i: usize, bid: u32, now: Nanos) -> Quote {
    Quote {
        symbol: sym(i),
        bid: Some(Level {
            price: Price4(bid),
            qty: Qty(500),
        }),
        ask: Some(Level {
            price: Price4(bid + 200),
            qty: Qty(500),
        }),
        exch_ts: now.0,
        rx_ts: now,
    }
}

fn coid(n: u64) -> ClientOrderId {
    let mut b = [b'0'; 20];
    let mut v = n;
    for d in b.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    ClientOrderId::new(&b).unwrap()
}

/// An engine, its outbox, a clock, and the live child of each parent as the
/// venue would see it.
struct Bench {
    eng: Engine,
    out: Outbox,
    now: Nanos,
    seq: u64,
    corr: u64,
    buf: [u8; MAX_RECORD_LEN],
    /// Last order ref sent per parent id (index), and its open shares.
    child: Vec<(OrderRef, u32)>,
    replaces: Vec<(OrderRef, OrderRef, u32, u32)>,
    next_coid: u64,
}

impl Bench {
    fn new() -> Bench {
        let cfg = config();
        let mut b = Bench {
            eng: Engine::with_options(
                &cfg,
                EngineOptions {
                    account_query: false,
                },
            ),
            out: Outbox::with_capacity(1024),
            now: Nanos::from_secs(1),
            seq: 0,
            corr: 0,
            buf: [0; MAX_RECORD_LEN],
            child: vec![(OrderRef(0), 0); 1 << 16],
            replaces: Vec::with_capacity(64),
            next_coid: 0,
        };
        b.eng.on_session(b.now, true, &mut b.out);
        b.flush();
        b
    }

    /// Processes the outbox as the runtime would: encode journal records,
    /// note sends.
    fn flush(&mut self) {
        for a in self.out.iter() {
            match *a {
                Action::Journal(r) => {
                    // Into exactly `encoded_len` bytes, as `Recorder::record`
                    // encodes into the journal's mapping.
                    let len = r.encoded_len().min(self.buf.len());
                    black_box(r.encode(&mut self.buf[..len]).ok());
                }
                Action::Send(s) => match s {
                    OrderRequest::Enter {
                        order, tag, qty, ..
                    } => {
                        if let Some(c) = self.child.get_mut(tag.parent as usize) {
                            *c = (order, qty.0);
                        }
                    }
                    OrderRequest::Replace {
                        old,
                        new,
                        qty,
                        price,
                        new_tag,
                        ..
                    } => {
                        if let Some(c) = self.child.get_mut(new_tag.parent as usize) {
                            c.0 = new;
                        }
                        self.replaces.push((old, new, qty.0, price.0));
                    }
                    _ => {}
                },
                Action::Reply { reply, .. } => {
                    black_box(reply);
                }
                Action::Status(s) => {
                    black_box(s.filled);
                }
            }
        }
        self.out.clear();
    }

    fn tick(&mut self) {
        self.now = self.now + Nanos(1_000);
    }

    fn event(&mut self, e: OrderEvent) {
        self.seq += 1;
        let seq = self.seq;
        let _ = self.eng.on_order_event(self.now, seq, &e, &mut self.out);
        self.flush();
    }

    fn command(&mut self, kind: CommandKind) {
        self.corr += 1;
        let c = Command {
            correlation: self.corr,
            kind,
        };
        let _ = self.eng.on_command(self.now, &c, &mut self.out);
        self.flush();
    }

    fn new_parent(&mut self, s: usize, total: u32, peg: bool) -> u32 {
        let params = IcebergParams {
            symbol: sym(s),
            side: Side::Buy,
            total: Qty(total),
            display: Qty(100),
            variance_ppm: 200_000,
            limit: Price4(100_0500),
            min_delay_ms: 0,
            max_delay_ms: 0,
            tif: TimeInForce::Day,
            peg,
        };
        self.next_coid += 1;
        let id = coid(self.next_coid);
        self.command(CommandKind::NewIceberg {
            client_order_id: id,
            params,
            seed: self.next_coid,
        });
        self.eng.live_parents()
    }

    fn accept(&mut self, parent: u32) {
        let (order, qty) = self.child[parent as usize];
        self.event(OrderEvent::Accepted {
            ts: 0,
            order,
            tag: None,
            side: Side::Buy,
            qty: Qty(qty),
            symbol: sym(0),
            price: Price4(0),
            venue_order_ref: 1,
            live: true,
        });
    }
}

/// 100 parents on 10 symbols, odd ones pegged, every child accepted.
fn hundred_parents() -> Bench {
    let mut b = Bench::new();
    for s in 0..10 {
        b.eng
            .on_quote(b.now, &quote(s, 100_0000, b.now), &mut b.out);
        b.flush();
    }
    for i in 0..100u32 {
        b.new_parent(i as usize % 10, 1_000_000, i % 2 == 1);
    }
    for p in 1..=100 {
        b.accept(p);
    }
    b
}

fn quote_unchanged(b: &mut Bench, i: u64) {
    b.tick();
    let s = (i % 10) as usize;
    // Sizes change, prices do not: no child moves.
    let mut q = quote(s, 100_0000, b.now);
    q.bid = Some(Level {
        price: Price4(100_0000),
        qty: Qty(100 + (i % 50) as u32),
    });
    b.eng.on_quote(b.now, &q, &mut b.out);
    b.flush();
}

fn quote_reprice(b: &mut Bench, i: u64) {
    b.tick();
    let s = (i % 10) as usize;
    let bid = if (i / 10).is_multiple_of(2) {
        100_0100
    } else {
        100_0000
    };
    b.eng.on_quote(b.now, &quote(s, bid, b.now), &mut b.out);
    b.flush();
    let n = b.replaces.len();
    for k in 0..n {
        let (old, new, qty, price) = b.replaces[k];
        b.event(OrderEvent::Replaced {
            ts: 0,
            old,
            order: new,
            tag: None,
            side: Side::Buy,
            qty: Qty(qty),
            symbol: sym(s),
            price: Price4(price),
            venue_order_ref: 2,
            live: true,
        });
    }
    b.replaces.clear();
}

struct FillState {
    parent: u32,
    children: u32,
}

fn fill_setup() -> (Bench, FillState) {
    let mut b = Bench::new();
    b.eng
        .on_quote(b.now, &quote(0, 100_0000, b.now), &mut b.out);
    b.flush();
    let parent = b.new_parent(0, 4_000_000_000, false);
    (
        b,
        FillState {
            parent,
            children: 1,
        },
    )
}

fn fill_next(b: &mut Bench, st: &mut FillState) {
    b.tick();
    let (order, qty) = b.child[st.parent as usize];
    b.event(OrderEvent::Executed {
        ts: 0,
        order,
        qty: Qty(qty),
        price: Price4(100_0500),
        liquidity: b'A',
        match_number: b.seq,
    });
    st.children += 1;
    if st.children >= 10_000_000 {
        // Child numbers stay below 62^4: start a fresh parent.
        b.command(CommandKind::Cancel { parent: st.parent });
        let (order, qty) = b.child[st.parent as usize];
        b.event(OrderEvent::Canceled {
            ts: 0,
            order,
            decrement: Qty(qty),
            reason: CancelReason {
                code: b'U',
                text: "",
            },
        });
        b.new_parent(0, 4_000_000_000, false);
        st.parent += 1;
        st.children = 1;
    }
}

fn command_query(b: &mut Bench, i: u64) {
    b.command(CommandKind::Query {
        parent: 1 + (i % 100) as u32,
    });
}

fn command_amend(b: &mut Bench, i: u64) {
    b.tick();
    let total = if i.is_multiple_of(2) {
        2_000_000
    } else {
        1_000_000
    };
    b.command(CommandKind::Amend {
        parent: 1 + (i % 100) as u32,
        total: Some(Qty(total)),
        limit: None,
    });
}

fn new_cancel(b: &mut Bench) {
    b.tick();
    b.new_parent(3, 1_000, false);
    // Parents are numbered from 1 in acceptance order, and every parent of
    // this bench is accepted.
    let pid = b.next_coid as u32;
    b.command(CommandKind::Cancel { parent: pid });
    let (order, qty) = b.child[pid as usize % b.child.len()];
    b.event(OrderEvent::Canceled {
        ts: 0,
        order,
        decrement: Qty(qty),
        reason: CancelReason {
            code: b'U',
            text: "",
        },
    });
}

fn new_cancel_bench() -> Bench {
    let mut b = Bench::new();
    b.eng
        .on_quote(b.now, &quote(3, 100_0000, b.now), &mut b.out);
    b.flush();
    b
}

/// Parents per fresh engine in `new_cancel` (the client_order_id index and
/// the id space are per engine).
const NEW_CANCEL_CHUNK: u64 = 60_000;

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("quote");
    g.throughput(Throughput::Elements(1));
    let mut b = hundred_parents();
    let mut i = 0u64;
    g.bench_function("unchanged", |bn| {
        bn.iter(|| {
            i += 1;
            quote_unchanged(&mut b, i)
        })
    });
    let mut b = hundred_parents();
    let mut i = 0u64;
    g.throughput(Throughput::Elements(6));
    g.bench_function("reprice", |bn| {
        bn.iter(|| {
            i += 1;
            quote_reprice(&mut b, i)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("fill");
    g.throughput(Throughput::Elements(1));
    let (mut b, mut st) = fill_setup();
    g.bench_function("next_slice", |bn| bn.iter(|| fill_next(&mut b, &mut st)));
    g.finish();

    let mut g = c.benchmark_group("command");
    g.throughput(Throughput::Elements(1));
    let mut b = hundred_parents();
    let mut i = 0u64;
    g.bench_function("query", |bn| {
        bn.iter(|| {
            i += 1;
            command_query(&mut b, i)
        })
    });
    let mut i = 0u64;
    g.bench_function("amend", |bn| {
        bn.iter(|| {
            i += 1;
            command_amend(&mut b, i)
        })
    });
    g.throughput(Throughput::Elements(3));
    g.bench_function("new_cancel", |bn| {
        bn.iter_custom(|iters| {
            let mut spent = std::time::Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(NEW_CANCEL_CHUNK);
                let mut b = new_cancel_bench();
                let t = std::time::Instant::now();
                for _ in 0..n {
                    new_cancel(&mut b);
                }
                spent += t.elapsed();
                left -= n;
            }
            spent
        })
    });
    g.finish();
}

struct Venue {
    m: floe::exchange::MatchingEngine,
    session: floe::exchange::SessionId,
    out: Vec<floe::exchange::VenueOutput>,
    next: u32,
}

fn venue() -> Venue {
    use floe::exchange::{MatchingConfig, MatchingEngine, SessionConfig, SessionName};
    let mut m = MatchingEngine::new(&MatchingConfig {
        symbols: vec![sym(0)],
        round_lot: 100,
        order_capacity: 1 << 12,
    });
    let session = m
        .add_session(SessionConfig {
            name: SessionName::new("FLOE01").unwrap(),
            dialect: floe::config::Dialect::Ouch50,
            cancel_on_disconnect: false,
            attribution: None,
        })
        .unwrap();
    let mut out = Vec::with_capacity(64);
    m.open(0, &mut out);
    out.clear();
    Venue {
        m,
        session,
        out,
        next: 1,
    }
}

fn venue_enter_cancel(v: &mut Venue) {
    let order = OrderRef(v.next);
    v.next += 1;
    let tag = floe::order::ChildTag {
        parent: 1,
        child: v.next,
    };
    let enter = OrderRequest::Enter {
        order,
        tag,
        side: Side::Buy,
        qty: Qty(100),
        symbol: sym(0),
        price: Price4(100_0000),
        tif: TimeInForce::Day,
    };
    v.m.handle(u64::from(v.next), v.session, &enter, &mut v.out);
    let cancel = OrderRequest::Cancel {
        order,
        tag,
        remaining: Qty(0),
    };
    v.m.handle(u64::from(v.next), v.session, &cancel, &mut v.out);
    black_box(v.out.len());
    v.out.clear();
}

fn peer(c: &mut Criterion) {
    let mut g = c.benchmark_group("peer");
    g.throughput(Throughput::Elements(2));
    let mut v = venue();
    g.bench_function("venue_enter_cancel", |bn| {
        bn.iter(|| venue_enter_cancel(&mut v))
    });
    g.finish();
}

criterion_group!(engine, benches, peer);

fn summary(name: &str, n: u64, b: &Bench, base: OrderRef) {
    if std::env::var_os("FLOE_BENCH_VERBOSE").is_some() {
        eprintln!(
            "{name}: {n} iterations, {} order refs minted, {} journal-worthy reports",
            b.eng.next_order_ref().0 - base.0,
            b.seq
        );
    }
}

/// One scenario `n` times, without criterion (for callgrind).
fn run_plain(name: &str, n: u64) {
    match name {
        "quote_unchanged" => {
            let mut b = hundred_parents();
            let base = b.eng.next_order_ref();
            for i in 0..n {
                quote_unchanged(&mut b, i);
            }
            summary(name, n, &b, base);
        }
        "quote_reprice" => {
            let mut b = hundred_parents();
            let base = b.eng.next_order_ref();
            for i in 0..n {
                quote_reprice(&mut b, i);
            }
            summary(name, n, &b, base);
        }
        "fill_next_slice" => {
            let (mut b, mut st) = fill_setup();
            let base = b.eng.next_order_ref();
            for _ in 0..n {
                fill_next(&mut b, &mut st);
            }
            summary(name, n, &b, base);
        }
        "command_query" => {
            let mut b = hundred_parents();
            for i in 0..n {
                command_query(&mut b, i);
            }
        }
        "command_amend" => {
            let mut b = hundred_parents();
            for i in 0..n {
                command_amend(&mut b, i);
            }
        }
        "command_new_cancel" => {
            // One engine even for n = 0, so that the difference of two runs
            // counts iterations only (within one chunk).
            let mut b = new_cancel_bench();
            for i in 0..n {
                if i > 0 && i % NEW_CANCEL_CHUNK == 0 {
                    b = new_cancel_bench();
                }
                new_cancel(&mut b);
            }
        }
        "peer_venue_enter_cancel" => {
            let mut v = venue();
            for _ in 0..n {
                venue_enter_cancel(&mut v);
            }
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn main() {
    if let Ok(name) = std::env::var("FLOE_BENCH_SCENARIO") {
        let n = std::env::var("FLOE_BENCH_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(100_000);
        run_plain(&name, n);
        return;
    }
    engine();
    Criterion::default().configure_from_args().final_summary();
}
