//! OUCH 5.0 (PROTOCOLS.md §5, spec layout: Symbol 8 bytes, prices `x8` =
//! u64 with 4 implied decimals): every inbound and outbound message, and the
//! TLV appendage.
//!
//! As in [`super::ouch42`], each message is a zero-copy view with
//! `new_checked` plus an owned `Repr` with `parse`/`emit`; [`Inbound`] and
//! [`Outbound`] dispatch on the type byte. Messages marked `+A` end with an
//! Appendage Length (u16) and that many bytes of TLV options:
//! - [`Appendage`] is a validated view over the option bytes; iterating
//!   yields `(tag, value)` [`Element`]s and typed accessors read known tags;
//! - [`Options`] is the owned form (one `Option` per known tag) used by the
//!   `Repr`s; unknown tags are skipped;
//! - [`AppendageBuilder`] writes options into a caller's buffer.
//!
//! Prices: an `x8` value above `u32::MAX` does not fit [`Price4`] and is
//! [`Error::OutOfRange`]. The market-price sentinel `0x7FFF_FFFF` (held in the
//! 8-byte field, NQ-O5 §1.2) fits and is carried unchanged as
//! [`MARKET_PRICE`]. Nothing here allocates or panics on any input.

use super::ouch::{message_set, open_enum, ouch_message, Codec};
use super::{Error, Result};
use crate::types::{Price4, Symbol};

pub use super::ouch::{
    BboWeight, BrokenTradeReason, BuySell, Capacity, CustomerType, EventCode, IntermarketSweep,
    LiquidityFlag, OrderState, MARKET_PRICE,
};

/// `x8`: u64 with four implied decimals (OUCH 5.0 prices), held as a
/// [`Price4`]. A value above `u32::MAX` fails `check` with
/// [`Error::OutOfRange`]. The market-price sentinel `0x7FFF_FFFF` fits and is
/// carried unchanged as `Price4(0x7FFF_FFFF)` ([`MARKET_PRICE`]).
pub(crate) struct X8;

impl Codec for X8 {
    type Value = Price4;
    const SIZE: usize = 8;
    fn check(b: &[u8]) -> Result<()> {
        if <u64 as Codec>::get(b) > u64::from(u32::MAX) {
            return Err(Error::OutOfRange("price"));
        }
        Ok(())
    }
    fn get(b: &[u8]) -> Price4 {
        Price4(u32::try_from(<u64 as Codec>::get(b)).unwrap_or(u32::MAX))
    }
    fn put(v: Price4, b: &mut [u8]) {
        <u64 as Codec>::put(u64::from(v.0), b);
    }
    #[cfg(test)]
    fn arb() -> proptest::strategy::BoxedStrategy<Vec<u8>> {
        use proptest::prelude::*;
        any::<u32>()
            .prop_map(|p| u64::from(p).to_be_bytes().to_vec())
            .boxed()
    }
}

/// A ClOrdID: 14 client-chosen bytes (not uniqueness-checked by the venue).
pub type ClOrdId = [u8; 14];

open_enum! {
    /// Time In Force (OUCH 5.0, one byte).
    pub struct TimeInForce(u8) {
        DAY = b'0' => "day (market hours)",
        IOC = b'3' => "immediate or cancel",
        GTX = b'5' => "good till extended (system hours)",
        GTT = b'6' => "good till time (needs ExpireTime)",
        AFTER_HOURS = b'E' => "after hours",
    }
}

open_enum! {
    /// Display (OUCH 5.0; NQ-O5, OMI-O5).
    pub struct Display(u8) {
        VISIBLE = b'Y' => "visible",
        HIDDEN = b'N' => "hidden",
        ATTRIBUTABLE = b'A' => "attributable",
        CONFORMANT = b'Z' => "conformant",
        POST_ONLY = b'P' => "post-only",
        IMBALANCE_ONLY = b'I' => "imbalance-only",
        MIDPOINT_PEG = b'M' => "mid-point peg",
        MIDPOINT_PEG_POST_ONLY = b'W' => "mid-point peg post only",
        POST_ONLY_ATTRIBUTABLE = b'L' => "post-only and attributable",
        RETAIL_TYPE_1 = b'O' => "retail order type 1",
        RETAIL_TYPE_2 = b'T' => "retail order type 2",
        RETAIL_PRICE_IMPROVEMENT = b'Q' => "retail price improvement order",
        MIDPOINT_TRADE_NOW = b'm' => "mid-point peg and mid-point trade now",
        NON_DISPLAY_MIDPOINT = b'n' => "non-display and mid-point",
    }
}

open_enum! {
    /// Cross Type (OUCH 5.0).
    pub struct CrossType(u8) {
        CONTINUOUS = b'N' => "continuous market",
        OPENING = b'O' => "opening cross",
        CLOSING = b'C' => "closing cross",
        HALT_IPO = b'H' => "halt/IPO cross",
        SUPPLEMENTAL = b'S' => "supplemental order",
        RETAIL = b'R' => "retail (BX)",
        EXTENDED_LIFE = b'E' => "extended life",
        AFTER_HOURS_CLOSE = b'A' => "after hours close",
    }
}

open_enum! {
    /// Cancel reason (NQ-O5 Appendix C).
    pub struct CancelReason(u8) {
        REGULATORY = b'D' => "regulatory restriction",
        CLOSED = b'E' => "closed",
        POST_ONLY_NMS = b'F' => "post-only cancel: would have been price slid for NMS",
        POST_ONLY_CONTRA = b'G' => "post-only cancel: would have been price slid by a contra-side displayed order",
        HALTED = b'H' => "halted",
        IOC = b'I' => "immediate or cancel order",
        MARKET_COLLARS = b'K' => "market collars",
        SELF_MATCH = b'Q' => "self-match prevention",
        SUPERVISORY = b'S' => "supervisory",
        TIMEOUT = b'T' => "timeout",
        USER = b'U' => "user requested cancel",
        OPEN_PROTECTION = b'X' => "open protection",
        SYSTEM = b'Z' => "system cancel",
        DLCR_SHARES_EXCEEDED = b'e' => "DLCR shares exceeded",
    }
}

