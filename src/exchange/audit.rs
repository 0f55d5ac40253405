//! The venue's audit trail: one record per order decision.
//!
//! [`AuditEvent`] is what `floe exchange --audit FILE` writes, one JSON line
//! each, with exactly these keys in this order:
//!
//! ```text
//! {"ts_ns":N,"event":"accepted|refused|executed|canceled","session":"…","id":"token or UserRefNum","symbol":"…","side":"B|S","qty":N,"price":"12.3400","reason":"…"}
//! ```
//!
//! `reason` is present only on `refused`. The `id` is the OUCH 4.2 token text
//! or the OUCH 5.0 UserRefNum in decimal, per the session's dialect (carried
//! in the event, so a record can never be rendered in the wrong dialect).

use crate::config::Dialect;
use crate::order::{encode_id, ChildTag, OrderRef};
use crate::types::{Price4, Qty, Side, Symbol};

/// What the venue decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// An order (or a replacement) was accepted; `qty` is the open quantity.
    Accepted,
    /// An order was refused: rejected with a reason code, or silently
    /// ignored by the id rules (reasons starting with `ignored:`).
    Refused,
    /// Shares executed; `qty` and `price` are the fill's.
    Executed,
    /// Shares canceled off an order; `qty` is the decrement.
    Canceled,
}

impl AuditKind {
    /// The `event` text of the audit line.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditKind::Accepted => "accepted",
            AuditKind::Refused => "refused",
            AuditKind::Executed => "executed",
            AuditKind::Canceled => "canceled",
        }
    }
}

/// A session's name as it appears in the audit (up to 16 printable ASCII
/// bytes; typically the SoupBinTCP username or the port's name).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionName {
    bytes: [u8; SessionName::MAX_LEN],
    len: u8,
}

impl SessionName {
    /// The longest name accepted.
    pub const MAX_LEN: usize = 16;

    /// `None` unless `s` is 1..=16 bytes of printable ASCII (no spaces).
    pub fn new(s: &str) -> Option<SessionName> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > Self::MAX_LEN || !b.iter().all(|c| c.is_ascii_graphic()) {
            return None;
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        bytes[..b.len()].copy_from_slice(b);
        Some(SessionName {
            bytes,
            len: b.len() as u8,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        let n = usize::from(self.len).min(Self::MAX_LEN);
        core::str::from_utf8(&self.bytes[..n]).unwrap_or("")
    }
}

impl core::fmt::Debug for SessionName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SessionName({:?})", self.as_str())
    }
}

impl core::fmt::Display for SessionName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One order decision of the venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Venue time, nanoseconds since midnight.
    pub ts_ns: u64,
    /// What happened.
    pub kind: AuditKind,
    /// The session's name.
    pub session: SessionName,
    /// The session's dialect: decides how `id` is written.
    pub dialect: Dialect,
    /// The order's number (OUCH 5.0 UserRefNum; inside the OUCH 4.2 token).
    pub order: OrderRef,
    /// The order's tag (inside the OUCH 4.2 token; OUCH 5.0 ClOrdID).
    pub tag: ChildTag,
    /// Stock.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Shares (see [`AuditKind`] for which).
    pub qty: Qty,
    /// Price (the order's limit, or the fill's price for `executed`).
    pub price: Price4,
    /// Why, for `refused` only.
    pub reason: Option<&'static str>,
}

/// The text of an order identifier as the venue's audit writes it: up to 14
/// bytes (an OUCH 4.2 token) or a decimal `u32` (at most 10 digits).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct IdText {
    bytes: [u8; 14],
    len: u8,
}

impl IdText {
    /// The identifier.
    pub fn as_str(&self) -> &str {
        let n = usize::from(self.len).min(self.bytes.len());
        core::str::from_utf8(&self.bytes[..n]).unwrap_or("")
    }
}

impl core::fmt::Debug for IdText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "IdText({:?})", self.as_str())
    }
}

/// The order identifier of (`order`, `tag`) as the client sent it in
/// `dialect`: the OUCH 4.2 token text, or the OUCH 5.0 UserRefNum in decimal.
pub fn id_text(dialect: Dialect, order: OrderRef, tag: ChildTag) -> IdText {
    match dialect {
        Dialect::Ouch42 => IdText {
            bytes: token_text(order, tag),
            len: 14,
        },
        Dialect::Ouch50 => {
            let mut bytes = [0u8; 14];
            let mut tmp = [0u8; 10];
            let mut n = 0;
            let mut v = order.0;
            loop {
                tmp[n] = b'0' + (v % 10) as u8;
                n += 1;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
            for (i, d) in tmp[..n].iter().rev().enumerate() {
                bytes[i] = *d;
            }
            IdText {
                bytes,
                len: n as u8,
            }
        }
    }
}

/// The 14-byte OUCH 4.2 token text floe mints for (`order`, `tag`)
/// ([`encode_id`]); a tag beyond what a token can carry (which no client can
/// have sent) is written as 14 `?`.
fn token_text(order: OrderRef, tag: ChildTag) -> [u8; 14] {
    encode_id(order, tag).unwrap_or([b'?'; 14])
}

/// The audit line's fields in the order of the specification.
#[derive(serde::Serialize)]
struct Line<'a> {
    ts_ns: u64,
    event: &'static str,
    session: &'a str,
    id: &'a str,
    symbol: &'a str,
    side: &'static str,
    qty: u32,
    price: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
}

impl AuditEvent {
    /// The order identifier in this event's dialect.
    pub fn id(&self) -> IdText {
        id_text(self.dialect, self.order, self.tag)
    }

