//! The ITCH / MoldUDP64 publisher: a venue day (flow, session orders,
//! replaces, hidden trades, a halt) published, packed, decoded back with
//! floe's MoldUDP64 and ITCH decoders and with `itchy`; sequence numbers,
//! packet sizes, re-requests, heartbeats, flush deadlines and end of session.

use floe::config::Dialect;
use floe::exchange::publisher::{DEFAULT_MAX_PAYLOAD, MAX_PACKET_LEN};
use floe::exchange::{
    Flow, FlowConfig, FlowSymbol, MarketEvent, MatchingConfig, MatchingEngine, Publisher,
    PublisherConfig, SessionConfig, SessionName, VenueOutput,
};
use floe::order::{ChildTag, OrderRef, OrderRequest, TimeInForce};
use floe::types::{Price4, Qty, Side, Symbol};
use floe::wire::itch::{emit_record, Message};
use floe::wire::moldudp64::{self, Packet, Request, END_OF_SESSION_COUNT, HEADER_LEN};

const START_NS: u64 = 34_200_000_000_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

fn session() -> moldudp64::Session {
    *b"TESTSESS01"
}

/// One simulated venue day: every market event in order.
fn venue_day() -> Vec<MarketEvent> {
    let syms = [Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap()];
    let mut e = MatchingEngine::new(&MatchingConfig {
        symbols: syms.to_vec(),
        ..MatchingConfig::default()
    });
    let mut f = Flow::new(
        FlowConfig {
            seed: 42,
            symbols: syms
                .iter()
                .map(|&symbol| FlowSymbol {
                    symbol,
                    mid: Price4(1_000_000),
                })
                .collect(),
            hidden_share: 0.1,
            ..FlowConfig::default()
        },
        START_NS,
    );
    let s = e
        .add_session(SessionConfig {
            name: SessionName::new("FLOE").unwrap(),
            dialect: Dialect::Ouch50,
            cancel_on_disconnect: true,
            attribution: Some(*b"FLOE"),
        })
        .unwrap();
    let mut out = Vec::new();
    e.open(START_NS, &mut out);
    let mut n = 0u32;
    let mut t = START_NS;
    while t < START_NS + 3 * SEC {
        t += 10 * MS;
        f.poll(t, &mut e, &mut out);
        // A session child at the bid every 10 ms, replaced once, sometimes canceled.
        n += 1;
        let q = e.quote(syms[0]).unwrap();
        if let Some(bid) = q.bid {
            let tag = ChildTag {
                parent: 1,
                child: n,
            };
            e.handle(
                t,
                s,
                &OrderRequest::Enter {
                    order: OrderRef(2 * n),
                    tag,
                    side: Side::Buy,
                    qty: Qty(200),
                    symbol: syms[0],
                    price: bid.price,
                    tif: TimeInForce::Day,
                },
                &mut out,
            );
            e.handle(
                t,
                s,
                &OrderRequest::Replace {
                    old: OrderRef(2 * n),
                    old_tag: tag,
                    new: OrderRef(2 * n + 1),
                    new_tag: tag,
                    qty: Qty(300),
                    price: bid.price,
                },
                &mut out,
            );
        }
        if n.is_multiple_of(7) {
            e.on_disconnect(t, s, &mut out);
        }
        if n == 150 {
            e.set_halted(t, syms[1], true, &mut out);
        }
        if n == 160 {
            e.set_halted(t, syms[1], false, &mut out);
        }
    }
    e.close(t, &mut out);
    out.iter()
        .filter_map(|o| match o {
            VenueOutput::Market(m) => Some(*m),
            _ => None,
        })
        .collect()
}

/// Publishes every event, polling after each, and returns the packets.
fn publish_all(p: &mut Publisher, events: &[MarketEvent]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut buf = [0u8; MAX_PACKET_LEN];
    for ev in events {
        p.publish(ev.ts(), ev).unwrap();
        while let Some(n) = p.poll_transmit(ev.ts(), &mut buf) {
            packets.push(buf[..n].to_vec());
        }
    }
    packets
}

