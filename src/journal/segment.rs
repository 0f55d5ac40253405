//! Segment files: names, listing, preallocation and writable mappings.
//!
//! A segment is `NNNNNNNNNNNNNNNN.seg` (its number, 16 decimal digits) in the
//! journal directory, preallocated to its full size before any record goes
//! in. A freshly prepared segment has an all-zero header: it becomes part of
//! the journal only when the writer stores its header at a roll.

use super::record::{SegmentHeader, SegmentHeaderBytes, SEGMENT_HEADER_LEN};
use memmap2::{Advice, MmapOptions, MmapRaw};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Suffix of segment files.
pub const SEGMENT_SUFFIX: &str = ".seg";
const NAME_DIGITS: usize = 16;

/// The file name of segment `number`.
pub fn segment_file_name(number: u64) -> String {
    format!("{number:0NAME_DIGITS$}{SEGMENT_SUFFIX}")
}

/// The path of segment `number` in `dir`.
pub fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(segment_file_name(number))
}

/// The segment number in a file name, if it is one.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Segment files in `dir`, sorted by number.
pub fn list_segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(n) = entry.file_name().to_str().and_then(parse_segment_name) {
            out.push((n, entry.path()));
        }
    }
    out.sort_unstable_by_key(|(n, _)| *n);
    Ok(out)
}

/// Reads the first [`SEGMENT_HEADER_LEN`] bytes of a file (fewer if it is shorter).
pub fn read_header_bytes(path: &Path) -> io::Result<Vec<u8>> {
    let f = File::open(path)?;
    let mut buf = vec![0u8; SEGMENT_HEADER_LEN];
    let mut got = 0;
    while got < buf.len() {
        match f.read_at(&mut buf[got..], got as u64)? {
            0 => break,
            n => got += n,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// Reserves `len` bytes of disk for `file` (fallocate; `set_len` where the
/// filesystem cannot preallocate).
pub fn preallocate(file: &File, len: u64) -> io::Result<()> {
    let Ok(off_len) = libc::off_t::try_from(len) else {
        return Err(io::ErrorKind::InvalidInput.into());
    };
    // SAFETY: fallocate only reads its integer arguments; the descriptor is
    // owned by `file`, which outlives the call.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, off_len) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => file.set_len(len),
        _ => Err(err),
    }
}

/// fsyncs a directory so that created, renamed or removed entries are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A writable shared mapping of one whole segment file.
///
/// The mapping is a [`MmapRaw`]: it hands out only raw pointers, never
/// references, so the writer thread can store records through the pointer
/// while the sync thread msyncs or prefaults ranges of the same mapping (both
/// kernel operations that never read the bytes into Rust).
pub struct SegmentMap {
    number: u64,
    len: usize,
    map: MmapRaw,
    file: File,
    path: PathBuf,
}

impl std::fmt::Debug for SegmentMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentMap")
            .field("number", &self.number)
            .field("len", &self.len)
            .field("path", &self.path)
            .finish()
    }
}

impl SegmentMap {
    /// Creates segment `number` in `dir`: a new file (it must not exist),
    /// preallocated to `len` bytes (`fallocate`: reads as zeros), and
    /// mapped; its first `populate_bytes` are write-faulted in
    /// ([`SegmentMap::populate`]). `durable_name` fsyncs the file and the
    /// directory, so the segment exists after a machine crash.
    ///
    /// (Writing the zeros out and syncing them first, so that msyncs never
    /// convert preallocated extents, was tried: on ext4 here it did not make
    /// `sync = always` appends faster and it doubles what a segment writes,
    /// so it is not done.)
    pub fn create(
        dir: &Path,
        number: u64,
        len: u64,
        durable_name: bool,
        populate_bytes: usize,
    ) -> io::Result<SegmentMap> {
        let path = segment_path(dir, number);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        let made = (|| {
            preallocate(&file, len)?;
            if durable_name {
                file.sync_all()?;
                sync_dir(dir)?;
            }
            let map = SegmentMap::map(file, number, path.clone())?;
            map.populate(0, populate_bytes);
            Ok(map)
        })();
        if made.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        made
    }

    /// Maps an existing segment file read-write (it must already be its
    /// full length) and write-faults `populate_bytes` from `from` on.
    pub fn open(
        path: &Path,
        number: u64,
        from: usize,
        populate_bytes: usize,
    ) -> io::Result<SegmentMap> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let map = SegmentMap::map(file, number, path.to_path_buf())?;
        map.populate(from, populate_bytes);
        Ok(map)
    }

    fn map(file: File, number: u64, path: PathBuf) -> io::Result<SegmentMap> {
        let flen = file.metadata()?.len();
        let len =
            usize::try_from(flen).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        if len < SEGMENT_HEADER_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "segment shorter than its header",
            ));
        }
        let map = MmapOptions::new().len(len).map_raw(&file)?;
        Ok(SegmentMap {
            number,
            len,
            map,
            file,
            path,
        })
    }

    /// The segment number.
    #[inline]
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The mapped length (the segment's size).
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Start of the mapping. Valid for [`SegmentMap::len`] bytes while `self` lives.
    #[inline]
    pub fn ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Writes `header` at offset 0 of the mapping.
    ///
    /// # Safety
    /// The caller is the segment's only writer and no record has been written yet.
    pub unsafe fn write_header(&self, header: &SegmentHeader) {
        let bytes: SegmentHeaderBytes = header.encode();
        // SAFETY: the mapping is at least SEGMENT_HEADER_LEN long (checked in
        // `map`), and the caller guarantees no concurrent writer.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr(), bytes.len()) };
    }

    /// msyncs `[off, off + len)` (clamped to the mapping) to disk.
    pub fn sync_range(&self, off: usize, len: usize) -> io::Result<()> {
        let off = off.min(self.len);
        let len = len.min(self.len - off);
        if len == 0 {
            return Ok(());
        }
        self.map.flush_range(off, len)
    }

    /// Write-faults the pages of `[off, off + len)` into the page table
    /// (`MADV_POPULATE_WRITE`) without changing their contents, so stores to
    /// them do not take a page fault. Best effort: silently does nothing on
    /// kernels without it.
    pub fn populate(&self, off: usize, len: usize) {
        let page = page_size();
        let start = off.min(self.len) / page * page;
        let end = off.saturating_add(len).min(self.len);
        if end > start {
            let _ = self
                .map
                .advise_range(Advice::PopulateWrite, start, end - start);
        }
    }
}

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf only reads its integer argument.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_file_name(12), "0000000000000012.seg");
        assert_eq!(parse_segment_name("0000000000000012.seg"), Some(12));
        assert_eq!(parse_segment_name("000000000000012.seg"), None);
        assert_eq!(parse_segment_name("000000000000001x.seg"), None);
        assert_eq!(parse_segment_name("0000000000000012.snap"), None);
        assert_eq!(parse_segment_name("+000000000000012.seg"), None);
    }
}
