//! One behaviour per test, driven by hand: idempotency, validation, risk
//! refusals and what a refused parent does, pause/resume/cancel/amend,
//! pegging, venue rejects, duplicate and untrusted reports, the session
//! protocol (account query, resends in ref order), outbox-full deferral,
//! the kill switch, timers across replay, pool eviction and id limits.

use floe::algo::iceberg::{IcebergParams, ParamError, ParentState, StatusCode};
use floe::algo::RiskRefusal;
use floe::config::Config;
use floe::engine::{
    Action, Capacity, ClientOrderId, Command, CommandError, CommandKind, Engine, EngineOptions,
    Outbox, OutboxFull, ParentReason, Record, Reply, ID_LIMIT,
};
use floe::order::{
    CancelReason, ChildTag, OrderEvent, OrderRef, OrderRequest, RejectReason, TimeInForce,
};
use floe::time::Nanos;
use floe::types::{Level, Price4, Qty, Quote, Side, Symbol};

fn cfg() -> Config {
    let mut c = Config::default();
    c.pools.parents = 4;
    c.pools.children = 8;
    c.pools.client_order_ids = 8;
    c.book.symbols = 2;
    c.risk.max_child_qty = 1_000;
    c.risk.max_parent_notional = 10_000_000;
    c.risk.price_collar_percent = 5;
    c.risk.max_live_parents = 3;
    c.risk.position_limit = 100_000;
    c.risk.child_orders_per_sec = 1_000;
    c.risk.child_orders_burst = 10;
    c.risk.lot_size = 1;
    c.risk.tick_size = 100;
    c
}

fn sym() -> Symbol {
    Symbol::new("AAPL").unwrap()
}

fn p(total: u32, display: u32, limit: u32) -> IcebergParams {
    IcebergParams {
        symbol: sym(),
        side: Side::Buy,
        total: Qty(total),
        display: Qty(display),
        variance_ppm: 0,
        limit: Price4(limit),
        min_delay_ms: 0,
        max_delay_ms: 0,
        tif: TimeInForce::Day,
        peg: false,
    }
}

struct T {
    e: Engine,
    cfg: Config,
    opts: EngineOptions,
    out: Outbox,
    now: Nanos,
    seq: u64,
    corr: u64,
    acts: Vec<Action>,
    journal: Vec<Record>,
}

impl T {
    fn with(cfg: Config, account_query: bool) -> T {
        let opts = EngineOptions { account_query };
        T {
            e: Engine::with_options(&cfg, opts),
            cfg,
            opts,
            out: Outbox::with_capacity(64),
            now: Nanos::from_secs(1),
            seq: 0,
            corr: 0,
            acts: Vec::new(),
            journal: Vec::new(),
        }
    }

    /// Session up (OUCH 4.2 rules) and a quote at 100.00 / 100.02.
    fn ready() -> T {
        let mut t = T::with(cfg(), false);
        t.up();
        t.quote(100_0000, 100_0200);
        t
    }

    fn collect(&mut self) {
        self.acts = self.out.drain().collect();
        for a in &self.acts {
            if let Action::Journal(r) = a {
                self.journal.push(*r);
            }
        }
        self.e.check_invariants().unwrap();
    }

    fn at(&mut self, us: u64) {
        self.now = self.now + Nanos::from_us(us);
    }

    fn up(&mut self) {
        self.e.on_session(self.now, true, &mut self.out);
        self.collect();
    }

    fn down(&mut self) {
        self.e.on_session(self.now, false, &mut self.out);
        self.collect();
    }

    fn quote(&mut self, bid: u32, ask: u32) {
        let q = Quote {
            symbol: sym(),
            bid: Some(Level {
                price: Price4(bid),
                qty: Qty(100),
            }),
            ask: Some(Level {
                price: Price4(ask),
                qty: Qty(100),
            }),
            exch_ts: 0,
            rx_ts: self.now,
        };
        self.e.on_quote(self.now, &q, &mut self.out);
        self.collect();
    }

    fn cmd(&mut self, kind: CommandKind) -> Reply {
        self.corr += 1;
        let c = Command {
            correlation: self.corr,
            kind,
        };
        self.e.on_command(self.now, &c, &mut self.out).unwrap();
        self.collect();
        let corr = self.corr;
        self.acts
            .iter()
            .find_map(|a| match a {
                Action::Reply { correlation, reply } if *correlation == corr => Some(*reply),
                _ => None,
            })
            .expect("a reply")
    }

    fn submit(&mut self, coid: &str, params: IcebergParams) -> Reply {
        self.cmd(CommandKind::NewIceberg {
            client_order_id: ClientOrderId::new(coid.as_bytes()).unwrap(),
            params,
            seed: 7,
        })
    }

    fn ev(&mut self, e: OrderEvent) {
        self.seq += 1;
        self.e
            .on_order_event(self.now, self.seq, &e, &mut self.out)
            .unwrap();
        self.collect();
    }

    fn poll(&mut self) {
        self.e.poll(self.now, &mut self.out);
        self.collect();
    }

