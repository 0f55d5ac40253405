//! OUCH 4.2 (being written).
