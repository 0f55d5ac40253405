//! `floe run`: the appliance.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `floe run`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Appliance configuration (TOML).
    #[arg(long)]
    pub config: PathBuf,
}

/// Runs the appliance until SIGINT/SIGTERM.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    super::not_built("run")
}
