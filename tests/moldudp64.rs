//! MoldUDP64 1.00 (PROTOCOLS.md §2): golden packets (the §7 vector,
//! heartbeat, end of session, request), the block iterator's handling of
//! malformed packets, and property tests (round trips, never panics).

mod common;

use floe::wire::itch::{self, Message};
use floe::wire::moldudp64::*;
use floe::wire::Error;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).expect("valid hex")
}

const A_MSG: &str =
    "41 002a 0003 1f1aced9f07b 000000003ade68b1 42 00000064 4141504c20202020 0012d644";

#[test]
fn section_7_packet() {
    let bytes = hex(&format!(
        "53455353494f4e303031 0000000000000005 0001 0024 {A_MSG}"
    ));
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.session(), b"SESSION001");
    assert_eq!(p.session_str(), Ok("SESSION001"));
    assert_eq!(p.sequence(), 5);
    assert_eq!(p.message_count(), 1);
    assert_eq!(p.block_count(), 1);
    assert_eq!(p.next_sequence(), 6);
    assert!(!p.is_heartbeat() && !p.is_end_of_session());
    let mut blocks = p.blocks();
    let first = blocks.next().unwrap().unwrap();
    assert_eq!(first, &hex(A_MSG)[..]);
    assert!(blocks.next().is_none());
    assert!(blocks.count_matched());
    let m = Message::parse(first).unwrap();
    assert_eq!(m.header().timestamp, 34_200_000_000_123);

    // The builder produces exactly these bytes, emitting the ITCH message in place.
    let session = session_from_str("SESSION001").unwrap();
    let mut buf = [0u8; 1420];
    let mut b = PacketBuilder::new(&mut buf, &session, 5).unwrap();
    assert!(b.is_empty());
    assert_eq!(b.push_with(m.encoded_len(), |out| m.emit(out)), Ok(36));
    assert_eq!(b.message_count(), 1);
    let n = b.finish();
    assert_eq!(&buf[..n], &bytes[..]);
    // And so does push of the raw message.
    let mut buf2 = [0u8; 1420];
    let mut b = PacketBuilder::new(&mut buf2, &session, 5).unwrap();
    b.push(&hex(A_MSG)).unwrap();
    let n2 = b.finish();
    assert_eq!(&buf2[..n2], &bytes[..]);

    assert_eq!(
        PacketHeader::parse(&bytes),
        Ok(PacketHeader {
            session: *b"SESSION001",
            sequence: 5,
            message_count: 1
        })
    );
}

#[test]
fn heartbeat_and_end_of_session() {
    let session = *b"SESSION001";
    let mut out = [0u8; 32];
    assert_eq!(emit_heartbeat(&mut out, &session, 42), Ok(20));
    let hb = hex("53455353494f4e303031 000000000000002a 0000");
    assert_eq!(&out[..20], &hb[..]);
    let p = Packet::new_checked(&hb[..]).unwrap();
    assert!(p.is_heartbeat() && !p.is_end_of_session());
    assert_eq!(p.next_sequence(), 42);
    assert_eq!(p.blocks().count(), 0);
    assert!(p.blocks().count_matched());

    assert_eq!(emit_end_of_session(&mut out, &session, 43), Ok(20));
    let eos = hex("53455353494f4e303031 000000000000002b ffff");
    assert_eq!(&out[..20], &eos[..]);
    let p = Packet::new_checked(&eos[..]).unwrap();
    assert!(p.is_end_of_session() && !p.is_heartbeat());
    assert_eq!(p.block_count(), 0);
    assert_eq!(p.next_sequence(), 43);
    let mut blocks = p.blocks();
    assert!(blocks.next().is_none());
    assert!(blocks.count_matched());
    // An end of session must carry no blocks.
    let mut eos_extra = eos.clone();
    eos_extra.extend_from_slice(&hex("0001 00"));
    let p = Packet::new_checked(&eos_extra[..]).unwrap();
    let mut blocks = p.blocks();
    assert!(blocks.next().is_none());
    assert!(!blocks.count_matched());

    assert_eq!(
        emit_heartbeat(&mut out[..19], &session, 1),
        Err(Error::BufferTooSmall { need: 20 })
    );
}

#[test]
fn request_packet() {
    let bytes = hex("53455353494f4e303031 0000000000000005 000a");
    let r = Request::parse(&bytes).unwrap();
    assert_eq!(
        r,
        Request {
            session: *b"SESSION001",
            sequence: 5,
            message_count: 10
        }
    );
    assert_eq!(r.session_str(), Ok("SESSION001"));
    let mut out = [0u8; 20];
    assert_eq!(r.emit(&mut out), Ok(20));
    assert_eq!(&out[..], &bytes[..]);
    assert_eq!(
        Request::parse(&bytes[..19]),
        Err(Error::Truncated { len: 19, need: 20 })
    );
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(Request::parse(&long), Err(Error::BadLength(_))));
    assert_eq!(
        r.emit(&mut out[..19]),
        Err(Error::BufferTooSmall { need: 20 })
    );
}

