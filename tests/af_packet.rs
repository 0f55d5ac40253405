//! AF_PACKET over a veth pair between two network namespaces, against the
//! kernel's own UDP sockets as the peer: every frame a kernel socket sends is
//! received exactly once with its content (TPACKET_V2 and V3), frames floe
//! sends arrive at a kernel socket intact, floe never receives its own
//! frames, and the pcap recorder's file decodes in tshark. Needs root; skips
//! with a printed reason otherwise.

mod common;

use common::*;
use floe::config::TpacketVersion;
use floe::nic::af_packet::{AfPacketConfig, AfPacketNic};
use floe::nic::pcap::{PcapConfig, PcapNic};
use floe::nic::veth::{self, HostOptions, FLOE_IP, FLOE_MAC, VENUE_IP, VENUE_MAC};
use floe::nic::{Nic, NicError};
use floe::time::{Clock, MonotonicClock, Nanos};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

const DATA_PORT: u16 = 26400;
const VENUE_PORT: u16 = 26401;
/// Datagrams in flight at most: keeps the veth backlog and socket buffers
/// from overflowing while one side is descheduled.
const WINDOW: u32 = 256;
/// The same towards a kernel socket, whose default receive buffer (~208 KiB)
/// holds fewer datagrams than floe's ring.
const WINDOW_TO_KERNEL: u32 = 48;

fn open(version: TpacketVersion, ring_frames: u32) -> AfPacketNic {
    let mut cfg = AfPacketConfig::new(veth::APP_IF).with_version(version);
    cfg.ring_frames = ring_frames;
    AfPacketNic::open(&cfg).expect("open af_packet on vfloe")
}

fn hosts(prefix: &str) -> Option<floe::nic::veth::TestHosts> {
    common::hosts(
        prefix,
        HostOptions {
            static_neigh: true,
            ..HostOptions::default()
        },
    )
}

/// Sends `n` datagrams (payloads `0..n`) from the venue's kernel to floe's
/// address, waiting while more than `WINDOW` are unconfirmed by `confirmed`.
fn kernel_sender(venue_ns: &str, n: u32, confirmed: Arc<AtomicU32>) -> veth::NetnsThread<()> {
    veth::in_netns(venue_ns, move || {
        let sock =
            UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::from(VENUE_IP), VENUE_PORT)).unwrap();
        sock.connect(SocketAddrV4::new(Ipv4Addr::from(FLOE_IP), DATA_PORT))
            .unwrap();
        let end = deadline(30);
        for seq in 0..n {
            while seq.saturating_sub(confirmed.load(Ordering::Acquire)) >= WINDOW {
                assert!(Instant::now() < end, "receiver stalled at {seq}");
                std::thread::yield_now();
            }
            sock.send(&payload(seq)).unwrap();
        }
    })
    .unwrap()
}

/// Receives until `n` test datagrams arrived (or the deadline); returns how
/// often each sequence number was seen and how many own frames came back.
fn receive_all(nic: &mut dyn Nic, n: u32, confirmed: &AtomicU32) -> (Vec<u32>, u32) {
    let clock = MonotonicClock::new();
    let mut seen = vec![0u32; n as usize];
    let mut got = 0u32;
    let mut own = 0u32;
    let mut last_ts = Nanos::ZERO;
    let end = deadline(30);
    while got < n {
        assert!(Instant::now() < end, "received {got} of {n} datagrams");
        let now = clock.now();
        let k = nic.rx_burst(now, 32, &mut |f, ts| {
            assert!(ts <= now, "receive timestamp after now");
            assert!(ts >= last_ts || ts + Nanos::from_ms(1) >= last_ts);
            last_ts = ts;
            if f.get(6..12) == Some(&FLOE_MAC[..]) {
                own += 1;
            }
            let Some(u) = parse_udp(f) else { return };
            if u.dst.1 != DATA_PORT {
                return;
            }
            assert_eq!(u.src_mac, VENUE_MAC);
            assert_eq!(u.dst_mac, FLOE_MAC);
            assert_eq!(u.src, (VENUE_IP, VENUE_PORT));
            assert_eq!(u.dst.0, FLOE_IP);
            let seq = payload_seq(u.data).expect("payload content");
            seen[seq as usize] += 1;
            got += 1;
        });
        confirmed.store(got, Ordering::Release);
        if k == 0 {
            std::thread::yield_now();
        }
    }
    (seen, own)
}

