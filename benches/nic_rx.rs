//! One-way receive latency, packets per second and syscalls per packet over
//! a veth pair between two network namespaces, for floe's AF_PACKET backend
//! (TPACKET_V2 and V3), the DPDK `net_af_packet` vdev (with `--features
//! dpdk`) and, as the peer measured in the same run, `std::net::UdpSocket`
//! (a blocking `recv`, and a busy-polling non-blocking `recv`).
//!
//! A kernel UDP socket in the venue namespace sends datagrams stamped with
//! CLOCK_MONOTONIC (same host, same clock); the receiver in the appliance
//! namespace busy-polls and records `now − stamp` when the datagram reaches
//! it (hdrhistogram). NIC modes also record the backend's receive timestamp
//! (for af_packet: the kernel's, mapped onto the caller's clock) minus the
//! stamp. Latency is measured at a paced rate; throughput with the sender
//! unpaced. With `--strace`, each receiver also runs as a child process under
//! `strace -c -f` and the syscalls per received datagram are reported.
//!
//! ```text
//! cargo bench --bench nic_rx [--features dpdk] -- [--packets N] [--interval-us U]
//!     [--burst N] [--modes socket-block,socket-spin,v2,v3,dpdk] [--strace]
//! ```
//! Needs root (namespaces, AF_PACKET).

use floe::config::TpacketVersion;
use floe::nic::af_packet::{AfPacketConfig, AfPacketNic};
use floe::nic::veth::{self, HostOptions, TestHosts};
use floe::nic::Nic;
use floe::time::Nanos;
use hdrhistogram::Histogram;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PORT: u16 = 26500;
const SRC_PORT: u16 = 26501;
/// Payload: magic u32, sequence u32, CLOCK_MONOTONIC stamp u64, padding.
const PAYLOAD: usize = 64;
const MAGIC: u32 = 0xf10e_be7c;
const WARMUP: u64 = 500;

fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is valid for writes; CLOCK_MONOTONIC is always present.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    SocketBlock,
    SocketSpin,
    V2,
    V3,
    Dpdk,
}

impl Mode {
    fn parse(s: &str) -> Mode {
        match s {
            "socket-block" => Mode::SocketBlock,
            "socket-spin" => Mode::SocketSpin,
            "v2" => Mode::V2,
            "v3" => Mode::V3,
            "dpdk" => Mode::Dpdk,
            _ => panic!("unknown mode {s}"),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Mode::SocketBlock => "socket-block",
            Mode::SocketSpin => "socket-spin",
            Mode::V2 => "v2",
            Mode::V3 => "v3",
            Mode::Dpdk => "dpdk",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Mode::SocketBlock => "std UdpSocket, blocking recv",
            Mode::SocketSpin => "std UdpSocket, busy-poll recv",
            Mode::V2 => "floe af_packet TPACKET_V2",
            Mode::V3 => "floe af_packet TPACKET_V3",
            Mode::Dpdk => "floe dpdk net_af_packet vdev",
        }
    }
    fn is_socket(self) -> bool {
        matches!(self, Mode::SocketBlock | Mode::SocketSpin)
    }
    /// Where the sender aims: the kernel's address for sockets, floe's for NICs.
    fn dst(self) -> Ipv4Addr {
        if self.is_socket() {
            Ipv4Addr::from(veth::APP_KERNEL_IP)
        } else {
            Ipv4Addr::from(veth::FLOE_IP)
        }
    }
}

#[derive(Clone, Debug)]
struct Opts {
    packets: u64,
    interval_us: u64,
    burst: u64,
    modes: Vec<Mode>,
    strace: bool,
    rounds: u64,
    rt: bool,
    role_receiver: Option<(Mode, String)>,
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        packets: 20_000,
        interval_us: 20,
        burst: 100_000,
        modes: vec![Mode::SocketBlock, Mode::SocketSpin, Mode::V2, Mode::V3],
        strace: false,
        rounds: 4,
        rt: false,
        role_receiver: None,
    };
    if cfg!(feature = "dpdk") {
        o.modes.push(Mode::Dpdk);
    }
    let mut args = std::env::args().skip(1);
    let mut role_mode = None;
    let mut role_ns = None;
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--packets" => o.packets = val().parse().unwrap(),
            "--interval-us" => o.interval_us = val().parse().unwrap(),
            "--burst" => o.burst = val().parse().unwrap(),
            "--modes" => o.modes = val().split(',').map(Mode::parse).collect(),
            "--strace" => o.strace = true,
            "--rounds" => o.rounds = val().parse::<u64>().unwrap().max(1),
            "--rt" => o.rt = true,
            "--receiver" => role_mode = Some(Mode::parse(&val())),
            "--ns" => role_ns = Some(val()),
            // cargo bench passes --bench; criterion-style filters are ignored.
            _ => {}
        }
    }
    if let (Some(m), Some(ns)) = (role_mode, role_ns) {
        o.role_receiver = Some((m, ns));
    }
    o
}

