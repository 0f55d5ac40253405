//! On-disk layouts: the segment header, the record header and its commit word.
//!
//! Every multi-byte field is little-endian and sits at a fixed offset given by
//! the constants below; layouts are encoded and decoded byte by byte, never by
//! transmuting a struct. Decoding never panics on any byte string: a short or
//! malformed input is reported as a [`Slot::Invalid`] or a [`HeaderDefect`].

use std::ops::Range;

/// Magic bytes at the start of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"FLOEJSEG";
/// Version of the segment and record layout described here.
pub const FORMAT_VERSION: u16 = 1;
/// Length of the segment header; the first record starts right after it.
pub const SEGMENT_HEADER_LEN: usize = 64;
/// Length of a record header; the payload starts right after it.
pub const RECORD_HEADER_LEN: usize = 24;
/// Records start on, and are padded to, this alignment.
pub const RECORD_ALIGN: usize = 8;

// Segment header fields.
const SEG_MAGIC: Range<usize> = 0..8;
const SEG_VERSION: Range<usize> = 8..10;
const SEG_HEADER_LEN: Range<usize> = 10..12;
const SEG_RESERVED0: Range<usize> = 12..16;
const SEG_NUMBER: Range<usize> = 16..24;
const SEG_FIRST_SEQ: Range<usize> = 24..32;
const SEG_BYTES: Range<usize> = 32..40;
const SEG_RESERVED1: Range<usize> = 40..60;
const SEG_CRC: Range<usize> = 60..64;

// Record header fields.
/// The commit word: `tag << 48 | type << 32 | payload_len`, stored last.
const REC_COMMIT: Range<usize> = 0..8;
const REC_RESERVED: Range<usize> = 8..12;
const REC_CRC: Range<usize> = 12..16;
const REC_SEQ: Range<usize> = 16..24;
/// The crc covers `[0, REC_CRC.start)` then `[REC_CRC.end, record end)`.
const CRC_PREFIX: Range<usize> = 0..12;

/// The segment header's fields tile it exactly.
const _: () = {
    assert!(SEG_MAGIC.end == SEG_VERSION.start);
    assert!(SEG_VERSION.end == SEG_HEADER_LEN.start);
    assert!(SEG_HEADER_LEN.end == SEG_RESERVED0.start);
    assert!(SEG_RESERVED0.end == SEG_NUMBER.start);
    assert!(SEG_NUMBER.end == SEG_FIRST_SEQ.start);
    assert!(SEG_FIRST_SEQ.end == SEG_BYTES.start);
    assert!(SEG_BYTES.end == SEG_RESERVED1.start);
    assert!(SEG_RESERVED1.end == SEG_CRC.start);
    assert!(SEG_CRC.end == SEGMENT_HEADER_LEN);
    assert!(size_of::<SegmentHeaderBytes>() == 64);
    assert!(SEGMENT_HEADER_LEN.is_multiple_of(RECORD_ALIGN));
};

/// The record header's fields tile it exactly, and the commit word is one
/// naturally aligned `u64` at offset 0 so it can be stored atomically.
const _: () = {
    assert!(REC_COMMIT.start == 0 && REC_COMMIT.end == 8);
    assert!(REC_COMMIT.end == REC_RESERVED.start);
    assert!(REC_RESERVED.end == REC_CRC.start);
    assert!(REC_CRC.end == REC_SEQ.start);
    assert!(REC_SEQ.end == RECORD_HEADER_LEN);
    assert!(CRC_PREFIX.start == 0 && CRC_PREFIX.end == REC_CRC.start);
    // The crc's second part starts 8-aligned, so it runs a word at a time.
    assert!(REC_CRC.end.is_multiple_of(RECORD_ALIGN));
    assert!(REC_SEQ.start.is_multiple_of(align_of::<u64>()));
    assert!(size_of::<RecordHeaderBytes>() == 24);
    assert!(RECORD_HEADER_LEN.is_multiple_of(RECORD_ALIGN));
    assert!(RECORD_ALIGN == align_of::<u64>());
};

