//! `floe demo`: the embedded default.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `floe demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seed of the venue's synthetic flow and of the iceberg (reproducible).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Record the whole wire to this pcap file.
    #[arg(long)]
    pub pcap: Option<PathBuf>,
    /// NIC backend: memory (default), af_packet (root), dpdk (feature).
    #[arg(long, default_value = "memory")]
    pub nic: String,
    /// Print only one JSON object at the end.
    #[arg(long)]
    pub json: bool,
}

/// Runs the demo.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    super::not_built("demo")
}