/// What a receiver measured.
struct RxResult {
    app: Histogram<u64>,
    nic_ts: Histogram<u64>,
    received: u64,
    first_ns: u64,
    last_ns: u64,
}

impl RxResult {
    fn new() -> RxResult {
        RxResult {
            app: Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap(),
            nic_ts: Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap(),
            received: 0,
            first_ns: 0,
            last_ns: 0,
        }
    }

    /// Records one datagram payload received at `now` (NIC timestamp `ts`).
    fn record(&mut self, payload: &[u8], now: u64, ts: Option<u64>) {
        let Some(head) = payload.get(..16) else {
            return;
        };
        if u32::from_be_bytes(head[..4].try_into().unwrap()) != MAGIC {
            return;
        }
        let seq = u32::from_be_bytes(head[4..8].try_into().unwrap());
        let stamp = u64::from_be_bytes(head[8..16].try_into().unwrap());
        if self.received == 0 {
            self.first_ns = now;
        }
        self.last_ns = now;
        self.received += 1;
        if u64::from(seq) >= WARMUP {
            let _ = self.app.record(now.saturating_sub(stamp).max(1));
            if let Some(ts) = ts {
                let _ = self.nic_ts.record(ts.saturating_sub(stamp).max(1));
            }
        }
    }
}

/// The UDP payload of an Ethernet/IPv4/UDP frame to `PORT`.
fn udp_payload(f: &[u8]) -> Option<&[u8]> {
    if f.get(12..14)? != [0x08, 0x00] || *f.get(23)? != 17 {
        return None;
    }
    let ihl = usize::from(f.get(14)? & 0x0f) * 4;
    let udp = 14 + ihl;
    if u16::from_be_bytes([*f.get(udp + 2)?, *f.get(udp + 3)?]) != PORT {
        return None;
    }
    f.get(udp + 8..)
}

/// A receiver, set up (socket bound, ring mapped) before the sender starts.
enum Receiver {
    Socket(UdpSocket),
    Nic(Box<dyn Nic>),
}

fn make_receiver(mode: Mode) -> Receiver {
    match mode {
        Mode::SocketBlock | Mode::SocketSpin => {
            let s = UdpSocket::bind(SocketAddrV4::new(mode.dst(), PORT)).expect("bind");
            let spin = mode == Mode::SocketSpin;
            s.set_nonblocking(spin).unwrap();
            if !spin {
                s.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
            }
            Receiver::Socket(s)
        }
        Mode::V2 | Mode::V3 => {
            let v = if mode == Mode::V2 {
                TpacketVersion::V2
            } else {
                TpacketVersion::V3
            };
            let mut c = AfPacketConfig::new(veth::APP_IF).with_version(v);
            c.ring_frames = 4096;
            Receiver::Nic(Box::new(AfPacketNic::open(&c).expect("af_packet")))
        }
        Mode::Dpdk => {
            // A DPDK port opens once per process (closing a vdev removes
            // it): reuse it across phases, dropping what queued meanwhile.
            let mut nic = DPDK_PORT.lock().unwrap().take().unwrap_or_else(dpdk_nic);
            while nic.rx_burst(Nanos(0), 64, &mut |_, _| {}) > 0 {}
            Receiver::Nic(nic)
        }
    }
}

/// The process's DPDK port between phases.
static DPDK_PORT: std::sync::Mutex<Option<Box<dyn Nic>>> = std::sync::Mutex::new(None);

/// Returns a receiver's DPDK port for the next phase.
fn keep_receiver(mode: Mode, r: Receiver) {
    if let (Mode::Dpdk, Receiver::Nic(nic)) = (mode, r) {
        *DPDK_PORT.lock().unwrap() = Some(nic);
    }
}

