//! The receive queue: zero-copy in-order data and out-of-order reassembly (ARCHITECTURE
//! decision 7; RFC 9293 §3.10.7.4 "seventh, process the segment text"; RFC 2018 and RFC 2883 for
//! the SACK blocks derived from it).
//!
//! In-order payload stays in the mbufs it arrived in (each a `Pkt` the caller trimmed to the TCP
//! payload) until the application reads it, takes it, or consumes it. Segments beyond rcv.nxt
//! wait in a reassembly list; when the hole before them fills they move to the in-order queue
//! without copying.
//!
//! Invariants:
//! - The out-of-order list is sorted by sequence number, its segments do not overlap and all lie
//!   after rcv.nxt (the caller's, which it advances by [`Insert::advanced`]).
//! - `runs` are the maximal contiguous runs of out-of-order data, sorted, with gaps between them;
//!   each carries the stamp of the most recent segment stored into it (the recency order RFC 2018
//!   §4 asks for). Both are kept incrementally on insertion; a SACK option costs O(runs).
//! - Counters (`bytes`, `ooo_bytes`, `mbufs`) always equal a walk over the queues.
//! - Never more than `max_bytes` of payload held (in-order + out-of-order), as long as the limits
//!   do not shrink between calls.
//!
//! Overlaps (RFC 9293 §3.10.7.4 allows either copy to be kept): the *new* segment is trimmed
//! against what is already held: its front against the segment before it, its back against the
//! segment after it; stored segments it covers entirely are replaced by it; a segment covered
//! entirely is a duplicate. The first duplicated range is reported for D-SACK (RFC 2883).

use super::deque::LazyDeque;
use std::fmt;

use crate::buf::Pkt;
use crate::wire::{SackBlocks, SeqNum};

/// Largest segment accepted (bytes); anything longer cannot be a TCP segment.
const MAX_SEGMENT: usize = 1 << 30;

/// Segments reserved in each list by [`RecvQueue::new`] and by a spare set of arrays
/// (`tcp::spare`); the lists grow beyond as needed.
const DEFAULT_CAPACITY: usize = 4;

/// Largest array kept spare when given back (`tcp::spare`): a connection that grew its
/// array a little keeps it across busy periods; one that grew more frees it.
const KEEP_CAPACITY: usize = 64;

/// How much the queue may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvLimits {
    /// Out-of-order segments stored at most.
    pub max_ooo_segs: usize,
    /// Payload bytes held at most, in-order and out-of-order together (the receive buffer).
    pub max_bytes: usize,
}

/// What [`RecvQueue::insert`] did with a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Insert {
    /// How far rcv.nxt moved: the caller adds it.
    pub advanced: u32,
    /// A range received twice, for the D-SACK block (RFC 2883 §4).
    pub dup: Option<(SeqNum, SeqNum)>,
    /// (Part of) the segment was stored out of order.
    pub ooo: bool,
    /// Bytes refused for lack of room (byte or segment limit).
    pub dropped: u32,
}

/// A stored out-of-order segment.
struct OooSeg {
    seq: SeqNum,
    len: u32,
    pkt: Pkt,
}

impl OooSeg {
    fn end(&self) -> SeqNum {
        self.seq + self.len
    }
}

/// A maximal run of contiguous out-of-order data.
#[derive(Clone, Copy, Debug)]
struct Run {
    start: SeqNum,
    end: SeqNum,
    /// Insertion stamp of the newest segment in the run (unique across runs).
    stamp: u64,
}

/// How a new segment `[s, e)` fits among the stored ones, in offsets from rcv.nxt.
struct Plan {
    /// Bytes to cut from the new segment's front and back.
    cut_front: u32,
    cut_back: u32,
    /// Stored segments `first..last` lie inside the new one and are replaced.
    first: usize,
    last: usize,
    replaced_bytes: usize,
}

/// The (empty) arrays of a receive queue, handed from a closed connection to a new one so that
/// connection churn does not allocate (see `tcp::spare`).
pub struct RecvStorage {
    inorder: LazyDeque<Pkt>,
    ooo: LazyDeque<OooSeg>,
    runs: LazyDeque<Run>,
}

impl RecvStorage {
    /// Fresh storage with the default reservation.
    pub fn new() -> RecvStorage {
        RecvQueue::new().take_storage()
    }

    /// Bytes a fresh storage reserves on the heap.
    pub fn reserved_bytes() -> usize {
        RecvStorage::new().reserved()
    }

