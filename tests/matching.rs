//! The venue's matching engine through its public API: priority, fills,
//! cancels, replaces, identifier rules, refusals, cancel-on-disconnect, and
//! the market events and audit records of each.

use floe::config::Dialect;
use floe::exchange::matching::{
    system_event, CANCEL_IOC, CANCEL_SYSTEM, CANCEL_USER, IGNORED_REPEATED_TOKEN,
    IGNORED_STALE_USER_REF, LIQUIDITY_ADDED, LIQUIDITY_REMOVED,
};
use floe::exchange::{
    AuditKind, FlowOrder, MarketEvent, MatchingConfig, MatchingEngine, SessionConfig, SessionId,
    SessionName, VenueOutput,
};
use floe::order::{ChildTag, OrderEvent, OrderRef, OrderRequest, TimeInForce};
use floe::types::{Level, Price4, Qty, Side, Symbol};

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn px(dollars: f64) -> Price4 {
    Price4((dollars * 10_000.0).round() as u32)
}

fn tag(parent: u32, child: u32) -> ChildTag {
    ChildTag { parent, child }
}

fn venue() -> MatchingEngine {
    MatchingEngine::new(&MatchingConfig {
        symbols: vec![sym("AAPL"), sym("MSFT")],
        round_lot: 100,
        order_capacity: 1024,
    })
}

fn session(v: &mut MatchingEngine, name: &str, dialect: Dialect, cod: bool) -> SessionId {
    v.add_session(SessionConfig {
        name: SessionName::new(name).unwrap(),
        dialect,
        cancel_on_disconnect: cod,
        attribution: None,
    })
    .unwrap()
}

fn flow(side: Side, qty: u32, price: Price4) -> FlowOrder {
    FlowOrder {
        symbol: sym("AAPL"),
        side,
        qty: Qty(qty),
        price,
        tif: TimeInForce::Day,
        display: true,
        attribution: None,
    }
}

fn enter(
    order: u32,
    t: ChildTag,
    side: Side,
    qty: u32,
    price: Price4,
    tif: TimeInForce,
) -> OrderRequest {
    OrderRequest::Enter {
        order: OrderRef(order),
        tag: t,
        side,
        qty: Qty(qty),
        symbol: sym("AAPL"),
        price,
        tif,
    }
}

fn reports(out: &[VenueOutput], s: SessionId) -> Vec<OrderEvent> {
    out.iter()
        .filter_map(|o| match o {
            VenueOutput::Report { session, event } if *session == s => Some(*event),
            _ => None,
        })
        .collect()
}

fn market(out: &[VenueOutput]) -> Vec<MarketEvent> {
    out.iter()
        .filter_map(|o| match o {
            VenueOutput::Market(m) => Some(*m),
            _ => None,
        })
        .collect()
}

fn audits(out: &[VenueOutput]) -> Vec<floe::exchange::AuditEvent> {
    out.iter()
        .filter_map(|o| match o {
            VenueOutput::Audit(a) => Some(*a),
            _ => None,
        })
        .collect()
}

#[test]
fn open_publishes_system_events_and_the_stock_directory() {
    let mut v = venue();
    let mut out = Vec::new();
    v.open(1_000, &mut out);
    let m = market(&out);
    assert_eq!(
        m.first(),
        Some(&MarketEvent::SystemEvent {
            ts: 1_000,
            code: system_event::START_OF_MESSAGES
        })
    );
    assert_eq!(
        m.last(),
        Some(&MarketEvent::SystemEvent {
            ts: 1_000,
            code: system_event::START_OF_MARKET_HOURS
        })
    );
    let dir: Vec<_> = m
        .iter()
        .filter_map(|e| match e {
            MarketEvent::StockDirectory {
                locate,
                symbol,
                round_lot,
                ..
            } => Some((*locate, *symbol, *round_lot)),
            _ => None,
        })
        .collect();
    assert_eq!(dir, vec![(1, sym("AAPL"), 100), (2, sym("MSFT"), 100)]);
    assert_eq!(v.locate(sym("MSFT")), Some(2));
}

