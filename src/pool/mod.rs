//! Fixed-capacity slabs with generational `u32` handles.
//!
//! A [`Pool`] allocates all its slots at construction and never grows. A
//! [`Handle`] packs a slot index and the slot's generation; freeing a slot
//! bumps its generation, so a stale handle finds `None`, never another
//! object. An exhausted pool returns [`PoolExhausted`], which callers turn
//! into a clean reject. Nothing here allocates after `with_capacity`, and
//! nothing panics.
//!
//! Layout: the values sit in an array of their own (`MaybeUninit<T>`, so a
//! 64-byte value takes exactly one cache line and insert/remove move it
//! once), beside a dense array of 8-byte slot headers (the generation with
//! an occupancy bit, and the free-list link). A header says whether its
//! value is initialised; that is the one invariant the `unsafe` blocks
//! below rely on, and every function that changes a header keeps it.

use core::marker::PhantomData;
use core::mem::MaybeUninit;

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

    /// The packed value (for journaling or maps).
    #[inline]
    pub fn to_raw(self) -> u32 {
        self.raw
    }

    /// Rebuilds a handle from [`Handle::to_raw`]; it resolves only if the slot
    /// still holds the same generation.
    #[inline]
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

/// A slot's header.
#[derive(Clone, Copy)]
struct Meta {
    /// While the slot holds a value: the value's raw handle with every
    /// index bit set (`raw | index_mask`). Otherwise (free, retired, or a
    /// padding header past the capacity) a word whose index bits are not
    /// all set: 0. The value is initialised exactly when
    /// `tag & index_mask == index_mask`.
    tag: u32,
    /// While the slot is free: the raw handle the free slot below it on the
    /// free list will be given (its index and its current generation), or
    /// `NIL`.
    next_free: u32,
}

/// A fixed-capacity slab.
pub struct Pool<T> {
    /// `index_mask + 1` headers: one per slot, then padding headers (never
    /// occupied, never on the free list) up to the next power of two, so
    /// that any index taken from a handle addresses a header.
    meta: Box<[Meta]>,
    /// `capacity` values, initialised exactly where the header says so.
    values: Box<[MaybeUninit<T>]>,
    /// The raw handle the next insert returns (the free list's head slot
    /// with its generation), or `NIL`: an insert forms its handle without
    /// reading the slot header first.
    free_head: u32,
    len: usize,
    index_bits: u32,
    index_mask: u32,
    /// Raw handles at or above this carry the last generation a slot may
    /// have: removing one retires the slot instead of freeing it, so a
    /// generation never wraps and no live handle equals [`Handle::NONE`].
    retire_from: u32,
}

const NIL: u32 = u32::MAX;

impl<T> Pool<T> {
    /// Allocates `capacity` slots up front (clamped to [`MAX_CAPACITY`]).
    pub fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.min(MAX_CAPACITY);
        // Index bits: enough for capacity - 1 (at least 1).
        let index_bits = (usize::BITS - capacity.max(2).saturating_sub(1).leading_zeros()).max(1);
        let index_mask = (1u32 << index_bits) - 1;
        let meta: Box<[Meta]> = (0..=index_mask as usize)
            .map(|i| Meta {
                tag: 0,
                // Generation 0: the raw handle is the index.
                next_free: if i + 1 < capacity {
                    (i + 1) as u32
                } else {
                    NIL
                },
            })
            .collect();
        // The largest generation that fits beside the index is all ones:
        // reserved (it would let `Handle::NONE` resolve), so the one below
        // is the last a slot is given.
        let max_generation = (u32::MAX >> index_bits) - 1;
        Pool {
            meta,
            values: Box::new_uninit_slice(capacity),
            free_head: if capacity == 0 { NIL } else { 0 },
            len: 0,
            index_bits,
            index_mask,
            retire_from: max_generation << index_bits,
        }
    }

    /// The header of the slot `raw` names (always in bounds).
    #[inline(always)]
    fn meta(&self, raw: u32) -> &Meta {
        // SAFETY: `meta.len() == index_mask + 1` (built so in
        // `with_capacity`, never resized), so a masked index is in bounds.
        unsafe { self.meta.get_unchecked((raw & self.index_mask) as usize) }
    }

    #[inline(always)]
    fn meta_mut(&mut self, raw: u32) -> &mut Meta {
        // SAFETY: as in `meta`.
        unsafe {
            self.meta
                .get_unchecked_mut((raw & self.index_mask) as usize)
        }
    }

    /// The slot index of `h` (for dense side tables sized like the pool);
    /// `None` if it is out of range.
    #[inline]
    pub fn index_of(&self, h: Handle<T>) -> Option<usize> {
        let i = (h.raw & self.index_mask) as usize;
        (i < self.values.len()).then_some(i)
    }

    /// Slots in total.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.values.len()
    }

    /// Slots in use.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no slot is in use.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` and returns its handle, or [`PoolExhausted`].
    #[inline]
    pub fn insert(&mut self, value: T) -> Result<Handle<T>, PoolExhausted> {
        let raw = self.free_head;
        if raw == NIL {
            return Err(PoolExhausted {
                capacity: self.values.len(),
            });
        }
        let idx = (raw & self.index_mask) as usize;
        // The value is written first: nothing else is stored before it, so
        // the compiler can move it straight from the caller's place.
        // SAFETY: only slots below the capacity are ever put on the free
        // list, so `idx < values.len()`. The slot is free, so its value is
        // uninitialised and writing it leaks nothing; its header says
        // occupied right below.
        unsafe { self.values.get_unchecked_mut(idx) }.write(value);
        let mask = self.index_mask;
        let m = self.meta_mut(raw);
        let next = m.next_free;
        m.tag = raw | mask;
        self.free_head = next;
        self.len += 1;
        Ok(Handle::from_raw(raw))
    }

    /// True when `h` names a live object. Its index is then below the
    /// capacity: padding headers and free or retired slots never hold an
    /// occupied tag, and an occupied tag holds its own handle's generation.
    #[inline(always)]
    fn is_live(&self, h: Handle<T>) -> bool {
        self.meta(h.raw).tag == h.raw | self.index_mask
    }

    /// The value behind `h`, or `None` if `h` is stale or foreign.
    #[inline]
    pub fn get(&self, h: Handle<T>) -> Option<&T> {
        if !self.is_live(h) {
            return None;
        }
        let idx = (h.raw & self.index_mask) as usize;
        // SAFETY: `h` is live, so `idx < values.len()` and the value is
        // initialised.
        Some(unsafe { self.values.get_unchecked(idx).assume_init_ref() })
    }

    /// Mutable access to the value behind `h`, or `None` if stale.
    #[inline]
    pub fn get_mut(&mut self, h: Handle<T>) -> Option<&mut T> {
        if !self.is_live(h) {
            return None;
        }
        let idx = (h.raw & self.index_mask) as usize;
        // SAFETY: as in `get`; `&mut self` makes the borrow unique.
        Some(unsafe { self.values.get_unchecked_mut(idx).assume_init_mut() })
    }

    /// Removes and returns the value behind `h`; `None` if stale. The slot's
    /// generation advances, so every copy of `h` is now stale.
    #[inline]
    pub fn remove(&mut self, h: Handle<T>) -> Option<T> {
        if !self.is_live(h) {
            return None;
        }
        let raw = h.raw;
        let idx = (raw & self.index_mask) as usize;
        let (retire_from, generation_one) = (self.retire_from, 1u32 << self.index_bits);
        let head = self.free_head;
        let m = self.meta_mut(raw);
        m.tag = 0;
        if raw < retire_from {
            // Free: the next insert here gets the next generation.
            m.next_free = head;
            self.free_head = raw + generation_one;
        }
        // Else retire the slot: reusing it would wrap the generation and
        // let an ancient handle alias a new object. It never rejoins the
        // free list.
        self.len -= 1;
        // SAFETY: `h` was live, so `idx < values.len()` and the value was
        // initialised; its header now says free, so it is read out exactly
        // once.
        Some(unsafe { self.values.get_unchecked(idx).assume_init_read() })
    }

    /// Every live (handle, value), in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Handle<T>, &T)> {
        let mask = self.index_mask;
        self.meta
            .iter()
            .zip(self.values.iter())
            .enumerate()
            .filter(move |(_, (m, _))| m.tag & mask == mask)
            .map(move |(i, (m, v))| {
                // SAFETY: the header says occupied, so the value is
                // initialised.
                let v = unsafe { v.assume_init_ref() };
                (Handle::from_raw((m.tag & !mask) | i as u32), v)
            })
    }
}

