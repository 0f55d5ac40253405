//! [`NetStack`]: floe's own IP and MAC on a [`Nic`], as a smoltcp 0.14
//! [`Interface`] with exactly two sockets, and the market-data bypass.
//!
//! Per received frame the [`Classifier`] decides: market data for a
//! configured group goes straight to the caller's callback, zero-copy, from
//! the NIC's buffer; everything else (ARP, IGMP, the order-entry TCP
//! connection, re-request replies) is copied into a small [`StackRing`] that
//! the interface then consumes. The interface
//! - answers ARP for floe's address and resolves the venue by ARP; static
//!   neighbour entries (`net.neighbors`) are seeded without asking (smoltcp
//!   0.14 has no public call to fill its neighbour cache, so each entry is fed
//!   to it as an ARP reply from that neighbour, addressed to floe, at start,
//!   after every ARP frame received and every [`NEIGHBOR_REFRESH`] —
//!   well inside smoltcp's 60 s entry lifetime; the interface never sends a
//!   request for them);
//! - joins every multicast group of `feed.groups` (an IGMPv2 membership
//!   report on the first poll) and answers IGMP queries;
//! - runs the SoupBinTCP client socket to `order.venue` from
//!   `order.local_port` (Nagle off, smoltcp's default ACK delay kept,
//!   keep-alive after half of `order.dead_after_ms` idle, connection timeout
//!   `order.dead_after_ms`), reconnecting `order.reconnect_ms` after it
//!   closes, resets or fails to connect, with every change reported by
//!   [`NetStack::link_event`];
//! - runs the UDP socket on `feed.request_port` for MoldUDP64 re-requests to
//!   `feed.request_server` and their unicast replies (present only when a
//!   request server is configured).
//!
//! The order path: [`NetStack::send_with`] writes one SoupBinTCP packet in
//! place into the TCP socket's send buffer and runs smoltcp's `poll_egress`
//! at once, so an order leaves as one data frame with no delay and no
//! received frame is processed ahead of it.
//!
//! A duty cycle calls [`NetStack::poll_rx`] (NIC burst, market data to the
//! callback, stack frames into the interface), then the application's
//! [`NetStack::recv_with`] / [`NetStack::udp_recv`], any
//! [`NetStack::send_with`] / [`NetStack::udp_send`], and [`NetStack::poll`]
//! (timers: TCP retransmit and delayed ACKs, ARP, IGMP, reconnect, queued
//! UDP); [`NetStack::poll_delay`] says when `poll` has work next.
//!
//! Guarantees: after [`NetStack::new`] nothing allocates (every buffer is
//! sized once here); no frame bytes can make anything here panic; nothing
//! blocks.

use core::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, HardwareAddress, IpAddress, IpCidr, IpEndpoint,
};

use super::classify::{Class, Classifier};
use super::device::{DeviceCounters, NicDevice, StackRing};
use crate::config::{parse_cidr, parse_mac, Config, ConfigError};
use crate::nic::{Nic, MAX_FRAME_LEN};
use crate::time::Nanos;

/// Frames the stack ring holds between a NIC burst and the interface's
/// ingress (ARP, IGMP, TCP segments and re-request replies of one burst).
pub const STACK_RING_FRAMES: usize = 64;
/// Bytes of each direction of the order TCP socket's buffers.
pub const TCP_BUFFER_BYTES: usize = 64 * 1024;
/// Datagrams the request socket queues on receive.
pub const UDP_RX_PACKETS: usize = 64;
/// Payload bytes the request socket queues on receive.
pub const UDP_RX_BYTES: usize = UDP_RX_PACKETS * 1472;
/// Datagrams the request socket queues on transmit.
pub const UDP_TX_PACKETS: usize = 16;
/// Payload bytes the request socket queues on transmit.
pub const UDP_TX_BYTES: usize = UDP_TX_PACKETS * 64;
/// [`NetStack::send_with`] hands its closure at least this many bytes.
pub const SEND_MIN: usize = 512;
/// How often static neighbour entries are fed to the interface again.
pub const NEIGHBOR_REFRESH: Nanos = Nanos::from_secs(20);
/// While an IGMP query may still be unanswered, [`NetStack::poll_delay`]
/// asks for a poll at least this often (smoltcp's own deadline does not
/// include its IGMP report timers).
pub const IGMP_POLL: Nanos = Nanos::from_ms(100);
/// The longest IGMPv2 Max Response Time (25.5 s), plus a margin.
const IGMP_WINDOW: Nanos = Nanos::from_secs(26);

