//! The SoupBinTCP 3.0 client session (sans-IO): login with a requested
//! sequence number, login reject, heartbeats both ways, sequenced-message
//! counting, logout, and reconnecting at the next expected number.
//!
//! The session owns no socket and reads no clock. The caller tells it when
//! the TCP connection came up ([`SoupClient::on_connected`]) or went down
//! ([`SoupClient::on_disconnected`]), hands it every byte read
//! ([`SoupClient::on_bytes`]) and writes whatever it puts into the caller's
//! buffers to the connection. Outgoing OUCH messages are written in place
//! behind the 3-byte header ([`SoupClient::send_with`]).
//!
//! Sequencing: the server numbers its Sequenced Data packets; the k-th `S`
//! after Login Accepted(N) is N + k − 1. The session hands each one up with
//! its number and remembers the next expected, which it requests on the next
//! login, so a reconnect (or a restart that restored the number from the
//! journal) gets exactly the messages it missed, replayed by the server.
//!
//! Guarantees: never panics on any bytes; allocates only its framer buffer,
//! in [`SoupClient::new`].

use crate::time::Nanos;
use crate::wire::soupbintcp::{
    emit_unsequenced_with, ClientPacket, Framer, LoginRejectReason, ServerPacket, Session,
    PASSWORD_LEN, USERNAME_LEN,
};
use crate::wire::Error;

/// Largest server packet accepted (OUCH outbound messages are < 100 bytes;
/// anything far larger is a broken stream, not a reason to grow a buffer).
pub const MAX_SERVER_PACKET: usize = 4096;

/// Credentials and timers of a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoupConfig {
    /// Username, left-justified and space-padded.
    pub username: [u8; USERNAME_LEN],
    /// Password, left-justified and space-padded.
    pub password: [u8; PASSWORD_LEN],
    /// Send a heartbeat after this long without sending anything.
    pub heartbeat: Nanos,
    /// Declare the server dead after this long without hearing from it.
    pub dead_after: Nanos,
}

impl SoupConfig {
    /// From `[order]` in the configuration (lengths were validated there).
    pub fn from_config(order: &crate::config::OrderConfig) -> SoupConfig {
        let mut username = [b' '; USERNAME_LEN];
        let mut password = [b' '; PASSWORD_LEN];
        let u = order.username.as_bytes();
        let p = order.password.as_bytes();
        username[..u.len().min(USERNAME_LEN)].copy_from_slice(&u[..u.len().min(USERNAME_LEN)]);
        password[..p.len().min(PASSWORD_LEN)].copy_from_slice(&p[..p.len().min(PASSWORD_LEN)]);
        SoupConfig {
            username,
            password,
            heartbeat: Nanos::from_ms(order.heartbeat_ms),
            dead_after: Nanos::from_ms(order.dead_after_ms),
        }
    }
}

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoupState {
    /// No connection.
    Disconnected,
    /// Connected, Login Request sent, no answer yet.
    LoggingIn,
    /// Logged in: sequenced data flows, orders may be sent.
    LoggedIn,
    /// The server refused the login (it closes the connection).
    Rejected(LoginRejectReason),
    /// Logout requested; waiting for the server to close.
    LoggingOut,
}

/// What the session hands up from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoupEvent<'a> {
    /// Login accepted: `sequence` is the number of the next sequenced message.
    LoggedIn {
        /// The session the server put us in.
        session: Session,
        /// Number of the next Sequenced Data packet.
        sequence: u64,
    },
    /// Login refused.
    Rejected(LoginRejectReason),
    /// One sequenced message (an OUCH outbound message) and its number.
    Sequenced {
        /// Its SoupBinTCP sequence number.
        seq: u64,
        /// The message.
        msg: &'a [u8],
    },
    /// An unsequenced server message (SoupBinTCP 4.00), not counted.
    Unsequenced(&'a [u8]),
    /// Free text.
    Debug(&'a [u8]),
    /// End of session: the server closes; the next login starts a new session.
    EndOfSession,
}

/// Why a send was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Orders go out only once logged in.
    #[error("session not logged in")]
    NotLoggedIn,
    /// The output buffer cannot hold the packet.
    #[error(transparent)]
    Wire(#[from] Error),
}

/// Counters for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoupCounters {
    /// Connections made.
    pub connects: u64,
    /// Logins accepted.
    pub logins: u64,
    /// Logins rejected.
    pub rejects: u64,
    /// Sequenced messages received.
    pub sequenced: u64,
    /// Server heartbeats received.
    pub heartbeats_rx: u64,
    /// Client heartbeats sent.
    pub heartbeats_tx: u64,
    /// Unsequenced messages sent.
    pub sent: u64,
    /// Times the server was declared dead (silence).
    pub dead: u64,
    /// Logins where the server started past the requested number (messages
    /// that can never be recovered).
    pub sequence_jumps: u64,
    /// Packets that were not valid server packets.
    pub malformed: u64,
}

