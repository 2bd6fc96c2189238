//! HyStart++ (RFC 9406): a slow start that leaves before it overshoots, by watching the
//! round-trip time rise. CUBIC uses it for its initial slow start (RFC 9438 §4.10); NewReno
//! keeps the classic slow start of RFC 5681 and RFC 3465.
//!
//! - Rounds (§4.2): `windowEnd` is `snd.nxt` at the start of a round; the round ends at the
//!   ACK that acknowledges everything sent before it (`SEG.ACK >= windowEnd`, wrapping
//!   sequence order), and that ACK begins the next round with `windowEnd = snd.nxt`.
//! - Standard slow start (§4.2): `cwnd += min(N, L*SMSS)` with `L = 8`: the engine does not
//!   pace (`L` would be infinite if it did). Once a round has `N_RTT_SAMPLE` RTT samples and
//!   the previous round had some, the exit fires when the round's minimum RTT has risen by
//!   `RttThresh = clamp(lastRoundMinRTT / 8, 4 ms, 16 ms)`: Conservative Slow Start follows.
//! - Conservative Slow Start (CSS, §4.2): growth divided by `CSS_GROWTH_DIVISOR = 4`. A round
//!   whose minimum RTT (over `N_RTT_SAMPLE` samples) falls below the RTT that triggered CSS
//!   shows the exit was spurious: back to standard slow start. After `CSS_ROUNDS = 5` round
//!   ends in CSS, slow start is over: the caller sets `ssthresh = cwnd`.
//! - A loss or ECN mark during either phase ends slow start through the algorithm's own
//!   reduction ([`HyStart::stop`]). HyStart++ runs for the initial slow start only (§4.3):
//!   once stopped it stays stopped, and later slow starts are classic ones.
//!
//! RTT samples are `AckSample::rtt_ns`, one per ACK that carries one (today the timestamp
//! echo's, at 1 ms granularity: `tcp::ack::ack_sample`); an ACK without one counts for rounds
//! and growth only.
//!
//! Invariants: `current_round_min_rtt` and `last_round_min_rtt` are `u64::MAX` ("infinity")
//! until a sample arrives; a round without an RTT sample leaves `last_round_min_rtt`
//! infinite, which disables the check for the next round. Nothing allocates; nothing panics.

use super::AckSample;

/// Lower clamp of the RTT increase that ends slow start (§4.3: 4 ms), nanoseconds.
pub const MIN_RTT_THRESH_NS: u64 = 4_000_000;
/// Upper clamp of the RTT increase that ends slow start (§4.3: 16 ms), nanoseconds.
pub const MAX_RTT_THRESH_NS: u64 = 16_000_000;
/// `RttThresh` is `lastRoundMinRTT / MIN_RTT_DIVISOR` before the clamps (§4.3).
pub const MIN_RTT_DIVISOR: u64 = 8;
/// RTT samples a round needs before its minimum is trusted (§4.3).
pub const N_RTT_SAMPLE: u32 = 8;
/// Growth in CSS is the slow-start growth divided by this (§4.3).
pub const CSS_GROWTH_DIVISOR: u32 = 4;
/// Rounds of CSS before congestion avoidance (§4.3).
pub const CSS_ROUNDS: u32 = 5;
/// Most segments one ACK may add to `cwnd` (§4.3: `L = 8` for a sender that does not pace).
pub const L: u32 = 8;

/// "Infinity" for the RTT minima.
const INF: u64 = u64::MAX;

/// Where HyStart++ stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Standard slow start, checking for a delay increase each ACK.
    SlowStart,
    /// Conservative Slow Start, entered when a round's minimum RTT reached `baseline_ns`;
    /// `rounds` rounds have ended since.
    Css { baseline_ns: u64, rounds: u32 },
    /// Not in use: the initial slow start is over (§4.3).
    Off,
}

/// What one ACK in slow start asks of the congestion window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Bytes to add to `cwnd`.
    pub grow: u32,
    /// Slow start is over (CSS ran `CSS_ROUNDS` rounds): set `ssthresh = cwnd`.
    pub exit: bool,
}

/// The HyStart++ state of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HyStart {
    phase: Phase,
    /// `snd.nxt` when the current round began; `None` before the first ACK.
    window_end: Option<u32>,
    last_round_min_rtt: u64,
    current_round_min_rtt: u64,
    rtt_samples: u32,
}