fn decode(packet: &[u8]) -> (u64, u16, Vec<Vec<u8>>) {
    let p = Packet::new_checked(packet).expect("valid MoldUDP64 packet");
    assert_eq!(p.session(), &session());
    let mut blocks = p.blocks();
    let msgs: Vec<Vec<u8>> = blocks
        .by_ref()
        .map(|b| b.expect("block in bounds").to_vec())
        .collect();
    assert!(blocks.count_matched(), "count and blocks agree");
    (p.sequence(), p.message_count(), msgs)
}

#[test]
fn packets_decode_back_to_the_same_events_with_continuous_sequence_numbers() {
    let events = venue_day();
    let kinds = |f: fn(&MarketEvent) -> bool| events.iter().filter(|e| f(e)).count();
    assert!(kinds(|e| matches!(e, MarketEvent::Replace { .. })) > 10);
    assert!(kinds(|e| matches!(e, MarketEvent::Trade { .. })) > 10);
    assert!(
        kinds(|e| matches!(
            e,
            MarketEvent::AddOrder {
                attribution: Some(_),
                ..
            }
        )) > 10
    );
    assert!(kinds(|e| matches!(e, MarketEvent::TradingAction { state: b'H', .. })) == 1);
    let mut p = Publisher::new(
        PublisherConfig {
            session: session(),
            flush_after_ns: 50 * MS,
            ..Default::default()
        },
        START_NS,
    );
    let packets = publish_all(&mut p, &events);
    p.end_session();
    let mut buf = [0u8; MAX_PACKET_LEN];
    let mut tail = Vec::new();
    let end = events.last().unwrap().ts();
    for k in 0..5 {
        while let Some(n) = p.poll_transmit(end + k * SEC, &mut buf) {
            tail.push(buf[..n].to_vec());
        }
    }
    let mut back = Vec::new();
    let mut expected_seq = 1;
    let mut full = 0;
    for pk in packets.iter().chain(&tail) {
        assert!(
            pk.len() <= HEADER_LEN + DEFAULT_MAX_PAYLOAD,
            "{} bytes",
            pk.len()
        );
        let (seq, count, msgs) = decode(pk);
        assert_eq!(seq, expected_seq, "sequence numbers are continuous");
        if count == END_OF_SESSION_COUNT {
            assert!(msgs.is_empty());
            continue;
        }
        assert!(count > 0, "no heartbeat while messages flow");
        if pk.len() > HEADER_LEN + DEFAULT_MAX_PAYLOAD - 52 {
            full += 1;
        }
        expected_seq += u64::from(count);
        for m in msgs {
            let msg = Message::parse(&m).expect("valid ITCH");
            assert_eq!(msg.encoded_len(), m.len());
            back.push(MarketEvent::from_itch(&msg).expect("a venue message type"));
        }
    }
    assert_eq!(back, events);
    assert_eq!(expected_seq, events.len() as u64 + 1);
    assert_eq!(p.next_sequence(), expected_seq);
    assert!(full > 0, "bursts fill packets");
    assert!(
        packets.len() < events.len() / 3,
        "{} packets for {} events",
        packets.len(),
        events.len()
    );
    assert_eq!(p.stats().end_of_session, 3);
    assert!(p.is_finished());
}

