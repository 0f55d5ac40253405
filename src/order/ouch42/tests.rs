//! The OUCH 4.2 dialect: golden encodings (PROTOCOLS.md §4, §7), every
//! outbound message to its event, round trips and "never panics".

use super::*;
use crate::order::ChildTag;
use crate::types::{Price4, Side, Symbol};
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).unwrap()
}

fn dialect() -> Ouch42Dialect {
    Ouch42Dialect::with_firm("FIRM").unwrap()
}

fn tag(parent: u32, child: u32) -> ChildTag {
    ChildTag { parent, child }
}

fn aapl() -> Symbol {
    Symbol::new("AAPL").unwrap()
}

fn encode(req: &OrderRequest) -> Vec<u8> {
    let mut out = [0u8; 128];
    let n = dialect().encode(req, &mut out).unwrap();
    out[..n].to_vec()
}

/// The token of order 7, parent 3, child 1: "000007" "0003" "0001".
const TOKEN_HEX: &str = "3030303030373030303330303031";

/// §7 layout with floe's token: O, token, B, 100, AAPL, 123.4500, 99998,
/// FIRM, Y, A, N, min qty 0, cross N, customer type ' '.
#[test]
fn golden_enter() {
    let req = OrderRequest::Enter {
        order: OrderRef(7),
        tag: tag(3, 1),
        side: Side::Buy,
        qty: Qty(100),
        symbol: aapl(),
        price: Price4(1_234_500),
        tif: TimeInForce::Day,
    };
    let want = h(&format!(
        "4f {TOKEN_HEX} 42 00000064 4141504c20202020 0012d644 0001869e 4649524d 59 41 4e \
         00000000 4e 20"
    ));
    assert_eq!(encode(&req), want);
    // Identical to the §7 vector except the token (1..15) and customer type (48).
    let s7 = h(
        "4f 4142433030303030303030303031 42 00000064 4141504c20202020 0012d644 \
                0001869e 4649524d 59 41 4e 00000000 4e 52",
    );
    assert_eq!(&want[15..48], &s7[15..48]);

    // IOC is Time in Force 0; a sell is `S`.
    let req = OrderRequest::Enter {
        order: OrderRef(7),
        tag: tag(3, 1),
        side: Side::Sell,
        qty: Qty(100),
        symbol: aapl(),
        price: Price4(1_234_500),
        tif: TimeInForce::Ioc,
    };
    let b = encode(&req);
    assert_eq!(b[15], b'S');
    assert_eq!(&b[32..36], &[0, 0, 0, 0]);
}

#[test]
fn golden_cancel_replace_query() {
    let cancel = OrderRequest::Cancel {
        order: OrderRef(7),
        tag: tag(3, 1),
        remaining: Qty(0),
    };
    assert_eq!(encode(&cancel), h(&format!("58 {TOKEN_HEX} 00000000")));
    // Replacement token: order 8, parent 3, child 2.
    let replace = OrderRequest::Replace {
        old: OrderRef(7),
        old_tag: tag(3, 1),
        new: OrderRef(8),
        new_tag: tag(3, 2),
        qty: Qty(200),
        price: Price4(1_234_600),
    };
    assert_eq!(
        encode(&replace),
        h(&format!(
            "55 {TOKEN_HEX} 3030303030383030303330303032 000000c8 0012d6a8 0001869e 59 4e 00000000"
        ))
    );
    // OUCH 4.2 has no account query: nothing is written.
    let mut out = [0xaau8; 8];
    assert_eq!(
        dialect().encode(&OrderRequest::AccountQuery, &mut out),
        Ok(0)
    );
    assert_eq!(out, [0xaa; 8]);
}

#[test]
fn encode_errors() {
    let req = OrderRequest::Cancel {
        order: OrderRef(7),
        tag: tag(3, 1),
        remaining: Qty(0),
    };
    assert_eq!(
        dialect().encode(&req, &mut [0u8; 18]),
        Err(DialectError::BufferTooSmall { need: 19 })
    );
    let req = OrderRequest::Cancel {
        order: OrderRef(7),
        tag: tag(crate::order::id::TAG_LIMIT, 1),
        remaining: Qty(0),
    };
    assert_eq!(
        dialect().encode(&req, &mut [0u8; 64]),
        Err(DialectError::OutOfRange { field: "parent id" })
    );
    assert_eq!(
        Ouch42Dialect::with_firm("TOOLONG"),
        Err(DialectError::OutOfRange { field: "firm" })
    );
    assert_eq!(Ouch42Dialect::with_firm("").unwrap().firm, *b"    ");
}

fn tok(order: u32, t: ChildTag) -> w::Token {
    encode_id(OrderRef(order), t).unwrap()
}

