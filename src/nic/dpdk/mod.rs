//! DPDK backend (cargo feature `dpdk`): an in-project binding to the
//! system's libdpdk (22.11 on Debian 12).
//!
//! - [`ffi`]: bindgen over an allowlist of the control path (EAL, ethdev,
//!   mempool) with `rte_mbuf` / `rte_mempool` opaque, plus the C shim
//!   (`shim.c`) that turns DPDK's static-inline fast path (rx/tx burst, mbuf
//!   alloc/free/append/mtod, `rte_errno`, TSC) into callable functions.
//! - [`Eal`]: the Environment Abstraction Layer, initialised **once per
//!   process** (DPDK cannot initialise it twice): from a `dpdk-config/*.conf`
//!   file of EAL arguments, one per line, `#` comments; floe appends a unique
//!   `--file-prefix` unless the file sets one. The first initialisation wins;
//!   later calls with the same arguments return it, with other arguments
//!   they are an error. `rte_eal_init` runs on a short-lived thread of its
//!   own, so it neither pins the caller (EAL pins its main lcore) nor ties
//!   the EAL to the caller's lifetime; vdevs that open kernel sockets
//!   (`net_af_packet`) open them in the caller's network namespace.
//! - [`DpdkNic`]: one ethdev port with one rx and one tx queue and its own
//!   mbuf pool: physical ports (vfio-pci, hugepages) and vdevs
//!   (`net_af_packet0,iface=X`, `net_ring0`, `net_null0`) alike. A port is
//!   opened once per process: dropping the `DpdkNic` stops and closes it,
//!   and a closed vdev is gone. `net_af_packet`'s control calls (start,
//!   promiscuous, close) are ioctls naming the interface, so open and drop
//!   the port in the interface's network namespace.
//!
//! Hot path: `rx_burst` is one `rte_eth_rx_burst` into a fixed array, the
//! frames lent straight from the mbufs, then freed; `tx_frame` allocates an
//! mbuf from the pool (no heap), lets the caller write into its data room and
//! queues it; `tx_flush` is one `rte_eth_tx_burst`. Frames the port did not
//! take stay queued for the next flush. Receive timestamps are the duty
//! cycle's `now`. No heap allocation, no lock, no panic after `open`.

pub mod ffi;

use super::{Nic, NicError, NicStats, MAX_FRAME_LEN};
use crate::config::NicConfig;
use crate::time::Nanos;
use std::ffi::{CStr, CString};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// Frames taken from or given to the port per burst call at most.
pub const BURST: usize = 64;
/// Bytes of an mbuf's data room: DPDK's default (2048 + 128 headroom).
const DATA_ROOM: u16 = 2048 + 128;

fn strerror(rc: i32) -> String {
    // SAFETY: rte_strerror returns a pointer to a static or thread-local
    // NUL-terminated string for any input.
    let p = unsafe { ffi::rte_strerror(rc.abs()) };
    if p.is_null() {
        return format!("error {rc}");
    }
    // SAFETY: non-null, NUL-terminated (see above).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn dpdk_err(call: &str, rc: i32) -> NicError {
    NicError::Setup(format!("dpdk: {call}: {} ({rc})", strerror(rc)))
}

/// Parses an EAL argument file: one argument per line (an option and its
/// value may share the line, `-m 128`, and are split at white space), blank
/// lines and `#` comments (whole-line or trailing) ignored.
pub fn parse_eal_args(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(str::split_whitespace)
        .map(str::to_string)
        .collect()
}

/// `args` with `--file-prefix=floe-<pid>` appended unless they set a file
/// prefix already, so two floe processes never share DPDK runtime files.
pub fn with_file_prefix(mut args: Vec<String>) -> Vec<String> {
    if !args.iter().any(|a| a.starts_with("--file-prefix")) {
        args.push(format!("--file-prefix=floe-{}", std::process::id()));
    }
    args
}

/// The process's DPDK EAL; see the module docs.
#[derive(Debug)]
pub struct Eal {
    args: Vec<String>,
}

static EAL: OnceLock<Result<Eal, String>> = OnceLock::new();

