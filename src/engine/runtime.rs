//! The hot thread: the duty cycle that drives the sans-IO pieces from a NIC.
//!
//! One [`Runtime`] owns everything on the order path: the [`Nic`], floe's
//! [`NetStack`], one [`MoldSession`] per market-data group, the [`Books`],
//! the SoupBinTCP [`SoupClient`] and the OUCH dialect, the [`Engine`], its
//! [`Recorder`] (journal), and the engine end of the control plane's
//! bounded queues. [`Runtime::cycle`] reads the clock once and then, in this
//! order:
//!
//! 1. takes a NIC burst: market data goes from the NIC's buffer through the
//!    MoldUDP64 session and the ITCH handler into the books, and every
//!    changed top of book into the engine; other frames go to the network
//!    stack;
//! 2. performs the engine's actions (write-ahead: each journal record is
//!    appended before any later action; orders leave through the TCP socket
//!    at once, one frame each) — an order triggered by this burst leaves
//!    here, before anything else is looked at;
//! 3. hands the venue's bytes to the SoupBinTCP session and each report to
//!    the engine (with back-pressure: a report the engine cannot take now
//!    stays in the socket), then performs the actions;
//! 4. order-connection changes (log in on connect, session up/down), the
//!    MoldUDP64 re-requests and their replies, the session's heartbeats;
//! 5. up to `engine.command_drain_limit` control commands, the engine's due
//!    timers, the network stack's timers, a snapshot when one is due, and
//!    the control plane's replies and statuses.
//!
//! **Split mode** (`engine.feed_core`, [`Runtime::with_feed`]): the
//! MoldUDP64 sessions, the ITCH handler and the books run on a second
//! pinned thread ([`super::feed_thread`]) that reads market data from its
//! own receive handle of the NIC. Step 1 then takes the NIC burst for the
//! network stack only (the classifier's market-data frames are the feed
//! thread's) and drains up to [`QUOTES_PER_CYCLE`] quotes from the feed's
//! SPSC ring into the engine, each with the receive timestamp of the frame
//! that carried it; step 4 sends the re-requests the feed thread queued and
//! hands it the retransmissions the UDP socket received.
//!
//! Nothing here allocates after [`Runtime::new`], locks, blocks, formats or
//! panics on input; session changes (rare) are logged. Tick-to-trade is the
//! time from the receive timestamp of the frame that triggered a child
//! order to the moment its frame was handed to the NIC.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::feed_thread::{self, session_of, FeedHandle, FeedState, HotEnds, MoldReported};
use super::idle::Idle;
use super::recorder::{Recorder, RecorderError, RecoveryReport};
use super::{Action, CommandError, Engine, Outbox, Record, Reply, INPUT_RESERVE};
use crate::book::Books;
use crate::config::{Config, Dialect};
use crate::control::gateway::EngineEndpoint;
use crate::control::metrics::HotCounters;
use crate::feed::itch::apply_bytes;
use crate::feed::moldudp64::{MoldConfig, MoldSession, MAX_PACKET_LEN};
use crate::net::stack::{LinkEvent, NetStack, UDP_RX_PACKETS};
use crate::nic::Nic;
use crate::order::session::{SoupClient, SoupConfig, SoupEvent};
use crate::order::{
    DialectError, OrderEvent, OrderRequest, Ouch42Dialect, Ouch50Dialect, OuchDialect,
};
use crate::time::{Clock, Nanos};
use crate::wire::moldudp64::REQUEST_LEN;

/// Actions the outbox holds: a burst of market data can re-price many
/// pegged children; work that does not fit is deferred by the engine.
pub const OUTBOX_CAPACITY: usize = 4096;
/// Engine actions that must stay free before a venue report is handed over
/// (the report's own actions plus what it releases).
const REPORT_ROOM: usize = 4 * INPUT_RESERVE;
/// Cycles between checks of the stop flag and snapshot policy.
const HOUSEKEEPING_EVERY: u32 = 256;
/// Tick-to-trade values above this are clamped (and counted) in the histogram.
const TTT_MAX_NS: u64 = 10_000_000_000;
/// Split mode: quotes taken from the feed thread's ring per duty cycle at
/// most (the rest wait for the next cycle; the feed thread waits when the
/// ring is full).
pub const QUOTES_PER_CYCLE: usize = 256;
/// Split mode: re-requests sent per duty cycle at most.
const REQUESTS_PER_CYCLE: usize = 16;

