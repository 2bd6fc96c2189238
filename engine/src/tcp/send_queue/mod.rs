//! The send queue: Linux's write queue with a `send_head` (ARCHITECTURE decision 4).
//!
//! One queue of units ([`SendSeg`]), each a run of payload bytes in an mbuf chain of up to
//! `size_goal` bytes (the MSS, or up to 64 KiB when the port does TSO), optionally followed by the
//! FIN. Units before `send_head` have been sent and wait for their acknowledgment; units from
//! `send_head` on have never been sent. `write_xmit` walks from `send_head`, transmits clones
//! (decision 5) and calls [`SendQueue::advance_send_head`]; an ACK frees what it covers
//! ([`SendQueue::ack`], Linux `tcp_clean_rtx_queue` and `tcp_trim_head`).
//!
//! Invariants:
//! - Units are contiguous in sequence space: `units[k].end() == units[k + 1].seq`, the first unit
//!   starts at `head_seq()` (snd.una once the SYN is acknowledged) and the last ends at
//!   `write_seq()`. A unit's `len` equals its chain's length; only a FIN-only unit has no chain.
//! - At most one FIN, on the last unit; nothing is queued after it.
//! - The scoreboard sums (`lost_bytes`, `sacked_bytes`, `retrans_bytes`) and the counters
//!   (`bytes`, `sent_bytes`, `mbufs`) always equal what a walk over the units would give; every
//!   method updates them for the units it touches, so reading them is O(1).
//! - Only sent units carry scoreboard marks. SACKED excludes LOST; RETRANS without LOST is kept
//!   on a SACK (the retransmission is still in flight), as in Linux `tcp_sacktag_one`.
//!
//! Scoreboard (RFC 6675, counted the Linux way in bytes of sequence space): `in_flight` =
//! `snd.nxt - snd.una - sacked - lost + retrans` (Linux `tcp_packets_in_flight`). A retransmitted
//! lost unit keeps LOST and gains RETRANS, so it counts once again as in flight; when the
//! retransmission is deemed lost too, [`SendQueue::mark_lost`] clears RETRANS.
//!
//! Mbuf ownership: the queue owns one reference to each unit's chain. Transmission must use
//! indirect clones (`Pkt::clone_range`), which keep their own metadata: trimming on ACK and
//! cutting on split rewrite a unit's chain metadata in place, which is safe under indirect clones
//! but not under `Pkt::share` handles. (The header-in-headroom transmit of decision 5 shares the
//! mbuf only for the duration of a `tx_burst` on a PMD that copies.) A unit acknowledged while a
//! clone is still in a TX ring is simply dropped: DPDK's refcounts keep the data alive.
//!
//! Cost: O(1) per unit touched; locating a sequence number is a binary search. The unit array
//! is lent by the per-core spare pool when data is first queued and given back when the queue
//! empties (`tcp::spare`), so an idle connection holds none; it grows only occasionally.

mod scoreboard;

pub use self::scoreboard::SackTag;

use std::fmt;

use super::deque::LazyDeque;
use crate::buf::{HEADROOM, Mempool, Pkt};
use crate::time::Instant;
use crate::wire::SeqNum;

/// Largest unit accepted (bytes of payload); a larger `size_goal` is clamped to it.
pub const MAX_SIZE_GOAL: usize = 1 << 20;

/// Units reserved by [`SendQueue::new`] and by a spare unit array (`tcp::spare`); the array
/// grows beyond as a bulk sender needs it.
const DEFAULT_CAPACITY: usize = 4;

/// Largest array kept spare when given back (`tcp::spare`): a connection that grew its
/// array a little keeps it across busy periods; one that grew more frees it.
const KEEP_CAPACITY: usize = 64;

/// Scoreboard marks of one unit (Linux `TCP_SKB_CB(skb)->sacked`).
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct SegFlags(u8);

impl SegFlags {
    /// Deemed lost (RFC 6675 `IsLost`, or an RTO); waits for retransmission.
    pub const LOST: SegFlags = SegFlags(1);
    /// Covered by a SACK block (RFC 2018).
    pub const SACKED: SegFlags = SegFlags(2);
    /// A retransmitted copy is outstanding (Linux `TCPCB_SACKED_RETRANS`).
    pub const RETRANS: SegFlags = SegFlags(4);
    /// Retransmitted at least once: no RTT sample from it (Karn, RFC 6298 §3).
    pub const EVER_RETRANS: SegFlags = SegFlags(8);

