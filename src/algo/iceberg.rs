//! The iceberg parent: parameters, the state machine and its quantity
//! accounting.
//!
//! States: `NEW → WORKING ⇄ PAUSED → FILLED | CANCELLED | REJECTED` (plus
//! `NEW → PAUSED | CANCELLED | REJECTED` for a parent that never got its
//! first child out). `PARTIALLY_FILLED` is a *reported* status
//! ([`StatusCode`]): a WORKING parent with `0 < filled < total`. Every state
//! change goes through [`Iceberg::transition`], which refuses anything
//! outside [`ParentState::can_become`] with a typed [`IllegalTransition`].
//!
//! Quantities: `filled + remaining + live == total` and `filled ≤ total` at
//! every step, by construction: `remaining` is derived, `live` is what the
//! venue may still execute, and `total = max(requested total, filled + live)`
//! — an amend below `filled + live` lowers the requested total at once but the
//! effective total only as the live child is cut, so a late fill can never
//! take `filled` past `total`. Nothing here allocates or panics.

use crate::order::TimeInForce;
use crate::types::{Price4, Qty, Side, Symbol};

/// Longest refresh delay accepted, milliseconds (one day).
pub const MAX_DELAY_MS: u32 = 86_400_000;

/// One variance unit: parts per million.
pub const PPM: u32 = 1_000_000;

/// What a client asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IcebergParams {
    /// The stock.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// Total quantity to execute.
    pub total: Qty,
    /// Nominal size of each child.
    pub display: Qty,
    /// Slice variance `v` in parts per million, `0 ≤ v < 1_000_000`: each
    /// slice is drawn uniformly in `display × (1 ± v)`.
    pub variance_ppm: u32,
    /// No child is ever priced worse than this.
    pub limit: Price4,
    /// Shortest delay before a refresh, milliseconds.
    pub min_delay_ms: u32,
    /// Longest delay before a refresh, milliseconds.
    pub max_delay_ms: u32,
    /// Lifetime of each child at the venue.
    pub tif: TimeInForce,
    /// Join the best bid (buy) / best ask (sell), capped by the limit,
    /// instead of resting at the limit.
    pub peg: bool,
}

/// Why parameters are malformed (a 400, before any risk check).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[repr(u16)]
pub enum ParamError {
    /// Total quantity is zero.
    #[error("total quantity is zero")]
    ZeroTotal = 1,
    /// Display quantity is zero.
    #[error("display quantity is zero")]
    ZeroDisplay = 2,
    /// Variance is 100 % or more.
    #[error("variance must be below 100 %")]
    VarianceOutOfRange = 3,
    /// `min_delay_ms > max_delay_ms` or a delay above a day.
    #[error("delays must satisfy min ≤ max ≤ one day")]
    DelayRange = 4,
    /// Price limit zero or above the largest wire price.
    #[error("price limit out of range")]
    LimitOutOfRange = 5,
    /// A quantity is not a whole number of lots.
    #[error("quantity is not a multiple of the lot size")]
    NotLotMultiple = 6,
    /// The price limit is not a whole number of ticks.
    #[error("price is not a multiple of the tick size")]
    NotTickMultiple = 7,
}

impl ParamError {
    /// Every error, in code order.
    pub const ALL: [ParamError; 7] = [
        ParamError::ZeroTotal,
        ParamError::ZeroDisplay,
        ParamError::VarianceOutOfRange,
        ParamError::DelayRange,
        ParamError::LimitOutOfRange,
        ParamError::NotLotMultiple,
        ParamError::NotTickMultiple,
    ];

    /// Stable numeric code.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The error with this code.
    pub fn from_code(code: u16) -> Option<ParamError> {
        ParamError::ALL.iter().copied().find(|e| e.code() == code)
    }
}

