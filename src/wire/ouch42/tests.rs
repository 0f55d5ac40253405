//! OUCH 4.2 golden bytes (PROTOCOLS.md §4 offsets, §7 vector), round trips,
//! checked fields and "arbitrary bytes never panic".

use super::*;
use crate::wire::Error;
use proptest::prelude::*;

/// Hex pieces, whitespace ignored.
fn h(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(s).unwrap()
}

/// 34,200,000,000,123 ns = 09:30:00.000000123.
const TS_HEX: &str = "00001f1aced9f07b";
const TS: u64 = 34_200_000_000_123;
/// "ABC00000000001".
const TOK_HEX: &str = "4142433030303030303030303031";
const TOK: Token = *b"ABC00000000001";
/// "ABC00000000002".
const TOK2_HEX: &str = "4142433030303030303030303032";
const TOK2: Token = *b"ABC00000000002";

fn aapl() -> Symbol {
    Symbol(*b"AAPL    ")
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

/// §7: the OUCH 4.2 Enter Order vector, exactly.
#[test]
fn golden_enter_order_section7() {
    let b = h(
        "4f 4142433030303030303030303031 42 00000064 4141504c20202020 0012d644 \
               0001869e 4649524d 59 41 4e 00000000 4e 52",
    );
    assert_eq!(b.len(), 49);
    let want = EnterOrderRepr {
        token: TOK,
        side: BuySell::Buy,
        shares: 100,
        stock: aapl(),
        price: Price4(1_234_500),
        time_in_force: TIF_MARKET_HOURS,
        firm: *b"FIRM",
        display: Display::ANONYMOUS,
        capacity: Capacity::AGENCY,
        intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
        min_qty: 0,
        cross_type: CrossType::NO_CROSS,
        customer_type: CustomerType::RETAIL,
    };
    check_in(&b, Inbound::EnterOrder(want));
    let v = EnterOrder::new_checked(&b[..]).unwrap();
    assert_eq!(v.token(), TOK);
    assert_eq!(v.side().side(), crate::types::Side::Buy);
    assert_eq!(v.price(), Price4(1_234_500));
    assert_eq!(v.time_in_force(), 99_998);
    assert_eq!(v.stock().as_str(), "AAPL");
}

#[test]
fn golden_inbound() {
    // §4 U: existing 1, replacement 15, shares 29, price 33, TIF 37, display 41, ISO 42, min qty 43.
    check_in(
        &h(&format!(
            "55 {TOK_HEX} {TOK2_HEX} 000000c8 0012d6a8 00000000 4e 59 00000064"
        )),
        Inbound::ReplaceOrder(ReplaceOrderRepr {
            existing_token: TOK,
            replacement_token: TOK2,
            shares: 200,
            price: Price4(1_234_600),
            time_in_force: TIF_IOC,
            display: Display::NON_DISPLAY,
            intermarket_sweep: IntermarketSweep::ELIGIBLE,
            min_qty: 100,
        }),
    );
    // §4 X: token 1, shares 15.
    check_in(
        &h(&format!("58 {TOK_HEX} 00000000")),
        Inbound::CancelOrder(CancelOrderRepr {
            token: TOK,
            shares: 0,
        }),
    );
    // §4 M: token 1, buy/sell 15, shares 16.
    check_in(
        &h(&format!("4d {TOK_HEX} 54 00000032")),
        Inbound::ModifyOrder(ModifyOrderRepr {
            token: TOK,
            side: BuySell::SellShort,
            shares: 50,
        }),
    );
    // §4 N: token 1.
    check_in(
        &h(&format!("4e {TOK_HEX}")),
        Inbound::TradeNow(TradeNowRepr { token: TOK }),
    );
}

#[test]
fn golden_outbound() {
    check_out(
        &h(&format!("53 {TS_HEX} 53")),
        Outbound::SystemEvent(SystemEventRepr {
            timestamp: TS,
            event_code: EventCode::START_OF_DAY,
        }),
    );
    // §4 A (66): side 23, shares 24, stock 28, price 36, TIF 40, firm 44, display 48,
    // order ref 49, capacity 57, ISO 58, min qty 59, cross 63, state 64, BBO 65.
    let accepted = AcceptedRepr {
        timestamp: TS,
        token: TOK,
        side: BuySell::Sell,
        shares: 100,
        stock: aapl(),
        price: Price4(1_234_500),
        time_in_force: TIF_MARKET_HOURS,
        firm: *b"FIRM",
        display: Display::ANONYMOUS,
        order_ref: 987_654_321,
        capacity: Capacity::AGENCY,
        intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
        min_qty: 0,
        cross_type: CrossType::NO_CROSS,
        state: OrderState::Live,
        bbo_weight: BboWeight::UNSPECIFIED,
    };
    check_out(
        &h(&format!(
            "41 {TS_HEX} {TOK_HEX} 53 00000064 4141504c20202020 0012d644 0001869e 4649524d 59 \
             000000003ade68b1 41 4e 00000000 4e 4c 20"
        )),
        Outbound::Accepted(accepted),
    );
    // §4 U (80): replacement token @9, fields as A to 64, previous token 65, BBO 79.
    check_out(
        &h(&format!(
            "55 {TS_HEX} {TOK2_HEX} 42 000000c8 4141504c20202020 0012d6a8 0001869e 4649524d 59 \
             000000003ade68b2 41 4e 00000000 4e 44 {TOK_HEX} 31"
        )),
        Outbound::Replaced(ReplacedRepr {
            timestamp: TS,
            replacement_token: TOK2,
            side: BuySell::Buy,
            shares: 200,
            stock: aapl(),
            price: Price4(1_234_600),
            time_in_force: TIF_MARKET_HOURS,
            firm: *b"FIRM",
            display: Display::ANONYMOUS,
            order_ref: 987_654_322,
            capacity: Capacity::AGENCY,
            intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
            min_qty: 0,
            cross_type: CrossType::NO_CROSS,
            state: OrderState::Dead,
            previous_token: TOK,
            bbo_weight: BboWeight::UNDER_1_PCT,
        }),
    );
    // §4 C (28): decrement 23, reason 27.
    check_out(
        &h(&format!("43 {TS_HEX} {TOK_HEX} 00000064 55")),
        Outbound::Canceled(CanceledRepr {
            timestamp: TS,
            token: TOK,
            decrement_shares: 100,
            reason: CancelReason::USER,
        }),
    );
    // §4 D (37): decrement 23, reason 27, prevented 28, price 32, liquidity 36.
    check_out(
        &h(&format!(
            "44 {TS_HEX} {TOK_HEX} 0000000a 51 0000000b 0012d644 41"
        )),
        Outbound::AiqCanceled(AiqCanceledRepr {
            timestamp: TS,
            token: TOK,
            decrement_shares: 10,
            reason: CancelReason::SELF_MATCH,
            quantity_prevented: 11,
            execution_price: Price4(1_234_500),
            liquidity_flag: LiquidityFlag::ADDED,
        }),
    );
    // §4 E (40): shares 23, price 27, liquidity 31, match 32.
    let executed = ExecutedRepr {
        timestamp: TS,
        token: TOK,
        executed_shares: 40,
        execution_price: Price4(1_234_500),
        liquidity_flag: LiquidityFlag::REMOVED,
        match_number: 0x0102_0304_0506_0708,
    };
    check_out(
        &h(&format!(
            "45 {TS_HEX} {TOK_HEX} 00000028 0012d644 52 0102030405060708"
        )),
        Outbound::Executed(executed),
    );
    // §4 G (45) = E + reference price 40 + reference price type 44.
    check_out(
        &h(&format!(
            "47 {TS_HEX} {TOK_HEX} 00000028 0012d644 52 0102030405060708 0012d650 49"
        )),
        Outbound::ExecutedWithReferencePrice(ExecutedWithReferencePriceRepr {
            timestamp: TS,
            token: TOK,
            executed_shares: 40,
            execution_price: Price4(1_234_500),
            liquidity_flag: LiquidityFlag::REMOVED,
            match_number: 0x0102_0304_0506_0708,
            reference_price: Price4(1_234_512),
            reference_price_type: ReferencePriceType::INTRADAY_INDICATIVE_VALUE,
        }),
    );
    // §4 F (41) = E + reason 40.
    check_out(
        &h(&format!(
            "46 {TS_HEX} {TOK_HEX} 00000028 0012d644 52 0102030405060708 4e"
        )),
        Outbound::TradeCorrection(TradeCorrectionRepr {
            timestamp: TS,
            token: TOK,
            executed_shares: 40,
            execution_price: Price4(1_234_500),
            liquidity_flag: LiquidityFlag::REMOVED,
            match_number: 0x0102_0304_0506_0708,
            reason: TradeCorrectionReason::ADJUSTED_TO_NAV,
        }),
    );
    // §4 B (32): match 23, reason 31.
    check_out(
        &h(&format!("42 {TS_HEX} {TOK_HEX} 0102030405060708 45")),
        Outbound::BrokenTrade(BrokenTradeRepr {
            timestamp: TS,
            token: TOK,
            match_number: 0x0102_0304_0506_0708,
            reason: BrokenTradeReason::ERRONEOUS,
        }),
    );
    // §4 J (24): reason 23.
    check_out(
        &h(&format!("4a {TS_HEX} {TOK_HEX} 48")),
        Outbound::Rejected(RejectedRepr {
            timestamp: TS,
            token: TOK,
            reason: RejectReason::HALTED,
        }),
    );
    check_out(
        &h(&format!("50 {TS_HEX} {TOK_HEX}")),
        Outbound::CancelPending(CancelPendingRepr {
            timestamp: TS,
            token: TOK,
        }),
    );
    check_out(
        &h(&format!("49 {TS_HEX} {TOK_HEX}")),
        Outbound::CancelReject(CancelRejectRepr {
            timestamp: TS,
            token: TOK,
        }),
    );
    // §4 T (36): price 23, display 27, order ref 28.
    check_out(
        &h(&format!(
            "54 {TS_HEX} {TOK_HEX} 0012d644 59 000000003ade68b3"
        )),
        Outbound::PriorityUpdate(PriorityUpdateRepr {
            timestamp: TS,
            token: TOK,
            price: Price4(1_234_500),
            display: Display::ANONYMOUS,
            order_ref: 987_654_323,
        }),
    );
    // §4 M (28): buy/sell 23, shares 24.
    check_out(
        &h(&format!("4d {TS_HEX} {TOK_HEX} 45 00000019")),
        Outbound::OrderModified(OrderModifiedRepr {
            timestamp: TS,
            token: TOK,
            side: BuySell::SellShortExempt,
            shares: 25,
        }),
    );
    check_out(
        &h(&format!("4e {TS_HEX} {TOK_HEX}")),
        Outbound::TradeNowAck(TradeNowAckRepr {
            timestamp: TS,
            token: TOK,
        }),
    );
}

#[test]
fn checked_fields_and_lengths() {
    let mut b = h(&format!(
        "45 {TS_HEX} {TOK_HEX} 00000028 0012d644 52 0102030405060708"
    ));
    assert_eq!(
        Executed::new_checked(&b[..39]).unwrap_err(),
        Error::Truncated { len: 39, need: 40 }
    );
    // Later editions may append fields: bytes after the layout are ignored.
    b.push(0xee);
    assert_eq!(ExecutedRepr::parse(&b).unwrap().executed_shares, 40);
    assert_eq!(
        Accepted::new_checked(&b[..]).unwrap_err(),
        Error::Truncated { len: 41, need: 66 }
    );
    b[0] = b'Z';
    assert_eq!(Outbound::parse(&b), Err(Error::UnknownType(b'Z')));
    assert_eq!(
        Executed::new_checked(&b[..]).unwrap_err(),
        Error::UnknownType(b'Z')
    );
    assert_eq!(
        Outbound::parse(&[]),
        Err(Error::Truncated { len: 0, need: 1 })
    );
    // Direction matters: X is inbound only.
    assert_eq!(
        Outbound::parse(&h(&format!("58 {TOK_HEX} 00000000"))),
        Err(Error::UnknownType(b'X'))
    );

    // Side is checked: B, S, T, E only.
    let mut m = h(&format!("4d {TOK_HEX} 54 00000032"));
    m[15] = b'X';
    assert_eq!(
        Inbound::parse(&m),
        Err(Error::BadValue {
            field: "buy/sell indicator",
            value: b'X'
        })
    );
    // Order State is checked: L or D.
    let mut a = vec![0u8; 66];
    AcceptedRepr::parse(&{
        let mut ok = vec![0u8; 66];
        ok[0] = b'A';
        ok[23] = b'B';
        ok[64] = b'L';
        ok
    })
    .unwrap()
    .emit(&mut a)
    .unwrap();
    a[64] = b'?';
    assert_eq!(
        AcceptedRepr::parse(&a),
        Err(Error::BadValue {
            field: "order state",
            value: b'?'
        })
    );
    // Open enumerations keep unknown bytes.
    a[64] = b'L';
    a[48] = b'~';
    a[57] = b'~';
    let r = AcceptedRepr::parse(&a).unwrap();
    assert_eq!((r.display, r.capacity), (Display(b'~'), Capacity(b'~')));
    assert!(!r.display.is_known());
    assert_eq!(
        Display(b'Y').description(),
        Some("anonymous-price to comply")
    );
    assert_eq!(CancelReason(b'#').description(), None);

    // Emit into a short buffer.
    let mut short = [0u8; 10];
    assert_eq!(r.emit(&mut short), Err(Error::BufferTooSmall { need: 66 }));
}

#[test]
fn view_setters_write_in_place() {
    let mut b = vec![0u8; 40];
    ExecutedRepr {
        timestamp: 1,
        token: TOK,
        executed_shares: 1,
        execution_price: Price4(1),
        liquidity_flag: LiquidityFlag::ADDED,
        match_number: 1,
    }
    .emit(&mut b)
    .unwrap();
    let mut v = Executed::new_checked(&mut b[..]).unwrap();
    v.set_executed_shares(77);
    v.set_execution_price(Price4(5));
    v.set_token(TOK2);
    assert_eq!(v.executed_shares(), 77);
    assert_eq!(&b[23..27], &[0, 0, 0, 77]);
    assert_eq!(&b[27..31], &[0, 0, 0, 5]);
    assert_eq!(&b[9..23], &TOK2);
}

macro_rules! round_trips {
    ($($name:ident: $Repr:ident,)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]
            $(
                /// Repr → emit → parse → same Repr (and the same bytes).
                #[test]
                fn $name(bytes in $Repr::arb_bytes()) {
                    let repr = $Repr::parse(&bytes).unwrap();
                    let mut out = vec![0u8; repr.buffer_len()];
                    prop_assert_eq!(repr.emit(&mut out).unwrap(), out.len());
                    prop_assert_eq!(&out, &bytes);
                    prop_assert_eq!($Repr::parse(&out).unwrap(), repr);
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
    rt_trade_now: TradeNowRepr,
    rt_system_event: SystemEventRepr,
    rt_accepted: AcceptedRepr,
    rt_replaced: ReplacedRepr,
    rt_canceled: CanceledRepr,
    rt_aiq_canceled: AiqCanceledRepr,
    rt_executed: ExecutedRepr,
    rt_executed_ref: ExecutedWithReferencePriceRepr,
    rt_trade_correction: TradeCorrectionRepr,
    rt_broken_trade: BrokenTradeRepr,
    rt_rejected: RejectedRepr,
    rt_cancel_pending: CancelPendingRepr,
    rt_cancel_reject: CancelRejectRepr,
    rt_priority_update: PriorityUpdateRepr,
    rt_order_modified: OrderModifiedRepr,
    rt_trade_now_ack: TradeNowAckRepr,
}

/// Every decoder of this module on `bytes`; whatever parses must re-emit.
fn decode_all(bytes: &[u8]) {
    fn again(m: &impl Fn(&mut [u8]) -> crate::wire::Result<usize>, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        m(&mut out).unwrap();
        out
    }
    if let Ok(m) = Inbound::parse(bytes) {
        let out = again(&|o| m.emit(o), m.buffer_len());
        assert_eq!(Inbound::parse(&out).unwrap(), m);
        assert_eq!(&out[..], &bytes[..out.len()]);
    }
    if let Ok(m) = Outbound::parse(bytes) {
        let out = again(&|o| m.emit(o), m.buffer_len());
        assert_eq!(Outbound::parse(&out).unwrap(), m);
        assert_eq!(&out[..], &bytes[..out.len()]);
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
        TradeNow,
        SystemEvent,
        Accepted,
        Replaced,
        Canceled,
        AiqCanceled,
        Executed,
        ExecutedWithReferencePrice,
        TradeCorrection,
        BrokenTrade,
        Rejected,
        CancelPending,
        CancelReject,
        PriorityUpdate,
        OrderModified,
        TradeNowAck
    );
}

fn any_valid_message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        EnterOrderRepr::arb_bytes(),
        ReplaceOrderRepr::arb_bytes(),
        CancelOrderRepr::arb_bytes(),
        ModifyOrderRepr::arb_bytes(),
        AcceptedRepr::arb_bytes(),
        ReplacedRepr::arb_bytes(),
        ExecutedRepr::arb_bytes(),
        AiqCanceledRepr::arb_bytes(),
        OrderModifiedRepr::arb_bytes(),
        PriorityUpdateRepr::arb_bytes(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        decode_all(&bytes);
    }

    /// Valid messages with a type byte from the alphabet, one byte changed and
    /// cut at any length: still no panic.
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
}
