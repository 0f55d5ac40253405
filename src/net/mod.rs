//! Network layer: the frame classifier, the market-data fast path (smoltcp
//! `wire` views) and the smoltcp interface that owns floe's IP and MAC.
