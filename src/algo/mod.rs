//! The iceberg state machine, the slice scheduler and pre-trade risk.
#![forbid(unsafe_code)]
