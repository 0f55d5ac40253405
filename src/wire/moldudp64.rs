//! MoldUDP64 1.00 (PROTOCOLS.md §2): the downstream packet that carries ITCH
//! messages over UDP, its heartbeat and end-of-session forms, and the
//! re-request packet.
//!
//! [`Packet`] is a zero-copy view: `new_checked` validates the 20-byte header
//! once, after which no getter can panic; [`Packet::blocks`] walks the message
//! blocks and reports a block running past the packet as an error instead of
//! reading beyond it. [`PacketBuilder`] writes a packet into a caller's buffer
//! (ITCH messages can be emitted straight into their block). Nothing here
//! allocates or panics on any input.

use crate::wire::{alpha, field, put_alpha, Error, Result};

/// Bytes of the downstream packet header: session (10), sequence (8), count (2).
pub const HEADER_LEN: usize = 20;
/// Bytes of a request packet.
pub const REQUEST_LEN: usize = 20;
/// Bytes of the session field.
pub const SESSION_LEN: usize = 10;
/// Message count of a heartbeat.
pub const HEARTBEAT_COUNT: u16 = 0;
/// Message count of an end-of-session packet.
pub const END_OF_SESSION_COUNT: u16 = 0xFFFF;
/// The most message blocks a packet can announce (0xFFFF means end of session).
pub const MAX_MESSAGE_COUNT: u16 = 0xFFFE;

/// A MoldUDP64 session name: 10 opaque bytes, by convention ASCII,
/// left-justified and space-padded.
pub type Session = [u8; SESSION_LEN];

/// Builds a [`Session`] from text (left-justified, space-padded); fails if
/// longer than 10 bytes or not printable ASCII.
pub fn session_from_str(text: &str) -> Result<Session> {
    let mut s = [b' '; SESSION_LEN];
    put_alpha("session", &mut s, text.as_bytes())?;
    Ok(s)
}

/// The first `N` bytes of `b`, or [`Error::Truncated`].
#[inline(always)]
fn prefix<const N: usize>(b: &[u8]) -> Result<&[u8; N]> {
    b.first_chunk::<N>().ok_or(Error::Truncated {
        len: b.len(),
        need: N,
    })
}

/// Splits a 20-byte header or request into its fields.
#[inline(always)]
fn split_header(a: &[u8; HEADER_LEN]) -> (&Session, u64, u16) {
    (
        field::arr_at::<HEADER_LEN, 0, SESSION_LEN>(a),
        field::u64_at::<HEADER_LEN, 10>(a),
        field::u16_at::<HEADER_LEN, 18>(a),
    )
}

/// Writes a 20-byte header or request.
#[inline(always)]
fn put_header(a: &mut [u8; HEADER_LEN], session: &Session, sequence: u64, count: u16) {
    field::put_arr::<HEADER_LEN, 0, SESSION_LEN>(a, session);
    field::put_u64::<HEADER_LEN, 10>(a, sequence);
    field::put_u16::<HEADER_LEN, 18>(a, count);
}

/// Zero-copy view of a downstream MoldUDP64 packet (a UDP payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; getters panic if it is shorter
    /// than [`HEADER_LEN`].
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer after checking that it holds a whole header
    /// ([`Error::Truncated`] otherwise). Blocks are checked as they are read.
    pub fn new_checked(buffer: T) -> Result<Self> {
        prefix::<HEADER_LEN>(buffer.as_ref())?;
        Ok(Packet { buffer })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline(always)]
    #[track_caller]
    fn header_bytes(&self) -> &[u8; HEADER_LEN] {
        field::view_array::<HEADER_LEN>(self.buffer.as_ref())
    }

    /// The session (offset 0, 10 bytes).
    #[inline]
    pub fn session(&self) -> &Session {
        split_header(self.header_bytes()).0
    }

    /// The session as text, trailing spaces removed; [`Error::BadAscii`] if
    /// not printable ASCII.
    pub fn session_str(&self) -> Result<&str> {
        alpha("session", self.session())
    }

    /// Sequence number (offset 10): of the first block; in a heartbeat or
    /// end-of-session packet, the next sequence number expected.
    #[inline]
    pub fn sequence(&self) -> u64 {
        split_header(self.header_bytes()).1
    }

    /// Message count (offset 18): blocks in the packet, 0 for a heartbeat,
    /// 0xFFFF for end of session.
    #[inline]
    pub fn message_count(&self) -> u16 {
        split_header(self.header_bytes()).2
    }

    /// True for a heartbeat (count 0).
    #[inline]
    pub fn is_heartbeat(&self) -> bool {
        self.message_count() == HEARTBEAT_COUNT
    }

    /// True for an end-of-session packet (count 0xFFFF).
    #[inline]
    pub fn is_end_of_session(&self) -> bool {
        self.message_count() == END_OF_SESSION_COUNT
    }

    /// The number of message blocks the header announces (0 for heartbeat and
    /// end of session).
    #[inline]
    pub fn block_count(&self) -> u16 {
        match self.message_count() {
            END_OF_SESSION_COUNT => 0,
            n => n,
        }
    }

    /// The sequence number after this packet: `sequence + block_count`.
    #[inline]
    pub fn next_sequence(&self) -> u64 {
        self.sequence().wrapping_add(self.block_count() as u64)
    }

    /// The owned header.
    pub fn header(&self) -> PacketHeader {
        let (session, sequence, message_count) = split_header(self.header_bytes());
        PacketHeader {
            session: *session,
            sequence,
            message_count,
        }
    }

    /// The bytes after the header (the message blocks).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        b.get(HEADER_LEN..).unwrap_or(&[])
    }

    /// Iterates over the message blocks, block k carrying sequence number
    /// `sequence + k`.
    #[inline]
    pub fn blocks(&self) -> Blocks<'_> {
        Blocks {
            rest: self.payload(),
            remaining: self.block_count(),
            failed: false,
        }
    }
}

