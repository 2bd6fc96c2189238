//! RACK (RFC 8985 §6): loss detection by time. A sent unit is deemed lost when a unit sent
//! after it has been delivered and it has been outstanding longer than an RTT plus a
//! reordering window.
//!
//! State (RFC 8985 §6.1): the delivered unit sent last (`xmit_ts`, `end_seq`) and its RTT;
//! the reordering window in multiples of a quarter of min_RTT (`reo_wnd_mult`), raised by one
//! per round trip in which a D-SACK arrives and reset after 16 recoveries without one
//! (§6.2 step 4, Linux `tcp_rack_update_reo_wnd`).
//!
//! Detection walks the sent units in sequence order from `snd.una` to RACK's `end_seq`. Units
//! never retransmitted were sent in sequence order, so beyond `end_seq` they were all sent
//! after the RACK unit and cannot be lost yet; retransmitted units carry their latest
//! transmission time and are checked wherever they lie below `end_seq`. The walk stops at the
//! first never-retransmitted unit that is not due yet: everything after it was sent later.
//! Cost: the units between `snd.una` and that point, only on ACKs that delivered something
//! while the scoreboard holds marks (on a clean path nothing is walked). Linux walks a list
//! kept in transmission order instead (`tsorted_sent_queue`); transmission stamps that are
//! strictly ordered (`SendQueue::stamp`) make the sequence-order walk give the same answer.

use super::super::send_queue::{Delivered, SegFlags, SendQueue};
use crate::time::Instant;
use crate::wire::SeqNum;

/// Recoveries without a D-SACK after which the reordering window returns to its base
/// (RFC 8985 §6.2 step 4: 16).
const REO_WND_PERSIST: u8 = 16;

/// RACK's per-connection state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Rack {
    /// The delivered unit sent last: its transmission time and end (`RACK.xmit_ts`,
    /// `RACK.end_seq`); `None` before the first delivery.
    pub last: Option<Delivered>,
    /// `RACK.rtt`: the RTT of that unit, nanoseconds.
    pub rtt_ns: u64,
    /// Reordering window multiplier (`RACK.reo_wnd_mult`, at least 1).
    pub reo_wnd_mult: u8,
    /// Recoveries left before the multiplier is reset (`RACK.reo_wnd_persist`).
    pub reo_wnd_persist: u8,
    /// `snd.nxt` when the multiplier was last raised: one raise per round trip.
    pub dsack_round: Option<SeqNum>,
    /// Reordering has been observed on this connection (Linux `tp->reord_seen`).
    pub reord_seen: bool,
    /// A delivery moved `last` since the last detection.
    pub advanced: bool,
}

impl Rack {
    pub fn new() -> Rack {
        Rack {
            reo_wnd_mult: 1,
            reo_wnd_persist: REO_WND_PERSIST,
            ..Rack::default()
        }
    }

    /// RFC 8985 §6.2 step 2: a unit was delivered at `now`. A retransmitted unit whose RTT is
    /// below min_RTT was delivered by an earlier copy: ambiguous, ignored.
    pub fn on_delivered(&mut self, d: Delivered, now: Instant, min_rtt_ns: u64) {
        let rtt = now.nanos_since(d.sent_at);
        if d.retransmitted && rtt < min_rtt_ns {
            return;
        }
        if self.last.is_none_or(|l| d.sent_after(l.sent_at, l.end)) {
            self.last = Some(d);
            self.rtt_ns = rtt;
            self.advanced = true;
        }
    }

    /// RFC 8985 §6.2 step 4: a D-SACK arrived; widen the window once per round trip.
    pub fn on_dsack(&mut self, snd_una: SeqNum, snd_nxt: SeqNum) {
        self.reord_seen = true;
        if self.dsack_round.is_some_and(|r| snd_una.lt(r)) {
            return;
        }
        self.dsack_round = Some(snd_nxt);
        self.reo_wnd_mult = self.reo_wnd_mult.saturating_add(1);
        self.reo_wnd_persist = REO_WND_PERSIST;
    }

    /// A recovery ended: after 16 without a D-SACK the window returns to its base.
    pub fn on_recovery_end(&mut self) {
        self.reo_wnd_persist = self.reo_wnd_persist.saturating_sub(1);
        if self.reo_wnd_persist == 0 {
            self.reo_wnd_mult = 1;
            self.reo_wnd_persist = REO_WND_PERSIST;
        }
    }
}

/// RFC 8985 §6.2 step 4 (`RACK_update_reo_wnd`, as Linux `tcp_rack_reo_wnd`), nanoseconds:
/// zero while no reordering was seen and either recovery is under way or at least `dupthresh`
/// segments are SACKed (RACK then acts as the duplicate-ACK threshold would); else
/// `min_RTT / 4 * mult`, at most SRTT.
pub fn reo_wnd(
    rack: &Rack,
    in_recovery: bool,
    sacked_segs: u32,
    min_rtt_ns: u64,
    srtt_ns: u64,
) -> u64 {
    if !rack.reord_seen && (in_recovery || sacked_segs >= super::DUPTHRESH) {
        return 0;
    }
    if min_rtt_ns == u64::MAX {
        return 0;
    }
    (min_rtt_ns / 4)
        .saturating_mul(u64::from(rack.reo_wnd_mult))
        .min(srtt_ns)
}

/// What a detection pass found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Detection {
    /// Units newly marked lost.
    pub marked: u32,
    /// Of those, units whose retransmission was lost (Linux `TCPLostRetransmit`).
    pub lost_retrans: u32,
    /// Time until the earliest unit not yet lost would be (`RACK.reo_timeout`), if any.
    pub timeout_ns: Option<u64>,
}

