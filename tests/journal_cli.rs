//! `floe journal inspect|verify` end to end: the built binary on journals
//! written by simulated runs through `Recorder`, then on copies with a
//! crafted violation, a corrupted byte, a torn tail, or nothing in them.

mod support;

use floe::config::Config;
use floe::engine::{ChildIntent, IntentKind, Outbox, Record, Recorder};
use floe::journal::{Journal, JournalOptions, JournalReader};
use floe::order::{ChildTag, OrderEvent, OrderRef, TimeInForce};
use floe::time::Nanos;
use floe::types::{Price4, Qty, Side, Symbol};
use std::path::{Path, PathBuf};
use std::process::Command;
use support::*;

struct Run {
    out: String,
    err: String,
    code: i32,
}

fn floe(args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_floe"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run floe");
    Run {
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
        code: o.status.code().unwrap_or(-1),
    }
}

fn verify(dir: &Path, cfg: &Path) -> Run {
    floe(&[
        "journal",
        "verify",
        dir.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ])
}

fn opts(segment_bytes: u64, snapshot_every: u64) -> JournalOptions {
    let mut o = JournalOptions::default().with_segment_bytes(segment_bytes);
    o.snapshot_every = snapshot_every;
    o.prefault_bytes = 4096;
    o
}

/// What a run journaled, counted independently of the tool.
#[derive(Debug, Default)]
struct Counts {
    records: u64,
    parents: u64,
    children: u64,
    fills: u64,
    shares: u64,
    /// (order ref, tag) of every Enter.
    enters: Vec<(OrderRef, ChildTag)>,
    totals: Vec<(u32, u32)>,
    last_soup: u64,
    snapshots: u64,
}

/// Runs seeds of the random scenario until one has fills, journaling every
/// record through a `Recorder`; snapshots every `snapshot_every` records
/// (taken between steps, with the outbox drained).
fn produce(dir: &Path, segment_bytes: u64, snapshot_every: u64) -> (World, Counts) {
    for seed in 0..200 {
        let _ = std::fs::remove_dir_all(dir);
        let mut w = random_scenario(seed);
        let mut eng = w.engine();
        let mut out = Outbox::with_capacity(64);
        let (mut rec, _, _) = Recorder::open_with(
            &w.cfg,
            w.mode.options(),
            dir,
            opts(segment_bytes, snapshot_every),
        )
        .unwrap();
        w.start(&mut eng, &mut out);
        let mut appended = 0usize;
        let mut steps = 0;
        while !w.quiescent(&eng) && steps < 200_000 {
            let more = {
                let mut hook = |cp: CrashPoint<'_>| {
                    while appended < cp.world.journal.len() {
                        let (t, b) = &cp.world.journal[appended];
                        rec.record(&Record::decode(*t, b).unwrap()).unwrap();
                        appended += 1;
                    }
                };
                w.step(&mut eng, &mut out, Some(&mut hook))
            };
            // Records of calls made without the hook (cancel-all), in order.
            while appended < w.journal.len() {
                let (t, b) = &w.journal[appended];
                rec.record(&Record::decode(*t, b).unwrap()).unwrap();
                appended += 1;
            }
            if rec.maybe_snapshot(&eng).unwrap().is_some() {
                rec.wait_snapshot().unwrap();
            }
            if !more {
                break;
            }
            steps += 1;
        }
        assert!(w.violations.is_empty(), "seed {seed}: {:?}", w.violations);
        rec.flush().unwrap();
        let c = count(&w);
        if c.fills >= 3 && c.parents >= 2 {
            let snapshots = floe::journal::snapshot::list_snapshots(dir).unwrap().len() as u64;
            return (w, Counts { snapshots, ..c });
        }
    }
    panic!("no seed produced fills");
}

