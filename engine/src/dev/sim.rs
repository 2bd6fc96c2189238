//! An in-process simulated Ethernet link in virtual time, for deterministic tests
//! (ARCHITECTURE "Testing": two stacks over a simulated link, the clock stepped to the next
//! deadline as in quinn's `Pair::step`).
//!
//! [`SimLink::pair`] returns the two ends of a full-duplex link as [`SimPort`]s, each a
//! [`Device`]. Each direction behaves like a NIC feeding a wire:
//! - `transmit` puts frames in the sender's NIC queue. A frame's serialization starts when the
//!   previous one's ends (or at `now`) and lasts `len * 8 / bandwidth`. Until it ends, the
//!   *original* `Pkt` stays in the queue, so the engine sees `max_data_refcnt() > 1` for payload
//!   still "in the TX ring", as with a real NIC that holds the mbuf until DMA completes.
//! - When serialization ends, the frame is copied into a fresh mbuf from the link's pool (the
//!   receiver owns its own copy, as on a real wire), the original is freed, and the copy is
//!   delivered to the peer `latency` later.
//! - Every frame offered to `transmit` is taken; frames that do not fit the NIC queue
//!   (`tail_drops`) or exceed the MTU (`oversize`) are freed and counted, like a NIC dropping.
//!
//! Invariants: per direction, serialization ends and delivery instants are non-decreasing in
//! transmit order, so both queues are FIFOs and deliveries with equal instants keep transmit
//! order. Time never goes back: both ends share one clock, the latest `now` any call has passed;
//! a call with an earlier `now` is treated as a call at that latest instant (no progress, no
//! rewinding).
//!
//! Allocation: the queues are preallocated (`queue_limit` frames for the NIC queue, as many on
//! the wire); the wire queue grows only if the receiver lags behind more than that, after which
//! the steady state allocates nothing but mbufs from the link's pool.
//!
//! Both ends share state through `Rc<RefCell<..>>`: a `SimPort` is not `Send` and the pair is
//! meant to be driven from one thread.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use super::{Device, DeviceCaps, TxFrames};
use crate::buf::{Mempool, Pkt};
use crate::time::Instant;
use crate::wire::MacAddr;

/// Length of the Ethernet header that the MTU does not count.
const ETH_HEADER_LEN: usize = 14;

/// Properties of a simulated link; both directions get the same.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// One-way propagation delay, added after serialization.
    pub latency: Duration,
    /// Line rate in bits per second; 0 means unlimited (serialization takes no time).
    pub bandwidth_bps: u64,
    /// Frames the sender's NIC queue holds (serializing or waiting); beyond it `transmit`
    /// tail-drops. 0 drops everything.
    pub queue_limit: usize,
    /// IP MTU: frames longer than `mtu + 14` are dropped as oversize.
    pub mtu: u16,
}

impl Default for SimConfig {
    /// 10 µs latency, 10 Gbit/s, 1024 frames of NIC queue, 1500 B MTU.
    fn default() -> Self {
        SimConfig {
            latency: Duration::from_micros(10),
            bandwidth_bps: 10_000_000_000,
            queue_limit: 1024,
            mtu: 1500,
        }
    }
}

impl SimConfig {
    /// How long `len` bytes take to serialize at the configured rate, rounded up to a whole
    /// nanosecond (zero when the bandwidth is unlimited).
    pub fn serialization(&self, len: usize) -> Duration {
        if self.bandwidth_bps == 0 {
            return Duration::ZERO;
        }
        let ns = (len as u128 * 8 * 1_000_000_000).div_ceil(u128::from(self.bandwidth_bps));
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

/// Counters of one end of a simulated link.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Frames queued for transmission (not counting tail drops and oversize frames).
    pub tx_frames: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// Frames handed to the application by `rx_burst`.
    pub rx_frames: u64,
    /// Frames dropped by `transmit` because the NIC queue was full.
    pub tail_drops: u64,
    /// Frames dropped by `transmit` because they exceeded `mtu + 14` bytes.
    pub oversize: u64,
    /// Frames meant for this end lost because the link's pool had no mbuf for the copy.
    pub rx_nombuf: u64,
}

/// One direction: the sender's NIC queue and the wire towards the receiver.
struct Lane {
    /// Original frames with the instant their serialization ends.
    nic: VecDeque<(Instant, Pkt)>,
    /// Receiver-owned copies with their delivery instant.
    wire: VecDeque<(Instant, Pkt)>,
    /// When the last queued frame's serialization ends.
    busy_until: Instant,
    /// Transmit counters belong to the sender, receive counters to the receiver.
    stats: SimStats,
}

impl Lane {
    fn new(cfg: &SimConfig) -> Lane {
        let cap = cfg.queue_limit.clamp(64, 1 << 16);
        Lane {
            nic: VecDeque::with_capacity(cap),
            wire: VecDeque::with_capacity(cap),
            busy_until: Instant::ZERO,
            stats: SimStats::default(),
        }
    }

    /// Queues `pkt` for serialization, or drops and counts it.
    fn enqueue(&mut self, now: Instant, pkt: Pkt, cfg: &SimConfig) {
        if pkt.len() > usize::from(cfg.mtu) + ETH_HEADER_LEN {
            self.stats.oversize += 1;
            return;
        }
        if self.nic.len() >= cfg.queue_limit {
            self.stats.tail_drops += 1;
            return;
        }
        let end = now.max(self.busy_until) + cfg.serialization(pkt.len());
        self.busy_until = end;
        self.stats.tx_frames += 1;
        self.stats.tx_bytes += pkt.len() as u64;
        self.nic.push_back((end, pkt));
    }