open_enum! {
    /// Reject reason (u16, NQ-O5 Appendix D).
    pub struct RejectReason(u16) {
        QUOTE_UNAVAILABLE = 0x01 => "quote unavailable",
        DESTINATION_CLOSED = 0x02 => "destination closed",
        INVALID_DISPLAY = 0x03 => "invalid display",
        INVALID_MAX_FLOOR = 0x04 => "invalid max floor",
        INVALID_PEG_TYPE = 0x05 => "invalid peg type",
        FAT_FINGER = 0x06 => "fat finger",
        HALTED = 0x07 => "halted",
        ISO_NOT_ALLOWED = 0x08 => "ISO not allowed",
        INVALID_SIDE = 0x09 => "invalid side",
        PROCESSING_ERROR = 0x0A => "processing error",
        CANCEL_PENDING = 0x0B => "cancel pending",
        FIRM_NOT_AUTHORIZED = 0x0C => "firm not authorized",
        INVALID_MIN_QTY = 0x0D => "invalid minimum quantity",
        NO_CLOSING_REFERENCE_PRICE = 0x0E => "no closing reference price",
        OTHER = 0x0F => "other",
        CANCEL_NOT_ALLOWED = 0x10 => "cancel not allowed",
        PEGGING_NOT_ALLOWED = 0x11 => "pegging not allowed",
        CROSSED_MARKET = 0x12 => "crossed market",
        INVALID_QUANTITY = 0x13 => "invalid quantity",
        INVALID_CROSS_ORDER = 0x14 => "invalid cross order",
        REPLACE_NOT_ALLOWED = 0x15 => "replace not allowed",
        ROUTING_NOT_ALLOWED = 0x16 => "routing not allowed",
        INVALID_SYMBOL = 0x17 => "invalid symbol",
        TEST = 0x18 => "test",
        LATE_LOC_TOO_AGGRESSIVE = 0x19 => "late LOC too aggressive",
        RETAIL_NOT_ALLOWED = 0x1A => "retail not allowed",
        INVALID_MIDPOINT_POST_ONLY_PRICE = 0x1B => "invalid midpoint post-only price",
        INVALID_DESTINATION = 0x1C => "invalid destination",
        INVALID_PRICE = 0x1D => "invalid price",
        SHARES_EXCEED_THRESHOLD = 0x1E => "shares exceed safety threshold",
        EXCEEDS_MAX_NOTIONAL = 0x1F => "exceeds maximum allowed notional value",
        RISK_AGGREGATE_EXPOSURE = 0x20 => "risk: aggregate exposure exceeded",
        RISK_MARKET_IMPACT = 0x21 => "risk: market impact",
        RISK_RESTRICTED_STOCK = 0x22 => "risk: restricted stock",
        RISK_SHORT_SELL = 0x23 => "risk: short sell",
        RISK_ORDER_TYPE = 0x24 => "risk: order type",
        RISK_ADV = 0x25 => "risk: exceeds ADV limit",
        RISK_FAT_FINGER = 0x26 => "risk: fat finger",
        RISK_LOCATE_REQUIRED = 0x27 => "risk: locate required",
        RISK_SYMBOL_MESSAGE_RATE = 0x28 => "risk: symbol message rate",
        RISK_PORT_MESSAGE_RATE = 0x29 => "risk: port message rate",
        RISK_DUPLICATE_MESSAGE_RATE = 0x2A => "risk: duplicate message rate",
    }
}

open_enum! {
    /// Restated reason.
    pub struct RestatedReason(u8) {
        DISPLAY_REFRESH = b'R' => "refresh of display (reserve replenishment)",
        DISPLAYED_PRICE_UPDATE = b'P' => "update of displayed price",
    }
}

open_enum! {
    /// PriceType / DiscretionPriceType option values.
    pub struct PriceType(u8) {
        LIMIT = b'L' => "limit",
        MARKET_PEG = b'P' => "market peg",
        MIDPOINT_PEG = b'M' => "midpoint peg",
        PRIMARY_PEG = b'R' => "primary peg",
        MARKET_MAKER_PEG = b'Q' => "market maker peg",
        MIDPOINT = b'm' => "midpoint",
    }
}

open_enum! {
    /// HandleInst option values.
    pub struct HandleInst(u8) {
        IMBALANCE_ONLY = b'I' => "imbalance only",
        RETAIL_TYPE_1 = b'O' => "retail order type 1",
        RETAIL_TYPE_2 = b'T' => "retail order type 2",
        RETAIL_PRICE_IMPROVEMENT = b'Q' => "retail price improvement",
        EXTENDED_LIFE_CONTINUOUS = b'B' => "extended life, continuous",
        DIRECT_LISTING_CAPITAL_RAISE = b'D' => "direct listing capital raise",
        HIDDEN_PRICE_IMPROVEMENT = b'R' => "hidden price improvement",
        NONE = b' ' => "no instruction",
    }
}

/// Option tags of the TLV appendage (NQ-O5 Appendix B).
pub mod tag {
    /// SecondaryOrdRefNum, u64.
    pub const SECONDARY_ORD_REF_NUM: u8 = 1;
    /// Firm, a4.
    pub const FIRM: u8 = 2;
    /// MinQty, u32.
    pub const MIN_QTY: u8 = 3;
    /// CustomerType, c.
    pub const CUSTOMER_TYPE: u8 = 4;
    /// MaxFloor, u32.
    pub const MAX_FLOOR: u8 = 5;
    /// PriceType, c.
    pub const PRICE_TYPE: u8 = 6;
    /// PegOffset, signed i32 with 4 decimals.
    pub const PEG_OFFSET: u8 = 7;
    /// DiscretionPrice, x8.
    pub const DISCRETION_PRICE: u8 = 9;
    /// DiscretionPriceType, c.
    pub const DISCRETION_PRICE_TYPE: u8 = 10;
    /// DiscretionPegOffset, signed i32 with 4 decimals.
    pub const DISCRETION_PEG_OFFSET: u8 = 11;
    /// PostOnly, c (`P`, `N`).
    pub const POST_ONLY: u8 = 12;
    /// RandomReserves, u32.
    pub const RANDOM_RESERVES: u8 = 13;
    /// Route, a4.
    pub const ROUTE: u8 = 14;
    /// ExpireTime, u32 seconds since midnight (< 86400).
    pub const EXPIRE_TIME: u8 = 15;
    /// TradeNow, c (`Y`, `N`, ` `).
    pub const TRADE_NOW: u8 = 16;
    /// HandleInst, c.
    pub const HANDLE_INST: u8 = 17;
    /// BBO Weight Indicator, c.
    pub const BBO_WEIGHT_INDICATOR: u8 = 18;
    /// Display Quantity, u32.
    pub const DISPLAY_QUANTITY: u8 = 22;
    /// Display Price, x8.
    pub const DISPLAY_PRICE: u8 = 23;
    /// GroupID, u16.
    pub const GROUP_ID: u8 = 24;
    /// SharesLocated, c (`Y`, `N`).
    pub const SHARES_LOCATED: u8 = 25;
}

