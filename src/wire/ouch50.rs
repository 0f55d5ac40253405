//! OUCH 5.0 (being written).
