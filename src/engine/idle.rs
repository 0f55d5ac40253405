//! Idle strategies for the hot thread and pinning it to its core.
//!
//! A duty cycle that found work resets the strategy; one that found none
//! calls [`Idle::idle`]. `spin` only issues the CPU's spin-loop hint (for an
//! isolated bare-metal core), `spin_yield` spins a while and then yields the
//! core (shared cores, CI: two spinning threads on two shared cores starve
//! each other otherwise), `park` spins, yields, then sleeps a bounded time.
//! Nothing here allocates.

use crate::config::IdleStrategy;
use std::time::Duration;

/// Idle cycles spun before `spin_yield` and `park` yield.
pub const SPINS_BEFORE_YIELD: u32 = 64;
/// Idle cycles (spinning, then yielding) before `park` sleeps.
pub const IDLES_BEFORE_PARK: u32 = 1_024;
/// The longest `park` sleeps at once.
pub const PARK_MAX: Duration = Duration::from_micros(200);

/// The state of an idle strategy.
#[derive(Clone, Copy, Debug)]
pub struct Idle {
    strategy: IdleStrategy,
    idle_cycles: u32,
}

impl Idle {
    /// A fresh strategy.
    pub fn new(strategy: IdleStrategy) -> Idle {
        Idle {
            strategy,
            idle_cycles: 0,
        }
    }

    /// The strategy.
    pub fn strategy(&self) -> IdleStrategy {
        self.strategy
    }

    /// A cycle did work: start over.
    #[inline]
    pub fn reset(&mut self) {
        self.idle_cycles = 0;
    }

    /// A cycle found nothing to do. `until_deadline` bounds a `park` sleep
    /// (the next timer of the engine, the network stack or the sessions).
    #[inline]
    pub fn idle(&mut self, until_deadline: Duration) {
        self.idle_cycles = self.idle_cycles.saturating_add(1);
        match self.strategy {
            IdleStrategy::Spin => core::hint::spin_loop(),
            IdleStrategy::SpinYield => {
                if self.idle_cycles < SPINS_BEFORE_YIELD {
                    core::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            IdleStrategy::Park => {
                if self.idle_cycles < SPINS_BEFORE_YIELD {
                    core::hint::spin_loop();
                } else if self.idle_cycles < IDLES_BEFORE_PARK {
                    std::thread::yield_now();
                } else {
                    std::thread::park_timeout(until_deadline.min(PARK_MAX));
                }
            }
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
        let mut idle = Idle::new(IdleStrategy::Park);
        for _ in 0..IDLES_BEFORE_PARK {
            idle.idle(Duration::from_millis(50));
        }
        let t = Instant::now();
        idle.idle(Duration::from_secs(10));
        assert!(t.elapsed() < Duration::from_secs(5), "park is bounded");
        idle.reset();
        assert_eq!(idle.idle_cycles, 0);
    }

    #[test]
    fn pinning_to_a_missing_core_fails_cleanly() {
        assert!(!pin_to_core(usize::MAX));
    }
}
