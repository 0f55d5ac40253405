//! The engine against the venue's real sans-IO matching engine and its
//! seeded synthetic flow: a BUY 10,000 with display 100 ± 20 % fills
//! completely at or inside its limit, through session drops (the venue
//! ignores the resends under the same ids), and exactly once through a crash
//! after every journal record.

use floe::algo::iceberg::{IcebergParams, StatusCode};
use floe::config::{Config, Dialect};
use floe::engine::{
    Action, ClientOrderId, Command, CommandKind, Engine, EngineOptions, Outbox, Record, Reply,
};
use floe::exchange::{
    Flow, FlowConfig, FlowSymbol, MatchingConfig, MatchingEngine, SessionConfig, SessionId,
    SessionName, VenueOutput,
};
use floe::order::{OrderEvent, OrderRequest, TimeInForce};
use floe::time::Nanos;
use floe::types::{Price4, Qty, Quote, Side, Symbol};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

const LAT: Nanos = Nanos(15_000);

fn sym() -> Symbol {
    Symbol::new("AAPL").unwrap()
}

fn config() -> Config {
    let mut c = Config::default();
    c.pools.parents = 8;
    c.pools.children = 16;
    c.pools.client_order_ids = 16;
    c.book.symbols = 2;
    c.risk.max_parent_notional = 10_000_000;
    c.risk.child_orders_per_sec = 5_000;
    c.risk.child_orders_burst = 20;
    c.risk.tick_size = 100;
    c.risk.lot_size = 1;
    c
}

fn iceberg(total: u32, peg: bool) -> IcebergParams {
    IcebergParams {
        symbol: sym(),
        side: Side::Buy,
        total: Qty(total),
        display: Qty(100),
        variance_ppm: 200_000,
        limit: Price4(100_0200),
        min_delay_ms: 0,
        max_delay_ms: 1,
        tif: TimeInForce::Day,
        peg,
    }
}

/// What happens at the crash: after journal record `k`, with or without
/// the send that followed it reaching the venue.
#[derive(Clone, Copy, Debug)]
struct Crash {
    k: usize,
    delivered: bool,
}

struct Sim {
    dialect: Dialect,
    cfg: Config,
    now: Nanos,
    venue: MatchingEngine,
    flow: Flow,
    session: SessionId,
    vout: Vec<VenueOutput>,
    /// Our session's sequenced reports (soup seq = index + 1) and their times.
    log: Vec<(Nanos, OrderEvent)>,
    to_venue: VecDeque<(Nanos, OrderRequest)>,
    connected: bool,
    connect_at: Nanos,
    delivered: u64,
    last_quote: Option<Quote>,
    journal: Vec<(u16, Vec<u8>)>,
    sends: Vec<(Nanos, OrderRequest)>,
    first_sends: BTreeMap<(u32, u8), OrderRequest>,
    resends: u64,
    replies: Vec<Reply>,
    violations: Vec<String>,
    crash: Option<Crash>,
    crashed: bool,
    limit: Price4,
}

impl Sim {
    fn new(dialect: Dialect, seed: u64) -> Sim {
        let mut venue = MatchingEngine::new(&MatchingConfig {
            symbols: vec![sym()],
            round_lot: 100,
            order_capacity: 4096,
        });
        let session = venue
            .add_session(SessionConfig {
                name: SessionName::new("FLOE01").unwrap(),
                dialect,
                cancel_on_disconnect: false,
                attribution: None,
            })
            .unwrap();
        let flow = Flow::new(
            FlowConfig {
                seed,
                rate_per_sec: 20_000,
                symbols: vec![FlowSymbol {
                    symbol: sym(),
                    mid: Price4(100_0000),
                }],
                tick: Price4(100),
                spread_ticks: 1,
                depth_ticks: 3,
                walk_share: 0.05,
                walk_step_ticks: 1,
                walk_band_ticks: 2,
                size_min: 20,
                size_max: 120,
                lot: 1,
                marketable_share: 0.35,
                cancel_share: 0.2,
                ..FlowConfig::default()
            },
            0,
        );
        let mut vout = Vec::new();
        venue.open(0, &mut vout);
        Sim {
            dialect,
            cfg: config(),
            now: Nanos::ZERO,
            venue,
            flow,
            session,
            vout,
            log: Vec::new(),
            to_venue: VecDeque::new(),
            connected: false,
            connect_at: Nanos::ZERO,
            delivered: 0,
            last_quote: None,
            journal: Vec::new(),
            sends: Vec::new(),
            first_sends: BTreeMap::new(),
            resends: 0,
            replies: Vec::new(),
            violations: Vec::new(),
            crash: None,
            crashed: false,
            limit: Price4(100_0200),
        }
    }

