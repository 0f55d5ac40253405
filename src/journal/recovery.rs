//! Recovery: what [`super::Journal::open`] does before the first append.
//!
//! 1. Delete leftover temporary snapshot files; load the newest valid
//!    snapshot (a corrupt newest one falls back to the previous).
//! 2. Find the segment holding the first record after the snapshot (the
//!    last segment whose header starts at or before `snapshot + 1`; without
//!    a snapshot, the segment starting at 1). Segments before it are not
//!    read: the snapshot covers them.
//! 3. Walk records from there across segments, checking the crc of every
//!    record after the snapshot, until the first zero commit word, bad crc,
//!    sequence discontinuity, bad segment header, or record running past
//!    its segment.
//! 4. Cut the tail there: zero the non-zero bytes after the last valid
//!    record of that segment (so a later append never sits in front of
//!    garbage), restore a truncated file to its full size, delete every
//!    segment file after it, and make the cut durable (fdatasync, directory
//!    fsync) before any append. [`Recovery::bytes_cut`] says how much went.
//! 5. Writing resumes right after the last valid record, or in a new
//!    segment when that one is finished. An all-zero spare segment left
//!    after it (the usual state after a clean shutdown or a crash) is
//!    reused, as the next segment or as the spare, instead of prepared
//!    again.
//!
//! Segments before the start are never read, and records at or before the
//! snapshot are only followed (their crc is not checked: their bytes do not
//! matter any more). Damage after the snapshot loses everything from the
//! damaged record on (reported, never silent). A journal whose first segment starts after `snapshot + 1` (its
//! start was deleted and no valid snapshot covers it) is an error, not a
//! truncation.

use super::reader::{map_read_only, EndPoint, Problem, Record, Scanner, SegView};
use super::record::{nonzero_end, HeaderDefect, SegmentHeader, SEGMENT_HEADER_LEN};
use super::record::{read_slot, Slot};
use super::segment::{list_segments, preallocate, sync_dir, SegmentMap};
use super::snapshot::{load_latest, remove_temporaries, Snapshot, SnapshotInfo};
use super::{io_error as io, JournalError, JournalOptions};
use memmap2::MmapRaw;
use std::fmt;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// What recovery found and did, and the records to replay.
pub struct Recovery {
    snapshot: Option<Snapshot>,
    skipped_snapshots: Vec<SnapshotInfo>,
    last_seq: u64,
    records_found: u64,
    bytes_cut: u64,
    removed_segments: Vec<u64>,
    stop: Option<Problem>,
    replay: Vec<ReplaySegment>,
    replay_start: Option<(usize, usize, u64)>,
}

struct ReplaySegment {
    number: u64,
    map: Option<MmapRaw>,
    /// Bytes of the segment that hold replayable records (never written again).
    len: usize,
}

impl ReplaySegment {
    fn bytes(&self) -> &[u8] {
        match &self.map {
            // SAFETY: `map` is a read-only shared mapping at least `len` bytes
            // long that lives as long as `self`. The journal directory is
            // locked by this process's `Journal`, whose writer stores only
            // beyond the last recovered record of the active segment (at or
            // after `len` here) and never into earlier segments; recovery's
            // own zeroing happened before this view was made. So the bytes
            // `[0, len)` do not change while borrowed.
            Some(m) => unsafe { std::slice::from_raw_parts(m.as_ptr(), self.len) },
            None => &[],
        }
    }
}

impl fmt::Debug for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recovery")
            .field("snapshot_seq", &self.snapshot_seq())
            .field("last_seq", &self.last_seq)
            .field("records_found", &self.records_found)
            .field("replay_len", &self.replay_len())
            .field("bytes_cut", &self.bytes_cut)
            .field("removed_segments", &self.removed_segments)
            .field("stop", &self.stop)
            .finish()
    }
}

impl Recovery {
    /// The snapshot recovery starts from, if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }

    /// Sequence covered by the snapshot (0 without one).
    pub fn snapshot_seq(&self) -> u64 {
        self.snapshot.as_ref().map_or(0, |s| s.seq)
    }

    /// Snapshot files newer than the one used that failed their check.
    pub fn skipped_snapshots(&self) -> &[SnapshotInfo] {
        &self.skipped_snapshots
    }

    /// The last sequence in the journal (also covered by the snapshot); the
    /// next append gets `last_seq + 1`.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Valid records read, from the start of the segment holding the first
    /// record after the snapshot (so it may include a few at or before it).
    pub fn records_found(&self) -> u64 {
        self.records_found
    }

    /// Records after the snapshot: what [`Recovery::records`] yields.
    pub fn replay_len(&self) -> u64 {
        self.last_seq - self.snapshot_seq().min(self.last_seq)
    }