    /// No storage at all (see `SendStorage::none`).
    pub fn none() -> RecvStorage {
        RecvStorage {
            inorder: LazyDeque::new(),
            ooo: LazyDeque::new(),
            runs: LazyDeque::new(),
        }
    }

    /// Bytes of heap this storage holds.
    pub fn reserved(&self) -> usize {
        self.inorder.heap_bytes() + self.ooo.heap_bytes() + self.runs.heap_bytes()
    }

    /// Empty and at the default reservation (worth keeping spare).
    pub fn is_default(&self) -> bool {
        let default = DEFAULT_CAPACITY..KEEP_CAPACITY + 1;
        self.inorder.is_empty()
            && self.ooo.is_empty()
            && default.contains(&self.inorder.capacity())
            && default.contains(&self.ooo.capacity())
            && default.contains(&self.runs.capacity())
    }
}

impl Default for RecvStorage {
    fn default() -> Self {
        RecvStorage::new()
    }
}

/// The receive queue. See the module documentation.
pub struct RecvQueue {
    inorder: LazyDeque<Pkt>,
    bytes: usize,
    ooo: LazyDeque<OooSeg>,
    ooo_bytes: usize,
    runs: LazyDeque<Run>,
    mbufs: usize,
    stamp: u64,
}

impl fmt::Debug for RecvQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvQueue")
            .field("bytes", &self.bytes)
            .field("ooo_bytes", &self.ooo_bytes)
            .field("ooo_segs", &self.ooo.len())
            .field("runs", &self.runs)
            .field("mbufs", &self.mbufs)
            .finish()
    }
}

impl Default for RecvQueue {
    fn default() -> Self {
        RecvQueue::new()
    }
}

impl RecvQueue {
    pub fn new() -> RecvQueue {
        RecvQueue::with_capacity(DEFAULT_CAPACITY)
    }

    /// An empty queue with room for `segs` segments in each list before they grow.
    pub fn with_capacity(segs: usize) -> RecvQueue {
        RecvQueue::with_storage(RecvStorage {
            inorder: LazyDeque::with_capacity(segs),
            ooo: LazyDeque::with_capacity(segs),
            runs: LazyDeque::with_capacity(segs),
        })
    }

    /// An empty queue over the storage an earlier queue gave up
    /// ([`RecvQueue::take_storage`]): no allocation.
    pub fn with_storage(storage: RecvStorage) -> RecvQueue {
        debug_assert!(storage.inorder.is_empty() && storage.ooo.is_empty());
        RecvQueue {
            inorder: storage.inorder,
            bytes: 0,
            ooo: storage.ooo,
            ooo_bytes: 0,
            runs: storage.runs,
            mbufs: 0,
            stamp: 0,
        }
    }

    /// Empties the queue (mbufs freed) and hands its storage over, for reuse by another
    /// connection; the queue is left empty and unallocated.
    pub fn take_storage(&mut self) -> RecvStorage {
        self.clear();
        let storage = RecvStorage {
            inorder: std::mem::take(&mut self.inorder),
            ooo: std::mem::take(&mut self.ooo),
            runs: std::mem::take(&mut self.runs),
        };
        self.stamp = 0;
        storage
    }

    /// The (empty) arrays, handed over while the queue stays live and keeps its state: an idle
    /// connection holds no queue storage. `None` unless nothing is held (in order or out of
    /// order) and every array holds the default reservation (grown ones are freed instead).
    pub fn lend_storage(&mut self) -> Option<RecvStorage> {
        if !self.inorder.is_empty() || !self.ooo.is_empty() || !self.has_storage() {
            return None;
        }
        let default = self.has_default_storage();
        let storage = RecvStorage {
            inorder: std::mem::take(&mut self.inorder),
            ooo: std::mem::take(&mut self.ooo),
            runs: std::mem::take(&mut self.runs),
        };
        default.then_some(storage)
    }

    /// Takes `storage` as the arrays if the queue has none; otherwise hands it back.
    pub fn adopt_storage(&mut self, storage: RecvStorage) -> Option<RecvStorage> {
        if self.has_storage() {
            return Some(storage);
        }
        debug_assert!(storage.inorder.is_empty() && storage.ooo.is_empty());
        self.inorder = storage.inorder;
        self.ooo = storage.ooo;
        self.runs = storage.runs;
        self.runs.clear();
        None
    }

    /// The queue holds arrays (any of them).
    pub fn has_storage(&self) -> bool {
        self.inorder.capacity() + self.ooo.capacity() + self.runs.capacity() > 0
    }

