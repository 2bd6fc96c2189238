//! A seeded fault injector that wraps any [`Device`] and drops, duplicates, reorders or
//! corrupts the frames it transmits (smoltcp's `FaultInjector` decorator, with bursts and mbufs).
//!
//! Determinism: every frame given to `transmit` gets a frame index (0, 1, ...) and exactly six
//! draws from `Rng::new(seed)`, always in this order: drop, duplicate, reorder, corrupt (each a
//! uniform float compared with its probability), then the corrupted byte and bit. The decisions
//! for frame `i` therefore depend only on the seed and `i` (the corrupted offset also on the
//! frame's length), not on earlier outcomes or on timing: the same seed and the same frames give
//! the same decisions on every run.
//!
//! What happens to a frame, in order:
//! 1. drop: the frame is freed; nothing else applies;
//! 2. corrupt: the frame is replaced by a deep copy with one bit flipped at a byte offset past
//!    the 14-byte Ethernet header; the original is freed, never written (its data may be
//!    shared with the send queue or, on net_ring, with the receiver). Frames of 14 bytes or less
//!    are left alone;
//! 3. duplicate: a deep copy of the (possibly corrupted) frame follows it;
//! 4. reorder: the frame (and its duplicate) is held back and released `reorder_delay` later,
//!    so frames sent after it overtake it. A held frame is the caller's own `Pkt`, so its
//!    `max_data_refcnt()` stays > 1 while held, as for a frame in a TX ring.
//!
//! Only faults actually applied are counted and logged; a copy the pool cannot supply is
//! counted in `nombuf` and the frame goes out unchanged (or without its duplicate).
//!
//! Ownership and backpressure: `transmit` takes every offered frame (the fault decisions are
//! made once per frame) unless the injector still holds a *backlog*: frames already decided
//! (released, duplicated, corrupted, or new) that the inner device refused. The backlog is
//! retried first on every `transmit` and `rx_burst`; while any of it remains, `transmit` takes
//! nothing and the caller keeps its frames, as the [`Device`] contract says. The backlog is
//! thus bounded by one burst plus its duplicates and releases; it is a `VecDeque` offered with
//! [`Device::tx_deque`], so a retry costs the frames the inner device takes.
//!
//! Capabilities: those of the inner device, with two changes. `tx_copies` is false, because
//! the injector can keep a frame after `transmit` returns (held or backlogged), so the engine
//! must not write headers into a queued payload's headroom (decision 5a). And while duplicate
//! or corrupt probabilities are non-zero, transmit offloads are reported off: the copies carry
//! data only (a deep copy carries no `ol_flags` or `tx_offload`), so frames must leave the
//! engine complete.
//!
//! Time is clamped: a `now` earlier than one already seen counts as that later instant.
//!
//! Allocation: the backlog and the held queue are preallocated; per frame, only mbufs for the
//! copies come from the injector's pool. The decision log (off by default) grows on the heap.

use std::collections::VecDeque;
use std::time::Duration;

use super::{Device, DeviceCaps, TxCaps, TxFrames};
use crate::buf::{Mempool, Pkt};
use crate::rand::Rng;
use crate::time::Instant;

/// Bytes of Ethernet header the corruption never touches.
const ETH_HEADER_LEN: usize = 14;

/// What to inject; probabilities are per transmitted frame, in `0.0..=1.0`.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultConfig {
    /// Seed of the generator that makes every decision.
    pub seed: u64,
    pub drop: f64,
    pub duplicate: f64,
    pub reorder: f64,
    /// How long a reordered frame is held back.
    pub reorder_delay: Duration,
    pub corrupt: f64,
}

impl Default for FaultConfig {
    /// No faults (seed 0, all probabilities 0); a reordered frame would wait 100 µs.
    fn default() -> Self {
        FaultConfig {
            seed: 0,
            drop: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_micros(100),
            corrupt: 0.0,
        }
    }
}

/// One fault applied to a frame, as recorded in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    Drop,
    Duplicate,
    Reorder,
    Corrupt,
}

/// Counters of a [`FaultInjector`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Frames that went through the injector (decided).
    pub frames: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub corrupted: u64,
    /// Copies (duplicate or corrupt) not made because the pool was empty.
    pub nombuf: u64,
}

