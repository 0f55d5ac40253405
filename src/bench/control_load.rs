//! The control plane as a client sees it: signed REST requests
//! (`X-Floe-Key`, `X-Floe-Timestamp`, `X-Floe-Signature`, see
//! [`crate::control::auth::sign`]) over HTTP/1.1 keep-alive, to create the
//! benchmark's parents and to load the control plane while the engine
//! works.
//!
//! [`load`] issues read requests on a fixed schedule — in turn
//! `GET /v1/algo-orders`, `GET /v1/algo-orders?status=WORKING` and
//! `GET /v1/algo-orders/{id}` for each parent — while its switch is on, and
//! counts what it sent and what came back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::control::auth::{sign, unix_ms_now};

/// A signed REST client.
pub struct Client {
    base: String,
    key: String,
    secret: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the control plane at `addr` with API key `key`.
    pub fn new(addr: SocketAddr, key: &str, secret: &str) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        Client {
            base: format!("http://{addr}"),
            key: key.to_string(),
            secret: secret.to_string(),
            agent,
        }
    }

    /// Sends a signed request; returns the status and the body.
    pub fn call(&self, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
        self.call_at(unix_ms_now(), method, path, body)
    }

    /// [`Client::call`] signed with timestamp `ts` (Unix ms).
    pub fn call_at(
        &self,
        ts: u64,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<(u16, String), String> {
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
        let req = req
            .body(body.as_bytes().to_vec())
            .map_err(|e| e.to_string())?;
        let mut resp = self
            .agent
            .run(req)
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{method} {path}: {e}"))?;
        Ok((status, text))
    }
}

/// What the load generator did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct LoadStats {
    /// Requests sent.
    pub requests: u64,
    /// Requests answered 200.
    pub ok: u64,
    /// Requests answered otherwise or failed.
    pub errors: u64,
    /// Seconds the switch was on.
    pub on_seconds: f64,
    /// Requests per second while on.
    pub achieved_per_sec: f64,
    /// Slowest request, µs.
    pub max_request_us: u64,
    /// The first refusal or failure, if any.
    pub first_error: Option<String>,
}

/// Sends `rate_per_sec` read requests per second while `on` is set, until
/// `stop`; `parents` are the ids to read.
pub fn load(
    client: &Client,
    rate_per_sec: u64,
    parents: &[u64],
    on: &AtomicBool,
    stop: &AtomicBool,
) -> LoadStats {
    let interval = Duration::from_nanos(1_000_000_000 / rate_per_sec.max(1));
    let mut st = LoadStats::default();
    let mut on_time = Duration::ZERO;
    let mut k = 0usize;
    let mut last_ms = vec![0u64; 2 + parents.len()];
    while !stop.load(Ordering::Acquire) {
        if !on.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        let start = Instant::now();
        let mut sent_in_phase = 0u32;
        while on.load(Ordering::Acquire) && !stop.load(Ordering::Acquire) {
            let due = start + interval * sent_in_phase;
            let now = Instant::now();
            if now < due {
                std::thread::sleep(due - now);
                continue;
            }
            let path = match k % (2 + parents.len()) {
                0 => "/v1/algo-orders".to_string(),
                1 => "/v1/algo-orders?status=WORKING".to_string(),
                j => format!(
                    "/v1/algo-orders/{}",
                    parents.get(j - 2).copied().unwrap_or(1)
                ),
            };
            // A signature covers the millisecond and the path: the same
            // path twice in one millisecond would be refused as a replay.
            let j = k % (2 + parents.len());
            let ts = loop {
                let t = unix_ms_now();
                if last_ms.get(j).copied() != Some(t) {
                    break t;
                }
                std::hint::spin_loop();
            };
            if let Some(m) = last_ms.get_mut(j) {
                *m = ts;
            }
            k += 1;
            sent_in_phase += 1;
            let t = Instant::now();
            let r = client.call_at(ts, "GET", &path, "");
            st.max_request_us = st.max_request_us.max(t.elapsed().as_micros() as u64);
            st.requests += 1;
            match r {
                Ok((200, _)) => st.ok += 1,
                Ok((status, body)) => {
                    st.errors += 1;
                    st.first_error
                        .get_or_insert_with(|| format!("GET {path}: {status} {body}"));
                }
                Err(e) => {
                    st.errors += 1;
                    st.first_error.get_or_insert(e);
                }
            }
        }
        on_time += start.elapsed();
    }
    st.on_seconds = on_time.as_secs_f64();
    if st.on_seconds > 0.0 {
        st.achieved_per_sec = st.requests as f64 / st.on_seconds;
    }
    st
}
