//! The journal's background thread: spare segments, prefaulting, and the
//! `batch` sync policy.
//!
//! One thread per open [`super::Journal`] (named `floe-journal`), woken
//! every tick. It never blocks the writer; the two share only atomics and a
//! one-slot lock-free queue:
//!
//! - the writer publishes its high-water mark after every append: the packed
//!   position (segment number, offset) and then the sequence written, both
//!   with `Release`; the thread reads the sequence first and then the
//!   position, both with `Acquire`, so the position it syncs to always covers
//!   the sequence it then declares durable;
//! - it keeps one spare segment ready in a one-slot [`ArrayQueue`], which
//!   the writer pops at a roll: a roll costs a pop and a 64-byte header
//!   copy, no syscall. A spare is handed over as soon as it is created,
//!   preallocated, mapped and its first `prefault_bytes` write-faulted; the
//!   thread then write-faults the rest of it (and of the segment the writer
//!   is in) chunk by chunk, staying ahead of the writer;
//! - it keeps the next `prefault_bytes` after the writer's position
//!   write-faulted (`MADV_POPULATE_WRITE`), so the writer does not fault
//!   after the kernel wrote pages back, or after a `batch` msync cleaned
//!   them;
//! - with `batch`, every `batch_interval` it msyncs from where it last
//!   synced to the high-water mark (finishing earlier segments first) and
//!   then publishes `synced_seq`;
//! - it holds a reference to every segment the writer may still use, so a
//!   retired segment is unmapped here, never on the writer's thread.
//!
//! On stop (the journal's drop) it syncs once more with `batch` and exits.

use super::segment::{segment_path, SegmentMap};
use super::JournalOptions;
use crate::config::SyncPolicy;
use crossbeam::queue::ArrayQueue;
use crossbeam::utils::CachePadded;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Packs a segment number and an 8-aligned offset into one word.
#[inline]
pub(crate) fn pack(segment: u64, off: usize) -> u64 {
    (segment << 32) | ((off as u64 >> 3) & 0xFFFF_FFFF)
}

/// Inverse of [`pack`].
#[inline]
pub(crate) fn unpack(p: u64) -> (u64, usize) {
    (p >> 32, ((p & 0xFFFF_FFFF) << 3) as usize)
}

/// The writer's published high-water mark (one cache line, written only by the writer).
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// [`pack`]ed position after the last committed record.
    pub pos: AtomicU64,
    /// Sequence of the last committed record.
    pub seq: AtomicU64,
}

/// State shared by the writer and the background thread.
#[derive(Debug)]
pub(crate) struct Shared {
    pub progress: CachePadded<Progress>,
    /// Highest sequence known to be on disk.
    pub synced_seq: CachePadded<AtomicU64>,
    /// The ready spare segment.
    pub ready: ArrayQueue<Arc<SegmentMap>>,
    pub stop: AtomicBool,
    /// The background thread's last failure, cleared when it succeeds again.
    pub error: Mutex<Option<String>>,
}

impl Shared {
    pub fn new(pos: u64, seq: u64, synced: u64) -> Shared {
        Shared {
            progress: CachePadded::new(Progress {
                pos: AtomicU64::new(pos),
                seq: AtomicU64::new(seq),
            }),
            synced_seq: CachePadded::new(AtomicU64::new(synced)),
            ready: ArrayQueue::new(1),
            stop: AtomicBool::new(false),
            error: Mutex::new(None),
        }
    }

    fn set_error(&self, e: Option<String>) {
        if let Ok(mut g) = self.error.lock() {
            *g = e;
        }
    }

    pub fn last_error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|g| g.clone())
    }
}

pub(crate) struct Worker {
    shared: Arc<Shared>,
    dir: PathBuf,
    opts: JournalOptions,
    /// Segments that may still be written or synced, by ascending number.
    segs: VecDeque<Arc<SegmentMap>>,
    /// Position synced up to (`batch`).
    synced: (u64, usize),
    next_spare: u64,
    /// Segments not yet write-faulted to their end, and how far each is.
    filling: VecDeque<(Arc<SegmentMap>, usize)>,
    last_sync: Instant,
    last_prefault: (u64, usize),
    last_prefault_at: Instant,
}

impl Worker {
    /// Starts the thread for a writer whose active segment is `active`,
    /// positioned at `pos`.
    pub fn spawn(
        shared: Arc<Shared>,
        dir: PathBuf,
        opts: JournalOptions,
        active: Arc<SegmentMap>,
        pos: usize,
        spare: Option<Arc<SegmentMap>>,
    ) -> std::io::Result<JoinHandle<()>> {
        let number = active.number();
        let now = Instant::now();
        let mut segs = VecDeque::from([Arc::clone(&active)]);
        let mut filling = VecDeque::from([(Arc::clone(&active), pos)]);
        let mut next_spare = number + 1;
        if let Some(s) = spare.filter(|s| s.number() == number + 1) {
            segs.push_back(Arc::clone(&s));
            filling.push_back((Arc::clone(&s), 0));
            next_spare += 1;
            // The queue is new and empty.
            let _ = shared.ready.push(s);
        }
        let mut w = Worker {
            shared,
            dir,
            opts,
            segs,
            synced: (number, pos),
            next_spare,
            filling,
            last_sync: now,
            last_prefault: (number, pos),
            last_prefault_at: now,
        };
        let (core, hot) = (w.opts.worker_core, w.opts.hot_cores);
        thread::Builder::new()
            .name("floe-journal".into())
            .spawn(move || {
                // Best effort: an unknown core leaves the thread where it is.
                match core {
                    Some(id) => {
                        core_affinity::set_for_current(core_affinity::CoreId { id });
                    }
                    None => {
                        crate::affinity::leave_hot_cores(hot);
                    }
                }
                w.run()
            })
    }

