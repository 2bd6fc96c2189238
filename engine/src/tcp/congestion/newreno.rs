//! NewReno: RFC 5681 slow start and congestion avoidance, RFC 6582 fast recovery, with RFC 3465
//! appropriate byte counting and the RFC 6928 initial window.
//!
//! - Slow start (`cwnd < ssthresh`): each ACK grows `cwnd` by the bytes it acknowledges, at most
//!   `L = 2*SMSS` (RFC 3465 §2.2), or `L = 1*SMSS` in the slow start that follows an RTO
//!   (RFC 3465 §2.3). Growth stops at `ssthresh`; the rest of the ACK counts towards avoidance.
//! - Congestion avoidance: byte counting (RFC 3465 §2.1, RFC 5681 §3.1): `cwnd += SMSS` once
//!   per `cwnd` bytes acknowledged.
//! - Growth needs a window in use (RFC 7661 §4.1, Linux `tcp_is_cwnd_limited`): in slow start
//!   the flight before the ACK must exceed half of `cwnd`; in avoidance it must leave less than
//!   one SMSS of `cwnd` unused. An application-limited sender keeps its window.
//! - Fast recovery (RFC 6582 §3.2): `ssthresh = max(FlightSize/2, 2*SMSS)`,
//!   `cwnd = ssthresh + 3*SMSS`; `+SMSS` per further duplicate ACK; a partial ACK deflates by the
//!   bytes it acknowledges and adds back one SMSS if it covers at least one; the full ACK sets
//!   `cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS)` (step 3, option 1).
//! - RTO (RFC 5681 §3.1): `ssthresh = max(FlightSize/2, 2*SMSS)` (held constant when the
//!   timer expires again before any new data is acknowledged), `cwnd = LW = 1*SMSS`.
//! - Idle restart (RFC 5681 §4.1): `cwnd = min(cwnd, IW)`.
//!
//! Invariants: `cwnd >= 1*SMSS` after any event; arithmetic saturates, nothing panics.

use super::{CongestionControl, halved_flight, initial_window};

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
}

impl NewReno {
    /// Initial state: `cwnd = IW` (RFC 6928), `ssthresh` "arbitrarily high" (RFC 5681 §3.1).
    pub fn new(mss: u32) -> NewReno {
        NewReno {
            cwnd: initial_window(mss),
            ssthresh: u32::MAX,
            bytes_acked: 0,
            after_rto: false,
            rto_unanswered: false,
        }
    }

    pub fn in_slow_start(&self) -> bool {
        self.cwnd < self.ssthresh
    }

