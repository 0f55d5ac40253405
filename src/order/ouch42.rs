//! The OUCH 4.2 dialect: [`OrderRequest`] → inbound message bytes, outbound
//! message bytes → [`OrderEvent`].
//!
//! Identifiers: the 14-byte Order Token is [`encode_id`]`(order, tag)`, so
//! every outbound message maps back to its [`OrderRef`] and [`ChildTag`](super::ChildTag)
//! from the token alone; a token floe did not mint is
//! [`DialectError::ForeignId`]. Replaced carries the previous token, which
//! gives `old`. Time in force: [`TimeInForce::Day`] is 99998 (market hours),
//! [`TimeInForce::Ioc`] is 0. OUCH 4.2 has no account query, so
//! `encode(AccountQuery)` writes nothing and returns `Ok(0)`.
//!
//! Decoding reads the message in place through the zero-copy views: no
//! allocation, no panic on any input.

use super::event::{
    CancelReason, DialectError, OrderEvent, OrderRef, OrderRequest, OuchDialect, RejectReason,
    TimeInForce,
};
use super::id::{decode_id, encode_id};
use crate::types::Qty;
use crate::wire::ouch42 as w;

/// OUCH 4.2 with per-port order attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ouch42Dialect {
    /// Firm on every Enter Order (left-justified; blank = account default).
    pub firm: [u8; 4],
    /// Display on Enter and Replace (default `Y`, anonymous-price to comply).
    pub display: w::Display,
    /// Capacity on Enter (default `A`, agency).
    pub capacity: w::Capacity,
    /// Intermarket Sweep Eligibility on Enter and Replace (default `N`).
    pub intermarket_sweep: w::IntermarketSweep,
    /// Cross Type on Enter (default `N`, continuous market).
    pub cross_type: w::CrossType,
    /// Customer Type on Enter (default ` `, the port's default).
    pub customer_type: w::CustomerType,
}

impl Ouch42Dialect {
    /// The dialect with `firm` and the default attributes listed on the fields.
    pub fn new(firm: [u8; 4]) -> Ouch42Dialect {
        Ouch42Dialect {
            firm,
            display: w::Display::ANONYMOUS,
            capacity: w::Capacity::AGENCY,
            intermarket_sweep: w::IntermarketSweep::NOT_ELIGIBLE,
            cross_type: w::CrossType::NO_CROSS,
            customer_type: w::CustomerType::PORT_DEFAULT,
        }
    }

    /// The dialect for a firm given as text (at most 4 printable ASCII
    /// characters, left-justified and space-padded; empty = account default).
    pub fn with_firm(firm: &str) -> Result<Ouch42Dialect, DialectError> {
        let mut f = [b' '; 4];
        crate::wire::put_alpha("firm", &mut f, firm.as_bytes())?;
        Ok(Ouch42Dialect::new(f))
    }
}

/// OUCH 4.2 Time in Force for a dialect-neutral lifetime.
pub const fn tif42(tif: TimeInForce) -> u32 {
    match tif {
        TimeInForce::Day => w::TIF_MARKET_HOURS,
        TimeInForce::Ioc => w::TIF_IOC,
    }
}

/// The dialect-neutral cancel reason for an OUCH 4.2 reason byte.
pub fn cancel_reason42(r: w::CancelReason) -> CancelReason {
    CancelReason {
        code: r.0,
        text: r.description().unwrap_or("unknown"),
    }
}

/// The dialect-neutral reject reason for an OUCH 4.2 reason byte.
pub fn reject_reason42(r: w::RejectReason) -> RejectReason {
    RejectReason {
        code: u16::from(r.0),
        text: r.description().unwrap_or("unknown"),
    }
}

fn order_of(token: &w::Token) -> Result<OrderRef, DialectError> {
    decode_id(token).map(|(o, _)| o)
}

impl OuchDialect for Ouch42Dialect {
    fn encode(&self, req: &OrderRequest, out: &mut [u8]) -> Result<usize, DialectError> {
        let n = match *req {
            OrderRequest::Enter {
                order,
                tag,
                side,
                qty,
                symbol,
                price,
                tif,
            } => w::EnterOrderRepr {
                token: encode_id(order, tag)?,
                side: side.into(),
                shares: qty.0,
                stock: symbol,
                price,
                time_in_force: tif42(tif),
                firm: self.firm,
                display: self.display,
                capacity: self.capacity,
                intermarket_sweep: self.intermarket_sweep,
                min_qty: 0,
                cross_type: self.cross_type,
                customer_type: self.customer_type,
            }
            .emit(out)?,
            OrderRequest::Cancel {
                order,
                tag,
                remaining,
            } => w::CancelOrderRepr {
                token: encode_id(order, tag)?,
                shares: remaining.0,
            }
            .emit(out)?,
            // A replace only reaches a resting order, and only Day orders
            // rest, so the replacement is a Day order too.
            OrderRequest::Replace {
                old,
                old_tag,
                new,
                new_tag,
                qty,
                price,
            } => w::ReplaceOrderRepr {
                existing_token: encode_id(old, old_tag)?,
                replacement_token: encode_id(new, new_tag)?,
                shares: qty.0,
                price,
                time_in_force: w::TIF_MARKET_HOURS,
                display: self.display,
                intermarket_sweep: self.intermarket_sweep,
                min_qty: 0,
            }
            .emit(out)?,
            OrderRequest::AccountQuery => 0,
        };
        Ok(n)
    }

