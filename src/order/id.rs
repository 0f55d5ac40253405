//! The 14-byte order identifier floe mints (DESIGN.md "Exactly once" §4).
//!
//! Layout, ASCII base 62 (`0-9`, `A-Z`, `a-z`, most significant digit first,
//! zero-padded):
//!
//! | bytes | field | digits | range |
//! |---|---|---|---|
//! | 0..6 | [`OrderRef`] | 6 | all of `u32` (62^6 > 2^32) |
//! | 6..10 | [`ChildTag::parent`] | 4 | `0..62^4` |
//! | 10..14 | [`ChildTag::child`] | 4 | `0..62^4` |
//!
//! OUCH 4.2 sends it as the Order Token and OUCH 5.0 as the ClOrdID, so any
//! report maps back to (order, parent, child) without local state. Encoding
//! and decoding never allocate or panic.

use super::event::{ChildTag, DialectError, OrderRef};

/// Bytes of an identifier.
pub const ID_LEN: usize = 14;

/// The exclusive upper bound of [`ChildTag::parent`] and [`ChildTag::child`]
/// (62^4 = 14,776,336).
pub const TAG_LIMIT: u32 = 62 * 62 * 62 * 62;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Byte → base-62 digit; 0xFF for bytes outside the alphabet.
const DIGIT: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 62 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
};

/// Every pair of base-62 digits, `PAIRS[62 * hi + lo] = [hi, lo]`: half as
/// many divisions as one digit at a time (7.5 KiB, read a few lines per id).
static PAIRS: [[u8; 2]; 62 * 62] = {
    let mut t = [[0u8; 2]; 62 * 62];
    let mut i = 0;
    while i < 62 * 62 {
        t[i] = [ALPHABET[i / 62], ALPHABET[i % 62]];
        i += 1;
    }
    t
};

/// The two digits of `p` (< 62²; anything larger is written as `00`, which
/// the callers' ranges rule out).
#[inline(always)]
fn pair(p: u32) -> [u8; 2] {
    PAIRS.get(p as usize).copied().unwrap_or([b'0'; 2])
}

/// The value of base-62 digits, `None` if any byte is outside the alphabet.
/// Branch-free over the digits: an invalid byte maps to 0xFF, whose high bit
/// no valid digit (< 62) has.
fn get_base62(b: &[u8]) -> Option<u64> {
    let mut acc = 0u64;
    let mut seen = 0u8;
    for &c in b {
        let d = DIGIT[usize::from(c)];
        seen |= d;
        acc = acc * 62 + u64::from(d);
    }
    (seen & 0x80 == 0).then_some(acc)
}

/// Encodes `(order, tag)` as the 14-byte identifier. A parent or child
/// number of [`TAG_LIMIT`] or more is [`DialectError::OutOfRange`].
pub fn encode_id(order: OrderRef, tag: ChildTag) -> Result<[u8; ID_LEN], DialectError> {
    if tag.parent >= TAG_LIMIT {
        return Err(DialectError::OutOfRange { field: "parent id" });
    }
    if tag.child >= TAG_LIMIT {
        return Err(DialectError::OutOfRange {
            field: "child number",
        });
    }
    const P: u32 = 62 * 62;
    let o = order.0;
    // 62^6 > 2^32, so the top pair of the order number is below 62² too.
    let [a, b] = pair(o / (P * P));
    let [c, d] = pair(o / P % P);
    let [e, f] = pair(o % P);
    let [g, h] = pair(tag.parent / P);
    let [i, j] = pair(tag.parent % P);
    let [k, l] = pair(tag.child / P);
    let [m, n] = pair(tag.child % P);
    Ok([a, b, c, d, e, f, g, h, i, j, k, l, m, n])
}

