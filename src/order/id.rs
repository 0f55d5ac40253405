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

fn put_base62(out: &mut [u8], mut v: u64) {
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v % 62) as usize];
        v /= 62;
    }
}

fn digit(c: u8) -> Option<u64> {
    match c {
        b'0'..=b'9' => Some(u64::from(c - b'0')),
        b'A'..=b'Z' => Some(u64::from(c - b'A') + 10),
        b'a'..=b'z' => Some(u64::from(c - b'a') + 36),
        _ => None,
    }
}

fn get_base62(b: &[u8]) -> Option<u64> {
    b.iter()
        .try_fold(0u64, |acc, &c| Some(acc * 62 + digit(c)?))
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
    let mut id = [0u8; ID_LEN];
    put_base62(&mut id[0..6], u64::from(order.0));
    put_base62(&mut id[6..10], u64::from(tag.parent));
    put_base62(&mut id[10..14], u64::from(tag.child));
    Ok(id)
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