/// The six draws made for every frame.
struct Draws {
    drop: bool,
    duplicate: bool,
    reorder: bool,
    corrupt: bool,
    /// Selects the corrupted byte past the Ethernet header.
    offset: u64,
    /// Selects the flipped bit (0..8).
    bit: u64,
}

impl Draws {
    fn take(rng: &mut Rng, cfg: &FaultConfig) -> Draws {
        // `unit() < p` rather than `chance(p)`: chance skips the draw when p is 0, and the
        // number of draws per frame must not depend on the configuration.
        Draws {
            drop: rng.unit() < cfg.drop,
            duplicate: rng.unit() < cfg.duplicate,
            reorder: rng.unit() < cfg.reorder,
            corrupt: rng.unit() < cfg.corrupt,
            offset: rng.next_u64(),
            bit: rng.next_u64(),
        }
    }
}

/// Scales a uniform `u64` into `0..n` (multiply-shift, as `Rng::below`).
fn scale(x: u64, n: usize) -> usize {
    ((u128::from(x) * n as u128) >> 64) as usize
}

/// Appends `data` to `out`, chaining mbufs from `pool`; false if the pool ran dry.
fn append_all(out: &mut Pkt, pool: &Mempool, data: &[u8]) -> bool {
    out.extend_from_slice(pool, data) == data.len()
}

/// A deep copy of `pkt` with bit `bit` of byte `target` flipped. `None` if the pool ran dry.
fn corrupted_copy(pkt: &Pkt, pool: &Mempool, target: usize, bit: u32) -> Option<Pkt> {
    let mut out = Pkt::alloc(pool)?;
    let mut pos = 0;
    for seg in pkt.segments() {
        let ok = if (pos..pos + seg.len()).contains(&target) {
            let k = target - pos;
            append_all(&mut out, pool, &seg[..k])
                && append_all(&mut out, pool, &[seg[k] ^ (1 << bit)])
                && append_all(&mut out, pool, &seg[k + 1..])
        } else {
            append_all(&mut out, pool, seg)
        };
        if !ok {
            return None;
        }
        pos += seg.len();
    }
    Some(out)
}

/// A [`Device`] wrapper that injects seeded faults on transmit. See the module documentation.
pub struct FaultInjector<D: Device> {
    inner: D,
    pool: Mempool,
    cfg: FaultConfig,
    caps: DeviceCaps,
    rng: Rng,
    /// Reordered frames with their release instant (non-decreasing: `now` never goes back).
    held: VecDeque<(Instant, Pkt)>,
    /// Decided frames the inner device has not accepted yet, in transmit order.
    backlog: VecDeque<Pkt>,
    clock: Instant,
    stats: FaultStats,
    recording: bool,
    log: Vec<(u64, Fault)>,
}

