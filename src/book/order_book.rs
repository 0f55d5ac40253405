//! [`Book`]: one symbol's L3 order book.

use super::ladder::Ladder;
use super::orders::{OrderTable, Probe, Resting};
use crate::types::{Level, Price4, Qty, Side};

/// Why the book refused an operation. A refused operation changed nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BookError {
    /// A quantity of zero shares (add, execute, cancel or replace).
    #[error("zero quantity")]
    ZeroQty,
    /// A price above [`Price4::MAX`].
    #[error("price {0:?} above the largest ITCH price")]
    PriceOutOfRange(Price4),
    /// No resting order has this reference.
    #[error("unknown order reference {0}")]
    UnknownOrder(u64),
    /// A resting order already has this reference.
    #[error("duplicate order reference {0}")]
    DuplicateOrder(u64),
    /// The order table is at its capacity.
    #[error("order table full ({0} orders)")]
    OrdersFull(usize),
    /// The side's level storage is at its capacity and the order needs a new level.
    #[error("price levels full on the {side:?} side ({capacity} levels)")]
    LevelsFull {
        /// The side.
        side: Side,
        /// Its capacity.
        capacity: usize,
    },
    /// The level's total would exceed `u32::MAX` shares.
    #[error("level quantity overflow at {0:?}")]
    LevelQtyOverflow(Price4),
    /// An execution of more shares than the order has open.
    #[error("execution of {requested} shares exceeds the {open} open")]
    ExecExceedsOpen {
        /// Shares the order has open.
        open: Qty,
        /// Shares the message executed.
        requested: Qty,
    },
    /// A cancel of more shares than the order has open.
    #[error("cancel of {requested} shares exceeds the {open} open")]
    CancelExceedsOpen {
        /// Shares the order has open.
        open: Qty,
        /// Shares the message cancelled.
        requested: Qty,
    },
}

/// A resting order as the book reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderInfo {
    /// Its side.
    pub side: Side,
    /// Its limit price.
    pub price: Price4,
    /// Its open shares (after the operation that returned it; zero when the
    /// operation took it off the book).
    pub qty: Qty,
}

impl From<Resting> for OrderInfo {
    #[inline]
    fn from(r: Resting) -> Self {
        OrderInfo {
            side: r.side,
            price: r.price,
            qty: r.qty,
        }
    }
}

/// The best bid and best offer, compared by the feed before and after a
/// message to tell whether the top of the book moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Top {
    /// Best bid.
    pub bid: Option<Level>,
    /// Best offer.
    pub ask: Option<Level>,
}

/// A cheap fingerprint of a book's best bid and best offer (price and
/// size of each): two marks are equal exactly when both tops are equal.
/// Taking one is two loads; the feed compares the marks before and after a
/// message to tell whether to publish a quote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TopMark([u64; 2]);

/// Where a book keeps its resting orders: its own [`OrderTable`] (a
/// standalone [`Book`]), or the market-wide window in front of the book's
/// table (a book of a [`Books`](super::Books) set).
pub(crate) trait Store {
    /// Where a found order sits.
    type Loc: Copy;
    /// Where a new order would go.
    type Vacancy: Copy;
    /// The order with `order_ref`, and where it sits.
    fn find(&self, order_ref: u64) -> Option<(Self::Loc, Resting)>;
    /// Where an order with `order_ref` would go; `None` when one is there.
    fn vacancy(&self, order_ref: u64) -> Option<Self::Vacancy>;
    /// Stores an order at a vacancy from [`Store::vacancy`] (the caller
    /// checked the capacity and that the quantity is not zero; nothing has
    /// changed the store since).
    fn insert(&mut self, at: Self::Vacancy, order_ref: u64, r: Resting);
    /// Sets the open quantity of a found order (non-zero).
    fn set_qty(&mut self, at: Self::Loc, qty: Qty);
    /// Removes a found order.
    fn remove(&mut self, at: Self::Loc);
}

impl Store for OrderTable {
    type Loc = usize;
    type Vacancy = usize;

    #[inline]
    fn find(&self, order_ref: u64) -> Option<(usize, Resting)> {
        match self.probe(order_ref) {
            Probe::Found(s) => Some((s, self.at(s))),
            Probe::Vacant(_) => None,
        }
    }