    /// Non-zero bytes cut after the last valid record (zeroed in its
    /// segment, plus the used extent of every later segment deleted).
    pub fn bytes_cut(&self) -> u64 {
        self.bytes_cut
    }

    /// Segments deleted because they came after the cut (or were all covered
    /// by a snapshot newer than the journal's end).
    pub fn removed_segments(&self) -> &[u64] {
        &self.removed_segments
    }

    /// Why the walk stopped, when it was not a clean end (a torn tail, a bad
    /// crc, a sequence gap …).
    pub fn stop_reason(&self) -> Option<&Problem> {
        self.stop.as_ref()
    }

    /// The records after the snapshot, in sequence order, with their place.
    /// Borrowing `self` only: replay can run while the journal appends.
    pub fn records(&self) -> ReplayRecords<'_> {
        let segs: Vec<(u64, &[u8])> = self
            .replay
            .iter()
            .map(|s| (s.number, SegView::new(s.number, s.bytes()).bytes))
            .collect();
        let (idx, off, expected) = self.replay_start.unwrap_or((0, 0, 0));
        ReplayRecords {
            segs,
            idx,
            off,
            expected,
            live: self.replay_start.is_some(),
        }
    }
}

/// Iterator over the records to replay; see [`Recovery::records`].
///
/// Every record it yields was already walked and crc-checked by
/// [`super::Journal::open`], so this second walk only follows the records:
/// a record in sequence, else the next segment at an end marker, zero
/// commit word or the end of the bytes, else (the files changed under the
/// lock) it stops rather than yield anything doubtful.
pub struct ReplayRecords<'a> {
    segs: Vec<(u64, &'a [u8])>,
    idx: usize,
    off: usize,
    expected: u64,
    live: bool,
}

impl<'a> Iterator for ReplayRecords<'a> {
    type Item = Record<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Record<'a>> {
        while self.live {
            let Some(&(segment, bytes)) = self.segs.get(self.idx) else {
                break;
            };
            match read_slot(bytes, self.off, None) {
                Slot::Record(r) if r.seq == self.expected => {
                    let offset = self.off as u64;
                    self.off += r.len;
                    self.expected += 1;
                    return Some(Record {
                        segment,
                        offset,
                        seq: r.seq,
                        rec_type: r.rec_type,
                        payload: r.payload,
                    });
                }
                Slot::EndMarker | Slot::Unwritten | Slot::End => {
                    self.idx += 1;
                    self.off = SEGMENT_HEADER_LEN;
                }
                Slot::Record(_) | Slot::Invalid(_) => break,
            }
        }
        self.live = false;
        None
    }
}

/// The writer's starting point after recovery.
pub(crate) struct Opened {
    pub recovery: Recovery,
    pub active: SegmentMap,
    /// A clean spare segment found on disk, to be handed to the writer at its first roll.
    pub spare: Option<SegmentMap>,
    pub pos: usize,
    pub next_seq: u64,
    /// First segment that may hold records written by an earlier run and
    /// not yet synced (the first one replayed).
    pub first_segment: u64,
}

struct FileMap {
    number: u64,
    path: PathBuf,
    map: Option<MmapRaw>,
    len: usize,
}

impl FileMap {
    fn bytes(&self) -> &[u8] {
        match &self.map {
            // SAFETY: read-only shared mapping of `len` bytes owned by `self`;
            // the directory is locked by the caller and nothing writes the
            // files while these views exist (zeroing happens after they are
            // dropped, through `pwrite`, beyond the bytes later exposed).
            Some(m) => unsafe { std::slice::from_raw_parts(m.as_ptr(), self.len) },
            None => &[],
        }
    }
}

