//! [`InProcess`]: the simulated venue and the appliance in one process.
//!
//! What `floe demo`, `floe bench` and the end-to-end tests run:
//!
//! ```text
//!  floe-venue thread                memory pair                floe-hot thread
//!  VenueHost (smoltcp host,  ◄──── MemoryNic ⇄ MemoryNic ────►  Runtime (NetStack, feed,
//!  matching, ITCH, OUCH,                                         SoupBinTCP, engine, journal)
//!  synthetic flow, audit)                      [PcapNic]              ▲ bounded queues
//!                                                                     │
//!  caller ── InProcess::submit ── Gateway ───────────────────────────┘
//!                                   └─ control::spawn: axum on 127.0.0.1:<ephemeral>
//! ```
//!
//! - the venue is [`VenueHost::spawn_with`] on one end of a
//!   [`memory::pair_with_macs`]; its synthetic flow is seeded with
//!   [`Builder::seed`];
//! - the appliance is a [`Runtime`] built on a thread of its own
//!   (`floe-hot`), idling with `spin_yield` by default so that on a 2-core
//!   host it never starves the venue thread, optionally recording the whole
//!   wire through [`PcapNic`];
//! - the control plane is the real one ([`control::spawn`] over
//!   [`gateway::channel`]): the REST API listens on 127.0.0.1 with an
//!   ephemeral port ([`InProcess::control_addr`]), and
//!   [`InProcess::submit`] goes through the same [`Gateway`] with the same
//!   validation ([`CreateOrder::to_params`]) as `POST /v1/algo-orders`.
//!
//! With [`Network::Veth`] (root) the same pieces run over real kernel
//! networking instead: two network namespaces joined by veth are made for
//! the run ([`TestHosts`], `scripts/netns`) and removed after it (also when
//! start-up fails); the venue is `floe exchange`'s [`VenueServer`] on kernel
//! sockets, on a thread inside the venue namespace; the hot thread enters
//! the appliance namespace and drives `vfloe` with AF_PACKET, or with DPDK
//! over the `net_af_packet` vdev (cargo feature `dpdk`).
//!
//! The appliance's addresses are lined up with the venue's: `order.venue`
//! is the venue's order port of the configured dialect, `feed.groups` and
//! `feed.request_server` are where the venue publishes and answers, and
//! `book.only` lists the venue's symbols when the configuration leaves it
//! empty. Every wait here is bounded and names what it waited for.
//!
//! ```no_run
//! use floe::app::{iceberg, InProcess};
//! use floe::algo::StatusCode;
//! use floe::types::Side;
//! use std::time::Duration;
//!
//! let app = InProcess::builder().seed(7).start()?;
//! let order = iceberg("demo-1", "AAPL", Side::Buy, 1_000, 200, "190.00");
//! let parent = app.submit(&order)?.parent;
//! let done = app.wait_status(parent, StatusCode::Filled, Duration::from_secs(30))?;
//! let report = app.stop()?;
//! println!("{} filled, p99 {} ns", done.filled, report.tick_to_trade.value_at_quantile(0.99));
//! # Ok::<(), floe::app::AppError>(())
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{bounded, Receiver, Sender};
use hdrhistogram::Histogram;

use crate::algo::StatusCode;
use crate::config::{parse_mac, Config, ConfigError, Dialect, IdleStrategy, NicBackend};
use crate::control::gateway::{self, is_terminal, Gateway, GatewayError, ParentId};
use crate::control::metrics::HotCounters;
use crate::control::model::{
    parse_json, refusal_error, CreateOrder, DecimalText, FractionText, StrategyParams, StrategyType,
};
use crate::control::{self, ControlError, ControlHandle};
use crate::engine::idle::{pin_to_core, Idle};
use crate::engine::runtime::{Runtime, RuntimeStats, SplitFeed};
use crate::engine::{CommandKind, ParentStatus, Reply};
use crate::exchange::server::{
    ServerAddresses, ServerError, ServerStats, ShutdownHandle, VenueServer, VenueStats,
};
use crate::exchange::sim_host::{
    self, HostOptions, HostStats, IdleOptions, VenueHost, VenueThread, DEFAULT_MAC,
};
use crate::exchange::VenueConfig;
use crate::feed::moldudp64::MoldCounters;
use crate::nic::fault::{FaultConfig, FaultNic};
use crate::nic::memory::{self, MemoryNic};
use crate::nic::pcap::{PcapConfig, PcapNic};
use crate::nic::veth::{self, NetnsThread, TestHosts};
use crate::nic::{Nic, NicStats};
use crate::time::{Clock, Nanos, WallClock};
use crate::types::{Side, Symbol};

/// Frames each direction of the memory pair holds.
pub const PAIR_FRAMES: usize = 4096;
/// How long [`Builder::start`] waits, by default, for the appliance to be up
/// (engine ready, logged in to the venue, market data flowing).
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long [`InProcess::stop`] lets the venue end its day while the
/// appliance still runs.
const VENUE_STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the hot thread takes to answer a request (histogram snapshot).
const HOT_REPLY_TIMEOUT: Duration = Duration::from_secs(5);
/// Duty cycles between the hot thread's housekeeping (stop flag, snapshot
/// policy, published counters, requests).
const HOUSEKEEPING_EVERY: u32 = 256;
/// Grace for the appliance's logout at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);
/// Pause between two looks at the read model while waiting for a status.
const WAIT_POLL: Duration = Duration::from_millis(1);

/// Where the venue and the appliance meet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Network {
    /// An in-process memory pair; the venue is a user-space smoltcp host on
    /// its other end. Needs no privileges.
    #[default]
    Memory,
    /// Two network namespaces joined by veth, made for the run and removed
    /// after it; the venue on kernel sockets in one, the appliance driving
    /// `vfloe` in the other with `backend` (`af_packet`, or `dpdk` over the
    /// `net_af_packet` vdev when built with the `dpdk` feature). Needs root.
    Veth {
        /// The appliance's NIC backend.
        backend: NicBackend,
    },
}

