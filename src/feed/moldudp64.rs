//! The MoldUDP64 session (sans-IO): sequencing, duplicate suppression, gap
//! detection and re-request, bounded reordering, end of session.
//!
//! [`MoldSession::on_packet`] takes every downstream packet (multicast or a
//! unicast retransmission) and hands the messages that are next in sequence
//! to a callback, exactly once and in order, straight from the caller's
//! buffer. A packet that arrives ahead of a gap is copied into a fixed pool
//! of reorder slots; [`MoldSession::poll_request`] writes the re-request
//! packets the gaps call for (a bounded number outstanding, each re-sent
//! after a timeout, given up after a bounded number of tries without
//! progress — the lost messages are then counted and skipped). Heartbeats
//! and end-of-session packets reveal gaps too (their sequence is the next
//! one expected).
//!
//! A request server answers each request with one packet: as many of the
//! asked-for messages as fit, often fewer than asked. A packet that covers
//! the front of an outstanding request therefore makes the rest of its range
//! due at once (a continuation, not a retry), and the session learns how
//! many messages an answer carries: requests ask for about two answers'
//! worth, so a long gap is fetched by up to `max_outstanding` requests in
//! flight at once, each answered packet followed by the next request, while
//! what arrives ahead of the front stays within a few reorder slots.
//!
//! Guarantees: never panics on any bytes, never allocates after
//! [`MoldSession::new`], never reads a clock (time is passed in).

use crate::time::Nanos;
use crate::wire::moldudp64::{Packet, Request, Session, REQUEST_LEN};

/// The most messages one request may ask for (NASDAQ's servers take ≤ 65534).
pub const MAX_REQUEST_COUNT: u16 = 65_534;

/// Largest downstream packet kept in a reorder slot (an Ethernet MTU's UDP payload).
pub const MAX_PACKET_LEN: usize = 1472;

/// How a session behaves; built from `[feed]` in the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MoldConfig {
    /// First sequence number wanted; 0 = start from the first packet seen
    /// (joining a live feed), 1 = the whole session from its first message
    /// (re-requesting what was missed before joining).
    pub start_sequence: u64,
    /// Re-requests outstanding at once.
    pub max_outstanding: usize,
    /// A request without progress is re-sent after this long.
    pub request_timeout: Nanos,
    /// A gap is given up (its messages counted as lost) after this many tries.
    pub max_retries: u32,
    /// Out-of-order packets held while a gap is open.
    pub reorder_packets: usize,
}

impl MoldConfig {
    /// From the appliance configuration.
    pub fn from_config(feed: &crate::config::FeedConfig) -> MoldConfig {
        MoldConfig {
            start_sequence: feed.start_sequence,
            max_outstanding: feed.max_outstanding_requests.max(1),
            request_timeout: Nanos::from_ms(feed.request_timeout_ms),
            max_retries: feed.max_request_retries,
            reorder_packets: feed.reorder_packets.max(1),
        }
    }
}

/// Everything the session has seen, for metrics. Plain counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MoldCounters {
    /// Downstream packets handled (any kind).
    pub packets: u64,
    /// Messages handed to the callback.
    pub messages: u64,
    /// Heartbeat packets.
    pub heartbeats: u64,
    /// Packets whose every message had already been delivered.
    pub duplicate_packets: u64,
    /// Messages skipped because they had already been delivered.
    pub duplicate_messages: u64,
    /// Gaps detected: a packet, heartbeat or end of session ahead of every
    /// message known so far (missing messages the wire revealed; one per hole).
    pub gaps: u64,
    /// Request packets written (first tries, continuations and retries).
    pub requests: u64,
    /// Of those, continuations: the rest of a range re-requested at once
    /// after a packet covered its front.
    pub request_continuations: u64,
    /// Of those, retries after a timeout without progress.
    pub request_retries: u64,
    /// Ranges given up after the last retry.
    pub gaps_abandoned: u64,
    /// Messages never received and skipped.
    pub messages_lost: u64,
    /// Packets copied into a reorder slot.
    pub reordered: u64,
    /// Out-of-order packets dropped because every slot was taken by nearer
    /// ones (they are re-requested).
    pub reorder_overflow: u64,
    /// Buffered packets dropped to make room for one nearer the next
    /// expected message (they are re-requested).
    pub reorder_evicted: u64,
    /// Packets that failed to parse, or whose blocks ran past the packet.
    pub malformed: u64,
    /// Packets of another session while the current one is still open.
    pub foreign_session: u64,
    /// End-of-session packets.
    pub end_of_session: u64,
}

/// What happened to one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketOutcome {
    /// `n` messages were delivered (from this packet and from reorder slots it unblocked).
    Delivered(u64),
    /// Every message had been delivered before.
    Duplicate,
    /// Held in a reorder slot until the gap before it is filled.
    Buffered,
    /// A heartbeat (it may have revealed a gap).
    Heartbeat,
    /// The session ended; re-requests are still possible.
    EndOfSession,
    /// Dropped: malformed, foreign session, or no free reorder slot.
    Dropped,
}

