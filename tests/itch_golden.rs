//! Golden bytes for every ITCH 5.0 message type, hand-built from the offsets
//! of PROTOCOLS.md §1 (the `A` vector is the one of §7): each must decode to
//! exactly the listed fields, re-encode to exactly the same bytes, and be
//! refused when one byte short.

use floe::types::{Price4, Qty, Side, Symbol};
use floe::wire::itch::*;
use floe::wire::Error;

fn hex(s: &str) -> Vec<u8> {
    let clean: String = s.split_whitespace().collect();
    hex::decode(clean).expect("valid hex in a golden vector")
}

fn sym(s: &str) -> Symbol {
    Symbol::new(s).expect("valid symbol")
}

const TS: u64 = 34_200_000_000_123; // 09:30:00.000000123 = 0x1f1aced9f07b

fn hdr(locate: u16, tracking: u16) -> Header {
    Header {
        locate,
        tracking,
        timestamp: TS,
    }
}

/// Decodes, re-encodes and truncates one golden vector.
fn golden(hex_bytes: &str, expected: Message) {
    let bytes = hex(hex_bytes);
    let t = bytes[0];
    assert_eq!(
        message_len(t),
        Some(bytes.len()),
        "message_len of {:?}",
        t as char
    );
    assert_eq!(expected.encoded_len(), bytes.len());
    assert_eq!(expected.msg_type(), t);
    assert_eq!(
        Message::parse(&bytes),
        Ok(expected),
        "decode {:?}",
        t as char
    );
    let mut out = [0xAAu8; 64];
    assert_eq!(expected.emit(&mut out), Ok(bytes.len()));
    assert_eq!(&out[..bytes.len()], &bytes[..], "encode {:?}", t as char);
    assert_eq!(out[bytes.len()], 0xAA, "emit wrote past the message");
    assert_eq!(
        Message::parse(&bytes[..bytes.len() - 1]),
        Err(Error::Truncated {
            len: bytes.len() - 1,
            need: bytes.len()
        })
    );
    assert_eq!(
        expected.emit(&mut out[..bytes.len() - 1]),
        Err(Error::BufferTooSmall { need: bytes.len() })
    );
    // Longer input (a later edition appending fields) is accepted.
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"extra");
    assert_eq!(Message::parse(&longer), Ok(expected));
}

#[test]
fn add_order_vector_of_section_7() {
    let v = "41 002a 0003 1f1aced9f07b 000000003ade68b1 42 00000064 4141504c20202020 0012d644";
    let expected = AddOrder {
        header: Header {
            locate: 42,
            tracking: 3,
            timestamp: 34_200_000_000_123,
        },
        order_ref: 987_654_321,
        side: Side::Buy,
        shares: Qty(100),
        stock: sym("AAPL"),
        price: Price4(1_234_500),
    };
    golden(v, Message::AddOrder(expected));
    let bytes = hex(v);
    let m = AddOrder::parse(&bytes).unwrap();
    assert_eq!(m.stock_str(), Ok("AAPL"));
    assert_eq!(m.price.to_string(), "123.4500");
    let view = AddOrderView::new_checked(&bytes[..]).unwrap();
    assert_eq!(view.header(), expected.header);
    assert_eq!(view.order_ref(), 987_654_321);
    assert_eq!(view.side(), Ok(Side::Buy));
    assert_eq!(view.shares(), Qty(100));
    assert_eq!(view.stock(), sym("AAPL"));
    assert_eq!(view.stock_str(), Ok("AAPL"));
    assert_eq!(view.price(), Price4(1_234_500));
    assert_eq!(AddOrder::from_view(&view), Ok(expected));
}

#[test]
fn system_event() {
    golden(
        "53 0000 0007 1f1aced9f07b 4f",
        Message::SystemEvent(SystemEvent {
            header: hdr(0, 7),
            event_code: event_code::START_OF_MESSAGES,
        }),
    );
}

#[test]
fn stock_directory() {
    let v = "52 0001 0000 1f1aced9f07b 4141504c20202020 51 4e 00000064 4e 43 4320 50 4e 4e 31 4e 00000000 4e";
    let m = StockDirectory {
        header: hdr(1, 0),
        stock: sym("AAPL"),
        market_category: market_category::NASDAQ_GLOBAL_SELECT,
        financial_status: financial_status::NORMAL,
        round_lot_size: 100,
        round_lots_only: flag::NO,
        issue_classification: b'C',
        issue_sub_type: *b"C ",
        authenticity: authenticity::PRODUCTION,
        short_sale_threshold: flag::NO,
        ipo_flag: flag::NO,
        luld_tier: luld_tier::TIER_1,
        etp_flag: flag::NO,
        etp_leverage_factor: 0,
        inverse_indicator: flag::NO,
    };
    golden(v, Message::StockDirectory(m));
    assert_eq!(m.issue_sub_type_str(), Ok("C"));
}