/// One TLV option element: its tag and value bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element<'a> {
    /// Option tag.
    pub tag: u8,
    /// Value bytes (the element's length byte minus the tag byte).
    pub value: &'a [u8],
}

/// A validated view of a TLV appendage: a run of elements, each
/// `u8 length` (bytes after it: tag + value) · `u8 tag` · value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appendage<'a> {
    bytes: &'a [u8],
}

impl<'a> Appendage<'a> {
    /// An empty appendage.
    pub const EMPTY: Appendage<'static> = Appendage { bytes: &[] };

    /// Validates the element chain once: an element whose length is 0 (no
    /// tag) or runs past the appendage is [`Error::BadLength`]. Afterwards
    /// iteration cannot fail.
    pub fn new_checked(bytes: &'a [u8]) -> Result<Appendage<'a>> {
        let mut at = 0;
        while at < bytes.len() {
            let len = usize::from(bytes[at]);
            if len == 0 {
                return Err(Error::BadLength("appendage element without a tag"));
            }
            if at + 1 + len > bytes.len() {
                return Err(Error::BadLength(
                    "appendage element runs past the appendage",
                ));
            }
            at += 1 + len;
        }
        Ok(Appendage { bytes })
    }

    /// Wraps bytes a message view has already validated.
    pub(crate) fn validated(bytes: &'a [u8]) -> Appendage<'a> {
        Appendage { bytes }
    }

    /// The raw TLV bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Every element in wire order, unknown tags included.
    pub fn iter(&self) -> Elements<'a> {
        Elements { rest: self.bytes }
    }

    /// The value of the first element with `tag`.
    pub fn find(&self, tag: u8) -> Option<&'a [u8]> {
        self.iter().find(|e| e.tag == tag).map(|e| e.value)
    }

    fn fixed<const N: usize>(&self, tag: u8) -> Result<Option<[u8; N]>> {
        match self.find(tag) {
            None => Ok(None),
            Some(v) if v.len() == N => Ok(Some(<[u8; N] as Codec>::get(v))),
            Some(_) => Err(Error::BadLength("appendage option value size")),
        }
    }

    /// SecondaryOrdRefNum (tag 1).
    pub fn secondary_ord_ref_num(&self) -> Result<Option<u64>> {
        Ok(self
            .fixed::<8>(tag::SECONDARY_ORD_REF_NUM)?
            .map(u64::from_be_bytes))
    }
    /// Firm (tag 2).
    pub fn firm(&self) -> Result<Option<[u8; 4]>> {
        self.fixed::<4>(tag::FIRM)
    }
    /// MinQty (tag 3).
    pub fn min_qty(&self) -> Result<Option<u32>> {
        Ok(self.fixed::<4>(tag::MIN_QTY)?.map(u32::from_be_bytes))
    }
    /// CustomerType (tag 4).
    pub fn customer_type(&self) -> Result<Option<CustomerType>> {
        Ok(self
            .fixed::<1>(tag::CUSTOMER_TYPE)?
            .map(|[b]| CustomerType(b)))
    }
    /// MaxFloor (tag 5).
    pub fn max_floor(&self) -> Result<Option<u32>> {
        Ok(self.fixed::<4>(tag::MAX_FLOOR)?.map(u32::from_be_bytes))
    }
    /// PriceType (tag 6).
    pub fn price_type(&self) -> Result<Option<PriceType>> {
        Ok(self.fixed::<1>(tag::PRICE_TYPE)?.map(|[b]| PriceType(b)))
    }
    /// PegOffset (tag 7), signed with 4 implied decimals.
    pub fn peg_offset(&self) -> Result<Option<i32>> {
        Ok(self.fixed::<4>(tag::PEG_OFFSET)?.map(i32::from_be_bytes))
    }
    /// DiscretionPrice (tag 9); above `u32::MAX` is [`Error::OutOfRange`].
    pub fn discretion_price(&self) -> Result<Option<Price4>> {
        self.x8(tag::DISCRETION_PRICE)
    }
    /// DiscretionPriceType (tag 10).
    pub fn discretion_price_type(&self) -> Result<Option<PriceType>> {
        Ok(self
            .fixed::<1>(tag::DISCRETION_PRICE_TYPE)?
            .map(|[b]| PriceType(b)))
    }
    /// DiscretionPegOffset (tag 11), signed with 4 implied decimals.
    pub fn discretion_peg_offset(&self) -> Result<Option<i32>> {
        Ok(self
            .fixed::<4>(tag::DISCRETION_PEG_OFFSET)?
            .map(i32::from_be_bytes))
    }
    /// PostOnly (tag 12): `P` post only, `N` no.
    pub fn post_only(&self) -> Result<Option<u8>> {
        Ok(self.fixed::<1>(tag::POST_ONLY)?.map(|[b]| b))
    }
    /// RandomReserves (tag 13).
    pub fn random_reserves(&self) -> Result<Option<u32>> {
        Ok(self
            .fixed::<4>(tag::RANDOM_RESERVES)?
            .map(u32::from_be_bytes))
    }
    /// Route (tag 14).
    pub fn route(&self) -> Result<Option<[u8; 4]>> {
        self.fixed::<4>(tag::ROUTE)
    }
    /// ExpireTime (tag 15), seconds since midnight.
    pub fn expire_time(&self) -> Result<Option<u32>> {
        Ok(self.fixed::<4>(tag::EXPIRE_TIME)?.map(u32::from_be_bytes))
    }
    /// TradeNow (tag 16): `Y`, `N`, ` ` (port default).
    pub fn trade_now(&self) -> Result<Option<u8>> {
        Ok(self.fixed::<1>(tag::TRADE_NOW)?.map(|[b]| b))
    }
    /// HandleInst (tag 17).
    pub fn handle_inst(&self) -> Result<Option<HandleInst>> {
        Ok(self.fixed::<1>(tag::HANDLE_INST)?.map(|[b]| HandleInst(b)))
    }
    /// BBO Weight Indicator (tag 18).
    pub fn bbo_weight(&self) -> Result<Option<BboWeight>> {
        Ok(self
            .fixed::<1>(tag::BBO_WEIGHT_INDICATOR)?
            .map(|[b]| BboWeight(b)))
    }
    /// Display Quantity (tag 22).
    pub fn display_quantity(&self) -> Result<Option<u32>> {
        Ok(self
            .fixed::<4>(tag::DISPLAY_QUANTITY)?
            .map(u32::from_be_bytes))
    }
    /// Display Price (tag 23); above `u32::MAX` is [`Error::OutOfRange`].
    pub fn display_price(&self) -> Result<Option<Price4>> {
        self.x8(tag::DISPLAY_PRICE)
    }
    /// GroupID (tag 24).
    pub fn group_id(&self) -> Result<Option<u16>> {
        Ok(self.fixed::<2>(tag::GROUP_ID)?.map(u16::from_be_bytes))
    }
    /// SharesLocated (tag 25): `Y`, `N`.
    pub fn shares_located(&self) -> Result<Option<u8>> {
        Ok(self.fixed::<1>(tag::SHARES_LOCATED)?.map(|[b]| b))
    }

