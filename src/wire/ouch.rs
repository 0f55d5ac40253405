//! Machinery shared by the OUCH 4.2 and OUCH 5.0 codecs: fixed-width field
//! codecs, the open-enumeration and message macros, and the enumerations both
//! editions define identically (PROTOCOLS.md §4, §5).
//!
//! Every message is generated from one table of `(field, type, codec,
//! offset)` rows, so the view getters, the view setters, `new_checked`, the
//! `Repr` and its `parse`/`emit` cannot drift apart; a compile-time assertion
//! checks that the offsets are contiguous and add up to the message length.

use super::{Error, Result};
use crate::types::{Price4, Side, Symbol};

/// How one fixed-width field is read from and written to the wire.
///
/// `get` is total: for checked codecs (`check` can fail) it maps bytes that
/// fail `check` to a fixed fallback, which a view can never observe because
/// views are only built through `new_checked` and setters take typed values.
pub(crate) trait Codec {
    /// The typed value.
    type Value: Copy;
    /// Bytes on the wire.
    const SIZE: usize;
    /// Validates the field's bytes (`b.len() == SIZE`).
    fn check(_b: &[u8]) -> Result<()> {
        Ok(())
    }
    /// Reads the field (`b.len() == SIZE`).
    fn get(b: &[u8]) -> Self::Value;
    /// Writes the field (`b.len() == SIZE`).
    fn put(v: Self::Value, b: &mut [u8]);
    /// Valid wire bytes for this field, for property tests.
    #[cfg(test)]
    fn arb() -> proptest::strategy::BoxedStrategy<Vec<u8>> {
        use proptest::prelude::*;
        proptest::collection::vec(any::<u8>(), Self::SIZE).boxed()
    }
}

impl Codec for u8 {
    type Value = u8;
    const SIZE: usize = 1;
    fn get(b: &[u8]) -> u8 {
        b[0]
    }
    fn put(v: u8, b: &mut [u8]) {
        b[0] = v;
    }
}

impl Codec for u16 {
    type Value = u16;
    const SIZE: usize = 2;
    fn get(b: &[u8]) -> u16 {
        u16::from_be_bytes([b[0], b[1]])
    }
    fn put(v: u16, b: &mut [u8]) {
        b[..2].copy_from_slice(&v.to_be_bytes());
    }
}

impl Codec for u32 {
    type Value = u32;
    const SIZE: usize = 4;
    fn get(b: &[u8]) -> u32 {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    fn put(v: u32, b: &mut [u8]) {
        b[..4].copy_from_slice(&v.to_be_bytes());
    }
}

impl Codec for u64 {
    type Value = u64;
    const SIZE: usize = 8;
    fn get(b: &[u8]) -> u64 {
        u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    }
    fn put(v: u64, b: &mut [u8]) {
        b[..8].copy_from_slice(&v.to_be_bytes());
    }
}

impl<const N: usize> Codec for [u8; N] {
    type Value = [u8; N];
    const SIZE: usize = N;
    fn get(b: &[u8]) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&b[..N]);
        a
    }
    fn put(v: [u8; N], b: &mut [u8]) {
        b[..N].copy_from_slice(&v);
    }
}

/// `p4`: u32 with four implied decimals (OUCH 4.2 prices).
impl Codec for Price4 {
    type Value = Price4;
    const SIZE: usize = 4;
    fn get(b: &[u8]) -> Price4 {
        Price4(<u32 as Codec>::get(b))
    }
    fn put(v: Price4, b: &mut [u8]) {
        <u32 as Codec>::put(v.0, b);
    }
}

impl Codec for Symbol {
    type Value = Symbol;
    const SIZE: usize = 8;
    fn get(b: &[u8]) -> Symbol {
        Symbol(<[u8; 8] as Codec>::get(b))
    }
    fn put(v: Symbol, b: &mut [u8]) {
        b[..8].copy_from_slice(&v.0);
    }
}

/// The price both OUCH editions use for market-priced cross orders
/// (`0x7FFF_FFFF` = 214,748.3647; one above [`Price4::MAX`]).
pub const MARKET_PRICE: Price4 = Price4(0x7FFF_FFFF);

