//! Order entry: the dialect-neutral order model and the SoupBinTCP client
//! session.
#![forbid(unsafe_code)]

pub mod event;

pub use event::{
    CancelReason, ChildTag, DialectError, OrderEvent, OrderRef, OrderRequest, OuchDialect,
    RejectReason, TimeInForce,
};
