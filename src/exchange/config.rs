//! The venue's TOML configuration (`floe exchange --config FILE`).
//!
//! Sections: `[venue]` (session name, listing sizes), `[[symbols]]` (the
//! listing and each symbol's starting mid), `[market_data]` (MoldUDP64
//! destinations, multicast settings, re-request server, history),
//! `[[order_ports]]` (one SoupBinTCP listener each: dialect, credentials,
//! cancel-on-disconnect, timers) and `[flow]` (the synthetic order flow).
//! `venue.example.toml` at the top of the repository documents every key.
//!
//! Unknown keys are errors (`deny_unknown_fields`); [`VenueConfig::validate`]
//! checks what serde cannot and names the offending key. Prices are decimal
//! strings (`"190.25"`) with at most four decimals, never floats.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::flow::{FlowConfig, FlowSymbol};
use super::matching::MatchingConfig;
use super::publisher::PublisherConfig;
use crate::config::{ConfigError, Dialect};
use crate::types::{Price4, Symbol};
use crate::wire::soupbintcp::{PASSWORD_LEN, USERNAME_LEN};

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

/// The whole venue configuration.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    /// Venue-wide settings.
    #[serde(default)]
    pub venue: VenueSection,
    /// The listed symbols, in stock-locate order.
    pub symbols: Vec<SymbolConfig>,
    /// ITCH 5.0 over MoldUDP64.
    #[serde(default)]
    pub market_data: MarketDataConfig,
    /// SoupBinTCP order-entry ports.
    #[serde(default)]
    pub order_ports: Vec<PortConfig>,
    /// The synthetic order flow.
    #[serde(default)]
    pub flow: FlowSection,
}

/// `[venue]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct VenueSection {
    /// SoupBinTCP session name of every order port and MoldUDP64 session of
    /// the feed (≤ 10 printable ASCII characters). Default: the venue's start
    /// time in Unix seconds, so that a restarted venue (whose sequence
    /// numbers start over) is a new session for its clients.
    pub session: Option<String>,
    /// Round lot published in the stock directory.
    pub round_lot: u32,
    /// Resting orders to preallocate room for.
    pub order_capacity: usize,
}

impl Default for VenueSection {
    fn default() -> Self {
        VenueSection {
            session: None,
            round_lot: 100,
            order_capacity: 1 << 16,
        }
    }
}

/// One `[[symbols]]` entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SymbolConfig {
    /// Ticker (1..=8 printable ASCII characters, no spaces).
    pub name: String,
    /// Starting mid of the synthetic flow, a decimal string (`"190.00"`).
    pub mid: String,
}

/// `[market_data]`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MarketDataConfig {
    /// MoldUDP64 session name; default `venue.session`.
    pub session: Option<String>,
    /// Where every downstream packet goes (`ip:port`): multicast groups
    /// and/or unicast receivers.
    pub destinations: Vec<String>,
    /// Local address the feed is sent from (`ip:port`, port 0 = any).
    pub bind: String,
    /// Multicast TTL (hops).
    pub multicast_ttl: u32,
    /// Loop multicast back to receivers on this host.
    pub multicast_loop: bool,
    /// Interface address multicast leaves from (`IP_MULTICAST_IF`); default:
    /// the `bind` address when it is not 0.0.0.0, else the routing table.
    pub multicast_interface: Option<String>,
    /// The re-request server's `ip:port`; `None` serves no re-requests.
    pub request_listen: Option<String>,
    /// Heartbeat after this long without sending, ms.
    pub heartbeat_ms: u64,
    /// Sent messages retained for re-requests.
    pub history_messages: usize,
    /// Message-block bytes per packet (52..=1452).
    pub max_payload: usize,
    /// Flush a partly filled packet after its oldest message waited this
    /// long, µs (0: at once).
    pub flush_us: u64,
    /// End-of-session packets sent on shutdown.
    pub end_of_session_repeats: u32,
}

