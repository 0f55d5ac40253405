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

/// One symbol's order book: every resting order by reference number, and the
/// displayed quantity per price level on each side.
///
/// Storage is allocated once by [`Book::with_capacity`] and never grows. Every
/// operation either applies completely or returns a [`BookError`] and leaves
/// the book exactly as it was; nothing panics on any input. Levels aggregate
/// quantity only: time priority within a level is not tracked, so a replace
/// (which loses priority on the venue) is a removal plus a new order here.
pub struct Book {
    orders: OrderTable,
    bids: Ladder,
    asks: Ladder,
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

impl Book {
    /// A book for at most `orders` resting orders and `levels_per_side` price
    /// levels on each side. All storage is allocated here (zeroed, so pages
    /// are committed on first use; see [`Book::prefault`]).
    pub fn with_capacity(orders: usize, levels_per_side: usize) -> Book {
        Book {
            orders: OrderTable::with_capacity(orders),
            bids: Ladder::with_capacity(levels_per_side),
            asks: Ladder::with_capacity(levels_per_side),
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
        if qty.0 == 0 {
            return Err(BookError::ZeroQty);
        }
        check_price(price)?;
        let slot = match self.orders.probe(order_ref) {
            Probe::Found(_) => return Err(BookError::DuplicateOrder(order_ref)),
            Probe::Vacant(s) => s,
        };
        if self.orders.is_full() {
            return Err(BookError::OrdersFull(self.orders.capacity()));
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
        self.orders
            .insert_at(slot, order_ref, Resting { side, price, qty });
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
        self.peak_orders = self.peak_orders.max(self.orders.len());
        self.peak_levels = self.peak_levels.max(self.bids.len()).max(self.asks.len());
    }

    /// Takes `qty` off the order at `slot` and off its level; removes the
    /// order (and an emptied level) at zero. The caller checked `qty <= open`.
    #[inline]
    fn reduce(&mut self, slot: usize, r: Resting, qty: u32) -> OrderInfo {
        let ladder = self.ladder_mut(r.side);
        if let Ok(i) = ladder.find(key(r.side, r.price)) {
            ladder.sub_at(i, qty);
        } else {
            debug_assert!(false, "order without its level");
        }
        let left = r.qty.0.saturating_sub(qty);
        if left == 0 {
            self.orders.remove_at(slot);
        } else {
            self.orders.set_qty(slot, Qty(left));
        }
        OrderInfo {
            side: r.side,
            price: r.price,
            qty: Qty(left),
        }
    }

    #[inline]
    fn find(&self, order_ref: u64) -> Result<(usize, Resting), BookError> {
        match self.orders.probe(order_ref) {
            Probe::Found(s) => Ok((s, self.orders.at(s))),
            Probe::Vacant(_) => Err(BookError::UnknownOrder(order_ref)),
        }
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
        if qty.0 == 0 {
            return Err(BookError::ZeroQty);
        }
        let (slot, r) = self.find(order_ref)?;
        if qty > r.qty {
            return Err(BookError::ExecExceedsOpen {
                open: r.qty,
                requested: qty,
            });
        }
        Ok(self.reduce(slot, r, qty.0))
    }

    /// Cancels `qty` shares of a resting order (ITCH `X`, a partial cancel):
    /// the open quantity drops, and at zero the order leaves the book.
    /// Returns the order after the cancel.
    ///
    /// Errors, in order: [`BookError::ZeroQty`], [`BookError::UnknownOrder`],
    /// [`BookError::CancelExceedsOpen`] (nothing changed).
    #[inline]
    pub fn cancel(&mut self, order_ref: u64, qty: Qty) -> Result<OrderInfo, BookError> {
        if qty.0 == 0 {
            return Err(BookError::ZeroQty);
        }
        let (slot, r) = self.find(order_ref)?;
        if qty > r.qty {
            return Err(BookError::CancelExceedsOpen {
                open: r.qty,
                requested: qty,
            });
        }
        Ok(self.reduce(slot, r, qty.0))
    }

    /// Deletes a resting order (ITCH `D`). Returns the order as it was.
    ///
    /// Errors: [`BookError::UnknownOrder`].
    #[inline]
    pub fn delete(&mut self, order_ref: u64) -> Result<OrderInfo, BookError> {
        let (slot, r) = self.find(order_ref)?;
        self.reduce(slot, r, r.qty.0);
        Ok(r.into())
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
        if qty.0 == 0 {
            return Err(BookError::ZeroQty);
        }
        check_price(price)?;
        let (slot, old) = self.find(old_ref)?;
        if new_ref != old_ref {
            if let Probe::Found(_) = self.orders.probe(new_ref) {
                return Err(BookError::DuplicateOrder(new_ref));
            }
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
        self.reduce(slot, old, old.qty.0);
        let vacant = match self.orders.probe(new_ref) {
            Probe::Vacant(s) => s,
            Probe::Found(_) => {
                debug_assert!(false, "new reference appeared");
                return Ok(old.into());
            }
        };
        self.orders
            .insert_at(vacant, new_ref, Resting { side, price, qty });
        let ladder = self.ladder_mut(side);
        match ladder.find(new_key) {
            Ok(i) => ladder.add_at(i, qty.0),
            Err(i) => ladder.insert(i, new_key, qty.0),
        }
        self.note_peaks();
        Ok(old.into())
    }

    /// A resting order by reference.
    #[inline]
    pub fn order(&self, order_ref: u64) -> Option<OrderInfo> {
        self.orders.get(order_ref).map(OrderInfo::from)
    }

    #[inline]
    fn best(&self, side: Side) -> Option<Level> {
        self.ladder(side).top().map(|(k, q)| Level {
            price: price_of(side, k),
            qty: Qty(q),
        })
    }

    /// The best (highest) bid level.
    #[inline]
    pub fn best_bid(&self) -> Option<Level> {
        self.best(Side::Buy)
    }

    /// The best (lowest) offer level.
    #[inline]
    pub fn best_ask(&self) -> Option<Level> {
        self.best(Side::Sell)
    }

    /// Best bid and best offer together.
    #[inline]
    pub fn top(&self) -> Top {
        Top {
            bid: self.best_bid(),
            ask: self.best_ask(),
        }
    }

    /// The fingerprint of the current top of book.
    #[inline]
    pub fn top_mark(&self) -> TopMark {
        TopMark([self.bids.top_word(), self.asks.top_word()])
    }

    /// Shares displayed at `price` on `side` (zero when there is no level).
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

    /// Writes the best `out.len()` levels of `side`, best first, into `out`;
    /// returns how many were written.
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

    /// Every level of `side`, best first (not for the hot path: no bound on
    /// the count beyond the capacity).
    pub fn levels(&self, side: Side) -> impl Iterator<Item = Level> + '_ {
        self.ladder(side)
            .iter_best_first()
            .map(move |(k, q)| Level {
                price: price_of(side, k),
                qty: Qty(q),
            })
    }

    /// Every resting order as `(reference, order)`, in no particular order.
    pub fn orders(&self) -> impl Iterator<Item = (u64, OrderInfo)> + '_ {
        self.orders.iter().map(|(k, r)| (k, r.into()))
    }

    /// Resting orders.
    #[inline]
    pub fn order_count(&self) -> usize {
        self.orders.len()
    }

    /// Price levels on `side`.
    #[inline]
    pub fn level_count(&self, side: Side) -> usize {
        self.ladder(side).len()
    }

    /// The order capacity given at construction.
    pub fn order_capacity(&self) -> usize {
        self.orders.capacity()
    }

    /// The per-side level capacity given at construction.
    pub fn level_capacity(&self) -> usize {
        self.bids.capacity()
    }

    /// The most orders resting at once since construction or [`Book::clear`].
    pub fn peak_orders(&self) -> usize {
        self.peak_orders
    }

    /// The most levels on one side at once since construction or [`Book::clear`].
    pub fn peak_levels(&self) -> usize {
        self.peak_levels
    }

    /// Empties the book (not hot: writes the whole order table).
    pub fn clear(&mut self) {
        self.orders.clear();
        self.bids.clear();
        self.asks.clear();
        self.peak_orders = 0;
        self.peak_levels = 0;
    }

    /// Writes all storage once so that the kernel commits every page now,
    /// at start-up, instead of on the first message that touches it.
    pub fn prefault(&mut self) {
        self.orders.prefault();
        self.bids.prefault();
        self.asks.prefault();
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
