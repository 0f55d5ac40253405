//! The bridge between the control thread and the engine's hot thread.
//!
//! ```text
//!  control thread                                   hot thread
//!  Gateway::request ──► commands (bounded, try_send) ──► EngineEndpoint::drain (≤ limit per cycle)
//!  pump ◄── outbound (bounded) ◄── backlog ◄── EngineEndpoint::{reply, status}
//!   └─► read model (parent id → latest status) ─► GET / list
//! ```
//!
//! Guarantees:
//! - the control side never waits for queue space: a full command queue, or
//!   `pools.command_queue` commands already waiting for replies, is
//!   [`GatewayError::Busy`] (HTTP 503 `engine_busy`);
//! - the hot side never blocks, locks or allocates: it only `try_recv`s
//!   commands and `try_send`s outbound messages (the control side never
//!   blocks in `recv` on the outbound channel, so the hot side's sends never
//!   wake a sleeper); what does not fit waits in a preallocated backlog that
//!   keeps emission order and coalesces statuses per parent, so nothing is
//!   lost while the control thread lags;
//! - every outbound message carries a sequence number stamped on the hot
//!   side; the read model ignores a status older than the one it holds, so it
//!   is never rolled back, and a reply is completed only after every status
//!   emitted before it has been applied (read-your-writes for GET).
//!
//! The control side drains the outbound channel by polling
//! ([`Gateway::pump`]): every 100 µs while replies are awaited, every 2 ms
//! otherwise.

use crate::config::Config;
use crate::order::event::TimeInForce;
use crate::types::{Price4, Qty, Side, Symbol};
use crossbeam::channel::{self, Receiver, Sender, TryRecvError, TrySendError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Correlates a command with its reply.
pub type Correlation = u64;

/// The engine's id of a parent order (never reused).
pub type ParentId = u32;

/// Longest `client_order_id`, bytes.
pub const CLIENT_ORDER_ID_MAX: usize = 64;

/// A client-supplied order id: 1 to 64 printable ASCII bytes, fixed-size so
/// that commands stay `Copy` and never allocate on the hot side.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientOrderId {
    len: u8,
    bytes: [u8; CLIENT_ORDER_ID_MAX],
}

impl ClientOrderId {
    /// `None` unless 1..=64 printable ASCII bytes (no spaces).
    pub fn new(s: &str) -> Option<ClientOrderId> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > CLIENT_ORDER_ID_MAX || !b.iter().all(u8::is_ascii_graphic) {
            return None;
        }
        let mut bytes = [0u8; CLIENT_ORDER_ID_MAX];
        bytes[..b.len()].copy_from_slice(b);
        Some(ClientOrderId {
            len: b.len() as u8,
            bytes,
        })
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        let n = usize::from(self.len).min(CLIENT_ORDER_ID_MAX);
        core::str::from_utf8(&self.bytes[..n]).unwrap_or("")
    }
}

impl std::fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientOrderId({:?})", self.as_str())
    }
}

/// A new iceberg, validated and converted to lots and ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewIceberg {
    /// Idempotency key.
    pub client_order_id: ClientOrderId,
    /// Stock.
    pub symbol: Symbol,
    /// Side.
    pub side: Side,
    /// Total shares (a multiple of the lot size).
    pub total: Qty,
    /// Shares shown per slice before variance.
    pub display: Qty,
    /// No child priced worse than this.
    pub price_limit: Price4,
    /// Slice variance, parts per million of `display` (in [0, 1_000_000)).
    pub variance_ppm: u32,
    /// Shortest delay before a refresh, ms.
    pub min_delay_ms: u32,
    /// Longest delay before a refresh, ms.
    pub max_delay_ms: u32,
    /// Children's lifetime.
    pub tif: TimeInForce,
    /// Join the best bid/ask (capped by the limit) instead of resting at the limit.
    pub peg: bool,
    /// Wall-clock time the control plane received the request, Unix ms.
    /// Not part of the idempotency comparison.
    pub received_at_ms: u64,
}

