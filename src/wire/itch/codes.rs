//! Named values of ITCH 5.0's open enumerations (PROTOCOLS.md §1, §8).
//!
//! These fields stay raw `u8`s in the message structs: NASDAQ adds codes over
//! time (NYSE Texas `M`, IPO flag `Z`, imbalance `P`, ...), so a decoder that
//! refused unknown values would drop valid messages. Only the side and the
//! message type are checked.

/// Message type bytes (offset 0).
pub mod msg_type {
    /// `S` System Event.
    pub const SYSTEM_EVENT: u8 = b'S';
    /// `R` Stock Directory.
    pub const STOCK_DIRECTORY: u8 = b'R';
    /// `H` Stock Trading Action.
    pub const TRADING_ACTION: u8 = b'H';
    /// `Y` Reg SHO Short Sale Price Test Restricted Indicator.
    pub const REG_SHO: u8 = b'Y';
    /// `L` Market Participant Position.
    pub const MARKET_PARTICIPANT_POSITION: u8 = b'L';
    /// `V` MWCB Decline Level.
    pub const MWCB_DECLINE_LEVEL: u8 = b'V';
    /// `W` MWCB Status.
    pub const MWCB_STATUS: u8 = b'W';
    /// `K` IPO Quoting Period Update.
    pub const IPO_QUOTING_PERIOD: u8 = b'K';
    /// `J` LULD Auction Collar.
    pub const LULD_AUCTION_COLLAR: u8 = b'J';
    /// `h` Operational Halt.
    pub const OPERATIONAL_HALT: u8 = b'h';
    /// `A` Add Order (no MPID attribution).
    pub const ADD_ORDER: u8 = b'A';
    /// `F` Add Order with MPID attribution.
    pub const ADD_ORDER_MPID: u8 = b'F';
    /// `E` Order Executed.
    pub const ORDER_EXECUTED: u8 = b'E';
    /// `C` Order Executed With Price.
    pub const ORDER_EXECUTED_WITH_PRICE: u8 = b'C';
    /// `X` Order Cancel.
    pub const ORDER_CANCEL: u8 = b'X';
    /// `D` Order Delete.
    pub const ORDER_DELETE: u8 = b'D';
    /// `U` Order Replace.
    pub const ORDER_REPLACE: u8 = b'U';
    /// `P` Trade (non-cross).
    pub const TRADE: u8 = b'P';
    /// `Q` Cross Trade.
    pub const CROSS_TRADE: u8 = b'Q';
    /// `B` Broken Trade.
    pub const BROKEN_TRADE: u8 = b'B';
    /// `I` Net Order Imbalance Indicator (NOII).
    pub const NOII: u8 = b'I';
    /// `N` Retail Price Improvement Indicator (RPII).
    pub const RPII: u8 = b'N';
    /// `O` Direct Listing with Capital Raise price discovery (DLCR).
    pub const DLCR: u8 = b'O';
}

/// System Event (`S`) event codes.
pub mod event_code {
    /// `O` start of messages: first message of the day.
    pub const START_OF_MESSAGES: u8 = b'O';
    /// `S` start of system hours.
    pub const START_OF_SYSTEM_HOURS: u8 = b'S';
    /// `Q` start of market hours.
    pub const START_OF_MARKET_HOURS: u8 = b'Q';
    /// `M` end of market hours.
    pub const END_OF_MARKET_HOURS: u8 = b'M';
    /// `E` end of system hours.
    pub const END_OF_SYSTEM_HOURS: u8 = b'E';
    /// `C` end of messages: last message of the day.
    pub const END_OF_MESSAGES: u8 = b'C';
}

