//! A bounded generational slab: where a core's connections live.
//!
//! Storage grows on demand up to the configured maximum and is never given back: a slab for a
//! million connections costs nothing per connection that never existed (the scale issue: an
//! idle connection costs at most 1 KiB, `layer::memory_per_connection`). Growth is amortised
//! (the vector doubles), happens only when more connections are open than ever before, and
//! never on the packet path of an existing connection. `insert` on a full slab returns `None`
//! (backpressure, ARCHITECTURE decision 11). Vacant entries form a LIFO free list threaded
//! through the storage, so insert and remove are O(1) and a freshly freed (cache-warm) entry
//! is reused first.
//!
//! A [`Handle`] names an entry by index *and* generation. Each remove bumps the entry's
//! generation, so a handle kept past its connection's end (a timer, a cross-core message, an
//! application's stale socket) finds nothing instead of a newer connection in the same entry.
//! Generations wrap after 2^32 reuses of one entry; a handle would have to survive that long to
//! alias. Indices are stable for an entry's lifetime, so they double as timer-wheel ids and
//! flow-table values.

/// A reference to a slab entry: its index and the generation it was inserted under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle {
    pub index: u32,
    pub generation: u32,
}

/// End of the free list.
const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
enum Entry<T> {
    Occupied { generation: u32, value: T },
    Vacant { generation: u32, next_free: u32 },
}

/// A slab of at most `capacity` values addressed by generational handles.
#[derive(Clone, Debug)]
pub struct Slab<T> {
    entries: Vec<Entry<T>>,
    free_head: u32,
    len: usize,
    /// Entries the slab may grow to.
    max: usize,
}

/// Entries reserved at creation (at most the maximum).
const INITIAL: usize = 1024;

impl<T> Slab<T> {
    /// Bytes one slot takes (the value plus the generation and entry tag).
    pub fn entry_size() -> usize {
        std::mem::size_of::<Entry<T>>()
    }

    /// A slab for at most `capacity` values; storage for a few is reserved now, the rest
    /// grows as values are stored.
    ///
    /// Panics if `capacity >= u32::MAX` (indices are `u32`; a configuration error).
    pub fn with_capacity(capacity: usize) -> Slab<T> {
        assert!(
            capacity < NIL as usize,
            "slab capacity {capacity} exceeds u32 indices"
        );
        Slab {
            entries: Vec::with_capacity(capacity.min(INITIAL)),
            free_head: NIL,
            len: 0,
            max: capacity,
        }
    }

    /// Entries allocated so far (occupied or vacant).
    pub fn allocated(&self) -> usize {
        self.entries.len()
    }

    /// Stores `value`; `None` (and `value` dropped) when the slab is full.
    pub fn insert(&mut self, value: T) -> Option<Handle> {
        self.insert_with(|_| value)
    }

    /// Stores the value `make(handle)` builds, for values that must know their own handle.
    /// `None` (and `make` not called) when the slab is full.
    pub fn insert_with(&mut self, make: impl FnOnce(Handle) -> T) -> Option<Handle> {
        if self.free_head == NIL {
            if self.entries.len() >= self.max {
                return None;
            }
            // A new entry at the end, linked as the free head (amortised growth).
            self.free_head = self.entries.len() as u32;
            self.entries.push(Entry::Vacant {
                generation: 0,
                next_free: NIL,
            });
        }
        let index = self.free_head;
        let entry = self.entries.get_mut(index as usize)?;
        let Entry::Vacant {
            generation,
            next_free,
        } = *entry
        else {
            // The free list links only vacant entries (insert and remove keep it so); were it
            // ever to point at an occupied one, the slab would read as full, not panic.
            return None;
        };
        let handle = Handle { index, generation };
        *entry = Entry::Occupied {
            generation,
            value: make(handle),
        };
        self.free_head = next_free;
        self.len += 1;
        Some(handle)
    }

    /// The value `handle` names, unless it was removed since.
    pub fn get(&self, handle: Handle) -> Option<&T> {
        match self.entries.get(handle.index as usize)? {
            Entry::Occupied { generation, value } if *generation == handle.generation => {
                Some(value)
            }
            _ => None,
        }
    }

    pub fn get_mut(&mut self, handle: Handle) -> Option<&mut T> {
        match self.entries.get_mut(handle.index as usize)? {
            Entry::Occupied { generation, value } if *generation == handle.generation => {
                Some(value)
            }
            _ => None,
        }
    }