/// Buy/Sell Indicator: a checked enumeration (the engine depends on it).
/// `T` and `E` are sells for book and position purposes ([`BuySell::side`]);
/// the variant keeps the exact byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BuySell {
    /// `B` buy.
    Buy,
    /// `S` sell.
    Sell,
    /// `T` sell short.
    SellShort,
    /// `E` sell short exempt.
    SellShortExempt,
}

impl BuySell {
    /// The wire byte.
    pub const fn as_byte(self) -> u8 {
        match self {
            BuySell::Buy => b'B',
            BuySell::Sell => b'S',
            BuySell::SellShort => b'T',
            BuySell::SellShortExempt => b'E',
        }
    }

    /// Parses `B`, `S`, `T` or `E`; anything else is [`Error::BadValue`].
    pub const fn from_byte(b: u8) -> Result<BuySell> {
        match b {
            b'B' => Ok(BuySell::Buy),
            b'S' => Ok(BuySell::Sell),
            b'T' => Ok(BuySell::SellShort),
            b'E' => Ok(BuySell::SellShortExempt),
            value => Err(Error::BadValue {
                field: "buy/sell indicator",
                value,
            }),
        }
    }

    /// The book side: `B` is [`Side::Buy`], `S`, `T` and `E` are [`Side::Sell`].
    pub const fn side(self) -> Side {
        match self {
            BuySell::Buy => Side::Buy,
            _ => Side::Sell,
        }
    }
}

impl From<Side> for BuySell {
    fn from(s: Side) -> BuySell {
        match s {
            Side::Buy => BuySell::Buy,
            Side::Sell => BuySell::Sell,
        }
    }
}

impl Codec for BuySell {
    type Value = BuySell;
    const SIZE: usize = 1;
    fn check(b: &[u8]) -> Result<()> {
        BuySell::from_byte(b[0]).map(|_| ())
    }
    fn get(b: &[u8]) -> BuySell {
        BuySell::from_byte(b[0]).unwrap_or(BuySell::Sell)
    }
    fn put(v: BuySell, b: &mut [u8]) {
        b[0] = v.as_byte();
    }
    #[cfg(test)]
    fn arb() -> proptest::strategy::BoxedStrategy<Vec<u8>> {
        use proptest::prelude::*;
        prop::sample::select(&b"BSTE"[..])
            .prop_map(|b| vec![b])
            .boxed()
    }
}

/// Order State on Accepted/Replaced: checked, because the engine acts on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderState {
    /// `L`: the order is live on the book.
    Live,
    /// `D`: the order was accepted dead (e.g. an IOC with nothing to match).
    Dead,
}

impl OrderState {
    /// The wire byte.
    pub const fn as_byte(self) -> u8 {
        match self {
            OrderState::Live => b'L',
            OrderState::Dead => b'D',
        }
    }

    /// Parses `L` or `D`; anything else is [`Error::BadValue`].
    pub const fn from_byte(b: u8) -> Result<OrderState> {
        match b {
            b'L' => Ok(OrderState::Live),
            b'D' => Ok(OrderState::Dead),
            value => Err(Error::BadValue {
                field: "order state",
                value,
            }),
        }
    }
}

impl Codec for OrderState {
    type Value = OrderState;
    const SIZE: usize = 1;
    fn check(b: &[u8]) -> Result<()> {
        OrderState::from_byte(b[0]).map(|_| ())
    }
    fn get(b: &[u8]) -> OrderState {
        OrderState::from_byte(b[0]).unwrap_or(OrderState::Dead)
    }
    fn put(v: OrderState, b: &mut [u8]) {
        b[0] = v.as_byte();
    }
    #[cfg(test)]
    fn arb() -> proptest::strategy::BoxedStrategy<Vec<u8>> {
        use proptest::prelude::*;
        prop::sample::select(&b"LD"[..])
            .prop_map(|b| vec![b])
            .boxed()
    }
}

