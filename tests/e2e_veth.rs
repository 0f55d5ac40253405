//! End to end over veth, as separate processes: `floe exchange` (the
//! simulated venue on kernel sockets) in the venue namespace of a
//! `scripts/netns` pair and `floe run` (the appliance on its own user-space
//! stack, AF_PACKET or DPDK on `vfloe`) in the appliance namespace, both the
//! built binary under `ip netns exec`, driven with `floe order` and checked
//! against each other afterwards: the venue's audit trail against
//! `floe journal inspect --json` of the appliance's journal (same order ids,
//! same executed quantity per id), `floe journal verify`, and the parent's
//! status over the REST API.
//!
//! - `icebergs_fill_over_af_packet`: three icebergs, no faults.
//! - `icebergs_fill_over_dpdk_vdev` (feature `dpdk`): the same with the DPDK
//!   backend over the `net_af_packet` vdev.
//! - `sigkill_restarts_fill_exactly`: `floe run` is SIGKILLed at seeded
//!   moments while an iceberg works and restarted on the same journal; no id
//!   is accepted twice, no prefix of the audit executes more than the total,
//!   and the parent ends FILLED with exactly its total.
//! - `venue_drop_cancel_on_disconnect` / `venue_drop_without_cancel_on_disconnect`:
//!   the venue's kernel destroys the order connection (`ss -K`); floe
//!   reconnects at the right sequence number and either replaces its
//!   canceled child with a new slice or keeps the child that survived.
//! - `venue_restart_is_a_new_session`: a restarted `floe exchange` keeps no
//!   session state (new session name, no orders); floe refuses to trade on
//!   the new session instead of taking its sequence numbers for duplicates.
//!
//! Every test makes its own namespace pair (pid-based name) and removes it,
//! with its processes, when it ends, even on failure. The tests run one at
//! a time (they share two cores with the machine). They need root; without
//! it, or without `ip netns`, they say why and pass.

use floe::nic::veth::{self, HostOptions, TestHosts};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const FLOE: &str = env!("CARGO_BIN_EXE_floe");
const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");
/// The account floe.example.toml logs in as (the audit's session name).
const ACCOUNT: &str = "FLOE01";
/// The API key of floe.example.toml.
const KEY: (&str, &str) = ("desk", "desk-secret-0123456789");

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why these tests cannot run here, if they cannot.
fn unavailable() -> Option<String> {
    if !veth::is_root() {
        return Some("needs root (network namespaces, veth, AF_PACKET)".into());
    }
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!(
            "`ip netns list` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Some(format!("cannot run `ip netns`: {e}")),
    }
}

