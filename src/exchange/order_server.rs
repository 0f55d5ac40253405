//! The venue's SoupBinTCP 3.0 order-entry server, sans-IO: logins,
//! heartbeats, sequenced replay, and OUCH 4.2 / 5.0 in and out.
//!
//! [`OrderServer`] owns the protocol state of every connection and every
//! account; the socket layer ([`super::server`]) tells it when a connection
//! was accepted ([`OrderServer::accept`]), hands it every byte read
//! ([`OrderServer::on_bytes`]), says when the peer went away
//! ([`OrderServer::on_closed`]), and writes out what
//! [`OrderServer::pending`] holds. Time is venue time (ns since midnight),
//! passed in.
//!
//! Sessions and sequencing:
//! - An **account** is one username on one port; it maps to one
//!   [`MatchingEngine`] session (its own identifier rules and orders) and
//!   keeps every sequenced message it was sent this day, from 1: a start of
//!   day System Event, then one OUCH outbound message per report. A login
//!   asking for sequence `N` gets Login Accepted(`N`) and the stored
//!   messages `N…` replayed, then live ones; `N = 0` (or a number past the
//!   next one) is served from the next new message, and Login Accepted
//!   carries the number actually served.
//! - Login Rejected `A` for unknown credentials (username and password are
//!   compared case-insensitively, as SoupBinTCP specifies), `S` for a
//!   requested session other than the port's current one (blank = current).
//! - **One connection per account**: a second login of a logged-in account
//!   replaces the first, whose connection is closed at once. This is what a
//!   client restarting after a crash needs: its old TCP connection may still
//!   look alive to the venue (a user-space stack killed with SIGKILL sends no
//!   FIN) and must not lock it out for the silence timeout.
//! - **Cancel-on-disconnect** (per port): when an account's connection ends
//!   for any reason other than the venue ending the session — a drop, a
//!   silence timeout, a framing error, a Logout Request, or a newer login
//!   taking over — its live orders are canceled (reason `Z`); the Canceled
//!   reports are sequenced and replayed on the next login.
//! - Server heartbeats after [`PortSpec::heartbeat_ns`] without sending; a
//!   client silent for [`PortSpec::dead_after_ns`] is dropped, as is a
//!   connection that has not logged in within [`PortSpec::login_timeout_ns`].
//!   [`OrderServer::shutdown`] queues the end-of-day System Event, flushes
//!   every sequenced message and ends each session with `Z`.
//!
//! Identifiers: the venue accepts any OUCH client. OUCH 4.2 tokens are 14
//! arbitrary bytes; each distinct token of an account gets an order number
//! of the venue's own (from 1, in order of first use) under which the
//! matching engine applies the token rule, and every outbound message and
//! audit line carries the client's token unchanged. OUCH 5.0 orders are
//! keyed by the client's UserRefNum; the ClOrdID (any 14 bytes) and the
//! order's attributes (time in force, display, capacity, …) are echoed as
//! entered. A floe-minted token or ClOrdID also gives the matching engine the
//! order's [`ChildTag`].
//!
//! Order types: OUCH 4.2 time in force `0` and OUCH 5.0 `3` are
//! immediate-or-cancel; every other value is a day order (no expiry is
//! timed). Display, capacity, intermarket sweep, cross type and minimum
//! quantity are echoed as entered; OUCH 5.0 appendage options are accepted
//! and not echoed. None of them changes matching: every session order is a
//! displayed limit order.
//!
//! Bad input never crashes the venue: a Sequenced Data payload that is not a
//! valid inbound message of the port's dialect (unknown type, truncated, bad
//! side, a price beyond 32 bits) is counted in
//! [`OrderServerStats::malformed`] and ignored — no report, the connection
//! stays up — and logged (a warning for the first of each connection).
//! Modify Order and Trade Now have no counterpart in the matching engine and
//! are counted in [`OrderServerStats::unsupported`] and ignored; so are
//! cancels and replaces naming an order the account never had
//! ([`OrderServerStats::unknown_orders`]). A broken SoupBinTCP stream (a
//! packet length of 0 or above [`MAX_CLIENT_PACKET`]) cannot be resynchronised
//! and closes the connection; Unsequenced Data before login is a protocol
//! violation and closes it too.

use std::collections::HashMap;

use super::audit::SessionName;
use super::matching::{MarketEvent, MatchingEngine, SessionConfig, SessionId, VenueOutput};
use crate::config::Dialect;
use crate::order::{decode_id, ChildTag, OrderEvent, OrderRef, OrderRequest, TimeInForce};
use crate::types::Qty;
use crate::wire::ouch42 as w42;
use crate::wire::ouch50 as w50;
use crate::wire::soupbintcp::{
    ClientPacket, Framer, LoginRejectReason, ServerPacket, Session, HEADER_LEN, PASSWORD_LEN,
    USERNAME_LEN,
};

/// Largest client packet accepted (OUCH inbound messages are under 100
/// bytes plus a short appendage).
pub const MAX_CLIENT_PACKET: usize = 4096;

/// Sequenced messages are moved into a connection's output while it holds
/// less than this many unwritten bytes (replay of a long day goes out in
/// steps as the socket drains).
pub const OUTPUT_HIGH_WATER: usize = 256 * 1024;

/// A connection the server asked to close once written is closed anyway
/// after this long (a client that stopped reading).
pub const CLOSE_FLUSH_LIMIT_NS: u64 = 5_000_000_000;

/// One order port as the server runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    /// The port's number (shown in audit session names when a username is
    /// configured on several ports).
    pub label: u16,
    /// OUCH dialect.
    pub dialect: Dialect,
    /// The current SoupBinTCP session.
    pub session: Session,
    /// Server heartbeat after this long without sending.
    pub heartbeat_ns: u64,
    /// Drop a logged-in client silent for this long.
    pub dead_after_ns: u64,
    /// Drop a connection not logged in after this long.
    pub login_timeout_ns: u64,
    /// Cancel an account's orders when its connection ends.
    pub cancel_on_disconnect: bool,
    /// MPID published with the port's orders.
    pub mpid: Option<[u8; 4]>,
    /// `(username, password)` of each account.
    pub users: Vec<(String, String)>,
}

