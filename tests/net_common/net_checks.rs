//! The checks every network-stack scenario ends with, whatever the NIC.

use super::floe_side::FloeSide;
use super::venue::mold_message;
use floe::order::event::{OrderEvent, OrderRef};

/// Every feed message exactly once, in order, intact; the schedule's gaps,
/// duplicates and reordering were seen and recovered.
pub fn check_feed(floe: &FloeSide, gaps: usize) {
    let seqs: Vec<u64> = floe.delivered.iter().map(|(s, _)| *s).collect();
    let want: Vec<u64> = (1..=super::kernel_venue::MESSAGES).collect();
    assert_eq!(seqs, want, "every message exactly once and in order");
    for (seq, msg) in &floe.delivered {
        assert_eq!(msg, &mold_message(*seq), "message {seq} intact");
    }
    let c = floe.mold.counters();
    assert!(gaps > 0);
    assert!(c.gaps >= 1, "gaps detected: {c:?}");
    assert!(c.duplicate_packets > 0, "duplicates suppressed: {c:?}");
    assert!(c.reordered > 0, "out-of-order packets buffered: {c:?}");
    assert_eq!(c.messages_lost, 0, "nothing given up: {c:?}");
}

/// The orders reached the venue once each, in order; the reports came back
/// numbered 1.. without a hole or a repeat; the second login asked for the
/// first message floe had not seen, and the venue replayed exactly those.
pub fn check_orders(
    floe: &FloeSide,
    venue_logins: &[u64],
    venue_orders: &[u32],
    before: u32,
    after: u32,
) {
    let missed = super::kernel_venue::MISSED;
    let want_orders: Vec<u32> = (1..=before + after).collect();
    assert_eq!(venue_orders, &want_orders[..], "each order once, in order");
    let resume = u64::from(2 * before + 1);
    assert_eq!(
        venue_logins,
        &[1, resume],
        "logins at 1, then at the first unseen message"
    );
    assert_eq!(floe.logins, vec![1, resume], "the venue accepted both");
    let seqs: Vec<u64> = floe.reports.iter().map(|(s, _)| *s).collect();
    let total = u64::from(2 * (before + after) + missed);
    assert_eq!(
        seqs,
        (1..=total).collect::<Vec<_>>(),
        "every report once, in order"
    );
    let mut expect = Vec::new();
    for k in 1..=before {
        expect.push(('A', k));
        expect.push(('E', k));
    }
    for k in 1..=missed {
        expect.push(('E', k));
    }
    for k in before + 1..=before + after {
        expect.push(('A', k));
        expect.push(('E', k));
    }
    let got: Vec<(char, u32)> = floe
        .reports
        .iter()
        .map(|(_, ev)| match ev {
            OrderEvent::Accepted {
                order: OrderRef(o), ..
            } => ('A', *o),
            OrderEvent::Executed {
                order: OrderRef(o), ..
            } => ('E', *o),
            other => panic!("unexpected report {other:?}"),
        })
        .collect();
    assert_eq!(
        got, expect,
        "the reports, including the ones missed while down"
    );
    assert_eq!(floe.soup.next_expected(), total + 1);
}
