//! `floe journal inspect|verify DIR`: read a journal directory without
//! changing it.
//!
//! # `inspect [--json]`
//!
//! Lists the segments, the snapshots, then one line per record in sequence
//! order, decoded; ends with the problem that stopped the walk, if any (a
//! torn tail, a bad crc). Exit 0 when every record was read and decoded, 1
//! otherwise, 2 when `DIR` is not a journal or holds no records.
//!
//! Human lines are `SEQ  TIME  TYPE  what happened`, one per record:
//!
//! ```text
//!          1     0.001001000  parent_accepted  parent=1 coid=desk-42  SELL 10000 AAPL limit 99.9900  display 100 ±20%  delay 1-5 ms  DAY  seed=1
//!          2     0.001001000  child_intent     enter    parent=1 child=1 ref=1 id=00000100010001  SELL 100 AAPL @ 99.9900 DAY
//!          3     0.001002000  venue_event      accepted        soup=1 ref=1 parent=1 child=1  SELL 100 AAPL @ 99.9900  venue_ref=1
//!          4     0.001002000  venue_event      executed        soup=2 ref=1  100 @ 99.9900  liquidity A match=1
//! ```
//!
//! `TIME` is the engine's: UTC RFC 3339 when it comes from a wall clock,
//! else seconds. Identifiers print as `key=value` (`ref` is the order ref,
//! `id` the token / ClOrdID on the wire, `soup` the SoupBinTCP sequence),
//! the order itself as `SIDE QTY SYMBOL @ PRICE`, prices with four decimals;
//! the rest (venue timestamps, scheduling draws) only in `--json`. Segment
//! and snapshot lines come first (`segment N: FILE, SIZE, first seq S`,
//! `snapshot at seq S: FILE, SIZE, valid`), a `problem: …` line last.
//!
//! With `--json` every line is one JSON object whose keys keep this order
//! and never change meaning:
//!
//! - every object: `kind` — `segment`, `snapshot`, `record`, `undecodable`
//!   or `problem`;
//! - `segment`: `segment`, `file`, `file_len`, `state` (`ok`, `unused` or
//!   the header defect), `first_seq`, `segment_bytes` (null unless `ok`);
//! - `snapshot`: `seq`, `file`, `file_len`, `valid`, `defect` (null when
//!   valid);
//! - `record`: `seq`, `segment`, `offset`, `type` (`parent_accepted`,
//!   `parent_control`, `kill_switch`, `child_intent`, `venue_event`,
//!   `parent_wait`, `parent_halt`), `at_ns`, then the type's fields:
//!   - `parent_accepted`: `parent`, `client_order_id`, `symbol`, `side`
//!     (`BUY`/`SELL`), `total`, `display`, `variance_ppm`, `limit`,
//!     `min_delay_ms`, `max_delay_ms`, `tif` (`DAY`/`IOC`), `peg`, `seed`;
//!   - `parent_control`: `parent`, `control` (`pause`, `resume`, `cancel`,
//!     `amend`), `total`, `limit` (null unless amended);
//!   - `kill_switch`: `on`;
//!   - `child_intent`: `intent` (`enter`, `replace`, `cancel`), `parent`,
//!     `child`, `order_ref`, `id` (the 14-character OUCH 4.2 token / OUCH
//!     5.0 ClOrdID), `side`, `symbol`, `qty`, `price`; enter: `tif`,
//!     `next_delay_ns`, `rng_draws`; replace: `old_ref`;
//!   - `venue_event`: `soup_seq`, `event` (`system`, `accepted`,
//!     `replaced`, `canceled`, `executed`, `rejected`, `cancel_pending`,
//!     `cancel_reject`, `broken_trade`, `priority_update`, `modified`,
//!     `restated`, `account_query_response`), `ts_ns` (the venue's), then
//!     the event's fields: `order_ref`, `old_ref`, `parent`, `child` (null
//!     without a tag), `side`, `qty`, `symbol`, `price`,
//!     `venue_order_ref`, `live`, `decrement`, `reason`, `liquidity`,
//!     `match_number`, `code`, `next_order_ref` as the event has them;
//!   - `parent_wait`: `parent`, `reason` (the risk refusal's name),
//!     `retry_at_ns`;
//!   - `parent_halt`: `parent`, `reason`;
//! - `undecodable`: `seq`, `segment`, `offset`, `type_code`, `error`,
//!   `payload_hex`;
//! - `problem`: `message`.
//!
//! Quantities and integers are JSON numbers, prices decimal strings with
//! four decimals, single-byte codes one-character strings (`"U"`) or `"0xNN"`
//! when not printable.
//!
//! # `verify [--config FILE]`
//!
//! Walks every record (crc, sequence continuity, segment headers, nothing
//! written after the end, a start covered by a snapshot), decodes each, and
//! checks the invariants twice over: through a light model of its own — per
//! parent the venue's fills never exceed the largest total it was given, no
//! order ref is minted by two intents (the OUCH 5.0 UserRefNum and the OUCH
//! 4.2 token derive from it) and refs increase, every child intent and
//! control names a known parent, every fill names a known child, no fill and
//! no soup sequence is journaled twice — and by applying each record to a
//! fresh [`Engine`] built from the configuration (`--config`, else the
//! defaults: pass the appliance's file when its pools are larger), whose
//! invariants are checked at each snapshot and at the end, and whose state
//! at each snapshot's sequence must equal that snapshot's (every parent's
//! status, next order ref, next soup sequence, kill switch, counters).
//! When the journal's first segments were pruned, replay starts from the
//! oldest snapshot that covers them, and the model knows only what it
//! holds (parents, their totals and fills, the next order ref).
//!
//! Exit 0 with a one-line summary (`valid: …`); 1 with the first violation
//! (`invalid: seq N …: what, which parent/child`); 2 when `DIR` is not a
//! journal or holds no records.