/// Either OUCH dialect, dispatched without a virtual call.
#[derive(Clone, Copy, Debug)]
pub enum AnyDialect {
    /// OUCH 4.2.
    Ouch42(Ouch42Dialect),
    /// OUCH 5.0.
    Ouch50(Ouch50Dialect),
}

impl AnyDialect {
    /// The dialect `[order]` names, with its firm.
    pub fn from_config(cfg: &Config) -> Result<AnyDialect, DialectError> {
        Ok(match cfg.order.dialect {
            Dialect::Ouch42 => AnyDialect::Ouch42(Ouch42Dialect::with_firm(&cfg.order.firm)?),
            Dialect::Ouch50 => AnyDialect::Ouch50(Ouch50Dialect::with_firm(&cfg.order.firm)?),
        })
    }
}

impl OuchDialect for AnyDialect {
    #[inline]
    fn encode(&self, req: &OrderRequest, out: &mut [u8]) -> Result<usize, DialectError> {
        match self {
            AnyDialect::Ouch42(d) => d.encode(req, out),
            AnyDialect::Ouch50(d) => d.encode(req, out),
        }
    }

    #[inline]
    fn decode(&self, msg: &[u8]) -> Result<OrderEvent, DialectError> {
        match self {
            AnyDialect::Ouch42(d) => d.decode(msg),
            AnyDialect::Ouch50(d) => d.decode(msg),
        }
    }
}

/// Why the runtime could not start or had to stop.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The configuration does not fit (named key).
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The journal could not be opened, recovered or written.
    #[error(transparent)]
    Journal(#[from] RecorderError),
    /// The books could not be sized.
    #[error("books: {0}")]
    Books(String),
    /// The OUCH dialect could not be built (firm).
    #[error("order.firm: {0}")]
    Dialect(DialectError),
}

/// Counters of the runtime itself (plain integers; the hot thread's metrics
/// for other threads are in [`HotCounters`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuntimeStats {
    /// Duty cycles run.
    pub cycles: u64,
    /// Cycles that found work.
    pub busy_cycles: u64,
    /// Market-data messages handed to the books.
    pub md_messages: u64,
    /// Quotes (top-of-book changes) handed to the engine.
    pub quotes: u64,
    /// Venue reports handed to the engine.
    pub reports: u64,
    /// Venue messages that did not decode.
    pub report_decode_errors: u64,
    /// Child orders (enter, replace, cancel) handed to the NIC.
    pub orders_sent: u64,
    /// Orders that could not be written to the connection (it is reset;
    /// the engine resends unanswered intents on the next session).
    pub send_failures: u64,
    /// Journal records appended.
    pub journal_records: u64,
    /// Commands taken from the control plane.
    pub commands: u64,
    /// Logins accepted.
    pub logins: u64,
    /// Order-connection drops.
    pub disconnects: u64,
    /// Snapshots written.
    pub snapshots: u64,
    /// MoldUDP64 re-requests handed to the UDP socket.
    pub rerequests_sent: u64,
    /// MoldUDP64 re-requests the UDP socket refused (the session asks again
    /// after its request timeout).
    pub rerequest_failures: u64,
    /// Split mode: times the feed thread waited for room on the quote ring.
    pub feed_ring_waits: u64,
    /// Split mode: retransmissions not handed to the feed thread (larger
    /// than a MoldUDP64 packet; the session asks again).
    pub replies_dropped: u64,
}

/// What ended [`Runtime::run`].
#[derive(Debug)]
pub struct RunReport {
    /// Counters at the end.
    pub stats: RuntimeStats,
    /// Why the run ended early, if it did (a journal failure).
    pub halted: Option<String>,
}

/// What split mode needs beyond [`Runtime::new`]'s arguments: the feed
/// thread's own receive handle of the NIC ([`crate::nic::open_feed_from_config`])
/// and its clock, on the same time line as the hot thread's.
pub struct SplitFeed {
    /// The feed thread's NIC handle.
    pub nic: Box<dyn Nic>,
    /// The feed thread's clock.
    pub clock: Box<dyn Clock + Send>,
}

/// The hot thread's side of split mode.
struct Split {
    handle: FeedHandle,
    ends: HotEnds,
}

