//! The appliance's TOML configuration.
//!
//! Every capacity is explicit: pools, books, rings and queues are sized from
//! here at start-up and never grow. [`Config::validate`] checks what serde
//! cannot (zero capacities, inverted ranges, unparsable addresses) and names
//! the offending key. An unknown key is an error, not a silent default.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Errors loading or validating a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML is malformed or has wrong types / unknown keys.
    #[error("{path}: {message}")]
    Parse {
        /// The path.
        path: PathBuf,
        /// What toml said.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid configuration: {key}: {reason}")]
    Invalid {
        /// The dotted key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// The whole appliance configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The hot thread.
    pub engine: EngineConfig,
    /// Pool capacities.
    pub pools: PoolConfig,
    /// Order-book capacities.
    pub book: BookConfig,
    /// The NIC backend.
    pub nic: NicConfig,
    /// floe's own addresses.
    pub net: NetConfig,
    /// Market data.
    pub feed: FeedConfig,
    /// Order entry.
    pub order: OrderConfig,
    /// Pre-trade risk.
    pub risk: RiskConfig,
    /// The journal.
    pub journal: JournalConfig,
    /// REST API and metrics.
    pub control: ControlConfig,
}

/// How the hot thread waits when a duty cycle found no work.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IdleStrategy {
    /// Busy-spin (`spin_loop` hint): isolated bare-metal cores only.
    Spin,
    /// Spin `engine.spin_window_us` of idleness, then `yield_now`: shared
    /// cores, CI.
    #[default]
    SpinYield,
    /// Spin, yield, then park for a short bounded time.
    Park,
}

/// The hot thread.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// CPU the hot thread is pinned to; `None` leaves it unpinned.
    pub core: Option<usize>,
    /// Idle strategy.
    pub idle: IdleStrategy,
    /// `spin_yield` and `park`: how long an idle stretch spins before the
    /// thread yields, µs. Longer than the gap between triggers keeps the
    /// hot thread's caches warm; shorter hands a shared core over sooner.
    pub spin_window_us: u64,
    /// Control commands drained per duty cycle at most.
    pub command_drain_limit: usize,
    /// Frames taken from the NIC per burst.
    pub rx_burst: usize,
    /// Split mode: run the feed handler (MoldUDP64 sessions, ITCH, books) on
    /// a second thread pinned to this core, reading market data from its
    /// own rx handle of the NIC and handing each changed top of book to the
    /// hot thread over an SPSC ring; `None` = one thread does everything.
    /// Must differ from `core`; needs the `af_packet` or `memory` backend.
    pub feed_core: Option<usize>,
    /// Quotes the feed → engine ring holds in split mode (power of two); a
    /// full ring makes the feed thread wait (back-pressure), nothing is
    /// dropped.
    pub feed_ring: usize,
}

impl EngineConfig {
    /// `spin_window_us` as a duration.
    pub fn spin_window(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.spin_window_us)
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            core: None,
            idle: IdleStrategy::SpinYield,
            spin_window_us: 50,
            command_drain_limit: 64,
            rx_burst: 32,
            feed_core: None,
            feed_ring: 4096,
        }
    }
}

/// Pool capacities: each the upper bound of live objects of its kind.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// Parent (algo) orders alive at once, including finished ones kept for queries.
    pub parents: usize,
    /// Child orders alive at once (≤ 1 live per parent, plus those awaiting
    /// cancel confirmation or late fills).
    pub children: usize,
    /// Engine timers (one refresh delay per parent, plus session timers).
    pub timers: usize,
    /// Entries in the client_order_id idempotency index.
    pub client_order_ids: usize,
    /// Commands queued from the control plane to the engine.
    pub command_queue: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            parents: 1024,
            children: 4096,
            timers: 2048,
            client_order_ids: 4096,
            command_queue: 1024,
        }
    }
}

