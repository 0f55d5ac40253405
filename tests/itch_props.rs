//! Property tests of the ITCH 5.0 codec (PROTOCOLS.md §1): every `Repr`
//! round-trips through `emit` and `parse` unchanged, and no byte string makes
//! a decoder, a view's `new_checked` or any getter panic.

use floe::types::{Price4, Qty, Side, Symbol};
use floe::wire::itch::*;
use floe::wire::Error;
use proptest::prelude::*;

fn header() -> impl Strategy<Value = Header> {
    (any::<u16>(), any::<u16>(), 0..=MAX_TIMESTAMP).prop_map(|(locate, tracking, timestamp)| {
        Header {
            locate,
            tracking,
            timestamp,
        }
    })
}

fn sym() -> impl Strategy<Value = Symbol> {
    any::<[u8; 8]>().prop_map(Symbol)
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Buy), Just(Side::Sell)]
}

fn px() -> impl Strategy<Value = Price4> {
    any::<u32>().prop_map(Price4)
}

fn qty() -> impl Strategy<Value = Qty> {
    any::<u32>().prop_map(Qty)
}

/// Any message of any type, every field over its full range (code bytes are
/// open enumerations, so any byte is valid; only the side is checked).
fn message() -> impl Strategy<Value = Message> {
    let h = header;
    let u8s = any::<u8>;
    prop_oneof![
        (h(), u8s()).prop_map(|(header, event_code)| SystemEvent { header, event_code }.into()),
        (
            (h(), sym(), u8s(), u8s(), any::<u32>(), u8s(), u8s()),
            (
                any::<[u8; 2]>(),
                u8s(),
                u8s(),
                u8s(),
                u8s(),
                u8s(),
                any::<u32>(),
                u8s()
            )
        )
            .prop_map(
                |(
                    (header, stock, mc, fs, rl, rlo, ic),
                    (ist, au, sst, ipo, tier, etp, lev, inv),
                )| {
                    StockDirectory {
                        header,
                        stock,
                        market_category: mc,
                        financial_status: fs,
                        round_lot_size: rl,
                        round_lots_only: rlo,
                        issue_classification: ic,
                        issue_sub_type: ist,
                        authenticity: au,
                        short_sale_threshold: sst,
                        ipo_flag: ipo,
                        luld_tier: tier,
                        etp_flag: etp,
                        etp_leverage_factor: lev,
                        inverse_indicator: inv,
                    }
                    .into()
                }
            ),
        (h(), sym(), u8s(), u8s(), any::<[u8; 4]>()).prop_map(|(header, stock, ts, r, reason)| {
            TradingAction {
                header,
                stock,
                trading_state: ts,
                reserved: r,
                reason,
            }
            .into()
        }),
        (h(), sym(), u8s()).prop_map(|(header, stock, a)| RegSho {
            header,
            stock,
            reg_sho_action: a
        }
        .into()),
        (h(), any::<[u8; 4]>(), sym(), u8s(), u8s(), u8s()).prop_map(
            |(header, mpid, stock, p, m, s)| MarketParticipantPosition {
                header,
                mpid,
                stock,
                primary_market_maker: p,
                market_maker_mode: m,
                participant_state: s,
            }
            .into()
        ),
        (h(), any::<u64>(), any::<u64>(), any::<u64>()).prop_map(
            |(header, level1, level2, level3)| {
                MwcbDeclineLevel {
                    header,
                    level1,
                    level2,
                    level3,
                }
                .into()
            }
        ),
        (h(), u8s()).prop_map(|(header, b)| MwcbStatus {
            header,
            breached_level: b
        }
        .into()),
        (h(), sym(), any::<u32>(), u8s(), px()).prop_map(|(header, stock, t, q, p)| {
            IpoQuotingPeriod {
                header,
                stock,
                release_time: t,
                release_qualifier: q,
                ipo_price: p,
            }
            .into()
        }),
        (h(), sym(), px(), px(), px(), any::<u32>()).prop_map(|(header, stock, r, u, l, e)| {
            LuldAuctionCollar {
                header,
                stock,
                reference_price: r,
                upper_price: u,
                lower_price: l,
                extension: e,
            }
            .into()
        }),
        (h(), sym(), u8s(), u8s()).prop_map(|(header, stock, m, a)| {
            OperationalHalt {
                header,
                stock,
                market_code: m,
                halt_action: a,
            }
            .into()
        }),
        (h(), any::<u64>(), side(), qty(), sym(), px()).prop_map(
            |(header, order_ref, side, shares, stock, price)| {
                AddOrder {
                    header,
                    order_ref,
                    side,
                    shares,
                    stock,
                    price,
                }
                .into()
            }
        ),
        (
            h(),
            any::<u64>(),
            side(),
            qty(),
            sym(),
            px(),
            any::<[u8; 4]>()
        )
            .prop_map(
                |(header, order_ref, side, shares, stock, price, attribution)| {
                    AddOrderMpid {
                        header,
                        order_ref,
                        side,
                        shares,
                        stock,
                        price,
                        attribution,
                    }
                    .into()
                }
            ),
        (h(), any::<u64>(), qty(), any::<u64>()).prop_map(|(header, o, e, m)| {
            OrderExecuted {
                header,
                order_ref: o,
                executed_shares: e,
                match_number: m,
            }
            .into()
        }),
        (h(), any::<u64>(), qty(), any::<u64>(), u8s(), px()).prop_map(
            |(header, o, e, m, pr, p)| OrderExecutedWithPrice {
                header,
                order_ref: o,
                executed_shares: e,
                match_number: m,
                printable: pr,
                execution_price: p,
            }
            .into()
        ),
        (h(), any::<u64>(), qty()).prop_map(|(header, o, c)| {
            OrderCancel {
                header,
                order_ref: o,
                canceled_shares: c,
            }
            .into()
        }),
        (h(), any::<u64>()).prop_map(|(header, o)| OrderDelete {
            header,
            order_ref: o
        }
        .into()),
        (h(), any::<u64>(), any::<u64>(), qty(), px()).prop_map(|(header, o, n, s, p)| {
            OrderReplace {
                header,
                original_order_ref: o,
                new_order_ref: n,
                shares: s,
                price: p,
            }
            .into()
        }),
        (h(), any::<u64>(), side(), qty(), sym(), px(), any::<u64>()).prop_map(
            |(header, order_ref, side, shares, stock, price, match_number)| {
                Trade {
                    header,
                    order_ref,
                    side,
                    shares,
                    stock,
                    price,
                    match_number,
                }
                .into()
            }
        ),
        (h(), any::<u64>(), sym(), px(), any::<u64>(), u8s()).prop_map(
            |(header, shares, stock, p, m, c)| CrossTrade {
                header,
                shares,
                stock,
                cross_price: p,
                match_number: m,
                cross_type: c,
            }
            .into()
        ),
        (h(), any::<u64>()).prop_map(|(header, m)| BrokenTrade {
            header,
            match_number: m
        }
        .into()),
        (
            h(),
            any::<u64>(),
            any::<u64>(),
            u8s(),
            sym(),
            px(),
            px(),
            px(),
            u8s(),
            u8s()
        )
            .prop_map(|(header, p, i, d, stock, f, n, r, c, v)| Noii {
                header,
                paired_shares: p,
                imbalance_shares: i,
                imbalance_direction: d,
                stock,
                far_price: f,
                near_price: n,
                current_reference_price: r,
                cross_type: c,
                price_variation_indicator: v,
            }
            .into()),
        (h(), sym(), u8s()).prop_map(|(header, stock, f)| Rpii {
            header,
            stock,
            interest_flag: f
        }
        .into()),
        (
            h(),
            sym(),
            u8s(),
            px(),
            px(),
            px(),
            any::<u64>(),
            px(),
            px()
        )
            .prop_map(|(header, stock, oe, mn, mx, np, nt, lo, up)| Dlcr {
                header,
                stock,
                open_eligibility: oe,
                min_allowable_price: mn,
                max_allowable_price: mx,
                near_execution_price: np,
                near_execution_time: nt,
                lower_price_range_collar: lo,
                upper_price_range_collar: up,
            }
            .into()),
    ]
}

