//! `floe order`: a signed client for the REST control plane.
//!
//! The key comes from `FLOE_KEY` and `FLOE_SECRET`, or from `--key-file`
//! (TOML: `key = "…"` and `secret = "…"`); the server from `--url`, else
//! `FLOE_URL`, else `http://127.0.0.1:8080`. Every request is signed as the
//! server expects (see `floe::control::auth`). The answer is printed as a
//! table, or as the raw JSON body with `--json`; an error status prints the
//! server's error code and message on stderr and exits 1.

use anyhow::{bail, Context};
use floe::control::auth::{sign, unix_ms_now};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// How to reach and sign for the control plane.
#[derive(clap::Args, Debug, Clone)]
pub struct Conn {
    /// Base URL of the control plane (default: $FLOE_URL, else http://127.0.0.1:8080).
    #[arg(long)]
    pub url: Option<String>,
    /// TOML file with `key = "…"` and `secret = "…"` (default: $FLOE_KEY and $FLOE_SECRET).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Print the raw JSON response instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `floe order` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Submit an iceberg.
    Submit {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Idempotency key (default: generated and printed). Reuse it to retry safely.
        #[arg(long)]
        client_order_id: Option<String>,
        /// Stock symbol.
        #[arg(long)]
        symbol: String,
        /// BUY or SELL.
        #[arg(long)]
        side: String,
        /// Total shares.
        #[arg(long)]
        quantity: String,
        /// Shares shown per slice.
        #[arg(long)]
        display: String,
        /// Limit price (decimal dollars).
        #[arg(long)]
        limit: String,
        /// Slice variance, a fraction in [0, 1).
        #[arg(long, default_value = "0")]
        variance: String,
        /// Shortest refresh delay, ms.
        #[arg(long, default_value_t = 0)]
        min_delay_ms: u64,
        /// Longest refresh delay, ms.
        #[arg(long, default_value_t = 0)]
        max_delay_ms: u64,
        /// Join the best bid/ask (capped by the limit).
        #[arg(long)]
        peg: bool,
        /// DAY or IOC.
        #[arg(long)]
        time_in_force: Option<String>,
    },
    /// Show one algo order.
    Get {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Parent order id.
        id: u32,
    },
    /// List algo orders.
    List {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Only this status (NEW, WORKING, PARTIALLY_FILLED, PAUSED, FILLED, CANCELLED, REJECTED).
        #[arg(long)]
        status: Option<String>,
    },
    /// Cancel an algo order.
    Cancel {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Parent order id.
        id: u32,
    },
    /// Pause an algo order.
    Pause {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Parent order id.
        id: u32,
    },
    /// Resume an algo order.
    Resume {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Parent order id.
        id: u32,
    },
    /// Amend total quantity or limit.
    Amend {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Parent order id.
        id: u32,
        /// New total shares.
        #[arg(long)]
        quantity: Option<String>,
        /// New limit price.
        #[arg(long)]
        limit: Option<String>,
    },
    /// Set or reset the kill switch.
    Kill {
        /// Connection.
        #[command(flatten)]
        conn: Conn,
        /// Reset instead of set.
        #[arg(long)]
        reset: bool,
        /// Only show its state.
        #[arg(long, conflicts_with = "reset")]
        show: bool,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    key: String,
    secret: String,
}

struct Client {
    base: String,
    key: String,
    secret: String,
    agent: ureq::Agent,
}

struct Answer {
    status: u16,
    replayed: bool,
    body: String,
}

impl Client {
    fn new(conn: &Conn) -> anyhow::Result<Client> {
        let (key, secret) = match &conn.key_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let k: KeyFile = toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?;
                (k.key, k.secret)
            }
            None => {
                let key = std::env::var("FLOE_KEY").ok();
                let secret = std::env::var("FLOE_SECRET").ok();
                match (key, secret) {
                    (Some(k), Some(s)) if !k.is_empty() && !s.is_empty() => (k, s),
                    _ => bail!("no API key: set FLOE_KEY and FLOE_SECRET, or pass --key-file"),
                }
            }
        };
        let base = conn
            .url
            .clone()
            .or_else(|| std::env::var("FLOE_URL").ok())
            .unwrap_or_else(|| "http://127.0.0.1:8080".to_string())
            .trim_end_matches('/')
            .to_string();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Ok(Client {
            base,
            key,
            secret,
            agent,
        })
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Answer> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let ts = unix_ms_now();
        let sig = sign(self.secret.as_bytes(), ts, method, path, body.as_bytes());
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header("X-Floe-Key", &self.key)
            .header("X-Floe-Timestamp", ts.to_string())
            .header("X-Floe-Signature", sig);
        if !body.is_empty() {
            req = req.header("Content-Type", "application/json");
        }
        let req = req.body(body.into_bytes())?;
        let mut resp = self
            .agent
            .run(req)
            .with_context(|| format!("{method} {}{path}", self.base))?;
        let replayed = resp
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        Ok(Answer {
            status: resp.status().as_u16(),
            replayed,
            body: resp.body_mut().read_to_string()?,
        })
    }
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Renders rows as left-aligned columns.
fn columns(rows: &[Vec<String>]) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The order in which a single object's fields are shown.
const FIELD_ORDER: [&str; 23] = [
    "parent_order_id",
    "client_order_id",
    "symbol",
    "side",
    "strategy_type",
    "status",
    "total_quantity",
    "requested_quantity",
    "filled_quantity",
    "live_quantity",
    "leaves_quantity",
    "remaining_quantity",
    "display_quantity",
    "price_limit",
    "peg",
    "children_sent",
    "avg_price",
    "cancel_pending",
    "waiting_for",
    "reason",
    "created_at",
    "updated_at",
    "active",
];