impl Default for MarketDataConfig {
    fn default() -> Self {
        MarketDataConfig {
            session: None,
            destinations: vec!["239.198.18.1:26400".into()],
            bind: "0.0.0.0:0".into(),
            multicast_ttl: 1,
            multicast_loop: true,
            multicast_interface: None,
            request_listen: None,
            heartbeat_ms: 1000,
            history_messages: 1 << 20,
            max_payload: 1400,
            flush_us: 0,
            end_of_session_repeats: 3,
        }
    }
}

/// One `[[order_ports]]` entry: a SoupBinTCP listener.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortConfig {
    /// Listen address `ip:port` (port 0: any free port, printed at start-up).
    pub listen: String,
    /// OUCH dialect spoken on the port: `"ouch50"` or `"ouch42"`.
    pub dialect: Dialect,
    /// Accounts allowed to log in.
    pub users: Vec<UserConfig>,
    /// Cancel an account's resting orders when its connection ends without
    /// the venue ending the session: a drop, a silence timeout, a logout, or a
    /// newer login of the same account taking over.
    #[serde(default = "yes")]
    pub cancel_on_disconnect: bool,
    /// Server heartbeat after this long without sending, ms.
    #[serde(default = "default_heartbeat_ms")]
    pub heartbeat_ms: u64,
    /// Drop a client silent for this long, ms.
    #[serde(default = "default_dead_after_ms")]
    pub dead_after_ms: u64,
    /// Drop a connection that has not logged in after this long, ms.
    #[serde(default = "default_login_timeout_ms")]
    pub login_timeout_ms: u64,
    /// MPID published with this port's orders (ITCH `F`); none: anonymous `A`.
    #[serde(default)]
    pub mpid: Option<String>,
}

fn yes() -> bool {
    true
}
fn default_heartbeat_ms() -> u64 {
    1000
}
fn default_dead_after_ms() -> u64 {
    15_000
}
fn default_login_timeout_ms() -> u64 {
    30_000
}

/// One account of a port.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// SoupBinTCP username (1..=6 printable ASCII, no spaces; compared
    /// case-insensitively, as SoupBinTCP specifies).
    pub username: String,
    /// Password (0..=10 printable ASCII, no spaces; case-insensitive).
    pub password: String,
}

/// `[flow]`: the synthetic order flow ([`FlowConfig`]).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FlowSection {
    /// Run the flow at all.
    pub enabled: bool,
    /// PRNG seed (`floe exchange --seed N` overrides it).
    pub seed: u64,
    /// Events per second over all flow symbols.
    pub rate_per_sec: u32,
    /// Symbols the flow trades (names from `[[symbols]]`); empty = all.
    pub symbols: Vec<String>,
    /// Price increment, a decimal string.
    pub tick: String,
    /// Spread between the flow's best bid and offer, ticks.
    pub spread_ticks: u32,
    /// Passive orders go from the touch up to this many ticks behind it.
    pub depth_ticks: u32,
    /// Share of events that move the mid first (0..=1).
    pub walk_share: f64,
    /// Largest mid move per step, ticks.
    pub walk_step_ticks: u32,
    /// The mid stays within this many ticks of its start.
    pub walk_band_ticks: u32,
    /// Smallest order, shares.
    pub size_min: u32,
    /// Largest order, shares.
    pub size_max: u32,
    /// Sizes are multiples of this lot.
    pub lot: u32,
    /// Share of actions that are marketable IOCs (0..=1).
    pub marketable_share: f64,
    /// Share of actions that cancel a resting flow order (0..=1).
    pub cancel_share: f64,
    /// Share of passive orders that are not displayed (0..=1).
    pub hidden_share: f64,
    /// Resting flow orders per symbol before the furthest is withdrawn.
    pub max_resting_per_symbol: usize,
}

