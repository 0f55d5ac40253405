//! Pre-trade risk, checked before every new parent and every child.
//!
//! Everything here is a pure function of its arguments or a small value type
//! ([`TokenBucket`], [`Exposure`]) whose state changes only when the engine
//! applies a journaled record, so recovery rebuilds it exactly. Every refusal
//! is a [`RiskRefusal`] with a stable numeric code that reaches the client.
//! Integer arithmetic only (widened to `u128` where a product could
//! overflow); nothing allocates or panics.
//!
//! What a parent does when its next child is refused is the engine's policy
//! (see `engine::core`): rate limit → a timer at the instant the next token is
//! due; collar, no reference price, position limit → wait for the next quote
//! of the symbol and try again; kill switch → the parent is being cancelled.

use crate::config::RiskConfig;
use crate::time::Nanos;
use crate::types::{Price4, Qty, Quote, Side};

/// Why risk refused a parent or a child. The discriminant is the stable code
/// used in journal records and replies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum RiskRefusal {
    /// The kill switch is on: nothing new until it is reset.
    KillSwitch = 1,
    /// A child (or the parent's display quantity) is above `max_child_qty`.
    MaxChildQty = 2,
    /// `total × limit` is above `max_parent_notional`.
    MaxParentNotional = 3,
    /// The child's price is outside `reference ± price_collar_percent`.
    PriceCollar = 4,
    /// No quote has been seen for the symbol yet, so the collar cannot be
    /// checked (a pegged child also needs its own side of the book).
    NoReferencePrice = 5,
    /// `max_live_parents` parents are already NEW, WORKING or PAUSED.
    MaxLiveParents = 6,
    /// The child would take the symbol's worst-case position (filled plus
    /// live, signed by side) beyond `position_limit`.
    PositionLimit = 7,
    /// The child-order token bucket is empty.
    RateLimited = 8,
}

impl RiskRefusal {
    /// Every refusal, in code order.
    pub const ALL: [RiskRefusal; 8] = [
        RiskRefusal::KillSwitch,
        RiskRefusal::MaxChildQty,
        RiskRefusal::MaxParentNotional,
        RiskRefusal::PriceCollar,
        RiskRefusal::NoReferencePrice,
        RiskRefusal::MaxLiveParents,
        RiskRefusal::PositionLimit,
        RiskRefusal::RateLimited,
    ];

    /// The stable numeric code.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The refusal with this code, if any.
    pub fn from_code(code: u16) -> Option<RiskRefusal> {
        RiskRefusal::ALL.iter().copied().find(|r| r.code() == code)
    }

    /// A stable machine-readable name (`SCREAMING_SNAKE_CASE`).
    pub const fn name(self) -> &'static str {
        match self {
            RiskRefusal::KillSwitch => "KILL_SWITCH",
            RiskRefusal::MaxChildQty => "MAX_CHILD_QTY",
            RiskRefusal::MaxParentNotional => "MAX_PARENT_NOTIONAL",
            RiskRefusal::PriceCollar => "PRICE_COLLAR",
            RiskRefusal::NoReferencePrice => "NO_REFERENCE_PRICE",
            RiskRefusal::MaxLiveParents => "MAX_LIVE_PARENTS",
            RiskRefusal::PositionLimit => "POSITION_LIMIT",
            RiskRefusal::RateLimited => "RATE_LIMITED",
        }
    }

    /// True for refusals that clear by themselves when the market moves (the
    /// parent retries on the next quote of its symbol).
    pub const fn waits_for_quote(self) -> bool {
        matches!(
            self,
            RiskRefusal::PriceCollar | RiskRefusal::NoReferencePrice | RiskRefusal::PositionLimit
        )
    }
}

impl core::fmt::Display for RiskRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The limits, copied from [`RiskConfig`] at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskLimits {
    /// Largest child, shares.
    pub max_child_qty: Qty,
    /// Largest parent notional, whole dollars.
    pub max_parent_notional: u64,
    /// Collar half-width, percent of the reference price.
    pub price_collar_percent: u32,
    /// Parents NEW, WORKING or PAUSED at once.
    pub max_live_parents: u32,
    /// Largest absolute worst-case position per symbol, shares.
    pub position_limit: u64,
    /// Child orders per second.
    pub child_orders_per_sec: u32,
    /// Token bucket burst.
    pub child_orders_burst: u32,
    /// Lot size, shares (≥ 1).
    pub lot_size: u32,
    /// Tick size, 1/10,000 dollar (≥ 1).
    pub tick_size: u32,
}

