//! The ITCH 5.0 message table (PROTOCOLS.md §1): one entry per message type,
//! offsets counted from the type byte.

use super::{check_prefix, Header, HEADER_LEN};
use crate::wire::{alpha, field, Error, Result};

itch_messages! {
    /// System Event: market-wide start/end of messages, system and market hours.
    b'S' "S", len 12, SystemEvent(SystemEvent), SystemEventView {
        /// Event code ([`event_code`](super::event_code)).
        event_code: u8 @ 11,
    }

    /// Stock Directory: one per security at the start of the day.
    b'R' "R", len 39, StockDirectory(StockDirectory), StockDirectoryView {
        /// Stock symbol.
        stock: symbol @ 11 => stock_str,
        /// Listing market category ([`market_category`](super::market_category)).
        market_category: u8 @ 19,
        /// Financial status indicator ([`financial_status`](super::financial_status)).
        financial_status: u8 @ 20,
        /// Shares in a round lot.
        round_lot_size: u32 @ 21,
        /// `Y`: only round lots accepted ([`flag`](super::flag)).
        round_lots_only: u8 @ 25,
        /// Issue classification (`A`, `B`, `C`, `F`, `I`, ...).
        issue_classification: u8 @ 26,
        /// Issue sub-type (two alpha bytes, e.g. `"C "`).
        issue_sub_type: alpha2 @ 27 => issue_sub_type_str,
        /// `P` production or `T` test ([`authenticity`](super::authenticity)).
        authenticity: u8 @ 29,
        /// Short sale threshold indicator `Y`/`N`/`' '` ([`flag`](super::flag)).
        short_sale_threshold: u8 @ 30,
        /// IPO flag `Y`/`N`/`' '` ([`flag`](super::flag)).
        ipo_flag: u8 @ 31,
        /// LULD reference price tier ([`luld_tier`](super::luld_tier)).
        luld_tier: u8 @ 32,
        /// ETP flag `Y`/`N`/`' '` ([`flag`](super::flag)).
        etp_flag: u8 @ 33,
        /// ETP leverage factor.
        etp_leverage_factor: u32 @ 34,
        /// Inverse ETP indicator `Y`/`N` ([`flag`](super::flag)).
        inverse_indicator: u8 @ 38,
    }

    /// Stock Trading Action: halts, pauses, quotation-only periods, resumptions.
    b'H' "H", len 25, TradingAction(TradingAction), TradingActionView {
        /// Stock symbol.
        stock: symbol @ 11 => stock_str,
        /// Trading state ([`trading_state`](super::trading_state)).
        trading_state: u8 @ 19,
        /// Reserved byte, kept as sent.
        reserved: u8 @ 20,
        /// Reason code (e.g. `T1`, `LUDP`, `MWC1`; may be blank).
        reason: alpha4 @ 21 => reason_str,
    }

    /// Reg SHO short sale price test restriction indicator.
    b'Y' "Y", len 20, RegSho(RegSho), RegShoView {
        /// Stock symbol.
        stock: symbol @ 11 => stock_str,
        /// Reg SHO action ([`reg_sho_action`](super::reg_sho_action)).
        reg_sho_action: u8 @ 19,
    }

    /// Market Participant Position: a market maker's status in a security.
    b'L' "L", len 26, MarketParticipantPosition(MarketParticipantPosition), MarketParticipantPositionView {
        /// Market participant identifier (MPID).
        mpid: alpha4 @ 11 => mpid_str,
        /// Stock symbol.
        stock: symbol @ 15 => stock_str,
        /// Primary market maker `Y`/`N` ([`flag`](super::flag)).
        primary_market_maker: u8 @ 23,
        /// Market maker mode ([`market_maker_mode`](super::market_maker_mode)).
        market_maker_mode: u8 @ 24,
        /// Participant state ([`participant_state`](super::participant_state)).
        participant_state: u8 @ 25,
    }

    /// MWCB Decline Level: the three market-wide circuit breaker levels.
    b'V' "V", len 35, MwcbDeclineLevel(MwcbDeclineLevel), MwcbDeclineLevelView {
        /// Level 1, with 8 implied decimals (`p8`).
        level1: u64 @ 11,
        /// Level 2, with 8 implied decimals (`p8`).
        level2: u64 @ 19,
        /// Level 3, with 8 implied decimals (`p8`).
        level3: u64 @ 27,
    }

    /// MWCB Status: a circuit breaker level was breached.
    b'W' "W", len 12, MwcbStatus(MwcbStatus), MwcbStatusView {
        /// Breached level ([`breached_level`](super::breached_level)).
        breached_level: u8 @ 11,
    }

    /// IPO Quoting Period Update.
    b'K' "K", len 28, IpoQuotingPeriod(IpoQuotingPeriod), IpoQuotingPeriodView {
        /// Stock symbol.
        stock: symbol @ 11 => stock_str,
        /// IPO quotation release time, seconds since midnight.
        release_time: u32 @ 19,
        /// Release qualifier ([`release_qualifier`](super::release_qualifier)).
        release_qualifier: u8 @ 23,
        /// IPO price.
        ipo_price: price @ 24,
    }

    /// LULD Auction Collar.
    b'J' "J", len 35, LuldAuctionCollar(LuldAuctionCollar), LuldAuctionCollarView {
        /// Stock symbol.
        stock: symbol @ 11 => stock_str,
        /// Auction collar reference price.
        reference_price: price @ 19,
        /// Upper auction collar price.
        upper_price: price @ 23,
        /// Lower auction collar price.
        lower_price: price @ 27,
        /// Number of collar extensions.
        extension: u32 @ 31,
    }

    /// Operational Halt on one Nasdaq market.
    b'h' "h", len 21, OperationalHalt(OperationalHalt), OperationalHaltView {
        /// Stock symbol.
        stock: symbol @ 11 => stock_str,
        /// Market code ([`market_code`](super::market_code)).
        market_code: u8 @ 19,
        /// Halt action ([`halt_action`](super::halt_action)).
        halt_action: u8 @ 20,
    }

    /// Add Order without MPID attribution.
    b'A' "A", len 36, AddOrder(AddOrder), AddOrderView {
        /// Order reference number, unique for the day.
        order_ref: u64 @ 11,
        /// Buy or sell (checked).
        side: side @ 19,
        /// Displayed shares.
        shares: qty @ 20,
        /// Stock symbol.
        stock: symbol @ 24 => stock_str,
        /// Limit price.
        price: price @ 32,
    }

    /// Add Order with MPID attribution.
    b'F' "F", len 40, AddOrderMpid(AddOrderMpid), AddOrderMpidView {
        /// Order reference number, unique for the day.
        order_ref: u64 @ 11,
        /// Buy or sell (checked).
        side: side @ 19,
        /// Displayed shares.
        shares: qty @ 20,
        /// Stock symbol.
        stock: symbol @ 24 => stock_str,
        /// Limit price.
        price: price @ 32,
        /// Attribution: the entering firm's MPID.
        attribution: alpha4 @ 36 => attribution_str,
    }

    /// Order Executed at the order's own price.
    b'E' "E", len 31, OrderExecuted(OrderExecuted), OrderExecutedView {
        /// Order reference number.
        order_ref: u64 @ 11,
        /// Shares executed.
        executed_shares: qty @ 19,
        /// Match number (shared with the matching trade messages).
        match_number: u64 @ 23,
    }

    /// Order Executed at a price other than the order's.
    b'C' "C", len 36, OrderExecutedWithPrice(OrderExecutedWithPrice), OrderExecutedWithPriceView {
        /// Order reference number.
        order_ref: u64 @ 11,
        /// Shares executed.
        executed_shares: qty @ 19,
        /// Match number.
        match_number: u64 @ 23,
        /// `Y` printable, `N` not counted in volume ([`flag`](super::flag)).
        printable: u8 @ 31,
        /// Execution price.
        execution_price: price @ 32,
    }

    /// Order Cancel: a partial cancel (decrement).
    b'X' "X", len 23, OrderCancel(OrderCancel), OrderCancelView {
        /// Order reference number.
        order_ref: u64 @ 11,
        /// Shares removed from the order.
        canceled_shares: qty @ 19,
    }

    /// Order Delete: the whole remaining order leaves the book.
    b'D' "D", len 19, OrderDelete(OrderDelete), OrderDeleteView {
        /// Order reference number.
        order_ref: u64 @ 11,
    }

    /// Order Replace: cancel an order and add a new one in its place.
    b'U' "U", len 35, OrderReplace(OrderReplace), OrderReplaceView {
        /// Reference number of the replaced order.
        original_order_ref: u64 @ 11,
        /// Reference number of the new order.
        new_order_ref: u64 @ 19,
        /// Displayed shares of the new order.
        shares: qty @ 27,
        /// Price of the new order.
        price: price @ 31,
    }

    /// Trade (non-cross) against a non-displayed order.
    b'P' "P", len 44, Trade(Trade), TradeView {
        /// Order reference number (0 since 2010 on Nasdaq).
        order_ref: u64 @ 11,
        /// Side of the non-displayed order matched (checked).
        side: side @ 19,
        /// Shares traded.
        shares: qty @ 20,
        /// Stock symbol.
        stock: symbol @ 24 => stock_str,
        /// Trade price.
        price: price @ 32,
        /// Match number.
        match_number: u64 @ 36,
    }

    /// Cross Trade: the bulk print of an opening, closing, IPO/halt cross.
    b'Q' "Q", len 40, CrossTrade(CrossTrade), CrossTradeView {
        /// Shares matched in the cross (8 bytes).
        shares: u64 @ 11,
        /// Stock symbol.
        stock: symbol @ 19 => stock_str,
        /// Cross price.
        cross_price: price @ 27,
        /// Match number.
        match_number: u64 @ 31,
        /// Cross type ([`cross_type`](super::cross_type)).
        cross_type: u8 @ 39,
    }

    /// Broken Trade: an execution was broken.
    b'B' "B", len 19, BrokenTrade(BrokenTrade), BrokenTradeView {
        /// Match number of the broken execution.
        match_number: u64 @ 11,
    }

    /// Net Order Imbalance Indicator (NOII).
    b'I' "I", len 50, Noii(Noii), NoiiView {
        /// Shares paired at the current reference price (8 bytes).
        paired_shares: u64 @ 11,
        /// Shares not paired (8 bytes).
        imbalance_shares: u64 @ 19,
        /// Imbalance direction ([`imbalance_direction`](super::imbalance_direction)).
        imbalance_direction: u8 @ 27,
        /// Stock symbol.
        stock: symbol @ 28 => stock_str,
        /// Far price.
        far_price: price @ 36,
        /// Near price.
        near_price: price @ 40,
        /// Current reference price.
        current_reference_price: price @ 44,
        /// Cross type ([`cross_type`](super::cross_type)).
        cross_type: u8 @ 48,
        /// Price variation indicator (`L`, `1`-`9`, `A`, `B`, `C`, `' '`).
        price_variation_indicator: u8 @ 49,
    }

    /// Retail Price Improvement Indicator (RPII).
    b'N' "N", len 20, Rpii(Rpii), RpiiView {
        /// Stock symbol.
        stock: symbol @ 11 => stock_str,
        /// Interest flag ([`interest_flag`](super::interest_flag)).
        interest_flag: u8 @ 19,
    }

    /// Direct Listing with Capital Raise price discovery (DLCR).
    b'O' "O", len 48, Dlcr(Dlcr), DlcrView {
        /// Stock symbol.
        stock: symbol @ 11 => stock_str,
        /// Open eligibility status `N`/`Y` ([`flag`](super::flag)).
        open_eligibility: u8 @ 19,
        /// Minimum allowable price.
        min_allowable_price: price @ 20,
        /// Maximum allowable price.
        max_allowable_price: price @ 24,
        /// Near execution price.
        near_execution_price: price @ 28,
        /// Time the near execution price was set (nanoseconds since midnight).
        near_execution_time: u64 @ 32,
        /// Lower price range collar.
        lower_price_range_collar: price @ 40,
        /// Upper price range collar.
        upper_price_range_collar: price @ 44,
    }
}
