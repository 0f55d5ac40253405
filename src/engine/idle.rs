//! Idle strategies for the hot thread and pinning it to its core.
//!
//! A duty cycle that found work resets the strategy; one that found none
//! calls [`Idle::idle`]. `spin` only issues the CPU's spin-loop hint (for an
//! isolated bare-metal core), `spin_yield` spins a while and then yields the
//! core (shared cores, CI: two spinning threads on two shared cores starve
//! each other otherwise), `park` spins, yields, then sleeps a bounded time.
//! Nothing here allocates.

use crate::config::{EngineConfig, IdleStrategy};
use std::time::{Duration, Instant};

/// Idle cycles spun before `spin_yield` and `park` start looking at the
/// time (and between two looks): the clock is read once per this many.
pub const SPINS_BEFORE_YIELD: u32 = 64;
/// How long `spin_yield` and `park` keep spinning on an idle thread before
/// they yield, unless configured (`engine.spin_window_us`): longer than a
/// closed-loop round trip with the venue, so a thread waiting for the next
/// trigger stays hot (a yield is a system call: it leaves the caches, TLB
/// and branch history colder for the trigger after it), short enough that a
/// thread sharing a core with the one it waits for hands the core over
/// within tens of microseconds.
pub const SPIN_WINDOW: Duration = Duration::from_micros(50);
/// Yields before `park` sleeps.
pub const YIELDS_BEFORE_PARK: u32 = 1_024;
/// The longest `park` sleeps at once.
pub const PARK_MAX: Duration = Duration::from_micros(200);

/// The state of an idle strategy.
#[derive(Clone, Copy, Debug)]
pub struct Idle {
    strategy: IdleStrategy,
    /// How long an idle stretch spins before yielding.
    window: Duration,
    idle_cycles: u32,
    /// When the spinning window of this idle stretch began (read after
    /// the first [`SPINS_BEFORE_YIELD`] idle cycles).
    spin_start: Option<Instant>,
    /// Idle cycles since the window ran out (0: still spinning).
    yields: u32,
}

impl Idle {
    /// A fresh strategy that spins `window` of each idle stretch before it
    /// yields (`spin_yield`, `park`; `Duration::ZERO` yields after
    /// [`SPINS_BEFORE_YIELD`] idle cycles).
    pub fn new(strategy: IdleStrategy, window: Duration) -> Idle {
        Idle {
            strategy,
            window,
            idle_cycles: 0,
            spin_start: None,
            yields: 0,
        }
    }

    /// The strategy and spin window an engine configuration names
    /// (`engine.idle`, `engine.spin_window_us`).
    pub fn for_engine(cfg: &EngineConfig) -> Idle {
        Idle::new(cfg.idle, cfg.spin_window())
    }

    /// The strategy.
    pub fn strategy(&self) -> IdleStrategy {
        self.strategy
    }

    /// A cycle did work: start over.
    #[inline]
    pub fn reset(&mut self) {
        self.idle_cycles = 0;
        self.spin_start = None;
        self.yields = 0;
    }

    /// A cycle found nothing to do. `until_deadline` bounds a `park` sleep
    /// (the next timer of the engine, the network stack or the sessions).
    #[inline]
    pub fn idle(&mut self, until_deadline: Duration) {
        if self.strategy == IdleStrategy::Spin || self.spinning() {
            core::hint::spin_loop();
            return;
        }
        self.yields = self.yields.saturating_add(1);
        if self.strategy == IdleStrategy::Park && self.yields > YIELDS_BEFORE_PARK {
            std::thread::park_timeout(until_deadline.min(PARK_MAX));
        } else {
            std::thread::yield_now();
        }
    }

    /// Whether this idle cycle still spins: within the window of the
    /// stretch's start (the clock read every [`SPINS_BEFORE_YIELD`] cycles).
    #[inline]
    fn spinning(&mut self) -> bool {
        if self.yields > 0 {
            return false;
        }
        self.idle_cycles = self.idle_cycles.wrapping_add(1);
        if !self.idle_cycles.is_multiple_of(SPINS_BEFORE_YIELD) {
            return true;
        }
        match self.spin_start {
            None => {
                self.spin_start = Some(Instant::now());
                true
            }
            Some(t) => t.elapsed() < self.window,
        }
    }
}

/// Pins the calling thread to `core`; false (and nothing changed) when the
/// core does not exist or the OS refused.
pub fn pin_to_core(core: usize) -> bool {
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    match ids.into_iter().find(|c| c.id == core) {
        Some(id) => core_affinity::set_for_current(id),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn park_sleeps_at_most_its_bound() {
        let mut idle = Idle::new(IdleStrategy::Park, SPIN_WINDOW);
        let start = Instant::now();
        while idle.yields <= YIELDS_BEFORE_PARK {
            idle.idle(Duration::from_millis(50));
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "park never got past spinning and yielding"
            );
        }
        assert!(start.elapsed() >= SPIN_WINDOW, "it spun its window first");
        let t = Instant::now();
        idle.idle(Duration::from_secs(10));
        assert!(t.elapsed() < Duration::from_secs(5), "park is bounded");
        idle.reset();
        assert_eq!((idle.idle_cycles, idle.yields), (0, 0));
        assert!(idle.spin_start.is_none());
    }

    #[test]
    fn spin_yield_spins_its_window_then_yields() {
        let mut idle = Idle::new(IdleStrategy::SpinYield, SPIN_WINDOW);
        let start = Instant::now();
        let mut cycles = 0u64;
        while idle.yields == 0 {
            idle.idle(Duration::ZERO);
            cycles += 1;
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "spin_yield never yielded"
            );
        }
        assert!(start.elapsed() >= SPIN_WINDOW, "yielded before its window");
        assert!(cycles > u64::from(SPINS_BEFORE_YIELD));
        idle.reset();
        idle.idle(Duration::ZERO);
        assert_eq!(idle.yields, 0, "a reset starts a new window");
    }

    #[test]
    fn a_zero_window_yields_after_the_first_polls() {
        let mut idle = Idle::new(IdleStrategy::SpinYield, Duration::ZERO);
        for _ in 0..2 * SPINS_BEFORE_YIELD {
            idle.idle(Duration::ZERO);
        }
        assert!(
            idle.yields > 0,
            "still spinning after {} polls",
            2 * SPINS_BEFORE_YIELD
        );
    }

    #[test]
    fn pinning_to_a_missing_core_fails_cleanly() {
        assert!(!pin_to_core(usize::MAX));
    }
}
