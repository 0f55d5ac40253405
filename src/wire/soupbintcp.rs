//! SoupBinTCP 3.0 (being written).
