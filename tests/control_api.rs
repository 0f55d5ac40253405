//! The control plane over real HTTP on 127.0.0.1: every endpoint, the
//! refusals (each leaving all state unchanged), idempotency under
//! concurrency, the `floe order` client and the README's curl example.
//!
//! The engine side is a loop on its own thread that drains the gateway
//! exactly as the hot thread does (`EngineEndpoint::drain`) and answers with
//! a small model of the engine's command semantics.

use floe::config::{ApiKey, Config};
use floe::control::auth::{sign, unix_ms_now};
use floe::control::gateway::{self, EngineEndpoint, ParentId};
use floe::control::metrics::HotCounters;
use floe::control::{self, ControlHandle};
use floe::engine::{Action, Engine, Outbox, Record};
use floe::order::{CancelReason, ChildTag, OrderEvent, OrderRef, OrderRequest};
use floe::time::Nanos;
use floe::types::{Level, Price4, Qty, Quote, Symbol};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const DESK: (&str, &str) = ("desk", "desk-secret-0123456789");
const VIEWER: (&str, &str) = ("viewer", "viewer-secret-abcdef");
const SLOW: (&str, &str) = ("slow", "slow-secret-xyz");

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
// The server and a signing client.

fn key(id: &str, secret: &str, read_only: bool, rate: u32, burst: u32) -> ApiKey {
    ApiKey {
        id: id.into(),
        secret: Some(secret.into()),
        secret_file: None,
        read_only,
        rate_per_sec: rate,
        burst,
    }
}

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
    c.control.keys = vec![
        key(DESK.0, DESK.1, false, 100_000, 100_000),
        key(VIEWER.0, VIEWER.1, true, 100_000, 100_000),
        key(SLOW.0, SLOW.1, false, 1, 3),
    ];
    for i in 0..8 {
        c.control.keys.push(key(
            &format!("client{i}"),
            &format!("client-secret-{i}"),
            false,
            100_000,
            100_000,
        ));
    }
    c
}

struct Server {
    /// Last timestamp signed: strictly increasing, so that two identical
    /// requests in the same millisecond still differ.
    last_ts: AtomicU64,
    base: String,
    addr: std::net::SocketAddr,
    handle: Option<ControlHandle>,
    engine: EngineThread,
    counters: Arc<HotCounters>,
}

impl Server {
    fn start(cfg: &Config) -> Server {
        Server::start_with(cfg, true)
    }

    fn start_with(cfg: &Config, ready: bool) -> Server {
        Server::start_on(cfg, Journal::default(), ready)
    }

    /// A server whose engine recovers from `journal` first.
    fn start_on(cfg: &Config, journal: Journal, ready: bool) -> Server {
        let (gw, ep) = gateway::channel(cfg);
        let counters = Arc::new(HotCounters::new());
        let engine = EngineThread::start(cfg, ep, journal, ready);
        let handle = control::spawn(cfg, gw, counters.clone()).expect("control plane starts");
        let addr = handle.local_addr();
        assert!(addr.ip().is_loopback());
        // Wait (bounded) until the engine thread has flagged readiness.
        if ready {
            let s = Server {
                last_ts: AtomicU64::new(0),
                base: format!("http://{addr}"),
                addr,
                handle: Some(handle),
                engine,
                counters,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while s.get("/healthz").status != 200 {
                assert!(Instant::now() < deadline, "engine never became ready");
                std::thread::yield_now();
            }
            return s;
        }
        Server {
            last_ts: AtomicU64::new(0),
            base: format!("http://{addr}"),
            addr,
            handle: Some(handle),
            engine,
            counters,
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into()
    }

    /// An unsigned request with explicit headers.
    fn raw(&self, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Resp {
        let mut b = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        for (k, v) in headers {
            b = b.header(*k, v.as_str());
        }
        let req = b.body(body.to_vec()).unwrap();
        let mut r = Server::agent().run(req).expect("HTTP round trip");
        Resp {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.body_mut().read_to_string().unwrap(),
        }
    }

    fn get(&self, path: &str) -> Resp {
        self.raw("GET", path, &[], b"")
    }

    fn ts(&self) -> u64 {
        let now = unix_ms_now();
        let prev = self
            .last_ts
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(now.max(t + 1))
            })
            .unwrap();
        now.max(prev + 1)
    }

    fn signed_as(&self, k: (&str, &str), method: &str, path: &str, body: &str) -> Resp {
        let h = signed_headers(k, self.ts(), method, path, body.as_bytes());
        self.raw(method, path, &h, body.as_bytes())
    }

    fn call(&self, method: &str, path: &str, body: &str) -> Resp {
        self.signed_as(DESK, method, path, body)
    }

    /// Everything a client can observe: all orders and the kill switch.
    fn state(&self) -> (Value, Value) {
        let list = self.call("GET", "/v1/algo-orders", "");
        assert_eq!(list.status, 200, "{}", list.body);
        let kill = self.call("GET", "/v1/kill-switch", "");
        assert_eq!(kill.status, 200, "{}", kill.body);
        (list.json(), kill.json())
    }

    fn create(&self, cid: &str, total: &str) -> Value {
        let r = self.call(
            "POST",
            "/v1/algo-orders",
            &order_body(cid, total).to_string(),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().expect("clean shutdown");
        }
    }
}

fn signed_headers(
    k: (&str, &str),
    ts: u64,
    method: &str,
    path: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    vec![
        ("X-Floe-Key", k.0.to_string()),
        ("X-Floe-Timestamp", ts.to_string()),
        (
            "X-Floe-Signature",
            sign(k.1.as_bytes(), ts, method, path, body),
        ),
        ("Content-Type", "application/json".to_string()),
    ]
}

struct Resp {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("<none>")
            .to_string()
    }
}

