//! AF_PACKET backend: mmap'd TPACKET rx and tx rings on one raw socket.
//!
//! - **rx**: a `PACKET_RX_RING` in TPACKET_V2 (one frame per slot, handed to
//!   user space as soon as the kernel has written it) or TPACKET_V3 (frames
//!   packed into blocks, a block handed over when full or after the block
//!   timeout). [`Nic::rx_burst`] only reads the ring's status words: no
//!   `poll(2)`, no `recv`, no syscall per frame.
//! - **tx**: a `PACKET_TX_RING` with `PACKET_QDISC_BYPASS`: [`Nic::tx_frame`]
//!   writes the frame into the next free slot and marks it, [`Nic::tx_flush`]
//!   kicks the kernel with one `sendto(MSG_DONTWAIT)` per burst.
//! - floe owns its own MAC on the interface, so the socket puts the interface
//!   in promiscuous mode (released when the socket closes) and can join
//!   multicast group MACs; frames this socket sent never come back as
//!   received (`PACKET_IGNORE_OUTGOING`, or a filter on the packet type on
//!   kernels without it).
//! - Receive timestamps: [`RxTimestamp::Kernel`] (the default) maps the
//!   ring's per-frame kernel timestamp (CLOCK_REALTIME, written by the kernel
//!   whether read or not) onto the caller's `now` time line with one vDSO
//!   `clock_gettime` per non-empty burst; [`RxTimestamp::Poll`] hands `now`.
//!
//! Needs CAP_NET_RAW (plus CAP_NET_ADMIN for promiscuous mode). Nothing
//! allocates after [`AfPacketNic::open`]; malformed ring entries are counted
//! and skipped, never a panic.

use super::{os_error, Nic, NicError, NicStats, MAX_FRAME_LEN};
use crate::config::TpacketVersion;
use crate::time::Nanos;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

/// Bytes of one ring frame (rx V2 slots, tx slots): header, `sockaddr_ll`,
/// alignment and a [`MAX_FRAME_LEN`] frame fit.
const FRAME_SIZE: usize = 2048;
/// Bytes of one V2 rx block / tx block (16 frames).
const V2_BLOCK_SIZE: usize = 1 << 15;
/// Bytes of one V3 rx block.
const V3_BLOCK_SIZE: usize = 1 << 16;
/// `TPACKET_ALIGN(sizeof(struct tpacket2_hdr))`: where the `sockaddr_ll`
/// follows a V2 header, and where tx frame data starts.
const V2_HDR_ALIGNED: usize = 32;
/// `TPACKET_ALIGN(sizeof(struct tpacket3_hdr))`.
const V3_HDR_ALIGNED: usize = 48;
/// Offset of `sll_pkttype` in `struct sockaddr_ll`.
const SLL_PKTTYPE_OFFSET: usize = 10;

const _: () = assert!(std::mem::size_of::<libc::tpacket2_hdr>() == 32);
const _: () = assert!(std::mem::size_of::<libc::tpacket3_hdr>() == 48);
const _: () = assert!(V2_HDR_ALIGNED + 20 + 16 + MAX_FRAME_LEN <= FRAME_SIZE);

/// Where the receive timestamp handed with each frame comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RxTimestamp {
    /// The kernel's per-frame timestamp, mapped onto the caller's time line.
    #[default]
    Kernel,
    /// The duty cycle's `now`.
    Poll,
}

/// Settings of an [`AfPacketNic`].
#[derive(Clone, Debug)]
pub struct AfPacketConfig {
    /// Interface to bind to.
    pub interface: String,
    /// TPACKET version of the rx ring (the tx ring uses the same).
    pub version: TpacketVersion,
    /// Frames the rx ring holds at least (V3: full-size frames), and frames
    /// in the tx ring.
    pub ring_frames: u32,
    /// V3 only: the kernel hands a partly filled block over after this many
    /// milliseconds (1 is the shortest the kernel takes).
    pub block_timeout_ms: u32,
    /// Receive every frame on the wire (needed when floe's MAC is not the
    /// interface's own).
    pub promiscuous: bool,
    /// Multicast MACs to join (needed when not promiscuous).
    pub multicast: Vec<[u8; 6]>,
    /// Send past the qdisc layer (`PACKET_QDISC_BYPASS`).
    pub qdisc_bypass: bool,
    /// Source of the receive timestamp.
    pub timestamp: RxTimestamp,
}

