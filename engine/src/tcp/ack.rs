//! The ACK step (RFC 9293 §3.10.7.4, fifth) for synchronized states: acceptance of the
//! acknowledgment (RFC 5961 §5.2), freeing acknowledged data, RTT samples (RFC 6298 with
//! Karn's rule; RFC 7323 timestamps when the send time is ambiguous), the send window update
//! (SND.WL1/WL2), duplicate-ACK counting and NewReno recovery (RFC 5681 §3.2, RFC 6582,
//! RFC 3042 limited transmit), and the state changes an acknowledged FIN causes.

use super::congestion::{AckSample, CongestionControl, CongestionEvent};
use super::ctx::{
    Out, Shared, Step, close_tcb, enter_time_wait, mark_pending, notify_writable, oow_ack,
    set_state, set_timer,
};
use super::ecn;
use super::segment::SegmentSink;
use super::state::State;
use super::tcb::{CaState, Tcb, flag};
use super::timer::TimerKind;
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpRepr};

/// Duplicate ACKs that trigger fast retransmit (RFC 5681 §3.2).
pub const DUPTHRESH: u16 = 3;

/// Processes the ACK field of an acceptable segment carrying `payload_len` bytes.
pub fn process<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    r: &TcpRepr,
    payload_len: usize,
    out: &mut Out<S>,
) -> Step {
    let (una, nxt) = (tcb.snd.una, tcb.snd.nxt);
    let before = ecn::before_ack(tcb);
    // RFC 9293: an ACK for something not yet sent is answered with an ACK and dropped.
    if r.ack.gt(nxt) {
        oow_ack(tcb, sh, payload_len > 0);
        return Step::Drop;
    }
    // RFC 5961 §5.2: SND.UNA - MAX.SND.WND <= SEG.ACK, else a challenge ACK.
    if r.ack.lt(una - tcb.snd.max_wnd.max(1)) {
        sh.counters.challenge_acks += 1;
        oow_ack(tcb, sh, payload_len > 0);
        return Step::Drop;
    }
    let wnd = u32::from(r.window) << tcb.snd.wscale;
    let advanced = r.ack.gt(una);
    // Linux `tcp_ack`, slow path: an acceptable ACK without data is a pure ACK.
    if payload_len == 0 && r.ack.ge(una) {
        sh.counters.pure_acks_in += 1;
    }
    if advanced {
        new_ack(tcb, sh, r, out);
    } else if is_duplicate(tcb, r, payload_len, wnd) {
        duplicate_ack(tcb, sh, out.now);
    }
    ecn::on_ack(tcb, sh, r, before, payload_len, out.now);
    update_window(tcb, sh, r, wnd, advanced);
    fin_acked_transitions(tcb, sh, out);
    Step::Continue
}

/// The ACK step of the header-prediction fast path (`input::fast_path`): the acknowledgment
/// is known to lie in `[SND.UNA, SND.NXT]` and not to be a duplicate ACK, the connection is
/// ESTABLISHED with no recovery under way.
pub fn fast<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    r: &TcpRepr,
    out: &mut Out<S>,
) {
    let advanced = r.ack.gt(tcb.snd.una);
    if advanced {
        // Linux `tcp_ack`: a pure forward advance outside the slow path.
        sh.counters.hp_acks += 1;
        new_ack(tcb, sh, r, out);
    }
    let wnd = u32::from(r.window) << tcb.snd.wscale;
    update_window(tcb, sh, r, wnd, advanced);
}

/// RFC 5681 §2 DUPLICATE ACKNOWLEDGMENT: outstanding data, no payload, no SYN/FIN, same
/// acknowledgment number and same window.
fn is_duplicate(tcb: &Tcb, r: &TcpRepr, payload_len: usize, wnd: u32) -> bool {
    r.ack == tcb.snd.una
        && tcb.snd.una != tcb.snd.nxt
        && payload_len == 0
        && !r.flags.intersects(TcpFlags::SYN | TcpFlags::FIN)
        && wnd == tcb.snd.wnd
}