    fn x8(&self, t: u8) -> Result<Option<Price4>> {
        match self.fixed::<8>(t)? {
            None => Ok(None),
            Some(b) => {
                X8::check(&b)?;
                Ok(Some(X8::get(&b)))
            }
        }
    }
}

impl<'a> IntoIterator for Appendage<'a> {
    type Item = Element<'a>;
    type IntoIter = Elements<'a>;
    fn into_iter(self) -> Elements<'a> {
        self.iter()
    }
}

/// Iterator over the elements of an [`Appendage`].
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Elements<'a> {
    type Item = Element<'a>;

    fn next(&mut self) -> Option<Element<'a>> {
        let (&len, after) = self.rest.split_first()?;
        let len = usize::from(len);
        // The chain was validated; stop rather than panic if it was not.
        let (Some(&tag), Some(value)) = (after.first(), after.get(1..len)) else {
            self.rest = &[];
            return None;
        };
        self.rest = &after[len..];
        Some(Element { tag, value })
    }
}

/// Writes TLV option elements into a caller's buffer.
///
/// ```
/// use floe::wire::ouch50::{Appendage, AppendageBuilder};
///
/// let mut buf = [0u8; 32];
/// let mut b = AppendageBuilder::new(&mut buf);
/// b.firm(*b"FIRM").unwrap().min_qty(100).unwrap();
/// let n = b.len();
/// assert_eq!(&buf[..6], &[0x05, 0x02, b'F', b'I', b'R', b'M']);
/// let app = Appendage::new_checked(&buf[..n]).unwrap();
/// assert_eq!(app.min_qty().unwrap(), Some(100));
/// ```
#[derive(Debug)]
pub struct AppendageBuilder<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl<'a> AppendageBuilder<'a> {
    /// Starts an empty appendage at the beginning of `out`.
    pub fn new(out: &'a mut [u8]) -> AppendageBuilder<'a> {
        AppendageBuilder { out, len: 0 }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends one element. A value longer than 254 bytes is
    /// [`Error::OutOfRange`]; a full buffer is [`Error::BufferTooSmall`]; an
    /// appendage above 65535 bytes is [`Error::OutOfRange`].
    pub fn raw(&mut self, tag: u8, value: &[u8]) -> Result<&mut Self> {
        let len = u8::try_from(value.len() + 1).map_err(|_| Error::OutOfRange("option value"))?;
        let end = self.len + 2 + value.len();
        if end > usize::from(u16::MAX) {
            return Err(Error::OutOfRange("appendage length"));
        }
        let Some(dst) = self.out.get_mut(self.len..end) else {
            return Err(Error::BufferTooSmall { need: end });
        };
        dst[0] = len;
        dst[1] = tag;
        dst[2..].copy_from_slice(value);
        self.len = end;
        Ok(self)
    }

    /// SecondaryOrdRefNum (tag 1).
    pub fn secondary_ord_ref_num(&mut self, v: u64) -> Result<&mut Self> {
        self.raw(tag::SECONDARY_ORD_REF_NUM, &v.to_be_bytes())
    }
    /// Firm (tag 2), left-justified a4.
    pub fn firm(&mut self, v: [u8; 4]) -> Result<&mut Self> {
        self.raw(tag::FIRM, &v)
    }
    /// MinQty (tag 3).
    pub fn min_qty(&mut self, v: u32) -> Result<&mut Self> {
        self.raw(tag::MIN_QTY, &v.to_be_bytes())
    }
    /// CustomerType (tag 4).
    pub fn customer_type(&mut self, v: CustomerType) -> Result<&mut Self> {
        self.raw(tag::CUSTOMER_TYPE, &[v.0])
    }
    /// MaxFloor (tag 5).
    pub fn max_floor(&mut self, v: u32) -> Result<&mut Self> {
        self.raw(tag::MAX_FLOOR, &v.to_be_bytes())
    }
    /// PriceType (tag 6).
    pub fn price_type(&mut self, v: PriceType) -> Result<&mut Self> {
        self.raw(tag::PRICE_TYPE, &[v.0])
    }
    /// PegOffset (tag 7).
    pub fn peg_offset(&mut self, v: i32) -> Result<&mut Self> {
        self.raw(tag::PEG_OFFSET, &v.to_be_bytes())
    }
    /// DiscretionPrice (tag 9), as x8.
    pub fn discretion_price(&mut self, v: Price4) -> Result<&mut Self> {
        self.raw(tag::DISCRETION_PRICE, &u64::from(v.0).to_be_bytes())
    }
    /// DiscretionPriceType (tag 10).
    pub fn discretion_price_type(&mut self, v: PriceType) -> Result<&mut Self> {
        self.raw(tag::DISCRETION_PRICE_TYPE, &[v.0])
    }
    /// DiscretionPegOffset (tag 11).
    pub fn discretion_peg_offset(&mut self, v: i32) -> Result<&mut Self> {
        self.raw(tag::DISCRETION_PEG_OFFSET, &v.to_be_bytes())
    }
    /// PostOnly (tag 12).
    pub fn post_only(&mut self, v: u8) -> Result<&mut Self> {
        self.raw(tag::POST_ONLY, &[v])
    }
    /// RandomReserves (tag 13).
    pub fn random_reserves(&mut self, v: u32) -> Result<&mut Self> {
        self.raw(tag::RANDOM_RESERVES, &v.to_be_bytes())
    }
    /// Route (tag 14).
    pub fn route(&mut self, v: [u8; 4]) -> Result<&mut Self> {
        self.raw(tag::ROUTE, &v)
    }
    /// ExpireTime (tag 15).
    pub fn expire_time(&mut self, v: u32) -> Result<&mut Self> {
        self.raw(tag::EXPIRE_TIME, &v.to_be_bytes())
    }
    /// TradeNow (tag 16).
    pub fn trade_now(&mut self, v: u8) -> Result<&mut Self> {
        self.raw(tag::TRADE_NOW, &[v])
    }
    /// HandleInst (tag 17).
    pub fn handle_inst(&mut self, v: HandleInst) -> Result<&mut Self> {
        self.raw(tag::HANDLE_INST, &[v.0])
    }
    /// BBO Weight Indicator (tag 18).
    pub fn bbo_weight(&mut self, v: BboWeight) -> Result<&mut Self> {
        self.raw(tag::BBO_WEIGHT_INDICATOR, &[v.0])
    }
    /// Display Quantity (tag 22).
    pub fn display_quantity(&mut self, v: u32) -> Result<&mut Self> {
        self.raw(tag::DISPLAY_QUANTITY, &v.to_be_bytes())
    }
    /// Display Price (tag 23), as x8.
    pub fn display_price(&mut self, v: Price4) -> Result<&mut Self> {
        self.raw(tag::DISPLAY_PRICE, &u64::from(v.0).to_be_bytes())
    }
    /// GroupID (tag 24).
    pub fn group_id(&mut self, v: u16) -> Result<&mut Self> {
        self.raw(tag::GROUP_ID, &v.to_be_bytes())
    }
    /// SharesLocated (tag 25).
    pub fn shares_located(&mut self, v: u8) -> Result<&mut Self> {
        self.raw(tag::SHARES_LOCATED, &[v])
    }
}

/// The owned form of an appendage: one field per known option tag.
/// Parsing keeps the first occurrence of a tag and skips unknown tags;
/// emitting writes the present options in ascending tag order. Which options
/// a message may carry is the venue's rule, not enforced here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Tag 1.
    pub secondary_ord_ref_num: Option<u64>,
    /// Tag 2.
    pub firm: Option<[u8; 4]>,
    /// Tag 3.
    pub min_qty: Option<u32>,
    /// Tag 4.
    pub customer_type: Option<CustomerType>,
    /// Tag 5.
    pub max_floor: Option<u32>,
    /// Tag 6.
    pub price_type: Option<PriceType>,
    /// Tag 7.
    pub peg_offset: Option<i32>,
    /// Tag 9.
    pub discretion_price: Option<Price4>,
    /// Tag 10.
    pub discretion_price_type: Option<PriceType>,
    /// Tag 11.
    pub discretion_peg_offset: Option<i32>,
    /// Tag 12.
    pub post_only: Option<u8>,
    /// Tag 13.
    pub random_reserves: Option<u32>,
    /// Tag 14.
    pub route: Option<[u8; 4]>,
    /// Tag 15.
    pub expire_time: Option<u32>,
    /// Tag 16.
    pub trade_now: Option<u8>,
    /// Tag 17.
    pub handle_inst: Option<HandleInst>,
    /// Tag 18.
    pub bbo_weight: Option<BboWeight>,
    /// Tag 22.
    pub display_quantity: Option<u32>,
    /// Tag 23.
    pub display_price: Option<Price4>,
    /// Tag 24.
    pub group_id: Option<u16>,
    /// Tag 25.
    pub shares_located: Option<u8>,
}

impl Options {
    /// No options.
    pub const NONE: Options = Options {
        secondary_ord_ref_num: None,
        firm: None,
        min_qty: None,
        customer_type: None,
        max_floor: None,
        price_type: None,
        peg_offset: None,
        discretion_price: None,
        discretion_price_type: None,
        discretion_peg_offset: None,
        post_only: None,
        random_reserves: None,
        route: None,
        expire_time: None,
        trade_now: None,
        handle_inst: None,
        bbo_weight: None,
        display_quantity: None,
        display_price: None,
        group_id: None,
        shares_located: None,
    };

