//! CUBIC (RFC 9438), the engine's default congestion control, with HyStart++ (RFC 9406,
//! `hystart.rs`) for the initial slow start. The reduction during fast recovery is PRR's
//! (RFC 6937, `tcp::recovery`), which brings `cwnd` to the `ssthresh` chosen here.
//!
//! Windows are bytes and the SMSS comes with each call; the RFC's segment formulas are
//! scaled by `mss`. Time is the `Instant` the caller passes; the curve works in microseconds.
//!
//! - Window increase (§4.1): `W_cubic(t) = C*(t-K)^3 + W_max`, `C = 0.4`,
//!   `K = cbrt((W_max - cwnd_epoch)/C)`, with `t` counted from the start of the current
//!   congestion-avoidance stage (the epoch, begun by its first ACK, as Linux does). When
//!   `cwnd_epoch >= W_max` (no loss yet, after HyStart++ or after an RTO) `K = 0` and the
//!   curve's plateau is `cwnd_epoch` (§4.8; Linux `bictcp_update`).
//! - Target (§4.2): `W_cubic(t + RTT)` clamped to `[cwnd, 1.5*cwnd]`; each ACK adds
//!   `(target - cwnd)/cwnd` per segment acknowledged, so `cwnd` grows by at most half in one
//!   RTT. `RTT` is the connection's minimum RTT (Linux `delay_min`). Concave (§4.4) and convex
//!   (§4.5) regions are the same rule below and above `W_max`.
//! - Reno-friendly region (§4.3): `W_est` starts at `cwnd_epoch` and grows by
//!   `alpha * segments_acked / cwnd`, `alpha = 3(1-beta)/(1+beta) = 9/17`, then `alpha = 1`
//!   once `W_est >= cwnd_prior`; when `W_cubic(t) < W_est`, `cwnd = W_est` (never lowered:
//!   `W_cubic(t + RTT)` may have taken `cwnd` above `W_est` earlier).
//! - Multiplicative decrease (§4.6): `ssthresh = max(cwnd*beta, 2*SMSS)`, `beta = 0.7`. This
//!   uses `cwnd`, as Linux `cubictcp_recalc_ssthresh` does, not the flight size; with the
//!   RFC 7661 rule below, a window in use is close to the flight anyway.
//! - Fast convergence (§4.7): a loss below the last `W_max` sets `W_max = cwnd*(1+beta)/2`.
//! - RTO (§4.8): `ssthresh` as in §4.6 (kept when the timer expires again before new data is
//!   acknowledged, RFC 5681 §3.1), `cwnd = 1*SMSS`, and the next epoch starts with `K = 0`
//!   and `W_max = W_est = cwnd_epoch`. Slow start after it grows by at most one SMSS per ACK
//!   (RFC 3465 §2.3).
//! - Slow start (§4.10): HyStart++ for the initial one (`L = 8`), classic RFC 3465 byte
//!   counting (`L = 2`) for the later ones.
//! - Spurious reductions (§4.9): `undo` restores `ssthresh`, `W_max`, `K`, the epoch, `W_est`
//!   and HyStart++ as they were before the last reduction, and `cwnd` to the larger of now
//!   and then (Linux `undo_cwnd`).
//! - A window not in use does not grow (RFC 7661 §4.1, as NewReno), and the time it is not
//!   used does not count in `t` (§5.8): the epoch moves forward by the gaps between ACKs that
//!   found the sender application-limited. An idle restart (RFC 5681 §4.1) caps `cwnd` at
//!   the initial window and ends the epoch (Linux acts on `CA_EVENT_TX_START`).
//!
//! Invariants: `cwnd >= 1*SMSS` after any event; all arithmetic is integer, saturating, with
//! u128 intermediates: no panic, no NaN, no allocation per ACK.

use super::hystart::{HyStart, Phase, Step};
use super::{AckSample, CongestionControl, CongestionEvent, cwnd_limited, initial_window};
use crate::time::Instant;

