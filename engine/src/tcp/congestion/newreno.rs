//! NewReno: RFC 5681 slow start and congestion avoidance with RFC 3465 appropriate byte
//! counting and the RFC 6928 initial window. The reduction during fast recovery is PRR's
//! (RFC 6937, `tcp::recovery`), which brings `cwnd` to the `ssthresh` chosen here.
//!
//! - Slow start (`cwnd < ssthresh`): each ACK grows `cwnd` by the bytes it acknowledges, at most
//!   `L = 2*SMSS` (RFC 3465 §2.2), or `L = 1*SMSS` in the slow start that follows an RTO
//!   (RFC 3465 §2.3). Growth stops at `ssthresh`; the rest of the ACK counts towards avoidance.
//! - Congestion avoidance: byte counting (RFC 3465 §2.1, RFC 5681 §3.1): `cwnd += SMSS` once
//!   per `cwnd` bytes acknowledged.
//! - Growth needs a window in use (RFC 7661 §4.1, Linux `tcp_is_cwnd_limited`): in slow start
//!   the flight before the ACK must exceed half of `cwnd`; in avoidance it must leave less than
//!   one SMSS of `cwnd` unused. An application-limited sender keeps its window.
//! - Congestion event (RFC 5681 §3.2 step 2, RFC 6582): `ssthresh = max(FlightSize/2, 2*SMSS)`.
//! - RTO (RFC 5681 §3.1): the same `ssthresh` (held constant when the timer expires again
//!   before any new data is acknowledged), `cwnd = LW = 1*SMSS`.
//! - Undo: `cwnd` and `ssthresh` as they were before the last reduction (Linux
//!   `tcp_reno_undo_cwnd` keeps the larger of the two windows).
//! - Idle restart (RFC 5681 §4.1): `cwnd = min(cwnd, IW)`.
//! - No HyStart++: NewReno stays the textbook algorithm it is selected for; CUBIC, the
//!   default, runs HyStart++ (RFC 9406) in its initial slow start.
//!
//! Invariants: `cwnd >= 1*SMSS` after any event; arithmetic saturates, nothing panics.

use super::{
    AckSample, CongestionControl, CongestionEvent, cwnd_limited, halved_flight, initial_window,
};
use crate::time::Instant;

/// The NewReno state: windows in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged towards the next avoidance increment (RFC 3465 §2.1).
    bytes_acked: u32,
    /// In the slow start that follows an RTO: `L = 1*SMSS` (RFC 3465 §2.3).
    after_rto: bool,
    /// An RTO fired and no new data has been acknowledged since: a further RTO keeps
    /// `ssthresh` (RFC 5681 §3.1).
    rto_unanswered: bool,
    /// `(cwnd, ssthresh)` before the last reduction, for `undo`.
    prior: (u32, u32),
}

impl NewReno {
    /// Initial state: `cwnd = IW` (RFC 6928), `ssthresh` "arbitrarily high" (RFC 5681 §3.1).
    pub fn new(mss: u32) -> NewReno {
        let cwnd = initial_window(mss);
        NewReno {
            cwnd,
            ssthresh: u32::MAX,
            bytes_acked: 0,
            after_rto: false,
            rto_unanswered: false,
            prior: (cwnd, u32::MAX),
        }
    }

    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// RFC 3465 §2.2 and §2.3; returns the acknowledged bytes left over once `ssthresh` is hit.
    fn slow_start(&mut self, acked: u32, mss: u32) -> u32 {
        let limit = if self.after_rto {
            mss
        } else {
            mss.saturating_mul(2)
        };
        let room = self.ssthresh - self.cwnd;
        let grow = acked.min(limit);
        if grow < room {
            self.cwnd += grow;
            0
        } else {
            self.cwnd = self.ssthresh;
            acked - room
        }
    }

    /// RFC 3465 §2.1: one SMSS per window of acknowledged bytes.
    fn congestion_avoidance(&mut self, acked: u32, mss: u32) {
        self.after_rto = false;
        self.bytes_acked = self.bytes_acked.saturating_add(acked);
        if self.bytes_acked >= self.cwnd {
            self.bytes_acked -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(mss);
        }
    }
}

