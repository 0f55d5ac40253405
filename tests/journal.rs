//! The journal against real files: round trips, rolls, torn writes at every
//! byte (truncated, and in place with and without the commit word),
//! corruption of every bit, snapshots and pruning, sync policies,
//! verify, and random crash points (proptest).

use floe::config::SyncPolicy;
use floe::journal::record::{record_crc, record_len, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use floe::journal::{Journal, JournalError, JournalOptions, JournalReader, Problem, Recovery};
use proptest::prelude::*;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A scratch directory; the exhaustive damage tests open thousands of
/// journals, so they use tmpfs (same mmap semantics, no fsync cost) when the
/// machine has it.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(t) = tempfile::tempdir_in(shm) {
            return t;
        }
    }
    tempfile::tempdir().unwrap()
}

fn opts(segment_bytes: u64) -> JournalOptions {
    JournalOptions::default().with_segment_bytes(segment_bytes)
}

/// Deterministic payload for a sequence number.
fn payload(seq: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seq as u8).wrapping_mul(31).wrapping_add(i as u8) | 1)
        .collect()
}

type Rec = (u64, u16, Vec<u8>);

fn replayed(r: &Recovery) -> Vec<Rec> {
    r.records()
        .map(|x| (x.seq, x.rec_type, x.payload.to_vec()))
        .collect()
}

fn read_all(dir: &Path) -> Vec<Rec> {
    JournalReader::open(dir)
        .unwrap()
        .records()
        .map(|x| {
            let x = x.unwrap();
            (x.seq, x.rec_type, x.payload.to_vec())
        })
        .collect()
}

fn append_all(j: &mut Journal, recs: &[(u16, usize)]) -> Vec<Rec> {
    recs.iter()
        .map(|&(ty, len)| {
            let seq = j.last_seq() + 1;
            let p = payload(seq, len);
            assert_eq!(j.append(ty, &p).unwrap(), seq);
            (seq, ty, p)
        })
        .collect()
}

fn seg_file(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:016}.seg"))
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn the_writer_and_the_recovery_can_move_to_another_thread() {
    fn is_send<T: Send>() {}
    is_send::<Journal>();
    is_send::<Recovery>();
    is_send::<JournalReader>();
}

#[test]
fn append_then_reopen_returns_every_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let sizes: Vec<(u16, usize)> = (0..200).map(|i| ((i % 9) as u16, (i * 37) % 301)).collect();
    let expect = {
        let (mut j, rec) = Journal::open(&dir, opts(1 << 20)).unwrap();
        assert_eq!(rec.last_seq(), 0);
        assert_eq!(rec.records().count(), 0);
        assert_eq!(j.last_seq(), 0);
        append_all(&mut j, &sizes)
    };
    let (j, rec) = Journal::open(&dir, opts(1 << 20)).unwrap();
    assert_eq!(rec.last_seq(), 200);
    assert_eq!(j.last_seq(), 200);
    assert_eq!(rec.bytes_cut(), 0);
    assert_eq!(rec.stop_reason(), None);
    assert_eq!(rec.replay_len(), 200);
    assert_eq!(replayed(&rec), expect);
    drop(j);
    assert_eq!(read_all(&dir), expect);
    let v = JournalReader::open(&dir).unwrap().verify();
    assert!(v.is_valid(), "{v:?}");
    assert_eq!(
        (v.records, v.first_seq, v.last_seq),
        (200, Some(1), Some(200))
    );
}

#[test]
fn append_with_writes_in_place_and_records_carry_their_place() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(tmp.path(), opts(8192)).unwrap();
    let s1 = j
        .append_with(7, 10, |b| {
            assert_eq!(b, &[0u8; 10]);
            b.copy_from_slice(b"0123456789")
        })
        .unwrap();
    let s2 = j.append(8, b"").unwrap();
    let s3 = j.append_with(9, 3, |b| b.copy_from_slice(b"xyz")).unwrap();
    assert_eq!((s1, s2, s3), (1, 2, 3));
    drop(j);
    let r = JournalReader::open(tmp.path()).unwrap();
    let recs: Vec<_> = r.records().map(Result::unwrap).collect();
    let places: Vec<_> = recs
        .iter()
        .map(|x| (x.segment, x.offset, x.rec_type, x.payload))
        .collect();
    assert_eq!(
        places,
        vec![
            (1, 64, 7, &b"0123456789"[..]),
            (1, 64 + 24 + 16, 8, &b""[..]),
            (1, 64 + 24 + 16 + 24, 9, &b"xyz"[..]),
        ]
    );
}

