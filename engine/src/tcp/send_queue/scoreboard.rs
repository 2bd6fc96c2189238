//! The send queue's scoreboard (RFC 6675, Linux `TCP_SKB_CB(skb)->sacked`): the LOST,
//! SACKED and RETRANS marks of sent units and their sums, which give `pipe`
//! ([`SendQueue::in_flight`]).
//!
//! Invariants (see the parent module): only sent units carry marks; SACKED excludes LOST;
//! RETRANS without LOST is kept on a SACK. The sums equal what a walk over the units would
//! give. Which units get marked is decided elsewhere (`tcp::recovery`): this file only keeps
//! the marks and the sums consistent.

use super::{Delivered, SegFlags, SendQueue, SendSeg};
use crate::buf::Mempool;
use crate::time::Instant;
use crate::wire::SeqNum;

impl SendQueue {
    /// Sequence space marked LOST.
    pub fn lost_bytes(&self) -> u32 {
        self.lost
    }

    /// Sequence space marked SACKED.
    pub fn sacked_bytes(&self) -> u32 {
        self.sacked
    }

    /// Sequence space with a retransmitted copy outstanding.
    pub fn retrans_bytes(&self) -> u32 {
        self.retrans
    }

    /// Bytes in the network (RFC 6675 `pipe`, Linux `tcp_packets_in_flight` in bytes):
    /// `snd_nxt - head_seq - sacked - lost + retrans`, never negative.
    pub fn in_flight(&self, snd_nxt: SeqNum) -> u32 {
        let head = self.head_seq();
        let out = if snd_nxt.gt(head) { snd_nxt - head } else { 0 };
        let pipe = i64::from(out) - i64::from(self.sacked) - i64::from(self.lost)
            + i64::from(self.retrans);
        pipe.clamp(0, i64::from(u32::MAX)) as u32
    }

    /// Marks sent unit `i` lost (Linux `tcp_mark_skb_lost`): its latest transmission is
    /// deemed lost, so it gains LOST and loses RETRANS (a retransmission outstanding is lost
    /// too) and waits to be sent again. A SACKED unit is left alone. True if anything changed.
    pub fn mark_lost(&mut self, i: usize) -> bool {
        if i >= self.sent {
            return false;
        }
        let u = &mut self.units[i];
        let n = u.space();
        if u.flags.contains(SegFlags::SACKED) {
            return false;
        }
        let mut changed = false;
        if !u.flags.contains(SegFlags::LOST) {
            u.flags.insert(SegFlags::LOST);
            self.lost += n;
            changed = true;
        }
        if u.flags.contains(SegFlags::RETRANS) {
            u.flags.remove(SegFlags::RETRANS);
            self.retrans = self.retrans.saturating_sub(n);
            changed = true;
        }
        changed
    }

    /// Sent unit `i` has just been retransmitted: RETRANS and EVER_RETRANS set (LOST kept, see
    /// the module doc), `tx_count` + 1, `sent_at = now`. False (no change) for a SACKED or
    /// unsent unit.
    pub fn mark_retransmitted(&mut self, i: usize, now: Instant) -> bool {
        if i >= self.sent {
            return false;
        }
        let u = &mut self.units[i];
        if u.flags.contains(SegFlags::SACKED) {
            return false;
        }
        if !u.flags.contains(SegFlags::RETRANS) {
            self.retrans += u.space();
        }
        u.flags.insert(SegFlags::RETRANS);
        u.flags.insert(SegFlags::EVER_RETRANS);
        u.tx_count = u.tx_count.saturating_add(1);
        let at = self.stamp(now);
        self.units[i].sent_at = at;
        true
    }

    /// Retransmission timeout (RFC 6298 §5.4, Linux `tcp_enter_loss`): RETRANS cleared and every
    /// sent unit not SACKED marked LOST. If the head unit is SACKED the receiver has reneged
    /// (RFC 2018 §8): all SACK marks are dropped too and every sent unit is LOST. Returns
    /// whether reneging was detected.
    pub fn mark_all_lost(&mut self) -> bool {
        let sent = self.sent;
        let reneged = self
            .units
            .front()
            .is_some_and(|u| sent > 0 && u.flags.contains(SegFlags::SACKED));
        let (mut lost, mut sacked) = (0u32, 0u32);
        for u in self.units.range_mut(..sent) {
            u.flags.remove(SegFlags::RETRANS);
            if reneged {
                u.flags.remove(SegFlags::SACKED);
            }
            if u.flags.contains(SegFlags::SACKED) {
                sacked += u.space();
            } else {
                u.flags.insert(SegFlags::LOST);
                lost += u.space();
            }
        }
        (self.lost, self.sacked, self.retrans) = (lost, sacked, 0);
        reneged
    }

