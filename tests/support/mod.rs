//! Deterministic simulation support: a venue model that deduplicates order
//! ids like the real venue (OUCH 4.2: a used token is ignored; OUCH 5.0: a
//! UserRefNum not above the last is ignored), a SoupBinTCP-like sequenced
//! log that replays from the client's next expected number on reconnect, a
//! random-walk market, and a single-threaded world with a manual clock that
//! drives one `Engine`.
//!
//! Everything is seeded: the same seed gives the same run. The world is
//! `Clone` (everything but the engine), so a crash test can fork it at any
//! journal record and continue with a recovered engine.
#![allow(dead_code)]

use floe::algo::iceberg::{IcebergParams, ParentState, StatusCode};
use floe::config::Config;
use floe::engine::{
    Action, ClientOrderId, Command, CommandKind, Engine, EngineOptions, Outbox, ParentStatus,
    Record, Reply,
};
use floe::order::{
    CancelReason, ChildTag, OrderEvent, OrderRef, OrderRequest, RejectReason, TimeInForce,
};
use floe::time::Nanos;
use floe::types::{Level, Price4, Qty, Quote, Side, Symbol};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::collections::{BTreeMap, VecDeque};

/// Which venue rules to model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// OUCH 4.2: tokens are day-unique; a repeat is ignored.
    Ouch42,
    /// OUCH 5.0: UserRefNums strictly increase; one not above the last is
    /// ignored; Account Query answers the next acceptable number.
    Ouch50,
}

impl Mode {
    pub fn options(self) -> EngineOptions {
        EngineOptions {
            account_query: self == Mode::Ouch50,
        }
    }
}

pub type TestRng = Xoshiro256PlusPlus;

pub fn rng(seed: u64) -> TestRng {
    TestRng::seed_from_u64(seed)
}

/// `true` with probability `ppm / 1e6`.
pub fn chance(r: &mut TestRng, ppm: u32) -> bool {
    r.random_range(0u32..1_000_000) < ppm
}

#[derive(Clone, Copy, Debug)]
pub struct VOrder {
    pub tag: ChildTag,
    pub side: Side,
    pub symbol: Symbol,
    pub price: Price4,
    pub open: u32,
    /// Executed on the whole replace chain.
    pub executed: u32,
}

/// The venue model.
#[derive(Clone)]
pub struct Venue {
    pub mode: Mode,
    pub live: BTreeMap<u32, VOrder>,
    /// The first request that used each order ref.
    pub used: BTreeMap<u32, OrderRequest>,
    pub last_ref: u32,
    /// The sequenced outbound stream: soup seq = index + 1, with the time
    /// each message was produced.
    pub log: Vec<(Nanos, OrderEvent)>,
    pub executed: BTreeMap<u32, u64>,
    /// Ceiling of executed shares per parent (set by the harness).
    pub ceiling: BTreeMap<u32, u64>,
    pub violations: Vec<String>,
    pub match_no: u64,
    pub reject_enter_ppm: u32,
    pub reject_replace_ppm: u32,
    pub fill_ppm: u32,
    pub rng: TestRng,
    pub ignored: u64,
}

impl Venue {
    pub fn new(mode: Mode, seed: u64) -> Venue {
        Venue {
            mode,
            live: BTreeMap::new(),
            used: BTreeMap::new(),
            last_ref: 0,
            log: Vec::new(),
            executed: BTreeMap::new(),
            ceiling: BTreeMap::new(),
            violations: Vec::new(),
            match_no: 0,
            reject_enter_ppm: 0,
            reject_replace_ppm: 0,
            fill_ppm: 300_000,
            rng: rng(seed ^ 0x5eed_0f7e_4e00),
            ignored: 0,
        }
    }

    fn emit(&mut self, now: Nanos, ev: OrderEvent) {
        self.log.push((now, ev));
    }

    fn same_intent(a: &OrderRequest, b: &OrderRequest) -> bool {
        a == b
    }

    /// True when the request must be ignored as a duplicate.
    fn is_dup(&mut self, order: OrderRef, req: &OrderRequest) -> bool {
        if let Some(prev) = self.used.get(&order.0) {
            if !Self::same_intent(prev, req) {
                self.violations.push(format!(
                    "order ref {} reused for a different request: {prev:?} then {req:?}",
                    order.0
                ));
            }
            self.ignored += 1;
            return true;
        }
        if self.mode == Mode::Ouch50 && order.0 <= self.last_ref {
            self.violations.push(format!(
                "new request with ref {} not above the last processed {}: lost",
                order.0, self.last_ref
            ));
            return true;
        }
        false
    }

    fn consume(&mut self, order: OrderRef, req: OrderRequest) {
        self.used.insert(order.0, req);
        self.last_ref = self.last_ref.max(order.0);
    }

    fn parent_live(&self, parent: u32) -> usize {
        self.live
            .values()
            .filter(|o| o.tag.parent == parent)
            .count()
    }

