//! `floe demo --pcap FILE` records the whole wire of the memory pair, and
//! independent decoders read it: Wireshark's dissectors (tshark, with the
//! feed and order ports decoded as MoldUDP64 and SoupBinTCP, checksums
//! verified) report no malformed packet and no expert warning or error (the
//! day ends with a clean FIN exchange, not a reset), and every ITCH
//! message the MoldUDP64 packets carry (downstream and re-request answers)
//! decodes with the `itchy` crate, the same count as the packets announce.

#[path = "common/tshark.rs"]
mod tshark;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, UdpPacket};

/// The demo must end within this.
const DEMO_TIMEOUT: Duration = Duration::from_secs(90);
/// Where the venue publishes, answers re-requests and takes orders
/// (`floe::app::venue_config`).
const FEED_PORT: u16 = 26400;
const REREQUEST_PORT: u16 = 26401;
const ORDER_PORT: u16 = 15000;

/// Runs `floe demo --json --seed 3 --pcap FILE`, bounded.
fn record(path: &Path) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_floe"))
        .args(["demo", "--json", "--seed", "3", "--pcap"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start floe demo");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the demo") {
            break s;
        }
        if t0.elapsed() >= DEMO_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "floe demo --pcap did not end within {DEMO_TIMEOUT:?}: {}",
                e.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = o.join().unwrap_or_default();
    let stderr = e.join().unwrap_or_default();
    assert!(status.success(), "floe demo: {stdout}\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["status"], "FILLED", "{v}");
    assert_eq!(v["pcap"], path.display().to_string());
}

/// The UDP payloads of the capture whose (source, destination) ports pass
/// `want`, in capture order.
fn udp_payloads(path: &Path, want: impl Fn(u16, u16) -> bool) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).expect("open the pcap");
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("a pcap file");
    let mut out = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.expect("a pcap record");
        let Ok(eth) = EthernetFrame::new_checked(&pkt.data[..]) else {
            continue;
        };
        if eth.ethertype() != EthernetProtocol::Ipv4 {
            continue;
        }
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            continue;
        };
        if ip.next_header() != IpProtocol::Udp {
            continue;
        }
        let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
            continue;
        };
        if want(udp.src_port(), udp.dst_port()) {
            out.push(udp.payload().to_vec());
        }
    }
    out
}

/// The message blocks of MoldUDP64 packets (u16 length + message each, the
/// layout of a NASDAQ BinaryFILE) and the message count their headers give.
fn message_blocks(packets: &[Vec<u8>]) -> (Vec<u8>, u64) {
    let mut blocks = Vec::new();
    let mut announced = 0u64;
    for p in packets {
        assert!(p.len() >= 20, "a MoldUDP64 header: {} bytes", p.len());
        let count = u16::from_be_bytes([p[18], p[19]]);
        if count == 0 || count == 0xffff {
            // Heartbeat or end of session.
            assert_eq!(p.len(), 20, "no messages after a heartbeat header");
            continue;
        }
        announced += u64::from(count);
        let mut at = 20;
        for _ in 0..count {
            let len = u16::from_be_bytes([p[at], p[at + 1]]) as usize;
            blocks.extend_from_slice(&p[at..at + 2 + len]);
            at += 2 + len;
        }
        assert_eq!(at, p.len(), "the message blocks fill the packet");
    }
    (blocks, announced)
}

#[test]
fn the_recorded_wire_decodes_in_tshark_and_itchy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo.pcap");
    record(&path);
    assert!(
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > 10_000,
        "a capture was written"
    );

    // Every ITCH message decodes with itchy.
    let mut announced = 0;
    let mut decoded = 0u64;
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    // Downstream packets to the feed's port; answers from the re-request
    // server (the requests to it carry no messages).
    let feed_packets = udp_payloads(&path, |_, dst| dst == FEED_PORT);
    let answers = udp_payloads(&path, |src, _| src == REREQUEST_PORT);
    assert!(!feed_packets.is_empty(), "feed packets in the capture");
    for packets in [feed_packets, answers] {
        let (blocks, n) = message_blocks(&packets);
        announced += n;
        for m in itchy::MessageStream::from_reader(&blocks[..]) {
            let m = m.unwrap_or_else(|e| panic!("itchy refused message {decoded}: {e}"));
            let kind = format!("{:?}", m.body);
            let kind = kind
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or("")
                .to_string();
            *kinds.entry(kind).or_default() += 1;
            decoded += 1;
        }
    }
    assert!(announced > 1_000, "{announced} ITCH messages on the wire");
    assert_eq!(decoded, announced, "itchy decoded every message: {kinds:?}");
    for k in ["StockDirectory", "AddOrder", "OrderExecuted", "SystemEvent"] {
        assert!(kinds.contains_key(k), "{k} messages on the wire: {kinds:?}");
    }

    // Wireshark's dissectors.
    if !tshark::available("the_recorded_wire_decodes_in_tshark_and_itchy") {
        return;
    }
    let feed = format!("udp.port=={FEED_PORT},moldudp64");
    let rereq = format!("udp.port=={REREQUEST_PORT},moldudp64");
    let orders = format!("tcp.port=={ORDER_PORT},soupbintcp");
    let rows = tshark::fields(
        &path,
        &[
            "-d",
            &feed,
            "-d",
            &rereq,
            "-d",
            &orders,
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
        ],
        &[
            "frame.number",
            "frame.protocols",
            "_ws.malformed",
            "_ws.expert.severity",
            "_ws.expert.message",
        ],
    );
    const PI_WARN: u32 = 0x0060_0000;
    let mut protocols: BTreeMap<String, u64> = BTreeMap::new();
    for row in &rows {
        let col = |k: usize| row.get(k).map(String::as_str).unwrap_or("");
        *protocols.entry(col(1).to_string()).or_default() += 1;
        assert_eq!(col(2), "", "malformed: {row:?}");
        for sev in col(3).split(',').filter(|s| !s.is_empty()) {
            let sev: u32 = sev.parse().expect("a severity");
            assert!(sev < PI_WARN, "expert warning or error: {row:?}");
        }
    }
    let has = |p: &str| protocols.keys().any(|s| s.ends_with(p));
    assert!(has("udp:moldudp64"), "feed packets decoded: {protocols:?}");
    assert!(has("tcp:soupbintcp"), "order entry decoded: {protocols:?}");
    assert!(has("eth:ethertype:arp"), "ARP: {protocols:?}");
    assert!(rows.len() > 1_000, "{} frames", rows.len());
}
