//! Order entry: the dialect-neutral order model, the order identifiers and
//! the OUCH dialects behind it, and the SoupBinTCP client session.
#![forbid(unsafe_code)]

pub mod event;
pub mod id;
pub mod ouch42;
pub mod ouch50;
pub mod session;

pub use event::{
    CancelReason, ChildTag, DialectError, OrderEvent, OrderRef, OrderRequest, OuchDialect,
    RejectReason, TimeInForce,
};
pub use id::{decode_id, encode_id};
pub use ouch42::Ouch42Dialect;
pub use ouch50::Ouch50Dialect;