impl PortSpec {
    /// From `[[order_ports]]`, with the port number actually bound and the
    /// session name of the day.
    pub fn from_config(p: &super::config::PortConfig, label: u16, session: Session) -> PortSpec {
        PortSpec {
            label,
            dialect: p.dialect,
            session,
            heartbeat_ns: p.heartbeat_ms.saturating_mul(1_000_000),
            dead_after_ns: p.dead_after_ms.saturating_mul(1_000_000),
            login_timeout_ns: p.login_timeout_ms.saturating_mul(1_000_000),
            cancel_on_disconnect: p.cancel_on_disconnect,
            mpid: p.mpid.as_ref().and_then(|m| m.as_bytes().try_into().ok()),
            users: p
                .users
                .iter()
                .map(|u| (u.username.clone(), u.password.clone()))
                .collect(),
        }
    }
}

/// A connection, as the server numbers them (slots are reused after
/// [`OrderServer::release`] / [`OrderServer::on_closed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u32);

/// How the socket layer should close a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseKind {
    /// Once [`OrderServer::pending`] is written (after Login Rejected, a
    /// logout, or End of Session).
    AfterFlush,
    /// At once (timeout, broken stream, protocol violation, replaced login).
    Now,
}

/// What the server has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderServerStats {
    /// Connections accepted.
    pub connections: u64,
    /// Logins accepted.
    pub logins: u64,
    /// Logins rejected (`A` or `S`).
    pub login_rejects: u64,
    /// Logins that replaced a live connection of the same account.
    pub replaced: u64,
    /// Logged-in connections that ended without the venue ending the session.
    pub disconnects: u64,
    /// Connections dropped for silence (or for not logging in).
    pub timeouts: u64,
    /// Connections closed for a broken stream or a protocol violation.
    pub violations: u64,
    /// OUCH inbound messages handed to the matching engine.
    pub messages_in: u64,
    /// Inbound payloads that were not valid messages of the port's dialect,
    /// and client packets that did not parse.
    pub malformed: u64,
    /// Valid inbound messages the venue does not implement (Modify, Trade Now).
    pub unsupported: u64,
    /// Cancels and replaces naming an order the account never had.
    pub unknown_orders: u64,
    /// Sequenced messages stored (reports and system events).
    pub sequenced: u64,
    /// Reports with no form in the account's dialect (dropped).
    pub unencodable: u64,
    /// Server heartbeats sent.
    pub heartbeats: u64,
}

/// The sequenced messages of one account, numbered from 1.
#[derive(Default)]
struct SeqStore {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl SeqStore {
    /// The number of the last stored message (0 if none).
    fn last(&self) -> u64 {
        self.ends.len() as u64
    }

    fn get(&self, seq: u64) -> Option<&[u8]> {
        let i = usize::try_from(seq.checked_sub(1)?).ok()?;
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.data.get(start..end)
    }

    fn push(&mut self, msg: &[u8]) {
        self.data.extend_from_slice(msg);
        self.ends.push(self.data.len());
    }
}

/// What an OUCH 4.2 order was entered with (echoed in every report).
#[derive(Clone, Copy, Debug)]
struct Info42 {
    token: w42::Token,
    tag: ChildTag,
    buy_sell: w42::BuySell,
    tif: u32,
    firm: [u8; 4],
    display: w42::Display,
    capacity: w42::Capacity,
    iso: w42::IntermarketSweep,
    min_qty: u32,
    cross: w42::CrossType,
}

/// What an OUCH 5.0 order was entered with.
#[derive(Clone, Copy, Debug)]
struct Info50 {
    cl_ord_id: w50::ClOrdId,
    buy_sell: w50::BuySell,
    tif: w50::TimeInForce,
    display: w50::Display,
    capacity: w50::Capacity,
    iso: w50::IntermarketSweep,
    cross: w50::CrossType,
}

/// An account's identifier map.
enum Ids {
    /// Token → venue order number; `info[n - 1]` is order `n`'s.
    Ouch42 {
        by_token: HashMap<w42::Token, OrderRef>,
        info: Vec<Info42>,
    },
    /// UserRefNum → attributes.
    Ouch50 { info: HashMap<u32, Info50> },
}

/// The identifier of an Enter/Replace not yet consumed by the engine: made
/// permanent once the engine answers for it (Accepted, Replaced, Rejected).
#[derive(Clone, Copy, Debug)]
enum Staged {
    Ouch42 {
        account: usize,
        order: OrderRef,
        info: Info42,
    },
    Ouch50 {
        account: usize,
        order: OrderRef,
        info: Info50,
    },
}

impl Staged {
    fn key(&self) -> (usize, OrderRef) {
        match *self {
            Staged::Ouch42 { account, order, .. } | Staged::Ouch50 { account, order, .. } => {
                (account, order)
            }
        }
    }
}

struct Account {
    username: String,
    password: String,
    session: SessionId,
    audit_name: SessionName,
    store: SeqStore,
    conn: Option<ConnId>,
    ids: Ids,
}

impl Account {
    fn dialect(&self) -> Dialect {
        match self.ids {
            Ids::Ouch42 { .. } => Dialect::Ouch42,
            Ids::Ouch50 { .. } => Dialect::Ouch50,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    AwaitLogin,
    LoggedIn { account: usize, cursor: u64 },
    Closed,
}

struct Conn {
    port: usize,
    phase: Phase,
    framer: Framer,
    out: Vec<u8>,
    sent: usize,
    opened_ns: u64,
    last_rx_ns: u64,
    last_tx_ns: u64,
    malformed: u64,
    close: Option<CloseKind>,
    /// When `close` was decided.
    close_ns: u64,
}

impl Conn {
    fn unsent(&self) -> usize {
        self.out.len() - self.sent
    }

    fn queue(&mut self, now: u64, p: &ServerPacket<'_>) {
        let at = self.out.len();
        self.out.resize(at + p.frame_len(), 0);
        // The buffer was sized to the frame, so emit cannot fail for space;
        // a payload over 65534 bytes cannot occur (messages are < 100 bytes).
        match p.emit(&mut self.out[at..]) {
            Ok(n) => self.out.truncate(at + n),
            Err(_) => self.out.truncate(at),
        }
        self.last_tx_ns = now;
    }

    fn queue_sequenced(&mut self, now: u64, msg: &[u8]) {
        self.queue(now, &ServerPacket::SequencedData(msg));
    }
}

/// Why a connection ended (for logs and counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cause {
    PeerClosed,
    Logout,
    Timeout,
    Broken,
    Violation,
    Replaced,
}

/// What the matching engine and the other outputs of a step go to.
pub struct Ctx<'a> {
    /// The venue's matching engine.
    pub engine: &'a mut MatchingEngine,
    /// Market events produced, for the publisher.
    pub market: &'a mut Vec<MarketEvent>,
    /// Audit JSON lines produced (one per decision, newline-terminated).
    pub audit: &'a mut Vec<u8>,
}

/// The order-entry server of every port.
pub struct OrderServer {
    ports: Vec<PortSpec>,
    /// Accounts of each port.
    port_accounts: Vec<Vec<usize>>,
    accounts: Vec<Account>,
    by_audit_name: HashMap<SessionName, usize>,
    conns: Vec<Option<Conn>>,
    free: Vec<u32>,
    staged: Option<Staged>,
    outputs: Vec<VenueOutput>,
    frame: Vec<u8>,
    scratch: Vec<u8>,
    stats: OrderServerStats,
}

fn trim(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
    &b[..end]
}

/// The audit text of a token: printable ASCII kept (anything else as `?`),
/// trailing space padding removed.
fn token_text(t: &w42::Token) -> ([u8; 14], usize) {
    let mut out = [b'?'; 14];
    for (o, &c) in out.iter_mut().zip(t.iter()) {
        if (0x20..=0x7e).contains(&c) {
            *o = c;
        }
    }
    let len = trim(&out).len();
    (out, len)
}

fn tag_of(order: Option<OrderRef>, id: &[u8; 14]) -> ChildTag {
    match decode_id(id) {
        Ok((o, tag)) if order.is_none_or(|want| want == o) => tag,
        _ => ChildTag::default(),
    }
}

impl OrderServer {
    /// The server of `ports`; registers one matching-engine session per
    /// account (`None` if the engine has no room for them or a name is not a
    /// valid audit name). Audit session names are the usernames, or
    /// `username@port` for a username already listed on an earlier port.
    pub fn new(ports: Vec<PortSpec>, engine: &mut MatchingEngine) -> Option<OrderServer> {
        let mut seen = std::collections::HashSet::new();
        let mut accounts = Vec::new();
        let mut port_accounts = Vec::new();
        let mut by_audit_name = HashMap::new();
        for p in &ports {
            let mut mine = Vec::new();
            for (u, pw) in &p.users {
                let name = if seen.insert(u.to_ascii_uppercase()) {
                    u.clone()
                } else {
                    format!("{u}@{}", p.label)
                };
                let audit_name = SessionName::new(&name)?;
                let session = engine.add_session(SessionConfig {
                    name: audit_name,
                    dialect: p.dialect,
                    cancel_on_disconnect: p.cancel_on_disconnect,
                    attribution: p.mpid,
                })?;
                by_audit_name.insert(audit_name, accounts.len());
                mine.push(accounts.len());
                accounts.push(Account {
                    username: u.to_ascii_uppercase(),
                    password: pw.to_ascii_uppercase(),
                    session,
                    audit_name,
                    store: SeqStore::default(),
                    conn: None,
                    ids: match p.dialect {
                        Dialect::Ouch42 => Ids::Ouch42 {
                            by_token: HashMap::new(),
                            info: Vec::new(),
                        },
                        Dialect::Ouch50 => Ids::Ouch50 {
                            info: HashMap::new(),
                        },
                    },
                });
            }
            port_accounts.push(mine);
        }
        Some(OrderServer {
            ports,
            port_accounts,
            accounts,
            by_audit_name,
            conns: Vec::new(),
            free: Vec::new(),
            staged: None,
            outputs: Vec::new(),
            frame: vec![0; HEADER_LEN + MAX_CLIENT_PACKET],
            scratch: vec![0; 512],
            stats: OrderServerStats::default(),
        })
    }