/// Order-book capacities.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BookConfig {
    /// Symbols tracked (books allocated). Symbols beyond this are ignored and counted.
    pub symbols: usize,
    /// Only these symbols get books; empty = the first `symbols` seen in the stock directory.
    pub only: Vec<String>,
    /// Resting orders per book.
    pub orders_per_book: usize,
    /// Price levels per side per book.
    pub levels_per_side: usize,
}

impl Default for BookConfig {
    fn default() -> Self {
        BookConfig {
            symbols: 16,
            only: Vec::new(),
            orders_per_book: 65_536,
            levels_per_side: 4_096,
        }
    }
}

/// Which NIC backend.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NicBackend {
    /// In-process pair (demo, tests).
    #[default]
    Memory,
    /// AF_PACKET TPACKET rings (CAP_NET_RAW).
    AfPacket,
    /// DPDK (cargo feature `dpdk`).
    Dpdk,
}

/// TPACKET ring version for `af_packet`.
///
/// The default is V2, by measurement (`cargo bench --bench nic_rx -- --rt`
/// over veth): V2 hands each frame over as soon as the kernel wrote it
/// (p50 ~3 µs one-way), while V3 hands a block over only when it is full or
/// its timeout (1 ms at least) expires, so at market-data rates below a
/// block per millisecond a frame waits ~0.5 ms (p50 ~520 µs). V3 takes
/// fewer cache lines per frame and wins on throughput under bursts only.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TpacketVersion {
    /// One frame per slot, handed to user space as soon as it lands.
    #[default]
    V2,
    /// Blocks of frames retired by timeout or fill.
    V3,
}

/// The NIC backend.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NicConfig {
    /// Backend.
    pub backend: NicBackend,
    /// Interface name (`af_packet`; also the vdev's `iface` for DPDK).
    pub interface: String,
    /// EAL argument file for `dpdk`.
    pub dpdk_config: Option<PathBuf>,
    /// DPDK port id.
    pub dpdk_port: u16,
    /// Mbufs in the DPDK pool.
    pub dpdk_mbufs: u32,
    /// TPACKET version for `af_packet`.
    pub tpacket: TpacketVersion,
    /// Frames in each of the rx and tx rings (AF_PACKET ring frames, DPDK
    /// descriptors per queue).
    pub ring_frames: u32,
    /// TPACKET_V3 only: a partly filled block is handed over after this many
    /// milliseconds (1 is the shortest the kernel takes).
    pub tpacket_block_timeout_ms: u32,
    /// Record every frame in and out to this pcap file.
    pub pcap: Option<PathBuf>,
}

impl Default for NicConfig {
    fn default() -> Self {
        NicConfig {
            backend: NicBackend::Memory,
            interface: "vfloe".into(),
            dpdk_config: None,
            dpdk_port: 0,
            dpdk_mbufs: 8191,
            tpacket: TpacketVersion::V2,
            ring_frames: 1024,
            tpacket_block_timeout_ms: 1,
            pcap: None,
        }
    }
}

/// A static neighbour entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Neighbor {
    /// IPv4 address.
    pub ip: String,
    /// MAC as `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
}

/// floe's own identity on the wire.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NetConfig {
    /// floe's MAC (`aa:bb:cc:dd:ee:ff`); owned by its smoltcp interface.
    pub mac: String,
    /// floe's IPv4 address with prefix, e.g. `198.18.0.2/24`.
    pub ip: String,
    /// Default gateway, if the venue is not on the local subnet.
    pub gateway: Option<String>,
    /// Static ARP entries (resolved without asking).
    pub neighbors: Vec<Neighbor>,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            mac: "02:00:c6:12:00:02".into(),
            ip: "198.18.0.2/24".into(),
            gateway: None,
            neighbors: Vec::new(),
        }
    }
}

