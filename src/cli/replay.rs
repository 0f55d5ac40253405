//! `floe replay`: an ITCH 5.0 binary file through the feed handler and books.
//!
//! The file (NASDAQ "BinaryFILE": `u16` big-endian length + message,
//! repeated; gzip when the name ends in `.gz`) is read in large chunks and
//! each message is decoded in place from the chunk buffer. A zero-length
//! record ends the session. A record cut short by the end of the file, or a
//! message of a known type that does not decode, ends the replay with an
//! error naming its byte offset (in the uncompressed stream), after the
//! summary of what was read.

use anyhow::Context;
use floe::book::{BookRef, Books, Counters};
use floe::config::{BookConfig, Config};
use floe::feed::itch::apply_bytes;
use floe::time::Nanos;
use floe::types::{Level, Symbol};
use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant;

/// Arguments of `floe replay`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Capacities come from --config's [book] section when given, else from the
replay defaults (sized for a full NASDAQ day); --books, --orders-per-book and
--levels-per-side override either. The summary shows the peak orders and
levels any book reached and the adds dropped for capacity.

A test file: `floe gen-itch day.itch --messages 5000000 --symbols 16`.")]
pub struct Args {
    /// NASDAQ ITCH 5.0 file (u16 big-endian length-prefixed messages; gzip if it ends in .gz).
    pub file: PathBuf,
    /// Print the final top of book of these symbols (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub symbols: Vec<String>,
    /// Print exactly one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Take book capacities (and the `only` filter) from this floe configuration.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Books (symbols) to track [replay default: 16384].
    #[arg(long, value_name = "N")]
    pub books: Option<usize>,
    /// Resting orders per book [replay default: 65536].
    #[arg(long, value_name = "N")]
    pub orders_per_book: Option<usize>,
    /// Price levels per side per book [replay default: 8192].
    #[arg(long, value_name = "N")]
    pub levels_per_side: Option<usize>,
}

/// Replay defaults: every symbol of a NASDAQ day (about 9,000 in the
/// directory) can get a book; the busiest symbols rest well under 65,536
/// orders and 8,192 price levels a side. Books are allocated as the
/// directory names their symbols, and their memory is committed only where
/// touched.
fn replay_defaults() -> BookConfig {
    BookConfig {
        symbols: 16_384,
        only: Vec::new(),
        orders_per_book: 65_536,
        levels_per_side: 8_192,
    }
}

/// Bytes moved per read.
const CHUNK: usize = 8 << 20;

/// How a replay ended.
#[derive(Debug)]
enum Finish {
    /// End of file on a record boundary.
    Eof,
    /// A zero-length record at this offset.
    ZeroLength(u64),
    /// The file ends inside a record.
    Truncated {
        offset: u64,
        need: usize,
        have: usize,
    },
    /// A record that does not decode.
    Corrupt {
        offset: u64,
        msg_type: u8,
        len: usize,
        error: floe::wire::Error,
    },
    /// Reading (or decompressing) failed.
    Io { offset: u64, error: io::Error },
}

/// Counts the bytes read from the file itself (compressed), for progress.
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Fills `buf` as far as the reader goes; returns the bytes read (0 at end).
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

struct Outcome {
    end: Finish,
    quotes: u64,
}