/// `C = 0.4` (§4.1) as a fraction.
const C: (u128, u128) = (2, 5);
/// `beta_cubic = 0.7` (§4.6).
const BETA: (u64, u64) = (7, 10);
/// `(1 + beta_cubic) / 2 = 0.85` (§4.7).
const FAST_CONVERGENCE: (u64, u64) = (17, 20);
/// `alpha_cubic = 3(1 - beta)/(1 + beta) = 0.9/1.7` (§4.3).
const ALPHA: (u128, u128) = (9, 17);
/// Cubic microseconds in a cubic second.
const US3_PER_S3: u128 = 1_000_000_000_000_000_000;
/// Beyond 4000 s from `K`, `C*(t-K)^3` exceeds any u32 window even at an SMSS of one byte:
/// the distance is clamped there so the cube stays inside u128.
const MAX_OFFSET_US: u64 = 4_000_000_000;
/// Fractional bits of `W_est` and of the growth carried between ACKs.
const FRAC: u32 = 16;

/// Floor of the cube root of `n` (integer Newton iteration from above).
pub fn icbrt(n: u128) -> u64 {
    if n == 0 {
        return 0;
    }
    let bits = 128 - n.leading_zeros();
    // 2^ceil(bits/3) >= cbrt(n); every step stays >= floor(cbrt(n)) and decreases.
    let mut x: u128 = 1 << bits.div_ceil(3);
    loop {
        let y = (2 * x + n / (x * x)) / 3;
        if y >= x {
            return x as u64;
        }
        x = y;
    }
}

/// `K` of §4.1 in microseconds for a window `gap = W_max - cwnd_epoch` bytes below the
/// plateau: `cbrt(gap / (C * mss))` seconds.
pub fn k_us(gap: u32, mss: u32) -> u64 {
    let n = u128::from(gap) * C.1 * US3_PER_S3 / (C.0 * u128::from(mss.max(1)));
    icbrt(n)
}

/// `W_cubic(t)` of §4.1 in bytes, `t` microseconds into the epoch, saturated to
/// `[0, u32::MAX]`.
pub fn w_cubic(t_us: u64, k_us: u64, w_max: u32, mss: u32) -> u32 {
    let d = u128::from(t_us.abs_diff(k_us).min(MAX_OFFSET_US));
    let delta = (C.0 * u128::from(mss)).saturating_mul(d * d * d) / (C.1 * US3_PER_S3);
    let delta = u64::try_from(delta).unwrap_or(u64::MAX);
    let w = if t_us >= k_us {
        u64::from(w_max).saturating_add(delta)
    } else {
        u64::from(w_max).saturating_sub(delta)
    };
    u32::try_from(w).unwrap_or(u32::MAX)
}

/// One congestion-avoidance stage (§4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Epoch {
    /// `t_epoch`: the first ACK of the stage, moved on by application-limited time (§5.8).
    start: Instant,
    /// `W_est` (§4.3), bytes scaled by `2^FRAC`.
    w_est: u64,
    /// `K`, microseconds (at most 2207 s, for 2^32 bytes at an SMSS of one byte).
    k_us: u32,
    /// The plateau of the curve: `W_max`, or `cwnd_epoch` when that was larger (K = 0).
    w_max: u32,
}

/// The windows and the curve: what a spurious reduction gives back (§4.9), so held twice,
/// now and before the last reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Window {
    cwnd: u32,
    ssthresh: u32,
    /// `W_max` (§4.7): the window at the last reduction (0 before any, and after an RTO).
    w_max: u32,
    /// `cwnd_prior` (§4.3): the window when `ssthresh` was last set.
    cwnd_prior: u32,
    /// The current avoidance stage; `None` until its first ACK.
    epoch: Option<Epoch>,
    /// Growth below one byte carried to the next ACK, scaled by `2^FRAC`.
    carry: u32,
}

/// The CUBIC state of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cubic {
    s: Window,
    /// `s` before the last reduction, for `undo`.
    prior: Window,
    hystart: HyStart,
    /// The HyStart++ phase before the last reduction (which stops it), for `undo`.
    prior_phase: Phase,
    /// In the slow start that follows an RTO: `L = 1*SMSS` (RFC 3465 §2.3).
    after_rto: bool,
    /// An RTO fired and no new data has been acknowledged since (RFC 5681 §3.1).
    rto_unanswered: bool,
    /// The previous ACK's time: the gap to the next is application-limited time when that
    /// ACK finds the window unused.
    last_ack: Instant,
}

impl Cubic {
    /// Initial state: `cwnd = IW` (RFC 6928), `ssthresh` infinite, HyStart++ armed.
    pub fn new(mss: u32) -> Cubic {
        let s = Window {
            cwnd: initial_window(mss),
            ssthresh: u32::MAX,
            w_max: 0,
            cwnd_prior: 0,
            epoch: None,
            carry: 0,
        };
        let hystart = HyStart::new();
        Cubic {
            s,
            prior: s,
            hystart,
            prior_phase: hystart.phase(),
            after_rto: false,
            rto_unanswered: false,
            last_ack: Instant::ZERO,
        }
    }