/// Outcome of [`SoupClient::poll`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PollOutcome {
    /// Bytes written to the output buffer (a heartbeat), to send.
    pub written: usize,
    /// The server has been silent too long: close the connection and reconnect.
    pub dead: bool,
}

/// A SoupBinTCP client session.
pub struct SoupClient {
    cfg: SoupConfig,
    state: SoupState,
    session: Session,
    next_expected: u64,
    last_tx: Nanos,
    last_rx: Nanos,
    framer: Framer,
    counters: SoupCounters,
}

impl SoupClient {
    /// A session that will ask for the current session from message 1.
    pub fn new(cfg: SoupConfig) -> SoupClient {
        SoupClient {
            cfg,
            state: SoupState::Disconnected,
            session: Session::BLANK,
            next_expected: 1,
            last_tx: Nanos::ZERO,
            last_rx: Nanos::ZERO,
            framer: Framer::new(MAX_SERVER_PACKET),
            counters: SoupCounters::default(),
        }
    }

    /// Resumes at `session` / `next_expected` (from the journal after a restart).
    pub fn resume_at(&mut self, session: Session, next_expected: u64) {
        self.session = session;
        self.next_expected = next_expected.max(1);
    }

    /// The state.
    pub fn state(&self) -> SoupState {
        self.state
    }

    /// True when orders may be sent.
    pub fn is_logged_in(&self) -> bool {
        self.state == SoupState::LoggedIn
    }

    /// The session (blank until the server named one).
    pub fn session(&self) -> Session {
        self.session
    }

    /// The number of the next sequenced message expected.
    pub fn next_expected(&self) -> u64 {
        self.next_expected
    }

    /// Counters.
    pub fn counters(&self) -> &SoupCounters {
        &self.counters
    }

    /// The connection is up: writes the Login Request (at the next expected
    /// number, in the current session) into `out` and returns its length.
    pub fn on_connected(&mut self, now: Nanos, out: &mut [u8]) -> Result<usize, SessionError> {
        self.framer.reset();
        let n = ClientPacket::LoginRequest {
            username: self.cfg.username,
            password: self.cfg.password,
            session: self.session,
            sequence: self.next_expected,
        }
        .emit(out)?;
        self.counters.connects += 1;
        self.state = SoupState::LoggingIn;
        self.last_tx = now;
        self.last_rx = now;
        Ok(n)
    }

    /// The connection is gone (closed by either side, or reset).
    pub fn on_disconnected(&mut self) {
        if !matches!(self.state, SoupState::Rejected(_)) {
            self.state = SoupState::Disconnected;
        }
        self.framer.reset();
    }

    /// Bytes read from the connection: hands up every whole packet as a
    /// [`SoupEvent`]. A framing error (an oversize length) is returned and
    /// the stream is unusable: close and reconnect.
    pub fn on_bytes<F: FnMut(SoupEvent<'_>)>(
        &mut self,
        now: Nanos,
        data: &[u8],
        on_event: &mut F,
    ) -> Result<(), Error> {
        self.on_bytes_until(now, data, &mut |e| {
            on_event(e);
            true
        })
        .map(|_| ())
    }