/// Polls `cond` every few milliseconds until it yields a value; panics with
/// `what` (and the bed's logs, through the guard) after `timeout`.
fn wait_for<T>(what: &str, timeout: Duration, mut cond: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return v;
        }
        assert!(Instant::now() < end, "timed out after {timeout:?}: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------

/// A `floe` process inside a namespace; SIGKILLed and reaped on drop.
struct Proc {
    name: String,
    child: Option<Child>,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    fn spawn(ns: &str, dir: &Path, name: &str, args: &[&str]) -> Proc {
        let out = dir.join(format!("{name}.out"));
        let err = dir.join(format!("{name}.err"));
        let child = Command::new("ip")
            .args(["netns", "exec", ns, FLOE])
            .args(args)
            .current_dir(dir)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).expect("create stdout file"))
            .stderr(fs::File::create(&err).expect("create stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc {
            name: name.to_string(),
            child: Some(child),
            out,
            err,
        }
    }

    fn stdout(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Still running.
    fn alive(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// SIGKILL, then reap.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// `sig` (SIGTERM or SIGINT), then a bounded wait for the exit.
    fn stop(&mut self, sig: i32) -> ExitStatus {
        let pid = self.pid();
        let mut c = self.child.take().expect("process already stopped");
        // SAFETY: `pid` is our own child, not yet reaped (so not reused).
        unsafe { libc::kill(pid, sig) };
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return st;
            }
            if Instant::now() > end {
                let _ = c.kill();
                let _ = c.wait();
                panic!("{} did not stop within 10 s of signal {sig}", self.name);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn tail(text: &str, lines: usize) -> String {
    let v: Vec<&str> = text.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------
// The test bed
// ---------------------------------------------------------------------------

/// A namespace pair with a venue and an appliance. Field order is drop
/// order: processes first, then the directory, then the namespaces.
struct Bed {
    venue: Option<Proc>,
    app: Option<Proc>,
    /// Stopped processes, kept for their logs.
    past: Vec<Proc>,
    dir: tempfile::TempDir,
    venue_cfg: PathBuf,
    app_cfg: PathBuf,
    audit: PathBuf,
    journal: PathBuf,
    app_runs: u32,
    venue_runs: u32,
    hosts: TestHosts,
}

impl Drop for Bed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let procs = self
                .past
                .iter()
                .chain(self.venue.iter())
                .chain(self.app.iter());
            for p in procs {
                eprintln!(
                    "---- {} stdout\n{}\n---- {} stderr (tail)\n{}",
                    p.name,
                    tail(&p.stdout(), 10),
                    p.name,
                    tail(&p.stderr(), 30)
                );
            }
        }
        // Processes before the namespaces they run in.
        if let Some(p) = self.app.as_mut() {
            p.kill();
        }
        if let Some(p) = self.venue.as_mut() {
            p.kill();
        }
    }
}

/// What to change in the example configurations.
#[derive(Clone, Copy, Default)]
struct BedOptions {
    /// The venue's `cancel_on_disconnect` on the OUCH 5.0 port.
    no_cancel_on_disconnect: bool,
    /// The DPDK backend over the `net_af_packet` vdev instead of AF_PACKET.
    dpdk: bool,
}

fn replace_once(text: &str, from: &str, to: &str, file: &str) -> String {
    assert!(
        text.contains(from),
        "{file} no longer contains `{from}`: update tests/e2e_veth.rs"
    );
    text.replacen(from, to, 1)
}

impl Bed {
    /// The namespaces and the configurations (from the example files), no
    /// process yet.
    fn new(prefix: &str, opts: BedOptions) -> Bed {
        let hosts = TestHosts::unique(prefix, HostOptions::default())
            .unwrap_or_else(|e| panic!("create the namespace pair: {e}"));
        let dir = tempfile::tempdir().expect("temp dir");
        let journal = dir.path().join("journal");
        let audit = dir.path().join("audit.jsonl");

        let venue_example = format!("{MANIFEST}/venue.example.toml");
        let mut venue = fs::read_to_string(&venue_example).expect("read venue.example.toml");
        if opts.no_cancel_on_disconnect {
            venue = replace_once(
                &venue,
                "cancel_on_disconnect = true",
                "cancel_on_disconnect = false",
                "venue.example.toml",
            );
        }
        let venue_cfg = dir.path().join("venue.toml");
        fs::write(&venue_cfg, venue).expect("write venue.toml");

        let app_example = format!("{MANIFEST}/floe.example.toml");
        let mut app = fs::read_to_string(&app_example).expect("read floe.example.toml");
        app = replace_once(
            &app,
            "dir = \"floe-journal\"",
            &format!("dir = \"{}\"", journal.display()),
            "floe.example.toml",
        );
        // Two shared cores: the hot thread sleeps when idle.
        app = replace_once(
            &app,
            "idle = \"spin_yield\"",
            "idle = \"park\"",
            "floe.example.toml",
        );
        if opts.dpdk {
            app = replace_once(
                &app,
                "backend = \"af_packet\"",
                "backend = \"dpdk\"",
                "floe.example.toml",
            );
            app = replace_once(
                &app,
                "# dpdk_config = \"dpdk-config/af_packet-vdev.conf\"",
                &format!("dpdk_config = \"{MANIFEST}/dpdk-config/af_packet-vdev.conf\""),
                "floe.example.toml",
            );
        }
        let app_cfg = dir.path().join("floe.toml");
        fs::write(&app_cfg, app).expect("write floe.toml");

        Bed {
            venue: None,
            app: None,
            past: Vec::new(),
            dir,
            venue_cfg,
            app_cfg,
            audit,
            journal,
            app_runs: 0,
            venue_runs: 0,
            hosts,
        }
    }

    /// Starts `floe exchange` and waits for its start-up line.
    fn start_venue(&mut self) {
        assert!(self.venue.is_none());
        self.venue_runs += 1;
        let cfg = self.venue_cfg.display().to_string();
        let audit = self.audit.display().to_string();
        let name = format!("venue{}", self.venue_runs);
        let mut p = Proc::spawn(
            &self.hosts.venue_ns(),
            self.dir.path(),
            &name,
            &["exchange", "--config", &cfg, "--audit", &audit],
        );
        wait_for(
            "floe exchange prints its addresses",
            Duration::from_secs(20),
            || {
                assert!(p.alive(), "floe exchange exited:\n{}", p.stderr());
                p.stdout().contains("floe exchange listening").then_some(())
            },
        );
        self.venue = Some(p);
    }

    /// Starts `floe run` on the bed's journal and waits until it is up and
    /// logged in (its `logins`-th login of this process: 1).
    fn start_app(&mut self) {
        assert!(self.app.is_none());
        self.app_runs += 1;
        let cfg = self.app_cfg.display().to_string();
        let name = format!("app{}", self.app_runs);
        let mut p = Proc::spawn(
            &self.hosts.app_ns(),
            self.dir.path(),
            &name,
            &["run", "--config", &cfg],
        );
        wait_for("floe run is up", Duration::from_secs(30), || {
            assert!(p.alive(), "floe run exited:\n{}", p.stderr());
            p.stdout().contains("floe run: up").then_some(())
        });
        self.app = Some(p);
    }

    fn app(&self) -> &Proc {
        self.app.as_ref().expect("floe run is not running")
    }

    fn venue(&self) -> &Proc {
        self.venue.as_ref().expect("floe exchange is not running")
    }

    /// Logins of the running appliance so far.
    fn app_logins(&self) -> usize {
        count_lines(&self.app().stderr(), " logged in")
    }

    /// Waits until the running appliance has logged in `n` times.
    fn wait_logins(&self, n: usize, timeout: Duration) {
        wait_for(&format!("floe run logs in ({n} login(s))"), timeout, || {
            (self.app_logins() >= n).then_some(())
        });
    }

    fn kill_app(&mut self) {
        let mut p = self.app.take().expect("floe run is not running");
        p.kill();
        self.past.push(p);
    }

    fn stop_app(&mut self) -> ExitStatus {
        let mut p = self.app.take().expect("floe run is not running");
        let st = p.stop(libc::SIGTERM);
        self.past.push(p);
        st
    }

    fn stop_venue(&mut self, sig: i32) -> Option<ExitStatus> {
        let mut p = self.venue.take().expect("floe exchange is not running");
        let st = if sig == libc::SIGKILL {
            p.kill();
            None
        } else {
            Some(p.stop(sig))
        };
        self.past.push(p);
        st
    }

    /// `floe order ARGS --json` in the appliance namespace: the JSON answer.
    fn order(&self, args: &[&str]) -> Value {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.hosts.app_ns(), FLOE, "order"])
            .args(args)
            .arg("--json")
            .env("FLOE_KEY", KEY.0)
            .env("FLOE_SECRET", KEY.1)
            .env_remove("FLOE_URL")
            .output()
            .expect("run floe order");
        assert!(
            out.status.success(),
            "floe order {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("floe order {args:?}: not JSON ({e})"))
    }

    /// Submits an iceberg; returns its parent id.
    fn submit(&self, spec: &Iceberg) -> u32 {
        let qty = spec.total.to_string();
        let display = spec.display.to_string();
        let min = spec.min_delay_ms.to_string();
        let max = spec.max_delay_ms.to_string();
        let mut args = vec![
            "submit",
            "--client-order-id",
            spec.client_order_id,
            "--symbol",
            spec.symbol,
            "--side",
            spec.side,
            "--quantity",
            &qty,
            "--display",
            &display,
            "--variance",
            spec.variance,
            "--limit",
            spec.limit,
            "--min-delay-ms",
            &min,
            "--max-delay-ms",
            &max,
        ];
        if spec.peg {
            args.push("--peg");
        }
        let v = self.order(&args);
        v["parent_order_id"]
            .as_u64()
            .unwrap_or_else(|| panic!("submit answered {v}")) as u32
    }

    fn get(&self, parent: u32) -> Value {
        self.order(&["get", &parent.to_string()])
    }

    /// Waits until the parent is FILLED; returns its status.
    fn wait_filled(&self, parent: u32, timeout: Duration) -> Value {
        wait_for(&format!("parent {parent} FILLED"), timeout, || {
            let v = self.get(parent);
            let status = v["status"].as_str().unwrap_or("");
            assert!(
                !matches!(status, "REJECTED" | "CANCELLED"),
                "parent {parent} ended {status}: {v}"
            );
            (status == "FILLED").then_some(v)
        })
    }

    fn audit(&self) -> Vec<AuditLine> {
        read_audit(&self.audit)
    }

    /// `floe journal inspect --json`: the records (and whether the walk was
    /// clean: a journal being written may end in a partial record).
    fn journal(&self) -> (Journal, bool) {
        let out = Command::new(FLOE)
            .args(["journal", "inspect", "--json"])
            .arg(&self.journal)
            .output()
            .expect("run floe journal inspect");
        let text = String::from_utf8_lossy(&out.stdout);
        (Journal::parse(&text), out.status.success())
    }

    /// `floe journal verify --config`: exit 0 and its summary.
    fn verify_journal(&self) -> String {
        let out = Command::new(FLOE)
            .args(["journal", "verify", "--config"])
            .arg(&self.app_cfg)
            .arg(&self.journal)
            .output()
            .expect("run floe journal verify");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "floe journal verify: {text}");
        assert!(text.contains("valid:"), "floe journal verify: {text}");
        text
    }

    /// Destroys the venue's order connection(s) to floe in the venue's
    /// kernel (`ss -K`: the socket is aborted, a RST goes to floe).
    fn drop_connection(&self) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.hosts.venue_ns()])
            .args(["ss", "-K", "-t", "dst", "198.18.0.2"])
            .output()
            .expect("run ss -K");
        assert!(
            out.status.success(),
            "ss -K: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn count_lines(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

/// An iceberg as `floe order submit` takes it.
struct Iceberg {
    client_order_id: &'static str,
    symbol: &'static str,
    side: &'static str,
    total: u64,
    display: u64,
    variance: &'static str,
    limit: &'static str,
    min_delay_ms: u64,
    max_delay_ms: u64,
    peg: bool,
}

impl Iceberg {
    fn aapl(client_order_id: &'static str, total: u64) -> Iceberg {
        Iceberg {
            client_order_id,
            symbol: "AAPL",
            side: "BUY",
            total,
            display: 100,
            variance: "0",
            limit: "190.50",
            min_delay_ms: 0,
            max_delay_ms: 0,
            peg: true,
        }
    }
}

fn qty_of(v: &Value, key: &str) -> u64 {
    match &v[key] {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("{key} = {s:?}")),
        Value::Number(n) => n.as_u64().unwrap_or_else(|| panic!("{key} = {n}")),
        other => panic!("{key} = {other} in {v}"),
    }
}