    /// Every array holds the default reservation: not given up already, not grown (grown
    /// arrays are not worth keeping spare).
    pub fn has_default_storage(&self) -> bool {
        let default = DEFAULT_CAPACITY..KEEP_CAPACITY + 1;
        default.contains(&self.inorder.capacity())
            && default.contains(&self.ooo.capacity())
            && default.contains(&self.runs.capacity())
    }

    /// In-order bytes the application can read.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Out-of-order bytes waiting for a hole to fill.
    pub fn ooo_bytes(&self) -> usize {
        self.ooo_bytes
    }

    /// Out-of-order segments stored.
    pub fn ooo_segs(&self) -> usize {
        self.ooo.len()
    }

    /// Mbuf segments held (both queues), for memory accounting.
    pub fn mbufs(&self) -> usize {
        self.mbufs
    }

    /// Nothing to read (out-of-order data may still be held).
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Accepts segment text `pkt` starting at `seq` (RFC 9293 §3.10.7.4). Bytes before
    /// `rcv_nxt` are trimmed and reported as duplicate; bytes at `rcv_nxt` join the in-order
    /// queue, followed by every out-of-order segment that became contiguous; bytes beyond are
    /// stored out of order if `limits` allow, else dropped. Bytes past
    /// `rcv_nxt + max_bytes - bytes()` are never stored (the window's right edge, at most).
    pub fn insert(
        &mut self,
        rcv_nxt: SeqNum,
        seq: SeqNum,
        mut pkt: Pkt,
        limits: &RecvLimits,
    ) -> Insert {
        // Fast path, nearly every segment: the next in-order bytes, nothing held out of order,
        // and room for them.
        let len = pkt.len();
        if self.ooo.is_empty()
            && seq == rcv_nxt
            && len > 0
            && len <= MAX_SEGMENT
            && self.bytes + len <= limits.max_bytes
        {
            self.push_inorder(pkt);
            return Insert {
                advanced: len as u32,
                ..Insert::default()
            };
        }
        let mut out = Insert::default();
        let mut nxt = rcv_nxt;
        // Only does anything if the caller's rcv.nxt disagrees with what was stored.
        out.advanced = self.drain_ooo(&mut nxt);
        if pkt.is_empty() || pkt.len() > MAX_SEGMENT {
            out.dropped = pkt.len().min(MAX_SEGMENT) as u32;
            return out;
        }
        let Some((s, e)) = self.clip(nxt, seq, &mut pkt, limits, &mut out) else {
            return out;
        };
        let Some(plan) = self.plan(nxt, s, e, &mut out.dup) else {
            return out;
        };
        let len = e - s - plan.cut_front - plan.cut_back;
        if !self.fits(s + plan.cut_front, len, &plan, limits) {
            out.dropped += len;
            return out;
        }
        pkt.trim_front(plan.cut_front as usize);
        pkt.trim_back(plan.cut_back as usize);
        self.remove_ooo(plan.first, plan.last);
        let seq = nxt + s + plan.cut_front;
        if s + plan.cut_front == 0 {
            self.push_inorder(pkt);
            nxt += len;
            out.advanced += len + self.drain_ooo(&mut nxt);
        } else {
            self.store_ooo(plan.first, seq, len, pkt);
            out.ooo = true;
        }
        out
    }

    /// Trims the segment to `[rcv_nxt, window edge)`; returns its offsets from `nxt`, or `None`
    /// if nothing is left.
    fn clip(
        &self,
        nxt: SeqNum,
        seq: SeqNum,
        pkt: &mut Pkt,
        limits: &RecvLimits,
        out: &mut Insert,
    ) -> Option<(u32, u32)> {
        let len = pkt.len() as u32;
        let end = seq + len;
        if seq.partial_cmp(&nxt).is_none() {
            out.dropped += len;
            return None;
        }
        if seq.lt(nxt) {
            if !end.gt(nxt) {
                note_dup(&mut out.dup, seq, end);
                return None;
            }
            note_dup(&mut out.dup, seq, nxt);
            pkt.trim_front((nxt - seq) as usize);
        }
        let s = if seq.gt(nxt) { seq - nxt } else { 0 };
        if s >= MAX_SEGMENT as u32 {
            out.dropped += pkt.len() as u32;
            return None;
        }
        let edge = limits.max_bytes.saturating_sub(self.bytes).min(MAX_SEGMENT) as u32;
        let e = s + pkt.len() as u32;
        if e > edge {
            let cut = (e - edge).min(e - s);
            out.dropped += cut;
            pkt.trim_back(cut as usize);
        }
        (!pkt.is_empty()).then(|| (s, s + pkt.len() as u32))
    }