/// itchy's view of one message must match the event it was made from.
fn assert_itchy_matches(ev: &MarketEvent, it: &itchy::Message) {
    use itchy::Body;
    let side = |s: itchy::Side| match s {
        itchy::Side::Buy => Side::Buy,
        itchy::Side::Sell => Side::Sell,
    };
    assert_eq!(it.timestamp, ev.ts());
    assert_eq!(it.stock_locate, ev.locate());
    assert_eq!(it.tracking_number, 0);
    match (*ev, &it.body) {
        (MarketEvent::SystemEvent { code, .. }, Body::SystemEvent { event }) => {
            use itchy::EventCode::*;
            let c = match event {
                StartOfMessages => b'O',
                StartOfSystemHours => b'S',
                StartOfMarketHours => b'Q',
                EndOfMarketHours => b'M',
                EndOfSystemHours => b'E',
                EndOfMessages => b'C',
            };
            assert_eq!(c, code);
        }
        (
            MarketEvent::StockDirectory {
                symbol, round_lot, ..
            },
            Body::StockDirectory(d),
        ) => {
            assert_eq!(d.stock.as_bytes(), &symbol.0);
            assert_eq!(d.round_lot_size, round_lot);
            assert_eq!(d.market_category, itchy::MarketCategory::NasdaqGlobalSelect);
            assert!(d.authenticity);
        }
        (
            MarketEvent::TradingAction { symbol, state, .. },
            Body::TradingAction {
                stock,
                trading_state,
                ..
            },
        ) => {
            assert_eq!(stock.as_bytes(), &symbol.0);
            let s = match trading_state {
                itchy::TradingState::Halted => b'H',
                itchy::TradingState::Paused => b'P',
                itchy::TradingState::QuotationOnly => b'Q',
                itchy::TradingState::Trading => b'T',
            };
            assert_eq!(s, state);
        }
        (
            MarketEvent::AddOrder {
                order_ref,
                side: sd,
                qty,
                symbol,
                price,
                attribution,
                ..
            },
            Body::AddOrder(a),
        ) => {
            assert_eq!(a.reference, order_ref);
            assert_eq!(side(a.side), sd);
            assert_eq!(a.shares, qty.0);
            assert_eq!(a.stock.as_bytes(), &symbol.0);
            assert_eq!(a.price.raw(), price.0);
            assert_eq!(
                a.mpid.as_ref().map(|m| m.as_bytes().to_vec()),
                attribution.map(|m| m.to_vec())
            );
        }
        (
            MarketEvent::Executed {
                order_ref,
                qty,
                match_number,
                ..
            },
            Body::OrderExecuted {
                reference,
                executed,
                match_number: m,
            },
        ) => {
            assert_eq!(
                (*reference, *executed, *m),
                (order_ref, qty.0, match_number)
            );
        }
        (
            MarketEvent::Cancel { order_ref, qty, .. },
            Body::OrderCancelled {
                reference,
                cancelled,
            },
        ) => {
            assert_eq!((*reference, *cancelled), (order_ref, qty.0));
        }
        (MarketEvent::Delete { order_ref, .. }, Body::DeleteOrder { reference }) => {
            assert_eq!(*reference, order_ref);
        }
        (
            MarketEvent::Replace {
                old,
                new,
                qty,
                price,
                ..
            },
            Body::ReplaceOrder(r),
        ) => {
            assert_eq!(
                (r.old_reference, r.new_reference, r.shares, r.price.raw()),
                (old, new, qty.0, price.0)
            );
        }
        (
            MarketEvent::Trade {
                side: sd,
                qty,
                symbol,
                price,
                match_number,
                ..
            },
            Body::NonCrossTrade(t),
        ) => {
            assert_eq!(t.reference, 0);
            assert_eq!(side(t.side), sd);
            assert_eq!(t.shares, qty.0);
            assert_eq!(t.stock.as_bytes(), &symbol.0);
            assert_eq!(t.price.raw(), price.0);
            assert_eq!(t.match_number, match_number);
        }
        (
            MarketEvent::ExecutedWithPrice {
                order_ref,
                qty,
                match_number,
                printable: pr,
                price,
                ..
            },
            Body::OrderExecutedWithPrice {
                reference,
                executed,
                match_number: m,
                printable,
                price: p,
            },
        ) => {
            assert_eq!(
                (*reference, *executed, *m, *printable, p.raw()),
                (order_ref, qty.0, match_number, pr, price.0)
            );
        }
        (e, b) => panic!("event {e:?} decoded by itchy as {b:?}"),
    }
}