impl AfPacketConfig {
    /// Defaults for `interface`: V2, 1024 frames, promiscuous, qdisc bypass,
    /// kernel timestamps, 1 ms V3 block timeout.
    pub fn new(interface: &str) -> AfPacketConfig {
        AfPacketConfig {
            interface: interface.to_string(),
            version: TpacketVersion::V2,
            ring_frames: 1024,
            block_timeout_ms: 1,
            promiscuous: true,
            multicast: Vec::new(),
            qdisc_bypass: true,
            timestamp: RxTimestamp::Kernel,
        }
    }

    /// The same with another TPACKET version.
    pub fn with_version(mut self, version: TpacketVersion) -> AfPacketConfig {
        self.version = version;
        self
    }
}

/// The rx ring's read state.
enum RxRing {
    V2 {
        /// Frames in the ring.
        frames: usize,
        /// Next frame to read.
        next: usize,
    },
    V3 {
        /// Blocks in the ring.
        blocks: usize,
        /// Block being read or next to read.
        block: usize,
        /// Packets left in the open block (0 = no block open).
        remaining: u32,
        /// Offset of the next packet from the block start.
        offset: usize,
    },
}

/// An AF_PACKET socket with mmap'd rx and tx rings; see the module docs.
pub struct AfPacketNic {
    fd: OwnedFd,
    map: *mut u8,
    map_len: usize,
    rx_len: usize,
    rx: RxRing,
    tx_frames: usize,
    tx_next: usize,
    tx_pending: u32,
    v3: bool,
    filter_outgoing: bool,
    timestamp: RxTimestamp,
    mac: [u8; 6],
    ifindex: i32,
    stats: NicStats,
    kernel_drops: std::cell::Cell<u64>,
}

// SAFETY: the mapping is owned by this value alone (no other handle to it
// exists in the process) and is only touched through `&mut self`, so moving
// the whole value to another thread is sound. It is not `Sync` (`Cell`).
unsafe impl Send for AfPacketNic {}

fn setsockopt<T>(
    fd: RawFd,
    level: i32,
    name: i32,
    value: &T,
    call: &'static str,
) -> Result<(), NicError> {
    // SAFETY: `value` points to a live `T` of `size_of::<T>()` bytes for the
    // duration of the call; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(os_error(call))
    }
}

fn setup(what: &str, e: NicError) -> NicError {
    NicError::Setup(format!("af_packet: {what}: {e}"))
}

