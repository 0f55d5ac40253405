//! Market data: ITCH 5.0 messages become book operations.
//!
//! [`itch`] is the feed handler proper (decoded message → [`crate::book`]
//! operation → top-of-book [`Quote`](crate::types::Quote)); [`synth`] makes
//! realistic synthetic ITCH days for tests, benchmarks and `floe gen-itch`.
//! The MoldUDP64 session (sequencing, gap detection, re-request) sits in
//! front of the handler and hands it each message of a block.
#![forbid(unsafe_code)]

pub mod itch;
pub mod synth;
