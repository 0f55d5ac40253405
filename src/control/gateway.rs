//! The bridge between the control thread and the engine's hot thread.
//!
//! ```text
//!  control thread                                     hot thread
//!  Gateway::request ─► commands (bounded, try_send) ─► EngineEndpoint::drain (≤ limit per cycle)
//!                                                      Engine::on_command ─► Outbox
//!  Gateway::pump ◄─ outbound (bounded) ◄─ backlog ◄─── EngineEndpoint::route(Reply | Status)
//!   └─► read model (parent id → latest ParentStatus) ─► GET / list
//! ```
//!
//! The runtime's part, once per duty cycle:
//!
//! ```ignore
//! endpoint.drain(cfg.engine.command_drain_limit, |cmd| engine.on_command(now, cmd, &mut out).is_ok());
//! for action in out.drain() {
//!     if !endpoint.route(&action) {
//!         // Journal → append; Send → order session
//!     }
//! }
//! endpoint.flush();
//! ```
//!
//! Guarantees:
//! - the control side never waits for queue space: a full command queue, or
//!   `pools.command_queue` commands already waiting for replies, is
//!   [`GatewayError::Busy`] (HTTP 503 `engine_busy`);
//! - the hot side never blocks, locks or allocates: it only `try_recv`s
//!   commands and `try_send`s outbound messages (the control side never
//!   blocks in `recv` on the outbound channel, so those sends never wake a
//!   sleeper); what does not fit waits in a preallocated backlog that keeps
//!   emission order and coalesces statuses per parent, so nothing is lost
//!   while the control thread lags;
//! - a reply is held until [`EngineEndpoint::flush`], so it crosses after the
//!   statuses its command produced (the engine emits them after the reply);
//! - every outbound message carries a sequence number stamped on the hot
//!   side; the read model ignores a status older than the one it holds, so it
//!   is never rolled back, and a request completes only after everything
//!   emitted before its reply has been applied (read-your-writes for GET).
//!
//! The control side drains the outbound channel by polling
//! ([`Gateway::pump`], run by `control::spawn` on its own thread): every
//! 100 µs while replies are awaited, every 2 ms otherwise.
//!
//! Engine time is converted to wall-clock time for `created_at` through a
//! clock anchor ([`EngineEndpoint::set_clock_anchor`]); without one, engine
//! time is taken to be Unix-epoch nanoseconds, which is what keeps a
//! replayed `created_at` right across restarts.