// ---------------------------------------------------------------------------
// The venue's audit and the appliance's journal
// ---------------------------------------------------------------------------

/// One line of `floe exchange --audit`.
#[derive(Clone, Debug, serde::Deserialize)]
struct AuditLine {
    #[allow(dead_code)]
    ts_ns: u64,
    event: String,
    session: String,
    id: String,
    #[allow(dead_code)]
    symbol: String,
    qty: u64,
    price: String,
    #[serde(default)]
    reason: Option<String>,
}

/// The account's complete audit lines (a line being written is left out).
fn read_audit(path: &Path) -> Vec<AuditLine> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete
        .lines()
        .map(|l| serde_json::from_str::<AuditLine>(l).unwrap_or_else(|e| panic!("audit {l}: {e}")))
        .filter(|a| a.session == ACCOUNT)
        .collect()
}

/// The open quantity of every order the venue holds live for the account.
fn venue_live(audit: &[AuditLine]) -> BTreeMap<String, u64> {
    let mut open: BTreeMap<String, u64> = BTreeMap::new();
    for a in audit {
        match a.event.as_str() {
            "accepted" => {
                open.insert(a.id.clone(), a.qty);
            }
            "executed" | "canceled" => {
                let o = open.entry(a.id.clone()).or_default();
                *o = o.saturating_sub(a.qty);
            }
            _ => {}
        }
    }
    open.retain(|_, q| *q > 0);
    open
}

