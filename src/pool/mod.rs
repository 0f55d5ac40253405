//! Fixed-capacity slabs with generational `u32` handles.
//!
//! A [`Pool`] allocates all its slots at construction and never grows. A
//! [`Handle`] packs a slot index and the slot's generation; freeing a slot
//! bumps its generation, so a stale handle finds `None`, never another
//! object. An exhausted pool returns [`PoolExhausted`], which callers turn
//! into a clean reject. Nothing here allocates after `with_capacity`, and
//! nothing panics. No `unsafe`.
#![forbid(unsafe_code)]

use core::marker::PhantomData;

/// The largest capacity a pool can have (2^24 − 1 slots).
pub const MAX_CAPACITY: usize = (1 << 24) - 1;

/// A generational handle into a [`Pool<T>`]: the low bits are the slot index
/// (as many as the pool's capacity needs), the high bits the slot's
/// generation. `Copy`, 4 bytes, typed by what it points to. A slot whose
/// generation would wrap is retired for good, so a stale handle can never
/// alias a later object.
pub struct Handle<T> {
    raw: u32,
    _marker: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    /// A handle that never resolves.
    pub const NONE: Handle<T> = Handle {
        raw: u32::MAX,
        _marker: PhantomData,
    };

    fn new(index: u32, generation: u32, index_bits: u32) -> Self {
        Handle {
            raw: (generation << index_bits) | index,
            _marker: PhantomData,
        }
    }

    /// The packed value (for journaling or maps).
    pub fn to_raw(self) -> u32 {
        self.raw
    }

    /// Rebuilds a handle from [`Handle::to_raw`]; it resolves only if the slot
    /// still holds the same generation.
    pub fn from_raw(raw: u32) -> Self {
        Handle {
            raw,
            _marker: PhantomData,
        }
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Handle<T> {}
impl<T> PartialEq for Handle<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}
impl<T> Eq for Handle<T> {}
impl<T> core::hash::Hash for Handle<T> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}
impl<T> core::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Handle({:#x})", self.raw)
    }
}

/// The pool has no free slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("pool exhausted: all {capacity} slots in use")]
pub struct PoolExhausted {
    /// The pool's capacity.
    pub capacity: usize,
}

struct Slot<T> {
    generation: u32,
    value: Option<T>,
    next_free: u32,
}

/// A fixed-capacity slab.
pub struct Pool<T> {
    slots: Vec<Slot<T>>,
    free_head: u32,
    len: usize,
    index_bits: u32,
    /// Largest generation before a slot is retired; never all ones, so that
    /// no live handle equals [`Handle::NONE`].
    max_generation: u32,
}

const NIL: u32 = u32::MAX;

