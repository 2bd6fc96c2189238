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

use super::net::{Net, NetEvent};
use super::stats::Stats;

/// How long a slot waits before reconnecting after a failure (so that a refusing target does
/// not turn the run into a reconnect storm).
pub const RETRY_NS: u64 = 10_000_000;

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