/// What the control plane asks of the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Create an iceberg (idempotent on its client order id).
    New(NewIceberg),
    /// Cancel a parent.
    Cancel(ParentId),
    /// Pause a parent (cancels its live child).
    Pause(ParentId),
    /// Resume a paused parent.
    Resume(ParentId),
    /// Change total quantity and/or limit.
    Amend {
        /// The parent.
        parent: ParentId,
        /// New total (not below filled).
        total: Option<Qty>,
        /// New limit.
        price_limit: Option<Price4>,
    },
    /// Set (cancel everything, refuse new parents) or reset the kill switch.
    KillSwitch(bool),
}

/// A command with its correlation id, as it crosses the command queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Echoed in the reply.
    pub corr: Correlation,
    /// The command.
    pub cmd: Command,
}

/// A parent's life-cycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParentState {
    /// Accepted, no child yet.
    New,
    /// Working (children being sent).
    Working,
    /// Paused by the client.
    Paused,
    /// Completely filled.
    Filled,
    /// Cancelled (by the client or the kill switch).
    Cancelled,
    /// Rejected (by the venue or risk).
    Rejected,
}

impl ParentState {
    /// True for FILLED, CANCELLED and REJECTED.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            ParentState::Filled | ParentState::Cancelled | ParentState::Rejected
        )
    }
}

/// What the engine tells the read model about a parent whenever it changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParentStatus {
    /// The parent.
    pub id: ParentId,
    /// Its parameters as accepted (after amends).
    pub order: NewIceberg,
    /// State.
    pub state: ParentState,
    /// Shares filled.
    pub filled: Qty,
    /// Shares live at the venue.
    pub live: Qty,
    /// Children sent so far.
    pub children: u32,
    /// Σ fill price × shares, in Price4 units × shares (average = this / filled).
    pub notional_filled: u64,
    /// A cancel is on its way to the venue.
    pub cancel_pending: bool,
    /// Why the parent was rejected or stopped, when it was.
    pub reason: Option<&'static str>,
}

/// Why the engine refused a command. Every refusal left its state unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No parent with that id.
    UnknownParent,
    /// The client order id was used with different parameters.
    IdempotencyConflict {
        /// The parent created under that id.
        existing: ParentId,
    },
    /// The command is not allowed in the parent's state.
    InvalidState(ParentState),
    /// The amend would set total below filled.
    BelowFilled,
    /// The symbol is not traded.
    UnknownSymbol,
    /// A pre-trade risk check refused it.
    Risk(crate::control::metrics::RiskCheck),
    /// A pool (parents, ids) is full.
    Capacity,
}

/// The engine's answer to one command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A parent was created, or (`replayed`) one with the same id and
    /// parameters already existed; `status` is the answer at creation.
    Created {
        /// The parent as created.
        status: ParentStatus,
        /// True when this answered a repeat.
        replayed: bool,
    },
    /// The command was applied; the parent as it now is.
    Updated(ParentStatus),
    /// The kill switch is now `active`; `cancelled` parents were stopped.
    KillSwitch {
        /// State after the command.
        active: bool,
        /// Parents cancelled by setting it.
        cancelled: u32,
    },
    /// Refused.
    Refused(Refusal),
}

/// What the hot side sends to the control side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// A parent changed.
    Status {
        /// Hot-side emission number.
        seq: u64,
        /// The new status.
        status: ParentStatus,
    },
    /// The reply to a command.
    Reply {
        /// Hot-side emission number.
        seq: u64,
        /// Which command.
        corr: Correlation,
        /// The answer.
        reply: Reply,
    },
}

/// Why [`Gateway::request`] returned no reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// The command queue is full (or too many commands await replies).
    #[error("the engine's command queue is full")]
    Busy,
    /// The engine is not draining commands yet (start-up, recovery).
    #[error("the engine is not ready")]
    NotReady,
    /// No reply within the configured time; the command may still apply.
    #[error("no reply from the engine in time")]
    Timeout,
    /// The engine side is gone.
    #[error("the engine has stopped")]
    Closed,
}

/// Shared between both sides.
#[derive(Debug)]
struct Shared {
    ready: AtomicBool,
    status_dropped: AtomicU64,
    replies_dropped: AtomicU64,
}

