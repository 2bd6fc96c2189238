//! `rpc` (closed loop) and `rate` (open loop) request/response workloads.
//!
//! Closed loop: each connection keeps `pipeline` requests in flight; a response lets the next
//! request go. Latency runs from the moment a request is handed to the stack.
//!
//! Open loop: requests are scheduled at `rate` per second (constant gaps, or exponential gaps
//! for Poisson arrivals) whatever the responses do, and assigned round-robin to connections.
//! A connection sends a scheduled request as soon as it has fewer than `pipeline` in flight;
//! until then the request waits in the connection's queue. Latency runs from the *scheduled*
//! time, so a stall of the server or of the stack shows in full in the percentiles (the
//! coordinated-omission correction of wrk2), and a request is counted in the measurement window
//! by its scheduled time.

use std::collections::VecDeque;

use super::{Opener, Rng, Workload};
use crate::loadgen::net::{ErrKind, IoErr, Net, NetEvent};
use crate::loadgen::proto::{Framer, Proto};
use crate::loadgen::stats::Stats;

/// Open-loop arrivals.
#[derive(Clone, Debug)]
pub struct OpenLoop {
    /// Requests per second for this worker.
    pub rate: f64,
    /// Exponential gaps (Poisson process) instead of constant ones.
    pub poisson: bool,
    pub seed: u64,
}

/// How an [`Rpc`] workload runs.
#[derive(Clone, Debug)]
pub struct RpcConfig {
    /// Connections of this worker.
    pub conns: usize,
    /// Requests in flight per connection, at most.
    pub pipeline: usize,
    pub proto: Proto,
    /// The bytes of one request.
    pub request: Vec<u8>,
    /// Bytes of one response (fixed framing).
    pub resp_size: usize,
    /// `Some` for the open loop (`rate`), `None` for the closed loop (`rpc`).
    pub open_loop: Option<OpenLoop>,
    /// Most handshakes in flight at a time (see [`Opener`]).
    pub handshakes: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    Idle,
    Connecting,
    Ready,
}

struct Slot<C> {
    conn: Option<C>,
    st: St,
    /// Start times of the requests sent and not yet answered, oldest first.
    inflight: VecDeque<u64>,
    /// Open loop: scheduled times of requests waiting for the connection.
    queued: VecDeque<u64>,
    /// Bytes of the request being sent that the stack has taken (0: none in progress).
    tx_off: usize,
    framer: Framer,
}

/// The `rpc` and `rate` workloads.
pub struct Rpc<C> {
    cfg: RpcConfig,
    slots: Vec<Slot<C>>,
    buf: Vec<u8>,
    stats: Stats,
    draining: bool,
    /// Open loop: the next scheduled arrival (ns, fractional for exact constant rates).
    next_arrival: f64,
    gap_ns: f64,
    rng: Rng,
    rr: usize,
    /// Slots waiting to connect, paced.
    opener: Opener,
}

impl<C: Copy + std::fmt::Debug> Rpc<C> {
    pub fn new(cfg: RpcConfig) -> Rpc<C> {
        let framer = Framer::new(cfg.proto, cfg.resp_size);
        let queue_cap = if cfg.open_loop.is_some() { 256 } else { 0 };
        let slots = (0..cfg.conns)
            .map(|_| Slot {
                conn: None,
                st: St::Idle,
                inflight: VecDeque::with_capacity(cfg.pipeline.max(1)),
                queued: VecDeque::with_capacity(queue_cap),
                tx_off: 0,
                framer: framer.clone(),
            })
            .collect();
        let (gap_ns, seed) = cfg
            .open_loop
            .as_ref()
            .map_or((0.0, 0), |o| (1e9 / o.rate.max(1e-9), o.seed));
        let stats = Stats {
            asked: cfg.conns as u64,
            ..Stats::default()
        };
        Rpc {
            opener: Opener::new(cfg.conns, cfg.handshakes),
            slots,
            buf: vec![0; 64 * 1024],
            stats,
            draining: false,
            next_arrival: 0.0,
            gap_ns,
            rng: Rng::new(seed),
            rr: 0,
            cfg,
        }
    }

