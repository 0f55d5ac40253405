//! `NetStack` end to end: floe's smoltcp interface over a NIC backend, the
//! MoldUDP64 session and the SoupBinTCP client, against
//! - the kernel's own sockets in the venue namespace of a veth pair, floe on
//!   AF_PACKET (TPACKET V2 and V3) in the appliance namespace: multicast
//!   forwarded by a snooping bridge only after floe's IGMP report, with
//!   gaps, duplicates and reordering recovered by re-request; OUCH both ways
//!   over smoltcp TCP to kernel TCP; a venue restart with re-login at the
//!   right number; ARP resolution and, separately, a static neighbour;
//! - a second smoltcp interface on a memory pair (deterministic, no
//!   privileges), running the same venue logic.
//!
//! The veth tests need root and skip with a printed reason otherwise.

mod common;
mod net_common;

use floe::config::TpacketVersion;
use floe::nic::af_packet::{AfPacketConfig, AfPacketNic};
use floe::nic::veth::{self, HostOptions};
use floe::nic::Nic;
use net_common::kernel_venue::{bridge_venue, run_against_kernel, KernelVenue, ScenarioOptions};

fn af_packet_scenario(prefix: &str, version: TpacketVersion, static_neighbor: bool) {
    let Some(hosts) = common::hosts(prefix, HostOptions::default()) else {
        return;
    };
    bridge_venue(&hosts);
    let venue = KernelVenue::start(&hosts);
    let app = hosts.app_ns();
    let h = &hosts;
    // The AF_PACKET socket is opened in the appliance namespace; floe's
    // duty cycle runs on that thread too.
    std::thread::scope(|s| {
        s.spawn(move || {
            veth::enter_netns(&app).expect("enter the appliance namespace");
            let nic: Box<dyn Nic> = Box::new(
                AfPacketNic::open(&AfPacketConfig::new(veth::APP_IF).with_version(version))
                    .expect("open AF_PACKET on vfloe"),
            );
            run_against_kernel(h, venue, nic, ScenarioOptions { static_neighbor });
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    });
}

#[test]
fn af_packet_v2_against_kernel_peers_with_arp() {
    af_packet_scenario("fn2", TpacketVersion::V2, false);
}

#[test]
fn af_packet_v3_against_kernel_peers_with_arp() {
    af_packet_scenario("fn3", TpacketVersion::V3, false);
}

#[test]
fn af_packet_v2_against_kernel_peers_with_static_neighbor() {
    af_packet_scenario("fns", TpacketVersion::V2, true);
}

#[test]
fn memory_pair_against_smoltcp_venue_with_arp() {
    net_common::smol_venue::run_memory_scenario(false);
}

#[test]
fn memory_pair_against_smoltcp_venue_with_static_neighbor() {
    net_common::smol_venue::run_memory_scenario(true);
}
