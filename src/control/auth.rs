//! Request authentication: HMAC-SHA256 signatures, a time window, a replay
//! cache, read-only keys and per-key rate limits.
//!
//! A request carries `X-Floe-Key` (key id), `X-Floe-Timestamp` (Unix ms) and
//! `X-Floe-Signature`, the hex HMAC-SHA256 under the key's secret of
//! `timestamp + METHOD + path-with-query + body` (the bytes concatenated,
//! no separators). Checks, in order, each refusal a 401 unless noted:
//! headers present → known key → timestamp within `control.auth_window_ms`
//! of the server's clock (either side) → signature (constant-time
//! comparison, `hmac`'s `verify_slice`) → the key's token bucket (429 with
//! a retry delay) → signature not seen before in its window (replay) →
//! write allowed (403 for a read-only key on anything but GET/HEAD).
//!
//! The replay cache holds each accepted signature until its timestamp leaves
//! the window; its size is bounded by what the rate limits let through in
//! two windows, so a full cache (a 429, never an eviction that would re-open
//! a replay) cannot happen with the configured limits. The cache lives in
//! memory, so a request signed before the server started (whose first use
//! the cache of a previous process saw) is refused as stale: the control
//! plane sets that start with [`Authenticator::refuse_signed_before`]. A
//! client retrying across a restart re-signs, as it does after any refusal.
//!
//! Secrets live in [`Secret`], whose `Debug` prints `[redacted]`; no error
//! or log line contains one.

use crate::config::ControlConfig;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

type HmacSha256 = Hmac<Sha256>;

/// A shared secret. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Secret {
        Secret(bytes.into())
    }

    /// The secret bytes (for signing).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The signed message: `timestamp + method + path_and_query + body`.
fn mac_over(
    secret: &[u8],
    ts: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(ts.as_bytes());
    mac.update(method.as_bytes());
    mac.update(path_and_query.as_bytes());
    mac.update(body);
    mac
}

/// The lowercase-hex signature of a request, as a client computes it.
pub fn sign(secret: &[u8], ts_ms: u64, method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mac = mac_over(secret, &ts_ms.to_string(), method, path_and_query, body);
    hex::encode(mac.finalize().into_bytes())
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A required header is absent.
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// The key id is not configured.
    #[error("unknown API key")]
    UnknownKey,
    /// The timestamp is not a Unix-ms integer.
    #[error("X-Floe-Timestamp is not a Unix time in milliseconds")]
    BadTimestamp,
    /// The timestamp is older than the window.
    #[error("X-Floe-Timestamp is outside the {window_ms} ms window (stale)")]
    Stale {
        /// The window.
        window_ms: u64,
    },
    /// The timestamp predates this server's start: a previous process may
    /// have accepted the request, and its replay cache is gone.
    #[error("X-Floe-Timestamp predates this server's start; sign the request again")]
    BeforeStart,
    /// The timestamp is ahead of the server by more than the window.
    #[error("X-Floe-Timestamp is outside the {window_ms} ms window (in the future)")]
    Future {
        /// The window.
        window_ms: u64,
    },
    /// The signature is not hex of the right length, or does not verify.
    #[error("signature does not verify")]
    BadSignature,
    /// The signature was already used.
    #[error("signature already used (replay)")]
    Replayed,
    /// The key's token bucket is empty.
    #[error("rate limit exceeded for this key")]
    RateLimited {
        /// When a request would be allowed.
        retry_after: Duration,
    },
    /// The key may only read.
    #[error("this API key is read-only")]
    ReadOnly,
}

impl AuthError {
    /// The API error code.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::MissingHeader(_) => "missing_auth",
            AuthError::UnknownKey => "unknown_key",
            AuthError::BadTimestamp => "bad_timestamp",
            AuthError::Stale { .. } | AuthError::BeforeStart => "stale_timestamp",
            AuthError::Future { .. } => "future_timestamp",
            AuthError::BadSignature => "bad_signature",
            AuthError::Replayed => "replayed_signature",
            AuthError::RateLimited { .. } => "rate_limited",
            AuthError::ReadOnly => "read_only_key",
        }
    }
}

/// Errors building the authenticator from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A `secret_file` could not be read.
    #[error("control.keys: key {id}: cannot read its secret_file: {source}")]
    SecretFile {
        /// Key id.
        id: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A key has an empty secret, or none.
    #[error("control.keys: key {id}: empty secret")]
    EmptySecret {
        /// Key id.
        id: String,
    },
}

