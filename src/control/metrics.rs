//! Metrics: counters and latency histograms the hot thread updates without
//! locks, and their Prometheus (OpenMetrics text) exposition.
//!
//! Hot side: every [`Counter`] and every [`LatencyHistogram`] bucket is an
//! `AtomicU64` with exactly one writer thread, which updates it with a
//! relaxed load and a relaxed store (no read-modify-write, no lock, no
//! allocation, no syscall). The control thread reads them with relaxed loads
//! when `/metrics` is scraped, so a scrape may see a histogram's sum a few
//! samples behind its buckets; every value is monotonic. Counters written by
//! more than one thread must use [`Counter::add_shared`] instead.
//!
//! The groups (NIC, feed, orders, journal) sit on separate cache lines so
//! that the feed thread of split mode and the engine thread never share one.
//!
//! Control side: [`Exporter`] renders [`HotCounters`] together with the
//! control plane's own counters through `prometheus-client`.

use crate::algo::RiskRefusal;
use crate::order::DialectError;
use crossbeam::utils::CachePadded;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter as PromCounter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// A monotonic counter with a single writer thread.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// A zero counter.
    pub const fn new() -> Counter {
        Counter(AtomicU64::new(0))
    }

    /// Adds one. Single writer only.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n` with a relaxed load and store: correct when one thread writes.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    /// Adds `n` atomically (`fetch_add`): for counters several threads write.
    #[inline]
    pub fn add_shared(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }

    /// The current value.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// NIC queues counted separately; frames on a higher queue number count on
/// the last one.
pub const NIC_QUEUES: usize = 8;

/// Frames moved by the NIC, per queue.
#[derive(Debug, Default)]
pub struct NicCounters {
    /// Frames received, per rx queue.
    pub rx_frames: [Counter; NIC_QUEUES],
    /// Frames transmitted, per tx queue.
    pub tx_frames: [Counter; NIC_QUEUES],
}

impl NicCounters {
    /// Counts `n` frames received on `queue`.
    #[inline]
    pub fn rx(&self, queue: usize, n: u64) {
        self.rx_frames[queue.min(NIC_QUEUES - 1)].add(n);
    }

    /// Counts `n` frames sent on `queue`.
    #[inline]
    pub fn tx(&self, queue: usize, n: u64) {
        self.tx_frames[queue.min(NIC_QUEUES - 1)].add(n);
    }
}

/// The kinds of [`crate::wire::Error`], as metric label values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// Fewer bytes than required.
    Truncated,
    /// A length field disagrees with the bytes.
    BadLength,
    /// Unknown message type.
    UnknownType,
    /// A checked enumeration out of specification.
    BadValue,
    /// Non-ASCII alpha field.
    BadAscii,
    /// Checksum failure.
    BadChecksum,
    /// Output buffer too small.
    BufferTooSmall,
    /// A value outside its wire field.
    OutOfRange,
}

impl DecodeErrorKind {
    /// Every kind, in label order.
    pub const ALL: [DecodeErrorKind; 8] = [
        DecodeErrorKind::Truncated,
        DecodeErrorKind::BadLength,
        DecodeErrorKind::UnknownType,
        DecodeErrorKind::BadValue,
        DecodeErrorKind::BadAscii,
        DecodeErrorKind::BadChecksum,
        DecodeErrorKind::BufferTooSmall,
        DecodeErrorKind::OutOfRange,
    ];

