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

mod no_panic {
    //! Any bytes as received frames (mutations of ARP, TCP, UDP, IGMP
    //! frames to floe, and random bytes): `poll_rx`, `poll`, `recv_with`,
    //! `udp_recv` and `poll_delay` never panic, and the stack still
    //! transmits afterwards.
    use floe::net::NetStack;
    use floe::nic::memory::pair_with_macs;
    use floe::nic::veth::{FLOE_MAC, VENUE_MAC};
    use floe::nic::{send_copy, Nic};
    use floe::time::Nanos;
    use proptest::prelude::*;

    /// A frame of every kind the stack cares about, to mutate.
    fn seeds() -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        // ARP request for floe's address.
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&VENUE_MAC);
        arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
        arp.extend_from_slice(&VENUE_MAC);
        arp.extend_from_slice(&[198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 198, 18, 0, 2]);
        v.push(arp);
        // IPv4 headers for TCP to the order port, UDP to the request port
        // and to the group, IGMP to all-systems.
        for (proto, dst, dport) in [
            (6u8, [198, 18, 0, 2], 40000u16),
            (17, [198, 18, 0, 2], 26402),
            (17, [239, 198, 18, 1], 26400),
            (2, [224, 0, 0, 1], 0),
        ] {
            let mut f = if dst[0] >= 224 {
                vec![0x01, 0x00, 0x5e, dst[1] & 0x7f, dst[2], dst[3]]
            } else {
                FLOE_MAC.to_vec()
            };
            f.extend_from_slice(&VENUE_MAC);
            f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, proto, 0, 0]);
            f.extend_from_slice(&[198, 18, 0, 1]);
            f.extend_from_slice(&dst);
            f.extend_from_slice(&15000u16.to_be_bytes());
            f.extend_from_slice(&dport.to_be_bytes());
            f.extend((0..32).map(|i| i as u8));
            v.push(f);
        }
        v
    }

    fn frames() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let mutated = (
            0..5usize,
            proptest::collection::vec((0..100usize, any::<u8>()), 0..8),
            0..110usize,
        )
            .prop_map(|(k, edits, cut)| {
                let mut f = seeds()[k].clone();
                for (at, b) in edits {
                    let at = at % f.len();
                    if let Some(x) = f.get_mut(at) {
                        *x = b;
                    }
                }
                f.truncate(cut.max(1));
                f
            });
        let random = proptest::collection::vec(any::<u8>(), 0..200);
        proptest::collection::vec(prop_oneof![mutated, random], 1..40)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn any_frames_neither_panic_nor_wedge_the_stack(frames in frames()) {
            let cfg = crate::net_common::floe_side::config();
            let (mut a, mut b) = pair_with_macs(256, FLOE_MAC, VENUE_MAC);
            let mut now = Nanos::from_secs(1);
            let mut net = NetStack::new(&cfg, &mut a, now).unwrap();
            for f in &frames {
                send_copy(&mut b, f).unwrap();
            }
            b.tx_flush().unwrap();
            let mut market = 0;
            for _ in 0..4 {
                net.poll_rx(now, &mut a, 64, |_, p, _| market += p.len().min(1));
                net.poll(now, &mut a);
                net.recv_with(|d| d.len());
                net.udp_recv(|_, _| {});
                let _ = net.poll_delay(now);
                now = now + Nanos::from_ms(30);
            }
            // Still sending: an ARP request or SYN for the venue went out.
            let mut out = 0;
            b.rx_burst(now, 256, &mut |_, _| out += 1);
            prop_assert!(out > 0);
        }
    }
}
