//! SoupBinTCP 3.0 (PROTOCOLS.md §3), plus the server-side Unsequenced Data
//! packet of SoupBinTCP 4.00.
//!
//! A packet on the wire is `u16` Packet Length (bytes after the length word),
//! one type byte, then the payload. This module offers:
//! - [`Packet`], a zero-copy view of any packet, and the typed views
//!   [`LoginRequest`], [`LoginAccepted`] and [`LoginRejected`];
//! - [`ServerPacket`] / [`ClientPacket`], the owned `Repr`s of every packet
//!   type in each direction, with `parse` and `emit`;
//! - [`emit_unsequenced_with`] / [`emit_sequenced_with`], which let an OUCH
//!   message be written in place after the 3-byte header;
//! - [`Framer`], which turns arbitrary TCP read boundaries into whole packets
//!   with a buffer allocated once.
//!
//! Guarantees: nothing here panics on any byte string; nothing allocates
//! except [`Framer::new`]. Session and sequence-number fields are emitted
//! right-justified and space-padded, and parsed by trimming spaces on both
//! sides (a blank field is sequence 0 / the current session), the resolution
//! of PROTOCOLS.md §3. Username and password are left-justified.

use super::{be16, Error, Result};

/// Bytes of the Packet Length word.
pub const LENGTH_LEN: usize = 2;
/// Bytes of the header: length word and type byte.
pub const HEADER_LEN: usize = 3;
/// The largest Packet Length the 16-bit field can carry.
pub const MAX_PACKET_LEN: usize = u16::MAX as usize;
/// The largest payload a packet can carry (Packet Length minus the type byte).
pub const MAX_PAYLOAD_LEN: usize = MAX_PACKET_LEN - 1;

/// Packet type bytes (PROTOCOLS.md §3).
pub mod packet_type {
    /// Debug, both directions: free text.
    pub const DEBUG: u8 = b'+';
    /// Login Accepted (server).
    pub const LOGIN_ACCEPTED: u8 = b'A';
    /// Login Rejected (server).
    pub const LOGIN_REJECTED: u8 = b'J';
    /// Sequenced Data (server).
    pub const SEQUENCED_DATA: u8 = b'S';
    /// Unsequenced Data (client; server in SoupBinTCP 4.00).
    pub const UNSEQUENCED_DATA: u8 = b'U';
    /// Server Heartbeat.
    pub const SERVER_HEARTBEAT: u8 = b'H';
    /// End of Session (server).
    pub const END_OF_SESSION: u8 = b'Z';
    /// Login Request (client).
    pub const LOGIN_REQUEST: u8 = b'L';
    /// Client Heartbeat.
    pub const CLIENT_HEARTBEAT: u8 = b'R';
    /// Logout Request (client).
    pub const LOGOUT_REQUEST: u8 = b'O';
}

/// Packet Length of a Login Request (type + 46 bytes).
pub const LOGIN_REQUEST_PACKET_LEN: u16 = 47;
/// Packet Length of a Login Accepted (type + 30 bytes).
pub const LOGIN_ACCEPTED_PACKET_LEN: u16 = 31;
/// Packet Length of a Login Rejected (type + reason).
pub const LOGIN_REJECTED_PACKET_LEN: u16 = 2;

const SESSION_LEN: usize = 10;
const SEQUENCE_LEN: usize = 20;
/// Bytes of the Login Request username field.
pub const USERNAME_LEN: usize = 6;
/// Bytes of the Login Request password field.
pub const PASSWORD_LEN: usize = 10;

/// A SoupBinTCP session name: up to 10 printable ASCII characters.
///
/// Held trimmed (left-justified, space-padded); written right-justified as
/// PROTOCOLS.md §3 resolves. The blank session asks for the current one.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Session([u8; SESSION_LEN]);

impl Default for Session {
    fn default() -> Self {
        Session::BLANK
    }
}

