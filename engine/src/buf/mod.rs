//! `Pkt`, the engine's one buffer type: an owned reference to a DPDK mbuf chain
//! (ARCHITECTURE decision 1).
//!
//! Ownership rules:
//! - A `Pkt` owns one reference to the head of a chain. `Drop` frees the chain
//!   (`rte_pktmbuf_free`, which decrements each segment's refcount).
//! - A `Pkt` also owns the *metadata* of every mbuf header in its chain exclusively: `data_off`,
//!   `data_len`, `pkt_len`, `nb_segs`, `next`, `ol_flags`, `tx_offload`. No other `Pkt`, and
//!   nothing on another thread, reads or writes those fields while it lives. This is what makes
//!   the `&mut self` methods ([`Pkt::trim_front`], [`Pkt::set_ol_flags`], ...) and `Send`
//!   sound. `Pkt` is therefore not `Clone`.
//! - [`Pkt::share`] adds a reference to every segment of the *same* mbufs, so both handles see
//!   the same metadata; it is `unsafe`, and its caller promises that neither handle's metadata
//!   is changed while both live (tests use it to look at a frame after handing it over).
//! - [`Pkt::clone_range`] (and [`Pkt::clone_into_headroom`]) makes a new chain of *indirect*
//!   mbufs that point into this chain's data: metadata is private to the clone, the data is
//!   shared and read-only. This is how a queued TCP segment is transmitted without leaving the
//!   send queue (decision 5). It raises the refcount of the *direct* mbufs it points into, so a
//!   refcount above 1 means "someone else reads these bytes", never "someone else owns this
//!   header": trimming and setting offload fields stay allowed whatever the refcount.
//! - Mutating the bytes ([`Pkt::data_mut`], [`Pkt::prepend`], [`Pkt::append`]) is allowed only
//!   on a direct, non-external mbuf with refcount 1 ([`Pkt::is_exclusive`]); otherwise the call
//!   returns `None`. The `unsafe` variants ([`Pkt::prepend_shared`], [`Pkt::head_mut`]) move
//!   that check to their caller.
//! - Handing a frame over moves the reference and the metadata with it: [`Pkt::into_raw`] gives
//!   both up, [`Pkt::from_raw`] takes both, a device's transmit takes the `Pkt` (a PMD frees or
//!   keeps the mbuf; net_ring hands the very same mbuf to the receiving port, which is sound
//!   because the sender kept no handle to its header), and a DPDK receive produces `Pkt`s
//!   whose mbufs the PMD handed over with one reference each.
//!
//! Why `Send` is sound: a `Pkt` moved to another thread takes its exclusive metadata with it.
//! What other threads may still touch is (a) refcounts, which DPDK updates atomically (or
//! non-atomically only when it holds the sole reference), and (b) data bytes shared with
//! indirect clones, which nobody writes while shared (writes need refcount 1 or an `unsafe`
//! contract). `Pkt` is not `Sync`.
//!
//! Offloads: [`Pkt::rx_csum`] reads the port's receive checksum verdicts and
//! [`Pkt::request_tx_offload`] turns a [`TxRequest`] into `ol_flags` and `tx_offload`; only
//! this module translates between offload wishes and mbuf flags (`offload.rs`).
//!
//! Invariant: `len()` (pkt_len of the head) is the sum of the segments' `data_len`, and
//! `nb_segs` counts them; every method here keeps it.

mod cache;
mod offload;
mod pool;

pub use cache::forget_lcore;
pub use offload::{CsumVerdict, L4, RxCsum, TxRequest, TxRequestError};
pub use pool::{DEFAULT_DATA_ROOM, HDR_DATA_ROOM, HEADROOM, Mempool, PoolError, PoolSizes, Pools};

use std::fmt;
use std::ptr::{self, NonNull};

use dpdk_sys::rte_mbuf;

/// Offload metadata for a frame handed to a port (`rte_mbuf::tx_offload` and `ol_flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxOffload {
    pub l2_len: u8,
    pub l3_len: u16,
    pub l4_len: u8,
    /// Segment size for TSO (`RTE_MBUF_F_TX_TCP_SEG`); 0 when not segmenting.
    pub tso_segsz: u16,
}