    #[inline]
    fn vacancy(&self, order_ref: u64) -> Option<usize> {
        match self.probe(order_ref) {
            Probe::Found(_) => None,
            Probe::Vacant(s) => Some(s),
        }
    }

    #[inline]
    fn insert(&mut self, at: usize, order_ref: u64, r: Resting) {
        self.insert_at(at, order_ref, r);
    }

    #[inline]
    fn set_qty(&mut self, at: usize, qty: Qty) {
        OrderTable::set_qty(self, at, qty);
    }

    #[inline]
    fn remove(&mut self, at: usize) {
        self.remove_at(at);
    }
}

/// One book's price levels on both sides, its count of resting orders and
/// its high-water marks, with the book operations over any [`Store`] of its
/// orders.
pub(crate) struct BookState {
    bids: Ladder,
    asks: Ladder,
    /// Resting orders (wherever the store keeps them).
    resting: usize,
    /// Resting orders at most.
    capacity: usize,
    peak_orders: usize,
    peak_levels: usize,
}

#[inline]
fn key(side: Side, price: Price4) -> u32 {
    match side {
        Side::Buy => price.0,
        Side::Sell => Price4::MAX.0 - price.0,
    }
}

#[inline]
fn price_of(side: Side, key: u32) -> Price4 {
    match side {
        Side::Buy => Price4(key),
        Side::Sell => Price4(Price4::MAX.0.wrapping_sub(key)),
    }
}

#[inline]
fn check_price(price: Price4) -> Result<(), BookError> {
    if price > Price4::MAX {
        Err(BookError::PriceOutOfRange(price))
    } else {
        Ok(())
    }
}

impl BookState {
    /// State for at most `orders` resting orders and `levels_per_side`
    /// prices on each side.
    pub fn with_capacity(orders: usize, levels_per_side: usize) -> BookState {
        BookState {
            bids: Ladder::with_capacity(levels_per_side),
            asks: Ladder::with_capacity(levels_per_side),
            resting: 0,
            capacity: orders,
            peak_orders: 0,
            peak_levels: 0,
        }
    }