impl Default for FlowSection {
    fn default() -> Self {
        let d = FlowConfig::default();
        FlowSection {
            enabled: true,
            seed: d.seed,
            rate_per_sec: d.rate_per_sec,
            symbols: Vec::new(),
            tick: "0.01".into(),
            spread_ticks: d.spread_ticks,
            depth_ticks: d.depth_ticks,
            walk_share: d.walk_share,
            walk_step_ticks: d.walk_step_ticks,
            walk_band_ticks: d.walk_band_ticks,
            size_min: d.size_min,
            size_max: d.size_max,
            lot: d.lot,
            marketable_share: d.marketable_share,
            cancel_share: d.cancel_share,
            hidden_share: d.hidden_share,
            max_resting_per_symbol: d.max_resting_per_symbol,
        }
    }
}

/// Parses a decimal price string with at most four decimals into a
/// [`Price4`]; `None` if it is not one, is negative, or does not fit.
pub fn parse_price(s: &str) -> Option<Price4> {
    let d = Decimal::from_str(s.trim()).ok()?;
    if d.is_sign_negative() {
        return None;
    }
    let scaled = d.checked_mul(Decimal::from(Price4::SCALE))?;
    if !scaled.fract().is_zero() {
        return None;
    }
    scaled.to_u32().filter(|&v| v <= Price4::MAX.0).map(Price4)
}

fn session_name(key: &'static str, s: &str) -> Result<[u8; 10], ConfigError> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > 10 || !b.iter().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(
            key,
            format!("{s:?}: 1 to 10 printable ASCII characters, no spaces"),
        ));
    }
    let mut out = [b' '; 10];
    out[..b.len()].copy_from_slice(b);
    Ok(out)
}

fn credential(
    key: &'static str,
    s: &str,
    max: usize,
    allow_empty: bool,
) -> Result<(), ConfigError> {
    let b = s.as_bytes();
    if (!allow_empty && b.is_empty()) || b.len() > max || !b.iter().all(|c| c.is_ascii_graphic()) {
        return Err(invalid(
            key,
            format!(
                "{s:?}: {}{max} printable ASCII characters, no spaces",
                if allow_empty { "up to " } else { "1 to " }
            ),
        ));
    }
    Ok(())
}

fn share(key: &'static str, v: f64) -> Result<(), ConfigError> {
    if !(0.0..=1.0).contains(&v) {
        return Err(invalid(key, format!("{v} is not in 0..=1")));
    }
    Ok(())
}

