//! `floe journal inspect|verify`.

use std::path::PathBuf;
use std::process::ExitCode;

/// `floe journal` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// One line per record.
    Inspect {
        /// Journal directory.
        dir: PathBuf,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Check CRCs, sequence continuity and invariants; exit 1 on the first violation.
    Verify {
        /// Journal directory.
        dir: PathBuf,
    },
}

/// Runs the subcommand.
pub fn run(_cmd: Command) -> anyhow::Result<ExitCode> {
    super::not_built("journal")
}
