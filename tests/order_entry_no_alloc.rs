//! The order-entry hot path allocates nothing: framing a SoupBinTCP stream,
//! parsing its packets, decoding OUCH reports with either dialect and
//! encoding orders into SoupBinTCP frames, counted by a global allocator that
//! tallies every allocation made on the measuring thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use floe::order::{
    encode_id, ChildTag, OrderRef, OrderRequest, Ouch42Dialect, Ouch50Dialect, OuchDialect,
    TimeInForce,
};
use floe::types::{Price4, Qty, Side, Symbol};
use floe::wire::ouch42 as w42;
use floe::wire::ouch50 as w50;
use floe::wire::soupbintcp::{self, Framer, ServerPacket};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNTING.with(Cell::get) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to the system allocator unchanged; the
// counter is a side effect that allocates nothing itself.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` and returns how many allocations it made on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn tag() -> ChildTag {
    ChildTag {
        parent: 9,
        child: 2,
    }
}

fn frame(m: &[u8]) -> Vec<u8> {
    let p = ServerPacket::SequencedData(m);
    let mut b = vec![0u8; p.frame_len()];
    p.emit(&mut b).unwrap();
    b
}

#[test]
fn order_entry_hot_path_does_not_allocate() {
    let token = encode_id(OrderRef(5), tag()).unwrap();
    let sym = Symbol::new("AAPL").unwrap();
    let mut msgs42 = Vec::new();
    for m in [
        w42::Outbound::Executed(w42::ExecutedRepr {
            timestamp: 1,
            token,
            executed_shares: 10,
            execution_price: Price4(100),
            liquidity_flag: w42::LiquidityFlag::ADDED,
            match_number: 7,
        }),
        w42::Outbound::Canceled(w42::CanceledRepr {
            timestamp: 2,
            token,
            decrement_shares: 5,
            reason: w42::CancelReason::USER,
        }),
        w42::Outbound::Rejected(w42::RejectedRepr {
            timestamp: 3,
            token,
            reason: w42::RejectReason::HALTED,
        }),
    ] {
        let mut b = vec![0u8; m.buffer_len()];
        m.emit(&mut b).unwrap();
        msgs42.push(b);
    }
    let mut a50 = vec![0u8; 80];
    let n = w50::AcceptedRepr {
        timestamp: 4,
        user_ref_num: 5,
        side: w50::BuySell::Sell,
        quantity: 100,
        symbol: sym,
        price: Price4(1_234_500),
        time_in_force: w50::TimeInForce::DAY,
        display: w50::Display::VISIBLE,
        order_ref: 11,
        capacity: w50::Capacity::AGENCY,
        intermarket_sweep: w50::IntermarketSweep::NOT_ELIGIBLE,
        cross_type: w50::CrossType::CONTINUOUS,
        state: w50::OrderState::Live,
        cl_ord_id: token,
        options: w50::Options {
            firm: Some(*b"FIRM"),
            ..w50::Options::NONE
        },
    }
    .emit(&mut a50)
    .unwrap();
    a50.truncate(n);

    let stream: Vec<u8> = msgs42.iter().flat_map(|m| frame(m)).collect();
    let reads: Vec<&[u8]> = stream.chunks(7).collect();
    let d42 = Ouch42Dialect::with_firm("FIRM").unwrap();
    let d50 = Ouch50Dialect::with_firm("FIRM").unwrap();
    let mut framer = Framer::new(1024);
    let req = OrderRequest::Enter {
        order: OrderRef(6),
        tag: tag(),
        side: Side::Buy,
        qty: Qty(100),
        symbol: sym,
        price: Price4(1_234_500),
        tif: TimeInForce::Day,
    };
    let mut out = [0u8; 128];
    let mut events = 0;

    let n = allocations_in(|| {
        for r in &reads {
            let mut pos = 0;
            while let Some(f) = framer.next_packet(r, &mut pos).unwrap() {
                if let ServerPacket::SequencedData(m) = ServerPacket::parse(f).unwrap() {
                    d42.decode(m).unwrap();
                    events += 1;
                }
            }
        }
        d50.decode(&a50).unwrap();
        w42::Outbound::parse(&msgs42[0]).unwrap();
        w50::Outbound::parse(&a50).unwrap();
        for d in [&d42 as &dyn OuchDialect, &d50] {
            soupbintcp::emit_unsequenced_with(&mut out, |p| d.encode(&req, p)).unwrap();
        }
    });
    assert_eq!(events, 3);
    assert_eq!(n, 0, "the order-entry hot path allocated");
    // The counter itself works.
    assert!(allocations_in(|| drop(Vec::<u8>::with_capacity(8))) > 0);
}
