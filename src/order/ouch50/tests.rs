//! The OUCH 5.0 dialect: golden encodings (PROTOCOLS.md §5, §7), every
//! outbound message to its event, round trips and "never panics".

use super::*;
use crate::types::{Price4, Side, Symbol};
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).unwrap()
}

fn dialect() -> Ouch50Dialect {
    Ouch50Dialect::with_firm("FIRM").unwrap()
}

fn tag(parent: u32, child: u32) -> ChildTag {
    ChildTag { parent, child }
}

fn msft() -> Symbol {
    Symbol::new("MSFT").unwrap()
}

fn encode(d: &Ouch50Dialect, req: &OrderRequest) -> Vec<u8> {
    let mut out = [0u8; 128];
    let n = d.encode(req, &mut out).unwrap();
    out[..n].to_vec()
}

/// ClOrdID of order 7, parent 3, child 1.
const CL_HEX: &str = "3030303030373030303330303031";

fn enter7() -> OrderRequest {
    OrderRequest::Enter {
        order: OrderRef(7),
        tag: tag(3, 1),
        side: Side::Sell,
        qty: Qty(250),
        symbol: msft(),
        price: Price4(4_000_000),
        tif: TimeInForce::Day,
    }
}

/// §7: the 53-byte Enter Order with the Firm TLV; floe's ClOrdID in 31..45.
#[test]
fn golden_enter_with_firm() {
    let got = encode(&dialect(), &enter7());
    let want = h(&format!(
        "4f 00000007 53 000000fa 4d53465420202020 00000000003d0900 30 59 41 4e 4e {CL_HEX} \
         0006 05024649524d"
    ));
    assert_eq!(got, want);
    let s7 = h(
        "4f 00000007 53 000000fa 4d53465420202020 00000000003d0900 30 59 41 4e 4e \
                434c4f5244303030303030303037 0006 05024649524d",
    );
    assert_eq!(s7.len(), 53);
    assert_eq!(&got[..31], &s7[..31]);
    assert_eq!(&got[45..], &s7[45..]);
}

/// §7: without a firm, the 47-byte Enter Order; IOC is Time In Force `3`.
#[test]
fn golden_enter_without_firm() {
    let d = Ouch50Dialect::with_firm("").unwrap();
    assert_eq!(d.firm, None);
    let got = encode(&d, &enter7());
    assert_eq!(
        got,
        h(&format!(
            "4f 00000007 53 000000fa 4d53465420202020 00000000003d0900 30 59 41 4e 4e {CL_HEX} 0000"
        ))
    );
    let OrderRequest::Enter {
        order,
        tag,
        side,
        qty,
        symbol,
        price,
        ..
    } = enter7()
    else {
        unreachable!()
    };
    let ioc = OrderRequest::Enter {
        order,
        tag,
        side,
        qty,
        symbol,
        price,
        tif: TimeInForce::Ioc,
    };
    assert_eq!(encode(&d, &ioc)[26], b'3');
    // A customer type goes out as tag 4 after the firm.
    let d = Ouch50Dialect {
        customer_type: Some(w::CustomerType::NOT_RETAIL),
        ..dialect()
    };
    assert_eq!(
        &encode(&d, &enter7())[45..],
        &h("0009 05024649524d 02044e")[..]
    );
}

#[test]
fn golden_cancel_replace_query() {
    let d = dialect();
    let cancel = OrderRequest::Cancel {
        order: OrderRef(7),
        tag: tag(3, 1),
        remaining: Qty(50),
    };
    assert_eq!(encode(&d, &cancel), h("58 00000007 00000032"));
    let replace = OrderRequest::Replace {
        old: OrderRef(7),
        old_tag: tag(3, 1),
        new: OrderRef(8),
        new_tag: tag(3, 2),
        qty: Qty(300),
        price: Price4(4_000_400),
    };
    assert_eq!(
        encode(&d, &replace),
        h("55 00000007 00000008 0000012c 00000000003d0a90 30 59 4e \
           3030303030383030303330303032 0000")
    );
    assert_eq!(encode(&d, &OrderRequest::AccountQuery), h("51"));
    assert_eq!(
        d.encode(&enter7(), &mut [0u8; 50]),
        Err(DialectError::BufferTooSmall { need: 53 })
    );
}