use anyhow::{bail, Context};
use floe::config::Config;
use floe::engine::record::rec_type;
use floe::engine::{ApplyError, Control, Engine, HaltReason, IntentKind, Record};
use floe::journal::reader::Record as RawRecord;
use floe::journal::snapshot::load_snapshot;
use floe::journal::{HeaderDefect, JournalReader};
use floe::order::{encode_id, ChildTag, OrderEvent, OrderRef, TimeInForce};
use floe::types::{Price4, Qty, Side, Symbol};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `floe journal` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// One line per record.
    Inspect {
        /// Journal directory.
        dir: PathBuf,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Check CRCs, sequence continuity and invariants; exit 1 on the first violation.
    Verify {
        /// Journal directory.
        dir: PathBuf,
        /// The appliance's configuration (pool capacities for the replay);
        /// default: the built-in defaults.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

/// Runs the subcommand.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Inspect { dir, json } => inspect(&dir, json),
        Command::Verify { dir, config } => {
            let cfg = match config {
                Some(p) => Config::load(&p)?,
                None => Config::default(),
            };
            verify(&dir, &cfg)
        }
    }
}

fn open_reader(dir: &Path) -> anyhow::Result<JournalReader> {
    if !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    let reader = JournalReader::open(dir).with_context(|| format!("reading {}", dir.display()))?;
    if reader.segments().is_empty() {
        bail!(
            "{}: not a floe journal: no segment files (NNNNNNNNNNNNNNNN.seg){}",
            dir.display(),
            if reader.snapshots().is_empty() {
                ""
            } else {
                ", only snapshots"
            }
        );
    }
    Ok(reader)
}

fn no_records(dir: &Path) -> anyhow::Error {
    anyhow::anyhow!("{}: the journal holds no records", dir.display())
}

// ---------------------------------------------------------------------------
// Fields: one ordered list per line, rendered as text or JSON
// ---------------------------------------------------------------------------