    /// The ports.
    pub fn ports(&self) -> &[PortSpec] {
        &self.ports
    }

    /// Counters.
    pub fn stats(&self) -> OrderServerStats {
        self.stats
    }

    /// The matching-engine session of `username` on port `port`.
    pub fn session_of(&self, port: usize, username: &str) -> Option<SessionId> {
        let u = username.to_ascii_uppercase();
        self.port_accounts
            .get(port)?
            .iter()
            .map(|&a| &self.accounts[a])
            .find(|a| a.username == u)
            .map(|a| a.session)
    }

    /// The number of the last sequenced message stored for `username` on
    /// port `port`.
    pub fn last_sequence(&self, port: usize, username: &str) -> Option<u64> {
        let s = self.session_of(port, username)?;
        Some(self.accounts[usize::from(s.0)].store.last())
    }

    /// Start of day: every account's first sequenced message is a System
    /// Event `S`.
    pub fn open(&mut self, now: u64) {
        for a in 0..self.accounts.len() {
            self.store_event(
                a,
                &OrderEvent::SystemEvent {
                    ts: now,
                    code: w42::EventCode::START_OF_DAY.0,
                },
            );
        }
    }

    /// A connection to port `port` was accepted.
    pub fn accept(&mut self, port: usize, now: u64) -> ConnId {
        self.stats.connections += 1;
        let conn = Conn {
            port,
            phase: Phase::AwaitLogin,
            framer: Framer::new(MAX_CLIENT_PACKET),
            out: Vec::new(),
            sent: 0,
            opened_ns: now,
            last_rx_ns: now,
            last_tx_ns: now,
            malformed: 0,
            close: None,
            close_ns: 0,
        };
        match self.free.pop() {
            Some(i) => {
                self.conns[i as usize] = Some(conn);
                ConnId(i)
            }
            None => {
                self.conns.push(Some(conn));
                ConnId(self.conns.len() as u32 - 1)
            }
        }
    }

    fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.get(id.0 as usize).and_then(Option::as_ref)
    }