    fn sends(&self) -> Vec<OrderRequest> {
        self.acts
            .iter()
            .filter_map(|a| match a {
                Action::Send(s) => Some(*s),
                _ => None,
            })
            .collect()
    }

    fn status(&self, id: u32) -> floe::engine::ParentStatus {
        self.e.parent_status(id).unwrap()
    }

    /// The single Enter just sent.
    fn entered(&self) -> (OrderRef, ChildTag, Qty, Price4) {
        let s = self.sends();
        match s.as_slice() {
            [OrderRequest::Enter {
                order,
                tag,
                qty,
                price,
                ..
            }] => (*order, *tag, *qty, *price),
            other => panic!("expected one Enter, got {other:?}"),
        }
    }

    fn accept(&mut self, order: OrderRef, qty: u32, price: u32) {
        self.ev(OrderEvent::Accepted {
            ts: 0,
            order,
            tag: None,
            side: Side::Buy,
            qty: Qty(qty),
            symbol: sym(),
            price: Price4(price),
            venue_order_ref: 1,
            live: true,
        });
    }

    fn fill(&mut self, order: OrderRef, qty: u32, price: u32) {
        self.ev(OrderEvent::Executed {
            ts: 0,
            order,
            qty: Qty(qty),
            price: Price4(price),
            liquidity: b'A',
            match_number: self.seq,
        });
    }

    fn canceled(&mut self, order: OrderRef, qty: u32, code: u8) {
        self.ev(OrderEvent::Canceled {
            ts: 0,
            order,
            decrement: Qty(qty),
            reason: CancelReason { code, text: "" },
        });
    }

    fn replayed(&self) -> Engine {
        let mut e = Engine::with_options(&self.cfg, self.opts);
        for r in &self.journal {
            e.apply(r).unwrap();
        }
        e
    }
}

fn snap(e: &Engine) -> Vec<u8> {
    let mut v = Vec::new();
    e.snapshot(&mut v);
    v
}

#[test]
fn client_order_id_is_idempotent_and_survives_recovery() {
    let mut t = T::ready();
    let first = t.submit("abc", p(300, 100, 100_0000));
    let Reply::Accepted {
        parent,
        created_at,
        replay: false,
        status: StatusCode::New,
    } = first
    else {
        panic!("{first:?}")
    };
    t.at(10);
    // Same body, another seed: the original answer, flagged as a replay.
    let again = t.cmd(CommandKind::NewIceberg {
        client_order_id: ClientOrderId::new(b"abc").unwrap(),
        params: p(300, 100, 100_0000),
        seed: 99,
    });
    assert_eq!(
        again,
        Reply::Accepted {
            parent,
            created_at,
            replay: true,
            status: StatusCode::New
        }
    );
    assert!(t.sends().is_empty(), "a replay sends nothing");
    assert_eq!(
        t.submit("abc", p(301, 100, 100_0000)),
        Reply::Refused(CommandError::Conflict)
    );
    // A refused request does not consume its id.
    assert_eq!(
        t.submit("bad", p(300, 100, 100_0050)),
        Reply::Refused(CommandError::Invalid(ParamError::NotTickMultiple))
    );
    assert!(matches!(
        t.submit("bad", p(300, 100, 100_0000)),
        Reply::Accepted { replay: false, .. }
    ));
    // After recovery the index still answers.
    let mut r = T::with(cfg(), false);
    r.e = t.replayed();
    assert_eq!(
        r.submit("abc", p(300, 100, 100_0000)),
        Reply::Accepted {
            parent,
            created_at,
            replay: true,
            status: StatusCode::New
        }
    );
    assert_eq!(
        r.submit("abc", p(300, 100, 100_0100)),
        Reply::Refused(CommandError::Conflict)
    );
}

#[test]
fn a_full_client_order_id_index_is_a_clean_refusal() {
    let mut c = cfg();
    c.pools.client_order_ids = 2;
    c.risk.max_live_parents = 10;
    let mut t = T::with(c, false);
    t.up();
    t.quote(100_0000, 100_0200);
    assert!(matches!(
        t.submit("a", p(100, 100, 100_0000)),
        Reply::Accepted { .. }
    ));
    assert!(matches!(
        t.submit("b", p(100, 100, 100_0000)),
        Reply::Accepted { .. }
    ));
    assert_eq!(
        t.submit("c", p(100, 100, 100_0000)),
        Reply::Refused(CommandError::Capacity(Capacity::ClientOrderIds))
    );
    // Known ids still answer.
    assert!(matches!(
        t.submit("a", p(100, 100, 100_0000)),
        Reply::Accepted { replay: true, .. }
    ));
}

