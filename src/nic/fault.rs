//! The fault injector: wraps any [`Nic`] and, with seeded probabilities per
//! direction, drops, duplicates, reorders or corrupts frames.
//!
//! Decisions come from one `StdRng` seeded at construction, drawn in a fixed
//! order per frame, so the same seed and the same frame sequence give the
//! same faults. A reordered frame is held in a preallocated slot and released
//! right after the next frame passes (or, if no frame follows, on the next
//! burst / flush that finds none); a corrupted frame has one bit flipped at a
//! random offset in a preallocated copy. Nothing allocates after
//! [`FaultNic::new`]; nothing blocks or panics.

use super::{Nic, NicError, NicStats, MAX_FRAME_LEN};
use crate::time::Nanos;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Fault probabilities of one direction, each in `0.0..=1.0`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultRates {
    /// A frame is lost.
    pub drop: f64,
    /// A frame is delivered twice.
    pub duplicate: f64,
    /// A frame is held back and delivered after the next one.
    pub reorder: f64,
    /// One bit of a frame is flipped.
    pub corrupt: f64,
}

/// Settings of a [`FaultNic`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultConfig {
    /// Seed of the decision stream.
    pub seed: u64,
    /// Faults on received frames.
    pub rx: FaultRates,
    /// Faults on transmitted frames.
    pub tx: FaultRates,
}

/// What happened to frames so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounters {
    /// Frames dropped.
    pub dropped: u64,
    /// Frames delivered twice.
    pub duplicated: u64,
    /// Frames held back behind the next one.
    pub reordered: u64,
    /// Frames with a flipped bit.
    pub corrupted: u64,
}

/// The decision for one frame.
#[derive(Clone, Copy, Debug, Default)]
struct Decision {
    drop: bool,
    duplicate: bool,
    reorder: bool,
    /// Byte offset fraction and bit of the flip, when corrupting.
    corrupt: Option<(f64, u8)>,
}

/// A frame copied aside (held for reordering, or corrupted).
struct Held {
    len: usize,
    ts: Nanos,
    /// Bursts / flushes that found no frame to release it behind.
    idle: u32,
    bytes: Box<[u8; MAX_FRAME_LEN]>,
}

impl Held {
    fn new() -> Held {
        Held {
            len: 0,
            ts: Nanos::ZERO,
            idle: 0,
            bytes: Box::new([0; MAX_FRAME_LEN]),
        }
    }

    fn frame(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    fn store(&mut self, frame: &[u8], ts: Nanos) {
        let len = frame.len().min(MAX_FRAME_LEN);
        self.bytes[..len].copy_from_slice(&frame[..len]);
        self.len = len;
        self.ts = ts;
        self.idle = 0;
    }
}

/// Wraps a [`Nic`] with seeded faults; see the module docs.
pub struct FaultNic<N: Nic> {
    inner: N,
    cfg: FaultConfig,
    rng: StdRng,
    rx_counters: FaultCounters,
    tx_counters: FaultCounters,
    /// The rx frame held back for reordering (`len > 0` when holding).
    rx_held: Held,
    rx_holding: bool,
    /// Scratch copy for a corrupted rx frame.
    rx_scratch: Held,
    tx_held: Held,
    tx_holding: bool,
    tx_scratch: Held,
}

fn flip(frame: &mut [u8], at: f64, bit: u8) {
    let len = frame.len();
    if len == 0 {
        return;
    }
    let i = ((at * len as f64) as usize).min(len - 1);
    if let Some(b) = frame.get_mut(i) {
        *b ^= 1 << (bit & 7);
    }
}

impl<N: Nic> FaultNic<N> {
    /// Wraps `inner`.
    pub fn new(inner: N, cfg: FaultConfig) -> FaultNic<N> {
        FaultNic {
            inner,
            rng: StdRng::seed_from_u64(cfg.seed),
            cfg,
            rx_counters: FaultCounters::default(),
            tx_counters: FaultCounters::default(),
            rx_held: Held::new(),
            rx_holding: false,
            rx_scratch: Held::new(),
            tx_held: Held::new(),
            tx_holding: false,
            tx_scratch: Held::new(),
        }
    }

    /// Faults applied to received frames so far.
    pub fn rx_faults(&self) -> FaultCounters {
        self.rx_counters
    }

    /// Faults applied to transmitted frames so far.
    pub fn tx_faults(&self) -> FaultCounters {
        self.tx_counters
    }

    /// The wrapped NIC.
    pub fn inner(&self) -> &N {
        &self.inner
    }

    /// The wrapped NIC, mutably.
    pub fn inner_mut(&mut self) -> &mut N {
        &mut self.inner
    }

    /// Unwraps.
    pub fn into_inner(self) -> N {
        self.inner
    }

    fn decide(rng: &mut StdRng, r: &FaultRates) -> Decision {
        // Always draw the same number of values per frame, so one decision
        // does not shift the stream of the others.
        let d = rng.random::<f64>();
        let u = rng.random::<f64>();
        let o = rng.random::<f64>();
        let c = rng.random::<f64>();
        let at = rng.random::<f64>();
        let bit = rng.random::<u8>();
        Decision {
            drop: d < r.drop,
            duplicate: u < r.duplicate,
            reorder: o < r.reorder,
            corrupt: (c < r.corrupt).then_some((at, bit)),
        }
    }

