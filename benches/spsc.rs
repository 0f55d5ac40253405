//! floe's single-producer single-consumer rings against `crossbeam`'s
//! `ArrayQueue` and `rtrb`, in the same run, moving the same 64-byte
//! message (a quote's size in the split mode).
//!
//! - `floe_memory_ring`: the in-process NIC pair (`nic::memory`):
//!   fixed-size slots written in place by `tx_frame`, published by
//!   `tx_flush` (one release store), lent to the consumer by `rx_burst` and
//!   returned with one release store per burst. Here it moves one message
//!   per flush and per burst, as the peers move one per push and pop.
//! - `floe_typed_ring`: `nic::spsc`, the same design with typed slots: the
//!   ring split mode hands quotes from the feed thread to the hot thread
//!   over.
//!
//! - `spsc/one_thread/*`: push then pop on one thread (the uncontended cost
//!   of the ring's code);
//! - `spsc/stream/*`: a producer thread pushes, the bench thread pops
//!   (throughput across two cores, cache lines moving);
//! - `spsc/ping_pong/*`: a message to an echo thread and back over two rings
//!   (the cross-core hand-off latency, twice).
//!
//! Every wait spins a little and then yields (the machine has two shared
//! cores), and is bounded.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam::queue::ArrayQueue;
use floe::nic::memory::{pair, MemoryNic};
use floe::nic::spsc;
use floe::nic::Nic;
use floe::time::Nanos;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Bytes per message.
const MSG: usize = 64;
/// Slots per ring.
const CAP: usize = 1024;
/// A wait longer than this is a bug, not a slow machine.
const STUCK: Duration = Duration::from_secs(60);

type Msg = [u8; MSG];

fn msg(i: u64) -> Msg {
    let mut m = [0u8; MSG];
    m[..8].copy_from_slice(&i.to_le_bytes());
    m
}

/// Spins 64 times, then yields, on every empty or full poll.
struct Backoff(u32);

impl Backoff {
    fn new() -> Backoff {
        Backoff(0)
    }
    fn reset(&mut self) {
        self.0 = 0;
    }
    fn snooze(&mut self, since: Instant) {
        self.0 += 1;
        if self.0 < 64 {
            std::hint::spin_loop();
        } else {
            assert!(since.elapsed() < STUCK, "an SPSC wait never ended");
            std::thread::yield_now();
        }
    }
}

/// One queue under test: a producer end and a consumer end.
trait Spsc: Send + 'static {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn make() -> (Self::Tx, Self::Rx);
    fn push(tx: &mut Self::Tx, m: &Msg) -> bool;
    fn pop(rx: &mut Self::Rx) -> Option<u64>;
}

struct FloeRing;

impl Spsc for FloeRing {
    type Tx = MemoryNic;
    type Rx = MemoryNic;
    fn make() -> (MemoryNic, MemoryNic) {
        pair(CAP)
    }
    #[inline]
    fn push(tx: &mut MemoryNic, m: &Msg) -> bool {
        let ok = tx
            .tx_frame(MSG, &mut |slot| {
                slot[..MSG].copy_from_slice(m);
                MSG
            })
            .is_ok();
        let _ = tx.tx_flush();
        ok
    }
    #[inline]
    fn pop(rx: &mut MemoryNic) -> Option<u64> {
        let mut got = None;
        rx.rx_burst(Nanos(0), 1, &mut |f, _| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&f[..8]);
            got = Some(u64::from_le_bytes(b));
        });
        got
    }
}

struct FloeTyped;

impl Spsc for FloeTyped {
    type Tx = spsc::Producer<Msg>;
    type Rx = spsc::Consumer<Msg>;
    fn make() -> (Self::Tx, Self::Rx) {
        spsc::channel(CAP, [0; MSG])
    }
    #[inline]
    fn push(tx: &mut Self::Tx, m: &Msg) -> bool {
        tx.try_push(*m).is_ok()
    }
    #[inline]
    fn pop(rx: &mut Self::Rx) -> Option<u64> {
        rx.pop()
            .map(|m| u64::from_le_bytes(m[..8].try_into().unwrap_or([0; 8])))
    }
}

struct Crossbeam;

impl Spsc for Crossbeam {
    type Tx = Arc<ArrayQueue<Msg>>;
    type Rx = Arc<ArrayQueue<Msg>>;
    fn make() -> (Self::Tx, Self::Rx) {
        let q = Arc::new(ArrayQueue::new(CAP));
        (q.clone(), q)
    }
    #[inline]
    fn push(tx: &mut Self::Tx, m: &Msg) -> bool {
        tx.push(*m).is_ok()
    }
    #[inline]
    fn pop(rx: &mut Self::Rx) -> Option<u64> {
        rx.pop()
            .map(|m| u64::from_le_bytes(m[..8].try_into().unwrap_or([0; 8])))
    }
}

struct Rtrb;