fn emit(m: w::Outbound) -> Vec<u8> {
    let mut out = vec![0u8; m.buffer_len()];
    m.emit(&mut out).unwrap();
    out
}

fn accepted(token: w::Token, state: w::OrderState) -> w::AcceptedRepr {
    w::AcceptedRepr {
        timestamp: 5,
        token,
        side: w::BuySell::SellShort,
        shares: 100,
        stock: aapl(),
        price: Price4(1_234_500),
        time_in_force: w::TIF_MARKET_HOURS,
        firm: *b"FIRM",
        display: w::Display::ANONYMOUS,
        order_ref: 42,
        capacity: w::Capacity::AGENCY,
        intermarket_sweep: w::IntermarketSweep::NOT_ELIGIBLE,
        min_qty: 0,
        cross_type: w::CrossType::NO_CROSS,
        state,
        bbo_weight: w::BboWeight::UNSPECIFIED,
    }
}

#[test]
fn decode_every_outbound_message() {
    let d = dialect();
    let t = tag(3, 1);
    let token = tok(7, t);
    let o = OrderRef(7);
    let ev = |m: w::Outbound| d.decode(&emit(m)).unwrap();

    assert_eq!(
        ev(w::Outbound::SystemEvent(w::SystemEventRepr {
            timestamp: 1,
            event_code: w::EventCode::START_OF_DAY
        })),
        OrderEvent::SystemEvent { ts: 1, code: b'S' }
    );
    assert_eq!(
        ev(w::Outbound::Accepted(accepted(token, w::OrderState::Live))),
        OrderEvent::Accepted {
            ts: 5,
            order: o,
            tag: Some(t),
            side: Side::Sell,
            qty: Qty(100),
            symbol: aapl(),
            price: Price4(1_234_500),
            venue_order_ref: 42,
            live: true,
        }
    );
    assert!(matches!(
        ev(w::Outbound::Accepted(accepted(token, w::OrderState::Dead))),
        OrderEvent::Accepted { live: false, .. }
    ));
    let new_t = tag(3, 2);
    let a = accepted(token, w::OrderState::Live);
    assert_eq!(
        ev(w::Outbound::Replaced(w::ReplacedRepr {
            timestamp: 6,
            replacement_token: tok(8, new_t),
            side: w::BuySell::Buy,
            shares: 200,
            stock: a.stock,
            price: Price4(1_234_600),
            time_in_force: a.time_in_force,
            firm: a.firm,
            display: a.display,
            order_ref: 43,
            capacity: a.capacity,
            intermarket_sweep: a.intermarket_sweep,
            min_qty: 0,
            cross_type: a.cross_type,
            state: w::OrderState::Live,
            previous_token: token,
            bbo_weight: a.bbo_weight,
        })),
        OrderEvent::Replaced {
            ts: 6,
            old: o,
            order: OrderRef(8),
            tag: Some(new_t),
            side: Side::Buy,
            qty: Qty(200),
            symbol: aapl(),
            price: Price4(1_234_600),
            venue_order_ref: 43,
            live: true,
        }
    );
    assert_eq!(
        ev(w::Outbound::Canceled(w::CanceledRepr {
            timestamp: 7,
            token,
            decrement_shares: 100,
            reason: w::CancelReason::IOC
        })),
        OrderEvent::Canceled {
            ts: 7,
            order: o,
            decrement: Qty(100),
            reason: CancelReason {
                code: b'I',
                text: "immediate or cancel order"
            },
        }
    );
    assert_eq!(
        ev(w::Outbound::AiqCanceled(w::AiqCanceledRepr {
            timestamp: 8,
            token,
            decrement_shares: 10,
            reason: w::CancelReason::SELF_MATCH,
            quantity_prevented: 10,
            execution_price: Price4(1),
            liquidity_flag: w::LiquidityFlag::ADDED,
        })),
        OrderEvent::Canceled {
            ts: 8,
            order: o,
            decrement: Qty(10),
            reason: CancelReason {
                code: b'Q',
                text: "self-match prevention"
            },
        }
    );
    let executed = OrderEvent::Executed {
        ts: 9,
        order: o,
        qty: Qty(40),
        price: Price4(1_234_500),
        liquidity: b'A',
        match_number: 77,
    };
    assert_eq!(
        ev(w::Outbound::Executed(w::ExecutedRepr {
            timestamp: 9,
            token,
            executed_shares: 40,
            execution_price: Price4(1_234_500),
            liquidity_flag: w::LiquidityFlag::ADDED,
            match_number: 77,
        })),
        executed
    );
    assert_eq!(
        ev(w::Outbound::ExecutedWithReferencePrice(
            w::ExecutedWithReferencePriceRepr {
                timestamp: 9,
                token,
                executed_shares: 40,
                execution_price: Price4(1_234_500),
                liquidity_flag: w::LiquidityFlag::ADDED,
                match_number: 77,
                reference_price: Price4(1),
                reference_price_type: w::ReferencePriceType::INTRADAY_INDICATIVE_VALUE,
            }
        )),
        executed
    );
    assert_eq!(
        ev(w::Outbound::BrokenTrade(w::BrokenTradeRepr {
            timestamp: 10,
            token,
            match_number: 77,
            reason: w::BrokenTradeReason::CONSENT
        })),
        OrderEvent::BrokenTrade {
            ts: 10,
            order: o,
            match_number: 77,
            reason: b'C'
        }
    );
    assert_eq!(
        ev(w::Outbound::Rejected(w::RejectedRepr {
            timestamp: 11,
            token,
            reason: w::RejectReason::INVALID_PRICE
        })),
        OrderEvent::Rejected {
            ts: 11,
            order: o,
            tag: Some(t),
            reason: RejectReason {
                code: u16::from(b'X'),
                text: "invalid price"
            },
        }
    );
    // An unknown reason keeps its raw code.
    assert_eq!(
        ev(w::Outbound::Rejected(w::RejectedRepr {
            timestamp: 11,
            token,
            reason: w::RejectReason(b'#')
        })),
        OrderEvent::Rejected {
            ts: 11,
            order: o,
            tag: Some(t),
            reason: RejectReason {
                code: u16::from(b'#'),
                text: "unknown"
            },
        }
    );
    assert_eq!(
        ev(w::Outbound::CancelPending(w::CancelPendingRepr {
            timestamp: 12,
            token
        })),
        OrderEvent::CancelPending { ts: 12, order: o }
    );
    assert_eq!(
        ev(w::Outbound::CancelReject(w::CancelRejectRepr {
            timestamp: 13,
            token
        })),
        OrderEvent::CancelReject { ts: 13, order: o }
    );
    assert_eq!(
        ev(w::Outbound::PriorityUpdate(w::PriorityUpdateRepr {
            timestamp: 14,
            token,
            price: Price4(1_234_400),
            display: w::Display::ANONYMOUS,
            order_ref: 44,
        })),
        OrderEvent::PriorityUpdate {
            ts: 14,
            order: o,
            price: Price4(1_234_400),
            venue_order_ref: 44
        }
    );
    assert_eq!(
        ev(w::Outbound::OrderModified(w::OrderModifiedRepr {
            timestamp: 15,
            token,
            side: w::BuySell::SellShortExempt,
            shares: 60,
        })),
        OrderEvent::Modified {
            ts: 15,
            order: o,
            side: Side::Sell,
            qty: Qty(60)
        }
    );
}

