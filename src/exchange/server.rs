//! `floe exchange`: the simulated venue on the kernel's own sockets, so that
//! floe's user-space TCP/UDP stack always talks to a real, independent one.
//!
//! Two layers:
//! - [`Venue`], sans-IO: the [`MatchingEngine`], the synthetic [`Flow`], the
//!   ITCH [`Publisher`] and the [`OrderServer`], wired together and driven
//!   by venue time (ns since midnight). Every step routes the matching
//!   engine's outputs: reports into the accounts' sequenced stores, market
//!   events into the publisher, audit records into JSON lines.
//! - [`VenueServer`], the socket layer: one thread, one `mio` event loop
//!   over the SoupBinTCP listeners and connections (TCP_NODELAY), the
//!   re-request socket and a waker for shutdown. The loop sleeps in
//!   `epoll_wait` until a socket is ready or the next deadline (flow event,
//!   heartbeat, packet flush) is due, so an order is answered as soon as it
//!   is read and an idle venue uses no CPU; deadlines have the millisecond
//!   resolution of `epoll_wait` (flow events that fall due together are
//!   submitted at their own timestamps). Each iteration, in this order:
//!   read and handle what is ready, run the flow and the timers, write the
//!   order-entry output, send the due market-data packets, and append the
//!   audit lines of the iteration to the audit file and flush it.
//!
//! Venue time is the UTC time of day when the venue started, advanced by
//! the monotonic clock ([`VenueClock`]). Shutdown ([`ShutdownHandle`]) ends
//! the day: end-of-day market events and end-of-session packets on the
//! feed, the end-of-day System Event and `Z` to every logged-in session
//! (after all its sequenced messages), the audit file flushed.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::net::{SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::config::VenueConfig;
use super::flow::{Flow, FlowStats};
use super::matching::{MarketEvent, MatchingEngine, MatchingStats, VenueOutput};
use super::md_server::{FeedSender, FeedStats, RequestServer};
use super::order_server::{CloseKind, ConnId, Ctx, OrderServer, OrderServerStats, PortSpec};
use super::publisher::{Publisher, PublisherStats, MAX_PACKET_LEN};
use crate::config::{ConfigError, Dialect};
use crate::wire::soupbintcp::Session;

/// Nanoseconds in a day.
const DAY_NS: u64 = 86_400 * 1_000_000_000;

/// Errors starting or running the venue.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A socket or file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        source: io::Error,
    },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ServerError {
    let what = what.into();
    move |source| ServerError::Io { what, source }
}

/// Venue time: nanoseconds since UTC midnight of the start, advanced by the
/// monotonic clock (never jumps with the wall clock).
#[derive(Clone, Copy, Debug)]
pub struct VenueClock {
    start_ns: u64,
    origin: Instant,
}

impl VenueClock {
    /// A clock reading the current UTC time of day now.
    pub fn starting_now() -> VenueClock {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        VenueClock::starting_at(
            u64::try_from(since_epoch.as_nanos() % u128::from(DAY_NS)).unwrap_or(0),
        )
    }

    /// A clock reading `start_ns` now.
    pub fn starting_at(start_ns: u64) -> VenueClock {
        VenueClock {
            start_ns,
            origin: Instant::now(),
        }
    }

