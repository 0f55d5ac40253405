//! Exactly once through the real mmap journal: the engine's deterministic
//! simulation (tests/support: a venue that dedupes ids like the real one, a
//! SoupBinTCP-like log replayed from the client's next expected sequence)
//! with every journal record written through `Recorder::record` into real
//! segment files on tmpfs, crashed after every append and in the middle of
//! the next one, recovered with `Recorder::open` and run to completion.
//!
//! Also: the client_order_id index survives recovery (from the tail and
//! from a snapshot), recovery from snapshot + tail equals a full replay
//! across many restarts with background snapshots, and records that pass
//! their crc but do not decode or apply stop recovery with a named error.

mod support;

use floe::algo::iceberg::StatusCode;
use floe::config::Config;
use floe::engine::{
    Action, ClientOrderId, Command, CommandError, CommandKind, Engine, EngineOptions, Outbox,
    Record, Recorder, RecorderError, Reply,
};
use floe::journal::record::record_len;
use floe::journal::{Journal, JournalOptions, JournalReader, Problem};
use floe::order::{ChildTag, OrderEvent, OrderRef, OrderRequest};
use floe::time::Nanos;
use floe::types::{Level, Price4, Qty, Quote, Side, Symbol};
use rand::{RngExt, SeedableRng};
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use support::*;

/// Scratch space on tmpfs when there is one (the crash test writes
/// thousands of small journals).
fn scratch(name: &str) -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let b = tempfile::Builder::new()
        .prefix(name)
        .tempdir_in(if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        });
    b.expect("scratch dir")
}

/// Smallest segments: a run spans several, so rolls are crashed too.
fn small_segments() -> JournalOptions {
    let mut o = JournalOptions::default().with_segment_bytes(4096);
    o.snapshot_every = 0;
    o.prefault_bytes = 4096;
    o
}

fn seg_name(n: u64) -> String {
    format!("{n:016}.seg")
}

// ---------------------------------------------------------------------------
// The crash-everywhere test
// ---------------------------------------------------------------------------

fn scenario(seed: u64) -> World {
    crash_scenario(seed, 0x7e_c0de, "r")
}

/// Where each record of the master journal lies: (segment, start, end).
type Positions = Vec<(u64, usize, usize)>;

/// How the record after the last whole one was torn.
#[derive(Clone, Copy, Debug)]
enum Tear {
    /// Everything but the commit word reached the file (a process crash:
    /// the commit word is stored last): `n` bytes after it.
    NoCommit(usize),
    /// The file ends `n` bytes after the commit word (a write cut short).
    Truncated(usize),
}

/// Writes into `dst` the journal as it was when the process died right
/// after record `k` of `master` (and, with `tear`, in the middle of record
/// `k + 1`). `short_file`: the last segment file is cut at the end of the
/// records instead of keeping its preallocated size.
fn write_image(
    master: &Path,
    pos: &Positions,
    k: usize,
    tear: Option<Tear>,
    short_file: bool,
    dst: &Path,
) {
    let (seg_k, _, end_k) = pos[k - 1];
    let read = |n: u64| std::fs::read(master.join(seg_name(n))).expect("read master segment");
    for n in pos[0].0..seg_k {
        std::fs::write(dst.join(seg_name(n)), read(n)).unwrap();
    }
    let next = tear.map(|t| (t, pos[k]));
    let mut last = read(seg_k);
    match next {
        Some((_, (seg_n, _, _))) if seg_n != seg_k => {
            // The torn record opened a new segment: this one is closed as
            // the writer left it (end marker included).
            std::fs::write(dst.join(seg_name(seg_k)), &last).unwrap();
            let full = read(seg_n);
            let mut b = vec![0u8; full.len()];
            b[..64].copy_from_slice(&full[..64]);
            last = full;
            write_torn(
                &mut b,
                &last,
                next.unwrap(),
                short_file,
                &dst.join(seg_name(seg_n)),
            );
        }
        Some(t) => {
            let mut b = vec![0u8; last.len()];
            b[..end_k].copy_from_slice(&last[..end_k]);
            write_torn(&mut b, &last, t, short_file, &dst.join(seg_name(seg_k)));
        }
        None => {
            let len = if short_file { end_k } else { last.len() };
            let mut b = vec![0u8; len];
            b[..end_k].copy_from_slice(&last[..end_k]);
            std::fs::write(dst.join(seg_name(seg_k)), b).unwrap();
        }
    }
}

fn write_torn(
    b: &mut Vec<u8>,
    full: &[u8],
    (tear, (_, start, _)): (Tear, (u64, usize, usize)),
    short_file: bool,
    path: &Path,
) {
    match tear {
        Tear::NoCommit(n) => {
            b[start + 8..start + 8 + n].copy_from_slice(&full[start + 8..start + 8 + n]);
            if short_file {
                b.truncate(start + 8 + n);
            }
        }
        Tear::Truncated(n) => {
            b[start..start + 8 + n].copy_from_slice(&full[start..start + 8 + n]);
            b.truncate(start + 8 + n);
        }
    }
    std::fs::write(path, b).unwrap();
}

