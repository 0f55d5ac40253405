//! Helpers shared by the integration tests: ITCH generators, pcap and tshark
//! helpers, and (for the NIC tests) frames built and checked with smoltcp's
//! `wire` reprs, test payloads, bounded waits.
#![allow(dead_code)]

pub mod itch_gen;
pub mod pcap;
pub mod tshark;

use floe::nic::veth::{self, HostOptions, TestHosts};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol,
    Ipv4Address, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};
use std::time::{Duration, Instant};

/// Length of an Ethernet + IPv4 + UDP header.
pub const HDRS: usize = 14 + 20 + 8;

/// Test hosts with a unique name, or `None` (with the reason printed) when
/// not root.
pub fn hosts(prefix: &str, opts: HostOptions) -> Option<TestHosts> {
    if !veth::is_root() {
        eprintln!("skipped: needs root (network namespaces, AF_PACKET)");
        return None;
    }
    Some(TestHosts::unique(prefix, opts).expect("create test hosts"))
}

/// The payload of datagram `seq`: its number, then a pattern; 16..=1016 bytes.
pub fn payload(seq: u32) -> Vec<u8> {
    let len = 16 + (seq as usize * 37) % 1001;
    let mut p = Vec::with_capacity(len);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend((4..len).map(|i| (i as u32).wrapping_mul(7).wrapping_add(seq) as u8));
    p
}

/// The sequence number of a payload made by [`payload`], if it is one.
pub fn payload_seq(p: &[u8]) -> Option<u32> {
    let seq = u32::from_be_bytes(p.get(..4)?.try_into().ok()?);
    (payload(seq) == p).then_some(seq)
}

/// Writes an Ethernet/IPv4/UDP frame with correct checksums into `buf` and
/// returns its length (0 if `buf` is too small).
#[allow(clippy::too_many_arguments)]
pub fn build_udp(
    buf: &mut [u8],
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    data: &[u8],
) -> usize {
    let len = HDRS + data.len();
    let Some(buf) = buf.get_mut(..len) else {
        return 0;
    };
    let caps = ChecksumCapabilities::default();
    let src_ip = Ipv4Address::from(src.0);
    let dst_ip = Ipv4Address::from(dst.0);
    let mut frame = EthernetFrame::new_unchecked(&mut *buf);
    EthernetRepr {
        src_addr: EthernetAddress(src_mac),
        dst_addr: EthernetAddress(dst_mac),
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut frame);
    let mut ip = Ipv4Packet::new_unchecked(frame.payload_mut());
    Ipv4Repr {
        src_addr: src_ip,
        dst_addr: dst_ip,
        next_header: IpProtocol::Udp,
        payload_len: 8 + data.len(),
        hop_limit: 64,
    }
    .emit(&mut ip, &caps);
    let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
    UdpRepr {
        src_port: src.1,
        dst_port: dst.1,
    }
    .emit(
        &mut udp,
        &IpAddress::Ipv4(src_ip),
        &IpAddress::Ipv4(dst_ip),
        data.len(),
        |b| b.copy_from_slice(data),
        &caps,
    );
    len
}

/// A received UDP datagram, checked.
pub struct Udp<'a> {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src: ([u8; 4], u16),
    pub dst: ([u8; 4], u16),
    pub data: &'a [u8],
}

/// Parses an Ethernet/IPv4/UDP frame; `None` for anything else. Panics on
/// a UDP frame with a wrong IPv4 or UDP checksum (the peer is a kernel with
/// offloads off: bad checksums are a bug).
pub fn parse_udp(f: &[u8]) -> Option<Udp<'_>> {
    let eth = EthernetFrame::new_checked(f).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Udp {
        return None;
    }
    assert!(ip.verify_checksum(), "bad IPv4 checksum");
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    let (s, d) = (ip.src_addr(), ip.dst_addr());
    assert!(
        udp.verify_checksum(&IpAddress::Ipv4(s), &IpAddress::Ipv4(d)),
        "bad UDP checksum"
    );
    let data_len = udp.len() as usize - 8;
    let hdr = 14 + ip.header_len() as usize + 8;
    Some(Udp {
        src_mac: eth.src_addr().0,
        dst_mac: eth.dst_addr().0,
        src: (s.octets(), udp.src_port()),
        dst: (d.octets(), udp.dst_port()),
        data: f.get(hdr..hdr + data_len)?,
    })
}

/// A deadline `secs` from now.
pub fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}
