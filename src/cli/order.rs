//! `floe order`: a signed client for the REST control plane.

use std::process::ExitCode;

/// `floe order` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Submit an iceberg.
    Submit,
    /// Show one algo order.
    Get,
    /// List algo orders.
    List,
    /// Cancel an algo order.
    Cancel,
    /// Pause an algo order.
    Pause,
    /// Resume an algo order.
    Resume,
    /// Amend total quantity or limit.
    Amend,
    /// Set or reset the kill switch.
    Kill,
}

/// Runs the subcommand.
pub fn run(_cmd: Command) -> anyhow::Result<ExitCode> {
    super::not_built("order")
}