    /// The label value.
    pub const fn label(self) -> &'static str {
        match self {
            DecodeErrorKind::Truncated => "truncated",
            DecodeErrorKind::BadLength => "bad_length",
            DecodeErrorKind::UnknownType => "unknown_type",
            DecodeErrorKind::BadValue => "bad_value",
            DecodeErrorKind::BadAscii => "bad_ascii",
            DecodeErrorKind::BadChecksum => "bad_checksum",
            DecodeErrorKind::BufferTooSmall => "buffer_too_small",
            DecodeErrorKind::OutOfRange => "out_of_range",
        }
    }

    /// The kind of a wire error.
    pub const fn of(e: &crate::wire::Error) -> DecodeErrorKind {
        use crate::wire::Error as E;
        match e {
            E::Truncated { .. } => DecodeErrorKind::Truncated,
            E::BadLength(_) => DecodeErrorKind::BadLength,
            E::UnknownType(_) => DecodeErrorKind::UnknownType,
            E::BadValue { .. } => DecodeErrorKind::BadValue,
            E::BadAscii(_) => DecodeErrorKind::BadAscii,
            E::BadChecksum(_) => DecodeErrorKind::BadChecksum,
            E::BufferTooSmall { .. } => DecodeErrorKind::BufferTooSmall,
            E::OutOfRange(_) => DecodeErrorKind::OutOfRange,
        }
    }
}

/// Market-data counters.
#[derive(Debug, Default)]
pub struct FeedCounters {
    /// Decoder refusals, indexed by [`DecodeErrorKind`] order.
    pub decode_errors: [Counter; 8],
    /// MoldUDP64 sequence gaps detected.
    pub mold_gaps: Counter,
    /// MoldUDP64 re-request packets sent.
    pub mold_rerequests: Counter,
    /// MoldUDP64 re-request packets the UDP socket refused (the session
    /// asks again after its request timeout).
    pub mold_rerequest_failures: Counter,
    /// Split mode: times the feed thread found the quote ring to the hot
    /// thread full and waited (back-pressure; nothing is dropped).
    pub ring_waits: Counter,
    /// MoldUDP64 packets that did not parse (or whose blocks ran past the
    /// packet).
    pub mold_malformed: Counter,
    /// Market-data messages applied to books.
    pub messages: Counter,
}

impl FeedCounters {
    /// Counts one decoder refusal.
    #[inline]
    pub fn decode_error(&self, e: &crate::wire::Error) {
        self.decode_errors[DecodeErrorKind::of(e) as usize].inc();
    }
}

/// The kinds of [`DialectError`] (venue reports that did not decode), as
/// metric label values, in [`ouch_kind`] order.
pub const OUCH_DECODE_KINDS: [&str; 7] = [
    "truncated",
    "unknown_type",
    "bad_value",
    "foreign_id",
    "buffer_too_small",
    "out_of_range",
    "malformed",
];

/// The index in [`OUCH_DECODE_KINDS`] of a dialect error.
pub const fn ouch_kind(e: &DialectError) -> usize {
    match e {
        DialectError::Truncated { .. } => 0,
        DialectError::UnknownType(_) => 1,
        DialectError::BadValue { .. } => 2,
        DialectError::ForeignId => 3,
        DialectError::BufferTooSmall { .. } => 4,
        DialectError::OutOfRange { .. } => 5,
        DialectError::Malformed { .. } => 6,
    }
}

/// The label of a risk refusal (`max_parent_notional`, …).
pub fn risk_label(r: RiskRefusal) -> String {
    r.name().to_ascii_lowercase()
}

/// Distinct venue reject codes counted separately; later codes count as "other".
pub const REJECT_CODES: usize = 32;

/// Venue rejects by reason code: a fixed table of (code, count) slots filled
/// in first-seen order by the single writer, plus an overflow counter.
#[derive(Debug, Default)]
pub struct RejectCounters {
    /// `code + 1` of each slot; 0 marks a free slot.
    codes: [AtomicU32; REJECT_CODES],
    counts: [Counter; REJECT_CODES],
    other: Counter,
}

impl RejectCounters {
    /// Counts one reject with the venue's reason `code`. Single writer.
    #[inline]
    pub fn record(&self, code: u16) {
        let tag = u32::from(code) + 1;
        for (slot, count) in self.codes.iter().zip(&self.counts) {
            let c = slot.load(Relaxed);
            if c == tag {
                count.inc();
                return;
            }
            if c == 0 {
                count.inc();
                // Release: a reader that sees the code sees its first count.
                slot.store(tag, std::sync::atomic::Ordering::Release);
                return;
            }
        }
        self.other.inc();
    }

