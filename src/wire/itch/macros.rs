//! The table-driven generator of ITCH message views, `Repr`s and the
//! [`Message`](super::Message) enum: one declaration per message type, from
//! which every offset, getter, decoder and emitter follows.

/// The owned type of a field kind.
macro_rules! itch_ty {
    (u8) => {
        u8
    };
    (u16) => {
        u16
    };
    (u32) => {
        u32
    };
    (u64) => {
        u64
    };
    (price) => {
        $crate::types::Price4
    };
    (qty) => {
        $crate::types::Qty
    };
    (symbol) => {
        $crate::types::Symbol
    };
    (side) => {
        $crate::types::Side
    };
    (alpha2) => {
        [u8; 2]
    };
    (alpha4) => {
        [u8; 4]
    };
}

/// The type a view getter returns for a field kind (a side is checked).
macro_rules! itch_view_ty {
    (side) => { $crate::wire::Result<$crate::types::Side> };
    ($k:ident) => { itch_ty!($k) };
}

/// The wire size of a field kind.
macro_rules! itch_size {
    (u8) => {
        1
    };
    (u16) => {
        2
    };
    (u32) => {
        4
    };
    (u64) => {
        8
    };
    (price) => {
        4
    };
    (qty) => {
        4
    };
    (symbol) => {
        8
    };
    (side) => {
        1
    };
    (alpha2) => {
        2
    };
    (alpha4) => {
        4
    };
}

/// Reads a field of kind `k` at offset `off` of the array `a` (length `len`).
macro_rules! itch_get {
    ($a:expr, $len:literal, $off:literal, u8) => {
        field::u8_at::<$len, $off>($a)
    };
    ($a:expr, $len:literal, $off:literal, u16) => {
        field::u16_at::<$len, $off>($a)
    };
    ($a:expr, $len:literal, $off:literal, u32) => {
        field::u32_at::<$len, $off>($a)
    };
    ($a:expr, $len:literal, $off:literal, u64) => {
        field::u64_at::<$len, $off>($a)
    };
    ($a:expr, $len:literal, $off:literal, price) => {
        $crate::types::Price4(field::u32_at::<$len, $off>($a))
    };
    ($a:expr, $len:literal, $off:literal, qty) => {
        $crate::types::Qty(field::u32_at::<$len, $off>($a))
    };
    ($a:expr, $len:literal, $off:literal, symbol) => {
        $crate::types::Symbol(*field::arr_at::<$len, $off, 8>($a))
    };
    ($a:expr, $len:literal, $off:literal, side) => {
        field::side_at::<$len, $off>($a)
    };
    ($a:expr, $len:literal, $off:literal, alpha2) => {
        *field::arr_at::<$len, $off, 2>($a)
    };
    ($a:expr, $len:literal, $off:literal, alpha4) => {
        *field::arr_at::<$len, $off, 4>($a)
    };
}

/// The raw bytes of an alpha / symbol field in the array `a`.
macro_rules! itch_raw {
    ($a:expr, $len:literal, $off:literal, symbol) => {
        field::arr_at::<$len, $off, 8>($a)
    };
    ($a:expr, $len:literal, $off:literal, alpha2) => {
        field::arr_at::<$len, $off, 2>($a)
    };
    ($a:expr, $len:literal, $off:literal, alpha4) => {
        field::arr_at::<$len, $off, 4>($a)
    };
}

/// The raw bytes of an alpha / symbol field of a `Repr`.
macro_rules! itch_repr_raw {
    ($v:expr, symbol) => {
        &$v.0
    };
    ($v:expr, alpha2) => {
        &$v
    };
    ($v:expr, alpha4) => {
        &$v
    };
}

/// Turns a getter result into the decoded value (propagating a bad side).
macro_rules! itch_decode {
    ($e:expr; side) => {
        $e?
    };
    ($e:expr; $k:ident) => {
        $e
    };
}

