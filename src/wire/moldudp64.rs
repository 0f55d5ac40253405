//! MoldUDP64 (being written).
