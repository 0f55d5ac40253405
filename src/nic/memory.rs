//! The in-process NIC pair: two fixed-capacity rings of fixed-size slots, one
//! per direction, allocated once by [`pair`].
//!
//! Each direction is a single-producer single-consumer ring indexed by two
//! atomics (`head` written only by the receiver, `tail` only by the sender,
//! each on its own cache line). Frames are written straight into the slot by
//! [`Nic::tx_frame`] and published to the peer by [`Nic::tx_flush`] (one
//! release store per burst, like a doorbell); [`Nic::rx_burst`] lends the
//! slot itself to the callback and returns the slots with one release store
//! per burst. Nothing allocates or locks after [`pair`]; nothing panics. The
//! two ends may live on two threads or on one (deterministic simulation steps
//! both on the same thread).

use super::{Nic, NicError, NicStats, MAX_FRAME_LEN};
use crate::time::Nanos;
use crossbeam::utils::CachePadded;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// One slot: a frame's length and bytes, on a cache-line boundary (a
/// frame of up to 120 bytes then spans two lines, not three: the receiver's
/// core pulls each line over from the sender's).
#[repr(C, align(64))]
struct Slot {
    len: usize,
    bytes: [u8; MAX_FRAME_LEN],
}

/// One direction of the pair.
struct Ring {
    /// Next slot the receiver reads (free-running; written by the receiver).
    head: CachePadded<AtomicU64>,
    /// Next slot the second receiver reads, on a fan-out ring
    /// ([`fanout_with_macs`]); `u64::MAX` once that receiver is gone.
    head2: CachePadded<AtomicU64>,
    /// Whether `head2` has a receiver (the sender waits for the slower one).
    fanout: bool,
    /// Next slot the sender publishes (free-running; written by the sender).
    tail: CachePadded<AtomicU64>,
    mask: u64,
    slots: Box<[UnsafeCell<Slot>]>,
}

// SAFETY: a slot is written only by the single sender while it lies between
// `tail` and `head + capacity` (not yet published), and read only by the
// single receiver while it lies between `head` and `tail` (published, not yet
// returned); on a fan-out ring each of the two receivers reads the slot
// between its own head and `tail`, and the sender waits for the smaller
// head, so it writes no slot either receiver has yet to read. The release store of `tail` (resp. `head`) and the acquire load
// on the other side order the slot accesses, so no slot is ever accessed by
// both ends at once. `MemoryNic` is not `Clone`, so each end has one owner.
unsafe impl Sync for Ring {}
// SAFETY: see above; the ring holds plain bytes and atomics.
unsafe impl Send for Ring {}

impl Ring {
    fn new(capacity: usize, fanout: bool) -> Ring {
        let slots = (0..capacity)
            .map(|_| {
                UnsafeCell::new(Slot {
                    len: 0,
                    bytes: [0; MAX_FRAME_LEN],
                })
            })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Ring {
            head: CachePadded::new(AtomicU64::new(0)),
            head2: CachePadded::new(AtomicU64::new(0)),
            fanout,
            tail: CachePadded::new(AtomicU64::new(0)),
            mask: capacity as u64 - 1,
            slots,
        }
    }

    fn capacity(&self) -> u64 {
        self.mask + 1
    }

    /// The slowest receiver's head (the sender may reuse slots below it).
    #[inline]
    fn min_head(&self) -> u64 {
        let head = self.head.load(Ordering::Acquire);
        if self.fanout {
            head.min(self.head2.load(Ordering::Acquire))
        } else {
            head
        }
    }

    /// The head receiver `second` advances.
    #[inline]
    fn head_of(&self, second: bool) -> &AtomicU64 {
        if second {
            &self.head2
        } else {
            &self.head
        }
    }

    fn slot(&self, index: u64) -> *mut Slot {
        // `mask` is `len - 1` of a power-of-two length, so the index is in
        // bounds; `get` keeps the access panic-free regardless.
        match self.slots.get((index & self.mask) as usize) {
            Some(cell) => cell.get(),
            None => std::ptr::null_mut(),
        }
    }
}

/// One end of an in-process NIC pair; see the module docs.
pub struct MemoryNic {
    tx: Arc<Ring>,
    rx: Arc<Ring>,
    /// Sender side: next slot to fill (published up to `tx.tail`).
    tx_next: u64,
    /// Sender side: cached `tx.head`, refreshed when the ring looks full.
    tx_head_cache: u64,
    /// Receiver side: cached `rx.tail`, refreshed when the ring looks empty.
    rx_tail_cache: u64,
    /// Receiver side: next slot to read (returned up to `rx.head`).
    rx_next: u64,
    /// Receiver side: this end is the second receiver of a fan-out ring
    /// (it advances `rx.head2`).
    rx_second: bool,
    mac: [u8; 6],
    stats: NicStats,
}

