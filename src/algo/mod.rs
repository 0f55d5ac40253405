//! The iceberg state machine, the slice scheduler and pre-trade risk.
//!
//! - [`iceberg`]: parameters, the parent state machine and its quantity
//!   accounting (`filled + remaining + live == total` at every step);
//! - [`schedule`]: slice and delay draws from each parent's seeded PRNG;
//! - [`risk`]: the pre-trade checks and their typed refusals.
//!
//! Pure state and functions: no I/O, no clock, no allocation, no panics.
#![forbid(unsafe_code)]

pub mod iceberg;
pub mod risk;
pub mod schedule;

pub use iceberg::{
    AmendError, Iceberg, IcebergParams, IllegalTransition, ParamError, ParentState, StatusCode,
};
pub use risk::{RiskLimits, RiskRefusal, TokenBucket};
pub use schedule::SliceRng;