#[test]
fn trading_action() {
    let m = TradingAction {
        header: hdr(42, 2),
        stock: sym("AAPL"),
        trading_state: trading_state::HALTED,
        reserved: b' ',
        reason: *b"LUDP",
    };
    golden(
        "48 002a 0002 1f1aced9f07b 4141504c20202020 48 20 4c554450",
        Message::TradingAction(m),
    );
    assert_eq!(m.reason_str(), Ok("LUDP"));
}

#[test]
fn reg_sho() {
    golden(
        "59 002a 0000 1f1aced9f07b 4141504c20202020 31",
        Message::RegSho(RegSho {
            header: hdr(42, 0),
            stock: sym("AAPL"),
            reg_sho_action: reg_sho_action::RESTRICTION_IN_EFFECT,
        }),
    );
}

#[test]
fn market_participant_position() {
    let m = MarketParticipantPosition {
        header: hdr(42, 1),
        mpid: *b"GSCO",
        stock: sym("AAPL"),
        primary_market_maker: flag::YES,
        market_maker_mode: market_maker_mode::NORMAL,
        participant_state: participant_state::ACTIVE,
    };
    golden(
        "4c 002a 0001 1f1aced9f07b 4753434f 4141504c20202020 59 4e 41",
        Message::MarketParticipantPosition(m),
    );
    assert_eq!(m.mpid_str(), Ok("GSCO"));
}

#[test]
fn mwcb_decline_level() {
    // 7800.50, 7020.00, 5850.00 with 8 implied decimals.
    golden(
        "56 0000 0000 1f1aced9f07b 000000b59e9a6880 000000a37275ec00 0000008834b79a00",
        Message::MwcbDeclineLevel(MwcbDeclineLevel {
            header: hdr(0, 0),
            level1: 780_050_000_000,
            level2: 702_000_000_000,
            level3: 585_000_000_000,
        }),
    );
}

#[test]
fn mwcb_status() {
    golden(
        "57 0000 0000 1f1aced9f07b 31",
        Message::MwcbStatus(MwcbStatus {
            header: hdr(0, 0),
            breached_level: breached_level::LEVEL_1,
        }),
    );
}

#[test]
fn ipo_quoting_period() {
    golden(
        "4b 0063 0000 1f1aced9f07b 5a575a5a54202020 00008ca0 41 000186a0",
        Message::IpoQuotingPeriod(IpoQuotingPeriod {
            header: hdr(99, 0),
            stock: sym("ZWZZT"),
            release_time: 36_000,
            release_qualifier: release_qualifier::ANTICIPATED,
            ipo_price: Price4(100_000),
        }),
    );
}

#[test]
fn luld_auction_collar() {
    golden(
        "4a 0063 0000 1f1aced9f07b 5a575a5a54202020 000186a0 0001adb0 00015f90 00000002",
        Message::LuldAuctionCollar(LuldAuctionCollar {
            header: hdr(99, 0),
            stock: sym("ZWZZT"),
            reference_price: Price4(100_000),
            upper_price: Price4(110_000),
            lower_price: Price4(90_000),
            extension: 2,
        }),
    );
}

#[test]
fn operational_halt() {
    golden(
        "68 0063 0000 1f1aced9f07b 5a575a5a54202020 51 48",
        Message::OperationalHalt(OperationalHalt {
            header: hdr(99, 0),
            stock: sym("ZWZZT"),
            market_code: market_code::NASDAQ,
            halt_action: halt_action::HALTED,
        }),
    );
}

#[test]
fn add_order_mpid() {
    let m = AddOrderMpid {
        header: hdr(42, 4),
        order_ref: 987_654_322,
        side: Side::Sell,
        shares: Qty(500),
        stock: sym("AAPL"),
        price: Price4(1_234_600),
        attribution: *b"GSCO",
    };
    golden(
        "46 002a 0004 1f1aced9f07b 000000003ade68b2 53 000001f4 4141504c20202020 0012d6a8 4753434f",
        Message::AddOrderMpid(m),
    );
    assert_eq!(m.attribution_str(), Ok("GSCO"));
}

#[test]
fn order_executed() {
    golden(
        "45 002a 0005 1f1aced9f07b 000000003ade68b1 00000032 0000000000bc614e",
        Message::OrderExecuted(OrderExecuted {
            header: hdr(42, 5),
            order_ref: 987_654_321,
            executed_shares: Qty(50),
            match_number: 12_345_678,
        }),
    );
}