/// The hot thread's state. See the module doc for the duty cycle.
pub struct Runtime {
    clock: Box<dyn Clock + Send>,
    nic: Box<dyn Nic>,
    net: NetStack,
    /// The sessions and books: here in single-thread mode; on the feed
    /// thread in split mode until it is joined at shutdown.
    feed: Option<FeedState>,
    split: Option<Split>,
    soup: SoupClient,
    dialect: AnyDialect,
    engine: Engine,
    outbox: Outbox,
    recorder: Recorder,
    control: Option<EngineEndpoint>,
    counters: Arc<HotCounters>,
    idle: Idle,
    rx_burst: usize,
    drain_limit: usize,
    scratch: [u8; 512],
    /// Receive timestamp of the frame behind the input being handled, when
    /// that input can trigger a child order (market data, venue reports).
    trigger: Option<Nanos>,
    ttt: Histogram<u64>,
    next_net_poll: Nanos,
    halted: Option<&'static str>,
    stats: RuntimeStats,
    recovery: RecoveryReport,
    /// MoldUDP64 gaps, malformed packets and stack frames sent, as last
    /// published to the metrics (the sources count cumulatively).
    mold_reported: MoldReported,
    tx_reported: u64,
}

impl Runtime {
    /// Opens the journal and recovers the engine from it, and builds every
    /// other piece from `cfg` on `nic`. Everything the hot thread will use is
    /// allocated here. Single-thread mode only: with `engine.feed_core` set
    /// use [`Runtime::with_feed`].
    pub fn new(
        cfg: &Config,
        nic: Box<dyn Nic>,
        clock: Box<dyn Clock + Send>,
        control: Option<EngineEndpoint>,
        counters: Arc<HotCounters>,
    ) -> Result<Runtime, RuntimeError> {
        Runtime::with_feed(cfg, nic, clock, control, counters, None)
    }

    /// [`Runtime::new`], in split mode when `split` is given (and
    /// `engine.feed_core` set: both or neither): everything is allocated,
    /// then the feed thread starts on `split.nic`.
    pub fn with_feed(
        cfg: &Config,
        mut nic: Box<dyn Nic>,
        clock: Box<dyn Clock + Send>,
        control: Option<EngineEndpoint>,
        counters: Arc<HotCounters>,
        split: Option<SplitFeed>,
    ) -> Result<Runtime, RuntimeError> {
        match (cfg.engine.feed_core, split.is_some()) {
            (Some(_), false) => {
                return Err(crate::config::ConfigError::Invalid {
                    key: "engine.feed_core",
                    reason: "split mode needs the feed thread's NIC handle \
                             (nic::open_feed_from_config, Runtime::with_feed)"
                        .into(),
                }
                .into())
            }
            (None, true) => {
                return Err(crate::config::ConfigError::Invalid {
                    key: "engine.feed_core",
                    reason: "a feed NIC handle was given but split mode is off".into(),
                }
                .into())
            }
            _ => {}
        }
        let now = clock.now();
        let dialect = AnyDialect::from_config(cfg).map_err(RuntimeError::Dialect)?;
        let net = NetStack::new(cfg, &mut *nic, now)?;
        let groups = net.classifier().groups().len().max(1);
        let mold = MoldConfig::from_config(&cfg.feed);
        let sessions = (0..groups).map(|_| MoldSession::new(mold)).collect();
        let books = Books::new(&cfg.book).map_err(|e| RuntimeError::Books(e.to_string()))?;
        let (recorder, engine, recovery) = Recorder::open(cfg)?;
        let mut soup = SoupClient::new(SoupConfig::from_config(&cfg.order));
        soup.resume_at(
            crate::wire::soupbintcp::Session::BLANK,
            engine.next_expected_soup_seq(),
        );
        let ttt = Histogram::new_with_bounds(1, TTT_MAX_NS, 3)
            .map_err(|e| RuntimeError::Books(e.to_string()))?;
        let feed = FeedState { sessions, books };
        // Last: nothing after this may fail.
        let (feed, split) = match split {
            Some(SplitFeed {
                nic: feed_nic,
                clock: feed_clock,
            }) => {
                let (handle, ends) =
                    feed_thread::spawn(cfg, feed, feed_nic, feed_clock, counters.clone())?;
                (None, Some(Split { handle, ends }))
            }
            None => (Some(feed), None),
        };
        let mut rt = Runtime {
            clock,
            nic,
            net,
            feed,
            split,
            soup,
            dialect,
            engine,
            outbox: Outbox::with_capacity(OUTBOX_CAPACITY),
            recorder,
            control,
            counters,
            idle: Idle::for_engine(&cfg.engine),
            rx_burst: cfg.engine.rx_burst,
            drain_limit: cfg.engine.command_drain_limit,
            scratch: [0; 512],
            trigger: None,
            ttt,
            next_net_poll: Nanos::ZERO,
            halted: None,
            stats: RuntimeStats::default(),
            recovery,
            mold_reported: MoldReported::default(),
            tx_reported: 0,
        };
        if let Some(c) = rt.control.as_mut() {
            c.publish_all(&rt.engine);
            c.set_ready(true);
        }
        Ok(rt)
    }