#[test]
fn oversized_records_are_refused_and_the_largest_fits() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(tmp.path(), opts(4096)).unwrap();
    let max = j.max_payload();
    assert_eq!(max, 4096 - SEGMENT_HEADER_LEN - 24);
    match j.append(1, &vec![1u8; max + 1]) {
        Err(JournalError::RecordTooLarge { len, max: m }) => assert_eq!((len, m), (max + 1, max)),
        other => panic!("{other:?}"),
    }
    let mut called = false;
    assert!(j.append_with(1, max + 1, |_| called = true).is_err());
    assert!(!called);
    assert_eq!(j.last_seq(), 0);
    // A full-size record needs a segment of its own: the first roll.
    assert_eq!(j.append(1, b"a").unwrap(), 1);
    assert_eq!(j.append(2, &vec![2u8; max]).unwrap(), 2);
    assert_eq!(j.append(3, &vec![3u8; max]).unwrap(), 3);
    assert_eq!(j.position().0, 3);
    j.warm_up().unwrap();
    drop(j);
    let got = read_all(tmp.path());
    assert_eq!(got.len(), 3);
    assert_eq!(got[2], (3, 3, vec![3u8; max]));
}

#[test]
fn rolling_across_many_small_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sizes: Vec<(u16, usize)> = (0..3000u64)
        .map(|i| ((i % 3) as u16, ((i * 7919) % 900) as usize))
        .collect();
    let expect = {
        let (mut j, _) = Journal::open(dir, opts(4096)).unwrap();
        append_all(&mut j, &sizes)
    };
    let r = JournalReader::open(dir).unwrap();
    let segs = r.segments();
    assert!(segs.len() > 300, "only {} segments", segs.len());
    // Every used segment: consecutive numbers, first_seq continuing the previous.
    let mut next_seq = 1;
    let mut prev = 0;
    let recs: Vec<_> = r.records().map(Result::unwrap).collect();
    for s in segs.iter().filter(|s| s.header.is_ok()) {
        let h = s.header.unwrap();
        assert_eq!(h.number, prev + 1);
        assert_eq!(h.first_seq, next_seq, "segment {}", h.number);
        assert_eq!(s.file_len, 4096);
        next_seq += recs.iter().filter(|x| x.segment == h.number).count() as u64;
        prev = h.number;
    }
    assert_eq!(next_seq, 3001);
    assert!(r.verify().is_valid());
    let (_j, rec) = Journal::open(dir, opts(4096)).unwrap();
    assert_eq!(replayed(&rec), expect);
    assert_eq!(rec.bytes_cut(), 0);
}

#[test]
fn a_lost_end_marker_still_rolls() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let expect = {
        let (mut j, _) = Journal::open(dir, opts(4096)).unwrap();
        append_all(
            &mut j,
            &[(1, 1000), (1, 1000), (1, 1000), (1, 1000), (1, 10)],
        )
    };
    // Segment 1 holds three records and an end marker after them.
    let end1 = SEGMENT_HEADER_LEN + 3 * record_len(1000);
    let p = seg_file(dir, 1);
    let mut b = fs::read(&p).unwrap();
    assert_ne!(&b[end1..end1 + 8], &[0u8; 8]);
    b[end1..end1 + 8].fill(0);
    fs::write(&p, &b).unwrap();
    assert!(JournalReader::open(dir).unwrap().verify().is_valid());
    let (_j, rec) = Journal::open(dir, opts(4096)).unwrap();
    assert_eq!(replayed(&rec), expect);
}

/// Builds a one-segment journal of records with these payload sizes and
/// returns (pristine directory, records, (start, end) of each record).
fn one_segment_journal(root: &Path, sizes: &[usize]) -> (PathBuf, Vec<Rec>, Vec<(usize, usize)>) {
    let dir = root.join("pristine");
    let recs = {
        let (mut j, _) = Journal::open(&dir, opts(8192)).unwrap();
        let v: Vec<_> = sizes.iter().map(|&n| (5u16, n)).collect();
        append_all(&mut j, &v)
    };
    // Only the segment itself: no spare, so a test sees just its own damage.
    for e in fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p != seg_file(&dir, 1) {
            fs::remove_file(p).unwrap();
        }
    }
    let places = JournalReader::open(&dir)
        .unwrap()
        .records()
        .map(|x| {
            let x = x.unwrap();
            (
                x.offset as usize,
                x.offset as usize + record_len(x.payload.len()),
            )
        })
        .collect();
    (dir, recs, places)
}

