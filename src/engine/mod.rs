//! The sans-IO engine and the pinned duty-cycle runtime that drives it.
//!
//! - [`core`]: [`Engine`], the deterministic state machine (inputs: quotes,
//!   venue reports, commands, timers, session up/down; outputs into an
//!   [`Outbox`]);
//! - [`record`]: the journal records through which every state change goes,
//!   and their binary encoding;
//! - [`command`]: commands, replies and the parent read model;
//! - [`outbox`]: the fixed-capacity output buffer and its [`Action`]s;
//! - [`snapshot`]: snapshot and restore;
//! - [`index`], [`timer`]: the fixed-capacity map and timer heap;
//! - [`feed_thread`]: split mode's feed handler on its own pinned thread;
//! - [`recorder`]: the runtime's glue to the journal — records in, recovery
//!   out, the snapshot policy (the one module here that does I/O).
//!
//! Nothing here allocates after start-up (snapshots excepted), reads a
//! clock (the recorder's start-up and snapshot timings excepted), or panics
//! on any input.
#![forbid(unsafe_code)]

pub mod command;
pub mod core;
pub mod feed_thread;
pub mod idle;
pub mod index;
pub mod outbox;
pub mod record;
pub mod recorder;
pub mod runtime;
pub mod snapshot;
pub mod timer;

pub use self::core::{
    ApplyError, Counters, Engine, EngineOptions, LiveCounters, ID_LIMIT, INPUT_RESERVE,
    MAX_DRAWS_PER_CHILD,
};
pub use command::{
    Capacity, ClientOrderId, Command, CommandError, CommandKind, HaltReason, ParentReason,
    ParentStatus, Reply,
};
pub use outbox::{Action, Outbox, OutboxFull};
pub use record::{ChildIntent, Control, IntentKind, Record, RecordError};
pub use recorder::{Recorder, RecorderError, RecoveryReport, SnapshotStats};
pub use snapshot::SnapshotError;
