//! Congestion control: a small trait the TCB drives, and an enum of algorithms held by value.
//!
//! The TCB owns the loss-detection state machine (dup-ACK counting, `recover`, RFC 6582's full
//! and partial ACKs, RTO); the algorithm only owns `cwnd` and `ssthresh` and is told what
//! happened through the trait. Every quantity is in bytes. [`Congestion`] is an enum rather than
//! a `Box<dyn CongestionControl>` so a TCB holds it inline with no allocation; a new algorithm
//! (CUBIC, RFC 9438) is a new variant and a new file.
//!
//! Shared rules: the initial window of RFC 6928 ([`initial_window`]), the loss window of one
//! segment after an RTO (RFC 5681 §3.1), and the restart window after idle (RFC 5681 §4.1).

pub mod newreno;

pub use self::newreno::NewReno;

/// The events a congestion controller reacts to. `mss` is the sender's SMSS at the time.
pub trait CongestionControl {
    /// The congestion window, bytes.
    fn cwnd(&self) -> u32;

    /// The slow-start threshold, bytes (`u32::MAX` until the first loss).
    fn ssthresh(&self) -> u32;

    /// `acked` bytes of new data were cumulatively acknowledged outside loss recovery;
    /// `in_flight_before` is the flight size before this ACK (to tell whether the window was
    /// in use, RFC 7661).
    fn on_ack(&mut self, acked: u32, mss: u32, in_flight_before: u32);

    /// Third duplicate ACK: fast retransmit and enter fast recovery (RFC 6582 §3.2 step 2,
    /// RFC 5681 §3.2 steps 2 and 3). `in_flight` is FlightSize when the loss is detected.
    fn on_enter_recovery(&mut self, in_flight: u32, mss: u32);

    /// A further duplicate ACK during fast recovery: window inflation (RFC 6582 §3.2 step 4).
    fn on_dup_ack_in_recovery(&mut self, mss: u32);

    /// A partial ACK of `acked` new bytes during fast recovery (RFC 6582 §3.2 step 5).
    fn on_partial_ack(&mut self, acked: u32, mss: u32);

    /// A full ACK ends fast recovery (RFC 6582 §3.2 step 3); `in_flight` is FlightSize after it.
    fn on_exit_recovery(&mut self, in_flight: u32, mss: u32);

    /// The retransmission timer expired (RFC 5681 §3.1 eq. 4); `in_flight` is FlightSize
    /// before the timeout.
    fn on_rto(&mut self, in_flight: u32, mss: u32);

    /// Sending restarts after an idle period longer than an RTO (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, mss: u32);

    /// The algorithm's name, as Linux's `tcp_congestion_control` spells it.
    fn name(&self) -> &'static str;
}

/// Which algorithm a connection uses (a configuration value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CcKind {
    /// RFC 5681 + RFC 6582, with RFC 3465 byte counting.
    #[default]
    NewReno,
}

/// A connection's congestion controller, held by value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Congestion {
    NewReno(NewReno),
}

impl Congestion {
    /// A controller of `kind` for a connection whose SMSS is `mss`.
    pub fn new(kind: CcKind, mss: u32) -> Congestion {
        match kind {
            CcKind::NewReno => Congestion::NewReno(NewReno::new(mss)),
        }
    }

    pub fn kind(&self) -> CcKind {
        match self {
            Congestion::NewReno(_) => CcKind::NewReno,
        }
    }
}

/// Calls `$body` with `$cc` bound to the variant's algorithm: static dispatch, no `dyn`.
macro_rules! delegate {
    ($self:expr, $cc:ident => $body:expr) => {
        match $self {
            Congestion::NewReno($cc) => $body,
        }
    };
}

impl CongestionControl for Congestion {
    fn cwnd(&self) -> u32 {
        delegate!(self, cc => cc.cwnd())
    }
    fn ssthresh(&self) -> u32 {
        delegate!(self, cc => cc.ssthresh())
    }
    fn on_ack(&mut self, acked: u32, mss: u32, in_flight_before: u32) {
        delegate!(self, cc => cc.on_ack(acked, mss, in_flight_before))
    }
    fn on_enter_recovery(&mut self, in_flight: u32, mss: u32) {
        delegate!(self, cc => cc.on_enter_recovery(in_flight, mss))
    }
    fn on_dup_ack_in_recovery(&mut self, mss: u32) {
        delegate!(self, cc => cc.on_dup_ack_in_recovery(mss))
    }
    fn on_partial_ack(&mut self, acked: u32, mss: u32) {
        delegate!(self, cc => cc.on_partial_ack(acked, mss))
    }
    fn on_exit_recovery(&mut self, in_flight: u32, mss: u32) {
        delegate!(self, cc => cc.on_exit_recovery(in_flight, mss))
    }
    fn on_rto(&mut self, in_flight: u32, mss: u32) {
        delegate!(self, cc => cc.on_rto(in_flight, mss))
    }
    fn on_idle_restart(&mut self, mss: u32) {
        delegate!(self, cc => cc.on_idle_restart(mss))
    }
    fn name(&self) -> &'static str {
        delegate!(self, cc => cc.name())
    }
}

/// RFC 6928 §2: `IW = min(10*MSS, max(2*MSS, 14600))` bytes.
pub fn initial_window(mss: u32) -> u32 {
    mss.saturating_mul(10)
        .min(mss.saturating_mul(2).max(14_600))
}

/// RFC 5681 §3.1 eq. (4) (and §3.2 step 2): `max(FlightSize / 2, 2*SMSS)`.
pub fn halved_flight(in_flight: u32, mss: u32) -> u32 {
    (in_flight / 2).max(mss.saturating_mul(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_window_per_rfc6928() {
        // 10 segments for a typical MSS: 1460 -> 14600.
        assert_eq!(initial_window(1460), 14_600);
        // Small MSS: 10 * 536 = 5360 < 14600.
        assert_eq!(initial_window(536), 5_360);
        // Jumbo MSS: max(2 * 8960, 14600) = 17920.
        assert_eq!(initial_window(8960), 17_920);
        // Between: MSS 4000 -> min(40000, max(8000, 14600)) = 14600.
        assert_eq!(initial_window(4000), 14_600);
    }

    #[test]
    fn halved_flight_has_a_floor_of_two_segments() {
        assert_eq!(halved_flight(100_000, 1000), 50_000);
        assert_eq!(halved_flight(3000, 1000), 2000);
        assert_eq!(halved_flight(0, 1000), 2000);
    }

    #[test]
    fn congestion_delegates_to_the_variant() {
        let mut cc = Congestion::new(CcKind::default(), 1000);
        assert_eq!(cc.kind(), CcKind::NewReno);
        assert_eq!(cc.name(), "reno");
        assert_eq!(cc.cwnd(), 10_000);
        assert_eq!(cc.ssthresh(), u32::MAX);
        cc.on_ack(2000, 1000, 10_000);
        assert_eq!(cc.cwnd(), 12_000);
        cc.on_enter_recovery(12_000, 1000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (9_000, 6_000));
        cc.on_dup_ack_in_recovery(1000);
        cc.on_partial_ack(1000, 1000);
        cc.on_exit_recovery(4000, 1000);
        assert_eq!(cc.cwnd(), 5_000);
        cc.on_rto(8000, 1000);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (1_000, 4_000));
        cc.on_idle_restart(1000);
        assert_eq!(cc.cwnd(), 1_000);
    }
}