#[test]
fn parameters_and_parent_risk_are_checked_with_typed_reasons() {
    let mut t = T::ready();
    let cases: Vec<(IcebergParams, CommandError)> = vec![
        (
            p(0, 100, 100_0000),
            CommandError::Invalid(ParamError::ZeroTotal),
        ),
        (
            p(100, 0, 100_0000),
            CommandError::Invalid(ParamError::ZeroDisplay),
        ),
        (
            IcebergParams {
                variance_ppm: 1_000_000,
                ..p(100, 10, 100_0000)
            },
            CommandError::Invalid(ParamError::VarianceOutOfRange),
        ),
        (
            IcebergParams {
                min_delay_ms: 5,
                max_delay_ms: 4,
                ..p(100, 10, 100_0000)
            },
            CommandError::Invalid(ParamError::DelayRange),
        ),
        (
            p(100, 10, 0),
            CommandError::Invalid(ParamError::LimitOutOfRange),
        ),
        (
            p(100_000, 100, 100_0100),
            CommandError::Risk(RiskRefusal::MaxParentNotional),
        ),
        (
            p(5_000, 1_001, 100_0000),
            CommandError::Risk(RiskRefusal::MaxChildQty),
        ),
    ];
    for (i, (params, want)) in cases.into_iter().enumerate() {
        assert_eq!(
            t.submit(&format!("x{i}"), params),
            Reply::Refused(want),
            "case {i}"
        );
    }
    let mut c = cfg();
    c.risk.lot_size = 100;
    c.risk.position_limit = 1_000;
    let mut t = T::with(c, false);
    assert_eq!(
        t.submit("l", p(150, 100, 100_0000)),
        Reply::Refused(CommandError::Invalid(ParamError::NotLotMultiple))
    );
    assert_eq!(
        t.submit("q", p(1_100, 100, 100_0000)),
        Reply::Refused(CommandError::Risk(RiskRefusal::PositionLimit))
    );
    for i in 0..3 {
        assert!(matches!(
            t.submit(&format!("m{i}"), p(100, 100, 100_0000)),
            Reply::Accepted { .. }
        ));
    }
    assert_eq!(
        t.submit("m3", p(100, 100, 100_0000)),
        Reply::Refused(CommandError::Risk(RiskRefusal::MaxLiveParents))
    );
}

#[test]
fn first_slice_goes_at_once_and_a_fill_releases_the_next_in_the_same_call() {
    let mut t = T::ready();
    t.submit("a", p(250, 100, 100_0000));
    let (o1, tag1, q1, px) = t.entered();
    assert_eq!(
        (tag1, q1, px),
        (
            ChildTag {
                parent: 1,
                child: 1
            },
            Qty(100),
            Price4(100_0000)
        )
    );
    // The journal record precedes the send.
    let ji = t
        .acts
        .iter()
        .position(|a| matches!(a, Action::Journal(Record::ChildIntent(_))))
        .unwrap();
    let si = t
        .acts
        .iter()
        .position(|a| matches!(a, Action::Send(_)))
        .unwrap();
    assert!(ji < si);
    t.accept(o1, 100, 100_0000);
    assert!(t.sends().is_empty());
    t.fill(o1, 40, 100_0000);
    assert!(t.sends().is_empty(), "a partial fill does not refresh");
    assert_eq!(t.status(1).status, StatusCode::PartiallyFilled);
    t.fill(o1, 60, 99_9900);
    let (o2, tag2, q2, _) = t.entered();
    assert!(o2 > o1);
    assert_eq!((tag2.child, q2), (2, Qty(100)));
    t.accept(o2, 100, 100_0000);
    t.fill(o2, 100, 100_0000);
    let (o3, _, q3, _) = t.entered();
    assert_eq!(q3, Qty(50), "never above what remains");
    t.accept(o3, 50, 100_0000);
    t.fill(o3, 50, 100_0000);
    let s = t.status(1);
    assert_eq!(
        (s.status, s.filled, s.children),
        (StatusCode::Filled, Qty(250), 3)
    );
    assert_eq!(s.notional, 40 * 100_0000 + 60 * 99_9900 + 150 * 100_0000);
    assert!(t.sends().is_empty());
}

#[test]
fn refresh_delay_is_a_timer_that_survives_replay() {
    let mut t = T::ready();
    t.submit(
        "a",
        IcebergParams {
            min_delay_ms: 3,
            max_delay_ms: 3,
            ..p(200, 100, 100_0000)
        },
    );
    let (o1, ..) = t.entered();
    t.accept(o1, 100, 100_0000);
    t.fill(o1, 100, 100_0000);
    assert!(t.sends().is_empty(), "waits for the delay");
    let due = t.now + Nanos::from_ms(3);
    assert_eq!(t.e.next_deadline(), due);
    // A replayed engine has the same timer with its original deadline.
    assert_eq!(t.replayed().next_deadline(), due);
    assert_eq!(snap(&t.replayed()), snap(&t.e));
    t.at(2_999);
    t.poll();
    assert!(t.sends().is_empty());
    t.at(1);
    t.poll();
    assert_eq!(t.entered().2, Qty(100));
}

#[test]
fn no_reference_price_waits_for_the_first_quote() {
    let mut t = T::with(cfg(), false);
    t.up();
    t.submit("a", p(100, 100, 100_0000));
    assert!(t.sends().is_empty());
    let s = t.status(1);
    assert_eq!(
        (s.status, s.waiting),
        (StatusCode::New, Some(RiskRefusal::NoReferencePrice))
    );
    t.quote(100_0000, 100_0200);
    t.entered();
    assert_eq!(t.status(1).status, StatusCode::Working);
    assert_eq!(t.status(1).waiting, None);
}