enum V {
    U(u64),
    S(String),
    T(&'static str),
    P(Price4),
    B(bool),
    Null,
}

type Fields = Vec<(&'static str, V)>;

fn opt_u(v: Option<u64>) -> V {
    v.map_or(V::Null, V::U)
}

fn side(s: Side) -> V {
    V::T(match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    })
}

fn tif(t: TimeInForce) -> V {
    V::T(match t {
        TimeInForce::Day => "DAY",
        TimeInForce::Ioc => "IOC",
    })
}

fn code(c: u8) -> V {
    if c.is_ascii_graphic() {
        V::S(char::from(c).to_string())
    } else {
        V::S(format!("0x{c:02x}"))
    }
}

fn tag_fields(f: &mut Fields, tag: Option<ChildTag>) {
    f.push(("parent", opt_u(tag.map(|t| u64::from(t.parent)))));
    f.push(("child", opt_u(tag.map(|t| u64::from(t.child)))));
}

fn record_fields(rec: &Record, f: &mut Fields) {
    match *rec {
        Record::ParentAccepted {
            parent,
            client_order_id,
            params: p,
            seed,
            ..
        } => {
            f.push(("parent", V::U(parent.into())));
            f.push(("client_order_id", V::S(client_order_id.as_str().into())));
            f.push(("symbol", V::S(p.symbol.as_str().into())));
            f.push(("side", side(p.side)));
            f.push(("total", V::U(p.total.0.into())));
            f.push(("display", V::U(p.display.0.into())));
            f.push(("variance_ppm", V::U(p.variance_ppm.into())));
            f.push(("limit", V::P(p.limit)));
            f.push(("min_delay_ms", V::U(p.min_delay_ms.into())));
            f.push(("max_delay_ms", V::U(p.max_delay_ms.into())));
            f.push(("tif", tif(p.tif)));
            f.push(("peg", V::B(p.peg)));
            f.push(("seed", V::U(seed)));
        }
        Record::ParentControl {
            parent, control, ..
        } => {
            f.push(("parent", V::U(parent.into())));
            let (name, total, limit) = match control {
                Control::Pause => ("pause", None, None),
                Control::Resume => ("resume", None, None),
                Control::Cancel => ("cancel", None, None),
                Control::Amend { total, limit } => ("amend", total, limit),
            };
            f.push(("control", V::T(name)));
            f.push(("total", opt_u(total.map(|q| q.0.into()))));
            f.push(("limit", limit.map_or(V::Null, V::P)));
        }
        Record::KillSwitch { on, .. } => f.push(("on", V::B(on))),
        Record::ChildIntent(ci) => {
            let intent = match ci.kind {
                IntentKind::Enter { .. } => "enter",
                IntentKind::Replace { .. } => "replace",
                IntentKind::Cancel => "cancel",
            };
            f.push(("intent", V::T(intent)));
            f.push(("parent", V::U(ci.tag.parent.into())));
            f.push(("child", V::U(ci.tag.child.into())));
            f.push(("order_ref", V::U(ci.order_ref.0.into())));
            f.push((
                "id",
                encode_id(ci.order_ref, ci.tag)
                    .ok()
                    .and_then(|b| std::str::from_utf8(&b).ok().map(|s| V::S(s.into())))
                    .unwrap_or(V::Null),
            ));
            f.push(("side", side(ci.side)));
            f.push(("symbol", V::S(ci.symbol.as_str().into())));
            f.push(("qty", V::U(ci.qty.0.into())));
            f.push(("price", V::P(ci.price)));
            match ci.kind {
                IntentKind::Enter {
                    tif: t,
                    next_delay,
                    rng_draws,
                } => {
                    f.push(("tif", tif(t)));
                    f.push(("next_delay_ns", V::U(next_delay.0)));
                    f.push(("rng_draws", V::U(rng_draws)));
                }
                IntentKind::Replace { old } => f.push(("old_ref", V::U(old.0.into()))),
                IntentKind::Cancel => {}
            }
        }
        Record::VenueEvent {
            soup_seq, event, ..
        } => {
            f.push(("soup_seq", V::U(soup_seq)));
            event_fields(&event, f);
        }
        Record::ParentWait {
            parent,
            reason,
            retry_at,
            ..
        } => {
            f.push(("parent", V::U(parent.into())));
            f.push(("reason", V::T(reason.name())));
            f.push(("retry_at_ns", opt_u(retry_at.map(|t| t.0))));
        }
        Record::ParentHalt { parent, reason, .. } => {
            f.push(("parent", V::U(parent.into())));
            f.push(("reason", V::T(halt_name(reason))));
        }
    }
}

fn event_fields(e: &OrderEvent, f: &mut Fields) {
    let (name, ts) = match *e {
        OrderEvent::SystemEvent { ts, .. } => ("system", ts),
        OrderEvent::Accepted { ts, .. } => ("accepted", ts),
        OrderEvent::Replaced { ts, .. } => ("replaced", ts),
        OrderEvent::Canceled { ts, .. } => ("canceled", ts),
        OrderEvent::Executed { ts, .. } => ("executed", ts),
        OrderEvent::Rejected { ts, .. } => ("rejected", ts),
        OrderEvent::CancelPending { ts, .. } => ("cancel_pending", ts),
        OrderEvent::CancelReject { ts, .. } => ("cancel_reject", ts),
        OrderEvent::BrokenTrade { ts, .. } => ("broken_trade", ts),
        OrderEvent::PriorityUpdate { ts, .. } => ("priority_update", ts),
        OrderEvent::Modified { ts, .. } => ("modified", ts),
        OrderEvent::Restated { ts, .. } => ("restated", ts),
        OrderEvent::AccountQueryResponse { ts, .. } => ("account_query_response", ts),
    };
    f.push(("event", V::T(name)));
    f.push(("ts_ns", V::U(ts)));
    let oref = |f: &mut Fields, o: floe::order::OrderRef| f.push(("order_ref", V::U(o.0.into())));
    match *e {
        OrderEvent::SystemEvent { code: c, .. } => f.push(("code", code(c))),
        OrderEvent::Accepted {
            order,
            tag,
            side: s,
            qty,
            symbol,
            price,
            venue_order_ref,
            live,
            ..
        } => {
            oref(f, order);
            tag_fields(f, tag);
            f.push(("side", side(s)));
            f.push(("qty", V::U(qty.0.into())));
            f.push(("symbol", V::S(symbol.as_str().into())));
            f.push(("price", V::P(price)));
            f.push(("venue_order_ref", V::U(venue_order_ref)));
            f.push(("live", V::B(live)));
        }
        OrderEvent::Replaced {
            old,
            order,
            tag,
            side: s,
            qty,
            symbol,
            price,
            venue_order_ref,
            live,
            ..
        } => {
            f.push(("old_ref", V::U(old.0.into())));
            oref(f, order);
            tag_fields(f, tag);
            f.push(("side", side(s)));
            f.push(("qty", V::U(qty.0.into())));
            f.push(("symbol", V::S(symbol.as_str().into())));
            f.push(("price", V::P(price)));
            f.push(("venue_order_ref", V::U(venue_order_ref)));
            f.push(("live", V::B(live)));
        }
        OrderEvent::Canceled {
            order,
            decrement,
            reason,
            ..
        } => {
            oref(f, order);
            f.push(("decrement", V::U(decrement.0.into())));
            f.push(("reason", code(reason.code)));
        }
        OrderEvent::Executed {
            order,
            qty,
            price,
            liquidity,
            match_number,
            ..
        } => {
            oref(f, order);
            f.push(("qty", V::U(qty.0.into())));
            f.push(("price", V::P(price)));
            f.push(("liquidity", code(liquidity)));
            f.push(("match_number", V::U(match_number)));
        }
        OrderEvent::Rejected {
            order, tag, reason, ..
        } => {
            oref(f, order);
            tag_fields(f, tag);
            f.push(("reason", V::U(reason.code.into())));
        }
        OrderEvent::CancelPending { order, .. } | OrderEvent::CancelReject { order, .. } => {
            oref(f, order)
        }
        OrderEvent::BrokenTrade {
            order,
            match_number,
            reason,
            ..
        } => {
            oref(f, order);
            f.push(("match_number", V::U(match_number)));
            f.push(("reason", code(reason)));
        }
        OrderEvent::PriorityUpdate {
            order,
            price,
            venue_order_ref,
            ..
        } => {
            oref(f, order);
            f.push(("price", V::P(price)));
            f.push(("venue_order_ref", V::U(venue_order_ref)));
        }
        OrderEvent::Modified {
            order,
            side: s,
            qty,
            ..
        } => {
            oref(f, order);
            f.push(("side", side(s)));
            f.push(("qty", V::U(qty.0.into())));
        }
        OrderEvent::Restated { order, reason, .. } => {
            oref(f, order);
            f.push(("reason", code(reason)));
        }
        OrderEvent::AccountQueryResponse { next_order, .. } => {
            f.push(("next_order_ref", V::U(next_order.0.into())))
        }
    }
}

fn json_line(kind: &str, fields: &Fields) -> String {
    let mut s = String::with_capacity(256);
    s.push_str("{\"kind\":");
    s.push_str(&serde_json::Value::from(kind).to_string());
    for (k, v) in fields {
        s.push(',');
        s.push_str(&serde_json::Value::from(*k).to_string());
        s.push(':');
        match v {
            V::U(n) => {
                let _ = write!(s, "{n}");
            }
            V::S(t) => s.push_str(&serde_json::Value::from(t.as_str()).to_string()),
            V::T(t) => s.push_str(&serde_json::Value::from(*t).to_string()),
            V::P(p) => {
                let _ = write!(s, "\"{p}\"");
            }
            V::B(b) => s.push_str(if *b { "true" } else { "false" }),
            V::Null => s.push_str("null"),
        }
    }
    s.push('}');
    s
}

fn seconds(ns: u64) -> String {
    format!("{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000)
}

// ---------------------------------------------------------------------------
// Human lines: `SEQ  TIME  TYPE  what happened`
// ---------------------------------------------------------------------------

/// Engine times from a wall clock (after 2001-09-09) print as UTC
/// RFC 3339; the small times of a simulation or test as seconds.
fn when(ns: u64) -> String {
    if ns >= 1_000_000_000_000_000_000 {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns);
        humantime::format_rfc3339_nanos(t).to_string()
    } else {
        format!("{:>14}", seconds(ns))
    }
}

fn side_str(s: Side) -> &'static str {
    match s {
        Side::Buy => "BUY",
        Side::Sell => "SELL",
    }
}

