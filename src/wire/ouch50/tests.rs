//! OUCH 5.0 golden bytes (PROTOCOLS.md §5 offsets, §7 vectors), the TLV
//! appendage, round trips and "arbitrary bytes never panic".

use super::*;
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).unwrap()
}

const TS_HEX: &str = "00001f1aced9f07b";
const TS: u64 = 34_200_000_000_123;
/// "CLORD000000007".
const CL_HEX: &str = "434c4f5244303030303030303037";
const CL: ClOrdId = *b"CLORD000000007";

fn msft() -> Symbol {
    Symbol(*b"MSFT    ")
}

fn check_in(bytes: &[u8], want: Inbound) {
    assert_eq!(bytes.len(), want.buffer_len(), "{want:?}");
    assert_eq!(Inbound::parse(bytes).unwrap(), want);
    let mut out = vec![0u8; bytes.len()];
    assert_eq!(want.emit(&mut out).unwrap(), bytes.len());
    assert_eq!(out, bytes, "{want:?}");
}

fn check_out(bytes: &[u8], want: Outbound) {
    assert_eq!(bytes.len(), want.buffer_len(), "{want:?}");
    assert_eq!(Outbound::parse(bytes).unwrap(), want);
    let mut out = vec![0u8; bytes.len()];
    assert_eq!(want.emit(&mut out).unwrap(), bytes.len());
    assert_eq!(out, bytes, "{want:?}");
}

fn enter_section7(options: Options) -> EnterOrderRepr {
    EnterOrderRepr {
        user_ref_num: 7,
        side: BuySell::Sell,
        quantity: 250,
        symbol: msft(),
        price: Price4(4_000_000),
        time_in_force: TimeInForce::DAY,
        display: Display::VISIBLE,
        capacity: Capacity::AGENCY,
        intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
        cross_type: CrossType::CONTINUOUS,
        cl_ord_id: CL,
        options,
    }
}

/// §7: the 47-byte OUCH 5.0 Enter Order, exactly.
#[test]
fn golden_enter_order_section7() {
    let b = h(&format!(
        "4f 00000007 53 000000fa 4d53465420202020 00000000003d0900 30 59 41 4e 4e {CL_HEX} 0000"
    ));
    assert_eq!(b.len(), 47);
    check_in(&b, Inbound::EnterOrder(enter_section7(Options::NONE)));
    let v = EnterOrder::new_checked(&b[..]).unwrap();
    assert_eq!(v.user_ref_num(), 7);
    assert_eq!(v.price(), Price4(4_000_000));
    assert_eq!(v.appendage_length(), 0);
    assert!(v.appendage().is_empty());
    assert_eq!(v.total_len(), 47);
}

/// §7: the same order with the Firm TLV `05 02 'FIRM'` is 53 bytes.
#[test]
fn golden_enter_order_with_firm_section7() {
    let b = h(&format!(
        "4f 00000007 53 000000fa 4d53465420202020 00000000003d0900 30 59 41 4e 4e {CL_HEX} \
         0006 05024649524d"
    ));
    assert_eq!(b.len(), 53);
    let want = enter_section7(Options {
        firm: Some(*b"FIRM"),
        ..Options::NONE
    });
    check_in(&b, Inbound::EnterOrder(want));
    let v = EnterOrder::new_checked(&b[..]).unwrap();
    assert_eq!(v.appendage_length(), 6);
    assert_eq!(v.appendage().firm().unwrap(), Some(*b"FIRM"));
    let els: Vec<_> = v.appendage().iter().collect();
    assert_eq!(
        els,
        vec![Element {
            tag: tag::FIRM,
            value: b"FIRM"
        }]
    );
    assert_eq!(v.total_len(), 53);
    assert_eq!(v.as_bytes(), &b[..]);
}

