//! The control plane over real HTTP on 127.0.0.1 against the gateway in
//! isolation: the engine side is a loop on its own thread that drains the
//! gateway exactly as the hot thread does (`EngineEndpoint::drain`) and
//! drives the real `Engine` with a minimal venue that fills on request, so
//! quantities and prices are exact; the loop can be kept from becoming
//! ready, or stalled, to show the 503s of an engine that does not answer.
//!
//! The same API against a running appliance (the simulated venue, the
//! runtime, the journal) is `tests/control_e2e.rs`.

#[path = "control_common/mod.rs"]
mod common;

use common::*;
use floe::config::Config;
use floe::control::auth::unix_ms_now;
use floe::control::gateway::{self, EngineEndpoint, ParentId};
use floe::control::metrics::HotCounters;
use floe::control::{self, ControlHandle};
use floe::engine::{Action, Engine, Outbox, Record};
use floe::order::{CancelReason, ChildTag, OrderEvent, OrderRef, OrderRequest};
use floe::time::Nanos;
use floe::types::{Level, Price4, Qty, Quote, Symbol};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// The engine side: the real Engine, driven like the hot thread drives it,
// with a minimal venue answering its order requests.

/// Test-only inputs besides the gateway's.
enum Inject {
    /// Execute `qty` of the parent's live child at its price.
    Fill { parent: ParentId, qty: u32 },
}

/// Engine time in Unix nanoseconds (monotonic within a process), so that
/// `created_at` is wall-clock time and survives a restart.
struct UnixClock {
    base_unix_ns: u64,
    origin: Instant,
}

impl UnixClock {
    fn new() -> UnixClock {
        UnixClock {
            base_unix_ns: unix_ms_now() * 1_000_000,
            origin: Instant::now(),
        }
    }

    fn now(&self) -> Nanos {
        Nanos(self.base_unix_ns + self.origin.elapsed().as_nanos() as u64)
    }
}

/// Answers every order request at once: accepts entries, confirms cancels
/// and replaces, answers the account query; executes on request.
#[derive(Default)]
struct MiniVenue {
    soup_seq: u64,
    next_venue_ref: u64,
    match_number: u64,
    /// Open orders: ref → (tag, open shares, price).
    open: BTreeMap<u32, (ChildTag, u32, Price4)>,
    events: Vec<(u64, OrderEvent)>,
}

impl MiniVenue {
    fn push(&mut self, ev: OrderEvent) {
        self.soup_seq += 1;
        self.events.push((self.soup_seq, ev));
    }

    fn on_request(&mut self, req: OrderRequest) {
        match req {
            OrderRequest::Enter {
                order,
                tag,
                side,
                qty,
                symbol,
                price,
                ..
            } => {
                self.next_venue_ref += 1;
                self.open.insert(order.0, (tag, qty.0, price));
                self.push(OrderEvent::Accepted {
                    ts: 0,
                    order,
                    tag: Some(tag),
                    side,
                    qty,
                    symbol,
                    price,
                    venue_order_ref: self.next_venue_ref,
                    live: true,
                });
            }
            OrderRequest::Cancel {
                order, remaining, ..
            } => {
                if let Some(o) = self.open.get_mut(&order.0) {
                    let dec = o.1.saturating_sub(remaining.0);
                    o.1 -= dec;
                    if o.1 == 0 {
                        self.open.remove(&order.0);
                    }
                    self.push(OrderEvent::Canceled {
                        ts: 0,
                        order,
                        decrement: Qty(dec),
                        reason: CancelReason {
                            code: b'U',
                            text: "user",
                        },
                    });
                }
            }
            OrderRequest::Replace {
                old,
                new,
                new_tag,
                qty,
                price,
                ..
            } => {
                if self.open.remove(&old.0).is_some() {
                    self.next_venue_ref += 1;
                    self.open.insert(new.0, (new_tag, qty.0, price));
                    self.push(OrderEvent::Replaced {
                        ts: 0,
                        old,
                        order: new,
                        tag: Some(new_tag),
                        side: floe::types::Side::Buy,
                        qty,
                        symbol: Symbol::new("AAPL").unwrap(),
                        price,
                        venue_order_ref: self.next_venue_ref,
                        live: true,
                    });
                }
            }
            OrderRequest::AccountQuery => self.push(OrderEvent::AccountQueryResponse {
                ts: 0,
                next_order: OrderRef(1),
            }),
        }
    }

