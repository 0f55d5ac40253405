//! The REST API: axum router, request guard (body limit, authentication)
//! and handlers.
//!
//! | method | path | answer |
//! |---|---|---|
//! | POST | `/v1/algo-orders` | 201 [`Created`]; 200 + `Idempotent-Replayed: true` for a repeat |
//! | GET | `/v1/algo-orders/{id}` | 200 [`OrderView`] |
//! | GET | `/v1/algo-orders?status=S` | 200 [`OrderList`] (filter optional) |
//! | DELETE | `/v1/algo-orders/{id}` | 200 [`OrderView`]: CANCELLED at once when nothing is live, else `cancel_pending: true` until the venue confirms |
//! | POST | `/v1/algo-orders/{id}/pause`, `/resume` | 200 [`OrderView`] |
//! | PATCH | `/v1/algo-orders/{id}` | 200 [`OrderView`]; body `total_quantity` and/or `price_limit` |
//! | GET | `/v1/kill-switch` | 200 [`KillSwitchView`] |
//! | POST | `/v1/kill-switch` | 200; body `{"active": true}` (or empty) sets, `{"active": false}` resets |
//! | DELETE | `/v1/kill-switch` | 200; resets |
//! | GET | `/metrics` | OpenMetrics text (signed only with `control.metrics_auth`) |
//! | GET | `/healthz` | 200 `{"status":"ok","engine_ready":true}`, 503 while the engine is not ready; never signed |
//!
//! Reads are answered from the gateway's read model; writes go to the
//! engine, which decides (risk, idempotency, state) and whose refusal
//! leaves its state unchanged. Every error is `{"error":{"code","message"}}`:
//!
//! | status | codes |
//! |---|---|
//! | 400 | `malformed_json`, `invalid_type`, `invalid_value`, `unknown_field`, `missing_field`, `duplicate_field`, `invalid_field`, `not_a_lot_multiple`, `not_a_tick_multiple`, `invalid_id`, `invalid_status`, `invalid_query`, `bad_body` |
//! | 401 | `missing_auth`, `unknown_key`, `bad_timestamp`, `stale_timestamp`, `future_timestamp`, `bad_signature`, `replayed_signature` |
//! | 403 | `read_only_key` |
//! | 404 | `not_found` (unknown id or route) |
//! | 405 | `method_not_allowed` |
//! | 409 | `idempotency_conflict`, `invalid_state`, `cancel_pending` |
//! | 413 | `body_too_large` |
//! | 422 | `unknown_symbol` (not in `book.only`), `kill_switch_active`, `risk_refused`, `below_filled` |
//! | 429 | `rate_limited` (with `Retry-After` in seconds) |
//! | 503 | `engine_not_ready`, `engine_busy`, `engine_timeout`, `engine_stopped`, `capacity_exhausted` |

use crate::config::RiskConfig;
use crate::control::auth::{unix_ms_now, AuthError, Authenticator, Credentials};
use crate::control::gateway::{Gateway, GatewayError, ParentId};
use crate::control::metrics::{Exporter, CONTENT_TYPE};
use crate::control::model::{
    parse_json, refusal_error, rfc3339_ms, AmendOrder, ApiError, CreateOrder, Created,
    KillSwitchBody, KillSwitchView, OrderList, OrderView, STATUS_NAMES,
};
use crate::engine::{CommandKind, ParentStatus, Reply};
use crate::types::Symbol;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use std::sync::Arc;

/// Header marking an idempotent repeat.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppInner {
    /// The bridge to the engine.
    pub gateway: Gateway,
    /// Key checks.
    pub auth: Authenticator,
    /// `/metrics`.
    pub exporter: Exporter,
    /// Lot and tick sizes.
    pub risk: RiskConfig,
    /// Symbols traded (`book.only`); empty = any.
    pub symbols: Vec<Symbol>,
    /// Largest body.
    pub body_limit: usize,
    /// `/metrics` must be signed.
    pub metrics_auth: bool,
}

/// Shared handler state.
pub type AppState = Arc<AppInner>;

/// Builds the router over a state.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/algo-orders", post(create).get(list))
        .route(
            "/v1/algo-orders/{id}",
            get(get_one).delete(cancel).patch(amend),
        )
        .route("/v1/algo-orders/{id}/pause", post(pause))
        .route("/v1/algo-orders/{id}/resume", post(resume))
        .route(
            "/v1/kill-switch",
            get(kill_get).post(kill_set).delete(kill_reset),
        )
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).map(|v| v.to_str().unwrap_or(""))
}

