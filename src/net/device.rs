//! The smoltcp [`Device`] adapter over a [`Nic`].
//!
//! Transmit tokens write straight into a NIC transmit slot (no copy). Receive
//! tokens hand out frames from a [`StackRing`]: a small preallocated ring of
//! frame buffers into which the frames the classifier gives to the stack
//! (ARP, IGMP, the order-entry TCP connection, re-request replies) are copied
//! during the NIC burst. Order-entry traffic is a few small frames per
//! message; market data never takes this path.
//!
//! Guarantees: nothing here allocates after [`StackRing::new`] or panics on
//! any frame. A transmit the NIC refuses (ring full after one flush) is
//! written into a scratch buffer and dropped, counted: smoltcp sees a lossy
//! link and its TCP retransmits.

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use crate::nic::{Nic, NicError, MAX_FRAME_LEN};

/// The largest IP packet the stack emits: a standard 1500-byte MTU.
pub const IP_MTU: usize = 1500;
/// The largest Ethernet frame the stack emits (header + [`IP_MTU`]).
pub const ETHERNET_MTU: usize = IP_MTU + 14;

const _: () = assert!(ETHERNET_MTU <= MAX_FRAME_LEN);

/// Counters of the adapter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceCounters {
    /// Frames queued for the stack.
    pub rx_queued: u64,
    /// Frames for the stack dropped because the ring was full.
    pub rx_ring_full: u64,
    /// Frames handed to smoltcp.
    pub rx_consumed: u64,
    /// Frames the stack transmitted through a NIC slot.
    pub tx_frames: u64,
    /// Frames the stack wanted to send that the NIC refused (dropped).
    pub tx_dropped: u64,
}

/// A fixed ring of frame buffers between the NIC burst and smoltcp's ingress.
pub struct StackRing {
    frames: Box<[[u8; MAX_FRAME_LEN]]>,
    lens: Box<[u16]>,
    head: usize,
    len: usize,
}

impl StackRing {
    /// A ring of `capacity` (at least 1) frames of up to [`MAX_FRAME_LEN`]
    /// bytes, allocated here once.
    pub fn new(capacity: usize) -> StackRing {
        let capacity = capacity.max(1);
        StackRing {
            frames: vec![[0u8; MAX_FRAME_LEN]; capacity].into_boxed_slice(),
            lens: vec![0u16; capacity].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    /// Frames it holds at most.
    pub fn capacity(&self) -> usize {
        self.frames.len()
    }

    /// Frames waiting for smoltcp.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no frame waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `frame` in; false (nothing copied) when the ring is full or the
    /// frame is longer than a slot.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        let cap = self.frames.len();
        if self.len == cap || frame.len() > MAX_FRAME_LEN {
            return false;
        }
        let idx = (self.head + self.len) % cap;
        let (Some(slot), Some(len)) = (self.frames.get_mut(idx), self.lens.get_mut(idx)) else {
            return false;
        };
        if let Some(dst) = slot.get_mut(..frame.len()) {
            dst.copy_from_slice(frame);
        }
        *len = frame.len() as u16;
        self.len += 1;
        true
    }

    /// Writes a frame of up to [`MAX_FRAME_LEN`] bytes in place with `fill`
    /// (which returns its length; 0 abandons it); false when full.
    pub fn push_with(&mut self, fill: impl FnOnce(&mut [u8]) -> usize) -> bool {
        let cap = self.frames.len();
        if self.len == cap {
            return false;
        }
        let idx = (self.head + self.len) % cap;
        let (Some(slot), Some(len)) = (self.frames.get_mut(idx), self.lens.get_mut(idx)) else {
            return false;
        };
        let n = fill(&mut slot[..]).min(MAX_FRAME_LEN);
        if n == 0 {
            return false;
        }
        *len = n as u16;
        self.len += 1;
        true
    }

    /// The oldest frame.
    pub fn front(&self) -> Option<&[u8]> {
        if self.len == 0 {
            return None;
        }
        let len = usize::from(*self.lens.get(self.head)?);
        self.frames.get(self.head)?.get(..len)
    }

    /// Drops the oldest frame.
    pub fn pop(&mut self) {
        if self.len > 0 {
            self.head = (self.head + 1) % self.frames.len();
            self.len -= 1;
        }
    }
}

/// The adapter smoltcp polls: borrows the NIC, the ring and a scratch frame
/// for one call into the interface.
pub struct NicDevice<'a> {
    nic: &'a mut dyn Nic,
    ring: &'a mut StackRing,
    scratch: &'a mut [u8; MAX_FRAME_LEN],
    counters: &'a mut DeviceCounters,
}

