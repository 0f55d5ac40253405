//! Reading a journal directory without changing it: every record with its
//! place, and a verify pass that names the first problem.
//!
//! [`JournalReader`] maps the segment files read-only and never writes.
//! Records come out in sequence order; the walk stops at the first zero
//! commit word, bad crc, sequence discontinuity, bad segment header, or a
//! record that would run past its segment, and reports what it found there
//! as a [`Problem`] (a clean end is no problem). The same walk is what
//! [`super::Journal::open`] runs before it truncates a torn tail.

use super::record::{
    nonzero_end, read_slot, Defect, HeaderDefect, SeedCache, SegmentHeader, Slot,
    SEGMENT_HEADER_LEN,
};
use super::segment::list_segments;
use super::snapshot::{list_snapshots, SnapshotInfo};
use super::JournalError;
use memmap2::{MmapOptions, MmapRaw};
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

/// One record, where it is, and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    /// Number of the segment holding it.
    pub segment: u64,
    /// Byte offset of its header in the segment file.
    pub offset: u64,
    /// Sequence number (continuous from 1 across segments).
    pub seq: u64,
    /// Record type, as given to `append`.
    pub rec_type: u16,
    /// Payload bytes, as given to `append`.
    pub payload: &'a [u8],
}

/// The first thing wrong in a journal directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// A segment's header is unreadable or does not match its file name.
    BadSegmentHeader {
        /// Segment number (from the file name).
        segment: u64,
        /// Why.
        reason: &'static str,
    },
    /// Segment numbers are not consecutive.
    MissingSegment {
        /// The number that should come next.
        expected: u64,
        /// The number found instead.
        found: u64,
    },
    /// A segment's first sequence does not continue the previous segment.
    SegmentSeqGap {
        /// Segment number.
        segment: u64,
        /// Sequence the previous segment leads to.
        expected: u64,
        /// First sequence in this segment's header.
        found: u64,
    },
    /// A commit word that is neither zero, a record, nor an end marker.
    BadCommitWord {
        /// Segment number.
        segment: u64,
        /// Byte offset in the segment.
        offset: u64,
        /// The word.
        word: u64,
    },
    /// A record whose length runs past the end of its segment.
    Overrun {
        /// Segment number.
        segment: u64,
        /// Byte offset in the segment.
        offset: u64,
        /// Payload length in its header.
        len: u32,
    },
    /// A record whose crc does not match.
    BadCrc {
        /// Segment number.
        segment: u64,
        /// Byte offset in the segment.
        offset: u64,
        /// Its sequence field as read.
        seq: u64,
    },
    /// A record whose sequence number does not follow its predecessor's.
    SeqGap {
        /// Segment number.
        segment: u64,
        /// Byte offset in the segment.
        offset: u64,
        /// The sequence that should come next.
        expected: u64,
        /// The sequence found.
        found: u64,
    },
    /// Non-zero bytes after the last record: an unfinished (torn) write.
    TornTail {
        /// Segment number.
        segment: u64,
        /// Byte offset in the segment where the last record ends.
        offset: u64,
        /// Bytes from there to the last non-zero byte.
        bytes: u64,
    },
    /// A segment in use after the one where the records end.
    DataAfterEnd {
        /// Segment number.
        segment: u64,
    },
    /// The first record is not sequence 1 and no valid snapshot covers the
    /// records before it.
    MissingStart {
        /// First sequence in the journal.
        first_seq: u64,
        /// Newest valid snapshot's sequence (0 = none).
        snapshot_seq: u64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::BadSegmentHeader { segment, reason } => {
                write!(f, "bad header in segment {segment}: {reason}")
            }
            Problem::MissingSegment { expected, found } => {
                write!(f, "segment {expected} missing (next is {found})")
            }
            Problem::SegmentSeqGap {
                segment,
                expected,
                found,
            } => write!(
                f,
                "sequence gap at segment {segment}: header starts at {found}, expected {expected}"
            ),
            Problem::BadCommitWord {
                segment,
                offset,
                word,
            } => write!(
                f,
                "bad record header at segment {segment} offset {offset}: commit word {word:#018x}"
            ),
            Problem::Overrun {
                segment,
                offset,
                len,
            } => write!(
                f,
                "record at segment {segment} offset {offset} ({len} bytes) runs past the segment"
            ),
            Problem::BadCrc {
                segment,
                offset,
                seq,
            } => write!(
                f,
                "bad crc at segment {segment} offset {offset} (sequence field {seq})"
            ),
            Problem::SeqGap {
                segment,
                offset,
                expected,
                found,
            } => write!(
                f,
                "sequence gap at segment {segment} offset {offset}: found {found}, expected {expected}"
            ),
            Problem::TornTail {
                segment,
                offset,
                bytes,
            } => write!(
                f,
                "torn write at segment {segment} offset {offset}: {bytes} bytes after the last record"
            ),
            Problem::DataAfterEnd { segment } => {
                write!(f, "segment {segment} is in use after the end of the records")
            }
            Problem::MissingStart {
                first_seq,
                snapshot_seq,
            } => write!(
                f,
                "journal starts at sequence {first_seq} but the newest valid snapshot covers only up to {snapshot_seq}"
            ),
        }
    }
}