#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    seq: u64,
    count: u16,
    len: u16,
    storage: u16,
}

#[derive(Clone, Copy, Debug)]
struct Outstanding {
    /// First message still missing.
    from: u64,
    /// One past the last message asked for.
    end: u64,
    sent_at: Nanos,
    /// Sends without progress.
    tries: u32,
    /// Out of retries: no longer sent, skipped when delivery reaches it.
    dead: bool,
    /// A packet covered the front: the rest is to be asked for at once.
    due: bool,
}

/// One MoldUDP64 downstream session.
pub struct MoldSession {
    cfg: MoldConfig,
    session: Option<Session>,
    ended: bool,
    /// Next sequence number to deliver; 0 until the first packet when
    /// `start_sequence` is 0.
    expected: u64,
    /// One past the highest sequence number known to exist.
    horizon: u64,
    /// Reorder slots in use, sorted by `seq`.
    slots: Vec<Slot>,
    /// Free storage indices.
    free: Vec<u16>,
    storage: Vec<u8>,
    requests: Vec<Outstanding>,
    /// Messages the request server put in its last answer that said how
    /// much fits (0 until one did).
    answer_hint: u64,
    counters: MoldCounters,
}

impl MoldSession {
    /// Allocates every buffer the session will ever use.
    pub fn new(cfg: MoldConfig) -> MoldSession {
        let slots_n = cfg.reorder_packets.clamp(1, u16::MAX as usize);
        MoldSession {
            cfg,
            session: None,
            ended: false,
            expected: cfg.start_sequence,
            horizon: cfg.start_sequence,
            slots: Vec::with_capacity(slots_n),
            free: (0..slots_n as u16).rev().collect(),
            storage: vec![0; slots_n * MAX_PACKET_LEN],
            requests: Vec::with_capacity(cfg.max_outstanding.max(1)),
            answer_hint: 0,
            counters: MoldCounters::default(),
        }
    }

    /// Counters so far.
    pub fn counters(&self) -> &MoldCounters {
        &self.counters
    }

    /// The session name, once known.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The next sequence number to be delivered (0 before the first packet
    /// when joining live).
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// True once an end-of-session packet was seen and everything before it
    /// was delivered (or given up).
    pub fn is_finished(&self) -> bool {
        self.ended && self.expected >= self.horizon && self.slots.is_empty()
    }

    /// True while messages are missing before the highest one known.
    pub fn has_gap(&self) -> bool {
        self.expected != 0 && self.horizon > self.expected
    }

    /// Handles one downstream packet and delivers, in order, every message
    /// that is now next in sequence: `deliver(seq, message)`.
    pub fn on_packet<F: FnMut(u64, &[u8])>(
        &mut self,
        bytes: &[u8],
        deliver: &mut F,
    ) -> PacketOutcome {
        self.counters.packets += 1;
        let Ok(packet) = Packet::new_checked(bytes) else {
            self.counters.malformed += 1;
            return PacketOutcome::Dropped;
        };
        let session = *packet.session();
        match self.session {
            None => self.session = Some(session),
            Some(s) if s == session => {}
            Some(_) if self.ended => {
                // A new session after the end of the old one: start over.
                self.reset_for(session);
            }
            Some(_) => {
                self.counters.foreign_session += 1;
                return PacketOutcome::Dropped;
            }
        }
        let seq = packet.sequence();
        if self.expected == 0 {
            self.expected = seq.max(1);
            self.horizon = self.expected;
        }
        if packet.is_end_of_session() || packet.is_heartbeat() {
            let outcome = if packet.is_end_of_session() {
                self.counters.end_of_session += 1;
                self.ended = true;
                PacketOutcome::EndOfSession
            } else {
                self.counters.heartbeats += 1;
                PacketOutcome::Heartbeat
            };
            if seq > self.horizon {
                self.counters.gaps += 1;
            }
            self.learn_horizon(seq);
            return outcome;
        }
        let count = u64::from(packet.message_count());
        let end = seq.saturating_add(count);
        if end <= self.expected {
            self.counters.duplicate_packets += 1;
            self.counters.duplicate_messages += count;
            return PacketOutcome::Duplicate;
        }
        if seq > self.horizon {
            self.counters.gaps += 1;
        }
        self.learn_horizon(end);
        if seq > self.expected {
            let outcome = self.buffer(bytes, seq, count as u16);
            if outcome == PacketOutcome::Buffered {
                self.covered(seq, end);
            }
            return outcome;
        }
        let before = self.counters.messages;
        self.deliver_packet(bytes, seq, deliver);
        // What this packet supplied (a bad block stops it short).
        self.covered(seq, self.expected.max(seq));
        self.drain_slots(deliver);
        PacketOutcome::Delivered(self.counters.messages - before)
    }

