//! The simulated venue: matching, ITCH publisher, OUCH server, synthetic flow.
//!
//! Everything here is sans-IO: the socket servers of `floe exchange` and the
//! deterministic simulations of the engine drive the same pieces with their
//! own clock.
//!
//! - [`matching`]: price-time priority matching per symbol; takes
//!   dialect-neutral [`OrderRequest`](crate::order::OrderRequest)s from
//!   sessions and orders from the synthetic flow, and emits
//!   [`VenueOutput`]s: session reports, ITCH-dialect market events and audit
//!   records.
//! - [`flow`]: a seeded synthetic order flow that keeps a two-sided book
//!   around a random-walk mid and trades against resting orders.
//! - [`publisher`]: market events as ITCH 5.0 in MoldUDP64 packets, with
//!   heartbeats, end of session and a re-request server over its history.
//! - [`audit`]: the audit record and its JSON line.
#![forbid(unsafe_code)]

pub mod audit;
pub mod flow;
pub mod matching;
pub mod publisher;

pub use audit::{AuditEvent, AuditKind, SessionName};
pub use flow::{Flow, FlowConfig, FlowStats, FlowSymbol};
pub use matching::{
    FlowHandle, FlowOrder, LiveOrder, MarketEvent, MatchingConfig, MatchingEngine, MatchingStats,
    Refusal, RestingOrder, SessionConfig, SessionId, VenueOutput,
};
pub use publisher::{Publisher, PublisherConfig, PublisherStats};
