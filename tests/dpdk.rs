//! The DPDK backend against real ports, in one process with one EAL (DPDK
//! cannot initialise it twice, so this file has its own small harness and
//! runs its scenarios in sequence):
//!
//! - `net_null`: frames go out and the null port's generated frames come in;
//! - `net_ring`: a loopback ring returns every frame sent, in order, intact;
//! - `net_af_packet` on a veth in a network namespace: every datagram a
//!   kernel UDP socket in the other namespace sends arrives once with its
//!   content (full-MTU 1,514-byte frames too), and frames floe sends arrive
//!   at a kernel UDP socket intact.
//!
//! The EAL runs with `--no-huge` from `dpdk-config/af_packet-vdev.conf` plus
//! the null and ring vdevs. Needs root (namespaces, CAP_NET_ADMIN for
//! net_af_packet); skips with a printed reason otherwise.

mod common;

use common::*;
use floe::nic::dpdk::{parse_eal_args, with_file_prefix, DpdkNic, DpdkPortConfig, Eal};
use floe::nic::veth::{self, HostOptions, TestHosts, FLOE_IP, FLOE_MAC, VENUE_IP, VENUE_MAC};
use floe::nic::{send_copy, Nic, NicError};
use floe::time::Nanos;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const DATA_PORT: u16 = 26400;
const VENUE_PORT: u16 = 26401;

fn port(eal: &'static Eal, name: &str) -> DpdkNic {
    let id = eal
        .port_by_name(name)
        .unwrap_or_else(|| panic!("no DPDK port {name}"));
    let mut cfg = DpdkPortConfig::new(id);
    cfg.mbufs = 2047;
    cfg.rx_desc = 512;
    cfg.tx_desc = 512;
    DpdkNic::open(eal, &cfg).unwrap_or_else(|e| panic!("open {name}: {e}"))
}

fn net_null(eal: &'static Eal, _: &TestHosts) {
    let mut nic = port(eal, "net_null0");
    for i in 0..100u8 {
        send_copy(&mut nic, &[i; 60]).unwrap();
        if i % 16 == 0 {
            nic.tx_flush().unwrap();
        }
    }
    nic.tx_flush().unwrap();
    assert_eq!(nic.tx_queued(), 0, "net_null takes every frame");
    assert_eq!(nic.stats().tx_frames, 100);
    // The null port makes up frames of its default size (64 bytes) on rx.
    let mut lens = Vec::new();
    let n = nic.rx_burst(Nanos(5), 16, &mut |f, ts| {
        assert_eq!(ts, Nanos(5));
        lens.push(f.len());
    });
    assert_eq!(n, 16);
    assert!(lens.iter().all(|&l| l == 64), "{lens:?}");
}

fn net_ring(eal: &'static Eal, _: &TestHosts) {
    let mut nic = port(eal, "net_ring0");
    let frames: Vec<Vec<u8>> = (0..300u32)
        .map(|i| {
            let mut f = payload(i);
            f.resize(f.len().max(60), 0);
            f
        })
        .collect();
    let mut got = Vec::new();
    for chunk in frames.chunks(32) {
        for f in chunk {
            send_copy(&mut nic, f).unwrap();
        }
        nic.tx_flush().unwrap();
        assert_eq!(nic.tx_queued(), 0);
        while nic.rx_burst(Nanos(0), 64, &mut |f, _| got.push(f.to_vec())) > 0 {}
    }
    assert_eq!(got, frames, "net_ring returns what was sent, in order");
    // A frame larger than floe's slot is refused before it reaches the port.
    assert!(matches!(
        nic.tx_frame(floe::nic::MAX_FRAME_LEN + 1, &mut |_| 1),
        Err(NicError::FrameTooLarge { .. })
    ));
}