    pub fn in_slow_start(&self) -> bool {
        self.s.cwnd < self.s.ssthresh
    }

    /// `W_max` in bytes (0 before the first reduction and after an RTO).
    pub fn w_max(&self) -> u32 {
        self.s.w_max
    }

    /// The HyStart++ state.
    pub fn hystart(&self) -> &HyStart {
        &self.hystart
    }

    /// §4.6: `max(cwnd * beta, 2*SMSS)`.
    fn reduced(&self, mss: u32) -> u32 {
        let w = u64::from(self.s.cwnd) * BETA.0 / BETA.1;
        (w as u32).max(mss.saturating_mul(2))
    }

    /// Ends the epoch and slow start's HyStart++, keeping `s` for `undo`.
    fn remember_and_end_stage(&mut self) {
        self.prior = self.s;
        self.prior_phase = self.hystart.phase();
        self.s.cwnd_prior = self.s.cwnd;
        self.s.epoch = None;
        self.s.carry = 0;
        self.hystart.stop();
    }

    /// §5.8: time in which the window was not used does not advance the curve.
    fn hold_epoch(&mut self, now: Instant, limited: bool) {
        if let (false, Some(e)) = (limited, self.s.epoch.as_mut()) {
            e.start = e.start.add_nanos(now.nanos_since(self.last_ack)).min(now);
        }
    }

    /// Slow start (§4.10): HyStart++ while it is active, else RFC 3465 with `L = 2*SMSS`
    /// (`1*SMSS` after an RTO). Returns the acknowledged bytes left over once `ssthresh` is
    /// reached, for avoidance.
    fn slow_start(&mut self, s: &AckSample, limited: bool) -> u32 {
        if !limited {
            // An application-limited window does not grow (RFC 7661), so HyStart++ has
            // nothing to decide either (Linux runs it only from 16 segments up): the common
            // request-response ACK stops here.
            return 0;
        }
        let step = if self.hystart.active() {
            self.hystart.on_ack(s)
        } else {
            let l = if self.after_rto { 1 } else { 2 };
            Step {
                grow: s.acked.min(s.mss.saturating_mul(l)),
                exit: false,
            }
        };
        let mut left = 0;
        let room = self.s.ssthresh - self.s.cwnd;
        if step.grow < room {
            self.s.cwnd += step.grow;
        } else {
            self.s.cwnd = self.s.ssthresh;
            left = s.acked.saturating_sub(room);
        }
        if step.exit {
            // RFC 9406 §4.2: CSS_ROUNDS done, congestion avoidance from here.
            self.s.ssthresh = self.s.cwnd;
            left = 0;
        }
        left
    }

    /// The current epoch, begun now if this is the stage's first ACK (§4.1, §4.3, §4.8).
    fn epoch(&mut self, now: Instant, mss: u32) -> Epoch {
        let (cwnd, w_max) = (self.s.cwnd, self.s.w_max);
        *self.s.epoch.get_or_insert_with(|| {
            let (k_us, w_max) = if w_max > cwnd {
                (k_us(w_max - cwnd, mss), w_max)
            } else {
                (0, cwnd)
            };
            Epoch {
                start: now,
                w_est: u64::from(cwnd) << FRAC,
                k_us: u32::try_from(k_us).unwrap_or(u32::MAX),
                w_max,
            }
        })
    }

    /// §4.3: `W_est += alpha * acked / cwnd` segments; returns the new `W_est` in bytes.
    fn grow_w_est(&mut self, e: &mut Epoch, acked: u32, mss: u32) -> u32 {
        let cwnd = u128::from(self.s.cwnd.max(1));
        let reached_prior = (e.w_est >> FRAC) >= u64::from(self.s.cwnd_prior);
        let (num, den) = if reached_prior { (1, 1) } else { ALPHA };
        let inc = ((num * u128::from(mss) * u128::from(acked)) << FRAC) / (den * cwnd);
        e.w_est = e
            .w_est
            .saturating_add(u64::try_from(inc).unwrap_or(u64::MAX));
        u32::try_from(e.w_est >> FRAC).unwrap_or(u32::MAX)
    }