    /// Like [`SoupClient::on_bytes`], with back-pressure: `on_event` returns
    /// false to stop after that event (its consumer is full). Returns how
    /// many bytes of `data` were consumed; the caller keeps the rest and
    /// offers it again later (a partial packet at the end counts as
    /// consumed: the session holds it).
    pub fn on_bytes_until<F: FnMut(SoupEvent<'_>) -> bool>(
        &mut self,
        now: Nanos,
        data: &[u8],
        on_event: &mut F,
    ) -> Result<usize, Error> {
        if !data.is_empty() {
            self.last_rx = now;
        }
        let mut pos = 0;
        loop {
            let frame = match self.framer.next_packet(data, &mut pos) {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(pos),
                Err(e) => return Err(e),
            };
            let Ok(packet) = ServerPacket::parse(frame) else {
                self.counters.malformed += 1;
                continue;
            };
            let more = match packet {
                ServerPacket::LoginAccepted { session, sequence } => {
                    self.counters.logins += 1;
                    if sequence > self.next_expected {
                        self.counters.sequence_jumps += 1;
                    }
                    self.session = session;
                    self.next_expected = sequence.max(1);
                    self.state = SoupState::LoggedIn;
                    on_event(SoupEvent::LoggedIn {
                        session,
                        sequence: self.next_expected,
                    })
                }
                ServerPacket::LoginRejected { reason } => {
                    self.counters.rejects += 1;
                    self.state = SoupState::Rejected(reason);
                    on_event(SoupEvent::Rejected(reason))
                }
                ServerPacket::SequencedData(msg) => {
                    if self.state != SoupState::LoggedIn && self.state != SoupState::LoggingOut {
                        self.counters.malformed += 1;
                        continue;
                    }
                    let seq = self.next_expected;
                    self.next_expected += 1;
                    self.counters.sequenced += 1;
                    on_event(SoupEvent::Sequenced { seq, msg })
                }
                ServerPacket::UnsequencedData(msg) => on_event(SoupEvent::Unsequenced(msg)),
                ServerPacket::Debug(text) => on_event(SoupEvent::Debug(text)),
                ServerPacket::Heartbeat => {
                    self.counters.heartbeats_rx += 1;
                    true
                }
                ServerPacket::EndOfSession => {
                    // The next login starts the next session from its first message.
                    self.session = Session::BLANK;
                    self.next_expected = 1;
                    self.state = SoupState::Disconnected;
                    on_event(SoupEvent::EndOfSession)
                }
            };
            if !more {
                return Ok(pos);
            }
        }
    }

    /// Timers: writes a client heartbeat into `out` when one is due and says
    /// whether the server went silent for too long.
    pub fn poll(&mut self, now: Nanos, out: &mut [u8]) -> PollOutcome {
        let mut outcome = PollOutcome::default();
        if matches!(self.state, SoupState::Disconnected | SoupState::Rejected(_)) {
            return outcome;
        }
        if now.since(self.last_rx) >= self.cfg.dead_after {
            self.counters.dead += 1;
            outcome.dead = true;
            return outcome;
        }
        if now.since(self.last_tx) >= self.cfg.heartbeat {
            if let Ok(n) = ClientPacket::Heartbeat.emit(out) {
                self.counters.heartbeats_tx += 1;
                self.last_tx = now;
                outcome.written = n;
            }
        }
        outcome
    }

    /// When [`SoupClient::poll`] next has something to do.
    pub fn poll_timeout(&self) -> Nanos {
        if matches!(self.state, SoupState::Disconnected | SoupState::Rejected(_)) {
            return Nanos::MAX;
        }
        (self.last_tx + self.cfg.heartbeat).min(self.last_rx + self.cfg.dead_after)
    }

