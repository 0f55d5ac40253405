//! A typed, bounded single-producer single-consumer ring: the hand-off
//! between the feed thread and the hot thread in split mode
//! (`engine.feed_core`).
//!
//! The same design as the memory NIC pair's rings ([`super::memory`]):
//! fixed-capacity slots allocated once by [`channel`], indexed by two
//! free-running counters (`head` written only by the consumer, `tail` only by
//! the producer, each on its own cache line), each side caching the other's
//! counter and reloading it only when the ring looks full (producer) or
//! empty (consumer). A value is written in place into its slot and published
//! with one release store; [`Consumer::drain`] lends each slot to the
//! callback and returns a whole batch with one release store. Nothing
//! allocates, locks or blocks after [`channel`]; nothing panics.

use crossbeam::utils::CachePadded;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

struct Ring<T> {
    /// Next slot the consumer reads (free-running; written by the consumer).
    head: CachePadded<AtomicU64>,
    /// Next slot the producer publishes (free-running; written by the producer).
    tail: CachePadded<AtomicU64>,
    mask: u64,
    slots: Box<[UnsafeCell<T>]>,
}

// SAFETY: a slot is written only by the single producer while it lies in
// [tail, head + capacity) (not yet published), and read only by the single
// consumer while it lies in [head, tail) (published, not yet returned). The
// release store of `tail` (resp. `head`) and the acquire load on the other
// side order the slot accesses, so no slot is accessed by both ends at once.
// `Producer` and `Consumer` are not `Clone`, so each end has one owner.
unsafe impl<T: Send> Sync for Ring<T> {}
// SAFETY: see above; the ring owns plain `T: Send` values and atomics.
unsafe impl<T: Send> Send for Ring<T> {}

impl<T> Ring<T> {
    fn capacity(&self) -> u64 {
        self.mask + 1
    }

    fn slot(&self, index: u64) -> Option<*mut T> {
        // `mask` is `len - 1` of a power-of-two length, so the index is in
        // bounds; `get` keeps the access panic-free regardless.
        self.slots
            .get((index & self.mask) as usize)
            .map(UnsafeCell::get)
    }
}

/// The producing end of a [`channel`].
pub struct Producer<T> {
    ring: Arc<Ring<T>>,
    /// Next slot to write (published up to `ring.tail`).
    next: u64,
    /// Cached `ring.head`, refreshed when the ring looks full.
    head_cache: u64,
}

/// The consuming end of a [`channel`].
pub struct Consumer<T> {
    ring: Arc<Ring<T>>,
    /// Next slot to read (returned up to `ring.head`).
    next: u64,
    /// Cached `ring.tail`, refreshed when the ring looks empty.
    tail_cache: u64,
}

/// A ring of `capacity` slots (rounded up to a power of two, at least 2),
/// each initialised to `init`; all memory is allocated here.
pub fn channel<T: Copy + Send>(capacity: usize, init: T) -> (Producer<T>, Consumer<T>) {
    let capacity = capacity.clamp(2, 1 << 24).next_power_of_two();
    let slots = (0..capacity)
        .map(|_| UnsafeCell::new(init))
        .collect::<Vec<_>>()
        .into_boxed_slice();
    let ring = Arc::new(Ring {
        head: CachePadded::new(AtomicU64::new(0)),
        tail: CachePadded::new(AtomicU64::new(0)),
        mask: capacity as u64 - 1,
        slots,
    });
    (
        Producer {
            ring: Arc::clone(&ring),
            next: 0,
            head_cache: 0,
        },
        Consumer {
            ring,
            next: 0,
            tail_cache: 0,
        },
    )
}

