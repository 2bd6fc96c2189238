//! Loss recovery against a scripted peer (the state-test harness, `harness/mod.rs`; the link
//! has no delay, so everything below happens at one instant unless time is advanced):
//! - two holes in one SACKed window: both resent as the SACK blocks reveal them, without a new
//!   cumulative ACK, and no SACKed byte resent (RFC 6675, RFC 8985);
//! - a tail loss: the probe (the last segment again) comes after about two RTTs, long before
//!   the RTO, and its SACK lets RACK find the earlier loss (RFC 8985 §7);
//! - a spurious fast retransmit (the original was only late): the D-SACK of the
//!   retransmission undoes the reduction (RFC 3708);
//! - duplicate ACKs whose window grows still count when they carry new SACK information
//!   (RFC 6675 §2; a Linux receiver's window grows in nearly every one);
//! - reneging: an ACK that stops at SACKed data brings the RTO forward, and the RTO forgets
//!   the SACK marks (RFC 2018 §8);
//! - out-of-order data: a window's worth behind one hole is kept, not dropped, whatever the
//!   configured floor of out-of-order segments.

mod harness;

use std::time::Duration;

use engine::wire::{SeqNum, TcpRepr};
use harness::{ACK, Harness, PSH, RECV_TEMPL, SEND_MSS, SEND_TEMPL, sack};

fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// Sequence number of the start of segment `k` of the stack's data.
fn seg(h: &Harness, k: usize) -> SeqNum {
    h.iss + 1 + (k * SEND_MSS) as u32
}

/// An ACK from the peer at `ack` with SACK `blocks` (segment ranges `[from, to)`).
fn sack_ack(h: &Harness, ack: usize, blocks: &[(usize, usize)], window: u16) -> TcpRepr {
    let list: Vec<(SeqNum, SeqNum)> = blocks
        .iter()
        .map(|&(a, b)| (seg(h, a), seg(h, b)))
        .collect();
    TcpRepr {
        seq: h.irs + 1,
        ack: seg(h, ack),
        window,
        sack: sack(&list),
        ..SEND_TEMPL
    }
}

/// A connection that has sent `n` full segments (collected and checked).
fn sent_segments(n: usize) -> (Harness, Vec<u8>) {
    let mut h = Harness::new();
    h.established_passive();
    let data = bytes(n * SEND_MSS);
    h.app_send(&data);
    for k in 0..n {
        let flags = if k + 1 == n { ACK | PSH } else { ACK };
        let repr = TcpRepr {
            seq: seg(&h, k),
            ack: h.irs + 1,
            flags,
            ..RECV_TEMPL
        };
        h.expect_data(repr, &data[k * SEND_MSS..(k + 1) * SEND_MSS]);
    }
    h.expect_nothing();
    (h, data)
}

/// Segment indexes of the data segments the stack sent since the inbox was last read.
fn resent(h: &mut Harness) -> Vec<usize> {
    let mut out = vec![];
    while let Some((r, p)) = h.recv() {
        if !p.is_empty() {
            let off = r.seq - (h.iss + 1);
            assert_eq!(off as usize % SEND_MSS, 0, "cut at the original's boundary");
            assert_eq!(p.len(), SEND_MSS, "a whole original segment");
            out.push(off as usize / SEND_MSS);
        }
    }
    out
}

fn counter(h: &Harness, name: &str) -> u64 {
    h.stack
        .counters()
        .get(name)
        .unwrap_or_else(|| panic!("{name}"))
}

#[test]
fn two_holes_in_one_sacked_window_are_both_resent_and_nothing_sacked_is() {
    let (mut h, _) = sent_segments(10);
    // Segments 2 and 5 are lost; the peer's duplicate ACKs report what arrived after them,
    // its window growing by a little in each, as Linux's does.
    h.send(sack_ack(&h, 2, &[], 65535));
    h.send(sack_ack(&h, 2, &[(3, 4)], 65535));
    h.send(sack_ack(&h, 2, &[(3, 5)], 65535));
    h.send(sack_ack(&h, 2, &[(6, 7), (3, 5)], 65535));
    h.send(sack_ack(&h, 2, &[(6, 10), (3, 5)], 65535));
    let got = resent(&mut h);
    assert_eq!(got, vec![2, 5], "both holes, once each, nothing SACKed");
    assert_eq!(counter(&h, "TcpExtTCPSackRecovery"), 1);
    assert_eq!(counter(&h, "TcpExtTCPFastRetrans"), 2);
    assert_eq!(counter(&h, "TcpExtTCPTimeouts"), 0);
    // The retransmissions arrive: everything is acknowledged, recovery ends.
    h.send(sack_ack(&h, 10, &[], 65535));
    assert_eq!(h.info().unacked_bytes, 0);
    let i = h.info();
    assert_eq!(i.cwnd, i.ssthresh, "PRR ends at ssthresh (RFC 6937)");
    h.advance(Duration::from_secs(2));
    assert!(resent(&mut h).is_empty(), "no RTO, no probe afterwards");
}

