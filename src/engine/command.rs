//! What the control plane asks ([`Command`]), what the engine answers
//! ([`Reply`]), and the read model it publishes ([`ParentStatus`]).
//!
//! All types are `Copy` and fixed-size: a `client_order_id` is stored inline
//! ([`ClientOrderId`], at most [`ClientOrderId::MAX_LEN`] bytes), so nothing
//! here allocates.

use crate::algo::iceberg::{IcebergParams, ParamError, ParentState, StatusCode};
use crate::algo::risk::RiskRefusal;
use crate::engine::index::{mix64, FixedKey};
use crate::time::Nanos;
use crate::types::{Price4, Qty, Side, Symbol};

/// A client's idempotency key: 1 to 40 printable ASCII bytes, inline.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientOrderId {
    len: u8,
    bytes: [u8; ClientOrderId::MAX_LEN],
}

impl ClientOrderId {
    /// Longest id, bytes.
    pub const MAX_LEN: usize = 40;

    /// `None` unless 1 to 40 bytes of printable ASCII (`!`..=`~`).
    pub fn new(s: &[u8]) -> Option<ClientOrderId> {
        if s.is_empty() || s.len() > Self::MAX_LEN || !s.iter().all(|c| c.is_ascii_graphic()) {
            return None;
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        bytes.get_mut(..s.len())?.copy_from_slice(s);
        Some(ClientOrderId {
            len: s.len() as u8,
            bytes,
        })
    }

    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len as usize).unwrap_or(&[])
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl core::fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ClientOrderId({:?})", self.as_str())
    }
}

impl FixedKey for ClientOrderId {
    fn hash64(&self) -> u64 {
        // FNV-1a over the bytes, then mixed.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in self.as_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        mix64(h)
    }
}

/// A control-plane command; `correlation` comes back on its [`Reply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command {
    /// Chosen by the caller, echoed in the reply.
    pub correlation: u64,
    /// What to do.
    pub kind: CommandKind,
}

/// The commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandKind {
    /// Start an iceberg. Idempotent on `client_order_id`: the same
    /// parameters (the seed is not compared) get the original answer with
    /// `replay: true`; different parameters get [`CommandError::Conflict`].
    NewIceberg {
        /// Idempotency key.
        client_order_id: ClientOrderId,
        /// What to trade.
        params: IcebergParams,
        /// The parent's PRNG seed (the engine has no entropy source).
        seed: u64,
    },
    /// Cancel the parent: its live child is cancelled; CANCELLED when the
    /// venue confirms (at once when nothing is live).
    Cancel {
        /// Parent id.
        parent: u32,
    },
    /// Pause: cancel the live child, release nothing until resumed.
    Pause {
        /// Parent id.
        parent: u32,
    },
    /// Resume a paused parent: a new slice goes out at once.
    Resume {
        /// Parent id.
        parent: u32,
    },
    /// Change the total quantity and/or the price limit (NEW, WORKING or
    /// PAUSED, not while a cancel is pending).
    Amend {
        /// Parent id.
        parent: u32,
        /// New total (not below filled).
        total: Option<Qty>,
        /// New limit.
        limit: Option<Price4>,
    },
    /// The parent's status.
    Query {
        /// Parent id.
        parent: u32,
    },
    /// Kill switch: `on` cancels every parent and refuses new ones until
    /// set `off`.
    KillSwitch {
        /// On or off.
        on: bool,
    },
}

/// Why a command was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum CommandError {
    /// Malformed parameters (400).
    #[error("invalid parameters: {0}")]
    Invalid(ParamError),
    /// Refused by pre-trade risk (422).
    #[error("refused by risk: {0}")]
    Risk(RiskRefusal),
    /// The client_order_id is known with different parameters (409).
    #[error("client_order_id already used with different parameters")]
    Conflict,
    /// No such parent (404).
    #[error("unknown parent")]
    UnknownParent,
    /// The parent's state does not allow this command (409).
    #[error("not allowed in state {0:?}")]
    InvalidState(ParentState),
    /// A cancel is already pending for this parent (409).
    #[error("a cancel is pending")]
    CancelPending,
    /// An amend below the filled quantity (422).
    #[error("new total is below the filled quantity")]
    AmendBelowFilled,
    /// A fixed-capacity structure is full (503).
    #[error("capacity: {0:?}")]
    Capacity(Capacity),
}