/// Read-only statistics of a gateway, for `/metrics` and `/healthz`.
#[derive(Clone, Debug)]
pub struct GatewayStats(Arc<Shared>);

impl GatewayStats {
    /// The engine drains commands.
    pub fn ready(&self) -> bool {
        self.0.ready.load(Ordering::Acquire)
    }

    /// Statuses lost because the backlog was full (should stay 0).
    pub fn status_dropped(&self) -> u64 {
        self.0.status_dropped.load(Ordering::Relaxed)
    }
}

/// The control side's view of the engine's parents.
#[derive(Debug, Default)]
struct ReadModel {
    orders: HashMap<ParentId, (u64, ParentStatus)>,
    kill_switch: bool,
    /// Entries kept at most; finished parents are dropped oldest first beyond it.
    cap: usize,
}

impl ReadModel {
    fn apply(&mut self, seq: u64, s: &ParentStatus) {
        match self.orders.get_mut(&s.id) {
            Some(e) if e.0 > seq => {}
            Some(e) => *e = (seq, *s),
            None => {
                self.orders.insert(s.id, (seq, *s));
                if self.orders.len() > self.cap {
                    self.evict();
                }
            }
        }
    }

    fn evict(&mut self) {
        let mut finished: Vec<ParentId> = self
            .orders
            .values()
            .filter(|(_, s)| s.state.is_terminal())
            .map(|(_, s)| s.id)
            .collect();
        finished.sort_unstable();
        let excess = self.orders.len().saturating_sub(self.cap);
        for id in finished.into_iter().take(excess) {
            self.orders.remove(&id);
        }
    }
}

type Waiter = tokio::sync::oneshot::Sender<Reply>;

#[derive(Debug)]
struct Inner {
    commands: Sender<Envelope>,
    outbound: Receiver<Outbound>,
    next_corr: AtomicU64,
    inflight: AtomicUsize,
    inflight_cap: usize,
    waiters: Mutex<HashMap<Correlation, Waiter>>,
    read: RwLock<ReadModel>,
    reply_timeout: Duration,
    shared: Arc<Shared>,
}

/// The control side of the bridge. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Gateway(Arc<Inner>);

/// Builds both ends from the configuration: command queue of
/// `pools.command_queue`, backlog sized for every parent plus every command.
pub fn channel(config: &Config) -> (Gateway, EngineEndpoint) {
    let queue = config.pools.command_queue.max(1);
    let parents = config.pools.parents.max(1);
    let (cmd_tx, cmd_rx) = channel::bounded(queue);
    let (out_tx, out_rx) = channel::bounded(queue + parents);
    let shared = Arc::new(Shared {
        ready: AtomicBool::new(false),
        status_dropped: AtomicU64::new(0),
        replies_dropped: AtomicU64::new(0),
    });
    let gw = Gateway(Arc::new(Inner {
        commands: cmd_tx,
        outbound: out_rx,
        next_corr: AtomicU64::new(1),
        inflight: AtomicUsize::new(0),
        inflight_cap: queue,
        waiters: Mutex::new(HashMap::new()),
        read: RwLock::new(ReadModel {
            cap: parents.saturating_mul(2),
            ..ReadModel::default()
        }),
        reply_timeout: Duration::from_millis(config.control.reply_timeout_ms.max(1)),
        shared: shared.clone(),
    }));
    let ep = EngineEndpoint {
        commands: cmd_rx,
        outbound: out_tx,
        stash: None,
        backlog: Backlog::new(queue + 2 * parents),
        dirty: DirtyTable::new(2 * parents),
        seq: 0,
        disconnected: false,
        shared,
    };
    (gw, ep)
}

