//! The append-only memory-mapped journal and crash recovery.
//!
//! A record log of `(record_type: u16, payload: &[u8])` with a sequence
//! number per record; it knows nothing of what the engine puts in it.
//!
//! Guarantees: an append that returned is in the page cache and survives a
//! crash of the process (with `sync = always` also a crash of the machine;
//! with `batch`, up to [`Journal::synced_seq`]). Recovery keeps every whole
//! record before the first damaged or unfinished one, loses none of them,
//! and cuts what follows. In steady state an append allocates nothing, takes
//! no lock and makes no syscall (`none`, `batch`); no input makes it panic.
//!
//! # Directory
//!
//! - `NNNNNNNNNNNNNNNN.seg` — segments (number, 16 digits), each a file
//!   preallocated to `segment_bytes` and memory-mapped; a spare one is kept
//!   ready with an all-zero header (not yet part of the journal);
//! - `NNNNNNNNNNNNNNNNNNNN.snap` — snapshots, named by the last sequence they
//!   cover ([`snapshot`]);
//! - `LOCK` — `flock`ed by the open [`Journal`].
//!
//! # Segment layout (little-endian)
//!
//! Header, 64 bytes: magic `FLOEJSEG` (8) · version u16 = 1 · header length
//! u16 = 64 · reserved u32 · segment number u64 · first sequence u64 ·
//! segment bytes u64 · reserved (20) · crc32c of bytes 0..60 (u32).
//!
//! Records follow at offset 64, each 8-byte aligned, never straddling
//! segments:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | commit word `0xF10E << 48 \| type << 32 \| payload length`, stored **last**, `Release` |
//! | 8 | 4 | reserved, zero |
//! | 12 | 4 | crc32c over bytes 0..12, then 16 to the end (sequence, payload, padding) |
//! | 16 | 8 | sequence number (from 1, continuous across segments) |
//! | 24 | len | payload, then zero padding to a multiple of 8 |
//!
//! A zero commit word means unwritten. When a record does not fit in the
//! rest of a segment, the writer stores the end-of-segment word
//! ([`record::END_OF_SEGMENT`], when 8 bytes are left) and continues at
//! offset 64 of the next segment, whose header names the record's sequence
//! as its first. A reader stops at the first zero commit word, bad crc,
//! sequence discontinuity, bad segment header, or record running past its
//! segment — except that a zero commit word followed by nothing but zeros,
//! with a next segment whose header continues the sequence, is a roll
//! whose marker did not reach the disk.
//!
//! # Modules
//!
//! [`record`] (layouts), `segment` (files and mappings), [`writer`]
//! ([`Journal`]), `sync` (the background thread: spare segments,
//! prefaulting, `batch` msync), [`recovery`] ([`Recovery`]), [`snapshot`],
//! [`reader`] ([`JournalReader`] for tools: every record with its place, and
//! verify).

pub mod reader;
pub mod record;
pub mod recovery;
mod segment;
pub mod snapshot;
mod sync;
pub mod writer;

pub use reader::{JournalReader, Problem, Record, Records, SegmentInfo, VerifyReport};
pub use record::{HeaderDefect, SegmentHeader};
pub use recovery::{Recovery, ReplayRecords};
pub use snapshot::{Snapshot, SnapshotInfo, SnapshotWritten};
pub use writer::Journal;

use crate::config::{JournalConfig, SyncPolicy};
use std::path::PathBuf;
use std::time::Duration;

/// Errors of the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file operation failed.
    #[error("journal: {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On which file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The payload is larger than a segment can hold.
    #[error("journal: record of {len} bytes exceeds the maximum payload of {max} bytes")]
    RecordTooLarge {
        /// Payload length asked for.
        len: usize,
        /// The largest allowed.
        max: usize,
    },
    /// Options out of range.
    #[error("journal: invalid options: {0}")]
    InvalidOptions(&'static str),
    /// Another `Journal` holds the directory.
    #[error("journal: {} is locked by another writer", .0.display())]
    Locked(PathBuf),
    /// The journal's records start after what any valid snapshot covers.
    #[error("journal: records start at sequence {first_seq}, but no valid snapshot covers the records before it (newest valid snapshot: {snapshot_seq})")]
    MissingRecords {
        /// First sequence found in the segments.
        first_seq: u64,
        /// Newest valid snapshot's sequence (0 = none).
        snapshot_seq: u64,
    },
    /// A snapshot was asked for beyond the last appended record.
    #[error("journal: snapshot at sequence {seq} is beyond the last record {last_seq}")]
    SnapshotBeyondJournal {
        /// Requested sequence.
        seq: u64,
        /// Last appended sequence.
        last_seq: u64,
    },
    /// A snapshot older than the newest valid one.
    #[error("journal: snapshot at sequence {seq} is older than the newest snapshot {newest}")]
    SnapshotOutOfOrder {
        /// Requested sequence.
        seq: u64,
        /// Newest valid snapshot's sequence.
        newest: u64,
    },
    /// A roll found no spare segment within `spare_wait`.
    #[error("journal: no spare segment to roll to: {reason}")]
    NoSpareSegment {
        /// The background thread's error, or a timeout.
        reason: String,
    },
}

