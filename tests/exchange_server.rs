//! `floe exchange` end to end on loopback: the real binary on kernel
//! sockets, with floe's own client pieces as peers — std `TcpStream` +
//! `SoupClient` + the OUCH codecs for order entry, std `UdpSocket` +
//! `MoldSession` + the ITCH codec for market data — and the audit file.
//!
//! Every venue runs in its own child process (killed by a guard on drop),
//! on ephemeral ports read from its start-up line. Every wait is bounded and
//! says what it waited for.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use floe::exchange::MarketEvent;
use floe::feed::moldudp64::{MoldConfig, MoldSession};
use floe::order::session::{SoupClient, SoupConfig, SoupEvent};
use floe::order::{encode_id, ChildTag, OrderRef};
use floe::time::Nanos;
use floe::types::{Price4, Side, Symbol};
use floe::wire::itch::Message;
use floe::wire::moldudp64::{Packet, Request};
use floe::wire::soupbintcp::{ClientPacket, Session};
use floe::wire::{ouch42 as w42, ouch50 as w50};

/// The bound on every wait.
const WAIT: Duration = Duration::from_secs(10);

const SESSION: &str = "TESTSESS01";

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

/// A venue listing AAPL and MSFT, with port 0 speaking OUCH 5.0 (accounts
/// FLOE01 and CONTRA, cancel-on-disconnect on) and port 1 speaking OUCH 4.2
/// (account FLOE42, cancel-on-disconnect off). No synthetic flow unless
/// `flow` says otherwise.
fn config(feed: SocketAddr, flow: &str) -> String {
    format!(
        r#"
[venue]
session = "{SESSION}"

[[symbols]]
name = "AAPL"
mid = "100.00"

[[symbols]]
name = "MSFT"
mid = "400.00"

[market_data]
destinations = ["{feed}"]
bind = "127.0.0.1:0"
request_listen = "127.0.0.1:0"
heartbeat_ms = 200

[[order_ports]]
listen = "127.0.0.1:0"
dialect = "ouch50"
cancel_on_disconnect = true
users = [{{ username = "FLOE01", password = "floe" }}, {{ username = "CONTRA", password = "contra" }}]

[[order_ports]]
listen = "127.0.0.1:0"
dialect = "ouch42"
cancel_on_disconnect = false
users = [{{ username = "FLOE42", password = "floe" }}]

[flow]
{flow}
"#
    )
}

const NO_FLOW: &str = "enabled = false";

/// A running `floe exchange`.
struct Venue {
    child: Child,
    dir: PathBuf,
    order: Vec<SocketAddr>,
    rerequest: SocketAddr,
    feed_session: String,
}