/// A segment header as bytes on disk.
pub type SegmentHeaderBytes = [u8; SEGMENT_HEADER_LEN];
/// A record header as bytes on disk.
pub type RecordHeaderBytes = [u8; RECORD_HEADER_LEN];

/// Tag in the top 16 bits of a record's commit word.
const RECORD_TAG: u64 = 0xF10E;
/// The whole commit word of an end-of-segment marker. Its tag (`0x0144`) is
/// 7 bits away from a record's (`0xF10E`), so no single bit flip turns one into the other.
pub const END_OF_SEGMENT: u64 = u64::from_le_bytes(*b"SEGEND\x44\x01");

const _: () = assert!(END_OF_SEGMENT >> 48 != RECORD_TAG);
const _: () = assert!(((END_OF_SEGMENT >> 48) ^ RECORD_TAG).count_ones() >= 4);

/// The commit word of a record of `rec_type` with `payload_len` bytes; never zero.
#[inline]
pub const fn commit_word(rec_type: u16, payload_len: u32) -> u64 {
    (RECORD_TAG << 48) | ((rec_type as u64) << 32) | payload_len as u64
}

/// `n` rounded up to [`RECORD_ALIGN`].
#[inline]
pub const fn align_up(n: usize) -> usize {
    (n + (RECORD_ALIGN - 1)) & !(RECORD_ALIGN - 1)
}

/// Bytes a record with `payload_len` bytes of payload occupies in a segment.
#[inline]
pub const fn record_len(payload_len: usize) -> usize {
    RECORD_HEADER_LEN + align_up(payload_len)
}

const ZEROS: [u8; RECORD_ALIGN] = [0; RECORD_ALIGN];

/// `crc32c::crc32c_append(crc, data)`, inlined for the short inputs of
/// record headers and payloads: with SSE4.2 one `crc32` instruction per
/// eight bytes and no per-call set-up (the crate's general routine, built
/// for long buffers, costs ~10× as many instructions on a 72-byte record);
/// the crate's routine otherwise. Same value either way.
#[inline]
pub fn crc_append(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU supports SSE4.2 (checked just above), the
            // only target feature `crc_append_sse42` enables.
            return unsafe { crc_append_sse42(crc, data) };
        }
    }
    crc32c::crc32c_append(crc, data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
#[inline]
fn crc_append_sse42(crc: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u32, _mm_crc32_u64, _mm_crc32_u8};
    let mut c = u64::from(!crc);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        c = _mm_crc32_u64(c, w.try_into().map_or(0, u64::from_le_bytes));
    }
    let mut c = c as u32;
    let mut rest = words.remainder();
    if let Some((four, tail)) = rest.split_first_chunk::<4>() {
        c = _mm_crc32_u32(c, u32::from_le_bytes(*four));
        rest = tail;
    }
    for &b in rest {
        c = _mm_crc32_u8(c, b);
    }
    !c
}

/// The crc32c of a record's first 12 bytes (commit word, reserved word):
/// the seed from which [`record_crc`] continues over the rest.
#[inline]
pub fn crc_seed(commit: u64, reserved: u32) -> u32 {
    let mut b = [0u8; 12];
    b[REC_COMMIT].copy_from_slice(&commit.to_le_bytes());
    b[REC_RESERVED].copy_from_slice(&reserved.to_le_bytes());
    crc_append(0, &b)
}

/// A one-entry cache of [`crc_seed`]: records of one type and length in a
/// row share the seed. (With SSE4.2 the seed is two instructions, so the
/// cache only saves work on the crate's fallback.)
#[derive(Clone, Copy, Debug, Default)]
pub struct SeedCache {
    key: Option<(u64, u32)>,
    seed: u32,
}

