//! `floe demo` as a user runs it: the built binary, its exit code and its
//! output.
//!
//! - `--json --seed 7` prints exactly one JSON object: FILLED, all of the
//!   10,000 shares, children sent, an average price, ordered tick-to-trade
//!   percentiles; two runs with the same seed (side by side) send the same
//!   children and get the same average price;
//! - `--nic af_packet` (root) runs over a veth pair in two namespaces of its
//!   own and removes them afterwards; with the `dpdk` feature, `--nic dpdk`
//!   does the same over DPDK's `net_af_packet` vdev;
//! - on both veth runs the feed loses no ITCH message: every gap (the
//!   session starts at sequence 1 and joins a feed already running) is
//!   re-requested and answered;
//! - bad `--nic` values, `--nic dpdk` without the feature and `--nic
//!   af_packet` without root fail with a message that says why.
//!
//! Every run is bounded: a demo that does not end in time is killed and
//! the test fails with its output.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A demo must end within this (it takes ~10 s in the dev profile).
const DEMO_TIMEOUT: Duration = Duration::from_secs(90);

/// Starts `floe ARGS` with both outputs piped (drained on threads).
struct Run {
    child: std::process::Child,
    out: std::thread::JoinHandle<Vec<u8>>,
    err: std::thread::JoinHandle<Vec<u8>>,
    what: String,
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

impl Run {
    fn start(cmd: &mut Command, what: &str) -> Run {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {what}: {e}"));
        let out = drain(child.stdout.take().unwrap());
        let err = drain(child.stderr.take().unwrap());
        Run {
            child,
            out,
            err,
            what: what.to_string(),
        }
    }

    fn floe(args: &[&str]) -> Run {
        Run::start(
            Command::new(env!("CARGO_BIN_EXE_floe"))
                .args(args)
                .env("RUST_LOG", "info"),
            &format!("floe {}", args.join(" ")),
        )
    }

    /// Waits at most `timeout`; kills the process and fails after it.
    fn wait(mut self, timeout: Duration) -> Output {
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait for the demo") {
                break s;
            }
            if t0.elapsed() >= timeout {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let err = self.err.join().unwrap_or_default();
                panic!(
                    "{} did not end within {timeout:?}; stderr:\n{}",
                    self.what,
                    String::from_utf8_lossy(&err)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        Output {
            status,
            stdout: self.out.join().unwrap_or_default(),
            stderr: self.err.join().unwrap_or_default(),
        }
    }
}

/// The one JSON object a `--json` run printed, checked.
fn summary(out: &Output, what: &str) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "{what}: only one JSON object on stdout: {stdout}"
    );
    let v: Value = serde_json::from_str(lines[0])
        .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {}", lines[0]));
    assert!(v.is_object(), "{what}: {v}");
    assert_eq!(v["status"], "FILLED", "{what}: {v}");
    let total = v["total_quantity"].as_u64().expect("total_quantity");
    assert_eq!(total, 10_000, "{what}: {v}");
    assert_eq!(v["filled_quantity"].as_u64(), Some(total), "{what}: {v}");
    let children = v["children"].as_u64().expect("children");
    // Slices are display 200 ± 25 %: between 10,000/250 and 10,000/150.
    assert!((40..=67).contains(&children), "{what}: {children} children");
    let avg = v["avg_price"].as_str().expect("avg_price");
    assert!(
        avg.split_once('.').is_some_and(|(i, f)| !i.is_empty()
            && f.len() == 4
            && (i.to_owned() + f).bytes().all(|b| b.is_ascii_digit())),
        "{what}: avg_price {avg:?} is a decimal with four places"
    );
    let t = &v["tick_to_trade_ns"];
    let p: Vec<u64> = ["p50", "p99", "p999", "max"]
        .iter()
        .map(|k| {
            t[*k]
                .as_u64()
                .unwrap_or_else(|| panic!("{what}: tick_to_trade_ns.{k} in {t}"))
        })
        .collect();
    assert!(p[0] > 0, "{what}: a measured p50: {t}");
    assert!(
        p.windows(2).all(|w| w[0] <= w[1]),
        "{what}: percentiles ordered: {t}"
    );
    v
}

#[test]
fn json_summary_and_the_same_seed_gives_the_same_run() {
    // Side by side: the outcome must not depend on timing.
    let a = Run::floe(&["demo", "--json", "--seed", "7"]);
    let b = Run::floe(&["demo", "--json", "--seed", "7"]);
    let a = summary(&a.wait(DEMO_TIMEOUT), "first run");
    let b = summary(&b.wait(DEMO_TIMEOUT), "second run");
    assert_eq!(a["children"], b["children"], "{a}\n{b}");
    assert_eq!(a["avg_price"], b["avg_price"], "{a}\n{b}");
    assert_eq!(a["seed"], 7);
    assert_eq!(a["nic"], "memory");
    assert!(
        a["tick_to_trade_samples"].as_u64() > Some(0),
        "samples: {a}"
    );
    eprintln!("demo --json --seed 7:\n{a}\n{b}");
}