impl TxOffload {
    /// The packed `tx_offload` word (same layout as `rte_mbuf_tx_offload`).
    fn packed(&self) -> u64 {
        u64::from(self.l2_len)
            | u64::from(self.l3_len) << 7
            | u64::from(self.l4_len) << 16
            | u64::from(self.tso_segsz) << 24
    }
}

/// An owned reference to a DPDK mbuf chain, with exclusive ownership of its mbuf headers'
/// metadata. See the module documentation for the rules.
///
/// `Pkt` is not `Clone`: a copy of the handle would share `data_off`, the lengths and the
/// offload fields, and a `&mut` method on one would change what the other (possibly on
/// another thread) sees. Take an indirect clone ([`Pkt::clone_range`]) or a copy
/// ([`Pkt::deep_copy`]) instead; [`Pkt::share`] is the `unsafe` escape hatch.
///
/// ```compile_fail,E0277
/// fn assert_clone<T: Clone>() {}
/// assert_clone::<engine::buf::Pkt>(); // error: `Pkt` is not `Clone`
/// ```
///
/// ```compile_fail,E0133
/// fn second_handle(p: &engine::buf::Pkt) -> engine::buf::Pkt {
///     p.share() // error: `share` is an unsafe fn
/// }
/// ```
#[repr(transparent)]
pub struct Pkt(NonNull<rte_mbuf>);

// SAFETY: a Pkt owns its reference and, exclusively, the metadata of its chain's headers (see
// the module documentation), so moving it moves everything only it may touch. What other
// threads may still reach (refcounts, read-only shared data bytes) is synchronised by DPDK's
// atomic refcounting; mbufs may be freed from any thread (mempools are thread-safe).
unsafe impl Send for Pkt {}

impl Drop for Pkt {
    fn drop(&mut self) {
        // SAFETY: we own one reference to a valid chain; free drops it segment by segment.
        unsafe { cache::free(self.0.as_ptr()) }
    }
}

impl fmt::Debug for Pkt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Pkt(len {}, segs {}, refcnt {}{})",
            self.len(),
            self.nb_segs(),
            self.refcnt(),
            if self.is_indirect() { ", indirect" } else { "" }
        )
    }
}