/// Market data: MoldUDP64 groups and the re-request server.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FeedConfig {
    /// `ip:port` destinations that carry MoldUDP64 (multicast groups or floe's unicast address).
    pub groups: Vec<String>,
    /// First MoldUDP64 sequence number wanted: 0 = from the first packet
    /// seen (joining a live feed), 1 = the whole session (what was missed
    /// before joining is re-requested).
    pub start_sequence: u64,
    /// MoldUDP64 re-request server `ip:port`.
    pub request_server: Option<String>,
    /// Local UDP port for re-requests.
    pub request_port: u16,
    /// Re-requests outstanding at once.
    pub max_outstanding_requests: usize,
    /// Re-send a request after this long without progress.
    pub request_timeout_ms: u64,
    /// Give up on a gap after this many tries (counted, then skipped).
    pub max_request_retries: u32,
    /// Out-of-order packets buffered while a gap is open.
    pub reorder_packets: usize,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            groups: vec!["239.198.18.1:26400".into()],
            start_sequence: 0,
            request_server: Some("198.18.0.1:26401".into()),
            request_port: 26402,
            max_outstanding_requests: 4,
            request_timeout_ms: 250,
            max_request_retries: 8,
            reorder_packets: 256,
        }
    }
}

/// OUCH dialect spoken on the order port.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// OUCH 4.2 (14-byte tokens).
    Ouch42,
    /// OUCH 5.0 (UserRefNum, appendages).
    #[default]
    Ouch50,
}

/// Order entry: SoupBinTCP to the venue.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OrderConfig {
    /// Venue `ip:port`.
    pub venue: String,
    /// Local TCP port.
    pub local_port: u16,
    /// OUCH dialect.
    pub dialect: Dialect,
    /// SoupBinTCP username (≤ 6 ASCII).
    pub username: String,
    /// SoupBinTCP password (≤ 10 ASCII).
    pub password: String,
    /// OUCH firm (≤ 4 ASCII; blank = account default).
    pub firm: String,
    /// Send a heartbeat after this long without sending.
    pub heartbeat_ms: u64,
    /// Declare the venue dead after this long without hearing from it.
    pub dead_after_ms: u64,
    /// Wait this long before reconnecting.
    pub reconnect_ms: u64,
}

impl Default for OrderConfig {
    fn default() -> Self {
        OrderConfig {
            venue: "198.18.0.1:15000".into(),
            local_port: 40000,
            dialect: Dialect::Ouch50,
            username: "FLOE01".into(),
            password: "floe".into(),
            firm: "FLOE".into(),
            heartbeat_ms: 1000,
            dead_after_ms: 15_000,
            reconnect_ms: 500,
        }
    }
}

/// Pre-trade risk limits, checked before every child and every new parent.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RiskConfig {
    /// Largest child order, shares.
    pub max_child_qty: u32,
    /// Largest parent notional (total × limit), in dollars.
    pub max_parent_notional: u64,
    /// A child's price may be at most this far from the book's reference price, percent.
    pub price_collar_percent: u32,
    /// Parents WORKING or PAUSED at once.
    pub max_live_parents: u32,
    /// Absolute net position per symbol, shares (filled plus live).
    pub position_limit: u64,
    /// Child orders per second (token bucket on engine time).
    pub child_orders_per_sec: u32,
    /// Burst of the child-order token bucket.
    pub child_orders_burst: u32,
    /// Lot size: quantities are multiples of this.
    pub lot_size: u32,
    /// Tick size in 1/10,000 of a dollar: prices are multiples of this.
    pub tick_size: u32,
}

impl Default for RiskConfig {
    fn default() -> Self {
        RiskConfig {
            max_child_qty: 10_000,
            max_parent_notional: 50_000_000,
            price_collar_percent: 10,
            max_live_parents: 256,
            position_limit: 1_000_000,
            child_orders_per_sec: 1_000,
            child_orders_burst: 100,
            lot_size: 1,
            tick_size: 100,
        }
    }
}