impl AfPacketNic {
    /// Opens the socket, maps the rings and binds to the interface.
    pub fn open(cfg: &AfPacketConfig) -> Result<AfPacketNic, NicError> {
        let name = CString::new(cfg.interface.as_str())
            .map_err(|_| NicError::Setup("af_packet: interface name has a NUL".into()))?;
        // SAFETY: `name` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) } as i32;
        if ifindex == 0 {
            return Err(NicError::Setup(format!(
                "af_packet: no interface {:?} in this network namespace",
                cfg.interface
            )));
        }
        // Protocol 0: the socket receives nothing until `bind` below, so no
        // frame of another interface lands in the ring first.
        // SAFETY: plain syscall with constant arguments.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            let e = os_error("socket(AF_PACKET)");
            return Err(NicError::Setup(format!(
                "af_packet: {e} (needs CAP_NET_RAW: run as root)"
            )));
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let s = fd.as_raw_fd();
        let v3 = cfg.version == TpacketVersion::V3;
        let version: libc::c_int = if v3 {
            libc::tpacket_versions::TPACKET_V3 as libc::c_int
        } else {
            libc::tpacket_versions::TPACKET_V2 as libc::c_int
        };
        setsockopt(
            s,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &version,
            "PACKET_VERSION",
        )
        .map_err(|e| setup("set version", e))?;
        let one: libc::c_int = 1;
        let filter_outgoing = setsockopt(
            s,
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            &one,
            "PACKET_IGNORE_OUTGOING",
        )
        .is_err();
        if cfg.qdisc_bypass {
            setsockopt(
                s,
                libc::SOL_PACKET,
                libc::PACKET_QDISC_BYPASS,
                &one,
                "PACKET_QDISC_BYPASS",
            )
            .map_err(|e| setup("qdisc bypass", e))?;
        }
        // A malformed tx frame is discarded instead of stopping the ring.
        setsockopt(s, libc::SOL_PACKET, libc::PACKET_LOSS, &one, "PACKET_LOSS")
            .map_err(|e| setup("packet loss", e))?;

        let ring_frames =
            (cfg.ring_frames.max(16) as usize).next_multiple_of(V2_BLOCK_SIZE / FRAME_SIZE);
        let (rx_len, rx) = if v3 {
            let blocks = (ring_frames * FRAME_SIZE).div_ceil(V3_BLOCK_SIZE).max(4);
            let req = libc::tpacket_req3 {
                tp_block_size: V3_BLOCK_SIZE as u32,
                tp_block_nr: blocks as u32,
                tp_frame_size: FRAME_SIZE as u32,
                tp_frame_nr: (blocks * V3_BLOCK_SIZE / FRAME_SIZE) as u32,
                tp_retire_blk_tov: cfg.block_timeout_ms.max(1),
                tp_sizeof_priv: 0,
                tp_feature_req_word: 0,
            };
            setsockopt(
                s,
                libc::SOL_PACKET,
                libc::PACKET_RX_RING,
                &req,
                "PACKET_RX_RING",
            )
            .map_err(|e| setup("rx ring", e))?;
            (
                blocks * V3_BLOCK_SIZE,
                RxRing::V3 {
                    blocks,
                    block: 0,
                    remaining: 0,
                    offset: 0,
                },
            )
        } else {
            let req = libc::tpacket_req {
                tp_block_size: V2_BLOCK_SIZE as u32,
                tp_block_nr: (ring_frames * FRAME_SIZE / V2_BLOCK_SIZE) as u32,
                tp_frame_size: FRAME_SIZE as u32,
                tp_frame_nr: ring_frames as u32,
            };
            setsockopt(
                s,
                libc::SOL_PACKET,
                libc::PACKET_RX_RING,
                &req,
                "PACKET_RX_RING",
            )
            .map_err(|e| setup("rx ring", e))?;
            (
                ring_frames * FRAME_SIZE,
                RxRing::V2 {
                    frames: ring_frames,
                    next: 0,
                },
            )
        };
        let tx_frames = ring_frames;
        let tx_len = tx_frames * FRAME_SIZE;
        let tx_block_nr = (tx_len / V2_BLOCK_SIZE) as u32;
        if v3 {
            let req = libc::tpacket_req3 {
                tp_block_size: V2_BLOCK_SIZE as u32,
                tp_block_nr: tx_block_nr,
                tp_frame_size: FRAME_SIZE as u32,
                tp_frame_nr: tx_frames as u32,
                tp_retire_blk_tov: 0,
                tp_sizeof_priv: 0,
                tp_feature_req_word: 0,
            };
            setsockopt(
                s,
                libc::SOL_PACKET,
                libc::PACKET_TX_RING,
                &req,
                "PACKET_TX_RING",
            )
            .map_err(|e| setup("tx ring", e))?;
        } else {
            let req = libc::tpacket_req {
                tp_block_size: V2_BLOCK_SIZE as u32,
                tp_block_nr: tx_block_nr,
                tp_frame_size: FRAME_SIZE as u32,
                tp_frame_nr: tx_frames as u32,
            };
            setsockopt(
                s,
                libc::SOL_PACKET,
                libc::PACKET_TX_RING,
                &req,
                "PACKET_TX_RING",
            )
            .map_err(|e| setup("tx ring", e))?;
        }
        let map_len = rx_len + tx_len;
        // SAFETY: maps the socket's rings (rx then tx, as the kernel lays
        // them out); the result is checked against MAP_FAILED.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                s,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(setup("mmap rings", os_error("mmap")));
        }
        let mut nic = AfPacketNic {
            fd,
            map: map.cast(),
            map_len,
            rx_len,
            rx,
            tx_frames,
            tx_next: 0,
            tx_pending: 0,
            v3,
            filter_outgoing,
            timestamp: cfg.timestamp,
            mac: [0; 6],
            ifindex,
            stats: NicStats::default(),
            kernel_drops: std::cell::Cell::new(0),
        };
        nic.mac = nic.read_mac(&name)?;

