//! Congestion control: a small trait the TCB drives, and an enum of algorithms held by value.
//!
//! Division of labour (as Linux's `tcp_congestion_ops`):
//! - Loss detection (`tcp::recovery`: SACK scoreboard, RACK-TLP, duplicate ACKs, RTO) decides
//!   *that* a congestion event happened; the algorithm never learns *how* it was detected.
//! - The algorithm owns `cwnd` and `ssthresh`. It grows `cwnd` on ACKs outside recovery
//!   ([`CongestionControl::on_ack`], given the time and the RTT samples), chooses `ssthresh` at a
//!   congestion event ([`CongestionControl::on_congestion`]), collapses the window on an RTO, and
//!   restores its state when a reduction proves spurious ([`CongestionControl::undo`]).
//! - During fast recovery the reduction itself is PRR's (RFC 6937, `tcp::recovery::prr`): it sets
//!   `cwnd` each ACK through [`CongestionControl::set_cwnd`] and ends at `ssthresh`.
//!
//! Every quantity is in bytes. [`Congestion`] is an enum rather than a `Box<dyn ...>` so a TCB
//! holds it inline with no allocation; an algorithm is a variant and a file.
//!
//! Algorithms: CUBIC (RFC 9438, the default, with HyStart++ of RFC 9406 for its initial slow
//! start) and NewReno (RFC 5681, RFC 6582, classic slow start), chosen per connection
//! ([`CcKind`]; `ConnOptions::congestion`, else `TcpConfig::congestion`).
//!
//! Shared rules: the initial window of RFC 6928 ([`initial_window`]), the loss window of one
//! segment after an RTO (RFC 5681 §3.1), the restart window after idle (RFC 5681 §4.1), and
//! no growth of a window not in use (RFC 7661, [`cwnd_limited`]).

pub mod cubic;
pub mod hystart;
pub mod newreno;

pub use self::cubic::Cubic;
pub use self::newreno::NewReno;

use crate::time::Instant;

/// What an ACK outside recovery tells the algorithm.
#[derive(Clone, Copy, Debug)]
pub struct AckSample {
    /// Bytes newly acknowledged, cumulatively or by SACK (RFC 3465 counts bytes).
    pub acked: u32,
    /// The sender's SMSS.
    pub mss: u32,
    /// Bytes in flight before this ACK: a window not in use does not grow (RFC 7661 §4.1).
    pub in_flight_before: u32,
    /// The time of the ACK.
    pub now: Instant,
    /// The RTT sample this ACK gave (Karn's rule applied), if any, nanoseconds.
    pub rtt_ns: Option<u64>,
    /// The smallest RTT seen on the connection, nanoseconds (`u64::MAX` before any sample).
    pub min_rtt_ns: u64,
    /// `snd.nxt` at this ACK, as an offset-free counter: HyStart++ rounds end when the
    /// acknowledged sequence passes the value recorded at the round's start.
    pub snd_nxt: u32,
    /// The cumulative acknowledgment of this ACK (same sequence space as `snd_nxt`).
    pub ack: u32,
}

/// What caused a reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CongestionEvent {
    /// Loss detected by SACK, RACK or duplicate ACKs: fast recovery follows.
    Loss,
    /// An ECN congestion-experienced echo (RFC 3168 §6.1.2): a reduction without a loss.
    Ecn,
}

/// The events a congestion controller reacts to.
pub trait CongestionControl {
    /// The congestion window, bytes.
    fn cwnd(&self) -> u32;

    /// The slow-start threshold, bytes (`u32::MAX` until the first congestion event).
    fn ssthresh(&self) -> u32;

    /// Sets `cwnd` (PRR during recovery, RFC 6937; the end of recovery sets it to
    /// `ssthresh`). Never below one `mss`.
    fn set_cwnd(&mut self, cwnd: u32, mss: u32);

    /// An ACK of new data outside recovery and loss: grow the window (slow start, avoidance).
    fn on_ack(&mut self, s: &AckSample);

    /// A congestion event at `now` with `in_flight` bytes outstanding: remember what an
    /// [`CongestionControl::undo`] needs, and set `ssthresh` (RFC 5681 §3.2 step 2 for NewReno,
    /// RFC 9438 §4.6 for CUBIC). `cwnd` is left for PRR to bring down.
    fn on_congestion(&mut self, ev: CongestionEvent, in_flight: u32, mss: u32, now: Instant);

    /// The retransmission timer expired (RFC 5681 §3.1 eq. 4): `ssthresh` as for a loss (kept
    /// when the timer expires again before new data is acknowledged), `cwnd = 1*SMSS`.
    fn on_rto(&mut self, in_flight: u32, mss: u32, now: Instant);

    /// The last reduction was spurious (D-SACK, timestamps, F-RTO: RFC 3522, RFC 4015,
    /// RFC 5682): restore `cwnd`, `ssthresh` and the algorithm's own state to what they were
    /// before it (Linux `undo_cwnd`).
    fn undo(&mut self);

    /// Sending restarts after an idle period longer than an RTO (RFC 5681 §4.1).
    fn on_idle_restart(&mut self, mss: u32, now: Instant);

    /// The algorithm's name, as Linux's `tcp_congestion_control` spells it.
    fn name(&self) -> &'static str;
}

