//! The recorder: the engine's records into the journal, the journal back
//! into an engine after a crash, and the snapshot policy. The one module of
//! `engine` that does I/O; the runtime owns one [`Recorder`] on the hot
//! thread.
//!
//! - [`Recorder::open`] opens the journal (which cuts a torn tail), restores
//!   the engine from the newest valid snapshot or builds a fresh one, then
//!   decodes and applies every record after it. A record that does not
//!   decode or apply is a named error ([`RecorderError`]), never skipped: its
//!   crc already passed, so it is a bug or a foreign journal, not a torn
//!   write. Replay runs on the opening thread: a second thread walking
//!   and decoding ahead of it measured no faster on two cores
//!   (`benches/recorder.rs`, report), `Engine::apply` being most of the
//!   cost.
//! - [`Recorder::record`] encodes a record straight into the journal's
//!   mapping: no allocation, no lock, no syscall (with `sync = none |
//!   batch`). [`Recorder::drain`] processes an [`Outbox`] in order, so the
//!   write-ahead rule — a record is in the journal before any later action
//!   is performed — lives in this one place.
//! - [`Recorder::maybe_snapshot`] serialises the engine every
//!   `journal.snapshot_every` records, **on the hot thread** (measured in
//!   `benches/recorder.rs`: ~0.1 ms for 1,000 parents, and it allocates)
//!   and hands the bytes to a background thread that writes the file
//!   (fsyncs: milliseconds) and prunes the segments it makes unnecessary.
//!   The hot thread never waits for that write; while one is in flight no
//!   other snapshot starts.
//!
//! Call [`Recorder::maybe_snapshot`] only with the outbox fully drained: the
//! engine applies a record when it decides, before the record is journaled,
//! so a snapshot taken with records still in the outbox would claim state
//! the journal does not yet hold. [`Recorder::process`] does both in the
//! right order.

use crate::config::Config;
use crate::engine::record::{rec_type, RecordError};
use crate::engine::{Action, ApplyError, Engine, EngineOptions, Outbox, Record, SnapshotError};
use crate::journal::snapshot::{prune_segments, write_snapshot};
use crate::journal::{Journal, JournalError, JournalOptions, Problem, SnapshotInfo};
use crate::order::OrderRef;
use crossbeam::channel::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::fmt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long [`Recorder::flush`] and [`Recorder::snapshot_now`] wait for a
/// snapshot write in flight before giving up.
pub const SNAPSHOT_WAIT: Duration = Duration::from_secs(60);

/// What can go wrong in the recorder.
#[derive(Debug, thiserror::Error)]
pub enum RecorderError {
    /// The journal failed (open, append, flush).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The newest valid snapshot does not restore into an engine of this
    /// configuration.
    #[error("recovery: snapshot at sequence {seq} does not restore: {source}")]
    Snapshot {
        /// The snapshot's sequence.
        seq: u64,
        /// Why.
        #[source]
        source: SnapshotError,
    },
    /// A record after the snapshot does not decode.
    #[error("recovery: record {seq} (type 0x{rec_type:04x}, segment {segment} offset {offset}) does not decode: {source}")]
    Decode {
        /// Its sequence.
        seq: u64,
        /// Its type code.
        rec_type: u16,
        /// Segment holding it.
        segment: u64,
        /// Byte offset in the segment.
        offset: u64,
        /// Why.
        #[source]
        source: RecordError,
    },
    /// A record after the snapshot does not apply to the state before it.
    #[error("recovery: record {seq} ({kind}, segment {segment} offset {offset}) does not apply: {source}; record: {record:?}")]
    Apply {
        /// Its sequence.
        seq: u64,
        /// Its type name.
        kind: &'static str,
        /// Segment holding it.
        segment: u64,
        /// Byte offset in the segment.
        offset: u64,
        /// The decoded record.
        record: Box<Record>,
        /// Why.
        #[source]
        source: ApplyError,
    },
    /// Replay yielded fewer records than recovery found (the files changed
    /// under the journal's lock).
    #[error(
        "recovery: replay yielded {got} records after the snapshot, the journal holds {expected}"
    )]
    ReplayShort {
        /// Records recovery found after the snapshot.
        expected: u64,
        /// Records replay yielded.
        got: u64,
    },
    /// The replayed engine breaks one of its invariants.
    #[error("recovery: the replayed state breaks an invariant: {0}")]
    Invariant(&'static str),
    /// A record did not encode into the bytes reserved for it (a bug in
    /// [`Record::encoded_len`]); the appended record is not readable.
    #[error(
        "journal: record {seq} ({kind}) encoded wrongly into its {reserved} reserved bytes: {what}"
    )]
    Encode {
        /// Sequence of the appended record.
        seq: u64,
        /// Its type name.
        kind: &'static str,
        /// Bytes reserved.
        reserved: usize,
        /// What went wrong.
        what: String,
    },
    /// Writing a snapshot failed (the journal is intact; segments are not
    /// pruned until a snapshot succeeds).
    #[error("snapshot at sequence {seq} failed: {source}")]
    SnapshotWrite {
        /// The snapshot's sequence.
        seq: u64,
        /// Why.
        #[source]
        source: JournalError,
    },
    /// The snapshot thread is gone or did not answer in time.
    #[error("snapshot thread: {0}")]
    SnapshotThread(&'static str),
}

