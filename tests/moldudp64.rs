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

// ---------------------------------------------------------------------------
// The session catching up over the venue's re-request server
// ---------------------------------------------------------------------------

mod catch_up {
    use super::common::itch_gen::{random_message, realistic_type};
    use floe::config::FeedConfig;
    use floe::exchange::publisher::{Publisher, PublisherConfig};
    use floe::feed::moldudp64::{MoldConfig, MoldCounters, MoldSession};
    use floe::time::Nanos;
    use floe::wire::moldudp64::{Packet, REQUEST_LEN};
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::SeedableRng;
    use std::collections::VecDeque;

    /// Live rate, messages per second (the end-to-end venue's order).
    const RATE: u64 = 1_400;
    /// Messages published before the client joins.
    const BACKLOG: u64 = 20_000;
    /// The client's duty cycle.
    const TICK_NS: u64 = 50_000;
    /// One-way latency, both directions.
    const LATENCY_NS: u64 = 100_000;
    /// Run this long after catching up.
    const AFTER_NS: u64 = 3_000_000_000;

    struct Run {
        /// Nanoseconds from joining to the first moment nothing was missing.
        caught_up_after: u64,
        /// Messages delivered in the `AFTER_NS` after catching up.
        delivered_after: u64,
        /// The largest lag (messages sent but not delivered) after catching up.
        max_lag_after: u64,
        /// Requests written after catching up.
        requests_after: u64,
        /// Messages published before the first packet the client received.
        missed: u64,
        /// Re-request answers the venue sent, and the messages they carried.
        answers: u64,
        answered_messages: u64,
        counters: MoldCounters,
    }

    /// A live stream at [`RATE`] from the venue's [`Publisher`] (packets of
    /// up to `max_payload` bytes), a client with `start_sequence = 1` and the
    /// shipped `[feed]` defaults joining after [`BACKLOG`] messages, and the
    /// venue's `handle_request` answering every request with one packet of
    /// what fits. Checks in the callback that every message arrives once, in
    /// order, with the bytes the venue published.
    fn run(max_payload: usize, seed: u64) -> Run {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mut venue = Publisher::new(
            PublisherConfig {
                max_payload,
                flush_after_ns: 0,
                ..PublisherConfig::default()
            },
            0,
        );
        let cfg = MoldConfig::from_config(&FeedConfig {
            start_sequence: 1,
            ..FeedConfig::default()
        });
        let mut client = MoldSession::new(cfg);
        let mut published: Vec<Vec<u8>> = vec![Vec::new()]; // index = sequence
        let mut next = 1u64;
        let mut check = |seq: u64, msg: &[u8], published: &Vec<Vec<u8>>| {
            assert_eq!(seq, next, "in order, each once");
            assert_eq!(Some(msg), published.get(seq as usize).map(|m| &m[..]));
            next += 1;
        };
        let interval = 1_000_000_000 / RATE;
        let join_at = BACKLOG * interval;
        let mut buf = vec![0u8; 2048];
        let mut down: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
        let mut up: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
        let (mut answers, mut answered_messages) = (0, 0);
        let mut caught_up_at: Option<(u64, u64, u64)> = None;
        let mut missed = None;
        let mut max_lag_after = 0;
        let mut t = 0u64;
        loop {
            // The venue: publish what is due, send what is due.
            while published.len() as u64 * interval <= t {
                let ty = realistic_type(&mut rng);
                let m = random_message(&mut rng, ty);
                let mut bytes = vec![0u8; 64];
                let n = m.emit(&mut bytes).expect("emit");
                bytes.truncate(n);
                published.push(bytes);
                venue.publish_message(t, &m).expect("publish");
            }
            while let Some(n) = venue.poll_transmit(t, &mut buf) {
                if t >= join_at {
                    let first = Packet::new_checked(&buf[..n]).expect("packet").sequence();
                    missed.get_or_insert(first - 1);
                    down.push_back((t + LATENCY_NS, buf[..n].to_vec()));
                }
            }
            while up.front().is_some_and(|(at, _)| *at <= t) {
                let (_, req) = up.pop_front().expect("front");
                if let Some(n) = venue.handle_request(&req, &mut buf) {
                    answers += 1;
                    answered_messages += u64::from(
                        Packet::new_checked(&buf[..n])
                            .expect("answer")
                            .message_count(),
                    );
                    down.push_back((t + LATENCY_NS, buf[..n].to_vec()));
                }
            }
            if t >= join_at {
                // The client's duty cycle.
                while down.front().is_some_and(|(at, _)| *at <= t) {
                    let (_, p) = down.pop_front().expect("front");
                    client.on_packet(&p, &mut |s, m| check(s, m, &published));
                }
                let mut req = [0u8; REQUEST_LEN];
                while let Some(n) =
                    client.poll_request(Nanos(t), &mut req, &mut |s, m| check(s, m, &published))
                {
                    up.push_back((t + LATENCY_NS, req[..n].to_vec()));
                }
                let lag = venue.next_sequence() - client.expected();
                match caught_up_at {
                    None if client.expected() > 1 && !client.has_gap() => {
                        caught_up_at = Some((t, client.expected(), client.counters().requests));
                    }
                    None => assert!(
                        t - join_at < 10_000_000_000,
                        "no catch-up 10 s after joining: expected {}, venue at {}, {:?}",
                        client.expected(),
                        venue.next_sequence(),
                        client.counters()
                    ),
                    Some((at, from, requests)) => {
                        max_lag_after = max_lag_after.max(lag);
                        if t >= at + AFTER_NS {
                            return Run {
                                caught_up_after: at - join_at,
                                delivered_after: client.expected() - from,
                                max_lag_after,
                                requests_after: client.counters().requests - requests,
                                missed: missed.unwrap_or(0),
                                answers,
                                answered_messages,
                                counters: *client.counters(),
                            };
                        }
                    }
                }
                t += TICK_NS;
            } else {
                t = (t + interval).min(join_at);
            }
        }
    }