impl RiskLimits {
    /// The limits of a configuration (lot and tick clamped to at least 1).
    pub fn from_config(c: &RiskConfig) -> RiskLimits {
        RiskLimits {
            max_child_qty: Qty(c.max_child_qty),
            max_parent_notional: c.max_parent_notional,
            price_collar_percent: c.price_collar_percent,
            max_live_parents: c.max_live_parents,
            position_limit: c.position_limit,
            child_orders_per_sec: c.child_orders_per_sec.max(1),
            child_orders_burst: c.child_orders_burst.max(1),
            lot_size: c.lot_size.max(1),
            tick_size: c.tick_size.max(1),
        }
    }

    /// True when `total × limit` is within `max_parent_notional` dollars.
    pub fn notional_ok(&self, total: Qty, limit: Price4) -> bool {
        u128::from(total.0) * u128::from(limit.0)
            <= u128::from(self.max_parent_notional) * u128::from(Price4::SCALE)
    }

    /// True when `price` is within the collar around `reference`.
    pub fn collar_ok(&self, price: Price4, reference: Price4) -> bool {
        let diff = u64::from(price.0.abs_diff(reference.0));
        u128::from(diff) * 100 <= u128::from(reference.0) * u128::from(self.price_collar_percent)
    }
}

/// The reference price of a quote: the mid of best bid and ask, or the one
/// side present; `None` for an empty book.
pub fn reference_price(q: &Quote) -> Option<Price4> {
    match (q.bid, q.ask) {
        (Some(b), Some(a)) => Some(Price4(
            ((u64::from(b.price.0) + u64::from(a.price.0)) / 2) as u32,
        )),
        (Some(b), None) => Some(b.price),
        (None, Some(a)) => Some(a.price),
        (None, None) => None,
    }
}

/// A symbol's exposure: net filled shares (buys positive) and the shares of
/// live children on each side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exposure {
    /// Filled buys minus filled sells.
    pub net_filled: i64,
    /// Open shares of live buy children.
    pub live_buy: u64,
    /// Open shares of live sell children.
    pub live_sell: u64,
}

impl Exposure {
    /// True when adding a live child of `qty` on `side` keeps both
    /// worst-case positions (every live buy filled; every live sell filled)
    /// within `limit`.
    pub fn allows(&self, side: Side, qty: Qty, limit: u64) -> bool {
        let limit = i128::from(limit);
        let q = i128::from(qty.0);
        match side {
            Side::Buy => i128::from(self.net_filled) + i128::from(self.live_buy) + q <= limit,
            Side::Sell => i128::from(self.live_sell) + q - i128::from(self.net_filled) <= limit,
        }
    }

    /// A child of `qty` on `side` went live.
    pub fn add_live(&mut self, side: Side, qty: Qty) {
        match side {
            Side::Buy => self.live_buy = self.live_buy.saturating_add(u64::from(qty.0)),
            Side::Sell => self.live_sell = self.live_sell.saturating_add(u64::from(qty.0)),
        }
    }

    /// `qty` live shares on `side` are gone (cancelled or filled).
    pub fn remove_live(&mut self, side: Side, qty: Qty) {
        match side {
            Side::Buy => self.live_buy = self.live_buy.saturating_sub(u64::from(qty.0)),
            Side::Sell => self.live_sell = self.live_sell.saturating_sub(u64::from(qty.0)),
        }
    }

    /// `qty` shares filled on `side` (call [`Exposure::remove_live`] too).
    pub fn add_fill(&mut self, side: Side, qty: Qty) {
        let q = i64::from(qty.0);
        match side {
            Side::Buy => self.net_filled = self.net_filled.saturating_add(q),
            Side::Sell => self.net_filled = self.net_filled.saturating_sub(q),
        }
    }
}

/// One token, in token-nanoseconds.
const TOKEN: u128 = 1_000_000_000;