    /// Reads every known option of `app` in one pass. A known tag whose value
    /// has the wrong size is [`Error::BadLength`]; an x8 price above
    /// `u32::MAX` is [`Error::OutOfRange`].
    pub fn parse(app: &Appendage<'_>) -> Result<Options> {
        fn val<const N: usize>(v: &[u8]) -> Result<[u8; N]> {
            if v.len() != N {
                return Err(Error::BadLength("appendage option value size"));
            }
            Ok(<[u8; N] as Codec>::get(v))
        }
        fn set<T>(slot: &mut Option<T>, v: Result<T>) -> Result<()> {
            if slot.is_none() {
                *slot = Some(v?);
            }
            Ok(())
        }
        fn x8(v: &[u8]) -> Result<Price4> {
            let b = val::<8>(v)?;
            X8::check(&b)?;
            Ok(X8::get(&b))
        }
        let mut o = Options::NONE;
        for e in app.iter() {
            let v = e.value;
            match e.tag {
                tag::SECONDARY_ORD_REF_NUM => set(
                    &mut o.secondary_ord_ref_num,
                    val::<8>(v).map(u64::from_be_bytes),
                )?,
                tag::FIRM => set(&mut o.firm, val::<4>(v))?,
                tag::MIN_QTY => set(&mut o.min_qty, val::<4>(v).map(u32::from_be_bytes))?,
                tag::CUSTOMER_TYPE => {
                    set(&mut o.customer_type, val::<1>(v).map(|[b]| CustomerType(b)))?
                }
                tag::MAX_FLOOR => set(&mut o.max_floor, val::<4>(v).map(u32::from_be_bytes))?,
                tag::PRICE_TYPE => set(&mut o.price_type, val::<1>(v).map(|[b]| PriceType(b)))?,
                tag::PEG_OFFSET => set(&mut o.peg_offset, val::<4>(v).map(i32::from_be_bytes))?,
                tag::DISCRETION_PRICE => set(&mut o.discretion_price, x8(v))?,
                tag::DISCRETION_PRICE_TYPE => set(
                    &mut o.discretion_price_type,
                    val::<1>(v).map(|[b]| PriceType(b)),
                )?,
                tag::DISCRETION_PEG_OFFSET => set(
                    &mut o.discretion_peg_offset,
                    val::<4>(v).map(i32::from_be_bytes),
                )?,
                tag::POST_ONLY => set(&mut o.post_only, val::<1>(v).map(|[b]| b))?,
                tag::RANDOM_RESERVES => {
                    set(&mut o.random_reserves, val::<4>(v).map(u32::from_be_bytes))?
                }
                tag::ROUTE => set(&mut o.route, val::<4>(v))?,
                tag::EXPIRE_TIME => set(&mut o.expire_time, val::<4>(v).map(u32::from_be_bytes))?,
                tag::TRADE_NOW => set(&mut o.trade_now, val::<1>(v).map(|[b]| b))?,
                tag::HANDLE_INST => set(&mut o.handle_inst, val::<1>(v).map(|[b]| HandleInst(b)))?,
                tag::BBO_WEIGHT_INDICATOR => {
                    set(&mut o.bbo_weight, val::<1>(v).map(|[b]| BboWeight(b)))?
                }
                tag::DISPLAY_QUANTITY => {
                    set(&mut o.display_quantity, val::<4>(v).map(u32::from_be_bytes))?
                }
                tag::DISPLAY_PRICE => set(&mut o.display_price, x8(v))?,
                tag::GROUP_ID => set(&mut o.group_id, val::<2>(v).map(u16::from_be_bytes))?,
                tag::SHARES_LOCATED => set(&mut o.shares_located, val::<1>(v).map(|[b]| b))?,
                _ => {}
            }
        }
        Ok(o)
    }