/// Maps an `io::Error` of `op` on `path` to a [`JournalError::Io`].
pub(crate) fn io_error<'a>(
    op: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(std::io::Error) -> JournalError + 'a {
    move |source| JournalError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// How a [`Journal`] is opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalOptions {
    /// Size of each segment file: a multiple of 4096, from 4096 to 4 GiB.
    pub segment_bytes: u64,
    /// When records reach the disk.
    pub sync: SyncPolicy,
    /// Interval of the `batch` msync.
    pub batch_interval: Duration,
    /// What [`Journal::snapshot_due`] counts to (0 = never due).
    pub snapshot_every: u64,
    /// Bytes after the write position the background thread keeps
    /// write-faulted.
    pub prefault_bytes: usize,
    /// How often the background thread wakes.
    pub worker_tick: Duration,
    /// How long a roll waits for a spare segment before failing.
    pub spare_wait: Duration,
    /// CPU to pin the background thread to (keep it off the hot thread's
    /// core); `None` lets it run on any CPU but those of `hot_cores`.
    pub worker_core: Option<usize>,
    /// The hot cores (`engine.core`, `engine.feed_core`) that the background
    /// threads stay off when `worker_core` is `None`: a thread inherits the
    /// affinity of the pinned thread that opens the journal.
    pub hot_cores: [Option<usize>; 2],
}

/// Smallest segment.
pub const MIN_SEGMENT_BYTES: u64 = 4096;
/// Largest segment (offsets are published in 32 bits of 8-byte units).
pub const MAX_SEGMENT_BYTES: u64 = 4 << 30;

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions::from_config(&JournalConfig::default())
    }
}

impl JournalOptions {
    /// Options from the `[journal]` section of the configuration.
    pub fn from_config(c: &JournalConfig) -> JournalOptions {
        JournalOptions {
            segment_bytes: c.segment_mib.saturating_mul(1 << 20),
            sync: c.sync,
            batch_interval: Duration::from_millis(c.batch_interval_ms),
            snapshot_every: c.snapshot_every,
            prefault_bytes: 1 << 20,
            worker_tick: Duration::from_millis(1),
            spare_wait: Duration::from_secs(10),
            worker_core: None,
            hot_cores: [None, None],
        }
    }

    /// The same options with `segment_bytes` set.
    pub fn with_segment_bytes(mut self, segment_bytes: u64) -> JournalOptions {
        self.segment_bytes = segment_bytes;
        self
    }

    /// The same options with `sync` set.
    pub fn with_sync(mut self, sync: SyncPolicy) -> JournalOptions {
        self.sync = sync;
        self
    }

    /// Checks the ranges.
    pub fn validate(&self) -> Result<(), JournalError> {
        if self.segment_bytes < MIN_SEGMENT_BYTES
            || self.segment_bytes > MAX_SEGMENT_BYTES
            || !self.segment_bytes.is_multiple_of(4096)
        {
            return Err(JournalError::InvalidOptions(
                "segment_bytes must be a multiple of 4096 from 4096 to 4 GiB",
            ));
        }
        if self.sync == SyncPolicy::Batch && self.batch_interval.is_zero() {
            return Err(JournalError::InvalidOptions(
                "batch_interval must be positive with sync = batch",
            ));
        }
        if self.worker_tick.is_zero() {
            return Err(JournalError::InvalidOptions("worker_tick must be positive"));
        }
        Ok(())
    }

    /// The largest payload a record can carry in segments of this size.
    pub fn max_payload(&self) -> usize {
        let room = self
            .segment_bytes
            .saturating_sub((record::SEGMENT_HEADER_LEN + record::RECORD_HEADER_LEN) as u64);
        usize::try_from(room.min(u64::from(u32::MAX) & !7)).unwrap_or(usize::MAX)
    }
}