impl Session {
    /// The blank session (login: "the currently active session").
    pub const BLANK: Session = Session([b' '; SESSION_LEN]);

    /// Builds a session from text; spaces at either end are trimmed. Fails
    /// with [`Error::OutOfRange`] if longer than 10 characters and
    /// [`Error::BadAscii`] on a byte outside printable ASCII.
    pub fn new(name: &str) -> Result<Session> {
        Self::from_field(name.as_bytes())
    }

    /// Reads a session field: trims spaces on both sides, checks ASCII.
    pub fn from_field(field: &[u8]) -> Result<Session> {
        if !field.iter().all(|&b| (0x20..=0x7e).contains(&b)) {
            return Err(Error::BadAscii("session"));
        }
        let t = trim_spaces(field);
        if t.len() > SESSION_LEN {
            return Err(Error::OutOfRange("session"));
        }
        let mut out = [b' '; SESSION_LEN];
        out[..t.len()].copy_from_slice(t);
        Ok(Session(out))
    }

    /// The wire form: right-justified, space-padded on the left.
    pub fn to_field(&self) -> [u8; SESSION_LEN] {
        let t = self.as_bytes();
        let mut out = [b' '; SESSION_LEN];
        out[SESSION_LEN - t.len()..].copy_from_slice(t);
        out
    }

    /// The name without padding.
    pub fn as_bytes(&self) -> &[u8] {
        trim_spaces(&self.0)
    }

    /// The name without padding, as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// True for the blank session.
    pub fn is_blank(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Session({:?})", self.as_str())
    }
}

fn trim_spaces(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| c != b' ').unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != b' ').map_or(start, |i| i + 1);
    &b[start..end]
}

/// Writes `seq` as 20 ASCII decimal digits, right-justified, space-padded.
pub fn put_sequence(out: &mut [u8; SEQUENCE_LEN], mut seq: u64) {
    out.fill(b' ');
    let mut i = SEQUENCE_LEN;
    loop {
        i -= 1;
        out[i] = b'0' + (seq % 10) as u8;
        seq /= 10;
        if seq == 0 || i == 0 {
            break;
        }
    }
}

/// Reads a sequence-number field: spaces trimmed on both sides, blank = 0.
/// A byte that is not a digit is [`Error::BadValue`]; a value above `u64::MAX`
/// is [`Error::OutOfRange`].
pub fn parse_sequence(field: &[u8]) -> Result<u64> {
    let mut v: u64 = 0;
    for &c in trim_spaces(field) {
        if !c.is_ascii_digit() {
            return Err(Error::BadValue {
                field: "sequence number",
                value: c,
            });
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(Error::OutOfRange("sequence number"))?;
    }
    Ok(v)
}

fn check_printable(field: &'static str, b: &[u8]) -> Result<()> {
    if b.iter().all(|&c| (0x20..=0x7e).contains(&c)) {
        Ok(())
    } else {
        Err(Error::BadAscii(field))
    }
}

/// Zero-copy view of one SoupBinTCP packet (length word, type, payload).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer that starts with a whole packet. Fails with
    /// [`Error::Truncated`] if the buffer is shorter than the header or than
    /// the packet its length word announces, and [`Error::BadLength`] for a
    /// Packet Length of 0 (no type byte). Bytes after the packet are ignored.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let b = buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated {
                len: b.len(),
                need: HEADER_LEN,
            });
        }
        let plen = usize::from(be16(b, 0));
        if plen == 0 {
            return Err(Error::BadLength("packet length 0"));
        }
        if b.len() < LENGTH_LEN + plen {
            return Err(Error::Truncated {
                len: b.len(),
                need: LENGTH_LEN + plen,
            });
        }
        Ok(Packet { buffer })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Packet Length: bytes after the length word.
    pub fn packet_length(&self) -> u16 {
        be16(self.buffer.as_ref(), 0)
    }

    /// Bytes of the whole packet, length word included.
    pub fn frame_len(&self) -> usize {
        LENGTH_LEN + usize::from(self.packet_length())
    }

    /// The packet type byte.
    pub fn packet_type(&self) -> u8 {
        self.buffer.as_ref()[2]
    }

    /// The payload (after the type byte).
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..self.frame_len()]
    }

    /// The whole packet.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.frame_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the packet type byte.
    pub fn set_packet_type(&mut self, t: u8) {
        self.buffer.as_mut()[2] = t;
    }

    /// The payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.frame_len();
        &mut self.buffer.as_mut()[HEADER_LEN..end]
    }
}