    pub const fn empty() -> SegFlags {
        SegFlags(0)
    }

    pub const fn bits(self) -> u8 {
        self.0
    }

    pub const fn contains(self, other: SegFlags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn insert(&mut self, other: SegFlags) {
        self.0 |= other.0;
    }

    pub fn remove(&mut self, other: SegFlags) {
        self.0 &= !other.0;
    }
}

impl fmt::Debug for SegFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (SegFlags::LOST, "LOST"),
            (SegFlags::SACKED, "SACKED"),
            (SegFlags::RETRANS, "RETRANS"),
            (SegFlags::EVER_RETRANS, "EVER_RETRANS"),
        ];
        let mut list = f.debug_set();
        for (flag, name) in names {
            if self.contains(flag) {
                list.entry(&format_args!("{name}"));
            }
        }
        list.finish()
    }
}

/// One unit of the send queue: payload (possibly empty) and an optional FIN after it.
///
/// Fields are public for reading. Through [`SendQueue::get_mut`] only the chain's bytes may be
/// touched (e.g. headers in its headroom); changing `seq`, `len`, `fin`, `flags` or the chain's
/// length would break the queue's sums.
#[derive(Debug)]
pub struct SendSeg {
    /// Sequence number of the first payload byte (of the FIN for a FIN-only unit).
    pub seq: SeqNum,
    /// Payload bytes (the chain's length).
    pub len: u32,
    /// The FIN follows the payload (one more unit of sequence space).
    pub fin: bool,
    /// The payload; `None` only for a FIN-only unit.
    pub pkt: Option<Pkt>,
    pub flags: SegFlags,
    /// Time of the last (re)transmission; meaningful once `tx_count > 0`.
    pub sent_at: Instant,
    /// Transmissions so far (0 while unsent).
    pub tx_count: u16,
}

impl SendSeg {
    fn new(seq: SeqNum, pkt: Option<Pkt>, len: u32, fin: bool) -> SendSeg {
        SendSeg {
            seq,
            len,
            fin,
            pkt,
            flags: SegFlags::empty(),
            sent_at: Instant::ZERO,
            tx_count: 0,
        }
    }

    /// Sequence space taken: payload plus one for the FIN.
    pub fn space(&self) -> u32 {
        self.len + u32::from(self.fin)
    }

    /// Sequence number after the unit (`seq + len + fin`).
    pub fn end(&self) -> SeqNum {
        self.seq + self.space()
    }

    /// Mbuf segments held.
    fn mbufs(&self) -> usize {
        self.pkt.as_ref().map_or(0, Pkt::nb_segs)
    }
}

/// What an ACK did to the queue ([`SendQueue::ack`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// Sequence space newly acknowledged (the FIN counts 1; the SYN is never queued).
    pub acked_bytes: u32,
    /// Units freed entirely.
    pub freed: u32,
    /// `sent_at` of the newest acknowledged unit (fully, or partially for a TSO unit) that was
    /// never retransmitted: an RTT sample allowed by Karn's rule (RFC 6298 §3).
    pub rtt_sent_at: Option<Instant>,
    pub fin_acked: bool,
    /// Some acknowledged unit had been retransmitted.
    pub any_retransmitted: bool,
    /// Some acknowledged unit had never been retransmitted nor SACKed: an original
    /// transmission arrived (F-RTO, RFC 5682 §3.1 step 3.b; Linux `FLAG_ORIG_SACK_ACKED`).
    pub orig_acked: bool,
    /// The most recently sent unit acknowledged (RACK, RFC 8985 §6.2 step 2).
    pub newest: Option<Delivered>,
}

/// A delivered (acknowledged or SACKed) unit, as RACK needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// Its last transmission.
    pub sent_at: Instant,
    /// The sequence number after it.
    pub end: SeqNum,
    /// It was retransmitted at least once: the delivery may be of an earlier copy.
    pub retransmitted: bool,
}

impl Delivered {
    fn of(u: &SendSeg) -> Delivered {
        Delivered {
            sent_at: u.sent_at,
            end: u.end(),
            retransmitted: u.flags.contains(SegFlags::EVER_RETRANS),
        }
    }

