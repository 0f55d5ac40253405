//! Ethernet II + IPv4 + UDP frames carrying MoldUDP64 (PROTOCOLS.md §6), built
//! and parsed with smoltcp's zero-copy `wire` views.
//!
//! Building writes into a caller's buffer, fills the IPv4 header checksum and
//! the UDP checksum (pseudo-header included) and pads to the 60-byte Ethernet
//! minimum; [`UdpFrame::emit_with`] lets the payload (a MoldUDP64 packet) be
//! written in place. Parsing verifies both checksums. Neither allocates nor
//! panics on any input.

use core::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, IpAddress, IpProtocol, Ipv4Packet, UdpPacket,
};

use crate::wire::{Error, Result};

/// Bytes of the Ethernet II header (no VLAN tag).
pub const ETHERNET_HEADER_LEN: usize = 14;
/// Bytes of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// Bytes of the UDP header.
pub const UDP_HEADER_LEN: usize = 8;
/// Offset of the UDP payload in a frame built here (no VLAN, no IP options).
pub const UDP_PAYLOAD_OFFSET: usize = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + UDP_HEADER_LEN;
/// The shortest Ethernet frame without its FCS; shorter frames are zero-padded.
pub const MIN_FRAME_LEN: usize = 60;
/// The largest UDP payload an IPv4 datagram can carry.
pub const MAX_UDP_PAYLOAD: usize = u16::MAX as usize - IPV4_HEADER_LEN - UDP_HEADER_LEN;

/// The addressing and header fields of an Ethernet + IPv4 + UDP frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UdpFrame {
    /// Source MAC (floe's, or the publisher's).
    pub src_mac: [u8; 6],
    /// Destination MAC: the group's [`multicast_mac`](super::multicast_mac)
    /// for multicast, the next hop's for unicast.
    pub dst_mac: [u8; 6],
    /// Source IPv4 address and UDP port.
    pub src: SocketAddrV4,
    /// Destination IPv4 address and UDP port.
    pub dst: SocketAddrV4,
    /// IPv4 time to live (multicast publishers often send 1).
    pub ttl: u8,
    /// IPv4 identification.
    pub ident: u16,
    /// IPv4 don't-fragment flag.
    pub dont_fragment: bool,
    /// Compute the UDP checksum (`true`), or send 0 = "not computed"
    /// (allowed on IPv4).
    pub udp_checksum: bool,
}

impl UdpFrame {
    /// A frame from `src` to `dst` with TTL 1, ident 0, DF set and the UDP
    /// checksum computed.
    pub fn new(src_mac: [u8; 6], dst_mac: [u8; 6], src: SocketAddrV4, dst: SocketAddrV4) -> Self {
        UdpFrame {
            src_mac,
            dst_mac,
            src,
            dst,
            ttl: 1,
            ident: 0,
            dont_fragment: true,
            udp_checksum: true,
        }
    }

    /// Writes the whole frame carrying `payload` into `out`; returns the frame
    /// length (at least [`MIN_FRAME_LEN`]).
    pub fn emit(&self, payload: &[u8], out: &mut [u8]) -> Result<usize> {
        self.emit_with(out, |buf| {
            let dst = buf.get_mut(..payload.len()).ok_or(Error::BufferTooSmall {
                need: UDP_PAYLOAD_OFFSET + payload.len(),
            })?;
            dst.copy_from_slice(payload);
            Ok(payload.len())
        })
    }

    /// Writes the frame with the payload filled in place: `fill` gets the
    /// buffer after the UDP header (at most [`MAX_UDP_PAYLOAD`] bytes), writes
    /// the payload at its start and returns its length; then the headers and
    /// checksums are written around it. Returns the frame length (payloads
    /// under 18 bytes are zero-padded to [`MIN_FRAME_LEN`]).
    pub fn emit_with<F>(&self, out: &mut [u8], fill: F) -> Result<usize>
    where
        F: FnOnce(&mut [u8]) -> Result<usize>,
    {
        if out.len() < MIN_FRAME_LEN {
            return Err(Error::BufferTooSmall {
                need: MIN_FRAME_LEN,
            });
        }
        let room = out.get_mut(UDP_PAYLOAD_OFFSET..).unwrap_or_default();
        let room_len = room.len().min(MAX_UDP_PAYLOAD);
        let payload_len = fill(&mut room[..room_len])?;
        if payload_len > room_len {
            return Err(Error::OutOfRange("UDP payload length"));
        }
        let end = UDP_PAYLOAD_OFFSET + payload_len;
        let frame_len = end.max(MIN_FRAME_LEN);
        let Some(frame) = out.get_mut(..frame_len) else {
            return Err(Error::BufferTooSmall { need: frame_len });
        };
        frame[end..].fill(0);
        self.write_headers(frame, payload_len);
        Ok(frame_len)
    }