/// Declares an open enumeration: a newtype over the raw wire value with a
/// named constant and a description per known value. Unknown values are kept
/// as they are (PROTOCOLS.md §8: venues add codes in every edition).
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub struct $Name:ident($Raw:ty) {
            $( $(#[$cmeta:meta])* $Const:ident = $val:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $Name(pub $Raw);

        impl $Name {
            $(
                #[doc = concat!("`", stringify!($val), "`: ", $text, ".")]
                $(#[$cmeta])*
                pub const $Const: $Name = $Name($val);
            )*

            /// The specification's meaning of this value, `None` if unknown.
            pub const fn description(self) -> Option<&'static str> {
                match self.0 {
                    $( $val => Some($text), )*
                    _ => None,
                }
            }

            /// True when the value is one the specification names.
            pub const fn is_known(self) -> bool {
                self.description().is_some()
            }
        }

        impl ::core::fmt::Debug for $Name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                write!(f, "{}({:#x}", stringify!($Name), self.0)?;
                match self.description() {
                    Some(d) => write!(f, " {d})"),
                    None => f.write_str(" unknown)"),
                }
            }
        }

        impl From<$Raw> for $Name {
            fn from(v: $Raw) -> $Name {
                $Name(v)
            }
        }

        impl From<$Name> for $Raw {
            fn from(v: $Name) -> $Raw {
                v.0
            }
        }

        impl $crate::wire::ouch::Codec for $Name {
            type Value = $Name;
            const SIZE: usize = <$Raw as $crate::wire::ouch::Codec>::SIZE;
            fn get(b: &[u8]) -> $Name {
                $Name(<$Raw as $crate::wire::ouch::Codec>::get(b))
            }
            fn put(v: $Name, b: &mut [u8]) {
                <$Raw as $crate::wire::ouch::Codec>::put(v.0, b)
            }
        }
    };
}
pub(crate) use open_enum;

