//! Time: the [`Nanos`] newtype and the clocks that produce it.
//!
//! The engine never reads a clock: the runtime reads one `now` per duty cycle
//! and passes it in. Live, that is [`TscClock`] (the invariant TSC, calibrated
//! once at start-up against the monotonic clock); in tests and simulation it is
//! [`ManualClock`]. Reading a clock never allocates, blocks or panics.

use core::cell::Cell;
use core::fmt;
use core::ops::{Add, Sub};
use std::time::{Duration, Instant};

/// Nanoseconds on some monotonic time line (the clock says which).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nanos(pub u64);

impl Nanos {
    /// Time zero.
    pub const ZERO: Nanos = Nanos(0);
    /// The far future: a deadline that never fires.
    pub const MAX: Nanos = Nanos(u64::MAX);

    /// From milliseconds (saturating).
    pub const fn from_ms(ms: u64) -> Nanos {
        Nanos(ms.saturating_mul(1_000_000))
    }

    /// From microseconds (saturating).
    pub const fn from_us(us: u64) -> Nanos {
        Nanos(us.saturating_mul(1_000))
    }

    /// From seconds (saturating).
    pub const fn from_secs(s: u64) -> Nanos {
        Nanos(s.saturating_mul(1_000_000_000))
    }

    /// Saturating difference `self - earlier` (zero if `earlier` is later).
    pub const fn since(self, earlier: Nanos) -> Nanos {
        Nanos(self.0.saturating_sub(earlier.0))
    }

    /// Whole milliseconds.
    pub const fn as_ms(self) -> u64 {
        self.0 / 1_000_000
    }
}

impl Add for Nanos {
    type Output = Nanos;
    fn add(self, rhs: Nanos) -> Nanos {
        Nanos(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Nanos {
    type Output = Nanos;
    fn sub(self, rhs: Nanos) -> Nanos {
        self.since(rhs)
    }
}

impl From<Duration> for Nanos {
    fn from(d: Duration) -> Nanos {
        Nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Nanos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ns", self.0)
    }
}

/// A source of `now`.
pub trait Clock {
    /// The current time. Cheap, never blocks, never allocates.
    fn now(&self) -> Nanos;
}

/// A clock set by hand: deterministic tests and simulation.
#[derive(Debug, Default)]
pub struct ManualClock {
    now: Cell<u64>,
}

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: Nanos) -> ManualClock {
        ManualClock {
            now: Cell::new(start.0),
        }
    }

    /// Sets the time; time never goes backwards (an earlier value is ignored).
    pub fn set(&self, t: Nanos) {
        if t.0 > self.now.get() {
            self.now.set(t.0);
        }
    }

    /// Moves the time forward by `d`.
    pub fn advance(&self, d: Nanos) {
        self.now.set(self.now.get().saturating_add(d.0));
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Nanos {
        Nanos(self.now.get())
    }
}

/// `std::time::Instant` since the clock was made: portable, ~20 ns a read.
#[derive(Clone, Copy, Debug)]
pub struct MonotonicClock {
    origin: Instant,
}

impl MonotonicClock {
    /// A clock whose zero is now.
    pub fn new() -> MonotonicClock {
        MonotonicClock {
            origin: Instant::now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Nanos {
        Nanos::from(self.origin.elapsed())
    }
}

/// The invariant TSC scaled to nanoseconds, calibrated at construction.
///
/// On targets without a TSC it falls back to [`MonotonicClock`].
#[derive(Clone, Copy, Debug)]
pub struct TscClock {
    origin_ticks: u64,
    /// Nanoseconds per tick in 32.32 fixed point.
    ns_per_tick_q32: u64,
    fallback: MonotonicClock,
}

impl TscClock {
    /// Calibrates against the monotonic clock over `window` (10 ms is plenty
    /// on an invariant TSC). Runs once, at start-up.
    pub fn calibrate(window: Duration) -> TscClock {
        let fallback = MonotonicClock::new();
        let t0 = Instant::now();
        let c0 = read_tsc();
        while t0.elapsed() < window {
            std::hint::spin_loop();
        }
        let c1 = read_tsc();
        let ns = t0.elapsed().as_nanos() as u64;
        let ticks = c1.saturating_sub(c0);
        let ns_per_tick_q32 = if ticks == 0 {
            0
        } else {
            (((ns as u128) << 32) / ticks as u128) as u64
        };
        TscClock {
            origin_ticks: c1,
            ns_per_tick_q32,
            fallback,
        }
    }

    /// The measured TSC frequency in Hz (0 if there is no TSC).
    pub fn tsc_hz(&self) -> u64 {
        if self.ns_per_tick_q32 == 0 {
            0
        } else {
            ((1_000_000_000u128 << 32) / self.ns_per_tick_q32 as u128) as u64
        }
    }
}

impl Clock for TscClock {
    #[inline]
    fn now(&self) -> Nanos {
        if self.ns_per_tick_q32 == 0 {
            return self.fallback.now();
        }
        let ticks = read_tsc().wrapping_sub(self.origin_ticks);
        Nanos(((ticks as u128 * self.ns_per_tick_q32 as u128) >> 32) as u64)
    }
}

/// Unix time in nanoseconds: the wall clock read once at start-up, advanced
/// by the calibrated TSC. The engine's time line, so that timer deadlines
/// journaled before a restart keep their meaning after it and `created_at`
/// is a real instant.
#[derive(Clone, Copy, Debug)]
pub struct WallClock {
    tsc: TscClock,
    unix_base_ns: u64,
}

impl WallClock {
    /// Calibrates the TSC (see [`TscClock::calibrate`]) and anchors it to the
    /// system clock.
    pub fn calibrate(window: Duration) -> WallClock {
        let tsc = TscClock::calibrate(window);
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| Nanos::from(d).0)
            .unwrap_or(0);
        WallClock {
            unix_base_ns: unix.saturating_sub(tsc.now().0),
            tsc,
        }
    }

    /// The TSC underneath.
    pub fn tsc(&self) -> &TscClock {
        &self.tsc
    }
}

impl Clock for WallClock {
    #[inline]
    fn now(&self) -> Nanos {
        Nanos(self.unix_base_ns + self.tsc.now().0)
    }
}

#[inline]
fn read_tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no memory effects and is present on every x86_64
        // CPU; it only reads the time-stamp counter.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_never_goes_back() {
        let c = ManualClock::new(Nanos(10));
        c.set(Nanos(5));
        assert_eq!(c.now(), Nanos(10));
        c.advance(Nanos::from_us(1));
        assert_eq!(c.now(), Nanos(1_010));
    }

    #[test]
    fn wall_clock_reads_unix_time() {
        let w = WallClock::calibrate(Duration::from_millis(5));
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let diff = w.now().0.abs_diff(unix);
        assert!(
            diff < 1_000_000_000,
            "wall clock within 1 s of the system clock: {diff} ns"
        );
    }

    #[test]
    fn tsc_clock_tracks_monotonic_clock() {
        let tsc = TscClock::calibrate(Duration::from_millis(20));
        let mono = Instant::now();
        let a = tsc.now();
        while mono.elapsed() < Duration::from_millis(30) {
            std::hint::spin_loop();
        }
        let elapsed = tsc.now().since(a).0 as f64;
        let reference = mono.elapsed().as_nanos() as f64;
        // Generous bound: a shared VM may deschedule us between reads.
        assert!(
            (elapsed / reference - 1.0).abs() < 0.25,
            "tsc {elapsed} ns vs monotonic {reference} ns"
        );
    }
}