/// The child-order token bucket on engine time: `rate` tokens per second up
/// to `burst`, full at time zero. Tokens are kept in token-nanoseconds, so
/// refills are exact integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    /// Tokens × 10⁹.
    level: u128,
    /// Time of the last refill.
    last: Nanos,
    rate: u32,
    burst: u32,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate_per_sec: u32, burst: u32) -> TokenBucket {
        let (rate, burst) = (rate_per_sec.max(1), burst.max(1));
        TokenBucket {
            level: u128::from(burst) * TOKEN,
            last: Nanos::ZERO,
            rate,
            burst,
        }
    }

    /// Rebuilds a bucket from [`TokenBucket::parts`].
    pub fn from_parts(rate_per_sec: u32, burst: u32, level: u128, last: Nanos) -> TokenBucket {
        let mut b = TokenBucket::new(rate_per_sec, burst);
        b.level = level.min(b.cap());
        b.last = last;
        b
    }

    /// (level in token-nanoseconds, time of last refill), for snapshots.
    pub fn parts(&self) -> (u128, Nanos) {
        (self.level, self.last)
    }

    fn cap(&self) -> u128 {
        u128::from(self.burst) * TOKEN
    }

    fn level_at(&self, now: Nanos) -> u128 {
        let dt = u128::from(now.since(self.last).0);
        self.level
            .saturating_add(dt * u128::from(self.rate))
            .min(self.cap())
    }

    /// `Ok` when a token is available at `now`, else the instant the next
    /// one is due. Changes nothing.
    pub fn check(&self, now: Nanos) -> Result<(), Nanos> {
        let level = self.level_at(now);
        if level >= TOKEN {
            return Ok(());
        }
        let need = TOKEN - level;
        let rate = u128::from(self.rate);
        let wait = need.div_ceil(rate);
        Err(now + Nanos(u64::try_from(wait).unwrap_or(u64::MAX)))
    }

    /// Takes one token at `now` (refilling first). A take from an empty
    /// bucket saturates at zero: the caller checked first.
    pub fn take(&mut self, now: Nanos) {
        if now > self.last {
            self.level = self.level_at(now);
            self.last = now;
        }
        self.level = self.level.saturating_sub(TOKEN);
    }
}

/// What a child check needs to know about its market and its parent.
#[derive(Clone, Copy, Debug)]
pub struct ChildCheck {
    /// The child's side.
    pub side: Side,
    /// Shares the child adds to the live exposure (zero for a re-price).
    pub added_qty: Qty,
    /// The child's full size.
    pub qty: Qty,
    /// The child's price.
    pub price: Price4,
    /// The symbol's reference price, if any quote was seen.
    pub reference: Option<Price4>,
    /// The symbol's exposure before the child.
    pub exposure: Exposure,
}

/// Why a child was refused, plus the instant to retry for a rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildRefusal {
    /// The reason.
    pub reason: RiskRefusal,
    /// For [`RiskRefusal::RateLimited`], when the next token is due.
    pub retry_at: Option<Nanos>,
}

impl ChildRefusal {
    fn no_retry(reason: RiskRefusal) -> ChildRefusal {
        ChildRefusal {
            reason,
            retry_at: None,
        }
    }
}

/// Checks one child at `now`, in order: kill switch, size, reference and
/// collar, position, rate. Changes nothing: the engine takes the token when
/// it applies the child's intent record.
pub fn check_child(
    limits: &RiskLimits,
    kill_switch: bool,
    bucket: &TokenBucket,
    now: Nanos,
    c: &ChildCheck,
) -> Result<(), ChildRefusal> {
    if kill_switch {
        return Err(ChildRefusal::no_retry(RiskRefusal::KillSwitch));
    }
    if c.qty > limits.max_child_qty {
        return Err(ChildRefusal::no_retry(RiskRefusal::MaxChildQty));
    }
    let Some(reference) = c.reference else {
        return Err(ChildRefusal::no_retry(RiskRefusal::NoReferencePrice));
    };
    if !limits.collar_ok(c.price, reference) {
        return Err(ChildRefusal::no_retry(RiskRefusal::PriceCollar));
    }
    if !c.added_qty.is_zero()
        && !c
            .exposure
            .allows(c.side, c.added_qty, limits.position_limit)
    {
        return Err(ChildRefusal::no_retry(RiskRefusal::PositionLimit));
    }
    bucket.check(now).map_err(|due| ChildRefusal {
        reason: RiskRefusal::RateLimited,
        retry_at: Some(due),
    })
}

/// What a new-parent check needs.
#[derive(Clone, Copy, Debug)]
pub struct ParentCheck {
    /// Total quantity.
    pub total: Qty,
    /// Display quantity.
    pub display: Qty,
    /// Price limit.
    pub limit: Price4,
    /// Parents currently NEW, WORKING or PAUSED.
    pub live_parents: u32,
}

