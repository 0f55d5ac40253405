//! Market data: ITCH 5.0 messages become book operations.
//!
//! [`moldudp64`] is the MoldUDP64 session (sequencing, gap detection,
//! re-request) that hands each in-order message to [`itch`], the feed handler
//! proper (decoded message → [`crate::book`] operation → top-of-book
//! [`Quote`](crate::types::Quote)); [`synth`] makes realistic synthetic ITCH
//! days for tests, benchmarks and `floe gen-itch`.
#![forbid(unsafe_code)]

pub mod itch;
pub mod moldudp64;
pub mod synth;