/// SND.UNA < SEG.ACK =< SND.NXT: free what is acknowledged and move the windows on.
fn new_ack<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, r: &TcpRepr, out: &mut Out<S>) {
    let now = out.now;
    let flight_before = tcb.in_flight();
    let outcome = tcb.sq.ack(r.ack, now);
    let acked = r.ack - tcb.snd.una;
    tcb.snd.una = r.ack;
    // An ACK that also covers retransmitted data was triggered by a retransmission filling a
    // hole: timing the never-retransmitted units it covers (sent before the hole was
    // repaired) would count the recovery in the RTT. Only the echoed timestamp is exact then
    // (RFC 7323 §4.3 (3); Linux drops the sample on FLAG_RETRANS_DATA_ACKED too).
    let sent_at = outcome.rtt_sent_at.filter(|_| !outcome.any_retransmitted);
    sample_rtt(tcb, r, sent_at, out);
    tcb.retries = 0;
    tcb.rtx_skips = 0;
    let mss = u32::from(tcb.snd.mss);
    match tcb.ca {
        CaState::Open => tcb.cc.on_ack(&ack_sample(tcb, r, acked, flight_before, now)),
        CaState::Recovery if r.ack.ge(tcb.recover) => {
            // RFC 6582 §3.2 step 3, full acknowledgment: deflate and leave recovery.
            let ssthresh = tcb.cc.ssthresh();
            tcb.cc.set_cwnd(ssthresh, mss);
            tcb.ca = CaState::Open;
        }
        CaState::Recovery => {
            // RFC 6582 §3.2 step 5, partial acknowledgment: retransmit the first unacked
            // segment, deflate by the amount acknowledged, keep going.
            sh.counters.partial_acks += 1;
            mark_head_lost(tcb, sh);
        }
        CaState::Loss => {
            tcb.cc.on_ack(&ack_sample(tcb, r, acked, flight_before, now));
            if r.ack.ge(tcb.recover) {
                tcb.ca = CaState::Open;
            }
        }
    }
    tcb.dupacks = 0;
    // RFC 6298 §5.2/5.3: stop the timer when everything is acknowledged, else restart it.
    if tcb.snd.una == tcb.snd.nxt {
        tcb.timers.clear(TimerKind::Rto);
    } else {
        let at = now.add_nanos(tcb.rtt.rto_ns());
        set_timer(tcb, sh, TimerKind::Rto, at);
    }
    notify_writable(tcb, sh);
    mark_pending(tcb, sh);
}

/// RTT from the newest never-retransmitted segment acknowledged (Karn's rule, RFC 6298 §3),
/// else from the echoed timestamp (RFC 7323 §4), which is unambiguous.
fn sample_rtt<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    r: &TcpRepr,
    sent_at: Option<Instant>,
    out: &Out<S>,
) {
    let rtt_ns = match sent_at {
        Some(t) => Some(out.now.nanos_since(t)),
        None => r
            .timestamps
            .filter(|_| tcb.ts.enabled)
            .and_then(|(_, tsecr)| tcb.ts_rtt(out.now, tsecr))
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
    };
    if let Some(rtt) = rtt_ns {
        tcb.rtt.sample_ns(rtt);
        tcb.rtt.reset_backoff();
    }
}

/// A duplicate ACK: count it; the third starts fast retransmit (RFC 6582 §3.2 step 2) unless
/// the ACK does not cover `recover` (RFC 6582 §4.1, no repeated fast retransmits); in
/// recovery each one inflates the window (step 4); before that, RFC 3042 limited transmit
/// lets new data out.
fn duplicate_ack(tcb: &mut Tcb, sh: &mut Shared, now: Instant) {
    tcb.dupacks = tcb.dupacks.saturating_add(1);
    let mss = u32::from(tcb.snd.mss);
    match tcb.ca {
        // RFC 6582's `recover` is the highest sequence number sent, ours is one past it
        // (snd.nxt): "the ACK covers more than recover" is una >= recover. With `>`, losing
        // the first segment sent after a recovery ended could only be repaired by an RTO.
        CaState::Open if tcb.dupacks == DUPTHRESH && tcb.snd.una.ge(tcb.recover) => {
            sh.counters.reno_recovery += 1;
            sh.counters.fast_retrans += 1;
            tcb.recover = tcb.snd.nxt;
            let flight = tcb.in_flight();
            tcb.cc.on_congestion(CongestionEvent::Loss, flight, mss, now);
            let ssthresh = tcb.cc.ssthresh();
            tcb.cc.set_cwnd(ssthresh, mss);
            tcb.ca = CaState::Recovery;
            mark_head_lost(tcb, sh);
        }
        _ => {}
    }
    mark_pending(tcb, sh);
}