    fn options(&self) -> EngineOptions {
        EngineOptions {
            account_query: self.dialect == Dialect::Ouch50,
        }
    }

    fn collect_venue(&mut self) {
        for o in self.vout.drain(..) {
            if let VenueOutput::Report { session, event } = o {
                if session == self.session {
                    self.log.push((self.now, event));
                }
            }
        }
    }

    fn process(&mut self, out: &mut Outbox) {
        let actions: Vec<Action> = out.drain().collect();
        let mut i = 0;
        while i < actions.len() {
            if self.crashed {
                return;
            }
            match actions[i] {
                Action::Journal(rec) => {
                    let mut buf = [0u8; floe::engine::record::MAX_RECORD_LEN];
                    let n = rec.encode(&mut buf).unwrap();
                    self.journal.push((rec.record_type(), buf[..n].to_vec()));
                    if let Some(c) = self.crash {
                        if self.journal.len() == c.k {
                            self.crashed = true;
                            if c.delivered {
                                if let Some(Action::Send(s)) = actions.get(i + 1) {
                                    self.send(*s);
                                }
                            }
                            return;
                        }
                    }
                }
                Action::Send(s) => self.send(s),
                Action::Reply { reply, .. } => self.replies.push(reply),
                Action::Status(s) => {
                    if s.filled.0 + s.remaining.0 + s.live.0 != s.total.0 {
                        self.violations.push(format!("status {s:?}"));
                    }
                }
            }
            i += 1;
        }
    }

    fn send(&mut self, s: OrderRequest) {
        if !self.connected {
            self.violations.push(format!("send while down {s:?}"));
        }
        let key = match s {
            OrderRequest::Enter { order, .. } => Some((order.0, 0u8)),
            OrderRequest::Replace { new, .. } => Some((new.0, 1)),
            OrderRequest::Cancel { order, .. } => Some((order.0, 2)),
            OrderRequest::AccountQuery => None,
        };
        if let Some(k) = key {
            match self.first_sends.get(&k) {
                Some(first) => {
                    self.resends += 1;
                    if *first != s {
                        self.violations
                            .push(format!("resend differs {first:?} {s:?}"));
                    }
                }
                None => {
                    self.first_sends.insert(k, s);
                    if let OrderRequest::Enter { price, .. } | OrderRequest::Replace { price, .. } =
                        s
                    {
                        if price > self.limit {
                            self.violations
                                .push(format!("child at {price:?} above the limit"));
                        }
                    }
                }
            }
        }
        self.sends.push((self.now, s));
        self.to_venue.push_back((self.now + LAT, s));
    }

    fn call(
        &mut self,
        eng: &mut Engine,
        out: &mut Outbox,
        f: impl FnOnce(&mut Engine, &mut Outbox, Nanos),
    ) {
        if self.crashed {
            return;
        }
        f(eng, out, self.now);
        self.process(out);
        if !self.crashed {
            if let Err(e) = eng.check_invariants() {
                self.violations.push(e.into());
            }
        }
    }

    fn connect(&mut self, eng: &mut Engine, out: &mut Outbox) {
        self.connected = true;
        self.connect_at = self.now;
        self.delivered = eng.next_expected_soup_seq() - 1;
        self.call(eng, out, |e, o, now| e.on_session(now, true, o));
    }

    fn submit(&mut self, eng: &mut Engine, out: &mut Outbox, coid: &str, p: IcebergParams) {
        let cmd = Command {
            correlation: 1,
            kind: CommandKind::NewIceberg {
                client_order_id: ClientOrderId::new(coid.as_bytes()).unwrap(),
                params: p,
                seed: 42,
            },
        };
        self.call(eng, out, |e, o, now| e.on_command(now, &cmd, o).unwrap());
    }

