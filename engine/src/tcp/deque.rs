//! `LazyDeque`: a `VecDeque` kept behind one pointer, null until first written, so that a queue
//! nobody uses costs 8 bytes in its TCB instead of 32 (issue 10: an idle connection costs at
//! most 1 KiB everything included, and a connection has four such queues).
//!
//! Reads of an unallocated deque see an empty one (a shared constant, no allocation). The
//! first mutable access allocates the 32-byte header (not its buffer): the queues are given
//! their storage from the per-core spare pool before data is queued (`tcp::spare`), so in
//! the steady state this does not happen on the packet path; `tcp_churn_alloc` and
//! `tcp_memory` check it. Handing a deque over (`std::mem::take`) moves the pointer.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};

/// A `VecDeque` allocated on first write. See the module documentation.
// The box is the point: it keeps the 32-byte header out of every TCB (clippy's
// `box_collection` assumes the header is cheap where it lives).
#[allow(clippy::box_collection)]
pub struct LazyDeque<T>(Option<Box<VecDeque<T>>>);

impl<T> Default for LazyDeque<T> {
    fn default() -> Self {
        LazyDeque(None)
    }
}

impl<T: 'static> LazyDeque<T> {
    /// What an unallocated deque reads as.
    const EMPTY: &'static VecDeque<T> = &VecDeque::new();

    /// An unallocated deque.
    pub const fn new() -> Self {
        LazyDeque(None)
    }

    /// A deque with room for `n` elements.
    pub fn with_capacity(n: usize) -> Self {
        LazyDeque(Some(Box::new(VecDeque::with_capacity(n))))
    }

    // The mutations below may meet an unallocated deque (a queue emptied or reset before it
    // held anything): they do nothing then, instead of allocating through `DerefMut`.

    /// `VecDeque::clear`, without allocating.
    #[inline]
    pub fn clear(&mut self) {
        if let Some(d) = &mut self.0 {
            d.clear();
        }
    }

    /// `VecDeque::pop_front`, without allocating.
    #[inline]
    pub fn pop_front(&mut self) -> Option<T> {
        self.0.as_mut()?.pop_front()
    }

    /// `VecDeque::truncate`, without allocating.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if let Some(d) = &mut self.0 {
            d.truncate(len);
        }
    }

    /// `VecDeque::front_mut`, without allocating.
    #[inline]
    pub fn front_mut(&mut self) -> Option<&mut T> {
        self.0.as_mut()?.front_mut()
    }

    /// `VecDeque::get_mut`, without allocating.
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.0.as_mut()?.get_mut(i)
    }

    /// Bytes of heap held: the header and the buffer.
    pub fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |d| {
            std::mem::size_of::<VecDeque<T>>() + d.capacity() * std::mem::size_of::<T>()
        })
    }
}

impl<T: 'static> Deref for LazyDeque<T> {
    type Target = VecDeque<T>;

    #[inline]
    fn deref(&self) -> &VecDeque<T> {
        match &self.0 {
            Some(d) => d,
            None => Self::EMPTY,
        }
    }
}

impl<T: 'static> DerefMut for LazyDeque<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut VecDeque<T> {
        self.0.get_or_insert_with(Box::default)
    }
}

impl<T: std::fmt::Debug + 'static> std::fmt::Debug for LazyDeque<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<'a, T: 'static> IntoIterator for &'a LazyDeque<T> {
    type Item = &'a T;
    type IntoIter = std::collections::vec_deque::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unallocated_reads_empty_and_allocates_on_write() {
        let mut d: LazyDeque<u32> = LazyDeque::new();
        assert!(d.is_empty() && d.capacity() == 0 && d.heap_bytes() == 0);
        assert_eq!(d.iter().count(), 0);
        d.push_back(7);
        assert_eq!(d[0], 7);
        assert!(d.heap_bytes() > 0);
        let mut none: LazyDeque<u32> = LazyDeque::new();
        none.clear();
        none.truncate(0);
        assert!(none.pop_front().is_none() && none.front_mut().is_none());
        assert_eq!(
            none.heap_bytes(),
            0,
            "no mutation of an empty deque allocates"
        );
        let taken = std::mem::take(&mut d);
        assert_eq!(taken.len(), 1);
        assert_eq!(d.heap_bytes(), 0);
        assert_eq!(std::mem::size_of::<LazyDeque<u32>>(), 8);
    }
}
