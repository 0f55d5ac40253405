//! Journal records: every engine state change, and its binary encoding.
//!
//! The engine changes state only by applying a [`Record`]; live inputs decide,
//! journal the record, then apply it, so recovery (applying the journaled
//! records in order) rebuilds the same state. Records carry every decision
//! input that is not in the journal itself: the engine time (`at`), the slice
//! and price chosen from market data, the PRNG position after a draw.
//!
//! Encoding (version [`RECORD_VERSION`]): the journal stores
//! `(record_type: u16, payload)`. Each payload starts with the version byte
//! and the `at` time (u64), then the type's fields, little-endian, fixed
//! width (options as a flag byte plus the value, so every record of a type
//! and variant has one size). [`Record::decode`] never panics and rejects
//! unknown types, versions, values and trailing bytes. Venue reason *texts*
//! are not journaled, only their codes: a decoded event carries `""`.

use crate::algo::iceberg::IcebergParams;
use crate::algo::risk::RiskRefusal;
use crate::engine::command::{ClientOrderId, HaltReason};
use crate::order::{CancelReason, ChildTag, OrderEvent, OrderRef, RejectReason, TimeInForce};
use crate::time::Nanos;
use crate::types::{Price4, Qty, Side, Symbol};

/// The payload format version.
pub const RECORD_VERSION: u8 = 1;

/// The largest encoded payload of any record, bytes.
pub const MAX_RECORD_LEN: usize = 128;

/// Record type codes as stored in the journal.
pub mod rec_type {
    /// [`super::Record::ParentAccepted`].
    pub const PARENT_ACCEPTED: u16 = 0x0101;
    /// [`super::Record::ParentControl`].
    pub const PARENT_CONTROL: u16 = 0x0102;
    /// [`super::Record::KillSwitch`].
    pub const KILL_SWITCH: u16 = 0x0103;
    /// [`super::Record::ChildIntent`].
    pub const CHILD_INTENT: u16 = 0x0104;
    /// [`super::Record::VenueEvent`].
    pub const VENUE_EVENT: u16 = 0x0105;
    /// [`super::Record::ParentWait`].
    pub const PARENT_WAIT: u16 = 0x0106;
    /// [`super::Record::ParentHalt`].
    pub const PARENT_HALT: u16 = 0x0107;

    /// The stable snake_case name of a type code (`child_intent`, …), for
    /// tools and error messages; `None` for a code of no record type.
    pub const fn name(code: u16) -> Option<&'static str> {
        Some(match code {
            PARENT_ACCEPTED => "parent_accepted",
            PARENT_CONTROL => "parent_control",
            KILL_SWITCH => "kill_switch",
            CHILD_INTENT => "child_intent",
            VENUE_EVENT => "venue_event",
            PARENT_WAIT => "parent_wait",
            PARENT_HALT => "parent_halt",
            _ => return None,
        })
    }
}

/// A client's control of a parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// WORKING/NEW → PAUSED; the live child is cancelled.
    Pause,
    /// PAUSED → WORKING; a slice is released at once.
    Resume,
    /// Cancel requested; CANCELLED once nothing is live.
    Cancel,
    /// New requested total and/or limit.
    Amend {
        /// New total.
        total: Option<Qty>,
        /// New limit.
        limit: Option<Price4>,
    },
}

/// What a child intent does at the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentKind {
    /// Enter a new child: `order_ref` is new, `qty` its size.
    Enter {
        /// The child's time in force.
        tif: TimeInForce,
        /// The delay before the next refresh once this child is done.
        next_delay: Nanos,
        /// The parent PRNG's word count after this decision's draws.
        rng_draws: u64,
    },
    /// Replace the live child `old` by `order_ref` (new) at `price`; `qty` is
    /// the chain's total liable including shares already executed (OUCH
    /// semantics of the Replace quantity).
    Replace {
        /// The order being replaced.
        old: OrderRef,
    },
    /// Cancel `order_ref` (the child's current order) outright; `qty` is 0.
    Cancel,
}

/// One order to the venue, journaled before its bytes go out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildIntent {
    /// Engine time of the decision.
    pub at: Nanos,
    /// Parent and child number.
    pub tag: ChildTag,
    /// The order ref sent (new for Enter and Replace, the live one for Cancel).
    pub order_ref: OrderRef,
    /// Side.
    pub side: Side,
    /// Stock.
    pub symbol: Symbol,
    /// Shares (see [`IntentKind`]).
    pub qty: Qty,
    /// Price (for Cancel: the child's price).
    pub price: Price4,
    /// Enter, Replace or Cancel.
    pub kind: IntentKind,
}

/// A journal record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// A new parent was accepted.
    ParentAccepted {
        /// Engine time (the parent's `created_at`).
        at: Nanos,
        /// Engine-assigned id.
        parent: u32,
        /// Idempotency key.
        client_order_id: ClientOrderId,
        /// Parameters as accepted.
        params: IcebergParams,
        /// PRNG seed.
        seed: u64,
    },
    /// Pause, resume, cancel or amend.
    ParentControl {
        /// Engine time.
        at: Nanos,
        /// Parent id.
        parent: u32,
        /// What.
        control: Control,
    },
    /// The kill switch was set or reset.
    KillSwitch {
        /// Engine time.
        at: Nanos,
        /// On or off.
        on: bool,
    },
    /// An order to the venue.
    ChildIntent(ChildIntent),
    /// A sequenced report from the venue.
    VenueEvent {
        /// Engine time of receipt.
        at: Nanos,
        /// SoupBinTCP sequence number of the message.
        soup_seq: u64,
        /// The report.
        event: OrderEvent,
    },
    /// Risk refused a parent's next child; it waits.
    ParentWait {
        /// Engine time.
        at: Nanos,
        /// Parent id.
        parent: u32,
        /// Why.
        reason: RiskRefusal,
        /// When to try again (rate limit), else the next quote.
        retry_at: Option<Nanos>,
    },
    /// The engine halted a parent (REJECTED).
    ParentHalt {
        /// Engine time.
        at: Nanos,
        /// Parent id.
        parent: u32,
        /// Why.
        reason: HaltReason,
    },
}

