//! A fixed-capacity hash map (open addressing, linear probing, backward-shift
//! deletion) for the engine's indexes: order ref → child, parent id →
//! parent, client_order_id → original answer, symbol → slot.
//!
//! The table is allocated once, at twice the stated entry capacity rounded
//! up to a power of two, so probes stay short; inserting beyond the stated
//! capacity is a [`MapFull`] error, never a grow. Nothing allocates after
//! construction or panics.

/// A key the map can hash.
pub trait FixedKey: Copy + Eq {
    /// A well-mixed 64-bit hash.
    fn hash64(&self) -> u64;
}

/// SplitMix64's finalizer: a cheap, well-mixed bijection on u64.
#[inline]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl FixedKey for u32 {
    #[inline]
    fn hash64(&self) -> u64 {
        mix64(u64::from(*self))
    }
}

impl FixedKey for crate::types::Symbol {
    #[inline]
    fn hash64(&self) -> u64 {
        mix64(u64::from_le_bytes(self.0))
    }
}

/// The map holds its stated capacity already.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("index full: {capacity} entries")]
pub struct MapFull {
    /// The stated capacity.
    pub capacity: usize,
}

/// A fixed-capacity map from `K` to `V`.
#[derive(Clone, Debug)]
pub struct FixedMap<K, V> {
    slots: Vec<Option<(K, V)>>,
    mask: usize,
    len: usize,
    capacity: usize,
}

impl<K: FixedKey, V: Copy> FixedMap<K, V> {
    /// A map for up to `capacity` entries (at least 1).
    pub fn with_capacity(capacity: usize) -> FixedMap<K, V> {
        let capacity = capacity.max(1);
        let table = capacity.saturating_mul(2).next_power_of_two().max(2);
        FixedMap {
            slots: vec![None; table],
            mask: table - 1,
            len: 0,
            capacity,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The stated capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    #[inline]
    fn home(&self, k: &K) -> usize {
        (k.hash64() as usize) & self.mask
    }

    /// The slot holding `k`, if any.
    #[inline]
    fn find(&self, k: &K) -> Option<usize> {
        let mut i = self.home(k);
        // At most `len + 1` probes: the table always has an empty slot.
        for _ in 0..=self.len {
            match self.slots.get(i)? {
                None => return None,
                Some((key, _)) if key == k => return Some(i),
                Some(_) => i = (i + 1) & self.mask,
            }
        }
        None
    }

    /// The value for `k`.
    #[inline]
    pub fn get(&self, k: &K) -> Option<&V> {
        let i = self.find(k)?;
        self.slots.get(i)?.as_ref().map(|(_, v)| v)
    }

    /// Mutable access to the value for `k`.
    pub fn get_mut(&mut self, k: &K) -> Option<&mut V> {
        let i = self.find(k)?;
        self.slots.get_mut(i)?.as_mut().map(|(_, v)| v)
    }

    /// True when `k` is present.
    pub fn contains(&self, k: &K) -> bool {
        self.find(k).is_some()
    }

    /// Inserts or replaces; returns the previous value. A new key beyond the
    /// stated capacity is [`MapFull`].
    pub fn insert(&mut self, k: K, v: V) -> Result<Option<V>, MapFull> {
        let mut i = self.home(&k);
        loop {
            let Some(slot) = self.slots.get_mut(i) else {
                return Err(MapFull {
                    capacity: self.capacity,
                });
            };
            match slot {
                Some((key, val)) if *key == k => {
                    let old = *val;
                    *val = v;
                    return Ok(Some(old));
                }
                Some(_) => i = (i + 1) & self.mask,
                None => {
                    if self.len >= self.capacity {
                        return Err(MapFull {
                            capacity: self.capacity,
                        });
                    }
                    *slot = Some((k, v));
                    self.len += 1;
                    return Ok(None);
                }
            }
        }
    }

    /// Removes `k`; returns its value. Later entries of the probe run shift
    /// back, so no tombstones accumulate.
    pub fn remove(&mut self, k: &K) -> Option<V> {
        let mut hole = self.find(k)?;
        let (_, v) = self.slots.get_mut(hole)?.take()?;
        self.len -= 1;
        let mut j = hole;
        loop {
            j = (j + 1) & self.mask;
            let home = match self.slots.get(j) {
                Some(Some((key, _))) => self.home(key),
                _ => break,
            };
            // Move j into the hole if its home is not cyclically in (hole, j].
            let dist_home = j.wrapping_sub(home) & self.mask;
            let dist_hole = j.wrapping_sub(hole) & self.mask;
            if dist_home >= dist_hole {
                let moved = self.slots.get_mut(j).and_then(Option::take);
                if let Some(slot) = self.slots.get_mut(hole) {
                    *slot = moved;
                }
                hole = j;
            }
        }
        Some(v)
    }

    /// Every entry, in table order (not insertion order).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots
            .iter()
            .filter_map(|s| s.as_ref().map(|(k, v)| (k, v)))
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        for s in &mut self.slots {
            *s = None;
        }
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn full_is_an_error() {
        let mut m = FixedMap::<u32, u32>::with_capacity(3);
        for k in 0..3 {
            assert_eq!(m.insert(k, k), Ok(None));
        }
        assert_eq!(m.insert(9, 9), Err(MapFull { capacity: 3 }));
        assert_eq!(m.insert(1, 7), Ok(Some(1)), "replacing is not growing");
        assert_eq!(m.remove(&0), Some(0));
        assert_eq!(m.insert(9, 9), Ok(None));
    }

    proptest! {
        /// Behaves like a HashMap bounded at its capacity, under heavy
        /// collisions (small key space) and deletions.
        #[test]
        fn behaves_like_a_model(ops in proptest::collection::vec((0u8..3, 0u32..64, any::<u32>()), 1..600)) {
            let mut m = FixedMap::<u32, u32>::with_capacity(24);
            let mut model = HashMap::new();
            for (op, k, v) in ops {
                match op {
                    0 => {
                        let r = m.insert(k, v);
                        if model.len() >= 24 && !model.contains_key(&k) {
                            prop_assert!(r.is_err());
                        } else {
                            prop_assert_eq!(r.unwrap(), model.insert(k, v));
                        }
                    }
                    1 => prop_assert_eq!(m.remove(&k), model.remove(&k)),
                    _ => prop_assert_eq!(m.get(&k), model.get(&k)),
                }
                prop_assert_eq!(m.len(), model.len());
            }
            for (k, v) in &model {
                prop_assert_eq!(m.get(k), Some(v));
            }
        }
    }
}
