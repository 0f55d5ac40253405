//! A seeded synthetic order flow: the other participants of the simulated
//! venue.
//!
//! [`Flow`] keeps a two-sided book around a random-walk mid per symbol and
//! sends marketable orders across the spread, so that a passive order resting
//! at or near the touch (an iceberg child) trades at a realistic pace. It is
//! sans-IO like the matching engine: [`Flow::poll`] submits every event due
//! by `now` into a [`MatchingEngine`], and [`Flow::next_due`] tells a
//! simulation when to call it next.
//!
//! Each event happens at its own due time (not at `now`), and the events are
//! drawn from one seeded PRNG (xoshiro256++), so the same seed, the same
//! configuration and the same sequence of `now`s (with the same session input
//! in between) give the same events, byte for byte.
//!
//! One event, on a symbol drawn uniformly:
//! 1. with probability [`FlowConfig::walk_share`] the mid moves by up to
//!    [`FlowConfig::walk_step_ticks`] ticks (reflected back towards its start
//!    outside ±[`FlowConfig::walk_band_ticks`]), and the flow withdraws its
//!    orders that the new mid leaves on the wrong side of the spread;
//! 2. then one action: a cancel of a resting flow order
//!    ([`FlowConfig::cancel_share`]), a marketable IOC at the opposite touch
//!    ([`FlowConfig::marketable_share`]; it takes whatever rests there,
//!    session orders included), or a passive day order at the touch or up to
//!    [`FlowConfig::depth_ticks`] behind it. An empty side is always refilled
//!    first, so the book stays two-sided.

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

use super::matching::{FlowHandle, FlowOrder, MatchingEngine, VenueOutput};
use crate::order::TimeInForce;
use crate::types::{Price4, Qty, Side, Symbol};

/// One symbol of the flow and where its mid starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowSymbol {
    /// Stock (must be listed by the engine).
    pub symbol: Symbol,
    /// Starting mid (rounded down to the tick).
    pub mid: Price4,
}

/// The flow's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowConfig {
    /// PRNG seed.
    pub seed: u64,
    /// Events per second over all symbols (at least 1).
    pub rate_per_sec: u32,
    /// Symbols and their starting mids.
    pub symbols: Vec<FlowSymbol>,
    /// Price increment.
    pub tick: Price4,
    /// Spread between the flow's best bid and best offer, in ticks (≥ 1).
    pub spread_ticks: u32,
    /// Passive orders are placed from the touch up to this many ticks behind it.
    pub depth_ticks: u32,
    /// Share of events that move the mid first.
    pub walk_share: f64,
    /// Largest move of the mid in one step, in ticks.
    pub walk_step_ticks: u32,
    /// The mid stays within this many ticks of its start (steps that would
    /// leave the band go the other way).
    pub walk_band_ticks: u32,
    /// Order sizes in shares are drawn uniformly in `size_min..=size_max`,
    /// then rounded down to a multiple of `lot` (at least one lot).
    pub size_min: u32,
    /// See `size_min`.
    pub size_max: u32,
    /// Round lot.
    pub lot: u32,
    /// Share of actions that are marketable (IOC at the opposite touch).
    pub marketable_share: f64,
    /// Share of actions that cancel a resting flow order.
    pub cancel_share: f64,
    /// Share of passive orders that are not displayed.
    pub hidden_share: f64,
    /// Resting flow orders per symbol above which a passive order first
    /// cancels the flow order furthest from the mid.
    pub max_resting_per_symbol: usize,
    /// Most events one [`Flow::poll`] submits (the rest stays due).
    pub max_events_per_poll: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            seed: 1,
            rate_per_sec: 1_000,
            symbols: Vec::new(),
            tick: Price4(100),
            spread_ticks: 1,
            depth_ticks: 5,
            walk_share: 0.05,
            walk_step_ticks: 1,
            walk_band_ticks: 20,
            size_min: 100,
            size_max: 500,
            lot: 100,
            marketable_share: 0.2,
            cancel_share: 0.2,
            hidden_share: 0.0,
            max_resting_per_symbol: 200,
            max_events_per_poll: 10_000,
        }
    }
}

/// `n` symbols named `SYM0000`, `SYM0001`, … (at most 10,000).
pub fn synthetic_symbols(n: usize) -> Vec<Symbol> {
    (0..n.min(10_000))
        .filter_map(|i| Symbol::new(&format!("SYM{i:04}")))
        .collect()
}

/// What the flow has done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    /// Events processed.
    pub events: u64,
    /// Passive orders submitted.
    pub passive: u64,
    /// Marketable orders submitted.
    pub marketable: u64,
    /// Cancels sent (including withdrawals after a mid move).
    pub cancels: u64,
    /// Mid moves.
    pub walks: u64,
    /// Orders the engine refused (unlisted or halted symbol).
    pub refused: u64,
}

struct SymbolState {
    symbol: Symbol,
    anchor: i64,
    /// The mid in ticks.
    mid: i64,
    resting: Vec<(FlowHandle, Side, u32)>,
}

