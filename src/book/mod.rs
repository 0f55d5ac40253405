//! L3 order books per symbol, driven by ITCH 5.0 operations, preallocated.
//!
//! A [`Book`] holds every resting order of one symbol by reference number
//! (an open-addressing table) and the displayed quantity per price level on
//! each side (a sorted array with the best level at the end, where most of a
//! feed's activity lands). Its API speaks in book operations — add, execute,
//! cancel, delete, replace — not in wire messages; `feed::itch` maps ITCH
//! onto it. [`Books`] is the set of books of a feed, with the stock-locate
//! table and the [`Counters`] the feed handler keeps; its books share one
//! market-wide order window indexed by the reference's low bits (ITCH
//! references increase market-wide, so the orders a feed is busy with sit
//! side by side), in front of each book's own table, and are reached as
//! [`BookMut`] (operations) and [`BookRef`] (queries).
//!
//! Guarantees: storage is allocated at construction and never grows; no
//! operation allocates or panics on any input; an operation that returns a
//! [`BookError`] has changed nothing.
#![forbid(unsafe_code)]

mod books;
mod ladder;
mod order_book;
mod orders;
mod window;

pub use books::{BookMut, BookRef, Books, BooksError, Counters, Locate, MAX_BOOKS};
pub use order_book::{Book, BookError, OrderInfo, Top, TopMark};