    fn conn_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    /// Ids of the connections that exist.
    pub fn connections(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some())
            .map(|(i, _)| ConnId(i as u32))
    }

    /// Bytes queued for the connection and not yet written.
    pub fn pending(&self, id: ConnId) -> &[u8] {
        self.conn(id).map_or(&[], |c| &c.out[c.sent..])
    }

    /// `n` bytes of [`Self::pending`] were written to the socket.
    pub fn wrote(&mut self, id: ConnId, n: usize) {
        if let Some(c) = self.conn_mut(id) {
            c.sent = (c.sent + n).min(c.out.len());
            if c.sent == c.out.len() {
                c.out.clear();
                c.sent = 0;
            } else if c.sent > 64 * 1024 {
                c.out.drain(..c.sent);
                c.sent = 0;
            }
        }
    }

    /// Whether (and how) the socket layer should close the connection.
    pub fn close_kind(&self, id: ConnId) -> Option<CloseKind> {
        self.conn(id).and_then(|c| c.close)
    }

    /// The socket of a connection the server asked to close is closed:
    /// forget it.
    pub fn release(&mut self, id: ConnId) {
        if let Some(slot) = self.conns.get_mut(id.0 as usize) {
            if slot.take().is_some() {
                self.free.push(id.0);
            }
        }
    }

    /// The peer closed the connection (or it failed): the account, if
    /// logged in, is disconnected (cancel-on-disconnect applies) and the
    /// connection forgotten.
    pub fn on_closed(&mut self, id: ConnId, now: u64, ctx: &mut Ctx<'_>) {
        self.close_conn(id, now, CloseKind::Now, Cause::PeerClosed, ctx);
        self.release(id);
    }

    /// Bytes read from the connection.
    pub fn on_bytes(&mut self, id: ConnId, now: u64, data: &[u8], ctx: &mut Ctx<'_>) {
        let mut frame = std::mem::take(&mut self.frame);
        let mut pos = 0;
        while let Some(conn) = self.conn_mut(id) {
            if conn.close.is_some() {
                break;
            }
            conn.last_rx_ns = now;
            let len = match conn.framer.next_packet(data, &mut pos) {
                Ok(Some(f)) => {
                    let n = f.len().min(frame.len());
                    frame[..n].copy_from_slice(&f[..n]);
                    n
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(conn = id.0, error = %e, "SoupBinTCP stream broken; closing");
                    self.close_conn(id, now, CloseKind::Now, Cause::Broken, ctx);
                    break;
                }
            };
            self.on_packet(id, now, &frame[..len], ctx);
        }
        self.frame = frame;
        self.pump(now, ctx);
    }

    fn on_packet(&mut self, id: ConnId, now: u64, frame: &[u8], ctx: &mut Ctx<'_>) {
        let Some(conn) = self.conn(id) else { return };
        let phase = conn.phase;
        match (ClientPacket::parse(frame), phase) {
            (Err(e), Phase::AwaitLogin) => {
                tracing::info!(conn = id.0, error = %e, "unreadable packet before login; rejecting");
                self.stats.malformed += 1;
                self.reject(id, now, LoginRejectReason::NOT_AUTHORIZED);
            }
            (Err(e), _) => {
                self.stats.malformed += 1;
                self.note_malformed(id, &e);
            }
            (Ok(ClientPacket::Debug(_) | ClientPacket::Heartbeat), _) => {}
            (
                Ok(ClientPacket::LoginRequest {
                    username,
                    password,
                    session,
                    sequence,
                }),
                Phase::AwaitLogin,
            ) => self.login(id, now, &username, &password, session, sequence, ctx),
            (Ok(ClientPacket::LoginRequest { .. }), _) => {
                self.stats.malformed += 1;
                self.note_malformed(id, &"login request while logged in");
            }
            (Ok(ClientPacket::UnsequencedData(msg)), Phase::LoggedIn { account, .. }) => {
                self.order_message(account, now, msg, id, ctx)
            }
            (Ok(ClientPacket::UnsequencedData(_)), _) => {
                tracing::warn!(conn = id.0, "unsequenced data before login; closing");
                self.close_conn(id, now, CloseKind::Now, Cause::Violation, ctx);
            }
            (Ok(ClientPacket::LogoutRequest), _) => {
                self.close_conn(id, now, CloseKind::AfterFlush, Cause::Logout, ctx);
            }
        }
    }

    fn note_malformed(&mut self, id: ConnId, what: &dyn std::fmt::Display) {
        if let Some(c) = self.conn_mut(id) {
            c.malformed += 1;
            if c.malformed == 1 {
                tracing::warn!(conn = id.0, error = %what, "malformed inbound message ignored (further ones logged at debug)");
            } else {
                tracing::debug!(conn = id.0, error = %what, "malformed inbound message ignored");
            }
        }
    }

    fn reject(&mut self, id: ConnId, now: u64, reason: LoginRejectReason) {
        self.stats.login_rejects += 1;
        if let Some(c) = self.conn_mut(id) {
            c.queue(now, &ServerPacket::LoginRejected { reason });
            c.phase = Phase::Closed;
            c.close = Some(CloseKind::AfterFlush);
            c.close_ns = now;
        }
        tracing::info!(conn = id.0, reason = %(reason.0 as char), "login rejected");
    }

    #[allow(clippy::too_many_arguments)]
    fn login(
        &mut self,
        id: ConnId,
        now: u64,
        username: &[u8; USERNAME_LEN],
        password: &[u8; PASSWORD_LEN],
        session: Session,
        sequence: u64,
        ctx: &mut Ctx<'_>,
    ) {
        let Some(port) = self.conn(id).map(|c| c.port) else {
            return;
        };
        let user = trim(username).to_ascii_uppercase();
        let pass = trim(password).to_ascii_uppercase();
        let found = self.port_accounts[port].iter().copied().find(|&a| {
            let acc = &self.accounts[a];
            acc.username.as_bytes() == user.as_slice() && acc.password.as_bytes() == pass.as_slice()
        });
        let Some(a) = found else {
            self.reject(id, now, LoginRejectReason::NOT_AUTHORIZED);
            return;
        };
        let current = self.ports[port].session;
        if !session.is_blank() && session != current {
            self.reject(id, now, LoginRejectReason::SESSION_NOT_AVAILABLE);
            return;
        }
        if let Some(old) = self.accounts[a].conn {
            if old != id {
                tracing::info!(
                    account = %self.accounts[a].audit_name,
                    old = old.0,
                    new = id.0,
                    "newer login replaces the live connection"
                );
                self.stats.replaced += 1;
                self.close_conn(old, now, CloseKind::Now, Cause::Replaced, ctx);
            }
        }
        let last = self.accounts[a].store.last();
        let start = if sequence == 0 || sequence > last + 1 {
            last + 1
        } else {
            sequence
        };
        self.accounts[a].conn = Some(id);
        self.stats.logins += 1;
        tracing::info!(
            conn = id.0,
            account = %self.accounts[a].audit_name,
            requested = sequence,
            served = start,
            replay = last + 1 - start,
            "login accepted"
        );
        if let Some(c) = self.conn_mut(id) {
            c.queue(
                now,
                &ServerPacket::LoginAccepted {
                    session: current,
                    sequence: start,
                },
            );
            c.phase = Phase::LoggedIn {
                account: a,
                cursor: start,
            };
        }
    }

    /// Marks the connection closed; a logged-in account is detached first
    /// (cancel-on-disconnect applies).
    fn close_conn(
        &mut self,
        id: ConnId,
        now: u64,
        kind: CloseKind,
        cause: Cause,
        ctx: &mut Ctx<'_>,
    ) {
        let Some(c) = self.conn_mut(id) else { return };
        if c.close.is_some() {
            return;
        }
        c.close = Some(kind);
        c.close_ns = now;
        let phase = std::mem::replace(&mut c.phase, Phase::Closed);
        match cause {
            Cause::Timeout => self.stats.timeouts += 1,
            Cause::Broken | Cause::Violation => self.stats.violations += 1,
            _ => {}
        }
        if let Phase::LoggedIn { account, .. } = phase {
            self.stats.disconnects += 1;
            tracing::info!(
                conn = id.0,
                account = %self.accounts[account].audit_name,
                cause = ?cause,
                "disconnected"
            );
            if self.accounts[account].conn == Some(id) {
                self.accounts[account].conn = None;
            }
            let session = self.accounts[account].session;
            let mut outs = std::mem::take(&mut self.outputs);
            let n = ctx.engine.on_disconnect(now, session, &mut outs);
            if n > 0 {
                tracing::info!(account = %self.accounts[account].audit_name, canceled = n, "cancel on disconnect");
            }
            self.route(&mut outs, ctx.market, ctx.audit);
            self.outputs = outs;
        } else if cause != Cause::PeerClosed {
            tracing::info!(conn = id.0, cause = ?cause, "connection closed before login");
        }
    }

    fn order_message(
        &mut self,
        account: usize,
        now: u64,
        msg: &[u8],
        id: ConnId,
        ctx: &mut Ctx<'_>,
    ) {
        let decoded = match self.accounts[account].dialect() {
            Dialect::Ouch42 => self.decode42(account, msg),
            Dialect::Ouch50 => self.decode50(account, msg),
        };
        let (req, staged) = match decoded {
            Ok(Some(d)) => d,
            Ok(None) => return,
            Err(e) => {
                self.stats.malformed += 1;
                self.note_malformed(id, &e);
                return;
            }
        };
        self.stats.messages_in += 1;
        self.staged = staged;
        let session = self.accounts[account].session;
        let mut outs = std::mem::take(&mut self.outputs);
        ctx.engine.handle(now, session, &req, &mut outs);
        self.commit_staged(&outs);
        self.route(&mut outs, ctx.market, ctx.audit);
        self.outputs = outs;
        self.staged = None;
    }

    /// OUCH 4.2 inbound → request. `Ok(None)`: a valid message with nothing
    /// for the engine (counted).
    fn decode42(
        &mut self,
        account: usize,
        msg: &[u8],
    ) -> Result<Option<(OrderRequest, Option<Staged>)>, crate::wire::Error> {
        let Ids::Ouch42 { by_token, info } = &self.accounts[account].ids else {
            return Ok(None);
        };
        let next = OrderRef(u32::try_from(info.len() + 1).unwrap_or(u32::MAX));
        let lookup = |t: &w42::Token| by_token.get(t).map(|&o| (o, info[o.0 as usize - 1]));
        let out = match w42::Inbound::parse(msg)? {
            w42::Inbound::EnterOrder(r) => {
                let tif = if r.time_in_force == w42::TIF_IOC {
                    TimeInForce::Ioc
                } else {
                    TimeInForce::Day
                };
                let (order, tag, staged) = match lookup(&r.token) {
                    // A token used before: the engine applies the token rule.
                    Some((o, i)) => (o, i.tag, None),
                    None => {
                        let info = Info42 {
                            token: r.token,
                            tag: tag_of(None, &r.token),
                            buy_sell: r.side,
                            tif: r.time_in_force,
                            firm: r.firm,
                            display: r.display,
                            capacity: r.capacity,
                            iso: r.intermarket_sweep,
                            min_qty: r.min_qty,
                            cross: r.cross_type,
                        };
                        let st = Staged::Ouch42 {
                            account,
                            order: next,
                            info,
                        };
                        (next, info.tag, Some(st))
                    }
                };
                let req = OrderRequest::Enter {
                    order,
                    tag,
                    side: r.side.side(),
                    qty: Qty(r.shares),
                    symbol: r.stock,
                    price: r.price,
                    tif,
                };
                (req, staged)
            }
            w42::Inbound::ReplaceOrder(r) => {
                let Some((old, old_info)) = lookup(&r.existing_token) else {
                    self.stats.unknown_orders += 1;
                    return Ok(None);
                };
                let (new, new_tag, staged) = match lookup(&r.replacement_token) {
                    Some((o, i)) => (o, i.tag, None),
                    None => {
                        let info = Info42 {
                            token: r.replacement_token,
                            tag: tag_of(None, &r.replacement_token),
                            tif: r.time_in_force,
                            display: r.display,
                            iso: r.intermarket_sweep,
                            min_qty: r.min_qty,
                            ..old_info
                        };
                        let st = Staged::Ouch42 {
                            account,
                            order: next,
                            info,
                        };
                        (next, info.tag, Some(st))
                    }
                };
                let req = OrderRequest::Replace {
                    old,
                    old_tag: old_info.tag,
                    new,
                    new_tag,
                    qty: Qty(r.shares),
                    price: r.price,
                };
                (req, staged)
            }
            w42::Inbound::CancelOrder(r) => {
                let Some((order, i)) = lookup(&r.token) else {
                    self.stats.unknown_orders += 1;
                    return Ok(None);
                };
                let req = OrderRequest::Cancel {
                    order,
                    tag: i.tag,
                    remaining: Qty(r.shares),
                };
                (req, None)
            }
            w42::Inbound::ModifyOrder(_) | w42::Inbound::TradeNow(_) => {
                self.stats.unsupported += 1;
                return Ok(None);
            }
        };
        Ok(Some(out))
    }

    /// OUCH 5.0 inbound → request.
    fn decode50(
        &mut self,
        account: usize,
        msg: &[u8],
    ) -> Result<Option<(OrderRequest, Option<Staged>)>, crate::wire::Error> {
        let Ids::Ouch50 { info } = &self.accounts[account].ids else {
            return Ok(None);
        };
        let out = match w50::Inbound::parse(msg)? {
            w50::Inbound::EnterOrder(r) => {
                let order = OrderRef(r.user_ref_num);
                let tif = if r.time_in_force == w50::TimeInForce::IOC {
                    TimeInForce::Ioc
                } else {
                    TimeInForce::Day
                };
                let st = Staged::Ouch50 {
                    account,
                    order,
                    info: Info50 {
                        cl_ord_id: r.cl_ord_id,
                        buy_sell: r.side,
                        tif: r.time_in_force,
                        display: r.display,
                        capacity: r.capacity,
                        iso: r.intermarket_sweep,
                        cross: r.cross_type,
                    },
                };
                let req = OrderRequest::Enter {
                    order,
                    tag: tag_of(Some(order), &r.cl_ord_id),
                    side: r.side.side(),
                    qty: Qty(r.quantity),
                    symbol: r.symbol,
                    price: r.price,
                    tif,
                };
                (req, Some(st))
            }
            w50::Inbound::ReplaceOrder(r) => {
                let old = OrderRef(r.orig_user_ref_num);
                let new = OrderRef(r.user_ref_num);
                let base = info.get(&r.orig_user_ref_num).copied();
                let st = Staged::Ouch50 {
                    account,
                    order: new,
                    info: Info50 {
                        cl_ord_id: r.cl_ord_id,
                        buy_sell: base.map_or(w50::BuySell::Buy, |b| b.buy_sell),
                        tif: r.time_in_force,
                        display: r.display,
                        capacity: base.map_or(w50::Capacity::AGENCY, |b| b.capacity),
                        iso: r.intermarket_sweep,
                        cross: base.map_or(w50::CrossType::CONTINUOUS, |b| b.cross),
                    },
                };
                let req = OrderRequest::Replace {
                    old,
                    old_tag: ChildTag::default(),
                    new,
                    new_tag: tag_of(Some(new), &r.cl_ord_id),
                    qty: Qty(r.quantity),
                    price: r.price,
                };
                (req, Some(st))
            }
            w50::Inbound::CancelOrder(r) => (
                OrderRequest::Cancel {
                    order: OrderRef(r.user_ref_num),
                    tag: ChildTag::default(),
                    remaining: Qty(r.quantity),
                },
                None,
            ),
            w50::Inbound::AccountQuery(_) => (OrderRequest::AccountQuery, None),
            w50::Inbound::ModifyOrder(_) => {
                self.stats.unsupported += 1;
                return Ok(None);
            }
        };
        Ok(Some(out))
    }

    /// Makes the staged identifier permanent if the engine answered for it.
    fn commit_staged(&mut self, outs: &[VenueOutput]) {
        let Some(st) = self.staged else { return };
        let (account, order) = st.key();
        let session = self.accounts[account].session;
        let consumed = outs.iter().any(|o| match o {
            VenueOutput::Report { session: s, event } if *s == session => matches!(
                *event,
                OrderEvent::Accepted { order: o, .. }
                    | OrderEvent::Rejected { order: o, .. }
                    | OrderEvent::Replaced { order: o, .. } if o == order
            ),
            _ => false,
        });
        if !consumed {
            return;
        }
        match (st, &mut self.accounts[account].ids) {
            (Staged::Ouch42 { info: i, .. }, Ids::Ouch42 { by_token, info }) => {
                // Staged only for a token not in the map, numbered len + 1.
                by_token.insert(i.token, order);
                info.push(i);
            }
            (Staged::Ouch50 { info: i, .. }, Ids::Ouch50 { info }) => {
                info.entry(order.0).or_insert(i);
            }
            _ => {}
        }
    }

    fn info42(&self, account: usize, order: OrderRef) -> Option<Info42> {
        if let Some(Staged::Ouch42 {
            account: a,
            order: o,
            info,
        }) = self.staged
        {
            if a == account && o == order {
                return Some(info);
            }
        }
        match &self.accounts[account].ids {
            Ids::Ouch42 { info, .. } => info.get((order.0 as usize).checked_sub(1)?).copied(),
            Ids::Ouch50 { .. } => None,
        }
    }

    fn info50(&self, account: usize, order: OrderRef) -> Option<Info50> {
        if let Some(Staged::Ouch50 {
            account: a,
            order: o,
            info,
        }) = self.staged
        {
            if a == account && o == order {
                return Some(info);
            }
        }
        match &self.accounts[account].ids {
            Ids::Ouch50 { info } => info.get(&order.0).copied(),
            Ids::Ouch42 { .. } => None,
        }
    }

    /// Routes the matching engine's outputs: market events to `market`,
    /// reports into their account's sequenced store (encoded in the
    /// account's dialect), audit records as JSON lines into `audit`.
    pub fn route(
        &mut self,
        outs: &mut Vec<VenueOutput>,
        market: &mut Vec<MarketEvent>,
        audit: &mut Vec<u8>,
    ) {
        for o in outs.drain(..) {
            match o {
                VenueOutput::Market(m) => market.push(m),
                VenueOutput::Report { session, event } => {
                    let a = usize::from(session.0);
                    if a < self.accounts.len() {
                        self.store_event(a, &event);
                    }
                }
                VenueOutput::Audit(ev) => {
                    let account = self.by_audit_name.get(&ev.session).copied();
                    let res = match (account, ev.dialect) {
                        (Some(a), Dialect::Ouch42) => {
                            let (text, len) = self
                                .info42(a, ev.order)
                                .map_or(([b'?'; 14], 14), |i| token_text(&i.token));
                            let id = core::str::from_utf8(&text[..len]).unwrap_or("?");
                            ev.write_json_line_with_id(id, &mut *audit)
                        }
                        _ => ev.write_json_line(&mut *audit),
                    };
                    debug_assert!(res.is_ok(), "writing to a Vec cannot fail");
                }
            }
        }
    }

    /// Encodes `event` in the account's dialect and appends it to its store.
    fn store_event(&mut self, account: usize, event: &OrderEvent) {
        let mut scratch = std::mem::take(&mut self.scratch);
        let n = match self.accounts[account].dialect() {
            Dialect::Ouch42 => self.encode42(account, event, &mut scratch),
            Dialect::Ouch50 => self.encode50(account, event, &mut scratch),
        };
        match n {
            Some(n) => {
                self.accounts[account].store.push(&scratch[..n]);
                self.stats.sequenced += 1;
            }
            None => {
                self.stats.unencodable += 1;
                tracing::debug!(?event, "report has no form in the account's dialect");
            }
        }
        self.scratch = scratch;
    }

    fn encode42(&self, account: usize, event: &OrderEvent, out: &mut [u8]) -> Option<usize> {
        use w42::*;
        let info = |o: OrderRef| self.info42(account, o);
        let m = match *event {
            OrderEvent::SystemEvent { ts, code } => Outbound::SystemEvent(SystemEventRepr {
                timestamp: ts,
                event_code: EventCode(code),
            }),
            OrderEvent::Accepted {
                ts,
                order,
                side,
                qty,
                symbol,
                price,
                venue_order_ref,
                live,
                ..
            } => {
                let i = info(order)?;
                Outbound::Accepted(AcceptedRepr {
                    timestamp: ts,
                    token: i.token,
                    side: buy_sell(i.buy_sell, side),
                    shares: qty.0,
                    stock: symbol,
                    price,
                    time_in_force: i.tif,
                    firm: i.firm,
                    display: i.display,
                    order_ref: venue_order_ref,
                    capacity: i.capacity,
                    intermarket_sweep: i.iso,
                    min_qty: i.min_qty,
                    cross_type: i.cross,
                    state: state(live),
                    bbo_weight: BboWeight::UNSPECIFIED,
                })
            }
            OrderEvent::Replaced {
                ts,
                old,
                order,
                side,
                qty,
                symbol,
                price,
                venue_order_ref,
                live,
                ..
            } => {
                let i = info(order)?;
                let prev = info(old)?;
                Outbound::Replaced(ReplacedRepr {
                    timestamp: ts,
                    replacement_token: i.token,
                    side: buy_sell(i.buy_sell, side),
                    shares: qty.0,
                    stock: symbol,
                    price,
                    time_in_force: i.tif,
                    firm: i.firm,
                    display: i.display,
                    order_ref: venue_order_ref,
                    capacity: i.capacity,
                    intermarket_sweep: i.iso,
                    min_qty: i.min_qty,
                    cross_type: i.cross,
                    state: state(live),
                    previous_token: prev.token,
                    bbo_weight: BboWeight::UNSPECIFIED,
                })
            }
            OrderEvent::Canceled {
                ts,
                order,
                decrement,
                reason,
            } => Outbound::Canceled(CanceledRepr {
                timestamp: ts,
                token: info(order)?.token,
                decrement_shares: decrement.0,
                reason: CancelReason(reason.code),
            }),
            OrderEvent::Executed {
                ts,
                order,
                qty,
                price,
                liquidity,
                match_number,
            } => Outbound::Executed(ExecutedRepr {
                timestamp: ts,
                token: info(order)?.token,
                executed_shares: qty.0,
                execution_price: price,
                liquidity_flag: LiquidityFlag(liquidity),
                match_number,
            }),
            OrderEvent::Rejected {
                ts, order, reason, ..
            } => Outbound::Rejected(RejectedRepr {
                timestamp: ts,
                token: info(order)?.token,
                reason: RejectReason(u8::try_from(reason.code).unwrap_or(b'O')),
            }),
            OrderEvent::CancelPending { ts, order } => Outbound::CancelPending(CancelPendingRepr {
                timestamp: ts,
                token: info(order)?.token,
            }),
            OrderEvent::CancelReject { ts, order } => Outbound::CancelReject(CancelRejectRepr {
                timestamp: ts,
                token: info(order)?.token,
            }),
            OrderEvent::BrokenTrade {
                ts,
                order,
                match_number,
                reason,
            } => Outbound::BrokenTrade(BrokenTradeRepr {
                timestamp: ts,
                token: info(order)?.token,
                match_number,
                reason: BrokenTradeReason(reason),
            }),
            OrderEvent::PriorityUpdate {
                ts,
                order,
                price,
                venue_order_ref,
            } => {
                let i = info(order)?;
                Outbound::PriorityUpdate(PriorityUpdateRepr {
                    timestamp: ts,
                    token: i.token,
                    price,
                    display: i.display,
                    order_ref: venue_order_ref,
                })
            }
            OrderEvent::Modified {
                ts,
                order,
                side,
                qty,
            } => {
                let i = info(order)?;
                Outbound::OrderModified(OrderModifiedRepr {
                    timestamp: ts,
                    token: i.token,
                    side: buy_sell(i.buy_sell, side),
                    shares: qty.0,
                })
            }
            OrderEvent::Restated { .. } | OrderEvent::AccountQueryResponse { .. } => return None,
        };
        m.emit(out).ok()
    }

    fn encode50(&self, account: usize, event: &OrderEvent, out: &mut [u8]) -> Option<usize> {
        use w50::*;
        let info = |o: OrderRef| self.info50(account, o);
        let blank = [b' '; 14];
        let m = match *event {
            OrderEvent::SystemEvent { ts, code } => Outbound::SystemEvent(SystemEventRepr {
                timestamp: ts,
                event_code: EventCode(code),
            }),
            OrderEvent::Accepted {
                ts,
                order,
                side,
                qty,
                symbol,
                price,
                venue_order_ref,
                live,
                ..
            } => {
                let i = info(order)?;
                Outbound::Accepted(AcceptedRepr {
                    timestamp: ts,
                    user_ref_num: order.0,
                    side: buy_sell(i.buy_sell, side),
                    quantity: qty.0,
                    symbol,
                    price,
                    time_in_force: i.tif,
                    display: i.display,
                    order_ref: venue_order_ref,
                    capacity: i.capacity,
                    intermarket_sweep: i.iso,
                    cross_type: i.cross,
                    state: state(live),
                    cl_ord_id: i.cl_ord_id,
                    options: Options::NONE,
                })
            }
            OrderEvent::Replaced {
                ts,
                old,
                order,
                side,
                qty,
                symbol,
                price,
                venue_order_ref,
                live,
                ..
            } => {
                let i = info(order)?;
                Outbound::Replaced(ReplacedRepr {
                    timestamp: ts,
                    orig_user_ref_num: old.0,
                    user_ref_num: order.0,
                    side: buy_sell(i.buy_sell, side),
                    quantity: qty.0,
                    symbol,
                    price,
                    time_in_force: i.tif,
                    display: i.display,
                    order_ref: venue_order_ref,
                    capacity: i.capacity,
                    intermarket_sweep: i.iso,
                    cross_type: i.cross,
                    state: state(live),
                    cl_ord_id: i.cl_ord_id,
                    options: Options::NONE,
                })
            }
            OrderEvent::Canceled {
                ts,
                order,
                decrement,
                reason,
            } => Outbound::Canceled(CanceledRepr {
                timestamp: ts,
                user_ref_num: order.0,
                quantity: decrement.0,
                reason: CancelReason(reason.code),
            }),
            OrderEvent::Executed {
                ts,
                order,
                qty,
                price,
                liquidity,
                match_number,
            } => Outbound::Executed(ExecutedRepr {
                timestamp: ts,
                user_ref_num: order.0,
                quantity: qty.0,
                price,
                liquidity_flag: LiquidityFlag(liquidity),
                match_number,
                options: Options::NONE,
            }),
            OrderEvent::Rejected {
                ts, order, reason, ..
            } => Outbound::Rejected(RejectedRepr {
                timestamp: ts,
                user_ref_num: order.0,
                reason: RejectReason(reason.code),
                cl_ord_id: info(order).map_or(blank, |i| i.cl_ord_id),
            }),
            OrderEvent::CancelPending { ts, order } => Outbound::CancelPending(CancelPendingRepr {
                timestamp: ts,
                user_ref_num: order.0,
            }),
            OrderEvent::CancelReject { ts, order } => Outbound::CancelReject(CancelRejectRepr {
                timestamp: ts,
                user_ref_num: order.0,
            }),
            OrderEvent::BrokenTrade {
                ts,
                order,
                match_number,
                reason,
            } => Outbound::BrokenTrade(BrokenTradeRepr {
                timestamp: ts,
                user_ref_num: order.0,
                match_number,
                reason: BrokenTradeReason(reason),
                cl_ord_id: info(order).map_or(blank, |i| i.cl_ord_id),
            }),
            OrderEvent::PriorityUpdate {
                ts,
                order,
                price,
                venue_order_ref,
            } => Outbound::PriorityUpdate(PriorityUpdateRepr {
                timestamp: ts,
                user_ref_num: order.0,
                price,
                display: info(order).map_or(Display::VISIBLE, |i| i.display),
                order_ref: venue_order_ref,
            }),
            OrderEvent::Modified {
                ts,
                order,
                side,
                qty,
            } => Outbound::OrderModified(OrderModifiedRepr {
                timestamp: ts,
                user_ref_num: order.0,
                side: info(order).map_or(side.into(), |i| buy_sell(i.buy_sell, side)),
                quantity: qty.0,
            }),
            OrderEvent::Restated { ts, order, reason } => Outbound::Restated(RestatedRepr {
                timestamp: ts,
                user_ref_num: order.0,
                reason: RestatedReason(reason),
                options: Options::NONE,
            }),
            OrderEvent::AccountQueryResponse { ts, next_order } => {
                Outbound::AccountQueryResponse(AccountQueryResponseRepr {
                    timestamp: ts,
                    next_user_ref_num: next_order.0,
                })
            }
        };
        m.emit(out).ok()
    }

    /// Timers and output: moves stored sequenced messages into each
    /// logged-in connection's output (up to [`OUTPUT_HIGH_WATER`]), sends
    /// heartbeats after a heartbeat interval of silence, and drops silent
    /// connections and connections that never logged in.
    pub fn pump(&mut self, now: u64, ctx: &mut Ctx<'_>) {
        for i in 0..self.conns.len() {
            let id = ConnId(i as u32);
            let Some(c) = self.conns[i].as_mut() else {
                continue;
            };
            if c.close == Some(CloseKind::AfterFlush)
                && now.saturating_sub(c.close_ns) >= CLOSE_FLUSH_LIMIT_NS
            {
                // A client that does not read its last bytes is cut off.
                c.close = Some(CloseKind::Now);
            }
            if c.close.is_some() {
                continue;
            }
            let spec = &self.ports[c.port];
            let expired = match c.phase {
                Phase::AwaitLogin => now.saturating_sub(c.opened_ns) >= spec.login_timeout_ns,
                Phase::LoggedIn { .. } => now.saturating_sub(c.last_rx_ns) >= spec.dead_after_ns,
                Phase::Closed => false,
            };
            if expired {
                tracing::info!(conn = id.0, "silent too long; closing");
                self.close_conn(id, now, CloseKind::Now, Cause::Timeout, ctx);
                continue;
            }
            if let Phase::LoggedIn {
                account,
                mut cursor,
            } = c.phase
            {
                let store = &self.accounts[account].store;
                while cursor <= store.last() && c.unsent() < OUTPUT_HIGH_WATER {
                    if let Some(m) = store.get(cursor) {
                        c.queue_sequenced(now, m);
                    }
                    cursor += 1;
                }
                c.phase = Phase::LoggedIn { account, cursor };
                if now.saturating_sub(c.last_tx_ns) >= spec.heartbeat_ns {
                    c.queue(now, &ServerPacket::Heartbeat);
                    self.stats.heartbeats += 1;
                }
            }
        }
    }

    /// Venue time at which [`Self::pump`] next has something to do
    /// (`u64::MAX` if nothing is pending).
    pub fn poll_timeout(&self) -> u64 {
        let mut t = u64::MAX;
        for c in self.conns.iter().flatten() {
            if c.close.is_some() {
                continue;
            }
            let spec = &self.ports[c.port];
            match c.phase {
                Phase::AwaitLogin => t = t.min(c.opened_ns.saturating_add(spec.login_timeout_ns)),
                Phase::LoggedIn { account, cursor } => {
                    if cursor <= self.accounts[account].store.last()
                        && c.unsent() < OUTPUT_HIGH_WATER
                    {
                        return 0;
                    }
                    t = t
                        .min(c.last_tx_ns.saturating_add(spec.heartbeat_ns))
                        .min(c.last_rx_ns.saturating_add(spec.dead_after_ns));
                }
                Phase::Closed => {}
            }
        }
        t
    }

    /// End of the day: every account gets a System Event `E`; every
    /// logged-in connection gets all its remaining sequenced messages and
    /// End of Session (`Z`), and is closed once written. Cancel-on-disconnect
    /// does not apply (the venue ended the session).
    pub fn shutdown(&mut self, now: u64) {
        for a in 0..self.accounts.len() {
            self.store_event(
                a,
                &OrderEvent::SystemEvent {
                    ts: now,
                    code: w42::EventCode::END_OF_DAY.0,
                },
            );
        }
        for i in 0..self.conns.len() {
            let Some(c) = self.conns[i].as_mut() else {
                continue;
            };
            if c.close.is_some() {
                continue;
            }
            match c.phase {
                Phase::LoggedIn {
                    account,
                    mut cursor,
                } => {
                    let store = &self.accounts[account].store;
                    while let Some(m) = store.get(cursor) {
                        c.queue_sequenced(now, m);
                        cursor += 1;
                    }
                    c.queue(now, &ServerPacket::EndOfSession);
                    c.phase = Phase::Closed;
                    c.close = Some(CloseKind::AfterFlush);
                    c.close_ns = now;
                    self.accounts[account].conn = None;
                }
                Phase::AwaitLogin | Phase::Closed => {
                    c.close = Some(CloseKind::Now);
                    c.close_ns = now;
                }
            }
        }
    }
}

/// The Buy/Sell byte to echo: the one entered when it is on the same book
/// side (keeps `T`/`E`), else the plain side.
fn buy_sell(entered: w42::BuySell, side: crate::types::Side) -> w42::BuySell {
    if entered.side() == side {
        entered
    } else {
        side.into()
    }
}

fn state(live: bool) -> w42::OrderState {
    if live {
        w42::OrderState::Live
    } else {
        w42::OrderState::Dead
    }
}

#[cfg(test)]
mod tests;
