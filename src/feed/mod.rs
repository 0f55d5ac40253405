//! Market data: the MoldUDP64 session (sequencing, gaps, re-request) and the
//! ITCH → book handler.
#![forbid(unsafe_code)]

pub mod moldudp64;