#[test]
fn decode_errors() {
    let d = dialect();
    // A token floe did not mint.
    let foreign = emit(w::Outbound::Canceled(w::CanceledRepr {
        timestamp: 1,
        token: *b"ABC0000000000 ",
        decrement_shares: 1,
        reason: w::CancelReason::USER,
    }));
    assert_eq!(d.decode(&foreign), Err(DialectError::ForeignId));
    // Known at the wire layer, without a dialect-neutral event.
    let correction = emit(w::Outbound::TradeCorrection(w::TradeCorrectionRepr {
        timestamp: 1,
        token: tok(1, tag(1, 1)),
        executed_shares: 1,
        execution_price: Price4(1),
        liquidity_flag: w::LiquidityFlag::ADDED,
        match_number: 1,
        reason: w::TradeCorrectionReason::ADJUSTED_TO_NAV,
    }));
    assert_eq!(d.decode(&correction), Err(DialectError::UnknownType(b'F')));
    assert_eq!(
        d.decode(&[]),
        Err(DialectError::Truncated { len: 0, need: 1 })
    );
    assert_eq!(
        d.decode(b"E"),
        Err(DialectError::Truncated { len: 1, need: 40 })
    );
    // Inbound types are not outbound messages.
    assert_eq!(d.decode(b"X"), Err(DialectError::UnknownType(b'X')));
    let mut bad = emit(w::Outbound::Accepted(accepted(
        tok(1, tag(1, 1)),
        w::OrderState::Live,
    )));
    bad[23] = b'Q';
    assert_eq!(
        d.decode(&bad),
        Err(DialectError::BadValue {
            field: "buy/sell indicator",
            value: b'Q'
        })
    );
}