    /// What recovery found when the runtime started.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The engine (read-only: tests, the demo's summary).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The books (in split mode only once the feed thread is joined).
    pub fn books(&self) -> Option<&Books> {
        self.feed.as_ref().map(|f| &f.books)
    }

    /// Whether the feed handler runs on its own thread.
    pub fn is_split(&self) -> bool {
        self.split.is_some()
    }

    /// The network stack.
    pub fn net(&self) -> &NetStack {
        &self.net
    }

    /// The order session.
    pub fn soup(&self) -> &SoupClient {
        &self.soup
    }

    /// The MoldUDP64 sessions, one per group (in split mode empty until
    /// the feed thread is joined at shutdown).
    pub fn feeds(&self) -> &[MoldSession] {
        self.feed.as_ref().map_or(&[], |f| &f.sessions)
    }

    /// Counters so far (in split mode the feed thread's as last published).
    pub fn stats(&self) -> RuntimeStats {
        let mut s = self.stats;
        if let Some(sp) = &self.split {
            let sh = sp.handle.shared();
            s.md_messages = sh.messages.load(Ordering::Relaxed);
            s.feed_ring_waits = sh.ring_waits.load(Ordering::Relaxed);
        }
        s
    }

    /// Tick-to-trade so far, ns (exact to 3 significant digits).
    pub fn tick_to_trade(&self) -> &Histogram<u64> {
        &self.ttt
    }

    /// Forgets the tick-to-trade recorded so far (after a warm-up).
    pub fn reset_tick_to_trade(&mut self) {
        self.ttt.reset();
    }

    /// The NIC.
    pub fn nic(&self) -> &dyn Nic {
        &*self.nic
    }

