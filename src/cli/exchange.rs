//! `floe exchange`: the simulated venue.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `floe exchange`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Venue configuration (TOML).
    #[arg(long)]
    pub config: PathBuf,
    /// Write one JSON line per order decision to this file.
    #[arg(long)]
    pub audit: Option<PathBuf>,
}

/// Runs the venue until SIGINT/SIGTERM.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    super::not_built("exchange")
}