#[test]
fn order_executed_with_price() {
    golden(
        "43 002a 0006 1f1aced9f07b 000000003ade68b1 0000000a 0000000000bc614f 4e 0012d5e0",
        Message::OrderExecutedWithPrice(OrderExecutedWithPrice {
            header: hdr(42, 6),
            order_ref: 987_654_321,
            executed_shares: Qty(10),
            match_number: 12_345_679,
            printable: flag::NO,
            execution_price: Price4(1_234_400),
        }),
    );
}

#[test]
fn order_cancel() {
    golden(
        "58 002a 0007 1f1aced9f07b 000000003ade68b1 00000014",
        Message::OrderCancel(OrderCancel {
            header: hdr(42, 7),
            order_ref: 987_654_321,
            canceled_shares: Qty(20),
        }),
    );
}

#[test]
fn order_delete() {
    golden(
        "44 002a 0008 1f1aced9f07b 000000003ade68b1",
        Message::OrderDelete(OrderDelete {
            header: hdr(42, 8),
            order_ref: 987_654_321,
        }),
    );
}

#[test]
fn order_replace() {
    golden(
        "55 002a 0009 1f1aced9f07b 000000003ade68b1 000000003ade68b3 000000c8 0012d644",
        Message::OrderReplace(OrderReplace {
            header: hdr(42, 9),
            original_order_ref: 987_654_321,
            new_order_ref: 987_654_323,
            shares: Qty(200),
            price: Price4(1_234_500),
        }),
    );
}

#[test]
fn trade() {
    golden(
        "50 002a 000a 1f1aced9f07b 0000000000000000 42 0000012c 4141504c20202020 0012d644 0000000000bc6150",
        Message::Trade(Trade {
            header: hdr(42, 10),
            order_ref: 0,
            side: Side::Buy,
            shares: Qty(300),
            stock: sym("AAPL"),
            price: Price4(1_234_500),
            match_number: 12_345_680,
        }),
    );
}

#[test]
fn cross_trade() {
    golden(
        "51 002a 000b 1f1aced9f07b 00000000000f4240 4141504c20202020 0012d644 0000000000bc6151 4f",
        Message::CrossTrade(CrossTrade {
            header: hdr(42, 11),
            shares: 1_000_000,
            stock: sym("AAPL"),
            cross_price: Price4(1_234_500),
            match_number: 12_345_681,
            cross_type: cross_type::OPENING,
        }),
    );
}

#[test]
fn broken_trade() {
    golden(
        "42 002a 000c 1f1aced9f07b 0000000000bc6151",
        Message::BrokenTrade(BrokenTrade {
            header: hdr(42, 12),
            match_number: 12_345_681,
        }),
    );
}

#[test]
fn noii() {
    golden(
        "49 002a 000d 1f1aced9f07b 0000000000030d40 00000000000007d0 42 4141504c20202020 0012d5e0 0012d6a8 0012d644 43 4c",
        Message::Noii(Noii {
            header: hdr(42, 13),
            paired_shares: 200_000,
            imbalance_shares: 2_000,
            imbalance_direction: imbalance_direction::BUY,
            stock: sym("AAPL"),
            far_price: Price4(1_234_400),
            near_price: Price4(1_234_600),
            current_reference_price: Price4(1_234_500),
            cross_type: cross_type::CLOSING,
            price_variation_indicator: b'L',
        }),
    );
}

#[test]
fn rpii() {
    golden(
        "4e 002a 000e 1f1aced9f07b 4141504c20202020 41",
        Message::Rpii(Rpii {
            header: hdr(42, 14),
            stock: sym("AAPL"),
            interest_flag: interest_flag::BOTH,
        }),
    );
}

#[test]
fn dlcr() {
    // Near execution time 16:00:00 = 57 600 000 000 000 ns = 0x34630b8a0000.
    golden(
        "4f 0063 000f 1f1aced9f07b 5a575a5a54202020 59 000186a0 000249f0 0001d4c0 000034630b8a0000 00015f90 0001adb0",
        Message::Dlcr(Dlcr {
            header: hdr(99, 15),
            stock: sym("ZWZZT"),
            open_eligibility: flag::YES,
            min_allowable_price: Price4(100_000),
            max_allowable_price: Price4(150_000),
            near_execution_price: Price4(120_000),
            near_execution_time: 57_600_000_000_000,
            lower_price_range_collar: Price4(90_000),
            upper_price_range_collar: Price4(110_000),
        }),
    );
}