    /// One instant of work; `false` when past `until`.
    fn step(&mut self, eng: &mut Engine, out: &mut Outbox, until: Nanos) -> bool {
        let mut t = Nanos(self.flow.next_due());
        let d = eng.next_deadline();
        t = t.min(if d == Nanos::ZERO { self.now } else { d });
        if let Some((a, _)) = self.to_venue.front() {
            t = t.min(*a);
        }
        if self.connected {
            if let Some((a, _)) = self.log.get(self.delivered as usize) {
                t = t.min((*a).max(self.connect_at) + LAT);
            }
        }
        if t > until {
            return false;
        }
        self.now = self.now.max(t);
        let now = self.now;
        while self.to_venue.front().is_some_and(|(a, _)| *a <= now) {
            let (_, req) = self.to_venue.pop_front().unwrap();
            self.venue.handle(now.0, self.session, &req, &mut self.vout);
            self.collect_venue();
        }
        if self.flow.next_due() <= now.0 {
            self.flow.poll(now.0, &mut self.venue, &mut self.vout);
            self.collect_venue();
        }
        if self.venue.live_orders(self.session).count() > 1 {
            self.violations
                .push("two live children at the venue".into());
        }
        let q = self.venue.quote(sym());
        if let Some(q) = q {
            let changed = self
                .last_quote
                .is_none_or(|l| l.bid != q.bid || l.ask != q.ask);
            if changed {
                self.last_quote = Some(q);
                let q = Quote { rx_ts: now, ..q };
                self.call(eng, out, |e, o, now| e.on_quote(now, &q, o));
            }
        }
        while self.connected
            && !self.crashed
            && self
                .log
                .get(self.delivered as usize)
                .is_some_and(|(a, _)| (*a).max(self.connect_at) + LAT <= now)
        {
            self.delivered += 1;
            let (seq, ev) = (self.delivered, self.log[self.delivered as usize - 1].1);
            self.call(eng, out, |e, o, now| {
                e.on_order_event(now, seq, &ev, o).unwrap()
            });
        }
        if eng.next_deadline() <= now {
            self.call(eng, out, |e, o, now| e.poll(now, o));
        }
        true
    }

    fn records(&self) -> Vec<Record> {
        self.journal
            .iter()
            .map(|(t, b)| Record::decode(*t, b).unwrap())
            .collect()
    }

    fn executed(&self) -> u64 {
        self.log
            .iter()
            .map(|(_, e)| match e {
                OrderEvent::Executed { qty, .. } => u64::from(qty.0),
                _ => 0,
            })
            .sum()
    }
}

/// Runs one iceberg to its end; with `crash`, stops after that record,
/// recovers from the journal and continues. Returns the sim and the engine.
fn run(
    dialect: Dialect,
    seed: u64,
    total: u32,
    peg: bool,
    drop_at: Option<Nanos>,
    crash: Option<Crash>,
) -> (Sim, Engine) {
    let mut s = Sim::new(dialect, seed);
    s.crash = crash;
    let mut eng = Engine::with_options(&s.cfg, s.options());
    let mut out = Outbox::with_capacity(64);
    s.connect(&mut eng, &mut out);
    // Let the flow build a book first.
    while s.step(&mut eng, &mut out, Nanos::from_ms(2)) {}
    s.submit(&mut eng, &mut out, "ice-1", iceberg(total, peg));
    let deadline = Nanos::from_secs(60);
    let mut dropped = false;
    loop {
        if s.crashed {
            // The appliance died: recover from the journal.
            s.crashed = false;
            s.crash = None;
            s.connected = false;
            let mut e = Engine::with_options(&s.cfg, s.options());
            for r in s.records() {
                e.apply(&r).expect("journal applies");
            }
            eng = e;
            out.clear();
            let back = s.now + Nanos::from_ms(1);
            while s.step(&mut eng, &mut out, back) {}
            s.now = back;
            s.connect(&mut eng, &mut out);
            if !s
                .replies
                .iter()
                .any(|r| matches!(r, Reply::Accepted { .. }))
            {
                // The client never got an answer: it retries.
                s.submit(&mut eng, &mut out, "ice-1", iceberg(total, peg));
            }
        }
        if let Some(t) = drop_at {
            if !dropped && s.now >= t && !s.to_venue.is_empty() {
                // Drop with an order in flight: on even seeds it is lost,
                // on odd ones it reaches the venue but its report does not
                // reach floe.
                dropped = true;
                s.connected = false;
                if seed.is_multiple_of(2) {
                    s.to_venue.clear();
                }
                s.call(&mut eng, &mut out, |e, o, now| e.on_session(now, false, o));
                let back = s.now + Nanos::from_us(700);
                while s.step(&mut eng, &mut out, back) {}
                s.now = back;
                s.connect(&mut eng, &mut out);
            }
        }
        let done = eng
            .parent_status(1)
            .is_some_and(|p| p.status == StatusCode::Filled)
            && s.venue.live_orders(s.session).count() == 0
            && s.to_venue.is_empty()
            && s.delivered as usize == s.log.len();
        if done || !s.step(&mut eng, &mut out, deadline) {
            break;
        }
    }
    (s, eng)
}