    fn send_inner(&mut self, scratch_is_held: bool) -> Result<(), NicError> {
        let src = if scratch_is_held {
            &self.tx_held
        } else {
            &self.tx_scratch
        };
        let frame = src.frame();
        let len = frame.len();
        self.inner
            .tx_frame(len, &mut |slot: &mut [u8]| match slot.get_mut(..len) {
                Some(dst) => {
                    dst.copy_from_slice(frame);
                    len
                }
                None => 0,
            })
    }
}

impl<N: Nic> Nic for FaultNic<N> {
    fn rx_burst(
        &mut self,
        now: Nanos,
        budget: usize,
        on_frame: &mut dyn FnMut(&[u8], Nanos),
    ) -> usize {
        let FaultNic {
            inner,
            cfg,
            rng,
            rx_counters,
            rx_held,
            rx_holding,
            rx_scratch,
            ..
        } = self;
        let mut handed = 0;
        let taken = inner.rx_burst(now, budget, &mut |frame, ts| {
            let d = Self::decide(rng, &cfg.rx);
            if d.drop {
                rx_counters.dropped += 1;
                return;
            }
            let mut deliver: &[u8] = frame;
            if let Some((at, bit)) = d.corrupt {
                rx_scratch.store(frame, ts);
                flip(&mut rx_scratch.bytes[..rx_scratch.len], at, bit);
                rx_counters.corrupted += 1;
                deliver = rx_scratch.frame();
            }
            if d.reorder && !*rx_holding {
                rx_held.store(deliver, ts);
                *rx_holding = true;
                rx_counters.reordered += 1;
                return;
            }
            on_frame(deliver, ts);
            handed += 1;
            if d.duplicate {
                on_frame(deliver, ts);
                handed += 1;
                rx_counters.duplicated += 1;
            }
            if *rx_holding {
                on_frame(rx_held.frame(), rx_held.ts);
                handed += 1;
                *rx_holding = false;
            }
        });
        if taken == 0 && self.rx_holding {
            self.rx_held.idle += 1;
            if self.rx_held.idle > 1 {
                on_frame(self.rx_held.frame(), self.rx_held.ts);
                handed += 1;
                self.rx_holding = false;
            }
        }
        handed
    }

