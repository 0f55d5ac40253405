//! Cross-check with Wireshark's dissectors (tshark 4.0.x): floe-built
//! Ethernet frames carrying MoldUDP64 (PROTOCOLS.md §2, §6, §7) — data packets
//! with several ITCH messages, a heartbeat, an end of session and a request —
//! must decode to exactly the session, sequence, count and message blocks
//! built, with IPv4 and UDP checksums "Good" and no malformed packet or
//! expert warning/error. Skips with a printed reason if tshark is missing.

mod common;

use common::itch_gen::random_message;
use common::pcap::{write_pcap, TempPcap};
use common::tshark;
use floe::net::{multicast_mac, UdpFrame};
use floe::wire::itch::{self, Message};
use floe::wire::moldudp64::*;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

const SESSION: &Session = b"SESSION001";
/// Wireshark's PI_COMMENT: WS 4.0 tags a header-only packet whose count is
/// non-zero (a request, and also the 0xFFFF end of session) with the comment
/// "Number of Requested Messages". Anything at PI_WARN (0x600000) or above
/// fails the test.
const PI_COMMENT: u32 = 0x0010_0000;
const PI_WARN: u32 = 0x0060_0000;

/// What tshark must report for one frame.
struct Expect {
    sequence: u64,
    count: u16,
    blocks: Vec<Vec<u8>>,
}