    /// Decodes every OUCH 4.2 outbound message that has a dialect-neutral
    /// event: `S A U C D E G B J P I T M`. AIQ Canceled (`D`) becomes
    /// [`OrderEvent::Canceled`]; Executed with Reference Price (`G`) becomes
    /// [`OrderEvent::Executed`]. Trade Correction (`F`) and the Trade Now
    /// acknowledgement (`N`) have no event in the model and are reported as
    /// [`DialectError::UnknownType`] (decode them with `wire::ouch42`).
    fn decode(&self, msg: &[u8]) -> Result<OrderEvent, DialectError> {
        let Some(&kind) = msg.first() else {
            return Err(DialectError::Truncated { len: 0, need: 1 });
        };
        let ev = match kind {
            b'S' => {
                let v = w::SystemEvent::new_checked(msg)?;
                OrderEvent::SystemEvent {
                    ts: v.timestamp(),
                    code: v.event_code().0,
                }
            }
            b'A' => {
                let v = w::Accepted::new_checked(msg)?;
                let (order, tag) = decode_id(&v.token())?;
                OrderEvent::Accepted {
                    ts: v.timestamp(),
                    order,
                    tag: Some(tag),
                    side: v.side().side(),
                    qty: Qty(v.shares()),
                    symbol: v.stock(),
                    price: v.price(),
                    venue_order_ref: v.order_ref(),
                    live: v.state() == w::OrderState::Live,
                }
            }
            b'U' => {
                let v = w::Replaced::new_checked(msg)?;
                let (order, tag) = decode_id(&v.replacement_token())?;
                OrderEvent::Replaced {
                    ts: v.timestamp(),
                    old: order_of(&v.previous_token())?,
                    order,
                    tag: Some(tag),
                    side: v.side().side(),
                    qty: Qty(v.shares()),
                    symbol: v.stock(),
                    price: v.price(),
                    venue_order_ref: v.order_ref(),
                    live: v.state() == w::OrderState::Live,
                }
            }
            b'C' => {
                let v = w::Canceled::new_checked(msg)?;
                OrderEvent::Canceled {
                    ts: v.timestamp(),
                    order: order_of(&v.token())?,
                    decrement: Qty(v.decrement_shares()),
                    reason: cancel_reason42(v.reason()),
                }
            }
            b'D' => {
                let v = w::AiqCanceled::new_checked(msg)?;
                OrderEvent::Canceled {
                    ts: v.timestamp(),
                    order: order_of(&v.token())?,
                    decrement: Qty(v.decrement_shares()),
                    reason: cancel_reason42(v.reason()),
                }
            }
            b'E' => {
                let v = w::Executed::new_checked(msg)?;
                OrderEvent::Executed {
                    ts: v.timestamp(),
                    order: order_of(&v.token())?,
                    qty: Qty(v.executed_shares()),
                    price: v.execution_price(),
                    liquidity: v.liquidity_flag().0,
                    match_number: v.match_number(),
                }
            }
            b'G' => {
                let v = w::ExecutedWithReferencePrice::new_checked(msg)?;
                OrderEvent::Executed {
                    ts: v.timestamp(),
                    order: order_of(&v.token())?,
                    qty: Qty(v.executed_shares()),
                    price: v.execution_price(),
                    liquidity: v.liquidity_flag().0,
                    match_number: v.match_number(),
                }
            }
            b'B' => {
                let v = w::BrokenTrade::new_checked(msg)?;
                OrderEvent::BrokenTrade {
                    ts: v.timestamp(),
                    order: order_of(&v.token())?,
                    match_number: v.match_number(),
                    reason: v.reason().0,
                }
            }
            b'J' => {
                let v = w::Rejected::new_checked(msg)?;
                let (order, tag) = decode_id(&v.token())?;
                OrderEvent::Rejected {
                    ts: v.timestamp(),
                    order,
                    tag: Some(tag),
                    reason: reject_reason42(v.reason()),
                }
            }
            b'P' => {
                let v = w::CancelPending::new_checked(msg)?;
                OrderEvent::CancelPending {
                    ts: v.timestamp(),
                    order: order_of(&v.token())?,
                }
            }
            b'I' => {
                let v = w::CancelReject::new_checked(msg)?;
                OrderEvent::CancelReject {
                    ts: v.timestamp(),
                    order: order_of(&v.token())?,
                }
            }
            b'T' => {
                let v = w::PriorityUpdate::new_checked(msg)?;
                OrderEvent::PriorityUpdate {
                    ts: v.timestamp(),
                    order: order_of(&v.token())?,
                    price: v.price(),
                    venue_order_ref: v.order_ref(),
                }
            }
            b'M' => {
                let v = w::OrderModified::new_checked(msg)?;
                OrderEvent::Modified {
                    ts: v.timestamp(),
                    order: order_of(&v.token())?,
                    side: v.side().side(),
                    qty: Qty(v.shares()),
                }
            }
            other => return Err(DialectError::UnknownType(other)),
        };
        Ok(ev)
    }
}

#[cfg(test)]
mod tests;