/// The MAC of end `a` of a [`pair`] (locally administered).
pub const MAC_A: [u8; 6] = [0x02, 0x00, 0xc6, 0x12, 0x00, 0x0a];
/// The MAC of end `b` of a [`pair`] (locally administered).
pub const MAC_B: [u8; 6] = [0x02, 0x00, 0xc6, 0x12, 0x00, 0x0b];

/// Makes a connected pair: what `a` sends, `b` receives and vice versa. Each
/// direction holds `cap_frames` frames (rounded up to a power of two, at
/// least 2) of up to [`MAX_FRAME_LEN`] bytes; all memory is allocated here.
pub fn pair(cap_frames: usize) -> (MemoryNic, MemoryNic) {
    pair_with_macs(cap_frames, MAC_A, MAC_B)
}

/// [`pair`] with the MACs each end reports from [`Nic::mac`].
pub fn pair_with_macs(cap_frames: usize, mac_a: [u8; 6], mac_b: [u8; 6]) -> (MemoryNic, MemoryNic) {
    let capacity = cap_frames.clamp(2, 1 << 24).next_power_of_two();
    let ab = Arc::new(Ring::new(capacity, false));
    let ba = Arc::new(Ring::new(capacity, false));
    let a = end(&ab, &ba, false, mac_a);
    let b = end(&ba, &ab, false, mac_b);
    (a, b)
}

fn end(tx: &Arc<Ring>, rx: &Arc<Ring>, rx_second: bool, mac: [u8; 6]) -> MemoryNic {
    MemoryNic {
        tx: Arc::clone(tx),
        rx: Arc::clone(rx),
        tx_next: 0,
        tx_head_cache: 0,
        rx_tail_cache: 0,
        rx_next: 0,
        rx_second,
        mac,
        stats: NicStats::default(),
    }
}

/// A pair whose `b → a` direction fans out: every frame `b` sends reaches
/// both `a` and the third end, `a2` (returned last), as the kernel hands
/// every frame to each packet socket on an interface. `a2` only receives
/// (what it sends is [`NicError::LinkDown`]: nobody reads it); it is the
/// feed thread's handle in split mode (`engine.feed_core`). `b` waits for
/// the slower of `a` and `a2`; an end that is dropped stops holding it back.
pub fn fanout_with_macs(
    cap_frames: usize,
    mac_a: [u8; 6],
    mac_b: [u8; 6],
) -> (MemoryNic, MemoryNic, MemoryNic) {
    let capacity = cap_frames.clamp(2, 1 << 24).next_power_of_two();
    let ab = Arc::new(Ring::new(capacity, false));
    let ba = Arc::new(Ring::new(capacity, true));
    let nobody = Arc::new(Ring::new(2, false));
    let a = end(&ab, &ba, false, mac_a);
    let b = end(&ba, &ab, false, mac_b);
    let a2 = end(&nobody, &ba, true, mac_a);
    (a, b, a2)
}

impl MemoryNic {
    /// Frames each direction holds.
    pub fn capacity(&self) -> usize {
        self.tx.capacity() as usize
    }

    /// Whether the other end still exists.
    pub fn peer_alive(&self) -> bool {
        Arc::strong_count(&self.tx) > 1
    }

    /// Frames written by [`Nic::tx_frame`] but not yet published by
    /// [`Nic::tx_flush`].
    pub fn tx_pending(&self) -> usize {
        (self.tx_next - self.tx.tail.load(Ordering::Relaxed)) as usize
    }
}

