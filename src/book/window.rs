//! The market-wide order window: one direct-mapped slot per order reference
//! modulo a power of two, shared by every book of a [`Books`](super::Books)
//! set.
//!
//! ITCH order references are assigned market-wide in increasing order, and
//! most messages name an order added shortly before. Indexing by the
//! reference's low bits therefore lays consecutive orders out side by side
//! (four to a cache line, whatever their symbol) and keeps the orders a feed
//! is busy with in the few lines it touched last: no hash, no probe, one
//! line per lookup. A new order takes its slot; an older order still there
//! (one that outlived a whole turn of the window) moves to its own book's
//! order table, and the slot counts it, so that a lookup only probes a table
//! when the slot says some order with this slot's reference bits was moved
//! there.
//!
//! An entry is two words. The first holds the reference's high bits (above
//! the window's index bits) shifted up by 24, the count of evicted orders
//! whose references share this slot (8 bits, at 16), and the book index
//! plus one (16 bits; 0 = empty slot). The second holds the order packed as
//! in the order table (side, price, open quantity). References whose high
//! bits do not fit in 40 bits never enter the window: their books keep them
//! in their tables. The count saturates at 255 and then stays there, which
//! only means every later lookup of that slot probes the table.
//!
//! The array is allocated zeroed (pages are committed on first touch);
//! [`Window::prefault`] commits them all up front.

use super::orders::{pack, unpack, Resting};
use crate::types::Qty;

/// Slots in the smallest window [`Window::for_capacity`] picks.
pub(crate) const MIN_SLOTS: usize = 1 << 12;
/// Slots in the largest window (64 MiB).
pub(crate) const MAX_SLOTS: usize = 1 << 22;

const BOOK_MASK: u64 = 0xFFFF;
const EVICTED_SHIFT: u32 = 16;
const EVICTED_ONE: u64 = 1 << EVICTED_SHIFT;
const EVICTED_MASK: u64 = 0xFF << EVICTED_SHIFT;
const EVICTED_STICKY: u64 = EVICTED_MASK;
const REF_SHIFT: u32 = 24;
/// High reference bits an entry can hold.
const REF_HIGH_BITS: u32 = 64 - REF_SHIFT;

/// What a slot says about a reference of a book.
pub(crate) enum Lookup {
    /// The order is in the window at the slot asked about.
    Here(Resting),
    /// The order is not in the window and cannot be in the book's table
    /// either (no order of this slot was moved out): it does not exist.
    Absent,
    /// Not in the window; the book's table must be asked.
    AskTable,
}

/// The direct-mapped order window.
pub(crate) struct Window {
    /// `[key | evicted count | book + 1, packed order]`.
    slots: Vec<[u64; 2]>,
    /// `slots.len() - 1`.
    mask: usize,
    /// `log2(slots.len())`.
    bits: u32,
    /// `bits + REF_HIGH_BITS`: references with bits at or above it set are
    /// too large for an entry.
    too_large: u32,
}

impl Window {
    /// A window of `slots` slots (rounded up to a power of two, between 1
    /// and [`MAX_SLOTS`]).
    pub fn with_slots(slots: usize) -> Window {
        let slots = slots.clamp(1, MAX_SLOTS).next_power_of_two();
        let bits = slots.trailing_zeros();
        Window {
            // Zeroed: every slot empty, pages committed on first touch.
            slots: vec![[0u64; 2]; slots],
            mask: slots - 1,
            bits,
            // At most 22 + 40: a valid shift.
            too_large: bits + REF_HIGH_BITS,
        }
    }

    /// The window for `orders` orders in all books: one slot per order,
    /// rounded up to a power of two, between [`MIN_SLOTS`] and
    /// [`MAX_SLOTS`].
    pub fn for_capacity(orders: usize) -> Window {
        Window::with_slots(orders.clamp(MIN_SLOTS, MAX_SLOTS))
    }

    /// Slots in the window.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// The slot of `order_ref` of `book`, and the key its entry holds (the
    /// reference's high bits and the book); `None` when the reference is too
    /// large for an entry (its book keeps it in its table).
    #[inline(always)]
    pub fn locate(&self, book: usize, order_ref: u64) -> Option<(usize, u64)> {
        if order_ref >> self.too_large != 0 {
            return None;
        }
        let key = ((order_ref >> self.bits) << REF_SHIFT) | (book as u64 + 1);
        Some((order_ref as usize & self.mask, key))
    }

    /// The slot of `order_ref` (whichever book), or `None` when the
    /// reference is too large for an entry.
    #[inline(always)]
    pub fn slot_of(&self, order_ref: u64) -> Option<usize> {
        self.locate(0, order_ref).map(|(slot, _)| slot)
    }

    /// The entry at `slot` (an empty entry when out of range, which a slot
    /// from [`Window::slot_of`] never is).
    #[inline(always)]
    fn entry(&self, slot: usize) -> [u64; 2] {
        self.slots.get(slot).copied().unwrap_or([0, 0])
    }

    /// Looks the order with `key` up at `slot` (both from
    /// [`Window::locate`]).
    #[inline(always)]
    pub fn lookup(&self, slot: usize, key: u64) -> Lookup {
        let [w0, w1] = self.entry(slot);
        if w0 & !EVICTED_MASK == key {
            Lookup::Here(unpack(w1))
        } else if w0 & EVICTED_MASK == 0 {
            Lookup::Absent
        } else {
            Lookup::AskTable
        }
    }

    /// True when an order occupies `slot`.
    #[inline(always)]
    pub fn is_occupied(&self, slot: usize) -> bool {
        self.entry(slot)[0] & BOOK_MASK != 0
    }

