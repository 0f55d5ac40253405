//! L3 order books per symbol, driven by ITCH 5.0, preallocated.
#![forbid(unsafe_code)]