/// Why the harness could not start, answer or stop.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A configuration does not fit (named key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The venue could not start.
    #[error("venue: {0}")]
    Venue(#[from] ServerError),
    /// The control plane could not start.
    #[error("control plane: {0}")]
    Control(#[from] ControlError),
    /// The appliance could not start (NIC, journal, runtime).
    #[error("appliance: {0}")]
    Appliance(String),
    /// Something did not happen in time; `detail` says what was seen.
    #[error("timed out after {waited:?} waiting for {what} ({detail})")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
        /// The state at the deadline.
        detail: String,
    },
    /// The request was refused the way the REST API refuses it: the HTTP
    /// status it would answer, its stable code and message.
    #[error("refused ({status} {code}): {message}")]
    Refused {
        /// HTTP status `POST /v1/algo-orders` answers.
        status: u16,
        /// Stable error code (`invalid_field`, `risk_refused`, …).
        code: &'static str,
        /// Why.
        message: String,
    },
    /// The engine did not answer (busy, not ready, stopped, timeout).
    #[error("engine: {0}")]
    Gateway(#[from] GatewayError),
    /// A parent ended in another terminal status than the one awaited.
    #[error("parent {parent} ended {}: {detail}", .status.name())]
    Ended {
        /// Parent id.
        parent: ParentId,
        /// Its terminal status.
        status: StatusCode,
        /// Its last reason, filled and total.
        detail: String,
    },
    /// A thread of the harness died.
    #[error("{0}")]
    Thread(String),
    /// The network (namespaces, veth) could not be made, or this process
    /// lacks what it needs (root, a cargo feature).
    #[error("network: {0}")]
    Network(String),
}

impl AppError {
    fn refused(e: crate::control::model::ApiError) -> AppError {
        AppError::Refused {
            status: e.status.as_u16(),
            code: e.code,
            message: e.message,
        }
    }
}

/// The appliance configuration [`InProcess`] starts from: the defaults with
/// the whole feed session wanted (`feed.start_sequence = 1`, so the stock
/// directory sent before login is re-requested), `spin_yield` idling, the
/// control plane on `127.0.0.1:0`, 8 MiB journal segments (in a temporary
/// directory unless [`Builder::journal_dir`] names one), and books sized
/// for a few symbols.
pub fn appliance_config() -> Config {
    let mut cfg = Config::default();
    cfg.feed.start_sequence = 1;
    cfg.engine.idle = IdleStrategy::SpinYield;
    cfg.control.listen = "127.0.0.1:0".into();
    cfg.journal.segment_mib = 8;
    cfg.book.symbols = 8;
    cfg.book.orders_per_book = 16_384;
    cfg.book.levels_per_side = 1_024;
    cfg
}

/// The venue configuration [`InProcess`] starts from:
/// [`sim_host::default_config`] (AAPL, MSFT, NVDA; OUCH 5.0 on port 15000,
/// OUCH 4.2 on 15001; the synthetic flow on).
pub fn venue_config() -> VenueConfig {
    sim_host::default_config()
}

/// A `POST /v1/algo-orders` body for an iceberg resting at `price_limit`
/// (decimal text): display ± 25 %, refresh delays 0–5 ms, day order, not
/// pegged. Change the fields for anything else.
pub fn iceberg(
    client_order_id: &str,
    symbol: &str,
    side: Side,
    total: u32,
    display: u32,
    price_limit: &str,
) -> CreateOrder {
    CreateOrder {
        client_order_id: client_order_id.into(),
        symbol: symbol.into(),
        side: side.into(),
        total_quantity: DecimalText(total.to_string()),
        strategy_type: StrategyType::Iceberg,
        strategy_params: StrategyParams {
            display_quantity: DecimalText(display.to_string()),
            price_limit: DecimalText(price_limit.into()),
            variance_percent: FractionText("0.25".into()),
            min_delay_ms: 0,
            max_delay_ms: 5,
            peg: false,
            time_in_force: None,
        },
    }
}

/// Options of an [`InProcess`]; [`InProcess::builder`].
#[derive(Clone, Debug)]
pub struct Builder {
    seed: u64,
    venue: VenueConfig,
    appliance: Config,
    journal_dir: Option<PathBuf>,
    dialect: Option<Dialect>,
    pcap: Option<PathBuf>,
    audit: Option<PathBuf>,
    start_timeout: Duration,
    wait_for_login: bool,
    venue_idle: IdleOptions,
    network: Network,
    market_faults: Option<FaultConfig>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            seed: 1,
            venue: venue_config(),
            appliance: appliance_config(),
            journal_dir: None,
            dialect: None,
            pcap: None,
            audit: None,
            start_timeout: DEFAULT_START_TIMEOUT,
            wait_for_login: true,
            venue_idle: IdleOptions::default(),
            network: Network::Memory,
            market_faults: None,
        }
    }
}

impl Builder {
    /// Seed of the venue's synthetic flow (`flow.seed`), of its TCP initial
    /// sequence numbers, and of the parents' PRNGs (the n-th parent
    /// submitted gets a seed derived from this and n). Default 1.
    pub fn seed(mut self, seed: u64) -> Builder {
        self.seed = seed;
        self
    }

    /// The venue's configuration (default [`venue_config`]). Its flow seed
    /// is replaced by [`Self::seed`]. Its addresses must sit on one subnet
    /// with the appliance's `net.ip` (198.18.0.0/24 by default).
    pub fn venue_config(mut self, cfg: VenueConfig) -> Builder {
        self.venue = cfg;
        self
    }

    /// Changes the venue's configuration in place.
    pub fn configure_venue(mut self, f: impl FnOnce(&mut VenueConfig)) -> Builder {
        f(&mut self.venue);
        self
    }

    /// The appliance's configuration (default [`appliance_config`]; start
    /// from it). `nic.backend`, `nic.interface` and `nic.pcap` are ignored
    /// (the harness owns the NIC: see [`Self::network`], [`Self::pcap`]);
    /// `order.venue`, `feed.groups` and `feed.request_server` are replaced
    /// by the venue's addresses.
    pub fn appliance_config(mut self, cfg: Config) -> Builder {
        self.appliance = cfg;
        self
    }

    /// Changes the appliance's configuration in place.
    pub fn configure(mut self, f: impl FnOnce(&mut Config)) -> Builder {
        f(&mut self.appliance);
        self
    }

    /// Journal directory (kept after the run). Default: a fresh temporary
    /// directory, removed when the [`Report`] is dropped.
    pub fn journal_dir(mut self, dir: impl Into<PathBuf>) -> Builder {
        self.journal_dir = Some(dir.into());
        self
    }