#[test]
fn malformed_blocks() {
    let head = "53455353494f4e303031 0000000000000001";
    // Second block's length (0x0010) runs past the packet: one error, then the end.
    let b = hex(&format!("{head} 0003 0002 4142 0010 41424344"));
    let p = Packet::new_checked(&b[..]).unwrap();
    let mut it = p.blocks();
    assert_eq!(it.next(), Some(Ok(&b"AB"[..])));
    assert!(matches!(it.next(), Some(Err(Error::BadLength(_)))));
    assert_eq!(it.next(), None);
    assert!(!it.count_matched());

    // A lone byte where a length should be.
    let b = hex(&format!("{head} 0002 0001 41 00"));
    let p = Packet::new_checked(&b[..]).unwrap();
    let v: Vec<_> = p.blocks().collect();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0], Ok(&b"A"[..]));
    assert!(matches!(v[1], Err(Error::BadLength(_))));

    // Fewer blocks than announced: no error, but the count does not match.
    let b = hex(&format!("{head} 0003 0001 41 0000"));
    let p = Packet::new_checked(&b[..]).unwrap();
    let mut it = p.blocks();
    assert_eq!(it.next(), Some(Ok(&b"A"[..])));
    assert_eq!(it.next(), Some(Ok(&b""[..])));
    assert_eq!(it.next(), None);
    assert_eq!(it.remaining(), 1);
    assert!(!it.count_matched());

    // More bytes than the announced blocks: stop at the count, flag the mismatch.
    let b = hex(&format!("{head} 0001 0001 41 0001 42"));
    let p = Packet::new_checked(&b[..]).unwrap();
    let mut it = p.blocks();
    assert_eq!(it.next(), Some(Ok(&b"A"[..])));
    assert_eq!(it.next(), None);
    assert!(!it.count_matched());
    assert_eq!(it.rest(), &hex("0001 42")[..]);

    // A header cut short.
    assert_eq!(
        Packet::new_checked(&b[..19]).unwrap_err(),
        Error::Truncated { len: 19, need: 20 }
    );
    assert_eq!(
        PacketHeader::parse(&b[..3]),
        Err(Error::Truncated { len: 3, need: 20 })
    );
}

#[test]
fn builder_limits() {
    let session = *b"SESSION001";
    let mut small = [0u8; 19];
    assert!(matches!(
        PacketBuilder::new(&mut small, &session, 1),
        Err(Error::BufferTooSmall { need: 20 })
    ));
    let mut buf = [0u8; 30];
    let mut b = PacketBuilder::new(&mut buf, &session, 1).unwrap();
    assert_eq!(b.remaining(), 8);
    b.push(b"12345678").unwrap();
    assert_eq!(b.remaining(), 0);
    assert_eq!(b.push(b""), Err(Error::BufferTooSmall { need: 32 }));
    // A failing fill leaves the packet unchanged.
    let mut buf = [0u8; 64];
    let mut b = PacketBuilder::new(&mut buf, &session, 1).unwrap();
    assert_eq!(
        b.push_with(4, |_| Err(Error::OutOfRange("test"))),
        Err(Error::OutOfRange("test"))
    );
    assert_eq!(
        b.push_with(4, |_| Ok(5)),
        Err(Error::OutOfRange("message block length"))
    );
    assert!(b.is_empty());
    assert_eq!(b.finish(), 20);
    assert_eq!(&buf[18..20], &[0, 0]);
    // A fill may write less than it reserved.
    let mut b = PacketBuilder::new(&mut buf, &session, 1).unwrap();
    assert_eq!(
        b.push_with(10, |out| {
            out[..3].copy_from_slice(b"xyz");
            Ok(3)
        }),
        Ok(3)
    );
    let n = b.finish();
    assert_eq!(n, 25);
    let p = Packet::new_checked(&buf[..n]).unwrap();
    assert_eq!(p.blocks().collect::<Vec<_>>(), vec![Ok(&b"xyz"[..])]);
    // At most 65534 blocks: 0xFFFF means end of session.
    let mut big = vec![0u8; 20 + 2 * 65535];
    let mut b = PacketBuilder::new(&mut big, &session, 1).unwrap();
    for _ in 0..MAX_MESSAGE_COUNT {
        b.push(b"").unwrap();
    }
    assert_eq!(b.push(b""), Err(Error::OutOfRange("message count")));
    let n = b.finish();
    let p = Packet::new_checked(&big[..n]).unwrap();
    assert_eq!(p.message_count(), 0xFFFE);
    assert_eq!(p.blocks().count(), 0xFFFE);
    assert_eq!(
        session_from_str("TOO-LONG-SESSION"),
        Err(Error::OutOfRange("session"))
    );
}