fn emit(m: w::Outbound) -> Vec<u8> {
    let mut out = vec![0u8; m.buffer_len()];
    m.emit(&mut out).unwrap();
    out
}

fn cl(order: u32, t: ChildTag) -> w::ClOrdId {
    encode_id(OrderRef(order), t).unwrap()
}

fn accepted(user_ref_num: u32, cl_ord_id: w::ClOrdId) -> w::AcceptedRepr {
    w::AcceptedRepr {
        timestamp: 5,
        user_ref_num,
        side: w::BuySell::SellShortExempt,
        quantity: 250,
        symbol: msft(),
        price: Price4(4_000_000),
        time_in_force: w::TimeInForce::DAY,
        display: w::Display::VISIBLE,
        order_ref: 42,
        capacity: w::Capacity::AGENCY,
        intermarket_sweep: w::IntermarketSweep::NOT_ELIGIBLE,
        cross_type: w::CrossType::CONTINUOUS,
        state: w::OrderState::Live,
        cl_ord_id,
        options: w::Options {
            firm: Some(*b"FIRM"),
            ..w::Options::NONE
        },
    }
}

#[test]
fn decode_every_outbound_message() {
    let d = dialect();
    let t = tag(3, 1);
    let o = OrderRef(7);
    let ev = |m: w::Outbound| d.decode(&emit(m)).unwrap();

    assert_eq!(
        ev(w::Outbound::SystemEvent(w::SystemEventRepr {
            timestamp: 1,
            event_code: w::EventCode::END_OF_DAY
        })),
        OrderEvent::SystemEvent { ts: 1, code: b'E' }
    );
    let want = OrderEvent::Accepted {
        ts: 5,
        order: o,
        tag: Some(t),
        side: Side::Sell,
        qty: Qty(250),
        symbol: msft(),
        price: Price4(4_000_000),
        venue_order_ref: 42,
        live: true,
    };
    assert_eq!(ev(w::Outbound::Accepted(accepted(7, cl(7, t)))), want);
    // A ClOrdID floe did not mint, or one naming another order: no tag.
    assert!(matches!(
        ev(w::Outbound::Accepted(accepted(7, *b"CLORD000000007"))),
        OrderEvent::Accepted {
            order: OrderRef(7),
            tag: None,
            ..
        }
    ));
    assert!(matches!(
        ev(w::Outbound::Accepted(accepted(7, cl(8, t)))),
        OrderEvent::Accepted {
            order: OrderRef(7),
            tag: None,
            ..
        }
    ));
    let a = accepted(7, cl(7, t));
    assert_eq!(
        ev(w::Outbound::Replaced(w::ReplacedRepr {
            timestamp: 6,
            orig_user_ref_num: 7,
            user_ref_num: 8,
            side: w::BuySell::Buy,
            quantity: 300,
            symbol: a.symbol,
            price: Price4(4_000_400),
            time_in_force: a.time_in_force,
            display: a.display,
            order_ref: 43,
            capacity: a.capacity,
            intermarket_sweep: a.intermarket_sweep,
            cross_type: a.cross_type,
            state: w::OrderState::Dead,
            cl_ord_id: cl(8, tag(3, 2)),
            options: w::Options::NONE,
        })),
        OrderEvent::Replaced {
            ts: 6,
            old: o,
            order: OrderRef(8),
            tag: Some(tag(3, 2)),
            side: Side::Buy,
            qty: Qty(300),
            symbol: msft(),
            price: Price4(4_000_400),
            venue_order_ref: 43,
            live: false,
        }
    );
    assert_eq!(
        ev(w::Outbound::Canceled(w::CanceledRepr {
            timestamp: 7,
            user_ref_num: 7,
            quantity: 250,
            reason: w::CancelReason::DLCR_SHARES_EXCEEDED
        })),
        OrderEvent::Canceled {
            ts: 7,
            order: o,
            decrement: Qty(250),
            reason: CancelReason {
                code: b'e',
                text: "DLCR shares exceeded"
            },
        }
    );
    assert_eq!(
        ev(w::Outbound::AiqCanceled(w::AiqCanceledRepr {
            timestamp: 8,
            user_ref_num: 7,
            decrement_shares: 10,
            reason: w::CancelReason::SELF_MATCH,
            quantity_prevented: 10,
            execution_price: Price4(1),
            liquidity_flag: w::LiquidityFlag::ADDED,
            aiq_strategy: b'O',
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
    assert_eq!(
        ev(w::Outbound::Executed(w::ExecutedRepr {
            timestamp: 9,
            user_ref_num: 7,
            quantity: 40,
            price: Price4(4_000_000),
            liquidity_flag: w::LiquidityFlag::REMOVED,
            match_number: 77,
            options: w::Options::NONE,
        })),
        OrderEvent::Executed {
            ts: 9,
            order: o,
            qty: Qty(40),
            price: Price4(4_000_000),
            liquidity: b'R',
            match_number: 77,
        }
    );
    assert_eq!(
        ev(w::Outbound::BrokenTrade(w::BrokenTradeRepr {
            timestamp: 10,
            user_ref_num: 7,
            match_number: 77,
            reason: w::BrokenTradeReason::EXTERNAL,
            cl_ord_id: cl(7, t),
        })),
        OrderEvent::BrokenTrade {
            ts: 10,
            order: o,
            match_number: 77,
            reason: b'X'
        }
    );
    assert_eq!(
        ev(w::Outbound::Rejected(w::RejectedRepr {
            timestamp: 11,
            user_ref_num: 7,
            reason: w::RejectReason::HALTED,
            cl_ord_id: cl(7, t),
        })),
        OrderEvent::Rejected {
            ts: 11,
            order: o,
            tag: Some(t),
            reason: RejectReason {
                code: 7,
                text: "halted"
            },
        }
    );
    assert_eq!(
        ev(w::Outbound::Rejected(w::RejectedRepr {
            timestamp: 11,
            user_ref_num: 7,
            reason: w::RejectReason(0x7777),
            cl_ord_id: cl(7, t),
        })),
        OrderEvent::Rejected {
            ts: 11,
            order: o,
            tag: Some(t),
            reason: RejectReason {
                code: 0x7777,
                text: "unknown"
            },
        }
    );
    assert_eq!(
        ev(w::Outbound::CancelPending(w::CancelPendingRepr {
            timestamp: 12,
            user_ref_num: 7
        })),
        OrderEvent::CancelPending { ts: 12, order: o }
    );
    assert_eq!(
        ev(w::Outbound::CancelReject(w::CancelRejectRepr {
            timestamp: 13,
            user_ref_num: 7
        })),
        OrderEvent::CancelReject { ts: 13, order: o }
    );
    assert_eq!(
        ev(w::Outbound::PriorityUpdate(w::PriorityUpdateRepr {
            timestamp: 14,
            user_ref_num: 7,
            price: Price4(3_999_900),
            display: w::Display::VISIBLE,
            order_ref: 44,
        })),
        OrderEvent::PriorityUpdate {
            ts: 14,
            order: o,
            price: Price4(3_999_900),
            venue_order_ref: 44
        }
    );
    assert_eq!(
        ev(w::Outbound::OrderModified(w::OrderModifiedRepr {
            timestamp: 15,
            user_ref_num: 7,
            side: w::BuySell::SellShort,
            quantity: 60,
        })),
        OrderEvent::Modified {
            ts: 15,
            order: o,
            side: Side::Sell,
            qty: Qty(60)
        }
    );
    assert_eq!(
        ev(w::Outbound::Restated(w::RestatedRepr {
            timestamp: 16,
            user_ref_num: 7,
            reason: w::RestatedReason::DISPLAY_REFRESH,
            options: w::Options {
                display_quantity: Some(100),
                ..w::Options::NONE
            },
        })),
        OrderEvent::Restated {
            ts: 16,
            order: o,
            reason: b'R'
        }
    );
    assert_eq!(
        ev(w::Outbound::AccountQueryResponse(
            w::AccountQueryResponseRepr {
                timestamp: 17,
                next_user_ref_num: 1000
            }
        )),
        OrderEvent::AccountQueryResponse {
            ts: 17,
            next_order: OrderRef(1000)
        }
    );
}

#[test]
fn decode_errors() {
    let d = dialect();
    let mut b = emit(w::Outbound::Executed(w::ExecutedRepr {
        timestamp: 9,
        user_ref_num: 7,
        quantity: 40,
        price: Price4(4_000_000),
        liquidity_flag: w::LiquidityFlag::REMOVED,
        match_number: 77,
        options: w::Options::NONE,
    }));
    b[17] = 1;
    assert_eq!(
        d.decode(&b),
        Err(DialectError::OutOfRange { field: "price" })
    );
    let mut b = emit(w::Outbound::Accepted(accepted(7, cl(7, tag(1, 1)))));
    assert_eq!(&b[62..66], &h("0006 0502")[..]);
    b[64] = 9; // the Firm element now claims to run past the appendage
    assert_eq!(
        d.decode(&b),
        Err(DialectError::Malformed {
            field: "appendage element runs past the appendage"
        })
    );
    assert_eq!(d.decode(b"O"), Err(DialectError::UnknownType(b'O')));
    assert_eq!(
        d.decode(&[]),
        Err(DialectError::Truncated { len: 0, need: 1 })
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
                prop_assert_eq!(m.user_ref_num, order.0);
                prop_assert_eq!(decode_id(&m.cl_ord_id).unwrap(), (order, tag));
                prop_assert_eq!(m.side.side(), side);
                prop_assert_eq!((m.quantity, m.symbol, m.price), (qty.0, symbol, price));
                prop_assert_eq!(m.time_in_force, tif50(tif));
                prop_assert_eq!(m.options.firm, Some(*b"FIRM"));
                prop_assert_eq!(n, 53);
            }
            OrderRequest::Cancel { order, remaining, .. } => {
                let Ok(w::Inbound::CancelOrder(m)) = w::Inbound::parse(b) else {
                    panic!("not a Cancel Order");
                };
                prop_assert_eq!((m.user_ref_num, m.quantity), (order.0, remaining.0));
            }
            OrderRequest::Replace { old, new, new_tag, qty, price, .. } => {
                let Ok(w::Inbound::ReplaceOrder(m)) = w::Inbound::parse(b) else {
                    panic!("not a Replace Order");
                };
                prop_assert_eq!((m.orig_user_ref_num, m.user_ref_num), (old.0, new.0));
                prop_assert_eq!(decode_id(&m.cl_ord_id).unwrap(), (new, new_tag));
                prop_assert_eq!((m.quantity, m.price), (qty.0, price));
                prop_assert_eq!(m.time_in_force, w::TimeInForce::DAY);
            }
            OrderRequest::AccountQuery => {
                prop_assert_eq!(w::Inbound::parse(b).unwrap(), w::Inbound::AccountQuery(w::AccountQueryRepr {}));
            }
        }
    }

    /// Any Executed decodes to exactly its fields.
    #[test]
    fn executed_fields_map(bytes in w::ExecutedRepr::arb_bytes()) {
        let m = w::ExecutedRepr::parse(&bytes).unwrap();
        prop_assert_eq!(dialect().decode(&bytes).unwrap(), OrderEvent::Executed {
            ts: m.timestamp,
            order: OrderRef(m.user_ref_num),
            qty: Qty(m.quantity),
            price: m.price,
            liquidity: m.liquidity_flag.0,
            match_number: m.match_number,
        });
    }

    #[test]
    fn decode_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        let _ = dialect().decode(&bytes);
    }

    #[test]
    fn decode_mutated_never_panics(
        bytes in prop_oneof![
            w::AcceptedRepr::arb_bytes(), w::ReplacedRepr::arb_bytes(),
            w::ExecutedRepr::arb_bytes(), w::RestatedRepr::arb_bytes(),
            w::RejectedRepr::arb_bytes(), w::AiqCanceledRepr::arb_bytes(),
        ],
        at in any::<usize>(), value: u8, cut in any::<usize>(),
    ) {
        let mut b = bytes;
        let i = at % b.len();
        b[i] = value;
        b.truncate(cut % (b.len() + 1));
        let _ = dialect().decode(&b);
    }
}