impl CongestionControl for NewReno {
    fn cwnd(&self) -> u32 {
        self.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    fn set_cwnd(&mut self, cwnd: u32, mss: u32) {
        self.cwnd = cwnd.max(mss);
    }

    fn on_ack(&mut self, s: &AckSample) {
        self.rto_unanswered = false;
        if !cwnd_limited(self.in_slow_start(), self.cwnd, s.in_flight_before, s.mss) {
            return;
        }
        let mut acked = s.acked;
        if self.in_slow_start() {
            acked = self.slow_start(acked, s.mss);
        }
        if acked > 0 && !self.in_slow_start() {
            self.congestion_avoidance(acked, s.mss);
        }
    }

    fn on_congestion(&mut self, _ev: CongestionEvent, in_flight: u32, mss: u32, _now: Instant) {
        // RFC 5681 §3.2 step 2 (RFC 6582 §3.2 step 2).
        self.prior = (self.cwnd, self.ssthresh);
        self.ssthresh = halved_flight(in_flight, mss);
        self.bytes_acked = 0;
        self.after_rto = false;
    }

    fn on_rto(&mut self, in_flight: u32, mss: u32, _now: Instant) {
        // RFC 5681 §3.1: a retransmission that times out again keeps ssthresh.
        if !self.rto_unanswered {
            self.prior = (self.cwnd, self.ssthresh);
            self.ssthresh = halved_flight(in_flight, mss);
        }
        self.cwnd = mss;
        self.bytes_acked = 0;
        self.after_rto = true;
        self.rto_unanswered = true;
    }

    fn undo(&mut self) {
        let (cwnd, ssthresh) = self.prior;
        self.cwnd = self.cwnd.max(cwnd);
        self.ssthresh = ssthresh;
        self.after_rto = false;
        self.rto_unanswered = false;
    }

    fn on_idle_restart(&mut self, mss: u32, _now: Instant) {
        // RFC 5681 §4.1: RW = min(IW, cwnd).
        self.cwnd = self.cwnd.min(initial_window(mss));
        self.bytes_acked = 0;
    }

    fn name(&self) -> &'static str {
        "reno"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;
    const T0: Instant = Instant::ZERO;

    /// A NewReno in congestion avoidance with the given windows.
    fn in_avoidance(cwnd: u32, ssthresh: u32) -> NewReno {
        NewReno {
            cwnd,
            ssthresh,
            ..NewReno::new(MSS)
        }
    }

    /// `cc.on_ack` of `acked` bytes with `flight` in flight before it.
    fn ack(cc: &mut NewReno, acked: u32, flight: u32) {
        cc.on_ack(&AckSample {
            acked,
            mss: MSS,
            in_flight_before: flight,
            now: T0,
            rtt_ns: None,
            min_rtt_ns: u64::MAX,
            snd_nxt: 0,
            ack: 0,
        });
    }

    #[test]
    fn starts_with_iw_and_infinite_ssthresh() {
        let cc = NewReno::new(1460);
        assert_eq!(cc.cwnd(), 14_600);
        assert_eq!(cc.ssthresh(), u32::MAX);
        assert!(cc.in_slow_start());
        assert_eq!(cc.name(), "reno");
    }

    #[test]
    fn slow_start_counts_bytes_up_to_two_segments_per_ack() {
        let mut cc = NewReno::new(MSS); // cwnd 10,000
        ack(&mut cc, 1000, 10_000);
        assert_eq!(cc.cwnd(), 11_000);
        // A delayed ACK for two segments: +2000.
        ack(&mut cc, 2000, 11_000);
        assert_eq!(cc.cwnd(), 13_000);
        // A stretch ACK for five segments: capped at L = 2 * SMSS.
        ack(&mut cc, 5000, 13_000);
        assert_eq!(cc.cwnd(), 15_000);
        // A sub-MSS ACK grows by exactly its bytes.
        ack(&mut cc, 100, 15_000);
        assert_eq!(cc.cwnd(), 15_100);
    }

    #[test]
    fn slow_start_needs_the_window_in_use() {
        let mut cc = NewReno::new(MSS); // cwnd 10,000
        // Half the window or less in flight: application-limited, no growth.
        ack(&mut cc, 1000, 5_000);
        assert_eq!(cc.cwnd(), 10_000);
        ack(&mut cc, 1000, 5_001);
        assert_eq!(cc.cwnd(), 11_000);
    }

    #[test]
    fn slow_start_stops_at_ssthresh_and_the_rest_counts_in_avoidance() {
        let mut cc = NewReno {
            cwnd: 9_500,
            ssthresh: 10_000,
            ..NewReno::new(MSS)
        };
        ack(&mut cc, 2000, 9_500);
        // 500 bytes take cwnd to ssthresh; 1500 count towards the avoidance increment.
        assert_eq!(cc.cwnd(), 10_000);
        assert!(!cc.in_slow_start());
        assert_eq!(cc.bytes_acked, 1_500);
    }

    #[test]
    fn avoidance_adds_one_segment_per_window_of_bytes() {
        let mut cc = in_avoidance(10_000, 5_000);
        for _ in 0..9 {
            ack(&mut cc, 1000, 10_000);
        }
        assert_eq!(cc.cwnd(), 10_000);
        ack(&mut cc, 1500, 10_000);
        // 10,500 bytes acked: +1 MSS, 500 carried over.
        assert_eq!(cc.cwnd(), 11_000);
        assert_eq!(cc.bytes_acked, 500);
        // The next increment needs 11,000 bytes.
        for _ in 0..10 {
            ack(&mut cc, 1000, 11_000);
        }
        assert_eq!(cc.cwnd(), 11_000);
        ack(&mut cc, 500, 11_000);
        assert_eq!(cc.cwnd(), 12_000);
    }

    #[test]
    fn avoidance_needs_the_window_in_use() {
        let mut cc = in_avoidance(10_000, 5_000);
        // 9000 in flight leaves a full segment of window unused.
        for _ in 0..20 {
            ack(&mut cc, 1000, 9_000);
        }
        assert_eq!(cc.cwnd(), 10_000);
        // 9001 in flight: another full segment would not have fit.
        for _ in 0..10 {
            ack(&mut cc, 1000, 9_001);
        }
        assert_eq!(cc.cwnd(), 11_000);
    }

    #[test]
    fn congestion_halves_the_flight_and_leaves_cwnd_to_prr() {
        let mut cc = NewReno::new(MSS);
        cc.on_congestion(CongestionEvent::Loss, 20_000, MSS, T0);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (10_000, 10_000));
        cc.set_cwnd(7_000, MSS);
        assert_eq!(cc.cwnd(), 7_000);
        // PRR can never take cwnd below one segment.
        cc.set_cwnd(0, MSS);
        assert_eq!(cc.cwnd(), MSS);
        // A tiny flight still leaves ssthresh at 2 * SMSS.
        cc.on_congestion(CongestionEvent::Ecn, 3_000, MSS, T0);
        assert_eq!(cc.ssthresh(), 2_000);
    }