    fn fill(&mut self, parent: ParentId, qty: u32) {
        let Some((&r, &(_, open, price))) = self.open.iter().find(|(_, o)| o.0.parent == parent)
        else {
            panic!("parent {parent} has no live child to fill");
        };
        let qty = qty.min(open);
        if open == qty {
            self.open.remove(&r);
        } else if let Some(o) = self.open.get_mut(&r) {
            o.1 -= qty;
        }
        self.match_number += 1;
        self.push(OrderEvent::Executed {
            ts: 0,
            order: OrderRef(r),
            qty: Qty(qty),
            price,
            liquidity: b'A',
            match_number: self.match_number,
        });
    }
}

fn quote(symbol: &str, bid: u32, ask: u32) -> Quote {
    Quote {
        symbol: Symbol::new(symbol).unwrap(),
        bid: Some(Level {
            price: Price4(bid),
            qty: Qty(1000),
        }),
        ask: Some(Level {
            price: Price4(ask),
            qty: Qty(1000),
        }),
        exch_ts: 0,
        rx_ts: Nanos(0),
    }
}

/// The journal: every record the engine emitted, in order.
type Journal = Arc<Mutex<Vec<Record>>>;

struct EngineThread {
    stop: Arc<AtomicBool>,
    /// While set, the loop drains nothing (a stalled engine).
    stalled: Arc<AtomicBool>,
    /// Set by the loop once it has seen `stalled`.
    stall_seen: Arc<AtomicBool>,
    inject: mpsc::Sender<Inject>,
    journal: Journal,
    thread: Option<JoinHandle<()>>,
}

impl EngineThread {
    /// Starts an engine recovered from `journal` (empty for a fresh one).
    fn start(cfg: &Config, mut ep: EngineEndpoint, journal: Journal, ready: bool) -> EngineThread {
        let stop = Arc::new(AtomicBool::new(false));
        let stalled = Arc::new(AtomicBool::new(false));
        let stall_seen = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let cfg = cfg.clone();
        let (s, st, seen, j) = (
            stop.clone(),
            stalled.clone(),
            stall_seen.clone(),
            journal.clone(),
        );
        let thread = std::thread::spawn(move || {
            let clock = UnixClock::new();
            let mut engine = Engine::new(&cfg);
            for r in j.lock().unwrap().iter() {
                engine.apply(r).expect("journal applies");
            }
            engine.clear_work();
            let mut out = Outbox::with_capacity(256);
            let mut venue = MiniVenue {
                soup_seq: engine.next_expected_soup_seq() - 1,
                ..MiniVenue::default()
            };
            let route = |out: &mut Outbox, ep: &mut EngineEndpoint, venue: &mut MiniVenue| {
                for a in out.drain() {
                    if !ep.route(&a) {
                        match a {
                            Action::Journal(r) => j.lock().unwrap().push(r),
                            Action::Send(req) => venue.on_request(req),
                            _ => unreachable!(),
                        }
                    }
                }
                ep.flush();
            };
            ep.publish_all(&engine);
            let now = clock.now();
            engine.on_session(now, true, &mut out);
            for (sym, bid, ask) in [
                ("AAPL", 1_900_000, 1_901_000),
                ("MSFT", 4_000_000, 4_001_000),
            ] {
                engine.on_quote(now, &quote(sym, bid, ask), &mut out);
            }
            route(&mut out, &mut ep, &mut venue);
            ep.set_ready(ready);
            let limit = cfg.engine.command_drain_limit;
            while !s.load(Ordering::Acquire) {
                let now = clock.now();
                while let Ok(Inject::Fill { parent, qty }) = rx.try_recv() {
                    venue.fill(parent, qty);
                }
                let mut i = 0;
                while i < venue.events.len() {
                    let (seq, ev) = venue.events[i];
                    if engine.on_order_event(now, seq, &ev, &mut out).is_err() {
                        route(&mut out, &mut ep, &mut venue);
                        continue;
                    }
                    i += 1;
                }
                venue.events.drain(..i);
                engine.poll(now, &mut out);
                route(&mut out, &mut ep, &mut venue);
                if st.load(Ordering::Acquire) {
                    seen.store(true, Ordering::Release);
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                seen.store(false, Ordering::Release);
                if venue.events.is_empty() {
                    // Sleep until a command comes or the next timer is due.
                    let due = engine.next_deadline().0.saturating_sub(clock.now().0);
                    ep.wait(Duration::from_nanos(due.min(2_000_000)));
                }
                let now = clock.now();
                ep.drain(limit, |cmd| engine.on_command(now, cmd, &mut out).is_ok());
                route(&mut out, &mut ep, &mut venue);
                engine.check_invariants().expect("engine invariants");
                if ep.is_disconnected() {
                    break;
                }
            }
        });
        EngineThread {
            stop,
            stalled,
            stall_seen,
            inject: tx,
            journal,
            thread: Some(thread),
        }
    }

    /// Stalls the loop and waits (bounded) until it has stopped draining.
    fn stall(&self) {
        self.stalled.store(true, Ordering::Release);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.stall_seen.load(Ordering::Acquire) {
            assert!(Instant::now() < deadline, "engine loop never stalled");
            std::thread::yield_now();
        }
    }

    fn records(&self) -> usize {
        self.journal.lock().unwrap().len()
    }
}

impl Drop for EngineThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------
// The server.

fn config() -> Config {
    let mut c = Config::default();
    c.control.listen = "127.0.0.1:0".into();
    c.control.body_limit_bytes = 4096;
    c.control.reply_timeout_ms = 2_000;
    c.risk.lot_size = 100;
    c.risk.tick_size = 100;
    c.risk.max_parent_notional = 10_000_000;
    c.book.only = vec!["AAPL".into(), "MSFT".into()];
    c.pools.parents = 512;
    c.control.keys = keys();
    c
}

struct Server {
    http: Client,
    handle: Option<ControlHandle>,
    engine: EngineThread,
    counters: Arc<HotCounters>,
}

impl std::ops::Deref for Server {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.http
    }
}