    /// `(code, count)` for every code seen, then the overflow count.
    pub fn snapshot(&self) -> (Vec<(u16, u64)>, u64) {
        let mut out = Vec::new();
        for (slot, count) in self.codes.iter().zip(&self.counts) {
            let c = slot.load(std::sync::atomic::Ordering::Acquire);
            if c == 0 {
                break;
            }
            out.push(((c - 1) as u16, count.get()));
        }
        (out, self.other.get())
    }
}

/// Order-path counters.
#[derive(Debug, Default)]
pub struct OrderCounters {
    /// Child orders sent to the venue.
    pub sent: Counter,
    /// Executions received.
    pub fills: Counter,
    /// Venue rejects, by reason code.
    pub rejects: RejectCounters,
    /// Risk refusals, indexed like [`RiskRefusal::ALL`]: parents refused
    /// at creation or amendment, and each time a parent starts waiting on a
    /// check for its next child.
    pub risk_refusals: [Counter; RiskRefusal::ALL.len()],
    /// Venue reports that did not decode, indexed like [`OUCH_DECODE_KINDS`].
    pub decode_errors: [Counter; OUCH_DECODE_KINDS.len()],
}

impl OrderCounters {
    /// Counts one venue report that did not decode.
    #[inline]
    pub fn decode_error(&self, e: &DialectError) {
        if let Some(c) = self.decode_errors.get(ouch_kind(e)) {
            c.inc();
        }
    }

    /// Counts one risk refusal.
    #[inline]
    pub fn risk_refused(&self, r: RiskRefusal) {
        // Codes run from 1 to ALL.len().
        if let Some(c) = self
            .risk_refusals
            .get(usize::from(r.code()).wrapping_sub(1))
        {
            c.inc();
        }
    }
}

/// Journal counters.
#[derive(Debug, Default)]
pub struct JournalCounters {
    /// Records appended.
    pub records: Counter,
    /// Bytes appended (headers included).
    pub bytes: Counter,
    /// Append latency.
    pub append_ns: LatencyHistogram,
}

/// Every counter and histogram the hot threads update. Share it with
/// `Arc<HotCounters>`: the hot threads write, the control thread reads.
#[derive(Debug, Default)]
pub struct HotCounters {
    /// NIC frames (written by the thread polling the NIC).
    pub nic: CachePadded<NicCounters>,
    /// Market data (written by the feed handler's thread).
    pub feed: CachePadded<FeedCounters>,
    /// Orders and risk (written by the engine thread).
    pub orders: CachePadded<OrderCounters>,
    /// Journal (written by the engine thread).
    pub journal: CachePadded<JournalCounters>,
    /// Tick-to-trade: frame receive timestamp to the child order's tx, ns.
    pub tick_to_trade_ns: CachePadded<LatencyHistogram>,
}

impl HotCounters {
    /// All zero.
    pub fn new() -> HotCounters {
        HotCounters::default()
    }
}

/// Linear sub-buckets per power of two (2 bits: ≤ 25 % relative error).
const SUB_BITS: u32 = 2;
const SUB: usize = 1 << SUB_BITS;
/// Largest octave tracked: values at or above 2^MAX_OCTAVE ns land in the
/// overflow bucket (2^36 ns ≈ 69 s).
const MAX_OCTAVE: u32 = 36;
/// Buckets: values below `SUB` exactly, then `SUB` per octave, then overflow.
pub const HISTOGRAM_BUCKETS: usize = SUB + (MAX_OCTAVE - SUB_BITS) as usize * SUB + 1;

/// A log-linear latency histogram in nanoseconds with one writer thread:
/// values below 4 ns have their own bucket, each power of two above is split
/// into 4 linear buckets, and everything from 2^36 ns up is one overflow
/// bucket. Recording is a bucket index computation plus two relaxed
/// load/store pairs: no allocation, no lock, no read-modify-write.
#[derive(Debug)]
pub struct LatencyHistogram {
    buckets: [AtomicU64; HISTOGRAM_BUCKETS],
    sum_ns: AtomicU64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }
}

