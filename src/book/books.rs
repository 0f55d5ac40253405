//! [`Books`]: the set of books, the stock-locate map and the feed counters.
//!
//! The books of a set share one market-wide order [`Window`] in front of
//! their own order tables: an order lives in the window slot of its
//! reference, or (when it outlived a turn of the window, or its reference
//! is too large for an entry) in its book's table. [`BookMut`] applies book
//! operations through both; [`BookRef`] reads a book of the set.

use super::order_book::{BookError, BookState, OrderInfo, Store, Top, TopMark};
use super::orders::{OrderTable, Probe, Resting};
use super::window::{Lookup, Window};
use crate::config::BookConfig;
use crate::types::{Level, Price4, Qty, Side, Symbol};
use std::collections::HashMap;

/// Locate-table value of a locate no directory message named.
const UNKNOWN: u16 = u16::MAX;
/// Locate-table value of a locate whose symbol got no book.
const IGNORED: u16 = u16::MAX - 1;
/// The most books a set can hold (book indexes are `u16` below the two markers).
pub const MAX_BOOKS: usize = (u16::MAX - 1) as usize;

/// What a stock locate maps to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locate {
    /// No stock directory message named this locate.
    Unknown,
    /// The directory named it, but its symbol has no book (filtered out by
    /// `book.only`, or all `book.symbols` books were taken).
    Ignored,
    /// The index of its book.
    Book(usize),
}

/// Counters kept by the feed handler as it applies messages. Every message
/// the book cannot trust is counted here, never acted on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Messages seen, by ITCH type byte (unknown types included).
    pub by_type: [u64; 256],
    /// Messages seen in total.
    pub messages: u64,
    /// Messages whose type byte ITCH 5.0 does not define (skipped).
    pub unknown_types: u64,
    /// Messages of a known type that failed to decode (skipped).
    pub decode_errors: u64,
    /// Execute, cancel, delete or replace of an order reference the book
    /// does not hold.
    pub unknown_refs: u64,
    /// Adds (or replaces) whose new reference the book already holds.
    pub duplicates: u64,
    /// Adds dropped because the order table, a side's levels, or a level's
    /// quantity was at capacity.
    pub capacity_drops: u64,
    /// Executions of more shares than the order had open (the order is
    /// taken off the book: the venue says it traded away).
    pub exec_exceeds_open: u64,
    /// Cancels of more shares than the order had open (the order is taken
    /// off the book).
    pub cancel_exceeds_open: u64,
    /// Order messages refused for a zero quantity or an out-of-range price.
    pub invalid_orders: u64,
    /// Order messages for a locate no directory message named.
    pub unknown_locates: u64,
    /// Order messages for a symbol that has no book (filtered or over capacity).
    pub untracked: u64,
    /// Directory entries whose symbol got no book.
    pub symbols_ignored: u64,
    /// Directory entries that named a locate already mapped to another symbol
    /// (the first mapping is kept).
    pub directory_conflicts: u64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            by_type: [0; 256],
            messages: 0,
            unknown_types: 0,
            decode_errors: 0,
            unknown_refs: 0,
            duplicates: 0,
            capacity_drops: 0,
            exec_exceeds_open: 0,
            cancel_exceeds_open: 0,
            invalid_orders: 0,
            unknown_locates: 0,
            untracked: 0,
            symbols_ignored: 0,
            directory_conflicts: 0,
        }
    }
}

/// Why a [`Books`] could not be built from its configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BooksError {
    /// A `book.only` entry is not a valid ITCH symbol.
    #[error("book.only: {0:?} is not a symbol (1-8 printable ASCII characters)")]
    BadSymbol(String),
    /// More books than locate indexes can address.
    #[error("book.symbols: at most {MAX_BOOKS} books")]
    TooManyBooks,
}

