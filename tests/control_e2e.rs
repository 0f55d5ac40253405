//! The control plane end to end: real HTTP on 127.0.0.1 against a running
//! appliance (`floe::app::InProcess`: the simulated venue on one end of a
//! memory NIC pair, the real `Runtime` with its journal on the other, the
//! real control plane over the runtime's bounded queues).
//!
//! Every endpoint; more than a hundred distinct bad inputs, each answered
//! with its status and code and leaving every order, the kill switch and
//! the journal unchanged; 8 concurrent clients × 1,000 requests with
//! deliberate duplicate ids (exactly one parent per id); idempotent replay
//! across a restart on the same journal directory; `/metrics` with live
//! values after icebergs ran; the `floe order` client as the built binary;
//! and the signed `curl` recipe run verbatim in bash.
//!
//! The appliances run one at a time (each is a venue thread and a hot
//! thread on a 2-core machine); every wait is bounded and says what it
//! waited for.

#[path = "control_common/mod.rs"]
mod common;

use common::*;
use floe::app::{appliance_config, InProcess};
use floe::config::Config;
use floe::control::auth::{sign, unix_ms_now};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A resting buy: 5 % under AAPL's mid (190.00), beyond the flow's walk
/// band (± 20 ticks), inside the 10 % collar: it never trades.
const PASSIVE: &str = "180.00";
/// A marketable buy: 50 ticks above the mid, beyond the walk band.
const MARKETABLE: &str = "190.50";

/// One appliance at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// The test appliance: `InProcess` defaults plus the test keys, a 4 KiB
/// body limit, 100-share lots, cent ticks, a 10 M$ notional limit.
fn config() -> Config {
    let mut c = appliance_config();
    c.control.keys = keys();
    c.control.body_limit_bytes = 4096;
    c.control.reply_timeout_ms = 2_000;
    c.risk.lot_size = 100;
    c.risk.tick_size = 100;
    c.risk.max_parent_notional = 10_000_000;
    c.pools.parents = 512;
    c
}

/// A running appliance and a client of its control plane.
struct App {
    app: Option<InProcess>,
    http: Client,
}

impl App {
    fn start(cfg: Config, journal: Option<&Path>, session: &str) -> App {
        let t0 = Instant::now();
        // A restart on an earlier journal meets a new venue session, which
        // floe refuses to trade on (one journal per venue session): the
        // control plane still answers from the recovered state.
        let mut b = InProcess::builder()
            .appliance_config(cfg)
            .wait_for_login(
                journal
                    .is_none_or(|d| std::fs::read_dir(d).map_or(true, |mut r| r.next().is_none())),
            )
            .configure_venue(|v| v.venue.session = Some(session.into()));
        if let Some(dir) = journal {
            b = b.journal_dir(dir);
        }
        let app = b
            .start()
            .unwrap_or_else(|e| panic!("the appliance starts: {e}"));
        let addr = app.control_addr();
        assert!(addr.ip().is_loopback(), "{addr}");
        let http = Client::new(addr);
        assert_eq!(http.get("/healthz").status, 200);
        eprintln!("appliance up in {:?} on {addr}", t0.elapsed());
        App {
            app: Some(app),
            http,
        }
    }

    fn app(&self) -> &InProcess {
        self.app.as_ref().expect("running")
    }

    /// Journal records appended so far (the hot thread's counter).
    fn records(&self) -> u64 {
        self.app().counters().journal.records.get()
    }

    /// Stops cleanly (venue ends its day, appliance logs out and flushes).
    fn stop(mut self) -> floe::app::Report {
        let t0 = Instant::now();
        let report = self
            .app
            .take()
            .expect("running")
            .stop()
            .unwrap_or_else(|e| panic!("clean stop: {e}"));
        eprintln!("appliance stopped in {:?}", t0.elapsed());
        report
    }
}

impl std::ops::Deref for App {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.http
    }
}

/// `order_body` with display, variance and delays changed.
fn iceberg(cid: &str, total: &str, limit: &str, display: &str, delays: (u64, u64)) -> Value {
    let mut v = order_body(cid, total, limit);
    v["strategy_params"]["display_quantity"] = json!(display);
    v["strategy_params"]["variance_percent"] = json!("0");
    v["strategy_params"]["min_delay_ms"] = json!(delays.0);
    v["strategy_params"]["max_delay_ms"] = json!(delays.1);
    v
}

fn id_of(v: &Value) -> u64 {
    v["parent_order_id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no id: {v}"))
}

