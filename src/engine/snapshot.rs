//! Engine snapshots (cold path: may allocate).
//!
//! A snapshot holds the engine's journaled state in a canonical order —
//! parents by id, client_order_id entries by parent id, symbols by name — so
//! two engines in the same state write the same bytes, whatever their pool
//! layout. Market data, the session and the live-only work lists are not in
//! it. [`Engine::restore`] rebuilds an engine that behaves as the original:
//! applying the records journaled after the snapshot gives the same state as
//! applying the whole journal. Timers are rebuilt from each parent's armed
//! deadline (a deadline already past fires at the first `poll`).
//!
//! Layout: magic `FLOESNAP`, version u32, then little-endian fields (see
//! [`Engine::snapshot`]). [`Engine::restore`] never panics on any bytes.

use crate::algo::iceberg::{Iceberg, ParentState};
use crate::algo::risk::{Exposure, RiskRefusal, TokenBucket};
use crate::algo::schedule::SliceRng;
use crate::config::Config;
use crate::engine::command::{ClientOrderId, HaltReason, ParentReason};
use crate::engine::core::{
    Child, CoidEntry, Counters, Engine, EngineOptions, Parent, PendingReplace, MAX_DRAWS_PER_CHILD,
};
use crate::engine::record::{RecordError, R, W};
use crate::order::{ChildTag, OrderRef};
use crate::time::Nanos;
use crate::types::{Price4, Qty, Symbol};

/// Snapshot magic.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"FLOESNAP";
/// Snapshot format version.
pub const SNAPSHOT_VERSION: u32 = 1;

/// Why a snapshot could not be restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot (magic).
    #[error("not a floe snapshot")]
    Magic,
    /// A version this build does not read.
    #[error("unsupported snapshot version {0}")]
    Version(u32),
    /// A field could not be read.
    #[error("malformed snapshot: {0}")]
    Malformed(RecordError),
    /// The snapshot does not fit the configured capacities.
    #[error("snapshot exceeds configured capacity: {0}")]
    Capacity(&'static str),
    /// The snapshot contradicts itself.
    #[error("inconsistent snapshot: {0}")]
    Inconsistent(&'static str),
}

impl From<RecordError> for SnapshotError {
    fn from(e: RecordError) -> Self {
        SnapshotError::Malformed(e)
    }
}

/// A growable writer: fields go through the record writer's fixed buffer.
struct Out<'a>(&'a mut Vec<u8>);

impl Out<'_> {
    fn with(&mut self, f: impl FnOnce(&mut W<'_>) -> Result<(), RecordError>) {
        let mut buf = [0u8; 128];
        let mut w = W { b: &mut buf, n: 0 };
        // Every field group written below is under 128 bytes.
        if f(&mut w).is_ok() {
            let n = w.n;
            self.0.extend_from_slice(&buf[..n]);
        }
    }
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u128(&mut self, v: u128) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        self.u8(v.is_some() as u8);
        self.u64(v.unwrap_or(0));
    }
}

fn reason_parts(r: Option<ParentReason>) -> (u8, u16) {
    match r {
        None => (0, 0),
        Some(ParentReason::Risk(x)) => (1, x.code()),
        Some(ParentReason::VenueReject { code }) => (2, code),
        Some(ParentReason::ReplaceRejected { code }) => (3, code),
        Some(ParentReason::CancelRejected) => (4, 0),
        Some(ParentReason::VenueCanceled { code }) => (5, u16::from(code)),
        Some(ParentReason::Halted(h)) => (6, h as u16),
    }
}

fn reason_from(kind: u8, code: u16) -> Result<Option<ParentReason>, SnapshotError> {
    let bad = SnapshotError::Malformed(RecordError::BadValue("last_reason"));
    Ok(match kind {
        0 => None,
        1 => Some(ParentReason::Risk(RiskRefusal::from_code(code).ok_or(bad)?)),
        2 => Some(ParentReason::VenueReject { code }),
        3 => Some(ParentReason::ReplaceRejected { code }),
        4 => Some(ParentReason::CancelRejected),
        5 => Some(ParentReason::VenueCanceled {
            code: u8::try_from(code).map_err(|_| bad)?,
        }),
        6 => Some(ParentReason::Halted(
            HaltReason::from_code(code).ok_or(bad)?,
        )),
        _ => return Err(bad),
    })
}

