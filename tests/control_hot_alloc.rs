//! The engine's side of the control-plane bridge and the hot counters
//! allocate nothing in steady state, whether the outbound channel has room
//! or is full (backlog and status coalescing in use).
//!
//! A counting global allocator counts allocations made by the thread that
//! plays the hot thread while its counting flag is on.

use floe::algo::{RiskRefusal, StatusCode};
use floe::config::Config;
use floe::control::gateway;
use floe::control::metrics::HotCounters;
use floe::engine::{Action, ClientOrderId, CommandKind, ParentStatus, Reply};
use floe::time::Nanos;
use floe::types::{Price4, Qty, Side, Symbol};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; the bookkeeping touches only
// const-initialised thread-locals, which never allocate.
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

fn note() {
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        }
    });
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn status(parent: u32, filled: u32, at: u64) -> ParentStatus {
    ParentStatus {
        parent,
        client_order_id: ClientOrderId::new(b"alloc-test").unwrap(),
        symbol: Symbol::new("AAPL").unwrap(),
        side: Side::Buy,
        status: StatusCode::Working,
        total: Qty(10_000),
        requested_total: Qty(10_000),
        filled: Qty(filled),
        live: Qty(100),
        leaves: Qty(10_000 - filled),
        remaining: Qty(9_900 - filled),
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

/// What the hot thread does per duty cycle, and what it has published.
struct HotSide {
    commands: u64,
    max_backlog: usize,
    /// The last `updated_at` published per parent.
    last: [u64; 64],
}

impl HotSide {
    fn cycle(&mut self, ep: &mut gateway::EngineEndpoint, hot: &HotCounters, i: u64) {
        let mut corrs = [0u64; 8];
        let mut k = 0;
        ep.drain(8, |c| {
            corrs[k] = c.correlation;
            k += 1;
            true
        });
        for (j, corr) in corrs.iter().take(k).enumerate() {
            // The engine emits the reply, then statuses; several parents
            // change per cycle, more than the channel takes when backed up.
            ep.route(&Action::Reply {
                correlation: *corr,
                reply: Reply::Done {
                    parent: j as u32,
                    status: StatusCode::Working,
                },
            });
        }
        self.commands += k as u64;
        for p in 0..16u32 {
            let parent = (i as u32 + p) % 64;
            let at = i * 16 + u64::from(p);
            ep.route(&Action::Status(status(parent, p, at)));
            self.last[parent as usize] = at;
        }
        ep.flush();
        self.max_backlog = self.max_backlog.max(ep.backlog_len());
        hot.nic.rx(0, 1);
        hot.feed.messages.inc();
        hot.orders.risk_refused(RiskRefusal::RateLimited);
        hot.orders.rejects.record((i % 40) as u16);
        hot.tick_to_trade_ns.record(i * 37 % 1_000_000);
        hot.journal.append_ns.record(i % 5_000);
    }
}

#[test]
fn endpoint_and_counters_allocate_nothing_in_steady_state() {
    let mut cfg = Config::default();
    cfg.pools.command_queue = 64;
    cfg.pools.parents = 64;
    let (gw, mut ep) = gateway::channel(&cfg);
    let hot = Arc::new(HotCounters::new());
    ep.set_ready(true);

    // The control side: sends commands and pumps, on its own thread, with
    // pauses so that the outbound channel fills up now and then.
    let stop = Arc::new(AtomicBool::new(false));
    let control = {
        let (gw, stop) = (gw.clone(), stop.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Acquire) {
                    // Eight requests in flight per round.
                    let reqs: Vec<_> = (0..8u32)
                        .map(|j| {
                            let gw = gw.clone();
                            let parent = (n as u32 * 8 + j) % 64;
                            tokio::spawn(
                                async move { gw.request(CommandKind::Cancel { parent }).await },
                            )
                        })
                        .collect();
                    // Pump slowly every 16th round: the hot side backs up.
                    if n.is_multiple_of(16) {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    while !reqs.iter().all(|r| r.is_finished()) {
                        gw.pump();
                        tokio::time::sleep(Duration::from_micros(50)).await;
                    }
                    for r in reqs {
                        let _ = r.await;
                    }
                    n += 1;
                }
                gw.pump();
            });
        })
    };

    let mut st = HotSide {
        commands: 0,
        max_backlog: 0,
        last: [0; 64],
    };
    // Warm-up (first touches of every structure), then count.
    for i in 0..2_000 {
        st.cycle(&mut ep, &hot, i);
    }
    COUNTING.with(|c| c.set(true));
    let t0 = Instant::now();
    let mut i = 2_000u64;
    while i < 40_000 || st.commands < 1_000 {
        st.cycle(&mut ep, &hot, i);
        i += 1;
        if i.is_multiple_of(64) {
            std::thread::yield_now();
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "control side stuck");
    }
    COUNTING.with(|c| c.set(false));
    let allocs = ALLOCS.with(|a| a.get());
    stop.store(true, Ordering::Release);
    // Let the control side finish its last request.
    let t1 = Instant::now();
    while !control.is_finished() {
        st.cycle(&mut ep, &hot, i);
        i += 1;
        assert!(
            t1.elapsed() < Duration::from_secs(30),
            "control thread hung"
        );
        std::thread::yield_now();
    }
    control.join().unwrap();
    assert_eq!(allocs, 0, "the hot side allocated {allocs} times");
    assert!(
        st.commands >= 1_000,
        "only {} commands crossed",
        st.commands
    );
    assert_eq!(gw.stats().status_dropped(), 0);
    assert_eq!(gw.stats().replies_dropped(), 0);
    // Statuses crossed and were coalesced, never lost: the read model holds
    // the last status of every parent.
    let mut seen_last = false;
    for _ in 0..1000 {
        ep.flush();
        gw.pump();
        if ep.backlog_len() == 0 {
            seen_last = true;
            break;
        }
    }
    assert!(seen_last, "backlog never drained");
    gw.pump();
    assert!(st.max_backlog > 0, "the outbound channel never filled up");
    let all = gw.list(|_| true);
    assert_eq!(all.len(), 64);
    for s in all {
        assert_eq!(
            s.updated_at,
            Nanos(st.last[s.parent as usize]),
            "parent {}",
            s.parent
        );
    }
}
