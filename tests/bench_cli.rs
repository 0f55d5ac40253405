//! `floe bench` end to end through the binary: a short run on the memory
//! NIC with `--json`, `--hgrm` and `--plot`, checked for consistent counts
//! and percentiles, a parseable percentile distribution and an SVG with the
//! curves. Bounded: the child is killed after 120 s.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_bounded(cmd: &mut Command, limit: Duration) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start floe bench");
    let until = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > until {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "floe bench did not finish within {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn short_memory_run_writes_json_hgrm_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let hgrm = dir.path().join("ttt.hgrm");
    let svg = dir.path().join("ttt.svg");
    let out = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_floe"))
            .args(["bench", "--events", "20000", "--warmup", "1000", "--json"])
            .arg("--hgrm")
            .arg(&hgrm)
            .arg("--plot")
            .arg(&svg)
            .arg("--journal-dir")
            .arg(dir.path())
            .env("RUST_LOG", "warn"),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "floe bench failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["nic"], "memory");
    assert_eq!(v["events"], 20000);
    let f = &v["floe"];
    let n = |k: &str, f: &serde_json::Value| f[k].as_u64().unwrap_or_else(|| panic!("{k}: {f}"));
    let ttt = &f["tick_to_trade_ns"];
    assert_eq!(n("count", ttt), 20000, "one child per measured trigger");
    assert_eq!(n("count", &f["fill_ns"]), 10000);
    assert_eq!(n("count", &f["market_data_ns"]), 10000);
    assert_eq!(n("count", &f["round_trip_ns"]), 20000);
    let (min, p50, p99, p9999, max) = (
        n("min", ttt),
        n("p50", ttt),
        n("p99", ttt),
        n("p99_99", ttt),
        n("max", ttt),
    );
    assert!(
        min > 0 && min <= p50 && p50 <= p99 && p99 <= p9999 && p9999 <= max,
        "{ttt}"
    );
    // The venue sees the child only after it was handed to the NIC.
    assert!(n("p50", &f["round_trip_ns"]) >= p50, "{f}");
    // Warm-up and set-up children come on top of one per trigger.
    assert!(n("orders_sent", &f["counters"]) >= 21_000, "{f}");
    assert!(v["peer"].is_null() && v["ratio"].is_null());

    let text = std::fs::read_to_string(&hgrm).expect("hgrm written");
    let rows: Vec<Vec<f64>> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.contains("Percentile"))
        .map(|l| {
            l.split_whitespace()
                .map(|c| c.parse::<f64>().expect(l))
                .collect()
        })
        .collect();
    assert!(rows.len() > 10, "{text}");
    assert!(rows
        .windows(2)
        .all(|w| w[0][0] <= w[1][0] && w[0][1] <= w[1][1]));
    let last = rows.last().unwrap();
    assert_eq!((last[1], last[2]), (1.0, 20000.0));
    // Values are µs: the last row is the maximum.
    assert!(
        (last[0] * 1000.0 - max as f64).abs() <= max as f64 * 0.01 + 1.0,
        "{last:?} vs {max}"
    );
    assert!(text.contains("Total count    =        20000]"));

    let svg = std::fs::read_to_string(&svg).expect("svg written");
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.matches("<polyline").count() >= 2, "two curves");
    assert!(svg.contains("market data -&gt; re-price") || svg.contains("market data -> re-price"));
}

/// The veth run (root): floe on AF_PACKET and the kernel-socket peer over
/// the same veth pair, both measured, with their ratio.
#[test]
fn short_af_packet_run_measures_floe_and_the_kernel_peer() {
    if !floe::nic::veth::is_root() {
        eprintln!("skipped: floe bench --nic af_packet needs root (namespaces, veth, raw sockets)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_floe"))
            .args([
                "bench",
                "--nic",
                "af_packet",
                "--events",
                "2000",
                "--warmup",
                "200",
                "--block",
                "200",
                "--json",
            ])
            .arg("--journal-dir")
            .arg(dir.path())
            .env("RUST_LOG", "warn"),
        Duration::from_secs(120),
    );
    assert!(
        out.status.success(),
        "floe bench failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["nic"], "af_packet");
    for side in ["floe", "peer"] {
        let t = &v[side]["tick_to_trade_ns"];
        assert_eq!(t["count"], 2000, "{side}: {t}");
        assert!(t["p50"].as_u64().unwrap() > 0, "{side}: {t}");
    }
    let r = v["ratio"]["p50"].as_f64().expect("a ratio");
    assert!(r > 0.0 && r.is_finite(), "{r}");
}

/// The DPDK run (root, `--features dpdk`): floe on DPDK's `net_af_packet`
/// vdev and the kernel-socket peer over the same veth pair, both measured,
/// with their ratio; the table names the DPDK side.
#[cfg(feature = "dpdk")]
#[test]
fn short_dpdk_run_measures_floe_and_the_kernel_peer() {
    if !floe::nic::veth::is_root() {
        eprintln!(
            "skipped: floe bench --nic dpdk needs root (namespaces, veth, CAP_NET_ADMIN for the \
             net_af_packet vdev)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("dpdk.json");
    let out = run_bounded(
        Command::new(env!("CARGO_BIN_EXE_floe"))
            .args([
                "bench", "--nic", "dpdk", "--events", "2000", "--warmup", "200", "--block", "200",
            ])
            .arg("--json-out")
            .arg(&json)
            .arg("--journal-dir")
            .arg(dir.path())
            .env("RUST_LOG", "warn"),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "floe bench --nic dpdk failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // The table: both sides and their ratio.
    assert!(
        stdout.contains("floe (DPDK net_af_packet, veth)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("peer (kernel UDP + TCP sockets, veth)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("floe / peer: tick-to-trade p50"),
        "{stdout}"
    );

    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("JSON written")).expect("JSON");
    assert_eq!(v["nic"], "dpdk");
    assert_eq!(v["events"], 2000);
    let n = |t: &serde_json::Value, k: &str| t[k].as_u64().unwrap_or_else(|| panic!("{k}: {t}"));
    for side in ["floe", "peer"] {
        let f = &v[side];
        let t = &f["tick_to_trade_ns"];
        assert_eq!(n(t, "count"), 2000, "{side}: {t}");
        assert_eq!(n(&f["fill_ns"], "count"), 1000, "{side}: {f}");
        assert_eq!(n(&f["market_data_ns"], "count"), 1000, "{side}: {f}");
        let p: Vec<u64> = ["min", "p50", "p90", "p99", "p99_9", "max"]
            .iter()
            .map(|k| n(t, k))
            .collect();
        assert!(p[0] > 0, "{side}: a measured minimum: {t}");
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "{side}: ordered: {t}");
        // Over a veth pair a child takes at least a microsecond and, with
        // the 5 s child timeout, never more than that.
        assert!(
            (1_000..5_000_000_000).contains(&p[1]),
            "{side}: p50 {} ns",
            p[1]
        );
        // The venue sees the child only after it was handed to the NIC.
        assert!(n(&f["round_trip_ns"], "p50") >= p[1], "{side}: {f}");
        assert!(n(&f["counters"], "orders_sent") >= 2_200, "{side}: {f}");
    }
    let r = &v["ratio"];
    for k in ["p50", "p99"] {
        let x = r[k].as_f64().unwrap_or_else(|| panic!("ratio.{k}: {r}"));
        assert!(x > 0.0 && x.is_finite(), "ratio.{k} {x}");
    }
}