/// Iterator over the message blocks of a [`Packet`]: yields each block's
/// payload (its `u16` length removed).
///
/// It yields at most the announced count. A block whose length runs past the
/// packet yields [`Error::BadLength`] once and ends the iteration. Once it has
/// returned `None`, [`count_matched`](Self::count_matched) says whether the
/// packet held exactly the announced blocks and nothing after them.
#[derive(Clone, Debug)]
pub struct Blocks<'a> {
    rest: &'a [u8],
    remaining: u16,
    failed: bool,
}

impl<'a> Blocks<'a> {
    /// True when every announced block was present and no bytes follow the
    /// last one (meaningful after the iterator has returned `None`).
    pub fn count_matched(&self) -> bool {
        !self.failed && self.remaining == 0 && self.rest.is_empty()
    }

    /// Announced blocks not yet yielded.
    pub fn remaining(&self) -> u16 {
        self.remaining
    }

    /// Bytes not yet consumed.
    pub fn rest(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Blocks<'a> {
    type Item = Result<&'a [u8]>;

    #[inline]
    fn next(&mut self) -> Option<Result<&'a [u8]>> {
        if self.remaining == 0 || self.failed || self.rest.is_empty() {
            return None;
        }
        let parsed = self
            .rest
            .split_first_chunk::<2>()
            .and_then(|(len, body)| body.split_at_checked(u16::from_be_bytes(*len) as usize));
        match parsed {
            Some((block, rest)) => {
                self.rest = rest;
                self.remaining -= 1;
                Some(Ok(block))
            }
            None => {
                self.failed = true;
                Some(Err(Error::BadLength("message block runs past the packet")))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.failed {
            (0, Some(0))
        } else {
            // Each block takes at least its 2-byte length.
            let upper = (self.remaining as usize).min(self.rest.len().div_ceil(2));
            (0, Some(upper))
        }
    }
}

impl core::iter::FusedIterator for Blocks<'_> {}

/// The owned downstream packet header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PacketHeader {
    /// Session (offset 0).
    pub session: Session,
    /// Sequence number of the first block, or the next expected one in a
    /// heartbeat / end of session (offset 10).
    pub sequence: u64,
    /// Block count; 0 heartbeat, 0xFFFF end of session (offset 18).
    pub message_count: u16,
}

impl PacketHeader {
    /// Decodes the header at the start of `bytes` ([`Error::Truncated`] if
    /// fewer than 20 bytes).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let (session, sequence, message_count) = split_header(prefix::<HEADER_LEN>(bytes)?);
        Ok(PacketHeader {
            session: *session,
            sequence,
            message_count,
        })
    }

    /// Writes the 20-byte header into the start of `out`.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let a = out
            .first_chunk_mut::<HEADER_LEN>()
            .ok_or(Error::BufferTooSmall { need: HEADER_LEN })?;
        put_header(a, &self.session, self.sequence, self.message_count);
        Ok(HEADER_LEN)
    }

    /// The session as text; [`Error::BadAscii`] if not printable ASCII.
    pub fn session_str(&self) -> Result<&str> {
        alpha("session", &self.session)
    }

    /// True for a heartbeat (count 0).
    pub fn is_heartbeat(&self) -> bool {
        self.message_count == HEARTBEAT_COUNT
    }

    /// True for an end-of-session packet (count 0xFFFF).
    pub fn is_end_of_session(&self) -> bool {
        self.message_count == END_OF_SESSION_COUNT
    }
}

/// Writes a heartbeat (count 0, `next_sequence` = next sequence number the
/// server will send) into `out`; returns its length (20).
pub fn emit_heartbeat(out: &mut [u8], session: &Session, next_sequence: u64) -> Result<usize> {
    PacketHeader {
        session: *session,
        sequence: next_sequence,
        message_count: HEARTBEAT_COUNT,
    }
    .emit(out)
}