#[test]
fn golden_inbound() {
    // §5 U (40+A): orig 1, new 5, qty 9, price 13, TIF 21, display 22, ISO 23, ClOrdID 24, app 38.
    // With a MinQty (tag 3) option.
    check_in(
        &h(&format!(
            "55 00000007 00000008 0000012c 00000000003d0a90 33 4e 59 {CL_HEX} 0006 050300000064"
        )),
        Inbound::ReplaceOrder(ReplaceOrderRepr {
            orig_user_ref_num: 7,
            user_ref_num: 8,
            quantity: 300,
            price: Price4(4_000_400),
            time_in_force: TimeInForce::IOC,
            display: Display::HIDDEN,
            intermarket_sweep: IntermarketSweep::ELIGIBLE,
            cl_ord_id: CL,
            options: Options {
                min_qty: Some(100),
                ..Options::NONE
            },
        }),
    );
    // §5 X (9): user ref 1, quantity 5.
    check_in(
        &h("58 00000007 00000000"),
        Inbound::CancelOrder(CancelOrderRepr {
            user_ref_num: 7,
            quantity: 0,
        }),
    );
    // §5 M (10): user ref 1, side 5, quantity 6.
    check_in(
        &h("4d 00000007 54 00000064"),
        Inbound::ModifyOrder(ModifyOrderRepr {
            user_ref_num: 7,
            side: BuySell::SellShort,
            quantity: 100,
        }),
    );
    // §5 Q (1).
    check_in(&h("51"), Inbound::AccountQuery(AccountQueryRepr {}));
}