    fn with_line<R>(&self, f: impl FnOnce(&Line<'_>) -> R) -> R {
        let id = self.id();
        self.with_line_id(id.as_str(), f)
    }

    fn with_line_id<R>(&self, id: &str, f: impl FnOnce(&Line<'_>) -> R) -> R {
        let mut price = [0u8; 16];
        let line = Line {
            ts_ns: self.ts_ns,
            event: self.kind.as_str(),
            session: self.session.as_str(),
            id,
            symbol: self.symbol.as_str(),
            side: match self.side {
                Side::Buy => "B",
                Side::Sell => "S",
            },
            qty: self.qty.0,
            price: self.price.fmt_into(&mut price),
            reason: match self.kind {
                AuditKind::Refused => Some(self.reason.unwrap_or("unknown")),
                _ => None,
            },
        };
        f(&line)
    }

    /// The audit line, without a trailing newline.
    pub fn to_json_line(&self) -> String {
        self.with_line(|l| serde_json::to_string(l).unwrap_or_default())
    }

    /// Writes the audit line and a newline to `w`.
    pub fn write_json_line<W: std::io::Write>(&self, mut w: W) -> std::io::Result<()> {
        self.with_line(|l| serde_json::to_writer(&mut w, l))?;
        w.write_all(b"\n")
    }
}

impl AuditEvent {
    /// Writes the audit line with `id` in place of [`Self::id`], and a
    /// newline, to `w`: for a venue that maps the identifiers its clients
    /// chose (any OUCH 4.2 token) to order numbers of its own.
    pub fn write_json_line_with_id<W: std::io::Write>(
        &self,
        id: &str,
        mut w: W,
    ) -> std::io::Result<()> {
        self.with_line_id(id, |l| serde_json::to_writer(&mut w, l))?;
        w.write_all(b"\n")
    }
}

impl serde::Serialize for AuditEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.with_line(|l| l.serialize(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: AuditKind, dialect: Dialect) -> AuditEvent {
        AuditEvent {
            ts_ns: 34_200_000_000_123,
            kind,
            session: SessionName::new("FLOE01").unwrap(),
            dialect,
            order: OrderRef(4711),
            tag: ChildTag {
                parent: 3,
                child: 2,
            },
            symbol: Symbol::new("AAPL").unwrap(),
            side: Side::Buy,
            qty: Qty(200),
            price: Price4(123_400),
            reason: Some("invalid price"),
        }
    }

    #[test]
    fn audit_line_has_the_specified_keys_in_order() {
        let line = ev(AuditKind::Accepted, Dialect::Ouch50).to_json_line();
        assert_eq!(
            line,
            r#"{"ts_ns":34200000000123,"event":"accepted","session":"FLOE01","id":"4711","symbol":"AAPL","side":"B","qty":200,"price":"12.3400"}"#
        );
        let line = ev(AuditKind::Refused, Dialect::Ouch50).to_json_line();
        assert!(
            line.ends_with(r#""price":"12.3400","reason":"invalid price"}"#),
            "{line}"
        );
    }

    #[test]
    fn ouch42_id_is_the_token_text() {
        let e = ev(AuditKind::Executed, Dialect::Ouch42);
        let id = e.id();
        assert_eq!(id.as_str().len(), 14);
        let token = encode_id(e.order, e.tag).unwrap();
        assert_eq!(id.as_str().as_bytes(), &token);
        assert_eq!(crate::order::decode_id(&token).unwrap(), (e.order, e.tag));
        let v: serde_json::Value = serde_json::from_str(&e.to_json_line()).unwrap();
        assert_eq!(v["id"], id.as_str());
        assert!(v.get("reason").is_none());
    }

    #[test]
    fn write_json_line_appends_a_newline() {
        let mut buf = Vec::new();
        ev(AuditKind::Canceled, Dialect::Ouch50)
            .write_json_line(&mut buf)
            .unwrap();
        assert_eq!(buf.last(), Some(&b'\n'));
        assert_eq!(
            &buf[..buf.len() - 1],
            ev(AuditKind::Canceled, Dialect::Ouch50)
                .to_json_line()
                .as_bytes()
        );
    }

    #[test]
    fn an_id_given_by_the_venue_replaces_the_minted_one() {
        let e = ev(AuditKind::Refused, Dialect::Ouch42);
        let mut buf = Vec::new();
        e.write_json_line_with_id("MY \"TOKEN\"", &mut buf).unwrap();
        let line = std::str::from_utf8(&buf).unwrap();
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["id"], "MY \"TOKEN\"");
        let mut minted = Vec::new();
        e.write_json_line_with_id(e.id().as_str(), &mut minted)
            .unwrap();
        assert_eq!(&minted[..minted.len() - 1], e.to_json_line().as_bytes());
    }

    #[test]
    fn decimal_ids_cover_the_u32_range() {
        let t = ChildTag::default();
        assert_eq!(id_text(Dialect::Ouch50, OrderRef(0), t).as_str(), "0");
        assert_eq!(
            id_text(Dialect::Ouch50, OrderRef(u32::MAX), t).as_str(),
            "4294967295"
        );
    }

    #[test]
    fn session_names_are_validated() {
        assert!(SessionName::new("").is_none());
        assert!(SessionName::new("A B").is_none());
        assert!(SessionName::new("ABCDEFGHIJKLMNOPQ").is_none());
        assert_eq!(SessionName::new("PORT1").unwrap().as_str(), "PORT1");
    }
}
