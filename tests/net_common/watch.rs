//! A NIC wrapper that watches what floe transmits: ARP requests and IGMP
//! membership reports, counted per frame (test plumbing, not hot path).

use floe::nic::{Nic, NicError, NicStats};
use floe::time::Nanos;

/// Counts what passes through to `inner` on transmit.
pub struct Watch<N> {
    /// The wrapped NIC.
    pub inner: N,
    /// ARP requests sent.
    pub arp_requests: u64,
    /// ARP replies sent.
    pub arp_replies: u64,
    /// IGMPv2 membership reports sent.
    pub igmp_reports: u64,
    /// TCP segments carrying data sent.
    pub tcp_data_segments: u64,
}

impl<N: Nic> Watch<N> {
    /// Wraps `inner`.
    pub fn new(inner: N) -> Watch<N> {
        Watch {
            inner,
            arp_requests: 0,
            arp_replies: 0,
            igmp_reports: 0,
            tcp_data_segments: 0,
        }
    }
}

/// What one transmitted frame is, for [`Watch`].
fn inspect(f: &[u8], w: &mut (u64, u64, u64, u64)) {
    match f.get(12..14) {
        Some([0x08, 0x06]) => match f.get(20..22) {
            Some([0, 1]) => w.0 += 1,
            Some([0, 2]) => w.1 += 1,
            _ => {}
        },
        Some([0x08, 0x00]) => {
            let ihl = usize::from(f.get(14).copied().unwrap_or(0x45) & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([
                f.get(16).copied().unwrap_or(0),
                f.get(17).copied().unwrap_or(0),
            ]));
            match f.get(23) {
                Some(2) if f.get(14 + ihl) == Some(&0x16) => w.2 += 1,
                Some(6) => {
                    let doff = usize::from(f.get(14 + ihl + 12).copied().unwrap_or(0) >> 4) * 4;
                    if total > ihl + doff {
                        w.3 += 1;
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
}

impl<N: Nic> Nic for Watch<N> {
    fn rx_burst(
        &mut self,
        now: Nanos,
        budget: usize,
        on_frame: &mut dyn FnMut(&[u8], Nanos),
    ) -> usize {
        self.inner.rx_burst(now, budget, on_frame)
    }

    fn tx_frame(
        &mut self,
        max_len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<(), NicError> {
        let mut c = (0, 0, 0, 0);
        let r = self.inner.tx_frame(max_len, &mut |slot: &mut [u8]| {
            let n = fill(slot);
            if let Some(f) = slot.get(..n) {
                inspect(f, &mut c);
            }
            n
        });
        if r.is_ok() {
            self.arp_requests += c.0;
            self.arp_replies += c.1;
            self.igmp_reports += c.2;
            self.tcp_data_segments += c.3;
        }
        r
    }

    fn tx_flush(&mut self) -> Result<(), NicError> {
        self.inner.tx_flush()
    }

    fn mac(&self) -> [u8; 6] {
        self.inner.mac()
    }

    fn stats(&self) -> NicStats {
        self.inner.stats()
    }

    fn name(&self) -> &'static str {
        "watch"
    }
}