    /// OUCH dialect of the appliance (default: `order.dialect`); the
    /// appliance connects to the venue's first order port of that dialect
    /// and logs in with its configured account if that port lists it, else
    /// with the port's first user.
    pub fn dialect(mut self, dialect: Dialect) -> Builder {
        self.dialect = Some(dialect);
        self
    }

    /// Record every frame in and out of the appliance's NIC — the whole
    /// wire of the memory pair — to this pcap file.
    pub fn pcap(mut self, path: impl Into<PathBuf>) -> Builder {
        self.pcap = Some(path.into());
        self
    }

    /// Append the venue's audit lines (one JSON line per order decision,
    /// as `floe exchange --audit`) to this file.
    pub fn audit(mut self, path: impl Into<PathBuf>) -> Builder {
        self.audit = Some(path.into());
        self
    }

    /// Whether [`Self::start`] waits for the SoupBinTCP login (default
    /// `true`). `false` for a restart on a journal of an earlier venue
    /// session, where floe refuses to trade on the new session by design.
    pub fn wait_for_login(mut self, wait: bool) -> Builder {
        self.wait_for_login = wait;
        self
    }

    /// How long [`Self::start`] waits for the appliance to be up (default
    /// [`DEFAULT_START_TIMEOUT`]).
    pub fn start_timeout(mut self, timeout: Duration) -> Builder {
        self.start_timeout = timeout;
        self
    }

    /// Where the venue and the appliance meet (default
    /// [`Network::Memory`]).
    pub fn network(mut self, network: Network) -> Builder {
        self.network = network;
        self
    }

    /// How the memory venue's thread idles (default
    /// [`IdleOptions::default`]).
    pub fn venue_idle(mut self, idle: IdleOptions) -> Builder {
        self.venue_idle = idle;
        self
    }

    /// Injects faults ([`FaultNic`]) on the NIC handle that reads market
    /// data: the feed thread's own handle in split mode
    /// (`engine.feed_core`), where only market data is affected; the
    /// runtime's single handle otherwise (every received frame). Default
    /// none.
    pub fn market_faults(mut self, faults: FaultConfig) -> Builder {
        self.market_faults = Some(faults);
        self
    }

    /// Starts the venue, the appliance and the control plane, and returns
    /// once the engine takes commands, the order session is logged in and
    /// market data flows — quotes when the venue's synthetic flow is on,
    /// else the start-of-day messages (bounded by [`Self::start_timeout`]).
    /// On error everything started so far is stopped (and a veth pair
    /// removed).
    pub fn start(self) -> Result<InProcess, AppError> {
        InProcess::start(self)
    }
}

/// Where the journal lives.
#[derive(Debug)]
enum JournalDir {
    Temp(tempfile::TempDir),
    Given(PathBuf),
}

impl JournalDir {
    fn path(&self) -> &Path {
        match self {
            JournalDir::Temp(t) => t.path(),
            JournalDir::Given(p) => p,
        }
    }
}

/// The hot thread's counters, published every few hundred duty cycles.
#[derive(Debug, Default)]
struct Live {
    logged_in: AtomicBool,
    cycles: AtomicU64,
    busy_cycles: AtomicU64,
    md_messages: AtomicU64,
    quotes: AtomicU64,
    reports: AtomicU64,
    report_decode_errors: AtomicU64,
    orders_sent: AtomicU64,
    send_failures: AtomicU64,
    journal_records: AtomicU64,
    commands: AtomicU64,
    logins: AtomicU64,
    disconnects: AtomicU64,
    snapshots: AtomicU64,
    rerequests_sent: AtomicU64,
    rerequest_failures: AtomicU64,
    feed_ring_waits: AtomicU64,
    replies_dropped: AtomicU64,
}

impl Live {
    fn publish(&self, rt: &Runtime) {
        let s = rt.stats();
        let r = Ordering::Relaxed;
        self.cycles.store(s.cycles, r);
        self.busy_cycles.store(s.busy_cycles, r);
        self.md_messages.store(s.md_messages, r);
        self.quotes.store(s.quotes, r);
        self.reports.store(s.reports, r);
        self.report_decode_errors.store(s.report_decode_errors, r);
        self.orders_sent.store(s.orders_sent, r);
        self.send_failures.store(s.send_failures, r);
        self.journal_records.store(s.journal_records, r);
        self.commands.store(s.commands, r);
        self.logins.store(s.logins, r);
        self.disconnects.store(s.disconnects, r);
        self.snapshots.store(s.snapshots, r);
        self.rerequests_sent.store(s.rerequests_sent, r);
        self.rerequest_failures.store(s.rerequest_failures, r);
        self.feed_ring_waits.store(s.feed_ring_waits, r);
        self.replies_dropped.store(s.replies_dropped, r);
        self.logged_in
            .store(rt.soup().is_logged_in(), Ordering::Release);
    }

    fn stats(&self) -> RuntimeStats {
        let r = Ordering::Relaxed;
        RuntimeStats {
            cycles: self.cycles.load(r),
            busy_cycles: self.busy_cycles.load(r),
            md_messages: self.md_messages.load(r),
            quotes: self.quotes.load(r),
            reports: self.reports.load(r),
            report_decode_errors: self.report_decode_errors.load(r),
            orders_sent: self.orders_sent.load(r),
            send_failures: self.send_failures.load(r),
            journal_records: self.journal_records.load(r),
            commands: self.commands.load(r),
            logins: self.logins.load(r),
            disconnects: self.disconnects.load(r),
            snapshots: self.snapshots.load(r),
            rerequests_sent: self.rerequests_sent.load(r),
            rerequest_failures: self.rerequest_failures.load(r),
            feed_ring_waits: self.feed_ring_waits.load(r),
            replies_dropped: self.replies_dropped.load(r),
        }
    }
}

/// Cold requests to the hot thread, looked at during housekeeping.
enum HotRequest {
    TickToTrade(Sender<Histogram<u64>>),
    ResetTickToTrade(Sender<()>),
}

/// What the hot thread hands back when it ends.
struct HotEnd {
    stats: RuntimeStats,
    halted: Option<String>,
    tick_to_trade: Histogram<u64>,
    feed: Vec<MoldCounters>,
    nic: NicStats,
}