/// Why a record could not be encoded or decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not a record type of this module.
    #[error("unknown record type 0x{0:04x}")]
    UnknownType(u16),
    /// A payload version this build does not read.
    #[error("unsupported record version {0}")]
    Version(u8),
    /// The payload ended early.
    #[error("record truncated")]
    Truncated,
    /// Bytes after the last field.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// A field holds a value outside its domain.
    #[error("bad value in {0}")]
    BadValue(&'static str),
    /// The output buffer is too small.
    #[error("output buffer too small")]
    BufferTooSmall,
}

/// A little-endian writer over a fixed buffer (shared with snapshots).
pub(crate) struct W<'a> {
    pub(crate) b: &'a mut [u8],
    pub(crate) n: usize,
}

impl W<'_> {
    #[inline(always)]
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), RecordError> {
        let end = self.n + bytes.len();
        self.b
            .get_mut(self.n..end)
            .ok_or(RecordError::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.n = end;
        Ok(())
    }
    pub(crate) fn u8(&mut self, v: u8) -> Result<(), RecordError> {
        self.put(&[v])
    }
    pub(crate) fn u16(&mut self, v: u16) -> Result<(), RecordError> {
        self.put(&v.to_le_bytes())
    }
    pub(crate) fn u32(&mut self, v: u32) -> Result<(), RecordError> {
        self.put(&v.to_le_bytes())
    }
    pub(crate) fn u64(&mut self, v: u64) -> Result<(), RecordError> {
        self.put(&v.to_le_bytes())
    }
    pub(crate) fn opt_u32(&mut self, v: Option<u32>) -> Result<(), RecordError> {
        self.u8(v.is_some() as u8)?;
        self.u32(v.unwrap_or(0))
    }
    pub(crate) fn opt_u64(&mut self, v: Option<u64>) -> Result<(), RecordError> {
        self.u8(v.is_some() as u8)?;
        self.u64(v.unwrap_or(0))
    }
    pub(crate) fn tag(&mut self, t: ChildTag) -> Result<(), RecordError> {
        self.u32(t.parent)?;
        self.u32(t.child)
    }
    pub(crate) fn opt_tag(&mut self, t: Option<ChildTag>) -> Result<(), RecordError> {
        self.u8(t.is_some() as u8)?;
        self.tag(t.unwrap_or_default())
    }
    pub(crate) fn side(&mut self, s: Side) -> Result<(), RecordError> {
        self.u8(s.as_byte())
    }
    pub(crate) fn tif(&mut self, t: TimeInForce) -> Result<(), RecordError> {
        self.u8(match t {
            TimeInForce::Day => 0,
            TimeInForce::Ioc => 1,
        })
    }
    pub(crate) fn coid(&mut self, c: &ClientOrderId) -> Result<(), RecordError> {
        let id = c.as_bytes();
        self.u8(id.len() as u8)?;
        let mut fixed = [0u8; ClientOrderId::MAX_LEN];
        fixed
            .get_mut(..id.len())
            .ok_or(RecordError::BadValue("client_order_id"))?
            .copy_from_slice(id);
        self.put(&fixed)
    }
    pub(crate) fn params(&mut self, p: &IcebergParams) -> Result<(), RecordError> {
        self.put(&p.symbol.0)?;
        self.side(p.side)?;
        self.u32(p.total.0)?;
        self.u32(p.display.0)?;
        self.u32(p.variance_ppm)?;
        self.u32(p.limit.0)?;
        self.u32(p.min_delay_ms)?;
        self.u32(p.max_delay_ms)?;
        self.tif(p.tif)?;
        self.u8(p.peg as u8)
    }
}

/// A little-endian reader that never panics (shared with snapshots).
pub(crate) struct R<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) n: usize,
}