/// Writes the value `v` of kind `k` at offset `off` of the array `a`.
macro_rules! itch_put {
    ($a:expr, $len:literal, $off:literal, $v:expr, u8) => {
        field::put_u8::<$len, $off>($a, $v)
    };
    ($a:expr, $len:literal, $off:literal, $v:expr, u16) => {
        field::put_u16::<$len, $off>($a, $v)
    };
    ($a:expr, $len:literal, $off:literal, $v:expr, u32) => {
        field::put_u32::<$len, $off>($a, $v)
    };
    ($a:expr, $len:literal, $off:literal, $v:expr, u64) => {
        field::put_u64::<$len, $off>($a, $v)
    };
    ($a:expr, $len:literal, $off:literal, $v:expr, price) => {
        field::put_u32::<$len, $off>($a, $v.0)
    };
    ($a:expr, $len:literal, $off:literal, $v:expr, qty) => {
        field::put_u32::<$len, $off>($a, $v.0)
    };
    ($a:expr, $len:literal, $off:literal, $v:expr, symbol) => {
        field::put_arr::<$len, $off, 8>($a, &$v.0)
    };
    ($a:expr, $len:literal, $off:literal, $v:expr, side) => {
        field::put_u8::<$len, $off>($a, $v.as_byte())
    };
    ($a:expr, $len:literal, $off:literal, $v:expr, alpha2) => {
        field::put_arr::<$len, $off, 2>($a, &$v)
    };
    ($a:expr, $len:literal, $off:literal, $v:expr, alpha4) => {
        field::put_arr::<$len, $off, 4>($a, &$v)
    };
}

