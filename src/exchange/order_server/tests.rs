//! Unit tests of the order server, in memory, with floe's SoupBinTCP client
//! session as the peer and a manual clock.

use super::*;
use crate::exchange::matching::MatchingConfig;
use crate::order::session::{SoupClient, SoupConfig, SoupEvent};
use crate::time::Nanos;
use crate::types::{Price4, Symbol};
use proptest::prelude::*;

const MS: u64 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    LoggedIn(u64),
    Rejected(u8),
    Seq(u64, Vec<u8>),
    End,
}

struct Harness {
    engine: MatchingEngine,
    server: OrderServer,
    market: Vec<MarketEvent>,
    audit: Vec<u8>,
}

fn spec(dialect: Dialect, cancel_on_disconnect: bool) -> PortSpec {
    PortSpec {
        label: 15000,
        dialect,
        session: Session::new("DAY1").unwrap(),
        heartbeat_ns: 1000 * MS,
        dead_after_ns: 15_000 * MS,
        login_timeout_ns: 30_000 * MS,
        cancel_on_disconnect,
        mpid: None,
        users: vec![
            ("FLOE01".into(), "floe".into()),
            ("OTHER".into(), "pw".into()),
        ],
    }
}

fn aapl() -> Symbol {
    Symbol::new("AAPL").unwrap()
}

impl Harness {
    fn new(dialect: Dialect, cancel_on_disconnect: bool) -> Harness {
        let mut engine = MatchingEngine::new(&MatchingConfig {
            symbols: vec![aapl()],
            ..Default::default()
        });
        let mut server =
            OrderServer::new(vec![spec(dialect, cancel_on_disconnect)], &mut engine).unwrap();
        server.open(0);
        Harness {
            engine,
            server,
            market: Vec::new(),
            audit: Vec::new(),
        }
    }

    fn bytes(&mut self, id: ConnId, now: u64, data: &[u8]) {
        let mut ctx = Ctx {
            engine: &mut self.engine,
            market: &mut self.market,
            audit: &mut self.audit,
        };
        self.server.on_bytes(id, now, data, &mut ctx);
    }

    fn pump(&mut self, now: u64) {
        let mut ctx = Ctx {
            engine: &mut self.engine,
            market: &mut self.market,
            audit: &mut self.audit,
        };
        self.server.pump(now, &mut ctx);
    }

    fn closed(&mut self, id: ConnId, now: u64) {
        let mut ctx = Ctx {
            engine: &mut self.engine,
            market: &mut self.market,
            audit: &mut self.audit,
        };
        self.server.on_closed(id, now, &mut ctx);
    }

    /// Connects `user` asking for `seq`.
    fn login(&mut self, now: u64, user: &str, pass: &str, seq: u64) -> (ConnId, SoupClient) {
        let mut u = [b' '; USERNAME_LEN];
        u[..user.len()].copy_from_slice(user.as_bytes());
        let mut p = [b' '; PASSWORD_LEN];
        p[..pass.len()].copy_from_slice(pass.as_bytes());
        let mut client = SoupClient::new(SoupConfig {
            username: u,
            password: p,
            heartbeat: Nanos::from_ms(1000),
            dead_after: Nanos::from_ms(15_000),
        });
        client.resume_at(Session::new("DAY1").unwrap(), seq);
        let id = self.server.accept(0, now);
        let mut out = [0u8; 64];
        let n = client.on_connected(Nanos(now), &mut out).unwrap();
        self.bytes(id, now, &out[..n]);
        (id, client)
    }

