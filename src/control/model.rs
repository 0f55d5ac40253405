//! Request and response bodies of the REST API, and the exact conversion of
//! decimal strings to lots and ticks.
//!
//! Quantities and prices arrive as decimal strings (`"10000"`, `"12.34"`),
//! are parsed with `rust_decimal` and converted without rounding: a value
//! that is not a whole number of lots (`risk.lot_size` shares) or ticks
//! (`risk.tick_size` × $0.0001) is refused with a message naming the field.
//! Unknown fields are refused; every refusal names the field it concerns.

use crate::algo::iceberg::MAX_DELAY_MS;
use crate::algo::{IcebergParams, RiskRefusal};
use crate::config::RiskConfig;
use crate::control::gateway::ParentId;
use crate::engine::{ClientOrderId, CommandError, ParentReason, ParentStatus};
use crate::order::TimeInForce;
use crate::time::Nanos;
use crate::types::{Price4, Qty, Side, Symbol};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::str::FromStr;

/// An API error: its HTTP status, a stable machine-readable code and a
/// message for people. Rendered as `{"error":{"code":…,"message":…}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`invalid_field`, `not_found`, …).
    pub code: &'static str,
    /// What went wrong, naming the field where there is one.
    pub message: String,
    /// Seconds to wait, for 429.
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 404 for a parent id.
    pub fn not_found(id: ParentId) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no algo order with id {id}"),
        )
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorInner<'a>,
}

#[derive(Serialize)]
struct ErrorInner<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ErrorBody {
            error: ErrorInner {
                code: self.code,
                message: &self.message,
            },
        })
        .unwrap_or_default();
        let mut r = (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if let Some(s) = self.retry_after_secs {
            if let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string()) {
                r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
            }
        }
        r
    }
}

