//! Declared by `kernel_blackbox_loss.rs` as `#[path = "common/blackbox_loss.rs"] mod
//! blackbox_loss;` beside `mod common;`, `#[path = "common/blackbox.rs"] mod blackbox;` and
//! `#[path = "common/blackbox_conn.rs"] mod blackbox_conn;` (it refers to all three).
//!
//! The receiving end of the peer for the loss-recovery scripts: [`Receiver`] wraps a [`Conn`]
//! and plays a receiver that loses what the script says (a segment the script does not
//! [`Receiver::accept`] never arrived). It keeps out-of-order data as a receiver does and
//! acknowledges with SACK blocks when SACK was negotiated (RFC 2018 §4: the block holding the
//! segment that triggered the ACK first, then the most recently received), TSecr as RFC 7323
//! §4.3 says (the TSval of the last segment that did not lie beyond a hole), and the window
//! field the script sets in [`Receiver::window`]. Every data segment from the device is
//! recorded as an [`Arrival`] (its range of the device's stream, new data or a resend, and
//! which SACKed bytes it repeats) and every ACK as a [`SentAck`], each with the time it was
//! read or sent, so that a script can tell what came before what and how long after.
//!
//! Offsets of the device's stream ([`Range`]) are relative to its ISN + 1.

#![allow(dead_code)] // each test crate uses a different subset

use std::time::{Duration, Instant};

use crate::blackbox::{Dut, ECHO_PORT, Fam};
use crate::blackbox_conn::Conn;
use crate::common::packets::{ACK, PSH, SYN, Tcp, TcpOpt};

/// How long a script waits for the device to repair a loss before it fails the test: a hang
/// guard, generous, for a device that repairs each hole with a backed-off RTO.
pub const RECOVERY: Duration = Duration::from_secs(30);

/// A range `[start, end)` of the device's stream, relative to its ISN + 1.
pub type Range = (u32, u32);

/// Our SYN's options: MSS `mss`, SACK-permitted if `sack`, timestamps if `ts`, window scale 7
/// (the order Linux uses).
pub fn syn_options(mss: u16, sack: bool, ts: bool) -> Vec<TcpOpt> {
    let mut o = vec![TcpOpt::Mss(mss)];
    if sack {
        o.push(TcpOpt::SackPermitted);
    }
    if ts {
        o.push(TcpOpt::Timestamps { val: 0, ecr: 0 });
    }
    o.extend([TcpOpt::Nop, TcpOpt::WindowScale(7)]);
    o
}

/// `n` bytes of a pattern that differs with `salt` (and from one segment to the next).
pub fn pattern(n: usize, salt: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(7) ^ (i >> 8).wrapping_add(salt)) as u8)
        .collect()
}

pub fn overlaps(a: Range, b: Range) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// Milliseconds from `from` to `to`, negative if `to` came first (for the log).
pub fn ms(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64() * 1e3
    } else {
        -(from - to).as_secs_f64() * 1e3
    }
}

/// Whether `to` came less than `bound` after `from` (or before it).
pub fn within(from: Instant, to: Instant, bound: Duration) -> bool {
    to < from + bound
}

/// A data segment from the device, as read.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub at: Instant,
    pub range: Range,
    /// Its place (from 1) among the segments that brought new data (starting at or beyond
    /// the highest byte seen before); `None` for a resend.
    pub ordinal: Option<usize>,
    /// The parts of it we had already SACKed when it came.
    pub sacked_again: Vec<Range>,
}

/// An ACK we sent: acknowledgment and SACK blocks relative to the device's ISN + 1.
#[derive(Clone, Debug)]
pub struct SentAck {
    pub at: Instant,
    pub ack: u32,
    pub sack: Vec<Range>,
    pub window: u16,
}

/// A segment of the connection from the device.
pub struct Got {
    pub t: Tcp,
    /// Its index in [`Receiver::arrivals`] if it carries data.
    pub arrival: Option<usize>,
}

/// The peer's end of an echo connection, receiving as a script says (see the module doc).
pub struct Receiver<'a> {
    pub c: Conn<'a>,
    /// The device's ISN + 1.
    base: u32,
    /// SACK was negotiated.
    pub sack: bool,
    /// The window field of what we send.
    pub window: u16,
    /// How much the window field grows in each ACK (a Linux receiver's grows as it reads).
    pub grow: u16,
    /// Out-of-order data: start, bytes, and when it came (a counter, for the block order).
    held: Vec<(u32, Vec<u8>, usize)>,
    accepted: usize,
    /// Everything we have SACKed, merged.
    sacked: Vec<Range>,
    /// The end of the highest data seen.
    highest: u32,
    pub arrivals: Vec<Arrival>,
    pub acks: Vec<SentAck>,
}

