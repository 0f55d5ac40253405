//! The caller-provided output buffer of the engine.
//!
//! An [`Outbox`] holds a fixed number of [`Action`]s, allocated once. The
//! runtime processes them **in order**: a `Journal` record is appended before
//! any `Send` after it (write-ahead). A full outbox is a typed condition
//! ([`OutboxFull`]), never a grow: the engine defers the work and `poll`
//! resumes it once the caller has drained the outbox.

use crate::engine::command::{ParentStatus, Reply};
use crate::engine::record::Record;
use crate::order::OrderRequest;

/// One output of the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Append to the journal before processing any later action.
    Journal(Record),
    /// Hand to the order session.
    Send(OrderRequest),
    /// The answer to a command.
    Reply {
        /// The command's correlation id.
        correlation: u64,
        /// The answer.
        reply: Reply,
    },
    /// A parent changed (read model for the control plane).
    Status(ParentStatus),
}

/// The outbox had no room for an input's own output; the input was not
/// consumed and must be offered again after draining.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("outbox full")]
pub struct OutboxFull;

/// A fixed-capacity list of actions.
#[derive(Debug)]
pub struct Outbox {
    actions: Vec<Action>,
    capacity: usize,
}

impl Outbox {
    /// An outbox for `capacity` actions (at least 8).
    pub fn with_capacity(capacity: usize) -> Outbox {
        let capacity = capacity.max(8);
        Outbox {
            actions: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// Actions held.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Free slots.
    pub fn free(&self) -> usize {
        self.capacity - self.actions.len()
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The actions, in order.
    pub fn as_slice(&self) -> &[Action] {
        &self.actions
    }

    /// Iterates the actions in order.
    pub fn iter(&self) -> core::slice::Iter<'_, Action> {
        self.actions.iter()
    }

    /// Removes every action, in order (no allocation).
    pub fn drain(&mut self) -> std::vec::Drain<'_, Action> {
        self.actions.drain(..)
    }

    /// Empties the outbox.
    pub fn clear(&mut self) {
        self.actions.clear();
    }

    /// Appends an action, or [`OutboxFull`].
    pub(crate) fn push(&mut self, a: Action) -> Result<(), OutboxFull> {
        if self.actions.len() >= self.capacity {
            return Err(OutboxFull);
        }
        self.actions.push(a);
        Ok(())
    }
}
