//! Snapshot files: the state as of a sequence number, so replay is bounded.
//!
//! A snapshot is `NNNNNNNNNNNNNNNNNNNN.snap` (the last sequence number it
//! covers, 20 decimal digits) holding a 32-byte header and opaque bytes:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `FLOESNAP` |
//! | 8 | 2 | format version (1) |
//! | 10 | 2 | reserved, zero |
//! | 12 | 4 | crc32c over bytes 0..12, 16..32 and the payload |
//! | 16 | 8 | last included sequence number |
//! | 24 | 8 | payload length |
//!
//! It is written atomically: a temporary file, fsync, rename, fsync of the
//! directory. The newest two valid snapshots are kept (so a newest one found
//! corrupt falls back to the previous), and segments are deleted only when
//! every record in them is covered by the *older* of the two: recovery can
//! always fall back one snapshot. Every function here does blocking file I/O
//! and may be called from any thread, also while a [`super::Journal`] is
//! writing to the same directory.

use super::record::SegmentHeader;
use super::segment::{list_segments, read_header_bytes, sync_dir};
use super::{io_error as io_err, JournalError};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Magic bytes at the start of a snapshot file.
pub const SNAPSHOT_MAGIC: [u8; 8] = *b"FLOESNAP";
/// Snapshot format version.
pub const SNAPSHOT_VERSION: u16 = 1;
/// Length of the snapshot header.
pub const SNAPSHOT_HEADER_LEN: usize = 32;
/// Suffix of snapshot files.
pub const SNAPSHOT_SUFFIX: &str = ".snap";
const TMP_SUFFIX: &str = ".snap.tmp";
const NAME_DIGITS: usize = 20;

const S_MAGIC: Range<usize> = 0..8;
const S_VERSION: Range<usize> = 8..10;
const S_RESERVED: Range<usize> = 10..12;
const S_CRC: Range<usize> = 12..16;
const S_SEQ: Range<usize> = 16..24;
const S_LEN: Range<usize> = 24..32;

const _: () = {
    assert!(S_MAGIC.end == S_VERSION.start && S_VERSION.end == S_RESERVED.start);
    assert!(S_RESERVED.end == S_CRC.start && S_CRC.end == S_SEQ.start);
    assert!(S_SEQ.end == S_LEN.start && S_LEN.end == SNAPSHOT_HEADER_LEN);
    assert!(size_of::<[u8; SNAPSHOT_HEADER_LEN]>() == 32);
};

/// A valid snapshot loaded into memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The last sequence number whose effect is included.
    pub seq: u64,
    /// The snapshot's bytes, as given to [`write_snapshot`].
    pub bytes: Vec<u8>,
    /// Its file.
    pub path: PathBuf,
}

/// A snapshot file found in a directory and whether it checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Sequence number in the file name.
    pub seq: u64,
    /// The file.
    pub path: PathBuf,
    /// File length in bytes.
    pub file_len: u64,
    /// `None` when valid, else why not.
    pub defect: Option<&'static str>,
}

/// The file name of the snapshot covering `seq`.
pub fn snapshot_file_name(seq: u64) -> String {
    format!("{seq:0NAME_DIGITS$}{SNAPSHOT_SUFFIX}")
}

/// The sequence number in a snapshot file name, if it is one.
pub fn parse_snapshot_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SNAPSHOT_SUFFIX)?;
    if digits.len() != NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Encodes a whole snapshot file.
pub fn encode_snapshot(seq: u64, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SNAPSHOT_HEADER_LEN + bytes.len());
    out.resize(SNAPSHOT_HEADER_LEN, 0);
    out[S_MAGIC].copy_from_slice(&SNAPSHOT_MAGIC);
    out[S_VERSION].copy_from_slice(&SNAPSHOT_VERSION.to_le_bytes());
    out[S_SEQ].copy_from_slice(&seq.to_le_bytes());
    out[S_LEN].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
    let crc = snapshot_crc(&out);
    out[S_CRC].copy_from_slice(&crc.to_le_bytes());
    out
}

fn snapshot_crc(file: &[u8]) -> u32 {
    let c = crc32c::crc32c(&file[..S_CRC.start]);
    crc32c::crc32c_append(c, &file[S_CRC.end..])
}

