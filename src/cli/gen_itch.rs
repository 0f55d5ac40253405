//! `floe gen-itch`: writes a synthetic NASDAQ ITCH 5.0 day file.

use anyhow::Context;
use floe::feed::synth::{write_binary_file, SynthConfig, SynthDay};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `floe gen-itch`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The day opens with the stock directory (R), trading actions (H) and system
events (S), then order flow on every symbol around a random-walk mid: adds (A,
F), deletes (D), replaces (U), executions (E, C), cancels (X), trades (P),
imbalances (I) and crosses (Q), ending with S M, S E, S C. The same seed and
sizes give the same bytes. Replay it with `floe replay FILE`.")]
pub struct Args {
    /// Output file (NASDAQ BinaryFILE framing; gzip if it ends in .gz).
    pub file: PathBuf,
    /// Messages in the day, directory and system events included.
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Symbols (stock locates 1..=K); low locates are the busiest.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=65_534))]
    pub symbols: u16,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Resting orders per symbol around which the flow settles.
    #[arg(long, default_value_t = 2_000)]
    pub orders_per_symbol: usize,
}

/// Writes the file.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = SynthConfig {
        messages: args.messages,
        symbols: args.symbols,
        seed: args.seed,
        orders_per_symbol: args.orders_per_symbol,
    };
    let file = File::create(&args.file)
        .with_context(|| format!("cannot create {}", args.file.display()))?;
    let out = BufWriter::with_capacity(1 << 20, file);
    let day = SynthDay::new(cfg);
    let bytes = if args.file.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
        let n = write_binary_file(day, &mut gz)?;
        gz.finish()?.flush()?;
        n
    } else {
        let mut out = out;
        let n = write_binary_file(day, &mut out)?;
        out.flush()?;
        n
    };
    eprintln!(
        "wrote {} messages ({bytes} bytes uncompressed) to {}",
        args.messages,
        args.file.display()
    );
    Ok(ExitCode::SUCCESS)
}