struct KeyEntry {
    secret: Secret,
    read_only: bool,
    limiter: DefaultDirectRateLimiter,
}

impl std::fmt::Debug for KeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("secret", &self.secret)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Signatures seen in the window.
#[derive(Debug, Default)]
struct ReplayCache {
    seen: HashSet<[u8; 32]>,
    /// (expires at server ms, signature), in insertion order.
    order: VecDeque<(u64, [u8; 32])>,
    cap: usize,
}

impl ReplayCache {
    /// Records `sig`; false if it was already there.
    fn insert(&mut self, now_ms: u64, expires_ms: u64, sig: [u8; 32]) -> Result<(), AuthError> {
        // Expiry times are not monotonic in insertion order (client clocks
        // differ), but every entry leaves within two windows of its insertion,
        // so sweeping the front until a live entry bounds the cache.
        while let Some(&(exp, s)) = self.order.front() {
            if exp >= now_ms {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&s);
        }
        if self.seen.contains(&sig) {
            return Err(AuthError::Replayed);
        }
        if self.seen.len() >= self.cap {
            return Err(AuthError::RateLimited {
                retry_after: Duration::from_secs(1),
            });
        }
        self.seen.insert(sig);
        self.order.push_back((expires_ms, sig));
        Ok(())
    }
}

/// Who made an authenticated request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The key id.
    pub key: String,
}

/// The headers of a request that matter to authentication.
#[derive(Clone, Copy, Debug)]
pub struct Credentials<'a> {
    /// `X-Floe-Key`.
    pub key: Option<&'a str>,
    /// `X-Floe-Timestamp`.
    pub timestamp: Option<&'a str>,
    /// `X-Floe-Signature`.
    pub signature: Option<&'a str>,
}

/// Checks requests against the configured keys.
#[derive(Debug)]
pub struct Authenticator {
    keys: HashMap<String, KeyEntry>,
    window_ms: u64,
    /// Timestamps below this (Unix ms) are refused ([`AuthError::BeforeStart`]).
    not_before_ms: u64,
    replay: Mutex<ReplayCache>,
}

impl Authenticator {
    /// Loads keys (reading `secret_file`s) and builds their rate limiters.
    pub fn from_config(cfg: &ControlConfig) -> Result<Authenticator, KeyError> {
        let mut keys = HashMap::new();
        let mut cap: u64 = 0;
        let window_s = cfg.auth_window_ms.div_ceil(1000).max(1);
        for k in &cfg.keys {
            let secret = match (&k.secret, &k.secret_file) {
                (Some(s), _) => s.clone(),
                (None, Some(path)) => std::fs::read_to_string(path)
                    .map_err(|source| KeyError::SecretFile {
                        id: k.id.clone(),
                        source,
                    })?
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_end()
                    .to_string(),
                (None, None) => String::new(),
            };
            if secret.is_empty() {
                return Err(KeyError::EmptySecret { id: k.id.clone() });
            }
            let rate = NonZeroU32::new(k.rate_per_sec).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(k.burst).unwrap_or(NonZeroU32::MIN);
            cap += u64::from(k.burst) + u64::from(k.rate_per_sec) * 2 * window_s + 1;
            keys.insert(
                k.id.clone(),
                KeyEntry {
                    secret: Secret::new(secret),
                    read_only: k.read_only,
                    limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
                },
            );
        }
        Ok(Authenticator {
            keys,
            window_ms: cfg.auth_window_ms,
            not_before_ms: 0,
            replay: Mutex::new(ReplayCache {
                cap: usize::try_from(cap).unwrap_or(usize::MAX),
                ..ReplayCache::default()
            }),
        })
    }

    /// Refuses every request signed before `start_ms` (Unix ms, the
    /// server's start): the replay cache of an earlier process is gone, so
    /// its requests, still inside their window, could otherwise be replayed.
    pub fn refuse_signed_before(mut self, start_ms: u64) -> Authenticator {
        self.not_before_ms = start_ms;
        self
    }