/// What [`Recorder::open`] found and did.
#[derive(Clone, Debug)]
pub struct RecoveryReport {
    /// Records decoded and applied after the snapshot.
    pub records_replayed: u64,
    /// Sequence covered by the snapshot the engine was restored from.
    pub snapshot_seq: Option<u64>,
    /// Last sequence in the journal; the next record gets `last_seq + 1`.
    pub last_seq: u64,
    /// Bytes cut after the last valid record (a torn tail, garbage).
    pub bytes_cut: u64,
    /// Why the journal's walk stopped, when it was not a clean end.
    pub stop: Option<Problem>,
    /// Segments deleted by the cut.
    pub removed_segments: Vec<u64>,
    /// Snapshot files newer than the one used that failed their check.
    pub skipped_snapshots: Vec<SnapshotInfo>,
    /// The SoupBinTCP sequence number to log in with.
    pub next_soup_seq: u64,
    /// The next `OrderRef` the engine will mint.
    pub next_order_ref: OrderRef,
    /// Parents NEW, WORKING or PAUSED after recovery.
    pub live_parents: u32,
    /// Time in `Journal::open` (scan, crc checks, cut, snapshot load).
    pub journal_time: Duration,
    /// Time restoring the snapshot and replaying the records.
    pub replay_time: Duration,
    /// Total time of [`Recorder::open`].
    pub elapsed: Duration,
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "replayed {} records", self.records_replayed)?;
        match self.snapshot_seq {
            Some(s) => write!(f, " after snapshot {s}")?,
            None => write!(f, " (no snapshot)")?,
        }
        write!(
            f,
            ", last sequence {}, {} bytes cut",
            self.last_seq, self.bytes_cut
        )?;
        if let Some(p) = &self.stop {
            write!(f, " ({p})")?;
        }
        write!(
            f,
            "; next soup sequence {}, next order ref {}, {} live parents; {:.1} ms (journal {:.1} ms, replay {:.1} ms)",
            self.next_soup_seq,
            self.next_order_ref.0,
            self.live_parents,
            self.elapsed.as_secs_f64() * 1e3,
            self.journal_time.as_secs_f64() * 1e3,
            self.replay_time.as_secs_f64() * 1e3,
        )
    }
}

#[cold]
fn decode_error(r: &crate::journal::Record<'_>, source: RecordError) -> RecorderError {
    RecorderError::Decode {
        seq: r.seq,
        rec_type: r.rec_type,
        segment: r.segment,
        offset: r.offset,
        source,
    }
}