/// A change of the order connection, in the order they happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// The TCP connection to the venue is established: log in.
    Connected,
    /// The connection is gone (closed, reset, timed out, or
    /// [`NetStack::disconnect`]); a reconnect follows after
    /// `order.reconnect_ms`.
    Disconnected,
}

/// Where the order connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// No connection; one is attempted when the reconnect delay has passed.
    Closed,
    /// SYN sent, no answer yet.
    Connecting,
    /// Established: orders may be sent.
    Established,
    /// Shutting down (FIN exchanged or pending).
    Closing,
}

/// Why [`NetStack::send_with`] or [`NetStack::udp_send`] sent nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The order connection is not established.
    #[error("order connection not established")]
    NotConnected,
    /// The socket's send buffer cannot take the packet now.
    #[error("send buffer full")]
    BufferFull,
    /// No re-request server is configured (`feed.request_server`).
    #[error("no request server configured")]
    NoRequestServer,
}

/// Counters of the stack (the adapter's are in [`NetCounters::device`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetCounters {
    /// Market-data frames handed to the callback.
    pub market_frames: u64,
    /// Frames the classifier sent to the interface.
    pub stack_frames: u64,
    /// Malformed frames dropped by the classifier.
    pub dropped_frames: u64,
    /// Connection attempts (SYNs started).
    pub connect_attempts: u64,
    /// Connections established.
    pub connects: u64,
    /// Established connections lost.
    pub disconnects: u64,
    /// Attempts that ended without a connection (reset, timeout).
    pub connect_failures: u64,
    /// SoupBinTCP bytes queued for sending.
    pub tcp_tx_bytes: u64,
    /// Bytes handed to [`NetStack::recv_with`]'s closure.
    pub tcp_rx_bytes: u64,
    /// Sends refused because the send buffer was full.
    pub send_buffer_full: u64,
    /// Datagrams queued on the request socket.
    pub udp_tx: u64,
    /// Datagrams handed to [`NetStack::udp_recv`]'s closure.
    pub udp_rx: u64,
    /// Static neighbour entries fed to the interface.
    pub neighbor_seeds: u64,
    /// The device adapter's counters.
    pub device: DeviceCounters,
}

/// floe's network stack on one NIC; see the module docs.
pub struct NetStack {
    iface: Interface,
    sockets: SocketSet<'static>,
    tcp: SocketHandle,
    udp: Option<SocketHandle>,
    classifier: Classifier,
    ring: StackRing,
    scratch: Box<[u8; MAX_FRAME_LEN]>,
    send_scratch: Box<[u8; SEND_MIN]>,
    counters: NetCounters,
    mac: EthernetAddress,
    ip: Ipv4Addr,
    venue: IpEndpoint,
    local_port: u16,
    request_server: Option<IpEndpoint>,
    neighbors: Box<[(Ipv4Addr, EthernetAddress)]>,
    neighbors_due: Nanos,
    igmp_until: Nanos,
    /// Receive timestamp of the latest frame handed to the interface.
    last_stack_rx: Nanos,
    reconnect: Nanos,
    reconnect_at: Nanos,
    auto_connect: bool,
    connecting: bool,
    up: bool,
    transitions: u64,
    reported: u64,
}

