//! What a worker measures, and how the coordinator sees it while it runs.
//!
//! Each worker owns a [`Stats`]: an HDR histogram of latencies in nanoseconds (3 significant
//! digits) and plain counters, updated without atomics on the hot path. A request belongs to
//! the measurement window when it *started* (was sent, or, in `rate` mode, was scheduled)
//! inside it; it is recorded when its response arrives, even if that is during the drain after
//! the window. Bytes and connections are attributed the same way. Errors and the `Totals` cover
//! the whole run (warm-up and drain included): they are what is compared with the server's
//! counters.
//!
//! Every few milliseconds a worker copies its running totals into its [`Live`] (relaxed atomic
//! stores on a cache line of its own), which the coordinator reads for the progress line.

use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};

use hdrhistogram::Histogram;

use super::net::ErrKind;

/// Highest latency the histograms hold (one hour, in nanoseconds); above it values saturate.
const MAX_NS: u64 = 3_600_000_000_000;

/// A new, empty latency histogram (1 ns .. 1 h, 3 significant digits).
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("valid histogram bounds")
}

/// Errors by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorCounts(pub [u64; 5]);

impl ErrorCounts {
    pub fn add(&mut self, k: ErrKind) {
        self.0[k.index()] += 1;
    }
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
    pub fn get(&self, k: ErrKind) -> u64 {
        self.0[k.index()]
    }
    pub fn merge(&mut self, o: &ErrorCounts) {
        for (a, b) in self.0.iter_mut().zip(o.0) {
            *a += b;
        }
    }
}

/// Counts over the whole run, warm-up and drain included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Requests whose first byte was handed to the stack.
    pub requests_sent: u64,
    /// Responses received in full.
    pub responses: u64,
    /// Payload bytes the stack accepted for sending, and payload bytes received.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Connections established, and connections that completed their job (churn).
    pub connects: u64,
    pub connections_done: u64,
    /// Requests still unanswered when the drain gave up.
    pub unfinished: u64,
    /// Iterations of the driver's loop, and those that received nothing (engine: polls of
    /// the port; kernel: epoll_wait calls).
    pub polls: u64,
    pub idle_polls: u64,
}

impl Totals {
    pub fn merge(&mut self, o: &Totals) {
        self.requests_sent += o.requests_sent;
        self.responses += o.responses;
        self.bytes_sent += o.bytes_sent;
        self.bytes_received += o.bytes_received;
        self.connects += o.connects;
        self.connections_done += o.connections_done;
        self.unfinished += o.unfinished;
        self.polls += o.polls;
        self.idle_polls += o.idle_polls;
    }
}

/// One worker's measurements.
#[derive(Clone, Debug)]
pub struct Stats {
    /// Latency of in-window requests (rpc, rate) or connections (churn), nanoseconds.
    pub hist: Histogram<u64>,
    /// The measurement window on the worker's clock (nanoseconds); `u64::MAX` until known.
    pub window_start: u64,
    pub window_end: u64,
    /// In-window counts.
    pub requests: u64,
    pub bytes_tx: u64,
    pub bytes_rx: u64,
    pub connections: u64,
    /// Whole-run counts.
    pub errors: ErrorCounts,
    pub total: Totals,
    /// Connections open now (a gauge).
    pub open: u64,
    /// Connections asked for (`--conns`; churn: its slots).
    pub asked: u64,
    /// The most connections open at once.
    pub peak_open: u64,
    /// Nanoseconds from the first connect until every connection asked for was open at once
    /// (`None`: never).
    pub all_open_ns: Option<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            hist: histogram(),
            window_start: u64::MAX,
            window_end: u64::MAX,
            requests: 0,
            bytes_tx: 0,
            bytes_rx: 0,
            connections: 0,
            errors: ErrorCounts::default(),
            total: Totals::default(),
            open: 0,
            asked: 0,
            peak_open: 0,
            all_open_ns: None,
        }
    }
}

impl Stats {
    /// Whether something that started at `t` belongs to the measurement window.
    #[inline]
    pub fn in_window(&self, t: u64) -> bool {
        t >= self.window_start && t < self.window_end
    }

    /// A response arrived at `now` for a request that started at `start`.
    #[inline]
    pub fn request_done(&mut self, start: u64, now: u64) {
        self.total.responses += 1;
        if self.in_window(start) {
            self.requests += 1;
            self.hist
                .saturating_record(now.saturating_sub(start).max(1));
        }
    }

    /// A connection opened at `start` finished its job at `now` (churn): counted as one
    /// connection and one request, its latency covering connect to response.
    #[inline]
    pub fn connection_done(&mut self, start: u64, now: u64) {
        self.total.connections_done += 1;
        if self.in_window(start) {
            self.connections += 1;
        }
        self.request_done(start, now);
    }