impl<T> Drop for Pool<T> {
    fn drop(&mut self) {
        if !core::mem::needs_drop::<T>() {
            return;
        }
        let mask = self.index_mask;
        for (m, v) in self.meta.iter().zip(self.values.iter_mut()) {
            if m.tag & mask == mask {
                // SAFETY: the header says the value is initialised, and the
                // pool is going away, so it is dropped exactly once.
                unsafe { v.assume_init_drop() };
            }
        }
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
    fn values_are_dropped_exactly_once() {
        use std::rc::Rc;
        let token = Rc::new(());
        let mut p = Pool::with_capacity(4);
        let a = p.insert(Rc::clone(&token)).unwrap();
        let _b = p.insert(Rc::clone(&token)).unwrap();
        let c = p.insert(Rc::clone(&token)).unwrap();
        assert_eq!(Rc::strong_count(&token), 4);
        drop(p.remove(a));
        assert_eq!(Rc::strong_count(&token), 3);
        assert!(p.remove(a).is_none(), "a second remove reads nothing");
        *p.get_mut(c).unwrap() = Rc::new(());
        assert_eq!(
            Rc::strong_count(&token),
            2,
            "the overwritten value was dropped"
        );
        p.insert(Rc::clone(&token)).unwrap();
        assert_eq!(Rc::strong_count(&token), 3);
        drop(p);
        assert_eq!(
            Rc::strong_count(&token),
            1,
            "dropping the pool drops what it holds"
        );
    }

    #[test]
    fn zero_capacity_pool_is_always_exhausted() {
        let mut p: Pool<[u64; 8]> = Pool::with_capacity(0);
        assert_eq!(p.insert([1; 8]), Err(PoolExhausted { capacity: 0 }));
        assert_eq!(p.get(Handle::from_raw(0)), None);
        assert_eq!(p.remove(Handle::from_raw(0)), None);
        assert_eq!(p.iter().count(), 0);
    }

    #[test]
    fn iter_and_get_mut_see_live_values_only() {
        let mut p = Pool::with_capacity(8);
        let hs: Vec<_> = (0..6u32).map(|i| p.insert(i).unwrap()).collect();
        p.remove(hs[1]).unwrap();
        p.remove(hs[4]).unwrap();
        *p.get_mut(hs[2]).unwrap() += 100;
        assert_eq!(p.get_mut(hs[1]), None);
        let live: Vec<_> = p.iter().map(|(h, &v)| (h, v)).collect();
        assert_eq!(live, vec![(hs[0], 0), (hs[2], 102), (hs[3], 3), (hs[5], 5)]);
        // A handle rebuilt from its raw value resolves; a forged generation does not.
        let raw = hs[3].to_raw();
        assert_eq!(p.get(Handle::from_raw(raw)), Some(&3));
        assert_eq!(p.get(Handle::from_raw(raw ^ (1 << 31))), None);
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
