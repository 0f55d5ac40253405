//! Ethernet + IPv4 + UDP frames (PROTOCOLS.md §6, §7): the §7 golden frame
//! with its exact checksums, the multicast MAC mapping, the classifier's
//! decisions, and property tests (round trips, never panics).

use core::net::{Ipv4Addr, SocketAddrV4};

use floe::config::Config;
use floe::net::*;
use floe::wire::moldudp64::{self, PacketBuilder};
use floe::wire::Error;
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.split_whitespace().collect::<String>()).expect("valid hex")
}

const A_MSG: &str =
    "41 002a 0003 1f1aced9f07b 000000003ade68b1 42 00000064 4141504c20202020 0012d644";
const PUBLISHER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const FLOE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const FLOE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn section_7_frame() -> Vec<u8> {
    hex(&format!(
        "01005e010101 020000000001 0800 \
         4500 0056 0001 4000 01 11 7f8b 0a000009 ef010101 \
         7531 6720 0042 a44c \
         53455353494f4e303031 0000000000000005 0001 0024 {A_MSG}"
    ))
}

fn section_7_spec() -> UdpFrame {
    let group = Ipv4Addr::new(239, 1, 1, 1);
    UdpFrame {
        ident: 1,
        ..UdpFrame::new(
            PUBLISHER_MAC,
            multicast_mac(group),
            SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 9), 30001),
            SocketAddrV4::new(group, 26400),
        )
    }
}

#[test]
fn section_7_frame_is_built_exactly() {
    let expected = section_7_frame();
    let spec = section_7_spec();
    let mut out = [0u8; 1514];
    // Fill in place: the MoldUDP64 builder writes straight into the frame, and
    // the ITCH message straight into its block.
    let msg = floe::wire::itch::Message::parse(&hex(A_MSG)).unwrap();
    let n = spec
        .emit_with(&mut out, |payload| {
            let mut b = PacketBuilder::new(payload, b"SESSION001", 5)?;
            b.push_with(msg.encoded_len(), |blk| msg.emit(blk))?;
            Ok(b.finish())
        })
        .unwrap();
    assert_eq!(&out[..n], &expected[..]);
    assert_eq!(&out[24..26], &[0x7f, 0x8b], "IPv4 header checksum");
    assert_eq!(&out[40..42], &[0xa4, 0x4c], "UDP checksum");
    // And from a ready payload.
    let mut out2 = [0u8; 1514];
    let n2 = spec.emit(&expected[42..], &mut out2).unwrap();
    assert_eq!(&out2[..n2], &expected[..]);
}

#[test]
fn section_7_frame_parses() {
    let frame = section_7_frame();
    let d = parse_udp_frame(&frame).unwrap();
    assert_eq!(d.src, "10.0.0.9:30001".parse().unwrap());
    assert_eq!(d.dst, "239.1.1.1:26400".parse().unwrap());
    assert_eq!(d.src_mac, PUBLISHER_MAC);
    assert_eq!(d.dst_mac, [0x01, 0x00, 0x5e, 0x01, 0x01, 0x01]);
    assert_eq!(d.ttl, 1);
    assert_eq!(d.ident, 1);
    assert_eq!(d.payload_offset, 42);
    assert_eq!(d.payload, &frame[42..]);
    let p = moldudp64::Packet::new_checked(d.payload).unwrap();
    assert_eq!((p.sequence(), p.message_count()), (5, 1));

    // Each checksum is verified.
    let mut bad = frame.clone();
    bad[24] ^= 1;
    assert_eq!(
        parse_udp_frame(&bad),
        Err(Error::BadChecksum("IPv4 header"))
    );
    let mut bad = frame.clone();
    bad[60] ^= 1;
    assert_eq!(parse_udp_frame(&bad), Err(Error::BadChecksum("UDP")));
    // UDP checksum 0 = not computed: accepted, even with the payload changed.
    let mut none = frame.clone();
    none[40] = 0;
    none[41] = 0;
    none[60] ^= 1;
    assert!(parse_udp_frame(&none).is_ok());
}