#[test]
fn price_collar_waits_for_a_quote_that_clears_it() {
    let mut t = T::ready();
    // 5 % collar around 100.01: a buy at 94.00 is outside.
    t.submit("a", p(100, 100, 94_0000));
    assert!(t.sends().is_empty());
    assert_eq!(t.status(1).waiting, Some(RiskRefusal::PriceCollar));
    assert_eq!(
        t.status(1).last_reason,
        Some(ParentReason::Risk(RiskRefusal::PriceCollar))
    );
    let records = t.journal.len();
    t.quote(100_0100, 100_0300);
    assert_eq!(
        t.journal.len(),
        records,
        "an unchanged refusal is not journaled again"
    );
    t.quote(97_0000, 97_0200);
    assert_eq!(t.entered().3, Price4(94_0000));
}

#[test]
fn rate_limit_retries_on_a_timer_when_the_token_is_due() {
    let mut c = cfg();
    c.risk.child_orders_per_sec = 10;
    c.risk.child_orders_burst = 1;
    let mut t = T::with(c, false);
    t.up();
    t.quote(100_0000, 100_0200);
    t.submit("a", p(100, 100, 100_0000));
    t.entered();
    t.submit("b", p(100, 100, 100_0000));
    assert!(t.sends().is_empty());
    assert_eq!(t.status(2).waiting, Some(RiskRefusal::RateLimited));
    // 10/s: the token the first child took is back 100 ms after it.
    let due = t.now + Nanos::from_ms(100);
    assert_eq!(t.e.next_deadline(), due);
    t.at(99_999);
    t.poll();
    assert!(t.sends().is_empty());
    t.at(1);
    t.poll();
    assert_eq!(t.entered().1.parent, 2);
}

#[test]
fn pause_cancels_the_child_a_late_fill_counts_and_resume_releases_at_once() {
    let mut t = T::ready();
    t.submit(
        "a",
        IcebergParams {
            min_delay_ms: 50,
            max_delay_ms: 50,
            ..p(300, 100, 100_0000)
        },
    );
    let (o1, tag, ..) = t.entered();
    t.accept(o1, 100, 100_0000);
    assert!(matches!(
        t.cmd(CommandKind::Pause { parent: 1 }),
        Reply::Done {
            status: StatusCode::Paused,
            ..
        }
    ));
    assert_eq!(
        t.sends(),
        vec![OrderRequest::Cancel {
            order: o1,
            tag,
            remaining: Qty(0)
        }]
    );
    assert_eq!(
        t.cmd(CommandKind::Pause { parent: 1 }),
        Reply::Refused(CommandError::InvalidState(ParentState::Paused))
    );
    // The venue fills part before the cancel lands.
    t.fill(o1, 30, 100_0000);
    t.canceled(o1, 70, b'U');
    let s = t.status(1);
    assert_eq!(
        (s.status, s.filled, s.live, s.remaining),
        (StatusCode::Paused, Qty(30), Qty(0), Qty(270))
    );
    assert!(t.sends().is_empty(), "paused: nothing released");
    t.at(10);
    assert!(matches!(
        t.cmd(CommandKind::Resume { parent: 1 }),
        Reply::Done { .. }
    ));
    let (o2, tag2, q, _) = t.entered();
    assert!(o2 > o1);
    assert_eq!((tag2.child, q), (2, Qty(100)));
    assert_eq!(t.status(1).status, StatusCode::PartiallyFilled);
}

#[test]
fn cancel_finishes_only_when_the_venue_confirms_and_late_fills_count() {
    let mut t = T::ready();
    t.submit("a", p(300, 100, 100_0000));
    let (o1, ..) = t.entered();
    t.accept(o1, 100, 100_0000);
    t.cmd(CommandKind::Cancel { parent: 1 });
    assert!(matches!(
        t.sends().as_slice(),
        [OrderRequest::Cancel { .. }]
    ));
    assert!(t.status(1).cancel_pending);
    assert_ne!(t.status(1).status, StatusCode::Cancelled);
    assert_eq!(
        t.cmd(CommandKind::Resume { parent: 1 }),
        Reply::Refused(CommandError::CancelPending)
    );
    assert_eq!(
        t.cmd(CommandKind::Amend {
            parent: 1,
            total: Some(Qty(500)),
            limit: None
        }),
        Reply::Refused(CommandError::CancelPending)
    );
    t.fill(o1, 60, 100_0000);
    t.canceled(o1, 40, b'U');
    let s = t.status(1);
    assert_eq!((s.status, s.filled), (StatusCode::Cancelled, Qty(60)));
    assert_eq!(
        t.cmd(CommandKind::Cancel { parent: 1 }),
        Reply::Refused(CommandError::InvalidState(ParentState::Cancelled))
    );
    // With nothing live, a cancel is immediate.
    t.submit("b", p(100, 100, 100_0000));
    let (o2, ..) = t.entered();
    t.accept(o2, 100, 100_0000);
    t.fill(o2, 100, 100_0000);
    t.submit(
        "c",
        IcebergParams {
            min_delay_ms: 10,
            max_delay_ms: 10,
            ..p(200, 100, 100_0000)
        },
    );
    let (o3, ..) = t.entered();
    t.accept(o3, 100, 100_0000);
    t.fill(o3, 100, 100_0000);
    assert!(matches!(
        t.cmd(CommandKind::Cancel { parent: 3 }),
        Reply::Done {
            status: StatusCode::Cancelled,
            ..
        }
    ));
}

