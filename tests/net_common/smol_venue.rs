//! The venue as a second smoltcp interface on the other end of a
//! `memory::pair` (no kernel can sit there), running the same
//! [`SoupVenue`] and [`MoldFeed`] logic as the kernel venue, and the
//! memory scenario: both sides stepped on one thread with a manual clock.

use super::floe_side::{config, FloeSide};
use super::kernel_venue::{GROUP, GROUP_PORT, MESSAGES, MISSED, ORDERS, REQUEST_PORT, SOUP_PORT};
use super::venue::{MoldFeed, SoupVenue};
use super::watch::Watch;
use floe::net::{DeviceCounters, LinkEvent, NicDevice, StackRing};
use floe::nic::memory::{pair_with_macs, MemoryNic};
use floe::nic::veth::{FLOE_MAC, VENUE_IP, VENUE_MAC};
use floe::nic::{Nic, MAX_FRAME_LEN};
use floe::time::Nanos;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, Ipv4Address};

fn instant(now: Nanos) -> Instant {
    Instant::from_micros((now.0 / 1000) as i64)
}

/// The venue's smoltcp interface and its sockets.
pub struct SmolVenue {
    iface: Interface,
    sockets: SocketSet<'static>,
    tcp: SocketHandle,
    udp: SocketHandle,
    ring: StackRing,
    scratch: Box<[u8; MAX_FRAME_LEN]>,
    dev: DeviceCounters,
    listening: bool,
    connected: bool,
    /// The order server's logic.
    pub soup: SoupVenue,
    /// The feed's logic.
    pub feed: MoldFeed,
    schedule: Vec<Vec<u8>>,
    sent: usize,
}

impl SmolVenue {
    /// The venue at 198.18.0.1 on `nic`.
    pub fn new(nic: &mut dyn Nic, now: Nanos) -> SmolVenue {
        let mut ring = StackRing::new(64);
        let mut scratch = Box::new([0u8; MAX_FRAME_LEN]);
        let mut dev = DeviceCounters::default();
        let mut c = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(VENUE_MAC)));
        c.random_seed = 0x5eed;
        let mut iface = {
            let mut d = NicDevice::new(nic, &mut ring, &mut scratch, &mut dev);
            Interface::new(c, &mut d, instant(now))
        };
        iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(
                IpAddress::Ipv4(Ipv4Address::from(VENUE_IP)),
                24,
            ))
            .unwrap();
        });
        let mut sockets = SocketSet::new(Vec::new());
        let tcp = sockets.add(tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 65536]),
            tcp::SocketBuffer::new(vec![0; 65536]),
        ));
        let mut u = udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0; 65536]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 256], vec![0; 256 * 1500]),
        );
        u.bind(REQUEST_PORT).unwrap();
        let udp = sockets.add(u);
        let feed = MoldFeed::new(MESSAGES);
        let schedule = feed.schedule();
        SmolVenue {
            iface,
            sockets,
            tcp,
            udp,
            ring,
            scratch,
            dev,
            listening: false,
            connected: false,
            soup: SoupVenue::new(),
            feed,
            schedule,
            sent: 0,
        }
    }

    /// Listens for the order connection.
    pub fn listen(&mut self) {
        self.listening = true;
    }

    /// Resets the order connection and stops listening; the store keeps
    /// `unsolicited` executions floe will have missed.
    pub fn restart(&mut self, unsolicited: &[u32]) {
        self.sockets.get_mut::<tcp::Socket>(self.tcp).abort();
        self.listening = false;
        self.connected = false;
        self.soup.on_disconnect();
        let mut sink = Vec::new();
        for &u in unsolicited {
            self.soup.unsolicited_execution(u, &mut sink);
        }
        assert!(sink.is_empty());
    }

    /// Sends up to `n` more packets of the feed's schedule.
    pub fn publish(&mut self, n: usize) {
        let sock = self.sockets.get_mut::<udp::Socket>(self.udp);
        let to = IpEndpoint::new(IpAddress::Ipv4(GROUP), GROUP_PORT);
        for _ in 0..n {
            let Some(p) = self.schedule.get(self.sent) else {
                return;
            };
            if sock.send_slice(p, to).is_err() {
                return;
            }
            self.sent += 1;
        }
    }

    /// Whether the whole schedule went out.
    pub fn published_all(&self) -> bool {
        self.sent == self.schedule.len()
    }

    /// One step: every received frame into the interface, the sockets
    /// served, everything due sent.
    pub fn step(&mut self, now: Nanos, nic: &mut dyn Nic) {
        let t = instant(now);
        loop {
            let ring = &mut self.ring;
            let n = nic.rx_burst(now, 32, &mut |f, _| {
                assert!(ring.push(f), "venue ring overflow");
            });
            let mut d = NicDevice::new(nic, &mut self.ring, &mut self.scratch, &mut self.dev);
            self.iface.poll(t, &mut d, &mut self.sockets);
            if n == 0 {
                break;
            }
        }
        let sock = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        if self.listening && !sock.is_open() {
            sock.listen(SOUP_PORT).unwrap();
        }
        let established = sock.state() == tcp::State::Established;
        if established && !self.connected {
            self.soup.on_connect();
        }
        if !established && self.connected {
            self.soup.on_disconnect();
        }
        self.connected = established;
        let mut out = Vec::new();
        while let Ok(data) = sock.recv(|b| (b.len(), b.to_vec())) {
            if data.is_empty() {
                break;
            }
            self.soup.on_bytes(&data, &mut out);
        }
        if !out.is_empty() {
            assert_eq!(
                sock.send_slice(&out).unwrap(),
                out.len(),
                "venue send buffer"
            );
        }
        let udp = self.sockets.get_mut::<udp::Socket>(self.udp);
        let mut answers = Vec::new();
        while let Ok((req, meta)) = udp.recv() {
            answers.push((self.feed.answer(req), meta.endpoint));
        }
        for (packets, to) in answers {
            for p in packets {
                udp.send_slice(&p, to).unwrap();
            }
        }
        let mut d = NicDevice::new(nic, &mut self.ring, &mut self.scratch, &mut self.dev);
        self.iface.poll(t, &mut d, &mut self.sockets);
        nic.tx_flush().unwrap();
    }
}

