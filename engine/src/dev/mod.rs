//! Devices: where frames come from and go to, in bursts.
//!
//! The [`Device`] trait is all a [`crate::Stack`] needs from a link: receive a burst, transmit a
//! burst, and know the port's capabilities. Implementations:
//! - [`dpdk::DpdkQueue`]: one rx/tx queue pair of a DPDK ethdev port (tap, memif, af_packet,
//!   ring, PCI), set up from a [`spec::PortSpec`] by [`dpdk::Port::open`];
//! - [`sim::SimPort`]: one end of an in-process simulated link in virtual time (latency,
//!   bandwidth, queue limit), for deterministic tests;
//! - [`fault::FaultInjector`]: wraps any device and drops, duplicates, reorders or corrupts
//!   frames from a seeded generator.
//!
//! Contract of transmit ([`Device::transmit`]): the device is offered a run of frames as a
//! [`TxFrames`], front first, and takes the ones it accepts *from the front*
//! ([`TxFrames::take`], or [`TxFrames::mark_taken`] after a PMD took them); what it leaves
//! stays with the caller, in order, to retry or drop. Taking a frame moves its ownership (and
//! that of its mbuf headers, see [`crate::buf`]) to the device. The frames a device did not
//! take never move in the caller's storage, so a transmit costs the frames taken, not the
//! frames waiting: [`TxBatch`] keeps its frames in a ring (a `VecDeque` of fixed capacity) and
//! forgets the taken ones by advancing its head. Callers holding a `Vec` or a `VecDeque` use
//! [`Device::tx_burst`] or [`Device::tx_deque`]; the `Vec` form shifts the rest of the vector
//! (O(len)) and is meant for tests and tools. An empty `Vec` or `VecDeque` is still offered (as
//! an empty run), which lets a device make progress of its own (the fault injector releases
//! held frames); [`TxBatch::flush`] of an empty batch offers nothing. No method allocates on
//! the data path.

pub mod dpdk;
pub mod fault;
pub mod pcap;
mod rss;
pub mod sim;
pub mod spec;
pub mod tap;

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;

use crate::buf::Pkt;
use crate::time::Instant;
use crate::wire::MacAddr;

/// What a device can do, read from `rte_eth_dev_info` for DPDK ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceCaps {
    /// The port's MAC address.
    pub mac: MacAddr,
    /// Largest IP packet the link carries (the IP MTU, without the Ethernet header).
    pub mtu: u16,
    /// Transmit offloads enabled on the port.
    pub tx: TxCaps,
    /// Receive checksum offloads enabled on the port.
    pub rx_ipv4_cksum: bool,
    pub rx_tcp_cksum: bool,
    /// The PMD copies (or frees) a frame inside `tx_burst` (tap, af_packet, memif copy mode):
    /// headers may then be written into a queued payload's headroom (decision 5a). False when
    /// it holds on to the mbuf (real NICs, memif zero-copy) or hands it to a peer (net_ring).
    pub tx_copies: bool,
    /// Most wire segments one TSO frame may become (tap: 64); 0 when unknown.
    pub max_tso_segs: u16,
    /// The PMD's TSO checks `segsz + l2 + l3 + l4 <= MTU`, counting the Ethernet header
    /// (net_tap, note §3 limit 1): TSO segments must then be 14 bytes smaller than the MSS.
    pub tso_counts_l2: bool,
    /// Most mbufs in one transmitted frame; 0 when unknown (no limit published).
    pub max_tx_segs: u16,
    /// The port's TCP checksum offload is wrong for a chain in which a segment before the
    /// last has an odd length (net_tap of DPDK 22.11, whose `tap_write_mbufs` sums each
    /// segment as if it started on a 16-bit word), and so is its TSO for a wire segment built
    /// from such pieces (`rte_gso_segment` output goes through the same code). With it set, the
    /// engine computes the TCP checksum itself for such frames and sends such TSO frames as
    /// ordinary ones (`tcp::frame::tx_csum_offload_safe`); other frames keep the offload.
    pub tx_cksum_odd_chain_bug: bool,
    /// The link cannot corrupt frames (net_ring: both ends in one process, frames never
    /// leave memory). IPv4 and TCP checksums are then neither computed nor verified, as
    /// Linux does on loopback. Devices that may alter frames (the fault injector when it
    /// corrupts) clear it.
    pub trusted: bool,
    /// The driver's name (`net_tap`, `net_ring`, ...), for messages.
    pub driver: String,
}

