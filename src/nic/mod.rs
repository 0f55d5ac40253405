//! NIC backends: move raw Ethernet frames, know nothing of protocols.
//!
//! A [`Nic`] lends received frames to a callback for the duration of the call
//! (zero-copy where the backend allows: the AF_PACKET ring, a DPDK mbuf) and
//! lets the caller write outgoing frames straight into a transmit slot.
//! Wrappers (pcap recorder, fault injector) stack on any backend.
//!
//! Guarantees: `rx_burst` and `tx_frame` never allocate after construction and
//! never block; a full transmit ring is [`NicError::TxFull`], not a wait.

/// Frames larger than this are neither sent nor received (standard MTU 1500 +
/// Ethernet header + one VLAN tag, rounded up).
pub const MAX_FRAME_LEN: usize = 1536;

use crate::time::Nanos;

/// Errors a backend reports.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NicError {
    /// No transmit slot is free right now; retry on a later duty cycle.
    #[error("transmit ring full")]
    TxFull,
    /// The frame is larger than the backend's slot.
    #[error("frame of {len} bytes exceeds the {max}-byte slot")]
    FrameTooLarge {
        /// Requested length.
        len: usize,
        /// The slot size.
        max: usize,
    },
    /// The peer of an in-memory pair is gone.
    #[error("link down")]
    LinkDown,
    /// An operating-system call failed (errno).
    #[error("{call} failed: {}", std::io::Error::from_raw_os_error(*errno))]
    Os {
        /// Which call.
        call: &'static str,
        /// errno.
        errno: i32,
    },
}

/// Counters every backend keeps; cheap to copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NicStats {
    /// Frames handed to the caller.
    pub rx_frames: u64,
    /// Bytes handed to the caller.
    pub rx_bytes: u64,
    /// Frames the backend dropped on receive (ring overrun, too large).
    pub rx_dropped: u64,
    /// Frames queued for transmit.
    pub tx_frames: u64,
    /// Bytes queued for transmit.
    pub tx_bytes: u64,
    /// Transmit attempts refused because the ring was full.
    pub tx_full: u64,
}

/// A network interface that moves raw Ethernet frames.
pub trait Nic {
    /// Hands up to `budget` received frames to `on_frame(frame, rx_ts)` and
    /// returns how many it handed. `now` is the duty cycle's time; a backend
    /// with a better per-frame timestamp uses that instead. The frame slice is
    /// valid only during the call.
    fn rx_burst(
        &mut self,
        now: Nanos,
        budget: usize,
        on_frame: &mut dyn FnMut(&[u8], Nanos),
    ) -> usize;

    /// Claims a transmit slot of `max_len` bytes, lets `fill` write the frame
    /// into it and return the frame's real length (0 abandons the slot), and
    /// queues it. The frame leaves at the latest on the next [`Nic::tx_flush`].
    fn tx_frame(
        &mut self,
        max_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<(), NicError>;

    /// Pushes queued frames to the wire (doorbell, `sendto` kick).
    fn tx_flush(&mut self) -> Result<(), NicError>;

    /// The interface's MAC address.
    fn mac(&self) -> [u8; 6];

    /// Counters so far.
    fn stats(&self) -> NicStats;
}

/// Copies `frame` into a transmit slot of `nic`: convenience for cold paths
/// and tests (the hot path writes into the slot directly).
pub fn send_copy(nic: &mut dyn Nic, frame: &[u8]) -> Result<(), NicError> {
    if frame.len() > MAX_FRAME_LEN {
        return Err(NicError::FrameTooLarge {
            len: frame.len(),
            max: MAX_FRAME_LEN,
        });
    }
    nic.tx_frame(frame.len(), &mut |slot: &mut [u8]| {
        slot[..frame.len()].copy_from_slice(frame);
        frame.len()
    })
}
