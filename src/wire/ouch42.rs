//! OUCH 4.2 (PROTOCOLS.md §4): every inbound (client → venue, carried in
//! SoupBinTCP `U`) and outbound (venue → client, in SoupBinTCP `S`) message.
//!
//! Each message is a zero-copy view (`EnterOrder<T>`, …; `new_checked`
//! validates the length, the type byte and the checked fields once, after
//! which no getter can panic) and an owned `Repr` (`EnterOrderRepr`, …) with
//! `parse`/`emit` into a caller's buffer. [`Inbound`] and [`Outbound`]
//! dispatch on the type byte. Offsets count from the type byte (offset 0).
//!
//! Only the Buy/Sell Indicator and the Order State are checked; display,
//! capacity, cross type, liquidity flag and the cancel/reject reasons are
//! open enumerations that keep the raw byte. Bytes after a message's fixed
//! layout are ignored. Nothing here allocates or panics on any input.
//!
//! Later-edition messages (OMI-X4): inbound and outbound Trade Now `N`,
//! Executed with Reference Price `G` and Trade Correction `F` are included.

use super::ouch::{message_set, open_enum, ouch_message};
use crate::types::{Price4, Symbol};

pub use super::ouch::{
    BboWeight, BrokenTradeReason, BuySell, Capacity, CustomerType, EventCode, IntermarketSweep,
    LiquidityFlag, OrderState, MARKET_PRICE,
};

/// An Order Token: 14 client-chosen bytes, day-unique per OUCH account.
pub type Token = [u8; 14];

/// Time in Force value: immediate or cancel.
pub const TIF_IOC: u32 = 0;
/// Time in Force value: until the end of market hours.
pub const TIF_MARKET_HOURS: u32 = 99_998;
/// Time in Force value: until the end of system hours.
pub const TIF_SYSTEM_HOURS: u32 = 99_999;

open_enum! {
    /// Display (OUCH 4.2; OMI-X4, WS).
    pub struct Display(u8) {
        ATTRIBUTABLE = b'A' => "attributable-price to display",
        ANONYMOUS = b'Y' => "anonymous-price to comply",
        NON_DISPLAY = b'N' => "non-display",
        POST_ONLY = b'P' => "post-only",
        IMBALANCE_ONLY = b'I' => "imbalance-only",
        MIDPOINT_PEG = b'M' => "mid-point peg",
        MIDPOINT_PEG_POST_ONLY = b'W' => "mid-point peg post only",
        POST_ONLY_ATTRIBUTABLE = b'L' => "post-only and attributable-price to display",
        RETAIL_TYPE_1 = b'O' => "retail order type 1",
        RETAIL_TYPE_2 = b'T' => "retail order type 2",
        RETAIL_PRICE_IMPROVEMENT = b'Q' => "retail price improvement order",
        MIDPOINT_TRADE_NOW = b'm' => "mid-point peg and mid-point trade now",
        NON_DISPLAY_MIDPOINT_TRADE_NOW = b'n' => "non-display and mid-point trade now",
        ROUND_LOT_ONLY = b'R' => "round-lot only (WS)",
    }
}

open_enum! {
    /// Cross Type (OUCH 4.2).
    pub struct CrossType(u8) {
        NO_CROSS = b'N' => "no cross (continuous market)",
        OPENING = b'O' => "opening cross",
        CLOSING = b'C' => "closing cross",
        HALT_IPO = b'H' => "halt/IPO cross",
        SUPPLEMENTAL = b'S' => "supplemental order",
        RETAIL = b'R' => "retail",
        EXTENDED_LIFE = b'E' => "extended life",
        INTRADAY = b'I' => "intraday cross (older editions)",
    }
}

open_enum! {
    /// Cancel reason on Canceled / AIQ Canceled (OUCH 4.2; OMI-X4, WS).
    pub struct CancelReason(u8) {
        USER = b'U' => "user requested cancel",
        IOC = b'I' => "immediate or cancel order",
        TIMEOUT = b'T' => "timeout",
        SUPERVISORY = b'S' => "supervisory",
        REGULATORY = b'D' => "regulatory restriction",
        SELF_MATCH = b'Q' => "self-match prevention",
        SYSTEM = b'Z' => "system cancel",
        CROSS_CANCELED = b'C' => "cross canceled",
        MARKET_COLLARS = b'K' => "market collars",
        HALTED = b'H' => "halted",
        OPEN_PROTECTION = b'X' => "open protection",
        CLOSED = b'E' => "closed",
        POST_ONLY_NMS = b'F' => "post-only cancel: would have been price slid for NMS",
        POST_ONLY_CONTRA = b'G' => "post-only cancel: would have been price slid by a contra-side displayed order",
    }
}

