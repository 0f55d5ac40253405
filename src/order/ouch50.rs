//! The OUCH 5.0 dialect: [`OrderRequest`] → inbound message bytes, outbound
//! message bytes → [`OrderEvent`].
//!
//! Identifiers: [`OrderRef`] is the UserRefNum, and the ClOrdID is
//! [`encode_id`]`(order, tag)`. On decode the order comes from the UserRefNum;
//! the [`ChildTag`] is reported when the message carries a ClOrdID that
//! decodes to the same order (`None` otherwise, e.g. for a ClOrdID floe did
//! not mint). Time in force: [`TimeInForce::Day`] is `0`,
//! [`TimeInForce::Ioc`] is `3`. Prices are `x8` on the wire; one that does not
//! fit [`crate::types::Price4`] is [`DialectError::OutOfRange`].
//!
//! Decoding reads the message in place through the zero-copy views (the
//! appendage is validated but not parsed): no allocation, no panic on any
//! input.

use super::event::{
    CancelReason, ChildTag, DialectError, OrderEvent, OrderRef, OrderRequest, OuchDialect,
    RejectReason, TimeInForce,
};
use super::id::{decode_id, encode_id};
use crate::types::Qty;
use crate::wire::ouch50 as w;

/// OUCH 5.0 with per-port order attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ouch50Dialect {
    /// Firm option (tag 2) on every Enter Order; `None` = account default
    /// (no option sent).
    pub firm: Option<[u8; 4]>,
    /// CustomerType option (tag 4) on Enter; `None` = not sent.
    pub customer_type: Option<w::CustomerType>,
    /// Display on Enter and Replace (default `Y`, visible).
    pub display: w::Display,
    /// Capacity on Enter (default `A`, agency).
    pub capacity: w::Capacity,
    /// Intermarket Sweep Eligibility on Enter and Replace (default `N`).
    pub intermarket_sweep: w::IntermarketSweep,
    /// Cross Type on Enter (default `N`, continuous market).
    pub cross_type: w::CrossType,
}

impl Ouch50Dialect {
    /// The dialect with the Firm option `firm` (`None`: not sent) and the
    /// default attributes listed on the fields.
    pub fn new(firm: Option<[u8; 4]>) -> Ouch50Dialect {
        Ouch50Dialect {
            firm,
            customer_type: None,
            display: w::Display::VISIBLE,
            capacity: w::Capacity::AGENCY,
            intermarket_sweep: w::IntermarketSweep::NOT_ELIGIBLE,
            cross_type: w::CrossType::CONTINUOUS,
        }
    }

    /// The dialect for a firm given as text (at most 4 printable ASCII
    /// characters, left-justified and space-padded); an empty firm sends no
    /// Firm option.
    pub fn with_firm(firm: &str) -> Result<Ouch50Dialect, DialectError> {
        if firm.is_empty() {
            return Ok(Ouch50Dialect::new(None));
        }
        let mut f = [b' '; 4];
        crate::wire::put_alpha("firm", &mut f, firm.as_bytes())?;
        Ok(Ouch50Dialect::new(Some(f)))
    }
}

/// OUCH 5.0 Time In Force for a dialect-neutral lifetime.
pub const fn tif50(tif: TimeInForce) -> w::TimeInForce {
    match tif {
        TimeInForce::Day => w::TimeInForce::DAY,
        TimeInForce::Ioc => w::TimeInForce::IOC,
    }
}

/// The dialect-neutral cancel reason for an OUCH 5.0 reason byte.
pub fn cancel_reason50(r: w::CancelReason) -> CancelReason {
    CancelReason {
        code: r.0,
        text: r.description().unwrap_or("unknown"),
    }
}

/// The dialect-neutral reject reason for an OUCH 5.0 reason code.
pub fn reject_reason50(r: w::RejectReason) -> RejectReason {
    RejectReason {
        code: r.0,
        text: r.description().unwrap_or("unknown"),
    }
}

fn tag_of(order: OrderRef, cl_ord_id: &w::ClOrdId) -> Option<ChildTag> {
    match decode_id(cl_ord_id) {
        Ok((o, tag)) if o == order => Some(tag),
        _ => None,
    }
}