impl SeedCache {
    /// The seed for this commit word and reserved word.
    #[inline]
    pub fn get(&mut self, commit: u64, reserved: u32) -> u32 {
        if self.key != Some((commit, reserved)) {
            self.seed = crc_seed(commit, reserved);
            self.key = Some((commit, reserved));
        }
        self.seed
    }
}

/// The crc32c of a record: over its bytes 0..12 (commit word, reserved
/// word), then from byte 16 to its end (sequence number, payload, zero
/// padding to [`RECORD_ALIGN`]) — every byte it occupies but the crc itself.
/// The writer computes the same value over the record in place.
pub fn record_crc(commit: u64, seq: u64, payload: &[u8]) -> u32 {
    let crc = crc_append(crc_seed(commit, 0), &seq.to_le_bytes());
    let crc = crc_append(crc, payload);
    let pad = align_up(payload.len()) - payload.len();
    crc_append(crc, &ZEROS[..pad])
}

/// The part of a record after the crc field (sequence number, payload and
/// padding), given the record's bytes: the crc's second part.
#[inline]
pub fn crc_body(record: &[u8]) -> &[u8] {
    record.get(REC_CRC.end..).unwrap_or(&[])
}

/// Fields of a segment header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The segment's number (also in its file name).
    pub number: u64,
    /// Sequence number of the segment's first record.
    pub first_seq: u64,
    /// Size the segment file was preallocated to.
    pub segment_bytes: u64,
}

/// Why a segment header was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderDefect {
    /// Every header byte is zero: a preallocated segment not yet in use.
    Unused,
    /// Fewer bytes than a header.
    Short,
    /// The magic is wrong.
    BadMagic,
    /// The crc does not match.
    BadCrc,
    /// An unknown format version.
    BadVersion,
    /// A field is out of range (header length, reserved bytes, segment size).
    BadField,
}

impl HeaderDefect {
    /// A short human-readable reason.
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderDefect::Unused => "unused (all zero)",
            HeaderDefect::Short => "shorter than a segment header",
            HeaderDefect::BadMagic => "bad magic",
            HeaderDefect::BadCrc => "bad header crc",
            HeaderDefect::BadVersion => "unknown format version",
            HeaderDefect::BadField => "field out of range",
        }
    }
}