fn instant(now: Nanos) -> Instant {
    Instant::from_micros(i64::try_from(now.0 / 1_000).unwrap_or(i64::MAX))
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

fn endpoint(s: &str, key: &'static str) -> Result<IpEndpoint, ConfigError> {
    let a: SocketAddrV4 = s
        .parse()
        .map_err(|_| invalid(key, format!("expected ip:port, got {s}")))?;
    Ok(IpEndpoint::new(IpAddress::Ipv4(*a.ip()), a.port()))
}

impl NetStack {
    /// Builds the interface and its two sockets from `[net]`, `[feed]` and
    /// `[order]` of `cfg`; `nic` is only asked for its capabilities here.
    /// Every buffer is allocated here. The first [`NetStack::poll`] sends
    /// the IGMP reports and the first SYN.
    pub fn new(cfg: &Config, nic: &mut dyn Nic, now: Nanos) -> Result<NetStack, ConfigError> {
        let mac = parse_mac(&cfg.net.mac).ok_or_else(|| invalid("net.mac", "not a MAC"))?;
        let (ip, prefix) =
            parse_cidr(&cfg.net.ip).ok_or_else(|| invalid("net.ip", "not a.b.c.d/prefix"))?;
        let cidr = IpCidr::new(IpAddress::Ipv4(ip), prefix);
        let classifier = Classifier::from_config(cfg)?;
        let venue = endpoint(&cfg.order.venue, "order.venue")?;
        if cfg.order.local_port == 0 {
            return Err(invalid("order.local_port", "must not be 0"));
        }
        let request_server = cfg
            .feed
            .request_server
            .as_deref()
            .map(|s| endpoint(s, "feed.request_server"))
            .transpose()?;
        if request_server.is_some() && cfg.feed.request_port == 0 {
            return Err(invalid("feed.request_port", "must not be 0"));
        }
        if request_server.is_some() && cfg.feed.request_port == cfg.order.local_port {
            return Err(invalid(
                "feed.request_port",
                "must differ from order.local_port",
            ));
        }
        let mut neighbors = Vec::with_capacity(cfg.net.neighbors.len());
        for n in &cfg.net.neighbors {
            let nip: Ipv4Addr = n.ip.parse().map_err(|_| {
                invalid("net.neighbors.ip", format!("not an IPv4 address: {}", n.ip))
            })?;
            let nmac = parse_mac(&n.mac)
                .ok_or_else(|| invalid("net.neighbors.mac", format!("not a MAC: {}", n.mac)))?;
            if !cidr.contains_addr(&IpAddress::Ipv4(nip)) || nip == ip {
                return Err(invalid(
                    "net.neighbors.ip",
                    format!("{nip} is not another address on {}", cfg.net.ip),
                ));
            }
            if !EthernetAddress(nmac).is_unicast() {
                return Err(invalid(
                    "net.neighbors.mac",
                    format!("{} is not unicast", n.mac),
                ));
            }
            neighbors.push((nip, EthernetAddress(nmac)));
        }

        let mut ring = StackRing::new(STACK_RING_FRAMES);
        let mut scratch = Box::new([0u8; MAX_FRAME_LEN]);
        let mut dev = DeviceCounters::default();
        let mut iconf = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        // TCP initial sequence numbers come from this seed; it differs per
        // start and per MAC.
        iconf.random_seed = now.0
            ^ u64::from_be_bytes([0, 0, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]])
            ^ u64::from(std::process::id()).rotate_left(40);
        let mut iface = {
            let mut device = NicDevice::new(nic, &mut ring, &mut scratch, &mut dev);
            Interface::new(iconf, &mut device, instant(now))
        };
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(cidr);
        });
        if let Some(gw) = &cfg.net.gateway {
            let gw: Ipv4Addr = gw
                .parse()
                .map_err(|_| invalid("net.gateway", format!("not an IPv4 address: {gw}")))?;
            if !cidr.contains_addr(&IpAddress::Ipv4(gw)) {
                return Err(invalid(
                    "net.gateway",
                    format!("{gw} is not on {}", cfg.net.ip),
                ));
            }
            iface
                .routes_mut()
                .add_default_ipv4_route(gw)
                .map_err(|_| invalid("net.gateway", "route table full"))?;
        }
        for g in classifier.groups() {
            if g.ip().is_multicast() {
                iface.join_multicast_group(*g.ip()).map_err(|e| {
                    invalid(
                        "feed.groups",
                        format!("cannot join {}: {e} (at most 16 groups)", g.ip()),
                    )
                })?;
            }
        }

        let mut sockets = SocketSet::new(Vec::with_capacity(2));
        let mut sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; TCP_BUFFER_BYTES]),
            tcp::SocketBuffer::new(vec![0u8; TCP_BUFFER_BYTES]),
        );
        sock.set_nagle_enabled(false);
        sock.set_keep_alive(Some(Duration::from_millis(
            (cfg.order.dead_after_ms / 2).max(1),
        )));
        sock.set_timeout(Some(Duration::from_millis(cfg.order.dead_after_ms.max(1))));
        let tcp = sockets.add(sock);
        let udp = match request_server {
            Some(_) => {
                let mut sock = udp::Socket::new(
                    udp::PacketBuffer::new(
                        vec![udp::PacketMetadata::EMPTY; UDP_RX_PACKETS],
                        vec![0u8; UDP_RX_BYTES],
                    ),
                    udp::PacketBuffer::new(
                        vec![udp::PacketMetadata::EMPTY; UDP_TX_PACKETS],
                        vec![0u8; UDP_TX_BYTES],
                    ),
                );
                sock.bind(IpEndpoint::new(IpAddress::Ipv4(ip), cfg.feed.request_port))
                    .map_err(|e| invalid("feed.request_port", e.to_string()))?;
                Some(sockets.add(sock))
            }
            None => None,
        };

        let mut stack = NetStack {
            iface,
            sockets,
            tcp,
            udp,
            classifier,
            ring,
            scratch,
            send_scratch: Box::new([0u8; SEND_MIN]),
            counters: NetCounters {
                device: dev,
                ..NetCounters::default()
            },
            mac: EthernetAddress(mac),
            ip,
            venue,
            local_port: cfg.order.local_port,
            request_server,
            neighbors: neighbors.into_boxed_slice(),
            neighbors_due: now,
            igmp_until: Nanos::ZERO,
            last_stack_rx: Nanos::ZERO,
            reconnect: Nanos::from_ms(cfg.order.reconnect_ms),
            reconnect_at: now,
            auto_connect: true,
            connecting: false,
            up: false,
            transitions: 0,
            reported: 0,
        };
        stack.seed_neighbors(now);
        Ok(stack)
    }

    /// floe's MAC.
    pub fn mac(&self) -> [u8; 6] {
        self.mac.0
    }

    /// floe's IPv4 address.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// The classifier in use (its groups index the `on_market` callback).
    pub fn classifier(&self) -> &Classifier {
        &self.classifier
    }

    /// Counters so far.
    pub fn counters(&self) -> NetCounters {
        self.counters
    }

    /// Whether the interface has joined multicast group `group`.
    pub fn has_multicast_group(&self, group: Ipv4Addr) -> bool {
        self.iface.has_multicast_group(group)
    }

    /// One NIC burst of up to `budget` frames: market data for the
    /// configured groups goes to `on_market(group, payload, rx_ts)` straight
    /// from the NIC's buffer (`group` indexes [`Classifier::groups`]); other
    /// frames go to the interface, whose ingress then runs (answering ARP,
    /// taking TCP segments and UDP replies into the sockets). Returns the
    /// frames taken from the NIC.
    pub fn poll_rx<F>(
        &mut self,
        now: Nanos,
        nic: &mut dyn Nic,
        budget: usize,
        mut on_market: F,
    ) -> usize
    where
        F: FnMut(usize, &[u8], Nanos),
    {
        let NetStack {
            classifier,
            ring,
            counters,
            igmp_until,
            last_stack_rx,
            ..
        } = self;
        let mut saw_arp = false;
        let n = nic.rx_burst(now, budget, &mut |frame: &[u8], ts: Nanos| {
            match classifier.classify(frame) {
                Class::MarketData { group, payload } => {
                    if let Some(p) = frame.get(payload) {
                        counters.market_frames += 1;
                        on_market(group, p, ts);
                    }
                }
                Class::Stack => {
                    counters.stack_frames += 1;
                    *last_stack_rx = ts;
                    match (frame.get(12..14), frame.get(23)) {
                        (Some([0x08, 0x06]), _) => saw_arp = true,
                        // IPv4 protocol 2: IGMP (a query starts report timers).
                        (Some([0x08, 0x00]), Some(2)) => *igmp_until = now + IGMP_WINDOW,
                        _ => {}
                    }
                    if ring.push(frame) {
                        counters.device.rx_queued += 1;
                    } else {
                        counters.device.rx_ring_full += 1;
                    }
                }
                Class::Drop => counters.dropped_frames += 1,
            }
        });
        if saw_arp {
            // A received ARP may have replaced a static entry: restore it.
            self.seed_neighbors(now);
        }
        if !self.ring.is_empty() {
            self.ingress(now, nic);
        }
        n
    }

    /// Writes one SoupBinTCP packet in place into the order socket's send
    /// buffer — `fill` gets at least [`SEND_MIN`] bytes and returns the
    /// packet's length (0 sends nothing) — and transmits it at once
    /// (smoltcp `poll_egress`, then a NIC flush): one data frame, no delay,
    /// no received frame processed first. Returns the bytes queued.
    pub fn send_with<F>(
        &mut self,
        now: Nanos,
        nic: &mut dyn Nic,
        fill: F,
    ) -> Result<usize, SendError>
    where
        F: FnOnce(&mut [u8]) -> usize,
    {
        let sock = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        if sock.state() != tcp::State::Established {
            return Err(SendError::NotConnected);
        }
        if sock.send_capacity() - sock.send_queue() < SEND_MIN {
            self.counters.send_buffer_full += 1;
            return Err(SendError::BufferFull);
        }
        let mut fill = Some(fill);
        let in_place = sock
            .send(|buf: &mut [u8]| {
                if buf.len() < SEND_MIN {
                    return (0, 0);
                }
                let n = fill.take().map_or(0, |f| f(buf)).min(buf.len());
                (n, n)
            })
            .map_err(|_| SendError::NotConnected)?;
        let n = match fill {
            None => in_place,
            // The free space wraps around the ring's end: write the packet
            // aside and copy it in (both pieces fit: checked above).
            Some(f) => {
                let n = f(&mut self.send_scratch[..]).min(SEND_MIN);
                sock.send_slice(&self.send_scratch[..n])
                    .map_err(|_| SendError::NotConnected)?
            }
        };
        if n > 0 {
            self.counters.tcp_tx_bytes += n as u64;
            self.egress(now, nic);
        }
        Ok(n)
    }

    /// Copies `bytes` (one or more whole SoupBinTCP packets: a login, a
    /// heartbeat) into the order socket and transmits them at once; all or
    /// nothing.
    pub fn send(
        &mut self,
        now: Nanos,
        nic: &mut dyn Nic,
        bytes: &[u8],
    ) -> Result<usize, SendError> {
        let sock = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        if sock.state() != tcp::State::Established {
            return Err(SendError::NotConnected);
        }
        if sock.send_capacity() - sock.send_queue() < bytes.len() {
            self.counters.send_buffer_full += 1;
            return Err(SendError::BufferFull);
        }
        let n = sock
            .send_slice(bytes)
            .map_err(|_| SendError::NotConnected)?;
        if n > 0 {
            self.counters.tcp_tx_bytes += n as u64;
            self.egress(now, nic);
        }
        Ok(n)
    }

    /// Hands the bytes received on the order connection to `take`, which
    /// returns how many it consumed (a [`SoupClient`](crate::order::session::SoupClient)
    /// consumes all); returns the total consumed.
    pub fn recv_with<F>(&mut self, mut take: F) -> usize
    where
        F: FnMut(&[u8]) -> usize,
    {
        let sock = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        let mut total = 0;
        // The received bytes may wrap around the buffer's end: two pieces.
        for _ in 0..2 {
            let got = sock.recv(|buf: &mut [u8]| {
                if buf.is_empty() {
                    return (0, (0, true));
                }
                let n = take(buf).min(buf.len());
                (n, (n, n == buf.len()))
            });
            match got {
                Ok((n, all)) => {
                    total += n;
                    if n == 0 || !all {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        self.counters.tcp_rx_bytes += total as u64;
        total
    }

    /// Queues one datagram to the request server; [`NetStack::poll`] sends
    /// it.
    pub fn udp_send(&mut self, bytes: &[u8]) -> Result<(), SendError> {
        self.udp_send_with(bytes.len(), |buf| {
            buf.copy_from_slice(bytes);
            bytes.len()
        })
        .map(|_| ())
    }

    /// Queues one datagram of up to `max_len` bytes to the request server,
    /// written in place by `fill` (which returns its length); returns it.
    pub fn udp_send_with<F>(&mut self, max_len: usize, fill: F) -> Result<usize, SendError>
    where
        F: FnOnce(&mut [u8]) -> usize,
    {
        let (Some(h), Some(server)) = (self.udp, self.request_server) else {
            return Err(SendError::NoRequestServer);
        };
        let sock = self.sockets.get_mut::<udp::Socket>(h);
        let n = sock
            .send_with(max_len, server, |buf: &mut [u8]| fill(buf).min(buf.len()))
            .map_err(|_| SendError::BufferFull)?;
        self.counters.udp_tx += 1;
        Ok(n)
    }

    /// Hands every datagram received on the request port to
    /// `on_datagram(payload, from)`; returns how many.
    pub fn udp_recv<F>(&mut self, mut on_datagram: F) -> usize
    where
        F: FnMut(&[u8], SocketAddrV4),
    {
        let Some(h) = self.udp else {
            return 0;
        };
        let sock = self.sockets.get_mut::<udp::Socket>(h);
        let mut n = 0;
        while let Ok((data, meta)) = sock.recv() {
            let IpAddress::Ipv4(addr) = meta.endpoint.addr;
            on_datagram(data, SocketAddrV4::new(addr, meta.endpoint.port));
            n += 1;
        }
        self.counters.udp_rx += n as u64;
        n
    }

    /// Timers and housekeeping: (re)connects the order socket when due,
    /// refreshes static neighbours, processes frames still in the ring, and
    /// sends what the sockets and the interface have due (delayed ACKs,
    /// retransmissions, keep-alives, queued datagrams, ARP requests, IGMP
    /// reports). Returns true if it transmitted anything.
    pub fn poll(&mut self, now: Nanos, nic: &mut dyn Nic) -> bool {
        self.maintain_link(now);
        if now >= self.neighbors_due {
            self.seed_neighbors(now);
        }
        let before = self.counters.device.tx_frames + self.counters.device.tx_dropped;
        {
            let mut device = NicDevice::new(
                nic,
                &mut self.ring,
                &mut self.scratch,
                &mut self.counters.device,
            );
            self.iface
                .poll(instant(now), &mut device, &mut self.sockets);
        }
        let sent = self.counters.device.tx_frames + self.counters.device.tx_dropped != before;
        if sent {
            let _ = nic.tx_flush();
        }
        self.maintain_link(now);
        sent
    }

    /// How long until [`NetStack::poll`] has work (zero: now;
    /// [`Nanos::MAX`]: nothing scheduled).
    pub fn poll_delay(&mut self, now: Nanos) -> Nanos {
        if !self.ring.is_empty() {
            return Nanos::ZERO;
        }
        let mut at = match self.iface.poll_delay(instant(now), &self.sockets) {
            Some(d) => now + Nanos(d.total_micros().saturating_mul(1_000)),
            None => Nanos::MAX,
        };
        if !self.neighbors.is_empty() {
            at = at.min(self.neighbors_due);
        }
        if now < self.igmp_until {
            at = at.min(now + IGMP_POLL);
        }
        let state = self.sockets.get::<tcp::Socket>(self.tcp).state();
        match state {
            tcp::State::Established | tcp::State::SynSent | tcp::State::SynReceived => {}
            tcp::State::CloseWait => at = now,
            _ if self.auto_connect => at = at.min(self.reconnect_at),
            _ => {}
        }
        at.since(now)
    }

    /// Receive timestamp of the latest frame that went to the interface (the
    /// TCP segment that carried the venue report being handled, when the
    /// runtime asks right after [`NetStack::poll_rx`]).
    pub fn last_stack_rx(&self) -> Nanos {
        self.last_stack_rx
    }

    /// The order connection's state.
    pub fn link_state(&self) -> LinkState {
        match self.sockets.get::<tcp::Socket>(self.tcp).state() {
            tcp::State::Established => LinkState::Established,
            tcp::State::SynSent | tcp::State::SynReceived => LinkState::Connecting,
            tcp::State::Closed | tcp::State::Listen => LinkState::Closed,
            _ => LinkState::Closing,
        }
    }

    /// True while orders may be sent.
    pub fn is_connected(&self) -> bool {
        self.up
    }

    /// The next change of the order connection not yet reported, oldest
    /// first (a drop and a reconnect between two calls come out as two
    /// events).
    pub fn link_event(&mut self) -> Option<LinkEvent> {
        if self.reported == self.transitions {
            return None;
        }
        self.reported += 1;
        Some(if self.reported % 2 == 1 {
            LinkEvent::Connected
        } else {
            LinkEvent::Disconnected
        })
    }

    /// Resets the order connection now (the venue went silent, a framing
    /// error): a RST goes out on the next poll, a reconnect follows after
    /// `order.reconnect_ms`.
    pub fn disconnect(&mut self, now: Nanos) {
        let sock = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        if sock.is_open() {
            sock.abort();
        }
        self.connecting = false;
        self.reconnect_at = now + self.reconnect;
        self.maintain_link(now);
    }

    /// Turns reconnecting on or off (off: after a logout, at shutdown).
    pub fn set_auto_connect(&mut self, on: bool) {
        self.auto_connect = on;
    }

    /// Closes the order connection gracefully (FIN after the queued bytes)
    /// and stops reconnecting.
    pub fn close(&mut self, now: Nanos) {
        self.auto_connect = false;
        self.sockets.get_mut::<tcp::Socket>(self.tcp).close();
        self.maintain_link(now);
    }

    fn ingress(&mut self, now: Nanos, nic: &mut dyn Nic) {
        let before = self.counters.device.tx_frames + self.counters.device.tx_dropped;
        {
            let mut device = NicDevice::new(
                nic,
                &mut self.ring,
                &mut self.scratch,
                &mut self.counters.device,
            );
            let t = instant(now);
            // One frame per call: bounded by the ring's length.
            for _ in 0..STACK_RING_FRAMES + 1 {
                if self
                    .iface
                    .poll_ingress_single(t, &mut device, &mut self.sockets)
                    == smoltcp::iface::PollIngressSingleResult::None
                {
                    break;
                }
            }
        }
        if self.counters.device.tx_frames + self.counters.device.tx_dropped != before {
            let _ = nic.tx_flush();
        }
        self.maintain_link(now);
    }

    fn egress(&mut self, now: Nanos, nic: &mut dyn Nic) {
        {
            let mut device = NicDevice::new(
                nic,
                &mut self.ring,
                &mut self.scratch,
                &mut self.counters.device,
            );
            self.iface
                .poll_egress(instant(now), &mut device, &mut self.sockets);
        }
        let _ = nic.tx_flush();
    }

    /// Follows the TCP socket's state: reports changes, answers a peer's
    /// FIN with ours, and starts a connection when the reconnect delay has
    /// passed (aborting a lingering close rather than waiting out
    /// TIME-WAIT).
    fn maintain_link(&mut self, now: Nanos) {
        let sock = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        let state = sock.state();
        if state == tcp::State::Established {
            if !self.up {
                self.up = true;
                self.connecting = false;
                self.transitions += 1;
                self.counters.connects += 1;
            }
            return;
        }
        if self.up {
            self.up = false;
            self.transitions += 1;
            self.counters.disconnects += 1;
            self.reconnect_at = now + self.reconnect;
        }
        match state {
            tcp::State::SynSent | tcp::State::SynReceived => {}
            tcp::State::CloseWait => sock.close(),
            tcp::State::Closed | tcp::State::Listen => {
                if self.connecting {
                    self.connecting = false;
                    self.counters.connect_failures += 1;
                    self.reconnect_at = now + self.reconnect;
                } else if self.auto_connect && now >= self.reconnect_at {
                    let cx = self.iface.context();
                    if sock.connect(cx, self.venue, self.local_port).is_ok() {
                        self.connecting = true;
                        self.counters.connect_attempts += 1;
                    } else {
                        self.reconnect_at = now + self.reconnect;
                    }
                }
            }
            _ => {
                if self.auto_connect && now >= self.reconnect_at {
                    sock.abort();
                }
            }
        }
    }

    /// Feeds every static neighbour to the interface as an ARP reply from
    /// it to floe (the only way smoltcp 0.14 takes a cache entry).
    fn seed_neighbors(&mut self, now: Nanos) {
        self.neighbors_due = now + NEIGHBOR_REFRESH;
        let (own_mac, own_ip) = (self.mac, self.ip);
        for &(ip, mac) in self.neighbors.iter() {
            let pushed = self.ring.push_with(|buf| {
                let Some(buf) = buf.get_mut(..14 + 28) else {
                    return 0;
                };
                let mut eth = EthernetFrame::new_unchecked(&mut *buf);
                EthernetRepr {
                    src_addr: mac,
                    dst_addr: own_mac,
                    ethertype: EthernetProtocol::Arp,
                }
                .emit(&mut eth);
                let mut arp = ArpPacket::new_unchecked(eth.payload_mut());
                ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Reply,
                    source_hardware_addr: mac,
                    source_protocol_addr: ip,
                    target_hardware_addr: own_mac,
                    target_protocol_addr: own_ip,
                }
                .emit(&mut arp);
                14 + 28
            });
            if pushed {
                self.counters.neighbor_seeds += 1;
            }
        }
    }
}
