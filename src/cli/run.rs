//! `floe run`: the appliance.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use floe::config::{Config, NicBackend};
use floe::control::{self, gateway, metrics::HotCounters};
use floe::engine::runtime::{run_pinned, Runtime, SplitFeed};
use floe::time::WallClock;

/// Arguments of `floe run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Appliance configuration (TOML); see floe.example.toml.
    #[arg(long)]
    pub config: PathBuf,
}

/// Runs the appliance until SIGINT/SIGTERM: the hot thread (NIC, network
/// stack, feed, order session, engine, journal) pinned to `engine.core`, and
/// the REST control plane on `control.listen`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = Config::load(&args.config)?;
    if cfg.nic.backend == NicBackend::Memory {
        anyhow::bail!(
            "{}: nic.backend = \"memory\" is an in-process pair with no peer outside this \
             process; `floe run` needs af_packet or dpdk (`floe demo` runs the memory NIC \
             with the simulated venue)",
            args.config.display()
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        super::on_signals(move || stop.store(true, Ordering::Relaxed))?;
    }
    let counters = Arc::new(HotCounters::new());
    let (gw, endpoint) = gateway::channel(&cfg);
    let control = control::spawn(&cfg, gw, counters.clone()).context("control plane")?;
    tracing::info!(listen = %control.local_addr(), "control plane listening");

    // The runtime is built on the hot thread itself, after pinning, so that
    // every buffer it allocates is first touched by the core that uses it.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<String, String>>();
    let hot = {
        let cfg = cfg.clone();
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("floe-hot".into())
            .spawn(move || {
                if let Some(c) = cfg.engine.core {
                    if !floe::engine::idle::pin_to_core(c) {
                        tracing::warn!(core = c, "could not pin the hot thread");
                    }
                }
                let nic = match floe::nic::open_from_config(&cfg, None) {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("nic: {e}")));
                        return None;
                    }
                };
                let clock = WallClock::calibrate(Duration::from_millis(20));
                // Split mode: the feed thread's own rx handle of the NIC.
                let split = match cfg.engine.feed_core {
                    None => None,
                    Some(_) => match floe::nic::open_feed_from_config(&cfg, None) {
                        Ok(nic) => Some(SplitFeed {
                            nic,
                            clock: Box::new(clock),
                        }),
                        Err(e) => {
                            let _ = ready_tx.send(Err(format!("nic (feed thread): {e}")));
                            return None;
                        }
                    },
                };
                let mut rt = match Runtime::with_feed(
                    &cfg,
                    nic,
                    Box::new(clock),
                    Some(endpoint),
                    counters,
                    split,
                ) {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return None;
                    }
                };
                let _ = ready_tx.send(Ok(rt.recovery().to_string()));
                Some(run_pinned(&mut rt, None, &stop))
            })?
    };
    match ready_rx.recv() {
        Ok(Ok(recovery)) => {
            tracing::info!("journal {}: {recovery}", cfg.journal.dir.display());
            println!(
                "floe run: up on {} ({:?}), venue {}, control {}",
                cfg.nic.interface,
                cfg.nic.backend,
                cfg.order.venue,
                control.local_addr()
            );
        }
        Ok(Err(e)) => {
            let _ = control.shutdown();
            let _ = hot.join();
            anyhow::bail!("cannot start: {e}");
        }
        Err(_) => anyhow::bail!("the hot thread died while starting"),
    }
    let report = hot
        .join()
        .map_err(|_| anyhow::anyhow!("the hot thread panicked"))?;
    let _ = control.shutdown();
    match report {
        Some(r) => {
            let s = r.stats;
            println!(
                "floe run: stopped; {} orders sent, {} reports, {} market-data messages, {} journal records, {} logins",
                s.orders_sent, s.reports, s.md_messages, s.journal_records, s.logins
            );
            if let Some(h) = r.halted {
                eprintln!("floe run: halted: {h}");
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        None => Ok(ExitCode::from(1)),
    }
}
