//! Undo of spurious reductions: the retransmissions of an episode turn out unnecessary, so
//! the congestion window goes back to what it was (Linux `tcp_undo_cwnd_reduction`).
//!
//! Evidence, as Linux gathers it:
//! - D-SACK (RFC 2883 §5, RFC 3708): every retransmitted byte of the episode came back as a
//!   duplicate (`retrans` reaches 0);
//! - timestamps (Eifel detection, RFC 3522; RFC 4015 response): an ACK echoes a TSval older
//!   than the episode's first retransmission, so it was sent for an original transmission
//!   (Linux `tcp_packet_delayed`);
//! - F-RTO (RFC 5682 §3.1, the SACK-enhanced variant as Linux has it): after an RTO, data that
//!   was never retransmitted is acknowledged or SACKed.
//!
//! Invariant: `marker` is `Some` only while an episode can still be undone.

use crate::wire::SeqNum;

/// The undo state of the current (or last) recovery episode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Undo {
    /// `snd.una` when the episode began (Linux `undo_marker`).
    pub marker: Option<SeqNum>,
    /// Bytes retransmitted in the episode and not yet reported as duplicates; `None` before
    /// the first retransmission (Linux `undo_retrans`, -1 then).
    pub retrans: Option<u32>,
    /// The TSval of the episode's first retransmission (Linux `retrans_stamp`).
    pub first_rtx_tsval: Option<u32>,
}

impl Undo {
    /// A new episode begins at `snd_una`.
    pub fn start(snd_una: SeqNum) -> Undo {
        Undo {
            marker: Some(snd_una),
            retrans: None,
            first_rtx_tsval: None,
        }
    }

    /// `bytes` were retransmitted, the TSval of the segment being `tsval` (if timestamps).
    pub fn on_retransmit(&mut self, bytes: u32, tsval: Option<u32>) {
        if self.marker.is_none() {
            return;
        }
        self.retrans = Some(self.retrans.unwrap_or(0).saturating_add(bytes));
        if self.first_rtx_tsval.is_none() {
            self.first_rtx_tsval = tsval;
        }
    }

    /// A D-SACK reported `start..end` received twice.
    pub fn on_dsack(&mut self, start: SeqNum, end: SeqNum) {
        let (Some(m), Some(r)) = (self.marker, self.retrans) else {
            return;
        };
        if end.gt(m) {
            self.retrans = Some(r.saturating_sub(end - start));
        }
    }

    /// Every retransmission of the episode was reported as a duplicate.
    pub fn all_dsacked(&self) -> bool {
        self.marker.is_some() && self.retrans == Some(0)
    }

    /// RFC 3522 §3.2: the ACK echoes `tsecr`, older than the first retransmission.
    pub fn packet_delayed(&self, tsecr: Option<u32>) -> bool {
        match (self.marker, self.first_rtx_tsval, tsecr) {
            (Some(_), Some(first), Some(ecr)) => (ecr.wrapping_sub(first) as i32) < 0,
            _ => false,
        }
    }

    /// Linux `tcp_may_undo`.
    pub fn may_undo(&self, tsecr: Option<u32>) -> bool {
        self.all_dsacked() || self.packet_delayed(tsecr)
    }

    /// The episode can no longer be undone.
    pub fn end(&mut self) {
        *self = Undo::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_retransmissions_dsacked_allows_undo() {
        let mut u = Undo::start(SeqNum(1000));
        assert!(!u.all_dsacked(), "nothing retransmitted yet");
        u.on_retransmit(1000, None);
        u.on_retransmit(500, None);
        u.on_dsack(SeqNum(1000), SeqNum(2000));
        assert!(!u.all_dsacked());
        // A D-SACK for data before the episode does not count.
        u.on_dsack(SeqNum(0), SeqNum(1000));
        assert!(!u.all_dsacked());
        u.on_dsack(SeqNum(3000), SeqNum(3500));
        assert!(u.all_dsacked());
        u.end();
        assert!(!u.may_undo(None));
    }

    #[test]
    fn an_echo_older_than_the_first_retransmission_means_delayed() {
        let mut u = Undo::start(SeqNum(0));
        u.on_retransmit(1000, Some(500));
        u.on_retransmit(1000, Some(900));
        assert!(u.packet_delayed(Some(499)));
        assert!(!u.packet_delayed(Some(500)));
        assert!(!u.packet_delayed(None));
        // Across the TSval wrap.
        let mut w = Undo::start(SeqNum(0));
        w.on_retransmit(1, Some(5));
        assert!(w.may_undo(Some(u32::MAX - 3)));
    }
}