    #[inline]
    fn ladder(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    #[inline]
    fn ladder_mut(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// See [`Book::add`].
    #[inline]
    pub fn add<S: Store>(
        &mut self,
        orders: &mut S,
        order_ref: u64,
        side: Side,
        qty: Qty,
        price: Price4,
    ) -> Result<(), BookError> {
        if qty.0 == 0 {
            return Err(BookError::ZeroQty);
        }
        check_price(price)?;
        let Some(at) = orders.vacancy(order_ref) else {
            return Err(BookError::DuplicateOrder(order_ref));
        };
        if self.resting >= self.capacity {
            return Err(BookError::OrdersFull(self.capacity));
        }
        let k = key(side, price);
        let ladder = self.ladder(side);
        let level = ladder.find(k);
        match level {
            Ok(i) => {
                if ladder.qty_at_index(i).checked_add(qty.0).is_none() {
                    return Err(BookError::LevelQtyOverflow(price));
                }
            }
            Err(_) => {
                if ladder.is_full() {
                    return Err(BookError::LevelsFull {
                        side,
                        capacity: ladder.capacity(),
                    });
                }
            }
        }
        // Checked: nothing below can fail.
        orders.insert(at, order_ref, Resting { side, price, qty });
        self.resting += 1;
        let ladder = self.ladder_mut(side);
        match level {
            Ok(i) => ladder.add_at(i, qty.0),
            Err(i) => ladder.insert(i, k, qty.0),
        }
        self.note_peaks();
        Ok(())
    }

    #[inline]
    fn note_peaks(&mut self) {
        self.peak_orders = self.peak_orders.max(self.resting);
        self.peak_levels = self.peak_levels.max(self.bids.len()).max(self.asks.len());
    }

    /// Takes `qty` off the order at `at` and off its level; removes the
    /// order (and an emptied level) at zero. The caller checked `qty <= open`.
    #[inline(always)]
    fn reduce<S: Store>(&mut self, orders: &mut S, at: S::Loc, r: Resting, qty: u32) -> OrderInfo {
        let ladder = self.ladder_mut(r.side);
        if let Ok(i) = ladder.find(key(r.side, r.price)) {
            ladder.sub_at(i, qty);
        } else {
            debug_assert!(false, "order without its level");
        }
        let left = r.qty.0.saturating_sub(qty);
        if left == 0 {
            orders.remove(at);
            self.resting = self.resting.saturating_sub(1);
        } else {
            orders.set_qty(at, Qty(left));
        }
        OrderInfo {
            side: r.side,
            price: r.price,
            qty: Qty(left),
        }
    }

    #[inline]
    fn find<S: Store>(orders: &S, order_ref: u64) -> Result<(S::Loc, Resting), BookError> {
        orders
            .find(order_ref)
            .ok_or(BookError::UnknownOrder(order_ref))
    }

    /// See [`Book::execute`].
    #[inline]
    pub fn execute<S: Store>(
        &mut self,
        orders: &mut S,
        order_ref: u64,
        qty: Qty,
    ) -> Result<OrderInfo, BookError> {
        if qty.0 == 0 {
            return Err(BookError::ZeroQty);
        }
        let (at, r) = BookState::find(orders, order_ref)?;
        if qty > r.qty {
            return Err(BookError::ExecExceedsOpen {
                open: r.qty,
                requested: qty,
            });
        }
        Ok(self.reduce(orders, at, r, qty.0))
    }

    /// See [`Book::cancel`].
    #[inline]
    pub fn cancel<S: Store>(
        &mut self,
        orders: &mut S,
        order_ref: u64,
        qty: Qty,
    ) -> Result<OrderInfo, BookError> {
        if qty.0 == 0 {
            return Err(BookError::ZeroQty);
        }
        let (at, r) = BookState::find(orders, order_ref)?;
        if qty > r.qty {
            return Err(BookError::CancelExceedsOpen {
                open: r.qty,
                requested: qty,
            });
        }
        Ok(self.reduce(orders, at, r, qty.0))
    }

    /// See [`Book::delete`].
    #[inline]
    pub fn delete<S: Store>(
        &mut self,
        orders: &mut S,
        order_ref: u64,
    ) -> Result<OrderInfo, BookError> {
        let (at, r) = BookState::find(orders, order_ref)?;
        self.reduce(orders, at, r, r.qty.0);
        Ok(r.into())
    }

    /// See [`Book::replace`].
    #[inline]
    pub fn replace<S: Store>(
        &mut self,
        orders: &mut S,
        old_ref: u64,
        new_ref: u64,
        qty: Qty,
        price: Price4,
    ) -> Result<OrderInfo, BookError> {
        if qty.0 == 0 {
            return Err(BookError::ZeroQty);
        }
        check_price(price)?;
        let (at, old) = BookState::find(orders, old_ref)?;
        if new_ref != old_ref && orders.vacancy(new_ref).is_none() {
            return Err(BookError::DuplicateOrder(new_ref));
        }
        let side = old.side;
        let ladder = self.ladder(side);
        let old_key = key(side, old.price);
        let new_key = key(side, price);
        let old_level = ladder.find(old_key).map_or(0, |i| ladder.qty_at_index(i));
        if new_key == old_key {
            if old_level
                .saturating_sub(old.qty.0)
                .checked_add(qty.0)
                .is_none()
            {
                return Err(BookError::LevelQtyOverflow(price));
            }
        } else {
            match ladder.find(new_key) {
                Ok(i) => {
                    if ladder.qty_at_index(i).checked_add(qty.0).is_none() {
                        return Err(BookError::LevelQtyOverflow(price));
                    }
                }
                Err(_) => {
                    let old_level_stays = old_level != old.qty.0;
                    if ladder.is_full() && old_level_stays {
                        return Err(BookError::LevelsFull {
                            side,
                            capacity: ladder.capacity(),
                        });
                    }
                }
            }
        }
        // Checked: removal frees a slot and possibly a level; the insert fits.
        self.reduce(orders, at, old, old.qty.0);
        let Some(vacant) = orders.vacancy(new_ref) else {
            debug_assert!(false, "new reference appeared");
            return Ok(old.into());
        };
        orders.insert(vacant, new_ref, Resting { side, price, qty });
        self.resting += 1;
        let ladder = self.ladder_mut(side);
        match ladder.find(new_key) {
            Ok(i) => ladder.add_at(i, qty.0),
            Err(i) => ladder.insert(i, new_key, qty.0),
        }
        self.note_peaks();
        Ok(old.into())
    }

    #[inline]
    fn best(&self, side: Side) -> Option<Level> {
        self.ladder(side).top().map(|(k, q)| Level {
            price: price_of(side, k),
            qty: Qty(q),
        })
    }

    /// See [`Book::best_bid`].
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.best(Side::Buy)
    }

    /// See [`Book::best_ask`].
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.best(Side::Sell)
    }