impl Server {
    fn start(cfg: &Config) -> Server {
        Server::start_with(cfg, true)
    }

    /// A server whose engine loop flags readiness only when `ready`.
    fn start_with(cfg: &Config, ready: bool) -> Server {
        let (gw, ep) = gateway::channel(cfg);
        let counters = Arc::new(HotCounters::new());
        let engine = EngineThread::start(cfg, ep, Journal::default(), ready);
        let handle = control::spawn(cfg, gw, counters.clone()).expect("control plane starts");
        let addr = handle.local_addr();
        assert!(addr.ip().is_loopback());
        let s = Server {
            http: Client::new(addr),
            handle: Some(handle),
            engine,
            counters,
        };
        if ready {
            // Wait (bounded) until the engine thread has flagged readiness.
            let deadline = Instant::now() + Duration::from_secs(10);
            while s.get("/healthz").status != 200 {
                assert!(Instant::now() < deadline, "engine never became ready");
                std::thread::yield_now();
            }
        }
        s
    }

    fn create_order(&self, cid: &str, total: &str) -> Value {
        self.create(&order_body(cid, total, "190.25"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().expect("clean shutdown");
        }
    }
}

// ---------------------------------------------------------------------------
// Endpoints.

#[test]
fn every_endpoint_answers() {
    let s = Server::start(&config());
    // healthz and metrics are open.
    let h = s.get("/healthz");
    assert_eq!(h.status, 200);
    assert_eq!(h.json(), json!({"status": "ok", "engine_ready": true}));

    // create → 201 with the engine's stored answer
    let created = s.create_order("e-1", "1000");
    let id = created["parent_order_id"].as_u64().unwrap();
    assert_eq!(created["status"], "NEW");
    assert_eq!(created["client_order_id"], "e-1");
    let created_at = created["created_at"].as_str().unwrap().to_string();
    assert!(
        created_at.ends_with('Z') && created_at.len() == 24,
        "{created_at}"
    );
    // created_at is the engine's acceptance time on the wall clock.
    let now = model_time(&created_at);
    assert!(now.abs_diff(unix_ms_now()) < 60_000, "{created_at}");

    // repeat → 200, header, original answer
    let again = s.call(
        "POST",
        "/v1/algo-orders",
        &order_body("e-1", "1000", "190.25").to_string(),
    );
    assert_eq!(again.status, 200);
    assert_eq!(
        again.headers.get("idempotent-replayed").unwrap(),
        "true",
        "{:?}",
        again.headers
    );
    assert_eq!(again.json(), created);
    // Same numbers written differently are the same parameters.
    let mut same = order_body("e-1", "1000.00", "190.25");
    same["strategy_params"]["price_limit"] = json!("190.2500");
    let r = s.call("POST", "/v1/algo-orders", &same.to_string());
    assert_eq!((r.status, r.json()), (200, created.clone()));

    // get: the first slice went out at once
    let v = s.wait_for(id, "a live child", 10, |v| v["live_quantity"] == "100");
    assert_eq!(v["status"], "WORKING");
    assert_eq!(v["symbol"], "AAPL");
    assert_eq!(v["side"], "BUY");
    assert_eq!(v["strategy_type"], "ICEBERG");
    assert_eq!(v["total_quantity"], "1000");
    assert_eq!(v["requested_quantity"], "1000");
    assert_eq!(v["display_quantity"], "100");
    assert_eq!(v["price_limit"], "190.2500");
    assert_eq!(v["remaining_quantity"], "900");
    assert_eq!(v["children_sent"], 1);
    assert_eq!(v["created_at"], created_at.as_str());

    // a fill makes it PARTIALLY_FILLED with an average price
    s.engine
        .inject
        .send(Inject::Fill {
            parent: id as ParentId,
            qty: 40,
        })
        .unwrap();
    let v = s.wait_status(id, "PARTIALLY_FILLED");
    assert_eq!(v["filled_quantity"], "40");
    assert_eq!(v["live_quantity"], "60");
    assert_eq!(v["leaves_quantity"], "960");
    assert_eq!(v["remaining_quantity"], "900");
    assert_eq!(v["avg_price"], "190.2500");

    // second order; list with and without a filter
    let id2 = s.create_order("e-2", "500")["parent_order_id"]
        .as_u64()
        .unwrap();
    s.wait_status(id2, "WORKING");
    let all = s.call("GET", "/v1/algo-orders", "").json();
    let ids: Vec<u64> = all["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["parent_order_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![id, id2]);
    let working = s.call("GET", "/v1/algo-orders?status=WORKING", "").json();
    assert_eq!(working["orders"].as_array().unwrap().len(), 1);
    assert_eq!(working["orders"][0]["parent_order_id"], id2);

    // pause / resume
    let p = s.call("POST", &format!("/v1/algo-orders/{id2}/pause"), "");
    assert_eq!(
        (p.status, p.json()["status"].clone()),
        (200, json!("PAUSED"))
    );
    s.wait_for(id2, "its child cancelled", 10, |v| {
        v["live_quantity"] == "0"
    });
    let paused = s.call("GET", "/v1/algo-orders?status=PAUSED", "").json();
    assert_eq!(paused["orders"].as_array().unwrap().len(), 1);
    assert_eq!(paused["orders"][0]["parent_order_id"], id2);
    let r = s.call("POST", &format!("/v1/algo-orders/{id2}/resume"), "");
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("WORKING"))
    );
    s.wait_for(id2, "a second child", 10, |v| v["children_sent"] == 2);

    // amend
    let a = s.call(
        "PATCH",
        &format!("/v1/algo-orders/{id2}"),
        r#"{"total_quantity":"800","price_limit":"191.00"}"#,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["requested_quantity"], "800");
    assert_eq!(a.json()["price_limit"], "191.0000");
    let a = s.call(
        "PATCH",
        &format!("/v1/algo-orders/{id2}"),
        r#"{"price_limit":"190.99"}"#,
    );
    assert_eq!(
        (
            a.json()["requested_quantity"].clone(),
            a.json()["price_limit"].clone()
        ),
        (json!("800"), json!("190.9900"))
    );

    // cancel: the live child's cancel goes to the venue, then CANCELLED
    let c = s.call("DELETE", &format!("/v1/algo-orders/{id2}"), "");
    assert_eq!(c.status, 200, "{}", c.body);
    s.wait_status(id2, "CANCELLED");
    let cancelled = s.call("GET", "/v1/algo-orders?status=CANCELLED", "").json();
    assert_eq!(cancelled["orders"][0]["parent_order_id"], id2);

    // kill switch: set, refuses new orders, reset
    let k = s.call("POST", "/v1/kill-switch", "");
    assert_eq!(k.status, 200);
    assert_eq!(k.json(), json!({"active": true}));
    assert_eq!(
        s.call("GET", "/v1/kill-switch", "").json(),
        json!({"active": true})
    );
    s.wait_status(id, "CANCELLED");
    let (before, records) = (s.state(), s.engine.records());
    let refused = s.call(
        "POST",
        "/v1/algo-orders",
        &order_body("e-3", "100", "190.25").to_string(),
    );
    assert_eq!(
        (refused.status, refused.code()),
        (422, "kill_switch_active".to_string())
    );
    assert_eq!((s.state(), s.engine.records()), (before, records));
    let k = s.call("DELETE", "/v1/kill-switch", "");
    assert_eq!(k.json(), json!({"active": false}));
    let k = s.call("POST", "/v1/kill-switch", r#"{"active": true}"#);
    assert_eq!(k.json(), json!({"active": true}));
    let k = s.call("POST", "/v1/kill-switch", r#"{"active": false}"#);
    assert_eq!(k.json(), json!({"active": false}));
    // The id refused under the kill switch was not consumed.
    s.create_order("e-3", "100");

    // metrics: open, OpenMetrics text with the hot counters
    s.counters.orders.sent.add(7);
    s.counters.tick_to_trade_ns.record(12_345);
    let m = s.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(m.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    for needle in [
        "floe_orders_sent_total 7",
        "floe_tick_to_trade_seconds_count 1",
        "floe_http_responses_total{code=\"201\"}",
        "floe_engine_ready 1",
        "floe_journal_append_seconds_bucket{le=\"+Inf\"} 0",
    ] {
        assert!(m.body.contains(needle), "missing {needle}:\n{}", m.body);
    }
}

/// Unix ms of an RFC 3339 time.
fn model_time(t: &str) -> u64 {
    humantime::parse_rfc3339(t)
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[test]
fn metrics_can_require_a_signature() {
    let mut cfg = config();
    cfg.control.metrics_auth = true;
    let s = Server::start(&cfg);
    let r = s.get("/metrics");
    assert_eq!((r.status, r.code()), (401, "missing_auth".to_string()));
    let r = s.call("GET", "/metrics", "");
    assert_eq!(r.status, 200);
    assert!(r.body.contains("floe_fills_total 0"));
    // healthz never needs one.
    assert_eq!(s.get("/healthz").status, 200);
}

#[test]
fn an_engine_that_is_not_ready_or_stalls_gets_503() {
    let mut cfg = config();
    cfg.pools.command_queue = 2;
    cfg.control.reply_timeout_ms = 150;
    let s = Server::start_with(&cfg, false);
    let h = s.get("/healthz");
    assert_eq!(h.status, 503);
    assert_eq!(h.json()["engine_ready"], false);
    let r = s.call(
        "POST",
        "/v1/algo-orders",
        &order_body("nr-1", "100", "190.25").to_string(),
    );
    assert_eq!((r.status, r.code()), (503, "engine_not_ready".to_string()));

    // Ready but stalled: two commands wait for replies, the third is refused
    // at once without waiting.
    let s = Server::start(&cfg);
    s.engine.stall();
    for _ in 0..2 {
        let r = s.call("DELETE", "/v1/algo-orders/1", "");
        assert_eq!((r.status, r.code()), (503, "engine_timeout".to_string()));
    }
    let t = Instant::now();
    let r = s.call("DELETE", "/v1/algo-orders/1", "");
    assert_eq!((r.status, r.code()), (503, "engine_busy".to_string()));
    assert!(t.elapsed() < Duration::from_millis(150), "busy waited");
    // The engine catches up; the late replies free the queue.
    s.engine.stalled.store(false, Ordering::Release);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = s.call("DELETE", "/v1/algo-orders/1", "");
        if r.status == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "queue never freed: {}", r.body);
        std::thread::yield_now();
    }
}
