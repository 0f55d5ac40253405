//! Slice and delay drawing from a parent's own seeded PRNG.
//!
//! Each parent owns a [`SliceRng`]: xoshiro256++ (from `rand`) seeded with the
//! parent's journaled `u64` seed through SplitMix64, wrapped so that it counts
//! every 64-bit word it hands out. The pair (seed, words drawn) is the whole
//! state: recovery and snapshots restore it by re-seeding and skipping
//! ([`SliceRng::restore`]), and the engine commits a decision's draws by
//! advancing to the count recorded in the journal ([`SliceRng::advance_to`]).
//!
//! Draws never allocate and never panic: empty ranges are never sampled.

use crate::time::Nanos;
use crate::types::Qty;
use core::convert::Infallible;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng, TryRng};

/// One parent's PRNG: xoshiro256++ plus the number of 64-bit words drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SliceRng {
    seed: u64,
    draws: u64,
    inner: Xoshiro256PlusPlus,
}

/// [`SliceRng::advance_to`] was asked to go backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("generator is at draw {at}, cannot go back to {wanted}")]
pub struct RngBehind {
    /// Words already drawn.
    pub at: u64,
    /// The count asked for.
    pub wanted: u64,
}

impl SliceRng {
    /// A generator at draw zero for `seed`.
    pub fn new(seed: u64) -> SliceRng {
        SliceRng {
            seed,
            draws: 0,
            inner: Xoshiro256PlusPlus::seed_from_u64(seed),
        }
    }

    /// The generator for `seed` after `draws` words (cold path: O(draws)).
    pub fn restore(seed: u64, draws: u64) -> SliceRng {
        let mut r = SliceRng::new(seed);
        // Cannot fail: a fresh generator is at zero.
        let _ = r.advance_to(draws);
        r
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// 64-bit words drawn so far.
    pub fn draws(&self) -> u64 {
        self.draws
    }

    /// Skips forward until `draws` words have been drawn in total.
    pub fn advance_to(&mut self, draws: u64) -> Result<(), RngBehind> {
        if draws < self.draws {
            return Err(RngBehind {
                at: self.draws,
                wanted: draws,
            });
        }
        while self.draws < draws {
            self.word();
        }
        Ok(())
    }

    fn word(&mut self) -> u64 {
        self.draws += 1;
        match self.inner.try_next_u64() {
            Ok(w) => w,
            Err(never) => match never {},
        }
    }
}

impl TryRng for SliceRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.word() >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        Ok(self.word())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(8) {
            let w = self.word().to_le_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
        Ok(())
    }
}

/// The inputs of a slice draw, all in shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceSpec {
    /// The parent's display quantity.
    pub display: Qty,
    /// Variance in parts per million, `< 1_000_000`.
    pub variance_ppm: u32,
    /// The lot size (≥ 1).
    pub lot: u32,
    /// What remains to release (a multiple of the lot, or the odd rest).
    pub remaining: Qty,
    /// The largest child risk allows (`risk.max_child_qty`).
    pub max_child: Qty,
}

/// Draws one slice: `display × (1 ± v)` uniformly over whole shares, rounded
/// to the nearest lot, at least one lot, at most `max_child` (rounded down to
/// the lot, at least one lot) and never above `remaining`. Returns zero only
/// when `remaining` is zero. A zero variance draws nothing.
pub fn draw_slice(rng: &mut SliceRng, s: &SliceSpec) -> Qty {
    if s.remaining.is_zero() {
        return Qty::ZERO;
    }
    let lot = u64::from(s.lot.max(1));
    let display = u64::from(s.display.0);
    let spread = display * u64::from(s.variance_ppm.min(999_999)) / 1_000_000;
    let (lo, hi) = (display - spread, display + spread);
    let shares = if lo < hi {
        rng.random_range(lo..=hi)
    } else {
        lo
    };
    let lots = ((shares + lot / 2) / lot).max(1);
    let cap_lots = (u64::from(s.max_child.0) / lot).max(1);
    let qty = lots.min(cap_lots) * lot;
    Qty(qty.min(u64::from(s.remaining.0)) as u32)
}