#[test]
fn frame_errors_are_typed() {
    let frame = section_7_frame();
    assert_eq!(
        parse_udp_frame(&frame[..13]),
        Err(Error::Truncated { len: 13, need: 14 })
    );
    // IPv4 total length runs past the frame.
    assert!(matches!(
        parse_udp_frame(&frame[..90]),
        Err(Error::BadLength(_))
    ));
    let mut arp = frame.clone();
    arp[13] = 0x06;
    assert!(matches!(
        parse_udp_frame(&arp),
        Err(Error::BadValue {
            field: "ethertype (not IPv4)",
            ..
        })
    ));
    let mut tcp = frame.clone();
    tcp[23] = 6;
    assert_eq!(
        parse_udp_frame(&tcp),
        Err(Error::BadValue {
            field: "IP protocol (not UDP)",
            value: 6
        })
    );
    let mut frag = frame.clone();
    frag[20] = 0x20; // MF
    assert!(matches!(
        parse_udp_frame(&frag),
        Err(Error::BadValue {
            field: "IPv4 fragment",
            ..
        })
    ));
    // UDP length larger than the IPv4 payload.
    let mut ulen = frame.clone();
    ulen[38] = 0x01;
    assert_eq!(parse_udp_frame(&ulen), Err(Error::BadLength("UDP length")));

    let spec = section_7_spec();
    let mut small = [0u8; 59];
    assert_eq!(
        spec.emit(b"", &mut small),
        Err(Error::BufferTooSmall { need: 60 })
    );
    let mut out = [0u8; 100];
    assert_eq!(
        spec.emit(&[0u8; 59], &mut out),
        Err(Error::BufferTooSmall { need: 101 })
    );
}

#[test]
fn short_payloads_are_padded_to_60_bytes() {
    let spec = UdpFrame {
        udp_checksum: false,
        ..section_7_spec()
    };
    let mut out = [0xEEu8; 100];
    let n = spec.emit(b"hi", &mut out).unwrap();
    assert_eq!(n, 60);
    assert!(out[44..60].iter().all(|&b| b == 0));
    assert_eq!(&out[40..42], &[0, 0], "UDP checksum not computed");
    let d = parse_udp_frame(&out[..n]).unwrap();
    assert_eq!(d.payload, b"hi");
}

#[test]
fn multicast_macs() {
    assert_eq!(
        multicast_mac(Ipv4Addr::new(239, 1, 1, 1)),
        [0x01, 0x00, 0x5e, 0x01, 0x01, 0x01]
    );
    // The top bit of the second octet is dropped: 32 groups share a MAC.
    assert_eq!(
        multicast_mac(Ipv4Addr::new(224, 129, 2, 3)),
        [0x01, 0x00, 0x5e, 0x01, 0x02, 0x03]
    );
    assert_eq!(
        multicast_mac(Ipv4Addr::new(239, 255, 255, 250)),
        [0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa]
    );
    assert_eq!(
        multicast_mac(Ipv4Addr::new(239, 198, 18, 1)),
        [0x01, 0x00, 0x5e, 0x46, 0x12, 0x01]
    );
}

fn classifier() -> Classifier {
    Classifier::new(
        &[
            "239.1.1.1:26400".parse().unwrap(),
            "10.0.0.2:26402".parse().unwrap(),
        ],
        FLOE_MAC,
        FLOE_IP,
    )
    .unwrap()
}