impl Spsc for Rtrb {
    type Tx = rtrb::Producer<Msg>;
    type Rx = rtrb::Consumer<Msg>;
    fn make() -> (Self::Tx, Self::Rx) {
        rtrb::RingBuffer::new(CAP)
    }
    #[inline]
    fn push(tx: &mut Self::Tx, m: &Msg) -> bool {
        tx.push(*m).is_ok()
    }
    #[inline]
    fn pop(rx: &mut Self::Rx) -> Option<u64> {
        rx.pop()
            .ok()
            .map(|m| u64::from_le_bytes(m[..8].try_into().unwrap_or([0; 8])))
    }
}

fn one_thread<Q: Spsc>(iters: u64) -> Duration {
    let (mut tx, mut rx) = Q::make();
    let t = Instant::now();
    for i in 0..iters {
        let ok = Q::push(&mut tx, black_box(&msg(i)));
        debug_assert!(ok);
        black_box(Q::pop(&mut rx));
    }
    t.elapsed()
}

fn stream<Q: Spsc>(iters: u64) -> Duration {
    let (mut tx, mut rx) = Q::make();
    let go = Arc::new(Barrier::new(2));
    let g = go.clone();
    let producer = std::thread::spawn(move || {
        g.wait();
        let start = Instant::now();
        let mut b = Backoff::new();
        for i in 0..iters {
            let m = msg(i);
            while !Q::push(&mut tx, &m) {
                b.snooze(start);
            }
            b.reset();
        }
    });
    go.wait();
    let t = Instant::now();
    let mut b = Backoff::new();
    let mut next = 0u64;
    while next < iters {
        match Q::pop(&mut rx) {
            Some(v) => {
                assert_eq!(v, next, "messages in order");
                next += 1;
                b.reset();
            }
            None => b.snooze(t),
        }
    }
    let d = t.elapsed();
    producer.join().expect("producer");
    d
}

fn ping_pong<Q: Spsc>(iters: u64) -> Duration {
    let (mut to_tx, mut to_rx) = Q::make();
    let (mut back_tx, mut back_rx) = Q::make();
    let echo = std::thread::spawn(move || {
        let start = Instant::now();
        let mut b = Backoff::new();
        let mut seen = 0u64;
        while seen < iters {
            match Q::pop(&mut to_rx) {
                Some(v) => {
                    let m = msg(v);
                    while !Q::push(&mut back_tx, &m) {
                        b.snooze(start);
                    }
                    seen += 1;
                    b.reset();
                }
                None => b.snooze(start),
            }
        }
    });
    let t = Instant::now();
    let mut b = Backoff::new();
    for i in 0..iters {
        while !Q::push(&mut to_tx, &msg(i)) {
            b.snooze(t);
        }
        loop {
            match Q::pop(&mut back_rx) {
                Some(v) => {
                    assert_eq!(v, i);
                    b.reset();
                    break;
                }
                None => b.snooze(t),
            }
        }
    }
    let d = t.elapsed();
    echo.join().expect("echo");
    d
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("spsc/one_thread");
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::from_parameter("floe_memory_ring"), |b| {
        b.iter_custom(one_thread::<FloeRing>)
    });
    g.bench_function(BenchmarkId::from_parameter("floe_typed_ring"), |b| {
        b.iter_custom(one_thread::<FloeTyped>)
    });
    g.bench_function(BenchmarkId::from_parameter("crossbeam_array_queue"), |b| {
        b.iter_custom(one_thread::<Crossbeam>)
    });
    g.bench_function(BenchmarkId::from_parameter("rtrb"), |b| {
        b.iter_custom(one_thread::<Rtrb>)
    });
    g.finish();

    let mut g = c.benchmark_group("spsc/stream");
    g.throughput(Throughput::Elements(1));
    g.bench_function(BenchmarkId::from_parameter("floe_memory_ring"), |b| {
        b.iter_custom(stream::<FloeRing>)
    });
    g.bench_function(BenchmarkId::from_parameter("floe_typed_ring"), |b| {
        b.iter_custom(stream::<FloeTyped>)
    });
    g.bench_function(BenchmarkId::from_parameter("crossbeam_array_queue"), |b| {
        b.iter_custom(stream::<Crossbeam>)
    });
    g.bench_function(BenchmarkId::from_parameter("rtrb"), |b| {
        b.iter_custom(stream::<Rtrb>)
    });
    g.finish();

    let mut g = c.benchmark_group("spsc/ping_pong");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.bench_function(BenchmarkId::from_parameter("floe_memory_ring"), |b| {
        b.iter_custom(ping_pong::<FloeRing>)
    });
    g.bench_function(BenchmarkId::from_parameter("floe_typed_ring"), |b| {
        b.iter_custom(ping_pong::<FloeTyped>)
    });
    g.bench_function(BenchmarkId::from_parameter("crossbeam_array_queue"), |b| {
        b.iter_custom(ping_pong::<Crossbeam>)
    });
    g.bench_function(BenchmarkId::from_parameter("rtrb"), |b| {
        b.iter_custom(ping_pong::<Rtrb>)
    });
    g.finish();
}

criterion_group!(spsc, benches);
criterion_main!(spsc);
