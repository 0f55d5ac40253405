//! Split mode (`engine.feed_core`): the feed handler on a second pinned
//! thread.
//!
//! The feed thread owns the MoldUDP64 sessions, the ITCH handler and the
//! [`Books`], and reads market-data frames from its own receive handle of
//! the NIC (a second AF_PACKET socket on the interface, or the third end of
//! a fan-out memory pair: every frame reaches both handles, the feed keeps
//! the group frames and the hot thread's classifier drops them). Each
//! changed top of book goes, with the receive timestamp of the frame that
//! carried it, onto a bounded SPSC ring ([`crate::nic::spsc`]) to the hot
//! thread, which drains it in its duty cycle into the engine.
//!
//! - **Ring full**: the feed thread waits (spins, then yields) until the hot
//!   thread takes a quote: back-pressure, never a silent loss. While it
//!   waits it reads no frames, so the NIC's ring absorbs the burst (a frame
//!   the kernel then drops is a MoldUDP64 gap, recovered by re-request).
//!   Every wait is counted (`floe_feed_ring_waits_total`).
//! - **Re-requests**: the sessions' requests go over a second ring to the
//!   hot thread, which sends them from its UDP socket; the retransmissions
//!   it receives come back over a third ring to the feed thread, which
//!   hands each to the session whose name it carries.
//! - **Counters**: the feed thread writes the market-data counters of
//!   [`HotCounters`] (messages, decode errors, gaps, malformed packets) and
//!   rx frames on NIC queue 1; the hot thread writes the re-request counts.
//! - **Stop**: [`FeedHandle::stop`] sets the thread's flag and joins it; the
//!   sessions and books come back with it.
//!
//! Everything is allocated before the thread starts; its loop allocates,
//! locks and formats nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::idle::{pin_to_core, Idle, SPINS_BEFORE_YIELD};
use crate::book::Books;
use crate::config::{Config, ConfigError};
use crate::control::metrics::HotCounters;
use crate::feed::itch::apply_bytes;
use crate::feed::moldudp64::{MoldSession, MAX_PACKET_LEN};
use crate::net::{Class, Classifier};
use crate::nic::spsc::{channel, Consumer, Producer};
use crate::nic::Nic;
use crate::time::{Clock, Nanos};
use crate::types::{Quote, Symbol};
use crate::wire::moldudp64::REQUEST_LEN;

/// Re-requests the feed → hot ring holds.
pub const REQUEST_RING: usize = 64;
/// Retransmissions the hot → feed ring holds (twice what the hot thread's
/// UDP socket queues, so one socket's worth always fits).
pub const REPLY_RING: usize = 128;
/// Retransmissions the feed thread takes per cycle.
const REPLIES_PER_CYCLE: usize = 16;
/// Feed cycles between checks of the stop flag.
const STOP_EVERY: u32 = 64;
/// The longest a `park` idle sleeps while no session has a deadline.
const IDLE_MAX: Nanos = Nanos::from_ms(1);

/// The market-data side: one MoldUDP64 session per group and the books.
pub struct FeedState {
    /// One session per `feed.groups` entry.
    pub sessions: Vec<MoldSession>,
    /// The books.
    pub books: Books,
}

/// A MoldUDP64 re-request packet, feed → hot.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// Bytes used.
    pub len: u8,
    /// The packet.
    pub bytes: [u8; REQUEST_LEN],
}

/// A retransmitted MoldUDP64 packet, hot → feed.
#[derive(Clone, Copy)]
pub struct Datagram {
    /// Bytes used.
    pub len: u16,
    /// The packet.
    pub bytes: [u8; MAX_PACKET_LEN],
}

/// Counters the feed thread publishes for the hot thread (one writer each).
#[derive(Debug, Default)]
pub struct FeedShared {
    /// Market-data messages handed to the books.
    pub messages: AtomicU64,
    /// Quotes pushed onto the ring.
    pub quotes: AtomicU64,
    /// Times the quote ring was full and the feed thread waited.
    pub ring_waits: AtomicU64,
    /// Quotes given up because a stop came while the ring was full.
    pub quotes_lost_at_stop: AtomicU64,
    /// Frames read from the feed's NIC handle.
    pub frames: AtomicU64,
}

/// The hot thread's ends of the rings.
pub struct HotEnds {
    /// Quotes, oldest first.
    pub quotes: Consumer<Quote>,
    /// Re-requests to send.
    pub requests: Consumer<Request>,
    /// Retransmissions received.
    pub replies: Producer<Datagram>,
}

/// The running feed thread.
pub struct FeedHandle {
    thread: Option<JoinHandle<FeedState>>,
    stop: Arc<AtomicBool>,
    shared: Arc<FeedShared>,
}

