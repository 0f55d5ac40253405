//! `floe exchange`: the simulated venue on kernel sockets.

use std::path::PathBuf;
use std::process::ExitCode;

use floe::exchange::server::{ServerStats, VenueServer};
use floe::exchange::VenueConfig;

/// Arguments of `floe exchange`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Venue configuration (TOML; see venue.example.toml).
    #[arg(long)]
    pub config: PathBuf,
    /// Append one JSON line per order decision to this file.
    #[arg(long)]
    pub audit: Option<PathBuf>,
    /// Seed of the synthetic order flow (overrides `flow.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Print the effective configuration (defaults filled in) and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// Runs the venue until SIGINT/SIGTERM.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = VenueConfig::load(&args.config)?;
    if let Some(seed) = args.seed {
        cfg.flow.seed = seed;
    }
    if args.print_config {
        print!("{}", cfg.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    let server = VenueServer::bind(&cfg, args.audit.as_deref())?;
    let handle = server.shutdown_handle();
    super::on_signals(move || handle.shutdown())?;
    // The start-up line, on stdout, once every socket is bound and the
    // signal handlers are in place.
    println!("{}", server.addresses());
    use std::io::Write;
    std::io::stdout().flush()?;
    let stats = server.run()?;
    report(&stats);
    Ok(ExitCode::SUCCESS)
}

fn report(s: &ServerStats) {
    let o = &s.venue.orders;
    tracing::info!(
        connections = o.connections,
        logins = o.logins,
        login_rejects = o.login_rejects,
        orders_in = o.messages_in,
        malformed = o.malformed,
        unsupported = o.unsupported,
        sequenced = o.sequenced,
        matches = s.venue.matching.matches,
        shares_matched = s.venue.matching.shares_matched,
        feed_packets = s.venue.publisher.data_packets,
        feed_datagrams = s.feed.datagrams,
        feed_send_errors = s.feed.send_errors,
        retransmissions = s.venue.publisher.retransmissions,
        audit_lines = s.audit_lines,
        "venue stopped"
    );
}