/// Stock Directory (`R`) market category.
pub mod market_category {
    /// `Q` Nasdaq Global Select Market.
    pub const NASDAQ_GLOBAL_SELECT: u8 = b'Q';
    /// `G` Nasdaq Global Market.
    pub const NASDAQ_GLOBAL_MARKET: u8 = b'G';
    /// `S` Nasdaq Capital Market.
    pub const NASDAQ_CAPITAL_MARKET: u8 = b'S';
    /// `N` NYSE.
    pub const NYSE: u8 = b'N';
    /// `A` NYSE American.
    pub const NYSE_AMERICAN: u8 = b'A';
    /// `P` NYSE Arca.
    pub const NYSE_ARCA: u8 = b'P';
    /// `Z` Cboe BZX.
    pub const CBOE_BZX: u8 = b'Z';
    /// `V` Investors' Exchange (IEX).
    pub const IEX: u8 = b'V';
    /// `M` NYSE Texas (newer editions).
    pub const NYSE_TEXAS: u8 = b'M';
    /// `' '` not available.
    pub const NOT_AVAILABLE: u8 = b' ';
}

/// Stock Directory (`R`) financial status indicator.
pub mod financial_status {
    /// `D` deficient.
    pub const DEFICIENT: u8 = b'D';
    /// `E` delinquent.
    pub const DELINQUENT: u8 = b'E';
    /// `Q` bankrupt.
    pub const BANKRUPT: u8 = b'Q';
    /// `S` suspended.
    pub const SUSPENDED: u8 = b'S';
    /// `G` deficient and bankrupt.
    pub const DEFICIENT_BANKRUPT: u8 = b'G';
    /// `H` deficient and delinquent.
    pub const DEFICIENT_DELINQUENT: u8 = b'H';
    /// `J` delinquent and bankrupt.
    pub const DELINQUENT_BANKRUPT: u8 = b'J';
    /// `K` deficient, delinquent and bankrupt.
    pub const DEFICIENT_DELINQUENT_BANKRUPT: u8 = b'K';
    /// `C` creations and/or redemptions suspended (ETP).
    pub const ETP_SUSPENDED: u8 = b'C';
    /// `N` normal (not deficient, delinquent or bankrupt).
    pub const NORMAL: u8 = b'N';
    /// `' '` not available (non-Nasdaq listing).
    pub const NOT_AVAILABLE: u8 = b' ';
}

/// Yes/no style single-byte flags (round lots only, printable, inverse
/// indicator, short sale threshold, IPO flag, ETP flag, primary market maker,
/// open eligibility).
pub mod flag {
    /// `Y` yes.
    pub const YES: u8 = b'Y';
    /// `N` no.
    pub const NO: u8 = b'N';
    /// `' '` not available / not applicable.
    pub const NOT_AVAILABLE: u8 = b' ';
}

/// Stock Directory (`R`) authenticity.
pub mod authenticity {
    /// `P` live / production.
    pub const PRODUCTION: u8 = b'P';
    /// `T` test.
    pub const TEST: u8 = b'T';
}

/// Stock Directory (`R`) LULD reference price tier.
pub mod luld_tier {
    /// `1` tier 1 NMS stocks and select ETPs.
    pub const TIER_1: u8 = b'1';
    /// `2` tier 2 NMS stocks.
    pub const TIER_2: u8 = b'2';
    /// `' '` not available.
    pub const NOT_AVAILABLE: u8 = b' ';
}

/// Stock Trading Action (`H`) trading state.
pub mod trading_state {
    /// `H` halted across all U.S. equity markets / SROs.
    pub const HALTED: u8 = b'H';
    /// `P` paused across all U.S. equity markets / SROs (Nasdaq only).
    pub const PAUSED: u8 = b'P';
    /// `Q` quotation only period (cross-SRO halt or pause).
    pub const QUOTATION_ONLY: u8 = b'Q';
    /// `T` trading on Nasdaq.
    pub const TRADING: u8 = b'T';
}

/// Reg SHO (`Y`) action.
pub mod reg_sho_action {
    /// `0` no price test in place.
    pub const NO_PRICE_TEST: u8 = b'0';
    /// `1` Reg SHO short sale price test restriction in effect (intraday drop).
    pub const RESTRICTION_IN_EFFECT: u8 = b'1';
    /// `2` restriction remains in effect.
    pub const RESTRICTION_REMAINS: u8 = b'2';
}