    /// Writes one Unsequenced Data packet whose payload `fill` writes in
    /// place (returning its length) into `out`; returns the frame length.
    /// Refused unless logged in.
    pub fn send_with<E>(
        &mut self,
        now: Nanos,
        out: &mut [u8],
        fill: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<usize, E>
    where
        E: From<Error> + From<SessionError>,
    {
        if self.state != SoupState::LoggedIn {
            return Err(SessionError::NotLoggedIn.into());
        }
        let n = emit_unsequenced_with(out, fill)?;
        self.counters.sent += 1;
        self.last_tx = now;
        Ok(n)
    }

    /// Writes a Logout Request into `out`; the server then closes.
    pub fn logout(&mut self, now: Nanos, out: &mut [u8]) -> Result<usize, SessionError> {
        let n = ClientPacket::LogoutRequest.emit(out)?;
        self.state = SoupState::LoggingOut;
        self.last_tx = now;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cfg() -> SoupConfig {
        SoupConfig::from_config(&crate::config::OrderConfig::default())
    }

    fn server(p: ServerPacket<'_>) -> Vec<u8> {
        let mut b = vec![0u8; 256];
        let n = p.emit(&mut b).unwrap();
        b.truncate(n);
        b
    }

    fn collect(c: &mut SoupClient, now: Nanos, bytes: &[u8]) -> Vec<String> {
        let mut out = vec![];
        c.on_bytes(now, bytes, &mut |e| {
            out.push(match e {
                SoupEvent::LoggedIn { sequence, .. } => format!("login {sequence}"),
                SoupEvent::Rejected(r) => format!("reject {}", r.0 as char),
                SoupEvent::Sequenced { seq, msg } => {
                    format!("{seq}:{}", core::str::from_utf8(msg).unwrap())
                }
                SoupEvent::Unsequenced(m) => format!("u:{}", m.len()),
                SoupEvent::Debug(_) => "debug".into(),
                SoupEvent::EndOfSession => "end".into(),
            })
        })
        .unwrap();
        out
    }

    #[test]
    fn login_requests_the_next_expected_number_and_counts_sequenced_data() {
        let mut c = SoupClient::new(cfg());
        c.resume_at(Session::new("S1").unwrap(), 5);
        let mut out = [0u8; 64];
        let n = c.on_connected(Nanos(0), &mut out).unwrap();
        match ClientPacket::parse(&out[..n]).unwrap() {
            ClientPacket::LoginRequest {
                username,
                session,
                sequence,
                ..
            } => {
                assert_eq!(&username, b"FLOE01");
                assert_eq!(session.as_str(), "S1");
                assert_eq!(sequence, 5);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.state(), SoupState::LoggingIn);
        let mut stream = server(ServerPacket::LoginAccepted {
            session: Session::new("S1").unwrap(),
            sequence: 5,
        });
        stream.extend(server(ServerPacket::SequencedData(b"five")));
        stream.extend(server(ServerPacket::Heartbeat));
        stream.extend(server(ServerPacket::SequencedData(b"six")));
        stream.extend(server(ServerPacket::UnsequencedData(b"xx")));
        // Split at every boundary: the result is the same.
        for cut in 0..stream.len() {
            let mut c2 = SoupClient::new(cfg());
            c2.resume_at(Session::new("S1").unwrap(), 5);
            c2.on_connected(Nanos(0), &mut out).unwrap();
            let mut ev = collect(&mut c2, Nanos(1), &stream[..cut]);
            ev.extend(collect(&mut c2, Nanos(2), &stream[cut..]));
            assert_eq!(ev, ["login 5", "5:five", "6:six", "u:2"], "cut at {cut}");
            assert_eq!(c2.next_expected(), 7);
        }
        assert!(!c.is_logged_in());
        collect(&mut c, Nanos(1), &stream);
        assert!(c.is_logged_in());
        assert_eq!(c.counters().heartbeats_rx, 1);
    }

    #[test]
    fn reconnect_asks_for_what_was_missed() {
        let mut c = SoupClient::new(cfg());
        let mut out = [0u8; 64];
        c.on_connected(Nanos(0), &mut out).unwrap();
        let mut s = server(ServerPacket::LoginAccepted {
            session: Session::new("DAY1").unwrap(),
            sequence: 1,
        });
        s.extend(server(ServerPacket::SequencedData(b"a")));
        s.extend(server(ServerPacket::SequencedData(b"b")));
        collect(&mut c, Nanos(1), &s);
        c.on_disconnected();
        assert_eq!(c.state(), SoupState::Disconnected);
        let n = c.on_connected(Nanos(2), &mut out).unwrap();
        let ClientPacket::LoginRequest {
            session, sequence, ..
        } = ClientPacket::parse(&out[..n]).unwrap()
        else {
            panic!("login expected")
        };
        assert_eq!((session.as_str(), sequence), ("DAY1", 3));
    }

    #[test]
    fn reject_and_end_of_session() {
        let mut c = SoupClient::new(cfg());
        let mut out = [0u8; 64];
        c.on_connected(Nanos(0), &mut out).unwrap();
        let ev = collect(
            &mut c,
            Nanos(1),
            &server(ServerPacket::LoginRejected {
                reason: LoginRejectReason::NOT_AUTHORIZED,
            }),
        );
        assert_eq!(ev, ["reject A"]);
        assert_eq!(
            c.state(),
            SoupState::Rejected(LoginRejectReason::NOT_AUTHORIZED)
        );
        assert_eq!(
            c.send_with(Nanos(2), &mut out, |_| Ok::<usize, SessionError>(1)),
            Err(SessionError::NotLoggedIn)
        );
        c.on_connected(Nanos(3), &mut out).unwrap();
        let mut s = server(ServerPacket::LoginAccepted {
            session: Session::new("D").unwrap(),
            sequence: 9,
        });
        s.extend(server(ServerPacket::EndOfSession));
        assert_eq!(collect(&mut c, Nanos(4), &s), ["login 9", "end"]);
        assert_eq!((c.session(), c.next_expected()), (Session::BLANK, 1));
    }

    #[test]
    fn heartbeats_go_out_after_a_second_of_silence_and_silence_kills() {
        let mut c = SoupClient::new(cfg());
        let mut out = [0u8; 64];
        c.on_connected(Nanos(0), &mut out).unwrap();
        assert_eq!(
            c.poll(Nanos::from_ms(999), &mut out),
            PollOutcome::default()
        );
        assert_eq!(c.poll_timeout(), Nanos::from_ms(1000));
        let p = c.poll(Nanos::from_ms(1000), &mut out);
        assert_eq!(p.written, 3);
        assert_eq!(&out[..3], &[0, 1, b'R']);
        // Sending an order also counts as sending.
        collect(
            &mut c,
            Nanos::from_ms(1100),
            &server(ServerPacket::LoginAccepted {
                session: Session::new("D").unwrap(),
                sequence: 1,
            }),
        );
        let n = c
            .send_with(Nanos::from_ms(1500), &mut out, |b| {
                b[..2].copy_from_slice(b"hi");
                Ok::<usize, SessionError>(2)
            })
            .unwrap();
        assert_eq!(&out[..n], &[0, 3, b'U', b'h', b'i']);
        assert_eq!(c.poll(Nanos::from_ms(2400), &mut out).written, 0);
        assert_eq!(c.poll(Nanos::from_ms(2500), &mut out).written, 3);
        // 15 s after the last byte from the server: dead.
        assert!(!c.poll(Nanos::from_ms(16_099), &mut out).dead);
        assert!(c.poll(Nanos::from_ms(16_100), &mut out).dead);
    }

    #[test]
    fn back_pressure_stops_after_an_event_and_resumes_where_it_stopped() {
        let mut c = SoupClient::new(cfg());
        let mut out = [0u8; 64];
        c.on_connected(Nanos(0), &mut out).unwrap();
        let mut s = server(ServerPacket::LoginAccepted {
            session: Session::new("D").unwrap(),
            sequence: 1,
        });
        for m in [b"a", b"b", b"c"] {
            s.extend(server(ServerPacket::SequencedData(m)));
        }
        s.extend(&server(ServerPacket::SequencedData(b"d"))[..2]);
        let mut seen = vec![];
        let mut rest = &s[..];
        // Take one sequenced message per call.
        loop {
            let mut took = false;
            let n = c
                .on_bytes_until(Nanos(1), rest, &mut |e| {
                    if let SoupEvent::Sequenced { seq, msg } = e {
                        seen.push((seq, msg[0]));
                        took = true;
                        return false;
                    }
                    true
                })
                .unwrap();
            rest = &rest[n..];
            if !took {
                break;
            }
        }
        assert_eq!(seen, [(1, b'a'), (2, b'b'), (3, b'c')]);
        assert!(rest.is_empty(), "the partial packet is held by the session");
        let mut tail = server(ServerPacket::SequencedData(b"d"))[2..].to_vec();
        tail.extend(server(ServerPacket::Heartbeat));
        assert_eq!(collect(&mut c, Nanos(2), &tail), ["4:d"]);
    }

    #[test]
    fn oversize_length_is_an_error_not_a_grow() {
        let mut c = SoupClient::new(cfg());
        let mut out = [0u8; 64];
        c.on_connected(Nanos(0), &mut out).unwrap();
        let bad = [0xff, 0xff, b'S'];
        assert!(c.on_bytes(Nanos(1), &bad, &mut |_| {}).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(chunks in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..64), 0..20)) {
            let mut c = SoupClient::new(cfg());
            let mut out = [0u8; 64];
            c.on_connected(Nanos(0), &mut out).unwrap();
            for (i, ch) in chunks.iter().enumerate() {
                let _ = c.on_bytes(Nanos(i as u64), ch, &mut |_| {});
                let _ = c.poll(Nanos::from_ms(i as u64 * 700), &mut out);
            }
        }
    }
}