fn check_fixed(b: &[u8], kind: u8, plen: u16) -> Result<()> {
    let p = Packet::new_checked(b)?;
    if p.packet_type() != kind {
        return Err(Error::UnknownType(p.packet_type()));
    }
    if p.packet_length() != plen {
        return Err(Error::BadLength(
            "packet length of a fixed-size packet type",
        ));
    }
    Ok(())
}

/// Zero-copy view of a Login Request (`L`, 49-byte frame).
#[derive(Debug, Clone)]
pub struct LoginRequest<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> LoginRequest<T> {
    /// Checks type, exact length, ASCII credentials and session, and a
    /// numeric requested sequence number.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        check_fixed(b, packet_type::LOGIN_REQUEST, LOGIN_REQUEST_PACKET_LEN)?;
        check_printable("username", &b[3..9])?;
        check_printable("password", &b[9..19])?;
        Session::from_field(&b[19..29])?;
        parse_sequence(&b[29..49])?;
        Ok(LoginRequest { buffer })
    }

    /// Username, as on the wire (left-justified, space-padded).
    pub fn username(&self) -> [u8; USERNAME_LEN] {
        let mut a = [0; USERNAME_LEN];
        a.copy_from_slice(&self.buffer.as_ref()[3..9]);
        a
    }

    /// Password, as on the wire (left-justified, space-padded).
    pub fn password(&self) -> [u8; PASSWORD_LEN] {
        let mut a = [0; PASSWORD_LEN];
        a.copy_from_slice(&self.buffer.as_ref()[9..19]);
        a
    }

    /// Requested session (blank = current).
    pub fn session(&self) -> Session {
        Session::from_field(&self.buffer.as_ref()[19..29]).unwrap_or(Session::BLANK)
    }

    /// Requested sequence number (0 = start with the most recent message).
    pub fn sequence(&self) -> u64 {
        parse_sequence(&self.buffer.as_ref()[29..49]).unwrap_or(0)
    }
}

/// Zero-copy view of a Login Accepted (`A`, 33-byte frame).
#[derive(Debug, Clone)]
pub struct LoginAccepted<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> LoginAccepted<T> {
    /// Checks type, exact length, ASCII session and a numeric sequence number.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        check_fixed(b, packet_type::LOGIN_ACCEPTED, LOGIN_ACCEPTED_PACKET_LEN)?;
        Session::from_field(&b[3..13])?;
        parse_sequence(&b[13..33])?;
        Ok(LoginAccepted { buffer })
    }

    /// The session the server logged the client into.
    pub fn session(&self) -> Session {
        Session::from_field(&self.buffer.as_ref()[3..13]).unwrap_or(Session::BLANK)
    }

    /// The sequence number of the next Sequenced Data packet the server sends.
    pub fn sequence(&self) -> u64 {
        parse_sequence(&self.buffer.as_ref()[13..33]).unwrap_or(0)
    }
}

/// Zero-copy view of a Login Rejected (`J`, 4-byte frame).
#[derive(Debug, Clone)]
pub struct LoginRejected<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> LoginRejected<T> {
    /// Checks type and exact length.
    pub fn new_checked(buffer: T) -> Result<Self> {
        check_fixed(
            buffer.as_ref(),
            packet_type::LOGIN_REJECTED,
            LOGIN_REJECTED_PACKET_LEN,
        )?;
        Ok(LoginRejected { buffer })
    }