    /// See [`Book::top`].
    #[inline]
    pub fn top(&self) -> Top {
        Top {
            bid: self.best_bid(),
            ask: self.best_ask(),
        }
    }

    /// See [`Book::top_mark`].
    #[inline]
    pub fn top_mark(&self) -> TopMark {
        TopMark([self.bids.top_word(), self.asks.top_word()])
    }

    /// See [`Book::qty_at`].
    #[inline]
    pub fn qty_at(&self, side: Side, price: Price4) -> Qty {
        if price > Price4::MAX {
            return Qty::ZERO;
        }
        let ladder = self.ladder(side);
        match ladder.find(key(side, price)) {
            Ok(i) => Qty(ladder.qty_at_index(i)),
            Err(_) => Qty::ZERO,
        }
    }

    /// See [`Book::depth`].
    #[inline]
    pub fn depth(&self, side: Side, out: &mut [Level]) -> usize {
        let mut n = 0;
        for (slot, (k, q)) in out.iter_mut().zip(self.ladder(side).iter_best_first()) {
            *slot = Level {
                price: price_of(side, k),
                qty: Qty(q),
            };
            n += 1;
        }
        n
    }

    /// See [`Book::levels`].
    pub fn levels(&self, side: Side) -> impl Iterator<Item = Level> + '_ {
        self.ladder(side)
            .iter_best_first()
            .map(move |(k, q)| Level {
                price: price_of(side, k),
                qty: Qty(q),
            })
    }

    /// Price levels on `side`.
    #[inline]
    pub fn level_count(&self, side: Side) -> usize {
        self.ladder(side).len()
    }

    /// Resting orders.
    #[inline]
    pub fn order_count(&self) -> usize {
        self.resting
    }

    /// The order capacity.
    pub fn order_capacity(&self) -> usize {
        self.capacity
    }

    /// The per-side level capacity.
    pub fn level_capacity(&self) -> usize {
        self.bids.capacity()
    }

    /// The most orders resting at once since construction or [`BookState::clear`].
    pub fn peak_orders(&self) -> usize {
        self.peak_orders
    }

    /// The most levels on one side at once since construction or [`BookState::clear`].
    pub fn peak_levels(&self) -> usize {
        self.peak_levels
    }

    /// Removes every level, forgets every order and resets the peaks (the
    /// caller empties the store).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
        self.resting = 0;
        self.peak_orders = 0;
        self.peak_levels = 0;
    }

    /// Commits both ladders' pages now.
    pub fn prefault(&mut self) {
        self.bids.prefault();
        self.asks.prefault();
    }
}

/// One symbol's order book: every resting order by reference number, and the
/// displayed quantity per price level on each side.
///
/// Storage is allocated once by [`Book::with_capacity`] and never grows. Every
/// operation either applies completely or returns a [`BookError`] and leaves
/// the book exactly as it was; nothing panics on any input. Levels aggregate
/// quantity only: time priority within a level is not tracked, so a replace
/// (which loses priority on the venue) is a removal plus a new order here.
///
/// A `Book` keeps its orders in its own table, keyed by reference alone. The
/// books of a [`Books`](super::Books) set behave exactly the same way but
/// share a market-wide order window; they are reached through
/// [`BookRef`](super::BookRef) and [`BookMut`](super::BookMut).
pub struct Book {
    state: BookState,
    orders: OrderTable,
}

impl Book {
    /// A book for at most `orders` resting orders and `levels_per_side` price
    /// levels on each side. All storage is allocated here (zeroed, so pages
    /// are committed on first use; see [`Book::prefault`]).
    pub fn with_capacity(orders: usize, levels_per_side: usize) -> Book {
        Book {
            state: BookState::with_capacity(orders, levels_per_side),
            orders: OrderTable::with_capacity(orders),
        }
    }

