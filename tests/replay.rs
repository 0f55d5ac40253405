//! `floe replay` end to end: the built binary on files made by
//! `floe gen-itch`, checked against an independent path — `itchy` decodes
//! the same file and the reference model book of `tests/common/model.rs`
//! applies it — and on truncated, corrupt, gzipped and filtered inputs.

mod common;

use common::model::ModelBook;
use floe::types::{Level, Side};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn floe() -> Command {
    Command::new(env!("CARGO_BIN_EXE_floe"))
}

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("replay-{}-{name}", std::process::id()))
}

fn generate(path: &Path, messages: u64, symbols: u16, seed: u64) {
    let out = floe()
        .arg("gen-itch")
        .arg(path)
        .args(["--messages", &messages.to_string()])
        .args(["--symbols", &symbols.to_string()])
        .args(["--seed", &seed.to_string()])
        .args(["--orders-per-symbol", "800"])
        .output()
        .expect("run floe gen-itch");
    assert!(
        out.status.success(),
        "gen-itch failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn replay(path: &Path, extra: &[&str]) -> Output {
    floe()
        .arg("replay")
        .arg(path)
        .args(extra)
        .output()
        .expect("run floe replay")
}

/// Exactly one JSON object on stdout.
fn json(out: &Output) -> Value {
    let text = String::from_utf8(out.stdout.clone()).expect("utf-8 stdout");
    let mut it = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    let v = it.next().expect("one JSON value").expect("valid JSON");
    assert!(it.next().is_none(), "more than one JSON value: {text}");
    assert!(v.is_object());
    v
}

/// The independent path's view of a file.
struct Reference {
    messages: u64,
    by_type: BTreeMap<String, u64>,
    /// symbol → (best bid, best ask)
    tops: HashMap<String, (Option<Level>, Option<Level>)>,
    symbols: Vec<String>,
}

/// Decodes `path` with itchy and applies every order message to one model
/// book per stock locate. The generated stream is consistent, so the model
/// must accept every operation.
fn reference(path: &Path) -> Reference {
    let stream: Box<dyn Iterator<Item = Result<itchy::Message, itchy::Error>>> =
        if path.extension().is_some_and(|e| e == "gz") {
            Box::new(itchy::MessageStream::from_gzip(path).expect("open gz"))
        } else {
            Box::new(itchy::MessageStream::from_file(path).expect("open"))
        };
    let mut messages = 0;
    let mut by_type = BTreeMap::new();
    let mut names: HashMap<u16, String> = HashMap::new();
    let mut symbols = Vec::new();
    let mut books: HashMap<u16, ModelBook> = HashMap::new();
    for m in stream {
        let m = m.expect("itchy decodes every generated message");
        messages += 1;
        *by_type.entry((m.tag as char).to_string()).or_insert(0) += 1;
        let book = books
            .entry(m.stock_locate)
            .or_insert_with(|| ModelBook::new(usize::MAX, usize::MAX));
        use itchy::Body;
        let res = match &m.body {
            Body::StockDirectory(d) => {
                let s = d.stock.trim().to_string();
                names.insert(m.stock_locate, s.clone());
                symbols.push(s);
                Ok(())
            }
            Body::AddOrder(a) => {
                let side = match a.side {
                    itchy::Side::Buy => Side::Buy,
                    itchy::Side::Sell => Side::Sell,
                };
                book.add(a.reference, side, a.shares, a.price.raw())
            }
            Body::OrderExecuted {
                reference,
                executed,
                ..
            }
            | Body::OrderExecutedWithPrice {
                reference,
                executed,
                ..
            } => book.execute(*reference, *executed).map(|_| ()),
            Body::OrderCancelled {
                reference,
                cancelled,
            } => book.cancel(*reference, *cancelled).map(|_| ()),
            Body::DeleteOrder { reference } => book.delete(*reference).map(|_| ()),
            Body::ReplaceOrder(r) => book
                .replace(r.old_reference, r.new_reference, r.shares, r.price.raw())
                .map(|_| ()),
            _ => Ok(()),
        };
        res.unwrap_or_else(|e| panic!("reference model refused {m:?}: {e}"));
    }
    let tops = names
        .iter()
        .map(|(loc, s)| {
            let b = &books[loc];
            (s.clone(), (b.best_bid(), b.best_ask()))
        })
        .collect();
    Reference {
        messages,
        by_type,
        tops,
        symbols,
    }
}

/// A price as the JSON must spell it, formatted here independently.
fn price_text(p: u32) -> String {
    format!("{}.{:04}", p / 10_000, p % 10_000)
}

fn assert_side(entry: &Value, side: &str, want: Option<Level>, sym: &str) {
    let price = &entry[format!("{side}_price")];
    let qty = &entry[format!("{side}_qty")];
    match want {
        Some(l) => {
            assert_eq!(
                price.as_str(),
                Some(price_text(l.price.0).as_str()),
                "{sym} {side} price"
            );
            assert_eq!(qty.as_u64(), Some(u64::from(l.qty.0)), "{sym} {side} qty");
        }
        None => {
            assert!(
                price.is_null(),
                "{sym} {side} price should be null: {price}"
            );
            assert_eq!(qty.as_u64(), Some(0), "{sym} {side} qty");
        }
    }
}

/// The JSON agrees with the reference on counts and on every symbol's top.
fn assert_matches(v: &Value, r: &Reference, symbols: &[String]) {
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "books",
            "by_type",
            "messages",
            "messages_per_sec",
            "seconds"
        ]
    );
    assert_eq!(v["messages"].as_u64(), Some(r.messages));
    assert!(v["seconds"].as_f64().unwrap() >= 0.0);
    assert!(v["messages_per_sec"].as_f64().unwrap() >= 0.0);
    let by_type: BTreeMap<String, u64> = v["by_type"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
        .collect();
    assert_eq!(by_type, r.by_type);
    let books = v["books"].as_object().unwrap();
    assert_eq!(books.len(), symbols.len());
    for s in symbols {
        let (bid, ask) = r.tops.get(s).copied().unwrap_or((None, None));
        let entry = &books[s];
        assert_side(entry, "bid", bid, s);
        assert_side(entry, "ask", ask, s);
    }
}