impl VenueConfig {
    /// Parses TOML text; `origin` names the source in errors.
    pub fn from_toml(text: &str, origin: &Path) -> Result<VenueConfig, ConfigError> {
        let cfg: VenueConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<VenueConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: PathBuf::from(path),
            source,
        })?;
        VenueConfig::from_toml(&text, path)
    }

    /// The configuration as TOML (what `--print-config` shows).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Checks what serde cannot; names the first offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(s) = &self.venue.session {
            session_name("venue.session", s)?;
        }
        if self.venue.round_lot == 0 {
            return Err(invalid("venue.round_lot", "must be at least 1"));
        }
        if self.venue.order_capacity == 0 {
            return Err(invalid("venue.order_capacity", "must be at least 1"));
        }
        if self.symbols.is_empty() {
            return Err(invalid("symbols", "list at least one symbol"));
        }
        if self.symbols.len() > usize::from(u16::MAX) {
            return Err(invalid("symbols", "at most 65535 symbols"));
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.symbols {
            Symbol::new(&s.name).ok_or_else(|| {
                invalid(
                    "symbols.name",
                    format!("{:?}: 1 to 8 printable ASCII characters", s.name),
                )
            })?;
            if !seen.insert(s.name.as_str()) {
                return Err(invalid(
                    "symbols.name",
                    format!("{} is listed twice", s.name),
                ));
            }
            match parse_price(&s.mid) {
                Some(p) if p.0 > 0 => {}
                _ => {
                    return Err(invalid(
                        "symbols.mid",
                        format!(
                            "{}: {:?} is not a positive price with at most 4 decimals",
                            s.name, s.mid
                        ),
                    ))
                }
            }
        }

        let md = &self.market_data;
        if let Some(s) = &md.session {
            session_name("market_data.session", s)?;
        }
        for d in &md.destinations {
            d.parse::<SocketAddrV4>().map_err(|_| {
                invalid(
                    "market_data.destinations",
                    format!("expected ip:port, got {d:?}"),
                )
            })?;
        }
        md.bind.parse::<SocketAddrV4>().map_err(|_| {
            invalid(
                "market_data.bind",
                format!("expected ip:port, got {:?}", md.bind),
            )
        })?;
        if md.multicast_ttl > 255 {
            return Err(invalid("market_data.multicast_ttl", "at most 255"));
        }
        if let Some(i) = &md.multicast_interface {
            i.parse::<Ipv4Addr>().map_err(|_| {
                invalid(
                    "market_data.multicast_interface",
                    format!("not an IPv4 address: {i:?}"),
                )
            })?;
        }
        if let Some(r) = &md.request_listen {
            r.parse::<SocketAddrV4>().map_err(|_| {
                invalid(
                    "market_data.request_listen",
                    format!("expected ip:port, got {r:?}"),
                )
            })?;
        }
        if md.heartbeat_ms == 0 {
            return Err(invalid("market_data.heartbeat_ms", "must be at least 1"));
        }
        if md.history_messages == 0 {
            return Err(invalid(
                "market_data.history_messages",
                "must be at least 1",
            ));
        }
        if !(52..=1452).contains(&md.max_payload) {
            return Err(invalid(
                "market_data.max_payload",
                "must be in 52..=1452 (one ITCH message, one Ethernet MTU)",
            ));
        }
        if md.end_of_session_repeats == 0 {
            return Err(invalid(
                "market_data.end_of_session_repeats",
                "must be at least 1",
            ));
        }

        if self.order_ports.is_empty() {
            return Err(invalid("order_ports", "configure at least one order port"));
        }
        let mut listens = std::collections::HashSet::new();
        for p in &self.order_ports {
            let addr = p.listen.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    "order_ports.listen",
                    format!("expected ip:port, got {:?}", p.listen),
                )
            })?;
            if addr.port() != 0 && !listens.insert(addr) {
                return Err(invalid(
                    "order_ports.listen",
                    format!("{addr} is configured twice"),
                ));
            }
            if p.users.is_empty() {
                return Err(invalid(
                    "order_ports.users",
                    format!("port {}: list at least one user", p.listen),
                ));
            }
            let mut names = std::collections::HashSet::new();
            for u in &p.users {
                credential(
                    "order_ports.users.username",
                    &u.username,
                    USERNAME_LEN,
                    false,
                )?;
                credential(
                    "order_ports.users.password",
                    &u.password,
                    PASSWORD_LEN,
                    true,
                )?;
                if !names.insert(u.username.to_ascii_uppercase()) {
                    return Err(invalid(
                        "order_ports.users.username",
                        format!("{} is listed twice on {}", u.username, p.listen),
                    ));
                }
            }
            if p.heartbeat_ms == 0 || p.dead_after_ms <= p.heartbeat_ms {
                return Err(invalid(
                    "order_ports.dead_after_ms",
                    "must exceed heartbeat_ms, which must be at least 1",
                ));
            }
            if p.login_timeout_ms == 0 {
                return Err(invalid(
                    "order_ports.login_timeout_ms",
                    "must be at least 1",
                ));
            }
            if let Some(m) = &p.mpid {
                let b = m.as_bytes();
                if b.len() != 4 || !b.iter().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        "order_ports.mpid",
                        format!("{m:?}: exactly 4 letters or digits"),
                    ));
                }
            }
        }

        let f = &self.flow;
        for s in &f.symbols {
            if !self.symbols.iter().any(|l| &l.name == s) {
                return Err(invalid(
                    "flow.symbols",
                    format!("{s} is not listed in [[symbols]]"),
                ));
            }
        }
        match parse_price(&f.tick) {
            Some(p) if p.0 > 0 => {}
            _ => {
                return Err(invalid(
                    "flow.tick",
                    format!(
                        "{:?} is not a positive price with at most 4 decimals",
                        f.tick
                    ),
                ))
            }
        }
        if f.enabled && f.rate_per_sec == 0 {
            return Err(invalid("flow.rate_per_sec", "must be at least 1"));
        }
        if f.spread_ticks == 0 {
            return Err(invalid("flow.spread_ticks", "must be at least 1"));
        }
        if f.lot == 0 {
            return Err(invalid("flow.lot", "must be at least 1"));
        }
        if f.size_min == 0 || f.size_min > f.size_max {
            return Err(invalid(
                "flow.size_min",
                "must be at least 1 and at most flow.size_max",
            ));
        }
        if f.size_max > super::matching::MAX_SHARES {
            return Err(invalid("flow.size_max", "at most 999999 shares"));
        }
        if f.max_resting_per_symbol == 0 {
            return Err(invalid("flow.max_resting_per_symbol", "must be at least 1"));
        }
        share("flow.walk_share", f.walk_share)?;
        share("flow.marketable_share", f.marketable_share)?;
        share("flow.cancel_share", f.cancel_share)?;
        share("flow.hidden_share", f.hidden_share)?;
        if f.marketable_share + f.cancel_share > 1.0 {
            return Err(invalid(
                "flow.marketable_share",
                "marketable_share + cancel_share must not exceed 1",
            ));
        }
        Ok(())
    }

    /// The listed symbols (validated).
    pub fn listed(&self) -> Vec<Symbol> {
        self.symbols
            .iter()
            .filter_map(|s| Symbol::new(&s.name))
            .collect()
    }

    /// The matching engine's listing and sizing.
    pub fn matching(&self) -> MatchingConfig {
        MatchingConfig {
            symbols: self.listed(),
            round_lot: self.venue.round_lot,
            order_capacity: self.venue.order_capacity,
        }
    }

    /// The synthetic flow's parameters, or `None` when the flow is disabled.
    pub fn flow_config(&self) -> Option<FlowConfig> {
        let f = &self.flow;
        if !f.enabled {
            return None;
        }
        let symbols = self
            .symbols
            .iter()
            .filter(|s| f.symbols.is_empty() || f.symbols.contains(&s.name))
            .filter_map(|s| {
                Some(FlowSymbol {
                    symbol: Symbol::new(&s.name)?,
                    mid: parse_price(&s.mid)?,
                })
            })
            .collect();
        Some(FlowConfig {
            seed: f.seed,
            rate_per_sec: f.rate_per_sec,
            symbols,
            tick: parse_price(&f.tick).unwrap_or(Price4(100)),
            spread_ticks: f.spread_ticks,
            depth_ticks: f.depth_ticks,
            walk_share: f.walk_share,
            walk_step_ticks: f.walk_step_ticks,
            walk_band_ticks: f.walk_band_ticks,
            size_min: f.size_min,
            size_max: f.size_max,
            lot: f.lot,
            marketable_share: f.marketable_share,
            cancel_share: f.cancel_share,
            hidden_share: f.hidden_share,
            max_resting_per_symbol: f.max_resting_per_symbol,
            ..FlowConfig::default()
        })
    }

    /// The SoupBinTCP session name (`venue.session`, or `default` — the
    /// caller's start-time name — when not configured), space-padded.
    pub fn soup_session(&self, default: &str) -> [u8; 10] {
        let s = self.venue.session.as_deref().unwrap_or(default);
        session_name("venue.session", s).unwrap_or(*b"FLOE      ")
    }

    /// The publisher's configuration; the MoldUDP64 session is
    /// `market_data.session`, else `venue.session`, else `default`.
    pub fn publisher(&self, default: &str) -> PublisherConfig {
        let md = &self.market_data;
        let name = md
            .session
            .as_deref()
            .or(self.venue.session.as_deref())
            .unwrap_or(default);
        PublisherConfig {
            session: session_name("market_data.session", name).unwrap_or(*b"FLOE      "),
            max_payload: md.max_payload,
            flush_after_ns: md.flush_us.saturating_mul(1000),
            heartbeat_ns: md.heartbeat_ms.saturating_mul(1_000_000),
            history_messages: md.history_messages,
            end_of_session_repeats: md.end_of_session_repeats,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [[symbols]]
        name = "AAPL"
        mid = "190.00"

        [[order_ports]]
        listen = "127.0.0.1:0"
        dialect = "ouch50"
        users = [{ username = "FLOE01", password = "floe" }]
    "#;

    fn parse(text: &str) -> Result<VenueConfig, ConfigError> {
        VenueConfig::from_toml(text, Path::new("venue.toml"))
    }

    #[test]
    fn minimal_config_is_valid_with_defaults() {
        let c = parse(MINIMAL).unwrap();
        assert!(c.order_ports[0].cancel_on_disconnect);
        assert_eq!(c.order_ports[0].heartbeat_ms, 1000);
        assert_eq!(c.order_ports[0].dead_after_ms, 15_000);
        assert_eq!(c.market_data.destinations, ["239.198.18.1:26400"]);
        let f = c.flow_config().unwrap();
        assert_eq!(f.symbols[0].mid, Price4(1_900_000));
        assert_eq!(f.tick, Price4(100));
        // Round trip through --print-config.
        assert_eq!(parse(&c.to_toml()).unwrap(), c);
    }

    #[test]
    fn the_example_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("venue.example.toml");
        let c = VenueConfig::load(&path).unwrap();
        assert_eq!(c.order_ports.len(), 2);
        assert_eq!(c.order_ports[0].listen, "198.18.0.1:15000");
        assert_eq!(c.order_ports[0].dialect, Dialect::Ouch50);
        assert_eq!(c.order_ports[1].listen, "198.18.0.1:15001");
        assert_eq!(c.order_ports[1].dialect, Dialect::Ouch42);
        assert_eq!(c.market_data.destinations, ["239.198.18.1:26400"]);
        assert_eq!(
            c.market_data.request_listen.as_deref(),
            Some("198.18.0.1:26401")
        );
        // The appliance's default credentials log in.
        let appliance = crate::config::OrderConfig::default();
        assert!(c.order_ports[0]
            .users
            .iter()
            .any(|u| u.username == appliance.username && u.password == appliance.password));
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = parse(&format!("{MINIMAL}\n[flow]\nrate = 5\n")).unwrap_err();
        assert!(err.to_string().contains("unknown field `rate`"), "{err}");
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                MINIMAL.replace("\"190.00\"", "\"190.00001\""),
                "symbols.mid",
            ),
            (
                MINIMAL.replace("FLOE01", "TOOLONG1"),
                "order_ports.users.username",
            ),
            (
                MINIMAL.replace("127.0.0.1:0", "localhost"),
                "order_ports.listen",
            ),
            (
                format!("{MINIMAL}\n[market_data]\ndestinations = [\"239.1.1.1\"]\n"),
                "market_data.destinations",
            ),
            (
                format!("{MINIMAL}\n[flow]\nsize_min = 600\nsize_max = 500\n"),
                "flow.size_min",
            ),
            (
                format!("{MINIMAL}\n[flow]\nsymbols = [\"MSFT\"]\n"),
                "flow.symbols",
            ),
            (
                format!("{MINIMAL}\n[venue]\nsession = \"ELEVENCHARS\"\n"),
                "venue.session",
            ),
        ];
        for (text, key) in cases {
            let err = parse(&text).unwrap_err();
            assert!(err.to_string().contains(key), "{key}: {err}");
        }
    }

    #[test]
    fn prices_parse_exactly() {
        assert_eq!(parse_price("12.34"), Some(Price4(123_400)));
        assert_eq!(parse_price("0.0001"), Some(Price4(1)));
        assert_eq!(parse_price("12.34567"), None);
        assert_eq!(parse_price("-1"), None);
        assert_eq!(parse_price("abc"), None);
        assert_eq!(parse_price("214748.3646"), Some(Price4::MAX));
        assert_eq!(parse_price("214748.3647"), None);
    }
}