/// The venue's counters when it ended: its own, the memory host's, the
/// kernel server's.
type VenueEnd = (VenueStats, Option<HostStats>, Option<ServerStats>);

/// The venue side of the harness.
enum VenueSide {
    Memory(VenueThread<MemoryNic>),
    Kernel {
        thread: NetnsThread<Result<ServerStats, ServerError>>,
        handle: ShutdownHandle,
        addresses: ServerAddresses,
    },
}

impl VenueSide {
    fn request_stop(&self) {
        match self {
            VenueSide::Memory(v) => v.request_stop(),
            VenueSide::Kernel { handle, .. } => handle.shutdown(),
        }
    }

    fn is_running(&self) -> bool {
        match self {
            VenueSide::Memory(v) => v.is_running(),
            VenueSide::Kernel { thread, .. } => !thread.is_finished(),
        }
    }

    fn addresses(&self) -> &ServerAddresses {
        match self {
            VenueSide::Memory(v) => v.addresses(),
            VenueSide::Kernel { addresses, .. } => addresses,
        }
    }

    /// Joins the venue thread (after [`Self::request_stop`]).
    fn join(self) -> Result<VenueEnd, AppError> {
        match self {
            VenueSide::Memory(v) => {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| v.join()));
                match r {
                    Ok((stats, _nic)) => Ok((stats.venue, Some(stats), None)),
                    Err(_) => Err(AppError::Thread("the venue thread panicked".into())),
                }
            }
            VenueSide::Kernel { thread, .. } => match thread.join() {
                Ok(Ok(stats)) => Ok((stats.venue, None, Some(stats))),
                Ok(Err(e)) => Err(AppError::Venue(e)),
                Err(e) => Err(AppError::Thread(e)),
            },
        }
    }
}

/// Starts `floe exchange`'s kernel-socket venue on a thread inside `ns`.
fn spawn_kernel_venue(
    ns: &str,
    cfg: &VenueConfig,
    audit: Option<PathBuf>,
    timeout: Duration,
) -> Result<VenueSide, AppError> {
    let (tx, rx) = std::sync::mpsc::channel::<Result<(ServerAddresses, ShutdownHandle), String>>();
    let cfg = cfg.clone();
    let thread = veth::in_netns(ns, move || {
        let server = match VenueServer::bind(&cfg, audit.as_deref()) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return Err(e);
            }
        };
        let _ = tx.send(Ok((server.addresses().clone(), server.shutdown_handle())));
        server.run()
    })
    .map_err(AppError::Network)?;
    match rx.recv_timeout(timeout) {
        Ok(Ok((addresses, handle))) => Ok(VenueSide::Kernel {
            thread,
            handle,
            addresses,
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(AppError::Appliance(format!("the kernel venue: {e}")))
        }
        Err(_) => Err(AppError::Timeout {
            what: "the kernel venue to bind its sockets".into(),
            waited: timeout,
            detail: format!("in namespace {ns}"),
        }),
    }
}

/// The hot thread's NIC and, in split mode, the feed thread's own handle.
type Nics = (Box<dyn Nic>, Option<Box<dyn Nic>>);

/// How the hot thread gets its NIC (and in split mode the feed thread its
/// own handle).
enum NicSource {
    /// The appliance's end of the memory pair, recorded to `pcap` if set;
    /// in split mode `feed` is the third end of a fan-out pair.
    Memory {
        end: MemoryNic,
        feed: Option<Box<MemoryNic>>,
        pcap: Option<PathBuf>,
    },
    /// Opened from `[nic]` (pcap included) after entering namespace `ns`;
    /// in split mode a second handle for the feed thread.
    Netns { ns: String },
}

#[cfg(feature = "dpdk")]
/// The EAL arguments for DPDK's `net_af_packet` vdev on `vfloe`.
const AF_PACKET_VDEV_CONF: &str = include_str!("../../dpdk-config/af_packet-vdev.conf");

/// The answer to [`InProcess::submit`] (what `POST /v1/algo-orders`
/// answers, in engine terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The engine's id of the parent.
    pub parent: ParentId,
    /// Its status at acceptance (`NEW`).
    pub status: StatusCode,
    /// Engine time (Unix ns) of acceptance.
    pub created_at: Nanos,
    /// True when this was an idempotent repeat of an earlier submit.
    pub replay: bool,
}

/// What [`InProcess::stop`] returns.
#[derive(Debug)]
pub struct Report {
    /// The runtime's counters at the end.
    pub runtime: RuntimeStats,
    /// Why the runtime stopped sending early, if it did (journal failure).
    pub halted: Option<String>,
    /// Tick-to-trade of the whole run (or since the last
    /// [`InProcess::reset_tick_to_trade`]), ns.
    pub tick_to_trade: Histogram<u64>,
    /// Every parent's last status, by id.
    pub parents: Vec<ParentStatus>,
    /// The appliance's MoldUDP64 sessions at the end, one per feed group
    /// (messages, gaps, re-requests, losses).
    pub feed: Vec<MoldCounters>,
    /// The appliance's NIC counters at the end.
    pub nic: NicStats,
    /// The venue's counters.
    pub venue: VenueStats,
    /// The venue host's counters (network, audit), on the memory pair.
    pub venue_host: Option<HostStats>,
    /// The kernel venue's counters (feed and re-request sockets, audit),
    /// over veth.
    pub venue_server: Option<ServerStats>,
    /// From [`Builder::start`] to the end of [`InProcess::stop`].
    pub elapsed: Duration,
    /// The venue's audit file, if one was written.
    pub audit: Option<PathBuf>,
    /// The pcap file, if the wire was recorded (complete on return).
    pub pcap: Option<PathBuf>,
    journal: JournalDir,
}

impl Report {
    /// The journal directory (a temporary one lives as long as this report).
    pub fn journal_dir(&self) -> &Path {
        self.journal.path()
    }

    /// Keeps a temporary journal directory on disk and returns its path.
    pub fn keep_journal(self) -> PathBuf {
        match self.journal {
            JournalDir::Temp(t) => t.keep(),
            JournalDir::Given(p) => p,
        }
    }

    /// The last status of `parent`.
    pub fn parent(&self, parent: ParentId) -> Option<&ParentStatus> {
        self.parents.iter().find(|s| s.parent == parent)
    }
}

