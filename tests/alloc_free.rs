//! After warm-up, one million mixed engine events (quotes that move pegged
//! children, accepts, partial and full fills, replaces, cancels, commands of
//! every kind, timers, session drops with resends, the kill switch) make
//! zero heap allocations. A counting global allocator counts the test
//! thread's allocations; the driver below keeps every piece of its own state
//! in fixed arrays so that it allocates nothing either.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use floe::algo::iceberg::IcebergParams;
use floe::config::Config;
use floe::engine::record::MAX_RECORD_LEN;
use floe::engine::{Action, ClientOrderId, Command, CommandKind, Engine, EngineOptions, Outbox};
use floe::order::{CancelReason, OrderEvent, OrderRef, OrderRequest, TimeInForce};
use floe::time::Nanos;
use floe::types::{Level, Price4, Qty, Quote, Side, Symbol};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if COUNT_HERE.with(|c| c.get()) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards to the system allocator unchanged; the
// counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// xorshift64*: the driver's randomness, no allocation.
struct X(u64);
impl X {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[derive(Clone, Copy, Default)]
struct VOrder {
    order: u32,
    open: u32,
    price: u32,
    executed: u32,
    live: bool,
}

/// A venue in fixed arrays: live orders and a FIFO of reports to deliver.
struct Driver {
    eng: Engine,
    out: Outbox,
    now: Nanos,
    seq: u64,
    corr: u64,
    x: X,
    orders: [VOrder; 256],
    reports: [Option<OrderEvent>; 1024],
    head: usize,
    len: usize,
    up: bool,
    last_ref: u32,
    bid: u32,
    next_coid: u64,
    created: u64,
    events: u64,
    sends: u64,
    buf: [u8; MAX_RECORD_LEN],
}

const SYMS: [[u8; 8]; 2] = [*b"AAPL    ", *b"MSFT    "];

impl Driver {
    fn push_report(&mut self, e: OrderEvent) {
        if self.len < self.reports.len() {
            let i = (self.head + self.len) % self.reports.len();
            self.reports[i] = Some(e);
            self.len += 1;
        }
    }

    fn slot(&mut self, order: u32) -> Option<usize> {
        self.orders.iter().position(|o| o.live && o.order == order)
    }

    fn venue(&mut self, req: OrderRequest) {
        let ts = self.now.0;
        match req {
            OrderRequest::Enter {
                order,
                side,
                qty,
                symbol,
                price,
                ..
            } => {
                // OUCH 5.0 rule: a number not above the last is ignored.
                if order.0 <= self.last_ref {
                    return;
                }
                self.last_ref = order.0;
                if let Some(i) = self.orders.iter().position(|o| !o.live) {
                    self.orders[i] = VOrder {
                        order: order.0,
                        open: qty.0,
                        price: price.0,
                        executed: 0,
                        live: true,
                    };
                    self.push_report(OrderEvent::Accepted {
                        ts,
                        order,
                        tag: None,
                        side,
                        qty,
                        symbol,
                        price,
                        venue_order_ref: u64::from(order.0),
                        live: true,
                    });
                }
            }
            OrderRequest::Replace {
                old,
                new,
                qty,
                price,
                ..
            } => {
                if new.0 <= self.last_ref {
                    return;
                }
                if let Some(i) = self.slot(old.0) {
                    self.last_ref = new.0;
                    let o = self.orders[i];
                    let open = qty.0.saturating_sub(o.executed);
                    self.orders[i] = VOrder {
                        order: new.0,
                        open,
                        price: price.0,
                        ..o
                    };
                    self.push_report(OrderEvent::Replaced {
                        ts,
                        old,
                        order: new,
                        tag: None,
                        side: Side::Buy,
                        qty: Qty(open),
                        symbol: Symbol(SYMS[0]),
                        price,
                        venue_order_ref: u64::from(new.0),
                        live: open > 0,
                    });
                    if open == 0 {
                        self.orders[i].live = false;
                    }
                }
            }
            OrderRequest::Cancel { order, .. } => {
                if let Some(i) = self.slot(order.0) {
                    let open = self.orders[i].open;
                    self.orders[i].live = false;
                    self.push_report(OrderEvent::Canceled {
                        ts,
                        order,
                        decrement: Qty(open),
                        reason: CancelReason {
                            code: b'U',
                            text: "",
                        },
                    });
                }
            }
            OrderRequest::AccountQuery => self.push_report(OrderEvent::AccountQueryResponse {
                ts,
                next_order: OrderRef(self.last_ref + 1),
            }),
        }
    }