/// The table view of a response body.
fn table(v: &Value) -> String {
    if let Some(orders) = v.get("orders").and_then(Value::as_array) {
        const COLS: [(&str, &str); 9] = [
            ("ID", "parent_order_id"),
            ("CLIENT_ORDER_ID", "client_order_id"),
            ("SYMBOL", "symbol"),
            ("SIDE", "side"),
            ("STATUS", "status"),
            ("FILLED", "filled_quantity"),
            ("TOTAL", "total_quantity"),
            ("LIMIT", "price_limit"),
            ("AVG_PRICE", "avg_price"),
        ];
        let mut rows = vec![COLS.iter().map(|c| c.0.to_string()).collect::<Vec<_>>()];
        for o in orders {
            rows.push(COLS.iter().map(|c| cell(o.get(c.1))).collect());
        }
        let mut s = columns(&rows);
        s.push_str(&format!("{} order(s)\n", orders.len()));
        return s;
    }
    match v.as_object() {
        Some(obj) => {
            // Known fields in reading order, then any others by name.
            let rank = |k: &str| {
                FIELD_ORDER
                    .iter()
                    .position(|f| *f == k)
                    .unwrap_or(usize::MAX)
            };
            let mut keys: Vec<&String> = obj.keys().collect();
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
            let rows: Vec<Vec<String>> = keys
                .into_iter()
                .map(|k| vec![k.clone(), cell(obj.get(k))])
                .collect();
            columns(&rows)
        }
        None => format!("{v}\n"),
    }
}

fn print(conn: &Conn, a: &Answer) -> ExitCode {
    let parsed: Option<Value> = serde_json::from_str(&a.body).ok();
    if (200..300).contains(&a.status) {
        if conn.json {
            println!("{}", a.body.trim_end());
        } else {
            if a.replayed {
                println!("(idempotent replay: the original answer)");
            }
            match &parsed {
                Some(v) => print!("{}", table(v)),
                None => println!("{}", a.body.trim_end()),
            }
        }
        return ExitCode::SUCCESS;
    }
    if conn.json {
        println!("{}", a.body.trim_end());
    }
    let err = parsed.as_ref().and_then(|v| v.get("error"));
    let code = cell(err.and_then(|e| e.get("code")));
    let message = match err.and_then(|e| e.get("message")) {
        Some(m) => cell(Some(m)),
        None => a.body.trim().to_string(),
    };
    eprintln!("floe: {} {}: {}", a.status, code, message);
    ExitCode::from(1)
}