    /// Adds a resting order.
    ///
    /// Errors, in the order they are checked: [`BookError::ZeroQty`],
    /// [`BookError::PriceOutOfRange`], [`BookError::DuplicateOrder`],
    /// [`BookError::OrdersFull`], [`BookError::LevelQtyOverflow`],
    /// [`BookError::LevelsFull`].
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

    /// Executes `qty` shares of a resting order (ITCH `E`, `C`): the order's
    /// open quantity drops, and at zero the order leaves the book. Returns
    /// the order after the execution.
    ///
    /// More shares than are open is refused with
    /// [`BookError::ExecExceedsOpen`] and changes nothing: the book never
    /// guesses. The feed handler decides what to do with such a message.
    /// Errors, in order: [`BookError::ZeroQty`], [`BookError::UnknownOrder`],
    /// [`BookError::ExecExceedsOpen`].
    #[inline]
    pub fn execute(&mut self, order_ref: u64, qty: Qty) -> Result<OrderInfo, BookError> {
        self.state.execute(&mut self.orders, order_ref, qty)
    }

    /// Cancels `qty` shares of a resting order (ITCH `X`, a partial cancel):
    /// the open quantity drops, and at zero the order leaves the book.
    /// Returns the order after the cancel.
    ///
    /// Errors, in order: [`BookError::ZeroQty`], [`BookError::UnknownOrder`],
    /// [`BookError::CancelExceedsOpen`] (nothing changed).
    #[inline]
    pub fn cancel(&mut self, order_ref: u64, qty: Qty) -> Result<OrderInfo, BookError> {
        self.state.cancel(&mut self.orders, order_ref, qty)
    }

    /// Deletes a resting order (ITCH `D`). Returns the order as it was.
    ///
    /// Errors: [`BookError::UnknownOrder`].
    #[inline]
    pub fn delete(&mut self, order_ref: u64) -> Result<OrderInfo, BookError> {
        self.state.delete(&mut self.orders, order_ref)
    }

    /// Replaces a resting order (ITCH `U`): the old reference leaves the book
    /// and a new order with `new_ref`, `qty` and `price` joins it on the old
    /// order's side, at the back of its level (priority is lost). Returns
    /// the old order as it was.
    ///
    /// `new_ref` may equal `old_ref`. Errors, in the order they are checked:
    /// [`BookError::ZeroQty`], [`BookError::PriceOutOfRange`],
    /// [`BookError::UnknownOrder`] (old), [`BookError::DuplicateOrder`]
    /// (new), [`BookError::LevelQtyOverflow`], [`BookError::LevelsFull`] —
    /// the last only when the old order's level stays and the new price
    /// needs a level that does not exist.
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

    /// A resting order by reference.
    #[inline]
    pub fn order(&self, order_ref: u64) -> Option<OrderInfo> {
        self.orders.get(order_ref).map(OrderInfo::from)
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

    /// Every level of `side`, best first (not for the hot path: no bound on
    /// the count beyond the capacity).
    pub fn levels(&self, side: Side) -> impl Iterator<Item = Level> + '_ {
        self.state.levels(side)
    }

    /// Every resting order as `(reference, order)`, in no particular order.
    pub fn orders(&self) -> impl Iterator<Item = (u64, OrderInfo)> + '_ {
        self.orders.iter().map(|(k, r)| (k, r.into()))
    }

    /// Resting orders.
    #[inline]
    pub fn order_count(&self) -> usize {
        debug_assert_eq!(self.orders.len(), self.state.order_count());
        self.state.order_count()
    }

    /// Price levels on `side`.
    #[inline]
    pub fn level_count(&self, side: Side) -> usize {
        self.state.level_count(side)
    }

    /// The order capacity given at construction.
    pub fn order_capacity(&self) -> usize {
        self.orders.capacity()
    }

    /// The per-side level capacity given at construction.
    pub fn level_capacity(&self) -> usize {
        self.state.level_capacity()
    }

    /// The most orders resting at once since construction or [`Book::clear`].
    pub fn peak_orders(&self) -> usize {
        self.state.peak_orders()
    }

    /// The most levels on one side at once since construction or [`Book::clear`].
    pub fn peak_levels(&self) -> usize {
        self.state.peak_levels()
    }

    /// Empties the book (not hot: writes the whole order table).
    pub fn clear(&mut self) {
        self.orders.clear();
        self.state.clear();
    }

    /// Writes all storage once so that the kernel commits every page now,
    /// at start-up, instead of on the first message that touches it.
    pub fn prefault(&mut self) {
        self.orders.prefault();
        self.state.prefault();
    }
}