#[test]
fn af_packet_over_its_own_veth_pair() {
    if !floe::nic::veth::is_root() {
        eprintln!("af_packet_over_its_own_veth_pair: skipped: needs root (namespaces, AF_PACKET)");
        return;
    }
    let run = Run::floe(&["demo", "--json", "--seed", "7", "--nic", "af_packet"]);
    // The harness names its pair after the process: fapp<pid>x<n>.
    let mine = format!("fapp{}x", run.child.id());
    let out = run.wait(DEMO_TIMEOUT);
    let v = summary(&out, "demo --nic af_packet");
    assert_eq!(v["nic"], "af_packet");
    feed_recovered(&v, "demo --nic af_packet");
    let ns = v["namespaces"]
        .as_array()
        .expect("the namespaces it ran in");
    assert_eq!(ns.len(), 2, "{v}");
    for n in ns {
        let n = n.as_str().expect("a name");
        assert!(n.starts_with(&mine), "{n} is the demo's own");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The venue ran on kernel sockets in its namespace.
    assert!(
        stderr.contains("floe::exchange::server"),
        "the kernel venue's log lines: {stderr}"
    );
    let left: Vec<String> = namespaces()
        .into_iter()
        .filter(|n| n.starts_with(&mine))
        .collect();
    assert!(left.is_empty(), "the demo removed its namespaces: {left:?}");
    eprintln!("demo --nic af_packet --json --seed 7:\n{v}");
}

#[cfg(feature = "dpdk")]
#[test]
fn dpdk_over_the_af_packet_vdev() {
    if !floe::nic::veth::is_root() {
        eprintln!("dpdk_over_the_af_packet_vdev: skipped: needs root (namespaces, CAP_NET_ADMIN)");
        return;
    }
    let out = Run::floe(&["demo", "--json", "--seed", "7", "--nic", "dpdk"]).wait(DEMO_TIMEOUT);
    let v = summary(&out, "demo --nic dpdk");
    assert_eq!(v["nic"], "dpdk");
    feed_recovered(&v, "demo --nic dpdk");
    eprintln!("demo --nic dpdk --json --seed 7:\n{v}");
}

/// A veth run's feed: every gap it saw was re-requested, answered and
/// filled — no ITCH message lost.
fn feed_recovered(v: &Value, what: &str) {
    let n = |k: &str| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("{what}: {k} in {v}"))
    };
    assert_eq!(
        n("feed_messages_lost"),
        0,
        "{what}: ITCH messages lost: {v}"
    );
    if n("feed_gaps") > 0 {
        assert!(n("feed_rerequests") > 0, "{what}: gaps re-requested: {v}");
        assert!(
            n("venue_rerequests_answered") > 0,
            "{what}: the venue answered the re-requests: {v}"
        );
    }
    assert!(n("market_data_messages") > 0, "{what}: {v}");
}

/// Network namespaces present now.
fn namespaces() -> Vec<String> {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn fails_with(out: &Output, what: &str, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what} must fail");
    assert!(
        stderr.contains(needle),
        "{what}: the error says {needle:?}: {stderr}"
    );
    assert!(
        out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains("FILLED"),
        "{what}: no run"
    );
}

#[test]
fn unknown_nic_values_are_refused() {
    let out = Run::floe(&["demo", "--nic", "tap0"]).wait(Duration::from_secs(30));
    fails_with(&out, "--nic tap0", "unknown NIC backend");
    fails_with(&out, "--nic tap0", "af_packet");
}

#[cfg(not(feature = "dpdk"))]
#[test]
fn dpdk_without_the_feature_says_how_to_get_it() {
    let out = Run::floe(&["demo", "--nic", "dpdk"]).wait(Duration::from_secs(30));
    fails_with(&out, "--nic dpdk", "--features dpdk");
}

#[test]
fn af_packet_without_root_says_so() {
    let mut cmd = if floe::nic::veth::is_root() {
        if !floe::nic::veth::have_command("setpriv") {
            eprintln!("af_packet_without_root_says_so: skipped: no setpriv to drop root");
            return;
        }
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_floe"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_floe"))
    };
    cmd.args(["demo", "--nic", "af_packet"]);
    let out =
        Run::start(&mut cmd, "floe demo --nic af_packet (not root)").wait(Duration::from_secs(30));
    fails_with(&out, "--nic af_packet without root", "needs root");
}