    /// The reject reason (open set).
    pub fn reason(&self) -> LoginRejectReason {
        LoginRejectReason(self.buffer.as_ref()[3])
    }
}

/// Login Rejected reason code (open: the raw byte is kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LoginRejectReason(pub u8);

impl LoginRejectReason {
    /// `A`: not authorized (bad username or password).
    pub const NOT_AUTHORIZED: LoginRejectReason = LoginRejectReason(b'A');
    /// `S`: the requested session is not available.
    pub const SESSION_NOT_AVAILABLE: LoginRejectReason = LoginRejectReason(b'S');

    /// The specification's meaning, `None` if unknown.
    pub const fn description(self) -> Option<&'static str> {
        match self.0 {
            b'A' => Some("not authorized"),
            b'S' => Some("session not available"),
            _ => None,
        }
    }
}

/// A packet the server sends, owned except for borrowed payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerPacket<'a> {
    /// `+` free text; receivers ignore it.
    Debug(&'a [u8]),
    /// `A`: logged in; `sequence` is the number of the next `S` packet.
    LoginAccepted {
        /// The session.
        session: Session,
        /// Sequence number of the next Sequenced Data packet.
        sequence: u64,
    },
    /// `J`: login refused; the server closes the connection.
    LoginRejected {
        /// Why.
        reason: LoginRejectReason,
    },
    /// `S`: one sequenced message (e.g. an OUCH outbound message).
    SequencedData(&'a [u8]),
    /// `U` (SoupBinTCP 4.00): one unsequenced message, not counted.
    UnsequencedData(&'a [u8]),
    /// `H`.
    Heartbeat,
    /// `Z`: the session is over; the server closes the connection.
    EndOfSession,
}

/// A packet the client sends, owned except for borrowed payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientPacket<'a> {
    /// `+` free text.
    Debug(&'a [u8]),
    /// `L`: log in.
    LoginRequest {
        /// Username, left-justified and space-padded (printable ASCII).
        username: [u8; USERNAME_LEN],
        /// Password, left-justified and space-padded (printable ASCII).
        password: [u8; PASSWORD_LEN],
        /// Requested session; blank = the current one.
        session: Session,
        /// Requested sequence number: the next `S` wanted; 0 = start with
        /// the most recently generated message.
        sequence: u64,
    },
    /// `U`: one unsequenced message (e.g. an OUCH inbound message).
    UnsequencedData(&'a [u8]),
    /// `R`.
    Heartbeat,
    /// `O`: log out; the server closes the connection.
    LogoutRequest,
}

fn fixed_packet_len(frame: &[u8], plen: u16) -> Result<()> {
    if be16(frame, 0) != plen {
        return Err(Error::BadLength(
            "packet length of a fixed-size packet type",
        ));
    }
    Ok(())
}

impl<'a> ServerPacket<'a> {
    /// Parses one whole frame (length word, type, payload), e.g. as returned
    /// by [`Framer::next_packet`]. Bytes after the packet are ignored.
    pub fn parse(frame: &'a [u8]) -> Result<ServerPacket<'a>> {
        let p = Packet::new_checked(frame)?;
        let payload = &frame[HEADER_LEN..p.frame_len()];
        match p.packet_type() {
            packet_type::DEBUG => Ok(ServerPacket::Debug(payload)),
            packet_type::LOGIN_ACCEPTED => {
                let v = LoginAccepted::new_checked(frame)?;
                Ok(ServerPacket::LoginAccepted {
                    session: v.session(),
                    sequence: v.sequence(),
                })
            }
            packet_type::LOGIN_REJECTED => {
                let v = LoginRejected::new_checked(frame)?;
                Ok(ServerPacket::LoginRejected { reason: v.reason() })
            }
            packet_type::SEQUENCED_DATA => Ok(ServerPacket::SequencedData(payload)),
            packet_type::UNSEQUENCED_DATA => Ok(ServerPacket::UnsequencedData(payload)),
            packet_type::SERVER_HEARTBEAT => {
                fixed_packet_len(frame, 1)?;
                Ok(ServerPacket::Heartbeat)
            }
            packet_type::END_OF_SESSION => {
                fixed_packet_len(frame, 1)?;
                Ok(ServerPacket::EndOfSession)
            }
            t => Err(Error::UnknownType(t)),
        }
    }

    /// The packet type byte.
    pub fn packet_type(&self) -> u8 {
        match self {
            ServerPacket::Debug(_) => packet_type::DEBUG,
            ServerPacket::LoginAccepted { .. } => packet_type::LOGIN_ACCEPTED,
            ServerPacket::LoginRejected { .. } => packet_type::LOGIN_REJECTED,
            ServerPacket::SequencedData(_) => packet_type::SEQUENCED_DATA,
            ServerPacket::UnsequencedData(_) => packet_type::UNSEQUENCED_DATA,
            ServerPacket::Heartbeat => packet_type::SERVER_HEARTBEAT,
            ServerPacket::EndOfSession => packet_type::END_OF_SESSION,
        }
    }

    /// Bytes of the frame [`Self::emit`] writes.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN
            + match self {
                ServerPacket::Debug(p)
                | ServerPacket::SequencedData(p)
                | ServerPacket::UnsequencedData(p) => p.len(),
                ServerPacket::LoginAccepted { .. } => SESSION_LEN + SEQUENCE_LEN,
                ServerPacket::LoginRejected { .. } => 1,
                ServerPacket::Heartbeat | ServerPacket::EndOfSession => 0,
            }
    }

    /// Writes the whole frame into `out` and returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        let len = self.frame_len();
        let body = start_frame(out, self.packet_type(), len)?;
        match *self {
            ServerPacket::Debug(p)
            | ServerPacket::SequencedData(p)
            | ServerPacket::UnsequencedData(p) => body.copy_from_slice(p),
            ServerPacket::LoginAccepted { session, sequence } => {
                body[..SESSION_LEN].copy_from_slice(&session.to_field());
                let mut seq = [b' '; SEQUENCE_LEN];
                put_sequence(&mut seq, sequence);
                body[SESSION_LEN..].copy_from_slice(&seq);
            }
            ServerPacket::LoginRejected { reason } => body[0] = reason.0,
            ServerPacket::Heartbeat | ServerPacket::EndOfSession => {}
        }
        Ok(len)
    }
}

impl<'a> ClientPacket<'a> {
    /// A Login Request with `username` and `password` left-justified and
    /// space-padded. Fails if either is too long or not printable ASCII.
    pub fn login_request(
        username: &str,
        password: &str,
        session: Session,
        sequence: u64,
    ) -> Result<ClientPacket<'static>> {
        let mut u = [b' '; USERNAME_LEN];
        super::put_alpha("username", &mut u, username.as_bytes())?;
        let mut p = [b' '; PASSWORD_LEN];
        super::put_alpha("password", &mut p, password.as_bytes())?;
        Ok(ClientPacket::LoginRequest {
            username: u,
            password: p,
            session,
            sequence,
        })
    }

    /// Parses one whole frame (length word, type, payload). Bytes after the
    /// packet are ignored.
    pub fn parse(frame: &'a [u8]) -> Result<ClientPacket<'a>> {
        let p = Packet::new_checked(frame)?;
        let payload = &frame[HEADER_LEN..p.frame_len()];
        match p.packet_type() {
            packet_type::DEBUG => Ok(ClientPacket::Debug(payload)),
            packet_type::LOGIN_REQUEST => {
                let v = LoginRequest::new_checked(frame)?;
                Ok(ClientPacket::LoginRequest {
                    username: v.username(),
                    password: v.password(),
                    session: v.session(),
                    sequence: v.sequence(),
                })
            }
            packet_type::UNSEQUENCED_DATA => Ok(ClientPacket::UnsequencedData(payload)),
            packet_type::CLIENT_HEARTBEAT => {
                fixed_packet_len(frame, 1)?;
                Ok(ClientPacket::Heartbeat)
            }
            packet_type::LOGOUT_REQUEST => {
                fixed_packet_len(frame, 1)?;
                Ok(ClientPacket::LogoutRequest)
            }
            t => Err(Error::UnknownType(t)),
        }
    }

    /// The packet type byte.
    pub fn packet_type(&self) -> u8 {
        match self {
            ClientPacket::Debug(_) => packet_type::DEBUG,
            ClientPacket::LoginRequest { .. } => packet_type::LOGIN_REQUEST,
            ClientPacket::UnsequencedData(_) => packet_type::UNSEQUENCED_DATA,
            ClientPacket::Heartbeat => packet_type::CLIENT_HEARTBEAT,
            ClientPacket::LogoutRequest => packet_type::LOGOUT_REQUEST,
        }
    }

    /// Bytes of the frame [`Self::emit`] writes.
    pub fn frame_len(&self) -> usize {
        HEADER_LEN
            + match self {
                ClientPacket::Debug(p) | ClientPacket::UnsequencedData(p) => p.len(),
                ClientPacket::LoginRequest { .. } => {
                    USERNAME_LEN + PASSWORD_LEN + SESSION_LEN + SEQUENCE_LEN
                }
                ClientPacket::Heartbeat | ClientPacket::LogoutRequest => 0,
            }
    }

    /// Writes the whole frame into `out` and returns its length. A Login
    /// Request whose credentials are not printable ASCII is [`Error::BadAscii`].
    pub fn emit(&self, out: &mut [u8]) -> Result<usize> {
        if let ClientPacket::LoginRequest {
            username, password, ..
        } = self
        {
            check_printable("username", username)?;
            check_printable("password", password)?;
        }
        let len = self.frame_len();
        let body = start_frame(out, self.packet_type(), len)?;
        match *self {
            ClientPacket::Debug(p) | ClientPacket::UnsequencedData(p) => body.copy_from_slice(p),
            ClientPacket::LoginRequest {
                username,
                password,
                session,
                sequence,
            } => {
                body[..6].copy_from_slice(&username);
                body[6..16].copy_from_slice(&password);
                body[16..26].copy_from_slice(&session.to_field());
                let mut seq = [b' '; SEQUENCE_LEN];
                put_sequence(&mut seq, sequence);
                body[26..46].copy_from_slice(&seq);
            }
            ClientPacket::Heartbeat | ClientPacket::LogoutRequest => {}
        }
        Ok(len)
    }
}

/// Writes the header of a `frame_len`-byte frame and returns its body.
fn start_frame(out: &mut [u8], kind: u8, frame_len: usize) -> Result<&mut [u8]> {
    let plen = u16::try_from(frame_len - LENGTH_LEN).map_err(|_| Error::OutOfRange("payload"))?;
    let Some(frame) = out.get_mut(..frame_len) else {
        return Err(Error::BufferTooSmall { need: frame_len });
    };
    frame[..2].copy_from_slice(&plen.to_be_bytes());
    frame[2] = kind;
    Ok(&mut frame[HEADER_LEN..])
}

/// Writes a packet of type `kind` whose payload `write` produces in place:
/// `write` gets the buffer after the 3-byte header (at most
/// [`MAX_PAYLOAD_LEN`] bytes) and returns how many bytes it wrote; the header
/// is then filled in. Returns the frame length.
///
/// A `write` that reports more bytes than it was given is
/// [`Error::BadLength`]; errors from `write` are passed through.
pub fn emit_with<E: From<Error>>(
    out: &mut [u8],
    kind: u8,
    write: impl FnOnce(&mut [u8]) -> core::result::Result<usize, E>,
) -> core::result::Result<usize, E> {
    if out.len() < HEADER_LEN {
        return Err(Error::BufferTooSmall { need: HEADER_LEN }.into());
    }
    let room = (out.len() - HEADER_LEN).min(MAX_PAYLOAD_LEN);
    let n = write(&mut out[HEADER_LEN..HEADER_LEN + room])?;
    if n > room {
        return Err(Error::BadLength("payload longer than its buffer").into());
    }
    // n <= MAX_PAYLOAD_LEN, so n + 1 fits the length word.
    let plen = (n + 1) as u16;
    out[..2].copy_from_slice(&plen.to_be_bytes());
    out[2] = kind;
    Ok(HEADER_LEN + n)
}

/// [`emit_with`] for a client Unsequenced Data packet (`U`): an OUCH inbound
/// message written in place.
pub fn emit_unsequenced_with<E: From<Error>>(
    out: &mut [u8],
    write: impl FnOnce(&mut [u8]) -> core::result::Result<usize, E>,
) -> core::result::Result<usize, E> {
    emit_with(out, packet_type::UNSEQUENCED_DATA, write)
}

/// [`emit_with`] for a server Sequenced Data packet (`S`): an OUCH outbound
/// message written in place (the simulated venue).
pub fn emit_sequenced_with<E: From<Error>>(
    out: &mut [u8],
    write: impl FnOnce(&mut [u8]) -> core::result::Result<usize, E>,
) -> core::result::Result<usize, E> {
    emit_with(out, packet_type::SEQUENCED_DATA, write)
}

/// Reassembles SoupBinTCP packets from a TCP byte stream.
///
/// The framer owns one buffer of `2 + max_packet_len` bytes, allocated in
/// [`Framer::new`] and never grown. Feed it each TCP read as it arrives, in
/// any chunking (half a header, many packets at once, a packet split across
/// several reads), and call [`Framer::next_packet`] until it returns
/// `Ok(None)`:
///
/// ```
/// use floe::wire::soupbintcp::{Framer, ServerPacket};
///
/// let mut framer = Framer::new(1024);
/// // A heartbeat and the first half of a Login Rejected...
/// let read1 = [0x00, 0x01, b'H', 0x00, 0x02];
/// // ...and the rest of it.
/// let read2 = [b'J', b'A'];
/// let mut seen = Vec::new();
/// for read in [&read1[..], &read2[..]] {
///     let mut pos = 0;
///     while let Some(frame) = framer.next_packet(read, &mut pos).unwrap() {
///         seen.push(ServerPacket::parse(frame).unwrap().packet_type());
///     }
/// }
/// assert_eq!(seen, b"HJ");
/// ```
///
/// Each packet is yielded as the whole frame (length word, type, payload).
/// A packet that arrives whole within one read is returned as a slice of that
/// read, copied nowhere; only a packet that straddles reads is assembled in
/// the framer's buffer (its head when the read ends, its tail when the next
/// read supplies it). Nothing allocates after [`Framer::new`].
///
/// A Packet Length above `max_packet_len`, or of 0 (no type byte), is
/// [`Error::BadLength`]. Framing is then lost for good — there is no way to
/// find the next packet boundary in a byte stream — so the framer stays
/// failed, returning the same error on every call, until [`Framer::reset`];
/// the caller should drop the TCP connection and log in again.
#[derive(Clone)]
pub struct Framer {
    buf: Box<[u8]>,
    /// Bytes of a partial packet held in `buf`.
    held: usize,
    max_packet_len: usize,
    failed: Option<Error>,
}

impl core::fmt::Debug for Framer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Framer")
            .field("held", &self.held)
            .field("max_packet_len", &self.max_packet_len)
            .field("failed", &self.failed)
            .finish()
    }
}