impl core::fmt::Debug for Book {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Book")
            .field("orders", &self.order_count())
            .field("bid_levels", &self.level_count(Side::Buy))
            .field("ask_levels", &self.level_count(Side::Sell))
            .field("top", &self.top())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: u32) -> Price4 {
        Price4(x)
    }

    #[test]
    fn add_execute_cancel_delete_replace() {
        let mut b = Book::with_capacity(16, 8);
        b.add(1, Side::Buy, Qty(100), p(100)).unwrap();
        b.add(2, Side::Buy, Qty(50), p(101)).unwrap();
        b.add(3, Side::Sell, Qty(70), p(103)).unwrap();
        b.add(4, Side::Sell, Qty(30), p(102)).unwrap();
        assert_eq!(
            b.best_bid(),
            Some(Level {
                price: p(101),
                qty: Qty(50)
            })
        );
        assert_eq!(
            b.best_ask(),
            Some(Level {
                price: p(102),
                qty: Qty(30)
            })
        );
        assert_eq!(b.execute(2, Qty(20)).unwrap().qty, Qty(30));
        assert_eq!(b.qty_at(Side::Buy, p(101)), Qty(30));
        assert_eq!(
            b.execute(2, Qty(31)),
            Err(BookError::ExecExceedsOpen {
                open: Qty(30),
                requested: Qty(31)
            })
        );
        assert_eq!(b.cancel(2, Qty(30)).unwrap().qty, Qty(0));
        assert_eq!(b.best_bid().unwrap().price, p(100));
        assert_eq!(b.level_count(Side::Buy), 1);
        let old = b.replace(4, 9, Qty(10), p(104)).unwrap();
        assert_eq!(old.qty, Qty(30));
        assert_eq!(b.best_ask().unwrap().price, p(103));
        assert_eq!(b.order(9).unwrap().side, Side::Sell);
        assert_eq!(b.delete(1).unwrap().qty, Qty(100));
        assert_eq!(b.best_bid(), None);
        let mut out = [Level::default(); 4];
        assert_eq!(b.depth(Side::Sell, &mut out), 2);
        assert_eq!(out[0].price, p(103));
        assert_eq!(out[1].price, p(104));
        assert_eq!(b.order_count(), 2);
    }

    #[test]
    fn extreme_prices_order_correctly() {
        let mut b = Book::with_capacity(8, 8);
        b.add(1, Side::Sell, Qty(1), Price4::MAX).unwrap();
        b.add(2, Side::Sell, Qty(1), Price4::ZERO).unwrap();
        b.add(3, Side::Buy, Qty(1), Price4::MAX).unwrap();
        b.add(4, Side::Buy, Qty(1), Price4::ZERO).unwrap();
        assert_eq!(b.best_ask().unwrap().price, Price4::ZERO);
        assert_eq!(b.best_bid().unwrap().price, Price4::MAX);
        assert_eq!(
            b.add(5, Side::Buy, Qty(1), Price4(Price4::MAX.0 + 1)),
            Err(BookError::PriceOutOfRange(Price4(Price4::MAX.0 + 1)))
        );
    }

    #[test]
    fn replace_into_a_full_ladder_reuses_the_freed_level() {
        let mut b = Book::with_capacity(8, 2);
        b.add(1, Side::Buy, Qty(5), p(10)).unwrap();
        b.add(2, Side::Buy, Qty(5), p(11)).unwrap();
        assert!(matches!(
            b.add(3, Side::Buy, Qty(5), p(12)),
            Err(BookError::LevelsFull { .. })
        ));
        // The old level empties, so the new one fits.
        b.replace(2, 3, Qty(7), p(12)).unwrap();
        assert_eq!(b.best_bid().unwrap().price, p(12));
        b.add(4, Side::Buy, Qty(1), p(10)).unwrap();
        // The old level stays: no room.
        assert!(matches!(
            b.replace(4, 5, Qty(7), p(13)),
            Err(BookError::LevelsFull { .. })
        ));
        assert_eq!(b.order(4).unwrap().qty, Qty(1));
    }
}
