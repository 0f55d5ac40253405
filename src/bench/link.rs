//! The benchmark venue's transports: how the [`VenueScript`] reaches the
//! appliance.
//!
//! - [`SmolLink`]: the venue as a host with its own smoltcp 0.14 interface on
//!   a [`Nic`] (the other end of a memory pair): it answers ARP, listens on
//!   the order port, and writes market data as whole Ethernet + IPv4 + UDP
//!   frames to the group's MAC.
//! - [`KernelLink`]: the venue on kernel sockets (`std::net`), for the veth
//!   runs: a non-blocking `TcpListener` / `TcpStream` (Nagle off) and a
//!   `UdpSocket` sending to the multicast group.
//!
//! Both are busy-polled by the driver thread and never block.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::time::Instant;

use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

use super::script::VenueScript;
use crate::net::{DeviceCounters, NicDevice, StackRing, UdpFrame};
use crate::nic::{group_mac, Nic, MAX_FRAME_LEN};
use crate::time::Nanos;

/// A transport for the venue script.
pub trait VenueLink {
    /// Moves bytes both ways on the order connection: what arrived goes to
    /// `script.on_bytes`, the script's output is written. Returns true when
    /// anything moved. A lost connection is reported to the script.
    fn pump(&mut self, now_ns: u64, script: &mut VenueScript) -> io::Result<bool>;
    /// Sends one MoldUDP64 packet to the market-data group.
    fn send_md(&mut self, packet: &[u8]) -> io::Result<()>;
    /// True while a client is connected.
    fn connected(&self) -> bool;
}

/// The venue as a smoltcp host on a NIC; see the module doc.
pub struct SmolLink<N: Nic> {
    nic: N,
    iface: Interface,
    sockets: SocketSet<'static>,
    tcp: SocketHandle,
    port: u16,
    ring: StackRing,
    scratch: Box<[u8; MAX_FRAME_LEN]>,
    dev: DeviceCounters,
    md: UdpFrame,
    origin: Instant,
    was_connected: bool,
}

impl<N: Nic> SmolLink<N> {
    /// The venue at `ip`/24 with `mac` on `nic`, listening on `port`, sending
    /// market data from `md_src` to `md_group`.
    pub fn new(
        mut nic: N,
        ip: Ipv4Addr,
        mac: [u8; 6],
        port: u16,
        md_src: SocketAddrV4,
        md_group: SocketAddrV4,
    ) -> SmolLink<N> {
        let mut ring = StackRing::new(256);
        let mut scratch = Box::new([0u8; MAX_FRAME_LEN]);
        let mut dev = DeviceCounters::default();
        let mut iconf = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        iconf.random_seed = 0x005e_ed0f_f10e;
        let origin = Instant::now();
        let mut iface = {
            let mut device = NicDevice::new(&mut nic, &mut ring, &mut scratch, &mut dev);
            Interface::new(iconf, &mut device, smoltcp::time::Instant::from_micros(0))
        };
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(ip), 24));
        });
        let mut sockets = SocketSet::new(Vec::with_capacity(1));
        let mut sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; 256 * 1024]),
            tcp::SocketBuffer::new(vec![0u8; 256 * 1024]),
        );
        sock.set_nagle_enabled(false);
        let _ = sock.listen(port);
        let tcp = sockets.add(sock);
        let mut md = UdpFrame::new(mac, group_mac(*md_group.ip()), md_src, md_group);
        md.udp_checksum = true;
        SmolLink {
            nic,
            iface,
            sockets,
            tcp,
            port,
            ring,
            scratch,
            dev,
            md,
            origin,
            was_connected: false,
        }
    }

    fn now(&self) -> smoltcp::time::Instant {
        smoltcp::time::Instant::from_micros(self.origin.elapsed().as_micros() as i64)
    }

    fn poll_iface(&mut self) -> bool {
        let now = self.now();
        let mut device = NicDevice::new(
            &mut self.nic,
            &mut self.ring,
            &mut self.scratch,
            &mut self.dev,
        );
        let r = self.iface.poll(now, &mut device, &mut self.sockets);
        let _ = self.nic.tx_flush();
        r != smoltcp::iface::PollResult::None
    }
}

