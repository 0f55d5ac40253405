//! Split mode (`engine.feed_core`) end to end through `floe::app::InProcess`:
//! the feed handler on its own thread with its own rx handle (the third end
//! of a fan-out memory pair, or a second AF_PACKET socket on veth), quotes to
//! the hot thread over the SPSC ring, re-requests through the hot thread's
//! UDP socket.
//!
//! - icebergs fill in split mode as they do on one thread, same seed, same
//!   totals, and every market-data message the feed thread delivered was
//!   applied exactly once;
//! - frames dropped on the feed thread's handle are MoldUDP64 gaps that the
//!   re-requests recover: nothing lost, nothing abandoned;
//! - the same over veth with AF_PACKET (root; skipped with a reason
//!   otherwise).
//!
//! Every wait is bounded; both threads yield when idle (`spin_yield`).

use std::process::Command;
use std::time::{Duration, Instant};

use floe::algo::StatusCode;
use floe::app::{iceberg, InProcess, Network, Report};
use floe::config::{IdleStrategy, NicBackend};
use floe::nic::fault::{FaultConfig, FaultRates};
use floe::types::{Price4, Side};

/// Every iceberg of a day fills within this much wall time.
const FILL_TIMEOUT: Duration = Duration::from_secs(60);

/// One iceberg: symbol, side, total, display.
struct Spec {
    symbol: &'static str,
    side: Side,
    total: u32,
    display: u32,
}

const SPECS: [Spec; 3] = [
    Spec {
        symbol: "AAPL",
        side: Side::Buy,
        total: 1_500,
        display: 200,
    },
    Spec {
        symbol: "MSFT",
        side: Side::Sell,
        total: 1_000,
        display: 250,
    },
    Spec {
        symbol: "NVDA",
        side: Side::Sell,
        total: 1_000,
        display: 100,
    },
];

/// A core for the feed thread: the last one (pinning is best effort).
fn feed_core() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) - 1
}

/// A limit 30 ticks through the venue's starting mid (beyond the flow's
/// walk band): a pegged child joins the touch, a plain one is marketable.
fn limit(app: &InProcess, symbol: &str, side: Side) -> String {
    let s = app
        .venue_config()
        .symbols
        .iter()
        .find(|s| s.name == symbol)
        .unwrap_or_else(|| panic!("{symbol} is listed by the venue"));
    let m = floe::exchange::config::parse_price(&s.mid)
        .expect("a mid price")
        .0;
    Price4(match side {
        Side::Buy => m + 30 * 100,
        Side::Sell => m - 30 * 100,
    })
    .to_string()
}

/// Feed-thread frames and re-requests the metrics saw, read before stop.
#[derive(Debug, Default)]
struct Seen {
    hot_rx: u64,
    feed_rx: u64,
    gaps: u64,
    rerequests: u64,
    rerequest_failures: u64,
    messages: u64,
}

/// One day: start (split mode or not), submit every iceberg pegged, wait
/// for each to fill, stop.
fn day(
    split: bool,
    seed: u64,
    network: Network,
    faults: Option<FaultConfig>,
) -> (Report, Seen, tempfile::TempDir) {
    day_idle(split, seed, network, faults, IdleStrategy::SpinYield)
}