impl IcebergParams {
    /// Checks the parameters against the lot and tick sizes.
    pub fn validate(&self, lot: u32, tick: u32) -> Result<(), ParamError> {
        let (lot, tick) = (lot.max(1), tick.max(1));
        if self.total.is_zero() {
            return Err(ParamError::ZeroTotal);
        }
        if self.display.is_zero() {
            return Err(ParamError::ZeroDisplay);
        }
        if self.variance_ppm >= PPM {
            return Err(ParamError::VarianceOutOfRange);
        }
        if self.min_delay_ms > self.max_delay_ms || self.max_delay_ms > MAX_DELAY_MS {
            return Err(ParamError::DelayRange);
        }
        check_limit(self.limit, tick)?;
        if !self.total.0.is_multiple_of(lot) || !self.display.0.is_multiple_of(lot) {
            return Err(ParamError::NotLotMultiple);
        }
        Ok(())
    }
}

/// Checks a price limit: `1 ..= Price4::MAX` and a whole number of ticks.
pub fn check_limit(limit: Price4, tick: u32) -> Result<(), ParamError> {
    if limit.0 == 0 || limit > Price4::MAX {
        return Err(ParamError::LimitOutOfRange);
    }
    if !limit.0.is_multiple_of(tick.max(1)) {
        return Err(ParamError::NotTickMultiple);
    }
    Ok(())
}

/// The parent's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ParentState {
    /// Accepted; no child released yet.
    New = 0,
    /// Releasing slices.
    Working = 1,
    /// Paused by the client: no live child once the cancel lands.
    Paused = 2,
    /// Filled in full (terminal).
    Filled = 3,
    /// Cancelled, confirmed by the venue (terminal).
    Cancelled = 4,
    /// Rejected by the venue or halted by the engine (terminal).
    Rejected = 5,
}

/// An attempted transition outside the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("illegal transition {from:?} -> {to:?}")]
pub struct IllegalTransition {
    /// The state the parent is in.
    pub from: ParentState,
    /// The state asked for.
    pub to: ParentState,
}

impl ParentState {
    /// True for FILLED, CANCELLED and REJECTED.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            ParentState::Filled | ParentState::Cancelled | ParentState::Rejected
        )
    }

    /// The legal transitions (a state never "transitions" to itself).
    pub const fn can_become(self, to: ParentState) -> bool {
        use ParentState::*;
        matches!(
            (self, to),
            (New, Working | Paused | Cancelled | Rejected)
                | (Working, Paused | Filled | Cancelled | Rejected)
                | (Paused, Working | Filled | Cancelled | Rejected)
        )
    }

    /// The state with this byte.
    pub fn from_u8(b: u8) -> Option<ParentState> {
        use ParentState::*;
        [New, Working, Paused, Filled, Cancelled, Rejected]
            .into_iter()
            .find(|s| *s as u8 == b)
    }
}

/// The status a client sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum StatusCode {
    /// Accepted, no child released yet.
    New = 0,
    /// Working, nothing filled yet.
    Working = 1,
    /// Working, `0 < filled < total`.
    PartiallyFilled = 2,
    /// Paused (whatever is filled).
    Paused = 3,
    /// Filled.
    Filled = 4,
    /// Cancelled.
    Cancelled = 5,
    /// Rejected.
    Rejected = 6,
}

impl StatusCode {
    /// The REST name: `NEW`, `WORKING`, `PARTIALLY_FILLED`, `PAUSED`,
    /// `FILLED`, `CANCELLED`, `REJECTED`.
    pub const fn name(self) -> &'static str {
        match self {
            StatusCode::New => "NEW",
            StatusCode::Working => "WORKING",
            StatusCode::PartiallyFilled => "PARTIALLY_FILLED",
            StatusCode::Paused => "PAUSED",
            StatusCode::Filled => "FILLED",
            StatusCode::Cancelled => "CANCELLED",
            StatusCode::Rejected => "REJECTED",
        }
    }

    /// The status with this byte.
    pub fn from_u8(b: u8) -> Option<StatusCode> {
        use StatusCode::*;
        [
            New,
            Working,
            PartiallyFilled,
            Paused,
            Filled,
            Cancelled,
            Rejected,
        ]
        .into_iter()
        .find(|s| *s as u8 == b)
    }
}