    /// RFC 8985 §6.2 `RACK_sent_after`: later sent, or sent at the same time and later in
    /// sequence.
    pub fn sent_after(&self, sent_at: Instant, end: SeqNum) -> bool {
        self.sent_at > sent_at || (self.sent_at == sent_at && self.end.gt(end))
    }

    /// Whichever of `self` and `other` was sent last.
    pub fn newest(self, other: Option<Delivered>) -> Delivered {
        match other {
            Some(o) if !self.sent_after(o.sent_at, o.end) => o,
            _ => self,
        }
    }
}

/// The (empty) unit array of a send queue, handed from a closed connection to a new one so
/// that connection churn does not allocate (see `tcp::spare`).
pub struct SendStorage(LazyDeque<SendSeg>);

impl SendStorage {
    /// Fresh storage with the default reservation.
    pub fn new() -> SendStorage {
        SendStorage(LazyDeque::with_capacity(DEFAULT_CAPACITY))
    }

    /// Bytes a fresh storage reserves on the heap.
    pub fn reserved_bytes() -> usize {
        SendStorage::new().reserved()
    }

    /// No storage at all (a queue over it allocates on its first unit, unless it is given
    /// storage first).
    pub fn none() -> SendStorage {
        SendStorage(LazyDeque::new())
    }

    /// Bytes of heap this storage holds.
    pub fn reserved(&self) -> usize {
        self.0.heap_bytes()
    }

    /// Empty and at the default reservation (worth keeping spare).
    pub fn is_default(&self) -> bool {
        self.0.is_empty() && (DEFAULT_CAPACITY..KEEP_CAPACITY + 1).contains(&self.0.capacity())
    }
}

impl Default for SendStorage {
    fn default() -> Self {
        SendStorage::new()
    }
}

/// The write queue with `send_head`. See the module documentation.
pub struct SendQueue {
    units: LazyDeque<SendSeg>,
    /// `units[..sent]` are sent; `send_head` is `sent` when it is a valid index.
    sent: usize,
    write_seq: SeqNum,
    fin_queued: bool,
    bytes: usize,
    sent_bytes: usize,
    mbufs: usize,
    lost: u32,
    sacked: u32,
    retrans: u32,
    /// The last transmission stamp given ([`SendQueue::stamp`]).
    last_stamp: Instant,
}

impl fmt::Debug for SendQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendQueue")
            .field("head_seq", &self.head_seq())
            .field("write_seq", &self.write_seq)
            .field("units", &self.units.len())
            .field("send_head", &self.send_head())
            .field("bytes", &self.bytes)
            .field("sent_bytes", &self.sent_bytes)
            .field("lost", &self.lost)
            .field("sacked", &self.sacked)
            .field("retrans", &self.retrans)
            .finish()
    }
}

impl SendQueue {
    /// An empty queue whose first byte will have sequence number `snd_nxt_start` (ISS + 1).
    pub fn new(snd_nxt_start: SeqNum) -> SendQueue {
        SendQueue::with_capacity(snd_nxt_start, DEFAULT_CAPACITY)
    }

    /// Like [`SendQueue::new`] with room for `units` units before the deque grows.
    pub fn with_capacity(snd_nxt_start: SeqNum, units: usize) -> SendQueue {
        SendQueue::with_storage(snd_nxt_start, SendStorage(LazyDeque::with_capacity(units)))
    }

    /// Like [`SendQueue::new`] over the storage an earlier queue gave up
    /// ([`SendQueue::take_storage`]): no allocation.
    pub fn with_storage(snd_nxt_start: SeqNum, storage: SendStorage) -> SendQueue {
        debug_assert!(storage.0.is_empty());
        SendQueue {
            units: storage.0,
            sent: 0,
            write_seq: snd_nxt_start,
            fin_queued: false,
            bytes: 0,
            sent_bytes: 0,
            mbufs: 0,
            lost: 0,
            sacked: 0,
            retrans: 0,
            last_stamp: Instant::ZERO,
        }
    }

    /// Empties the queue (every unit dropped, its mbufs freed) and restarts it at
    /// `snd_nxt_start`, keeping the deque's storage.
    pub fn reset(&mut self, snd_nxt_start: SeqNum) {
        let storage = self.take_storage();
        *self = SendQueue::with_storage(snd_nxt_start, storage);
    }

