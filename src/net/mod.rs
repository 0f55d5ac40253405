//! Network layer: the frame classifier, the market-data fast path and the
//! smoltcp interface that owns floe's IP and MAC.
//!
//! Ethernet II, ARP, IPv4, UDP and IGMPv2 are smoltcp's zero-copy `wire`
//! views, re-exported here. floe adds:
//! - [`UdpFrame`] / [`parse_udp_frame`]: a whole Ethernet + IPv4 + UDP frame
//!   carrying a MoldUDP64 packet, built into a caller's buffer with correct
//!   IPv4 and UDP checksums (payload written in place if wanted), and parsed
//!   back with both checksums verified;
//! - [`multicast_mac`]: the IPv4 multicast group → Ethernet MAC mapping;
//! - [`Classifier`]: per received frame, market data for a configured group,
//!   traffic for the smoltcp interface, or a malformed frame to drop;
//! - [`NetStack`]: the smoltcp interface that owns floe's IP and MAC on a
//!   [`Nic`](crate::nic::Nic) (ARP, IGMP, the order TCP connection, the
//!   re-request UDP socket) with market data bypassing it, over the
//!   [`device`] adapter.
//!
//! Guarantees: nothing here allocates after construction or panics on any
//! frame bytes.

mod classify;
pub mod device;
mod frame;
pub mod stack;

pub use classify::{ChecksumCheck, Class, Classifier, ClassifierError};
pub use device::{DeviceCounters, NicDevice, StackRing};
pub use frame::{
    multicast_mac, parse_udp_frame, UdpDatagram, UdpFrame, ETHERNET_HEADER_LEN, IPV4_HEADER_LEN,
    MAX_UDP_PAYLOAD, MIN_FRAME_LEN, UDP_HEADER_LEN, UDP_PAYLOAD_OFFSET,
};
pub use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IgmpPacket, IgmpRepr, IpProtocol, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};
pub use stack::{LinkEvent, LinkState, NetCounters, NetStack, SendError};