impl Nic for MemoryNic {
    fn rx_burst(
        &mut self,
        now: Nanos,
        budget: usize,
        on_frame: &mut dyn FnMut(&[u8], Nanos),
    ) -> usize {
        if self.rx_tail_cache - self.rx_next < budget as u64 {
            self.rx_tail_cache = self.rx.tail.load(Ordering::Acquire);
        }
        let available = self.rx_tail_cache - self.rx_next;
        let n = available.min(budget as u64);
        for i in 0..n {
            let slot = self.rx.slot(self.rx_next + i);
            if slot.is_null() {
                break;
            }
            // SAFETY: the slot lies in [head, tail): published by the sender
            // (acquire load of `tail` above) and not yet returned, so the
            // sender does not touch it until our release store of `head`.
            let slot = unsafe { &*slot };
            let frame = slot.bytes.get(..slot.len).unwrap_or(&[]);
            self.stats.rx_frames += 1;
            self.stats.rx_bytes += frame.len() as u64;
            on_frame(frame, now);
        }
        self.rx_next += n;
        if n > 0 {
            self.rx
                .head_of(self.rx_second)
                .store(self.rx_next, Ordering::Release);
        }
        n as usize
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
        if !self.peer_alive() {
            return Err(NicError::LinkDown);
        }
        let capacity = self.tx.capacity();
        if self.tx_next.wrapping_sub(self.tx_head_cache) >= capacity {
            self.tx_head_cache = self.tx.min_head();
            if self.tx_next.wrapping_sub(self.tx_head_cache) >= capacity {
                self.stats.tx_full += 1;
                return Err(NicError::TxFull);
            }
        }
        let slot = self.tx.slot(self.tx_next);
        if slot.is_null() {
            return Err(NicError::TxFull);
        }
        // SAFETY: the slot lies in [tail, head + capacity): returned by the
        // receiver (acquire load of `head`) and not yet published, so only
        // this end touches it until the release store of `tail`.
        let slot = unsafe { &mut *slot };
        let len = fill(&mut slot.bytes[..max_len]);
        if len == 0 {
            return Ok(());
        }
        if len > max_len {
            return Err(NicError::FrameTooLarge { len, max: max_len });
        }
        slot.len = len;
        self.tx_next += 1;
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += len as u64;
        Ok(())
    }