fn counters_list(c: &Counters) -> [u64; 10] {
    [
        c.unknown_refs,
        c.overfills,
        c.fills_outside_price,
        c.venue_rejects,
        c.replace_rejects,
        c.cancel_rejects,
        c.venue_cancels,
        c.broken_trades,
        c.unexpected_reports,
        c.apply_errors,
    ]
}

impl Engine {
    /// Writes the engine's journaled state into `out` (appending; cold path).
    ///
    /// Fields: next parent id u32, next order ref u32, last soup seq u64,
    /// kill switch u8, token bucket (level u128, last refill u64), ten
    /// counters u64; symbols (count u32; each symbol 8 B, net filled i64,
    /// live buy u64, live sell u64), sorted by symbol; client_order_id
    /// entries (count u32; each id, parent u32, params, created_at u64),
    /// sorted by parent; parents (count u32), sorted by id, each with its
    /// live child if any.
    pub fn snapshot(&self, out: &mut Vec<u8>) {
        let mut o = Out(out);
        o.0.extend_from_slice(SNAPSHOT_MAGIC);
        o.u32(SNAPSHOT_VERSION);
        o.u32(self.next_parent_id);
        o.u32(self.next_ref);
        o.u64(self.last_soup_seq);
        o.u8(self.kill as u8);
        let (level, last) = self.bucket.parts();
        o.u128(level);
        o.u64(last.0);
        for c in counters_list(&self.counters) {
            o.u64(c);
        }

        let mut syms: Vec<_> = self.symbols.iter().filter(|s| s.journaled).collect();
        syms.sort_unstable_by_key(|s| s.symbol);
        o.u32(syms.len() as u32);
        for s in syms {
            o.0.extend_from_slice(&s.symbol.0);
            o.i64(s.exposure.net_filled);
            o.u64(s.exposure.live_buy);
            o.u64(s.exposure.live_sell);
        }

        let mut coids: Vec<(&ClientOrderId, &CoidEntry)> = self.coids.iter().collect();
        coids.sort_unstable_by_key(|(_, e)| e.parent);
        o.u32(coids.len() as u32);
        for (id, e) in coids {
            o.with(|w| {
                w.coid(id)?;
                w.u32(e.parent)?;
                w.params(&e.params)?;
                w.u64(e.created_at.0)
            });
        }

        let mut parents: Vec<&Parent> = self.parents.iter().map(|(_, p)| p).collect();
        parents.sort_unstable_by_key(|p| p.id);
        o.u32(parents.len() as u32);
        for p in parents {
            o.u32(p.id);
            let ice = &p.ice;
            o.with(|w| {
                w.coid(&p.coid)?;
                w.params(&ice.params)
            });
            o.u64(p.rng.seed());
            o.u64(p.rng.draws());
            o.u64(p.created_at.0);
            o.u64(p.updated_at.0);
            o.u8(ice.state() as u8);
            o.u32(ice.filled().0);
            o.u32(ice.live().0);
            o.u64(ice.notional());
            o.u8(ice.cancel_requested() as u8);
            o.u32(p.children);
            o.u64(p.release_at.0);
            o.opt_u64(p.timer_at.map(|t| t.0));
            o.u16(p.wait.map_or(0, |w| w.code()));
            let (k, c) = reason_parts(p.last_reason);
            o.u8(k);
            o.u16(c);
            match p.child.and_then(|ch| self.children.get(ch)) {
                None => o.u8(0),
                Some(c) => {
                    o.u8(1);
                    o.u32(c.tag.child);
                    o.u32(c.order_ref.0);
                    o.with(|w| w.tif(c.tif));
                    o.u32(c.price.0);
                    o.u32(c.liable.0);
                    o.u32(c.executed.0);
                    o.u32(c.open.0);
                    o.u8(c.acked as u8);
                    o.u8(c.cancel_sent as u8);
                    o.u8(c.no_replace as u8);
                    o.u64(c.next_delay.0);
                    match c.pending {
                        None => o.u8(0),
                        Some(pr) => {
                            o.u8(1);
                            o.u32(pr.new_ref.0);
                            o.u32(pr.price.0);
                            o.u32(pr.liable.0);
                        }
                    }
                }
            }
        }
    }

