//! The memory NIC's ring against `rtrb` (a well-kept SPSC ring crate) moving
//! the same fixed-size frame slots: bursts of 32 frames of 64 bytes written
//! and read on one thread (the deterministic-simulation case), per burst.
//!
//! floe's ring writes each frame straight into its slot and publishes the
//! burst with one store; rtrb moves slot values (`write_chunk_uninit` +
//! `fill_from_iter`, `read_chunk`), so each frame's slot is built and copied.
//!
//! `cargo bench --bench memory_nic`

use criterion::{Criterion, Throughput};
use floe::nic::memory::pair;
use floe::nic::pcap::{PcapConfig, PcapNic};
use floe::nic::{Nic, MAX_FRAME_LEN};
use floe::time::Nanos;
use std::hint::black_box;

const BURST: usize = 32;
const LEN: usize = 64;

#[derive(Clone, Copy)]
struct Slot {
    len: usize,
    bytes: [u8; MAX_FRAME_LEN],
}

fn bench(c: &mut Criterion) {
    let frame = [0x5au8; LEN];
    let mut g = c.benchmark_group("memory_nic_burst32x64B");
    g.throughput(Throughput::Elements(BURST as u64));

    let (mut a, mut b) = pair(1024);
    g.bench_function("floe_memory_pair", |bn| {
        bn.iter(|| {
            for _ in 0..BURST {
                a.tx_frame(LEN, &mut |slot| {
                    slot[..LEN].copy_from_slice(&frame);
                    LEN
                })
                .unwrap();
            }
            a.tx_flush().unwrap();
            let mut sum = 0usize;
            b.rx_burst(Nanos(0), BURST, &mut |f, _| sum += f[0] as usize + f.len());
            black_box(sum)
        })
    });

    // The same through the pcap recorder on the sending end: the cost of
    // recording 32 frames (copy into the hand-over buffer, one wall-clock
    // read per sent frame; the file write is on the writer thread).
    let dir = std::env::temp_dir().join(format!("floe-bench-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a2, mut b2) = pair(1024);
    let mut a2 = PcapNic::create(a2, &dir.join("bench.pcap"), PcapConfig::default()).unwrap();
    g.bench_function("floe_memory_pair_pcap", |bn| {
        bn.iter(|| {
            for _ in 0..BURST {
                a2.tx_frame(LEN, &mut |slot| {
                    slot[..LEN].copy_from_slice(&frame);
                    LEN
                })
                .unwrap();
            }
            a2.tx_flush().unwrap();
            let mut sum = 0usize;
            b2.rx_burst(Nanos(0), BURST, &mut |f, _| sum += f[0] as usize + f.len());
            black_box(sum)
        })
    });
    drop(a2);
    let _ = std::fs::remove_dir_all(&dir);

    let (mut p, mut q) = rtrb::RingBuffer::<Slot>::new(1024);
    g.bench_function("rtrb_chunks", |bn| {
        bn.iter(|| {
            let chunk = p.write_chunk_uninit(BURST).unwrap();
            chunk.fill_from_iter((0..BURST).map(|_| {
                let mut s = Slot {
                    len: LEN,
                    bytes: [0; MAX_FRAME_LEN],
                };
                s.bytes[..LEN].copy_from_slice(&frame);
                s
            }));
            let chunk = q.read_chunk(BURST).unwrap();
            let (x, y) = chunk.as_slices();
            let sum: usize = x.iter().chain(y).map(|s| s.bytes[0] as usize + s.len).sum();
            chunk.commit_all();
            black_box(sum)
        })
    });
    g.finish();
}

fn main() {
    if std::env::args().any(|a| a == "--bench") {
        let mut c = Criterion::default().configure_from_args();
        bench(&mut c);
        c.final_summary();
    } else {
        // `cargo test --all-targets` runs bench targets with libtest's
        // arguments (`--test-threads`), which criterion's parser refuses:
        // run each routine briefly as a smoke test instead.
        let mut c = Criterion::default()
            .warm_up_time(std::time::Duration::from_millis(1))
            .measurement_time(std::time::Duration::from_millis(10))
            .sample_size(10)
            .without_plots();
        bench(&mut c);
    }
}
