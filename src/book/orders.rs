//! The order table: resting orders keyed by ITCH order reference number.
//!
//! Open addressing with linear probing over a power-of-two slot array at
//! most half full, and backward-shift deletion (no tombstones, so probe
//! lengths never degrade over a trading day). Beside the 16-byte slots
//! (the reference, and one word holding the open quantity in the low 32
//! bits, the price in bits 32..62 and the side in bit 63) sits one tag byte
//! per slot: 0 for empty, else the high bit and seven bits of the
//! reference's hash. Probes read the tags, which are 16 times denser than the
//! slots and stay in cache, and read a slot only when its tag matches: an
//! add of a new reference — the commonest message — usually finds its empty
//! slot without loading any slot, and its write is a store, which does not
//! stall the way a load miss does.
//!
//! Both arrays are allocated zeroed, so the kernel commits their pages on
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
pub(crate) fn pack(r: Resting) -> u64 {
    let side = match r.side {
        Side::Buy => 0,
        Side::Sell => SIDE_BIT,
    };
    side | ((u64::from(r.price.0) & PRICE_MASK) << 32) | u64::from(r.qty.0)
}

#[inline]
pub(crate) fn unpack(w: u64) -> Resting {
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
    /// One byte per slot: 0 = empty, else `0x80 | 7 bits of the hash`.
    tags: Vec<u8>,
    /// `[reference, packed]`; meaningful only where the tag is non-zero.
    slots: Vec<[u64; 2]>,
    mask: usize,
    shift: u32,
    len: usize,
    capacity: usize,
}

#[inline]
fn hash(order_ref: u64) -> u64 {
    // Fibonacci hashing: sequential references spread evenly.
    order_ref.wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

#[inline]
fn tag_of(h: u64) -> u8 {
    // Bits 8..15 of the product; the slot index uses the top bits.
    0x80 | ((h >> 8) as u8 & 0x7F)
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
            // Zeroed allocations: pages are committed on first touch.
            tags: vec![0u8; slots],
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
    fn home(&self, h: u64) -> usize {
        (h >> self.shift) as usize & self.mask
    }

    /// Finds `order_ref` or the empty slot where it would be inserted.
    /// Terminates because the table is never more than half full.
    #[inline]
    pub fn probe(&self, order_ref: u64) -> Probe {
        let h = hash(order_ref);
        let tag = tag_of(h);
        let mut i = self.home(h);
        loop {
            let t = self.tags[i];
            if t == 0 {
                return Probe::Vacant(i);
            }
            if t == tag && self.slots[i][0] == order_ref {
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

    /// The reference of the order at a `Found` slot.
    #[inline]
    pub fn ref_at(&self, slot: usize) -> u64 {
        self.slots[slot][0]
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
        self.tags[slot] = tag_of(hash(order_ref));
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
            let t = self.tags[i];
            if t == 0 {
                break;
            }
            let entry = self.slots[i];
            let home = self.home(hash(entry[0]));
            // Move the entry into the hole if its home is not in (hole, i].
            if (i.wrapping_sub(home) & mask) >= (i.wrapping_sub(hole) & mask) {
                self.tags[hole] = t;
                self.slots[hole] = entry;
                hole = i;
            }
            i = (i + 1) & mask;
        }
        self.tags[hole] = 0;
        self.len -= 1;
    }

    /// Empties the table (touches every tag).
    pub fn clear(&mut self) {
        self.tags.fill(0);
        self.len = 0;
    }

    /// Writes every tag and slot so that the kernel commits all pages now
    /// rather than on the hot path; the contents are unchanged.
    pub fn prefault(&mut self) {
        for t in self.tags.iter_mut() {
            *t = core::hint::black_box(*t);
        }
        for s in self.slots.iter_mut() {
            *s = core::hint::black_box(*s);
        }
    }

    /// Every stored order, in slot order (not hot: for checks and snapshots).
    pub fn iter(&self) -> impl Iterator<Item = (u64, Resting)> + '_ {
        self.tags
            .iter()
            .zip(self.slots.iter())
            .filter(|(&t, _)| t != 0)
            .map(|(_, &[k, w])| (k, unpack(w)))
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
