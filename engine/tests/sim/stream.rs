//! Streams of seeded pseudo-random bytes, checked in order on arrival, and the outcome of a
//! run (equal for equal seeds).

use std::time::Duration;

use engine::Counters;
use engine::dev::fault::FaultStats;
use engine::dev::sim::SimStats;
use engine::tcp::ConnId;
use engine::time::Instant;

use super::Side;

/// `len` pseudo-random bytes drawn from `seed` (SplitMix64).
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    let mut x = seed;
    while v.len() < len {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        v.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    v.truncate(len);
    v
}

/// Bytes sent on `tx` by stack `from`, to be read on `rx` by its peer and checked in order.
#[derive(Debug)]
pub struct Stream {
    pub from: Side,
    pub tx: ConnId,
    pub rx: ConnId,
    pub data: Vec<u8>,
    /// Bytes the sender's stack took.
    pub sent: usize,
    /// Bytes read and checked.
    pub got: usize,
    /// Shut down writing after the last byte (and expect end of file).
    pub shutdown: bool,
    pub shut: bool,
    pub eof: bool,
    /// The receiving application reads (false: it leaves data in the receive buffer).
    pub read: bool,
    /// When the last byte was read.
    pub done_at: Option<Instant>,
}

impl Stream {
    /// `len` bytes from `seed`, sent by `from` on `tx`, read by the peer on `rx`.
    pub fn new(from: Side, tx: ConnId, rx: ConnId, len: usize, seed: u64) -> Stream {
        Stream {
            from,
            tx,
            rx,
            data: payload(seed, len),
            sent: 0,
            got: 0,
            shutdown: false,
            shut: false,
            eof: false,
            read: true,
            done_at: None,
        }
    }

    /// Shut down writing after the last byte, and wait for the end of file.
    pub fn with_shutdown(mut self) -> Stream {
        self.shutdown = true;
        self
    }

    pub fn done(&self) -> bool {
        self.got == self.data.len() && (!self.shutdown || self.eof)
    }

    /// Checks bytes just read against what was sent at that position.
    pub(super) fn check(&mut self, i: usize, got: &[u8], now: Instant) {
        let end = self.got + got.len();
        assert!(
            end <= self.data.len(),
            "stream {i}: {} bytes received, more than the {} sent (at {now})",
            end,
            self.data.len()
        );
        let want = &self.data[self.got..end];
        if want != got {
            let k = want.iter().zip(got).position(|(a, b)| a != b).unwrap_or(0);
            panic!(
                "stream {i}: byte {} differs (got {:#04x}, sent {:#04x}) at {now}",
                self.got + k,
                got[k],
                want[k]
            );
        }
        self.got = end;
    }
}

/// The result of a run: virtual duration, bytes, and every counter (equal for equal seeds).
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub elapsed: Duration,
    pub bytes: u64,
    pub a: Counters,
    pub b: Counters,
    pub link_a: SimStats,
    pub link_b: SimStats,
    pub fault_a: FaultStats,
    pub fault_b: FaultStats,
}

impl Outcome {
    /// Application bytes per virtual second, in Mbit/s.
    pub fn goodput_mbps(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.elapsed.as_secs_f64() / 1e6
    }

    /// Segments retransmitted by both stacks.
    pub fn retrans(&self) -> u64 {
        self.a.tcp.retrans_segs + self.b.tcp.retrans_segs
    }

    /// Retransmission timeouts of both stacks.
    pub fn timeouts(&self) -> u64 {
        self.a.tcp.timeouts + self.b.tcp.timeouts
    }
}