    /// Venue time now.
    pub fn now_ns(&self) -> u64 {
        self.start_ns
            .saturating_add(u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}

/// The default session name of a venue started now: the Unix time in
/// milliseconds in base 36, ten characters (`0-9A-Z`, zero-padded, so that
/// later names sort after earlier ones), so that a restarted venue — whose
/// sequence numbers start over — is a new session for its clients, even
/// when it restarts within the same second.
pub fn default_session_name() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    session_name_at(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// [`default_session_name`] of the Unix time `ms` (taken modulo 36^10).
pub fn session_name_at(ms: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut v = ms % 36u64.pow(10);
    let mut out = [b'0'; 10];
    for c in out.iter_mut().rev() {
        *c = DIGITS[(v % 36) as usize];
        v /= 36;
    }
    out.iter().map(|&b| b as char).collect()
}

/// The venue's pieces, wired together, sans-IO.
pub struct Venue {
    engine: MatchingEngine,
    flow: Option<Flow>,
    publisher: Publisher,
    orders: OrderServer,
    outputs: Vec<VenueOutput>,
    market: Vec<MarketEvent>,
    audit: Vec<u8>,
    publish_errors: u64,
}

impl Venue {
    /// A venue configured by `cfg`, with the order ports `ports` (see
    /// [`PortSpec::from_config`]), whose day starts at `start_ns`.
    /// `default_session` names the MoldUDP64 session when the configuration
    /// does not.
    pub fn new(
        cfg: &VenueConfig,
        ports: Vec<PortSpec>,
        start_ns: u64,
        default_session: &str,
    ) -> Result<Venue, ConfigError> {
        let mut engine = MatchingEngine::new(&cfg.matching());
        let orders = OrderServer::new(ports, &mut engine).ok_or(ConfigError::Invalid {
            key: "order_ports.users",
            reason: "too many accounts".into(),
        })?;
        Ok(Venue {
            engine,
            flow: cfg.flow_config().map(|f| Flow::new(f, start_ns)),
            publisher: Publisher::new(cfg.publisher(default_session), start_ns),
            orders,
            outputs: Vec::new(),
            market: Vec::new(),
            audit: Vec::new(),
            publish_errors: 0,
        })
    }

    /// Start of day: the feed's system events and stock directory, and the
    /// start-of-day System Event of every account.
    pub fn open(&mut self, now: u64) {
        self.engine.open(now, &mut self.outputs);
        self.orders.open(now);
        self.route(now);
    }

    fn route(&mut self, now: u64) {
        self.orders
            .route(&mut self.outputs, &mut self.market, &mut self.audit);
        self.publish(now);
    }

    fn publish(&mut self, now: u64) {
        for m in self.market.drain(..) {
            if self.publisher.publish(now, &m).is_err() {
                self.publish_errors += 1;
            }
        }
    }

    fn ctx(&mut self) -> (&mut OrderServer, Ctx<'_>) {
        (
            &mut self.orders,
            Ctx {
                engine: &mut self.engine,
                market: &mut self.market,
                audit: &mut self.audit,
            },
        )
    }

    /// A connection to order port `port` (index in the configuration) was
    /// accepted.
    pub fn accept(&mut self, port: usize, now: u64) -> ConnId {
        self.orders.accept(port, now)
    }

    /// Bytes read from a connection.
    pub fn on_bytes(&mut self, id: ConnId, now: u64, data: &[u8]) {
        let (orders, mut ctx) = self.ctx();
        orders.on_bytes(id, now, data, &mut ctx);
        self.publish(now);
    }

    /// The peer closed a connection (or it failed).
    pub fn on_closed(&mut self, id: ConnId, now: u64) {
        let (orders, mut ctx) = self.ctx();
        orders.on_closed(id, now, &mut ctx);
        self.publish(now);
    }

    /// Runs everything due by `now`: flow events, session timers, the
    /// movement of sequenced messages into connection outputs.
    pub fn poll(&mut self, now: u64) {
        if let Some(flow) = &mut self.flow {
            if flow.poll(now, &mut self.engine, &mut self.outputs) > 0 {
                self.orders
                    .route(&mut self.outputs, &mut self.market, &mut self.audit);
            }
        }
        let (orders, mut ctx) = self.ctx();
        orders.pump(now, &mut ctx);
        self.publish(now);
    }

    /// Venue time at which [`Self::poll`] or [`Self::poll_transmit`] next has
    /// something to do.
    pub fn poll_timeout(&self) -> u64 {
        let flow = self.flow.as_ref().map_or(u64::MAX, Flow::next_due);
        flow.min(self.orders.poll_timeout())
            .min(self.publisher.poll_timeout().unwrap_or(u64::MAX))
    }

    /// The next due market-data packet, written into `buf` (see
    /// [`Publisher::poll_transmit`]).
    pub fn poll_transmit(&mut self, now: u64, buf: &mut [u8]) -> Option<usize> {
        self.publisher.poll_transmit(now, buf)
    }

    /// Answers a MoldUDP64 re-request from the retained history.
    pub fn handle_request(&mut self, request: &[u8], buf: &mut [u8]) -> Option<usize> {
        self.publisher.handle_request(request, buf)
    }

    /// Audit lines produced so far and not yet taken (newline-terminated
    /// JSON); the caller writes and clears them.
    pub fn audit_lines(&mut self) -> &mut Vec<u8> {
        &mut self.audit
    }

    /// End of the day: closing market events and end of session on the
    /// feed, End of Session to every logged-in client.
    pub fn shutdown(&mut self, now: u64) {
        self.engine.close(now, &mut self.outputs);
        self.route(now);
        self.publisher.end_session();
        self.orders.shutdown(now);
    }

    /// True once the feed's end-of-session packets have all been handed out.
    pub fn feed_finished(&self) -> bool {
        self.publisher.is_finished()
    }

    /// The next time the publisher has a packet due (`None` when finished).
    pub fn feed_due(&self) -> Option<u64> {
        self.publisher.poll_timeout()
    }

    /// The order-entry server.
    pub fn orders(&self) -> &OrderServer {
        &self.orders
    }

    /// The order-entry server, for the socket layer's writes.
    pub fn orders_mut(&mut self) -> &mut OrderServer {
        &mut self.orders
    }

    /// The matching engine.
    pub fn engine(&self) -> &MatchingEngine {
        &self.engine
    }

    /// The publisher.
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// What the venue has done.
    pub fn stats(&self) -> VenueStats {
        VenueStats {
            orders: self.orders.stats(),
            matching: self.engine.stats(),
            publisher: self.publisher.stats(),
            flow: self.flow.as_ref().map(Flow::stats),
            publish_errors: self.publish_errors,
        }
    }
}

/// Counters of a venue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VenueStats {
    /// Order entry.
    pub orders: OrderServerStats,
    /// Matching.
    pub matching: MatchingStats,
    /// The ITCH publisher.
    pub publisher: PublisherStats,
    /// The synthetic flow, if it runs.
    pub flow: Option<FlowStats>,
    /// Market events the publisher refused (after the end of session).
    pub publish_errors: u64,
}

/// Counters of a venue server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// The venue.
    pub venue: VenueStats,
    /// The downstream feed socket.
    pub feed: FeedStats,
    /// The re-request socket.
    pub requests: FeedStats,
    /// Audit lines written.
    pub audit_lines: u64,
}

/// Where a running venue listens and sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerAddresses {
    /// Each order port's bound address and dialect, in configuration order.
    pub order_ports: Vec<(SocketAddr, Dialect)>,
    /// The re-request server's bound address.
    pub requests: Option<SocketAddr>,
    /// Market-data destinations.
    pub feed: Vec<SocketAddrV4>,
    /// The feed socket's local address.
    pub feed_from: SocketAddr,
    /// The SoupBinTCP session.
    pub session: String,
    /// The MoldUDP64 session.
    pub feed_session: String,
}