#[test]
fn golden_outbound() {
    check_out(
        &h(&format!("53 {TS_HEX} 45")),
        Outbound::SystemEvent(SystemEventRepr {
            timestamp: TS,
            event_code: EventCode::END_OF_DAY,
        }),
    );
    // §5 A (64+A): side 13, qty 14, symbol 18, price 26, TIF 34, display 35, order ref 36,
    // capacity 44, ISO 45, cross 46, state 47, ClOrdID 48, app 62. Firm + BBO weight options.
    check_out(
        &h(&format!(
            "41 {TS_HEX} 00000007 53 000000fa 4d53465420202020 00000000003d0900 30 59 \
             000000003ade68b1 41 4e 4e 4c {CL_HEX} 0009 05024649524d 021231"
        )),
        Outbound::Accepted(AcceptedRepr {
            timestamp: TS,
            user_ref_num: 7,
            side: BuySell::Sell,
            quantity: 250,
            symbol: msft(),
            price: Price4(4_000_000),
            time_in_force: TimeInForce::DAY,
            display: Display::VISIBLE,
            order_ref: 987_654_321,
            capacity: Capacity::AGENCY,
            intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
            cross_type: CrossType::CONTINUOUS,
            state: OrderState::Live,
            cl_ord_id: CL,
            options: Options {
                firm: Some(*b"FIRM"),
                bbo_weight: Some(BboWeight::UNDER_1_PCT),
                ..Options::NONE
            },
        }),
    );
    // §5 U (68+A): orig 9, new 13, side 17, qty 18, symbol 22, price 30, TIF 38, display 39,
    // order ref 40, capacity 48, ISO 49, cross 50, state 51, ClOrdID 52, app 66.
    check_out(
        &h(&format!(
            "55 {TS_HEX} 00000007 00000008 42 0000012c 4d53465420202020 00000000003d0a90 30 4e \
             000000003ade68b2 50 4e 4e 44 {CL_HEX} 0000"
        )),
        Outbound::Replaced(ReplacedRepr {
            timestamp: TS,
            orig_user_ref_num: 7,
            user_ref_num: 8,
            side: BuySell::Buy,
            quantity: 300,
            symbol: msft(),
            price: Price4(4_000_400),
            time_in_force: TimeInForce::DAY,
            display: Display::HIDDEN,
            order_ref: 987_654_322,
            capacity: Capacity::PRINCIPAL,
            intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
            cross_type: CrossType::CONTINUOUS,
            state: OrderState::Dead,
            cl_ord_id: CL,
            options: Options::NONE,
        }),
    );
    // §5 C (18): quantity 13, reason 17.
    check_out(
        &h(&format!("43 {TS_HEX} 00000007 000000fa 55")),
        Outbound::Canceled(CanceledRepr {
            timestamp: TS,
            user_ref_num: 7,
            quantity: 250,
            reason: CancelReason::USER,
        }),
    );
    // §5 D (32): decrement 13, reason 17, prevented 18, price 22, liquidity 30, strategy 31.
    check_out(
        &h(&format!(
            "44 {TS_HEX} 00000007 0000000a 51 0000000b 00000000003d0900 41 4e"
        )),
        Outbound::AiqCanceled(AiqCanceledRepr {
            timestamp: TS,
            user_ref_num: 7,
            decrement_shares: 10,
            reason: CancelReason::SELF_MATCH,
            quantity_prevented: 11,
            execution_price: Price4(4_000_000),
            liquidity_flag: LiquidityFlag::ADDED,
            aiq_strategy: b'N',
        }),
    );
    // §5 E (36+A): qty 13, price 17, liquidity 25, match 26, app 34.
    check_out(
        &h(&format!(
            "45 {TS_HEX} 00000007 00000032 00000000003d0900 52 0102030405060708 0000"
        )),
        Outbound::Executed(ExecutedRepr {
            timestamp: TS,
            user_ref_num: 7,
            quantity: 50,
            price: Price4(4_000_000),
            liquidity_flag: LiquidityFlag::REMOVED,
            match_number: 0x0102_0304_0506_0708,
            options: Options::NONE,
        }),
    );
    // §5 B (36): match 13, reason 21, ClOrdID 22.
    check_out(
        &h(&format!(
            "42 {TS_HEX} 00000007 0102030405060708 53 {CL_HEX}"
        )),
        Outbound::BrokenTrade(BrokenTradeRepr {
            timestamp: TS,
            user_ref_num: 7,
            match_number: 0x0102_0304_0506_0708,
            reason: BrokenTradeReason::SUPERVISORY,
            cl_ord_id: CL,
        }),
    );
    // §5 J (29): reason u16 13, ClOrdID 15.
    check_out(
        &h(&format!("4a {TS_HEX} 00000007 001d {CL_HEX}")),
        Outbound::Rejected(RejectedRepr {
            timestamp: TS,
            user_ref_num: 7,
            reason: RejectReason::INVALID_PRICE,
            cl_ord_id: CL,
        }),
    );
    check_out(
        &h(&format!("50 {TS_HEX} 00000007")),
        Outbound::CancelPending(CancelPendingRepr {
            timestamp: TS,
            user_ref_num: 7,
        }),
    );
    check_out(
        &h(&format!("49 {TS_HEX} 00000007")),
        Outbound::CancelReject(CancelRejectRepr {
            timestamp: TS,
            user_ref_num: 7,
        }),
    );
    // §5 T (30): price 13, display 21, order ref 22.
    check_out(
        &h(&format!(
            "54 {TS_HEX} 00000007 00000000003d0900 59 000000003ade68b3"
        )),
        Outbound::PriorityUpdate(PriorityUpdateRepr {
            timestamp: TS,
            user_ref_num: 7,
            price: Price4(4_000_000),
            display: Display::VISIBLE,
            order_ref: 987_654_323,
        }),
    );
    // §5 M (18): side 13, quantity 14.
    check_out(
        &h(&format!("4d {TS_HEX} 00000007 45 00000064")),
        Outbound::OrderModified(OrderModifiedRepr {
            timestamp: TS,
            user_ref_num: 7,
            side: BuySell::SellShortExempt,
            quantity: 100,
        }),
    );
    // §5 R (16+A): reason 13, app 14; Display Quantity (22) and Display Price (23).
    check_out(
        &h(&format!(
            "52 {TS_HEX} 00000007 52 0010 0516000000c8 091700000000003d0900"
        )),
        Outbound::Restated(RestatedRepr {
            timestamp: TS,
            user_ref_num: 7,
            reason: RestatedReason::DISPLAY_REFRESH,
            options: Options {
                display_quantity: Some(200),
                display_price: Some(Price4(4_000_000)),
                ..Options::NONE
            },
        }),
    );
    // §5 Q (13): next user ref 9.
    check_out(
        &h(&format!("51 {TS_HEX} 0000002a")),
        Outbound::AccountQueryResponse(AccountQueryResponseRepr {
            timestamp: TS,
            next_user_ref_num: 42,
        }),
    );
}