impl Eal {
    /// Initialises the EAL with `args` (without `argv[0]`), or returns the
    /// EAL already initialised with the same `args`.
    pub fn init(args: Vec<String>) -> Result<&'static Eal, NicError> {
        let wanted = args.clone();
        let r = EAL.get_or_init(move || init_eal(args));
        match r {
            Ok(eal) if eal.args == wanted => Ok(eal),
            Ok(eal) => Err(NicError::Setup(format!(
                "dpdk: the EAL is already initialised (once per process) with {:?}",
                eal.args
            ))),
            Err(e) => Err(NicError::Setup(e.clone())),
        }
    }

    /// Reads an EAL argument file (see [`parse_eal_args`]), adds a unique
    /// `--file-prefix` ([`with_file_prefix`]) and initialises the EAL.
    pub fn init_from_file(path: &Path) -> Result<&'static Eal, NicError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| NicError::Setup(format!("dpdk: cannot read {}: {e}", path.display())))?;
        Eal::init(with_file_prefix(parse_eal_args(&text)))
    }

    /// The EAL if it was initialised successfully.
    pub fn get() -> Option<&'static Eal> {
        EAL.get().and_then(|r| r.as_ref().ok())
    }

    /// The arguments it was initialised with.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Ports available.
    pub fn port_count(&self) -> u16 {
        // SAFETY: the EAL is initialised (`self` exists).
        unsafe { ffi::rte_eth_dev_count_avail() }
    }

    /// The port id of a device by name (`net_null0`, `0000:01:00.0`).
    pub fn port_by_name(&self, name: &str) -> Option<u16> {
        let name = CString::new(name).ok()?;
        let mut port = 0u16;
        // SAFETY: `name` is NUL-terminated; `port` is valid for a write.
        let rc = unsafe { ffi::rte_eth_dev_get_port_by_name(name.as_ptr(), &mut port) };
        (rc == 0).then_some(port)
    }

    /// The TSC frequency DPDK measured.
    pub fn tsc_hz(&self) -> u64 {
        // SAFETY: plain read of EAL state, initialised.
        unsafe { ffi::floe_rte_get_tsc_hz() }
    }

    /// The TSC now (`rte_rdtsc`).
    pub fn rdtsc(&self) -> u64 {
        // SAFETY: reads the time-stamp counter; no memory effects.
        unsafe { ffi::floe_rte_rdtsc() }
    }
}

fn init_eal(args: Vec<String>) -> Result<Eal, String> {
    let run = args.clone();
    let t = std::thread::Builder::new()
        .name("floe-eal-init".into())
        .spawn(move || -> Result<(), String> {
            let mut c: Vec<CString> = Vec::with_capacity(run.len() + 1);
            c.push(CString::new("floe").map_err(|e| e.to_string())?);
            for a in &run {
                c.push(
                    CString::new(a.as_str())
                        .map_err(|_| format!("EAL argument {a:?} has a NUL"))?,
                );
            }
            // EAL keeps pointers into argv: the strings live for the process.
            let c: &'static [CString] = Box::leak(c.into_boxed_slice());
            let argv: Vec<*mut libc::c_char> = c.iter().map(|s| s.as_ptr() as *mut _).collect();
            let argv: &'static mut [*mut libc::c_char] = Box::leak(argv.into_boxed_slice());
            // SAFETY: argc matches argv; every pointer is a NUL-terminated
            // string that outlives the process's use of it (leaked above).
            let rc = unsafe { ffi::rte_eal_init(argv.len() as i32, argv.as_mut_ptr()) };
            if rc < 0 {
                // SAFETY: reads the thread-local rte_errno of this thread.
                let errno = unsafe { ffi::floe_rte_errno() };
                return Err(format!(
                    "dpdk: rte_eal_init({}) failed: {} ({errno})",
                    run.join(" "),
                    strerror(errno)
                ));
            }
            Ok(())
        })
        .map_err(|e| format!("dpdk: cannot start the EAL thread: {e}"))?;
    t.join()
        .map_err(|_| "dpdk: rte_eal_init panicked".to_string())??;
    Ok(Eal { args })
}

/// Settings of a [`DpdkNic`].
#[derive(Clone, Debug)]
pub struct DpdkPortConfig {
    /// Port id.
    pub port: u16,
    /// Mbufs in the port's pool (rx descriptors + tx in flight + bursts).
    pub mbufs: u32,
    /// Rx descriptors.
    pub rx_desc: u16,
    /// Tx descriptors.
    pub tx_desc: u16,
    /// Enable promiscuous and all-multicast reception (floe owns a MAC that
    /// need not be the port's). Ports without the feature (`-ENOTSUP`) are
    /// accepted as they are; a port that fails to enable it is an error.
    pub promiscuous: bool,
}

impl DpdkPortConfig {
    /// Defaults for `port`: 8191 mbufs, 1024 descriptors each way,
    /// promiscuous.
    pub fn new(port: u16) -> DpdkPortConfig {
        DpdkPortConfig {
            port,
            mbufs: 8191,
            rx_desc: 1024,
            tx_desc: 1024,
            promiscuous: true,
        }
    }
}