#[derive(Default)]
struct Tally {
    points: u64,
    torn: u64,
    via_snapshot: u64,
    via_drop: u64,
    bytes_cut: u64,
    resends: u64,
    replayed_replies: u64,
}

/// How a crash image is made.
#[derive(Clone, Copy, Debug)]
enum Image {
    /// Copy of the master cut after record k, optionally torn.
    Copy {
        tear: Option<Tear>,
        short_file: bool,
        snapshot_at: Option<usize>,
    },
    /// A journal written with exactly k appends and dropped without flush.
    Drop,
}

struct Crash<'a> {
    fork: &'a World,
    next_send: Option<OrderRequest>,
    delivered: bool,
    k: usize,
    image: Image,
    reopen_at_end: bool,
}

/// Records the world journaled and the recorder has not appended yet.
fn catch_up(rec: &mut Recorder, w: &World, appended: &mut usize) -> Result<(), String> {
    while *appended < w.journal.len() {
        let (t, b) = &w.journal[*appended];
        let r = Record::decode(*t, b).map_err(|e| format!("decode: {e}"))?;
        rec.record(&r).map_err(|e| format!("record: {e}"))?;
        *appended += 1;
    }
    Ok(())
}

fn crash_and_continue(
    c: Crash<'_>,
    master: &Path,
    pos: &Positions,
    dst: &Path,
    tally: &mut Tally,
) -> Result<(), String> {
    let k = c.k;
    let mut w = c.fork.clone();
    if c.delivered {
        if let Some(s) = c.next_send {
            // The send had left the NIC when the appliance died.
            w.connected = true;
            w.process_send_for_crash(s);
        }
    }
    w.connected = false;
    let records = w.records();
    if records.len() != k {
        return Err(format!(
            "fork holds {} records, crash after {k}",
            records.len()
        ));
    }
    // --- the journal as the crash left it ---
    let _ = std::fs::remove_dir_all(dst);
    std::fs::create_dir_all(dst).unwrap();
    let mut expect_snapshot = None;
    match c.image {
        Image::Copy {
            tear,
            short_file,
            snapshot_at,
        } => {
            write_image(master, pos, k, tear, short_file, dst);
            if let Some(s) = snapshot_at {
                let head = replay(&w.cfg, w.mode, &records[..s]);
                floe::journal::snapshot::write_snapshot(dst, s as u64, &snapshot_bytes(&head))
                    .map_err(|e| format!("snapshot: {e}"))?;
                expect_snapshot = Some(s as u64);
                tally.via_snapshot += 1;
            }
        }
        Image::Drop => {
            let (mut rec, _, _) =
                Recorder::open_with(&w.cfg, w.mode.options(), dst, small_segments())
                    .map_err(|e| format!("fresh open: {e}"))?;
            for r in &records {
                rec.record(r).map_err(|e| format!("record: {e}"))?;
            }
            drop(rec);
            tally.via_drop += 1;
        }
    }
    // --- recovery ---
    let (mut rec, mut eng, report) =
        Recorder::open_with(&w.cfg, w.mode.options(), dst, small_segments())
            .map_err(|e| format!("recover: {e}"))?;
    if report.last_seq != k as u64 || report.snapshot_seq != expect_snapshot {
        return Err(format!("report {report:?}"));
    }
    if report.records_replayed != k as u64 - expect_snapshot.unwrap_or(0) {
        return Err(format!("replayed {report:?}"));
    }
    let torn = matches!(c.image, Image::Copy { tear: Some(_), .. });
    if torn {
        if report.bytes_cut == 0 || report.stop.is_none() {
            return Err(format!("torn tail not reported: {report:?}"));
        }
        tally.torn += 1;
        tally.bytes_cut += report.bytes_cut;
    } else if report.bytes_cut != 0 || report.stop.is_some() {
        return Err(format!("clean crash reported a cut: {report:?}"));
    }
    // The recovered state is exactly the replay of the k records.
    if snapshot_bytes(&eng) != snapshot_bytes(&replay(&w.cfg, w.mode, &records)) {
        return Err("recovered state differs from the replay of the records".into());
    }
    if report.next_soup_seq != eng.next_expected_soup_seq() {
        return Err("report's soup sequence".into());
    }
    // --- the appliance comes back: the client retries unanswered commands ---
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
    let mut appended = k;
    let mut failure = None;
    let done = {
        let mut hook = |cp: CrashPoint<'_>| {
            if failure.is_none() {
                if let Err(e) = catch_up(&mut rec, cp.world, &mut appended) {
                    failure = Some(e);
                }
            }
        };
        w.run(&mut eng, &mut out, Some(&mut hook))
    };
    if let Some(e) = failure {
        return Err(e);
    }
    catch_up(&mut rec, &w, &mut appended)?;
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
        .filter(|(_, r)| matches!(r, Reply::Accepted { replay: true, .. }))
        .count() as u64;
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
    // The process dies again (no flush); what is on file holds every fill.
    drop(rec);
    let reader = JournalReader::open(dst).map_err(|e| e.to_string())?;
    let mut journaled = BTreeSet::new();
    let mut n = 0usize;
    for item in reader.records() {
        let r = item.map_err(|p| format!("final journal: {p}"))?;
        n += 1;
        if let Ok(Record::VenueEvent {
            event: OrderEvent::Executed { match_number, .. },
            ..
        }) = Record::decode(r.rec_type, r.payload)
        {
            journaled.insert(match_number);
        }
    }
    if n != w.journal.len() {
        return Err(format!(
            "final journal holds {n} records, {} journaled",
            w.journal.len()
        ));
    }
    for m in w.venue.fills() {
        if !journaled.contains(&m) {
            return Err(format!("venue fill {m} missing from the journal"));
        }
    }
    if c.reopen_at_end {
        let (_, again, rep) = Recorder::open_with(&w.cfg, w.mode.options(), dst, small_segments())
            .map_err(|e| format!("reopen: {e}"))?;
        if snapshot_bytes(&again) != snapshot_bytes(&eng) || rep.bytes_cut != 0 {
            return Err("reopened journal differs from the live engine".into());
        }
    }
    tally.points += 1;
    Ok(())
}