    /// Writes the next re-request packet that is due into `out` (at least
    /// [`REQUEST_LEN`] bytes) and returns its length; `None` when nothing is
    /// due. Call until `None`; send each to the request server. A gap given
    /// up here unblocks buffered packets, which go to `deliver`.
    pub fn poll_request<F: FnMut(u64, &[u8])>(
        &mut self,
        now: Nanos,
        out: &mut [u8],
        deliver: &mut F,
    ) -> Option<usize> {
        let session = self.session?;
        if out.len() < REQUEST_LEN {
            return None;
        }
        // What is delivered is no longer asked for; ranges now empty are done.
        let expected = self.expected;
        for r in &mut self.requests {
            r.from = r.from.max(expected);
        }
        self.requests.retain(|r| r.from < r.end);
        // A given-up request at the front: skip what it covered.
        while let Some(i) = self
            .requests
            .iter()
            .position(|r| r.dead && r.from <= self.expected)
        {
            let r = self.requests.swap_remove(i);
            self.abandon_front(r.end);
            self.drain_slots(deliver);
        }
        // The rest of a range whose front was answered: at once.
        if let Some(i) = self.requests.iter().position(|r| r.due && !r.dead) {
            let from = self.requests[i].from;
            let count = self.span(from, self.requests[i].end);
            self.requests[i] = Outstanding {
                from,
                end: from + u64::from(count),
                sent_at: now,
                tries: 1,
                dead: false,
                due: false,
            };
            self.counters.request_continuations += 1;
            return self.write_request(session, from, count, out);
        }
        // Re-send (or give up) requests that timed out.
        for i in 0..self.requests.len() {
            let r = self.requests[i];
            if r.dead || now.since(r.sent_at) < self.cfg.request_timeout {
                continue;
            }
            if r.tries > self.cfg.max_retries {
                // Keeps covering its range so it is not asked for again; the
                // range is skipped once delivery reaches it.
                self.requests[i].dead = true;
                continue;
            }
            let count = self.span(r.from, r.end);
            self.requests[i] = Outstanding {
                from: r.from,
                end: r.from + u64::from(count),
                sent_at: now,
                tries: r.tries + 1,
                dead: false,
                due: false,
            };
            self.counters.request_retries += 1;
            return self.write_request(session, r.from, count, out);
        }
        // New requests for holes nobody asked for yet.
        if self.requests.len() >= self.cfg.max_outstanding.max(1) {
            return None;
        }
        let (from, to) = self.first_unrequested_hole()?;
        let count = self.span(from, to);
        self.requests.push(Outstanding {
            from,
            end: from + u64::from(count),
            sent_at: now,
            tries: 1,
            dead: false,
            due: false,
        });
        self.write_request(session, from, count, out)
    }

    /// How many messages to ask for from `from` (missing, and less than
    /// `end`): up to the next buffered packet, at most about two answers'
    /// worth once the server has shown how much an answer carries, at least 1.
    fn span(&self, from: u64, end: u64) -> u16 {
        let chunk = match self.answer_hint {
            0 => u64::from(MAX_REQUEST_COUNT),
            n => n.saturating_mul(2).min(u64::from(MAX_REQUEST_COUNT)),
        };
        let next_slot = self
            .slots
            .iter()
            .map(|s| s.seq)
            .find(|&seq| seq > from)
            .unwrap_or(u64::MAX);
        (end.min(next_slot).saturating_sub(from)).clamp(1, chunk) as u16
    }

    /// A packet holding messages `[seq, end)` was accepted (delivered or
    /// buffered): requests whose front it covers move past it, the rest of
    /// their range due at once; an answer to a request says how many
    /// messages fit one.
    fn covered(&mut self, seq: u64, end: u64) {
        let mut hint = self.answer_hint;
        for r in &mut self.requests {
            if r.from < seq || r.from >= end {
                continue;
            }
            if r.from == seq && !r.dead {
                let n = end - seq;
                if n < r.end - r.from || n > hint {
                    hint = n;
                }
            }
            r.from = end;
            if !r.dead && r.from < r.end {
                r.due = true;
                r.tries = 0;
            }
        }
        self.answer_hint = hint;
        self.requests.retain(|r| r.from < r.end);
    }

    /// When [`MoldSession::poll_request`] next has something to do:
    /// `Nanos::ZERO` if a hole is waiting for a request, the rest of a
    /// partly answered range is due or a given-up range is due to be
    /// skipped, `Nanos::MAX` if nothing is pending.
    pub fn poll_timeout(&self) -> Nanos {
        if self.session.is_some()
            && (self
                .requests
                .iter()
                .any(|r| (r.dead && r.from <= self.expected) || (r.due && !r.dead))
                || (self.requests.len() < self.cfg.max_outstanding.max(1)
                    && self.first_unrequested_hole().is_some()))
        {
            return Nanos::ZERO;
        }
        self.requests
            .iter()
            .map(|r| {
                if r.dead {
                    Nanos::MAX
                } else {
                    r.sent_at + self.cfg.request_timeout
                }
            })
            .min()
            .unwrap_or(Nanos::MAX)
    }

