//! The benchmark venue, sans-IO: the other end of the appliance's order
//! connection and the source of its market data, scripted so that every
//! trigger the benchmark sends makes exactly one child order.
//!
//! On the order connection it speaks SoupBinTCP 3.0 with OUCH 5.0: it
//! accepts any login (session [`SOUP_SESSION`], from sequence 1), answers
//! the engine's Account Query, and answers every Enter Order with Accepted
//! and every Replace Order with Replaced, echoing what the client sent. Its
//! market data is ITCH 5.0 in MoldUDP64: a set-up packet (stock directory
//! and a two-sided book for each symbol), then one message per market-data
//! trigger.
//!
//! The two triggers:
//! - **fill** ([`VenueScript::fill`]): Executed for the whole open quantity
//!   of the live child on [`FILL_SYMBOL`]; the parent (no delay) releases
//!   its next slice at once, an Enter Order;
//! - **market data** ([`VenueScript::market_data`]): on one of the
//!   [`PEG_SYMBOLS`], an Add Order one tick above the best bid, or the
//!   Delete of that order; either moves the best bid, and the pegged child
//!   of that symbol is re-priced, a Replace Order. The symbols are used in
//!   turn, so a trigger never waits for the previous one's Replaced to be
//!   applied.
//!
//! [`VenueScript::arrivals`] counts the child orders seen per symbol so a
//! driver can wait for the one its trigger caused. Output for the order
//! connection accumulates in [`VenueScript::output`]. Never panics on
//! input: a packet that does not parse is counted and skipped.

use crate::types::{Price4, Qty, Side, Symbol};
use crate::wire::itch::{AddOrder, Header, Message, OrderDelete, StockDirectory};
use crate::wire::moldudp64::{self, PacketBuilder};
use crate::wire::ouch50 as w50;
use crate::wire::soupbintcp::{self, ClientPacket, Framer, ServerPacket, Session};

/// The SoupBinTCP session the venue runs.
pub const SOUP_SESSION: &str = "BENCH00001";
/// The MoldUDP64 session of the feed.
pub const MOLD_SESSION: &str = "BENCHMD001";
/// The symbol whose child is filled by the fill trigger.
pub const FILL_SYMBOL: &str = "BFILL";
/// The symbols whose pegged children are re-priced by market data.
pub const PEG_SYMBOLS: [&str; 4] = ["BPEG1", "BPEG2", "BPEG3", "BPEG4"];
/// Symbols in all, fill first (stock locate = index + 1).
pub const SYMBOLS: usize = 1 + PEG_SYMBOLS.len();
/// The best bid of every book after set-up ($100.00).
pub const BID: Price4 = Price4(1_000_000);
/// The bid a market-data trigger adds (one tick, $0.01, above [`BID`]).
pub const BID_UP: Price4 = Price4(1_000_100);
/// The best offer of every book ($100.10).
pub const ASK: Price4 = Price4(1_001_000);
/// The parents' limit ($100.05): above both bids, below the offer.
pub const LIMIT: Price4 = Price4(1_000_500);
/// Shares of each book order.
const BOOK_SHARES: u32 = 500;
/// Server heartbeat after this long without sending (the client's dead
/// interval is 15 s).
const HEARTBEAT_NS: u64 = 500_000_000;

/// The symbol of slot `i` (0 = fill, 1.. = pegged).
pub fn symbol(i: usize) -> Symbol {
    let name = match i {
        0 => FILL_SYMBOL,
        i => PEG_SYMBOLS.get(i - 1).copied().unwrap_or(FILL_SYMBOL),
    };
    Symbol::new(name).unwrap_or(Symbol(*b"BENCH   "))
}

/// A child order as the venue last saw it.
#[derive(Clone, Copy, Debug, Default)]
struct Child {
    live: bool,
    user_ref: u32,
    qty: u32,
    price: Price4,
    entered: Option<w50::EnterOrderRepr>,
    cl_ord_id: w50::ClOrdId,
    venue_ref: u64,
}

/// What the script counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScriptStats {
    /// Logins accepted.
    pub logins: u64,
    /// Enter Orders answered.
    pub enters: u64,
    /// Replace Orders answered.
    pub replaces: u64,
    /// Cancel Orders answered.
    pub cancels: u64,
    /// Fills sent.
    pub fills: u64,
    /// Market-data messages sent (set-up included).
    pub md_messages: u64,
    /// Packets or messages that did not parse, or named no known order.
    pub unexpected: u64,
}