/// Transmit offloads enabled on a port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxCaps {
    pub ipv4_cksum: bool,
    pub tcp_cksum: bool,
    pub tso: bool,
    pub multi_segs: bool,
}

impl DeviceCaps {
    /// Capabilities of a plain software link: no offloads, chained frames accepted.
    pub fn software(mac: MacAddr, mtu: u16) -> DeviceCaps {
        DeviceCaps {
            mac,
            mtu,
            tx: TxCaps {
                multi_segs: true,
                ..TxCaps::default()
            },
            rx_ipv4_cksum: false,
            rx_tcp_cksum: false,
            tx_copies: true,
            max_tso_segs: 0,
            tso_counts_l2: false,
            max_tx_segs: 0,
            tx_cksum_odd_chain_bug: false,
            trusted: false,
            driver: "software".into(),
        }
    }
}

/// A link that moves Ethernet frames in bursts.
pub trait Device {
    /// The device's capabilities (fixed once the port is up).
    fn caps(&self) -> &DeviceCaps;

    /// Receives up to `max` frames, appending them to `out`. Returns how many arrived.
    fn rx_burst(&mut self, now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize;

    /// Offers `frames` for transmission; the device takes the ones it accepts from the front
    /// (see the module documentation). How many it took is `frames.accepted()` afterwards.
    fn transmit(&mut self, now: Instant, frames: &mut TxFrames<'_>);

    /// Transmits frames from the front of `pkts`, removing those the device accepted.
    /// Returns how many it accepted. Shifts the remaining frames down (O(`pkts.len()`)).
    fn tx_burst(&mut self, now: Instant, pkts: &mut Vec<Pkt>) -> usize {
        offer_vec(self, now, pkts)
    }

    /// Transmits frames from the front of `pkts`, popping those the device accepted.
    /// Returns how many it accepted. Costs the frames accepted, whatever `pkts.len()`.
    fn tx_deque(&mut self, now: Instant, pkts: &mut VecDeque<Pkt>) -> usize {
        offer_deque(self, now, pkts)
    }

    /// For simulated devices: the earliest future time something will arrive, so a virtual
    /// clock can jump there. Real devices return `None`.
    fn next_arrival(&self) -> Option<Instant> {
        None
    }
}

impl<D: Device + ?Sized> Device for Box<D> {
    fn caps(&self) -> &DeviceCaps {
        (**self).caps()
    }
    fn rx_burst(&mut self, now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize {
        (**self).rx_burst(now, out, max)
    }
    fn transmit(&mut self, now: Instant, frames: &mut TxFrames<'_>) {
        (**self).transmit(now, frames)
    }
    fn next_arrival(&self) -> Option<Instant> {
        (**self).next_arrival()
    }
}

/// A contiguous run of frames offered to [`Device::transmit`], front first.
///
/// The frames stay in the caller's storage; the device takes them one by one from the front
/// ([`TxFrames::take`]) or, for a PMD that took a prefix of [`TxFrames::as_mbufs`], declares
/// them taken ([`TxFrames::mark_taken`]). When the offer ends, the caller's storage forgets the
/// taken frames (now the device's) and keeps the rest where they are. A `TxFrames` exists only
/// for the length of one offer, inside [`Device::tx_burst`], [`Device::tx_deque`] or
/// [`TxBatch::flush`]; a device sees it only by reference.
pub struct TxFrames<'a> {
    /// The first offered slot; `slots[taken..len]` are still owned by the caller's storage.
    slots: *mut Pkt,
    len: usize,
    taken: usize,
    _store: PhantomData<&'a mut [Pkt]>,
}

impl TxFrames<'_> {
    /// Frames offered and not taken yet.
    pub fn len(&self) -> usize {
        self.len - self.taken
    }

    pub fn is_empty(&self) -> bool {
        self.len == self.taken
    }

    /// Frames taken so far during this offer.
    pub fn accepted(&self) -> usize {
        self.taken
    }

    /// The frames not taken yet, front first.
    pub fn as_slice(&self) -> &[Pkt] {
        // SAFETY: slots[taken..len] are initialised Pkts of the caller's storage, which this
        // offer borrows mutably for its whole life; the shared borrow of self keeps `take`
        // from moving any out while the slice lives.
        unsafe { std::slice::from_raw_parts(self.slots.add(self.taken), self.len()) }
    }

    /// Takes the front frame: it is now the device's.
    pub fn take(&mut self) -> Option<Pkt> {
        if self.is_empty() {
            return None;
        }
        // SAFETY: slot `taken` holds an initialised Pkt not taken before; reading it moves the
        // ownership out, and the storage forgets the slot when the offer ends (it is counted
        // in `taken` at once, so that holds even if the device panics later).
        let p = unsafe { std::ptr::read(self.slots.add(self.taken)) };
        self.taken += 1;
        Some(p)
    }

    /// The frames not taken yet as an array of `len()` mbuf pointers (`Pkt` is
    /// `repr(transparent)` over one), for a PMD's `tx_burst`.
    pub fn as_mbufs(&mut self) -> *mut *mut dpdk_sys::rte_mbuf {
        self.slots.wrapping_add(self.taken).cast()
    }

    /// Declares the first `n` frames not taken yet (of [`TxFrames::as_mbufs`]) taken.
    ///
    /// # Safety
    /// `n <= len()`, and the ownership of those `n` mbuf references really moved elsewhere
    /// (a PMD's `tx_burst` accepted them): they are forgotten, never freed, by the caller.
    pub unsafe fn mark_taken(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.taken += n.min(self.len());
    }

    /// Runs `f` with at most `max` of the frames not taken yet on offer (a window), for a
    /// wrapper that must look at each offered frame before passing the offer on.
    pub fn with_window<R>(&mut self, max: usize, f: impl FnOnce(&mut Self) -> R) -> R {
        let full = self.len;
        self.len = self.taken + self.len().min(max);
        let r = f(self);
        // Taking never passes the window's end, which is at most `full`.
        self.len = full;
        r
    }
}

/// Storage that frames are offered from: its front run, and how to forget taken frames.
trait FrameStore {
    /// The first contiguous run of frames: its first slot and length.
    fn front_run(&mut self) -> (*mut Pkt, usize);
    /// Removes the first `n` frames without dropping them (their ownership moved away).
    fn forget_front(&mut self, n: usize);
}

impl FrameStore for Vec<Pkt> {
    fn front_run(&mut self) -> (*mut Pkt, usize) {
        (self.as_mut_ptr(), self.len())
    }
    fn forget_front(&mut self, n: usize) {
        for p in self.drain(..n) {
            std::mem::forget(p);
        }
    }
}

/// [`TxBatch`]'s storage: frames wrapped so that forgetting the taken front is a move of the
/// ring's head, not a loop (the wrapper has no drop glue; `TxBatch`'s `Drop` frees what is
/// left).
impl FrameStore for VecDeque<ManuallyDrop<Pkt>> {
    fn front_run(&mut self) -> (*mut Pkt, usize) {
        let (front, _) = self.as_mut_slices();
        // `ManuallyDrop<Pkt>` is `repr(transparent)` over `Pkt`.
        (front.as_mut_ptr().cast(), front.len())
    }
    fn forget_front(&mut self, n: usize) {
        self.drain(..n);
    }
}

impl FrameStore for VecDeque<Pkt> {
    fn front_run(&mut self) -> (*mut Pkt, usize) {
        let (front, _) = self.as_mut_slices();
        (front.as_mut_ptr(), front.len())
    }
    fn forget_front(&mut self, n: usize) {
        for _ in 0..n {
            std::mem::forget(self.pop_front());
        }
    }
}

/// One offer of `store`'s front run to a device; forgets the taken frames when it ends, even
/// if the device panics.
struct Offer<'s, S: FrameStore> {
    frames: TxFrames<'s>,
    store: &'s mut S,
}

