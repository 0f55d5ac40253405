//! Journal latency harness: per-append latency at a paced rate, the durable
//! peers, the cost of `sync = always`, and recovery time, in one run.
//!
//! ```text
//! cargo run --release --example journal_latency -- [--rate 2400000] [--seconds 5]
//!     [--peer-records 2000] [--recovery-records 10000000] [--dir DIR] [--skip-recovery]
//!     [--only paced|peers|always|recovery|count]
//! valgrind --tool=callgrind --toggle-collect='*append_loop*' \
//!     target/release/examples/journal_latency --only count
//! valgrind --tool=callgrind --toggle-collect='*open_once*' \
//!     target/release/examples/journal_latency --only count
//! ```
//!
//! 1. `none, paced`: 64-byte appends at `--rate` records/s for `--seconds`
//!    (after a 0.5 s warm-up), 64 MiB segments, on the default config. The
//!    appending thread is pinned to the last core, the journal's background
//!    thread to the first (`worker_core`). Each append is timed
//!    with `Instant` (the timer's own cost, measured, is printed); the
//!    histogram of service time (append only) is printed next to the
//!    response time from each append's scheduled start (what a caller
//!    behind a stalled append would see: no coordinated omission).
//! 2. Peers, back to back (they cannot reach the paced rate): `write` +
//!    `fdatasync` of 64 bytes on an ordinary file; `pwrite` of 64 bytes
//!    into a file preallocated with `fallocate` + `fdatasync`; the same
//!    into a preallocated file whose zeros were written and synced first.
//! 3. `always`: 64-byte appends with `sync = always`.
//! 4. Recovery: a directory of `--recovery-records` 64-byte records;
//!    `Journal::open` timed with the files in the page cache (as after a
//!    process crash) and after evicting them (`POSIX_FADV_DONTNEED`, as
//!    after a reboot), and the replay iteration over all records.
//!
//! 5. `--only count`: 1,000,000 unpaced 64-byte appends in `append_loop`,
//!    then one `Journal::open` of them in `open_once` (neither inlined), for
//!    instruction counts under callgrind, which do not drift with the
//!    machine's load (the open's count is of the opening thread only).
//!
//! Histograms are hdrhistogram, nanoseconds, 3 significant digits.

