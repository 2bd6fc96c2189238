//! Per-connection application state indexed by the engine's dense connection index
//! (`ConnId::index`): O(1), no hashing, and no allocation per event (the table grows only
//! when a connection with a higher index than ever before appears).

use engine::tcp::ConnId;

/// Application state of type `T` for each live connection.
pub struct ConnTable<T> {
    slots: Vec<Option<(ConnId, T)>>,
    len: usize,
}

impl<T> Default for ConnTable<T> {
    fn default() -> Self {
        ConnTable::with_capacity(0)
    }
}

impl<T> ConnTable<T> {
    pub fn with_capacity(n: usize) -> Self {
        let mut slots = Vec::with_capacity(n);
        slots.resize_with(n, || None);
        ConnTable { slots, len: 0 }
    }

    /// Stores `v` for `c`, replacing what a previous connection with the same index left.
    pub fn insert(&mut self, c: ConnId, v: T) {
        let i = c.index() as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        if self.slots[i].replace((c, v)).is_none() {
            self.len += 1;
        }
    }

    /// The state of `c`, if `c` (not an older connection with its index) has some.
    pub fn get(&self, c: ConnId) -> Option<&T> {
        match self.slots.get(c.index() as usize)? {
            Some((id, v)) if *id == c => Some(v),
            _ => None,
        }
    }

    /// The state of `c`, mutable (see [`ConnTable::get`]).
    pub fn get_mut(&mut self, c: ConnId) -> Option<&mut T> {
        match self.slots.get_mut(c.index() as usize)? {
            Some((id, v)) if *id == c => Some(v),
            _ => None,
        }
    }

    /// Removes and returns the state of `c`.
    pub fn remove(&mut self, c: ConnId) -> Option<T> {
        let slot = self.slots.get_mut(c.index() as usize)?;
        if slot.as_ref().is_some_and(|(id, _)| *id == c) {
            self.len -= 1;
            return slot.take().map(|(_, v)| v);
        }
        None
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every connection with state.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ConnId, &mut T)> {
        self.slots.iter_mut().flatten().map(|(c, v)| (*c, v))
    }
}