    /// Congestion avoidance for `acked` bytes (§4.2 - §4.5).
    fn avoidance(&mut self, s: &AckSample, acked: u32) {
        self.after_rto = false;
        let mut e = self.epoch(s.now, s.mss);
        let t_us = s.now.nanos_since(e.start) / 1_000;
        let w_est = self.grow_w_est(&mut e, acked, s.mss);
        self.s.epoch = Some(e);
        let cwnd = self.s.cwnd;
        let k_us = u64::from(e.k_us);
        if w_cubic(t_us, k_us, e.w_max, s.mss) < w_est {
            // §4.3: the Reno-friendly region.
            self.s.cwnd = cwnd.max(w_est);
            return;
        }
        let rtt_us = match s.min_rtt_ns {
            u64::MAX => 0,
            ns => ns / 1_000,
        };
        let target = w_cubic(t_us.saturating_add(rtt_us), k_us, e.w_max, s.mss)
            .clamp(cwnd, cwnd.saturating_add(cwnd / 2));
        self.add_growth(target - cwnd, acked);
    }

    /// §4.4/§4.5: `cwnd += (target - cwnd) / cwnd` per segment acknowledged, in bytes:
    /// `(target - cwnd) * acked / cwnd`, fractions carried.
    fn add_growth(&mut self, gap: u32, acked: u32) {
        let cwnd = u128::from(self.s.cwnd.max(1));
        let inc = ((u128::from(gap) * u128::from(acked)) << FRAC) / cwnd;
        let total = inc.saturating_add(u128::from(self.s.carry));
        let whole = u32::try_from(total >> FRAC).unwrap_or(u32::MAX);
        self.s.cwnd = self.s.cwnd.saturating_add(whole);
        self.s.carry = (total & ((1 << FRAC) - 1)) as u32;
    }
}

impl CongestionControl for Cubic {
    fn cwnd(&self) -> u32 {
        self.s.cwnd
    }

    fn ssthresh(&self) -> u32 {
        self.s.ssthresh
    }

    fn set_cwnd(&mut self, cwnd: u32, mss: u32) {
        self.s.cwnd = cwnd.max(mss);
    }

    fn on_ack(&mut self, s: &AckSample) {
        self.rto_unanswered = false;
        let limited = cwnd_limited(self.in_slow_start(), self.s.cwnd, s.in_flight_before, s.mss);
        self.hold_epoch(s.now, limited);
        self.last_ack = s.now;
        let mut acked = s.acked;
        if self.in_slow_start() {
            acked = self.slow_start(s, limited);
        }
        if limited && acked > 0 && !self.in_slow_start() {
            self.avoidance(s, acked);
        }
    }

    fn on_congestion(&mut self, _ev: CongestionEvent, _in_flight: u32, mss: u32, _now: Instant) {
        let cwnd = self.s.cwnd;
        // §4.7 fast convergence, before the reduction.
        let w_max = if cwnd < self.s.w_max {
            (u64::from(cwnd) * FAST_CONVERGENCE.0 / FAST_CONVERGENCE.1) as u32
        } else {
            cwnd
        };
        let ssthresh = self.reduced(mss);
        self.remember_and_end_stage();
        self.s.w_max = w_max;
        self.s.ssthresh = ssthresh;
        self.after_rto = false;
    }

    fn on_rto(&mut self, _in_flight: u32, mss: u32, _now: Instant) {
        // RFC 5681 §3.1: a retransmission that times out again keeps ssthresh.
        if !self.rto_unanswered {
            let ssthresh = self.reduced(mss);
            self.remember_and_end_stage();
            self.s.ssthresh = ssthresh;
            // §4.8: the next stage starts with K = 0 and W_max = cwnd_epoch.
            self.s.w_max = 0;
        }
        self.s.epoch = None;
        self.s.carry = 0;
        self.s.cwnd = mss;
        self.after_rto = true;
        self.rto_unanswered = true;
    }

    fn undo(&mut self) {
        let cwnd = self.s.cwnd;
        self.s = self.prior;
        self.s.cwnd = cwnd.max(self.prior.cwnd);
        self.hystart.resume(self.prior_phase);
        self.after_rto = false;
        self.rto_unanswered = false;
    }

    fn on_idle_restart(&mut self, mss: u32, _now: Instant) {
        // RFC 5681 §4.1: RW = min(IW, cwnd); the curve restarts with the next stage.
        self.s.cwnd = self.s.cwnd.min(initial_window(mss));
        self.s.epoch = None;
        self.s.carry = 0;
        self.hystart.restart_rounds();
    }