impl<'a> NicDevice<'a> {
    /// An adapter over `nic`, taking received frames from `ring`.
    pub fn new(
        nic: &'a mut dyn Nic,
        ring: &'a mut StackRing,
        scratch: &'a mut [u8; MAX_FRAME_LEN],
        counters: &'a mut DeviceCounters,
    ) -> NicDevice<'a> {
        NicDevice {
            nic,
            ring,
            scratch,
            counters,
        }
    }

    /// The capabilities the adapter reports: Ethernet, 1514-byte frames,
    /// every checksum computed and verified in software, one frame per burst
    /// hint left open.
    pub fn caps() -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = ETHERNET_MTU;
        caps
    }
}

impl Device for NicDevice<'_> {
    type RxToken<'b>
        = RxToken<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = TxToken<'b>
    where
        Self: 'b;

    fn receive(&mut self, _timestamp: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        if self.ring.is_empty() {
            return None;
        }
        Some((
            RxToken {
                ring: &mut *self.ring,
                consumed: &mut self.counters.rx_consumed,
            },
            TxToken {
                nic: &mut *self.nic,
                scratch: &mut *self.scratch,
                tx_frames: &mut self.counters.tx_frames,
                tx_dropped: &mut self.counters.tx_dropped,
            },
        ))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<TxToken<'_>> {
        Some(TxToken {
            nic: &mut *self.nic,
            scratch: &mut *self.scratch,
            tx_frames: &mut self.counters.tx_frames,
            tx_dropped: &mut self.counters.tx_dropped,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        NicDevice::caps()
    }
}

/// Lends the oldest ring frame to smoltcp, then drops it from the ring.
pub struct RxToken<'a> {
    ring: &'a mut StackRing,
    consumed: &'a mut u64,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        *self.consumed += 1;
        let r = f(self.ring.front().unwrap_or(&[]));
        self.ring.pop();
        r
    }
}

/// Lets smoltcp write one frame straight into a NIC transmit slot.
pub struct TxToken<'a> {
    nic: &'a mut dyn Nic,
    scratch: &'a mut [u8; MAX_FRAME_LEN],
    tx_frames: &'a mut u64,
    tx_dropped: &'a mut u64,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut f = Some(f);
        let mut result = None;
        let sent = {
            let mut attempt = |nic: &mut dyn Nic| {
                nic.tx_frame(len, &mut |slot: &mut [u8]| match slot.get_mut(..len) {
                    Some(buf) => match f.take() {
                        Some(f) => {
                            result = Some(f(buf));
                            len
                        }
                        None => 0,
                    },
                    None => 0,
                })
            };
            let mut sent = attempt(&mut *self.nic);
            if sent == Err(NicError::TxFull) {
                // One kick to free slots, then one more try; never a wait.
                let _ = self.nic.tx_flush();
                sent = attempt(&mut *self.nic);
            }
            sent
        };
        match (result, f) {
            (Some(r), _) if sent.is_ok() => {
                *self.tx_frames += 1;
                r
            }
            (Some(r), _) => {
                *self.tx_dropped += 1;
                r
            }
            (None, Some(f)) => {
                // The NIC refused the frame: let smoltcp write it where it
                // goes nowhere, as if the wire lost it.
                *self.tx_dropped += 1;
                let n = len.min(MAX_FRAME_LEN);
                f(&mut self.scratch[..n])
            }
            // `f` is taken exactly when a result is stored.
            (None, None) => unreachable!("transmit closure ran without a result"),
        }
    }
}