fn crash_everywhere(seeds: impl Iterator<Item = u64>, target: u64) -> Tally {
    let mut tally = Tally::default();
    let root = scratch("floe-recovery");
    let master = root.path().join("master");
    let dst = root.path().join("crash");
    let mut failures: Vec<String> = Vec::new();
    let mut seeds_run = 0;
    for seed in seeds {
        if tally.points >= target {
            break;
        }
        seeds_run += 1;
        let _ = std::fs::remove_dir_all(&master);
        let mut w = scenario(seed);
        let mut eng = w.engine();
        let mut out = Outbox::with_capacity(64);
        w.start(&mut eng, &mut out);
        let (mut mrec, _, _) =
            Recorder::open_with(&w.cfg, w.mode.options(), &master, small_segments())
                .expect("master journal");
        let mut pos: Positions = Vec::new();
        let mut r = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed ^ 0x7ea5);
        let mut prev: Option<(World, Option<OrderRequest>)> = None;
        let mut hook = |cp: CrashPoint<'_>| {
            if failures.len() >= 3 {
                return;
            }
            // Append to the master exactly as the runtime would.
            while pos.len() < cp.world.journal.len() {
                let (t, b) = &cp.world.journal[pos.len()];
                let rec = Record::decode(*t, b).expect("decodes");
                mrec.record(&rec).expect("master append");
                let (seg, end) = mrec.journal().position();
                let end = end as usize;
                pos.push((seg, end - record_len(b.len()), end));
            }
            let k = cp.world.journal.len();
            // The crash in the middle of this record, seen from the previous one.
            if let Some((fork, next_send)) = prev.take() {
                let (_, start, end) = pos[k - 1];
                // Leave out at least one byte: a whole record is not torn.
                let n = r.random_range(8..end - start - 8);
                let tear = if r.random_bool(0.5) {
                    Tear::NoCommit(n)
                } else {
                    Tear::Truncated(n)
                };
                let c = Crash {
                    fork: &fork,
                    next_send,
                    delivered: true,
                    k: k - 1,
                    image: Image::Copy {
                        tear: Some(tear),
                        short_file: r.random_bool(0.3),
                        snapshot_at: None,
                    },
                    reopen_at_end: false,
                };
                if let Err(e) = crash_and_continue(c, &master, &pos, &dst, &mut tally) {
                    failures.push(format!(
                        "seed {seed} torn after record {}: {tear:?}: {e}",
                        k - 1
                    ));
                }
            }
            // The crash right after this record.
            let image = if k.is_multiple_of(11) {
                Image::Drop
            } else {
                Image::Copy {
                    tear: None,
                    short_file: r.random_bool(0.3),
                    snapshot_at: (k >= 2 && k.is_multiple_of(3)).then_some(k / 2),
                }
            };
            let c = Crash {
                fork: cp.world,
                next_send: cp.next_send,
                delivered: k.is_multiple_of(2),
                k,
                image,
                reopen_at_end: k.is_multiple_of(5),
            };
            if let Err(e) = crash_and_continue(c, &master, &pos, &dst, &mut tally) {
                failures.push(format!("seed {seed} after record {k} ({image:?}): {e}"));
            }
            prev = Some((cp.world.clone(), cp.next_send));
        };
        let done = w.run(&mut eng, &mut out, Some(&mut hook));
        assert!(
            done && w.violations.is_empty(),
            "seed {seed}: uninterrupted run failed: {:?}",
            w.violations
        );
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
    eprintln!(
        "{} crash points over {seeds_run} seeds ({} torn mid-record, {} bytes cut; {} from a snapshot; {} by dropping the journal); {} resends; {} replayed answers",
        tally.points,
        tally.torn,
        tally.bytes_cut,
        tally.via_snapshot,
        tally.via_drop,
        tally.resends,
        tally.replayed_replies
    );
    tally
}