    /// The order occupying `slot`, as `(book, reference, order)`.
    #[inline]
    pub fn occupant(&self, slot: usize) -> Option<(usize, u64, Resting)> {
        let [w0, w1] = self.entry(slot);
        let book = (w0 & BOOK_MASK) as usize;
        if book == 0 {
            return None;
        }
        let order_ref = ((w0 >> REF_SHIFT) << self.bits) | slot as u64;
        Some((book - 1, order_ref, unpack(w1)))
    }

    /// Stores the order with `key` in `slot` (both from
    /// [`Window::locate`]), which must be empty (its occupant moved out
    /// first); the slot's eviction count is kept.
    #[inline(always)]
    pub fn put(&mut self, slot: usize, key: u64, r: Resting) {
        if let Some(e) = self.slots.get_mut(slot) {
            debug_assert!(e[0] & BOOK_MASK == 0, "window slot occupied");
            *e = [(e[0] & EVICTED_MASK) | key, pack(r)];
        }
    }

    /// Sets the open quantity of the order in `slot` (non-zero).
    #[inline(always)]
    pub fn set_qty(&mut self, slot: usize, qty: Qty) {
        if let Some(e) = self.slots.get_mut(slot) {
            e[1] = (e[1] & !0xFFFF_FFFF) | u64::from(qty.0);
        }
    }

    /// Empties `slot`, keeping its eviction count.
    #[inline(always)]
    pub fn clear_slot(&mut self, slot: usize) {
        if let Some(e) = self.slots.get_mut(slot) {
            *e = [e[0] & EVICTED_MASK, 0];
        }
    }

    /// Counts one more order of `slot` moved out to a table (saturating:
    /// at 255 the count stays for good).
    #[inline]
    pub fn note_evicted(&mut self, slot: usize) {
        if let Some(e) = self.slots.get_mut(slot) {
            if e[0] & EVICTED_MASK != EVICTED_STICKY {
                e[0] += EVICTED_ONE;
            }
        }
    }

    /// Counts one order of `slot` fewer in the tables (unless saturated).
    #[inline]
    pub fn note_returned(&mut self, slot: usize) {
        if let Some(e) = self.slots.get_mut(slot) {
            let c = e[0] & EVICTED_MASK;
            if c != EVICTED_STICKY && c != 0 {
                e[0] -= EVICTED_ONE;
            }
        }
    }

    /// Every order of `book` in the window, as `(reference, order)` (not
    /// hot: reads the whole window).
    pub fn iter_book(&self, book: usize) -> impl Iterator<Item = (u64, Resting)> + '_ {
        (0..self.slots.len()).filter_map(move |slot| match self.occupant(slot) {
            Some((b, r, o)) if b == book => Some((r, o)),
            _ => None,
        })
    }

    /// Writes every slot once so that the kernel commits all pages now;
    /// the contents are unchanged.
    pub fn prefault(&mut self) {
        for s in self.slots.iter_mut() {
            *s = core::hint::black_box(*s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Price4, Side};

    fn r(q: u32) -> Resting {
        Resting {
            side: Side::Buy,
            price: Price4(1),
            qty: Qty(q),
        }
    }

    #[test]
    fn entries_round_trip_book_and_reference() {
        let mut w = Window::with_slots(16);
        assert_eq!(w.len(), 16);
        let big = (1u64 << (4 + REF_HIGH_BITS)) - 1;
        for (book, order_ref) in [(0usize, 5u64), (65_533, 21), (7, big)] {
            let (s, key) = w.locate(book, order_ref).unwrap();
            assert_eq!(w.slot_of(order_ref), Some(s));
            assert!(matches!(w.lookup(s, key), Lookup::Absent));
            w.put(s, key, r(3));
            assert!(w.is_occupied(s));
            assert_eq!(w.occupant(s), Some((book, order_ref, r(3))));
            assert!(matches!(w.lookup(s, key), Lookup::Here(o) if o == r(3)));
            // Same slot, other book or other high bits: not this order.
            let (_, other_book) = w.locate(book ^ 1, order_ref).unwrap();
            assert!(matches!(w.lookup(s, other_book), Lookup::Absent));
            let (s2, other_ref) = w.locate(book, order_ref ^ 16).unwrap();
            assert_eq!(s2, s);
            assert!(matches!(w.lookup(s, other_ref), Lookup::Absent));
            w.clear_slot(s);
            assert_eq!(w.occupant(s), None);
        }
        assert_eq!(w.slot_of(big + 1), None, "too large for an entry");
        assert_eq!(w.slot_of(u64::MAX), None);
        let w = Window::with_slots(usize::MAX);
        assert_eq!(w.len(), MAX_SLOTS);
        assert_eq!(w.slot_of(1 << 62), None);
        assert_eq!(w.slot_of((1 << 62) - 1), Some(MAX_SLOTS - 1));
    }

    #[test]
    fn eviction_counts_survive_the_slot_and_saturate() {
        let mut w = Window::with_slots(4);
        let (s, key) = w.locate(0, 5).unwrap();
        assert_eq!(s, 1);
        w.note_evicted(1);
        assert!(matches!(w.lookup(1, key), Lookup::AskTable));
        w.put(1, key, r(1));
        w.clear_slot(1);
        assert!(matches!(w.lookup(1, key), Lookup::AskTable), "count kept");
        w.note_returned(1);
        assert!(matches!(w.lookup(1, key), Lookup::Absent));
        for _ in 0..300 {
            w.note_evicted(2);
        }
        for _ in 0..300 {
            w.note_returned(2);
        }
        let (_, key) = w.locate(0, 2).unwrap();
        assert!(
            matches!(w.lookup(2, key), Lookup::AskTable),
            "sticky at 255"
        );
        w.note_returned(3);
        let (_, key) = w.locate(0, 3).unwrap();
        assert!(matches!(w.lookup(3, key), Lookup::Absent), "never below 0");
    }
}