        // SAFETY: `sockaddr_ll` is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: `sll` is a valid `sockaddr_ll` of the size passed.
        let rc = unsafe {
            libc::bind(
                s,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(setup("bind", os_error("bind")));
        }
        if cfg.promiscuous {
            nic.membership(libc::PACKET_MR_PROMISC, None)?;
        }
        for group in &cfg.multicast {
            nic.membership(libc::PACKET_MR_MULTICAST, Some(*group))?;
        }
        Ok(nic)
    }

    fn read_mac(&self, name: &CString) -> Result<[u8; 6], NicError> {
        // SAFETY: `ifreq` is plain data; all-zero is a valid value.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req
            .ifr_name
            .iter_mut()
            .zip(name.as_bytes().iter().take(libc::IFNAMSIZ - 1))
        {
            *dst = *src as libc::c_char;
        }
        // SAFETY: SIOCGIFHWADDR reads the name and writes the hardware
        // address into `req`, which lives for the call.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) };
        if rc != 0 {
            return Err(setup("read MAC", os_error("ioctl(SIOCGIFHWADDR)")));
        }
        // SAFETY: after SIOCGIFHWADDR the union holds `ifru_hwaddr`.
        let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
        let mut mac = [0u8; 6];
        for (dst, src) in mac.iter_mut().zip(sa.sa_data.iter()) {
            *dst = *src as u8;
        }
        Ok(mac)
    }

