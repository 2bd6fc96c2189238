//! A per-core pool of spare queue storage: queue arrays are taken on first use and given back
//! when empty, so an idle connection holds none (issue 10: at most 1 KiB per idle connection,
//! `layer::memory_per_connection`) and neither connection churn nor a connection going from
//! idle to busy allocates in the steady state.
//!
//! A connection's send queue owns one array (its units), its receive queue three (in-order,
//! out-of-order and SACK-run lists). A new connection starts with none. The first time data is
//! queued (`send`/`send_pkt` on the send side; payload arriving on the receive side), the queue
//! takes a spare array from here ([`Spares::fill_send`], [`Spares::fill_recv`]); a fresh one,
//! at the default reservation, is allocated only when the pool is empty (start-up, or more
//! connections busy at once than ever before). When the queue empties again (an ACK covers
//! everything sent and nothing is unsent; the application read everything and nothing waits
//! out of order) the array comes back here ([`Spares::return_send`], [`Spares::return_recv`]).
//! A TIME-WAIT or freed connection gives back whatever it still holds the same way.
//!
//! Invariants and bounds:
//! - Every stored array is empty and holds between the default reservation (4 entries) and 64
//!   entries: storage that grew more (a bulk connection's send queue) is freed instead.
//! - At most [`MAX_SPARES`] sets of each kind are kept per core (0.2 to 3 KiB each), so the
//!   pool holds at most about 20 MiB per core, typically well under 2 MiB. Spares belong to
//!   no connection and are not part of `layer::memory_per_connection`.
//! - The pool's own vectors are reserved at creation and never grow.

use super::recv_queue::{RecvQueue, RecvStorage};
use super::send_queue::{SendQueue, SendStorage};
use super::tcb::Tcb;

/// Spare arrays kept per core, of each kind, at most. Connections go busy and idle in bursts
/// (a burst of requests, a timer tick ending many TIME-WAITs): the pool absorbs the burst.
pub const MAX_SPARES: usize = 4096;

/// The pool. See the module documentation.
pub struct Spares {
    send: Vec<SendStorage>,
    recv: Vec<RecvStorage>,
}

impl Default for Spares {
    fn default() -> Self {
        Spares::new()
    }
}

impl Spares {
    pub fn new() -> Spares {
        Spares {
            send: Vec::with_capacity(MAX_SPARES),
            recv: Vec::with_capacity(MAX_SPARES),
        }
    }

    /// Gives `sq` a unit array if it has none (before data is queued).
    #[inline]
    pub fn fill_send(&mut self, sq: &mut SendQueue) {
        if !sq.has_storage() {
            let s = self.send.pop().unwrap_or_default();
            if let Some(s) = sq.adopt_storage(s) {
                self.keep_send(s);
            }
        }
    }

    /// Gives `rq` its arrays if it has none (before payload is queued).
    #[inline]
    pub fn fill_recv(&mut self, rq: &mut RecvQueue) {
        if !rq.has_storage() {
            let s = self.recv.pop().unwrap_or_default();
            if let Some(s) = rq.adopt_storage(s) {
                self.keep_recv(s);
            }
        }
    }

    /// Takes `sq`'s array back if the queue is empty.
    #[inline]
    pub fn return_send(&mut self, sq: &mut SendQueue) {
        if sq.is_empty()
            && sq.has_storage()
            && let Some(s) = sq.lend_storage()
        {
            self.keep_send(s);
        }
    }

    /// Takes `rq`'s arrays back if nothing is held in them.
    #[inline]
    pub fn return_recv(&mut self, rq: &mut RecvQueue) {
        if rq.is_empty()
            && rq.ooo_segs() == 0
            && rq.has_storage()
            && let Some(s) = rq.lend_storage()
        {
            self.keep_recv(s);
        }
    }

    /// Takes back whatever of `tcb`'s queue storage is empty (a freed connection's queues are
    /// emptied first, their mbufs freed).
    pub fn recycle(&mut self, tcb: &mut Tcb) {
        if tcb.sq.has_storage() {
            self.keep_send(tcb.sq.take_storage());
        }
        if tcb.rq.has_storage() {
            self.keep_recv(tcb.rq.take_storage());
        }
    }

    /// Like [`Spares::recycle`] for a connection that keeps living but will never queue data
    /// again (TIME-WAIT), if nothing is left to read: its queues keep working, unallocated.
    pub fn recycle_idle(&mut self, tcb: &mut Tcb) {
        self.return_send(&mut tcb.sq);
        self.return_recv(&mut tcb.rq);
    }

    fn keep_send(&mut self, s: SendStorage) {
        if self.send.len() < MAX_SPARES && s.is_default() {
            self.send.push(s);
        }
    }

    fn keep_recv(&mut self, s: RecvStorage) {
        if self.recv.len() < MAX_SPARES && s.is_default() {
            self.recv.push(s);
        }
    }

    /// Arrays currently kept (send, receive).
    pub fn len(&self) -> (usize, usize) {
        (self.send.len(), self.recv.len())
    }

    pub fn is_empty(&self) -> bool {
        self.send.is_empty() && self.recv.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::SeqNum;

    fn bare() -> (SendQueue, RecvQueue) {
        let (mut sq, mut rq) = (SendQueue::new(SeqNum(1)), RecvQueue::new());
        drop((sq.take_storage(), rq.take_storage()));
        (sq, rq)
    }

    #[test]
    fn storage_is_lent_on_first_use_and_comes_back_when_empty() {
        let mut pool = Spares::new();
        let (mut sq, mut rq) = bare();
        assert!(!sq.has_storage() && !rq.has_storage());
        pool.fill_send(&mut sq);
        pool.fill_recv(&mut rq);
        assert!(sq.has_default_storage() && rq.has_default_storage());
        pool.return_send(&mut sq);
        pool.return_recv(&mut rq);
        assert!(!sq.has_storage() && !rq.has_storage());
        assert_eq!(pool.len(), (1, 1));
        // The queues keep their sequence state, unallocated.
        assert_eq!(sq.write_seq(), SeqNum(1));
        pool.fill_send(&mut sq);
        assert_eq!(pool.len(), (0, 1), "the spare is taken back first");
    }

    #[test]
    fn pool_is_bounded() {
        let mut pool = Spares::new();
        let mut all: Vec<_> = (0..MAX_SPARES + 10).map(|_| bare()).collect();
        for (sq, rq) in &mut all {
            pool.fill_send(sq);
            pool.fill_recv(rq);
        }
        for (sq, rq) in &mut all {
            pool.return_send(sq);
            pool.return_recv(rq);
        }
        assert_eq!(pool.len(), (MAX_SPARES, MAX_SPARES));
        assert_eq!(pool.send.capacity(), MAX_SPARES);
        assert!(
            all.iter()
                .all(|(sq, rq)| !sq.has_storage() && !rq.has_storage())
        );
    }
}
