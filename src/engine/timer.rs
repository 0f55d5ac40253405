//! The engine's timers: an indexed binary min-heap over a fixed array, one
//! timer per owner slot (a parent's pool index).
//!
//! Setting a slot's timer again moves it; removing it is O(log n); there are
//! no stale entries, so the heap never holds more than one entry per slot.
//! Ties fire in `key` order (the parent id), so firing order is a function of
//! deadlines and ids only, never of pool layout. Nothing allocates after
//! construction or panics.

use crate::time::Nanos;

const NOT_IN_HEAP: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    at: Nanos,
    key: u32,
    slot: u32,
}

impl Entry {
    #[inline]
    fn before(&self, o: &Entry) -> bool {
        (self.at, self.key) < (o.at, o.key)
    }
}

/// A fixed-capacity timer heap keyed by owner slot.
#[derive(Clone, Debug)]
pub struct TimerHeap {
    heap: Vec<Entry>,
    pos: Vec<u32>,
}

impl TimerHeap {
    /// A heap for owner slots `0..slots`.
    pub fn with_slots(slots: usize) -> TimerHeap {
        TimerHeap {
            heap: Vec::with_capacity(slots),
            pos: vec![NOT_IN_HEAP; slots],
        }
    }

    /// Timers armed.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is armed.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// The earliest deadline and its slot.
    pub fn peek(&self) -> Option<(Nanos, u32)> {
        self.heap.first().map(|e| (e.at, e.slot))
    }

    /// The deadline armed for `slot`.
    pub fn deadline(&self, slot: u32) -> Option<Nanos> {
        let p = *self.pos.get(slot as usize)?;
        self.heap.get(p as usize).map(|e| e.at)
    }

    /// Arms (or moves) `slot`'s timer to `at`; `key` breaks ties. Returns
    /// false if `slot` is out of range.
    pub fn set(&mut self, slot: u32, key: u32, at: Nanos) -> bool {
        let Some(&p) = self.pos.get(slot as usize) else {
            return false;
        };
        let e = Entry { at, key, slot };
        if p == NOT_IN_HEAP {
            let i = self.heap.len();
            if i >= self.pos.len() {
                return false;
            }
            self.heap.push(e);
            self.place(i);
            self.up(i);
        } else {
            let i = p as usize;
            if let Some(old) = self.heap.get_mut(i) {
                *old = e;
            }
            self.up(i);
            self.down(i);
        }
        true
    }

    /// Disarms `slot`'s timer.
    pub fn remove(&mut self, slot: u32) {
        let Some(&p) = self.pos.get(slot as usize) else {
            return;
        };
        if p == NOT_IN_HEAP {
            return;
        }
        let i = p as usize;
        let last = self.heap.len() - 1;
        self.heap.swap(i, last);
        self.heap.pop();
        if let Some(x) = self.pos.get_mut(slot as usize) {
            *x = NOT_IN_HEAP;
        }
        if i < self.heap.len() {
            self.place(i);
            self.up(i);
            self.down(i);
        }
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    pub fn pop_due(&mut self, now: Nanos) -> Option<u32> {
        let (at, slot) = self.peek()?;
        if at > now {
            return None;
        }
        self.remove(slot);
        Some(slot)
    }

    /// Disarms everything.
    pub fn clear(&mut self) {
        for e in &self.heap {
            if let Some(x) = self.pos.get_mut(e.slot as usize) {
                *x = NOT_IN_HEAP;
            }
        }
        self.heap.clear();
    }

    #[inline]
    fn place(&mut self, i: usize) {
        if let Some(e) = self.heap.get(i) {
            if let Some(x) = self.pos.get_mut(e.slot as usize) {
                *x = i as u32;
            }
        }
    }

    fn up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            match (self.heap.get(i), self.heap.get(parent)) {
                (Some(a), Some(b)) if a.before(b) => {
                    self.heap.swap(i, parent);
                    self.place(i);
                    self.place(parent);
                    i = parent;
                }
                _ => break,
            }
        }
    }

    fn down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if let (Some(a), Some(b)) = (self.heap.get(l), self.heap.get(best)) {
                if a.before(b) {
                    best = l;
                }
            }
            if let (Some(a), Some(b)) = (self.heap.get(r), self.heap.get(best)) {
                if a.before(b) {
                    best = r;
                }
            }
            if best == i {
                break;
            }
            self.heap.swap(i, best);
            self.place(i);
            self.place(best);
            i = best;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// Fires in (deadline, key) order, like a sorted model, under moves and removals.
        #[test]
        fn matches_a_sorted_model(ops in proptest::collection::vec((0u8..3, 0u32..16, 0u64..50), 1..300)) {
            let mut h = TimerHeap::with_slots(16);
            let mut model: BTreeMap<u32, u64> = BTreeMap::new();
            for (op, slot, at) in ops {
                match op {
                    0 => { h.set(slot, slot, Nanos(at)); model.insert(slot, at); }
                    1 => { h.remove(slot); model.remove(&slot); }
                    _ => {
                        let due = model.iter().map(|(s, a)| (*a, *s)).filter(|(a, _)| *a <= at).min();
                        let got = h.pop_due(Nanos(at));
                        prop_assert_eq!(got, due.map(|(_, s)| s));
                        if let Some((_, s)) = due { model.remove(&s); }
                    }
                }
                prop_assert_eq!(h.len(), model.len());
                for (s, a) in &model {
                    prop_assert_eq!(h.deadline(*s), Some(Nanos(*a)));
                }
            }
        }
    }

    #[test]
    fn out_of_range_slot_is_refused() {
        let mut h = TimerHeap::with_slots(2);
        assert!(!h.set(2, 0, Nanos(1)));
        assert!(h.set(1, 0, Nanos(1)));
        assert_eq!(h.pop_due(Nanos(0)), None);
        assert_eq!(h.pop_due(Nanos(1)), Some(1));
        assert!(h.is_empty());
    }
}
