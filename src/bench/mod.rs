//! The tick-to-trade benchmark behind `floe bench`.
//!
//! Two pinned threads: the **hot thread** runs floe's real [`Runtime`]
//! (NIC, network stack, MoldUDP64, books, SoupBinTCP, engine, journal,
//! control-plane queues) or, as the peer, the same engine path on kernel
//! sockets ([`peer::KernelPeer`]); the **driver thread** is the venue
//! ([`script::VenueScript`]) on the other end of the link — a smoltcp host
//! on the other end of a memory pair, or kernel sockets in the venue's
//! namespace of a veth pair — sending triggers and waiting for each one's
//! child order. The control plane runs as in `floe run` (REST on
//! 127.0.0.1, an ephemeral port); the parents are created through it.
//!
//! Tick-to-trade is what the hot path records: from the receive timestamp
//! of the frame that triggered a child order to the moment the child's
//! frame was handed to the NIC (after the transmit flush). Two triggers,
//! each in its own blocks and histograms: a **fill** that completes the live
//! child of a zero-delay iceberg, which releases the next slice at once;
//! a **market-data** message that moves the best bid under a pegged child,
//! which is re-priced. The driver also measures each trigger's round trip
//! (trigger sent → child read back), from the trigger's scheduled time when
//! the input is paced, so that a stalled appliance shows as latency rather
//! than as fewer samples.
//!
//! On two cores shared with everything else, the hot thread and the driver
//! each get one core (pinned) and both use the `spin_yield` idle strategy:
//! they spin while there is work and yield the core after 50 µs without, so
//! the control plane and the kernel's softirqs still get to run. The control
//! plane (and the control-load generator) run on the driver's core, as a
//! desk keeps the hot thread's core for the hot thread. Bare-metal figures
//! want `--idle spin` on isolated cores.
//!
//! With [`BenchOptions::split`] the same run also measures floe in split
//! mode (`engine.feed_core`: the feed handler on its own thread, pinned to
//! [`BenchOptions::feed_core`], with its own rx handle of the NIC — the
//! third end of a fan-out memory pair, or a second AF_PACKET socket — and
//! quotes to the hot thread over an SPSC ring), one side after the other on
//! the same link and reports the split / single ratio.

pub mod control_load;
pub mod driver;
pub mod hot;
pub mod link;
pub mod peer;
pub mod report;
pub mod script;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::config::{ApiKey, Config, IdleStrategy, NicBackend};
use crate::control::{self, gateway, metrics::HotCounters};
use crate::engine::idle::Idle;
use crate::engine::runtime::{Runtime, RuntimeStats, SplitFeed};
use crate::nic::Nic;
use crate::time::WallClock;
use driver::{DriverReport, Plan, Progress, FILL, FILL_LOADED, MARKET_DATA, MARKET_DATA_LOADED};
use hot::{HotPath, HotReport, Phase};
use report::Stats;

/// The API key the benchmark configures on its control plane.
pub const API_KEY: &str = "bench";
/// Its secret (the control plane listens on loopback only).
const API_SECRET: &str = "floe-bench-secret";
/// The venue's order port.
pub const ORDER_PORT: u16 = 15_000;
/// The market-data group.
pub const GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 198, 18, 1), 26_400);
/// The venue's feed source port.
const FEED_PORT: u16 = 50_000;
/// The venue's address (both the memory host and the veth venue).
pub const VENUE_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// The venue's MAC on the memory pair.
const VENUE_MAC: [u8; 6] = [0x02, 0x00, 0xc6, 0x12, 0x00, 0x01];

/// Which NIC floe's hot thread drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NicKind {
    /// An in-process memory pair; the venue is a smoltcp host on the other end.
    Memory,
    /// AF_PACKET on the appliance end of a veth pair (root).
    AfPacket,
    /// DPDK's net_af_packet vdev on the appliance end of a veth pair (root,
    /// cargo feature `dpdk`).
    Dpdk,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// floe's NIC.
    pub nic: NicKind,
    /// Measured triggers (per side).
    pub events: u64,
    /// Triggers before them, not measured.
    pub warmup: u64,
    /// Triggers per block.
    pub block: u64,
    /// Triggers per second; 0 = closed loop.
    pub rate_per_sec: u64,
    /// Control-plane requests per second during the loaded halves; 0 = none.
    pub control_load_per_sec: u64,
    /// Run the kernel-socket peer too (veth NICs only).
    pub peer: bool,
    /// Core of the hot thread.
    pub hot_core: Option<usize>,
    /// Core of the driver.
    pub driver_core: Option<usize>,
    /// Idle strategy of both threads.
    pub idle: IdleStrategy,
    /// How long the hot thread spins when idle before it yields, µs
    /// (`engine.spin_window_us`; the venue driver yields at once).
    pub spin_window_us: u64,
    /// Where the journals go (default: a fresh directory under /dev/shm,
    /// else the temp directory); removed afterwards.
    pub journal_dir: Option<PathBuf>,
    /// How long one child may take before the run fails.
    pub child_timeout: Duration,
    /// Also run floe in split mode (after the single-thread side).
    pub split: bool,
    /// Core of the split mode's feed thread (default: the driver's).
    pub feed_core: Option<usize>,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            nic: NicKind::Memory,
            events: 1_000_000,
            warmup: 20_000,
            block: 1_000,
            rate_per_sec: 0,
            control_load_per_sec: 0,
            peer: true,
            hot_core: Some(1),
            driver_core: Some(0),
            idle: IdleStrategy::SpinYield,
            spin_window_us: 50,
            journal_dir: None,
            child_timeout: Duration::from_secs(5),
            split: false,
            feed_core: None,
        }
    }
}

