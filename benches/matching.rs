//! Orders per second through the venue's matching engine.
//!
//! - `flow_mix`: 100,000 pre-drawn synthetic-flow operations (60 % passive
//!   limit orders within ±10 ticks of the mid, 25 % marketable IOCs at the
//!   opposite touch, 15 % cancels of a random resting order) on one symbol.
//! - `session_enter_cancel`: OUCH 5.0 session orders (enter, then cancel every
//!   other one) against a book of 2,000 resting flow orders: the path with
//!   reports and audit records.
//! - `flow_generator`: the synthetic flow generator driving the engine for
//!   10 simulated seconds at 20,000 events/s.
//!
//! Peer in the same run: `vec_push_baseline` copies the same operations into
//! a `Vec` (the floor of any per-operation work).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use floe::config::Dialect;
use floe::exchange::{
    Flow, FlowConfig, FlowHandle, FlowOrder, FlowSymbol, MatchingConfig, MatchingEngine,
    SessionConfig, SessionName, VenueOutput,
};
use floe::order::{ChildTag, OrderRef, OrderRequest, TimeInForce};
use floe::types::{Price4, Qty, Side, Symbol};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

const OPS: usize = 100_000;
const MID: u32 = 1_000_000;
const TICK: u32 = 100;

#[derive(Clone, Copy)]
enum Op {
    Passive(Side, u32, u32),
    Marketable(Side, u32),
    Cancel(usize),
}

fn sym() -> Symbol {
    Symbol::new("BENCH").unwrap()
}

fn ops() -> Vec<Op> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    (0..OPS)
        .map(|_| {
            let side = if rng.random_range(0..2u32) == 0 {
                Side::Buy
            } else {
                Side::Sell
            };
            let qty = rng.random_range(1..=5u32) * 100;
            match rng.random_range(0..100u32) {
                0..60 => {
                    let behind = rng.random_range(0..10u32) * TICK;
                    let price = match side {
                        Side::Buy => MID - TICK - behind,
                        Side::Sell => MID + TICK + behind,
                    };
                    Op::Passive(side, qty, price)
                }
                60..85 => Op::Marketable(side, qty),
                _ => Op::Cancel(rng.random_range(0..usize::MAX)),
            }
        })
        .collect()
}

fn engine() -> MatchingEngine {
    MatchingEngine::new(&MatchingConfig {
        symbols: vec![sym()],
        round_lot: 100,
        order_capacity: 1 << 16,
    })
}

fn order(side: Side, qty: u32, price: u32, tif: TimeInForce) -> FlowOrder {
    FlowOrder {
        symbol: sym(),
        side,
        qty: Qty(qty),
        price: Price4(price),
        tif,
        display: true,
        attribution: None,
    }
}

fn run_flow_mix(
    e: &mut MatchingEngine,
    ops: &[Op],
    live: &mut Vec<FlowHandle>,
    out: &mut Vec<VenueOutput>,
) -> usize {
    let mut events = 0;
    for (i, op) in ops.iter().enumerate() {
        let now = i as u64;
        match *op {
            Op::Passive(side, qty, price) => {
                if let Ok(Some(h)) =
                    e.submit_flow(now, &order(side, qty, price, TimeInForce::Day), out)
                {
                    live.push(h);
                }
            }
            Op::Marketable(side, qty) => {
                let price = match side {
                    Side::Buy => MID + 20 * TICK,
                    Side::Sell => MID - 20 * TICK,
                };
                let _ = e.submit_flow(now, &order(side, qty, price, TimeInForce::Ioc), out);
            }
            Op::Cancel(k) => {
                if !live.is_empty() {
                    let h = live.swap_remove(k % live.len());
                    e.cancel_flow(now, h, Qty::ZERO, out);
                }
            }
        }
        if out.len() > 4096 {
            events += out.len();
            out.clear();
        }
    }
    events + out.len()
}