#[test]
fn classifier_decisions() {
    let c = classifier();
    let frame = section_7_frame();
    assert_eq!(
        c.classify(&frame),
        Class::MarketData {
            group: 0,
            payload: 42..100
        }
    );
    // Ethernet padding after the datagram is excluded from the payload.
    let mut padded = frame.clone();
    padded.extend_from_slice(&[0; 8]);
    assert_eq!(
        c.classify(&padded),
        Class::MarketData {
            group: 0,
            payload: 42..100
        }
    );

    // The §7 ARP request goes to the stack, and smoltcp's view reads it.
    let mut arp = hex(
        "ffffffffffff 020000000001 0806 0001 0800 06 04 0001 020000000001 0a000009 000000000000 0a000002",
    );
    arp.resize(60, 0);
    assert_eq!(c.classify(&arp), Class::Stack);
    let eth = EthernetFrame::new_checked(&arp[..]).unwrap();
    let req = ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
    match req {
        ArpRepr::EthernetIpv4 {
            operation,
            source_protocol_addr,
            target_protocol_addr,
            ..
        } => {
            assert_eq!(operation, ArpOperation::Request);
            assert_eq!(source_protocol_addr, Ipv4Addr::new(10, 0, 0, 9));
            assert_eq!(target_protocol_addr, Ipv4Addr::new(10, 0, 0, 2));
        }
        other => panic!("unexpected {other:?}"),
    }

    // Unicast market data (re-request replies) to floe's MAC and IP.
    let uni = UdpFrame::new(
        PUBLISHER_MAC,
        FLOE_MAC,
        "10.0.0.1:26401".parse().unwrap(),
        "10.0.0.2:26402".parse().unwrap(),
    );
    let mut out = [0u8; 200];
    let n = uni.emit(&frame[42..], &mut out).unwrap();
    assert_eq!(
        c.classify(&out[..n]),
        Class::MarketData {
            group: 1,
            payload: 42..100
        }
    );

    // UDP to another port or address: the stack's.
    let other = UdpFrame {
        dst: "10.0.0.2:9999".parse().unwrap(),
        ..uni
    };
    let n = other.emit(b"x", &mut out).unwrap();
    assert_eq!(c.classify(&out[..n]), Class::Stack);
    let other = UdpFrame {
        dst: "239.1.1.2:26400".parse().unwrap(),
        ..section_7_spec()
    };
    let n = other.emit(b"x", &mut out).unwrap();
    assert_eq!(c.classify(&out[..n]), Class::Stack);

    // TCP, IGMP, fragments: the stack's.
    for (off, val) in [(23usize, 6u8), (23, 2), (20, 0x20), (21, 0x10)] {
        let mut f = frame.clone();
        f[off] = val;
        assert_eq!(c.classify(&f), Class::Stack, "byte {off} = {val:#x}");
    }
    // VLAN-tagged and IPv6 frames: the stack's (it drops what it cannot use).
    for et in [[0x81, 0x00], [0x86, 0xdd]] {
        let mut f = frame.clone();
        f[12..14].copy_from_slice(&et);
        assert_eq!(c.classify(&f), Class::Stack);
    }

    // A group's datagram to a MAC that is neither the group's nor floe's.
    let mut f = frame.clone();
    f[0..6].copy_from_slice(&[0x01, 0x00, 0x5e, 0x01, 0x01, 0x02]);
    assert_eq!(c.classify(&f), Class::Drop);
    // ... but floe's own MAC is fine.
    f[0..6].copy_from_slice(&FLOE_MAC);
    assert!(matches!(c.classify(&f), Class::MarketData { group: 0, .. }));

    // Malformed: truncated Ethernet, IPv4 or UDP; bad version; bad IPv4 checksum.
    assert_eq!(c.classify(&frame[..13]), Class::Drop);
    assert_eq!(c.classify(&frame[..33]), Class::Drop);
    assert_eq!(c.classify(&frame[..99]), Class::Drop);
    let mut f = frame.clone();
    f[14] = 0x65;
    assert_eq!(c.classify(&f), Class::Drop);
    let mut f = frame.clone();
    f[38] = 0x01; // UDP length past the datagram
    assert_eq!(c.classify(&f), Class::Drop);
    let mut f = frame.clone();
    f[25] ^= 0xff;
    assert_eq!(c.classify(&f), Class::Drop);
    let relaxed = classifier().with_checksums(ChecksumCheck::None);
    assert!(matches!(relaxed.classify(&f), Class::MarketData { .. }));

    // A bad UDP checksum is caught only when asked for.
    let mut f = frame.clone();
    f[60] ^= 1;
    assert!(matches!(c.classify(&f), Class::MarketData { .. }));
    let strict = classifier().with_checksums(ChecksumCheck::Ipv4AndUdp);
    assert_eq!(strict.classify(&f), Class::Drop);
    assert!(matches!(strict.classify(&frame), Class::MarketData { .. }));
}

#[test]
fn ip_options_are_skipped() {
    // IHL 6 with a Router Alert option: rebuild the §7 datagram by hand.
    let frame = section_7_frame();
    let mut f = frame[..14].to_vec();
    let mut ip = frame[14..34].to_vec();
    ip[0] = 0x46;
    ip[2..4].copy_from_slice(&(0x56u16 + 4).to_be_bytes());
    ip.extend_from_slice(&[0x94, 0x04, 0x00, 0x00]);
    ip[10] = 0;
    ip[11] = 0;
    let mut p = Ipv4Packet::new_unchecked(&mut ip[..]);
    p.fill_checksum();
    f.extend_from_slice(&ip);
    f.extend_from_slice(&frame[34..]);
    let c = classifier().with_checksums(ChecksumCheck::Ipv4AndUdp);
    assert_eq!(
        c.classify(&f),
        Class::MarketData {
            group: 0,
            payload: 46..104
        }
    );
    let d = parse_udp_frame(&f).unwrap();
    assert_eq!(d.payload_offset, 46);
    assert_eq!(d.payload, &frame[42..]);
}

