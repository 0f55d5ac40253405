//! Shared pieces of the network-stack tests (`net_stack`, `dpdk_net`):
//! transport-free venue logic, floe's side of the duty cycle, the kernel
//! venue on veth, a smoltcp venue for the memory pair, a transmit watcher
//! and the final checks.
#![allow(dead_code)]

pub mod floe_side;
pub mod kernel_venue;
pub mod net_checks;
pub mod smol_venue;
pub mod venue;
pub mod watch;