#[test]
fn every_listed_type_has_a_length_and_nothing_else_does() {
    let expected: &[(u8, usize)] = &[
        (b'S', 12),
        (b'R', 39),
        (b'H', 25),
        (b'Y', 20),
        (b'L', 26),
        (b'V', 35),
        (b'W', 12),
        (b'K', 28),
        (b'J', 35),
        (b'h', 21),
        (b'A', 36),
        (b'F', 40),
        (b'E', 31),
        (b'C', 36),
        (b'X', 23),
        (b'D', 19),
        (b'U', 35),
        (b'P', 44),
        (b'Q', 40),
        (b'B', 19),
        (b'I', 50),
        (b'N', 20),
        (b'O', 48),
    ];
    assert_eq!(MESSAGE_TYPES.len(), expected.len());
    for &(t, len) in expected {
        assert_eq!(message_len(t), Some(len), "type {:?}", t as char);
        assert!(MESSAGE_TYPES.contains(&t));
    }
    for t in 0..=255u8 {
        if !expected.iter().any(|&(e, _)| e == t) {
            assert_eq!(message_len(t), None, "type {t:#x}");
            let mut buf = [0u8; 64];
            buf[0] = t;
            assert_eq!(Message::parse(&buf), Err(Error::UnknownType(t)));
        }
    }
    assert_eq!(MAX_MESSAGE_LEN, expected.iter().map(|e| e.1).max().unwrap());
}

#[test]
fn decode_errors_are_typed() {
    assert_eq!(
        Message::parse(&[]),
        Err(Error::Truncated { len: 0, need: 1 })
    );
    // A side other than B/S is refused in A, F and P.
    for v in [
        "41 002a 0003 1f1aced9f07b 000000003ade68b1 58 00000064 4141504c20202020 0012d644",
        "46 002a 0004 1f1aced9f07b 000000003ade68b2 62 000001f4 4141504c20202020 0012d6a8 4753434f",
        "50 002a 000a 1f1aced9f07b 0000000000000000 20 0000012c 4141504c20202020 0012d644 0000000000bc6150",
    ] {
        let b = hex(v);
        assert_eq!(
            Message::parse(&b),
            Err(Error::BadValue { field: "side", value: b[19] })
        );
    }
    // A view or Repr of the wrong type.
    let d = hex("44 002a 0008 1f1aced9f07b 000000003ade68b1");
    assert_eq!(
        AddOrderView::new_checked(&d[..]).unwrap_err(),
        Error::BadValue {
            field: "message type",
            value: b'D'
        }
    );
    assert_eq!(
        AddOrder::parse(&d),
        Err(Error::BadValue {
            field: "message type",
            value: b'D'
        })
    );
    // Non-ASCII alpha fields decode (they are raw) but their text accessor fails.
    let mut a =
        hex("41 002a 0003 1f1aced9f07b 000000003ade68b1 42 00000064 4141504c20202020 0012d644");
    a[25] = 0xC3;
    let m = AddOrder::parse(&a).unwrap();
    assert_eq!(m.stock_str(), Err(Error::BadAscii("stock")));
    assert_eq!(
        AddOrderView::new_checked(&a[..]).unwrap().stock_str(),
        Err(Error::BadAscii("stock"))
    );
    // A timestamp beyond 48 bits cannot be emitted, and nothing is written.
    let mut out = [0u8; 64];
    let bad = OrderDelete {
        header: Header {
            locate: 1,
            tracking: 2,
            timestamp: 1 << 48,
        },
        order_ref: 5,
    };
    assert_eq!(bad.emit(&mut out), Err(Error::OutOfRange("timestamp")));
    assert_eq!(out, [0u8; 64]);
}

#[test]
fn binary_file_records() {
    let a = hex("41 002a 0003 1f1aced9f07b 000000003ade68b1 42 00000064 4141504c20202020 0012d644");
    let d = hex("44 002a 0008 1f1aced9f07b 000000003ade68b1");
    let mut file = Vec::new();
    for m in [&a, &d] {
        file.extend_from_slice(&(m.len() as u16).to_be_bytes());
        file.extend_from_slice(m);
    }
    let recs: Vec<_> = BinaryFileRecords::new(&file).collect();
    assert_eq!(recs, vec![Ok(&a[..]), Ok(&d[..])]);
    // emit_record produces the same framing.
    let mut out = [0u8; 128];
    let n1 = emit_record(&Message::parse(&a).unwrap(), &mut out).unwrap();
    let n2 = emit_record(&Message::parse(&d).unwrap(), &mut out[n1..]).unwrap();
    assert_eq!(&out[..n1 + n2], &file[..]);
    // A record running past the end is reported once, then iteration stops.
    let cut = &file[..file.len() - 3];
    let recs: Vec<_> = BinaryFileRecords::new(cut).collect();
    assert_eq!(
        recs,
        vec![Ok(&a[..]), Err(Error::Truncated { len: 16, need: 19 })]
    );
    let recs: Vec<_> = BinaryFileRecords::new(&file[..39]).collect();
    assert_eq!(
        recs,
        vec![Ok(&a[..]), Err(Error::Truncated { len: 1, need: 2 })]
    );
}
