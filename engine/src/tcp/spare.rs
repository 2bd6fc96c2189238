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
//!   about 1.1 MiB per core, beyond the connections' own storage. The spare sets are not part
//!   of `layer::memory_per_connection` (which counts a live connection's own arrays): they
//!   belong to no connection.
//! - The pool's own array is reserved at creation and never grows.

use super::recv_queue::{RecvQueue, RecvStorage};
use super::send_queue::{SendQueue, SendStorage};
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

    /// Takes `tcb`'s queue storage, emptying the queues (their mbufs freed), if there is room
    /// and the storage holds the default reservation; otherwise leaves it to be freed with the
    /// TCB.
    #[inline]
    pub fn recycle(&mut self, tcb: &mut Tcb) {
        self.keep(&mut tcb.sq, &mut tcb.rq);
    }

    fn keep(&mut self, sq: &mut SendQueue, rq: &mut RecvQueue) {
        if self.sets.len() < MAX_SETS && sq.has_default_storage() && rq.has_default_storage() {
            self.sets.push(QueueStorage {
                send: sq.take_storage(),
                recv: rq.take_storage(),
            });
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
    use crate::wire::SeqNum;

    fn queues(set: QueueStorage) -> (SendQueue, RecvQueue) {
        (
            SendQueue::with_storage(SeqNum(1), set.send),
            RecvQueue::with_storage(set.recv),
        )
    }

    #[test]
    fn fresh_storage_is_kept_and_given_up_storage_is_not() {
        let (mut sq, mut rq) = queues(QueueStorage::default());
        assert!(sq.has_default_storage() && rq.has_default_storage());
        let mut pool = Spares::new();
        pool.keep(&mut sq, &mut rq);
        assert_eq!(pool.len(), 1);
        // The queues still work, unallocated; what they hold now is not worth keeping.
        assert!(!sq.has_default_storage() && !rq.has_default_storage());
        assert_eq!(sq.write_seq(), SeqNum(1));
        pool.keep(&mut sq, &mut rq);
        assert_eq!(pool.len(), 1);
        let (sq, rq) = queues(pool.take());
        assert!(sq.has_default_storage() && rq.has_default_storage());
        assert!(pool.is_empty());
    }

    #[test]
    fn pool_is_bounded() {
        let mut pool = Spares::new();
        let mut all: Vec<_> = (0..MAX_SETS + 10).map(|_| queues(pool.take())).collect();
        for (sq, rq) in &mut all {
            pool.keep(sq, rq);
        }
        assert_eq!(pool.len(), MAX_SETS);
        assert_eq!(pool.sets.capacity(), MAX_SETS);
        let kept = all
            .iter()
            .filter(|(sq, _)| sq.has_default_storage())
            .count();
        assert_eq!(kept, 10, "the sets beyond the bound stay with their queues");
    }
}