/// Venue decisions on orders floe sent (accepted or refused).
fn decisions(audit: &[AuditLine]) -> usize {
    audit
        .iter()
        .filter(|a| a.event == "accepted" || a.event == "refused")
        .count()
}

/// The records of `floe journal inspect --json`, in sequence order.
struct Journal {
    records: Vec<Value>,
}

impl Journal {
    fn parse(text: &str) -> Journal {
        let records = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["kind"] == "record")
            .collect();
        Journal { records }
    }

    fn of_type<'a>(&'a self, ty: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.records.iter().filter(move |r| r["type"] == ty)
    }

    fn venue_events<'a>(&'a self, event: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.of_type("venue_event")
            .filter(move |r| r["event"] == event)
    }

    /// Order ref → parent, from every child intent.
    fn ref_parent(&self) -> BTreeMap<u64, u64> {
        self.of_type("child_intent")
            .map(|r| (num(r, "order_ref"), num(r, "parent")))
            .collect()
    }

    /// Executed shares per order ref.
    fn executed(&self) -> BTreeMap<u64, u64> {
        let mut m = BTreeMap::new();
        for r in self.venue_events("executed") {
            *m.entry(num(r, "order_ref")).or_default() += num(r, "qty");
        }
        m
    }

    /// Every journaled soup sequence number, in journal order.
    fn soup_seqs(&self) -> Vec<u64> {
        self.of_type("venue_event")
            .map(|r| num(r, "soup_seq"))
            .collect()
    }
}

fn num(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("record without {key}: {v}"))
}

/// What the checks of a finished run found.
#[derive(Debug, Default)]
struct Crosscheck {
    /// `refused` lines with an `ignored:` reason (the venue's dedupe).
    ignored: usize,
    /// Shares executed per parent.
    executed: BTreeMap<u64, u64>,
}

/// Audit against journal: every id accepted at most once; every refusal a
/// dedupe (`ignored: …`) unless `refusals_allowed`; executed shares per
/// parent never above its total at any prefix of the audit; the same ids
/// accepted on both sides and the same executed quantity per id; every
/// journaled soup sequence number exactly once, from 1, without a gap.
fn crosscheck(audit: &[AuditLine], journal: &Journal, totals: &BTreeMap<u64, u64>) -> Crosscheck {
    let ref_parent = journal.ref_parent();
    let mut seen = BTreeSet::new();
    let mut per_parent: BTreeMap<u64, u64> = BTreeMap::new();
    let mut audit_exec: BTreeMap<u64, u64> = BTreeMap::new();
    let mut audit_accepted = BTreeSet::new();
    let mut ignored = 0;
    for (i, a) in audit.iter().enumerate() {
        let id: u64 = a
            .id
            .parse()
            .unwrap_or_else(|_| panic!("audit line {i}: OUCH 5.0 id {:?} is not a number", a.id));
        let parent = *ref_parent
            .get(&id)
            .unwrap_or_else(|| panic!("audit line {i}: id {id} is no child intent of the journal"));
        match a.event.as_str() {
            "accepted" => {
                assert!(seen.insert(id), "audit line {i}: id {id} accepted twice");
                audit_accepted.insert(id);
            }
            "refused" => {
                let reason = a.reason.as_deref().unwrap_or("");
                assert!(
                    reason.starts_with("ignored:"),
                    "audit line {i}: id {id} refused: {reason}"
                );
                ignored += 1;
            }
            "executed" => {
                let e = per_parent.entry(parent).or_default();
                *e += a.qty;
                let total = totals
                    .get(&parent)
                    .copied()
                    .unwrap_or_else(|| panic!("no total for parent {parent}"));
                assert!(
                    *e <= total,
                    "audit line {i}: parent {parent} executed {e} > total {total}"
                );
                *audit_exec.entry(id).or_default() += a.qty;
            }
            "canceled" => {}
            other => panic!("audit line {i}: unknown event {other}"),
        }
    }
    let journal_accepted: BTreeSet<u64> = journal
        .venue_events("accepted")
        .chain(journal.venue_events("replaced"))
        .map(|r| num(r, "order_ref"))
        .collect();
    assert_eq!(
        audit_accepted, journal_accepted,
        "ids the venue accepted (audit) vs ids floe saw accepted or replaced (journal)"
    );
    assert_eq!(
        audit_exec,
        journal.executed(),
        "executed shares per id: audit vs journal"
    );
    let seqs = journal.soup_seqs();
    let want: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(
        seqs, want,
        "journaled soup sequence numbers: each once, from 1, no gap"
    );
    Crosscheck {
        ignored,
        executed: per_parent,
    }
}