// Two halves so the two cores share the work.
#[test]
fn crash_everywhere_even_seeds() {
    let t = crash_everywhere((0..4_000).map(|s| 2 * s), 5_000);
    assert!(t.points >= 5_000, "{} crash points", t.points);
    assert!(t.torn > 1_000 && t.via_snapshot > 100 && t.via_drop > 100);
    assert!(t.resends > 0 && t.replayed_replies > 0);
}

#[test]
fn crash_everywhere_odd_seeds() {
    let t = crash_everywhere((0..4_000).map(|s| 2 * s + 1), 5_000);
    assert!(t.points >= 5_000, "{} crash points", t.points);
    assert!(t.torn > 1_000 && t.via_snapshot > 100 && t.via_drop > 100);
    assert!(t.resends > 0 && t.replayed_replies > 0);
}

// ---------------------------------------------------------------------------
// A small driver for the runtime's own loop: engine call, then
// `Recorder::process` (drain + snapshot policy)
// ---------------------------------------------------------------------------

/// The runtime's loop around one engine and one recorder, with a venue that
/// accepts everything and fills from a seeded generator.
struct Driver {
    cfg: Config,
    opts: EngineOptions,
    dir: PathBuf,
    jopts: JournalOptions,
    now: Nanos,
    eng: Engine,
    /// `None` only while crashed.
    rec: Option<Recorder>,
    out: Outbox,
    to_engine: VecDeque<OrderEvent>,
    soup: u64,
    log: Vec<OrderEvent>,
    replies: Vec<Reply>,
    rng: rand::rngs::Xoshiro256PlusPlus,
    live: std::collections::BTreeMap<u32, (ChildTag, u32)>,
    correlation: u64,
}

fn quote(sym: &str, bid: u32, ask: u32) -> Quote {
    Quote {
        symbol: Symbol::new(sym).unwrap(),
        bid: Some(Level {
            price: Price4(bid),
            qty: Qty(1_000),
        }),
        ask: Some(Level {
            price: Price4(ask),
            qty: Qty(1_000),
        }),
        exch_ts: 0,
        rx_ts: Nanos::ZERO,
    }
}