fn rx_from_kernel(version: TpacketVersion, prefix: &str) {
    let Some(h) = hosts(prefix) else { return };
    const N: u32 = 4_000;
    let confirmed = Arc::new(AtomicU32::new(0));
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let c = Arc::clone(&confirmed);
    let rx = veth::in_netns(&h.app_ns(), move || {
        let mut nic = open(version, 1024);
        ready_tx.send(()).unwrap();
        let r = receive_all(&mut nic, N, &c);
        (r, nic.stats())
    })
    .unwrap();
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("receiver ready");
    let tx = kernel_sender(&h.venue_ns(), N, confirmed);
    tx.join().unwrap();
    let ((seen, own), stats) = rx.join().unwrap();
    let missing: Vec<_> = (0..N).filter(|&s| seen[s as usize] == 0).take(10).collect();
    let twice: Vec<_> = (0..N).filter(|&s| seen[s as usize] > 1).take(10).collect();
    assert!(missing.is_empty(), "missing datagrams, first: {missing:?}");
    assert!(twice.is_empty(), "duplicated datagrams, first: {twice:?}");
    assert_eq!(own, 0);
    assert_eq!(stats.rx_dropped, 0, "{stats:?}");
    assert!(stats.rx_frames >= u64::from(N));
}

#[test]
fn v2_receives_every_frame_a_kernel_socket_sends() {
    rx_from_kernel(TpacketVersion::V2, "fa2r");
}

#[test]
fn v3_receives_every_frame_a_kernel_socket_sends() {
    rx_from_kernel(TpacketVersion::V3, "fa3r");
}

/// Sends `n` frames built by hand from floe's address to the venue's kernel
/// socket; counts own frames seen on rx meanwhile.
fn send_all(nic: &mut dyn Nic, n: u32, confirmed: &AtomicU32) -> u32 {
    let clock = MonotonicClock::new();
    let mut own = 0u32;
    let end = deadline(30);
    let mut seq = 0;
    let check_rx = |nic: &mut dyn Nic, own: &mut u32| {
        nic.rx_burst(clock.now(), 32, &mut |f, _| {
            if f.get(6..12) == Some(&FLOE_MAC[..]) {
                *own += 1;
            }
        });
    };
    while seq < n {
        assert!(Instant::now() < end, "sent {seq} of {n}");
        if seq.saturating_sub(confirmed.load(Ordering::Acquire)) >= WINDOW_TO_KERNEL {
            nic.tx_flush().unwrap();
            check_rx(nic, &mut own);
            std::thread::yield_now();
            continue;
        }
        let data = payload(seq);
        let r = nic.tx_frame(HDRS + data.len(), &mut |slot| {
            build_udp(
                slot,
                FLOE_MAC,
                VENUE_MAC,
                (FLOE_IP, DATA_PORT),
                (VENUE_IP, VENUE_PORT),
                &data,
            )
        });
        match r {
            Ok(()) => seq += 1,
            Err(NicError::TxFull) => {
                nic.tx_flush().unwrap();
                std::thread::yield_now();
            }
            Err(e) => panic!("tx_frame: {e}"),
        }
        if seq % 32 == 0 {
            nic.tx_flush().unwrap();
            check_rx(nic, &mut own);
        }
    }
    nic.tx_flush().unwrap();
    own
}

/// The venue's kernel socket: receives `n` datagrams from floe, checks each,
/// then answers one datagram "done".
fn kernel_receiver(
    venue_ns: &str,
    n: u32,
    confirmed: Arc<AtomicU32>,
) -> veth::NetnsThread<Vec<u32>> {
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let t = veth::in_netns(venue_ns, move || {
        let sock =
            UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::from(VENUE_IP), VENUE_PORT)).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut seen = vec![0u32; n as usize];
        let mut got = 0;
        let mut buf = [0u8; 2048];
        let end = deadline(30);
        while got < n && Instant::now() < end {
            let Ok((len, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            assert_eq!(
                from,
                SocketAddrV4::new(Ipv4Addr::from(FLOE_IP), DATA_PORT).into()
            );
            let seq = payload_seq(&buf[..len]).expect("payload content");
            seen[seq as usize] += 1;
            got += 1;
            confirmed.store(got, Ordering::Release);
        }
        sock.send_to(
            b"done",
            SocketAddrV4::new(Ipv4Addr::from(FLOE_IP), DATA_PORT),
        )
        .unwrap();
        seen
    })
    .unwrap();
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("venue ready");
    t
}