    /// Moves everything pending on `id` (at most `limit` bytes per write)
    /// into `client`, pumping the server between writes.
    fn drain(&mut self, id: ConnId, client: &mut SoupClient, now: u64, limit: usize) -> Vec<Ev> {
        let mut evs = Vec::new();
        loop {
            self.pump(now);
            let pending = self.server.pending(id);
            if pending.is_empty() {
                return evs;
            }
            let n = pending.len().min(limit);
            let chunk = pending[..n].to_vec();
            self.server.wrote(id, n);
            client
                .on_bytes(Nanos(now), &chunk, &mut |e| {
                    evs.push(match e {
                        SoupEvent::LoggedIn { sequence, .. } => Ev::LoggedIn(sequence),
                        SoupEvent::Rejected(r) => Ev::Rejected(r.0),
                        SoupEvent::Sequenced { seq, msg } => Ev::Seq(seq, msg.to_vec()),
                        SoupEvent::EndOfSession => Ev::End,
                        other => panic!("{other:?}"),
                    })
                })
                .unwrap();
        }
    }

    fn send(&mut self, id: ConnId, client: &mut SoupClient, now: u64, msg: &[u8]) {
        let mut out = [0u8; 256];
        let n = client
            .send_with(Nanos(now), &mut out, |b: &mut [u8]| {
                b[..msg.len()].copy_from_slice(msg);
                Ok::<usize, crate::order::session::SessionError>(msg.len())
            })
            .unwrap();
        self.bytes(id, now, &out[..n]);
    }
}

fn enter42(token: &[u8; 14], qty: u32, price: u32, tif: u32) -> Vec<u8> {
    let mut b = vec![0u8; 49];
    w42::EnterOrderRepr {
        token: *token,
        side: w42::BuySell::Buy,
        shares: qty,
        stock: aapl(),
        price: Price4(price),
        time_in_force: tif,
        firm: *b"FIRM",
        display: w42::Display::ANONYMOUS,
        capacity: w42::Capacity::AGENCY,
        intermarket_sweep: w42::IntermarketSweep::NOT_ELIGIBLE,
        min_qty: 0,
        cross_type: w42::CrossType::NO_CROSS,
        customer_type: w42::CustomerType::PORT_DEFAULT,
    }
    .emit(&mut b)
    .unwrap();
    b
}

fn enter50(user_ref: u32, qty: u32, capacity: w50::Capacity, id: &[u8; 14]) -> Vec<u8> {
    let r = w50::EnterOrderRepr {
        user_ref_num: user_ref,
        side: w50::BuySell::Buy,
        quantity: qty,
        symbol: aapl(),
        price: Price4(990_000),
        time_in_force: w50::TimeInForce::DAY,
        display: w50::Display::VISIBLE,
        capacity,
        intermarket_sweep: w50::IntermarketSweep::NOT_ELIGIBLE,
        cross_type: w50::CrossType::CONTINUOUS,
        cl_ord_id: *id,
        options: w50::Options::NONE,
    };
    let mut b = vec![0u8; r.buffer_len()];
    r.emit(&mut b).unwrap();
    b
}

#[test]
fn heartbeats_after_a_second_of_send_silence_and_a_silent_client_is_dropped() {
    let mut h = Harness::new(Dialect::Ouch50, true);
    let (id, mut c) = h.login(0, "FLOE01", "floe", 1);
    assert_eq!(h.drain(id, &mut c, 0, usize::MAX)[..1], [Ev::LoggedIn(1)]);
    h.send(
        id,
        &mut c,
        10 * MS,
        &enter50(1, 100, w50::Capacity::AGENCY, b"ORDER ONE     "),
    );
    assert_eq!(h.drain(id, &mut c, 10 * MS, usize::MAX).len(), 1);
    assert_eq!(h.server.poll_timeout(), 1010 * MS);
    h.pump(1009 * MS);
    assert!(h.server.pending(id).is_empty());
    h.pump(1010 * MS);
    assert_eq!(h.server.pending(id), &[0, 1, b'H']);
    assert_eq!(h.server.stats().heartbeats, 1);
    // The client's last bytes came at 10 ms: 15 s later it is dropped, and
    // its resting order canceled.
    h.server.wrote(id, 3);
    h.pump(15_009 * MS);
    assert_eq!(h.server.close_kind(id), None);
    h.pump(15_010 * MS);
    assert_eq!(h.server.close_kind(id), Some(CloseKind::Now));
    assert_eq!(h.server.stats().timeouts, 1);
    assert_eq!(h.engine.live_orders(SessionId(0)).count(), 0);
    h.server.release(id);
    // The Canceled report waits in the store for the next login.
    let (id2, mut c2) = h.login(16_000 * MS, "FLOE01", "floe", 3);
    let evs = h.drain(id2, &mut c2, 16_000 * MS, usize::MAX);
    assert_eq!(evs[0], Ev::LoggedIn(3));
    let Ev::Seq(3, m) = &evs[1] else {
        panic!("{evs:?}")
    };
    assert!(matches!(
        w50::Outbound::parse(m).unwrap(),
        w50::Outbound::Canceled(x) if x.reason == w50::CancelReason::SYSTEM
    ));
}

