//! What smoltcp costs per order sent: `NetStack::send_with` (the packet
//! written in place into the TCP socket's send buffer, then `poll_egress`
//! and a NIC flush) of one 49-byte OUCH 4.2 Enter Order in a SoupBinTCP
//! Unsequenced Data packet (52 bytes), through the memory NIC, against a
//! smoltcp peer that ACKs normally (default ACK delay), beside:
//! - `encode_only`: the same SoupBinTCP + OUCH encoding into a buffer,
//!   nothing sent (the floor both paths share);
//! - `template`: the same packet in a hand-built Ethernet + IPv4 + TCP frame
//!   from a template, written into the same NIC's transmit slot, with the
//!   IPv4 checksum updated incrementally and the TCP checksum from a
//!   precomputed header sum plus the payload (no TCP state: what a
//!   hand-written fast path would cost);
//! - `smoltcp_with_udp`: as `smoltcp`, with the re-request UDP socket on the
//!   same interface (what sharing the interface costs the order socket).
//!
//! Only the send is timed (`iter_custom`, one clock read pair per send;
//! `timer_overhead` measures that pair, to subtract); the peer's receive and
//! ACK and floe's processing of the ACK run between sends, untimed.
//!
//! `cargo bench --bench net_order`; instruction counts: run the binary under
//! `valgrind --tool=callgrind --toggle-collect='*measured_*'` with
//! `FLOE_NET_ORDER_ONLY=smoltcp|smoltcp_with_udp|template|encode_only`
//! (`scripts/bench-instructions` does).

use criterion::Criterion;
use floe::config::Config;
use floe::net::{DeviceCounters, NetStack, NicDevice, StackRing};
use floe::nic::memory::{pair_with_macs, MemoryNic};
use floe::nic::veth::{FLOE_MAC, VENUE_IP, VENUE_MAC};
use floe::nic::{Nic, MAX_FRAME_LEN};
use floe::order::event::{ChildTag, OrderRef, OrderRequest, OuchDialect, TimeInForce};
use floe::order::Ouch42Dialect;
use floe::time::Nanos;
use floe::types::{Price4, Qty, Side, Symbol};
use floe::wire::soupbintcp::emit_unsequenced_with;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, HardwareAddress, IpAddress, IpCidr, Ipv4Address, Ipv4Packet,
    TcpPacket,
};
use std::hint::black_box;
use std::time::{Duration, Instant as StdInstant};

/// Manual time between two orders.
const ORDER_GAP: Nanos = Nanos::from_us(20);

fn instant(now: Nanos) -> Instant {
    Instant::from_micros((now.0 / 1000) as i64)
}

/// The venue: a smoltcp interface with one listening TCP socket that reads
/// and discards, ACKing with smoltcp's defaults.
struct Peer {
    iface: Interface,
    sockets: SocketSet<'static>,
    tcp: SocketHandle,
    ring: StackRing,
    scratch: Box<[u8; MAX_FRAME_LEN]>,
    dev: DeviceCounters,
    sink: Vec<u8>,
}

impl Peer {
    fn new(nic: &mut dyn Nic, now: Nanos) -> Peer {
        let mut ring = StackRing::new(64);
        let mut scratch = Box::new([0u8; MAX_FRAME_LEN]);
        let mut dev = DeviceCounters::default();
        let mut c = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(VENUE_MAC)));
        c.random_seed = 7;
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
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 1 << 20]),
            tcp::SocketBuffer::new(vec![0; 4096]),
        );
        s.listen(15000).unwrap();
        let tcp = sockets.add(s);
        Peer {
            iface,
            sockets,
            tcp,
            ring,
            scratch,
            dev,
            sink: vec![0; 1 << 16],
        }
    }

    fn step(&mut self, now: Nanos, nic: &mut dyn Nic) {
        loop {
            let ring = &mut self.ring;
            let n = nic.rx_burst(now, 32, &mut |f, _| {
                ring.push(f);
            });
            let mut d = NicDevice::new(nic, &mut self.ring, &mut self.scratch, &mut self.dev);
            self.iface.poll(instant(now), &mut d, &mut self.sockets);
            if n == 0 {
                break;
            }
        }
        let s = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        while let Ok(n) = s.recv_slice(&mut self.sink) {
            if n == 0 {
                break;
            }
        }
        let mut d = NicDevice::new(nic, &mut self.ring, &mut self.scratch, &mut self.dev);
        self.iface.poll(instant(now), &mut d, &mut self.sockets);
        let _ = nic.tx_flush();
    }

    fn established(&self) -> bool {
        self.sockets.get::<tcp::Socket>(self.tcp).state() == tcp::State::Established
    }
}

fn enter(n: u32) -> OrderRequest {
    OrderRequest::Enter {
        order: OrderRef(n),
        tag: ChildTag {
            parent: 1,
            child: n,
        },
        side: Side::Buy,
        qty: Qty(100),
        symbol: Symbol::new("FLOE").unwrap(),
        price: Price4(1_234_500),
        tif: TimeInForce::Day,
    }
}

