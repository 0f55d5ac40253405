//! NASDAQ TotalView-ITCH 5.0: every message type of PROTOCOLS.md §1.
//!
//! For each message type there is an owned, `Copy` struct with pub fields
//! (the `Repr`: [`AddOrder`], [`OrderExecuted`], ...) with `parse`/`emit`, and
//! a zero-copy view over any `AsRef<[u8]>` ([`AddOrderView`], ...) whose
//! `new_checked` validates the type byte and the length once, after which no
//! getter can panic. [`Message`] is the sum of all of them, with
//! [`Message::parse`] as the feed's decoder.
//!
//! Guarantees: decoding never panics and never allocates on any byte string;
//! every field is read at a fixed offset from an array whose length was
//! checked once, so each read compiles to a single load. Emitting never
//! allocates. Prices are [`Price4`](crate::types::Price4), share counts
//! [`Qty`](crate::types::Qty) (or `u64` where ITCH has 8-byte shares), stocks
//! raw [`Symbol`](crate::types::Symbol)s and other alpha fields raw byte arrays
//! with `*_str` accessors that fail cleanly on non-ASCII. Only the side is a
//! checked enumeration; every other code byte is kept raw, its known values
//! named in [`codes`].
//!
//! A decoded message longer than its type's length is accepted (the extra
//! bytes are ignored): NASDAQ framing (MoldUDP64 blocks, BinaryFILE records)
//! carries each message's length, and a later edition that appends fields
//! stays readable. Unknown types are [`Error::UnknownType`]: callers skip them
//! by their framing length.

#[macro_use]
mod macros;
pub mod binary_file;
pub mod codes;
mod messages;

pub use binary_file::{emit_record, BinaryFileRecords};
pub use codes::*;
pub use messages::*;

use crate::wire::{field, Error, Result};

/// Bytes of the common header: type (1), stock locate (2), tracking number
/// (2), timestamp (6).
pub const HEADER_LEN: usize = 11;

/// The largest ITCH 5.0 message (NOII, 50 bytes).
pub const MAX_MESSAGE_LEN: usize = 50;

// A decoded message fits one cache line, and so does the decoder's result.
const _: () = assert!(core::mem::size_of::<Message>() == 64);
const _: () = assert!(core::mem::size_of::<Result<Message>>() == 64);

/// The largest timestamp a 48-bit field holds.
pub const MAX_TIMESTAMP: u64 = (1 << 48) - 1;

/// The fields every ITCH 5.0 message carries after its type byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Header {
    /// Stock locate (offset 1): day-specific security index; 0 for market-wide
    /// messages (S, V, W).
    pub locate: u16,
    /// Tracking number (offset 3): NASDAQ internal.
    pub tracking: u16,
    /// Timestamp (offset 5, 6 bytes): nanoseconds since midnight.
    pub timestamp: u64,
}

impl Header {
    /// Reads the header of a message of `N >= 11` bytes.
    #[inline(always)]
    fn decode<const N: usize>(a: &[u8; N]) -> Header {
        Header {
            locate: field::u16_at::<N, 1>(a),
            tracking: field::u16_at::<N, 3>(a),
            // Bytes 3..11 as one load; the top two bytes are the tracking number.
            timestamp: field::u64_at::<N, 3>(a) & MAX_TIMESTAMP,
        }
    }

    /// Checks that the header fits its wire fields.
    #[inline(always)]
    fn check(&self) -> Result<()> {
        if self.timestamp > MAX_TIMESTAMP {
            return Err(Error::OutOfRange("timestamp"));
        }
        Ok(())
    }

    /// Writes the header (not the type byte) of a message of `N` bytes.
    #[inline(always)]
    fn encode<const N: usize>(&self, a: &mut [u8; N]) {
        field::put_u16::<N, 1>(a, self.locate);
        // Tracking number and timestamp as one big-endian u64 at offset 3.
        let tail = ((self.tracking as u64) << 48) | (self.timestamp & MAX_TIMESTAMP);
        field::put_u64::<N, 3>(a, tail);
    }
}

/// Checks the type byte and the length of a message of type `mt`.
#[inline(always)]
fn check_prefix<const N: usize>(bytes: &[u8], mt: u8) -> Result<&[u8; N]> {
    let Some(a) = bytes.first_chunk::<N>() else {
        return match bytes.first() {
            Some(&t) if t != mt => Err(Error::BadValue {
                field: "message type",
                value: t,
            }),
            _ => Err(Error::Truncated {
                len: bytes.len(),
                need: N,
            }),
        };
    };
    if a[0] != mt {
        return Err(Error::BadValue {
            field: "message type",
            value: a[0],
        });
    }
    Ok(a)
}