fn order_body(cid: &str, total: &str) -> Value {
    json!({
        "client_order_id": cid,
        "symbol": "AAPL",
        "side": "BUY",
        "total_quantity": total,
        "strategy_type": "ICEBERG",
        "strategy_params": {
            "display_quantity": "100",
            "price_limit": "190.25",
            "variance_percent": "0.25",
            "min_delay_ms": 10,
            "max_delay_ms": 50
        }
    })
}

// ---------------------------------------------------------------------------
// Endpoints.

impl Server {
    /// Polls GET until `pred` holds on the order (bounded).
    fn wait_for(&self, id: u64, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let v = self
                .call("GET", &format!("/v1/algo-orders/{id}"), "")
                .json();
            if pred(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "order {id} never got {what}: {v}"
            );
            std::thread::yield_now();
        }
    }

    fn wait_status(&self, id: u64, status: &str) -> Value {
        self.wait_for(id, status, |v| v["status"] == status)
    }
}

#[test]
fn every_endpoint_answers() {
    let s = Server::start(&config());
    // healthz and metrics are open.
    let h = s.get("/healthz");
    assert_eq!(h.status, 200);
    assert_eq!(h.json(), json!({"status": "ok", "engine_ready": true}));

    // create → 201 with the engine's stored answer
    let created = s.create("e-1", "1000");
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
        &order_body("e-1", "1000").to_string(),
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
    let mut same = order_body("e-1", "1000.00");
    same["strategy_params"]["price_limit"] = json!("190.2500");
    let r = s.call("POST", "/v1/algo-orders", &same.to_string());
    assert_eq!((r.status, r.json()), (200, created.clone()));

    // get: the first slice went out at once
    let v = s.wait_for(id, "a live child", |v| v["live_quantity"] == "100");
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
    let id2 = s.create("e-2", "500")["parent_order_id"].as_u64().unwrap();
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
    s.wait_for(id2, "its child cancelled", |v| v["live_quantity"] == "0");
    let paused = s.call("GET", "/v1/algo-orders?status=PAUSED", "").json();
    assert_eq!(paused["orders"].as_array().unwrap().len(), 1);
    assert_eq!(paused["orders"][0]["parent_order_id"], id2);
    let r = s.call("POST", &format!("/v1/algo-orders/{id2}/resume"), "");
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("WORKING"))
    );
    s.wait_for(id2, "a second child", |v| v["children_sent"] == 2);

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
        &order_body("e-3", "100").to_string(),
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
    s.create("e-3", "100");

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
fn idempotent_replay_survives_a_restart() {
    let cfg = config();
    let journal = Journal::default();
    let (created, r2, view) = {
        let s = Server::start_on(&cfg, journal.clone(), true);
        let created = s.create("r-1", "1000");
        let id = created["parent_order_id"].as_u64().unwrap();
        let r2 = s.create("r-2", "500")["parent_order_id"].as_u64().unwrap();
        assert_eq!(
            s.call("POST", &format!("/v1/algo-orders/{r2}/pause"), "")
                .status,
            200
        );
        let view = s.wait_for(id, "a live child", |v| v["live_quantity"] == "100");
        s.wait_for(r2, "its child cancelled", |v| v["live_quantity"] == "0");
        (created, r2, view)
        // The control plane and the engine stop here.
    };
    assert!(journal.lock().unwrap().len() >= 6);
    let s = Server::start_on(&cfg, journal.clone(), true);
    // The read model is rebuilt from the recovered engine.
    let id = created["parent_order_id"].as_u64().unwrap();
    let v = s.call("GET", &format!("/v1/algo-orders/{id}"), "").json();
    for f in [
        "client_order_id",
        "created_at",
        "total_quantity",
        "price_limit",
        "children_sent",
    ] {
        assert_eq!(v[f], view[f], "{f}");
    }
    assert_eq!(
        s.call("GET", &format!("/v1/algo-orders/{r2}"), "").json()["status"],
        "PAUSED"
    );
    // The same request gets the original answer, a different one a conflict.
    let again = s.call(
        "POST",
        "/v1/algo-orders",
        &order_body("r-1", "1000").to_string(),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.json(), created);
    let other = s.call(
        "POST",
        "/v1/algo-orders",
        &order_body("r-1", "2000").to_string(),
    );
    assert_eq!(
        (other.status, other.code()),
        (409, "idempotency_conflict".to_string())
    );
    // New ids continue after the recovered ones.
    let next = s.create("r-3", "100");
    assert_eq!(next["parent_order_id"].as_u64().unwrap(), r2 + 1);
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
        &order_body("nr-1", "100").to_string(),
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

// ---------------------------------------------------------------------------
// Refusals: each gets its status and code and changes nothing.

type Case<'a> = (&'static str, u16, &'static str, Box<dyn Fn() -> Resp + 'a>);

fn mutate(f: impl FnOnce(&mut Value)) -> String {
    let mut v = order_body("bad-1", "1000");
    f(&mut v);
    v.to_string()
}