/// Opens a damaged copy, checks that exactly `keep` records survive and
/// `cut` bytes were reported, then appends and reopens.
fn check_recovers(dir: &Path, recs: &[Rec], keep: usize, cut: u64, what: &str) {
    let more = {
        let (mut j, rec) = Journal::open(dir, opts(8192)).unwrap();
        assert_eq!(rec.last_seq(), keep as u64, "{what}");
        assert_eq!(replayed(&rec), recs[..keep], "{what}");
        assert_eq!(rec.bytes_cut(), cut, "{what}: {:?}", rec.stop_reason());
        assert_eq!(rec.stop_reason().is_some(), cut > 0, "{what}");
        assert_eq!(
            fs::metadata(seg_file(dir, 1)).unwrap().len(),
            8192,
            "{what}"
        );
        append_all(&mut j, &[(6, 33), (6, 0)])
    };
    let (_j, rec) = Journal::open(dir, opts(8192)).unwrap();
    let mut all = recs[..keep].to_vec();
    all.extend(more);
    assert_eq!(replayed(&rec), all, "{what}: after append and reopen");
    assert_eq!(rec.bytes_cut(), 0, "{what}");
    assert!(
        JournalReader::open(dir).unwrap().verify().is_valid(),
        "{what}"
    );
}

fn nonzero_extent(b: &[u8], from: usize, to: usize) -> u64 {
    b[from..to]
        .iter()
        .rposition(|&x| x != 0)
        .map_or(0, |i| i as u64 + 1)
}

#[test]
fn torn_write_truncated_at_every_byte_of_the_last_two_records() {
    let tmp = scratch();
    let sizes = [3usize, 64, 0, 17, 40, 91];
    let (pristine, recs, places) = one_segment_journal(tmp.path(), &sizes);
    let bytes = fs::read(seg_file(&pristine, 1)).unwrap();
    let n = recs.len();
    let (from, to) = (places[n - 2].0, places[n - 1].1);
    for t in from..=to {
        let dir = tmp.path().join(format!("t{t}"));
        copy_dir(&pristine, &dir);
        OpenOptions::new()
            .write(true)
            .open(seg_file(&dir, 1))
            .unwrap()
            .set_len(t as u64)
            .unwrap();
        let keep = places.iter().filter(|p| p.1 <= t).count();
        let start = if keep == 0 {
            SEGMENT_HEADER_LEN
        } else {
            places[keep - 1].1
        };
        let cut = nonzero_extent(&bytes, start, t);
        check_recovers(&dir, &recs, keep, cut, &format!("truncated at {t}"));
        fs::remove_dir_all(&dir).unwrap();
    }
}

/// A torn write in place, the file keeping its preallocated size: the last
/// record written only up to each of its bytes, once with its commit word
/// (a page lost after it reached the page cache) and once without it (the
/// writer stores the commit word last, so a process dying mid-append leaves
/// it zero with any prefix of the rest written). Recovery keeps every
/// record before it, and the last one too exactly when its bytes are all
/// there (zeroing its padding changes nothing).
#[test]
fn torn_in_place_at_every_byte_of_the_last_record() {
    let tmp = scratch();
    let sizes = [5usize, 64, 23];
    let (pristine, recs, places) = one_segment_journal(tmp.path(), &sizes);
    let bytes = fs::read(seg_file(&pristine, 1)).unwrap();
    let n = recs.len();
    let (start, end) = places[n - 1];
    let mut intact_seen = 0;
    for t in start..=end {
        for commit in [true, false] {
            let mut b = bytes.clone();
            b[t..end].fill(0);
            if !commit {
                b[start..start + 8].fill(0);
            }
            let intact = b[start..end] == bytes[start..end];
            intact_seen += u32::from(intact);
            let (keep, cut) = if intact {
                (n, 0)
            } else {
                (n - 1, nonzero_extent(&b, start, b.len()))
            };
            let dir = tmp.path().join(format!("z{t}-{commit}"));
            copy_dir(&pristine, &dir);
            fs::write(seg_file(&dir, 1), &b).unwrap();
            check_recovers(
                &dir,
                &recs,
                keep,
                cut,
                &format!("written up to byte {t}, commit word {commit}"),
            );
            fs::remove_dir_all(&dir).unwrap();
        }
    }
    // Zeroing from the end of the payload (the padding) or from the end.
    assert_eq!(
        intact_seen,
        (record_len(23) - RECORD_HEADER_LEN - 23 + 1) as u32
    );
}