/// net_af_packet's control calls (start, promiscuous, close) are ioctls on
/// the interface by name, so the port is opened, used and closed in vfloe's
/// namespace.
fn af_packet_vdev(eal: &'static Eal, h: &TestHosts) {
    let venue_ns = h.venue_ns();
    veth::run_in_netns(&h.app_ns(), move || {
        af_packet_vdev_in_app_ns(eal, &venue_ns)
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

fn af_packet_vdev_in_app_ns(eal: &'static Eal, venue_ns: &str) {
    let mut nic = port(eal, "net_af_packet0");
    // The port reports vfloe's kernel MAC; floe's own MAC is another one,
    // received because the port is promiscuous.
    assert_eq!(nic.mac(), veth::APP_KERNEL_MAC);

    // Kernel → floe.
    const N_RX: u32 = 2_000;
    let confirmed = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&confirmed);
    let sender = veth::in_netns(venue_ns, move || {
        let sock =
            UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::from(VENUE_IP), VENUE_PORT)).unwrap();
        sock.connect(SocketAddrV4::new(Ipv4Addr::from(FLOE_IP), DATA_PORT))
            .unwrap();
        let end = deadline(30);
        for seq in 0..N_RX {
            while seq.saturating_sub(c.load(Ordering::Acquire)) >= 128 {
                assert!(Instant::now() < end, "receiver stalled at {seq}");
                std::thread::yield_now();
            }
            sock.send(&payload(seq)).unwrap();
        }
    })
    .unwrap();
    let mut seen = vec![0u32; N_RX as usize];
    let mut got = 0;
    let end = deadline(30);
    while got < N_RX {
        assert!(Instant::now() < end, "received {got} of {N_RX}");
        let k = nic.rx_burst(Nanos(0), 32, &mut |f, _| {
            let Some(u) = parse_udp(f) else { return };
            if u.dst.1 != DATA_PORT {
                return;
            }
            assert_eq!((u.src_mac, u.dst_mac), (VENUE_MAC, FLOE_MAC));
            let seq = payload_seq(u.data).expect("payload content");
            seen[seq as usize] += 1;
            got += 1;
        });
        confirmed.store(got, Ordering::Release);
        if k == 0 {
            std::thread::yield_now();
        }
    }
    sender.join().unwrap();
    assert!(seen.iter().all(|&c| c == 1), "every datagram exactly once");

    // Full-MTU frames (1,514 bytes: larger than any MoldUDP64 re-request
    // answer) arrive whole, in one mbuf each.
    full_mtu_rx(&mut nic, venue_ns);

    // floe → kernel.
    const N_TX: u32 = 1_000;
    let confirmed = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&confirmed);
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let receiver = veth::in_netns(venue_ns, move || {
        let sock =
            UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::from(VENUE_IP), VENUE_PORT)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut seen = vec![0u32; N_TX as usize];
        let mut got = 0;
        let mut buf = [0u8; 2048];
        let end = deadline(30);
        while got < N_TX && Instant::now() < end {
            let Ok((len, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            assert_eq!(
                from,
                SocketAddrV4::new(Ipv4Addr::from(FLOE_IP), DATA_PORT).into()
            );
            seen[payload_seq(&buf[..len]).expect("payload content") as usize] += 1;
            got += 1;
            c.store(got, Ordering::Release);
        }
        seen
    })
    .unwrap();
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let end = deadline(30);
    let mut seq = 0;
    while seq < N_TX {
        assert!(Instant::now() < end, "sent {seq} of {N_TX}");
        if seq.saturating_sub(confirmed.load(Ordering::Acquire)) >= 48 {
            nic.tx_flush().unwrap();
            std::thread::yield_now();
            continue;
        }
        let data = payload(seq);
        match nic.tx_frame(HDRS + data.len(), &mut |slot| {
            build_udp(
                slot,
                FLOE_MAC,
                VENUE_MAC,
                (FLOE_IP, DATA_PORT),
                (VENUE_IP, VENUE_PORT),
                &data,
            )
        }) {
            Ok(()) => seq += 1,
            Err(NicError::TxFull) => {
                nic.tx_flush().unwrap();
                std::thread::yield_now();
            }
            Err(e) => panic!("tx_frame: {e}"),
        }
        if seq % 16 == 0 {
            nic.tx_flush().unwrap();
        }
    }
    let end = deadline(10);
    while nic.tx_queued() > 0 {
        assert!(Instant::now() < end, "port never took the last frames");
        nic.tx_flush().unwrap();
        std::thread::yield_now();
    }
    let seen = receiver.join().unwrap();
    let missing: Vec<_> = (0..N_TX)
        .filter(|&s| seen[s as usize] == 0)
        .take(10)
        .collect();
    assert!(
        missing.is_empty(),
        "the venue missed datagrams, first: {missing:?}"
    );
    assert!(seen.iter().all(|&c| c == 1));
}