#[test]
fn every_message_published_decodes_with_itchy_to_the_same_values() {
    let mut events = venue_day();
    // The venue never prices an execution off the order; publish one anyway.
    events.push(MarketEvent::ExecutedWithPrice {
        ts: START_NS + 4 * SEC,
        locate: 1,
        order_ref: 77,
        qty: Qty(100),
        match_number: 999_999,
        printable: true,
        price: Price4(1_000_100),
    });
    let mut p = Publisher::new(
        PublisherConfig {
            session: session(),
            ..Default::default()
        },
        START_NS,
    );
    let packets = publish_all(&mut p, &events);
    // The blocks of every packet, as a BinaryFILE buffer for itchy.
    let mut file = Vec::new();
    let mut rec = [0u8; 64];
    for pk in &packets {
        for m in decode(pk).2 {
            let n = emit_record(&Message::parse(&m).unwrap(), &mut rec).unwrap();
            assert_eq!(&rec[2..n], &m[..]);
            file.extend_from_slice(&rec[..n]);
        }
    }
    let mut n = 0;
    for (ev, it) in events
        .iter()
        .zip(itchy::MessageStream::from_reader(&file[..]))
    {
        let it = it.unwrap_or_else(|e| panic!("itchy refused {ev:?}: {e}"));
        assert_itchy_matches(ev, &it);
        n += 1;
    }
    assert_eq!(n, events.len(), "itchy decoded every message");
}

#[test]
fn re_requests_are_served_from_history() {
    let events = venue_day();
    let mut p = Publisher::new(
        PublisherConfig {
            session: session(),
            history_messages: 1_000,
            ..Default::default()
        },
        START_NS,
    );
    let packets = publish_all(&mut p, &events);
    let mut originals: Vec<Vec<u8>> = vec![Vec::new()]; // index = sequence number
    for pk in &packets {
        originals.extend(decode(pk).2);
    }
    let last = originals.len() as u64 - 1;
    assert_eq!(last, events.len() as u64);
    let oldest = p.oldest_retained();
    assert!(oldest > 1, "history is bounded");
    assert_eq!(last - oldest + 1, 1_000);
    let req = |seq: u64, count: u16| {
        let mut b = [0u8; 20];
        Request {
            session: session(),
            sequence: seq,
            message_count: count,
        }
        .emit(&mut b)
        .unwrap();
        b
    };
    let mut buf = [0u8; MAX_PACKET_LEN];
    for (seq, count) in [
        (oldest, 1u16),
        (oldest + 17, 5),
        (last - 3, 100),
        (last, 1),
        (oldest + 100, 65_000),
    ] {
        let n = p
            .handle_request(&req(seq, count), &mut buf)
            .unwrap_or_else(|| panic!("no answer for {seq}"));
        let (s, c, msgs) = decode(&buf[..n]);
        assert_eq!(s, seq);
        assert!(c >= 1 && c <= count, "{c} of {count}");
        assert!(u64::from(c) <= last - seq + 1);
        for (k, m) in msgs.iter().enumerate() {
            assert_eq!(
                m,
                &originals[seq as usize + k],
                "message {}",
                seq as usize + k
            );
        }
        if count > 50 && seq + 100 < last {
            assert!(
                n > HEADER_LEN + DEFAULT_MAX_PAYLOAD - 52,
                "a long request fills the packet"
            );
        }
    }
    // Nothing for: evicted, not yet published, sequence 0, count 0, other session, garbage.
    assert!(p.handle_request(&req(oldest - 1, 10), &mut buf).is_none());
    assert!(p.handle_request(&req(last + 1, 10), &mut buf).is_none());
    assert!(p.handle_request(&req(0, 10), &mut buf).is_none());
    assert!(p.handle_request(&req(oldest, 0), &mut buf).is_none());
    let mut other = req(oldest, 1);
    other[0] = b'X';
    assert!(p.handle_request(&other, &mut buf).is_none());
    assert!(p.handle_request(&other[..19], &mut buf).is_none());
    assert_eq!(p.stats().retransmissions, 5);
    assert_eq!(p.stats().requests_ignored, 6);
}

