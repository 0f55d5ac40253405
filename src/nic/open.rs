//! Building the NIC a [`NicConfig`] names (cold path, start-up only).

use super::af_packet::{AfPacketConfig, AfPacketNic};
use super::memory::MemoryNic;
use super::pcap::{PcapConfig, PcapNic};
use super::{Nic, NicError};
use crate::config::{Config, NicBackend, NicConfig};
use std::net::{Ipv4Addr, SocketAddrV4};

/// What [`open`] needs beyond the `[nic]` section.
#[derive(Default)]
pub struct OpenOptions {
    /// Multicast MACs the backend must receive (market-data groups); see
    /// [`group_mac`].
    pub multicast: Vec<[u8; 6]>,
    /// For `backend = "memory"`: the end of a [`super::memory::pair`] to
    /// drive (the caller keeps the other end, e.g. for the simulated venue).
    pub memory_end: Option<MemoryNic>,
    /// Buffering of the pcap recorder when `nic.pcap` is set.
    pub pcap: PcapConfig,
}

/// The Ethernet multicast MAC of an IPv4 group: `01:00:5e` and the low 23
/// bits of the address.
pub fn group_mac(group: Ipv4Addr) -> [u8; 6] {
    crate::net::multicast_mac(group)
}

/// Opens the backend `cfg.backend` names, wrapped in a pcap recorder when
/// `cfg.pcap` is set.
///
/// - `memory`: a memory pair has two ends and only the caller knows who owns
///   the other, so the end to drive comes in [`OpenOptions::memory_end`];
///   without it this is a [`NicError::Setup`] error.
/// - `af_packet`: binds to `cfg.interface` with TPACKET `cfg.tpacket`,
///   `cfg.ring_frames` frames per ring, V3 block timeout
///   `cfg.tpacket_block_timeout_ms`, promiscuous, joined to
///   `opts.multicast`.
/// - `dpdk`: EAL from `cfg.dpdk_config`, port `cfg.dpdk_port`,
///   `cfg.dpdk_mbufs` mbufs, `cfg.ring_frames` descriptors per queue (cargo
///   feature `dpdk`; without it an error says so).
pub fn open(cfg: &NicConfig, opts: OpenOptions) -> Result<Box<dyn Nic>, NicError> {
    let OpenOptions {
        multicast,
        memory_end,
        pcap,
    } = opts;
    let nic: Box<dyn Nic> = match cfg.backend {
        NicBackend::Memory => Box::new(memory_end.ok_or_else(|| {
            NicError::Setup(
                "nic.backend = \"memory\" needs the end of a memory pair (OpenOptions::memory_end)"
                    .into(),
            )
        })?),
        NicBackend::AfPacket => {
            let mut c = AfPacketConfig::new(&cfg.interface).with_version(cfg.tpacket);
            c.ring_frames = cfg.ring_frames;
            c.block_timeout_ms = cfg.tpacket_block_timeout_ms;
            c.multicast = multicast;
            Box::new(AfPacketNic::open(&c)?)
        }
        NicBackend::Dpdk => open_dpdk(cfg)?,
    };
    match &cfg.pcap {
        Some(path) => Ok(Box::new(PcapNic::create(nic, path, pcap)?)),
        None => Ok(nic),
    }
}

#[cfg(feature = "dpdk")]
fn open_dpdk(cfg: &NicConfig) -> Result<Box<dyn Nic>, NicError> {
    Ok(Box::new(super::dpdk::DpdkNic::open_from_config(cfg)?))
}

#[cfg(not(feature = "dpdk"))]
fn open_dpdk(_cfg: &NicConfig) -> Result<Box<dyn Nic>, NicError> {
    Err(NicError::Setup(
        "nic.backend = \"dpdk\" needs floe built with `--features dpdk`".into(),
    ))
}

/// [`open`] for a whole configuration: the multicast MACs come from the
/// `feed.groups` that are multicast addresses.
pub fn open_from_config(
    cfg: &Config,
    memory_end: Option<MemoryNic>,
) -> Result<Box<dyn Nic>, NicError> {
    let multicast = feed_multicast(cfg);
    open(
        &cfg.nic,
        OpenOptions {
            multicast,
            memory_end,
            pcap: PcapConfig::default(),
        },
    )
}