impl Gateway {
    /// Sends a command and waits (bounded by `control.reply_timeout_ms`) for
    /// its reply. Never waits for queue space.
    pub async fn request(&self, cmd: Command) -> Result<Reply, GatewayError> {
        let g = &self.0;
        if !g.shared.ready.load(Ordering::Acquire) {
            return Err(GatewayError::NotReady);
        }
        if g.inflight.fetch_add(1, Ordering::AcqRel) >= g.inflight_cap {
            g.inflight.fetch_sub(1, Ordering::AcqRel);
            return Err(GatewayError::Busy);
        }
        let corr = g.next_corr.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = tokio::sync::oneshot::channel();
        lock(&g.waiters).insert(corr, tx);
        match g.commands.try_send(Envelope { corr, cmd }) {
            Ok(()) => {}
            Err(e) => {
                lock(&g.waiters).remove(&corr);
                g.inflight.fetch_sub(1, Ordering::AcqRel);
                return Err(match e {
                    TrySendError::Full(_) => GatewayError::Busy,
                    TrySendError::Disconnected(_) => GatewayError::Closed,
                });
            }
        }
        match tokio::time::timeout(g.reply_timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(GatewayError::Closed),
            Err(_) => {
                // The pump still consumes (and drops) a late reply, which
                // is what releases this command's in-flight slot.
                lock(&g.waiters).remove(&corr);
                Err(GatewayError::Timeout)
            }
        }
    }