/// Declares every ITCH message: for each, a `Repr` struct, a zero-copy view
/// and a variant of `Message`, plus `Message::{parse, emit, msg_type, header}`
/// and `message_len`.
macro_rules! itch_messages {
    (
        $(
            $(#[$doc:meta])*
            $mt:literal $name:literal, len $len:literal,
            $Variant:ident($Repr:ident), $View:ident {
                $(
                    $(#[$fdoc:meta])*
                    $field:ident : $kind:ident @ $off:literal $(=> $sname:ident)?
                ),* $(,)?
            }
        )*
    ) => {
        $(
            // Offsets are contiguous and the fields fill the message exactly.
            const _: () = assert!(HEADER_LEN $(+ itch_size!($kind))* == $len);

            $(#[$doc])*
            #[doc = ""]
            #[doc = concat!("Message type `", $name, "`, ", stringify!($len), " bytes (PROTOCOLS.md §1).")]
            #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
            pub struct $Repr {
                /// Stock locate, tracking number and timestamp.
                pub header: Header,
                $(
                    $(#[$fdoc])*
                    #[doc = concat!("Offset ", stringify!($off), ".")]
                    pub $field: itch_ty!($kind),
                )*
            }

            impl $Repr {
                /// The message type byte.
                pub const TYPE: u8 = $mt;
                /// The message length in bytes, type byte included.
                pub const LEN: usize = $len;

                /// Decodes the message at the start of `bytes`: the type byte
                /// must be this message's (else [`Error::BadValue`]) and at
                /// least [`Self::LEN`] bytes must be present (else
                /// [`Error::Truncated`]); bytes after `LEN` are ignored.
                #[inline]
                pub fn parse(bytes: &[u8]) -> Result<Self> {
                    Self::decode(check_prefix::<$len>(bytes, $mt)?)
                }

                /// Decodes from a checked view.
                #[inline]
                pub fn from_view<T: AsRef<[u8]>>(view: &$View<T>) -> Result<Self> {
                    Self::decode(view.array())
                }

                /// Decodes the first `LEN` bytes without looking at the type byte.
                #[inline]
                fn parse_body(bytes: &[u8]) -> Result<Self> {
                    match bytes.first_chunk::<$len>() {
                        Some(a) => Self::decode(a),
                        None => Err(Error::Truncated { len: bytes.len(), need: $len }),
                    }
                }

                #[inline(always)]
                fn decode(a: &[u8; $len]) -> Result<Self> {
                    Ok($Repr {
                        header: Header::decode(a),
                        $( $field: itch_decode!(itch_get!(a, $len, $off, $kind); $kind), )*
                    })
                }

                /// Writes the message into the start of `out` and returns its
                /// length. Fails with [`Error::BufferTooSmall`] if `out` is
                /// shorter than [`Self::LEN`] and with [`Error::OutOfRange`]
                /// if the timestamp does not fit 48 bits; `out` is untouched on
                /// error. Never allocates.
                #[inline]
                pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
                    self.header.check()?;
                    let Some(a) = out.first_chunk_mut::<$len>() else {
                        return Err(Error::BufferTooSmall { need: $len });
                    };
                    field::put_u8::<$len, 0>(a, $mt);
                    self.header.encode(a);
                    $( itch_put!(a, $len, $off, self.$field, $kind); )*
                    Ok($len)
                }

                $($(
                    #[doc = concat!("`", stringify!($field), "` as text with trailing spaces removed; [`Error::BadAscii`] if not printable ASCII.")]
                    pub fn $sname(&self) -> Result<&str> {
                        alpha(stringify!($field), itch_repr_raw!(self.$field, $kind))
                    }
                )?)*
            }

            #[doc = concat!("Zero-copy view of a [`", stringify!($Repr), "`] message (`", $name, "`, ", stringify!($len), " bytes).")]
            ///
            /// After [`new_checked`](Self::new_checked) no getter can panic.
            #[derive(Clone, Copy, Debug, PartialEq, Eq)]
            pub struct $View<T: AsRef<[u8]>> {
                buffer: T,
            }

            impl<T: AsRef<[u8]>> $View<T> {
                /// The message length in bytes, type byte included.
                pub const LEN: usize = $len;

                /// Wraps a buffer without checking it. Getters panic if the
                /// buffer is shorter than [`Self::LEN`].
                pub const fn new_unchecked(buffer: T) -> Self {
                    $View { buffer }
                }

                /// Wraps a buffer after checking its type byte
                /// ([`Error::BadValue`]) and length ([`Error::Truncated`]);
                /// bytes after `LEN` are ignored.
                pub fn new_checked(buffer: T) -> Result<Self> {
                    check_prefix::<$len>(buffer.as_ref(), $mt)?;
                    Ok($View { buffer })
                }

                /// The underlying buffer.
                pub fn into_inner(self) -> T {
                    self.buffer
                }

                #[inline(always)]
                #[track_caller]
                fn array(&self) -> &[u8; $len] {
                    field::view_array::<$len>(self.buffer.as_ref())
                }

                /// The common header (locate, tracking number, timestamp).
                #[inline]
                pub fn header(&self) -> Header {
                    Header::decode(self.array())
                }

                $(
                    $(#[$fdoc])*
                    #[inline]
                    pub fn $field(&self) -> itch_view_ty!($kind) {
                        itch_get!(self.array(), $len, $off, $kind)
                    }
                )*

                $($(
                    #[doc = concat!("`", stringify!($field), "` as text borrowed from the buffer, trailing spaces removed; [`Error::BadAscii`] if not printable ASCII.")]
                    pub fn $sname(&self) -> Result<&str> {
                        alpha(stringify!($field), itch_raw!(self.array(), $len, $off, $kind))
                    }
                )?)*
            }
        )*

        /// Any ITCH 5.0 message, decoded.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Message {
            $(
                $(#[$doc])*
                $Variant($Repr),
            )*
        }

        impl Message {
            /// Decodes one message from `bytes` (a MoldUDP64 block or a
            /// BinaryFILE record, framing removed).
            ///
            /// The type byte selects the layout: unknown → [`Error::UnknownType`];
            /// fewer bytes than the type's length → [`Error::Truncated`]; a
            /// side other than `B`/`S` → [`Error::BadValue`]. Bytes beyond the
            /// type's length are accepted and ignored, as a future edition
            /// appending fields would send them. Never panics, never allocates.
            #[inline]
            pub fn parse(bytes: &[u8]) -> Result<Message> {
                let Some(&t) = bytes.first() else {
                    return Err(Error::Truncated { len: 0, need: 1 });
                };
                match t {
                    $( $mt => $Repr::parse_body(bytes).map(Message::$Variant), )*
                    _ => Err(Error::UnknownType(t)),
                }
            }

            /// Writes the message into the start of `out` and returns its
            /// length ([`Error::BufferTooSmall`] if `out` is short,
            /// [`Error::OutOfRange`] for a timestamp beyond 48 bits). Never
            /// allocates.
            #[inline]
            pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
                match self {
                    $( Message::$Variant(m) => m.emit(out), )*
                }
            }

            /// The message type byte.
            #[inline]
            pub const fn msg_type(&self) -> u8 {
                match self {
                    $( Message::$Variant(_) => $mt, )*
                }
            }

            /// The common header.
            #[inline]
            pub const fn header(&self) -> &Header {
                match self {
                    $( Message::$Variant(m) => &m.header, )*
                }
            }

            /// The encoded length in bytes, type byte included.
            #[inline]
            pub const fn encoded_len(&self) -> usize {
                match self {
                    $( Message::$Variant(_) => $len, )*
                }
            }
        }

        $(
            impl From<$Repr> for Message {
                fn from(m: $Repr) -> Message {
                    Message::$Variant(m)
                }
            }
        )*

        /// The length (type byte included) of the ITCH 5.0 message with type
        /// byte `msg_type`, or `None` if the type is unknown.
        #[inline]
        pub const fn message_len(msg_type: u8) -> Option<usize> {
            match msg_type {
                $( $mt => Some($len), )*
                _ => None,
            }
        }

        /// Every message type byte this module knows, in PROTOCOLS.md order.
        pub const MESSAGE_TYPES: &[u8] = &[$($mt),*];
    };
}