#[test]
fn amend_total_below_filled_plus_live_cuts_the_child_and_keeps_the_invariant() {
    let mut t = T::ready();
    t.submit("a", p(1_000, 200, 100_0000));
    let (o1, ..) = t.entered();
    t.accept(o1, 200, 100_0000);
    t.fill(o1, 50, 100_0000);
    assert_eq!(
        t.cmd(CommandKind::Amend {
            parent: 1,
            total: Some(Qty(40)),
            limit: None
        }),
        Reply::Refused(CommandError::AmendBelowFilled)
    );
    // 50 filled + 150 live; the new total 120 needs the child cut.
    assert!(matches!(
        t.cmd(CommandKind::Amend {
            parent: 1,
            total: Some(Qty(120)),
            limit: None
        }),
        Reply::Done { .. }
    ));
    assert!(matches!(t.sends().as_slice(), [OrderRequest::Cancel { order, .. }] if *order == o1));
    let s = t.status(1);
    assert_eq!(
        (s.requested_total, s.total),
        (Qty(120), Qty(200)),
        "effective total covers the live child until cut"
    );
    // A late fill beyond the new total still fits.
    t.fill(o1, 100, 100_0000);
    t.canceled(o1, 50, b'U');
    let s = t.status(1);
    assert_eq!(
        (s.filled, s.total, s.status),
        (Qty(150), Qty(150), StatusCode::Filled)
    );
    // Amend to exactly what is filled, nothing live: FILLED.
    t.submit(
        "b",
        IcebergParams {
            min_delay_ms: 10,
            max_delay_ms: 10,
            ..p(300, 100, 100_0000)
        },
    );
    let (o2, ..) = t.entered();
    t.accept(o2, 100, 100_0000);
    t.fill(o2, 100, 100_0000);
    assert!(matches!(
        t.cmd(CommandKind::Amend {
            parent: 2,
            total: Some(Qty(100)),
            limit: None
        }),
        Reply::Done {
            status: StatusCode::Filled,
            ..
        }
    ));
}

#[test]
fn amend_limit_reprices_a_child_now_worse_and_peg_follows_the_bid_capped() {
    let mut t = T::ready();
    t.submit("a", p(300, 100, 100_0200));
    let (o1, tag, q, px) = t.entered();
    assert_eq!(px, Price4(100_0200));
    t.accept(o1, q.0, px.0);
    t.cmd(CommandKind::Amend {
        parent: 1,
        total: None,
        limit: Some(Price4(100_0100)),
    });
    let s = t.sends();
    let [OrderRequest::Replace {
        old,
        new,
        new_tag,
        qty,
        price,
        ..
    }] = s.as_slice()
    else {
        panic!("{s:?}")
    };
    assert_eq!(
        (*old, *new_tag, *qty, *price),
        (o1, tag, Qty(100), Price4(100_0100))
    );
    assert!(*new > o1);
    let new = *new;
    // A fill on the old order before the replace lands still counts.
    t.fill(o1, 10, 100_0200);
    t.ev(OrderEvent::Replaced {
        ts: 0,
        old: o1,
        order: new,
        tag: Some(tag),
        side: Side::Buy,
        qty: Qty(90),
        symbol: sym(),
        price: Price4(100_0100),
        venue_order_ref: 2,
        live: true,
    });
    let s = t.status(1);
    assert_eq!((s.filled, s.live), (Qty(10), Qty(90)));
    t.fill(new, 90, 100_0100);
    assert_eq!(t.status(1).filled, Qty(100));

    // Pegged: joins the bid, follows it, never past the limit.
    let mut t = T::ready();
    t.submit(
        "p",
        IcebergParams {
            peg: true,
            ..p(300, 100, 100_0100)
        },
    );
    let (o, _, _, px) = t.entered();
    assert_eq!(px, Price4(100_0000));
    t.accept(o, 100, px.0);
    t.quote(100_0100, 100_0300);
    let s = t.sends();
    assert!(
        matches!(
            s.as_slice(),
            [OrderRequest::Replace {
                price: Price4(1_000_100),
                ..
            }]
        ),
        "{s:?}"
    );
    let OrderRequest::Replace { new, .. } = s[0] else {
        unreachable!()
    };
    t.ev(OrderEvent::Replaced {
        ts: 0,
        old: o,
        order: new,
        tag: None,
        side: Side::Buy,
        qty: Qty(100),
        symbol: sym(),
        price: Price4(100_0100),
        venue_order_ref: 3,
        live: true,
    });
    t.quote(100_0300, 100_0400);
    assert!(
        t.sends().is_empty(),
        "bid above the limit: stays at the limit"
    );
}

