//! The peer of the tick-to-trade benchmark: floe's own engine path —
//! MoldUDP64 session, ITCH books, SoupBinTCP client, OUCH dialect, engine,
//! journal, control-plane queues — fed by `std::net::UdpSocket` and sending
//! over `std::net::TcpStream` (Nagle off), both non-blocking and
//! busy-polled, in a duty cycle that mirrors [`Runtime::cycle`]'s order.
//! What differs from floe is only the I/O: the kernel's UDP and TCP stacks
//! and a system call per read and write, instead of floe's NIC, network
//! stack and market-data bypass.
//!
//! Tick-to-trade is measured as the runtime measures it: from the duty
//! cycle's `now` when the triggering bytes were read (floe's AF_PACKET NIC
//! runs with poll timestamps in the benchmark, for the same definition) to
//! the moment the child's `write` returned.
//!
//! [`Runtime::cycle`]: crate::engine::runtime::Runtime::cycle

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::hot::HotPath;
use crate::book::Books;
use crate::config::Config;
use crate::control::gateway::EngineEndpoint;
use crate::control::metrics::HotCounters;
use crate::engine::runtime::{AnyDialect, RuntimeStats, OUTBOX_CAPACITY};
use crate::engine::{Action, Engine, Outbox, Recorder, INPUT_RESERVE};
use crate::feed::itch::apply_bytes;
use crate::feed::moldudp64::{MoldConfig, MoldSession};
use crate::order::session::{SessionError, SoupClient, SoupConfig, SoupEvent};
use crate::order::{OrderEvent, OuchDialect};
use crate::time::{Clock, Nanos, WallClock};

/// Engine actions that must stay free before a venue report is handed over.
const REPORT_ROOM: usize = 4 * INPUT_RESERVE;
/// Tick-to-trade values above this are clamped.
const TTT_MAX_NS: u64 = 10_000_000_000;
/// Datagrams read per duty cycle at most.
const RX_BURST: usize = 32;

/// The engine path on kernel sockets; see the module doc.
pub struct KernelPeer {
    clock: WallClock,
    udp: UdpSocket,
    tcp: TcpStream,
    session: MoldSession,
    books: Books,
    soup: SoupClient,
    dialect: AnyDialect,
    engine: Engine,
    outbox: Outbox,
    recorder: Recorder,
    control: Option<EngineEndpoint>,
    counters: Arc<HotCounters>,
    rx: Box<[u8]>,
    rx_start: usize,
    rx_len: usize,
    dgram: Box<[u8; 2048]>,
    tx: Box<[u8; 512]>,
    tx_pending: Vec<u8>,
    trigger: Option<Nanos>,
    ttt: Histogram<u64>,
    stats: RuntimeStats,
    drain_limit: usize,
    halted: bool,
}

fn invalid(what: impl std::fmt::Display) -> io::Error {
    io::Error::other(what.to_string())
}