/// A JSON string holding a decimal number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecimalText(pub String);

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DecimalText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a decimal string such as \"100\" or \"12.34\"")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<DecimalText, E> {
                Ok(DecimalText(s.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A fraction given as a decimal string or a JSON number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FractionText(pub String);

impl<'de> Deserialize<'de> for FractionText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FractionText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a fraction in [0, 1) such as \"0.25\" or 0.25")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<FractionText, E> {
                Ok(FractionText(s.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FractionText, E> {
                Ok(FractionText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<FractionText, E> {
                Ok(FractionText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<FractionText, E> {
                // Rust prints the shortest text that reads back as `v`,
                // which is the text the client wrote for any short decimal.
                Ok(FractionText(format!("{v}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// `BUY` or `SELL`.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum SideText {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

impl From<SideText> for Side {
    fn from(s: SideText) -> Side {
        match s {
            SideText::Buy => Side::Buy,
            SideText::Sell => Side::Sell,
        }
    }
}

impl From<Side> for SideText {
    fn from(s: Side) -> SideText {
        match s {
            Side::Buy => SideText::Buy,
            Side::Sell => SideText::Sell,
        }
    }
}

/// The only strategy.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum StrategyType {
    /// Iceberg.
    #[serde(rename = "ICEBERG")]
    Iceberg,
}

/// Children's time in force.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum TifText {
    /// Day.
    Day,
    /// Immediate or cancel.
    Ioc,
}

/// `strategy_params` of a new iceberg.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StrategyParams {
    /// Shares per slice before variance, decimal string.
    pub display_quantity: DecimalText,
    /// Worst child price, decimal string.
    pub price_limit: DecimalText,
    /// Slice variance, a fraction in [0, 1).
    pub variance_percent: FractionText,
    /// Shortest refresh delay, ms.
    pub min_delay_ms: u64,
    /// Longest refresh delay, ms.
    pub max_delay_ms: u64,
    /// Join the best bid/ask capped by the limit (default false: rest at the limit).
    #[serde(default)]
    pub peg: bool,
    /// `DAY` (default) or `IOC`.
    #[serde(default)]
    pub time_in_force: Option<TifText>,
}

/// `POST /v1/algo-orders`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    /// Idempotency key chosen by the client.
    pub client_order_id: String,
    /// Stock symbol.
    pub symbol: String,
    /// `BUY` / `SELL`.
    pub side: SideText,
    /// Total shares, decimal string.
    pub total_quantity: DecimalText,
    /// `ICEBERG`.
    pub strategy_type: StrategyType,
    /// Iceberg parameters.
    pub strategy_params: StrategyParams,
}

/// `PATCH /v1/algo-orders/{id}`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AmendOrder {
    /// New total shares (not below filled).
    #[serde(default)]
    pub total_quantity: Option<DecimalText>,
    /// New limit.
    #[serde(default)]
    pub price_limit: Option<DecimalText>,
}

/// `POST /v1/kill-switch` (an empty body means `{"active": true}`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchBody {
    /// Set (true) or reset (false).
    pub active: bool,
}

/// Parses a JSON body into `T`, mapping serde's errors to 400s that name
/// the field (`strategy_params.display_quantity: …`).
pub fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "malformed_json",
            "the request body is empty; a JSON object is required",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed: Result<T, (String, serde_json::Error)> =
        match serde_path_to_error::deserialize(&mut de) {
            Ok(v) => de.end().map(|()| v).map_err(|e| (String::new(), e)),
            Err(e) => Err((e.path().to_string(), e.into_inner())),
        };
    parsed.map_err(|(path, inner)| {
        let text = inner.to_string();
        // serde_json appends " at line L column C"; keep it, it helps.
        let code = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "malformed_json"
            }
            serde_json::error::Category::Io => "malformed_json",
            serde_json::error::Category::Data => {
                if text.starts_with("unknown field") {
                    "unknown_field"
                } else if text.starts_with("missing field") {
                    "missing_field"
                } else if text.starts_with("duplicate field") {
                    "duplicate_field"
                } else if text.starts_with("unknown variant") {
                    "invalid_value"
                } else {
                    "invalid_type"
                }
            }
        };
        let message = if path.is_empty() || path == "." {
            text
        } else {
            format!("{path}: {text}")
        };
        ApiError::bad_request(code, message)
    })
}

fn field_error(field: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_field", format!("{field}: {message}"))
}

/// Parses a strict decimal: digits with at most one `.`, an optional leading
/// `-` (so that negatives get a clear message), no exponent, no `+`, no
/// separators, at most 40 characters.
pub fn parse_decimal(field: &str, s: &str) -> Result<Decimal, ApiError> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match digits.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (digits, None),
    };
    let ok = s.len() <= 40
        && !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    if !ok {
        return Err(field_error(
            field,
            format!(
                "{s:?} is not a decimal number (digits with an optional fraction, e.g. \"12.34\")"
            ),
        ));
    }
    Decimal::from_str(s).map_err(|e| field_error(field, format!("{s:?}: {e}")))
}

/// Converts a decimal share count to [`Qty`]: positive, a whole number of
/// shares, a multiple of `lot_size`, at most `u32::MAX`.
pub fn to_qty(field: &str, s: &str, lot_size: u32) -> Result<Qty, ApiError> {
    let d = parse_decimal(field, s)?;
    if d <= Decimal::ZERO {
        return Err(field_error(field, format!("must be positive, got {s}")));
    }
    if !d.fract().is_zero() {
        return Err(ApiError::bad_request(
            "not_a_lot_multiple",
            format!("{field}: {s} is not a whole number of shares"),
        ));
    }
    let shares = d
        .to_u32()
        .ok_or_else(|| field_error(field, format!("{s} exceeds {} shares", u32::MAX)))?;
    if shares % lot_size.max(1) != 0 {
        return Err(ApiError::bad_request(
            "not_a_lot_multiple",
            format!("{field}: {s} is not a multiple of the lot size {lot_size}"),
        ));
    }
    Ok(Qty(shares))
}

/// Converts a decimal dollar price to [`Price4`]: positive, an exact
/// multiple of the tick (`tick_size` × $0.0001), at most [`Price4::MAX`].
pub fn to_price(field: &str, s: &str, tick_size: u32) -> Result<Price4, ApiError> {
    let d = parse_decimal(field, s)?;
    if d <= Decimal::ZERO {
        return Err(field_error(field, format!("must be positive, got {s}")));
    }
    let tick = Decimal::new(i64::from(tick_size.max(1)), 4).normalize();
    let scaled = d
        .checked_mul(Decimal::from(Price4::SCALE))
        .ok_or_else(|| field_error(field, format!("{s} is out of range")))?;
    if !scaled.fract().is_zero() || !(d % tick).is_zero() {
        return Err(ApiError::bad_request(
            "not_a_tick_multiple",
            format!("{field}: {s} is not a multiple of the tick size {tick}"),
        ));
    }
    let units = scaled.trunc();
    let max = Decimal::from(Price4::MAX.0);
    if units > max {
        return Err(field_error(
            field,
            format!("{s} exceeds the largest price {}", Price4::MAX),
        ));
    }
    let units = units
        .to_u32()
        .ok_or_else(|| field_error(field, format!("{s} is out of range")))?;
    Ok(Price4(units))
}

/// Converts a fraction in [0, 1) to parts per million (at most 6 decimals).
pub fn to_ppm(field: &str, s: &str) -> Result<u32, ApiError> {
    let d = parse_decimal(field, s)?;
    if d < Decimal::ZERO || d >= Decimal::ONE {
        return Err(field_error(
            field,
            format!("must be a fraction in [0, 1), got {s}"),
        ));
    }
    let ppm = d * Decimal::from(1_000_000);
    if !ppm.fract().is_zero() {
        return Err(field_error(
            field,
            format!("{s} has more than 6 decimal places"),
        ));
    }
    ppm.to_u32()
        .ok_or_else(|| field_error(field, format!("{s} is out of range")))
}

fn to_delay(field: &str, v: u64) -> Result<u32, ApiError> {
    if v > u64::from(MAX_DELAY_MS) {
        return Err(field_error(
            field,
            format!("{v} exceeds {MAX_DELAY_MS} ms (one day)"),
        ));
    }
    Ok(v as u32)
}

impl CreateOrder {
    /// Validates and converts to the engine's idempotency key and
    /// parameters. `symbols`, when not empty, is the set of symbols traded
    /// (`book.only`): any other symbol is a 422 `unknown_symbol`.
    pub fn to_params(
        &self,
        risk: &RiskConfig,
        symbols: &[Symbol],
    ) -> Result<(ClientOrderId, IcebergParams), ApiError> {
        let client_order_id =
            ClientOrderId::new(self.client_order_id.as_bytes()).ok_or_else(|| {
                field_error(
                    "client_order_id",
                    format!(
                        "must be 1 to {} printable ASCII characters without spaces",
                        ClientOrderId::MAX_LEN
                    ),
                )
            })?;
        let symbol = Symbol::new(&self.symbol).ok_or_else(|| {
            field_error(
                "symbol",
                format!(
                    "{:?} is not a symbol (1 to 8 printable ASCII characters)",
                    self.symbol
                ),
            )
        })?;
        let p = &self.strategy_params;
        let total = to_qty("total_quantity", &self.total_quantity.0, risk.lot_size)?;
        let display = to_qty(
            "strategy_params.display_quantity",
            &p.display_quantity.0,
            risk.lot_size,
        )?;
        if display > total {
            return Err(field_error(
                "strategy_params.display_quantity",
                format!("{display} is above total_quantity {total}"),
            ));
        }
        let limit = to_price(
            "strategy_params.price_limit",
            &p.price_limit.0,
            risk.tick_size,
        )?;
        let variance_ppm = to_ppm("strategy_params.variance_percent", &p.variance_percent.0)?;
        let min_delay_ms = to_delay("strategy_params.min_delay_ms", p.min_delay_ms)?;
        let max_delay_ms = to_delay("strategy_params.max_delay_ms", p.max_delay_ms)?;
        if min_delay_ms > max_delay_ms {
            return Err(field_error(
                "strategy_params.min_delay_ms",
                format!("{min_delay_ms} is above max_delay_ms {max_delay_ms}"),
            ));
        }
        if !symbols.is_empty() && !symbols.contains(&symbol) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_symbol",
                format!("symbol: {} is not traded by this appliance", symbol),
            ));
        }
        let params = IcebergParams {
            symbol,
            side: self.side.into(),
            total,
            display,
            variance_ppm,
            limit,
            min_delay_ms,
            max_delay_ms,
            tif: match p.time_in_force {
                None | Some(TifText::Day) => TimeInForce::Day,
                Some(TifText::Ioc) => TimeInForce::Ioc,
            },
            peg: p.peg,
        };
        Ok((client_order_id, params))
    }
}