impl Default for HyStart {
    fn default() -> HyStart {
        HyStart::new()
    }
}

impl HyStart {
    /// The state at the start of a connection: standard slow start, no round yet.
    pub const fn new() -> HyStart {
        HyStart {
            phase: Phase::SlowStart,
            window_end: None,
            last_round_min_rtt: INF,
            current_round_min_rtt: INF,
            rtt_samples: 0,
        }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// True while HyStart++ governs slow start (standard or conservative).
    pub fn active(&self) -> bool {
        self.phase != Phase::Off
    }

    /// Slow start ended by a congestion event, or CSS finished: HyStart++ is done (§4.3).
    pub fn stop(&mut self) {
        self.phase = Phase::Off;
    }

    /// Puts back the phase a reduction found (`undo` of a spurious reduction, which
    /// [`HyStart::stop`]ped it); the rounds were left as they were.
    pub fn resume(&mut self, phase: Phase) {
        self.phase = phase;
    }

    /// Forgets the rounds (after an idle period their RTTs say nothing about the path now);
    /// the phase stays.
    pub fn restart_rounds(&mut self) {
        self.window_end = None;
        self.last_round_min_rtt = INF;
        self.current_round_min_rtt = INF;
        self.rtt_samples = 0;
    }

    /// One ACK in slow start: the growth it earns (§4.2) and whether slow start is over.
    /// Rounds and RTT samples are tracked even when the caller does not apply the growth
    /// (a sender not using its window, RFC 7661).
    pub fn on_ack(&mut self, s: &AckSample) -> Step {
        let grow = self.growth(s.acked, s.mss);
        if !self.active() {
            return Step { grow, exit: false };
        }
        let exit = self.round_boundary(s.snd_nxt, s.ack);
        if !exit && let Some(rtt) = s.rtt_ns {
            self.sample(rtt);
        }
        if exit {
            self.stop();
        }
        Step { grow, exit }
    }

    /// §4.2: `min(N, L*SMSS)`, divided by `CSS_GROWTH_DIVISOR` in CSS.
    fn growth(&self, acked: u32, mss: u32) -> u32 {
        let grow = acked.min(mss.saturating_mul(L));
        match self.phase {
            Phase::Css { .. } => grow / CSS_GROWTH_DIVISOR,
            _ => grow,
        }
    }

    /// Starts a new round when `ack` reaches `window_end` (§4.2); returns true when that
    /// completes the last round of CSS.
    fn round_boundary(&mut self, snd_nxt: u32, ack: u32) -> bool {
        match self.window_end {
            Some(end) if (ack.wrapping_sub(end) as i32) < 0 => return false,
            _ => {}
        }
        let first = self.window_end.is_none();
        self.window_end = Some(snd_nxt);
        self.last_round_min_rtt = self.current_round_min_rtt;
        self.current_round_min_rtt = INF;
        self.rtt_samples = 0;
        if first {
            return false;
        }
        if let Phase::Css { rounds, .. } = &mut self.phase {
            *rounds += 1;
            return *rounds >= CSS_ROUNDS;
        }
        false
    }

    /// Counts one RTT sample in the round and runs the phase's check (§4.2).
    fn sample(&mut self, rtt_ns: u64) {
        self.current_round_min_rtt = self.current_round_min_rtt.min(rtt_ns);
        self.rtt_samples = self.rtt_samples.saturating_add(1);
        if self.rtt_samples < N_RTT_SAMPLE {
            return;
        }
        match self.phase {
            Phase::SlowStart => self.check_delay_increase(),
            Phase::Css { baseline_ns, .. } => {
                // The RTT fell back below the baseline: the exit was spurious.
                if self.current_round_min_rtt < baseline_ns {
                    self.phase = Phase::SlowStart;
                }
            }
            Phase::Off => {}
        }
    }

    /// §4.2: enter CSS when this round's minimum RTT is `RttThresh` above the last round's.
    fn check_delay_increase(&mut self) {
        let (last, cur) = (self.last_round_min_rtt, self.current_round_min_rtt);
        if last == INF || cur == INF {
            return;
        }
        if cur >= last.saturating_add(rtt_thresh(last)) {
            self.phase = Phase::Css {
                baseline_ns: cur,
                rounds: 0,
            };
        }
    }
}

/// `RttThresh = max(MIN_RTT_THRESH, min(lastRoundMinRTT / MIN_RTT_DIVISOR, MAX_RTT_THRESH))`.
pub fn rtt_thresh(last_round_min_rtt: u64) -> u64 {
    (last_round_min_rtt / MIN_RTT_DIVISOR).clamp(MIN_RTT_THRESH_NS, MAX_RTT_THRESH_NS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Instant;

    const MSS: u32 = 1000;
    const MS: u64 = 1_000_000;

    /// Drives rounds of ACKs: the sender keeps `snd_nxt` one window ahead of the ACKs, so a
    /// round is `window / MSS` ACKs.
    struct Flow {
        hs: HyStart,
        ack: u32,
        /// Bytes sent ahead of the cumulative ACK.
        window: u32,
    }

    impl Flow {
        fn new() -> Flow {
            Flow {
                hs: HyStart::new(),
                ack: 0,
                window: 10 * MSS,
            }
        }

        /// One ACK of one segment with an RTT sample of `rtt` ns.
        fn ack(&mut self, rtt: Option<u64>) -> Step {
            self.ack = self.ack.wrapping_add(MSS);
            self.hs.on_ack(&AckSample {
                acked: MSS,
                mss: MSS,
                in_flight_before: self.window,
                now: Instant::ZERO,
                rtt_ns: rtt,
                min_rtt_ns: u64::MAX,
                snd_nxt: self.ack.wrapping_add(self.window),
                ack: self.ack,
            })
        }

        /// One round of `window / MSS` ACKs (the first ends the previous round), the first
        /// `samples` of them with RTT `rtt`. Returns true if an ACK ended slow start.
        fn round_with(&mut self, rtt: u64, samples: u32) -> bool {
            let mut exit = false;
            for i in 0..self.window / MSS {
                exit |= self.ack((i < samples).then_some(rtt)).exit;
            }
            exit
        }

        /// One round, every ACK with RTT `rtt`.
        fn round(&mut self, rtt: u64) -> bool {
            self.round_with(rtt, u32::MAX)
        }
    }

    #[test]
    fn rtt_thresh_is_an_eighth_clamped_to_4_and_16_ms() {
        assert_eq!(rtt_thresh(10 * MS), 4 * MS);
        assert_eq!(rtt_thresh(80 * MS), 10 * MS);
        assert_eq!(rtt_thresh(200 * MS), 16 * MS);
    }

    #[test]
    fn growth_is_capped_at_eight_segments_and_quartered_in_css() {
        let mut hs = HyStart::new();
        assert_eq!(hs.growth(3 * MSS, MSS), 3 * MSS);
        assert_eq!(hs.growth(20 * MSS, MSS), 8 * MSS);
        hs.phase = Phase::Css {
            baseline_ns: MS,
            rounds: 0,
        };
        assert_eq!(hs.growth(4 * MSS, MSS), MSS);
        assert_eq!(hs.growth(20 * MSS, MSS), 2 * MSS);
    }

    #[test]
    fn rounds_end_when_the_ack_reaches_window_end() {
        let mut f = Flow::new();
        f.ack(Some(10 * MS)); // ack 1,000 opens round 1: window_end = 11,000
        assert_eq!(f.hs.window_end, Some(11 * MSS));
        for _ in 0..9 {
            f.ack(Some(10 * MS)); // up to ack 10,000: below window_end
        }
        assert_eq!(f.hs.window_end, Some(11 * MSS));
        assert_eq!(f.hs.rtt_samples, 10);
        f.ack(Some(12 * MS)); // ack 11,000 reaches it: round 2, this sample its first
        assert_eq!(f.hs.window_end, Some(21 * MSS));
        assert_eq!(f.hs.last_round_min_rtt, 10 * MS);
        assert_eq!(f.hs.current_round_min_rtt, 12 * MS);
        assert_eq!(f.hs.rtt_samples, 1);
    }

    #[test]
    fn a_small_rtt_rise_stays_in_slow_start() {
        let mut f = Flow::new();
        f.round(40 * MS);
        f.round(40 * MS);
        // RttThresh for 40 ms is 5 ms: 44.9 ms is not enough.
        f.round(40 * MS + 4_900_000);
        f.round(40 * MS + 4_900_000);
        assert_eq!(f.hs.phase(), Phase::SlowStart);
    }

    #[test]
    fn a_round_whose_min_rtt_rises_by_the_threshold_enters_css_then_ends_slow_start() {
        let mut f = Flow::new();
        f.round(40 * MS);
        f.round(40 * MS);
        // 40 ms + 5 ms: the eighth sample of the round triggers the exit.
        for i in 0..N_RTT_SAMPLE {
            assert_eq!(f.hs.phase(), Phase::SlowStart, "sample {i}");
            assert_eq!(f.ack(Some(45 * MS)).grow, MSS);
        }
        assert_eq!(
            f.hs.phase(),
            Phase::Css {
                baseline_ns: 45 * MS,
                rounds: 0
            }
        );
        // In CSS one segment acknowledged earns a quarter of a segment.
        assert_eq!(f.ack(Some(45 * MS)).grow, MSS / 4);
        f.ack(Some(45 * MS));
        // CSS_ROUNDS round ends, the RTT staying up: slow start is over at the fifth.
        for r in 1..CSS_ROUNDS {
            assert!(!f.round(46 * MS), "round {r}");
            assert_eq!(
                f.hs.phase(),
                Phase::Css {
                    baseline_ns: 45 * MS,
                    rounds: r
                }
            );
        }
        assert!(f.ack(Some(46 * MS)).exit);
        assert_eq!(f.hs.phase(), Phase::Off);
        assert!(!f.hs.active());
        // Stopped for good: the next round changes nothing.
        assert!(!f.round(10 * MS));
        assert_eq!(f.hs.phase(), Phase::Off);
    }

    #[test]
    fn an_rtt_falling_below_the_baseline_returns_to_slow_start() {
        let mut f = Flow::new();
        f.round(40 * MS);
        f.round(40 * MS);
        f.round(45 * MS);
        assert!(matches!(f.hs.phase(), Phase::Css { .. }));
        // Next round: the minimum RTT drops below the 45 ms baseline, but only the eighth
        // sample lets the round's minimum count.
        for _ in 0..N_RTT_SAMPLE - 1 {
            f.ack(Some(41 * MS));
        }
        assert!(matches!(f.hs.phase(), Phase::Css { rounds: 1, .. }));
        f.ack(Some(41 * MS));
        assert_eq!(f.hs.phase(), Phase::SlowStart);
        assert_eq!(f.ack(Some(41 * MS)).grow, MSS, "full growth again");
        f.ack(Some(41 * MS)); // the round's last ACK
        // And CSS can be entered again later, its round count starting afresh.
        f.round(41 * MS);
        f.round(47 * MS);
        assert!(matches!(f.hs.phase(), Phase::Css { rounds: 0, .. }));
    }

    #[test]
    fn too_few_samples_or_no_previous_round_never_exit() {
        let mut f = Flow::new();
        // Seven samples a round: the minimum is never trusted.
        for rtt in [10, 100, 200] {
            f.round_with(rtt * MS, N_RTT_SAMPLE - 1);
        }
        assert_eq!(f.hs.phase(), Phase::SlowStart);
        // A round without samples leaves the next without a reference.
        let mut g = Flow::new();
        g.round(10 * MS);
        g.round_with(10 * MS, 0);
        g.round(100 * MS);
        assert_eq!(g.hs.phase(), Phase::SlowStart);
    }

    #[test]
    fn rounds_survive_sequence_wraparound() {
        let mut f = Flow::new();
        f.ack = u32::MAX - 15 * MSS;
        f.round(40 * MS);
        f.round(40 * MS);
        f.round(45 * MS);
        assert!(matches!(f.hs.phase(), Phase::Css { .. }));
    }

    #[test]
    fn restart_forgets_the_rounds_not_the_phase() {
        let mut f = Flow::new();
        f.round(40 * MS);
        f.round(40 * MS);
        f.hs.restart_rounds();
        assert_eq!(f.hs.window_end, None);
        // After the restart, a higher RTT has no previous round to compare with.
        f.round(60 * MS);
        assert_eq!(f.hs.phase(), Phase::SlowStart);
    }
}
