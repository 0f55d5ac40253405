//! Build script: with the `dpdk` feature, binds the system's libdpdk (see
//! src/nic/dpdk/). Without it, does nothing.
//!
//! With the feature: `pkg-config --cflags libdpdk` is read raw (it carries
//! `-include rte_config.h` and `-march=...`, which the `pkg_config` crate
//! does not expose) and passed to both `cc` (the C shim for DPDK's
//! static-inline fast path) and `bindgen` (the allowlisted control-path API);
//! the `pkg_config` crate emits the link lines.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "dpdk")]
    dpdk::build();
}

#[cfg(feature = "dpdk")]
mod dpdk {
    use std::path::PathBuf;
    use std::process::Command;

    const SHIM: &str = "src/nic/dpdk/shim.c";
    const HEADER: &str = "src/nic/dpdk/shim.h";

    fn fail(msg: &str) -> ! {
        panic!(
            "feature `dpdk`: {msg}\n(install libdpdk-dev, dpdk-dev, clang, libclang-dev and pkg-config: \
             apt-get install dpdk libdpdk-dev dpdk-dev clang libclang-dev pkg-config)"
        )
    }

    fn raw_cflags() -> Vec<String> {
        let out = Command::new("pkg-config")
            .args(["--cflags", "libdpdk"])
            .output()
            .unwrap_or_else(|e| fail(&format!("cannot run pkg-config: {e}")));
        if !out.status.success() {
            fail(&format!(
                "pkg-config --cflags libdpdk failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // `-include rte_config.h` is two words that belong together.
        let mut flags = Vec::new();
        let mut words = text.split_whitespace();
        while let Some(w) = words.next() {
            if w == "-include" {
                if let Some(file) = words.next() {
                    flags.push(w.to_string());
                    flags.push(file.to_string());
                }
            } else {
                flags.push(w.to_string());
            }
        }
        flags
    }

    pub fn build() {
        println!("cargo:rerun-if-changed={SHIM}");
        println!("cargo:rerun-if-changed={HEADER}");
        println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
        let lib = pkg_config::Config::new()
            .atleast_version("21.11")
            .probe("libdpdk")
            .unwrap_or_else(|e| fail(&format!("libdpdk not found by pkg-config: {e}")));
        let cflags = raw_cflags();

        let mut cc = cc::Build::new();
        cc.file(SHIM).opt_level(3).warnings(true);
        for f in &cflags {
            cc.flag(f);
        }
        cc.compile("floe_dpdk_shim");

        let mut bg = bindgen::Builder::default()
            .header(HEADER)
            .clang_args(&cflags)
            .use_core()
            .layout_tests(false)
            .derive_default(true)
            .generate_comments(false)
            .prepend_enum_name(false)
            .opaque_type("rte_mbuf")
            .opaque_type("rte_mempool")
            .opaque_type("rte_eth_dev_info")
            .allowlist_type("rte_eth_conf")
            .allowlist_type("rte_eth_stats")
            .allowlist_type("rte_ether_addr")
            .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
        for f in [
            "rte_eal_init",
            "rte_eal_cleanup",
            "rte_eth_dev_count_avail",
            "rte_eth_dev_is_valid_port",
            "rte_eth_dev_get_port_by_name",
            "rte_eth_dev_get_name_by_port",
            "rte_eth_dev_configure",
            "rte_eth_dev_adjust_nb_rx_tx_desc",
            "rte_eth_rx_queue_setup",
            "rte_eth_tx_queue_setup",
            "rte_eth_dev_start",
            "rte_eth_dev_stop",
            "rte_eth_dev_close",
            "rte_eth_macaddr_get",
            "rte_eth_dev_socket_id",
            "rte_eth_promiscuous_enable",
            "rte_eth_allmulticast_enable",
            "rte_eth_stats_get",
            "rte_pktmbuf_pool_create",
            "rte_mempool_free",
            "rte_strerror",
            "floe_rte_.*",
        ] {
            bg = bg.allowlist_function(f);
        }
        let _ = &lib;
        let bindings = bg
            .generate()
            .unwrap_or_else(|e| fail(&format!("bindgen over {HEADER} failed: {e}")));
        let out =
            PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("dpdk_bindings.rs");
        bindings
            .write_to_file(&out)
            .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", out.display())));
    }
}
