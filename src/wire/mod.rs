//! Zero-copy views and owned `Repr`s for every protocol floe speaks.
//!
//! Each view (`Packet<T: AsRef<[u8]>>`-style) validates its length once in
//! `new_checked`; afterwards no getter can panic. Decoders return a typed
//! [`Error`] on any byte string; emitters write into a caller's buffer and
//! never allocate. Enumerations that venues extend over time (liquidity flags,
//! market categories, reasons) stay open: the raw byte is kept and the known
//! values are named; only values the book and engine depend on (side, message
//! type) are checked.
#![forbid(unsafe_code)]

pub(crate) mod field;
pub mod itch;
pub mod moldudp64;
mod ouch;
pub mod ouch42;
pub mod ouch50;
pub mod soupbintcp;

/// Why a decoder refused a byte string, or an emitter a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Fewer bytes than the message type requires.
    #[error("truncated: {len} bytes, need {need}")]
    Truncated {
        /// Bytes present.
        len: usize,
        /// Bytes required.
        need: usize,
    },
    /// A length field disagrees with the bytes present (a block running past
    /// its packet, a count that does not match).
    #[error("bad length field: {0}")]
    BadLength(&'static str),
    /// The message type byte is not known in this direction.
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    /// A checked enumeration holds a value outside the specification.
    #[error("bad value 0x{value:02x} in field {field}")]
    BadValue {
        /// Field name.
        field: &'static str,
        /// The byte found.
        value: u8,
    },
    /// An alpha field holds a byte that is not printable ASCII.
    #[error("non-ASCII byte in field {0}")]
    BadAscii(&'static str),
    /// A checksum does not verify.
    #[error("bad checksum in {0}")]
    BadChecksum(&'static str),
    /// The output buffer is too small for the message.
    #[error("output buffer too small: need {need} bytes")]
    BufferTooSmall {
        /// Bytes required.
        need: usize,
    },
    /// A value does not fit its wire field.
    #[error("{0} out of range for its wire field")]
    OutOfRange(&'static str),
}

/// Result of a decoder or emitter.
pub type Result<T> = core::result::Result<T, Error>;

/// Reads an alpha field (`aN`: ASCII, left-justified, space-padded) as a
/// `&str` with trailing spaces removed. Fails with [`Error::BadAscii`] on any
/// byte outside printable ASCII (0x20..=0x7e).
pub fn alpha<'a>(field: &'static str, bytes: &'a [u8]) -> Result<&'a str> {
    if !bytes.iter().all(|&b| (0x20..=0x7e).contains(&b)) {
        return Err(Error::BadAscii(field));
    }
    let end = bytes.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    core::str::from_utf8(&bytes[..end]).map_err(|_| Error::BadAscii(field))
}

/// Writes `text` left-justified and space-padded into `out` (an `aN` field).
/// Fails if `text` is longer than the field or not printable ASCII.
pub fn put_alpha(field: &'static str, out: &mut [u8], text: &[u8]) -> Result<()> {
    if text.len() > out.len() {
        return Err(Error::OutOfRange(field));
    }
    if !text.iter().all(|&b| (0x20..=0x7e).contains(&b)) {
        return Err(Error::BadAscii(field));
    }
    out[..text.len()].copy_from_slice(text);
    out[text.len()..].fill(b' ');
    Ok(())
}

/// Reads a big-endian u16 at `off`. Callers have validated the length.
#[inline]
pub fn be16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

/// Reads a big-endian u32 at `off`. Callers have validated the length.
#[inline]
pub fn be32(b: &[u8], off: usize) -> u32 {
    u32::from_be_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Reads a big-endian u48 (ITCH timestamps) at `off`.
#[inline]
pub fn be48(b: &[u8], off: usize) -> u64 {
    let mut x = [0u8; 8];
    x[2..].copy_from_slice(&b[off..off + 6]);
    u64::from_be_bytes(x)
}

/// Reads a big-endian u64 at `off`.
#[inline]
pub fn be64(b: &[u8], off: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[off..off + 8]);
    u64::from_be_bytes(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_trims_and_rejects_non_ascii() {
        assert_eq!(alpha("stock", b"AAPL    "), Ok("AAPL"));
        assert_eq!(alpha("stock", b"        "), Ok(""));
        assert_eq!(
            alpha("stock", b"AA\xffL    "),
            Err(Error::BadAscii("stock"))
        );
        assert_eq!(
            alpha("stock", b"AA\x00L    "),
            Err(Error::BadAscii("stock"))
        );
    }

    #[test]
    fn put_alpha_pads() {
        let mut f = [0u8; 8];
        put_alpha("stock", &mut f, b"MSFT").unwrap();
        assert_eq!(&f, b"MSFT    ");
        assert_eq!(
            put_alpha("stock", &mut f, b"TOOLONGSYM"),
            Err(Error::OutOfRange("stock"))
        );
    }

    #[test]
    fn big_endian_readers() {
        let b = [0x1f, 0x1a, 0xce, 0xd9, 0xf0, 0x7b, 0, 0];
        assert_eq!(be48(&b, 0), 34_200_000_000_123);
        assert_eq!(be16(&b, 0), 0x1f1a);
        assert_eq!(be32(&b, 0), 0x1f1a_ced9);
        assert_eq!(be64(&b, 0), 0x1f1a_ced9_f07b_0000);
    }
}
