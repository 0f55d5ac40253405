//! The order table: resting orders keyed by ITCH order reference number.
//!
//! Open addressing with linear probing over a power-of-two slot array at
//! most half full, and backward-shift deletion (no tombstones, so probe
//! lengths never degrade over a trading day). A slot is 16 bytes: the
//! reference, and one word holding the open quantity (low 32 bits), the price
//! (bits 32..63) and the side (bit 63). A slot with zero quantity is empty:
//! the book never keeps an order with no shares.
//!
//! The slot array is allocated zeroed, so the kernel commits its pages on
//! first touch; [`OrderTable::prefault`] commits them all up front.

use crate::types::{Price4, Qty, Side};

/// Where a probe for a reference ended.
pub(crate) enum Probe {
    /// The reference is in the table at this slot.
    Found(usize),
    /// The reference is absent; this empty slot is where it would go.
    Vacant(usize),
}

/// A resting order as the table stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resting {
    pub side: Side,
    pub price: Price4,
    pub qty: Qty,
}

const SIDE_BIT: u64 = 1 << 63;
const PRICE_MASK: u64 = 0x7FFF_FFFF;

#[inline]
fn pack(r: Resting) -> u64 {
    let side = match r.side {
        Side::Buy => 0,
        Side::Sell => SIDE_BIT,
    };
    side | ((u64::from(r.price.0) & PRICE_MASK) << 32) | u64::from(r.qty.0)
}

#[inline]
fn unpack(w: u64) -> Resting {
    Resting {
        side: if w & SIDE_BIT == 0 {
            Side::Buy
        } else {
            Side::Sell
        },
        price: Price4(((w >> 32) & PRICE_MASK) as u32),
        qty: Qty(w as u32),
    }
}

/// Fixed-capacity map from order reference to [`Resting`].
pub(crate) struct OrderTable {
    /// `[reference, packed]`; `packed & 0xFFFF_FFFF == 0` marks an empty slot.
    slots: Vec<[u64; 2]>,
    mask: usize,
    shift: u32,
    len: usize,
    capacity: usize,
}

impl OrderTable {
    /// A table for at most `capacity` orders (`2 × capacity` slots rounded
    /// up to a power of two, at least 2).
    pub fn with_capacity(capacity: usize) -> OrderTable {
        let slots = capacity
            .saturating_mul(2)
            .max(2)
            .checked_next_power_of_two()
            .unwrap_or(1 << (usize::BITS - 1));
        OrderTable {
            // Zeroed allocation: pages are committed on first touch.
            slots: vec![[0u64; 2]; slots],
            mask: slots - 1,
            shift: 64 - slots.trailing_zeros(),
            len: 0,
            capacity,
        }
    }

