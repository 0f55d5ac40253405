//! Price-time priority matching, per symbol, sans-IO.
//!
//! [`MatchingEngine`] takes orders from order-entry sessions
//! ([`MatchingEngine::handle`], dialect-neutral [`OrderRequest`]s) and from
//! the synthetic flow ([`MatchingEngine::submit_flow`]), and writes every
//! consequence into a caller-provided `Vec<`[`VenueOutput`]`>`: reports for
//! the sessions (both sides of every fill), market-data events for every book
//! change (the ITCH dialect: adds, executions, cancels, deletes, replaces,
//! trades, plus system events, stock directory and trading actions), and one
//! audit record per order decision. There is no clock and no socket: `now` is
//! passed in (nanoseconds since midnight) and venue time never goes
//! backwards: a `now` below the last one seen counts as the last one.
//!
//! Rules:
//! - **Priority**: best price first, then arrival; an order that is reduced
//!   by a cancel keeps its place, a replaced order goes to the back of its new
//!   level (it gets a new venue order reference). Every execution happens at
//!   the resting order's price. There is no display priority: displayed and
//!   non-displayed orders queue together.
//! - **Order types**: limit orders, day ([`TimeInForce::Day`]: the rest is
//!   displayed on the book) or immediate-or-cancel ([`TimeInForce::Ioc`]: the
//!   rest is canceled with reason `I`, never displayed).
//! - **Identifiers** (per session, [`Dialect`] rule): OUCH 4.2 keys an order by
//!   its token, i.e. by `(OrderRef, ChildTag)`; an Enter or Replace reusing a
//!   token already used this day is silently ignored (no report). OUCH 5.0
//!   keys an order by its UserRefNum ([`OrderRef`]); an Enter or Replace whose
//!   number is not strictly above the last one processed is silently ignored.
//!   In both dialects a rejected order consumes its identifier; a Replace whose
//!   original is not live is ignored and consumes nothing.
//! - **Cancel** (`remaining` = the new open quantity; 0 cancels all): a cancel
//!   that would not reduce the open quantity, or that names no live order, is
//!   ignored.
//! - **Replace** (new identifier, new price, `qty` = total shares liable for
//!   the chain, as in OUCH): the shares already executed on the original and
//!   its predecessors count against `qty`, so the replacement's open quantity
//!   is `qty − executed` (the [`OrderEvent::Replaced`] report carries that open
//!   quantity). When `qty ≤ executed` the replacement is accepted dead (open 0,
//!   `live = false`) and the original leaves the book. A replace with an
//!   invalid quantity or price, or on a halted symbol, cancels the live
//!   original (reason `Z`, or `H` when halted) and consumes no identifier. A
//!   replacement that crosses the book trades as an incoming order; one that
//!   does not is published as an ITCH Replace.
//! - **Refusals**: unknown symbol, zero shares or more than [`MAX_SHARES`],
//!   price zero or above [`MAX_PRICE`], halted symbol; each with its OUCH
//!   reject code ([`Refusal::code`]).
//! - **Cancel-on-disconnect**: a per-session switch; [`MatchingEngine::on_disconnect`]
//!   cancels the session's live orders (reason `Z`).
//!
//! Market events follow ITCH: an order that executes in full leaves the book
//! with its last Executed (no Delete); the aggressor of a match is never
//! displayed, only the resting order's Executed (or, for a non-displayed
//! resting order, a Trade) is published, and the reports of both sides and the
//! market event share one match number. Venue order references and match
//! numbers are day-unique and count from 1; stock locates count from 1 in
//! listing order.
//!
//! Cost: the book is a `BTreeMap` of price levels per side, each level an
//! intrusive FIFO over a slab of orders with free-list reuse (preallocated
//! from [`MatchingConfig::order_capacity`]), so a match or a cancel does not
//! allocate once the slab and the output vector have grown to their working
//! size. Per-session maps (live orders, used tokens, executed totals) grow
//! with the number of session orders of the day.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::audit::{AuditEvent, AuditKind, SessionName};
use crate::config::Dialect;
use crate::order::{
    CancelReason, ChildTag, OrderEvent, OrderRef, OrderRequest, RejectReason, TimeInForce,
};
use crate::time::Nanos;
use crate::types::{Level, Price4, Qty, Quote, Side, Symbol};

/// The largest order size accepted (OUCH: 1..999,999 shares).
pub const MAX_SHARES: u32 = 999_999;

/// The highest limit price accepted (OUCH: 199,999.9900).
pub const MAX_PRICE: Price4 = Price4(1_999_999_900);

/// Liquidity flag of the resting side of a fill (added).
pub const LIQUIDITY_ADDED: u8 = b'A';
/// Liquidity flag of the incoming side of a fill (removed).
pub const LIQUIDITY_REMOVED: u8 = b'R';

/// Cancel reason: user requested.
pub const CANCEL_USER: CancelReason = CancelReason {
    code: b'U',
    text: "user requested",
};
/// Cancel reason: the rest of an immediate-or-cancel order.
pub const CANCEL_IOC: CancelReason = CancelReason {
    code: b'I',
    text: "immediate or cancel",
};
/// Cancel reason: canceled by the system (cancel-on-disconnect, invalid replace).
pub const CANCEL_SYSTEM: CancelReason = CancelReason {
    code: b'Z',
    text: "system",
};
/// Cancel reason: the symbol is halted (a replace refused by a halt).
pub const CANCEL_HALTED: CancelReason = CancelReason {
    code: b'H',
    text: "halted",
};

/// ITCH system event codes (`S` message).
pub mod system_event {
    /// Start of messages.
    pub const START_OF_MESSAGES: u8 = b'O';
    /// Start of system hours.
    pub const START_OF_SYSTEM_HOURS: u8 = b'S';
    /// Start of market hours.
    pub const START_OF_MARKET_HOURS: u8 = b'Q';
    /// End of market hours.
    pub const END_OF_MARKET_HOURS: u8 = b'M';
    /// End of system hours.
    pub const END_OF_SYSTEM_HOURS: u8 = b'E';
    /// End of messages.
    pub const END_OF_MESSAGES: u8 = b'C';
}

/// A venue-side order-entry session: one OUCH account on one port. Its
/// identifier rules and live orders survive disconnects (re-login resumes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u16);

/// How a session behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Name in the audit trail (the SoupBinTCP username, say).
    pub name: SessionName,
    /// OUCH dialect: decides the identifier rules, reject codes and the
    /// audit's `id`.
    pub dialect: Dialect,
    /// Cancel the session's live orders when [`MatchingEngine::on_disconnect`]
    /// is called.
    pub cancel_on_disconnect: bool,
    /// MPID published with the session's orders (ITCH `F`), or anonymous
    /// (`A`) when `None`.
    pub attribution: Option<[u8; 4]>,
}

/// The venue's listing and its sizing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchingConfig {
    /// Listed symbols; the stock locate of `symbols[i]` is `i + 1`.
    pub symbols: Vec<Symbol>,
    /// Round lot published in the stock directory.
    pub round_lot: u32,
    /// Resting orders to preallocate room for (the slab grows past it).
    pub order_capacity: usize,
}