impl<'a> R<'a> {
    #[inline(always)]
    pub(crate) fn take(&mut self, len: usize) -> Result<&'a [u8], RecordError> {
        let end = self.n.checked_add(len).ok_or(RecordError::Truncated)?;
        let s = self.b.get(self.n..end).ok_or(RecordError::Truncated)?;
        self.n = end;
        Ok(s)
    }
    #[inline(always)]
    pub(crate) fn arr<const N: usize>(&mut self) -> Result<[u8; N], RecordError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, RecordError> {
        Ok(self.arr::<1>()?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, RecordError> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, RecordError> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, RecordError> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    pub(crate) fn flag(&mut self, what: &'static str) -> Result<bool, RecordError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(RecordError::BadValue(what)),
        }
    }
    pub(crate) fn opt_u32(&mut self, what: &'static str) -> Result<Option<u32>, RecordError> {
        let some = self.flag(what)?;
        let v = self.u32()?;
        Ok(some.then_some(v))
    }
    pub(crate) fn opt_u64(&mut self, what: &'static str) -> Result<Option<u64>, RecordError> {
        let some = self.flag(what)?;
        let v = self.u64()?;
        Ok(some.then_some(v))
    }
    pub(crate) fn tag(&mut self) -> Result<ChildTag, RecordError> {
        Ok(ChildTag {
            parent: self.u32()?,
            child: self.u32()?,
        })
    }
    pub(crate) fn opt_tag(&mut self) -> Result<Option<ChildTag>, RecordError> {
        let some = self.flag("tag")?;
        let t = self.tag()?;
        Ok(some.then_some(t))
    }
    pub(crate) fn side(&mut self) -> Result<Side, RecordError> {
        Side::from_byte(self.u8()?).ok_or(RecordError::BadValue("side"))
    }
    pub(crate) fn tif(&mut self) -> Result<TimeInForce, RecordError> {
        match self.u8()? {
            0 => Ok(TimeInForce::Day),
            1 => Ok(TimeInForce::Ioc),
            _ => Err(RecordError::BadValue("tif")),
        }
    }
    pub(crate) fn symbol(&mut self) -> Result<Symbol, RecordError> {
        Ok(Symbol(self.arr()?))
    }
    pub(crate) fn coid(&mut self) -> Result<ClientOrderId, RecordError> {
        let len = self.u8()? as usize;
        let fixed = self.arr::<{ ClientOrderId::MAX_LEN }>()?;
        let id = fixed
            .get(..len)
            .and_then(ClientOrderId::new)
            .ok_or(RecordError::BadValue("client_order_id"))?;
        if fixed
            .get(len..)
            .is_some_and(|rest| rest.iter().any(|&b| b != 0))
        {
            return Err(RecordError::BadValue("client_order_id"));
        }
        Ok(id)
    }
    pub(crate) fn params(&mut self) -> Result<IcebergParams, RecordError> {
        Ok(IcebergParams {
            symbol: self.symbol()?,
            side: self.side()?,
            total: Qty(self.u32()?),
            display: Qty(self.u32()?),
            variance_ppm: self.u32()?,
            limit: Price4(self.u32()?),
            min_delay_ms: self.u32()?,
            max_delay_ms: self.u32()?,
            tif: self.tif()?,
            peg: self.flag("peg")?,
        })
    }
    pub(crate) fn remaining(&self) -> usize {
        self.b.len().saturating_sub(self.n)
    }
}

mod ev {
    pub const SYSTEM: u8 = 1;
    pub const ACCEPTED: u8 = 2;
    pub const REPLACED: u8 = 3;
    pub const CANCELED: u8 = 4;
    pub const EXECUTED: u8 = 5;
    pub const REJECTED: u8 = 6;
    pub const CANCEL_PENDING: u8 = 7;
    pub const CANCEL_REJECT: u8 = 8;
    pub const BROKEN: u8 = 9;
    pub const PRIORITY: u8 = 10;
    pub const MODIFIED: u8 = 11;
    pub const RESTATED: u8 = 12;
    pub const ACCOUNT: u8 = 13;
}

mod ctl {
    pub const PAUSE: u8 = 1;
    pub const RESUME: u8 = 2;
    pub const CANCEL: u8 = 3;
    pub const AMEND: u8 = 4;
}

mod kind {
    pub const ENTER: u8 = 1;
    pub const REPLACE: u8 = 2;
    pub const CANCEL: u8 = 3;
}

impl Record {
    /// The journal type code.
    pub fn record_type(&self) -> u16 {
        match self {
            Record::ParentAccepted { .. } => rec_type::PARENT_ACCEPTED,
            Record::ParentControl { .. } => rec_type::PARENT_CONTROL,
            Record::KillSwitch { .. } => rec_type::KILL_SWITCH,
            Record::ChildIntent(_) => rec_type::CHILD_INTENT,
            Record::VenueEvent { .. } => rec_type::VENUE_EVENT,
            Record::ParentWait { .. } => rec_type::PARENT_WAIT,
            Record::ParentHalt { .. } => rec_type::PARENT_HALT,
        }
    }

