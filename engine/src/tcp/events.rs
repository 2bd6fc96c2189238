//! The application's event queue, bounded and O(1): readiness is kept per connection, as
//! epoll keeps it per file (a ready list with each file on it at most once), not as a log of
//! every notification.
//!
//! A connection owes the application a few event kinds ([`Owed`]: each kind at most once, in
//! the order they were posted); while it owes any, the connection sits once in an intrusive
//! FIFO of slab indices. Links, owed kinds and the connection's handle live in a side table
//! indexed by slab index and sized at creation (as the timer wheel's nodes are), so taking an
//! event touches no TCB. `Tcp::poll_event` takes the first connection's oldest owed kind and
//! leaves the connection at the head until it owes nothing. Listeners owe at most
//! `Acceptable`, kept the same way in a list of listener slots with a flag each.
//!
//! Bounds: the connection list holds at most `max_connections` entries and the listener list
//! at most one entry per listener slot, whatever the application does, so nothing grows when
//! it does not drain events. A connection leaves the list when its handle is closed or freed,
//! so a later connection in the same slot starts clean.

use std::collections::VecDeque;

/// An event kind a connection may owe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Connected = 1,
    Readable = 2,
    Writable = 3,
    Closed = 4,
}

impl Kind {
    #[inline]
    fn from_code(c: u16) -> Option<Kind> {
        const KINDS: [Option<Kind>; 16] = {
            let mut k = [None; 16];
            k[1] = Some(Kind::Connected);
            k[2] = Some(Kind::Readable);
            k[3] = Some(Kind::Writable);
            k[4] = Some(Kind::Closed);
            k
        };
        KINDS[usize::from(c & 0xf)]
    }
}

/// The kinds a connection owes, oldest first, each at most once: four 4-bit slots, the
/// oldest in the low bits, 0 for an empty slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owed(pub(crate) u16);

impl Owed {
    /// Appends `kind` unless it is owed already; true if it was appended.
    #[inline]
    pub fn push(&mut self, kind: Kind) -> bool {
        let code = kind as u16;
        let mut n = 0;
        while n < 4 {
            match (self.0 >> (4 * n)) & 0xf {
                0 => break,
                c if c == code => return false,
                _ => n += 1,
            }
        }
        // Four kinds, each at most once: slot `n` is free.
        self.0 |= code << (4 * n);
        true
    }