/// Writes an end-of-session packet (count 0xFFFF) into `out`; returns its
/// length (20).
pub fn emit_end_of_session(out: &mut [u8], session: &Session, next_sequence: u64) -> Result<usize> {
    PacketHeader {
        session: *session,
        sequence: next_sequence,
        message_count: END_OF_SESSION_COUNT,
    }
    .emit(out)
}

/// Writes a downstream packet into a caller's buffer, block by block.
///
/// The header is written at once and its count kept current, so the buffer
/// always holds a valid packet of the blocks pushed so far. The buffer's
/// length is the packet's size limit (e.g. 1400 + 20 bytes to stay in one
/// Ethernet frame).
#[derive(Debug)]
pub struct PacketBuilder<'a> {
    buf: &'a mut [u8],
    len: usize,
    count: u16,
}

impl<'a> PacketBuilder<'a> {
    /// Starts a packet of `session` whose first block has sequence number
    /// `sequence`; [`Error::BufferTooSmall`] if `buf` cannot hold a header.
    pub fn new(buf: &'a mut [u8], session: &Session, sequence: u64) -> Result<Self> {
        let a = buf
            .first_chunk_mut::<HEADER_LEN>()
            .ok_or(Error::BufferTooSmall { need: HEADER_LEN })?;
        put_header(a, session, sequence, 0);
        Ok(PacketBuilder {
            buf,
            len: HEADER_LEN,
            count: 0,
        })
    }

    /// Appends one message block with `msg` as its payload.
    pub fn push(&mut self, msg: &[u8]) -> Result<()> {
        self.push_with(msg.len(), |out| {
            out.copy_from_slice(msg);
            Ok(out.len())
        })
        .map(|_| ())
    }

    /// Appends one block whose payload `fill` writes in place: `fill` gets
    /// exactly `len` bytes and returns how many it wrote (at most `len`),
    /// which becomes the block's length — e.g.
    /// `b.push_with(m.encoded_len(), |buf| m.emit(buf))` for an ITCH message.
    ///
    /// Fails with [`Error::BufferTooSmall`] if `2 + len` bytes do not fit,
    /// [`Error::OutOfRange`] beyond 65535 bytes or 65534 blocks, or `fill`'s
    /// own error; on failure the packet is unchanged.
    pub fn push_with<F>(&mut self, len: usize, fill: F) -> Result<usize>
    where
        F: FnOnce(&mut [u8]) -> Result<usize>,
    {
        if len > u16::MAX as usize {
            return Err(Error::OutOfRange("message block length"));
        }
        if self.count >= MAX_MESSAGE_COUNT {
            return Err(Error::OutOfRange("message count"));
        }
        let need = self.len + 2 + len;
        let Some(block) = self.buf.get_mut(self.len..need) else {
            return Err(Error::BufferTooSmall { need });
        };
        let (len_field, payload) = block.split_at_mut(2);
        let n = fill(payload)?;
        if n > len {
            return Err(Error::OutOfRange("message block length"));
        }
        len_field.copy_from_slice(&(n as u16).to_be_bytes());
        self.len += 2 + n;
        self.count += 1;
        if let Some(c) = self.buf.get_mut(18..20) {
            c.copy_from_slice(&self.count.to_be_bytes());
        }
        Ok(n)
    }

    /// Blocks pushed so far.
    pub fn message_count(&self) -> u16 {
        self.count
    }

    /// Bytes of the packet so far, header included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no block has been pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The largest payload one more block can carry.
    pub fn remaining(&self) -> usize {
        (self.buf.len() - self.len)
            .saturating_sub(2)
            .min(u16::MAX as usize)
    }

    /// Ends the packet; returns its length in bytes.
    pub fn finish(self) -> usize {
        self.len
    }
}

/// A re-request packet (client → re-request server, exactly 20 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// Session (offset 0).
    pub session: Session,
    /// First sequence number wanted (offset 10).
    pub sequence: u64,
    /// Messages requested (offset 18).
    pub message_count: u16,
}

impl Request {
    /// Decodes a request: fewer than 20 bytes is [`Error::Truncated`], more
    /// is [`Error::BadLength`] (a request is exactly 20 bytes).
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let a = prefix::<REQUEST_LEN>(bytes)?;
        if bytes.len() != REQUEST_LEN {
            return Err(Error::BadLength("request packet is 20 bytes"));
        }
        let (session, sequence, message_count) = split_header(a);
        Ok(Request {
            session: *session,
            sequence,
            message_count,
        })
    }

    /// Writes the request into the start of `out`; returns 20.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let a = out
            .first_chunk_mut::<REQUEST_LEN>()
            .ok_or(Error::BufferTooSmall { need: REQUEST_LEN })?;
        put_header(a, &self.session, self.sequence, self.message_count);
        Ok(REQUEST_LEN)
    }

    /// The session as text; [`Error::BadAscii`] if not printable ASCII.
    pub fn session_str(&self) -> Result<&str> {
        alpha("session", &self.session)
    }
}
