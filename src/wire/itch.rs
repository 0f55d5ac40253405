//! NASDAQ TotalView-ITCH 5.0 (being written).