impl Default for MatchingConfig {
    fn default() -> Self {
        MatchingConfig {
            symbols: Vec::new(),
            round_lot: 100,
            order_capacity: 1 << 16,
        }
    }
}

/// Why the venue refused an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The symbol is not listed.
    UnknownSymbol,
    /// Zero shares.
    ZeroShares,
    /// More than [`MAX_SHARES`].
    TooManyShares,
    /// Price zero or above [`MAX_PRICE`].
    InvalidPrice,
    /// The symbol is halted.
    Halted,
}

impl Refusal {
    /// The OUCH reject reason: the 4.2 reason byte or the 5.0 u16 code.
    pub const fn code(self, dialect: Dialect) -> RejectReason {
        match dialect {
            Dialect::Ouch42 => match self {
                Refusal::UnknownSymbol => RejectReason {
                    code: b'S' as u16,
                    text: "invalid stock",
                },
                Refusal::ZeroShares => RejectReason {
                    code: b'O' as u16,
                    text: "other",
                },
                Refusal::TooManyShares => RejectReason {
                    code: b'Z' as u16,
                    text: "shares exceed configured safety threshold",
                },
                Refusal::InvalidPrice => RejectReason {
                    code: b'X' as u16,
                    text: "invalid price",
                },
                Refusal::Halted => RejectReason {
                    code: b'H' as u16,
                    text: "halted",
                },
            },
            Dialect::Ouch50 => match self {
                Refusal::UnknownSymbol => RejectReason {
                    code: 0x17,
                    text: "invalid symbol",
                },
                Refusal::ZeroShares | Refusal::TooManyShares => RejectReason {
                    code: 0x13,
                    text: "invalid quantity",
                },
                Refusal::InvalidPrice => RejectReason {
                    code: 0x1D,
                    text: "invalid price",
                },
                Refusal::Halted => RejectReason {
                    code: 0x07,
                    text: "halted",
                },
            },
        }
    }

    /// A short description, the audit's `reason`.
    pub const fn text(self) -> &'static str {
        match self {
            Refusal::UnknownSymbol => "unknown symbol",
            Refusal::ZeroShares => "zero shares",
            Refusal::TooManyShares => "more than 999999 shares",
            Refusal::InvalidPrice => "invalid price",
            Refusal::Halted => "halted",
        }
    }
}

/// Audit `reason` of an Enter/Replace ignored as a repeated OUCH 4.2 token.
pub const IGNORED_REPEATED_TOKEN: &str = "ignored: repeated token";
/// Audit `reason` of an Enter/Replace ignored under the OUCH 5.0 rule.
pub const IGNORED_STALE_USER_REF: &str = "ignored: UserRefNum not above the last processed";

/// A market-data event, in the dialect of ITCH 5.0. `ts` is venue time (ns
/// since midnight), `locate` the stock locate (0 for system events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarketEvent {
    /// ITCH `S`.
    SystemEvent {
        /// Venue time.
        ts: u64,
        /// Event code ([`system_event`]).
        code: u8,
    },
    /// ITCH `R`, once per listed symbol at the open.
    StockDirectory {
        /// Venue time.
        ts: u64,
        /// Stock locate.
        locate: u16,
        /// Stock.
        symbol: Symbol,
        /// Round lot size.
        round_lot: u32,
    },
    /// ITCH `H`.
    TradingAction {
        /// Venue time.
        ts: u64,
        /// Stock locate.
        locate: u16,
        /// Stock.
        symbol: Symbol,
        /// `H` halted, `T` trading.
        state: u8,
    },
    /// ITCH `A` (no attribution) or `F` (with an MPID).
    AddOrder {
        /// Venue time.
        ts: u64,
        /// Stock locate.
        locate: u16,
        /// Venue order reference number.
        order_ref: u64,
        /// Side.
        side: Side,
        /// Displayed shares.
        qty: Qty,
        /// Stock.
        symbol: Symbol,
        /// Price.
        price: Price4,
        /// MPID for `F`.
        attribution: Option<[u8; 4]>,
    },
    /// ITCH `E`: shares of a displayed order executed at its price.
    Executed {
        /// Venue time.
        ts: u64,
        /// Stock locate.
        locate: u16,
        /// The resting order.
        order_ref: u64,
        /// Shares executed.
        qty: Qty,
        /// Match number (shared with both sides' reports).
        match_number: u64,
    },
    /// ITCH `C`: an execution at a price other than the displayed one. The
    /// matching rules here never produce it (every fill is at the resting
    /// price); it exists so that the publisher and feed carry every ITCH
    /// execution form.
    ExecutedWithPrice {
        /// Venue time.
        ts: u64,
        /// Stock locate.
        locate: u16,
        /// The resting order.
        order_ref: u64,
        /// Shares executed.
        qty: Qty,
        /// Match number.
        match_number: u64,
        /// Counts in volume (`Y`) or not (`N`).
        printable: bool,
        /// Execution price.
        price: Price4,
    },
    /// ITCH `X`: shares canceled off an order that stays on the book.
    Cancel {
        /// Venue time.
        ts: u64,
        /// Stock locate.
        locate: u16,
        /// The order.
        order_ref: u64,
        /// Shares canceled.
        qty: Qty,
    },
    /// ITCH `D`: the order left the book.
    Delete {
        /// Venue time.
        ts: u64,
        /// Stock locate.
        locate: u16,
        /// The order.
        order_ref: u64,
    },
    /// ITCH `U`: `old` left the book, `new` is at the back of its level.
    Replace {
        /// Venue time.
        ts: u64,
        /// Stock locate.
        locate: u16,
        /// Original order reference.
        old: u64,
        /// New order reference.
        new: u64,
        /// New displayed shares.
        qty: Qty,
        /// New price.
        price: Price4,
    },
    /// ITCH `P`: a non-displayed resting order executed (published with order
    /// reference 0, as NASDAQ does).
    Trade {
        /// Venue time.
        ts: u64,
        /// Stock locate.
        locate: u16,
        /// Side of the resting order.
        side: Side,
        /// Shares executed.
        qty: Qty,
        /// Stock.
        symbol: Symbol,
        /// Execution price.
        price: Price4,
        /// Match number.
        match_number: u64,
    },
}

impl MarketEvent {
    /// Venue time of the event.
    pub fn ts(&self) -> u64 {
        match *self {
            MarketEvent::SystemEvent { ts, .. }
            | MarketEvent::StockDirectory { ts, .. }
            | MarketEvent::TradingAction { ts, .. }
            | MarketEvent::AddOrder { ts, .. }
            | MarketEvent::Executed { ts, .. }
            | MarketEvent::ExecutedWithPrice { ts, .. }
            | MarketEvent::Cancel { ts, .. }
            | MarketEvent::Delete { ts, .. }
            | MarketEvent::Replace { ts, .. }
            | MarketEvent::Trade { ts, .. } => ts,
        }
    }

    /// Stock locate (0 for system events).
    pub fn locate(&self) -> u16 {
        match *self {
            MarketEvent::SystemEvent { .. } => 0,
            MarketEvent::StockDirectory { locate, .. }
            | MarketEvent::TradingAction { locate, .. }
            | MarketEvent::AddOrder { locate, .. }
            | MarketEvent::Executed { locate, .. }
            | MarketEvent::ExecutedWithPrice { locate, .. }
            | MarketEvent::Cancel { locate, .. }
            | MarketEvent::Delete { locate, .. }
            | MarketEvent::Replace { locate, .. }
            | MarketEvent::Trade { locate, .. } => locate,
        }
    }

