//! Replay: an engine rebuilt from the journal (or from a snapshot of a
//! prefix plus the tail) is the same engine. For random runs, the appliance
//! is swapped for a recovered one at a session drop and the run continues:
//! every later send, journal record and the final state are identical to the
//! uninterrupted run's.

mod support;

use floe::engine::{Engine, Outbox};
use floe::time::Nanos;
use rand::RngExt;
use support::*;

/// The scenario of `seed` with a session drop at a random instant, after
/// which the feed re-sends the last quotes and the session comes back.
fn with_drop(seed: u64) -> (World, Nanos) {
    let mut w = random_scenario(seed);
    let mut r = rng(seed ^ 0xd12);
    let t = Nanos::from_us(r.random_range(300..20_000));
    w.script.push((t, Script::Disconnect));
    w.script.push((t + Nanos::from_us(1), Script::Refeed));
    w.script.push((
        t + Nanos::from_us(r.random_range(50..2_000)),
        Script::Reconnect,
    ));
    w.script.sort_by_key(|(a, _)| *a);
    (w, t)
}

fn recovered(w: &World, seed: u64) -> Engine {
    let records = w.records();
    if seed.is_multiple_of(2) {
        return replay(&w.cfg, w.mode, &records);
    }
    let cut = (seed as usize * 31) % (records.len() + 1);
    let head = replay(&w.cfg, w.mode, &records[..cut]);
    let mut e =
        Engine::restore_with_options(&w.cfg, w.mode.options(), &snapshot_bytes(&head)).unwrap();
    for r in &records[cut..] {
        e.apply(r).unwrap();
    }
    e
}

#[test]
fn a_recovered_engine_continues_exactly_like_the_original() {
    let mut swapped = 0;
    let mut after = 0;
    for seed in 0..400u64 {
        let (start, t) = with_drop(seed);
        // Uninterrupted.
        let mut a = start.clone();
        let mut ea = a.engine();
        let mut out = Outbox::with_capacity(64);
        a.start(&mut ea, &mut out);
        assert!(
            a.run(&mut ea, &mut out, None),
            "seed {seed}: {:?}",
            a.violations
        );
        // Swapped for a recovered engine right after the drop at `t`.
        let mut b = start;
        let mut eb = b.engine();
        let mut out = Outbox::with_capacity(64);
        b.start(&mut eb, &mut out);
        while b.now < t || b.script.get(b.script_pos).is_some_and(|(a, _)| *a <= t) {
            if !b.step(&mut eb, &mut out, None) {
                break;
            }
        }
        assert!(
            !b.connected || b.now > t,
            "seed {seed}: swap while connected"
        );
        let at_swap = snapshot_bytes(&eb);
        eb = recovered(&b, seed);
        assert_eq!(
            snapshot_bytes(&eb),
            at_swap,
            "seed {seed}: recovered state differs"
        );
        let sends_before = b.sends.len();
        let journal_before = b.journal.len();
        assert!(
            b.run(&mut eb, &mut out, None),
            "seed {seed}: {:?}",
            b.violations
        );
        assert!(
            a.violations.is_empty() && b.violations.is_empty(),
            "seed {seed}"
        );
        assert_eq!(a.sends.len(), b.sends.len(), "seed {seed}: send count");
        assert_eq!(
            a.sends[sends_before..],
            b.sends[sends_before..],
            "seed {seed}: sends after the swap"
        );
        assert_eq!(
            a.journal[journal_before..],
            b.journal[journal_before..],
            "seed {seed}: journal after the swap"
        );
        assert_eq!(
            snapshot_bytes(&ea),
            snapshot_bytes(&eb),
            "seed {seed}: final state"
        );
        after += b.sends.len() - sends_before;
        swapped += 1;
    }
    assert_eq!(swapped, 400);
    assert!(
        after > 2_000,
        "the recovered engines kept trading: {after} sends"
    );
}

#[test]
fn replaying_twice_gives_the_same_bytes() {
    for seed in 0..50u64 {
        let mut w = random_scenario(seed);
        let mut e = w.engine();
        let mut out = Outbox::with_capacity(64);
        w.start(&mut e, &mut out);
        w.run(&mut e, &mut out, None);
        let records = w.records();
        let one = snapshot_bytes(&replay(&w.cfg, w.mode, &records));
        let two = snapshot_bytes(&replay(&w.cfg, w.mode, &records));
        assert_eq!(one, two);
        assert_eq!(one, snapshot_bytes(&e), "seed {seed}");
        // A snapshot restores to the same bytes.
        let back = Engine::restore_with_options(&w.cfg, w.mode.options(), &one).unwrap();
        assert_eq!(snapshot_bytes(&back), one);
    }
}
