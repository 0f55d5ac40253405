//! `floe replay`: an ITCH 5.0 binary file through the feed handler and books.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `floe replay`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// NASDAQ ITCH 5.0 file (u16 big-endian length-prefixed messages; gzip if it ends in .gz).
    pub file: PathBuf,
    /// Print the final top of book of these symbols (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Print exactly one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Replays the file.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    super::not_built("replay")
}