    /// Takes the oldest owed kind.
    #[inline]
    pub fn pop(&mut self) -> Option<Kind> {
        let k = Kind::from_code(self.0 & 0xf)?;
        self.0 >>= 4;
        Some(k)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// End of list; "not linked".
const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Link {
    prev: u32,
    next: u32,
    /// The connection's slab generation (its `ConnId` with the index).
    generation: u32,
    owed: Owed,
    linked: bool,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
    generation: 0,
    owed: Owed(0),
    linked: false,
};

/// The ready lists. See the module documentation.
#[derive(Debug)]
pub struct ReadyList {
    links: Vec<Link>,
    head: u32,
    tail: u32,
    /// Listener slots owing `Acceptable`, oldest first; `listener_queued[l]` says whether
    /// slot `l` is in it.
    listeners: VecDeque<u32>,
    listener_queued: Vec<bool>,
}

impl ReadyList {
    /// Lists for connection slab indices `0..capacity`.
    pub fn with_capacity(capacity: usize) -> ReadyList {
        ReadyList {
            links: vec![UNLINKED; capacity],
            head: NIL,
            tail: NIL,
            listeners: VecDeque::new(),
            listener_queued: Vec::new(),
        }
    }

    /// Bytes per connection slot.
    pub fn link_size() -> usize {
        std::mem::size_of::<Link>()
    }

    /// Records that connection `idx` (of `generation`) owes `kind`, appending it to the list
    /// if it is not in it already.
    #[inline]
    pub fn post(&mut self, idx: u32, generation: u32, kind: Kind) {
        let Some(l) = self.links.get_mut(idx as usize) else {
            return;
        };
        l.owed.push(kind);
        if l.linked {
            return;
        }
        *l = Link {
            prev: self.tail,
            next: NIL,
            generation,
            owed: l.owed,
            linked: true,
        };
        match self.tail {
            NIL => self.head = idx,
            t => self.links[t as usize].next = idx,
        }
        self.tail = idx;
    }

    /// Takes connection `idx` out of the list, forgetting what it owes.
    pub fn remove(&mut self, idx: u32) {
        let Some(&l) = self.links.get(idx as usize) else {
            return;
        };
        if !l.linked {
            return;
        }
        match l.prev {
            NIL => self.head = l.next,
            p => self.links[p as usize].next = l.next,
        }
        match l.next {
            NIL => self.tail = l.prev,
            n => self.links[n as usize].prev = l.prev,
        }
        self.links[idx as usize] = UNLINKED;
    }

    /// Nothing is owed by any connection or listener.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head == NIL && self.listeners.is_empty()
    }

    /// The connection at the head of the list.
    pub fn front(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// Takes the oldest kind the head connection owes: its slab index and generation, and the
    /// kind. The connection leaves the list when it owes nothing more.
    #[inline]
    pub fn pop(&mut self) -> Option<(u32, u32, Kind)> {
        let idx = self.head;
        let l = self.links.get_mut(idx as usize)?;
        let generation = l.generation;
        // A listed connection owes something (`post` links only after recording it).
        let kind = l.owed.pop();
        if l.owed.is_empty() {
            // Unlink the head.
            let next = l.next;
            *l = UNLINKED;
            self.head = next;
            match self.links.get_mut(next as usize) {
                Some(n) => n.prev = NIL,
                None => self.tail = NIL,
            }
        }
        kind.map(|k| (idx, generation, k))
    }

    /// Queues listener slot `l` for `Acceptable`, once.
    pub fn push_listener(&mut self, l: u32) {
        let i = l as usize;
        if self.listener_queued.len() <= i {
            self.listener_queued.resize(i + 1, false);
        }
        if !self.listener_queued[i] {
            self.listener_queued[i] = true;
            self.listeners.push_back(l);
        }
    }

    /// The next listener slot owing `Acceptable`.
    #[inline]
    pub fn pop_listener(&mut self) -> Option<u32> {
        if self.listeners.is_empty() {
            return None;
        }
        let l = self.listeners.pop_front()?;
        self.listener_queued[l as usize] = false;
        Some(l)
    }

    /// What connection `idx` owes (tests and assertions).
    pub fn owed(&self, idx: u32) -> Owed {
        self.links.get(idx as usize).map_or(Owed(0), |l| l.owed)
    }

    /// Whether connection `idx` is in the list (tests and assertions).
    pub fn contains(&self, idx: u32) -> bool {
        self.links.get(idx as usize).is_some_and(|l| l.linked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut ReadyList) -> Vec<(u32, u32, Kind)> {
        std::iter::from_fn(|| r.pop()).collect()
    }

    #[test]
    fn fifo_with_each_connection_once_and_its_kinds_in_order() {
        let mut r = ReadyList::with_capacity(8);
        for (i, k) in [(3, Kind::Readable), (1, Kind::Connected), (3, Kind::Closed)] {
            r.post(i, 7, k);
        }
        r.post(1, 7, Kind::Connected);
        r.post(5, 2, Kind::Writable);
        assert_eq!(
            drain(&mut r),
            [
                (3, 7, Kind::Readable),
                (3, 7, Kind::Closed),
                (1, 7, Kind::Connected),
                (5, 2, Kind::Writable)
            ]
        );
        assert_eq!(r.front(), None);
        assert!(r.is_empty());
    }

    #[test]
    fn remove_from_anywhere_forgets_what_is_owed() {
        let mut r = ReadyList::with_capacity(8);
        for i in 0..6 {
            r.post(i, 0, Kind::Readable);
        }
        r.remove(0);
        r.remove(3);
        r.remove(5);
        r.remove(5);
        assert!(!r.contains(3) && r.contains(4));
        assert!(r.owed(3).is_empty());
        r.post(3, 1, Kind::Closed);
        let order: Vec<_> = drain(&mut r).into_iter().map(|e| (e.0, e.2)).collect();
        assert_eq!(
            order,
            [
                (1, Kind::Readable),
                (2, Kind::Readable),
                (4, Kind::Readable),
                (3, Kind::Closed)
            ]
        );
    }

    #[test]
    fn out_of_range_indices_are_ignored() {
        let mut r = ReadyList::with_capacity(2);
        r.post(9, 0, Kind::Readable);
        r.remove(9);
        assert_eq!(r.pop(), None);
    }

    #[test]
    fn listeners_are_queued_once() {
        let mut r = ReadyList::with_capacity(0);
        r.push_listener(2);
        r.push_listener(0);
        r.push_listener(2);
        assert_eq!(r.pop_listener(), Some(2));
        r.push_listener(2);
        assert_eq!(r.pop_listener(), Some(0));
        assert_eq!(r.pop_listener(), Some(2));
        assert_eq!(r.pop_listener(), None);
    }
}