/// Up to `book.symbols` books, the stock-locate → book table (filled from
/// ITCH stock directory messages), and the feed [`Counters`].
///
/// [`Books::new`] and [`Books::with_capacity`] allocate every book up front;
/// a directory message only assigns a free one, and nothing grows
/// afterwards. [`Books::on_demand`] instead allocates each book when the
/// directory first names its symbol: for offline replay of whole-market
/// files, where most of a large `book.symbols` may never be used. The
/// market-wide order window is allocated up front either way (zeroed: its
/// pages are committed as references reach them, or by [`Books::prefault`]).
pub struct Books {
    /// Price levels and counts of each allocated book; up to `capacity`,
    /// all of them unless on demand.
    states: Vec<BookState>,
    /// Each allocated book's own order table (orders not in the window).
    tables: Vec<OrderTable>,
    /// The market-wide order window.
    window: Window,
    capacity: usize,
    orders_per_book: usize,
    levels_per_side: usize,
    /// Symbol of each assigned book; `len()` is the number assigned.
    symbols: Vec<Symbol>,
    /// 65,536 entries: book index, [`IGNORED`] or [`UNKNOWN`].
    locates: Box<[u16]>,
    by_symbol: HashMap<Symbol, u16>,
    /// Sorted `book.only`; empty = any symbol.
    only: Vec<Symbol>,
    /// What the feed handler counted.
    pub counters: Counters,
}

impl Books {
    /// Books sized by the `[book]` configuration, all allocated now.
    pub fn new(cfg: &BookConfig) -> Result<Books, BooksError> {
        Books::build(cfg, true)
    }

    /// Like [`Books::new`], but each book is allocated only when a stock
    /// directory message first assigns it (so an `R` message may allocate).
    /// For offline replay; a live appliance uses [`Books::new`].
    pub fn on_demand(cfg: &BookConfig) -> Result<Books, BooksError> {
        Books::build(cfg, false)
    }

    /// `symbols` books of `orders_per_book` orders and `levels_per_side`
    /// levels each, all allocated now; when `only` is not empty, only those
    /// symbols get books. The order window gets one slot per order of all
    /// books (a power of two, clamped to 2^12..=2^22 slots).
    pub fn with_capacity(
        symbols: usize,
        orders_per_book: usize,
        levels_per_side: usize,
        only: &[Symbol],
    ) -> Result<Books, BooksError> {
        let window = window_for(symbols, orders_per_book);
        Books::build_with(
            symbols,
            orders_per_book,
            levels_per_side,
            only.to_vec(),
            true,
            window,
        )
    }

    /// Like [`Books::with_capacity`] with an order window of `window_slots`
    /// slots (rounded up to a power of two, at most 2^22). The window's size
    /// changes where
    /// orders are kept, never what the books hold: a small window moves
    /// more orders to their books' tables.
    pub fn with_window(
        symbols: usize,
        orders_per_book: usize,
        levels_per_side: usize,
        only: &[Symbol],
        window_slots: usize,
    ) -> Result<Books, BooksError> {
        Books::build_with(
            symbols,
            orders_per_book,
            levels_per_side,
            only.to_vec(),
            true,
            Window::with_slots(window_slots),
        )
    }