/// When journal writes reach the disk.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SyncPolicy {
    /// Page cache only: survives a process crash, not a power loss.
    #[default]
    None,
    /// A background thread msyncs every `batch_interval_ms`.
    Batch,
    /// msync before a record counts as written.
    Always,
}

/// The journal.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct JournalConfig {
    /// Directory of segments.
    pub dir: PathBuf,
    /// Size of each preallocated segment, MiB.
    pub segment_mib: u64,
    /// Sync policy.
    pub sync: SyncPolicy,
    /// Interval of the `batch` sync thread.
    pub batch_interval_ms: u64,
    /// Write a snapshot every this many records (0 = never).
    pub snapshot_every: u64,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            dir: PathBuf::from("floe-journal"),
            segment_mib: 64,
            sync: SyncPolicy::None,
            batch_interval_ms: 10,
            snapshot_every: 100_000,
        }
    }
}

/// One API key. Its `Debug` never shows the secret.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Key id (sent as `X-Floe-Key`).
    pub id: String,
    /// Shared secret; or use `secret_file`.
    #[serde(default)]
    pub secret: Option<String>,
    /// File holding the secret (first line).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Only GET endpoints.
    #[serde(default)]
    pub read_only: bool,
    /// Sustained requests per second.
    #[serde(default = "default_rate")]
    pub rate_per_sec: u32,
    /// Burst size.
    #[serde(default = "default_burst")]
    pub burst: u32,
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("secret_file", &self.secret_file)
            .field("read_only", &self.read_only)
            .field("rate_per_sec", &self.rate_per_sec)
            .field("burst", &self.burst)
            .finish()
    }
}

fn default_rate() -> u32 {
    100
}

fn default_burst() -> u32 {
    200
}

/// The control plane.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Listen address (loopback unless you mean it).
    pub listen: String,
    /// Largest request body, bytes.
    pub body_limit_bytes: usize,
    /// Signature window, ms.
    pub auth_window_ms: u64,
    /// How long a request waits for the engine's reply before a 503.
    pub reply_timeout_ms: u64,
    /// `/metrics` needs a signed request too (default: open, like `/healthz`).
    pub metrics_auth: bool,
    /// API keys.
    pub keys: Vec<ApiKey>,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            listen: "127.0.0.1:8080".into(),
            body_limit_bytes: 16 * 1024,
            auth_window_ms: 5_000,
            reply_timeout_ms: 2_000,
            metrics_auth: false,
            keys: Vec::new(),
        }
    }
}