#[test]
fn a_resting_order_is_accepted_published_and_quoted() {
    let mut v = venue();
    let s = session(&mut v, "FLOE01", Dialect::Ouch50, false);
    let mut out = Vec::new();
    v.handle(
        5,
        s,
        &enter(1, tag(7, 1), Side::Buy, 300, px(10.00), TimeInForce::Day),
        &mut out,
    );
    let r = reports(&out, s);
    let OrderEvent::Accepted {
        order,
        tag: t,
        qty,
        venue_order_ref,
        live,
        ..
    } = r[0]
    else {
        panic!("{r:?}")
    };
    assert_eq!(
        (order, t, qty, live),
        (OrderRef(1), Some(tag(7, 1)), Qty(300), true)
    );
    assert_eq!(r.len(), 1);
    assert_eq!(
        market(&out),
        vec![MarketEvent::AddOrder {
            ts: 5,
            locate: 1,
            order_ref: venue_order_ref,
            side: Side::Buy,
            qty: Qty(300),
            symbol: sym("AAPL"),
            price: px(10.00),
            attribution: None
        }]
    );
    let a = audits(&out);
    assert_eq!(a.len(), 1);
    assert_eq!(
        a[0].to_json_line(),
        r#"{"ts_ns":5,"event":"accepted","session":"FLOE01","id":"1","symbol":"AAPL","side":"B","qty":300,"price":"10.0000"}"#
    );
    let q = v.quote(sym("AAPL")).unwrap();
    assert_eq!(
        q.bid,
        Some(Level {
            price: px(10.00),
            qty: Qty(300)
        })
    );
    assert_eq!(q.ask, None);
    assert_eq!(q.exch_ts, 5);
    assert_eq!(v.live_orders(s).count(), 1);
}

#[test]
fn price_then_time_priority_and_shared_match_numbers() {
    let mut v = venue();
    let s = session(&mut v, "S1", Dialect::Ouch50, false);
    let mut out = Vec::new();
    let a = v
        .submit_flow(1, &flow(Side::Sell, 100, px(10.01)), &mut out)
        .unwrap()
        .unwrap();
    let b = v
        .submit_flow(2, &flow(Side::Sell, 100, px(10.00)), &mut out)
        .unwrap()
        .unwrap();
    let c = v
        .submit_flow(3, &flow(Side::Sell, 100, px(10.00)), &mut out)
        .unwrap()
        .unwrap();
    let (ra, rb, rc) = (
        v.flow_order(a).unwrap().order_ref,
        v.flow_order(b).unwrap().order_ref,
        v.flow_order(c).unwrap().order_ref,
    );
    out.clear();
    v.handle(
        10,
        s,
        &enter(1, tag(1, 1), Side::Buy, 250, px(10.01), TimeInForce::Day),
        &mut out,
    );
    // b (10.00, first), c (10.00, second), then a (10.01).
    let execs: Vec<_> = market(&out)
        .iter()
        .filter_map(|m| match m {
            MarketEvent::Executed {
                order_ref,
                qty,
                match_number,
                ..
            } => Some((*order_ref, qty.0, *match_number)),
            _ => None,
        })
        .collect();
    assert_eq!(
        execs.iter().map(|e| (e.0, e.1)).collect::<Vec<_>>(),
        vec![(rb, 100), (rc, 100), (ra, 50)]
    );
    let fills: Vec<_> = reports(&out, s)
        .iter()
        .filter_map(|e| match e {
            OrderEvent::Executed {
                qty,
                price,
                liquidity,
                match_number,
                ..
            } => Some((qty.0, *price, *liquidity, *match_number)),
            _ => None,
        })
        .collect();
    assert_eq!(
        fills,
        vec![
            (100, px(10.00), LIQUIDITY_REMOVED, execs[0].2),
            (100, px(10.00), LIQUIDITY_REMOVED, execs[1].2),
            (50, px(10.01), LIQUIDITY_REMOVED, execs[2].2),
        ]
    );
    assert!(execs[0].2 < execs[1].2 && execs[1].2 < execs[2].2);
    // b and c left the book with their executions (no Delete), a has 50 left.
    assert!(v.flow_order(b).is_none() && v.flow_order(c).is_none());
    assert_eq!(v.flow_order(a).unwrap().open, Qty(50));
    assert!(!market(&out)
        .iter()
        .any(|m| matches!(m, MarketEvent::Delete { .. } | MarketEvent::AddOrder { .. })));
    assert_eq!(v.executed(s, OrderRef(1)), Qty(250));
    assert_eq!(v.live_orders(s).count(), 0);
    assert_eq!(
        v.quote(sym("AAPL")).unwrap().ask,
        Some(Level {
            price: px(10.01),
            qty: Qty(50)
        })
    );
}