/// Why an amend was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AmendError {
    /// The new total is below what is already filled.
    #[error("new total is below the filled quantity")]
    BelowFilled,
    /// The parent is not NEW, WORKING or PAUSED, or is being cancelled.
    #[error("parent cannot be amended in state {0:?}")]
    NotAmendable(ParentState),
}

/// A parent's state and quantities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iceberg {
    /// Parameters; `params.total` is the requested total (after amends).
    pub params: IcebergParams,
    state: ParentState,
    total: Qty,
    filled: Qty,
    live: Qty,
    notional: u64,
    cancel_requested: bool,
}

impl Iceberg {
    /// A NEW parent.
    pub fn new(params: IcebergParams) -> Iceberg {
        Iceberg {
            params,
            state: ParentState::New,
            total: params.total,
            filled: Qty::ZERO,
            live: Qty::ZERO,
            notional: 0,
            cancel_requested: false,
        }
    }

    /// Rebuilds a parent from its parts (snapshot restore); `None` if the
    /// parts break an invariant.
    pub fn from_parts(
        params: IcebergParams,
        state: ParentState,
        filled: Qty,
        live: Qty,
        notional: u64,
        cancel_requested: bool,
    ) -> Option<Iceberg> {
        let mut i = Iceberg {
            params,
            state,
            total: params.total,
            filled,
            live,
            notional,
            cancel_requested,
        };
        u32::checked_add(filled.0, live.0)?;
        i.settle();
        Some(i)
    }

    /// The state.
    pub fn state(&self) -> ParentState {
        self.state
    }

    /// The reported status.
    pub fn status(&self) -> StatusCode {
        match self.state {
            ParentState::New => StatusCode::New,
            ParentState::Working if self.filled.is_zero() => StatusCode::Working,
            ParentState::Working => StatusCode::PartiallyFilled,
            ParentState::Paused => StatusCode::Paused,
            ParentState::Filled => StatusCode::Filled,
            ParentState::Cancelled => StatusCode::Cancelled,
            ParentState::Rejected => StatusCode::Rejected,
        }
    }

    /// The effective total: `max(requested, filled + live)`.
    pub fn total(&self) -> Qty {
        self.total
    }

    /// Filled shares.
    pub fn filled(&self) -> Qty {
        self.filled
    }

    /// Shares of the live child the venue may still execute.
    pub fn live(&self) -> Qty {
        self.live
    }

    /// Shares not yet released: `total − filled − live`.
    pub fn remaining(&self) -> Qty {
        Qty(self.total.0 - self.filled.0 - self.live.0)
    }

    /// Shares not yet filled: `total − filled`.
    pub fn leaves(&self) -> Qty {
        Qty(self.total.0 - self.filled.0)
    }

    /// Σ fill qty × fill price, in Price4 ticks (≤ 2³² × 2³¹, fits).
    pub fn notional(&self) -> u64 {
        self.notional
    }

    /// True once a cancel was requested.
    pub fn cancel_requested(&self) -> bool {
        self.cancel_requested
    }

    /// True when the live child must be cut because the requested total is
    /// below `filled + live`.
    pub fn over_committed(&self) -> bool {
        u64::from(self.params.total.0) < u64::from(self.filled.0) + u64::from(self.live.0)
    }

    /// True when `filled + remaining + live == total` and `filled ≤ total`.
    pub fn invariant_holds(&self) -> bool {
        u64::from(self.filled.0) + u64::from(self.live.0) <= u64::from(self.total.0)
            && self.total == self.params.total.max(Qty(self.filled.0 + self.live.0))
    }

    /// Moves to `to` if the state machine allows it.
    pub fn transition(&mut self, to: ParentState) -> Result<(), IllegalTransition> {
        if !self.state.can_become(to) {
            return Err(IllegalTransition {
                from: self.state,
                to,
            });
        }
        self.state = to;
        Ok(())
    }