/// The machine a run was made on.
#[derive(Clone, Debug, Serialize)]
pub struct Host {
    /// CPU model name.
    pub cpu: String,
    /// Online CPUs.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// When, RFC 3339 (UTC).
    pub date: String,
}

impl Host {
    /// Reads `/proc`.
    pub fn detect() -> Host {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        Host {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel,
            date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        }
    }
}

/// The counters of one side's hot path.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct PathCounters {
    /// Child orders handed to the NIC / socket.
    pub orders_sent: u64,
    /// Market-data messages applied.
    pub md_messages: u64,
    /// Venue reports applied.
    pub reports: u64,
    /// Journal records appended.
    pub journal_records: u64,
    /// Duty cycles.
    pub cycles: u64,
    /// Duty cycles that found work.
    pub busy_cycles: u64,
}

impl From<RuntimeStats> for PathCounters {
    fn from(s: RuntimeStats) -> Self {
        PathCounters {
            orders_sent: s.orders_sent,
            md_messages: s.md_messages,
            reports: s.reports,
            journal_records: s.journal_records,
            cycles: s.cycles,
            busy_cycles: s.busy_cycles,
        }
    }
}

/// One side's results (floe or the peer).
#[derive(Clone, Debug, Serialize)]
pub struct SideReport {
    /// What ran.
    pub label: String,
    /// Tick-to-trade, both triggers, without control load.
    pub tick_to_trade_ns: Stats,
    /// Fill → next slice.
    pub fill_ns: Stats,
    /// Market data → pegged re-price.
    pub market_data_ns: Stats,
    /// Paced runs: [`SideReport::tick_to_trade_ns`] corrected for
    /// coordinated omission at the pacing interval (HdrHistogram's
    /// `copy_corrected_for_coordinated_omission`).
    pub tick_to_trade_corrected_ns: Option<Stats>,
    /// The driver's round trip, both triggers (from the schedule when paced).
    pub round_trip_ns: Stats,
    /// Paced triggers sent more than one interval late.
    pub behind_schedule: u64,
    /// Measured triggers per second (closed loop: the sustained rate).
    pub triggers_per_sec: f64,
    /// Counters of the hot path.
    pub counters: PathCounters,
    /// The tick-to-trade histogram behind the summaries.
    #[serde(skip)]
    pub hist: Histogram<u64>,
    /// Fill histogram.
    #[serde(skip)]
    pub hist_fill: Histogram<u64>,
    /// Market-data histogram.
    #[serde(skip)]
    pub hist_md: Histogram<u64>,
    /// Round-trip histogram.
    #[serde(skip)]
    pub hist_round_trip: Histogram<u64>,
}

/// floe against the peer.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Ratios {
    /// floe p50 / peer p50, tick-to-trade.
    pub p50: f64,
    /// floe p99 / peer p99, tick-to-trade.
    pub p99: f64,
    /// floe / peer, round-trip p50.
    pub round_trip_p50: f64,
    /// floe / peer, round-trip p99.
    pub round_trip_p99: f64,
    /// The goal (issue 8): at most this at p50 and p99.
    pub goal: f64,
    /// Whether both tick-to-trade ratios meet it.
    pub met: bool,
}

/// The control-plane load check (issue 7): the same run, halves with and
/// without load, alternating.
#[derive(Clone, Debug, Serialize)]
pub struct ControlLoadReport {
    /// Requests per second asked for.
    pub target_per_sec: u64,
    /// What the load generator did.
    pub load: control_load::LoadStats,
    /// Tick-to-trade without load.
    pub off_ns: Stats,
    /// Tick-to-trade under load.
    pub on_ns: Stats,
    /// p99 under load / p99 without.
    pub p99_ratio: f64,
    /// Goal: within 10 %.
    pub within_10_percent: bool,
    /// The loaded histogram.
    #[serde(skip)]
    pub hist_on: Histogram<u64>,
}