#[test]
fn every_bit_flip_in_the_last_record_cuts_exactly_it() {
    let tmp = scratch();
    let sizes = [8usize, 1, 29, 50];
    let (pristine, recs, places) = one_segment_journal(tmp.path(), &sizes);
    let bytes = fs::read(seg_file(&pristine, 1)).unwrap();
    let n = recs.len();
    let (start, end) = places[n - 1];
    for bit in start * 8..end * 8 {
        let dir = tmp.path().join(format!("b{bit}"));
        copy_dir(&pristine, &dir);
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        fs::write(seg_file(&dir, 1), &b).unwrap();
        let cut = nonzero_extent(&b, start, b.len());
        check_recovers(&dir, &recs, n - 1, cut, &format!("bit {bit} flipped"));
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn garbage_after_the_last_record_is_zeroed() {
    let tmp = tempfile::tempdir().unwrap();
    let (pristine, recs, places) = one_segment_journal(tmp.path(), &[10, 20]);
    let p = seg_file(&pristine, 1);
    let mut b = fs::read(&p).unwrap();
    let end = places[1].1;
    // Half a record header and a stray byte further on: a torn write.
    b[end + 8..end + 12].copy_from_slice(&[1, 2, 3, 4]);
    b[end + 300] = 9;
    fs::write(&p, &b).unwrap();
    let v = JournalReader::open(&pristine).unwrap().verify();
    assert_eq!(
        v.problem,
        Some(Problem::TornTail {
            segment: 1,
            offset: end as u64,
            bytes: 301
        })
    );
    check_recovers(&pristine, &recs, 2, 301, "garbage");
    let b = fs::read(&p).unwrap();
    assert!(b[end + record_len(33) + record_len(0)..]
        .iter()
        .all(|&x| x == 0));
}

#[test]
fn verify_names_the_first_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    {
        let (mut j, _) = Journal::open(&base, opts(4096)).unwrap();
        append_all(&mut j, &[(1, 900); 12]);
    }
    let r = JournalReader::open(&base).unwrap();
    let recs: Vec<_> = r.records().map(Result::unwrap).collect();
    let places: Vec<(u64, usize, u64)> = recs
        .iter()
        .map(|x| (x.segment, x.offset as usize, x.seq))
        .collect();
    drop(r);
    assert!(places.iter().any(|p| p.0 == 3));

    // A flipped payload byte in record 3.
    let d = tmp.path().join("crc");
    copy_dir(&base, &d);
    let (seg, off, seq) = places[2];
    let mut b = fs::read(seg_file(&d, seg)).unwrap();
    b[off + 24 + 100] ^= 0x10;
    fs::write(seg_file(&d, seg), &b).unwrap();
    let v = JournalReader::open(&d).unwrap().verify();
    assert_eq!(
        v.problem,
        Some(Problem::BadCrc {
            segment: seg,
            offset: off as u64,
            seq
        })
    );
    assert_eq!(v.records, 2);
    assert_eq!(
        v.problem.unwrap().to_string(),
        format!("bad crc at segment {seg} offset {off} (sequence field {seq})")
    );

    // A record whose sequence skips ahead (with a matching crc).
    let d = tmp.path().join("gap");
    copy_dir(&base, &d);
    let (seg, off, _) = places[4];
    let mut b = fs::read(seg_file(&d, seg)).unwrap();
    let commit = u64::from_le_bytes(b[off..off + 8].try_into().unwrap());
    b[off + 16..off + 24].copy_from_slice(&7u64.to_le_bytes());
    let crc = record_crc(commit, 7, &b[off + 24..off + 24 + 900]);
    b[off + 12..off + 16].copy_from_slice(&crc.to_le_bytes());
    fs::write(seg_file(&d, seg), &b).unwrap();
    let v = JournalReader::open(&d).unwrap().verify();
    assert_eq!(
        v.problem,
        Some(Problem::SeqGap {
            segment: seg,
            offset: off as u64,
            expected: 5,
            found: 7
        })
    );
    // Recovery cuts there too.
    let (_j, rec) = Journal::open(&d, opts(4096)).unwrap();
    assert_eq!(rec.last_seq(), 4);
    assert!(matches!(rec.stop_reason(), Some(Problem::SeqGap { .. })));
    assert!(rec.removed_segments().contains(&places[11].0));

    // A damaged segment header.
    let d = tmp.path().join("hdr");
    copy_dir(&base, &d);
    let mut b = fs::read(seg_file(&d, 2)).unwrap();
    b[30] ^= 1;
    fs::write(seg_file(&d, 2), &b).unwrap();
    let v = JournalReader::open(&d).unwrap().verify();
    assert_eq!(
        v.problem,
        Some(Problem::BadSegmentHeader {
            segment: 2,
            reason: "bad header crc"
        })
    );

    // A stray segment with a valid header after the end.
    let d = tmp.path().join("after");
    copy_dir(&base, &d);
    let last = places[11].0;
    fs::copy(seg_file(&d, last), seg_file(&d, last + 5)).unwrap();
    let v = JournalReader::open(&d).unwrap().verify();
    assert_eq!(v.problem, Some(Problem::DataAfterEnd { segment: last + 5 }));

    // The first segment gone, no snapshot.
    let d = tmp.path().join("start");
    copy_dir(&base, &d);
    fs::remove_file(seg_file(&d, 1)).unwrap();
    let v = JournalReader::open(&d).unwrap().verify();
    let first = places.iter().find(|p| p.0 == 2).unwrap().2;
    assert_eq!(
        v.problem,
        Some(Problem::MissingStart {
            first_seq: first,
            snapshot_seq: 0
        })
    );
    match Journal::open(&d, opts(4096)) {
        Err(JournalError::MissingRecords {
            first_seq,
            snapshot_seq: 0,
        }) => assert_eq!(first_seq, first),
        other => panic!("{other:?}"),
    }
}

#[test]
fn snapshot_prunes_old_segments_and_recovery_starts_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = || {
        let mut o = opts(4096);
        o.snapshot_every = 50;
        o
    };
    let (mut j, _) = Journal::open(dir, o()).unwrap();
    let mut all = append_all(&mut j, &[(1, 300); 100]);
    assert!(j.snapshot_due());
    match j.write_snapshot(101, b"x") {
        Err(JournalError::SnapshotBeyondJournal {
            seq: 101,
            last_seq: 100,
        }) => {}
        other => panic!("{other:?}"),
    }
    let w1 = j.write_snapshot(60, b"state@60").unwrap();
    assert_eq!((w1.seq, w1.previous), (60, None));
    assert!(w1.pruned_segments.is_empty(), "one snapshot prunes nothing");
    assert!(!j.snapshot_due());
    all.extend(append_all(&mut j, &[(2, 300); 100]));
    let w2 = j.write_snapshot(150, b"state@150").unwrap();
    assert_eq!(w2.previous, Some(60));
    // Pruned: exactly the segments whose records are all <= 60.
    let expect_pruned: Vec<u64> = {
        let segs_after = JournalReader::open(dir).unwrap().segments();
        assert!(segs_after
            .iter()
            .all(|s| !w2.pruned_segments.contains(&s.number)));
        let first_kept = segs_after.iter().find(|s| s.header.is_ok()).unwrap();
        let h = first_kept.header.unwrap();
        assert!(h.first_seq <= 61, "kept segment starts at {}", h.first_seq);
        (1..h.number).collect()
    };
    assert_eq!(w2.pruned_segments, expect_pruned);
    assert!(!expect_pruned.is_empty());
    match j.write_snapshot(100, b"old") {
        Err(JournalError::SnapshotOutOfOrder {
            seq: 100,
            newest: 150,
        }) => {}
        other => panic!("{other:?}"),
    }
    all.extend(append_all(&mut j, &[(3, 10); 20]));
    drop(j);

    let v = JournalReader::open(dir).unwrap().verify();
    assert!(v.is_valid(), "{v:?}");
    assert_eq!(v.snapshot_seq, Some(150));
    assert_eq!(v.last_seq, Some(220));

    let (j, rec) = Journal::open(dir, o()).unwrap();
    let s = rec.snapshot().unwrap();
    assert_eq!((s.seq, &s.bytes[..]), (150, &b"state@150"[..]));
    assert_eq!(rec.last_seq(), 220);
    assert_eq!(rec.replay_len(), 70);
    assert_eq!(replayed(&rec), all[150..]);
    assert_eq!(j.last_snapshot_seq(), 150);
    drop(j);

    // A third snapshot drops the first.
    let (mut j, _) = Journal::open(dir, o()).unwrap();
    let w3 = j.write_snapshot(200, b"state@200").unwrap();
    assert_eq!(w3.previous, Some(150));
    assert_eq!(w3.removed.len(), 1);
    let seqs: Vec<u64> = j_snapshots(dir);
    assert_eq!(seqs, vec![200, 150]);
}