#[test]
fn classifier_from_config() {
    let cfg = Config::default();
    let c = Classifier::from_config(&cfg).unwrap();
    assert_eq!(
        c.groups(),
        &["239.198.18.1:26400".parse::<SocketAddrV4>().unwrap()]
    );
    let bad = Classifier::new(&["10.9.9.9:1".parse().unwrap()], FLOE_MAC, FLOE_IP);
    assert!(matches!(bad, Err(ClassifierError::NotOurs(_))));
}

fn addr() -> impl Strategy<Value = SocketAddrV4> {
    (any::<u32>(), any::<u16>()).prop_map(|(ip, port)| SocketAddrV4::new(Ipv4Addr::from(ip), port))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn udp_frame_round_trip(
        src_mac in any::<[u8; 6]>(),
        dst_mac in any::<[u8; 6]>(),
        src in addr(),
        dst in addr(),
        ttl in any::<u8>(),
        ident in any::<u16>(),
        dont_fragment in any::<bool>(),
        udp_checksum in any::<bool>(),
        payload in prop::collection::vec(any::<u8>(), 0..1472),
    ) {
        let spec = UdpFrame { src_mac, dst_mac, src, dst, ttl, ident, dont_fragment, udp_checksum };
        let mut out = [0u8; 1514];
        let n = spec.emit(&payload, &mut out).unwrap();
        prop_assert_eq!(n, (42 + payload.len()).max(60));
        let d = parse_udp_frame(&out[..n]).unwrap();
        prop_assert_eq!(d.src_mac, src_mac);
        prop_assert_eq!(d.dst_mac, dst_mac);
        prop_assert_eq!(d.src, src);
        prop_assert_eq!(d.dst, dst);
        prop_assert_eq!(d.ttl, ttl);
        prop_assert_eq!(d.ident, ident);
        prop_assert_eq!(d.payload, &payload[..]);
        // No single-bit flip anywhere in the frame goes unnoticed: it fails a
        // check or changes a parsed field (a flip of the UDP checksum to 0,
        // "not computed", is the one legitimate exception).
        let flip = (ident as usize) % (42 + payload.len());
        let mut bad = out;
        bad[flip] ^= 0x01;
        let checksum_now_zero = bad[40] == 0 && bad[41] == 0;
        if !checksum_now_zero {
            prop_assert_ne!(parse_udp_frame(&bad[..n]), Ok(d), "flip at {}", flip);
        }
        // A group classifier recognises it exactly when it is a group frame.
        if dst.ip().is_multicast() {
            let c = Classifier::new(&[dst], FLOE_MAC, FLOE_IP).unwrap()
                .with_checksums(ChecksumCheck::Ipv4AndUdp);
            let expect = if dst_mac == multicast_mac(*dst.ip()) || dst_mac == FLOE_MAC {
                Class::MarketData { group: 0, payload: 42..42 + payload.len() }
            } else {
                Class::Drop
            };
            prop_assert_eq!(c.classify(&out[..n]), expect);
        }
    }

    #[test]
    fn arbitrary_frames_never_panic(mut b in prop::collection::vec(any::<u8>(), 0..200), ipv4 in any::<bool>()) {
        if ipv4 && b.len() >= 14 {
            b[12] = 0x08;
            b[13] = 0x00;
        }
        let c = Classifier::new(&["239.1.1.1:26400".parse().unwrap()], FLOE_MAC, FLOE_IP)
            .unwrap()
            .with_checksums(ChecksumCheck::Ipv4AndUdp);
        let class = c.classify(&b);
        let parsed = parse_udp_frame(&b);
        if let Class::MarketData { payload, .. } = &class {
            // Whatever the classifier accepts, the checked parser accepts too.
            let d = parsed.unwrap();
            prop_assert_eq!(d.payload, &b[payload.clone()]);
        }
    }

    #[test]
    fn corrupted_golden_frames_never_panic(pos in 0usize..100, val in any::<u8>(), cut in 0usize..101) {
        let mut f = section_7_frame();
        f[pos] = val;
        f.truncate(cut);
        let c = classifier().with_checksums(ChecksumCheck::Ipv4AndUdp);
        if let Class::MarketData { payload, .. } = c.classify(&f) {
            let d = parse_udp_frame(&f).unwrap();
            prop_assert_eq!(d.payload, &f[payload]);
        }
        let _ = parse_udp_frame(&f);
    }
}