/// Everything a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// floe's NIC.
    pub nic: NicKind,
    /// Measured triggers per side.
    pub events: u64,
    /// Warm-up triggers per side.
    pub warmup: u64,
    /// Triggers per block.
    pub block: u64,
    /// Pacing (0: closed loop).
    pub rate_per_sec: u64,
    /// Thread placement and idle strategy.
    pub threads: String,
    /// The machine.
    pub host: Host,
    /// floe.
    pub floe: SideReport,
    /// The kernel-socket peer, when it ran.
    pub peer: Option<SideReport>,
    /// floe / peer.
    pub ratio: Option<Ratios>,
    /// The control-load check, when asked.
    pub control_load: Option<ControlLoadReport>,
    /// floe in split mode, when asked ([`BenchOptions::split`]).
    pub split: Option<SideReport>,
    /// Split mode / single-thread mode, when split mode ran.
    pub split_ratio: Option<SplitRatio>,
}

/// floe in split mode against floe on one thread, same run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct SplitRatio {
    /// Split p50 / single p50, tick-to-trade.
    pub p50: f64,
    /// Split p99 / single p99, tick-to-trade.
    pub p99: f64,
    /// Split / single, market data -> re-price p50 (the trigger the split
    /// changes).
    pub market_data_p50: f64,
    /// Split / single, round-trip p50.
    pub round_trip_p50: f64,
    /// Split / single, round-trip p99.
    pub round_trip_p99: f64,
    /// Whether split mode had the lower tick-to-trade p50 on this host.
    pub split_wins_p50: bool,
}

impl SplitRatio {
    fn of(single: &SideReport, split: &SideReport) -> SplitRatio {
        let r = |a: u64, b: u64| a as f64 / (b.max(1)) as f64;
        let p50 = r(split.tick_to_trade_ns.p50, single.tick_to_trade_ns.p50);
        SplitRatio {
            p50,
            p99: r(split.tick_to_trade_ns.p99, single.tick_to_trade_ns.p99),
            market_data_p50: r(split.market_data_ns.p50, single.market_data_ns.p50),
            round_trip_p50: r(split.round_trip_ns.p50, single.round_trip_ns.p50),
            round_trip_p99: r(split.round_trip_ns.p99, single.round_trip_ns.p99),
            split_wins_p50: p50 < 1.0,
        }
    }
}

/// The appliance configuration of a benchmark side.
pub fn bench_config(backend: NicBackend, journal: &Path) -> Config {
    let mut c = Config::default();
    c.nic.backend = backend;
    c.nic.interface = crate::nic::veth::APP_IF.into();
    c.net.ip = "198.18.0.2/24".into();
    c.net.mac = "02:00:c6:12:00:02".into();
    c.feed.groups = vec![GROUP.to_string()];
    c.feed.request_server = None;
    c.order.venue = SocketAddrV4::new(VENUE_IP, ORDER_PORT).to_string();
    c.book.symbols = script::SYMBOLS + 3;
    c.book.only = (0..script::SYMBOLS)
        .map(|i| script::symbol(i).as_str().to_string())
        .collect();
    c.book.orders_per_book = 4096;
    c.book.levels_per_side = 256;
    c.pools.parents = 64;
    c.pools.children = 256;
    c.pools.client_order_ids = 256;
    c.risk.max_child_qty = 1_000_000;
    c.risk.max_parent_notional = u64::MAX / 20_000;
    c.risk.position_limit = u64::MAX / 4;
    c.risk.child_orders_per_sec = u32::MAX;
    c.risk.child_orders_burst = u32::MAX;
    c.journal.dir = journal.to_path_buf();
    c.control.listen = "127.0.0.1:0".into();
    c.control.keys = vec![ApiKey {
        id: API_KEY.into(),
        secret: Some(API_SECRET.into()),
        secret_file: None,
        read_only: false,
        rate_per_sec: 1_000_000,
        burst: 1_000_000,
    }];
    c
}

/// A fresh journal directory (removed on drop).
struct TempDir(PathBuf);