    /// The match number, for executions and trades.
    pub fn match_number(&self) -> Option<u64> {
        match *self {
            MarketEvent::Executed { match_number, .. }
            | MarketEvent::ExecutedWithPrice { match_number, .. }
            | MarketEvent::Trade { match_number, .. } => Some(match_number),
            _ => None,
        }
    }
}

/// Everything the venue produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueOutput {
    /// A report for one session: a sequenced OUCH message to that session's
    /// client (kept for re-login replay by the order server).
    Report {
        /// The session.
        session: SessionId,
        /// The report.
        event: OrderEvent,
    },
    /// A market-data event for the ITCH publisher.
    Market(MarketEvent),
    /// One order decision for the audit trail.
    Audit(AuditEvent),
}

/// An order of the synthetic flow (no session: it appears only in market
/// data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowOrder {
    /// Stock.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Shares.
    pub qty: Qty,
    /// Limit price.
    pub price: Price4,
    /// Day (rests) or IOC.
    pub tif: TimeInForce,
    /// Displayed (ITCH `A`/`F`, executions as `E`) or not (executions as `P`).
    pub display: bool,
    /// MPID for ITCH `F`.
    pub attribution: Option<[u8; 4]>,
}

/// A handle on a resting flow order. Stale once the order has left the book:
/// every use then answers `None`/`false`, never another order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowHandle {
    slot: u32,
    generation: u32,
}

/// A resting order as the accessors show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestingOrder {
    /// Venue order reference.
    pub order_ref: u64,
    /// Stock.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Price.
    pub price: Price4,
    /// Open shares.
    pub open: Qty,
    /// Displayed or not.
    pub display: bool,
}

/// A session's live order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveOrder {
    /// The client's order number.
    pub order: OrderRef,
    /// The client's tag (zero in OUCH 5.0 sessions, whose orders are keyed by
    /// number alone).
    pub tag: ChildTag,
    /// The order on the book.
    pub resting: RestingOrder,
    /// Shares executed over the replace chain up to this order.
    pub chain_executed: Qty,
}

/// Counters of what the engine did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MatchingStats {
    /// Orders entered (sessions and flow) that passed validation.
    pub accepted: u64,
    /// Orders refused with a reason.
    pub refused: u64,
    /// Session requests ignored by the identifier rules.
    pub ignored: u64,
    /// Matches (one per match number).
    pub matches: u64,
    /// Shares matched.
    pub shares_matched: u64,
}

/// How a session keys its orders: OUCH 4.2 by token (number and tag), OUCH
/// 5.0 by number alone (tag zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    order: OrderRef,
    tag: ChildTag,
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
enum Owner {
    Flow,
    Session {
        session: SessionId,
        key: Key,
        /// The client's tag as sent (the key's tag is zero in OUCH 5.0).
        tag: ChildTag,
        chain_executed: u32,
    },
}

#[derive(Clone, Copy, Debug)]
struct Order {
    venue_ref: u64,
    book: u16,
    side: Side,
    price: Price4,
    open: u32,
    display: bool,
    owner: Owner,
    prev: u32,
    next: u32,
    generation: u32,
    in_use: bool,
}

#[derive(Clone, Copy, Debug)]
struct LevelQueue {
    head: u32,
    tail: u32,
    displayed: u64,
}

struct Book {
    symbol: Symbol,
    locate: u16,
    halted: bool,
    bids: BTreeMap<Price4, LevelQueue>,
    asks: BTreeMap<Price4, LevelQueue>,
    last_change: u64,
}

impl Book {
    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<Price4, LevelQueue> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Levels of `side` from the best outwards.
    fn levels(&self, side: Side) -> Box<dyn Iterator<Item = (&Price4, &LevelQueue)> + '_> {
        match side {
            Side::Buy => Box::new(self.bids.iter().rev()),
            Side::Sell => Box::new(self.asks.iter()),
        }
    }

    /// Best price of `side` with any resting order (displayed or not).
    fn best(&self, side: Side) -> Option<Price4> {
        match side {
            Side::Buy => self.bids.last_key_value().map(|(p, _)| *p),
            Side::Sell => self.asks.first_key_value().map(|(p, _)| *p),
        }
    }

    /// Best displayed level of `side`.
    fn best_displayed(&self, side: Side) -> Option<Level> {
        let level = |(p, l): (&Price4, &LevelQueue)| {
            (l.displayed > 0).then(|| Level {
                price: *p,
                qty: Qty(u32::try_from(l.displayed).unwrap_or(u32::MAX)),
            })
        };
        match side {
            Side::Buy => self.bids.iter().rev().find_map(level),
            Side::Sell => self.asks.iter().find_map(level),
        }
    }
}

struct Session {
    config: SessionConfig,
    /// OUCH 5.0: the highest UserRefNum processed (0 before any).
    last_ref: u32,
    /// OUCH 4.2: every token used this day.
    used: HashSet<Key>,
    /// Live orders by key, in key order (deterministic iteration).
    live: BTreeMap<Key, u32>,
    /// Shares executed per order (not per chain).
    executed: BTreeMap<Key, u32>,
}

impl Session {
    fn key(&self, order: OrderRef, tag: ChildTag) -> Key {
        match self.config.dialect {
            Dialect::Ouch42 => Key { order, tag },
            Dialect::Ouch50 => Key {
                order,
                tag: ChildTag::default(),
            },
        }
    }

    /// Whether an Enter/Replace with this identifier is a fresh one; the
    /// audit reason if not.
    fn fresh(&self, key: Key) -> Result<(), &'static str> {
        match self.config.dialect {
            Dialect::Ouch42 => {
                if self.used.contains(&key) {
                    Err(IGNORED_REPEATED_TOKEN)
                } else {
                    Ok(())
                }
            }
            Dialect::Ouch50 => {
                if key.order.0 > self.last_ref {
                    Ok(())
                } else {
                    Err(IGNORED_STALE_USER_REF)
                }
            }
        }
    }

    fn consume(&mut self, key: Key) {
        match self.config.dialect {
            Dialect::Ouch42 => {
                self.used.insert(key);
            }
            Dialect::Ouch50 => self.last_ref = self.last_ref.max(key.order.0),
        }
    }
}

/// Who is on the incoming side of a match.
#[derive(Clone, Copy)]
enum Incoming {
    Flow,
    Session {
        session: SessionId,
        key: Key,
        tag: ChildTag,
    },
}

/// The venue's matching engine: one book per listed symbol, the sessions'
/// identifier state, and the counters behind venue order references and
/// match numbers.
pub struct MatchingEngine {
    books: Vec<Book>,
    by_symbol: HashMap<Symbol, u16>,
    orders: Vec<Order>,
    free: Vec<u32>,
    sessions: Vec<Session>,
    round_lot: u32,
    next_venue_ref: u64,
    next_match: u64,
    clock_ns: u64,
    stats: MatchingStats,
}