impl std::fmt::Display for ServerAddresses {
    /// The start-up line: `key=value` fields separated by spaces.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("floe exchange listening:")?;
        for (a, d) in &self.order_ports {
            let d = match d {
                Dialect::Ouch50 => "ouch50",
                Dialect::Ouch42 => "ouch42",
            };
            write!(f, " order={a}/{d}")?;
        }
        if let Some(r) = self.requests {
            write!(f, " rerequest={r}")?;
        }
        for d in &self.feed {
            write!(f, " feed={d}")?;
        }
        write!(
            f,
            " feed_from={} session={} feed_session={}",
            self.feed_from, self.session, self.feed_session
        )
    }
}

/// Stops a running [`VenueServer`] from another thread (a signal handler).
#[derive(Clone)]
pub struct ShutdownHandle {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Asks the server to end the day and return from [`VenueServer::run`].
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Err(e) = self.waker.wake() {
            tracing::warn!(error = %e, "cannot wake the venue's event loop");
        }
    }
}

const WAKER: Token = Token(0);
const REQUESTS: Token = Token(1);
const LISTENER_BASE: usize = 2;
const CONN_BASE: usize = 1 << 20;

/// How long shutdown waits for clients to take their last messages.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(2);

/// Counters are logged this often.
const STATS_EVERY_NS: u64 = 60 * 1_000_000_000;

struct Listener {
    socket: TcpListener,
    addr: SocketAddr,
    dialect: Dialect,
}

/// The simulated venue on kernel sockets.
pub struct VenueServer {
    poll: Poll,
    events: Events,
    ready: Vec<Token>,
    listeners: Vec<Listener>,
    sockets: Vec<Option<TcpStream>>,
    feed: FeedSender,
    requests: Option<RequestServer>,
    venue: Venue,
    audit: Option<(PathBuf, BufWriter<File>)>,
    audit_lines: u64,
    clock: VenueClock,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    packet: Vec<u8>,
    read_buf: Vec<u8>,
    addresses: ServerAddresses,
}

