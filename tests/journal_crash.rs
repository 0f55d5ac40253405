//! A real process appends to a journal and is killed with SIGKILL at a
//! random moment, again and again; each time the survivor must be a whole
//! prefix of what was appended: no gap, no corruption, nothing acknowledged
//! lost, and at most one unfinished record at the end.
//!
//! The child is this test binary itself, re-run with `--exact
//! child_process_entry` and the journal directory in an environment
//! variable; without the variable that entry returns at once.

use floe::config::SyncPolicy;
use floe::journal::{Journal, JournalOptions, JournalReader, Problem};
use rand::RngExt;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const DIR_VAR: &str = "FLOE_JOURNAL_CRASH_DIR";
const SYNC_VAR: &str = "FLOE_JOURNAL_CRASH_SYNC";
const SEGMENT_BYTES: u64 = 1 << 20;

fn payload_len(seq: u64) -> usize {
    (seq.wrapping_mul(7919) % 300) as usize
}

fn payload_byte(seq: u64, i: usize) -> u8 {
    (seq as u8).wrapping_mul(31).wrapping_add(i as u8)
}

fn matches(seq: u64, rec_type: u16, p: &[u8]) -> bool {
    rec_type == (seq % 5) as u16
        && p.len() == payload_len(seq)
        && p.iter()
            .enumerate()
            .all(|(i, &b)| b == payload_byte(seq, i))
}

fn payload(seq: u64) -> (u16, Vec<u8>) {
    let bytes = (0..payload_len(seq))
        .map(|i| payload_byte(seq, i))
        .collect();
    ((seq % 5) as u16, bytes)
}

fn options(sync: SyncPolicy) -> JournalOptions {
    let mut o = JournalOptions::default()
        .with_segment_bytes(SEGMENT_BYTES)
        .with_sync(sync);
    o.batch_interval = Duration::from_millis(1);
    o
}

/// Runs only as the child process (see the module doc).
#[test]
fn child_process_entry() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let sync = match std::env::var(SYNC_VAR).as_deref() {
        Ok("batch") => SyncPolicy::Batch,
        _ => SyncPolicy::None,
    };
    let (mut j, rec) = Journal::open(&dir, options(sync)).expect("open");
    // The parent checks every record; here, that replay yields them all and
    // the latest are intact.
    let from = rec.last_seq().saturating_sub(1000);
    let mut n = 0;
    for r in rec.records() {
        n += 1;
        assert!(
            r.seq <= from || matches(r.seq, r.rec_type, r.payload),
            "recovered {}",
            r.seq
        );
    }
    assert_eq!(n, rec.last_seq());
    let start = rec.last_seq();
    println!("@@start {start}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seq = start;
    while seq < start + 3_000_000 {
        let next = seq + 1;
        let ty = (next % 5) as u16;
        seq = if next % 2 == 0 {
            // Written in place byte by byte: a long window for the kill to
            // land between the first payload byte and the commit word.
            j.append_with(ty, payload_len(next), |b| {
                for (i, x) in b.iter_mut().enumerate() {
                    *x = payload_byte(next, i);
                }
            })
        } else {
            j.append(ty, &payload(next).1)
        }
        .expect("append");
        if seq % 1024 == 0 {
            println!("@@acked {seq}");
            if Instant::now() > deadline {
                break;
            }
        }
    }
    println!("@@done {seq}");
}

fn tagged(line: &str, tag: &str) -> Option<u64> {
    let at = line.rfind(tag)?;
    line[at + tag.len()..].trim().parse().ok()
}

/// Checks the directory as a tool sees it right after the kill: a prefix
/// 1..=L with the right contents, ending cleanly or in one torn record.
fn check_prefix(dir: &Path, acked: u64, round: usize, checked: u64) -> u64 {
    let r = JournalReader::open(dir).unwrap();
    let mut last = 0u64;
    let mut torn = None;
    for item in r.records() {
        match item {
            Ok(rec) => {
                assert_eq!(rec.seq, last + 1, "round {round}: gap");
                // Every record's crc is checked by the reader; contents are
                // compared for those not compared in an earlier round.
                assert!(
                    rec.seq <= checked || matches(rec.seq, rec.rec_type, rec.payload),
                    "round {round}: record {} corrupt",
                    rec.seq
                );
                last = rec.seq;
            }
            Err(p @ Problem::TornTail { .. }) => torn = Some(p),
            Err(p) => panic!("round {round}: after SIGKILL: {p}"),
        }
    }
    assert!(
        last >= acked,
        "round {round}: acknowledged record {acked} lost (journal ends at {last})"
    );
    let segments = r.segments().len();
    eprintln!(
        "round {round}: acked {acked}, journal ends at {last}, {segments} segments, tail: {torn:?}"
    );
    last
}

fn kill_rounds(sync: &str, rounds: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rng();
    let mut last = 0u64;
    for round in 0..rounds {
        let t0 = Instant::now();
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "child_process_entry",
                "--nocapture",
                "--quiet",
                "--test-threads=1",
            ])
            .env(DIR_VAR, &dir)
            .env(SYNC_VAR, sync)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // Kept open until the child is dead: a closed pipe would end it
        // with EPIPE instead of SIGKILL.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Kill after a random number of appends; now and then right after
        // recovery, before much is written.
        let target = if round % 4 == 3 {
            0
        } else {
            rng.random_range(1..3_000u64)
        };
        let mut start = None;
        let mut acked = 0;
        for line in lines.by_ref() {
            let line = line.unwrap();
            if let Some(s) = tagged(&line, "@@start ") {
                assert!(
                    s >= last,
                    "round {round}: recovered {s} < previous end {last}"
                );
                start = Some(s);
                acked = s;
            } else if let Some(a) = tagged(&line, "@@acked ") {
                acked = a;
            } else if line.contains("@@done") {
                panic!("round {round}: child finished before being killed");
            }
            if let Some(s) = start {
                if acked >= s + target {
                    break;
                }
            }
        }
        assert!(start.is_some(), "round {round}: child never started");
        // Let it run on for a random moment so the kill lands anywhere.
        let spin = Instant::now() + Duration::from_micros(rng.random_range(0..1000));
        while Instant::now() < spin {
            std::thread::yield_now();
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "round {round}: child ended by {status:?}, not SIGKILL"
        );
        drop(lines);
        last = check_prefix(&dir, acked, round, last);
        eprintln!("round {round}: {:?}", t0.elapsed());
    }
    // Recovery in this process agrees, and the directory verifies after it.
    let (j, rec) = Journal::open(&dir, options(SyncPolicy::None)).unwrap();
    assert_eq!(rec.last_seq(), last);
    let mut n = 0;
    for r in rec.records() {
        n += 1;
        assert!(matches(r.seq, r.rec_type, r.payload), "record {}", r.seq);
    }
    assert_eq!(n, last);
    drop(j);
    let v = JournalReader::open(&dir).unwrap().verify();
    assert!(v.is_valid(), "{v:?}");
    assert!(last > 0);
}

#[test]
fn sigkill_at_random_moments_leaves_a_whole_prefix() {
    kill_rounds("none", 20);
}

#[test]
fn sigkill_with_batch_sync_leaves_a_whole_prefix() {
    kill_rounds("batch", 6);
}
