//! OUCH encode/decode per dialect and the SoupBinTCP framer over a realistic
//! stream, with naive peers measured in the same run.
//!
//! `cargo bench --bench ouch`
//!
//! Each measured operation is an `#[inline(never)]` function (`op_*`) so that
//! `valgrind --tool=callgrind --toggle-collect='*op_*'` can count its
//! instructions per call independently of machine load.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use floe::order::{
    encode_id, ChildTag, OrderEvent, OrderRef, OrderRequest, Ouch42Dialect, Ouch50Dialect,
    OuchDialect, TimeInForce,
};
use floe::types::{Price4, Qty, Side, Symbol};
use floe::wire::ouch42 as w42;
use floe::wire::ouch50 as w50;
use floe::wire::soupbintcp::{self, Framer, ServerPacket};

fn enter() -> OrderRequest {
    OrderRequest::Enter {
        order: OrderRef(1_000_001),
        tag: ChildTag {
            parent: 4_242,
            child: 17,
        },
        side: Side::Buy,
        qty: Qty(300),
        symbol: Symbol::new("AAPL").unwrap(),
        price: Price4(1_234_500),
        tif: TimeInForce::Day,
    }
}

fn tag() -> ChildTag {
    ChildTag {
        parent: 4_242,
        child: 17,
    }
}

fn accepted42() -> Vec<u8> {
    let m = w42::Outbound::Accepted(w42::AcceptedRepr {
        timestamp: 34_200_000_000_123,
        token: encode_id(OrderRef(1_000_001), tag()).unwrap(),
        side: w42::BuySell::Buy,
        shares: 300,
        stock: Symbol::new("AAPL").unwrap(),
        price: Price4(1_234_500),
        time_in_force: w42::TIF_MARKET_HOURS,
        firm: *b"FIRM",
        display: w42::Display::ANONYMOUS,
        order_ref: 987_654_321,
        capacity: w42::Capacity::AGENCY,
        intermarket_sweep: w42::IntermarketSweep::NOT_ELIGIBLE,
        min_qty: 0,
        cross_type: w42::CrossType::NO_CROSS,
        state: w42::OrderState::Live,
        bbo_weight: w42::BboWeight::UNSPECIFIED,
    });
    emit42(&m)
}

fn executed42() -> Vec<u8> {
    emit42(&w42::Outbound::Executed(w42::ExecutedRepr {
        timestamp: 34_200_000_500_000,
        token: encode_id(OrderRef(1_000_001), tag()).unwrap(),
        executed_shares: 100,
        execution_price: Price4(1_234_500),
        liquidity_flag: w42::LiquidityFlag::ADDED,
        match_number: 55_555,
    }))
}

fn canceled42() -> Vec<u8> {
    emit42(&w42::Outbound::Canceled(w42::CanceledRepr {
        timestamp: 34_200_000_600_000,
        token: encode_id(OrderRef(1_000_001), tag()).unwrap(),
        decrement_shares: 200,
        reason: w42::CancelReason::USER,
    }))
}

fn emit42(m: &w42::Outbound) -> Vec<u8> {
    let mut b = vec![0u8; m.buffer_len()];
    m.emit(&mut b).unwrap();
    b
}

fn emit50(m: &w50::Outbound) -> Vec<u8> {
    let mut b = vec![0u8; m.buffer_len()];
    m.emit(&mut b).unwrap();
    b
}

fn accepted50() -> Vec<u8> {
    emit50(&w50::Outbound::Accepted(w50::AcceptedRepr {
        timestamp: 34_200_000_000_123,
        user_ref_num: 1_000_001,
        side: w50::BuySell::Buy,
        quantity: 300,
        symbol: Symbol::new("AAPL").unwrap(),
        price: Price4(1_234_500),
        time_in_force: w50::TimeInForce::DAY,
        display: w50::Display::VISIBLE,
        order_ref: 987_654_321,
        capacity: w50::Capacity::AGENCY,
        intermarket_sweep: w50::IntermarketSweep::NOT_ELIGIBLE,
        cross_type: w50::CrossType::CONTINUOUS,
        state: w50::OrderState::Live,
        cl_ord_id: encode_id(OrderRef(1_000_001), tag()).unwrap(),
        options: w50::Options {
            firm: Some(*b"FIRM"),
            ..w50::Options::NONE
        },
    }))
}

fn executed50() -> Vec<u8> {
    emit50(&w50::Outbound::Executed(w50::ExecutedRepr {
        timestamp: 34_200_000_500_000,
        user_ref_num: 1_000_001,
        quantity: 100,
        price: Price4(1_234_500),
        liquidity_flag: w50::LiquidityFlag::ADDED,
        match_number: 55_555,
        options: w50::Options::NONE,
    }))
}

#[inline(never)]
fn op_encode(d: &dyn OuchDialect, req: &OrderRequest, out: &mut [u8]) -> usize {
    d.encode(req, out).unwrap()
}

#[inline(never)]
fn op_encode_framed(d: &dyn OuchDialect, req: &OrderRequest, out: &mut [u8]) -> usize {
    soupbintcp::emit_unsequenced_with(out, |p| d.encode(req, p)).unwrap()
}

#[inline(never)]
fn op_decode42(d: &Ouch42Dialect, m: &[u8]) -> OrderEvent {
    d.decode(m).unwrap()
}

#[inline(never)]
fn op_decode50(d: &Ouch50Dialect, m: &[u8]) -> OrderEvent {
    d.decode(m).unwrap()
}

