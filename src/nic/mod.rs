//! NIC backends: move raw Ethernet frames, know nothing of protocols.
//!
//! A [`Nic`] lends received frames to a callback for the duration of the call
//! (zero-copy where the backend allows: the AF_PACKET ring, a DPDK mbuf) and
//! lets the caller write outgoing frames straight into a transmit slot.
//! Wrappers (pcap recorder, fault injector) stack on any backend.
//!
//! Guarantees: `rx_burst`, `tx_frame` and `tx_flush` never allocate after
//! construction and never block; a full transmit ring is
//! [`NicError::TxFull`], not a wait. Every backend is `Send` so that it can be
//! built on one thread and moved to the pinned hot thread, and the trait is
//! object-safe: backends and wrappers stack behind `Box<dyn Nic>`.
//!
//! | backend | module | needs |
//! |---|---|---|
//! | in-process pair | [`memory`] | nothing |
//! | AF_PACKET TPACKET rings | [`af_packet`] | CAP_NET_RAW |
//! | DPDK ethdev | `dpdk` (cargo feature `dpdk`) | libdpdk, a port or vdev |
//! | pcap recorder (wrapper) | [`pcap`] | a writable file |
//! | fault injector (wrapper) | [`fault`] | nothing |
//!
//! [`spsc`] is the typed ring the split mode hands quotes over with.
//!
//! [`open`] builds the backend a [`NicConfig`](crate::config::NicConfig) names; [`veth`] creates the
//! network-namespace test hosts the kernel-backed tests run on.

pub mod af_packet;
#[cfg(feature = "dpdk")]
pub mod dpdk;
pub mod fault;
pub mod memory;
pub mod pcap;
pub mod spsc;
pub mod veth;

mod open;
pub use open::{group_mac, open, open_feed_from_config, open_from_config, OpenOptions};

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
    /// The backend could not be set up (bad configuration, missing
    /// interface, missing privilege, DPDK refused): cold path only.
    #[error("{0}")]
    Setup(String),
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
pub trait Nic: Send {
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

    /// A short name of the backend stack for logs (`"af_packet-v2"`,
    /// `"pcap"`, ...).
    fn name(&self) -> &'static str {
        "nic"
    }
}

impl<N: Nic + ?Sized> Nic for Box<N> {
    fn rx_burst(
        &mut self,
        now: Nanos,
        budget: usize,
        on_frame: &mut dyn FnMut(&[u8], Nanos),
    ) -> usize {
        (**self).rx_burst(now, budget, on_frame)
    }
    fn tx_frame(
        &mut self,
        max_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<(), NicError> {
        (**self).tx_frame(max_len, fill)
    }
    fn tx_flush(&mut self) -> Result<(), NicError> {
        (**self).tx_flush()
    }
    fn mac(&self) -> [u8; 6] {
        (**self).mac()
    }
    fn stats(&self) -> NicStats {
        (**self).stats()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
}

/// Builds a `NicError::Os` from the calling thread's `errno`.
pub(crate) fn os_error(call: &'static str) -> NicError {
    NicError::Os {
        call,
        errno: std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
    }
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