/// The bucket of a value (ns).
#[inline]
pub const fn bucket_of(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let octave = 63 - v.leading_zeros();
    if octave >= MAX_OCTAVE {
        return HISTOGRAM_BUCKETS - 1;
    }
    let sub = ((v >> (octave - SUB_BITS)) as usize) & (SUB - 1);
    SUB + (octave - SUB_BITS) as usize * SUB + sub
}

/// The largest value (ns) that lands in bucket `i`; `u64::MAX` for the
/// overflow bucket.
pub const fn bucket_upper_ns(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    if i >= HISTOGRAM_BUCKETS - 1 {
        return u64::MAX;
    }
    let k = i - SUB;
    let octave = (k / SUB) as u32 + SUB_BITS;
    let sub = (k % SUB) as u64;
    ((SUB as u64 + sub + 1) << (octave - SUB_BITS)) - 1
}

impl LatencyHistogram {
    /// Records one value in nanoseconds. Single writer.
    #[inline]
    pub fn record(&self, ns: u64) {
        // bucket_of never exceeds HISTOGRAM_BUCKETS - 1.
        if let Some(b) = self.buckets.get(bucket_of(ns)) {
            b.store(b.load(Relaxed).wrapping_add(1), Relaxed);
        }
        self.sum_ns
            .store(self.sum_ns.load(Relaxed).wrapping_add(ns), Relaxed);
    }

    /// A copy of the current counts (control side; allocates).
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            buckets: self.buckets.iter().map(|b| b.load(Relaxed)).collect(),
            sum_ns: self.sum_ns.load(Relaxed),
        }
    }
}

/// A point-in-time copy of a [`LatencyHistogram`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistogramSnapshot {
    /// Count per bucket (see [`bucket_upper_ns`]).
    pub buckets: Vec<u64>,
    /// Sum of the recorded values, ns.
    pub sum_ns: u64,
}

impl HistogramSnapshot {
    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound (ns) of the bucket holding quantile `q` in [0, 1];
    /// `None` when empty.
    pub fn quantile_upper_ns(&self, q: f64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(bucket_upper_ns(i));
            }
        }
        Some(u64::MAX)
    }

    /// Prometheus buckets (upper bound in seconds, count in that range, not
    /// cumulative) at power-of-two boundaries from 16 ns to 2^36 ns, then
    /// `+Inf` (`f64::MAX`). Each is a union of whole fine buckets, so the
    /// counts are exact.
    pub fn prometheus_buckets(&self) -> Vec<(f64, u64)> {
        let mut out = Vec::with_capacity(MAX_OCTAVE as usize);
        let mut acc = 0u64;
        for (i, &c) in self.buckets.iter().enumerate() {
            acc += c;
            let upper = bucket_upper_ns(i);
            let octave_end = upper != u64::MAX && upper.wrapping_add(1).is_power_of_two();
            if (octave_end && upper >= 15) || i == HISTOGRAM_BUCKETS - 1 {
                let le = if upper == u64::MAX {
                    f64::MAX
                } else {
                    upper as f64 / 1e9
                };
                out.push((le, acc));
                acc = 0;
            }
        }
        out
    }
}

/// Counters of the control plane itself (control thread only).
#[derive(Debug, Default)]
pub struct ControlCounters {
    /// Responses by status code.
    pub responses: Family<Vec<(String, String)>, PromCounter>,
    /// Requests refused by authentication, by error code.
    pub auth_refusals: Family<Vec<(String, String)>, PromCounter>,
    /// Commands the engine's queue could not take.
    pub engine_busy: PromCounter,
    /// Commands whose reply did not come in time.
    pub reply_timeouts: PromCounter,
    /// Commands waiting for their reply.
    pub inflight: Gauge,
}

impl ControlCounters {
    /// Counts one response.
    pub fn response(&self, status: u16) {
        self.responses
            .get_or_create(&vec![("code".to_string(), status.to_string())])
            .inc();
    }

    /// Counts one authentication refusal.
    pub fn auth_refused(&self, code: &str) {
        self.auth_refusals
            .get_or_create(&vec![("code".to_string(), code.to_string())])
            .inc();
    }
}