    pub fn handle(&mut self, now: Nanos, req: OrderRequest) {
        let ts = now.0;
        match req {
            OrderRequest::Enter {
                order,
                tag,
                side,
                qty,
                symbol,
                price,
                tif,
            } => {
                if self.is_dup(order, &req) {
                    return;
                }
                self.consume(order, req);
                if chance(&mut self.rng, self.reject_enter_ppm) {
                    self.emit(
                        now,
                        OrderEvent::Rejected {
                            ts,
                            order,
                            tag: Some(tag),
                            reason: RejectReason {
                                code: 0x13,
                                text: "",
                            },
                        },
                    );
                    return;
                }
                if self.parent_live(tag.parent) > 0 {
                    self.violations
                        .push(format!("two live children for parent {}", tag.parent));
                }
                self.live.insert(
                    order.0,
                    VOrder {
                        tag,
                        side,
                        symbol,
                        price,
                        open: qty.0,
                        executed: 0,
                    },
                );
                self.emit(
                    now,
                    OrderEvent::Accepted {
                        ts,
                        order,
                        tag: Some(tag),
                        side,
                        qty,
                        symbol,
                        price,
                        venue_order_ref: u64::from(order.0) << 8,
                        live: true,
                    },
                );
                if tif == TimeInForce::Ioc {
                    if chance(&mut self.rng, 500_000) {
                        let q = self.rng.random_range(1..=qty.0);
                        self.execute(now, order.0, q);
                    }
                    if let Some(o) = self.live.remove(&order.0) {
                        self.emit(
                            now,
                            OrderEvent::Canceled {
                                ts,
                                order,
                                decrement: Qty(o.open),
                                reason: CancelReason {
                                    code: b'I',
                                    text: "",
                                },
                            },
                        );
                    }
                }
            }
            OrderRequest::Replace {
                old,
                new,
                new_tag,
                qty,
                price,
                ..
            } => {
                if self.is_dup(new, &req) {
                    return;
                }
                let Some(o) = self.live.get(&old.0).copied() else {
                    // Original no longer live: ignored, number not consumed
                    // (but remembered, so a resend is recognised).
                    self.used.insert(new.0, req);
                    self.ignored += 1;
                    return;
                };
                self.consume(new, req);
                if chance(&mut self.rng, self.reject_replace_ppm) {
                    self.emit(
                        now,
                        OrderEvent::Rejected {
                            ts,
                            order: new,
                            tag: Some(new_tag),
                            reason: RejectReason {
                                code: 0x15,
                                text: "",
                            },
                        },
                    );
                    return;
                }
                // Quantity is the chain's total liable including executed.
                let new_open = qty.0.saturating_sub(o.executed);
                self.live.remove(&old.0);
                if new_open == 0 {
                    self.emit(
                        now,
                        OrderEvent::Canceled {
                            ts,
                            order: old,
                            decrement: Qty(o.open),
                            reason: CancelReason {
                                code: b'U',
                                text: "",
                            },
                        },
                    );
                    return;
                }
                self.live.insert(
                    new.0,
                    VOrder {
                        tag: new_tag,
                        price,
                        open: new_open,
                        ..o
                    },
                );
                self.emit(
                    now,
                    OrderEvent::Replaced {
                        ts,
                        old,
                        order: new,
                        tag: Some(new_tag),
                        side: o.side,
                        qty: Qty(new_open),
                        symbol: o.symbol,
                        price,
                        venue_order_ref: u64::from(new.0) << 8,
                        live: true,
                    },
                );
            }
            OrderRequest::Cancel {
                order, remaining, ..
            } => {
                if remaining.0 != 0 {
                    self.violations.push("partial cancel sent".into());
                }
                if let Some(o) = self.live.remove(&order.0) {
                    self.emit(
                        now,
                        OrderEvent::Canceled {
                            ts,
                            order,
                            decrement: Qty(o.open),
                            reason: CancelReason {
                                code: b'U',
                                text: "",
                            },
                        },
                    );
                }
            }
            OrderRequest::AccountQuery => {
                if self.mode == Mode::Ouch50 {
                    let next = OrderRef(self.last_ref + 1);
                    self.emit(
                        now,
                        OrderEvent::AccountQueryResponse {
                            ts,
                            next_order: next,
                        },
                    );
                }
            }
        }
    }

    fn execute(&mut self, now: Nanos, order: u32, q: u32) {
        let Some(o) = self.live.get_mut(&order) else {
            return;
        };
        let q = q.min(o.open);
        o.open -= q;
        o.executed += q;
        let (parent, price) = (o.tag.parent, o.price);
        if o.open == 0 {
            self.live.remove(&order);
        }
        let e = self.executed.entry(parent).or_default();
        *e += u64::from(q);
        if let Some(c) = self.ceiling.get(&parent) {
            if *e > *c {
                self.violations
                    .push(format!("parent {parent} executed {e} above its total {c}"));
            }
        }
        self.match_no += 1;
        self.emit(
            now,
            OrderEvent::Executed {
                ts: now.0,
                order: OrderRef(order),
                qty: Qty(q),
                price,
                liquidity: b'A',
                match_number: self.match_no,
            },
        );
    }

    /// One round of random fills over the live orders.
    pub fn fill_round(&mut self, now: Nanos) {
        let refs: Vec<u32> = self.live.keys().copied().collect();
        for r in refs {
            if chance(&mut self.rng, self.fill_ppm) {
                let open = self.live.get(&r).map_or(0, |o| o.open);
                if open == 0 {
                    continue;
                }
                let q = if chance(&mut self.rng, 400_000) {
                    open
                } else {
                    self.rng.random_range(1..=open)
                };
                self.execute(now, r, q);
            }
        }
    }

    /// Every fill the venue reported: (soup seq, match number).
    pub fn fills(&self) -> Vec<u64> {
        self.log
            .iter()
            .filter_map(|(_, e)| match e {
                OrderEvent::Executed { match_number, .. } => Some(*match_number),
                _ => None,
            })
            .collect()
    }
}