impl VenueServer {
    /// Binds every socket of `cfg`, opens the audit file (appending) and
    /// starts the day. Nothing runs until [`Self::run`].
    pub fn bind(cfg: &VenueConfig, audit: Option<&Path>) -> Result<VenueServer, ServerError> {
        cfg.validate()?;
        let poll = Poll::new().map_err(io_err("create the event loop"))?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER).map_err(io_err("create a waker"))?);
        let default_session = default_session_name();
        let session_name = cfg
            .venue
            .session
            .clone()
            .unwrap_or_else(|| default_session.clone());
        let session = Session::new(&session_name).map_err(|_| ConfigError::Invalid {
            key: "venue.session",
            reason: format!("{session_name:?} is not a session name"),
        })?;

        let mut listeners = Vec::new();
        let mut specs = Vec::new();
        for (i, p) in cfg.order_ports.iter().enumerate() {
            let want: SocketAddr = p.listen.parse().map_err(|_| ConfigError::Invalid {
                key: "order_ports.listen",
                reason: format!("expected ip:port, got {:?}", p.listen),
            })?;
            let mut socket =
                TcpListener::bind(want).map_err(io_err(format!("listen on {want}")))?;
            let addr = socket
                .local_addr()
                .map_err(io_err("read a listener's address"))?;
            poll.registry()
                .register(&mut socket, Token(LISTENER_BASE + i), Interest::READABLE)
                .map_err(io_err("register a listener"))?;
            specs.push(PortSpec::from_config(p, addr.port(), session));
            listeners.push(Listener {
                socket,
                addr,
                dialect: p.dialect,
            });
        }

        let feed = FeedSender::bind(&cfg.market_data).map_err(io_err(format!(
            "bind the feed socket {}",
            cfg.market_data.bind
        )))?;
        let mut requests = match &cfg.market_data.request_listen {
            Some(r) => {
                let addr: SocketAddrV4 = r.parse().map_err(|_| ConfigError::Invalid {
                    key: "market_data.request_listen",
                    reason: format!("expected ip:port, got {r:?}"),
                })?;
                Some(
                    RequestServer::bind(addr)
                        .map_err(io_err(format!("bind the re-request server {addr}")))?,
                )
            }
            None => None,
        };
        if let Some(r) = &mut requests {
            poll.registry()
                .register(r.socket_mut(), REQUESTS, Interest::READABLE)
                .map_err(io_err("register the re-request socket"))?;
        }

        let audit = match audit {
            Some(path) => {
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(io_err(format!("open the audit file {}", path.display())))?;
                Some((path.to_path_buf(), BufWriter::with_capacity(1 << 16, f)))
            }
            None => None,
        };

        let clock = VenueClock::starting_now();
        let start = clock.now_ns();
        let mut venue = Venue::new(cfg, specs, start, &session_name)?;
        venue.open(start);
        let feed_session = String::from_utf8_lossy(&venue.publisher().config().session)
            .trim_end()
            .to_string();
        let addresses = ServerAddresses {
            order_ports: listeners.iter().map(|l| (l.addr, l.dialect)).collect(),
            requests: requests.as_ref().and_then(|r| r.local_addr().ok()),
            feed: feed.destinations().to_vec(),
            feed_from: feed
                .local_addr()
                .map_err(io_err("read the feed socket's address"))?,
            session: session_name,
            feed_session,
        };
        Ok(VenueServer {
            poll,
            events: Events::with_capacity(256),
            ready: Vec::with_capacity(256),
            listeners,
            sockets: Vec::new(),
            feed,
            requests,
            venue,
            audit,
            audit_lines: 0,
            clock,
            stop: Arc::new(AtomicBool::new(false)),
            waker,
            packet: vec![0; MAX_PACKET_LEN.max(1500)],
            read_buf: vec![0; 64 * 1024],
            addresses,
        })
    }

    /// Where the venue listens and sends.
    pub fn addresses(&self) -> &ServerAddresses {
        &self.addresses
    }

    /// A handle that stops [`Self::run`].
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            stop: Arc::clone(&self.stop),
            waker: Arc::clone(&self.waker),
        }
    }

    /// Runs the event loop until [`ShutdownHandle::shutdown`], then ends the
    /// day and returns the counters.
    pub fn run(mut self) -> Result<ServerStats, ServerError> {
        let mut backlog = false;
        let mut next_stats = self.clock.now_ns().saturating_add(STATS_EVERY_NS);
        while !self.stop.load(Ordering::SeqCst) {
            let now = self.clock.now_ns();
            let due = self.venue.poll_timeout().min(next_stats);
            let timeout = if backlog || due <= now {
                Duration::ZERO
            } else {
                Duration::from_nanos((due - now).min(1_000_000_000))
            };
            match self.poll.poll(&mut self.events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err("wait for sockets")(e)),
            }
            let now = self.clock.now_ns();
            self.ready.clear();
            self.ready.extend(self.events.iter().map(|e| e.token()));
            backlog = false;
            for i in 0..self.ready.len() {
                match self.ready[i] {
                    WAKER => {}
                    REQUESTS => backlog = self.serve_requests(),
                    Token(t) if (LISTENER_BASE..CONN_BASE).contains(&t) => {
                        self.accept(t - LISTENER_BASE, now)
                    }
                    Token(t) => self.read(ConnId((t - CONN_BASE) as u32), now),
                }
            }
            self.iteration_end(now);
            if now >= next_stats {
                next_stats = now.saturating_add(STATS_EVERY_NS);
                let s = self.stats();
                tracing::info!(
                    logins = s.venue.orders.logins,
                    orders_in = s.venue.orders.messages_in,
                    malformed = s.venue.orders.malformed,
                    matches = s.venue.matching.matches,
                    feed_packets = s.venue.publisher.data_packets,
                    retransmissions = s.venue.publisher.retransmissions,
                    audit_lines = s.audit_lines,
                    "venue counters"
                );
            }
        }
        self.finish()
    }

    /// Flow and timers, then writes: order entry first (latency), then the
    /// feed, then the audit file.
    fn iteration_end(&mut self, now: u64) {
        self.venue.poll(now);
        self.write_connections();
        while let Some(n) = self.venue.poll_transmit(now, &mut self.packet) {
            self.feed.send(&self.packet[..n]);
        }
        self.write_audit();
    }

    fn serve_requests(&mut self) -> bool {
        let Some(r) = &mut self.requests else {
            return false;
        };
        let venue = &mut self.venue;
        r.serve(&mut self.packet, |req, buf| venue.handle_request(req, buf))
    }

    fn accept(&mut self, port: usize, now: u64) {
        let Some(l) = self.listeners.get_mut(port) else {
            return;
        };
        loop {
            let (mut stream, peer) = match l.socket.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(port = %l.addr, error = %e, "accept failed");
                    return;
                }
            };
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set");
            }
            let id = self.venue.accept(port, now);
            let token = Token(CONN_BASE + id.0 as usize);
            if let Err(e) = self.poll.registry().register(
                &mut stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
            ) {
                tracing::warn!(error = %e, "cannot register a connection; dropping it");
                self.venue.on_closed(id, now);
                continue;
            }
            let i = id.0 as usize;
            if self.sockets.len() <= i {
                self.sockets.resize_with(i + 1, || None);
            }
            self.sockets[i] = Some(stream);
            tracing::info!(conn = id.0, %peer, port = %l.addr, "connection accepted");
        }
    }

    fn read(&mut self, id: ConnId, now: u64) {
        let i = id.0 as usize;
        let mut closed = false;
        loop {
            if self.venue.orders().close_kind(id).is_some() {
                break;
            }
            let Some(Some(stream)) = self.sockets.get_mut(i) else {
                return;
            };
            match stream.read(&mut self.read_buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => self.venue.on_bytes(id, now, &self.read_buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::debug!(conn = id.0, error = %e, "read failed");
                    closed = true;
                    break;
                }
            }
        }
        if closed {
            self.drop_socket(id);
            self.venue.on_closed(id, now);
        }
    }

    fn drop_socket(&mut self, id: ConnId) {
        if let Some(slot) = self.sockets.get_mut(id.0 as usize) {
            if let Some(mut s) = slot.take() {
                let _ = self.poll.registry().deregister(&mut s);
            }
        }
    }

    /// Writes every connection's pending output; closes the connections the
    /// server is done with.
    fn write_connections(&mut self) {
        for i in 0..self.sockets.len() {
            let id = ConnId(i as u32);
            let Some(stream) = self.sockets[i].as_mut() else {
                continue;
            };
            let mut failed = false;
            loop {
                let pending = self.venue.orders().pending(id);
                if pending.is_empty() {
                    break;
                }
                match stream.write(pending) {
                    Ok(0) => {
                        failed = true;
                        break;
                    }
                    Ok(n) => self.venue.orders_mut().wrote(id, n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        tracing::debug!(conn = id.0, error = %e, "write failed");
                        failed = true;
                        break;
                    }
                }
            }
            let close = match self.venue.orders().close_kind(id) {
                Some(CloseKind::Now) => true,
                Some(CloseKind::AfterFlush) => failed || self.venue.orders().pending(id).is_empty(),
                None => false,
            };
            if close {
                self.drop_socket(id);
                self.venue.orders_mut().release(id);
            } else if failed {
                self.drop_socket(id);
                let now = self.clock.now_ns();
                self.venue.on_closed(id, now);
            }
        }
    }

    fn write_audit(&mut self) {
        let lines = self.venue.audit_lines();
        if lines.is_empty() {
            return;
        }
        self.audit_lines += lines.iter().filter(|&&b| b == b'\n').count() as u64;
        if let Some((path, w)) = &mut self.audit {
            if let Err(e) = w.write_all(lines).and_then(|()| w.flush()) {
                tracing::error!(path = %path.display(), error = %e, "audit write failed");
            }
        }
        lines.clear();
    }

    /// Counters so far.
    pub fn stats(&self) -> ServerStats {
        ServerStats {
            venue: self.venue.stats(),
            feed: self.feed.stats(),
            requests: self
                .requests
                .as_ref()
                .map(RequestServer::stats)
                .unwrap_or_default(),
            audit_lines: self.audit_lines,
        }
    }

    /// Ends the day: closing market events and every end-of-session packet
    /// on the feed, `Z` to every session after its last messages, the audit
    /// flushed; waits up to two seconds for clients to take their output.
    fn finish(mut self) -> Result<ServerStats, ServerError> {
        let now = self.clock.now_ns();
        tracing::info!("shutting down: end of session");
        self.venue.shutdown(now);
        // The end-of-session packets go out back to back (each is due one
        // heartbeat after the previous one; nothing waits for that here).
        while !self.venue.feed_finished() {
            let Some(due) = self.venue.feed_due() else {
                break;
            };
            match self.venue.poll_transmit(due.max(now), &mut self.packet) {
                Some(n) => self.feed.send(&self.packet[..n]),
                None => break,
            }
        }
        self.write_audit();
        let deadline = Instant::now() + SHUTDOWN_FLUSH;
        loop {
            self.write_connections();
            if self.sockets.iter().all(Option::is_none) || Instant::now() >= deadline {
                break;
            }
            // Wait for writability (or a client closing).
            let _ = self
                .poll
                .poll(&mut self.events, Some(Duration::from_millis(10)));
        }
        for i in 0..self.sockets.len() {
            self.drop_socket(ConnId(i as u32));
        }
        self.write_audit();
        if let Some((path, w)) = &mut self.audit {
            if let Err(e) = w.flush() {
                tracing::error!(path = %path.display(), error = %e, "audit flush failed");
            }
        }
        Ok(self.stats())
    }
}

#[cfg(test)]
mod tests {
    use super::session_name_at;
    use crate::wire::soupbintcp::Session;

    #[test]
    fn default_session_names_differ_within_a_second_and_sort_in_time() {
        let t = 1_796_190_000_000u64; // December 2026, in ms
        let names: Vec<String> = [t, t + 1, t + 999, t + 1_000, t + 86_400_000]
            .iter()
            .map(|&ms| session_name_at(ms))
            .collect();
        for w in names.windows(2) {
            assert!(w[0] < w[1], "{} then {}", w[0], w[1]);
        }
        for n in &names {
            assert_eq!(n.len(), 10);
            assert!(Session::new(n).is_ok(), "{n} is a SoupBinTCP session name");
        }
        assert_eq!(session_name_at(0), "0000000000");
        assert_eq!(session_name_at(35), "000000000Z");
        assert_eq!(session_name_at(36), "0000000010");
    }
}