#[cold]
fn apply_error(r: &crate::journal::Record<'_>, rec: Record, source: ApplyError) -> RecorderError {
    RecorderError::Apply {
        seq: r.seq,
        kind: rec.type_name(),
        segment: r.segment,
        offset: r.offset,
        record: Box::new(rec),
        source,
    }
}

/// The last snapshot the background thread finished.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotStats {
    /// Sequence it covers.
    pub seq: u64,
    /// Engine bytes (without the file header).
    pub bytes: usize,
    /// Time serialising on the hot thread.
    pub serialize: Duration,
    /// Time writing the file and pruning, on the snapshot thread.
    pub write: Duration,
    /// Segments deleted after it was written.
    pub pruned_segments: Vec<u64>,
}

struct Job {
    seq: u64,
    bytes: Vec<u8>,
    serialize: Duration,
}

struct Done {
    seq: u64,
    bytes: Vec<u8>,
    serialize: Duration,
    write: Duration,
    result: Result<Vec<u64>, JournalError>,
}

/// The thread that writes snapshot files (blocking I/O off the hot thread).
struct SnapshotThread {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    handle: Option<JoinHandle<()>>,
}

impl SnapshotThread {
    fn spawn(
        dir: PathBuf,
        core: Option<usize>,
        hot: [Option<usize>; 2],
    ) -> std::io::Result<SnapshotThread> {
        let (jobs, job_rx) = channel::bounded::<Job>(1);
        let (done_tx, done) = channel::bounded::<Done>(1);
        let handle = std::thread::Builder::new()
            .name("floe-snapshot".into())
            .spawn(move || {
                match core {
                    Some(id) => {
                        core_affinity::set_for_current(core_affinity::CoreId { id });
                    }
                    None => {
                        crate::affinity::leave_hot_cores(hot);
                    }
                }
                for job in job_rx {
                    let t = Instant::now();
                    let result = write_snapshot(&dir, job.seq, &job.bytes)
                        .and_then(|_| prune_segments(&dir));
                    let d = Done {
                        seq: job.seq,
                        bytes: job.bytes,
                        serialize: job.serialize,
                        write: t.elapsed(),
                        result,
                    };
                    if done_tx.send(d).is_err() {
                        return;
                    }
                }
            })?;
        Ok(SnapshotThread {
            jobs: Some(jobs),
            done,
            handle: Some(handle),
        })
    }
}