#[test]
fn both_sessions_of_a_cross_get_their_fill() {
    let mut v = venue();
    let s1 = session(&mut v, "S1", Dialect::Ouch42, false);
    let s2 = session(&mut v, "S2", Dialect::Ouch50, false);
    let mut out = Vec::new();
    v.handle(
        1,
        s1,
        &enter(1, tag(1, 1), Side::Sell, 500, px(20.00), TimeInForce::Day),
        &mut out,
    );
    out.clear();
    v.handle(
        2,
        s2,
        &enter(1, tag(9, 1), Side::Buy, 200, px(20.05), TimeInForce::Day),
        &mut out,
    );
    let e1 = reports(&out, s1);
    let e2 = reports(&out, s2);
    let OrderEvent::Executed {
        qty,
        price,
        liquidity,
        match_number: m1,
        ..
    } = e1[0]
    else {
        panic!("{e1:?}")
    };
    assert_eq!(
        (qty, price, liquidity),
        (Qty(200), px(20.00), LIQUIDITY_ADDED)
    );
    let OrderEvent::Executed {
        qty,
        price,
        liquidity,
        match_number: m2,
        ..
    } = e2[1]
    else {
        panic!("{e2:?}")
    };
    assert_eq!(
        (qty, price, liquidity),
        (Qty(200), px(20.00), LIQUIDITY_REMOVED)
    );
    assert_eq!(m1, m2);
    assert_eq!(
        market(&out)
            .iter()
            .filter_map(|m| m.match_number())
            .collect::<Vec<_>>(),
        vec![m1]
    );
    assert_eq!(v.executed(s1, OrderRef(1)), Qty(200));
    assert_eq!(v.executed(s2, OrderRef(1)), Qty(200));
    let live: Vec<_> = v.live_orders(s1).collect();
    assert_eq!(live.len(), 1);
    assert_eq!(
        (live[0].resting.open, live[0].chain_executed),
        (Qty(300), Qty(200))
    );
    let exec_audits: Vec<_> = audits(&out)
        .into_iter()
        .filter(|a| a.kind == AuditKind::Executed)
        .collect();
    assert_eq!(exec_audits.len(), 2);
    assert_eq!(exec_audits[0].session.as_str(), "S1");
    assert_eq!(
        exec_audits[0].id().as_str().len(),
        14,
        "OUCH 4.2 ids are tokens"
    );
    assert_eq!(exec_audits[1].id().as_str(), "1");
}

#[test]
fn ioc_rest_is_canceled_and_never_displayed() {
    let mut v = venue();
    let s = session(&mut v, "S", Dialect::Ouch50, false);
    let mut out = Vec::new();
    v.submit_flow(1, &flow(Side::Sell, 100, px(10.00)), &mut out)
        .unwrap();
    out.clear();
    v.handle(
        2,
        s,
        &enter(1, tag(1, 1), Side::Buy, 300, px(10.00), TimeInForce::Ioc),
        &mut out,
    );
    let r = reports(&out, s);
    assert!(matches!(r[0], OrderEvent::Accepted { .. }));
    assert!(matches!(r[1], OrderEvent::Executed { qty: Qty(100), .. }));
    assert_eq!(
        r[2],
        OrderEvent::Canceled {
            ts: 2,
            order: OrderRef(1),
            decrement: Qty(200),
            reason: CANCEL_IOC
        }
    );
    assert_eq!(market(&out).len(), 1, "only the resting order's execution");
    assert_eq!(v.quote(sym("AAPL")).unwrap().bid, None);
    assert_eq!(v.resting_count(), 0);
}