fn auth_error(e: &AuthError) -> ApiError {
    let status = match e {
        AuthError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        AuthError::ReadOnly => StatusCode::FORBIDDEN,
        _ => StatusCode::UNAUTHORIZED,
    };
    let mut err = ApiError::new(status, e.code(), e.to_string());
    if let AuthError::RateLimited { retry_after } = e {
        err.retry_after_secs = Some(retry_after.as_millis().div_ceil(1000).max(1) as u64);
    }
    err
}

/// Body limit and authentication for every request except `/healthz` (and
/// `/metrics` unless `control.metrics_auth`); counts responses.
async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let resp = match admit(&st, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    };
    st.exporter.control.response(resp.status().as_u16());
    resp
}

async fn admit(st: &AppInner, req: Request) -> Result<Request, ApiError> {
    let path = req.uri().path();
    if path == "/healthz" || (path == "/metrics" && !st.metrics_auth) {
        return Ok(req);
    }
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("request bodies are limited to {} bytes", st.body_limit),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > st.body_limit as u64) {
        return Err(too_large());
    }
    let (parts, body) = req.into_parts();
    let bytes = match http_body_util::Limited::new(body, st.body_limit)
        .collect()
        .await
    {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(_) => {
            return Err(ApiError::bad_request(
                "bad_body",
                "the request body could not be read",
            ))
        }
    };
    let creds = Credentials {
        key: header_str(&parts.headers, "x-floe-key"),
        timestamp: header_str(&parts.headers, "x-floe-timestamp"),
        signature: header_str(&parts.headers, "x-floe-signature"),
    };
    let pq = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or_else(|| parts.uri.path());
    if let Err(e) = st
        .auth
        .check(unix_ms_now(), creds, parts.method.as_str(), pq, &bytes)
    {
        st.exporter.control.auth_refused(e.code());
        tracing::debug!(code = e.code(), method = %parts.method, path = pq, "request refused");
        return Err(auth_error(&e));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

async fn no_method(method: Method) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{method} is not allowed on this endpoint"),
    )
}

fn gateway_error(st: &AppInner, e: GatewayError) -> ApiError {
    let code = match e {
        GatewayError::Busy => {
            st.exporter.control.engine_busy.inc();
            "engine_busy"
        }
        GatewayError::NotReady => "engine_not_ready",
        GatewayError::Timeout => {
            st.exporter.control.reply_timeouts.inc();
            "engine_timeout"
        }
        GatewayError::Closed => "engine_stopped",
    };
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, e.to_string())
}

async fn ask(st: &AppInner, cmd: CommandKind) -> Result<Reply, ApiError> {
    st.exporter
        .control
        .inflight
        .set(st.gateway.inflight() as i64 + 1);
    let r = st.gateway.request(cmd).await;
    st.exporter
        .control
        .inflight
        .set(st.gateway.inflight() as i64);
    r.map_err(|e| gateway_error(st, e))
}

fn unexpected(reply: &Reply) -> ApiError {
    tracing::error!(?reply, "engine answered with an unexpected reply");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "unexpected reply from the engine",
    )
}

fn parse_id(s: &str) -> Result<ParentId, ApiError> {
    if !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(id) = s.parse() {
            return Ok(id);
        }
    }
    Err(ApiError::bad_request(
        "invalid_id",
        format!("{s:?} is not an algo order id (an unsigned 32-bit integer)"),
    ))
}