fn j_snapshots(dir: &Path) -> Vec<u64> {
    JournalReader::open(dir)
        .unwrap()
        .snapshots()
        .iter()
        .map(|s| s.seq)
        .collect()
}

#[test]
fn a_corrupt_newest_snapshot_falls_back_to_the_previous() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let all = {
        let (mut j, _) = Journal::open(dir, opts(4096)).unwrap();
        let mut all = append_all(&mut j, &[(1, 200); 80]);
        j.write_snapshot(30, b"at 30").unwrap();
        all.extend(append_all(&mut j, &[(1, 200); 80]));
        let w = j.write_snapshot(120, b"at 120").unwrap();
        assert!(!w.pruned_segments.is_empty());
        all.extend(append_all(&mut j, &[(1, 200); 10]));
        all
    };
    let newest = dir.join(format!("{:020}.snap", 120));
    let mut b = fs::read(&newest).unwrap();
    let last = b.len() - 1;
    b[last] ^= 0x40;
    fs::write(&newest, &b).unwrap();

    let v = JournalReader::open(dir).unwrap().verify();
    assert!(v.is_valid(), "{v:?}");
    assert_eq!(v.snapshot_seq, Some(30));
    assert_eq!(v.bad_snapshots.len(), 1);

    let (_j, rec) = Journal::open(dir, opts(4096)).unwrap();
    assert_eq!(rec.snapshot_seq(), 30);
    assert_eq!(&rec.snapshot().unwrap().bytes[..], b"at 30");
    assert_eq!(rec.skipped_snapshots().len(), 1);
    assert_eq!(rec.skipped_snapshots()[0].seq, 120);
    assert_eq!(replayed(&rec), all[30..]);
}