/// A segment's reference count, read as `rte_mbuf_refcnt_read` does (a relaxed atomic load),
/// without a call into the shim.
///
/// # Safety
/// `m` must be a live mbuf.
unsafe fn refcnt_of(m: *const rte_mbuf) -> u16 {
    // SAFETY: refcnt is an aligned u16 of a live mbuf that DPDK updates atomically.
    unsafe {
        std::sync::atomic::AtomicU16::from_ptr(ptr::addr_of!((*m).refcnt) as *mut u16)
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Bytes free after a segment's data (`rte_pktmbuf_tailroom`).
///
/// # Safety
/// `m` must be a live mbuf.
unsafe fn tailroom_of(m: *const rte_mbuf) -> usize {
    // SAFETY: plain field reads of a live mbuf.
    unsafe {
        usize::from((*m).buf_len)
            .saturating_sub(usize::from((*m).data_off) + usize::from((*m).data_len))
    }
}

/// One segment's `data` slice.
fn seg_data<'a>(m: *const rte_mbuf) -> &'a [u8] {
    // SAFETY: m is a live segment of a chain the caller borrows; buf_addr + data_off points at
    // data_len initialised bytes inside the segment's buffer.
    unsafe {
        let p = ((*m).buf_addr as *const u8).add(usize::from((*m).data_off));
        std::slice::from_raw_parts(p, usize::from((*m).data_len))
    }
}

impl Pkt {
    /// Takes ownership of one reference to `m`, and of its headers' metadata. `None` if `m` is
    /// null.
    ///
    /// # Safety
    /// `m` must be a valid mbuf chain head whose reference the caller gives up, and nothing
    /// else may read or write the metadata of the chain's mbuf headers while the `Pkt` lives
    /// (true of an mbuf fresh from a pool, from a PMD's receive, or from [`Pkt::into_raw`]).
    pub unsafe fn from_raw(m: *mut rte_mbuf) -> Option<Pkt> {
        NonNull::new(m).map(Pkt)
    }

    /// Gives up ownership of the reference and the metadata; the caller must free the mbuf or
    /// hand it to DPDK.
    pub fn into_raw(self) -> *mut rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    /// The head mbuf, for DPDK calls that borrow it. Writing its metadata through this pointer
    /// needs a `&mut Pkt` as well (the borrow that makes the write exclusive).
    pub fn as_ptr(&self) -> *mut rte_mbuf {
        self.0.as_ptr()
    }

    fn m(&self) -> &rte_mbuf {
        // SAFETY: we hold a reference, so the head mbuf is live.
        unsafe { self.0.as_ref() }
    }

    fn m_mut(&mut self) -> &mut rte_mbuf {
        // SAFETY: we hold a reference, and a Pkt owns its headers' metadata exclusively (module
        // documentation; `share` makes its callers promise not to break that), so `&mut self`
        // makes this the only access to the head's metadata.
        unsafe { self.0.as_mut() }
    }

    /// Allocates one empty mbuf (data_off at the default headroom). `None` if the pool is empty.
    #[inline]
    pub fn alloc(pool: &Mempool) -> Option<Pkt> {
        // SAFETY: the pool is valid for the process lifetime; the result is a fresh mbuf or null.
        unsafe { Pkt::from_raw(cache::alloc(pool.as_ptr())) }
    }

    /// Allocates an mbuf holding a copy of `data` (a chain if it exceeds one mbuf).
    pub fn from_slice(pool: &Mempool, data: &[u8]) -> Option<Pkt> {
        let mut p = Pkt::alloc(pool)?;
        (p.extend_from_slice(pool, data) == data.len()).then_some(p)
    }

    /// Total length of the chain (`pkt_len`).
    pub fn len(&self) -> usize {
        self.m().pkt_len as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of segments in the chain.
    pub fn nb_segs(&self) -> usize {
        usize::from(self.m().nb_segs)
    }

    /// Reference count of the head segment.
    pub fn refcnt(&self) -> u16 {
        // SAFETY: the head is live.
        unsafe { refcnt_of(self.as_ptr()) }
    }

    /// Highest reference count over the chain's segments and, for indirect segments, the
    /// direct mbufs they point into. Greater than 1 means someone else (a TX ring, a peer on
    /// net_ring, another clone) still holds the data.
    pub fn max_data_refcnt(&self) -> u16 {
        let mut max = 0;
        let mut m = self.as_ptr();
        while !m.is_null() {
            // SAFETY: m walks the live chain; an indirect segment's direct mbuf is kept alive by
            // the indirect reference.
            unsafe {
                let direct = if (*m).ol_flags & dpdk_sys::RTE_MBUF_F_INDIRECT != 0 {
                    dpdk_sys::shim_rte_mbuf_from_indirect(m)
                } else {
                    m
                };
                max = max.max(refcnt_of(direct));
                m = (*m).next;
            }
        }
        max
    }

    /// True when the head is an indirect mbuf (its data belongs to another mbuf).
    pub fn is_indirect(&self) -> bool {
        self.m().ol_flags & dpdk_sys::RTE_MBUF_F_INDIRECT != 0
    }

    /// True when the head's bytes may be written: a direct, non-external mbuf with refcount 1.
    pub fn is_exclusive(&self) -> bool {
        let ext = dpdk_sys::RTE_MBUF_F_INDIRECT | dpdk_sys::RTE_MBUF_F_EXTERNAL;
        self.m().ol_flags & ext == 0 && self.refcnt() == 1
    }

    /// The first segment's data.
    pub fn data(&self) -> &[u8] {
        seg_data(self.as_ptr())
    }

    /// The first segment's data, writable; `None` unless [`Pkt::is_exclusive`].
    pub fn data_mut(&mut self) -> Option<&mut [u8]> {
        if !self.is_exclusive() {
            return None;
        }
        let m = self.m();
        // SAFETY: exclusive direct mbuf: nobody else reads these bytes; bounds from data_len.
        unsafe {
            let p = (m.buf_addr as *mut u8).add(usize::from(m.data_off));
            Some(std::slice::from_raw_parts_mut(p, usize::from(m.data_len)))
        }
    }

    /// Iterates over the data of every segment, in order.
    pub fn segments(&self) -> Segments<'_> {
        Segments {
            m: self.as_ptr(),
            _pkt: std::marker::PhantomData,
        }
    }

    /// Copies `dst.len()` bytes starting at `offset` of the chain into `dst`.
    /// Returns the number copied (less than `dst.len()` at the end of the chain).
    #[inline]
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) -> usize {
        // One segment holding the whole range: one copy.
        let first = self.data();
        if self.m().next.is_null() && offset <= first.len() && dst.len() <= first.len() - offset {
            dst.copy_from_slice(&first[offset..offset + dst.len()]);
            return dst.len();
        }
        self.copy_out_chain(offset, dst)
    }

    /// [`Pkt::copy_out`] across segments.
    fn copy_out_chain(&self, offset: usize, dst: &mut [u8]) -> usize {
        let mut skip = offset;
        let mut done = 0;
        for seg in self.segments() {
            if done == dst.len() {
                break;
            }
            if skip >= seg.len() {
                skip -= seg.len();
                continue;
            }
            let n = (seg.len() - skip).min(dst.len() - done);
            dst[done..done + n].copy_from_slice(&seg[skip..skip + n]);
            done += n;
            skip = 0;
        }
        done
    }

    /// Bytes free in front of the first segment's data.
    pub fn headroom(&self) -> usize {
        usize::from(self.m().data_off)
    }

    /// Bytes free after the last segment's data.
    pub fn tailroom(&self) -> usize {
        // SAFETY: the last segment of a live chain.
        unsafe { tailroom_of(self.last_seg()) }
    }

    fn last_seg(&self) -> *mut rte_mbuf {
        let mut m = self.as_ptr();
        // SAFETY: walks the live chain to its end.
        unsafe {
            while !(*m).next.is_null() {
                m = (*m).next;
            }
        }
        m
    }

    /// Grows the data `n` bytes into the headroom and returns the new front bytes.
    /// `None` if the headroom is too small or the head is not exclusive.
    pub fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        if !self.is_exclusive() || n > self.headroom() {
            return None;
        }
        let n16 = u16::try_from(n).ok()?;
        // SAFETY: exclusive head with enough headroom; prepend returns the new data start.
        let p = unsafe { dpdk_sys::shim_rte_pktmbuf_prepend(self.as_ptr(), n16) };
        // SAFETY: p points at n writable bytes of this exclusive buffer.
        (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts_mut(p as *mut u8, n) })
    }

    /// Like [`Pkt::prepend`] but for a head whose *metadata* is private while its buffer is
    /// shared (refcount > 1), as in the header-in-headroom transmit (decision 5a).
    ///
    /// # Safety
    /// No other holder may read or write the `n` bytes in front of the current data while the
    /// returned slice or the prepended frame is alive (the PMD must copy on transmit).
    pub unsafe fn prepend_shared(&mut self, n: usize) -> Option<&mut [u8]> {
        if self.is_indirect() || n > self.headroom() {
            return None;
        }
        let n16 = u16::try_from(n).ok()?;
        // SAFETY: headroom checked; the caller guarantees nobody else uses those bytes.
        let p = unsafe { dpdk_sys::shim_rte_pktmbuf_prepend(self.as_ptr(), n16) };
        // SAFETY: as above.
        (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts_mut(p as *mut u8, n) })
    }

    /// Grows the last segment by `n` bytes of tailroom and returns them for writing.
    /// `None` if the tailroom is too small or the last segment is not writable.
    #[inline(always)]
    pub fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        let last = self.last_seg();
        // SAFETY: last is a live segment of our chain; when it is direct with refcount 1 its
        // tailroom is ours. The lengths are updated as `rte_pktmbuf_append` does (the last
        // segment's data_len, the head's pkt_len); n <= tailroom < 2^16.
        unsafe {
            let writable =
                (*last).ol_flags & dpdk_sys::RTE_MBUF_F_INDIRECT == 0 && refcnt_of(last) == 1;
            if !writable || n > tailroom_of(last) {
                return None;
            }
            let p = ((*last).buf_addr as *mut u8)
                .add(usize::from((*last).data_off) + usize::from((*last).data_len));
            (*last).data_len += n as u16;
            (*self.0.as_ptr()).pkt_len += n as u32;
            Some(std::slice::from_raw_parts_mut(p, n))
        }
    }

    /// Appends a copy of `data`, filling the last segment's tailroom and then chaining new
    /// mbufs from `pool`. Returns the bytes appended (fewer if the pool runs dry).
    #[inline]
    pub fn extend_from_slice(&mut self, pool: &Mempool, data: &[u8]) -> usize {
        // One segment with room for all of it (a small write into a fresh mbuf): one copy.
        if self.m().next.is_null()
            && let Some(dst) = self.append(data.len())
        {
            dst.copy_from_slice(data);
            return data.len();
        }
        self.extend_chain(pool, data)
    }

    /// [`Pkt::extend_from_slice`] through the tailroom of the last segment and new segments.
    fn extend_chain(&mut self, pool: &Mempool, data: &[u8]) -> usize {
        let mut done = 0;
        while done < data.len() {
            let room = self
                .tailroom()
                .min(data.len() - done)
                .min(u16::MAX as usize);
            if room > 0
                && let Some(dst) = self.append(room)
            {
                dst.copy_from_slice(&data[done..done + room]);
                done += room;
                continue;
            }
            let Some(seg) = Pkt::alloc(pool) else { break };
            if self.chain(seg).is_err() {
                break;
            }
        }
        done
    }

    /// Removes `n` bytes from the front of the chain, freeing segments that become empty.
    /// Returns false (and changes nothing) if `n > len()`.
    #[inline]
    pub fn trim_front(&mut self, n: usize) -> bool {
        // Within the head segment (always, for headers): move its data start, as
        // `rte_pktmbuf_adj` does.
        let m = self.m_mut();
        if n < usize::from(m.data_len) {
            m.data_off += n as u16;
            m.data_len -= n as u16;
            m.pkt_len -= n as u32;
            return true;
        }
        self.trim_front_segments(n)
    }

    /// [`Pkt::trim_front`] when the cut reaches past the head segment.
    fn trim_front_segments(&mut self, mut n: usize) -> bool {
        if n == 0 {
            return true;
        }
        if n > self.len() {
            return false;
        }
        while n > 0 {
            let head_len = usize::from(self.m().data_len);
            if n < head_len || self.m().next.is_null() {
                // n < head_len <= u16::MAX, or n == len of the last segment (n <= len()):
                // move the head's data start as `rte_pktmbuf_adj` does.
                let n16 = n as u16;
                let m = self.m_mut();
                m.data_off += n16;
                m.data_len -= n16;
                m.pkt_len -= u32::from(n16);
                break;
            }
            n -= head_len;
            self.drop_head_segment();
        }
        true
    }

    /// Unlinks and frees the head segment; the next one becomes the head.
    fn drop_head_segment(&mut self) {
        let head = self.as_ptr();
        // SAFETY: head has a successor (checked by the caller); we move the chain's totals to
        // it, detach the old head and free that single segment.
        unsafe {
            let next = (*head).next;
            (*next).pkt_len = (*head).pkt_len - u32::from((*head).data_len);
            (*next).nb_segs = (*head).nb_segs - 1;
            (*head).next = ptr::null_mut();
            (*head).nb_segs = 1;
            (*head).pkt_len = u32::from((*head).data_len);
            self.0 = NonNull::new_unchecked(next);
            cache::free(head);
        }
    }

    /// Removes `n` bytes from the end of the chain, freeing segments that become empty.
    /// Returns false (and changes nothing) if `n > len()`.
    pub fn trim_back(&mut self, n: usize) -> bool {
        if n == 0 {
            return true;
        }
        if n > self.len() {
            return false;
        }
        let keep = self.len() - n;
        let mut acc = 0usize;
        let mut m = self.as_ptr();
        let mut segs = 0u16;
        // SAFETY: walk the live chain; cut after the segment holding byte `keep`, shorten it,
        // free the rest as one chain, then fix the head's totals.
        unsafe {
            loop {
                segs += 1;
                let dl = usize::from((*m).data_len);
                if acc + dl >= keep || (*m).next.is_null() {
                    (*m).data_len = (keep - acc) as u16;
                    let rest = (*m).next;
                    (*m).next = ptr::null_mut();
                    if !rest.is_null() {
                        let mut r = rest;
                        let mut cnt = 0u16;
                        let mut total = 0u32;
                        while !r.is_null() {
                            cnt += 1;
                            total += u32::from((*r).data_len);
                            r = (*r).next;
                        }
                        (*rest).nb_segs = cnt;
                        (*rest).pkt_len = total;
                        cache::free(rest);
                    }
                    break;
                }
                acc += dl;
                m = (*m).next;
            }
            let head = self.0.as_ptr();
            (*head).pkt_len = keep as u32;
            (*head).nb_segs = segs;
        }
        true
    }

    /// Appends `tail`'s chain to this one. Gives `tail` back if the chain would exceed DPDK's
    /// segment limit.
    pub fn chain(&mut self, tail: Pkt) -> Result<(), Pkt> {
        // SAFETY: both are live chains we own; on success DPDK links tail's head after our last
        // segment and the reference moves into our chain.
        let rc = unsafe { dpdk_sys::shim_rte_pktmbuf_chain(self.as_ptr(), tail.as_ptr()) };
        if rc == 0 {
            std::mem::forget(tail);
            Ok(())
        } else {
            Err(tail)
        }
    }

    /// Another reference to the same mbufs (refcount of every segment + 1). Metadata is
    /// *shared*: both handles see the same `data_off`, lengths, chain links and offload fields.
    ///
    /// # Safety
    /// While both handles live, neither's metadata may be changed: no `&mut self` method that
    /// writes metadata ([`Pkt::trim_front`], [`Pkt::trim_back`], [`Pkt::append`],
    /// [`Pkt::prepend`], [`Pkt::chain`], [`Pkt::extend_from_slice`], [`Pkt::linearize`],
    /// [`Pkt::set_ol_flags`], [`Pkt::set_tx_offload`], [`Pkt::request_tx_offload`]) on either,
    /// and neither may be handed to something that does (a receiving stack on net_ring, which
    /// gets the very same mbuf, trims it). Reading both, from one thread, and dropping them in
    /// any order is fine.
    pub unsafe fn share(&self) -> Pkt {
        let mut m = self.as_ptr();
        // SAFETY: bump each live segment; the new handle owns those references (the caller
        // guarantees the shared metadata is left alone).
        unsafe {
            while !m.is_null() {
                dpdk_sys::shim_rte_mbuf_refcnt_update(m, 1);
                m = (*m).next;
            }
        }
        Pkt(self.0)
    }

    /// A new chain of indirect mbufs (from `indirect`, a pool with no data room) covering bytes
    /// `offset .. offset + len` of this chain, without copying data. Only segments that overlap
    /// the range are referenced. `None` if the range is out of bounds, empty, or the pool runs
    /// dry.
    pub fn clone_range(&self, indirect: &Mempool, offset: usize, len: usize) -> Option<Pkt> {
        if len == 0 || offset.checked_add(len)? > self.len() {
            return None;
        }
        let mut out: Option<Pkt> = None;
        let (mut pos, end) = (0usize, offset + len);
        let mut m = self.as_ptr();
        while !m.is_null() && pos < end {
            // SAFETY: m is a live segment of our chain.
            let (dl, next) = unsafe { (usize::from((*m).data_len), (*m).next) };
            let (s, e) = (pos.max(offset), (pos + dl).min(end));
            if s < e {
                let piece = attach_piece(indirect, m, s - pos, e - s)?;
                match out.as_mut() {
                    None => out = Some(piece),
                    Some(head) => head.chain(piece).ok()?,
                }
            }
            pos += dl;
            m = next;
        }
        out
    }

    /// A clone of the whole chain (indirect mbufs, as [`Pkt::clone_range`]) whose head is
    /// widened `hdr_len` bytes into the *original's* headroom, so headers can be written there
    /// without a header mbuf (ARCHITECTURE decision 5a, Linux's skb_clone + header push). Write
    /// them with [`Pkt::head_mut`]. `None` if this head is indirect or its headroom too small.
    ///
    /// # Safety
    /// Nothing else may use the headroom of this chain's first segment while the clone lives:
    /// this head must be direct with refcount 1 (no other clone in flight), and the clone must
    /// go to a device that copies frames on transmit (`DeviceCaps::tx_copies`).
    pub unsafe fn clone_into_headroom(&self, indirect: &Mempool, hdr_len: usize) -> Option<Pkt> {
        if self.is_indirect() || self.headroom() < hdr_len || self.is_empty() {
            return None;
        }
        let c = self.clone_range(indirect, 0, self.len())?;
        let m = c.as_ptr();
        // SAFETY: c is a fresh indirect chain whose metadata is ours; its data_off equals this
        // head's (attach copies it), which is >= hdr_len, so the widened view stays inside the
        // shared buffer, in bytes the caller guarantees nobody else uses.
        unsafe {
            (*m).data_off -= hdr_len as u16;
            (*m).data_len += hdr_len as u16;
            (*m).pkt_len += hdr_len as u32;
        }
        Some(c)
    }

    /// The first segment's bytes, writable even if the head is indirect.
    ///
    /// # Safety
    /// The caller must be the only user of these bytes (a frame made by
    /// [`Pkt::clone_into_headroom`], whose header bytes only it uses).
    pub unsafe fn head_mut(&mut self) -> &mut [u8] {
        let m = self.m();
        // SAFETY: bounds from data_len; exclusivity is the caller's guarantee.
        unsafe {
            let p = (m.buf_addr as *mut u8).add(usize::from(m.data_off));
            std::slice::from_raw_parts_mut(p, usize::from(m.data_len))
        }
    }

    /// A deep copy of the whole chain into mbufs from `pool`.
    pub fn deep_copy(&self, pool: &Mempool) -> Option<Pkt> {
        let mut out = Pkt::alloc(pool)?;
        for seg in self.segments() {
            if out.extend_from_slice(pool, seg) != seg.len() {
                return None;
            }
        }
        Some(out)
    }

    /// Copies the chain into one contiguous segment if it is chained and fits one mbuf.
    /// Returns false if it does not fit or the head is not exclusive.
    pub fn linearize(&mut self) -> bool {
        if self.nb_segs() == 1 {
            return true;
        }
        if !self.is_exclusive() {
            return false;
        }
        // SAFETY: exclusive chain head; DPDK copies the tail into the head and frees the tail.
        unsafe { dpdk_sys::shim_rte_pktmbuf_linearize(self.as_ptr()) == 0 }
    }

    /// Offload flags (`ol_flags`) of the head.
    pub fn ol_flags(&self) -> u64 {
        self.m().ol_flags
    }

    /// Sets the offload flags, keeping the `INDIRECT`/`EXTERNAL` bits that DPDK owns.
    pub fn set_ol_flags(&mut self, flags: u64) {
        let keep = dpdk_sys::RTE_MBUF_F_INDIRECT | dpdk_sys::RTE_MBUF_F_EXTERNAL;
        let m = self.m_mut();
        m.ol_flags = (m.ol_flags & keep) | (flags & !keep);
    }

    /// Sets the head's `tx_offload` lengths (for checksum offload and TSO).
    pub fn set_tx_offload(&mut self, o: TxOffload) {
        self.m_mut().__bindgen_anon_3.tx_offload = o.packed();
    }

    /// The head's `tx_offload` lengths.
    pub fn tx_offload(&self) -> TxOffload {
        // SAFETY: tx_offload is the plain u64 view of the union.
        let v = unsafe { self.m().__bindgen_anon_3.tx_offload };
        TxOffload {
            l2_len: (v & 0x7f) as u8,
            l3_len: ((v >> 7) & 0x1ff) as u16,
            l4_len: ((v >> 16) & 0xff) as u8,
            tso_segsz: ((v >> 24) & 0xffff) as u16,
        }
    }

    /// The packet type DPDK's PMD reported on receive (`RTE_PTYPE_*`).
    pub fn packet_type(&self) -> u32 {
        // SAFETY: packet_type is the plain u32 view of the union.
        unsafe { self.m().__bindgen_anon_1.packet_type }
    }

    /// The RSS hash the NIC computed (valid if `RTE_MBUF_F_RX_RSS_HASH` is set).
    pub fn rss_hash(&self) -> u32 {
        // SAFETY: rss is the plain u32 view of the hash union.
        unsafe { self.m().__bindgen_anon_2.hash.rss }
    }

    /// Starts loading the head mbuf's first cache line (the metadata the receive path reads)
    /// into this core's cache. A hint for a burst just received, whose mbufs another core
    /// (the peer stack on net_ring, or a NIC) wrote: issued for every frame of the burst
    /// first, the misses overlap instead of coming one after another. No effect on behaviour.
    #[inline]
    pub fn prefetch_meta(&self) {
        prefetch(self.as_ptr().cast());
    }

    /// Starts loading the cache lines of the first [`PREFETCH_DATA`] bytes of the head
    /// segment's data (the headers, and a small payload). Reads the metadata, so call it after
    /// [`Pkt::prefetch_meta`] of the whole burst. No effect on behaviour.
    #[inline]
    pub fn prefetch_data(&self) {
        let d = seg_data(self.as_ptr());
        let start = d.as_ptr() as usize;
        let end = start + d.len().min(PREFETCH_DATA);
        let mut line = start & !(CACHE_LINE - 1);
        while line < end {
            prefetch(line as *const u8);
            line += CACHE_LINE;
        }
    }
}