#[cfg(feature = "dpdk")]
fn dpdk_nic() -> Box<dyn Nic> {
    use floe::nic::dpdk::{parse_eal_args, with_file_prefix, DpdkNic, DpdkPortConfig, Eal};
    let conf =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("dpdk-config/af_packet-vdev.conf");
    let args = with_file_prefix(parse_eal_args(&std::fs::read_to_string(conf).unwrap()));
    let eal = Eal::init(args).expect("EAL");
    let port = eal.port_by_name("net_af_packet0").expect("vdev port");
    let mut cfg = DpdkPortConfig::new(port);
    cfg.rx_desc = 2048;
    Box::new(DpdkNic::open(eal, &cfg).expect("dpdk port"))
}

#[cfg(not(feature = "dpdk"))]
fn dpdk_nic() -> Box<dyn Nic> {
    panic!("mode dpdk needs --features dpdk")
}

/// Receives until `expect` datagrams arrived, `stop` is set and the line
/// went quiet, or the deadline passed.
fn receive(rx: &mut Receiver, expect: u64, stop: &AtomicBool, limit: Duration) -> RxResult {
    let mut r = RxResult::new();
    let end = Instant::now() + limit;
    let mut quiet_since = Instant::now();
    let mut buf = [0u8; 2048];
    while r.received < expect && Instant::now() < end {
        let got = match rx {
            Receiver::Socket(s) => match s.recv(&mut buf) {
                Ok(n) => {
                    let now = mono_ns();
                    r.record(&buf[..n], now, None);
                    1
                }
                Err(_) => 0,
            },
            Receiver::Nic(nic) => nic.rx_burst(Nanos(mono_ns()), 32, &mut |f, ts| {
                if let Some(p) = udp_payload(f) {
                    let now = mono_ns();
                    r.record(p, now, Some(ts.0));
                }
            }),
        };
        if got > 0 {
            quiet_since = Instant::now();
        } else {
            if stop.load(Ordering::Relaxed) && quiet_since.elapsed() > Duration::from_millis(300) {
                break;
            }
            std::hint::spin_loop();
        }
    }
    r
}

/// Sends `n` stamped datagrams to `dst`, one every `interval` (0 = as fast
/// as the socket goes).
fn send(dst: Ipv4Addr, n: u64, interval: Duration) {
    let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::from(veth::VENUE_IP), SRC_PORT))
        .expect("bind sender");
    s.connect(SocketAddrV4::new(dst, PORT)).unwrap();
    let mut p = [0u8; PAYLOAD];
    p[..4].copy_from_slice(&MAGIC.to_be_bytes());
    let start = Instant::now();
    for seq in 0..n {
        if !interval.is_zero() {
            let due = start + interval * seq as u32;
            while Instant::now() < due {
                std::thread::yield_now();
            }
        }
        p[4..8].copy_from_slice(&(seq as u32).to_be_bytes());
        p[8..16].copy_from_slice(&mono_ns().to_be_bytes());
        // ENOBUFS under an unpaced burst is counted as loss by the receiver.
        let _ = s.send(&p);
    }
}

