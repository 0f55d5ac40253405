//! Journal micro paths, with the peers measured in the same run.
//!
//! - `append_64B_none` / `append_with_64B_none` / `append_256B_none`: one
//!   append into a warmed-up segment sized so that a sample never rolls
//!   (rolls and page faults are what `examples/journal_latency.rs`
//!   measures, paced, in steady state);
//! - `record_crc_64B`: the crc32c of one 64-byte record as the writer
//!   computes it (cached seed of the commit word, one call over the rest);
//! - `append_64B_always`: append + msync of the record's page;
//! - peers: `write + fdatasync` of 64 bytes on an ordinary file, and `pwrite`
//!   of 64 bytes into a preallocated file + `fdatasync`;
//! - `open_1M_records`: `Journal::open` (recovery scan with crc) of a
//!   directory holding 1,000,000 records of 64 bytes.
//!
//! Run: `cargo bench --bench journal`. Files go to `$TMPDIR` (ext4 here).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use floe::config::SyncPolicy;
use floe::journal::record::{commit_word, record_len, SeedCache};
use floe::journal::{Journal, JournalOptions};
use std::fs::OpenOptions;
use std::hint::black_box;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

fn sized_opts(records: u64, payload: usize) -> JournalOptions {
    let need = 64 + records * record_len(payload) as u64 + 4096;
    let bytes = need.div_ceil(4096) * 4096;
    JournalOptions::default().with_segment_bytes(bytes.clamp(1 << 20, 4 << 30))
}

/// Times `iters` appends of `payload` bytes into a fresh, warmed-up journal.
fn timed_appends(iters: u64, payload: usize, in_place: bool) -> Duration {
    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(tmp.path(), sized_opts(iters, payload)).unwrap();
    j.warm_up().unwrap();
    let p = vec![0xA5u8; payload];
    let t = Instant::now();
    if in_place {
        for i in 0..iters {
            black_box(
                j.append_with(1, payload, |b| b[..8].copy_from_slice(&i.to_le_bytes()))
                    .unwrap(),
            );
        }
    } else {
        for _ in 0..iters {
            black_box(j.append(1, black_box(&p)).unwrap());
        }
    }
    let e = t.elapsed();
    drop(j);
    e
}

fn appends(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("append_64B_none", |b| {
        b.iter_custom(|iters| timed_appends(iters, 64, false))
    });
    g.bench_function("append_with_64B_none", |b| {
        b.iter_custom(|iters| timed_appends(iters, 64, true))
    });
    g.bench_function("append_256B_none", |b| {
        b.iter_custom(|iters| timed_appends(iters, 256, false))
    });
    g.bench_function("record_crc_64B", |b| {
        let commit = commit_word(1, 64);
        let mut seeds = SeedCache::default();
        // Sequence number and payload, as they follow the crc field.
        let mut body = [0x5Au8; 72];
        let mut seq = 0u64;
        b.iter(|| {
            seq += 1;
            body[..8].copy_from_slice(&seq.to_le_bytes());
            let seed = seeds.get(black_box(commit), 0);
            black_box(crc32c::crc32c_append(seed, black_box(&body)))
        })
    });
    g.finish();
}

fn durable(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal_durable");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    let payload = [0x5Au8; 64];

    let tmp = tempfile::tempdir().unwrap();
    let (mut j, _) = Journal::open(
        tmp.path().join("always"),
        JournalOptions::default()
            .with_segment_bytes(16 << 20)
            .with_sync(SyncPolicy::Always),
    )
    .unwrap();
    j.warm_up().unwrap();
    g.bench_function("append_64B_always", |b| {
        b.iter(|| black_box(j.append(1, &payload).unwrap()))
    });
    drop(j);

    let path = tmp.path().join("write-fdatasync");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)
        .unwrap();
    g.bench_function("peer_write_fdatasync_64B", |b| {
        b.iter(|| {
            std::io::Write::write_all(&mut f, &payload).unwrap();
            f.sync_data().unwrap();
        })
    });

    let path = tmp.path().join("pwrite-prealloc");
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let prealloc: i64 = 64 << 20;
    // SAFETY: fallocate reads only its integer arguments; `f` owns the fd.
    assert_eq!(unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, prealloc) }, 0);
    let mut off = 0u64;
    g.bench_function("peer_pwrite_prealloc_fdatasync_64B", |b| {
        b.iter(|| {
            f.write_all_at(&payload, off).unwrap();
            f.sync_data().unwrap();
            off = (off + 64) % prealloc as u64;
        })
    });
    g.finish();
}

fn recovery(c: &mut Criterion) {
    let mut g = c.benchmark_group("journal_recovery");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let n = 1_000_000u64;
    {
        let (mut j, _) = Journal::open(&dir, JournalOptions::default()).unwrap();
        let p = [0x33u8; 64];
        for _ in 0..n {
            j.append(2, &p).unwrap();
        }
    }
    g.throughput(Throughput::Elements(n));
    g.bench_with_input(
        BenchmarkId::new("open", "1M_records_64B"),
        &dir,
        |b, dir| {
            b.iter(|| {
                let (j, rec) = Journal::open(dir, JournalOptions::default()).unwrap();
                assert_eq!(rec.last_seq(), n);
                drop(j);
            })
        },
    );
    g.finish();
}

criterion_group!(benches, appends, durable, recovery);
criterion_main!(benches);