#[test]
fn tshark_decodes_floe_moldudp64_frames() {
    if !tshark::available("tshark_decodes_floe_moldudp64_frames") {
        return;
    }
    let mut rng = SmallRng::seed_from_u64(26400);
    let group = "239.1.1.1".parse().unwrap();
    let feed = UdpFrame {
        ident: 1,
        ..UdpFrame::new(
            [2, 0, 0, 0, 0, 1],
            multicast_mac(group),
            "10.0.0.9:30001".parse().unwrap(),
            "239.1.1.1:26400".parse().unwrap(),
        )
    };
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let mut expect: Vec<Expect> = Vec::new();
    let mut next_seq = 5u64;

    // Data packets: the §7 add order alone, then packets of random messages of
    // every type until each is full (1400-byte payload budget).
    let a7 =
        hex::decode("41002a00031f1aced9f07b000000003ade68b142000000644141504c202020200012d644")
            .unwrap();
    assert_eq!(a7.len(), 36);
    let mut batches: Vec<Vec<Message>> = vec![vec![Message::parse(&a7).unwrap()]];
    for size in [3usize, 12, 200] {
        batches.push(
            (0..size)
                .map(|_| {
                    let t = itch::MESSAGE_TYPES[rng.random_range(0..itch::MESSAGE_TYPES.len())];
                    random_message(&mut rng, t)
                })
                .collect(),
        );
    }
    for batch in &batches {
        let mut out = [0u8; 1514];
        let mut blocks = Vec::new();
        let n = feed
            .emit_with(&mut out, |payload| {
                let budget = payload.len().min(HEADER_LEN + 1400);
                let mut b = PacketBuilder::new(&mut payload[..budget], SESSION, next_seq)?;
                for m in batch {
                    if b.push_with(m.encoded_len(), |blk| m.emit(blk)).is_err() {
                        break;
                    }
                    let mut enc = [0u8; itch::MAX_MESSAGE_LEN];
                    let len = m.emit(&mut enc)?;
                    blocks.push(enc[..len].to_vec());
                }
                Ok(b.finish())
            })
            .unwrap();
        frames.push(out[..n].to_vec());
        expect.push(Expect {
            sequence: next_seq,
            count: blocks.len() as u16,
            blocks: blocks.clone(),
        });
        next_seq += blocks.len() as u64;
    }
    assert!(
        expect.last().unwrap().blocks.len() > 30,
        "the last packet is filled"
    );

    let mut out = [0u8; 1514];
    let n = feed
        .emit_with(&mut out, |p| emit_heartbeat(p, SESSION, next_seq))
        .unwrap();
    frames.push(out[..n].to_vec());
    expect.push(Expect {
        sequence: next_seq,
        count: HEARTBEAT_COUNT,
        blocks: vec![],
    });
    let n = feed
        .emit_with(&mut out, |p| emit_end_of_session(p, SESSION, next_seq))
        .unwrap();
    frames.push(out[..n].to_vec());
    expect.push(Expect {
        sequence: next_seq,
        count: END_OF_SESSION_COUNT,
        blocks: vec![],
    });

    // A re-request from floe to the request server (unicast).
    let req = UdpFrame {
        ttl: 64,
        ..UdpFrame::new(
            [2, 0, 0, 0, 0, 2],
            [2, 0, 0, 0, 0, 1],
            "10.0.0.2:26402".parse().unwrap(),
            "10.0.0.1:26401".parse().unwrap(),
        )
    };
    let request = Request {
        session: *SESSION,
        sequence: 6,
        message_count: 3,
    };
    let n = req.emit_with(&mut out, |p| request.emit(p)).unwrap();
    frames.push(out[..n].to_vec());
    expect.push(Expect {
        sequence: 6,
        count: 3,
        blocks: vec![],
    });

    let pcap = TempPcap::new("moldudp64");
    write_pcap(&pcap.0, &frames).unwrap();
    let rows = tshark::fields(
        &pcap.0,
        &[
            "-d",
            "udp.port==26400,moldudp64",
            "-d",
            "udp.port==26401,moldudp64",
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ],
        &[
            "frame.number",
            "frame.protocols",
            "moldudp64.session",
            "moldudp64.sequence",
            "moldudp64.count",
            "moldudp64.msglen",
            "moldudp64.msgseq",
            "moldudp64.msgdata",
            "ip.checksum.status",
            "udp.checksum.status",
            "_ws.malformed",
            "_ws.expert.severity",
            "_ws.expert.message",
        ],
    );
    assert_eq!(rows.len(), frames.len(), "one row per frame: {rows:?}");
    for (i, (row, e)) in rows.iter().zip(&expect).enumerate() {
        let col = |k: usize| row.get(k).map(String::as_str).unwrap_or("");
        let list = |k: usize| -> Vec<&str> {
            if col(k).is_empty() {
                vec![]
            } else {
                col(k).split(',').collect()
            }
        };
        let ctx = format!("frame {}: {row:?}", i + 1);
        assert_eq!(col(0), (i + 1).to_string(), "{ctx}");
        assert!(col(1).ends_with("eth:ethertype:ip:udp:moldudp64"), "{ctx}");
        assert_eq!(col(2), "SESSION001", "{ctx}");
        assert_eq!(col(3), e.sequence.to_string(), "{ctx}");
        assert_eq!(col(4), e.count.to_string(), "{ctx}");
        let lens: Vec<String> = e.blocks.iter().map(|b| b.len().to_string()).collect();
        assert_eq!(list(5), lens, "{ctx}");
        let seqs: Vec<String> = (0..e.blocks.len() as u64)
            .map(|k| (e.sequence + k).to_string())
            .collect();
        assert_eq!(list(6), seqs, "{ctx}");
        let data: Vec<String> = e.blocks.iter().map(hex::encode).collect();
        assert_eq!(list(7), data, "{ctx}");
        assert_eq!(col(8), "1", "IPv4 checksum Good, {ctx}");
        assert_eq!(col(9), "1", "UDP checksum Good, {ctx}");
        assert_eq!(col(10), "", "malformed, {ctx}");
        for sev in list(11) {
            let sev: u32 = sev.parse().unwrap();
            assert!(sev < PI_WARN, "expert warning or error, {ctx}");
            assert_eq!(sev, PI_COMMENT, "{ctx}");
        }
        let header_only_with_count = e.blocks.is_empty() && e.count != 0;
        if header_only_with_count {
            assert_eq!(col(12), "Number of Requested Messages", "{ctx}");
        } else {
            assert_eq!(col(12), "", "no expert info, {ctx}");
        }
    }
}
