//! The venue's market-data sockets: the downstream MoldUDP64 sender and the
//! re-request server, on the kernel's UDP stack.
//!
//! [`FeedSender`] sends every packet the publisher hands out to each
//! configured destination (multicast groups with the configured TTL,
//! loopback and outgoing interface, or unicast receivers). The socket is
//! nonblocking: a datagram the kernel cannot take at once is dropped and
//! counted, and receivers recover it through a re-request, as on a real feed.
//! [`RequestServer`] reads MoldUDP64 request packets and sends each answer
//! back to the requester's source address and port.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

use super::config::MarketDataConfig;

/// Counters of the market-data sockets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedStats {
    /// Datagrams handed to the kernel (one per packet and destination).
    pub datagrams: u64,
    /// Datagrams the kernel refused (buffer full, no route); not retried.
    pub send_errors: u64,
    /// Re-request packets received.
    pub requests: u64,
    /// Answers sent back.
    pub answers: u64,
}

/// The downstream sender.
pub struct FeedSender {
    socket: UdpSocket,
    destinations: Vec<SocketAddrV4>,
    stats: FeedStats,
    errors_logged: u64,
}

impl FeedSender {
    /// Binds `market_data.bind` and applies the multicast settings.
    pub fn bind(cfg: &MarketDataConfig) -> io::Result<FeedSender> {
        let bind: SocketAddrV4 = cfg
            .bind
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "market_data.bind"))?;
        let destinations = cfg
            .destinations
            .iter()
            .map(|d| d.parse::<SocketAddrV4>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "market_data.destinations"))?;
        let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        socket.bind(&SocketAddr::V4(bind).into())?;
        socket.set_multicast_ttl_v4(cfg.multicast_ttl)?;
        socket.set_multicast_loop_v4(cfg.multicast_loop)?;
        let interface = match &cfg.multicast_interface {
            Some(i) => Some(i.parse::<Ipv4Addr>().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "market_data.multicast_interface",
                )
            })?),
            None if !bind.ip().is_unspecified() => Some(*bind.ip()),
            None => None,
        };
        if let Some(ip) = interface {
            socket.set_multicast_if_v4(&ip)?;
        }
        socket.set_nonblocking(true)?;
        Ok(FeedSender {
            socket: socket.into(),
            destinations,
            stats: FeedStats::default(),
            errors_logged: 0,
        })
    }

    /// The local address packets leave from.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The destinations.
    pub fn destinations(&self) -> &[SocketAddrV4] {
        &self.destinations
    }

    /// Sends one downstream packet to every destination.
    pub fn send(&mut self, packet: &[u8]) {
        for d in &self.destinations {
            match self.socket.send_to(packet, d) {
                Ok(_) => self.stats.datagrams += 1,
                Err(e) => {
                    self.stats.send_errors += 1;
                    // Log the first failure and then every 10,000th.
                    if self.errors_logged.is_multiple_of(10_000) {
                        tracing::warn!(destination = %d, error = %e, dropped = self.stats.send_errors, "market-data datagram dropped");
                    }
                    self.errors_logged += 1;
                }
            }
        }
    }

    /// Counters.
    pub fn stats(&self) -> FeedStats {
        self.stats
    }
}

/// The MoldUDP64 re-request server.
pub struct RequestServer {
    socket: mio::net::UdpSocket,
    stats: FeedStats,
}

impl RequestServer {
    /// Binds `addr` (nonblocking).
    pub fn bind(addr: SocketAddrV4) -> io::Result<RequestServer> {
        let socket = mio::net::UdpSocket::bind(SocketAddr::V4(addr))?;
        Ok(RequestServer {
            socket,
            stats: FeedStats::default(),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// The socket, for registration with the event loop.
    pub fn socket_mut(&mut self) -> &mut mio::net::UdpSocket {
        &mut self.socket
    }

    /// Reads the waiting requests (at most 1024) and sends back what
    /// `answer` writes into `buf` for each (`None`: nothing to send).
    /// Returns true when it stopped at the bound with requests possibly
    /// still waiting (call again), false once the socket is drained.
    pub fn serve(
        &mut self,
        buf: &mut [u8],
        mut answer: impl FnMut(&[u8], &mut [u8]) -> Option<usize>,
    ) -> bool {
        let mut req = [0u8; 512];
        let mut n = 0;
        loop {
            let (len, from) = match self.socket.recv_from(&mut req) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ICMP errors from earlier answers surface here; they
                    // concern one requester, not the server. Counted
                    // against the bound, so a persistent error cannot spin.
                    tracing::debug!(error = %e, "re-request socket error");
                    n += 1;
                    if n >= 1024 {
                        return true;
                    }
                    continue;
                }
            };
            n += 1;
            self.stats.requests += 1;
            if let Some(m) = answer(&req[..len], buf) {
                match self.socket.send_to(&buf[..m], from) {
                    Ok(_) => self.stats.answers += 1,
                    Err(e) => {
                        self.stats.send_errors += 1;
                        tracing::debug!(to = %from, error = %e, "re-request answer dropped");
                    }
                }
            }
            if n >= 1024 {
                // Bound the work per call; the rest is read on the next one.
                return true;
            }
        }
    }

    /// Counters.
    pub fn stats(&self) -> FeedStats {
        self.stats
    }
}
