//! The retransmission timer's estimator: RFC 6298 SRTT / RTTVAR / RTO, with exponential backoff.
//!
//! - First sample R (§2.2): `SRTT = R`, `RTTVAR = R/2`.
//! - Later samples R' (§2.3): `RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|` (with the old SRTT), then
//!   `SRTT = 7/8 SRTT + 1/8 R'`.
//! - `RTO = SRTT + max(G, 4 * RTTVAR)`, clamped to `[min_rto, max_rto]` (§2.4, §2.5). Before any
//!   sample, `RTO = initial_rto` (1 s, §2.1).
//! - Backoff (§5.5): each expiry doubles the RTO, up to `max_rto`.
//!
//! Deviation, as Linux: `min_rto` defaults to 200 ms rather than §2.4's 1 s, which is too
//! conservative for data-centre round trips. Samples must obey Karn's rule (§3): never from a
//! retransmitted segment unless the timestamp option disambiguates (RFC 7323 §4.1). The
//! arithmetic is exact in nanoseconds; nothing here can panic or overflow.

use std::time::Duration;

/// The estimator's constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RttConfig {
    /// RTO before the first sample (RFC 6298 §2.1: 1 s).
    pub initial_rto: Duration,
    /// Lower clamp (RFC 6298 §2.4 says 1 s; Linux and this engine use 200 ms).
    pub min_rto: Duration,
    /// Upper clamp, also of the backed-off RTO (RFC 6298 §2.5: at least 60 s; Linux: 120 s).
    pub max_rto: Duration,
    /// Clock granularity G (RFC 6298 §2.3): the timer wheel's tick.
    pub granularity: Duration,
}

impl Default for RttConfig {
    fn default() -> RttConfig {
        RttConfig {
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(120),
            granularity: super::timer::DEFAULT_TICK,
        }
    }
}

/// RFC 6298 K.
const K: u32 = 4;
/// The most doublings that can matter: 2^31 times any RTO exceeds any sane `max_rto`.
const MAX_BACKOFF_SHIFT: u32 = 31;

/// Smoothed round-trip time, its variation, the derived RTO and the backoff count. Kept in
/// integer nanoseconds: a sample is taken on most ACKs, so the arithmetic is on the fast path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RttEstimator {
    /// False until the first sample.
    sampled: bool,
    srtt_ns: u64,
    rttvar_ns: u64,
    /// The RTO of §2 (clamped), before backoff.
    base_rto_ns: u64,
    /// Doublings since the last sample or reset (§5.5).
    backoffs: u32,
    /// The current RTO: `base_rto_ns` backed off `backoffs` times, at most `max_us`. Kept up
    /// to date by every change of either, since the send and ACK paths read it per segment.
    rto_ns: u64,
    min_rtt_ns: u64,
    /// The configuration's bounds and granularity in nanoseconds (all of it the estimator
    /// needs after creation: one copy per connection, issue 10's 1 KiB).
    /// Microseconds in 32 bits (up to 71 minutes, longer clamped): 12 bytes, not 24.
    min_us: u32,
    max_us: u32,
    granularity_us: u32,
}