/// Why a trigger could not be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// The symbol has no live child to fill or re-price.
    #[error("no live child on {0}")]
    NoChild(&'static str),
    /// The message did not fit the buffer.
    #[error("market-data buffer too small")]
    Buffer,
}

/// The venue's state; see the module doc.
pub struct VenueScript {
    framer: Framer,
    session: Session,
    next_seq: u64,
    out: Vec<u8>,
    logged_in: bool,
    query_answered: bool,
    children: [Child; SYMBOLS],
    arrivals: [u64; SYMBOLS],
    /// The order a market-data trigger added per pegged symbol (deleted by
    /// the next one).
    raised: [Option<u64>; SYMBOLS],
    mold_session: moldudp64::Session,
    mold_seq: u64,
    itch_ref: u64,
    venue_ref: u64,
    match_no: u64,
    last_tx_ns: u64,
    stats: ScriptStats,
}

impl Default for VenueScript {
    fn default() -> Self {
        Self::new()
    }
}

impl VenueScript {
    /// A venue with nobody logged in.
    pub fn new() -> VenueScript {
        VenueScript {
            framer: Framer::new(4096),
            session: Session::new(SOUP_SESSION).unwrap_or_default(),
            next_seq: 1,
            out: Vec::with_capacity(64 * 1024),
            logged_in: false,
            query_answered: false,
            children: [Child::default(); SYMBOLS],
            arrivals: [0; SYMBOLS],
            raised: [None; SYMBOLS],
            mold_session: moldudp64::session_from_str(MOLD_SESSION).unwrap_or([b' '; 10]),
            mold_seq: 1,
            itch_ref: 1,
            venue_ref: 1,
            match_no: 1,
            last_tx_ns: 0,
            stats: ScriptStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ScriptStats {
        self.stats
    }

    /// True once a client logged in and its Account Query was answered.
    pub fn ready(&self) -> bool {
        self.logged_in && self.query_answered
    }

    /// True when every symbol has a live child.
    pub fn all_children_live(&self) -> bool {
        self.children.iter().all(|c| c.live)
    }

    /// Child orders (enters and replaces) seen per symbol slot.
    pub fn arrivals(&self) -> &[u64; SYMBOLS] {
        &self.arrivals
    }

    /// Bytes for the order connection, oldest first; the transport removes
    /// what it wrote with [`VenueScript::consume_output`].
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Drops the first `n` bytes of the output (written).
    pub fn consume_output(&mut self, n: usize) {
        let n = n.min(self.out.len());
        self.out.drain(..n);
    }

    /// Forgets the connection (a new one logs in afresh).
    pub fn on_disconnect(&mut self) {
        self.framer.reset();
        self.out.clear();
        self.logged_in = false;
    }

    /// Takes bytes read from the order connection (`now_ns`: venue time,
    /// ns since midnight, for the reports' timestamps).
    pub fn on_bytes(&mut self, now_ns: u64, data: &[u8]) {
        let mut pos = 0;
        let mut frame = [0u8; 256];
        loop {
            let len = match self.framer.next_packet(data, &mut pos) {
                Ok(Some(f)) => {
                    let n = f.len().min(frame.len());
                    frame[..n].copy_from_slice(&f[..n]);
                    n
                }
                Ok(None) => break,
                Err(_) => {
                    self.stats.unexpected += 1;
                    self.framer.reset();
                    break;
                }
            };
            self.on_packet(now_ns, &frame[..len]);
        }
    }

    fn on_packet(&mut self, now_ns: u64, frame: &[u8]) {
        match ClientPacket::parse(frame) {
            Ok(ClientPacket::LoginRequest { .. }) => {
                self.logged_in = true;
                self.stats.logins += 1;
                let p = ServerPacket::LoginAccepted {
                    session: self.session,
                    sequence: self.next_seq,
                };
                self.queue(now_ns, &p);
            }
            Ok(ClientPacket::UnsequencedData(msg)) => self.on_message(now_ns, msg),
            Ok(ClientPacket::LogoutRequest) => self.logged_in = false,
            Ok(ClientPacket::Heartbeat | ClientPacket::Debug(_)) => {}
            Err(_) => self.stats.unexpected += 1,
        }
    }

    fn on_message(&mut self, now_ns: u64, msg: &[u8]) {
        match w50::Inbound::parse(msg) {
            Ok(w50::Inbound::AccountQuery(_)) => {
                self.query_answered = true;
                let r = w50::Outbound::AccountQueryResponse(w50::AccountQueryResponseRepr {
                    timestamp: now_ns,
                    next_user_ref_num: 1,
                });
                self.queue_sequenced(now_ns, &r);
            }
            Ok(w50::Inbound::EnterOrder(e)) => {
                let Some(i) = (0..SYMBOLS).find(|&i| symbol(i) == e.symbol) else {
                    self.stats.unexpected += 1;
                    return;
                };
                self.stats.enters += 1;
                let venue_ref = self.venue_ref;
                self.venue_ref += 1;
                self.children[i] = Child {
                    live: true,
                    user_ref: e.user_ref_num,
                    qty: e.quantity,
                    price: e.price,
                    entered: Some(e),
                    cl_ord_id: e.cl_ord_id,
                    venue_ref,
                };
                self.arrivals[i] += 1;
                let a = w50::Outbound::Accepted(w50::AcceptedRepr {
                    timestamp: now_ns,
                    user_ref_num: e.user_ref_num,
                    side: e.side,
                    quantity: e.quantity,
                    symbol: e.symbol,
                    price: e.price,
                    time_in_force: e.time_in_force,
                    display: e.display,
                    order_ref: venue_ref,
                    capacity: e.capacity,
                    intermarket_sweep: e.intermarket_sweep,
                    cross_type: e.cross_type,
                    state: w50::OrderState::Live,
                    cl_ord_id: e.cl_ord_id,
                    options: w50::Options::NONE,
                });
                self.queue_sequenced(now_ns, &a);
            }
            Ok(w50::Inbound::ReplaceOrder(r)) => {
                let Some(i) = (0..SYMBOLS).find(|&i| {
                    self.children[i].live && self.children[i].user_ref == r.orig_user_ref_num
                }) else {
                    self.stats.unexpected += 1;
                    return;
                };
                self.stats.replaces += 1;
                let venue_ref = self.venue_ref;
                self.venue_ref += 1;
                let c = &mut self.children[i];
                c.user_ref = r.user_ref_num;
                c.qty = r.quantity;
                c.price = r.price;
                c.cl_ord_id = r.cl_ord_id;
                c.venue_ref = venue_ref;
                let e = c.entered;
                self.arrivals[i] += 1;
                let side = e.map_or(w50::BuySell::Buy, |e| e.side);
                let capacity = e.map_or(w50::Capacity::AGENCY, |e| e.capacity);
                let cross_type = e.map_or(w50::CrossType(b'N'), |e| e.cross_type);
                let m = w50::Outbound::Replaced(w50::ReplacedRepr {
                    timestamp: now_ns,
                    orig_user_ref_num: r.orig_user_ref_num,
                    user_ref_num: r.user_ref_num,
                    side,
                    quantity: r.quantity,
                    symbol: symbol(i),
                    price: r.price,
                    time_in_force: r.time_in_force,
                    display: r.display,
                    order_ref: venue_ref,
                    capacity,
                    intermarket_sweep: r.intermarket_sweep,
                    cross_type,
                    state: w50::OrderState::Live,
                    cl_ord_id: r.cl_ord_id,
                    options: w50::Options::NONE,
                });
                self.queue_sequenced(now_ns, &m);
            }
            Ok(w50::Inbound::CancelOrder(x)) => {
                let Some(i) = (0..SYMBOLS).find(|&i| {
                    self.children[i].live && self.children[i].user_ref == x.user_ref_num
                }) else {
                    self.stats.unexpected += 1;
                    return;
                };
                self.stats.cancels += 1;
                let c = &mut self.children[i];
                c.live = false;
                let m = w50::Outbound::Canceled(w50::CanceledRepr {
                    timestamp: now_ns,
                    user_ref_num: x.user_ref_num,
                    quantity: c.qty,
                    reason: w50::CancelReason(b'U'),
                });
                self.queue_sequenced(now_ns, &m);
            }
            Ok(_) | Err(_) => self.stats.unexpected += 1,
        }
    }

    /// The fill trigger: Executed for the whole open quantity of the live
    /// child on [`FILL_SYMBOL`], queued for the order connection.
    pub fn fill(&mut self, now_ns: u64) -> Result<(), TriggerError> {
        let c = &mut self.children[0];
        if !c.live {
            return Err(TriggerError::NoChild(FILL_SYMBOL));
        }
        c.live = false;
        let m = w50::Outbound::Executed(w50::ExecutedRepr {
            timestamp: now_ns,
            user_ref_num: c.user_ref,
            quantity: c.qty,
            price: c.price,
            liquidity_flag: w50::LiquidityFlag(b'A'),
            match_number: self.match_no,
            options: w50::Options::NONE,
        });
        self.match_no += 1;
        self.stats.fills += 1;
        self.queue_sequenced(now_ns, &m);
        Ok(())
    }

    /// The market-data trigger on pegged symbol `k` (0-based, modulo
    /// [`PEG_SYMBOLS`]): writes one MoldUDP64 packet into `out` and returns
    /// its length.
    pub fn market_data(
        &mut self,
        now_ns: u64,
        k: usize,
        out: &mut [u8],
    ) -> Result<usize, TriggerError> {
        let i = 1 + k % PEG_SYMBOLS.len();
        if !self.children[i].live {
            return Err(TriggerError::NoChild(PEG_SYMBOLS[k % PEG_SYMBOLS.len()]));
        }
        let header = Header {
            locate: i as u16 + 1,
            tracking: 0,
            timestamp: now_ns,
        };
        let msg = match self.raised[i].take() {
            Some(order_ref) => Message::OrderDelete(OrderDelete { header, order_ref }),
            None => {
                let order_ref = self.next_itch_ref();
                self.raised[i] = Some(order_ref);
                Message::AddOrder(AddOrder {
                    header,
                    order_ref,
                    side: Side::Buy,
                    shares: Qty(100),
                    stock: symbol(i),
                    price: BID_UP,
                })
            }
        };
        self.packet(out, &[msg])
    }

    /// The set-up packet: a stock directory entry and a bid and an offer for
    /// every symbol.
    pub fn setup(&mut self, now_ns: u64, out: &mut [u8]) -> Result<usize, TriggerError> {
        let mut msgs = Vec::with_capacity(3 * SYMBOLS);
        for i in 0..SYMBOLS {
            let header = Header {
                locate: i as u16 + 1,
                tracking: 0,
                timestamp: now_ns,
            };
            msgs.push(Message::StockDirectory(StockDirectory {
                header,
                stock: symbol(i),
                market_category: b'Q',
                financial_status: b'N',
                round_lot_size: 100,
                round_lots_only: b'N',
                issue_classification: b'C',
                issue_sub_type: *b"Z ",
                authenticity: b'P',
                short_sale_threshold: b'N',
                ipo_flag: b'N',
                luld_tier: b'1',
                etp_flag: b'N',
                etp_leverage_factor: 0,
                inverse_indicator: b'N',
            }));
            for (side, price) in [(Side::Buy, BID), (Side::Sell, ASK)] {
                let order_ref = self.next_itch_ref();
                msgs.push(Message::AddOrder(AddOrder {
                    header,
                    order_ref,
                    side,
                    shares: Qty(BOOK_SHARES),
                    stock: symbol(i),
                    price,
                }));
            }
        }
        self.packet(out, &msgs)
    }

    /// Queues a server heartbeat when nothing was sent for a while.
    pub fn heartbeat_if_due(&mut self, now_ns: u64) {
        if self.logged_in && now_ns.saturating_sub(self.last_tx_ns) >= HEARTBEAT_NS {
            self.queue(now_ns, &ServerPacket::Heartbeat);
        }
    }

    fn next_itch_ref(&mut self) -> u64 {
        let r = self.itch_ref;
        self.itch_ref += 1;
        r
    }

    fn packet(&mut self, out: &mut [u8], msgs: &[Message]) -> Result<usize, TriggerError> {
        let mut b = PacketBuilder::new(out, &self.mold_session, self.mold_seq)
            .map_err(|_| TriggerError::Buffer)?;
        for m in msgs {
            b.push_with(m.encoded_len(), |buf| m.emit(buf))
                .map_err(|_| TriggerError::Buffer)?;
        }
        self.mold_seq += msgs.len() as u64;
        self.stats.md_messages += msgs.len() as u64;
        Ok(b.finish())
    }

    fn queue(&mut self, now_ns: u64, p: &ServerPacket<'_>) {
        let mut buf = [0u8; 64];
        if let Ok(n) = p.emit(&mut buf) {
            self.out.extend_from_slice(&buf[..n]);
            self.last_tx_ns = now_ns;
        }
    }

    fn queue_sequenced(&mut self, now_ns: u64, m: &w50::Outbound) {
        let mut buf = [0u8; 128];
        let n = soupbintcp::emit_sequenced_with(&mut buf, |payload| m.emit(payload));
        if let Ok(n) = n {
            self.out.extend_from_slice(&buf[..n]);
            self.next_seq += 1;
            self.last_tx_ns = now_ns;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{OrderEvent, OrderRef, OuchDialect};
    use crate::wire::soupbintcp::ServerPacket;

    fn server_packets(bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut f = Framer::new(4096);
        let mut pos = 0;
        let mut v = Vec::new();
        while let Some(p) = f.next_packet(bytes, &mut pos).unwrap() {
            v.push(p.to_vec());
        }
        v
    }

    fn client(p: &ClientPacket<'_>) -> Vec<u8> {
        let mut b = [0u8; 256];
        let n = p.emit(&mut b).unwrap();
        b[..n].to_vec()
    }

    #[test]
    fn login_query_enter_fill_replace_as_the_client_decodes_them() {
        let d = crate::order::Ouch50Dialect::with_firm("FLOE").unwrap();
        let mut s = VenueScript::new();
        let login = ClientPacket::login_request("FLOE01", "floe", Session::BLANK, 1).unwrap();
        s.on_bytes(1, &client(&login));
        let mut msg = [0u8; 128];
        let n = w50::Inbound::AccountQuery(w50::AccountQueryRepr {})
            .emit(&mut msg)
            .unwrap();
        s.on_bytes(2, &client(&ClientPacket::UnsequencedData(&msg[..n])));
        assert!(s.ready());
        // A child on the fill symbol, then its fill.
        let req = crate::order::OrderRequest::Enter {
            order: OrderRef(1),
            tag: crate::order::ChildTag {
                parent: 1,
                child: 1,
            },
            side: Side::Buy,
            qty: Qty(100),
            symbol: symbol(0),
            price: LIMIT,
            tif: crate::order::TimeInForce::Day,
        };
        let n = d.encode(&req, &mut msg).unwrap();
        s.on_bytes(3, &client(&ClientPacket::UnsequencedData(&msg[..n])));
        assert_eq!(s.arrivals()[0], 1);
        s.fill(4).unwrap();
        assert_eq!(s.fill(5), Err(TriggerError::NoChild(FILL_SYMBOL)));
        let packets = server_packets(s.output());
        assert_eq!(
            packets.len(),
            4,
            "login accepted, query response, accepted, executed"
        );
        assert!(matches!(
            ServerPacket::parse(&packets[0]).unwrap(),
            ServerPacket::LoginAccepted { sequence: 1, .. }
        ));
        let events: Vec<OrderEvent> = packets[1..]
            .iter()
            .map(|p| match ServerPacket::parse(p).unwrap() {
                ServerPacket::SequencedData(m) => d.decode(m).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(matches!(
            events[1],
            OrderEvent::Accepted {
                order: OrderRef(1),
                qty: Qty(100),
                live: true,
                ..
            }
        ));
        assert!(matches!(
            events[2],
            OrderEvent::Executed {
                order: OrderRef(1),
                qty: Qty(100),
                ..
            }
        ));
    }

    #[test]
    fn market_data_toggles_the_best_bid() {
        let mut s = VenueScript::new();
        let mut buf = [0u8; 1500];
        let mut books = crate::book::Books::new(&crate::config::BookConfig::default()).unwrap();
        let n = s.setup(1, &mut buf).unwrap();
        let apply = |books: &mut crate::book::Books, bytes: &[u8]| {
            let p = moldudp64::Packet::new_checked(bytes).unwrap();
            let mut last = None;
            for m in p.blocks() {
                let m = m.unwrap();
                if let Some(q) =
                    crate::feed::itch::apply_bytes(books, m, crate::time::Nanos(0)).unwrap()
                {
                    last = Some(q);
                }
            }
            last
        };
        apply(&mut books, &buf[..n]);
        // Without a live pegged child the trigger is refused.
        assert!(s.market_data(2, 0, &mut buf).is_err());
        s.children[1].live = true;
        let n = s.market_data(2, 0, &mut buf).unwrap();
        let q = apply(&mut books, &buf[..n]).unwrap();
        assert_eq!(q.bid.unwrap().price, BID_UP);
        let n = s.market_data(3, 0, &mut buf).unwrap();
        let q = apply(&mut books, &buf[..n]).unwrap();
        assert_eq!(q.bid.unwrap().price, BID);
    }
}