fn request() -> impl Strategy<Value = OrderRequest> {
    let lim = crate::order::id::TAG_LIMIT;
    let tag = (0..lim, 0..lim).prop_map(|(parent, child)| ChildTag { parent, child });
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    let tif = prop_oneof![Just(TimeInForce::Day), Just(TimeInForce::Ioc)];
    let sym = "[A-Z]{1,8}".prop_map(|s| Symbol::new(&s).unwrap());
    prop_oneof![
        (
            any::<u32>(),
            tag.clone(),
            side,
            any::<u32>(),
            sym,
            any::<u32>(),
            tif
        )
            .prop_map(|(o, tag, side, q, symbol, p, tif)| OrderRequest::Enter {
                order: OrderRef(o),
                tag,
                side,
                qty: Qty(q),
                symbol,
                price: Price4(p),
                tif,
            }),
        (any::<u32>(), tag.clone(), any::<u32>()).prop_map(|(o, tag, q)| OrderRequest::Cancel {
            order: OrderRef(o),
            tag,
            remaining: Qty(q),
        }),
        (
            any::<u32>(),
            tag.clone(),
            any::<u32>(),
            tag,
            any::<u32>(),
            any::<u32>()
        )
            .prop_map(|(o, ot, n, nt, q, p)| OrderRequest::Replace {
                old: OrderRef(o),
                old_tag: ot,
                new: OrderRef(n),
                new_tag: nt,
                qty: Qty(q),
                price: Price4(p),
            }),
        Just(OrderRequest::AccountQuery),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// OrderRequest → encode → wire parse → the same fields.
    #[test]
    fn encode_parse_same_fields(req in request()) {
        let mut out = [0u8; 64];
        let n = dialect().encode(&req, &mut out).unwrap();
        let b = &out[..n];
        match req {
            OrderRequest::Enter { order, tag, side, qty, symbol, price, tif } => {
                let Ok(w::Inbound::EnterOrder(m)) = w::Inbound::parse(b) else {
                    panic!("not an Enter Order");
                };
                prop_assert_eq!(decode_id(&m.token).unwrap(), (order, tag));
                prop_assert_eq!(m.side.side(), side);
                prop_assert_eq!((m.shares, m.stock, m.price), (qty.0, symbol, price));
                prop_assert_eq!(m.time_in_force, tif42(tif));
                prop_assert_eq!(m.firm, *b"FIRM");
                prop_assert_eq!(n, 49);
            }
            OrderRequest::Cancel { order, tag, remaining } => {
                let Ok(w::Inbound::CancelOrder(m)) = w::Inbound::parse(b) else {
                    panic!("not a Cancel Order");
                };
                prop_assert_eq!(decode_id(&m.token).unwrap(), (order, tag));
                prop_assert_eq!(m.shares, remaining.0);
            }
            OrderRequest::Replace { old, old_tag, new, new_tag, qty, price } => {
                let Ok(w::Inbound::ReplaceOrder(m)) = w::Inbound::parse(b) else {
                    panic!("not a Replace Order");
                };
                prop_assert_eq!(decode_id(&m.existing_token).unwrap(), (old, old_tag));
                prop_assert_eq!(decode_id(&m.replacement_token).unwrap(), (new, new_tag));
                prop_assert_eq!((m.shares, m.price), (qty.0, price));
                prop_assert_eq!(m.time_in_force, w::TIF_MARKET_HOURS);
            }
            OrderRequest::AccountQuery => prop_assert_eq!(n, 0),
        }
    }

    /// Any Accepted carrying a floe token decodes to exactly its fields.
    #[test]
    fn accepted_fields_map(bytes in w::AcceptedRepr::arb_bytes(), o: u32, p in 0..1000u32, c in 0..1000u32) {
        let mut m = w::AcceptedRepr::parse(&bytes).unwrap();
        m.token = tok(o, tag(p, c));
        let ev = dialect().decode(&emit(w::Outbound::Accepted(m))).unwrap();
        prop_assert_eq!(ev, OrderEvent::Accepted {
            ts: m.timestamp,
            order: OrderRef(o),
            tag: Some(tag(p, c)),
            side: m.side.side(),
            qty: Qty(m.shares),
            symbol: m.stock,
            price: m.price,
            venue_order_ref: m.order_ref,
            live: m.state == w::OrderState::Live,
        });
    }

    #[test]
    fn decode_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let _ = dialect().decode(&bytes);
    }

    /// Valid outbound messages with floe tokens, one byte changed and cut
    /// anywhere: decode returns, never panics.
    #[test]
    fn decode_mutated_never_panics(
        bytes in prop_oneof![
            w::AcceptedRepr::arb_bytes(), w::ReplacedRepr::arb_bytes(),
            w::ExecutedRepr::arb_bytes(), w::CanceledRepr::arb_bytes(),
            w::RejectedRepr::arb_bytes(), w::OrderModifiedRepr::arb_bytes(),
        ],
        at in any::<usize>(), value: u8, cut in any::<usize>(),
    ) {
        let mut b = bytes;
        b[9..23].copy_from_slice(&tok(1, tag(2, 3)));
        let i = at % b.len();
        b[i] = value;
        b.truncate(cut % (b.len() + 1));
        let _ = dialect().decode(&b);
    }
}