#[test]
fn venue_reject_rejects_the_parent_with_the_reason_and_a_replace_reject_keeps_the_child() {
    let mut t = T::ready();
    t.submit("a", p(300, 100, 100_0000));
    let (o1, tag, ..) = t.entered();
    t.ev(OrderEvent::Rejected {
        ts: 0,
        order: o1,
        tag: Some(tag),
        reason: RejectReason {
            code: 0x1d,
            text: "invalid price",
        },
    });
    let s = t.status(1);
    assert_eq!(s.status, StatusCode::Rejected);
    assert_eq!(
        s.last_reason,
        Some(ParentReason::VenueReject { code: 0x1d })
    );
    assert_eq!(t.e.live_parents(), 0);

    let mut t = T::ready();
    t.submit(
        "p",
        IcebergParams {
            peg: true,
            ..p(300, 100, 100_0300)
        },
    );
    let (o, tag, ..) = t.entered();
    t.accept(o, 100, 100_0000);
    t.quote(100_0100, 100_0300);
    let OrderRequest::Replace { new, .. } = t.sends()[0] else {
        panic!()
    };
    t.ev(OrderEvent::Rejected {
        ts: 0,
        order: new,
        tag: Some(tag),
        reason: RejectReason {
            code: 0x15,
            text: "",
        },
    });
    let s = t.status(1);
    assert_eq!((s.status, s.live), (StatusCode::Working, Qty(100)));
    assert_eq!(
        s.last_reason,
        Some(ParentReason::ReplaceRejected { code: 0x15 })
    );
    t.quote(100_0200, 100_0300);
    assert!(
        t.sends().is_empty(),
        "no more replaces after a replace reject"
    );
    // A fill on the original still works.
    t.fill(o, 100, 100_0000);
    assert_eq!(t.status(1).filled, Qty(100));
    assert_eq!(t.e.counters().replace_rejects, 1);
}

#[test]
fn untrusted_reports_are_counted_never_applied() {
    let mut t = T::ready();
    t.submit("a", p(300, 100, 100_0000));
    let (o1, ..) = t.entered();
    t.accept(o1, 100, 100_0000);
    // Duplicate by soup sequence: ignored, not journaled.
    let n = t.journal.len();
    let dup = OrderEvent::Executed {
        ts: 0,
        order: o1,
        qty: Qty(10),
        price: Price4(100_0000),
        liquidity: b'A',
        match_number: 1,
    };
    t.e.on_order_event(t.now, t.seq, &dup, &mut t.out).unwrap();
    t.collect();
    assert_eq!(t.journal.len(), n);
    assert_eq!(t.e.live_counters().duplicate_reports, 1);
    assert_eq!(t.status(1).filled, Qty(0));
    // Unknown order ref.
    t.fill(OrderRef(999), 10, 100_0000);
    assert_eq!(t.e.counters().unknown_refs, 1);
    // Over-fill: clamped to the open quantity, counted.
    t.fill(o1, 150, 100_0000);
    assert_eq!(t.status(1).filled, Qty(100));
    assert_eq!(t.e.counters().overfills, 1);
    // A fill above the child's price is counted.
    let (o2, ..) = t.entered();
    t.fill(o2, 10, 100_0100);
    assert_eq!(t.e.counters().fills_outside_price, 1);
    assert_eq!(t.e.next_expected_soup_seq(), t.seq + 1);
}

#[test]
fn nothing_is_sent_while_down_and_account_query_gates_new_refs() {
    let mut t = T::with(cfg(), true);
    t.quote(100_0000, 100_0200);
    t.submit("a", p(300, 100, 100_0000));
    assert!(t.sends().is_empty(), "session down");
    t.up();
    assert_eq!(
        t.sends(),
        vec![OrderRequest::AccountQuery],
        "the query first, no new ref"
    );
    assert!(!t.e.can_mint());
    // The venue says ref 41 is the lowest it will still take.
    t.ev(OrderEvent::AccountQueryResponse {
        ts: 0,
        next_order: OrderRef(41),
    });
    let (o, ..) = t.entered();
    assert_eq!(o, OrderRef(41));
    assert_eq!(t.e.next_order_ref(), OrderRef(42));
}

#[test]
fn session_up_resends_unreported_intents_under_the_same_refs_in_ref_order() {
    let mut t = T::ready();
    t.submit("a", p(300, 100, 100_0000));
    let (o1, tag1, ..) = t.entered();
    t.submit(
        "b",
        IcebergParams {
            peg: true,
            ..p(300, 100, 100_0100)
        },
    );
    let (o2, tag2, ..) = t.entered();
    t.accept(o2, 100, 100_0000);
    t.quote(100_0100, 100_0300);
    let OrderRequest::Replace { new: o3, .. } = t.sends()[0] else {
        panic!()
    };
    t.submit("c", p(300, 100, 100_0000));
    let (o4, tag4, ..) = t.entered();
    t.cmd(CommandKind::Cancel { parent: 3 });
    assert!(matches!(t.sends().as_slice(), [OrderRequest::Cancel { order, .. }] if *order == o4));
    t.down();
    t.at(100);
    t.cmd(CommandKind::Pause { parent: 1 });
    assert!(t.sends().is_empty(), "down: the pause's cancel waits");
    t.up();
    let s = t.sends();
    // Unreported: Enter o1, Replace o2→o3, Enter o4 + its cancel; then the pause's cancel of o1.
    assert_eq!(
        s,
        vec![
            OrderRequest::Enter {
                order: o1,
                tag: tag1,
                side: Side::Buy,
                qty: Qty(100),
                symbol: sym(),
                price: Price4(100_0000),
                tif: TimeInForce::Day
            },
            OrderRequest::Replace {
                old: o2,
                old_tag: tag2,
                new: o3,
                new_tag: tag2,
                qty: Qty(100),
                price: Price4(100_0100)
            },
            OrderRequest::Enter {
                order: o4,
                tag: tag4,
                side: Side::Buy,
                qty: Qty(100),
                symbol: sym(),
                price: Price4(100_0000),
                tif: TimeInForce::Day
            },
            OrderRequest::Cancel {
                order: o4,
                tag: tag4,
                remaining: Qty(0)
            },
            OrderRequest::Cancel {
                order: o1,
                tag: tag1,
                remaining: Qty(0)
            },
        ]
    );
}