impl TempDir {
    fn new(base: Option<&Path>, tag: &str) -> std::io::Result<TempDir> {
        use std::sync::atomic::AtomicU32;
        static N: AtomicU32 = AtomicU32::new(0);
        let root = match base {
            Some(b) => b.to_path_buf(),
            None if Path::new("/dev/shm").is_dir() => PathBuf::from("/dev/shm"),
            None => std::env::temp_dir(),
        };
        let p = root.join(format!(
            "floe-bench-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A thread, possibly inside a network namespace.
enum Worker<T> {
    Plain(JoinHandle<T>),
    Netns(crate::nic::veth::NetnsThread<T>),
}

impl<T: Send + 'static> Worker<T> {
    fn spawn(
        name: &str,
        ns: Option<&str>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Worker<T>, String> {
        match ns {
            None => std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map(Worker::Plain)
                .map_err(|e| format!("spawn {name}: {e}")),
            Some(ns) => crate::nic::veth::in_netns(ns, f).map(Worker::Netns),
        }
    }

    fn join(self) -> Result<T, String> {
        match self {
            Worker::Plain(h) => h
                .join()
                .map_err(|_| "a benchmark thread panicked".to_string()),
            Worker::Netns(t) => t.join(),
        }
    }
}

fn pin(core: Option<usize>) {
    if let Some(c) = core {
        if !crate::engine::idle::pin_to_core(c) {
            tracing::warn!(core = c, "could not pin a benchmark thread");
        }
    }
}

/// Builds the venue's transport on the driver thread.
pub type MakeLink = Box<dyn FnOnce() -> Result<Box<dyn link::VenueLink>, String> + Send>;
/// Builds the measured path on the hot thread.
pub type MakeHot = Box<
    dyn FnOnce(
            &Config,
            gateway::EngineEndpoint,
            Arc<HotCounters>,
        ) -> Result<Box<dyn HotPath>, String>
        + Send,
>;

impl HotPath for Box<dyn HotPath> {
    fn cycle(&mut self) -> usize {
        (**self).cycle()
    }
    fn tick_to_trade(&self) -> &Histogram<u64> {
        (**self).tick_to_trade()
    }
    fn reset_tick_to_trade(&mut self) {
        (**self).reset_tick_to_trade()
    }
    fn housekeeping(&mut self) {
        (**self).housekeeping()
    }
    fn finish(&mut self) {
        (**self).finish()
    }
    fn counters(&self) -> RuntimeStats {
        (**self).counters()
    }
}

/// What one side's run produced.
struct SideRun {
    hot: HotReport,
    driver: DriverReport,
    load: Option<control_load::LoadStats>,
}

struct SideSpec {
    cfg: Config,
    make_link: MakeLink,
    make_hot: MakeHot,
    driver_ns: Option<String>,
    hot_ns: Option<String>,
    control_load_per_sec: u64,
}

/// The parents: a zero-delay iceberg on the fill symbol and a pegged one on
/// each pegged symbol, all buying at the limit.
/// Waits (bounded) until `/healthz` says the engine is ready: the venue
/// sees the login before the engine's readiness reaches the control plane.
fn wait_engine_ready(client: &control_load::Client, limit: Duration) -> Result<(), String> {
    let until = std::time::Instant::now() + limit;
    loop {
        let (status, text) = client.call("GET", "/healthz", "")?;
        if status == 200 {
            return Ok(());
        }
        if std::time::Instant::now() > until {
            return Err(format!(
                "the engine was not ready within {limit:?}: {status} {text}"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn create_parents(client: &control_load::Client) -> Result<Vec<u64>, String> {
    wait_engine_ready(client, Duration::from_secs(10))?;
    let limit = "100.05";
    let mut ids = Vec::new();
    for i in 0..script::SYMBOLS {
        let peg = i > 0;
        let total = if peg { "1000000" } else { "4000000000" };
        let body = serde_json::json!({
            "client_order_id": format!("bench-{i}"),
            "symbol": script::symbol(i).as_str(),
            "side": "BUY",
            "total_quantity": total,
            "strategy_type": "ICEBERG",
            "strategy_params": {
                "display_quantity": "100",
                "price_limit": limit,
                "variance_percent": "0",
                "min_delay_ms": 0,
                "max_delay_ms": 0,
                "peg": peg,
            }
        })
        .to_string();
        let (status, text) = client.call("POST", "/v1/algo-orders", &body)?;
        if status != 201 {
            return Err(format!(
                "POST /v1/algo-orders {}: {status} {text}",
                script::symbol(i).as_str()
            ));
        }
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        ids.push(v["parent_order_id"].as_u64().unwrap_or(0));
    }
    Ok(ids)
}

fn run_side(opts: &BenchOptions, spec: SideSpec) -> Result<SideRun, String> {
    let SideSpec {
        cfg,
        make_link,
        make_hot,
        driver_ns,
        hot_ns,
        control_load_per_sec,
    } = spec;
    let phase = Arc::new(Phase::new());
    let counters = Arc::new(HotCounters::new());
    let (gw, endpoint) = gateway::channel(&cfg);
    // The control plane's threads inherit the affinity of the thread that
    // starts them: started from a thread on the driver's core, they share
    // that core and leave the hot thread's core to it alone.
    let control = {
        let (cfg, counters, core) = (cfg.clone(), counters.clone(), opts.driver_core);
        std::thread::spawn(move || {
            pin(core);
            control::spawn(&cfg, gw, counters)
        })
        .join()
        .map_err(|_| "the control plane's start panicked".to_string())?
        .map_err(|e| format!("control plane: {e}"))?
    };
    let client = control_load::Client::new(control.local_addr(), API_KEY, API_SECRET);
    let load_on = Arc::new(AtomicBool::new(false));
    let plan = Plan {
        events: opts.events,
        warmup: opts.warmup,
        block: opts.block.max(1),
        rate_per_sec: opts.rate_per_sec,
        load_pairs: if control_load_per_sec > 0 {
            (opts.events / opts.block.max(1) / 20).max(1)
        } else {
            0
        },
        child_timeout: opts.child_timeout,
        idle: opts.idle,
    };

    let (ptx, prx) = mpsc::channel::<Progress>();
    let driver = {
        let phase = phase.clone();
        let load_on = load_on.clone();
        let core = opts.driver_core;
        let loaded = control_load_per_sec > 0;
        Worker::spawn("floe-bench-venue", driver_ns.as_deref(), move || {
            pin(core);
            let r = make_link().and_then(|mut l| {
                driver::drive(&mut *l, &phase, &plan, &ptx, loaded.then_some(&*load_on))
            });
            if r.is_err() {
                phase.stop();
            }
            r
        })?
    };
    let wait = |what: Progress, limit: Duration| -> Result<(), String> {
        match prx.recv_timeout(limit) {
            Ok(p) if p == what => Ok(()),
            Ok(p) => Err(format!("venue: expected {what:?}, got {p:?}")),
            Err(_) => Err(format!("venue: no {what:?} within {limit:?}")),
        }
    };
    let hot = {
        let phase = phase.clone();
        let core = opts.hot_core;
        let mut cfg = cfg.clone();
        cfg.engine.spin_window_us = opts.spin_window_us;
        let idle = Idle::new(opts.idle, cfg.engine.spin_window());
        let listening = wait(Progress::Listening, Duration::from_secs(30));
        move || -> Result<Worker<Result<HotReport, String>>, String> {
            listening?;
            Worker::spawn("floe-bench-hot", hot_ns.as_deref(), move || {
                pin(core);
                let mut path = match make_hot(&cfg, endpoint, counters) {
                    Ok(p) => p,
                    Err(e) => {
                        phase.stop();
                        return Err(e);
                    }
                };
                // Building the path may have moved the thread (DPDK's EAL
                // pins its caller): pin again.
                pin(core);
                Ok(hot::run(&mut path, &phase, idle))
            })
        }
    }();
    type Started = (
        Vec<u64>,
        Option<(Worker<control_load::LoadStats>, Arc<AtomicBool>)>,
    );
    let outcome = (|| -> Result<Started, String> {
        let _ = hot.as_ref().map_err(|e| e.clone())?;
        wait(Progress::VenueReady, Duration::from_secs(40))?;
        let ids = create_parents(&client)?;
        wait(Progress::Measuring, Duration::from_secs(40))?;
        let load = if control_load_per_sec > 0 {
            let stop = Arc::new(AtomicBool::new(false));
            let (on, st, ids2) = (load_on.clone(), stop.clone(), ids.clone());
            let c = control_load::Client::new(control.local_addr(), API_KEY, API_SECRET);
            let core = opts.driver_core;
            let w = Worker::spawn("floe-bench-load", None, move || {
                pin(core);
                control_load::load(&c, control_load_per_sec, &ids2, &on, &st)
            })?;
            Some((w, stop))
        } else {
            None
        };
        Ok((ids, load))
    })();
    if outcome.is_err() {
        phase.stop();
    } else {
        // Until the last child (or the driver's failure: the channel closes).
        while let Ok(p) = prx.recv() {
            if p == Progress::Done {
                break;
            }
        }
    }
    phase.stop();
    let hot_result = match hot {
        Ok(w) => w.join().and_then(|r| r),
        Err(e) => Err(e),
    };
    let driver_result = driver.join().and_then(|r| r);
    let (_, load) = outcome?;
    let load = match load {
        Some((w, stop)) => {
            stop.store(true, Ordering::Release);
            Some(w.join()?)
        }
        None => None,
    };
    let _ = control.shutdown();
    let driver = driver_result?;
    let hot = hot_result?;
    Ok(SideRun { hot, driver, load })
}

fn merged(hs: &[&Histogram<u64>]) -> Histogram<u64> {
    let mut out = Histogram::new_from(hs[0]);
    for h in hs {
        let _ = out.add(*h);
    }
    out
}

fn side_report(label: &str, opts: &BenchOptions, run: &SideRun) -> SideReport {
    let s = &run.hot.slots;
    let r = &run.driver.round_trip;
    let fill = s[FILL as usize].clone();
    let md = s[MARKET_DATA as usize].clone();
    let all = merged(&[&fill, &md]);
    let rtt = merged(&[&r[FILL as usize], &r[MARKET_DATA as usize]]);
    let corrected = (opts.rate_per_sec > 0).then(|| {
        let interval = 1_000_000_000 / opts.rate_per_sec;
        Stats::of(&all.clone_correct(interval))
    });
    let measured: u64 = run.driver.events[1..].iter().sum();
    SideReport {
        label: label.to_string(),
        tick_to_trade_ns: Stats::of(&all),
        fill_ns: Stats::of(&fill),
        market_data_ns: Stats::of(&md),
        tick_to_trade_corrected_ns: corrected,
        round_trip_ns: Stats::of(&rtt),
        behind_schedule: run.driver.behind_schedule,
        triggers_per_sec: measured as f64 / run.driver.elapsed.as_secs_f64().max(1e-9),
        counters: run.hot.counters.into(),
        hist: all,
        hist_fill: fill,
        hist_md: md,
        hist_round_trip: rtt,
    }
}

fn control_report(target: u64, run: &SideRun, off: &Histogram<u64>) -> Option<ControlLoadReport> {
    let load = run.load.clone()?;
    let s = &run.hot.slots;
    let on = merged(&[&s[FILL_LOADED as usize], &s[MARKET_DATA_LOADED as usize]]);
    let (off_s, on_s) = (Stats::of(off), Stats::of(&on));
    let ratio = on_s.p99 as f64 / (off_s.p99.max(1)) as f64;
    Some(ControlLoadReport {
        target_per_sec: target,
        load,
        off_ns: off_s,
        on_ns: on_s,
        p99_ratio: ratio,
        within_10_percent: ratio <= 1.10,
        hist_on: on,
    })
}

/// The NIC of floe's hot thread and, in split mode, the feed thread's own
/// handle.
type Nics = (Box<dyn Nic>, Option<Box<dyn Nic>>);

/// floe's hot path on `nic` (split mode when it gives a feed handle).
fn floe_hot(nic: impl FnOnce() -> Result<Nics, String> + Send + 'static) -> MakeHot {
    Box::new(move |cfg, endpoint, counters| {
        let (nic, feed) = nic()?;
        let clock = WallClock::calibrate(Duration::from_millis(20));
        let split = feed.map(|nic| SplitFeed {
            nic,
            clock: Box::new(clock),
        });
        let rt = Runtime::with_feed(cfg, nic, Box::new(clock), Some(endpoint), counters, split)
            .map_err(|e| e.to_string())?;
        Ok(Box::new(rt) as Box<dyn HotPath>)
    })
}

/// `cfg` in split mode, the feed thread on `opts.feed_core` (else the
/// driver's core).
fn split_config(mut cfg: Config, opts: &BenchOptions) -> Config {
    cfg.engine.feed_core = Some(opts.feed_core.or(opts.driver_core).unwrap_or(0));
    if cfg.engine.feed_core == opts.hot_core {
        // Unpinned runs: any core but the hot thread's.
        cfg.engine.feed_core = Some(opts.hot_core.map_or(0, |c| usize::from(c == 0)));
    }
    cfg
}

/// One floe side on a memory pair (a fan-out pair in split mode).
fn memory_side(opts: &BenchOptions, split: bool) -> Result<SideRun, String> {
    let journal = TempDir::new(opts.journal_dir.as_deref(), "floe").map_err(|e| e.to_string())?;
    let mut cfg = bench_config(NicBackend::Memory, &journal.0);
    if split {
        cfg = split_config(cfg, opts);
    }
    let (a, b, feed) = if split {
        use crate::nic::memory::{fanout_with_macs, MAC_A, MAC_B};
        let (a, b, f) = fanout_with_macs(1024, MAC_A, MAC_B);
        (a, b, Some(f))
    } else {
        let (a, b) = crate::nic::memory::pair(1024);
        (a, b, None)
    };
    let make_link: MakeLink = Box::new(move || {
        Ok(Box::new(link::SmolLink::new(
            b,
            VENUE_IP,
            VENUE_MAC,
            ORDER_PORT,
            SocketAddrV4::new(VENUE_IP, FEED_PORT),
            GROUP,
        )) as Box<dyn link::VenueLink>)
    });
    let make_hot = floe_hot(move || {
        Ok((
            Box::new(a) as Box<dyn Nic>,
            feed.map(|f| Box::new(f) as Box<dyn Nic>),
        ))
    });
    let run = run_side(
        opts,
        SideSpec {
            cfg,
            make_link,
            make_hot,
            driver_ns: None,
            hot_ns: None,
            control_load_per_sec: if split { 0 } else { opts.control_load_per_sec },
        },
    );
    drop(journal);
    run
}

/// Runs the benchmark `opts` describes.
pub fn run(opts: &BenchOptions) -> Result<BenchReport, String> {
    let threads = format!(
        "hot thread core {}, driver core {}, idle {:?}",
        opts.hot_core.map_or("-".into(), |c| c.to_string()),
        opts.driver_core.map_or("-".into(), |c| c.to_string()),
        opts.idle
    );
    if opts.split && opts.nic == NicKind::Dpdk {
        return Err(
            "--split needs --nic memory or af_packet (split mode needs two rx handles; \
                    the dpdk backend has one rx queue)"
                .into(),
        );
    }
    match opts.nic {
        NicKind::Memory => run_memory(opts, threads),
        NicKind::AfPacket | NicKind::Dpdk => run_veth(opts, threads),
    }
}

fn run_memory(opts: &BenchOptions, threads: String) -> Result<BenchReport, String> {
    let run = memory_side(opts, false)?;
    let floe = side_report("floe (memory NIC)", opts, &run);
    let control_load = control_report(opts.control_load_per_sec, &run, &floe.hist);
    let split = if opts.split {
        let run = memory_side(opts, true)?;
        Some(side_report(
            "floe split mode (memory NIC, feed thread + SPSC ring)",
            opts,
            &run,
        ))
    } else {
        None
    };
    let split_ratio = split.as_ref().map(|s| SplitRatio::of(&floe, s));
    Ok(BenchReport {
        nic: opts.nic,
        events: opts.events,
        warmup: opts.warmup,
        block: opts.block,
        rate_per_sec: opts.rate_per_sec,
        threads,
        host: Host::detect(),
        floe,
        peer: None,
        ratio: None,
        control_load,
        split,
        split_ratio,
    })
}

fn run_veth(opts: &BenchOptions, threads: String) -> Result<BenchReport, String> {
    use crate::nic::veth::{self, HostOptions, TestHosts};
    if !veth::is_root() {
        return Err(
            "--nic af_packet / dpdk need root (network namespaces, a veth pair, raw sockets)"
                .into(),
        );
    }
    #[cfg(not(feature = "dpdk"))]
    if opts.nic == NicKind::Dpdk {
        return Err("--nic dpdk needs floe built with `--features dpdk`".into());
    }
    let hosts = TestHosts::unique("fb", HostOptions::default())?;
    let venue_link = || -> MakeLink {
        Box::new(|| {
            link::KernelLink::bind(
                SocketAddrV4::new(VENUE_IP, ORDER_PORT),
                SocketAddrV4::new(VENUE_IP, FEED_PORT),
                GROUP,
            )
            .map(|l| Box::new(l) as Box<dyn link::VenueLink>)
            .map_err(|e| format!("venue sockets: {e}"))
        })
    };

    let journal = TempDir::new(opts.journal_dir.as_deref(), "floe").map_err(|e| e.to_string())?;
    let backend = match opts.nic {
        NicKind::Dpdk => NicBackend::Dpdk,
        _ => NicBackend::AfPacket,
    };
    let cfg = bench_config(backend, &journal.0);
    let nic_kind = opts.nic;
    let app_ns = hosts.app_ns();
    let make_hot = floe_hot(move || Ok((open_veth_nic(nic_kind, &app_ns)?, None)));
    let run = run_side(
        opts,
        SideSpec {
            cfg,
            make_link: venue_link(),
            make_hot,
            driver_ns: Some(hosts.venue_ns()),
            hot_ns: Some(hosts.app_ns()),
            control_load_per_sec: opts.control_load_per_sec,
        },
    )?;
    let label = match opts.nic {
        NicKind::Dpdk => "floe (DPDK net_af_packet, veth)",
        _ => "floe (AF_PACKET, veth)",
    };
    let floe = side_report(label, opts, &run);
    let control_load = control_report(opts.control_load_per_sec, &run, &floe.hist);
    drop(journal);

    let split = if opts.split && opts.nic == NicKind::AfPacket {
        let journal =
            TempDir::new(opts.journal_dir.as_deref(), "split").map_err(|e| e.to_string())?;
        let cfg = split_config(bench_config(NicBackend::AfPacket, &journal.0), opts);
        let app_ns = hosts.app_ns();
        let make_hot = floe_hot(move || {
            let nic = open_veth_nic(NicKind::AfPacket, &app_ns)?;
            let feed = open_veth_nic(NicKind::AfPacket, &app_ns)?;
            Ok((nic, Some(feed)))
        });
        let run = run_side(
            opts,
            SideSpec {
                cfg,
                make_link: venue_link(),
                make_hot,
                driver_ns: Some(hosts.venue_ns()),
                hot_ns: Some(hosts.app_ns()),
                control_load_per_sec: 0,
            },
        )?;
        Some(side_report(
            "floe split mode (AF_PACKET, veth, feed thread + SPSC ring)",
            opts,
            &run,
        ))
    } else {
        None
    };
    let split_ratio = split.as_ref().map(|s| SplitRatio::of(&floe, s));

    let peer = if opts.peer {
        let journal =
            TempDir::new(opts.journal_dir.as_deref(), "peer").map_err(|e| e.to_string())?;
        let cfg = bench_config(NicBackend::AfPacket, &journal.0);
        let make_hot: MakeHot = Box::new(|cfg, endpoint, counters| {
            peer::KernelPeer::connect(cfg, Some(endpoint), counters)
                .map(|p| Box::new(p) as Box<dyn HotPath>)
                .map_err(|e| format!("kernel peer: {e}"))
        });
        let run = run_side(
            opts,
            SideSpec {
                cfg,
                make_link: venue_link(),
                make_hot,
                driver_ns: Some(hosts.venue_ns()),
                hot_ns: Some(hosts.app_ns()),
                control_load_per_sec: 0,
            },
        )?;
        Some(side_report(
            "peer (kernel UDP + TCP sockets, veth)",
            opts,
            &run,
        ))
    } else {
        None
    };
    let ratio = peer.as_ref().map(|p| {
        let f = &floe;
        let r = |a: u64, b: u64| a as f64 / (b.max(1)) as f64;
        let p50 = r(f.tick_to_trade_ns.p50, p.tick_to_trade_ns.p50);
        let p99 = r(f.tick_to_trade_ns.p99, p.tick_to_trade_ns.p99);
        Ratios {
            p50,
            p99,
            round_trip_p50: r(f.round_trip_ns.p50, p.round_trip_ns.p50),
            round_trip_p99: r(f.round_trip_ns.p99, p.round_trip_ns.p99),
            goal: 0.3,
            met: p50 <= 0.3 && p99 <= 0.3,
        }
    });
    Ok(BenchReport {
        nic: opts.nic,
        events: opts.events,
        warmup: opts.warmup,
        block: opts.block,
        rate_per_sec: opts.rate_per_sec,
        threads,
        host: Host::detect(),
        floe,
        peer,
        ratio,
        control_load,
        split,
        split_ratio,
    })
}

/// floe's NIC on the appliance end of the veth pair (called on the hot
/// thread, inside the appliance namespace). AF_PACKET stamps frames when
/// the duty cycle takes them (`RxTimestamp::Poll`), as the peer does.
fn open_veth_nic(kind: NicKind, app_ns: &str) -> Result<Box<dyn Nic>, String> {
    let _ = app_ns;
    match kind {
        NicKind::Dpdk => open_dpdk(),
        _ => {
            use crate::nic::af_packet::{AfPacketConfig, AfPacketNic, RxTimestamp};
            let mut c = AfPacketConfig::new(crate::nic::veth::APP_IF);
            c.multicast = vec![crate::nic::group_mac(*GROUP.ip())];
            c.timestamp = RxTimestamp::Poll;
            AfPacketNic::open(&c)
                .map(|n| Box::new(n) as Box<dyn Nic>)
                .map_err(|e| format!("af_packet: {e}"))
        }
    }
}

#[cfg(feature = "dpdk")]
fn open_dpdk() -> Result<Box<dyn Nic>, String> {
    use crate::nic::dpdk::{parse_eal_args, with_file_prefix, DpdkNic, DpdkPortConfig, Eal};
    // The EAL arguments of dpdk-config/af_packet-vdev.conf, built in: the
    // binary runs from anywhere, not only from its source tree.
    const CONF: &str = include_str!("../../dpdk-config/af_packet-vdev.conf");
    let eal = match Eal::get() {
        Some(e) => e,
        None => {
            Eal::init(with_file_prefix(parse_eal_args(CONF))).map_err(|e| format!("EAL: {e}"))?
        }
    };
    let id = eal
        .port_by_name("net_af_packet0")
        .ok_or("the net_af_packet0 vdev is missing")?;
    let mut pc = DpdkPortConfig::new(id);
    pc.mbufs = 2047;
    pc.rx_desc = 512;
    pc.tx_desc = 512;
    DpdkNic::open(eal, &pc)
        .map(|n| Box::new(n) as Box<dyn Nic>)
        .map_err(|e| format!("dpdk: {e}"))
}

#[cfg(not(feature = "dpdk"))]
fn open_dpdk() -> Result<Box<dyn Nic>, String> {
    Err("--nic dpdk needs floe built with `--features dpdk`".into())
}
