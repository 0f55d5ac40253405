//! A reference order book: a `HashMap` of orders and a `BTreeMap` of levels
//! per side, written for obviousness, not speed. It returns floe's
//! `BookError` values so that a test can compare outcomes exactly; its rules
//! are written out here independently of `floe::book`.

use floe::book::BookError;
use floe::types::{Level, Price4, Qty, Side};
use std::collections::{BTreeMap, HashMap};

/// One resting order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelOrder {
    pub side: Side,
    pub price: u32,
    pub qty: u32,
}

/// The reference book.
#[derive(Clone, Debug, Default)]
pub struct ModelBook {
    pub orders: HashMap<u64, ModelOrder>,
    pub bids: BTreeMap<u32, u64>,
    pub asks: BTreeMap<u32, u64>,
    pub max_orders: usize,
    pub max_levels: usize,
}

impl ModelBook {
    pub fn new(max_orders: usize, max_levels: usize) -> ModelBook {
        ModelBook {
            max_orders,
            max_levels,
            ..ModelBook::default()
        }
    }

    pub fn side(&self, side: Side) -> &BTreeMap<u32, u64> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<u32, u64> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Would adding `qty` at `price` on `side` overflow or need a level that
    /// does not fit? `freed` is a level that the same operation empties first.
    fn level_check(
        &self,
        side: Side,
        price: u32,
        qty: u32,
        minus: u64,
        freed: bool,
    ) -> Result<(), BookError> {
        let levels = self.side(side);
        match levels.get(&price) {
            Some(&q) => {
                if q - minus + u64::from(qty) > u64::from(u32::MAX) {
                    return Err(BookError::LevelQtyOverflow(Price4(price)));
                }
            }
            None => {
                if levels.len() >= self.max_levels && !freed {
                    return Err(BookError::LevelsFull {
                        side,
                        capacity: self.max_levels,
                    });
                }
            }
        }
        Ok(())
    }

    fn insert(&mut self, r: u64, o: ModelOrder) {
        self.orders.insert(r, o);
        *self.side_mut(o.side).entry(o.price).or_insert(0) += u64::from(o.qty);
    }

    fn take(&mut self, r: u64, qty: u32) {
        let o = self.orders.get_mut(&r).expect("model: order present");
        o.qty -= qty;
        let o = *o;
        if o.qty == 0 {
            self.orders.remove(&r);
        }
        let levels = self.side_mut(o.side);
        let l = levels.get_mut(&o.price).expect("model: level present");
        *l -= u64::from(qty);
        if *l == 0 {
            levels.remove(&o.price);
        }
    }

    pub fn add(&mut self, r: u64, side: Side, qty: u32, price: u32) -> Result<(), BookError> {
        if qty == 0 {
            return Err(BookError::ZeroQty);
        }
        if price > Price4::MAX.0 {
            return Err(BookError::PriceOutOfRange(Price4(price)));
        }
        if self.orders.contains_key(&r) {
            return Err(BookError::DuplicateOrder(r));
        }
        if self.orders.len() >= self.max_orders {
            return Err(BookError::OrdersFull(self.max_orders));
        }
        self.level_check(side, price, qty, 0, false)?;
        self.insert(r, ModelOrder { side, price, qty });
        Ok(())
    }

    fn reduce(&mut self, r: u64, qty: u32, exec: bool) -> Result<u32, BookError> {
        if qty == 0 {
            return Err(BookError::ZeroQty);
        }
        let o = *self.orders.get(&r).ok_or(BookError::UnknownOrder(r))?;
        if qty > o.qty {
            let (open, requested) = (Qty(o.qty), Qty(qty));
            return Err(if exec {
                BookError::ExecExceedsOpen { open, requested }
            } else {
                BookError::CancelExceedsOpen { open, requested }
            });
        }
        self.take(r, qty);
        Ok(o.qty - qty)
    }

    pub fn execute(&mut self, r: u64, qty: u32) -> Result<u32, BookError> {
        self.reduce(r, qty, true)
    }

    pub fn cancel(&mut self, r: u64, qty: u32) -> Result<u32, BookError> {
        self.reduce(r, qty, false)
    }

    pub fn delete(&mut self, r: u64) -> Result<ModelOrder, BookError> {
        let o = *self.orders.get(&r).ok_or(BookError::UnknownOrder(r))?;
        self.take(r, o.qty);
        Ok(o)
    }

    pub fn replace(
        &mut self,
        old: u64,
        new: u64,
        qty: u32,
        price: u32,
    ) -> Result<ModelOrder, BookError> {
        if qty == 0 {
            return Err(BookError::ZeroQty);
        }
        if price > Price4::MAX.0 {
            return Err(BookError::PriceOutOfRange(Price4(price)));
        }
        let o = *self.orders.get(&old).ok_or(BookError::UnknownOrder(old))?;
        if new != old && self.orders.contains_key(&new) {
            return Err(BookError::DuplicateOrder(new));
        }
        let same_level = o.price == price;
        let old_level_empties = self.side(o.side)[&o.price] == u64::from(o.qty);
        let minus = if same_level { u64::from(o.qty) } else { 0 };
        self.level_check(o.side, price, qty, minus, old_level_empties)?;
        self.take(old, o.qty);
        self.insert(
            new,
            ModelOrder {
                side: o.side,
                price,
                qty,
            },
        );
        Ok(o)
    }

    fn level(price: u32, qty: u64) -> Level {
        Level {
            price: Price4(price),
            qty: Qty(qty as u32),
        }
    }

    pub fn best_bid(&self) -> Option<Level> {
        self.bids
            .iter()
            .next_back()
            .map(|(&p, &q)| Self::level(p, q))
    }

    pub fn best_ask(&self) -> Option<Level> {
        self.asks.iter().next().map(|(&p, &q)| Self::level(p, q))
    }

    /// Every level of `side`, best first.
    pub fn depth(&self, side: Side) -> Vec<Level> {
        match side {
            Side::Buy => self
                .bids
                .iter()
                .rev()
                .map(|(&p, &q)| Self::level(p, q))
                .collect(),
            Side::Sell => self.asks.iter().map(|(&p, &q)| Self::level(p, q)).collect(),
        }
    }
}