    fn write_request(
        &mut self,
        session: Session,
        sequence: u64,
        count: u16,
        out: &mut [u8],
    ) -> Option<usize> {
        let req = Request {
            session,
            sequence,
            message_count: count,
        };
        let n = req.emit(out).ok()?;
        self.counters.requests += 1;
        Some(n)
    }

    fn reset_for(&mut self, session: Session) {
        self.session = Some(session);
        self.ended = false;
        self.expected = self.cfg.start_sequence;
        self.horizon = self.cfg.start_sequence;
        for s in self.slots.drain(..) {
            self.free.push(s.storage);
        }
        self.requests.clear();
        self.answer_hint = 0;
    }

    fn learn_horizon(&mut self, next: u64) {
        if next > self.horizon {
            self.horizon = next;
        }
    }

    /// The lowest missing range `[from, to)` not covered by an outstanding
    /// request.
    fn first_unrequested_hole(&self) -> Option<(u64, u64)> {
        if !self.has_gap() {
            return None;
        }
        let mut cursor = self.expected;
        let mut slot = 0;
        loop {
            // Skip what buffered packets cover.
            while let Some(s) = self.slots.get(slot) {
                if s.seq > cursor {
                    break;
                }
                cursor = cursor.max(s.seq + u64::from(s.count));
                slot += 1;
            }
            if cursor >= self.horizon {
                return None;
            }
            let hole_end = self.slots.get(slot).map_or(self.horizon, |s| s.seq);
            // Skip what outstanding requests cover.
            let mut from = cursor;
            let mut moved = true;
            while moved {
                moved = false;
                for r in &self.requests {
                    if r.from <= from && r.end > from {
                        from = r.end;
                        moved = true;
                    }
                }
            }
            if from < hole_end {
                let mut to = hole_end;
                for r in &self.requests {
                    if r.from > from && r.from < to {
                        to = r.from;
                    }
                }
                return Some((from, to));
            }
            cursor = hole_end;
        }
    }

    fn buffer(&mut self, bytes: &[u8], seq: u64, count: u16) -> PacketOutcome {
        if bytes.len() > MAX_PACKET_LEN {
            self.counters.malformed += 1;
            return PacketOutcome::Dropped;
        }
        // Same start already held: a duplicate of a buffered packet.
        if self.slots.iter().any(|s| s.seq == seq && s.count >= count) {
            self.counters.duplicate_packets += 1;
            self.counters.duplicate_messages += u64::from(count);
            return PacketOutcome::Duplicate;
        }
        let storage = match self.free.pop() {
            Some(storage) => storage,
            // Every slot taken: the packet furthest from delivery makes
            // room for a nearer one (its range is re-requested in turn), so
            // the front always progresses.
            None => match self.slots.last() {
                Some(last) if last.seq > seq => {
                    let last = self.slots.pop().map_or(0, |l| l.storage);
                    self.counters.reorder_evicted += 1;
                    last
                }
                _ => {
                    self.counters.reorder_overflow += 1;
                    return PacketOutcome::Dropped;
                }
            },
        };
        let base = storage as usize * MAX_PACKET_LEN;
        self.storage[base..base + bytes.len()].copy_from_slice(bytes);
        let at = self.slots.partition_point(|s| s.seq <= seq);
        self.slots.insert(
            at,
            Slot {
                seq,
                count,
                len: bytes.len() as u16,
                storage,
            },
        );
        self.counters.reordered += 1;
        PacketOutcome::Buffered
    }

    /// Delivers the blocks of a packet starting at `seq ≤ expected`, skipping
    /// those already delivered.
    fn deliver_packet<F: FnMut(u64, &[u8])>(&mut self, bytes: &[u8], seq: u64, deliver: &mut F) {
        deliver_blocks(bytes, seq, &mut self.expected, &mut self.counters, deliver);
    }

    /// Delivers buffered packets that the last delivery unblocked, and frees
    /// those wholly delivered.
    fn drain_slots<F: FnMut(u64, &[u8])>(&mut self, deliver: &mut F) {
        while let Some(&first) = self.slots.first() {
            if first.seq > self.expected {
                break;
            }
            self.slots.remove(0);
            let base = first.storage as usize * MAX_PACKET_LEN;
            let bytes = &self.storage[base..base + first.len as usize];
            deliver_blocks(
                bytes,
                first.seq,
                &mut self.expected,
                &mut self.counters,
                deliver,
            );
            self.free.push(first.storage);
        }
    }

