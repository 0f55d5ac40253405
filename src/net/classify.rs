//! The per-frame classifier: is a received frame market data for a configured
//! MoldUDP64 group, something for the smoltcp interface, or garbage?
//!
//! It reads a handful of fixed fields through smoltcp's zero-copy views, costs
//! a few dozen instructions, never allocates and never panics on any bytes.

use core::net::{Ipv4Addr, SocketAddrV4};
use core::ops::Range;

use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, UdpPacket};

use super::frame::{multicast_mac, ETHERNET_HEADER_LEN, UDP_HEADER_LEN};
use crate::config::{parse_cidr, parse_mac, Config, ConfigError};

/// What to do with a received frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Class {
    /// IPv4/UDP to a configured group `ip:port` (index into the classifier's
    /// groups); `payload` is the UDP payload's byte range in the frame.
    MarketData {
        /// Index of the group in [`Classifier::groups`].
        group: usize,
        /// The MoldUDP64 packet's range in the frame.
        payload: Range<usize>,
    },
    /// For the smoltcp interface: ARP, IGMP, TCP, ICMP, IPv4 fragments, UDP to
    /// other ports, non-IPv4 EtherTypes (smoltcp drops what it cannot use).
    Stack,
    /// Malformed (truncated, inconsistent lengths, a bad IPv4 header checksum
    /// when checked) or market data to the wrong MAC: count and drop.
    Drop,
}

/// Which checksums [`Classifier::classify`] verifies on market-data frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChecksumCheck {
    /// None (the NIC verified them, or the Ethernet FCS is trusted).
    None,
    /// The IPv4 header checksum (20 bytes: a few instructions). The default.
    #[default]
    Ipv4Header,
    /// The IPv4 header and the UDP checksum over the whole datagram (0 =
    /// not computed is accepted); costs about one instruction per payload byte.
    Ipv4AndUdp,
}

/// Why a classifier could not be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClassifierError {
    /// A group is neither multicast nor floe's own unicast address, so no
    /// frame to it would ever reach floe.
    #[error("group {0} is neither an IPv4 multicast address nor floe's own address")]
    NotOurs(SocketAddrV4),
}

#[derive(Clone, Copy, Debug)]
struct Group {
    ip: Ipv4Addr,
    port: u16,
    mac: [u8; 6],
}

/// Sorts received frames into market data, stack traffic and garbage.
///
/// Built once at start-up from the configured `feed.groups` and floe's MAC
/// and IP; [`classify`](Self::classify) then runs per frame.
#[derive(Clone, Debug)]
pub struct Classifier {
    groups: Box<[Group]>,
    addrs: Box<[SocketAddrV4]>,
    own_mac: [u8; 6],
    checksums: ChecksumCheck,
}

impl Classifier {
    /// A classifier for `groups` (multicast groups, or `own_ip` for unicast
    /// market data such as re-request replies), floe's MAC `own_mac` and IP
    /// `own_ip`. A market-data frame must be addressed to the group's
    /// multicast MAC or to `own_mac`.
    pub fn new(
        groups: &[SocketAddrV4],
        own_mac: [u8; 6],
        own_ip: Ipv4Addr,
    ) -> Result<Classifier, ClassifierError> {
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let mac = if g.ip().is_multicast() {
                multicast_mac(*g.ip())
            } else if *g.ip() == own_ip {
                own_mac
            } else {
                return Err(ClassifierError::NotOurs(*g));
            };
            out.push(Group {
                ip: *g.ip(),
                port: g.port(),
                mac,
            });
        }
        Ok(Classifier {
            groups: out.into_boxed_slice(),
            addrs: groups.into(),
            own_mac,
            checksums: ChecksumCheck::default(),
        })
    }

    /// The classifier of a validated configuration: `feed.groups`, `net.mac`
    /// and `net.ip`.
    pub fn from_config(cfg: &Config) -> Result<Classifier, ConfigError> {
        let invalid = |key: &'static str, reason: String| ConfigError::Invalid { key, reason };
        let mac = parse_mac(&cfg.net.mac)
            .ok_or_else(|| invalid("net.mac", format!("not a MAC: {}", cfg.net.mac)))?;
        let (ip, _) = parse_cidr(&cfg.net.ip)
            .ok_or_else(|| invalid("net.ip", format!("not a.b.c.d/prefix: {}", cfg.net.ip)))?;
        let mut groups = Vec::with_capacity(cfg.feed.groups.len());
        for g in &cfg.feed.groups {
            groups.push(
                g.parse::<SocketAddrV4>()
                    .map_err(|_| invalid("feed.groups", format!("expected ip:port, got {g}")))?,
            );
        }
        Classifier::new(&groups, mac, ip).map_err(|e| invalid("feed.groups", e.to_string()))
    }

    /// Chooses which checksums [`classify`](Self::classify) verifies.
    pub fn with_checksums(mut self, check: ChecksumCheck) -> Self {
        self.checksums = check;
        self
    }

    /// The configured groups, in the order [`Class::MarketData`]'s `group`
    /// indexes.
    pub fn groups(&self) -> &[SocketAddrV4] {
        &self.addrs
    }

    /// Classifies one received Ethernet frame (FCS removed). Never panics.
    ///
    /// Market data is an unfragmented IPv4/UDP datagram (IPv4 options are
    /// skipped) to a configured group `ip:port`, addressed to the group's MAC
    /// or floe's, with consistent lengths (and checksums as configured).
    #[inline]
    pub fn classify(&self, frame: &[u8]) -> Class {
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return Class::Drop;
        };
        if eth.ethertype() != EthernetProtocol::Ipv4 {
            return Class::Stack;
        }
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            return Class::Drop;
        };
        if ip.version() != 4 {
            return Class::Drop;
        }
        if ip.more_frags() || ip.frag_offset() != 0 || ip.next_header() != IpProtocol::Udp {
            return Class::Stack;
        }
        let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
            return Class::Drop;
        };
        let (dst_ip, dst_port) = (ip.dst_addr(), udp.dst_port());
        let Some((group, g)) = self
            .groups
            .iter()
            .enumerate()
            .find(|(_, g)| g.port == dst_port && g.ip == dst_ip)
        else {
            return Class::Stack;
        };
        let dst_mac = eth.dst_addr().0;
        if dst_mac != g.mac && dst_mac != self.own_mac {
            return Class::Drop;
        }
        let checked = match self.checksums {
            ChecksumCheck::None => true,
            ChecksumCheck::Ipv4Header => ip.verify_checksum(),
            ChecksumCheck::Ipv4AndUdp => {
                ip.verify_checksum() && udp.verify_checksum(&ip.src_addr().into(), &dst_ip.into())
            }
        };
        if !checked {
            return Class::Drop;
        }
        let start = ETHERNET_HEADER_LEN + ip.header_len() as usize + UDP_HEADER_LEN;
        let end = start + (udp.len() as usize - UDP_HEADER_LEN);
        Class::MarketData {
            group,
            payload: start..end,
        }
    }
}