fn pct(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

struct Row {
    mode: Mode,
    lat: RxResult,
    pps: f64,
    burst_received: u64,
    /// Syscalls per packet: including set-up, steady state.
    syscalls_per_packet: Option<(f64, f64)>,
}

/// Puts the calling thread on SCHED_FIFO priority 50 (`--rt`).
fn set_rt() {
    let p = libc::sched_param { sched_priority: 50 };
    // SAFETY: `p` is a valid sched_param; pid 0 is the calling thread.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) } != 0 {
        eprintln!(
            "nic_rx: SCHED_FIFO refused: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// One phase of one mode: a receiver thread in the app namespace, the
/// sender in the venue namespace, `n` datagrams one per `interval`.
fn phase(h: &TestHosts, mode: Mode, n: u64, interval: Duration, rt: bool) -> RxResult {
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let stop_rx = Arc::clone(&stop);
    let rx = veth::in_netns(&h.app_ns(), move || {
        if rt {
            set_rt();
        }
        let mut r = make_receiver(mode);
        ready_tx.send(()).unwrap();
        let res = receive(&mut r, n, &stop_rx, Duration::from_secs(60));
        keep_receiver(mode, r);
        res
    })
    .unwrap();
    ready_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("receiver ready");
    let dst = mode.dst();
    veth::run_in_netns(&h.venue_ns(), move || {
        if rt {
            set_rt();
        }
        send(dst, n, interval)
    })
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    rx.join().unwrap()
}

/// Every mode: latency in `rounds` interleaved rounds (so load that drifts
/// on a shared host hits every mode alike), then throughput unpaced, then
/// (with `--strace`) syscalls per packet.
fn run_all(h: &TestHosts, o: &Opts) -> Vec<Row> {
    let interval = Duration::from_micros(o.interval_us);
    let per_round = (o.packets / o.rounds).max(WARMUP + 1);
    let mut rows: Vec<Row> = o
        .modes
        .iter()
        .map(|&mode| Row {
            mode,
            lat: RxResult::new(),
            pps: 0.0,
            burst_received: 0,
            syscalls_per_packet: None,
        })
        .collect();
    for _ in 0..o.rounds {
        for row in rows.iter_mut() {
            let r = phase(h, row.mode, per_round, interval, o.rt);
            row.lat.app.add(&r.app).unwrap();
            row.lat.nic_ts.add(&r.nic_ts).unwrap();
            row.lat.received += r.received;
        }
    }
    for row in rows.iter_mut() {
        let burst = phase(h, row.mode, o.burst, Duration::ZERO, o.rt);
        let secs = (burst.last_ns.saturating_sub(burst.first_ns)) as f64 / 1e9;
        row.pps = if secs > 0.0 {
            burst.received as f64 / secs
        } else {
            0.0
        };
        row.burst_received = burst.received;
        if o.strace {
            row.syscalls_per_packet = Some(strace_receiver(h, row.mode, o));
        }
    }
    rows
}

/// The receiver of `mode` as a child process under `strace -c -f`, twice:
/// receiving `packets` datagrams, and receiving none (set-up and exit
/// only). Returns syscalls per received datagram including set-up, and in
/// the steady state (the difference of the two runs over the datagrams).
fn strace_receiver(h: &TestHosts, mode: Mode, o: &Opts) -> (f64, f64) {
    let (total, received) = strace_run(h, mode, o.packets, o.interval_us);
    let (setup, _) = strace_run(h, mode, 0, o.interval_us);
    if received == 0 {
        return (f64::NAN, f64::NAN);
    }
    (
        total as f64 / received as f64,
        total.saturating_sub(setup) as f64 / received as f64,
    )
}

/// One child receiver under strace: (syscalls in total, datagrams received).
fn strace_run(h: &TestHosts, mode: Mode, packets: u64, interval_us: u64) -> (u64, u64) {
    let exe = std::env::current_exe().unwrap();
    let out = std::env::temp_dir().join(format!(
        "floe-nic-rx-strace-{}-{}-{packets}",
        std::process::id(),
        mode.name()
    ));
    let mut child = Command::new("strace")
        .arg("-c")
        .arg("-f")
        .arg("-o")
        .arg(&out)
        .arg(&exe)
        .args(["--receiver", mode.name(), "--ns", &h.app_ns(), "--packets"])
        .arg(packets.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run strace");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert_eq!(first, "ready", "child receiver did not start");
    if packets > 0 {
        let dst = mode.dst();
        let interval = Duration::from_micros(interval_us);
        veth::run_in_netns(&h.venue_ns(), move || send(dst, packets, interval)).unwrap();
    }
    let received: u64 = lines
        .next()
        .and_then(Result::ok)
        .and_then(|l| {
            l.strip_prefix("received ")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    child.wait().unwrap();
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    // Columns: % time, seconds, usecs/call, calls, [errors], syscall.
    let calls = |l: &str| -> Option<(String, u64)> {
        let f: Vec<&str> = l.split_whitespace().collect();
        Some((f.last()?.to_string(), f.get(3)?.parse().ok()?))
    };
    let mut rows: Vec<(String, u64)> = text.lines().filter_map(calls).collect();
    let total = rows
        .iter()
        .find(|(n, _)| n == "total")
        .map(|r| r.1)
        .unwrap_or(0);
    rows.retain(|(n, _)| n != "total");
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    let top: Vec<String> = rows
        .iter()
        .take(4)
        .map(|(n, c)| format!("{n}:{c}"))
        .collect();
    eprintln!(
        "nic_rx: strace {} receiver, {packets} datagrams: {total} syscalls ({})",
        mode.name(),
        top.join(" ")
    );
    (total, received)
}

/// `--receiver MODE --ns NS`: the child side of `strace_receiver`.
fn child_receiver(mode: Mode, ns: &str, o: &Opts) {
    veth::enter_netns(ns).expect("enter namespace");
    let mut r = make_receiver(mode);
    println!("ready");
    std::io::stdout().flush().unwrap();
    // Ends when every datagram arrived (or after 30 s if some were lost).
    let stop = AtomicBool::new(false);
    let res = receive(&mut r, o.packets, &stop, Duration::from_secs(30));
    println!("received {}", res.received);
    std::io::stdout().flush().unwrap();
}

fn main() {
    let o = parse_opts();
    if let Some((mode, ns)) = &o.role_receiver {
        child_receiver(*mode, ns, &o);
        return;
    }
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs bench targets too (without
        // `--bench`): the measurement belongs to `cargo bench`.
        eprintln!("nic_rx: a benchmark; run it with `cargo bench --bench nic_rx`");
        return;
    }
    if !veth::is_root() {
        eprintln!("nic_rx: skipped: needs root (network namespaces, AF_PACKET)");
        return;
    }
    if o.strace && !veth::have_command("strace") {
        eprintln!("nic_rx: strace not installed, --strace ignored");
    }
    let hosts = TestHosts::unique(
        "fbn",
        HostOptions {
            static_neigh: true,
            ..HostOptions::default()
        },
    )
    .expect("test hosts");
    #[cfg(feature = "dpdk")]
    if o.modes.contains(&Mode::Dpdk) {
        // The vdev's socket and ioctls belong to vfloe's namespace: the EAL
        // is initialised there once, before any DPDK receiver runs.
        veth::run_in_netns(&hosts.app_ns(), || {
            keep_receiver(Mode::Dpdk, Receiver::Nic(dpdk_nic()))
        })
        .unwrap();
    }
    println!(
        "nic_rx: {} paced datagrams in {} interleaved rounds (1 per {} us, {} B payload, first {} of each round not recorded), {} unpaced{}",
        o.packets,
        o.rounds,
        o.interval_us,
        PAYLOAD,
        WARMUP,
        o.burst,
        if o.rt { ", receiver and sender on SCHED_FIFO 50" } else { "" }
    );
    let rows = run_all(&hosts, &o);
    let sent_paced = (o.packets / o.rounds).max(WARMUP + 1) * o.rounds;
    println!(
        "\n| receiver | p50 us | p99 us | p99.9 us | max us | NIC-ts p50 us | received (paced) | pps unpaced | received (unpaced) | syscalls/pkt (with set-up / steady) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let nic_ts = if !r.lat.nic_ts.is_empty() {
            format!("{:.1}", pct(&r.lat.nic_ts, 0.5))
        } else {
            "-".into()
        };
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {}/{} | {:.0} | {}/{} | {} |",
            r.mode.label(),
            pct(&r.lat.app, 0.5),
            pct(&r.lat.app, 0.99),
            pct(&r.lat.app, 0.999),
            r.lat.app.max() as f64 / 1000.0,
            nic_ts,
            r.lat.received,
            sent_paced,
            r.pps,
            r.burst_received,
            o.burst,
            r.syscalls_per_packet
                .map(|(a, b)| format!("{a:.3} / {b:.4}"))
                .unwrap_or_else(|| "-".into()),
        );
    }
    let p50 = |m: Mode| {
        rows.iter()
            .find(|r| r.mode == m)
            .map(|r| pct(&r.lat.app, 0.5))
    };
    for peer in [Mode::SocketBlock, Mode::SocketSpin] {
        for m in [Mode::V2, Mode::V3, Mode::Dpdk] {
            if let (Some(a), Some(b)) = (p50(m), p50(peer)) {
                println!("p50 ratio {} / {}: {:.2}", m.name(), peer.name(), a / b);
            }
        }
    }
    // Close the DPDK port inside its namespace (its ioctls name vfloe).
    if let Some(nic) = DPDK_PORT.lock().unwrap().take() {
        let _ = veth::run_in_netns(&hosts.app_ns(), move || drop(nic));
    }
    drop(hosts);
}