/// The synthetic flow generator.
pub struct Flow {
    config: FlowConfig,
    rng: Xoshiro256PlusPlus,
    symbols: Vec<SymbolState>,
    next_due: u64,
    mean_gap_ns: u64,
    walk_ppm: u32,
    cancel_ppm: u32,
    marketable_ppm: u32,
    hidden_ppm: u32,
    stats: FlowStats,
}

fn ppm(share: f64) -> u32 {
    (share.clamp(0.0, 1.0) * 1_000_000.0) as u32
}

impl Flow {
    /// A flow whose first event is due shortly after `start_ns` (venue time,
    /// ns since midnight).
    pub fn new(config: FlowConfig, start_ns: u64) -> Flow {
        let tick = i64::from(config.tick.0.max(1));
        let symbols = config
            .symbols
            .iter()
            .map(|s| {
                let mid = i64::from(s.mid.0) / tick;
                SymbolState {
                    symbol: s.symbol,
                    anchor: mid,
                    mid,
                    resting: Vec::with_capacity(config.max_resting_per_symbol + 1),
                }
            })
            .collect();
        let mean_gap_ns = (1_000_000_000 / u64::from(config.rate_per_sec.max(1))).max(1);
        let mut flow = Flow {
            rng: Xoshiro256PlusPlus::seed_from_u64(config.seed),
            symbols,
            next_due: start_ns,
            mean_gap_ns,
            walk_ppm: ppm(config.walk_share),
            cancel_ppm: ppm(config.cancel_share),
            marketable_ppm: ppm(config.marketable_share),
            hidden_ppm: ppm(config.hidden_share),
            stats: FlowStats::default(),
            config,
        };
        flow.next_due = start_ns.saturating_add(flow.gap());
        flow
    }

    /// The configuration.
    pub fn config(&self) -> &FlowConfig {
        &self.config
    }

    /// What the flow has done so far.
    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    /// Venue time of the next event (`u64::MAX` if there are no symbols).
    pub fn next_due(&self) -> u64 {
        if self.symbols.is_empty() {
            u64::MAX
        } else {
            self.next_due
        }
    }

    /// The current mid of `symbol`, if the flow trades it.
    pub fn mid(&self, symbol: Symbol) -> Option<Price4> {
        let s = self.symbols.iter().find(|s| s.symbol == symbol)?;
        u32::try_from(s.mid * i64::from(self.config.tick.0.max(1)))
            .ok()
            .map(Price4)
    }

    /// Submits every event due by `now_ns` (up to
    /// [`FlowConfig::max_events_per_poll`]), each at its own due time, and
    /// returns how many were processed.
    pub fn poll(
        &mut self,
        now_ns: u64,
        engine: &mut MatchingEngine,
        out: &mut Vec<VenueOutput>,
    ) -> usize {
        if self.symbols.is_empty() {
            return 0;
        }
        let mut n = 0;
        while self.next_due <= now_ns && n < self.config.max_events_per_poll {
            let ts = self.next_due;
            self.event(ts, engine, out);
            n += 1;
            self.next_due = ts.saturating_add(self.gap());
        }
        n
    }

    /// Uniform in `1..=2·mean`: the configured rate on average.
    fn gap(&mut self) -> u64 {
        self.rng.random_range(1..=2 * self.mean_gap_ns)
    }

    fn chance(&mut self, ppm: u32) -> bool {
        ppm > 0 && self.rng.random_range(0..1_000_000u32) < ppm
    }

    fn size(&mut self) -> u32 {
        let lot = self.config.lot.max(1);
        let lo = self.config.size_min.max(1);
        let hi = self.config.size_max.max(lo);
        let raw = self.rng.random_range(lo..=hi);
        (raw / lot)
            .max(1)
            .saturating_mul(lot)
            .min(super::matching::MAX_SHARES)
    }

    fn price_of(&self, ticks: i64) -> Option<Price4> {
        let p = ticks.checked_mul(i64::from(self.config.tick.0.max(1)))?;
        u32::try_from(p).ok().filter(|&p| p > 0).map(Price4)
    }

    /// The flow's touch in ticks: (bid, ask) around the mid.
    fn touch(&self, i: usize) -> (i64, i64) {
        let spread = i64::from(self.config.spread_ticks.max(1));
        let bid = self.symbols[i].mid - spread / 2;
        (bid, bid + spread)
    }