fn day_idle(
    split: bool,
    seed: u64,
    network: Network,
    faults: Option<FaultConfig>,
    idle: IdleStrategy,
) -> (Report, Seen, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut b = InProcess::builder()
        .seed(seed)
        .network(network)
        .audit(dir.path().join("audit.jsonl"))
        .start_timeout(Duration::from_secs(30))
        .configure(move |c| {
            c.engine.idle = idle;
            if split {
                c.engine.feed_core = Some(feed_core());
                // A small ring: the feed thread meets back-pressure.
                c.engine.feed_ring = 64;
            }
        });
    if let Some(f) = faults {
        b = b.market_faults(f);
    }
    let app = b
        .start()
        .unwrap_or_else(|e| panic!("the harness starts (split {split}): {e}"));
    assert_eq!(app.config().engine.feed_core.is_some(), split);
    let mut parents = Vec::new();
    for (i, s) in SPECS.iter().enumerate() {
        let mut order = iceberg(
            &format!("split-{seed}-{i}"),
            s.symbol,
            s.side,
            s.total,
            s.display,
            &limit(&app, s.symbol, s.side),
        );
        order.strategy_params.peg = true;
        let sub = app
            .submit(&order)
            .unwrap_or_else(|e| panic!("submit {}: {e}", s.symbol));
        assert_eq!(sub.status, StatusCode::New);
        parents.push(sub.parent);
    }
    let t0 = Instant::now();
    for (p, s) in parents.iter().zip(&SPECS) {
        let left = FILL_TIMEOUT.saturating_sub(t0.elapsed());
        let st = app
            .wait_status(*p, StatusCode::Filled, left)
            .unwrap_or_else(|e| {
                panic!(
                    "{} fills (split {split}): {e}; runtime {:?}",
                    s.symbol,
                    app.stats()
                )
            });
        assert_eq!(st.filled.0, s.total);
    }
    if faults.is_some() {
        // Let the feed run on until a gap has been recovered by re-request.
        let until = Instant::now() + Duration::from_secs(30);
        while app.counters().feed.mold_rerequests.get() == 0 {
            assert!(
                Instant::now() < until,
                "no re-request within 30 s: {:?}",
                app.stats()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let c = app.counters();
    let seen = Seen {
        hot_rx: c.nic.rx_frames[0].get(),
        feed_rx: c.nic.rx_frames[1].get(),
        gaps: c.feed.mold_gaps.get(),
        rerequests: c.feed.mold_rerequests.get(),
        rerequest_failures: c.feed.mold_rerequest_failures.get(),
        messages: c.feed.messages.get(),
    };
    let report = app.stop().expect("a clean stop");
    (report, seen, dir)
}

/// What every day must show, split or not.
fn check(report: &Report, split: bool) {
    assert!(report.halted.is_none(), "{:?}", report.halted);
    assert_eq!(report.runtime.send_failures, 0, "{:?}", report.runtime);
    assert_eq!(report.parents.len(), SPECS.len());
    for (p, s) in report.parents.iter().zip(&SPECS) {
        assert_eq!(p.status, StatusCode::Filled, "{p:?}");
        assert_eq!((p.filled.0, p.live.0), (s.total, 0));
    }
    assert!(!report.tick_to_trade.is_empty(), "tick-to-trade measured");
    assert!(report.runtime.quotes > 0, "{:?}", report.runtime);
    // The sessions come back from the feed thread at shutdown.
    assert!(!report.feed.is_empty(), "the MoldUDP64 sessions' counters");
    let delivered: u64 = report.feed.iter().map(|f| f.messages).sum();
    assert!(delivered > 0);
    assert_eq!(
        report.runtime.md_messages, delivered,
        "every delivered message was applied once (split {split})"
    );
    for f in &report.feed {
        assert_eq!(f.messages_lost, 0, "{f:?}");
        assert_eq!(f.gaps_abandoned, 0, "{f:?}");
        assert_eq!(f.malformed, 0, "{f:?}");
    }
    assert_eq!(report.runtime.rerequest_failures, 0, "{:?}", report.runtime);
    assert_eq!(report.runtime.replies_dropped, 0, "{:?}", report.runtime);
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

fn filled(report: &Report) -> Vec<(String, u32)> {
    report
        .parents
        .iter()
        .map(|p| (p.symbol.as_str().to_string(), p.filled.0))
        .collect()
}

#[test]
fn memory_split_mode_fills_icebergs_like_one_thread() {
    let (single, single_seen, _d1) = day(false, 21, Network::Memory, None);
    check(&single, false);
    assert_eq!(single_seen.feed_rx, 0, "one thread reads one handle");
    let (split, seen, _d2) = day(true, 21, Network::Memory, None);
    check(&split, true);
    assert_eq!(filled(&split), filled(&single), "same seed, same fills");
    // Both handles read frames: the feed thread its market data (counted
    // on NIC queue 1), the hot thread everything else.
    assert!(seen.feed_rx > 0 && seen.hot_rx > 0, "{seen:?}");
    assert!(seen.messages > 0, "{seen:?}");
    let venue_executions = |r: &Report| r.venue.matching.matches;
    eprintln!(
        "single: {} md messages, {} quotes, {} orders, {} venue executions; \
         split: {} md messages, {} quotes, {} orders, {} venue executions, {} ring waits",
        single.runtime.md_messages,
        single.runtime.quotes,
        single.runtime.orders_sent,
        venue_executions(&single),
        split.runtime.md_messages,
        split.runtime.quotes,
        split.runtime.orders_sent,
        venue_executions(&split),
        split.runtime.feed_ring_waits
    );
}

#[test]
fn memory_split_mode_with_park_fills_icebergs_like_one_thread() {
    // The feed thread does not wake a parked hot thread: in split mode the
    // hot thread's deadline is always now, so `park` only spins and yields
    // and no quote waits out a park.
    let (single, _s1, _d1) = day_idle(false, 23, Network::Memory, None, IdleStrategy::Park);
    check(&single, false);
    let (split, _s2, _d2) = day_idle(true, 23, Network::Memory, None, IdleStrategy::Park);
    check(&split, true);
    assert_eq!(filled(&split), filled(&single), "same seed, same fills");
}

#[test]
fn memory_split_mode_recovers_dropped_frames_by_rerequest() {
    let faults = FaultConfig {
        seed: 5,
        rx: FaultRates {
            drop: 0.03,
            ..FaultRates::default()
        },
        tx: FaultRates::default(),
    };
    let (report, seen, _d) = day(true, 22, Network::Memory, Some(faults));
    check(&report, true);
    let gaps: u64 = report.feed.iter().map(|f| f.gaps).sum();
    let requests: u64 = report.feed.iter().map(|f| f.requests).sum();
    assert!(
        gaps > 0 && seen.gaps > 0,
        "dropped frames are gaps: {seen:?}"
    );
    assert!(requests > 0, "{:?}", report.feed);
    assert!(report.runtime.rerequests_sent > 0, "{:?}", report.runtime);
    assert_eq!(seen.rerequest_failures, 0, "{seen:?}");
    assert!(seen.rerequests > 0 && seen.rerequests <= report.runtime.rerequests_sent);
    assert!(
        report.venue.publisher.retransmissions > 0,
        "the venue answered: {:?}",
        report.venue.publisher
    );
    eprintln!(
        "split with 3 % of the feed's frames dropped: {gaps} gaps, {requests} requests, \
         {} retransmissions, {} messages delivered",
        report.venue.publisher.retransmissions, report.runtime.md_messages
    );
}

#[test]
fn af_packet_split_mode_over_veth() {
    if !floe::nic::veth::is_root() {
        eprintln!("skipped: needs root (network namespaces, veth, AF_PACKET)");
        return;
    }
    let (report, seen, _d) = day(
        true,
        23,
        Network::Veth {
            backend: NicBackend::AfPacket,
        },
        None,
    );
    check(&report, true);
    assert!(seen.feed_rx > 0 && seen.hot_rx > 0, "{seen:?}");
    eprintln!(
        "AF_PACKET split: {} md messages, {} quotes, {} orders, feed handle {} frames, hot {} frames",
        report.runtime.md_messages,
        report.runtime.quotes,
        report.runtime.orders_sent,
        seen.feed_rx,
        seen.hot_rx
    );
}

#[test]
fn split_mode_without_a_feed_handle_or_on_dpdk_is_refused_by_name() {
    use floe::config::Config;
    use floe::control::metrics::HotCounters;
    use floe::engine::runtime::Runtime;
    use floe::time::MonotonicClock;
    let mut cfg = Config::default();
    cfg.engine.feed_core = Some(feed_core());
    let (a, _b) = floe::nic::memory::pair(8);
    let counters = std::sync::Arc::new(HotCounters::new());
    match Runtime::new(
        &cfg,
        Box::new(a),
        Box::new(MonotonicClock::new()),
        None,
        counters,
    ) {
        Ok(_) => panic!("split mode needs the feed thread's handle"),
        Err(e) => assert!(e.to_string().contains("engine.feed_core"), "{e}"),
    }
    cfg.nic.backend = NicBackend::Dpdk;
    match floe::nic::open_feed_from_config(&cfg, None) {
        Ok(_) => panic!("split mode refuses dpdk"),
        Err(e) => {
            let m = e.to_string();
            assert!(
                m.contains("engine.feed_core") && m.contains("af_packet"),
                "{m}"
            );
        }
    }
    // And the configuration says so before anything opens.
    let err = cfg.validate().unwrap_err().to_string();
    assert!(err.contains("engine.feed_core"), "{err}");
}
