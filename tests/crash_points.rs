//! Exactly once, proven by crashing everywhere (deterministic simulation).
//!
//! For many seeds, the appliance is stopped right after the k-th journal
//! record, for every k of the run: the engine and every action after that
//! record are dropped (sends after the last journaled intent never
//! happened; the send right after it is covered both ways: seen by the
//! venue or not). A new engine is recovered from the journal prefix (every
//! record encoded and decoded through the binary format; every other crash
//! point through a snapshot of a prefix plus the tail), the session comes up
//! (the venue replays reports from the engine's next expected soup sequence)
//! and the client retries every unanswered command. The run continues to
//! completion and must show: no order ref used for two different requests,
//! resends identical to the first send, executed ≤ total at every moment,
//! every parent FILLED with filled = total = executed, and every venue fill
//! in the journal.

mod support;

use floe::algo::iceberg::StatusCode;
use floe::engine::{Engine, Outbox};
use floe::order::OrderEvent;
use floe::time::Nanos;
use std::collections::BTreeSet;
use support::*;

fn scenario(seed: u64) -> World {
    crash_scenario(seed, 0xc4a5, "c")
}

struct Tally {
    points: u64,
    resends: u64,
    replayed_replies: u64,
}

/// Recovers from the fork and runs to completion; checks everything.
fn continue_after_crash(
    fork: &World,
    next_send: Option<floe::order::OrderRequest>,
    delivered: bool,
    via_snapshot: bool,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut w = fork.clone();
    if delivered {
        if let Some(s) = next_send {
            // The send had left the NIC when the appliance died.
            w.connected = true;
            w.process_send_for_crash(s);
        }
    }
    w.connected = false;
    let records = w.records();
    let mut eng = if via_snapshot {
        let cut = records.len() / 2;
        let head = replay(&w.cfg, w.mode, &records[..cut]);
        let mut e = Engine::restore_with_options(&w.cfg, w.mode.options(), &snapshot_bytes(&head))
            .map_err(|e| format!("restore: {e}"))?;
        for r in &records[cut..] {
            e.apply(r).map_err(|e| format!("apply: {e}"))?;
        }
        e
    } else {
        replay(&w.cfg, w.mode, &records)
    };
    eng.check_invariants()
        .map_err(|e| format!("recovered: {e}"))?;
    // The client retries every command that got no answer.
    let retries: Vec<Script> = std::mem::take(&mut w.pending).into_values().collect();
    let back = w.now + Nanos::from_ms(1);
    let mut rest: Vec<(Nanos, Script)> = w.script.split_off(w.script_pos);
    rest.push((back, Script::Reconnect));
    for s in retries {
        rest.push((back + Nanos::from_us(1), s));
    }
    rest.sort_by_key(|(t, _)| *t);
    w.script.extend(rest);
    let replies_before = w.replies.len();
    let resends_before = w.resends;
    let mut out = Outbox::with_capacity(64);
    let done = w.run(&mut eng, &mut out, None);
    if !w.violations.is_empty() || !w.venue.violations.is_empty() {
        return Err(format!("{:?} {:?}", w.violations, w.venue.violations));
    }
    if !done {
        return Err(format!(
            "did not finish: live parents {}",
            eng.live_parents()
        ));
    }
    tally.resends += w.resends - resends_before;
    tally.replayed_replies += w.replies[replies_before..]
        .iter()
        .filter(|(_, r)| matches!(r, floe::engine::Reply::Accepted { replay: true, .. }))
        .count() as u64;
    let scripted = w
        .script
        .iter()
        .filter_map(|(_, s)| match s {
            Script::New { coid, .. } => Some(coid.clone()),
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .len();
    if w.by_coid.len() != scripted {
        return Err(format!(
            "{} parents answered, {scripted} scripted",
            w.by_coid.len()
        ));
    }
    for t in &w.parents {
        let s = eng.parent_status(t.id).ok_or("parent lost")?;
        let exec = w.venue.executed.get(&t.id).copied().unwrap_or(0);
        if s.status != StatusCode::Filled || s.filled != s.total || u64::from(s.filled.0) != exec {
            return Err(format!(
                "parent {}: {:?} filled {} total {} venue {exec}",
                t.id, s.status, s.filled.0, s.total.0
            ));
        }
    }
    let journaled: BTreeSet<u64> = w
        .records()
        .iter()
        .filter_map(|r| match r {
            floe::engine::Record::VenueEvent {
                event: OrderEvent::Executed { match_number, .. },
                ..
            } => Some(*match_number),
            _ => None,
        })
        .collect();
    for m in w.venue.fills() {
        if !journaled.contains(&m) {
            return Err(format!("venue fill {m} missing from the journal"));
        }
    }
    tally.points += 1;
    Ok(())
}

#[test]
fn exactly_once_at_every_crash_point() {
    let mut tally = Tally {
        points: 0,
        resends: 0,
        replayed_replies: 0,
    };
    let mut failures: Vec<String> = Vec::new();
    let mut seed = 0u64;
    while tally.points < 12_000 && seed < 2_000 {
        let mut w = scenario(seed);
        let mut eng = w.engine();
        let mut out = Outbox::with_capacity(64);
        w.start(&mut eng, &mut out);
        let mut k = 0u64;
        let mut hook = |cp: CrashPoint<'_>| {
            k += 1;
            let variants: &[bool] = if cp.next_send.is_some() {
                &[true, false]
            } else {
                &[false]
            };
            for &delivered in variants {
                if failures.len() >= 5 {
                    return;
                }
                let via_snapshot = k.is_multiple_of(3);
                if let Err(e) = continue_after_crash(
                    cp.world,
                    cp.next_send,
                    delivered,
                    via_snapshot,
                    &mut tally,
                ) {
                    failures.push(format!(
                        "seed {seed} crash after record {} (delivered {delivered}, snapshot {via_snapshot}): {e}",
                        cp.world.journal.len()
                    ));
                }
            }
        };
        let done = w.run(&mut eng, &mut out, Some(&mut hook));
        assert!(
            done && w.violations.is_empty(),
            "seed {seed}: uninterrupted run failed: {:?}",
            w.violations
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        seed += 1;
    }
    eprintln!(
        "{} crash points over {seed} seeds; {} resends; {} replayed answers",
        tally.points, tally.resends, tally.replayed_replies
    );
    assert!(tally.points >= 10_000);
    assert!(tally.resends > 0 && tally.replayed_replies > 0);
}