/// One segment as the scanner sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegView<'a> {
    pub number: u64,
    pub header: Result<SegmentHeader, HeaderDefect>,
    /// The file's bytes, at most `header.segment_bytes` of them.
    pub bytes: &'a [u8],
}

impl<'a> SegView<'a> {
    /// A view of `file` (all the bytes of segment `number`'s file).
    pub fn new(number: u64, file: &'a [u8]) -> SegView<'a> {
        let header = SegmentHeader::decode(file).and_then(|h| {
            if h.number == number {
                Ok(h)
            } else {
                Err(HeaderDefect::BadField)
            }
        });
        let bytes = match header {
            Ok(h) => {
                &file[..file
                    .len()
                    .min(usize::try_from(h.segment_bytes).unwrap_or(usize::MAX))]
            }
            Err(_) => file,
        };
        SegView {
            number,
            header,
            bytes,
        }
    }

    /// The file is shorter than its header says (cut by truncation).
    fn truncated(&self) -> bool {
        matches!(self.header, Ok(h) if (self.bytes.len() as u64) < h.segment_bytes)
    }
}

fn header_reason(d: HeaderDefect, number_mismatch: bool) -> &'static str {
    if number_mismatch {
        "number does not match the file name"
    } else {
        d.as_str()
    }
}

/// Where a walk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EndPoint {
    /// No segment with a valid header to start from.
    Nothing,
    /// After the last valid record, at `off` of view `idx`. With `closed`,
    /// that segment is finished (end marker or full) and writing resumes in
    /// a new segment; otherwise writing resumes at `off`.
    At {
        idx: usize,
        off: usize,
        closed: bool,
    },
}

#[derive(Clone, Debug)]
enum State {
    Running,
    Ended(EndPoint),
    Failed(EndPoint),
}

/// The record walk over a slice of segment views.
#[derive(Clone, Debug)]
pub(crate) struct Scanner {
    idx: usize,
    off: usize,
    expected: u64,
    /// crcs are checked for records from this sequence on (`u64::MAX`: never).
    crc_from: u64,
    seeds: SeedCache,
    state: State,
    pending: Option<Problem>,
}