impl<S: FrameStore> Drop for Offer<'_, S> {
    fn drop(&mut self) {
        self.store.forget_front(self.frames.taken);
    }
}

/// Offers `store`'s front run to `dev`; returns how many frames it took.
fn offer_run<D: Device + ?Sized, S: FrameStore>(dev: &mut D, now: Instant, store: &mut S) -> usize {
    let (slots, len) = store.front_run();
    let mut offer = Offer {
        frames: TxFrames {
            slots,
            len,
            taken: 0,
            _store: PhantomData,
        },
        store,
    };
    dev.transmit(now, &mut offer.frames);
    offer.frames.taken
}

/// [`Device::tx_burst`]: a `Vec` is one run. An empty one is offered too: a device may use
/// the call to make progress of its own (the fault injector releases held frames).
fn offer_vec<D: Device + ?Sized>(dev: &mut D, now: Instant, pkts: &mut Vec<Pkt>) -> usize {
    offer_run(dev, now, pkts)
}

/// [`Device::tx_deque`]: a `VecDeque` is at most two runs; the second is offered when the
/// device took all of the first. An empty one is offered once, as in [`offer_vec`].
fn offer_deque<D: Device + ?Sized, T>(dev: &mut D, now: Instant, pkts: &mut VecDeque<T>) -> usize
where
    VecDeque<T>: FrameStore,
{
    let mut sent = 0;
    loop {
        let run = pkts.as_slices().0.len();
        let took = offer_run(dev, now, pkts);
        sent += took;
        if took < run || pkts.is_empty() {
            return sent;
        }
    }
}