    fn settle(&mut self) {
        let committed = self.filled.0.saturating_add(self.live.0);
        self.total = self.params.total.max(Qty(committed));
    }

    /// A child of `qty` shares was released: they move from remaining to
    /// live. Returns false (and changes nothing) if `qty` exceeds remaining.
    pub fn release(&mut self, qty: Qty) -> bool {
        if qty > self.remaining() {
            return false;
        }
        self.live = Qty(self.live.0 + qty.0);
        true
    }

    /// A fill of `qty` at `price` on the live child. Applies at most the live
    /// quantity and returns what was applied (the excess is an over-fill the
    /// caller counts). Completes the parent when `filled` reaches `total`.
    pub fn fill(&mut self, qty: Qty, price: Price4) -> Qty {
        let q = qty.min(self.live);
        self.live = Qty(self.live.0 - q.0);
        self.filled = Qty(self.filled.0 + q.0);
        self.notional = self
            .notional
            .saturating_add(u64::from(q.0) * u64::from(price.0));
        self.settle();
        q
    }

    /// `qty` live shares are gone without a fill (cancelled, expired, dead
    /// on arrival). Returns what was removed (at most the live quantity).
    pub fn unlive(&mut self, qty: Qty) -> Qty {
        let q = qty.min(self.live);
        self.live = Qty(self.live.0 - q.0);
        self.settle();
        q
    }

    /// The live child is gone (no live shares left). Moves to FILLED if
    /// everything is filled, else to CANCELLED if a cancel was requested;
    /// otherwise the state stays. Returns the new state.
    pub fn child_done(&mut self) -> ParentState {
        self.settle();
        if self.state.is_terminal() {
            return self.state;
        }
        if self.filled == self.total && self.live.is_zero() {
            let _ = self.transition(ParentState::Filled);
        } else if self.cancel_requested && self.live.is_zero() {
            let _ = self.transition(ParentState::Cancelled);
        }
        self.state
    }

    /// The client asked for a cancel: CANCELLED now if nothing is live.
    pub fn request_cancel(&mut self) -> ParentState {
        if !self.state.is_terminal() {
            self.cancel_requested = true;
            if self.live.is_zero() {
                let _ = self.transition(ParentState::Cancelled);
            }
        }
        self.state
    }

    /// The venue rejected the child, or the engine halted the parent: a
    /// parent being cancelled ends CANCELLED, any other REJECTED. Only legal
    /// with nothing live.
    pub fn reject(&mut self) -> Result<ParentState, IllegalTransition> {
        let to = if self.cancel_requested {
            ParentState::Cancelled
        } else {
            ParentState::Rejected
        };
        if !self.live.is_zero() {
            return Err(IllegalTransition {
                from: self.state,
                to,
            });
        }
        self.transition(to)?;
        Ok(to)
    }

    /// Checks an amend without applying it.
    pub fn check_amend(&self, total: Option<Qty>) -> Result<(), AmendError> {
        if self.state.is_terminal() || self.cancel_requested {
            return Err(AmendError::NotAmendable(self.state));
        }
        if let Some(t) = total {
            if t < self.filled {
                return Err(AmendError::BelowFilled);
            }
        }
        Ok(())
    }