/// Every status name a list filter accepts.
pub const STATUS_NAMES: [&str; 7] = [
    "NEW",
    "WORKING",
    "PARTIALLY_FILLED",
    "PAUSED",
    "FILLED",
    "CANCELLED",
    "REJECTED",
];

/// RFC 3339 UTC with milliseconds.
pub fn rfc3339_ms(unix_ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms);
    humantime::format_rfc3339_millis(t).to_string()
}

/// The answer to a create (201, or 200 for an idempotent repeat).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Created {
    /// The engine's id.
    pub parent_order_id: ParentId,
    /// The client's id.
    pub client_order_id: String,
    /// Status at creation (`NEW`).
    pub status: String,
    /// When the engine accepted it (RFC 3339).
    pub created_at: String,
}

/// A price as a decimal string with four places.
fn price_text(p: Price4) -> String {
    p.to_string()
}

/// What a [`ParentReason`] says, for people.
pub fn reason_text(r: ParentReason) -> String {
    match r {
        ParentReason::Risk(r) => format!("risk: {}", r.name()),
        ParentReason::VenueReject { code } => format!("venue rejected a child (code {code})"),
        ParentReason::ReplaceRejected { code } => {
            format!("venue rejected a replace (code {code})")
        }
        ParentReason::CancelRejected => "venue refused a cancel".to_string(),
        ParentReason::VenueCanceled { code } => {
            format!("venue cancelled a child (reason {:?})", char::from(code))
        }
        ParentReason::Halted(h) => format!("halted: {h:?}"),
    }
}

