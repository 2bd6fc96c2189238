//! A per-core pool of spare queue storage, so that connection churn allocates nothing in the
//! steady state ("no allocation per connection").
//!
//! A connection's send and receive queues own four arrays (the send queue's units; the receive
//! queue's in-order, out-of-order and SACK-run lists), reserved at a default size. When a
//! connection is freed (`Tcp::reap`), or enters TIME-WAIT with both queues empty (no data can be
//! queued in TIME-WAIT: our FIN is acknowledged and the peer's received, RFC 9293 §3.10.7.4),
//! its emptied arrays (mbufs already freed) come here; `handshake::create` takes them back for
//! the next connection. A TIME-WAIT connection thus holds no queue storage, as Linux's
//! `tcp_timewait_sock` holds no buffers. A fresh set is allocated only when the pool is empty
//! (start-up, or more connections open than ever closed).
//!
//! Invariants and bounds:
//! - Every stored set is empty and holds exactly the default reservation: storage that grew (a
//!   bulk connection's send queue) is freed instead of kept, and a queue that gave its storage
//!   up already (TIME-WAIT) offers nothing at reaping.
//! - At most [`MAX_SETS`] sets are kept per core, about 4.5 KiB each, so the pool holds at most
//!   about 1.1 MiB per core, beyond the connections' own storage. This memory is buffer space;
//!   like the queues it comes from, it is not part of `layer::memory_per_connection` (the
//!   per-connection table cost).
//! - The pool's own array is reserved at creation and never grows.

use super::recv_queue::RecvStorage;
use super::send_queue::SendStorage;
use super::tcb::Tcb;

/// Spare sets kept per core at most. Reaping is bursty (a timer tick ends many TIME-WAITs at
/// once) while opens are spread out, so the pool must absorb a burst of reaps.
pub const MAX_SETS: usize = 256;

/// One connection's queue storage.
#[derive(Default)]
pub struct QueueStorage {
    pub send: SendStorage,
    pub recv: RecvStorage,
}

/// The pool. See the module documentation.
pub struct Spares {
    sets: Vec<QueueStorage>,
}

impl Default for Spares {
    fn default() -> Self {
        Spares::new()
    }
}

impl Spares {
    pub fn new() -> Spares {
        Spares {
            sets: Vec::with_capacity(MAX_SETS),
        }
    }

    /// Storage for a new connection: a spare set, or a fresh one when none is left.
    #[inline]
    pub fn take(&mut self) -> QueueStorage {
        self.sets.pop().unwrap_or_default()
    }

    /// Empties `tcb`'s queues (their mbufs freed) and keeps their storage if there is room and
    /// it has not grown; otherwise it is freed.
    pub fn recycle(&mut self, tcb: &mut Tcb) {
        self.keep(QueueStorage {
            send: tcb.sq.take_storage(),
            recv: tcb.rq.take_storage(),
        });
    }

    /// Keeps `set` if there is room and it holds the default reservation; else frees it.
    fn keep(&mut self, set: QueueStorage) {
        if self.sets.len() < MAX_SETS && set.send.is_default_size() && set.recv.is_default_size() {
            self.sets.push(set);
        }
    }

    /// Like [`Spares::recycle`] for a connection that keeps living but will never queue data
    /// again (TIME-WAIT), if nothing is left to read: its queues keep working, unallocated.
    pub fn recycle_idle(&mut self, tcb: &mut Tcb) {
        if tcb.sq.is_empty() && tcb.rq.is_empty() && tcb.rq.ooo_segs() == 0 {
            self.recycle(tcb);
        }
    }

    /// Sets currently kept.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::recv_queue::RecvQueue;
    use crate::tcp::send_queue::SendQueue;
    use crate::wire::SeqNum;

    fn queues(set: QueueStorage) -> (SendQueue, RecvQueue) {
        (
            SendQueue::with_storage(SeqNum(1), set.send),
            RecvQueue::with_storage(set.recv),
        )
    }

    #[test]
    fn fresh_storage_is_poolable_and_given_up_storage_is_not() {
        let mut set = QueueStorage::default();
        assert!(set.send.is_default_size() && set.recv.is_default_size());
        let (mut sq, mut rq) = queues(std::mem::take(&mut set));
        let (send, recv) = (sq.take_storage(), rq.take_storage());
        assert!(send.is_default_size() && recv.is_default_size());
        // What the queues hold after giving their storage up is not worth keeping.
        assert!(!sq.take_storage().is_default_size());
        assert!(!rq.take_storage().is_default_size());
        assert_eq!(sq.write_seq(), SeqNum(1));
    }

    #[test]
    fn pool_is_bounded_and_reuses_what_it_kept() {
        let mut pool = Spares::new();
        let taken: Vec<_> = (0..MAX_SETS + 10).map(|_| pool.take()).collect();
        assert!(pool.is_empty());
        for set in taken {
            let (mut sq, mut rq) = queues(set);
            pool.keep(QueueStorage {
                send: sq.take_storage(),
                recv: rq.take_storage(),
            });
            // Storage already given up is never kept.
            pool.keep(QueueStorage {
                send: sq.take_storage(),
                recv: rq.take_storage(),
            });
        }
        assert_eq!(pool.len(), MAX_SETS);
        assert_eq!(pool.sets.capacity(), MAX_SETS);
        let set = pool.take();
        assert!(set.send.is_default_size() && set.recv.is_default_size());
        assert_eq!(pool.len(), MAX_SETS - 1);
    }
}