    /// Places `[s, e)` (offsets from `nxt`) among the stored segments; `None` if every byte
    /// is already held. Duplicated ranges go to `dup`.
    fn plan(
        &self,
        nxt: SeqNum,
        s: u32,
        e: u32,
        dup: &mut Option<(SeqNum, SeqNum)>,
    ) -> Option<Plan> {
        let off = |q: SeqNum| q - nxt;
        let mut first = self.ooo.partition_point(|o| off(o.end()) <= s);
        let mut cut_front = 0;
        let overlaps_front = |o: &&OooSeg| off(o.seq) <= s && off(o.end()) > s;
        if let Some(o) = self.ooo.get(first).filter(overlaps_front) {
            note_dup(dup, nxt + s, nxt + off(o.end()).min(e));
            if off(o.end()) >= e {
                return None;
            }
            cut_front = off(o.end()) - s;
            first += 1;
        }
        let (mut last, mut cut_back, mut replaced_bytes) = (first, 0, 0);
        while let Some(o) = self.ooo.get(last).filter(|o| off(o.seq) < e) {
            if off(o.end()) > e {
                note_dup(dup, o.seq, nxt + e);
                cut_back = e - off(o.seq);
                break;
            }
            note_dup(dup, o.seq, o.end());
            replaced_bytes += o.len as usize;
            last += 1;
        }
        // Nothing new if the rest is exactly the stored segments it covers.
        let rest = (e - s).saturating_sub(cut_front + cut_back) as usize;
        (rest > replaced_bytes).then_some(Plan {
            cut_front,
            cut_back,
            first,
            last,
            replaced_bytes,
        })
    }

    /// Whether `len` new bytes at offset `s` may be stored under `limits`.
    fn fits(&self, s: u32, len: u32, plan: &Plan, limits: &RecvLimits) -> bool {
        let held = self.bytes + self.ooo_bytes - plan.replaced_bytes + len as usize;
        let segs = self.ooo.len() - (plan.last - plan.first) + 1;
        held <= limits.max_bytes && (s == 0 || segs <= limits.max_ooo_segs)
    }

    /// Frees stored segments `first..last` (their bytes are about to be stored again).
    fn remove_ooo(&mut self, first: usize, last: usize) {
        for o in self.ooo.drain(first..last) {
            self.ooo_bytes -= o.len as usize;
            self.mbufs -= o.pkt.nb_segs();
        }
    }

    fn push_inorder(&mut self, pkt: Pkt) {
        self.bytes += pkt.len();
        self.mbufs += pkt.nb_segs();
        self.inorder.push_back(pkt);
    }

    /// Stores `pkt` at index `i` of the out-of-order list and merges it into the runs.
    fn store_ooo(&mut self, i: usize, seq: SeqNum, len: u32, pkt: Pkt) {
        self.ooo_bytes += len as usize;
        self.mbufs += pkt.nb_segs();
        self.ooo.insert(i, OooSeg { seq, len, pkt });
        self.stamp += 1;
        self.merge_run(seq, seq + len);
    }

    /// Adds `[start, end)` to the runs, joining every run it overlaps or touches.
    fn merge_run(&mut self, start: SeqNum, end: SeqNum) {
        let base = self.runs.front().map_or(start, |r| r.start.min(start));
        let off = |q: SeqNum| q - base;
        let first = self.runs.partition_point(|r| off(r.end) < off(start));
        let mut run = Run {
            start,
            end,
            stamp: self.stamp,
        };
        let mut last = first;
        while let Some(r) = self.runs.get(last).filter(|r| off(r.start) <= off(end)) {
            run.start = run.start.min(r.start);
            run.end = run.end.max(r.end);
            last += 1;
        }
        match last - first {
            0 => self.runs.insert(first, run),
            n => {
                self.runs[first] = run;
                self.runs.drain(first + 1..first + n);
            }
        }
    }

