//! The venue side of the network-stack tests, transport-free so the same
//! logic serves kernel sockets (veth tests) and a smoltcp peer (memory test):
//!
//! - [`MoldFeed`]: a MoldUDP64 session of numbered messages, a send schedule
//!   with deliberate gaps (packets never sent downstream), duplicates and
//!   reordering, and a re-request server answering from its history;
//! - [`SoupVenue`]: a SoupBinTCP server with a per-session sequenced store
//!   that accepts OUCH 5.0 Enter Orders, answers each with Accepted and
//!   Executed, and replays from the requested number on every login.

use floe::types::Price4;
use floe::wire::moldudp64::{self as mold, PacketBuilder, Request};
use floe::wire::ouch50 as w;
use floe::wire::soupbintcp::{ClientPacket, Framer, ServerPacket, Session};

/// The MoldUDP64 session name.
pub const MOLD_SESSION: &str = "FLOENET001";

/// Message `seq` of the feed: its number, then a pattern; 8..=40 bytes.
pub fn mold_message(seq: u64) -> Vec<u8> {
    let len = 8 + (seq as usize * 13) % 33;
    let mut m = seq.to_be_bytes().to_vec();
    m.extend((8..len).map(|i| (i as u64).wrapping_mul(31).wrapping_add(seq) as u8));
    m
}

/// A MoldUDP64 session of `messages` messages in packets of 1..=4 blocks.
pub struct MoldFeed {
    session: mold::Session,
    /// Downstream packets in sequence order.
    packets: Vec<Vec<u8>>,
    messages: u64,
    /// Requests answered.
    pub requests: u64,
}

impl MoldFeed {
    /// Builds the session.
    pub fn new(messages: u64) -> MoldFeed {
        let session = mold::session_from_str(MOLD_SESSION).unwrap();
        let mut packets = Vec::new();
        let mut seq = 1u64;
        let mut k = 0usize;
        while seq <= messages {
            let count = (1 + k % 4).min((messages - seq + 1) as usize) as u64;
            packets.push(Self::build(&session, seq, count));
            seq += count;
            k += 1;
        }
        MoldFeed {
            session,
            packets,
            messages,
            requests: 0,
        }
    }

    fn build(session: &mold::Session, first: u64, count: u64) -> Vec<u8> {
        let mut buf = vec![0u8; 1400];
        let mut b = PacketBuilder::new(&mut buf, session, first).unwrap();
        for s in first..first + count {
            b.push(&mold_message(s)).unwrap();
        }
        let n = b.finish();
        buf.truncate(n);
        buf
    }

    /// Messages in the session.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// The downstream send order: every packet once, except every 7th
    /// (never sent: a gap), every 5th sent twice (a duplicate, the second
    /// copy two packets later), and pairs swapped every 6th (reordering).
    /// The last packet is always sent, then end of session reveals nothing
    /// more is coming.
    pub fn schedule(&self) -> Vec<Vec<u8>> {
        let n = self.packets.len();
        let mut order: Vec<usize> = (0..n).filter(|i| i % 7 != 3 || *i + 1 == n).collect();
        for i in (0..order.len().saturating_sub(1)).step_by(6) {
            order.swap(i, i + 1);
        }
        let mut out: Vec<Vec<u8>> = Vec::new();
        let mut pending_dup: Vec<(usize, usize)> = Vec::new();
        for (pos, &i) in order.iter().enumerate() {
            out.push(self.packets[i].clone());
            if i % 5 == 2 {
                pending_dup.push((pos + 2, i));
            }
            while let Some(&(at, d)) = pending_dup.first() {
                if at > pos {
                    break;
                }
                out.push(self.packets[d].clone());
                pending_dup.remove(0);
            }
        }
        for (_, d) in pending_dup {
            out.push(self.packets[d].clone());
        }
        out.push(self.end_of_session());
        out
    }

    /// Packets never sent downstream by [`MoldFeed::schedule`].
    pub fn gaps(&self) -> usize {
        let n = self.packets.len();
        (0..n).filter(|i| i % 7 == 3 && *i + 1 != n).count()
    }

    /// An end-of-session packet (its sequence is the next number).
    pub fn end_of_session(&self) -> Vec<u8> {
        let mut buf = [0u8; 20];
        let n = mold::emit_end_of_session(&mut buf, &self.session, self.messages + 1).unwrap();
        buf[..n].to_vec()
    }

    /// Answers a re-request: packets carrying the asked messages (those that
    /// exist), up to 4 per packet. Not a request of this session: nothing.
    pub fn answer(&mut self, request: &[u8]) -> Vec<Vec<u8>> {
        let Ok(r) = Request::parse(request) else {
            return Vec::new();
        };
        if r.session != self.session || r.sequence == 0 {
            return Vec::new();
        }
        self.requests += 1;
        let last = (r.sequence + u64::from(r.message_count)).min(self.messages + 1);
        let mut out = Vec::new();
        let mut s = r.sequence;
        while s < last {
            let count = (last - s).min(4);
            out.push(Self::build(&self.session, s, count));
            s += count;
        }
        out
    }
}

/// The SoupBinTCP session name the venue assigns.
pub const SOUP_SESSION: &str = "NET0000001";