#[test]
fn a_tail_loss_is_probed_long_before_the_rto() {
    let (mut h, _) = sent_segments(4);
    // The last two segments are lost: only the first two are acknowledged.
    h.send(sack_ack(&h, 2, &[], 65535));
    h.expect_nothing();
    let rto = h.info().rto;
    let t = h.now;
    h.advance(rto / 4);
    let s = h.recv_seg().expect("a loss probe");
    let (r, p) = (s.repr, s.payload);
    assert_eq!(
        (r.seq, p.len()),
        (seg(&h, 3), SEND_MSS),
        "the last segment again"
    );
    assert!(
        s.at - t < rto / 4,
        "probe after {:?}, RTO {rto:?}",
        s.at - t
    );
    assert_eq!(counter(&h, "TcpExtTCPLossProbes"), 1);
    // Its SACK shows segment 2 missing: RACK marks it lost and it goes at once.
    h.send(sack_ack(&h, 2, &[(3, 4)], 65535));
    assert_eq!(resent(&mut h), vec![2]);
    assert_eq!(counter(&h, "TcpExtTCPSackRecovery"), 1);
    h.send(sack_ack(&h, 4, &[], 65535));
    assert_eq!(h.info().unacked_bytes, 0);
    assert_eq!(counter(&h, "TcpExtTCPTimeouts"), 0);
}

#[test]
fn a_dsack_of_the_only_retransmission_undoes_the_reduction() {
    let (mut h, _) = sent_segments(8);
    h.send(sack_ack(&h, 2, &[], 65535));
    let before = h.info();
    // Segment 2 is late, not lost: three later ones are SACKed first.
    h.send(sack_ack(&h, 2, &[(3, 6)], 65535));
    assert_eq!(resent(&mut h), vec![2]);
    assert!(h.info().ssthresh < before.ssthresh, "a reduction began");
    // The original arrives; then the retransmission, reported as a duplicate (RFC 2883).
    h.send(sack_ack(&h, 8, &[], 65535));
    h.send(sack_ack(&h, 8, &[(2, 3)], 65535));
    let after = h.info();
    assert_eq!(counter(&h, "TcpExtTCPDSACKRecv"), 1);
    assert_eq!(counter(&h, "TcpExtTCPDSACKUndo"), 1);
    assert_eq!(after.ssthresh, before.ssthresh, "ssthresh restored");
    assert!(after.cwnd >= before.cwnd, "cwnd restored");
}

#[test]
fn sack_blocks_never_make_a_sacked_byte_go_again_even_after_an_rto() {
    let (mut h, _) = sent_segments(6);
    h.send(sack_ack(&h, 0, &[(1, 2)], 65535));
    h.send(sack_ack(&h, 0, &[(4, 6), (1, 2)], 65535));
    let first = resent(&mut h);
    assert_eq!(
        first,
        vec![0, 2, 3],
        "every hole below the newest SACKed segment"
    );
    // Nothing more is heard: the RTO resends what is not SACKed, and only that.
    h.advance(Duration::from_secs(1));
    let again = resent(&mut h);
    assert!(!again.is_empty(), "the RTO resent something");
    for k in &again {
        assert!(
            ![1, 4, 5].contains(k),
            "SACKed segment {k} resent: {again:?}"
        );
    }
    assert!(counter(&h, "TcpExtTCPTimeouts") >= 1);
}

#[test]
fn an_ack_that_stops_at_sacked_data_is_reneging() {
    let (mut h, _) = sent_segments(4);
    h.send(sack_ack(&h, 0, &[(2, 4)], 65535));
    let _ = resent(&mut h);
    // The receiver acknowledges 0..2 and drops what it had SACKed.
    h.send(sack_ack(&h, 2, &[], 65535));
    assert_eq!(counter(&h, "TcpExtTCPSACKReneging"), 1);
    // The RTO comes early (max(SRTT/2, 10 ms)) and resends 2 and 3.
    h.advance(Duration::from_millis(50));
    let got = resent(&mut h);
    assert!(got.contains(&2), "the reneged data goes again: {got:?}");
}

