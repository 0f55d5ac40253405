//! `pool::Pool` insert + remove of a 64-byte object beside `Box::new` +
//! drop of the same object, in the same run: one at a time, and 64 live at
//! once (allocated together, then freed together in the same order).
//!
//! Both arms run the same loop over the same data: the object is copied in
//! from behind `black_box(&obj)`, its handle or box passes through
//! `black_box` (so neither the store nor the allocation can be elided), one
//! word is read back and passed to `black_box` as a plain `u64`, and the
//! slot or box is freed. The loops are `#[inline(never)]` functions shared
//! by the criterion benches and the modes below.
//!
//! Modes (environment), besides `cargo bench --bench pool`:
//! - `FLOE_POOL_ONLY=pool|box|pool64|box64` runs that loop alone
//!   (`FLOE_POOL_ITERS` times, default 1,000,000), for
//!   `valgrind --tool=callgrind --toggle-collect='*measure_*'`
//!   (`scripts/bench-instructions` does this);
//! - `FLOE_POOL_COMPARE=ROUNDS` times the four loops interleaved, ROUNDS
//!   rounds of 1,000,000 objects each, and prints each loop's minimum and
//!   median nanoseconds per object and the pool/Box ratios: interleaving
//!   exposes both arms to the same interference on a shared machine.

use criterion::{criterion_group, Criterion, Throughput};
use floe::pool::{Handle, Pool};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// A 64-byte object (one cache line).
#[derive(Clone, Copy)]
struct Obj([u64; 8]);

const _: () = assert!(core::mem::size_of::<Obj>() == 64);

/// Objects live at once in the many-live loops.
const LIVE: usize = 64;

#[inline(never)]
fn measure_pool(pool: &mut Pool<Obj>, obj: &Obj, iters: u64) {
    for _ in 0..iters {
        let h = black_box(pool.insert(*black_box(obj)).expect("capacity"));
        black_box(pool.remove(h).map_or(0, |o| o.0[0]));
    }
}

#[inline(never)]
fn measure_box(obj: &Obj, iters: u64) {
    for _ in 0..iters {
        let x = black_box(Box::new(*black_box(obj)));
        black_box(x.0[0]);
    }
}

#[inline(never)]
fn measure_pool64(pool: &mut Pool<Obj>, live: &mut Vec<Handle<Obj>>, obj: &Obj, rounds: u64) {
    for _ in 0..rounds {
        for _ in 0..LIVE {
            live.push(black_box(pool.insert(*black_box(obj)).expect("capacity")));
        }
        for h in live.drain(..) {
            black_box(pool.remove(h).map_or(0, |o| o.0[0]));
        }
    }
}

#[inline(never)]
#[expect(clippy::vec_box, reason = "the Box arm holds its live objects boxed")]
fn measure_box64(live: &mut Vec<Box<Obj>>, obj: &Obj, rounds: u64) {
    for _ in 0..rounds {
        for _ in 0..LIVE {
            live.push(black_box(Box::new(*black_box(obj))));
        }
        for x in live.drain(..) {
            black_box(x.0[0]);
        }
    }
}

/// The four loops, each over `objects` objects.
struct Arms {
    pool: Pool<Obj>,
    handles: Vec<Handle<Obj>>,
    #[expect(clippy::vec_box, reason = "the Box arm holds its live objects boxed")]
    boxes: Vec<Box<Obj>>,
    obj: Obj,
}

impl Arms {
    fn new() -> Arms {
        Arms {
            pool: Pool::with_capacity(4_096),
            handles: Vec::with_capacity(LIVE),
            boxes: Vec::with_capacity(LIVE),
            obj: Obj([7; 8]),
        }
    }

    fn run(&mut self, arm: &str, objects: u64) {
        let rounds = objects / LIVE as u64;
        match arm {
            "pool" => measure_pool(&mut self.pool, &self.obj, objects),
            "box" => measure_box(&self.obj, objects),
            "pool64" => measure_pool64(&mut self.pool, &mut self.handles, &self.obj, rounds),
            "box64" => measure_box64(&mut self.boxes, &self.obj, rounds),
            other => panic!("unknown arm {other}: pool | box | pool64 | box64"),
        }
    }

    fn time(&mut self, arm: &str, objects: u64) -> Duration {
        let t = Instant::now();
        self.run(arm, objects);
        t.elapsed()
    }
}

fn pool_vs_box(c: &mut Criterion) {
    let mut arms = Arms::new();
    let mut g = c.benchmark_group("alloc64");
    g.throughput(Throughput::Elements(1));
    g.bench_function("pool_insert_remove", |b| {
        b.iter_custom(|iters| arms.time("pool", iters))
    });
    g.bench_function("box_new_drop", |b| {
        b.iter_custom(|iters| arms.time("box", iters))
    });
    g.finish();

    let mut g = c.benchmark_group("alloc64_x64");
    g.throughput(Throughput::Elements(LIVE as u64));
    g.bench_function("pool_insert_remove", |b| {
        b.iter_custom(|iters| arms.time("pool64", iters * LIVE as u64))
    });
    g.bench_function("box_new_drop", |b| {
        b.iter_custom(|iters| arms.time("box64", iters * LIVE as u64))
    });
    g.finish();
}

/// `FLOE_POOL_COMPARE`: interleaved rounds, minimum and median per arm.
fn compare(rounds: usize) {
    const OBJECTS: u64 = 1_000_000;
    let rounds = rounds.max(1);
    let names = ["pool", "box", "pool64", "box64"];
    let mut arms = Arms::new();
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..rounds {
        for (i, arm) in names.iter().enumerate() {
            let t = arms.time(arm, OBJECTS);
            ns[i].push(t.as_secs_f64() * 1e9 / OBJECTS as f64);
        }
    }
    let mut mins = Vec::new();
    for (name, v) in names.iter().zip(ns.iter_mut()) {
        v.sort_by(f64::total_cmp);
        let (min, med) = (v[0], v[v.len() / 2]);
        mins.push((min, med));
        println!("{name:<8} min {min:6.2} ns/object   median {med:6.2}");
    }
    println!(
        "pool/box one at a time: {:.2} (min), {:.2} (median); {LIVE} live: {:.2} (min), {:.2} (median)",
        mins[0].0 / mins[1].0,
        mins[0].1 / mins[1].1,
        mins[2].0 / mins[3].0,
        mins[2].1 / mins[3].1
    );
}

criterion_group!(benches, pool_vs_box);

fn main() {
    if let Ok(arm) = std::env::var("FLOE_POOL_ONLY") {
        let objects = std::env::var("FLOE_POOL_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1_000_000);
        Arms::new().run(&arm, objects);
        println!("{arm}: {objects} objects");
        return;
    }
    if let Some(rounds) = std::env::var("FLOE_POOL_COMPARE")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        compare(rounds);
        return;
    }
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs this binary without `--bench` and
        // with test-harness flags criterion does not know: check the round
        // trip the bench measures, run each loop briefly, and stop there.
        let mut pool: Pool<Obj> = Pool::with_capacity(4);
        let h = pool.insert(Obj([3; 8])).expect("capacity");
        assert_eq!(pool.remove(h).map(|o| o.0), Some([3; 8]));
        assert!(pool.remove(h).is_none(), "a removed handle is stale");
        let mut arms = Arms::new();
        for arm in ["pool", "box", "pool64", "box64"] {
            arms.run(arm, 1_024);
        }
        assert!(arms.pool.is_empty(), "every loop frees what it takes");
        println!("pool bench: insert/remove round trip ok (run `cargo bench` to measure)");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