impl MatchingEngine {
    /// A venue listing `config.symbols`, with room for
    /// `config.order_capacity` resting orders. Symbols listed twice are listed
    /// once; at most `u16::MAX` symbols are listed.
    pub fn new(config: &MatchingConfig) -> MatchingEngine {
        let mut books = Vec::with_capacity(config.symbols.len());
        let mut by_symbol = HashMap::with_capacity(config.symbols.len());
        for &symbol in &config.symbols {
            if by_symbol.contains_key(&symbol) || books.len() >= usize::from(u16::MAX) {
                continue;
            }
            let locate = books.len() as u16 + 1;
            by_symbol.insert(symbol, books.len() as u16);
            books.push(Book {
                symbol,
                locate,
                halted: false,
                bids: BTreeMap::new(),
                asks: BTreeMap::new(),
                last_change: 0,
            });
        }
        MatchingEngine {
            books,
            by_symbol,
            orders: Vec::with_capacity(config.order_capacity),
            free: Vec::with_capacity(config.order_capacity),
            sessions: Vec::new(),
            round_lot: config.round_lot,
            next_venue_ref: 1,
            next_match: 1,
            clock_ns: 0,
            stats: MatchingStats::default(),
        }
    }

    /// Registers an order-entry session and returns its id (ids count from
    /// 0). `None` when `u16::MAX` sessions exist.
    pub fn add_session(&mut self, config: SessionConfig) -> Option<SessionId> {
        let id = u16::try_from(self.sessions.len()).ok()?;
        self.sessions.push(Session {
            config,
            last_ref: 0,
            used: HashSet::new(),
            live: BTreeMap::new(),
            executed: BTreeMap::new(),
        });
        Some(SessionId(id))
    }

    /// The session's configuration.
    pub fn session_config(&self, session: SessionId) -> Option<&SessionConfig> {
        self.sessions.get(usize::from(session.0)).map(|s| &s.config)
    }

    /// Turns cancel-on-disconnect on or off for a session; false if unknown.
    pub fn set_cancel_on_disconnect(&mut self, session: SessionId, on: bool) -> bool {
        match self.sessions.get_mut(usize::from(session.0)) {
            Some(s) => {
                s.config.cancel_on_disconnect = on;
                true
            }
            None => false,
        }
    }