open_enum! {
    /// Reject reason on Rejected (OUCH 4.2; OMI-X4, WS), including the PRM
    /// risk rejects `a`–`n`.
    pub struct RejectReason(u8) {
        TEST_MODE = b'T' => "test mode",
        HALTED = b'H' => "halted",
        SAFETY_THRESHOLD = b'Z' => "shares exceed configured safety threshold",
        INVALID_STOCK = b'S' => "invalid stock",
        INVALID_DISPLAY = b'D' => "invalid display type",
        CLOSED = b'C' => "closed",
        FIRM_NOT_AUTHORIZED = b'L' => "requested firm not authorized for requested clearing type on this account",
        OUTSIDE_PERMITTED_TIMES = b'M' => "outside of permitted times for requested clearing type",
        NOT_ALLOWED_IN_CROSS = b'R' => "order not allowed in this type of cross",
        INVALID_PRICE = b'X' => "invalid price",
        INVALID_MIN_QTY = b'N' => "invalid minimum quantity",
        OTHER = b'O' => "other",
        INVALID_MIDPOINT_POST_ONLY_PRICE = b'W' => "invalid mid-point post only price",
        NO_NOII_REFERENCE_PRICE = b'o' => "no reference price in the first NOII dissemination",
        MIDPOINT_PEG_CROSSED_MARKET = b'q' => "midpoint peg orders are not accepted in a crossed market",
        LOC_TOO_AGGRESSIVE = b'u' => "LOC order priced more aggressively than the first NOII reference price",
        RISK_REJECT_ALL = b'a' => "risk: reject all enabled",
        RISK_EASY_TO_BORROW = b'b' => "risk: easy to borrow (ETB) reject",
        RISK_RESTRICTED_SYMBOL = b'c' => "risk: restricted symbol list reject",
        RISK_ISO = b'd' => "risk: ISO order restriction",
        RISK_ODD_LOT = b'e' => "risk: odd lot order restriction",
        RISK_MIDPOINT = b'f' => "risk: mid-point order restriction",
        RISK_PRE_MARKET = b'g' => "risk: pre-market order restriction",
        RISK_POST_MARKET = b'h' => "risk: post-market order restriction",
        RISK_SHORT_SALE = b'i' => "risk: short sale order restriction",
        RISK_ON_OPEN = b'j' => "risk: on open order restriction",
        RISK_ON_CLOSE = b'k' => "risk: on close order restriction",
        RISK_TWO_SIDED_QUOTE = b'l' => "risk: two sided quote reject",
        RISK_SHARES_LIMIT = b'm' => "risk: exceeded shares limit",
        RISK_DOLLAR_LIMIT = b'n' => "risk: exceeded dollar value limit",
    }
}

open_enum! {
    /// Reference Price Type on Executed with Reference Price.
    pub struct ReferencePriceType(u8) {
        INTRADAY_INDICATIVE_VALUE = b'I' => "intraday indicative value",
    }
}

open_enum! {
    /// Trade Correction reason.
    pub struct TradeCorrectionReason(u8) {
        ADJUSTED_TO_NAV = b'N' => "adjusted to NAV",
    }
}

// ---------------------------------------------------------------- inbound

ouch_message! {
    /// `O` Enter Order (49 bytes).
    view EnterOrder;
    repr EnterOrderRepr;
    type b'O', len 49;
    {
        /// Order Token: day-unique per account.
        token / set_token: Token [Token] = 1,
        /// Buy/Sell Indicator (checked: `B`, `S`, `T`, `E`).
        side / set_side: BuySell [BuySell] = 15,
        /// Shares, 1..999,999.
        shares / set_shares: u32 [u32] = 16,
        /// Stock symbol.
        stock / set_stock: Symbol [Symbol] = 20,
        /// Limit price (`p4`).
        price / set_price: Price4 [Price4] = 28,
        /// Time in Force: seconds, or [`TIF_IOC`], [`TIF_MARKET_HOURS`], [`TIF_SYSTEM_HOURS`].
        time_in_force / set_time_in_force: u32 [u32] = 32,
        /// Firm; blank = the account's default.
        firm / set_firm: [u8; 4] [[u8; 4]] = 36,
        /// Display.
        display / set_display: Display [Display] = 40,
        /// Capacity.
        capacity / set_capacity: Capacity [Capacity] = 41,
        /// Intermarket Sweep Eligibility.
        intermarket_sweep / set_intermarket_sweep: IntermarketSweep [IntermarketSweep] = 42,
        /// Minimum Quantity.
        min_qty / set_min_qty: u32 [u32] = 43,
        /// Cross Type.
        cross_type / set_cross_type: CrossType [CrossType] = 47,
        /// Customer Type.
        customer_type / set_customer_type: CustomerType [CustomerType] = 48,
    }
}