    /// Why the runtime stopped sending, if it did.
    pub fn halted(&self) -> Option<&'static str> {
        self.halted
    }

    /// One duty cycle; returns the units of work it found (0 = idle).
    pub fn cycle(&mut self) -> usize {
        let now = self.clock.now();
        self.stats.cycles += 1;
        let mut work = self.poll_market(now);
        work += self.perform(now);
        work += self.poll_orders(now);
        work += self.poll_link(now);
        work += self.poll_rerequests(now);
        work += self.poll_commands(now);
        if self.engine.next_deadline() <= now {
            self.engine.poll(now, &mut self.outbox);
            work += self.perform(now);
        }
        if now >= self.next_net_poll {
            if self.net.poll(now, &mut *self.nic) {
                work += 1;
            }
            self.next_net_poll = now + self.net.poll_delay(now);
        }
        if let Some(c) = self.control.as_mut() {
            c.flush();
        }
        // Every frame the stack sent this cycle (orders, ACKs, ARP, IGMP,
        // re-requests, heartbeats); the runtime drives one queue.
        let tx = self.net.counters().device.tx_frames;
        if tx > self.tx_reported {
            self.counters.nic.tx(0, tx - self.tx_reported);
            self.tx_reported = tx;
        }
        if work > 0 {
            self.stats.busy_cycles += 1;
        }
        work
    }

    /// Runs duty cycles until `stop` is set (checked every few hundred
    /// cycles), then shuts down cleanly: logs out, flushes the journal.
    pub fn run(&mut self, stop: &AtomicBool) -> RunReport {
        let mut n: u32 = 0;
        loop {
            let work = self.cycle();
            if work > 0 {
                self.idle.reset();
            } else {
                let until = self.next_deadline().since(self.clock.now());
                self.idle.idle(Duration::from_nanos(until.0));
            }
            n = n.wrapping_add(1);
            if n.is_multiple_of(HOUSEKEEPING_EVERY) {
                self.maybe_snapshot();
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        }
        self.shutdown(Duration::from_millis(500));
        RunReport {
            stats: self.stats,
            halted: self.halted.map(str::to_owned),
        }
    }

    /// The earliest deadline of anything the runtime waits for.
    ///
    /// In split mode this is now: the feed thread hands quotes over without
    /// waking the hot thread, so an idle strategy must not sleep on it
    /// (`park` then only spins and yields).
    pub fn next_deadline(&self) -> Nanos {
        if self.split.is_some() {
            return self.clock.now();
        }
        self.engine
            .next_deadline()
            .min(self.next_net_poll)
            .min(self.soup.poll_timeout())
    }

    /// Writes a snapshot when the journal says one is due (cold: every
    /// `journal.snapshot_every` records).
    pub fn maybe_snapshot(&mut self) {
        match self.recorder.maybe_snapshot(&self.engine) {
            Ok(Some(_)) => self.stats.snapshots += 1,
            Ok(None) => {}
            Err(e) => {
                tracing::error!("snapshot failed (the journal still holds every record): {e}")
            }
        }
    }

    /// Logs out of the venue (bounded by `grace`), flushes the journal and
    /// stops reconnecting.
    pub fn shutdown(&mut self, grace: Duration) {
        self.stop_feed_thread();
        let now = self.clock.now();
        if self.soup.is_logged_in() {
            if let Ok(n) = self.soup.logout(now, &mut self.scratch) {
                let _ = self.net.send(now, &mut *self.nic, &self.scratch[..n]);
            }
        }
        self.net.set_auto_connect(false);
        let until = now + Nanos::from(grace);
        while self.clock.now() < until && self.net.is_connected() {
            let now = self.clock.now();
            self.net
                .poll_rx(now, &mut *self.nic, self.rx_burst, |_, _, _| {});
            self.net.recv_with(|d| d.len());
            self.net.poll(now, &mut *self.nic);
            std::thread::yield_now();
        }
        self.net.close(self.clock.now());
        self.net.poll(self.clock.now(), &mut *self.nic);
        if let Err(e) = self.recorder.flush() {
            tracing::error!("journal flush at shutdown failed: {e}");
        }
        if let Some(c) = self.control.as_mut() {
            c.set_ready(false);
            c.flush();
        }
    }

    /// Split mode: stops and joins the feed thread (its sessions and books
    /// come back); its last counters go into the runtime's.
    fn stop_feed_thread(&mut self) {
        let Some(mut sp) = self.split.take() else {
            return;
        };
        let feed = sp.handle.stop();
        let sh = sp.handle.shared();
        self.stats.md_messages = sh.messages.load(Ordering::Relaxed);
        self.stats.feed_ring_waits = sh.ring_waits.load(Ordering::Relaxed);
        let left = sp.ends.quotes.len();
        let lost = sh.quotes_lost_at_stop.load(Ordering::Relaxed);
        if left > 0 || lost > 0 {
            tracing::debug!(left, lost, "quotes not taken at shutdown");
        }
        self.feed = feed;
    }

    /// Step 1: a NIC burst. Market data runs through the feed into the
    /// engine inside the burst; its actions are performed right after.
    fn poll_market(&mut self, now: Nanos) -> usize {
        if self.split.is_some() {
            return self.poll_market_split(now);
        }
        let Runtime {
            net,
            nic,
            feed,
            engine,
            outbox,
            counters,
            trigger,
            stats,
            rx_burst,
            ..
        } = self;
        let Some(FeedState { sessions, books }) = feed.as_mut() else {
            return 0;
        };
        let frames = net.poll_rx(now, &mut **nic, *rx_burst, |group, payload, rx_ts| {
            let Some(session) = sessions.get_mut(group) else {
                return;
            };
            session.on_packet(payload, &mut |_seq, msg| {
                on_market_message(
                    books, engine, outbox, counters, trigger, stats, now, msg, rx_ts,
                )
            });
        });
        if frames > 0 {
            counters.nic.rx(0, frames as u64);
        }
        frames
    }

    /// Step 1 in split mode: a NIC burst for the network stack (market data
    /// is the feed thread's), then the feed thread's quotes into the engine.
    fn poll_market_split(&mut self, now: Nanos) -> usize {
        let Runtime {
            net,
            nic,
            split,
            engine,
            outbox,
            counters,
            trigger,
            stats,
            rx_burst,
            ..
        } = self;
        let Some(sp) = split.as_mut() else {
            return 0;
        };
        let frames = net.poll_rx(now, &mut **nic, *rx_burst, |_, _, _| {});
        if frames > 0 {
            counters.nic.rx(0, frames as u64);
        }
        let quotes = sp.ends.quotes.drain(QUOTES_PER_CYCLE, |q| {
            stats.quotes += 1;
            let before = outbox.len();
            engine.on_quote(now, q, outbox);
            if outbox.len() != before && trigger.is_none() {
                *trigger = Some(q.rx_ts);
            }
        });
        frames + quotes
    }

    /// Step 3: venue bytes into the session, reports into the engine.
    fn poll_orders(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        // Bounded: each pass either consumes bytes or stops for room.
        for _ in 0..8 {
            let rx_ts = self.net.last_stack_rx();
            let Runtime {
                net,
                soup,
                dialect,
                engine,
                outbox,
                counters,
                trigger,
                stats,
                ..
            } = self;
            let mut framing_error = false;
            let mut stopped_for_room = false;
            let mut foreign_session = false;
            let taken = net.recv_with(|data| {
                let r = soup.on_bytes_until(now, data, &mut |ev| {
                    if !on_soup_event(
                        ev, now, rx_ts, dialect, engine, outbox, counters, trigger, stats,
                    ) {
                        // Nothing after this login may be applied.
                        foreign_session = true;
                        return false;
                    }
                    let room = outbox.free() >= REPORT_ROOM;
                    if !room {
                        stopped_for_room = true;
                    }
                    room
                });
                match r {
                    Ok(n) => n,
                    Err(_) => {
                        framing_error = true;
                        data.len()
                    }
                }
            });
            if framing_error {
                tracing::warn!("order connection: broken SoupBinTCP stream, resetting");
                self.net.disconnect(now);
            }
            if foreign_session {
                // Ask for the journal's session position again next time
                // (the venue may come back with the session it lost).
                self.soup.resume_at(
                    crate::wire::soupbintcp::Session::BLANK,
                    self.engine.next_expected_soup_seq(),
                );
                self.net.disconnect(now);
                return work + 1;
            }
            if taken == 0 && !stopped_for_room {
                break;
            }
            work += 1;
            work += self.perform(now);
            if !stopped_for_room {
                break;
            }
        }
        work
    }

    /// Step 4a: connection changes, login, heartbeats, silence.
    fn poll_link(&mut self, now: Nanos) -> usize {
        let mut work = 0;
        while let Some(ev) = self.net.link_event() {
            work += 1;
            match ev {
                LinkEvent::Connected => match self.soup.on_connected(now, &mut self.scratch) {
                    Ok(n) => {
                        tracing::info!(
                            next_expected = self.soup.next_expected(),
                            "order connection up: logging in"
                        );
                        if self
                            .net
                            .send(now, &mut *self.nic, &self.scratch[..n])
                            .is_err()
                        {
                            self.net.disconnect(now);
                        }
                    }
                    Err(e) => tracing::error!("cannot build the login request: {e}"),
                },
                LinkEvent::Disconnected => {
                    // The stack's next deadline was computed while the
                    // connection was up; the reconnect timer is new. Poll
                    // the stack this cycle so its delay is taken afresh.
                    self.next_net_poll = now;
                    self.stats.disconnects += 1;
                    tracing::warn!("order connection down");
                    self.soup.on_disconnected();
                    self.engine.on_session(now, false, &mut self.outbox);
                    work += self.perform(now);
                }
            }
        }
        let p = self.soup.poll(now, &mut self.scratch);
        if p.dead {
            tracing::warn!("venue silent too long: resetting the order connection");
            self.net.disconnect(now);
            work += 1;
        } else if p.written > 0 {
            let _ = self
                .net
                .send(now, &mut *self.nic, &self.scratch[..p.written]);
            work += 1;
        }
        work
    }

    /// Step 4b: MoldUDP64 retransmissions in, re-requests out.
    fn poll_rerequests(&mut self, now: Nanos) -> usize {
        if self.split.is_some() {
            return self.poll_rerequests_split(now);
        }
        let Runtime {
            net,
            feed,
            engine,
            outbox,
            counters,
            trigger,
            stats,
            mold_reported,
            ..
        } = self;
        let Some(FeedState { sessions, books }) = feed.as_mut() else {
            return 0;
        };
        let mut work = net.udp_recv(|payload, _from| {
            if let Some(s) = session_of(sessions, payload) {
                s.on_packet(payload, &mut |_seq, msg| {
                    on_market_message(
                        books, engine, outbox, counters, trigger, stats, now, msg, now,
                    )
                });
            }
        });
        let mut req = [0u8; REQUEST_LEN];
        for s in sessions.iter_mut() {
            if s.poll_timeout() > now {
                continue;
            }
            while let Some(n) = s.poll_request(now, &mut req, &mut |_seq, msg| {
                on_market_message(
                    books, engine, outbox, counters, trigger, stats, now, msg, now,
                )
            }) {
                if send_rerequest(net, &req[..n], counters, stats) {
                    work += 1;
                }
            }
        }
        mold_reported.publish(sessions, counters);
        if work > 0 {
            self.next_net_poll = now;
            work += self.perform(now);
        }
        work
    }

    /// Step 4b in split mode: the retransmissions the UDP socket received go
    /// to the feed thread (taken only while its ring has room for a whole
    /// socket queue, so none is lost here), its re-requests go out.
    fn poll_rerequests_split(&mut self, now: Nanos) -> usize {
        let Runtime {
            net,
            split,
            counters,
            stats,
            ..
        } = self;
        let Some(sp) = split.as_mut() else {
            return 0;
        };
        let mut work = 0;
        let replies = &mut sp.ends.replies;
        if replies.free() >= UDP_RX_PACKETS {
            work += net.udp_recv(|payload, _from| {
                let Some(len) = (payload.len() <= MAX_PACKET_LEN).then_some(payload.len()) else {
                    stats.replies_dropped += 1;
                    return;
                };
                let pushed = replies.try_push_with(|d| {
                    d.bytes[..len].copy_from_slice(payload);
                    d.len = len as u16;
                });
                if !pushed {
                    stats.replies_dropped += 1;
                }
            });
        }
        work += sp.ends.requests.drain(REQUESTS_PER_CYCLE, |r| {
            let bytes = r.bytes.get(..usize::from(r.len)).unwrap_or(&[]);
            send_rerequest(net, bytes, counters, stats);
        });
        if work > 0 {
            // Queued datagrams leave on the stack's poll this cycle.
            self.next_net_poll = now;
        }
        work
    }

    /// Step 5: control commands.
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

    /// Performs the outbox in order: journal records are appended before any
    /// later action (write-ahead); orders are written to the TCP socket and
    /// leave at once; replies and statuses go to the control plane.
    fn perform(&mut self, now: Nanos) -> usize {
        let n = self.outbox.len();
        if n == 0 {
            return 0;
        }
        let Runtime {
            outbox,
            recorder,
            control,
            net,
            nic,
            soup,
            dialect,
            counters,
            trigger,
            ttt,
            halted,
            stats,
            clock,
            ..
        } = self;
        let mut journal_t: Option<Nanos> = None;
        for action in outbox.drain() {
            match action {
                Action::Journal(rec) => {
                    if halted.is_some() {
                        continue;
                    }
                    // Back-to-back records share a clock read: one's end is
                    // the next one's start (the next sample then also holds
                    // the counter updates in between, a few nanoseconds).
                    let t0 = match journal_t {
                        Some(t) => t,
                        None => clock.now(),
                    };
                    match recorder.record(&rec) {
                        Ok(_seq) => {
                            let t1 = clock.now();
                            journal_t = Some(t1);
                            counters.journal.append_ns.record(t1.since(t0).0);
                            stats.journal_records += 1;
                            counters.journal.records.inc();
                            counters.journal.bytes.add(rec.encoded_len() as u64);
                            if let Record::ParentWait { reason, .. } = &rec {
                                counters.orders.risk_refused(*reason);
                            }
                        }
                        Err(_) => {
                            // Without the record nothing after it may leave.
                            *halted = Some("journal append failed");
                        }
                    }
                }
                Action::Send(req) => {
                    journal_t = None;
                    if halted.is_some() {
                        continue;
                    }
                    let sent = net.send_with(now, &mut **nic, |buf| {
                        soup.send_with(now, buf, |payload| {
                            dialect
                                .encode(&req, payload)
                                .map_err(|_| crate::order::session::SessionError::NotLoggedIn)
                        })
                        .unwrap_or(0)
                    });
                    match sent {
                        Ok(n) if n > 0 => {
                            stats.orders_sent += 1;
                            counters.orders.sent.inc();
                            if let Some(t) = *trigger {
                                let d = clock.now().since(t).0.clamp(1, TTT_MAX_NS);
                                let _ = ttt.record(d);
                                counters.tick_to_trade_ns.record(d);
                            }
                        }
                        _ => {
                            // The engine counts it as sent; the venue never
                            // saw it. Reset the connection: on the next
                            // session the engine resends every unanswered
                            // intent under its own id.
                            stats.send_failures += 1;
                            net.disconnect(now);
                        }
                    }
                }
                other => {
                    journal_t = None;
                    if let Action::Reply {
                        reply: Reply::Refused(CommandError::Risk(r)),
                        ..
                    } = other
                    {
                        counters.orders.risk_refused(r);
                    }
                    if let Some(c) = control.as_mut() {
                        c.route(&other);
                    }
                }
            }
        }
        *trigger = None;
        n
    }
}