    fn name(&self) -> &'static str {
        "cubic"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;
    const MS: u64 = 1_000_000;
    /// An arbitrary start, away from zero.
    const T: Instant = Instant::from_secs(100);

    /// An ACK of `acked` bytes at `at` with `flight` in flight before it.
    fn sample(acked: u32, flight: u32, at: Instant, min_rtt_ns: u64) -> AckSample {
        AckSample {
            acked,
            mss: MSS,
            in_flight_before: flight,
            now: at,
            rtt_ns: None,
            min_rtt_ns,
            snd_nxt: 0,
            ack: 0,
        }
    }

    /// An ACK of `acked` bytes with the whole window in flight.
    fn ack(cc: &mut Cubic, acked: u32, at: Instant, min_rtt_ns: u64) {
        let flight = cc.cwnd();
        cc.on_ack(&sample(acked, flight, at, min_rtt_ns));
    }

    /// A CUBIC in congestion avoidance at `cwnd`, last reduced from `w_max`, no epoch yet.
    fn in_avoidance(cwnd: u32, w_max: u32) -> Cubic {
        let mut cc = Cubic::new(MSS);
        cc.s.cwnd = cwnd;
        cc.s.ssthresh = cwnd;
        cc.s.w_max = w_max;
        cc.s.cwnd_prior = w_max;
        cc.hystart.stop();
        cc
    }

    /// `|a - b| <= 1`: integer results against values computed by hand with reals.
    fn near(a: u64, b: u64) -> bool {
        a.abs_diff(b) <= 1
    }

    #[test]
    fn integer_cube_root_is_exact() {
        for (n, r) in [
            (0, 0),
            (1, 1),
            (7, 1),
            (8, 2),
            (26, 2),
            (27, 3),
            (28, 3),
            (999, 9),
        ] {
            assert_eq!(icbrt(n), r, "cbrt({n})");
        }
        for x in [2u128, 10, 1_000, 4_217_163, 1 << 30, (1 << 42) + 12_345] {
            assert_eq!(icbrt(x * x * x), x as u64);
            assert_eq!(icbrt(x * x * x - 1), x as u64 - 1);
            assert_eq!(icbrt((x + 1) * (x + 1) * (x + 1) - 1), x as u64);
        }
        // floor(cbrt(2^128 - 1)), no overflow on the way.
        assert_eq!(icbrt(u128::MAX), 6_981_463_658_331);
    }

    #[test]
    fn k_follows_the_rfc_formula() {
        // W_max = 100 MSS, cwnd_epoch = 70 MSS: K = cbrt(30 / 0.4) = cbrt(75) = 4.2171633 s.
        assert_eq!(k_us(30_000, MSS), 4_217_163);
        // 0.4 MSS below the plateau: K = cbrt(1) = 1 s; 3.2 MSS: cbrt(8) = 2 s.
        assert_eq!(k_us(400, MSS), 1_000_000);
        assert_eq!(k_us(3_200, MSS), 2_000_000);
        // The gap counts in segments: the same bytes at twice the MSS halve the cube.
        assert_eq!(k_us(60_000, 2 * MSS), 4_217_163);
        assert_eq!(k_us(0, MSS), 0);
        // Extremes saturate rather than panic: 2^32 bytes at a 1-byte MSS is 2154 s.
        assert_eq!(k_us(u32::MAX, 0), k_us(u32::MAX, 1));
        assert!(near(k_us(u32::MAX, 1) / 1_000_000, 2_206));
    }

    #[test]
    fn w_cubic_follows_the_rfc_formula() {
        let k = k_us(30_000, MSS);
        let w = |t_us: u64| u64::from(w_cubic(t_us, k, 100_000, MSS));
        // W(0) = 100,000 - 400 * 75 = 70,000 bytes: the epoch starts at cwnd_epoch.
        assert!(near(w(0), 70_000), "{}", w(0));
        // Concave: W(2 s) = 100,000 + 400 * (2 - 4.2171633)^3 = 95,640.3.
        assert!(near(w(2_000_000), 95_640), "{}", w(2_000_000));
        // Plateau at K, convex after: W(K + 1 s) = 100,000 + 400.
        assert_eq!(w(k), 100_000);
        assert_eq!(w(k + 1_000_000), 100_400);
        // Far from K the cube saturates at both ends.
        assert_eq!(w_cubic(u64::MAX, 0, 100_000, MSS), u32::MAX);
        assert_eq!(w_cubic(0, u64::MAX, 100_000, MSS), 0);
        assert_eq!(w_cubic(u64::MAX, 0, u32::MAX, u32::MAX), u32::MAX);
    }

