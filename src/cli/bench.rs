//! `floe bench`: the tick-to-trade harness (see [`floe::bench`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use floe::bench::report::{self, Series};
use floe::bench::{BenchOptions, BenchReport, NicKind};
use floe::config::IdleStrategy;

/// Arguments of `floe bench`.
///
/// Tick-to-trade: from the receive timestamp of the frame that triggers a
/// child order (a fill that releases the next slice of a zero-delay
/// iceberg; a market-data message that re-prices a pegged child) to the
/// moment the child's frame is handed to the NIC, measured inside floe's
/// runtime, with the venue on the other end of the link. With `--nic
/// af_packet` or `dpdk` (root) the run builds a veth pair between two
/// network namespaces and, in the same run over the same veth, also measures
/// the peer: the same engine path on kernel sockets (UdpSocket in,
/// TcpStream out); `--no-peer` skips it. Both sides stamp frames when the
/// duty cycle takes them.
///
/// Threads: the hot thread and the venue driver are pinned to their own
/// cores (`--idle spin_yield`): the hot thread spins `--spin-window-us` of
/// each idle stretch before it yields, the venue driver yields soon after
/// running out of work (it shares its core with the control plane): on a
/// 2-core shared host two pure spinners starve everything else.
///
/// `--split` also measures floe in split mode in the same run (memory or
/// af_packet): the feed handler on its own thread (`--feed-core`, default
/// the driver's core) with its own rx handle, quotes to the hot thread over
/// an SPSC ring; the table ends with split / single ratios.
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// NIC backend: memory, af_packet (root), dpdk (feature `dpdk`, root).
    #[arg(long, default_value = "memory")]
    pub nic: String,
    /// Measured triggers (half fills, half market data), per side.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Triggers sent first and not measured.
    #[arg(long, default_value_t = 20_000)]
    pub warmup: u64,
    /// Triggers per block; fill and market-data blocks alternate.
    #[arg(long, default_value_t = 1_000)]
    pub block: u64,
    /// Pace the triggers at this many per second (0: closed loop, the next
    /// trigger as soon as the previous child arrived). Paced runs also
    /// report tick-to-trade corrected for coordinated omission, and the
    /// round trip is measured from each trigger's scheduled time.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Control-plane load check: this many signed REST reads per second
    /// during alternate halves of the run; reports p99 with and without.
    #[arg(long, default_value_t = 0)]
    pub control_load: u64,
    /// Skip the kernel-socket peer on veth runs.
    #[arg(long)]
    pub no_peer: bool,
    /// Also run floe in split mode (feed thread + SPSC ring), same run.
    #[arg(long)]
    pub split: bool,
    /// Core of the split mode's feed thread (default: the driver's core).
    #[arg(long)]
    pub feed_core: Option<usize>,
    /// Core of the hot thread.
    #[arg(long, default_value_t = 1)]
    pub hot_core: usize,
    /// Core of the venue driver.
    #[arg(long, default_value_t = 0)]
    pub driver_core: usize,
    /// Do not pin the threads.
    #[arg(long)]
    pub no_pin: bool,
    /// Idle strategy of both threads: spin, spin_yield, park.
    #[arg(long, default_value = "spin_yield")]
    pub idle: String,
    /// spin_yield and park: how long the hot thread spins when idle before
    /// it yields, µs (`engine.spin_window_us`).
    #[arg(long, default_value_t = 50)]
    pub spin_window_us: u64,
    /// Directory for the journals (default: under /dev/shm); removed after.
    #[arg(long)]
    pub journal_dir: Option<PathBuf>,
    /// Fail if a child takes longer than this, ms.
    #[arg(long, default_value_t = 5_000)]
    pub child_timeout_ms: u64,
    /// Print JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report here.
    #[arg(long)]
    pub json_out: Option<PathBuf>,
    /// Write HdrHistogram percentile-distribution text (µs) of floe's
    /// tick-to-trade here; the peer's and the loaded half's go beside it
    /// as NAME.peer.hgrm and NAME.loaded.hgrm.
    #[arg(long)]
    pub hgrm: Option<PathBuf>,
    /// Draw the latency-by-percentile curves as SVG here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

fn beside(path: &Path, tag: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "hgrm".into());
    path.with_file_name(format!("{stem}.{tag}.{ext}"))
}

fn write_hgrm(path: &Path, h: &hdrhistogram::Histogram<u64>) -> anyhow::Result<()> {
    let mut f =
        std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
    report::write_hgrm(h, 1000.0, &mut f).with_context(|| format!("write {}", path.display()))
}