impl Driver {
    fn open(cfg: Config, dir: &Path, jopts: JournalOptions, seed: u64) -> Driver {
        let opts = EngineOptions {
            account_query: false,
        };
        let (rec, eng, _) = Recorder::open_with(&cfg, opts, dir, jopts.clone()).unwrap();
        let mut d = Driver {
            cfg,
            opts,
            dir: dir.to_path_buf(),
            jopts,
            now: Nanos::from_ms(1),
            eng,
            rec: Some(rec),
            out: Outbox::with_capacity(64),
            to_engine: VecDeque::new(),
            soup: 0,
            log: Vec::new(),
            replies: Vec::new(),
            rng: rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed),
            live: Default::default(),
            correlation: 0,
        };
        d.session_up();
        d
    }

    fn session_up(&mut self) {
        let q = quote("AAPL", 49_9900, 50_0100);
        self.eng.on_quote(self.now, &q, &mut self.out);
        self.settle();
        self.eng.on_session(self.now, true, &mut self.out);
        self.settle();
    }

    fn rec(&mut self) -> &mut Recorder {
        self.rec.as_mut().expect("recorder")
    }

    /// Crash: drop the recorder without a flush (the engine is replaced),
    /// recover, bring the session up. Returns the report and the recovered
    /// engine's snapshot bytes before the session came up.
    fn crash_and_recover(&mut self) -> (floe::engine::RecoveryReport, Vec<u8>) {
        self.rec = None;
        let (rec, eng, report) =
            Recorder::open_with(&self.cfg, self.opts, &self.dir, self.jopts.clone()).unwrap();
        let recovered = snapshot_bytes(&eng);
        self.rec = Some(rec);
        self.eng = eng;
        self.to_engine.clear();
        // The venue replays everything after the next expected sequence.
        self.to_engine.extend(
            self.log[report.next_soup_seq as usize - 1..]
                .iter()
                .copied(),
        );
        self.soup = report.next_soup_seq - 1;
        self.session_up();
        (report, recovered)
    }

    fn command(&mut self, kind: CommandKind) -> Reply {
        self.correlation += 1;
        let cmd = Command {
            correlation: self.correlation,
            kind,
        };
        self.eng.on_command(self.now, &cmd, &mut self.out).unwrap();
        self.settle();
        *self.replies.last().expect("a reply")
    }

    /// Processes the outbox the way the runtime does; the venue answers.
    fn settle(&mut self) {
        let mut sends = Vec::new();
        let replies = &mut self.replies;
        self.rec
            .as_mut()
            .expect("recorder")
            .process(&self.eng, &mut self.out, |a| match a {
                Action::Send(s) => sends.push(s),
                Action::Reply { reply, .. } => replies.push(reply),
                _ => {}
            })
            .unwrap();
        for s in sends {
            self.venue(s);
        }
    }

    fn emit(&mut self, ev: OrderEvent) {
        self.log.push(ev);
        self.to_engine.push_back(ev);
    }

    fn venue(&mut self, s: OrderRequest) {
        let ts = self.now.0;
        match s {
            OrderRequest::Enter {
                order,
                tag,
                side,
                qty,
                symbol,
                price,
                ..
            } => {
                if self.log.iter().any(|e| e.order() == Some(order)) {
                    return; // a resend: the venue ignores a used ref
                }
                self.live.insert(order.0, (tag, qty.0));
                self.emit(OrderEvent::Accepted {
                    ts,
                    order,
                    tag: Some(tag),
                    side,
                    qty,
                    symbol,
                    price,
                    venue_order_ref: u64::from(order.0),
                    live: true,
                });
            }
            OrderRequest::Replace { old, new, .. } => {
                // Not modelled: refuse, the engine keeps the child as is.
                self.emit(OrderEvent::Rejected {
                    ts,
                    order: new,
                    tag: None,
                    reason: floe::order::RejectReason { code: 1, text: "" },
                });
                let _ = old;
            }
            OrderRequest::Cancel { order, .. } => {
                if let Some((_, open)) = self.live.remove(&order.0) {
                    self.emit(OrderEvent::Canceled {
                        ts,
                        order,
                        decrement: Qty(open),
                        reason: floe::order::CancelReason {
                            code: b'U',
                            text: "",
                        },
                    });
                }
            }
            OrderRequest::AccountQuery => {}
        }
    }

    /// One step: deliver a report, or fill something, or run timers.
    fn step(&mut self) {
        self.now = self.now + Nanos::from_us(50);
        if let Some(ev) = self.to_engine.pop_front() {
            self.soup += 1;
            self.eng
                .on_order_event(self.now, self.soup, &ev, &mut self.out)
                .unwrap();
            self.settle();
            return;
        }
        if let Some((&order, &(_, open))) = self.live.iter().next() {
            let q = if self.rng.random_bool(0.5) {
                open
            } else {
                self.rng.random_range(1..=open)
            };
            if q == open {
                self.live.remove(&order);
            } else {
                self.live.insert(order, (self.live[&order].0, open - q));
            }
            let m = self.log.len() as u64 + 1;
            self.emit(OrderEvent::Executed {
                ts: self.now.0,
                order: OrderRef(order),
                qty: Qty(q),
                price: Price4(50_0000),
                liquidity: b'A',
                match_number: m,
            });
            return;
        }
        self.eng.poll(self.now, &mut self.out);
        self.settle();
    }
}

fn new_iceberg(coid: &str, total: u32, seed: u64) -> CommandKind {
    let mut p = params("AAPL", Side::Buy, total, 50, 200_000, 50_0100);
    p.max_delay_ms = 1;
    CommandKind::NewIceberg {
        client_order_id: ClientOrderId::new(coid.as_bytes()).unwrap(),
        params: p,
        seed,
    }
}

/// A fresh engine applying every record on file from sequence 1.
fn full_replay(cfg: &Config, opts: EngineOptions, dir: &Path) -> Engine {
    let reader = JournalReader::open(dir).unwrap();
    let mut e = Engine::with_options(cfg, opts);
    let mut first = true;
    for item in reader.records() {
        let r = item.unwrap();
        if first {
            assert_eq!(r.seq, 1, "the journal's start was pruned");
            first = false;
        }
        e.apply(&Record::decode(r.rec_type, r.payload).unwrap())
            .unwrap();
    }
    e
}