    /// Removes and returns the value `handle` names; its entry's generation moves on, so
    /// `handle` (and every copy of it) is stale from now on.
    pub fn remove(&mut self, handle: Handle) -> Option<T> {
        self.get(handle)?;
        let next = Entry::Vacant {
            generation: handle.generation.wrapping_add(1),
            next_free: self.free_head,
        };
        let old = std::mem::replace(&mut self.entries[handle.index as usize], next);
        self.free_head = handle.index;
        self.len -= 1;
        // `get` above found it occupied, so `old` holds the value.
        match old {
            Entry::Occupied { value, .. } => Some(value),
            Entry::Vacant { .. } => None,
        }
    }

    /// Removes the value `handle` names in place, after `last` has seen it (to take what it
    /// wants to keep): the value is dropped where it lies, never moved out. False if `handle`
    /// is stale. Like [`Slab::remove`], the entry's generation moves on.
    pub fn remove_with(&mut self, handle: Handle, last: impl FnOnce(&mut T)) -> bool {
        let Some(value) = self.get_mut(handle) else {
            return false;
        };
        last(value);
        // Assigning drops the occupied entry in place.
        self.entries[handle.index as usize] = Entry::Vacant {
            generation: handle.generation.wrapping_add(1),
            next_free: self.free_head,
        };
        self.free_head = handle.index;
        self.len -= 1;
        true
    }

    /// The value at `index` whatever its generation (for ids that are known current, such
    /// as a timer-wheel id or a flow-table value).
    pub fn get_by_index(&self, index: u32) -> Option<&T> {
        match self.entries.get(index as usize)? {
            Entry::Occupied { value, .. } => Some(value),
            Entry::Vacant { .. } => None,
        }
    }

    pub fn get_by_index_mut(&mut self, index: u32) -> Option<&mut T> {
        match self.entries.get_mut(index as usize)? {
            Entry::Occupied { value, .. } => Some(value),
            Entry::Vacant { .. } => None,
        }
    }

    /// The current handle of an occupied index.
    pub fn handle_of(&self, index: u32) -> Option<Handle> {
        match self.entries.get(index as usize)? {
            Entry::Occupied { generation, .. } => Some(Handle {
                index,
                generation: *generation,
            }),
            Entry::Vacant { .. } => None,
        }
    }

    pub fn contains(&self, handle: Handle) -> bool {
        self.get(handle).is_some()
    }