    /// Connects the slots that are due, as far as the bound on handshakes allows.
    fn open_more<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64) {
        if self.draining {
            return;
        }
        while let Some(i) = self.opener.next_due(now) {
            match net.connect(i as u32) {
                Ok(c) => {
                    let s = &mut self.slots[i];
                    s.conn = Some(c);
                    s.st = St::Connecting;
                    self.opener.attempted();
                }
                Err(k) => {
                    self.stats.error(k);
                    self.opener.failed(i, false, now);
                }
            }
        }
    }

    /// Releases slot `i`'s connection (reset if `abort`); in-flight requests are lost.
    fn release<N: Net<Conn = C>>(&mut self, net: &mut N, i: usize, abort: bool) {
        let s = &mut self.slots[i];
        if let Some(c) = s.conn.take() {
            if abort { net.abort(c) } else { net.close(c) }
        }
        if s.st == St::Ready {
            self.stats.open -= 1;
        }
        s.st = St::Idle;
        s.inflight.clear();
        s.tx_off = 0;
        s.framer.reset();
    }

    /// Slot `i`'s connection failed: count it, release it, reconnect later.
    fn fail<N: Net<Conn = C>>(&mut self, net: &mut N, i: usize, k: ErrKind, now: u64) {
        self.stats.error(k);
        let was_connecting = self.slots[i].st == St::Connecting;
        self.release(net, i, true);
        self.opener.failed(i, was_connecting, now);
        self.open_more(net, now);
    }

    /// Sends what slot `i` may send now.
    fn pump<N: Net<Conn = C>>(&mut self, net: &mut N, i: usize, now: u64) {
        let open = self.cfg.open_loop.is_some();
        let len = self.cfg.request.len();
        loop {
            let s = &mut self.slots[i];
            let (St::Ready, Some(c)) = (s.st, s.conn) else {
                return;
            };
            if s.tx_off == 0 {
                if s.inflight.len() >= self.cfg.pipeline {
                    return;
                }
                let start = if open {
                    match s.queued.pop_front() {
                        Some(t) => t,
                        None => return,
                    }
                } else if self.draining {
                    return;
                } else {
                    now
                };
                s.inflight.push_back(start);
                self.stats.total.requests_sent += 1;
            }
            match net.send(c, &self.cfg.request[s.tx_off..]) {
                Ok(n) => {
                    s.tx_off += n;
                    self.stats.sent(n, now);
                    if s.tx_off < len {
                        return; // the rest goes on Writable
                    }
                    s.tx_off = 0;
                }
                Err(IoErr::WouldBlock) => return,
                Err(IoErr::Failed(k)) => return self.fail(net, i, k, now),
            }
        }
    }

    /// Reads what slot `i` has received and completes the answered requests.
    fn read<N: Net<Conn = C>>(&mut self, net: &mut N, i: usize, now: u64) {
        let Some(c) = self.slots[i].conn else {
            return;
        };
        let mut eof = false;
        if self.slots[i].framer.needs_bytes() {
            loop {
                match net.recv(c, &mut self.buf) {
                    Ok(0) => {
                        eof = true;
                        break;
                    }
                    Ok(n) => {
                        self.stats.received(n, now);
                        let done = self.slots[i].framer.feed(&self.buf[..n]);
                        self.complete(i, done, now);
                    }
                    Err(IoErr::WouldBlock) => break,
                    Err(IoErr::Failed(k)) => return self.fail(net, i, k, now),
                }
            }
        } else {
            match net.discard(c) {
                Ok((n, e)) => {
                    eof = e;
                    if n > 0 {
                        self.stats.received(n, now);
                        let done = self.slots[i].framer.feed_len(n);
                        self.complete(i, done, now);
                    }
                }
                Err(k) => return self.fail(net, i, k, now),
            }
        }
        if eof {
            let s = &self.slots[i];
            if self.draining && s.inflight.is_empty() && s.queued.is_empty() {
                self.release(net, i, false);
            } else {
                // The server closed while requests were due: an error.
                self.fail(net, i, ErrKind::Other, now);
            }
            return;
        }
        self.pump(net, i, now);
    }

    fn complete(&mut self, i: usize, done: u32, now: u64) {
        for _ in 0..done {
            match self.slots[i].inflight.pop_front() {
                Some(start) => self.stats.request_done(start, now),
                None => break, // more responses than requests: not an echo-like server
            }
        }
    }

    fn schedule<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64) {
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        while self.next_arrival <= now as f64 {
            let at = self.next_arrival as u64;
            let i = self.rr;
            self.rr = (self.rr + 1) % n;
            self.slots[i].queued.push_back(at);
            let gap = if self.cfg.open_loop.as_ref().is_some_and(|o| o.poisson) {
                self.rng.exp_ns(self.gap_ns)
            } else {
                self.gap_ns
            };
            self.next_arrival += gap;
            self.pump(net, i, now);
        }
    }
}

impl<C: Copy + std::fmt::Debug> Workload<C> for Rpc<C> {
    fn start<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64) {
        self.next_arrival = now as f64;
        self.open_more(net, now);
    }

    fn on_event<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64, ev: NetEvent) {
        match ev {
            NetEvent::Connected(t) => {
                let i = t as usize;
                if self.slots[i].st == St::Connecting {
                    self.slots[i].st = St::Ready;
                    self.stats.opened();
                    let (open, asked) = (self.stats.open, self.slots.len());
                    self.opener.connected(open, asked, now);
                    self.pump(net, i, now);
                    self.open_more(net, now);
                }
            }
            NetEvent::Readable(t) => self.read(net, t as usize, now),
            NetEvent::Writable(t) => self.pump(net, t as usize, now),
            NetEvent::Closed(t, e) => {
                let i = t as usize;
                if self.slots[i].conn.is_some() {
                    let s = &self.slots[i];
                    let quiet = e.is_none() && s.inflight.is_empty() && self.draining;
                    if quiet {
                        self.release(net, i, false);
                    } else {
                        self.fail(net, i, e.unwrap_or(ErrKind::Other), now);
                    }
                }
            }
        }
    }

    fn tick<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64) {
        if self.cfg.open_loop.is_some() && !self.draining {
            self.schedule(net, now);
        }
        self.open_more(net, now);
    }

    fn drain<N: Net<Conn = C>>(&mut self, _net: &mut N, _now: u64) {
        self.draining = true;
    }

    fn drained(&self) -> bool {
        self.slots.iter().all(|s| {
            s.tx_off == 0 && s.inflight.is_empty() && (s.queued.is_empty() || s.st == St::Idle)
        })
    }

    fn finish<N: Net<Conn = C>>(&mut self, net: &mut N, _now: u64) {
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            self.stats.total.unfinished += (s.inflight.len() + s.queued.len()) as u64;
            self.slots[i].queued.clear();
            self.release(net, i, false);
        }
    }

    fn stats(&mut self) -> &mut Stats {
        self.stats.all_open_ns = self.opener.all_open_ns;
        &mut self.stats
    }

    fn opening(&self) -> bool {
        !self.opener.settled()
    }

    fn next_wakeup(&self) -> Option<u64> {
        let arrival =
            (self.cfg.open_loop.is_some() && !self.draining).then_some(self.next_arrival as u64);
        let retry = (!self.draining)
            .then(|| self.opener.next_wakeup())
            .flatten();
        arrival.into_iter().chain(retry).min()
    }
}