#[test]
fn every_known_option_round_trips_in_tag_order() {
    let o = Options {
        secondary_ord_ref_num: Some(0x1122_3344_5566_7788),
        firm: Some(*b"FIRM"),
        min_qty: Some(100),
        customer_type: Some(CustomerType::RETAIL),
        max_floor: Some(200),
        price_type: Some(PriceType::MIDPOINT_PEG),
        peg_offset: Some(-100),
        discretion_price: Some(Price4(1_000_000)),
        discretion_price_type: Some(PriceType::LIMIT),
        discretion_peg_offset: Some(-1),
        post_only: Some(b'P'),
        random_reserves: Some(300),
        route: Some(*b"ROUT"),
        expire_time: Some(86_399),
        trade_now: Some(b'Y'),
        handle_inst: Some(HandleInst::IMBALANCE_ONLY),
        bbo_weight: Some(BboWeight::SETS_QBBO),
        display_quantity: Some(400),
        display_price: Some(Price4(999)),
        group_id: Some(0xbeef),
        shares_located: Some(b'Y'),
    };
    let want = h("09 01 1122334455667788 \
                  05 02 4649524d \
                  05 03 00000064 \
                  02 04 52 \
                  05 05 000000c8 \
                  02 06 4d \
                  05 07 ffffff9c \
                  09 09 00000000000f4240 \
                  02 0a 4c \
                  05 0b ffffffff \
                  02 0c 50 \
                  05 0d 0000012c \
                  05 0e 524f5554 \
                  05 0f 0001517f \
                  02 10 59 \
                  02 11 49 \
                  02 12 53 \
                  05 16 00000190 \
                  09 17 00000000000003e7 \
                  03 18 beef \
                  02 19 59");
    let mut out = vec![0u8; o.encoded_len()];
    assert_eq!(o.emit(&mut out).unwrap(), want.len());
    assert_eq!(out, want);
    let app = Appendage::new_checked(&want).unwrap();
    assert_eq!(Options::parse(&app).unwrap(), o);
    assert_eq!(app.peg_offset().unwrap(), Some(-100));
    assert_eq!(app.discretion_peg_offset().unwrap(), Some(-1));
    assert_eq!(app.group_id().unwrap(), Some(0xbeef));
    assert_eq!(app.expire_time().unwrap(), Some(86_399));
    assert_eq!(
        app.secondary_ord_ref_num().unwrap(),
        Some(0x1122_3344_5566_7788)
    );
    assert_eq!(app.route().unwrap(), Some(*b"ROUT"));
    assert_eq!(app.shares_located().unwrap(), Some(b'Y'));
    assert_eq!(app.iter().count(), 21);
}

#[test]
fn appendage_errors_and_unknown_tags() {
    // Unknown tag 99 and tag 8 (named in NQ-O5 but not in Appendix B) are skipped.
    let b = h("03 63 abcd 02 08 00 05 02 4649524d");
    let app = Appendage::new_checked(&b).unwrap();
    assert_eq!(app.iter().count(), 3);
    assert_eq!(
        Options::parse(&app).unwrap(),
        Options {
            firm: Some(*b"FIRM"),
            ..Options::NONE
        }
    );
    assert_eq!(app.find(99), Some(&[0xab, 0xcd][..]));
    assert_eq!(app.min_qty().unwrap(), None);
    // First occurrence wins.
    let b = h("05 03 00000001 05 03 00000002");
    let app = Appendage::new_checked(&b).unwrap();
    assert_eq!(app.min_qty().unwrap(), Some(1));
    assert_eq!(Options::parse(&app).unwrap().min_qty, Some(1));
    // An element running past the appendage.
    assert_eq!(
        Appendage::new_checked(&h("05 02 464952")),
        Err(Error::BadLength(
            "appendage element runs past the appendage"
        ))
    );
    assert_eq!(
        Appendage::new_checked(&h("05")),
        Err(Error::BadLength(
            "appendage element runs past the appendage"
        ))
    );
    // A zero length leaves no room for the tag.
    assert_eq!(
        Appendage::new_checked(&h("00")),
        Err(Error::BadLength("appendage element without a tag"))
    );
    // A known tag with a value of the wrong size.
    let b = h("04 02 464952");
    let app = Appendage::new_checked(&b).unwrap();
    assert_eq!(
        app.firm(),
        Err(Error::BadLength("appendage option value size"))
    );
    assert_eq!(
        Options::parse(&app),
        Err(Error::BadLength("appendage option value size"))
    );
    // An x8 price above u32::MAX does not fit Price4.
    let b = h("09 09 0000000100000000");
    let app = Appendage::new_checked(&b).unwrap();
    assert_eq!(app.discretion_price(), Err(Error::OutOfRange("price")));
    // The market sentinel is carried as is.
    let b = h("09 17 000000007fffffff");
    let app = Appendage::new_checked(&b).unwrap();
    assert_eq!(app.display_price().unwrap(), Some(MARKET_PRICE));

    // An Enter Order whose appendage length runs past the message.
    let mut m = vec![0u8; 47];
    enter_section7(Options::NONE).emit(&mut m).unwrap();
    m[46] = 6;
    m.extend_from_slice(&h("05 02 4649"));
    assert_eq!(
        EnterOrder::new_checked(&m[..]).unwrap_err(),
        Error::Truncated { len: 51, need: 53 }
    );
    // An Enter Order whose appendage is malformed.
    m.truncate(47);
    m[46] = 2;
    m.extend_from_slice(&h("05 02"));
    assert!(matches!(
        Inbound::parse(&m),
        Err(Error::BadLength(
            "appendage element runs past the appendage"
        ))
    ));
}