    /// The listed symbols, in stock-locate order.
    pub fn symbols(&self) -> impl ExactSizeIterator<Item = Symbol> + '_ {
        self.books.iter().map(|b| b.symbol)
    }

    /// The stock locate of a listed symbol.
    pub fn locate(&self, symbol: Symbol) -> Option<u16> {
        self.book_index(symbol).map(|i| self.books[i].locate)
    }

    /// The last venue time seen.
    pub fn now_ns(&self) -> u64 {
        self.clock_ns
    }

    /// What the engine has done so far.
    pub fn stats(&self) -> MatchingStats {
        self.stats
    }

    /// Start of day on the feed: system events `O` and `S`, a stock directory
    /// and a trading action (`T`, or `H` if halted) per listed symbol, then
    /// `Q` (start of market hours).
    pub fn open(&mut self, now_ns: u64, out: &mut Vec<VenueOutput>) {
        let ts = self.tick(now_ns);
        out.reserve(3 + 2 * self.books.len());
        out.push(VenueOutput::Market(MarketEvent::SystemEvent {
            ts,
            code: system_event::START_OF_MESSAGES,
        }));
        out.push(VenueOutput::Market(MarketEvent::SystemEvent {
            ts,
            code: system_event::START_OF_SYSTEM_HOURS,
        }));
        for b in &self.books {
            out.push(VenueOutput::Market(MarketEvent::StockDirectory {
                ts,
                locate: b.locate,
                symbol: b.symbol,
                round_lot: self.round_lot,
            }));
            out.push(VenueOutput::Market(MarketEvent::TradingAction {
                ts,
                locate: b.locate,
                symbol: b.symbol,
                state: if b.halted { b'H' } else { b'T' },
            }));
        }
        out.push(VenueOutput::Market(MarketEvent::SystemEvent {
            ts,
            code: system_event::START_OF_MARKET_HOURS,
        }));
    }

    /// End of day on the feed: system events `M`, `E`, `C`. Resting orders
    /// stay where they are.
    pub fn close(&mut self, now_ns: u64, out: &mut Vec<VenueOutput>) {
        let ts = self.tick(now_ns);
        for code in [
            system_event::END_OF_MARKET_HOURS,
            system_event::END_OF_SYSTEM_HOURS,
            system_event::END_OF_MESSAGES,
        ] {
            out.push(VenueOutput::Market(MarketEvent::SystemEvent { ts, code }));
        }
    }

    /// Halts (`true`) or resumes trading in `symbol`, publishing an ITCH
    /// trading action. While halted, new orders and replaces are refused;
    /// cancels work. False if the symbol is not listed.
    pub fn set_halted(
        &mut self,
        now_ns: u64,
        symbol: Symbol,
        halted: bool,
        out: &mut Vec<VenueOutput>,
    ) -> bool {
        let ts = self.tick(now_ns);
        let Some(i) = self.book_index(symbol) else {
            return false;
        };
        let b = &mut self.books[i];
        b.halted = halted;
        out.push(VenueOutput::Market(MarketEvent::TradingAction {
            ts,
            locate: b.locate,
            symbol,
            state: if halted { b'H' } else { b'T' },
        }));
        true
    }

    /// Processes one request of `session`. Requests of an unknown session are
    /// ignored.
    pub fn handle(
        &mut self,
        now_ns: u64,
        session: SessionId,
        req: &OrderRequest,
        out: &mut Vec<VenueOutput>,
    ) {
        let ts = self.tick(now_ns);
        let si = usize::from(session.0);
        if si >= self.sessions.len() {
            return;
        }
        match *req {
            OrderRequest::Enter {
                order,
                tag,
                side,
                qty,
                symbol,
                price,
                tif,
            } => self.enter(ts, session, order, tag, side, qty, symbol, price, tif, out),
            OrderRequest::Cancel {
                order,
                tag,
                remaining,
            } => self.cancel(ts, session, order, tag, remaining, out),
            OrderRequest::Replace {
                old,
                old_tag,
                new,
                new_tag,
                qty,
                price,
            } => self.replace(ts, session, old, old_tag, new, new_tag, qty, price, out),
            OrderRequest::AccountQuery => {
                let s = &self.sessions[si];
                if s.config.dialect == Dialect::Ouch50 {
                    out.push(VenueOutput::Report {
                        session,
                        event: OrderEvent::AccountQueryResponse {
                            ts,
                            next_order: OrderRef(s.last_ref.saturating_add(1)),
                        },
                    });
                }
            }
        }
    }

    /// The session's connection dropped: with cancel-on-disconnect on, every
    /// live order of the session is canceled (reason `Z`; reports queued for
    /// the session, market events published), in order-number order. Returns
    /// the number of orders canceled.
    pub fn on_disconnect(
        &mut self,
        now_ns: u64,
        session: SessionId,
        out: &mut Vec<VenueOutput>,
    ) -> usize {
        let ts = self.tick(now_ns);
        let Some(s) = self.sessions.get_mut(usize::from(session.0)) else {
            return 0;
        };
        if !s.config.cancel_on_disconnect {
            return 0;
        }
        let live = core::mem::take(&mut s.live);
        let n = live.len();
        for (_, slot) in live {
            let o = self.orders[slot as usize];
            self.unlink(slot);
            self.push_market_delete(ts, &o, out);
            if let Owner::Session { key, tag, .. } = o.owner {
                out.push(VenueOutput::Report {
                    session,
                    event: OrderEvent::Canceled {
                        ts,
                        order: key.order,
                        decrement: Qty(o.open),
                        reason: CANCEL_SYSTEM,
                    },
                });
                self.audit(
                    ts,
                    AuditKind::Canceled,
                    session,
                    key.order,
                    tag,
                    &o,
                    o.open,
                    o.price,
                    None,
                    out,
                );
            }
            self.release(slot);
        }
        n
    }

    /// Enters an order of the synthetic flow. Returns a handle if the order
    /// (or its rest) is now on the book, `Ok(None)` if it traded in full or
    /// was an IOC, the refusal otherwise.
    pub fn submit_flow(
        &mut self,
        now_ns: u64,
        order: &FlowOrder,
        out: &mut Vec<VenueOutput>,
    ) -> Result<Option<FlowHandle>, Refusal> {
        let ts = self.tick(now_ns);
        let bi = match self.validate(order.symbol, order.qty, order.price) {
            Ok(bi) => bi,
            Err(r) => {
                self.stats.refused += 1;
                return Err(r);
            }
        };
        self.stats.accepted += 1;
        let venue_ref = self.mint_venue_ref();
        let rest = self.match_incoming(
            ts,
            bi,
            order.side,
            order.price,
            order.qty.0,
            Incoming::Flow,
            out,
        );
        if rest == 0 || order.tif == TimeInForce::Ioc {
            return Ok(None);
        }
        let slot = self.rest(
            ts,
            bi,
            venue_ref,
            order.side,
            order.price,
            rest,
            order.display,
            Owner::Flow,
            order.attribution,
            out,
        );
        Ok(Some(FlowHandle {
            slot,
            generation: self.orders[slot as usize].generation,
        }))
    }

    /// Cancels (`remaining` = 0) or reduces a resting flow order to
    /// `remaining` open shares. False if the handle is stale or `remaining`
    /// would not reduce the order.
    pub fn cancel_flow(
        &mut self,
        now_ns: u64,
        handle: FlowHandle,
        remaining: Qty,
        out: &mut Vec<VenueOutput>,
    ) -> bool {
        let ts = self.tick(now_ns);
        if self.flow_slot(handle).is_none() {
            return false;
        }
        self.reduce(ts, handle.slot, remaining.0, out).is_some()
    }

    /// The resting flow order behind `handle`, if it is still on the book.
    pub fn flow_order(&self, handle: FlowHandle) -> Option<RestingOrder> {
        self.flow_slot(handle).map(|o| self.resting(o))
    }

    /// Best displayed bid and offer of `symbol` (`None` if not listed). The
    /// quote's `exch_ts` is the venue time of the book's last change, and so
    /// is `rx_ts` (there is no receive at the venue).
    pub fn quote(&self, symbol: Symbol) -> Option<Quote> {
        let b = &self.books[self.book_index(symbol)?];
        Some(Quote {
            symbol,
            bid: b.best_displayed(Side::Buy),
            ask: b.best_displayed(Side::Sell),
            exch_ts: b.last_change,
            rx_ts: Nanos(b.last_change),
        })
    }

    /// Up to `max_levels` displayed levels of one side of `symbol`, best
    /// first, appended to `out`. False if not listed.
    pub fn depth_into(
        &self,
        symbol: Symbol,
        side: Side,
        max_levels: usize,
        out: &mut Vec<Level>,
    ) -> bool {
        let Some(bi) = self.book_index(symbol) else {
            return false;
        };
        out.extend(
            self.books[bi]
                .levels(side)
                .filter(|(_, l)| l.displayed > 0)
                .take(max_levels)
                .map(|(p, l)| Level {
                    price: *p,
                    qty: Qty(u32::try_from(l.displayed).unwrap_or(u32::MAX)),
                }),
        );
        true
    }

    /// Up to `max_levels` displayed levels of one side of `symbol`, best
    /// first (empty if not listed).
    pub fn depth(&self, symbol: Symbol, side: Side, max_levels: usize) -> Vec<Level> {
        let mut v = Vec::new();
        self.depth_into(symbol, side, max_levels, &mut v);
        v
    }

    /// Every resting order of one side of `symbol` (displayed or not), in
    /// priority order: best price first, then arrival.
    pub fn resting_orders(&self, symbol: Symbol, side: Side) -> Vec<RestingOrder> {
        let Some(bi) = self.book_index(symbol) else {
            return Vec::new();
        };
        let mut v = Vec::new();
        for (_, l) in self.books[bi].levels(side) {
            let mut s = l.head;
            while s != NIL {
                let o = &self.orders[s as usize];
                v.push(self.resting(o));
                s = o.next;
            }
        }
        v
    }

    /// Best price on each side counting non-displayed orders too; the book is
    /// crossed at rest iff bid ≥ ask, which the matching rules never leave.
    pub fn best_prices(&self, symbol: Symbol) -> Option<(Option<Price4>, Option<Price4>)> {
        let b = &self.books[self.book_index(symbol)?];
        Some((b.best(Side::Buy), b.best(Side::Sell)))
    }

    /// The session's live orders in order-number order.
    pub fn live_orders(&self, session: SessionId) -> impl Iterator<Item = LiveOrder> + '_ {
        self.sessions
            .get(usize::from(session.0))
            .into_iter()
            .flat_map(|s| s.live.values())
            .filter_map(move |&slot| {
                let o = &self.orders[slot as usize];
                match o.owner {
                    Owner::Session {
                        key,
                        tag,
                        chain_executed,
                        ..
                    } => Some(LiveOrder {
                        order: key.order,
                        tag,
                        resting: self.resting(o),
                        chain_executed: Qty(chain_executed),
                    }),
                    Owner::Flow => None,
                }
            })
    }

    /// Shares executed on the session's order `order` (this order only, not
    /// its replace chain; in OUCH 4.2 sessions summed over every token with
    /// that number).
    pub fn executed(&self, session: SessionId, order: OrderRef) -> Qty {
        let Some(s) = self.sessions.get(usize::from(session.0)) else {
            return Qty::ZERO;
        };
        let lo = Key {
            order,
            tag: ChildTag {
                parent: 0,
                child: 0,
            },
        };
        let hi = Key {
            order,
            tag: ChildTag {
                parent: u32::MAX,
                child: u32::MAX,
            },
        };
        Qty(s
            .executed
            .range(lo..=hi)
            .map(|(_, &q)| q)
            .fold(0u32, u32::saturating_add))
    }

    /// The OUCH 5.0 session's next acceptable UserRefNum (what an Account
    /// Query answers); for OUCH 4.2 sessions, 1 + the highest number used.
    pub fn next_order_ref(&self, session: SessionId) -> Option<OrderRef> {
        let s = self.sessions.get(usize::from(session.0))?;
        Some(OrderRef(match s.config.dialect {
            Dialect::Ouch50 => s.last_ref.saturating_add(1),
            Dialect::Ouch42 => s
                .used
                .iter()
                .map(|k| k.order.0)
                .max()
                .unwrap_or(0)
                .saturating_add(1),
        }))
    }

    /// Resting orders in all books.
    pub fn resting_count(&self) -> usize {
        self.orders.len() - self.free.len()
    }

    // ---------------------------------------------------------------------

    fn tick(&mut self, now_ns: u64) -> u64 {
        self.clock_ns = self.clock_ns.max(now_ns);
        self.clock_ns
    }

    fn book_index(&self, symbol: Symbol) -> Option<usize> {
        self.by_symbol.get(&symbol).map(|&i| usize::from(i))
    }

    fn mint_venue_ref(&mut self) -> u64 {
        let r = self.next_venue_ref;
        self.next_venue_ref += 1;
        r
    }

    fn validate(&self, symbol: Symbol, qty: Qty, price: Price4) -> Result<usize, Refusal> {
        let bi = self.book_index(symbol).ok_or(Refusal::UnknownSymbol)?;
        if qty.0 == 0 {
            return Err(Refusal::ZeroShares);
        }
        if qty.0 > MAX_SHARES {
            return Err(Refusal::TooManyShares);
        }
        if price.0 == 0 || price > MAX_PRICE {
            return Err(Refusal::InvalidPrice);
        }
        if self.books[bi].halted {
            return Err(Refusal::Halted);
        }
        Ok(bi)
    }

    fn flow_slot(&self, h: FlowHandle) -> Option<&Order> {
        let o = self.orders.get(h.slot as usize)?;
        (o.in_use && o.generation == h.generation && matches!(o.owner, Owner::Flow)).then_some(o)
    }

    fn resting(&self, o: &Order) -> RestingOrder {
        RestingOrder {
            order_ref: o.venue_ref,
            symbol: self.books[usize::from(o.book)].symbol,
            side: o.side,
            price: o.price,
            open: Qty(o.open),
            display: o.display,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn audit(
        &self,
        ts: u64,
        kind: AuditKind,
        session: SessionId,
        order: OrderRef,
        tag: ChildTag,
        o: &Order,
        qty: u32,
        price: Price4,
        reason: Option<&'static str>,
        out: &mut Vec<VenueOutput>,
    ) {
        let symbol = self.books[usize::from(o.book)].symbol;
        self.audit_raw(
            ts, kind, session, order, tag, symbol, o.side, qty, price, reason, out,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn audit_raw(
        &self,
        ts: u64,
        kind: AuditKind,
        session: SessionId,
        order: OrderRef,
        tag: ChildTag,
        symbol: Symbol,
        side: Side,
        qty: u32,
        price: Price4,
        reason: Option<&'static str>,
        out: &mut Vec<VenueOutput>,
    ) {
        let s = &self.sessions[usize::from(session.0)];
        out.push(VenueOutput::Audit(AuditEvent {
            ts_ns: ts,
            kind,
            session: s.config.name,
            dialect: s.config.dialect,
            order,
            tag,
            symbol,
            side,
            qty: Qty(qty),
            price,
            reason,
        }));
    }

    #[allow(clippy::too_many_arguments)]
    fn enter(
        &mut self,
        ts: u64,
        session: SessionId,
        order: OrderRef,
        tag: ChildTag,
        side: Side,
        qty: Qty,
        symbol: Symbol,
        price: Price4,
        tif: TimeInForce,
        out: &mut Vec<VenueOutput>,
    ) {
        let si = usize::from(session.0);
        let key = self.sessions[si].key(order, tag);
        if let Err(why) = self.sessions[si].fresh(key) {
            self.stats.ignored += 1;
            self.audit_raw(
                ts,
                AuditKind::Refused,
                session,
                order,
                tag,
                symbol,
                side,
                qty.0,
                price,
                Some(why),
                out,
            );
            return;
        }
        self.sessions[si].consume(key);
        let dialect = self.sessions[si].config.dialect;
        let bi = match self.validate(symbol, qty, price) {
            Ok(bi) => bi,
            Err(r) => {
                self.stats.refused += 1;
                out.push(VenueOutput::Report {
                    session,
                    event: OrderEvent::Rejected {
                        ts,
                        order,
                        tag: Some(tag),
                        reason: r.code(dialect),
                    },
                });
                self.audit_raw(
                    ts,
                    AuditKind::Refused,
                    session,
                    order,
                    tag,
                    symbol,
                    side,
                    qty.0,
                    price,
                    Some(r.text()),
                    out,
                );
                return;
            }
        };
        self.stats.accepted += 1;
        let venue_ref = self.mint_venue_ref();
        out.push(VenueOutput::Report {
            session,
            event: OrderEvent::Accepted {
                ts,
                order,
                tag: Some(tag),
                side,
                qty,
                symbol,
                price,
                venue_order_ref: venue_ref,
                live: true,
            },
        });
        self.audit_raw(
            ts,
            AuditKind::Accepted,
            session,
            order,
            tag,
            symbol,
            side,
            qty.0,
            price,
            None,
            out,
        );
        let incoming = Incoming::Session { session, key, tag };
        let rest = self.match_incoming(ts, bi, side, price, qty.0, incoming, out);
        self.finish_incoming(
            ts,
            bi,
            session,
            key,
            tag,
            venue_ref,
            side,
            price,
            qty.0 - rest,
            rest,
            tif,
            out,
        );
    }

    /// After matching: an IOC's rest is canceled, a day order's rest joins
    /// the book. `chain_executed` is what the chain executed so far.
    #[allow(clippy::too_many_arguments)]
    fn finish_incoming(
        &mut self,
        ts: u64,
        bi: usize,
        session: SessionId,
        key: Key,
        tag: ChildTag,
        venue_ref: u64,
        side: Side,
        price: Price4,
        chain_executed: u32,
        rest: u32,
        tif: TimeInForce,
        out: &mut Vec<VenueOutput>,
    ) {
        if rest == 0 {
            return;
        }
        let symbol = self.books[bi].symbol;
        if tif == TimeInForce::Ioc {
            out.push(VenueOutput::Report {
                session,
                event: OrderEvent::Canceled {
                    ts,
                    order: key.order,
                    decrement: Qty(rest),
                    reason: CANCEL_IOC,
                },
            });
            self.audit_raw(
                ts,
                AuditKind::Canceled,
                session,
                key.order,
                tag,
                symbol,
                side,
                rest,
                price,
                None,
                out,
            );
            return;
        }
        let attribution = self.sessions[usize::from(session.0)].config.attribution;
        let owner = Owner::Session {
            session,
            key,
            tag,
            chain_executed,
        };
        let slot = self.rest(
            ts,
            bi,
            venue_ref,
            side,
            price,
            rest,
            true,
            owner,
            attribution,
            out,
        );
        self.sessions[usize::from(session.0)].live.insert(key, slot);
    }

    fn cancel(
        &mut self,
        ts: u64,
        session: SessionId,
        order: OrderRef,
        tag: ChildTag,
        remaining: Qty,
        out: &mut Vec<VenueOutput>,
    ) {
        let si = usize::from(session.0);
        let key = self.sessions[si].key(order, tag);
        let Some(&slot) = self.sessions[si].live.get(&key) else {
            return;
        };
        let Some((o, decrement)) = self.reduce(ts, slot, remaining.0, out) else {
            return;
        };
        if let Owner::Session { tag, .. } = o.owner {
            out.push(VenueOutput::Report {
                session,
                event: OrderEvent::Canceled {
                    ts,
                    order,
                    decrement: Qty(decrement),
                    reason: CANCEL_USER,
                },
            });
            self.audit(
                ts,
                AuditKind::Canceled,
                session,
                order,
                tag,
                &o,
                decrement,
                o.price,
                None,
                out,
            );
        }
    }

    /// Reduces the resting order in `slot` to `remaining` open shares (0
    /// removes it), publishing X or D. Returns the order as it was and the
    /// decrement, or `None` if `remaining` would not reduce it.
    fn reduce(
        &mut self,
        ts: u64,
        slot: u32,
        remaining: u32,
        out: &mut Vec<VenueOutput>,
    ) -> Option<(Order, u32)> {
        let o = self.orders[slot as usize];
        if remaining >= o.open {
            return None;
        }
        let decrement = o.open - remaining;
        if remaining == 0 {
            self.unlink(slot);
            self.push_market_delete(ts, &o, out);
            if let Owner::Session { session, key, .. } = o.owner {
                self.sessions[usize::from(session.0)].live.remove(&key);
            }
            self.release(slot);
        } else {
            self.orders[slot as usize].open = remaining;
            let b = &mut self.books[usize::from(o.book)];
            b.last_change = ts;
            if o.display {
                if let Some(l) = b.side_mut(o.side).get_mut(&o.price) {
                    l.displayed -= u64::from(decrement);
                }
                out.push(VenueOutput::Market(MarketEvent::Cancel {
                    ts,
                    locate: b.locate,
                    order_ref: o.venue_ref,
                    qty: Qty(decrement),
                }));
            }
        }
        Some((o, decrement))
    }

    #[allow(clippy::too_many_arguments)]
    fn replace(
        &mut self,
        ts: u64,
        session: SessionId,
        old: OrderRef,
        old_tag: ChildTag,
        new: OrderRef,
        new_tag: ChildTag,
        qty: Qty,
        price: Price4,
        out: &mut Vec<VenueOutput>,
    ) {
        let si = usize::from(session.0);
        let old_key = self.sessions[si].key(old, old_tag);
        let new_key = self.sessions[si].key(new, new_tag);
        let live = self.sessions[si].live.get(&old_key).copied();
        let Some(slot) = live else {
            // Like a cancel of a dead order: nothing to decide, nothing audited.
            self.stats.ignored += 1;
            return;
        };
        let o = self.orders[slot as usize];
        let symbol = self.books[usize::from(o.book)].symbol;
        if let Err(why) = self.sessions[si].fresh(new_key) {
            self.stats.ignored += 1;
            self.audit_raw(
                ts,
                AuditKind::Refused,
                session,
                new,
                new_tag,
                symbol,
                o.side,
                qty.0,
                price,
                Some(why),
                out,
            );
            return;
        }
        let Owner::Session {
            tag: orig_tag,
            chain_executed,
            ..
        } = o.owner
        else {
            return;
        };
        let refusal = if qty.0 > MAX_SHARES {
            Some(Refusal::TooManyShares)
        } else if price.0 == 0 || price > MAX_PRICE {
            Some(Refusal::InvalidPrice)
        } else if self.books[usize::from(o.book)].halted {
            Some(Refusal::Halted)
        } else {
            None
        };
        if let Some(r) = refusal {
            // An invalid replace cancels the live original; no number consumed.
            self.stats.refused += 1;
            self.audit_raw(
                ts,
                AuditKind::Refused,
                session,
                new,
                new_tag,
                symbol,
                o.side,
                qty.0,
                price,
                Some(r.text()),
                out,
            );
            self.unlink(slot);
            self.push_market_delete(ts, &o, out);
            self.sessions[si].live.remove(&old_key);
            self.release(slot);
            out.push(VenueOutput::Report {
                session,
                event: OrderEvent::Canceled {
                    ts,
                    order: old,
                    decrement: Qty(o.open),
                    reason: if r == Refusal::Halted {
                        CANCEL_HALTED
                    } else {
                        CANCEL_SYSTEM
                    },
                },
            });
            self.audit(
                ts,
                AuditKind::Canceled,
                session,
                old,
                orig_tag,
                &o,
                o.open,
                o.price,
                None,
                out,
            );
            return;
        }
        self.sessions[si].consume(new_key);
        self.stats.accepted += 1;
        let bi = usize::from(o.book);
        let new_open = qty.0.saturating_sub(chain_executed);
        let venue_ref = self.mint_venue_ref();
        // The original leaves the book and its session's live set.
        self.unlink(slot);
        self.sessions[si].live.remove(&old_key);
        self.release(slot);
        out.push(VenueOutput::Report {
            session,
            event: OrderEvent::Replaced {
                ts,
                old,
                order: new,
                tag: Some(new_tag),
                side: o.side,
                qty: Qty(new_open),
                symbol,
                price,
                venue_order_ref: venue_ref,
                live: new_open > 0,
            },
        });
        self.audit(
            ts,
            AuditKind::Canceled,
            session,
            old,
            orig_tag,
            &o,
            o.open,
            o.price,
            None,
            out,
        );
        self.audit(
            ts,
            AuditKind::Accepted,
            session,
            new,
            new_tag,
            &o,
            new_open,
            price,
            None,
            out,
        );
        let crosses = self.books[bi]
            .best(o.side.opposite())
            .is_some_and(|opp| o.side.at_least_as_aggressive(price, opp));
        if new_open == 0 || crosses {
            self.push_market_delete(ts, &o, out);
        }
        if new_open == 0 {
            return;
        }
        let incoming = Incoming::Session {
            session,
            key: new_key,
            tag: new_tag,
        };
        if crosses {
            let rest = self.match_incoming(ts, bi, o.side, price, new_open, incoming, out);
            let executed = chain_executed + (new_open - rest);
            self.finish_incoming(
                ts,
                bi,
                session,
                new_key,
                new_tag,
                venue_ref,
                o.side,
                price,
                executed,
                rest,
                TimeInForce::Day,
                out,
            );
        } else {
            let owner = Owner::Session {
                session,
                key: new_key,
                tag: new_tag,
                chain_executed,
            };
            // Session orders are always displayed: the book change is one U.
            let new_slot = self.link(ts, bi, venue_ref, o.side, price, new_open, true, owner);
            out.push(VenueOutput::Market(MarketEvent::Replace {
                ts,
                locate: self.books[bi].locate,
                old: o.venue_ref,
                new: venue_ref,
                qty: Qty(new_open),
                price,
            }));
            self.sessions[si].live.insert(new_key, new_slot);
        }
    }

    /// Matches an incoming order against the opposite side; returns the
    /// shares left.
    #[allow(clippy::too_many_arguments)]
    fn match_incoming(
        &mut self,
        ts: u64,
        bi: usize,
        side: Side,
        price: Price4,
        qty: u32,
        incoming: Incoming,
        out: &mut Vec<VenueOutput>,
    ) -> u32 {
        let mut remaining = qty;
        let contra = side.opposite();
        while remaining > 0 {
            let book = &mut self.books[bi];
            let Some(level_price) = book.best(contra) else {
                break;
            };
            if !side.at_least_as_aggressive(price, level_price) {
                break;
            }
            let locate = book.locate;
            let symbol = book.symbol;
            book.last_change = ts;
            let Some(level) = book.side_mut(contra).get_mut(&level_price) else {
                break;
            };
            let slot = level.head;
            let resting = &mut self.orders[slot as usize];
            let fill = remaining.min(resting.open);
            resting.open -= fill;
            if resting.display {
                level.displayed -= u64::from(fill);
            }
            if let Owner::Session { chain_executed, .. } = &mut resting.owner {
                *chain_executed += fill;
            }
            let r = *resting;
            remaining -= fill;
            let match_number = self.next_match;
            self.next_match += 1;
            self.stats.matches += 1;
            self.stats.shares_matched += u64::from(fill);
            out.push(VenueOutput::Market(if r.display {
                MarketEvent::Executed {
                    ts,
                    locate,
                    order_ref: r.venue_ref,
                    qty: Qty(fill),
                    match_number,
                }
            } else {
                MarketEvent::Trade {
                    ts,
                    locate,
                    side: contra,
                    qty: Qty(fill),
                    symbol,
                    price: level_price,
                    match_number,
                }
            }));
            if let Owner::Session {
                session, key, tag, ..
            } = r.owner
            {
                self.report_fill(
                    ts,
                    session,
                    key,
                    tag,
                    &r,
                    fill,
                    level_price,
                    LIQUIDITY_ADDED,
                    match_number,
                    out,
                );
            }
            if let Incoming::Session {
                session, key, tag, ..
            } = incoming
            {
                let me = Order { side, ..r };
                self.report_fill(
                    ts,
                    session,
                    key,
                    tag,
                    &me,
                    fill,
                    level_price,
                    LIQUIDITY_REMOVED,
                    match_number,
                    out,
                );
            }
            if r.open == 0 {
                self.unlink(slot);
                if let Owner::Session { session, key, .. } = r.owner {
                    self.sessions[usize::from(session.0)].live.remove(&key);
                }
                self.release(slot);
            }
        }
        remaining
    }

    #[allow(clippy::too_many_arguments)]
    fn report_fill(
        &mut self,
        ts: u64,
        session: SessionId,
        key: Key,
        tag: ChildTag,
        o: &Order,
        fill: u32,
        price: Price4,
        liquidity: u8,
        match_number: u64,
        out: &mut Vec<VenueOutput>,
    ) {
        let s = &mut self.sessions[usize::from(session.0)];
        let e = s.executed.entry(key).or_insert(0);
        *e = e.saturating_add(fill);
        out.push(VenueOutput::Report {
            session,
            event: OrderEvent::Executed {
                ts,
                order: key.order,
                qty: Qty(fill),
                price,
                liquidity,
                match_number,
            },
        });
        self.audit(
            ts,
            AuditKind::Executed,
            session,
            key.order,
            tag,
            o,
            fill,
            price,
            None,
            out,
        );
    }

    /// Puts a new order at the back of its level and publishes it.
    #[allow(clippy::too_many_arguments)]
    fn rest(
        &mut self,
        ts: u64,
        bi: usize,
        venue_ref: u64,
        side: Side,
        price: Price4,
        open: u32,
        display: bool,
        owner: Owner,
        attribution: Option<[u8; 4]>,
        out: &mut Vec<VenueOutput>,
    ) -> u32 {
        let slot = self.link(ts, bi, venue_ref, side, price, open, display, owner);
        if display {
            self.push_market_add(ts, bi, slot, attribution, out);
        }
        slot
    }

    fn push_market_add(
        &self,
        ts: u64,
        bi: usize,
        slot: u32,
        attribution: Option<[u8; 4]>,
        out: &mut Vec<VenueOutput>,
    ) {
        let o = &self.orders[slot as usize];
        let b = &self.books[bi];
        out.push(VenueOutput::Market(MarketEvent::AddOrder {
            ts,
            locate: b.locate,
            order_ref: o.venue_ref,
            side: o.side,
            qty: Qty(o.open),
            symbol: b.symbol,
            price: o.price,
            attribution,
        }));
    }

    fn push_market_delete(&self, ts: u64, o: &Order, out: &mut Vec<VenueOutput>) {
        if o.display {
            out.push(VenueOutput::Market(MarketEvent::Delete {
                ts,
                locate: self.books[usize::from(o.book)].locate,
                order_ref: o.venue_ref,
            }));
        }
    }

    /// Allocates a slot and links it at the tail of its level.
    #[allow(clippy::too_many_arguments)]
    fn link(
        &mut self,
        ts: u64,
        bi: usize,
        venue_ref: u64,
        side: Side,
        price: Price4,
        open: u32,
        display: bool,
        owner: Owner,
    ) -> u32 {
        let order = Order {
            venue_ref,
            book: bi as u16,
            side,
            price,
            open,
            display,
            owner,
            prev: NIL,
            next: NIL,
            generation: 0,
            in_use: true,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                let generation = self.orders[s as usize].generation.wrapping_add(1);
                self.orders[s as usize] = Order {
                    generation,
                    ..order
                };
                s
            }
            None => {
                self.orders.push(order);
                (self.orders.len() - 1) as u32
            }
        };
        let b = &mut self.books[bi];
        b.last_change = ts;
        let level = b.side_mut(side).entry(price).or_insert(LevelQueue {
            head: NIL,
            tail: NIL,
            displayed: 0,
        });
        if display {
            level.displayed += u64::from(open);
        }
        let tail = level.tail;
        level.tail = slot;
        if tail == NIL {
            level.head = slot;
        } else {
            self.orders[tail as usize].next = slot;
            self.orders[slot as usize].prev = tail;
        }
        slot
    }

    /// Unlinks a slot from its level (removing an emptied level); the slot
    /// stays allocated until [`Self::release`].
    fn unlink(&mut self, slot: u32) {
        let o = self.orders[slot as usize];
        let b = &mut self.books[usize::from(o.book)];
        let levels = b.side_mut(o.side);
        let Some(level) = levels.get_mut(&o.price) else {
            return;
        };
        if o.display {
            level.displayed -= u64::from(o.open);
        }
        if o.prev == NIL {
            level.head = o.next;
        } else {
            self.orders[o.prev as usize].next = o.next;
        }
        if o.next == NIL {
            level.tail = o.prev;
        } else {
            self.orders[o.next as usize].prev = o.prev;
        }
        if level.head == NIL {
            levels.remove(&o.price);
        }
        b.last_change = b.last_change.max(self.clock_ns);
    }

    fn release(&mut self, slot: u32) {
        let o = &mut self.orders[slot as usize];
        o.in_use = false;
        o.open = 0;
        o.prev = NIL;
        o.next = NIL;
        self.free.push(slot);
    }
}