impl<'a> Receiver<'a> {
    /// Connects from `sport` with our ISN `isn` and SYN `options` to the echo port.
    pub fn connect(
        d: &'a Dut,
        fam: Fam,
        sport: u16,
        isn: u32,
        options: Vec<TcpOpt>,
    ) -> Receiver<'a> {
        let mut c = Conn::new(d, fam, sport, ECHO_PORT, isn);
        let offered_sack = options.contains(&TcpOpt::SackPermitted);
        let synack = c.connect(options);
        if !synack.has(SYN | ACK) {
            d.fail(&format!("no SYN-ACK: {synack}"));
        }
        Receiver {
            c,
            base: synack.seq.wrapping_add(1),
            sack: offered_sack && synack.sack_permitted(),
            window: 65535,
            grow: 0,
            held: Vec::new(),
            accepted: 0,
            sacked: Vec::new(),
            highest: 0,
            arrivals: Vec::new(),
            acks: Vec::new(),
        }
    }

    fn rel(&self, seq: u32) -> u32 {
        seq.wrapping_sub(self.base)
    }

    /// Where we are: the acknowledgment we send, relative.
    pub fn rcv(&self) -> u32 {
        self.rel(self.c.rcv_nxt)
    }

    /// Sends `data` to the echo server in segments of `chunk` bytes, PSH on the last.
    pub fn send_data(&mut self, data: &[u8], chunk: usize) {
        let n = data.chunks(chunk).count();
        for (i, part) in data.chunks(chunk).enumerate() {
            let flags = if i + 1 == n { PSH | ACK } else { ACK };
            self.send_segment(flags, part, Vec::new());
        }
    }

    fn send_segment(&mut self, flags: u8, payload: &[u8], sack: Vec<Range>) {
        let mut options = Vec::new();
        if self.c.ts {
            let val = self.c.next_tsval();
            let ecr = self.c.ts_recent;
            options.extend([TcpOpt::Nop, TcpOpt::Nop, TcpOpt::Timestamps { val, ecr }]);
        }
        if !sack.is_empty() {
            let abs = |x: u32| self.base.wrapping_add(x);
            let blocks = sack.iter().map(|&(l, r)| (abs(l), abs(r))).collect();
            options.extend([TcpOpt::Nop, TcpOpt::Nop, TcpOpt::Sack(blocks)]);
        }
        let mut t = self.c.segment(flags, options, payload);
        t.window = self.window;
        self.c.d.send(&self.c.frame(&t));
        self.c.snd_nxt = self.c.snd_nxt.wrapping_add(t.seg_len());
    }

    /// The connection's next segment from the device before `deadline`, recorded (and, if it
    /// carries data, classified as an [`Arrival`]) but not yet accepted.
    pub fn next(&mut self, deadline: Instant) -> Option<Got> {
        loop {
            let p = self.c.d.recv(deadline)?;
            let Some(t) = self.c.ours(&p).cloned() else {
                continue;
            };
            self.c.bad_checksums += usize::from(!p.checksums_ok);
            self.c.segs.push(t.clone());
            let arrival = (!t.payload.is_empty()).then(|| self.record(&t));
            return Some(Got { t, arrival });
        }
    }

    fn record(&mut self, t: &Tcp) -> usize {
        let start = self.rel(t.seq);
        let range = (start, start + t.payload.len() as u32);
        let ordinal = (start >= self.highest)
            .then(|| 1 + self.arrivals.iter().filter(|a| a.ordinal.is_some()).count());
        let sacked_again = self
            .sacked
            .iter()
            .filter(|s| overlaps(**s, range))
            .map(|s| (s.0.max(range.0), s.1.min(range.1)))
            .collect();
        self.highest = self.highest.max(range.1);
        self.arrivals.push(Arrival {
            at: Instant::now(),
            range,
            ordinal,
            sacked_again,
        });
        self.arrivals.len() - 1
    }

    /// Takes `t`'s data in (in order: appended to `received`, with any held data it joins;
    /// beyond a hole: held), without acknowledging it.
    pub fn accept(&mut self, t: &Tcp) {
        let start = self.rel(t.seq);
        let rcv = self.rcv();
        if start <= rcv
            && let Some((val, _)) = t.timestamps()
        {
            self.c.ts_recent = val;
        }
        self.accepted += 1;
        if start > rcv {
            self.held.push((start, t.payload.clone(), self.accepted));
            return;
        }
        self.append(start, &t.payload);
        // Held data that now joins the stream.
        while let Some(i) = self
            .held
            .iter()
            .position(|(s, b, _)| *s <= self.rcv() && *s + b.len() as u32 > self.rcv())
        {
            let (s, b, _) = self.held.swap_remove(i);
            self.append(s, &b);
        }
        let rcv = self.rcv();
        self.held.retain(|(s, b, _)| *s + b.len() as u32 > rcv);
    }

    fn append(&mut self, start: u32, bytes: &[u8]) {
        let skip = (self.rcv() - start) as usize;
        if skip < bytes.len() {
            self.c.received.extend_from_slice(&bytes[skip..]);
            let n = (bytes.len() - skip) as u32;
            self.c.rcv_nxt = self.c.rcv_nxt.wrapping_add(n);
        }
    }

    /// The SACK blocks of our next ACK: the held data merged, the most recently received
    /// first, at most 3 with timestamps (4 without).
    pub fn sack_blocks(&self) -> Vec<Range> {
        let mut held: Vec<(u32, u32, usize)> = self
            .held
            .iter()
            .map(|(s, b, n)| (*s, *s + b.len() as u32, *n))
            .collect();
        held.sort();
        let mut merged: Vec<(u32, u32, usize)> = Vec::new();
        for (s, e, n) in held {
            match merged.last_mut() {
                Some(m) if s <= m.1 => {
                    m.1 = m.1.max(e);
                    m.2 = m.2.max(n);
                }
                _ => merged.push((s, e, n)),
            }
        }
        merged.sort_by_key(|m| std::cmp::Reverse(m.2));
        merged.truncate(if self.c.ts { 3 } else { 4 });
        merged.into_iter().map(|(s, e, _)| (s, e)).collect()
    }

    /// Sends an ACK of what we have, with SACK blocks if SACK was negotiated.
    pub fn ack(&mut self) {
        let sack = if self.sack {
            self.sack_blocks()
        } else {
            Vec::new()
        };
        for b in &sack {
            self.note_sacked(*b);
        }
        self.window = self.window.saturating_add(self.grow);
        self.send_segment(ACK, &[], sack.clone());
        self.acks.push(SentAck {
            at: Instant::now(),
            ack: self.rcv(),
            sack,
            window: self.window,
        });
    }

    fn note_sacked(&mut self, b: Range) {
        self.sacked.push(b);
        self.sacked.sort();
        let mut merged: Vec<Range> = Vec::new();
        for r in self.sacked.drain(..) {
            match merged.last_mut() {
                Some(m) if r.0 <= m.1 => m.1 = m.1.max(r.1),
                _ => merged.push(r),
            }
        }
        self.sacked = merged;
    }

    /// Accepts `t` and acknowledges it.
    pub fn take(&mut self, t: &Tcp) {
        self.accept(t);
        self.ack();
    }

    /// Takes in everything the device sends (acknowledging each data segment) until `len`
    /// bytes have been received in order; fails the test after [`RECOVERY`].
    pub fn finish(&mut self, what: &str, len: usize) {
        let deadline = Instant::now() + RECOVERY;
        while self.c.received.len() < len {
            let Some(g) = self.next(deadline) else {
                self.c.d.fail(&format!(
                    "{what}: {} of {len} bytes within {RECOVERY:?}",
                    self.c.received.len()
                ));
            };
            if g.arrival.is_some() {
                self.take(&g.t);
            }
        }
    }

    /// Reads the device's segments, handing each to `on`, until none has come for `quiet`;
    /// fails the test after [`RECOVERY`].
    pub fn until_quiet(&mut self, quiet: Duration, mut on: impl FnMut(&mut Receiver<'a>, Got)) {
        let end = Instant::now() + RECOVERY;
        loop {
            let deadline = (Instant::now() + quiet).min(end);
            match self.next(deadline) {
                Some(g) => on(self, g),
                None if Instant::now() >= end => self.c.d.fail("the device never went quiet"),
                None => return,
            }
        }
    }

    /// The resends (arrivals that brought no new data), in order.
    pub fn resends(&self) -> impl Iterator<Item = &Arrival> {
        self.arrivals.iter().filter(|a| a.ordinal.is_none())
    }

    /// The first resend of anything in `hole`.
    pub fn first_resend_of(&self, hole: Range) -> Option<&Arrival> {
        self.resends().find(|a| overlaps(a.range, hole))
    }

    /// The last ACK we sent before `at` that moved the acknowledgment forward (restarting the
    /// device's retransmission timer, RFC 6298 §5.3).
    pub fn last_advance_before(&self, at: Instant) -> Option<&SentAck> {
        let mut prev = None;
        let mut last = None;
        for a in self.acks.iter().take_while(|a| a.at < at) {
            if prev.is_none_or(|p| a.ack > p) {
                last = Some(a);
            }
            prev = Some(a.ack);
        }
        last
    }

    /// Prints every data segment and ACK with its time after `t0`, for the record.
    pub fn print_timeline(&self, what: &str, t0: Instant) {
        let mut lines: Vec<(Instant, String)> = self
            .arrivals
            .iter()
            .map(|a| {
                let kind = a
                    .ordinal
                    .map_or("RESEND".to_string(), |n| format!("new #{n}"));
                (a.at, format!("<- data {:?} {kind}", a.range))
            })
            .collect();
        lines.extend(self.acks.iter().map(|a| {
            let line = format!("-> ack {} sack {:?} win {}", a.ack, a.sack, a.window);
            (a.at, line)
        }));
        lines.sort_by_key(|l| l.0);
        eprintln!("{what}: data and ACKs, ms after the reference point:");
        for (at, line) in lines {
            eprintln!("  {:>9.3} {line}", ms(t0, at));
        }
    }
}