impl Scanner {
    /// A walk starting at the first record of view `start`, checking the
    /// crc of every record from sequence `crc_from` on (records before it
    /// are only followed: their bytes do not matter to the caller).
    pub fn new(views: &[SegView<'_>], start: usize, crc_from: u64) -> Scanner {
        let mut s = Scanner {
            idx: start,
            off: SEGMENT_HEADER_LEN,
            expected: 0,
            crc_from,
            seeds: SeedCache::default(),
            state: State::Running,
            pending: None,
        };
        match views.get(start).map(|v| v.header) {
            None | Some(Err(HeaderDefect::Unused)) => s.state = State::Ended(EndPoint::Nothing),
            Some(Err(d)) => {
                let v = &views[start];
                let mismatch = SegmentHeader::decode(v.bytes).is_ok();
                s.fail(
                    Problem::BadSegmentHeader {
                        segment: v.number,
                        reason: header_reason(d, mismatch),
                    },
                    EndPoint::Nothing,
                );
            }
            Some(Ok(h)) => s.expected = h.first_seq,
        }
        s
    }

    /// Where the walk ended, once it has (`None` while records remain).
    pub fn end(&self) -> Option<EndPoint> {
        match self.state {
            State::Running => None,
            State::Ended(e) | State::Failed(e) => Some(e),
        }
    }

    fn fail(&mut self, p: Problem, at: EndPoint) {
        self.state = State::Failed(at);
        self.pending = Some(p);
    }

    fn here(&self, closed: bool) -> EndPoint {
        EndPoint::At {
            idx: self.idx,
            off: self.off,
            closed,
        }
    }

    /// The view after the current one, if it is in use and continues it.
    /// `Err` holds the problem when the next segment is in use but wrong.
    fn next_continues(&self, views: &[SegView<'_>]) -> Result<bool, Problem> {
        let cur = &views[self.idx];
        let Some(next) = views.get(self.idx + 1) else {
            return Ok(false);
        };
        match next.header {
            Err(HeaderDefect::Unused) => Ok(false),
            Err(d) => Err(Problem::BadSegmentHeader {
                segment: next.number,
                reason: header_reason(d, SegmentHeader::decode(next.bytes).is_ok()),
            }),
            Ok(_) if next.number != cur.number + 1 => Err(Problem::MissingSegment {
                expected: cur.number + 1,
                found: next.number,
            }),
            Ok(h) if h.first_seq != self.expected => Err(Problem::SegmentSeqGap {
                segment: next.number,
                expected: self.expected,
                found: h.first_seq,
            }),
            Ok(_) => Ok(true),
        }
    }

    /// The next record, or the problem that ended the walk (once), or `None`.
    pub fn next<'a>(&mut self, views: &[SegView<'a>]) -> Option<Result<Record<'a>, Problem>> {
        loop {
            if let Some(p) = self.pending.take() {
                return Some(Err(p));
            }
            if !matches!(self.state, State::Running) {
                return None;
            }
            let view = &views[self.idx];
            let segment = view.number;
            let offset = self.off as u64;
            let seeds = (self.expected >= self.crc_from).then_some(&mut self.seeds);
            let closed = match read_slot(view.bytes, self.off, seeds) {
                Slot::Record(r) => {
                    if r.seq != self.expected {
                        self.fail(
                            Problem::SeqGap {
                                segment,
                                offset,
                                expected: self.expected,
                                found: r.seq,
                            },
                            self.here(false),
                        );
                        continue;
                    }
                    self.off += r.len;
                    self.expected += 1;
                    return Some(Ok(Record {
                        segment,
                        offset,
                        seq: r.seq,
                        rec_type: r.rec_type,
                        payload: r.payload,
                    }));
                }
                Slot::EndMarker => true,
                Slot::End => !view.truncated(),
                Slot::Unwritten => false,
                Slot::Invalid(d) => {
                    let p = match d {
                        Defect::BadCommitWord(word) => Problem::BadCommitWord {
                            segment,
                            offset,
                            word,
                        },
                        Defect::Overrun { len } => Problem::Overrun {
                            segment,
                            offset,
                            len,
                        },
                        Defect::BadCrc { seq } => Problem::BadCrc {
                            segment,
                            offset,
                            seq,
                        },
                    };
                    self.fail(p, self.here(false));
                    continue;
                }
            };
            // No record here: the segment ends, or the journal does.
            let tail_end = if closed {
                self.off
            } else {
                nonzero_end(view.bytes, self.off)
            };
            match self.next_continues(views) {
                // A lost end marker with nothing else after the last record
                // is still a clean roll when the next segment continues.
                Ok(true) if tail_end == self.off => {
                    self.idx += 1;
                    self.off = SEGMENT_HEADER_LEN;
                }
                Err(p) if closed => self.fail(p, self.here(true)),
                _ if tail_end > self.off => self.fail(
                    Problem::TornTail {
                        segment,
                        offset,
                        bytes: (tail_end - self.off) as u64,
                    },
                    self.here(false),
                ),
                _ => self.state = State::Ended(self.here(closed)),
            }
        }
    }
}