/// The venue, the appliance and the control plane in one process; see the
/// module docs. Dropping it stops everything (without a report).
pub struct InProcess {
    seed: u64,
    cfg: Config,
    venue_cfg: VenueConfig,
    gateway: Gateway,
    counters: Arc<HotCounters>,
    control: Option<ControlHandle>,
    control_addr: SocketAddr,
    venue: Option<VenueSide>,
    addresses: ServerAddresses,
    hot: Option<JoinHandle<Result<HotEnd, String>>>,
    stop_hot: Arc<AtomicBool>,
    live: Arc<Live>,
    requests: Sender<HotRequest>,
    journal: Option<JournalDir>,
    audit: Option<PathBuf>,
    pcap: Option<PathBuf>,
    submitted: AtomicU64,
    tokio: tokio::runtime::Runtime,
    started: Instant,
    network: Network,
    /// The veth test hosts; removed after every thread has ended.
    hosts: Option<TestHosts>,
    /// Files the run needs (an EAL argument file), removed with it.
    _scratch: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for InProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcess")
            .field("seed", &self.seed)
            .field("network", &self.network)
            .field("control_addr", &self.control_addr)
            .field("venue", &self.addresses.to_string())
            .field("journal", &self.journal_dir())
            .finish_non_exhaustive()
    }
}

/// A 64-bit mix (splitmix64's finaliser): distinct parent seeds from one
/// harness seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Lines the appliance up with a running venue: order port of the
/// dialect, account, feed groups, re-request server, traded symbols.
fn line_up(
    cfg: &mut Config,
    venue: &VenueConfig,
    addresses: &ServerAddresses,
) -> Result<(), AppError> {
    let dialect = cfg.order.dialect;
    let Some(i) = addresses
        .order_ports
        .iter()
        .position(|(_, d)| *d == dialect)
    else {
        return Err(ConfigError::Invalid {
            key: "order.dialect",
            reason: format!("the venue has no order port speaking {dialect:?}"),
        }
        .into());
    };
    cfg.order.venue = addresses.order_ports[i].0.to_string();
    if let Some(port) = venue.order_ports.get(i) {
        let known = port.users.iter().any(|u| {
            u.username.eq_ignore_ascii_case(&cfg.order.username)
                && u.password.eq_ignore_ascii_case(&cfg.order.password)
        });
        if !known && !port.users.is_empty() {
            cfg.order.username = port.users[0].username.clone();
            cfg.order.password = port.users[0].password.clone();
        }
    }
    cfg.feed.groups = addresses.feed.iter().map(|a| a.to_string()).collect();
    cfg.feed.request_server = addresses.requests.map(|a| a.to_string());
    if cfg.book.only.is_empty() {
        cfg.book.only = venue.symbols.iter().map(|s| s.name.clone()).collect();
    }
    cfg.book.symbols = cfg.book.symbols.max(cfg.book.only.len());
    cfg.validate()?;
    Ok(())
}