#[test]
fn builder() {
    let mut buf = [0u8; 8];
    let mut b = AppendageBuilder::new(&mut buf);
    assert!(b.is_empty());
    b.firm(*b"FIRM").unwrap();
    assert_eq!(b.len(), 6);
    assert_eq!(
        b.min_qty(5).unwrap_err(),
        Error::BufferTooSmall { need: 12 }
    );
    assert_eq!(b.len(), 6, "a failed append writes nothing");
    let mut big = vec![0u8; 400];
    let mut b = AppendageBuilder::new(&mut big);
    assert_eq!(
        b.raw(200, &[0u8; 255]).unwrap_err(),
        Error::OutOfRange("option value")
    );
    b.raw(200, &[0u8; 254]).unwrap();
    assert_eq!(b.len(), 256);
    assert_eq!(&big[..2], &[255, 200]);
}

#[test]
fn prices() {
    // §5: a price that does not fit u32 is refused, not truncated.
    let mut b = vec![0u8; 36];
    ExecutedRepr {
        timestamp: TS,
        user_ref_num: 1,
        quantity: 1,
        price: MARKET_PRICE,
        liquidity_flag: LiquidityFlag::ADDED,
        match_number: 1,
        options: Options::NONE,
    }
    .emit(&mut b)
    .unwrap();
    assert_eq!(&b[17..25], &h("000000007fffffff")[..]);
    assert_eq!(ExecutedRepr::parse(&b).unwrap().price, MARKET_PRICE);
    b[20] = 1;
    assert_eq!(ExecutedRepr::parse(&b), Err(Error::OutOfRange("price")));
    assert_eq!(
        Executed::new_checked(&b[..]).unwrap_err(),
        Error::OutOfRange("price")
    );
    // u32::MAX itself fits.
    b[17..25].copy_from_slice(&h("00000000ffffffff"));
    assert_eq!(ExecutedRepr::parse(&b).unwrap().price, Price4(u32::MAX));
}

#[test]
fn checked_fields() {
    let mut b = h("4d 00000007 54 00000064");
    b[5] = b'b';
    assert_eq!(
        Inbound::parse(&b),
        Err(Error::BadValue {
            field: "buy/sell indicator",
            value: b'b'
        })
    );
    assert_eq!(Inbound::parse(&h("5a")), Err(Error::UnknownType(b'Z')));
    assert_eq!(
        Outbound::parse(&h("51 00")),
        Err(Error::Truncated { len: 2, need: 13 })
    );
    assert_eq!(RejectReason(0x1d).description(), Some("invalid price"));
    assert_eq!(RejectReason(0x999).description(), None);
    assert_eq!(
        CancelReason(b'e').description(),
        Some("DLCR shares exceeded")
    );
}

macro_rules! round_trips {
    ($($name:ident: $Repr:ident,)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]
            $(
                /// Repr → emit → parse → same Repr.
                #[test]
                fn $name(bytes in $Repr::arb_bytes()) {
                    let repr = $Repr::parse(&bytes).unwrap();
                    let mut out = vec![0u8; repr.buffer_len()];
                    prop_assert_eq!(repr.emit(&mut out).unwrap(), out.len());
                    prop_assert_eq!($Repr::parse(&out).unwrap(), repr);
                    // The fixed part is reproduced byte for byte (the appendage
                    // may shrink: unknown tags and repeats are dropped).
                    let fixed = if $Repr::HAS_APPENDAGE { $Repr::LEN - 2 } else { $Repr::LEN };
                    prop_assert_eq!(&out[..fixed], &bytes[..fixed]);
                    if !$Repr::HAS_APPENDAGE {
                        prop_assert_eq!(&out, &bytes);
                    }
                }
            )*
        }
    };
}

