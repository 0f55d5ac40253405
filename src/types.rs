//! Numeric and identifier newtypes shared by every stage.
//!
//! Prices and quantities are integers exactly as on the wire: [`Price4`] has
//! four implied decimals (ITCH `p4`, OUCH 4.2 prices, OUCH 5.0 `x8` values
//! that fit in 32 bits), [`Qty`] is a share count. Arithmetic is checked;
//! nothing here rounds, allocates or panics.

use core::fmt;

/// A price with four implied decimals: 123.45 is `Price4(1_234_500)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price4(pub u32);

impl Price4 {
    /// The scale of the implied decimals.
    pub const SCALE: u32 = 10_000;
    /// The largest price ITCH and OUCH can carry (`0x7FFF_FFFF` is "market" in OUCH).
    pub const MAX: Price4 = Price4(0x7FFF_FFFE);
    /// The zero price.
    pub const ZERO: Price4 = Price4(0);

    /// Checked addition in ticks of 0.0001.
    pub fn checked_add(self, rhs: Price4) -> Option<Price4> {
        self.0.checked_add(rhs.0).map(Price4)
    }

    /// Checked subtraction in ticks of 0.0001.
    pub fn checked_sub(self, rhs: Price4) -> Option<Price4> {
        self.0.checked_sub(rhs.0).map(Price4)
    }

    /// Writes the price as a decimal with exactly four places (`12.3400`)
    /// into `out` and returns the written prefix; never allocates.
    pub fn fmt_into(self, out: &mut [u8; 16]) -> &str {
        let whole = self.0 / Self::SCALE;
        let frac = self.0 % Self::SCALE;
        let mut tmp = [0u8; 16];
        let mut n = 0;
        let mut w = whole;
        loop {
            tmp[n] = b'0' + (w % 10) as u8;
            n += 1;
            w /= 10;
            if w == 0 {
                break;
            }
        }
        let mut len = 0;
        while n > 0 {
            n -= 1;
            out[len] = tmp[n];
            len += 1;
        }
        out[len] = b'.';
        len += 1;
        let digits = [frac / 1000, (frac / 100) % 10, (frac / 10) % 10, frac % 10];
        for d in digits {
            out[len] = b'0' + d as u8;
            len += 1;
        }
        // Only ASCII digits and '.' were written.
        core::str::from_utf8(&out[..len]).unwrap_or("")
    }
}

impl fmt::Display for Price4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 16];
        f.write_str(self.fmt_into(&mut buf))
    }
}

/// A quantity in shares.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Qty(pub u32);

impl Qty {
    /// Zero shares.
    pub const ZERO: Qty = Qty(0);

    /// Checked addition.
    pub fn checked_add(self, rhs: Qty) -> Option<Qty> {
        self.0.checked_add(rhs.0).map(Qty)
    }

    /// Checked subtraction.
    pub fn checked_sub(self, rhs: Qty) -> Option<Qty> {
        self.0.checked_sub(rhs.0).map(Qty)
    }

    /// Saturating subtraction (never below zero).
    pub fn saturating_sub(self, rhs: Qty) -> Qty {
        Qty(self.0.saturating_sub(rhs.0))
    }

    /// The smaller of two quantities.
    pub fn min(self, rhs: Qty) -> Qty {
        Qty(self.0.min(rhs.0))
    }

    /// True when zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Buy or sell, as the book and the engine see it.
///
/// Short-sale variants of OUCH (`T`, `E`) map to [`Side::Sell`] for book and
/// position purposes; the dialect keeps the raw byte where it matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// Buy (`B`).
    Buy,
    /// Sell (`S`).
    Sell,
}

impl Side {
    /// The ITCH / OUCH byte: `B` or `S`.
    pub const fn as_byte(self) -> u8 {
        match self {
            Side::Buy => b'B',
            Side::Sell => b'S',
        }
    }

    /// Parses `B` or `S`; anything else is `None`.
    pub const fn from_byte(b: u8) -> Option<Side> {
        match b {
            b'B' => Some(Side::Buy),
            b'S' => Some(Side::Sell),
            _ => None,
        }
    }

    /// The other side.
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }

    /// True when `a` is at least as good as `b` for this side's passive
    /// order (a higher bid, a lower offer).
    pub fn at_least_as_aggressive(self, a: Price4, b: Price4) -> bool {
        match self {
            Side::Buy => a >= b,
            Side::Sell => a <= b,
        }
    }
}

/// A stock symbol: eight ASCII bytes, left-justified, space-padded.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol(pub [u8; 8]);

impl Symbol {
    /// Builds a symbol from text; `None` if longer than 8 bytes, empty, or not
    /// printable ASCII without spaces.
    pub fn new(s: &str) -> Option<Symbol> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > 8 || !b.iter().all(|c| c.is_ascii_graphic()) {
            return None;
        }
        let mut out = [b' '; 8];
        out[..b.len()].copy_from_slice(b);
        Some(Symbol(out))
    }

    /// The symbol with trailing spaces removed; empty if not ASCII.
    pub fn as_str(&self) -> &str {
        let end = self.0.iter().rposition(|&c| c != b' ').map_or(0, |i| i + 1);
        core::str::from_utf8(&self.0[..end])
            .ok()
            .filter(|s| s.is_ascii())
            .unwrap_or("")
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({:?})", self.as_str())
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One price level: a price and the total shares displayed at it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Level {
    /// The price.
    pub price: Price4,
    /// Shares displayed at the price (sum over the level's orders).
    pub qty: Qty,
}

/// The top of one symbol's book, as the feed hands it to the engine after a
/// market-data message changed it. `None` is an empty side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    /// The symbol.
    pub symbol: Symbol,
    /// Best bid.
    pub bid: Option<Level>,
    /// Best offer.
    pub ask: Option<Level>,
    /// Exchange timestamp of the message that produced it (ns since midnight).
    pub exch_ts: u64,
    /// Local receive timestamp of the frame that carried that message.
    pub rx_ts: crate::time::Nanos,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_formats_with_four_places() {
        let mut b = [0u8; 16];
        assert_eq!(Price4(1_234_500).fmt_into(&mut b), "123.4500");
        assert_eq!(Price4(5).fmt_into(&mut b), "0.0005");
        assert_eq!(Price4(u32::MAX).to_string(), "429496.7295");
    }

    #[test]
    fn symbol_trims_and_validates() {
        assert_eq!(Symbol::new("AAPL").unwrap().as_str(), "AAPL");
        assert_eq!(Symbol::new("AAPL").unwrap().0, *b"AAPL    ");
        assert!(Symbol::new("TOOLONGSYM").is_none());
        assert!(Symbol::new("").is_none());
        assert!(Symbol::new("A B").is_none());
        assert_eq!(Symbol([0xff; 8]).as_str(), "");
    }

    #[test]
    fn side_bytes_round_trip() {
        assert_eq!(Side::from_byte(b'B'), Some(Side::Buy));
        assert_eq!(Side::from_byte(b'S'), Some(Side::Sell));
        assert_eq!(Side::from_byte(b'X'), None);
        assert!(Side::Buy.at_least_as_aggressive(Price4(11), Price4(10)));
        assert!(!Side::Sell.at_least_as_aggressive(Price4(11), Price4(10)));
    }
}
