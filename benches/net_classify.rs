//! Cost of classifying one received frame (`net::Classifier::classify`) on a
//! mix of market-data frames (MoldUDP64 to a configured group) and stack
//! traffic (ARP, TCP, UDP to other ports), for each checksum policy.
//!
//! `cargo bench --bench net_classify` measures frames/s under criterion. With
//! `FLOE_CLASSIFY_ONLY=none|ipv4|udp` the binary runs one pass of
//! `classify_all` instead, for `scripts/bench-instructions` (callgrind).

use std::hint::black_box;
use std::net::SocketAddrV4;

use criterion::{Criterion, Throughput};
use floe::net::{multicast_mac, ChecksumCheck, Class, Classifier, UdpFrame};
use floe::wire::moldudp64::PacketBuilder;

const FRAMES: usize = 4096;
const ROUNDS: usize = 64;
const FLOE_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// A mix of 4096 frames: 3 in 4 market data (packets of 1..=20 ITCH-sized
/// blocks), the rest ARP, TCP and UDP to another port.
fn frames() -> Vec<Vec<u8>> {
    let group: SocketAddrV4 = "239.1.1.1:26400".parse().unwrap();
    let md = UdpFrame::new(
        [2, 0, 0, 0, 0, 1],
        multicast_mac(*group.ip()),
        "10.0.0.9:30001".parse().unwrap(),
        group,
    );
    let other = UdpFrame {
        dst: "10.0.0.2:5353".parse().unwrap(),
        dst_mac: FLOE_MAC,
        ..md
    };
    let mut out = Vec::with_capacity(FRAMES);
    for i in 0..FRAMES {
        let mut f = vec![0u8; 1514];
        let n = match i % 8 {
            0 => {
                // ARP request, padded to 60 bytes.
                f[..12].copy_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1]);
                f[12..14].copy_from_slice(&[0x08, 0x06]);
                60
            }
            4 => {
                let n = other.emit(&[0u8; 40], &mut f).unwrap();
                if i % 16 == 4 {
                    f[23] = 6; // TCP
                }
                n
            }
            _ => md
                .emit_with(&mut f, |p| {
                    let mut b = PacketBuilder::new(p, b"SESSION001", i as u64)?;
                    for _ in 0..1 + i % 20 {
                        b.push(&[0x41; 36])?;
                    }
                    Ok(b.finish())
                })
                .unwrap(),
        };
        f.truncate(n);
        out.push(f);
    }
    out
}

fn classifier(check: ChecksumCheck) -> Classifier {
    Classifier::new(
        &["239.1.1.1:26400".parse().unwrap()],
        FLOE_MAC,
        "10.0.0.2".parse().unwrap(),
    )
    .unwrap()
    .with_checksums(check)
}

/// Classifies every frame once; returns how many were market data.
#[inline(never)]
fn classify_all(c: &Classifier, frames: &[Vec<u8>]) -> usize {
    let mut md = 0;
    for f in frames {
        if let Class::MarketData { payload, .. } = black_box(c.classify(f)) {
            md += payload.len().min(1);
        }
    }
    md
}

fn main() {
    let frames = frames();
    let policies = [
        ("none", ChecksumCheck::None),
        ("ipv4", ChecksumCheck::Ipv4Header),
        ("udp", ChecksumCheck::Ipv4AndUdp),
    ];
    if let Ok(which) = std::env::var("FLOE_CLASSIFY_ONLY") {
        let (_, p) = policies
            .iter()
            .find(|(n, _)| *n == which)
            .expect("FLOE_CLASSIFY_ONLY must be none, ipv4 or udp");
        let c = classifier(*p);
        let mut md = 0;
        for _ in 0..ROUNDS {
            md += classify_all(&c, black_box(&frames));
        }
        assert_eq!(md, ROUNDS * FRAMES / 8 * 6);
        println!(
            "classify {which}: {} frames, {md} market data",
            FRAMES * ROUNDS
        );
        return;
    }
    for (_, p) in policies {
        assert_eq!(classify_all(&classifier(p), &frames), FRAMES / 8 * 6);
    }
    if !std::env::args().any(|a| a == "--bench") {
        println!("net_classify: classifier checks passed (run `cargo bench` to measure)");
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("net_classify");
    g.throughput(Throughput::Elements(FRAMES as u64));
    for (name, p) in policies {
        let cl = classifier(p);
        g.bench_function(name, |b| b.iter(|| classify_all(&cl, black_box(&frames))));
    }
    g.finish();
    c.final_summary();
}