round_trips! {
    rt_enter_order: EnterOrderRepr,
    rt_replace_order: ReplaceOrderRepr,
    rt_cancel_order: CancelOrderRepr,
    rt_modify_order: ModifyOrderRepr,
    rt_account_query: AccountQueryRepr,
    rt_system_event: SystemEventRepr,
    rt_accepted: AcceptedRepr,
    rt_replaced: ReplacedRepr,
    rt_canceled: CanceledRepr,
    rt_aiq_canceled: AiqCanceledRepr,
    rt_executed: ExecutedRepr,
    rt_broken_trade: BrokenTradeRepr,
    rt_rejected: RejectedRepr,
    rt_cancel_pending: CancelPendingRepr,
    rt_cancel_reject: CancelRejectRepr,
    rt_priority_update: PriorityUpdateRepr,
    rt_order_modified: OrderModifiedRepr,
    rt_restated: RestatedRepr,
    rt_account_query_response: AccountQueryResponseRepr,
}

fn decode_all(bytes: &[u8]) {
    if let Ok(m) = Inbound::parse(bytes) {
        let mut out = vec![0u8; m.buffer_len()];
        m.emit(&mut out).unwrap();
        assert_eq!(Inbound::parse(&out).unwrap(), m);
    }
    if let Ok(m) = Outbound::parse(bytes) {
        let mut out = vec![0u8; m.buffer_len()];
        m.emit(&mut out).unwrap();
        assert_eq!(Outbound::parse(&out).unwrap(), m);
    }
    macro_rules! views {
        ($($V:ident),*) => {$(
            if let Ok(v) = $V::new_checked(bytes) {
                assert!(v.as_bytes().len() <= bytes.len());
            }
        )*};
    }
    views!(
        EnterOrder,
        ReplaceOrder,
        CancelOrder,
        ModifyOrder,
        AccountQuery,
        SystemEvent,
        Accepted,
        Replaced,
        Canceled,
        AiqCanceled,
        Executed,
        BrokenTrade,
        Rejected,
        CancelPending,
        CancelReject,
        PriorityUpdate,
        OrderModified,
        Restated,
        AccountQueryResponse
    );
    if let Ok(v) = Accepted::new_checked(bytes) {
        let app = v.appendage();
        assert_eq!(
            app.iter().map(|e| 2 + e.value.len()).sum::<usize>(),
            app.as_bytes().len()
        );
    }
}

fn any_valid_message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        EnterOrderRepr::arb_bytes(),
        ReplaceOrderRepr::arb_bytes(),
        AcceptedRepr::arb_bytes(),
        ReplacedRepr::arb_bytes(),
        ExecutedRepr::arb_bytes(),
        RestatedRepr::arb_bytes(),
        AiqCanceledRepr::arb_bytes(),
        RejectedRepr::arb_bytes(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        decode_all(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(
        bytes in any_valid_message(),
        at in any::<usize>(),
        value: u8,
        cut in any::<usize>(),
    ) {
        let mut b = bytes;
        let i = at % b.len();
        b[i] = value;
        b.truncate(cut % (b.len() + 1));
        decode_all(&b);
    }

    /// The TLV iterator and every typed accessor on arbitrary bytes.
    #[test]
    fn tlv_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(app) = Appendage::new_checked(&bytes) {
            let total: usize = app.iter().map(|e| 2 + e.value.len()).sum();
            prop_assert_eq!(total, bytes.len());
            let _ = Options::parse(&app);
            let _ = (app.firm(), app.min_qty(), app.peg_offset(), app.discretion_price(),
                     app.display_price(), app.group_id(), app.expire_time(), app.route());
        }
        // Even unvalidated bytes iterate without panicking.
        let n = Appendage::validated(&bytes).iter().count();
        prop_assert!(n <= bytes.len());
    }

    /// Options → emit → parse → same Options.
    #[test]
    fn options_round_trip(bytes in arb_appendage()) {
        let app = Appendage::new_checked(&bytes).unwrap();
        let o = Options::parse(&app).unwrap();
        let mut out = vec![0u8; o.encoded_len()];
        prop_assert_eq!(o.emit(&mut out).unwrap(), out.len());
        let again = Appendage::new_checked(&out).unwrap();
        prop_assert_eq!(Options::parse(&again).unwrap(), o);
    }
}
