//! [`Books`]: the set of books, the stock-locate map and the feed counters.

use super::order_book::Book;
use crate::config::BookConfig;
use crate::types::Symbol;
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
/// files, where most of a large `book.symbols` may never be used.
pub struct Books {
    /// Allocated books; up to `capacity`, all of them unless on demand.
    books: Vec<Book>,
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
    /// symbols get books.
    pub fn with_capacity(
        symbols: usize,
        orders_per_book: usize,
        levels_per_side: usize,
        only: &[Symbol],
    ) -> Result<Books, BooksError> {
        Books::build_with(
            symbols,
            orders_per_book,
            levels_per_side,
            only.to_vec(),
            true,
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
        )
    }

    fn build_with(
        symbols: usize,
        orders_per_book: usize,
        levels_per_side: usize,
        mut only: Vec<Symbol>,
        eager: bool,
    ) -> Result<Books, BooksError> {
        if symbols > MAX_BOOKS {
            return Err(BooksError::TooManyBooks);
        }
        only.sort_unstable();
        only.dedup();
        let mut books = Vec::with_capacity(symbols);
        if eager {
            books.extend(
                (0..symbols).map(|_| Book::with_capacity(orders_per_book, levels_per_side)),
            );
        }
        Ok(Books {
            books,
            capacity: symbols,
            orders_per_book,
            levels_per_side,
            symbols: Vec::with_capacity(symbols),
            locates: vec![UNKNOWN; 1 << 16].into_boxed_slice(),
            by_symbol: HashMap::with_capacity(symbols),
            only,
            counters: Counters::default(),
        })
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
        if self.books.len() <= i {
            // On-demand mode: within the reserved capacity.
            self.books.push(Book::with_capacity(
                self.orders_per_book,
                self.levels_per_side,
            ));
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
    pub fn book(&self, index: usize) -> Option<&Book> {
        if index < self.symbols.len() {
            self.books.get(index)
        } else {
            None
        }
    }

    /// The book at `index`, if assigned, mutably.
    #[inline]
    pub fn book_mut(&mut self, index: usize) -> Option<&mut Book> {
        if index < self.symbols.len() {
            self.books.get_mut(index)
        } else {
            None
        }
    }

    /// The book at `index` (if assigned), its symbol and the counters, all
    /// at once: what the feed handler needs to apply one message.
    #[inline]
    pub fn split_mut(&mut self, index: usize) -> Option<(&mut Book, Symbol, &mut Counters)> {
        let symbol = *self.symbols.get(index)?;
        let book = self.books.get_mut(index)?;
        Some((book, symbol, &mut self.counters))
    }

    /// The symbol of the book at `index`.
    #[inline]
    pub fn symbol(&self, index: usize) -> Option<Symbol> {
        self.symbols.get(index).copied()
    }

    /// The book of `symbol`.
    pub fn by_symbol(&self, symbol: &Symbol) -> Option<&Book> {
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
    pub fn iter(&self) -> impl Iterator<Item = (Symbol, &Book)> + '_ {
        self.symbols.iter().copied().zip(self.books.iter())
    }

    /// Commits every book's pages now (call at start-up on a live appliance).
    pub fn prefault(&mut self) {
        for b in &mut self.books {
            b.prefault();
        }
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
        let book = b.book_mut(1).unwrap();
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