fn bench(c: &mut Criterion) {
    let ops = ops();
    let mut g = c.benchmark_group("matching");
    g.throughput(Throughput::Elements(OPS as u64));
    g.sample_size(20);

    g.bench_function("flow_mix", |b| {
        b.iter_batched(
            || (engine(), Vec::with_capacity(OPS), Vec::with_capacity(8192)),
            |(mut e, mut live, mut out)| black_box(run_flow_mix(&mut e, &ops, &mut live, &mut out)),
            BatchSize::LargeInput,
        )
    });

    g.bench_function("vec_push_baseline", |b| {
        b.iter_batched(
            || Vec::with_capacity(OPS),
            |mut v: Vec<(u64, u32)>| {
                for (i, op) in ops.iter().enumerate() {
                    let x = match *op {
                        Op::Passive(_, q, p) => q ^ p,
                        Op::Marketable(_, q) => q,
                        Op::Cancel(k) => k as u32,
                    };
                    v.push((i as u64, x));
                }
                black_box(v)
            },
            BatchSize::LargeInput,
        )
    });

    let session_book = || {
        let mut e = engine();
        let mut out = Vec::new();
        for k in 0..2_000u32 {
            let side = if k % 2 == 0 { Side::Buy } else { Side::Sell };
            let price = match side {
                Side::Buy => MID - TICK - (k % 20) * TICK,
                Side::Sell => MID + TICK + (k % 20) * TICK,
            };
            e.submit_flow(0, &order(side, 300, price, TimeInForce::Day), &mut out)
                .unwrap();
        }
        let s = e
            .add_session(SessionConfig {
                name: SessionName::new("BENCH").unwrap(),
                dialect: Dialect::Ouch50,
                cancel_on_disconnect: false,
                attribution: None,
            })
            .unwrap();
        (e, s, Vec::with_capacity(8192))
    };
    g.bench_function("session_enter_cancel", |b| {
        b.iter_batched(
            session_book,
            |(mut e, s, mut out)| {
                for n in 1..=OPS as u32 {
                    let side = if n % 2 == 0 { Side::Buy } else { Side::Sell };
                    let req = OrderRequest::Enter {
                        order: OrderRef(n),
                        tag: ChildTag {
                            parent: 1,
                            child: n,
                        },
                        side,
                        qty: Qty(100),
                        symbol: sym(),
                        price: Price4(match side {
                            Side::Buy => MID - TICK * (1 + n % 5),
                            Side::Sell => MID + TICK * (1 + n % 5),
                        }),
                        tif: TimeInForce::Day,
                    };
                    e.handle(u64::from(n), s, &req, &mut out);
                    if n % 2 == 0 {
                        let cancel = OrderRequest::Cancel {
                            order: OrderRef(n - 1),
                            tag: ChildTag {
                                parent: 1,
                                child: n - 1,
                            },
                            remaining: Qty::ZERO,
                        };
                        e.handle(u64::from(n), s, &cancel, &mut out);
                    }
                    if out.len() > 4096 {
                        out.clear();
                    }
                }
                black_box(out.len())
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    const FLOW_RATE: u32 = 20_000;
    const FLOW_SECS: u64 = 10;
    let mut g = c.benchmark_group("matching");
    g.throughput(Throughput::Elements(u64::from(FLOW_RATE) * FLOW_SECS));
    g.sample_size(10);
    g.bench_function("flow_generator", |b| {
        b.iter_batched(
            || {
                let flow = Flow::new(
                    FlowConfig {
                        seed: 3,
                        rate_per_sec: FLOW_RATE,
                        symbols: vec![FlowSymbol {
                            symbol: sym(),
                            mid: Price4(MID),
                        }],
                        ..FlowConfig::default()
                    },
                    0,
                );
                (engine(), flow, Vec::with_capacity(8192))
            },
            |(mut e, mut f, mut out)| {
                let mut t = 0;
                while t < FLOW_SECS * 1_000_000_000 {
                    t += 1_000_000;
                    f.poll(t, &mut e, &mut out);
                    out.clear();
                }
                black_box(f.stats().events)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