    #[test]
    fn a_loss_sets_ssthresh_and_w_max_and_the_curve_rises_from_cwnd_epoch() {
        let mut cc = in_avoidance(100_000, 0);
        cc.on_congestion(CongestionEvent::Loss, 90_000, MSS, T);
        // §4.6 uses cwnd (not the 90,000 in flight): 0.7 * 100,000.
        assert_eq!(
            (cc.ssthresh(), cc.w_max(), cc.cwnd()),
            (70_000, 100_000, 100_000)
        );
        cc.set_cwnd(70_000, MSS); // PRR ends at ssthresh
        // The stage's first ACK starts the epoch: K = cbrt(75) s, W_est = 70,000. At t = 0
        // the curve is flat and W_est (+ 9/17 * 1000 * 1000/70,000 = 7.6) is ahead of it.
        ack(&mut cc, MSS, T, 100 * MS);
        let e = cc.s.epoch.unwrap();
        assert_eq!((e.start, e.k_us, e.w_max), (T, 4_217_163, 100_000));
        assert_eq!(cc.cwnd(), 70_007);
        // t = 2 s, RTT 100 ms: target W(2.1 s) = 100,000 - 400 * 2.1171633^3 = 96,204.2;
        // cwnd grows by (96,204 - 70,007) * 1000 / 70,007 = 374.2 bytes.
        ack(&mut cc, MSS, T.add_nanos(2_000 * MS), 100 * MS);
        assert_eq!(cc.cwnd(), 70_381);
    }

    #[test]
    fn reno_friendly_region_wins_at_small_rtt() {
        // W_max = 10 MSS, cwnd_epoch = 7 MSS, RTT 1 ms: K = cbrt(7.5) = 1.957 s, and in the
        // first milliseconds the cubic curve is nearly flat (W(6 ms) = 7,028).
        let mut cc = in_avoidance(10_000, 0);
        cc.on_congestion(CongestionEvent::Loss, 10_000, MSS, T);
        cc.set_cwnd(7_000, MSS);
        // One window acknowledged per RTT: W_est grows by alpha = 9/17 segment a round...
        let mut expect = 7_000.0;
        for i in 0..6 {
            let window = cc.cwnd();
            ack(&mut cc, window, T.add_nanos(i * MS), MS);
            expect += 1000.0 * 9.0 / 17.0;
            assert_eq!(cc.cwnd(), expect as u32, "round {i}");
        }
        assert_eq!(cc.cwnd(), 10_176);
        // ... until W_est reaches cwnd_prior (10,000): then alpha = 1 (§4.3).
        let window = cc.cwnd();
        ack(&mut cc, window, T.add_nanos(6 * MS), MS);
        assert_eq!(cc.cwnd(), 11_176);
        let k = u64::from(cc.s.epoch.unwrap().k_us);
        assert!(w_cubic(6_000, k, 10_000, MSS) < 7_100);
    }

    #[test]
    fn growth_is_clamped_to_half_the_window_per_rtt() {
        let mut cc = in_avoidance(100_000, 0);
        // An epoch 100 s old whose curve is far above: W_cubic saturates.
        cc.s.epoch = Some(Epoch {
            start: T,
            w_est: 100_000 << FRAC,
            k_us: 0,
            w_max: 100_000,
        });
        let later = T.add_nanos(100_000 * MS);
        ack(&mut cc, MSS, later, MS);
        // target = 1.5 * cwnd: (150,000 - 100,000) / 100,000 per byte acknowledged.
        assert_eq!(cc.cwnd(), 100_500);
        // A window's worth of ACKs (100 segments) grows cwnd by half of that, not more.
        let before = cc.cwnd();
        for _ in 0..100 {
            ack(&mut cc, MSS, later, MS);
        }
        assert_eq!(cc.cwnd(), before + 50 * MSS);
    }

