//! `floe demo`: the embedded default.
//!
//! The simulated venue and the appliance in one process ([`InProcess`]): no
//! configuration, no privileges on the default memory NIC. It submits one
//! iceberg — BUY 10,000 AAPL, display 200 ± 25 %, resting at the venue's
//! bid — through the control plane's gateway, shows its progress (filled /
//! total, children sent, average price) on a terminal, and ends with a
//! summary: status, filled, children, executions, average price and the
//! tick-to-trade percentiles.
//!
//! The demo venue's synthetic flow keeps its mids still (`walk_share = 0`)
//! so that the iceberg's children, resting at the flow's best bid, fill only
//! when the flow's marketable sells reach them, always at the limit: the
//! same `--seed` gives the same children and the same average price on
//! every run (the fill timing, and so the latency figures, vary).
//!
//! `--json` prints only one JSON object at the end:
//! `{"status":"FILLED","filled_quantity":N,"total_quantity":N,"children":N,
//! "avg_price":"…","tick_to_trade_ns":{"p50":N,"p99":N,"p999":N,"max":N},…}`.
//! `--nic af_packet` (root) runs the venue on kernel sockets and the
//! appliance on AF_PACKET in two network namespaces joined by veth, made
//! for the run and removed after it; `--nic dpdk` does the same over DPDK's
//! `net_af_packet` vdev (cargo feature `dpdk`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use floe::algo::StatusCode;
use floe::app::{iceberg, InProcess, Network, Report};
use floe::config::NicBackend;
use floe::control::gateway::is_terminal;
use floe::engine::{ParentStatus, Record};
use floe::exchange::config::parse_price;
use floe::exchange::VenueConfig;
use floe::journal::JournalReader;
use floe::order::OrderEvent;
use floe::types::{Price4, Side};
use hdrhistogram::Histogram;

/// Arguments of `floe demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seed of the venue's synthetic flow and of the iceberg (reproducible).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Record the whole wire to this pcap file.
    #[arg(long)]
    pub pcap: Option<PathBuf>,
    /// NIC backend: memory (default), af_packet (root), dpdk (feature).
    #[arg(long, default_value = "memory")]
    pub nic: String,
    /// Print only one JSON object at the end.
    #[arg(long)]
    pub json: bool,
}

/// The iceberg's symbol.
const SYMBOL: &str = "AAPL";
/// Its side.
const SIDE: Side = Side::Buy;
/// Its total, shares.
const TOTAL: u32 = 10_000;
/// Its display per slice, shares (± the variance).
const DISPLAY: u32 = 200;
/// Its slice variance.
const VARIANCE: &str = "0.25";
/// Refresh delays, ms.
const MIN_DELAY_MS: u64 = 0;
const MAX_DELAY_MS: u64 = 0;
/// Events per second of the venue's synthetic flow over its three symbols.
const FLOW_RATE_PER_SEC: u32 = 800;
/// The demo gives up after this long.
const DEMO_TIMEOUT: Duration = Duration::from_secs(60);
/// Progress refresh.
const TICK: Duration = Duration::from_millis(50);

/// Which network the demo runs on.
fn network(nic: &str) -> anyhow::Result<Network> {
    match nic {
        "memory" => Ok(Network::Memory),
        "af_packet" | "dpdk" => {
            let backend = if nic == "dpdk" {
                if !cfg!(feature = "dpdk") {
                    bail!(
                        "--nic dpdk: this floe was built without DPDK support; rebuild with \
                         `cargo build --release --features dpdk` (needs libdpdk-dev, clang, \
                         pkg-config), or use --nic memory / --nic af_packet"
                    );
                }
                NicBackend::Dpdk
            } else {
                NicBackend::AfPacket
            };
            if !floe::nic::veth::is_root() {
                bail!(
                    "--nic {nic} needs root: the demo creates two network namespaces joined by \
                     a veth pair and opens raw sockets in them; run it with sudo, or use \
                     --nic memory (no privileges)"
                );
            }
            for tool in ["ip", "ethtool"] {
                if !floe::nic::veth::have_command(tool) {
                    bail!("--nic {nic} needs `{tool}` on the PATH (packages iproute2, ethtool)");
                }
            }
            Ok(Network::Veth { backend })
        }
        other => bail!(
            "--nic {other:?}: unknown NIC backend; use memory (default, no privileges), \
             af_packet (root) or dpdk (root, floe built with --features dpdk)"
        ),
    }
}

/// The demo venue: the default venue with a flow that keeps its mids still
/// and trades at a pace the iceberg fills at in seconds.
fn demo_venue(seed: u64) -> VenueConfig {
    let mut v = floe::app::venue_config();
    v.flow.seed = seed;
    v.flow.walk_share = 0.0;
    v.flow.rate_per_sec = FLOW_RATE_PER_SEC;
    v
}