impl OuchDialect for Ouch50Dialect {
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
                user_ref_num: order.0,
                side: side.into(),
                quantity: qty.0,
                symbol,
                price,
                time_in_force: tif50(tif),
                display: self.display,
                capacity: self.capacity,
                intermarket_sweep: self.intermarket_sweep,
                cross_type: self.cross_type,
                cl_ord_id: encode_id(order, tag)?,
                options: w::Options {
                    firm: self.firm,
                    customer_type: self.customer_type,
                    ..w::Options::NONE
                },
            }
            .emit(out)?,
            OrderRequest::Cancel {
                order, remaining, ..
            } => w::CancelOrderRepr {
                user_ref_num: order.0,
                quantity: remaining.0,
            }
            .emit(out)?,
            // Only Day orders rest, so a replacement is a Day order too.
            OrderRequest::Replace {
                old,
                new,
                new_tag,
                qty,
                price,
                ..
            } => w::ReplaceOrderRepr {
                orig_user_ref_num: old.0,
                user_ref_num: new.0,
                quantity: qty.0,
                price,
                time_in_force: w::TimeInForce::DAY,
                display: self.display,
                intermarket_sweep: self.intermarket_sweep,
                cl_ord_id: encode_id(new, new_tag)?,
                options: w::Options::NONE,
            }
            .emit(out)?,
            OrderRequest::AccountQuery => w::AccountQueryRepr {}.emit(out)?,
        };
        Ok(n)
    }

    /// Decodes every OUCH 5.0 outbound message: `S A U C D E B J P I T M R Q`.
    /// AIQ Canceled (`D`) becomes [`OrderEvent::Canceled`].
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
                let order = OrderRef(v.user_ref_num());
                OrderEvent::Accepted {
                    ts: v.timestamp(),
                    order,
                    tag: tag_of(order, &v.cl_ord_id()),
                    side: v.side().side(),
                    qty: Qty(v.quantity()),
                    symbol: v.symbol(),
                    price: v.price(),
                    venue_order_ref: v.order_ref(),
                    live: v.state() == w::OrderState::Live,
                }
            }
            b'U' => {
                let v = w::Replaced::new_checked(msg)?;
                let order = OrderRef(v.user_ref_num());
                OrderEvent::Replaced {
                    ts: v.timestamp(),
                    old: OrderRef(v.orig_user_ref_num()),
                    order,
                    tag: tag_of(order, &v.cl_ord_id()),
                    side: v.side().side(),
                    qty: Qty(v.quantity()),
                    symbol: v.symbol(),
                    price: v.price(),
                    venue_order_ref: v.order_ref(),
                    live: v.state() == w::OrderState::Live,
                }
            }
            b'C' => {
                let v = w::Canceled::new_checked(msg)?;
                OrderEvent::Canceled {
                    ts: v.timestamp(),
                    order: OrderRef(v.user_ref_num()),
                    decrement: Qty(v.quantity()),
                    reason: cancel_reason50(v.reason()),
                }
            }
            b'D' => {
                let v = w::AiqCanceled::new_checked(msg)?;
                OrderEvent::Canceled {
                    ts: v.timestamp(),
                    order: OrderRef(v.user_ref_num()),
                    decrement: Qty(v.decrement_shares()),
                    reason: cancel_reason50(v.reason()),
                }
            }
            b'E' => {
                let v = w::Executed::new_checked(msg)?;
                OrderEvent::Executed {
                    ts: v.timestamp(),
                    order: OrderRef(v.user_ref_num()),
                    qty: Qty(v.quantity()),
                    price: v.price(),
                    liquidity: v.liquidity_flag().0,
                    match_number: v.match_number(),
                }
            }
            b'B' => {
                let v = w::BrokenTrade::new_checked(msg)?;
                OrderEvent::BrokenTrade {
                    ts: v.timestamp(),
                    order: OrderRef(v.user_ref_num()),
                    match_number: v.match_number(),
                    reason: v.reason().0,
                }
            }
            b'J' => {
                let v = w::Rejected::new_checked(msg)?;
                let order = OrderRef(v.user_ref_num());
                OrderEvent::Rejected {
                    ts: v.timestamp(),
                    order,
                    tag: tag_of(order, &v.cl_ord_id()),
                    reason: reject_reason50(v.reason()),
                }
            }
            b'P' => {
                let v = w::CancelPending::new_checked(msg)?;
                OrderEvent::CancelPending {
                    ts: v.timestamp(),
                    order: OrderRef(v.user_ref_num()),
                }
            }
            b'I' => {
                let v = w::CancelReject::new_checked(msg)?;
                OrderEvent::CancelReject {
                    ts: v.timestamp(),
                    order: OrderRef(v.user_ref_num()),
                }
            }
            b'T' => {
                let v = w::PriorityUpdate::new_checked(msg)?;
                OrderEvent::PriorityUpdate {
                    ts: v.timestamp(),
                    order: OrderRef(v.user_ref_num()),
                    price: v.price(),
                    venue_order_ref: v.order_ref(),
                }
            }
            b'M' => {
                let v = w::OrderModified::new_checked(msg)?;
                OrderEvent::Modified {
                    ts: v.timestamp(),
                    order: OrderRef(v.user_ref_num()),
                    side: v.side().side(),
                    qty: Qty(v.quantity()),
                }
            }
            b'R' => {
                let v = w::Restated::new_checked(msg)?;
                OrderEvent::Restated {
                    ts: v.timestamp(),
                    order: OrderRef(v.user_ref_num()),
                    reason: v.reason().0,
                }
            }
            b'Q' => {
                let v = w::AccountQueryResponse::new_checked(msg)?;
                OrderEvent::AccountQueryResponse {
                    ts: v.timestamp(),
                    next_order: OrderRef(v.next_user_ref_num()),
                }
            }
            other => return Err(DialectError::UnknownType(other)),
        };
        Ok(ev)
    }
}

#[cfg(test)]
mod tests;