/// Waits for the venue's "done" datagram; counts own frames meanwhile.
fn await_done(nic: &mut dyn Nic) -> u32 {
    let clock = MonotonicClock::new();
    let end = deadline(10);
    let mut own = 0;
    let mut done = false;
    while !done {
        assert!(Instant::now() < end, "no \"done\" from the venue");
        let k = nic.rx_burst(clock.now(), 32, &mut |f, _| {
            if f.get(6..12) == Some(&FLOE_MAC[..]) {
                own += 1;
            }
            if let Some(u) = parse_udp(f) {
                done |= u.dst.1 == DATA_PORT && u.data == b"done";
            }
        });
        if k == 0 {
            std::thread::yield_now();
        }
    }
    own
}

fn tx_to_kernel(version: TpacketVersion, prefix: &str) {
    let Some(h) = hosts(prefix) else { return };
    const N: u32 = 3_000;
    let confirmed = Arc::new(AtomicU32::new(0));
    let venue = kernel_receiver(&h.venue_ns(), N, Arc::clone(&confirmed));
    let app = veth::in_netns(&h.app_ns(), move || {
        let mut nic = open(version, 256);
        let own = send_all(&mut nic, N, &confirmed) + await_done(&mut nic);
        (own, nic.stats())
    })
    .unwrap();
    let seen = venue.join().unwrap();
    let (own, stats) = app.join().unwrap();
    let missing: Vec<_> = (0..N).filter(|&s| seen[s as usize] == 0).take(10).collect();
    assert!(
        missing.is_empty(),
        "the venue missed datagrams, first: {missing:?}"
    );
    assert!(seen.iter().all(|&c| c == 1), "the venue got duplicates");
    assert_eq!(own, 0, "floe received its own frames");
    assert_eq!(stats.tx_frames, u64::from(N));
}

#[test]
fn v2_sends_frames_a_kernel_socket_receives() {
    tx_to_kernel(TpacketVersion::V2, "fa2t");
}

#[test]
fn v3_sends_frames_a_kernel_socket_receives() {
    tx_to_kernel(TpacketVersion::V3, "fa3t");
}

/// Traffic both ways through a pcap recorder over af_packet: tshark reads
/// the file, finds no malformed packet, and counts as many frames as went
/// through the NIC.
#[test]
fn pcap_of_af_packet_traffic_decodes_in_tshark() {
    if !veth::have_command("tshark") {
        eprintln!("skipped: tshark not installed");
        return;
    }
    let Some(h) = hosts("fpc") else { return };
    const N: u32 = 500;
    let dir = std::env::temp_dir().join(format!("floe-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("af_packet.pcap");

    // floe → venue, then venue → floe, all recorded.
    let confirmed = Arc::new(AtomicU32::new(0));
    let venue = kernel_receiver(&h.venue_ns(), N, Arc::clone(&confirmed));
    let p = path.clone();
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let confirmed_rx = Arc::new(AtomicU32::new(0));
    let c_rx = Arc::clone(&confirmed_rx);
    let app = veth::in_netns(&h.app_ns(), move || {
        let nic = open(TpacketVersion::V2, 1024);
        let mut nic = PcapNic::create(nic, &p, PcapConfig::default()).unwrap();
        let _ = send_all(&mut nic, N, &confirmed);
        await_done(&mut nic);
        ready_tx.send(()).unwrap();
        receive_all(&mut nic, N, &c_rx);
        let frames = nic.inner().stats();
        let records = nic.records();
        assert_eq!(nic.records_dropped(), 0);
        nic.close().unwrap();
        (frames, records)
    })
    .unwrap();
    venue.join().unwrap();
    ready_rx
        .recv_timeout(Duration::from_secs(40))
        .expect("app ready");
    kernel_sender(&h.venue_ns(), N, confirmed_rx)
        .join()
        .unwrap();
    let (stats, records) = app.join().unwrap();
    assert_eq!(records, stats.rx_frames + stats.tx_frames);
    assert!(records >= u64::from(2 * N));

    let tshark = |args: &[&str]| {
        let out = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tshark: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let all = tshark(&["-T", "fields", "-e", "frame.number"]);
    assert_eq!(all.lines().count() as u64, records);
    let udp = tshark(&[
        "-Y",
        "udp.port == 26400 && udp.length > 8",
        "-T",
        "fields",
        "-e",
        "frame.number",
    ]);
    assert!(udp.lines().count() as u64 >= u64::from(2 * N));
    let malformed = tshark(&["-Y", "_ws.malformed || _ws.expert.severity >= 8388608"]);
    assert_eq!(
        malformed.lines().count(),
        0,
        "malformed packets:\n{malformed}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