/// Exposes [`HotCounters`] on each scrape.
#[derive(Debug)]
struct HotCollector {
    hot: Arc<HotCounters>,
    gateway: Option<crate::control::gateway::GatewayStats>,
}

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    let m = enc.encode_descriptor(name, help, None, c.metric_type())?;
    c.encode(m)
}

fn labelled_counters(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    values: impl IntoIterator<Item = (String, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut fam = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (l, v) in values {
        let labels = [(label, l.as_str())];
        let m = fam.encode_family(&labels)?;
        ConstCounter::new(v).encode(m)?;
    }
    Ok(())
}

fn histogram(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    h: &LatencyHistogram,
) -> Result<(), std::fmt::Error> {
    let s = h.snapshot();
    let mut m = enc.encode_descriptor(name, help, None, MetricType::Histogram)?;
    m.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
        s.sum_ns as f64 / 1e9,
        s.count(),
        &s.prometheus_buckets(),
        None,
    )
}

impl Collector for HotCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let h = &self.hot;
        let queues = |c: &[Counter; NIC_QUEUES]| {
            c.iter()
                .enumerate()
                .map(|(q, c)| (q.to_string(), c.get()))
                .collect::<Vec<_>>()
        };
        labelled_counters(
            &mut enc,
            "floe_nic_rx_frames",
            "Frames received, per NIC queue.",
            "queue",
            queues(&h.nic.rx_frames),
        )?;
        labelled_counters(
            &mut enc,
            "floe_nic_tx_frames",
            "Frames transmitted, per NIC queue.",
            "queue",
            queues(&h.nic.tx_frames),
        )?;
        {
            let mut fam = enc.encode_descriptor(
                "floe_decode_errors",
                "Frames or messages a decoder refused, by protocol and kind.",
                None,
                MetricType::Counter,
            )?;
            let itch = DecodeErrorKind::ALL
                .iter()
                .map(|k| ("itch", k.label(), h.feed.decode_errors[*k as usize].get()));
            let mold = std::iter::once(("moldudp64", "malformed", h.feed.mold_malformed.get()));
            let ouch = OUCH_DECODE_KINDS
                .iter()
                .zip(h.orders.decode_errors.iter())
                .map(|(k, c)| ("ouch", *k, c.get()));
            for (protocol, kind, v) in itch.chain(mold).chain(ouch) {
                let labels = [("protocol", protocol), ("kind", kind)];
                ConstCounter::new(v).encode(fam.encode_family(&labels)?)?;
            }
        }
        counter(
            &mut enc,
            "floe_moldudp64_gaps",
            "MoldUDP64 sequence gaps detected.",
            h.feed.mold_gaps.get(),
        )?;
        counter(
            &mut enc,
            "floe_moldudp64_rerequests",
            "MoldUDP64 re-request packets sent.",
            h.feed.mold_rerequests.get(),
        )?;
        counter(
            &mut enc,
            "floe_moldudp64_rerequest_failures",
            "MoldUDP64 re-request packets the UDP socket refused.",
            h.feed.mold_rerequest_failures.get(),
        )?;
        counter(
            &mut enc,
            "floe_feed_ring_waits",
            "Split mode: times the feed thread waited for room on the quote ring.",
            h.feed.ring_waits.get(),
        )?;
        counter(
            &mut enc,
            "floe_md_messages",
            "Market-data messages applied to books.",
            h.feed.messages.get(),
        )?;
        counter(
            &mut enc,
            "floe_orders_sent",
            "Child orders sent to the venue.",
            h.orders.sent.get(),
        )?;
        counter(
            &mut enc,
            "floe_fills",
            "Executions received from the venue.",
            h.orders.fills.get(),
        )?;
        let (codes, other) = h.orders.rejects.snapshot();
        labelled_counters(
            &mut enc,
            "floe_rejects",
            "Orders the venue rejected, by reason code.",
            "reason",
            codes
                .into_iter()
                .map(|(c, n)| (c.to_string(), n))
                .chain(std::iter::once(("other".to_string(), other))),
        )?;
        labelled_counters(
            &mut enc,
            "floe_risk_refusals",
            "Orders refused by pre-trade risk, by check.",
            "check",
            RiskRefusal::ALL
                .iter()
                .zip(h.orders.risk_refusals.iter())
                .map(|(r, c)| (risk_label(*r), c.get())),
        )?;
        counter(
            &mut enc,
            "floe_journal_records",
            "Journal records appended.",
            h.journal.records.get(),
        )?;
        counter(
            &mut enc,
            "floe_journal_bytes",
            "Journal bytes appended.",
            h.journal.bytes.get(),
        )?;
        histogram(
            &mut enc,
            "floe_tick_to_trade_seconds",
            "Frame receive to child order transmit.",
            &h.tick_to_trade_ns,
        )?;
        histogram(
            &mut enc,
            "floe_journal_append_seconds",
            "Journal append latency.",
            &h.journal.append_ns,
        )?;
        if let Some(g) = &self.gateway {
            let ready = ConstGauge::new(i64::from(g.ready()));
            let m = enc.encode_descriptor(
                "floe_engine_ready",
                "1 when the engine drains commands.",
                None,
                ready.metric_type(),
            )?;
            ready.encode(m)?;
            counter(
                &mut enc,
                "floe_gateway_status_dropped",
                "Status updates lost because the gateway backlog was full.",
                g.status_dropped(),
            )?;
            counter(
                &mut enc,
                "floe_gateway_replies_dropped",
                "Replies lost because the gateway backlog was full.",
                g.replies_dropped(),
            )?;
        }
        Ok(())
    }
}