impl InProcess {
    /// A [`Builder`] with the defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    fn start(b: Builder) -> Result<InProcess, AppError> {
        let started = Instant::now();
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| AppError::Thread(format!("cannot start a tokio runtime: {e}")))?;
        let Builder {
            seed,
            venue: mut venue_cfg,
            appliance: mut cfg,
            journal_dir,
            dialect,
            pcap,
            audit,
            start_timeout,
            wait_for_login,
            venue_idle,
            network,
            market_faults,
        } = b;
        venue_cfg.flow.seed = seed;
        venue_cfg.validate()?;
        if let Some(d) = dialect {
            cfg.order.dialect = d;
        }
        let journal = match journal_dir {
            Some(d) => JournalDir::Given(d),
            None => JournalDir::Temp(
                tempfile::Builder::new()
                    .prefix("floe-journal-")
                    .tempdir()
                    .map_err(|e| AppError::Appliance(format!("temporary journal: {e}")))?,
            ),
        };
        cfg.journal.dir = journal.path().to_path_buf();
        let mut hosts = None;
        #[cfg_attr(not(feature = "dpdk"), allow(unused_mut))]
        let mut scratch = None;
        let venue_timeout = start_timeout.min(Duration::from_secs(10));
        let (venue, source) = match network {
            Network::Memory => {
                cfg.nic.backend = NicBackend::Memory;
                cfg.nic.pcap = None;
                let floe_mac = parse_mac(&cfg.net.mac).ok_or(ConfigError::Invalid {
                    key: "net.mac",
                    reason: "expected aa:bb:cc:dd:ee:ff".into(),
                })?;
                let (app_end, venue_end, feed_end) = if cfg.engine.feed_core.is_some() {
                    let (a, b, f) = memory::fanout_with_macs(PAIR_FRAMES, floe_mac, DEFAULT_MAC);
                    (a, b, Some(f))
                } else {
                    let (a, b) = memory::pair_with_macs(PAIR_FRAMES, floe_mac, DEFAULT_MAC);
                    (a, b, None)
                };
                let opts = HostOptions {
                    random_seed: Some(mix(seed)),
                    ..HostOptions::default()
                };
                let venue =
                    VenueHost::spawn_with(&venue_cfg, &opts, venue_idle, venue_end, audit.clone())?;
                let source = NicSource::Memory {
                    end: app_end,
                    feed: feed_end.map(Box::new),
                    pcap: pcap.clone(),
                };
                (VenueSide::Memory(venue), source)
            }
            Network::Veth { backend } => {
                match backend {
                    NicBackend::Memory => {
                        return Err(AppError::Network(
                            "a veth pair needs the af_packet or dpdk backend, not memory".into(),
                        ))
                    }
                    NicBackend::Dpdk if !cfg!(feature = "dpdk") => {
                        return Err(AppError::Network(
                            "the dpdk backend needs floe built with `--features dpdk`".into(),
                        ))
                    }
                    _ => {}
                }
                if !veth::is_root() {
                    return Err(AppError::Network(format!(
                        "the {backend:?} backend over veth needs root (it creates two network \
                         namespaces joined by veth and opens raw sockets in them)"
                    )));
                }
                cfg.nic.backend = backend;
                cfg.nic.interface = veth::APP_IF.into();
                cfg.nic.pcap = pcap.clone();
                #[cfg(feature = "dpdk")]
                if backend == NicBackend::Dpdk && cfg.nic.dpdk_config.is_none() {
                    let dir = tempfile::Builder::new()
                        .prefix("floe-run-")
                        .tempdir()
                        .map_err(|e| AppError::Appliance(format!("temporary directory: {e}")))?;
                    let conf = dir.path().join("af_packet-vdev.conf");
                    std::fs::write(&conf, AF_PACKET_VDEV_CONF).map_err(|e| {
                        AppError::Appliance(format!("write {}: {e}", conf.display()))
                    })?;
                    cfg.nic.dpdk_config = Some(conf);
                    scratch = Some(dir);
                }
                let h = TestHosts::unique("fapp", veth::HostOptions::default())
                    .map_err(AppError::Network)?;
                let venue =
                    spawn_kernel_venue(&h.venue_ns(), &venue_cfg, audit.clone(), venue_timeout);
                let ns = h.app_ns();
                hosts = Some(h);
                // On error the guard removes the namespaces on the way out.
                (venue?, NicSource::Netns { ns })
            }
        };
        let addresses = venue.addresses().clone();
        if let Err(e) = line_up(&mut cfg, &venue_cfg, &addresses) {
            venue.request_stop();
            let _ = venue.join();
            drop(hosts);
            return Err(e);
        }

        let counters = Arc::new(HotCounters::new());
        let (gw, endpoint) = gateway::channel(&cfg);
        let control = match control::spawn(&cfg, gw.clone(), counters.clone()) {
            Ok(c) => c,
            Err(e) => {
                venue.request_stop();
                let _ = venue.join();
                drop(hosts);
                return Err(e.into());
            }
        };
        let control_addr = control.local_addr();

        let stop_hot = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Live::default());
        let (req_tx, req_rx) = bounded::<HotRequest>(8);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let mut app = InProcess {
            seed,
            cfg,
            venue_cfg,
            gateway: gw,
            counters,
            control: Some(control),
            control_addr,
            venue: Some(venue),
            addresses,
            hot: None,
            stop_hot,
            live,
            requests: req_tx,
            journal: Some(journal),
            audit,
            pcap,
            submitted: AtomicU64::new(0),
            tokio,
            started,
            network,
            hosts,
            _scratch: scratch,
        };
        // From here on, dropping `app` stops whatever runs.
        let hot = {
            let cfg = app.cfg.clone();
            let stop = app.stop_hot.clone();
            let live = app.live.clone();
            let counters = app.counters.clone();
            std::thread::Builder::new()
                .name("floe-hot".into())
                .spawn(move || {
                    hot_thread(
                        &cfg,
                        source,
                        market_faults,
                        endpoint,
                        counters,
                        &stop,
                        &live,
                        &req_rx,
                        ready_tx,
                    )
                })
                .map_err(|e| AppError::Thread(format!("cannot start the hot thread: {e}")))?
        };
        app.hot = Some(hot);
        let deadline = started + start_timeout;
        let left = deadline.saturating_duration_since(Instant::now());
        match ready_rx.recv_timeout(left) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                app.halt();
                return Err(AppError::Appliance(e));
            }
            Err(_) => {
                app.halt();
                return Err(AppError::Timeout {
                    what: "the appliance's runtime to start".into(),
                    waited: start_timeout,
                    detail: "the hot thread did not report".into(),
                });
            }
        }
        app.wait_up(deadline, start_timeout, wait_for_login)?;
        Ok(app)
    }

    /// Waits until the engine takes commands, the session is logged in and
    /// quotes arrive; stops everything on timeout.
    fn wait_up(
        &mut self,
        deadline: Instant,
        waited: Duration,
        wait_for_login: bool,
    ) -> Result<(), AppError> {
        loop {
            let ready = self.gateway.stats().ready();
            let logged_in = self.logged_in();
            let s = self.live.stats();
            // With the synthetic flow on, quotes (a two-sided book); without
            // it, the start-of-day messages.
            let market = if self.venue_cfg.flow.enabled {
                s.quotes > 0
            } else {
                s.md_messages > 0
            };
            if ready && (logged_in || !wait_for_login) && market {
                return Ok(());
            }
            let hot_dead = self.hot.as_ref().is_none_or(|h| h.is_finished());
            if Instant::now() >= deadline || hot_dead {
                let detail = format!(
                    "engine ready {ready}, logged in {logged_in}, {} logins, {} market-data messages, {} quotes{}",
                    s.logins,
                    s.md_messages,
                    s.quotes,
                    if hot_dead { ", the hot thread ended" } else { "" }
                );
                self.halt();
                return Err(AppError::Timeout {
                    what: "the appliance to be up (engine ready, logged in, quotes)".into(),
                    waited,
                    detail,
                });
            }
            std::thread::sleep(WAIT_POLL);
        }
    }

    /// The effective appliance configuration (lined up with the venue).
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The effective venue configuration.
    pub fn venue_config(&self) -> &VenueConfig {
        &self.venue_cfg
    }

    /// Where the venue and the appliance meet.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The namespaces of a [`Network::Veth`] run: (venue, appliance).
    pub fn namespaces(&self) -> Option<(String, String)> {
        self.hosts.as_ref().map(|h| (h.venue_ns(), h.app_ns()))
    }

    /// The harness seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Where the REST API listens (127.0.0.1, ephemeral port by default).
    pub fn control_addr(&self) -> SocketAddr {
        self.control_addr
    }

    /// The control side of the engine's queues (what the REST handlers use).
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The hot thread's metrics (what `/metrics` exports).
    pub fn counters(&self) -> &Arc<HotCounters> {
        &self.counters
    }

    /// Where the venue listens and publishes.
    pub fn venue_addresses(&self) -> &ServerAddresses {
        &self.addresses
    }

    /// The journal directory.
    pub fn journal_dir(&self) -> &Path {
        self.journal
            .as_ref()
            .map_or(self.cfg.journal.dir.as_path(), JournalDir::path)
    }

    /// The venue's audit file, if set.
    pub fn audit_path(&self) -> Option<&Path> {
        self.audit.as_deref()
    }

    /// Whether the order session was logged in at the hot thread's last
    /// housekeeping (every few hundred duty cycles).
    pub fn logged_in(&self) -> bool {
        self.live.logged_in.load(Ordering::Acquire)
    }

    /// The runtime's counters as of its last housekeeping.
    pub fn stats(&self) -> RuntimeStats {
        self.live.stats()
    }

    /// Submits an iceberg the way `POST /v1/algo-orders` does: the same
    /// validation against `risk` and `book.only`, the same command through
    /// the same gateway, waiting (bounded by `control.reply_timeout_ms`)
    /// for the engine's reply. The parent's PRNG seed derives from the
    /// harness seed and the number of submits so far. Must not be called
    /// from inside an async runtime.
    pub fn submit(&self, order: &CreateOrder) -> Result<Submitted, AppError> {
        let symbols: Vec<Symbol> = self
            .cfg
            .book
            .only
            .iter()
            .filter_map(|s| Symbol::new(s))
            .collect();
        let (client_order_id, params) = order
            .to_params(&self.cfg.risk, &symbols)
            .map_err(AppError::refused)?;
        let n = self.submitted.fetch_add(1, Ordering::Relaxed);
        let kind = CommandKind::NewIceberg {
            client_order_id,
            params,
            seed: mix(self.seed ^ mix(n)),
        };
        match self.tokio.block_on(self.gateway.request(kind))? {
            Reply::Accepted {
                parent,
                status,
                created_at,
                replay,
            } => Ok(Submitted {
                parent,
                status,
                created_at,
                replay,
            }),
            Reply::Refused(e) => Err(AppError::refused(refusal_error(e, None))),
            other => Err(AppError::Thread(format!(
                "the engine answered a new iceberg with {other:?}"
            ))),
        }
    }

    /// [`Self::submit`] of a JSON body, parsed as the REST API parses it.
    pub fn submit_json(&self, body: &str) -> Result<Submitted, AppError> {
        let order: CreateOrder = parse_json(body.as_bytes()).map_err(AppError::refused)?;
        self.submit(&order)
    }

    /// The latest status of `parent` the control plane knows.
    pub fn status(&self, parent: ParentId) -> Option<ParentStatus> {
        self.gateway.get(parent)
    }

    /// Waits (at most `timeout`) until `parent`'s status passes `done`;
    /// returns that status.
    pub fn wait_until(
        &self,
        parent: ParentId,
        timeout: Duration,
        mut done: impl FnMut(&ParentStatus) -> bool,
    ) -> Result<ParentStatus, AppError> {
        let t0 = Instant::now();
        loop {
            let s = self.gateway.get(parent);
            if let Some(s) = s.as_ref().filter(|s| done(s)) {
                return Ok(*s);
            }
            if t0.elapsed() >= timeout || self.hot.as_ref().is_none_or(|h| h.is_finished()) {
                return Err(AppError::Timeout {
                    what: format!("parent {parent}"),
                    waited: t0.elapsed(),
                    detail: match s {
                        Some(s) => describe(&s),
                        None => "unknown to the control plane".into(),
                    },
                });
            }
            std::thread::sleep(WAIT_POLL);
        }
    }

    /// Waits (at most `timeout`) until `parent` is `want`; an error as soon
    /// as it reaches another terminal status.
    pub fn wait_status(
        &self,
        parent: ParentId,
        want: StatusCode,
        timeout: Duration,
    ) -> Result<ParentStatus, AppError> {
        let s = self.wait_until(parent, timeout, |s| {
            s.status == want || is_terminal(s.status)
        })?;
        if s.status == want {
            Ok(s)
        } else {
            Err(AppError::Ended {
                parent,
                status: s.status,
                detail: describe(&s),
            })
        }
    }

    /// Tick-to-trade so far (ns; a copy made by the hot thread on request).
    pub fn tick_to_trade(&self) -> Result<Histogram<u64>, AppError> {
        let (tx, rx) = bounded(1);
        self.ask_hot(HotRequest::TickToTrade(tx), &rx)
    }

    /// Forgets the tick-to-trade recorded so far (after a warm-up).
    pub fn reset_tick_to_trade(&self) -> Result<(), AppError> {
        let (tx, rx) = bounded(1);
        self.ask_hot(HotRequest::ResetTickToTrade(tx), &rx)
    }

    fn ask_hot<T>(&self, req: HotRequest, rx: &Receiver<T>) -> Result<T, AppError> {
        self.requests
            .send_timeout(req, HOT_REPLY_TIMEOUT)
            .map_err(|_| AppError::Thread("the hot thread takes no requests".into()))?;
        rx.recv_timeout(HOT_REPLY_TIMEOUT)
            .map_err(|_| AppError::Timeout {
                what: "the hot thread's answer".into(),
                waited: HOT_REPLY_TIMEOUT,
                detail: "no answer".into(),
            })
    }

    /// Stops cleanly and reports: the venue ends its day (end of session on
    /// the feed, `Z` to the session) while the appliance still runs and
    /// takes it; then the appliance closes its connection, flushes its
    /// journal and stops (the pcap file is complete on return); then the
    /// venue and the control plane stop.
    pub fn stop(mut self) -> Result<Report, AppError> {
        let t0 = Instant::now();
        if let Some(v) = &self.venue {
            v.request_stop();
            // The venue's end of day reaches the appliance (end of session
            // on the feed, `Z`, the close); the appliance's own close then
            // goes out at its shutdown, which lets the venue finish at once.
            while v.is_running() && self.logged_in() && t0.elapsed() < VENUE_STOP_TIMEOUT {
                std::thread::sleep(WAIT_POLL);
            }
        }
        self.stop_hot.store(true, Ordering::Relaxed);
        let hot = self.hot.take().map(|h| h.join());
        let venue = self.venue.take().map(VenueSide::join).transpose();
        // The statuses the runtime flushed at shutdown.
        self.gateway.pump();
        let parents = self.gateway.list(|_| true);
        let control = self.control.take().map(ControlHandle::shutdown);
        drop(self.hosts.take());
        let end = match hot {
            Some(Ok(Ok(end))) => end,
            Some(Ok(Err(e))) => return Err(AppError::Appliance(e)),
            Some(Err(_)) => return Err(AppError::Thread("the hot thread panicked".into())),
            None => return Err(AppError::Thread("already stopped".into())),
        };
        let (venue, venue_host, venue_server) = venue?.unwrap_or_default();
        if let Some(Err(e)) = control {
            tracing::warn!("control plane: {e}");
        }
        let journal = self
            .journal
            .take()
            .unwrap_or_else(|| JournalDir::Given(self.cfg.journal.dir.clone()));
        Ok(Report {
            runtime: end.stats,
            halted: end.halted,
            tick_to_trade: end.tick_to_trade,
            feed: end.feed,
            nic: end.nic,
            parents,
            venue,
            venue_host,
            venue_server,
            elapsed: self.started.elapsed(),
            audit: self.audit.clone(),
            pcap: self.pcap.clone(),
            journal,
        })
    }

    /// Stops every thread without a report (errors, drop).
    fn halt(&mut self) {
        if let Some(v) = &self.venue {
            v.request_stop();
        }
        self.stop_hot.store(true, Ordering::Relaxed);
        if let Some(h) = self.hot.take() {
            let _ = h.join();
        }
        if let Some(v) = self.venue.take() {
            let _ = v.join();
        }
        if let Some(c) = self.control.take() {
            let _ = c.shutdown();
        }
        drop(self.hosts.take());
    }
}