/// Kernel → floe: datagrams of 1,472 bytes (the UDP payload of a 1,500-byte
/// MTU) each arrive once, 1,514 bytes on the wire, content intact.
fn full_mtu_rx(nic: &mut DpdkNic, venue_ns: &str) {
    const N: u32 = 200;
    const LEN: usize = 1472;
    let big = |seq: u32| -> Vec<u8> {
        let mut p = seq.to_be_bytes().to_vec();
        p.extend((4..LEN).map(|i| (i as u32).wrapping_mul(13).wrapping_add(seq) as u8));
        p
    };
    let confirmed = Arc::new(AtomicU32::new(0));
    let c = Arc::clone(&confirmed);
    let sender = veth::in_netns(venue_ns, move || {
        let sock =
            UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::from(VENUE_IP), VENUE_PORT)).unwrap();
        sock.connect(SocketAddrV4::new(Ipv4Addr::from(FLOE_IP), DATA_PORT))
            .unwrap();
        let end = deadline(30);
        for seq in 0..N {
            while seq.saturating_sub(c.load(Ordering::Acquire)) >= 64 {
                assert!(Instant::now() < end, "receiver stalled at {seq}");
                std::thread::yield_now();
            }
            assert_eq!(sock.send(&big(seq)).unwrap(), LEN);
        }
    })
    .unwrap();
    let dropped_before = nic.stats().rx_dropped;
    let mut seen = vec![0u32; N as usize];
    let mut got = 0;
    let end = deadline(30);
    while got < N {
        assert!(
            Instant::now() < end,
            "received {got} of {N} full-MTU datagrams"
        );
        let k = nic.rx_burst(Nanos(0), 32, &mut |f, _| {
            let Some(u) = parse_udp(f) else { return };
            if u.dst.1 != DATA_PORT {
                return;
            }
            assert_eq!(f.len(), HDRS + LEN, "a whole 1,514-byte frame");
            let seq = u32::from_be_bytes(u.data[..4].try_into().unwrap());
            assert!(seq < N && u.data == big(seq), "content of {seq}");
            seen[seq as usize] += 1;
            got += 1;
        });
        confirmed.store(got, Ordering::Release);
        if k == 0 {
            std::thread::yield_now();
        }
    }
    sender.join().unwrap();
    assert!(seen.iter().all(|&c| c == 1), "every full-MTU datagram once");
    assert_eq!(nic.stats().rx_dropped, dropped_before, "nothing dropped");
}

type Scenario = fn(&'static Eal, &TestHosts);

fn main() {
    let scenarios: [(&str, Scenario); 3] = [
        ("dpdk::net_null_sends_and_receives", net_null),
        ("dpdk::net_ring_returns_every_frame", net_ring),
        (
            "dpdk::net_af_packet_vdev_against_kernel_udp",
            af_packet_vdev,
        ),
    ];
    println!("\nrunning {} tests", scenarios.len());
    if !veth::is_root() {
        eprintln!(
            "skipped: the DPDK tests need root (namespaces, CAP_NET_ADMIN for net_af_packet)"
        );
        println!(
            "test result: ok. 0 passed; 0 failed; {} ignored",
            scenarios.len()
        );
        return;
    }
    let hosts = TestHosts::unique(
        "fdp",
        HostOptions {
            static_neigh: true,
            ..HostOptions::default()
        },
    )
    .expect("create test hosts");
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("dpdk-config/af_packet-vdev.conf");
    let mut args = parse_eal_args(&std::fs::read_to_string(&conf).expect("read the vdev config"));
    args.push("--vdev=net_null0".into());
    args.push("--vdev=net_ring0".into());
    let args = with_file_prefix(args);
    // The af_packet vdev opens its socket during EAL init, in the namespace
    // of the initialising thread: vfloe's.
    let eal = veth::run_in_netns(&hosts.app_ns(), move || Eal::init(args))
        .expect("enter the app namespace")
        .unwrap_or_else(|e| panic!("EAL init: {e}"));
    assert_eq!(eal.port_count(), 3, "three vdevs");

    let (mut passed, mut failed) = (0, 0);
    for (name, run) in scenarios {
        let started = Instant::now();
        let r = std::panic::catch_unwind(AssertUnwindSafe(|| run(eal, &hosts)));
        match r {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok ({:.2?})", started.elapsed());
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED");
            }
        }
    }
    drop(hosts);
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!("\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored");
    if failed > 0 {
        std::process::exit(1);
    }
}
