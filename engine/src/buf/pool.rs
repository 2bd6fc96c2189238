//! `Mempool`: a handle on a DPDK packet-mbuf pool, and `Pools`, the three pools a stack uses.
//!
//! Pools live as long as the process: DPDK cannot free a pool while any of its mbufs is still
//! referenced (a frame in a TX ring, a segment held by the application), so a `Mempool` is a
//! plain copyable handle and pools are never destroyed. Names are made unique with a process-wide
//! counter, because DPDK rejects a second pool of the same name (EEXIST).

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::eal;

/// Headroom DPDK reserves in front of each mbuf's data (`RTE_PKTMBUF_HEADROOM`).
pub const HEADROOM: usize = dpdk_sys::RTE_PKTMBUF_HEADROOM as usize;

/// Data room of header mbufs: headroom, up to 94 bytes of Ethernet/IPv4/TCP headers and a
/// copied payload of up to 256 bytes (`tcp::frame::TX_COPYBREAK`), rounded up.
pub const HDR_DATA_ROOM: u16 = (HEADROOM + 512) as u16;

/// Data room of a pool whose mbufs hold one MTU-sized frame (2048 + headroom), DPDK's default.
pub const DEFAULT_DATA_ROOM: u16 = dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;

static POOL_SEQ: AtomicU32 = AtomicU32::new(0);

/// Why a pool could not be created.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error(
        "cannot create mbuf pool {name:?} ({count} mbufs of {room} B): {cause}; \
         give the EAL more memory (-m / --memory-mb) or use fewer, smaller pools"
    )]
    Create {
        name: String,
        count: u32,
        room: u16,
        cause: String,
    },
}

/// A handle on a DPDK mbuf pool. Copyable; the pool itself is never freed (see module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mempool(NonNull<dpdk_sys::rte_mempool>);

// SAFETY: rte_mempool is designed for concurrent use from many threads (lock-free ring plus
// per-lcore caches); the handle is only a pointer to it.
unsafe impl Send for Mempool {}
// SAFETY: as above; every operation on the pool is thread-safe in DPDK.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `count` mbufs with `data_room` bytes each (headroom included) and a
    /// per-lcore cache of `cache` mbufs. `prefix` names it; a unique suffix is added.
    pub fn create(prefix: &str, count: u32, cache: u32, data_room: u16) -> Result<Self, PoolError> {
        let seq = POOL_SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}_{}_{}", prefix, std::process::id() % 100_000, seq);
        let name: String = name.chars().take(25).collect(); // RTE_MEMPOOL_NAMESIZE - 1 ("MP_" prefix)
        let cname = CString::new(name.clone()).expect("pool names have no NUL");
        let cache = cache.min(512).min(count / 2);
        // SAFETY: the EAL is initialised (callers hold an `Eal`); the name is a valid C string
        // that DPDK copies; SOCKET_ID_ANY lets DPDK choose the memory.
        let mp = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                count,
                cache,
                0,
                data_room,
                dpdk_sys::SOCKET_ID_ANY,
            )
        };
        NonNull::new(mp)
            .map(Mempool)
            .ok_or_else(|| PoolError::Create {
                name,
                count,
                room: data_room,
                cause: eal::last_error(),
            })
    }

    /// The raw pool pointer, for DPDK calls.
    pub fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.0.as_ptr()
    }

    /// Mbufs currently free in the pool (caches included).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool pointer is valid for the process lifetime.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.0.as_ptr()) }
    }

    /// Mbufs currently allocated from the pool.
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool pointer is valid for the process lifetime.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.0.as_ptr()) }
    }

    /// Mbufs the pool holds in all.
    pub fn capacity(&self) -> u32 {
        // SAFETY: the pool pointer is valid for the process lifetime; `size` is fixed at
        // creation.
        unsafe { (*self.0.as_ptr()).size }
    }

    /// Bytes of data room per mbuf, headroom included.
    pub fn data_room(&self) -> u16 {
        // SAFETY: the pool pointer is valid and was created by rte_pktmbuf_pool_create.
        unsafe { dpdk_sys::shim_rte_pktmbuf_data_room_size(self.0.as_ptr()) }
    }
}

/// Sizes of the pools a stack allocates from.
#[derive(Clone, Debug)]
pub struct PoolSizes {
    /// Mbufs for received frames and application payload (MTU-sized data room).
    pub data: u32,
    /// Small mbufs for protocol headers and copy-broken small payloads (headroom + 512 B).
    pub hdr: u32,
    /// Data-less mbufs for indirect clones of payload (clone on transmit).
    pub indirect: u32,
}

impl Default for PoolSizes {
    fn default() -> Self {
        PoolSizes {
            data: 16 * 1024 - 1,
            hdr: 8 * 1024 - 1,
            indirect: 16 * 1024 - 1,
        }
    }
}

/// The three pools of a stack (ARCHITECTURE decision 5): payload, headers, indirect clones.
#[derive(Clone, Copy, Debug)]
pub struct Pools {
    pub data: Mempool,
    pub hdr: Mempool,
    pub indirect: Mempool,
}

impl Pools {
    /// Creates the three pools, named after `prefix`.
    pub fn create(prefix: &str, sizes: &PoolSizes) -> Result<Self, PoolError> {
        Ok(Pools {
            data: Mempool::create(&format!("{prefix}d"), sizes.data, 256, DEFAULT_DATA_ROOM)?,
            hdr: Mempool::create(&format!("{prefix}h"), sizes.hdr, 256, HDR_DATA_ROOM)?,
            indirect: Mempool::create(&format!("{prefix}i"), sizes.indirect, 256, 0)?,
        })
    }
}