    /// Moves every frame whose serialization has ended by `now` onto the wire: the receiver
    /// gets a copy from `pool`, the original is freed.
    fn advance(&mut self, now: Instant, pool: &Mempool, latency: Duration) {
        while self.nic.front().is_some_and(|(end, _)| *end <= now) {
            let Some((end, original)) = self.nic.pop_front() else {
                break;
            };
            match original.deep_copy(pool) {
                Some(copy) => self.wire.push_back((end + latency, copy)),
                None => self.stats.rx_nombuf += 1,
            }
        }
    }

    /// Hands up to `max` frames delivered by `now` to `out`, in delivery order.
    fn deliver(&mut self, now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize {
        let mut n = 0;
        while n < max && self.wire.front().is_some_and(|(at, _)| *at <= now) {
            let Some((_, pkt)) = self.wire.pop_front() else {
                break;
            };
            out.push(pkt);
            n += 1;
        }
        self.stats.rx_frames += n as u64;
        n
    }

    /// The earliest pending event: a serialization end or a delivery.
    fn next_event(&self) -> Option<Instant> {
        let nic = self.nic.front().map(|(t, _)| *t);
        let wire = self.wire.front().map(|(t, _)| *t);
        earliest(nic, wire)
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The state both ends of a simulated link share. Obtained only through [`SimLink::pair`].
pub struct SimLink {
    cfg: SimConfig,
    pool: Mempool,
    /// `lanes[i]` carries the frames sent by end `i` (0 = A, 1 = B).
    lanes: [Lane; 2],
    /// The latest `now` seen by either end.
    clock: Instant,
}

impl SimLink {
    /// Creates a link and returns its two ends. Received frames are copies allocated from
    /// `pool` (give it room for one MTU-sized frame per mbuf to get single-segment frames).
    pub fn pair(
        pool: Mempool,
        cfg: SimConfig,
        mac_a: MacAddr,
        mac_b: MacAddr,
    ) -> (SimPort, SimPort) {
        let link = SimLink {
            lanes: [Lane::new(&cfg), Lane::new(&cfg)],
            cfg,
            pool,
            clock: Instant::ZERO,
        };
        let mtu = link.cfg.mtu;
        let link = Rc::new(RefCell::new(link));
        let port = |side, mac| SimPort {
            link: Rc::clone(&link),
            side,
            caps: DeviceCaps {
                tx_copies: false,
                driver: "sim".into(),
                ..DeviceCaps::software(mac, mtu)
            },
        };
        (port(0, mac_a), port(1, mac_b))
    }

    /// Moves the shared clock to `now` (never back) and returns the effective instant.
    fn tick(&mut self, now: Instant) -> Instant {
        self.clock = self.clock.max(now);
        self.clock
    }

    /// Advances both directions to `now`.
    fn advance(&mut self, now: Instant) {
        for lane in &mut self.lanes {
            lane.advance(now, &self.pool, self.cfg.latency);
        }
    }
}

/// One end of a [`SimLink`]. Not `Send`: both ends share state and run on one thread.
pub struct SimPort {
    link: Rc<RefCell<SimLink>>,
    /// 0 for the A end, 1 for the B end.
    side: usize,
    caps: DeviceCaps,
}

impl SimPort {
    /// This end's counters: transmit side of its outgoing direction, receive side of the
    /// incoming one.
    pub fn stats(&self) -> SimStats {
        let link = self.link.borrow();
        let tx = link.lanes[self.side].stats;
        let rx = link.lanes[1 - self.side].stats;
        SimStats {
            rx_frames: rx.rx_frames,
            rx_nombuf: rx.rx_nombuf,
            ..tx
        }
    }

    /// The link's configuration.
    pub fn config(&self) -> SimConfig {
        self.link.borrow().cfg.clone()
    }

    /// Frames this end has sent that are still in its NIC queue (serializing or waiting).
    pub fn tx_queued(&self) -> usize {
        self.link.borrow().lanes[self.side].nic.len()
    }

    /// Frames on their way to this end (on the wire or waiting for `rx_burst`).
    pub fn rx_pending(&self) -> usize {
        self.link.borrow().lanes[1 - self.side].wire.len()
    }
}

impl Device for SimPort {
    fn caps(&self) -> &DeviceCaps {
        &self.caps
    }

    /// Advances both directions to `now`, then returns up to `max` frames delivered by `now`.
    fn rx_burst(&mut self, now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize {
        let mut link = self.link.borrow_mut();
        let now = link.tick(now);
        link.advance(now);
        link.lanes[1 - self.side].deliver(now, out, max)
    }

    /// Takes every offered frame; see the module doc for drops.
    fn transmit(&mut self, now: Instant, frames: &mut TxFrames<'_>) {
        let mut link = self.link.borrow_mut();
        let now = link.tick(now);
        // Frames whose serialization has ended no longer occupy the NIC queue.
        link.advance(now);
        let link = &mut *link;
        let lane = &mut link.lanes[self.side];
        while let Some(pkt) = frames.take() {
            lane.enqueue(now, pkt, &link.cfg);
        }
    }

    /// The earliest pending event on either direction: a serialization end or a delivery. It
    /// is at or before the last `now` when frames are waiting for `rx_burst`.
    fn next_arrival(&self) -> Option<Instant> {
        let link = self.link.borrow();
        earliest(link.lanes[0].next_event(), link.lanes[1].next_event())
    }
}
