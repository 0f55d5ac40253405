//! The dialect-neutral order model: what the engine sends ([`OrderRequest`])
//! and what it hears back ([`OrderEvent`]).
//!
//! Nothing above `wire::ouch42` / `wire::ouch50` knows which OUCH dialect is
//! in use. Identifiers:
//! - [`OrderRef`]: a number the engine mints for every order it sends, strictly
//!   increasing over the trading day and never reused. OUCH 5.0 sends it as the
//!   UserRefNum; OUCH 4.2 encodes it in the 14-byte token.
//! - [`ChildTag`]: (parent, child number). OUCH 4.2 encodes it in the token,
//!   OUCH 5.0 in the ClOrdID, so a report maps back to its parent without
//!   local state (recovery with a lost journal tail, a standby taking over).
//!
//! All types are `Copy` and fixed-size: building or matching them never
//! allocates.

use crate::types::{Price4, Qty, Side, Symbol};

/// The engine-minted order number (OUCH 5.0 UserRefNum; inside the OUCH 4.2
/// token). Strictly increasing per trading day and port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderRef(pub u32);

/// Which parent a child belongs to and its number within that parent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChildTag {
    /// The parent's id (engine-assigned, never reused).
    pub parent: u32,
    /// The child's number within its parent, from 1.
    pub child: u32,
}

/// How long an order lives at the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    /// Until the end of the trading day (OUCH 5.0 `0`, OUCH 4.2 99998 market hours).
    Day,
    /// Immediate or cancel (OUCH 5.0 `3`, OUCH 4.2 0).
    Ioc,
}

/// An instruction to the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRequest {
    /// Enter a new order.
    Enter {
        /// New order number.
        order: OrderRef,
        /// Parent and child number.
        tag: ChildTag,
        /// Buy or sell.
        side: Side,
        /// Shares.
        qty: Qty,
        /// Stock.
        symbol: Symbol,
        /// Limit price.
        price: Price4,
        /// Lifetime.
        tif: TimeInForce,
    },
    /// Reduce an order to `remaining` shares (zero cancels it outright).
    Cancel {
        /// The order to cancel.
        order: OrderRef,
        /// Its tag (OUCH 4.2 needs it to rebuild the token).
        tag: ChildTag,
        /// The new intended size; zero cancels all.
        remaining: Qty,
    },
    /// Replace an order with a new number, size and price.
    Replace {
        /// The live order.
        old: OrderRef,
        /// Its tag.
        old_tag: ChildTag,
        /// The replacement's number.
        new: OrderRef,
        /// The replacement's tag.
        new_tag: ChildTag,
        /// Total shares liable.
        qty: Qty,
        /// New limit price.
        price: Price4,
    },
    /// Ask the venue for account state (OUCH 5.0 NextUserRefNum); a no-op in
    /// OUCH 4.2, which has no such message.
    AccountQuery,
}

/// Why the venue rejected an order: the raw code plus the dialect's
/// description. The set stays open: an unknown code keeps its raw value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejectReason {
    /// OUCH 4.2: the reason byte; OUCH 5.0: the u16 reason code.
    pub code: u16,
    /// Human-readable meaning, `"unknown"` for codes not in the specification.
    pub text: &'static str,
}

/// Why the venue canceled (some or all of) an order: raw byte plus meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CancelReason {
    /// The reason byte (`U` user, `I` IOC, `T` timeout, `S` supervisory, …).
    pub code: u8,
    /// Human-readable meaning, `"unknown"` for codes not in the specification.
    pub text: &'static str,
}