/// A random-walk top of book per symbol.
#[derive(Clone)]
pub struct Market {
    pub symbols: Vec<(Symbol, u32)>,
    pub tick: u32,
    pub next: Nanos,
    pub interval_us: (u64, u64),
    pub rng: TestRng,
    pub last: Vec<Quote>,
}

impl Market {
    pub fn new(symbols: &[(&str, u32)], tick: u32, seed: u64) -> Market {
        Market {
            symbols: symbols
                .iter()
                .map(|(s, m)| (Symbol::new(s).unwrap(), *m))
                .collect(),
            tick,
            next: Nanos::ZERO,
            interval_us: (50, 400),
            rng: rng(seed ^ 0x03a7_04e7),
            last: Vec::new(),
        }
    }

    pub fn quote_for(&mut self, i: usize, now: Nanos) -> Quote {
        let (sym, mid) = self.symbols[i];
        let spread = self.rng.random_range(1u32..=3) * self.tick;
        let bid = mid.saturating_sub(spread / 2 + spread % 2).max(self.tick);
        let ask = mid + spread / 2;
        let q = Quote {
            symbol: sym,
            bid: Some(Level {
                price: Price4(bid - bid % self.tick),
                qty: Qty(self.rng.random_range(100..5_000)),
            }),
            ask: Some(Level {
                price: Price4(ask.div_ceil(self.tick) * self.tick),
                qty: Qty(self.rng.random_range(100..5_000)),
            }),
            exch_ts: now.0,
            rx_ts: now,
        };
        match self.last.iter_mut().find(|l| l.symbol == sym) {
            Some(l) => *l = q,
            None => self.last.push(q),
        }
        q
    }

    /// Moves one symbol's mid and returns its new quote.
    pub fn tick_once(&mut self, now: Nanos) -> Quote {
        let i = self.rng.random_range(0..self.symbols.len());
        let step = self.rng.random_range(0u32..3);
        let m = &mut self.symbols[i].1;
        match step {
            0 => *m = m.saturating_sub(self.tick).max(self.tick * 10),
            1 => *m += self.tick,
            _ => {}
        }
        let (lo, hi) = self.interval_us;
        self.next = now + Nanos::from_us(self.rng.random_range(lo..=hi));
        self.quote_for(i, now)
    }
}

/// A scripted input.
#[derive(Clone, Debug)]
pub enum Script {
    /// A command; parents are named by their index in creation order.
    New {
        coid: String,
        params: IcebergParams,
        seed: u64,
    },
    Cancel(usize),
    Pause(usize),
    Resume(usize),
    Amend {
        parent: usize,
        total: Option<u32>,
        limit: Option<u32>,
    },
    Kill(bool),
    Disconnect,
    Reconnect,
    /// Cancel every parent still live (end of a scenario).
    CancelAll,
    /// Hand the engine the last quote of every symbol again (what the feed
    /// does after a restart).
    Refeed,
}

/// What a parent looked like to the harness.
#[derive(Clone, Debug, Default)]
pub struct Tracked {
    pub id: u32,
    pub limit: u32,
    pub side: Option<Side>,
    pub max_total: u64,
    pub last: Option<ParentStatus>,
    pub statuses: Vec<StatusCode>,
}

/// The world around one engine. `Clone` so crash tests can fork it.
#[derive(Clone)]
pub struct World {
    pub mode: Mode,
    pub cfg: Config,
    pub now: Nanos,
    pub venue: Venue,
    pub market: Market,
    pub to_venue: VecDeque<(Nanos, OrderRequest)>,
    pub latency: Nanos,
    pub connected: bool,
    pub connect_at: Nanos,
    /// Last soup seq delivered to the engine on this connection.
    pub delivered: u64,
    pub next_fill: Nanos,
    pub fill_interval: Nanos,
    pub script: Vec<(Nanos, Script)>,
    pub script_pos: usize,
    pub journal: Vec<(u16, Vec<u8>)>,
    pub sends: Vec<(Nanos, OrderRequest)>,
    pub parents: Vec<Tracked>,
    /// coid → index in `parents`.
    pub by_coid: BTreeMap<String, usize>,
    /// Commands sent but not answered: correlation → script item.
    pub pending: BTreeMap<u64, Script>,
    pub correlation: u64,
    pub replies: Vec<(u64, Reply)>,
    pub violations: Vec<String>,
    pub rng: TestRng,
    pub time_limit: Nanos,
    /// Check `Engine::check_invariants` after every call.
    pub check_each_call: bool,
    pub quiet_after_script: bool,
    pub engine_calls: u64,
    /// First send of each (order ref, kind).
    pub first_sends: BTreeMap<(u32, u8), OrderRequest>,
    pub resends: u64,
}

/// A fork point handed to a crash hook: the world right after a journal
/// record was appended, and the send that followed it in the same outbox.
pub struct CrashPoint<'a> {
    pub world: &'a World,
    pub next_send: Option<OrderRequest>,
}