/// Runs the subcommand.
pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let (conn, method, path, body): (Conn, &str, String, Option<Value>) = match cmd {
        Command::Submit {
            conn,
            client_order_id,
            symbol,
            side,
            quantity,
            display,
            limit,
            variance,
            min_delay_ms,
            max_delay_ms,
            peg,
            time_in_force,
        } => {
            let id = match client_order_id {
                Some(id) => id,
                None => {
                    let id = format!("cli-{}-{}", unix_ms_now(), std::process::id());
                    if !conn.json {
                        println!("client_order_id {id}");
                    }
                    id
                }
            };
            let mut params = json!({
                "display_quantity": display,
                "price_limit": limit,
                "variance_percent": variance,
                "min_delay_ms": min_delay_ms,
                "max_delay_ms": max_delay_ms,
            });
            if peg {
                params["peg"] = json!(true);
            }
            if let Some(t) = time_in_force {
                params["time_in_force"] = json!(t);
            }
            let body = json!({
                "client_order_id": id,
                "symbol": symbol,
                "side": side,
                "total_quantity": quantity,
                "strategy_type": "ICEBERG",
                "strategy_params": params,
            });
            (conn, "POST", "/v1/algo-orders".to_string(), Some(body))
        }
        Command::Get { conn, id } => (conn, "GET", format!("/v1/algo-orders/{id}"), None),
        Command::List { conn, status } => {
            let path = match status {
                Some(s) => format!("/v1/algo-orders?status={s}"),
                None => "/v1/algo-orders".to_string(),
            };
            (conn, "GET", path, None)
        }
        Command::Cancel { conn, id } => (conn, "DELETE", format!("/v1/algo-orders/{id}"), None),
        Command::Pause { conn, id } => (conn, "POST", format!("/v1/algo-orders/{id}/pause"), None),
        Command::Resume { conn, id } => {
            (conn, "POST", format!("/v1/algo-orders/{id}/resume"), None)
        }
        Command::Amend {
            conn,
            id,
            quantity,
            limit,
        } => {
            if quantity.is_none() && limit.is_none() {
                bail!("amend needs --quantity and/or --limit");
            }
            let mut body = json!({});
            if let Some(q) = quantity {
                body["total_quantity"] = json!(q);
            }
            if let Some(l) = limit {
                body["price_limit"] = json!(l);
            }
            (conn, "PATCH", format!("/v1/algo-orders/{id}"), Some(body))
        }
        Command::Kill { conn, reset, show } => {
            if show {
                (conn, "GET", "/v1/kill-switch".to_string(), None)
            } else {
                let body = json!({ "active": !reset });
                (conn, "POST", "/v1/kill-switch".to_string(), Some(body))
            }
        }
    };
    let client = Client::new(&conn)?;
    let answer = client.call(method, &path, body.as_ref())?;
    Ok(print(&conn, &answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables() {
        let one = json!({"parent_order_id": 7, "status": "WORKING", "avg_price": null});
        assert_eq!(
            table(&one),
            "parent_order_id  7\nstatus           WORKING\navg_price        -\n"
        );
        let list = json!({"orders": [{"parent_order_id": 1, "symbol": "AAPL", "status": "NEW"}]});
        let t = table(&list);
        assert!(t.starts_with("ID  CLIENT_ORDER_ID  SYMBOL  SIDE"), "{t}");
        assert!(
            t.contains("\n1   -                AAPL    -     NEW"),
            "{t}"
        );
        assert!(t.ends_with("1 order(s)\n"), "{t}");
    }
}