/// RFC 8985 §6.2 step 5 (`RACK_detect_loss`): marks lost every unit sent before the RACK
/// unit and outstanding longer than `RACK.rtt + reo_wnd`.
pub fn detect_loss(rack: &Rack, sq: &mut SendQueue, now: Instant, reo_wnd_ns: u64) -> Detection {
    let mut found = Detection::default();
    let Some(last) = rack.last else {
        return found;
    };
    let wait = rack.rtt_ns.saturating_add(reo_wnd_ns);
    let mut i = 0;
    while let Some(u) = sq.get(i) {
        if u.tx_count == 0 || !u.seq.lt(last.end) {
            break;
        }
        let f = u.flags;
        let waiting = f.contains(SegFlags::LOST) && !f.contains(SegFlags::RETRANS);
        if f.contains(SegFlags::SACKED) || waiting || !last.sent_after(u.sent_at, u.end()) {
            i += 1;
            continue;
        }
        let age = now.nanos_since(u.sent_at);
        if age >= wait {
            found.lost_retrans += u32::from(f.contains(SegFlags::RETRANS));
            found.marked += u32::from(sq.mark_lost(i));
        } else {
            let left = wait - age;
            found.timeout_ns = Some(found.timeout_ns.map_or(left, |t| t.max(left)));
            if !f.contains(SegFlags::EVER_RETRANS) {
                // Every unit after it was sent later (originals in sequence order, and
                // retransmissions after the originals): none is due yet.
                break;
            }
        }
        i += 1;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn at(ms: u64) -> Instant {
        Instant::ZERO.add_nanos(ms * MS)
    }

    fn delivered(sent_ms: u64, end: u32, retransmitted: bool) -> Delivered {
        Delivered {
            sent_at: at(sent_ms),
            end: SeqNum(end),
            retransmitted,
        }
    }

    #[test]
    fn the_most_recently_sent_delivery_sets_rack() {
        let mut r = Rack::new();
        r.on_delivered(delivered(10, 2000, false), at(30), 5 * MS);
        assert_eq!(
            (r.last.map(|d| d.end), r.rtt_ns),
            (Some(SeqNum(2000)), 20 * MS)
        );
        // Sent earlier: RACK stays.
        r.on_delivered(delivered(5, 1000, false), at(31), 5 * MS);
        assert_eq!(r.last.map(|d| d.end), Some(SeqNum(2000)));
        // Sent at the same time but later in sequence: it is the newer one.
        r.on_delivered(delivered(10, 3000, false), at(32), 5 * MS);
        assert_eq!(
            (r.last.map(|d| d.end), r.rtt_ns),
            (Some(SeqNum(3000)), 22 * MS)
        );
    }

    #[test]
    fn a_retransmission_acknowledged_sooner_than_min_rtt_is_ambiguous() {
        let mut r = Rack::new();
        // RFC 8985 §6.2 step 2: delivered 2 ms after the resend, min_RTT 5 ms: the original
        // was acknowledged, not the resend.
        r.on_delivered(delivered(28, 4000, true), at(30), 5 * MS);
        assert_eq!(r.last, None);
        r.on_delivered(delivered(20, 4000, true), at(30), 5 * MS);
        assert_eq!(r.last.map(|d| d.end), Some(SeqNum(4000)));
    }

    #[test]
    fn the_reordering_window_is_zero_until_reordering_is_seen() {
        let mut r = Rack::new();
        let (min_rtt, srtt) = (8 * MS, 10 * MS);
        // Fewer than three SACKed segments, no recovery: a quarter of min_RTT.
        assert_eq!(reo_wnd(&r, false, 2, min_rtt, srtt), 2 * MS);
        // Three SACKed segments, or recovery: zero, like the duplicate-ACK threshold.
        assert_eq!(reo_wnd(&r, false, 3, min_rtt, srtt), 0);
        assert_eq!(reo_wnd(&r, true, 0, min_rtt, srtt), 0);
        // Reordering seen: the quarter of min_RTT holds in recovery too.
        r.reord_seen = true;
        assert_eq!(reo_wnd(&r, true, 5, min_rtt, srtt), 2 * MS);
        // No RTT sample yet: nothing to wait for.
        assert_eq!(reo_wnd(&r, false, 0, u64::MAX, srtt), 0);
    }

    #[test]
    fn dsacks_widen_the_window_once_per_round_trip_up_to_srtt() {
        let mut r = Rack::new();
        r.on_dsack(SeqNum(0), SeqNum(10_000));
        assert_eq!(r.reo_wnd_mult, 2);
        // Another D-SACK before snd.una passes 10,000: same round trip, no change.
        r.on_dsack(SeqNum(5_000), SeqNum(12_000));
        assert_eq!(r.reo_wnd_mult, 2);
        r.on_dsack(SeqNum(10_000), SeqNum(20_000));
        assert_eq!(r.reo_wnd_mult, 3);
        // min_RTT/4 × 3 = 6 ms, capped by SRTT 5 ms.
        assert_eq!(reo_wnd(&r, false, 0, 8 * MS, 5 * MS), 5 * MS);
    }

    #[test]
    fn sixteen_recoveries_without_a_dsack_reset_the_multiplier() {
        let mut r = Rack::new();
        r.on_dsack(SeqNum(0), SeqNum(1));
        for _ in 0..REO_WND_PERSIST - 1 {
            r.on_recovery_end();
        }
        assert_eq!(r.reo_wnd_mult, 2);
        r.on_recovery_end();
        assert_eq!(r.reo_wnd_mult, 1);
    }
}
