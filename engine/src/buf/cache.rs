//! Inline mbuf allocation and freeing through the calling thread's mempool cache, without a
//! call into the C shim for the common case.
//!
//! DPDK's `rte_pktmbuf_alloc` and `rte_pktmbuf_free` are static inlines that the engine can
//! only reach through out-of-line copies in `shim.c`. Their common case is short: take an
//! mbuf from, or put one back into, the per-lcore cache of its pool (`rte_mempool_cache`),
//! and reset a few fields on allocation. This module does exactly that case in Rust and hands
//! every other case to the shim, which then does what it always did:
//! - allocation when the thread has no cache (not an lcore, or a pool without caches) or the
//!   cache is empty (the shim refills it from the pool's ring);
//! - freeing a chain, an indirect or external-buffer mbuf, an mbuf whose refcount is not 1,
//!   or one whose cache is full (the shim flushes it to the ring).
//!
//! Invariants:
//! - The fast paths are the code of DPDK 22.11's `rte_mempool_do_generic_get/put` (one
//!   object) and `rte_pktmbuf_reset` / `rte_pktmbuf_prefree_seg` (a direct, single-segment
//!   mbuf with refcount 1). DPDK built with mempool statistics or debug cookies would need
//!   more; `shim.c` refuses to compile against such a build.
//! - A cache belongs to one lcore and is used by its thread alone. The lcore id is read once
//!   per thread from DPDK and kept in a thread-local; [`forget_lcore`] must be called after
//!   anything that changes the thread's lcore id (`eal::register_thread` does). The engine
//!   never unregisters a thread, so a kept id never becomes another thread's.

use std::cell::Cell;

use dpdk_sys::{rte_mbuf, rte_mempool, rte_mempool_cache};

/// Not read from DPDK yet on this thread.
const UNKNOWN: u32 = u32::MAX - 1;

thread_local! {
    /// This thread's lcore id (`rte_lcore_id()`), `LCORE_ID_ANY` if it has none.
    static LCORE: Cell<u32> = const { Cell::new(UNKNOWN) };
}

/// `RTE_MBUF_PORT_INVALID`.
const PORT_INVALID: u16 = u16::MAX;

/// Makes the next allocation or free on this thread read its lcore id from DPDK again.
pub fn forget_lcore() {
    LCORE.with(|l| l.set(UNKNOWN));
}

/// This thread's lcore id, `u32::MAX` (`LCORE_ID_ANY`) if it is not an lcore.
#[inline]
fn lcore_id() -> u32 {
    LCORE.with(|l| {
        let id = l.get();
        if id != UNKNOWN {
            return id;
        }
        // SAFETY: reads DPDK's thread-local lcore id; no preconditions.
        let id = unsafe { dpdk_sys::shim_rte_lcore_id() };
        l.set(id);
        id
    })
}

/// The calling lcore's cache of `mp` (`rte_mempool_default_cache`), if it has one.
///
/// # Safety
/// `mp` must be a live mempool.
#[inline]
unsafe fn cache_of(mp: *mut rte_mempool) -> Option<*mut rte_mempool_cache> {
    // SAFETY: mp is live; local_cache has RTE_MAX_LCORE entries when cache_size > 0.
    unsafe {
        if (*mp).cache_size == 0 {
            return None;
        }
        let id = lcore_id();
        if id >= dpdk_sys::RTE_MAX_LCORE {
            return None;
        }
        Some((*mp).local_cache.add(id as usize))
    }
}

/// `rte_pktmbuf_alloc(mp)`: an empty mbuf with the default headroom, or null.
///
/// # Safety
/// `mp` must be a live packet-mbuf pool.
#[inline]
pub unsafe fn alloc(mp: *mut rte_mempool) -> *mut rte_mbuf {
    // SAFETY: mp is live. The cache is this lcore's, used by this thread only; its first
    // `len` entries are free mbufs of mp (DPDK's invariant), so the popped one is ours and
    // resetting its fields is what `rte_pktmbuf_reset` does to a freshly allocated mbuf.
    unsafe {
        if let Some(c) = cache_of(mp)
            && (*c).len > 0
        {
            let len = (*c).len - 1;
            (*c).len = len;
            let m = (*c).objs[len as usize] as *mut rte_mbuf;
            reset(m);
            return m;
        }
        dpdk_sys::shim_rte_pktmbuf_alloc(mp)
    }
}

/// `rte_pktmbuf_reset` of a freshly allocated mbuf, writing only the first cache line when
/// the second already holds the reset values.
///
/// An mbuf in a pool has `next` null (DPDK's invariant for free mbufs, which
/// `rte_pktmbuf_prefree_seg` and [`try_put`] keep), so it is not written again; nor is
/// `tx_offload` when it is already zero. The second line (`next`, `tx_offload`) is then only
/// read: after an mbuf crossed to another core and came back, that line stays shared
/// between both caches instead of moving with every allocation.
///
/// # Safety
/// `m` must be a free mbuf of its pool that this thread now owns alone.
#[inline]
unsafe fn reset(m: *mut rte_mbuf) {
    // SAFETY: exclusive mbuf: plain field reads and writes.
    unsafe {
        debug_assert!((*m).next.is_null());
        (*m).pkt_len = 0;
        if (*m).__bindgen_anon_3.tx_offload != 0 {
            (*m).__bindgen_anon_3.tx_offload = 0;
        }
        (*m).vlan_tci = 0;
        (*m).vlan_tci_outer = 0;
        (*m).nb_segs = 1;
        (*m).port = PORT_INVALID;
        (*m).ol_flags &= dpdk_sys::RTE_MBUF_F_EXTERNAL;
        (*m).__bindgen_anon_1.packet_type = 0;
        (*m).data_off = (super::HEADROOM as u16).min((*m).buf_len);
        (*m).data_len = 0;
    }
}

/// `rte_pktmbuf_free(m)`: drops one reference to the chain at `m`.
///
/// # Safety
/// The caller gives up one reference to the live chain `m`.
#[inline]
pub unsafe fn free(m: *mut rte_mbuf) {
    // SAFETY: m is live and one reference is ours to give up.
    unsafe {
        if !try_put(m) {
            dpdk_sys::shim_rte_pktmbuf_free(m);
        }
    }
}

/// Puts `m` back into this lcore's cache when it is the last reference to a direct,
/// single-segment mbuf and the cache has room. False, with nothing done, otherwise.
///
/// # Safety
/// As [`free`].
#[inline]
unsafe fn try_put(m: *mut rte_mbuf) -> bool {
    let not_direct = dpdk_sys::RTE_MBUF_F_INDIRECT | dpdk_sys::RTE_MBUF_F_EXTERNAL;
    // SAFETY: m is live. With refcount 1 the reference is the last one, so nobody else
    // reads the mbuf: `rte_pktmbuf_prefree_seg` leaves such an mbuf as it is (refcount 1,
    // next null, nb_segs 1), and `rte_mempool_do_generic_put` appends it to the cache when
    // `len + 1 <= flushthresh` (which is below the cache's capacity). The cache is this
    // lcore's, used by this thread only.
    unsafe {
        if (*m).ol_flags & not_direct != 0 || !(*m).next.is_null() || super::refcnt_of(m) != 1 {
            return false;
        }
        let Some(c) = cache_of((*m).pool) else {
            return false;
        };
        let len = (*c).len;
        if len >= (*c).flushthresh {
            return false;
        }
        if (*m).nb_segs != 1 {
            (*m).nb_segs = 1;
        }
        (*c).objs[len as usize] = m.cast();
        (*c).len = len + 1;
        true
    }
}