impl<T: Copy + Send> Producer<T> {
    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.ring.capacity() as usize
    }

    /// Slots free right now (reloads the consumer's position).
    pub fn free(&mut self) -> usize {
        self.head_cache = self.ring.head.load(Ordering::Acquire);
        (self.ring.capacity() - (self.next - self.head_cache)) as usize
    }

    /// Whether the consumer still exists.
    pub fn consumer_alive(&self) -> bool {
        Arc::strong_count(&self.ring) > 1
    }

    /// Lets `fill` write the next slot in place and publishes it; false (and
    /// `fill` not called) when the ring is full.
    #[inline]
    pub fn try_push_with(&mut self, fill: impl FnOnce(&mut T)) -> bool {
        let capacity = self.ring.capacity();
        if self.next - self.head_cache >= capacity {
            self.head_cache = self.ring.head.load(Ordering::Acquire);
            if self.next - self.head_cache >= capacity {
                return false;
            }
        }
        let Some(slot) = self.ring.slot(self.next) else {
            return false;
        };
        // SAFETY: the slot lies in [tail, head + capacity): returned by the
        // consumer (acquire load of `head`) and not yet published, so only
        // this end touches it until the release store of `tail` below.
        fill(unsafe { &mut *slot });
        self.next += 1;
        self.ring.tail.store(self.next, Ordering::Release);
        true
    }

    /// Publishes `value`; gives it back when the ring is full.
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), T> {
        if self.try_push_with(|slot| *slot = value) {
            Ok(())
        } else {
            Err(value)
        }
    }
}

impl<T: Copy + Send> Consumer<T> {
    /// Slots in the ring.
    pub fn capacity(&self) -> usize {
        self.ring.capacity() as usize
    }

    /// Values waiting right now (reloads the producer's position).
    pub fn len(&mut self) -> usize {
        self.tail_cache = self.ring.tail.load(Ordering::Acquire);
        (self.tail_cache - self.next) as usize
    }

    /// Whether nothing is waiting right now.
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Whether the producer still exists.
    pub fn producer_alive(&self) -> bool {
        Arc::strong_count(&self.ring) > 1
    }

    /// Lends up to `max` waiting values, oldest first, to `take` and returns
    /// their slots with one release store; returns how many it lent.
    #[inline]
    pub fn drain(&mut self, max: usize, mut take: impl FnMut(&T)) -> usize {
        if self.tail_cache - self.next < max as u64 {
            self.tail_cache = self.ring.tail.load(Ordering::Acquire);
        }
        let n = (self.tail_cache - self.next).min(max as u64);
        let mut done = 0;
        while done < n {
            let Some(slot) = self.ring.slot(self.next + done) else {
                break;
            };
            // SAFETY: the slot lies in [head, tail): published by the
            // producer (acquire load of `tail`) and not yet returned, so the
            // producer does not touch it until the release store of `head`.
            take(unsafe { &*slot });
            done += 1;
        }
        if done > 0 {
            self.next += done;
            self.ring.head.store(self.next, Ordering::Release);
        }
        done as usize
    }

    /// The oldest waiting value, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let mut out = None;
        self.drain(1, |v| out = Some(*v));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn fills_refuses_and_drains_in_order() {
        let (mut p, mut c) = channel(3, 0u64);
        assert_eq!((p.capacity(), c.capacity()), (4, 4));
        assert_eq!(c.pop(), None);
        for i in 0..4 {
            assert_eq!(p.try_push(i), Ok(()));
        }
        assert_eq!(p.try_push(9), Err(9));
        assert_eq!(p.free(), 0);
        assert_eq!(c.len(), 4);
        let mut got = Vec::new();
        assert_eq!(c.drain(3, |v| got.push(*v)), 3);
        assert_eq!(got, [0, 1, 2]);
        assert_eq!(p.free(), 3);
        assert!(p.try_push_with(|s| *s = 4));
        assert_eq!(c.pop(), Some(3));
        assert_eq!(c.pop(), Some(4));
        assert!(c.is_empty());
        assert!(p.consumer_alive() && c.producer_alive());
        drop(c);
        assert!(!p.consumer_alive());
    }

    /// Two threads: every value arrives once, in order, while the ring wraps
    /// many times; waits yield and are bounded.
    #[test]
    fn two_threads_every_value_in_order() {
        const N: u64 = 200_000;
        let (mut p, mut c) = channel(64, [0u64; 8]);
        let deadline = Instant::now() + Duration::from_secs(60);
        let producer = std::thread::spawn(move || {
            let mut i = 0;
            while i < N {
                assert!(Instant::now() < deadline, "producer stuck at {i}");
                if p.try_push([i; 8]).is_ok() {
                    i += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        });
        let mut next = 0;
        while next < N {
            assert!(Instant::now() < deadline, "consumer got {next} of {N}");
            let n = c.drain(32, |v| {
                assert_eq!(*v, [next; 8]);
                next += 1;
            });
            if n == 0 {
                std::thread::yield_now();
            }
        }
        producer.join().unwrap();
        assert!(c.is_empty());
    }
}
