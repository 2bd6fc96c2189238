//! Received SACK blocks onto the scoreboard (RFC 2018 §3), D-SACK recognised (RFC 2883 §4).
//!
//! Linux's `tcp_sacktag_write_queue`, in short: the first block is a D-SACK when it lies below
//! the cumulative ACK or inside the second block; the other blocks are sorted and tagged in
//! sequence order. Blocks repeat from ACK to ACK (each ACK carries the newest block first and
//! up to three older ones), so the blocks of the previous ACK are kept (`cache`, Linux
//! `recv_sack_cache`) and only the parts of a block they do not cover are walked: each unit is
//! tagged once, and an ACK costs a binary search per new piece plus the units newly SACKed
//! (amortised O(1) per block).

use super::super::send_queue::{Delivered, SendQueue};
use crate::buf::Mempool;
use crate::wire::{SackBlocks, SeqNum};

/// The SACK state kept between ACKs.
#[derive(Clone, Copy, Debug, Default)]
pub struct SackState {
    /// The previous ACK's blocks (D-SACK excluded), sorted by start.
    cache: [(SeqNum, SeqNum); SackBlocks::CAPACITY],
    cache_len: u8,
    /// The highest sequence number SACKed (`snd.fack`), for reordering detection; at least
    /// `snd.una` whenever it is read.
    pub fack: SeqNum,
}

impl SackState {
    /// Forgets the blocks seen (after the marks were cleared: reneging, RTO).
    pub fn forget(&mut self) {
        self.cache_len = 0;
    }

    fn cached(&self) -> &[(SeqNum, SeqNum)] {
        &self.cache[..usize::from(self.cache_len)]
    }
}

/// What an ACK's SACK blocks did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SackOutcome {
    /// Sequence space newly SACKed.
    pub newly: u32,
    /// The most recently sent unit newly SACKed.
    pub newest: Option<Delivered>,
    /// A never-retransmitted unit was newly SACKed.
    pub orig: bool,
    /// A never-retransmitted unit below `fack` was newly SACKed: reordering.
    pub reordered: bool,
    /// The D-SACK block, if the first block was one (RFC 2883).
    pub dsack: Option<(SeqNum, SeqNum)>,
}

/// RFC 2883 §4: the first block reports a duplicate if it lies below the cumulative ACK, or
/// within the second block.
pub fn dsack_of(blocks: &SackBlocks, ack: SeqNum) -> Option<(SeqNum, SeqNum)> {
    let mut it = blocks.iter();
    let (s0, e0) = it.next()?;
    if !e0.gt(s0) {
        return None;
    }
    let inside_second = it.next().is_some_and(|(s1, e1)| s0.ge(s1) && e0.le(e1));
    (s0.lt(ack) || inside_second).then_some((s0, e0))
}

/// Tags the blocks of an ACK whose cumulative acknowledgment is `ack`.
pub fn process(
    st: &mut SackState,
    sq: &mut SendQueue,
    blocks: &SackBlocks,
    ack: SeqNum,
    indirect: &Mempool,
) -> SackOutcome {
    let mut out = SackOutcome {
        dsack: dsack_of(blocks, ack),
        ..SackOutcome::default()
    };
    let skip = usize::from(out.dsack.is_some());
    let mut list = [(SeqNum(0), SeqNum(0)); SackBlocks::CAPACITY];
    let mut n = 0;
    for b in blocks.iter().skip(skip).filter(|(s, e)| e.gt(s)) {
        list[n] = b;
        n += 1;
    }
    let head = sq.head_seq();
    // `fack` means something only inside the sent range; the cumulative ACK may have passed
    // it, and before the first SACK it is whatever the TCB started with.
    if !(st.fack.ge(head) && st.fack.le(sq.sent_end())) {
        st.fack = head;
    }
    list[..n].sort_unstable_by_key(|&(s, _)| s - head);
    for &(s, e) in &list[..n] {
        tag_uncached(st, sq, s, e, indirect, &mut out);
    }
    st.cache[..n].copy_from_slice(&list[..n]);
    st.cache_len = n as u8;
    out
}

/// Tags the parts of `start..end` that no block of the previous ACK covered.
fn tag_uncached(
    st: &mut SackState,
    sq: &mut SendQueue,
    start: SeqNum,
    end: SeqNum,
    indirect: &Mempool,
    out: &mut SackOutcome,
) {
    let mut s = start;
    let cached = st.cached();
    let mut pieces = [(SeqNum(0), SeqNum(0)); SackBlocks::CAPACITY + 1];
    let mut k = 0;
    for &(cs, ce) in cached {
        if !ce.gt(s) || !cs.lt(end) {
            continue;
        }
        if cs.gt(s) {
            pieces[k] = (s, cs);
            k += 1;
        }
        s = ce;
        if !s.lt(end) {
            break;
        }
    }
    if s.lt(end) {
        pieces[k] = (s, end);
        k += 1;
    }
    for &(ps, pe) in &pieces[..k] {
        tag(st, sq, ps, pe, indirect, out);
    }
}

/// Tags one piece and folds what it did into `out`.
fn tag(
    st: &mut SackState,
    sq: &mut SendQueue,
    start: SeqNum,
    end: SeqNum,
    indirect: &Mempool,
    out: &mut SackOutcome,
) {
    let t = sq.sack_block(start, end, st.fack, indirect);
    if t.newly == 0 {
        return;
    }
    out.newly += t.newly;
    out.orig |= t.orig;
    out.reordered |= t.reordered;
    if let Some(d) = t.newest {
        out.newest = Some(d.newest(out.newest));
    }
    if end.gt(st.fack) {
        st.fack = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(list: &[(u32, u32)]) -> SackBlocks {
        let mut b = SackBlocks::new();
        for &(s, e) in list {
            b.push((SeqNum(s), SeqNum(e)));
        }
        b
    }

    #[test]
    fn dsack_below_the_ack_or_inside_the_second_block() {
        let d = |l: &[(u32, u32)], ack| dsack_of(&blocks(l), SeqNum(ack));
        assert_eq!(d(&[(100, 200)], 300), Some((SeqNum(100), SeqNum(200))));
        assert_eq!(
            d(&[(400, 500), (300, 600)], 100),
            Some((SeqNum(400), SeqNum(500)))
        );
        assert_eq!(d(&[(400, 500), (600, 700)], 100), None);
        assert_eq!(d(&[(400, 500)], 100), None);
        // An empty or inverted block is nothing.
        assert_eq!(d(&[(200, 200)], 300), None);
    }
}