fn count(w: &World) -> Counts {
    let mut c = Counts::default();
    for r in w.records() {
        c.records += 1;
        match r {
            Record::ParentAccepted { parent, params, .. } => {
                c.parents += 1;
                c.totals.push((parent, params.total.0));
            }
            Record::ChildIntent(ChildIntent {
                kind: IntentKind::Enter { .. },
                order_ref,
                tag,
                ..
            }) => {
                c.children += 1;
                c.enters.push((order_ref, tag));
            }
            Record::VenueEvent {
                soup_seq, event, ..
            } => {
                c.last_soup = soup_seq;
                if let OrderEvent::Executed { qty, .. } = event {
                    c.fills += 1;
                    c.shares += u64::from(qty.0);
                }
            }
            _ => {}
        }
    }
    c
}

fn write_config(dir: &Path, cfg: &Config) -> PathBuf {
    let p = dir.join("floe.toml");
    std::fs::write(&p, toml::to_string(cfg).unwrap()).unwrap();
    p
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() != "LOCK" {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Appends `rec` to the journal in `dir` through the journal alone.
fn append(dir: &Path, rec: &Record) -> u64 {
    let (mut j, _) = Journal::open(dir, opts(1 << 20, 0)).unwrap();
    let mut b = [0u8; 128];
    let n = rec.encode(&mut b).unwrap();
    let seq = j.append(rec.record_type(), &b[..n]).unwrap();
    j.flush().unwrap();
    seq
}

fn summary(c: &Counts) -> String {
    format!(
        "valid: {} records (seq 1..{}), {} parents, {} children, {} fills ({} shares), {} snapshots",
        c.records, c.records, c.parents, c.children, c.fills, c.shares, c.snapshots
    )
}

#[test]
fn verify_and_inspect_a_simulated_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let (w, c) = produce(&dir, 1 << 20, 0);
    let cfg = write_config(tmp.path(), &w.cfg);

    let r = verify(&dir, &cfg);
    assert_eq!(r.code, 0, "{} {}", r.out, r.err);
    assert_eq!(r.out.trim(), summary(&c));
    // Without --config the defaults (larger pools) replay it as well.
    let r = floe(&["journal", "verify", dir.to_str().unwrap()]);
    assert_eq!(
        (r.code, r.out.trim()),
        (0, summary(&c).as_str()),
        "{}",
        r.err
    );

    // inspect: segments, then one line per record, in order.
    let r = floe(&["journal", "inspect", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.err);
    let lines: Vec<&str> = r
        .out
        .lines()
        .filter(|l| !l.starts_with("segment") && !l.starts_with("snapshot"))
        .collect();
    assert_eq!(lines.len() as u64, c.records);
    for (i, l) in lines.iter().enumerate() {
        let seq: u64 = l.split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(seq, i as u64 + 1, "{l}");
    }
    // SEQ  TIME  TYPE  what: the time in seconds (a simulated clock), the
    // order as SIDE QTY SYMBOL @ PRICE with four decimals.
    let decimal4 = |p: &str| {
        let (int, frac) = p.split_once('.').unwrap_or((p, ""));
        int.parse::<u32>().is_ok() && frac.len() == 4 && frac.parse::<u32>().is_ok()
    };
    for l in &lines {
        let t = l.split_whitespace().nth(1).unwrap();
        let (secs, ns) = t.split_once('.').unwrap();
        assert!(secs.parse::<u64>().is_ok() && ns.len() == 9, "{l}");
        if let Some((_, after)) = l.split_once(" @ ") {
            assert!(decimal4(after.split(' ').next().unwrap()), "{l}");
        }
    }
    let (oref, tag) = c.enters[0];
    let intent = lines
        .iter()
        .find(|l| {
            l.contains("  child_intent     enter ") && l.contains(&format!(" ref={} ", oref.0))
        })
        .expect("the first enter");
    assert!(
        intent.contains(&format!(
            " parent={} child={} ref={} ",
            tag.parent, tag.child, oref.0
        )),
        "{intent}"
    );
    let id = intent
        .split(" id=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert_eq!(
        floe::order::decode_id(id.as_bytes().try_into().unwrap()).unwrap(),
        (oref, tag),
        "{intent}"
    );
    let order: Vec<&str> = intent.split("  ").last().unwrap().split(' ').collect();
    assert!(
        matches!(order[0], "BUY" | "SELL")
            && order[1].parse::<u32>().is_ok()
            && order[3] == "@"
            && decimal4(order[4])
            && matches!(order[5], "DAY" | "IOC"),
        "{intent}"
    );
    let accepted = lines
        .iter()
        .find(|l| l.contains("  parent_accepted  "))
        .unwrap();
    assert!(
        accepted.contains(" coid=s") && accepted.contains(" limit "),
        "{accepted}"
    );
    let fill = lines
        .iter()
        .find(|l| l.contains("  venue_event      executed "))
        .expect("a fill");
    assert!(
        fill.contains(" soup=") && fill.contains(" match="),
        "{fill}"
    );
    assert!(
        r.out
            .starts_with("segment 1: 0000000000000001.seg, 1 MiB, first seq 1\n"),
        "{}",
        r.out
    );

    // --json: every line is an object; records carry stable keys in order.
    let r = floe(&["journal", "inspect", "--json", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.err);
    let mut records = 0u64;
    let mut saw_intent = false;
    let mut saw_fill = false;
    for l in r.out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(l.starts_with("{\"kind\":"), "{l}");
        match v["kind"].as_str().unwrap() {
            // In use, or the spare the writer keeps ready.
            "segment" => assert!(v["state"] == "ok" || v["state"] == "unused", "{l}"),
            "record" => {
                records += 1;
                assert_eq!(v["seq"], records);
                assert!(l.starts_with(&format!(
                    "{{\"kind\":\"record\",\"seq\":{records},\"segment\":"
                )));
                assert!(v["at_ns"].is_u64() && v["offset"].is_u64());
                match v["type"].as_str().unwrap() {
                    "child_intent" if v["intent"] == "enter" => {
                        saw_intent = true;
                        let id = v["id"].as_str().unwrap();
                        assert_eq!(id.len(), 14);
                        let (o, t) =
                            floe::order::decode_id(id.as_bytes().try_into().unwrap()).unwrap();
                        assert_eq!(u64::from(o.0), v["order_ref"].as_u64().unwrap());
                        assert_eq!(u64::from(t.parent), v["parent"].as_u64().unwrap());
                        assert!(v["qty"].is_u64() && v["price"].is_string());
                    }
                    "venue_event" if v["event"] == "executed" => {
                        saw_fill = true;
                        assert!(v["match_number"].is_u64() && v["soup_seq"].is_u64());
                        let p = v["price"].as_str().unwrap();
                        assert_eq!(p.split_once('.').unwrap().1.len(), 4);
                    }
                    "parent_accepted" => {
                        assert!(v["client_order_id"].is_string() && v["limit"].is_string());
                        assert!(v["side"] == "BUY" || v["side"] == "SELL");
                    }
                    _ => {}
                }
            }
            other => panic!("unexpected {other}: {l}"),
        }
    }
    assert_eq!(records, c.records);
    assert!(saw_intent && saw_fill);

    // inspect stops at the first broken pipe quietly.
    let mut child = Command::new(env!("CARGO_BIN_EXE_floe"))
        .args(["journal", "inspect", dir.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn crafted_violations_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let (w, c) = produce(&dir, 1 << 20, 0);
    let cfg = write_config(tmp.path(), &w.cfg);
    let next = c.records + 1;
    let at = Nanos::from_secs(100);
    let sym = Symbol::new("AAPL").unwrap();
    let (oref, tag) = c.enters[0];
    let total = c.totals.iter().find(|(p, _)| *p == tag.parent).unwrap().1;

    // A fill beyond the parent's total.
    let case = tmp.path().join("overfill");
    copy_dir(&dir, &case);
    append(
        &case,
        &Record::VenueEvent {
            at,
            soup_seq: c.last_soup + 1,
            event: OrderEvent::Executed {
                ts: 1,
                order: oref,
                qty: Qty(total + 1),
                price: Price4(50_0000),
                liquidity: b'A',
                match_number: 9_999_999,
            },
        },
    );
    let r = verify(&case, &cfg);
    assert_eq!(r.code, 1, "{} {}", r.out, r.err);
    assert!(
        r.out.starts_with(&format!("invalid: seq {next} ")),
        "{}",
        r.out
    );
    assert!(
        r.out.contains(&format!("parent {} filled", tag.parent))
            && r.out.contains(&format!("above its total {total}")),
        "{}",
        r.out
    );

    // A second intent under an order ref already used.
    let case = tmp.path().join("reused-ref");
    copy_dir(&dir, &case);
    let intent = |order_ref, tag| {
        Record::ChildIntent(ChildIntent {
            at,
            tag,
            order_ref,
            side: Side::Buy,
            symbol: sym,
            qty: Qty(10),
            price: Price4(50_0000),
            kind: IntentKind::Enter {
                tif: TimeInForce::Day,
                next_delay: Nanos(0),
                rng_draws: 0,
            },
        })
    };
    let other = ChildTag {
        parent: tag.parent,
        child: 5_000,
    };
    append(&case, &intent(oref, other));
    let r = verify(&case, &cfg);
    assert_eq!(r.code, 1, "{} {}", r.out, r.err);
    assert!(
        r.out.starts_with(&format!("invalid: seq {next} "))
            && r.out.contains(&format!(
                "order ref {} used by two intents: parent {} child {}",
                oref.0, tag.parent, tag.child
            )),
        "{}",
        r.out
    );

    // An intent for a parent never accepted.
    let case = tmp.path().join("orphan");
    copy_dir(&dir, &case);
    append(
        &case,
        &intent(
            OrderRef(4_000_000),
            ChildTag {
                parent: 777,
                child: 1,
            },
        ),
    );
    let r = verify(&case, &cfg);
    assert_eq!(r.code, 1);
    assert!(
        r.out.contains("child intent for unknown parent 777"),
        "{}",
        r.out
    );

    // A fill for a child the journal never entered.
    let case = tmp.path().join("unknown-fill");
    copy_dir(&dir, &case);
    append(
        &case,
        &Record::VenueEvent {
            at,
            soup_seq: c.last_soup + 1,
            event: OrderEvent::Executed {
                ts: 1,
                order: OrderRef(3_999_999),
                qty: Qty(5),
                price: Price4(50_0000),
                liquidity: b'A',
                match_number: 1,
            },
        },
    );
    let r = verify(&case, &cfg);
    assert_eq!(r.code, 1);
    assert!(
        r.out.contains("fill of 5 for unknown order ref 3999999"),
        "{}",
        r.out
    );

    // A report journaled twice.
    let case = tmp.path().join("dup-soup");
    copy_dir(&dir, &case);
    append(
        &case,
        &Record::VenueEvent {
            at,
            soup_seq: c.last_soup,
            event: OrderEvent::SystemEvent { ts: 1, code: b'E' },
        },
    );
    let r = verify(&case, &cfg);
    assert_eq!(r.code, 1);
    assert!(
        r.out
            .contains(&format!("soup sequence {} is not above", c.last_soup)),
        "{}",
        r.out
    );

    // A record that passes its crc but is no engine record.
    let case = tmp.path().join("foreign");
    copy_dir(&dir, &case);
    {
        let (mut j, _) = Journal::open(&case, opts(1 << 20, 0)).unwrap();
        j.append(0x4242, b"hello").unwrap();
    }
    let r = verify(&case, &cfg);
    assert_eq!(r.code, 1);
    assert!(
        r.out.contains(&format!("invalid: seq {next} "))
            && r.out.contains("does not decode (type 0x4242)"),
        "{}",
        r.out
    );
    let r = floe(&["journal", "inspect", "--json", case.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    let last: serde_json::Value = serde_json::from_str(r.out.lines().last().unwrap()).unwrap();
    assert_eq!(
        (last["kind"].as_str(), last["type_code"].as_u64()),
        (Some("undecodable"), Some(0x4242))
    );
}

#[test]
fn a_corrupted_byte_names_the_bad_crc() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let (w, c) = produce(&dir, 1 << 20, 0);
    let cfg = write_config(tmp.path(), &w.cfg);
    let victim = (c.records / 2).max(1);
    let (segment, offset) = {
        let reader = JournalReader::open(&dir).unwrap();
        let r = reader
            .records()
            .map(|r| r.unwrap())
            .find(|r| r.seq == victim)
            .unwrap();
        (r.segment, r.offset)
    };
    let path = dir.join(format!("{segment:016}.seg"));
    let mut b = std::fs::read(&path).unwrap();
    b[offset as usize + 24 + 3] ^= 0x10;
    std::fs::write(&path, b).unwrap();
    let r = verify(&dir, &cfg);
    assert_eq!(r.code, 1, "{}", r.out);
    assert_eq!(
        r.out.trim(),
        format!("invalid: bad crc at segment {segment} offset {offset} (sequence field {victim})")
    );
    let r = floe(&["journal", "inspect", dir.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    let body: Vec<&str> = r
        .out
        .lines()
        .filter(|l| !l.starts_with("segment"))
        .collect();
    assert_eq!(
        body.len() as u64,
        victim,
        "records before the damage, then the problem"
    );
    assert!(body
        .last()
        .unwrap()
        .starts_with("problem: bad crc at segment"));
}

/// The journal a process leaves when it dies in the middle of an append
/// (the record's bytes written, its commit word — stored last — not):
/// verify names the torn write, inspect lists every whole record and the
/// problem; after the appliance's own recovery (`Recorder::open`, which
/// cuts the tail) verify passes on the records before it.
#[test]
fn a_torn_tail_is_named_and_recovery_makes_the_journal_valid() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let (w, c) = produce(&dir, 1 << 20, 0);
    let cfg = write_config(tmp.path(), &w.cfg);
    let last = JournalReader::open(&dir)
        .unwrap()
        .records()
        .map(|r| r.unwrap())
        .map(|r| (r.seq, r.segment, r.offset))
        .last()
        .unwrap();
    let (seq, segment, offset) = last;
    assert_eq!(seq, c.records);
    let path = dir.join(format!("{segment:016}.seg"));
    let mut b = std::fs::read(&path).unwrap();
    let start = offset as usize;
    b[start..start + 8].fill(0);
    let torn = b[start..].iter().rposition(|&x| x != 0).unwrap() + 1;
    std::fs::write(&path, b).unwrap();

    let r = verify(&dir, &cfg);
    assert_eq!(r.code, 1, "{} {}", r.out, r.err);
    assert_eq!(
        r.out.trim(),
        format!(
            "invalid: torn write at segment {segment} offset {offset}: {torn} bytes after the last record"
        )
    );
    let r = floe(&["journal", "inspect", dir.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.err);
    let body: Vec<&str> = r
        .out
        .lines()
        .filter(|l| !l.starts_with("segment"))
        .collect();
    assert_eq!(body.len() as u64, c.records, "{}", r.out);
    assert!(
        body.last().unwrap().starts_with(&format!(
            "problem: torn write at segment {segment} offset {offset}"
        )),
        "{}",
        r.out
    );
    let r = floe(&["journal", "inspect", "--json", dir.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    let kinds: Vec<serde_json::Value> = r
        .out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let records = kinds.iter().filter(|v| v["kind"] == "record").count() as u64;
    assert_eq!(records, c.records - 1);
    assert_eq!(kinds.last().unwrap()["kind"], "problem");

    // The appliance restarts: recovery cuts the torn bytes.
    let (rec, _, report) =
        Recorder::open_with(&w.cfg, w.mode.options(), &dir, opts(1 << 20, 0)).unwrap();
    assert_eq!(
        (report.last_seq, report.bytes_cut),
        (c.records - 1, torn as u64),
        "{report}"
    );
    drop(rec);
    let r = verify(&dir, &cfg);
    assert_eq!(r.code, 0, "{} {}", r.out, r.err);
    assert!(
        r.out.starts_with(&format!(
            "valid: {} records (seq 1..{}), ",
            c.records - 1,
            c.records - 1
        )),
        "{}",
        r.out
    );
}

#[test]
fn snapshots_pruned_start_and_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    // Small segments and frequent snapshots: the start gets pruned, verify
    // replays from the oldest snapshot that covers it.
    let dir = tmp.path().join("pruned");
    let (w, c) = produce(&dir, 4096, 8);
    let cfg = write_config(tmp.path(), &w.cfg);
    let first = JournalReader::open(&dir)
        .unwrap()
        .records()
        .next()
        .unwrap()
        .unwrap()
        .seq;
    assert!(first > 1, "the run pruned nothing ({} records)", c.records);
    let r = verify(&dir, &cfg);
    assert_eq!(r.code, 0, "{} {}", r.out, r.err);
    assert!(
        r.out.starts_with(&format!(
            "valid: {} records (seq {first}..{}), ",
            c.records - first + 1,
            c.records
        )),
        "{}",
        r.out
    );
    let r = floe(&["journal", "inspect", dir.to_str().unwrap()]);
    assert_eq!(r.code, 0);
    assert_eq!(
        r.out
            .lines()
            .filter(|l| l.starts_with("snapshot at seq ") && l.ends_with(", valid"))
            .count(),
        2,
        "{}",
        r.out
    );

    // Snapshots with the whole journal kept: each must match the replay.
    let dir = tmp.path().join("whole");
    let (w, c) = produce(&dir, 1 << 20, 8);
    assert!(c.snapshots == 2, "{c:?}");
    let cfg = write_config(tmp.path(), &w.cfg);
    let r = verify(&dir, &cfg);
    assert_eq!(
        (r.code, r.out.trim()),
        (0, summary(&c).as_str()),
        "{}",
        r.err
    );
    // A snapshot of a different state under the newest snapshot's name.
    let snaps = floe::journal::snapshot::list_snapshots(&dir).unwrap();
    let newest = snaps[0].seq;
    let head = replay(&w.cfg, w.mode, &w.records()[..(newest / 2) as usize]);
    std::fs::remove_file(&snaps[0].path).unwrap();
    floe::journal::snapshot::write_snapshot(&dir, newest, &snapshot_bytes(&head)).unwrap();
    let r = verify(&dir, &cfg);
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.out.starts_with(&format!("invalid: seq {newest} "))
            && r.out.contains("does not match the state replayed"),
        "{}",
        r.out
    );
}

#[test]
fn not_a_journal_or_empty_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for cmd in ["inspect", "verify"] {
        let r = floe(&["journal", cmd, empty.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{cmd}: {} {}", r.out, r.err);
        assert!(
            r.err.contains("not a floe journal: no segment files"),
            "{}",
            r.err
        );
        let r = floe(&["journal", cmd, tmp.path().join("missing").to_str().unwrap()]);
        assert_eq!(r.code, 2);
        assert!(r.err.contains("not a directory"), "{}", r.err);
    }
    let fresh = tmp.path().join("fresh");
    drop(Journal::open(&fresh, opts(1 << 20, 0)).unwrap());
    for cmd in ["inspect", "verify"] {
        let r = floe(&["journal", cmd, fresh.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{cmd}: {} {}", r.out, r.err);
        assert!(r.err.contains("the journal holds no records"), "{}", r.err);
    }
}