/// Checks a whole snapshot file's bytes; returns the sequence and the payload range.
pub fn decode_snapshot(file: &[u8]) -> Result<(u64, Range<usize>), &'static str> {
    let Some(h) = file.get(..SNAPSHOT_HEADER_LEN) else {
        return Err("shorter than a snapshot header");
    };
    if h[S_MAGIC] != SNAPSHOT_MAGIC {
        return Err("bad magic");
    }
    let u16_at = |r: Range<usize>| u16::from_le_bytes([h[r.start], h[r.start + 1]]);
    let u64_at = |r: Range<usize>| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&h[r]);
        u64::from_le_bytes(a)
    };
    if u16_at(S_VERSION) != SNAPSHOT_VERSION {
        return Err("unknown snapshot version");
    }
    if u16_at(S_RESERVED) != 0 {
        return Err("reserved field not zero");
    }
    let len = u64_at(S_LEN);
    if len != (file.len() - SNAPSHOT_HEADER_LEN) as u64 {
        return Err("length does not match the file");
    }
    let mut c = [0u8; 4];
    c.copy_from_slice(&h[S_CRC]);
    if u32::from_le_bytes(c) != snapshot_crc(file) {
        return Err("bad crc");
    }
    Ok((u64_at(S_SEQ), SNAPSHOT_HEADER_LEN..file.len()))
}

/// Reads and checks one snapshot file.
pub fn load_snapshot(path: &Path) -> Result<Result<Snapshot, &'static str>, JournalError> {
    let mut buf = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut buf))
        .map_err(io_err("read", path))?;
    let name_seq = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_snapshot_name);
    Ok(match decode_snapshot(&buf) {
        Err(e) => Err(e),
        Ok((seq, _)) if Some(seq) != name_seq => Err("sequence does not match the file name"),
        Ok((seq, range)) => {
            buf.copy_within(range.clone(), 0);
            buf.truncate(range.len());
            Ok(Snapshot {
                seq,
                bytes: buf,
                path: path.to_path_buf(),
            })
        }
    })
}

/// Snapshot files in `dir`, newest (highest sequence) first, each checked.
pub fn list_snapshots(dir: &Path) -> Result<Vec<SnapshotInfo>, JournalError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        let Some(seq) = entry.file_name().to_str().and_then(parse_snapshot_name) else {
            continue;
        };
        let path = entry.path();
        let file_len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        let defect = match load_snapshot(&path) {
            Ok(r) => r.err(),
            // Deleted since the listing (a writer keeping the newest two).
            Err(JournalError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                continue
            }
            Err(e) => return Err(e),
        };
        out.push(SnapshotInfo {
            seq,
            path,
            file_len,
            defect,
        });
    }
    out.sort_unstable_by_key(|s| std::cmp::Reverse(s.seq));
    Ok(out)
}

/// The newest valid snapshot in `dir`, and the newer ones skipped as invalid.
pub fn load_latest(dir: &Path) -> Result<(Option<Snapshot>, Vec<SnapshotInfo>), JournalError> {
    let mut skipped = Vec::new();
    for info in list_snapshots(dir)? {
        if info.defect.is_some() {
            skipped.push(info);
            continue;
        }
        // Listed as valid a moment ago; load again to get the bytes (a file
        // changed in between is treated like any other invalid one).
        match load_snapshot(&info.path)? {
            Ok(s) => return Ok((Some(s), skipped)),
            Err(defect) => skipped.push(SnapshotInfo {
                defect: Some(defect),
                ..info
            }),
        }
    }
    Ok((None, skipped))
}

/// What [`write_snapshot`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotWritten {
    /// The new snapshot file.
    pub path: PathBuf,
    /// The sequence it covers.
    pub seq: u64,
    /// The other snapshot kept (the older of the newest two valid ones).
    pub previous: Option<u64>,
    /// Snapshot files deleted (older, or invalid).
    pub removed: Vec<PathBuf>,
    /// Segments deleted after the snapshot was written: filled by
    /// [`super::Journal::write_snapshot`]; empty from [`write_snapshot`],
    /// which does not prune (call [`prune_segments`]).
    pub pruned_segments: Vec<u64>,
}