/// `d` in whole microseconds, clamped to `u32::MAX`.
fn us32(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl RttEstimator {
    /// An estimator with no sample yet: RTO is `initial_rto`.
    pub fn new(config: RttConfig) -> RttEstimator {
        let (min_us, max_us) = (
            us32(config.min_rto),
            us32(config.max_rto).max(us32(config.min_rto)),
        );
        let (min_ns, max_ns) = (u64::from(min_us) * 1000, u64::from(max_us) * 1000);
        let base_rto_ns = ns(config.initial_rto).clamp(min_ns, max_ns);
        RttEstimator {
            sampled: false,
            srtt_ns: 0,
            rttvar_ns: 0,
            base_rto_ns,
            backoffs: 0,
            rto_ns: base_rto_ns,
            min_rtt_ns: u64::MAX,
            min_us,
            max_us,
            granularity_us: us32(config.granularity),
        }
    }

    fn min_ns(&self) -> u64 {
        u64::from(self.min_us) * 1000
    }

    fn max_ns(&self) -> u64 {
        u64::from(self.max_us) * 1000
    }

    fn granularity_ns(&self) -> u64 {
        u64::from(self.granularity_us) * 1000
    }

    /// Takes a round-trip measurement (RFC 6298 §2.2, §2.3) and recomputes the RTO.
    ///
    /// Also clears the backoff: a valid sample comes from an acknowledgment of data sent once
    /// (Karn, §3) or timed by the timestamp option, so the path answers again and the RTO is
    /// recomputed from §2 (§5.7's note).
    pub fn sample(&mut self, rtt: Duration) {
        self.sample_ns(ns(rtt));
    }

    /// [`RttEstimator::sample`] of `r` nanoseconds.
    pub fn sample_ns(&mut self, r: u64) {
        if !self.sampled {
            self.sampled = true;
            // §2.2: the first measurement.
            self.srtt_ns = r;
            self.rttvar_ns = r / 2;
        } else {
            // §2.3: beta = 1/4, alpha = 1/8; RTTVAR uses the SRTT before this update.
            let s = self.srtt_ns;
            self.rttvar_ns = (self
                .rttvar_ns
                .saturating_mul(3)
                .saturating_add(s.abs_diff(r)))
                / 4;
            self.srtt_ns = (s.saturating_mul(7).saturating_add(r)) / 8;
        }
        self.min_rtt_ns = self.min_rtt_ns.min(r);
        // §2.3 and the clamps of §2.4 and §2.5.
        let variance = self
            .granularity_ns()
            .max(self.rttvar_ns.saturating_mul(u64::from(K)));
        self.base_rto_ns = self
            .srtt_ns
            .saturating_add(variance)
            .clamp(self.min_ns(), self.max_ns());
        self.backoffs = 0;
        // No backoff: the clamped §2 value is the RTO.
        self.rto_ns = self.base_rto_ns;
    }

    /// The current RTO: the §2 value doubled once per backoff, at most `max_rto`.
    pub fn rto(&self) -> Duration {
        Duration::from_nanos(self.rto_ns())
    }

    /// [`RttEstimator::rto`] in nanoseconds.
    #[inline]
    pub fn rto_ns(&self) -> u64 {
        self.rto_ns
    }

    /// The §2 RTO doubled once per backoff (§5.5), at most `max_rto`.
    fn backed_off(&self) -> u64 {
        let shift = self.backoffs.min(MAX_BACKOFF_SHIFT);
        let rto = self
            .base_rto_ns
            .checked_shl(shift)
            .filter(|v| v >> shift == self.base_rto_ns);
        rto.unwrap_or(u64::MAX).min(self.max_ns())
    }

    /// The retransmission timer expired: double the RTO (RFC 6298 §5.5). Saturates.
    pub fn backoff(&mut self) {
        self.backoffs = self.backoffs.saturating_add(1);
        self.rto_ns = self.backed_off();
    }

    /// Forgets the backoff, returning to the §2 RTO (e.g. when an ACK of new data arrives
    /// without a usable RTT sample).
    pub fn reset_backoff(&mut self) {
        if self.backoffs != 0 {
            self.backoffs = 0;
            self.rto_ns = self.base_rto_ns;
        }
    }

    /// How many times the RTO has been doubled since the last sample or reset (the count
    /// Linux compares with `tcp_retries2`).
    pub fn backoffs(&self) -> u32 {
        self.backoffs
    }

    /// Smoothed RTT, `None` before the first sample.
    pub fn srtt(&self) -> Option<Duration> {
        self.sampled.then(|| Duration::from_nanos(self.srtt_ns))
    }

    /// RTT variation (zero before the first sample).
    pub fn rttvar(&self) -> Duration {
        Duration::from_nanos(self.rttvar_ns)
    }

    /// The smallest sample seen (all-time minimum).
    /// The smallest sample so far in nanoseconds, `u64::MAX` before the first.
    pub fn min_rtt_ns(&self) -> u64 {
        self.min_rtt_ns
    }

    pub fn min_rtt(&self) -> Option<Duration> {
        (self.min_rtt_ns != u64::MAX).then(|| Duration::from_nanos(self.min_rtt_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn config() -> RttConfig {
        RttConfig {
            granularity: ms(1),
            ..RttConfig::default()
        }
    }

    #[test]
    fn initial_rto_is_one_second() {
        let rtt = RttEstimator::new(RttConfig::default());
        assert_eq!(rtt.rto(), Duration::from_secs(1));
        assert_eq!(rtt.srtt(), None);
        assert_eq!(rtt.min_rtt(), None);
    }

    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        let mut rtt = RttEstimator::new(config());
        rtt.sample(ms(100));
        // SRTT = 100, RTTVAR = 50, RTO = 100 + max(1, 4 * 50) = 300 ms.
        assert_eq!(rtt.srtt(), Some(ms(100)));
        assert_eq!(rtt.rttvar(), ms(50));
        assert_eq!(rtt.rto(), ms(300));
    }

    #[test]
    fn later_samples_use_alpha_and_beta() {
        let mut rtt = RttEstimator::new(config());
        rtt.sample(ms(100));
        rtt.sample(ms(200));
        // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 37.5 + 25 = 62.5 ms
        // SRTT = 7/8 * 100 + 1/8 * 200 = 112.5 ms
        // RTO = 112.5 + 4 * 62.5 = 362.5 ms
        assert_eq!(rtt.rttvar(), Duration::from_micros(62_500));
        assert_eq!(rtt.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(rtt.rto(), Duration::from_micros(362_500));
        rtt.sample(ms(80));
        // RTTVAR = 3/4 * 62.5 + 1/4 * |112.5 - 80| = 46.875 + 8.125 = 55 ms
        // SRTT = 7/8 * 112.5 + 1/8 * 80 = 98.4375 + 10 = 108.4375 ms
        // RTO = 108.4375 + 220 = 328.4375 ms
        assert_eq!(rtt.rttvar(), ms(55));
        assert_eq!(rtt.srtt(), Some(Duration::from_nanos(108_437_500)));
        assert_eq!(rtt.rto(), Duration::from_nanos(328_437_500));
        assert_eq!(rtt.min_rtt(), Some(ms(80)));
    }

    #[test]
    fn rto_is_clamped_to_min_and_granularity_counts() {
        let mut rtt = RttEstimator::new(config());
        rtt.sample(ms(10));
        // 10 + 4 * 5 = 30 ms, below min_rto.
        assert_eq!(rtt.rto(), ms(200));
        // A steady RTT drives RTTVAR towards zero; G keeps the variance term positive.
        let mut steady = RttEstimator::new(RttConfig {
            min_rto: Duration::ZERO,
            granularity: ms(5),
            ..RttConfig::default()
        });
        for _ in 0..200 {
            steady.sample(ms(40));
        }
        assert_eq!(steady.srtt(), Some(ms(40)));
        assert_eq!(steady.rto(), ms(45));
    }

    #[test]
    fn rto_is_clamped_to_max() {
        let mut rtt = RttEstimator::new(config());
        rtt.sample(Duration::from_secs(100));
        // 100 + 4 * 50 = 300 s > 120 s.
        assert_eq!(rtt.rto(), Duration::from_secs(120));
    }

    #[test]
    fn backoff_doubles_saturates_and_resets() {
        let mut rtt = RttEstimator::new(config());
        rtt.sample(ms(100)); // RTO 300 ms
        rtt.backoff();
        assert_eq!(rtt.rto(), ms(600));
        rtt.backoff();
        assert_eq!(rtt.rto(), ms(1_200));
        for _ in 0..100 {
            rtt.backoff();
        }
        assert_eq!(rtt.backoffs(), 102);
        assert_eq!(rtt.rto(), Duration::from_secs(120));
        rtt.reset_backoff();
        assert_eq!(rtt.rto(), ms(300));
        rtt.backoff();
        // A new sample recomputes the RTO from §2 and ends the backoff.
        rtt.sample(ms(100));
        // RTTVAR = 3/4 * 50 + 0 = 37.5, SRTT = 100, RTO = 100 + 150 = 250 ms.
        assert_eq!(rtt.backoffs(), 0);
        assert_eq!(rtt.rto(), ms(250));
    }

    #[test]
    fn backoff_before_any_sample_doubles_the_initial_rto() {
        let mut rtt = RttEstimator::new(RttConfig::default());
        rtt.backoff();
        rtt.backoff();
        assert_eq!(rtt.rto(), Duration::from_secs(4));
    }

    #[test]
    fn zero_rtt_sample_gives_min_rto() {
        let mut rtt = RttEstimator::new(config());
        rtt.sample(Duration::ZERO);
        assert_eq!(rtt.rto(), ms(200));
        assert_eq!(rtt.min_rtt(), Some(Duration::ZERO));
    }
}
