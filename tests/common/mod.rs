//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod itch_gen;
pub mod pcap;
pub mod tshark;
