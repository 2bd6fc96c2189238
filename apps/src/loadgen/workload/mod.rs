//! The workloads, written once over [`Net`] and driven identically by the engine and kernel
//! drivers:
//!
//! - [`rpc::Rpc`]: `rpc` (closed loop: each of C connections keeps P requests in flight) and
//!   `rate` (open loop: requests are *scheduled* at a fixed rate, Poisson or constant, and
//!   assigned round-robin to connections; a request that finds its connection busy waits in that
//!   connection's queue and its latency counts from the schedule, as wrk2 does);
//! - [`stream::Stream`]: bulk transfer one way or both ways;
//! - [`churn::Churn`]: connect, one request, response, close, as fast as possible.
//!
//! A driver calls [`Workload::start`] once, then in its loop hands every stack event to
//! [`Workload::on_event`] and calls [`Workload::tick`]; at the end of the measurement it calls
//! [`Workload::drain`] (no new requests), polls until [`Workload::drained`] (or a timeout), and
//! calls [`Workload::finish`] to close every connection. Per-connection state is preallocated
//! in a `Vec` indexed by the connection's token: nothing is allocated per request.

pub mod churn;
pub mod rpc;
pub mod stream;

use std::collections::VecDeque;

use super::net::{Net, NetEvent};
use super::stats::Stats;

/// How long a slot waits before reconnecting after a failure (so that a refusing target does
/// not turn the run into a reconnect storm).
pub const RETRY_NS: u64 = 10_000_000;

/// Default bound on one core's handshakes in flight (`--handshakes`).
pub const HANDSHAKES: usize = 256;

/// Paced connection establishment: the slots waiting to connect, in the order they may, and
/// a bound on the handshakes in flight. A connect storm (every SYN of 100,000 connections in
/// one poll) fills every queue on the way, and what they drop comes back as retransmissions
/// a second later; with the bound, at most `max` SYNs wait anywhere at a time and each new
/// connection starts when an earlier handshake ends.
///
/// Invariants: a slot is in the queue at most once, while it has no connection; the queue is
/// ordered by `retry_at` (first attempts at 0, retries at their failure time plus
/// [`RETRY_NS`], which only grows), so the front is always the next one due and nothing is
/// rescanned.
#[derive(Debug)]
pub struct Opener {
    queue: VecDeque<u32>,
    retry_at: Vec<u64>,
    /// Handshakes in flight (connect called, neither connected nor failed yet).
    connecting: usize,
    max: usize,
    started: u64,
    /// Nanoseconds from the first connect until every slot was open at once, once reached.
    pub all_open_ns: Option<u64>,
}

impl Opener {
    /// `slots` slots, all waiting for their first attempt, at most `max` (at least one)
    /// handshakes at a time.
    pub fn new(slots: usize, max: usize) -> Opener {
        Opener {
            queue: (0..slots as u32).collect(),
            retry_at: vec![0; slots],
            connecting: 0,
            max: max.max(1),
            started: u64::MAX,
            all_open_ns: None,
        }
    }

    /// The next slot to connect at `now`, if the bound allows one and one is due; the caller
    /// connects it and reports [`Opener::attempted`] or [`Opener::failed`].
    pub fn next_due(&mut self, now: u64) -> Option<usize> {
        if self.connecting >= self.max {
            return None;
        }
        let &i = self.queue.front()?;
        if self.retry_at[i as usize] > now {
            return None;
        }
        self.started = self.started.min(now);
        self.queue.pop_front();
        Some(i as usize)
    }

    /// Slot `i`'s connect started a handshake.
    pub fn attempted(&mut self) {
        self.connecting += 1;
    }

    /// A handshake completed; `open` connections are open now, of `asked`.
    pub fn connected(&mut self, open: u64, asked: usize, now: u64) {
        self.connecting = self.connecting.saturating_sub(1);
        if self.all_open_ns.is_none() && open as usize >= asked {
            self.all_open_ns = Some(now.saturating_sub(self.started));
        }
    }

    /// Slot `i` failed (its handshake if `was_connecting`, or its connect call); it tries
    /// again [`RETRY_NS`] after `now`, behind the slots already waiting.
    pub fn failed(&mut self, i: usize, was_connecting: bool, now: u64) {
        if was_connecting {
            self.connecting = self.connecting.saturating_sub(1);
        }
        self.retry_at[i] = now + RETRY_NS;
        self.queue.push_back(i as u32);
    }

    /// Slots waiting to connect.
    pub fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Whether every slot has had its first attempt and none is in a handshake.
    pub fn settled(&self) -> bool {
        self.connecting == 0
            && self
                .queue
                .front()
                .is_none_or(|&i| self.retry_at[i as usize] > 0)
    }

    /// When the next waiting slot is due, if any waits.
    pub fn next_wakeup(&self) -> Option<u64> {
        self.queue.front().map(|&i| self.retry_at[i as usize])
    }
}

/// What a driver calls.
pub trait Workload<C: Copy + std::fmt::Debug> {
    /// Opens the connections.
    fn start<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64);
    /// Handles one event of the stack.
    fn on_event<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64, ev: NetEvent);
    /// Time-driven work: scheduled requests (rate), reconnects after failures.
    fn tick<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64);
    /// Stops starting new requests, transfers or connections.
    fn drain<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64);
    /// True once nothing started is still unfinished.
    fn drained(&self) -> bool;
    /// Releases every connection; what is still unanswered is counted as unfinished.
    fn finish<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64);
    /// The measurements so far.
    fn stats(&mut self) -> &mut Stats;
    /// The next instant `tick` has work (for drivers that sleep), if any.
    fn next_wakeup(&self) -> Option<u64>;
    /// True while connections are still being opened for the first time (the measurement
    /// waits for them, see `run::coordinate`).
    fn opening(&self) -> bool {
        false
    }
}

/// One of the workloads (static dispatch).
pub enum AnyWorkload<C> {
    Rpc(rpc::Rpc<C>),
    Stream(stream::Stream<C>),
    Churn(churn::Churn<C>),
}

macro_rules! each {
    ($self:expr, $w:ident => $e:expr) => {
        match $self {
            AnyWorkload::Rpc($w) => $e,
            AnyWorkload::Stream($w) => $e,
            AnyWorkload::Churn($w) => $e,
        }
    };
}

impl<C: Copy + std::fmt::Debug> Workload<C> for AnyWorkload<C> {
    fn start<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64) {
        each!(self, w => w.start(net, now))
    }
    #[inline]
    fn on_event<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64, ev: NetEvent) {
        each!(self, w => w.on_event(net, now, ev))
    }
    #[inline]
    fn tick<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64) {
        each!(self, w => w.tick(net, now))
    }
    fn drain<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64) {
        each!(self, w => w.drain(net, now))
    }
    fn drained(&self) -> bool {
        each!(self, w => w.drained())
    }
    fn finish<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64) {
        each!(self, w => w.finish(net, now))
    }
    fn stats(&mut self) -> &mut Stats {
        each!(self, w => w.stats())
    }
    fn next_wakeup(&self) -> Option<u64> {
        each!(self, w => w.next_wakeup())
    }
    fn opening(&self) -> bool {
        each!(self, w => w.opening())
    }
}

/// A small, fast, seeded generator (xorshift64*), for arrival times.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so that nearby seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in (0, 1].
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// An exponentially distributed gap of mean `mean_ns` (Poisson arrivals).
    pub fn exp_ns(&mut self, mean_ns: f64) -> f64 {
        -self.unit().ln() * mean_ns
    }
}