// The harness is shared between threads (HTTP tests, benchmarks).
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<InProcess>();
    shared::<Report>();
};

impl Drop for InProcess {
    fn drop(&mut self) {
        self.halt();
    }
}

/// A parent's state in a few words, for errors.
fn describe(s: &ParentStatus) -> String {
    let mut d = format!(
        "{} {}/{} filled, {} live, {} children",
        s.status.name(),
        s.filled,
        s.total,
        s.live,
        s.children
    );
    if let Some(r) = s.last_reason {
        d.push_str(&format!(
            ", last reason: {}",
            crate::control::model::reason_text(r)
        ));
    }
    if let Some(w) = s.waiting {
        d.push_str(&format!(", waiting for {}", w.name()));
    }
    d
}

/// The hot thread: builds the runtime on itself (pinned first when
/// `engine.core` says so), reports readiness, runs duty cycles until told
/// to stop, shuts down, and hands its counters back. The NIC (and the pcap
/// recorder with it) is dropped here, after the shutdown.
#[allow(clippy::too_many_arguments)]
fn hot_thread(
    cfg: &Config,
    source: NicSource,
    faults: Option<FaultConfig>,
    endpoint: gateway::EngineEndpoint,
    counters: Arc<HotCounters>,
    stop: &AtomicBool,
    live: &Live,
    requests: &Receiver<HotRequest>,
    ready: std::sync::mpsc::Sender<Result<(), String>>,
) -> Result<HotEnd, String> {
    if let Some(c) = cfg.engine.core {
        if !pin_to_core(c) {
            tracing::warn!(core = c, "could not pin the hot thread; running unpinned");
        }
    }
    let split = cfg.engine.feed_core.is_some();
    let opened: Result<Nics, String> = match source {
        NicSource::Memory { end, feed, pcap } => {
            let feed = feed.map(|f| f as Box<dyn Nic>);
            match pcap {
                None => Ok((Box::new(end) as Box<dyn Nic>, feed)),
                Some(path) => PcapNic::create(end, &path, PcapConfig::default())
                    .map(|n| (Box::new(n) as Box<dyn Nic>, feed))
                    .map_err(|e| format!("pcap {}: {e}", path.display())),
            }
        }
        NicSource::Netns { ns } => veth::enter_netns(&ns).and_then(|()| {
            let what = |e| format!("{:?} on {}: {e}", cfg.nic.backend, cfg.nic.interface);
            let nic = crate::nic::open_from_config(cfg, None).map_err(what)?;
            let feed = if split {
                Some(crate::nic::open_feed_from_config(cfg, None).map_err(what)?)
            } else {
                None
            };
            Ok((nic, feed))
        }),
    };
    // Faults go on the handle that reads market data.
    let opened = opened.map(|(nic, feed)| match (faults, feed) {
        (None, feed) => (nic, feed),
        (Some(f), Some(feed)) => (nic, Some(Box::new(FaultNic::new(feed, f)) as Box<dyn Nic>)),
        (Some(f), None) => (Box::new(FaultNic::new(nic, f)) as Box<dyn Nic>, None),
    });
    let (nic, feed_nic) = match opened {
        Ok(n) => n,
        Err(msg) => {
            let _ = ready.send(Err(msg.clone()));
            return Err(msg);
        }
    };
    let clock = WallClock::calibrate(Duration::from_millis(20));
    let split_feed = feed_nic.map(|nic| SplitFeed {
        nic,
        clock: Box::new(clock),
    });
    let mut rt = match Runtime::with_feed(
        cfg,
        nic,
        Box::new(clock),
        Some(endpoint),
        counters,
        split_feed,
    ) {
        Ok(rt) => rt,
        Err(e) => {
            let msg = e.to_string();
            let _ = ready.send(Err(msg.clone()));
            return Err(msg);
        }
    };
    tracing::debug!("journal {}: {}", cfg.journal.dir.display(), rt.recovery());
    let _ = ready.send(Ok(()));
    let mut idle = Idle::for_engine(&cfg.engine);
    let mut n: u32 = 0;
    loop {
        if rt.cycle() > 0 {
            idle.reset();
        } else {
            let until = rt.next_deadline().since(clock.now());
            idle.idle(Duration::from_nanos(until.0));
        }
        n = n.wrapping_add(1);
        if n.is_multiple_of(HOUSEKEEPING_EVERY) {
            rt.maybe_snapshot();
            live.publish(&rt);
            while let Ok(req) = requests.try_recv() {
                match req {
                    HotRequest::TickToTrade(tx) => {
                        let _ = tx.try_send(rt.tick_to_trade().clone());
                    }
                    HotRequest::ResetTickToTrade(tx) => {
                        rt.reset_tick_to_trade();
                        let _ = tx.try_send(());
                    }
                }
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
        }
    }
    rt.shutdown(SHUTDOWN_GRACE);
    live.publish(&rt);
    let end = HotEnd {
        stats: rt.stats(),
        halted: rt.halted().map(str::to_owned),
        tick_to_trade: rt.tick_to_trade().clone(),
        feed: rt.feeds().iter().map(|s| *s.counters()).collect(),
        nic: rt.nic().stats(),
    };
    drop(rt);
    Ok(end)
}