/// Calls every getter of every view on `bytes` when `new_checked` accepts it.
fn exercise_views(b: &[u8]) {
    macro_rules! all {
        ($($View:ident { $($get:ident),* })*) => {$(
            if let Ok(v) = $View::new_checked(b) {
                let _ = v.header();
                $( let _ = v.$get(); )*
            }
        )*};
    }
    all! {
        SystemEventView { event_code }
        StockDirectoryView { stock, stock_str, market_category, financial_status, round_lot_size,
            round_lots_only, issue_classification, issue_sub_type, issue_sub_type_str,
            authenticity, short_sale_threshold, ipo_flag, luld_tier, etp_flag,
            etp_leverage_factor, inverse_indicator }
        TradingActionView { stock, stock_str, trading_state, reserved, reason, reason_str }
        RegShoView { stock, stock_str, reg_sho_action }
        MarketParticipantPositionView { mpid, mpid_str, stock, stock_str, primary_market_maker,
            market_maker_mode, participant_state }
        MwcbDeclineLevelView { level1, level2, level3 }
        MwcbStatusView { breached_level }
        IpoQuotingPeriodView { stock, stock_str, release_time, release_qualifier, ipo_price }
        LuldAuctionCollarView { stock, stock_str, reference_price, upper_price, lower_price,
            extension }
        OperationalHaltView { stock, stock_str, market_code, halt_action }
        AddOrderView { order_ref, side, shares, stock, stock_str, price }
        AddOrderMpidView { order_ref, side, shares, stock, stock_str, price, attribution,
            attribution_str }
        OrderExecutedView { order_ref, executed_shares, match_number }
        OrderExecutedWithPriceView { order_ref, executed_shares, match_number, printable,
            execution_price }
        OrderCancelView { order_ref, canceled_shares }
        OrderDeleteView { order_ref }
        OrderReplaceView { original_order_ref, new_order_ref, shares, price }
        TradeView { order_ref, side, shares, stock, stock_str, price, match_number }
        CrossTradeView { shares, stock, stock_str, cross_price, match_number, cross_type }
        BrokenTradeView { match_number }
        NoiiView { paired_shares, imbalance_shares, imbalance_direction, stock, stock_str,
            far_price, near_price, current_reference_price, cross_type,
            price_variation_indicator }
        RpiiView { stock, stock_str, interest_flag }
        DlcrView { stock, stock_str, open_eligibility, min_allowable_price, max_allowable_price,
            near_execution_price, near_execution_time, lower_price_range_collar,
            upper_price_range_collar }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn repr_emit_parse_round_trip(m in message()) {
        let mut buf = [0u8; MAX_MESSAGE_LEN + 8];
        let n = m.emit(&mut buf).unwrap();
        prop_assert_eq!(n, m.encoded_len());
        prop_assert_eq!(Some(n), message_len(m.msg_type()));
        prop_assert_eq!(buf[0], m.msg_type());
        prop_assert_eq!(Message::parse(&buf[..n]), Ok(m));
        // The framed record reads back the same way.
        let mut rec = [0u8; MAX_MESSAGE_LEN + 2];
        let r = emit_record(&m, &mut rec).unwrap();
        let back: Vec<_> = BinaryFileRecords::new(&rec[..r]).collect();
        prop_assert_eq!(back, vec![Ok(&buf[..n])]);
        // A short output buffer is refused without writing.
        let mut short = [0x55u8; MAX_MESSAGE_LEN];
        prop_assert_eq!(m.emit(&mut short[..n - 1]), Err(Error::BufferTooSmall { need: n }));
        prop_assert!(short.iter().all(|&b| b == 0x55));
    }

    #[test]
    fn bytes_parse_emit_round_trip(t in prop::sample::select(MESSAGE_TYPES), body in prop::collection::vec(any::<u8>(), 49)) {
        // Any body of a known type decodes (unless its side is bad) and
        // re-encodes to exactly the same bytes.
        let len = message_len(t).unwrap();
        let mut b = vec![t];
        b.extend_from_slice(&body[..len - 1]);
        match Message::parse(&b) {
            Ok(m) => {
                let mut out = [0u8; MAX_MESSAGE_LEN];
                let n = m.emit(&mut out).unwrap();
                prop_assert_eq!(&out[..n], &b[..]);
            }
            Err(e) => {
                prop_assert!(matches!(t, b'A' | b'F' | b'P'), "type {} failed: {:?}", t as char, e);
                prop_assert_eq!(e, Error::BadValue { field: "side", value: b[19] });
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..64)) {
        match Message::parse(&b) {
            Ok(m) => prop_assert!(b.len() >= m.encoded_len()),
            Err(Error::UnknownType(t)) => prop_assert_eq!(message_len(t), None),
            Err(Error::Truncated { len, need }) => {
                prop_assert_eq!(len, b.len());
                prop_assert!(need > len);
            }
            Err(Error::BadValue { field: "side", .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {:?}", e),
        }
        exercise_views(&b);
        for m in BinaryFileRecords::new(&b).flatten() {
            let _ = Message::parse(m);
        }
    }

    #[test]
    fn known_type_with_arbitrary_tail_never_panics(t in prop::sample::select(MESSAGE_TYPES), tail in prop::collection::vec(any::<u8>(), 0..60)) {
        let mut b = vec![t];
        b.extend_from_slice(&tail);
        let _ = Message::parse(&b);
        exercise_views(&b);
    }
}