#[test]
fn a_full_outbox_defers_work_to_poll_and_refuses_inputs_it_cannot_take() {
    let mut t = T::ready();
    let mut small = Outbox::with_capacity(8);
    let cmd = Command {
        correlation: 1,
        kind: CommandKind::Query { parent: 1 },
    };
    // Each query leaves its reply; the sixth leaves two slots, below the reserve.
    for _ in 0..6 {
        t.e.on_command(t.now, &cmd, &mut small).unwrap();
    }
    assert_eq!(small.free(), 2);
    assert_eq!(t.e.on_command(t.now, &cmd, &mut small), Err(OutboxFull));
    assert_eq!(small.len(), 6, "a refused input leaves nothing");
    let ev = OrderEvent::SystemEvent { ts: 0, code: b'S' };
    assert_eq!(
        t.e.on_order_event(t.now, 1, &ev, &mut small),
        Err(OutboxFull)
    );
    assert_eq!(t.e.next_expected_soup_seq(), 1, "not consumed");
    // Three parents accepted into a barely big enough outbox: the children
    // are deferred, and poll releases them after a drain.
    let mut c = cfg();
    c.risk.max_live_parents = 4;
    let mut t = T::with(c, false);
    t.up();
    t.quote(100_0000, 100_0200);
    let mut out = Outbox::with_capacity(8);
    let new_cmd = |i: u64| Command {
        correlation: i,
        kind: CommandKind::NewIceberg {
            client_order_id: ClientOrderId::new(format!("o{i}").as_bytes()).unwrap(),
            params: p(100, 100, 100_0000),
            seed: i,
        },
    };
    let sends = |o: &Outbox| o.iter().filter(|a| matches!(a, Action::Send(_))).count();
    // Journal, reply, journal, send, status: five of eight slots.
    t.e.on_command(t.now, &new_cmd(0), &mut out).unwrap();
    assert_eq!((out.len(), sends(&out)), (5, 1));
    // The second parent's journal record and reply fit, its child does not.
    t.e.on_command(t.now, &new_cmd(1), &mut out).unwrap();
    assert_eq!(sends(&out), 1);
    assert!(out.iter().any(|a| matches!(
        a,
        Action::Reply {
            correlation: 1,
            reply: Reply::Accepted { .. }
        }
    )));
    assert_eq!(t.e.next_deadline(), Nanos::ZERO, "deferred work is due now");
    assert_eq!(
        t.e.on_command(t.now, &new_cmd(2), &mut out),
        Err(OutboxFull)
    );
    // After a drain, poll releases the deferred child.
    out.clear();
    t.e.poll(t.now, &mut out);
    let s: Vec<_> = out
        .iter()
        .filter_map(|a| match a {
            Action::Send(s) => Some(*s),
            _ => None,
        })
        .collect();
    assert!(
        matches!(
            s.as_slice(),
            [OrderRequest::Enter {
                tag: ChildTag {
                    parent: 2,
                    child: 1
                },
                ..
            }]
        ),
        "{s:?}"
    );
    assert_eq!(t.e.next_deadline(), Nanos::MAX);
    t.e.check_invariants().unwrap();
}

#[test]
fn kill_switch_cancels_everything_and_refuses_new_until_reset() {
    let mut t = T::ready();
    t.submit("a", p(300, 100, 100_0000));
    let (o1, ..) = t.entered();
    t.submit(
        "b",
        IcebergParams {
            min_delay_ms: 100,
            max_delay_ms: 100,
            ..p(300, 100, 100_0000)
        },
    );
    let (o2, ..) = t.entered();
    t.accept(o2, 100, 100_0000);
    t.fill(o2, 100, 100_0000);
    assert_eq!(
        t.cmd(CommandKind::KillSwitch { on: true }),
        Reply::KillSwitch { on: true }
    );
    assert!(matches!(t.sends().as_slice(), [OrderRequest::Cancel { order, .. }] if *order == o1));
    assert_eq!(
        t.status(2).status,
        StatusCode::Cancelled,
        "nothing live: cancelled at once"
    );
    assert_eq!(
        t.submit("c", p(100, 100, 100_0000)),
        Reply::Refused(CommandError::Risk(RiskRefusal::KillSwitch))
    );
    t.canceled(o1, 100, b'U');
    assert_eq!(t.status(1).status, StatusCode::Cancelled);
    assert_eq!(
        t.cmd(CommandKind::KillSwitch { on: false }),
        Reply::KillSwitch { on: false }
    );
    assert!(matches!(
        t.submit("c", p(100, 100, 100_0000)),
        Reply::Accepted { .. }
    ));
    assert_eq!(snap(&t.replayed()), snap(&t.e));
}