    fn build(cfg: &BookConfig, eager: bool) -> Result<Books, BooksError> {
        let only = cfg
            .only
            .iter()
            .map(|s| Symbol::new(s).ok_or_else(|| BooksError::BadSymbol(s.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        Books::build_with(
            cfg.symbols,
            cfg.orders_per_book,
            cfg.levels_per_side,
            only,
            eager,
            window_for(cfg.symbols, cfg.orders_per_book),
        )
    }

    fn build_with(
        symbols: usize,
        orders_per_book: usize,
        levels_per_side: usize,
        mut only: Vec<Symbol>,
        eager: bool,
        window: Window,
    ) -> Result<Books, BooksError> {
        if symbols > MAX_BOOKS {
            return Err(BooksError::TooManyBooks);
        }
        only.sort_unstable();
        only.dedup();
        let mut books = Books {
            states: Vec::with_capacity(symbols),
            tables: Vec::with_capacity(symbols),
            window,
            capacity: symbols,
            orders_per_book,
            levels_per_side,
            symbols: Vec::with_capacity(symbols),
            locates: vec![UNKNOWN; 1 << 16].into_boxed_slice(),
            by_symbol: HashMap::with_capacity(symbols),
            only,
            counters: Counters::default(),
        };
        if eager {
            for _ in 0..symbols {
                books.allocate();
            }
        }
        Ok(books)
    }

    /// Allocates one more book (within the reserved capacity).
    fn allocate(&mut self) {
        self.states.push(BookState::with_capacity(
            self.orders_per_book,
            self.levels_per_side,
        ));
        self.tables
            .push(OrderTable::with_capacity(self.orders_per_book));
    }

    /// Applies a stock directory entry: maps `locate` to the book of
    /// `symbol`, assigning a free book on first sight. Returns the book
    /// index, or `None` when the symbol gets no book (counted in
    /// [`Counters::symbols_ignored`]) or the locate already names another
    /// symbol (counted in [`Counters::directory_conflicts`]).
    pub fn on_directory(&mut self, locate: u16, symbol: Symbol) -> Option<usize> {
        match self.locate(locate) {
            Locate::Book(i) => {
                if self.symbols.get(i) == Some(&symbol) {
                    return Some(i);
                }
                self.counters.directory_conflicts += 1;
                return None;
            }
            Locate::Ignored => return None,
            Locate::Unknown => {}
        }
        let slot = locate as usize;
        if let Some(&i) = self.by_symbol.get(&symbol) {
            if let Some(e) = self.locates.get_mut(slot) {
                *e = i;
            }
            return Some(i as usize);
        }
        let wanted = self.only.is_empty() || self.only.binary_search(&symbol).is_ok();
        let i = self.symbols.len();
        if !wanted || i >= self.capacity {
            self.counters.symbols_ignored += 1;
            if let Some(e) = self.locates.get_mut(slot) {
                *e = IGNORED;
            }
            return None;
        }
        if self.states.len() <= i {
            // On-demand mode: within the reserved capacity.
            self.allocate();
        }
        self.symbols.push(symbol);
        self.by_symbol.insert(symbol, i as u16);
        if let Some(e) = self.locates.get_mut(slot) {
            *e = i as u16;
        }
        Some(i)
    }

    /// What `locate` maps to.
    #[inline]
    pub fn locate(&self, locate: u16) -> Locate {
        match self
            .locates
            .get(locate as usize)
            .copied()
            .unwrap_or(UNKNOWN)
        {
            UNKNOWN => Locate::Unknown,
            IGNORED => Locate::Ignored,
            i => Locate::Book(i as usize),
        }
    }

    /// The index of `symbol`'s book.
    pub fn find(&self, symbol: &Symbol) -> Option<usize> {
        self.by_symbol.get(symbol).map(|&i| i as usize)
    }

    /// The book at `index`, if assigned.
    #[inline]
    pub fn book(&self, index: usize) -> Option<BookRef<'_>> {
        if index >= self.symbols.len() {
            return None;
        }
        Some(BookRef {
            state: self.states.get(index)?,
            table: self.tables.get(index)?,
            window: &self.window,
            book: index,
        })
    }

    /// The book at `index`, if assigned, to apply operations to.
    #[inline]
    pub fn book_mut(&mut self, index: usize) -> Option<BookMut<'_>> {
        self.split_mut(index).map(|(b, _, _)| b)
    }

    /// The book at `index` (if assigned), its symbol and the counters, all
    /// at once: what the feed handler needs to apply one message.
    #[inline(always)]
    pub fn split_mut(&mut self, index: usize) -> Option<(BookMut<'_>, Symbol, &mut Counters)> {
        let symbol = *self.symbols.get(index)?;
        // Every allocated book has a table (`allocate` pushes both).
        if index >= self.tables.len() {
            return None;
        }
        let book = BookMut {
            state: self.states.get_mut(index)?,
            orders: SetOrders {
                window: &mut self.window,
                tables: &mut self.tables,
                book: index,
            },
        };
        Some((book, symbol, &mut self.counters))
    }

    /// The symbol of the book at `index`.
    #[inline]
    pub fn symbol(&self, index: usize) -> Option<Symbol> {
        self.symbols.get(index).copied()
    }

    /// The book of `symbol`.
    pub fn by_symbol(&self, symbol: &Symbol) -> Option<BookRef<'_>> {
        self.find(symbol).and_then(|i| self.book(i))
    }

    /// Books assigned to a symbol so far.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// True when no book is assigned yet.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Books the set can assign (`book.symbols`).
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Every assigned book with its symbol, in assignment order.
    pub fn iter(&self) -> impl Iterator<Item = (Symbol, BookRef<'_>)> + '_ {
        self.symbols
            .iter()
            .enumerate()
            .filter_map(|(i, &s)| Some((s, self.book(i)?)))
    }

    /// Slots in the market-wide order window.
    pub fn window_slots(&self) -> usize {
        self.window.len()
    }

    /// Commits every book's pages and the order window's now (call at
    /// start-up on a live appliance).
    pub fn prefault(&mut self) {
        for s in &mut self.states {
            s.prefault();
        }
        for t in &mut self.tables {
            t.prefault();
        }
        self.window.prefault();
    }
}

/// The window for `symbols` books of `orders_per_book` orders each.
fn window_for(symbols: usize, orders_per_book: usize) -> Window {
    Window::for_capacity(symbols.saturating_mul(orders_per_book))
}

/// Where an order of a set's book sits.
#[derive(Clone, Copy, Debug)]
pub(crate) enum At {
    /// In the window, at this slot.
    Window(usize),
    /// In the book's own table, at this slot.
    Table(usize),
}

/// Where a new order of a set's book goes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Vacancy {
    /// Into this empty window slot, with this key.
    Window(usize, u64),
    /// Into this window slot, with this key, once its occupant has moved to
    /// its table.
    WindowTaken(usize, u64),
    /// Into the book's own table, at this slot.
    Table(usize),
}

