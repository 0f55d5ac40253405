//! Random ITCH 5.0 messages for cross-checks and benchmarks.
//!
//! Every code byte is drawn from the values the ITCH 5.0 specification lists
//! (and that the `itchy` peer accepts), symbols and alpha fields are ASCII, so
//! the messages are valid for both floe and independent decoders.

use floe::types::{Price4, Qty, Side, Symbol};
use floe::wire::itch::*;
use rand::{Rng, RngExt};

/// Message types the `itchy` 0.3.4 peer decodes (it lacks `h` and `O`).
pub const ITCHY_TYPES: &[u8] = b"SRHYLVWKJAFECXDUPQBIN";

fn pick<R: Rng + ?Sized>(rng: &mut R, set: &[u8]) -> u8 {
    set[rng.random_range(0..set.len())]
}

fn header<R: Rng + ?Sized>(rng: &mut R) -> Header {
    Header {
        locate: rng.random(),
        tracking: rng.random(),
        timestamp: rng.random_range(0..=MAX_TIMESTAMP),
    }
}

fn ascii<R: Rng + ?Sized, const N: usize>(rng: &mut R) -> [u8; N] {
    let len = rng.random_range(1..=N);
    let mut out = [b' '; N];
    for b in &mut out[..len] {
        *b = pick(rng, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    }
    out
}

fn symbol<R: Rng + ?Sized>(rng: &mut R) -> Symbol {
    Symbol(ascii::<R, 8>(rng))
}

fn side<R: Rng + ?Sized>(rng: &mut R) -> Side {
    if rng.random() {
        Side::Buy
    } else {
        Side::Sell
    }
}

fn price<R: Rng + ?Sized>(rng: &mut R) -> Price4 {
    Price4(rng.random_range(1..=2_000_000_000))
}

fn qty<R: Rng + ?Sized>(rng: &mut R) -> Qty {
    Qty(rng.random_range(1..=1_000_000))
}

const SUB_TYPES: &[&[u8; 2]] = &[
    b"A ", b"AI", b"B ", b"C ", b"CB", b"CF", b"CL", b"CM", b"CO", b"CT", b"CU", b"CW", b"D ",
    b"E ", b"EG", b"EI", b"EM", b"EN", b"EU", b"F ", b"FI", b"FL", b"G ", b"I ", b"IR", b"IW",
    b"IX", b"J ", b"L ", b"LL", b"M ", b"MF", b"ML", b"MT", b"N ", b"O ", b"P ", b"PP", b"PU",
    b"Q ", b"R ", b"RC", b"RF", b"RT", b"RU", b"S ", b"SC", b"SI", b"T ", b"TC", b"TU", b"U ",
    b"V ", b"W ", b"WC", b"X ", b"Y ", b"Z ",
];

/// A random, valid message of type `t` (any type of PROTOCOLS.md §1).
pub fn random_message<R: Rng + ?Sized>(rng: &mut R, t: u8) -> Message {
    let header = header(rng);
    match t {
        b'S' => SystemEvent {
            header,
            event_code: pick(rng, b"OSQMEC"),
        }
        .into(),
        b'R' => StockDirectory {
            header,
            stock: symbol(rng),
            market_category: pick(rng, b"QGSNAPZV "),
            financial_status: pick(rng, b"NDEQSGHJKC "),
            round_lot_size: rng.random(),
            round_lots_only: pick(rng, b"YN"),
            issue_classification: pick(rng, b"ABCFILNOPQRSTUVW"),
            issue_sub_type: *SUB_TYPES[rng.random_range(0..SUB_TYPES.len())],
            authenticity: pick(rng, b"PT"),
            short_sale_threshold: pick(rng, b"YN "),
            ipo_flag: pick(rng, b"YN "),
            luld_tier: pick(rng, b"12 "),
            etp_flag: pick(rng, b"YN "),
            etp_leverage_factor: rng.random(),
            inverse_indicator: pick(rng, b"YN"),
        }
        .into(),
        b'H' => TradingAction {
            header,
            stock: symbol(rng),
            trading_state: pick(rng, b"HPQT"),
            reserved: b' ',
            reason: ascii::<R, 4>(rng),
        }
        .into(),
        b'Y' => RegSho {
            header,
            stock: symbol(rng),
            reg_sho_action: pick(rng, b"012"),
        }
        .into(),
        b'L' => MarketParticipantPosition {
            header,
            mpid: ascii::<R, 4>(rng),
            stock: symbol(rng),
            primary_market_maker: pick(rng, b"YN"),
            market_maker_mode: pick(rng, b"NPSRL"),
            participant_state: pick(rng, b"AEWSD"),
        }
        .into(),
        b'V' => MwcbDeclineLevel {
            header,
            level1: rng.random(),
            level2: rng.random(),
            level3: rng.random(),
        }
        .into(),
        b'W' => MwcbStatus {
            header,
            breached_level: pick(rng, b"123"),
        }
        .into(),
        b'K' => IpoQuotingPeriod {
            header,
            stock: symbol(rng),
            release_time: rng.random_range(0..86_400),
            release_qualifier: pick(rng, b"AC"),
            ipo_price: price(rng),
        }
        .into(),
        b'J' => LuldAuctionCollar {
            header,
            stock: symbol(rng),
            reference_price: price(rng),
            upper_price: price(rng),
            lower_price: price(rng),
            extension: rng.random(),
        }
        .into(),
        b'h' => OperationalHalt {
            header,
            stock: symbol(rng),
            market_code: pick(rng, b"QBX"),
            halt_action: pick(rng, b"HT"),
        }
        .into(),
        b'A' => AddOrder {
            header,
            order_ref: rng.random(),
            side: side(rng),
            shares: qty(rng),
            stock: symbol(rng),
            price: price(rng),
        }
        .into(),
        b'F' => AddOrderMpid {
            header,
            order_ref: rng.random(),
            side: side(rng),
            shares: qty(rng),
            stock: symbol(rng),
            price: price(rng),
            attribution: ascii::<R, 4>(rng),
        }
        .into(),
        b'E' => OrderExecuted {
            header,
            order_ref: rng.random(),
            executed_shares: qty(rng),
            match_number: rng.random(),
        }
        .into(),
        b'C' => OrderExecutedWithPrice {
            header,
            order_ref: rng.random(),
            executed_shares: qty(rng),
            match_number: rng.random(),
            printable: pick(rng, b"YN"),
            execution_price: price(rng),
        }
        .into(),
        b'X' => OrderCancel {
            header,
            order_ref: rng.random(),
            canceled_shares: qty(rng),
        }
        .into(),
        b'D' => OrderDelete {
            header,
            order_ref: rng.random(),
        }
        .into(),
        b'U' => OrderReplace {
            header,
            original_order_ref: rng.random(),
            new_order_ref: rng.random(),
            shares: qty(rng),
            price: price(rng),
        }
        .into(),
        b'P' => Trade {
            header,
            order_ref: rng.random(),
            side: side(rng),
            shares: qty(rng),
            stock: symbol(rng),
            price: price(rng),
            match_number: rng.random(),
        }
        .into(),
        b'Q' => CrossTrade {
            header,
            shares: rng.random(),
            stock: symbol(rng),
            cross_price: price(rng),
            match_number: rng.random(),
            cross_type: pick(rng, b"OCHIA"),
        }
        .into(),
        b'B' => BrokenTrade {
            header,
            match_number: rng.random(),
        }
        .into(),
        b'I' => Noii {
            header,
            paired_shares: rng.random(),
            imbalance_shares: rng.random(),
            imbalance_direction: pick(rng, b"BSNO"),
            stock: symbol(rng),
            far_price: price(rng),
            near_price: price(rng),
            current_reference_price: price(rng),
            cross_type: pick(rng, b"OCHA"),
            price_variation_indicator: pick(rng, b"L123456789ABC "),
        }
        .into(),
        b'N' => Rpii {
            header,
            stock: symbol(rng),
            interest_flag: pick(rng, b"BSAN"),
        }
        .into(),
        b'O' => Dlcr {
            header,
            stock: symbol(rng),
            open_eligibility: pick(rng, b"YN"),
            min_allowable_price: price(rng),
            max_allowable_price: price(rng),
            near_execution_price: price(rng),
            near_execution_time: rng.random_range(0..=MAX_TIMESTAMP),
            lower_price_range_collar: price(rng),
            upper_price_range_collar: price(rng),
        }
        .into(),
        other => panic!("no generator for message type {other:#x}"),
    }
}

/// A message type drawn from a day's realistic mix (by count, roughly as in
/// NASDAQ TotalView files): mostly adds, deletes, cancels, executions and
/// replaces; a few trades; a sprinkle of everything else `itchy` decodes.
pub fn realistic_type<R: Rng + ?Sized>(rng: &mut R) -> u8 {
    let x = rng.random_range(0..1000u32);
    match x {
        0..380 => b'A',
        380..410 => b'F',
        410..770 => b'D',
        770..800 => b'X',
        800..860 => b'E',
        860..865 => b'C',
        865..965 => b'U',
        965..980 => b'P',
        980..990 => b'I',
        _ => pick(rng, b"SRHYLVWKJQBN"),
    }
}

/// `n` messages of the realistic mix as one BinaryFILE buffer (u16 length +
/// message per record).
pub fn binary_file<R: Rng + ?Sized>(rng: &mut R, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n * (2 + MAX_MESSAGE_LEN)];
    let mut at = 0;
    for _ in 0..n {
        let t = realistic_type(rng);
        let m = random_message(rng, t);
        at += emit_record(&m, &mut out[at..]).expect("buffer sized for the largest message");
    }
    out.truncate(at);
    out
}