/// A SoupBinTCP server for one client at a time with a sequenced store
/// that outlives connections (a restart keeps it, as a real venue's does).
pub struct SoupVenue {
    session: Session,
    store: Vec<Vec<u8>>,
    framer: Framer,
    logged_in: bool,
    match_number: u64,
    /// Requested sequence number of every login, in order.
    pub logins: Vec<u64>,
    /// UserRefNums of every Enter Order received, in order.
    pub orders: Vec<u32>,
}

impl Default for SoupVenue {
    fn default() -> Self {
        SoupVenue::new()
    }
}

impl SoupVenue {
    /// An empty store.
    pub fn new() -> SoupVenue {
        SoupVenue {
            session: Session::new(SOUP_SESSION).unwrap(),
            store: Vec::new(),
            framer: Framer::new(4096),
            logged_in: false,
            match_number: 0,
            logins: Vec::new(),
            orders: Vec::new(),
        }
    }

    /// Sequenced messages stored so far.
    pub fn stored(&self) -> usize {
        self.store.len()
    }

    /// A new connection: nothing received yet, not logged in.
    pub fn on_connect(&mut self) {
        self.framer.reset();
        self.logged_in = false;
    }

    /// The connection is gone.
    pub fn on_disconnect(&mut self) {
        self.logged_in = false;
    }

    fn sequenced(msg: &[u8], out: &mut Vec<u8>) {
        let mut b = vec![0u8; msg.len() + 3];
        let n = ServerPacket::SequencedData(msg).emit(&mut b).unwrap();
        out.extend_from_slice(&b[..n]);
    }

    fn store_and_send(&mut self, msg: Vec<u8>, out: &mut Vec<u8>) {
        if self.logged_in {
            Self::sequenced(&msg, out);
        }
        self.store.push(msg);
    }

    /// Adds a venue-initiated message (a late fill report, say): stored, and
    /// its bytes appended to `out` if a client is logged in.
    pub fn unsolicited_execution(&mut self, user_ref_num: u32, out: &mut Vec<u8>) {
        self.match_number += 1;
        let msg = emit(w::Outbound::Executed(w::ExecutedRepr {
            timestamp: 1_000 + self.match_number,
            user_ref_num,
            quantity: 1,
            price: Price4(1_000_000),
            liquidity_flag: w::LiquidityFlag::ADDED,
            match_number: self.match_number,
            options: w::Options::NONE,
        }));
        self.store_and_send(msg, out);
    }

    /// Bytes from the client: appends the replies to `out`. An Enter Order
    /// is answered with Accepted, then Executed for one share.
    pub fn on_bytes(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let mut pos = 0;
        let mut frames = Vec::new();
        while let Ok(Some(f)) = self.framer.next_packet(data, &mut pos) {
            frames.push(f.to_vec());
        }
        for f in frames {
            let Ok(p) = ClientPacket::parse(&f) else {
                panic!("venue: malformed client packet {f:?}");
            };
            match p {
                ClientPacket::LoginRequest { sequence, .. } => {
                    let next = self.store.len() as u64 + 1;
                    let start = if sequence == 0 {
                        next
                    } else {
                        sequence.min(next)
                    };
                    self.logins.push(sequence);
                    let mut b = [0u8; 64];
                    let n = ServerPacket::LoginAccepted {
                        session: self.session,
                        sequence: start,
                    }
                    .emit(&mut b)
                    .unwrap();
                    out.extend_from_slice(&b[..n]);
                    for m in &self.store[(start - 1) as usize..] {
                        Self::sequenced(m, out);
                    }
                    self.logged_in = true;
                }
                ClientPacket::UnsequencedData(msg) => {
                    assert!(self.logged_in, "order before login");
                    match w::Inbound::parse(msg) {
                        Ok(w::Inbound::EnterOrder(e)) => {
                            self.orders.push(e.user_ref_num);
                            self.match_number += 1;
                            let accepted = emit(w::Outbound::Accepted(w::AcceptedRepr {
                                timestamp: self.match_number,
                                user_ref_num: e.user_ref_num,
                                side: e.side,
                                quantity: e.quantity,
                                symbol: e.symbol,
                                price: e.price,
                                time_in_force: e.time_in_force,
                                display: e.display,
                                order_ref: 900 + u64::from(e.user_ref_num),
                                capacity: e.capacity,
                                intermarket_sweep: e.intermarket_sweep,
                                cross_type: e.cross_type,
                                state: w::OrderState::Live,
                                cl_ord_id: e.cl_ord_id,
                                options: w::Options::NONE,
                            }));
                            self.store_and_send(accepted, out);
                            let executed = emit(w::Outbound::Executed(w::ExecutedRepr {
                                timestamp: self.match_number,
                                user_ref_num: e.user_ref_num,
                                quantity: 1,
                                price: e.price,
                                liquidity_flag: w::LiquidityFlag::REMOVED,
                                match_number: self.match_number,
                                options: w::Options::NONE,
                            }));
                            self.store_and_send(executed, out);
                        }
                        other => panic!("venue: unexpected OUCH message {other:?}"),
                    }
                }
                ClientPacket::Heartbeat | ClientPacket::Debug(_) => {}
                ClientPacket::LogoutRequest => self.logged_in = false,
            }
        }
    }
}

fn emit(m: w::Outbound) -> Vec<u8> {
    let mut b = vec![0u8; m.buffer_len()];
    let n = m.emit(&mut b).unwrap();
    b.truncate(n);
    b
}