/// Marks the first unacknowledged MSS lost so `write_xmit` retransmits it.
fn mark_head_lost(tcb: &mut Tcb, sh: &Shared) {
    if tcb.sq.send_head() == Some(0) || tcb.sq.is_empty() {
        return;
    }
    let mss = u32::from(tcb.snd.mss);
    if tcb.sq.get(0).is_some_and(|s| s.len > mss) {
        tcb.sq.split(0, mss, &sh.pools.indirect);
    }
    tcb.sq.mark_lost(0);
}

/// RFC 9293 §3.10.7.4: update SND.WND if the segment is newer than the last window update
/// (SND.WL1 < SEG.SEQ, or equal and SND.WL2 =< SEG.ACK), or if it acknowledged new data
/// (`advanced`, as Linux `tcp_may_update_window`). Without the latter, a peer's
/// retransmission (SEG.SEQ below SND.WL1) that advances SND.UNA leaves SND.WND measured from
/// an older acknowledgment, so SND.UNA + SND.WND lies beyond the window the peer offered: we
/// send past its right edge, and a peer whose buffer is full then drops every segment of
/// ours, ACKs included, as out of window.
fn update_window(tcb: &mut Tcb, sh: &mut Shared, r: &TcpRepr, wnd: u32, advanced: bool) {
    let s = &mut tcb.snd;
    if advanced || s.wl1.lt(r.seq) || (s.wl1 == r.seq && s.wl2.le(r.ack)) {
        let opened = wnd > s.wnd;
        s.wnd = wnd;
        s.wl1 = r.seq;
        s.wl2 = r.ack;
        s.max_wnd = s.max_wnd.max(wnd);
        if opened {
            // Probing is over, and with it the probe backoff (Linux tcp_ack_probe).
            if tcb.timers.is_set(TimerKind::Persist) {
                tcb.rtt.reset_backoff();
            }
            tcb.timers.clear(TimerKind::Persist);
            tcb.probes = 0;
            mark_pending(tcb, sh);
        }
    }
}

/// FIN-WAIT-1 → FIN-WAIT-2, CLOSING → TIME-WAIT, LAST-ACK → CLOSED once our FIN is
/// acknowledged (everything queued, FIN included, is acknowledged).
fn fin_acked_transitions<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
) {
    let fin_acked = tcb.has(flag::WR_SHUTDOWN) && tcb.sq.is_empty() && tcb.snd.una == tcb.snd.nxt;
    if !fin_acked {
        return;
    }
    match tcb.state {
        State::FinWait1 => {
            set_state(tcb, sh, State::FinWait2);
            tcb.timers.clear(TimerKind::Rto);
            if tcb.has(flag::ORPHAN) {
                // Linux tcp_fin_timeout: an orphan does not wait forever for the peer's FIN.
                let at = out.now + sh.cfg.fin_timeout;
                set_timer(tcb, sh, TimerKind::FinWait2, at);
            }
        }
        State::Closing => enter_time_wait(tcb, sh, out.now),
        State::LastAck => close_tcb(tcb, sh, None),
        _ => {}
    }
}

/// What the congestion controller learns from an ACK.
fn ack_sample(tcb: &Tcb, r: &TcpRepr, acked: u32, in_flight_before: u32, now: Instant) -> AckSample {
    AckSample {
        acked,
        mss: u32::from(tcb.snd.mss),
        in_flight_before,
        now,
        rtt_ns: None,
        min_rtt_ns: tcb.rtt.min_rtt_ns(),
        snd_nxt: tcb.snd.nxt.0,
        ack: r.ack.0,
    }
}
