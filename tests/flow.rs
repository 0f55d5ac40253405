//! The synthetic flow driving the matching engine: determinism per seed, its
//! rate, a two-sided book around a bounded mid, and passive session orders at
//! the touch filled within a bounded simulated time.

use floe::config::Dialect;
use floe::exchange::flow::synthetic_symbols;
use floe::exchange::{
    Flow, FlowConfig, FlowSymbol, MarketEvent, MatchingConfig, MatchingEngine, SessionConfig,
    SessionName, VenueOutput,
};
use floe::order::{ChildTag, OrderEvent, OrderRef, OrderRequest, TimeInForce};
use floe::types::{Price4, Qty, Side, Symbol};

const START_NS: u64 = 34_200_000_000_000; // 09:30
const SEC: u64 = 1_000_000_000;

fn setup(seed: u64, symbols: &[Symbol]) -> (MatchingEngine, Flow) {
    let engine = MatchingEngine::new(&MatchingConfig {
        symbols: symbols.to_vec(),
        ..MatchingConfig::default()
    });
    let flow = Flow::new(
        FlowConfig {
            seed,
            symbols: symbols
                .iter()
                .map(|&symbol| FlowSymbol {
                    symbol,
                    mid: Price4(250_000),
                })
                .collect(),
            ..FlowConfig::default()
        },
        START_NS,
    );
    (engine, flow)
}

/// Steps the flow event by event until `until_ns`.
fn run(engine: &mut MatchingEngine, flow: &mut Flow, until_ns: u64, out: &mut Vec<VenueOutput>) {
    while flow.next_due() <= until_ns {
        let t = flow.next_due();
        flow.poll(t, engine, out);
    }
}

#[test]
fn same_seed_same_outputs_other_seed_other_outputs() {
    let syms = synthetic_symbols(3);
    let trace = |seed: u64, step_ns: u64| {
        let (mut e, mut f) = setup(seed, &syms);
        let mut out = Vec::new();
        let mut now = START_NS;
        while now < START_NS + 2 * SEC {
            now += step_ns;
            f.poll(now, &mut e, &mut out);
        }
        out
    };
    let a = trace(7, 1_000_000);
    let b = trace(7, 1_000_000);
    assert!(a.len() > 1_000, "{} outputs", a.len());
    assert_eq!(a, b);
    assert_ne!(a, trace(8, 1_000_000));
    // Each event happens at its due time: polling in other steps gives the
    // same flow when no session input is interleaved.
    assert_eq!(a, trace(7, 333_333));
}

#[test]
fn rate_is_the_configured_one_and_the_book_stays_two_sided_around_a_bounded_mid() {
    let syms = synthetic_symbols(2);
    let (mut e, mut f) = setup(11, &syms);
    let mut out = Vec::new();
    run(&mut e, &mut f, START_NS + SEC, &mut out);
    let events_1s = f.stats().events;
    let (mut samples, mut two_sided) = (0u32, 0u32);
    for ms in 1_000..20_000u64 {
        run(&mut e, &mut f, START_NS + ms * 1_000_000, &mut out);
        for &s in &syms {
            let q = e.quote(s).unwrap();
            samples += 1;
            if let (Some(b), Some(a)) = (q.bid, q.ask) {
                two_sided += 1;
                assert!(b.price < a.price, "crossed: {q:?}");
            }
            let (bid, ask) = e.best_prices(s).unwrap();
            if let (Some(b), Some(a)) = (bid, ask) {
                assert!(b < a, "crossed at rest");
            }
            let mid = f.mid(s).unwrap().0;
            assert!(mid.abs_diff(250_000) <= 20 * 100, "mid {mid} left its band");
        }
        out.clear();
    }
    let rate = f.stats().events as f64 / 20.0;
    assert!((950.0..1_050.0).contains(&rate), "rate {rate}/s");
    assert!(events_1s > 800, "{events_1s} events in the first second");
    assert!(
        two_sided as f64 >= 0.99 * samples as f64,
        "two-sided {two_sided}/{samples}"
    );
    let st = f.stats();
    assert!(
        st.marketable > 0 && st.passive > 0 && st.cancels > 0 && st.walks > 0,
        "{st:?}"
    );
    assert_eq!(st.refused, 0);
    assert!(
        e.resting_count() <= 2 * 200 + 2,
        "{} resting",
        e.resting_count()
    );
}

#[test]
fn a_passive_order_at_the_touch_fills_within_bounded_time() {
    for seed in 1..=6u64 {
        for side in [Side::Buy, Side::Sell] {
            let sym = Symbol::new("AAPL").unwrap();
            let (mut e, mut f) = setup(seed, &[sym]);
            let s = e
                .add_session(SessionConfig {
                    name: SessionName::new("FLOE").unwrap(),
                    dialect: Dialect::Ouch50,
                    cancel_on_disconnect: false,
                    attribution: None,
                })
                .unwrap();
            let mut out = Vec::new();
            run(&mut e, &mut f, START_NS + SEC, &mut out);
            let q = e.quote(sym).unwrap();
            let price = match side {
                Side::Buy => q.bid.unwrap().price,
                Side::Sell => q.ask.unwrap().price,
            };
            let now = START_NS + SEC;
            let req = OrderRequest::Enter {
                order: OrderRef(1),
                tag: ChildTag {
                    parent: 1,
                    child: 1,
                },
                side,
                qty: Qty(500),
                symbol: sym,
                price,
                tif: TimeInForce::Day,
            };
            e.handle(now, s, &req, &mut out);
            let mut filled_at = None;
            let deadline = now + 60 * SEC;
            out.clear();
            while f.next_due() <= deadline {
                let t = f.next_due();
                f.poll(t, &mut e, &mut out);
                if e.executed(s, OrderRef(1)) == Qty(500) {
                    filled_at = Some(t - now);
                    break;
                }
            }
            let took = filled_at.unwrap_or_else(|| {
                panic!(
                    "seed {seed} {side:?}: {} of 500 filled in 60 s",
                    e.executed(s, OrderRef(1)).0
                )
            });
            // The fills reached the session as reports, each with its market event.
            let fills: u32 = out
                .iter()
                .filter_map(|o| match o {
                    VenueOutput::Report {
                        event: OrderEvent::Executed { qty, .. },
                        ..
                    } => Some(qty.0),
                    _ => None,
                })
                .sum();
            assert_eq!(fills, 500);
            assert!(out
                .iter()
                .any(|o| matches!(o, VenueOutput::Market(MarketEvent::Executed { .. }))));
            eprintln!(
                "seed {seed} {side:?}: filled in {:.3} s",
                took as f64 / SEC as f64
            );
        }
    }
}