#[test]
fn a_connection_that_never_logs_in_is_dropped() {
    let mut h = Harness::new(Dialect::Ouch50, true);
    let id = h.server.accept(0, 0);
    assert_eq!(h.server.poll_timeout(), 30_000 * MS);
    h.pump(29_999 * MS);
    assert_eq!(h.server.close_kind(id), None);
    h.pump(30_000 * MS);
    assert_eq!(h.server.close_kind(id), Some(CloseKind::Now));
}

#[test]
fn a_long_replay_goes_out_in_order_in_steps() {
    let mut h = Harness::new(Dialect::Ouch42, false);
    let (id, mut c) = h.login(0, "FLOE01", "floe", 1);
    h.drain(id, &mut c, 0, usize::MAX);
    // 6,000 orders: 6,000 Accepted of 66 bytes, more than the high water.
    let n = 6_000u32;
    for i in 0..n {
        let token = encode_token(i);
        h.send(
            id,
            &mut c,
            MS,
            &enter42(&token, 100, 900_000 + i, w42::TIF_MARKET_HOURS),
        );
    }
    let live = h.drain(id, &mut c, MS, usize::MAX);
    assert_eq!(live.len(), n as usize);
    h.closed(id, 2 * MS);
    // A new login from message 1 gets the whole day back, in order, even
    // when the socket takes only 1000 bytes per write.
    let (id, mut c) = h.login(3 * MS, "FLOE01", "floe", 1);
    h.pump(3 * MS);
    assert!(h.server.pending(id).len() <= OUTPUT_HIGH_WATER + 128);
    let evs = h.drain(id, &mut c, 3 * MS, 1000);
    assert_eq!(evs[0], Ev::LoggedIn(1));
    assert_eq!(evs.len(), 2 + n as usize);
    for (k, e) in evs[2..].iter().enumerate() {
        let Ev::Seq(seq, m) = e else { panic!("{e:?}") };
        assert_eq!(*seq, k as u64 + 2);
        match w42::Outbound::parse(m).unwrap() {
            w42::Outbound::Accepted(a) => {
                assert_eq!(a.token, encode_token(k as u32));
                assert_eq!(a.price, Price4(900_000 + k as u32));
            }
            other => panic!("{other:?}"),
        }
    }
}

fn encode_token(i: u32) -> [u8; 14] {
    let mut t = [b' '; 14];
    let s = format!("T{i}");
    t[..s.len()].copy_from_slice(s.as_bytes());
    t
}

