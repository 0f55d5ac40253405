//! The sans-IO engine: iceberg parents, their children, risk, idempotency,
//! timers and the exactly-once session protocol, as one deterministic state
//! machine.
//!
//! # Contract
//!
//! - Inputs are `(now, event)` pairs: [`Engine::on_quote`],
//!   [`Engine::on_order_event`], [`Engine::on_command`], [`Engine::poll`]
//!   (timers), [`Engine::on_session`]. The engine never reads a clock, a
//!   socket or an entropy source.
//! - Outputs go into a caller-provided [`Outbox`], processed **in order** by
//!   the runtime: an [`Action::Journal`] record is appended before any later
//!   [`Action::Send`] or [`Action::Reply`] goes out (write-ahead).
//! - Every state change happens in [`Engine::apply`]. A live input *decides*
//!   (risk, idempotency, slice and delay draws, pegging from the current
//!   quote, timers), journals a [`Record`], applies it, then sends what it
//!   implies. Recovery applies the journaled records in order (after
//!   [`Engine::restore`] of a snapshot) and gets the same state, PRNG
//!   positions, timers, next `OrderRef`, client_order_id index and last soup
//!   sequence included. Market data and the session's up/down state are not
//!   journaled and are not part of that state.
//! - After start-up nothing allocates; nothing panics on any input. Unknown
//!   order refs, duplicate reports (by soup sequence), over-fills and
//!   inconsistent reports are counted ([`Counters`]), never trusted.
//!
//! # Policies where the design leaves a choice
//!
//! - **Venue reject of a child** → the parent is REJECTED with the venue's
//!   code in `last_reason` (CANCELLED instead if a cancel was pending). A
//!   rejected *replace* leaves the child live at its old price; that parent
//!   then re-prices only by cancel + new slice.
//! - **Risk refusal of a child** → the parent waits (status unchanged,
//!   `waiting` and `last_reason` set): rate limit → a timer at the instant
//!   the next token is due; price collar, no reference price, position limit
//!   → the next quote of the symbol. A pegged or amended child that would stay
//!   worse than its limit and cannot be re-priced is cancelled instead.
//! - **No reference price** (no quote seen yet) → no child is sent.
//! - **Collars** are pre-trade: checked for every new child and every
//!   replace, not for children already resting.
//! - **Reducing a live child** (amend below filled + live, pause, cancel,
//!   kill) always cancels it outright; what remains goes out as a new slice.
//! - **Replace quantity** is the chain's total liable including shares
//!   already executed (OUCH semantics); a replace keeps the child's tag.
//! - A parent releases its **first slice** at once; each later slice waits
//!   the delay drawn when the previous child was entered, counted from the
//!   previous child's end. **Resume** releases a slice at once.
//! - The client_order_id index keeps every accepted id for the day (refusals
//!   are not indexed); the seed is not compared for idempotency. A replayed
//!   answer is the original one: status NEW and the original `created_at`.
//! - When the parent pool is full, the finished parent with the lowest id is
//!   evicted (its id stays in the idempotency index; queries then say
//!   unknown parent).
//! - **Session up**: resend every intent without a venue report under the
//!   same `OrderRef`, in ascending ref order; with the account-query option
//!   (OUCH 5.0) send an `AccountQuery` first and mint no ref until the answer
//!   sets `next ref = max(own, venue's)`. Nothing new is sent until the
//!   resends are out. While the session is down nothing is sent.
//! - Broken trades are counted, not unwound (a desk decides what a bust
//!   means for the parent).

use crate::algo::iceberg::{
    check_limit, AmendError, Iceberg, IcebergParams, ParamError, ParentState,
};
use crate::algo::risk::{
    self, ChildCheck, ChildRefusal, Exposure, ParentCheck, RiskLimits, RiskRefusal, TokenBucket,
};
use crate::algo::schedule::{self, SliceRng, SliceSpec};
use crate::config::{Config, Dialect};
use crate::engine::command::{
    Capacity, ClientOrderId, Command, CommandError, CommandKind, HaltReason, ParentReason,
    ParentStatus, Reply,
};
use crate::engine::index::FixedMap;
use crate::engine::outbox::{Action, Outbox, OutboxFull};
use crate::engine::record::{ChildIntent, Control, IntentKind, Record};
use crate::engine::timer::TimerHeap;
use crate::order::{ChildTag, OrderEvent, OrderRef, OrderRequest};
use crate::pool::{Handle, Pool};
use crate::time::Nanos;
use crate::types::{Level, Price4, Qty, Quote, Side, Symbol};

/// Parent and child numbers must stay below 62⁴ (four base-62 digits in the
/// OUCH id encoding).
pub const ID_LIMIT: u32 = 62 * 62 * 62 * 62;

/// Free outbox slots an input needs for its own record and reply.
pub const INPUT_RESERVE: usize = 3;

/// Most PRNG words one child decision draws (a slice and a delay, each at
/// most two words with `rand`'s uniform integer sampler); records claiming
/// more are refused, so a corrupt journal cannot stall recovery.
pub const MAX_DRAWS_PER_CHILD: u64 = 16;

/// Free slots one parent decision needs (journal + send).
const DRIVE_RESERVE: usize = 2;

const NIL: u32 = u32::MAX;

/// Construction options beyond the [`Config`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// On session up, send an `AccountQuery` and mint no new `OrderRef`
    /// until its answer (OUCH 5.0; OUCH 4.2 has no such message).
    pub account_query: bool,
}

impl EngineOptions {
    /// The options a configuration implies: account query with OUCH 5.0.
    pub fn from_config(cfg: &Config) -> EngineOptions {
        EngineOptions {
            account_query: cfg.order.dialect == Dialect::Ouch50,
        }
    }
}

/// What the engine counted and did not trust (replayed: part of the state).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Reports about an order ref the engine does not track.
    pub unknown_refs: u64,
    /// Fills larger than the child's open quantity (the excess is ignored).
    pub overfills: u64,
    /// Fills at a price worse than the child's.
    pub fills_outside_price: u64,
    /// Children rejected by the venue.
    pub venue_rejects: u64,
    /// Replaces rejected by the venue.
    pub replace_rejects: u64,
    /// Cancels refused by the venue.
    pub cancel_rejects: u64,
    /// Cancels the venue made on its own (IOC remainders included).
    pub venue_cancels: u64,
    /// Broken trades reported.
    pub broken_trades: u64,
    /// Reports that did not fit the child's state (e.g. a replace with none
    /// pending).
    pub unexpected_reports: u64,
    /// Records the engine could not apply (journal inconsistent with state).
    pub apply_errors: u64,
}

/// Live-only counters (not journaled, reset by recovery).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveCounters {
    /// Reports whose soup sequence was already applied.
    pub duplicate_reports: u64,
    /// Quotes for symbols the table had no room for.
    pub unknown_symbol_quotes: u64,
    /// Timer expiries handled.
    pub timers_fired: u64,
    /// Work deferred to `poll` because the outbox was full.
    pub deferred: u64,
}