/// Renders the `/metrics` page.
#[derive(Debug)]
pub struct Exporter {
    registry: Registry,
    /// The control plane's own counters.
    pub control: Arc<ControlCounters>,
}

impl Exporter {
    /// Builds the registry over the hot counters, the gateway's statistics
    /// (when given) and the control plane's counters.
    pub fn new(
        hot: Arc<HotCounters>,
        gateway: Option<crate::control::gateway::GatewayStats>,
    ) -> Exporter {
        let control = Arc::new(ControlCounters::default());
        let mut registry = Registry::default();
        registry.register_collector(Box::new(HotCollector { hot, gateway }));
        registry.register(
            "floe_http_responses",
            "HTTP responses by status code",
            control.responses.clone(),
        );
        registry.register(
            "floe_auth_refusals",
            "Requests refused by authentication, by error code",
            control.auth_refusals.clone(),
        );
        registry.register(
            "floe_engine_busy",
            "Commands refused because the engine's queue was full",
            control.engine_busy.clone(),
        );
        registry.register(
            "floe_reply_timeouts",
            "Commands whose reply did not arrive in time",
            control.reply_timeouts.clone(),
        );
        registry.register(
            "floe_commands_inflight",
            "Commands waiting for the engine's reply",
            control.inflight.clone(),
        );
        Exporter { registry, control }
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The content type of [`Exporter::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_value_in_order() {
        // Every value lands in a bucket whose upper bound is >= the value and
        // whose predecessor's upper bound is < the value.
        let mut v = 0u64;
        while v < 1 << 40 {
            let b = bucket_of(v);
            assert!(bucket_upper_ns(b) >= v, "v={v} b={b}");
            if b > 0 {
                assert!(bucket_upper_ns(b - 1) < v, "v={v} b={b}");
            }
            v = v * 9 / 8 + 1;
        }
        assert_eq!(bucket_of(u64::MAX), HISTOGRAM_BUCKETS - 1);
        for i in 0..HISTOGRAM_BUCKETS - 1 {
            assert_eq!(bucket_of(bucket_upper_ns(i)), i);
            assert_eq!(bucket_of(bucket_upper_ns(i) + 1), i + 1);
        }
    }

    #[test]
    fn relative_error_is_at_most_a_quarter() {
        for v in [5u64, 17, 100, 999, 12_345, 1_000_000, 3_333_333_333] {
            let upper = bucket_upper_ns(bucket_of(v));
            assert!((upper - v) as f64 <= v as f64 * 0.25, "v={v} upper={upper}");
        }
    }

    #[test]
    fn snapshot_counts_and_quantiles() {
        let h = LatencyHistogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1000);
        }
        let s = h.snapshot();
        assert_eq!(s.count(), 1000);
        assert_eq!(s.sum_ns, 1000 * 1001 / 2 * 1000);
        let p50 = s.quantile_upper_ns(0.5).unwrap();
        assert!((500_000..=625_000).contains(&p50), "{p50}");
        let p99 = s.quantile_upper_ns(0.99).unwrap();
        assert!((990_000..=1_250_000).contains(&p99), "{p99}");
        let prom = s.prometheus_buckets();
        assert_eq!(prom.iter().map(|b| b.1).sum::<u64>(), 1000);
        assert_eq!(prom.last().unwrap().0, f64::MAX);
        assert!(prom.windows(2).all(|w| w[0].0 < w[1].0));
        // 2^10 - 1 ns = 1.023 µs: exactly the values 1000 ns.
        let le_1023 = prom.iter().find(|b| b.0 == 1023.0 / 1e9).unwrap();
        assert_eq!(le_1023.1, 1);
        assert!(LatencyHistogram::default()
            .snapshot()
            .quantile_upper_ns(0.5)
            .is_none());
    }

    #[test]
    fn reject_table_counts_codes_and_overflows() {
        let r = RejectCounters::default();
        for code in 0..(REJECT_CODES as u16 + 3) {
            r.record(code);
            r.record(code);
        }
        r.record(7);
        let (codes, other) = r.snapshot();
        assert_eq!(codes.len(), REJECT_CODES);
        assert_eq!(codes[7], (7, 3));
        assert_eq!(codes[0], (0, 2));
        assert_eq!(other, 6);
    }

    #[test]
    fn exposition_has_every_family() {
        let hot = Arc::new(HotCounters::new());
        hot.nic.rx(1, 5);
        hot.nic.tx(99, 2);
        hot.feed.decode_error(&crate::wire::Error::BadChecksum("x"));
        hot.feed.mold_gaps.inc();
        hot.feed.mold_malformed.add(2);
        hot.orders.decode_error(&DialectError::ForeignId);
        hot.orders.sent.add(3);
        hot.orders.rejects.record(42);
        hot.orders.risk_refused(RiskRefusal::PriceCollar);
        hot.orders.risk_refused(RiskRefusal::RateLimited);
        hot.journal.records.add(10);
        hot.journal.bytes.add(640);
        hot.journal.append_ns.record(150);
        hot.tick_to_trade_ns.record(2_500);
        let e = Exporter::new(hot, None);
        e.control.response(201);
        let text = e.render();
        for line in [
            "floe_nic_rx_frames_total{queue=\"1\"} 5",
            "floe_nic_tx_frames_total{queue=\"7\"} 2",
            "floe_decode_errors_total{protocol=\"itch\",kind=\"bad_checksum\"} 1",
            "floe_decode_errors_total{protocol=\"moldudp64\",kind=\"malformed\"} 2",
            "floe_decode_errors_total{protocol=\"ouch\",kind=\"foreign_id\"} 1",
            "floe_moldudp64_gaps_total 1",
            "floe_orders_sent_total 3",
            "floe_rejects_total{reason=\"42\"} 1",
            "floe_risk_refusals_total{check=\"price_collar\"} 1",
            "floe_risk_refusals_total{check=\"rate_limited\"} 1",
            "floe_risk_refusals_total{check=\"kill_switch\"} 0",
            "floe_journal_records_total 10",
            "floe_journal_bytes_total 640",
            "floe_tick_to_trade_seconds_count 1",
            "floe_journal_append_seconds_count 1",
            "floe_tick_to_trade_seconds_bucket{le=\"+Inf\"} 1",
            "floe_http_responses_total{code=\"201\"} 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
        // prometheus-client ends every HELP text with a period itself.
        assert!(!text.contains(".."), "{text}");
    }
}
