//! End to end on the memory pair through `floe::app::InProcess`: the
//! simulated venue (synthetic flow on, mids walking) and the appliance in
//! one process, icebergs submitted through the control plane's gateway.
//!
//! Each day runs three icebergs on three symbols, both sides, pegged
//! (children join the touch and are replaced as it moves) and resting at a
//! marketable limit, in one OUCH dialect per day (5.0 on the venue's first
//! port, 4.2 on its second). Every iceberg must fill completely; then the
//! venue's audit file and floe's journal must tell the same story: the same
//! order identifiers accepted, and the same executions (identifier,
//! shares, price) — read from the journal with `floe::journal`'s reader and
//! the engine's record decoder, and from the audit file as JSON lines. The
//! journal must also pass `floe journal verify`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use floe::algo::StatusCode;
use floe::app::{iceberg, InProcess, Report};
use floe::config::Dialect;
use floe::engine::{IntentKind, Record};
use floe::journal::JournalReader;
use floe::order::{encode_id, ChildTag, OrderEvent, OrderRef};
use floe::types::{Price4, Side};

/// Every iceberg of a day fills within this much wall time.
const FILL_TIMEOUT: Duration = Duration::from_secs(40);

/// One iceberg of a day: symbol, side, total, display, pegged.
struct Spec {
    symbol: &'static str,
    side: Side,
    total: u32,
    display: u32,
    peg: bool,
}

/// The venue's starting mid of `symbol`, in Price4 units.
fn mid(app: &InProcess, symbol: &str) -> u32 {
    let s = app
        .venue_config()
        .symbols
        .iter()
        .find(|s| s.name == symbol)
        .unwrap_or_else(|| panic!("{symbol} is listed by the venue"));
    floe::exchange::config::parse_price(&s.mid)
        .expect("a mid price")
        .0
}

/// A limit 30 ticks through the mid: beyond the flow's walk band (20
/// ticks), so a pegged child always joins the touch and a plain one is
/// marketable when it arrives.
fn limit(app: &InProcess, symbol: &str, side: Side) -> String {
    let m = mid(app, symbol);
    let p = match side {
        Side::Buy => m + 30 * 100,
        Side::Sell => m - 30 * 100,
    };
    Price4(p).to_string()
}

/// The identifier the appliance sent for (`order`, `tag`), as the venue's
/// audit writes it: the OUCH 4.2 token, or the OUCH 5.0 UserRefNum.
fn id_of(dialect: Dialect, order: OrderRef, tag: ChildTag) -> String {
    match dialect {
        Dialect::Ouch50 => order.0.to_string(),
        Dialect::Ouch42 => {
            String::from_utf8(encode_id(order, tag).expect("a token").to_vec()).expect("ASCII")
        }
    }
}

/// What one side says happened: identifiers live at the venue (accepted,
/// or replaced to) and executions (identifier → list of (shares, price)).
#[derive(Debug, Default, PartialEq)]
struct Story {
    ids: BTreeSet<String>,
    executions: BTreeMap<String, Vec<(u32, String)>>,
}

impl Story {
    fn executed(&self) -> BTreeMap<&str, u32> {
        self.executions
            .iter()
            .map(|(id, v)| (id.as_str(), v.iter().map(|(q, _)| q).sum()))
            .collect()
    }
}