/// Generates one OUCH message: a zero-copy view `$View<T: AsRef<[u8]>>`
/// (`new_checked`, typed getters, setters on `AsMut` buffers) and an owned
/// `$Repr` with `parse`/`emit`, from one table of fields. With
/// `appendage options`, the last two bytes of the fixed part are the OUCH 5.0
/// Appendage Length and the TLV appendage follows (`Repr::options`).
macro_rules! ouch_message {
    (
        $(#[$vmeta:meta])*
        view $View:ident;
        repr $Repr:ident;
        type $kind:literal, len $len:literal $(, appendage $opts:ident)?;
        {
            $( $(#[$fmeta:meta])* $field:ident / $set:ident : $Ty:ty [$C:ty] = $off:literal, )*
        }
    ) => {
        $(#[$vmeta])*
        ///
        /// Zero-copy view: [`Self::new_checked`] validates the length, the type
        /// byte and every checked field once; afterwards no getter can panic.
        #[derive(Debug, Clone)]
        pub struct $View<T: AsRef<[u8]>> {
            buffer: T,
        }

        const _: () = {
            #[allow(unused_mut)]
            let mut at = 1usize;
            $(
                assert!($off == at, concat!("offset of ", stringify!($field)));
                at += <$C as $crate::wire::ouch::Codec>::SIZE;
            )*
            $( let _ = stringify!($opts); at += 2; )?
            assert!(at == $len, concat!("length of ", stringify!($View)));
        };

        impl<T: AsRef<[u8]>> $View<T> {
            /// The message type byte.
            pub const TYPE: u8 = $kind;
            /// Length of the fixed part in bytes, type byte included.
            pub const LEN: usize = $len;

            /// Wraps `buffer` after checking its length, type byte and checked
            /// fields. Bytes after the message are ignored (later editions
            /// append fields).
            pub fn new_checked(buffer: T) -> $crate::wire::Result<Self> {
                let b = buffer.as_ref();
                if b.len() < $len {
                    return Err($crate::wire::Error::Truncated { len: b.len(), need: $len });
                }
                if b[0] != $kind {
                    return Err($crate::wire::Error::UnknownType(b[0]));
                }
                $(
                    <$C as $crate::wire::ouch::Codec>::check(
                        &b[$off..$off + <$C as $crate::wire::ouch::Codec>::SIZE],
                    )?;
                )*
                $(
                    let _ = stringify!($opts);
                    let app = usize::from(u16::from_be_bytes([b[$len - 2], b[$len - 1]]));
                    if b.len() < $len + app {
                        return Err($crate::wire::Error::Truncated { len: b.len(), need: $len + app });
                    }
                    $crate::wire::ouch50::Appendage::new_checked(&b[$len..$len + app])?;
                )?
                Ok($View { buffer })
            }

            /// The underlying buffer.
            pub fn into_inner(self) -> T {
                self.buffer
            }

            /// The message's bytes (fixed part plus any appendage).
            pub fn as_bytes(&self) -> &[u8] {
                let b = self.buffer.as_ref();
                &b[..self.total_len().min(b.len())]
            }

            /// Length of the whole message in bytes.
            #[allow(clippy::let_and_return)]
            pub fn total_len(&self) -> usize {
                let len = $len;
                $(
                    let _ = stringify!($opts);
                    let len = len + usize::from(self.appendage_length());
                )?
                len
            }

            $(
                $(#[$fmeta])*
                #[inline]
                pub fn $field(&self) -> $Ty {
                    <$C as $crate::wire::ouch::Codec>::get(
                        &self.buffer.as_ref()[$off..$off + <$C as $crate::wire::ouch::Codec>::SIZE],
                    )
                }
            )*

            $(
                /// Appendage Length: bytes of TLV options after the fixed part.
                #[inline]
                pub fn appendage_length(&self) -> u16 {
                    let _ = stringify!($opts);
                    let b = self.buffer.as_ref();
                    u16::from_be_bytes([b[$len - 2], b[$len - 1]])
                }

                /// The TLV appendage (validated by `new_checked`).
                pub fn appendage(&self) -> $crate::wire::ouch50::Appendage<'_> {
                    let b = self.buffer.as_ref();
                    $crate::wire::ouch50::Appendage::validated(
                        &b[$len..$len + usize::from(self.appendage_length())],
                    )
                }
            )?
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $View<T> {
            $(
                #[doc = concat!("Sets the field read by [`Self::", stringify!($field), "`].")]
                #[inline]
                pub fn $set(&mut self, value: $Ty) {
                    <$C as $crate::wire::ouch::Codec>::put(
                        value,
                        &mut self.buffer.as_mut()[$off..$off + <$C as $crate::wire::ouch::Codec>::SIZE],
                    )
                }
            )*
        }

        #[doc = concat!("Owned form of [`", stringify!($View), "`].")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $Repr {
            $( $(#[$fmeta])* pub $field: $Ty, )*
            $(
                /// The TLV options of the appendage (unknown tags are dropped).
                pub $opts: $crate::wire::ouch50::Options,
            )?
        }

        impl $Repr {
            /// The message type byte.
            pub const TYPE: u8 = $kind;
            /// Length of the fixed part in bytes, type byte included.
            pub const LEN: usize = $len;
            /// True when the fixed part ends with an Appendage Length and TLV
            /// options follow.
            pub const HAS_APPENDAGE: bool = false $( || { let _ = stringify!($opts); true } )?;

            /// Parses the message at the start of `msg`.
            pub fn parse(msg: &[u8]) -> $crate::wire::Result<$Repr> {
                let v = $View::new_checked(msg)?;
                Self::from_view(&v)
            }

            /// Reads every field of a checked view.
            #[allow(clippy::unnecessary_wraps)]
            pub fn from_view<T: AsRef<[u8]>>(v: &$View<T>) -> $crate::wire::Result<$Repr> {
                let _ = v;
                Ok($Repr {
                    $( $field: v.$field(), )*
                    $( $opts: $crate::wire::ouch50::Options::parse(&v.appendage())?, )?
                })
            }

            /// Length of the message [`Self::emit`] writes.
            #[allow(clippy::let_and_return)]
            pub fn buffer_len(&self) -> usize {
                let len = $len;
                $( let len = len + self.$opts.encoded_len(); )?
                len
            }

            /// Writes the message into `out` and returns its length.
            pub fn emit(&self, out: &mut [u8]) -> $crate::wire::Result<usize> {
                if out.len() < $len {
                    return Err($crate::wire::Error::BufferTooSmall { need: self.buffer_len() });
                }
                out[0] = $kind;
                $(
                    <$C as $crate::wire::ouch::Codec>::put(
                        self.$field,
                        &mut out[$off..$off + <$C as $crate::wire::ouch::Codec>::SIZE],
                    );
                )*
                #[allow(unused_mut)]
                let mut total = $len;
                $(
                    let n = match self.$opts.emit(&mut out[$len..]) {
                        Ok(n) => n,
                        Err($crate::wire::Error::BufferTooSmall { .. }) => {
                            return Err($crate::wire::Error::BufferTooSmall { need: self.buffer_len() });
                        }
                        Err(e) => return Err(e),
                    };
                    let n16 = u16::try_from(n)
                        .map_err(|_| $crate::wire::Error::OutOfRange("appendage length"))?;
                    out[$len - 2..$len].copy_from_slice(&n16.to_be_bytes());
                    total += n;
                )?
                Ok(total)
            }

            /// Valid wire bytes of this message, for property tests.
            #[cfg(test)]
            pub(crate) fn arb_bytes() -> proptest::strategy::BoxedStrategy<Vec<u8>> {
                use proptest::prelude::*;
                let parts: Vec<BoxedStrategy<Vec<u8>>> = vec![
                    Just(vec![$kind]).boxed(),
                    $( <$C as $crate::wire::ouch::Codec>::arb(), )*
                ];
                #[allow(unused_mut)]
                let mut fixed = parts.prop_map(|p| p.concat()).boxed();
                $(
                    let _ = stringify!($opts);
                    fixed = (fixed, $crate::wire::ouch50::arb_appendage())
                        .prop_map(|(mut f, app)| {
                            f.extend_from_slice(&(app.len() as u16).to_be_bytes());
                            f.extend_from_slice(&app);
                            f
                        })
                        .boxed();
                )?
                fixed
            }
        }
    };
}
pub(crate) use ouch_message;

/// Generates a direction's message set: an enum over the `Repr`s with
/// `parse` (dispatch on the type byte), `emit` and `message_type`.
macro_rules! message_set {
    (
        $(#[$meta:meta])*
        pub enum $Name:ident {
            $( $(#[$vmeta:meta])* $Var:ident($Repr:ident), )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $Name {
            $( $(#[$vmeta])* $Var($Repr), )*
        }

        impl $Name {
            /// Parses one message, dispatching on its type byte.
            pub fn parse(msg: &[u8]) -> $crate::wire::Result<$Name> {
                let Some(&kind) = msg.first() else {
                    return Err($crate::wire::Error::Truncated { len: 0, need: 1 });
                };
                match kind {
                    $( $Repr::TYPE => Ok($Name::$Var($Repr::parse(msg)?)), )*
                    other => Err($crate::wire::Error::UnknownType(other)),
                }
            }

            /// Writes the message into `out` and returns its length.
            pub fn emit(&self, out: &mut [u8]) -> $crate::wire::Result<usize> {
                match self {
                    $( $Name::$Var(m) => m.emit(out), )*
                }
            }

            /// Length of the message [`Self::emit`] writes.
            pub fn buffer_len(&self) -> usize {
                match self {
                    $( $Name::$Var(m) => m.buffer_len(), )*
                }
            }

            /// The message type byte.
            pub fn message_type(&self) -> u8 {
                match self {
                    $( $Name::$Var(_) => $Repr::TYPE, )*
                }
            }
        }
    };
}
pub(crate) use message_set;

open_enum! {
    /// Capacity (both editions): `A`, `P`, `R`, `O`; the venue turns anything
    /// else into `O`.
    pub struct Capacity(u8) {
        AGENCY = b'A' => "agency",
        PRINCIPAL = b'P' => "principal",
        RISKLESS = b'R' => "riskless principal",
        OTHER = b'O' => "other",
    }
}

open_enum! {
    /// Intermarket Sweep Eligibility.
    pub struct IntermarketSweep(u8) {
        ELIGIBLE = b'Y' => "eligible",
        NOT_ELIGIBLE = b'N' => "not eligible",
        TRADE_AT = b'y' => "trade-at intermarket sweep order (OUCH 4.2)",
    }
}

open_enum! {
    /// Customer Type.
    pub struct CustomerType(u8) {
        RETAIL = b'R' => "retail designated order",
        NOT_RETAIL = b'N' => "not a retail designated order",
        PORT_DEFAULT = b' ' => "default configured for the port",
    }
}

open_enum! {
    /// System Event code.
    pub struct EventCode(u8) {
        START_OF_DAY = b'S' => "start of day",
        END_OF_DAY = b'E' => "end of day",
    }
}

open_enum! {
    /// Broken Trade reason.
    pub struct BrokenTradeReason(u8) {
        ERRONEOUS = b'E' => "erroneous",
        CONSENT = b'C' => "consent",
        SUPERVISORY = b'S' => "supervisory",
        EXTERNAL = b'X' => "external",
    }
}

open_enum! {
    /// BBO Weight Indicator (OUCH 4.2 Accepted/Replaced; OUCH 5.0 tag 18).
    pub struct BboWeight(u8) {
        UNDER_0_2_PCT = b'0' => "0 - 0.2%",
        UNDER_1_PCT = b'1' => "0.2 - 1%",
        UNDER_2_PCT = b'2' => "1 - 2%",
        OVER_2_PCT = b'3' => "greater than 2%",
        UNSPECIFIED = b' ' => "unspecified",
        SETS_QBBO = b'S' => "sets the QBBO while joining the NBBO",
        IMPROVES_NBBO = b'N' => "improves the NBBO upon entry",
    }
}

open_enum! {
    /// Liquidity Flag on executions (OMI-X4, OMI-O5, WS); the venue adds codes.
    pub struct LiquidityFlag(u8) {
        ADDED = b'A' => "added",
        REMOVED = b'R' => "removed",
        OPENING_CROSS = b'O' => "opening cross",
        OPENING_CROSS_IMBALANCE_ONLY = b'M' => "opening cross (imbalance-only)",
        CLOSING_CROSS = b'C' => "closing cross",
        CLOSING_CROSS_IMBALANCE_ONLY = b'L' => "closing cross (imbalance-only)",
        HALT_IPO_CROSS = b'H' => "halt/IPO cross",
        HALT_CROSS = b'K' => "halt cross",
        INTRADAY_CROSS = b'I' => "intraday/post-market cross",
        NON_DISPLAYED_ADDED = b'J' => "non-displayed adding liquidity",
        ADDED_POST_ONLY = b'W' => "added post-only",
        MIDPOINT_REMOVED = b'm' => "removed liquidity at a midpoint",
        MIDPOINT_ADDED = b'k' => "added liquidity via a midpoint order",
        SUPPLEMENTAL = b'0' => "supplemental order execution",
        IMPROVES_NBBO = b'7' => "displayed, liquidity-adding order improves the NBBO",
        SETS_QBBO = b'8' => "displayed, liquidity-adding order sets the QBBO while joining the NBBO",
        RETAIL_REMOVED = b'd' => "retail designated execution that removed liquidity",
        RETAIL_ADDED_DISPLAYED = b'e' => "retail designated execution that added displayed liquidity",
        RETAIL_ADDED_NON_DISPLAYED = b'f' => "retail designated execution that added non-displayed liquidity",
        RPI_PROVIDES = b'j' => "RPI (retail price improving) order provides liquidity",
        RETAIL_REMOVES_RPI = b'r' => "retail order removes RPI liquidity",
        RETAIL_REMOVES_NON_DISPLAYED = b't' => "retail order removes price improving non-displayed liquidity other than RPI liquidity",
        GROUP_A_ADDED_DISPLAYED = b'4' => "added displayed liquidity in a Group A symbol",
        GROUP_A_ADDED_NON_DISPLAYED = b'5' => "added non-displayed liquidity in a Group A symbol",
        GROUP_A_REMOVED = b'6' => "removed liquidity in a Group A symbol",
        GROUP_A_MIDPOINT_ADDED = b'g' => "added non-displayed mid-point liquidity in a Group A symbol",
        MIDPOINT_EXTENDED_LIFE = b'n' => "midpoint extended life order execution",
    }
}