    fn tx_frame(
        &mut self,
        max_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<(), NicError> {
        if max_len > MAX_FRAME_LEN {
            return Err(NicError::FrameTooLarge {
                len: max_len,
                max: MAX_FRAME_LEN,
            });
        }
        let d = Self::decide(&mut self.rng, &self.cfg.tx);
        let plain = !d.drop && !d.duplicate && !d.reorder && d.corrupt.is_none();
        if plain && !self.tx_holding {
            return self.inner.tx_frame(max_len, fill);
        }
        // Materialise the frame aside, then apply the faults.
        let len = fill(&mut self.tx_scratch.bytes[..max_len]);
        if len == 0 {
            return Ok(());
        }
        if len > max_len {
            return Err(NicError::FrameTooLarge { len, max: max_len });
        }
        self.tx_scratch.len = len;
        if d.drop {
            self.tx_counters.dropped += 1;
            return Ok(());
        }
        if let Some((at, bit)) = d.corrupt {
            flip(&mut self.tx_scratch.bytes[..len], at, bit);
            self.tx_counters.corrupted += 1;
        }
        if d.reorder && !self.tx_holding {
            let (held, scratch) = (&mut self.tx_held, &self.tx_scratch);
            held.store(scratch.frame(), Nanos::ZERO);
            self.tx_holding = true;
            self.tx_counters.reordered += 1;
            return Ok(());
        }
        self.send_inner(false)?;
        if d.duplicate {
            self.send_inner(false)?;
            self.tx_counters.duplicated += 1;
        }
        if self.tx_holding {
            self.send_inner(true)?;
            self.tx_holding = false;
        }
        Ok(())
    }

    fn tx_flush(&mut self) -> Result<(), NicError> {
        if self.tx_holding {
            self.tx_held.idle += 1;
            if self.tx_held.idle > 1 {
                self.send_inner(true)?;
                self.tx_holding = false;
            }
        }
        self.inner.tx_flush()
    }

    fn mac(&self) -> [u8; 6] {
        self.inner.mac()
    }

    fn stats(&self) -> NicStats {
        self.inner.stats()
    }

    fn name(&self) -> &'static str {
        "fault"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::memory::pair;
    use crate::nic::send_copy;

    fn frame(seq: u32) -> Vec<u8> {
        let mut f = vec![0u8; 64];
        f[..4].copy_from_slice(&seq.to_be_bytes());
        for (i, b) in f.iter_mut().enumerate().skip(4) {
            *b = (seq as usize + i) as u8;
        }
        f
    }

    /// Sends `n` frames, one per step, through a memory pair whose
    /// receiving end is wrapped in a fault injector, and collects what it
    /// hands up.
    fn run(n: u32, cfg: FaultConfig) -> (Vec<Vec<u8>>, FaultCounters) {
        let (mut a, b) = pair(64);
        let mut b = FaultNic::new(b, cfg);
        let mut got = Vec::new();
        for seq in 0..n {
            send_copy(&mut a, &frame(seq)).unwrap();
            a.tx_flush().unwrap();
            b.rx_burst(Nanos(0), 8, &mut |f, _| got.push(f.to_vec()));
        }
        // Empty bursts release a frame still held for reordering.
        for _ in 0..3 {
            b.rx_burst(Nanos(0), 8, &mut |f, _| got.push(f.to_vec()));
        }
        (got, b.rx_faults())
    }

    fn rates(p: f64) -> FaultRates {
        FaultRates {
            drop: p,
            duplicate: p,
            reorder: p,
            corrupt: p,
        }
    }

    #[test]
    fn no_faults_is_transparent() {
        let cfg = FaultConfig::default();
        let (got, c) = run(100, cfg);
        assert_eq!(got, (0..100).map(frame).collect::<Vec<_>>());
        assert_eq!(c, FaultCounters::default());
    }

    #[test]
    fn same_seed_same_faults_other_seed_other_faults() {
        let cfg = |seed| FaultConfig {
            seed,
            rx: rates(0.1),
            tx: FaultRates::default(),
        };
        let (g1, c1) = run(2_000, cfg(7));
        let (g2, c2) = run(2_000, cfg(7));
        let (g3, _) = run(2_000, cfg(8));
        assert_eq!(g1, g2);
        assert_eq!(c1, c2);
        assert_ne!(g1, g3);
    }

    #[test]
    fn rates_are_roughly_as_configured() {
        let n = 10_000u32;
        let cfg = FaultConfig {
            seed: 42,
            rx: FaultRates {
                drop: 0.05,
                duplicate: 0.03,
                reorder: 0.02,
                corrupt: 0.01,
            },
            tx: FaultRates::default(),
        };
        let (got, c) = run(n, cfg);
        let near = |count: u64, p: f64, what: &str| {
            let expect = p * f64::from(n);
            assert!(
                (count as f64 - expect).abs() < 4.0 * expect.sqrt() + 5.0,
                "{what}: {count}, expected about {expect}"
            );
        };
        near(c.dropped, 0.05, "dropped");
        // Duplicates, reorders and corruptions are drawn only for frames
        // that were not dropped.
        near(c.duplicated, 0.03 * 0.95, "duplicated");
        near(c.reordered, 0.02 * 0.95, "reordered");
        near(c.corrupted, 0.01 * 0.95, "corrupted");
        assert_eq!(got.len() as u64, u64::from(n) - c.dropped + c.duplicated);
        // Every delivered frame is an original or differs from one in exactly one bit.
        let mut flipped = 0;
        let mut out_of_order = 0;
        let mut last = 0u32;
        for f in &got {
            let seq = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
            let orig = if seq < n { Some(frame(seq)) } else { None };
            let bits = orig.map(|o| {
                o.iter()
                    .zip(f)
                    .map(|(a, b)| (a ^ b).count_ones())
                    .sum::<u32>()
            });
            match bits {
                Some(0) => {}
                _ => {
                    flipped += 1;
                    continue;
                }
            }
            if seq < last {
                out_of_order += 1;
            }
            last = last.max(seq);
        }
        assert!(
            flipped as u64 <= c.corrupted * 2,
            "{flipped} corrupt frames"
        );
        assert!(flipped > 0 && out_of_order > 0);
    }

    #[test]
    fn tx_faults_apply_on_the_way_out() {
        let cfg = FaultConfig {
            seed: 3,
            rx: FaultRates::default(),
            tx: FaultRates {
                drop: 0.2,
                duplicate: 0.0,
                reorder: 0.0,
                corrupt: 0.0,
            },
        };
        let (a, mut b) = pair(64);
        let mut a = FaultNic::new(a, cfg);
        for seq in 0..1_000 {
            send_copy(&mut a, &frame(seq)).unwrap();
            a.tx_flush().unwrap();
            b.rx_burst(Nanos(0), 8, &mut |_, _| {});
        }
        let dropped = a.tx_faults().dropped;
        assert!((120..280).contains(&dropped), "{dropped}");
        assert_eq!(b.stats().rx_frames, 1_000 - dropped);
    }

    #[test]
    fn tx_reorder_swaps_neighbours() {
        let cfg = FaultConfig {
            seed: 1,
            rx: FaultRates::default(),
            tx: FaultRates {
                reorder: 1.0,
                ..FaultRates::default()
            },
        };
        let (a, mut b) = pair(64);
        let mut a = FaultNic::new(a, cfg);
        for seq in 0..4 {
            send_copy(&mut a, &frame(seq)).unwrap();
        }
        a.tx_flush().unwrap();
        let mut got = Vec::new();
        b.rx_burst(Nanos(0), 8, &mut |f, _| got.push(f[3]));
        assert_eq!(got, vec![1, 0, 3, 2]);
    }
}