/// The flow's best bid of `symbol` with a still mid: the mid less half the
/// spread, on the tick (what `floe::exchange::flow` quotes).
fn flow_bid(v: &VenueConfig, symbol: &str) -> anyhow::Result<Price4> {
    let s = v
        .symbols
        .iter()
        .find(|s| s.name == symbol)
        .with_context(|| format!("the demo venue does not list {symbol}"))?;
    let mid = parse_price(&s.mid).with_context(|| format!("mid {:?}", s.mid))?;
    let tick = parse_price(&v.flow.tick)
        .with_context(|| format!("flow.tick {:?}", v.flow.tick))?
        .0
        .max(1);
    let ticks = mid.0 / tick - v.flow.spread_ticks.max(1) / 2;
    Ok(Price4(ticks * tick))
}

/// The average fill price, four decimals.
fn avg_price(s: &ParentStatus) -> Option<Price4> {
    (!s.filled.is_zero())
        .then(|| u32::try_from(s.notional / u64::from(s.filled.0)).ok())
        .flatten()
        .map(Price4)
}

/// Executions the journal holds (one per venue fill report).
fn executions(report: &Report) -> u64 {
    let Ok(reader) = JournalReader::open(report.journal_dir()) else {
        return 0;
    };
    reader
        .records()
        .filter_map(Result::ok)
        .filter(|r| {
            matches!(
                Record::decode(r.rec_type, r.payload),
                Ok(Record::VenueEvent {
                    event: OrderEvent::Executed { .. },
                    ..
                })
            )
        })
        .count() as u64
}

