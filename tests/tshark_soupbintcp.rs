//! Cross-check with an independent implementation: tshark 4.0's SoupBinTCP and
//! OUCH 4.x dissectors decode floe-built Ethernet/IPv4/TCP frames carrying a
//! whole SoupBinTCP session with OUCH 4.2 messages in both directions, and
//! every field they show must equal what floe built, with no malformed packet
//! and no expert warning or error (PROTOCOLS.md §3, §4, §7).
//!
//! Frames are built with smoltcp's `wire` reprs (checksums filled) after a
//! three-way handshake, with consistent sequence and acknowledgement numbers,
//! and written to a pcap. Skips with a printed reason when tshark is absent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use floe::types::{Price4, Symbol};
use floe::wire::ouch42 as o42;
use floe::wire::soupbintcp::{ClientPacket, ServerPacket, Session};
use pcap_file::pcap::{PcapPacket, PcapWriter};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol,
    Ipv4Address, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};

const CLIENT_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x01]);
const SERVER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
const CLIENT_IP: Ipv4Address = Ipv4Address::new(198, 18, 0, 1);
const SERVER_IP: Ipv4Address = Ipv4Address::new(198, 18, 0, 2);
const CLIENT_PORT: u16 = 40_001;
const SERVER_PORT: u16 = 15_000;

/// What one SoupBinTCP packet in a frame must decode to.
#[derive(Clone, Debug)]
struct Expect {
    /// Expected `soupbintcp.*` and `ouch.*` fields, in tshark's tree order.
    fields: Vec<Field>,
}

/// A TCP connection between the two hosts, building frames.
struct Conn {
    client_seq: u32,
    server_seq: u32,
    ident: u16,
    frames: Vec<(Vec<u8>, Vec<Expect>)>,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            client_seq: 0x1000_0000,
            server_seq: 0x7000_0000,
            ident: 1,
            frames: Vec::new(),
        }
    }

    fn segment(&mut self, from_client: bool, control: TcpControl, ack: bool, payload: &[u8]) {
        let (src_mac, dst_mac, src_ip, dst_ip, sport, dport) = if from_client {
            (
                CLIENT_MAC,
                SERVER_MAC,
                CLIENT_IP,
                SERVER_IP,
                CLIENT_PORT,
                SERVER_PORT,
            )
        } else {
            (
                SERVER_MAC,
                CLIENT_MAC,
                SERVER_IP,
                CLIENT_IP,
                SERVER_PORT,
                CLIENT_PORT,
            )
        };
        let (seq, peer) = if from_client {
            (self.client_seq, self.server_seq)
        } else {
            (self.server_seq, self.client_seq)
        };
        let tcp = TcpRepr {
            src_port: sport,
            dst_port: dport,
            control,
            seq_number: TcpSeqNumber(seq as i32),
            ack_number: ack.then_some(TcpSeqNumber(peer as i32)),
            window_len: 64_240,
            window_scale: None,
            max_seg_size: (control == TcpControl::Syn).then_some(1460),
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload,
        };
        let ip = Ipv4Repr {
            src_addr: src_ip,
            dst_addr: dst_ip,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let eth = EthernetRepr {
            src_addr: src_mac,
            dst_addr: dst_mac,
            ethertype: EthernetProtocol::Ipv4,
        };
        let len = (eth.buffer_len() + ip.buffer_len() + tcp.buffer_len()).max(60);
        let mut buf = vec![0u8; len];
        let caps = ChecksumCapabilities::default();
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.emit(&mut frame);
        let mut ipp = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut ipp, &caps);
        ipp.set_ident(self.ident);
        ipp.fill_checksum();
        self.ident = self.ident.wrapping_add(1);
        let mut tcpp = TcpPacket::new_unchecked(ipp.payload_mut());
        tcp.emit(
            &mut tcpp,
            &IpAddress::Ipv4(src_ip),
            &IpAddress::Ipv4(dst_ip),
            &caps,
        );
        let used = tcp.segment_len() as u32;
        if from_client {
            self.client_seq = self.client_seq.wrapping_add(used);
        } else {
            self.server_seq = self.server_seq.wrapping_add(used);
        }
        self.frames.push((buf, Vec::new()));
    }

    fn handshake(&mut self) {
        self.segment(true, TcpControl::Syn, false, &[]);
        self.segment(false, TcpControl::Syn, true, &[]);
        self.segment(true, TcpControl::None, true, &[]);
    }

    /// One data segment carrying `bytes`, expected to decode to `expect`.
    fn data(&mut self, from_client: bool, bytes: &[u8], expect: Vec<Expect>) {
        self.segment(from_client, TcpControl::Psh, true, bytes);
        self.frames.last_mut().unwrap().1 = expect;
    }

    fn ack(&mut self, from_client: bool) {
        self.segment(from_client, TcpControl::None, true, &[]);
    }

    fn close(&mut self) {
        self.segment(false, TcpControl::Fin, true, &[]);
        self.segment(true, TcpControl::Fin, true, &[]);
        self.segment(false, TcpControl::None, true, &[]);
    }

    fn write_pcap(&self, path: &Path) {
        let file = std::fs::File::create(path).unwrap();
        let mut w = PcapWriter::new(file).unwrap();
        for (i, (f, _)) in self.frames.iter().enumerate() {
            let ts = Duration::from_secs(1_700_000_000) + Duration::from_millis(i as u64);
            w.write_packet(&PcapPacket::new(ts, f.len() as u32, f))
                .unwrap();
        }
    }
}

