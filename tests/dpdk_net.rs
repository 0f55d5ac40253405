//! `NetStack` over DPDK: the `net_af_packet` vdev on the appliance end of a
//! veth pair, against the kernel venue of `tests/net_stack.rs` (MoldUDP64
//! with gaps, duplicates and reordering plus re-requests; SoupBinTCP/OUCH
//! both ways over smoltcp TCP to kernel TCP; a venue restart; ARP and IGMP
//! as the kernel sees them).
//!
//! One EAL per process: this binary has its own small harness, initialises
//! the EAL from `dpdk-config/af_packet-vdev.conf` in the appliance namespace
//! (the vdev opens its socket there) and runs its scenario in sequence.
//! Needs root (namespaces, CAP_NET_ADMIN for net_af_packet); skips with a
//! printed reason otherwise.

mod common;
mod net_common;

use floe::nic::dpdk::{parse_eal_args, with_file_prefix, DpdkNic, DpdkPortConfig, Eal};
use floe::nic::veth::{self, HostOptions, TestHosts};
use floe::nic::Nic;
use net_common::kernel_venue::{bridge_venue, run_against_kernel, KernelVenue, ScenarioOptions};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::Instant;

fn net_stack_over_af_packet_vdev(eal: &'static Eal, hosts: &TestHosts) {
    bridge_venue(hosts);
    let venue = KernelVenue::start(hosts);
    let app = hosts.app_ns();
    std::thread::scope(|s| {
        s.spawn(move || {
            // net_af_packet's control calls are ioctls by interface name:
            // open and run the port in vfloe's namespace.
            veth::enter_netns(&app).expect("enter the appliance namespace");
            let id = eal
                .port_by_name("net_af_packet0")
                .expect("the af_packet vdev");
            let mut pc = DpdkPortConfig::new(id);
            pc.mbufs = 2047;
            pc.rx_desc = 512;
            pc.tx_desc = 512;
            let nic: Box<dyn Nic> =
                Box::new(DpdkNic::open(eal, &pc).unwrap_or_else(|e| panic!("open the port: {e}")));
            run_against_kernel(
                hosts,
                venue,
                nic,
                ScenarioOptions {
                    static_neighbor: false,
                },
            );
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e));
    });
}

type Scenario = fn(&'static Eal, &TestHosts);

fn main() {
    let scenarios: [(&str, Scenario); 1] = [(
        "dpdk_net::net_stack_over_af_packet_vdev_against_kernel_peers",
        net_stack_over_af_packet_vdev,
    )];
    println!("\nrunning {} tests", scenarios.len());
    if !veth::is_root() {
        eprintln!("skipped: the DPDK network-stack test needs root (namespaces, CAP_NET_ADMIN for net_af_packet)");
        println!(
            "test result: ok. 0 passed; 0 failed; {} ignored",
            scenarios.len()
        );
        return;
    }
    let hosts = TestHosts::unique("fdn", HostOptions::default()).expect("create test hosts");
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("dpdk-config/af_packet-vdev.conf");
    let args = with_file_prefix(parse_eal_args(
        &std::fs::read_to_string(&conf).expect("read the vdev config"),
    ));
    let eal = veth::run_in_netns(&hosts.app_ns(), move || Eal::init(args))
        .expect("enter the app namespace")
        .unwrap_or_else(|e| panic!("EAL init: {e}"));

    let (mut passed, mut failed) = (0, 0);
    for (name, run) in scenarios {
        let started = Instant::now();
        match std::panic::catch_unwind(AssertUnwindSafe(|| run(eal, &hosts))) {
            Ok(()) => {
                passed += 1;
                println!("test {name} ... ok ({:.2?})", started.elapsed());
            }
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED");
            }
        }
    }
    drop(hosts);
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    println!("\ntest result: {verdict}. {passed} passed; {failed} failed; 0 ignored");
    if failed > 0 {
        std::process::exit(1);
    }
}