impl<N: Nic> VenueLink for SmolLink<N> {
    fn pump(&mut self, now_ns: u64, script: &mut VenueScript) -> io::Result<bool> {
        let ring = &mut self.ring;
        let frames = self.nic.rx_burst(Nanos(now_ns), 64, &mut |f, _| {
            let _ = ring.push(f);
        });
        let mut work = frames > 0;
        if frames > 0 {
            work |= self.poll_iface();
        }
        let sock = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        let connected =
            sock.state() == tcp::State::Established || sock.state() == tcp::State::CloseWait;
        if self.was_connected && !connected {
            script.on_disconnect();
        }
        self.was_connected = connected;
        if !sock.is_open() {
            let _ = sock.listen(self.port);
        } else if sock.state() == tcp::State::CloseWait {
            sock.close();
        }
        let mut moved = false;
        while sock.can_recv() {
            let got = sock.recv(|buf| {
                script.on_bytes(now_ns, buf);
                (buf.len(), buf.len())
            });
            match got {
                Ok(n) if n > 0 => moved = true,
                _ => break,
            }
        }
        script.heartbeat_if_due(now_ns);
        if !script.output().is_empty() && sock.can_send() {
            if let Ok(n) = sock.send_slice(script.output()) {
                script.consume_output(n);
                moved |= n > 0;
            }
        }
        let now = self.now();
        if moved
            || self
                .iface
                .poll_at(now, &self.sockets)
                .is_some_and(|t| t <= now)
        {
            work |= self.poll_iface();
        }
        Ok(work || moved)
    }

    fn send_md(&mut self, packet: &[u8]) -> io::Result<()> {
        let md = self.md;
        self.nic
            .tx_frame(MAX_FRAME_LEN, &mut |slot| {
                md.emit(packet, slot).unwrap_or(0)
            })
            .map_err(io::Error::other)?;
        self.nic.tx_flush().map_err(io::Error::other)
    }

    fn connected(&self) -> bool {
        self.was_connected
    }
}

/// The venue on kernel sockets; see the module doc.
pub struct KernelLink {
    listener: TcpListener,
    stream: Option<TcpStream>,
    udp: UdpSocket,
    group: SocketAddrV4,
    buf: Box<[u8; 64 * 1024]>,
}

impl KernelLink {
    /// Listens on `order` and sends market data from `md_src` to `group`
    /// (TTL 1, no loopback).
    pub fn bind(
        order: SocketAddrV4,
        md_src: SocketAddrV4,
        group: SocketAddrV4,
    ) -> io::Result<KernelLink> {
        let listener = TcpListener::bind(order)?;
        listener.set_nonblocking(true)?;
        let udp = UdpSocket::bind(md_src)?;
        udp.set_multicast_ttl_v4(1)?;
        udp.set_multicast_loop_v4(false)?;
        udp.set_nonblocking(true)?;
        Ok(KernelLink {
            listener,
            stream: None,
            udp,
            group,
            buf: Box::new([0u8; 64 * 1024]),
        })
    }
}

impl VenueLink for KernelLink {
    fn pump(&mut self, now_ns: u64, script: &mut VenueScript) -> io::Result<bool> {
        if self.stream.is_none() {
            match self.listener.accept() {
                Ok((s, _)) => {
                    s.set_nodelay(true)?;
                    s.set_nonblocking(true)?;
                    self.stream = Some(s);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        let Some(s) = self.stream.as_mut() else {
            return Ok(false);
        };
        let mut moved = false;
        let mut closed = false;
        loop {
            match s.read(&mut self.buf[..]) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(n) => {
                    script.on_bytes(now_ns, &self.buf[..n]);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        script.heartbeat_if_due(now_ns);
        while !closed && !script.output().is_empty() {
            match s.write(script.output()) {
                Ok(n) => {
                    script.consume_output(n);
                    moved = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    closed = true;
                    break;
                }
            }
        }
        if closed {
            self.stream = None;
            script.on_disconnect();
        }
        Ok(moved)
    }

    fn send_md(&mut self, packet: &[u8]) -> io::Result<()> {
        loop {
            match self.udp.send_to(packet, self.group) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn connected(&self) -> bool {
        self.stream.is_some()
    }
}