    /// Authenticates one request at server time `now_ms` (Unix ms).
    pub fn check(
        &self,
        now_ms: u64,
        creds: Credentials<'_>,
        method: &str,
        path_and_query: &str,
        body: &[u8],
    ) -> Result<Principal, AuthError> {
        let key_id = creds.key.ok_or(AuthError::MissingHeader("X-Floe-Key"))?;
        let ts = creds
            .timestamp
            .ok_or(AuthError::MissingHeader("X-Floe-Timestamp"))?;
        let sig_hex = creds
            .signature
            .ok_or(AuthError::MissingHeader("X-Floe-Signature"))?;
        let key = self.keys.get(key_id).ok_or(AuthError::UnknownKey)?;
        if ts.is_empty() || ts.len() > 19 || !ts.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AuthError::BadTimestamp);
        }
        let ts_ms: u64 = ts.parse().map_err(|_| AuthError::BadTimestamp)?;
        if ts_ms.saturating_add(self.window_ms) < now_ms {
            return Err(AuthError::Stale {
                window_ms: self.window_ms,
            });
        }
        if ts_ms > now_ms.saturating_add(self.window_ms) {
            return Err(AuthError::Future {
                window_ms: self.window_ms,
            });
        }
        if ts_ms < self.not_before_ms {
            return Err(AuthError::BeforeStart);
        }
        let mut sig = [0u8; 32];
        if sig_hex.len() != 64 || hex::decode_to_slice(sig_hex, &mut sig).is_err() {
            return Err(AuthError::BadSignature);
        }
        mac_over(key.secret.expose(), ts, method, path_and_query, body)
            .verify_slice(&sig)
            .map_err(|_| AuthError::BadSignature)?;
        if let Err(not_until) = key.limiter.check() {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            return Err(AuthError::RateLimited { retry_after: wait });
        }
        self.replay
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(now_ms, ts_ms.saturating_add(self.window_ms), sig)?;
        if key.read_only && method != "GET" && method != "HEAD" {
            return Err(AuthError::ReadOnly);
        }
        Ok(Principal {
            key: key_id.to_string(),
        })
    }

    /// Configured key ids.
    pub fn key_ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

