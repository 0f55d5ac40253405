//! The venue's market-data publisher, sans-IO: [`MarketEvent`]s become ITCH
//! 5.0 messages, sequenced from 1 and packed into MoldUDP64 packets.
//!
//! - [`Publisher::publish`] sequences one event (it is retained at once);
//!   [`Publisher::poll_transmit`] hands out the next downstream packet when
//!   one is due: as soon as the unsent messages overflow a packet, when the oldest
//!   unsent one has waited [`PublisherConfig::flush_after_ns`] (0: at the next
//!   poll), a heartbeat after [`PublisherConfig::heartbeat_ns`] without
//!   sending anything, and after [`Publisher::end_session`] the end-of-session
//!   packets. [`Publisher::poll_timeout`] says when to poll next.
//! - [`Publisher::handle_request`] answers a MoldUDP64 re-request from the
//!   retained history (the last [`PublisherConfig::history_messages`] sent
//!   messages, never fewer than the unsent ones): a packet starting at the
//!   requested sequence number with as many of the requested messages as fit,
//!   or nothing when the request is for another session, for sequence 0, for
//!   nothing, or for messages it no longer (or does not yet) have.
//!
//! Packets carry at most [`PublisherConfig::max_payload`] bytes of message
//! blocks (1400 by default) after the 20-byte header. Retained messages live in
//! a ring preallocated to the history size; packets are written into the
//! caller's buffer. Nothing here reads a clock or touches a socket.

use std::collections::VecDeque;

use super::matching::MarketEvent;
use crate::wire::itch::{self, Header, Message, MAX_MESSAGE_LEN};
use crate::wire::moldudp64::{self, PacketBuilder, Request, Session, HEADER_LEN};
use crate::wire::Error;

/// The default limit on message-block bytes per packet.
pub const DEFAULT_MAX_PAYLOAD: usize = 1400;

/// A buffer of this size holds any packet of the default configuration.
pub const MAX_PACKET_LEN: usize = HEADER_LEN + DEFAULT_MAX_PAYLOAD;

/// How the publisher packs and paces its packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublisherConfig {
    /// MoldUDP64 session name.
    pub session: Session,
    /// Message-block bytes per packet (at least one ITCH message plus its
    /// length prefix: values below 52 count as 52).
    pub max_payload: usize,
    /// Flush a partly filled packet once its oldest message has waited this
    /// long (0: at the first poll).
    pub flush_after_ns: u64,
    /// Send a heartbeat after this long without sending (MoldUDP64: 1 s).
    pub heartbeat_ns: u64,
    /// Sent messages retained for re-requests.
    pub history_messages: usize,
    /// End-of-session packets sent after [`Publisher::end_session`] (one at
    /// once, the others one heartbeat interval apart).
    pub end_of_session_repeats: u32,
}

impl Default for PublisherConfig {
    fn default() -> Self {
        PublisherConfig {
            session: *b"FLOE000001",
            max_payload: DEFAULT_MAX_PAYLOAD,
            flush_after_ns: 0,
            heartbeat_ns: 1_000_000_000,
            history_messages: 1 << 20,
            end_of_session_repeats: 3,
        }
    }
}

/// What the publisher has sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublisherStats {
    /// Downstream packets carrying messages.
    pub data_packets: u64,
    /// Heartbeats.
    pub heartbeats: u64,
    /// End-of-session packets.
    pub end_of_session: u64,
    /// Re-requests answered.
    pub retransmissions: u64,
    /// Re-requests left unanswered.
    pub requests_ignored: u64,
}

#[derive(Clone, Copy)]
struct Stored {
    bytes: [u8; MAX_MESSAGE_LEN],
    len: u8,
    /// When it was published (for the flush deadline).
    at_ns: u64,
}

impl Stored {
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len).min(MAX_MESSAGE_LEN)]
    }
}

/// The ITCH / MoldUDP64 publisher of one market-data session.
pub struct Publisher {
    config: PublisherConfig,
    /// Retained messages; `history[0]` has sequence `first_seq`.
    history: VecDeque<Stored>,
    first_seq: u64,
    /// Sequence of the next message to publish.
    next_seq: u64,
    /// Sequence of the next message to send (`sent_upto..next_seq` is unsent).
    sent_upto: u64,
    unsent_bytes: usize,
    oldest_unsent_ns: u64,
    last_sent_ns: u64,
    ended: bool,
    eos_left: u32,
    stats: PublisherStats,
}