/// A record could not be applied: the journal does not fit the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The record names a parent the engine does not have.
    #[error("unknown parent {0}")]
    UnknownParent(u32),
    /// The record breaks the state machine or an invariant.
    #[error("inconsistent record: {0}")]
    Inconsistent(&'static str),
    /// A fixed capacity is exhausted.
    #[error("capacity exhausted: {0}")]
    Capacity(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PendingReplace {
    pub(super) new_ref: OrderRef,
    pub(super) price: Price4,
    pub(super) liable: Qty,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Child {
    pub(super) parent: Handle<Parent>,
    pub(super) tag: ChildTag,
    pub(super) order_ref: OrderRef,
    pub(super) side: Side,
    pub(super) symbol: Symbol,
    pub(super) tif: crate::order::TimeInForce,
    pub(super) price: Price4,
    /// Total liable of the chain (Enter size, then the replace's quantity).
    pub(super) liable: Qty,
    pub(super) executed: Qty,
    pub(super) open: Qty,
    /// The venue has reported on the entered order.
    pub(super) acked: bool,
    pub(super) pending: Option<PendingReplace>,
    pub(super) cancel_sent: bool,
    pub(super) no_replace: bool,
    pub(super) next_delay: Nanos,
}

#[derive(Clone, Debug)]
pub(super) struct Parent {
    pub(super) id: u32,
    pub(super) coid: ClientOrderId,
    pub(super) ice: Iceberg,
    pub(super) rng: SliceRng,
    pub(super) created_at: Nanos,
    pub(super) updated_at: Nanos,
    pub(super) sym: u16,
    pub(super) child: Option<Handle<Child>>,
    pub(super) children: u32,
    pub(super) release_at: Nanos,
    pub(super) timer_at: Option<Nanos>,
    pub(super) wait: Option<RiskRefusal>,
    pub(super) last_reason: Option<ParentReason>,
    // Intrusive lists over pool slots, in id order (live parents only).
    pub(super) live_prev: u32,
    pub(super) live_next: u32,
    pub(super) sym_prev: u32,
    pub(super) sym_next: u32,
    // Live-only work flags.
    pub(super) queued: bool,
    pub(super) touched: bool,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct SymbolSlot {
    pub(super) symbol: Symbol,
    pub(super) exposure: Exposure,
    /// A parent was ever accepted on it (journaled; part of the state).
    pub(super) journaled: bool,
    pub(super) bid: Option<Level>,
    pub(super) ask: Option<Level>,
    pub(super) reference: Option<Price4>,
    pub(super) head: u32,
    pub(super) tail: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CoidEntry {
    pub(super) parent: u32,
    pub(super) params: IcebergParams,
    pub(super) created_at: Nanos,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum ResendKind {
    Enter = 0,
    Replace = 1,
    Cancel = 2,
}

#[derive(Clone, Copy, Debug)]
struct ResendItem {
    order_ref: OrderRef,
    kind: ResendKind,
    child: Handle<Child>,
}

/// A fixed-capacity FIFO of handles.
#[derive(Debug)]
struct Ring<T: Copy> {
    buf: Vec<T>,
    head: usize,
    len: usize,
}

impl<T: Copy> Ring<T> {
    fn new(cap: usize, fill: T) -> Ring<T> {
        Ring {
            buf: vec![fill; cap.max(1)],
            head: 0,
            len: 0,
        }
    }
    fn push(&mut self, v: T) -> bool {
        if self.len == self.buf.len() {
            return false;
        }
        let i = (self.head + self.len) % self.buf.len();
        if let Some(s) = self.buf.get_mut(i) {
            *s = v;
        }
        self.len += 1;
        true
    }
    fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let v = self.buf.get(self.head).copied();
        self.head = (self.head + 1) % self.buf.len();
        self.len -= 1;
        v
    }
    fn is_empty(&self) -> bool {
        self.len == 0
    }
    fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

/// The deterministic, sans-IO engine. See the module documentation.
pub struct Engine {
    pub(super) limits: RiskLimits,
    pub(super) opts: EngineOptions,
    pub(super) parents: Pool<Parent>,
    pub(super) slot_handles: Vec<Handle<Parent>>,
    pub(super) parent_ids: FixedMap<u32, Handle<Parent>>,
    pub(super) children: Pool<Child>,
    pub(super) refs: FixedMap<u32, Handle<Child>>,
    pub(super) coids: FixedMap<ClientOrderId, CoidEntry>,
    pub(super) symbols: Vec<SymbolSlot>,
    pub(super) sym_index: FixedMap<Symbol, u16>,
    pub(super) timers: TimerHeap,
    pub(super) bucket: TokenBucket,
    pub(super) next_parent_id: u32,
    pub(super) next_ref: u32,
    pub(super) last_soup_seq: u64,
    pub(super) kill: bool,
    pub(super) live_parents: u32,
    pub(super) live_head: u32,
    pub(super) live_tail: u32,
    pub(super) counters: Counters,
    // Live-only state.
    live: LiveCounters,
    up: bool,
    awaiting_floor: bool,
    query_to_send: bool,
    resend: Vec<ResendItem>,
    resend_pos: usize,
    resend_active: bool,
    dirty: Ring<Handle<Parent>>,
    touched: Ring<Handle<Parent>>,
}

impl Engine {
    /// An engine with every pool preallocated from `cfg`; options from the
    /// configured dialect ([`EngineOptions::from_config`]).
    pub fn new(cfg: &Config) -> Engine {
        Engine::with_options(cfg, EngineOptions::from_config(cfg))
    }

    /// An engine with explicit options.
    ///
    /// Capacities: parents `pools.parents`; children and timers at least one
    /// per parent (`max(pools.children, pools.parents)`; at most one child
    /// per parent is ever alive, one timer per parent); order-ref index two
    /// entries per child (a replace in flight); client_order_id index
    /// `pools.client_order_ids`; symbols `book.symbols`.
    pub fn with_options(cfg: &Config, opts: EngineOptions) -> Engine {
        let parents = cfg.pools.parents.clamp(1, crate::pool::MAX_CAPACITY);
        let children = cfg
            .pools
            .children
            .max(parents)
            .min(crate::pool::MAX_CAPACITY);
        let symbols = cfg.book.symbols.clamp(1, u16::MAX as usize);
        let limits = RiskLimits::from_config(&cfg.risk);
        Engine {
            limits,
            opts,
            parents: Pool::with_capacity(parents),
            slot_handles: vec![Handle::NONE; parents],
            parent_ids: FixedMap::with_capacity(parents),
            children: Pool::with_capacity(children),
            refs: FixedMap::with_capacity(children * 2),
            coids: FixedMap::with_capacity(cfg.pools.client_order_ids.max(1)),
            symbols: Vec::with_capacity(symbols),
            sym_index: FixedMap::with_capacity(symbols),
            timers: TimerHeap::with_slots(parents),
            bucket: TokenBucket::new(limits.child_orders_per_sec, limits.child_orders_burst),
            next_parent_id: 1,
            next_ref: 1,
            last_soup_seq: 0,
            kill: false,
            live_parents: 0,
            live_head: NIL,
            live_tail: NIL,
            counters: Counters::default(),
            live: LiveCounters::default(),
            up: false,
            awaiting_floor: false,
            query_to_send: false,
            resend: Vec::with_capacity(children * 2 + 1),
            resend_pos: 0,
            resend_active: false,
            dirty: Ring::new(parents * 2, Handle::NONE),
            touched: Ring::new(parents * 2, Handle::NONE),
        }
    }

    // ----------------------------------------------------------------------
    // Accessors
    // ----------------------------------------------------------------------

    /// The SoupBinTCP sequence number to log in with: last applied + 1.
    pub fn next_expected_soup_seq(&self) -> u64 {
        self.last_soup_seq + 1
    }

    /// The next `OrderRef` the engine will mint.
    pub fn next_order_ref(&self) -> OrderRef {
        OrderRef(self.next_ref)
    }

    /// The kill switch.
    pub fn kill_switch(&self) -> bool {
        self.kill
    }

    /// Parents NEW, WORKING or PAUSED.
    pub fn live_parents(&self) -> u32 {
        self.live_parents
    }

    /// Replayed counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Live-only counters.
    pub fn live_counters(&self) -> &LiveCounters {
        &self.live
    }

    /// True while the order session is up.
    pub fn session_up(&self) -> bool {
        self.up
    }

    /// True when new order refs may be minted (session up, resends out,
    /// account query answered).
    pub fn can_mint(&self) -> bool {
        self.can_send() && !self.awaiting_floor
    }

    fn can_send(&self) -> bool {
        self.up && !self.resend_active && !self.query_to_send
    }

    /// The status of parent `id`.
    pub fn parent_status(&self, id: u32) -> Option<ParentStatus> {
        let h = *self.parent_ids.get(&id)?;
        self.status_of(h)
    }

    /// Calls `f` with the status of every parent in the pool, in id order
    /// of the live ones first, then the finished ones (cold path).
    pub fn for_each_status(&self, mut f: impl FnMut(&ParentStatus)) {
        let mut ids: Vec<u32> = self.parents.iter().map(|(_, p)| p.id).collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(s) = self.parent_status(id) {
                f(&s);
            }
        }
    }

    fn status_of(&self, h: Handle<Parent>) -> Option<ParentStatus> {
        let p = self.parents.get(h)?;
        let params = p.ice.params;
        Some(ParentStatus {
            parent: p.id,
            client_order_id: p.coid,
            symbol: params.symbol,
            side: params.side,
            status: p.ice.status(),
            total: p.ice.total(),
            requested_total: params.total,
            filled: p.ice.filled(),
            live: p.ice.live(),
            leaves: p.ice.leaves(),
            remaining: p.ice.remaining(),
            display: params.display,
            limit: params.limit,
            peg: params.peg,
            notional: p.ice.notional(),
            children: p.children,
            cancel_pending: p.ice.cancel_requested() && !p.ice.state().is_terminal(),
            waiting: p.wait,
            last_reason: p.last_reason,
            created_at: p.created_at,
            updated_at: p.updated_at,
        })
    }

    /// The earliest instant `poll` has work: `Nanos::ZERO` when deferred work
    /// is pending (call `poll` now), `Nanos::MAX` when nothing is armed.
    pub fn next_deadline(&self) -> Nanos {
        if !self.dirty.is_empty()
            || !self.touched.is_empty()
            || (self.up && (self.resend_active || self.query_to_send))
        {
            return Nanos::ZERO;
        }
        self.timers.peek().map_or(Nanos::MAX, |(t, _)| t)
    }

    /// Checks every parent's invariants (cold path, for tests and
    /// `journal verify`): `filled + remaining + live == total`, `filled ≤
    /// total`, at most one child, the child's open quantity equal to the
    /// parent's live quantity, indexes consistent.
    pub fn check_invariants(&self) -> Result<(), &'static str> {
        let mut live = 0u32;
        let mut kids = 0usize;
        for (h, p) in self.parents.iter() {
            if !p.ice.invariant_holds() {
                return Err("filled + remaining + live != total");
            }
            if p.ice.filled() > p.ice.total() {
                return Err("filled > total");
            }
            if self.parent_ids.get(&p.id) != Some(&h) {
                return Err("parent id index");
            }
            if !p.ice.state().is_terminal() {
                live += 1;
            }
            match p.child.and_then(|c| self.children.get(c)) {
                Some(c) => {
                    kids += 1;
                    if c.open != p.ice.live() {
                        return Err("child open != parent live");
                    }
                    if c.parent != h || c.tag.parent != p.id {
                        return Err("child does not point to its parent");
                    }
                    if self.refs.get(&c.order_ref.0) != p.child.as_ref() {
                        return Err("order ref index");
                    }
                    if p.ice.state().is_terminal() {
                        return Err("terminal parent with a child");
                    }
                }
                None => {
                    if p.child.is_some() {
                        return Err("dangling child handle");
                    }
                    if !p.ice.live().is_zero() {
                        return Err("live quantity without a child");
                    }
                }
            }
        }
        if live != self.live_parents {
            return Err("live parent count");
        }
        if kids != self.children.len() {
            return Err("orphan child");
        }
        Ok(())
    }

    // ----------------------------------------------------------------------
    // Inputs
    // ----------------------------------------------------------------------

    /// Market data: the top of `q.symbol`'s book changed. Updates the
    /// reference price; re-prices pegged children whose best moved; retries
    /// parents waiting for a quote. Never fails: work that does not fit the
    /// outbox is deferred to [`Engine::poll`].
    pub fn on_quote(&mut self, now: Nanos, q: &Quote, out: &mut Outbox) {
        let Some(si) = self.symbol_slot(q.symbol, true) else {
            self.live.unknown_symbol_quotes += 1;
            return;
        };
        let head = match self.symbols.get_mut(si as usize) {
            Some(s) => {
                s.bid = q.bid;
                s.ask = q.ask;
                s.reference = risk::reference_price(q);
                s.head
            }
            None => return,
        };
        let mut slot = head;
        while slot != NIL {
            let h = self.slot_handle(slot);
            let Some(p) = self.parents.get(h) else { break };
            let next = p.sym_next;
            let wake = match p.child.and_then(|c| self.children.get(c)) {
                Some(c) => {
                    p.ice.params.peg
                        && self
                            .peg_price(si, p.ice.params.side, p.ice.params.limit)
                            .is_some_and(|t| t != c.price)
                }
                None => p.wait.is_some_and(RiskRefusal::waits_for_quote),
            };
            if wake {
                self.mark_dirty(h);
            }
            slot = next;
        }
        self.drain(now, out);
    }

    /// A venue report with its SoupBinTCP sequence number (from 1). A
    /// sequence already applied is a duplicate: counted and ignored. Needs
    /// [`INPUT_RESERVE`] free outbox slots, else the report is not consumed.
    pub fn on_order_event(
        &mut self,
        now: Nanos,
        soup_seq: u64,
        ev: &OrderEvent,
        out: &mut Outbox,
    ) -> Result<(), OutboxFull> {
        if out.free() < INPUT_RESERVE {
            return Err(OutboxFull);
        }
        if soup_seq <= self.last_soup_seq {
            self.live.duplicate_reports += 1;
            return Ok(());
        }
        let floor_was_awaited = self.awaiting_floor;
        let rec = Record::VenueEvent {
            at: now,
            soup_seq,
            event: *ev,
        };
        if let Some(h) = self.journal_and_apply(rec, out) {
            self.mark_dirty(h);
        }
        if floor_was_awaited && !self.awaiting_floor {
            self.mark_all_dirty();
        }
        self.drain(now, out);
        Ok(())
    }

    /// A control-plane command; the [`Reply`] goes into the outbox after the
    /// command's journal record. Needs [`INPUT_RESERVE`] free slots, else
    /// the command is not consumed.
    pub fn on_command(
        &mut self,
        now: Nanos,
        cmd: &Command,
        out: &mut Outbox,
    ) -> Result<(), OutboxFull> {
        if out.free() < INPUT_RESERVE {
            return Err(OutboxFull);
        }
        let reply = match cmd.kind {
            CommandKind::NewIceberg {
                client_order_id,
                params,
                seed,
            } => self.cmd_new(now, client_order_id, params, seed, out),
            CommandKind::Cancel { parent } => self.cmd_cancel(now, parent, out),
            CommandKind::Pause { parent } => self.cmd_pause(now, parent, out),
            CommandKind::Resume { parent } => self.cmd_resume(now, parent, out),
            CommandKind::Amend {
                parent,
                total,
                limit,
            } => self.cmd_amend(now, parent, total, limit, out),
            CommandKind::Query { parent } => match self.parent_status(parent) {
                Some(s) => Reply::Status(s),
                None => Reply::Refused(CommandError::UnknownParent),
            },
            CommandKind::KillSwitch { on } => self.cmd_kill(now, on, out),
        };
        // Room was reserved above: the reply always fits.
        let _ = out.push(Action::Reply {
            correlation: cmd.correlation,
            reply,
        });
        self.drain(now, out);
        Ok(())
    }

    /// Fires due timers and resumes deferred work.
    pub fn poll(&mut self, now: Nanos, out: &mut Outbox) {
        while let Some(slot) = self.timers.pop_due(now) {
            self.live.timers_fired += 1;
            let h = self.slot_handle(slot);
            self.mark_dirty(h);
        }
        self.drain(now, out);
    }

    /// The order session went up or down. Down: nothing is sent until up.
    /// Up: every intent without a venue report is resent under its own
    /// `OrderRef`, in ascending ref order (after an `AccountQuery` with the
    /// account-query option, which also holds back new refs until the
    /// answer); then every live parent is driven again.
    pub fn on_session(&mut self, now: Nanos, up: bool, out: &mut Outbox) {
        if up == self.up {
            return;
        }
        self.up = up;
        self.resend.clear();
        self.resend_pos = 0;
        self.resend_active = false;
        self.query_to_send = false;
        if !up {
            self.awaiting_floor = self.opts.account_query;
            return;
        }
        self.awaiting_floor = self.opts.account_query;
        self.query_to_send = self.opts.account_query;
        for (ch, c) in self.children.iter() {
            if !c.acked {
                self.resend.push(ResendItem {
                    order_ref: c.order_ref,
                    kind: ResendKind::Enter,
                    child: ch,
                });
            }
            if let Some(pr) = c.pending {
                self.resend.push(ResendItem {
                    order_ref: pr.new_ref,
                    kind: ResendKind::Replace,
                    child: ch,
                });
            }
            if c.cancel_sent {
                self.resend.push(ResendItem {
                    order_ref: c.order_ref,
                    kind: ResendKind::Cancel,
                    child: ch,
                });
            }
        }
        self.resend.sort_unstable_by_key(|i| (i.order_ref, i.kind));
        self.resend_active = true;
        self.drain(now, out);
    }

    // ----------------------------------------------------------------------
    // Commands (decisions)
    // ----------------------------------------------------------------------

    fn cmd_new(
        &mut self,
        now: Nanos,
        coid: ClientOrderId,
        params: IcebergParams,
        seed: u64,
        out: &mut Outbox,
    ) -> Reply {
        if let Some(e) = self.coids.get(&coid) {
            return if e.params == params {
                Reply::Accepted {
                    parent: e.parent,
                    status: crate::algo::StatusCode::New,
                    created_at: e.created_at,
                    replay: true,
                }
            } else {
                Reply::Refused(CommandError::Conflict)
            };
        }
        if let Err(e) = params.validate(self.limits.lot_size, self.limits.tick_size) {
            return Reply::Refused(CommandError::Invalid(e));
        }
        let check = ParentCheck {
            total: params.total,
            display: params.display,
            limit: params.limit,
            live_parents: self.live_parents,
        };
        if let Err(r) = risk::check_parent(&self.limits, self.kill, &check) {
            return Reply::Refused(CommandError::Risk(r));
        }
        if self.next_parent_id >= ID_LIMIT {
            return Reply::Refused(CommandError::Capacity(Capacity::ParentIds));
        }
        if self.coids.len() >= self.coids.capacity() {
            return Reply::Refused(CommandError::Capacity(Capacity::ClientOrderIds));
        }
        if !self.sym_index.contains(&params.symbol) && self.symbols.len() >= self.symbols.capacity()
        {
            return Reply::Refused(CommandError::Capacity(Capacity::Symbols));
        }
        if self.parents.len() >= self.parents.capacity()
            && self.parents.len() as u32 <= self.live_parents
        {
            return Reply::Refused(CommandError::Capacity(Capacity::Parents));
        }
        let parent = self.next_parent_id;
        let rec = Record::ParentAccepted {
            at: now,
            parent,
            client_order_id: coid,
            params,
            seed,
        };
        match self.journal_and_apply(rec, out) {
            Some(h) => {
                self.mark_dirty(h);
                Reply::Accepted {
                    parent,
                    status: crate::algo::StatusCode::New,
                    created_at: now,
                    replay: false,
                }
            }
            None => Reply::Refused(CommandError::Capacity(Capacity::Parents)),
        }
    }

    fn lookup(&self, id: u32) -> Result<(Handle<Parent>, &Parent), CommandError> {
        let h = *self
            .parent_ids
            .get(&id)
            .ok_or(CommandError::UnknownParent)?;
        let p = self.parents.get(h).ok_or(CommandError::UnknownParent)?;
        Ok((h, p))
    }

    fn control(&mut self, now: Nanos, parent: u32, control: Control, out: &mut Outbox) -> Reply {
        let rec = Record::ParentControl {
            at: now,
            parent,
            control,
        };
        match self.journal_and_apply(rec, out) {
            Some(h) => {
                self.mark_dirty(h);
                let status = self
                    .parents
                    .get(h)
                    .map_or(crate::algo::StatusCode::New, |p| p.ice.status());
                Reply::Done { parent, status }
            }
            None => Reply::Refused(CommandError::UnknownParent),
        }
    }

    fn cmd_cancel(&mut self, now: Nanos, id: u32, out: &mut Outbox) -> Reply {
        let (_, p) = match self.lookup(id) {
            Ok(x) => x,
            Err(e) => return Reply::Refused(e),
        };
        let state = p.ice.state();
        if state.is_terminal() {
            return Reply::Refused(CommandError::InvalidState(state));
        }
        if p.ice.cancel_requested() {
            return Reply::Done {
                parent: id,
                status: p.ice.status(),
            };
        }
        self.control(now, id, Control::Cancel, out)
    }

    fn cmd_pause(&mut self, now: Nanos, id: u32, out: &mut Outbox) -> Reply {
        let (_, p) = match self.lookup(id) {
            Ok(x) => x,
            Err(e) => return Reply::Refused(e),
        };
        if p.ice.cancel_requested() && !p.ice.state().is_terminal() {
            return Reply::Refused(CommandError::CancelPending);
        }
        if !p.ice.state().can_become(ParentState::Paused) {
            return Reply::Refused(CommandError::InvalidState(p.ice.state()));
        }
        self.control(now, id, Control::Pause, out)
    }

    fn cmd_resume(&mut self, now: Nanos, id: u32, out: &mut Outbox) -> Reply {
        let (_, p) = match self.lookup(id) {
            Ok(x) => x,
            Err(e) => return Reply::Refused(e),
        };
        if p.ice.cancel_requested() && !p.ice.state().is_terminal() {
            return Reply::Refused(CommandError::CancelPending);
        }
        if p.ice.state() != ParentState::Paused {
            return Reply::Refused(CommandError::InvalidState(p.ice.state()));
        }
        self.control(now, id, Control::Resume, out)
    }

    fn cmd_amend(
        &mut self,
        now: Nanos,
        id: u32,
        total: Option<Qty>,
        limit: Option<Price4>,
        out: &mut Outbox,
    ) -> Reply {
        let (_, p) = match self.lookup(id) {
            Ok(x) => x,
            Err(e) => return Reply::Refused(e),
        };
        match p.ice.check_amend(total) {
            Ok(()) => {}
            Err(AmendError::BelowFilled) => return Reply::Refused(CommandError::AmendBelowFilled),
            Err(AmendError::NotAmendable(s)) => {
                return Reply::Refused(if p.ice.cancel_requested() && !s.is_terminal() {
                    CommandError::CancelPending
                } else {
                    CommandError::InvalidState(s)
                })
            }
        }
        if let Some(l) = limit {
            if let Err(e) = check_limit(l, self.limits.tick_size) {
                return Reply::Refused(CommandError::Invalid(e));
            }
        }
        if let Some(t) = total {
            if t.is_zero() {
                return Reply::Refused(CommandError::Invalid(ParamError::ZeroTotal));
            }
            if !t.0.is_multiple_of(self.limits.lot_size) {
                return Reply::Refused(CommandError::Invalid(ParamError::NotLotMultiple));
            }
            if u64::from(t.0) > self.limits.position_limit {
                return Reply::Refused(CommandError::Risk(RiskRefusal::PositionLimit));
            }
        }
        let new_total = total.unwrap_or(p.ice.params.total);
        let new_limit = limit.unwrap_or(p.ice.params.limit);
        if !self.limits.notional_ok(new_total, new_limit) {
            return Reply::Refused(CommandError::Risk(RiskRefusal::MaxParentNotional));
        }
        self.control(now, id, Control::Amend { total, limit }, out)
    }

    fn cmd_kill(&mut self, now: Nanos, on: bool, out: &mut Outbox) -> Reply {
        if on != self.kill {
            self.journal_and_apply(Record::KillSwitch { at: now, on }, out);
            if on {
                self.mark_all_dirty();
            }
        }
        Reply::KillSwitch { on: self.kill }
    }

    // ----------------------------------------------------------------------
    // Decisions about one parent
    // ----------------------------------------------------------------------

    /// Pushes `rec` as a journal action, applies it, and marks the parent it
    /// touched for a status update. The caller reserved the slot.
    fn journal_and_apply(&mut self, rec: Record, out: &mut Outbox) -> Option<Handle<Parent>> {
        if out.push(Action::Journal(rec)).is_err() {
            self.live.deferred += 1;
            return None;
        }
        match self.apply_inner(&rec) {
            Ok(h) => {
                if let Some(h) = h {
                    self.touch(h);
                }
                h
            }
            Err(_) => {
                self.counters.apply_errors += 1;
                None
            }
        }
    }

    /// Journal, apply, send.
    fn intent(&mut self, ci: ChildIntent, send: OrderRequest, out: &mut Outbox) {
        if self
            .journal_and_apply(Record::ChildIntent(ci), out)
            .is_some()
        {
            let _ = out.push(Action::Send(send));
        }
    }

    fn drain(&mut self, now: Nanos, out: &mut Outbox) {
        loop {
            if out.free() < DRIVE_RESERVE {
                if !self.dirty.is_empty() || self.resend_active || self.query_to_send {
                    self.live.deferred += 1;
                }
                break;
            }
            if self.up && self.query_to_send {
                self.query_to_send = false;
                let _ = out.push(Action::Send(OrderRequest::AccountQuery));
                continue;
            }
            if self.up && self.resend_active {
                self.resend_one(out);
                continue;
            }
            match self.dirty.pop() {
                Some(h) => {
                    if let Some(p) = self.parents.get_mut(h) {
                        p.queued = false;
                        self.drive(h, now, out);
                    }
                }
                None => break,
            }
        }
        while out.free() > 0 {
            let Some(h) = self.touched.pop() else { break };
            let Some(p) = self.parents.get_mut(h) else {
                continue;
            };
            p.touched = false;
            if let Some(s) = self.status_of(h) {
                let _ = out.push(Action::Status(s));
            }
        }
    }

    fn resend_one(&mut self, out: &mut Outbox) {
        let Some(item) = self.resend.get(self.resend_pos).copied() else {
            self.resend_active = false;
            self.resend.clear();
            self.resend_pos = 0;
            self.mark_all_dirty();
            return;
        };
        self.resend_pos += 1;
        let Some(c) = self.children.get(item.child) else {
            return;
        };
        let req = match item.kind {
            ResendKind::Enter if !c.acked && c.order_ref == item.order_ref => OrderRequest::Enter {
                order: c.order_ref,
                tag: c.tag,
                side: c.side,
                qty: c.liable,
                symbol: c.symbol,
                price: c.price,
                tif: c.tif,
            },
            ResendKind::Replace => match c.pending {
                Some(pr) if pr.new_ref == item.order_ref => OrderRequest::Replace {
                    old: c.order_ref,
                    old_tag: c.tag,
                    new: pr.new_ref,
                    new_tag: c.tag,
                    qty: pr.liable,
                    price: pr.price,
                },
                _ => return,
            },
            ResendKind::Cancel if c.cancel_sent && c.order_ref == item.order_ref => {
                OrderRequest::Cancel {
                    order: c.order_ref,
                    tag: c.tag,
                    remaining: Qty::ZERO,
                }
            }
            _ => return,
        };
        let _ = out.push(Action::Send(req));
    }

    fn peg_price(&self, si: u16, side: Side, limit: Price4) -> Option<Price4> {
        let s = self.symbols.get(si as usize)?;
        let tick = self.limits.tick_size;
        match side {
            Side::Buy => {
                let b = s.bid?.price.0;
                Some(Price4((b - b % tick).min(limit.0)))
            }
            Side::Sell => {
                let a = s.ask?.price.0;
                let up = a.checked_add((tick - a % tick) % tick)?;
                Some(Price4(up.max(limit.0)))
            }
        }
    }

    fn drive(&mut self, h: Handle<Parent>, now: Nanos, out: &mut Outbox) {
        if !self.can_send() {
            return;
        }
        let Some(p) = self.parents.get(h) else { return };
        if p.ice.state().is_terminal() {
            return;
        }
        let params = p.ice.params;
        let side = params.side;
        let si = p.sym;
        let exposure = self
            .symbols
            .get(si as usize)
            .map(|s| s.exposure)
            .unwrap_or_default();
        let reference = self.symbols.get(si as usize).and_then(|s| s.reference);

        if let Some(ch) = p.child {
            let Some(c) = self.children.get(ch).copied() else {
                return;
            };
            let stop = p.ice.cancel_requested()
                || p.ice.state() == ParentState::Paused
                || p.ice.over_committed();
            if stop {
                if !c.cancel_sent && c.pending.is_none() {
                    self.send_cancel(now, &c, out);
                }
                return;
            }
            if c.cancel_sent || c.pending.is_some() || !c.acked {
                return;
            }
            let worse = !side.at_least_as_aggressive(params.limit, c.price);
            let target = if params.peg {
                self.peg_price(si, side, params.limit)
            } else {
                None
            };
            let want = if worse {
                Some(target.unwrap_or(params.limit))
            } else {
                target.filter(|t| *t != c.price)
            };
            let Some(price) = want else { return };
            if c.no_replace || !self.can_mint() || self.next_ref == u32::MAX {
                if worse {
                    self.send_cancel(now, &c, out);
                }
                return;
            }
            let check = ChildCheck {
                side,
                added_qty: Qty::ZERO,
                qty: c.open,
                price,
                reference,
                exposure,
            };
            if let Err(r) = risk::check_child(&self.limits, self.kill, &self.bucket, now, &check) {
                if worse {
                    self.send_cancel(now, &c, out);
                } else {
                    self.wait(h, r, now, out);
                }
                return;
            }
            let new = OrderRef(self.next_ref);
            let liable = Qty(c.executed.0.saturating_add(c.open.0));
            let ci = ChildIntent {
                at: now,
                tag: c.tag,
                order_ref: new,
                side,
                symbol: params.symbol,
                qty: liable,
                price,
                kind: IntentKind::Replace { old: c.order_ref },
            };
            let send = OrderRequest::Replace {
                old: c.order_ref,
                old_tag: c.tag,
                new,
                new_tag: c.tag,
                qty: liable,
                price,
            };
            self.intent(ci, send, out);
            return;
        }

        // No live child: release the next slice?
        if p.ice.state() == ParentState::Paused || p.ice.cancel_requested() {
            return;
        }
        let remaining = p.ice.remaining();
        if remaining.is_zero() || p.release_at > now || !self.can_mint() {
            return;
        }
        let id = p.id;
        let halt = if p.children.saturating_add(1) >= ID_LIMIT {
            Some(HaltReason::ChildIdsExhausted)
        } else if self.next_ref == u32::MAX {
            Some(HaltReason::OrderRefsExhausted)
        } else if self.children.len() >= self.children.capacity()
            || self.refs.len() + 2 > self.refs.capacity()
        {
            Some(HaltReason::ChildCapacity)
        } else {
            None
        };
        if let Some(reason) = halt {
            self.journal_and_apply(
                Record::ParentHalt {
                    at: now,
                    parent: id,
                    reason,
                },
                out,
            );
            return;
        }
        let mut rng = p.rng.clone();
        let qty = schedule::draw_slice(
            &mut rng,
            &SliceSpec {
                display: params.display,
                variance_ppm: params.variance_ppm,
                lot: self.limits.lot_size,
                remaining,
                max_child: self.limits.max_child_qty,
            },
        );
        let next_delay = schedule::draw_delay(&mut rng, params.min_delay_ms, params.max_delay_ms);
        let price = if params.peg {
            match self.peg_price(si, side, params.limit) {
                Some(p) => p,
                None => {
                    self.wait(
                        h,
                        ChildRefusal {
                            reason: RiskRefusal::NoReferencePrice,
                            retry_at: None,
                        },
                        now,
                        out,
                    );
                    return;
                }
            }
        } else {
            params.limit
        };
        let check = ChildCheck {
            side,
            added_qty: qty,
            qty,
            price,
            reference,
            exposure,
        };
        if let Err(r) = risk::check_child(&self.limits, self.kill, &self.bucket, now, &check) {
            self.wait(h, r, now, out);
            return;
        }
        let tag = ChildTag {
            parent: id,
            child: p.children + 1,
        };
        let order = OrderRef(self.next_ref);
        let ci = ChildIntent {
            at: now,
            tag,
            order_ref: order,
            side,
            symbol: params.symbol,
            qty,
            price,
            kind: IntentKind::Enter {
                tif: params.tif,
                next_delay,
                rng_draws: rng.draws(),
            },
        };
        let send = OrderRequest::Enter {
            order,
            tag,
            side,
            qty,
            symbol: params.symbol,
            price,
            tif: params.tif,
        };
        self.intent(ci, send, out);
    }

    fn send_cancel(&mut self, now: Nanos, c: &Child, out: &mut Outbox) {
        let ci = ChildIntent {
            at: now,
            tag: c.tag,
            order_ref: c.order_ref,
            side: c.side,
            symbol: c.symbol,
            qty: Qty::ZERO,
            price: c.price,
            kind: IntentKind::Cancel,
        };
        let send = OrderRequest::Cancel {
            order: c.order_ref,
            tag: c.tag,
            remaining: Qty::ZERO,
        };
        self.intent(ci, send, out);
    }

    fn wait(&mut self, h: Handle<Parent>, r: ChildRefusal, now: Nanos, out: &mut Outbox) {
        let Some(p) = self.parents.get(h) else { return };
        if p.wait == Some(r.reason) && p.timer_at == r.retry_at {
            return;
        }
        let rec = Record::ParentWait {
            at: now,
            parent: p.id,
            reason: r.reason,
            retry_at: r.retry_at,
        };
        self.journal_and_apply(rec, out);
    }

    // ----------------------------------------------------------------------
    // Work lists
    // ----------------------------------------------------------------------

    fn slot_handle(&self, slot: u32) -> Handle<Parent> {
        self.slot_handles
            .get(slot as usize)
            .copied()
            .unwrap_or(Handle::NONE)
    }

    fn slot_of(&self, h: Handle<Parent>) -> u32 {
        self.parents.index_of(h).map_or(NIL, |i| i as u32)
    }

    fn mark_dirty(&mut self, h: Handle<Parent>) {
        if let Some(p) = self.parents.get_mut(h) {
            if !p.queued && !p.ice.state().is_terminal() {
                p.queued = true;
                if !self.dirty.push(h) {
                    p.queued = false;
                    self.live.deferred += 1;
                }
            }
        }
    }

    fn mark_all_dirty(&mut self) {
        let mut slot = self.live_head;
        while slot != NIL {
            let h = self.slot_handle(slot);
            let Some(p) = self.parents.get(h) else { break };
            let next = p.live_next;
            self.mark_dirty(h);
            slot = next;
        }
    }

    fn touch(&mut self, h: Handle<Parent>) {
        if let Some(p) = self.parents.get_mut(h) {
            if !p.touched {
                p.touched = true;
                if !self.touched.push(h) {
                    p.touched = false;
                }
            }
        }
    }

    /// Forgets pending status updates and deferred work (the live-only work
    /// lists); state is unchanged. For a runtime that rebuilds its read model
    /// from [`Engine::for_each_status`] after recovery.
    pub fn clear_work(&mut self) {
        while let Some(h) = self.touched.pop() {
            if let Some(p) = self.parents.get_mut(h) {
                p.touched = false;
            }
        }
        while let Some(h) = self.dirty.pop() {
            if let Some(p) = self.parents.get_mut(h) {
                p.queued = false;
            }
        }
        self.dirty.clear();
        self.touched.clear();
    }

    // ----------------------------------------------------------------------
    // Symbols, lists, timers
    // ----------------------------------------------------------------------

    fn symbol_slot(&mut self, symbol: Symbol, insert: bool) -> Option<u16> {
        if let Some(&i) = self.sym_index.get(&symbol) {
            return Some(i);
        }
        if !insert || self.symbols.len() >= self.symbols.capacity() {
            return None;
        }
        let i = self.symbols.len() as u16;
        self.sym_index.insert(symbol, i).ok()?;
        self.symbols.push(SymbolSlot {
            symbol,
            exposure: Exposure::default(),
            journaled: false,
            bid: None,
            ask: None,
            reference: None,
            head: NIL,
            tail: NIL,
        });
        Some(i)
    }

    /// Adds a symbol to the table (restore).
    pub(super) fn restore_symbol_slot(&mut self, symbol: Symbol) -> Option<u16> {
        self.symbol_slot(symbol, true)
    }

    /// Links a restored live parent into the lists and arms its timer.
    pub(super) fn restore_link(&mut self, h: Handle<Parent>, timer_at: Option<Nanos>) {
        self.live_parents += 1;
        self.link(h);
        self.set_timer(h, timer_at);
    }

    fn link(&mut self, h: Handle<Parent>) {
        let slot = self.slot_of(h);
        let Some(p) = self.parents.get(h) else { return };
        let si = p.sym as usize;
        let (live_tail, sym_tail) = (self.live_tail, self.symbols.get(si).map_or(NIL, |s| s.tail));
        if let Some(p) = self.parents.get_mut(h) {
            p.live_prev = live_tail;
            p.live_next = NIL;
            p.sym_prev = sym_tail;
            p.sym_next = NIL;
        }
        let lt = self.slot_handle(live_tail);
        match self.parents.get_mut(lt) {
            Some(t) if live_tail != NIL => t.live_next = slot,
            _ => self.live_head = slot,
        }
        self.live_tail = slot;
        let st = self.slot_handle(sym_tail);
        let head_empty = match self.parents.get_mut(st) {
            Some(t) if sym_tail != NIL => {
                t.sym_next = slot;
                false
            }
            _ => true,
        };
        if let Some(s) = self.symbols.get_mut(si) {
            if head_empty {
                s.head = slot;
            }
            s.tail = slot;
        }
    }

    fn unlink(&mut self, h: Handle<Parent>) {
        let Some(p) = self.parents.get(h) else { return };
        let (lp, ln, sp, sn, si) = (p.live_prev, p.live_next, p.sym_prev, p.sym_next, p.sym);
        let (hp, hn) = (self.slot_handle(lp), self.slot_handle(ln));
        match self.parents.get_mut(hp) {
            Some(x) if lp != NIL => x.live_next = ln,
            _ => self.live_head = ln,
        }
        match self.parents.get_mut(hn) {
            Some(x) if ln != NIL => x.live_prev = lp,
            _ => self.live_tail = lp,
        }
        let (hp, hn) = (self.slot_handle(sp), self.slot_handle(sn));
        let mut new_head = None;
        let mut new_tail = None;
        match self.parents.get_mut(hp) {
            Some(x) if sp != NIL => x.sym_next = sn,
            _ => new_head = Some(sn),
        }
        match self.parents.get_mut(hn) {
            Some(x) if sn != NIL => x.sym_prev = sp,
            _ => new_tail = Some(sp),
        }
        if let Some(s) = self.symbols.get_mut(si as usize) {
            if let Some(v) = new_head {
                s.head = v;
            }
            if let Some(v) = new_tail {
                s.tail = v;
            }
        }
        if let Some(p) = self.parents.get_mut(h) {
            p.live_prev = NIL;
            p.live_next = NIL;
            p.sym_prev = NIL;
            p.sym_next = NIL;
        }
    }

    fn set_timer(&mut self, h: Handle<Parent>, at: Option<Nanos>) {
        let slot = self.slot_of(h);
        let Some(p) = self.parents.get_mut(h) else {
            return;
        };
        p.timer_at = at;
        let id = p.id;
        match at {
            Some(t) => {
                self.timers.set(slot, id, t);
            }
            None => self.timers.remove(slot),
        }
    }

    /// The parent reached a terminal state.
    fn finish(&mut self, h: Handle<Parent>) {
        self.set_timer(h, None);
        self.unlink(h);
        if let Some(p) = self.parents.get_mut(h) {
            p.wait = None;
        }
        self.live_parents = self.live_parents.saturating_sub(1);
    }

    // ----------------------------------------------------------------------
    // Apply: the only place state changes
    // ----------------------------------------------------------------------

    /// Applies one journaled record: the recovery path, and the second half
    /// of every live decision. Produces no output.
    pub fn apply(&mut self, rec: &Record) -> Result<(), ApplyError> {
        self.apply_inner(rec).map(|_| ())
    }

    fn parent_handle(&self, id: u32) -> Result<Handle<Parent>, ApplyError> {
        self.parent_ids
            .get(&id)
            .copied()
            .filter(|h| self.parents.get(*h).is_some())
            .ok_or(ApplyError::UnknownParent(id))
    }

    pub(super) fn apply_inner(
        &mut self,
        rec: &Record,
    ) -> Result<Option<Handle<Parent>>, ApplyError> {
        match *rec {
            Record::ParentAccepted {
                at,
                parent,
                client_order_id,
                params,
                seed,
            } => self
                .apply_accepted(at, parent, client_order_id, params, seed)
                .map(Some),
            Record::ParentControl {
                at,
                parent,
                control,
            } => self.apply_control(at, parent, control).map(Some),
            Record::KillSwitch { on, at } => {
                self.kill = on;
                if on {
                    let mut slot = self.live_head;
                    while slot != NIL {
                        let h = self.slot_handle(slot);
                        let Some(p) = self.parents.get_mut(h) else {
                            break;
                        };
                        let next = p.live_next;
                        p.updated_at = at;
                        p.wait = None;
                        let st = p.ice.request_cancel();
                        self.touch(h);
                        if st.is_terminal() {
                            self.finish(h);
                        } else {
                            self.set_timer(h, None);
                        }
                        slot = next;
                    }
                }
                Ok(None)
            }
            Record::ChildIntent(ci) => self.apply_intent(&ci).map(Some),
            Record::VenueEvent {
                at,
                soup_seq,
                event,
            } => {
                if soup_seq > self.last_soup_seq {
                    self.last_soup_seq = soup_seq;
                }
                Ok(self.apply_event(at, &event))
            }
            Record::ParentWait {
                at,
                parent,
                reason,
                retry_at,
            } => {
                let h = self.parent_handle(parent)?;
                if let Some(p) = self.parents.get_mut(h) {
                    if p.ice.state().is_terminal() {
                        return Err(ApplyError::Inconsistent("wait on a finished parent"));
                    }
                    p.wait = Some(reason);
                    p.last_reason = Some(ParentReason::Risk(reason));
                    p.updated_at = at;
                }
                self.set_timer(h, retry_at);
                Ok(Some(h))
            }
            Record::ParentHalt { at, parent, reason } => {
                let h = self.parent_handle(parent)?;
                let p = self
                    .parents
                    .get_mut(h)
                    .ok_or(ApplyError::UnknownParent(parent))?;
                p.ice
                    .reject()
                    .map_err(|_| ApplyError::Inconsistent("halt with a live child"))?;
                p.last_reason = Some(ParentReason::Halted(reason));
                p.updated_at = at;
                self.finish(h);
                Ok(Some(h))
            }
        }
    }

    fn apply_accepted(
        &mut self,
        at: Nanos,
        id: u32,
        coid: ClientOrderId,
        params: IcebergParams,
        seed: u64,
    ) -> Result<Handle<Parent>, ApplyError> {
        if id < self.next_parent_id || id >= ID_LIMIT {
            return Err(ApplyError::Inconsistent("parent id out of order"));
        }
        if self.coids.contains(&coid) {
            return Err(ApplyError::Inconsistent("client_order_id reused"));
        }
        if self.coids.len() >= self.coids.capacity() {
            return Err(ApplyError::Capacity("client_order_id index"));
        }
        if self.parents.len() >= self.parents.capacity() {
            self.evict_one()?;
        }
        let si = self
            .symbol_slot(params.symbol, true)
            .ok_or(ApplyError::Capacity("symbols"))?;
        let parent = Parent {
            id,
            coid,
            ice: Iceberg::new(params),
            rng: SliceRng::new(seed),
            created_at: at,
            updated_at: at,
            sym: si,
            child: None,
            children: 0,
            release_at: at,
            timer_at: None,
            wait: None,
            last_reason: None,
            live_prev: NIL,
            live_next: NIL,
            sym_prev: NIL,
            sym_next: NIL,
            queued: false,
            touched: false,
        };
        let h = self
            .parents
            .insert(parent)
            .map_err(|_| ApplyError::Capacity("parents"))?;
        if let Some(i) = self.parents.index_of(h) {
            if let Some(s) = self.slot_handles.get_mut(i) {
                *s = h;
            }
        }
        if self.parent_ids.insert(id, h).is_err() {
            self.parents.remove(h);
            return Err(ApplyError::Capacity("parent ids"));
        }
        let _ = self.coids.insert(
            coid,
            CoidEntry {
                parent: id,
                params,
                created_at: at,
            },
        );
        if let Some(s) = self.symbols.get_mut(si as usize) {
            s.journaled = true;
        }
        self.next_parent_id = id + 1;
        self.live_parents += 1;
        self.link(h);
        Ok(h)
    }

    fn evict_one(&mut self) -> Result<(), ApplyError> {
        let victim = self
            .parents
            .iter()
            .filter(|(_, p)| p.ice.state().is_terminal())
            .min_by_key(|(_, p)| p.id)
            .map(|(h, p)| (h, p.id));
        let Some((h, id)) = victim else {
            return Err(ApplyError::Capacity("parents"));
        };
        self.parent_ids.remove(&id);
        if let Some(i) = self.parents.index_of(h) {
            if let Some(s) = self.slot_handles.get_mut(i) {
                *s = Handle::NONE;
            }
        }
        self.parents.remove(h);
        Ok(())
    }

    fn apply_control(
        &mut self,
        at: Nanos,
        id: u32,
        control: Control,
    ) -> Result<Handle<Parent>, ApplyError> {
        let h = self.parent_handle(id)?;
        let p = self
            .parents
            .get_mut(h)
            .ok_or(ApplyError::UnknownParent(id))?;
        p.updated_at = at;
        let bad = |_| ApplyError::Inconsistent("illegal transition");
        match control {
            Control::Pause => {
                if p.ice.cancel_requested() {
                    return Err(ApplyError::Inconsistent("pause while cancelling"));
                }
                p.ice.transition(ParentState::Paused).map_err(bad)?;
                p.wait = None;
                self.set_timer(h, None);
            }
            Control::Resume => {
                if p.ice.cancel_requested() {
                    return Err(ApplyError::Inconsistent("resume while cancelling"));
                }
                p.ice.transition(ParentState::Working).map_err(bad)?;
                p.release_at = at;
                p.wait = None;
                self.set_timer(h, None);
            }
            Control::Cancel => {
                if p.ice.state().is_terminal() {
                    return Err(ApplyError::Inconsistent("cancel of a finished parent"));
                }
                p.wait = None;
                if p.ice.request_cancel().is_terminal() {
                    self.finish(h);
                } else {
                    self.set_timer(h, None);
                }
            }
            Control::Amend { total, limit } => {
                p.ice
                    .amend(total, limit)
                    .map_err(|_| ApplyError::Inconsistent("amend refused"))?;
                if p.ice.state().is_terminal() {
                    self.finish(h);
                }
            }
        }
        Ok(h)
    }

    fn apply_intent(&mut self, ci: &ChildIntent) -> Result<Handle<Parent>, ApplyError> {
        let h = self.parent_handle(ci.tag.parent)?;
        let (si, cur_child) = {
            let p = self
                .parents
                .get(h)
                .ok_or(ApplyError::UnknownParent(ci.tag.parent))?;
            if p.ice.state().is_terminal() {
                return Err(ApplyError::Inconsistent("intent for a finished parent"));
            }
            (p.sym, p.child)
        };
        match ci.kind {
            IntentKind::Enter {
                tif,
                next_delay,
                rng_draws,
            } => {
                let p = self
                    .parents
                    .get(h)
                    .ok_or(ApplyError::UnknownParent(ci.tag.parent))?;
                if cur_child.is_some() {
                    return Err(ApplyError::Inconsistent("second live child"));
                }
                if ci.tag.child != p.children.wrapping_add(1) || ci.tag.child >= ID_LIMIT {
                    return Err(ApplyError::Inconsistent("child number out of order"));
                }
                if ci.qty.is_zero() || ci.qty > p.ice.remaining() {
                    return Err(ApplyError::Inconsistent("child above remaining"));
                }
                if ci.side != p.ice.params.side || ci.symbol != p.ice.params.symbol {
                    return Err(ApplyError::Inconsistent("child side or symbol"));
                }
                if p.rng.draws() > rng_draws || rng_draws - p.rng.draws() > MAX_DRAWS_PER_CHILD {
                    return Err(ApplyError::Inconsistent("generator position"));
                }
                if ci.order_ref.0 < self.next_ref || ci.order_ref.0 == u32::MAX {
                    return Err(ApplyError::Inconsistent("order ref reused"));
                }
                if self.refs.len() + 2 > self.refs.capacity() {
                    return Err(ApplyError::Capacity("order refs"));
                }
                let child = Child {
                    parent: h,
                    tag: ci.tag,
                    order_ref: ci.order_ref,
                    side: ci.side,
                    symbol: ci.symbol,
                    tif,
                    price: ci.price,
                    liable: ci.qty,
                    executed: Qty::ZERO,
                    open: ci.qty,
                    acked: false,
                    pending: None,
                    cancel_sent: false,
                    no_replace: false,
                    next_delay,
                };
                let ch = self
                    .children
                    .insert(child)
                    .map_err(|_| ApplyError::Capacity("children"))?;
                let _ = self.refs.insert(ci.order_ref.0, ch);
                let p = self
                    .parents
                    .get_mut(h)
                    .ok_or(ApplyError::UnknownParent(ci.tag.parent))?;
                p.ice.release(ci.qty);
                if p.ice.state() == ParentState::New {
                    p.ice
                        .transition(ParentState::Working)
                        .map_err(|_| ApplyError::Inconsistent("illegal transition"))?;
                }
                p.child = Some(ch);
                p.children = ci.tag.child;
                let _ = p.rng.advance_to(rng_draws);
                p.wait = None;
                p.updated_at = ci.at;
                if let Some(s) = self.symbols.get_mut(si as usize) {
                    s.exposure.add_live(ci.side, ci.qty);
                }
                self.bucket.take(ci.at);
                self.next_ref = ci.order_ref.0 + 1;
                self.set_timer(h, None);
            }
            IntentKind::Replace { old } => {
                let ch = cur_child.ok_or(ApplyError::Inconsistent("replace without a child"))?;
                if ci.order_ref.0 < self.next_ref || ci.order_ref.0 == u32::MAX {
                    return Err(ApplyError::Inconsistent("order ref reused"));
                }
                let c = self
                    .children
                    .get_mut(ch)
                    .ok_or(ApplyError::Inconsistent("dangling child"))?;
                if c.order_ref != old || c.pending.is_some() || c.cancel_sent {
                    return Err(ApplyError::Inconsistent("replace of a busy child"));
                }
                c.pending = Some(PendingReplace {
                    new_ref: ci.order_ref,
                    price: ci.price,
                    liable: ci.qty,
                });
                self.refs
                    .insert(ci.order_ref.0, ch)
                    .map_err(|_| ApplyError::Capacity("order refs"))?;
                self.bucket.take(ci.at);
                self.next_ref = ci.order_ref.0 + 1;
                if let Some(p) = self.parents.get_mut(h) {
                    p.wait = None;
                    p.updated_at = ci.at;
                }
                self.set_timer(h, None);
            }
            IntentKind::Cancel => {
                let ch = cur_child.ok_or(ApplyError::Inconsistent("cancel without a child"))?;
                let c = self
                    .children
                    .get_mut(ch)
                    .ok_or(ApplyError::Inconsistent("dangling child"))?;
                if c.order_ref != ci.order_ref {
                    return Err(ApplyError::Inconsistent("cancel of another order"));
                }
                c.cancel_sent = true;
                if let Some(p) = self.parents.get_mut(h) {
                    p.updated_at = ci.at;
                }
            }
        }
        Ok(h)
    }

    fn apply_event(&mut self, at: Nanos, ev: &OrderEvent) -> Option<Handle<Parent>> {
        let order = match *ev {
            OrderEvent::SystemEvent { .. } => return None,
            OrderEvent::AccountQueryResponse { next_order, .. } => {
                self.next_ref = self.next_ref.max(next_order.0);
                self.awaiting_floor = false;
                return None;
            }
            _ => ev.order()?,
        };
        let Some(&ch) = self.refs.get(&order.0) else {
            self.counters.unknown_refs += 1;
            return None;
        };
        let c = *self.children.get(ch)?;
        let h = c.parent;
        if let Some(p) = self.parents.get_mut(h) {
            p.updated_at = at;
        }
        match *ev {
            OrderEvent::Accepted { qty, live, .. } => {
                if order != c.order_ref || c.acked {
                    self.counters.unexpected_reports += 1;
                    return Some(h);
                }
                self.with_child(ch, |c| c.acked = true);
                if qty < c.open {
                    self.reduce(ch, Qty(c.open.0 - qty.0));
                }
                if !live {
                    self.die(ch, at, false);
                } else {
                    self.die_if_done(ch, at);
                }
            }
            OrderEvent::Replaced { old, qty, live, .. } => {
                let Some(pr) = c
                    .pending
                    .filter(|pr| pr.new_ref == order && old == c.order_ref)
                else {
                    self.counters.unexpected_reports += 1;
                    return Some(h);
                };
                self.refs.remove(&c.order_ref.0);
                self.with_child(ch, |c| {
                    c.order_ref = pr.new_ref;
                    c.price = pr.price;
                    c.liable = pr.liable;
                    c.pending = None;
                    c.acked = true;
                });
                let new_open = c.open.min(pr.liable.saturating_sub(c.executed)).min(qty);
                if new_open < c.open {
                    self.reduce(ch, Qty(c.open.0 - new_open.0));
                }
                if !live {
                    self.die(ch, at, false);
                } else {
                    self.die_if_done(ch, at);
                }
            }
            OrderEvent::Canceled {
                decrement, reason, ..
            } => {
                self.with_child(ch, |c| c.acked = true);
                if !c.cancel_sent {
                    self.counters.venue_cancels += 1;
                    if let Some(p) = self.parents.get_mut(h) {
                        p.last_reason = Some(ParentReason::VenueCanceled { code: reason.code });
                    }
                }
                self.reduce(ch, decrement.min(c.open));
                self.die_if_done(ch, at);
            }
            OrderEvent::Executed { qty, price, .. } => {
                self.with_child(ch, |c| c.acked = true);
                let Some(p) = self.parents.get_mut(h) else {
                    return Some(h);
                };
                let si = p.sym as usize;
                let applied = p.ice.fill(qty.min(c.open), price);
                if qty > applied {
                    self.counters.overfills += 1;
                }
                if !c.side.at_least_as_aggressive(c.price, price) {
                    self.counters.fills_outside_price += 1;
                }
                self.with_child(ch, |c| {
                    c.open = Qty(c.open.0 - applied.0);
                    c.executed = Qty(c.executed.0 + applied.0);
                });
                if let Some(s) = self.symbols.get_mut(si) {
                    s.exposure.add_fill(c.side, applied);
                    s.exposure.remove_live(c.side, applied);
                }
                self.die_if_done(ch, at);
            }
            OrderEvent::Rejected { reason, .. } => {
                if let Some(pr) = c.pending.filter(|pr| pr.new_ref == order) {
                    self.counters.replace_rejects += 1;
                    self.refs.remove(&pr.new_ref.0);
                    self.with_child(ch, |c| {
                        c.pending = None;
                        c.no_replace = true;
                    });
                    if let Some(p) = self.parents.get_mut(h) {
                        p.last_reason = Some(ParentReason::ReplaceRejected { code: reason.code });
                    }
                } else if order == c.order_ref && !c.acked {
                    self.counters.venue_rejects += 1;
                    if let Some(p) = self.parents.get_mut(h) {
                        p.last_reason = Some(ParentReason::VenueReject { code: reason.code });
                    }
                    self.die(ch, at, true);
                } else {
                    self.counters.unexpected_reports += 1;
                }
            }
            OrderEvent::CancelReject { .. } => {
                self.counters.cancel_rejects += 1;
                if let Some(p) = self.parents.get_mut(h) {
                    p.last_reason = Some(ParentReason::CancelRejected);
                }
            }
            OrderEvent::BrokenTrade { .. } => self.counters.broken_trades += 1,
            OrderEvent::Modified { qty, .. } => {
                self.with_child(ch, |c| c.acked = true);
                if qty < c.open {
                    self.reduce(ch, Qty(c.open.0 - qty.0));
                }
                self.die_if_done(ch, at);
            }
            OrderEvent::CancelPending { .. }
            | OrderEvent::PriorityUpdate { .. }
            | OrderEvent::Restated { .. }
            | OrderEvent::SystemEvent { .. }
            | OrderEvent::AccountQueryResponse { .. } => {}
        }
        Some(h)
    }

    fn with_child(&mut self, ch: Handle<Child>, f: impl FnOnce(&mut Child)) {
        if let Some(c) = self.children.get_mut(ch) {
            f(c);
        }
    }

    /// `qty` open shares of the child are gone without a fill.
    fn reduce(&mut self, ch: Handle<Child>, qty: Qty) {
        let Some(c) = self.children.get_mut(ch) else {
            return;
        };
        let q = qty.min(c.open);
        c.open = Qty(c.open.0 - q.0);
        let (h, side) = (c.parent, c.side);
        let si = match self.parents.get_mut(h) {
            Some(p) => {
                p.ice.unlive(q);
                p.sym
            }
            None => return,
        };
        if let Some(s) = self.symbols.get_mut(si as usize) {
            s.exposure.remove_live(side, q);
        }
    }

    fn die_if_done(&mut self, ch: Handle<Child>, at: Nanos) {
        if self.children.get(ch).is_some_and(|c| c.open.is_zero()) {
            self.die(ch, at, false);
        }
    }

    /// The child is gone; settle the parent.
    fn die(&mut self, ch: Handle<Child>, at: Nanos, rejected: bool) {
        let Some(c) = self.children.get(ch).copied() else {
            return;
        };
        if !c.open.is_zero() {
            self.reduce(ch, c.open);
        }
        self.refs.remove(&c.order_ref.0);
        if let Some(pr) = c.pending {
            self.refs.remove(&pr.new_ref.0);
        }
        self.children.remove(ch);
        let h = c.parent;
        let Some(p) = self.parents.get_mut(h) else {
            return;
        };
        p.child = None;
        let state = if rejected {
            p.ice.reject().unwrap_or(p.ice.state())
        } else {
            p.ice.child_done()
        };
        if state.is_terminal() {
            self.finish(h);
        } else if state == ParentState::Working && !p.ice.cancel_requested() {
            p.release_at = at + c.next_delay;
            let t = (p.release_at > at).then_some(p.release_at);
            self.set_timer(h, t);
        }
    }
}
