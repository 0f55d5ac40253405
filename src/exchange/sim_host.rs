//! [`VenueHost`]: the simulated venue as a host on a [`Nic`], with its own
//! user-space smoltcp 0.14 stack, so that `floe demo` runs the venue and the
//! appliance in one process on a memory NIC pair with no privileges.
//!
//! On the wire it behaves as `floe exchange` does on kernel sockets:
//! - one IPv4 address and one MAC ([`HostOptions::mac`]); the address is the
//!   one the configuration's listen addresses name (`order_ports.listen`,
//!   `market_data.bind`, `request_listen`, `multicast_interface` must agree),
//!   or [`HostOptions::default_ip`] when all are `0.0.0.0`. The interface
//!   answers ARP and resolves its peers by ARP;
//! - per `[[order_ports]]` entry a small fixed set of TCP sockets
//!   ([`HostOptions::sockets_per_port`]), every free one listening, so a
//!   listener is ready again right after each accept. Nagle is off, smoltcp's
//!   delayed ACK kept (as the kernel's). Bytes read go to
//!   [`Venue::on_bytes`], the connection's output
//!   ([`OrderServer::pending`](super::order_server::OrderServer::pending))
//!   is written back each step, a peer's FIN or RST is [`Venue::on_closed`],
//!   and the venue's own closes follow [`CloseKind`] as the kernel's
//!   `close(2)` does (FIN after the written bytes, RST when unread input
//!   remains). A connection the venue closed first is forgotten once it
//!   reaches TIME-WAIT, so a client reconnecting from the same port is
//!   accepted at once (the kernel accepts a new SYN on a TIME-WAIT pair); a
//!   close the peer never completes is reset after [`CLOSE_LINGER`];
//! - every [`Venue::poll_transmit`] packet as one UDP datagram to each
//!   `market_data.destinations` entry: multicast groups go to the group MAC
//!   (`01:00:5e` + low 23 bits) with TTL `market_data.multicast_ttl`,
//!   unicast receivers (resolved by ARP) with TTL 64, from
//!   `market_data.bind` (port 0: [`DEFAULT_FEED_PORT`]). A datagram the
//!   socket cannot take is dropped and counted, as the kernel sender does;
//! - the MoldUDP64 re-request server on `request_listen`, answering each
//!   request with [`Venue::handle_request`], unicast to the requester;
//! - the synthetic flow and every timer through [`Venue::poll`], in venue
//!   time (ns since midnight, [`VenueClock`]).
//!
//! [`VenueHost::step`] is sans-clock: the caller passes venue time, so a
//! deterministic simulation steps the venue and the appliance on one thread
//! with a manual clock. [`VenueHost::spawn`] runs it on its own thread with
//! the monotonic [`VenueClock`].
//!
//! Guarantees: no frame bytes can make anything here panic (smoltcp parses
//! and checks every frame; this module never indexes into one). Allocation
//! happens at construction and inside the venue's own stores (order
//! books, sequenced messages, retained feed history), not per frame.
//! Nothing blocks but the audit file's writes.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use smoltcp::iface::{
    Config as IfaceConfig, Interface, PollIngressSingleResult, SocketHandle, SocketSet,
};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint,
};

use super::config::VenueConfig;
use super::md_server::FeedStats;
use super::order_server::{CloseKind, ConnId, PortSpec};
use super::publisher::MAX_PACKET_LEN;
use super::server::{
    default_session_name, ServerAddresses, ServerError, Venue, VenueClock, VenueStats,
};
use crate::config::{ConfigError, Dialect};
use crate::net::device::IP_MTU;
use crate::net::{DeviceCounters, NicDevice, StackRing};
use crate::nic::{Nic, NicStats, MAX_FRAME_LEN};
use crate::time::Nanos;
use crate::wire::soupbintcp::Session;

/// The venue's MAC unless [`HostOptions::mac`] says otherwise (the
/// `floe-venue` test host's, `02:00:c6:12:00:01`).
pub const DEFAULT_MAC: [u8; 6] = [0x02, 0x00, 0xc6, 0x12, 0x00, 0x01];
/// The venue's address when the configuration names none: 198.18.0.1, where
/// the appliance's defaults (`order.venue`, `feed.request_server`) look.
pub const DEFAULT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// Prefix length of the venue's subnet (the appliance's default is
/// 198.18.0.2/24).
pub const DEFAULT_PREFIX_LEN: u8 = 24;
/// TCP sockets per order port: connections open at once on one port (each
/// free socket listens).
pub const DEFAULT_SOCKETS_PER_PORT: usize = 4;
/// Bytes of each direction of every order-entry socket's buffer.
pub const TCP_BUFFER_BYTES: usize = 64 * 1024;
/// Source port of the feed when `market_data.bind` has port 0.
pub const DEFAULT_FEED_PORT: u16 = 50_000;
/// An order port configured with port 0 gets the lowest free port from here.
pub const FIRST_ORDER_PORT: u16 = 15_000;
/// A connection the venue closed whose peer never finished the close is
/// reset after this long (the kernel's FIN-WAIT-2 timeout).
pub const CLOSE_LINGER: Nanos = Nanos::from_secs(60);
/// Frames buffered between a NIC burst and the interface's ingress.
pub const RX_RING_FRAMES: usize = 256;
/// Market-data packets sent per step at most (more due: the next step runs
/// at once).
pub const FEED_PACKETS_PER_STEP: usize = 256;
/// Re-requests answered per step at most (the kernel server's bound).
pub const REQUESTS_PER_STEP: usize = 1024;
/// Request datagrams longer than this are truncated (the kernel server's
/// receive buffer).
const REQUEST_LEN: usize = 512;
/// NIC bursts per step at most (each up to [`RX_RING_FRAMES`]).
const RX_ROUNDS: usize = 8;
/// Datagrams queued in each feed socket before the interface sends them.
const FEED_TX_PACKETS: usize = 64;
/// Re-request datagrams queued on receive.
const REQUEST_RX_PACKETS: usize = 64;
/// Answers queued on transmit.
const REQUEST_TX_PACKETS: usize = 64;
/// How long [`VenueThread::stop`] lets clients take their last messages.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// How the host sits on its network; [`Default`] lines up with the
/// appliance's defaults (`src/config.rs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostOptions {
    /// The venue's MAC.
    pub mac: [u8; 6],
    /// The address used when every address of the configuration is
    /// unspecified (`0.0.0.0`).
    pub default_ip: Ipv4Addr,
    /// Prefix length of the venue's subnet.
    pub prefix_len: u8,
    /// TCP sockets per order port (at least 1).
    pub sockets_per_port: usize,
    /// The session name when `venue.session` is not configured; `None`: the
    /// start time in Unix seconds, as `floe exchange` names it.
    pub default_session: Option<String>,
    /// Seed of smoltcp's TCP initial sequence numbers; `None`: derived from
    /// the start time and the MAC (deterministic for a given start).
    pub random_seed: Option<u64>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            mac: DEFAULT_MAC,
            default_ip: DEFAULT_IP,
            prefix_len: DEFAULT_PREFIX_LEN,
            sockets_per_port: DEFAULT_SOCKETS_PER_PORT,
            default_session: None,
            random_seed: None,
        }
    }
}