    #[test]
    fn fast_convergence_lowers_w_max() {
        // Loss below the last W_max: the flow releases bandwidth, W_max = 0.85 * cwnd.
        let mut cc = in_avoidance(80_000, 100_000);
        cc.on_congestion(CongestionEvent::Loss, 80_000, MSS, T);
        assert_eq!((cc.w_max(), cc.ssthresh()), (68_000, 56_000));
        cc.set_cwnd(56_000, MSS);
        ack(&mut cc, MSS, T, MS);
        // K = cbrt((68,000 - 56,000) / 400) = cbrt(30) = 3.107 s (without fast
        // convergence it would be cbrt(60) = 3.915 s).
        assert_eq!(cc.s.epoch.unwrap().k_us, 3_107_232);
        // Loss above the last W_max: W_max = cwnd.
        let mut up = in_avoidance(120_000, 100_000);
        up.on_congestion(CongestionEvent::Ecn, 120_000, MSS, T);
        assert_eq!((up.w_max(), up.ssthresh()), (120_000, 84_000));
    }

    #[test]
    fn ssthresh_has_a_floor_of_two_segments() {
        let mut cc = in_avoidance(2_000, 0);
        cc.on_congestion(CongestionEvent::Loss, 2_000, MSS, T);
        assert_eq!(cc.ssthresh(), 2_000);
        cc.set_cwnd(0, MSS);
        assert_eq!(cc.cwnd(), MSS);
    }

    #[test]
    fn undo_restores_windows_w_max_k_and_the_epoch() {
        let mut cc = in_avoidance(100_000, 120_000);
        ack(&mut cc, MSS, T, MS);
        ack(&mut cc, MSS, T.add_nanos(500 * MS), MS);
        let before = cc.s;
        assert!(before.epoch.is_some());
        cc.on_congestion(CongestionEvent::Loss, 100_000, MSS, T.add_nanos(600 * MS));
        cc.set_cwnd(80_000, MSS);
        assert_ne!(cc.s, before);
        cc.undo();
        assert_eq!(cc.s, before);
        // The same after an RTO (F-RTO finds it spurious).
        cc.on_rto(100_000, MSS, T.add_nanos(700 * MS));
        assert_eq!((cc.cwnd(), cc.w_max()), (MSS, 0));
        ack(&mut cc, MSS, T.add_nanos(900 * MS), MS);
        cc.undo();
        assert_eq!(cc.s, before);
        assert!(!cc.after_rto);
        // A window that grew past the old one is kept (Linux undo_cwnd takes the larger).
        cc.on_congestion(CongestionEvent::Loss, 100_000, MSS, T);
        cc.set_cwnd(150_000, MSS);
        cc.undo();
        assert_eq!((cc.cwnd(), cc.ssthresh()), (150_000, before.ssthresh));
    }

    #[test]
    fn undo_of_a_loss_in_slow_start_gives_back_hystart() {
        let mut cc = Cubic::new(MSS);
        cc.on_congestion(CongestionEvent::Loss, 10_000, MSS, T);
        assert!(!cc.hystart().active());
        cc.undo();
        assert_eq!(cc.hystart().phase(), Phase::SlowStart);
        assert_eq!(cc.ssthresh(), u32::MAX);
    }

    #[test]
    fn rto_collapses_the_window_and_restarts_the_curve_at_k_zero() {
        let mut cc = in_avoidance(50_000, 60_000);
        cc.on_rto(50_000, MSS, T);
        assert_eq!((cc.cwnd(), cc.ssthresh(), cc.w_max()), (MSS, 35_000, 0));
        assert!(cc.s.epoch.is_none());
        // Times out again: ssthresh held, not recomputed from the one-segment window.
        cc.on_rto(MSS, MSS, T);
        assert_eq!((cc.cwnd(), cc.ssthresh()), (MSS, 35_000));
        // Slow start after an RTO: at most one SMSS per ACK (RFC 3465 §2.3), no HyStart++.
        ack(&mut cc, 3 * MSS, T, MS);
        assert_eq!(cc.cwnd(), 2 * MSS);
        assert!(!cc.hystart().active());
        // At ssthresh the next stage starts with K = 0 and W_max = W_est = cwnd_epoch (§4.8);
        // W_est then grows by 9/17 * 1000 * 1000 / 35,000 = 15.1 bytes.
        cc.s.cwnd = 35_000;
        ack(&mut cc, MSS, T.add_nanos(10 * MS), MS);
        let e = cc.s.epoch.unwrap();
        assert_eq!((e.k_us, e.w_max, e.w_est >> FRAC), (0, 35_000, 35_015));
        // New data was acknowledged: the next RTO is a new reduction.
        let cwnd = cc.cwnd();
        cc.on_rto(cwnd, MSS, T);
        assert_eq!(cc.ssthresh(), cwnd * 7 / 10);
    }