impl<T> Pool<T> {
    /// Allocates `capacity` slots up front (clamped to [`MAX_CAPACITY`]).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.min(MAX_CAPACITY);
        let mut slots = Vec::with_capacity(capacity);
        for i in 0..capacity {
            let next = if i + 1 < capacity {
                (i + 1) as u32
            } else {
                NIL
            };
            slots.push(Slot {
                generation: 0,
                value: None,
                next_free: next,
            });
        }
        // Index bits: enough for capacity - 1 (at least 1).
        let index_bits = (usize::BITS - capacity.max(2).saturating_sub(1).leading_zeros()).max(1);
        Pool {
            slots,
            free_head: if capacity == 0 { NIL } else { 0 },
            len: 0,
            index_bits,
            max_generation: (u32::MAX >> index_bits) - 1,
        }
    }

    /// The slot index of `h` (for dense side tables sized like the pool);
    /// `None` if it is out of range.
    pub fn index_of(&self, h: Handle<T>) -> Option<usize> {
        let i = (h.raw & ((1u32 << self.index_bits) - 1)) as usize;
        (i < self.slots.len()).then_some(i)
    }

    fn split(&self, h: Handle<T>) -> (usize, u32) {
        (
            (h.raw & ((1u32 << self.index_bits) - 1)) as usize,
            h.raw >> self.index_bits,
        )
    }

    /// Slots in total.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Slots in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no slot is in use.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` and returns its handle, or [`PoolExhausted`].
    pub fn insert(&mut self, value: T) -> Result<Handle<T>, PoolExhausted> {
        let idx = self.free_head;
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return Err(PoolExhausted {
                capacity: self.slots.len(),
            });
        };
        self.free_head = slot.next_free;
        slot.next_free = NIL;
        slot.value = Some(value);
        self.len += 1;
        Ok(Handle::new(idx, slot.generation, self.index_bits))
    }

    /// The value behind `h`, or `None` if `h` is stale or foreign.
    pub fn get(&self, h: Handle<T>) -> Option<&T> {
        let (idx, generation) = self.split(h);
        let slot = self.slots.get(idx)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.as_ref()
    }

    /// Mutable access to the value behind `h`, or `None` if stale.
    pub fn get_mut(&mut self, h: Handle<T>) -> Option<&mut T> {
        let (idx, generation) = self.split(h);
        let slot = self.slots.get_mut(idx)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.as_mut()
    }

    /// Removes and returns the value behind `h`; `None` if stale. The slot's
    /// generation advances, so every copy of `h` is now stale.
    pub fn remove(&mut self, h: Handle<T>) -> Option<T> {
        let (idx, generation) = self.split(h);
        let max_generation = self.max_generation;
        let slot = self.slots.get_mut(idx)?;
        if slot.generation != generation || slot.value.is_none() {
            return None;
        }
        let value = slot.value.take();
        self.len -= 1;
        if slot.generation >= max_generation {
            // Retire the slot: reusing it would wrap the generation and let an
            // ancient handle alias a new object.
            slot.generation = max_generation + 1;
            return value;
        }
        slot.generation += 1;
        slot.next_free = self.free_head;
        self.free_head = idx as u32;
        value
    }

    /// Every live (handle, value), in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Handle<T>, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.value
                .as_ref()
                .map(|v| (Handle::new(i as u32, s.generation, self.index_bits), v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stale_handle_finds_nothing() {
        let mut p = Pool::with_capacity(2);
        let a = p.insert(1u64).unwrap();
        assert_eq!(p.remove(a), Some(1));
        let b = p.insert(2u64).unwrap();
        assert_eq!(p.index_of(a), p.index_of(b), "slot is reused");
        assert_eq!(p.get(a), None, "stale handle must not see the new object");
        assert_eq!(p.remove(a), None);
        assert_eq!(p.get(b), Some(&2));
    }

    #[test]
    fn exhaustion_is_an_error_not_a_grow() {
        let mut p = Pool::with_capacity(3);
        for i in 0..3 {
            p.insert(i).unwrap();
        }
        assert_eq!(p.insert(9), Err(PoolExhausted { capacity: 3 }));
        assert_eq!(p.len(), 3);
        assert_eq!(p.capacity(), 3);
    }

    #[test]
    fn a_slot_is_retired_before_its_generation_wraps() {
        // Capacity 2^23 uses 23 index bits, leaving 9 of generation (510 reuses).
        let mut p = Pool::with_capacity(1 << 23);
        let first = p.insert(0u32).unwrap();
        let slot = p.index_of(first);
        p.remove(first);
        let mut seen = vec![first];
        // Drive slot 0 until it is retired: the free list returns it first each time.
        loop {
            let h = p.insert(1u32).unwrap();
            if p.index_of(h) != slot {
                break;
            }
            p.remove(h);
            seen.push(h);
        }
        assert!(seen.len() > 500, "slot reused {} times", seen.len());
        for h in &seen {
            assert_eq!(p.get(*h), None);
        }
    }

    #[test]
    fn none_handle_never_resolves() {
        let mut p = Pool::with_capacity(4);
        p.insert(1u8).unwrap();
        assert_eq!(p.get(Handle::NONE), None);
    }

    proptest! {
        /// The pool behaves like a map from live handles to values.
        #[test]
        fn behaves_like_a_model(ops in proptest::collection::vec((any::<bool>(), any::<u16>()), 1..400)) {
            let mut p = Pool::with_capacity(16);
            let mut live: Vec<(Handle<u16>, u16)> = Vec::new();
            let mut dead: Vec<Handle<u16>> = Vec::new();
            for (ins, v) in ops {
                if ins {
                    match p.insert(v) {
                        Ok(h) => live.push((h, v)),
                        Err(_) => prop_assert_eq!(live.len(), 16),
                    }
                } else if !live.is_empty() {
                    let (h, want) = live.remove(v as usize % live.len());
                    prop_assert_eq!(p.remove(h), Some(want));
                    dead.push(h);
                }
                for (h, want) in &live {
                    prop_assert_eq!(p.get(*h), Some(want));
                }
                for h in &dead {
                    prop_assert_eq!(p.get(*h), None);
                }
                prop_assert_eq!(p.len(), live.len());
            }
        }
    }
}