ouch_message! {
    /// `U` Replace Order (47 bytes).
    view ReplaceOrder;
    repr ReplaceOrderRepr;
    type b'U', len 47;
    {
        /// Existing Order Token: the live order (latest in its chain).
        existing_token / set_existing_token: Token [Token] = 1,
        /// Replacement Order Token: new, day-unique.
        replacement_token / set_replacement_token: Token [Token] = 15,
        /// Shares: total liable, including shares already executed.
        shares / set_shares: u32 [u32] = 29,
        /// Price (`p4`).
        price / set_price: Price4 [Price4] = 33,
        /// Time in Force.
        time_in_force / set_time_in_force: u32 [u32] = 37,
        /// Display.
        display / set_display: Display [Display] = 41,
        /// Intermarket Sweep Eligibility.
        intermarket_sweep / set_intermarket_sweep: IntermarketSweep [IntermarketSweep] = 42,
        /// Minimum Quantity.
        min_qty / set_min_qty: u32 [u32] = 43,
    }
}

ouch_message! {
    /// `X` Cancel Order (19 bytes).
    view CancelOrder;
    repr CancelOrderRepr;
    type b'X', len 19;
    {
        /// Order Token.
        token / set_token: Token [Token] = 1,
        /// New intended order size; 0 cancels everything.
        shares / set_shares: u32 [u32] = 15,
    }
}

ouch_message! {
    /// `M` Modify Order (20 bytes).
    view ModifyOrder;
    repr ModifyOrderRepr;
    type b'M', len 20;
    {
        /// Order Token.
        token / set_token: Token [Token] = 1,
        /// Buy/Sell Indicator: changes only among `S`, `T`, `E`.
        side / set_side: BuySell [BuySell] = 15,
        /// Shares: total liable.
        shares / set_shares: u32 [u32] = 16,
    }
}

ouch_message! {
    /// `N` Trade Now (15 bytes, later 4.2 editions).
    view TradeNow;
    repr TradeNowRepr;
    type b'N', len 15;
    {
        /// Order Token.
        token / set_token: Token [Token] = 1,
    }
}

// --------------------------------------------------------------- outbound

ouch_message! {
    /// `S` System Event (10 bytes).
    view SystemEvent;
    repr SystemEventRepr;
    type b'S', len 10;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Event code.
        event_code / set_event_code: EventCode [EventCode] = 9,
    }
}

ouch_message! {
    /// `A` Accepted (66 bytes).
    view Accepted;
    repr AcceptedRepr;
    type b'A', len 66;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token as entered.
        token / set_token: Token [Token] = 9,
        /// Buy/Sell Indicator as entered.
        side / set_side: BuySell [BuySell] = 23,
        /// Shares accepted.
        shares / set_shares: u32 [u32] = 24,
        /// Stock.
        stock / set_stock: Symbol [Symbol] = 28,
        /// Accepted price (may be better than entered).
        price / set_price: Price4 [Price4] = 36,
        /// Accepted Time in Force.
        time_in_force / set_time_in_force: u32 [u32] = 40,
        /// Accepted firm.
        firm / set_firm: [u8; 4] [[u8; 4]] = 44,
        /// Accepted display.
        display / set_display: Display [Display] = 48,
        /// The venue's day-unique Order Reference Number.
        order_ref / set_order_ref: u64 [u64] = 49,
        /// Capacity.
        capacity / set_capacity: Capacity [Capacity] = 57,
        /// Intermarket Sweep Eligibility.
        intermarket_sweep / set_intermarket_sweep: IntermarketSweep [IntermarketSweep] = 58,
        /// Minimum Quantity.
        min_qty / set_min_qty: u32 [u32] = 59,
        /// Cross Type.
        cross_type / set_cross_type: CrossType [CrossType] = 63,
        /// Order State (checked: `L` live, `D` dead).
        state / set_state: OrderState [OrderState] = 64,
        /// BBO Weight Indicator.
        bbo_weight / set_bbo_weight: BboWeight [BboWeight] = 65,
    }
}