#[test]
fn heartbeats_when_idle_and_flush_on_the_deadline() {
    let mut p = Publisher::new(
        PublisherConfig {
            session: session(),
            flush_after_ns: 5 * MS,
            ..Default::default()
        },
        START_NS,
    );
    let mut buf = [0u8; MAX_PACKET_LEN];
    assert_eq!(p.poll_timeout(), Some(START_NS + SEC));
    assert!(p.poll_transmit(START_NS + SEC - 1, &mut buf).is_none());
    let n = p.poll_transmit(START_NS + SEC, &mut buf).unwrap();
    assert_eq!(n, HEADER_LEN);
    let (seq, count, _) = decode(&buf[..n]);
    assert_eq!(
        (seq, count),
        (1, 0),
        "a heartbeat carries the next sequence number"
    );
    assert!(p.poll_transmit(START_NS + SEC, &mut buf).is_none());

    let t = START_NS + SEC + 100;
    let ev = MarketEvent::Delete {
        ts: t,
        locate: 1,
        order_ref: 5,
    };
    p.publish(t, &ev).unwrap();
    p.publish(t + 1, &ev).unwrap();
    assert_eq!(p.poll_timeout(), Some(t + 5 * MS));
    assert!(
        p.poll_transmit(t + 5 * MS - 1, &mut buf).is_none(),
        "waits for the flush deadline"
    );
    let n = p.poll_transmit(t + 5 * MS, &mut buf).unwrap();
    assert_eq!(
        decode(&buf[..n]).0..decode(&buf[..n]).0 + u64::from(decode(&buf[..n]).1),
        1..3
    );
    // A full packet goes at once, without waiting for the deadline.
    let t2 = t + 10 * MS;
    let mut published = 0;
    let n = loop {
        if let Some(n) = p.poll_transmit(t2, &mut buf) {
            break n;
        }
        p.publish(t2, &ev).unwrap();
        published += 1;
        assert!(published < 200, "never flushed");
    };
    let (seq, count, _) = decode(&buf[..n]);
    assert_eq!(seq, 3);
    assert_eq!(
        usize::from(count),
        DEFAULT_MAX_PAYLOAD / 21,
        "1400 bytes of 19-byte deletes"
    );
    // Heartbeat one second after the last send, with the next sequence number.
    let next = p.next_sequence();
    while p.poll_transmit(t2 + 5 * MS, &mut buf).is_some() {}
    assert!(p.poll_transmit(t2 + 5 * MS + SEC - 1, &mut buf).is_none());
    let n = p.poll_transmit(t2 + 5 * MS + SEC, &mut buf).unwrap();
    assert_eq!(
        decode(&buf[..n]).0..decode(&buf[..n]).0 + u64::from(decode(&buf[..n]).1),
        next..next
    );
}

#[test]
fn end_of_session_flushes_then_repeats_and_still_serves_requests() {
    let mut p = Publisher::new(
        PublisherConfig {
            session: session(),
            flush_after_ns: SEC,
            ..Default::default()
        },
        START_NS,
    );
    let mut buf = [0u8; MAX_PACKET_LEN];
    let ev = MarketEvent::SystemEvent {
        ts: START_NS,
        code: b'C',
    };
    p.publish(START_NS, &ev).unwrap();
    p.end_session();
    assert!(p.publish(START_NS, &ev).is_err());
    let n = p.poll_transmit(START_NS, &mut buf).unwrap();
    assert_eq!(
        decode(&buf[..n]).1,
        1,
        "unsent messages go first, without waiting"
    );
    let n = p.poll_transmit(START_NS, &mut buf).unwrap();
    let (seq, count, _) = decode(&buf[..n]);
    assert_eq!((seq, count), (2, END_OF_SESSION_COUNT));
    assert!(p.poll_transmit(START_NS + SEC - 1, &mut buf).is_none());
    assert!(p.poll_transmit(START_NS + SEC, &mut buf).is_some());
    assert!(p.poll_transmit(START_NS + 2 * SEC, &mut buf).is_some());
    assert!(p.is_finished());
    assert_eq!(p.poll_timeout(), None);
    assert!(p.poll_transmit(START_NS + 10 * SEC, &mut buf).is_none());
    let mut r = [0u8; 20];
    Request {
        session: session(),
        sequence: 1,
        message_count: 1,
    }
    .emit(&mut r)
    .unwrap();
    let n = p.handle_request(&r, &mut buf).unwrap();
    assert_eq!(decode(&buf[..n]).2.len(), 1);
}