/// The memory scenario: floe (optionally with a static neighbour) against
/// the smoltcp venue, both stepped on this thread, 100 µs of manual time
/// per step. Asserts what the kernel scenario asserts.
pub fn run_memory_scenario(static_neighbor: bool) {
    let mut cfg = config();
    if static_neighbor {
        cfg.net.neighbors = vec![floe::config::Neighbor {
            ip: "198.18.0.1".into(),
            mac: "02:00:c6:12:00:01".into(),
        }];
    }
    let (a, mut b): (MemoryNic, MemoryNic) = pair_with_macs(1024, FLOE_MAC, VENUE_MAC);
    let mut nic = Watch::new(a);
    let mut now = Nanos::from_secs(1);
    let mut floe = FloeSide::new(&cfg, &mut nic, now);
    let mut venue = SmolVenue::new(&mut b, now);
    venue.listen();
    let (before, after) = ORDERS;
    let mut steps = 0u64;
    let mut step = |floe: &mut FloeSide,
                    venue: &mut SmolVenue,
                    nic: &mut Watch<MemoryNic>,
                    now: &mut Nanos| {
        floe.step(*now, nic);
        venue.step(*now, &mut b);
        *now = *now + Nanos::from_us(100);
        steps += 1;
        assert!(steps < 2_000_000, "the memory scenario did not finish");
    };
    let within = |floe: &FloeSide, start: Nanos, now: Nanos, secs: u64, what: &str| {
        assert!(
            now.since(start) < Nanos::from_secs(secs),
            "{what} not reached in {secs} s of simulated time: links {:?}, counters {:?}",
            floe.links,
            floe.net.counters()
        );
    };
    let t0 = now;
    while !floe.soup.is_logged_in() {
        within(&floe, t0, now, 5, "login");
        step(&mut floe, &mut venue, &mut nic, &mut now);
    }
    assert!(nic.igmp_reports >= 1, "an IGMP report for the group");
    let mut sent = 0;
    let t0 = now;
    while floe.reports.len() < 2 * before as usize {
        within(&floe, t0, now, 5, "reports");
        if sent < before && floe.soup.is_logged_in() {
            let segments = nic.tcp_data_segments;
            floe.send_order(now, &mut nic, sent + 1, 100 + sent)
                .unwrap();
            assert_eq!(
                nic.tcp_data_segments,
                segments + 1,
                "one data frame per order, at once"
            );
            sent += 1;
        }
        venue.publish(4);
        step(&mut floe, &mut venue, &mut nic, &mut now);
    }
    venue.restart(&(1..=MISSED).collect::<Vec<_>>());
    let t0 = now;
    while floe.net.counters().connect_failures == 0 {
        within(&floe, t0, now, 5, "a refused reconnect");
        venue.publish(4);
        step(&mut floe, &mut venue, &mut nic, &mut now);
    }
    assert_eq!(floe.links.last(), Some(&LinkEvent::Disconnected));
    venue.listen();
    let t0 = now;
    let mut sent = 0;
    let total = (2 * (before + after) + MISSED) as usize;
    while floe.reports.len() < total {
        within(&floe, t0, now, 10, "the reports after the restart");
        if floe.logins.len() == 2 && sent < after && floe.soup.is_logged_in() {
            floe.send_order(now, &mut nic, before + sent + 1, 7)
                .unwrap();
            sent += 1;
        }
        venue.publish(4);
        step(&mut floe, &mut venue, &mut nic, &mut now);
    }
    let t0 = now;
    while (floe.delivered.len() as u64) < MESSAGES || !venue.published_all() {
        within(&floe, t0, now, 10, "every feed message");
        venue.publish(4);
        step(&mut floe, &mut venue, &mut nic, &mut now);
    }
    super::net_checks::check_feed(&floe, venue.feed.gaps());
    assert!(venue.feed.requests > 0 && floe.replies > 0);
    super::net_checks::check_orders(&floe, &venue.soup.logins, &venue.soup.orders, before, after);
    assert_eq!(venue.soup.stored(), total);
    if static_neighbor {
        assert_eq!(nic.arp_requests, 0, "a static neighbour is never asked for");
    } else {
        assert!(nic.arp_requests > 0, "floe resolved the venue by ARP");
    }
}