/// Unix ms of an RFC 3339 time.
fn unix_ms(t: &str) -> u64 {
    humantime::parse_rfc3339(t)
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn dec(v: &Value) -> f64 {
    v.as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {v}"))
        .parse()
        .unwrap()
}

// ---------------------------------------------------------------------------
// Endpoints.

#[test]
fn every_endpoint_on_the_running_appliance() {
    let _g = serial();
    let s = App::start(config(), None, "E2EEP");
    let h = s.get("/healthz");
    assert_eq!(h.json(), json!({"status": "ok", "engine_ready": true}));

    // create → 201; the first slice rests at the venue
    let body = order_body("e-1", "1000", PASSIVE);
    let created = s.create(&body);
    let e1 = id_of(&created);
    assert_eq!(created["status"], "NEW");
    assert_eq!(created["client_order_id"], "e-1");
    let created_at = created["created_at"].as_str().unwrap().to_string();
    assert!(
        created_at.ends_with('Z') && created_at.len() == 24,
        "{created_at}"
    );
    assert!(
        unix_ms(&created_at).abs_diff(unix_ms_now()) < 60_000,
        "{created_at}"
    );

    // repeat → 200 + Idempotent-Replayed, the original answer; the same
    // numbers written differently are the same request
    let again = s.call("POST", "/v1/algo-orders", &body.to_string());
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.json(), created);
    let mut same = order_body("e-1", "1000.00", "180.0000");
    same["strategy_params"]["variance_percent"] = json!("0.250");
    let r = s.call("POST", "/v1/algo-orders", &same.to_string());
    assert_eq!((r.status, r.json()), (200, created.clone()));

    // get
    let v = s.wait_for(e1, "a live child at the venue", 10, |v| {
        v["live_quantity"] != "0" && v["status"] == "WORKING"
    });
    for (f, want) in [
        ("symbol", json!("AAPL")),
        ("side", json!("BUY")),
        ("strategy_type", json!("ICEBERG")),
        ("total_quantity", json!("1000")),
        ("requested_quantity", json!("1000")),
        ("display_quantity", json!("100")),
        ("price_limit", json!("180.0000")),
        ("filled_quantity", json!("0")),
        ("children_sent", json!(1)),
        ("created_at", json!(created_at)),
    ] {
        assert_eq!(v[f], want, "{f}: {v}");
    }
    let live = dec(&v["live_quantity"]);
    assert!((75.0..=125.0).contains(&live), "slice of 100 ± 25 %: {v}");

    // a marketable iceberg fills completely at the venue's asks
    let e2 = id_of(&s.create(&iceberg("e-2", "300", MARKETABLE, "100", (0, 5))));
    let v = s.wait_for(e2, "FILLED", 20, |v| v["status"] == "FILLED");
    assert_eq!(v["filled_quantity"], "300");
    assert_eq!(v["live_quantity"], "0");
    let avg = dec(&v["avg_price"]);
    assert!((189.0..=190.5).contains(&avg), "avg {avg}: {v}");
    assert!(v["children_sent"].as_u64().unwrap() >= 3, "{v}");

    // list, unfiltered and by status
    assert_eq!(s.list_ids(""), vec![e1, e2]);
    assert_eq!(s.list_ids("?status=WORKING"), vec![e1]);
    assert_eq!(s.list_ids("?status=FILLED"), vec![e2]);
    assert_eq!(s.list_ids("?status=PAUSED"), Vec::<u64>::new());

    // pause → PAUSED, the child is pulled from the venue; resume → a new one
    let p = s.call("POST", &format!("/v1/algo-orders/{e1}/pause"), "");
    assert_eq!(
        (p.status, p.json()["status"].clone()),
        (200, json!("PAUSED"))
    );
    s.wait_for(e1, "its child cancelled", 10, |v| v["live_quantity"] == "0");
    assert_eq!(s.list_ids("?status=PAUSED"), vec![e1]);
    let r = s.call("POST", &format!("/v1/algo-orders/{e1}/resume"), "");
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("WORKING"))
    );
    s.wait_for(e1, "a second child", 10, |v| {
        v["children_sent"] == 2 && v["live_quantity"] != "0"
    });

    // amend total and limit (the live child is re-priced at the venue)
    let a = s.call(
        "PATCH",
        &format!("/v1/algo-orders/{e1}"),
        r#"{"total_quantity":"800","price_limit":"180.50"}"#,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["requested_quantity"], "800");
    assert_eq!(a.json()["price_limit"], "180.5000");
    let a = s.call(
        "PATCH",
        &format!("/v1/algo-orders/{e1}"),
        r#"{"price_limit":"180.25"}"#,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        (
            a.json()["requested_quantity"].clone(),
            a.json()["price_limit"].clone()
        ),
        (json!("800"), json!("180.2500"))
    );
    s.wait_for(e1, "a live child after the amends", 10, |v| {
        v["live_quantity"] != "0" && v["cancel_pending"] != true
    });

    // cancel: the child's cancel goes to the venue, then CANCELLED
    let c = s.call("DELETE", &format!("/v1/algo-orders/{e1}"), "");
    assert_eq!(c.status, 200, "{}", c.body);
    s.wait_status(e1, "CANCELLED");
    assert_eq!(s.list_ids("?status=CANCELLED"), vec![e1]);

    // kill switch: cancels what works, refuses new orders until reset
    let e3 = id_of(&s.create(&order_body("e-3", "500", PASSIVE)));
    s.wait_for(e3, "a live child", 10, |v| v["live_quantity"] != "0");
    let k = s.call("POST", "/v1/kill-switch", "");
    assert_eq!((k.status, k.json()), (200, json!({"active": true})));
    assert_eq!(
        s.call("GET", "/v1/kill-switch", "").json(),
        json!({"active": true})
    );
    s.wait_status(e3, "CANCELLED");
    let (before, records) = (s.state(), s.records());
    let refused = s.call(
        "POST",
        "/v1/algo-orders",
        &order_body("e-4", "100", PASSIVE).to_string(),
    );
    assert_eq!(
        (refused.status, refused.code()),
        (422, "kill_switch_active".to_string())
    );
    assert_eq!((s.state(), s.records()), (before, records));
    let k = s.call("DELETE", "/v1/kill-switch", "");
    assert_eq!((k.status, k.json()), (200, json!({"active": false})));
    let k = s.call("POST", "/v1/kill-switch", r#"{"active": true}"#);
    assert_eq!(k.json(), json!({"active": true}));
    let k = s.call("POST", "/v1/kill-switch", r#"{"active": false}"#);
    assert_eq!(k.json(), json!({"active": false}));
    // The id refused under the kill switch was not consumed.
    let e4 = id_of(&s.create(&order_body("e-4", "100", PASSIVE)));
    assert_eq!(e4, e3 + 1);

    // metrics: unsigned, OpenMetrics text
    let m = s.get("/metrics");
    assert_eq!(m.status, 200);
    assert!(
        m.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        m.headers
    );
    assert!(m.body.ends_with("# EOF\n"));
    for series in [
        "floe_engine_ready",
        "floe_http_responses_total{code=\"201\"}",
        "floe_http_responses_total{code=\"422\"}",
    ] {
        assert!(
            sample(&m.body, series).is_some_and(|v| v >= 1.0),
            "{series}:\n{}",
            m.body
        );
    }
    s.stop();
}

#[test]
fn metrics_show_live_counters_after_icebergs_ran() {
    let _g = serial();
    let mut cfg = config();
    // Room for a child the venue refuses (above its 999,999-share limit),
    // and a traded symbol the venue never quotes.
    cfg.risk.max_child_qty = 1_000_000;
    cfg.risk.position_limit = 10_000_000;
    cfg.risk.max_parent_notional = 1_000_000_000;
    cfg.book.only = ["AAPL", "MSFT", "NVDA", "ZZZZ"].map(String::from).to_vec();
    let s = App::start(cfg, None, "E2EMETRIC");

    // A pegged iceberg follows the bid (market data triggers its re-prices:
    // tick-to-trade), a marketable one fills (fills, journal).
    let mut pegged = iceberg("m-peg", "100000", MARKETABLE, "100", (0, 0));
    pegged["strategy_params"]["peg"] = json!(true);
    let peg = id_of(&s.create(&pegged));
    let hit = id_of(&s.create(&iceberg("m-hit", "500", MARKETABLE, "100", (0, 5))));
    s.wait_for(hit, "FILLED", 20, |v| v["status"] == "FILLED");
    // The venue rejects a 1,000,000-share child: the parent is REJECTED.
    let mut big = iceberg("m-big", "1000000", "115.00", "1000000", (0, 0));
    big["symbol"] = json!("NVDA");
    let big = id_of(&s.create(&big));
    let v = s.wait_status(big, "REJECTED");
    assert!(v["reason"].is_string(), "{v}");
    assert_eq!(s.list_ids("?status=REJECTED"), vec![big]);
    // Refused by risk: a notional above the limit (422), and a symbol with
    // no reference price (the parent waits).
    let r = s.call(
        "POST",
        "/v1/algo-orders",
        &iceberg("m-notional", "9000000", "120.00", "100", (0, 0)).to_string(),
    );
    assert_eq!((r.status, r.code()), (422, "risk_refused".to_string()));
    let mut blind = order_body("m-blind", "100", "10.00");
    blind["symbol"] = json!("ZZZZ");
    let blind = id_of(&s.create(&blind));
    s.wait_for(blind, "waiting for a reference price", 10, |v| {
        v["waiting_for"] == "NO_REFERENCE_PRICE"
    });
    // The pegged child is re-priced as the touch moves.
    let t0 = Instant::now();
    let text = loop {
        let text = s.metrics();
        if sample(&text, "floe_tick_to_trade_seconds_count").unwrap_or(0.0) >= 3.0 {
            break text;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no market-data-triggered order within 20 s: {}\n{text}",
            s.order(peg)
        );
        std::thread::sleep(Duration::from_millis(20));
    };

    let at_least_one = [
        "floe_nic_rx_frames_total{queue=\"0\"}",
        "floe_nic_tx_frames_total{queue=\"0\"}",
        "floe_md_messages_total",
        "floe_orders_sent_total",
        "floe_fills_total",
        "floe_risk_refusals_total{check=\"max_parent_notional\"}",
        "floe_risk_refusals_total{check=\"no_reference_price\"}",
        "floe_journal_records_total",
        "floe_journal_bytes_total",
        "floe_tick_to_trade_seconds_count",
        "floe_tick_to_trade_seconds_sum",
        "floe_journal_append_seconds_count",
        "floe_journal_append_seconds_sum",
        "floe_engine_ready",
    ];
    for series in at_least_one {
        let v = sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        assert!(v > 0.0, "{series} = {v}\n{text}");
    }
    // Venue rejects by reason code: exactly the one refused child.
    assert_eq!(family_sum(&text, "floe_rejects_total", ""), 1.0, "{text}");
    // The memory pair loses and damages nothing, so gaps, re-requests and
    // decode errors stay at zero here (the lossy-wire test below counts
    // them); every series is exported all the same.
    for series in [
        "floe_moldudp64_gaps_total",
        "floe_moldudp64_rerequests_total",
    ] {
        assert!(sample(&text, series).is_some(), "no {series} in\n{text}");
    }
    for (protocol, kinds) in [
        (
            "itch",
            &["truncated", "bad_length", "unknown_type", "bad_value"][..],
        ),
        ("moldudp64", &["malformed"][..]),
        (
            "ouch",
            &["truncated", "unknown_type", "foreign_id", "malformed"][..],
        ),
    ] {
        for kind in kinds {
            let series =
                format!("floe_decode_errors_total{{protocol=\"{protocol}\",kind=\"{kind}\"}}");
            assert!(sample(&text, &series).is_some(), "no {series} in\n{text}");
        }
    }
    // Consistency with the hot thread's own counters and the venue's view.
    let fills = sample(&text, "floe_fills_total").unwrap();
    assert!(fills >= 1.0);
    let sent = sample(&text, "floe_orders_sent_total").unwrap();
    let tx = sample(&text, "floe_nic_tx_frames_total{queue=\"0\"}").unwrap();
    assert!(
        tx >= sent,
        "every order is a frame: {tx} frames, {sent} orders"
    );
    let hist_count = sample(&text, "floe_journal_append_seconds_count").unwrap();
    let records = sample(&text, "floe_journal_records_total").unwrap();
    assert_eq!(hist_count, records, "one append sample per record");
    let le_inf = sample(&text, "floe_tick_to_trade_seconds_bucket{le=\"+Inf\"}").unwrap();
    assert_eq!(
        le_inf,
        sample(&text, "floe_tick_to_trade_seconds_count").unwrap()
    );
    let report = s.stop();
    assert!(
        report.venue_host.is_some(),
        "the memory pair ran the venue host"
    );
}

/// Damages the market data an appliance receives, deterministically, after
/// the first `WARMUP` feed frames (the session is known by then): every
/// `DROP_EVERY`-th feed frame is lost (a MoldUDP64 gap, re-requested),
/// every `MALFORMED_EVERY`-th has a first message block running past the
/// packet (a malformed MoldUDP64 packet; its messages are re-requested),
/// and every `BAD_SIDE_EVERY`-th whose first
/// message is an ITCH Add Order gets side `X` (an ITCH decode error).
/// Everything else passes untouched.
struct DamagedFeed<N: floe::nic::Nic> {
    inner: N,
    feed_port: u16,
    feed_frames: u64,
    scratch: Vec<u8>,
}

impl<N: floe::nic::Nic> DamagedFeed<N> {
    const WARMUP: u64 = 100;
    const DROP_EVERY: u64 = 50;
    const MALFORMED_EVERY: u64 = 70;
    const BAD_SIDE_EVERY: u64 = 30;
}

impl<N: floe::nic::Nic> floe::nic::Nic for DamagedFeed<N> {
    fn rx_burst(
        &mut self,
        now: floe::time::Nanos,
        budget: usize,
        on_frame: &mut dyn FnMut(&[u8], floe::time::Nanos),
    ) -> usize {
        let DamagedFeed {
            inner,
            feed_port,
            feed_frames,
            scratch,
        } = self;
        let mut handed = 0;
        inner.rx_burst(now, budget, &mut |frame, ts| {
            // Ethernet, IPv4 (IHL), UDP to the feed's port.
            let udp = 14 + usize::from(frame.get(14).map_or(5, |b| b & 0x0f)) * 4;
            let is_feed = frame.get(12..14) == Some(&[0x08, 0x00][..])
                && frame.get(23) == Some(&17)
                && frame
                    .get(udp + 2..udp + 4)
                    .is_some_and(|p| u16::from_be_bytes([p[0], p[1]]) == *feed_port);
            if !is_feed {
                handed += 1;
                return on_frame(frame, ts);
            }
            *feed_frames += 1;
            let n = *feed_frames;
            if n <= Self::WARMUP {
                handed += 1;
                return on_frame(frame, ts);
            }
            if n % Self::DROP_EVERY == 0 {
                return;
            }
            scratch.clear();
            scratch.extend_from_slice(frame);
            // MoldUDP64: session (10), sequence (8), count (2), then blocks
            // of length (2) + message.
            let mold = udp + 8;
            let first_len = mold + 20;
            let first_type = mold + 22;
            if n % Self::MALFORMED_EVERY == 0 {
                if let Some(len) = scratch.get_mut(first_len..first_len + 2) {
                    len.copy_from_slice(&u16::MAX.to_be_bytes());
                }
            } else if n % Self::BAD_SIDE_EVERY == 0 && scratch.get(first_type) == Some(&b'A') {
                if let Some(side) = scratch.get_mut(first_type + 19) {
                    *side = b'X';
                }
            }
            handed += 1;
            on_frame(scratch, ts)
        });
        handed
    }

    fn tx_frame(
        &mut self,
        max_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<(), floe::nic::NicError> {
        self.inner.tx_frame(max_len, fill)
    }

    fn tx_flush(&mut self) -> Result<(), floe::nic::NicError> {
        self.inner.tx_flush()
    }

    fn mac(&self) -> [u8; 6] {
        self.inner.mac()
    }

    fn stats(&self) -> floe::nic::NicStats {
        self.inner.stats()
    }
}

/// The appliance's pieces as `InProcess` assembles them (the venue host on
/// one end of a memory pair, the `Runtime` on its own thread, the control
/// plane over the gateway), with [`DamagedFeed`] on the appliance's end,
/// which `InProcess` has no hook for: MoldUDP64 gaps, their re-requests and
/// decoder refusals need a wire that loses and damages frames.
struct DamagedAppliance {
    http: Client,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    hot: Option<std::thread::JoinHandle<floe::engine::runtime::RunReport>>,
    venue: Option<floe::exchange::sim_host::VenueThread<floe::nic::memory::MemoryNic>>,
    control: Option<floe::control::ControlHandle>,
    _journal: tempfile::TempDir,
}

impl DamagedAppliance {
    fn start() -> DamagedAppliance {
        use floe::exchange::sim_host::{HostOptions, IdleOptions, VenueHost, DEFAULT_MAC};
        let journal = tempfile::tempdir().unwrap();
        let mut cfg = config();
        cfg.journal.dir = journal.path().to_path_buf();
        let mut venue_cfg = floe::app::venue_config();
        venue_cfg.venue.session = Some("E2EDAMAGE".into());
        let mac = floe::config::parse_mac(&cfg.net.mac).unwrap();
        let (app_end, venue_end) = floe::nic::memory::pair_with_macs(4096, mac, DEFAULT_MAC);
        let opts = HostOptions {
            random_seed: Some(7),
            ..HostOptions::default()
        };
        let venue =
            VenueHost::spawn_with(&venue_cfg, &opts, IdleOptions::default(), venue_end, None)
                .expect("the venue starts");
        let a = venue.addresses().clone();
        cfg.order.venue = a.order_ports[0].0.to_string();
        cfg.feed.groups = a.feed.iter().map(|g| g.to_string()).collect();
        cfg.feed.request_server = a.requests.map(|r| r.to_string());
        cfg.book.only = venue_cfg.symbols.iter().map(|s| s.name.clone()).collect();
        cfg.validate().unwrap();
        let feed_port = a.feed[0].port();
        let counters = std::sync::Arc::new(floe::control::metrics::HotCounters::new());
        let (gw, endpoint) = floe::control::gateway::channel(&cfg);
        let control = floe::control::spawn(&cfg, gw, counters.clone()).expect("control plane");
        let http = Client::new(control.local_addr());
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hot = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let nic = DamagedFeed {
                    inner: app_end,
                    feed_port,
                    feed_frames: 0,
                    scratch: Vec::with_capacity(floe::nic::MAX_FRAME_LEN),
                };
                let clock = floe::time::WallClock::calibrate(Duration::from_millis(20));
                let mut rt = floe::engine::runtime::Runtime::new(
                    &cfg,
                    Box::new(nic),
                    Box::new(clock),
                    Some(endpoint),
                    counters,
                )
                .expect("the runtime starts");
                rt.run(&stop)
            })
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get("/healthz").status != 200 {
            assert!(Instant::now() < deadline, "the appliance never got ready");
            std::thread::sleep(Duration::from_millis(5));
        }
        DamagedAppliance {
            http,
            stop,
            hot: Some(hot),
            venue: Some(venue),
            control: Some(control),
            _journal: journal,
        }
    }
}