    /// Empties the queue (mbufs freed) and hands its storage over, for reuse by another
    /// connection; the queue is left empty and unallocated.
    pub fn take_storage(&mut self) -> SendStorage {
        self.units.clear();
        let units = std::mem::take(&mut self.units);
        *self = SendQueue::with_storage(self.write_seq, SendStorage(LazyDeque::new()));
        SendStorage(units)
    }

    /// The (empty) unit array, handed over while the queue stays live and keeps its sequence
    /// state: an idle connection holds no queue storage. `None` unless the queue is empty and
    /// its array holds the default reservation (a grown one is freed instead, here).
    pub fn lend_storage(&mut self) -> Option<SendStorage> {
        if !self.units.is_empty() || self.units.capacity() == 0 {
            return None;
        }
        let units = std::mem::take(&mut self.units);
        (DEFAULT_CAPACITY..KEEP_CAPACITY + 1)
            .contains(&units.capacity())
            .then_some(SendStorage(units))
    }

    /// Takes `storage` as the unit array if the queue has none (it grows from it); otherwise
    /// hands it back.
    pub fn adopt_storage(&mut self, storage: SendStorage) -> Option<SendStorage> {
        if self.units.capacity() > 0 {
            return Some(storage);
        }
        debug_assert!(storage.0.is_empty());
        self.units = storage.0;
        None
    }

    /// The queue holds a unit array.
    pub fn has_storage(&self) -> bool {
        self.units.capacity() > 0
    }

    /// The unit array holds the default reservation: not given up already, not grown (a grown
    /// array is not worth keeping spare).
    pub fn has_default_storage(&self) -> bool {
        (DEFAULT_CAPACITY..KEEP_CAPACITY + 1).contains(&self.units.capacity())
    }

    /// Sequence number after the last queued byte or FIN.
    pub fn write_seq(&self) -> SeqNum {
        self.write_seq
    }

    /// Sequence number of the first unacknowledged unit (snd.una), `write_seq` when empty.
    pub fn head_seq(&self) -> SeqNum {
        self.units.front().map_or(self.write_seq, |u| u.seq)
    }

    /// Sequence number after the last sent unit: the highest snd.nxt the queue has seen.
    pub fn sent_end(&self) -> SeqNum {
        self.units.get(self.sent).map_or(self.write_seq, |u| u.seq)
    }

    /// Units queued.
    pub fn len(&self) -> usize {
        self.units.len()
    }

    pub fn is_empty(&self) -> bool {
        self.units.is_empty()
    }

    /// Payload bytes queued (sent and unsent; the FIN is not counted).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Payload bytes not yet sent.
    pub fn unsent_bytes(&self) -> usize {
        self.bytes.saturating_sub(self.sent_bytes)
    }

    /// Payload bytes sent and not yet acknowledged.
    pub fn sent_bytes(&self) -> usize {
        self.sent_bytes
    }

    /// Mbuf segments held, for memory accounting.
    pub fn mbufs(&self) -> usize {
        self.mbufs
    }

    /// Index of the first unsent unit; `None` when everything queued has been sent.
    pub fn send_head(&self) -> Option<usize> {
        (self.sent < self.units.len()).then_some(self.sent)
    }

    /// A FIN has been queued ([`SendQueue::push_fin`]); nothing more can be appended.
    pub fn fin_queued(&self) -> bool {
        self.fin_queued
    }

    pub fn get(&self, i: usize) -> Option<&SendSeg> {
        self.units.get(i)
    }