/// Runs recovery on a locked directory and prepares the active segment.
pub(crate) fn recover(dir: &Path, opts: &JournalOptions) -> Result<Opened, JournalError> {
    remove_temporaries(dir)?;
    let (snapshot, skipped_snapshots) = load_latest(dir)?;
    let snap_seq = snapshot.as_ref().map_or(0, |s| s.seq);

    let mut files = Vec::new();
    for (number, path) in list_segments(dir).map_err(io("list", dir))? {
        let (map, len) = map_read_only(&path)?;
        files.push(FileMap {
            number,
            path,
            map,
            len,
        });
    }

    // --- the walk (views borrow `files`) ---
    let (start, end, found, last_seq, stop, replay_start, tails, truncated_to, reusable) = {
        let views: Vec<SegView<'_>> = files
            .iter()
            .map(|f| SegView::new(f.number, f.bytes()))
            .collect();
        let start = views
            .iter()
            .rposition(|v| matches!(v.header, Ok(h) if h.first_seq <= snap_seq.saturating_add(1)));
        if start.is_none() {
            if let Some(Ok(h)) = views.iter().map(|v| v.header).find(|h| h.is_ok()) {
                return Err(JournalError::MissingRecords {
                    first_seq: h.first_seq,
                    snapshot_seq: snap_seq,
                });
            }
        }
        let mut found = 0u64;
        let mut last_seq = snap_seq;
        let mut stop = None;
        let mut replay_start = None;
        let mut end = EndPoint::Nothing;
        if let Some(start) = start {
            let mut sc = Scanner::new(&views, start, snap_seq + 1);
            if let Ok(h) = views[start].header {
                last_seq = h.first_seq - 1;
            }
            while let Some(item) = sc.next(&views) {
                match item {
                    Ok(r) => {
                        found += 1;
                        last_seq = r.seq;
                        if r.seq == snap_seq + 1 {
                            let idx = views
                                .iter()
                                .position(|v| v.number == r.segment)
                                .unwrap_or(start);
                            replay_start = Some((idx - start, r.offset as usize, r.seq));
                        }
                    }
                    Err(p) => stop = Some(p),
                }
            }
            end = sc.end().unwrap_or(EndPoint::Nothing);
        }
        // Non-zero extent of everything after the end point.
        let keep_to = match end {
            EndPoint::At { idx, .. } => idx + 1,
            EndPoint::Nothing => 0,
        };
        let tails: Vec<(usize, u64)> = views
            .iter()
            .enumerate()
            .skip(keep_to)
            .map(|(i, v)| {
                let used = if v.header == Err(HeaderDefect::Unused) {
                    0
                } else {
                    nonzero_end(v.bytes, 0) as u64
                };
                (i, used)
            })
            .collect();
        // The file right after the end segment, if it is an unused spare
        // of the configured size with nothing but zeros in it: kept and
        // reused instead of deleted and prepared again.
        let reusable = match end {
            EndPoint::At { idx, .. } => views.get(idx + 1).and_then(|v| {
                let clean = v.header == Err(HeaderDefect::Unused)
                    && v.number == views[idx].number + 1
                    && v.bytes.len() as u64 == opts.segment_bytes
                    && nonzero_end(v.bytes, 0) == 0;
                clean.then_some(idx + 1)
            }),
            EndPoint::Nothing => None,
        };
        let truncated_to = match end {
            EndPoint::At { idx, off, closed } => {
                let v = &views[idx];
                let cut_end = if closed {
                    off
                } else {
                    nonzero_end(v.bytes, off)
                };
                let declared = v.header.map(|h| h.segment_bytes).unwrap_or(0);
                Some((idx, off, cut_end, closed, declared))
            }
            EndPoint::Nothing => None,
        };
        (
            start,
            end,
            found,
            last_seq,
            stop,
            replay_start,
            tails,
            truncated_to,
            reusable,
        )
    };

    let max_number = files.last().map_or(0, |f| f.number);
    let mut removed_segments = Vec::new();
    let mut bytes_cut = 0u64;
    let mut to_delete: Vec<usize> = Vec::new();
    for (i, used) in &tails {
        bytes_cut += used;
        if *used > 0
            || SegView::new(files[*i].number, files[*i].bytes())
                .header
                .is_ok()
        {
            removed_segments.push(files[*i].number);
        }
        to_delete.push(*i);
    }

    // The snapshot is newer than the last record on disk: every segment is
    // covered by it; drop them all and continue at snapshot + 1.
    let snapshot_ahead = last_seq < snap_seq || start.is_none();
    let last_seq = last_seq.max(snap_seq);

    let mut keep_active: Option<(usize, usize)> = None;
    if let Some((idx, off, cut_end, closed, declared)) = truncated_to {
        if cut_end > off {
            bytes_cut += (cut_end - off) as u64;
        }
        if snapshot_ahead {
            for (i, f) in files.iter().enumerate().take(idx + 1) {
                if !to_delete.contains(&i) {
                    to_delete.push(i);
                    removed_segments.push(f.number);
                }
            }
        } else {
            // Zero the garbage, restore a truncated file to full size.
            let f = &files[idx];
            let needs_zero = cut_end > off;
            let needs_len = (f.len as u64) < declared;
            if needs_zero || needs_len {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&f.path)
                    .map_err(io("open", &f.path))?;
                if needs_zero {
                    let zeros = vec![0u8; (cut_end - off).min(1 << 20)];
                    let mut at = off;
                    while at < cut_end {
                        let n = (cut_end - at).min(zeros.len());
                        file.write_all_at(&zeros[..n], at as u64)
                            .map_err(io("zero", &f.path))?;
                        at += n;
                    }
                }
                if needs_len {
                    file.set_len(declared).map_err(io("extend", &f.path))?;
                    preallocate(&file, declared).map_err(io("fallocate", &f.path))?;
                }
                file.sync_data().map_err(io("fdatasync", &f.path))?;
            }
            if !closed {
                keep_active = Some((idx, off));
            }
        }
    } else {
        // Nothing usable: every file is unused or unreadable.
        for i in 0..files.len() {
            if !to_delete.contains(&i) {
                to_delete.push(i);
            }
        }
    }

    let reusable = reusable.filter(|_| truncated_to.is_some() && !snapshot_ahead);
    for &i in &to_delete {
        if Some(i) == reusable {
            continue;
        }
        std::fs::remove_file(&files[i].path).map_err(io("remove", &files[i].path))?;
    }
    // Removing an unused spare need not be durable; removing records must.
    if !removed_segments.is_empty() {
        sync_dir(dir).map_err(io("fsync", dir))?;
    }
    removed_segments.sort_unstable();
    removed_segments.dedup();

    // Where writing resumes.
    let next_seq = last_seq + 1;
    let reuse = |i: usize| -> Result<SegmentMap, JournalError> {
        let f = &files[i];
        SegmentMap::open(&f.path, f.number, 0, opts.prefault_bytes).map_err(io("map", &f.path))
    };
    let mut spare = None;
    let (active, pos, first_segment) = match keep_active {
        Some((idx, off)) => {
            let f = &files[idx];
            let map = SegmentMap::open(&f.path, f.number, off, opts.prefault_bytes)
                .map_err(io("map", &f.path))?;
            if let Some(i) = reusable {
                spare = Some(reuse(i)?);
            }
            (map, off, files[start.unwrap_or(idx)].number)
        }
        None => {
            let number = match end {
                EndPoint::At { idx, .. } if !snapshot_ahead => files[idx].number + 1,
                _ => max_number + 1,
            };
            let map = match reusable {
                Some(i) => {
                    let map = reuse(i)?;
                    // SAFETY: the segment is all zero (checked above) and
                    // no one else maps it for writing yet.
                    unsafe {
                        map.write_header(&SegmentHeader {
                            number,
                            first_seq: next_seq,
                            segment_bytes: map.len() as u64,
                        })
                    };
                    map
                }
                None => new_active(dir, number, next_seq, opts)?,
            };
            let first = match (start, snapshot_ahead) {
                (Some(s), false) => files[s].number,
                _ => number,
            };
            (map, SEGMENT_HEADER_LEN, first)
        }
    };

    // Replay range: from the start segment to the end segment, each exposed
    // up to where its records end.
    let mut replay = Vec::new();
    let mut replay_start_out = None;
    if let (Some(start), EndPoint::At { idx, off, .. }, false) = (start, end, snapshot_ahead) {
        if let Some(rs) = replay_start {
            replay_start_out = Some(rs);
        }
        for (i, f) in files.iter_mut().enumerate().take(idx + 1).skip(start) {
            let len = if i == idx { off } else { f.len };
            replay.push(ReplaySegment {
                number: f.number,
                map: f.map.take(),
                len: len.min(f.len),
            });
        }
    }

    Ok(Opened {
        recovery: Recovery {
            snapshot,
            skipped_snapshots,
            last_seq,
            records_found: found,
            bytes_cut,
            removed_segments,
            stop,
            replay,
            replay_start: replay_start_out,
        },
        active,
        spare,
        pos,
        next_seq,
        first_segment,
    })
}

/// Creates segment `number` and writes its header for records from `first_seq`.
pub(crate) fn new_active(
    dir: &Path,
    number: u64,
    first_seq: u64,
    opts: &JournalOptions,
) -> Result<SegmentMap, JournalError> {
    if number > u64::from(u32::MAX) {
        return Err(JournalError::InvalidOptions("segment numbers exhausted"));
    }
    let path = super::segment::segment_path(dir, number);
    let durable = opts.sync != crate::config::SyncPolicy::None;
    let map = SegmentMap::create(
        dir,
        number,
        opts.segment_bytes,
        durable,
        opts.prefault_bytes,
    )
    .map_err(io("create", &path))?;
    // SAFETY: the segment was just created by this thread; nothing else
    // knows of it yet.
    unsafe {
        map.write_header(&SegmentHeader {
            number,
            first_seq,
            segment_bytes: opts.segment_bytes,
        })
    };
    Ok(map)
}
