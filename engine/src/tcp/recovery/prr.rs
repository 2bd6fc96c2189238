//! Proportional Rate Reduction (RFC 6937): how much may be sent on each ACK during fast
//! recovery, so that `cwnd` glides to `ssthresh` over one round trip instead of halving at
//! once (RFC 5681) or inflating and deflating (RFC 6582).
//!
//! Invariants: `prr_delivered` and `prr_out` only grow during one recovery; `recover_fs > 0`.

/// PRR's state for one recovery episode, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prr {
    /// `RecoverFS`: the flight size when recovery began (RFC 6937 §3: `snd.nxt - snd.una`).
    pub recover_fs: u32,
    /// `prr_delivered`: data delivered to the receiver since recovery began.
    pub delivered: u32,
    /// `prr_out`: data sent (new and retransmitted) since recovery began.
    pub out: u32,
}

impl Prr {
    /// RFC 6937 §3, "on entering recovery".
    pub fn start(flight_size: u32) -> Prr {
        Prr {
            recover_fs: flight_size.max(1),
            delivered: 0,
            out: 0,
        }
    }

    /// RFC 6937 §3, "on every ACK during recovery": the new `cwnd` given `delivered` bytes
    /// newly delivered by this ACK (`DeliveredData`), `pipe` and `ssthresh`. Uses the slow
    /// start reduction bound (PRR-SSRB) when `pipe` is below `ssthresh`.
    pub fn on_ack(&mut self, delivered: u32, pipe: u32, ssthresh: u32, mss: u32) -> u32 {
        self.delivered = self.delivered.saturating_add(delivered);
        let sndcnt = if pipe > ssthresh {
            // CEIL(prr_delivered * ssthresh / RecoverFS) - prr_out
            let num = u64::from(self.delivered) * u64::from(ssthresh);
            let share = num.div_ceil(u64::from(self.recover_fs));
            share.saturating_sub(u64::from(self.out)) as u32
        } else {
            let limit = self
                .delivered
                .saturating_sub(self.out)
                .max(delivered)
                .saturating_add(mss);
            (ssthresh - pipe).min(limit)
        };
        // Linux `tcp_cwnd_reduction`: the fast retransmit itself goes out at once.
        let sndcnt = if self.out == 0 {
            sndcnt.max(mss)
        } else {
            sndcnt
        };
        pipe.saturating_add(sndcnt)
    }

    /// RFC 6937 §3, "on any data transmission or retransmission".
    pub fn on_sent(&mut self, bytes: u32) {
        self.out = self.out.saturating_add(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    #[test]
    fn proportional_part_sends_ssthresh_over_recover_fs() {
        // 20 segments in flight, ssthresh 10: one segment out per two delivered.
        let mut prr = Prr::start(20 * MSS);
        // The fast retransmit went out.
        prr.on_sent(MSS);
        let cwnd = prr.on_ack(2 * MSS, 19 * MSS, 10 * MSS, MSS);
        // CEIL(2000 * 10000 / 20000) - 1000 = 0.
        assert_eq!(cwnd, 19 * MSS);
        let cwnd = prr.on_ack(MSS, 18 * MSS, 10 * MSS, MSS);
        // CEIL(3000 * 10000 / 20000) - 1000 = 500.
        assert_eq!(cwnd, 18 * MSS + 500);
    }

    #[test]
    fn slow_start_reduction_bound_when_pipe_falls_below_ssthresh() {
        let mut prr = Prr::start(20 * MSS);
        prr.on_sent(2 * MSS);
        // Pipe 5 segments, ssthresh 10: at most max(prr_delivered - prr_out, delivered) + MSS.
        let cwnd = prr.on_ack(4 * MSS, 5 * MSS, 10 * MSS, MSS);
        assert_eq!(cwnd, 5 * MSS + (2 * MSS).max(4 * MSS) + MSS);
        // Never beyond ssthresh.
        let cwnd = prr.on_ack(20 * MSS, 9 * MSS, 10 * MSS, MSS);
        assert_eq!(cwnd, 10 * MSS);
    }

    #[test]
    fn the_first_retransmission_is_always_allowed() {
        let mut prr = Prr::start(20 * MSS);
        assert_eq!(prr.on_ack(0, 19 * MSS, 10 * MSS, MSS), 20 * MSS);
    }

    #[test]
    fn nothing_to_send_when_ahead_of_the_proportion() {
        let mut prr = Prr::start(10 * MSS);
        prr.on_sent(5 * MSS);
        assert_eq!(prr.on_ack(MSS, 8 * MSS, 5 * MSS, MSS), 8 * MSS);
    }
}