    fn membership(&self, kind: i32, mac: Option<[u8; 6]>) -> Result<(), NicError> {
        let mut mreq = libc::packet_mreq {
            mr_ifindex: self.ifindex,
            mr_type: kind as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        if let Some(m) = mac {
            mreq.mr_alen = 6;
            mreq.mr_address[..6].copy_from_slice(&m);
        }
        setsockopt(
            self.fd.as_raw_fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            &mreq,
            "PACKET_ADD_MEMBERSHIP",
        )
        .map_err(|e| setup("membership (promiscuous needs CAP_NET_ADMIN)", e))
    }

    /// The interface's index.
    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    /// The TPACKET version of the rings.
    pub fn version(&self) -> TpacketVersion {
        if self.v3 {
            TpacketVersion::V3
        } else {
            TpacketVersion::V2
        }
    }

    /// Whether own frames are filtered in user space (the kernel lacks
    /// `PACKET_IGNORE_OUTGOING`).
    pub fn filters_outgoing(&self) -> bool {
        self.filter_outgoing
    }

    /// The raw socket (for `poll(2)` by an idle strategy that parks).
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The status word at byte `offset` of the mapping, if in bounds and
    /// aligned. The kernel and this socket share it, so it is accessed only
    /// atomically.
    fn status_word(&self, offset: usize) -> Option<*const AtomicU32> {
        if !offset.is_multiple_of(4) || offset.checked_add(4)? > self.map_len {
            return None;
        }
        // SAFETY: in bounds of the mapping (checked above).
        Some(unsafe { self.map.add(offset).cast::<AtomicU32>() })
    }

    /// Acquire-loads the status word at `offset` (0 = kernel's if out of bounds).
    fn load_status(&self, offset: usize) -> u32 {
        match self.status_word(offset) {
            // SAFETY: in bounds, 4-aligned (the mapping is page-aligned and
            // every header is 16-aligned), valid for the mapping's lifetime.
            Some(w) => unsafe { (*w).load(Ordering::Acquire) },
            None => libc::TP_STATUS_KERNEL,
        }
    }

    /// Release-stores the status word at `offset`.
    fn store_status(&self, offset: usize, value: u32) {
        if let Some(w) = self.status_word(offset) {
            // SAFETY: as in `load_status`.
            unsafe { (*w).store(value, Ordering::Release) }
        }
    }

    /// A `u32` header field at byte `offset` (plain read: the kernel wrote
    /// it before releasing the frame through its status word).
    fn u32_at(&self, offset: usize) -> u32 {
        if offset.saturating_add(4) > self.map_len {
            return 0;
        }
        // SAFETY: in bounds; an unaligned read of plain bytes.
        unsafe { self.map.add(offset).cast::<u32>().read_unaligned() }
    }

    fn u16_at(&self, offset: usize) -> u16 {
        if offset.saturating_add(2) > self.map_len {
            return 0;
        }
        // SAFETY: in bounds; an unaligned read of plain bytes.
        unsafe { self.map.add(offset).cast::<u16>().read_unaligned() }
    }

    fn u8_at(&self, offset: usize) -> u8 {
        if offset >= self.map_len {
            return 0;
        }
        // SAFETY: in bounds.
        unsafe { self.map.add(offset).read() }
    }

    /// The bytes `[start, start + len)` of the ring area `[lo, hi)`, or
    /// `None` if they leave it.
    fn bytes(&self, lo: usize, hi: usize, start: usize, len: usize) -> Option<&[u8]> {
        let end = start.checked_add(len)?;
        if start < lo || end > hi || hi > self.map_len {
            return None;
        }
        // SAFETY: in bounds of the mapping; the kernel released this frame
        // to user space (status word) and does not write it until we hand
        // it back, after the callback returned.
        Some(unsafe { std::slice::from_raw_parts(self.map.add(start), len) })
    }

    /// Maps a kernel CLOCK_REALTIME timestamp onto the caller's time line:
    /// `now − (realtime_now − kernel_ts)`, never after `now`.
    fn map_ts(now: Nanos, realtime_now: u64, sec: u32, nsec: u32) -> Nanos {
        let kernel = u64::from(sec) * 1_000_000_000 + u64::from(nsec);
        Nanos(now.0.saturating_sub(realtime_now.saturating_sub(kernel)))
    }

    fn rx_v2(
        &mut self,
        now: Nanos,
        budget: usize,
        on_frame: &mut dyn FnMut(&[u8], Nanos),
    ) -> usize {
        let RxRing::V2 { frames, mut next } = self.rx else {
            return 0;
        };
        let mut handed = 0;
        let mut realtime_now = 0;
        let mut examined = 0;
        while handed < budget && examined < frames {
            let base = next * FRAME_SIZE;
            // TP_STATUS_LOSING is not looked at: drops are counted by
            // PACKET_STATISTICS in `stats`.
            if self.load_status(base) & libc::TP_STATUS_USER == 0 {
                break;
            }
            examined += 1;
            let len = self.u32_at(base + 4) as usize;
            let snaplen = self.u32_at(base + 8) as usize;
            let mac_off = self.u16_at(base + 12) as usize;
            let outgoing = self.filter_outgoing
                && self.u8_at(base + V2_HDR_ALIGNED + SLL_PKTTYPE_OFFSET) == libc::PACKET_OUTGOING;
            let frame = if snaplen == len && !outgoing {
                self.bytes(base, base + FRAME_SIZE, base + mac_off, snaplen)
            } else {
                None
            };
            match frame {
                Some(f) => {
                    let ts = match self.timestamp {
                        RxTimestamp::Poll => now,
                        RxTimestamp::Kernel => {
                            if realtime_now == 0 {
                                realtime_now = realtime_ns();
                            }
                            Self::map_ts(
                                now,
                                realtime_now,
                                self.u32_at(base + 16),
                                self.u32_at(base + 20),
                            )
                        }
                    };
                    on_frame(f, ts);
                    handed += 1;
                    self.stats.rx_frames += 1;
                    self.stats.rx_bytes += snaplen as u64;
                }
                None if outgoing => {}
                None => self.stats.rx_dropped += 1,
            }
            self.store_status(base, libc::TP_STATUS_KERNEL);
            next = if next + 1 == frames { 0 } else { next + 1 };
        }
        self.rx = RxRing::V2 { frames, next };
        handed
    }

    fn rx_v3(
        &mut self,
        now: Nanos,
        budget: usize,
        on_frame: &mut dyn FnMut(&[u8], Nanos),
    ) -> usize {
        let RxRing::V3 {
            blocks,
            mut block,
            mut remaining,
            mut offset,
        } = self.rx
        else {
            return 0;
        };
        let mut handed = 0;
        let mut realtime_now = 0;
        let mut blocks_opened = 0;
        // Block descriptor: version u32, offset_to_priv u32, then
        // tpacket_hdr_v1 {block_status u32, num_pkts u32,
        // offset_to_first_pkt u32, ...}.
        while handed < budget {
            let bbase = block * V3_BLOCK_SIZE;
            let status_off = bbase + 8;
            if remaining == 0 {
                if blocks_opened == blocks {
                    break;
                }
                if self.load_status(status_off) & libc::TP_STATUS_USER == 0 {
                    break;
                }
                blocks_opened += 1;
                remaining = self.u32_at(bbase + 12);
                offset = self.u32_at(bbase + 16) as usize;
                if remaining == 0 {
                    self.store_status(status_off, libc::TP_STATUS_KERNEL);
                    block = if block + 1 == blocks { 0 } else { block + 1 };
                    continue;
                }
            }
            let hbase = bbase + offset;
            let bend = bbase + V3_BLOCK_SIZE;
            let next_offset = self.u32_at(hbase) as usize;
            let snaplen = self.u32_at(hbase + 12) as usize;
            let len = self.u32_at(hbase + 16) as usize;
            let mac_off = self.u16_at(hbase + 24) as usize;
            let outgoing = self.filter_outgoing
                && self.u8_at(hbase + V3_HDR_ALIGNED + SLL_PKTTYPE_OFFSET) == libc::PACKET_OUTGOING;
            let frame = if snaplen == len && !outgoing && hbase + V3_HDR_ALIGNED <= bend {
                self.bytes(hbase, bend, hbase + mac_off, snaplen)
            } else {
                None
            };
            match frame {
                Some(f) => {
                    let ts = match self.timestamp {
                        RxTimestamp::Poll => now,
                        RxTimestamp::Kernel => {
                            if realtime_now == 0 {
                                realtime_now = realtime_ns();
                            }
                            Self::map_ts(
                                now,
                                realtime_now,
                                self.u32_at(hbase + 4),
                                self.u32_at(hbase + 8),
                            )
                        }
                    };
                    on_frame(f, ts);
                    handed += 1;
                    self.stats.rx_frames += 1;
                    self.stats.rx_bytes += snaplen as u64;
                }
                None if outgoing => {}
                None => self.stats.rx_dropped += 1,
            }
            remaining -= 1;
            // A corrupt next offset ends the block instead of walking off it.
            if remaining > 0 && (next_offset == 0 || offset + next_offset >= V3_BLOCK_SIZE) {
                self.stats.rx_dropped += u64::from(remaining);
                remaining = 0;
            }
            if remaining == 0 {
                self.store_status(status_off, libc::TP_STATUS_KERNEL);
                block = if block + 1 == blocks { 0 } else { block + 1 };
                offset = 0;
            } else {
                offset += next_offset;
            }
        }
        self.rx = RxRing::V3 {
            blocks,
            block,
            remaining,
            offset,
        };
        handed
    }

    /// Reads (and resets) the kernel's drop counter into `kernel_drops`.
    fn poll_kernel_drops(&self) {
        // Large enough for tpacket_stats_v3; V2 fills the first two words.
        let mut st = [0u32; 3];
        let mut len = std::mem::size_of_val(&st) as libc::socklen_t;
        // SAFETY: `st` and `len` are valid for writes of `len` bytes.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                st.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc == 0 {
            self.kernel_drops
                .set(self.kernel_drops.get() + u64::from(st[1]));
        }
    }
}