/// Header facts about one segment file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Number in the file name.
    pub number: u64,
    /// The file.
    pub path: PathBuf,
    /// File length.
    pub file_len: u64,
    /// The decoded header, or why it is not valid (`Unused` for a
    /// preallocated segment not yet written).
    pub header: Result<SegmentHeader, HeaderDefect>,
}

struct MappedFile {
    number: u64,
    path: PathBuf,
    len: usize,
    map: Option<MmapRaw>,
}

impl MappedFile {
    fn bytes(&self) -> &[u8] {
        match &self.map {
            // SAFETY: `map` is a read-only shared mapping of `len` bytes that
            // lives as long as `self`. Within this process nothing writes the
            // file through the reader; a writer in another process only
            // stores beyond the records already committed (and the decoder
            // treats every byte as untrusted). Truncating the file while it is
            // mapped would raise SIGBUS, which tools document.
            Some(m) => unsafe { std::slice::from_raw_parts(m.as_ptr(), self.len) },
            None => &[],
        }
    }
}

/// Maps `path` read-only (whole file); `None` for an empty file.
pub(crate) fn map_read_only(path: &Path) -> Result<(Option<MmapRaw>, usize), JournalError> {
    let io = |op| {
        move |source| JournalError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    };
    let file = File::open(path).map_err(io("open"))?;
    let len = file.metadata().map_err(io("stat"))?.len();
    let len = usize::try_from(len).map_err(|_| JournalError::InvalidOptions("file too large"))?;
    if len == 0 {
        return Ok((None, 0));
    }
    let map = MmapOptions::new()
        .len(len)
        .populate()
        .map_raw_read_only(&file)
        .map_err(io("mmap"))?;
    Ok((Some(map), len))
}

/// A read-only view of a journal directory for tools (`floe journal
/// inspect|verify`). Safe to open while a journal is being written by
/// another process: it then sees a prefix of the records, possibly ending in
/// a torn write.
pub struct JournalReader {
    dir: PathBuf,
    files: Vec<MappedFile>,
    snapshots: Vec<SnapshotInfo>,
}

impl fmt::Debug for JournalReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JournalReader")
            .field("dir", &self.dir)
            .field("segments", &self.files.len())
            .field("snapshots", &self.snapshots.len())
            .finish()
    }
}

/// The outcome of [`JournalReader::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files in the directory.
    pub segments: usize,
    /// Valid records read before the end or the first problem.
    pub records: u64,
    /// Sequence of the first record, if any.
    pub first_seq: Option<u64>,
    /// Sequence of the last valid record, if any.
    pub last_seq: Option<u64>,
    /// Newest valid snapshot's sequence, if any.
    pub snapshot_seq: Option<u64>,
    /// Snapshot files that failed their check (recovery skips them).
    pub bad_snapshots: Vec<SnapshotInfo>,
    /// The first problem; `None` when the journal is valid.
    pub problem: Option<Problem>,
}

impl VerifyReport {
    /// No problem found.
    pub fn is_valid(&self) -> bool {
        self.problem.is_none()
    }
}

