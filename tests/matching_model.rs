//! The matching engine against a reference model over random operation
//! sequences: the model is a flat list of resting orders searched by brute
//! force for the best price and earliest arrival. After every operation the
//! whole book, each fill, each session's live orders and executed totals must
//! agree, and the outputs must be self-consistent: shares executed on one
//! side equal shares executed on the other, every execution report has a
//! market event with its match number, and the book is never crossed at rest.

use std::collections::{BTreeMap, HashMap, HashSet};

use floe::config::Dialect;
use floe::exchange::matching::MAX_SHARES;
use floe::exchange::{
    FlowHandle, FlowOrder, MarketEvent, MatchingConfig, MatchingEngine, SessionConfig, SessionId,
    SessionName, VenueOutput,
};
use floe::order::{ChildTag, OrderEvent, OrderRef, OrderRequest, TimeInForce};
use floe::types::{Price4, Qty, Side, Symbol};
use proptest::prelude::*;

const BASE: u32 = 100_000; // 10.0000
const TICK: u32 = 100; // 0.01

fn aapl() -> Symbol {
    Symbol::new("AAPL").unwrap()
}

#[derive(Clone, Debug)]
enum Op {
    Flow {
        side: bool,
        tick: u8,
        qty: u32,
        ioc: bool,
        display: bool,
    },
    FlowCancel {
        pick: usize,
        keep_pct: u8,
    },
    Enter {
        s: usize,
        side: bool,
        tick: u8,
        qty: u32,
        ioc: bool,
        id: u32,
        child: u32,
    },
    Cancel {
        s: usize,
        pick: usize,
        keep_pct: u8,
    },
    Replace {
        s: usize,
        pick: usize,
        id: u32,
        child: u32,
        qty: u32,
        tick: u8,
    },
    Disconnect {
        s: usize,
    },
    Query {
        s: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let qty = prop_oneof![8 => 1u32..600, 1 => Just(0u32), 1 => Just(MAX_SHARES + 1)];
    prop_oneof![
        6 => (any::<bool>(), 0u8..11, 1u32..600, prop::bool::weighted(0.2), prop::bool::weighted(0.85))
            .prop_map(|(side, tick, qty, ioc, display)| Op::Flow { side, tick, qty, ioc, display }),
        2 => (any::<usize>(), 0u8..100).prop_map(|(pick, keep_pct)| Op::FlowCancel { pick, keep_pct }),
        5 => (0usize..2, any::<bool>(), 0u8..12, qty.clone(), prop::bool::weighted(0.2), 0u32..6, 1u32..20)
            .prop_map(|(s, side, tick, qty, ioc, id, child)| Op::Enter { s, side, tick, qty, ioc, id, child }),
        2 => (0usize..2, any::<usize>(), 0u8..100).prop_map(|(s, pick, keep_pct)| Op::Cancel { s, pick, keep_pct }),
        2 => (0usize..2, any::<usize>(), 0u32..6, 1u32..20, qty, 0u8..12)
            .prop_map(|(s, pick, id, child, qty, tick)| Op::Replace { s, pick, id, child, qty, tick }),
        1 => (0usize..2).prop_map(|s| Op::Disconnect { s }),
        1 => (0usize..2).prop_map(|s| Op::Query { s }),
    ]
}

fn price(tick: u8) -> u32 {
    // tick 11 is an invalid price (0) for session orders.
    if tick >= 11 {
        0
    } else {
        BASE - 5 * TICK + u32::from(tick) * TICK
    }
}

fn side(b: bool) -> Side {
    if b {
        Side::Buy
    } else {
        Side::Sell
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Flow,
    Session {
        s: usize,
        order: u32,
        tag: ChildTag,
        chain: u32,
    },
}

#[derive(Clone, Copy, Debug)]
struct MOrder {
    vref: u64,
    seq: u64,
    side: Side,
    price: u32,
    open: u32,
    display: bool,
    owner: Owner,
}

/// One fill as the market sees it: resting order (0 when hidden), shares, price.
type Fill = (u64, u32, u32);

#[derive(Default)]
struct Model {
    orders: Vec<MOrder>,
    next_vref: u64,
    next_seq: u64,
    last: [u32; 2],
    used: [HashSet<(u32, ChildTag)>; 2],
    executed: HashMap<(usize, u32), u32>,
    cod: [bool; 2],
}

const DIALECT: [Dialect; 2] = [Dialect::Ouch50, Dialect::Ouch42];

impl Model {
    fn new() -> Model {
        Model {
            next_vref: 1,
            cod: [true, true],
            ..Default::default()
        }
    }

    fn key_tag(s: usize, tag: ChildTag) -> ChildTag {
        if DIALECT[s] == Dialect::Ouch50 {
            ChildTag::default()
        } else {
            tag
        }
    }

    fn fresh(&self, s: usize, order: u32, tag: ChildTag) -> bool {
        match DIALECT[s] {
            Dialect::Ouch50 => order > self.last[s],
            Dialect::Ouch42 => !self.used[s].contains(&(order, tag)),
        }
    }

    fn consume(&mut self, s: usize, order: u32, tag: ChildTag) {
        match DIALECT[s] {
            Dialect::Ouch50 => self.last[s] = self.last[s].max(order),
            Dialect::Ouch42 => {
                self.used[s].insert((order, tag));
            }
        }
    }

    fn mint(&mut self) -> u64 {
        self.next_vref += 1;
        self.next_vref - 1
    }

    fn best(&self, side: Side) -> Option<usize> {
        (0..self.orders.len())
            .filter(|&i| self.orders[i].side == side)
            .min_by_key(|&i| {
                let o = &self.orders[i];
                let p = if side == Side::Buy {
                    u32::MAX - o.price
                } else {
                    o.price
                };
                (p, o.seq)
            })
    }

    fn match_in(
        &mut self,
        side: Side,
        limit: u32,
        mut qty: u32,
        me: Option<(usize, u32)>,
        fills: &mut Vec<Fill>,
    ) -> u32 {
        while qty > 0 {
            let Some(i) = self.best(side.opposite()) else {
                break;
            };
            let o = self.orders[i];
            let crosses = match side {
                Side::Buy => o.price <= limit,
                Side::Sell => o.price >= limit,
            };
            if !crosses {
                break;
            }
            let f = qty.min(o.open);
            qty -= f;
            fills.push((if o.display { o.vref } else { 0 }, f, o.price));
            if let Owner::Session { s, order, .. } = o.owner {
                *self.executed.entry((s, order)).or_default() += f;
            }
            if let Some((s, order)) = me {
                *self.executed.entry((s, order)).or_default() += f;
            }
            let r = &mut self.orders[i];
            r.open -= f;
            if let Owner::Session { chain, .. } = &mut r.owner {
                *chain += f;
            }
            if r.open == 0 {
                self.orders.remove(i);
            }
        }
        qty
    }

    fn rest(&mut self, vref: u64, side: Side, price: u32, open: u32, display: bool, owner: Owner) {
        self.next_seq += 1;
        self.orders.push(MOrder {
            vref,
            seq: self.next_seq,
            side,
            price,
            open,
            display,
            owner,
        });
    }

    fn session_orders(&self, s: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.orders.len())
            .filter(|&i| matches!(self.orders[i].owner, Owner::Session { s: x, .. } if x == s))
            .collect();
        v.sort_by_key(|&i| match self.orders[i].owner {
            Owner::Session { order, tag, .. } => (order, Self::key_tag(s, tag)),
            Owner::Flow => unreachable!(),
        });
        v
    }

    fn flow_orders(&self) -> Vec<usize> {
        let mut v: Vec<usize> = (0..self.orders.len())
            .filter(|&i| self.orders[i].owner == Owner::Flow)
            .collect();
        v.sort_by_key(|&i| self.orders[i].vref);
        v
    }

    fn book(&self, side: Side) -> Vec<(u64, u32, u32, bool)> {
        let mut v: Vec<_> = self.orders.iter().filter(|o| o.side == side).collect();
        v.sort_by_key(|o| {
            (
                if side == Side::Buy {
                    u32::MAX - o.price
                } else {
                    o.price
                },
                o.seq,
            )
        });
        v.iter()
            .map(|o| (o.vref, o.price, o.open, o.display))
            .collect()
    }
}

fn fills_of(out: &[VenueOutput]) -> Vec<Fill> {
    out.iter()
        .filter_map(|o| match *o {
            VenueOutput::Market(MarketEvent::Executed { order_ref, qty, .. }) => {
                Some((order_ref, qty.0, u32::MAX))
            }
            VenueOutput::Market(MarketEvent::Trade { qty, price, .. }) => Some((0, qty.0, price.0)),
            _ => None,
        })
        .collect()
}

/// Output invariants that need no model.
fn check_outputs(out: &[VenueOutput]) -> Result<(), TestCaseError> {
    let mut market_qty: BTreeMap<u64, u32> = BTreeMap::new();
    let mut report_qty: BTreeMap<u64, Vec<(u32, u8)>> = BTreeMap::new();
    for o in out {
        match *o {
            VenueOutput::Market(m) => {
                if let (
                    Some(n),
                    MarketEvent::Executed { qty, .. } | MarketEvent::Trade { qty, .. },
                ) = (m.match_number(), m)
                {
                    prop_assert!(
                        market_qty.insert(n, qty.0).is_none(),
                        "match number {} published twice",
                        n
                    );
                }
            }
            VenueOutput::Report {
                event:
                    OrderEvent::Executed {
                        qty,
                        match_number,
                        liquidity,
                        ..
                    },
                ..
            } => {
                report_qty
                    .entry(match_number)
                    .or_default()
                    .push((qty.0, liquidity));
            }
            _ => {}
        }
    }
    for (n, sides) in &report_qty {
        let m = market_qty.get(n);
        prop_assert!(
            m.is_some(),
            "execution report with match {} has no market event",
            n
        );
        for (q, _) in sides {
            prop_assert_eq!(
                Some(q),
                m,
                "match {}: both sides execute the same shares",
                n
            );
        }
        prop_assert!(sides.len() <= 2);
        if sides.len() == 2 {
            prop_assert!(sides[0].1 != sides[1].1, "one side adds, the other removes");
        }
    }
    Ok(())
}

/// Book-changing reports of the OUCH 5.0 session (whose numbers identify an
/// order alone) have the market event of their change: a Replaced its U (or
/// the original's D), a Canceled of a resting order its X or D.
fn check_book_reports(
    out: &[VenueOutput],
    session: SessionId,
    refs: &mut HashMap<u32, u64>,
) -> Result<(), TestCaseError> {
    let market: Vec<MarketEvent> = out
        .iter()
        .filter_map(|o| match o {
            VenueOutput::Market(m) => Some(*m),
            _ => None,
        })
        .collect();
    for o in out {
        let VenueOutput::Report { session: s, event } = *o else {
            continue;
        };
        if s != session {
            continue;
        }
        match event {
            OrderEvent::Accepted {
                order,
                venue_order_ref,
                ..
            } => {
                refs.insert(order.0, venue_order_ref);
            }
            OrderEvent::Replaced {
                old,
                order,
                venue_order_ref,
                qty,
                ..
            } => {
                let old_ref = refs.get(&old.0).copied();
                prop_assert!(old_ref.is_some(), "replaced an order never accepted");
                let old_ref = old_ref.unwrap_or_default();
                let ok = market.iter().any(|m| match *m {
                    MarketEvent::Replace {
                        old, new, qty: q, ..
                    } => old == old_ref && new == venue_order_ref && q == qty,
                    MarketEvent::Delete { order_ref, .. } => order_ref == old_ref,
                    _ => false,
                });
                prop_assert!(
                    ok,
                    "Replaced {:?} without its market event: {:?}",
                    event,
                    market
                );
                refs.insert(order.0, venue_order_ref);
            }
            OrderEvent::Canceled {
                order,
                decrement,
                reason,
                ..
            } if reason.code != b'I' => {
                let r = refs.get(&order.0).copied().unwrap_or_default();
                let ok = market.iter().any(|m| match *m {
                    MarketEvent::Cancel { order_ref, qty, .. } => {
                        order_ref == r && qty == decrement
                    }
                    MarketEvent::Delete { order_ref, .. } => order_ref == r,
                    _ => false,
                });
                prop_assert!(
                    ok,
                    "Canceled {:?} without its market event: {:?}",
                    event,
                    market
                );
            }
            _ => {}
        }
    }
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut v = MatchingEngine::new(&MatchingConfig {
        symbols: vec![aapl()],
        round_lot: 100,
        order_capacity: 64,
    });
    let sessions: Vec<SessionId> = (0..2)
        .map(|i| {
            v.add_session(SessionConfig {
                name: SessionName::new(["S50", "S42"][i]).unwrap(),
                dialect: DIALECT[i],
                cancel_on_disconnect: true,
                attribution: None,
            })
            .unwrap()
        })
        .collect();
    let mut m = Model::new();
    let mut handles: HashMap<u64, FlowHandle> = HashMap::new();
    let mut refs50: HashMap<u32, u64> = HashMap::new();
    let mut out = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        out.clear();
        let now = step as u64;
        let mut want: Vec<Fill> = Vec::new();
        match op {
            Op::Flow {
                side: b,
                tick,
                qty,
                ioc,
                display,
            } => {
                let (sd, p) = (side(b), price(tick));
                let fo = FlowOrder {
                    symbol: aapl(),
                    side: sd,
                    qty: Qty(qty),
                    price: Price4(p),
                    tif: if ioc {
                        TimeInForce::Ioc
                    } else {
                        TimeInForce::Day
                    },
                    display,
                    attribution: None,
                };
                let h = v.submit_flow(now, &fo, &mut out).expect("valid flow order");
                let vref = m.mint();
                let rest = m.match_in(sd, p, qty, None, &mut want);
                if rest > 0 && !ioc {
                    m.rest(vref, sd, p, rest, display, Owner::Flow);
                    handles.insert(vref, h.expect("a resting flow order has a handle"));
                } else {
                    prop_assert!(h.is_none());
                }
            }
            Op::FlowCancel { pick, keep_pct } => {
                let live = m.flow_orders();
                if live.is_empty() {
                    continue;
                }
                let i = live[pick % live.len()];
                let o = m.orders[i];
                let keep = o.open * u32::from(keep_pct) / 100;
                prop_assert!(v.cancel_flow(now, handles[&o.vref], Qty(keep), &mut out));
                if keep == 0 {
                    m.orders.remove(i);
                } else {
                    m.orders[i].open = keep;
                }
            }
            Op::Enter {
                s,
                side: b,
                tick,
                qty,
                ioc,
                id,
                child,
            } => {
                let tag = ChildTag { parent: 1, child };
                let order = match DIALECT[s] {
                    // Mostly fresh numbers, sometimes a repeat or an older one.
                    Dialect::Ouch50 => (m.last[s] + id).saturating_sub(2),
                    Dialect::Ouch42 => id + 1,
                };
                let (sd, p) = (side(b), price(tick));
                let req = OrderRequest::Enter {
                    order: OrderRef(order),
                    tag,
                    side: sd,
                    qty: Qty(qty),
                    symbol: aapl(),
                    price: Price4(p),
                    tif: if ioc {
                        TimeInForce::Ioc
                    } else {
                        TimeInForce::Day
                    },
                };
                v.handle(now, sessions[s], &req, &mut out);
                let reports: Vec<_> = out
                    .iter()
                    .filter(|o| matches!(o, VenueOutput::Report { .. }))
                    .collect();
                if !m.fresh(s, order, tag) {
                    prop_assert!(
                        reports.is_empty(),
                        "ignored id must get no report: {:?}",
                        reports
                    );
                } else {
                    m.consume(s, order, tag);
                    if qty == 0 || qty > MAX_SHARES || p == 0 {
                        let rejected = matches!(
                            reports.as_slice(),
                            [VenueOutput::Report {
                                event: OrderEvent::Rejected { .. },
                                ..
                            }]
                        );
                        prop_assert!(rejected, "expected one Rejected: {:?}", reports);
                    } else {
                        let vref = m.mint();
                        let rest = m.match_in(sd, p, qty, Some((s, order)), &mut want);
                        if rest > 0 && !ioc {
                            let chain = qty - rest;
                            m.rest(
                                vref,
                                sd,
                                p,
                                rest,
                                true,
                                Owner::Session {
                                    s,
                                    order,
                                    tag,
                                    chain,
                                },
                            );
                        }
                    }
                }
            }
            Op::Cancel { s, pick, keep_pct } => {
                let live = m.session_orders(s);
                if live.is_empty() {
                    continue;
                }
                let i = live[pick % live.len()];
                let o = m.orders[i];
                let Owner::Session { order, tag, .. } = o.owner else {
                    unreachable!()
                };
                let keep = o.open * u32::from(keep_pct) / 100;
                let req = OrderRequest::Cancel {
                    order: OrderRef(order),
                    tag,
                    remaining: Qty(keep),
                };
                v.handle(now, sessions[s], &req, &mut out);
                if keep == 0 {
                    m.orders.remove(i);
                } else {
                    m.orders[i].open = keep;
                }
            }
            Op::Replace {
                s,
                pick,
                id,
                child,
                qty,
                tick,
            } => {
                let live = m.session_orders(s);
                if live.is_empty() {
                    continue;
                }
                let i = live[pick % live.len()];
                let o = m.orders[i];
                let Owner::Session {
                    order: old,
                    tag: old_tag,
                    chain,
                    ..
                } = o.owner
                else {
                    unreachable!()
                };
                let new_tag = ChildTag { parent: 2, child };
                let new = match DIALECT[s] {
                    Dialect::Ouch50 => (m.last[s] + id).saturating_sub(2),
                    Dialect::Ouch42 => id + 1,
                };
                let p = price(tick);
                let req = OrderRequest::Replace {
                    old: OrderRef(old),
                    old_tag,
                    new: OrderRef(new),
                    new_tag,
                    qty: Qty(qty),
                    price: Price4(p),
                };
                v.handle(now, sessions[s], &req, &mut out);
                if m.fresh(s, new, new_tag) {
                    if qty > MAX_SHARES || p == 0 {
                        m.orders.remove(i);
                    } else {
                        m.consume(s, new, new_tag);
                        let vref = m.mint();
                        m.orders.remove(i);
                        let open = qty.saturating_sub(chain);
                        if open > 0 {
                            let rest = m.match_in(o.side, p, open, Some((s, new)), &mut want);
                            if rest > 0 {
                                let chain = chain + open - rest;
                                m.rest(
                                    vref,
                                    o.side,
                                    p,
                                    rest,
                                    true,
                                    Owner::Session {
                                        s,
                                        order: new,
                                        tag: new_tag,
                                        chain,
                                    },
                                );
                            }
                        }
                    }
                }
            }
            Op::Disconnect { s } => {
                let n = v.on_disconnect(now, sessions[s], &mut out);
                let live = m.session_orders(s);
                prop_assert_eq!(n, live.len());
                if m.cod[s] {
                    m.orders
                        .retain(|o| !matches!(o.owner, Owner::Session { s: x, .. } if x == s));
                }
            }
            Op::Query { s } => {
                v.handle(now, sessions[s], &OrderRequest::AccountQuery, &mut out);
                if DIALECT[s] == Dialect::Ouch50 {
                    let want = OrderRef(m.last[s] + 1);
                    let ok = matches!(
                        out.as_slice(),
                        [VenueOutput::Report { event: OrderEvent::AccountQueryResponse { next_order, .. }, .. }] if *next_order == want
                    );
                    prop_assert!(ok, "expected next {:?}: {:?}", want, out);
                } else {
                    prop_assert!(out.is_empty());
                }
            }
        }
        // Fills: same resting orders, shares and (for hidden) prices, in order.
        let got = fills_of(&out);
        let want: Vec<Fill> = want
            .into_iter()
            .map(|(r, q, p)| (r, q, if r == 0 { p } else { u32::MAX }))
            .collect();
        prop_assert_eq!(&got, &want, "step {}: fills", step);
        check_outputs(&out)?;
        check_book_reports(&out, sessions[0], &mut refs50)?;
        // The whole book.
        for sd in [Side::Buy, Side::Sell] {
            let got: Vec<_> = v
                .resting_orders(aapl(), sd)
                .iter()
                .map(|o| (o.order_ref, o.price.0, o.open.0, o.display))
                .collect();
            prop_assert_eq!(got, m.book(sd), "step {}: {:?} side", step, sd);
        }
        let (bid, ask) = v.best_prices(aapl()).unwrap();
        if let (Some(b), Some(a)) = (bid, ask) {
            prop_assert!(b < a, "crossed at rest: {:?} / {:?}", b, a);
        }
        // Sessions: live orders and executed totals.
        for (s, &session) in sessions.iter().enumerate() {
            let got: Vec<_> = v
                .live_orders(session)
                .map(|l| (l.order.0, l.resting.open.0, l.chain_executed.0))
                .collect();
            let want: Vec<_> = m
                .session_orders(s)
                .iter()
                .map(|&i| match m.orders[i].owner {
                    Owner::Session { order, chain, .. } => (order, m.orders[i].open, chain),
                    Owner::Flow => unreachable!(),
                })
                .collect();
            prop_assert_eq!(got, want, "step {}: session {} live orders", step, s);
        }
        for (&(s, order), &q) in &m.executed {
            prop_assert_eq!(v.executed(sessions[s], OrderRef(order)), Qty(q));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn matching_agrees_with_the_reference_model(ops in prop::collection::vec(op(), 1..250)) {
        run(ops)?;
    }
}