use floe::config::SyncPolicy;
use floe::journal::{Journal, JournalOptions};
use hdrhistogram::Histogram;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Args {
    rate: f64,
    seconds: f64,
    peer_records: u64,
    recovery_records: u64,
    dir: PathBuf,
    skip_recovery: bool,
    only: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        rate: 2_400_000.0,
        seconds: 5.0,
        peer_records: 2000,
        recovery_records: 10_000_000,
        dir: std::env::temp_dir(),
        skip_recovery: false,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--rate" => a.rate = v().parse().expect("--rate"),
            "--seconds" => a.seconds = v().parse().expect("--seconds"),
            "--peer-records" => a.peer_records = v().parse().expect("--peer-records"),
            "--recovery-records" => a.recovery_records = v().parse().expect("--recovery-records"),
            "--dir" => a.dir = PathBuf::from(v()),
            "--skip-recovery" => a.skip_recovery = true,
            "--only" => a.only = Some(v()),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

fn ns(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

fn row(name: &str, h: &Histogram<u64>) {
    println!(
        "{name:<44} {:>10} {:>9} {:>9} {:>9} {:>9} {:>11}",
        h.len(),
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.value_at_quantile(0.9999),
        h.max()
    );
}

fn header(title: &str) {
    println!("\n{title}");
    println!(
        "{:<44} {:>10} {:>9} {:>9} {:>9} {:>9} {:>11}",
        "ns", "count", "p50", "p99", "p99.9", "p99.99", "max"
    );
}

fn timer_overhead() -> Histogram<u64> {
    let mut h = hist();
    for _ in 0..1_000_000 {
        let a = Instant::now();
        let b = Instant::now();
        h.record(ns(b - a).max(1)).unwrap();
    }
    h
}

fn pin_last_core() -> Option<usize> {
    let ids = core_affinity::get_core_ids()?;
    let last = *ids.last()?;
    core_affinity::set_for_current(last).then_some(last.id)
}

fn paced_none(a: &Args, dir: &Path) {
    let cores = core_affinity::get_core_ids().map_or(1, |c| c.len());
    // The background thread on the first core, the appending one on the last.
    let opts = JournalOptions {
        worker_core: (cores > 1).then_some(0),
        ..JournalOptions::default()
    };
    let (mut j, _) = Journal::open(dir, opts).unwrap();
    j.warm_up().unwrap();
    let core = pin_last_core();
    let interval = 1e9 / a.rate;
    let warm = (a.rate * 0.5) as u64;
    let n = warm + (a.rate * a.seconds) as u64;
    let mut service = hist();
    let mut response = hist();
    let mut payload = [0x5Au8; 64];
    let mut late = 0u64;
    let (mut slow, mut slow_at_roll) = (0u64, 0u64);
    let start = Instant::now() + Duration::from_millis(10);
    for i in 0..n {
        let due = start + Duration::from_nanos((i as f64 * interval) as u64);
        let mut now = Instant::now();
        if now > due {
            late += 1;
        }
        while now < due {
            std::hint::spin_loop();
            now = Instant::now();
        }
        payload[..8].copy_from_slice(&i.to_le_bytes());
        let seg = j.position().0;
        let t0 = Instant::now();
        j.append(1, &payload).unwrap();
        let t1 = Instant::now();
        if i >= warm && t1 - t0 > Duration::from_micros(10) {
            slow += 1;
            slow_at_roll += u64::from(j.position().0 != seg);
        }
        if i >= warm {
            service.record(ns(t1 - t0).max(1)).unwrap();
            response.record(ns(t1 - due).max(1)).unwrap();
        }
    }
    let elapsed = start.elapsed();
    let segments = j.position().0;
    header(&format!(
        "1. sync=none, 64 B payload, paced at {:.0} records/s for {:.1} s (+0.5 s warm-up); pinned to core {core:?}",
        a.rate, a.seconds
    ));
    row("journal append: service time", &service);
    row("journal append: response from schedule", &response);
    println!(
        "achieved {:.0} records/s over {:.2} s; {late} appends started late; {segments} segments; \
         {slow} appends over 10 us ({slow_at_roll} of them rolls); background error: {:?}",
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64(),
        j.background_error()
    );
    drop(j);
}

fn unpaced_none(dir: &Path, n: u64) {
    let (mut j, _) = Journal::open(dir, JournalOptions::default()).unwrap();
    j.warm_up().unwrap();
    let payload = [0x5Au8; 64];
    let t = Instant::now();
    for _ in 0..n {
        j.append(1, &payload).unwrap();
    }
    let e = t.elapsed();
    println!(
        "unpaced sync=none: {n} appends of 64 B in {:.3} s = {:.2} M records/s ({:.0} MB/s of records), {} segments",
        e.as_secs_f64(),
        n as f64 / e.as_secs_f64() / 1e6,
        n as f64 * 88.0 / e.as_secs_f64() / 1e6,
        j.position().0
    );
}

fn peer_write_fdatasync(path: &Path, n: u64) -> Histogram<u64> {
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)
        .unwrap();
    let payload = [0x5Au8; 64];
    let mut h = hist();
    for _ in 0..n {
        let t = Instant::now();
        f.write_all(&payload).unwrap();
        f.sync_data().unwrap();
        h.record(ns(t.elapsed()).max(1)).unwrap();
    }
    h
}

fn preallocated(path: &Path, len: u64, zeros_written: bool) -> File {
    let f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    // SAFETY: fallocate reads only its integer arguments; `f` owns the fd.
    let rc = unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, len as libc::off_t) };
    assert_eq!(rc, 0, "fallocate");
    if zeros_written {
        let z = vec![0u8; 1 << 20];
        let mut off = 0;
        while off < len {
            let k = (len - off).min(z.len() as u64) as usize;
            f.write_all_at(&z[..k], off).unwrap();
            off += k as u64;
        }
        f.sync_all().unwrap();
    }
    f
}

fn peer_pwrite_fdatasync(f: &File, n: u64) -> Histogram<u64> {
    let payload = [0x5Au8; 64];
    let mut h = hist();
    for i in 0..n {
        let t = Instant::now();
        f.write_all_at(&payload, i * 64).unwrap();
        f.sync_data().unwrap();
        h.record(ns(t.elapsed()).max(1)).unwrap();
    }
    h
}

fn always(dir: &Path, n: u64) -> Histogram<u64> {
    let (mut j, _) = Journal::open(
        dir,
        JournalOptions::default()
            .with_segment_bytes(64 << 20)
            .with_sync(SyncPolicy::Always),
    )
    .unwrap();
    j.warm_up().unwrap();
    let payload = [0x5Au8; 64];
    let mut h = hist();
    for _ in 0..n {
        let t = Instant::now();
        let seq = j.append(1, &payload).unwrap();
        h.record(ns(t.elapsed()).max(1)).unwrap();
        assert_eq!(j.synced_seq(), seq);
    }
    h
}

fn evict(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let f = File::open(&p).unwrap();
        // SAFETY: posix_fadvise reads only its integer arguments; `f` owns the fd.
        unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    }
}