    /// Moves every out-of-order segment that became contiguous with `nxt` to the in-order
    /// queue, advancing `nxt`; returns by how much. Stale data (before `nxt`) is discarded.
    fn drain_ooo(&mut self, nxt: &mut SeqNum) -> u32 {
        let mut advanced = 0;
        while self.ooo.front().is_some_and(|o| !o.seq.gt(*nxt)) {
            let Some(mut o) = self.ooo.pop_front() else {
                break;
            };
            self.ooo_bytes -= o.len as usize;
            self.mbufs -= o.pkt.nb_segs();
            let skip = *nxt - o.seq;
            if skip >= o.len || !o.pkt.trim_front(skip as usize) {
                continue;
            }
            *nxt += o.len - skip;
            advanced += o.len - skip;
            self.push_inorder(o.pkt);
        }
        while let Some(r) = self.runs.front_mut() {
            if r.end.gt(*nxt) {
                r.start = r.start.max(*nxt);
                break;
            }
            self.runs.pop_front();
        }
        advanced
    }

    /// Fills `out` with SACK blocks (RFC 2018 §4, RFC 2883 §4): the D-SACK block `dup` first if
    /// given, then the run holding it (if the duplicate lies above rcv.nxt), then the other
    /// runs, the one holding the most recently received segment first. Up to four blocks; the
    /// caller emits as many as its option space allows, first ones first.
    pub fn sack_blocks(&self, dup: Option<(SeqNum, SeqNum)>, out: &mut SackBlocks) {
        out.clear();
        let mut skip = None;
        if let Some(d) = dup {
            out.push(d);
            skip = self
                .runs
                .iter()
                .position(|r| r.start.le(d.0) && d.1.le(r.end));
            if let Some(r) = skip.map(|k| self.runs[k]) {
                out.push((r.start, r.end));
            }
        }
        let mut below = u64::MAX;
        while out.len() < SackBlocks::CAPACITY {
            let newest = (0..self.runs.len())
                .filter(|&k| Some(k) != skip && self.runs[k].stamp < below)
                .max_by_key(|&k| self.runs[k].stamp);
            let Some(k) = newest else { break };
            let r = self.runs[k];
            out.push((r.start, r.end));
            below = r.stamp;
        }
    }

    /// Copies in-order data into `buf` and frees what was consumed; returns the bytes copied.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        let mut done = 0;
        for p in &self.inorder {
            if done == buf.len() {
                break;
            }
            done += p.copy_out(0, &mut buf[done..]);
        }
        self.consume(done)
    }

    /// Borrowed slices of the in-order data, in order, across segments.
    pub fn peek(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.inorder
            .iter()
            .flat_map(Pkt::segments)
            .filter(|s| !s.is_empty())
    }

    /// Drops up to `n` in-order bytes from the front; returns how many.
    pub fn consume(&mut self, n: usize) -> usize {
        let mut left = n.min(self.bytes);
        let done = left;
        while left > 0 {
            let Some(p) = self.inorder.front_mut() else {
                break;
            };
            if p.len() <= left {
                left -= p.len();
                self.take();
                continue;
            }
            let segs = p.nb_segs();
            p.trim_front(left);
            self.mbufs = self.mbufs + p.nb_segs() - segs;
            self.bytes -= left;
            left = 0;
        }
        done - left
    }

    /// Removes the first in-order chain, whole, without copying.
    pub fn take(&mut self) -> Option<Pkt> {
        let p = self.inorder.pop_front()?;
        self.bytes -= p.len();
        self.mbufs -= p.nb_segs();
        Some(p)
    }

    /// Drops everything held, in-order and out-of-order.
    pub fn clear(&mut self) {
        self.inorder.clear();
        self.bytes = 0;
        self.prune_ooo();
        self.mbufs = 0;
    }

    /// Drops all out-of-order data under memory pressure (reneging, which RFC 2018 §8 allows;
    /// the sender keeps it until cumulatively acknowledged). Returns the bytes freed.
    pub fn prune_ooo(&mut self) -> u32 {
        if self.ooo.is_empty() {
            // No runs either (they cover stored segments): nothing to walk.
            return 0;
        }
        let freed = self.ooo_bytes as u32;
        for o in self.ooo.drain(..) {
            self.mbufs -= o.pkt.nb_segs();
        }
        self.runs.clear();
        self.ooo_bytes = 0;
        freed
    }
}

/// Records `[start, end)` as duplicate: the first range seen is kept, extended by a range that
/// continues it (RFC 2883 reports one contiguous duplicate block).
fn note_dup(dup: &mut Option<(SeqNum, SeqNum)>, start: SeqNum, end: SeqNum) {
    if !end.gt(start) {
        return;
    }
    match dup {
        None => *dup = Some((start, end)),
        Some((_, e)) if *e == start => *e = end,
        Some(_) => {}
    }
}