/// The feed thread's own receive handle for split mode
/// (`engine.feed_core`), opened beside the hot thread's [`open_from_config`]
/// handle on the same interface (cold path, start-up only):
///
/// - `af_packet`: a second AF_PACKET socket and ring on `nic.interface`,
///   joined to the same multicast groups (the kernel hands every frame to
///   each packet socket);
/// - `memory`: `memory_end`, the third end of a
///   [`super::memory::fanout_with_macs`] pair (the caller made it);
/// - `dpdk`: refused, naming `engine.feed_core`.
///
/// It is never wrapped in the pcap recorder: the hot thread's handle sees
/// (and records) the same frames.
pub fn open_feed_from_config(
    cfg: &Config,
    memory_end: Option<MemoryNic>,
) -> Result<Box<dyn Nic>, NicError> {
    match cfg.nic.backend {
        NicBackend::Dpdk => Err(NicError::Setup(SPLIT_NEEDS.into())),
        _ => {
            let nic = NicConfig {
                pcap: None,
                ..cfg.nic.clone()
            };
            let multicast = feed_multicast(cfg);
            open(
                &nic,
                OpenOptions {
                    multicast,
                    memory_end,
                    pcap: PcapConfig::default(),
                },
            )
        }
    }
}

/// Why split mode refuses a backend.
pub(crate) const SPLIT_NEEDS: &str =
    "engine.feed_core: split mode needs nic.backend = \"af_packet\" or \"memory\" \
     (the dpdk backend has one rx queue)";

fn feed_multicast(cfg: &Config) -> Vec<[u8; 6]> {
    cfg.feed
        .groups
        .iter()
        .filter_map(|g| g.parse::<SocketAddrV4>().ok())
        .map(|a| *a.ip())
        .filter(Ipv4Addr::is_multicast)
        .map(group_mac)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nic::memory::pair;
    use crate::nic::send_copy;
    use crate::time::Nanos;

    #[test]
    fn group_macs() {
        assert_eq!(
            group_mac(Ipv4Addr::new(239, 198, 18, 1)),
            [0x01, 0x00, 0x5e, 0x46, 18, 1]
        );
        assert_eq!(
            group_mac(Ipv4Addr::new(224, 0, 0, 251)),
            [0x01, 0x00, 0x5e, 0, 0, 251]
        );
    }

    #[test]
    fn memory_needs_its_end_and_pcap_wraps() {
        let cfg = NicConfig::default();
        assert!(matches!(
            open(&cfg, OpenOptions::default()),
            Err(NicError::Setup(_))
        ));
        let dir = std::env::temp_dir().join(format!("floe-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("open.pcap");
        let cfg = NicConfig {
            pcap: Some(path.clone()),
            ..NicConfig::default()
        };
        let (a, mut b) = pair(8);
        let mut nic = open(
            &cfg,
            OpenOptions {
                memory_end: Some(a),
                ..OpenOptions::default()
            },
        )
        .unwrap();
        assert_eq!(nic.name(), "pcap");
        send_copy(nic.as_mut(), &[0xab; 60]).unwrap();
        nic.tx_flush().unwrap();
        assert_eq!(
            b.rx_burst(Nanos(1), 4, &mut |f, _| assert_eq!(f, &[0xab; 60])),
            1
        );
        drop(nic);
        // 24-byte file header + 16-byte record header + 60 bytes.
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 24 + 16 + 60);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(not(feature = "dpdk"))]
    #[test]
    fn dpdk_without_the_feature_says_so() {
        let cfg = NicConfig {
            backend: NicBackend::Dpdk,
            ..NicConfig::default()
        };
        match open(&cfg, OpenOptions::default()) {
            Err(NicError::Setup(m)) => assert!(m.contains("--features dpdk"), "{m}"),
            _ => panic!("expected a setup error"),
        }
    }
}