#[test]
fn a_window_of_out_of_order_data_behind_one_hole_is_kept() {
    let mut h = Harness::with_config(|c| c.tcp.max_ooo_segments = 4);
    h.established_passive();
    // 40 segments after a one-segment hole: far beyond the configured floor of 4, well inside
    // the window.
    let mss = 1000usize;
    let data = bytes(41 * mss);
    for k in 1..41 {
        h.send_data(
            TcpRepr {
                seq: h.irs + 1 + (k * mss) as u32,
                ack: h.iss + 1,
                ..SEND_TEMPL
            },
            &data[k * mss..(k + 1) * mss],
        );
    }
    assert_eq!(counter(&h, "TcpExtTCPOFODrop"), 0);
    assert_eq!(counter(&h, "TcpExtTCPRcvQDrop"), 0);
    h.send_data(
        TcpRepr {
            seq: h.irs + 1,
            ack: h.iss + 1,
            ..SEND_TEMPL
        },
        &data[..mss],
    );
    assert_eq!(h.read_all().expect("read"), data, "everything, in order");
}

#[test]
fn an_rto_whose_originals_are_then_acknowledged_is_undone_by_frto() {
    let (mut h, _) = sent_segments(6);
    let before = h.info();
    // The ACKs are held up somewhere: a probe, then the RTO resends the first segment.
    h.advance(before.rto + before.rto / 2);
    assert_eq!(resent(&mut h), vec![5, 0], "the tail probe, then the RTO");
    assert_eq!(counter(&h, "TcpExtTCPTimeouts"), 1);
    assert_eq!(h.info().cwnd, SEND_MSS as u32, "the loss window");
    // The ACK for the originals arrives: it covers data never retransmitted (RFC 5682 §3.1
    // step 3.b, SACK-enhanced): the RTO was spurious.
    h.send(sack_ack(&h, 4, &[], 65535));
    assert_eq!(counter(&h, "TcpExtTCPSpuriousRTOs"), 1);
    assert_eq!(counter(&h, "TcpExtTCPLossUndo"), 1);
    let after = h.info();
    assert_eq!(after.ssthresh, before.ssthresh, "ssthresh restored");
    assert!(after.cwnd >= before.cwnd, "cwnd restored");
    assert!(resent(&mut h).is_empty(), "segments 1 to 4 are not resent");
    h.send(sack_ack(&h, 6, &[], 65535));
    assert_eq!(h.info().unacked_bytes, 0);
}

#[test]
fn a_real_rto_is_not_undone_and_resends_in_order() {
    let (mut h, _) = sent_segments(4);
    let rto = h.info().rto;
    h.advance(rto + rto / 2);
    assert_eq!(resent(&mut h), vec![3, 0]);
    // Only the retransmission got through: the ACK covers exactly it, F-RTO sends nothing new
    // (there is none) and goes back to retransmitting.
    h.send(sack_ack(&h, 1, &[], 65535));
    assert_eq!(counter(&h, "TcpExtTCPSpuriousRTOs"), 0);
    assert_eq!(
        h.info().cwnd,
        2 * SEND_MSS as u32,
        "slow start after the RTO"
    );
    let again = resent(&mut h);
    assert_eq!(
        again.first(),
        Some(&1),
        "slow start resends from snd.una: {again:?}"
    );
    assert!(counter(&h, "TcpExtTCPSlowStartRetrans") >= 2);
}

#[test]
fn a_probe_that_repaired_a_tail_loss_reduces_the_window_once() {
    let (mut h, _) = sent_segments(4);
    // The last segment is lost: three are acknowledged.
    h.send(sack_ack(&h, 3, &[], 65535));
    let before = h.info();
    // One segment out: the PTO allows for a delayed ACK (+200 ms), so it meets the RTO, and
    // the probe goes instead of the RTO.
    h.advance(before.rto + before.rto / 2);
    assert_eq!(resent(&mut h), vec![3], "the probe: the last segment again");
    assert_eq!(counter(&h, "TcpExtTCPTimeouts"), 0, "no RTO");
    // Only the probe arrived: its ACK covers everything (RFC 8985 §7.4: no D-SACK, so the
    // probe repaired a loss), which shows once an ACK goes past the probe's snd.nxt.
    h.send(sack_ack(&h, 4, &[], 65535));
    h.app_send(&bytes(SEND_MSS));
    assert_eq!(resent(&mut h), vec![4], "new data, nothing sent again");
    h.send(sack_ack(&h, 5, &[], 65535));
    assert_eq!(counter(&h, "TcpExtTCPLossProbes"), 1);
    assert_eq!(counter(&h, "TcpExtTCPLossProbeRecovery"), 1);
    assert!(h.info().ssthresh < before.ssthresh, "one reduction");
    assert_eq!(counter(&h, "TcpExtTCPTimeouts"), 0);
}