#[inline(never)]
fn op_frame_stream(f: &mut Framer, reads: &[&[u8]]) -> u64 {
    let mut count = 0u64;
    for r in reads {
        let mut pos = 0;
        while let Some(p) = f.next_packet(r, &mut pos).unwrap() {
            count += u64::from(p[2]);
        }
    }
    count
}

fn bench_encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_enter");
    g.throughput(Throughput::Elements(1));
    let req = enter();
    let d42 = Ouch42Dialect::with_firm("FIRM").unwrap();
    let d50 = Ouch50Dialect::with_firm("FIRM").unwrap();
    let mut out = [0u8; 128];
    g.bench_function("ouch42", |b| {
        b.iter(|| op_encode(black_box(&d42), black_box(&req), black_box(&mut out)))
    });
    g.bench_function("ouch50", |b| {
        b.iter(|| op_encode(black_box(&d50), black_box(&req), black_box(&mut out)))
    });
    g.bench_function("ouch42_in_soupbintcp", |b| {
        b.iter(|| op_encode_framed(black_box(&d42), black_box(&req), black_box(&mut out)))
    });
    g.bench_function("ouch50_in_soupbintcp", |b| {
        b.iter(|| op_encode_framed(black_box(&d50), black_box(&req), black_box(&mut out)))
    });
    g.finish();
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    let d42 = Ouch42Dialect::with_firm("FIRM").unwrap();
    let d50 = Ouch50Dialect::with_firm("FIRM").unwrap();
    let (a42, e42, a50, e50) = (accepted42(), executed42(), accepted50(), executed50());
    g.bench_function("ouch42_accepted", |b| {
        b.iter(|| op_decode42(black_box(&d42), black_box(&a42)))
    });
    g.bench_function("ouch42_executed", |b| {
        b.iter(|| op_decode42(black_box(&d42), black_box(&e42)))
    });
    g.bench_function("ouch50_accepted", |b| {
        b.iter(|| op_decode50(black_box(&d50), black_box(&a50)))
    });
    g.bench_function("ouch50_executed", |b| {
        b.iter(|| op_decode50(black_box(&d50), black_box(&e50)))
    });
    // Peer: the owned Repr of the whole message set (every field, options parsed).
    g.bench_function("ouch42_accepted_repr_parse", |b| {
        b.iter(|| w42::Outbound::parse(black_box(&a42)).unwrap())
    });
    g.bench_function("ouch50_accepted_repr_parse", |b| {
        b.iter(|| w50::Outbound::parse(black_box(&a50)).unwrap())
    });
    g.finish();
}

/// A day-like stream: mostly executions and cancels, some accepts, a
/// heartbeat now and then; OUCH 4.2 sizes. Returns (bytes, packet count).
fn stream() -> (Vec<u8>, u64) {
    let (a, e, c) = (accepted42(), executed42(), canceled42());
    let mut s = Vec::new();
    let mut n = 0;
    let frame = |p: ServerPacket<'_>, s: &mut Vec<u8>| {
        let mut b = vec![0u8; p.frame_len()];
        p.emit(&mut b).unwrap();
        s.extend_from_slice(&b);
    };
    for i in 0..10_000u32 {
        let p = match i % 10 {
            0 | 1 => ServerPacket::SequencedData(&a),
            2..=5 => ServerPacket::SequencedData(&e),
            6..=8 => ServerPacket::SequencedData(&c),
            _ => ServerPacket::Heartbeat,
        };
        frame(p, &mut s);
        n += 1;
    }
    (s, n)
}

/// The obvious framer: append each read to a growable buffer, drain each packet.
struct NaiveFramer {
    buf: Vec<u8>,
}

impl NaiveFramer {
    fn feed(&mut self, read: &[u8], mut on: impl FnMut(&[u8])) {
        self.buf.extend_from_slice(read);
        loop {
            if self.buf.len() < 2 {
                return;
            }
            let len = 2 + usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
            if self.buf.len() < len {
                return;
            }
            let pkt: Vec<u8> = self.buf.drain(..len).collect();
            on(&pkt);
        }
    }
}

fn bench_framer(c: &mut Criterion) {
    let (s, n) = stream();
    let mut g = c.benchmark_group("framer");
    g.throughput(Throughput::Elements(n));
    for read in [1460usize, 64 * 1024] {
        let reads: Vec<&[u8]> = s.chunks(read).collect();
        g.bench_function(format!("floe_reads_of_{read}"), |b| {
            b.iter_batched_ref(
                || Framer::new(1024),
                |f| op_frame_stream(f, black_box(&reads)),
                BatchSize::SmallInput,
            )
        });
        g.bench_function(format!("floe_reads_of_{read}_parse_decode"), |b| {
            let d = Ouch42Dialect::with_firm("FIRM").unwrap();
            b.iter_batched_ref(
                || Framer::new(1024),
                |f| {
                    let mut count = 0u64;
                    for r in &reads {
                        let mut pos = 0;
                        while let Some(p) = f.next_packet(r, &mut pos).unwrap() {
                            if let ServerPacket::SequencedData(m) = ServerPacket::parse(p).unwrap()
                            {
                                if d.decode(m).is_ok() {
                                    count += 1;
                                }
                            }
                        }
                    }
                    count
                },
                BatchSize::SmallInput,
            )
        });
        g.bench_function(format!("naive_vec_reads_of_{read}"), |b| {
            b.iter_batched_ref(
                || NaiveFramer { buf: Vec::new() },
                |f| {
                    let mut count = 0u64;
                    for r in &reads {
                        f.feed(r, |p| count += u64::from(p[2]));
                    }
                    count
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench_encode, bench_decode, bench_framer);
criterion_main!(benches);
