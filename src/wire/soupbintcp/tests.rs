//! Golden frames (PROTOCOLS.md §3, §7), round trips, the framer's contract,
//! and "arbitrary bytes never panic".

use super::*;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).unwrap()
}

fn emit_server(p: &ServerPacket<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; p.frame_len()];
    assert_eq!(p.emit(&mut buf).unwrap(), buf.len());
    buf
}

fn emit_client(p: &ClientPacket<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; p.frame_len()];
    assert_eq!(p.emit(&mut buf).unwrap(), buf.len());
    buf
}

// ------------------------------------------------------------ golden frames

/// §7: Login Accepted, session SESSION001, next sequence 1, right-justified.
#[test]
fn golden_login_accepted_section7() {
    let frame = hex(&format!(
        "001f 41 53455353494f4e303031 {} 31",
        "20".repeat(19)
    ));
    assert_eq!(frame.len(), 33, "§3: A is a 33-byte frame");
    let p = ServerPacket::parse(&frame).unwrap();
    assert_eq!(
        p,
        ServerPacket::LoginAccepted {
            session: Session::new("SESSION001").unwrap(),
            sequence: 1
        }
    );
    assert_eq!(emit_server(&p), frame);
    let v = LoginAccepted::new_checked(&frame[..]).unwrap();
    assert_eq!(v.session().as_str(), "SESSION001");
    assert_eq!(v.sequence(), 1);
}

/// §3: a short session and a large sequence are right-justified, space-padded.
#[test]
fn golden_login_accepted_right_justified() {
    let p = ServerPacket::LoginAccepted {
        session: Session::new("ABC").unwrap(),
        sequence: 1234567,
    };
    let want = hex(&format!(
        "001f 41 {} 414243 {} 31323334353637",
        "20".repeat(7),
        "20".repeat(13)
    ));
    assert_eq!(emit_server(&p), want);
    assert_eq!(ServerPacket::parse(&want).unwrap(), p);
}

/// §3: the left-justified form some peers send is parsed by trimming both sides.
#[test]
fn left_justified_fields_parse_by_trimming() {
    let frame = hex(&format!(
        "001f 41 414243 {} 31 {}",
        "20".repeat(7),
        "20".repeat(19)
    ));
    assert_eq!(
        ServerPacket::parse(&frame).unwrap(),
        ServerPacket::LoginAccepted {
            session: Session::new("ABC").unwrap(),
            sequence: 1
        }
    );
    // Blank session and blank sequence: current session, sequence 0.
    let frame = hex(&format!("001f 41 {}", "20".repeat(30)));
    assert_eq!(
        ServerPacket::parse(&frame).unwrap(),
        ServerPacket::LoginAccepted {
            session: Session::BLANK,
            sequence: 0
        }
    );
}

/// §3: Login Request, 49-byte frame: username a6 @3, password a10 @9,
/// session @19 (right-justified), sequence @29 (right-justified).
#[test]
fn golden_login_request() {
    let p = ClientPacket::login_request("FLOE", "SECRET", Session::new("SESSION001").unwrap(), 42)
        .unwrap();
    let want = hex(&format!(
        "002f 4c 464c4f452020 53454352455420202020 53455353494f4e303031 {} 3432",
        "20".repeat(18)
    ));
    assert_eq!(want.len(), 49, "§3: L is a 49-byte frame");
    assert_eq!(emit_client(&p), want);
    assert_eq!(ClientPacket::parse(&want).unwrap(), p);
    let v = LoginRequest::new_checked(&want[..]).unwrap();
    assert_eq!(&v.username(), b"FLOE  ");
    assert_eq!(&v.password(), b"SECRET    ");
    assert_eq!(v.session().as_str(), "SESSION001");
    assert_eq!(v.sequence(), 42);

    // Blank session, sequence 0 ("begin with the most recent message").
    let p = ClientPacket::login_request("FLOE", "SECRET", Session::BLANK, 0).unwrap();
    let want = hex(&format!(
        "002f 4c 464c4f452020 53454352455420202020 {} {} 30",
        "20".repeat(10),
        "20".repeat(19)
    ));
    assert_eq!(emit_client(&p), want);
    assert_eq!(ClientPacket::parse(&want).unwrap(), p);
}