    fn tx_flush(&mut self) -> Result<(), NicError> {
        if self.tx.tail.load(Ordering::Relaxed) != self.tx_next {
            self.tx.tail.store(self.tx_next, Ordering::Release);
        }
        Ok(())
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn stats(&self) -> NicStats {
        self.stats
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

impl Drop for MemoryNic {
    fn drop(&mut self) {
        if self.rx.fanout {
            // A fan-out receiver that is gone no longer holds the sender
            // back (the other receiver's head still does).
            self.rx
                .head_of(self.rx_second)
                .store(u64::MAX, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::send_copy;
    use std::time::{Duration, Instant};

    fn frame(seq: u32) -> Vec<u8> {
        let len = 60 + (seq as usize * 7) % 1400;
        (0..len)
            .map(|i| (seq as usize).wrapping_mul(31).wrapping_add(i) as u8)
            .collect()
    }

    fn drain(nic: &mut MemoryNic, out: &mut Vec<Vec<u8>>) -> usize {
        nic.rx_burst(Nanos(7), 32, &mut |f, ts| {
            assert_eq!(ts, Nanos(7));
            out.push(f.to_vec());
        })
    }

    #[test]
    fn single_thread_round_trip_both_directions() {
        let (mut a, mut b) = pair(8);
        assert_eq!(a.capacity(), 8);
        assert_eq!((a.mac(), b.mac()), (MAC_A, MAC_B));
        for seq in 0..5 {
            send_copy(&mut a, &frame(seq)).unwrap();
        }
        let mut got = Vec::new();
        // Nothing is visible before the flush.
        assert_eq!(drain(&mut b, &mut got), 0);
        assert_eq!(a.tx_pending(), 5);
        a.tx_flush().unwrap();
        assert_eq!(drain(&mut b, &mut got), 5);
        assert_eq!(got, (0..5).map(frame).collect::<Vec<_>>());
        send_copy(&mut b, &frame(99)).unwrap();
        b.tx_flush().unwrap();
        got.clear();
        assert_eq!(drain(&mut a, &mut got), 1);
        assert_eq!(got, vec![frame(99)]);
        let s = a.stats();
        assert_eq!((s.tx_frames, s.rx_frames), (5, 1));
        assert_eq!(s.rx_bytes, frame(99).len() as u64);
    }

    #[test]
    fn full_ring_refuses_then_recovers() {
        let (mut a, mut b) = pair(4);
        for seq in 0..4 {
            send_copy(&mut a, &frame(seq)).unwrap();
        }
        assert_eq!(send_copy(&mut a, &frame(4)), Err(NicError::TxFull));
        assert_eq!(a.stats().tx_full, 1);
        a.tx_flush().unwrap();
        let mut got = Vec::new();
        // A budget smaller than what is queued leaves the rest for later.
        assert_eq!(b.rx_burst(Nanos(0), 3, &mut |f, _| got.push(f.to_vec())), 3);
        send_copy(&mut a, &frame(4)).unwrap();
        a.tx_flush().unwrap();
        assert_eq!(drain(&mut b, &mut got), 2);
        assert_eq!(got, (0..5).map(frame).collect::<Vec<_>>());
    }

    #[test]
    fn abandoned_and_oversized_slots() {
        let (mut a, mut b) = pair(4);
        a.tx_frame(100, &mut |_| 0).unwrap();
        assert_eq!(
            a.tx_frame(MAX_FRAME_LEN + 1, &mut |_| 1),
            Err(NicError::FrameTooLarge {
                len: MAX_FRAME_LEN + 1,
                max: MAX_FRAME_LEN
            })
        );
        assert_eq!(
            a.tx_frame(10, &mut |_| 11),
            Err(NicError::FrameTooLarge { len: 11, max: 10 })
        );
        a.tx_flush().unwrap();
        assert_eq!(drain(&mut b, &mut Vec::new()), 0);
        assert_eq!(a.stats().tx_frames, 0);
    }

    #[test]
    fn dropped_peer_is_link_down() {
        let (mut a, b) = pair(4);
        drop(b);
        assert!(!a.peer_alive());
        assert_eq!(send_copy(&mut a, &frame(0)), Err(NicError::LinkDown));
    }

    /// Two threads, each end on its own: every frame arrives once, in order,
    /// with its content, while the ring wraps many times. Waits are bounded
    /// and yield, so a descheduled peer cannot hang the test.
    #[test]
    fn two_threads_every_frame_in_order() {
        const FRAMES: u32 = 20_000;
        let (mut a, mut b) = pair(64);
        let deadline = Instant::now() + Duration::from_secs(30);
        let sender = std::thread::spawn(move || {
            let mut seq = 0;
            while seq < FRAMES {
                assert!(Instant::now() < deadline, "sender stuck at {seq}");
                match send_copy(&mut a, &frame(seq)) {
                    Ok(()) => seq += 1,
                    Err(NicError::TxFull) => {
                        a.tx_flush().unwrap();
                        std::thread::yield_now();
                    }
                    Err(e) => panic!("send: {e}"),
                }
                if seq % 16 == 0 {
                    a.tx_flush().unwrap();
                }
            }
            a.tx_flush().unwrap();
            a
        });
        let mut next = 0u32;
        while next < FRAMES {
            assert!(
                Instant::now() < deadline,
                "receiver got {next} of {FRAMES} frames"
            );
            let n = b.rx_burst(Nanos(0), 32, &mut |f, _| {
                assert_eq!(f, &frame(next)[..], "frame {next}");
                next += 1;
            });
            if n == 0 {
                std::thread::yield_now();
            }
        }
        let a = sender.join().unwrap();
        assert_eq!(a.stats().tx_frames, u64::from(FRAMES));
        assert_eq!(b.stats().rx_frames, u64::from(FRAMES));
    }

    #[test]
    fn fanout_reaches_both_receivers_and_waits_for_the_slower() {
        let (mut a, mut b, mut a2) = fanout_with_macs(4, MAC_A, MAC_B);
        assert_eq!(a2.mac(), MAC_A);
        for seq in 0..4 {
            send_copy(&mut b, &frame(seq)).unwrap();
        }
        b.tx_flush().unwrap();
        let (mut got_a, mut got_a2) = (Vec::new(), Vec::new());
        assert_eq!(drain(&mut a, &mut got_a), 4);
        // `a2` has read nothing yet: the ring is still full for `b`.
        assert_eq!(send_copy(&mut b, &frame(4)), Err(NicError::TxFull));
        assert_eq!(
            a2.rx_burst(Nanos(7), 2, &mut |f, _| got_a2.push(f.to_vec())),
            2
        );
        send_copy(&mut b, &frame(4)).unwrap();
        send_copy(&mut b, &frame(5)).unwrap();
        b.tx_flush().unwrap();
        assert_eq!(drain(&mut a2, &mut got_a2), 4);
        assert_eq!(drain(&mut a, &mut got_a), 2);
        assert_eq!(got_a, (0..6).map(frame).collect::<Vec<_>>());
        assert_eq!(got_a, got_a2);
        // What `a` sends reaches `b` only; `a2` cannot send.
        send_copy(&mut a, &frame(9)).unwrap();
        a.tx_flush().unwrap();
        let mut got_b = Vec::new();
        assert_eq!(drain(&mut b, &mut got_b), 1);
        assert_eq!(send_copy(&mut a2, &frame(9)), Err(NicError::LinkDown));
        // A dropped receiver stops holding the sender back.
        drop(a2);
        for seq in 0..4 {
            send_copy(&mut b, &frame(seq)).unwrap();
        }
        b.tx_flush().unwrap();
        assert_eq!(drain(&mut a, &mut Vec::new()), 4);
        send_copy(&mut b, &frame(4)).unwrap();
    }
}