impl Drop for SnapshotThread {
    /// Lets a write in flight finish, then stops the thread.
    fn drop(&mut self) {
        self.jobs = None;
        // Unblock a thread waiting to hand back its result.
        while self.done.try_recv().is_ok() {}
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The engine's journal: recording, recovery and snapshots. See the module
/// documentation.
pub struct Recorder {
    journal: Journal,
    snapshot_every: u64,
    /// Sequence of the last snapshot started (or recovered from).
    last_snapshot_seq: u64,
    thread: Option<SnapshotThread>,
    in_flight: Option<u64>,
    /// The buffer the next snapshot is serialised into (handed back by the
    /// thread: two buffers in turn, no allocation once they are large enough).
    spare: Vec<u8>,
    last_done: Option<SnapshotStats>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("journal", &self.journal)
            .field("snapshot_every", &self.snapshot_every)
            .field("last_snapshot_seq", &self.last_snapshot_seq)
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

impl Recorder {
    /// Opens the journal at `journal.dir` with the configured options and
    /// recovers the engine (options from the configured dialect). See
    /// [`Recorder::open_with`].
    pub fn open(cfg: &Config) -> Result<(Recorder, Engine, RecoveryReport), RecorderError> {
        Recorder::open_with(
            cfg,
            EngineOptions::from_config(cfg),
            &cfg.journal.dir,
            JournalOptions::from_config(&cfg.journal),
        )
    }

    /// Opens the journal in `dir` with `opts` and recovers an engine built
    /// from `cfg` and `engine_opts`: restore from the newest valid snapshot
    /// (or a fresh engine), then decode and apply every record after it, then
    /// check the engine's invariants. The session is down; the runtime logs
    /// in at [`RecoveryReport::next_soup_seq`]. Blocking, allocates: start-up
    /// only.
    pub fn open_with(
        cfg: &Config,
        engine_opts: EngineOptions,
        dir: impl AsRef<Path>,
        opts: JournalOptions,
    ) -> Result<(Recorder, Engine, RecoveryReport), RecorderError> {
        let t0 = Instant::now();
        let dir = dir.as_ref();
        let snapshot_every = opts.snapshot_every;
        let mut opts = opts;
        if opts.hot_cores == [None, None] {
            opts.hot_cores = [cfg.engine.core, cfg.engine.feed_core];
        }
        let (core, hot) = (opts.worker_core, opts.hot_cores);
        let (journal, recovery) = Journal::open(dir, opts)?;
        let t1 = Instant::now();
        let snapshot_seq = recovery.snapshot().map(|s| s.seq);
        let mut eng = match recovery.snapshot() {
            Some(s) => Engine::restore_with_options(cfg, engine_opts, &s.bytes)
                .map_err(|source| RecorderError::Snapshot { seq: s.seq, source })?,
            None => Engine::with_options(cfg, engine_opts),
        };
        let expected = recovery.replay_len();
        let mut replayed = 0u64;
        for r in recovery.records() {
            let rec = match Record::decode(r.rec_type, r.payload) {
                Ok(rec) => rec,
                Err(source) => return Err(decode_error(&r, source)),
            };
            if let Err(source) = eng.apply(&rec) {
                return Err(apply_error(&r, rec, source));
            }
            replayed += 1;
        }
        if replayed != expected {
            return Err(RecorderError::ReplayShort {
                expected,
                got: replayed,
            });
        }
        eng.check_invariants().map_err(RecorderError::Invariant)?;
        let t2 = Instant::now();
        let thread = if snapshot_every > 0 {
            Some(
                SnapshotThread::spawn(dir.to_path_buf(), core, hot).map_err(|source| {
                    JournalError::Io {
                        op: "spawn snapshot thread for",
                        path: dir.to_path_buf(),
                        source,
                    }
                })?,
            )
        } else {
            None
        };
        let report = RecoveryReport {
            records_replayed: replayed,
            snapshot_seq,
            last_seq: recovery.last_seq(),
            bytes_cut: recovery.bytes_cut(),
            stop: recovery.stop_reason().cloned(),
            removed_segments: recovery.removed_segments().to_vec(),
            skipped_snapshots: recovery.skipped_snapshots().to_vec(),
            next_soup_seq: eng.next_expected_soup_seq(),
            next_order_ref: eng.next_order_ref(),
            live_parents: eng.live_parents(),
            journal_time: t1 - t0,
            replay_time: t2 - t1,
            elapsed: t0.elapsed(),
        };
        let rec = Recorder {
            last_snapshot_seq: snapshot_seq.unwrap_or(0),
            journal,
            snapshot_every,
            thread,
            in_flight: None,
            spare: Vec::new(),
            last_done: None,
        };
        Ok((rec, eng, report))
    }

    /// Appends `rec` to the journal, encoded in place; returns its sequence
    /// number. Hot path: no allocation, no lock, no syscall with `sync =
    /// none | batch` (a segment roll takes the spare the journal's thread
    /// prepared). An error is fatal for the run: the engine has already
    /// applied the record, so nothing after it may be sent; restart from the
    /// journal.
    #[inline]
    pub fn record(&mut self, rec: &Record) -> Result<u64, RecorderError> {
        let len = rec.encoded_len();
        let mut wrote = Err(RecordError::BufferTooSmall);
        let seq = self
            .journal
            .append_with(rec.record_type(), len, |buf| wrote = rec.encode(buf))?;
        match wrote {
            Ok(n) if n == len => Ok(seq),
            other => Err(encode_error(seq, rec, len, other)),
        }
    }

    /// Processes `out` in order: each [`Action::Journal`] is appended
    /// ([`Recorder::record`]) before the next action is handed to `act`
    /// (sends, replies, statuses). On a journal error the rest of the outbox
    /// is discarded — nothing after an unjournaled record may take effect —
    /// and the error returned.
    #[inline]
    pub fn drain(
        &mut self,
        out: &mut Outbox,
        mut act: impl FnMut(Action),
    ) -> Result<(), RecorderError> {
        for a in out.drain() {
            match a {
                Action::Journal(rec) => {
                    self.record(&rec)?;
                }
                other => act(other),
            }
        }
        Ok(())
    }

    /// [`Recorder::drain`], then [`Recorder::maybe_snapshot`]: what the
    /// runtime calls after every engine call. A snapshot error is returned
    /// after the outbox was processed in full (it is not fatal: see
    /// [`RecorderError::SnapshotWrite`]).
    #[inline]
    pub fn process(
        &mut self,
        eng: &Engine,
        out: &mut Outbox,
        act: impl FnMut(Action),
    ) -> Result<(), RecorderError> {
        self.drain(out, act)?;
        self.maybe_snapshot(eng).map(|_| ())
    }

    /// Whether `snapshot_every` records have been appended since the last
    /// snapshot was started (mirrors `Journal::snapshot_due`, counted here
    /// because the file is written by another thread).
    #[inline]
    pub fn snapshot_due(&self) -> bool {
        self.snapshot_every > 0
            && self
                .journal
                .last_seq()
                .saturating_sub(self.last_snapshot_seq)
                >= self.snapshot_every
    }

    /// Every `snapshot_every` records: serialises `eng` (on this thread,
    /// allocating at most to grow the buffer) and hands the bytes to the
    /// snapshot thread; returns the sequence it covers. Does nothing while a
    /// write is in flight (the next call retries). A failed earlier write
    /// is returned here once. Call it only with the outbox drained (see the
    /// module documentation).
    #[inline]
    pub fn maybe_snapshot(&mut self, eng: &Engine) -> Result<Option<u64>, RecorderError> {
        if !self.snapshot_due() {
            return Ok(None);
        }
        self.start_snapshot(eng)
    }

    #[cold]
    #[inline(never)]
    fn start_snapshot(&mut self, eng: &Engine) -> Result<Option<u64>, RecorderError> {
        self.collect(None)?;
        if self.in_flight.is_some() {
            return Ok(None);
        }
        let Some(t) = self.thread.as_ref() else {
            return Ok(None);
        };
        let Some(jobs) = t.jobs.as_ref() else {
            return Err(RecorderError::SnapshotThread("stopped"));
        };
        let seq = self.journal.last_seq();
        let mut bytes = std::mem::take(&mut self.spare);
        bytes.clear();
        let t0 = Instant::now();
        eng.snapshot(&mut bytes);
        let serialize = t0.elapsed();
        jobs.send(Job {
            seq,
            bytes,
            serialize,
        })
        .map_err(|_| RecorderError::SnapshotThread("exited"))?;
        self.in_flight = Some(seq);
        self.last_snapshot_seq = seq;
        Ok(Some(seq))
    }

    /// Takes back a finished snapshot write; waits up to `wait` for one in
    /// flight (`None`: does not wait).
    fn collect(&mut self, wait: Option<Duration>) -> Result<(), RecorderError> {
        if self.in_flight.is_none() {
            return Ok(());
        }
        let Some(t) = self.thread.as_ref() else {
            return Ok(());
        };
        let d = match wait {
            None => match t.done.try_recv() {
                Ok(d) => d,
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) => {
                    self.in_flight = None;
                    return Err(RecorderError::SnapshotThread("exited"));
                }
            },
            Some(w) => match t.done.recv_timeout(w) {
                Ok(d) => d,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(RecorderError::SnapshotThread(
                        "a snapshot write did not finish in time",
                    ))
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.in_flight = None;
                    return Err(RecorderError::SnapshotThread("exited"));
                }
            },
        };
        self.in_flight = None;
        let len = d.bytes.len();
        if d.bytes.capacity() >= self.spare.capacity() {
            self.spare = d.bytes;
        }
        match d.result {
            Ok(pruned_segments) => {
                self.last_done = Some(SnapshotStats {
                    seq: d.seq,
                    bytes: len,
                    serialize: d.serialize,
                    write: d.write,
                    pruned_segments,
                });
                Ok(())
            }
            Err(source) => Err(RecorderError::SnapshotWrite { seq: d.seq, source }),
        }
    }

    /// Waits (up to [`SNAPSHOT_WAIT`]) for a snapshot write in flight and
    /// returns its outcome. Blocking.
    pub fn wait_snapshot(&mut self) -> Result<(), RecorderError> {
        self.collect(Some(SNAPSHOT_WAIT))
    }

    /// Serialises `eng` and writes the snapshot on this thread, now, after
    /// any write in flight (blocking: clean shutdown, tools, tests). Returns
    /// the sequence it covers. Same precondition as
    /// [`Recorder::maybe_snapshot`].
    pub fn snapshot_now(&mut self, eng: &Engine) -> Result<u64, RecorderError> {
        self.wait_snapshot()?;
        let seq = self.journal.last_seq();
        let mut bytes = std::mem::take(&mut self.spare);
        bytes.clear();
        let t0 = Instant::now();
        eng.snapshot(&mut bytes);
        let serialize = t0.elapsed();
        let t1 = Instant::now();
        let w = self
            .journal
            .write_snapshot(seq, &bytes)
            .map_err(|source| RecorderError::SnapshotWrite { seq, source })?;
        self.last_done = Some(SnapshotStats {
            seq,
            bytes: bytes.len(),
            serialize,
            write: t1.elapsed(),
            pruned_segments: w.pruned_segments,
        });
        self.spare = bytes;
        self.last_snapshot_seq = seq;
        Ok(seq)
    }

    /// Makes every record appended so far durable (waits for a snapshot
    /// write in flight, then `Journal::flush`). Blocking; for clean
    /// shutdown.
    pub fn flush(&mut self) -> Result<(), RecorderError> {
        let snap = self.wait_snapshot();
        self.journal.flush()?;
        snap
    }

    /// The last snapshot finished (by the thread or [`Recorder::snapshot_now`]).
    pub fn last_snapshot(&self) -> Option<&SnapshotStats> {
        self.last_done.as_ref()
    }

    /// Sequence of the last snapshot started or recovered from (0 = none).
    pub fn last_snapshot_seq(&self) -> u64 {
        self.last_snapshot_seq
    }

    /// True while a snapshot write is in flight.
    pub fn snapshot_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Sequence of the last appended record (0 when empty).
    #[inline]
    pub fn last_seq(&self) -> u64 {
        self.journal.last_seq()
    }

    /// Write-faults the rest of the active segment and waits for a spare
    /// ([`Journal::warm_up`]), so the first records after start-up take no
    /// page fault and the first roll does not wait. Blocking: call it after
    /// [`Recorder::open`], before the hot loop.
    pub fn warm_up(&mut self) -> Result<(), RecorderError> {
        Ok(self.journal.warm_up()?)
    }

    /// The journal (position, sync progress, background errors).
    pub fn journal(&self) -> &Journal {
        &self.journal
    }
}

#[cold]
#[inline(never)]
fn encode_error(
    seq: u64,
    rec: &Record,
    reserved: usize,
    wrote: Result<usize, RecordError>,
) -> RecorderError {
    RecorderError::Encode {
        seq,
        kind: rec_type::name(rec.record_type()).unwrap_or("unknown"),
        reserved,
        what: match wrote {
            Ok(n) => format!("{n} bytes written"),
            Err(e) => e.to_string(),
        },
    }
}