    fn event(&mut self, ts: u64, engine: &mut MatchingEngine, out: &mut Vec<VenueOutput>) {
        self.stats.events += 1;
        let i = self.rng.random_range(0..self.symbols.len());
        if self.chance(self.walk_ppm) {
            self.walk(ts, i, engine, out);
        }
        let symbol = self.symbols[i].symbol;
        let Some(quote) = engine.quote(symbol) else {
            self.stats.refused += 1;
            return;
        };
        // An empty side is refilled before anything else.
        let empty = match (quote.bid, quote.ask) {
            (None, _) => Some(Side::Buy),
            (_, None) => Some(Side::Sell),
            _ => None,
        };
        if let Some(side) = empty {
            self.passive(ts, i, side, engine, out);
            return;
        }
        let r = self.rng.random_range(0..1_000_000u32);
        if r < self.cancel_ppm {
            if !self.cancel_random(ts, i, engine, out) {
                let side = self.random_side();
                self.passive(ts, i, side, engine, out);
            }
        } else if r < self.cancel_ppm.saturating_add(self.marketable_ppm) {
            let side = self.random_side();
            let touch = match side {
                Side::Buy => quote.ask,
                Side::Sell => quote.bid,
            };
            if let Some(level) = touch {
                let qty = self.size();
                self.stats.marketable += 1;
                let order = FlowOrder {
                    symbol,
                    side,
                    qty: Qty(qty),
                    price: level.price,
                    tif: TimeInForce::Ioc,
                    display: true,
                    attribution: None,
                };
                if engine.submit_flow(ts, &order, out).is_err() {
                    self.stats.refused += 1;
                }
            }
        } else {
            let side = self.random_side();
            self.passive(ts, i, side, engine, out);
        }
    }

    fn random_side(&mut self) -> Side {
        if self.rng.random_range(0..2u32) == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }

    fn walk(&mut self, ts: u64, i: usize, engine: &mut MatchingEngine, out: &mut Vec<VenueOutput>) {
        let step = i64::from(
            self.rng
                .random_range(1..=self.config.walk_step_ticks.max(1)),
        );
        let up = self.rng.random_range(0..2u32) == 0;
        let band = i64::from(self.config.walk_band_ticks);
        let s = &mut self.symbols[i];
        let mut mid = if up { s.mid + step } else { s.mid - step };
        if (mid - s.anchor).abs() > band {
            mid = if up { s.mid - step } else { s.mid + step };
        }
        s.mid = mid.max(1);
        self.stats.walks += 1;
        // Withdraw flow orders the new mid leaves through the other side.
        let (bid, ask) = self.touch(i);
        let tick = self.config.tick.0.max(1);
        let mut k = 0;
        while k < self.symbols[i].resting.len() {
            let (h, side, price) = self.symbols[i].resting[k];
            let ticks = i64::from(price / tick);
            let through = match side {
                Side::Buy => ticks >= ask,
                Side::Sell => ticks <= bid,
            };
            if engine.flow_order(h).is_none() {
                self.symbols[i].resting.swap_remove(k);
            } else if through {
                engine.cancel_flow(ts, h, Qty::ZERO, out);
                self.stats.cancels += 1;
                self.symbols[i].resting.swap_remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// Cancels a random live flow order of symbol `i`; false if it has none.
    fn cancel_random(
        &mut self,
        ts: u64,
        i: usize,
        engine: &mut MatchingEngine,
        out: &mut Vec<VenueOutput>,
    ) -> bool {
        while !self.symbols[i].resting.is_empty() {
            let k = self.rng.random_range(0..self.symbols[i].resting.len());
            let (h, _, _) = self.symbols[i].resting.swap_remove(k);
            if engine.cancel_flow(ts, h, Qty::ZERO, out) {
                self.stats.cancels += 1;
                return true;
            }
        }
        false
    }

    fn passive(
        &mut self,
        ts: u64,
        i: usize,
        side: Side,
        engine: &mut MatchingEngine,
        out: &mut Vec<VenueOutput>,
    ) {
        if self.symbols[i].resting.len() >= self.config.max_resting_per_symbol {
            self.cancel_furthest(ts, i, engine, out);
        }
        let (bid, ask) = self.touch(i);
        let behind = i64::from(self.rng.random_range(0..=self.config.depth_ticks));
        let ticks = match side {
            Side::Buy => bid - behind,
            Side::Sell => ask + behind,
        };
        let qty = self.size();
        let display = !self.chance(self.hidden_ppm);
        let Some(price) = self.price_of(ticks) else {
            return;
        };
        self.stats.passive += 1;
        let order = FlowOrder {
            symbol: self.symbols[i].symbol,
            side,
            qty: Qty(qty),
            price,
            tif: TimeInForce::Day,
            display,
            attribution: None,
        };
        match engine.submit_flow(ts, &order, out) {
            Ok(Some(h)) => self.symbols[i].resting.push((h, side, price.0)),
            Ok(None) => {}
            Err(_) => self.stats.refused += 1,
        }
    }

    fn cancel_furthest(
        &mut self,
        ts: u64,
        i: usize,
        engine: &mut MatchingEngine,
        out: &mut Vec<VenueOutput>,
    ) {
        let tick = self.config.tick.0.max(1);
        let mid = self.symbols[i].mid;
        self.symbols[i]
            .resting
            .retain(|&(h, _, _)| engine.flow_order(h).is_some());
        let furthest = self.symbols[i]
            .resting
            .iter()
            .enumerate()
            .max_by_key(|(_, &(_, _, p))| (i64::from(p / tick) - mid).abs())
            .map(|(k, _)| k);
        if let Some(k) = furthest {
            let (h, _, _) = self.symbols[i].resting.swap_remove(k);
            if engine.cancel_flow(ts, h, Qty::ZERO, out) {
                self.stats.cancels += 1;
            }
        }
    }
}