/// Flushes in a row that may make no progress before the frame at the head is dropped: a
/// frame the port refuses for good (or a ring that stays full) must not block all output.
/// The head is dropped only once [`TX_STALL_TIME`] has passed too: a ring that is full
/// because its peer's thread was descheduled for a few milliseconds (thousands of our
/// flushes) is backpressure, not a frame refused for good.
pub const TX_STALL_LIMIT: u32 = 4096;

/// Least time without progress before a stalled head is dropped: the engine's minimum RTO
/// (a frame held longer would be resent anyway).
pub const TX_STALL_TIME: std::time::Duration = std::time::Duration::from_millis(200);

/// Frames a full TX batch keeps for control frames (ARP, Neighbor Discovery, ICMP, RSTs and
/// handshake answers), as a fraction of its capacity: TCP's data and ACKs stop at
/// `capacity - capacity / TX_RESERVE_DIV` at most (see [`TxBatch::stopped`]).
pub const TX_RESERVE_DIV: usize = 8;

/// Most frames TCP may leave queued in a TX batch before it stops (Linux's default
/// `txqueuelen` is 1000): a queue that only has to keep the device busy between two polls.
/// Longer queues add delay, not throughput: every frame behind a standing queue of thousands
/// waits for all of them, and that wait is counted in each connection's round-trip time
/// (bufferbloat; the connections waiting on the pending list instead are not in flight yet).
pub const TX_STOP_LINE: usize = 1024;