/// Reads every record of `reader` into `books`. `progress` is called once
/// per chunk.
fn replay(reader: &mut dyn Read, books: &mut Books, mut progress: impl FnMut()) -> Outcome {
    // A chunk plus room for the largest record carried over from the last one.
    let mut buf = vec![0u8; CHUNK + 2 + u16::MAX as usize];
    let mut have = 0usize;
    let mut base = 0u64;
    let mut quotes = 0u64;
    let rx = Nanos::ZERO;
    loop {
        let n = match fill(reader, &mut buf[have..]) {
            Ok(n) => n,
            Err(error) => {
                return Outcome {
                    end: Finish::Io {
                        offset: base + have as u64,
                        error,
                    },
                    quotes,
                }
            }
        };
        let eof = n == 0;
        have += n;
        let data = &buf[..have];
        let mut pos = 0usize;
        while let Some(&[hi, lo]) = data.get(pos..pos + 2).and_then(|s| s.first_chunk::<2>()) {
            let len = u16::from_be_bytes([hi, lo]) as usize;
            if len == 0 {
                return Outcome {
                    end: Finish::ZeroLength(base + pos as u64),
                    quotes,
                };
            }
            let Some(msg) = data.get(pos + 2..pos + 2 + len) else {
                break;
            };
            match apply_bytes(books, msg, rx) {
                Ok(Some(_)) => quotes += 1,
                Ok(None) => {}
                Err(error) => {
                    return Outcome {
                        end: Finish::Corrupt {
                            offset: base + pos as u64,
                            msg_type: msg.first().copied().unwrap_or(0),
                            len,
                            error,
                        },
                        quotes,
                    }
                }
            }
            pos += 2 + len;
        }
        progress();
        if eof {
            let end = if pos < have {
                let need = match data.get(pos..pos + 2) {
                    Some(&[hi, lo]) => 2 + u16::from_be_bytes([hi, lo]) as usize,
                    _ => 2,
                };
                Finish::Truncated {
                    offset: base + pos as u64,
                    need,
                    have: have - pos,
                }
            } else {
                Finish::Eof
            };
            return Outcome { end, quotes };
        }
        buf.copy_within(pos..have, 0);
        base += pos as u64;
        have -= pos;
    }
}

fn book_config(args: &Args) -> anyhow::Result<BookConfig> {
    let mut cfg = match &args.config {
        Some(path) => Config::load(path)?.book,
        None => replay_defaults(),
    };
    if let Some(n) = args.books {
        cfg.symbols = n;
    }
    if let Some(n) = args.orders_per_book {
        cfg.orders_per_book = n;
    }
    if let Some(n) = args.levels_per_side {
        cfg.levels_per_side = n;
    }
    anyhow::ensure!(cfg.symbols >= 1, "--books must be at least 1");
    Ok(cfg)
}

fn open(path: &Path, counter: Rc<Cell<u64>>) -> anyhow::Result<(Box<dyn Read>, u64)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let counting = Counting {
        inner: file,
        count: counter,
    };
    let gz = path.extension().is_some_and(|e| e == "gz");
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            1 << 20,
            counting,
        )))
    } else {
        Box::new(counting)
    };
    Ok((reader, size))
}

/// Replays the file.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let symbols = args
        .symbols
        .iter()
        .map(|s| Symbol::new(s).with_context(|| format!("--symbols: {s:?} is not a symbol")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cfg = book_config(&args)?;
    let mut books = Books::on_demand(&cfg)?;
    let counter = Rc::new(Cell::new(0u64));
    let (mut reader, size) = open(&args.file, counter.clone())?;

    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let start = Instant::now();
    let outcome = replay(&mut *reader, &mut books, || {
        if let Some(b) = &bar {
            b.set_position(counter.get());
        }
    });
    let seconds = start.elapsed().as_secs_f64();
    if let Some(b) = bar {
        b.finish_and_clear();
    }

    let text = if args.json {
        format!("{}\n", json_summary(&books, &symbols, seconds))
    } else {
        summary(&books, &symbols, seconds, outcome.quotes, &outcome.end)
    };
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not an error of the replay.
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                return Err(e).context("writing the summary")
            }
            _ => {}
        }
    }
    Ok(match outcome.end {
        Finish::Eof | Finish::ZeroLength(_) => ExitCode::SUCCESS,
        Finish::Truncated { offset, need, have } => {
            eprintln!(
                "floe: error: {}: truncated record at byte offset {offset}: needs {need} bytes, the file ends after {have}",
                args.file.display()
            );
            ExitCode::from(1)
        }
        Finish::Corrupt {
            offset,
            msg_type,
            len,
            error,
        } => {
            eprintln!(
                "floe: error: {}: corrupt record at byte offset {offset} (type {}, length {len}): {error}",
                args.file.display(),
                type_name(msg_type)
            );
            ExitCode::from(1)
        }
        Finish::Io { offset, error } => {
            eprintln!(
                "floe: error: {}: read failed at byte offset {offset}: {error}",
                args.file.display()
            );
            ExitCode::from(1)
        }
    })
}

/// A type byte as text: the letter, or `0xNN` when not printable.
fn type_name(t: u8) -> String {
    if t.is_ascii_graphic() {
        (t as char).to_string()
    } else {
        format!("0x{t:02x}")
    }
}

