//! The application's event queue, bounded and O(1): readiness is kept per connection, as
//! epoll keeps it per file (a ready list with each file on it at most once), not as a log of
//! every notification.
//!
//! A connection owes the application a few event kinds ([`Owed`] in its TCB: each kind at
//! most once, in the order they were posted); while it owes any, the connection sits once in
//! an intrusive FIFO of slab indices (links in a side table sized at creation, as the timer
//! wheel's nodes are). `Tcp::poll_event` takes the first connection's oldest owed kind and
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
    fn from_code(c: u16) -> Option<Kind> {
        Some(match c {
            1 => Kind::Connected,
            2 => Kind::Readable,
            3 => Kind::Writable,
            4 => Kind::Closed,
            _ => return None,
        })
    }
}

/// The kinds a connection owes, oldest first, each at most once: four 4-bit slots, the
/// oldest in the low bits, 0 for an empty slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owed(u16);

impl Owed {
    /// Appends `kind` unless it is owed already; true if it was appended.
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
    linked: bool,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
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

    /// Appends connection `idx` if it is not in the list already.
    pub fn push(&mut self, idx: u32) {
        let Some(l) = self.links.get(idx as usize) else {
            return;
        };
        if l.linked {
            return;
        }
        self.links[idx as usize] = Link {
            prev: self.tail,
            next: NIL,
            linked: true,
        };
        match self.tail {
            NIL => self.head = idx,
            t => self.links[t as usize].next = idx,
        }
        self.tail = idx;
    }

    /// Takes connection `idx` out of the list, if it is in it.
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

    /// The connection at the head of the list.
    pub fn front(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
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
    pub fn pop_listener(&mut self) -> Option<u32> {
        let l = self.listeners.pop_front()?;
        self.listener_queued[l as usize] = false;
        Some(l)
    }

    /// Whether connection `idx` is in the list (tests and assertions).
    pub fn contains(&self, idx: u32) -> bool {
        self.links.get(idx as usize).is_some_and(|l| l.linked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut ReadyList) -> Vec<u32> {
        let mut v = Vec::new();
        while let Some(i) = r.front() {
            v.push(i);
            r.remove(i);
        }
        v
    }

    #[test]
    fn owed_kinds_keep_their_order_once_each() {
        let mut o = Owed::default();
        assert!(o.is_empty());
        assert!(o.push(Kind::Closed));
        assert!(o.push(Kind::Readable));
        assert!(!o.push(Kind::Closed));
        assert!(o.push(Kind::Connected));
        assert!(o.push(Kind::Writable));
        assert!(!o.push(Kind::Writable));
        let got: Vec<_> = std::iter::from_fn(|| o.pop()).collect();
        assert_eq!(
            got,
            [
                Kind::Closed,
                Kind::Readable,
                Kind::Connected,
                Kind::Writable
            ]
        );
        assert!(o.is_empty());
    }

    #[test]
    fn fifo_with_each_connection_once() {
        let mut r = ReadyList::with_capacity(8);
        for i in [3, 1, 3, 5, 1, 7] {
            r.push(i);
        }
        assert_eq!(drain(&mut r), [3, 1, 5, 7]);
        assert_eq!(r.front(), None);
    }

    #[test]
    fn remove_from_anywhere() {
        let mut r = ReadyList::with_capacity(8);
        for i in 0..6 {
            r.push(i);
        }
        r.remove(0);
        r.remove(3);
        r.remove(5);
        r.remove(5);
        assert!(!r.contains(3) && r.contains(4));
        r.push(3);
        assert_eq!(drain(&mut r), [1, 2, 4, 3]);
    }

    #[test]
    fn out_of_range_indices_are_ignored() {
        let mut r = ReadyList::with_capacity(2);
        r.push(9);
        r.remove(9);
        assert_eq!(r.front(), None);
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