    /// Orders stored.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Orders the table accepts at most.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// True when another insert would exceed the capacity.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len >= self.capacity
    }

    #[inline]
    fn home(&self, order_ref: u64) -> usize {
        // Fibonacci hashing: sequential references spread evenly.
        (order_ref.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// Finds `order_ref` or the empty slot where it would be inserted.
    /// Terminates because the table is never more than half full.
    #[inline]
    pub fn probe(&self, order_ref: u64) -> Probe {
        let mut i = self.home(order_ref);
        loop {
            let [k, w] = self.slots[i];
            if w as u32 == 0 {
                return Probe::Vacant(i);
            }
            if k == order_ref {
                return Probe::Found(i);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The order at a slot returned by [`OrderTable::probe`] as `Found`.
    #[inline]
    pub fn at(&self, slot: usize) -> Resting {
        unpack(self.slots[slot][1])
    }

    /// Looks an order up.
    #[inline]
    pub fn get(&self, order_ref: u64) -> Option<Resting> {
        match self.probe(order_ref) {
            Probe::Found(i) => Some(self.at(i)),
            Probe::Vacant(_) => None,
        }
    }

    /// Stores an order in a slot returned by [`OrderTable::probe`] as
    /// `Vacant`; the caller has checked [`OrderTable::is_full`] and that the
    /// quantity is not zero.
    #[inline]
    pub fn insert_at(&mut self, slot: usize, order_ref: u64, r: Resting) {
        debug_assert!(r.qty.0 != 0 && !self.is_full());
        self.slots[slot] = [order_ref, pack(r)];
        self.len += 1;
    }

    /// Sets the open quantity of the order at a `Found` slot (non-zero).
    #[inline]
    pub fn set_qty(&mut self, slot: usize, qty: Qty) {
        debug_assert!(qty.0 != 0);
        let w = &mut self.slots[slot][1];
        *w = (*w & !0xFFFF_FFFF) | u64::from(qty.0);
    }

    /// Removes the order at a `Found` slot, shifting later members of its
    /// probe run back so that no tombstone is left.
    #[inline]
    pub fn remove_at(&mut self, slot: usize) {
        let mask = self.mask;
        let mut hole = slot;
        let mut i = (slot + 1) & mask;
        loop {
            let [k, w] = self.slots[i];
            if w as u32 == 0 {
                break;
            }
            let home = self.home(k);
            // Move the entry into the hole if its home is not in (hole, i].
            if (i.wrapping_sub(home) & mask) >= (i.wrapping_sub(hole) & mask) {
                self.slots[hole] = [k, w];
                hole = i;
            }
            i = (i + 1) & mask;
        }
        self.slots[hole] = [0, 0];
        self.len -= 1;
    }

    /// Empties the table (touches every slot).
    pub fn clear(&mut self) {
        self.slots.fill([0, 0]);
        self.len = 0;
    }

    /// Writes every slot so that the kernel commits all pages now rather
    /// than on the hot path.
    pub fn prefault(&mut self) {
        if self.len == 0 {
            self.clear();
        } else {
            // A non-empty table has been touched where it matters; touching
            // the rest without disturbing live entries:
            for s in self.slots.iter_mut() {
                let v = *s;
                *s = core::hint::black_box(v);
            }
        }
    }

    /// Every stored order, in slot order (not hot: for checks and snapshots).
    pub fn iter(&self) -> impl Iterator<Item = (u64, Resting)> + '_ {
        self.slots
            .iter()
            .filter(|[_, w]| *w as u32 != 0)
            .map(|&[k, w]| (k, unpack(w)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(q: u32) -> Resting {
        Resting {
            side: Side::Sell,
            price: Price4(0x7FFF_FFFF),
            qty: Qty(q),
        }
    }

    #[test]
    fn pack_round_trips_extremes() {
        for side in [Side::Buy, Side::Sell] {
            for price in [0, 1, 0x7FFF_FFFE, 0x7FFF_FFFF] {
                for qty in [1, u32::MAX] {
                    let x = Resting {
                        side,
                        price: Price4(price),
                        qty: Qty(qty),
                    };
                    assert_eq!(unpack(pack(x)), x);
                }
            }
        }
    }

    #[test]
    fn backward_shift_keeps_every_key_reachable() {
        // A tiny table forces long runs and wrap-around.
        let mut t = OrderTable::with_capacity(8);
        let keys: Vec<u64> = (0..8).map(|i| i * 16 + 3).collect();
        for &k in &keys {
            match t.probe(k) {
                Probe::Vacant(s) => t.insert_at(s, k, r(k as u32)),
                Probe::Found(_) => panic!("duplicate"),
            }
        }
        for (n, &k) in keys.iter().enumerate() {
            let Probe::Found(s) = t.probe(k) else {
                panic!("lost {k}")
            };
            t.remove_at(s);
            for &rest in &keys[n + 1..] {
                assert_eq!(t.get(rest), Some(r(rest as u32)), "lost {rest}");
            }
            assert_eq!(t.get(k), None);
        }
        assert_eq!(t.len(), 0);
    }
}