ouch_message! {
    /// `U` Replaced (80 bytes).
    view Replaced;
    repr ReplacedRepr;
    type b'U', len 80;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// The replacement's token (now live).
        replacement_token / set_replacement_token: Token [Token] = 9,
        /// Buy/Sell Indicator of the chain.
        side / set_side: BuySell [BuySell] = 23,
        /// Shares outstanding.
        shares / set_shares: u32 [u32] = 24,
        /// Stock.
        stock / set_stock: Symbol [Symbol] = 28,
        /// Accepted price.
        price / set_price: Price4 [Price4] = 36,
        /// Accepted Time in Force.
        time_in_force / set_time_in_force: u32 [u32] = 40,
        /// Firm of the original order.
        firm / set_firm: [u8; 4] [[u8; 4]] = 44,
        /// Accepted display.
        display / set_display: Display [Display] = 48,
        /// The venue's new Order Reference Number.
        order_ref / set_order_ref: u64 [u64] = 49,
        /// Capacity.
        capacity / set_capacity: Capacity [Capacity] = 57,
        /// Intermarket Sweep Eligibility.
        intermarket_sweep / set_intermarket_sweep: IntermarketSweep [IntermarketSweep] = 58,
        /// Minimum Quantity.
        min_qty / set_min_qty: u32 [u32] = 59,
        /// Cross Type.
        cross_type / set_cross_type: CrossType [CrossType] = 63,
        /// Order State (checked).
        state / set_state: OrderState [OrderState] = 64,
        /// The token of the order that was replaced.
        previous_token / set_previous_token: Token [Token] = 65,
        /// BBO Weight Indicator.
        bbo_weight / set_bbo_weight: BboWeight [BboWeight] = 79,
    }
}

ouch_message! {
    /// `C` Canceled (28 bytes).
    view Canceled;
    repr CanceledRepr;
    type b'C', len 28;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token.
        token / set_token: Token [Token] = 9,
        /// Shares just taken off (incremental, not cumulative).
        decrement_shares / set_decrement_shares: u32 [u32] = 23,
        /// Why.
        reason / set_reason: CancelReason [CancelReason] = 27,
    }
}

ouch_message! {
    /// `D` AIQ Canceled (37 bytes).
    view AiqCanceled;
    repr AiqCanceledRepr;
    type b'D', len 37;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token.
        token / set_token: Token [Token] = 9,
        /// Shares just taken off.
        decrement_shares / set_decrement_shares: u32 [u32] = 23,
        /// Why (always `Q`).
        reason / set_reason: CancelReason [CancelReason] = 27,
        /// Shares that would have executed.
        quantity_prevented / set_quantity_prevented: u32 [u32] = 28,
        /// Price at which the trade would have occurred.
        execution_price / set_execution_price: Price4 [Price4] = 32,
        /// Liquidity flag the order would have received.
        liquidity_flag / set_liquidity_flag: LiquidityFlag [LiquidityFlag] = 36,
    }
}

ouch_message! {
    /// `E` Executed (40 bytes).
    view Executed;
    repr ExecutedRepr;
    type b'E', len 40;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token.
        token / set_token: Token [Token] = 9,
        /// Shares executed (incremental).
        executed_shares / set_executed_shares: u32 [u32] = 23,
        /// Execution price.
        execution_price / set_execution_price: Price4 [Price4] = 27,
        /// Liquidity flag.
        liquidity_flag / set_liquidity_flag: LiquidityFlag [LiquidityFlag] = 31,
        /// Match number (shared by the buy and the sell side).
        match_number / set_match_number: u64 [u64] = 32,
    }
}

ouch_message! {
    /// `G` Executed with Reference Price (45 bytes, later 4.2 editions).
    view ExecutedWithReferencePrice;
    repr ExecutedWithReferencePriceRepr;
    type b'G', len 45;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token.
        token / set_token: Token [Token] = 9,
        /// Shares executed (incremental).
        executed_shares / set_executed_shares: u32 [u32] = 23,
        /// Execution price.
        execution_price / set_execution_price: Price4 [Price4] = 27,
        /// Liquidity flag.
        liquidity_flag / set_liquidity_flag: LiquidityFlag [LiquidityFlag] = 31,
        /// Match number.
        match_number / set_match_number: u64 [u64] = 32,
        /// Reference price associated with the execution.
        reference_price / set_reference_price: Price4 [Price4] = 40,
        /// Reference price type.
        reference_price_type / set_reference_price_type: ReferencePriceType [ReferencePriceType] = 44,
    }
}