    fn process(&mut self) {
        let n = self.out.len();
        for i in 0..n {
            let a = self.out.as_slice()[i];
            match a {
                Action::Journal(r) => {
                    let len = r.encode(&mut self.buf).unwrap();
                    assert!(len > 0);
                }
                Action::Send(s) => {
                    self.sends += 1;
                    if self.up {
                        self.venue(s);
                    }
                }
                Action::Reply { .. } | Action::Status(_) => {}
            }
        }
        self.out.clear();
    }

    fn quote(&mut self, sym: usize) {
        let q = Quote {
            symbol: Symbol(SYMS[sym]),
            bid: Some(Level {
                price: Price4(self.bid),
                qty: Qty(100),
            }),
            ask: Some(Level {
                price: Price4(self.bid + 200),
                qty: Qty(100),
            }),
            exch_ts: self.now.0,
            rx_ts: self.now,
        };
        self.eng.on_quote(self.now, &q, &mut self.out);
        self.process();
    }

    fn params(&mut self) -> IcebergParams {
        let side = if self.x.below(2) == 0 {
            Side::Buy
        } else {
            Side::Sell
        };
        let sym = self.x.below(2) as usize;
        let limit = match side {
            Side::Buy => self.bid + 100 * self.x.below(3) as u32,
            Side::Sell => self.bid + 200 - 100 * self.x.below(3) as u32,
        };
        IcebergParams {
            symbol: Symbol(SYMS[sym]),
            side,
            total: Qty(100 * (2 + self.x.below(20) as u32)),
            display: Qty(100),
            variance_ppm: 200_000,
            limit: Price4(limit),
            min_delay_ms: 0,
            max_delay_ms: self.x.below(3) as u32,
            tif: TimeInForce::Day,
            peg: self.x.below(2) == 0,
        }
    }

    fn command(&mut self, kind: CommandKind) {
        self.corr += 1;
        let c = Command {
            correlation: self.corr,
            kind,
        };
        if self.eng.on_command(self.now, &c, &mut self.out).is_ok() {
            self.process();
        }
    }