    /// Writes the three headers in front of a payload already in place.
    fn write_headers(&self, frame: &mut [u8], payload_len: usize) {
        let udp_len = (UDP_HEADER_LEN + payload_len) as u16;
        let ip_len = IPV4_HEADER_LEN as u16 + udp_len;

        let mut eth = EthernetFrame::new_unchecked(&mut *frame);
        eth.set_dst_addr(EthernetAddress(self.dst_mac));
        eth.set_src_addr(EthernetAddress(self.src_mac));
        eth.set_ethertype(EthernetProtocol::Ipv4);

        let ip_bytes = &mut frame[ETHERNET_HEADER_LEN..ETHERNET_HEADER_LEN + ip_len as usize];
        let mut ip = Ipv4Packet::new_unchecked(ip_bytes);
        ip.set_version(4);
        ip.set_header_len(IPV4_HEADER_LEN as u8);
        ip.set_dscp(0);
        ip.set_ecn(0);
        ip.set_total_len(ip_len);
        ip.set_ident(self.ident);
        ip.clear_flags();
        ip.set_dont_frag(self.dont_fragment);
        ip.set_frag_offset(0);
        ip.set_hop_limit(self.ttl);
        ip.set_next_header(IpProtocol::Udp);
        ip.set_src_addr(*self.src.ip());
        ip.set_dst_addr(*self.dst.ip());
        ip.fill_checksum();

        let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
        udp.set_src_port(self.src.port());
        udp.set_dst_port(self.dst.port());
        udp.set_len(udp_len);
        if self.udp_checksum {
            udp.fill_checksum(
                &IpAddress::Ipv4(*self.src.ip()),
                &IpAddress::Ipv4(*self.dst.ip()),
            );
        } else {
            udp.set_checksum(0);
        }
    }
}

/// A received Ethernet + IPv4 + UDP frame, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpDatagram<'a> {
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// IPv4 time to live.
    pub ttl: u8,
    /// IPv4 identification.
    pub ident: u16,
    /// The UDP payload (e.g. a MoldUDP64 packet).
    pub payload: &'a [u8],
    /// Offset of `payload` in the frame.
    pub payload_offset: usize,
}

/// Parses an Ethernet II + IPv4 + UDP frame and verifies its checksums.
///
/// Errors: shorter than an Ethernet header → [`Error::Truncated`]; not IPv4
/// (`value` is the first EtherType byte), not version 4, a fragment, not UDP →
/// [`Error::BadValue`]; IPv4 or UDP lengths inconsistent with the frame →
/// [`Error::BadLength`]; a wrong IPv4 header checksum or a wrong non-zero UDP
/// checksum → [`Error::BadChecksum`] (UDP checksum 0 means "not computed" and
/// is accepted). IPv4 options are skipped; Ethernet padding after the IPv4
/// total length is ignored.
pub fn parse_udp_frame(frame: &[u8]) -> Result<UdpDatagram<'_>> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| Error::Truncated {
        len: frame.len(),
        need: ETHERNET_HEADER_LEN,
    })?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return Err(Error::BadValue {
            field: "ethertype (not IPv4)",
            value: frame[12],
        });
    }
    let ip = Ipv4Packet::new_checked(eth.payload())
        .map_err(|_| Error::BadLength("IPv4 header or total length"))?;
    if ip.version() != 4 {
        return Err(Error::BadValue {
            field: "IP version",
            value: ip.version(),
        });
    }
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Err(Error::BadValue {
            field: "IPv4 fragment",
            value: (ip.frag_offset() >> 8) as u8 | if ip.more_frags() { 0x20 } else { 0 },
        });
    }
    if ip.next_header() != IpProtocol::Udp {
        return Err(Error::BadValue {
            field: "IP protocol (not UDP)",
            value: ip.next_header().into(),
        });
    }
    if !ip.verify_checksum() {
        return Err(Error::BadChecksum("IPv4 header"));
    }
    let (src_ip, dst_ip) = (ip.src_addr(), ip.dst_addr());
    let udp = UdpPacket::new_checked(ip.payload()).map_err(|_| Error::BadLength("UDP length"))?;
    if !udp.verify_checksum(&IpAddress::Ipv4(src_ip), &IpAddress::Ipv4(dst_ip)) {
        return Err(Error::BadChecksum("UDP"));
    }
    let payload_offset = ETHERNET_HEADER_LEN + ip.header_len() as usize + UDP_HEADER_LEN;
    Ok(UdpDatagram {
        src_mac: eth.src_addr().0,
        dst_mac: eth.dst_addr().0,
        src: SocketAddrV4::new(src_ip, udp.src_port()),
        dst: SocketAddrV4::new(dst_ip, udp.dst_port()),
        ttl: ip.hop_limit(),
        ident: ip.ident(),
        payload: udp.payload(),
        payload_offset,
    })
}

/// The Ethernet MAC of an IPv4 multicast group (RFC 1112 §6.4):
/// `01:00:5e` followed by the low 23 bits of the address, so 239.1.1.1 →
/// `01:00:5e:01:01:01`. 32 groups share each MAC: filter on the IP too.
pub const fn multicast_mac(group: Ipv4Addr) -> [u8; 6] {
    let o = group.octets();
    [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
}