ouch_message! {
    /// `F` Trade Correction (41 bytes, later 4.2 editions).
    view TradeCorrection;
    repr TradeCorrectionRepr;
    type b'F', len 41;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token.
        token / set_token: Token [Token] = 9,
        /// Shares executed.
        executed_shares / set_executed_shares: u32 [u32] = 23,
        /// Corrected execution price.
        execution_price / set_execution_price: Price4 [Price4] = 27,
        /// Liquidity flag.
        liquidity_flag / set_liquidity_flag: LiquidityFlag [LiquidityFlag] = 31,
        /// Match number of the corrected execution.
        match_number / set_match_number: u64 [u64] = 32,
        /// Why.
        reason / set_reason: TradeCorrectionReason [TradeCorrectionReason] = 40,
    }
}

ouch_message! {
    /// `B` Broken Trade (32 bytes).
    view BrokenTrade;
    repr BrokenTradeRepr;
    type b'B', len 32;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token.
        token / set_token: Token [Token] = 9,
        /// Match number being broken.
        match_number / set_match_number: u64 [u64] = 23,
        /// Why.
        reason / set_reason: BrokenTradeReason [BrokenTradeReason] = 31,
    }
}

ouch_message! {
    /// `J` Rejected (24 bytes).
    view Rejected;
    repr RejectedRepr;
    type b'J', len 24;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token as entered.
        token / set_token: Token [Token] = 9,
        /// Why.
        reason / set_reason: RejectReason [RejectReason] = 23,
    }
}

ouch_message! {
    /// `P` Cancel Pending (23 bytes).
    view CancelPending;
    repr CancelPendingRepr;
    type b'P', len 23;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token.
        token / set_token: Token [Token] = 9,
    }
}

ouch_message! {
    /// `I` Cancel Reject (23 bytes).
    view CancelReject;
    repr CancelRejectRepr;
    type b'I', len 23;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token.
        token / set_token: Token [Token] = 9,
    }
}

ouch_message! {
    /// `T` Priority Update (36 bytes).
    view PriorityUpdate;
    repr PriorityUpdateRepr;
    type b'T', len 36;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token.
        token / set_token: Token [Token] = 9,
        /// Price now.
        price / set_price: Price4 [Price4] = 23,
        /// Display now.
        display / set_display: Display [Display] = 27,
        /// The new Order Reference Number assigned with the new priority.
        order_ref / set_order_ref: u64 [u64] = 28,
    }
}

ouch_message! {
    /// `M` Order Modified (28 bytes).
    view OrderModified;
    repr OrderModifiedRepr;
    type b'M', len 28;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token.
        token / set_token: Token [Token] = 9,
        /// Buy/Sell Indicator now.
        side / set_side: BuySell [BuySell] = 23,
        /// Shares outstanding.
        shares / set_shares: u32 [u32] = 24,
    }
}

ouch_message! {
    /// `N` Trade Now acknowledgement (23 bytes, later 4.2 editions).
    view TradeNowAck;
    repr TradeNowAckRepr;
    type b'N', len 23;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// Order Token.
        token / set_token: Token [Token] = 9,
    }
}

message_set! {
    /// Every client → venue OUCH 4.2 message.
    pub enum Inbound {
        /// `O`.
        EnterOrder(EnterOrderRepr),
        /// `U`.
        ReplaceOrder(ReplaceOrderRepr),
        /// `X`.
        CancelOrder(CancelOrderRepr),
        /// `M`.
        ModifyOrder(ModifyOrderRepr),
        /// `N`.
        TradeNow(TradeNowRepr),
    }
}

message_set! {
    /// Every venue → client OUCH 4.2 message.
    pub enum Outbound {
        /// `S`.
        SystemEvent(SystemEventRepr),
        /// `A`.
        Accepted(AcceptedRepr),
        /// `U`.
        Replaced(ReplacedRepr),
        /// `C`.
        Canceled(CanceledRepr),
        /// `D`.
        AiqCanceled(AiqCanceledRepr),
        /// `E`.
        Executed(ExecutedRepr),
        /// `G`.
        ExecutedWithReferencePrice(ExecutedWithReferencePriceRepr),
        /// `F`.
        TradeCorrection(TradeCorrectionRepr),
        /// `B`.
        BrokenTrade(BrokenTradeRepr),
        /// `J`.
        Rejected(RejectedRepr),
        /// `P`.
        CancelPending(CancelPendingRepr),
        /// `I`.
        CancelReject(CancelRejectRepr),
        /// `T`.
        PriorityUpdate(PriorityUpdateRepr),
        /// `M`.
        OrderModified(OrderModifiedRepr),
        /// `N`.
        TradeNowAck(TradeNowAckRepr),
    }
}

#[cfg(test)]
mod tests;