/// floe's side, from its journal: the venue's reports it journaled, each
/// mapped to the identifier of the intent journaled before it. Also
/// checks that every intent the venue never answered is a replace that
/// crossed with the end of the order it replaces (OUCH ignores a replace of
/// an order no longer live), and returns how many there were.
fn journal_story(dir: &Path, dialect: Dialect) -> (Story, usize) {
    let reader = JournalReader::open(dir).expect("open the journal");
    let mut story = Story::default();
    // order ref → (tag, replaced ref)
    let mut intents: BTreeMap<u32, (ChildTag, Option<u32>)> = BTreeMap::new();
    let mut answered: BTreeSet<u32> = BTreeSet::new();
    // order ref → (open shares, done: fully executed or canceled)
    let mut open: BTreeMap<u32, (u32, bool)> = BTreeMap::new();
    let mut records = 0;
    let id = |intents: &BTreeMap<u32, (ChildTag, Option<u32>)>, order: OrderRef| {
        let (tag, _) = intents
            .get(&order.0)
            .unwrap_or_else(|| panic!("a report of order {order:?} with no intent before it"));
        id_of(dialect, order, *tag)
    };
    for r in reader.records() {
        let r = r.unwrap_or_else(|p| panic!("journal problem: {p:?}"));
        records += 1;
        let rec = Record::decode(r.rec_type, r.payload)
            .unwrap_or_else(|e| panic!("record {} does not decode: {e:?}", r.seq));
        match rec {
            Record::ChildIntent(c) => match c.kind {
                IntentKind::Enter { .. } => {
                    intents.insert(c.order_ref.0, (c.tag, None));
                }
                IntentKind::Replace { old } => {
                    intents.insert(c.order_ref.0, (c.tag, Some(old.0)));
                }
                IntentKind::Cancel => {}
            },
            Record::VenueEvent { event, .. } => match event {
                OrderEvent::Accepted { order, qty, .. } => {
                    answered.insert(order.0);
                    open.insert(order.0, (qty.0, qty.0 == 0));
                    story.ids.insert(id(&intents, order));
                }
                OrderEvent::Replaced {
                    old, order, qty, ..
                } => {
                    answered.insert(order.0);
                    if let Some(o) = open.get_mut(&old.0) {
                        o.1 = true;
                    }
                    open.insert(order.0, (qty.0, qty.0 == 0));
                    story.ids.insert(id(&intents, order));
                }
                OrderEvent::Executed {
                    order, qty, price, ..
                } => {
                    if let Some(o) = open.get_mut(&order.0) {
                        o.0 = o.0.saturating_sub(qty.0);
                        o.1 |= o.0 == 0;
                    }
                    story
                        .executions
                        .entry(id(&intents, order))
                        .or_default()
                        .push((qty.0, price.to_string()));
                }
                OrderEvent::Canceled { order, .. } => {
                    if let Some(o) = open.get_mut(&order.0) {
                        o.1 = true;
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    assert!(records > 0, "the journal holds records");
    let mut ignored = 0;
    for (r, (tag, old)) in &intents {
        if answered.contains(r) {
            continue;
        }
        let old = old.unwrap_or_else(|| {
            panic!("the venue never answered the entry of order {r} (child {tag:?})")
        });
        assert!(
            open.get(&old).is_some_and(|o| o.1),
            "replace {r} of order {old} went unanswered though {old} was still live"
        );
        ignored += 1;
    }
    (story, ignored)
}

/// The venue's side, from its audit file: the lines of `user`'s session
/// (named `user`, or `user@port` on a later port listing the same user).
fn audit_story(path: &Path, user: &str) -> Story {
    let text = std::fs::read_to_string(path).expect("read the audit file");
    let mut story = Story::default();
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("audit line {line:?}: {e}"));
        let session = v["session"].as_str().expect("a session");
        if session != user && !session.starts_with(&format!("{user}@")) {
            continue;
        }
        let id = v["id"].as_str().expect("an id").to_string();
        match v["event"].as_str().expect("an event") {
            "accepted" => {
                story.ids.insert(id);
            }
            "executed" => {
                let qty = v["qty"].as_u64().expect("qty") as u32;
                let price = v["price"].as_str().expect("price").to_string();
                story.executions.entry(id).or_default().push((qty, price));
            }
            "refused" => panic!("the venue refused an order of floe's: {line}"),
            _ => {}
        }
    }
    story
}

/// One day: start, submit every iceberg, wait for each to fill, stop.
fn day(dialect: Dialect, seed: u64, specs: &[Spec]) -> (Report, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.jsonl");
    let app = InProcess::builder()
        .seed(seed)
        .dialect(dialect)
        .audit(&audit)
        .start()
        .unwrap_or_else(|e| panic!("the harness starts: {e}"));
    assert_eq!(app.config().order.dialect, dialect);
    assert!(app.logged_in(), "start() returns once logged in");
    let session = app.config().order.username.clone();
    // The real control plane listens on its ephemeral loopback port.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut health = agent
        .get(format!("http://{}/healthz", app.control_addr()))
        .call()
        .expect("GET /healthz");
    assert_eq!(health.status().as_u16(), 200);
    let body = health.body_mut().read_to_string().unwrap();
    assert!(body.contains(r#""engine_ready":true"#), "{body}");
    let mut parents = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        let mut order = iceberg(
            &format!("e2e-{seed}-{i}"),
            s.symbol,
            s.side,
            s.total,
            s.display,
            &limit(&app, s.symbol, s.side),
        );
        order.strategy_params.peg = s.peg;
        let sub = app
            .submit(&order)
            .unwrap_or_else(|e| panic!("submit {}: {e}", s.symbol));
        assert_eq!(sub.status, StatusCode::New);
        assert!(!sub.replay);
        parents.push(sub.parent);
    }
    let t0 = Instant::now();
    for (p, s) in parents.iter().zip(specs) {
        let left = FILL_TIMEOUT.saturating_sub(t0.elapsed());
        let st = app
            .wait_status(*p, StatusCode::Filled, left)
            .unwrap_or_else(|e| {
                panic!(
                    "{} {:?} fills ({dialect:?}): {e}; runtime {:?}",
                    s.symbol,
                    s.side,
                    app.stats()
                )
            });
        assert_eq!(st.filled.0, s.total);
        assert!(st.children >= s.total.div_ceil(s.display * 5 / 4), "{st:?}");
    }
    // The same order again is an idempotent repeat with the same answer.
    let again = app
        .submit_json(&format!(
            r#"{{"client_order_id":"e2e-{seed}-0","symbol":"{}","side":"{}","total_quantity":"{}","strategy_type":"ICEBERG","strategy_params":{{"display_quantity":"{}","price_limit":"{}","variance_percent":"0.25","min_delay_ms":0,"max_delay_ms":5,"peg":{}}}}}"#,
            specs[0].symbol,
            match specs[0].side {
                Side::Buy => "BUY",
                Side::Sell => "SELL",
            },
            specs[0].total,
            specs[0].display,
            limit(&app, specs[0].symbol, specs[0].side),
            specs[0].peg
        ))
        .expect("an idempotent repeat");
    assert!(again.replay);
    assert_eq!(again.parent, parents[0]);
    let live = app.tick_to_trade().expect("a copy of the histogram");
    assert!(!live.is_empty(), "tick-to-trade samples while running");
    let report = app.stop().expect("a clean stop");
    (report, session, dir)
}

fn check_day(dialect: Dialect, seed: u64, specs: &[Spec]) {
    let (report, session, _dir) = day(dialect, seed, specs);
    assert!(report.halted.is_none(), "{:?}", report.halted);
    assert_eq!(report.runtime.send_failures, 0, "{:?}", report.runtime);
    assert_eq!(report.runtime.report_decode_errors, 0);
    assert_eq!(report.parents.len(), specs.len());
    for (p, s) in report.parents.iter().zip(specs) {
        assert_eq!(p.status, StatusCode::Filled, "{p:?}");
        assert_eq!((p.filled.0, p.total.0, p.live.0), (s.total, s.total, 0));
        assert_eq!(p.symbol.as_str(), s.symbol);
    }
    assert!(!report.tick_to_trade.is_empty(), "tick-to-trade was measured");
    assert!(report.tick_to_trade.value_at_quantile(0.5) <= report.tick_to_trade.max());
    let host = report.venue_host.expect("the memory venue's counters");
    assert_eq!(host.device.tx_dropped, 0, "the pair never refused a frame");

    let (floe, ignored_replaces) = journal_story(report.journal_dir(), dialect);
    let audit_path = report.audit.clone().expect("an audit file");
    let venue = audit_story(&audit_path, &session);
    assert!(!floe.ids.is_empty());
    assert_eq!(
        floe.ids, venue.ids,
        "the identifiers floe journaled are those the venue accepted"
    );
    assert_eq!(
        floe.executed(),
        venue.executed(),
        "executed shares per identifier"
    );
    assert_eq!(
        floe.executions, venue.executions,
        "every execution, shares and price"
    );
    eprintln!(
        "{dialect:?}: {} orders live at the venue, {} executions, {ignored_replaces} replaces crossed with the end of their order",
        floe.ids.len(),
        floe.executions.values().map(Vec::len).sum::<usize>()
    );
    let total: u32 = specs.iter().map(|s| s.total).sum();
    assert_eq!(floe.executed().values().sum::<u32>(), total);

    let out = Command::new(env!("CARGO_BIN_EXE_floe"))
        .args(["journal", "verify"])
        .arg(report.journal_dir())
        .output()
        .expect("run floe journal verify");
    assert!(
        out.status.success(),
        "floe journal verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ouch50_icebergs_on_three_symbols_fill_and_the_audit_agrees() {
    check_day(
        Dialect::Ouch50,
        11,
        &[
            Spec {
                symbol: "AAPL",
                side: Side::Buy,
                total: 2_000,
                display: 200,
                peg: true,
            },
            Spec {
                symbol: "MSFT",
                side: Side::Sell,
                total: 1_500,
                display: 300,
                peg: false,
            },
            Spec {
                symbol: "NVDA",
                side: Side::Sell,
                total: 1_000,
                display: 100,
                peg: true,
            },
        ],
    );
}

#[test]
fn ouch42_icebergs_on_three_symbols_fill_and_the_audit_agrees() {
    check_day(
        Dialect::Ouch42,
        12,
        &[
            Spec {
                symbol: "AAPL",
                side: Side::Sell,
                total: 1_500,
                display: 200,
                peg: true,
            },
            Spec {
                symbol: "MSFT",
                side: Side::Buy,
                total: 1_000,
                display: 250,
                peg: false,
            },
            Spec {
                symbol: "NVDA",
                side: Side::Buy,
                total: 1_200,
                display: 200,
                peg: true,
            },
        ],
    );
}