/// Which algorithm a connection uses (a configuration value).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CcKind {
    /// RFC 9438 with HyStart++ (RFC 9406), as Linux's default.
    #[default]
    Cubic,
    /// RFC 5681 + RFC 6582, with RFC 3465 byte counting.
    NewReno,
}

impl CcKind {
    /// Every algorithm, for help texts and error messages.
    pub const ALL: [CcKind; 2] = [CcKind::Cubic, CcKind::NewReno];

    /// Parses a name as Linux spells it (`cubic`, `reno`; `newreno` accepted too).
    pub fn from_name(s: &str) -> Option<CcKind> {
        match s {
            "cubic" => Some(CcKind::Cubic),
            "newreno" | "reno" => Some(CcKind::NewReno),
            _ => None,
        }
    }

    /// The name as Linux's `tcp_congestion_control` spells it.
    pub fn name(self) -> &'static str {
        match self {
            CcKind::Cubic => "cubic",
            CcKind::NewReno => "reno",
        }
    }
}

/// A connection's congestion controller, held by value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Congestion {
    Cubic(Cubic),
    NewReno(NewReno),
}

impl Congestion {
    /// A controller of `kind` for a connection whose SMSS is `mss`.
    pub fn new(kind: CcKind, mss: u32) -> Congestion {
        match kind {
            CcKind::Cubic => Congestion::Cubic(Cubic::new(mss)),
            CcKind::NewReno => Congestion::NewReno(NewReno::new(mss)),
        }
    }

    pub fn kind(&self) -> CcKind {
        match self {
            Congestion::Cubic(_) => CcKind::Cubic,
            Congestion::NewReno(_) => CcKind::NewReno,
        }
    }
}

/// Calls `$body` with `$cc` bound to the variant's algorithm: static dispatch, no `dyn`.
macro_rules! delegate {
    ($self:expr, $cc:ident => $body:expr) => {
        match $self {
            Congestion::Cubic($cc) => $body,
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
    fn set_cwnd(&mut self, cwnd: u32, mss: u32) {
        delegate!(self, cc => cc.set_cwnd(cwnd, mss))
    }
    fn on_ack(&mut self, s: &AckSample) {
        delegate!(self, cc => cc.on_ack(s))
    }
    fn on_congestion(&mut self, ev: CongestionEvent, in_flight: u32, mss: u32, now: Instant) {
        delegate!(self, cc => cc.on_congestion(ev, in_flight, mss, now))
    }
    fn on_rto(&mut self, in_flight: u32, mss: u32, now: Instant) {
        delegate!(self, cc => cc.on_rto(in_flight, mss, now))
    }
    fn undo(&mut self) {
        delegate!(self, cc => cc.undo())
    }
    fn on_idle_restart(&mut self, mss: u32, now: Instant) {
        delegate!(self, cc => cc.on_idle_restart(mss, now))
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

/// RFC 7661 §4.1 (Linux `tcp_is_cwnd_limited`): only a sender that fills its window may grow
/// it. In slow start the flight before the ACK must exceed half of `cwnd`; in avoidance it
/// must leave less than one SMSS of `cwnd` unused.
pub fn cwnd_limited(slow_start: bool, cwnd: u32, in_flight: u32, mss: u32) -> bool {
    if slow_start {
        in_flight.saturating_mul(2) > cwnd
    } else {
        in_flight.saturating_add(mss) > cwnd
    }
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
    fn names_parse_as_linux_spells_them() {
        assert_eq!(CcKind::from_name("cubic"), Some(CcKind::Cubic));
        assert_eq!(CcKind::from_name("reno"), Some(CcKind::NewReno));
        assert_eq!(CcKind::from_name("newreno"), Some(CcKind::NewReno));
        assert_eq!(CcKind::from_name("vegas"), None);
        assert_eq!(CcKind::from_name("CUBIC"), None);
        for k in CcKind::ALL {
            assert_eq!(CcKind::from_name(k.name()), Some(k));
            assert_eq!(Congestion::new(k, 1000).name(), k.name());
            assert_eq!(Congestion::new(k, 1000).kind(), k);
        }
    }

    #[test]
    fn cubic_is_the_default() {
        assert_eq!(CcKind::default(), CcKind::Cubic);
        let cc = Congestion::new(CcKind::default(), 1460);
        assert_eq!(
            (cc.name(), cc.cwnd(), cc.ssthresh()),
            ("cubic", 14_600, u32::MAX)
        );
    }

    #[test]
    fn the_controller_stays_small_enough_to_hold_inline() {
        // Every TCB holds one by value (no Box): Linux keeps 104 bytes of private state.
        assert!(std::mem::size_of::<Congestion>() <= 200);
    }

    #[test]
    fn cwnd_limited_per_rfc7661() {
        // Slow start: more than half the window in flight.
        assert!(!cwnd_limited(true, 10_000, 5_000, 1000));
        assert!(cwnd_limited(true, 10_000, 5_001, 1000));
        // Avoidance: less than one segment of the window unused.
        assert!(!cwnd_limited(false, 10_000, 9_000, 1000));
        assert!(cwnd_limited(false, 10_000, 9_001, 1000));
    }
}