/// Checks a new parent, in order: kill switch, notional, display against
/// the child size limit, total against the position limit, live parents.
pub fn check_parent(
    limits: &RiskLimits,
    kill_switch: bool,
    p: &ParentCheck,
) -> Result<(), RiskRefusal> {
    if kill_switch {
        return Err(RiskRefusal::KillSwitch);
    }
    if !limits.notional_ok(p.total, p.limit) {
        return Err(RiskRefusal::MaxParentNotional);
    }
    if p.display > limits.max_child_qty {
        return Err(RiskRefusal::MaxChildQty);
    }
    if u64::from(p.total.0) > limits.position_limit {
        return Err(RiskRefusal::PositionLimit);
    }
    if p.live_parents >= limits.max_live_parents {
        return Err(RiskRefusal::MaxLiveParents);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Level, Symbol};

    fn limits() -> RiskLimits {
        RiskLimits::from_config(&RiskConfig::default())
    }

    #[test]
    fn codes_round_trip() {
        for r in RiskRefusal::ALL {
            assert_eq!(RiskRefusal::from_code(r.code()), Some(r));
        }
        assert_eq!(RiskRefusal::from_code(0), None);
        assert_eq!(RiskRefusal::from_code(99), None);
    }

    #[test]
    fn bucket_refills_on_engine_time_and_names_the_due_instant() {
        let mut b = TokenBucket::new(1_000, 2);
        let t = Nanos::from_secs(10);
        b.take(t);
        b.take(t);
        // Empty: the next token is due 1 ms later at 1,000/s.
        assert_eq!(b.check(t), Err(t + Nanos::from_ms(1)));
        assert_eq!(b.check(t + Nanos(999_999)), Err(t + Nanos::from_ms(1)));
        assert_eq!(b.check(t + Nanos::from_ms(1)), Ok(()));
        // Refill never exceeds the burst.
        let later = t + Nanos::from_secs(100);
        b.take(later);
        b.take(later);
        assert!(b.check(later).is_err());
    }

    #[test]
    fn collar_is_symmetric_and_inclusive() {
        let l = limits(); // 10 %
        let r = Price4(100_0000);
        assert!(l.collar_ok(Price4(110_0000), r));
        assert!(l.collar_ok(Price4(90_0000), r));
        assert!(!l.collar_ok(Price4(110_0001), r));
        assert!(!l.collar_ok(Price4(89_9999), r));
    }

    #[test]
    fn reference_is_the_mid_or_the_one_side() {
        let lvl = |p| {
            Some(Level {
                price: Price4(p),
                qty: Qty(1),
            })
        };
        let mut q = Quote {
            symbol: Symbol::new("AAPL").unwrap(),
            bid: lvl(100),
            ask: lvl(103),
            exch_ts: 0,
            rx_ts: Nanos::ZERO,
        };
        assert_eq!(reference_price(&q), Some(Price4(101)));
        q.ask = None;
        assert_eq!(reference_price(&q), Some(Price4(100)));
        q.bid = None;
        assert_eq!(reference_price(&q), None);
    }

    #[test]
    fn exposure_is_worst_case_and_signed() {
        let mut e = Exposure::default();
        e.add_fill(Side::Buy, Qty(600));
        e.add_live(Side::Buy, Qty(300));
        assert!(e.allows(Side::Buy, Qty(100), 1_000));
        assert!(!e.allows(Side::Buy, Qty(101), 1_000));
        // Selling reduces the long position: 600 long allows 1,600 of sells.
        assert!(e.allows(Side::Sell, Qty(1_600), 1_000));
        assert!(!e.allows(Side::Sell, Qty(1_601), 1_000));
    }

    #[test]
    fn child_checks_run_in_order() {
        let l = limits();
        let b = TokenBucket::new(1, 1);
        let c = ChildCheck {
            side: Side::Buy,
            added_qty: Qty(100),
            qty: Qty(100),
            price: Price4(100_0000),
            reference: None,
            exposure: Exposure::default(),
        };
        let now = Nanos::from_secs(1);
        assert_eq!(
            check_child(&l, true, &b, now, &c).unwrap_err().reason,
            RiskRefusal::KillSwitch
        );
        assert_eq!(
            check_child(&l, false, &b, now, &c).unwrap_err().reason,
            RiskRefusal::NoReferencePrice
        );
        let c = ChildCheck {
            reference: Some(Price4(200_0000)),
            ..c
        };
        assert_eq!(
            check_child(&l, false, &b, now, &c).unwrap_err().reason,
            RiskRefusal::PriceCollar
        );
        let c = ChildCheck {
            reference: Some(Price4(100_0000)),
            ..c
        };
        assert_eq!(check_child(&l, false, &b, now, &c), Ok(()));
        let mut b2 = b;
        b2.take(now);
        let r = check_child(&l, false, &b2, now, &c).unwrap_err();
        assert_eq!(r.reason, RiskRefusal::RateLimited);
        assert_eq!(r.retry_at, Some(now + Nanos::from_secs(1)));
    }

    #[test]
    fn parent_notional_is_in_dollars() {
        let l = RiskLimits {
            max_parent_notional: 1_000_000,
            ..limits()
        };
        let p = ParentCheck {
            total: Qty(10_000),
            display: Qty(100),
            limit: Price4(100_0000), // $100 × 10,000 = $1,000,000
            live_parents: 0,
        };
        assert_eq!(check_parent(&l, false, &p), Ok(()));
        let p = ParentCheck {
            limit: Price4(100_0001),
            ..p
        };
        assert_eq!(
            check_parent(&l, false, &p),
            Err(RiskRefusal::MaxParentNotional)
        );
    }
}