fn check(s: &Sim, eng: &Engine, total: u32) {
    assert!(s.violations.is_empty(), "{:?}", s.violations);
    let p = eng.parent_status(1).expect("parent 1");
    assert_eq!(p.status, StatusCode::Filled, "{p:?}");
    assert_eq!(p.filled.0, total);
    assert_eq!(
        s.executed(),
        u64::from(total),
        "venue executions equal the parent's total"
    );
    // Every venue fill is journaled.
    let journaled: BTreeSet<u64> = s
        .records()
        .iter()
        .filter_map(|r| match r {
            Record::VenueEvent {
                event: OrderEvent::Executed { match_number, .. },
                ..
            } => Some(*match_number),
            _ => None,
        })
        .collect();
    for (_, e) in &s.log {
        if let OrderEvent::Executed { match_number, .. } = e {
            assert!(
                journaled.contains(match_number),
                "fill {match_number} not journaled"
            );
        }
    }
}

#[test]
fn buy_10000_fills_completely_against_the_matching_engine() {
    for dialect in [Dialect::Ouch50, Dialect::Ouch42] {
        for peg in [false, true] {
            let (s, eng) = run(dialect, 11, 10_000, peg, None, None);
            check(&s, &eng, 10_000);
            let slices: Vec<u32> = s
                .sends
                .iter()
                .filter_map(|(_, r)| match r {
                    OrderRequest::Enter { qty, .. } => Some(qty.0),
                    _ => None,
                })
                .collect();
            let (_, rest) = slices.split_last().unwrap();
            assert!(
                rest.iter().all(|q| (80..=120).contains(q)),
                "{dialect:?} {slices:?}"
            );
            assert!(rest.iter().any(|&q| q != 100));
        }
    }
}

#[test]
fn a_session_drop_resends_under_the_same_ids_and_the_venue_ignores_repeats() {
    let mut resends = 0;
    let mut ignored = 0;
    for seed in 0..6 {
        for dialect in [Dialect::Ouch50, Dialect::Ouch42] {
            let (s, eng) = run(
                dialect,
                seed,
                2_000,
                seed.is_multiple_of(2),
                Some(Nanos::from_ms(4)),
                None,
            );
            check(&s, &eng, 2_000);
            resends += s.resends;
            ignored += s.venue.stats().ignored;
        }
    }
    assert!(resends > 0, "some intents were resent");
    assert!(ignored > 0, "the venue ignored repeated ids");
}

#[test]
fn exactly_once_through_a_crash_after_every_record() {
    let mut points = 0;
    for seed in 3..9u64 {
        let dialect = if seed.is_multiple_of(2) {
            Dialect::Ouch42
        } else {
            Dialect::Ouch50
        };
        let (whole, eng) = run(dialect, seed, 800, seed.is_multiple_of(3), None, None);
        check(&whole, &eng, 800);
        let n = whole.journal.len();
        for k in 1..=n {
            for delivered in [false, true] {
                let (s, eng) = run(
                    dialect,
                    seed,
                    800,
                    seed.is_multiple_of(3),
                    None,
                    Some(Crash { k, delivered }),
                );
                let ctx = format!(
                    "{dialect:?} seed {seed} crash after record {k}/{n} delivered {delivered}"
                );
                assert!(s.violations.is_empty(), "{ctx}: {:?}", s.violations);
                let p = eng
                    .parent_status(1)
                    .unwrap_or_else(|| panic!("{ctx}: parent lost"));
                assert_eq!((p.status, p.filled.0), (StatusCode::Filled, 800), "{ctx}");
                assert_eq!(s.executed(), 800, "{ctx}: venue executed");
                check(&s, &eng, 800);
                points += 1;
            }
        }
    }
    eprintln!("{points} crash points against the matching engine");
    assert!(points > 400);
}