    fn check_converges(r: &Run, answer_at_most: u64) {
        let c = &r.counters;
        eprintln!(
            "caught up {} messages in {:.1} ms: {} answers ({} messages), {c:?}",
            r.missed,
            r.caught_up_after as f64 / 1e6,
            r.answers,
            r.answered_messages
        );
        assert!(
            r.caught_up_after < 1_000_000_000,
            "caught up {} ms after joining (backlog {BACKLOG}): {c:?}",
            r.caught_up_after / 1_000_000
        );
        // Every answer is one packet of what fits; the requests followed them.
        assert!(r.answers > 0 && r.answered_messages <= r.answers * answer_at_most);
        assert!(
            r.missed >= BACKLOG - 100 && r.answered_messages >= r.missed,
            "the backlog came by re-request"
        );
        assert_eq!(c.messages_lost, 0, "{c:?}");
        assert_eq!(
            c.request_retries, 0,
            "no request waited for a timeout: {c:?}"
        );
        assert_eq!(c.duplicate_messages, 0, "nothing asked for twice: {c:?}");
        // Then delivery runs at the live rate, a packet's worth behind.
        let rate = r.delivered_after * 1_000_000_000 / AFTER_NS;
        assert!(
            rate.abs_diff(RATE) <= RATE / 100,
            "{rate} messages/s delivered after catching up, live {RATE}/s"
        );
        assert!(
            r.max_lag_after <= answer_at_most,
            "lag {} after catching up",
            r.max_lag_after
        );
        assert_eq!(r.requests_after, 0, "no gap after catching up: {c:?}");
        assert_eq!(c.gaps, 1, "one gap: what was missed before joining: {c:?}");
    }

    /// Full-size answers (the venue's 1400-byte payload: ~40 messages).
    #[test]
    fn catch_up_from_one_converges_to_the_live_rate() {
        let r = run(1400, 1);
        check_converges(&r, 1400 / 20);
        // The answers in flight fit the reorder slots beside the live packets.
        assert_eq!(r.counters.reorder_overflow + r.counters.reorder_evicted, 0);
    }

    /// Answers of a few messages each (a 120-byte payload), far below the
    /// ranges asked for, and a live packet per message: the live packets
    /// outgrow the reorder slots before the backlog is in, yet catching up
    /// still outruns the live feed (slots go to what is nearest delivery).
    #[test]
    fn catch_up_with_small_answers_converges_to_the_live_rate() {
        let r = run(120, 2);
        check_converges(&r, 120 / 20);
    }
}