impl Publisher {
    /// A publisher whose idle heartbeat clock starts at `now_ns`.
    pub fn new(config: PublisherConfig, now_ns: u64) -> Publisher {
        let config = PublisherConfig {
            max_payload: config.max_payload.max(2 + MAX_MESSAGE_LEN),
            history_messages: config.history_messages.max(1),
            ..config
        };
        Publisher {
            history: VecDeque::with_capacity(config.history_messages),
            first_seq: 1,
            next_seq: 1,
            sent_upto: 1,
            unsent_bytes: 0,
            oldest_unsent_ns: 0,
            last_sent_ns: now_ns,
            ended: false,
            eos_left: 0,
            stats: PublisherStats::default(),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &PublisherConfig {
        &self.config
    }

    /// The sequence number the next published message gets.
    pub fn next_sequence(&self) -> u64 {
        self.next_seq
    }

    /// The oldest sequence number still retained for re-requests.
    pub fn oldest_retained(&self) -> u64 {
        self.first_seq
    }

    /// What has been sent so far.
    pub fn stats(&self) -> PublisherStats {
        self.stats
    }

    /// Sequences one market event as its ITCH message; returns its sequence
    /// number. [`Error::OutOfRange`] for a timestamp beyond 48 bits or after
    /// [`Self::end_session`].
    pub fn publish(&mut self, now_ns: u64, event: &MarketEvent) -> Result<u64, Error> {
        self.publish_message(now_ns, &event.to_itch())
    }

    /// Sequences any ITCH message; returns its sequence number.
    pub fn publish_message(&mut self, now_ns: u64, msg: &Message) -> Result<u64, Error> {
        if self.ended {
            return Err(Error::OutOfRange("publish after end of session"));
        }
        let mut s = Stored {
            bytes: [0; MAX_MESSAGE_LEN],
            len: 0,
            at_ns: now_ns,
        };
        let n = msg.emit(&mut s.bytes)?;
        s.len = n as u8;
        // Make room by dropping the oldest sent message, never an unsent one.
        if self.history.len() >= self.config.history_messages && self.first_seq < self.sent_upto {
            self.history.pop_front();
            self.first_seq += 1;
        }
        self.history.push_back(s);
        if self.unsent_bytes == 0 {
            self.oldest_unsent_ns = now_ns;
        }
        self.unsent_bytes += 2 + n;
        let seq = self.next_seq;
        self.next_seq += 1;
        Ok(seq)
    }

    /// Stops publishing: the unsent messages go out first, then
    /// [`PublisherConfig::end_of_session_repeats`] end-of-session packets.
    /// Re-requests are still answered.
    pub fn end_session(&mut self) {
        if !self.ended {
            self.ended = true;
            self.eos_left = self.config.end_of_session_repeats.max(1);
        }
    }

    /// True once every end-of-session packet has been handed out.
    pub fn is_finished(&self) -> bool {
        self.ended && self.eos_left == 0 && self.sent_upto == self.next_seq
    }

    /// Venue time at which [`Self::poll_transmit`] has something to send
    /// (`None` once finished).
    pub fn poll_timeout(&self) -> Option<u64> {
        if self.sent_upto < self.next_seq {
            // More than one packet's worth: the first packet is full.
            if self.ended || self.unsent_bytes > self.config.max_payload {
                return Some(self.oldest_unsent_ns);
            }
            return Some(
                self.oldest_unsent_ns
                    .saturating_add(self.config.flush_after_ns),
            );
        }
        if self.ended {
            if self.eos_left == 0 {
                return None;
            }
            if self.eos_left == self.config.end_of_session_repeats.max(1) {
                return Some(self.last_sent_ns);
            }
        }
        Some(self.last_sent_ns.saturating_add(self.config.heartbeat_ns))
    }

    /// Writes the next due packet into `buf` and returns its length, or
    /// `None` when nothing is due. `buf` should hold [`MAX_PACKET_LEN`] (more
    /// precisely 20 + `max_payload`) bytes; a smaller buffer gives smaller
    /// packets. Call until it returns `None`.
    pub fn poll_transmit(&mut self, now_ns: u64, buf: &mut [u8]) -> Option<usize> {
        let due = self.poll_timeout()?;
        if now_ns < due {
            return None;
        }
        let limit = buf.len().min(HEADER_LEN + self.config.max_payload);
        let buf = &mut buf[..limit];
        if self.sent_upto < self.next_seq {
            let (len, count) = self.build(self.sent_upto, u16::MAX, buf)?;
            if count == 0 {
                return None;
            }
            let sent_bytes: usize = (self.sent_upto..self.sent_upto + u64::from(count))
                .filter_map(|s| self.get(s))
                .map(|m| 2 + m.as_slice().len())
                .sum();
            self.sent_upto += u64::from(count);
            self.unsent_bytes -= sent_bytes;
            if let Some(m) = self.get(self.sent_upto) {
                self.oldest_unsent_ns = m.at_ns;
            }
            self.last_sent_ns = now_ns;
            self.stats.data_packets += 1;
            return Some(len);
        }
        let len = if self.ended {
            self.eos_left -= 1;
            self.stats.end_of_session += 1;
            moldudp64::emit_end_of_session(buf, &self.config.session, self.next_seq).ok()?
        } else {
            self.stats.heartbeats += 1;
            moldudp64::emit_heartbeat(buf, &self.config.session, self.next_seq).ok()?
        };
        self.last_sent_ns = now_ns;
        Some(len)
    }

    /// Answers a MoldUDP64 re-request (the UDP payload received) with a
    /// downstream packet written into `buf`, to be sent back to the
    /// requester; `None` if there is nothing to send (malformed request,
    /// other session, sequence 0, count 0, or messages not retained or not
    /// yet sent).
    pub fn handle_request(&mut self, request: &[u8], buf: &mut [u8]) -> Option<usize> {
        let answer = Request::parse(request).ok().and_then(|r| {
            if r.session != self.config.session
                || r.sequence == 0
                || r.message_count == 0
                || r.sequence < self.first_seq
                || r.sequence >= self.sent_upto
            {
                return None;
            }
            let limit = buf.len().min(HEADER_LEN + self.config.max_payload);
            let sent = self.sent_upto - r.sequence;
            let count = u16::try_from(sent).unwrap_or(u16::MAX).min(r.message_count);
            self.build(r.sequence, count, &mut buf[..limit])
                .filter(|&(_, n)| n > 0)
        });
        match answer {
            Some((len, _)) => {
                self.stats.retransmissions += 1;
                Some(len)
            }
            None => {
                self.stats.requests_ignored += 1;
                None
            }
        }
    }

    fn get(&self, seq: u64) -> Option<&Stored> {
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.history.get(i)
    }

    /// Packs retained messages from `seq` (at most `max` of them, and only
    /// published ones) into `buf`; returns the packet length and count.
    fn build(&self, seq: u64, max: u16, buf: &mut [u8]) -> Option<(usize, u16)> {
        let mut b = PacketBuilder::new(buf, &self.config.session, seq).ok()?;
        let mut s = seq;
        while s < self.next_seq && b.message_count() < max.min(moldudp64::MAX_MESSAGE_COUNT) {
            let Some(m) = self.get(s) else { break };
            if b.push(m.as_slice()).is_err() {
                break;
            }
            s += 1;
        }
        let count = b.message_count();
        Some((b.finish(), count))
    }
}

fn header(ts: u64, locate: u16) -> Header {
    Header {
        locate,
        tracking: 0,
        timestamp: ts,
    }
}

impl MarketEvent {
    /// The ITCH 5.0 message of this event (tracking number 0). The stock
    /// directory describes a Nasdaq Global Select common stock in normal
    /// standing, production, tier 1, no ETP; a trade (`P`) carries order
    /// reference 0.
    pub fn to_itch(&self) -> Message {
        use itch::*;
        match *self {
            MarketEvent::SystemEvent { ts, code } => Message::SystemEvent(SystemEvent {
                header: header(ts, 0),
                event_code: code,
            }),
            MarketEvent::StockDirectory {
                ts,
                locate,
                symbol,
                round_lot,
            } => Message::StockDirectory(StockDirectory {
                header: header(ts, locate),
                stock: symbol,
                market_category: market_category::NASDAQ_GLOBAL_SELECT,
                financial_status: financial_status::NORMAL,
                round_lot_size: round_lot,
                round_lots_only: flag::NO,
                issue_classification: b'C',
                issue_sub_type: *b"Z ",
                authenticity: authenticity::PRODUCTION,
                short_sale_threshold: flag::NO,
                ipo_flag: flag::NO,
                luld_tier: luld_tier::TIER_1,
                etp_flag: flag::NO,
                etp_leverage_factor: 0,
                inverse_indicator: flag::NO,
            }),
            MarketEvent::TradingAction {
                ts,
                locate,
                symbol,
                state,
            } => Message::TradingAction(TradingAction {
                header: header(ts, locate),
                stock: symbol,
                trading_state: state,
                reserved: b' ',
                reason: *b"    ",
            }),
            MarketEvent::AddOrder {
                ts,
                locate,
                order_ref,
                side,
                qty,
                symbol,
                price,
                attribution,
            } => match attribution {
                None => Message::AddOrder(AddOrder {
                    header: header(ts, locate),
                    order_ref,
                    side,
                    shares: qty,
                    stock: symbol,
                    price,
                }),
                Some(mpid) => Message::AddOrderMpid(AddOrderMpid {
                    header: header(ts, locate),
                    order_ref,
                    side,
                    shares: qty,
                    stock: symbol,
                    price,
                    attribution: mpid,
                }),
            },
            MarketEvent::Executed {
                ts,
                locate,
                order_ref,
                qty,
                match_number,
            } => Message::OrderExecuted(OrderExecuted {
                header: header(ts, locate),
                order_ref,
                executed_shares: qty,
                match_number,
            }),
            MarketEvent::ExecutedWithPrice {
                ts,
                locate,
                order_ref,
                qty,
                match_number,
                printable,
                price,
            } => Message::OrderExecutedWithPrice(OrderExecutedWithPrice {
                header: header(ts, locate),
                order_ref,
                executed_shares: qty,
                match_number,
                printable: if printable { flag::YES } else { flag::NO },
                execution_price: price,
            }),
            MarketEvent::Cancel {
                ts,
                locate,
                order_ref,
                qty,
            } => Message::OrderCancel(OrderCancel {
                header: header(ts, locate),
                order_ref,
                canceled_shares: qty,
            }),
            MarketEvent::Delete {
                ts,
                locate,
                order_ref,
            } => Message::OrderDelete(OrderDelete {
                header: header(ts, locate),
                order_ref,
            }),
            MarketEvent::Replace {
                ts,
                locate,
                old,
                new,
                qty,
                price,
            } => Message::OrderReplace(OrderReplace {
                header: header(ts, locate),
                original_order_ref: old,
                new_order_ref: new,
                shares: qty,
                price,
            }),
            MarketEvent::Trade {
                ts,
                locate,
                side,
                qty,
                symbol,
                price,
                match_number,
            } => Message::Trade(Trade {
                header: header(ts, locate),
                order_ref: 0,
                side,
                shares: qty,
                stock: symbol,
                price,
                match_number,
            }),
        }
    }

    /// The market event an ITCH message carries, for the message types the
    /// venue publishes (`S R H A F E C X D U P`); `None` for the others. The
    /// inverse of [`Self::to_itch`] on the fields the event has.
    pub fn from_itch(msg: &Message) -> Option<MarketEvent> {
        let h = msg.header();
        let (ts, locate) = (h.timestamp, h.locate);
        Some(match *msg {
            Message::SystemEvent(m) => MarketEvent::SystemEvent {
                ts,
                code: m.event_code,
            },
            Message::StockDirectory(m) => MarketEvent::StockDirectory {
                ts,
                locate,
                symbol: m.stock,
                round_lot: m.round_lot_size,
            },
            Message::TradingAction(m) => MarketEvent::TradingAction {
                ts,
                locate,
                symbol: m.stock,
                state: m.trading_state,
            },
            Message::AddOrder(m) => MarketEvent::AddOrder {
                ts,
                locate,
                order_ref: m.order_ref,
                side: m.side,
                qty: m.shares,
                symbol: m.stock,
                price: m.price,
                attribution: None,
            },
            Message::AddOrderMpid(m) => MarketEvent::AddOrder {
                ts,
                locate,
                order_ref: m.order_ref,
                side: m.side,
                qty: m.shares,
                symbol: m.stock,
                price: m.price,
                attribution: Some(m.attribution),
            },
            Message::OrderExecuted(m) => MarketEvent::Executed {
                ts,
                locate,
                order_ref: m.order_ref,
                qty: m.executed_shares,
                match_number: m.match_number,
            },
            Message::OrderExecutedWithPrice(m) => MarketEvent::ExecutedWithPrice {
                ts,
                locate,
                order_ref: m.order_ref,
                qty: m.executed_shares,
                match_number: m.match_number,
                printable: m.printable == itch::flag::YES,
                price: m.execution_price,
            },
            Message::OrderCancel(m) => MarketEvent::Cancel {
                ts,
                locate,
                order_ref: m.order_ref,
                qty: m.canceled_shares,
            },
            Message::OrderDelete(m) => MarketEvent::Delete {
                ts,
                locate,
                order_ref: m.order_ref,
            },
            Message::OrderReplace(m) => MarketEvent::Replace {
                ts,
                locate,
                old: m.original_order_ref,
                new: m.new_order_ref,
                qty: m.shares,
                price: m.price,
            },
            Message::Trade(m) => MarketEvent::Trade {
                ts,
                locate,
                side: m.side,
                qty: m.shares,
                symbol: m.stock,
                price: m.price,
                match_number: m.match_number,
            },
            _ => return None,
        })
    }
}