impl Framer {
    /// A framer accepting packets whose Packet Length (type byte plus
    /// payload) is at most `max_packet_len`, clamped to `1..=65535`. Allocates
    /// its `2 + max_packet_len`-byte buffer here, once.
    pub fn new(max_packet_len: usize) -> Framer {
        let max = max_packet_len.clamp(1, MAX_PACKET_LEN);
        Framer {
            buf: vec![0u8; LENGTH_LEN + max].into_boxed_slice(),
            held: 0,
            max_packet_len: max,
            failed: None,
        }
    }

    /// The largest Packet Length accepted.
    pub fn max_packet_len(&self) -> usize {
        self.max_packet_len
    }

    /// Bytes of an incomplete packet currently held.
    pub fn buffered(&self) -> usize {
        self.held
    }

    /// The error that stopped the framer, if any.
    pub fn error(&self) -> Option<Error> {
        self.failed
    }

    /// Forgets any partial packet and clears a failure: for a new connection.
    pub fn reset(&mut self) {
        self.held = 0;
        self.failed = None;
    }

    fn check_len(&mut self, plen: usize) -> Result<()> {
        let e = if plen == 0 {
            Error::BadLength("packet length 0")
        } else if plen > self.max_packet_len {
            Error::BadLength("packet length above the framer's maximum")
        } else {
            return Ok(());
        };
        self.failed = Some(e);
        Err(e)
    }