/// Bytes of a received frame's data that [`Pkt::prefetch_data`] asks for: Ethernet, IPv4 and
/// TCP headers with timestamps (66 bytes) and a small request.
pub const PREFETCH_DATA: usize = 192;

/// The cache line size of the CPUs the engine runs on (x86_64).
const CACHE_LINE: usize = 64;

/// A prefetch hint for the cache line holding `p`.
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it never faults and has no architectural effect,
    // whatever the address; SSE is part of the x86_64 baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// An indirect mbuf attached to segment `m`, narrowed to `len` bytes from `off`.
fn attach_piece(indirect: &Mempool, m: *mut rte_mbuf, off: usize, len: usize) -> Option<Pkt> {
    let mut mi = Pkt::alloc(indirect)?;
    // SAFETY: mi is a fresh exclusive mbuf with no data; m is a live segment that attach
    // references (bumping the direct mbuf's refcount). Afterwards mi's metadata is private, so
    // narrowing data_off/data_len is local; ol_flags copied from m are reset but INDIRECT kept.
    unsafe {
        let raw = mi.as_ptr();
        dpdk_sys::shim_rte_pktmbuf_attach(raw, m);
        (*raw).data_off += off as u16;
        (*raw).data_len = len as u16;
        (*raw).pkt_len = len as u32;
        (*raw).next = ptr::null_mut();
        (*raw).nb_segs = 1;
    }
    mi.set_ol_flags(0);
    Some(mi)
}

/// Iterator over a chain's segment data, from [`Pkt::segments`].
pub struct Segments<'a> {
    m: *const rte_mbuf,
    _pkt: std::marker::PhantomData<&'a Pkt>,
}

impl<'a> Iterator for Segments<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.m.is_null() {
            return None;
        }
        let d = seg_data(self.m);
        // SAFETY: the chain is borrowed for 'a, so next is live or null.
        self.m = unsafe { (*self.m).next };
        Some(d)
    }
}