fn client(p: ClientPacket<'_>) -> Vec<u8> {
    let mut b = vec![0u8; p.frame_len()];
    p.emit(&mut b).unwrap();
    b
}

fn server(p: ServerPacket<'_>) -> Vec<u8> {
    let mut b = vec![0u8; p.frame_len()];
    p.emit(&mut b).unwrap();
    b
}

fn tshark() -> Option<PathBuf> {
    let out = Command::new("tshark").arg("--version").output().ok()?;
    out.status.success().then(|| PathBuf::from("tshark"))
}

/// How an expected field is compared with tshark's.
#[derive(Clone, Debug)]
enum Shown {
    /// The PDML `show` attribute.
    Show(String),
    /// The PDML `showname` attribute (for fields whose `show` is a placeholder).
    ShowName(String),
}

/// One expected field: name, offset from the start of its SoupBinTCP packet,
/// and its decoded value.
type Field = (&'static str, usize, Shown);

fn show(name: &'static str, off: usize, v: impl ToString) -> Field {
    (name, off, Shown::Show(v.to_string()))
}

fn ch(b: u8) -> String {
    format!("'{}'", b as char)
}

fn text(b: &[u8]) -> String {
    String::from_utf8(b.to_vec()).unwrap()
}

/// tshark's OUCH timestamp format: H:MM:SS.nnnnnnnnn.
fn ts(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    format!(
        "{}:{:02}:{:02}.{:09}",
        s / 3600,
        (s % 3600) / 60,
        s % 60,
        ns % 1_000_000_000
    )
}

/// The fields of an OUCH 4.2 inbound message, at their §4 offsets (+3 for
/// the SoupBinTCP header), named as tshark's `ouch` dissector names them.
/// `None`: tshark 4.0 has no OUCH dissection for the message (Trade Now) and
/// shows its bytes as `soupbintcp.message`.
fn inbound_fields(m: &o42::Inbound) -> Option<Vec<Field>> {
    const H: usize = 3;
    let mut f = vec![show("ouch.packet_type", H, ch(m.message_type()))];
    match m {
        o42::Inbound::EnterOrder(m) => f.extend([
            show("ouch.order_token", H + 1, text(&m.token)),
            show("ouch.buy_sell_indicator", H + 15, ch(m.side.as_byte())),
            show("ouch.shares", H + 16, m.shares),
            show("ouch.stock", H + 20, text(&m.stock.0)),
            show("ouch.price", H + 28, m.price.0),
            show("ouch.tif", H + 32, m.time_in_force),
            show("ouch.firm", H + 36, text(&m.firm)),
            show("ouch.display", H + 40, ch(m.display.0)),
            show("ouch.capacity", H + 41, ch(m.capacity.0)),
            show("ouch.iso_eligible", H + 42, ch(m.intermarket_sweep.0)),
            show("ouch.min_quantity", H + 43, m.min_qty),
            show("ouch.cross_type", H + 47, ch(m.cross_type.0)),
            show("ouch.customer_type", H + 48, ch(m.customer_type.0)),
        ]),
        o42::Inbound::ReplaceOrder(m) => f.extend([
            show("ouch.existing_order_token", H + 1, text(&m.existing_token)),
            show(
                "ouch.replacement_order_token",
                H + 15,
                text(&m.replacement_token),
            ),
            show("ouch.shares", H + 29, m.shares),
            show("ouch.price", H + 33, m.price.0),
            show("ouch.tif", H + 37, m.time_in_force),
            show("ouch.display", H + 41, ch(m.display.0)),
            show("ouch.iso_eligible", H + 42, ch(m.intermarket_sweep.0)),
            show("ouch.min_quantity", H + 43, m.min_qty),
        ]),
        o42::Inbound::CancelOrder(m) => f.extend([
            show("ouch.order_token", H + 1, text(&m.token)),
            show("ouch.shares", H + 15, m.shares),
        ]),
        o42::Inbound::ModifyOrder(m) => f.extend([
            show("ouch.order_token", H + 1, text(&m.token)),
            show("ouch.buy_sell_indicator", H + 15, ch(m.side.as_byte())),
            show("ouch.shares", H + 16, m.shares),
        ]),
        o42::Inbound::TradeNow(_) => return None,
    }
    Some(f)
}

/// The fields of an OUCH 4.2 outbound message, as for [`inbound_fields`].
fn outbound_fields(m: &o42::Outbound) -> Option<Vec<Field>> {
    const H: usize = 3;
    use o42::Outbound as O;
    let mut f = vec![show("ouch.packet_type", H, ch(m.message_type()))];
    let head = |f: &mut Vec<Field>, t: u64, tok: &o42::Token| {
        f.push(show("ouch.timestamp", H + 1, ts(t)));
        f.push(show("ouch.order_token", H + 9, text(tok)));
    };
    match m {
        O::SystemEvent(m) => f.extend([
            show("ouch.timestamp", H + 1, ts(m.timestamp)),
            show("ouch.event_code", H + 9, ch(m.event_code.0)),
        ]),
        O::Accepted(m) => {
            head(&mut f, m.timestamp, &m.token);
            f.extend([
                show("ouch.buy_sell_indicator", H + 23, ch(m.side.as_byte())),
                show("ouch.shares", H + 24, m.shares),
                show("ouch.stock", H + 28, text(&m.stock.0)),
                show("ouch.price", H + 36, m.price.0),
                show("ouch.tif", H + 40, m.time_in_force),
                show("ouch.firm", H + 44, text(&m.firm)),
                show("ouch.display", H + 48, ch(m.display.0)),
                show("ouch.order_reference_number", H + 49, m.order_ref),
                show("ouch.capacity", H + 57, ch(m.capacity.0)),
                show("ouch.iso_eligible", H + 58, ch(m.intermarket_sweep.0)),
                show("ouch.min_quantity", H + 59, m.min_qty),
                show("ouch.cross_type", H + 63, ch(m.cross_type.0)),
                show("ouch.order_state", H + 64, ch(m.state.as_byte())),
                show("ouch.bbo_weight_indicator", H + 65, ch(m.bbo_weight.0)),
            ]);
        }
        O::Replaced(m) => f.extend([
            show("ouch.timestamp", H + 1, ts(m.timestamp)),
            show(
                "ouch.replacement_order_token",
                H + 9,
                text(&m.replacement_token),
            ),
            show("ouch.buy_sell_indicator", H + 23, ch(m.side.as_byte())),
            show("ouch.shares", H + 24, m.shares),
            show("ouch.stock", H + 28, text(&m.stock.0)),
            show("ouch.price", H + 36, m.price.0),
            show("ouch.tif", H + 40, m.time_in_force),
            show("ouch.firm", H + 44, text(&m.firm)),
            show("ouch.display", H + 48, ch(m.display.0)),
            show("ouch.order_reference_number", H + 49, m.order_ref),
            show("ouch.capacity", H + 57, ch(m.capacity.0)),
            show("ouch.iso_eligible", H + 58, ch(m.intermarket_sweep.0)),
            show("ouch.min_quantity", H + 59, m.min_qty),
            show("ouch.cross_type", H + 63, ch(m.cross_type.0)),
            show("ouch.order_state", H + 64, ch(m.state.as_byte())),
            show("ouch.previous_order_token", H + 65, text(&m.previous_token)),
            show("ouch.bbo_weight_indicator", H + 79, ch(m.bbo_weight.0)),
        ]),
        O::Canceled(m) => {
            head(&mut f, m.timestamp, &m.token);
            f.extend([
                show("ouch.decrement_shares", H + 23, m.decrement_shares),
                show("ouch.cancel_reason", H + 27, ch(m.reason.0)),
            ]);
        }
        O::AiqCanceled(m) => {
            head(&mut f, m.timestamp, &m.token);
            f.extend([
                show("ouch.decrement_shares", H + 23, m.decrement_shares),
                show("ouch.cancel_reason", H + 27, ch(m.reason.0)),
                show(
                    "ouch.quantity_prevented_from_trading",
                    H + 28,
                    m.quantity_prevented,
                ),
                show("ouch.execution_price", H + 32, m.execution_price.0),
                show("ouch.liquidity_flag", H + 36, ch(m.liquidity_flag.0)),
            ]);
        }
        O::Executed(m) => {
            head(&mut f, m.timestamp, &m.token);
            f.extend([
                show("ouch.executed_shares", H + 23, m.executed_shares),
                show("ouch.execution_price", H + 27, m.execution_price.0),
                show("ouch.liquidity_flag", H + 31, ch(m.liquidity_flag.0)),
                show("ouch.match_number", H + 32, m.match_number),
            ]);
        }
        O::BrokenTrade(m) => {
            head(&mut f, m.timestamp, &m.token);
            f.extend([
                show("ouch.match_number", H + 23, m.match_number),
                show("ouch.broken_trade_reason", H + 31, ch(m.reason.0)),
            ]);
        }
        O::Rejected(m) => {
            head(&mut f, m.timestamp, &m.token);
            f.push(show("ouch.reject_reason", H + 23, ch(m.reason.0)));
        }
        O::CancelPending(m) => head(&mut f, m.timestamp, &m.token),
        O::CancelReject(m) => head(&mut f, m.timestamp, &m.token),
        O::PriorityUpdate(m) => {
            head(&mut f, m.timestamp, &m.token);
            f.extend([
                show("ouch.price", H + 23, m.price.0),
                show("ouch.display", H + 27, ch(m.display.0)),
                show("ouch.order_reference_number", H + 28, m.order_ref),
            ]);
        }
        O::OrderModified(m) => {
            head(&mut f, m.timestamp, &m.token);
            f.extend([
                show("ouch.buy_sell_indicator", H + 23, ch(m.side.as_byte())),
                show("ouch.shares", H + 24, m.shares),
            ]);
        }
        O::ExecutedWithReferencePrice(m) => {
            head(&mut f, m.timestamp, &m.token);
            f.extend([
                show("ouch.executed_shares", H + 23, m.executed_shares),
                show("ouch.execution_price", H + 27, m.execution_price.0),
                show("ouch.liquidity_flag", H + 31, ch(m.liquidity_flag.0)),
                show("ouch.match_number", H + 32, m.match_number),
                show("ouch.reference_price", H + 40, m.reference_price.0),
                // tshark shows this one as a number.
                show(
                    "ouch.reference_price_type",
                    H + 44,
                    m.reference_price_type.0,
                ),
            ]);
        }
        O::TradeCorrection(m) => {
            head(&mut f, m.timestamp, &m.token);
            f.extend([
                show("ouch.executed_shares", H + 23, m.executed_shares),
                show("ouch.execution_price", H + 27, m.execution_price.0),
                show("ouch.liquidity_flag", H + 31, ch(m.liquidity_flag.0)),
                show("ouch.match_number", H + 32, m.match_number),
                show("ouch.trade_correction_reason", H + 40, ch(m.reason.0)),
            ]);
        }
        O::TradeNowAck(_) => return None,
    }
    Some(f)
}

/// The `soupbintcp.*` fields tshark shows for one packet, ahead of its payload.
fn soup_fields(frame: &[u8], seq: Option<u64>) -> Vec<Field> {
    let plen = u16::from_be_bytes([frame[0], frame[1]]);
    let kind = frame[2];
    let mut f = vec![
        show("soupbintcp.packet_length", 0, plen),
        show("soupbintcp.packet_type", 2, ch(kind)),
    ];
    let sn = |name: &'static str, off: usize, label: &str, v: u64| {
        (name, off, Shown::ShowName(format!("{label}: {v}")))
    };
    match kind {
        b'L' => {
            let v = floe::wire::soupbintcp::LoginRequest::new_checked(frame).unwrap();
            f.extend([
                show("soupbintcp.username", 3, text(&v.username())),
                show("soupbintcp.password", 9, text(&v.password())),
                show("soupbintcp.session", 19, text(&frame[19..29])),
                sn(
                    "soupbintcp.req_seq_num",
                    29,
                    "Requested sequence number",
                    v.sequence(),
                ),
            ]);
        }
        b'A' => {
            let v = floe::wire::soupbintcp::LoginAccepted::new_checked(frame).unwrap();
            f.extend([
                show("soupbintcp.session", 3, v.session().as_str()),
                sn(
                    "soupbintcp.next_seq_num",
                    13,
                    "Next sequence number",
                    v.sequence(),
                ),
            ]);
        }
        b'S' => {
            let n = seq.expect("a sequence number for S");
            f.push((
                "soupbintcp.seq_num",
                3,
                Shown::ShowName(format!("Sequence number: {n} (Calculated)")),
            ));
        }
        b'+' => f.push(show("soupbintcp.text", 3, text(&frame[3..]))),
        _ => {}
    }
    f
}