/// The venue configuration that lines up with the appliance's defaults:
/// AAPL, MSFT and NVDA listed; the OUCH 5.0 port 198.18.0.1:15000 with the
/// appliance's default account FLOE01/floe (and DESK02/desk02); an OUCH 4.2
/// port 198.18.0.1:15001 with FLOE01/floe; the feed to 239.198.18.1:26400
/// from 198.18.0.1; re-requests on 198.18.0.1:26401; the synthetic flow on
/// (seed 1, 1,000 events per second). What `venue.example.toml` configures.
pub fn default_config() -> VenueConfig {
    use super::config::{
        FlowSection, MarketDataConfig, PortConfig, SymbolConfig, UserConfig, VenueSection,
    };
    let user = |u: &str, p: &str| UserConfig {
        username: u.into(),
        password: p.into(),
    };
    let port = |listen: &str, dialect: Dialect, users: Vec<UserConfig>| PortConfig {
        listen: listen.into(),
        dialect,
        users,
        cancel_on_disconnect: true,
        heartbeat_ms: 1000,
        dead_after_ms: 15_000,
        login_timeout_ms: 30_000,
        mpid: None,
    };
    let symbol = |name: &str, mid: &str| SymbolConfig {
        name: name.into(),
        mid: mid.into(),
    };
    VenueConfig {
        venue: VenueSection::default(),
        symbols: vec![
            symbol("AAPL", "190.00"),
            symbol("MSFT", "420.00"),
            symbol("NVDA", "120.00"),
        ],
        market_data: MarketDataConfig {
            destinations: vec!["239.198.18.1:26400".into()],
            bind: "198.18.0.1:0".into(),
            multicast_interface: Some("198.18.0.1".into()),
            request_listen: Some("198.18.0.1:26401".into()),
            ..MarketDataConfig::default()
        },
        order_ports: vec![
            port(
                "198.18.0.1:15000",
                Dialect::Ouch50,
                vec![user("FLOE01", "floe"), user("DESK02", "desk02")],
            ),
            port(
                "198.18.0.1:15001",
                Dialect::Ouch42,
                vec![user("FLOE01", "floe")],
            ),
        ],
        flow: FlowSection {
            enabled: true,
            seed: 1,
            ..FlowSection::default()
        },
    }
}

/// TCP connections of the host.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpStats {
    /// Connections accepted (handshake completed).
    pub accepted: u64,
    /// Connections the peer closed with a FIN.
    pub peer_closed: u64,
    /// Connections the peer reset (or that timed out in smoltcp).
    pub peer_reset: u64,
    /// Connections the venue closed (logout, reject, timeout, end of day).
    pub venue_closed: u64,
    /// Of those, closed with a RST (unread input, linger expired).
    pub venue_reset: u64,
    /// TIME-WAIT sockets recycled at once.
    pub time_wait_recycled: u64,
    /// Bytes read from clients.
    pub bytes_in: u64,
    /// Bytes written to clients.
    pub bytes_out: u64,
}

/// Counters of a [`VenueHost`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// The venue's own counters.
    pub venue: VenueStats,
    /// Downstream datagrams (`datagrams`, `send_errors`).
    pub feed: FeedStats,
    /// The re-request server (`requests`, `answers`, `send_errors`).
    pub requests: FeedStats,
    /// Order-entry connections.
    pub tcp: TcpStats,
    /// The NIC's counters.
    pub nic: NicStats,
    /// The smoltcp device adapter's counters.
    pub device: DeviceCounters,
    /// Audit lines produced.
    pub audit_lines: u64,
    /// Calls of [`VenueHost::step`].
    pub steps: u64,
}

/// Where a TCP socket of an order port is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Closed, to be put back to listening.
    Idle,
    /// Listening (or mid-handshake).
    Listening,
    /// A connection the venue knows as this id.
    Open(ConnId),
    /// The venue is done with it; smoltcp finishes the close. Since when.
    Closing(Nanos),
}

struct TcpSlot {
    handle: SocketHandle,
    slot: Slot,
}

struct OrderPort {
    listen: IpListenEndpoint,
    slots: Vec<TcpSlot>,
}

/// One feed destination and the socket that sends to it.
#[derive(Clone, Copy)]
struct FeedDest {
    socket: SocketHandle,
    to: IpEndpoint,
}

