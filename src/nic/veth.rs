//! Test hosts on one machine: a pair of network namespaces joined by veth,
//! made and removed by `scripts/netns`, and a way to run code inside one.
//!
//! [`TestHosts::up`] runs `scripts/netns up NAME` and returns a guard whose
//! `Drop` runs `scripts/netns down NAME`, so a test that panics still cleans
//! up. [`in_netns`] runs a closure on a fresh thread that entered a namespace
//! with `setns(2)`: sockets it opens (kernel UDP, AF_PACKET, a DPDK
//! `net_af_packet` vdev) live in that namespace; the calling thread's
//! namespace is untouched. Everything here is cold-path test and bench
//! plumbing; it needs root and says so.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The venue side's link (in `NAME-venue`).
pub const VENUE_IF: &str = "vvenue";
/// The appliance side's link (in `NAME-app`), the one floe drives.
pub const APP_IF: &str = "vfloe";
/// The venue kernel's MAC on [`VENUE_IF`].
pub const VENUE_MAC: [u8; 6] = [0x02, 0x00, 0xc6, 0x12, 0x00, 0x01];
/// The venue kernel's address on [`VENUE_IF`].
pub const VENUE_IP: [u8; 4] = [198, 18, 0, 1];
/// The appliance host kernel's MAC on [`APP_IF`].
pub const APP_KERNEL_MAC: [u8; 6] = [0x02, 0x00, 0xc6, 0x12, 0x00, 0x03];
/// The appliance host kernel's address on [`APP_IF`] (unless `--no-kernel-ip`).
pub const APP_KERNEL_IP: [u8; 4] = [198, 18, 0, 3];
/// floe's own (user-space) MAC on [`APP_IF`]: the `net.mac` default.
pub const FLOE_MAC: [u8; 6] = [0x02, 0x00, 0xc6, 0x12, 0x00, 0x02];
/// floe's own (user-space) address: the `net.ip` default.
pub const FLOE_IP: [u8; 4] = [198, 18, 0, 2];

/// Whether this process runs as root (the test hosts need it).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `program` is on the PATH.
pub fn have_command(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The `scripts/netns` to run: `$FLOE_NETNS_SCRIPT`, else the one in the
/// source tree floe was built from.
pub fn script_path() -> PathBuf {
    std::env::var_os("FLOE_NETNS_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/netns")))
}

/// A process-unique pair name: `{prefix}{pid}x{n}`, short enough for any
/// namespace name.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Options of [`TestHosts::up`].
#[derive(Clone, Copy, Debug, Default)]
pub struct HostOptions {
    /// Leave the appliance host's kernel without an address on [`APP_IF`].
    pub no_kernel_ip: bool,
    /// Give the venue a permanent neighbour entry for floe's IP (for tests
    /// with no stack answering ARP).
    pub static_neigh: bool,
}

/// A live pair of test hosts; removed on drop.
#[derive(Debug)]
pub struct TestHosts {
    name: String,
}

fn run_script(args: &[&str]) -> Result<(), String> {
    let script = script_path();
    let out = Command::new("bash")
        .arg(&script)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {}: {}{}",
            script.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

impl TestHosts {
    /// Creates (or repairs) the pair `name`.
    pub fn up(name: &str, opts: HostOptions) -> Result<TestHosts, String> {
        if !is_root() {
            return Err("test hosts need root (network namespaces, veth)".into());
        }
        let mut args = vec!["up", name];
        if opts.no_kernel_ip {
            args.push("--no-kernel-ip");
        }
        if opts.static_neigh {
            args.push("--static-neigh");
        }
        let hosts = TestHosts {
            name: name.to_string(),
        };
        // On failure the guard still removes whatever was made.
        run_script(&args)?;
        Ok(hosts)
    }

    /// A pair with a [`unique_name`].
    pub fn unique(prefix: &str, opts: HostOptions) -> Result<TestHosts, String> {
        TestHosts::up(&unique_name(prefix), opts)
    }

    /// The pair's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The venue namespace.
    pub fn venue_ns(&self) -> String {
        format!("{}-venue", self.name)
    }

    /// The appliance namespace.
    pub fn app_ns(&self) -> String {
        format!("{}-app", self.name)
    }
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        if let Err(e) = run_script(&["down", &self.name]) {
            eprintln!("floe: could not remove test hosts {}: {e}", self.name);
        }
    }
}

/// Moves the calling thread into network namespace `ns` (`/run/netns/ns`)
/// for good.
pub fn enter_netns(ns: &str) -> Result<(), String> {
    let path = format!("/run/netns/{ns}");
    let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
    use std::os::fd::AsRawFd;
    // SAFETY: `file` is an open namespace descriptor for the call's duration.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "setns({path}): {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// A thread running inside a network namespace; see [`in_netns`].
#[derive(Debug)]
pub struct NetnsThread<T> {
    ns: String,
    handle: std::thread::JoinHandle<Option<T>>,
}

impl<T> NetnsThread<T> {
    /// Waits for the thread and returns what its closure returned; an error
    /// if it panicked.
    pub fn join(self) -> Result<T, String> {
        match self.handle.join() {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(format!("the thread never entered {}", self.ns)),
            Err(_) => Err(format!("the thread in {} panicked", self.ns)),
        }
    }

    /// Whether the thread has finished.
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

/// Runs `f` on a new thread that first entered network namespace `ns`;
/// returns once the thread is inside (or the error if it could not enter).
pub fn in_netns<T, F>(ns: &str, f: F) -> Result<NetnsThread<T>, String>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let name = ns.to_string();
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
    let handle = std::thread::Builder::new()
        .name(format!("netns-{ns}"))
        .spawn(move || {
            let entered = enter_netns(&name);
            let ok = entered.is_ok();
            let _ = ready_tx.send(entered);
            ok.then(f)
        })
        .map_err(|e| format!("spawn: {e}"))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(NetnsThread {
            ns: ns.to_string(),
            handle,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("namespace thread died".into()),
    }
}

/// Runs `f` inside `ns` and waits for it.
pub fn run_in_netns<T, F>(ns: &str, f: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    in_netns(ns, f)?.join()
}
