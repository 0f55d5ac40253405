//! The sans-IO engine and the pinned duty-cycle runtime that drives it.