/// §3: Login Rejected is a 4-byte frame; every other fixed packet is 3 bytes.
#[test]
fn golden_fixed_packets() {
    let cases: [(ServerPacket<'_>, &str); 4] = [
        (
            ServerPacket::LoginRejected {
                reason: LoginRejectReason::NOT_AUTHORIZED,
            },
            "0002 4a 41",
        ),
        (
            ServerPacket::LoginRejected {
                reason: LoginRejectReason::SESSION_NOT_AVAILABLE,
            },
            "0002 4a 53",
        ),
        (ServerPacket::Heartbeat, "0001 48"),
        (ServerPacket::EndOfSession, "0001 5a"),
    ];
    for (p, h) in cases {
        let want = hex(h);
        assert_eq!(emit_server(&p), want, "{p:?}");
        assert_eq!(ServerPacket::parse(&want).unwrap(), p);
    }
    for (p, h) in [
        (ClientPacket::Heartbeat, "0001 52"),
        (ClientPacket::LogoutRequest, "0001 4f"),
    ] {
        let want = hex(h);
        assert_eq!(emit_client(&p), want, "{p:?}");
        assert_eq!(ClientPacket::parse(&want).unwrap(), p);
    }
    let rej = hex("0002 4a 53");
    let v = LoginRejected::new_checked(&rej[..]).unwrap();
    assert_eq!(v.reason(), LoginRejectReason::SESSION_NOT_AVAILABLE);
    assert_eq!(v.reason().description(), Some("session not available"));
    assert_eq!(LoginRejectReason(b'X').description(), None);
}

/// §3 + §7: data packets carry one message; the §7 OUCH 4.2 Enter Order goes
/// out as `0032 55 <msg>`.
#[test]
fn golden_data_packets() {
    let enter = hex(
        "4f 4142433030303030303030303031 42 00000064 4141504c20202020 0012d644 \
         0001869e 4649524d 59 41 4e 00000000 4e 52",
    );
    assert_eq!(enter.len(), 49);
    let frame = emit_client(&ClientPacket::UnsequencedData(&enter));
    assert_eq!(&frame[..3], &hex("0032 55")[..]);
    assert_eq!(&frame[3..], &enter[..]);
    assert_eq!(
        ClientPacket::parse(&frame).unwrap(),
        ClientPacket::UnsequencedData(&enter)
    );

    let msg = b"S-message";
    let frame = emit_server(&ServerPacket::SequencedData(msg));
    assert_eq!(&frame[..], &[&[0x00, 0x0a, b'S'][..], msg].concat()[..]);
    assert_eq!(
        ServerPacket::parse(&frame).unwrap(),
        ServerPacket::SequencedData(msg)
    );
    // SoupBinTCP 4.00: the server may send Unsequenced Data too.
    let frame = emit_server(&ServerPacket::UnsequencedData(b"u"));
    assert_eq!(frame, hex("0002 55 75"));
    assert_eq!(
        ServerPacket::parse(&frame).unwrap(),
        ServerPacket::UnsequencedData(b"u")
    );
    // Debug, both directions; an empty data packet is legal.
    assert_eq!(
        emit_server(&ServerPacket::Debug(b"hi")),
        hex("0003 2b 6869")
    );
    assert_eq!(emit_client(&ClientPacket::Debug(b"")), hex("0001 2b"));
    assert_eq!(
        ClientPacket::parse(&hex("0001 2b")).unwrap(),
        ClientPacket::Debug(b"")
    );
    let p = Packet::new_checked(&frame[..]).unwrap();
    assert_eq!(
        (p.packet_length(), p.packet_type(), p.payload()),
        (2, b'U', &b"u"[..])
    );
}

#[test]
fn parse_errors() {
    assert_eq!(
        ServerPacket::parse(&[0x00]),
        Err(Error::Truncated { len: 1, need: 3 })
    );
    assert_eq!(
        ServerPacket::parse(&hex("0005 53 6162")),
        Err(Error::Truncated { len: 5, need: 7 })
    );
    assert_eq!(
        ServerPacket::parse(&hex("0000 53")),
        Err(Error::BadLength("packet length 0"))
    );
    // Direction matters: L is a client packet, A a server packet.
    assert_eq!(
        ServerPacket::parse(&hex("0001 4c")),
        Err(Error::UnknownType(b'L'))
    );
    assert_eq!(
        ClientPacket::parse(&hex("0001 41")),
        Err(Error::UnknownType(b'A'))
    );
    assert_eq!(
        ClientPacket::parse(&hex("0001 53")),
        Err(Error::UnknownType(b'S'))
    );
    // Fixed-size packets with the wrong length.
    assert!(matches!(
        ServerPacket::parse(&hex("0002 48 00")),
        Err(Error::BadLength(_))
    ));
    assert!(matches!(
        ServerPacket::parse(&hex("0003 4a 4141")),
        Err(Error::BadLength(_))
    ));
    assert!(matches!(
        ClientPacket::parse(&hex("0002 4f 00")),
        Err(Error::BadLength(_))
    ));
    // A non-digit in a sequence number.
    let frame = hex(&format!(
        "001f 41 {} {} 3161",
        "20".repeat(10),
        "20".repeat(18)
    ));
    assert_eq!(
        ServerPacket::parse(&frame),
        Err(Error::BadValue {
            field: "sequence number",
            value: b'a'
        })
    );
    // A digit run inside spaces is still one number only if contiguous.
    let frame = hex(&format!(
        "001f 41 {} {} 31 20 31",
        "20".repeat(10),
        "20".repeat(17)
    ));
    assert!(matches!(
        ServerPacket::parse(&frame),
        Err(Error::BadValue { value: b' ', .. })
    ));
    // Above u64::MAX.
    let frame = hex(&format!("001f 41 {} {}", "20".repeat(10), "39".repeat(20)));
    assert_eq!(
        ServerPacket::parse(&frame),
        Err(Error::OutOfRange("sequence number"))
    );
    // u64::MAX itself fits the 20 digits.
    let p = ServerPacket::LoginAccepted {
        session: Session::BLANK,
        sequence: u64::MAX,
    };
    assert_eq!(ServerPacket::parse(&emit_server(&p)).unwrap(), p);
    // Non-ASCII session.
    let frame = hex(&format!(
        "001f 41 ff{} {}31",
        "20".repeat(9),
        "20".repeat(19)
    ));
    assert_eq!(ServerPacket::parse(&frame), Err(Error::BadAscii("session")));
}

#[test]
fn emit_errors() {
    let mut small = [0u8; 2];
    assert_eq!(
        ServerPacket::Heartbeat.emit(&mut small),
        Err(Error::BufferTooSmall { need: 3 })
    );
    let big = vec![0u8; MAX_PAYLOAD_LEN + 1];
    let mut out = vec![0u8; big.len() + 3];
    assert_eq!(
        ServerPacket::SequencedData(&big).emit(&mut out),
        Err(Error::OutOfRange("payload"))
    );
    assert!(ServerPacket::SequencedData(&big[1..])
        .emit(&mut out)
        .is_ok());
    let bad = ClientPacket::LoginRequest {
        username: *b"FL\x00E  ",
        password: *b"SECRET    ",
        session: Session::BLANK,
        sequence: 1,
    };
    assert_eq!(bad.emit(&mut [0u8; 64]), Err(Error::BadAscii("username")));
    assert_eq!(
        ClientPacket::login_request("TOOLONGNAME", "x", Session::BLANK, 1),
        Err(Error::OutOfRange("username"))
    );
    assert_eq!(
        Session::new("ELEVENCHARS"),
        Err(Error::OutOfRange("session"))
    );
    assert_eq!(Session::new(" SESS ").unwrap().as_str(), "SESS");
}

#[test]
fn emit_in_place() {
    let mut out = [0u8; 64];
    let n = emit_unsequenced_with(&mut out, |p| {
        p[..3].copy_from_slice(b"abc");
        Ok::<usize, Error>(3)
    })
    .unwrap();
    assert_eq!(&out[..n], &hex("0004 55 616263")[..]);
    let n = emit_sequenced_with(&mut out, |_| Ok::<usize, Error>(0)).unwrap();
    assert_eq!(&out[..n], &hex("0001 53")[..]);
    assert_eq!(
        emit_unsequenced_with(&mut out, |p| Ok::<usize, Error>(p.len() + 1)),
        Err(Error::BadLength("payload longer than its buffer"))
    );
    assert_eq!(
        emit_unsequenced_with(&mut out[..2], |_| Ok::<usize, Error>(0)),
        Err(Error::BufferTooSmall { need: 3 })
    );
    // The writer's own error passes through.
    assert_eq!(
        emit_unsequenced_with(&mut out, |_| Err::<usize, Error>(Error::OutOfRange("x"))),
        Err(Error::OutOfRange("x"))
    );
}

// ------------------------------------------------------------------ framer

/// Feeds `chunks` and collects every frame (copied) and the first error.
fn run_framer(framer: &mut Framer, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Option<Error>) {
    let mut frames = Vec::new();
    for chunk in chunks {
        let mut pos = 0;
        loop {
            match framer.next_packet(chunk, &mut pos) {
                Ok(Some(f)) => frames.push(f.to_vec()),
                Ok(None) => {
                    assert_eq!(pos, chunk.len());
                    break;
                }
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

/// The obvious framer over the whole stream, as the reference.
fn reference_frames(stream: &[u8], max: usize) -> (Vec<Vec<u8>>, Option<Error>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        if stream.len() - at < 2 {
            return (out, None, stream.len() - at);
        }
        let plen = usize::from(u16::from_be_bytes([stream[at], stream[at + 1]]));
        if plen == 0 {
            return (out, Some(Error::BadLength("packet length 0")), 0);
        }
        if plen > max {
            return (
                out,
                Some(Error::BadLength("packet length above the framer's maximum")),
                0,
            );
        }
        if stream.len() - at < 2 + plen {
            return (out, None, stream.len() - at);
        }
        out.push(stream[at..at + 2 + plen].to_vec());
        at += 2 + plen;
    }
}

fn stream_of(packets: &[ServerPacket<'_>]) -> Vec<u8> {
    packets.iter().flat_map(emit_server).collect()
}

#[test]
fn framer_whole_packets_are_not_copied() {
    let stream = stream_of(&[
        ServerPacket::Heartbeat,
        ServerPacket::SequencedData(b"one"),
        ServerPacket::SequencedData(b"two!"),
    ]);
    let mut f = Framer::new(100);
    let mut pos = 0;
    let mut offsets = Vec::new();
    while let Some(frame) = f.next_packet(&stream, &mut pos).unwrap() {
        offsets.push(frame.as_ptr() as usize - stream.as_ptr() as usize);
    }
    assert_eq!(offsets, vec![0, 3, 9]);
    assert_eq!(pos, stream.len());
    assert_eq!(f.buffered(), 0);
}

#[test]
fn framer_half_a_header() {
    let stream = stream_of(&[ServerPacket::SequencedData(b"abc")]);
    let mut f = Framer::new(100);
    let mut pos = 0;
    assert_eq!(f.next_packet(&stream[..1], &mut pos).unwrap(), None);
    assert_eq!((pos, f.buffered()), (1, 1));
    let mut pos = 0;
    let got = f
        .next_packet(&stream[1..], &mut pos)
        .unwrap()
        .map(<[u8]>::to_vec);
    assert_eq!(got.as_deref(), Some(&stream[..]));
    assert_eq!(pos, stream.len() - 1);
    assert_eq!(f.next_packet(&stream[1..], &mut pos).unwrap(), None);
}

#[test]
fn framer_packet_across_three_reads() {
    let a = stream_of(&[ServerPacket::SequencedData(b"0123456789")]);
    let b = stream_of(&[ServerPacket::Heartbeat]);
    let stream = [a.clone(), b.clone()].concat();
    let reads: [&[u8]; 3] = [&stream[..4], &stream[4..9], &stream[9..]];
    let mut f = Framer::new(100);
    let (frames, err) = run_framer(&mut f, &reads);
    assert_eq!(err, None);
    assert_eq!(frames, vec![a, b]);
    assert_eq!(f.buffered(), 0);
}

#[test]
fn framer_several_packets_and_a_tail_in_one_read() {
    let stream = stream_of(&[
        ServerPacket::Heartbeat,
        ServerPacket::Heartbeat,
        ServerPacket::SequencedData(b"tail"),
    ]);
    let mut f = Framer::new(100);
    let (frames, err) = run_framer(&mut f, &[&stream[..8]]);
    assert_eq!((frames.len(), err), (2, None));
    assert_eq!(f.buffered(), 2);
    let (frames, err) = run_framer(&mut f, &[&stream[8..]]);
    assert_eq!((frames, err), (vec![stream[6..].to_vec()], None));
}

#[test]
fn framer_stop_early_and_resume() {
    let stream = stream_of(&[ServerPacket::Heartbeat, ServerPacket::EndOfSession]);
    let mut f = Framer::new(100);
    let mut pos = 0;
    assert!(f.next_packet(&stream, &mut pos).unwrap().is_some());
    assert_eq!(pos, 3);
    // Nothing past `pos` was consumed: resuming later yields the rest.
    let got = f
        .next_packet(&stream, &mut pos)
        .unwrap()
        .map(<[u8]>::to_vec);
    assert_eq!(got, Some(hex("0001 5a")));
    assert_eq!(f.next_packet(&stream, &mut pos).unwrap(), None);
    // A position past the end is the end.
    let mut pos = 99;
    assert_eq!(f.next_packet(&stream, &mut pos).unwrap(), None);
    assert_eq!(pos, stream.len());
}

#[test]
fn framer_oversize_is_fatal_until_reset() {
    let mut f = Framer::new(10);
    assert_eq!(f.max_packet_len(), 10);
    let ok = hex("000a 53 000102030405060708");
    let (frames, err) = run_framer(&mut f, &[&ok]);
    assert_eq!((frames.len(), err), (1, None));
    // Length 11 > 10: refused at the header, before any payload arrives.
    let mut pos = 0;
    let e = f.next_packet(&hex("000b"), &mut pos).unwrap_err();
    assert_eq!(
        e,
        Error::BadLength("packet length above the framer's maximum")
    );
    assert_eq!(f.error(), Some(e));
    // Sticky: the stream has lost its framing.
    let mut pos = 0;
    assert_eq!(f.next_packet(&hex("0001 48"), &mut pos), Err(e));
    f.reset();
    let mut pos = 0;
    assert!(f.next_packet(&hex("0001 48"), &mut pos).unwrap().is_some());
    // The length word split across reads is checked too.
    let (frames, err) = run_framer(&mut f, &[&[0x00], &[0x00, 0x48]]);
    assert_eq!(
        (frames.len(), err),
        (0, Some(Error::BadLength("packet length 0")))
    );
    // The maximum is clamped to what the length word can carry.
    assert_eq!(Framer::new(0).max_packet_len(), 1);
    assert_eq!(Framer::new(1 << 20).max_packet_len(), 65535);
}

#[test]
fn framer_accepts_the_largest_packet() {
    let payload = vec![7u8; MAX_PAYLOAD_LEN];
    let stream = emit_server(&ServerPacket::SequencedData(&payload));
    let mut f = Framer::new(MAX_PACKET_LEN);
    let reads: Vec<&[u8]> = stream.chunks(1000).collect();
    let (frames, err) = run_framer(&mut f, &reads);
    assert_eq!(err, None);
    assert_eq!(frames, vec![stream]);
}

// -------------------------------------------------------------- properties

#[derive(Clone, Debug)]
enum OwnedServer {
    Debug(Vec<u8>),
    LoginAccepted(String, u64),
    LoginRejected(u8),
    Sequenced(Vec<u8>),
    Unsequenced(Vec<u8>),
    Heartbeat,
    EndOfSession,
}

impl OwnedServer {
    fn packet(&self) -> ServerPacket<'_> {
        match self {
            OwnedServer::Debug(p) => ServerPacket::Debug(p),
            OwnedServer::LoginAccepted(s, n) => ServerPacket::LoginAccepted {
                session: Session::new(s).unwrap(),
                sequence: *n,
            },
            OwnedServer::LoginRejected(r) => ServerPacket::LoginRejected {
                reason: LoginRejectReason(*r),
            },
            OwnedServer::Sequenced(p) => ServerPacket::SequencedData(p),
            OwnedServer::Unsequenced(p) => ServerPacket::UnsequencedData(p),
            OwnedServer::Heartbeat => ServerPacket::Heartbeat,
            OwnedServer::EndOfSession => ServerPacket::EndOfSession,
        }
    }
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..48)
}

fn session_text() -> impl Strategy<Value = String> {
    "[ -~]{0,10}"
}

fn server_packet() -> impl Strategy<Value = OwnedServer> {
    prop_oneof![
        payload().prop_map(OwnedServer::Debug),
        (session_text(), any::<u64>()).prop_map(|(s, n)| OwnedServer::LoginAccepted(s, n)),
        any::<u8>().prop_map(OwnedServer::LoginRejected),
        payload().prop_map(OwnedServer::Sequenced),
        payload().prop_map(OwnedServer::Unsequenced),
        Just(OwnedServer::Heartbeat),
        Just(OwnedServer::EndOfSession),
    ]
}

#[derive(Clone, Debug)]
enum OwnedClient {
    Debug(Vec<u8>),
    Login(String, String, String, u64),
    Unsequenced(Vec<u8>),
    Heartbeat,
    Logout,
}

impl OwnedClient {
    fn packet(&self) -> ClientPacket<'_> {
        match self {
            OwnedClient::Debug(p) => ClientPacket::Debug(p),
            OwnedClient::Login(u, p, s, n) => {
                ClientPacket::login_request(u, p, Session::new(s).unwrap(), *n).unwrap()
            }
            OwnedClient::Unsequenced(p) => ClientPacket::UnsequencedData(p),
            OwnedClient::Heartbeat => ClientPacket::Heartbeat,
            OwnedClient::Logout => ClientPacket::LogoutRequest,
        }
    }
}

fn client_packet() -> impl Strategy<Value = OwnedClient> {
    prop_oneof![
        payload().prop_map(OwnedClient::Debug),
        ("[ -~]{0,6}", "[ -~]{0,10}", session_text(), any::<u64>())
            .prop_map(|(u, p, s, n)| OwnedClient::Login(u, p, s, n)),
        payload().prop_map(OwnedClient::Unsequenced),
        Just(OwnedClient::Heartbeat),
        Just(OwnedClient::Logout),
    ]
}

/// Splits `data` at the given cut points (taken modulo its length).
fn chunk<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    at.push(0);
    at.push(data.len());
    at.sort_unstable();
    at.windows(2).map(|w| &data[w[0]..w[1]]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn server_round_trip(p in server_packet()) {
        let p = p.packet();
        let frame = emit_server(&p);
        prop_assert_eq!(ServerPacket::parse(&frame).unwrap(), p);
        let v = Packet::new_checked(&frame[..]).unwrap();
        prop_assert_eq!(v.frame_len(), frame.len());
        prop_assert_eq!(v.packet_type(), p.packet_type());
    }

    #[test]
    fn client_round_trip(p in client_packet()) {
        let p = p.packet();
        let frame = emit_client(&p);
        prop_assert_eq!(ClientPacket::parse(&frame).unwrap(), p);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(p) = ServerPacket::parse(&bytes) {
            let again = emit_server(&p);
            prop_assert_eq!(ServerPacket::parse(&again).unwrap(), p);
        }
        if let Ok(p) = ClientPacket::parse(&bytes) {
            let again = emit_client(&p);
            prop_assert_eq!(ClientPacket::parse(&again).unwrap(), p);
        }
        if let Ok(p) = Packet::new_checked(&bytes[..]) {
            let _ = (p.packet_type(), p.payload(), p.as_bytes());
        }
        if let Ok(v) = LoginRequest::new_checked(&bytes[..]) {
            let _ = (v.username(), v.password(), v.session(), v.sequence());
        }
        if let Ok(v) = LoginAccepted::new_checked(&bytes[..]) {
            let _ = (v.session(), v.sequence());
        }
        if let Ok(v) = LoginRejected::new_checked(&bytes[..]) {
            let _ = v.reason();
        }
    }

    /// Headers that look like logins with random field bytes.
    #[test]
    fn login_fields_never_panic(kind in prop::sample::select(&b"LA"[..]), body in proptest::collection::vec(32u8..=127, 46)) {
        let plen: u8 = if kind == b'L' { 47 } else { 31 };
        let mut frame = vec![0, plen, kind];
        frame.extend_from_slice(&body[..usize::from(plen) - 1]);
        let _ = ServerPacket::parse(&frame);
        let _ = ClientPacket::parse(&frame);
    }

    /// Random bytes in random chunkings: the framer never panics and yields
    /// exactly what the whole-stream reference yields, whatever the chunking.
    #[test]
    fn framer_random_bytes_random_chunks(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        max in 1usize..600,
    ) {
        // Bias lengths towards small values so that many packets frame.
        let mut stream = bytes.clone();
        let mut i = 0;
        while i + 1 < stream.len() {
            stream[i] &= 0x01;
            i += 2 + usize::from(u16::from_be_bytes([stream[i], stream[i + 1]]));
        }
        for data in [&bytes[..], &stream[..]] {
            let mut f = Framer::new(max);
            let (frames, err) = run_framer(&mut f, &chunk(data, &cuts));
            let (want, want_err, tail) = reference_frames(data, max);
            prop_assert_eq!(&frames, &want);
            prop_assert_eq!(err, want_err);
            if err.is_none() {
                prop_assert_eq!(f.buffered(), tail);
            }
        }
    }

    /// A stream of valid packets cut at random boundaries comes out as exactly
    /// the same packets; a packet lying within one read is a slice of that read.
    #[test]
    fn framer_valid_stream_random_chunks(
        packets in proptest::collection::vec(server_packet(), 0..24),
        cuts in proptest::collection::vec(any::<usize>(), 0..24),
    ) {
        let frames: Vec<Vec<u8>> = packets.iter().map(|p| emit_server(&p.packet())).collect();
        let stream: Vec<u8> = frames.concat();
        let mut starts = Vec::new();
        let mut at = 0;
        for fr in &frames {
            starts.push(at);
            at += fr.len();
        }
        let mut f = Framer::new(64);
        let mut got = Vec::new();
        let mut chunk_start = 0;
        for c in chunk(&stream, &cuts) {
            let mut pos = 0;
            while let Some(fr) = f.next_packet(c, &mut pos).unwrap() {
                let k = got.len();
                let (s, e) = (starts[k], starts[k] + frames[k].len());
                let in_read = s >= chunk_start && e <= chunk_start + c.len();
                let ptr = fr.as_ptr() as usize;
                let base = c.as_ptr() as usize;
                if in_read {
                    prop_assert_eq!(ptr, base + (s - chunk_start), "packet {} was copied", k);
                }
                got.push(fr.to_vec());
            }
            chunk_start += c.len();
        }
        prop_assert_eq!(got, frames);
        prop_assert_eq!(f.buffered(), 0);
    }
}