/// One DPDK ethdev port; see the module docs.
pub struct DpdkNic {
    port: u16,
    pool: *mut ffi::rte_mempool,
    rx: [*mut ffi::rte_mbuf; BURST],
    tx: [*mut ffi::rte_mbuf; BURST],
    tx_queued: usize,
    mac: [u8; 6],
    stats: NicStats,
}

// SAFETY: the port's queues and the pool are used only through `&mut self`
// (one thread at a time); DPDK's burst functions and mbuf pools may be used
// from any thread, EAL lcore or not, as long as one queue has one user.
unsafe impl Send for DpdkNic {}

static POOLS: AtomicU32 = AtomicU32::new(0);

impl DpdkNic {
    /// Sets up `cfg.port` (one rx and one tx queue, its own mbuf pool) and
    /// starts it.
    pub fn open(_eal: &'static Eal, cfg: &DpdkPortConfig) -> Result<DpdkNic, NicError> {
        let port = cfg.port;
        // SAFETY: EAL initialised (`_eal`); plain query.
        if unsafe { ffi::rte_eth_dev_is_valid_port(port) } == 0 {
            return Err(NicError::Setup(format!(
                "dpdk: no port {port} ({} available)",
                _eal.port_count()
            )));
        }
        // SAFETY: valid port.
        let socket = unsafe { ffi::rte_eth_dev_socket_id(port) };
        let name = CString::new(format!(
            "floe-p{port}-{}",
            POOLS.fetch_add(1, Ordering::Relaxed)
        ))
        .map_err(|e| NicError::Setup(e.to_string()))?;
        let mbufs = cfg.mbufs.max(2 * BURST as u32 + 64);
        let cache = (mbufs / 4).min(256);
        // SAFETY: `name` is NUL-terminated; the sizes are in range.
        let pool = unsafe {
            ffi::rte_pktmbuf_pool_create(name.as_ptr(), mbufs, cache, 0, DATA_ROOM, socket)
        };
        if pool.is_null() {
            // SAFETY: reads this thread's rte_errno.
            let errno = unsafe { ffi::floe_rte_errno() };
            return Err(dpdk_err("rte_pktmbuf_pool_create", errno));
        }
        let mut nic = DpdkNic {
            port,
            pool,
            rx: [std::ptr::null_mut(); BURST],
            tx: [std::ptr::null_mut(); BURST],
            tx_queued: 0,
            mac: [0; 6],
            stats: NicStats::default(),
        };
        nic.setup(cfg, socket)?;
        Ok(nic)
    }

    fn setup(&mut self, cfg: &DpdkPortConfig, socket: i32) -> Result<(), NicError> {
        let port = self.port;
        let conf = ffi::rte_eth_conf::default();
        // SAFETY: valid port; `conf` lives for the call.
        let rc = unsafe { ffi::rte_eth_dev_configure(port, 1, 1, &conf) };
        if rc < 0 {
            return Err(dpdk_err("rte_eth_dev_configure", rc));
        }
        let (mut rx_desc, mut tx_desc) = (cfg.rx_desc.max(64), cfg.tx_desc.max(64));
        // SAFETY: valid port; the counts are valid for writes.
        let rc = unsafe { ffi::rte_eth_dev_adjust_nb_rx_tx_desc(port, &mut rx_desc, &mut tx_desc) };
        if rc < 0 {
            return Err(dpdk_err("rte_eth_dev_adjust_nb_rx_tx_desc", rc));
        }
        let socket = socket.max(0) as u32;
        // SAFETY: configured port; NULL rxconf = the PMD's defaults; the
        // pool outlives the queue (freed after close in Drop).
        let rc = unsafe {
            ffi::rte_eth_rx_queue_setup(port, 0, rx_desc, socket, std::ptr::null(), self.pool)
        };
        if rc < 0 {
            return Err(dpdk_err("rte_eth_rx_queue_setup", rc));
        }
        // SAFETY: configured port; NULL txconf = the PMD's defaults.
        let rc = unsafe { ffi::rte_eth_tx_queue_setup(port, 0, tx_desc, socket, std::ptr::null()) };
        if rc < 0 {
            return Err(dpdk_err("rte_eth_tx_queue_setup", rc));
        }
        // SAFETY: configured port with its queues set up.
        let rc = unsafe { ffi::rte_eth_dev_start(port) };
        if rc < 0 {
            return Err(dpdk_err(
                "rte_eth_dev_start (net_af_packet needs CAP_NET_ADMIN)",
                rc,
            ));
        }
        if cfg.promiscuous {
            // floe's own MAC (`net.mac`) is not the port's: without
            // promiscuous reception a filtering port drops every unicast
            // frame to floe (TCP, MoldUDP64 re-request answers) while the
            // multicast feed still arrives. Not every PMD can (net_null,
            // net_ring: -ENOTSUP), and those take all frames anyway; any
            // other failure is an error.
            // SAFETY: started port.
            let rc = unsafe { ffi::rte_eth_promiscuous_enable(port) };
            if rc < 0 && rc != -libc::ENOTSUP {
                return Err(dpdk_err("rte_eth_promiscuous_enable", rc));
            }
            // SAFETY: started port.
            let rc = unsafe { ffi::rte_eth_allmulticast_enable(port) };
            if rc < 0 && rc != -libc::ENOTSUP {
                return Err(dpdk_err("rte_eth_allmulticast_enable", rc));
            }
        }
        let mut addr = ffi::rte_ether_addr::default();
        // SAFETY: valid port; `addr` is valid for a write.
        let rc = unsafe { ffi::rte_eth_macaddr_get(port, &mut addr) };
        if rc < 0 {
            return Err(dpdk_err("rte_eth_macaddr_get", rc));
        }
        self.mac = addr.addr_bytes;
        Ok(())
    }