    fn new_parent(&mut self) {
        // The id in a stack buffer: "p" + decimal digits.
        let mut b = [0u8; 24];
        b[0] = b'p';
        let mut n = self.next_coid;
        let mut digits = [0u8; 20];
        let mut k = 0;
        loop {
            digits[k] = b'0' + (n % 10) as u8;
            k += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for i in 0..k {
            b[1 + i] = digits[k - 1 - i];
        }
        self.next_coid += 1;
        let id = ClientOrderId::new(&b[..1 + k]).unwrap();
        let params = self.params();
        let seed = self.x.next();
        self.command(CommandKind::NewIceberg {
            client_order_id: id,
            params,
            seed,
        });
        self.created += 1;
    }

    fn event(&mut self) {
        self.events += 1;
        self.now = self.now + Nanos::from_us(1 + self.x.below(200));
        match self.x.below(100) {
            0..=19 => {
                // Market data: the bid moves a tick either way.
                match self.x.below(3) {
                    0 => self.bid = (self.bid - 100).max(99_0000),
                    1 => self.bid = (self.bid + 100).min(101_0000),
                    _ => {}
                }
                let s = self.x.below(2) as usize;
                self.quote(s);
            }
            20..=49 => {
                // Deliver the oldest report.
                if self.len > 0 && self.up {
                    let e = self.reports[self.head].take();
                    self.head = (self.head + 1) % self.reports.len();
                    self.len -= 1;
                    if let Some(e) = e {
                        self.seq += 1;
                        if self
                            .eng
                            .on_order_event(self.now, self.seq, &e, &mut self.out)
                            .is_ok()
                        {
                            self.process();
                        }
                    }
                }
            }
            50..=74 => {
                // A fill on a random live order.
                let i = self.x.below(self.orders.len() as u64) as usize;
                let o = self.orders[i];
                if o.live && o.open > 0 {
                    let q = if self.x.below(2) == 0 {
                        o.open
                    } else {
                        1 + self.x.below(u64::from(o.open)) as u32
                    };
                    self.orders[i].open -= q;
                    self.orders[i].executed += q;
                    if self.orders[i].open == 0 {
                        self.orders[i].live = false;
                    }
                    let m = self.events;
                    self.push_report(OrderEvent::Executed {
                        ts: self.now.0,
                        order: OrderRef(o.order),
                        qty: Qty(q),
                        price: Price4(o.price),
                        liquidity: b'A',
                        match_number: m,
                    });
                }
            }
            75..=82 => {
                self.eng.poll(self.now, &mut self.out);
                self.process();
            }
            83..=86 => {
                if self.eng.live_parents() < 40 {
                    self.new_parent();
                }
            }
            87..=94 => {
                let parent = 1 + self.x.below(self.created.max(1)) as u32;
                let kind = match self.x.below(5) {
                    0 => CommandKind::Query { parent },
                    1 => CommandKind::Pause { parent },
                    2 => CommandKind::Resume { parent },
                    3 => CommandKind::Amend {
                        parent,
                        total: Some(Qty(100 * (1 + self.x.below(30) as u32))),
                        limit: None,
                    },
                    _ => CommandKind::Cancel { parent },
                };
                self.command(kind);
            }
            95..=97 => {
                // Session drop and return: resends, account query.
                self.up = !self.up;
                let up = self.up;
                self.eng.on_session(self.now, up, &mut self.out);
                self.process();
            }
            _ => {
                let on = self.x.below(4) == 0;
                self.command(CommandKind::KillSwitch { on });
            }
        }
    }
}

#[test]
fn one_million_mixed_events_allocate_nothing() {
    let mut cfg = Config::default();
    cfg.pools.parents = 64;
    cfg.pools.children = 128;
    cfg.pools.timers = 64;
    cfg.pools.client_order_ids = 1 << 16;
    cfg.book.symbols = 4;
    cfg.risk.max_live_parents = 48;
    cfg.risk.child_orders_per_sec = 100_000;
    cfg.risk.child_orders_burst = 1_000;
    cfg.risk.lot_size = 100;
    cfg.risk.max_parent_notional = 100_000_000;
    let mut d = Driver {
        eng: Engine::with_options(
            &cfg,
            EngineOptions {
                account_query: true,
            },
        ),
        out: Outbox::with_capacity(256),
        now: Nanos::from_secs(1),
        seq: 0,
        corr: 0,
        x: X(0x9e37_79b9_7f4a_7c15),
        orders: [VOrder::default(); 256],
        reports: [None; 1024],
        head: 0,
        len: 0,
        up: false,
        last_ref: 0,
        bid: 100_0000,
        next_coid: 0,
        created: 0,
        events: 0,
        sends: 0,
        buf: [0; MAX_RECORD_LEN],
    };
    d.up = true;
    d.eng.on_session(d.now, true, &mut d.out);
    d.process();
    d.quote(0);
    d.quote(1);
    // Warm-up.
    for _ in 0..100_000 {
        d.event();
    }
    let sends_before = d.sends;
    let created_before = d.created;
    COUNT_HERE.with(|c| c.set(true));
    for _ in 0..1_000_000 {
        d.event();
    }
    COUNT_HERE.with(|c| c.set(false));
    let allocs = ALLOCS.load(Ordering::Relaxed);
    d.eng.check_invariants().unwrap();
    let sends = d.sends - sends_before;
    let created = d.created - created_before;
    assert!(sends > 50_000, "the run must trade: {sends} sends");
    assert!(created > 1_000, "and create parents: {created}");
    assert_eq!(
        allocs, 0,
        "{allocs} heap allocations in 1M events ({sends} sends, {created} parents)"
    );
}
