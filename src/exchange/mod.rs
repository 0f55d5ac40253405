//! The simulated venue: matching, ITCH publisher, OUCH server, synthetic flow.
//!
//! Everything here but the socket layer ([`server::VenueServer`],
//! [`md_server`]) is sans-IO: `floe exchange` and the deterministic
//! simulations of the engine drive the same pieces with their own clock
//! (venue time: nanoseconds since midnight).
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
//! - [`order_server`]: the SoupBinTCP server (logins, heartbeats, sequenced
//!   replay, OUCH 4.2 / 5.0 in and out), sans-IO.
//! - [`server`]: [`Venue`], all of the above wired together, and
//!   [`VenueServer`], `floe exchange` on kernel sockets ([`md_server`] holds
//!   its UDP sockets, [`config`] its TOML configuration).
//! - [`sim_host`]: [`VenueHost`](sim_host::VenueHost), the same venue as a
//!   host with its own smoltcp stack on a NIC (`floe demo`, memory pairs).
//!
//! A simulation steps time to the next deadline and routes the outputs:
//!
//! ```
//! use floe::config::Dialect;
//! use floe::exchange::publisher::MAX_PACKET_LEN;
//! use floe::exchange::*;
//! use floe::order::{ChildTag, OrderRef, OrderRequest, TimeInForce};
//! use floe::types::{Price4, Qty, Side, Symbol};
//!
//! let sym = Symbol::new("AAPL").unwrap();
//! let start = 34_200_000_000_000; // 09:30
//! let mut venue = MatchingEngine::new(&MatchingConfig { symbols: vec![sym], ..Default::default() });
//! let floe = venue
//!     .add_session(SessionConfig {
//!         name: SessionName::new("FLOE01").unwrap(),
//!         dialect: Dialect::Ouch50,
//!         cancel_on_disconnect: true,
//!         attribution: None,
//!     })
//!     .unwrap();
//! let mut flow = Flow::new(
//!     FlowConfig { seed: 7, symbols: vec![FlowSymbol { symbol: sym, mid: Price4(1_000_000) }], ..Default::default() },
//!     start,
//! );
//! let mut feed = Publisher::new(PublisherConfig::default(), start);
//! let mut out = Vec::new();
//! venue.open(start, &mut out);
//! // Warm up, then rest a child at the bid and run until it is filled.
//! let mut now = start;
//! let mut sent = false;
//! let mut packet = [0u8; MAX_PACKET_LEN];
//! while venue.executed(floe, OrderRef(1)) < Qty(300) {
//!     now = flow.next_due().min(feed.poll_timeout().unwrap_or(u64::MAX));
//!     flow.poll(now, &mut venue, &mut out);
//!     if !sent && now > start + 100_000_000 {
//!         let bid = venue.quote(sym).unwrap().bid.unwrap().price;
//!         let req = OrderRequest::Enter {
//!             order: OrderRef(1),
//!             tag: ChildTag { parent: 1, child: 1 },
//!             side: Side::Buy,
//!             qty: Qty(300),
//!             symbol: sym,
//!             price: bid,
//!             tif: TimeInForce::Day,
//!         };
//!         venue.handle(now, floe, &req, &mut out);
//!         sent = true;
//!     }
//!     for o in out.drain(..) {
//!         match o {
//!             VenueOutput::Market(m) => {
//!                 feed.publish(now, &m).unwrap();
//!             }
//!             VenueOutput::Report { .. } => { /* to the session's client */ }
//!             VenueOutput::Audit(a) => {
//!                 let _line = a.to_json_line();
//!             }
//!         }
//!     }
//!     while let Some(n) = feed.poll_transmit(now, &mut packet) {
//!         let _datagram = &packet[..n]; // to the multicast group
//!     }
//!     assert!(now < start + 60_000_000_000, "filled within a simulated minute");
//! }
//! ```
#![forbid(unsafe_code)]

pub mod audit;
pub mod config;
pub mod flow;
pub mod matching;
pub mod md_server;
pub mod order_server;
pub mod publisher;
pub mod server;
pub mod sim_host;

pub use audit::{AuditEvent, AuditKind, SessionName};
pub use config::VenueConfig;
pub use flow::{Flow, FlowConfig, FlowStats, FlowSymbol};
pub use matching::{
    FlowHandle, FlowOrder, LiveOrder, MarketEvent, MatchingConfig, MatchingEngine, MatchingStats,
    Refusal, RestingOrder, SessionConfig, SessionId, VenueOutput,
};
pub use order_server::{OrderServer, PortSpec};
pub use publisher::{Publisher, PublisherConfig, PublisherStats};
pub use server::{ServerAddresses, ShutdownHandle, Venue, VenueServer};