#[test]
fn cancels_reduce_in_place_or_delete_and_the_rest_is_ignored() {
    let mut v = venue();
    let s = session(&mut v, "S", Dialect::Ouch50, false);
    let mut out = Vec::new();
    v.handle(
        1,
        s,
        &enter(1, tag(1, 1), Side::Buy, 300, px(10.00), TimeInForce::Day),
        &mut out,
    );
    v.submit_flow(2, &flow(Side::Buy, 100, px(10.00)), &mut out)
        .unwrap();
    let OrderEvent::Accepted {
        venue_order_ref, ..
    } = reports(&out, s)[0]
    else {
        panic!()
    };
    out.clear();
    let cancel = |remaining| OrderRequest::Cancel {
        order: OrderRef(1),
        tag: tag(1, 1),
        remaining: Qty(remaining),
    };
    v.handle(3, s, &cancel(120), &mut out);
    assert_eq!(
        reports(&out, s),
        vec![OrderEvent::Canceled {
            ts: 3,
            order: OrderRef(1),
            decrement: Qty(180),
            reason: CANCEL_USER
        }]
    );
    assert_eq!(
        market(&out),
        vec![MarketEvent::Cancel {
            ts: 3,
            locate: 1,
            order_ref: venue_order_ref,
            qty: Qty(180)
        }]
    );
    // Reduced in place: still ahead of the flow order.
    let q = v.resting_orders(sym("AAPL"), Side::Buy);
    assert_eq!(q[0].order_ref, venue_order_ref);
    assert_eq!(q[0].open, Qty(120));
    out.clear();
    v.handle(4, s, &cancel(120), &mut out);
    v.handle(4, s, &cancel(500), &mut out);
    v.handle(
        4,
        s,
        &OrderRequest::Cancel {
            order: OrderRef(99),
            tag: tag(1, 1),
            remaining: Qty(0),
        },
        &mut out,
    );
    assert!(
        out.is_empty(),
        "non-reducing and unknown cancels are ignored: {out:?}"
    );
    v.handle(5, s, &cancel(0), &mut out);
    assert_eq!(
        reports(&out, s)[0],
        OrderEvent::Canceled {
            ts: 5,
            order: OrderRef(1),
            decrement: Qty(120),
            reason: CANCEL_USER
        }
    );
    assert_eq!(
        market(&out),
        vec![MarketEvent::Delete {
            ts: 5,
            locate: 1,
            order_ref: venue_order_ref
        }]
    );
    assert_eq!(audits(&out)[0].kind, AuditKind::Canceled);
    assert_eq!(v.live_orders(s).count(), 0);
    assert_eq!(
        v.quote(sym("AAPL")).unwrap().bid,
        Some(Level {
            price: px(10.00),
            qty: Qty(100)
        })
    );
}