/// Finds `order_ref` of `book`: in its window slot, or in the book's table
/// when the slot says an order of its reference bits may have moved there
/// (or the reference is too large for the window).
#[inline(always)]
fn find_order(
    window: &Window,
    table: &OrderTable,
    book: usize,
    order_ref: u64,
) -> Option<(At, Resting)> {
    if let Some((slot, key)) = window.locate(book, order_ref) {
        match window.lookup(slot, key) {
            Lookup::Here(r) => return Some((At::Window(slot), r)),
            Lookup::Absent => return None,
            Lookup::AskTable => {}
        }
    }
    match table.probe(order_ref) {
        Probe::Found(s) => Some((At::Table(s), table.at(s))),
        Probe::Vacant(_) => None,
    }
}

/// The orders of one book of a set: the shared window and every book's
/// table (an order moved out of the window goes to its own book's table,
/// whichever book is adding). `book` indexes `tables`.
pub(crate) struct SetOrders<'a> {
    window: &'a mut Window,
    tables: &'a mut [OrderTable],
    book: usize,
}

impl SetOrders<'_> {
    /// This book's table (always there: `split_mut` checked the index).
    #[inline(always)]
    fn own(&self) -> Option<&OrderTable> {
        self.tables.get(self.book)
    }

    #[inline(always)]
    fn own_mut(&mut self) -> Option<&mut OrderTable> {
        self.tables.get_mut(self.book)
    }

    /// Moves the order occupying window `slot` to its own book's table, and
    /// counts it in the slot. That table has room: its book's count
    /// includes the order, and the book's capacity bounds the count.
    #[inline(never)]
    fn evict(&mut self, slot: usize) {
        let Some((book, order_ref, order)) = self.window.occupant(slot) else {
            return;
        };
        match self.tables.get_mut(book) {
            Some(t) => match t.probe(order_ref) {
                Probe::Vacant(s) => t.insert_at(s, order_ref, order),
                Probe::Found(_) => debug_assert!(false, "evicted order in its table"),
            },
            None => debug_assert!(false, "window entry of no book"),
        }
        self.window.clear_slot(slot);
        self.window.note_evicted(slot);
    }
}

impl Store for SetOrders<'_> {
    type Loc = At;
    type Vacancy = Vacancy;

    #[inline(always)]
    fn find(&self, order_ref: u64) -> Option<(At, Resting)> {
        find_order(self.window, self.own()?, self.book, order_ref)
    }

    #[inline(always)]
    fn vacancy(&self, order_ref: u64) -> Option<Vacancy> {
        let own = self.own()?;
        let Some((slot, key)) = self.window.locate(self.book, order_ref) else {
            return match own.probe(order_ref) {
                Probe::Found(_) => None,
                Probe::Vacant(s) => Some(Vacancy::Table(s)),
            };
        };
        let taken = match self.window.lookup(slot, key) {
            Lookup::Here(_) => return None,
            Lookup::Absent => self.window.is_occupied(slot),
            Lookup::AskTable => {
                if let Probe::Found(_) = own.probe(order_ref) {
                    return None;
                }
                self.window.is_occupied(slot)
            }
        };
        Some(if taken {
            Vacancy::WindowTaken(slot, key)
        } else {
            Vacancy::Window(slot, key)
        })
    }

    #[inline(always)]
    fn insert(&mut self, at: Vacancy, order_ref: u64, r: Resting) {
        match at {
            Vacancy::Window(slot, key) => self.window.put(slot, key, r),
            Vacancy::WindowTaken(slot, key) => {
                // The order there outlived a turn of the window.
                self.evict(slot);
                self.window.put(slot, key, r);
            }
            Vacancy::Table(s) => {
                if let Some(t) = self.own_mut() {
                    t.insert_at(s, order_ref, r);
                }
            }
        }
    }

    #[inline(always)]
    fn set_qty(&mut self, at: At, qty: Qty) {
        match at {
            At::Window(slot) => self.window.set_qty(slot, qty),
            At::Table(s) => {
                if let Some(t) = self.own_mut() {
                    t.set_qty(s, qty);
                }
            }
        }
    }

    #[inline(always)]
    fn remove(&mut self, at: At) {
        match at {
            At::Window(slot) => self.window.clear_slot(slot),
            At::Table(s) => {
                let Some(t) = self.own_mut() else { return };
                let order_ref = t.ref_at(s);
                t.remove_at(s);
                // A table order with a window slot was moved out of it.
                if let Some(slot) = self.window.slot_of(order_ref) {
                    self.window.note_returned(slot);
                }
            }
        }
    }
}