impl Venue {
    fn start(name: &str, config: &str) -> Venue {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("exchange_server")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("venue.toml");
        std::fs::write(&cfg, config).unwrap();
        let stderr = File::create(dir.join("stderr.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_floe"))
            .arg("exchange")
            .arg("--config")
            .arg(&cfg)
            .arg("--audit")
            .arg(dir.join("audit.jsonl"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .expect("spawn floe exchange");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut v = Venue {
            child,
            dir,
            order: Vec::new(),
            rerequest: "0.0.0.0:0".parse().unwrap(),
            feed_session: String::new(),
        };
        let line = match rx.recv_timeout(WAIT) {
            Ok(l) => l,
            Err(e) => panic!(
                "no start-up line from floe exchange within {WAIT:?} ({e}); stderr:\n{}",
                v.stderr()
            ),
        };
        assert!(
            line.starts_with("floe exchange listening:"),
            "start-up line: {line}"
        );
        for tok in line.split_whitespace() {
            if let Some(o) = tok.strip_prefix("order=") {
                let (addr, _dialect) = o.split_once('/').unwrap();
                v.order.push(addr.parse().unwrap());
            } else if let Some(r) = tok.strip_prefix("rerequest=") {
                v.rerequest = r.parse().unwrap();
            } else if let Some(s) = tok.strip_prefix("feed_session=") {
                v.feed_session = s.to_string();
            } else if let Some(s) = tok.strip_prefix("session=") {
                assert_eq!(s, SESSION, "{line}");
            }
        }
        assert_eq!(v.order.len(), 2, "{line}");
        v
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
    }

    fn audit(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Waits until the audit file holds at least `n` lines; returns them all.
    fn wait_audit(&self, n: usize) -> Vec<String> {
        let t0 = Instant::now();
        loop {
            let lines = self.audit();
            if lines.len() >= n {
                return lines;
            }
            assert!(
                t0.elapsed() < WAIT,
                "audit has {} lines, expected {n}:\n{}",
                lines.len(),
                lines.join("\n")
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGTERM, then waits (bounded) for the exit.
    fn terminate(&mut self) -> ExitStatus {
        let st = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success(), "kill -TERM failed");
        let t0 = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                t0.elapsed() < WAIT,
                "floe exchange did not exit within {WAIT:?} of SIGTERM; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Venue {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    LoggedIn { session: String, seq: u64 },
    Rejected(u8),
    Seq(u64, Vec<u8>),
    End,
}

/// An order-entry client: a kernel TCP socket and floe's SoupBinTCP client.
struct Client {
    name: String,
    stream: TcpStream,
    soup: SoupClient,
    events: VecDeque<Ev>,
    closed: bool,
    t0: Instant,
}

fn pad<const N: usize>(s: &str) -> [u8; N] {
    let mut b = [b' '; N];
    b[..s.len()].copy_from_slice(s.as_bytes());
    b
}

impl Client {
    /// Connects and sends a Login Request for `session` at `seq`.
    fn login(addr: SocketAddr, user: &str, pass: &str, session: &str, seq: u64) -> Client {
        let stream = TcpStream::connect_timeout(&addr, WAIT).expect("connect to the venue");
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let soup = SoupClient::new(SoupConfig {
            username: pad(user),
            password: pad(pass),
            heartbeat: Nanos::from_ms(1000),
            dead_after: Nanos::from_secs(15),
        });
        let mut c = Client {
            name: format!("{user}@{addr}"),
            stream,
            soup,
            events: VecDeque::new(),
            closed: false,
            t0: Instant::now(),
        };
        let mut buf = [0u8; 64];
        let n = ClientPacket::login_request(user, pass, Session::new(session).unwrap(), seq)
            .unwrap()
            .emit(&mut buf)
            .unwrap();
        c.stream.write_all(&buf[..n]).unwrap();
        c
    }

    /// Logs in and checks Login Accepted at `seq` (the start-of-day System
    /// Event is then message 1 of a fresh account).
    fn logged_in(addr: SocketAddr, user: &str, pass: &str, seq: u64) -> Client {
        let mut c = Client::login(addr, user, pass, SESSION, seq);
        match c.next("Login Accepted") {
            Ev::LoggedIn { session, seq: s } => {
                assert_eq!(session, SESSION);
                assert_eq!(s, seq.max(1));
            }
            other => panic!("{}: expected Login Accepted, got {other:?}", c.name),
        }
        c
    }

    fn now(&self) -> Nanos {
        Nanos::from(self.t0.elapsed())
    }

    /// One read (10 ms at most) into the event queue.
    fn pump(&mut self) {
        if self.closed {
            return;
        }
        let mut buf = [0u8; 8192];
        let now = self.now();
        match self.stream.read(&mut buf) {
            Ok(0) => self.closed = true,
            Ok(n) => {
                let events = &mut self.events;
                self.soup
                    .on_bytes(now, &buf[..n], &mut |e| {
                        events.push_back(match e {
                            SoupEvent::LoggedIn { session, sequence } => Ev::LoggedIn {
                                session: session.as_str().to_string(),
                                seq: sequence,
                            },
                            SoupEvent::Rejected(r) => Ev::Rejected(r.0),
                            SoupEvent::Sequenced { seq, msg } => Ev::Seq(seq, msg.to_vec()),
                            SoupEvent::EndOfSession => Ev::End,
                            other => panic!("unexpected {other:?}"),
                        })
                    })
                    .expect("SoupBinTCP stream from the venue");
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => self.closed = true,
            Err(e) => panic!("{}: read: {e}", self.name),
        }
        let mut out = [0u8; 16];
        let p = self.soup.poll(now, &mut out);
        if p.written > 0 && !self.closed {
            let _ = self.stream.write_all(&out[..p.written]);
        }
    }

    /// The next event, waiting at most [`WAIT`].
    fn next(&mut self, what: &str) -> Ev {
        let t0 = Instant::now();
        loop {
            if let Some(e) = self.events.pop_front() {
                return e;
            }
            assert!(
                !self.closed,
                "{}: connection closed while waiting for {what}",
                self.name
            );
            assert!(
                t0.elapsed() < WAIT,
                "{}: no {what} within {WAIT:?}",
                self.name
            );
            self.pump();
        }
    }

    /// The next event must be sequenced message `seq`; returns its payload.
    fn seq(&mut self, seq: u64, what: &str) -> Vec<u8> {
        match self.next(what) {
            Ev::Seq(s, m) if s == seq => m,
            other => panic!(
                "{}: expected {what} as message {seq}, got {other:?}",
                self.name
            ),
        }
    }

    fn seq50(&mut self, seq: u64, what: &str) -> w50::Outbound {
        let m = self.seq(seq, what);
        w50::Outbound::parse(&m).unwrap_or_else(|e| panic!("{what}: bad OUCH 5.0 {m:02x?}: {e}"))
    }

    fn seq42(&mut self, seq: u64, what: &str) -> w42::Outbound {
        let m = self.seq(seq, what);
        w42::Outbound::parse(&m).unwrap_or_else(|e| panic!("{what}: bad OUCH 4.2 {m:02x?}: {e}"))
    }

    /// Waits until the venue closes the connection; no event may arrive.
    fn expect_closed(&mut self, what: &str) {
        let t0 = Instant::now();
        while !self.closed {
            assert!(
                t0.elapsed() < WAIT,
                "{}: the venue did not close the connection ({what})",
                self.name
            );
            self.pump();
        }
        assert!(
            self.events.is_empty(),
            "{}: {what}: unexpected {:?}",
            self.name,
            self.events
        );
    }

    /// Sends one OUCH inbound message in an Unsequenced Data packet.
    fn send(&mut self, msg: &[u8]) {
        let mut buf = [0u8; 512];
        let now = self.now();
        let n = self
            .soup
            .send_with(now, &mut buf, |b: &mut [u8]| {
                b[..msg.len()].copy_from_slice(msg);
                Ok::<usize, floe::order::session::SessionError>(msg.len())
            })
            .expect("logged in");
        self.stream.write_all(&buf[..n]).unwrap();
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn logout(&mut self) {
        let mut buf = [0u8; 8];
        let n = self.soup.logout(self.now(), &mut buf).unwrap();
        self.stream.write_all(&buf[..n]).unwrap();
    }

    fn next_expected(&self) -> u64 {
        self.soup.next_expected()
    }
}

// ------------------------------------------------------------ messages

fn cl_ord_id(s: &str) -> [u8; 14] {
    pad(s)
}

fn enter50(
    user_ref: u32,
    side: w50::BuySell,
    qty: u32,
    symbol: &str,
    price: u32,
    tif: w50::TimeInForce,
    id: [u8; 14],
) -> Vec<u8> {
    let r = w50::EnterOrderRepr {
        user_ref_num: user_ref,
        side,
        quantity: qty,
        symbol: sym(symbol),
        price: Price4(price),
        time_in_force: tif,
        display: w50::Display::VISIBLE,
        capacity: w50::Capacity::AGENCY,
        intermarket_sweep: w50::IntermarketSweep::NOT_ELIGIBLE,
        cross_type: w50::CrossType::CONTINUOUS,
        cl_ord_id: id,
        options: w50::Options::NONE,
    };
    let mut b = vec![0u8; r.buffer_len()];
    r.emit(&mut b).unwrap();
    b
}

fn cancel50(user_ref: u32, remaining: u32) -> Vec<u8> {
    let mut b = vec![0u8; 9];
    w50::CancelOrderRepr {
        user_ref_num: user_ref,
        quantity: remaining,
    }
    .emit(&mut b)
    .unwrap();
    b
}

fn enter42(
    token: &[u8; 14],
    side: w42::BuySell,
    qty: u32,
    symbol: &str,
    price: u32,
    tif: u32,
) -> Vec<u8> {
    let mut b = vec![0u8; 49];
    w42::EnterOrderRepr {
        token: *token,
        side,
        shares: qty,
        stock: sym(symbol),
        price: Price4(price),
        time_in_force: tif,
        firm: *b"ABCD",
        display: w42::Display::ANONYMOUS,
        capacity: w42::Capacity::PRINCIPAL,
        intermarket_sweep: w42::IntermarketSweep::NOT_ELIGIBLE,
        min_qty: 0,
        cross_type: w42::CrossType::NO_CROSS,
        customer_type: w42::CustomerType::PORT_DEFAULT,
    }
    .emit(&mut b)
    .unwrap();
    b
}

fn replace42(old: &[u8; 14], new: &[u8; 14], qty: u32, price: u32) -> Vec<u8> {
    let mut b = vec![0u8; 47];
    w42::ReplaceOrderRepr {
        existing_token: *old,
        replacement_token: *new,
        shares: qty,
        price: Price4(price),
        time_in_force: w42::TIF_MARKET_HOURS,
        display: w42::Display::ANONYMOUS,
        intermarket_sweep: w42::IntermarketSweep::NOT_ELIGIBLE,
        min_qty: 0,
    }
    .emit(&mut b)
    .unwrap();
    b
}

fn cancel42(token: &[u8; 14], remaining: u32) -> Vec<u8> {
    let mut b = vec![0u8; 19];
    w42::CancelOrderRepr {
        token: *token,
        shares: remaining,
    }
    .emit(&mut b)
    .unwrap();
    b
}

fn accepted50(m: w50::Outbound, what: &str) -> w50::AcceptedRepr {
    match m {
        w50::Outbound::Accepted(a) => a,
        other => panic!("{what}: expected Accepted, got {other:?}"),
    }
}

fn executed50(m: w50::Outbound, what: &str) -> w50::ExecutedRepr {
    match m {
        w50::Outbound::Executed(e) => e,
        other => panic!("{what}: expected Executed, got {other:?}"),
    }
}

fn canceled50(m: w50::Outbound, what: &str) -> w50::CanceledRepr {
    match m {
        w50::Outbound::Canceled(c) => c,
        other => panic!("{what}: expected Canceled, got {other:?}"),
    }
}

/// One audit line: its fields, after checking the exact keys and their order.
#[derive(Debug, PartialEq, Eq)]
struct Audit {
    event: String,
    session: String,
    id: String,
    symbol: String,
    side: String,
    qty: u64,
    price: String,
    reason: Option<String>,
}

fn audit_line(line: &str) -> Audit {
    let v: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("audit line is not JSON ({e}): {line}"));
    let o = v.as_object().unwrap();
    let event = o["event"].as_str().unwrap().to_string();
    let mut keys = vec![
        "ts_ns", "event", "session", "id", "symbol", "side", "qty", "price",
    ];
    if event == "refused" {
        keys.push("reason");
    }
    let mut have: Vec<&str> = o.keys().map(String::as_str).collect();
    have.sort_unstable();
    let mut want = keys.clone();
    want.sort_unstable();
    assert_eq!(have, want, "audit keys: {line}");
    // The keys appear in the specified order.
    let pos: Vec<usize> = keys
        .iter()
        .map(|k| line.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(
        pos.windows(2).all(|w| w[0] < w[1]),
        "audit key order: {line}"
    );
    assert!(o["ts_ns"].as_u64().unwrap() > 0, "{line}");
    assert!(
        ["accepted", "refused", "executed", "canceled"].contains(&event.as_str()),
        "{line}"
    );
    Audit {
        event,
        session: o["session"].as_str().unwrap().to_string(),
        id: o["id"].as_str().unwrap().to_string(),
        symbol: o["symbol"].as_str().unwrap().to_string(),
        side: o["side"].as_str().unwrap().to_string(),
        qty: o["qty"].as_u64().unwrap(),
        price: o["price"].as_str().unwrap().to_string(),
        reason: o.get("reason").map(|r| r.as_str().unwrap().to_string()),
    }
}

fn a(event: &str, session: &str, id: &str, side: &str, qty: u64, price: &str) -> Audit {
    Audit {
        event: event.into(),
        session: session.into(),
        id: id.into(),
        symbol: "AAPL".into(),
        side: side.into(),
        qty,
        price: price.into(),
        reason: None,
    }
}

fn refused(session: &str, id: &str, side: &str, qty: u64, price: &str, reason: &str) -> Audit {
    Audit {
        reason: Some(reason.into()),
        ..a("refused", session, id, side, qty, price)
    }
}

// ------------------------------------------------------------ market data

/// A market-data receiver: a kernel UDP socket and floe's MoldUDP64 session.
struct Feed {
    socket: UdpSocket,
    mold: MoldSession,
    /// Every message delivered, with its sequence number.
    messages: Vec<(u64, Vec<u8>)>,
    seen: usize,
}

impl Feed {
    fn bind() -> Feed {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        Feed {
            socket,
            mold: MoldSession::new(MoldConfig {
                start_sequence: 1,
                max_outstanding: 4,
                request_timeout: Nanos::from_ms(250),
                max_retries: 8,
                reorder_packets: 64,
            }),
            messages: Vec::new(),
            seen: 0,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 2048];
        match self.socket.recv(&mut buf) {
            Ok(n) => {
                let msgs = &mut self.messages;
                self.mold
                    .on_packet(&buf[..n], &mut |seq, m| msgs.push((seq, m.to_vec())));
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("feed recv: {e}"),
        }
    }

    /// The next market event (after those already seen) matching `pred`.
    fn wait_for(&mut self, what: &str, pred: impl Fn(&MarketEvent) -> bool) -> MarketEvent {
        let t0 = Instant::now();
        loop {
            while self.seen < self.messages.len() {
                let (_, m) = &self.messages[self.seen];
                self.seen += 1;
                let msg = Message::parse(m).unwrap_or_else(|e| panic!("bad ITCH {m:02x?}: {e}"));
                if let Some(ev) = MarketEvent::from_itch(&msg) {
                    if pred(&ev) {
                        return ev;
                    }
                }
            }
            assert!(t0.elapsed() < WAIT, "no {what} on the feed within {WAIT:?}");
            self.pump();
        }
    }
}

// ------------------------------------------------------------ tests

#[test]
fn logins_check_credentials_and_session() {
    let feed = Feed::bind();
    let v = Venue::start("logins", &config(feed.addr(), NO_FLOW));
    let port = v.order[0];

    for (user, pass, session, why, reason) in [
        ("FLOE01", "wrong", SESSION, "wrong password", b'A'),
        ("NOBODY", "floe", SESSION, "unknown user", b'A'),
        ("FLOE42", "floe", SESSION, "account of the other port", b'A'),
        ("FLOE01", "floe", "OTHER", "unknown session", b'S'),
    ] {
        let mut c = Client::login(port, user, pass, session, 1);
        assert_eq!(c.next(why), Ev::Rejected(reason), "{why}");
        c.expect_closed(why);
    }

    // Credentials are case-insensitive; a blank session means the current one.
    let mut c = Client::login(port, "floe01", "FLOE", "", 1);
    assert_eq!(
        c.next("login"),
        Ev::LoggedIn {
            session: SESSION.into(),
            seq: 1
        }
    );
    match c.seq50(1, "start of day") {
        w50::Outbound::SystemEvent(e) => assert_eq!(e.event_code, w50::EventCode::START_OF_DAY),
        other => panic!("expected System Event, got {other:?}"),
    }
    // An idle session gets server heartbeats (every second of silence).
    let t0 = Instant::now();
    while c.soup.counters().heartbeats_rx == 0 {
        assert!(t0.elapsed() < WAIT, "no server heartbeat");
        c.pump();
    }
    assert!(c.events.is_empty(), "{:?}", c.events);
}

#[test]
fn ouch50_orders_are_accepted_executed_and_canceled() {
    let feed = Feed::bind();
    let v = Venue::start("ouch50", &config(feed.addr(), NO_FLOW));
    let mut floe = Client::logged_in(v.order[0], "FLOE01", "floe", 1);
    let mut contra = Client::logged_in(v.order[0], "CONTRA", "contra", 1);
    floe.seq(1, "start of day");
    contra.seq(1, "start of day");

    // A floe-minted ClOrdID and a foreign one both come back unchanged.
    let floe_id = encode_id(
        OrderRef(1),
        ChildTag {
            parent: 7,
            child: 1,
        },
    )
    .unwrap();
    floe.send(&enter50(
        1,
        w50::BuySell::Sell,
        300,
        "AAPL",
        1_000_000,
        w50::TimeInForce::DAY,
        floe_id,
    ));
    let acc = accepted50(floe.seq50(2, "Accepted"), "sell");
    assert_eq!(
        (
            acc.user_ref_num,
            acc.side,
            acc.quantity,
            acc.symbol,
            acc.price
        ),
        (1, w50::BuySell::Sell, 300, sym("AAPL"), Price4(1_000_000))
    );
    assert_eq!(acc.state, w50::OrderState::Live);
    assert_eq!(acc.time_in_force, w50::TimeInForce::DAY);
    assert_eq!(acc.cl_ord_id, floe_id);

    let foreign = cl_ord_id("CONTRA-ORDER-1");
    contra.send(&enter50(
        1,
        w50::BuySell::Buy,
        100,
        "AAPL",
        1_000_000,
        w50::TimeInForce::IOC,
        foreign,
    ));
    let cacc = accepted50(contra.seq50(2, "contra Accepted"), "contra");
    assert_eq!(cacc.cl_ord_id, foreign);
    assert_eq!(cacc.time_in_force, w50::TimeInForce::IOC);
    let ce = executed50(contra.seq50(3, "contra Executed"), "contra");
    let fe = executed50(floe.seq50(3, "floe Executed"), "floe");
    assert_eq!(
        (ce.user_ref_num, ce.quantity, ce.price),
        (1, 100, Price4(1_000_000))
    );
    assert_eq!(
        (fe.user_ref_num, fe.quantity, fe.price),
        (1, 100, Price4(1_000_000))
    );
    assert_eq!(ce.liquidity_flag, w50::LiquidityFlag::REMOVED);
    assert_eq!(fe.liquidity_flag, w50::LiquidityFlag::ADDED);
    assert_eq!(ce.match_number, fe.match_number);

    // The rest is canceled by the user.
    floe.send(&cancel50(1, 0));
    let c = canceled50(floe.seq50(4, "Canceled"), "cancel");
    assert_eq!((c.user_ref_num, c.quantity), (1, 200));
    assert_eq!(c.reason, w50::CancelReason::USER);

    // An IOC with nothing to trade against: accepted, then canceled (I).
    contra.send(&enter50(
        2,
        w50::BuySell::Buy,
        100,
        "AAPL",
        990_000,
        w50::TimeInForce::IOC,
        foreign,
    ));
    accepted50(contra.seq50(4, "IOC Accepted"), "ioc");
    let c = canceled50(contra.seq50(5, "IOC Canceled"), "ioc");
    assert_eq!((c.user_ref_num, c.quantity), (2, 100));
    assert_eq!(c.reason, w50::CancelReason::IOC);

    // An unknown symbol is rejected with the ClOrdID echoed.
    floe.send(&enter50(
        2,
        w50::BuySell::Buy,
        100,
        "ZZZZ",
        990_000,
        w50::TimeInForce::DAY,
        cl_ord_id("BAD"),
    ));
    match floe.seq50(5, "Rejected") {
        w50::Outbound::Rejected(r) => {
            assert_eq!(r.user_ref_num, 2);
            assert_eq!(r.reason, w50::RejectReason::INVALID_SYMBOL);
            assert_eq!(r.cl_ord_id, cl_ord_id("BAD"));
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    // Account Query: the next UserRefNum the venue accepts.
    floe.send(b"Q");
    match floe.seq50(6, "Account Query Response") {
        w50::Outbound::AccountQueryResponse(q) => assert_eq!(q.next_user_ref_num, 3),
        other => panic!("expected Account Query Response, got {other:?}"),
    }

    // One audit line per decision, in order.
    let lines = v.wait_audit(8);
    let got: Vec<Audit> = lines.iter().map(|l| audit_line(l)).collect();
    let want = vec![
        a("accepted", "FLOE01", "1", "S", 300, "100.0000"),
        a("accepted", "CONTRA", "1", "B", 100, "100.0000"),
        a("executed", "FLOE01", "1", "S", 100, "100.0000"),
        a("executed", "CONTRA", "1", "B", 100, "100.0000"),
        a("canceled", "FLOE01", "1", "S", 200, "100.0000"),
        a("accepted", "CONTRA", "2", "B", 100, "99.0000"),
        a("canceled", "CONTRA", "2", "B", 100, "99.0000"),
        Audit {
            symbol: "ZZZZ".into(),
            ..refused("FLOE01", "2", "B", 100, "99.0000", "unknown symbol")
        },
    ];
    assert_eq!(got, want);
}

#[test]
fn ouch50_a_non_increasing_user_ref_num_is_not_accepted() {
    let feed = Feed::bind();
    let v = Venue::start("userref", &config(feed.addr(), NO_FLOW));
    let mut c = Client::logged_in(v.order[0], "FLOE01", "floe", 1);
    c.seq(1, "start of day");
    let id = cl_ord_id("X");
    c.send(&enter50(
        10,
        w50::BuySell::Buy,
        100,
        "AAPL",
        990_000,
        w50::TimeInForce::DAY,
        id,
    ));
    assert_eq!(accepted50(c.seq50(2, "Accepted 10"), "10").user_ref_num, 10);
    // The same number again (a resend) and a lower one: silently ignored.
    c.send(&enter50(
        10,
        w50::BuySell::Buy,
        200,
        "AAPL",
        990_000,
        w50::TimeInForce::DAY,
        id,
    ));
    c.send(&enter50(
        5,
        w50::BuySell::Buy,
        300,
        "AAPL",
        990_000,
        w50::TimeInForce::DAY,
        id,
    ));
    // The next message is the barrier's Accepted: nothing for 10 or 5 came first.
    c.send(&enter50(
        11,
        w50::BuySell::Buy,
        400,
        "AAPL",
        990_000,
        w50::TimeInForce::DAY,
        id,
    ));
    let b = accepted50(c.seq50(3, "Accepted 11 (barrier)"), "11");
    assert_eq!((b.user_ref_num, b.quantity), (11, 400));

    let lines = v.wait_audit(4);
    let got: Vec<Audit> = lines.iter().map(|l| audit_line(l)).collect();
    let stale = "ignored: UserRefNum not above the last processed";
    assert_eq!(
        got,
        vec![
            a("accepted", "FLOE01", "10", "B", 100, "99.0000"),
            refused("FLOE01", "10", "B", 200, "99.0000", stale),
            refused("FLOE01", "5", "B", 300, "99.0000", stale),
            a("accepted", "FLOE01", "11", "B", 400, "99.0000"),
        ]
    );
}

#[test]
fn ouch42_any_token_works_and_a_repeated_token_is_not_accepted() {
    let feed = Feed::bind();
    let v = Venue::start("ouch42", &config(feed.addr(), NO_FLOW));
    let mut c = Client::logged_in(v.order[1], "FLOE42", "floe", 1);
    c.seq(1, "start of day");

    let t1: [u8; 14] = pad("MYTOKEN1");
    c.send(&enter42(
        &t1,
        w42::BuySell::Buy,
        200,
        "AAPL",
        995_000,
        w42::TIF_SYSTEM_HOURS,
    ));
    match c.seq42(2, "Accepted MYTOKEN1") {
        w42::Outbound::Accepted(acc) => {
            assert_eq!(acc.token, t1);
            assert_eq!(
                (acc.side, acc.shares, acc.stock),
                (w42::BuySell::Buy, 200, sym("AAPL"))
            );
            assert_eq!(acc.price, Price4(995_000));
            assert_eq!(acc.time_in_force, w42::TIF_SYSTEM_HOURS);
            assert_eq!(acc.firm, *b"ABCD");
            assert_eq!(acc.capacity, w42::Capacity::PRINCIPAL);
            assert_eq!(acc.state, w42::OrderState::Live);
        }
        other => panic!("expected Accepted, got {other:?}"),
    }
    // The token again: ignored. A floe-minted token is the barrier.
    c.send(&enter42(
        &t1,
        w42::BuySell::Buy,
        500,
        "AAPL",
        995_000,
        w42::TIF_MARKET_HOURS,
    ));
    let floe_token = encode_id(
        OrderRef(3),
        ChildTag {
            parent: 2,
            child: 5,
        },
    )
    .unwrap();
    c.send(&enter42(
        &floe_token,
        w42::BuySell::Sell,
        100,
        "AAPL",
        1_010_000,
        w42::TIF_MARKET_HOURS,
    ));
    match c.seq42(3, "Accepted (barrier)") {
        w42::Outbound::Accepted(acc) => assert_eq!((acc.token, acc.shares), (floe_token, 100)),
        other => panic!("expected the barrier's Accepted, got {other:?}"),
    }

    // Replace MYTOKEN1 with a new token, then cancel it under that token.
    let t3: [u8; 14] = pad("MYTOKEN3");
    c.send(&replace42(&t1, &t3, 300, 996_000));
    match c.seq42(4, "Replaced") {
        w42::Outbound::Replaced(r) => {
            assert_eq!((r.replacement_token, r.previous_token), (t3, t1));
            assert_eq!((r.shares, r.price), (300, Price4(996_000)));
            assert_eq!(r.firm, *b"ABCD");
            assert_eq!(r.state, w42::OrderState::Live);
        }
        other => panic!("expected Replaced, got {other:?}"),
    }
    // A cancel of a token the venue never saw: nothing. Then a real one.
    c.send(&cancel42(&pad("NOSUCHTOKEN"), 0));
    c.send(&cancel42(&t3, 0));
    match c.seq42(5, "Canceled") {
        w42::Outbound::Canceled(x) => {
            assert_eq!((x.token, x.decrement_shares), (t3, 300));
            assert_eq!(x.reason, w42::CancelReason::USER);
        }
        other => panic!("expected Canceled, got {other:?}"),
    }
    // The replaced token cannot come back either.
    c.send(&enter42(
        &t3,
        w42::BuySell::Buy,
        100,
        "AAPL",
        990_000,
        w42::TIF_MARKET_HOURS,
    ));
    let t4: [u8; 14] = pad("MYTOKEN4");
    c.send(&enter42(
        &t4,
        w42::BuySell::Buy,
        100,
        "AAPL",
        990_000,
        w42::TIF_IOC,
    ));
    match c.seq42(6, "Accepted MYTOKEN4") {
        w42::Outbound::Accepted(acc) => assert_eq!(acc.token, t4),
        other => panic!("expected Accepted, got {other:?}"),
    }
    match c.seq42(7, "IOC Canceled") {
        w42::Outbound::Canceled(x) => assert_eq!((x.token, x.reason), (t4, w42::CancelReason::IOC)),
        other => panic!("expected Canceled, got {other:?}"),
    }

    let lines = v.wait_audit(9);
    let got: Vec<Audit> = lines.iter().map(|l| audit_line(l)).collect();
    let floe_text = std::str::from_utf8(&floe_token).unwrap();
    let repeated = "ignored: repeated token";
    assert_eq!(
        got,
        vec![
            a("accepted", "FLOE42", "MYTOKEN1", "B", 200, "99.5000"),
            refused("FLOE42", "MYTOKEN1", "B", 500, "99.5000", repeated),
            a("accepted", "FLOE42", floe_text, "S", 100, "101.0000"),
            a("canceled", "FLOE42", "MYTOKEN1", "B", 200, "99.5000"),
            a("accepted", "FLOE42", "MYTOKEN3", "B", 300, "99.6000"),
            a("canceled", "FLOE42", "MYTOKEN3", "B", 300, "99.6000"),
            refused("FLOE42", "MYTOKEN3", "B", 100, "99.0000", repeated),
            a("accepted", "FLOE42", "MYTOKEN4", "B", 100, "99.0000"),
            a("canceled", "FLOE42", "MYTOKEN4", "B", 100, "99.0000"),
        ]
    );
}

#[test]
fn relogin_replays_exactly_the_missed_messages() {
    let feed = Feed::bind();
    let v = Venue::start("replay", &config(feed.addr(), NO_FLOW));
    let (p50, p42) = (v.order[0], v.order[1]);
    let mut c = Client::logged_in(p42, "FLOE42", "floe", 1);
    c.seq(1, "start of day");
    let t1: [u8; 14] = pad("SELL1");
    c.send(&enter42(
        &t1,
        w42::BuySell::Sell,
        500,
        "AAPL",
        1_010_000,
        w42::TIF_MARKET_HOURS,
    ));
    c.seq42(2, "Accepted");
    assert_eq!(c.next_expected(), 3);
    drop(c); // No logout; this port does not cancel on disconnect.

    // Two fills while floe is away.
    let mut contra = Client::logged_in(p50, "CONTRA", "contra", 1);
    contra.seq(1, "start of day");
    for (i, seq) in [(1u32, 2u64), (2, 4)] {
        contra.send(&enter50(
            i,
            w50::BuySell::Buy,
            100,
            "AAPL",
            1_010_000,
            w50::TimeInForce::IOC,
            cl_ord_id("C"),
        ));
        accepted50(contra.seq50(seq, "contra Accepted"), "contra");
        executed50(contra.seq50(seq + 1, "contra Executed"), "contra");
    }

    // Back at 3: exactly messages 3 and 4, then live ones.
    let mut c = Client::logged_in(p42, "FLOE42", "floe", 3);
    for seq in [3, 4] {
        match c.seq42(seq, "replayed Executed") {
            w42::Outbound::Executed(e) => assert_eq!((e.token, e.executed_shares), (t1, 100)),
            other => panic!("expected Executed, got {other:?}"),
        }
    }
    let t2: [u8; 14] = pad("BUY2");
    c.send(&enter42(
        &t2,
        w42::BuySell::Buy,
        100,
        "AAPL",
        900_000,
        w42::TIF_MARKET_HOURS,
    ));
    c.seq42(5, "live Accepted after the replay");

    // A second login from further back replaces the first connection and
    // gets 2..=5 again.
    let mut again = Client::logged_in(p42, "FLOE42", "floe", 2);
    c.expect_closed("replaced by a newer login");
    assert!(matches!(
        again.seq42(2, "replayed Accepted"),
        w42::Outbound::Accepted(_)
    ));
    for seq in [3, 4] {
        assert!(matches!(
            again.seq42(seq, "replayed Executed"),
            w42::Outbound::Executed(_)
        ));
    }
    assert!(matches!(
        again.seq42(5, "replayed Accepted"),
        w42::Outbound::Accepted(_)
    ));
    let t3: [u8; 14] = pad("BUY3");
    again.send(&enter42(
        &t3,
        w42::BuySell::Buy,
        100,
        "AAPL",
        900_000,
        w42::TIF_MARKET_HOURS,
    ));
    again.seq42(6, "live Accepted");
    drop(again);

    // Requested 0, or past the end: served from the next new message.
    let mut next = 7;
    for requested in [0, 1000] {
        let mut c = Client::login(p42, "FLOE42", "floe", SESSION, requested);
        assert_eq!(
            c.next("Login Accepted"),
            Ev::LoggedIn {
                session: SESSION.into(),
                seq: next
            },
            "requested {requested}"
        );
        let t: [u8; 14] = pad(&format!("BARRIER{requested}"));
        c.send(&enter42(
            &t,
            w42::BuySell::Buy,
            100,
            "AAPL",
            900_000,
            w42::TIF_IOC,
        ));
        match c.seq42(next, "no replay: the live Accepted comes first") {
            w42::Outbound::Accepted(acc) => assert_eq!(acc.token, t),
            other => panic!("expected Accepted, got {other:?}"),
        }
        c.seq42(next + 1, "IOC Canceled");
        next += 2;
    }
}

#[test]
fn cancel_on_disconnect_cancels_resting_orders_and_the_reports_are_replayed() {
    let mut feed = Feed::bind();
    let v = Venue::start("cod", &config(feed.addr(), NO_FLOW));
    let p50 = v.order[0];
    let mut c = Client::logged_in(p50, "FLOE01", "floe", 1);
    c.seq(1, "start of day");
    let id = cl_ord_id("K");
    c.send(&enter50(
        1,
        w50::BuySell::Buy,
        200,
        "AAPL",
        990_000,
        w50::TimeInForce::DAY,
        id,
    ));
    let r1 = accepted50(c.seq50(2, "Accepted 1"), "1").order_ref;
    c.send(&enter50(
        2,
        w50::BuySell::Buy,
        100,
        "AAPL",
        980_000,
        w50::TimeInForce::DAY,
        id,
    ));
    let r2 = accepted50(c.seq50(3, "Accepted 2"), "2").order_ref;
    assert_eq!(c.next_expected(), 4);
    drop(c); // The TCP connection drops without a logout.

    let mut c = Client::logged_in(p50, "FLOE01", "floe", 4);
    for (seq, user_ref, qty) in [(4, 1, 200), (5, 2, 100)] {
        let x = canceled50(c.seq50(seq, "replayed Canceled"), "cod");
        assert_eq!((x.user_ref_num, x.quantity), (user_ref, qty));
        assert_eq!(x.reason, w50::CancelReason::SYSTEM);
    }
    // The feed deleted both orders.
    for r in [r1, r2] {
        feed.wait_for(
            "Delete of a canceled order",
            |e| matches!(*e, MarketEvent::Delete { order_ref, .. } if order_ref == r),
        );
    }

    // A logout cancels too.
    c.send(&enter50(
        3,
        w50::BuySell::Buy,
        300,
        "AAPL",
        970_000,
        w50::TimeInForce::DAY,
        id,
    ));
    accepted50(c.seq50(6, "Accepted 3"), "3");
    c.logout();
    c.expect_closed("logout");
    let mut c = Client::logged_in(p50, "FLOE01", "floe", 7);
    let x = canceled50(c.seq50(7, "Canceled after logout"), "logout");
    assert_eq!(
        (x.user_ref_num, x.quantity, x.reason),
        (3, 300, w50::CancelReason::SYSTEM)
    );

    let lines = v.wait_audit(6);
    let got: Vec<Audit> = lines.iter().map(|l| audit_line(l)).collect();
    assert_eq!(
        got,
        vec![
            a("accepted", "FLOE01", "1", "B", 200, "99.0000"),
            a("accepted", "FLOE01", "2", "B", 100, "98.0000"),
            a("canceled", "FLOE01", "1", "B", 200, "99.0000"),
            a("canceled", "FLOE01", "2", "B", 100, "98.0000"),
            a("accepted", "FLOE01", "3", "B", 300, "97.0000"),
            a("canceled", "FLOE01", "3", "B", 300, "97.0000"),
        ]
    );
}

#[test]
fn itch_arrives_over_unicast_and_a_retransmission_is_answered() {
    let mut feed = Feed::bind();
    let v = Venue::start("itch", &config(feed.addr(), NO_FLOW));

    // Start of day: system events, then directory and trading state per symbol.
    let codes = |e: &MarketEvent| match *e {
        MarketEvent::SystemEvent { code, .. } => format!("S{}", code as char),
        MarketEvent::StockDirectory { symbol, .. } => format!("R{symbol}"),
        MarketEvent::TradingAction { symbol, state, .. } => format!("H{symbol}{}", state as char),
        other => format!("{other:?}"),
    };
    let mut opening = Vec::new();
    for _ in 0..7 {
        opening.push(codes(&feed.wait_for("start of day", |_| true)));
    }
    assert_eq!(
        opening,
        ["SO", "SS", "RAAPL", "HAAPLT", "RMSFT", "HMSFTT", "SQ"]
    );

    // floe's own order is on the feed.
    let mut c = Client::logged_in(v.order[0], "FLOE01", "floe", 1);
    c.seq(1, "start of day");
    c.send(&enter50(
        1,
        w50::BuySell::Buy,
        700,
        "MSFT",
        3_999_900,
        w50::TimeInForce::DAY,
        cl_ord_id("I"),
    ));
    let acc = accepted50(c.seq50(2, "Accepted"), "itch");
    let add = feed.wait_for("the order's Add Order", |e| {
        matches!(e, MarketEvent::AddOrder { .. })
    });
    match add {
        MarketEvent::AddOrder {
            locate,
            order_ref,
            side,
            qty,
            symbol,
            price,
            attribution,
            ..
        } => {
            assert_eq!(order_ref, acc.order_ref);
            assert_eq!(
                (locate, side, qty.0, symbol),
                (2, Side::Buy, 700, sym("MSFT"))
            );
            assert_eq!((price, attribution), (Price4(3_999_900), None));
        }
        other => panic!("{other:?}"),
    }

    // Ask the re-request server for messages 2..=6 from another socket.
    let asker = UdpSocket::bind("127.0.0.1:0").unwrap();
    asker.set_read_timeout(Some(WAIT)).unwrap();
    let mut session = [b' '; 10];
    session[..v.feed_session.len()].copy_from_slice(v.feed_session.as_bytes());
    let mut req = [0u8; 20];
    Request {
        session,
        sequence: 2,
        message_count: 5,
    }
    .emit(&mut req)
    .unwrap();
    asker.send_to(&req, v.rerequest).unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = asker
        .recv_from(&mut buf)
        .expect("a retransmission within the wait");
    assert_eq!(from, v.rerequest, "answered from the re-request server");
    let p = Packet::new_checked(&buf[..n]).unwrap();
    assert_eq!(*p.session(), session);
    assert_eq!((p.sequence(), p.message_count()), (2, 5));
    let resent: Vec<Vec<u8>> = p.blocks().map(|b| b.unwrap().to_vec()).collect();
    let original: Vec<Vec<u8>> = feed
        .messages
        .iter()
        .filter(|(s, _)| (2..7).contains(s))
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(resent, original, "retransmitted bytes equal the originals");
}

#[test]
fn the_flow_fills_a_passive_order_at_the_touch() {
    let mut feed = Feed::bind();
    // No random walk: the flow's bid stays at the mid, 100.00.
    let flow = "enabled = true\nseed = 7\nrate_per_sec = 2000\nwalk_share = 0.0\nspread_ticks = 1\nsymbols = [\"AAPL\"]";
    let v = Venue::start("flow", &config(feed.addr(), flow));
    feed.wait_for("flow trading", |e| {
        matches!(e, MarketEvent::Executed { .. })
    });
    let mut c = Client::logged_in(v.order[0], "FLOE01", "floe", 1);
    c.seq(1, "start of day");
    c.send(&enter50(
        1,
        w50::BuySell::Buy,
        300,
        "AAPL",
        1_000_000,
        w50::TimeInForce::DAY,
        cl_ord_id("P"),
    ));
    let acc = accepted50(c.seq50(2, "Accepted"), "passive");
    assert_eq!(acc.state, w50::OrderState::Live);
    let mut filled = 0;
    let mut seq = 3;
    while filled < 300 {
        let e = executed50(c.seq50(seq, "an execution of the passive order"), "flow");
        assert_eq!((e.user_ref_num, e.price), (1, Price4(1_000_000)));
        assert_eq!(e.liquidity_flag, w50::LiquidityFlag::ADDED);
        filled += e.quantity;
        seq += 1;
    }
    assert_eq!(filled, 300, "filled exactly");
    // Its executions are on the feed.
    feed.wait_for(
        "an Executed of the passive order",
        |e| matches!(*e, MarketEvent::Executed { order_ref, .. } if order_ref == acc.order_ref),
    );
}

#[test]
fn malformed_input_is_ignored_and_a_broken_stream_is_closed() {
    let feed = Feed::bind();
    let v = Venue::start("malformed", &config(feed.addr(), NO_FLOW));
    let mut c = Client::logged_in(v.order[0], "FLOE01", "floe", 1);
    c.seq(1, "start of day");
    let good = enter50(
        1,
        w50::BuySell::Buy,
        100,
        "AAPL",
        990_000,
        w50::TimeInForce::DAY,
        cl_ord_id("M"),
    );
    let mut bad_side = good.clone();
    bad_side[5] = b'?';
    let mut huge_price = good.clone();
    huge_price[18..26].copy_from_slice(&u64::MAX.to_be_bytes());
    for junk in [
        &b"Z"[..],
        &good[..20],
        &bad_side,
        &huge_price,
        &[b'M', 0, 0, 0, 1, b'S', 0, 0, 0, 0][..],
    ] {
        c.send(junk);
    }
    c.send(&good);
    assert_eq!(
        accepted50(c.seq50(2, "Accepted after the junk"), "good").user_ref_num,
        1,
        "the connection survived the junk and nothing answered it"
    );
    // A packet length of 0 cannot be framed: the venue closes the stream
    // (and cancels the order: cancel-on-disconnect).
    c.send_raw(&[0, 0]);
    c.expect_closed("broken framing");
    let mut c = Client::logged_in(v.order[0], "FLOE01", "floe", 3);
    let x = canceled50(c.seq50(3, "Canceled on disconnect"), "broken");
    assert_eq!(x.user_ref_num, 1);
    // Unsequenced data before login is a protocol violation.
    let mut early = TcpStream::connect_timeout(&v.order[1], WAIT).unwrap();
    early.set_read_timeout(Some(WAIT)).unwrap();
    early.write_all(&[0, 2, b'U', b'O']).unwrap();
    let mut b = [0u8; 16];
    assert_eq!(
        early.read(&mut b).unwrap_or(0),
        0,
        "closed without an answer"
    );
    // Nothing but the order and its cancel-on-disconnect was decided.
    let got: Vec<Audit> = v.wait_audit(2).iter().map(|l| audit_line(l)).collect();
    assert_eq!(
        got,
        vec![
            a("accepted", "FLOE01", "1", "B", 100, "99.0000"),
            a("canceled", "FLOE01", "1", "B", 100, "99.0000"),
        ]
    );
}

#[test]
fn sigterm_ends_the_day_on_every_session_and_the_feed() {
    let mut feed = Feed::bind();
    let mut v = Venue::start("sigterm", &config(feed.addr(), NO_FLOW));
    let mut c = Client::logged_in(v.order[0], "FLOE01", "floe", 1);
    c.seq(1, "start of day");
    c.send(&enter50(
        1,
        w50::BuySell::Buy,
        100,
        "AAPL",
        990_000,
        w50::TimeInForce::DAY,
        cl_ord_id("T"),
    ));
    accepted50(c.seq50(2, "Accepted"), "t");
    feed.wait_for("the Add Order", |e| {
        matches!(e, MarketEvent::AddOrder { .. })
    });
    let status = v.terminate();
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        v.stderr()
    );
    match c.seq50(3, "end of day") {
        w50::Outbound::SystemEvent(e) => assert_eq!(e.event_code, w50::EventCode::END_OF_DAY),
        other => panic!("expected System Event E, got {other:?}"),
    }
    assert_eq!(c.next("End of Session"), Ev::End);
    // The feed closes the day and ends the session.
    for code in [b'M', b'E', b'C'] {
        feed.wait_for(
            "end-of-day system event",
            |e| matches!(*e, MarketEvent::SystemEvent { code: c, .. } if c == code),
        );
    }
    let t0 = Instant::now();
    while !feed.mold.is_finished() {
        assert!(t0.elapsed() < WAIT, "no end-of-session packet on the feed");
        feed.pump();
    }
    // The resting order was not canceled (the venue ended the session), and
    // the audit file is complete.
    let got: Vec<Audit> = v.audit().iter().map(|l| audit_line(l)).collect();
    assert_eq!(got, vec![a("accepted", "FLOE01", "1", "B", 100, "99.0000")]);
}
