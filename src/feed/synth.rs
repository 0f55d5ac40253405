//! Synthetic ITCH 5.0 trading days: a seeded, deterministic stream with the
//! shape of a NASDAQ day file, for tests, benchmarks and `floe gen-itch`.
//!
//! The day opens with `S O`, one `R` stock directory and one `H` trading
//! action per symbol, `S S` and `S Q`; then order flow on every symbol with a
//! random-walk mid price (busier symbols first, activity concentrated near
//! the top of each book, a book that never crosses); then `S M`, `S E`,
//! `S C`. The flow's mix follows a NASDAQ day's: mostly adds and deletes,
//! then replaces, executions, cancels, non-displayed trades, a few
//! imbalance, cross and attributed-add messages. Every reference an order
//! message names is live at that point, so an exact book sees no
//! unknown reference and no duplicate.
//!
//! Not for the hot path: the generator allocates (its own book model).

use crate::types::{Price4, Qty, Side, Symbol};
use crate::wire::itch::{
    emit_record, event_code, AddOrder, AddOrderMpid, CrossTrade, Header, Message, Noii,
    OrderCancel, OrderDelete, OrderExecuted, OrderExecutedWithPrice, OrderReplace, StockDirectory,
    SystemEvent, Trade, TradingAction, MAX_MESSAGE_LEN,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// Messages in the whole day, directory and system events included.
    pub messages: u64,
    /// Symbols (stock locates `1..=symbols`), at least 1, at most 65,534.
    pub symbols: u16,
    /// Seed: the same seed and sizes give the same bytes.
    pub seed: u64,
    /// Resting orders per symbol around which the flow settles.
    pub orders_per_symbol: usize,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            messages: 1_000_000,
            symbols: 8,
            seed: 1,
            orders_per_symbol: 2_000,
        }
    }
}

/// One cent in `Price4` ticks.
const TICK: u32 = 100;
/// 09:30:00 in nanoseconds since midnight.
const OPEN_NS: u64 = 34_200 * 1_000_000_000;
/// The regular session's length in nanoseconds.
const SESSION_NS: u64 = 23_400 * 1_000_000_000;

#[derive(Clone, Copy, Debug)]
struct Live {
    order_ref: u64,
    side: Side,
    price: u32,
    qty: u32,
}

#[derive(Debug)]
struct SymState {
    symbol: Symbol,
    mid: u32,
    live: Vec<Live>,
    /// price → resting orders, per side (to keep the book uncrossed).
    bids: BTreeMap<u32, u32>,
    asks: BTreeMap<u32, u32>,
}

impl SymState {
    fn levels(&mut self, side: Side) -> &mut BTreeMap<u32, u32> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn best_bid(&self) -> Option<u32> {
        self.bids.keys().next_back().copied()
    }

    fn best_ask(&self) -> Option<u32> {
        self.asks.keys().next().copied()
    }

    fn rest(&mut self, o: Live) {
        *self.levels(o.side).entry(o.price).or_insert(0) += 1;
        self.live.push(o);
    }

    /// Takes the order at `i` off the book model.
    fn unrest(&mut self, i: usize) -> Live {
        let o = self.live.swap_remove(i);
        let levels = self.levels(o.side);
        if let Some(n) = levels.get_mut(&o.price) {
            *n -= 1;
            if *n == 0 {
                levels.remove(&o.price);
            }
        }
        o
    }