impl Drop for DamagedAppliance {
    fn drop(&mut self) {
        if let Some(v) = &self.venue {
            v.request_stop();
        }
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.hot.take() {
            let report = h.join();
            if !std::thread::panicking() {
                assert!(report.expect("the hot thread ends").halted.is_none());
            }
        }
        if let Some(v) = self.venue.take() {
            let _ = v.join();
        }
        if let Some(c) = self.control.take() {
            let _ = c.shutdown();
        }
    }
}

#[test]
fn metrics_count_gaps_rerequests_and_decode_errors_of_a_damaged_feed() {
    let _g = serial();
    let s = DamagedAppliance::start();
    let http = &s.http;
    let t0 = Instant::now();
    let series = [
        "floe_moldudp64_gaps_total",
        "floe_moldudp64_rerequests_total",
        "floe_decode_errors_total{protocol=\"moldudp64\",kind=\"malformed\"}",
        "floe_decode_errors_total{protocol=\"itch\",kind=\"bad_value\"}",
        "floe_nic_rx_frames_total{queue=\"0\"}",
        "floe_nic_tx_frames_total{queue=\"0\"}",
        "floe_md_messages_total",
    ];
    let text = loop {
        let text = http.metrics();
        if series
            .iter()
            .all(|s| sample(&text, s).is_some_and(|v| v > 0.0))
        {
            break text;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "not every one of {series:?} above zero within 20 s\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Every gap was asked for again at least once.
    let gaps = sample(&text, "floe_moldudp64_gaps_total").unwrap();
    let rereq = sample(&text, "floe_moldudp64_rerequests_total").unwrap();
    eprintln!(
        "damaged feed after {:?}: {gaps} gaps, {rereq} re-requests, decode errors {:?}",
        t0.elapsed(),
        text.lines()
            .filter(|l| l.starts_with("floe_decode_errors_total") && !l.ends_with(" 0"))
            .collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------
// Refusals: each gets its status and code and changes nothing.

type Case<'a> = (&'static str, u16, &'static str, Box<dyn Fn() -> Resp + 'a>);

fn mutate(f: impl FnOnce(&mut Value)) -> String {
    let mut v = order_body("bad-1", "1000", PASSIVE);
    f(&mut v);
    v.to_string()
}

#[test]
fn bad_inputs_are_refused_and_change_nothing() {
    let _g = serial();
    let server = App::start(config(), None, "E2EBAD");
    let s = &server;
    // State to protect. a: partially filled (its first slice traded, the
    // next waits a minute); b: paused; c: cancelled; d: resting.
    let base1 = iceberg("base-1", "1000", MARKETABLE, "200", (60_000, 60_000));
    let a = id_of(&s.create(&base1));
    let b = id_of(&s.create(&order_body("base-2", "1000", PASSIVE)));
    let c = id_of(&s.create(&order_body("base-3", "1000", PASSIVE)));
    let d = id_of(&s.create(&order_body("base-4", "1000", PASSIVE)));
    s.wait_for(a, "its first slice filled", 20, |v| {
        v["status"] == "PARTIALLY_FILLED"
            && v["filled_quantity"] == "200"
            && v["live_quantity"] == "0"
    });
    s.wait_for(b, "a live child", 10, |v| v["live_quantity"] != "0");
    assert_eq!(
        s.call("POST", &format!("/v1/algo-orders/{b}/pause"), "")
            .status,
        200
    );
    assert_eq!(
        s.call("DELETE", &format!("/v1/algo-orders/{c}"), "").status,
        200
    );
    s.wait_for(b, "its child cancelled", 10, |v| v["live_quantity"] == "0");
    s.wait_status(c, "CANCELLED");
    s.wait_for(d, "a live child", 10, |v| v["live_quantity"] != "0");
    for (status, ids) in [
        ("PARTIALLY_FILLED", vec![a]),
        ("PAUSED", vec![b]),
        ("CANCELLED", vec![c]),
        ("WORKING", vec![d]),
        ("NEW", vec![]),
    ] {
        assert_eq!(s.list_ids(&format!("?status={status}")), ids, "{status}");
    }

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
    let valid = order_body("auth-1", "1000", PASSIVE).to_string();
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

    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        // --- JSON shape
        ("malformed JSON", 400, "malformed_json", raw_post(br#"{"client_order_id": "x", "#)),
        ("empty body", 400, "malformed_json", raw_post(b"")),
        ("not JSON at all", 400, "malformed_json", raw_post(b"client_order_id=x")),
        ("trailing garbage", 400, "malformed_json", raw_post(format!("{} x", order_body("tg", "1000", PASSIVE)).as_bytes())),
        ("array body", 400, "invalid_type", raw_post(b"[1, 2]")),
        ("null body", 400, "invalid_type", raw_post(b"null")),
        ("unknown top-level field", 400, "unknown_field", post(mutate(|v| v["price"] = json!("1")))),
        ("unknown strategy field", 400, "unknown_field", post(mutate(|v| v["strategy_params"]["slices"] = json!(3)))),
        ("duplicate field", 400, "duplicate_field", raw_post(br#"{"client_order_id":"d","client_order_id":"e","symbol":"AAPL","side":"BUY","total_quantity":"100","strategy_type":"ICEBERG","strategy_params":{"display_quantity":"100","price_limit":"180.00","variance_percent":"0","min_delay_ms":0,"max_delay_ms":0}}"#)),
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
        ("price as a number", 400, "invalid_type", post(mutate(|v| v["strategy_params"]["price_limit"] = json!(180.25)))),
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
        ("price off tick", 400, "not_a_tick_multiple", post(mutate(|v| v["strategy_params"]["price_limit"] = json!("180.255")))),
        ("price below 1/10000", 400, "not_a_tick_multiple", post(mutate(|v| v["strategy_params"]["price_limit"] = json!("180.00001")))),
        ("price above the wire maximum", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["price_limit"] = json!("300000.00")))),
        ("variance of 1", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["variance_percent"] = json!("1")))),
        ("variance above 1", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["variance_percent"] = json!(1.5)))),
        ("negative variance", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["variance_percent"] = json!("-0.1")))),
        ("variance with 7 decimals", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["variance_percent"] = json!("0.1234567")))),
        ("min delay above max", 400, "invalid_field", post(mutate(|v| { v["strategy_params"]["min_delay_ms"] = json!(60); v["strategy_params"]["max_delay_ms"] = json!(50); }))),
        ("delay above a day", 400, "invalid_field", post(mutate(|v| v["strategy_params"]["max_delay_ms"] = json!(86_400_001u64)))),
        // --- engine refusals
        ("unknown symbol", 422, "unknown_symbol", post(mutate(|v| v["symbol"] = json!("ZZZZ")))),
        ("notional above the risk limit", 422, "risk_refused", post(mutate(|v| { v["total_quantity"] = json!("100000"); v["strategy_params"]["price_limit"] = json!("185.00"); }))),
        ("same id, different body", 409, "idempotency_conflict", post(iceberg("base-1", "2000", MARKETABLE, "200", (60_000, 60_000)).to_string())),
        ("same id, another side", 409, "idempotency_conflict", post({ let mut v = order_body("base-2", "1000", PASSIVE); v["side"] = json!("SELL"); v.to_string() })),
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
            let path = format!("/v1/algo-orders/{d}");
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
                // A repeat of an existing create: the first answer is the replay (200).
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
        ("read-only key cancels", 403, "read_only_key", as_key(VIEWER, "DELETE", format!("/v1/algo-orders/{d}"), "")),
        ("read-only key pauses", 403, "read_only_key", as_key(VIEWER, "POST", format!("/v1/algo-orders/{d}/pause"), "")),
        ("read-only key resumes", 403, "read_only_key", as_key(VIEWER, "POST", format!("/v1/algo-orders/{b}/resume"), "")),
        ("read-only key amends", 403, "read_only_key", as_key(VIEWER, "PATCH", format!("/v1/algo-orders/{d}"), r#"{"price_limit":"180.50"}"#)),
        ("read-only key sets the kill switch", 403, "read_only_key", as_key(VIEWER, "POST", "/v1/kill-switch".into(), "")),
        ("read-only key resets the kill switch", 403, "read_only_key", as_key(VIEWER, "DELETE", "/v1/kill-switch".into(), "")),
        ("rate limit", 429, "rate_limited", Box::new(|| {
            // SLOW allows a burst of 3 then 1 a second: reads until refused.
            for _ in 0..10 {
                let r = s.signed_as(SLOW, "GET", "/v1/algo-orders", "");
                if r.status != 200 {
                    return r;
                }
            }
            panic!("SLOW was never rate limited");
        })),
        // --- ids, routes, states
        ("unknown id", 404, "not_found", desk("GET", "/v1/algo-orders/999999".into(), String::new())),
        ("non-numeric id", 400, "invalid_id", desk("GET", "/v1/algo-orders/abc".into(), String::new())),
        ("id above u32", 400, "invalid_id", desk("GET", "/v1/algo-orders/4294967296".into(), String::new())),
        ("negative id", 400, "invalid_id", desk("DELETE", "/v1/algo-orders/-1".into(), String::new())),
        ("cancel unknown id", 404, "not_found", desk("DELETE", "/v1/algo-orders/999999".into(), String::new())),
        ("pause unknown id", 404, "not_found", desk("POST", "/v1/algo-orders/999999/pause".into(), String::new())),
        ("resume unknown id", 404, "not_found", desk("POST", "/v1/algo-orders/999999/resume".into(), String::new())),
        ("amend unknown id", 404, "not_found", desk("PATCH", "/v1/algo-orders/999999".into(), r#"{"price_limit":"180.00"}"#.into())),
        ("amend with nothing", 400, "missing_field", desk("PATCH", format!("/v1/algo-orders/{d}"), "{}".into())),
        ("amend malformed JSON", 400, "malformed_json", desk("PATCH", format!("/v1/algo-orders/{d}"), "{".into())),
        ("amend unknown field", 400, "unknown_field", desk("PATCH", format!("/v1/algo-orders/{d}"), r#"{"display_quantity":"100"}"#.into())),
        ("amend total as a number", 400, "invalid_type", desk("PATCH", format!("/v1/algo-orders/{d}"), r#"{"total_quantity":800}"#.into())),
        ("amend zero total", 400, "invalid_field", desk("PATCH", format!("/v1/algo-orders/{d}"), r#"{"total_quantity":"0"}"#.into())),
        ("amend off-lot total", 400, "not_a_lot_multiple", desk("PATCH", format!("/v1/algo-orders/{d}"), r#"{"total_quantity":"1050"}"#.into())),
        ("amend off-tick limit", 400, "not_a_tick_multiple", desk("PATCH", format!("/v1/algo-orders/{d}"), r#"{"price_limit":"180.001"}"#.into())),
        ("amend notional above the limit", 422, "risk_refused", desk("PATCH", format!("/v1/algo-orders/{d}"), r#"{"total_quantity":"90000"}"#.into())),
        ("amend total below filled", 422, "below_filled", desk("PATCH", format!("/v1/algo-orders/{a}"), r#"{"total_quantity":"100"}"#.into())),
        ("amend a cancelled order", 409, "invalid_state", desk("PATCH", format!("/v1/algo-orders/{c}"), r#"{"price_limit":"180.00"}"#.into())),
        ("pause a cancelled order", 409, "invalid_state", desk("POST", format!("/v1/algo-orders/{c}/pause"), String::new())),
        ("resume a cancelled order", 409, "invalid_state", desk("POST", format!("/v1/algo-orders/{c}/resume"), String::new())),
        ("cancel a cancelled order", 409, "invalid_state", desk("DELETE", format!("/v1/algo-orders/{c}"), String::new())),
        ("pause a paused order", 409, "invalid_state", desk("POST", format!("/v1/algo-orders/{b}/pause"), String::new())),
        ("resume a working order", 409, "invalid_state", desk("POST", format!("/v1/algo-orders/{d}/resume"), String::new())),
        ("resume a partially filled order", 409, "invalid_state", desk("POST", format!("/v1/algo-orders/{a}/resume"), String::new())),
        ("list with an unknown status", 400, "invalid_status", desk("GET", "/v1/algo-orders?status=OPEN".into(), String::new())),
        ("list with a lowercase status", 400, "invalid_status", desk("GET", "/v1/algo-orders?status=working".into(), String::new())),
        ("list with an unknown parameter", 400, "invalid_query", desk("GET", "/v1/algo-orders?limit=5".into(), String::new())),
        ("list with a repeated status", 400, "invalid_query", desk("GET", "/v1/algo-orders?status=WORKING&status=PAUSED".into(), String::new())),
        ("unknown route", 404, "not_found", desk("GET", "/v1/orders".into(), String::new())),
        ("wrong method", 405, "method_not_allowed", desk("PUT", "/v1/algo-orders".into(), String::new())),
        ("wrong method on an order", 405, "method_not_allowed", desk("POST", format!("/v1/algo-orders/{d}"), String::new())),
        ("kill switch with a bad body", 400, "invalid_type", desk("POST", "/v1/kill-switch".into(), r#"{"active":"yes"}"#.into())),
        ("kill switch with an unknown field", 400, "unknown_field", desk("POST", "/v1/kill-switch".into(), r#"{"active":true,"why":"x"}"#.into())),
        ("kill switch with malformed JSON", 400, "malformed_json", desk("POST", "/v1/kill-switch".into(), "{active".into())),
    ];
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|c| c.0).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are distinct");

    for (name, status, code, run) in &cases {
        let before = s.state();
        let records = s.records();
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
            assert!(!r.body.contains(secret), "{name}: a secret in the answer");
        }
        if *status == 429 {
            let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=2).contains(&retry), "Retry-After {retry}");
        }
        assert_eq!(s.state(), before, "{name}: state changed");
        assert_eq!(s.records(), records, "{name}: the journal changed");
    }
    eprintln!("{} bad inputs refused with state unchanged", cases.len());
    drop(cases);

    // Field-level messages name the field.
    for (body, field) in [
        (
            mutate(|v| v["strategy_params"]["price_limit"] = json!("180.255")),
            "strategy_params.price_limit:",
        ),
        (
            mutate(|v| v["strategy_params"]["display_quantity"] = json!("250")),
            "strategy_params.display_quantity:",
        ),
        (
            mutate(|v| v["total_quantity"] = json!("150")),
            "total_quantity:",
        ),
    ] {
        let r = s.call("POST", "/v1/algo-orders", &body);
        let m = r.json()["error"]["message"].as_str().unwrap().to_string();
        assert!(m.starts_with(field), "{field}: {m}");
    }
    // Ids refused by the engine were not consumed; the next id follows d.
    let ok = order_body("bad-1", "1000", PASSIVE);
    assert_eq!(id_of(&s.create(&ok)), d + 1);
    server.stop();
}

// ---------------------------------------------------------------------------
// Idempotency under concurrency and across a restart.

#[test]
fn concurrent_duplicates_create_exactly_one_parent_per_id() {
    const REQUESTS: usize = 1_000;
    const IDS: usize = 100;
    let _g = serial();
    let s = App::start(config(), None, "E2EDUP");
    // Each id has a canonical body (total 1000) and a variant (total 2000)
    // sent by one request in eight. Whichever reaches the engine first wins;
    // every later request with the same body must be a replay of it and
    // every other body a conflict.
    // (id index, variant body, status, parent id)
    type Outcome = (usize, bool, u16, Option<u64>);
    let t0 = Instant::now();
    let log: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for c in 0..CLIENTS {
            let s = &s;
            let log = &log;
            scope.spawn(move || {
                let k = client_key(c);
                let secret = k.secret.unwrap();
                let agent = agent();
                let mut last_ts = 0u64;
                let mut mine = Vec::with_capacity(REQUESTS);
                for i in 0..REQUESTS {
                    let id = (i * 7 + c * 13) % IDS;
                    let variant = (i + c) % 8 == 0;
                    let total = if variant { "2000" } else { "1000" };
                    let body = order_body(&format!("dup-{id}"), total, PASSIVE).to_string();
                    // Timestamps strictly increase per client so that no two
                    // of its requests share a signature.
                    let ts = unix_ms_now().max(last_ts + 1);
                    last_ts = ts;
                    let h = signed_headers(
                        (&k.id, &secret),
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
    eprintln!(
        "{} requests from {CLIENTS} clients in {:?}",
        CLIENTS * REQUESTS,
        t0.elapsed()
    );
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
                assert_eq!(*status, 409, "dup-{id}: the other body got {status}");
            }
        }
        parents.push(pid.unwrap());
    }
    parents.sort_unstable();
    parents.dedup();
    assert_eq!(parents.len(), IDS, "distinct parents");
    // The appliance holds exactly those parents, each working at the venue.
    let list = s.call("GET", "/v1/algo-orders", "").json();
    let orders = list["orders"].as_array().unwrap();
    assert_eq!(orders.len(), IDS);
    let mut listed: Vec<u64> = orders.iter().map(id_of).collect();
    listed.sort_unstable();
    assert_eq!(listed, parents);
    let mut cids: Vec<&str> = orders
        .iter()
        .map(|o| o["client_order_id"].as_str().unwrap())
        .collect();
    cids.sort_unstable();
    cids.dedup();
    assert_eq!(cids.len(), IDS);
    let report = s.stop();
    assert_eq!(report.parents.len(), IDS);
}

#[test]
fn idempotent_replay_survives_a_restart() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let body1 = order_body("r-1", "1000", PASSIVE);
    let (created, r2, view, pause) = {
        let s = App::start(config(), Some(dir.path()), "E2ERUN1");
        let created = s.create(&body1);
        let r1 = id_of(&created);
        let r2 = id_of(&s.create(&order_body("r-2", "500", PASSIVE)));
        s.wait_for(r2, "a live child", 10, |v| v["live_quantity"] != "0");
        // A signed pause an eavesdropper could capture.
        let path = format!("/v1/algo-orders/{r2}/pause");
        let pause = (
            path.clone(),
            signed_headers(DESK, s.ts(), "POST", &path, b""),
        );
        assert_eq!(s.raw("POST", &path, &pause.1, b"").status, 200);
        s.wait_for(r2, "its child cancelled", 10, |v| v["live_quantity"] == "0");
        let view = s.wait_for(r1, "a live child", 10, |v| v["live_quantity"] != "0");
        let report = s.stop();
        assert!(report.halted.is_none(), "{:?}", report.halted);
        (created, r2, view, pause)
    };
    // The same journal directory, a new venue session.
    let s = App::start(config(), Some(dir.path()), "E2ERUN2");
    let r1 = id_of(&created);
    let v = s.order(r1);
    for f in [
        "client_order_id",
        "created_at",
        "total_quantity",
        "price_limit",
        "display_quantity",
        "children_sent",
    ] {
        assert_eq!(v[f], view[f], "{f}: {v} vs {view}");
    }
    assert_eq!(s.order(r2)["status"], "PAUSED");
    // The captured pause, replayed after a restart (the replay cache is
    // gone with the old process, the timestamp may still be in its window):
    // refused, and r-2 stays WORKING once resumed.
    let r = s.call("POST", &format!("/v1/algo-orders/{r2}/resume"), "");
    assert_eq!(
        (r.status, r.json()["status"].clone()),
        (200, json!("WORKING"))
    );
    let signed_at: u64 = pause.1[1].1.parse().unwrap();
    let age = unix_ms_now().saturating_sub(signed_at);
    let replay = s.raw("POST", &pause.0, &pause.1, b"");
    assert_eq!(
        (replay.status, replay.code()),
        (401, "stale_timestamp".to_string()),
        "a pause signed {age} ms ago, before the restart: {}",
        replay.body
    );
    assert_eq!(s.order(r2)["status"], "WORKING");
    eprintln!("a request signed {age} ms earlier, before the restart, was refused");
    // The same request gets the original answer, a different one a conflict.
    let again = s.call("POST", "/v1/algo-orders", &body1.to_string());
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.json(), created);
    let other = s.call(
        "POST",
        "/v1/algo-orders",
        &order_body("r-1", "2000", PASSIVE).to_string(),
    );
    assert_eq!(
        (other.status, other.code()),
        (409, "idempotency_conflict".to_string())
    );
    let r2_again = s.call(
        "POST",
        "/v1/algo-orders",
        &order_body("r-2", "500", PASSIVE).to_string(),
    );
    assert_eq!(r2_again.status, 200, "{}", r2_again.body);
    assert_eq!(id_of(&r2_again.json()), r2);
    // New ids continue after the recovered ones.
    assert_eq!(id_of(&s.create(&order_body("r-3", "100", PASSIVE))), r2 + 1);
    s.stop();
}

// ---------------------------------------------------------------------------
// The `floe order` client, run as the built binary.

fn floe(s: &App, args: &[&str], env_key: bool) -> (i32, String, String) {
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
fn floe_order_client_drives_the_appliance() {
    let _g = serial();
    let s = App::start(config(), None, "E2ECLI");
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
        PASSIVE,
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
    let id = id_of(&created).to_string();
    assert_eq!(created["status"], "NEW");

    // Repeat: the same answer, marked as a replay in table form.
    let mut table_submit = submit.to_vec();
    table_submit.retain(|a| *a != "--json");
    let (code, out, _) = floe(&s, &table_submit, true);
    assert_eq!(code, 0);
    assert!(out.contains("idempotent replay"), "{out}");
    assert!(out.contains(&format!("parent_order_id  {id}")), "{out}");

    // get (table and JSON)
    s.wait_for(id.parse().unwrap(), "a live child", 10, |v| {
        v["live_quantity"] != "0"
    });
    let (code, out, _) = floe(&s, &["get", &id], true);
    assert_eq!(code, 0);
    assert!(
        out.lines().any(|l| l == "status              WORKING"),
        "{out}"
    );
    assert!(out.contains("price_limit         180.0000"), "{out}");
    let (_, out, _) = floe(&s, &["get", "--json", &id], true);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["display_quantity"],
        "200"
    );

    // pause, list by status, resume, amend
    let (code, out, _) = floe(&s, &["pause", &id], true);
    assert_eq!(code, 0);
    assert!(out.contains("PAUSED"), "{out}");
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
    let (_, out, _) = floe(&s, &["list", "--json"], true);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["orders"][0]["client_order_id"],
        "cli-1"
    );
    let (code, out, _) = floe(&s, &["resume", &id], true);
    assert_eq!(code, 0);
    assert!(out.contains("WORKING"), "{out}");
    let (code, out, _) = floe(
        &s,
        &[
            "amend",
            "--json",
            &id,
            "--quantity",
            "1200",
            "--limit",
            "180.50",
        ],
        true,
    );
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["requested_quantity"].as_str(), v["price_limit"].as_str()),
        (Some("1200"), Some("180.5000"))
    );
    let (code, _, err) = floe(&s, &["amend", &id], true);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--quantity and/or --limit"), "{err}");

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

    // a key file
    let dir = tempfile::tempdir().unwrap();
    let kf = dir.path().join("key.toml");
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
    // --url wins over FLOE_URL
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_floe"));
    let out = cmd
        .args(["order", "get", "--json", "--url", &s.base, &id])
        .env("FLOE_URL", "http://127.0.0.1:1")
        .env("FLOE_KEY", DESK.0)
        .env("FLOE_SECRET", DESK.1)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

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
    let (code, _, err) = floe(&s, &table_submit[..3], true);
    assert_eq!(code, 2, "submit without its required options: {err}");
    let mut fresh = table_submit.clone();
    fresh[2] = "cli-2";
    let (code, _, err) = floe(&s, &fresh, true);
    assert_eq!(code, 1);
    assert!(err.contains("422 kill_switch_active"), "{err}");
    let (_, out, _) = floe(&s, &["kill", "--reset", "--json"], true);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["active"],
        false
    );
    // A submit without --client-order-id prints the generated one.
    let mut generated = table_submit.clone();
    generated.drain(1..3);
    let (code, out, err) = floe(&s, &generated, true);
    assert_eq!(code, 0, "{out}{err}");
    let cid = out
        .lines()
        .find_map(|l| l.strip_prefix("client_order_id "))
        .unwrap_or_else(|| panic!("no generated id: {out}"))
        .trim()
        .to_string();
    assert!(
        out.lines()
            .any(|l| l.starts_with("client_order_id") && l.ends_with(&cid) && l.contains("  ")),
        "{out}"
    );
    s.stop();
}

// ---------------------------------------------------------------------------
// The signed curl recipe, run as written.

/// Runs verbatim in bash with `FLOE_URL` pointing at the appliance: a
/// function that signs any request, then a create, its replay (with the
/// response headers), a filtered list and the kill switch's state.
const CURL_RECIPE: &str = r#"
FLOE_URL=${FLOE_URL:-http://127.0.0.1:8080}
FLOE_KEY=desk
FLOE_SECRET=desk-secret-0123456789

# floe_curl METHOD PATH [BODY [CURL_OPTION...]]: one signed request.
# Signature: lowercase hex HMAC-SHA256(secret, timestamp + METHOD + path?query + body).
floe_curl() {
  local method=$1 path=$2 body=${3-} ts sig
  shift $(( $# < 3 ? $# : 3 ))
  ts=$(date +%s%3N)
  sig=$(printf '%s' "$ts$method$path$body" | openssl dgst -sha256 -hmac "$FLOE_SECRET" | awk '{print $NF}')
  curl -sS -X "$method" "$FLOE_URL$path" \
    -H "X-Floe-Key: $FLOE_KEY" -H "X-Floe-Timestamp: $ts" -H "X-Floe-Signature: $sig" \
    ${body:+-H 'Content-Type: application/json' --data-binary "$body"} "$@"
}

body='{"client_order_id":"readme-1","symbol":"AAPL","side":"BUY","total_quantity":"10000","strategy_type":"ICEBERG","strategy_params":{"display_quantity":"200","price_limit":"180.00","variance_percent":"0.25","min_delay_ms":50,"max_delay_ms":250}}'
floe_curl POST /v1/algo-orders "$body"; echo
floe_curl POST /v1/algo-orders "$body" -i; echo
floe_curl GET '/v1/algo-orders?status=WORKING'; echo
floe_curl GET /v1/kill-switch; echo
"#;

#[test]
fn signed_curl_recipe_works_as_written() {
    for tool in ["curl", "openssl", "bash", "date", "awk"] {
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
    let _g = serial();
    let s = App::start(config(), None, "E2ECURL");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(CURL_RECIPE)
        .env("FLOE_URL", &s.base)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let created: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(created["client_order_id"], "readme-1");
    assert_eq!(created["status"], "NEW");
    let id = id_of(&created);
    // The replay, with its headers (curl -i).
    let status_line = lines.next().unwrap();
    assert!(status_line.starts_with("HTTP/1.1 200"), "{text}");
    let mut replayed = false;
    let replay_body = loop {
        let l = lines
            .next()
            .unwrap_or_else(|| panic!("no replay body: {text}"));
        if l.to_ascii_lowercase().trim() == "idempotent-replayed: true" {
            replayed = true;
        }
        if l.starts_with('{') {
            break l;
        }
    };
    assert!(replayed, "{text}");
    assert_eq!(serde_json::from_str::<Value>(replay_body).unwrap(), created);
    // The filtered list (the order may still be NEW when it is asked).
    let list: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let listed = list["orders"].as_array().unwrap();
    assert!(listed.len() <= 1, "{list}");
    if let Some(o) = listed.first() {
        assert_eq!(id_of(o), id);
    }
    let kill: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(kill, json!({"active": false}));
    let v = s.wait_status(id, "WORKING");
    assert_eq!(v["total_quantity"], "10000");
    assert_eq!(v["price_limit"], "180.0000");
    s.stop();
}