/// A book of a [`Books`] set, to read: the same queries as
/// [`Book`](super::Book).
#[derive(Clone, Copy)]
pub struct BookRef<'a> {
    state: &'a BookState,
    table: &'a OrderTable,
    window: &'a Window,
    book: usize,
}

impl<'a> BookRef<'a> {
    /// A resting order by reference.
    #[inline]
    pub fn order(&self, order_ref: u64) -> Option<OrderInfo> {
        find_order(self.window, self.table, self.book, order_ref).map(|(_, r)| r.into())
    }

    /// The best (highest) bid level.
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.state.best_bid()
    }

    /// The best (lowest) offer level.
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.state.best_ask()
    }

    /// Best bid and best offer together.
    #[inline]
    pub fn top(&self) -> Top {
        self.state.top()
    }

    /// The fingerprint of the current top of book.
    #[inline]
    pub fn top_mark(&self) -> TopMark {
        self.state.top_mark()
    }

    /// Shares displayed at `price` on `side` (zero when there is no level).
    #[inline]
    pub fn qty_at(&self, side: Side, price: Price4) -> Qty {
        self.state.qty_at(side, price)
    }

    /// Writes the best `out.len()` levels of `side`, best first, into `out`;
    /// returns how many were written.
    #[inline]
    pub fn depth(&self, side: Side, out: &mut [Level]) -> usize {
        self.state.depth(side, out)
    }

    /// Every level of `side`, best first (not for the hot path).
    pub fn levels(&self, side: Side) -> impl Iterator<Item = Level> + 'a {
        self.state.levels(side)
    }

    /// Every resting order as `(reference, order)`, in no particular order
    /// (not for the hot path: reads the whole order window).
    pub fn orders(&self) -> impl Iterator<Item = (u64, OrderInfo)> + 'a {
        self.table
            .iter()
            .chain(self.window.iter_book(self.book))
            .map(|(k, r)| (k, r.into()))
    }

    /// Resting orders.
    #[inline]
    pub fn order_count(&self) -> usize {
        self.state.order_count()
    }

    /// Price levels on `side`.
    #[inline]
    pub fn level_count(&self, side: Side) -> usize {
        self.state.level_count(side)
    }

    /// The book's order capacity (`orders_per_book`).
    pub fn order_capacity(&self) -> usize {
        self.state.order_capacity()
    }

    /// The per-side level capacity (`levels_per_side`).
    pub fn level_capacity(&self) -> usize {
        self.state.level_capacity()
    }

    /// The most orders resting at once since the book was allocated.
    pub fn peak_orders(&self) -> usize {
        self.state.peak_orders()
    }

    /// The most levels on one side at once since the book was allocated.
    pub fn peak_levels(&self) -> usize {
        self.state.peak_levels()
    }
}

impl core::fmt::Debug for BookRef<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BookRef")
            .field("orders", &self.order_count())
            .field("bid_levels", &self.level_count(Side::Buy))
            .field("ask_levels", &self.level_count(Side::Sell))
            .field("top", &self.top())
            .finish()
    }
}

/// A book of a [`Books`] set, to apply operations to: the same operations,
/// with the same results and errors, as [`Book`](super::Book).
pub struct BookMut<'a> {
    state: &'a mut BookState,
    orders: SetOrders<'a>,
}

