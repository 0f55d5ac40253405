//! Zero-copy views and owned `Repr`s for every protocol floe speaks.
//!
//! Each view validates its length once in `new_checked`; afterwards no getter
//! can panic. Decoders return typed errors on any byte string; emitters write
//! into a caller's buffer and never allocate.
#![forbid(unsafe_code)]