/// Milliseconds since the Unix epoch on this host's clock.
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiKey;

    fn cfg() -> ControlConfig {
        ControlConfig {
            keys: vec![
                ApiKey {
                    id: "desk".into(),
                    secret: Some("s3cret-desk".into()),
                    secret_file: None,
                    read_only: false,
                    rate_per_sec: 1000,
                    burst: 1000,
                },
                ApiKey {
                    id: "viewer".into(),
                    secret: Some("s3cret-view".into()),
                    secret_file: None,
                    read_only: true,
                    rate_per_sec: 1000,
                    burst: 1000,
                },
            ],
            ..ControlConfig::default()
        }
    }

    fn creds<'a>(key: &'a str, ts: &'a str, sig: &'a str) -> Credentials<'a> {
        Credentials {
            key: Some(key),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn rfc4231_test_case_2() {
        // HMAC-SHA256 of "what do ya want for nothing?" under "Jefe".
        let mac = mac_over(b"Jefe", "what do ya want ", "for nothing?", "", b"");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signed_requests_pass_once() {
        let a = Authenticator::from_config(&cfg()).unwrap();
        let now = 1_700_000_000_000;
        let body = br#"{"active":true}"#;
        let sig = sign(b"s3cret-desk", now, "POST", "/v1/kill-switch", body);
        let ts = now.to_string();
        let ok = a.check(
            now + 10,
            creds("desk", &ts, &sig),
            "POST",
            "/v1/kill-switch",
            body,
        );
        assert_eq!(ok.unwrap().key, "desk");
        let again = a.check(
            now + 20,
            creds("desk", &ts, &sig),
            "POST",
            "/v1/kill-switch",
            body,
        );
        assert_eq!(again, Err(AuthError::Replayed));
        // Uppercase hex of the same signature is the same signature.
        let upper = sig.to_uppercase();
        let again = a.check(
            now + 20,
            creds("desk", &ts, &upper),
            "POST",
            "/v1/kill-switch",
            body,
        );
        assert_eq!(again, Err(AuthError::Replayed));
    }

    #[test]
    fn every_refusal() {
        let a = Authenticator::from_config(&cfg()).unwrap();
        let now = 1_700_000_000_000u64;
        let ts = now.to_string();
        let sig = sign(b"s3cret-desk", now, "GET", "/v1/algo-orders", b"");
        let check = |c: Credentials, m: &str, p: &str| a.check(now, c, m, p, b"");
        assert_eq!(
            check(
                Credentials {
                    key: None,
                    ..creds("desk", &ts, &sig)
                },
                "GET",
                "/v1/algo-orders"
            ),
            Err(AuthError::MissingHeader("X-Floe-Key"))
        );
        assert_eq!(
            check(creds("nobody", &ts, &sig), "GET", "/v1/algo-orders"),
            Err(AuthError::UnknownKey)
        );
        assert_eq!(
            check(creds("desk", "12ab", &sig), "GET", "/v1/algo-orders"),
            Err(AuthError::BadTimestamp)
        );
        let old = (now - 5_001).to_string();
        let old_sig = sign(b"s3cret-desk", now - 5_001, "GET", "/v1/algo-orders", b"");
        assert!(matches!(
            check(creds("desk", &old, &old_sig), "GET", "/v1/algo-orders"),
            Err(AuthError::Stale { .. })
        ));
        let fut = (now + 5_001).to_string();
        let fut_sig = sign(b"s3cret-desk", now + 5_001, "GET", "/v1/algo-orders", b"");
        assert!(matches!(
            check(creds("desk", &fut, &fut_sig), "GET", "/v1/algo-orders"),
            Err(AuthError::Future { .. })
        ));
        assert_eq!(
            check(
                creds("desk", &ts, &sig),
                "GET",
                "/v1/algo-orders?status=WORKING"
            ),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            check(creds("desk", &ts, "zz"), "GET", "/v1/algo-orders"),
            Err(AuthError::BadSignature)
        );
        let view_sig = sign(b"s3cret-view", now, "DELETE", "/v1/algo-orders/1", b"");
        assert_eq!(
            check(
                creds("viewer", &ts, &view_sig),
                "DELETE",
                "/v1/algo-orders/1"
            ),
            Err(AuthError::ReadOnly)
        );
        // The edges of the window are inside it.
        let edge = (now - 5_000).to_string();
        let edge_sig = sign(b"s3cret-desk", now - 5_000, "GET", "/v1/algo-orders", b"");
        assert!(check(creds("desk", &edge, &edge_sig), "GET", "/v1/algo-orders").is_ok());
    }

    #[test]
    fn requests_signed_before_the_start_are_refused() {
        let start = 1_700_000_000_000u64;
        let a = Authenticator::from_config(&cfg())
            .unwrap()
            .refuse_signed_before(start);
        for (ts, ok) in [(start - 1, false), (start - 4_000, false), (start, true)] {
            let sig = sign(b"s3cret-desk", ts, "POST", "/v1/kill-switch", b"");
            let r = a.check(
                start + 100,
                creds("desk", &ts.to_string(), &sig),
                "POST",
                "/v1/kill-switch",
                b"",
            );
            match ok {
                true => assert!(r.is_ok(), "{ts}: {r:?}"),
                false => {
                    assert_eq!(r, Err(AuthError::BeforeStart), "{ts}");
                    assert_eq!(AuthError::BeforeStart.code(), "stale_timestamp");
                }
            }
        }
    }

    #[test]
    fn rate_limit_gives_a_retry_delay() {
        let mut c = cfg();
        c.keys[0].rate_per_sec = 1;
        c.keys[0].burst = 2;
        let a = Authenticator::from_config(&c).unwrap();
        let now = unix_ms_now();
        let mut limited = None;
        for i in 0..10u64 {
            let ts = now + i;
            let sig = sign(b"s3cret-desk", ts, "GET", "/v1/algo-orders", b"");
            match a.check(
                now,
                creds("desk", &ts.to_string(), &sig),
                "GET",
                "/v1/algo-orders",
                b"",
            ) {
                Ok(_) => {}
                Err(AuthError::RateLimited { retry_after }) => {
                    limited = Some((i, retry_after));
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        let (i, wait) = limited.expect("never rate limited");
        assert!(i >= 2, "limited after {i}");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
    }

    #[test]
    fn secrets_are_redacted() {
        let a = Authenticator::from_config(&cfg()).unwrap();
        let dbg = format!("{a:?} {:?}", cfg());
        assert!(!dbg.contains("s3cret"), "{dbg}");
        assert!(dbg.contains("[redacted]"));
    }

    #[test]
    fn secret_file_first_line() {
        let dir = std::env::temp_dir().join(format!("floe-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("k");
        std::fs::write(&f, "from-file\nignored\n").unwrap();
        let mut c = cfg();
        c.keys[0].secret = None;
        c.keys[0].secret_file = Some(f.clone());
        let a = Authenticator::from_config(&c).unwrap();
        let now = 1_700_000_000_000u64;
        let sig = sign(b"from-file", now, "GET", "/x", b"");
        assert!(a
            .check(now, creds("desk", &now.to_string(), &sig), "GET", "/x", b"")
            .is_ok());
        c.keys[0].secret_file = Some(dir.join("missing"));
        let err = Authenticator::from_config(&c).unwrap_err().to_string();
        assert!(err.contains("desk") && !err.contains("s3cret"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