/// Parses PDML into, per frame, one list per SoupBinTCP packet of its
/// `soupbintcp.*` / `ouch.*` fields with offsets from the packet start; plus
/// per frame every malformed marker and expert severity.
struct Decoded {
    packets: Vec<Vec<(String, usize, String, String)>>,
    malformed: Vec<String>,
    severities: Vec<(u32, String)>,
}

fn parse_pdml(pdml: &str) -> Vec<Decoded> {
    fn attr(line: &str, key: &str) -> Option<String> {
        let start = line.find(&format!(" {key}=\""))? + key.len() + 3;
        let end = start + line[start..].find('"')?;
        Some(
            line[start..end]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&#x27;", "'")
                .replace("&amp;", "&"),
        )
    }
    let mut frames: Vec<Decoded> = Vec::new();
    let mut soup_pos = 0usize;
    for line in pdml.lines() {
        let t = line.trim_start();
        if t.starts_with("<packet>") {
            frames.push(Decoded {
                packets: Vec::new(),
                malformed: Vec::new(),
                severities: Vec::new(),
            });
            continue;
        }
        let Some(cur) = frames.last_mut() else {
            continue;
        };
        if !(t.starts_with("<field ") || t.starts_with("<proto ")) {
            continue;
        }
        let name = attr(t, "name").unwrap_or_default();
        let pos: usize = attr(t, "pos").and_then(|p| p.parse().ok()).unwrap_or(0);
        let shown = attr(t, "show").unwrap_or_default();
        let showname = attr(t, "showname").unwrap_or_default();
        if name == "soupbintcp" && t.starts_with("<proto ") {
            soup_pos = pos;
            cur.packets.push(Vec::new());
        } else if name.starts_with("_ws.malformed") || name == "malformed" {
            cur.malformed.push(showname);
        } else if name == "_ws.expert.severity" {
            cur.severities
                .push((shown.parse().unwrap_or(u32::MAX), showname));
        } else if name.starts_with("soupbintcp.") || name.starts_with("ouch.") {
            if let Some(p) = cur.packets.last_mut() {
                p.push((name, pos - soup_pos, shown, showname));
            }
        }
    }
    frames
}