fn rate(messages: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        messages as f64 / seconds
    } else {
        0.0
    }
}

fn side_json(level: Option<Level>) -> (serde_json::Value, u32) {
    match level {
        Some(l) => (serde_json::Value::String(l.price.to_string()), l.qty.0),
        None => (serde_json::Value::Null, 0),
    }
}

fn json_summary(books: &Books, symbols: &[Symbol], seconds: f64) -> serde_json::Value {
    let c = &books.counters;
    let by_type: serde_json::Map<String, serde_json::Value> = c
        .by_type
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(t, &n)| (type_name(t as u8), n.into()))
        .collect();
    let mut out_books = serde_json::Map::new();
    for s in symbols {
        let book = books.by_symbol(s);
        let (bid_price, bid_qty) = side_json(book.as_ref().and_then(BookRef::best_bid));
        let (ask_price, ask_qty) = side_json(book.as_ref().and_then(BookRef::best_ask));
        out_books.insert(
            s.as_str().to_string(),
            serde_json::json!({
                "bid_price": bid_price,
                "bid_qty": bid_qty,
                "ask_price": ask_price,
                "ask_qty": ask_qty,
            }),
        );
    }
    serde_json::json!({
        "messages": c.messages,
        "seconds": seconds,
        "messages_per_sec": rate(c.messages, seconds),
        "by_type": by_type,
        "books": out_books,
    })
}

fn summary(books: &Books, symbols: &[Symbol], seconds: f64, quotes: u64, end: &Finish) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let c: &Counters = &books.counters;
    _ = writeln!(o, "messages          {}", c.messages);
    _ = writeln!(o, "seconds           {seconds:.3}");
    _ = writeln!(o, "messages/s        {:.0}", rate(c.messages, seconds));
    _ = writeln!(o, "top-of-book moves {quotes}");
    _ = writeln!(o, "unknown refs      {}", c.unknown_refs);
    for (name, n) in [
        ("duplicates", c.duplicates),
        ("capacity drops", c.capacity_drops),
        ("over-executions", c.exec_exceeds_open),
        ("over-cancels", c.cancel_exceeds_open),
        ("invalid orders", c.invalid_orders),
        ("unknown locates", c.unknown_locates),
        ("untracked msgs", c.untracked),
        ("symbols ignored", c.symbols_ignored),
        ("unknown types", c.unknown_types),
    ] {
        if n > 0 {
            _ = writeln!(o, "{name:<17} {n}");
        }
    }
    let peak_orders = books
        .iter()
        .map(|(_, b)| b.peak_orders())
        .max()
        .unwrap_or(0);
    let peak_levels = books
        .iter()
        .map(|(_, b)| b.peak_levels())
        .max()
        .unwrap_or(0);
    _ = writeln!(o,
        "books             {} of {} (peak {peak_orders} orders, {peak_levels} levels a side in one book)",
        books.len(),
        books.capacity()
    );
    if let Finish::ZeroLength(at) = end {
        _ = writeln!(
            o,
            "end of session    zero-length record at byte offset {at}"
        );
    }
    _ = writeln!(o, "by type:");
    for (t, &n) in c.by_type.iter().enumerate().filter(|(_, &n)| n > 0) {
        _ = writeln!(o, "  {:<4} {n}", type_name(t as u8));
    }
    if !symbols.is_empty() {
        _ = writeln!(o, "top of book:");
        _ = writeln!(
            o,
            "  {:<8} {:>12} {:>10} {:>12} {:>10}",
            "symbol", "bid", "bid qty", "ask", "ask qty"
        );
        for s in symbols {
            let book = books.by_symbol(s);
            let fmt = |l: Option<Level>| match l {
                Some(l) => (l.price.to_string(), l.qty.0),
                None => ("-".to_string(), 0),
            };
            let (bp, bq) = fmt(book.as_ref().and_then(BookRef::best_bid));
            let (ap, aq) = fmt(book.as_ref().and_then(BookRef::best_ask));
            let note = if book.is_none() { "  (no book)" } else { "" };
            _ = writeln!(
                o,
                "  {:<8} {bp:>12} {bq:>10} {ap:>12} {aq:>10}{note}",
                s.as_str()
            );
        }
    }
    o
}