/// Draws the delay before the next refresh, uniform in
/// `[min_ms, max_ms]` milliseconds at nanosecond resolution. Equal bounds
/// draw nothing.
pub fn draw_delay(rng: &mut SliceRng, min_ms: u32, max_ms: u32) -> Nanos {
    let lo = Nanos::from_ms(u64::from(min_ms.min(max_ms))).0;
    let hi = Nanos::from_ms(u64::from(max_ms.max(min_ms))).0;
    if lo < hi {
        Nanos(rng.random_range(lo..=hi))
    } else {
        Nanos(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec(display: u32, ppm: u32, lot: u32, remaining: u32) -> SliceSpec {
        SliceSpec {
            display: Qty(display),
            variance_ppm: ppm,
            lot,
            remaining: Qty(remaining),
            max_child: Qty(u32::MAX),
        }
    }

    #[test]
    fn restore_continues_the_same_stream() {
        let mut a = SliceRng::new(42);
        for _ in 0..37 {
            draw_slice(&mut a, &spec(100, 200_000, 1, 10_000));
        }
        let mut b = SliceRng::restore(42, a.draws());
        assert_eq!(a, b);
        let s = spec(100, 200_000, 1, 10_000);
        for _ in 0..100 {
            assert_eq!(draw_slice(&mut a, &s), draw_slice(&mut b, &s));
        }
        assert!(b.advance_to(3).is_err());
    }

    #[test]
    fn slices_cover_the_whole_range_and_no_more() {
        let mut r = SliceRng::new(7);
        let s = spec(100, 200_000, 1, 1_000_000);
        let mut seen = [false; 41];
        for _ in 0..20_000 {
            let q = draw_slice(&mut r, &s).0;
            assert!((80..=120).contains(&q), "{q}");
            seen[(q - 80) as usize] = true;
        }
        assert!(
            seen.iter().all(|&b| b),
            "every share count in 80..=120 is drawn"
        );
    }

    #[test]
    fn zero_variance_and_equal_delays_draw_nothing() {
        let mut r = SliceRng::new(1);
        assert_eq!(draw_slice(&mut r, &spec(300, 0, 100, 1_000)), Qty(300));
        assert_eq!(draw_delay(&mut r, 5, 5), Nanos::from_ms(5));
        assert_eq!(r.draws(), 0);
    }

    proptest! {
        #[test]
        fn slice_rules_hold(seed: u64, display in 1u32..100_000, ppm in 0u32..1_000_000,
                            lot in 1u32..1_000, remaining in 0u32..1_000_000, max_child in 0u32..200_000) {
            let mut r = SliceRng::new(seed);
            let s = SliceSpec { display: Qty(display), variance_ppm: ppm, lot, remaining: Qty(remaining), max_child: Qty(max_child) };
            let q = draw_slice(&mut r, &s).0;
            prop_assert!(q <= remaining);
            if remaining == 0 {
                prop_assert_eq!(q, 0);
            } else if q < remaining {
                // A slice short of what remains is a whole number of lots, at least one.
                prop_assert!(q >= lot && q.is_multiple_of(lot));
                prop_assert!(q <= (max_child / lot).max(1) * lot);
                let hi = display as u64 + display as u64 * ppm as u64 / 1_000_000;
                prop_assert!((q as u64) <= hi + lot as u64 / 2 || q == lot);
            }
        }

        #[test]
        fn delays_stay_in_bounds(seed: u64, a in 0u32..100_000, b in 0u32..100_000) {
            let mut r = SliceRng::new(seed);
            let d = draw_delay(&mut r, a, b);
            prop_assert!(d >= Nanos::from_ms(a.min(b) as u64) && d <= Nanos::from_ms(a.max(b) as u64));
        }
    }
}
