//! Deterministic simulation of the engine against the venue model.

mod support;

use floe::algo::iceberg::StatusCode;
use floe::engine::Outbox;
use floe::order::OrderRequest;
use floe::types::Side;
use support::*;

fn buy_10k(mode: Mode, seed: u64, peg: bool) -> World {
    let cfg = test_config();
    let mut w = World::new(mode, cfg, seed, &[("AAPL", 100_0000)]);
    let mut p = params("AAPL", Side::Buy, 10_000, 100, 200_000, 100_0500);
    p.peg = peg;
    p.min_delay_ms = 0;
    p.max_delay_ms = 2;
    w.script.push((
        floe::time::Nanos::from_us(10),
        Script::New {
            coid: "buy-10k".into(),
            params: p,
            seed: seed ^ 0xabc,
        },
    ));
    w.quiet_after_script = false;
    let mut eng = w.engine();
    let mut out = Outbox::with_capacity(256);
    w.start(&mut eng, &mut out);
    assert!(
        w.run(&mut eng, &mut out, None),
        "run did not finish: {:?}",
        w.violations
    );
    w
}

#[test]
fn buy_10000_display_100_fills_completely() {
    for (i, mode) in [Mode::Ouch50, Mode::Ouch42].into_iter().enumerate() {
        for peg in [false, true] {
            let w = buy_10k(mode, 7 + i as u64, peg);
            assert!(w.violations.is_empty(), "{:?}", w.violations);
            let t = &w.parents[0];
            let last = t.last.unwrap();
            assert_eq!(last.status, StatusCode::Filled);
            assert_eq!(last.filled.0, 10_000);
            assert_eq!(w.venue.executed[&t.id], 10_000);
            let enters: Vec<u32> = w
                .sends
                .iter()
                .filter_map(|(_, s)| match s {
                    OrderRequest::Enter { qty, .. } => Some(qty.0),
                    _ => None,
                })
                .collect();
            // 100 ± 20 %: every slice but the last in 80..=120.
            let (last_slice, rest) = enters.split_last().unwrap();
            assert!(rest.iter().all(|q| (80..=120).contains(q)), "{enters:?}");
            assert!(*last_slice <= 120);
            assert!(enters.len() >= 10_000 / 120, "{} children", enters.len());
            assert!(rest.iter().any(|&q| q != 100), "variance is drawn");
            // Accepted as NEW; the first slice went out in the same call.
            assert!(w.replies.iter().any(|(_, r)| matches!(
                r,
                floe::engine::Reply::Accepted {
                    status: StatusCode::New,
                    replay: false,
                    ..
                }
            )));
            // With OUCH 5.0 the first slice waits for the Account Query answer.
            let first = if mode == Mode::Ouch50 {
                StatusCode::New
            } else {
                StatusCode::Working
            };
            assert_eq!(t.statuses.first(), Some(&first), "{mode:?}");
        }
    }
}

#[test]
fn same_seed_gives_the_same_child_schedule() {
    let a = buy_10k(Mode::Ouch50, 99, true);
    let b = buy_10k(Mode::Ouch50, 99, true);
    assert_eq!(a.sends, b.sends);
    assert_eq!(a.journal, b.journal);
    let c = buy_10k(Mode::Ouch50, 100, true);
    assert_ne!(
        a.sends, c.sends,
        "a different seed gives a different schedule"
    );
}