    /// Gives up the messages from `expected` to `until` (or the next buffered
    /// packet, if nearer): counted as lost, then skipped.
    fn abandon_front(&mut self, until: u64) {
        let to = self.slots.first().map_or(until, |s| s.seq.min(until));
        if to > self.expected {
            self.counters.messages_lost += to - self.expected;
            self.counters.gaps_abandoned += 1;
            self.expected = to;
        }
    }
}

/// Hands every block of `bytes` (a packet whose first message is `seq`) that
/// is next in sequence to `deliver`, advancing `expected`; blocks already
/// delivered are counted as duplicates. A block running past the packet ends
/// the walk: the messages it hid stay missing and are re-requested.
fn deliver_blocks<F: FnMut(u64, &[u8])>(
    bytes: &[u8],
    seq: u64,
    expected: &mut u64,
    counters: &mut MoldCounters,
    deliver: &mut F,
) {
    let packet = Packet::new_unchecked(bytes);
    for (s, block) in (seq..).zip(packet.blocks()) {
        let Ok(msg) = block else {
            counters.malformed += 1;
            return;
        };
        if s == *expected {
            deliver(s, msg);
            *expected += 1;
            counters.messages += 1;
        } else {
            counters.duplicate_messages += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::moldudp64::{emit_end_of_session, emit_heartbeat, PacketBuilder};
    use proptest::prelude::*;

    const S: Session = *b"SESSION001";

    fn cfg() -> MoldConfig {
        MoldConfig {
            start_sequence: 1,
            max_outstanding: 2,
            request_timeout: Nanos::from_ms(100),
            max_retries: 2,
            reorder_packets: 8,
        }
    }

    /// A packet with messages `first..first+n`; message k is `k` as 8 bytes BE.
    fn packet_with(session: &Session, first: u64, n: u64) -> Vec<u8> {
        let mut buf = vec![0u8; 1400];
        let mut b = PacketBuilder::new(&mut buf, session, first).unwrap();
        for k in first..first + n {
            b.push(&k.to_be_bytes()).unwrap();
        }
        let len = b.finish();
        buf.truncate(len);
        buf
    }

    fn packet(first: u64, n: u64) -> Vec<u8> {
        packet_with(&S, first, n)
    }

    struct Sink(Vec<u64>);
    impl Sink {
        fn f(&mut self) -> impl FnMut(u64, &[u8]) + '_ {
            |seq, msg| {
                assert_eq!(msg, seq.to_be_bytes(), "message body matches its sequence");
                self.0.push(seq)
            }
        }
    }

    fn request(s: &mut MoldSession, now: Nanos, sink: &mut Sink) -> Option<Request> {
        let mut out = [0u8; REQUEST_LEN];
        let n = s.poll_request(now, &mut out, &mut sink.f())?;
        Some(Request::parse(&out[..n]).unwrap())
    }

    #[test]
    fn in_order_packets_are_delivered_once() {
        let mut s = MoldSession::new(cfg());
        let mut sink = Sink(vec![]);
        assert_eq!(
            s.on_packet(&packet(1, 3), &mut sink.f()),
            PacketOutcome::Delivered(3)
        );
        assert_eq!(
            s.on_packet(&packet(4, 2), &mut sink.f()),
            PacketOutcome::Delivered(2)
        );
        assert_eq!(
            s.on_packet(&packet(1, 3), &mut sink.f()),
            PacketOutcome::Duplicate
        );
        // Overlapping: 4..=6 where 4, 5 were seen.
        assert_eq!(
            s.on_packet(&packet(4, 3), &mut sink.f()),
            PacketOutcome::Delivered(1)
        );
        assert_eq!(sink.0, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(s.counters().duplicate_packets, 1);
        assert_eq!(s.counters().duplicate_messages, 5);
        assert!(request(&mut s, Nanos(0), &mut sink).is_none());
    }

    #[test]
    fn a_gap_is_requested_and_filled_in_order() {
        let mut s = MoldSession::new(cfg());
        let mut sink = Sink(vec![]);
        s.on_packet(&packet(1, 2), &mut sink.f());
        assert_eq!(
            s.on_packet(&packet(6, 2), &mut sink.f()),
            PacketOutcome::Buffered
        );
        assert!(s.has_gap());
        assert_eq!(s.poll_timeout(), Nanos::ZERO);
        let r = request(&mut s, Nanos(10), &mut sink).expect("a request for 3..6");
        assert_eq!((r.session, r.sequence, r.message_count), (S, 3, 3));
        assert!(
            request(&mut s, Nanos(11), &mut sink).is_none(),
            "one request per hole"
        );
        // The retransmission comes back with part of the range, then the rest.
        assert_eq!(
            s.on_packet(&packet(3, 2), &mut sink.f()),
            PacketOutcome::Delivered(2)
        );
        assert_eq!(
            s.on_packet(&packet(5, 1), &mut sink.f()),
            PacketOutcome::Delivered(3)
        );
        assert_eq!(sink.0, (1..=7).collect::<Vec<_>>());
        assert!(!s.has_gap());
        assert!(
            request(&mut s, Nanos(500), &mut sink).is_none(),
            "satisfied requests retire"
        );
    }

    #[test]
    fn heartbeat_and_end_of_session_reveal_gaps() {
        let mut s = MoldSession::new(cfg());
        let mut sink = Sink(vec![]);
        s.on_packet(&packet(1, 1), &mut sink.f());
        let mut hb = [0u8; 20];
        emit_heartbeat(&mut hb, &S, 4).unwrap();
        assert_eq!(s.on_packet(&hb, &mut sink.f()), PacketOutcome::Heartbeat);
        let r = request(&mut s, Nanos(0), &mut sink).unwrap();
        assert_eq!((r.sequence, r.message_count), (2, 2));
        emit_end_of_session(&mut hb, &S, 5).unwrap();
        assert_eq!(s.on_packet(&hb, &mut sink.f()), PacketOutcome::EndOfSession);
        let r = request(&mut s, Nanos(1), &mut sink).unwrap();
        assert_eq!(
            (r.sequence, r.message_count),
            (4, 1),
            "second hole, second request"
        );
        assert!(!s.is_finished());
        s.on_packet(&packet(2, 3), &mut sink.f());
        assert!(s.is_finished());
        assert_eq!(sink.0, vec![1, 2, 3, 4]);
        // A new session after the end starts over.
        let other = *b"SESSION002";
        assert_eq!(
            s.on_packet(&packet_with(&other, 1, 1), &mut sink.f()),
            PacketOutcome::Delivered(1)
        );
        assert_eq!(s.session(), Some(&other));
    }

    #[test]
    fn foreign_session_is_dropped_while_open() {
        let mut s = MoldSession::new(cfg());
        let mut sink = Sink(vec![]);
        s.on_packet(&packet(1, 1), &mut sink.f());
        assert_eq!(
            s.on_packet(&packet_with(b"OTHERSESS1", 2, 1), &mut sink.f()),
            PacketOutcome::Dropped
        );
        assert_eq!(s.counters().foreign_session, 1);
        assert_eq!(sink.0, vec![1]);
    }

    #[test]
    fn timeouts_retry_then_give_up_and_count_the_loss() {
        let mut s = MoldSession::new(cfg());
        let mut sink = Sink(vec![]);
        s.on_packet(&packet(1, 1), &mut sink.f());
        s.on_packet(&packet(4, 1), &mut sink.f());
        assert!(request(&mut s, Nanos::from_ms(0), &mut sink).is_some());
        assert!(
            request(&mut s, Nanos::from_ms(50), &mut sink).is_none(),
            "not yet timed out"
        );
        assert_eq!(s.poll_timeout(), Nanos::from_ms(100));
        for t in [100, 200] {
            let r = request(&mut s, Nanos::from_ms(t), &mut sink).expect("retry");
            assert_eq!((r.sequence, r.message_count), (2, 2));
        }
        assert_eq!(s.counters().request_retries, 2);
        // Third timeout: out of retries; the next poll skips the range and
        // delivers what was buffered behind it.
        assert!(request(&mut s, Nanos::from_ms(300), &mut sink).is_none());
        assert_eq!(s.poll_timeout(), Nanos::ZERO);
        assert!(request(&mut s, Nanos::from_ms(300), &mut sink).is_none());
        assert_eq!(sink.0, vec![1, 4]);
        assert_eq!(s.counters().messages_lost, 2);
        assert_eq!(s.counters().gaps_abandoned, 1);
        assert_eq!(s.poll_timeout(), Nanos::MAX);
    }

    #[test]
    fn reorder_overflow_drops_but_the_range_is_recovered() {
        let mut c = cfg();
        c.reorder_packets = 2;
        let mut s = MoldSession::new(c);
        let mut sink = Sink(vec![]);
        s.on_packet(&packet(1, 1), &mut sink.f());
        for k in [3, 4, 5] {
            s.on_packet(&packet(k, 1), &mut sink.f());
        }
        assert_eq!(s.counters().reorder_overflow, 1);
        let r = request(&mut s, Nanos(0), &mut sink).unwrap();
        assert_eq!((r.sequence, r.message_count), (2, 1));
        let r = request(&mut s, Nanos(0), &mut sink).unwrap();
        assert_eq!(
            (r.sequence, r.message_count),
            (5, 1),
            "the dropped packet is asked for"
        );
        s.on_packet(&packet(2, 1), &mut sink.f());
        s.on_packet(&packet(5, 1), &mut sink.f());
        assert_eq!(sink.0, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn a_partial_answer_asks_for_the_rest_at_once() {
        let mut s = MoldSession::new(cfg());
        let mut sink = Sink(vec![]);
        s.on_packet(&packet(1, 1), &mut sink.f());
        s.on_packet(&packet(20, 1), &mut sink.f());
        assert_eq!(s.counters().gaps, 1);
        let r = request(&mut s, Nanos(0), &mut sink).unwrap();
        assert_eq!((r.sequence, r.message_count), (2, 18));
        // The server answers with what fits one packet: 3 messages.
        s.on_packet(&packet(2, 3), &mut sink.f());
        assert_eq!(s.poll_timeout(), Nanos::ZERO, "the rest is due now");
        let r = request(&mut s, Nanos(1), &mut sink).unwrap();
        assert_eq!(
            (r.sequence, r.message_count),
            (5, 6),
            "the rest, two answers' worth"
        );
        // The rest of the hole goes out beside it, up to max_outstanding (2).
        let r = request(&mut s, Nanos(1), &mut sink).unwrap();
        assert_eq!((r.sequence, r.message_count), (11, 6));
        assert!(request(&mut s, Nanos(1), &mut sink).is_none());
        let c = *s.counters();
        assert_eq!(
            (
                c.requests,
                c.request_continuations,
                c.request_retries,
                c.gaps
            ),
            (3, 1, 0, 1)
        );
        // Answers ahead of the front are held; the front's continuation
        // stops at them.
        s.on_packet(&packet(11, 3), &mut sink.f());
        s.on_packet(&packet(5, 3), &mut sink.f());
        let r = request(&mut s, Nanos(2), &mut sink).unwrap();
        assert_eq!((r.sequence, r.message_count), (8, 3));
        let r = request(&mut s, Nanos(2), &mut sink).unwrap();
        assert_eq!(
            (r.sequence, r.message_count),
            (14, 3),
            "the rest of its range"
        );
        assert!(
            request(&mut s, Nanos(2), &mut sink).is_none(),
            "two outstanding"
        );
        s.on_packet(&packet(8, 3), &mut sink.f());
        s.on_packet(&packet(14, 3), &mut sink.f());
        let r = request(&mut s, Nanos(3), &mut sink).unwrap();
        assert_eq!(
            (r.sequence, r.message_count),
            (17, 3),
            "the last of the hole"
        );
        s.on_packet(&packet(17, 3), &mut sink.f());
        assert!(!s.has_gap());
        assert_eq!(sink.0, (1..=20).collect::<Vec<_>>());
        assert!(request(&mut s, Nanos(3), &mut sink).is_none());
        assert_eq!(s.poll_timeout(), Nanos::MAX);
        assert_eq!(s.counters().duplicate_messages, 0);
    }

    #[test]
    fn progress_is_never_given_up() {
        // Two retries allowed, but a request answered in part each time is
        // making progress: nothing is lost however long the range.
        let mut s = MoldSession::new(cfg());
        let mut sink = Sink(vec![]);
        s.on_packet(&packet(1, 1), &mut sink.f());
        s.on_packet(&packet(200, 1), &mut sink.f());
        let mut now = Nanos(0);
        let mut served = 0;
        while s.has_gap() {
            now = now + Nanos::from_ms(1000);
            let Some(r) = request(&mut s, now, &mut sink) else {
                panic!("a request while the gap is open: {:?}", s.counters());
            };
            // Every other request goes unanswered (a timeout), the others get one message.
            served += 1;
            if served % 2 == 0 {
                s.on_packet(&packet(r.sequence, 1), &mut sink.f());
            }
            assert!(served < 1_000, "bounded");
        }
        assert_eq!(sink.0, (1..=200).collect::<Vec<_>>());
        assert_eq!(s.counters().messages_lost, 0);
        assert!(s.counters().request_retries > 0);
    }

    #[test]
    fn a_full_reorder_pool_keeps_the_packets_nearest_delivery() {
        let mut c = cfg();
        c.reorder_packets = 2;
        let mut s = MoldSession::new(c);
        let mut sink = Sink(vec![]);
        s.on_packet(&packet(1, 1), &mut sink.f());
        s.on_packet(&packet(10, 1), &mut sink.f());
        s.on_packet(&packet(11, 1), &mut sink.f());
        // Nearer than the furthest held packet: it takes that one's slot.
        assert_eq!(
            s.on_packet(&packet(5, 1), &mut sink.f()),
            PacketOutcome::Buffered
        );
        assert_eq!(s.counters().reorder_evicted, 1);
        // Further than every held packet: dropped.
        assert_eq!(
            s.on_packet(&packet(12, 1), &mut sink.f()),
            PacketOutcome::Dropped
        );
        assert_eq!(s.counters().reorder_overflow, 1);
        s.on_packet(&packet(2, 3), &mut sink.f());
        assert_eq!(sink.0, vec![1, 2, 3, 4, 5]);
        // The evicted and dropped packets are asked for again.
        let r = request(&mut s, Nanos(0), &mut sink).unwrap();
        assert_eq!((r.sequence, r.message_count), (6, 4));
        let r = request(&mut s, Nanos(0), &mut sink).unwrap();
        assert_eq!((r.sequence, r.message_count), (11, 2));
        s.on_packet(&packet(6, 4), &mut sink.f());
        s.on_packet(&packet(11, 2), &mut sink.f());
        assert_eq!(sink.0, (1..=12).collect::<Vec<_>>());
    }

    #[test]
    fn joining_live_starts_at_the_first_packet() {
        let mut c = cfg();
        c.start_sequence = 0;
        let mut s = MoldSession::new(c);
        let mut sink = Sink(vec![]);
        s.on_packet(&packet(1000, 2), &mut sink.f());
        assert_eq!(sink.0, vec![1000, 1001]);
        assert!(request(&mut s, Nanos(0), &mut sink).is_none());
    }

    #[test]
    fn from_one_requests_what_was_missed_before_joining() {
        let mut s = MoldSession::new(cfg());
        let mut sink = Sink(vec![]);
        s.on_packet(&packet(10, 1), &mut sink.f());
        let r = request(&mut s, Nanos(0), &mut sink).unwrap();
        assert_eq!((r.sequence, r.message_count), (1, 9));
    }

    #[test]
    fn malformed_block_stops_the_packet_and_the_rest_is_re_requested() {
        let mut s = MoldSession::new(cfg());
        let mut sink = Sink(vec![]);
        let mut p = packet(1, 3);
        let n = p.len();
        p.truncate(n - 3); // third block runs past the packet
        s.on_packet(&p, &mut sink.f());
        assert_eq!(sink.0, vec![1, 2]);
        assert_eq!(s.counters().malformed, 1);
        s.on_packet(&packet(4, 1), &mut sink.f());
        let r = request(&mut s, Nanos(0), &mut sink).unwrap();
        assert_eq!((r.sequence, r.message_count), (3, 1));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Whatever the network does (drop, duplicate, reorder), with a
        /// request server that answers from history (sometimes partially,
        /// sometimes not at all), every message is delivered exactly once, in
        /// order.
        #[test]
        fn every_message_exactly_once_in_order(
            sizes in proptest::collection::vec(1u64..6, 1..60),
            fate in proptest::collection::vec(0u8..10, 60),
            swaps in proptest::collection::vec((0usize..60, 0usize..60), 0..20),
            answer in proptest::collection::vec(0u8..4, 64),
        ) {
            let mut c = cfg();
            c.max_retries = 1_000;
            c.reorder_packets = 4;
            let mut s = MoldSession::new(c);
            let mut sink = Sink(vec![]);
            let mut packets = vec![];
            let mut seq = 1;
            for n in &sizes {
                packets.push(packet(seq, *n));
                seq += n;
            }
            let total = seq - 1;
            // The network: drop (fate 0-1), duplicate (2), deliver (else); then swaps.
            let mut wire = vec![];
            for (i, p) in packets.iter().enumerate() {
                match fate[i % fate.len()] {
                    0 | 1 => {}
                    2 => { wire.push(p.clone()); wire.push(p.clone()); }
                    _ => wire.push(p.clone()),
                }
            }
            for (a, b) in swaps {
                if !wire.is_empty() {
                    let (a, b) = (a % wire.len(), b % wire.len());
                    wire.swap(a, b);
                }
            }
            let mut hb = [0u8; 20];
            emit_end_of_session(&mut hb, &S, total + 1).unwrap();
            wire.push(hb.to_vec());
            let mut now = Nanos(0);
            for p in &wire {
                s.on_packet(p, &mut sink.f());
            }
            // Serve requests until done; bounded.
            let mut k = 0;
            for _ in 0..10_000 {
                if s.is_finished() { break; }
                now = now + Nanos::from_ms(150);
                while let Some(r) = request(&mut s, now, &mut sink) {
                    let mode = answer[k % answer.len()];
                    k += 1;
                    let avail = (total + 1 - r.sequence).min(u64::from(r.message_count));
                    // A reply carries at most what fits one packet.
                    let avail = avail.min(100);
                    let n = match mode { 0 => 0, 1 => avail.div_ceil(2), _ => avail };
                    if n > 0 {
                        s.on_packet(&packet(r.sequence, n), &mut sink.f());
                    }
                }
            }
            prop_assert!(s.is_finished(), "session finished (expected {})", s.expected());
            prop_assert_eq!(sink.0, (1..=total).collect::<Vec<_>>());
            prop_assert_eq!(s.counters().messages_lost, 0);
        }

        /// Arbitrary bytes never panic and never deliver out of order.
        #[test]
        fn arbitrary_bytes_never_panic(pkts in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..120), 0..40)) {
            let mut s = MoldSession::new(cfg());
            let mut last = 0u64;
            for p in &pkts {
                s.on_packet(p, &mut |seq, _| { assert!(seq > last); last = seq; });
                let mut out = [0u8; REQUEST_LEN];
                let _ = s.poll_request(Nanos(0), &mut out, &mut |seq, _| { assert!(seq > last); last = seq; });
            }
        }
    }
}
