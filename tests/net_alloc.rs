//! Once connected, floe's network duty cycle allocates nothing: market data
//! through the bypass into the MoldUDP64 session (with gaps recovered by
//! re-requests over the stack's UDP socket), orders out through
//! `NetStack::send_with`, reports in through `recv_with` into the
//! SoupBinTCP client and the OUCH decoder, and every `poll` — counted by a
//! global allocator on floe's thread while a smoltcp venue runs on another
//! over a memory pair.

mod net_common;

use floe::feed::moldudp64::{MoldConfig, MoldSession};
use floe::net::{LinkEvent, NetStack};
use floe::nic::memory::pair_with_macs;
use floe::nic::veth::{FLOE_MAC, VENUE_MAC};
use floe::order::event::OuchDialect;
use floe::order::session::{SoupClient, SoupConfig, SoupEvent};
use floe::order::Ouch50Dialect;
use floe::time::Nanos;
use net_common::floe_side::{config, enter, OrderError};
use net_common::kernel_venue::MESSAGES;
use net_common::smol_venue::SmolVenue;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counts allocations made by the thread that armed it.
struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; only bumps a thread-local counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if ARMED.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn the_network_duty_cycle_allocates_nothing_once_connected() {
    let cfg = config();
    let (mut a, mut b) = pair_with_macs(1024, FLOE_MAC, VENUE_MAC);
    let start = Instant::now();
    let now = move || Nanos::from(start.elapsed());
    let stop = Arc::new(AtomicBool::new(false));
    let publish = Arc::new(AtomicBool::new(false));
    let (s, p) = (Arc::clone(&stop), Arc::clone(&publish));
    let venue = std::thread::spawn(move || {
        let mut v = SmolVenue::new(&mut b, now());
        v.listen();
        while !s.load(Ordering::Acquire) {
            v.step(now(), &mut b);
            if p.load(Ordering::Acquire) {
                v.publish(1);
            }
            std::thread::yield_now();
        }
    });

    let mut net = NetStack::new(&cfg, &mut a, now()).unwrap();
    let mut mold = MoldSession::new(MoldConfig::from_config(&cfg.feed));
    let mut soup = SoupClient::new(SoupConfig::from_config(&cfg.order));
    let dialect = Ouch50Dialect::new(None);
    let mut buf = [0u8; 2048];
    let (delivered, next_seq, reports) = (Cell::new(0u64), Cell::new(1u64), Cell::new(0u64));
    let mut sent = 0u32;

    let mut cycle = |t: Nanos, want_orders: u32, sent: &mut u32| {
        let mut deliver = |seq: u64, _m: &[u8]| {
            assert_eq!(seq, next_seq.get(), "in order");
            next_seq.set(seq + 1);
            delivered.set(delivered.get() + 1);
        };
        net.poll_rx(t, &mut a, 32, |_, payload, _| {
            mold.on_packet(payload, &mut deliver);
        });
        net.udp_recv(|payload, _| {
            mold.on_packet(payload, &mut deliver);
        });
        while let Some(n) = mold.poll_request(t, &mut buf, &mut deliver) {
            net.udp_send(&buf[..n]).unwrap();
        }
        while let Some(ev) = net.link_event() {
            match ev {
                LinkEvent::Connected => {
                    let n = soup.on_connected(t, &mut buf).unwrap();
                    net.send(t, &mut a, &buf[..n]).unwrap();
                }
                LinkEvent::Disconnected => panic!("the connection dropped"),
            }
        }
        net.recv_with(|data| {
            soup.on_bytes(t, data, &mut |ev| {
                if let SoupEvent::Sequenced { msg, .. } = ev {
                    dialect.decode(msg).expect("a report");
                    reports.set(reports.get() + 1);
                }
            })
            .unwrap();
            data.len()
        });
        if *sent < want_orders && soup.is_logged_in() {
            let req = enter(*sent + 1, 100);
            let n = net
                .send_with(t, &mut a, |b| {
                    soup.send_with(t, b, |p| dialect.encode(&req, p).map_err(OrderError::from))
                        .unwrap_or(0)
                })
                .unwrap();
            assert!(n > 0);
            *sent += 1;
        }
        let hb = soup.poll(t, &mut buf);
        if hb.written > 0 {
            net.send(t, &mut a, &buf[..hb.written]).unwrap();
        }
        net.poll(t, &mut a);
    };

    // Warm up: connect, log in, a few orders and their reports.
    let end = Instant::now() + Duration::from_secs(20);
    while reports.get() < 20 {
        assert!(Instant::now() < end, "warm-up: {} reports", reports.get());
        cycle(now(), 10, &mut sent);
        std::thread::yield_now();
    }

    // Steady state, counted: the feed with its gaps, 500 orders, reports.
    publish.store(true, Ordering::Release);
    COUNT.with(|c| c.set(0));
    ARMED.with(|x| x.set(true));
    let end = Instant::now() + Duration::from_secs(30);
    let mut timed_out = false;
    while sent < 510 || reports.get() < 2 * 510 || delivered.get() < MESSAGES {
        if Instant::now() > end {
            timed_out = true;
            break;
        }
        cycle(now(), 510, &mut sent);
        std::thread::yield_now();
    }
    ARMED.with(|x| x.set(false));
    let allocations = COUNT.with(Cell::get);
    stop.store(true, Ordering::Release);
    venue.join().unwrap();
    assert!(
        !timed_out,
        "steady state not finished: {sent} orders, {} reports, {} messages",
        reports.get(),
        delivered.get()
    );
    assert!(mold.counters().requests > 0, "gaps were re-requested");
    assert_eq!(allocations, 0, "allocations in the steady state");
}