async fn create(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let req: CreateOrder = parse_json(&body)?;
    let (client_order_id, params) = req.to_params(&st.risk, &st.symbols)?;
    let kind = CommandKind::NewIceberg {
        client_order_id,
        params,
        // The parent's PRNG seed: the engine has no entropy source.
        seed: rand::random(),
    };
    match ask(&st, kind).await? {
        Reply::Accepted {
            parent,
            status,
            created_at,
            replay,
        } => {
            let body = Json(Created {
                parent_order_id: parent,
                client_order_id: client_order_id.as_str().to_string(),
                status: status.name().to_string(),
                created_at: rfc3339_ms(st.gateway.stats().unix_ms(created_at)),
            });
            Ok(if replay {
                (
                    StatusCode::OK,
                    [(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"))],
                    body,
                )
                    .into_response()
            } else {
                (StatusCode::CREATED, body).into_response()
            })
        }
        Reply::Refused(r) => Err(refusal_error(r, None)),
        other => Err(unexpected(&other)),
    }
}

fn view(st: &AppInner, s: &ParentStatus) -> OrderView {
    let stats = st.gateway.stats();
    OrderView::from_status(s, |t| stats.unix_ms(t))
}

async fn get_one(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    match st.gateway.get(id) {
        Some(s) => Ok(Json(view(&st, &s)).into_response()),
        None => Err(ApiError::not_found(id)),
    }
}

async fn list(State(st): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let mut status: Option<String> = None;
    for pair in q
        .as_deref()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        match pair.split_once('=') {
            Some(("status", v)) if status.is_none() => {
                if !STATUS_NAMES.contains(&v) {
                    return Err(ApiError::bad_request(
                        "invalid_status",
                        format!("status: {v:?} is not one of {}", STATUS_NAMES.join(", ")),
                    ));
                }
                status = Some(v.to_string());
            }
            _ => {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    format!(
                        "unknown or repeated query parameter {pair:?}; only status=… is accepted"
                    ),
                ))
            }
        }
    }
    let orders = st
        .gateway
        .list(|s| status.as_deref().is_none_or(|want| s.status.name() == want))
        .iter()
        .map(|s| view(&st, s))
        .collect();
    Ok(Json(OrderList { orders }).into_response())
}

async fn parent_command(
    st: &AppInner,
    id: ParentId,
    cmd: CommandKind,
) -> Result<Response, ApiError> {
    match ask(st, cmd).await? {
        Reply::Done { parent, .. } => {
            // The reply crossed after the statuses its command produced, so
            // the read model is at least as new as the reply's status (which
            // predates the engine acting on the command, e.g. a cancel that
            // completes at once because nothing was live).
            match st.gateway.get(parent) {
                Some(s) => Ok(Json(view(st, &s)).into_response()),
                None => Err(ApiError::not_found(parent)),
            }
        }
        Reply::Refused(r) => Err(refusal_error(r, Some(id))),
        other => Err(unexpected(&other)),
    }
}

async fn cancel(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    parent_command(&st, id, CommandKind::Cancel { parent: id }).await
}

async fn pause(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    parent_command(&st, id, CommandKind::Pause { parent: id }).await
}

async fn resume(State(st): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    parent_command(&st, id, CommandKind::Resume { parent: id }).await
}

async fn amend(
    State(st): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let pid = parse_id(&id)?;
    let a: AmendOrder = parse_json(&body)?;
    if a.total_quantity.is_none() && a.price_limit.is_none() {
        return Err(ApiError::bad_request(
            "missing_field",
            "give total_quantity and/or price_limit",
        ));
    }
    let total = a
        .total_quantity
        .as_ref()
        .map(|t| crate::control::model::to_qty("total_quantity", &t.0, st.risk.lot_size))
        .transpose()?;
    let price_limit = a
        .price_limit
        .as_ref()
        .map(|p| crate::control::model::to_price("price_limit", &p.0, st.risk.tick_size))
        .transpose()?;
    let cmd = CommandKind::Amend {
        parent: pid,
        total,
        limit: price_limit,
    };
    parent_command(&st, pid, cmd).await
}

async fn kill(st: &AppInner, active: bool) -> Result<Response, ApiError> {
    match ask(st, CommandKind::KillSwitch { on: active }).await? {
        Reply::KillSwitch { on } => Ok(Json(KillSwitchView { active: on }).into_response()),
        Reply::Refused(r) => Err(refusal_error(r, None)),
        other => Err(unexpected(&other)),
    }
}

async fn kill_set(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let active = if body.iter().all(u8::is_ascii_whitespace) {
        true
    } else {
        parse_json::<KillSwitchBody>(&body)?.active
    };
    kill(&st, active).await
}

async fn kill_reset(State(st): State<AppState>) -> Result<Response, ApiError> {
    kill(&st, false).await
}

async fn kill_get(State(st): State<AppState>) -> Response {
    Json(KillSwitchView {
        active: st.gateway.kill_switch(),
    })
    .into_response()
}

async fn metrics(State(st): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], st.exporter.render()).into_response()
}

async fn healthz(State(st): State<AppState>) -> Response {
    let ready = st.gateway.stats().ready();
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(serde_json::json!({
            "status": if ready { "ok" } else { "engine_not_ready" },
            "engine_ready": ready,
        })),
    )
        .into_response()
}