/// The SoupBinTCP Unsequenced Data packet of order `n` into `buf`.
#[inline(always)]
fn fill(d: &Ouch42Dialect, n: u32, buf: &mut [u8]) -> usize {
    let req = enter(n);
    emit_unsequenced_with(buf, |p| d.encode(&req, p)).unwrap_or(0)
}

/// floe's stack connected to a peer over a memory pair.
struct Rig {
    net: NetStack,
    a: MemoryNic,
    b: MemoryNic,
    peer: Peer,
    now: Nanos,
    dialect: Ouch42Dialect,
    n: u32,
}

impl Rig {
    fn new(with_udp: bool) -> Rig {
        let mut cfg = Config::default();
        cfg.order.firm = String::new();
        if !with_udp {
            cfg.feed.request_server = None;
        }
        let (mut a, mut b) = pair_with_macs(1024, FLOE_MAC, VENUE_MAC);
        let mut now = Nanos::from_secs(1);
        let mut net = NetStack::new(&cfg, &mut a, now).unwrap();
        let mut peer = Peer::new(&mut b, now);
        for _ in 0..10_000 {
            net.poll_rx(now, &mut a, 32, |_, _, _| {});
            net.poll(now, &mut a);
            peer.step(now, &mut b);
            if net.is_connected() && peer.established() {
                break;
            }
            now = now + Nanos::from_us(100);
        }
        assert!(net.is_connected(), "the bench rig connects");
        let mut rig = Rig {
            net,
            a,
            b,
            peer,
            now,
            dialect: Ouch42Dialect::new(*b"FLOE"),
            n: 0,
        };
        let mut probe = [0u8; 128];
        assert_eq!(
            fill(&rig.dialect, 1, &mut probe),
            52,
            "a 49-byte Enter Order in a 52-byte packet"
        );
        // Warm up: the first sends go through ARP-free paths already, but
        // let the congestion window open and the buffers settle.
        for _ in 0..2_000 {
            rig.send();
            rig.between();
        }
        rig
    }

    fn send(&mut self) -> usize {
        self.n += 1;
        measured_smoltcp_send(&mut self.net, &mut self.a, self.now, &self.dialect, self.n)
    }

    /// Untimed: the peer takes the frame and ACKs when smoltcp does; floe
    /// takes the ACK.
    fn between(&mut self) {
        self.peer.step(self.now, &mut self.b);
        self.net.poll_rx(self.now, &mut self.a, 32, |_, _, _| {});
        self.net.poll(self.now, &mut self.a);
        self.now = self.now + ORDER_GAP;
    }
}

#[inline(never)]
fn measured_smoltcp_send(
    net: &mut NetStack,
    nic: &mut MemoryNic,
    now: Nanos,
    d: &Ouch42Dialect,
    n: u32,
) -> usize {
    net.send_with(now, nic, |buf| fill(d, n, buf)).unwrap()
}

/// A hand-built Ethernet + IPv4 + TCP frame from a template.
struct Template {
    hdr: [u8; 54],
    /// One's-complement sum of the TCP pseudo-header and header with seq,
    /// checksum and the TCP length of a 52-byte payload.
    tcp_base: u32,
    ip_base: u32,
    seq: u32,
    ident: u16,
}

impl Template {
    fn new() -> Template {
        let mut hdr = [0u8; 54];
        hdr[0..6].copy_from_slice(&VENUE_MAC);
        hdr[6..12].copy_from_slice(&FLOE_MAC);
        hdr[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut hdr[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(20u16 + 20 + 52).to_be_bytes());
        ip[6] = 0x40;
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[198, 18, 0, 2]);
        ip[16..20].copy_from_slice(&VENUE_IP);
        let tcp = &mut hdr[34..54];
        tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&15000u16.to_be_bytes());
        tcp[8..12].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = 0x18; // PSH | ACK
        tcp[14..16].copy_from_slice(&64240u16.to_be_bytes());
        let words = |b: &[u8]| -> u32 {
            b.chunks(2)
                .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
                .sum()
        };
        let ip_base = words(&hdr[14..34]);
        let pseudo = words(&hdr[26..34]) + 6 + (20 + 52);
        let tcp_base = pseudo + words(&hdr[34..54]);
        Template {
            hdr,
            tcp_base,
            ip_base,
            seq: 1,
            ident: 0,
        }
    }
}