    /// The stable snake_case name of the record's type ([`rec_type::name`]).
    pub fn type_name(&self) -> &'static str {
        rec_type::name(self.record_type()).unwrap_or("unknown")
    }

    /// The engine time of the record.
    pub fn at(&self) -> Nanos {
        match *self {
            Record::ParentAccepted { at, .. }
            | Record::ParentControl { at, .. }
            | Record::KillSwitch { at, .. }
            | Record::VenueEvent { at, .. }
            | Record::ParentWait { at, .. }
            | Record::ParentHalt { at, .. } => at,
            Record::ChildIntent(ci) => ci.at,
        }
    }

    /// The length of the encoded payload: what [`Record::encode`] returns,
    /// computed without encoding (every type and variant has one size), so
    /// a caller can reserve exactly that many bytes and encode in place.
    pub fn encoded_len(&self) -> usize {
        // Version byte and `at`.
        const HEAD: usize = 1 + 8;
        const TAG: usize = 4 + 4;
        const OPT_TAG: usize = 1 + TAG;
        const SYMBOL: usize = 8;
        // Symbol, side, total, display, variance, limit, min and max delay,
        // tif, peg.
        const PARAMS: usize = SYMBOL + 1 + 6 * 4 + 1 + 1;
        HEAD + match *self {
            Record::ParentAccepted { .. } => 4 + 1 + ClientOrderId::MAX_LEN + PARAMS + 8,
            Record::ParentControl { control, .. } => {
                4 + 1
                    + match control {
                        Control::Amend { .. } => (1 + 4) * 2,
                        Control::Pause | Control::Resume | Control::Cancel => 0,
                    }
            }
            Record::KillSwitch { .. } => 1,
            Record::ChildIntent(ci) => {
                TAG + 4
                    + 1
                    + SYMBOL
                    + 4
                    + 4
                    + match ci.kind {
                        IntentKind::Enter { .. } => 1 + 1 + 8 + 8,
                        IntentKind::Replace { .. } => 1 + 4,
                        IntentKind::Cancel => 1,
                    }
            }
            Record::VenueEvent { event, .. } => {
                // Soup sequence, event kind, venue timestamp.
                8 + 1
                    + 8
                    + match event {
                        OrderEvent::SystemEvent { .. } => 1,
                        OrderEvent::Accepted { .. } => 4 + OPT_TAG + 1 + 4 + SYMBOL + 4 + 8 + 1,
                        OrderEvent::Replaced { .. } => 4 + 4 + OPT_TAG + 1 + 4 + SYMBOL + 4 + 8 + 1,
                        OrderEvent::Canceled { .. } => 4 + 4 + 1,
                        OrderEvent::Executed { .. } => 4 + 4 + 4 + 1 + 8,
                        OrderEvent::Rejected { .. } => 4 + OPT_TAG + 2,
                        OrderEvent::CancelPending { .. } | OrderEvent::CancelReject { .. } => 4,
                        OrderEvent::BrokenTrade { .. } => 4 + 8 + 1,
                        OrderEvent::PriorityUpdate { .. } => 4 + 4 + 8,
                        OrderEvent::Modified { .. } => 4 + 1 + 4,
                        OrderEvent::Restated { .. } => 4 + 1,
                        OrderEvent::AccountQueryResponse { .. } => 4,
                    }
            }
            Record::ParentWait { .. } => 4 + 2 + 1 + 8,
            Record::ParentHalt { .. } => 4 + 2,
        }
    }

    /// Writes the payload into `out`; returns its length (at most
    /// [`MAX_RECORD_LEN`]). Never allocates.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, RecordError> {
        // As in `decode`: the recorder hands over exactly `encoded_len`
        // bytes, so the hot record sizes get copies of the encoder in which
        // every store is at a constant offset of a constant-length buffer.
        match out.len() {
            56 => {
                if let Ok(b) = <&mut [u8; 56]>::try_from(&mut *out) {
                    return self.encode_into(b);
                }
            }
            65 => {
                if let Ok(b) = <&mut [u8; 65]>::try_from(&mut *out) {
                    return self.encode_into(b);
                }
            }
            47 => {
                if let Ok(b) = <&mut [u8; 47]>::try_from(&mut *out) {
                    return self.encode_into(b);
                }
            }
            _ => {}
        }
        self.encode_into(out)
    }

    #[inline(always)]
    fn encode_into(&self, out: &mut [u8]) -> Result<usize, RecordError> {
        let mut w = W { b: out, n: 0 };
        w.u8(RECORD_VERSION)?;
        w.u64(self.at().0)?;
        match *self {
            Record::ParentAccepted {
                parent,
                client_order_id,
                params: p,
                seed,
                ..
            } => {
                w.u32(parent)?;
                w.coid(&client_order_id)?;
                w.params(&p)?;
                w.u64(seed)?;
            }
            Record::ParentControl {
                parent, control, ..
            } => {
                w.u32(parent)?;
                match control {
                    Control::Pause => w.u8(ctl::PAUSE)?,
                    Control::Resume => w.u8(ctl::RESUME)?,
                    Control::Cancel => w.u8(ctl::CANCEL)?,
                    Control::Amend { total, limit } => {
                        w.u8(ctl::AMEND)?;
                        w.opt_u32(total.map(|q| q.0))?;
                        w.opt_u32(limit.map(|p| p.0))?;
                    }
                }
            }
            Record::KillSwitch { on, .. } => w.u8(on as u8)?,
            Record::ChildIntent(ci) => {
                w.tag(ci.tag)?;
                w.u32(ci.order_ref.0)?;
                w.side(ci.side)?;
                w.put(&ci.symbol.0)?;
                w.u32(ci.qty.0)?;
                w.u32(ci.price.0)?;
                match ci.kind {
                    IntentKind::Enter {
                        tif,
                        next_delay,
                        rng_draws,
                    } => {
                        w.u8(kind::ENTER)?;
                        w.tif(tif)?;
                        w.u64(next_delay.0)?;
                        w.u64(rng_draws)?;
                    }
                    IntentKind::Replace { old } => {
                        w.u8(kind::REPLACE)?;
                        w.u32(old.0)?;
                    }
                    IntentKind::Cancel => w.u8(kind::CANCEL)?,
                }
            }
            Record::VenueEvent {
                soup_seq, event, ..
            } => {
                w.u64(soup_seq)?;
                encode_event(&mut w, &event)?;
            }
            Record::ParentWait {
                parent,
                reason,
                retry_at,
                ..
            } => {
                w.u32(parent)?;
                w.u16(reason.code())?;
                w.opt_u64(retry_at.map(|t| t.0))?;
            }
            Record::ParentHalt { parent, reason, .. } => {
                w.u32(parent)?;
                w.u16(reason as u16)?;
            }
        }
        Ok(w.n)
    }

    /// Decodes a payload of type `rec_type`. Never panics on any input.
    pub fn decode(rec_type: u16, payload: &[u8]) -> Result<Record, RecordError> {
        // The records a run writes most (child intent to enter, venue
        // accepted, venue executed) get copies of the decoder specialised to
        // their exact length, in which every field read is at a constant
        // offset of a constant-length slice and its bounds check folds
        // away. Same code, so the same result and the same errors.
        match (rec_type, payload.len()) {
            (rec_type::CHILD_INTENT, 56) => {
                if let Ok(b) = <&[u8; 56]>::try_from(payload) {
                    return Record::decode_from(rec_type, b);
                }
            }
            (rec_type::VENUE_EVENT, 65) => {
                if let Ok(b) = <&[u8; 65]>::try_from(payload) {
                    return Record::decode_from(rec_type, b);
                }
            }
            (rec_type::VENUE_EVENT, 47) => {
                if let Ok(b) = <&[u8; 47]>::try_from(payload) {
                    return Record::decode_from(rec_type, b);
                }
            }
            _ => {}
        }
        Record::decode_from(rec_type, payload)
    }

    #[inline(always)]
    fn decode_from(rec_type: u16, payload: &[u8]) -> Result<Record, RecordError> {
        let mut r = R { b: payload, n: 0 };
        let version = r.u8()?;
        if version != RECORD_VERSION {
            return Err(RecordError::Version(version));
        }
        let at = Nanos(r.u64()?);
        let rec = match rec_type {
            rec_type::PARENT_ACCEPTED => {
                let parent = r.u32()?;
                let client_order_id = r.coid()?;
                let params = r.params()?;
                let seed = r.u64()?;
                Record::ParentAccepted {
                    at,
                    parent,
                    client_order_id,
                    params,
                    seed,
                }
            }
            rec_type::PARENT_CONTROL => {
                let parent = r.u32()?;
                let control = match r.u8()? {
                    ctl::PAUSE => Control::Pause,
                    ctl::RESUME => Control::Resume,
                    ctl::CANCEL => Control::Cancel,
                    ctl::AMEND => Control::Amend {
                        total: r.opt_u32("total")?.map(Qty),
                        limit: r.opt_u32("limit")?.map(Price4),
                    },
                    _ => return Err(RecordError::BadValue("control")),
                };
                Record::ParentControl {
                    at,
                    parent,
                    control,
                }
            }
            rec_type::KILL_SWITCH => Record::KillSwitch {
                at,
                on: r.flag("on")?,
            },
            rec_type::CHILD_INTENT => {
                let tag = r.tag()?;
                let order_ref = OrderRef(r.u32()?);
                let side = r.side()?;
                let symbol = r.symbol()?;
                let qty = Qty(r.u32()?);
                let price = Price4(r.u32()?);
                let kind = match r.u8()? {
                    kind::ENTER => IntentKind::Enter {
                        tif: r.tif()?,
                        next_delay: Nanos(r.u64()?),
                        rng_draws: r.u64()?,
                    },
                    kind::REPLACE => IntentKind::Replace {
                        old: OrderRef(r.u32()?),
                    },
                    kind::CANCEL => IntentKind::Cancel,
                    _ => return Err(RecordError::BadValue("intent kind")),
                };
                Record::ChildIntent(ChildIntent {
                    at,
                    tag,
                    order_ref,
                    side,
                    symbol,
                    qty,
                    price,
                    kind,
                })
            }
            rec_type::VENUE_EVENT => {
                let soup_seq = r.u64()?;
                let event = decode_event(&mut r)?;
                Record::VenueEvent {
                    at,
                    soup_seq,
                    event,
                }
            }
            rec_type::PARENT_WAIT => {
                let parent = r.u32()?;
                let reason =
                    RiskRefusal::from_code(r.u16()?).ok_or(RecordError::BadValue("reason"))?;
                let retry_at = r.opt_u64("retry_at")?.map(Nanos);
                Record::ParentWait {
                    at,
                    parent,
                    reason,
                    retry_at,
                }
            }
            rec_type::PARENT_HALT => {
                let parent = r.u32()?;
                let reason =
                    HaltReason::from_code(r.u16()?).ok_or(RecordError::BadValue("reason"))?;
                Record::ParentHalt { at, parent, reason }
            }
            t => return Err(RecordError::UnknownType(t)),
        };
        let rest = payload.len() - r.n;
        if rest != 0 {
            return Err(RecordError::Trailing(rest));
        }
        Ok(rec)
    }
}