fn table(r: &BenchReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let pacing = if r.rate_per_sec > 0 {
        format!("paced at {}/s", r.rate_per_sec)
    } else {
        "closed loop".to_string()
    };
    let _ = writeln!(
        s,
        "floe bench: tick-to-trade, nic {:?}, {} measured triggers per side ({} warm-up, blocks of {}), {pacing}",
        r.nic, r.events, r.warmup, r.block
    );
    let _ = writeln!(
        s,
        "host: {} ({} cores), kernel {}, {}; {}",
        r.host.cpu, r.host.cores, r.host.kernel, r.host.date, r.threads
    );
    let _ = writeln!(s, "{}", report::header());
    for side in std::iter::once(&r.floe)
        .chain(r.split.iter())
        .chain(r.peer.iter())
    {
        let _ = writeln!(s, "{}", side.label);
        let _ = writeln!(
            s,
            "{}",
            report::row("  tick-to-trade", &side.tick_to_trade_ns)
        );
        let _ = writeln!(
            s,
            "{}",
            report::row("    fill -> next slice", &side.fill_ns)
        );
        let _ = writeln!(
            s,
            "{}",
            report::row("    market data -> peg re-price", &side.market_data_ns)
        );
        if let Some(c) = &side.tick_to_trade_corrected_ns {
            let _ = writeln!(s, "{}", report::row("  tick-to-trade, CO-corrected", c));
        }
        let _ = writeln!(
            s,
            "{}",
            report::row("  venue round trip", &side.round_trip_ns)
        );
        let _ = writeln!(
            s,
            "  {:.0} triggers/s sustained, {} late; {} orders sent, {} market-data messages, {} reports, {} journal records",
            side.triggers_per_sec,
            side.behind_schedule,
            side.counters.orders_sent,
            side.counters.md_messages,
            side.counters.reports,
            side.counters.journal_records
        );
    }
    if let Some(q) = &r.ratio {
        let _ = writeln!(
            s,
            "floe / peer: tick-to-trade p50 {:.2}x, p99 {:.2}x (goal <= {:.1}x: {}); round trip p50 {:.2}x, p99 {:.2}x",
            q.p50,
            q.p99,
            q.goal,
            if q.met { "met" } else { "NOT met" },
            q.round_trip_p50,
            q.round_trip_p99
        );
    }
    if let Some(q) = &r.split_ratio {
        let _ = writeln!(
            s,
            "split / single: tick-to-trade p50 {:.2}x, p99 {:.2}x, market data -> re-price p50 {:.2}x; round trip p50 {:.2}x, p99 {:.2}x; {} wins at p50 on this host",
            q.p50,
            q.p99,
            q.market_data_p50,
            q.round_trip_p50,
            q.round_trip_p99,
            if q.split_wins_p50 { "split mode" } else { "single-thread mode" }
        );
    }
    if let Some(c) = &r.control_load {
        let _ = writeln!(
            s,
            "control-plane load: {} signed GETs/s asked, {:.0}/s achieved ({} requests, {} errors, slowest {} us)",
            c.target_per_sec, c.load.achieved_per_sec, c.load.requests, c.load.errors, c.load.max_request_us
        );
        let _ = writeln!(
            s,
            "{}",
            report::row("  tick-to-trade without load", &c.off_ns)
        );
        let _ = writeln!(s, "{}", report::row("  tick-to-trade under load", &c.on_ns));
        let _ = writeln!(
            s,
            "  p99 under load / without: {:.3} (goal within 10 %: {})",
            c.p99_ratio,
            if c.within_10_percent {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    s
}

/// Runs the benchmark.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let nic = match args.nic.as_str() {
        "memory" => NicKind::Memory,
        "af_packet" => NicKind::AfPacket,
        "dpdk" => NicKind::Dpdk,
        other => bail!("--nic {other}: expected memory, af_packet or dpdk"),
    };
    let idle = match args.idle.as_str() {
        "spin" => IdleStrategy::Spin,
        "spin_yield" => IdleStrategy::SpinYield,
        "park" => IdleStrategy::Park,
        other => bail!("--idle {other}: expected spin, spin_yield or park"),
    };
    if args.events == 0 {
        bail!("--events must be at least 1");
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pin = !args.no_pin && cores > 1;
    let opts = BenchOptions {
        nic,
        events: args.events,
        warmup: args.warmup,
        block: args.block.max(1),
        rate_per_sec: args.rate,
        control_load_per_sec: args.control_load,
        peer: !args.no_peer,
        hot_core: pin.then_some(args.hot_core),
        driver_core: pin.then_some(args.driver_core),
        idle,
        spin_window_us: args.spin_window_us,
        journal_dir: args.journal_dir.clone(),
        child_timeout: Duration::from_millis(args.child_timeout_ms.max(1)),
        split: args.split,
        feed_core: pin.then_some(args.feed_core).flatten(),
    };
    let r = floe::bench::run(&opts).map_err(|e| anyhow::anyhow!(e))?;
    if let Some(path) = &args.hgrm {
        write_hgrm(path, &r.floe.hist)?;
        if let Some(p) = &r.peer {
            write_hgrm(&beside(path, "peer"), &p.hist)?;
        }
        if let Some(p) = &r.split {
            write_hgrm(&beside(path, "split"), &p.hist)?;
        }
        if let Some(c) = &r.control_load {
            write_hgrm(&beside(path, "loaded"), &c.hist_on)?;
        }
    }
    if let Some(path) = &args.plot {
        let mut series = vec![
            Series {
                label: format!("{}: fill -> next slice", r.floe.label),
                hist: &r.floe.hist_fill,
            },
            Series {
                label: format!("{}: market data -> re-price", r.floe.label),
                hist: &r.floe.hist_md,
            },
        ];
        if let Some(p) = r.split.as_ref() {
            series.push(Series {
                label: format!("{}: fill -> next slice", p.label),
                hist: &p.hist_fill,
            });
            series.push(Series {
                label: format!("{}: market data -> re-price", p.label),
                hist: &p.hist_md,
            });
        }
        if let Some(p) = &r.peer {
            series.push(Series {
                label: format!("{}: fill -> next slice", p.label),
                hist: &p.hist_fill,
            });
            series.push(Series {
                label: format!("{}: market data -> re-price", p.label),
                hist: &p.hist_md,
            });
        }
        if let Some(c) = &r.control_load {
            series.push(Series {
                label: format!("{}: under control-plane load", r.floe.label),
                hist: &c.hist_on,
            });
        }
        report::plot_svg(path, "floe tick-to-trade by percentile", &series)
            .map_err(|e| anyhow::anyhow!(e))?;
    }
    let json = serde_json::to_string_pretty(&r)?;
    if let Some(path) = &args.json_out {
        std::fs::write(path, &json).with_context(|| format!("write {}", path.display()))?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", table(&r));
    }
    Ok(ExitCode::SUCCESS)
}