    /// Bytes [`Self::emit`] writes.
    pub fn encoded_len(&self) -> usize {
        fn n<T>(o: &Option<T>, size: usize) -> usize {
            if o.is_some() {
                2 + size
            } else {
                0
            }
        }
        n(&self.secondary_ord_ref_num, 8)
            + n(&self.firm, 4)
            + n(&self.min_qty, 4)
            + n(&self.customer_type, 1)
            + n(&self.max_floor, 4)
            + n(&self.price_type, 1)
            + n(&self.peg_offset, 4)
            + n(&self.discretion_price, 8)
            + n(&self.discretion_price_type, 1)
            + n(&self.discretion_peg_offset, 4)
            + n(&self.post_only, 1)
            + n(&self.random_reserves, 4)
            + n(&self.route, 4)
            + n(&self.expire_time, 4)
            + n(&self.trade_now, 1)
            + n(&self.handle_inst, 1)
            + n(&self.bbo_weight, 1)
            + n(&self.display_quantity, 4)
            + n(&self.display_price, 8)
            + n(&self.group_id, 2)
            + n(&self.shares_located, 1)
    }

    /// Writes the present options into `out` in ascending tag order and
    /// returns the bytes written.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let mut b = AppendageBuilder::new(out);
        self.write(&mut b)?;
        Ok(b.len())
    }

    /// Appends the present options to a builder, in ascending tag order.
    pub fn write(&self, b: &mut AppendageBuilder<'_>) -> Result<()> {
        if let Some(v) = self.secondary_ord_ref_num {
            b.secondary_ord_ref_num(v)?;
        }
        if let Some(v) = self.firm {
            b.firm(v)?;
        }
        if let Some(v) = self.min_qty {
            b.min_qty(v)?;
        }
        if let Some(v) = self.customer_type {
            b.customer_type(v)?;
        }
        if let Some(v) = self.max_floor {
            b.max_floor(v)?;
        }
        if let Some(v) = self.price_type {
            b.price_type(v)?;
        }
        if let Some(v) = self.peg_offset {
            b.peg_offset(v)?;
        }
        if let Some(v) = self.discretion_price {
            b.discretion_price(v)?;
        }
        if let Some(v) = self.discretion_price_type {
            b.discretion_price_type(v)?;
        }
        if let Some(v) = self.discretion_peg_offset {
            b.discretion_peg_offset(v)?;
        }
        if let Some(v) = self.post_only {
            b.post_only(v)?;
        }
        if let Some(v) = self.random_reserves {
            b.random_reserves(v)?;
        }
        if let Some(v) = self.route {
            b.route(v)?;
        }
        if let Some(v) = self.expire_time {
            b.expire_time(v)?;
        }
        if let Some(v) = self.trade_now {
            b.trade_now(v)?;
        }
        if let Some(v) = self.handle_inst {
            b.handle_inst(v)?;
        }
        if let Some(v) = self.bbo_weight {
            b.bbo_weight(v)?;
        }
        if let Some(v) = self.display_quantity {
            b.display_quantity(v)?;
        }
        if let Some(v) = self.display_price {
            b.display_price(v)?;
        }
        if let Some(v) = self.group_id {
            b.group_id(v)?;
        }
        if let Some(v) = self.shares_located {
            b.shares_located(v)?;
        }
        Ok(())
    }
}

/// Valid TLV bytes for property tests: known tags with values of the right
/// size (prices within `u32`), plus unknown tags with any value.
#[cfg(test)]
pub(crate) fn arb_appendage() -> proptest::strategy::BoxedStrategy<Vec<u8>> {
    use proptest::prelude::*;
    const SIZES: &[(u8, usize)] = &[
        (1, 8),
        (2, 4),
        (3, 4),
        (4, 1),
        (5, 4),
        (6, 1),
        (7, 4),
        (9, 8),
        (10, 1),
        (11, 4),
        (12, 1),
        (13, 4),
        (14, 4),
        (15, 4),
        (16, 1),
        (17, 1),
        (18, 1),
        (22, 4),
        (23, 8),
        (24, 2),
        (25, 1),
    ];
    let known = prop::sample::select(SIZES).prop_flat_map(|(t, size)| {
        proptest::collection::vec(any::<u8>(), size).prop_map(move |mut v| {
            if t == tag::DISCRETION_PRICE || t == tag::DISPLAY_PRICE {
                v[..4].fill(0);
            }
            let mut e = vec![(size + 1) as u8, t];
            e.extend_from_slice(&v);
            e
        })
    });
    let unknown = (
        prop::sample::select(&[0u8, 8, 19, 20, 21, 26, 99, 255][..]),
        proptest::collection::vec(any::<u8>(), 0..6),
    )
        .prop_map(|(t, v)| {
            let mut e = vec![(v.len() + 1) as u8, t];
            e.extend_from_slice(&v);
            e
        });
    proptest::collection::vec(prop_oneof![4 => known, 1 => unknown], 0..6)
        .prop_map(|es| es.concat())
        .boxed()
}