impl SegmentHeader {
    /// The header as bytes.
    pub fn encode(&self) -> SegmentHeaderBytes {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[SEG_MAGIC].copy_from_slice(&SEGMENT_MAGIC);
        b[SEG_VERSION].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[SEG_HEADER_LEN].copy_from_slice(&(SEGMENT_HEADER_LEN as u16).to_le_bytes());
        b[SEG_NUMBER].copy_from_slice(&self.number.to_le_bytes());
        b[SEG_FIRST_SEQ].copy_from_slice(&self.first_seq.to_le_bytes());
        b[SEG_BYTES].copy_from_slice(&self.segment_bytes.to_le_bytes());
        let crc = crc32c::crc32c(&b[..SEG_CRC.start]);
        b[SEG_CRC].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a header from the start of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<SegmentHeader, HeaderDefect> {
        let Some(b) = bytes.get(..SEGMENT_HEADER_LEN) else {
            return Err(if bytes.iter().all(|&x| x == 0) {
                HeaderDefect::Unused
            } else {
                HeaderDefect::Short
            });
        };
        if b.iter().all(|&x| x == 0) {
            return Err(HeaderDefect::Unused);
        }
        if b[SEG_MAGIC] != SEGMENT_MAGIC {
            return Err(HeaderDefect::BadMagic);
        }
        if crc32c::crc32c(&b[..SEG_CRC.start]) != le32(&b[SEG_CRC]) {
            return Err(HeaderDefect::BadCrc);
        }
        if le16(&b[SEG_VERSION]) != FORMAT_VERSION {
            return Err(HeaderDefect::BadVersion);
        }
        let h = SegmentHeader {
            number: le64(&b[SEG_NUMBER]),
            first_seq: le64(&b[SEG_FIRST_SEQ]),
            segment_bytes: le64(&b[SEG_BYTES]),
        };
        let reserved_zero =
            b[SEG_RESERVED0].iter().all(|&x| x == 0) && b[SEG_RESERVED1].iter().all(|&x| x == 0);
        if usize::from(le16(&b[SEG_HEADER_LEN])) != SEGMENT_HEADER_LEN
            || !reserved_zero
            || h.first_seq == 0
            || h.segment_bytes < (SEGMENT_HEADER_LEN + RECORD_HEADER_LEN) as u64
        {
            return Err(HeaderDefect::BadField);
        }
        Ok(h)
    }
}

/// Encodes a record header (the commit word included).
pub fn encode_record_header(commit: u64, seq: u64, crc: u32) -> RecordHeaderBytes {
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[REC_COMMIT].copy_from_slice(&commit.to_le_bytes());
    h[REC_CRC].copy_from_slice(&crc.to_le_bytes());
    h[REC_SEQ].copy_from_slice(&seq.to_le_bytes());
    h
}

/// Offset of the reserved word within a record header.
pub const RECORD_RESERVED_OFFSET: usize = REC_RESERVED.start;
/// Offset of the crc within a record header.
pub const RECORD_CRC_OFFSET: usize = REC_CRC.start;
/// Offset of the sequence number within a record header.
pub const RECORD_SEQ_OFFSET: usize = REC_SEQ.start;

/// A record read from a segment, before its sequence number is checked
/// against its predecessor's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Record type.
    pub rec_type: u16,
    /// Payload (without padding).
    pub payload: &'a [u8],
    /// Bytes the record occupies, header and padding included.
    pub len: usize,
}

/// What is at a record boundary of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot<'a> {
    /// A complete record whose crc matched (or was not checked).
    Record(RawRecord<'a>),
    /// An end-of-segment marker: the next record is in the next segment.
    EndMarker,
    /// A zero commit word: nothing was committed here.
    Unwritten,
    /// The offset is at the end of the segment bytes (no room for a commit word).
    End,
    /// Something that is neither of the above.
    Invalid(Defect),
}

/// Why the bytes at a record boundary are not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Defect {
    /// The commit word's tag is neither a record's nor the end marker's.
    BadCommitWord(u64),
    /// The record would run past the end of the segment.
    Overrun {
        /// Payload length in the commit word.
        len: u32,
    },
    /// The crc does not match (the sequence number is as read).
    BadCrc {
        /// Sequence number field as read.
        seq: u64,
    },
}

/// Reads what is at `off` (a multiple of [`RECORD_ALIGN`]) in `seg`, the bytes
/// of one segment, checking the crc when `seeds` is given. Never panics.
#[inline]
pub fn read_slot<'a>(seg: &'a [u8], off: usize, seeds: Option<&mut SeedCache>) -> Slot<'a> {
    let Some(word) = seg.get(off..off.saturating_add(8)) else {
        return Slot::End;
    };
    let commit = le64(word);
    if commit == 0 {
        return Slot::Unwritten;
    }
    if commit == END_OF_SEGMENT {
        return Slot::EndMarker;
    }
    if commit >> 48 != RECORD_TAG {
        return Slot::Invalid(Defect::BadCommitWord(commit));
    }
    let payload_len = commit as u32;
    let rec_type = (commit >> 32) as u16;
    let len = record_len(payload_len as usize);
    let Some(rec) = seg.get(off..off.saturating_add(len)) else {
        return Slot::Invalid(Defect::Overrun { len: payload_len });
    };
    let seq = le64(&rec[REC_SEQ]);
    let body = &rec[RECORD_HEADER_LEN..];
    let payload = &body[..payload_len as usize];
    if let Some(seeds) = seeds {
        // Over the bytes actually on disk: a non-zero reserved word or
        // padding byte is a mismatch too.
        let seed = seeds.get(commit, le32(&rec[REC_RESERVED]));
        let crc = crc_append(seed, crc_body(rec));
        if crc != le32(&rec[REC_CRC]) {
            return Slot::Invalid(Defect::BadCrc { seq });
        }
    }
    Slot::Record(RawRecord {
        seq,
        rec_type,
        payload,
        len,
    })
}