/// Which fixed capacity refused a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Capacity {
    /// Every parent slot holds a live parent (none finished to evict).
    Parents,
    /// The client_order_id index is full.
    ClientOrderIds,
    /// The symbol table is full.
    Symbols,
    /// Parent ids would reach 62⁴ (the OUCH id encoding's limit).
    ParentIds,
}

/// The engine's answer to a [`Command`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A new iceberg was accepted (or, with `replay`, had been).
    Accepted {
        /// Engine-assigned parent id.
        parent: u32,
        /// Status at acceptance (always NEW: the stored original answer).
        status: StatusCode,
        /// Engine time of acceptance.
        created_at: Nanos,
        /// True when this repeats the original answer to the same request.
        replay: bool,
    },
    /// Cancel, pause, resume or amend was taken; its effects follow as
    /// [`ParentStatus`] updates.
    Done {
        /// Parent id.
        parent: u32,
        /// Status right after the command.
        status: StatusCode,
    },
    /// Answer to a query.
    Status(ParentStatus),
    /// The kill switch's state after the command.
    KillSwitch {
        /// On or off.
        on: bool,
    },
    /// Refused.
    Refused(CommandError),
}

/// Why the engine halted a parent (REJECTED with this reason).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum HaltReason {
    /// The child number would reach 62⁴.
    ChildIdsExhausted = 1,
    /// Order refs would pass `u32::MAX`.
    OrderRefsExhausted = 2,
    /// No child slot or order-ref index entry was free.
    ChildCapacity = 3,
}

impl HaltReason {
    /// The reason with this code.
    pub fn from_code(c: u16) -> Option<HaltReason> {
        [
            HaltReason::ChildIdsExhausted,
            HaltReason::OrderRefsExhausted,
            HaltReason::ChildCapacity,
        ]
        .into_iter()
        .find(|h| *h as u16 == c)
    }
}

/// The last noteworthy thing that happened to a parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParentReason {
    /// Risk refused its next child (it waits; see [`ParentStatus::waiting`]).
    Risk(RiskRefusal),
    /// The venue rejected a child (the parent is REJECTED).
    VenueReject {
        /// The dialect's reject code.
        code: u16,
    },
    /// The venue rejected a replace; the child stays at its old price and
    /// further re-prices go by cancel and a new slice.
    ReplaceRejected {
        /// The dialect's reject code.
        code: u16,
    },
    /// The venue refused a cancel; it is sent again on the next session.
    CancelRejected,
    /// The venue cancelled a child on its own (IOC remainder, supervisory, …).
    VenueCanceled {
        /// The cancel reason byte.
        code: u8,
    },
    /// The engine halted the parent.
    Halted(HaltReason),
}

/// A parent's state as the control plane shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentStatus {
    /// Parent id.
    pub parent: u32,
    /// The client's key.
    pub client_order_id: ClientOrderId,
    /// Stock.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Reported status.
    pub status: StatusCode,
    /// Effective total (requested total, or more while a cut is pending).
    pub total: Qty,
    /// Total as last requested by the client.
    pub requested_total: Qty,
    /// Filled shares.
    pub filled: Qty,
    /// Shares of the live child the venue may still execute.
    pub live: Qty,
    /// `total − filled`.
    pub leaves: Qty,
    /// `total − filled − live`: not released yet.
    pub remaining: Qty,
    /// Display quantity.
    pub display: Qty,
    /// Current price limit.
    pub limit: Price4,
    /// Pegged?
    pub peg: bool,
    /// Σ fill qty × price in Price4 ticks; average price = this / filled.
    pub notional: u64,
    /// Children released so far.
    pub children: u32,
    /// A cancel is pending (CANCELLED once the venue confirms).
    pub cancel_pending: bool,
    /// What the parent waits for, when risk refused its next child.
    pub waiting: Option<RiskRefusal>,
    /// The last reject / refusal / venue cancel.
    pub last_reason: Option<ParentReason>,
    /// Engine time of acceptance.
    pub created_at: Nanos,
    /// Engine time of the last change.
    pub updated_at: Nanos,
}