fn recovery(dir: &Path, n: u64) {
    let t = Instant::now();
    {
        let (mut j, _) = Journal::open(dir, JournalOptions::default()).unwrap();
        let payload = [0x33u8; 64];
        for _ in 0..n {
            j.append(2, &payload).unwrap();
        }
        j.flush().unwrap();
    }
    let files = std::fs::read_dir(dir).unwrap().count();
    println!(
        "\n4. recovery: {n} records of 64 B written in {:.2} s ({files} files in the directory)",
        t.elapsed().as_secs_f64()
    );
    for run in 0..3 {
        let t = Instant::now();
        let (j, rec) = Journal::open(dir, JournalOptions::default()).unwrap();
        let open = t.elapsed();
        assert_eq!(rec.last_seq(), n);
        let t = Instant::now();
        let mut count = 0u64;
        let mut bytes = 0u64;
        for r in rec.records() {
            count += 1;
            bytes += r.payload.len() as u64;
        }
        let replay = t.elapsed();
        assert_eq!(count, n);
        println!(
            "Journal::open, files in page cache (run {run}): {:.3} s ({:.1} M records/s); replay iteration {:.3} s ({bytes} payload bytes)",
            open.as_secs_f64(),
            n as f64 / open.as_secs_f64() / 1e6,
            replay.as_secs_f64()
        );
        drop(rec);
        drop(j);
    }
    evict(dir);
    let t = Instant::now();
    let (_j, rec) = Journal::open(dir, JournalOptions::default()).unwrap();
    let open = t.elapsed();
    assert_eq!(rec.last_seq(), n);
    println!(
        "Journal::open, files evicted from the page cache: {:.3} s ({:.1} M records/s)",
        open.as_secs_f64(),
        n as f64 / open.as_secs_f64() / 1e6
    );
}

#[inline(never)]
fn append_loop(j: &mut Journal, n: u64) {
    let payload = [0x5Au8; 64];
    for _ in 0..n {
        std::hint::black_box(j.append(1, std::hint::black_box(&payload)).unwrap());
    }
}

#[inline(never)]
fn open_once(dir: &Path) -> u64 {
    let (_j, rec) = Journal::open(dir, JournalOptions::default()).unwrap();
    rec.last_seq()
}

fn count(dir: &Path) {
    let n = 1_000_000;
    {
        let (mut j, _) = Journal::open(dir, JournalOptions::default()).unwrap();
        j.warm_up().unwrap();
        append_loop(&mut j, n);
    }
    assert_eq!(open_once(dir), n);
    println!(
        "count: {n} appends of 64 B in append_loop, then one open of them in open_once \
         (divide callgrind's Ir by {n})"
    );
}

fn main() {
    let a = args();
    if a.only.as_deref() == Some("count") {
        let root = tempfile::tempdir_in(&a.dir).unwrap();
        count(&root.path().join("count"));
        return;
    }
    let root = tempfile::tempdir_in(&a.dir).unwrap();
    println!(
        "journal_latency: dir {} ({} cores)",
        root.path().display(),
        core_affinity::get_core_ids().map_or(0, |c| c.len())
    );
    let run = |what: &str| a.only.as_deref().is_none_or(|o| o == what);
    header("0. timer");
    row("Instant::now() twice (timer overhead)", &timer_overhead());

    if run("paced") {
        paced_none(&a, &root.path().join("paced"));
        std::fs::remove_dir_all(root.path().join("paced")).unwrap();
        unpaced_none(&root.path().join("unpaced"), 5_000_000);
        std::fs::remove_dir_all(root.path().join("unpaced")).unwrap();
    }

    let n = a.peer_records;
    if run("peers") {
        header(&format!("2. durable peers, 64 B, {n} back to back"));
        row(
            "write + fdatasync (ordinary file)",
            &peer_write_fdatasync(&root.path().join("write.dat"), n),
        );
        let f = preallocated(&root.path().join("pwrite.dat"), 64 << 20, false);
        row(
            "pwrite + fdatasync (fallocated file)",
            &peer_pwrite_fdatasync(&f, n),
        );
        let f = preallocated(&root.path().join("pwrite0.dat"), 64 << 20, true);
        row(
            "pwrite + fdatasync (fallocated, zeros synced)",
            &peer_pwrite_fdatasync(&f, n),
        );
    }
    if run("peers") || run("always") {
        header(&format!("3. journal sync=always, 64 B, {n} back to back"));
        row(
            "journal append (msync before return)",
            &always(&root.path().join("always"), n),
        );
    }

    if !a.skip_recovery && run("recovery") {
        recovery(&root.path().join("recovery"), a.recovery_records);
    }
}