    /// Amends the requested total and/or the limit (checked first). A total
    /// equal to `filled` with nothing live fills the parent.
    pub fn amend(&mut self, total: Option<Qty>, limit: Option<Price4>) -> Result<(), AmendError> {
        self.check_amend(total)?;
        if let Some(t) = total {
            self.params.total = t;
        }
        if let Some(l) = limit {
            self.params.limit = l;
        }
        self.settle();
        if self.filled == self.total && self.live.is_zero() {
            let _ = self.transition(ParentState::Filled);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> IcebergParams {
        IcebergParams {
            symbol: Symbol::new("AAPL").unwrap(),
            side: Side::Buy,
            total: Qty(1_000),
            display: Qty(100),
            variance_ppm: 200_000,
            limit: Price4(100_0000),
            min_delay_ms: 0,
            max_delay_ms: 10,
            tif: TimeInForce::Day,
            peg: false,
        }
    }

    #[test]
    fn only_legal_transitions_happen() {
        use ParentState::*;
        let all = [New, Working, Paused, Filled, Cancelled, Rejected];
        let legal = [
            (New, Working),
            (New, Paused),
            (New, Cancelled),
            (New, Rejected),
            (Working, Paused),
            (Working, Filled),
            (Working, Cancelled),
            (Working, Rejected),
            (Paused, Working),
            (Paused, Filled),
            (Paused, Cancelled),
            (Paused, Rejected),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{from:?}->{to:?}"
                );
            }
        }
        let mut i = Iceberg::new(params());
        i.transition(Working).unwrap();
        assert_eq!(
            i.transition(New),
            Err(IllegalTransition {
                from: Working,
                to: New
            })
        );
    }

    #[test]
    fn validation_names_the_problem() {
        assert_eq!(params().validate(1, 100), Ok(()));
        let p = IcebergParams {
            limit: Price4(100_0050),
            ..params()
        };
        assert_eq!(p.validate(1, 100), Err(ParamError::NotTickMultiple));
        assert_eq!(params().validate(300, 1), Err(ParamError::NotLotMultiple));
        let p = IcebergParams {
            variance_ppm: PPM,
            ..params()
        };
        assert_eq!(p.validate(1, 1), Err(ParamError::VarianceOutOfRange));
        let p = IcebergParams {
            min_delay_ms: 11,
            ..params()
        };
        assert_eq!(p.validate(1, 1), Err(ParamError::DelayRange));
        for e in ParamError::ALL {
            assert_eq!(ParamError::from_code(e.code()), Some(e));
        }
    }

    #[test]
    fn amend_below_filled_plus_live_keeps_the_invariant() {
        let mut i = Iceberg::new(params());
        i.transition(ParentState::Working).unwrap();
        assert!(i.release(Qty(100)));
        i.fill(Qty(40), Price4(100_0000));
        // 40 filled, 60 live: amend to 50 lowers the requested total only.
        i.amend(Some(Qty(50)), None).unwrap();
        assert_eq!(i.total(), Qty(100));
        assert!(i.over_committed());
        assert!(i.invariant_holds());
        // A late fill of the whole child still fits.
        assert_eq!(i.fill(Qty(60), Price4(99_0000)), Qty(60));
        assert_eq!(i.total(), Qty(100));
        assert_eq!(i.child_done(), ParentState::Filled);
        assert!(i.invariant_holds());
        assert_eq!(
            i.amend(Some(Qty(100)), None),
            Err(AmendError::NotAmendable(ParentState::Filled))
        );
    }

    #[test]
    fn cancel_finishes_when_the_child_is_gone() {
        let mut i = Iceberg::new(params());
        i.transition(ParentState::Working).unwrap();
        i.release(Qty(100));
        assert_eq!(i.request_cancel(), ParentState::Working);
        i.fill(Qty(10), Price4(1));
        i.unlive(Qty(90));
        assert_eq!(i.child_done(), ParentState::Cancelled);
        assert_eq!(i.filled(), Qty(10));
        assert_eq!(i.total(), Qty(1_000));
        assert_eq!(i.status(), StatusCode::Cancelled);
    }

    #[test]
    fn overfill_is_clamped() {
        let mut i = Iceberg::new(params());
        i.transition(ParentState::Working).unwrap();
        i.release(Qty(100));
        assert_eq!(i.fill(Qty(150), Price4(1)), Qty(100));
        assert!(!i.release(Qty(901)));
        assert!(i.invariant_holds());
        assert_eq!(i.status(), StatusCode::PartiallyFilled);
    }
}