#[test]
fn damage_at_or_before_the_snapshot_does_not_cost_later_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let all = {
        let (mut j, _) = Journal::open(dir, opts(4096)).unwrap();
        let all = append_all(&mut j, &[(1, 300); 100]);
        j.write_snapshot(62, b"s62").unwrap();
        all
    };
    let places: Vec<(u64, usize, u64)> = JournalReader::open(dir)
        .unwrap()
        .records()
        .map(|x| {
            let x = x.unwrap();
            (x.segment, x.offset as usize, x.seq)
        })
        .collect();
    // Records 62 and 63 share a segment: flip a payload byte of 62.
    let (seg, off, _) = places[61];
    assert_eq!(places[62].0, seg);
    let p = seg_file(dir, seg);
    let mut b = fs::read(&p).unwrap();
    b[off + 24 + 5] ^= 1;
    fs::write(&p, &b).unwrap();
    let (_j, rec) = Journal::open(dir, opts(4096)).unwrap();
    assert_eq!(rec.bytes_cut(), 0);
    assert_eq!(rec.stop_reason(), None);
    assert_eq!(replayed(&rec), all[62..]);
}

#[test]
fn a_snapshot_newer_than_the_journal_end_continues_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    {
        let (mut j, _) = Journal::open(dir, opts(4096)).unwrap();
        append_all(&mut j, &[(1, 100); 40]);
        j.write_snapshot(40, b"s").unwrap();
    }
    // The journal's tail is lost (say, unsynced with power lost) but the
    // fsynced snapshot survived: cut segment 1 down to its first 10 records.
    let keep = SEGMENT_HEADER_LEN + 10 * record_len(100);
    for s in JournalReader::open(dir).unwrap().segments() {
        if s.number > 1 {
            fs::remove_file(&s.path).unwrap();
        }
    }
    OpenOptions::new()
        .write(true)
        .open(seg_file(dir, 1))
        .unwrap()
        .set_len(keep as u64)
        .unwrap();
    let more = {
        let (mut j, rec) = Journal::open(dir, opts(4096)).unwrap();
        assert_eq!(rec.last_seq(), 40);
        assert_eq!(rec.records().count(), 0);
        assert_eq!(rec.removed_segments(), &[1]);
        assert_eq!(j.last_seq(), 40);
        append_all(&mut j, &[(2, 5); 3])
    };
    let (_j, rec) = Journal::open(dir, opts(4096)).unwrap();
    assert_eq!(rec.snapshot_seq(), 40);
    assert_eq!(replayed(&rec), more);
    assert!(JournalReader::open(dir).unwrap().verify().is_valid());
}

