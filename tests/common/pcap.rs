//! Writes Ethernet frames to a classic pcap file (via the `pcap-file` crate)
//! so that external dissectors such as tshark can read what floe built.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::DataLink;

/// Writes `frames` (whole Ethernet II frames, FCS excluded) to a new pcap file
/// at `path`, one millisecond apart.
pub fn write_pcap<F: AsRef<[u8]>>(path: &Path, frames: &[F]) -> std::io::Result<()> {
    let file = BufWriter::new(File::create(path)?);
    let header = PcapHeader {
        datalink: DataLink::ETHERNET,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(file, header).map_err(std::io::Error::other)?;
    for (i, f) in frames.iter().enumerate() {
        let data = f.as_ref();
        let ts = Duration::from_millis(1_000 + i as u64);
        w.write_packet(&PcapPacket::new(ts, data.len() as u32, data))
            .map_err(std::io::Error::other)?;
    }
    let mut file = w.into_writer();
    std::io::Write::flush(&mut file)
}

/// A pcap path in the temporary directory, unique to this process and `name`;
/// removed when dropped.
pub struct TempPcap(pub PathBuf);

impl TempPcap {
    /// A new path for `name`.
    pub fn new(name: &str) -> Self {
        TempPcap(std::env::temp_dir().join(format!("floe-{}-{name}.pcap", std::process::id())))
    }
}

impl Drop for TempPcap {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