/// Hands one MoldUDP64 re-request to the UDP socket and counts it as sent
/// or refused (the session asks again after its request timeout).
#[inline]
fn send_rerequest(
    net: &mut NetStack,
    bytes: &[u8],
    counters: &HotCounters,
    stats: &mut RuntimeStats,
) -> bool {
    let sent = net.udp_send(bytes).is_ok();
    if sent {
        counters.feed.mold_rerequests.inc();
        stats.rerequests_sent += 1;
    } else {
        counters.feed.mold_rerequest_failures.inc();
        stats.rerequest_failures += 1;
    }
    sent
}

/// One in-order ITCH message: into the books; a changed top of book into
/// the engine.
#[allow(clippy::too_many_arguments)]
#[inline]
fn on_market_message(
    books: &mut Books,
    engine: &mut Engine,
    outbox: &mut Outbox,
    counters: &HotCounters,
    trigger: &mut Option<Nanos>,
    stats: &mut RuntimeStats,
    now: Nanos,
    msg: &[u8],
    rx_ts: Nanos,
) {
    stats.md_messages += 1;
    counters.feed.messages.inc();
    match apply_bytes(books, msg, rx_ts) {
        Ok(Some(q)) => {
            stats.quotes += 1;
            let before = outbox.len();
            engine.on_quote(now, &q, outbox);
            if outbox.len() != before && trigger.is_none() {
                *trigger = Some(rx_ts);
            }
        }
        Ok(None) => {}
        Err(e) => counters.feed.decode_error(&e),
    }
}