/// CLOCK_REALTIME in nanoseconds (vDSO, no syscall).
fn realtime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is valid for writes.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

impl Nic for AfPacketNic {
    fn rx_burst(
        &mut self,
        now: Nanos,
        budget: usize,
        on_frame: &mut dyn FnMut(&[u8], Nanos),
    ) -> usize {
        if self.v3 {
            self.rx_v3(now, budget, on_frame)
        } else {
            self.rx_v2(now, budget, on_frame)
        }
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
        let base = self.rx_len + self.tx_next * FRAME_SIZE;
        // V2 header: status u32 at 0, len u32 at 4; data at 32.
        // V3 header: next_offset u32 at 0, len u32 at 16, status u32 at 20;
        // data at 48.
        let (status_off, len_off, data_off) = if self.v3 {
            (20, 16, V3_HDR_ALIGNED)
        } else {
            (0, 4, V2_HDR_ALIGNED)
        };
        let status = self.load_status(base + status_off);
        if status != libc::TP_STATUS_AVAILABLE && status != libc::TP_STATUS_WRONG_FORMAT {
            self.stats.tx_full += 1;
            return Err(NicError::TxFull);
        }
        let start = base + data_off;
        if start + max_len > self.map_len {
            return Err(NicError::TxFull);
        }
        // SAFETY: the slot is in bounds of the tx ring and AVAILABLE: the
        // kernel does not read it until we set SEND_REQUEST below.
        let slot = unsafe { std::slice::from_raw_parts_mut(self.map.add(start), max_len) };
        let len = fill(slot);
        if len == 0 {
            return Ok(());
        }
        if len > max_len {
            return Err(NicError::FrameTooLarge { len, max: max_len });
        }
        // SAFETY: header fields of the same AVAILABLE slot, in bounds (the
        // header precedes `start`), 4-aligned.
        unsafe {
            self.map.add(base + len_off).cast::<u32>().write(len as u32);
            if self.v3 {
                self.map.add(base).cast::<u32>().write(0);
            }
        }
        self.store_status(base + status_off, libc::TP_STATUS_SEND_REQUEST);
        self.tx_next = if self.tx_next + 1 == self.tx_frames {
            0
        } else {
            self.tx_next + 1
        };
        self.tx_pending += 1;
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += len as u64;
        Ok(())
    }

