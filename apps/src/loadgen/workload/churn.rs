//! `churn`: each of `conns` slots connects, sends one request, reads the response, closes (FIN,
//! or RST with `--close rst`), and starts over at once: connections per second.
//!
//! The latency recorded is the whole life of a connection, from `connect` to the last byte of
//! the response. A connection counts in the measurement window by the time it was opened.

use super::{RETRY_NS, Workload};
use crate::loadgen::net::{ErrKind, IoErr, Net, NetEvent};
use crate::loadgen::proto::{Framer, Proto};
use crate::loadgen::stats::Stats;

/// How a [`Churn`] workload runs.
#[derive(Clone, Debug)]
pub struct ChurnConfig {
    pub conns: usize,
    pub proto: Proto,
    pub request: Vec<u8>,
    pub resp_size: usize,
    /// Close with a reset instead of a FIN (no TIME_WAIT on the client).
    pub close_rst: bool,
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
    start: u64,
    tx_off: usize,
    framer: Framer,
    retry_at: u64,
}

/// The `churn` workload.
pub struct Churn<C> {
    cfg: ChurnConfig,
    slots: Vec<Slot<C>>,
    buf: Vec<u8>,
    stats: Stats,
    draining: bool,
    idle: usize,
}

impl<C: Copy + std::fmt::Debug> Churn<C> {
    pub fn new(cfg: ChurnConfig) -> Churn<C> {
        let framer = Framer::new(cfg.proto, cfg.resp_size);
        let slots = (0..cfg.conns)
            .map(|_| Slot {
                conn: None,
                st: St::Idle,
                start: 0,
                tx_off: 0,
                framer: framer.clone(),
                retry_at: 0,
            })
            .collect();
        Churn {
            slots,
            buf: vec![0; 64 * 1024],
            stats: Stats {
                asked: cfg.conns as u64,
                ..Stats::default()
            },
            draining: false,
            idle: 0,
            cfg,
        }
    }

    fn connect<N: Net<Conn = C>>(&mut self, net: &mut N, i: usize, now: u64) {
        match net.connect(i as u32) {
            Ok(c) => {
                let s = &mut self.slots[i];
                s.conn = Some(c);
                s.st = St::Connecting;
                s.start = now;
                s.tx_off = 0;
                s.framer.reset();
            }
            Err(k) => {
                self.stats.error(k);
                self.slots[i].retry_at = now + RETRY_NS;
                self.idle += 1;
            }
        }
    }

    fn release<N: Net<Conn = C>>(&mut self, net: &mut N, i: usize, abort: bool) {
        let s = &mut self.slots[i];
        if let Some(c) = s.conn.take() {
            if abort { net.abort(c) } else { net.close(c) }
        }
        if s.st == St::Ready {
            self.stats.open -= 1;
        }
        s.st = St::Idle;
    }

    fn fail<N: Net<Conn = C>>(&mut self, net: &mut N, i: usize, k: ErrKind, now: u64) {
        self.stats.error(k);
        self.release(net, i, true);
        self.slots[i].retry_at = now + RETRY_NS;
        self.idle += 1;
    }

    fn pump<N: Net<Conn = C>>(&mut self, net: &mut N, i: usize, now: u64) {
        let s = &mut self.slots[i];
        let (St::Ready, Some(c)) = (s.st, s.conn) else {
            return;
        };
        let len = self.cfg.request.len();
        if s.tx_off >= len {
            return;
        }
        if s.tx_off == 0 {
            self.stats.total.requests_sent += 1;
        }
        match net.send(c, &self.cfg.request[s.tx_off..]) {
            Ok(n) => {
                s.tx_off += n;
                self.stats.sent(n, now);
            }
            Err(IoErr::WouldBlock) => {}
            Err(IoErr::Failed(k)) => self.fail(net, i, k, now),
        }
    }

    fn read<N: Net<Conn = C>>(&mut self, net: &mut N, i: usize, now: u64) {
        let Some(c) = self.slots[i].conn else {
            return;
        };
        let mut done = 0;
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
                        done += self.slots[i].framer.feed(&self.buf[..n]);
                    }
                    Err(IoErr::WouldBlock) => break,
                    Err(IoErr::Failed(k)) => return self.fail(net, i, k, now),
                }
            }
        } else {
            match net.discard(c) {
                Ok((n, e)) => {
                    eof = e;
                    self.stats.received(n, now);
                    done = self.slots[i].framer.feed_len(n);
                }
                Err(k) => return self.fail(net, i, k, now),
            }
        }
        if done > 0 {
            let start = self.slots[i].start;
            self.stats.connection_done(start, now);
            self.release(net, i, self.cfg.close_rst);
            if !self.draining {
                self.connect(net, i, now);
            }
        } else if eof {
            self.fail(net, i, ErrKind::Other, now);
        }
    }
}

impl<C: Copy + std::fmt::Debug> Workload<C> for Churn<C> {
    fn start<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64) {
        for i in 0..self.slots.len() {
            self.connect(net, i, now);
        }
    }

    fn on_event<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64, ev: NetEvent) {
        match ev {
            NetEvent::Connected(t) => {
                let i = t as usize;
                if self.slots[i].st == St::Connecting {
                    self.slots[i].st = St::Ready;
                    self.stats.opened();
                    self.pump(net, i, now);
                }
            }
            NetEvent::Readable(t) => self.read(net, t as usize, now),
            NetEvent::Writable(t) => self.pump(net, t as usize, now),
            NetEvent::Closed(t, e) => {
                if self.slots[t as usize].conn.is_some() {
                    self.fail(net, t as usize, e.unwrap_or(ErrKind::Other), now);
                }
            }
        }
    }

    fn tick<N: Net<Conn = C>>(&mut self, net: &mut N, now: u64) {
        if self.idle > 0 && !self.draining {
            for i in 0..self.slots.len() {
                let s = &self.slots[i];
                if s.st == St::Idle && s.conn.is_none() && s.retry_at <= now {
                    self.idle -= 1;
                    self.connect(net, i, now);
                }
            }
        }
    }

    fn drain<N: Net<Conn = C>>(&mut self, _net: &mut N, _now: u64) {
        self.draining = true;
    }

    fn drained(&self) -> bool {
        self.slots.iter().all(|s| s.conn.is_none())
    }

    fn finish<N: Net<Conn = C>>(&mut self, net: &mut N, _now: u64) {
        for i in 0..self.slots.len() {
            if self.slots[i].conn.is_some() {
                self.stats.total.unfinished += 1;
            }
            self.release(net, i, false);
        }
    }

    fn stats(&mut self) -> &mut Stats {
        &mut self.stats
    }

    fn next_wakeup(&self) -> Option<u64> {
        (self.idle > 0)
            .then(|| {
                self.slots
                    .iter()
                    .filter(|s| s.st == St::Idle && s.conn.is_none())
                    .map(|s| s.retry_at)
                    .min()
            })
            .flatten()
    }
}