/// One SoupBinTCP event: a report into the engine; session changes.
/// Returns false for a login the engine must not trade on: the venue
/// served a sequence number below the journal's next expected one, so its
/// session does not hold the reports the engine has already applied (a
/// restarted venue, or the next session after End of Session) and its
/// numbers would be taken for duplicates.
#[allow(clippy::too_many_arguments)]
#[inline]
fn on_soup_event(
    ev: SoupEvent<'_>,
    now: Nanos,
    rx_ts: Nanos,
    dialect: &AnyDialect,
    engine: &mut Engine,
    outbox: &mut Outbox,
    counters: &HotCounters,
    trigger: &mut Option<Nanos>,
    stats: &mut RuntimeStats,
) -> bool {
    match ev {
        SoupEvent::Sequenced { seq, msg } => match dialect.decode(msg) {
            Ok(report) => {
                stats.reports += 1;
                if let OrderEvent::Executed { .. } = report {
                    counters.orders.fills.inc();
                }
                if let OrderEvent::Rejected { reason, .. } = report {
                    counters.orders.rejects.record(reason.code);
                }
                let before = outbox.len();
                // Room was checked before this event was taken.
                let _ = engine.on_order_event(now, seq, &report, outbox);
                if outbox.len() != before && trigger.is_none() {
                    *trigger = Some(rx_ts);
                }
            }
            Err(e) => {
                stats.report_decode_errors += 1;
                counters.orders.decode_error(&e);
            }
        },
        SoupEvent::LoggedIn { session, sequence } => {
            let expected = engine.next_expected_soup_seq();
            if sequence < expected {
                tracing::error!(
                    session = session.as_str(),
                    served = sequence,
                    journal_next = expected,
                    "the venue's session does not hold the reports the journal has seen \
                     (a restarted venue or a new session): not trading on it"
                );
                return false;
            }
            stats.logins += 1;
            tracing::info!(session = session.as_str(), sequence, "logged in");
            engine.on_session(now, true, outbox);
        }
        SoupEvent::Rejected(reason) => {
            tracing::error!(
                reason = %(reason.0 as char),
                "login rejected: {}",
                reason.description().unwrap_or("unknown reason")
            );
        }
        SoupEvent::EndOfSession => {
            tracing::warn!("venue ended the session");
            engine.on_session(now, false, outbox);
        }
        SoupEvent::Unsequenced(_) | SoupEvent::Debug(_) => {}
    }
    true
}

/// Runs a [`Runtime`] on the calling thread until `stop` is set, pinned to
/// `engine.core` when configured.
pub fn run_pinned(rt: &mut Runtime, core: Option<usize>, stop: &AtomicBool) -> RunReport {
    if let Some(c) = core {
        if !super::idle::pin_to_core(c) {
            tracing::warn!(core = c, "could not pin the hot thread; running unpinned");
        }
    }
    rt.run(stop)
}