/// Writes a snapshot of the state after record `last_included_seq`
/// atomically (temporary file, fsync, rename, fsync of the directory), then
/// deletes every snapshot file but the newest two valid ones. Refuses a
/// sequence older than the newest valid snapshot.
pub fn write_snapshot(
    dir: &Path,
    last_included_seq: u64,
    bytes: &[u8],
) -> Result<SnapshotWritten, JournalError> {
    let existing = list_snapshots(dir)?;
    if let Some(newest) = existing.iter().find(|s| s.defect.is_none()) {
        if newest.seq > last_included_seq {
            return Err(JournalError::SnapshotOutOfOrder {
                seq: last_included_seq,
                newest: newest.seq,
            });
        }
    }
    let name = snapshot_file_name(last_included_seq);
    let path = dir.join(&name);
    let tmp = dir.join(format!("{last_included_seq:0NAME_DIGITS$}{TMP_SUFFIX}"));
    let file = encode_snapshot(last_included_seq, bytes);
    {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(&file).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(io_err("rename", &path))?;
    sync_dir(dir).map_err(io_err("fsync", dir))?;

    let mut kept = 0;
    let mut previous = None;
    let mut removed = Vec::new();
    for info in list_snapshots(dir)? {
        if info.defect.is_none() && kept < 2 {
            if kept == 1 {
                previous = Some(info.seq);
            }
            kept += 1;
            continue;
        }
        std::fs::remove_file(&info.path).map_err(io_err("remove", &info.path))?;
        removed.push(info.path);
    }
    if !removed.is_empty() {
        sync_dir(dir).map_err(io_err("fsync", dir))?;
    }
    Ok(SnapshotWritten {
        path,
        seq: last_included_seq,
        previous,
        removed,
        pruned_segments: Vec::new(),
    })
}

/// Deletes leftover temporary snapshot files (from a crash mid-write).
pub(crate) fn remove_temporaries(dir: &Path) -> Result<(), JournalError> {
    for entry in std::fs::read_dir(dir).map_err(io_err("list", dir))? {
        let entry = entry.map_err(io_err("list", dir))?;
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.ends_with(TMP_SUFFIX))
        {
            let p = entry.path();
            std::fs::remove_file(&p).map_err(io_err("remove", &p))?;
        }
    }
    Ok(())
}

/// Deletes the segments whose every record is covered by the older of the
/// newest two valid snapshots (so recovery can still fall back from the
/// newest). A segment is deleted only when the next segment exists with a
/// valid header starting at or before that snapshot's sequence + 1; the
/// newest segment is therefore never deleted. Returns the deleted numbers.
pub fn prune_segments(dir: &Path) -> Result<Vec<u64>, JournalError> {
    let snaps = list_snapshots(dir)?;
    let mut valid = snaps.iter().filter(|s| s.defect.is_none());
    let (Some(_newest), Some(older)) = (valid.next(), valid.next()) else {
        return Ok(Vec::new());
    };
    let covered = older.seq;
    let segs = list_segments(dir).map_err(io_err("list", dir))?;
    let mut headers = Vec::with_capacity(segs.len());
    for (n, p) in &segs {
        let h = read_header_bytes(p)
            .ok()
            .and_then(|b| SegmentHeader::decode(&b).ok())
            .filter(|h| h.number == *n);
        headers.push(h);
    }
    let mut removed = Vec::new();
    for i in 0..segs.len().saturating_sub(1) {
        let (Some(h), Some(next)) = (headers[i], headers[i + 1]) else {
            continue;
        };
        if next.number == h.number + 1 && next.first_seq <= covered.saturating_add(1) {
            let p = &segs[i].1;
            std::fs::remove_file(p).map_err(io_err("remove", p))?;
            removed.push(h.number);
        }
    }
    if !removed.is_empty() {
        sync_dir(dir).map_err(io_err("fsync", dir))?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_golden_and_every_bit_flip() {
        let f = encode_snapshot(0x0A0B, b"state");
        assert_eq!(&f[0..8], b"FLOESNAP");
        assert_eq!(&f[8..12], &[1, 0, 0, 0]);
        assert_eq!(&f[16..24], &[0x0B, 0x0A, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&f[24..32], &[5, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&f[32..], b"state");
        assert_eq!(decode_snapshot(&f), Ok((0x0A0B, 32..37)));
        for i in 0..f.len() * 8 {
            let mut c = f.clone();
            c[i / 8] ^= 1 << (i % 8);
            assert!(decode_snapshot(&c).is_err(), "bit {i}");
        }
        assert!(decode_snapshot(&f[..36]).is_err());
        assert!(decode_snapshot(&f[..10]).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(snapshot_file_name(7), "00000000000000000007.snap");
        assert_eq!(parse_snapshot_name("00000000000000000007.snap"), Some(7));
        assert_eq!(parse_snapshot_name("00000000000000000007.snap.tmp"), None);
        assert_eq!(parse_snapshot_name("7.snap"), None);
    }
}
