//! One module per subcommand: its clap arguments and its `run`.

pub mod bench;
pub mod config;
pub mod demo;
pub mod exchange;
pub mod gen_itch;
pub mod journal;
pub mod order;
pub mod replay;
pub mod run;

use std::process::ExitCode;

/// Logs go to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A closed stderr must not panic a running venue or appliance.
        .log_internal_errors(false)
        .try_init();
}

/// What a subcommand that does not exist yet answers: no fake output, a
/// non-zero exit.
pub fn not_built(what: &str) -> anyhow::Result<ExitCode> {
    eprintln!("floe: `{what}` is not built yet in this version of floe");
    Ok(ExitCode::from(3))
}
