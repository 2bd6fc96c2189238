//! The application's event queue: bounded, O(1), and cheap on the per-packet path.
//!
//! Events wait in a ring in the order they were posted. Each connection owes each kind of event
//! at most once: a bit per kind in the TCB ([`Queued`]) says whether one is in the ring, so a
//! connection the application reads from without draining events does not pile up Readables
//! (epoll keeps readiness per file the same way). Taking an event clears its bit. A connection
//! whose handle the application closed forgets its bits at once; its events still in the ring
//! are then stale, recognised when taken (the bit is clear, or the handle's generation moved
//! on) and skipped. A listener owes at most one `Acceptable`, with a flag of its own.
//!
//! Bounds: live entries are at most four per connection plus one per listener slot. Stale ones
//! are dropped as they are taken, and when the ring is three quarters full (an application that
//! closes handles without draining events) `Tcp` compacts it, keeping only live ones. The ring
//! is reserved for a few thousand entries and grows (amortised doubling) only when more events
//! are live at once than ever before, up to about the live bound: in the steady state posting
//! never allocates, and a bound of a million connections costs nothing until they exist.

use std::collections::VecDeque;

use super::types::Event;

/// Bits of [`Queued`]: which kinds of event a connection has in the ring.
pub mod kind {
    pub const CONNECTED: u8 = 1 << 0;
    pub const READABLE: u8 = 1 << 1;
    pub const WRITABLE: u8 = 1 << 2;
    pub const CLOSED: u8 = 1 << 3;
}

/// A connection's kinds of event in the ring (bits of [`kind`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queued(pub u8);

impl Queued {
    /// The bit of `ev`'s kind (`Acceptable` has none: listeners keep their own flag).
    #[inline]
    pub fn bit(ev: &Event) -> u8 {
        match ev {
            Event::Connected(_) => kind::CONNECTED,
            Event::Readable(_) => kind::READABLE,
            Event::Writable(_) => kind::WRITABLE,
            Event::Closed(..) => kind::CLOSED,
            Event::Acceptable(_) => 0,
        }
    }
}

/// The ring. See the module documentation.
#[derive(Debug)]
pub struct EventQueue {
    ring: VecDeque<Event>,
    /// Entries the ring may reach before stale ones are compacted (four per connection).
    cap: usize,
}

impl EventQueue {
    /// A queue for up to `connections` connections and `listeners` listener slots.
    pub fn with_capacity(connections: usize, listeners: usize) -> EventQueue {
        let cap = connections
            .saturating_mul(4)
            .saturating_add(listeners.max(64));
        EventQueue {
            // Reserved for a few connections; grows (amortised) with the connections that
            // exist, up to about `cap`, where compaction keeps it.
            ring: VecDeque::with_capacity(cap.min(4096)),
            cap,
        }
    }

    /// Appends `ev` (its owner checked and set its bit).
    #[inline]
    pub fn push(&mut self, ev: Event) {
        self.ring.push_back(ev);
    }

    /// The oldest entry, live or stale.
    #[inline]
    pub fn pop(&mut self) -> Option<Event> {
        self.ring.pop_front()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether stale entries should be compacted away (three quarters full).
    #[inline]
    pub fn wants_compaction(&self) -> bool {
        self.ring.len() >= self.cap / 4 * 3
    }

    /// Keeps only the entries `live` says are owed, in order.
    pub fn retain(&mut self, live: impl FnMut(&Event) -> bool) {
        self.ring.retain(live);
    }

    /// Entries held without growing.
    pub fn capacity(&self) -> usize {
        self.cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::slab::Handle;
    use crate::tcp::types::ConnId;

    fn c(i: u32) -> ConnId {
        ConnId(Handle {
            index: i,
            generation: 0,
        })
    }

    #[test]
    fn each_kind_has_its_bit() {
        let bits = [
            Queued::bit(&Event::Connected(c(0))),
            Queued::bit(&Event::Readable(c(0))),
            Queued::bit(&Event::Writable(c(0))),
            Queued::bit(&Event::Closed(c(0), None)),
        ];
        assert_eq!(bits.iter().fold(0, |a, b| a | b), 0b1111);
    }

    #[test]
    fn fifo_compaction_and_room() {
        let mut q = EventQueue::with_capacity(4, 0);
        assert_eq!(q.capacity(), 80);
        for i in 0..60 {
            q.push(Event::Readable(c(i)));
        }
        assert!(q.wants_compaction());
        q.retain(|e| matches!(e, Event::Readable(x) if x.index() % 10 == 0));
        assert_eq!(q.len(), 6);
        assert!(!q.wants_compaction());
        assert_eq!(q.pop(), Some(Event::Readable(c(0))));
        assert_eq!(q.pop(), Some(Event::Readable(c(10))));
    }
}