impl Config {
    /// Parses TOML text; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_toml(&text, path)
    }

    /// Checks what serde cannot; names the first offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let nonzero = [
            ("pools.parents", self.pools.parents),
            ("pools.children", self.pools.children),
            ("pools.timers", self.pools.timers),
            ("pools.client_order_ids", self.pools.client_order_ids),
            ("pools.command_queue", self.pools.command_queue),
            ("book.symbols", self.book.symbols),
            ("book.orders_per_book", self.book.orders_per_book),
            ("book.levels_per_side", self.book.levels_per_side),
            (
                "engine.command_drain_limit",
                self.engine.command_drain_limit,
            ),
            ("engine.rx_burst", self.engine.rx_burst),
            (
                "feed.max_outstanding_requests",
                self.feed.max_outstanding_requests,
            ),
            ("feed.reorder_packets", self.feed.reorder_packets),
        ];
        for (key, v) in nonzero {
            if v == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if self.pools.parents > u32::MAX as usize / 2 || self.pools.children > u32::MAX as usize / 2
        {
            return Err(invalid(
                "pools",
                "capacities must fit generational u32 handles",
            ));
        }
        if self.engine.spin_window_us > 1_000_000 {
            return Err(invalid(
                "engine.spin_window_us",
                "must be at most 1000000 (1 s): an idle thread yields after that",
            ));
        }
        if !self.engine.feed_ring.is_power_of_two() {
            return Err(invalid("engine.feed_ring", "must be a power of two"));
        }
        if let Some(feed) = self.engine.feed_core {
            if self.engine.core == Some(feed) {
                return Err(invalid(
                    "engine.feed_core",
                    format!(
                        "must differ from engine.core ({feed}): split mode runs the feed \
                         thread on a second core"
                    ),
                ));
            }
            if self.nic.backend == NicBackend::Dpdk {
                return Err(invalid(
                    "engine.feed_core",
                    "split mode needs nic.backend = \"af_packet\" or \"memory\" \
                     (the dpdk backend has one rx queue)",
                ));
            }
        }
        parse_mac(&self.net.mac).ok_or_else(|| invalid("net.mac", "expected aa:bb:cc:dd:ee:ff"))?;
        parse_cidr(&self.net.ip).ok_or_else(|| invalid("net.ip", "expected a.b.c.d/prefix"))?;
        for n in &self.net.neighbors {
            n.ip.parse::<std::net::Ipv4Addr>().map_err(|_| {
                invalid("net.neighbors.ip", format!("not an IPv4 address: {}", n.ip))
            })?;
            parse_mac(&n.mac)
                .ok_or_else(|| invalid("net.neighbors.mac", format!("not a MAC: {}", n.mac)))?;
        }
        for g in &self.feed.groups {
            g.parse::<std::net::SocketAddrV4>()
                .map_err(|_| invalid("feed.groups", format!("expected ip:port, got {g}")))?;
        }
        if let Some(s) = &self.feed.request_server {
            s.parse::<std::net::SocketAddrV4>().map_err(|_| {
                invalid("feed.request_server", format!("expected ip:port, got {s}"))
            })?;
        }
        self.order
            .venue
            .parse::<std::net::SocketAddrV4>()
            .map_err(|_| invalid("order.venue", "expected ip:port"))?;
        if self.order.username.len() > 6 || !self.order.username.is_ascii() {
            return Err(invalid("order.username", "at most 6 ASCII characters"));
        }
        if self.order.password.len() > 10 || !self.order.password.is_ascii() {
            return Err(invalid("order.password", "at most 10 ASCII characters"));
        }
        if self.order.firm.len() > 4 || !self.order.firm.is_ascii() {
            return Err(invalid("order.firm", "at most 4 ASCII characters"));
        }
        if self.order.heartbeat_ms == 0 || self.order.dead_after_ms <= self.order.heartbeat_ms {
            return Err(invalid(
                "order.dead_after_ms",
                "must exceed order.heartbeat_ms, which must be at least 1",
            ));
        }
        if self.risk.lot_size == 0 {
            return Err(invalid("risk.lot_size", "must be at least 1"));
        }
        if self.risk.tick_size == 0 {
            return Err(invalid("risk.tick_size", "must be at least 1"));
        }
        if self.risk.child_orders_per_sec == 0 || self.risk.child_orders_burst == 0 {
            return Err(invalid(
                "risk.child_orders_per_sec",
                "rate and burst must be at least 1",
            ));
        }
        if self.journal.segment_mib == 0 || self.journal.segment_mib > 4096 {
            return Err(invalid("journal.segment_mib", "must be in 1..=4096"));
        }
        if self.journal.sync == SyncPolicy::Batch && self.journal.batch_interval_ms == 0 {
            return Err(invalid(
                "journal.batch_interval_ms",
                "must be at least 1 with sync = \"batch\"",
            ));
        }
        self.control
            .listen
            .parse::<std::net::SocketAddr>()
            .map_err(|_| invalid("control.listen", "expected ip:port"))?;
        if self.control.body_limit_bytes == 0 {
            return Err(invalid("control.body_limit_bytes", "must be at least 1"));
        }
        if self.control.auth_window_ms == 0 || self.control.reply_timeout_ms == 0 {
            return Err(invalid(
                "control.auth_window_ms",
                "auth_window_ms and reply_timeout_ms must be at least 1",
            ));
        }
        let mut ids = std::collections::HashSet::new();
        for k in &self.control.keys {
            if k.id.is_empty() || !k.id.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(
                    "control.keys",
                    "key ids are non-empty printable ASCII without spaces",
                ));
            }
            if !ids.insert(k.id.as_str()) {
                return Err(invalid(
                    "control.keys",
                    format!("key {} is listed twice", k.id),
                ));
            }
            if k.secret.is_none() == k.secret_file.is_none() {
                return Err(invalid(
                    "control.keys",
                    format!("key {}: give exactly one of secret, secret_file", k.id),
                ));
            }
            if k.rate_per_sec == 0 || k.burst == 0 {
                return Err(invalid(
                    "control.keys",
                    format!("key {}: rate_per_sec and burst must be at least 1", k.id),
                ));
            }
        }
        Ok(())
    }
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in out.iter_mut() {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Parses `a.b.c.d/prefix`.
pub fn parse_cidr(s: &str) -> Option<(std::net::Ipv4Addr, u8)> {
    let (ip, prefix) = s.split_once('/')?;
    let prefix: u8 = prefix.parse().ok()?;
    (prefix <= 32).then_some(())?;
    Some((ip.parse().ok()?, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid() {
        Config::default().validate().unwrap();
    }

    #[test]
    fn unknown_key_is_an_error() {
        let err = Config::from_toml("[engine]\ncores = 3\n", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("unknown field `cores`"), "{err}");
    }

    #[test]
    fn zero_capacity_names_the_key() {
        let err = Config::from_toml("[pools]\nparents = 0\n", Path::new("x.toml")).unwrap_err();
        assert!(err.to_string().contains("pools.parents"), "{err}");
    }

    #[test]
    fn spin_window_is_bounded_and_read() {
        let err = Config::from_toml("[engine]\nspin_window_us = 1000001\n", Path::new("x.toml"))
            .unwrap_err();
        assert!(err.to_string().contains("engine.spin_window_us"), "{err}");
        let cfg = Config::from_toml("[engine]\nspin_window_us = 0\n", Path::new("x.toml")).unwrap();
        assert_eq!(cfg.engine.spin_window(), std::time::Duration::ZERO);
        assert_eq!(
            Config::default().engine.spin_window(),
            crate::engine::idle::SPIN_WINDOW
        );
    }

    #[test]
    fn split_mode_needs_a_second_core_and_a_backend_with_two_rx_handles() {
        let text = "[engine]\ncore = 1\nfeed_core = 1\n";
        let err = Config::from_toml(text, Path::new("x.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("engine.feed_core") && msg.contains("differ"),
            "{msg}"
        );
        let text = "[engine]\ncore = 1\nfeed_core = 0\n[nic]\nbackend = \"dpdk\"\n";
        let msg = Config::from_toml(text, Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("engine.feed_core") && msg.contains("af_packet"),
            "{msg}"
        );
        for backend in ["memory", "af_packet"] {
            let text =
                format!("[engine]\ncore = 1\nfeed_core = 0\n[nic]\nbackend = \"{backend}\"\n");
            let cfg = Config::from_toml(&text, Path::new("x.toml")).unwrap();
            assert_eq!(cfg.engine.feed_core, Some(0));
        }
    }

    #[test]
    fn mac_and_cidr_parse() {
        assert_eq!(
            parse_mac("02:00:c6:12:00:02"),
            Some([2, 0, 0xc6, 0x12, 0, 2])
        );
        assert_eq!(parse_mac("02:00:c6:12:00"), None);
        assert_eq!(parse_mac("02:00:c6:12:00:02:03"), None);
        assert_eq!(parse_cidr("198.18.0.2/24").unwrap().1, 24);
        assert!(parse_cidr("198.18.0.2/33").is_none());
    }
}