fn instant(now: Nanos) -> Instant {
    Instant::from_micros(i64::try_from(now.0 / 1_000).unwrap_or(i64::MAX))
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

fn parse_v4(key: &'static str, s: &str) -> Result<SocketAddrV4, ConfigError> {
    match s.parse::<SocketAddr>() {
        Ok(SocketAddr::V4(a)) => Ok(a),
        Ok(SocketAddr::V6(_)) => Err(invalid(key, format!("{s}: the venue host is IPv4 only"))),
        Err(_) => Err(invalid(key, format!("expected ip:port, got {s:?}"))),
    }
}

/// The one address every configured listen address names (or `default`).
fn host_ip(cfg: &VenueConfig, default: Ipv4Addr) -> Result<Ipv4Addr, ConfigError> {
    let mut found: Option<(Ipv4Addr, &'static str)> = None;
    let mut consider = |ip: Ipv4Addr, key: &'static str| -> Result<(), ConfigError> {
        if ip.is_unspecified() {
            return Ok(());
        }
        if ip.is_loopback() || ip.is_multicast() || ip.is_broadcast() {
            return Err(invalid(
                key,
                format!("{ip} is not an address a host on a NIC can own"),
            ));
        }
        match found {
            None => found = Some((ip, key)),
            Some((f, fkey)) if f != ip => {
                return Err(invalid(
                    key,
                    format!("{ip} differs from {f} ({fkey}): the simulated venue owns one address"),
                ))
            }
            Some(_) => {}
        }
        Ok(())
    };
    for p in &cfg.order_ports {
        consider(
            *parse_v4("order_ports.listen", &p.listen)?.ip(),
            "order_ports.listen",
        )?;
    }
    let md = &cfg.market_data;
    consider(
        *parse_v4("market_data.bind", &md.bind)?.ip(),
        "market_data.bind",
    )?;
    if let Some(r) = &md.request_listen {
        consider(
            *parse_v4("market_data.request_listen", r)?.ip(),
            "market_data.request_listen",
        )?;
    }
    if let Some(i) = &md.multicast_interface {
        let ip: Ipv4Addr = i.parse().map_err(|_| {
            invalid(
                "market_data.multicast_interface",
                format!("not an IPv4 address: {i:?}"),
            )
        })?;
        consider(ip, "market_data.multicast_interface")?;
    }
    Ok(found.map_or(default, |(ip, _)| ip))
}

/// The simulated venue on a NIC; see the module docs.
pub struct VenueHost<N: Nic> {
    nic: N,
    iface: Interface,
    sockets: SocketSet<'static>,
    ports: Vec<OrderPort>,
    feed: Vec<FeedDest>,
    requests: Option<SocketHandle>,
    ring: StackRing,
    scratch: Box<[u8; MAX_FRAME_LEN]>,
    dev: DeviceCounters,
    venue: Venue,
    packet: Vec<u8>,
    request: Box<[u8; REQUEST_LEN]>,
    audit: Option<(PathBuf, BufWriter<File>)>,
    audit_mark: usize,
    stats: HostStats,
    addresses: ServerAddresses,
    ip: Ipv4Addr,
    mac: [u8; 6],
    backlog: bool,
    shut: bool,
}

impl<N: Nic> VenueHost<N> {
    /// The venue of `cfg` on `nic` with the default [`HostOptions`]; its day
    /// starts at `now` (venue time: ns since midnight).
    pub fn new(cfg: &VenueConfig, nic: N, now: Nanos) -> Result<VenueHost<N>, ServerError> {
        VenueHost::with_options(cfg, &HostOptions::default(), nic, now)
    }

    /// The venue of `cfg` on `nic` placed by `opts`; its day starts at `now`
    /// (start-of-day messages are queued for the first [`Self::step`]).
    /// Every socket and buffer of the host is allocated here.
    pub fn with_options(
        cfg: &VenueConfig,
        opts: &HostOptions,
        mut nic: N,
        now: Nanos,
    ) -> Result<VenueHost<N>, ServerError> {
        cfg.validate()?;
        let ip = host_ip(cfg, opts.default_ip)?;
        if !(1..=32).contains(&opts.prefix_len) {
            return Err(invalid("prefix_len", "must be in 1..=32").into());
        }
        let mac = EthernetAddress(opts.mac);
        if !mac.is_unicast() {
            return Err(invalid("mac", format!("{mac} is not a unicast MAC")).into());
        }
        let session_name = match (&cfg.venue.session, &opts.default_session) {
            (Some(s), _) | (None, Some(s)) => s.clone(),
            (None, None) => default_session_name(),
        };
        let session = Session::new(&session_name).map_err(|_| {
            invalid(
                "venue.session",
                format!("{session_name:?} is not a session name"),
            )
        })?;

        // Order ports: the configured port, or the lowest free one.
        let mut used: Vec<u16> = Vec::new();
        for p in &cfg.order_ports {
            let port = parse_v4("order_ports.listen", &p.listen)?.port();
            if port != 0 {
                used.push(port);
            }
        }
        let mut port_numbers = Vec::with_capacity(cfg.order_ports.len());
        for p in &cfg.order_ports {
            let mut port = parse_v4("order_ports.listen", &p.listen)?.port();
            if port == 0 {
                port = FIRST_ORDER_PORT;
                while used.contains(&port) {
                    port = port
                        .checked_add(1)
                        .ok_or_else(|| invalid("order_ports.listen", "no free port for port 0"))?;
                }
                used.push(port);
            }
            port_numbers.push(port);
        }

        let md = &cfg.market_data;
        let mut feed_from = parse_v4("market_data.bind", &md.bind)?;
        feed_from.set_ip(ip);
        let requests_at = match &md.request_listen {
            Some(r) => {
                let mut a = parse_v4("market_data.request_listen", r)?;
                a.set_ip(ip);
                if a.port() == 0 {
                    return Err(invalid(
                        "market_data.request_listen",
                        "the simulated venue needs a fixed port",
                    )
                    .into());
                }
                Some(a)
            }
            None => None,
        };
        if feed_from.port() == 0 {
            let mut p = DEFAULT_FEED_PORT;
            if requests_at.map(|r| r.port()) == Some(p) {
                p += 1;
            }
            feed_from.set_port(p);
        }
        if requests_at.map(|r| r.port()) == Some(feed_from.port()) {
            return Err(invalid(
                "market_data.bind",
                "the feed and the re-request server need different ports",
            )
            .into());
        }
        let destinations = md
            .destinations
            .iter()
            .map(|d| parse_v4("market_data.destinations", d))
            .collect::<Result<Vec<_>, _>>()?;
        let ttl = u8::try_from(md.multicast_ttl)
            .map_err(|_| invalid("market_data.multicast_ttl", "at most 255"))?;

        // The interface.
        let mut ring = StackRing::new(RX_RING_FRAMES);
        let mut scratch = Box::new([0u8; MAX_FRAME_LEN]);
        let mut dev = DeviceCounters::default();
        let mut iconf = IfaceConfig::new(HardwareAddress::Ethernet(mac));
        iconf.random_seed = opts.random_seed.unwrap_or_else(|| {
            let m = opts.mac;
            now.0 ^ u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]]) ^ 0x7e57_f10e
        });
        let mut iface = {
            let mut device = NicDevice::new(&mut nic, &mut ring, &mut scratch, &mut dev);
            Interface::new(iconf, &mut device, instant(now))
        };
        let mut pushed = true;
        iface.update_ip_addrs(|addrs| {
            pushed = addrs
                .push(IpCidr::new(IpAddress::Ipv4(ip), opts.prefix_len))
                .is_ok();
        });
        if !pushed {
            return Err(invalid("ip", "the interface takes no address").into());
        }

        // Sockets: order ports first (they take the SYNs), then the feed and
        // the request server.
        let per_port = opts.sockets_per_port.max(1);
        let mut sockets = SocketSet::new(Vec::with_capacity(cfg.order_ports.len() * per_port + 3));
        let mut ports = Vec::with_capacity(cfg.order_ports.len());
        for &port in &port_numbers {
            let listen = IpListenEndpoint {
                addr: Some(IpAddress::Ipv4(ip)),
                port,
            };
            let mut slots = Vec::with_capacity(per_port);
            for _ in 0..per_port {
                let mut sock = tcp::Socket::new(
                    tcp::SocketBuffer::new(vec![0u8; TCP_BUFFER_BYTES]),
                    tcp::SocketBuffer::new(vec![0u8; TCP_BUFFER_BYTES]),
                );
                sock.set_nagle_enabled(false);
                slots.push(TcpSlot {
                    handle: sockets.add(sock),
                    slot: Slot::Idle,
                });
            }
            ports.push(OrderPort { listen, slots });
        }
        let feed_socket = |sockets: &mut SocketSet<'static>, hop_limit: Option<u8>| {
            let mut sock = udp::Socket::new(
                udp::PacketBuffer::new(Vec::new(), Vec::new()),
                udp::PacketBuffer::new(
                    vec![udp::PacketMetadata::EMPTY; FEED_TX_PACKETS],
                    vec![0u8; FEED_TX_PACKETS * IP_MTU],
                ),
            );
            sock.set_hop_limit(hop_limit);
            sock.bind(IpEndpoint::new(IpAddress::Ipv4(ip), feed_from.port()))
                .map(|()| sockets.add(sock))
                .map_err(|e| invalid("market_data.bind", e.to_string()))
        };
        let mut multicast = None;
        let mut unicast = None;
        let mut feed = Vec::with_capacity(destinations.len());
        for d in &destinations {
            let to = IpEndpoint::new(IpAddress::Ipv4(*d.ip()), d.port());
            let socket = if d.ip().is_multicast() {
                if ttl == 0 {
                    // TTL 0: the group never leaves this host.
                    continue;
                }
                match multicast {
                    Some(h) => h,
                    None => *multicast.insert(feed_socket(&mut sockets, Some(ttl))?),
                }
            } else {
                match unicast {
                    Some(h) => h,
                    None => *unicast.insert(feed_socket(&mut sockets, None)?),
                }
            };
            feed.push(FeedDest { socket, to });
        }
        let requests = match requests_at {
            Some(a) => {
                let mut sock = udp::Socket::new(
                    udp::PacketBuffer::new(
                        vec![udp::PacketMetadata::EMPTY; REQUEST_RX_PACKETS],
                        vec![0u8; REQUEST_RX_PACKETS * REQUEST_LEN],
                    ),
                    udp::PacketBuffer::new(
                        vec![udp::PacketMetadata::EMPTY; REQUEST_TX_PACKETS],
                        vec![0u8; REQUEST_TX_PACKETS * IP_MTU],
                    ),
                );
                sock.bind(IpEndpoint::new(IpAddress::Ipv4(ip), a.port()))
                    .map_err(|e| invalid("market_data.request_listen", e.to_string()))?;
                Some((sockets.add(sock), a))
            }
            None => None,
        };

        let specs = cfg
            .order_ports
            .iter()
            .zip(&port_numbers)
            .map(|(p, &n)| PortSpec::from_config(p, n, session))
            .collect();
        let mut venue = Venue::new(cfg, specs, now.0, &session_name)?;
        venue.open(now.0);
        let feed_session = String::from_utf8_lossy(&venue.publisher().config().session)
            .trim_end()
            .to_string();
        let addresses = ServerAddresses {
            order_ports: port_numbers
                .iter()
                .zip(&cfg.order_ports)
                .map(|(&n, p)| (SocketAddr::V4(SocketAddrV4::new(ip, n)), p.dialect))
                .collect(),
            requests: requests.map(|(_, a)| SocketAddr::V4(a)),
            feed: destinations,
            feed_from: SocketAddr::V4(feed_from),
            session: session_name,
            feed_session,
        };
        let mut host = VenueHost {
            nic,
            iface,
            sockets,
            ports,
            feed,
            requests: requests.map(|(h, _)| h),
            ring,
            scratch,
            dev,
            venue,
            packet: vec![0u8; MAX_PACKET_LEN.max(IP_MTU)],
            request: Box::new([0u8; REQUEST_LEN]),
            audit: None,
            audit_mark: 0,
            stats: HostStats::default(),
            addresses,
            ip,
            mac: opts.mac,
            backlog: false,
            shut: false,
        };
        host.maintain_listeners(now);
        Ok(host)
    }

    /// Appends every audit line from now on to `path` (created if missing),
    /// flushed at the end of each step; the lines produced before are
    /// written first.
    pub fn set_audit_file(&mut self, path: &Path) -> Result<(), ServerError> {
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| ServerError::Io {
                what: format!("open the audit file {}", path.display()),
                source,
            })?;
        self.audit = Some((path.to_path_buf(), BufWriter::with_capacity(1 << 16, f)));
        self.write_audit();
        Ok(())
    }

    /// Audit lines produced and not yet taken (newline-terminated JSON),
    /// when no audit file is set: the caller takes them (all at once, e.g.
    /// `std::mem::take`). With an audit file this stays empty.
    pub fn audit_lines(&mut self) -> &mut Vec<u8> {
        self.venue.audit_lines()
    }

    /// Where the venue listens and sends.
    pub fn addresses(&self) -> &ServerAddresses {
        &self.addresses
    }

    /// The venue's IPv4 address.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The venue's MAC.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The sans-IO venue inside.
    pub fn venue(&self) -> &Venue {
        &self.venue
    }

    /// The NIC.
    pub fn nic(&self) -> &N {
        &self.nic
    }

    /// The NIC, mutably (a wrapper's controls).
    pub fn nic_mut(&mut self) -> &mut N {
        &mut self.nic
    }

    /// Gives the NIC back.
    pub fn into_nic(self) -> N {
        self.nic
    }

    /// Counters so far.
    pub fn stats(&self) -> HostStats {
        HostStats {
            venue: self.venue.stats(),
            nic: self.nic.stats(),
            device: self.dev,
            ..self.stats
        }
    }

    /// Order-entry connections open now.
    pub fn connections(&self) -> usize {
        self.slots().filter(|s| matches!(s, Slot::Open(_))).count()
    }

    fn slots(&self) -> impl Iterator<Item = Slot> + '_ {
        self.ports
            .iter()
            .flat_map(|p| p.slots.iter().map(|s| s.slot))
    }

    /// One step at venue time `now`: every received frame through the
    /// interface (ARP answered, segments and requests into the sockets),
    /// new connections accepted, client bytes to the venue, re-requests
    /// answered, the flow and the timers run, the connections' output
    /// written, the due market-data packets sent, the audit lines written,
    /// and everything due transmitted. Returns true if it did anything.
    pub fn step(&mut self, now: Nanos) -> bool {
        self.stats.steps += 1;
        let before = self.activity();
        self.backlog = false;
        {
            let lines = self.venue.audit_lines();
            self.audit_mark = self.audit_mark.min(lines.len());
        }
        let mut rx = 0;
        let mut full = false;
        for _ in 0..RX_ROUNDS {
            let budget = self.ring.capacity() - self.ring.len();
            if budget == 0 {
                break;
            }
            let VenueHost { nic, ring, dev, .. } = self;
            let n = nic.rx_burst(now, budget, &mut |frame: &[u8], _ts: Nanos| {
                if ring.push(frame) {
                    dev.rx_queued += 1;
                } else {
                    dev.rx_ring_full += 1;
                }
            });
            rx += n;
            self.ingress(now);
            self.service_tcp(now);
            full = n == budget;
            if !full {
                break;
            }
        }
        // Frames may still wait in the NIC: the next step runs at once.
        self.backlog |= full;
        self.service_tcp(now);
        self.serve_requests(now);
        self.venue.poll(now.0);
        self.write_connections(now);
        self.send_feed(now);
        self.write_audit();
        self.egress(now);
        self.maintain_listeners(now);
        rx > 0 || self.activity() != before
    }

    /// Counters whose change means a step did something.
    fn activity(&self) -> [u64; 6] {
        [
            self.dev.tx_frames + self.dev.tx_dropped,
            self.stats.tcp.bytes_in + self.stats.tcp.accepted,
            self.stats.tcp.bytes_out,
            self.stats.feed.datagrams + self.stats.feed.send_errors,
            self.stats.requests.requests,
            self.stats.audit_lines,
        ]
    }

    /// Venue time at which [`Self::step`] next has work without a frame
    /// arriving (`now` or earlier: at once; [`Nanos::MAX`]: nothing
    /// scheduled).
    pub fn poll_at(&mut self, now: Nanos) -> Nanos {
        if self.backlog || !self.ring.is_empty() {
            return now;
        }
        let mut at = Nanos(self.venue.poll_timeout());
        if let Some(t) = self.iface.poll_at(instant(now), &self.sockets) {
            let us = u64::try_from(t.total_micros()).unwrap_or(0);
            at = at.min(Nanos(us.saturating_mul(1_000)));
        }
        for p in &self.ports {
            for s in &p.slots {
                if let Slot::Closing(since) = s.slot {
                    at = at.min(since + CLOSE_LINGER);
                }
            }
        }
        at
    }

    /// How long until [`Self::step`] has work without a frame arriving
    /// (zero: now).
    pub fn poll_delay(&mut self, now: Nanos) -> Nanos {
        self.poll_at(now).since(now)
    }

    /// Ends the day at `now`: closing market events and every end-of-session
    /// packet on the feed at once, the end-of-day System Event and `Z` to
    /// every logged-in session (written by the next steps, each connection
    /// closed once written), no new connections. Keep stepping until
    /// [`Self::is_finished`] (bounded) to let clients take their output.
    pub fn shutdown(&mut self, now: Nanos) {
        if self.shut {
            return;
        }
        self.shut = true;
        self.venue.shutdown(now.0);
        // The end-of-session packets go out back to back, as the kernel
        // venue sends them.
        let mut left = 1024;
        while !self.venue.feed_finished() && left > 0 {
            left -= 1;
            let Some(due) = self.venue.feed_due() else {
                break;
            };
            match self.venue.poll_transmit(due.max(now.0), &mut self.packet) {
                Some(n) => self.send_datagram(now, n),
                None => break,
            }
        }
        for p in &mut self.ports {
            for s in &mut p.slots {
                if s.slot == Slot::Listening {
                    self.sockets.get_mut::<tcp::Socket>(s.handle).abort();
                }
            }
        }
        self.step(now);
    }

    /// True after [`Self::shutdown`] once the feed's end of session is sent
    /// and every connection is closed.
    pub fn is_finished(&self) -> bool {
        self.shut
            && self.venue.feed_finished()
            && self
                .slots()
                .all(|s| matches!(s, Slot::Idle | Slot::Listening))
    }

    /// Frames in the ring into the interface, one at a time.
    fn ingress(&mut self, now: Nanos) {
        if self.ring.is_empty() {
            return;
        }
        let t = instant(now);
        let mut device = NicDevice::new(
            &mut self.nic,
            &mut self.ring,
            &mut self.scratch,
            &mut self.dev,
        );
        for _ in 0..=RX_RING_FRAMES {
            if self
                .iface
                .poll_ingress_single(t, &mut device, &mut self.sockets)
                == PollIngressSingleResult::None
            {
                break;
            }
        }
    }

    /// Everything due out of the interface, then a NIC flush.
    fn egress(&mut self, now: Nanos) {
        {
            let mut device = NicDevice::new(
                &mut self.nic,
                &mut self.ring,
                &mut self.scratch,
                &mut self.dev,
            );
            self.iface
                .poll(instant(now), &mut device, &mut self.sockets);
        }
        let _ = self.nic.tx_flush();
    }

    /// Accepts finished handshakes, reads what clients sent, notices the
    /// connections the peers closed.
    fn service_tcp(&mut self, now: Nanos) {
        let VenueHost {
            ports,
            sockets,
            venue,
            stats,
            ..
        } = self;
        for (pi, port) in ports.iter_mut().enumerate() {
            for s in &mut port.slots {
                let sock = sockets.get_mut::<tcp::Socket>(s.handle);
                if s.slot == Slot::Listening {
                    match sock.state() {
                        tcp::State::Listen | tcp::State::SynReceived => continue,
                        tcp::State::Established | tcp::State::CloseWait => {
                            stats.tcp.accepted += 1;
                            s.slot = Slot::Open(venue.accept(pi, now.0));
                        }
                        // A handshake that failed (reset, timed out).
                        _ => {
                            s.slot = Slot::Idle;
                            continue;
                        }
                    }
                }
                let Slot::Open(id) = s.slot else {
                    continue;
                };
                if venue.orders().close_kind(id).is_none() {
                    // Bounded: each pass takes a contiguous piece of the
                    // receive buffer, at most two per buffer's content.
                    for _ in 0..4 {
                        if !sock.can_recv() {
                            break;
                        }
                        let got = sock.recv(|buf: &mut [u8]| {
                            venue.on_bytes(id, now.0, buf);
                            (buf.len(), buf.len())
                        });
                        match got {
                            Ok(n) if n > 0 => stats.tcp.bytes_in += n as u64,
                            _ => break,
                        }
                        if venue.orders().close_kind(id).is_some() {
                            break;
                        }
                    }
                }
                match sock.state() {
                    tcp::State::Closed | tcp::State::TimeWait => {
                        // Reset by the peer (or timed out).
                        stats.tcp.peer_reset += 1;
                        venue.on_closed(id, now.0);
                        s.slot = Slot::Closing(now);
                    }
                    _ if !sock.may_recv() && venue.orders().close_kind(id).is_none() => {
                        // The peer's FIN, everything before it read: the
                        // kernel venue's `read() == 0`.
                        stats.tcp.peer_closed += 1;
                        venue.on_closed(id, now.0);
                        sock.close();
                        s.slot = Slot::Closing(now);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Answers the waiting re-requests (at most [`REQUESTS_PER_STEP`]).
    fn serve_requests(&mut self, now: Nanos) {
        let Some(h) = self.requests else {
            return;
        };
        for _ in 0..REQUESTS_PER_STEP {
            let (len, from) = match self.sockets.get_mut::<udp::Socket>(h).recv() {
                Ok((data, meta)) => {
                    let n = data.len().min(REQUEST_LEN);
                    self.request[..n].copy_from_slice(&data[..n]);
                    (n, meta.endpoint)
                }
                Err(_) => return,
            };
            self.stats.requests.requests += 1;
            let Some(n) = self
                .venue
                .handle_request(&self.request[..len], &mut self.packet)
            else {
                continue;
            };
            let Some(answer) = self.packet.get(..n) else {
                continue;
            };
            let sock = self.sockets.get_mut::<udp::Socket>(h);
            let mut sent = sock.send_slice(answer, from).is_ok();
            if !sent {
                self.egress(now);
                let answer = self.packet.get(..n).unwrap_or(&[]);
                sent = self
                    .sockets
                    .get_mut::<udp::Socket>(h)
                    .send_slice(answer, from)
                    .is_ok();
            }
            if sent {
                self.stats.requests.answers += 1;
            } else {
                self.stats.requests.send_errors += 1;
            }
        }
        self.backlog = true;
    }

    /// Writes every connection's pending output into its socket; closes the
    /// connections the venue is done with.
    fn write_connections(&mut self, now: Nanos) {
        let VenueHost {
            ports,
            sockets,
            venue,
            stats,
            ..
        } = self;
        for port in ports.iter_mut() {
            for s in &mut port.slots {
                let Slot::Open(id) = s.slot else {
                    continue;
                };
                let sock = sockets.get_mut::<tcp::Socket>(s.handle);
                let mut failed = false;
                loop {
                    let pending = venue.orders().pending(id);
                    if pending.is_empty() {
                        break;
                    }
                    if !sock.may_send() {
                        failed = true;
                        break;
                    }
                    match sock.send_slice(pending) {
                        Ok(0) => break,
                        Ok(n) => {
                            stats.tcp.bytes_out += n as u64;
                            venue.orders_mut().wrote(id, n);
                        }
                        Err(_) => {
                            failed = true;
                            break;
                        }
                    }
                }
                let flushed = venue.orders().pending(id).is_empty();
                let close = match venue.orders().close_kind(id) {
                    Some(CloseKind::Now) => true,
                    Some(CloseKind::AfterFlush) => failed || flushed,
                    None => false,
                };
                if close {
                    stats.tcp.venue_closed += 1;
                    if failed || sock.recv_queue() > 0 {
                        // close(2) with unread input resets.
                        stats.tcp.venue_reset += 1;
                        sock.abort();
                    } else {
                        sock.close();
                    }
                    venue.orders_mut().release(id);
                    s.slot = Slot::Closing(now);
                } else if failed {
                    stats.tcp.peer_reset += 1;
                    sock.abort();
                    venue.on_closed(id, now.0);
                    s.slot = Slot::Closing(now);
                }
            }
        }
    }

    /// Sends the due market-data packets (at most [`FEED_PACKETS_PER_STEP`]).
    fn send_feed(&mut self, now: Nanos) {
        for _ in 0..FEED_PACKETS_PER_STEP {
            match self.venue.poll_transmit(now.0, &mut self.packet) {
                Some(n) => self.send_datagram(now, n),
                None => return,
            }
        }
        self.backlog = true;
    }

    /// `packet[..n]` to every feed destination; a socket that cannot take
    /// it gets one egress to make room, then the datagram is dropped.
    fn send_datagram(&mut self, now: Nanos, n: usize) {
        for i in 0..self.feed.len() {
            let Some(&FeedDest { socket, to }) = self.feed.get(i) else {
                continue;
            };
            let mut sent = self.try_send(socket, to, n);
            if !sent {
                self.egress(now);
                sent = self.try_send(socket, to, n);
            }
            if sent {
                self.stats.feed.datagrams += 1;
            } else {
                self.stats.feed.send_errors += 1;
            }
        }
    }

    fn try_send(&mut self, socket: SocketHandle, to: IpEndpoint, n: usize) -> bool {
        let Some(data) = self.packet.get(..n) else {
            return false;
        };
        self.sockets
            .get_mut::<udp::Socket>(socket)
            .send_slice(data, to)
            .is_ok()
    }

    /// Counts the new audit lines; writes them to the audit file if set.
    fn write_audit(&mut self) {
        let lines = self.venue.audit_lines();
        let new = lines
            .get(self.audit_mark..)
            .unwrap_or(&[])
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.stats.audit_lines += new as u64;
        match &mut self.audit {
            Some((path, w)) => {
                if !lines.is_empty() {
                    if let Err(e) = w.write_all(lines).and_then(|()| w.flush()) {
                        tracing::error!(path = %path.display(), error = %e, "audit write failed");
                    }
                    lines.clear();
                }
                self.audit_mark = 0;
            }
            None => self.audit_mark = lines.len(),
        }
    }

    /// Puts closed sockets back to listening (after the interface sent
    /// their last RST), recycles TIME-WAIT at once, resets a close the peer
    /// never completes.
    fn maintain_listeners(&mut self, now: Nanos) {
        let VenueHost {
            ports,
            sockets,
            stats,
            shut,
            ..
        } = self;
        for port in ports.iter_mut() {
            for s in &mut port.slots {
                let sock = sockets.get_mut::<tcp::Socket>(s.handle);
                if let Slot::Closing(since) = s.slot {
                    match sock.state() {
                        // Closed, and any RST it owed has gone out.
                        tcp::State::Closed if sock.remote_endpoint().is_none() => {
                            s.slot = Slot::Idle;
                        }
                        tcp::State::Closed => {}
                        tcp::State::TimeWait => {
                            // Both FINs are acknowledged; `listen` below
                            // forgets the connection without a segment.
                            stats.tcp.time_wait_recycled += 1;
                            sock.abort();
                            s.slot = Slot::Idle;
                        }
                        _ if now.since(since) >= CLOSE_LINGER => {
                            stats.tcp.venue_reset += 1;
                            sock.abort();
                        }
                        _ => {}
                    }
                }
                if s.slot == Slot::Idle && !*shut && sock.listen(port.listen).is_ok() {
                    s.slot = Slot::Listening;
                }
            }
        }
    }
}

/// The simulated venue running on its own thread ([`VenueHost::spawn`]).
pub struct VenueThread<N: Nic + 'static> {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<(HostStats, N)>>,
    addresses: ServerAddresses,
    ip: Ipv4Addr,
    mac: [u8; 6],
}

/// How a [`VenueThread`] idles (the machine's cores are shared with the
/// appliance's hot thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleOptions {
    /// After a step with work, spin (yielding the core each time) this long
    /// before parking.
    pub spin: Duration,
    /// Then park at most this long per idle step (a frame arriving waits
    /// for the end of the park).
    pub park: Duration,
}

impl Default for IdleOptions {
    fn default() -> Self {
        IdleOptions {
            spin: Duration::from_millis(2),
            park: Duration::from_micros(200),
        }
    }
}

impl<N: Nic + 'static> VenueHost<N> {
    /// Starts the venue of `cfg` on `nic` on a thread of its own, with the
    /// default [`HostOptions`] and [`IdleOptions`], venue time from a
    /// [`VenueClock`] started now; audit lines go to `audit` (appended) or
    /// are dropped (counted).
    pub fn spawn(
        cfg: &VenueConfig,
        nic: N,
        audit: Option<PathBuf>,
    ) -> Result<VenueThread<N>, ServerError> {
        VenueHost::spawn_with(
            cfg,
            &HostOptions::default(),
            IdleOptions::default(),
            nic,
            audit,
        )
    }

    /// [`Self::spawn`] with explicit placement and idling.
    pub fn spawn_with(
        cfg: &VenueConfig,
        opts: &HostOptions,
        idle: IdleOptions,
        nic: N,
        audit: Option<PathBuf>,
    ) -> Result<VenueThread<N>, ServerError> {
        let clock = VenueClock::starting_now();
        let mut host = VenueHost::with_options(cfg, opts, nic, Nanos(clock.now_ns()))?;
        if let Some(path) = &audit {
            host.set_audit_file(path)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let addresses = host.addresses().clone();
        let (ip, mac) = (host.ip(), host.mac());
        let flag = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("floe-venue".into())
            .spawn(move || host.run(clock, &flag, idle, audit.is_some()))
            .map_err(|source| ServerError::Io {
                what: "start the venue thread".into(),
                source,
            })?;
        Ok(VenueThread {
            stop,
            handle: Some(handle),
            addresses,
            ip,
            mac,
        })
    }

    fn run(
        mut self,
        clock: VenueClock,
        stop: &AtomicBool,
        idle: IdleOptions,
        has_file: bool,
    ) -> (HostStats, N) {
        let spin_ns = u64::try_from(idle.spin.as_nanos()).unwrap_or(u64::MAX);
        let mut last_work = clock.now_ns();
        while !stop.load(Ordering::Acquire) {
            let now = clock.now_ns();
            let worked = self.step(Nanos(now));
            if !has_file {
                // Nobody takes the lines: they are counted and dropped.
                self.audit_lines().clear();
            }
            if worked {
                last_work = now;
                continue;
            }
            if now.saturating_sub(last_work) < spin_ns {
                std::thread::yield_now();
            } else {
                let delay = self.poll_delay(Nanos(now));
                let park = Duration::from_nanos(delay.0).min(idle.park);
                if park.is_zero() {
                    std::thread::yield_now();
                } else {
                    std::thread::park_timeout(park);
                }
            }
        }
        self.shutdown(Nanos(clock.now_ns()));
        let deadline = std::time::Instant::now() + SHUTDOWN_FLUSH;
        while !self.is_finished() && std::time::Instant::now() < deadline {
            if !self.step(Nanos(clock.now_ns())) {
                std::thread::yield_now();
            }
            if !has_file {
                self.audit_lines().clear();
            }
        }
        let stats = self.stats();
        (stats, self.nic)
    }
}

impl<N: Nic + 'static> VenueThread<N> {
    /// Where the venue listens and sends.
    pub fn addresses(&self) -> &ServerAddresses {
        &self.addresses
    }

    /// The venue's IPv4 address.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The venue's MAC.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// False once the thread has ended.
    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| !h.is_finished())
    }

    /// Asks the thread to end the day (end of session on the feed, `Z` to
    /// every session) and to stop once clients took their last messages,
    /// at most two seconds later; returns at once. Keep the peer running
    /// meanwhile, then [`Self::join`].
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Release);
        if let Some(h) = &self.handle {
            h.thread().unpark();
        }
    }

    /// [`Self::request_stop`], then [`Self::join`].
    pub fn stop(self) -> HostStats {
        self.request_stop();
        self.join().0
    }

    /// Waits for the thread to end (after [`Self::request_stop`]) and returns
    /// its counters and the NIC (to close a recorder). A panic of the venue
    /// thread is resumed here.
    pub fn join(mut self) -> (HostStats, N) {
        let Some(handle) = self.handle.take() else {
            unreachable!("a VenueThread is joined only once");
        };
        match handle.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<N: Nic + 'static> Drop for VenueThread<N> {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            self.stop.store(true, Ordering::Release);
            handle.thread().unpark();
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::memory::pair;

    #[test]
    fn default_config_is_valid_and_lines_up_with_the_appliance() {
        let cfg = default_config();
        cfg.validate().unwrap();
        let app = crate::config::Config::default();
        assert_eq!(cfg.order_ports[0].listen, app.order.venue);
        assert_eq!(cfg.market_data.destinations, app.feed.groups);
        assert_eq!(cfg.market_data.request_listen, app.feed.request_server);
        assert!(cfg.order_ports[0]
            .users
            .iter()
            .any(|u| u.username == app.order.username && u.password == app.order.password));
        let (_a, b) = pair(16);
        let host = VenueHost::new(&cfg, b, Nanos::from_secs(34_200)).unwrap();
        assert_eq!(host.ip(), DEFAULT_IP);
        assert_eq!(
            host.addresses().order_ports[1].0,
            "198.18.0.1:15001".parse().unwrap()
        );
        assert_eq!(
            host.addresses().feed_from,
            "198.18.0.1:50000".parse().unwrap()
        );
    }

    #[test]
    fn addresses_must_agree() {
        let mut cfg = default_config();
        cfg.market_data.bind = "198.18.0.9:0".into();
        let (_a, b) = pair(16);
        let err = VenueHost::new(&cfg, b, Nanos::ZERO).err().unwrap();
        assert!(err.to_string().contains("market_data.bind"), "{err}");
        let mut cfg = default_config();
        for p in &mut cfg.order_ports {
            p.listen = "127.0.0.1:0".into();
        }
        let (_a, b) = pair(16);
        let err = VenueHost::new(&cfg, b, Nanos::ZERO).err().unwrap();
        assert!(err.to_string().contains("order_ports.listen"), "{err}");
    }

    #[test]
    fn unspecified_addresses_take_the_default_and_free_ports() {
        let mut cfg = default_config();
        cfg.order_ports[0].listen = "0.0.0.0:0".into();
        cfg.order_ports[1].listen = "0.0.0.0:15000".into();
        cfg.market_data.bind = "0.0.0.0:0".into();
        cfg.market_data.multicast_interface = None;
        cfg.market_data.request_listen = Some("0.0.0.0:26401".into());
        let (_a, b) = pair(16);
        let opts = HostOptions {
            default_ip: Ipv4Addr::new(198, 18, 0, 7),
            ..HostOptions::default()
        };
        let host = VenueHost::with_options(&cfg, &opts, b, Nanos::ZERO).unwrap();
        let a = host.addresses();
        assert_eq!(a.order_ports[0].0, "198.18.0.7:15001".parse().unwrap());
        assert_eq!(a.order_ports[1].0, "198.18.0.7:15000".parse().unwrap());
        assert_eq!(a.requests, Some("198.18.0.7:26401".parse().unwrap()));
    }
}