// ---------------------------------------------------------------- inbound

ouch_message! {
    /// `O` Enter Order (47 bytes + appendage).
    view EnterOrder;
    repr EnterOrderRepr;
    type b'O', len 47, appendage options;
    {
        /// UserRefNum: unique and strictly increasing per port and day.
        user_ref_num / set_user_ref_num: u32 [u32] = 1,
        /// Side (checked: `B`, `S`, `T`, `E`).
        side / set_side: BuySell [BuySell] = 5,
        /// Quantity, 1..999,999.
        quantity / set_quantity: u32 [u32] = 6,
        /// Symbol.
        symbol / set_symbol: Symbol [Symbol] = 10,
        /// Price (`x8`; must fit `u32`).
        price / set_price: Price4 [X8] = 18,
        /// Time In Force.
        time_in_force / set_time_in_force: TimeInForce [TimeInForce] = 26,
        /// Display.
        display / set_display: Display [Display] = 27,
        /// Capacity.
        capacity / set_capacity: Capacity [Capacity] = 28,
        /// Intermarket Sweep Eligibility.
        intermarket_sweep / set_intermarket_sweep: IntermarketSweep [IntermarketSweep] = 29,
        /// Cross Type.
        cross_type / set_cross_type: CrossType [CrossType] = 30,
        /// ClOrdID.
        cl_ord_id / set_cl_ord_id: ClOrdId [ClOrdId] = 31,
    }
}

ouch_message! {
    /// `U` Replace Order (40 bytes + appendage).
    view ReplaceOrder;
    repr ReplaceOrderRepr;
    type b'U', len 40, appendage options;
    {
        /// UserRefNum of the live order.
        orig_user_ref_num / set_orig_user_ref_num: u32 [u32] = 1,
        /// UserRefNum of the replacement (new, increasing).
        user_ref_num / set_user_ref_num: u32 [u32] = 5,
        /// Quantity: total liable for the chain.
        quantity / set_quantity: u32 [u32] = 9,
        /// Price (`x8`).
        price / set_price: Price4 [X8] = 13,
        /// Time In Force.
        time_in_force / set_time_in_force: TimeInForce [TimeInForce] = 21,
        /// Display.
        display / set_display: Display [Display] = 22,
        /// Intermarket Sweep Eligibility.
        intermarket_sweep / set_intermarket_sweep: IntermarketSweep [IntermarketSweep] = 23,
        /// ClOrdID of the replacement.
        cl_ord_id / set_cl_ord_id: ClOrdId [ClOrdId] = 24,
    }
}

ouch_message! {
    /// `X` Cancel Order (9 bytes).
    view CancelOrder;
    repr CancelOrderRepr;
    type b'X', len 9;
    {
        /// UserRefNum of the order.
        user_ref_num / set_user_ref_num: u32 [u32] = 1,
        /// New intended size; 0 cancels all.
        quantity / set_quantity: u32 [u32] = 5,
    }
}

ouch_message! {
    /// `M` Modify Order (10 bytes).
    view ModifyOrder;
    repr ModifyOrderRepr;
    type b'M', len 10;
    {
        /// UserRefNum of the order.
        user_ref_num / set_user_ref_num: u32 [u32] = 1,
        /// Side: changes only among `S`, `T`, `E`.
        side / set_side: BuySell [BuySell] = 5,
        /// Quantity; cannot increase.
        quantity / set_quantity: u32 [u32] = 6,
    }
}

ouch_message! {
    /// `Q` Account Query (1 byte).
    view AccountQuery;
    repr AccountQueryRepr;
    type b'Q', len 1;
    {}
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
    /// `A` Order Accepted (64 bytes + appendage).
    view Accepted;
    repr AcceptedRepr;
    type b'A', len 64, appendage options;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum.
        user_ref_num / set_user_ref_num: u32 [u32] = 9,
        /// Side.
        side / set_side: BuySell [BuySell] = 13,
        /// Quantity accepted.
        quantity / set_quantity: u32 [u32] = 14,
        /// Symbol.
        symbol / set_symbol: Symbol [Symbol] = 18,
        /// Accepted price (`x8`).
        price / set_price: Price4 [X8] = 26,
        /// Time In Force.
        time_in_force / set_time_in_force: TimeInForce [TimeInForce] = 34,
        /// Display.
        display / set_display: Display [Display] = 35,
        /// The venue's Order Reference Number.
        order_ref / set_order_ref: u64 [u64] = 36,
        /// Capacity.
        capacity / set_capacity: Capacity [Capacity] = 44,
        /// Intermarket Sweep Eligibility.
        intermarket_sweep / set_intermarket_sweep: IntermarketSweep [IntermarketSweep] = 45,
        /// Cross Type.
        cross_type / set_cross_type: CrossType [CrossType] = 46,
        /// Order State (checked).
        state / set_state: OrderState [OrderState] = 47,
        /// ClOrdID.
        cl_ord_id / set_cl_ord_id: ClOrdId [ClOrdId] = 48,
    }
}

ouch_message! {
    /// `U` Order Replaced (68 bytes + appendage).
    view Replaced;
    repr ReplacedRepr;
    type b'U', len 68, appendage options;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum of the replaced order.
        orig_user_ref_num / set_orig_user_ref_num: u32 [u32] = 9,
        /// UserRefNum of the replacement.
        user_ref_num / set_user_ref_num: u32 [u32] = 13,
        /// Side.
        side / set_side: BuySell [BuySell] = 17,
        /// Quantity.
        quantity / set_quantity: u32 [u32] = 18,
        /// Symbol.
        symbol / set_symbol: Symbol [Symbol] = 22,
        /// Price (`x8`).
        price / set_price: Price4 [X8] = 30,
        /// Time In Force.
        time_in_force / set_time_in_force: TimeInForce [TimeInForce] = 38,
        /// Display.
        display / set_display: Display [Display] = 39,
        /// The venue's new Order Reference Number.
        order_ref / set_order_ref: u64 [u64] = 40,
        /// Capacity.
        capacity / set_capacity: Capacity [Capacity] = 48,
        /// Intermarket Sweep Eligibility.
        intermarket_sweep / set_intermarket_sweep: IntermarketSweep [IntermarketSweep] = 49,
        /// Cross Type.
        cross_type / set_cross_type: CrossType [CrossType] = 50,
        /// Order State (checked).
        state / set_state: OrderState [OrderState] = 51,
        /// ClOrdID of the replacement.
        cl_ord_id / set_cl_ord_id: ClOrdId [ClOrdId] = 52,
    }
}