    #[inline]
    pub fn sent(&mut self, n: usize, now: u64) {
        self.total.bytes_sent += n as u64;
        if self.in_window(now) {
            self.bytes_tx += n as u64;
        }
    }

    #[inline]
    pub fn received(&mut self, n: usize, now: u64) {
        self.total.bytes_received += n as u64;
        if self.in_window(now) {
            self.bytes_rx += n as u64;
        }
    }

    pub fn error(&mut self, k: ErrKind) {
        self.errors.add(k);
    }

    /// A connection was established: one more open, and one more connect.
    #[inline]
    pub fn opened(&mut self) {
        self.open += 1;
        self.peak_open = self.peak_open.max(self.open);
        self.total.connects += 1;
    }

    /// Adds another worker's measurements (windows are per worker and not merged).
    pub fn merge(&mut self, o: &Stats) {
        self.hist.add(&o.hist).expect("histograms of equal bounds");
        self.requests += o.requests;
        self.bytes_tx += o.bytes_tx;
        self.bytes_rx += o.bytes_rx;
        self.connections += o.connections;
        self.errors.merge(&o.errors);
        self.total.merge(&o.total);
        self.open += o.open;
        // Workers open their connections side by side: the peaks and the asked add up, and
        // every connection was open once the slowest worker's were.
        self.all_open_ns = match (self.all_open_ns, o.all_open_ns) {
            _ if self.asked == 0 => o.all_open_ns,
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        self.asked += o.asked;
        self.peak_open += o.peak_open;
    }
}

/// Phases of a run, set by the coordinator and observed by the workers.
pub mod phase {
    /// Load runs; nothing is measured.
    pub const WARMUP: u8 = 0;
    /// Load runs and is measured.
    pub const MEASURE: u8 = 1;
    /// No new requests; wait for the answers to the ones in flight, then close.
    pub const DRAIN: u8 = 2;
    /// Give up draining (Ctrl-C twice, or the drain timeout) and close now.
    pub const STOP: u8 = 3;
}

/// A worker's running totals, for the progress line (one cache line per worker).
#[derive(Debug, Default)]
#[repr(align(128))]
pub struct Live {
    pub responses: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub connections: AtomicU64,
    pub errors: AtomicU64,
    pub open: AtomicU64,
    /// Set once the worker has exited its loop.
    pub done: AtomicU64,
    /// 1 while the worker is still opening its connections for the first time.
    pub opening: AtomicU64,
}

impl Live {
    /// Publishes `s` (relaxed stores: the reader only needs eventually-current numbers).
    pub fn publish(&self, s: &Stats) {
        let r = Ordering::Relaxed;
        self.responses.store(s.total.responses, r);
        self.bytes_sent.store(s.total.bytes_sent, r);
        self.bytes_received.store(s.total.bytes_received, r);
        self.connections.store(s.total.connections_done, r);
        self.errors.store(s.errors.total(), r);
        self.open.store(s.open, r);
    }

    /// A snapshot: (responses, bytes sent, bytes received, connections, errors, open).
    pub fn read(&self) -> [u64; 6] {
        let r = Ordering::Relaxed;
        [
            self.responses.load(r),
            self.bytes_sent.load(r),
            self.bytes_received.load(r),
            self.connections.load(r),
            self.errors.load(r),
            self.open.load(r),
        ]
    }
}

/// What the coordinator shares with the workers.
#[derive(Debug)]
pub struct Control {
    pub phase: AtomicU8,
    pub live: Vec<Live>,
    /// Workers that have opened their connections (the timeline starts when all have).
    pub started: AtomicUsize,
}

impl Control {
    pub fn new(workers: usize) -> Control {
        Control {
            phase: AtomicU8::new(phase::WARMUP),
            live: (0..workers)
                .map(|_| Live {
                    opening: AtomicU64::new(1),
                    ..Live::default()
                })
                .collect(),
            started: AtomicUsize::new(0),
        }
    }

    pub fn phase(&self) -> u8 {
        self.phase.load(Ordering::Relaxed)
    }

    /// A worker has set up its stack and opened its connections.
    pub fn worker_started(&self) {
        self.started.fetch_add(1, Ordering::Release);
    }

    pub fn all_started(&self) -> bool {
        self.started.load(Ordering::Acquire) >= self.live.len()
    }

    /// Whether a worker is still opening its connections.
    pub fn opening(&self) -> bool {
        self.live
            .iter()
            .any(|l| l.opening.load(Ordering::Relaxed) != 0 && l.done.load(Ordering::Relaxed) == 0)
    }

    pub fn set_phase(&self, p: u8) {
        self.phase.store(p, Ordering::Release);
    }
}