/// Runs the demo.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let network = network(&args.nic)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let flag = interrupted.clone();
        super::on_signals(move || flag.store(true, Ordering::Relaxed))?;
    }
    let venue = demo_venue(args.seed);
    let limit = flow_bid(&venue, SYMBOL)?;
    let side_text = match SIDE {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    };
    let headline = format!(
        "{side_text} {TOTAL} {SYMBOL}, display {DISPLAY} ±25%, limit {limit} (seed {}, {} NIC)",
        args.seed, args.nic
    );
    if !args.json {
        println!("floe demo: {headline}");
        std::io::stdout().flush()?;
    }
    let mut builder = InProcess::builder()
        .seed(args.seed)
        .venue_config(venue)
        .network(network);
    if let Some(p) = &args.pcap {
        builder = builder.pcap(p);
    }
    let t0 = Instant::now();
    let app = builder
        .start()
        .context("starting the venue and the appliance")?;
    let up = t0.elapsed();
    let namespaces = app.namespaces();
    if !args.json {
        let ns = app
            .namespaces()
            .map(|(v, a)| format!(", namespaces {v} / {a}"))
            .unwrap_or_default();
        println!(
            "  up in {:.2} s: venue {}, control plane http://{}{ns}",
            up.as_secs_f64(),
            app.config().order.venue,
            app.control_addr()
        );
    }

    let mut order = iceberg(
        "floe-demo-1",
        SYMBOL,
        SIDE,
        TOTAL,
        DISPLAY,
        &limit.to_string(),
    );
    order.strategy_params.variance_percent.0 = VARIANCE.into();
    order.strategy_params.min_delay_ms = MIN_DELAY_MS;
    order.strategy_params.max_delay_ms = MAX_DELAY_MS;
    let submitted = app.submit(&order).context("submitting the iceberg")?;
    let parent = submitted.parent;

    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(u64::from(TOTAL));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "  {elapsed_precise} {bar:40.cyan/blue} {pos}/{len} shares  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let started = Instant::now();
    let mut last: Option<ParentStatus> = None;
    let outcome = loop {
        if let Some(s) = app.status(parent) {
            if let Some(b) = &bar {
                b.set_position(u64::from(s.filled.0));
                b.set_message(format!(
                    "children {}  avg {}",
                    s.children,
                    avg_price(&s).map_or_else(|| "-".to_string(), |p| p.to_string())
                ));
            }
            let done = is_terminal(s.status);
            last = Some(s);
            if done {
                break "done";
            }
        }
        if interrupted.load(Ordering::Relaxed) {
            break "interrupted";
        }
        if started.elapsed() >= DEMO_TIMEOUT {
            break "timed out";
        }
        std::thread::sleep(TICK);
    };
    let working = started.elapsed();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = app.stop().context("stopping")?;
    let status = report.parent(parent).copied().or(last);
    let Some(status) = status else {
        bail!("the engine never reported the iceberg (parent {parent})");
    };
    let execs = executions(&report);
    let text = if args.json {
        json_summary(&args, &status, &report, execs, working, namespaces)
    } else {
        text_summary(&status, &report, execs, working, outcome)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(if status.status == StatusCode::Filled {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn percentiles(h: &Histogram<u64>) -> [(&'static str, u64); 4] {
    [
        ("p50", h.value_at_quantile(0.50)),
        ("p99", h.value_at_quantile(0.99)),
        ("p999", h.value_at_quantile(0.999)),
        ("max", h.max()),
    ]
}

fn json_summary(
    args: &Args,
    s: &ParentStatus,
    report: &Report,
    executions: u64,
    working: Duration,
    namespaces: Option<(String, String)>,
) -> String {
    let h = &report.tick_to_trade;
    let mut ttt = serde_json::Map::new();
    for (k, v) in percentiles(h) {
        ttt.insert(k.into(), v.into());
    }
    let v = serde_json::json!({
        "status": s.status.name(),
        "filled_quantity": s.filled.0,
        "total_quantity": s.total.0,
        "children": s.children,
        "avg_price": avg_price(s).map(|p| p.to_string()),
        "tick_to_trade_ns": ttt,
        "tick_to_trade_samples": h.len(),
        "executions": executions,
        "symbol": s.symbol.as_str(),
        "side": match s.side { Side::Buy => "BUY", Side::Sell => "SELL" },
        "price_limit": s.limit.to_string(),
        "seed": args.seed,
        "nic": args.nic,
        "fill_seconds": working.as_secs_f64(),
        "elapsed_seconds": report.elapsed.as_secs_f64(),
        "orders_sent": report.runtime.orders_sent,
        "market_data_messages": report.runtime.md_messages,
        "feed_gaps": report.feed.iter().map(|f| f.gaps).sum::<u64>(),
        "feed_rerequests": report.feed.iter().map(|f| f.requests).sum::<u64>(),
        "feed_messages_lost": report.feed.iter().map(|f| f.messages_lost).sum::<u64>(),
        "nic_rx_frames": report.nic.rx_frames,
        "nic_rx_dropped": report.nic.rx_dropped,
        "nic_tx_frames": report.nic.tx_frames,
        "venue_rerequests_answered": report
            .venue_host
            .map(|h| h.requests.answers)
            .or(report.venue_server.map(|s| s.requests.answers)),
        "venue_feed_datagrams": report
            .venue_host
            .map(|h| h.feed.datagrams)
            .or(report.venue_server.map(|s| s.feed.datagrams)),
        "pcap": args.pcap.as_ref().map(|p| p.display().to_string()),
        "namespaces": namespaces.map(|(v, a)| [v, a]),
    });
    format!("{v}\n")
}

fn micros(ns: u64) -> String {
    if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else {
        format!("{:.1} µs", ns as f64 / 1e3)
    }
}

fn text_summary(
    s: &ParentStatus,
    report: &Report,
    executions: u64,
    working: Duration,
    outcome: &str,
) -> String {
    let h = &report.tick_to_trade;
    let mut t = String::new();
    use std::fmt::Write as _;
    if outcome != "done" {
        let _ = writeln!(t, "  stopped: {outcome}");
    }
    let _ = writeln!(t, "  status         {}", s.status.name());
    let _ = writeln!(t, "  filled         {} / {} shares", s.filled, s.total);
    let _ = writeln!(
        t,
        "  children       {} ({} orders sent, replaces and cancels included)",
        s.children, report.runtime.orders_sent
    );
    let _ = writeln!(t, "  executions     {executions}");
    let _ = writeln!(
        t,
        "  average price  {}",
        avg_price(s).map_or_else(|| "-".to_string(), |p| p.to_string())
    );
    let _ = writeln!(
        t,
        "  time           {:.2} s {}, {:.2} s in all",
        working.as_secs_f64(),
        if s.status == StatusCode::Filled {
            "to fill"
        } else {
            "working"
        },
        report.elapsed.as_secs_f64(),
    );
    let _ = writeln!(
        t,
        "  market data    {} ITCH messages, {} gaps, {} re-requests, {} lost",
        report.runtime.md_messages,
        report.feed.iter().map(|f| f.gaps).sum::<u64>(),
        report.feed.iter().map(|f| f.requests).sum::<u64>(),
        report.feed.iter().map(|f| f.messages_lost).sum::<u64>(),
    );
    if h.is_empty() {
        let _ = writeln!(t, "  tick-to-trade  no samples");
    } else {
        let p = percentiles(h);
        let _ = writeln!(
            t,
            "  tick-to-trade  p50 {}  p99 {}  p99.9 {}  max {}  ({} orders triggered by a frame)",
            micros(p[0].1),
            micros(p[1].1),
            micros(p[2].1),
            micros(p[3].1),
            h.len()
        );
        let _ = writeln!(
            t,
            "  latency histogram (frame received → order handed to the NIC):"
        );
        let edges = [0.10, 0.25, 0.50, 0.75, 0.90, 0.99, 0.999, 1.0];
        let width = 40.0;
        let max = h.max().max(1) as f64;
        for q in edges {
            let v = h.value_at_quantile(q);
            let n = ((v as f64 / max) * width).ceil().max(1.0) as usize;
            let _ = writeln!(
                t,
                "    {:>6}  {:>10}  {}",
                format!("p{}", q * 100.0),
                micros(v),
                "█".repeat(n)
            );
        }
    }
    if let Some(p) = &report.pcap {
        let _ = writeln!(t, "  wire recorded  {}", p.display());
    }
    t
}