/// Position one past the last non-zero byte of `bytes[from..]`, or `from` if
/// they are all zero.
pub fn nonzero_end(bytes: &[u8], from: usize) -> usize {
    let Some(tail) = bytes.get(from..) else {
        return from;
    };
    // Scan backwards 64 bytes at a time (an OR of eight words); the region
    // is normally all zero.
    let mut end = tail.len();
    while end >= 64 {
        let any = tail[end - 64..end].chunks_exact(8).fold(0u64, |a, w| {
            a | u64::from_ne_bytes(w.try_into().unwrap_or([0xFF; 8]))
        });
        if any != 0 {
            break;
        }
        end -= 64;
    }
    match tail[..end].iter().rposition(|&b| b != 0) {
        Some(i) => from + i + 1,
        None => from,
    }
}

#[inline]
fn le16(b: &[u8]) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(b);
    u16::from_le_bytes(a)
}

#[inline]
fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    u32::from_le_bytes(a)
}

#[inline]
fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_header_golden_bytes() {
        let h = SegmentHeader {
            number: 3,
            first_seq: 0x0102,
            segment_bytes: 65536,
        };
        let b = h.encode();
        assert_eq!(&b[0..8], b"FLOEJSEG");
        assert_eq!(&b[8..12], &[1, 0, 64, 0]);
        assert_eq!(&b[16..24], &[3, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[24..32], &[2, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[32..40], &[0, 0, 1, 0, 0, 0, 0, 0]);
        assert!(b[40..60].iter().all(|&x| x == 0));
        assert_eq!(
            u32::from_le_bytes(b[60..64].try_into().unwrap()),
            crc32c::crc32c(&b[..60])
        );
        assert_eq!(SegmentHeader::decode(&b), Ok(h));
    }

    #[test]
    fn segment_header_rejects_every_single_bit_flip() {
        let b = SegmentHeader {
            number: 9,
            first_seq: 77,
            segment_bytes: 4096,
        }
        .encode();
        for i in 0..SEGMENT_HEADER_LEN * 8 {
            let mut c = b;
            c[i / 8] ^= 1 << (i % 8);
            assert!(SegmentHeader::decode(&c).is_err(), "bit {i}");
        }
        assert_eq!(SegmentHeader::decode(&[0u8; 64]), Err(HeaderDefect::Unused));
        assert_eq!(SegmentHeader::decode(&b[..63]), Err(HeaderDefect::Short));
    }

    fn write_record(seg: &mut [u8], off: usize, seq: u64, ty: u16, payload: &[u8]) -> usize {
        let commit = commit_word(ty, payload.len() as u32);
        let crc = record_crc(commit, seq, payload);
        seg[off..off + 24].copy_from_slice(&encode_record_header(commit, seq, crc));
        seg[off + 24..off + 24 + payload.len()].copy_from_slice(payload);
        off + record_len(payload.len())
    }

    #[test]
    fn record_golden_bytes() {
        let mut seg = vec![0u8; 64];
        let end = write_record(&mut seg, 0, 5, 0x0203, b"abc");
        assert_eq!(end, 32);
        assert_eq!(&seg[0..8], &[3, 0, 0, 0, 3, 2, 0x0E, 0xF1]);
        assert_eq!(&seg[8..12], &[0, 0, 0, 0]);
        assert_eq!(&seg[16..24], &[5, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&seg[24..32], b"abc\0\0\0\0\0");
        let mut crc_input = seg[..12].to_vec();
        crc_input.extend_from_slice(&seg[16..32]);
        assert_eq!(
            u32::from_le_bytes(seg[12..16].try_into().unwrap()),
            crc32c::crc32c(&crc_input)
        );
        assert_eq!(
            read_slot(&seg, 0, Some(&mut SeedCache::default())),
            Slot::Record(RawRecord {
                seq: 5,
                rec_type: 0x0203,
                payload: b"abc",
                len: 32
            })
        );
        assert_eq!(
            read_slot(&seg, 32, Some(&mut SeedCache::default())),
            Slot::Unwritten
        );
        assert_eq!(
            read_slot(&seg, 64, Some(&mut SeedCache::default())),
            Slot::End
        );
        assert_eq!(
            read_slot(&seg, 60, Some(&mut SeedCache::default())),
            Slot::End
        );
    }

    #[test]
    fn every_bit_flip_of_a_record_is_detected() {
        let mut seg = vec![0u8; 128];
        let end = write_record(&mut seg, 8, 42, 7, b"hello, journal");
        for i in 8 * 8..end * 8 {
            let mut c = seg.clone();
            c[i / 8] ^= 1 << (i % 8);
            match read_slot(&c, 8, Some(&mut SeedCache::default())) {
                Slot::Record(r) => panic!("bit {i}: accepted {r:?}"),
                Slot::Invalid(_) => {}
                other => {
                    // Only a flip that zeroes the commit word could read as
                    // unwritten, and the tag makes that impossible.
                    panic!("bit {i}: {other:?}")
                }
            }
        }
    }

    #[test]
    fn end_marker_and_overrun() {
        let mut seg = vec![0u8; 48];
        seg[0..8].copy_from_slice(&END_OF_SEGMENT.to_le_bytes());
        assert_eq!(
            read_slot(&seg, 0, Some(&mut SeedCache::default())),
            Slot::EndMarker
        );
        seg[8..16].copy_from_slice(&commit_word(1, 17).to_le_bytes());
        assert_eq!(
            read_slot(&seg, 8, Some(&mut SeedCache::default())),
            Slot::Invalid(Defect::Overrun { len: 17 })
        );
        seg[8..16].copy_from_slice(&(0x1234u64 << 48).to_le_bytes());
        assert!(matches!(
            read_slot(&seg, 8, Some(&mut SeedCache::default())),
            Slot::Invalid(Defect::BadCommitWord(_))
        ));
    }

    #[test]
    fn crc_append_matches_the_crate() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for seed in [0u32, 1, 0xDEAD_BEEF, u32::MAX] {
            for start in 0..9 {
                for len in 0..(data.len() - start) {
                    let d = &data[start..start + len];
                    assert_eq!(
                        crc_append(seed, d),
                        crc32c::crc32c_append(seed, d),
                        "seed {seed:#x} start {start} len {len}"
                    );
                }
            }
        }
        assert_eq!(crc_seed(7, 9), {
            let mut b = [0u8; 12];
            b[..8].copy_from_slice(&7u64.to_le_bytes());
            b[8..].copy_from_slice(&9u32.to_le_bytes());
            crc32c::crc32c(&b)
        });
    }

    #[test]
    fn nonzero_end_finds_the_last_byte() {
        let mut b = vec![0u8; 1000];
        assert_eq!(nonzero_end(&b, 10), 10);
        assert_eq!(nonzero_end(&b, 2000), 2000);
        for pos in [10usize, 11, 500, 998, 999] {
            b.fill(0);
            b[pos] = 1;
            assert_eq!(nonzero_end(&b, 10), pos + 1, "pos {pos}");
            assert_eq!(nonzero_end(&b, 3), pos + 1, "pos {pos}");
        }
        b.fill(0);
        b[5] = 1;
        assert_eq!(nonzero_end(&b, 10), 10);
    }
}