    /// Rebuilds an engine from [`Engine::snapshot`] bytes, with options from
    /// the configured dialect.
    pub fn restore(cfg: &Config, bytes: &[u8]) -> Result<Engine, SnapshotError> {
        Engine::restore_with_options(cfg, EngineOptions::from_config(cfg), bytes)
    }

    /// Rebuilds an engine from [`Engine::snapshot`] bytes with explicit
    /// options. The session starts down.
    pub fn restore_with_options(
        cfg: &Config,
        opts: EngineOptions,
        bytes: &[u8],
    ) -> Result<Engine, SnapshotError> {
        let mut e = Engine::with_options(cfg, opts);
        let mut r = R { b: bytes, n: 0 };
        if r.take(8)? != SNAPSHOT_MAGIC {
            return Err(SnapshotError::Magic);
        }
        let v = r.u32()?;
        if v != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version(v));
        }
        e.next_parent_id = r.u32()?;
        e.next_ref = r.u32()?;
        e.last_soup_seq = r.u64()?;
        e.kill = r.flag("kill")?;
        let level = u128::from_le_bytes(r.arr()?);
        let last = Nanos(r.u64()?);
        e.bucket = TokenBucket::from_parts(
            e.limits.child_orders_per_sec,
            e.limits.child_orders_burst,
            level,
            last,
        );
        let mut cs = [0u64; 10];
        for c in &mut cs {
            *c = r.u64()?;
        }
        e.counters = Counters {
            unknown_refs: cs[0],
            overfills: cs[1],
            fills_outside_price: cs[2],
            venue_rejects: cs[3],
            replace_rejects: cs[4],
            cancel_rejects: cs[5],
            venue_cancels: cs[6],
            broken_trades: cs[7],
            unexpected_reports: cs[8],
            apply_errors: cs[9],
        };

        let n = r.u32()? as usize;
        if n > e.symbols.capacity() {
            return Err(SnapshotError::Capacity("symbols"));
        }
        for _ in 0..n {
            let sym = Symbol(r.arr()?);
            let exposure = Exposure {
                net_filled: i64::from_le_bytes(r.arr()?),
                live_buy: r.u64()?,
                live_sell: r.u64()?,
            };
            let si = e
                .restore_symbol(sym)
                .ok_or(SnapshotError::Inconsistent("duplicate symbol"))?;
            if let Some(s) = e.symbols.get_mut(si as usize) {
                s.exposure = exposure;
                s.journaled = true;
            }
        }

        let n = r.u32()? as usize;
        if n > e.coids.capacity() {
            return Err(SnapshotError::Capacity("client_order_ids"));
        }
        for _ in 0..n {
            let id = r.coid()?;
            let entry = CoidEntry {
                parent: r.u32()?,
                params: r.params()?,
                created_at: Nanos(r.u64()?),
            };
            if e.coids.insert(id, entry) != Ok(None) {
                return Err(SnapshotError::Inconsistent("duplicate client_order_id"));
            }
        }

        let n = r.u32()? as usize;
        if n > e.parents.capacity() {
            return Err(SnapshotError::Capacity("parents"));
        }
        let mut last_id = 0u32;
        for _ in 0..n {
            let id = r.u32()?;
            if id <= last_id || id >= e.next_parent_id {
                return Err(SnapshotError::Inconsistent("parent ids"));
            }
            last_id = id;
            let coid = r.coid()?;
            let params = r.params()?;
            let seed = r.u64()?;
            let draws = r.u64()?;
            let created_at = Nanos(r.u64()?);
            let updated_at = Nanos(r.u64()?);
            let state = ParentState::from_u8(r.u8()?)
                .ok_or(SnapshotError::Malformed(RecordError::BadValue("state")))?;
            let filled = Qty(r.u32()?);
            let live = Qty(r.u32()?);
            let notional = r.u64()?;
            let cancel_requested = r.flag("cancel_requested")?;
            let children = r.u32()?;
            let release_at = Nanos(r.u64()?);
            let timer_at = r.opt_u64("timer_at")?.map(Nanos);
            let wait = match r.u16()? {
                0 => None,
                c => Some(
                    RiskRefusal::from_code(c)
                        .ok_or(SnapshotError::Malformed(RecordError::BadValue("wait")))?,
                ),
            };
            let k = r.u8()?;
            let last_reason = reason_from(k, r.u16()?)?;
            if draws > (u64::from(children) + 1) * MAX_DRAWS_PER_CHILD {
                return Err(SnapshotError::Inconsistent("generator position"));
            }
            let ice = Iceberg::from_parts(params, state, filled, live, notional, cancel_requested)
                .ok_or(SnapshotError::Inconsistent("parent quantities"))?;
            let si = e
                .symbols
                .iter()
                .position(|s| s.symbol == params.symbol && s.journaled)
                .ok_or(SnapshotError::Inconsistent("parent symbol"))? as u16;
            let parent = Parent {
                id,
                coid,
                ice,
                rng: SliceRng::restore(seed, draws),
                created_at,
                updated_at,
                sym: si,
                child: None,
                children,
                release_at,
                timer_at: None,
                wait,
                last_reason,
                live_prev: u32::MAX,
                live_next: u32::MAX,
                sym_prev: u32::MAX,
                sym_next: u32::MAX,
                queued: false,
                touched: false,
            };
            let h = e
                .parents
                .insert(parent)
                .map_err(|_| SnapshotError::Capacity("parents"))?;
            if let Some(i) = e.parents.index_of(h) {
                if let Some(s) = e.slot_handles.get_mut(i) {
                    *s = h;
                }
            }
            e.parent_ids
                .insert(id, h)
                .map_err(|_| SnapshotError::Capacity("parents"))?;
            if r.flag("child")? {
                let child = r.u32()?;
                let order_ref = OrderRef(r.u32()?);
                let tif = r.tif()?;
                let price = Price4(r.u32()?);
                let liable = Qty(r.u32()?);
                let executed = Qty(r.u32()?);
                let open = Qty(r.u32()?);
                let acked = r.flag("acked")?;
                let cancel_sent = r.flag("cancel_sent")?;
                let no_replace = r.flag("no_replace")?;
                let next_delay = Nanos(r.u64()?);
                let pending = if r.flag("pending")? {
                    Some(PendingReplace {
                        new_ref: OrderRef(r.u32()?),
                        price: Price4(r.u32()?),
                        liable: Qty(r.u32()?),
                    })
                } else {
                    None
                };
                if open != live || state.is_terminal() {
                    return Err(SnapshotError::Inconsistent("child quantities"));
                }
                let c = Child {
                    parent: h,
                    tag: ChildTag { parent: id, child },
                    order_ref,
                    side: params.side,
                    symbol: params.symbol,
                    tif,
                    price,
                    liable,
                    executed,
                    open,
                    acked,
                    pending,
                    cancel_sent,
                    no_replace,
                    next_delay,
                };
                let ch = e
                    .children
                    .insert(c)
                    .map_err(|_| SnapshotError::Capacity("children"))?;
                let refs_ok = e.refs.insert(order_ref.0, ch) == Ok(None)
                    && pending.is_none_or(|pr| e.refs.insert(pr.new_ref.0, ch) == Ok(None));
                if !refs_ok {
                    return Err(SnapshotError::Inconsistent("order refs"));
                }
                if let Some(p) = e.parents.get_mut(h) {
                    p.child = Some(ch);
                }
            } else if !live.is_zero() {
                return Err(SnapshotError::Inconsistent("live quantity without a child"));
            }
            if !state.is_terminal() {
                e.restore_link(h, timer_at);
            }
        }
        if r.remaining() != 0 {
            return Err(SnapshotError::Malformed(RecordError::Trailing(
                r.remaining(),
            )));
        }
        e.check_invariants().map_err(SnapshotError::Inconsistent)?;
        Ok(e)
    }
}

/// Restore-only helpers that need the engine's private methods.
impl Engine {
    fn restore_symbol(&mut self, sym: Symbol) -> Option<u16> {
        if self.symbols.iter().any(|s| s.symbol == sym) {
            return None;
        }
        self.restore_symbol_slot(sym)
    }
}