    /// A price for a new order on `side` about `depth` ticks from the mid,
    /// never crossing the other side.
    fn price_for(&self, side: Side, depth: u32) -> u32 {
        let off = TICK * (depth + 1);
        match side {
            Side::Buy => {
                let mut p = self.mid.saturating_sub(off).max(TICK);
                if let Some(a) = self.best_ask() {
                    p = p.min(a.saturating_sub(TICK));
                }
                p.max(TICK)
            }
            Side::Sell => {
                let mut p = self.mid + off;
                if let Some(b) = self.best_bid() {
                    p = p.max(b + TICK);
                }
                p
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Prologue(u32),
    Flow,
    Epilogue(u32),
    Done,
}

/// The generator: an iterator of [`Message`]s.
pub struct SynthDay {
    cfg: SynthConfig,
    rng: Xoshiro256PlusPlus,
    syms: Vec<SymState>,
    phase: Phase,
    emitted: u64,
    next_ref: u64,
    next_match: u64,
    now: u64,
    step_ns: u64,
}

impl SynthDay {
    /// A day as `cfg` describes (symbols clamped to `1..=65_534`).
    pub fn new(cfg: SynthConfig) -> SynthDay {
        let symbols = cfg.symbols.clamp(1, u16::MAX - 1);
        let cfg = SynthConfig { symbols, ..cfg };
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
        let mut seen = HashSet::new();
        let mut syms = Vec::with_capacity(symbols as usize);
        while syms.len() < symbols as usize {
            let len = rng.random_range(1..=5usize);
            let mut s = [b' '; 8];
            for b in s.iter_mut().take(len) {
                *b = rng.random_range(b'A'..=b'Z');
            }
            if !seen.insert(s) {
                continue;
            }
            // $5 to $400, on a cent.
            let mid = rng.random_range(500u32..40_000) * TICK;
            syms.push(SymState {
                symbol: Symbol(s),
                mid,
                live: Vec::new(),
                bids: BTreeMap::new(),
                asks: BTreeMap::new(),
            });
        }
        let step_ns = (2 * SESSION_NS / cfg.messages.max(1)).max(1);
        SynthDay {
            cfg,
            rng,
            syms,
            phase: Phase::Prologue(0),
            emitted: 0,
            next_ref: 1,
            next_match: 1,
            now: 3 * 3_600 * 1_000_000_000,
            step_ns,
        }
    }

    /// The symbols of the day, by stock locate − 1.
    pub fn symbols(&self) -> Vec<Symbol> {
        self.syms.iter().map(|s| s.symbol).collect()
    }

    fn header(&mut self, locate: u16) -> Header {
        Header {
            locate,
            tracking: 0,
            timestamp: self.now,
        }
    }

    fn system(&mut self, code: u8) -> Message {
        Message::SystemEvent(SystemEvent {
            header: self.header(0),
            event_code: code,
        })
    }

    fn prologue(&mut self, i: u32) -> Option<Message> {
        let k = self.syms.len() as u32;
        let m = match i {
            0 => self.system(event_code::START_OF_MESSAGES),
            i if i <= k => {
                let s = self.syms[(i - 1) as usize].symbol;
                Message::StockDirectory(StockDirectory {
                    header: self.header(i as u16),
                    stock: s,
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
                })
            }
            i if i == k + 1 => {
                self.now = 4 * 3_600 * 1_000_000_000;
                self.system(event_code::START_OF_SYSTEM_HOURS)
            }
            i if i <= 2 * k + 1 => {
                let j = i - k - 2;
                let s = self.syms[j as usize].symbol;
                Message::TradingAction(TradingAction {
                    header: self.header((j + 1) as u16),
                    stock: s,
                    trading_state: b'T',
                    reserved: b' ',
                    reason: *b"    ",
                })
            }
            i if i == 2 * k + 2 => {
                self.now = OPEN_NS;
                self.system(event_code::START_OF_MARKET_HOURS)
            }
            _ => return None,
        };
        Some(m)
    }

    /// A symbol index, skewed so that low locates are much busier.
    fn pick_symbol(&mut self) -> usize {
        let u: f64 = self.rng.random();
        let n = self.syms.len();
        ((u * u * u) * n as f64).min((n - 1) as f64) as usize
    }

    /// An order of `s`, biased towards the top of its book: the closest to
    /// the mid of a few drawn at random.
    fn pick_near_top(&mut self, s: usize, tries: usize) -> usize {
        let len = self.syms[s].live.len();
        let mid = self.syms[s].mid;
        let mut best = self.rng.random_range(0..len);
        let dist = |o: &Live| o.price.abs_diff(mid);
        for _ in 1..tries {
            let i = self.rng.random_range(0..len);
            if dist(&self.syms[s].live[i]) < dist(&self.syms[s].live[best]) {
                best = i;
            }
        }
        best
    }

    fn shares(&mut self) -> u32 {
        match self.rng.random_range(0..100u32) {
            0..80 => 100 * self.rng.random_range(1..=5u32),
            80..95 => self.rng.random_range(1..100u32),
            _ => self.rng.random_range(100..5_000u32),
        }
    }

    fn depth(&mut self) -> u32 {
        // Geometric: most orders join within a few cents of the mid.
        let mut d = 0;
        while d < 200 && self.rng.random_bool(0.55) {
            d += 1;
        }
        d
    }

    fn flow(&mut self) -> Message {
        self.now += self.rng.random_range(0..=self.step_ns);
        let s = self.pick_symbol();
        let locate = (s + 1) as u16;
        if self.rng.random_bool(0.02) {
            let st = &mut self.syms[s];
            if self.rng.random_bool(0.5) {
                st.mid += TICK;
            } else if st.mid > 20 * TICK {
                st.mid -= TICK;
            }
        }
        let live = self.syms[s].live.len();
        let full = live >= self.cfg.orders_per_symbol;
        // Per-mille weights after NASDAQ's daily mix.
        let mut roll = self.rng.random_range(0..1_000u32);
        if live == 0 && roll >= 400 {
            roll = 0;
        }
        if full && roll < 400 {
            roll = 500;
        }
        let header = self.header(locate);
        match roll {
            0..400 => {
                let side = if self.rng.random_bool(0.5) {
                    Side::Buy
                } else {
                    Side::Sell
                };
                let d = self.depth();
                let price = self.syms[s].price_for(side, d);
                let qty = self.shares();
                let order_ref = self.next_ref;
                self.next_ref += 1;
                self.syms[s].rest(Live {
                    order_ref,
                    side,
                    price,
                    qty,
                });
                let stock = self.syms[s].symbol;
                if roll < 380 {
                    Message::AddOrder(AddOrder {
                        header,
                        order_ref,
                        side,
                        shares: Qty(qty),
                        stock,
                        price: Price4(price),
                    })
                } else {
                    Message::AddOrderMpid(AddOrderMpid {
                        header,
                        order_ref,
                        side,
                        shares: Qty(qty),
                        stock,
                        price: Price4(price),
                        attribution: *b"FLOE",
                    })
                }
            }
            400..740 => {
                let i = self.rng.random_range(0..live);
                let o = self.syms[s].unrest(i);
                Message::OrderDelete(OrderDelete {
                    header,
                    order_ref: o.order_ref,
                })
            }
            740..840 => {
                let i = self.pick_near_top(s, 2);
                let o = self.syms[s].unrest(i);
                let d = self.depth();
                let price = self.syms[s].price_for(o.side, d);
                let qty = self.shares();
                let new_ref = self.next_ref;
                self.next_ref += 1;
                self.syms[s].rest(Live {
                    order_ref: new_ref,
                    side: o.side,
                    price,
                    qty,
                });
                Message::OrderReplace(OrderReplace {
                    header,
                    original_order_ref: o.order_ref,
                    new_order_ref: new_ref,
                    shares: Qty(qty),
                    price: Price4(price),
                })
            }
            840..888 => {
                let i = self.pick_near_top(s, 4);
                let o = self.syms[s].live[i];
                let qty = if self.rng.random_bool(0.6) {
                    o.qty
                } else {
                    self.rng.random_range(1..=o.qty)
                };
                if qty == o.qty {
                    self.syms[s].unrest(i);
                } else {
                    self.syms[s].live[i].qty -= qty;
                }
                let match_number = self.next_match;
                self.next_match += 1;
                if roll < 885 {
                    Message::OrderExecuted(OrderExecuted {
                        header,
                        order_ref: o.order_ref,
                        executed_shares: Qty(qty),
                        match_number,
                    })
                } else {
                    Message::OrderExecutedWithPrice(OrderExecutedWithPrice {
                        header,
                        order_ref: o.order_ref,
                        executed_shares: Qty(qty),
                        match_number,
                        printable: b'Y',
                        execution_price: Price4(o.price),
                    })
                }
            }
            888..910 => {
                let i = self.rng.random_range(0..live);
                let o = self.syms[s].live[i];
                let qty = self.rng.random_range(1..=o.qty);
                if qty == o.qty {
                    self.syms[s].unrest(i);
                } else {
                    self.syms[s].live[i].qty -= qty;
                }
                Message::OrderCancel(OrderCancel {
                    header,
                    order_ref: o.order_ref,
                    canceled_shares: Qty(qty),
                })
            }
            910..980 => {
                let match_number = self.next_match;
                self.next_match += 1;
                let st = &self.syms[s];
                Message::Trade(Trade {
                    header,
                    order_ref: 0,
                    side: if self.rng.random_bool(0.5) {
                        Side::Buy
                    } else {
                        Side::Sell
                    },
                    shares: Qty(100),
                    stock: st.symbol,
                    price: Price4(st.mid),
                    match_number,
                })
            }
            980..995 => {
                let st = &self.syms[s];
                Message::Noii(Noii {
                    header,
                    paired_shares: 10_000,
                    imbalance_shares: 500,
                    imbalance_direction: b'B',
                    stock: st.symbol,
                    far_price: Price4(st.mid),
                    near_price: Price4(st.mid),
                    current_reference_price: Price4(st.mid),
                    cross_type: b'C',
                    price_variation_indicator: b'L',
                })
            }
            _ => {
                let match_number = self.next_match;
                self.next_match += 1;
                let st = &self.syms[s];
                Message::CrossTrade(CrossTrade {
                    header,
                    shares: 25_000,
                    stock: st.symbol,
                    cross_price: Price4(st.mid),
                    match_number,
                    cross_type: b'H',
                })
            }
        }
    }
}

impl Iterator for SynthDay {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        if self.emitted >= self.cfg.messages {
            return None;
        }
        let remaining = self.cfg.messages - self.emitted;
        let msg = loop {
            match self.phase {
                Phase::Prologue(i) => match self.prologue(i) {
                    Some(m) => {
                        self.phase = Phase::Prologue(i + 1);
                        break m;
                    }
                    None => self.phase = Phase::Flow,
                },
                Phase::Flow => {
                    if remaining <= 3 {
                        self.phase = Phase::Epilogue(0);
                        continue;
                    }
                    break self.flow();
                }
                Phase::Epilogue(i) => {
                    self.phase = if i < 2 {
                        Phase::Epilogue(i + 1)
                    } else {
                        Phase::Done
                    };
                    self.now = self.now.max(OPEN_NS + SESSION_NS) + u64::from(i);
                    let code = [
                        event_code::END_OF_MARKET_HOURS,
                        event_code::END_OF_SYSTEM_HOURS,
                        event_code::END_OF_MESSAGES,
                    ][i as usize];
                    break self.system(code);
                }
                Phase::Done => return None,
            }
        };
        self.emitted += 1;
        Some(msg)
    }
}

/// Writes `day` as a NASDAQ BinaryFILE (`u16` big-endian length + message,
/// repeated) to `out`; returns the bytes written.
pub fn write_binary_file<W: Write>(day: SynthDay, out: &mut W) -> io::Result<u64> {
    let mut buf = [0u8; 2 + MAX_MESSAGE_LEN];
    let mut total = 0u64;
    for msg in day {
        let n = emit_record(&msg, &mut buf).map_err(io::Error::other)?;
        out.write_all(&buf[..n])?;
        total += n as u64;
    }
    Ok(total)
}

/// The whole day as one in-memory BinaryFILE buffer.
pub fn binary_file(cfg: SynthConfig) -> Vec<u8> {
    let mut out = Vec::with_capacity(cfg.messages as usize * 32);
    // Writing to a Vec cannot fail.
    let _ = write_binary_file(SynthDay::new(cfg), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_day_and_exact_count() {
        let cfg = SynthConfig {
            messages: 20_000,
            symbols: 5,
            seed: 9,
            orders_per_symbol: 300,
        };
        let a: Vec<Message> = SynthDay::new(cfg).collect();
        let b: Vec<Message> = SynthDay::new(cfg).collect();
        assert_eq!(a.len(), 20_000);
        assert_eq!(a, b);
        assert_eq!(a[0].msg_type(), b'S');
        assert!(a[1..6].iter().all(|m| m.msg_type() == b'R'));
        assert_eq!(a.last().map(|m| m.msg_type()), Some(b'S'));
        let mut ts = 0;
        for m in &a {
            assert!(m.header().timestamp >= ts, "timestamps ascend");
            ts = m.header().timestamp;
        }
        let c: Vec<Message> = SynthDay::new(SynthConfig { seed: 10, ..cfg }).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn a_day_applies_cleanly_and_never_crosses() {
        use crate::book::Books;
        use crate::feed::itch::apply;
        use crate::time::Nanos;
        let cfg = SynthConfig {
            messages: 200_000,
            symbols: 6,
            seed: 3,
            orders_per_symbol: 500,
        };
        let mut books = Books::with_capacity(6, 1_000, 1_000, &[]).unwrap();
        let mut quotes = 0;
        for m in SynthDay::new(cfg) {
            if let Some(q) = apply(&mut books, &m, Nanos(0)) {
                quotes += 1;
                if let (Some(b), Some(a)) = (q.bid, q.ask) {
                    assert!(b.price < a.price, "crossed: {q:?}");
                }
            }
        }
        let c = &books.counters;
        assert_eq!(c.messages, 200_000);
        assert_eq!(
            (
                c.unknown_refs,
                c.duplicates,
                c.capacity_drops,
                c.unknown_locates
            ),
            (0, 0, 0, 0)
        );
        assert_eq!((c.exec_exceeds_open, c.cancel_exceeds_open), (0, 0));
        assert_eq!(books.len(), 6);
        for t in [b'A', b'D', b'U', b'E', b'X', b'P', b'F', b'C', b'I'] {
            assert!(c.by_type[t as usize] > 0, "no {}", t as char);
        }
        assert!(c.by_type[b'A' as usize] > c.by_type[b'U' as usize]);
        assert!(quotes > 10_000);
        // The books settle near the requested resting size.
        let busiest = books.iter().map(|(_, b)| b.order_count()).max().unwrap();
        assert!((300..=500).contains(&busiest), "{busiest}");
    }
}