/// A report from the venue, dialect-neutral. `ts` is the venue's timestamp
/// (nanoseconds since midnight; OUCH 4.2 and 5.0 both carry one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderEvent {
    /// Start or end of day (`S` start, `E` end).
    SystemEvent {
        /// Venue time.
        ts: u64,
        /// Event code byte.
        code: u8,
    },
    /// The order is on the book (or was accepted and is already dead).
    Accepted {
        /// Venue time.
        ts: u64,
        /// The order.
        order: OrderRef,
        /// Parent/child, when the dialect carries it in this message.
        tag: Option<ChildTag>,
        /// Side.
        side: Side,
        /// Shares accepted.
        qty: Qty,
        /// Stock.
        symbol: Symbol,
        /// Price accepted.
        price: Price4,
        /// The venue's order reference number (as in ITCH).
        venue_order_ref: u64,
        /// False if the order was accepted dead (OUCH 5.0 order state `D`).
        live: bool,
    },
    /// A replace took effect: `old` is gone, `order` is live.
    Replaced {
        /// Venue time.
        ts: u64,
        /// The replaced order.
        old: OrderRef,
        /// The replacement.
        order: OrderRef,
        /// Parent/child of the replacement, when carried.
        tag: Option<ChildTag>,
        /// Side.
        side: Side,
        /// Shares now liable.
        qty: Qty,
        /// Stock.
        symbol: Symbol,
        /// New price.
        price: Price4,
        /// The venue's new order reference number.
        venue_order_ref: u64,
        /// False if dead on arrival.
        live: bool,
    },
    /// Shares canceled off an order (`decrement`; the order is dead when its
    /// open quantity reaches zero).
    Canceled {
        /// Venue time.
        ts: u64,
        /// The order.
        order: OrderRef,
        /// Shares taken off.
        decrement: Qty,
        /// Why.
        reason: CancelReason,
    },
    /// A fill.
    Executed {
        /// Venue time.
        ts: u64,
        /// The order.
        order: OrderRef,
        /// Shares filled.
        qty: Qty,
        /// Fill price.
        price: Price4,
        /// Liquidity flag byte (open set).
        liquidity: u8,
        /// Match number (shared with the contra side and ITCH).
        match_number: u64,
    },
    /// The venue refused the order.
    Rejected {
        /// Venue time.
        ts: u64,
        /// The order.
        order: OrderRef,
        /// Parent/child, when carried.
        tag: Option<ChildTag>,
        /// Why.
        reason: RejectReason,
    },
    /// A cancel was received but cannot take effect yet.
    CancelPending {
        /// Venue time.
        ts: u64,
        /// The order.
        order: OrderRef,
    },
    /// A cancel was refused (e.g. the order is in a cross).
    CancelReject {
        /// Venue time.
        ts: u64,
        /// The order.
        order: OrderRef,
    },
    /// A fill was broken (busted) by the venue.
    BrokenTrade {
        /// Venue time.
        ts: u64,
        /// The order.
        order: OrderRef,
        /// The broken match.
        match_number: u64,
        /// Reason byte (`E` erroneous, `C` consent, `S` supervisory, `X` external).
        reason: u8,
    },
    /// The venue reassigned priority (new price/display, new order reference).
    PriorityUpdate {
        /// Venue time.
        ts: u64,
        /// The order.
        order: OrderRef,
        /// Price now.
        price: Price4,
        /// New venue order reference.
        venue_order_ref: u64,
    },
    /// Side or size modified (OUCH Modify).
    Modified {
        /// Venue time.
        ts: u64,
        /// The order.
        order: OrderRef,
        /// Side now.
        side: Side,
        /// Shares now open.
        qty: Qty,
    },
    /// OUCH 5.0 Restated (display refresh / price update); informational.
    Restated {
        /// Venue time.
        ts: u64,
        /// The order.
        order: OrderRef,
        /// Reason byte.
        reason: u8,
    },
    /// OUCH 5.0 Account Query Response: the lowest UserRefNum the venue will
    /// still accept.
    AccountQueryResponse {
        /// Venue time.
        ts: u64,
        /// Next acceptable order number.
        next_order: OrderRef,
    },
}

impl OrderEvent {
    /// The order the event is about, if any.
    pub fn order(&self) -> Option<OrderRef> {
        match *self {
            OrderEvent::SystemEvent { .. } | OrderEvent::AccountQueryResponse { .. } => None,
            OrderEvent::Accepted { order, .. }
            | OrderEvent::Replaced { order, .. }
            | OrderEvent::Canceled { order, .. }
            | OrderEvent::Executed { order, .. }
            | OrderEvent::Rejected { order, .. }
            | OrderEvent::CancelPending { order, .. }
            | OrderEvent::CancelReject { order, .. }
            | OrderEvent::BrokenTrade { order, .. }
            | OrderEvent::PriorityUpdate { order, .. }
            | OrderEvent::Modified { order, .. }
            | OrderEvent::Restated { order, .. } => Some(order),
        }
    }
}

/// Errors an OUCH dialect reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DialectError {
    /// The message is shorter than its type requires.
    #[error("message too short: {len} bytes, need {need}")]
    Truncated {
        /// Bytes present.
        len: usize,
        /// Bytes required.
        need: usize,
    },
    /// The message type byte is not one this dialect knows in this direction.
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    /// A field that the engine depends on holds a value outside the spec.
    #[error("bad value 0x{value:02x} in field {field}")]
    BadValue {
        /// Field name.
        field: &'static str,
        /// The byte found.
        value: u8,
    },
    /// A token / ClOrdID is not one floe minted.
    #[error("identifier not minted by floe")]
    ForeignId,
    /// The output buffer is too small.
    #[error("output buffer too small: need {need} bytes")]
    BufferTooSmall {
        /// Bytes required.
        need: usize,
    },
    /// A quantity or price does not fit the dialect's field.
    #[error("{field} out of range for this dialect")]
    OutOfRange {
        /// Field name.
        field: &'static str,
    },
    /// A length field or an alpha field of the message is malformed (e.g. an
    /// OUCH 5.0 appendage element running past its appendage).
    #[error("malformed {field}")]
    Malformed {
        /// Field name.
        field: &'static str,
    },
}

impl From<crate::wire::Error> for DialectError {
    fn from(e: crate::wire::Error) -> DialectError {
        use crate::wire::Error as W;
        match e {
            W::Truncated { len, need } => DialectError::Truncated { len, need },
            W::UnknownType(t) => DialectError::UnknownType(t),
            W::BadValue { field, value } => DialectError::BadValue { field, value },
            W::BufferTooSmall { need } => DialectError::BufferTooSmall { need },
            W::OutOfRange(field) => DialectError::OutOfRange { field },
            W::BadLength(field) | W::BadAscii(field) | W::BadChecksum(field) => {
                DialectError::Malformed { field }
            }
        }
    }
}

/// One OUCH dialect: encodes [`OrderRequest`]s and decodes venue messages into
/// [`OrderEvent`]s. Implementations never allocate and never panic on input.
pub trait OuchDialect {
    /// Writes the inbound (client → venue) message for `req` into `out` and
    /// returns its length. `Ok(0)` means the dialect has nothing to send for
    /// this request (e.g. [`OrderRequest::AccountQuery`] in OUCH 4.2).
    fn encode(&self, req: &OrderRequest, out: &mut [u8]) -> Result<usize, DialectError>;

    /// Decodes one outbound (venue → client) message, the payload of a
    /// SoupBinTCP sequenced data packet.
    fn decode(&self, msg: &[u8]) -> Result<OrderEvent, DialectError>;
}