#[inline(always)]
fn fold(mut s: u32) -> u16 {
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

#[inline(never)]
fn measured_template_send(
    t: &mut Template,
    nic: &mut MemoryNic,
    d: &Ouch42Dialect,
    n: u32,
) -> usize {
    let mut sent = 0;
    let (seq, ident) = (t.seq, t.ident);
    let (hdr, tcp_base, ip_base) = (&t.hdr, t.tcp_base, t.ip_base);
    nic.tx_frame(54 + 64, &mut |slot: &mut [u8]| {
        let (h, payload) = slot.split_at_mut(54);
        h.copy_from_slice(hdr);
        let len = fill(d, n, payload);
        let p = &payload[..len];
        h[18..20].copy_from_slice(&ident.to_be_bytes());
        h[24..26].copy_from_slice(&fold(ip_base + u32::from(ident)).to_be_bytes());
        h[38..42].copy_from_slice(&seq.to_be_bytes());
        let mut sum = tcp_base + (seq >> 16) + (seq & 0xffff);
        let mut chunks = p.chunks_exact(2);
        for c in &mut chunks {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u32::from(*last) << 8;
        }
        h[50..52].copy_from_slice(&fold(sum).to_be_bytes());
        sent = len;
        54 + len
    })
    .unwrap();
    nic.tx_flush().unwrap();
    t.seq = t.seq.wrapping_add(sent as u32);
    t.ident = t.ident.wrapping_add(1);
    sent
}

#[inline(never)]
fn measured_encode_only(buf: &mut [u8], d: &Ouch42Dialect, n: u32) -> usize {
    fill(d, n, buf)
}

fn check_template() {
    let (mut a, mut b) = pair_with_macs(16, FLOE_MAC, VENUE_MAC);
    let mut t = Template::new();
    let d = Ouch42Dialect::new(*b"FLOE");
    for n in 1..=3 {
        measured_template_send(&mut t, &mut a, &d, n);
    }
    let mut frames = 0;
    b.rx_burst(Nanos(0), 8, &mut |f, _| {
        let eth = EthernetFrame::new_checked(f).unwrap();
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum(), "template IPv4 checksum");
        let tcp = TcpPacket::new_checked(ip.payload())
            .unwrap_or_else(|e| panic!("{e}: {} bytes: {:02x?}", f.len(), &f[..f.len().min(60)]));
        assert!(
            tcp.verify_checksum(&ip.src_addr().into(), &ip.dst_addr().into()),
            "template TCP checksum"
        );
        assert_eq!(tcp.payload().len(), 52);
        frames += 1;
    });
    assert_eq!(frames, 3);
}

fn main() {
    check_template();
    let orders: u32 = std::env::var("FLOE_NET_ORDERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    if let Ok(which) = std::env::var("FLOE_NET_ORDER_ONLY") {
        let d = Ouch42Dialect::new(*b"FLOE");
        let mut total = 0usize;
        match which.as_str() {
            "smoltcp" | "smoltcp_with_udp" => {
                let mut rig = Rig::new(which == "smoltcp_with_udp");
                for _ in 0..orders {
                    total += rig.send();
                    rig.between();
                }
            }
            "template" => {
                let (mut a, mut b) = pair_with_macs(1024, FLOE_MAC, VENUE_MAC);
                let mut t = Template::new();
                for n in 1..=orders {
                    total += measured_template_send(&mut t, &mut a, &d, n);
                    b.rx_burst(Nanos(0), 32, &mut |_, _| {});
                }
            }
            "encode_only" => {
                let mut buf = [0u8; 512];
                for n in 1..=orders {
                    total += measured_encode_only(black_box(&mut buf), &d, n);
                }
            }
            other => panic!("FLOE_NET_ORDER_ONLY: unknown {other}"),
        }
        assert_eq!(total, 52 * orders as usize);
        println!("net_order {which}: {orders} orders");
        return;
    }
    // A smoke run outside `cargo bench`: every path sends correct frames.
    let mut rig = Rig::new(false);
    for _ in 0..100 {
        assert_eq!(rig.send(), 52);
        rig.between();
    }
    if !std::env::args().any(|a| a == "--bench") {
        println!("net_order: checks passed (run `cargo bench` to measure)");
        return;
    }

    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("net_order_enter49");
    g.bench_function("encode_only", |bn| {
        let d = Ouch42Dialect::new(*b"FLOE");
        let mut buf = [0u8; 512];
        let mut n = 0;
        bn.iter(|| {
            n += 1;
            measured_encode_only(black_box(&mut buf), &d, n)
        })
    });
    // The per-send clock reads of the `iter_custom` benches below, to
    // subtract: two `Instant::now` around nothing.
    g.bench_function("timer_overhead", |bn| {
        bn.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let t0 = StdInstant::now();
                black_box(0u32);
                spent += t0.elapsed();
            }
            spent
        })
    });
    g.bench_function("template", |bn| {
        let (mut a, mut b) = pair_with_macs(1024, FLOE_MAC, VENUE_MAC);
        let mut t = Template::new();
        let d = Ouch42Dialect::new(*b"FLOE");
        let mut n = 0;
        bn.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                n += 1;
                let t0 = StdInstant::now();
                black_box(measured_template_send(&mut t, &mut a, &d, n));
                spent += t0.elapsed();
                b.rx_burst(Nanos(0), 32, &mut |_, _| {});
            }
            spent
        })
    });
    for (name, udp) in [("smoltcp", false), ("smoltcp_with_udp", true)] {
        let mut rig = Rig::new(udp);
        g.bench_function(name, |bn| {
            bn.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    let t0 = StdInstant::now();
                    black_box(rig.send());
                    spent += t0.elapsed();
                    rig.between();
                }
                spent
            })
        });
    }
    g.finish();
    c.final_summary();
}