#[test]
fn a_clean_spare_is_reused_and_a_dirty_one_is_not() {
    // A hard link to a file kept (not deleted and made again) keeps a
    // link count of 2.
    use std::os::unix::fs::MetadataExt;
    let mark = |p: &Path| {
        let l = p.with_extension("link");
        let _ = fs::remove_file(&l);
        fs::hard_link(p, &l).unwrap();
    };
    let kept = |p: &Path| fs::metadata(p.with_extension("link")).unwrap().nlink() == 2;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = || opts(16384);
    let all = {
        let (mut j, _) = Journal::open(dir, o()).unwrap();
        let all = append_all(&mut j, &[(1, 100); 10]);
        j.warm_up().unwrap();
        all
    };
    let spare = seg_file(dir, 2);
    mark(&spare);
    let (mut j, rec) = Journal::open(dir, o()).unwrap();
    assert_eq!(replayed(&rec), all);
    assert!(kept(&spare), "clean spare reused");
    // Rolling uses it.
    let more = append_all(&mut j, &[(2, 8000); 4]);
    assert_eq!(j.position().0, 3);
    j.warm_up().unwrap();
    drop(j);
    let mut expect = all.clone();
    expect.extend(more);
    assert_eq!(read_all(dir), expect);

    // A spare with a stray byte is not reused.
    let spare4 = seg_file(dir, 4);
    let mut b = fs::read(&spare4).unwrap();
    b[5000] = 1;
    fs::write(&spare4, &b).unwrap();
    mark(&spare4);
    let (_j, rec) = Journal::open(dir, o()).unwrap();
    assert_eq!(replayed(&rec), expect);
    assert_eq!(rec.bytes_cut(), 0);
    wait_for("a new spare", || {
        fs::metadata(&spare4).is_ok_and(|m| m.len() == 16384) && !kept(&spare4)
    });
    assert!(fs::read(&spare4).unwrap().iter().all(|&x| x == 0));
}

#[test]
fn a_spare_after_a_full_segment_becomes_the_next_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let max = opts(4096).max_payload();
    let all = {
        let (mut j, _) = Journal::open(dir, opts(4096)).unwrap();
        let all = append_all(&mut j, &[(1, max)]);
        j.warm_up().unwrap();
        all
    };
    let more = {
        let (mut j, rec) = Journal::open(dir, opts(4096)).unwrap();
        assert_eq!(replayed(&rec), all);
        assert_eq!(j.position(), (2, SEGMENT_HEADER_LEN as u64));
        append_all(&mut j, &[(2, 10)])
    };
    let mut expect = all;
    expect.extend(more);
    assert_eq!(read_all(dir), expect);
}

