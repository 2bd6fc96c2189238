//! Tail loss probe (RFC 8985 §7): when the last segments of a flight are lost, no ACK comes
//! back to let RACK see the loss, and only the RTO would repair it. After a probe timeout
//! (PTO, about two smoothed RTTs) one segment is sent (new data if the peer's window allows,
//! else the last segment again) so that its ACK or SACK lets RACK or fast recovery take over.
//!
//! As in Linux (`tcp_schedule_loss_probe`, `tcp_send_loss_probe`, `tcp_process_tlp_ack`):
//! probes need SACK, are sent only in the Open state, one at a time (until `snd.una` passes
//! `high_seq`); a probe that repaired a loss (an ACK beyond `high_seq` without a D-SACK of the
//! probe) reduces the congestion window once (`TcpExtTCPLossProbeRecovery`).

use crate::wire::SeqNum;

/// RFC 8985 §7.2 `WCDelAckT`: the worst-case delayed-ACK time added when one segment is out.
const WC_DEL_ACK_NS: u64 = 200_000_000;
/// Linux `TCP_TIMEOUT_MIN` (2 ms): the slack added to 2·SRTT otherwise.
const PTO_SLACK_NS: u64 = 2_000_000;
/// The PTO before any RTT sample (RFC 8985 §7.2: 1 s).
const PTO_NO_SRTT_NS: u64 = 1_000_000_000;

/// The probe outstanding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tlp {
    /// `snd.nxt` when the probe was sent (`TLP.end_seq`); `None` when no probe is out.
    pub high_seq: Option<SeqNum>,
    /// The probe was a retransmission (`TLP.is_retrans`).
    pub retrans: bool,
}

/// RFC 8985 §7.2: the probe timeout, nanoseconds: `2·SRTT` plus the worst-case delayed ACK
/// when one segment is out (else Linux's 2 ms), 1 s without an RTT sample; never after the
/// RTO (`rto_left_ns`).
pub fn pto_ns(srtt_ns: Option<u64>, one_segment_out: bool, rto_left_ns: Option<u64>) -> u64 {
    let pto = match srtt_ns {
        Some(srtt) => {
            let slack = if one_segment_out {
                WC_DEL_ACK_NS
            } else {
                PTO_SLACK_NS
            };
            srtt.saturating_mul(2).saturating_add(slack)
        }
        None => PTO_NO_SRTT_NS,
    };
    rto_left_ns.map_or(pto, |left| pto.min(left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pto_is_two_srtt_plus_slack_and_never_after_the_rto() {
        assert_eq!(pto_ns(Some(10_000_000), false, None), 22_000_000);
        assert_eq!(pto_ns(Some(10_000_000), true, None), 220_000_000);
        assert_eq!(pto_ns(None, false, None), 1_000_000_000);
        assert_eq!(pto_ns(Some(10_000_000), true, Some(50_000_000)), 50_000_000);
    }
}