/// The software transmit queue in front of the device ring (Linux's qdisc): frames waiting
/// for the next transmit, bounded.
///
/// Backpressure, not loss: frames the device refuses (its ring is full) stay queued in order
/// for the next flush. Once the queued frames reach the *stop line* ([`TX_STOP_LINE`], and
/// at most the capacity less a reserve of `capacity / TX_RESERVE_DIV`), the batch is
/// [`TxBatch::stopped`]: TCP then sends
/// nothing more (its connections wait on the stack's pending list, as Linux's TCP small queues
/// make a socket wait for its skbs to leave the qdisc) and resumes when a flush made room. The
/// reserve above the line keeps room for control frames (ARP, ND, ICMP) and for the few
/// segments input processing answers at once (RSTs, SYN-ACKs), so those are never starved
/// by data. A push beyond the capacity still drops and counts the frame ([`TxBatch::dropped`]),
/// and after [`TX_STALL_LIMIT`] flushes in a row and [`TX_STALL_TIME`] without progress (a
/// port that refuses a frame for good), the head frame is dropped and counted.
///
/// Storage: a ring (`VecDeque`) allocated once with room for the capacity, so pushing never
/// allocates, and a flush costs the frames the device takes (plus at most two offers, when the
/// queued frames wrap around the ring's end): sent frames are forgotten by advancing the head,
/// and the frames left behind are never moved.
#[derive(Debug)]
pub struct TxBatch {
    pkts: VecDeque<ManuallyDrop<Pkt>>,
    cap: usize,
    /// Queued frames at which TCP stops (`cap` less the control reserve).
    stop_line: usize,
    stalls: u32,
    /// When the current run of flushes without progress began.
    stalled_since: Instant,
    /// Frames dropped because the batch was full or the device kept refusing them.
    pub dropped: u64,
    /// Times a sender found the batch stopped and waited (see [`TxBatch::stopped`]).
    pub throttled: u64,
}

impl TxBatch {
    /// A batch of `cap` frames (at least 2), of which `cap / TX_RESERVE_DIV` (at least one)
    /// are kept for control frames; TCP stops at [`TX_STOP_LINE`] frames or at that
    /// reserve, whichever comes first.
    pub fn with_capacity(cap: usize) -> TxBatch {
        let cap = cap.max(2);
        TxBatch {
            pkts: VecDeque::with_capacity(cap),
            cap,
            stop_line: (cap - (cap / TX_RESERVE_DIV).max(1)).min(TX_STOP_LINE),
            stalls: 0,
            stalled_since: Instant::ZERO,
            dropped: 0,
            throttled: 0,
        }
    }

    /// True when the queued frames reached the stop line: TCP must wait for a flush to make
    /// room (control frames may still be pushed into the reserve).
    #[inline]
    pub fn stopped(&self) -> bool {
        self.pkts.len() >= self.stop_line
    }

    /// Queues a frame; drops and counts it if the batch is full.
    #[inline(always)]
    pub fn push(&mut self, p: Pkt) {
        if self.pkts.len() < self.cap {
            self.pkts.push_back(ManuallyDrop::new(p));
        } else {
            self.dropped += 1;
        }
    }

    pub fn len(&self) -> usize {
        self.pkts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pkts.is_empty()
    }

    /// Room left before pushes start dropping.
    pub fn room(&self) -> usize {
        self.cap - self.pkts.len()
    }

    /// Whether a control segment (a SYN, an ACK) may still be queued: room is left beyond
    /// half the reserve (the other half is kept for ARP, ND and ICMP).
    #[inline]
    pub fn has_control_room(&self) -> bool {
        self.room() > (self.cap / TX_RESERVE_DIV / 2).max(1)
    }

    /// The batch's capacity (stop line plus reserve).
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Hands the queued frames to `dev`; the ones it refuses stay queued for the next flush.
    /// Returns how many it took.
    pub fn flush<D: Device + ?Sized>(&mut self, now: Instant, dev: &mut D) -> usize {
        if self.pkts.is_empty() {
            return 0;
        }
        let sent = offer_deque(dev, now, &mut self.pkts);
        if sent > 0 {
            self.stalls = 0;
        } else {
            if self.stalls == 0 {
                self.stalled_since = now;
            }
            self.stalls += 1;
            if self.stalls >= TX_STALL_LIMIT && now - self.stalled_since >= TX_STALL_TIME {
                self.stalls = 0;
                if let Some(p) = self.pkts.pop_front() {
                    drop(ManuallyDrop::into_inner(p));
                }
                self.dropped += 1;
            }
        }
        sent
    }

    /// The queued frames, front first (for inspection in tests).
    pub fn frames(&self) -> impl ExactSizeIterator<Item = &Pkt> {
        self.pkts.iter().map(|p| &**p)
    }
}

impl Drop for TxBatch {
    fn drop(&mut self) {
        for p in self.pkts.drain(..) {
            drop(ManuallyDrop::into_inner(p));
        }
    }
}