#[inline(always)]
fn encode_event(w: &mut W<'_>, e: &OrderEvent) -> Result<(), RecordError> {
    match *e {
        OrderEvent::SystemEvent { ts, code } => {
            w.u8(ev::SYSTEM)?;
            w.u64(ts)?;
            w.u8(code)
        }
        OrderEvent::Accepted {
            ts,
            order,
            tag,
            side,
            qty,
            symbol,
            price,
            venue_order_ref,
            live,
        } => {
            w.u8(ev::ACCEPTED)?;
            w.u64(ts)?;
            w.u32(order.0)?;
            w.opt_tag(tag)?;
            w.side(side)?;
            w.u32(qty.0)?;
            w.put(&symbol.0)?;
            w.u32(price.0)?;
            w.u64(venue_order_ref)?;
            w.u8(live as u8)
        }
        OrderEvent::Replaced {
            ts,
            old,
            order,
            tag,
            side,
            qty,
            symbol,
            price,
            venue_order_ref,
            live,
        } => {
            w.u8(ev::REPLACED)?;
            w.u64(ts)?;
            w.u32(old.0)?;
            w.u32(order.0)?;
            w.opt_tag(tag)?;
            w.side(side)?;
            w.u32(qty.0)?;
            w.put(&symbol.0)?;
            w.u32(price.0)?;
            w.u64(venue_order_ref)?;
            w.u8(live as u8)
        }
        OrderEvent::Canceled {
            ts,
            order,
            decrement,
            reason,
        } => {
            w.u8(ev::CANCELED)?;
            w.u64(ts)?;
            w.u32(order.0)?;
            w.u32(decrement.0)?;
            w.u8(reason.code)
        }
        OrderEvent::Executed {
            ts,
            order,
            qty,
            price,
            liquidity,
            match_number,
        } => {
            w.u8(ev::EXECUTED)?;
            w.u64(ts)?;
            w.u32(order.0)?;
            w.u32(qty.0)?;
            w.u32(price.0)?;
            w.u8(liquidity)?;
            w.u64(match_number)
        }
        OrderEvent::Rejected {
            ts,
            order,
            tag,
            reason,
        } => {
            w.u8(ev::REJECTED)?;
            w.u64(ts)?;
            w.u32(order.0)?;
            w.opt_tag(tag)?;
            w.u16(reason.code)
        }
        OrderEvent::CancelPending { ts, order } => {
            w.u8(ev::CANCEL_PENDING)?;
            w.u64(ts)?;
            w.u32(order.0)
        }
        OrderEvent::CancelReject { ts, order } => {
            w.u8(ev::CANCEL_REJECT)?;
            w.u64(ts)?;
            w.u32(order.0)
        }
        OrderEvent::BrokenTrade {
            ts,
            order,
            match_number,
            reason,
        } => {
            w.u8(ev::BROKEN)?;
            w.u64(ts)?;
            w.u32(order.0)?;
            w.u64(match_number)?;
            w.u8(reason)
        }
        OrderEvent::PriorityUpdate {
            ts,
            order,
            price,
            venue_order_ref,
        } => {
            w.u8(ev::PRIORITY)?;
            w.u64(ts)?;
            w.u32(order.0)?;
            w.u32(price.0)?;
            w.u64(venue_order_ref)
        }
        OrderEvent::Modified {
            ts,
            order,
            side,
            qty,
        } => {
            w.u8(ev::MODIFIED)?;
            w.u64(ts)?;
            w.u32(order.0)?;
            w.side(side)?;
            w.u32(qty.0)
        }
        OrderEvent::Restated { ts, order, reason } => {
            w.u8(ev::RESTATED)?;
            w.u64(ts)?;
            w.u32(order.0)?;
            w.u8(reason)
        }
        OrderEvent::AccountQueryResponse { ts, next_order } => {
            w.u8(ev::ACCOUNT)?;
            w.u64(ts)?;
            w.u32(next_order.0)
        }
    }
}