impl<D: Device> FaultInjector<D> {
    /// Wraps `inner`; duplicate and corrupted copies are allocated from `pool`.
    pub fn new(inner: D, pool: Mempool, cfg: FaultConfig) -> Self {
        let mut caps = inner.caps().clone();
        caps.tx_copies = false;
        // A corrupted frame must be caught by its checksums.
        if cfg.corrupt > 0.0 {
            caps.trusted = false;
        }
        if cfg.duplicate > 0.0 || cfg.corrupt > 0.0 {
            caps.tx = TxCaps {
                multi_segs: caps.tx.multi_segs,
                ..TxCaps::default()
            };
            caps.max_tso_segs = 0;
        }
        FaultInjector {
            inner,
            pool,
            rng: Rng::new(cfg.seed),
            cfg,
            caps,
            held: VecDeque::with_capacity(256),
            backlog: VecDeque::with_capacity(256),
            clock: Instant::ZERO,
            stats: FaultStats::default(),
            recording: false,
            log: Vec::new(),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> FaultStats {
        self.stats
    }

    pub fn inner(&self) -> &D {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.inner
    }

    /// Starts (`true`) or stops recording decisions into [`FaultInjector::log`].
    pub fn record(&mut self, on: bool) {
        self.recording = on;
    }

    /// The recorded decisions: (frame index through the injector, fault), in decision order.
    /// A frame may have several entries (e.g. `Corrupt` then `Duplicate`).
    pub fn log(&self) -> &[(u64, Fault)] {
        &self.log
    }

    /// Frames held back for reordering.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Decided frames the inner device refused, waiting to be retried.
    pub fn backlog(&self) -> usize {
        self.backlog.len()
    }

    fn tick(&mut self, now: Instant) -> Instant {
        self.clock = self.clock.max(now);
        self.clock
    }

    fn note(&mut self, index: u64, fault: Fault) {
        let counter = match fault {
            Fault::Drop => &mut self.stats.dropped,
            Fault::Duplicate => &mut self.stats.duplicated,
            Fault::Reorder => &mut self.stats.reordered,
            Fault::Corrupt => &mut self.stats.corrupted,
        };
        *counter += 1;
        if self.recording {
            self.log.push((index, fault));
        }
    }

    /// Moves held frames whose release time has come to the backlog, then offers the backlog
    /// to the inner device. Returns true when the backlog is empty afterwards.
    fn flush(&mut self, now: Instant) -> bool {
        while self.held.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, pkt)) = self.held.pop_front() {
                self.backlog.push_back(pkt);
            }
        }
        if !self.backlog.is_empty() {
            self.inner.tx_deque(now, &mut self.backlog);
        }
        self.backlog.is_empty()
    }

    /// Decides the fate of one frame and puts what remains of it in the backlog or the held
    /// queue.
    fn inject(&mut self, now: Instant, pkt: Pkt) {
        let index = self.stats.frames;
        self.stats.frames += 1;
        let d = Draws::take(&mut self.rng, &self.cfg);
        if d.drop {
            self.note(index, Fault::Drop);
            return;
        }
        let pkt = if d.corrupt {
            self.corrupt(index, pkt, &d)
        } else {
            pkt
        };
        let dup = if d.duplicate {
            self.duplicate(index, &pkt)
        } else {
            None
        };
        if d.reorder {
            let at = now + self.cfg.reorder_delay;
            self.held.push_back((at, pkt));
            self.held.extend(dup.map(|c| (at, c)));
            self.note(index, Fault::Reorder);
        } else {
            self.backlog.push_back(pkt);
            self.backlog.extend(dup);
        }
    }

    /// The corrupted copy of `pkt`, or `pkt` itself if it is too short or the pool is empty.
    fn corrupt(&mut self, index: u64, pkt: Pkt, d: &Draws) -> Pkt {
        if pkt.len() <= ETH_HEADER_LEN {
            return pkt;
        }
        let target = ETH_HEADER_LEN + scale(d.offset, pkt.len() - ETH_HEADER_LEN);
        let bit = (d.bit % 8) as u32;
        match corrupted_copy(&pkt, &self.pool, target, bit) {
            Some(copy) => {
                self.note(index, Fault::Corrupt);
                copy
            }
            None => {
                self.stats.nombuf += 1;
                pkt
            }
        }
    }

    fn duplicate(&mut self, index: u64, pkt: &Pkt) -> Option<Pkt> {
        let copy = pkt.deep_copy(&self.pool);
        match copy {
            Some(_) => self.note(index, Fault::Duplicate),
            None => self.stats.nombuf += 1,
        }
        copy
    }
}

impl<D: Device> Device for FaultInjector<D> {
    fn caps(&self) -> &DeviceCaps {
        &self.caps
    }

    /// Releases due held frames and retries the backlog, then receives from the inner device.
    fn rx_burst(&mut self, now: Instant, out: &mut Vec<Pkt>, max: usize) -> usize {
        let now = self.tick(now);
        self.flush(now);
        self.inner.rx_burst(now, out, max)
    }

    /// Takes every offered frame unless a backlog remains (then takes none); see the module
    /// documentation.
    fn transmit(&mut self, now: Instant, frames: &mut TxFrames<'_>) {
        let now = self.tick(now);
        if !self.flush(now) {
            return;
        }
        while let Some(pkt) = frames.take() {
            self.inject(now, pkt);
        }
        self.flush(now);
    }

    /// The earliest held release time, or the inner device's next arrival if earlier. A
    /// backlog (frames the inner device refused) is not reported: it is retried on the next
    /// call, whenever that is.
    fn next_arrival(&self) -> Option<Instant> {
        let held = self.held.front().map(|(at, _)| *at);
        match (held, self.inner.next_arrival()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