#[test]
fn json_matches_an_independent_decoder_and_book() {
    let path = tmp("day.itch");
    generate(&path, 300_000, 6, 11);
    let r = reference(&path);
    assert_eq!(r.symbols.len(), 6);
    // Some books end with both sides populated.
    assert!(r.tops.values().any(|(b, a)| b.is_some() && a.is_some()));
    let mut asked = r.symbols.clone();
    asked.push("NOSUCH".into());
    let out = replay(&path, &["--json", "--symbols", &asked.join(",")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_matches(&json(&out), &r, &asked);

    // The table mode shows the same counts and each symbol's top.
    let out = replay(&path, &["--symbols", &r.symbols[0]]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("messages          {}", r.messages)),
        "{text}"
    );
    assert!(text.contains("unknown refs      0"), "{text}");
    let (bid, _) = r.tops[&r.symbols[0]];
    if let Some(b) = bid {
        assert!(text.contains(&price_text(b.price.0)), "{text}");
    }
    let _ = std::fs::remove_file(&path);
}

#[test]
fn gzip_file_replays_like_the_plain_one() {
    let plain = tmp("gz-src.itch");
    let gz = tmp("gz.itch.gz");
    generate(&plain, 120_000, 4, 5);
    generate(&gz, 120_000, 4, 5);
    let bytes = std::fs::read(&gz).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip magic");
    let r = reference(&plain);
    let a = json(&replay(
        &plain,
        &["--json", "--symbols", &r.symbols.join(",")],
    ));
    let out = replay(&gz, &["--json", "--symbols", &r.symbols.join(",")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = json(&out);
    assert_matches(&b, &r, &r.symbols);
    assert_eq!(a["books"], b["books"]);
    assert_eq!(a["by_type"], b["by_type"]);
    let _ = std::fs::remove_file(&plain);
    let _ = std::fs::remove_file(&gz);
}

/// Record start offsets of a BinaryFILE buffer (walking the length prefixes).
fn record_offsets(b: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 2 <= b.len() {
        out.push(pos);
        pos += 2 + u16::from_be_bytes([b[pos], b[pos + 1]]) as usize;
    }
    out
}

#[test]
fn truncated_file_names_the_offset_after_the_summary() {
    let src = tmp("trunc-src.itch");
    generate(&src, 50_000, 3, 2);
    let bytes = std::fs::read(&src).unwrap();
    let offs = record_offsets(&bytes);
    let k = offs.len() / 2;
    let cut = offs[k];
    let path = tmp("trunc.itch");
    // Cut inside record k: its prefix and five bytes survive.
    std::fs::write(&path, &bytes[..cut + 7]).unwrap();
    let out = replay(&path, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(v["messages"].as_u64(), Some(k as u64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("truncated"), "{err}");
    assert!(err.contains(&format!("byte offset {cut}")), "{err}");

    // Cut inside a length prefix.
    std::fs::write(&path, &bytes[..cut + 1]).unwrap();
    let out = replay(&path, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("messages          {k}")));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("byte offset {cut}")));
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn corrupt_record_names_the_offset_after_the_summary() {
    let src = tmp("corrupt-src.itch");
    generate(&src, 50_000, 3, 4);
    let mut bytes = std::fs::read(&src).unwrap();
    let offs = record_offsets(&bytes);
    // An add-order record past the middle, its length prefix made too short
    // for its type (36 bytes) — what a corrupted length looks like.
    let (k, at) = offs
        .iter()
        .enumerate()
        .skip(offs.len() / 2)
        .find(|(_, &o)| bytes[o + 2] == b'A')
        .map(|(k, &o)| (k, o))
        .expect("an add order");
    bytes[at..at + 2].copy_from_slice(&20u16.to_be_bytes());
    let path = tmp("corrupt.itch");
    std::fs::write(&path, &bytes).unwrap();

    let out = replay(&path, &["--json"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["messages"].as_u64(), Some(k as u64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("corrupt record"), "{err}");
    assert!(err.contains(&format!("byte offset {at}")), "{err}");
    assert!(err.contains("type A"), "{err}");

    let out = replay(&path, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("messages          {k}")));
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn unknown_types_are_counted_and_a_zero_length_record_ends_the_session() {
    let src = tmp("eos-src.itch");
    generate(&src, 20_000, 2, 8);
    let bytes = std::fs::read(&src).unwrap();
    let offs = record_offsets(&bytes);
    let k = offs.len() / 3;
    let mut edited = bytes[..offs[k]].to_vec();
    // An unknown type 'z' (5 bytes), then the end-of-session marker, then junk.
    edited.extend_from_slice(&[0, 5, b'z', 1, 2, 3, 4]);
    edited.extend_from_slice(&[0, 0]);
    edited.extend_from_slice(&[0xff; 100]);
    let path = tmp("eos.itch");
    std::fs::write(&path, &edited).unwrap();
    let out = replay(&path, &["--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["messages"].as_u64(), Some(k as u64 + 1));
    assert_eq!(v["by_type"]["z"].as_u64(), Some(1));
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn config_capacities_and_filter_apply() {
    let src = tmp("cfg.itch");
    generate(&src, 60_000, 4, 21);
    let r = reference(&src);
    let keep = r.symbols[1].clone();
    let cfg = tmp("floe.toml");
    std::fs::write(
        &cfg,
        format!("[book]\nsymbols = 1\nonly = [\"{keep}\"]\norders_per_book = 4096\nlevels_per_side = 512\n"),
    )
    .unwrap();
    let out = replay(
        &src,
        &[
            "--json",
            "--config",
            cfg.to_str().unwrap(),
            "--symbols",
            &r.symbols.join(","),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    for s in &r.symbols {
        let want = if *s == keep { r.tops[s] } else { (None, None) };
        assert_side(&v["books"][s], "bid", want.0, s);
        assert_side(&v["books"][s], "ask", want.1, s);
    }
    // A capacity too small for the file shows up as capacity drops, not a failure.
    let out = replay(&src, &["--books", "4", "--orders-per-book", "8"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("capacity drops"), "{text}");
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&cfg);
}
