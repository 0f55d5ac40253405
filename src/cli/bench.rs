//! `floe bench`: the tick-to-trade harness.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `floe bench`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// NIC backend: memory, af_packet (root), dpdk (feature).
    #[arg(long, default_value = "memory")]
    pub nic: String,
    /// Events to measure.
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Write HdrHistogram percentile-distribution text here.
    #[arg(long)]
    pub hgrm: Option<PathBuf>,
    /// Draw the latency-by-percentile curve as SVG here.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// Runs the benchmark.
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    super::not_built("bench")
}