impl JournalReader {
    /// Opens `dir` read-only: lists and maps its segments and checks its snapshots.
    pub fn open(dir: impl AsRef<Path>) -> Result<JournalReader, JournalError> {
        let dir = dir.as_ref().to_path_buf();
        let segs = list_segments(&dir).map_err(|source| JournalError::Io {
            op: "list",
            path: dir.clone(),
            source,
        })?;
        let mut files = Vec::with_capacity(segs.len());
        for (number, path) in segs {
            let (map, len) = match map_read_only(&path) {
                Ok(m) => m,
                // Pruned since the listing by the writer's snapshot policy:
                // a snapshot covers it.
                Err(JournalError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    continue
                }
                Err(e) => return Err(e),
            };
            files.push(MappedFile {
                number,
                path,
                len,
                map,
            });
        }
        let snapshots = list_snapshots(&dir)?;
        Ok(JournalReader {
            dir,
            files,
            snapshots,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every segment file, by number.
    pub fn segments(&self) -> Vec<SegmentInfo> {
        self.files
            .iter()
            .map(|f| SegmentInfo {
                number: f.number,
                path: f.path.clone(),
                file_len: f.len as u64,
                header: SegView::new(f.number, f.bytes()).header,
            })
            .collect()
    }

    /// Every snapshot file, newest first, each checked.
    pub fn snapshots(&self) -> &[SnapshotInfo] {
        &self.snapshots
    }

    fn views(&self) -> Vec<SegView<'_>> {
        self.files
            .iter()
            .map(|f| SegView::new(f.number, f.bytes()))
            .collect()
    }

    /// Every record from the first segment on, in order, each crc-checked.
    /// The iterator ends after the last valid record; if something other
    /// than a clean end follows, it yields that [`Problem`] once first.
    pub fn records(&self) -> Records<'_> {
        let views = self.views();
        let scanner = Scanner::new(&views, 0, 0);
        Records { views, scanner }
    }

    /// Checks every segment header, record crc and sequence continuity, that
    /// nothing is written after the end, and that the first record is either
    /// sequence 1 or covered by a valid snapshot. Reports the first problem.
    pub fn verify(&self) -> VerifyReport {
        let views = self.views();
        let mut scanner = Scanner::new(&views, 0, 0);
        let mut records = 0u64;
        let mut first_seq = None;
        let mut last_seq = None;
        let mut problem = None;
        while let Some(item) = scanner.next(&views) {
            match item {
                Ok(r) => {
                    records += 1;
                    first_seq.get_or_insert(r.seq);
                    last_seq = Some(r.seq);
                }
                Err(p) => {
                    problem = Some(p);
                    break;
                }
            }
        }
        let snapshot_seq = self
            .snapshots
            .iter()
            .find(|s| s.defect.is_none())
            .map(|s| s.seq);
        if problem.is_none() {
            // Segments after the end must be unused (preallocated spares).
            let after = match scanner.end() {
                Some(EndPoint::At { idx, .. }) => idx + 1,
                _ => 0,
            };
            problem = views[after.min(views.len())..]
                .iter()
                .find(|v| v.header != Err(HeaderDefect::Unused))
                .map(|v| Problem::DataAfterEnd { segment: v.number });
        }
        if problem.is_none() {
            let start = match views.first().map(|v| v.header) {
                Some(Ok(h)) => h.first_seq,
                _ => 1,
            };
            let covered = snapshot_seq.unwrap_or(0);
            if start > 1 && covered.saturating_add(1) < start {
                problem = Some(Problem::MissingStart {
                    first_seq: start,
                    snapshot_seq: covered,
                });
            }
        }
        VerifyReport {
            segments: views.len(),
            records,
            first_seq,
            last_seq,
            snapshot_seq,
            bad_snapshots: self
                .snapshots
                .iter()
                .filter(|s| s.defect.is_some())
                .cloned()
                .collect(),
            problem,
        }
    }
}

/// Iterator over a directory's records; see [`JournalReader::records`].
pub struct Records<'a> {
    views: Vec<SegView<'a>>,
    scanner: Scanner,
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, Problem>;

    fn next(&mut self) -> Option<Self::Item> {
        self.scanner.next(&self.views)
    }
}