/// The `requested` and `served` sequence numbers of each of the venue's
/// accepted logins of the account.
fn venue_logins(venue_stderr: &str) -> Vec<(u64, u64)> {
    let field = |l: &str, k: &str| -> u64 {
        l.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {k} in {l}"))
    };
    venue_stderr
        .lines()
        .filter(|l| l.contains("login accepted") && l.contains(ACCOUNT))
        .map(|l| (field(l, "requested="), field(l, "served=")))
        .collect()
}

fn skip_reason() -> bool {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return true;
    }
    false
}

// ---------------------------------------------------------------------------
// 1, 2: no faults
// ---------------------------------------------------------------------------

fn icebergs_fill(prefix: &str, opts: BedOptions) {
    let mut bed = Bed::new(prefix, opts);
    bed.start_venue();
    bed.start_app();
    let backend = if opts.dpdk { "(Dpdk)" } else { "(AfPacket)" };
    let up = bed.app().stdout();
    assert!(up.contains(&format!("up on vfloe {backend}")), "{up}");
    bed.wait_logins(1, Duration::from_secs(20));
    let specs = [
        Iceberg {
            variance: "0.25",
            min_delay_ms: 10,
            max_delay_ms: 50,
            ..Iceberg::aapl("e2e-aapl", 2000)
        },
        Iceberg {
            client_order_id: "e2e-msft",
            symbol: "MSFT",
            side: "SELL",
            total: 1500,
            display: 200,
            variance: "0.1",
            limit: "419.50",
            min_delay_ms: 0,
            max_delay_ms: 20,
            peg: true,
        },
        Iceberg {
            client_order_id: "e2e-nvda",
            symbol: "NVDA",
            side: "BUY",
            total: 1000,
            display: 100,
            variance: "0",
            limit: "120.50",
            min_delay_ms: 0,
            max_delay_ms: 0,
            peg: true,
        },
    ];
    let mut totals = BTreeMap::new();
    for s in &specs {
        let p = bed.submit(s);
        totals.insert(u64::from(p), s.total);
    }
    for (&p, &total) in &totals {
        let v = bed.wait_filled(p as u32, Duration::from_secs(60));
        assert_eq!(qty_of(&v, "filled_quantity"), total, "{v}");
        assert_eq!(qty_of(&v, "live_quantity"), 0, "{v}");
    }
    let st = bed.stop_app();
    assert!(st.success(), "floe run exited {st}");
    let out = bed.past.last().expect("stopped app").stdout();
    assert!(out.contains("floe run: stopped"), "{out}");
    let st = bed.stop_venue(libc::SIGTERM).expect("exit status");
    assert!(st.success(), "floe exchange exited {st}");

    let audit = bed.audit();
    let (journal, clean) = bed.journal();
    assert!(
        clean,
        "floe journal inspect of a stopped appliance walks every record"
    );
    let c = crosscheck(&audit, &journal, &totals);
    assert_eq!(c.ignored, 0, "no fault, so no duplicate reached the venue");
    assert_eq!(c.executed, totals, "executed shares per parent (audit)");
    let logins = venue_logins(&bed.past.last().expect("stopped venue").stderr());
    assert_eq!(logins, vec![(1, 1)], "one login, from sequence 1");
    let summary = bed.verify_journal();
    eprintln!(
        "{}: {} audit lines, {} journal records; {}",
        bed.hosts.name(),
        audit.len(),
        journal.records.len(),
        summary.trim()
    );
}

#[test]
fn icebergs_fill_over_af_packet() {
    if skip_reason() {
        return;
    }
    let _serial = serial();
    icebergs_fill("e2ea", BedOptions::default());
}

#[cfg(feature = "dpdk")]
#[test]
fn icebergs_fill_over_dpdk_vdev() {
    if skip_reason() {
        return;
    }
    let _serial = serial();
    icebergs_fill(
        "e2ed",
        BedOptions {
            dpdk: true,
            ..BedOptions::default()
        },
    );
}

// ---------------------------------------------------------------------------
// 3: SIGKILL
// ---------------------------------------------------------------------------