#[test]
fn replace_takes_a_new_reference_loses_priority_and_counts_executed_shares() {
    let mut v = venue();
    let s = session(&mut v, "S", Dialect::Ouch50, false);
    let mut out = Vec::new();
    v.handle(
        1,
        s,
        &enter(1, tag(1, 1), Side::Buy, 500, px(10.00), TimeInForce::Day),
        &mut out,
    );
    let OrderEvent::Accepted {
        venue_order_ref: old_ref,
        ..
    } = reports(&out, s)[0]
    else {
        panic!()
    };
    v.submit_flow(2, &flow(Side::Buy, 100, px(10.00)), &mut out)
        .unwrap();
    // 200 of the 500 execute.
    v.submit_flow(3, &flow(Side::Sell, 200, px(10.00)), &mut out)
        .unwrap();
    assert_eq!(v.executed(s, OrderRef(1)), Qty(200));
    out.clear();
    let replace = |old, new, qty, price| OrderRequest::Replace {
        old: OrderRef(old),
        old_tag: tag(1, 1),
        new: OrderRef(new),
        new_tag: tag(1, 2),
        qty: Qty(qty),
        price,
    };
    // Total liable 600, 200 executed: 400 open, at the back of 10.00.
    v.handle(4, s, &replace(1, 2, 600, px(10.00)), &mut out);
    let r = reports(&out, s);
    let OrderEvent::Replaced {
        old,
        order,
        qty,
        venue_order_ref: new_ref,
        live,
        ..
    } = r[0]
    else {
        panic!("{r:?}")
    };
    assert_eq!(
        (old, order, qty, live),
        (OrderRef(1), OrderRef(2), Qty(400), true)
    );
    assert_ne!(new_ref, old_ref);
    assert_eq!(
        market(&out),
        vec![MarketEvent::Replace {
            ts: 4,
            locate: 1,
            old: old_ref,
            new: new_ref,
            qty: Qty(400),
            price: px(10.00)
        }]
    );
    let q = v.resting_orders(sym("AAPL"), Side::Buy);
    assert_eq!(
        q.iter().map(|o| o.open.0).collect::<Vec<_>>(),
        vec![100, 400],
        "replacement is behind the flow order"
    );
    let live: Vec<_> = v.live_orders(s).collect();
    assert_eq!(
        (live[0].order, live[0].chain_executed),
        (OrderRef(2), Qty(200))
    );
    let kinds: Vec<_> = audits(&out)
        .iter()
        .map(|a| (a.kind, a.order, a.qty))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (AuditKind::Canceled, OrderRef(1), Qty(300)),
            (AuditKind::Accepted, OrderRef(2), Qty(400))
        ]
    );
    // The old number is gone; the new one works.
    out.clear();
    v.handle(5, s, &replace(1, 3, 600, px(10.00)), &mut out);
    assert!(reports(&out, s).is_empty());
    // Total liable at or below what executed: the replacement is dead.
    v.handle(6, s, &replace(2, 4, 200, px(10.00)), &mut out);
    let r = reports(&out, s);
    assert!(
        matches!(
            r[0],
            OrderEvent::Replaced {
                qty: Qty(0),
                live: false,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(
        market(&out),
        vec![MarketEvent::Delete {
            ts: 6,
            locate: 1,
            order_ref: new_ref
        }]
    );
    assert_eq!(v.live_orders(s).count(), 0);
}

#[test]
fn a_crossing_replace_trades_as_an_incoming_order() {
    let mut v = venue();
    let s = session(&mut v, "S", Dialect::Ouch42, false);
    let mut out = Vec::new();
    v.handle(
        1,
        s,
        &enter(1, tag(1, 1), Side::Buy, 300, px(9.99), TimeInForce::Day),
        &mut out,
    );
    let OrderEvent::Accepted {
        venue_order_ref: old_ref,
        ..
    } = reports(&out, s)[0]
    else {
        panic!()
    };
    v.submit_flow(2, &flow(Side::Sell, 100, px(10.00)), &mut out)
        .unwrap();
    out.clear();
    v.handle(
        3,
        s,
        &OrderRequest::Replace {
            old: OrderRef(1),
            old_tag: tag(1, 1),
            new: OrderRef(2),
            new_tag: tag(1, 2),
            qty: Qty(300),
            price: px(10.00),
        },
        &mut out,
    );
    let r = reports(&out, s);
    assert!(matches!(
        r[0],
        OrderEvent::Replaced {
            qty: Qty(300),
            live: true,
            ..
        }
    ));
    assert!(matches!(
        r[1],
        OrderEvent::Executed {
            order: OrderRef(2),
            qty: Qty(100),
            liquidity: LIQUIDITY_REMOVED,
            ..
        }
    ));
    let m = market(&out);
    assert_eq!(
        m[0],
        MarketEvent::Delete {
            ts: 3,
            locate: 1,
            order_ref: old_ref
        }
    );
    assert!(matches!(m[1], MarketEvent::Executed { qty: Qty(100), .. }));
    let MarketEvent::AddOrder {
        qty, price, side, ..
    } = m[2]
    else {
        panic!("{m:?}")
    };
    assert_eq!((qty, price, side), (Qty(200), px(10.00), Side::Buy));
    let live: Vec<_> = v.live_orders(s).collect();
    assert_eq!(
        (live[0].order, live[0].tag, live[0].resting.open),
        (OrderRef(2), tag(1, 2), Qty(200))
    );
    assert_eq!(v.executed(s, OrderRef(2)), Qty(100));
}

#[test]
fn ouch42_repeated_token_is_ignored_and_a_rejected_token_is_consumed() {
    let mut v = venue();
    let s = session(&mut v, "S", Dialect::Ouch42, false);
    let mut out = Vec::new();
    let o = enter(1, tag(1, 1), Side::Buy, 100, px(10.00), TimeInForce::Day);
    v.handle(1, s, &o, &mut out);
    assert_eq!(reports(&out, s).len(), 1);
    out.clear();
    v.handle(2, s, &o, &mut out);
    assert!(reports(&out, s).is_empty());
    assert!(market(&out).is_empty());
    assert_eq!(audits(&out)[0].reason, Some(IGNORED_REPEATED_TOKEN));
    // The same number with another tag is another token.
    out.clear();
    v.handle(
        3,
        s,
        &enter(1, tag(1, 2), Side::Buy, 100, px(10.00), TimeInForce::Day),
        &mut out,
    );
    assert!(matches!(reports(&out, s)[0], OrderEvent::Accepted { .. }));
    // A lower number is fine in 4.2 (only tokens must be unique).
    out.clear();
    v.handle(
        4,
        s,
        &enter(0, tag(2, 1), Side::Buy, 0, px(10.00), TimeInForce::Day),
        &mut out,
    );
    let OrderEvent::Rejected { reason, .. } = reports(&out, s)[0] else {
        panic!()
    };
    assert_eq!(reason.code, u16::from(b'O'));
    out.clear();
    v.handle(
        5,
        s,
        &enter(0, tag(2, 1), Side::Buy, 100, px(10.00), TimeInForce::Day),
        &mut out,
    );
    assert!(reports(&out, s).is_empty(), "a rejected token stays used");
    // 4.2 has no account query.
    v.handle(6, s, &OrderRequest::AccountQuery, &mut out);
    assert!(reports(&out, s).is_empty());
    assert_eq!(v.stats().ignored, 2);
}

#[test]
fn ouch50_non_increasing_user_ref_is_ignored_and_rejects_consume_numbers() {
    let mut v = venue();
    let s = session(&mut v, "S", Dialect::Ouch50, false);
    let mut out = Vec::new();
    v.handle(0, s, &OrderRequest::AccountQuery, &mut out);
    assert_eq!(
        reports(&out, s),
        vec![OrderEvent::AccountQueryResponse {
            ts: 0,
            next_order: OrderRef(1)
        }]
    );
    out.clear();
    v.handle(
        1,
        s,
        &enter(5, tag(1, 1), Side::Buy, 100, px(10.00), TimeInForce::Day),
        &mut out,
    );
    assert!(matches!(
        reports(&out, s)[0],
        OrderEvent::Accepted {
            order: OrderRef(5),
            ..
        }
    ));
    for n in [5, 4, 0] {
        out.clear();
        v.handle(
            2,
            s,
            &enter(n, tag(1, 9), Side::Buy, 100, px(10.00), TimeInForce::Day),
            &mut out,
        );
        assert!(
            reports(&out, s).is_empty(),
            "UserRefNum {n} must be ignored"
        );
        assert_eq!(audits(&out)[0].reason, Some(IGNORED_STALE_USER_REF));
    }
    out.clear();
    v.handle(
        3,
        s,
        &enter(9, tag(1, 2), Side::Buy, 100, Price4(0), TimeInForce::Day),
        &mut out,
    );
    let OrderEvent::Rejected { order, reason, .. } = reports(&out, s)[0] else {
        panic!()
    };
    assert_eq!((order, reason.code), (OrderRef(9), 0x1D));
    out.clear();
    v.handle(4, s, &OrderRequest::AccountQuery, &mut out);
    assert_eq!(
        reports(&out, s),
        vec![OrderEvent::AccountQueryResponse {
            ts: 4,
            next_order: OrderRef(10)
        }]
    );
    out.clear();
    v.handle(
        5,
        s,
        &enter(9, tag(1, 3), Side::Buy, 100, px(10.00), TimeInForce::Day),
        &mut out,
    );
    assert!(
        reports(&out, s).is_empty(),
        "the rejected number is consumed"
    );
    // A replace with a stale new number is ignored and consumes nothing.
    out.clear();
    let rep = |new| OrderRequest::Replace {
        old: OrderRef(5),
        old_tag: tag(1, 1),
        new: OrderRef(new),
        new_tag: tag(1, 4),
        qty: Qty(100),
        price: px(10.01),
    };
    v.handle(6, s, &rep(8), &mut out);
    assert!(reports(&out, s).is_empty());
    v.handle(7, s, &rep(10), &mut out);
    assert!(matches!(
        reports(&out, s)[0],
        OrderEvent::Replaced {
            order: OrderRef(10),
            ..
        }
    ));
    // In 5.0 the tag plays no part in finding the order.
    out.clear();
    v.handle(
        8,
        s,
        &OrderRequest::Cancel {
            order: OrderRef(10),
            tag: tag(77, 77),
            remaining: Qty(0),
        },
        &mut out,
    );
    assert!(matches!(
        reports(&out, s)[0],
        OrderEvent::Canceled {
            order: OrderRef(10),
            ..
        }
    ));
}

#[test]
fn refusals_carry_the_dialects_reject_codes() {
    let mut v = venue();
    let s42 = session(&mut v, "A", Dialect::Ouch42, false);
    let s50 = session(&mut v, "B", Dialect::Ouch50, false);
    let mut out = Vec::new();
    v.set_halted(0, sym("MSFT"), true, &mut out);
    assert_eq!(
        market(&out),
        vec![MarketEvent::TradingAction {
            ts: 0,
            locate: 2,
            symbol: sym("MSFT"),
            state: b'H'
        }]
    );
    let cases: [(Symbol, u32, Price4, u8, u16, &str); 5] = [
        (sym("ZZZZ"), 100, px(1.0), b'S', 0x17, "unknown symbol"),
        (sym("AAPL"), 0, px(1.0), b'O', 0x13, "zero shares"),
        (
            sym("AAPL"),
            1_000_000,
            px(1.0),
            b'Z',
            0x13,
            "more than 999999 shares",
        ),
        (sym("AAPL"), 100, Price4(0), b'X', 0x1D, "invalid price"),
        (sym("MSFT"), 100, px(1.0), b'H', 0x07, "halted"),
    ];
    for (i, (symbol, qty, price, c42, c50, text)) in cases.into_iter().enumerate() {
        for (s, code) in [(s42, u16::from(c42)), (s50, c50)] {
            out.clear();
            let req = OrderRequest::Enter {
                order: OrderRef(i as u32 + 1),
                tag: tag(1, i as u32 + 1),
                side: Side::Sell,
                qty: Qty(qty),
                symbol,
                price,
                tif: TimeInForce::Day,
            };
            v.handle(1, s, &req, &mut out);
            let r = reports(&out, s);
            let OrderEvent::Rejected { order, reason, .. } = r[0] else {
                panic!("{r:?}")
            };
            assert_eq!(
                (order, reason.code),
                (OrderRef(i as u32 + 1), code),
                "{text}"
            );
            let a = audits(&out);
            assert_eq!((a[0].kind, a[0].reason), (AuditKind::Refused, Some(text)));
            assert!(a[0]
                .to_json_line()
                .contains(&format!(r#""reason":"{text}""#)));
            assert!(market(&out).is_empty());
        }
    }
    assert_eq!(v.stats().refused, 10);
    // Resumed: accepted again.
    out.clear();
    v.set_halted(2, sym("MSFT"), false, &mut out);
    v.handle(
        3,
        s50,
        &OrderRequest::Enter {
            order: OrderRef(50),
            tag: tag(1, 50),
            side: Side::Sell,
            qty: Qty(1),
            symbol: sym("MSFT"),
            price: px(1.0),
            tif: TimeInForce::Day,
        },
        &mut out,
    );
    assert!(matches!(reports(&out, s50)[0], OrderEvent::Accepted { .. }));
}

#[test]
fn cancel_on_disconnect_cancels_every_live_order_of_that_session_only() {
    let mut v = venue();
    let on = session(&mut v, "ON", Dialect::Ouch50, true);
    let off = session(&mut v, "OFF", Dialect::Ouch42, false);
    let mut out = Vec::new();
    for n in 1..=3 {
        v.handle(
            1,
            on,
            &enter(
                n,
                tag(1, n),
                Side::Buy,
                100 * n,
                px(10.00),
                TimeInForce::Day,
            ),
            &mut out,
        );
        v.handle(
            1,
            off,
            &enter(n, tag(1, n), Side::Sell, 100, px(11.00), TimeInForce::Day),
            &mut out,
        );
    }
    out.clear();
    assert_eq!(v.on_disconnect(2, off, &mut out), 0);
    assert!(out.is_empty());
    assert_eq!(v.on_disconnect(2, on, &mut out), 3);
    let r = reports(&out, on);
    assert_eq!(
        r,
        (1..=3)
            .map(|n| OrderEvent::Canceled {
                ts: 2,
                order: OrderRef(n),
                decrement: Qty(100 * n),
                reason: CANCEL_SYSTEM
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(
        market(&out)
            .iter()
            .filter(|m| matches!(m, MarketEvent::Delete { .. }))
            .count(),
        3
    );
    assert_eq!(v.live_orders(on).count(), 0);
    assert_eq!(v.live_orders(off).count(), 3);
    assert_eq!(v.quote(sym("AAPL")).unwrap().bid, None);
    // The identifier state survives: the session resumes above its last number.
    out.clear();
    v.handle(3, on, &OrderRequest::AccountQuery, &mut out);
    assert_eq!(
        reports(&out, on),
        vec![OrderEvent::AccountQueryResponse {
            ts: 3,
            next_order: OrderRef(4)
        }]
    );
}

#[test]
fn hidden_flow_executes_as_a_trade_message() {
    let mut v = venue();
    let s = session(&mut v, "S", Dialect::Ouch50, false);
    let mut out = Vec::new();
    let hidden = FlowOrder {
        display: false,
        ..flow(Side::Sell, 100, px(10.00))
    };
    let h = v.submit_flow(1, &hidden, &mut out).unwrap().unwrap();
    assert!(out.is_empty(), "a non-displayed order is not published");
    assert_eq!(v.quote(sym("AAPL")).unwrap().ask, None);
    assert_eq!(v.best_prices(sym("AAPL")), Some((None, Some(px(10.00)))));
    v.handle(
        2,
        s,
        &enter(1, tag(1, 1), Side::Buy, 100, px(10.00), TimeInForce::Ioc),
        &mut out,
    );
    let m = market(&out);
    let OrderEvent::Executed { match_number, .. } = reports(&out, s)[1] else {
        panic!()
    };
    assert_eq!(
        m,
        vec![MarketEvent::Trade {
            ts: 2,
            locate: 1,
            side: Side::Sell,
            qty: Qty(100),
            symbol: sym("AAPL"),
            price: px(10.00),
            match_number
        }]
    );
    assert!(v.flow_order(h).is_none());
}

#[test]
fn flow_handles_go_stale_and_flow_cancels_publish() {
    let mut v = venue();
    let mut out = Vec::new();
    let h = v
        .submit_flow(1, &flow(Side::Buy, 300, px(10.00)), &mut out)
        .unwrap()
        .unwrap();
    let r = v.flow_order(h).unwrap().order_ref;
    out.clear();
    assert!(v.cancel_flow(2, h, Qty(100), &mut out));
    assert_eq!(
        market(&out),
        vec![MarketEvent::Cancel {
            ts: 2,
            locate: 1,
            order_ref: r,
            qty: Qty(200)
        }]
    );
    assert!(!v.cancel_flow(2, h, Qty(100), &mut out), "not a reduction");
    assert!(v.cancel_flow(3, h, Qty(0), &mut out));
    assert!(v.flow_order(h).is_none());
    // The slot is reused; the old handle still answers nothing.
    let h2 = v
        .submit_flow(4, &flow(Side::Buy, 100, px(10.00)), &mut out)
        .unwrap()
        .unwrap();
    assert!(v.flow_order(h).is_none());
    assert!(!v.cancel_flow(5, h, Qty(0), &mut out));
    assert!(v.flow_order(h2).is_some());
    assert_eq!(
        v.submit_flow(5, &flow(Side::Buy, 0, px(10.00)), &mut out),
        Err(floe::exchange::Refusal::ZeroShares)
    );
}

#[test]
fn venue_time_never_goes_backwards() {
    let mut v = venue();
    let mut out = Vec::new();
    v.submit_flow(100, &flow(Side::Buy, 100, px(10.00)), &mut out)
        .unwrap();
    v.submit_flow(50, &flow(Side::Buy, 100, px(10.00)), &mut out)
        .unwrap();
    let ts: Vec<_> = market(&out).iter().map(|m| m.ts()).collect();
    assert_eq!(ts, vec![100, 100]);
    assert_eq!(v.now_ns(), 100);
}

#[test]
fn depth_lists_displayed_levels_best_first() {
    let mut v = venue();
    let mut out = Vec::new();
    for (p, q) in [(10.00, 100), (10.02, 200), (10.01, 300), (10.01, 50)] {
        v.submit_flow(1, &flow(Side::Sell, q, px(p)), &mut out)
            .unwrap();
    }
    assert_eq!(
        v.depth(sym("AAPL"), Side::Sell, 2),
        vec![
            Level {
                price: px(10.00),
                qty: Qty(100)
            },
            Level {
                price: px(10.01),
                qty: Qty(350)
            }
        ]
    );
    assert!(v.depth(sym("AAPL"), Side::Buy, 5).is_empty());
    assert!(v.depth(sym("NOPE"), Side::Buy, 5).is_empty());
}