    #[test]
    fn an_unused_window_does_not_grow_and_its_time_does_not_count() {
        let mut cc = in_avoidance(100_000, 0);
        ack(&mut cc, MSS, T, MS);
        let cwnd = cc.cwnd();
        // Ten seconds of ACKs with two segments of the window unused.
        for i in 1..=10 {
            cc.on_ack(&sample(
                MSS,
                cwnd - 2 * MSS,
                T.add_nanos(i * 1_000 * MS),
                MS,
            ));
        }
        assert_eq!(cc.cwnd(), cwnd);
        // The epoch moved with them: the curve resumes where it was (§5.8).
        assert_eq!(cc.s.epoch.unwrap().start, T.add_nanos(10_000 * MS));
        // Slow start likewise needs more than half the window in flight.
        let mut ss = Cubic::new(MSS);
        ss.on_ack(&sample(MSS, 5_000, T, MS));
        assert_eq!(ss.cwnd(), 10_000);
    }

    #[test]
    fn idle_restart_caps_at_the_initial_window_and_ends_the_epoch() {
        let mut cc = in_avoidance(50_000, 0);
        ack(&mut cc, MSS, T, MS);
        cc.on_idle_restart(MSS, T.add_nanos(5_000 * MS));
        assert_eq!(cc.cwnd(), 10_000);
        assert!(cc.s.epoch.is_none());
        assert!(cc.in_slow_start());
    }

    #[test]
    fn initial_slow_start_grows_up_to_eight_segments_per_ack() {
        let mut cc = Cubic::new(MSS);
        assert_eq!(
            (cc.cwnd(), cc.ssthresh(), cc.name()),
            (10_000, u32::MAX, "cubic")
        );
        ack(&mut cc, 3 * MSS, T, MS);
        assert_eq!(cc.cwnd(), 13_000);
        // A stretch ACK of twenty segments: L = 8 (RFC 9406, no pacing).
        ack(&mut cc, 20 * MSS, T, MS);
        assert_eq!(cc.cwnd(), 21_000);
    }

    #[test]
    fn hystart_ends_slow_start_after_the_rtt_rises() {
        let mut cc = Cubic::new(MSS);
        let (mut acked, mut round, mut round_end) = (0u32, 0u32, None);
        let mut exit_round = None;
        for i in 0..10_000u64 {
            let snd_nxt = acked + cc.cwnd();
            acked += MSS;
            // The test's own view of the rounds: the RTT rises by 10 ms from round 3.
            if round_end.is_none_or(|e| acked >= e) {
                round += 1;
                round_end = Some(snd_nxt);
            }
            let rtt = if round < 3 { 40 * MS } else { 50 * MS };
            cc.on_ack(&AckSample {
                rtt_ns: Some(rtt),
                snd_nxt,
                ack: acked,
                ..sample(MSS, cc.cwnd(), T.add_nanos(i * MS), 40 * MS)
            });
            if cc.ssthresh() != u32::MAX {
                exit_round = Some(round);
                break;
            }
        }
        // CSS from round 3, over after CSS_ROUNDS = 5 round ends: as round 8 begins.
        assert_eq!(exit_round, Some(8));
        assert_eq!(cc.ssthresh(), cc.cwnd());
        assert!(!cc.in_slow_start());
        assert!(!cc.hystart().active());
    }

    #[test]
    fn extreme_inputs_saturate_without_panic() {
        let mut cc = Cubic::new(u32::MAX);
        for (acked, flight, at, rtt) in [
            (u32::MAX, u32::MAX, Instant::FAR_FUTURE, u64::MAX),
            (0, 0, Instant::ZERO, 0),
            (u32::MAX, u32::MAX, Instant::ZERO, u64::MAX - 1),
        ] {
            cc.on_ack(&AckSample {
                mss: u32::MAX,
                rtt_ns: Some(rtt),
                snd_nxt: u32::MAX,
                ack: 1,
                ..sample(acked, flight, at, rtt)
            });
            cc.on_congestion(CongestionEvent::Loss, flight, u32::MAX, at);
            cc.set_cwnd(u32::MAX, 0);
            cc.on_ack(&sample(acked, u32::MAX, at, rtt));
            cc.on_rto(flight, 0, at);
            cc.undo();
            cc.on_idle_restart(0, at);
        }
        // Reaching here is the test: nothing overflowed or panicked.
        assert!(cc.ssthresh() > 0);
    }
}
