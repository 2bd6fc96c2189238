//! Listening sockets as data: a port, its SYN-queue count and its accept queue
//! (RFC 9293 §3.10.7.2, Linux's `inet_connection_sock` request and accept queues).
//!
//! Listeners live in slots; a [`ListenerId`] names a slot *and* its generation, so a handle
//! kept after `unlisten`, and a half-open child of a listener that went away, never reach a
//! later listener in the same slot.
//!
//! Invariants: `syn_count` counts exactly the SYN-RECEIVED children that name this
//! listener's id; the accept queue holds established children not yet accepted and never
//! more than `backlog` of them (its storage is reserved when listening starts, so a burst of
//! arrivals allocates nothing).

use std::collections::VecDeque;

use super::slab::Handle;
use super::types::{ConnOptions, ListenerId};

/// A listening port.
#[derive(Debug)]
pub struct Listener {
    pub id: ListenerId,
    pub port: u16,
    /// Bound on both the SYN queue and the accept queue.
    pub backlog: u32,
    /// Children in SYN-RECEIVED.
    pub syn_count: u32,
    /// Established children not yet accepted.
    pub accept: VecDeque<Handle>,
    /// Options accepted connections start with.
    pub opts: ConnOptions,
    /// An `Acceptable` for this listener is in the event queue.
    pub acceptable_queued: bool,
}

impl Listener {
    /// A listener with room reserved for `backlog` unaccepted children (at most `max_conns`).
    pub fn new(
        id: ListenerId,
        port: u16,
        backlog: u32,
        opts: ConnOptions,
        max_conns: usize,
    ) -> Listener {
        let backlog = backlog.max(1);
        Listener {
            id,
            port,
            backlog,
            syn_count: 0,
            accept: VecDeque::with_capacity((backlog as usize).min(max_conns)),
            opts,
            acceptable_queued: false,
        }
    }

    /// The SYN queue or the accept queue is full: a new SYN is dropped.
    pub fn syn_queue_full(&self) -> bool {
        self.syn_count >= self.backlog || self.accept_full()
    }

    /// The accept queue is full.
    pub fn accept_full(&self) -> bool {
        self.accept.len() as u32 >= self.backlog
    }

    /// Moves a child from the SYN queue to the accept queue; false when the accept queue is
    /// full (the child stays in SYN-RECEIVED).
    pub fn promote(&mut self, h: Handle) -> bool {
        if self.accept_full() {
            return false;
        }
        self.syn_count = self.syn_count.saturating_sub(1);
        self.accept.push_back(h);
        true
    }

    /// Forgets a child that went away, from whichever queue holds it.
    pub fn forget(&mut self, h: Handle) {
        if let Some(pos) = self.accept.iter().position(|&c| c == h) {
            self.accept.remove(pos);
        } else {
            self.syn_count = self.syn_count.saturating_sub(1);
        }
    }
}

/// The listener slots of a core.
#[derive(Debug, Default)]
pub struct Listeners {
    slots: Vec<Option<Listener>>,
    /// Generation of each slot: bumped when its listener goes away.
    generations: Vec<u32>,
}

impl Listeners {
    /// The listener `id` names, if it still exists.
    pub fn get(&self, id: ListenerId) -> Option<&Listener> {
        self.slots
            .get(id.slot as usize)?
            .as_ref()
            .filter(|l| l.id == id)
    }

    /// See [`Listeners::get`].
    pub fn get_mut(&mut self, id: ListenerId) -> Option<&mut Listener> {
        self.slots
            .get_mut(id.slot as usize)?
            .as_mut()
            .filter(|l| l.id == id)
    }

    /// The listener in `slot`, whatever its generation.
    pub fn in_slot(&self, slot: u32) -> Option<&Listener> {
        self.slots.get(slot as usize)?.as_ref()
    }

    /// A free slot's next id.
    pub fn next_id(&mut self) -> ListenerId {
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.generations.push(0);
                self.slots.len() - 1
            }
        };
        ListenerId {
            slot: slot as u32,
            generation: self.generations[slot],
        }
    }

    /// Installs `l` in the slot its id names (from [`Listeners::next_id`]).
    pub fn insert(&mut self, l: Listener) {
        let slot = l.id.slot as usize;
        self.slots[slot] = Some(l);
    }

    /// Takes listener `id` out; its slot's generation moves on.
    pub fn remove(&mut self, id: ListenerId) -> Option<Listener> {
        let slot = id.slot as usize;
        let l = self.slots.get_mut(slot)?.take_if(|l| l.id == id)?;
        self.generations[slot] = self.generations[slot].wrapping_add(1);
        Some(l)
    }
}
