//! After construction, the NIC hot path allocates nothing: rx bursts, tx
//! frames and flushes through the memory pair, the fault injector and the
//! pcap recorder (stacked behind `Box<dyn Nic>`), and AF_PACKET on a veth
//! pair when root, run under a counting global allocator.

mod common;

use floe::nic::fault::{FaultConfig, FaultNic, FaultRates};
use floe::nic::memory::pair;
use floe::nic::pcap::{PcapConfig, PcapNic};
use floe::nic::{Nic, NicError};
use floe::time::Nanos;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts allocations made by the thread that armed it.
struct Counting;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; only bumps a thread-local counter.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if ARMED.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    COUNT.with(Cell::get)
}

fn exchange(a: &mut dyn Nic, b: &mut dyn Nic, rounds: u32) -> u64 {
    let mut received = 0u64;
    for round in 0..rounds {
        for i in 0..16u32 {
            let r = a.tx_frame(128, &mut |slot| {
                slot[..4].copy_from_slice(&(round * 16 + i).to_be_bytes());
                slot[4..128].fill(0x5a);
                128
            });
            match r {
                Ok(()) | Err(NicError::TxFull) => {}
                Err(e) => panic!("{e}"),
            }
        }
        a.tx_flush().unwrap();
        b.rx_burst(Nanos(u64::from(round) * 1_000), 32, &mut |f, _| {
            received += f.len() as u64
        });
    }
    received
}

#[test]
fn memory_fault_and_pcap_paths_do_not_allocate() {
    let dir = std::env::temp_dir().join(format!("floe-noalloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = pair(256);
    let rates = FaultRates {
        drop: 0.05,
        duplicate: 0.05,
        reorder: 0.05,
        corrupt: 0.05,
    };
    let a = FaultNic::new(
        a,
        FaultConfig {
            seed: 9,
            rx: FaultRates::default(),
            tx: rates,
        },
    );
    let mut a: Box<dyn Nic> =
        Box::new(PcapNic::create(a, &dir.join("a.pcap"), PcapConfig::default()).unwrap());
    let mut b: Box<dyn Nic> = Box::new(FaultNic::new(
        b,
        FaultConfig {
            seed: 10,
            rx: rates,
            tx: FaultRates::default(),
        },
    ));
    // Warm up: the first hand-over of a pcap buffer, lazy statics.
    exchange(a.as_mut(), b.as_mut(), 200);
    let mut received = 0;
    let n = allocations(|| received = exchange(a.as_mut(), b.as_mut(), 2_000));
    assert!(received > 0);
    assert_eq!(n, 0, "the NIC path allocated {n} times");
    drop(a);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn af_packet_path_does_not_allocate() {
    use floe::config::TpacketVersion;
    use floe::nic::af_packet::{AfPacketConfig, AfPacketNic};
    use floe::nic::veth::{self, HostOptions};
    let Some(h) = common::hosts("fna", HostOptions::default()) else {
        return;
    };
    for v in [TpacketVersion::V2, TpacketVersion::V3] {
        // floe's frames from vfloe reach vvenue; a second AF_PACKET socket
        // in the venue namespace receives them: both ends are floe's code.
        let venue = veth::run_in_netns(&h.venue_ns(), move || {
            AfPacketNic::open(&AfPacketConfig::new(veth::VENUE_IF).with_version(v)).unwrap()
        })
        .unwrap();
        let app = veth::run_in_netns(&h.app_ns(), move || {
            AfPacketNic::open(&AfPacketConfig::new(veth::APP_IF).with_version(v)).unwrap()
        })
        .unwrap();
        let (mut app, mut venue) = (app, venue);
        exchange(&mut app, &mut venue, 50);
        let n = allocations(|| {
            exchange(&mut app, &mut venue, 500);
        });
        assert_eq!(n, 0, "{v:?}: the af_packet path allocated {n} times");
        let s = app.stats();
        assert!(s.tx_frames >= 8_000, "{s:?}");
    }
}