    /// RFC 7661 §4.1: only a sender that fills its window may grow it.
    fn cwnd_limited(&self, in_flight: u32, mss: u32) -> bool {
        if self.in_slow_start() {
            in_flight.saturating_mul(2) > self.cwnd
        } else {
            in_flight.saturating_add(mss) > self.cwnd
        }
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

    fn on_ack(&mut self, acked: u32, mss: u32, in_flight_before: u32) {
        self.rto_unanswered = false;
        if !self.cwnd_limited(in_flight_before, mss) {
            return;
        }
        let mut acked = acked;
        if self.in_slow_start() {
            acked = self.slow_start(acked, mss);
        }
        if acked > 0 && !self.in_slow_start() {
            self.congestion_avoidance(acked, mss);
        }
    }

    fn on_enter_recovery(&mut self, in_flight: u32, mss: u32) {
        // RFC 6582 §3.2 step 2 (RFC 5681 §3.2 steps 2 and 3).
        self.ssthresh = halved_flight(in_flight, mss);
        self.cwnd = self.ssthresh.saturating_add(mss.saturating_mul(3));
        self.bytes_acked = 0;
        self.after_rto = false;
    }

    fn on_dup_ack_in_recovery(&mut self, mss: u32) {
        // RFC 6582 §3.2 step 4: each duplicate ACK means a segment left the network.
        self.cwnd = self.cwnd.saturating_add(mss);
    }

    fn on_partial_ack(&mut self, acked: u32, mss: u32) {
        // RFC 6582 §3.2 step 5: deflate by the new data acknowledged, add back one SMSS if at
        // least one was acknowledged. Never below one segment, so the sender cannot stall.
        let add_back = if acked >= mss { mss } else { 0 };
        self.cwnd = self
            .cwnd
            .saturating_sub(acked)
            .saturating_add(add_back)
            .max(mss);
    }

    fn on_exit_recovery(&mut self, in_flight: u32, mss: u32) {
        // RFC 6582 §3.2 step 3, option 1: avoids a burst when little is in flight.
        let flight_plus_one = in_flight.max(mss).saturating_add(mss);
        self.cwnd = self.ssthresh.min(flight_plus_one).max(mss);
        self.bytes_acked = 0;
    }

    fn on_rto(&mut self, in_flight: u32, mss: u32) {
        // RFC 5681 §3.1: a retransmission that times out again keeps ssthresh.
        if !self.rto_unanswered {
            self.ssthresh = halved_flight(in_flight, mss);
        }
        self.cwnd = mss;
        self.bytes_acked = 0;
        self.after_rto = true;
        self.rto_unanswered = true;
    }

    fn on_idle_restart(&mut self, mss: u32) {
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

    /// A NewReno in congestion avoidance with the given windows.
    fn in_avoidance(cwnd: u32, ssthresh: u32) -> NewReno {
        NewReno {
            cwnd,
            ssthresh,
            ..NewReno::new(MSS)
        }
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
        cc.on_ack(1000, MSS, 10_000);
        assert_eq!(cc.cwnd(), 11_000);
        // A delayed ACK for two segments: +2000.
        cc.on_ack(2000, MSS, 11_000);
        assert_eq!(cc.cwnd(), 13_000);
        // A stretch ACK for five segments: capped at L = 2 * SMSS.
        cc.on_ack(5000, MSS, 13_000);
        assert_eq!(cc.cwnd(), 15_000);
        // A sub-MSS ACK grows by exactly its bytes.
        cc.on_ack(100, MSS, 15_000);
        assert_eq!(cc.cwnd(), 15_100);
    }

    #[test]
    fn slow_start_needs_the_window_in_use() {
        let mut cc = NewReno::new(MSS); // cwnd 10,000
        // Half the window or less in flight: application-limited, no growth.
        cc.on_ack(1000, MSS, 5_000);
        assert_eq!(cc.cwnd(), 10_000);
        cc.on_ack(1000, MSS, 5_001);
        assert_eq!(cc.cwnd(), 11_000);
    }

    #[test]
    fn slow_start_stops_at_ssthresh_and_the_rest_counts_in_avoidance() {
        let mut cc = NewReno {
            cwnd: 9_500,
            ssthresh: 10_000,
            ..NewReno::new(MSS)
        };
        cc.on_ack(2000, MSS, 9_500);
        // 500 bytes take cwnd to ssthresh; 1500 count towards the avoidance increment.
        assert_eq!(cc.cwnd(), 10_000);
        assert!(!cc.in_slow_start());
        assert_eq!(cc.bytes_acked, 1_500);
    }

    #[test]
    fn avoidance_adds_one_segment_per_window_of_bytes() {
        let mut cc = in_avoidance(10_000, 5_000);
        for _ in 0..9 {
            cc.on_ack(1000, MSS, 10_000);
        }
        assert_eq!(cc.cwnd(), 10_000);
        cc.on_ack(1500, MSS, 10_000);
        // 10,500 bytes acked: +1 MSS, 500 carried over.
        assert_eq!(cc.cwnd(), 11_000);
        assert_eq!(cc.bytes_acked, 500);
        // The next increment needs 11,000 bytes.
        for _ in 0..10 {
            cc.on_ack(1000, MSS, 11_000);
        }
        assert_eq!(cc.cwnd(), 11_000);
        cc.on_ack(500, MSS, 11_000);
        assert_eq!(cc.cwnd(), 12_000);
    }

    #[test]
    fn avoidance_needs_the_window_in_use() {
        let mut cc = in_avoidance(10_000, 5_000);
        // 9000 in flight leaves a full segment of window unused.
        for _ in 0..20 {
            cc.on_ack(1000, MSS, 9_000);
        }
        assert_eq!(cc.cwnd(), 10_000);
        // 9001 in flight: another full segment would not have fit.
        for _ in 0..10 {
            cc.on_ack(1000, MSS, 9_001);
        }
        assert_eq!(cc.cwnd(), 11_000);
    }

    #[test]
    fn fast_recovery_inflates_deflates_and_exits() {
        let mut cc = NewReno::new(MSS);
        cc.on_enter_recovery(20_000, MSS);
        // ssthresh = 20,000 / 2; cwnd = ssthresh + 3 * SMSS.
        assert_eq!((cc.ssthresh(), cc.cwnd()), (10_000, 13_000));
        cc.on_dup_ack_in_recovery(MSS);
        cc.on_dup_ack_in_recovery(MSS);
        assert_eq!(cc.cwnd(), 15_000);
        // Partial ACK of 3000: 15,000 - 3000 + 1000.
        cc.on_partial_ack(3000, MSS);
        assert_eq!(cc.cwnd(), 13_000);
        // Partial ACK of less than one SMSS: no add-back.
        cc.on_partial_ack(500, MSS);
        assert_eq!(cc.cwnd(), 12_500);
        // Full ACK with 4000 still in flight: min(10,000, 4000 + 1000).
        cc.on_exit_recovery(4_000, MSS);
        assert_eq!(cc.cwnd(), 5_000);
        assert_eq!(cc.ssthresh(), 10_000);
    }

    #[test]
    fn full_ack_with_a_large_flight_sets_cwnd_to_ssthresh() {
        let mut cc = NewReno::new(MSS);
        cc.on_enter_recovery(20_000, MSS);
        cc.on_exit_recovery(20_000, MSS);
        assert_eq!(cc.cwnd(), 10_000);
        // Nothing in flight: max(0, SMSS) + SMSS.
        cc.on_enter_recovery(20_000, MSS);
        cc.on_exit_recovery(0, MSS);
        assert_eq!(cc.cwnd(), 2_000);
    }

    #[test]
    fn recovery_floors() {
        let mut cc = NewReno::new(MSS);
        // A tiny flight still leaves ssthresh at 2 * SMSS.
        cc.on_enter_recovery(3_000, MSS);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (2_000, 5_000));
        // A huge partial ACK cannot take cwnd below one segment.
        cc.on_partial_ack(100_000, MSS);
        assert_eq!(cc.cwnd(), MSS);
    }

    #[test]
    fn rto_sets_loss_window_and_holds_ssthresh_on_repeat() {
        let mut cc = NewReno::new(MSS);
        cc.on_rto(20_000, MSS);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (10_000, 1_000));
        // The retransmission times out again: ssthresh is held, not halved to 2 * SMSS.
        cc.on_rto(1_000, MSS);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (10_000, 1_000));
        // Slow start after an RTO grows by at most one SMSS per ACK (RFC 3465 §2.3).
        cc.on_ack(3_000, MSS, 1_000);
        assert_eq!(cc.cwnd(), 2_000);
        // New data was acknowledged: the next RTO is a new loss and recomputes ssthresh.
        cc.on_rto(6_000, MSS);
        assert_eq!((cc.ssthresh(), cc.cwnd()), (3_000, 1_000));
    }

    #[test]
    fn after_rto_byte_limit_ends_with_slow_start() {
        let mut cc = NewReno::new(MSS);
        cc.on_rto(4_000, MSS); // ssthresh 2000, cwnd 1000
        cc.on_ack(1_000, MSS, 1_000);
        assert_eq!(cc.cwnd(), 2_000);
        assert!(!cc.in_slow_start());
        cc.on_ack(2_000, MSS, 2_000);
        assert_eq!(cc.cwnd(), 3_000);
        assert!(!cc.after_rto);
    }

    #[test]
    fn idle_restart_caps_at_the_initial_window() {
        let mut cc = in_avoidance(50_000, 20_000);
        cc.on_idle_restart(MSS);
        assert_eq!(cc.cwnd(), 10_000);
        let mut small = in_avoidance(4_000, 2_000);
        small.on_idle_restart(MSS);
        assert_eq!(small.cwnd(), 4_000);
    }
}
