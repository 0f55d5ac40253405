//! The measured thread: a duty-cycle loop over a [`HotPath`] (floe's
//! [`Runtime`], or the kernel-socket peer) that files its tick-to-trade
//! histogram under the slot the driver names.
//!
//! The driver announces each block of triggers with [`Phase::set_slot`] and
//! waits for the hot loop to acknowledge it before sending the block's first
//! trigger, so every child is filed under the block that triggered it: the
//! loop checks the slot between duty cycles, folds what the path recorded
//! into the previous slot's histogram, resets the path's histogram and
//! acknowledges. Folding (a histogram `add` of equal bounds) allocates
//! nothing; it happens only at block boundaries.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::engine::idle::Idle;
use crate::engine::runtime::{Runtime, RuntimeStats};

/// Slots the hot loop files histograms under.
pub const SLOTS: usize = 5;
/// Slot of the warm-up (discarded).
pub const WARMUP: u32 = 0;

/// What the hot loop drives.
pub trait HotPath {
    /// One duty cycle; the units of work found (0 = idle).
    fn cycle(&mut self) -> usize;
    /// Tick-to-trade recorded since the last reset, ns.
    fn tick_to_trade(&self) -> &Histogram<u64>;
    /// Forgets the tick-to-trade recorded so far.
    fn reset_tick_to_trade(&mut self);
    /// Cold work done every few hundred cycles (journal snapshots).
    fn housekeeping(&mut self);
    /// Logs out and flushes at the end.
    fn finish(&mut self);
    /// Counters of the run.
    fn counters(&self) -> RuntimeStats;
}

impl HotPath for Runtime {
    fn cycle(&mut self) -> usize {
        Runtime::cycle(self)
    }
    fn tick_to_trade(&self) -> &Histogram<u64> {
        Runtime::tick_to_trade(self)
    }
    fn reset_tick_to_trade(&mut self) {
        Runtime::reset_tick_to_trade(self)
    }
    fn housekeeping(&mut self) {
        self.maybe_snapshot();
    }
    fn finish(&mut self) {
        self.shutdown(Duration::from_millis(200));
    }
    fn counters(&self) -> RuntimeStats {
        self.stats()
    }
}

/// The handshake between the driver and the hot loop.
#[derive(Debug, Default)]
pub struct Phase {
    slot: AtomicU32,
    ack: AtomicU32,
    stop: AtomicBool,
}

impl Phase {
    /// Slot 0 (warm-up), not stopped.
    pub fn new() -> Phase {
        Phase::default()
    }

    /// Files what follows under `slot` once the hot loop acknowledged; waits
    /// (yielding) at most `limit`. False if the hot loop did not answer.
    pub fn set_slot(&self, slot: u32, limit: Duration) -> bool {
        self.slot.store(slot, Ordering::Release);
        let until = Instant::now() + limit;
        while self.ack.load(Ordering::Acquire) != slot {
            if Instant::now() > until || self.stop.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::yield_now();
        }
        true
    }

    /// Asks the hot loop to stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    /// Whether a stop was asked.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// What the hot loop hands back.
pub struct HotReport {
    /// Tick-to-trade per slot.
    pub slots: Vec<Histogram<u64>>,
    /// The path's counters at the end.
    pub counters: RuntimeStats,
}

/// Runs `path` until [`Phase::stop`], idling with `idle` when a cycle found
/// nothing, and returns the histograms per slot.
pub fn run<H: HotPath>(path: &mut H, phase: &Phase, mut idle: Idle) -> HotReport {
    let mut slots: Vec<Histogram<u64>> = (0..SLOTS)
        .map(|_| Histogram::new_from(path.tick_to_trade()))
        .collect();
    let mut current = phase.slot.load(Ordering::Acquire);
    phase.ack.store(current, Ordering::Release);
    let mut n: u32 = 0;
    loop {
        let want = phase.slot.load(Ordering::Acquire);
        if want != current {
            fold(path, &mut slots, current);
            current = want;
            phase.ack.store(current, Ordering::Release);
        }
        if path.cycle() > 0 {
            idle.reset();
        } else {
            idle.idle(Duration::from_micros(50));
        }
        n = n.wrapping_add(1);
        if n.is_multiple_of(256) {
            path.housekeeping();
            if phase.stopped() {
                break;
            }
        }
    }
    fold(path, &mut slots, current);
    path.finish();
    HotReport {
        slots,
        counters: path.counters(),
    }
}

fn fold<H: HotPath>(path: &mut H, slots: &mut [Histogram<u64>], slot: u32) {
    if let Some(h) = slots.get_mut(slot as usize) {
        let _ = h.add(path.tick_to_trade());
    }
    path.reset_tick_to_trade();
}
