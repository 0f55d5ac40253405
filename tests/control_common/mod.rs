//! A signing HTTP client for the control plane's tests: real HTTP on
//! 127.0.0.1 through `ureq`, every request signed as `floe::control::auth`
//! verifies it, and a few views of the state a client can observe.
#![allow(dead_code)]

use floe::config::ApiKey;
use floe::control::auth::{sign, unix_ms_now};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A read-write key.
pub const DESK: (&str, &str) = ("desk", "desk-secret-0123456789");
/// A read-only key.
pub const VIEWER: (&str, &str) = ("viewer", "viewer-secret-abcdef");
/// A key limited to a burst of 3 and 1 request a second.
pub const SLOW: (&str, &str) = ("slow", "slow-secret-xyz");
/// Concurrent clients of the duplicate test, each with its own key.
pub const CLIENTS: usize = 8;

/// A key of the configuration.
pub fn key(id: &str, secret: &str, read_only: bool, rate: u32, burst: u32) -> ApiKey {
    ApiKey {
        id: id.into(),
        secret: Some(secret.into()),
        secret_file: None,
        read_only,
        rate_per_sec: rate,
        burst,
    }
}

/// The keys every test server knows: DESK, VIEWER, SLOW and `client0..7`.
pub fn keys() -> Vec<ApiKey> {
    let mut k = vec![
        key(DESK.0, DESK.1, false, 100_000, 100_000),
        key(VIEWER.0, VIEWER.1, true, 100_000, 100_000),
        key(SLOW.0, SLOW.1, false, 1, 3),
    ];
    for i in 0..CLIENTS {
        k.push(client_key(i));
    }
    k
}

/// The key of concurrent client `i`.
pub fn client_key(i: usize) -> ApiKey {
    key(
        &format!("client{i}"),
        &format!("client-secret-{i}"),
        false,
        100_000,
        100_000,
    )
}

/// An HTTP answer.
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: ureq::http::HeaderMap,
    /// Body text.
    pub body: String,
}

impl Resp {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// `error.code` of an error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("<none>")
            .to_string()
    }
}

/// The three authentication headers (and the content type) of a request.
pub fn signed_headers(
    k: (&str, &str),
    ts: u64,
    method: &str,
    path: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    vec![
        ("X-Floe-Key", k.0.to_string()),
        ("X-Floe-Timestamp", ts.to_string()),
        (
            "X-Floe-Signature",
            sign(k.1.as_bytes(), ts, method, path, body),
        ),
        ("Content-Type", "application/json".to_string()),
    ]
}

/// An agent that returns error statuses as answers, without a proxy,
/// bounded by 10 s.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// A client of one control plane.
pub struct Client {
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// The listener.
    pub addr: SocketAddr,
    /// Last timestamp signed: strictly increasing, so that two identical
    /// requests in the same millisecond still differ.
    last_ts: AtomicU64,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the control plane on `addr`.
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            base: format!("http://{addr}"),
            addr,
            last_ts: AtomicU64::new(0),
            agent: agent(),
        }
    }

    /// A request with exactly these headers.
    pub fn raw(&self, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Resp {
        let mut b = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path));
        for (k, v) in headers {
            b = b.header(*k, v.as_str());
        }
        let req = b.body(body.to_vec()).unwrap();
        let mut r = self.agent.run(req).expect("HTTP round trip");
        Resp {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.body_mut().read_to_string().unwrap(),
        }
    }

    /// An unsigned GET.
    pub fn get(&self, path: &str) -> Resp {
        self.raw("GET", path, &[], b"")
    }

    /// A fresh timestamp, above every one signed before.
    pub fn ts(&self) -> u64 {
        let now = unix_ms_now();
        let prev = self
            .last_ts
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(now.max(t + 1))
            })
            .unwrap();
        now.max(prev + 1)
    }

    /// A request signed with key `k`.
    pub fn signed_as(&self, k: (&str, &str), method: &str, path: &str, body: &str) -> Resp {
        let h = signed_headers(k, self.ts(), method, path, body.as_bytes());
        self.raw(method, path, &h, body.as_bytes())
    }

    /// A request signed with DESK.
    pub fn call(&self, method: &str, path: &str, body: &str) -> Resp {
        self.signed_as(DESK, method, path, body)
    }

    /// Everything a client can observe: all orders and the kill switch.
    pub fn state(&self) -> (Value, Value) {
        let list = self.call("GET", "/v1/algo-orders", "");
        assert_eq!(list.status, 200, "{}", list.body);
        let kill = self.call("GET", "/v1/kill-switch", "");
        assert_eq!(kill.status, 200, "{}", kill.body);
        (list.json(), kill.json())
    }

    /// Creates an order; asserts 201; its answer.
    pub fn create(&self, body: &Value) -> Value {
        let r = self.call("POST", "/v1/algo-orders", &body.to_string());
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()
    }

    /// GET of one order; asserts 200.
    pub fn order(&self, id: u64) -> Value {
        let r = self.call("GET", &format!("/v1/algo-orders/{id}"), "");
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// The ids a list answer holds, in order.
    pub fn list_ids(&self, query: &str) -> Vec<u64> {
        let r = self.call("GET", &format!("/v1/algo-orders{query}"), "");
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["orders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["parent_order_id"].as_u64().unwrap())
            .collect()
    }

    /// Polls GET until `pred` holds on the order (bounded by `secs`).
    pub fn wait_for(&self, id: u64, what: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.order(id);
            if pred(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "order {id} never got {what} within {secs} s: {v}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Polls GET until the order has `status` (bounded by 10 s).
    pub fn wait_status(&self, id: u64, status: &str) -> Value {
        self.wait_for(id, status, 10, |v| v["status"] == status)
    }

    /// The `/metrics` page.
    pub fn metrics(&self) -> String {
        let m = self.get("/metrics");
        assert_eq!(m.status, 200, "{}", m.body);
        m.body
    }
}

/// A create body: `total` shares of AAPL bought at `limit`, display 100,
/// variance 0.25, delays 10–50 ms.
pub fn order_body(cid: &str, total: &str, limit: &str) -> Value {
    json!({
        "client_order_id": cid,
        "symbol": "AAPL",
        "side": "BUY",
        "total_quantity": total,
        "strategy_type": "ICEBERG",
        "strategy_params": {
            "display_quantity": "100",
            "price_limit": limit,
            "variance_percent": "0.25",
            "min_delay_ms": 10,
            "max_delay_ms": 50
        }
    })
}

/// A chunked POST (no Content-Length) of `size` bytes, on a raw socket.
pub fn chunked_post(addr: SocketAddr, size: usize) -> Resp {
    let mut t = std::net::TcpStream::connect(addr).unwrap();
    t.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST /v1/algo-orders HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    t.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'x'; size];
    // The server may answer and close before the whole body is written.
    let _ = t.write_all(format!("{size:x}\r\n").as_bytes());
    let _ = t.write_all(&chunk);
    let _ = t.write_all(b"\r\n0\r\n\r\n");
    let mut out = Vec::new();
    let _ = t.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    // Undo the chunked transfer coding of the answer if the server used it.
    let body = match body.find('{') {
        Some(i) => body[i..body.rfind('}').map_or(body.len(), |j| j + 1)].to_string(),
        None => body,
    };
    Resp {
        status,
        headers: ureq::http::HeaderMap::new(),
        body,
    }
}

/// The value of an exposition line `name{labels} value` (exact series
/// name with labels), if present.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// The sum of every sample of a family `name_total{...}` (or `name{...}`)
/// whose labels contain `filter`.
pub fn family_sum(text: &str, name: &str, filter: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') && r.contains(filter))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