/// Decodes an identifier minted by [`encode_id`]. Any byte outside the
/// base-62 alphabet (a space-padded foreign token, say) or an order number
/// above `u32::MAX` is [`DialectError::ForeignId`].
pub fn decode_id(id: &[u8; ID_LEN]) -> Result<(OrderRef, ChildTag), DialectError> {
    let order = get_base62(&id[0..6]).ok_or(DialectError::ForeignId)?;
    let parent = get_base62(&id[6..10]).ok_or(DialectError::ForeignId)?;
    let child = get_base62(&id[10..14]).ok_or(DialectError::ForeignId)?;
    let order = u32::try_from(order).map_err(|_| DialectError::ForeignId)?;
    // Four base-62 digits are always below TAG_LIMIT, so these fit.
    let parent = u32::try_from(parent).map_err(|_| DialectError::ForeignId)?;
    let child = u32::try_from(child).map_err(|_| DialectError::ForeignId)?;
    Ok((OrderRef(order), ChildTag { parent, child }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_ids() {
        let id = encode_id(OrderRef(0), ChildTag::default()).unwrap();
        assert_eq!(&id, b"00000000000000");
        let id = encode_id(
            OrderRef(62),
            ChildTag {
                parent: 61,
                child: 62 * 62 + 1,
            },
        )
        .unwrap();
        assert_eq!(&id, b"000010000z0101");
        let id = encode_id(
            OrderRef(u32::MAX),
            ChildTag {
                parent: TAG_LIMIT - 1,
                child: TAG_LIMIT - 1,
            },
        )
        .unwrap();
        // u32::MAX = 4·62^5 + 42·62^4 + 41·62^3 + 15·62^2 + 12·62 + 3
        assert_eq!(&id, b"4gfFC3zzzzzzzz");
        assert_eq!(
            decode_id(&id).unwrap(),
            (
                OrderRef(u32::MAX),
                ChildTag {
                    parent: TAG_LIMIT - 1,
                    child: TAG_LIMIT - 1
                }
            )
        );
    }

    #[test]
    fn out_of_range_tags() {
        let big = ChildTag {
            parent: TAG_LIMIT,
            child: 1,
        };
        assert_eq!(
            encode_id(OrderRef(1), big),
            Err(DialectError::OutOfRange { field: "parent id" })
        );
        let big = ChildTag {
            parent: 1,
            child: TAG_LIMIT,
        };
        assert_eq!(
            encode_id(OrderRef(1), big),
            Err(DialectError::OutOfRange {
                field: "child number"
            })
        );
    }

    #[test]
    fn foreign_ids() {
        assert_eq!(decode_id(b"ABC0000000000 "), Err(DialectError::ForeignId));
        assert_eq!(decode_id(b"              "), Err(DialectError::ForeignId));
        assert_eq!(decode_id(b"ABC-0000000001"), Err(DialectError::ForeignId));
        // Six digits above u32::MAX.
        assert_eq!(decode_id(b"zzzzzz00000000"), Err(DialectError::ForeignId));
        assert_eq!(decode_id(b"4gfFC400000000"), Err(DialectError::ForeignId));
    }

    proptest! {
        #[test]
        fn round_trip(order: u32, parent in 0..TAG_LIMIT, child in 0..TAG_LIMIT) {
            let tag = ChildTag { parent, child };
            let id = encode_id(OrderRef(order), tag).unwrap();
            prop_assert!(id.iter().all(|c| c.is_ascii_alphanumeric()));
            prop_assert_eq!(decode_id(&id).unwrap(), (OrderRef(order), tag));
        }

        #[test]
        fn order_preserving(a: u32, b: u32) {
            // Same-width base 62 in ASCII order: byte order matches numeric order.
            let t = ChildTag::default();
            let ia = encode_id(OrderRef(a), t).unwrap();
            let ib = encode_id(OrderRef(b), t).unwrap();
            prop_assert_eq!(ia.cmp(&ib), a.cmp(&b));
        }

        #[test]
        fn arbitrary_bytes_never_panic(id: [u8; 14]) {
            if let Ok((o, t)) = decode_id(&id) {
                prop_assert_eq!(encode_id(o, t).unwrap(), id);
            }
        }
    }
}
