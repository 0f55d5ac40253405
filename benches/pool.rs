//! `pool::Pool` insert + remove of a 64-byte object beside `Box::new` +
//! drop of the same object, in the same run: one at a time, and 64 live at
//! once (allocated together, then freed together).

use criterion::{criterion_group, Criterion, Throughput};
use floe::pool::Pool;
use std::hint::black_box;

/// A 64-byte object (one cache line).
#[derive(Clone, Copy)]
struct Obj([u64; 8]);

const _: () = assert!(core::mem::size_of::<Obj>() == 64);

fn pool_vs_box(c: &mut Criterion) {
    let obj = Obj([7; 8]);
    let mut g = c.benchmark_group("alloc64");
    g.throughput(Throughput::Elements(1));
    let mut pool: Pool<Obj> = Pool::with_capacity(4_096);
    g.bench_function("pool_insert_remove", |b| {
        b.iter(|| {
            let h = pool.insert(black_box(obj)).expect("capacity");
            // Both arms read one word of the object back.
            black_box(pool.remove(black_box(h)).map(|o| o.0[0]))
        })
    });
    g.bench_function("box_new_drop", |b| {
        b.iter(|| {
            let x = black_box(Box::new(black_box(obj)));
            black_box(x.0[0])
        })
    });
    g.finish();

    let mut g = c.benchmark_group("alloc64_x64");
    g.throughput(Throughput::Elements(64));
    let mut handles = Vec::with_capacity(64);
    g.bench_function("pool_insert_remove", |b| {
        b.iter(|| {
            for _ in 0..64 {
                handles.push(pool.insert(black_box(obj)).expect("capacity"));
            }
            for h in handles.drain(..) {
                black_box(pool.remove(h).map(|o| o.0[0]));
            }
        })
    });
    let mut boxes: Vec<Box<Obj>> = Vec::with_capacity(64);
    g.bench_function("box_new_drop", |b| {
        b.iter(|| {
            for _ in 0..64 {
                boxes.push(black_box(Box::new(black_box(obj))));
            }
            for x in boxes.drain(..) {
                black_box(x.0[0]);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, pool_vs_box);

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs this binary without `--bench` and
        // with test-harness flags criterion does not know: check the round
        // trip the bench measures, and stop there.
        let mut pool: Pool<Obj> = Pool::with_capacity(4);
        let h = pool.insert(Obj([3; 8])).expect("capacity");
        assert_eq!(pool.remove(h).map(|o| o.0), Some([3; 8]));
        assert!(pool.remove(h).is_none(), "a removed handle is stale");
        println!("pool bench: insert/remove round trip ok (run `cargo bench` to measure)");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