impl BookMut<'_> {
    /// Adds a resting order; see [`Book::add`](super::Book::add).
    #[inline]
    pub fn add(
        &mut self,
        order_ref: u64,
        side: Side,
        qty: Qty,
        price: Price4,
    ) -> Result<(), BookError> {
        self.state
            .add(&mut self.orders, order_ref, side, qty, price)
    }

    /// Executes shares of a resting order; see
    /// [`Book::execute`](super::Book::execute).
    #[inline]
    pub fn execute(&mut self, order_ref: u64, qty: Qty) -> Result<OrderInfo, BookError> {
        self.state.execute(&mut self.orders, order_ref, qty)
    }

    /// Cancels shares of a resting order; see
    /// [`Book::cancel`](super::Book::cancel).
    #[inline]
    pub fn cancel(&mut self, order_ref: u64, qty: Qty) -> Result<OrderInfo, BookError> {
        self.state.cancel(&mut self.orders, order_ref, qty)
    }

    /// Deletes a resting order; see [`Book::delete`](super::Book::delete).
    #[inline]
    pub fn delete(&mut self, order_ref: u64) -> Result<OrderInfo, BookError> {
        self.state.delete(&mut self.orders, order_ref)
    }

    /// Replaces a resting order; see [`Book::replace`](super::Book::replace).
    #[inline]
    pub fn replace(
        &mut self,
        old_ref: u64,
        new_ref: u64,
        qty: Qty,
        price: Price4,
    ) -> Result<OrderInfo, BookError> {
        self.state
            .replace(&mut self.orders, old_ref, new_ref, qty, price)
    }

    /// Best bid and best offer together.
    #[inline]
    pub fn top(&self) -> Top {
        self.state.top()
    }

    /// The fingerprint of the current top of book.
    #[inline]
    pub fn top_mark(&self) -> TopMark {
        self.state.top_mark()
    }
}

impl core::fmt::Debug for Books {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Books")
            .field("assigned", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    #[test]
    fn directory_assigns_books_and_honours_the_filter() {
        let mut b = Books::with_capacity(2, 16, 4, &[sym("AAPL"), sym("MSFT")]).unwrap();
        assert_eq!(b.locate(7), Locate::Unknown);
        assert_eq!(b.on_directory(7, sym("ZVZZT")), None);
        assert_eq!(b.locate(7), Locate::Ignored);
        assert_eq!(b.on_directory(1, sym("MSFT")), Some(0));
        assert_eq!(b.on_directory(2, sym("AAPL")), Some(1));
        // A repeat is idempotent, a second locate for a symbol shares its book.
        assert_eq!(b.on_directory(1, sym("MSFT")), Some(0));
        assert_eq!(b.on_directory(9, sym("AAPL")), Some(1));
        // A locate already mapped to another symbol keeps its first mapping.
        assert_eq!(b.on_directory(1, sym("AAPL")), None);
        assert_eq!(b.counters.directory_conflicts, 1);
        assert_eq!(b.counters.symbols_ignored, 1);
        assert_eq!(b.locate(65535), Locate::Unknown);
        assert_eq!(b.find(&sym("AAPL")), Some(1));
        assert_eq!(b.symbol(0), Some(sym("MSFT")));
        assert!(b.book(2).is_none());
    }

    #[test]
    fn books_beyond_capacity_are_ignored() {
        let mut b = Books::with_capacity(1, 16, 4, &[]).unwrap();
        assert_eq!(b.on_directory(1, sym("A")), Some(0));
        assert_eq!(b.on_directory(2, sym("B")), None);
        assert_eq!(b.locate(2), Locate::Ignored);
        assert_eq!(b.counters.symbols_ignored, 1);
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn on_demand_books_behave_like_preallocated_ones() {
        let cfg = BookConfig {
            symbols: 2,
            only: vec!["B".into(), "C".into(), "D".into()],
            orders_per_book: 8,
            levels_per_side: 4,
        };
        let mut b = Books::on_demand(&cfg).unwrap();
        assert_eq!((b.len(), b.capacity()), (0, 2));
        assert_eq!(b.on_directory(1, sym("A")), None);
        assert_eq!(b.on_directory(2, sym("B")), Some(0));
        assert_eq!(b.on_directory(3, sym("C")), Some(1));
        assert_eq!(b.on_directory(4, sym("D")), None);
        assert_eq!(b.counters.symbols_ignored, 2);
        let book = b.book(1).unwrap();
        assert_eq!((book.order_capacity(), book.level_capacity()), (8, 4));
        assert!(b.book(2).is_none());
    }

    #[test]
    fn bad_filter_symbol_is_a_config_error() {
        let cfg = BookConfig {
            only: vec!["TOO LONG SYMBOL".into()],
            ..BookConfig::default()
        };
        assert!(matches!(Books::new(&cfg), Err(BooksError::BadSymbol(_))));
    }
}
