//! How fast `floe exchange` answers an order: the round trip of one OUCH
//! 5.0 order through the real venue binary, measured with a kernel TCP
//! client on loopback.
//!
//! - `venue_ioc_round_trip`: an Enter Order (IOC, nothing to trade against,
//!   so the book stays empty) in a SoupBinTCP packet, until both of its
//!   reports (Accepted, Canceled — written together) are read back. The
//!   venue runs with its synthetic flow off (`flow_1000` below: on, 1,000
//!   events/s on another symbol, the feed going to a local UDP port).
//! - Peer in the same run, `kernel_tcp_echo`: the same 52-byte packet
//!   echoed by a thread blocked in `read` on a loopback TCP socket
//!   (TCP_NODELAY both sides) — the kernel's round-trip floor.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use floe::order::session::{SessionError, SoupClient, SoupConfig, SoupEvent};
use floe::time::Nanos;
use floe::types::{Price4, Symbol};
use floe::wire::ouch50 as w50;
use floe::wire::soupbintcp::Session;

struct Venue {
    child: Child,
    order: SocketAddr,
    _feed: UdpSocket,
}

impl Drop for Venue {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_venue(flow: bool) -> Venue {
    let feed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = std::env::temp_dir().join(format!("floe-exchange-rtt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join(format!("venue-{flow}.toml"));
    let flow = if flow {
        "enabled = true\nrate_per_sec = 1000\nsymbols = [\"MSFT\"]"
    } else {
        "enabled = false"
    };
    std::fs::write(
        &cfg,
        format!(
            r#"
[[symbols]]
name = "AAPL"
mid = "100.00"
[[symbols]]
name = "MSFT"
mid = "400.00"
[market_data]
destinations = ["{}"]
[[order_ports]]
listen = "127.0.0.1:0"
dialect = "ouch50"
users = [{{ username = "BENCH", password = "bench" }}]
[flow]
{flow}
"#,
            feed.local_addr().unwrap()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_floe"))
        .args(["exchange", "--config"])
        .arg(&cfg)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let order = line
        .split_whitespace()
        .find_map(|t| t.strip_prefix("order="))
        .and_then(|t| t.split_once('/'))
        .map(|(a, _)| a.parse().unwrap())
        .unwrap_or_else(|| panic!("no order port in {line:?}"));
    Venue {
        child,
        order,
        _feed: feed,
    }
}

struct Client {
    stream: TcpStream,
    soup: SoupClient,
    next_ref: u32,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut soup = SoupClient::new(SoupConfig {
            username: *b"BENCH ",
            password: *b"bench     ",
            heartbeat: Nanos::from_secs(1),
            dead_after: Nanos::from_secs(15),
        });
        soup.resume_at(Session::BLANK, 1);
        let mut out = [0u8; 64];
        let n = soup.on_connected(Nanos(0), &mut out).unwrap();
        stream.write_all(&out[..n]).unwrap();
        let mut c = Client {
            stream,
            soup,
            next_ref: 1,
            buf: vec![0; 4096],
        };
        // Login Accepted and the start-of-day System Event.
        c.read_sequenced(1);
        c
    }

    /// Reads until `n` sequenced messages arrived.
    fn read_sequenced(&mut self, n: usize) {
        let mut got = 0;
        while got < n {
            let k = self.stream.read(&mut self.buf).expect("venue answers");
            assert!(k > 0, "venue closed the connection");
            self.soup
                .on_bytes(Nanos(0), &self.buf[..k], &mut |e| {
                    if let SoupEvent::Sequenced { .. } = e {
                        got += 1;
                    }
                })
                .unwrap();
        }
    }

    fn ioc_round_trip(&mut self) {
        let r = w50::EnterOrderRepr {
            user_ref_num: self.next_ref,
            side: w50::BuySell::Buy,
            quantity: 100,
            symbol: Symbol::new("AAPL").unwrap(),
            price: Price4(900_000),
            time_in_force: w50::TimeInForce::IOC,
            display: w50::Display::VISIBLE,
            capacity: w50::Capacity::AGENCY,
            intermarket_sweep: w50::IntermarketSweep::NOT_ELIGIBLE,
            cross_type: w50::CrossType::CONTINUOUS,
            cl_ord_id: *b"BENCH         ",
            options: w50::Options::NONE,
        };
        self.next_ref += 1;
        let mut out = [0u8; 128];
        let n = self
            .soup
            .send_with(Nanos(0), &mut out, |b: &mut [u8]| {
                r.emit(b).map_err(SessionError::from)
            })
            .unwrap();
        self.stream.write_all(&out[..n]).unwrap();
        self.read_sequenced(2);
    }
}

fn venue_round_trip(c: &mut Criterion) {
    let mut g = c.benchmark_group("exchange_rtt");
    g.sample_size(50).measurement_time(Duration::from_secs(5));

    for (name, flow) in [
        ("venue_ioc_round_trip", false),
        ("venue_ioc_round_trip_flow_1000", true),
    ] {
        let venue = start_venue(flow);
        let mut client = Client::connect(venue.order);
        g.bench_function(name, |b| b.iter(|| client.ioc_round_trip()));
        drop(client);
        drop(venue);
    }

    // The kernel's floor: the same packet size echoed over loopback TCP.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut b = [0u8; 52];
        while s.read_exact(&mut b).is_ok() {
            if s.write_all(&b).is_err() {
                break;
            }
        }
    });
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    let mut b = [7u8; 52];
    g.bench_function("kernel_tcp_echo", |bch| {
        bch.iter(|| {
            s.write_all(&b).unwrap();
            s.read_exact(&mut b).unwrap();
        })
    });
    drop(s);
    let _ = echo.join();
    g.finish();
}

criterion_group!(benches, venue_round_trip);
criterion_main!(benches);