#[test]
fn a_second_writer_is_locked_out() {
    let tmp = tempfile::tempdir().unwrap();
    let (_j, _) = Journal::open(tmp.path(), opts(4096)).unwrap();
    match Journal::open(tmp.path(), opts(4096)) {
        Err(JournalError::Locked(_)) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_options_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in [0u64, 4095, 5000, 8 << 30] {
        assert!(matches!(
            Journal::open(tmp.path(), opts(bad)),
            Err(JournalError::InvalidOptions(_))
        ));
    }
    let mut o = opts(4096).with_sync(SyncPolicy::Batch);
    o.batch_interval = Duration::ZERO;
    assert!(matches!(
        Journal::open(tmp.path(), o),
        Err(JournalError::InvalidOptions(_))
    ));
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn batch_sync_advances_synced_seq_without_blocking_appends() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(16384).with_sync(SyncPolicy::Batch);
    o.batch_interval = Duration::from_millis(2);
    let all = {
        let (mut j, _) = Journal::open(tmp.path(), o.clone()).unwrap();
        assert_eq!(j.synced_seq(), 0);
        let mut all = append_all(&mut j, &[(1, 100); 300]);
        wait_for("synced_seq to reach 300", || j.synced_seq() == 300);
        all.extend(append_all(&mut j, &[(2, 500); 100]));
        assert!(j.synced_seq() <= j.last_seq());
        wait_for("synced_seq to reach 400", || j.synced_seq() == 400);
        assert!(j.position().0 > 2, "rolled");
        assert_eq!(j.background_error(), None);
        all
    };
    let (j, rec) = Journal::open(tmp.path(), o).unwrap();
    assert_eq!(replayed(&rec), all);
    assert_eq!(j.synced_seq(), 400, "recovered records are synced at open");
}

#[test]
fn always_sync_makes_each_append_durable_before_it_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(8192).with_sync(SyncPolicy::Always);
    let all = {
        let (mut j, _) = Journal::open(tmp.path(), o.clone()).unwrap();
        let mut all = Vec::new();
        for i in 0..30u64 {
            let p = payload(i + 1, 1000);
            let seq = j.append(4, &p).unwrap();
            assert_eq!(j.synced_seq(), seq);
            all.push((seq, 4, p));
        }
        assert!(j.position().0 >= 4, "rolled across zero-filled segments");
        all
    };
    let (_j, rec) = Journal::open(tmp.path(), o).unwrap();
    assert_eq!(replayed(&rec), all);
}

#[test]
fn flush_marks_everything_synced_with_sync_none() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(tmp.path(), opts(4096)).unwrap();
    append_all(&mut j, &[(1, 700); 20]);
    assert_eq!(j.synced_seq(), 0);
    j.flush().unwrap();
    assert_eq!(j.synced_seq(), 20);
}

fn crash_case(sizes: &[(u16, usize)], pick: usize, frac: f64) {
    let tmp = scratch();
    let dir = tmp.path();
    let all = {
        let (mut j, _) = Journal::open(dir, opts(4096)).unwrap();
        append_all(&mut j, sizes)
    };
    let r = JournalReader::open(dir).unwrap();
    let places: Vec<(u64, usize, usize)> = r
        .records()
        .map(|x| {
            let x = x.unwrap();
            let o = x.offset as usize;
            (x.segment, o, o + record_len(x.payload.len()))
        })
        .collect();
    drop(r);
    // Crash while writing record `i`: its segment ends at a byte in
    // [its start (or 0 if it opens the segment), its end]; nothing later exists.
    let i = pick % places.len();
    let (seg, start, end) = places[i];
    let lo = if i == 0 || places[i - 1].0 != seg {
        0
    } else {
        start
    };
    let at = lo + ((end - lo) as f64 * frac) as usize;
    for s in JournalReader::open(dir).unwrap().segments() {
        if s.number > seg {
            fs::remove_file(&s.path).unwrap();
        }
    }
    OpenOptions::new()
        .write(true)
        .open(seg_file(dir, seg))
        .unwrap()
        .set_len(at as u64)
        .unwrap();
    let keep = if at == end { i + 1 } else { i };
    let more = {
        let (mut j, rec) = Journal::open(dir, opts(4096)).unwrap();
        assert_eq!(
            replayed(&rec),
            all[..keep],
            "crash in record {i} at byte {at} of segment {seg}"
        );
        assert_eq!(j.last_seq(), keep as u64);
        append_all(&mut j, &[(9, 1000), (9, 3), (9, 2000)])
    };
    let (_j, rec) = Journal::open(dir, opts(4096)).unwrap();
    let mut expect = all[..keep].to_vec();
    expect.extend(more);
    assert_eq!(replayed(&rec), expect);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_crash_points_keep_exactly_the_whole_records_before(
        sizes in prop::collection::vec((any::<u16>(), 0usize..1500), 1..60),
        pick in any::<usize>(),
        frac in 0.0f64..=1.0,
    ) {
        crash_case(&sizes, pick, frac);
    }
}