    /// Drains the outbound channel: applies statuses to the read model and
    /// completes waiting requests, in emission order. Returns the number of
    /// messages handled. Never blocks.
    pub fn pump(&self) -> usize {
        let g = &self.0;
        let mut n = 0;
        loop {
            match g.outbound.try_recv() {
                Ok(Outbound::Status { seq, status }) => {
                    write(&g.read).apply(seq, &status);
                }
                Ok(Outbound::Reply { seq, corr, reply }) => {
                    {
                        let mut rm = write(&g.read);
                        match &reply {
                            // A replayed create carries the status at
                            // creation, not the current one: never applied.
                            Reply::Created {
                                status,
                                replayed: false,
                            }
                            | Reply::Updated(status) => rm.apply(seq, status),
                            Reply::Created { replayed: true, .. } => {}
                            Reply::KillSwitch { active, .. } => rm.kill_switch = *active,
                            Reply::Refused(_) => {}
                        }
                    }
                    g.inflight.fetch_sub(1, Ordering::AcqRel);
                    if let Some(w) = lock(&g.waiters).remove(&corr) {
                        let _ = w.send(reply);
                    }
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
            n += 1;
        }
        n
    }

    /// Commands sent whose replies have not been pumped yet.
    pub fn inflight(&self) -> usize {
        self.0.inflight.load(Ordering::Acquire)
    }

    /// The latest known status of a parent.
    pub fn get(&self, id: ParentId) -> Option<ParentStatus> {
        read(&self.0.read).orders.get(&id).map(|e| e.1)
    }

    /// Every known parent whose state passes `filter`, by id.
    pub fn list(&self, mut filter: impl FnMut(&ParentStatus) -> bool) -> Vec<ParentStatus> {
        let mut v: Vec<ParentStatus> = read(&self.0.read)
            .orders
            .values()
            .map(|e| e.1)
            .filter(|s| filter(s))
            .collect();
        v.sort_unstable_by_key(|s| s.id);
        v
    }

    /// The kill switch as of the last kill-switch reply.
    pub fn kill_switch(&self) -> bool {
        read(&self.0.read).kill_switch
    }

    /// Statistics for metrics and health.
    pub fn stats(&self) -> GatewayStats {
        GatewayStats(self.0.shared.clone())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(m: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(m: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

/// One message waiting in the hot side's backlog.
#[derive(Clone, Copy, Debug)]
enum Pending {
    /// The latest status of this parent is in the dirty table.
    Status(ParentId),
    /// A reply, with its sequence number.
    Reply(u64, Correlation, Reply),
}

/// A fixed-capacity FIFO ring (never grows).
#[derive(Debug)]
struct Backlog {
    slots: Vec<Option<Pending>>,
    head: usize,
    len: usize,
}

impl Backlog {
    fn new(cap: usize) -> Backlog {
        Backlog {
            slots: vec![None; cap.max(1)],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, p: Pending) -> bool {
        if self.len == self.slots.len() {
            return false;
        }
        let i = (self.head + self.len) % self.slots.len();
        self.slots[i] = Some(p);
        self.len += 1;
        true
    }

    fn front(&self) -> Option<Pending> {
        (self.len > 0).then(|| self.slots[self.head]).flatten()
    }

    fn pop(&mut self) {
        if self.len > 0 {
            self.slots[self.head] = None;
            self.head = (self.head + 1) % self.slots.len();
            self.len -= 1;
        }
    }
}

/// Open-addressing table (linear probing, backward-shift deletion) from
/// parent id to its latest undelivered status. Fixed capacity.
#[derive(Debug)]
struct DirtyTable {
    slots: Vec<Option<(u64, ParentStatus)>>,
    len: usize,
}

impl DirtyTable {
    fn new(cap: usize) -> DirtyTable {
        DirtyTable {
            slots: vec![None; cap.max(2).next_power_of_two()],
            len: 0,
        }
    }

    fn home(&self, id: ParentId) -> usize {
        // Fibonacci hashing spreads consecutive ids.
        (id.wrapping_mul(0x9E37_79B9) as usize) & (self.slots.len() - 1)
    }

    fn find(&self, id: ParentId) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut i = self.home(id);
        for _ in 0..self.slots.len() {
            match &self.slots[i] {
                None => return None,
                Some((_, s)) if s.id == id => return Some(i),
                Some(_) => i = (i + 1) & mask,
            }
        }
        None
    }

    fn get(&self, id: ParentId) -> Option<(u64, ParentStatus)> {
        self.find(id).and_then(|i| self.slots[i])
    }

    /// Inserts or overwrites. `Some(true)` = new entry, `Some(false)` =
    /// overwritten, `None` = full (kept at most half full, so never in use).
    fn upsert(&mut self, seq: u64, s: ParentStatus) -> Option<bool> {
        if let Some(i) = self.find(s.id) {
            self.slots[i] = Some((seq, s));
            return Some(false);
        }
        if self.len * 2 >= self.slots.len() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(s.id);
        while self.slots[i].is_some() {
            i = (i + 1) & mask;
        }
        self.slots[i] = Some((seq, s));
        self.len += 1;
        Some(true)
    }

    fn remove(&mut self, id: ParentId) {
        let Some(mut hole) = self.find(id) else {
            return;
        };
        let mask = self.slots.len() - 1;
        self.slots[hole] = None;
        self.len -= 1;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let Some((_, s)) = self.slots[j] else {
                return;
            };
            let home = self.home(s.id);
            // Move the entry back if the hole lies between its home and j.
            let dist_j = j.wrapping_sub(home) & mask;
            let dist_hole = hole.wrapping_sub(home) & mask;
            if dist_hole < dist_j {
                self.slots[hole] = self.slots[j].take();
                hole = j;
            }
        }
    }
}

/// The engine side of the bridge, owned by the hot thread. Nothing here
/// blocks (except [`EngineEndpoint::wait`], for idle strategies that park),
/// locks or allocates.
#[derive(Debug)]
pub struct EngineEndpoint {
    commands: Receiver<Envelope>,
    outbound: Sender<Outbound>,
    stash: Option<Envelope>,
    backlog: Backlog,
    dirty: DirtyTable,
    seq: u64,
    disconnected: bool,
    shared: Arc<Shared>,
}

impl EngineEndpoint {
    /// Marks the engine ready (commands are drained) or not; requests made
    /// while not ready get 503 `engine_not_ready`.
    pub fn set_ready(&self, ready: bool) {
        self.shared.ready.store(ready, Ordering::Release);
    }

    /// The duty cycle's command step: first pushes what waits in the
    /// backlog, then hands at most `limit` commands to `handle` in arrival
    /// order (the runtime passes `engine.command_drain_limit`). Returns the
    /// number handled.
    pub fn drain(&mut self, limit: usize, mut handle: impl FnMut(Envelope)) -> usize {
        self.flush();
        let mut n = 0;
        while n < limit {
            let env = match self.stash.take() {
                Some(e) => e,
                None => match self.commands.try_recv() {
                    Ok(e) => e,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.disconnected = true;
                        break;
                    }
                },
            };
            handle(env);
            n += 1;
        }
        n
    }

    /// Blocks up to `timeout` until a command is available (it is kept for
    /// the next [`EngineEndpoint::drain`]). For `park` idle strategies and
    /// test loops, never for a spinning hot thread. True if one is waiting.
    pub fn wait(&mut self, timeout: Duration) -> bool {
        if self.stash.is_some() {
            return true;
        }
        match self.commands.recv_timeout(timeout) {
            Ok(e) => {
                self.stash = Some(e);
                true
            }
            Err(channel::RecvTimeoutError::Timeout) => false,
            Err(channel::RecvTimeoutError::Disconnected) => {
                self.disconnected = true;
                false
            }
        }
    }

    /// True once the control side has dropped every [`Gateway`] and no
    /// command is left.
    pub fn is_disconnected(&self) -> bool {
        self.disconnected
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Publishes the reply to command `corr`.
    pub fn reply(&mut self, corr: Correlation, reply: Reply) {
        let seq = self.next_seq();
        if self.backlog.len == 0 {
            match self.outbound.try_send(Outbound::Reply { seq, corr, reply }) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(_)) => {}
            }
        }
        if !self.backlog.push(Pending::Reply(seq, corr, reply)) {
            // Cannot happen: replies waiting ≤ commands in flight ≤ the
            // command queue, which the backlog has room for.
            self.shared.replies_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Publishes that a parent changed.
    pub fn status(&mut self, status: &ParentStatus) {
        let seq = self.next_seq();
        if self.backlog.len == 0 {
            match self.outbound.try_send(Outbound::Status {
                seq,
                status: *status,
            }) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(_)) => {}
            }
        }
        match self.dirty.upsert(seq, *status) {
            Some(false) => {}
            Some(true) => {
                if !self.backlog.push(Pending::Status(status.id)) {
                    self.dirty.remove(status.id);
                    self.shared.status_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                self.shared.status_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Pushes backlogged messages until the outbound channel is full.
    /// [`EngineEndpoint::drain`] calls it; call it too when a cycle emitted
    /// replies or statuses after its drain.
    pub fn flush(&mut self) {
        while let Some(p) = self.backlog.front() {
            let msg = match p {
                Pending::Reply(seq, corr, reply) => Outbound::Reply { seq, corr, reply },
                Pending::Status(id) => match self.dirty.get(id) {
                    Some((seq, status)) => Outbound::Status { seq, status },
                    None => {
                        self.backlog.pop();
                        continue;
                    }
                },
            };
            match self.outbound.try_send(msg) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => {
                    if let Pending::Status(id) = p {
                        self.dirty.remove(id);
                    }
                    self.backlog.pop();
                }
                Err(TrySendError::Full(_)) => return,
            }
        }
    }

    /// Messages waiting in the backlog.
    pub fn backlog_len(&self) -> usize {
        self.backlog.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(id: ParentId, filled: u32) -> ParentStatus {
        ParentStatus {
            id,
            order: NewIceberg {
                client_order_id: ClientOrderId::new("x").unwrap(),
                symbol: Symbol::new("AAPL").unwrap(),
                side: Side::Buy,
                total: Qty(1000),
                display: Qty(100),
                price_limit: Price4(1_000_000),
                variance_ppm: 0,
                min_delay_ms: 0,
                max_delay_ms: 0,
                tif: TimeInForce::Day,
                peg: false,
                received_at_ms: 0,
            },
            state: ParentState::Working,
            filled: Qty(filled),
            live: Qty(0),
            children: 0,
            notional_filled: 0,
            cancel_pending: false,
            reason: None,
        }
    }

    fn small() -> Config {
        let mut c = Config::default();
        c.pools.command_queue = 2;
        c.pools.parents = 4;
        c
    }

    #[test]
    fn client_order_id_rules() {
        assert_eq!(ClientOrderId::new("abc-1").unwrap().as_str(), "abc-1");
        assert!(ClientOrderId::new("").is_none());
        assert!(ClientOrderId::new("a b").is_none());
        assert!(ClientOrderId::new("é").is_none());
        assert!(ClientOrderId::new(&"x".repeat(64)).is_some());
        assert!(ClientOrderId::new(&"x".repeat(65)).is_none());
    }

    #[test]
    fn dirty_table_matches_a_hashmap() {
        // Random upserts and removes against a reference map.
        let mut t = DirtyTable::new(16);
        let mut m: HashMap<ParentId, u64> = HashMap::new();
        let mut x: u64 = 0x1234_5678;
        for step in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = (x % 24) as ParentId;
            if x & 0x100 == 0 {
                let r = t.upsert(step, status(id, 0));
                match r {
                    Some(_) => {
                        m.insert(id, step);
                    }
                    None => assert!(m.len() * 2 >= 16 && !m.contains_key(&id)),
                }
            } else {
                t.remove(id);
                m.remove(&id);
            }
            assert_eq!(t.len, m.len());
            for id in 0..24 {
                assert_eq!(t.get(id).map(|e| e.0), m.get(&id).copied(), "id {id}");
            }
        }
    }

    #[test]
    fn backlog_keeps_order_and_coalesces_without_loss() {
        let (gw, mut ep) = channel(&small());
        // The outbound channel holds 2 + 4 = 6; emit far more.
        for round in 1..=50u32 {
            for id in 0..4 {
                ep.status(&status(id, round));
            }
        }
        ep.reply(9, Reply::Updated(status(2, 50)));
        assert!(ep.backlog_len() > 0);
        // Pump and flush alternately until everything has crossed.
        let mut guard = 0;
        while ep.backlog_len() > 0 {
            gw.pump();
            ep.flush();
            guard += 1;
            assert!(guard < 100, "backlog never drained");
        }
        gw.pump();
        for id in 0..4 {
            assert_eq!(gw.get(id).unwrap().filled, Qty(50), "parent {id}");
        }
        assert_eq!(gw.stats().status_dropped(), 0);
    }

    #[test]
    fn an_older_reply_never_rolls_the_read_model_back() {
        let (gw, mut ep) = channel(&small());
        // Fill the outbound channel so that what follows goes to the backlog.
        for id in 0..6 {
            ep.status(&status(id % 4, 1));
        }
        ep.status(&status(1, 2));
        ep.reply(5, Reply::Updated(status(1, 3)));
        ep.status(&status(1, 4)); // coalesced into the earlier backlog entry
        while ep.backlog_len() > 0 {
            gw.pump();
            ep.flush();
        }
        gw.pump();
        assert_eq!(gw.get(1).unwrap().filled, Qty(4));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn busy_not_ready_and_timeout() {
        let mut cfg = small();
        cfg.control.reply_timeout_ms = 20;
        let (gw, ep) = channel(&cfg);
        assert_eq!(
            gw.request(Command::KillSwitch(true)).await,
            Err(GatewayError::NotReady)
        );
        ep.set_ready(true);
        // Nobody drains: the first two time out and stay in flight.
        assert_eq!(
            gw.request(Command::Cancel(1)).await,
            Err(GatewayError::Timeout)
        );
        assert_eq!(
            gw.request(Command::Cancel(2)).await,
            Err(GatewayError::Timeout)
        );
        assert_eq!(gw.inflight(), 2);
        assert_eq!(
            gw.request(Command::Cancel(3)).await,
            Err(GatewayError::Busy)
        );
        assert_eq!(gw.inflight(), 2);
    }

    #[test]
    fn drain_respects_the_limit_and_order() {
        let mut cfg = small();
        cfg.pools.command_queue = 8;
        let (gw, mut ep) = channel(&cfg);
        for corr in 1..=5 {
            gw.0.commands
                .try_send(Envelope {
                    corr,
                    cmd: Command::Cancel(corr as u32),
                })
                .unwrap();
        }
        let mut seen = Vec::new();
        assert_eq!(ep.drain(3, |e| seen.push(e.corr)), 3);
        assert!(ep.wait(Duration::from_millis(1)));
        assert_eq!(ep.drain(10, |e| seen.push(e.corr)), 2);
        assert_eq!(seen, vec![1, 2, 3, 4, 5]);
        assert!(!ep.wait(Duration::from_millis(1)));
    }
}