    /// Mutable access to a unit, for writing into its chain. See [`SendSeg`] for what must not
    /// change.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut SendSeg> {
        self.units.get_mut(i)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &SendSeg> + '_ {
        self.units.iter()
    }

    /// Index of the unit whose sequence space holds `seq`.
    pub fn index_of(&self, seq: SeqNum) -> Option<usize> {
        let head = self.head_seq();
        if !seq.ge(head) || !seq.lt(self.write_seq) {
            return None;
        }
        let off = seq - head;
        let i = self.units.partition_point(|u| u.seq - head <= off);
        i.checked_sub(1)
    }

    /// Copies `data` in: first into the tail unit if it is unsent, has no FIN and is shorter than
    /// `size_goal`, then into new units of up to `size_goal` bytes (Linux `tcp_sendmsg`). New
    /// units keep the pool's headroom for headers. A new unit whose bytes fit in one `small`
    /// mbuf starts in one (as Linux puts a small write in a small skb): a 64-byte request
    /// then holds a few hundred bytes until acknowledged, not a 2 KiB data mbuf; should it
    /// grow later (Nagle, cork), its chain continues in `pool`'s mbufs. Returns the bytes
    /// taken: fewer if the pool runs dry, 0 after a FIN. The caller enforces the send-buffer
    /// limit.
    pub fn append(
        &mut self,
        data: &[u8],
        size_goal: usize,
        pool: &Mempool,
        small: &Mempool,
    ) -> usize {
        if self.fin_queued || size_goal == 0 {
            return 0;
        }
        let goal = size_goal.min(MAX_SIZE_GOAL);
        let small_room = usize::from(small.data_room()).saturating_sub(HEADROOM);
        let mut done = self.fill_tail(data, goal, pool);
        while done < data.len() {
            let n = (data.len() - done).min(goal);
            let first = if n <= small_room {
                Pkt::alloc(small).or_else(|| Pkt::alloc(pool))
            } else {
                Pkt::alloc(pool)
            };
            let Some(mut pkt) = first else {
                break;
            };
            let got = pkt.extend_from_slice(pool, &data[done..done + n]);
            if got == 0 {
                break;
            }
            self.push_unit(pkt, got);
            done += got;
            if got < n {
                break;
            }
        }
        done
    }

    /// Appends to the tail unit's chain if it may still grow; returns the bytes taken.
    fn fill_tail(&mut self, data: &[u8], goal: usize, pool: &Mempool) -> usize {
        let Some(i) = self.units.len().checked_sub(1) else {
            return 0;
        };
        let unsent = i >= self.sent;
        let tail = &mut self.units[i];
        let room = goal.saturating_sub(tail.len as usize);
        if tail.fin || !unsent || room == 0 {
            return 0;
        }
        let Some(pkt) = tail.pkt.as_mut() else {
            return 0;
        };
        let segs = pkt.nb_segs();
        let got = pkt.extend_from_slice(pool, &data[..room.min(data.len())]);
        let segs_now = pkt.nb_segs();
        tail.len += got as u32;
        resize(&mut self.mbufs, segs, segs_now);
        self.bytes += got;
        self.write_seq += got as u32;
        got
    }

    /// Queues `pkt` (`len` bytes) as a new unsent unit at `write_seq`.
    fn push_unit(&mut self, pkt: Pkt, len: usize) {
        let unit = SendSeg::new(self.write_seq, Some(pkt), len as u32, false);
        self.mbufs += unit.mbufs();
        self.units.push_back(unit);
        self.write_seq += len as u32;
        self.bytes += len;
    }

    /// Hands over the application's chain without copying, as new unit(s). A chain longer than
    /// `size_goal` is cut: the pieces after the first are indirect clones (from `indirect`, a
    /// pool with no data room) of the original, which is then trimmed in place to the first
    /// piece, so the first unit keeps the original direct mbufs and their headroom. The caller
    /// gives up its reference (it must keep no `Pkt::share` handle). An empty chain is simply
    /// freed. `Err(pkt)`, with no change, after a FIN or when `indirect` runs dry.
    pub fn append_pkt(
        &mut self,
        pkt: Pkt,
        size_goal: usize,
        indirect: &Mempool,
    ) -> Result<(), Pkt> {
        let len = pkt.len();
        if self.fin_queued || size_goal == 0 || len > MAX_SIZE_GOAL << 10 {
            return Err(pkt);
        }
        if len == 0 {
            return Ok(());
        }
        let goal = size_goal.min(MAX_SIZE_GOAL);
        if len <= goal {
            self.push_unit(pkt, len);
            return Ok(());
        }
        let first = self.units.len();
        let mut off = goal;
        while off < len {
            let n = goal.min(len - off);
            let Some(piece) = pkt.clone_range(indirect, off, n) else {
                self.units.truncate(first);
                return Err(pkt);
            };
            let seq = self.write_seq + off as u32;
            self.units
                .push_back(SendSeg::new(seq, Some(piece), n as u32, false));
            off += n;
        }
        let mut pkt = pkt;
        pkt.trim_back(len - goal);
        let head = SendSeg::new(self.write_seq, Some(pkt), goal as u32, false);
        self.units.insert(first, head);
        self.mbufs += self.units.range(first..).map(SendSeg::mbufs).sum::<usize>();
        self.write_seq += len as u32;
        self.bytes += len;
        Ok(())
    }

    /// Queues the FIN: on the tail unit if it is unsent, else as a new FIN-only unit
    /// (Linux `tcp_send_fin`). Idempotent.
    pub fn push_fin(&mut self) {
        if self.fin_queued {
            return;
        }
        self.fin_queued = true;
        match self.units.len().checked_sub(1) {
            Some(i) if i >= self.sent => self.units[i].fin = true,
            _ => self
                .units
                .push_back(SendSeg::new(self.write_seq, None, 0, true)),
        }
        self.write_seq += 1;
    }

    /// The unit at `send_head` has been transmitted for the first time: stamp it and move
    /// `send_head` on. False if nothing is unsent.
    pub fn advance_send_head(&mut self, now: Instant) -> bool {
        if self.sent >= self.units.len() {
            return false;
        }
        let at = self.stamp(now);
        let u = &mut self.units[self.sent];
        u.sent_at = at;
        u.tx_count = 1;
        self.sent_bytes += u.len as usize;
        self.sent += 1;
        true
    }

    /// A transmission stamp for now, strictly after every earlier one: transmissions in one
    /// poll share `now`, and RACK (RFC 8985 §6.2 `RACK_sent_after`) must still tell a
    /// retransmission from the originals sent at the same instant. The nudge is a nanosecond
    /// per transmission.
    fn stamp(&mut self, now: Instant) -> Instant {
        let at = now.max(self.last_stamp.add_nanos(1));
        self.last_stamp = at;
        at
    }

    /// Splits unit `i` after `at` payload bytes (Linux `tso_fragment`/`tcp_fragment`). The
    /// second part is an indirect clone from `indirect`; the first keeps the original chain,
    /// trimmed. Both keep the marks, `sent_at` and `tx_count`; the FIN stays on the second.
    /// False, with no change, if `at` is not strictly inside the payload or the pool is dry.
    pub fn split(&mut self, i: usize, at: u32, indirect: &Mempool) -> bool {
        let Some(u) = self.units.get_mut(i) else {
            return false;
        };
        if at == 0 || at >= u.len {
            return false;
        }
        let Some(pkt) = u.pkt.as_mut() else {
            return false;
        };
        let (at_us, len) = (at as usize, u.len as usize);
        let Some(second) = pkt.clone_range(indirect, at_us, len - at_us) else {
            return false;
        };
        let segs = pkt.nb_segs();
        pkt.trim_back(len - at_us);
        let segs_now = pkt.nb_segs() + second.nb_segs();
        let tail = SendSeg {
            seq: u.seq + at,
            len: u.len - at,
            fin: u.fin,
            pkt: Some(second),
            flags: u.flags,
            sent_at: u.sent_at,
            tx_count: u.tx_count,
        };
        u.len = at;
        u.fin = false;
        resize(&mut self.mbufs, segs, segs_now);
        self.units.insert(i + 1, tail);
        if i < self.sent {
            self.sent += 1;
        }
        true
    }

    /// Splits the unit holding `seq` so that a unit starts exactly at `seq` (e.g. at a SACK
    /// block's edge, as [`SendQueue::sack_block`] does). Returns that unit's index;
    /// `None` if `seq` is outside the queue, falls on a FIN, or the split fails.
    pub fn split_at_seq(&mut self, seq: SeqNum, indirect: &Mempool) -> Option<usize> {
        let i = self.index_of(seq)?;
        let at = seq - self.units[i].seq;
        match at {
            0 => Some(i),
            _ if self.split(i, at, indirect) => Some(i + 1),
            _ => None,
        }
    }

    /// Processes a cumulative ACK: frees every unit below `ack` and trims a partially
    /// acknowledged head unit (Linux `tcp_clean_rtx_queue`, `tcp_trim_head`). An `ack` at or
    /// before `head_seq()` changes nothing; one beyond the sent units is clamped to
    /// [`SendQueue::sent_end`]. `now` bounds the RTT sample (a unit stamped later is ignored).
    pub fn ack(&mut self, ack: SeqNum, now: Instant) -> AckOutcome {
        if let Some(out) = self.ack_whole_head(ack, now) {
            return out;
        }
        let mut out = AckOutcome::default();
        let head = self.head_seq();
        if !ack.gt(head) {
            return out;
        }
        let target = head + (ack - head).min(self.sent_end() - head);
        while self.units.front().is_some_and(|u| u.end().le(target)) {
            let Some(u) = self.pop_front_unit() else {
                break;
            };
            out.acked_bytes += u.space();
            out.freed += 1;
            out.fin_acked |= u.fin;
            note_acked(&mut out, &u, now);
        }
        let rest = target - self.head_seq();
        if rest > 0 {
            self.trim_head(rest, now, &mut out);
        }
        out
    }

    /// The common cumulative ACK, handled without the general walk: it covers exactly the
    /// head unit, which is sent, carries no scoreboard mark and no FIN. Gives the outcome
    /// [`SendQueue::ack`] would; `None` (nothing changed) in every other case.
    fn ack_whole_head(&mut self, ack: SeqNum, now: Instant) -> Option<AckOutcome> {
        let u = self.units.front()?;
        if self.sent == 0 || u.fin || u.len == 0 || u.flags != SegFlags::empty() || u.end() != ack {
            return None;
        }
        let u = self.units.pop_front()?;
        let len = u.len as usize;
        self.bytes = self.bytes.saturating_sub(len);
        self.sent_bytes = self.sent_bytes.saturating_sub(len);
        self.mbufs = self.mbufs.saturating_sub(u.mbufs());
        self.sent -= 1;
        let mut out = AckOutcome {
            acked_bytes: u.len,
            freed: 1,
            ..AckOutcome::default()
        };
        note_acked(&mut out, &u, now);
        Some(out)
    }

    /// Removes the (sent) head unit, taking it out of every sum.
    fn pop_front_unit(&mut self) -> Option<SendSeg> {
        let u = self.units.pop_front()?;
        self.unmark(u.flags, u.space());
        self.bytes = self.bytes.saturating_sub(u.len as usize);
        self.sent_bytes = self.sent_bytes.saturating_sub(u.len as usize);
        self.mbufs = self.mbufs.saturating_sub(u.mbufs());
        self.sent = self.sent.saturating_sub(1);
        Some(u)
    }

    /// Drops the first `n` payload bytes of the head unit (`n <= len`; the FIN is not acked).
    fn trim_head(&mut self, n: u32, now: Instant, out: &mut AckOutcome) {
        let Some(u) = self.units.front_mut() else {
            return;
        };
        let n = n.min(u.len);
        let segs = u.mbufs();
        if n == u.len {
            u.pkt = None;
        } else if let Some(pkt) = u.pkt.as_mut() {
            pkt.trim_front(n as usize);
        }
        u.seq += n;
        u.len -= n;
        let (flags, segs_now) = (u.flags, u.mbufs());
        note_acked(out, &self.units[0], now);
        out.acked_bytes += n;
        self.unmark(flags, n);
        self.bytes = self.bytes.saturating_sub(n as usize);
        self.sent_bytes = self.sent_bytes.saturating_sub(n as usize);
        resize(&mut self.mbufs, segs, segs_now);
    }

    /// Takes `n` bytes of sequence space with `flags` out of the scoreboard sums.
    fn unmark(&mut self, flags: SegFlags, n: u32) {
        if flags.contains(SegFlags::LOST) {
            self.lost = self.lost.saturating_sub(n);
        }
        if flags.contains(SegFlags::SACKED) {
            self.sacked = self.sacked.saturating_sub(n);
        }
        if flags.contains(SegFlags::RETRANS) {
            self.retrans = self.retrans.saturating_sub(n);
        }
    }
}

/// Records an acknowledged (fully or partly) unit in the outcome: Karn's rule (RFC 6298 §3)
/// allows an RTT sample only from a unit never retransmitted.
fn note_acked(out: &mut AckOutcome, u: &SendSeg, now: Instant) {
    if u.tx_count == 0 {
        return;
    }
    if u.flags.contains(SegFlags::EVER_RETRANS) {
        out.any_retransmitted = true;
    } else {
        if u.sent_at <= now {
            out.rtt_sent_at = Some(u.sent_at);
        }
        out.orig_acked |= !u.flags.contains(SegFlags::SACKED);
    }
    out.newest = Some(Delivered::of(u).newest(out.newest));
}

/// Replaces `before` mbufs of a unit by `after` in the queue's count.
fn resize(count: &mut usize, before: usize, after: usize) {
    *count = (*count + after).saturating_sub(before);
}
