//! Raw bindings: bindgen's output over `shim.h` (an allowlist of DPDK's
//! control path plus the shim's fast-path wrappers). `rte_mbuf`,
//! `rte_mempool` and `rte_eth_dev_info` are opaque.
#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    dead_code,
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks
)]

include!(concat!(env!("OUT_DIR"), "/dpdk_bindings.rs"));
