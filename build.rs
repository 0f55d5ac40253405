//! Build script: with the `dpdk` feature, binds the system's libdpdk (see
//! src/nic/dpdk/). Without it, does nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