#[test]
fn ioc_children_and_unsolicited_cancels_refresh() {
    let mut t = T::ready();
    t.submit(
        "a",
        IcebergParams {
            tif: TimeInForce::Ioc,
            ..p(200, 100, 100_0000)
        },
    );
    let (o1, ..) = t.entered();
    t.accept(o1, 100, 100_0000);
    t.fill(o1, 30, 100_0000);
    t.canceled(o1, 70, b'I');
    let (_, tag, q, _) = t.entered();
    assert_eq!((tag.child, q), (2, Qty(100)));
    assert_eq!(
        t.status(1).last_reason,
        Some(ParentReason::VenueCanceled { code: b'I' })
    );
    assert_eq!(t.status(1).filled, Qty(30));
}

#[test]
fn finished_parents_are_evicted_when_the_pool_is_full() {
    let mut c = cfg();
    c.pools.parents = 2;
    c.risk.max_live_parents = 2;
    let mut t = T::with(c, false);
    t.up();
    t.quote(100_0000, 100_0200);
    t.submit("a", p(100, 100, 100_0000));
    t.submit("b", p(100, 100, 100_0000));
    assert_eq!(
        t.submit("c", p(100, 100, 100_0000)),
        Reply::Refused(CommandError::Risk(RiskRefusal::MaxLiveParents))
    );
    t.cmd(CommandKind::Cancel { parent: 1 });
    t.canceled(OrderRef(1), 100, b'U');
    assert!(matches!(
        t.submit("c", p(100, 100, 100_0000)),
        Reply::Accepted { parent: 3, .. }
    ));
    assert!(
        t.e.parent_status(1).is_none(),
        "the finished parent with the lowest id was evicted"
    );
    assert_eq!(
        t.cmd(CommandKind::Query { parent: 1 }),
        Reply::Refused(CommandError::UnknownParent)
    );
    // Its client_order_id still answers.
    assert!(matches!(
        t.submit("a", p(100, 100, 100_0000)),
        Reply::Accepted {
            parent: 1,
            replay: true,
            ..
        }
    ));
    let mut c = cfg();
    c.pools.parents = 1;
    let mut t = T::with(c, false);
    t.submit("a", p(100, 100, 100_0000));
    assert_eq!(
        t.submit("b", p(100, 100, 100_0000)),
        Reply::Refused(CommandError::Capacity(Capacity::Parents))
    );
}

#[test]
fn parent_ids_stop_below_62_to_the_4() {
    let mut t = T::ready();
    t.e.apply(&Record::ParentAccepted {
        at: t.now,
        parent: ID_LIMIT - 1,
        client_order_id: ClientOrderId::new(b"last").unwrap(),
        params: p(100, 100, 100_0000),
        seed: 1,
    })
    .unwrap();
    assert_eq!(
        t.submit("next", p(100, 100, 100_0000)),
        Reply::Refused(CommandError::Capacity(Capacity::ParentIds))
    );
    let bad = Record::ParentAccepted {
        at: t.now,
        parent: ID_LIMIT,
        client_order_id: ClientOrderId::new(b"x").unwrap(),
        params: p(100, 100, 100_0000),
        seed: 1,
    };
    assert!(t.e.apply(&bad).is_err());
}

#[test]
fn restore_refuses_garbage_without_panicking() {
    let mut t = T::ready();
    t.submit(
        "a",
        IcebergParams {
            peg: true,
            ..p(300, 100, 100_0100)
        },
    );
    let (o, ..) = t.entered();
    t.accept(o, 100, 100_0000);
    t.fill(o, 10, 100_0000);
    let bytes = snap(&t.e);
    let back = Engine::restore_with_options(&t.cfg, t.opts, &bytes).unwrap();
    assert_eq!(snap(&back), bytes);
    for cut in 0..bytes.len() {
        assert!(
            Engine::restore_with_options(&t.cfg, t.opts, &bytes[..cut]).is_err(),
            "prefix {cut}"
        );
    }
    for i in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[i / 8] ^= 1 << (i % 8);
        if let Ok(e) = Engine::restore_with_options(&t.cfg, t.opts, &b) {
            // Whatever restores is internally consistent.
            e.check_invariants().unwrap();
        }
    }
    // Two parents do not fit a one-parent configuration.
    t.submit("b", p(100, 100, 100_0000));
    let two = snap(&t.e);
    let mut small = cfg();
    small.pools.parents = 1;
    assert!(matches!(
        Engine::restore_with_options(&small, t.opts, &two),
        Err(floe::engine::SnapshotError::Capacity(_))
    ));
}