fn tif_str(t: TimeInForce) -> &'static str {
    match t {
        TimeInForce::Day => "DAY",
        TimeInForce::Ioc => "IOC",
    }
}

fn code_str(c: u8) -> String {
    if c.is_ascii_graphic() {
        char::from(c).to_string()
    } else {
        format!("0x{c:02x}")
    }
}

fn halt_name(r: HaltReason) -> &'static str {
    match r {
        HaltReason::ChildIdsExhausted => "CHILD_IDS_EXHAUSTED",
        HaltReason::OrderRefsExhausted => "ORDER_REFS_EXHAUSTED",
        HaltReason::ChildCapacity => "CHILD_CAPACITY",
    }
}

/// Parts per million as a percentage without trailing zeros (`20%`,
/// `2.5%`).
fn percent(ppm: u32) -> String {
    let s = format!("{}.{:04}", ppm / 10_000, ppm % 10_000);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

fn tag_str(tag: Option<ChildTag>) -> String {
    tag.map_or_else(String::new, |t| {
        format!(" parent={} child={}", t.parent, t.child)
    })
}

/// What a record says, for a person: identifiers as `key=value`, the
/// order itself as `SIDE QTY SYMBOL @ PRICE`, prices with four decimals;
/// the rest is in `--json`.
fn record_text(rec: &Record) -> String {
    let mut s = String::with_capacity(128);
    match *rec {
        Record::ParentAccepted {
            parent,
            client_order_id,
            params: p,
            seed,
            ..
        } => {
            let _ = write!(
                s,
                "parent={parent} coid={}  {} {} {} limit {}  display {}",
                client_order_id.as_str(),
                side_str(p.side),
                p.total.0,
                p.symbol.as_str(),
                p.limit,
                p.display.0
            );
            if p.variance_ppm > 0 {
                let _ = write!(s, " ±{}", percent(p.variance_ppm));
            }
            if p.max_delay_ms > 0 {
                let _ = write!(s, "  delay {}-{} ms", p.min_delay_ms, p.max_delay_ms);
            }
            let _ = write!(s, "  {}", tif_str(p.tif));
            if p.peg {
                s.push_str(" peg");
            }
            let _ = write!(s, "  seed={seed}");
        }
        Record::ParentControl {
            parent, control, ..
        } => {
            let _ = write!(s, "parent={parent} ");
            match control {
                Control::Pause => s.push_str("pause"),
                Control::Resume => s.push_str("resume"),
                Control::Cancel => s.push_str("cancel"),
                Control::Amend { total, limit } => {
                    s.push_str("amend");
                    if let Some(t) = total {
                        let _ = write!(s, " total {}", t.0);
                    }
                    if let Some(l) = limit {
                        let _ = write!(s, " limit {l}");
                    }
                }
            }
        }
        Record::KillSwitch { on, .. } => s.push_str(if on { "on" } else { "off" }),
        Record::ChildIntent(ci) => {
            let id = encode_id(ci.order_ref, ci.tag)
                .ok()
                .and_then(|b| std::str::from_utf8(&b).ok().map(str::to_owned))
                .unwrap_or_else(|| "?".into());
            let what = match ci.kind {
                IntentKind::Enter { .. } => "enter",
                IntentKind::Replace { .. } => "replace",
                IntentKind::Cancel => "cancel",
            };
            let _ = write!(
                s,
                "{what:<8} parent={} child={} ref={}",
                ci.tag.parent, ci.tag.child, ci.order_ref.0
            );
            if let IntentKind::Replace { old } = ci.kind {
                let _ = write!(s, " old_ref={}", old.0);
            }
            let _ = write!(s, " id={id}  ");
            match ci.kind {
                IntentKind::Enter { tif: t, .. } => {
                    let _ = write!(
                        s,
                        "{} {} {} @ {} {}",
                        side_str(ci.side),
                        ci.qty.0,
                        ci.symbol.as_str(),
                        ci.price,
                        tif_str(t)
                    );
                }
                IntentKind::Replace { .. } => {
                    let _ = write!(
                        s,
                        "{} {} {} @ {}",
                        side_str(ci.side),
                        ci.qty.0,
                        ci.symbol.as_str(),
                        ci.price
                    );
                }
                IntentKind::Cancel => {
                    let _ = write!(
                        s,
                        "{} {} @ {}",
                        side_str(ci.side),
                        ci.symbol.as_str(),
                        ci.price
                    );
                }
            }
        }
        Record::VenueEvent {
            soup_seq, event, ..
        } => event_text(&mut s, soup_seq, &event),
        Record::ParentWait {
            parent,
            reason,
            retry_at,
            ..
        } => {
            let _ = write!(s, "parent={parent} waits: {}", reason.name());
            match retry_at {
                Some(t) => {
                    let _ = write!(s, ", retry at {}", when(t.0).trim_start());
                }
                None => s.push_str(", until released"),
            }
        }
        Record::ParentHalt { parent, reason, .. } => {
            let _ = write!(s, "parent={parent} halted: {}", halt_name(reason));
        }
    }
    s
}

/// The resting order an Accepted or Replaced report describes.
#[allow(clippy::too_many_arguments)]
fn resting(
    s: &mut String,
    tag: Option<ChildTag>,
    side: Side,
    qty: Qty,
    symbol: Symbol,
    price: Price4,
    venue_order_ref: u64,
    live: bool,
) {
    let _ = write!(
        s,
        "{}  {} {} {} @ {}  venue_ref={venue_order_ref}{}",
        tag_str(tag),
        side_str(side),
        qty.0,
        symbol.as_str(),
        price,
        if live { "" } else { " (not live)" }
    );
}

fn event_text(s: &mut String, soup: u64, e: &OrderEvent) {
    let order = |s: &mut String, name: &str, o: OrderRef| {
        let _ = write!(s, "{name:<15} soup={soup} ref={}", o.0);
    };
    match *e {
        OrderEvent::SystemEvent { code: c, .. } => {
            let _ = write!(s, "{:<15} soup={soup} code {}", "system", code_str(c));
        }
        OrderEvent::Accepted {
            order: o,
            tag,
            side: sd,
            qty,
            symbol,
            price,
            venue_order_ref,
            live,
            ..
        } => {
            order(s, "accepted", o);
            resting(s, tag, sd, qty, symbol, price, venue_order_ref, live);
        }
        OrderEvent::Replaced {
            old,
            order: o,
            tag,
            side: sd,
            qty,
            symbol,
            price,
            venue_order_ref,
            live,
            ..
        } => {
            order(s, "replaced", o);
            let _ = write!(s, " old_ref={}", old.0);
            resting(s, tag, sd, qty, symbol, price, venue_order_ref, live);
        }
        OrderEvent::Canceled {
            order: o,
            decrement,
            reason,
            ..
        } => {
            order(s, "canceled", o);
            let _ = write!(
                s,
                "  {} shares, reason {}",
                decrement.0,
                code_str(reason.code)
            );
        }
        OrderEvent::Executed {
            order: o,
            qty,
            price,
            liquidity,
            match_number,
            ..
        } => {
            order(s, "executed", o);
            let _ = write!(
                s,
                "  {} @ {}  liquidity {} match={match_number}",
                qty.0,
                price,
                code_str(liquidity)
            );
        }
        OrderEvent::Rejected {
            order: o,
            tag,
            reason,
            ..
        } => {
            order(s, "rejected", o);
            let _ = write!(s, "{}  reason {}", tag_str(tag), reason.code);
        }
        OrderEvent::CancelPending { order: o, .. } => order(s, "cancel_pending", o),
        OrderEvent::CancelReject { order: o, .. } => order(s, "cancel_reject", o),
        OrderEvent::BrokenTrade {
            order: o,
            match_number,
            reason,
            ..
        } => {
            order(s, "broken_trade", o);
            let _ = write!(s, " match={match_number}  reason {}", code_str(reason));
        }
        OrderEvent::PriorityUpdate {
            order: o,
            price,
            venue_order_ref,
            ..
        } => {
            order(s, "priority_update", o);
            let _ = write!(s, "  @ {price}  venue_ref={venue_order_ref}");
        }
        OrderEvent::Modified {
            order: o,
            side: sd,
            qty,
            ..
        } => {
            order(s, "modified", o);
            let _ = write!(s, "  {} {}", side_str(sd), qty.0);
        }
        OrderEvent::Restated {
            order: o, reason, ..
        } => {
            order(s, "restated", o);
            let _ = write!(s, "  reason {}", code_str(reason));
        }
        OrderEvent::AccountQueryResponse { next_order, .. } => {
            let _ = write!(
                s,
                "{:<15} soup={soup} next_ref={}",
                "account_query", next_order.0
            );
        }
    }
}

/// `64 MiB` for whole mebibytes, else bytes.
fn size(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

// ---------------------------------------------------------------------------
// inspect
// ---------------------------------------------------------------------------

/// Writes lines to stdout; a closed pipe (`| head`) ends the output quietly.
struct Out {
    w: BufWriter<io::StdoutLock<'static>>,
    closed: bool,
}

impl Out {
    fn new() -> Out {
        Out {
            w: BufWriter::new(io::stdout().lock()),
            closed: false,
        }
    }
    fn line(&mut self, s: &str) -> anyhow::Result<()> {
        if self.closed {
            return Ok(());
        }
        match writeln!(self.w, "{s}") {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
    fn finish(mut self) -> anyhow::Result<()> {
        match self.w.flush() {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e.into()),
            _ => Ok(()),
        }
    }
}

fn inspect(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let reader = open_reader(dir)?;
    let mut out = Out::new();
    for s in reader.segments() {
        let (state, first, bytes) = match s.header {
            Ok(h) => ("ok", Some(h.first_seq), Some(h.segment_bytes)),
            Err(HeaderDefect::Unused) => ("unused", None, None),
            Err(d) => (d.as_str(), None, None),
        };
        let fields: Fields = vec![
            ("segment", V::U(s.number)),
            ("file", V::S(s.path.display().to_string())),
            ("file_len", V::U(s.file_len)),
            ("state", V::T(state)),
            ("first_seq", opt_u(first)),
            ("segment_bytes", opt_u(bytes)),
        ];
        if json {
            out.line(&json_line("segment", &fields))?;
        } else {
            let mut l = format!(
                "segment {}: {}, {}",
                s.number,
                file_name(&s.path),
                size(s.file_len)
            );
            let _ = match (first, bytes) {
                (Some(f), Some(b)) if b == s.file_len => write!(l, ", first seq {f}"),
                (Some(f), Some(b)) => write!(l, ", first seq {f}, header says {}", size(b)),
                _ if state == "unused" => write!(l, ", unused (the spare)"),
                _ => write!(l, ", {state}"),
            };
            out.line(&l)?;
        }
    }
    for s in reader.snapshots() {
        let fields: Fields = vec![
            ("seq", V::U(s.seq)),
            ("file", V::S(s.path.display().to_string())),
            ("file_len", V::U(s.file_len)),
            ("valid", V::B(s.defect.is_none())),
            ("defect", s.defect.map_or(V::Null, V::T)),
        ];
        if json {
            out.line(&json_line("snapshot", &fields))?;
        } else {
            out.line(&format!(
                "snapshot at seq {}: {}, {}, {}",
                s.seq,
                file_name(&s.path),
                size(s.file_len),
                s.defect
                    .map_or_else(|| "valid".to_string(), |d| format!("INVALID: {d}"))
            ))?;
        }
    }
    let mut records = 0u64;
    let mut bad = false;
    for item in reader.records() {
        match item {
            Ok(r) => {
                records += 1;
                match Record::decode(r.rec_type, r.payload) {
                    Ok(rec) => {
                        let mut fields: Fields = vec![
                            ("seq", V::U(r.seq)),
                            ("segment", V::U(r.segment)),
                            ("offset", V::U(r.offset)),
                            ("type", V::T(rec.type_name())),
                            ("at_ns", V::U(rec.at().0)),
                        ];
                        if json {
                            record_fields(&rec, &mut fields);
                            out.line(&json_line("record", &fields))?;
                        } else {
                            out.line(&format!(
                                "{:>10}  {}  {:<15}  {}",
                                r.seq,
                                when(rec.at().0),
                                rec.type_name(),
                                record_text(&rec)
                            ))?;
                        }
                    }
                    Err(e) => {
                        bad = true;
                        let hex: String = r.payload.iter().map(|b| format!("{b:02x}")).collect();
                        if json {
                            let fields: Fields = vec![
                                ("seq", V::U(r.seq)),
                                ("segment", V::U(r.segment)),
                                ("offset", V::U(r.offset)),
                                ("type_code", V::U(r.rec_type.into())),
                                ("error", V::S(e.to_string())),
                                ("payload_hex", V::S(hex)),
                            ];
                            out.line(&json_line("undecodable", &fields))?;
                        } else {
                            out.line(&format!(
                                "{:>10}  UNDECODABLE type 0x{:04x} at segment {} offset {}: {e}; payload {hex}",
                                r.seq, r.rec_type, r.segment, r.offset
                            ))?;
                        }
                    }
                }
            }
            Err(p) => {
                bad = true;
                let fields: Fields = vec![("message", V::S(p.to_string()))];
                if json {
                    out.line(&json_line("problem", &fields))?;
                } else {
                    out.line(&format!("problem: {p}"))?;
                }
            }
        }
    }
    out.finish()?;
    if records == 0 && !bad {
        return Err(no_records(dir));
    }
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

// ---------------------------------------------------------------------------
// verify
// ---------------------------------------------------------------------------

/// The first thing wrong, at a record.
struct Violation {
    seq: u64,
    at: Option<(u64, u64)>,
    kind: &'static str,
    what: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seq {}", self.seq)?;
        if let Some((segment, offset)) = self.at {
            write!(f, " (segment {segment} offset {offset})")?;
        }
        write!(f, " {}: {}", self.kind, self.what)
    }
}

struct MParent {
    /// The largest total the parent was ever given.
    ceiling: u64,
    /// Shares the venue reported filled.
    filled: u64,
    seq: u64,
}

struct MRef {
    tag: ChildTag,
    seq: u64,
}

/// The independent model (see the module documentation).
#[derive(Default)]
struct Model {
    parents: HashMap<u32, MParent>,
    coids: HashMap<Vec<u8>, (u32, u64)>,
    refs: HashMap<u32, MRef>,
    children: HashMap<ChildTag, u64>,
    fills_seen: HashMap<(u32, u64), u64>,
    /// Refs below this were minted before the snapshot replay started from.
    ref_floor: u32,
    last_minted: Option<u32>,
    last_soup: u64,
    new_children: u64,
    fills: u64,
    shares: u64,
}

impl Model {
    fn parent(&mut self, id: u32) -> Result<&mut MParent, String> {
        self.parents
            .get_mut(&id)
            .ok_or_else(|| format!("unknown parent {id}"))
    }

    fn mint(&mut self, seq: u64, order: u32, tag: ChildTag) -> Result<(), String> {
        if let Some(m) = self.refs.get(&order) {
            return Err(format!(
                "order ref {order} used by two intents: parent {} child {} (seq {}) and parent {} child {}",
                m.tag.parent, m.tag.child, m.seq, tag.parent, tag.child
            ));
        }
        if order < self.ref_floor {
            return Err(format!(
                "order ref {order} (parent {} child {}) is below the snapshot's next order ref {}: it may reuse one minted before",
                tag.parent, tag.child, self.ref_floor
            ));
        }
        if let Some(last) = self.last_minted.filter(|&l| order <= l) {
            return Err(format!(
                "order ref {order} (parent {} child {}) is not above the last minted {last}",
                tag.parent, tag.child
            ));
        }
        self.last_minted = Some(order);
        self.refs.insert(order, MRef { tag, seq });
        Ok(())
    }

    /// The tag an existing order ref belongs to; `Ok(None)` for a ref
    /// minted before the snapshot start (unknown to the model).
    fn owner(&self, order: u32) -> Result<Option<ChildTag>, ()> {
        match self.refs.get(&order) {
            Some(m) => Ok(Some(m.tag)),
            None if order < self.ref_floor => Ok(None),
            None => Err(()),
        }
    }

    fn check(&mut self, seq: u64, rec: &Record) -> Result<(), String> {
        match *rec {
            Record::ParentAccepted {
                parent,
                client_order_id,
                params,
                ..
            } => {
                if let Some(p) = self.parents.get(&parent) {
                    return Err(format!(
                        "parent {parent} accepted twice (first at seq {})",
                        p.seq
                    ));
                }
                let key = client_order_id.as_bytes().to_vec();
                if let Some((first, at)) = self.coids.get(&key) {
                    return Err(format!(
                        "client_order_id {} accepted twice: parent {first} (seq {at}) and parent {parent}",
                        client_order_id.as_str()
                    ));
                }
                self.coids.insert(key, (parent, seq));
                self.parents.insert(
                    parent,
                    MParent {
                        ceiling: params.total.0.into(),
                        filled: 0,
                        seq,
                    },
                );
            }
            Record::ParentControl {
                parent, control, ..
            } => {
                let p = self
                    .parent(parent)
                    .map_err(|e| format!("control of an {e}"))?;
                if let Control::Amend { total: Some(t), .. } = control {
                    p.ceiling = p.ceiling.max(t.0.into());
                }
            }
            Record::KillSwitch { .. } => {}
            Record::ParentWait { parent, .. } | Record::ParentHalt { parent, .. } => {
                self.parent(parent).map_err(|e| format!("for an {e}"))?;
            }
            Record::ChildIntent(ci) => {
                let (p, c, r) = (ci.tag.parent, ci.tag.child, ci.order_ref.0);
                if !self.parents.contains_key(&p) {
                    return Err(format!(
                        "child intent for unknown parent {p} (child {c}, order ref {r})"
                    ));
                }
                match ci.kind {
                    IntentKind::Enter { .. } => {
                        if let Some(first) = self.children.get(&ci.tag) {
                            return Err(format!(
                                "parent {p} child {c} entered twice (first at seq {first})"
                            ));
                        }
                        self.mint(seq, r, ci.tag)?;
                        self.children.insert(ci.tag, seq);
                        self.new_children += 1;
                    }
                    IntentKind::Replace { old } => {
                        match self.owner(old.0) {
                            Ok(Some(t)) if t != ci.tag => {
                                return Err(format!(
                                    "parent {p} child {c} replaces order ref {}, which belongs to parent {} child {}",
                                    old.0, t.parent, t.child
                                ))
                            }
                            Err(()) => {
                                return Err(format!(
                                    "parent {p} child {c} replaces unknown order ref {}",
                                    old.0
                                ))
                            }
                            _ => {}
                        }
                        self.mint(seq, r, ci.tag)?;
                    }
                    IntentKind::Cancel => match self.owner(r) {
                        Ok(Some(t)) if t != ci.tag => {
                            return Err(format!(
                                "parent {p} child {c} cancels order ref {r}, which belongs to parent {} child {}",
                                t.parent, t.child
                            ))
                        }
                        Err(()) => {
                            return Err(format!(
                                "parent {p} child {c} cancels unknown order ref {r}"
                            ))
                        }
                        _ => {}
                    },
                }
            }
            Record::VenueEvent {
                soup_seq, event, ..
            } => {
                if soup_seq <= self.last_soup {
                    return Err(format!(
                        "soup sequence {soup_seq} is not above the previous {}: a report journaled twice",
                        self.last_soup
                    ));
                }
                self.last_soup = soup_seq;
                if let OrderEvent::Executed {
                    order,
                    qty,
                    match_number,
                    ..
                } = event
                {
                    let key = (order.0, match_number);
                    if let Some(first) = self.fills_seen.get(&key) {
                        return Err(format!(
                            "fill of order ref {} match {match_number} journaled twice (first at seq {first})",
                            order.0
                        ));
                    }
                    self.fills_seen.insert(key, seq);
                    self.fills += 1;
                    self.shares += u64::from(qty.0);
                    match self.owner(order.0) {
                        Err(()) => {
                            return Err(format!(
                                "fill of {} for unknown order ref {} (match {match_number})",
                                qty.0, order.0
                            ))
                        }
                        Ok(None) => {}
                        Ok(Some(t)) => {
                            let p = self.parent(t.parent)?;
                            p.filled += u64::from(qty.0);
                            if p.filled > p.ceiling {
                                return Err(format!(
                                    "parent {} filled {} above its total {} (fill of {} on child {}, order ref {}, match {match_number})",
                                    t.parent, p.filled, p.ceiling, qty.0, t.child, order.0
                                ));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// What differs between two engines' journaled state, compared through
/// their public read model (independent of pool sizes and rate limits).
fn differs(a: &Engine, b: &Engine) -> Option<String> {
    if a.next_order_ref() != b.next_order_ref() {
        return Some(format!(
            "next order ref {} vs {}",
            a.next_order_ref().0,
            b.next_order_ref().0
        ));
    }
    if a.next_expected_soup_seq() != b.next_expected_soup_seq() {
        return Some(format!(
            "next soup sequence {} vs {}",
            a.next_expected_soup_seq(),
            b.next_expected_soup_seq()
        ));
    }
    if a.kill_switch() != b.kill_switch() {
        return Some("kill switch".into());
    }
    if a.counters() != b.counters() {
        return Some(format!("counters {:?} vs {:?}", a.counters(), b.counters()));
    }
    let mut sa = Vec::new();
    a.for_each_status(|s| sa.push(*s));
    let mut sb = Vec::new();
    b.for_each_status(|s| sb.push(*s));
    if sa.len() != sb.len() {
        return Some(format!("{} parents vs {}", sa.len(), sb.len()));
    }
    sa.iter().zip(&sb).find(|(x, y)| x != y).map(|(x, y)| {
        format!(
            "parent {}: replay has {} filled {} of {}, snapshot has {} filled {} of {}",
            x.parent,
            x.status.name(),
            x.filled.0,
            x.total.0,
            y.status.name(),
            y.filled.0,
            y.total.0
        )
    })
}

struct Checker<'c> {
    cfg: &'c Config,
    eng: Engine,
    model: Model,
    /// Records up to this sequence are covered by the snapshot replay
    /// started from: checked for structure only.
    start_after: u64,
    /// Valid snapshots to compare with the replayed state, by sequence.
    compare: Vec<(u64, PathBuf)>,
    records: u64,
    last: Option<(u64, u64, u64)>,
}

impl<'c> Checker<'c> {
    fn record(&mut self, r: &RawRecord<'_>) -> Result<(), Violation> {
        self.records += 1;
        self.last = Some((r.seq, r.segment, r.offset));
        let at = Some((r.segment, r.offset));
        let kind = rec_type::name(r.rec_type).unwrap_or("record");
        let rec = Record::decode(r.rec_type, r.payload).map_err(|e| Violation {
            seq: r.seq,
            at,
            kind,
            what: format!("does not decode (type 0x{:04x}): {e}", r.rec_type),
        })?;
        if r.seq <= self.start_after {
            return Ok(());
        }
        let v = |what: String| Violation {
            seq: r.seq,
            at,
            kind,
            what,
        };
        self.model.check(r.seq, &rec).map_err(v)?;
        self.eng.apply(&rec).map_err(|e| {
            let hint = if matches!(e, ApplyError::Capacity(_)) {
                " (capacities come from the configuration: pass the appliance's with --config)"
            } else {
                ""
            };
            v(format!("does not apply to the replayed state: {e}{hint}"))
        })?;
        while let Some(&(s, _)) = self.compare.first() {
            if s > r.seq {
                break;
            }
            let (s, path) = self.compare.remove(0);
            if s == r.seq {
                self.eng
                    .check_invariants()
                    .map_err(|e| v(format!("engine invariant broken: {e}")))?;
                let snap = match load_snapshot(&path) {
                    Ok(Ok(snap)) => snap,
                    _ => continue,
                };
                let theirs = Engine::restore(self.cfg, &snap.bytes).map_err(|e| {
                    v(format!(
                        "snapshot {} does not restore: {e} (capacities come from the configuration: pass the appliance's with --config)",
                        path.display()
                    ))
                })?;
                if let Some(what) = differs(&self.eng, &theirs) {
                    return Err(v(format!(
                        "snapshot {} does not match the state replayed from the journal: {what}",
                        path.display()
                    )));
                }
            }
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), Violation> {
        let (seq, segment, offset) = self.last.unwrap_or((0, 0, 0));
        self.eng.check_invariants().map_err(|e| Violation {
            seq,
            at: Some((segment, offset)),
            kind: "end",
            what: format!("after the last record the engine invariant is broken: {e}"),
        })?;
        let mut bad = None;
        self.eng.for_each_status(|s| {
            if bad.is_none() && s.filled > s.total {
                bad = Some(format!(
                    "parent {} filled {} above its total {}",
                    s.parent, s.filled.0, s.total.0
                ));
            }
        });
        match bad {
            Some(what) => Err(Violation {
                seq,
                at: Some((segment, offset)),
                kind: "end",
                what,
            }),
            None => Ok(()),
        }
    }
}

fn verify(dir: &Path, cfg: &Config) -> anyhow::Result<ExitCode> {
    let reader = open_reader(dir)?;
    let structure = reader.verify();
    let first_seq = reader
        .segments()
        .first()
        .and_then(|s| s.header.ok())
        .map_or(1, |h| h.first_seq);
    let valid: Vec<(u64, PathBuf)> = {
        let mut v: Vec<(u64, PathBuf)> = reader
            .snapshots()
            .iter()
            .filter(|s| s.defect.is_none())
            .map(|s| (s.seq, s.path.clone()))
            .collect();
        v.sort_by_key(|(s, _)| *s);
        v
    };
    let mut ck = Checker {
        cfg,
        eng: Engine::new(cfg),
        model: Model::default(),
        start_after: 0,
        compare: Vec::new(),
        records: 0,
        last: None,
    };
    if first_seq > 1 {
        // The start was pruned: replay from the oldest snapshot covering it.
        let Some((s, path)) = valid.iter().find(|(s, _)| s + 1 >= first_seq).cloned() else {
            println!(
                "invalid: the journal starts at sequence {first_seq} and no valid snapshot covers the records before it"
            );
            return Ok(ExitCode::from(1));
        };
        let snap = match load_snapshot(&path)? {
            Ok(snap) => snap,
            Err(d) => bail!("snapshot {}: {d}", path.display()),
        };
        ck.eng = match Engine::restore(ck.cfg, &snap.bytes) {
            Ok(e) => e,
            Err(e) => {
                println!("invalid: snapshot {} does not restore: {e}", path.display());
                return Ok(ExitCode::from(1));
            }
        };
        ck.start_after = s;
        ck.model.ref_floor = ck.eng.next_order_ref().0;
        ck.model.last_soup = ck.eng.next_expected_soup_seq() - 1;
        let mut parents = Vec::new();
        ck.eng.for_each_status(|st| {
            parents.push((
                st.parent,
                MParent {
                    ceiling: u64::from(st.total.0.max(st.requested_total.0)),
                    filled: st.filled.0.into(),
                    seq: s,
                },
            ))
        });
        ck.model.parents.extend(parents);
        ck.compare = valid.iter().filter(|(q, _)| *q > s).cloned().collect();
    } else {
        ck.compare = valid.clone();
    }
    for item in reader.records() {
        match item {
            Ok(r) => {
                if let Err(v) = ck.record(&r) {
                    println!("invalid: {v}");
                    return Ok(ExitCode::from(1));
                }
            }
            Err(p) => {
                println!("invalid: {p}");
                return Ok(ExitCode::from(1));
            }
        }
    }
    if ck.records == 0 && structure.problem.is_none() {
        return Err(no_records(dir));
    }
    if let Some(p) = &structure.problem {
        println!("invalid: {p}");
        return Ok(ExitCode::from(1));
    }
    if let Err(v) = ck.finish() {
        println!("invalid: {v}");
        return Ok(ExitCode::from(1));
    }
    let m = &ck.model;
    println!(
        "valid: {} records (seq {}..{}), {} parents, {} children, {} fills ({} shares), {} snapshots",
        ck.records,
        structure.first_seq.unwrap_or(0),
        structure.last_seq.unwrap_or(0),
        m.parents.len(),
        m.new_children,
        m.fills,
        m.shares,
        valid.len()
    );
    Ok(ExitCode::SUCCESS)
}