ouch_message! {
    /// `C` Order Canceled (18 bytes).
    view Canceled;
    repr CanceledRepr;
    type b'C', len 18;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum.
        user_ref_num / set_user_ref_num: u32 [u32] = 9,
        /// Shares taken off (decrement).
        quantity / set_quantity: u32 [u32] = 13,
        /// Why.
        reason / set_reason: CancelReason [CancelReason] = 17,
    }
}

ouch_message! {
    /// `D` AIQ Canceled (32 bytes, NQ-O5 2023 with AIQ Strategy).
    view AiqCanceled;
    repr AiqCanceledRepr;
    type b'D', len 32;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum.
        user_ref_num / set_user_ref_num: u32 [u32] = 9,
        /// Shares taken off.
        decrement_shares / set_decrement_shares: u32 [u32] = 13,
        /// Why (`Q`).
        reason / set_reason: CancelReason [CancelReason] = 17,
        /// Shares that would have executed.
        quantity_prevented / set_quantity_prevented: u32 [u32] = 18,
        /// Price at which the trade would have occurred (`x8`).
        execution_price / set_execution_price: Price4 [X8] = 22,
        /// Liquidity flag it would have received.
        liquidity_flag / set_liquidity_flag: LiquidityFlag [LiquidityFlag] = 30,
        /// AIQ Strategy (raw byte; NQ-O5 2023).
        aiq_strategy / set_aiq_strategy: u8 [u8] = 31,
    }
}

ouch_message! {
    /// `E` Order Executed (36 bytes + appendage).
    view Executed;
    repr ExecutedRepr;
    type b'E', len 36, appendage options;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum.
        user_ref_num / set_user_ref_num: u32 [u32] = 9,
        /// Shares executed.
        quantity / set_quantity: u32 [u32] = 13,
        /// Execution price (`x8`).
        price / set_price: Price4 [X8] = 17,
        /// Liquidity flag.
        liquidity_flag / set_liquidity_flag: LiquidityFlag [LiquidityFlag] = 25,
        /// Match number.
        match_number / set_match_number: u64 [u64] = 26,
    }
}

ouch_message! {
    /// `B` Broken Trade (36 bytes).
    view BrokenTrade;
    repr BrokenTradeRepr;
    type b'B', len 36;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum.
        user_ref_num / set_user_ref_num: u32 [u32] = 9,
        /// Match number being broken.
        match_number / set_match_number: u64 [u64] = 13,
        /// Why.
        reason / set_reason: BrokenTradeReason [BrokenTradeReason] = 21,
        /// ClOrdID.
        cl_ord_id / set_cl_ord_id: ClOrdId [ClOrdId] = 22,
    }
}

ouch_message! {
    /// `J` Rejected (29 bytes).
    view Rejected;
    repr RejectedRepr;
    type b'J', len 29;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum.
        user_ref_num / set_user_ref_num: u32 [u32] = 9,
        /// Why (u16 code).
        reason / set_reason: RejectReason [RejectReason] = 13,
        /// ClOrdID.
        cl_ord_id / set_cl_ord_id: ClOrdId [ClOrdId] = 15,
    }
}

ouch_message! {
    /// `P` Cancel Pending (13 bytes).
    view CancelPending;
    repr CancelPendingRepr;
    type b'P', len 13;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum.
        user_ref_num / set_user_ref_num: u32 [u32] = 9,
    }
}

ouch_message! {
    /// `I` Cancel Reject (13 bytes).
    view CancelReject;
    repr CancelRejectRepr;
    type b'I', len 13;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum.
        user_ref_num / set_user_ref_num: u32 [u32] = 9,
    }
}

ouch_message! {
    /// `T` Priority Update (30 bytes).
    view PriorityUpdate;
    repr PriorityUpdateRepr;
    type b'T', len 30;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum.
        user_ref_num / set_user_ref_num: u32 [u32] = 9,
        /// Price now (`x8`).
        price / set_price: Price4 [X8] = 13,
        /// Display now.
        display / set_display: Display [Display] = 21,
        /// The new Order Reference Number.
        order_ref / set_order_ref: u64 [u64] = 22,
    }
}

ouch_message! {
    /// `M` Order Modified (18 bytes).
    view OrderModified;
    repr OrderModifiedRepr;
    type b'M', len 18;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum.
        user_ref_num / set_user_ref_num: u32 [u32] = 9,
        /// Side now.
        side / set_side: BuySell [BuySell] = 13,
        /// Quantity now.
        quantity / set_quantity: u32 [u32] = 14,
    }
}

ouch_message! {
    /// `R` Order Restated (16 bytes + appendage).
    view Restated;
    repr RestatedRepr;
    type b'R', len 16, appendage options;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// UserRefNum.
        user_ref_num / set_user_ref_num: u32 [u32] = 9,
        /// Why.
        reason / set_reason: RestatedReason [RestatedReason] = 13,
    }
}

ouch_message! {
    /// `Q` Account Query Response (13 bytes).
    view AccountQueryResponse;
    repr AccountQueryResponseRepr;
    type b'Q', len 13;
    {
        /// Nanoseconds since midnight.
        timestamp / set_timestamp: u64 [u64] = 1,
        /// The lowest UserRefNum the venue will accept next.
        next_user_ref_num / set_next_user_ref_num: u32 [u32] = 9,
    }
}

message_set! {
    /// Every client → venue OUCH 5.0 message.
    pub enum Inbound {
        /// `O`.
        EnterOrder(EnterOrderRepr),
        /// `U`.
        ReplaceOrder(ReplaceOrderRepr),
        /// `X`.
        CancelOrder(CancelOrderRepr),
        /// `M`.
        ModifyOrder(ModifyOrderRepr),
        /// `Q`.
        AccountQuery(AccountQueryRepr),
    }
}

message_set! {
    /// Every venue → client OUCH 5.0 message.
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
        /// `R`.
        Restated(RestatedRepr),
        /// `Q`.
        AccountQueryResponse(AccountQueryResponseRepr),
    }
}

#[cfg(test)]
mod tests;