#[inline(always)]
fn decode_event(r: &mut R<'_>) -> Result<OrderEvent, RecordError> {
    let k = r.u8()?;
    let ts = r.u64()?;
    Ok(match k {
        ev::SYSTEM => OrderEvent::SystemEvent { ts, code: r.u8()? },
        ev::ACCEPTED => OrderEvent::Accepted {
            ts,
            order: OrderRef(r.u32()?),
            tag: r.opt_tag()?,
            side: r.side()?,
            qty: Qty(r.u32()?),
            symbol: r.symbol()?,
            price: Price4(r.u32()?),
            venue_order_ref: r.u64()?,
            live: r.flag("live")?,
        },
        ev::REPLACED => OrderEvent::Replaced {
            ts,
            old: OrderRef(r.u32()?),
            order: OrderRef(r.u32()?),
            tag: r.opt_tag()?,
            side: r.side()?,
            qty: Qty(r.u32()?),
            symbol: r.symbol()?,
            price: Price4(r.u32()?),
            venue_order_ref: r.u64()?,
            live: r.flag("live")?,
        },
        ev::CANCELED => OrderEvent::Canceled {
            ts,
            order: OrderRef(r.u32()?),
            decrement: Qty(r.u32()?),
            reason: CancelReason {
                code: r.u8()?,
                text: "",
            },
        },
        ev::EXECUTED => OrderEvent::Executed {
            ts,
            order: OrderRef(r.u32()?),
            qty: Qty(r.u32()?),
            price: Price4(r.u32()?),
            liquidity: r.u8()?,
            match_number: r.u64()?,
        },
        ev::REJECTED => OrderEvent::Rejected {
            ts,
            order: OrderRef(r.u32()?),
            tag: r.opt_tag()?,
            reason: RejectReason {
                code: r.u16()?,
                text: "",
            },
        },
        ev::CANCEL_PENDING => OrderEvent::CancelPending {
            ts,
            order: OrderRef(r.u32()?),
        },
        ev::CANCEL_REJECT => OrderEvent::CancelReject {
            ts,
            order: OrderRef(r.u32()?),
        },
        ev::BROKEN => OrderEvent::BrokenTrade {
            ts,
            order: OrderRef(r.u32()?),
            match_number: r.u64()?,
            reason: r.u8()?,
        },
        ev::PRIORITY => OrderEvent::PriorityUpdate {
            ts,
            order: OrderRef(r.u32()?),
            price: Price4(r.u32()?),
            venue_order_ref: r.u64()?,
        },
        ev::MODIFIED => OrderEvent::Modified {
            ts,
            order: OrderRef(r.u32()?),
            side: r.side()?,
            qty: Qty(r.u32()?),
        },
        ev::RESTATED => OrderEvent::Restated {
            ts,
            order: OrderRef(r.u32()?),
            reason: r.u8()?,
        },
        ev::ACCOUNT => OrderEvent::AccountQueryResponse {
            ts,
            next_order: OrderRef(r.u32()?),
        },
        _ => return Err(RecordError::BadValue("event kind")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sym() -> impl Strategy<Value = Symbol> {
        proptest::string::string_regex("[A-Z]{1,8}")
            .unwrap()
            .prop_map(|s| Symbol::new(&s).unwrap())
    }
    fn side() -> impl Strategy<Value = Side> {
        prop_oneof![Just(Side::Buy), Just(Side::Sell)]
    }
    fn tif() -> impl Strategy<Value = TimeInForce> {
        prop_oneof![Just(TimeInForce::Day), Just(TimeInForce::Ioc)]
    }
    fn tag() -> impl Strategy<Value = ChildTag> {
        (any::<u32>(), any::<u32>()).prop_map(|(parent, child)| ChildTag { parent, child })
    }
    fn oref() -> impl Strategy<Value = OrderRef> {
        any::<u32>().prop_map(OrderRef)
    }

    fn event() -> impl Strategy<Value = OrderEvent> {
        prop_oneof![
            (any::<u64>(), any::<u8>()).prop_map(|(ts, code)| OrderEvent::SystemEvent { ts, code }),
            (
                any::<u64>(),
                oref(),
                proptest::option::of(tag()),
                side(),
                any::<u32>(),
                sym(),
                any::<u32>(),
                any::<u64>(),
                any::<bool>()
            )
                .prop_map(|(ts, order, tag, side, q, symbol, p, v, live)| {
                    OrderEvent::Accepted {
                        ts,
                        order,
                        tag,
                        side,
                        qty: Qty(q),
                        symbol,
                        price: Price4(p),
                        venue_order_ref: v,
                        live,
                    }
                }),
            (
                any::<u64>(),
                oref(),
                oref(),
                proptest::option::of(tag()),
                side(),
                any::<u32>(),
                sym(),
                any::<u32>(),
                any::<u64>(),
                any::<bool>()
            )
                .prop_map(|(ts, old, order, tag, side, q, symbol, p, v, live)| {
                    OrderEvent::Replaced {
                        ts,
                        old,
                        order,
                        tag,
                        side,
                        qty: Qty(q),
                        symbol,
                        price: Price4(p),
                        venue_order_ref: v,
                        live,
                    }
                }),
            (any::<u64>(), oref(), any::<u32>(), any::<u8>()).prop_map(|(ts, order, d, code)| {
                OrderEvent::Canceled {
                    ts,
                    order,
                    decrement: Qty(d),
                    reason: CancelReason { code, text: "" },
                }
            }),
            (
                any::<u64>(),
                oref(),
                any::<u32>(),
                any::<u32>(),
                any::<u8>(),
                any::<u64>()
            )
                .prop_map(|(ts, order, q, p, liquidity, m)| OrderEvent::Executed {
                    ts,
                    order,
                    qty: Qty(q),
                    price: Price4(p),
                    liquidity,
                    match_number: m
                }),
            (
                any::<u64>(),
                oref(),
                proptest::option::of(tag()),
                any::<u16>()
            )
                .prop_map(|(ts, order, tag, code)| OrderEvent::Rejected {
                    ts,
                    order,
                    tag,
                    reason: RejectReason { code, text: "" }
                }),
            (any::<u64>(), oref()).prop_map(|(ts, order)| OrderEvent::CancelPending { ts, order }),
            (any::<u64>(), oref()).prop_map(|(ts, order)| OrderEvent::CancelReject { ts, order }),
            (any::<u64>(), oref(), any::<u64>(), any::<u8>()).prop_map(
                |(ts, order, match_number, reason)| OrderEvent::BrokenTrade {
                    ts,
                    order,
                    match_number,
                    reason
                }
            ),
            (any::<u64>(), oref(), any::<u32>(), any::<u64>()).prop_map(|(ts, order, p, v)| {
                OrderEvent::PriorityUpdate {
                    ts,
                    order,
                    price: Price4(p),
                    venue_order_ref: v,
                }
            }),
            (any::<u64>(), oref(), side(), any::<u32>()).prop_map(|(ts, order, side, q)| {
                OrderEvent::Modified {
                    ts,
                    order,
                    side,
                    qty: Qty(q),
                }
            }),
            (any::<u64>(), oref(), any::<u8>())
                .prop_map(|(ts, order, reason)| OrderEvent::Restated { ts, order, reason }),
            (any::<u64>(), oref())
                .prop_map(|(ts, next_order)| OrderEvent::AccountQueryResponse { ts, next_order }),
        ]
    }

    fn params() -> impl Strategy<Value = IcebergParams> {
        (
            sym(),
            side(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
            tif(),
            any::<bool>(),
        )
            .prop_map(
                |(symbol, side, t, d, v, l, mn, mx, tif, peg)| IcebergParams {
                    symbol,
                    side,
                    total: Qty(t),
                    display: Qty(d),
                    variance_ppm: v,
                    limit: Price4(l),
                    min_delay_ms: mn,
                    max_delay_ms: mx,
                    tif,
                    peg,
                },
            )
    }

    fn record() -> impl Strategy<Value = Record> {
        let at = any::<u64>().prop_map(Nanos);
        let coid = proptest::string::string_regex("[!-~]{1,40}")
            .unwrap()
            .prop_map(|s| ClientOrderId::new(s.as_bytes()).unwrap());
        let control = prop_oneof![
            Just(Control::Pause),
            Just(Control::Resume),
            Just(Control::Cancel),
            (
                proptest::option::of(any::<u32>()),
                proptest::option::of(any::<u32>())
            )
                .prop_map(|(t, l)| Control::Amend {
                    total: t.map(Qty),
                    limit: l.map(Price4)
                }),
        ];
        let ikind = prop_oneof![
            (tif(), any::<u64>(), any::<u64>()).prop_map(|(tif, d, r)| IntentKind::Enter {
                tif,
                next_delay: Nanos(d),
                rng_draws: r
            }),
            oref().prop_map(|old| IntentKind::Replace { old }),
            Just(IntentKind::Cancel),
        ];
        let refusal = proptest::sample::select(RiskRefusal::ALL.to_vec());
        let halt = proptest::sample::select(vec![
            HaltReason::ChildIdsExhausted,
            HaltReason::OrderRefsExhausted,
            HaltReason::ChildCapacity,
        ]);
        prop_oneof![
            (at.clone(), any::<u32>(), coid, params(), any::<u64>()).prop_map(
                |(at, parent, client_order_id, params, seed)| Record::ParentAccepted {
                    at,
                    parent,
                    client_order_id,
                    params,
                    seed
                }
            ),
            (at.clone(), any::<u32>(), control).prop_map(|(at, parent, control)| {
                Record::ParentControl {
                    at,
                    parent,
                    control,
                }
            }),
            (at.clone(), any::<bool>()).prop_map(|(at, on)| Record::KillSwitch { at, on }),
            (
                at.clone(),
                tag(),
                oref(),
                side(),
                sym(),
                any::<u32>(),
                any::<u32>(),
                ikind
            )
                .prop_map(|(at, tag, order_ref, side, symbol, q, p, kind)| {
                    Record::ChildIntent(ChildIntent {
                        at,
                        tag,
                        order_ref,
                        side,
                        symbol,
                        qty: Qty(q),
                        price: Price4(p),
                        kind,
                    })
                }),
            (at.clone(), any::<u64>(), event()).prop_map(|(at, soup_seq, event)| {
                Record::VenueEvent {
                    at,
                    soup_seq,
                    event,
                }
            }),
            (
                at.clone(),
                any::<u32>(),
                refusal,
                proptest::option::of(any::<u64>())
            )
                .prop_map(|(at, parent, reason, r)| Record::ParentWait {
                    at,
                    parent,
                    reason,
                    retry_at: r.map(Nanos)
                }),
            (at, any::<u32>(), halt).prop_map(|(at, parent, reason)| Record::ParentHalt {
                at,
                parent,
                reason
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn round_trips(rec in record()) {
            let mut buf = [0u8; MAX_RECORD_LEN];
            let n = rec.encode(&mut buf).unwrap();
            prop_assert!(n <= MAX_RECORD_LEN);
            prop_assert_eq!(rec.encoded_len(), n);
            prop_assert_eq!(Record::decode(rec.record_type(), &buf[..n]), Ok(rec));
            // Every strict prefix is refused, never misread.
            for cut in 0..n {
                prop_assert!(Record::decode(rec.record_type(), &buf[..cut]).is_err());
            }
            // A too-small output buffer is an error, not a panic.
            prop_assert_eq!(rec.encode(&mut buf[..n - 1]), Err(RecordError::BufferTooSmall));
        }

        #[test]
        fn arbitrary_bytes_never_panic(t in prop_oneof![0x0100u16..0x0109, any::<u16>()],
                                       bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(rec) = Record::decode(t, &bytes) {
                // Whatever decodes re-encodes to the same bytes.
                let mut buf = [0u8; MAX_RECORD_LEN];
                let n = rec.encode(&mut buf).unwrap();
                prop_assert_eq!(&buf[..n], &bytes[..]);
            }
        }

        #[test]
        fn bit_flips_never_panic(rec in record(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut buf = [0u8; MAX_RECORD_LEN];
            let n = rec.encode(&mut buf).unwrap();
            buf[pos.index(n)] ^= 1 << bit;
            let _ = Record::decode(rec.record_type(), &buf[..n]);
        }
    }

    #[test]
    fn unknown_type_and_version_are_named() {
        let rec = Record::KillSwitch {
            at: Nanos(5),
            on: true,
        };
        let mut buf = [0u8; MAX_RECORD_LEN];
        let n = rec.encode(&mut buf).unwrap();
        assert_eq!(n, 10);
        assert_eq!(
            Record::decode(0x7777, &buf[..n]),
            Err(RecordError::UnknownType(0x7777))
        );
        buf[0] = 9;
        assert_eq!(
            Record::decode(rec.record_type(), &buf[..n]),
            Err(RecordError::Version(9))
        );
    }

    /// Golden bytes: the layout is a contract with journals already written.
    #[test]
    fn golden_child_intent() {
        let rec = Record::ChildIntent(ChildIntent {
            at: Nanos(0x0102_0304_0506_0708),
            tag: ChildTag {
                parent: 7,
                child: 3,
            },
            order_ref: OrderRef(0x2a),
            side: Side::Buy,
            symbol: Symbol::new("AAPL").unwrap(),
            qty: Qty(100),
            price: Price4(1_234_500),
            kind: IntentKind::Enter {
                tif: TimeInForce::Day,
                next_delay: Nanos(1_000_000),
                rng_draws: 2,
            },
        });
        let mut buf = [0u8; MAX_RECORD_LEN];
        let n = rec.encode(&mut buf).unwrap();
        let want: &[u8] = &[
            1, 8, 7, 6, 5, 4, 3, 2, 1, // version, at
            7, 0, 0, 0, 3, 0, 0, 0, // tag
            0x2a, 0, 0, 0, // order ref
            b'B', b'A', b'A', b'P', b'L', b' ', b' ', b' ', b' ', // side, symbol
            100, 0, 0, 0, // qty
            0x44, 0xd6, 0x12, 0x00, // price 1,234,500
            1, 0, // enter, day
            0x40, 0x42, 0x0f, 0, 0, 0, 0, 0, // next delay 1 ms
            2, 0, 0, 0, 0, 0, 0, 0, // rng draws
        ];
        assert_eq!(&buf[..n], want);
    }
}