/// What the feed thread owns.
struct Worker {
    feed: FeedState,
    nic: Box<dyn Nic>,
    clock: Box<dyn Clock + Send>,
    classifier: Classifier,
    counters: Arc<HotCounters>,
    shared: Arc<FeedShared>,
    stop: Arc<AtomicBool>,
    quotes: Producer<Quote>,
    requests: Producer<Request>,
    replies: Consumer<Datagram>,
    rx_burst: usize,
    /// Local counts, published after every cycle that found work.
    messages: u64,
    pushed: u64,
    waits: u64,
    lost: u64,
    frames: u64,
    reported: MoldReported,
}

/// The placeholder a ring slot holds before its first quote.
const NO_QUOTE: Quote = Quote {
    symbol: Symbol([b' '; 8]),
    bid: None,
    ask: None,
    exch_ts: 0,
    rx_ts: Nanos::ZERO,
};

/// Builds the rings and starts the feed thread on `feed_core` (pinned; a
/// warning if the OS refuses), reading `nic` and stamping with `clock`
/// (which must run on the same time line as the hot thread's).
pub fn spawn(
    cfg: &Config,
    feed: FeedState,
    nic: Box<dyn Nic>,
    clock: Box<dyn Clock + Send>,
    counters: Arc<HotCounters>,
) -> Result<(FeedHandle, HotEnds), ConfigError> {
    let classifier = Classifier::from_config(cfg)?;
    let (quotes_tx, quotes_rx) = channel(cfg.engine.feed_ring, NO_QUOTE);
    let (requests_tx, requests_rx) = channel(
        REQUEST_RING,
        Request {
            len: 0,
            bytes: [0; REQUEST_LEN],
        },
    );
    let (replies_tx, replies_rx) = channel(
        REPLY_RING,
        Datagram {
            len: 0,
            bytes: [0; MAX_PACKET_LEN],
        },
    );
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(FeedShared::default());
    let worker = Worker {
        feed,
        nic,
        clock,
        classifier,
        counters,
        shared: shared.clone(),
        stop: stop.clone(),
        quotes: quotes_tx,
        requests: requests_tx,
        replies: replies_rx,
        rx_burst: cfg.engine.rx_burst,
        messages: 0,
        pushed: 0,
        waits: 0,
        lost: 0,
        frames: 0,
        reported: MoldReported::default(),
    };
    let core = cfg.engine.feed_core;
    let idle = Idle::for_engine(&cfg.engine);
    let thread = std::thread::Builder::new()
        .name("floe-feed".into())
        .spawn(move || {
            if let Some(c) = core {
                if !pin_to_core(c) {
                    tracing::warn!(core = c, "could not pin the feed thread; running unpinned");
                }
            }
            worker.run(idle)
        })
        .map_err(|e| ConfigError::Invalid {
            key: "engine.feed_core",
            reason: format!("cannot start the feed thread: {e}"),
        })?;
    Ok((
        FeedHandle {
            thread: Some(thread),
            stop,
            shared,
        },
        HotEnds {
            quotes: quotes_rx,
            requests: requests_rx,
            replies: replies_tx,
        },
    ))
}

impl FeedHandle {
    /// What the feed thread has published so far.
    pub fn shared(&self) -> &FeedShared {
        &self.shared
    }

    /// Whether the thread still runs.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops and joins the thread; its sessions and books come back (`None`
    /// if it was already joined or panicked).
    pub fn stop(&mut self) -> Option<FeedState> {
        self.stop.store(true, Ordering::Release);
        let t = self.thread.take()?;
        match t.join() {
            Ok(f) => Some(f),
            Err(_) => {
                tracing::error!("the feed thread panicked");
                None
            }
        }
    }
}

impl Drop for FeedHandle {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

impl Worker {
    fn run(mut self, mut idle: Idle) -> FeedState {
        let mut n: u32 = 0;
        loop {
            let now = self.clock.now();
            if self.cycle(now) > 0 {
                idle.reset();
                self.publish();
            } else {
                let next = self
                    .feed
                    .sessions
                    .iter()
                    .map(MoldSession::poll_timeout)
                    .min()
                    .unwrap_or(Nanos::MAX)
                    .min(now + IDLE_MAX);
                idle.idle(Duration::from_nanos(next.since(now).0));
            }
            n = n.wrapping_add(1);
            if n.is_multiple_of(STOP_EVERY) && self.stop.load(Ordering::Acquire) {
                break;
            }
        }
        self.publish();
        self.feed
    }