    #[test]
    fn undo_restores_the_windows_before_the_reduction() {
        let mut cc = in_avoidance(30_000, 20_000);
        cc.on_congestion(CongestionEvent::Loss, 30_000, MSS, T0);
        cc.set_cwnd(15_000, MSS);
        cc.undo();
        assert_eq!((cc.cwnd(), cc.ssthresh()), (30_000, 20_000));
        cc.on_rto(30_000, MSS, T0);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (MSS, 15_000));
        cc.undo();
        assert_eq!((cc.cwnd(), cc.ssthresh()), (30_000, 20_000));
    }

    #[test]
    fn rto_sets_loss_window_and_holds_ssthresh_on_repeat() {
        let mut cc = NewReno::new(MSS);
        cc.on_rto(20_000, MSS, T0);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (10_000, 1_000));
        // The retransmission times out again: ssthresh is held, not halved to 2 * SMSS.
        cc.on_rto(1_000, MSS, T0);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (10_000, 1_000));
        // Slow start after an RTO grows by at most one SMSS per ACK (RFC 3465 §2.3).
        ack(&mut cc, 3_000, 1_000);
        assert_eq!(cc.cwnd(), 2_000);
        // New data was acknowledged: the next RTO is a new loss and recomputes ssthresh.
        cc.on_rto(6_000, MSS, T0);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (3_000, 1_000));
    }

    #[test]
    fn after_rto_byte_limit_ends_with_slow_start() {
        let mut cc = NewReno::new(MSS);
        cc.on_rto(4_000, MSS, T0); // ssthresh 2000, cwnd 1000
        ack(&mut cc, 1_000, 1_000);
        assert_eq!(cc.cwnd(), 2_000);
        assert!(!cc.in_slow_start());
        ack(&mut cc, 2_000, 2_000);
        assert_eq!(cc.cwnd(), 3_000);
        assert!(!cc.after_rto);
    }

    #[test]
    fn idle_restart_caps_at_the_initial_window() {
        let mut cc = in_avoidance(50_000, 20_000);
        cc.on_idle_restart(MSS, T0);
        assert_eq!(cc.cwnd(), 10_000);
        let mut small = in_avoidance(4_000, 2_000);
        small.on_idle_restart(MSS, T0);
        assert_eq!(small.cwnd(), 4_000);
    }
}