use crate::algo::{IcebergParams, StatusCode};
use crate::config::Config;
use crate::engine::{Action, ClientOrderId, Command, CommandKind, Engine, ParentStatus, Reply};
use crate::time::Nanos;
use crossbeam::channel::{self, Receiver, Sender, TryRecvError, TrySendError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Correlates a command with its reply (the engine's `Command::correlation`).
pub type Correlation = u64;

/// The engine's id of a parent order (never reused).
pub type ParentId = u32;

/// True for FILLED, CANCELLED and REJECTED.
pub const fn is_terminal(s: StatusCode) -> bool {
    matches!(
        s,
        StatusCode::Filled | StatusCode::Cancelled | StatusCode::Rejected
    )
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
    /// The engine starts (or stops) draining commands. Travels in order, so
    /// the control side is ready only once every status published before
    /// it (after recovery: all of them) is in the read model.
    Ready(bool),
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
    /// Engine time and Unix time (ns) of one instant; both zero = engine
    /// time is Unix time.
    anchor_engine_ns: AtomicU64,
    anchor_unix_ns: AtomicU64,
}

/// Read-only view of a gateway's shared state, for `/metrics`, `/healthz`
/// and time conversion.
#[derive(Clone, Debug)]
pub struct GatewayStats(Arc<Shared>);

impl GatewayStats {
    /// The engine drains commands.
    pub fn ready(&self) -> bool {
        self.0.ready.load(Ordering::Acquire)
    }

    /// Statuses lost because the backlog was full (stays 0 by sizing).
    pub fn status_dropped(&self) -> u64 {
        self.0.status_dropped.load(Ordering::Relaxed)
    }

    /// Replies lost because the backlog was full (stays 0 by sizing).
    pub fn replies_dropped(&self) -> u64 {
        self.0.replies_dropped.load(Ordering::Relaxed)
    }

    /// Engine time as Unix milliseconds, through the clock anchor.
    pub fn unix_ms(&self, t: Nanos) -> u64 {
        let e = self.0.anchor_engine_ns.load(Ordering::Acquire);
        let u = self.0.anchor_unix_ns.load(Ordering::Acquire);
        let unix_ns = if t.0 >= e {
            u.saturating_add(t.0 - e)
        } else {
            u.saturating_sub(e - t.0)
        };
        unix_ns / 1_000_000
    }
}

/// The control side's view of the engine's parents.
#[derive(Debug, Default)]
struct ReadModel {
    orders: HashMap<ParentId, (u64, ParentStatus)>,
    kill_switch: bool,
    /// Entries kept at most; finished parents are dropped lowest id first
    /// beyond it (the engine evicts them the same way).
    cap: usize,
}

impl ReadModel {
    fn apply(&mut self, seq: u64, s: &ParentStatus) {
        match self.orders.get_mut(&s.parent) {
            Some(e) if e.0 > seq => {}
            Some(e) => *e = (seq, *s),
            None => {
                self.orders.insert(s.parent, (seq, *s));
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
            .filter(|(_, s)| is_terminal(s.status))
            .map(|(_, s)| s.parent)
            .collect();
        finished.sort_unstable();
        let excess = self.orders.len().saturating_sub(self.cap);
        for id in finished.into_iter().take(excess) {
            self.orders.remove(&id);
        }
    }
}

/// A request waiting for its reply, with what a create asked for (to
/// answer GET at once even when the engine had to defer the status).
#[derive(Debug)]
struct Waiter {
    tx: tokio::sync::oneshot::Sender<Reply>,
    create: Option<(ClientOrderId, IcebergParams)>,
}

#[derive(Debug)]
struct Inner {
    commands: Sender<Command>,
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

/// Builds both ends from the configuration: a command queue of
/// `pools.command_queue`, an outbound channel and backlog sized for every
/// parent plus every command.
pub fn channel(config: &Config) -> (Gateway, EngineEndpoint) {
    let queue = config.pools.command_queue.max(1);
    let parents = config.pools.parents.max(1);
    let (cmd_tx, cmd_rx) = channel::bounded(queue);
    let (out_tx, out_rx) = channel::bounded(queue + parents);
    let shared = Arc::new(Shared {
        ready: AtomicBool::new(false),
        status_dropped: AtomicU64::new(0),
        replies_dropped: AtomicU64::new(0),
        anchor_engine_ns: AtomicU64::new(0),
        anchor_unix_ns: AtomicU64::new(0),
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
        held: Backlog::new(queue),
        backlog: Backlog::new(queue + 2 * parents),
        dirty: DirtyTable::new(2 * parents),
        seq: 0,
        disconnected: false,
        shared,
    };
    (gw, ep)
}

/// The status the engine gives a parent at acceptance (what its first
/// `Status` action will say, unless more happened in the same input).
fn accepted_status(
    parent: ParentId,
    coid: ClientOrderId,
    p: &IcebergParams,
    created_at: Nanos,
) -> ParentStatus {
    ParentStatus {
        parent,
        client_order_id: coid,
        symbol: p.symbol,
        side: p.side,
        status: StatusCode::New,
        total: p.total,
        requested_total: p.total,
        filled: crate::types::Qty::ZERO,
        live: crate::types::Qty::ZERO,
        leaves: p.total,
        remaining: p.total,
        display: p.display,
        limit: p.limit,
        peg: p.peg,
        notional: 0,
        children: 0,
        cancel_pending: false,
        waiting: None,
        last_reason: None,
        created_at,
        updated_at: created_at,
    }
}

impl Gateway {
    /// Sends a command and waits (bounded by `control.reply_timeout_ms`) for
    /// its reply. Never waits for queue space.
    pub async fn request(&self, kind: CommandKind) -> Result<Reply, GatewayError> {
        let g = &self.0;
        if !g.shared.ready.load(Ordering::Acquire) {
            return Err(GatewayError::NotReady);
        }
        if g.inflight.fetch_add(1, Ordering::AcqRel) >= g.inflight_cap {
            g.inflight.fetch_sub(1, Ordering::AcqRel);
            return Err(GatewayError::Busy);
        }
        let correlation = g.next_corr.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let create = match kind {
            CommandKind::NewIceberg {
                client_order_id,
                params,
                ..
            } => Some((client_order_id, params)),
            _ => None,
        };
        lock(&g.waiters).insert(correlation, Waiter { tx, create });
        if let Err(e) = g.commands.try_send(Command { correlation, kind }) {
            lock(&g.waiters).remove(&correlation);
            g.inflight.fetch_sub(1, Ordering::AcqRel);
            return Err(match e {
                TrySendError::Full(_) => GatewayError::Busy,
                TrySendError::Disconnected(_) => GatewayError::Closed,
            });
        }
        match tokio::time::timeout(g.reply_timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(GatewayError::Closed),
            Err(_) => {
                // The pump still consumes (and drops) a late reply, which is
                // what releases this command's in-flight slot.
                lock(&g.waiters).remove(&correlation);
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
                    let waiter = lock(&g.waiters).remove(&corr);
                    {
                        let mut rm = write(&g.read);
                        match reply {
                            Reply::KillSwitch { on } => rm.kill_switch = on,
                            Reply::Accepted {
                                parent,
                                created_at,
                                replay: false,
                                ..
                            } => {
                                // Only when the engine deferred the status:
                                // never over a status it already sent.
                                if let Some((coid, params)) = waiter.as_ref().and_then(|w| w.create)
                                {
                                    if !rm.orders.contains_key(&parent) {
                                        let s = accepted_status(parent, coid, &params, created_at);
                                        rm.apply(seq, &s);
                                    }
                                }
                            }
                            // Query answers and the rest carry nothing newer
                            // than the statuses already applied.
                            _ => {}
                        }
                    }
                    g.inflight.fetch_sub(1, Ordering::AcqRel);
                    if let Some(w) = waiter {
                        let _ = w.tx.send(reply);
                    }
                }
                Ok(Outbound::Ready(r)) => g.shared.ready.store(r, Ordering::Release),
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

    /// Every known parent that passes `filter`, by id.
    pub fn list(&self, mut filter: impl FnMut(&ParentStatus) -> bool) -> Vec<ParentStatus> {
        let mut v: Vec<ParentStatus> = read(&self.0.read)
            .orders
            .values()
            .map(|e| e.1)
            .filter(|s| filter(s))
            .collect();
        v.sort_unstable_by_key(|s| s.parent);
        v
    }

    /// The kill switch as of the last kill-switch reply.
    pub fn kill_switch(&self) -> bool {
        read(&self.0.read).kill_switch
    }

    /// Statistics, readiness and time conversion.
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

/// One message waiting on the hot side.
#[derive(Clone, Copy, Debug)]
enum Pending {
    /// The latest status of this parent is in the dirty table.
    Status(ParentId),
    /// A reply (its sequence number is stamped when it leaves `held`).
    Reply(u64, Correlation, Reply),
    /// A readiness change.
    Ready(bool),
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
        if self.len == 0 {
            return None;
        }
        self.slots[self.head]
    }

    fn pop(&mut self) -> Option<Pending> {
        if self.len == 0 {
            return None;
        }
        let p = self.slots[self.head].take();
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        p
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
                Some((_, s)) if s.parent == id => return Some(i),
                Some(_) => i = (i + 1) & mask,
            }
        }
        None
    }

    fn get(&self, id: ParentId) -> Option<(u64, ParentStatus)> {
        self.find(id).and_then(|i| self.slots[i])
    }

    /// Inserts or overwrites. `Some(true)` = new entry, `Some(false)` =
    /// overwritten, `None` = full (the table is kept at most half full).
    fn upsert(&mut self, seq: u64, s: ParentStatus) -> Option<bool> {
        if let Some(i) = self.find(s.parent) {
            self.slots[i] = Some((seq, s));
            return Some(false);
        }
        if self.len * 2 >= self.slots.len() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(s.parent);
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
            let home = self.home(s.parent);
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
    commands: Receiver<Command>,
    outbound: Sender<Outbound>,
    stash: Option<Command>,
    /// Replies of the current cycle, released by `flush`.
    held: Backlog,
    backlog: Backlog,
    dirty: DirtyTable,
    seq: u64,
    disconnected: bool,
    shared: Arc<Shared>,
}

impl EngineEndpoint {
    /// Marks the engine ready (commands are drained) or not; requests made
    /// while not ready get 503 `engine_not_ready`. The change reaches the
    /// control side behind everything published before it.
    pub fn set_ready(&mut self, ready: bool) {
        self.flush();
        if self.backlog.len == 0 {
            match self.outbound.try_send(Outbound::Ready(ready)) {
                Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(_)) => {}
            }
        }
        if !self.backlog.push(Pending::Ready(ready)) {
            // The backlog is sized for every parent and command; readiness
            // must not be lost, so it is set directly as a last resort.
            self.shared.ready.store(ready, Ordering::Release);
        }
    }

    /// Declares that engine time `engine` and Unix time `unix_ns` are the
    /// same instant (for `created_at`). Not needed when the runtime's clock
    /// already counts Unix nanoseconds.
    pub fn set_clock_anchor(&self, engine: Nanos, unix_ns: u64) {
        self.shared
            .anchor_engine_ns
            .store(engine.0, Ordering::Release);
        self.shared.anchor_unix_ns.store(unix_ns, Ordering::Release);
    }

    /// The duty cycle's command step: first releases what waits in the
    /// backlog, then offers at most `limit` commands to `handle` in arrival
    /// order (the runtime passes `engine.command_drain_limit`). `handle`
    /// returns false when it could not take the command (the engine's
    /// outbox is full): that command is offered first next time and the
    /// drain stops. Returns the number taken.
    pub fn drain(&mut self, limit: usize, mut handle: impl FnMut(&Command) -> bool) -> usize {
        self.flush();
        let mut n = 0;
        while n < limit {
            let cmd = match self.stash.take() {
                Some(c) => c,
                None => match self.commands.try_recv() {
                    Ok(c) => c,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.disconnected = true;
                        break;
                    }
                },
            };
            if !handle(&cmd) {
                self.stash = Some(cmd);
                break;
            }
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
            Ok(c) => {
                self.stash = Some(c);
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

    /// Takes the control plane's share of the engine's outbox: replies and
    /// statuses. Returns false for every other action (journal records and
    /// sends stay the runtime's).
    pub fn route(&mut self, action: &Action) -> bool {
        match action {
            Action::Reply { correlation, reply } => {
                self.reply(*correlation, *reply);
                true
            }
            Action::Status(s) => {
                self.status(s);
                true
            }
            Action::Journal(_) | Action::Send(_) => false,
        }
    }

    /// Holds the reply to command `corr` until [`EngineEndpoint::flush`].
    pub fn reply(&mut self, corr: Correlation, reply: Reply) {
        if !self.held.push(Pending::Reply(0, corr, reply)) {
            // Cannot happen: replies held ≤ commands in flight ≤ the
            // command queue, which `held` has room for.
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
                if !self.backlog.push(Pending::Status(status.parent)) {
                    self.dirty.remove(status.parent);
                    self.shared.status_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                self.shared.status_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Publishes every parent's status (after recovery, before
    /// [`EngineEndpoint::set_ready`]). Cold path.
    pub fn publish_all(&mut self, engine: &Engine) {
        engine.for_each_status(|s| self.status(s));
        self.flush();
    }

    /// Releases held replies behind the statuses already published, then
    /// pushes the backlog until the outbound channel is full. Call it after
    /// routing a cycle's outbox; [`EngineEndpoint::drain`] calls it first.
    pub fn flush(&mut self) {
        while let Some(Pending::Reply(_, corr, reply)) = self.held.pop() {
            let seq = self.next_seq();
            let p = Pending::Reply(seq, corr, reply);
            if self.backlog.len == 0 {
                match self.outbound.try_send(Outbound::Reply { seq, corr, reply }) {
                    Ok(()) | Err(TrySendError::Disconnected(_)) => continue,
                    Err(TrySendError::Full(_)) => {}
                }
            }
            if !self.backlog.push(p) {
                self.shared.replies_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        while let Some(p) = self.backlog.front() {
            let msg = match p {
                Pending::Ready(r) => Outbound::Ready(r),
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

    /// Messages waiting in the backlog (held replies not counted).
    pub fn backlog_len(&self) -> usize {
        self.backlog.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::TimeInForce;
    use crate::types::{Price4, Qty, Side, Symbol};

    fn status(id: ParentId, filled: u32) -> ParentStatus {
        let params = IcebergParams {
            symbol: Symbol::new("AAPL").unwrap(),
            side: Side::Buy,
            total: Qty(1000),
            display: Qty(100),
            variance_ppm: 0,
            limit: Price4(1_000_000),
            min_delay_ms: 0,
            max_delay_ms: 0,
            tif: TimeInForce::Day,
            peg: false,
        };
        let mut s = accepted_status(id, ClientOrderId::new(b"x").unwrap(), &params, Nanos(5));
        s.filled = Qty(filled);
        s
    }

    fn small() -> Config {
        let mut c = Config::default();
        c.pools.command_queue = 2;
        c.pools.parents = 4;
        c
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
                match t.upsert(step, status(id, 0)) {
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
        ep.reply(9, Reply::KillSwitch { on: true });
        ep.flush();
        assert!(ep.backlog_len() > 0);
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
        assert!(gw.kill_switch());
        assert_eq!(gw.stats().status_dropped(), 0);
        assert_eq!(gw.stats().replies_dropped(), 0);
    }

    #[test]
    fn a_reply_crosses_after_the_statuses_of_its_cycle() {
        let (gw, mut ep) = channel(&small());
        // The engine emits the reply before the status of the same input.
        ep.reply(1, Reply::KillSwitch { on: true });
        ep.status(&status(3, 2));
        ep.flush();
        let first = gw.0.outbound.try_recv().unwrap();
        let second = gw.0.outbound.try_recv().unwrap();
        assert!(
            matches!(first, Outbound::Status { seq: 1, .. }),
            "{first:?}"
        );
        assert!(
            matches!(
                second,
                Outbound::Reply {
                    seq: 2,
                    corr: 1,
                    ..
                }
            ),
            "{second:?}"
        );
        // Also when the channel is full and both wait in the backlog.
        for id in 0..6 {
            ep.status(&status(id % 4, 10));
        }
        ep.reply(5, Reply::KillSwitch { on: false });
        ep.status(&status(1, 11));
        ep.flush();
        let mut order = Vec::new();
        while order.len() < 8 {
            match gw.0.outbound.try_recv() {
                Ok(Outbound::Status { status, .. }) => order.push(status.filled.0),
                Ok(Outbound::Reply { corr, .. }) => order.push(1000 + corr as u32),
                Ok(Outbound::Ready(_)) => unreachable!("no readiness change was made"),
                Err(_) => ep.flush(),
            }
        }
        assert_eq!(order, vec![10, 10, 10, 10, 10, 10, 11, 1005]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn busy_not_ready_and_timeout() {
        let mut cfg = small();
        cfg.control.reply_timeout_ms = 20;
        let (gw, ep) = channel(&cfg);
        assert_eq!(
            gw.request(CommandKind::KillSwitch { on: true }).await,
            Err(GatewayError::NotReady)
        );
        let mut ep = ep;
        ep.set_ready(true);
        assert!(!gw.stats().ready(), "ready before the pump saw it");
        gw.pump();
        assert!(gw.stats().ready());
        // Nobody drains: the first two time out and stay in flight.
        for parent in 1..=2 {
            assert_eq!(
                gw.request(CommandKind::Cancel { parent }).await,
                Err(GatewayError::Timeout)
            );
        }
        assert_eq!(gw.inflight(), 2);
        assert_eq!(
            gw.request(CommandKind::Cancel { parent: 3 }).await,
            Err(GatewayError::Busy)
        );
        assert_eq!(gw.inflight(), 2);
    }

    #[test]
    fn drain_respects_the_limit_order_and_refusals() {
        let mut cfg = small();
        cfg.pools.command_queue = 8;
        let (gw, mut ep) = channel(&cfg);
        for correlation in 1..=5 {
            gw.0.commands
                .try_send(Command {
                    correlation,
                    kind: CommandKind::Cancel {
                        parent: correlation as u32,
                    },
                })
                .unwrap();
        }
        let mut seen = Vec::new();
        assert_eq!(
            ep.drain(3, |c| {
                seen.push(c.correlation);
                true
            }),
            3
        );
        // The handler refuses the fourth: it is offered again first.
        assert_eq!(ep.drain(10, |_| false), 0);
        assert!(ep.wait(Duration::from_millis(1)));
        assert_eq!(
            ep.drain(10, |c| {
                seen.push(c.correlation);
                true
            }),
            2
        );
        assert_eq!(seen, vec![1, 2, 3, 4, 5]);
        assert!(!ep.wait(Duration::from_millis(1)));
    }

    #[test]
    fn clock_anchor_converts_engine_time() {
        let (gw, ep) = channel(&small());
        assert_eq!(
            gw.stats().unix_ms(Nanos(1_700_000_000_123_000_000)),
            1_700_000_000_123
        );
        ep.set_clock_anchor(Nanos(1_000_000_000), 1_700_000_000_000_000_000);
        assert_eq!(gw.stats().unix_ms(Nanos(1_250_000_000)), 1_700_000_000_250);
        assert_eq!(gw.stats().unix_ms(Nanos(0)), 1_699_999_999_000);
    }
}