    fn tick(&self) -> Duration {
        let t = self.opts.worker_tick;
        if self.opts.sync == SyncPolicy::Batch {
            t.min(self.opts.batch_interval)
        } else {
            t
        }
    }

    fn run(&mut self) {
        loop {
            let stopping = self.shared.stop.load(Ordering::Acquire);
            if !stopping {
                self.ensure_spare();
            }
            let mut synced_now = false;
            if self.opts.sync == SyncPolicy::Batch
                && (stopping || self.last_sync.elapsed() >= self.opts.batch_interval)
            {
                self.batch_sync();
                self.last_sync = Instant::now();
                synced_now = true;
            }
            let (active, off) = unpack(self.shared.progress.pos.load(Ordering::Acquire));
            self.retire(active);
            if stopping {
                return;
            }
            self.prefault(active, off, synced_now);
            if !self.fill_step(active, off) {
                thread::park_timeout(self.tick());
            }
        }
    }

    fn ensure_spare(&mut self) {
        if !self.shared.ready.is_empty() {
            return;
        }
        let number = self.next_spare;
        match SegmentMap::create(
            &self.dir,
            number,
            self.opts.segment_bytes,
            self.opts.sync != SyncPolicy::None,
            self.opts.prefault_bytes,
        ) {
            Ok(m) => {
                let m = Arc::new(m);
                self.segs.push_back(Arc::clone(&m));
                self.filling
                    .push_back((Arc::clone(&m), self.opts.prefault_bytes));
                // The queue is empty and only this thread pushes.
                let _ = self.shared.ready.push(m);
                self.next_spare += 1;
                self.shared.set_error(None);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // A stale file under the next number (never part of the
                // journal: recovery removes everything after the end).
                let p = segment_path(&self.dir, number);
                let _ = std::fs::remove_file(&p);
                self.shared
                    .set_error(Some(format!("removed stale {}", p.display())));
            }
            Err(e) => {
                self.shared
                    .set_error(Some(format!("preparing segment {number}: {e}")));
            }
        }
    }

    fn batch_sync(&mut self) {
        let seq = self.shared.progress.seq.load(Ordering::Acquire);
        let (pseg, poff) = unpack(self.shared.progress.pos.load(Ordering::Acquire));
        let (sseg, soff) = self.synced;
        for m in &self.segs {
            let n = m.number();
            if n < sseg || n > pseg {
                continue;
            }
            let start = if n == sseg { soff } else { 0 };
            let end = if n == pseg { poff } else { m.len() };
            if end > start {
                if let Err(e) = m.sync_range(start, end - start) {
                    self.shared
                        .set_error(Some(format!("msync segment {n}: {e}")));
                    return;
                }
            }
        }
        self.synced = (pseg, poff);
        self.shared.synced_seq.fetch_max(seq, Ordering::AcqRel);
    }

    fn retire(&mut self, active: u64) {
        while let Some(front) = self.segs.front() {
            let n = front.number();
            let synced = self.opts.sync != SyncPolicy::Batch || n < self.synced.0;
            if n < active && synced {
                self.segs.pop_front();
            } else {
                break;
            }
        }
    }

    /// Write-faults the next chunk of the oldest segment still being
    /// filled; `true` while some of it remains.
    fn fill_step(&mut self, active: u64, off: usize) -> bool {
        while let Some((seg, done)) = self.filling.front_mut() {
            if seg.number() < active || *done >= seg.len() {
                // Finished, or the writer has moved past it.
                self.filling.pop_front();
                continue;
            }
            let from = if seg.number() == active {
                (*done).max(off)
            } else {
                *done
            };
            let chunk = self.opts.prefault_bytes.max(1 << 16);
            seg.populate(from, chunk);
            *done = from.saturating_add(chunk);
            return true;
        }
        false
    }

    fn prefault(&mut self, active: u64, off: usize, after_sync: bool) {
        let moved = (active, off) != self.last_prefault;
        if !moved && !after_sync && self.last_prefault_at.elapsed() < Duration::from_secs(1) {
            return;
        }
        if let Some(m) = self.segs.iter().find(|m| m.number() == active) {
            m.populate(off, self.opts.prefault_bytes);
        }
        self.last_prefault = (active, off);
        self.last_prefault_at = Instant::now();
    }
}