/// One algo order as GET shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderView {
    /// The engine's id.
    pub parent_order_id: ParentId,
    /// The client's id.
    pub client_order_id: String,
    /// Symbol.
    pub symbol: String,
    /// `BUY` / `SELL`.
    pub side: SideText,
    /// `ICEBERG`.
    pub strategy_type: StrategyType,
    /// Status name (see [`STATUS_NAMES`]).
    pub status: String,
    /// Effective total shares.
    pub total_quantity: String,
    /// Total as last requested (differs from the effective total while a
    /// cut below filled + live waits for the live child's cancel).
    pub requested_quantity: String,
    /// Shares filled.
    pub filled_quantity: String,
    /// Shares live at the venue.
    pub live_quantity: String,
    /// `total − filled`.
    pub leaves_quantity: String,
    /// `total − filled − live`: not released yet.
    pub remaining_quantity: String,
    /// Display per slice.
    pub display_quantity: String,
    /// Limit, 4 decimals.
    pub price_limit: String,
    /// Pegged to the best bid/ask.
    pub peg: bool,
    /// Children released.
    pub children_sent: u32,
    /// Average fill price (4 decimals), once something filled.
    pub avg_price: Option<String>,
    /// A cancel is on its way to the venue.
    pub cancel_pending: bool,
    /// The risk check the next child waits for, if any.
    pub waiting_for: Option<String>,
    /// The last reject, refusal or venue cancel.
    pub reason: Option<String>,
    /// When the engine accepted it (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

impl OrderView {
    /// From a status; `unix_ms` converts engine time.
    pub fn from_status(s: &ParentStatus, unix_ms: impl Fn(Nanos) -> u64) -> OrderView {
        let avg_price = (!s.filled.is_zero()).then(|| {
            let units = s.notional / u64::from(s.filled.0);
            Decimal::new(units as i64, 4).to_string()
        });
        OrderView {
            parent_order_id: s.parent,
            client_order_id: s.client_order_id.as_str().to_string(),
            symbol: s.symbol.as_str().to_string(),
            side: s.side.into(),
            strategy_type: StrategyType::Iceberg,
            status: s.status.name().to_string(),
            total_quantity: s.total.to_string(),
            requested_quantity: s.requested_total.to_string(),
            filled_quantity: s.filled.to_string(),
            live_quantity: s.live.to_string(),
            leaves_quantity: s.leaves.to_string(),
            remaining_quantity: s.remaining.to_string(),
            display_quantity: s.display.to_string(),
            price_limit: price_text(s.limit),
            peg: s.peg,
            children_sent: s.children,
            avg_price,
            cancel_pending: s.cancel_pending,
            waiting_for: s.waiting.map(|r| r.name().to_string()),
            reason: s.last_reason.map(reason_text),
            created_at: rfc3339_ms(unix_ms(s.created_at)),
            updated_at: rfc3339_ms(unix_ms(s.updated_at)),
        }
    }
}

/// `GET /v1/algo-orders`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OrderList {
    /// The orders, by id.
    pub orders: Vec<OrderView>,
}

/// Kill-switch state.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KillSwitchView {
    /// Set.
    pub active: bool,
}