#[test]
fn bad_inputs_are_refused_and_change_nothing() {
    let server = Server::start(&config());
    let s = &server;
    // Some state to protect: partially filled, paused, cancelled.
    let mut base1 = order_body("base-1", "1000");
    base1["strategy_params"]["display_quantity"] = json!("200");
    base1["strategy_params"]["variance_percent"] = json!("0");
    let r = s.call("POST", "/v1/algo-orders", &base1.to_string());
    assert_eq!(r.status, 201, "{}", r.body);
    let a = r.json()["parent_order_id"].as_u64().unwrap();
    let b = s.create("base-2", "1000")["parent_order_id"]
        .as_u64()
        .unwrap();
    let c = s.create("base-3", "1000")["parent_order_id"]
        .as_u64()
        .unwrap();
    s.wait_for(a, "a live child", |v| v["live_quantity"] == "200");
    assert_eq!(
        s.call("POST", &format!("/v1/algo-orders/{b}/pause"), "")
            .status,
        200
    );
    assert_eq!(
        s.call("DELETE", &format!("/v1/algo-orders/{c}"), "").status,
        200
    );
    s.engine
        .inject
        .send(Inject::Fill {
            parent: a as ParentId,
            qty: 150,
        })
        .unwrap();
    s.wait_for(a, "a partial fill", |v| {
        v["filled_quantity"] == "150" && v["live_quantity"] == "50"
    });
    s.wait_for(b, "its child cancelled", |v| v["live_quantity"] == "0");
    s.wait_status(c, "CANCELLED");

    let post = |body: String| -> Box<dyn Fn() -> Resp + '_> {
        Box::new(move || s.call("POST", "/v1/algo-orders", &body))
    };
    let raw_post = |body: &[u8]| -> Box<dyn Fn() -> Resp + '_> {
        let body = body.to_vec();
        Box::new(move || {
            let h = signed_headers(DESK, s.ts(), "POST", "/v1/algo-orders", &body);
            s.raw("POST", "/v1/algo-orders", &h, &body)
        })
    };
    let valid = order_body("auth-1", "1000").to_string();
    let with_headers = |f: fn(&mut Vec<(&'static str, String)>)| -> Box<dyn Fn() -> Resp + '_> {
        let valid = valid.clone();
        Box::new(move || {
            let mut h = signed_headers(DESK, s.ts(), "POST", "/v1/algo-orders", valid.as_bytes());
            f(&mut h);
            s.raw("POST", "/v1/algo-orders", &h, valid.as_bytes())
        })
    };
    let at_time = |offset_ms: i64| -> Box<dyn Fn() -> Resp + '_> {
        let valid = valid.clone();
        Box::new(move || {
            let ts = (s.ts() as i64 + offset_ms) as u64;
            let h = signed_headers(DESK, ts, "POST", "/v1/algo-orders", valid.as_bytes());
            s.raw("POST", "/v1/algo-orders", &h, valid.as_bytes())
        })
    };
    let as_key = |k: (&'static str, &'static str),
                  method: &'static str,
                  path: String,
                  body: &'static str|
     -> Box<dyn Fn() -> Resp + '_> {
        Box::new(move || s.signed_as(k, method, &path, body))
    };
    let desk = |method: &'static str, path: String, body: String| -> Box<dyn Fn() -> Resp + '_> {
        Box::new(move || s.call(method, &path, &body))
    };

    let cases: Vec<Case> = vec![
        // --- JSON shape
        ("malformed JSON", 400, "malformed_json", raw_post(br#"{"client_order_id": "x", "#)),
        ("empty body", 400, "malformed_json", raw_post(b"")),
        ("not JSON at all", 400, "malformed_json", raw_post(b"client_order_id=x")),
        ("trailing garbage", 400, "malformed_json", raw_post(format!("{} x", order_body("tg", "1000")).as_bytes())),
        ("array body", 400, "invalid_type", raw_post(b"[1, 2]")),
        ("null body", 400, "invalid_type", raw_post(b"null")),
        ("unknown top-level field", 400, "unknown_field", post(mutate(|v| v["price"] = json!("1")))),
        ("unknown strategy field", 400, "unknown_field", post(mutate(|v| v["strategy_params"]["slices"] = json!(3)))),
        ("duplicate field", 400, "duplicate_field", raw_post(br#"{"client_order_id":"d","client_order_id":"e","symbol":"AAPL","side":"BUY","total_quantity":"100","strategy_type":"ICEBERG","strategy_params":{"display_quantity":"100","price_limit":"1.00","variance_percent":"0","min_delay_ms":0,"max_delay_ms":0}}"#)),
        ("missing client_order_id", 400, "missing_field", post(mutate(|v| { v.as_object_mut().unwrap().remove("client_order_id"); }))),
        ("missing symbol", 400, "missing_field", post(mutate(|v| { v.as_object_mut().unwrap().remove("symbol"); }))),
        ("missing side", 400, "missing_field", post(mutate(|v| { v.as_object_mut().unwrap().remove("side"); }))),
        ("missing total_quantity", 400, "missing_field", post(mutate(|v| { v.as_object_mut().unwrap().remove("total_quantity"); }))),
        ("missing strategy_type", 400, "missing_field", post(mutate(|v| { v.as_object_mut().unwrap().remove("strategy_type"); }))),
        ("missing strategy_params", 400, "missing_field", post(mutate(|v| { v.as_object_mut().unwrap().remove("strategy_params"); }))),
        ("missing display_quantity", 400, "missing_field", post(mutate(|v| { v["strategy_params"].as_object_mut().unwrap().remove("display_quantity"); }))),
        ("missing price_limit", 400, "missing_field", post(mutate(|v| { v["strategy_params"].as_object_mut().unwrap().remove("price_limit"); }))),
        ("missing max_delay_ms", 400, "missing_field", post(mutate(|v| { v["strategy_params"].as_object_mut().unwrap().remove("max_delay_ms"); }))),
        // --- types
        ("quantity as a number", 400, "invalid_type", post(mutate(|v| v["total_quantity"] = json!(1000)))),
        ("price as a number", 400, "invalid_type", post(mutate(|v| v["strategy_params"]["price_limit"] = json!(190.25)))),
        ("delay as a string", 400, "invalid_type", post(mutate(|v| v["strategy_params"]["min_delay_ms"] = json!("10")))),
        ("negative delay", 400, "invalid_type", post(mutate(|v| v["strategy_params"]["min_delay_ms"] = json!(-1)))),
        ("null symbol", 400, "invalid_type", post(mutate(|v| v["symbol"] = Value::Null))),
        ("strategy_params a string", 400, "invalid_type", post(mutate(|v| v["strategy_params"] = json!("iceberg")))),
        ("peg not a bool", 400, "invalid_type", post(mutate(|v| v["strategy_params"]["peg"] = json!("yes")))),
        // --- values
        ("side HOLD", 400, "invalid_value", post(mutate(|v| v["side"] = json!("HOLD")))),
        ("side lowercase", 400, "invalid_value", post(mutate(|v| v["side"] = json!("buy")))),
        ("strategy TWAP", 400, "invalid_value", post(mutate(|v| v["strategy_type"] = json!("TWAP")))),
        ("time in force GTC", 400, "invalid_value", post(mutate(|v| v["strategy_params"]["time_in_force"] = json!("GTC")))),
        ("empty client_order_id", 400, "invalid_field", post(mutate(|v| v["client_order_id"] = json!("")))),
        ("client_order_id too long", 400, "invalid_field", post(mutate(|v| v["client_order_id"] = json!("x".repeat(65))))),
        ("client_order_id with a space", 400, "invalid_field", post(mutate(|v| v["client_order_id"] = json!("a b")))),
        ("symbol too long", 400, "invalid_field", post(mutate(|v| v["symbol"] = json!("TOOLONGSYM")))),
        ("zero quantity", 400, "invalid_field", post(mutate(|v| v["total_quantity"] = json!("0")))),
        ("negative quantity", 400, "invalid_field", post(mutate(|v| v["total_quantity"] = json!("-100")))),
        ("quantity not a lot multiple", 400, "not_a_lot_multiple", post(mutate(|v| v["total_quantity"] = json!("150")))),
        ("fractional quantity", 400, "not_a_lot_multiple", post(mutate(|v| v["total_quantity"] = json!("100.5")))),
        ("quantity with exponent", 400, "invalid_field", post(mutate(|v| v["total_quantity"] = json!("1e3")))),
        ("quantity not a number", 400, "invalid_field", post(mutate(|v| v["total_quantity"] = json!("lots")))),
        ("quantity above u32", 400, "invalid_field", post(mutate(|v| v["total_quantity"] = json!("5000000000")))),
        ("zero display", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["display_quantity"] = json!("0")))),
        ("display above total", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["display_quantity"] = json!("1100")))),
        ("display not a lot multiple", 400, "not_a_lot_multiple", post(mutate(|v| v["strategy_params"]["display_quantity"] = json!("250")))),
        ("zero price", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["price_limit"] = json!("0")))),
        ("negative price", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["price_limit"] = json!("-1.00")))),
        ("price off tick", 400, "not_a_tick_multiple", post(mutate(|v| v["strategy_params"]["price_limit"] = json!("190.255")))),
        ("price below 1/10000", 400, "not_a_tick_multiple", post(mutate(|v| v["strategy_params"]["price_limit"] = json!("190.00001")))),
        ("price above the wire maximum", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["price_limit"] = json!("300000.00")))),
        ("variance of 1", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["variance_percent"] = json!("1")))),
        ("variance above 1", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["variance_percent"] = json!(1.5)))),
        ("negative variance", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["variance_percent"] = json!("-0.1")))),
        ("variance with 7 decimals", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["variance_percent"] = json!("0.1234567")))),
        ("min delay above max", 400, "invalid_field", post(mutate(|v| { v["strategy_params"]["min_delay_ms"] = json!(60); v["strategy_params"]["max_delay_ms"] = json!(50); }))),
        ("delay above a day", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["max_delay_ms"] = json!(86_400_001u64)))),
        // --- engine refusals
        ("unknown symbol", 422, "unknown_symbol", post(mutate(|v| v["symbol"] = json!("ZZZZ")))),
        ("notional above the risk limit", 422, "risk_refused", post(mutate(|v| { v["total_quantity"] = json!("100000"); v["strategy_params"]["price_limit"] = json!("200.00"); }))),
        ("same id, different body", 409, "idempotency_conflict", post(order_body("base-1", "2000").to_string())),
        // --- auth
        ("missing key header", 401, "missing_auth", with_headers(|h| h.retain(|x| x.0 != "X-Floe-Key"))),
        ("missing timestamp header", 401, "missing_auth", with_headers(|h| h.retain(|x| x.0 != "X-Floe-Timestamp"))),
        ("missing signature header", 401, "missing_auth", with_headers(|h| h.retain(|x| x.0 != "X-Floe-Signature"))),
        ("no auth headers at all", 401, "missing_auth", Box::new(|| s.raw("POST", "/v1/algo-orders", &[], valid.as_bytes()))),
        ("unknown key", 401, "unknown_key", with_headers(|h| h[0].1 = "mallory".into())),
        ("bad hex signature", 401, "bad_signature", with_headers(|h| h[2].1 = "zz".repeat(32))),
        ("short signature", 401, "bad_signature", with_headers(|h| h[2].1.truncate(62))),
        ("empty signature", 401, "bad_signature", with_headers(|h| h[2].1.clear())),
        ("wrong signature", 401, "bad_signature", with_headers(|h| h[2].1 = sign(b"not-the-secret", 1, "POST", "/v1/algo-orders", b""))),
        ("signature over another body", 401, "bad_signature", {
            let valid = valid.clone();
            Box::new(move || {
                let h = signed_headers(DESK, s.ts(), "POST", "/v1/algo-orders", valid.as_bytes());
                let other = valid.replace("1000", "2000");
                s.raw("POST", "/v1/algo-orders", &h, other.as_bytes())
            })
        }),
        ("signature over another path", 401, "bad_signature", Box::new(|| {
            let h = signed_headers(DESK, s.ts(), "GET", "/v1/algo-orders", b"");
            s.raw("GET", "/v1/algo-orders?status=WORKING", &h, b"")
        })),
        ("signature for another method", 401, "bad_signature", Box::new(move || {
            let path = format!("/v1/algo-orders/{a}");
            let h = signed_headers(DESK, s.ts(), "GET", &path, b"");
            s.raw("DELETE", &path, &h, b"")
        })),
        ("signature by another key's secret", 401, "bad_signature", with_headers(|h| h[0].1 = VIEWER.0.into())),
        ("timestamp not a number", 401, "bad_timestamp", with_headers(|h| h[1].1 = "yesterday".into())),
        ("timestamp in seconds", 401, "stale_timestamp", {
            let valid = valid.clone();
            Box::new(move || {
                let ts = unix_ms_now() / 1000;
                let h = signed_headers(DESK, ts, "POST", "/v1/algo-orders", valid.as_bytes());
                s.raw("POST", "/v1/algo-orders", &h, valid.as_bytes())
            })
        }),
        ("stale timestamp", 401, "stale_timestamp", at_time(-6_000)),
        ("future timestamp", 401, "future_timestamp", at_time(6_000)),
        ("replayed signature", 401, "replayed_signature", {
            // The first use of these headers is a GET (state unchanged); the
            // second is refused.
            Box::new(|| {
                let h = signed_headers(DESK, s.ts(), "GET", "/v1/algo-orders", b"");
                let first = s.raw("GET", "/v1/algo-orders", &h, b"");
                assert_eq!(first.status, 200);
                s.raw("GET", "/v1/algo-orders", &h, b"")
            })
        }),
        ("replayed write", 401, "replayed_signature", {
            let body = base1.to_string();
            Box::new(move || {
                // A repeat of an existing create: first answer is the replay (200).
                let h = signed_headers(DESK, s.ts(), "POST", "/v1/algo-orders", body.as_bytes());
                let first = s.raw("POST", "/v1/algo-orders", &h, body.as_bytes());
                assert_eq!(first.status, 200);
                s.raw("POST", "/v1/algo-orders", &h, body.as_bytes())
            })
        }),
        ("oversize body", 413, "body_too_large", {
            let big = mutate(|v| v["client_order_id"] = json!("x".repeat(5000)));
            Box::new(move || s.call("POST", "/v1/algo-orders", &big))
        }),
        ("oversize chunked body", 413, "body_too_large", Box::new(|| chunked_post(s.addr, 5000))),
        ("read-only key creates", 403, "read_only_key", as_key(VIEWER, "POST", "/v1/algo-orders".into(), r#"{"client_order_id":"ro"}"#)),
        ("read-only key cancels", 403, "read_only_key", as_key(VIEWER, "DELETE", format!("/v1/algo-orders/{a}"), "")),
        ("read-only key pauses", 403, "read_only_key", as_key(VIEWER, "POST", format!("/v1/algo-orders/{a}/pause"), "")),
        ("read-only key amends", 403, "read_only_key", as_key(VIEWER, "PATCH", format!("/v1/algo-orders/{a}"), r#"{"price_limit":"1.00"}"#)),
        ("read-only key sets the kill switch", 403, "read_only_key", as_key(VIEWER, "POST", "/v1/kill-switch".into(), "")),
        // --- ids, routes, states
        ("unknown id", 404, "not_found", desk("GET", "/v1/algo-orders/999999".into(), String::new())),
        ("non-numeric id", 400, "invalid_id", desk("GET", "/v1/algo-orders/abc".into(), String::new())),
        ("id above u32", 400, "invalid_id", desk("GET", "/v1/algo-orders/4294967296".into(), String::new())),
        ("cancel unknown id", 404, "not_found", desk("DELETE", "/v1/algo-orders/999999".into(), String::new())),
        ("pause unknown id", 404, "not_found", desk("POST", "/v1/algo-orders/999999/pause".into(), String::new())),
        ("resume unknown id", 404, "not_found", desk("POST", "/v1/algo-orders/999999/resume".into(), String::new())),
        ("amend unknown id", 404, "not_found", desk("PATCH", "/v1/algo-orders/999999".into(), r#"{"price_limit":"1.00"}"#.into())),
        ("amend with nothing", 400, "missing_field", desk("PATCH", format!("/v1/algo-orders/{a}"), "{}".into())),
        ("amend unknown field", 400, "unknown_field", desk("PATCH", format!("/v1/algo-orders/{a}"), r#"{"display_quantity":"100"}"#.into())),
        ("amend off-lot total", 400, "not_a_lot_multiple", desk("PATCH", format!("/v1/algo-orders/{a}"), r#"{"total_quantity":"1050"}"#.into())),
        ("amend off-tick limit", 400, "not_a_tick_multiple", desk("PATCH", format!("/v1/algo-orders/{a}"), r#"{"price_limit":"1.001"}"#.into())),
        ("amend total below filled", 422, "below_filled", desk("PATCH", format!("/v1/algo-orders/{a}"), r#"{"total_quantity":"100"}"#.into())),
        ("amend a cancelled order", 409, "invalid_state", desk("PATCH", format!("/v1/algo-orders/{c}"), r#"{"price_limit":"1.00"}"#.into())),
        ("pause a cancelled order", 409, "invalid_state", desk("POST", format!("/v1/algo-orders/{c}/pause"), String::new())),
        ("cancel a cancelled order", 409, "invalid_state", desk("DELETE", format!("/v1/algo-orders/{c}"), String::new())),
        ("resume a working order", 409, "invalid_state", desk("POST", format!("/v1/algo-orders/{a}/resume"), String::new())),
        ("list with an unknown status", 400, "invalid_status", desk("GET", "/v1/algo-orders?status=OPEN".into(), String::new())),
        ("list with an unknown parameter", 400, "invalid_query", desk("GET", "/v1/algo-orders?limit=5".into(), String::new())),
        ("unknown route", 404, "not_found", desk("GET", "/v1/orders".into(), String::new())),
        ("wrong method", 405, "method_not_allowed", desk("PUT", "/v1/algo-orders".into(), String::new())),
        ("kill switch with a bad body", 400, "invalid_type", desk("POST", "/v1/kill-switch".into(), r#"{"active":"yes"}"#.into())),
        ("kill switch with an unknown field", 400, "unknown_field", desk("POST", "/v1/kill-switch".into(), r#"{"active":true,"why":"x"}"#.into())),
    ];
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.0).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are distinct");

    for (name, status, code, run) in &cases {
        let before = s.state();
        let records = s.engine.records();
        let r = run();
        assert_eq!(
            (r.status, r.code().as_str()),
            (*status, *code),
            "{name}: {}",
            r.body
        );
        let msg = r.json()["error"]["message"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(!msg.is_empty(), "{name}: no message");
        for secret in [DESK.1, VIEWER.1, SLOW.1] {
            assert!(!r.body.contains(secret), "{name}: secret in the answer");
        }
        assert_eq!(s.state(), before, "{name}: state changed");
        assert_eq!(s.engine.records(), records, "{name}: journal changed");
    }
    eprintln!("{} bad inputs refused with state unchanged", cases.len());

    // Field-level messages name the field.
    let r = s.call(
        "POST",
        "/v1/algo-orders",
        &mutate(|v| v["strategy_params"]["price_limit"] = json!("190.255")),
    );
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("strategy_params.price_limit:"),
        "{}",
        r.body
    );
    let r = s.call(
        "POST",
        "/v1/algo-orders",
        &mutate(|v| v["strategy_params"]["display_quantity"] = json!(200)),
    );
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("strategy_params.display_quantity:"),
        "{}",
        r.body
    );

    // Ids refused by the engine were not consumed.
    let ok = mutate(|v| v["client_order_id"] = json!("bad-1"));
    assert_eq!(s.call("POST", "/v1/algo-orders", &ok).status, 201);
}

/// A chunked POST (no Content-Length) whose body exceeds the limit.
fn chunked_post(addr: std::net::SocketAddr, size: usize) -> Resp {
    let mut t = std::net::TcpStream::connect(addr).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /v1/algo-orders HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    t.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'x'; size];
    // The server may answer and close before the whole body is written.
    let _ = t.write_all(format!("{size:x}\r\n").as_bytes());
    let _ = t.write_all(&chunk);
    let _ = t.write_all(b"\r\n0\r\n\r\n");
    let mut out = Vec::new();
    let _ = t.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    // Undo the chunked transfer coding of the answer if the server used it.
    let body = match body.find('{') {
        Some(i) => body[i..body.rfind('}').map_or(body.len(), |j| j + 1)].to_string(),
        None => body,
    };
    Resp {
        status,
        headers: ureq::http::HeaderMap::new(),
        body,
    }
}

#[test]
fn rate_limit_answers_429_with_retry_after_and_changes_nothing() {
    let s = Server::start(&config());
    let t0 = Instant::now();
    let mut accepted = 0u32;
    let limited = loop {
        let before = s.state();
        let r = s.signed_as(
            SLOW,
            "POST",
            "/v1/algo-orders",
            &order_body(&format!("slow-{accepted}"), "100").to_string(),
        );
        match r.status {
            201 => accepted += 1,
            429 => {
                assert_eq!(s.state(), before, "a limited request changed state");
                break r;
            }
            other => panic!("{other}: {}", r.body),
        }
        // Burst 3 at 1/s: a 429 must come within burst + elapsed seconds + 1.
        let bound = 3 + t0.elapsed().as_secs() as u32 + 1;
        assert!(accepted <= bound, "{accepted} accepted, never limited");
    };
    assert!(accepted >= 3, "limited after {accepted}");
    assert_eq!(limited.code(), "rate_limited");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "Retry-After {retry}");
    // Other keys are not limited by it.
    assert_eq!(s.call("GET", "/v1/algo-orders", "").status, 200);
}

// ---------------------------------------------------------------------------
// Idempotency under concurrency.

#[test]
fn concurrent_duplicates_create_exactly_one_parent_per_id() {
    const CLIENTS: usize = 8;
    const REQUESTS: usize = 1_000;
    const IDS: usize = 100;
    let s = Server::start(&config());
    // Each id has a canonical body (total 1000) and a variant (total 2000)
    // sent by one request in eight. Whichever reaches the engine first wins;
    // every later request with the same body must be a replay of it and
    // every other body a conflict.
    // (id index, variant body, status, parent id)
    type Outcome = (usize, bool, u16, Option<u64>);
    let log: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for c in 0..CLIENTS {
            let s = &s;
            let log = &log;
            scope.spawn(move || {
                let key_id = format!("client{c}");
                let secret = format!("client-secret-{c}");
                let agent = Server::agent();
                let mut last_ts = 0u64;
                let mut mine = Vec::with_capacity(REQUESTS);
                for i in 0..REQUESTS {
                    let id = (i * 7 + c * 13) % IDS;
                    let variant = (i + c) % 8 == 0;
                    let total = if variant { "2000" } else { "1000" };
                    let body = order_body(&format!("dup-{id}"), total).to_string();
                    // Timestamps strictly increase per client so that no two
                    // of its requests share a signature.
                    let ts = unix_ms_now().max(last_ts + 1);
                    last_ts = ts;
                    let h = signed_headers(
                        (&key_id, &secret),
                        ts,
                        "POST",
                        "/v1/algo-orders",
                        body.as_bytes(),
                    );
                    let mut b = ureq::http::Request::builder()
                        .method("POST")
                        .uri(format!("{}/v1/algo-orders", s.base));
                    for (k, v) in &h {
                        b = b.header(*k, v.as_str());
                    }
                    let mut r = agent.run(b.body(body.into_bytes()).unwrap()).unwrap();
                    let status = r.status().as_u16();
                    let replayed = r.headers().get("idempotent-replayed").is_some();
                    let v: Value =
                        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
                    assert_eq!(replayed, status == 200, "{status} {v}");
                    mine.push((id, variant, status, v["parent_order_id"].as_u64()));
                }
                log.lock().unwrap().extend(mine);
            });
        }
    });
    let log = log.into_inner().unwrap();
    assert_eq!(log.len(), CLIENTS * REQUESTS);
    let mut by_id: HashMap<usize, Vec<(bool, u16, Option<u64>)>> = HashMap::new();
    for (id, variant, status, pid) in log {
        by_id.entry(id).or_default().push((variant, status, pid));
    }
    assert_eq!(by_id.len(), IDS);
    let mut parents = Vec::new();
    for (id, rs) in &by_id {
        let created: Vec<_> = rs.iter().filter(|r| r.1 == 201).collect();
        assert_eq!(created.len(), 1, "dup-{id}: {} creates", created.len());
        let (winner, _, pid) = *created[0];
        for (variant, status, p) in rs {
            if *variant == winner {
                assert!(*status == 201 || *status == 200, "dup-{id}: {status}");
                assert_eq!(p, &pid, "dup-{id}: another parent");
            } else {
                assert_eq!(*status, 409, "dup-{id}: other body got {status}");
            }
        }
        parents.push(pid.unwrap());
    }
    parents.sort_unstable();
    parents.dedup();
    assert_eq!(parents.len(), IDS, "distinct parents");
    let list = s.call("GET", "/v1/algo-orders", "").json();
    assert_eq!(list["orders"].as_array().unwrap().len(), IDS);
}

// ---------------------------------------------------------------------------
// The `floe order` client, run as the built binary.

fn floe(s: &Server, args: &[&str], env_key: bool) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_floe"));
    cmd.arg("order").args(args).env("FLOE_URL", &s.base);
    cmd.env_remove("FLOE_KEY").env_remove("FLOE_SECRET");
    if env_key {
        cmd.env("FLOE_KEY", DESK.0).env("FLOE_SECRET", DESK.1);
    }
    let out = cmd.output().expect("floe runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn floe_order_client_end_to_end() {
    let s = Server::start(&config());
    let submit = [
        "submit",
        "--json",
        "--client-order-id",
        "cli-1",
        "--symbol",
        "AAPL",
        "--side",
        "BUY",
        "--quantity",
        "1000",
        "--display",
        "200",
        "--limit",
        "190.25",
        "--variance",
        "0.2",
        "--min-delay-ms",
        "5",
        "--max-delay-ms",
        "20",
    ];
    let (code, out, err) = floe(&s, &submit, true);
    assert_eq!(code, 0, "{out}{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let id = created["parent_order_id"].as_u64().unwrap().to_string();
    assert_eq!(created["status"], "NEW");

    // Repeat: same answer, marked as a replay in table form.
    let mut table_submit = submit.to_vec();
    table_submit.retain(|a| *a != "--json");
    let (code, out, _) = floe(&s, &table_submit, true);
    assert_eq!(code, 0);
    assert!(out.contains("idempotent replay"), "{out}");
    assert!(out.contains(&format!("parent_order_id  {id}")), "{out}");

    // get (table and JSON)
    let (code, out, _) = floe(&s, &["get", &id], true);
    assert_eq!(code, 0);
    assert!(
        out.lines().any(|l| l == "status              WORKING"),
        "{out}"
    );
    assert!(out.contains("price_limit         190.2500"), "{out}");
    let (_, out, _) = floe(&s, &["get", "--json", &id], true);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["display_quantity"],
        "200"
    );

    // pause, list by status, resume, amend
    assert_eq!(floe(&s, &["pause", &id], true).0, 0);
    let (_, out, _) = floe(&s, &["list", "--status", "PAUSED"], true);
    assert!(
        out.starts_with("ID  CLIENT_ORDER_ID  SYMBOL  SIDE  STATUS"),
        "{out}"
    );
    assert!(
        out.contains("cli-1") && out.contains("PAUSED") && out.ends_with("1 order(s)\n"),
        "{out}"
    );
    let (_, out, _) = floe(&s, &["list", "--status", "WORKING"], true);
    assert!(out.ends_with("0 order(s)\n"), "{out}");
    assert_eq!(floe(&s, &["resume", &id], true).0, 0);
    let (code, out, _) = floe(
        &s,
        &[
            "amend",
            "--json",
            &id,
            "--quantity",
            "1200",
            "--limit",
            "190.50",
        ],
        true,
    );
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["requested_quantity"].as_str(), v["price_limit"].as_str()),
        (Some("1200"), Some("190.5000"))
    );

    // errors: non-zero exit, the server's code and message on stderr
    let (code, _, err) = floe(&s, &["get", "424242"], true);
    assert_eq!(code, 1);
    assert!(
        err.contains("404 not_found: no algo order with id 424242"),
        "{err}"
    );
    let mut conflict = submit.to_vec();
    conflict[9] = "2000";
    let (code, out, err) = floe(&s, &conflict, true);
    assert_eq!(code, 1);
    assert!(err.contains("409 idempotency_conflict"), "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["error"]["code"],
        "idempotency_conflict"
    );
    let (code, _, err) = floe(&s, &["get", &id], false);
    assert_eq!(code, 2);
    assert!(err.contains("FLOE_KEY"), "{err}");

    // key file
    let dir = std::env::temp_dir().join(format!("floe-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kf = dir.join("key.toml");
    std::fs::write(
        &kf,
        format!("key = \"{}\"\nsecret = \"{}\"\n", VIEWER.0, VIEWER.1),
    )
    .unwrap();
    let kfs = kf.to_str().unwrap();
    let (code, out, _) = floe(&s, &["get", "--key-file", kfs, &id], false);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = floe(&s, &["cancel", "--key-file", kfs, &id], false);
    assert_eq!(code, 1);
    assert!(err.contains("403 read_only_key"), "{err}");
    assert!(!err.contains(VIEWER.1));
    std::fs::remove_dir_all(&dir).ok();

    // cancel, kill switch set/show/reset
    let (code, out, _) = floe(&s, &["cancel", &id], true);
    assert_eq!(code, 0);
    assert!(
        out.contains("cancel_pending      true") || out.contains("CANCELLED"),
        "{out}"
    );
    s.wait_status(id.parse().unwrap(), "CANCELLED");
    let (_, out, _) = floe(&s, &["get", &id], true);
    assert!(out.contains("CANCELLED"), "{out}");
    let (_, out, _) = floe(&s, &["kill", "--json"], true);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!({"active": true})
    );
    let (_, out, _) = floe(&s, &["kill", "--show"], true);
    assert!(out.contains("active  true"), "{out}");
    let (_, out, _) = floe(&s, &["kill", "--reset", "--json"], true);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["active"],
        false
    );
}

// ---------------------------------------------------------------------------
// The README's curl example, run as written.

/// Runs verbatim in bash with `FLOE_URL` pointing at the server.
const CURL_EXAMPLE: &str = r#"
FLOE_URL=${FLOE_URL:-http://127.0.0.1:8080}
FLOE_KEY=desk
FLOE_SECRET=desk-secret-0123456789
path=/v1/algo-orders
body='{"client_order_id":"readme-1","symbol":"AAPL","side":"BUY","total_quantity":"10000","strategy_type":"ICEBERG","strategy_params":{"display_quantity":"200","price_limit":"190.25","variance_percent":"0.25","min_delay_ms":50,"max_delay_ms":250}}'
ts=$(date +%s%3N)
sig=$(printf '%s' "${ts}POST${path}${body}" | openssl dgst -sha256 -hmac "$FLOE_SECRET" | awk '{print $NF}')
curl -sS -X POST "$FLOE_URL$path" \
  -H "X-Floe-Key: $FLOE_KEY" -H "X-Floe-Timestamp: $ts" -H "X-Floe-Signature: $sig" \
  -H 'Content-Type: application/json' --data "$body"
"#;

#[test]
fn readme_curl_example_works() {
    for tool in ["curl", "openssl", "bash"] {
        if std::process::Command::new("which")
            .arg(tool)
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            eprintln!("skipping: {tool} is not installed");
            return;
        }
    }
    let s = Server::start(&config());
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(CURL_EXAMPLE)
        .env("FLOE_URL", &s.base)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert_eq!(v["client_order_id"], "readme-1");
    assert_eq!(v["status"], "NEW");
    assert!(v["parent_order_id"].as_u64().is_some());
    let list = s.call("GET", "/v1/algo-orders", "").json();
    assert_eq!(list["orders"][0]["total_quantity"], "10000");
}