pub type Hook<'a> = &'a mut dyn FnMut(CrashPoint<'_>);

/// Reborrows an optional hook for one call.
pub fn rb<'s>(h: &'s mut Option<Hook<'_>>) -> Option<Hook<'s>> {
    match h {
        Some(h) => Some(&mut **h),
        None => None,
    }
}

impl World {
    pub fn new(mode: Mode, cfg: Config, seed: u64, symbols: &[(&str, u32)]) -> World {
        let tick = cfg.risk.tick_size;
        World {
            mode,
            cfg,
            now: Nanos::ZERO,
            venue: Venue::new(mode, seed),
            market: Market::new(symbols, tick, seed),
            to_venue: VecDeque::new(),
            latency: Nanos::from_us(20),
            connected: false,
            connect_at: Nanos::ZERO,
            delivered: 0,
            next_fill: Nanos::from_us(100),
            fill_interval: Nanos::from_us(250),
            script: Vec::new(),
            script_pos: 0,
            journal: Vec::new(),
            sends: Vec::new(),
            parents: Vec::new(),
            by_coid: BTreeMap::new(),
            pending: BTreeMap::new(),
            correlation: 0,
            replies: Vec::new(),
            violations: Vec::new(),
            rng: rng(seed ^ 0x0077_0e1d),
            time_limit: Nanos::from_secs(600),
            check_each_call: true,
            quiet_after_script: false,
            engine_calls: 0,
            first_sends: BTreeMap::new(),
            resends: 0,
        }
    }

    pub fn engine(&self) -> Engine {
        Engine::with_options(&self.cfg, self.mode.options())
    }

    /// Brings the session up and publishes an initial quote per symbol.
    pub fn start(&mut self, eng: &mut Engine, out: &mut Outbox) {
        for i in 0..self.market.symbols.len() {
            let q = self.market.quote_for(i, self.now);
            self.engine_call(eng, out, |e, o, now| e.on_quote(now, &q, o), None);
        }
        self.connect(eng, out, None);
    }

    pub fn connect(&mut self, eng: &mut Engine, out: &mut Outbox, hook: Option<Hook<'_>>) {
        self.connected = true;
        self.connect_at = self.now;
        // SoupBinTCP login at the engine's next expected sequence number.
        self.delivered = eng.next_expected_soup_seq() - 1;
        self.engine_call(eng, out, |e, o, now| e.on_session(now, true, o), hook);
    }

    pub fn disconnect(&mut self, eng: &mut Engine, out: &mut Outbox) {
        self.connected = false;
        // Requests in flight: a random prefix reaches the venue.
        let keep = self.rng.random_range(0..=self.to_venue.len());
        self.to_venue.truncate(keep);
        self.engine_call(eng, out, |e, o, now| e.on_session(now, false, o), None);
    }

    fn deliverable_at(&self, seq: u64) -> Option<Nanos> {
        let (t, _) = self.venue.log.get(seq as usize - 1)?;
        Some((*t).max(self.connect_at) + self.latency)
    }

    pub fn next_time(&self, eng: &Engine) -> Nanos {
        let mut t = eng.next_deadline();
        if t == Nanos::ZERO {
            t = self.now;
        }
        if let Some((a, _)) = self.to_venue.front() {
            t = t.min(*a);
        }
        if self.connected {
            if let Some(a) = self.deliverable_at(self.delivered + 1) {
                t = t.min(a);
            }
        }
        if let Some((a, _)) = self.script.get(self.script_pos) {
            t = t.min(*a);
        }
        if !(self.quiet_after_script && self.script_pos >= self.script.len()) {
            t = t.min(self.market.next).min(self.next_fill);
        } else if !self.venue.live.is_empty() {
            t = t.min(self.next_fill);
        }
        t.max(self.now)
    }

    /// All parents finished, nothing in flight, everything delivered.
    pub fn quiescent(&self, eng: &Engine) -> bool {
        self.script_pos >= self.script.len()
            && self.pending.is_empty()
            && eng.live_parents() == 0
            && self.venue.live.is_empty()
            && self.to_venue.is_empty()
            && self.connected
            && self.delivered as usize == self.venue.log.len()
    }

    /// One engine call with the outbox processed in order.
    pub fn engine_call(
        &mut self,
        eng: &mut Engine,
        out: &mut Outbox,
        f: impl FnOnce(&mut Engine, &mut Outbox, Nanos),
        hook: Option<Hook<'_>>,
    ) -> bool {
        f(eng, out, self.now);
        self.engine_calls += 1;
        let crashed = self.process(out, hook);
        if self.check_each_call && !crashed {
            if let Err(e) = eng.check_invariants() {
                self.violations.push(format!("engine invariant: {e}"));
            }
        }
        crashed
    }

    /// Processes the outbox in order. Returns true if the hook asked to stop.
    pub fn process(&mut self, out: &mut Outbox, mut hook: Option<Hook<'_>>) -> bool {
        let actions: Vec<Action> = out.drain().collect();
        for (i, a) in actions.iter().enumerate() {
            match *a {
                Action::Journal(rec) => {
                    let mut buf = [0u8; floe::engine::record::MAX_RECORD_LEN];
                    let n = rec.encode(&mut buf).expect("record encodes");
                    let back = Record::decode(rec.record_type(), &buf[..n]).expect("decodes");
                    if back != rec && !texts_only_differ(&back, &rec) {
                        self.violations.push(format!("record round trip: {rec:?}"));
                    }
                    self.journal.push((rec.record_type(), buf[..n].to_vec()));
                    if let Some(h) = hook.as_mut() {
                        let next_send = match actions.get(i + 1) {
                            Some(Action::Send(s)) => Some(*s),
                            _ => None,
                        };
                        h(CrashPoint {
                            world: self,
                            next_send,
                        });
                    }
                }
                Action::Send(req) => self.on_send(req),
                Action::Reply { correlation, reply } => self.on_reply(correlation, reply),
                Action::Status(s) => self.on_status(s),
            }
        }
        false
    }

    /// A send the crashed engine had handed over before dying.
    pub fn process_send_for_crash(&mut self, req: OrderRequest) {
        self.on_send(req);
    }

    fn on_send(&mut self, req: OrderRequest) {
        if !self.connected {
            self.violations
                .push(format!("sent while the session is down: {req:?}"));
            return;
        }
        // A resend repeats the first send of its ref exactly; its price was
        // checked against the limit in force when the intent was made.
        let key = match req {
            OrderRequest::Enter { order, .. } => Some((order.0, 0u8)),
            OrderRequest::Replace { new, .. } => Some((new.0, 1)),
            OrderRequest::Cancel { order, .. } => Some((order.0, 2)),
            OrderRequest::AccountQuery => None,
        };
        if let Some(k) = key {
            if let Some(first) = self.first_sends.get(&k) {
                if *first != req {
                    self.violations
                        .push(format!("resend differs: {first:?} then {req:?}"));
                }
                self.resends += 1;
                self.sends.push((self.now, req));
                self.to_venue.push_back((self.now + self.latency, req));
                return;
            }
            self.first_sends.insert(k, req);
        }
        let (parent, price) = match req {
            OrderRequest::Enter { tag, price, .. } => (Some(tag.parent), Some(price)),
            OrderRequest::Replace { new_tag, price, .. } => (Some(new_tag.parent), Some(price)),
            _ => (None, None),
        };
        if let (Some(p), Some(price)) = (parent, price) {
            if let Some(t) = self.parents.iter().find(|t| t.id == p) {
                let ok = match t.side {
                    Some(Side::Buy) => price.0 <= t.limit,
                    Some(Side::Sell) => price.0 >= t.limit,
                    None => true,
                };
                if !ok {
                    self.violations.push(format!(
                        "child of parent {p} priced {} beyond the limit {}",
                        price.0, t.limit
                    ));
                }
            }
        }
        self.sends.push((self.now, req));
        self.to_venue.push_back((self.now + self.latency, req));
    }

    fn on_reply(&mut self, corr: u64, reply: Reply) {
        self.replies.push((corr, reply));
        let Some(cmd) = self.pending.remove(&corr) else {
            self.violations
                .push(format!("reply to an unknown correlation {corr}"));
            return;
        };
        match (cmd, reply) {
            (Script::New { coid, params, .. }, Reply::Accepted { parent, .. }) => {
                let idx = match self.by_coid.get(&coid) {
                    Some(&i) => {
                        if self.parents[i].id != parent {
                            self.violations.push(format!(
                                "replayed {coid} answered parent {parent}, was {}",
                                self.parents[i].id
                            ));
                        }
                        i
                    }
                    None if self.parents.iter().any(|t| t.id == parent) => {
                        let i = self.parents.iter().position(|t| t.id == parent).unwrap();
                        self.parents[i].limit = params.limit.0;
                        self.by_coid.insert(coid, i);
                        i
                    }
                    None => {
                        self.parents.push(Tracked {
                            id: parent,
                            limit: params.limit.0,
                            side: Some(params.side),
                            max_total: u64::from(params.total.0),
                            ..Tracked::default()
                        });
                        self.by_coid.insert(coid, self.parents.len() - 1);
                        self.parents.len() - 1
                    }
                };
                let t = &self.parents[idx];
                self.venue.ceiling.insert(t.id, t.max_total);
            }
            (
                Script::Amend {
                    parent,
                    total,
                    limit,
                },
                Reply::Done { .. },
            ) => {
                if let Some(t) = self.parents.get_mut(parent) {
                    if let Some(l) = limit {
                        t.limit = l;
                    }
                    if let Some(q) = total {
                        t.max_total = t.max_total.max(u64::from(q));
                        self.venue.ceiling.insert(t.id, t.max_total);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_status(&mut self, s: ParentStatus) {
        if s.filled.0 as u64 + s.remaining.0 as u64 + s.live.0 as u64 != s.total.0 as u64
            || s.filled > s.total
        {
            self.violations
                .push(format!("status breaks filled+remaining+live=total: {s:?}"));
        }
        if let Some(t) = self.parents.iter_mut().find(|t| t.id == s.parent) {
            if t.statuses.last() != Some(&s.status) {
                t.statuses.push(s.status);
            }
            t.last = Some(s);
        } else {
            // Status before the reply registered the parent: keep it for later.
            self.venue
                .ceiling
                .entry(s.parent)
                .or_insert(u64::from(s.requested_total.0));
            self.parents.push(Tracked {
                id: s.parent,
                limit: s.limit.0,
                side: Some(s.side),
                max_total: u64::from(s.requested_total.0),
                last: Some(s),
                statuses: vec![s.status],
            });
        }
    }

    pub fn send_command(
        &mut self,
        eng: &mut Engine,
        out: &mut Outbox,
        item: Script,
        hook: Option<Hook<'_>>,
    ) {
        let kind = match &item {
            Script::New { coid, params, seed } => CommandKind::NewIceberg {
                client_order_id: ClientOrderId::new(coid.as_bytes()).unwrap(),
                params: *params,
                seed: *seed,
            },
            Script::Cancel(i) => CommandKind::Cancel {
                parent: self.pid(*i),
            },
            Script::Pause(i) => CommandKind::Pause {
                parent: self.pid(*i),
            },
            Script::Resume(i) => CommandKind::Resume {
                parent: self.pid(*i),
            },
            Script::Amend {
                parent,
                total,
                limit,
            } => CommandKind::Amend {
                parent: self.pid(*parent),
                total: total.map(Qty),
                limit: limit.map(Price4),
            },
            Script::Kill(on) => CommandKind::KillSwitch { on: *on },
            _ => return,
        };
        self.correlation += 1;
        let corr = self.correlation;
        self.pending.insert(corr, item);
        let cmd = Command {
            correlation: corr,
            kind,
        };
        self.engine_call(
            eng,
            out,
            |e, o, now| e.on_command(now, &cmd, o).expect("outbox has room"),
            hook,
        );
    }

    fn pid(&self, i: usize) -> u32 {
        // Tracked parents registered from replies, in creation order.
        let mut ids: Vec<u32> = self.by_coid.values().map(|&k| self.parents[k].id).collect();
        ids.sort_unstable();
        ids.get(i).copied().unwrap_or(u32::MAX - 1)
    }

    fn run_script_item(
        &mut self,
        eng: &mut Engine,
        out: &mut Outbox,
        item: Script,
        hook: Option<Hook<'_>>,
    ) {
        match item {
            Script::Disconnect => {
                if self.connected {
                    self.disconnect(eng, out);
                }
            }
            Script::Reconnect => {
                if !self.connected {
                    self.connect(eng, out, hook);
                }
            }
            Script::CancelAll => {
                let ids: Vec<usize> = (0..self.by_coid.len()).collect();
                for i in ids {
                    let id = self.pid(i);
                    if eng
                        .parent_status(id)
                        .is_some_and(|s| !is_terminal(s.status) && !s.cancel_pending)
                    {
                        self.send_command(eng, out, Script::Cancel(i), None);
                    }
                }
            }
            Script::Refeed => {
                let quotes = self.market.last.clone();
                for q in quotes {
                    self.engine_call(eng, out, |e, o, now| e.on_quote(now, &q, o), None);
                }
            }
            other => self.send_command(eng, out, other, hook),
        }
    }

    /// Advances to the next instant with work and does it. Returns false
    /// when nothing is left to do.
    pub fn step(&mut self, eng: &mut Engine, out: &mut Outbox, mut hook: Option<Hook<'_>>) -> bool {
        let t = self.next_time(eng);
        if t == Nanos::MAX || t > self.time_limit {
            return false;
        }
        self.now = self.now.max(t);
        let now = self.now;
        while self.to_venue.front().is_some_and(|(a, _)| *a <= now) {
            let (_, req) = self.to_venue.pop_front().unwrap();
            self.venue.handle(now, req);
        }
        while self.connected
            && self
                .deliverable_at(self.delivered + 1)
                .is_some_and(|a| a <= now)
        {
            let seq = self.delivered + 1;
            let ev = self.venue.log[seq as usize - 1].1;
            self.delivered = seq;
            self.engine_call(
                eng,
                out,
                |e, o, now| e.on_order_event(now, seq, &ev, o).expect("outbox has room"),
                rb(&mut hook),
            );
        }
        let quiet = self.quiet_after_script && self.script_pos >= self.script.len();
        if !quiet && self.market.next <= now {
            let q = self.market.tick_once(now);
            self.engine_call(eng, out, |e, o, now| e.on_quote(now, &q, o), rb(&mut hook));
        }
        if self.next_fill <= now {
            self.venue.fill_round(now);
            self.next_fill = now + self.fill_interval;
        }
        while self
            .script
            .get(self.script_pos)
            .is_some_and(|(a, _)| *a <= now)
        {
            let item = self.script[self.script_pos].1.clone();
            self.script_pos += 1;
            self.run_script_item(eng, out, item, rb(&mut hook));
        }
        let d = eng.next_deadline();
        if d <= now {
            self.engine_call(eng, out, |e, o, now| e.poll(now, o), rb(&mut hook));
        }
        true
    }

    /// Runs until quiescent (true) or out of time / stuck (false).
    pub fn run(&mut self, eng: &mut Engine, out: &mut Outbox, mut hook: Option<Hook<'_>>) -> bool {
        let mut spins = 0u64;
        loop {
            if self.quiescent(eng) {
                return true;
            }
            let before = self.now;
            if !self.step(eng, out, rb(&mut hook)) {
                return false;
            }
            if self.now == before {
                spins += 1;
                if spins > 10_000 {
                    self.violations.push("no progress at one instant".into());
                    return false;
                }
            } else {
                spins = 0;
            }
        }
    }

    /// Decodes the journal (through the binary encoding).
    pub fn records(&self) -> Vec<Record> {
        self.journal
            .iter()
            .map(|(t, b)| Record::decode(*t, b).expect("journal decodes"))
            .collect()
    }
}

pub fn is_terminal(s: StatusCode) -> bool {
    matches!(
        s,
        StatusCode::Filled | StatusCode::Cancelled | StatusCode::Rejected
    )
}

/// Records equal except for venue reason texts (not journaled).
fn texts_only_differ(a: &Record, b: &Record) -> bool {
    match (a, b) {
        (
            Record::VenueEvent {
                at: a1,
                soup_seq: s1,
                event: e1,
            },
            Record::VenueEvent {
                at: a2,
                soup_seq: s2,
                event: e2,
            },
        ) => a1 == a2 && s1 == s2 && strip(e1) == strip(e2),
        _ => false,
    }
}

fn strip(e: &OrderEvent) -> OrderEvent {
    match *e {
        OrderEvent::Rejected {
            ts,
            order,
            tag,
            reason,
        } => OrderEvent::Rejected {
            ts,
            order,
            tag,
            reason: RejectReason {
                code: reason.code,
                text: "",
            },
        },
        OrderEvent::Canceled {
            ts,
            order,
            decrement,
            reason,
        } => OrderEvent::Canceled {
            ts,
            order,
            decrement,
            reason: CancelReason {
                code: reason.code,
                text: "",
            },
        },
        other => other,
    }
}

/// A fresh engine rebuilt from journal records (applied one by one).
pub fn replay(cfg: &Config, mode: Mode, records: &[Record]) -> Engine {
    let mut e = Engine::with_options(cfg, mode.options());
    for (i, r) in records.iter().enumerate() {
        e.apply(r)
            .unwrap_or_else(|err| panic!("record {i} {r:?}: {err}"));
    }
    e
}

pub fn snapshot_bytes(e: &Engine) -> Vec<u8> {
    let mut v = Vec::new();
    e.snapshot(&mut v);
    v
}

/// The legal transitions of the design (NEW → WORKING ⇄ PAUSED →
/// FILLED | CANCELLED | REJECTED; NEW may pause, cancel or be rejected before
/// its first child).
pub fn legal(from: ParentState, to: ParentState) -> bool {
    use ParentState::*;
    from == to
        || matches!(
            (from, to),
            (New, Working | Paused | Cancelled | Rejected)
                | (Working, Paused | Filled | Cancelled | Rejected)
                | (Paused, Working | Filled | Cancelled | Rejected)
        )
}

pub fn state_of(s: StatusCode) -> ParentState {
    match s {
        StatusCode::New => ParentState::New,
        StatusCode::Working | StatusCode::PartiallyFilled => ParentState::Working,
        StatusCode::Paused => ParentState::Paused,
        StatusCode::Filled => ParentState::Filled,
        StatusCode::Cancelled => ParentState::Cancelled,
        StatusCode::Rejected => ParentState::Rejected,
    }
}

/// The parent a record is about.
pub fn record_parent(r: &Record) -> Option<u32> {
    match *r {
        Record::ParentAccepted { parent, .. }
        | Record::ParentControl { parent, .. }
        | Record::ParentWait { parent, .. }
        | Record::ParentHalt { parent, .. } => Some(parent),
        Record::ChildIntent(ci) => Some(ci.tag.parent),
        _ => None,
    }
}

/// Replays `records` into a fresh engine one at a time, checking that every
/// parent's state changes only along legal transitions and that invariants
/// hold after every record. Returns the engine.
pub fn shadow_replay(cfg: &Config, mode: Mode, records: &[Record]) -> Result<Engine, String> {
    let mut e = Engine::with_options(cfg, mode.options());
    let mut states: BTreeMap<u32, ParentState> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        e.apply(r)
            .map_err(|err| format!("record {i} {r:?}: {err}"))?;
        e.check_invariants()
            .map_err(|err| format!("after record {i} {r:?}: {err}"))?;
        // Any record may move any parent (kill switch, venue events): check all tracked.
        let ids: Vec<u32> = states.keys().copied().chain(record_parent(r)).collect();
        for id in ids {
            let Some(s) = e.parent_status(id) else {
                continue;
            };
            let now = state_of(s.status);
            if let Some(prev) = states.insert(id, now) {
                if !legal(prev, now) {
                    return Err(format!("record {i}: parent {id} {prev:?} -> {now:?}"));
                }
            } else if now != ParentState::New {
                return Err(format!("record {i}: parent {id} born {now:?}"));
            }
        }
    }
    Ok(e)
}

/// A default test configuration: small pools, generous risk.
pub fn test_config() -> Config {
    let mut c = Config::default();
    c.pools.parents = 16;
    c.pools.children = 32;
    c.pools.timers = 32;
    c.pools.client_order_ids = 64;
    c.book.symbols = 4;
    c.risk.max_child_qty = 10_000;
    c.risk.max_parent_notional = 1_000_000_000;
    c.risk.price_collar_percent = 10;
    c.risk.max_live_parents = 16;
    c.risk.position_limit = 10_000_000;
    c.risk.child_orders_per_sec = 10_000;
    c.risk.child_orders_burst = 100;
    c.risk.lot_size = 1;
    c.risk.tick_size = 100;
    c
}

pub fn params(
    sym: &str,
    side: Side,
    total: u32,
    display: u32,
    ppm: u32,
    limit: u32,
) -> IcebergParams {
    IcebergParams {
        symbol: Symbol::new(sym).unwrap(),
        side,
        total: Qty(total),
        display: Qty(display),
        variance_ppm: ppm,
        limit: Price4(limit),
        min_delay_ms: 0,
        max_delay_ms: 0,
        tif: TimeInForce::Day,
        peg: false,
    }
}

/// A random scenario for `seed`.
pub fn random_scenario(seed: u64) -> World {
    let mut r = rng(seed);
    let mode = if seed.is_multiple_of(2) {
        Mode::Ouch50
    } else {
        Mode::Ouch42
    };
    let mut cfg = test_config();
    let lot = if r.random_bool(0.3) { 100 } else { 1 };
    cfg.risk.lot_size = lot;
    if r.random_bool(0.3) {
        // Tight rate limit: children wait for tokens.
        cfg.risk.child_orders_per_sec = r.random_range(200..2_000);
        cfg.risk.child_orders_burst = r.random_range(1..4);
    }
    if r.random_bool(0.2) {
        // Tight collar: children wait for the market.
        cfg.risk.price_collar_percent = 1;
    }
    if r.random_bool(0.1) {
        cfg.risk.position_limit = 3_000;
    }
    let nsym = r.random_range(1..=2usize);
    let syms: Vec<(&str, u32)> = [("AAPL", 50_0000u32), ("MSFT", 120_0000)][..nsym].to_vec();
    let mut w = World::new(mode, cfg, seed, &syms);
    w.venue.reject_enter_ppm = r.random_range(0..25_000);
    w.venue.reject_replace_ppm = r.random_range(0..150_000);
    w.venue.fill_ppm = r.random_range(100_000..600_000);
    w.latency = Nanos::from_us(r.random_range(5..60));

    let nparents = r.random_range(1..=3usize);
    let mut items: Vec<(Nanos, Script)> = Vec::new();
    for i in 0..nparents {
        let (sym, mid) = syms[r.random_range(0..nsym)];
        let side = if r.random_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let display = lot * r.random_range(1..=4);
        let total = display * r.random_range(2..=12);
        let off = 100 * r.random_range(0..=6u32);
        let limit = match side {
            Side::Buy => mid + off,
            Side::Sell => mid - off,
        };
        let mut p = params(sym, side, total, display, r.random_range(0..500_000), limit);
        p.min_delay_ms = r.random_range(0..=1);
        p.max_delay_ms = p.min_delay_ms + r.random_range(0..=2);
        p.peg = r.random_bool(0.5);
        if r.random_bool(0.1) {
            p.tif = TimeInForce::Ioc;
        }
        let coid = format!("s{seed}-p{i}");
        let at = Nanos::from_us(r.random_range(1..2_000));
        items.push((
            at,
            Script::New {
                coid: coid.clone(),
                params: p,
                seed: r.random(),
            },
        ));
        if r.random_bool(0.15) {
            // The client retries: the same body gets the original answer.
            items.push((
                at + Nanos::from_us(500),
                Script::New {
                    coid: coid.clone(),
                    params: p,
                    seed: r.random(),
                },
            ));
        }
        if r.random_bool(0.1) {
            let mut q = p;
            q.total = Qty(total + lot);
            items.push((
                at + Nanos::from_us(700),
                Script::New {
                    coid,
                    params: q,
                    seed: 1,
                },
            ));
        }
    }
    let nevents = r.random_range(0..12);
    for _ in 0..nevents {
        let at = Nanos::from_us(r.random_range(100..20_000));
        let i = r.random_range(0..nparents);
        let item = match r.random_range(0..100) {
            0..=17 => Script::Pause(i),
            18..=35 => Script::Resume(i),
            36..=43 => Script::Cancel(i),
            44..=57 => Script::Amend {
                parent: i,
                total: Some(lot * r.random_range(1..=40)),
                limit: None,
            },
            58..=69 => {
                let (_, mid) = syms[0];
                Script::Amend {
                    parent: i,
                    total: None,
                    limit: Some(mid - 500 + 100 * r.random_range(0..=10)),
                }
            }
            70..=75 => Script::Kill(true),
            76..=81 => Script::Kill(false),
            _ => {
                items.push((
                    at + Nanos::from_us(r.random_range(50..3_000)),
                    Script::Reconnect,
                ));
                Script::Disconnect
            }
        };
        items.push((at, item));
    }
    // The end: everything reconnected, resumed or cancelled.
    let end = Nanos::from_ms(25);
    items.push((end, Script::Reconnect));
    for i in 0..nparents {
        items.push((end + Nanos::from_us(1), Script::Resume(i)));
    }
    items.push((end + Nanos::from_ms(5), Script::CancelAll));
    items.sort_by_key(|(t, _)| *t);
    w.script = items;
    w.quiet_after_script = true;
    w
}

/// A short scenario for the crash tests: one or two icebergs on two symbols,
/// sometimes a tight rate limit and a disconnect; `salt` picks the family
/// of seeds and `prefix` starts every client order id.
pub fn crash_scenario(seed: u64, salt: u64, prefix: &str) -> World {
    let mut r = rng(seed ^ salt);
    let mode = if seed.is_multiple_of(2) {
        Mode::Ouch50
    } else {
        Mode::Ouch42
    };
    let mut cfg = test_config();
    if r.random_bool(0.3) {
        cfg.risk.child_orders_per_sec = 2_000;
        cfg.risk.child_orders_burst = 1;
    }
    let mut w = World::new(mode, cfg, seed, &[("AAPL", 50_0000), ("MSFT", 120_0000)]);
    w.venue.reject_replace_ppm = r.random_range(0..100_000);
    w.venue.fill_ppm = r.random_range(200_000..700_000);
    for i in 0..r.random_range(1..=2) {
        let (sym, mid) = if r.random_bool(0.5) {
            ("AAPL", 50_0000)
        } else {
            ("MSFT", 120_0000)
        };
        let side = if r.random_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let display = r.random_range(1..=3) * 10;
        let total = display * r.random_range(2..=5);
        let limit = if side == Side::Buy {
            mid + 200
        } else {
            mid - 200
        };
        let mut p = params(sym, side, total, display, r.random_range(0..300_000), limit);
        p.peg = r.random_bool(0.5);
        p.max_delay_ms = r.random_range(0..=1);
        let at = Nanos::from_us(r.random_range(1..400));
        w.script.push((
            at,
            Script::New {
                coid: format!("{prefix}{seed}-{i}"),
                params: p,
                seed: r.random(),
            },
        ));
    }
    if r.random_bool(0.3) {
        let at = Nanos::from_us(r.random_range(200..1_500));
        w.script.push((at, Script::Disconnect));
        w.script.push((
            at + Nanos::from_us(r.random_range(50..800)),
            Script::Reconnect,
        ));
    }
    w.script.sort_by_key(|(t, _)| *t);
    w
}
