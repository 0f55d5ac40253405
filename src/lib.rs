//! floe — a kernel-bypass execution appliance.
//!
//! Market data (NASDAQ TotalView-ITCH 5.0 in MoldUDP64 over UDP) and execution
//! reports (OUCH 4.2 / 5.0 over SoupBinTCP) come straight off a NIC; iceberg
//! parent orders run on a busy-polling engine pinned to its own core; every
//! state change is journaled to memory-mapped segments before it takes effect
//! outside.
//!
//! Modules are listed in data-flow order, from the wire to the control plane:
//!
//! | module | stage |
//! |---|---|
//! | [`nic`] | moves raw Ethernet frames (DPDK, AF_PACKET, memory; pcap and fault wrappers) |
//! | [`net`] | frame classifier, market-data fast path, smoltcp interface for ARP/IGMP/TCP |
//! | [`wire`] | zero-copy views and `Repr`s for MoldUDP64, ITCH 5.0, SoupBinTCP, OUCH 4.2/5.0 |
//! | [`feed`] | MoldUDP64 sequencing and re-request; ITCH → book operations |
//! | [`book`] | L3 order books, preallocated |
//! | [`algo`] | iceberg state machine, slice scheduler, pre-trade risk |
//! | [`order`] | SoupBinTCP client session and the dialect-neutral order-event model |
//! | [`engine`] | the sans-IO core and the pinned duty-cycle runtime |
//! | [`journal`] | append-only mmap journal and crash recovery |
//! | [`control`] | REST API and metrics on their own thread |
//! | [`exchange`] | the simulated venue used by the demo, tests and benchmarks |
//! | [`app`] | the venue, the appliance and the control plane in one process (`floe demo`, `floe bench`, end-to-end tests) |
//! | [`bench`](mod@bench) | the tick-to-trade benchmark behind `floe bench` |
//!
//! Crate-level invariants:
//! - decoders in [`wire`] never panic on any byte string and never allocate;
//! - after start-up the hot thread allocates nothing: every pool is sized from
//!   [`config::Config`];
//! - `unsafe` lives only in [`nic`], [`journal`] and [`pool`], each block with
//!   a `// SAFETY:` comment.

pub mod affinity;
pub mod config;
pub mod time;
pub mod types;

pub mod algo;
pub mod app;
pub mod bench;
pub mod book;
pub mod control;
pub mod engine;
pub mod exchange;
pub mod feed;
pub mod journal;
pub mod net;
pub mod nic;
pub mod order;
pub mod pool;
pub mod prefetch;
pub mod wire;
