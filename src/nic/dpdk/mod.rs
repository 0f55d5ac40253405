//! DPDK backend (cargo feature `dpdk`).