fn session() -> impl Strategy<Value = Session> {
    any::<[u8; 10]>()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn header_round_trip(session in session(), sequence in any::<u64>(), message_count in any::<u16>()) {
        let h = PacketHeader { session, sequence, message_count };
        let mut out = [0u8; 20];
        prop_assert_eq!(h.emit(&mut out), Ok(20));
        prop_assert_eq!(PacketHeader::parse(&out), Ok(h));
        let p = Packet::new_checked(&out[..]).unwrap();
        prop_assert_eq!(p.header(), h);
        prop_assert_eq!(p.is_heartbeat(), message_count == 0);
        prop_assert_eq!(p.is_end_of_session(), message_count == 0xFFFF);
    }

    #[test]
    fn request_round_trip(session in session(), sequence in any::<u64>(), message_count in any::<u16>()) {
        let r = Request { session, sequence, message_count };
        let mut out = [0u8; 20];
        prop_assert_eq!(r.emit(&mut out), Ok(20));
        prop_assert_eq!(Request::parse(&out), Ok(r));
    }

    #[test]
    fn builder_blocks_round_trip(
        session in session(),
        sequence in any::<u64>(),
        blocks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..60), 0..40),
    ) {
        let mut buf = vec![0u8; 20 + blocks.iter().map(|b| b.len() + 2).sum::<usize>()];
        let mut b = PacketBuilder::new(&mut buf, &session, sequence).unwrap();
        for blk in &blocks {
            b.push(blk).unwrap();
        }
        prop_assert_eq!(b.remaining(), 0);
        let n = b.finish();
        prop_assert_eq!(n, buf.len());
        let p = Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(p.sequence(), sequence);
        prop_assert_eq!(p.message_count() as usize, blocks.len());
        let mut it = p.blocks();
        let got: Vec<Vec<u8>> = it.by_ref().map(|r| r.unwrap().to_vec()).collect();
        prop_assert_eq!(got, blocks);
        prop_assert!(it.count_matched());
    }

    #[test]
    fn itch_messages_in_place(seed in any::<u64>(), n in 0usize..30) {
        use rand::SeedableRng;
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let msgs: Vec<Message> = (0..n)
            .map(|_| {
                let t = itch::MESSAGE_TYPES[rand::RngExt::random_range(&mut rng, 0..itch::MESSAGE_TYPES.len())];
                common::itch_gen::random_message(&mut rng, t)
            })
            .collect();
        let mut buf = [0u8; 1420];
        let mut b = PacketBuilder::new(&mut buf, b"SESSION001", 1).unwrap();
        let mut pushed = Vec::new();
        for m in &msgs {
            match b.push_with(m.encoded_len(), |out| m.emit(out)) {
                Ok(_) => pushed.push(*m),
                Err(Error::BufferTooSmall { .. }) => break,
                Err(e) => prop_assert!(false, "push failed: {:?}", e),
            }
        }
        let len = b.finish();
        let p = Packet::new_checked(&buf[..len]).unwrap();
        let back: Vec<Message> = p.blocks().map(|r| Message::parse(r.unwrap()).unwrap()).collect();
        prop_assert_eq!(back, pushed);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(p) = Packet::new_checked(&b[..]) {
            let _ = (p.session(), p.session_str(), p.sequence(), p.message_count(), p.header());
            let _ = (p.is_heartbeat(), p.is_end_of_session(), p.next_sequence(), p.payload());
            let mut it = p.blocks();
            let mut total = 0usize;
            let mut errors = 0;
            for r in it.by_ref() {
                match r {
                    Ok(blk) => total += 2 + blk.len(),
                    Err(Error::BadLength(_)) => errors += 1,
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                }
            }
            prop_assert!(errors <= 1);
            prop_assert!(total <= b.len() - 20);
            if it.count_matched() {
                prop_assert_eq!(total, b.len() - 20);
            }
        } else {
            prop_assert!(b.len() < 20);
        }
        let _ = PacketHeader::parse(&b);
        match Request::parse(&b) {
            Ok(_) => prop_assert_eq!(b.len(), 20),
            Err(_) => prop_assert_ne!(b.len(), 20),
        }
    }
}