/// Market Participant Position (`L`) market maker mode.
pub mod market_maker_mode {
    /// `N` normal.
    pub const NORMAL: u8 = b'N';
    /// `P` passive.
    pub const PASSIVE: u8 = b'P';
    /// `S` syndicate.
    pub const SYNDICATE: u8 = b'S';
    /// `R` pre-syndicate.
    pub const PRE_SYNDICATE: u8 = b'R';
    /// `L` penalty.
    pub const PENALTY: u8 = b'L';
}

/// Market Participant Position (`L`) participant state.
pub mod participant_state {
    /// `A` active.
    pub const ACTIVE: u8 = b'A';
    /// `E` excused / withdrawn.
    pub const EXCUSED: u8 = b'E';
    /// `W` withdrawn.
    pub const WITHDRAWN: u8 = b'W';
    /// `S` suspended.
    pub const SUSPENDED: u8 = b'S';
    /// `D` deleted.
    pub const DELETED: u8 = b'D';
}

/// MWCB Status (`W`) breached level.
pub mod breached_level {
    /// `1` level 1.
    pub const LEVEL_1: u8 = b'1';
    /// `2` level 2.
    pub const LEVEL_2: u8 = b'2';
    /// `3` level 3.
    pub const LEVEL_3: u8 = b'3';
}

/// IPO Quoting Period Update (`K`) release qualifier.
pub mod release_qualifier {
    /// `A` anticipated quotation release time.
    pub const ANTICIPATED: u8 = b'A';
    /// `C` IPO release canceled or postponed.
    pub const CANCELED: u8 = b'C';
}

/// Operational Halt (`h`) market code.
pub mod market_code {
    /// `Q` Nasdaq.
    pub const NASDAQ: u8 = b'Q';
    /// `B` BX (labelled "Nasdaq Texas" in newer editions).
    pub const BX: u8 = b'B';
    /// `X` PSX.
    pub const PSX: u8 = b'X';
}

/// Operational Halt (`h`) action.
pub mod halt_action {
    /// `H` operationally halted on the market.
    pub const HALTED: u8 = b'H';
    /// `T` operational halt lifted, trading resumed.
    pub const RESUMED: u8 = b'T';
}

/// Cross type of Cross Trade (`Q`) and NOII (`I`) messages.
pub mod cross_type {
    /// `O` Nasdaq opening cross.
    pub const OPENING: u8 = b'O';
    /// `C` Nasdaq closing cross.
    pub const CLOSING: u8 = b'C';
    /// `H` cross for IPO and halted / paused securities.
    pub const IPO_OR_HALTED: u8 = b'H';
    /// `I` intraday / post-close cross (older editions).
    pub const INTRADAY: u8 = b'I';
    /// `A` extended trading close (newer editions).
    pub const EXTENDED_TRADING_CLOSE: u8 = b'A';
}

/// NOII (`I`) imbalance direction.
pub mod imbalance_direction {
    /// `B` buy imbalance.
    pub const BUY: u8 = b'B';
    /// `S` sell imbalance.
    pub const SELL: u8 = b'S';
    /// `N` no imbalance.
    pub const NONE: u8 = b'N';
    /// `O` insufficient orders to calculate.
    pub const INSUFFICIENT_ORDERS: u8 = b'O';
    /// `P` paused (newer editions).
    pub const PAUSED: u8 = b'P';
}

/// RPII (`N`) interest flag.
pub mod interest_flag {
    /// `B` RPI orders available on the buy side.
    pub const BUY: u8 = b'B';
    /// `S` RPI orders available on the sell side.
    pub const SELL: u8 = b'S';
    /// `A` RPI orders available on both sides.
    pub const BOTH: u8 = b'A';
    /// `N` no RPI orders available.
    pub const NONE: u8 = b'N';
}