    fn tx_flush(&mut self) -> Result<(), NicError> {
        if self.tx_pending == 0 {
            return Ok(());
        }
        // SAFETY: a zero-length `sendto` without an address on our own
        // socket: it makes the kernel send every SEND_REQUEST slot.
        let rc = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                std::ptr::null(),
                0,
                libc::MSG_DONTWAIT,
                std::ptr::null(),
                0,
            )
        };
        if rc < 0 {
            let e = os_error("sendto");
            return match e {
                // The slots stay queued; the next flush kicks again.
                NicError::Os { errno, .. } if errno == libc::EAGAIN || errno == libc::ENOBUFS => {
                    Ok(())
                }
                e => Err(e),
            };
        }
        self.tx_pending = 0;
        Ok(())
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn stats(&self) -> NicStats {
        self.poll_kernel_drops();
        let mut s = self.stats;
        s.rx_dropped += self.kernel_drops.get();
        s
    }

    fn name(&self) -> &'static str {
        if self.v3 {
            "af_packet-v3"
        } else {
            "af_packet-v2"
        }
    }
}

impl Drop for AfPacketNic {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`; nothing borrows
        // it past `&mut self`.
        unsafe {
            libc::munmap(self.map.cast(), self.map_len);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_timestamps_map_onto_now() {
        // 3 µs before "realtime now" → 3 µs before `now`.
        let t = AfPacketNic::map_ts(Nanos(10_000), 5_000_003_000, 5, 0);
        assert_eq!(t, Nanos(7_000));
        // A kernel stamp from the future clamps to `now`.
        assert_eq!(AfPacketNic::map_ts(Nanos(10), 1, 5, 0), Nanos(10));
        // A huge gap saturates at zero, never wraps.
        assert_eq!(AfPacketNic::map_ts(Nanos(10), u64::MAX, 0, 0), Nanos(0));
    }

    #[test]
    fn missing_interface_is_a_setup_error() {
        match AfPacketNic::open(&AfPacketConfig::new("floe-none0")) {
            Err(NicError::Setup(m)) => assert!(m.contains("floe-none0"), "{m}"),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("opened a missing interface"),
        }
    }
}