#[test]
fn an_ignored_replace_does_not_use_up_its_token() {
    let mut h = Harness::new(Dialect::Ouch42, false);
    let (id, mut c) = h.login(0, "FLOE01", "floe", 1);
    h.drain(id, &mut c, 0, usize::MAX);
    let t1 = *b"FIRST         ";
    let t2 = *b"SECOND        ";
    // An IOC that cannot trade dies at once; a replace of it is ignored.
    h.send(id, &mut c, MS, &enter42(&t1, 100, 900_000, w42::TIF_IOC));
    let mut r = vec![0u8; 47];
    w42::ReplaceOrderRepr {
        existing_token: t1,
        replacement_token: t2,
        shares: 100,
        price: Price4(900_000),
        time_in_force: w42::TIF_IOC,
        display: w42::Display::ANONYMOUS,
        intermarket_sweep: w42::IntermarketSweep::NOT_ELIGIBLE,
        min_qty: 0,
    }
    .emit(&mut r)
    .unwrap();
    h.send(id, &mut c, MS, &r);
    // The replacement token is still fresh: an Enter under it is accepted,
    // with the Enter's own attributes.
    h.send(
        id,
        &mut c,
        MS,
        &enter42(&t2, 200, 910_000, w42::TIF_SYSTEM_HOURS),
    );
    let evs = h.drain(id, &mut c, MS, usize::MAX);
    let kinds: Vec<(u8, [u8; 14], u32)> = evs
        .iter()
        .map(|e| {
            let Ev::Seq(_, m) = e else { panic!("{e:?}") };
            match w42::Outbound::parse(m).unwrap() {
                w42::Outbound::Accepted(a) => (b'A', a.token, a.time_in_force),
                w42::Outbound::Canceled(x) => (b'C', x.token, 0),
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (b'A', t1, w42::TIF_IOC),
            (b'C', t1, 0),
            (b'A', t2, w42::TIF_SYSTEM_HOURS)
        ]
    );
    assert_eq!(h.server.stats().unknown_orders, 0);
}

#[test]
fn a_resent_enter_does_not_change_what_the_venue_echoes() {
    let mut h = Harness::new(Dialect::Ouch50, false);
    let (id, mut c) = h.login(0, "FLOE01", "floe", 1);
    h.drain(id, &mut c, 0, usize::MAX);
    h.send(
        id,
        &mut c,
        MS,
        &enter50(1, 100, w50::Capacity::PRINCIPAL, b"ORIGINAL      "),
    );
    // A resend of number 1 with other attributes: ignored.
    h.send(
        id,
        &mut c,
        MS,
        &enter50(1, 100, w50::Capacity::RISKLESS, b"RESENT        "),
    );
    let mut r = vec![0u8; 40];
    w50::ReplaceOrderRepr {
        orig_user_ref_num: 1,
        user_ref_num: 2,
        quantity: 300,
        price: Price4(995_000),
        time_in_force: w50::TimeInForce::DAY,
        display: w50::Display::VISIBLE,
        intermarket_sweep: w50::IntermarketSweep::NOT_ELIGIBLE,
        cl_ord_id: *b"REPLACEMENT   ",
        options: w50::Options::NONE,
    }
    .emit(&mut r)
    .unwrap();
    h.send(id, &mut c, MS, &r);
    let evs = h.drain(id, &mut c, MS, usize::MAX);
    assert_eq!(evs.len(), 2, "{evs:?}");
    let Ev::Seq(_, m) = &evs[1] else { panic!() };
    match w50::Outbound::parse(m).unwrap() {
        w50::Outbound::Replaced(x) => {
            assert_eq!((x.orig_user_ref_num, x.user_ref_num), (1, 2));
            assert_eq!(x.cl_ord_id, *b"REPLACEMENT   ");
            assert_eq!(
                x.capacity,
                w50::Capacity::PRINCIPAL,
                "inherited from the original"
            );
        }
        other => panic!("{other:?}"),
    }
    let audit = String::from_utf8(h.audit.clone()).unwrap();
    assert_eq!(audit.lines().count(), 4, "{audit}");
    assert!(audit
        .lines()
        .nth(1)
        .unwrap()
        .contains("\"reason\":\"ignored: UserRefNum"));
}

#[test]
fn shutdown_flushes_every_session_and_ends_it_without_cancels() {
    let mut h = Harness::new(Dialect::Ouch50, true);
    let (id, mut c) = h.login(0, "FLOE01", "floe", 1);
    assert_eq!(h.drain(id, &mut c, 0, usize::MAX).len(), 2);
    h.send(
        id,
        &mut c,
        MS,
        &enter50(1, 100, w50::Capacity::AGENCY, b"REST          "),
    );
    h.server.shutdown(2 * MS);
    assert_eq!(h.server.close_kind(id), Some(CloseKind::AfterFlush));
    let evs = h.drain(id, &mut c, 2 * MS, usize::MAX);
    assert_eq!(evs.len(), 3, "{evs:?}");
    let Ev::Seq(3, m) = &evs[1] else {
        panic!("{evs:?}")
    };
    assert!(matches!(
        w50::Outbound::parse(m).unwrap(),
        w50::Outbound::SystemEvent(e) if e.event_code == w50::EventCode::END_OF_DAY
    ));
    assert_eq!(evs[2], Ev::End);
    assert_eq!(h.engine.live_orders(SessionId(0)).count(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any bytes after a valid login, in any chunking, on either dialect:
    /// no panic, and the server keeps answering a well-formed client.
    #[test]
    fn arbitrary_client_bytes_never_panic(
        ouch42 in any::<bool>(),
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..24),
    ) {
        let dialect = if ouch42 { Dialect::Ouch42 } else { Dialect::Ouch50 };
        let mut h = Harness::new(dialect, true);
        let (id, _c) = h.login(0, "FLOE01", "floe", 1);
        for (i, ch) in chunks.iter().enumerate() {
            h.bytes(id, i as u64 * MS, ch);
            let _ = h.server.pending(id).len();
            h.pump(i as u64 * MS);
        }
        // A fresh, well-behaved connection still logs in and trades.
        let (id2, mut c2) = h.login(100 * MS, "OTHER", "pw", 1);
        let msg = if ouch42 {
            enter42(b"WELLFORMED    ", 100, 900_000, w42::TIF_MARKET_HOURS)
        } else {
            enter50(1, 100, w50::Capacity::AGENCY, b"WELLFORMED    ")
        };
        let evs = h.drain(id2, &mut c2, 100 * MS, usize::MAX);
        prop_assert_eq!(&evs[0], &Ev::LoggedIn(1));
        h.send(id2, &mut c2, 101 * MS, &msg);
        let evs = h.drain(id2, &mut c2, 101 * MS, usize::MAX);
        prop_assert_eq!(evs.len(), 1);
    }
}

#[test]
fn a_username_on_two_ports_is_two_accounts_with_distinct_audit_names() {
    let mut engine = MatchingEngine::new(&MatchingConfig {
        symbols: vec![aapl()],
        ..Default::default()
    });
    let mut second = spec(Dialect::Ouch42, false);
    second.label = 15001;
    let server = OrderServer::new(vec![spec(Dialect::Ouch50, true), second], &mut engine).unwrap();
    let names: Vec<&str> = (0..4)
        .map(|i| engine.session_config(SessionId(i)).unwrap().name.as_str())
        .collect();
    assert_eq!(names, ["FLOE01", "OTHER", "FLOE01@15001", "OTHER@15001"]);
    assert_eq!(server.session_of(1, "floe01"), Some(SessionId(2)));
    assert_eq!(
        engine.session_config(SessionId(2)).unwrap().dialect,
        Dialect::Ouch42
    );
}

#[test]
fn a_client_that_stops_reading_after_logout_is_cut_off() {
    let mut h = Harness::new(Dialect::Ouch50, false);
    // Login Accepted and the start-of-day event are never read.
    let (id, mut c) = h.login(0, "FLOE01", "floe", 1);
    let mut out = [0u8; 8];
    let n = c.logout(Nanos(MS), &mut out).unwrap();
    h.bytes(id, MS, &out[..n]);
    assert_eq!(h.server.close_kind(id), Some(CloseKind::AfterFlush));
    assert!(!h.server.pending(id).is_empty());
    h.pump(MS + CLOSE_FLUSH_LIMIT_NS - 1);
    assert_eq!(h.server.close_kind(id), Some(CloseKind::AfterFlush));
    h.pump(MS + CLOSE_FLUSH_LIMIT_NS);
    assert_eq!(h.server.close_kind(id), Some(CloseKind::Now));
}