/// Maps an engine refusal to its HTTP error.
pub fn refusal_error(e: CommandError, id: Option<ParentId>) -> ApiError {
    use crate::algo::ParamError;
    match e {
        CommandError::Invalid(p) => {
            let (code, field) = match p {
                ParamError::ZeroTotal => ("invalid_field", "total_quantity"),
                ParamError::ZeroDisplay => ("invalid_field", "strategy_params.display_quantity"),
                ParamError::VarianceOutOfRange => {
                    ("invalid_field", "strategy_params.variance_percent")
                }
                ParamError::DelayRange => ("invalid_field", "strategy_params.min_delay_ms"),
                ParamError::LimitOutOfRange => ("invalid_field", "price_limit"),
                ParamError::NotLotMultiple => ("not_a_lot_multiple", "total_quantity"),
                ParamError::NotTickMultiple => ("not_a_tick_multiple", "price_limit"),
            };
            ApiError::bad_request(code, format!("{field}: {p}"))
        }
        CommandError::Risk(RiskRefusal::KillSwitch) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "kill_switch_active",
            "the kill switch is set: new orders are refused until it is reset",
        ),
        CommandError::Risk(r) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "risk_refused",
            format!("refused by the pre-trade risk check {}", r.name()),
        ),
        CommandError::Conflict => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_conflict",
            "client_order_id was already used with different parameters",
        ),
        CommandError::UnknownParent => ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            match id {
                Some(id) => format!("no algo order with id {id}"),
                None => "no such algo order".to_string(),
            },
        ),
        CommandError::InvalidState(s) => ApiError::new(
            StatusCode::CONFLICT,
            "invalid_state",
            format!(
                "not allowed while the order is {}",
                format!("{s:?}").to_uppercase()
            ),
        ),
        CommandError::CancelPending => ApiError::new(
            StatusCode::CONFLICT,
            "cancel_pending",
            "a cancel is already on its way for this order",
        ),
        CommandError::AmendBelowFilled => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "below_filled",
            "total_quantity: below the quantity already filled",
        ),
        CommandError::Capacity(c) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "capacity_exhausted",
            format!("the engine has no room: {c:?}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_convert_exactly() {
        assert_eq!(to_qty("q", "10000", 100).unwrap(), Qty(10_000));
        assert_eq!(to_qty("q", "300.00", 100).unwrap(), Qty(300));
        assert_eq!(to_qty("q", "4294967295", 1).unwrap(), Qty(u32::MAX));
        for (bad, code) in [
            ("0", "invalid_field"),
            ("-100", "invalid_field"),
            ("150", "not_a_lot_multiple"),
            ("100.5", "not_a_lot_multiple"),
            ("4294967296", "invalid_field"),
            ("1e3", "invalid_field"),
            ("+100", "invalid_field"),
            ("1_000", "invalid_field"),
            ("", "invalid_field"),
            (".5", "invalid_field"),
            ("5.", "invalid_field"),
            (" 100", "invalid_field"),
        ] {
            let e = to_qty("q", bad, 100).unwrap_err();
            assert_eq!((e.code, e.status), (code, StatusCode::BAD_REQUEST), "{bad}");
            assert!(e.message.starts_with("q: "), "{}", e.message);
        }
    }

    #[test]
    fn prices_convert_exactly() {
        assert_eq!(to_price("p", "12.34", 100).unwrap(), Price4(123_400));
        assert_eq!(to_price("p", "12.3400", 100).unwrap(), Price4(123_400));
        assert_eq!(to_price("p", "0.0001", 1).unwrap(), Price4(1));
        assert_eq!(
            to_price("p", "214748.3646", 1).unwrap(),
            Price4(0x7FFF_FFFE)
        );
        for (bad, code) in [
            ("12.345", "not_a_tick_multiple"),
            ("12.00001", "not_a_tick_multiple"),
            ("0", "invalid_field"),
            ("-1.00", "invalid_field"),
            ("214748.37", "invalid_field"),
            ("99999999999999999999", "invalid_field"),
            ("abc", "invalid_field"),
        ] {
            let e = to_price("p", bad, 100).unwrap_err();
            assert_eq!(e.code, code, "{bad}: {}", e.message);
        }
    }

    #[test]
    fn fractions_convert_to_ppm() {
        assert_eq!(to_ppm("v", "0").unwrap(), 0);
        assert_eq!(to_ppm("v", "0.25").unwrap(), 250_000);
        assert_eq!(to_ppm("v", "0.999999").unwrap(), 999_999);
        for bad in ["1", "1.0", "-0.1", "0.0000001", "2"] {
            assert!(to_ppm("v", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<AmendOrder>(br#"{"total_quantity": 5}"#).unwrap_err();
        assert_eq!(e.code, "invalid_type");
        assert!(e.message.starts_with("total_quantity: "), "{}", e.message);
        let e = parse_json::<AmendOrder>(br#"{"foo": "5"}"#).unwrap_err();
        assert_eq!(e.code, "unknown_field");
        assert!(e.message.contains("foo"), "{}", e.message);
        let e = parse_json::<KillSwitchBody>(b"{}").unwrap_err();
        assert_eq!(e.code, "missing_field");
        let e = parse_json::<KillSwitchBody>(br#"{"active": true} x"#).unwrap_err();
        assert_eq!(e.code, "malformed_json");
        let e = parse_json::<KillSwitchBody>(b"  ").unwrap_err();
        assert_eq!(e.code, "malformed_json");
    }

    #[test]
    fn rfc3339_has_milliseconds() {
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