/// SIGKILLs survived by `sigkill_restarts_fill_exactly`.
const KILLS: u32 = 6;

#[test]
fn sigkill_restarts_fill_exactly() {
    if skip_reason() {
        return;
    }
    let _serial = serial();
    let seed: u64 = std::env::var("FLOE_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_e2e0);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut bed = Bed::new("e2ek", BedOptions::default());
    bed.start_venue();
    bed.start_app();
    bed.wait_logins(1, Duration::from_secs(20));
    let spec = Iceberg {
        variance: "0.2",
        min_delay_ms: 20,
        max_delay_ms: 60,
        ..Iceberg::aapl("e2e-kill", 6000)
    };
    let parent = bed.submit(&spec);
    let totals = BTreeMap::from([(u64::from(parent), spec.total)]);
    let mut in_flight_kills = 0;
    let mut venue_live_at_kill = Vec::new();
    let mut restart_ms = Vec::new();
    for kill in 1..=KILLS {
        // This run has sent some children: k more venue decisions.
        let base = decisions(&bed.audit());
        let k = rng.random_range(1..=5usize);
        wait_for(
            &format!("kill {kill}: {k} venue decision(s) on orders of this run"),
            Duration::from_secs(20),
            || {
                let a = bed.audit();
                let filled: u64 = a
                    .iter()
                    .filter(|l| l.event == "executed")
                    .map(|l| l.qty)
                    .sum();
                assert!(
                    filled < spec.total,
                    "the iceberg filled before kill {kill} of {KILLS}: make it longer"
                );
                (decisions(&a) >= base + k).then_some(())
            },
        );
        // Every other kill also waits for a child resting at the venue
        // (many slices fill on entry, so a random moment often finds none).
        if kill % 2 == 1 {
            wait_for(
                &format!("kill {kill}: a child live at the venue"),
                Duration::from_secs(20),
                || (!venue_live(&bed.audit()).is_empty()).then_some(()),
            );
        }
        // Then a seeded moment within the next few milliseconds.
        std::thread::sleep(Duration::from_millis(rng.random_range(0..12u64)));
        bed.kill_app();
        // No process of ours is on the connection now: the audit shows what
        // the venue holds live for the account at the kill.
        let live = venue_live(&bed.audit());
        if !live.is_empty() {
            in_flight_kills += 1;
        }
        venue_live_at_kill.push(live.len());
        let restarted = Instant::now();
        bed.start_app();
        bed.wait_logins(1, Duration::from_secs(20));
        restart_ms.push(restarted.elapsed().as_millis());
    }
    let v = bed.wait_filled(parent, Duration::from_secs(60));
    assert_eq!(qty_of(&v, "filled_quantity"), spec.total, "{v}");
    let st = bed.stop_app();
    assert!(st.success(), "floe run exited {st}");
    bed.stop_venue(libc::SIGTERM);

    let audit = bed.audit();
    let (journal, clean) = bed.journal();
    assert!(clean, "floe journal inspect walks every record");
    let c = crosscheck(&audit, &journal, &totals);
    assert_eq!(c.executed, totals, "executed shares (audit)");
    let journal_filled: u64 = journal
        .venue_events("executed")
        .filter(|r| journal.ref_parent().get(&num(r, "order_ref")) == Some(&u64::from(parent)))
        .map(|r| num(r, "qty"))
        .sum();
    assert_eq!(journal_filled, spec.total, "executed shares (journal)");
    let summary = bed.verify_journal();
    assert!(
        in_flight_kills >= 1,
        "no kill found a child live at the venue: {venue_live_at_kill:?}"
    );
    eprintln!(
        "sigkill: seed {seed:#x}; {KILLS} SIGKILLs survived, {in_flight_kills} with a child live \
         at the venue (live orders at each kill: {venue_live_at_kill:?}); restart to login \
         (ms): {restart_ms:?}; {} duplicate(s) ignored by the venue; {}",
        c.ignored,
        summary.trim()
    );
}

// ---------------------------------------------------------------------------
// 4: the venue drops the connection, the venue restarts
// ---------------------------------------------------------------------------

/// A parent partly filled and then parked: its limit is amended below the
/// market, so exactly one child rests at the venue and nothing moves.
/// Returns the parent, the resting child's id and the last soup sequence
/// number floe journaled (the venue's report of that child).
fn park_one_child(bed: &Bed, spec: &Iceberg) -> (u32, String, u64) {
    let parent = bed.submit(spec);
    wait_for("some shares filled", Duration::from_secs(30), || {
        (qty_of(&bed.get(parent), "filled_quantity") >= 300).then_some(())
    });
    bed.order(&["amend", &parent.to_string(), "--limit", "189.00"]);
    let (id, seq) = wait_for(
        "one child resting at 189.0000, and floe's journal ends with its report",
        Duration::from_secs(30),
        || {
            let audit = bed.audit();
            let live = venue_live(&audit);
            let [id] = live.keys().collect::<Vec<_>>()[..] else {
                return None;
            };
            let at_limit = audit
                .iter()
                .any(|a| a.event == "accepted" && &a.id == id && a.price == "189.0000");
            let v = bed.get(parent);
            let quiet = qty_of(&v, "live_quantity") > 0 && v["cancel_pending"] == false;
            if !at_limit || !quiet {
                return None;
            }
            let (j, _) = bed.journal();
            let last = j.of_type("venue_event").last()?;
            let reported = matches!(last["event"].as_str(), Some("accepted" | "replaced"))
                && last["order_ref"].as_u64().map(|r| r.to_string()).as_ref() == Some(id);
            reported.then(|| (id.clone(), num(last, "soup_seq")))
        },
    );
    (parent, id, seq)
}

/// The journal record index of the first record after the soup sequence
/// number `seq` was journaled.
fn after_seq(journal: &Journal, seq: u64) -> usize {
    journal
        .records
        .iter()
        .position(|r| r["type"] == "venue_event" && num(r, "soup_seq") == seq)
        .map_or(journal.records.len(), |i| i + 1)
}

fn venue_drop(cancel_on_disconnect: bool) {
    let mut bed = Bed::new(
        if cancel_on_disconnect { "e2ec" } else { "e2en" },
        BedOptions {
            no_cancel_on_disconnect: !cancel_on_disconnect,
            ..BedOptions::default()
        },
    );
    // The appliance first: it retries until the venue listens, and its feed
    // starts with the venue's first packet (nothing to catch up on).
    bed.start_app();
    bed.start_venue();
    bed.wait_logins(1, Duration::from_secs(20));
    let spec = Iceberg::aapl("e2e-drop", 1500);
    let (parent, resting, seq_before) = park_one_child(&bed, &spec);
    let resting_ref: u64 = resting.parse().expect("numeric id");
    let audit_before = bed.audit().len();

    let dropped = Instant::now();
    bed.drop_connection();
    wait_for("the venue sees the drop", Duration::from_secs(10), || {
        bed.venue().stderr().contains("disconnected").then_some(())
    });
    bed.wait_logins(2, Duration::from_secs(10));
    let reconnect = dropped.elapsed();
    // order.reconnect_ms = 500: a RST is seen at once, the next connection
    // follows half a second later (not whenever the stack's next timer was
    // due while the connection was up).
    assert!(
        reconnect < Duration::from_secs(3),
        "re-login {reconnect:?} after the drop (order.reconnect_ms = 500)"
    );
    // The second login asked for the next number floe had not journaled,
    // and the venue had exactly that one next.
    let logins = venue_logins(&bed.venue().stderr());
    assert_eq!(logins.len(), 2, "{logins:?}");
    assert_eq!(logins[1], (seq_before + 1, seq_before + 1), "{logins:?}");
    // With the account query answered after the login, the engine has
    // driven its parents.
    let answered = |j: &Journal| {
        j.records
            .iter()
            .position(|r| r["event"] == "account_query_response" && num(r, "soup_seq") > seq_before)
    };
    wait_for(
        "the account query after the reconnect is answered",
        Duration::from_secs(10),
        || answered(&bed.journal().0),
    );
    // Read again: what the engine did on that answer is journaled by now.
    let (journal, _) = bed.journal();
    let aq_index = answered(&journal).expect("still there");
    let since = after_seq(&journal, seq_before);
    if cancel_on_disconnect {
        // The venue canceled the resting child (reason Z) and floe read it
        // in the replay; then floe entered a new slice.
        let cancel = journal.records[since..aq_index]
            .iter()
            .find(|r| r["event"] == "canceled" && num(r, "order_ref") == resting_ref)
            .unwrap_or_else(|| {
                panic!("no Canceled for {resting} replayed before the account query")
            });
        assert_eq!(cancel["reason"], "Z", "{cancel}");
        let next = wait_for(
            "a new slice after the cancel",
            Duration::from_secs(10),
            || {
                let (j, _) = bed.journal();
                j.records[since..]
                    .iter()
                    .find(|r| r["type"] == "child_intent")
                    .cloned()
            },
        );
        assert_eq!(next["intent"], "enter", "{next}");
        assert!(num(&next, "order_ref") > resting_ref, "{next}");
        let audit = bed.audit();
        assert!(
            audit[audit_before..]
                .iter()
                .any(|a| a.event == "canceled" && a.id == resting),
            "the venue audits the cancel of {resting}"
        );
    } else {
        // The child survived: no cancel, no new slice, still live at the
        // venue and in floe's view.
        assert!(
            journal.records[since..]
                .iter()
                .all(|r| r["type"] != "child_intent" && r["event"] != "canceled"),
            "nothing canceled or sent after the reconnect: {:?}",
            &journal.records[since..]
        );
        let live = venue_live(&bed.audit());
        assert_eq!(
            live.keys().collect::<Vec<_>>(),
            vec![&resting],
            "the venue still holds the child"
        );
        assert!(qty_of(&bed.get(parent), "live_quantity") > 0);
    }

    // Back to a marketable limit: the iceberg completes, exactly.
    bed.order(&["amend", &parent.to_string(), "--limit", "190.50"]);
    let v = bed.wait_filled(parent, Duration::from_secs(60));
    assert_eq!(qty_of(&v, "filled_quantity"), spec.total, "{v}");
    if !cancel_on_disconnect {
        // The surviving child was repriced (replaced), not re-entered.
        let (j, _) = bed.journal();
        let first = j.records[after_seq(&j, seq_before)..]
            .iter()
            .find(|r| r["type"] == "child_intent")
            .expect("an intent after the amend")
            .clone();
        assert_eq!(first["intent"], "replace", "{first}");
        assert_eq!(num(&first, "old_ref"), resting_ref, "{first}");
    }
    let st = bed.stop_app();
    assert!(st.success(), "floe run exited {st}");
    bed.stop_venue(libc::SIGTERM);
    let totals = BTreeMap::from([(u64::from(parent), spec.total)]);
    let (journal, clean) = bed.journal();
    assert!(clean);
    let c = crosscheck(&bed.audit(), &journal, &totals);
    assert_eq!(c.executed, totals);
    let summary = bed.verify_journal();
    eprintln!(
        "venue drop (cancel_on_disconnect = {cancel_on_disconnect}): child {resting} {}; \
         re-login at sequence {} after {reconnect:.2?}; {}",
        if cancel_on_disconnect {
            "canceled (Z), new slice entered"
        } else {
            "survived, then replaced"
        },
        seq_before + 1,
        summary.trim()
    );
}

#[test]
fn venue_drop_cancel_on_disconnect() {
    if skip_reason() {
        return;
    }
    let _serial = serial();
    venue_drop(true);
}

#[test]
fn venue_drop_without_cancel_on_disconnect() {
    if skip_reason() {
        return;
    }
    let _serial = serial();
    venue_drop(false);
}

#[test]
fn venue_restart_is_a_new_session() {
    if skip_reason() {
        return;
    }
    let _serial = serial();
    let mut bed = Bed::new("e2er", BedOptions::default());
    bed.start_venue();
    bed.start_app();
    bed.wait_logins(1, Duration::from_secs(20));
    let spec = Iceberg::aapl("e2e-restart", 1500);
    let (parent, _resting, _seq) = park_one_child(&bed, &spec);
    let filled_before = qty_of(&bed.get(parent), "filled_quantity");
    let first_session = bed
        .app()
        .stderr()
        .lines()
        .find(|l| l.contains(" logged in"))
        .and_then(|l| l.split("session=\"").nth(1))
        .and_then(|s| s.split('"').next())
        .expect("the session floe logged in to")
        .to_string();
    let audit_before = bed.audit().len();

    // A crash of the venue, then a fresh one: no orders, and a new session
    // name unless it started within the same second (the default name is
    // the start time in Unix seconds).
    bed.stop_venue(libc::SIGKILL);
    bed.start_venue();
    let renamed = !bed
        .venue()
        .stdout()
        .contains(&format!("session={first_session} "));
    // The running appliance asks for its session and is refused (`S`), or,
    // under the same name, is served a number below its journal's and
    // refuses the session itself.
    wait_for(
        "the venue or floe refuses the session twice",
        Duration::from_secs(15),
        || {
            let venue = count_lines(&bed.venue().stderr(), "login rejected");
            let floe = count_lines(&bed.app().stderr(), "not trading on it");
            (venue >= 2 || floe >= 2).then_some(())
        },
    );
    if renamed {
        assert!(bed.venue().stderr().contains("reason=S"));
    }
    assert_eq!(bed.app_logins(), 1, "no login on the new venue counts");

    // A restarted appliance asks for the journal's position in whatever
    // session is current; the venue serves a lower number and floe refuses
    // to trade on it (its numbers would pass for duplicates).
    let st = bed.stop_app();
    assert!(st.success(), "floe run exited {st}");
    bed.start_app();
    wait_for(
        "floe refuses the new session twice",
        Duration::from_secs(15),
        || (count_lines(&bed.app().stderr(), "not trading on it") >= 2).then_some(()),
    );
    assert_eq!(bed.app_logins(), 0, "floe never trades on the new session");
    let audit = bed.audit();
    assert!(
        audit[audit_before..].is_empty(),
        "nothing reached the new venue: {:?}",
        &audit[audit_before..]
    );
    let v = bed.get(parent);
    assert_eq!(qty_of(&v, "filled_quantity"), filled_before, "{v}");
    assert_ne!(v["status"], "FILLED");

    let st = bed.stop_app();
    assert!(st.success(), "floe run exited {st}");
    bed.stop_venue(libc::SIGTERM);
    let totals = BTreeMap::from([(u64::from(parent), spec.total)]);
    let (journal, clean) = bed.journal();
    assert!(clean);
    let c = crosscheck(&bed.audit(), &journal, &totals);
    assert_eq!(c.executed.get(&u64::from(parent)), Some(&filled_before));
    let summary = bed.verify_journal();
    eprintln!(
        "venue restart: {}; after an appliance restart floe refused the new session; \
         parent {parent} stays at {filled_before} of {}; {}",
        if renamed {
            "new session name, the running appliance's login rejected (S)"
        } else {
            "same session name (same second), floe refused the lower sequence"
        },
        spec.total,
        summary.trim()
    );
}
