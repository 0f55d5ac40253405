//! `floe config check`.

use std::path::PathBuf;
use std::process::ExitCode;

/// `floe config` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Parse and validate a configuration file; print the first error.
    Check {
        /// The file.
        file: PathBuf,
    },
}

/// Runs the subcommand.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Check { file } => match floe::config::Config::load(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::from(1))
            }
        },
    }
}
