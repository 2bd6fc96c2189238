//! `stream`: bulk transfer on a few long connections, reported in Gbit/s.
//!
//! - `tx`: send as fast as the stack takes data; whatever comes back is read and discarded
//!   (so the same run works against a sink, which sends nothing, and an echo server).
//! - `rx`: receive as fast as possible. The client sends only to prompt the server: it keeps at
//!   most `window` bytes sent and not yet received back, which against an echo server makes the
//!   server's sending the bottleneck measured. Against a server that sends on its own, the
//!   prompt bytes are harmless.
//! - `both`: send and receive at full speed at once (against an echo server both directions
//!   carry the full rate).
//!
//! At the end the client shuts down its sending side and reads until the server closes (echo
//! and sink close after our FIN), so every byte sent was received before the connection goes.

use super::{RETRY_NS, Workload};
use crate::loadgen::net::{ErrKind, IoErr, Net, NetEvent};
use crate::loadgen::stats::Stats;

/// Which way the bulk data flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Tx,
    Rx,
    Both,
}

/// How a [`Stream`] workload runs.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    pub conns: usize,
    pub direction: Direction,
    /// Bytes per send call.
    pub chunk: usize,
    /// `rx`: most bytes sent and not yet received back.
    pub window: usize,
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
    sent: u64,
    received: u64,
    retry_at: u64,
}

/// The `stream` workload.
pub struct Stream<C> {
    cfg: StreamConfig,
    slots: Vec<Slot<C>>,
    data: Vec<u8>,
    stats: Stats,
    draining: bool,
    idle: usize,
}

impl<C: Copy + std::fmt::Debug> Stream<C> {
    pub fn new(cfg: StreamConfig) -> Stream<C> {
        let slots = (0..cfg.conns)
            .map(|_| Slot {
                conn: None,
                st: St::Idle,
                sent: 0,
                received: 0,
                retry_at: 0,
            })
            .collect();
        Stream {
            data: (0..cfg.chunk.max(1)).map(|i| (i * 7) as u8).collect(),
            slots,
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
                s.sent = 0;
                s.received = 0;
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
        if self.draining {
            return;
        }
        loop {
            let s = &mut self.slots[i];
            let (St::Ready, Some(c)) = (s.st, s.conn) else {
                return;
            };
            let mut len = self.data.len();
            if self.cfg.direction == Direction::Rx {
                let outstanding = (s.sent - s.received) as usize;
                len = len.min(self.cfg.window.saturating_sub(outstanding));
                if len == 0 {
                    return;
                }
            }
            match net.send(c, &self.data[..len]) {
                Ok(n) => {
                    s.sent += n as u64;
                    self.stats.sent(n, now);
                    if n < len {
                        return;
                    }
                }
                Err(IoErr::WouldBlock) => return,
                Err(IoErr::Failed(k)) => return self.fail(net, i, k, now),
            }
        }
    }

    fn read<N: Net<Conn = C>>(&mut self, net: &mut N, i: usize, now: u64) {
        let Some(c) = self.slots[i].conn else {
            return;
        };
        match net.discard(c) {
            Ok((n, eof)) => {
                self.slots[i].received += n as u64;
                self.stats.received(n, now);
                if eof {
                    if self.draining {
                        self.release(net, i, false);
                    } else {
                        self.fail(net, i, ErrKind::Other, now);
                    }
                    return;
                }
            }
            Err(k) => return self.fail(net, i, k, now),
        }
        self.pump(net, i, now);
    }
}

impl<C: Copy + std::fmt::Debug> Workload<C> for Stream<C> {
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
                let i = t as usize;
                if self.slots[i].conn.is_some() {
                    match e {
                        None if self.draining => self.release(net, i, false),
                        _ => self.fail(net, i, e.unwrap_or(ErrKind::Other), now),
                    }
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

    fn drain<N: Net<Conn = C>>(&mut self, net: &mut N, _now: u64) {
        self.draining = true;
        for s in &self.slots {
            if let (St::Ready, Some(c)) = (s.st, s.conn) {
                net.shutdown(c);
            }
        }
    }

    fn drained(&self) -> bool {
        self.slots.iter().all(|s| s.st != St::Ready)
    }

    fn finish<N: Net<Conn = C>>(&mut self, net: &mut N, _now: u64) {
        for i in 0..self.slots.len() {
            if self.slots[i].st == St::Ready {
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