    /// The number of values stored.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == self.max
    }

    /// The configured maximum.
    pub fn capacity(&self) -> usize {
        self.max
    }

    /// Every stored value with its handle, in index order. O(entries allocated): for shutdown and
    /// diagnostics, not the data path.
    pub fn iter(&self) -> impl Iterator<Item = (Handle, &T)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| match entry {
                Entry::Occupied { generation, value } => Some((
                    Handle {
                        index: i as u32,
                        generation: *generation,
                    },
                    value,
                )),
                Entry::Vacant { .. } => None,
            })
    }

    /// Every stored value, mutably, with its handle, in index order. O(entries allocated), like
    /// [`Slab::iter`]: for rare events (the end of memory pressure), not the data path.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Handle, &mut T)> {
        self.entries
            .iter_mut()
            .enumerate()
            .filter_map(|(i, entry)| match entry {
                Entry::Occupied { generation, value } => Some((
                    Handle {
                        index: i as u32,
                        generation: *generation,
                    },
                    value,
                )),
                Entry::Vacant { .. } => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::Rng;

    #[test]
    fn insert_get_remove() {
        let mut slab = Slab::with_capacity(4);
        let a = slab.insert("a").unwrap();
        let b = slab.insert("b").unwrap();
        assert_ne!(a, b);
        assert_eq!(slab.get(a), Some(&"a"));
        *slab.get_mut(b).unwrap() = "B";
        assert_eq!(slab.get(b), Some(&"B"));
        assert_eq!(slab.len(), 2);
        assert_eq!(slab.remove(a), Some("a"));
        assert_eq!(slab.remove(a), None);
        assert_eq!(slab.len(), 1);
        assert!(!slab.contains(a) && slab.contains(b));
    }

    #[test]
    fn stale_handles_find_nothing_after_reuse() {
        let mut slab = Slab::with_capacity(1);
        let old = slab.insert(1).unwrap();
        slab.remove(old);
        let new = slab.insert(2).unwrap();
        assert_eq!(new.index, old.index);
        assert_ne!(new.generation, old.generation);
        assert_eq!(slab.get(old), None);
        assert_eq!(slab.get_mut(old), None);
        assert_eq!(slab.remove(old), None);
        assert_eq!(slab.get(new), Some(&2));
        assert_eq!(slab.handle_of(new.index), Some(new));
        assert_eq!(slab.get_by_index(new.index), Some(&2));
    }

    #[test]
    fn full_slab_refuses_without_growing() {
        let mut slab = Slab::with_capacity(3);
        for i in 0..3 {
            assert!(slab.insert(i).is_some());
        }
        assert!(slab.is_full());
        assert_eq!(slab.insert(99), None);
        let mut called = false;
        assert_eq!(
            slab.insert_with(|_| {
                called = true;
                0
            }),
            None
        );
        assert!(!called);
        assert_eq!(slab.capacity(), 3);
        assert_eq!(slab.allocated(), 3);
        let zero: Slab<u8> = Slab::with_capacity(0);
        assert!(zero.is_full() && zero.is_empty());
    }

    #[test]
    fn storage_grows_only_as_values_are_stored() {
        let mut slab: Slab<u64> = Slab::with_capacity(1_000_000);
        assert_eq!(slab.allocated(), 0);
        let hs: Vec<_> = (0..3000).map(|i| slab.insert(i).unwrap()).collect();
        assert_eq!(slab.allocated(), 3000);
        for h in &hs {
            slab.remove(*h);
        }
        let again = slab.insert(7).unwrap();
        assert_eq!(
            again.index, hs[2999].index,
            "freed entries come back before growth"
        );
        assert_eq!(slab.allocated(), 3000);
    }

    #[test]
    fn freed_entries_are_reused_lifo() {
        let mut slab = Slab::with_capacity(8);
        let hs: Vec<_> = (0..8).map(|i| slab.insert(i).unwrap()).collect();
        slab.remove(hs[2]);
        slab.remove(hs[5]);
        assert_eq!(slab.insert(50).unwrap().index, 5);
        assert_eq!(slab.insert(20).unwrap().index, 2);
    }

    #[test]
    fn remove_with_shows_the_value_then_frees_the_entry() {
        let mut slab = Slab::with_capacity(2);
        let a = slab.insert(vec![1, 2]).unwrap();
        let mut kept = Vec::new();
        assert!(slab.remove_with(a, |v| kept = std::mem::take(v)));
        assert_eq!(kept, [1, 2]);
        assert!(!slab.contains(a) && slab.is_empty());
        assert!(!slab.remove_with(a, |_| panic!("stale handle")));
        let b = slab.insert(vec![3]).unwrap();
        assert_eq!(b.index, a.index);
        assert_ne!(b.generation, a.generation);
    }

    #[test]
    fn insert_with_sees_its_own_handle() {
        let mut slab = Slab::with_capacity(2);
        let h = slab.insert_with(|h| h).unwrap();
        assert_eq!(slab.get(h), Some(&h));
    }

    #[test]
    fn index_accessors_and_iter() {
        let mut slab = Slab::with_capacity(4);
        let a = slab.insert(10).unwrap();
        let b = slab.insert(20).unwrap();
        let c = slab.insert(30).unwrap();
        slab.remove(b);
        assert_eq!(slab.get_by_index(b.index), None);
        assert_eq!(slab.handle_of(b.index), None);
        assert_eq!(slab.handle_of(99), None);
        *slab.get_by_index_mut(c.index).unwrap() += 1;
        let all: Vec<_> = slab.iter().collect();
        assert_eq!(all, [(a, &10), (c, &31)]);
    }

    #[test]
    fn random_operations_match_a_model() {
        let mut rng = Rng::new(5);
        let mut slab = Slab::with_capacity(64);
        let mut live: Vec<(Handle, u64)> = Vec::new();
        let mut dead: Vec<Handle> = Vec::new();
        for step in 0..20_000u64 {
            if rng.chance(0.55) {
                match slab.insert(step) {
                    Some(h) => live.push((h, step)),
                    None => assert_eq!(live.len(), 64),
                }
            } else if !live.is_empty() {
                let (h, v) = live.swap_remove(rng.below(live.len() as u64) as usize);
                assert_eq!(slab.remove(h), Some(v));
                dead.push(h);
            }
            assert_eq!(slab.len(), live.len());
        }
        for (h, v) in &live {
            assert_eq!(slab.get(*h), Some(v));
        }
        for h in dead {
            assert_eq!(slab.get(h), None);
        }
    }
}
