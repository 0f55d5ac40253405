//! `floe`: the command-line entry point. Parses arguments, loads the
//! configuration and calls into the library; no logic of its own.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// floe — a kernel-bypass execution appliance: NASDAQ ITCH 5.0 over MoldUDP64
/// in, iceberg orders out over OUCH on SoupBinTCP.
#[derive(Parser, Debug)]
#[command(name = "floe", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The embedded demo: the simulated venue and the appliance in one process.
    Demo(cli::demo::Args),
    /// Run the appliance.
    Run(cli::run::Args),
    /// Run the simulated venue on kernel sockets.
    Exchange(cli::exchange::Args),
    /// A signed client for the REST control plane.
    #[command(subcommand)]
    Order(cli::order::Command),
    /// Inspect or verify a journal directory.
    #[command(subcommand)]
    Journal(cli::journal::Command),
    /// Replay a NASDAQ ITCH 5.0 binary file through the feed handler and books.
    Replay(cli::replay::Args),
    /// Write a synthetic NASDAQ ITCH 5.0 day file (BinaryFILE) for replay and tests.
    GenItch(cli::gen_itch::Args),
    /// The tick-to-trade benchmark harness.
    Bench(cli::bench::Args),
    /// Configuration tools.
    #[command(subcommand)]
    Config(cli::config::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cli::init_tracing();
    let result = match cli.command {
        Command::Demo(a) => cli::demo::run(a),
        Command::Run(a) => cli::run::run(a),
        Command::Exchange(a) => cli::exchange::run(a),
        Command::Order(c) => cli::order::run(c),
        Command::Journal(c) => cli::journal::run(c),
        Command::Replay(a) => cli::replay::run(a),
        Command::GenItch(a) => cli::gen_itch::run(a),
        Command::Bench(a) => cli::bench::run(a),
        Command::Config(c) => cli::config::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("floe: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