#[test]
fn client_order_id_answer_survives_recovery() {
    let tmp = scratch("floe-coid");
    for via_snapshot in [false, true] {
        let dir = tmp.path().join(format!("j{via_snapshot}"));
        let mut d = Driver::open(test_config(), &dir, small_segments(), 7);
        let first = d.command(new_iceberg("desk-42", 400, 99));
        let Reply::Accepted {
            parent,
            created_at,
            replay: false,
            ..
        } = first
        else {
            panic!("{first:?}")
        };
        for _ in 0..40 {
            d.step();
        }
        if via_snapshot {
            let eng = &d.eng;
            d.rec.as_mut().unwrap().snapshot_now(eng).unwrap();
            for _ in 0..5 {
                d.step();
            }
        }
        let records = d.rec().last_seq();
        assert!(records > 3, "the run journaled {records} records");
        // Crash: the recorder and the engine go away without a flush.
        let (report, _) = d.crash_and_recover();
        assert_eq!(report.last_seq, records);
        assert_eq!(report.snapshot_seq.is_some(), via_snapshot, "{report:?}");
        // The same request again: the original answer, nothing journaled.
        let before = d.rec().last_seq();
        let again = d.command(new_iceberg("desk-42", 400, 12345));
        assert_eq!(
            again,
            Reply::Accepted {
                parent,
                status: StatusCode::New,
                created_at,
                replay: true
            }
        );
        assert_eq!(d.rec().last_seq(), before);
        // The same id with a different body: a conflict.
        let other = d.command(new_iceberg("desk-42", 500, 99));
        assert_eq!(other, Reply::Refused(CommandError::Conflict));
        // And the parent carries on to the end.
        for _ in 0..2_000 {
            if d.eng.live_parents() == 0 {
                break;
            }
            d.step();
        }
        let s = d.eng.parent_status(parent).unwrap();
        assert_eq!((s.status, s.filled), (StatusCode::Filled, Qty(400)));
        // Done, crashed again (from a snapshot taken after the end, or
        // from the whole journal): the request still gets the original
        // answer, not a second parent.
        if via_snapshot {
            let eng = &d.eng;
            d.rec.as_mut().unwrap().snapshot_now(eng).unwrap();
        }
        let records = d.rec().last_seq();
        let (report, _) = d.crash_and_recover();
        assert_eq!(report.last_seq, records);
        assert_eq!(
            report.records_replayed,
            if via_snapshot { 0 } else { records },
            "{report:?}"
        );
        assert_eq!(d.eng.live_parents(), 0);
        let again = d.command(new_iceberg("desk-42", 400, 777));
        assert_eq!(
            again,
            Reply::Accepted {
                parent,
                status: StatusCode::New,
                created_at,
                replay: true
            }
        );
        assert_eq!(
            d.rec().last_seq(),
            records,
            "a replayed answer journals nothing"
        );
        let s = d.eng.parent_status(parent).unwrap();
        assert_eq!((s.status, s.filled), (StatusCode::Filled, Qty(400)));
    }
}

#[test]
fn snapshot_and_tail_equal_full_replay_across_restarts() {
    let tmp = scratch("floe-snap");
    let dir = tmp.path().join("j");
    let mut cfg = test_config();
    cfg.pools.client_order_ids = 256;
    cfg.risk.child_orders_per_sec = 1_000_000;
    cfg.risk.child_orders_burst = 1_000;
    let mut jopts = JournalOptions::default().with_segment_bytes(1 << 20);
    jopts.snapshot_every = 7;
    let mut d = Driver::open(cfg, &dir, jopts, 3);
    let mut parents = Vec::new();
    let mut restarts = 0;
    let mut from_snapshot = 0;
    for round in 0..30u32 {
        if round < 12 {
            let r = d.command(new_iceberg(
                &format!("p{round}"),
                200 + 50 * round,
                round.into(),
            ));
            if let Reply::Accepted { parent, .. } = r {
                parents.push(parent);
            }
        }
        for _ in 0..d.rng.random_range(5..60) {
            d.step();
        }
        // What the live engine holds, then a crash.
        let live = snapshot_bytes(&d.eng);
        d.rec().wait_snapshot().unwrap();
        let last = d.rec().last_seq();
        let (report, recovered) = d.crash_and_recover();
        restarts += 1;
        assert_eq!(report.last_seq, last);
        if let Some(s) = report.snapshot_seq {
            from_snapshot += 1;
            assert!(
                s <= last && report.records_replayed == last - s,
                "{report:?}"
            );
        }
        // Snapshot + tail == the live state == a replay of every record
        // (also after the session came up and journaled more).
        assert_eq!(recovered, live, "round {round}: recovered != live");
        let full = full_replay(&d.cfg, d.opts, &dir);
        assert_eq!(
            snapshot_bytes(&full),
            snapshot_bytes(&d.eng),
            "round {round}: full replay"
        );
        let mut a = Vec::new();
        full.for_each_status(|s| a.push(*s));
        let mut b = Vec::new();
        d.eng.for_each_status(|s| b.push(*s));
        assert_eq!(a, b);
    }
    for _ in 0..20_000 {
        if d.eng.live_parents() == 0 && d.to_engine.is_empty() {
            break;
        }
        d.step();
    }
    for p in &parents {
        let s = d.eng.parent_status(*p).unwrap();
        assert_eq!(s.status, StatusCode::Filled, "{s:?}");
        assert_eq!(s.filled, s.total);
    }
    assert!(
        from_snapshot >= restarts - 2,
        "{from_snapshot} of {restarts}"
    );
    let stats = d.rec().last_snapshot().cloned();
    eprintln!("{restarts} restarts, {from_snapshot} from a snapshot; last: {stats:?}");
}