impl KernelPeer {
    /// Opens the journal, joins `feed.groups[0]` on the interface whose
    /// address is the first IPv4 of this namespace's `vfloe` (any interface
    /// otherwise), connects to `order.venue` and logs in. Everything the
    /// duty cycle uses is allocated here.
    pub fn connect(
        cfg: &Config,
        control: Option<EngineEndpoint>,
        counters: Arc<HotCounters>,
    ) -> io::Result<KernelPeer> {
        let clock = WallClock::calibrate(Duration::from_millis(20));
        let dialect = AnyDialect::from_config(cfg).map_err(invalid)?;
        let books = Books::new(&cfg.book).map_err(invalid)?;
        let (recorder, engine, _) = Recorder::open(cfg).map_err(invalid)?;
        let mut soup = SoupClient::new(SoupConfig::from_config(&cfg.order));
        soup.resume_at(
            crate::wire::soupbintcp::Session::BLANK,
            engine.next_expected_soup_seq(),
        );
        let group: std::net::SocketAddrV4 = cfg
            .feed
            .groups
            .first()
            .ok_or_else(|| invalid("feed.groups is empty"))?
            .parse()
            .map_err(invalid)?;
        let udp = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, group.port()))?;
        let local = Ipv4Addr::from(crate::nic::veth::APP_KERNEL_IP);
        if udp.join_multicast_v4(group.ip(), &local).is_err() {
            udp.join_multicast_v4(group.ip(), &Ipv4Addr::UNSPECIFIED)?;
        }
        udp.set_nonblocking(true)?;
        let venue: SocketAddr = cfg.order.venue.parse().map_err(invalid)?;
        let mut tcp = TcpStream::connect_timeout(&venue, Duration::from_secs(5))?;
        tcp.set_nodelay(true)?;
        let mut tx = Box::new([0u8; 512]);
        let n = soup
            .on_connected(clock.now(), &mut tx[..])
            .map_err(invalid)?;
        tcp.write_all(&tx[..n])?;
        tcp.set_nonblocking(true)?;
        let mut peer = KernelPeer {
            clock,
            udp,
            tcp,
            session: MoldSession::new(MoldConfig::from_config(&cfg.feed)),
            books,
            soup,
            dialect,
            engine,
            outbox: Outbox::with_capacity(OUTBOX_CAPACITY),
            recorder,
            control,
            counters,
            rx: vec![0u8; 256 * 1024].into_boxed_slice(),
            rx_start: 0,
            rx_len: 0,
            dgram: Box::new([0u8; 2048]),
            tx,
            tx_pending: Vec::with_capacity(64 * 1024),
            trigger: None,
            ttt: Histogram::new_with_bounds(1, TTT_MAX_NS, 3).map_err(invalid)?,
            stats: RuntimeStats::default(),
            drain_limit: cfg.engine.command_drain_limit,
            halted: false,
        };
        if let Some(c) = peer.control.as_mut() {
            c.publish_all(&peer.engine);
            c.set_ready(true);
        }
        Ok(peer)
    }

    /// The duty cycle: UDP datagrams into the feed (children they trigger
    /// leave at once), TCP bytes into the session and reports into the
    /// engine, heartbeats, control commands, timers, control replies.
    pub fn cycle(&mut self) -> usize {
        let now = self.clock.now();
        self.stats.cycles += 1;
        let mut work = self.poll_market(now);
        work += self.perform(now);
        work += self.poll_orders(now);
        work += self.poll_session(now);
        work += self.poll_commands(now);
        if self.engine.next_deadline() <= now {
            self.engine.poll(now, &mut self.outbox);
            work += self.perform(now);
        }
        if let Some(c) = self.control.as_mut() {
            c.flush();
        }
        if work > 0 {
            self.stats.busy_cycles += 1;
        }
        work
    }

    fn poll_market(&mut self, now: Nanos) -> usize {
        let mut n = 0;
        for _ in 0..RX_BURST {
            let len = match self.udp.recv(&mut self.dgram[..]) {
                Ok(len) => len,
                Err(_) => break,
            };
            n += 1;
            let KernelPeer {
                session,
                books,
                engine,
                outbox,
                counters,
                trigger,
                stats,
                dgram,
                ..
            } = self;
            let Some(payload) = dgram.get(..len) else {
                break;
            };
            session.on_packet(payload, &mut |_seq, msg| {
                stats.md_messages += 1;
                counters.feed.messages.inc();
                match apply_bytes(books, msg, now) {
                    Ok(Some(q)) => {
                        stats.quotes += 1;
                        let before = outbox.len();
                        engine.on_quote(now, &q, outbox);
                        if outbox.len() != before && trigger.is_none() {
                            *trigger = Some(now);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => counters.feed.decode_error(&e),
                }
            });
        }
        if n > 0 {
            self.counters.nic.rx(0, n as u64);
        }
        n
    }

    fn poll_orders(&mut self, now: Nanos) -> usize {
        if self.rx_len < self.rx.len() {
            match self.tcp.read(&mut self.rx[self.rx_len..]) {
                Ok(0) => self.halted = true,
                Ok(n) => self.rx_len += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => self.halted = true,
            }
        }
        if self.rx_start == self.rx_len {
            return 0;
        }
        let mut work = 1;
        for _ in 0..8 {
            let KernelPeer {
                soup,
                dialect,
                engine,
                outbox,
                counters,
                trigger,
                stats,
                rx,
                rx_start,
                rx_len,
                ..
            } = self;
            let data = rx.get(*rx_start..*rx_len).unwrap_or(&[]);
            let mut stopped_for_room = false;
            let r = soup.on_bytes_until(now, data, &mut |ev| {
                on_soup_event(ev, now, dialect, engine, outbox, counters, trigger, stats);
                let room = outbox.free() >= REPORT_ROOM;
                if !room {
                    stopped_for_room = true;
                }
                room
            });
            match r {
                Ok(n) => *rx_start += n,
                Err(_) => {
                    self.halted = true;
                    self.rx_start = self.rx_len;
                }
            }
            work += self.perform(now);
            if !stopped_for_room {
                break;
            }
        }
        if self.rx_start == self.rx_len {
            self.rx_start = 0;
            self.rx_len = 0;
        } else if self.rx_start > self.rx.len() / 2 {
            self.rx.copy_within(self.rx_start..self.rx_len, 0);
            self.rx_len -= self.rx_start;
            self.rx_start = 0;
        }
        work
    }

    fn poll_session(&mut self, now: Nanos) -> usize {
        let p = self.soup.poll(now, &mut self.tx[..]);
        if p.dead {
            self.halted = true;
            return 1;
        }
        if p.written > 0 {
            let bytes = *self.tx;
            self.write(bytes.get(..p.written).unwrap_or(&[]));
            return 1;
        }
        if !self.tx_pending.is_empty() {
            self.write(&[]);
        }
        0
    }

    fn poll_commands(&mut self, now: Nanos) -> usize {
        let Some(control) = self.control.as_mut() else {
            return 0;
        };
        let engine = &mut self.engine;
        let outbox = &mut self.outbox;
        let taken = control.drain(self.drain_limit, |cmd| {
            engine.on_command(now, cmd, outbox).is_ok()
        });
        if taken == 0 {
            return 0;
        }
        self.stats.commands += taken as u64;
        self.trigger = None;
        taken + self.perform(now)
    }

    /// Writes `bytes` after whatever is pending; what the socket does not
    /// take now stays pending (in order).
    fn write(&mut self, bytes: &[u8]) -> bool {
        if self.tx_pending.is_empty() {
            match self.tcp.write(bytes) {
                Ok(n) if n == bytes.len() => return true,
                Ok(n) => self.tx_pending.extend_from_slice(&bytes[n..]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.tx_pending.extend_from_slice(bytes)
                }
                Err(_) => {
                    self.halted = true;
                    return false;
                }
            }
            return true;
        }
        self.tx_pending.extend_from_slice(bytes);
        match self.tcp.write(&self.tx_pending) {
            Ok(n) => {
                self.tx_pending.drain(..n);
                true
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => true,
            Err(_) => {
                self.halted = true;
                false
            }
        }
    }

    fn perform(&mut self, now: Nanos) -> usize {
        let n = self.outbox.len();
        if n == 0 {
            return 0;
        }
        let mut actions = std::mem::replace(&mut self.outbox, Outbox::with_capacity(0));
        for action in actions.drain() {
            match action {
                Action::Journal(rec) => {
                    if self.halted {
                        continue;
                    }
                    match self.recorder.record(&rec) {
                        Ok(_) => {
                            self.stats.journal_records += 1;
                            self.counters.journal.records.inc();
                            self.counters.journal.bytes.add(rec.encoded_len() as u64);
                        }
                        Err(_) => self.halted = true,
                    }
                }
                Action::Send(req) => {
                    if self.halted {
                        continue;
                    }
                    let dialect = self.dialect;
                    let len = self
                        .soup
                        .send_with(now, &mut self.tx[..], |payload| {
                            dialect
                                .encode(&req, payload)
                                .map_err(|_| SessionError::NotLoggedIn)
                        })
                        .unwrap_or(0);
                    if len == 0 {
                        self.stats.send_failures += 1;
                        continue;
                    }
                    let tx = *self.tx;
                    if self.write(tx.get(..len).unwrap_or(&[])) {
                        self.stats.orders_sent += 1;
                        self.counters.orders.sent.inc();
                        self.counters.nic.tx(0, 1);
                        if let Some(t) = self.trigger {
                            let d = self.clock.now().since(t).0.clamp(1, TTT_MAX_NS);
                            let _ = self.ttt.record(d);
                            self.counters.tick_to_trade_ns.record(d);
                        }
                    } else {
                        self.stats.send_failures += 1;
                    }
                }
                other => {
                    if let Some(c) = self.control.as_mut() {
                        c.route(&other);
                    }
                }
            }
        }
        self.outbox = actions;
        self.trigger = None;
        n
    }
}

#[allow(clippy::too_many_arguments)]
#[inline]
fn on_soup_event(
    ev: SoupEvent<'_>,
    now: Nanos,
    dialect: &AnyDialect,
    engine: &mut Engine,
    outbox: &mut Outbox,
    counters: &HotCounters,
    trigger: &mut Option<Nanos>,
    stats: &mut RuntimeStats,
) {
    match ev {
        SoupEvent::Sequenced { seq, msg } => match dialect.decode(msg) {
            Ok(report) => {
                stats.reports += 1;
                if let OrderEvent::Executed { .. } = report {
                    counters.orders.fills.inc();
                }
                let before = outbox.len();
                let _ = engine.on_order_event(now, seq, &report, outbox);
                if outbox.len() != before && trigger.is_none() {
                    *trigger = Some(now);
                }
            }
            Err(_) => stats.report_decode_errors += 1,
        },
        SoupEvent::LoggedIn { .. } => {
            stats.logins += 1;
            engine.on_session(now, true, outbox);
        }
        SoupEvent::EndOfSession => engine.on_session(now, false, outbox),
        SoupEvent::Rejected(_) | SoupEvent::Unsequenced(_) | SoupEvent::Debug(_) => {}
    }
}

impl HotPath for KernelPeer {
    fn cycle(&mut self) -> usize {
        KernelPeer::cycle(self)
    }
    fn tick_to_trade(&self) -> &Histogram<u64> {
        &self.ttt
    }
    fn reset_tick_to_trade(&mut self) {
        self.ttt.reset();
    }
    fn housekeeping(&mut self) {
        let _ = self.recorder.maybe_snapshot(&self.engine);
    }
    fn finish(&mut self) {
        let _ = self.recorder.flush();
        if let Some(c) = self.control.as_mut() {
            c.set_ready(false);
            c.flush();
        }
    }
    fn counters(&self) -> RuntimeStats {
        self.stats
    }
}
