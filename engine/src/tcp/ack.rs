//! The ACK step (RFC 9293 §3.10.7.4, fifth) for synchronized states: acceptance of the
//! acknowledgment (RFC 5961 §5.2), the SACK blocks onto the scoreboard (`recovery::sack`),
//! freeing acknowledged data, RTT samples (RFC 6298 with Karn's rule; RFC 7323 timestamps when
//! the send time is ambiguous), the send window update (SND.WL1/WL2), duplicate ACKs, and the
//! state changes an acknowledged FIN causes. What the ACK means for loss recovery and the
//! congestion window is decided in `loss::on_ack`.

use super::ctx::{
    Out, Shared, Step, close_tcb, enter_time_wait, mark_pending, notify_writable, oow_ack,
    set_state, set_timer,
};
use super::ecn;
use super::loss::{self, AckEvent, Prior};
use super::recovery;
use super::segment::SegmentSink;
use super::state::State;
use super::tcb::{Tcb, flag};
use super::timer::TimerKind;
use crate::time::Instant;
use crate::wire::{TcpFlags, TcpRepr};

/// Processes the ACK field of an acceptable segment carrying `payload_len` bytes.
pub fn process<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    r: &TcpRepr,
    payload_len: usize,
    out: &mut Out<S>,
) -> Step {
    let (una, nxt) = (tcb.snd.una, tcb.snd.nxt);
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
    // Linux `tcp_ack`, slow path: an acceptable ACK without data is a pure ACK.
    if payload_len == 0 && r.ack.ge(una) {
        sh.counters.pure_acks_in += 1;
    }
    acknowledge(tcb, sh, r, payload_len, out);
    fin_acked_transitions(tcb, sh, out);
    Step::Continue
}

/// The header-prediction fast path (`input::fast_path`): the acknowledgment is known to lie
/// in `[SND.UNA, SND.NXT]`, carries no SACK block and is not a duplicate ACK; the connection
/// is ESTABLISHED and Open.
pub fn fast<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    r: &TcpRepr,
    payload_len: usize,
    out: &mut Out<S>,
) {
    if r.ack.gt(tcb.snd.una) {
        // Linux `tcp_ack`: a pure forward advance outside the slow path.
        sh.counters.hp_acks += 1;
    }
    acknowledge(tcb, sh, r, payload_len, out);
}

/// The SACK blocks, the cumulative acknowledgment and the window; then recovery's decisions.
fn acknowledge<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    r: &TcpRepr,
    payload_len: usize,
    out: &mut Out<S>,
) {
    let prior = Prior::of(tcb);
    let before = ecn::before_ack(tcb);
    let mut ev = AckEvent::default();
    if tcb.sack_ok() && !r.sack.is_empty() {
        let st = &mut tcb.rec.sack;
        ev.sack = recovery::sack::process(st, &mut tcb.sq, &r.sack, r.ack, &sh.pools.indirect);
    }
    let wnd = u32::from(r.window) << tcb.snd.wscale;
    ev.advanced = r.ack.gt(tcb.snd.una);
    if ev.advanced {
        new_ack(tcb, sh, r, out, &mut ev);
    } else {
        ev.dupack = is_duplicate(tcb, r, payload_len, wnd, ev.sack.newly);
    }
    ev.win_update = update_window(tcb, sh, r, wnd, ev.advanced);
    loss::on_ack(tcb, sh, r, &prior, &ev, out);
    // After loss recovery's decisions: a reduction for a loss covers an echoed CE too.
    ecn::on_ack(tcb, sh, r, before, payload_len, out.now);
    if ev.dupack || ev.sack.newly > 0 {
        // Lost units or room in the window for limited transmit (RFC 3042).
        mark_pending(tcb, sh);
    }
}

/// RFC 5681 §2 DUPLICATE ACKNOWLEDGMENT: outstanding data, no payload, no SYN/FIN, the same
/// acknowledgment number and the same window. With SACK, RFC 6675 §2 counts an ACK that
/// carries new SACK information whatever its window (a Linux receiver's window grows in
/// nearly every one).
fn is_duplicate(tcb: &Tcb, r: &TcpRepr, payload_len: usize, wnd: u32, newly_sacked: u32) -> bool {
    let candidate = r.ack == tcb.snd.una
        && tcb.snd.una != tcb.snd.nxt
        && payload_len == 0
        && !r.flags.intersects(TcpFlags::SYN | TcpFlags::FIN);
    candidate && (wnd == tcb.snd.wnd || (tcb.sack_ok() && newly_sacked > 0))
}

/// SND.UNA < SEG.ACK =< SND.NXT: free what is acknowledged and move the windows on.
fn new_ack<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    r: &TcpRepr,
    out: &mut Out<S>,
    ev: &mut AckEvent,
) {
    let now = out.now;
    ev.acked = tcb.sq.ack(r.ack, now);
    tcb.snd.una = r.ack;
    // Everything acknowledged: the unit array goes back to the pool (`tcp::spare`).
    sh.spares.return_send(&mut tcb.sq);
    // An ACK that also covers retransmitted data was triggered by a retransmission filling a
    // hole: timing the never-retransmitted units it covers (sent before the hole was
    // repaired) would count the recovery in the RTT. Only the echoed timestamp is exact then
    // (RFC 7323 §4.3 (3); Linux drops the sample on FLAG_RETRANS_DATA_ACKED too).
    let sent_at = ev.acked.rtt_sent_at.filter(|_| !ev.acked.any_retransmitted);
    ev.rtt_ns = sample_rtt(tcb, r, sent_at, now);
    tcb.retries = 0;
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
/// else from the echoed timestamp (RFC 7323 §4), which is unambiguous. Returns the sample.
fn sample_rtt(tcb: &mut Tcb, r: &TcpRepr, sent_at: Option<Instant>, now: Instant) -> Option<u64> {
    let rtt_ns = match sent_at {
        Some(t) => Some(now.nanos_since(t)),
        None => r
            .timestamps
            .filter(|_| tcb.ts.enabled)
            .and_then(|(_, tsecr)| tcb.ts_rtt(now, tsecr))
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
    };
    if let Some(rtt) = rtt_ns {
        tcb.rtt.sample_ns(rtt);
        tcb.rtt.reset_backoff();
    }
    rtt_ns
}

/// RFC 9293 §3.10.7.4: update SND.WND if the segment is newer than the last window update
/// (SND.WL1 < SEG.SEQ, or equal and SND.WL2 =< SEG.ACK), or if it acknowledged new data
/// (`advanced`, as Linux `tcp_may_update_window`). Without the latter, a peer's
/// retransmission (SEG.SEQ below SND.WL1) that advances SND.UNA leaves SND.WND measured from
/// an older acknowledgment, so SND.UNA + SND.WND lies beyond the window the peer offered: we
/// send past its right edge, and a peer whose buffer is full then drops every segment of
/// ours, ACKs included, as out of window. Returns whether the window changed.
fn update_window(tcb: &mut Tcb, sh: &mut Shared, r: &TcpRepr, wnd: u32, advanced: bool) -> bool {
    let s = &mut tcb.snd;
    let mut changed = false;
    if advanced || s.wl1.lt(r.seq) || (s.wl1 == r.seq && s.wl2.le(r.ack)) {
        let opened = wnd > s.wnd;
        changed = wnd != s.wnd;
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
    changed
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
