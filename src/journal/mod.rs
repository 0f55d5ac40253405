//! The append-only memory-mapped journal and crash recovery.