#[test]
fn pruned_journal_recovers_from_snapshot() {
    let tmp = scratch("floe-prune");
    let dir = tmp.path().join("j");
    let mut cfg = test_config();
    cfg.pools.client_order_ids = 256;
    cfg.risk.child_orders_per_sec = 1_000_000;
    cfg.risk.child_orders_burst = 1_000;
    let mut jopts = small_segments();
    jopts.snapshot_every = 20;
    let mut d = Driver::open(cfg, &dir, jopts, 11);
    for i in 0..10u32 {
        d.command(new_iceberg(&format!("q{i}"), 300, i.into()));
        for _ in 0..100 {
            d.step();
            // Let each snapshot finish before the next is due (the thread
            // skips while one is in flight), so pruning does not depend on
            // the machine's speed.
            d.rec().wait_snapshot().unwrap();
        }
    }
    d.rec().wait_snapshot().unwrap();
    let pruned = d.rec().last_snapshot().unwrap().pruned_segments.len();
    let live = snapshot_bytes(&d.eng);
    let last = d.rec().last_seq();
    let (report, recovered) = d.crash_and_recover();
    let first = JournalReader::open(&dir)
        .unwrap()
        .records()
        .next()
        .unwrap()
        .unwrap()
        .seq;
    assert!(
        first > 1,
        "segments were pruned (first record {first}, {pruned} pruned last time)"
    );
    assert_eq!(report.last_seq, last);
    assert!(report.snapshot_seq.unwrap() + 1 >= first);
    assert_eq!(recovered, live);
}

// ---------------------------------------------------------------------------
// Records that pass their crc but are wrong stop recovery, named
// ---------------------------------------------------------------------------