/// Severity levels of Wireshark's expert info (epan/proto.h).
const PI_WARN: u32 = 0x0060_0000;

#[test]
fn tshark_decodes_floe_soupbintcp_and_ouch42() {
    let Some(tshark) = tshark() else {
        eprintln!("skipping: tshark is not installed (scripts/test installs it)");
        return;
    };

    // The session, as (direction, SoupBinTCP packets) per TCP segment; every
    // S packet gets the next sequence number, starting from Login Accepted's.
    let tok = |n: u8| -> o42::Token {
        let mut t = *b"FLOE0000000000";
        t[13] = b'0' + n;
        t
    };
    let aapl = Symbol::new("AAPL").unwrap();
    let enter = o42::EnterOrderRepr {
        token: tok(1),
        side: o42::BuySell::Buy,
        shares: 100,
        stock: aapl,
        price: Price4(1_234_500),
        time_in_force: o42::TIF_MARKET_HOURS,
        firm: *b"FIRM",
        display: o42::Display::ANONYMOUS,
        capacity: o42::Capacity::AGENCY,
        intermarket_sweep: o42::IntermarketSweep::NOT_ELIGIBLE,
        min_qty: 0,
        cross_type: o42::CrossType::NO_CROSS,
        customer_type: o42::CustomerType::RETAIL,
    };
    let accepted = o42::AcceptedRepr {
        timestamp: 34_200_000_000_123,
        token: tok(1),
        side: o42::BuySell::Buy,
        shares: 100,
        stock: aapl,
        price: Price4(1_234_500),
        time_in_force: o42::TIF_MARKET_HOURS,
        firm: *b"FIRM",
        display: o42::Display::ANONYMOUS,
        order_ref: 987_654_321,
        capacity: o42::Capacity::AGENCY,
        intermarket_sweep: o42::IntermarketSweep::NOT_ELIGIBLE,
        min_qty: 0,
        cross_type: o42::CrossType::NO_CROSS,
        state: o42::OrderState::Live,
        bbo_weight: o42::BboWeight::UNDER_1_PCT,
    };
    let replace = o42::ReplaceOrderRepr {
        existing_token: tok(1),
        replacement_token: tok(2),
        shares: 200,
        price: Price4(1_234_600),
        time_in_force: o42::TIF_IOC,
        display: o42::Display::NON_DISPLAY,
        intermarket_sweep: o42::IntermarketSweep::ELIGIBLE,
        min_qty: 7,
    };
    let replaced = o42::ReplacedRepr {
        timestamp: 34_200_000_100_000,
        replacement_token: tok(2),
        side: o42::BuySell::Buy,
        shares: 200,
        stock: aapl,
        price: Price4(1_234_600),
        time_in_force: o42::TIF_MARKET_HOURS,
        firm: *b"FIRM",
        display: o42::Display::NON_DISPLAY,
        order_ref: 987_654_322,
        capacity: o42::Capacity::AGENCY,
        intermarket_sweep: o42::IntermarketSweep::ELIGIBLE,
        min_qty: 7,
        cross_type: o42::CrossType::NO_CROSS,
        state: o42::OrderState::Live,
        previous_token: tok(1),
        bbo_weight: o42::BboWeight::SETS_QBBO,
    };
    let t = 34_200_000_200_000;
    let outbound = |m| Msg::Out(m);
    enum Msg {
        Soup(Vec<u8>),
        In(o42::Inbound),
        Out(o42::Outbound),
    }
    // (from the client, packets, split the segment at this byte).
    let script: Vec<(bool, Vec<Msg>, Option<usize>)> = vec![
        (
            true,
            vec![Msg::Soup(client(
                ClientPacket::login_request("FLOE", "SECRET", Session::BLANK, 1).unwrap(),
            ))],
            None,
        ),
        (
            false,
            vec![Msg::Soup(server(ServerPacket::LoginAccepted {
                session: Session::new("SESSION001").unwrap(),
                sequence: 1,
            }))],
            None,
        ),
        (
            false,
            vec![outbound(o42::Outbound::SystemEvent(o42::SystemEventRepr {
                timestamp: 34_200_000_000_000,
                event_code: o42::EventCode::START_OF_DAY,
            }))],
            None,
        ),
        (true, vec![Msg::In(o42::Inbound::EnterOrder(enter))], None),
        (
            false,
            vec![outbound(o42::Outbound::Accepted(accepted))],
            Some(30),
        ),
        (
            true,
            vec![Msg::In(o42::Inbound::ReplaceOrder(replace))],
            None,
        ),
        (
            false,
            vec![outbound(o42::Outbound::Replaced(replaced))],
            Some(3),
        ),
        (
            true,
            vec![Msg::In(o42::Inbound::ModifyOrder(o42::ModifyOrderRepr {
                token: tok(2),
                side: o42::BuySell::Buy,
                shares: 150,
            }))],
            None,
        ),
        (
            false,
            vec![
                outbound(o42::Outbound::OrderModified(o42::OrderModifiedRepr {
                    timestamp: t,
                    token: tok(2),
                    side: o42::BuySell::Buy,
                    shares: 150,
                })),
                outbound(o42::Outbound::PriorityUpdate(o42::PriorityUpdateRepr {
                    timestamp: t + 1,
                    token: tok(2),
                    price: Price4(1_234_600),
                    display: o42::Display::NON_DISPLAY,
                    order_ref: 987_654_323,
                })),
            ],
            None,
        ),
        // Two fills and a partial cancel in one segment.
        (
            false,
            vec![
                outbound(o42::Outbound::Executed(o42::ExecutedRepr {
                    timestamp: t + 2,
                    token: tok(2),
                    executed_shares: 40,
                    execution_price: Price4(1_234_600),
                    liquidity_flag: o42::LiquidityFlag::ADDED,
                    match_number: 1_001,
                })),
                outbound(o42::Outbound::Executed(o42::ExecutedRepr {
                    timestamp: t + 3,
                    token: tok(2),
                    executed_shares: 10,
                    execution_price: Price4(1_234_500),
                    liquidity_flag: o42::LiquidityFlag::REMOVED,
                    match_number: 1_002,
                })),
                outbound(o42::Outbound::AiqCanceled(o42::AiqCanceledRepr {
                    timestamp: t + 4,
                    token: tok(2),
                    decrement_shares: 5,
                    reason: o42::CancelReason::SELF_MATCH,
                    quantity_prevented: 5,
                    execution_price: Price4(1_234_600),
                    liquidity_flag: o42::LiquidityFlag::ADDED,
                })),
            ],
            None,
        ),
        (
            false,
            vec![outbound(o42::Outbound::BrokenTrade(o42::BrokenTradeRepr {
                timestamp: t + 5,
                token: tok(2),
                match_number: 1_002,
                reason: o42::BrokenTradeReason::ERRONEOUS,
            }))],
            None,
        ),
        (
            true,
            vec![
                Msg::In(o42::Inbound::CancelOrder(o42::CancelOrderRepr {
                    token: tok(2),
                    shares: 0,
                })),
                Msg::Soup(client(ClientPacket::Heartbeat)),
            ],
            None,
        ),
        (
            false,
            vec![
                outbound(o42::Outbound::CancelPending(o42::CancelPendingRepr {
                    timestamp: t + 6,
                    token: tok(2),
                })),
                outbound(o42::Outbound::CancelReject(o42::CancelRejectRepr {
                    timestamp: t + 7,
                    token: tok(2),
                })),
                outbound(o42::Outbound::Canceled(o42::CanceledRepr {
                    timestamp: t + 8,
                    token: tok(2),
                    decrement_shares: 145,
                    reason: o42::CancelReason::USER,
                })),
                Msg::Soup(server(ServerPacket::Heartbeat)),
            ],
            None,
        ),
        (
            true,
            vec![Msg::In(o42::Inbound::EnterOrder(o42::EnterOrderRepr {
                token: tok(3),
                side: o42::BuySell::SellShortExempt,
                time_in_force: o42::TIF_SYSTEM_HOURS,
                ..enter
            }))],
            None,
        ),
        (
            false,
            vec![
                outbound(o42::Outbound::Rejected(o42::RejectedRepr {
                    timestamp: t + 9,
                    token: tok(3),
                    reason: o42::RejectReason::HALTED,
                })),
                Msg::Soup(server(ServerPacket::Debug(b"floe test"))),
                Msg::Soup(server(ServerPacket::UnsequencedData(b"4.00"))),
            ],
            None,
        ),
        (
            false,
            vec![
                outbound(o42::Outbound::ExecutedWithReferencePrice(
                    o42::ExecutedWithReferencePriceRepr {
                        timestamp: t + 10,
                        token: tok(4),
                        executed_shares: 30,
                        execution_price: Price4(1_234_400),
                        liquidity_flag: o42::LiquidityFlag::REMOVED,
                        match_number: 1_003,
                        reference_price: Price4(1_234_450),
                        reference_price_type: o42::ReferencePriceType::INTRADAY_INDICATIVE_VALUE,
                    },
                )),
                outbound(o42::Outbound::TradeCorrection(o42::TradeCorrectionRepr {
                    timestamp: t + 11,
                    token: tok(4),
                    executed_shares: 30,
                    execution_price: Price4(1_234_420),
                    liquidity_flag: o42::LiquidityFlag::REMOVED,
                    match_number: 1_003,
                    reason: o42::TradeCorrectionReason::ADJUSTED_TO_NAV,
                })),
                outbound(o42::Outbound::TradeNowAck(o42::TradeNowAckRepr {
                    timestamp: t + 12,
                    token: tok(4),
                })),
            ],
            None,
        ),
        (
            true,
            vec![
                Msg::In(o42::Inbound::TradeNow(o42::TradeNowRepr { token: tok(4) })),
                Msg::Soup(client(ClientPacket::Debug(b"bye"))),
            ],
            None,
        ),
        (
            true,
            vec![Msg::Soup(client(ClientPacket::LogoutRequest))],
            None,
        ),
        (
            false,
            vec![Msg::Soup(server(ServerPacket::EndOfSession))],
            None,
        ),
    ];

    let mut conn = Conn::new();
    conn.handshake();
    let mut next_seq = 1u64;
    for (from_client, msgs, split) in &script {
        let mut bytes = Vec::new();
        let mut expect = Vec::new();
        for m in msgs {
            let (frame, ouch) = match m {
                // Data packets built directly carry bytes tshark does not dissect.
                Msg::Soup(f) if matches!(f[2], b'U' | b'S') => (f.clone(), None),
                Msg::Soup(f) => (f.clone(), Some(Vec::new())),
                Msg::In(m) => {
                    let mut b = vec![0u8; m.buffer_len()];
                    m.emit(&mut b).unwrap();
                    (client(ClientPacket::UnsequencedData(&b)), inbound_fields(m))
                }
                Msg::Out(m) => {
                    let mut b = vec![0u8; m.buffer_len()];
                    m.emit(&mut b).unwrap();
                    (server(ServerPacket::SequencedData(&b)), outbound_fields(m))
                }
            };
            let seq = (frame[2] == b'S').then(|| {
                next_seq += 1;
                next_seq - 1
            });
            let mut fields = soup_fields(&frame, seq);
            match ouch {
                Some(ouch) => fields.extend(ouch),
                None => {
                    let hexes: Vec<String> =
                        frame[3..].iter().map(|b| format!("{b:02x}")).collect();
                    fields.push(show("soupbintcp.message", 3, hexes.join(":")));
                }
            }
            expect.push(Expect { fields });
            bytes.extend_from_slice(&frame);
        }
        match split {
            // A packet split across two segments: tshark reassembles it and
            // shows it with the second.
            Some(at) => {
                conn.data(*from_client, &bytes[..*at], Vec::new());
                conn.data(*from_client, &bytes[*at..], expect);
            }
            None => conn.data(*from_client, &bytes, expect),
        }
        conn.ack(!from_client);
    }
    conn.close();

    let pcap = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("floe-soupbintcp-ouch42.pcap");
    conn.write_pcap(&pcap);
    let decode = format!("tcp.port=={SERVER_PORT},soupbintcp");
    let run = |extra: &[&str]| {
        let out = Command::new(&tshark)
            .arg("-r")
            .arg(&pcap)
            .args(["-d", &decode])
            .args(extra)
            .output()
            .expect("run tshark");
        assert!(
            out.status.success(),
            "tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("tshark output is UTF-8")
    };

    // The verbose tree: no malformed packet, no expert error or warning.
    let verbose = run(&["-V"]);
    assert!(!verbose.contains("Malformed"), "tshark -V:\n{verbose}");
    assert!(
        !verbose.contains("Expert Info (Error"),
        "tshark -V:\n{verbose}"
    );
    assert!(
        !verbose.contains("Expert Info (Warn"),
        "tshark -V:\n{verbose}"
    );

    // Field output: per frame the packet types, TCP analysis flags (none: the
    // sequence and acknowledgement numbers are consistent), and checksums.
    let fields = run(&[
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "tcp.check_checksum:TRUE",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
        "-e",
        "soupbintcp.packet_type",
        "-e",
        "tcp.analysis.flags",
        "-e",
        "_ws.malformed",
        "-e",
        "ip.checksum.status",
        "-e",
        "tcp.checksum.status",
    ]);
    let lines: Vec<&str> = fields.lines().collect();
    assert_eq!(lines.len(), conn.frames.len());
    for (i, ((_, expect), line)) in conn.frames.iter().zip(&lines).enumerate() {
        let cols: Vec<&str> = line.split('\t').collect();
        let types: Vec<String> = expect
            .iter()
            .map(|e| match &e.fields[1].2 {
                Shown::Show(s) => s.clone(),
                Shown::ShowName(s) => s.clone(),
            })
            .collect();
        assert_eq!(cols[0], types.join(","), "frame {}: {line}", i + 1);
        assert_eq!(
            cols.get(1).copied().unwrap_or(""),
            "",
            "frame {}: TCP analysis flags",
            i + 1
        );
        assert_eq!(
            cols.get(2).copied().unwrap_or(""),
            "",
            "frame {}: malformed",
            i + 1
        );
        // Wireshark's checksum status 1 = good.
        assert_eq!(
            cols.get(3).copied(),
            Some("1"),
            "frame {}: IPv4 checksum",
            i + 1
        );
        assert_eq!(
            cols.get(4).copied(),
            Some("1"),
            "frame {}: TCP checksum",
            i + 1
        );
    }

    // The PDML tree: every field tshark decodes, at its offset, with its value.
    let decoded = parse_pdml(&run(&["-T", "pdml"]));
    assert_eq!(decoded.len(), conn.frames.len());
    let mut checked = 0;
    for (i, ((_, expect), got)) in conn.frames.iter().zip(&decoded).enumerate() {
        let frame_no = i + 1;
        assert!(
            got.malformed.is_empty(),
            "frame {frame_no}: {:?}",
            got.malformed
        );
        for (sev, what) in &got.severities {
            assert!(*sev < PI_WARN, "frame {frame_no}: expert {what}");
        }
        assert_eq!(
            got.packets.len(),
            expect.len(),
            "frame {frame_no}: packet count"
        );
        for (k, (want, have)) in expect.iter().zip(&got.packets).enumerate() {
            let names: Vec<&str> = have.iter().map(|f| f.0.as_str()).collect();
            let want_names: Vec<&str> = want.fields.iter().map(|f| f.0).collect();
            assert_eq!(names, want_names, "frame {frame_no} packet {k}: fields");
            for ((name, off, shown), (_, got_off, got_show, got_showname)) in
                want.fields.iter().zip(have)
            {
                assert_eq!(
                    got_off, off,
                    "frame {frame_no} packet {k}: offset of {name}"
                );
                match shown {
                    Shown::Show(s) => {
                        assert_eq!(got_show, s, "frame {frame_no} packet {k}: {name}")
                    }
                    Shown::ShowName(s) => {
                        assert_eq!(got_showname, s, "frame {frame_no} packet {k}: {name}")
                    }
                }
                checked += 1;
            }
        }
    }
    let want: usize = conn
        .frames
        .iter()
        .flat_map(|(_, e)| e)
        .map(|e| e.fields.len())
        .sum();
    assert_eq!(checked, want);
    assert!(checked > 200, "only {checked} fields compared");
}