    /// Retransmissions in, one NIC burst, re-requests out; returns the work
    /// found.
    fn cycle(&mut self, now: Nanos) -> usize {
        let Worker {
            feed,
            nic,
            classifier,
            counters,
            stop,
            quotes,
            requests,
            replies,
            rx_burst,
            messages,
            pushed,
            waits,
            lost,
            frames,
            ..
        } = self;
        let FeedState { sessions, books } = feed;
        let mut sink = Sink {
            books,
            counters,
            quotes,
            stop,
            messages,
            pushed,
            waits,
            lost,
        };
        let mut work = replies.drain(REPLIES_PER_CYCLE, |d| {
            let Some(payload) = d.bytes.get(..usize::from(d.len)) else {
                return;
            };
            if let Some(s) = session_of(sessions, payload) {
                s.on_packet(payload, &mut |_seq, msg| sink.message(msg, now));
            }
        });
        let got = nic.rx_burst(now, *rx_burst, &mut |frame, ts| {
            if let Class::MarketData { group, payload } = classifier.classify(frame) {
                if let (Some(s), Some(p)) = (sessions.get_mut(group), frame.get(payload)) {
                    s.on_packet(p, &mut |_seq, msg| sink.message(msg, ts));
                }
            }
        });
        if got > 0 {
            *frames += got as u64;
            counters.nic.rx(1, got as u64);
            work += got;
        }
        let mut req = [0u8; REQUEST_LEN];
        for s in sessions.iter_mut() {
            if s.poll_timeout() > now {
                continue;
            }
            // A request is asked for only when the ring can take it.
            while requests.free() > 0 {
                let Some(len) =
                    s.poll_request(now, &mut req, &mut |_seq, msg| sink.message(msg, now))
                else {
                    break;
                };
                let len = len.min(REQUEST_LEN);
                let _ = requests.try_push(Request {
                    len: len as u8,
                    bytes: req,
                });
                work += 1;
            }
        }
        work
    }

    /// Publishes the local counts (single writer of each).
    fn publish(&mut self) {
        let r = Ordering::Relaxed;
        self.shared.messages.store(self.messages, r);
        self.shared.quotes.store(self.pushed, r);
        self.shared.ring_waits.store(self.waits, r);
        self.shared.quotes_lost_at_stop.store(self.lost, r);
        self.shared.frames.store(self.frames, r);
        self.reported.publish(&self.feed.sessions, &self.counters);
    }
}

/// The session a MoldUDP64 retransmission belongs to: the one whose name it
/// carries (the first when none matches yet); `None` for a packet too short
/// to carry a name.
#[inline]
pub(super) fn session_of<'a>(
    sessions: &'a mut [MoldSession],
    packet: &[u8],
) -> Option<&'a mut MoldSession> {
    let name = packet.get(..10)?;
    let idx = sessions
        .iter()
        .position(|s| s.session().is_some_and(|n| n[..] == *name))
        .unwrap_or(0);
    sessions.get_mut(idx)
}

/// The MoldUDP64 gaps and malformed packets of a set of sessions as last
/// added to the metrics (the sessions count cumulatively).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct MoldReported {
    gaps: u64,
    malformed: u64,
}

impl MoldReported {
    /// Adds to the metrics what the sessions counted since the last call.
    pub(super) fn publish(&mut self, sessions: &[MoldSession], counters: &HotCounters) {
        let (gaps, malformed) = sessions.iter().fold((0, 0), |(g, m), s| {
            let c = s.counters();
            (g + c.gaps, m + c.malformed)
        });
        if gaps > self.gaps {
            counters.feed.mold_gaps.add(gaps - self.gaps);
            self.gaps = gaps;
        }
        if malformed > self.malformed {
            counters.feed.mold_malformed.add(malformed - self.malformed);
            self.malformed = malformed;
        }
    }
}

/// Where in-order ITCH messages go on the feed thread.
struct Sink<'a> {
    books: &'a mut Books,
    counters: &'a HotCounters,
    quotes: &'a mut Producer<Quote>,
    stop: &'a AtomicBool,
    messages: &'a mut u64,
    pushed: &'a mut u64,
    waits: &'a mut u64,
    lost: &'a mut u64,
}

impl Sink<'_> {
    /// One message into the books; a changed top of book onto the ring,
    /// waiting for room when it is full.
    #[inline]
    fn message(&mut self, msg: &[u8], rx_ts: Nanos) {
        *self.messages += 1;
        self.counters.feed.messages.inc();
        match apply_bytes(self.books, msg, rx_ts) {
            Ok(Some(q)) => self.push(q),
            Ok(None) => {}
            Err(e) => self.counters.feed.decode_error(&e),
        }
    }

    #[inline]
    fn push(&mut self, q: Quote) {
        if self.quotes.try_push(q).is_ok() {
            *self.pushed += 1;
            return;
        }
        *self.waits += 1;
        self.counters.feed.ring_waits.inc();
        let mut spins: u32 = 0;
        loop {
            if self.stop.load(Ordering::Acquire) || !self.quotes.consumer_alive() {
                *self.lost += 1;
                return;
            }
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                core::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
            if self.quotes.try_push(q).is_ok() {
                *self.pushed += 1;
                return;
            }
        }
    }
}