#[test]
fn undecodable_or_inapplicable_records_are_named_errors() {
    let tmp = scratch("floe-bad");
    let cfg = test_config();
    let opts = EngineOptions {
        account_query: false,
    };
    // A record type the engine does not know.
    let dir = tmp.path().join("unknown-type");
    {
        let (mut j, _) = Journal::open(&dir, small_segments()).unwrap();
        let ks = Record::KillSwitch {
            at: Nanos(1),
            on: false,
        };
        let mut b = [0u8; 128];
        let n = ks.encode(&mut b).unwrap();
        j.append(ks.record_type(), &b[..n]).unwrap();
        j.append(0x7777, b"not an engine record").unwrap();
    }
    match Recorder::open_with(&cfg, opts, &dir, small_segments()) {
        Err(RecorderError::Decode {
            seq: 2,
            rec_type: 0x7777,
            segment: 1,
            offset: 104,
            ..
        }) => {}
        other => panic!("{:?}", other.map(|x| x.2)),
    }
    // An intent for a parent that was never accepted.
    let dir = tmp.path().join("unknown-parent");
    {
        let (mut j, _) = Journal::open(&dir, small_segments()).unwrap();
        let ci = Record::ChildIntent(floe::engine::ChildIntent {
            at: Nanos(5),
            tag: ChildTag {
                parent: 9,
                child: 1,
            },
            order_ref: OrderRef(1),
            side: Side::Buy,
            symbol: Symbol::new("AAPL").unwrap(),
            qty: Qty(10),
            price: Price4(50_0000),
            kind: floe::engine::IntentKind::Enter {
                tif: floe::order::TimeInForce::Day,
                next_delay: Nanos(0),
                rng_draws: 0,
            },
        });
        let mut b = [0u8; 128];
        let n = ci.encode(&mut b).unwrap();
        j.append(ci.record_type(), &b[..n]).unwrap();
    }
    let Err(err) = Recorder::open_with(&cfg, opts, &dir, small_segments()) else {
        panic!("an intent for an unknown parent recovered");
    };
    match &err {
        RecorderError::Apply {
            seq: 1,
            kind: "child_intent",
            source: floe::engine::ApplyError::UnknownParent(9),
            ..
        } => {}
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("record 1 (child_intent"), "{err}");
    // A snapshot that is not an engine snapshot.
    let dir = tmp.path().join("bad-snapshot");
    {
        let (mut j, _) = Journal::open(&dir, small_segments()).unwrap();
        j.append(0x0103, &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        j.write_snapshot(1, b"not an engine snapshot").unwrap();
    }
    assert!(matches!(
        Recorder::open_with(&cfg, opts, &dir, small_segments()),
        Err(RecorderError::Snapshot { seq: 1, .. })
    ));
}

/// A long replay (40,000 records over several segments): every record
/// applied in order, and a bad record anywhere — first, in the middle, in
/// a later segment, last — stops it with the record named, whatever
/// follows it.
#[test]
fn a_long_replay_applies_in_order_and_names_the_bad_record() {
    let tmp = scratch("floe-long");
    let cfg = test_config();
    let opts = EngineOptions {
        account_query: false,
    };
    let jopts = || {
        let mut o = JournalOptions::default().with_segment_bytes(1 << 20);
        o.snapshot_every = 0;
        o
    };
    let n = 40_000u64;
    let ks = |seq: u64| Record::KillSwitch {
        at: Nanos(seq),
        // On for every third: the final state depends on the last records.
        on: seq.is_multiple_of(3),
    };
    let intent = Record::ChildIntent(floe::engine::ChildIntent {
        at: Nanos(5),
        tag: ChildTag {
            parent: 9,
            child: 1,
        },
        order_ref: OrderRef(1),
        side: Side::Buy,
        symbol: Symbol::new("AAPL").unwrap(),
        qty: Qty(10),
        price: Price4(50_0000),
        kind: floe::engine::IntentKind::Enter {
            tif: floe::order::TimeInForce::Day,
            next_delay: Nanos(0),
            rng_draws: 0,
        },
    });
    // bad: (seq, undecodable rather than inapplicable).
    let write = |name: &str, bad: Option<(u64, bool)>, last: u64| {
        let dir = tmp.path().join(name);
        let (mut j, _) = Journal::open(&dir, jopts()).unwrap();
        let mut b = [0u8; 128];
        for seq in 1..=last {
            match bad {
                Some((at, true)) if at == seq => {
                    j.append(0x7777, b"not an engine record").unwrap();
                }
                Some((at, false)) if at == seq => {
                    let len = intent.encode(&mut b).unwrap();
                    j.append(intent.record_type(), &b[..len]).unwrap();
                }
                _ => {
                    let r = ks(seq);
                    let len = r.encode(&mut b).unwrap();
                    j.append(r.record_type(), &b[..len]).unwrap();
                }
            }
        }
        dir
    };
    for last in [n, n - 1] {
        let dir = write(&format!("good-{last}"), None, last);
        let (_, eng, report) = Recorder::open_with(&cfg, opts, &dir, jopts()).unwrap();
        assert_eq!((report.records_replayed, report.last_seq), (last, last));
        assert_eq!(eng.kill_switch(), last.is_multiple_of(3), "after {last}");
    }
    for at in [1, 1024, 1025, 30_000, n] {
        let dir = write(&format!("undecodable-{at}"), Some((at, true)), n);
        match Recorder::open_with(&cfg, opts, &dir, jopts()) {
            Err(RecorderError::Decode {
                seq,
                rec_type: 0x7777,
                ..
            }) if seq == at => {}
            other => panic!("undecodable at {at}: {:?}", other.map(|x| x.2)),
        }
    }
    for at in [1, 30_000, n] {
        let dir = write(&format!("inapplicable-{at}"), Some((at, false)), n);
        match Recorder::open_with(&cfg, opts, &dir, jopts()) {
            Err(RecorderError::Apply {
                seq,
                kind: "child_intent",
                source: floe::engine::ApplyError::UnknownParent(9),
                ..
            }) if seq == at => {}
            other => panic!("inapplicable at {at}: {:?}", other.map(|x| x.2)),
        }
    }
}

#[test]
fn record_reports_torn_tail_of_a_real_crash_of_the_writer() {
    // A Journal dropped in the middle of nothing is a clean crash; the torn
    // case is what `crash_everywhere` builds byte by byte. Here: what the
    // report says when the tail is garbage after a clean record.
    let tmp = scratch("floe-torn");
    let dir = tmp.path().join("j");
    let cfg = test_config();
    let opts = EngineOptions {
        account_query: false,
    };
    let (mut rec, _, _) = Recorder::open_with(&cfg, opts, &dir, small_segments()).unwrap();
    let ks = Record::KillSwitch {
        at: Nanos(3),
        on: true,
    };
    rec.record(&ks).unwrap();
    let (seg, end) = rec.journal().position();
    drop(rec);
    let path = dir.join(seg_name(seg));
    let mut b = std::fs::read(&path).unwrap();
    b[end as usize + 8..end as usize + 20].fill(0xAB);
    assert!(b[end as usize..].iter().skip(20).all(|&x| x == 0));
    std::fs::write(&path, b).unwrap();
    let (_, eng, report) = Recorder::open_with(&cfg, opts, &dir, small_segments()).unwrap();
    assert_eq!(report.records_replayed, 1);
    // From the end of the last record to the last non-zero byte.
    assert_eq!(report.bytes_cut, 20);
    assert!(matches!(
        report.stop,
        Some(Problem::TornTail { bytes: 20, .. })
    ));
    assert!(eng.kill_switch());
    assert!(report.to_string().contains("20 bytes cut"), "{report}");
}