    /// Opens the port `[nic]` names: the EAL from `nic.dpdk_config`, port
    /// `nic.dpdk_port`, `nic.dpdk_mbufs` mbufs, `nic.ring_frames` descriptors
    /// per queue.
    pub fn open_from_config(nic: &NicConfig) -> Result<DpdkNic, NicError> {
        let path = nic.dpdk_config.as_deref().ok_or_else(|| {
            NicError::Setup(
                "nic.backend = \"dpdk\" needs nic.dpdk_config (an EAL argument file)".into(),
            )
        })?;
        let eal = Eal::init_from_file(path)?;
        let desc = nic.ring_frames.clamp(64, 32_768) as u16;
        DpdkNic::open(
            eal,
            &DpdkPortConfig {
                port: nic.dpdk_port,
                mbufs: nic.dpdk_mbufs,
                rx_desc: desc,
                tx_desc: desc,
                promiscuous: true,
            },
        )
    }

    /// The port id.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Frames queued for transmit that the port has not taken yet.
    pub fn tx_queued(&self) -> usize {
        self.tx_queued
    }
}

impl Nic for DpdkNic {
    fn rx_burst(
        &mut self,
        now: Nanos,
        budget: usize,
        on_frame: &mut dyn FnMut(&[u8], Nanos),
    ) -> usize {
        let want = budget.min(BURST) as u16;
        if want == 0 {
            return 0;
        }
        // SAFETY: started port, queue 0 exists; `rx` has room for `want`.
        let n = unsafe { ffi::floe_rte_eth_rx_burst(self.port, 0, self.rx.as_mut_ptr(), want) }
            as usize;
        let mut handed = 0;
        for &m in self.rx.iter().take(n) {
            // SAFETY: `m` is an mbuf the PMD just handed us; its first
            // segment's data is `data_len` bytes at `mtod`.
            let (data, len, pkt_len) = unsafe {
                (
                    ffi::floe_rte_pktmbuf_mtod(m) as *const u8,
                    ffi::floe_rte_pktmbuf_data_len(m) as usize,
                    ffi::floe_rte_pktmbuf_pkt_len(m) as usize,
                )
            };
            if len == pkt_len && !data.is_null() {
                // SAFETY: see above; the slice lives until the free below.
                let frame = unsafe { std::slice::from_raw_parts(data, len) };
                on_frame(frame, now);
                handed += 1;
                self.stats.rx_frames += 1;
                self.stats.rx_bytes += len as u64;
            } else {
                // Chained mbufs: larger than floe's frames.
                self.stats.rx_dropped += 1;
            }
            // SAFETY: ours to free, not used after.
            unsafe { ffi::floe_rte_pktmbuf_free(m) };
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
        if self.tx_queued == BURST {
            self.tx_flush()?;
            if self.tx_queued == BURST {
                self.stats.tx_full += 1;
                return Err(NicError::TxFull);
            }
        }
        // SAFETY: the pool is live; alloc returns NULL when empty.
        let m = unsafe { ffi::floe_rte_pktmbuf_alloc(self.pool) };
        if m.is_null() {
            self.stats.tx_full += 1;
            return Err(NicError::TxFull);
        }
        // SAFETY: a fresh mbuf: data at `mtod`, `tailroom` bytes writable.
        let (data, room) = unsafe {
            (
                ffi::floe_rte_pktmbuf_mtod(m) as *mut u8,
                ffi::floe_rte_pktmbuf_tailroom(m) as usize,
            )
        };
        if room < max_len || data.is_null() {
            // SAFETY: ours, unused.
            unsafe { ffi::floe_rte_pktmbuf_free(m) };
            return Err(NicError::FrameTooLarge {
                len: max_len,
                max: room,
            });
        }
        // SAFETY: `max_len <= tailroom` bytes at `data` belong to this mbuf.
        let slot = unsafe { std::slice::from_raw_parts_mut(data, max_len) };
        let len = fill(slot);
        if len == 0 || len > max_len {
            // SAFETY: ours, unused.
            unsafe { ffi::floe_rte_pktmbuf_free(m) };
            return if len == 0 {
                Ok(())
            } else {
                Err(NicError::FrameTooLarge { len, max: max_len })
            };
        }
        // SAFETY: `len <= tailroom`, so append succeeds and sets the lengths.
        unsafe { ffi::floe_rte_pktmbuf_append(m, len as u16) };
        if let Some(slot) = self.tx.get_mut(self.tx_queued) {
            *slot = m;
        }
        self.tx_queued += 1;
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += len as u64;
        Ok(())
    }

    fn tx_flush(&mut self) -> Result<(), NicError> {
        if self.tx_queued == 0 {
            return Ok(());
        }
        // SAFETY: started port, queue 0; the first `tx_queued` entries are
        // mbufs we own; the PMD takes ownership of the first `sent`.
        let sent = unsafe {
            ffi::floe_rte_eth_tx_burst(self.port, 0, self.tx.as_mut_ptr(), self.tx_queued as u16)
        } as usize;
        let sent = sent.min(self.tx_queued);
        self.tx.copy_within(sent..self.tx_queued, 0);
        self.tx_queued -= sent;
        Ok(())
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn stats(&self) -> NicStats {
        let mut s = self.stats;
        let mut st = ffi::rte_eth_stats::default();
        // SAFETY: valid port; `st` is valid for a write.
        if unsafe { ffi::rte_eth_stats_get(self.port, &mut st) } == 0 {
            s.rx_dropped += st.imissed + st.rx_nombuf + st.ierrors;
        }
        s
    }

    fn name(&self) -> &'static str {
        "dpdk"
    }
}

impl Drop for DpdkNic {
    fn drop(&mut self) {
        // SAFETY: the queued mbufs are ours; then the port is stopped and
        // closed (which releases the PMD's mbufs) before its pool is freed.
        unsafe {
            for &m in self.tx.iter().take(self.tx_queued) {
                ffi::floe_rte_pktmbuf_free(m);
            }
            ffi::rte_eth_dev_stop(self.port);
            ffi::rte_eth_dev_close(self.port);
            ffi::rte_mempool_free(self.pool);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eal_files_parse() {
        let text = "# comment\n--no-huge\n  -m 128   # trailing\n\n--vdev=net_null0\n";
        assert_eq!(
            parse_eal_args(text),
            vec!["--no-huge", "-m", "128", "--vdev=net_null0"]
        );
        let args = with_file_prefix(vec!["--no-huge".into()]);
        assert_eq!(
            args[1],
            format!("--file-prefix=floe-{}", std::process::id())
        );
        let kept = with_file_prefix(vec!["--file-prefix=mine".into()]);
        assert_eq!(kept, vec!["--file-prefix=mine"]);
    }

    #[test]
    fn example_configs_parse() {
        let vdev = Path::new(env!("CARGO_MANIFEST_DIR")).join("dpdk-config/af_packet-vdev.conf");
        let args = parse_eal_args(&std::fs::read_to_string(vdev).unwrap());
        assert!(args.contains(&"--vdev=net_af_packet0,iface=vfloe".to_string()));
        assert!(args.windows(2).any(|w| w == ["-m", "128"]));
        for f in ["physical.conf", "af_packet-vdev.conf"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("dpdk-config")
                .join(f);
            let args = parse_eal_args(&std::fs::read_to_string(&path).unwrap());
            assert!(
                args.first().is_some_and(|a| a.starts_with('-')),
                "{f}: {args:?}"
            );
            assert!(args.iter().all(|a| !a.contains('#')), "{f}: {args:?}");
        }
    }
}
