//! The writer: [`Journal`], its append hot path, rolls and snapshots.
//!
//! An append reserves `24 + payload rounded up to 8` bytes at the current
//! offset of the active segment's mapping, copies the payload there (or lets
//! the caller write it in place), stores the sequence number, computes the
//! crc32c over the record in place (one call: the crc of the commit and
//! reserved words is cached per record type and length), stores it, and
//! finally stores the commit word with `Release` ordering. Until that store
//! the record does not exist for any reader; after it, it survives a crash
//! of the process (the bytes are in the page cache). It then publishes the
//! new high-water mark for the background thread (two `Release` stores) and,
//! with `sync = always`, msyncs the record's pages before returning.
//!
//! In steady state an append allocates nothing, takes no lock and makes no
//! syscall (with `none` and `batch`). A **roll** happens when a record does
//! not fit in what is left of the segment: the writer stores an
//! end-of-segment marker (if 8 bytes are left), pops the spare segment the
//! background thread keeps ready (already preallocated, mapped and
//! prefaulted), stores its 64-byte header (first sequence = the record's),
//! and continues there. Only if no spare is ready yet (the background thread
//! fell behind) does it wait for one, boundedly (`spare_wait`), yielding.

use super::record::{
    align_up, commit_word, record_len, SeedCache, SegmentHeader, END_OF_SEGMENT, RECORD_CRC_OFFSET,
    RECORD_HEADER_LEN, RECORD_RESERVED_OFFSET, RECORD_SEQ_OFFSET, SEGMENT_HEADER_LEN,
};
use super::recovery::{recover, Recovery};
use super::segment::{segment_path, sync_dir, SegmentMap};
use super::snapshot::{self, SnapshotWritten};
use super::sync::{pack, Shared, Worker};
use super::{io_error as io, JournalError, JournalOptions};
use crate::config::SyncPolicy;
use std::fs::{File, OpenOptions};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Name of the lock file that keeps a second writer out of a directory.
pub const LOCK_FILE: &str = "LOCK";

/// How far past its position the writer asks for lines ahead of use (a
/// trigger's records are ~200 bytes).
const PREFETCH_AHEAD: usize = 256;

/// An open journal: the single writer of a directory.
///
/// `Send`: open it, then move it to the hot thread. Appends take `&mut self`.
pub struct Journal {
    active: Arc<SegmentMap>,
    seg_no: u64,
    seg_len: usize,
    pos: usize,
    next_seq: u64,
    max_payload: usize,
    sync: SyncPolicy,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
    dir: PathBuf,
    opts: JournalOptions,
    first_segment: u64,
    last_snapshot_seq: u64,
    seeds: SeedCache,
    _lock: File,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("segment", &self.seg_no)
            .field("offset", &self.pos)
            .field("last_seq", &self.last_seq())
            .field("sync", &self.sync)
            .finish()
    }
}

fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK_FILE);
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io("open", &path))?;
    // SAFETY: flock only reads its integer arguments; the descriptor is owned
    // by `f`, which outlives the call (and holds the lock while it lives).
    let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(JournalError::Locked(dir.to_path_buf()));
        }
        return Err(io("flock", &path)(e));
    }
    Ok(f)
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir`: takes the directory
    /// lock, runs recovery (see [`super::recovery`]), and starts the
    /// background thread. The [`Recovery`] reports what was found and cut
    /// and yields the records to replay, from the newest valid snapshot on.
    ///
    /// With `batch` and `always`, the recovered segments are fdatasynced
    /// first, so [`Journal::synced_seq`] starts at the last recovered record.
    pub fn open(
        dir: impl AsRef<Path>,
        opts: JournalOptions,
    ) -> Result<(Journal, Recovery), JournalError> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        let lock = lock_dir(&dir)?;
        let opened = recover(&dir, &opts)?;
        let last_seq = opened.next_seq - 1;
        let mut synced = 0;
        if opts.sync != SyncPolicy::None {
            for n in opened.first_segment..opened.active.number() {
                sync_segment_file(&dir, n)?;
            }
            opened
                .active
                .file()
                .sync_data()
                .map_err(io("fdatasync", opened.active.path()))?;
            sync_dir(&dir).map_err(io("fsync", &dir))?;
            synced = last_seq;
        }
        let active = Arc::new(opened.active);
        let seg_no = active.number();
        let shared = Arc::new(Shared::new(pack(seg_no, opened.pos), last_seq, synced));
        let worker = Worker::spawn(
            Arc::clone(&shared),
            dir.clone(),
            opts.clone(),
            Arc::clone(&active),
            opened.pos,
            opened.spare.map(Arc::new),
        )
        .map_err(io("spawn journal thread for", &dir))?;
        let journal = Journal {
            seg_len: active.len(),
            seg_no,
            active,
            pos: opened.pos,
            next_seq: opened.next_seq,
            max_payload: opts.max_payload(),
            sync: opts.sync,
            shared,
            worker: Some(worker),
            dir,
            first_segment: opened.first_segment,
            last_snapshot_seq: opened.recovery.snapshot_seq(),
            seeds: SeedCache::default(),
            opts,
            _lock: lock,
        };
        Ok((journal, opened.recovery))
    }

    /// Appends one record and returns its sequence number.
    ///
    /// Errors: [`JournalError::RecordTooLarge`] (nothing written); at a roll,
    /// [`JournalError::NoSpareSegment`] (nothing written); with `always`, a
    /// failed msync is [`JournalError::Io`] — the record *is* appended
    /// (its sequence is used) but not known to be on disk.
    #[inline]
    pub fn append(&mut self, rec_type: u16, payload: &[u8]) -> Result<u64, JournalError> {
        let len = payload.len();
        let at = self.reserve(len)?;
        let body = self.body_ptr(at, len);
        // SAFETY: `reserve` guarantees `[at, at + record_len(len))` lies in the
        // active mapping; `body_ptr` zeroed its padding. The payload cannot
        // overlap the mapping's unwritten tail (nothing outside this writer
        // can hold a reference into it).
        unsafe { std::ptr::copy_nonoverlapping(payload.as_ptr(), body, len) };
        self.commit(at, rec_type, len)
    }

    /// Appends one record of `len` payload bytes written in place by `fill`
    /// (handed exactly `len` zeroed bytes inside the mapping); returns its
    /// sequence number. Errors as [`Journal::append`]; `fill` is not called
    /// when the record cannot be reserved.
    #[inline]
    pub fn append_with<F: FnOnce(&mut [u8])>(
        &mut self,
        rec_type: u16,
        len: usize,
        fill: F,
    ) -> Result<u64, JournalError> {
        let at = self.reserve(len)?;
        let body = self.body_ptr(at, len);
        // SAFETY: `[body, body + len)` lies in the active mapping (see
        // `reserve`) in the region after the last committed record, which only
        // this writer touches and no reference points into; the slice lives
        // only for the call to `fill`.
        let buf = unsafe { std::slice::from_raw_parts_mut(body, len) };
        fill(buf);
        self.commit(at, rec_type, len)
    }

    /// Offset of a record of `len` payload bytes, rolling first if it does
    /// not fit in the active segment.
    #[inline(always)]
    fn reserve(&mut self, len: usize) -> Result<usize, JournalError> {
        if len > self.max_payload {
            return Err(JournalError::RecordTooLarge {
                len,
                max: self.max_payload,
            });
        }
        if self.pos + record_len(len) > self.seg_len {
            self.roll()?;
            if self.pos + record_len(len) > self.seg_len {
                // Only a segment smaller than the options say could do this.
                return Err(JournalError::RecordTooLarge {
                    len,
                    max: self.seg_len - SEGMENT_HEADER_LEN - RECORD_HEADER_LEN,
                });
            }
        }
        Ok(self.pos)
    }

    /// Pointer to the payload of the record reserved at `at`, with its last
    /// padding word zeroed.
    #[inline(always)]
    fn body_ptr(&self, at: usize, len: usize) -> *mut u8 {
        let padded = align_up(len);
        // SAFETY: `at + RECORD_HEADER_LEN + padded <= seg_len` (`reserve`), so
        // both the body pointer and the last padding word are in the mapping;
        // `at`, the header length and `padded` are multiples of 8 and the
        // mapping is page-aligned, so the u64 store is aligned.
        unsafe {
            let body = self.active.ptr().add(at + RECORD_HEADER_LEN);
            if padded != len {
                body.add(padded - 8).cast::<u64>().write(0);
            }
            body
        }
    }

    /// Completes the record reserved at `at`, whose payload is in place:
    /// stores the reserved word and sequence number, computes the crc over
    /// the record as it lies in the mapping, stores it, and finally stores
    /// the commit word (`Release`).
    #[inline(always)]
    fn commit(&mut self, at: usize, rec_type: u16, len: usize) -> Result<u64, JournalError> {
        let seq = self.next_seq;
        let end = at + record_len(len);
        let commit = commit_word(rec_type, len as u32);
        let seed = self.seeds.get(commit, 0);
        // SAFETY: the record `[at, end)` lies in the mapping (`reserve`) at an
        // 8-aligned address. Only this thread accesses these bytes: the
        // payload slice handed to `append_with`'s closure is gone, and the
        // shared slice below lives only for the crc. The commit word is
        // accessed only atomically by the writer (readers in other processes
        // see it through their own mappings).
        unsafe {
            let p = self.active.ptr().add(at);
            p.add(RECORD_RESERVED_OFFSET).cast::<u32>().write(0);
            p.add(RECORD_SEQ_OFFSET).cast::<u64>().write(seq.to_le());
            let body_at = RECORD_CRC_OFFSET + 4;
            let body = std::slice::from_raw_parts(p.add(body_at), end - at - body_at);
            let crc = super::record::crc_append(seed, body);
            p.add(RECORD_CRC_OFFSET).cast::<u32>().write(crc.to_le());
            AtomicU64::from_ptr(p.cast::<u64>()).store(commit.to_le(), Ordering::Release);
            // The lines the next records go to, while the thread is idle:
            // the sync thread prefaulted (zeroed) them from another core.
            if end + PREFETCH_AHEAD < self.seg_len {
                let next = self.active.ptr().add(end);
                crate::prefetch::prefetch_write(next.add(PREFETCH_AHEAD / 2));
                crate::prefetch::prefetch_write(next.add(PREFETCH_AHEAD));
            }
        }
        self.pos = end;
        self.next_seq = seq + 1;
        let progress = &self.shared.progress;
        progress
            .pos
            .store(pack(self.seg_no, end), Ordering::Release);
        progress.seq.store(seq, Ordering::Release);
        if self.sync == SyncPolicy::Always {
            self.sync_record(at, end, seq)?;
        }
        Ok(seq)
    }

    #[cold]
    #[inline(never)]
    fn sync_record(&mut self, at: usize, end: usize, seq: u64) -> Result<(), JournalError> {
        self.active
            .sync_range(at, end - at)
            .map_err(io("msync", self.active.path()))?;
        self.shared.synced_seq.store(seq, Ordering::Release);
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn roll(&mut self) -> Result<(), JournalError> {
        if self.pos + 8 <= self.seg_len {
            // SAFETY: `pos + 8 <= seg_len`, `pos` is 8-aligned, and the bytes
            // after the last committed record are only touched by this writer.
            unsafe {
                AtomicU64::from_ptr(self.active.ptr().add(self.pos).cast::<u64>())
                    .store(END_OF_SEGMENT.to_le(), Ordering::Release);
            }
        }
        let next = self.take_spare()?;
        if next.number() != self.seg_no + 1 {
            return Err(JournalError::NoSpareSegment {
                reason: format!(
                    "spare segment {} does not follow {}",
                    next.number(),
                    self.seg_no
                ),
            });
        }
        // SAFETY: the spare has never been written: the background thread
        // created it and handed it over through the queue, and keeps it only
        // to msync and prefault.
        unsafe {
            next.write_header(&SegmentHeader {
                number: next.number(),
                first_seq: self.next_seq,
                segment_bytes: next.len() as u64,
            })
        };
        self.seg_no = next.number();
        self.seg_len = next.len();
        self.pos = SEGMENT_HEADER_LEN;
        // The background thread holds its own reference to the old segment,
        // so dropping ours here never unmaps on this thread.
        self.active = next;
        self.shared
            .progress
            .pos
            .store(pack(self.seg_no, self.pos), Ordering::Release);
        Ok(())
    }

    fn take_spare(&mut self) -> Result<Arc<SegmentMap>, JournalError> {
        if let Some(s) = self.shared.ready.pop() {
            return Ok(s);
        }
        let deadline = Instant::now() + self.opts.spare_wait;
        if let Some(w) = &self.worker {
            w.thread().unpark();
        }
        loop {
            if let Some(s) = self.shared.ready.pop() {
                return Ok(s);
            }
            let gone = self.worker.as_ref().is_none_or(|w| w.is_finished());
            if gone || Instant::now() >= deadline {
                let why = self
                    .shared
                    .last_error()
                    .unwrap_or_else(|| "the journal thread did not prepare one in time".into());
                return Err(JournalError::NoSpareSegment { reason: why });
            }
            std::thread::yield_now();
        }
    }

    /// Write-faults the rest of the active segment and waits (up to
    /// `spare_wait`) until a spare segment is ready, so the appends that
    /// follow take no page fault and the next roll does not wait. Blocking;
    /// for start-up, before the journal is on a latency-critical path.
    pub fn warm_up(&mut self) -> Result<(), JournalError> {
        self.active.populate(self.pos, self.seg_len - self.pos);
        let deadline = Instant::now() + self.opts.spare_wait;
        while self.shared.ready.is_empty() {
            let gone = self.worker.as_ref().is_none_or(|w| w.is_finished());
            if gone || Instant::now() >= deadline {
                let why = self
                    .shared
                    .last_error()
                    .unwrap_or_else(|| "the journal thread did not prepare one in time".into());
                return Err(JournalError::NoSpareSegment { reason: why });
            }
            if let Some(w) = &self.worker {
                w.thread().unpark();
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(())
    }

    /// Sequence number of the last appended record (0 when empty).
    #[inline]
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Highest sequence known to be on disk: advanced by the background
    /// thread with `batch`, by each append with `always`, and by
    /// [`Journal::flush`] with any policy (0 until then with `none`).
    #[inline]
    pub fn synced_seq(&self) -> u64 {
        self.shared.synced_seq.load(Ordering::Acquire)
    }

    /// The largest payload one record can carry.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options it was opened with.
    pub fn options(&self) -> &JournalOptions {
        &self.opts
    }

    /// Segment number and byte offset where the next record goes (unless it
    /// rolls).
    pub fn position(&self) -> (u64, u64) {
        (self.seg_no, self.pos as u64)
    }

    /// The background thread's last error (preparing a segment, a `batch`
    /// msync), if it has not succeeded since.
    pub fn background_error(&self) -> Option<String> {
        self.shared.last_error()
    }

    /// Makes every record appended so far durable: msyncs the active
    /// segment, fdatasyncs the earlier segments written since recovery's
    /// replay start, fsyncs the directory. Blocking; for clean shutdown.
    pub fn flush(&mut self) -> Result<(), JournalError> {
        for n in self.first_segment..self.seg_no {
            sync_segment_file(&self.dir, n)?;
        }
        self.active
            .sync_range(0, self.pos)
            .map_err(io("msync", self.active.path()))?;
        sync_dir(&self.dir).map_err(io("fsync", &self.dir))?;
        self.shared
            .synced_seq
            .fetch_max(self.last_seq(), Ordering::AcqRel);
        Ok(())
    }

    /// Whether `snapshot_every` records have been appended since the last
    /// snapshot (never with `snapshot_every = 0`).
    #[inline]
    pub fn snapshot_due(&self) -> bool {
        self.opts.snapshot_every > 0
            && self.last_seq() - self.last_snapshot_seq.min(self.last_seq())
                >= self.opts.snapshot_every
    }

    /// Sequence of the last snapshot written or recovered from (0 = none).
    pub fn last_snapshot_seq(&self) -> u64 {
        self.last_snapshot_seq
    }

    /// Writes a snapshot of the state after record `last_included_seq`
    /// (atomically; see [`snapshot::write_snapshot`]), keeps the newest two,
    /// then deletes the segments every record of which the older of those
    /// two covers ([`snapshot::prune_segments`]); the pruned numbers are in
    /// [`SnapshotWritten::pruned_segments`]. Blocking file I/O (fsyncs):
    /// call it where a pause is acceptable, or call those two functions from
    /// another thread instead.
    pub fn write_snapshot(
        &mut self,
        last_included_seq: u64,
        bytes: &[u8],
    ) -> Result<SnapshotWritten, JournalError> {
        if last_included_seq > self.last_seq() {
            return Err(JournalError::SnapshotBeyondJournal {
                seq: last_included_seq,
                last_seq: self.last_seq(),
            });
        }
        let mut w = snapshot::write_snapshot(&self.dir, last_included_seq, bytes)?;
        w.pruned_segments = snapshot::prune_segments(&self.dir)?;
        self.last_snapshot_seq = last_included_seq;
        Ok(w)
    }

    /// Deletes the segments made unnecessary by the snapshots on disk
    /// ([`snapshot::prune_segments`]).
    pub fn prune_segments(&mut self) -> Result<Vec<u64>, JournalError> {
        snapshot::prune_segments(&self.dir)
    }
}

fn sync_segment_file(dir: &Path, n: u64) -> Result<(), JournalError> {
    let p = segment_path(dir, n);
    match File::open(&p) {
        Ok(f) => f.sync_data().map_err(io("fdatasync", &p)),
        // Pruned by a snapshot meanwhile: nothing to sync.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("open", &p)(e)),
    }
}

impl Drop for Journal {
    /// Stops the background thread (which syncs once more with `batch`) and
    /// waits for it. Does not flush: call [`Journal::flush`] for that.
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(w) = self.worker.take() {
            w.thread().unpark();
            let _ = w.join();
        }
    }
}