    /// Returns the next whole packet from `input[*pos..]` (together with any
    /// partial packet held from earlier reads) and advances `*pos` past the
    /// bytes used.
    ///
    /// `Ok(None)` means `input` is used up: a trailing partial packet, if
    /// any, has been copied into the framer, and `*pos == input.len()`. Call
    /// again with the same `input` and `pos` until `Ok(None)`; a caller that
    /// stops early can resume later with the same `input` and `pos`, since
    /// nothing past `*pos` has been consumed. A `*pos` beyond `input.len()`
    /// is treated as the end of `input`.
    pub fn next_packet<'a>(
        &'a mut self,
        input: &'a [u8],
        pos: &mut usize,
    ) -> Result<Option<&'a [u8]>> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let start = (*pos).min(input.len());
        let rest = &input[start..];

        if self.held > 0 {
            let mut used = 0;
            if self.held < LENGTH_LEN {
                let take = (LENGTH_LEN - self.held).min(rest.len());
                self.buf[self.held..self.held + take].copy_from_slice(&rest[..take]);
                self.held += take;
                used = take;
                if self.held < LENGTH_LEN {
                    *pos = input.len();
                    return Ok(None);
                }
                let plen = usize::from(be16(&self.buf, 0));
                if let Err(e) = self.check_len(plen) {
                    *pos = start + used;
                    return Err(e);
                }
            }
            let frame_len = LENGTH_LEN + usize::from(be16(&self.buf, 0));
            let take = (frame_len - self.held).min(rest.len() - used);
            self.buf[self.held..self.held + take].copy_from_slice(&rest[used..used + take]);
            self.held += take;
            *pos = start + used + take;
            if self.held < frame_len {
                return Ok(None);
            }
            self.held = 0;
            return Ok(Some(&self.buf[..frame_len]));
        }

        if rest.len() < LENGTH_LEN {
            self.buf[..rest.len()].copy_from_slice(rest);
            self.held = rest.len();
            *pos = input.len();
            return Ok(None);
        }
        let plen = usize::from(be16(rest, 0));
        self.check_len(plen)?;
        let frame_len = LENGTH_LEN + plen;
        if rest.len() >= frame_len {
            *pos = start + frame_len;
            return Ok(Some(&rest[..frame_len]));
        }
        // A partial packet ends this read: keep it (it fits, as plen <= max).
        self.buf[..rest.len()].copy_from_slice(rest);
        self.held = rest.len();
        *pos = input.len();
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