    /// Tags one received SACK block (RFC 2018 §3): the block is clamped to the sent range,
    /// units are split at its edges (Linux `tcp_match_skb_to_sack`), and every unit inside it
    /// is marked SACKED. `fack` is the highest sequence SACKed before this ACK: a newly SACKed
    /// unit below it that was never retransmitted arrived out of order (reordering, Linux
    /// `tcp_check_sack_reordering`). Cost: a binary search, at most two splits, and the units
    /// newly SACKed.
    pub fn sack_block(
        &mut self,
        start: SeqNum,
        end: SeqNum,
        fack: SeqNum,
        indirect: &Mempool,
    ) -> SackTag {
        let mut tag = SackTag::default();
        let (head, sent_end) = (self.head_seq(), self.sent_end());
        let start = if start.gt(head) { start } else { head };
        let end = if end.lt(sent_end) { end } else { sent_end };
        if !end.gt(start) {
            return tag;
        }
        let Some(mut i) = self.split_at_seq(start, indirect) else {
            return tag;
        };
        if end.lt(sent_end) {
            // A failed split leaves the partly covered unit unmarked: the peer repeats the
            // block, and the RTO covers the rest.
            let _ = self.split_at_seq(end, indirect);
        }
        while i < self.sent && self.units[i].end().le(end) {
            let u = &self.units[i];
            let (d, first_tx) = (Delivered::of(u), !u.flags.contains(SegFlags::EVER_RETRANS));
            let n = self.sack_unit(i);
            if n > 0 {
                tag.newly += n;
                tag.newest = Some(d.newest(tag.newest));
                tag.orig |= first_tx;
                tag.reordered |= first_tx && d.end.lt(fack);
            }
            i += 1;
        }
        tag
    }

    /// Forgets every LOST mark: an RTO proved spurious (Linux `tcp_undo_cwnd_reduction` with
    /// `unmark_loss`).
    pub fn clear_lost(&mut self) {
        for u in self.units.range_mut(..self.sent) {
            u.flags.remove(SegFlags::LOST);
        }
        self.lost = 0;
    }

    /// Forgets every SACK mark (the receiver reneged, RFC 2018 §8): the units wait for the
    /// RTO's LOST marks like any unacknowledged data.
    pub fn clear_sacked(&mut self) {
        for u in self.units.range_mut(..self.sent) {
            u.flags.remove(SegFlags::SACKED);
        }
        self.sacked = 0;
    }

    /// Marks unit `i` SACKED; returns its space if it was not already.
    fn sack_unit(&mut self, i: usize) -> u32 {
        let u = &mut self.units[i];
        let n = u.space();
        if u.flags.contains(SegFlags::SACKED) {
            return 0;
        }
        if u.flags.contains(SegFlags::LOST) {
            if u.flags.contains(SegFlags::RETRANS) {
                u.flags.remove(SegFlags::RETRANS);
                self.retrans = self.retrans.saturating_sub(n);
            }
            u.flags.remove(SegFlags::LOST);
            self.lost = self.lost.saturating_sub(n);
        }
        u.flags.insert(SegFlags::SACKED);
        self.sacked += n;
        n
    }

    /// The first unit at or after `i` (among the sent ones) that is LOST and has no
    /// retransmission outstanding: the retransmission cursor.
    pub fn first_lost_from(&self, i: usize) -> Option<usize> {
        // Nothing is marked lost outside recovery: skip the walk on the fast path.
        if self.lost == 0 {
            return None;
        }
        let want =
            |u: &SendSeg| u.flags.contains(SegFlags::LOST) && !u.flags.contains(SegFlags::RETRANS);
        (i..self.sent).find(|&k| want(&self.units[k]))
    }
}

/// What one SACK block did ([`SendQueue::sack_block`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SackTag {
    /// Sequence space newly SACKed.
    pub newly: u32,
    /// The most recently sent unit newly SACKed (RACK, RFC 8985 §6.2 step 2).
    pub newest: Option<Delivered>,
    /// A newly SACKed unit had never been retransmitted: an original transmission arrived.
    pub orig: bool,
    /// A never-retransmitted unit below the highest SACKed sequence was newly SACKed.
    pub reordered: bool,
}
