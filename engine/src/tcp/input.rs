//! Segment arrival for an existing connection (RFC 9293 §3.10.7.3 SYN-SENT, §3.10.7.4 the
//! other states), one function per step, in the RFC's order:
//! PAWS (RFC 7323 §5.3) → 1 sequence check (then TS.Recent, RFC 7323 §4.3, and trim to the
//! window) → 2 RST (RFC 5961 §3.2) → 4 SYN (RFC 5961 §4.2) → 5 ACK ([`super::ack`]) → 7 segment
//! text → 8 FIN.
//! (Step 3, security, does not apply; step 6, URG, is ignored as RFC 6093 advises: urgent
//! data is delivered in line.)
//!
//! Each step returns `Step::Continue` or `Step::Drop`; a drop may already have queued an ACK
//! or RST. Nothing here panics on any segment: every range is computed with modular sequence
//! arithmetic and payloads are trimmed with checked lengths.

use super::ack;
use super::ctx::{
    Out, Promotion, Shared, Step, ack_now, arm_keepalive, close_tcb, enter_time_wait,
    notify_connected, notify_readable, oow_ack, set_state, set_timer,
};
use super::ecn;
use super::handshake;
use super::memory::{GUARANTEE_MBUFS, MemLevel};
use super::options::TS_OPTION_LEN;
use super::output;
use super::recv_queue::RecvLimits;
use super::segment::{Segment, SegmentSink};
use super::state::State;
use super::tcb::{CaState, Tcb, flag};
use super::timer::TimerKind;
use super::types::TcpError;
use crate::buf::Pkt;
use crate::time::Instant;
use crate::wire::{SeqNum, TcpFlags, TcpRepr};

/// One step of segment arrival.
type StepFn<S> = fn(&mut Tcb, &mut Shared, &mut Segment, &mut Out<S>) -> Step;

/// What became of a segment for an existing connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// Processed (or dropped) by the connection.
    Done,
    /// A SYN that reopens a TIME-WAIT connection: the caller closes the old TCB and hands the
    /// SYN to the listener.
    Reopens,
}

/// Processes a segment for `tcb` (taking its payload, if the connection keeps it). The
/// segment is borrowed, not moved: it is a large value, and most arrive here.
#[inline]
pub fn segment_arrives<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    seg: &mut Segment,
    out: &mut Out<S>,
) -> Arrival {
    tcb.last_rx = out.now;
    tcb.probes = 0;
    match tcb.state {
        State::SynSent => syn_sent(tcb, sh, seg, out),
        State::TimeWait if is_reopening_syn(tcb, &seg.repr) => return Arrival::Reopens,
        State::Closed | State::Listen => {}
        _ => synchronized(tcb, sh, seg, out),
    }
    Arrival::Done
}

/// RFC 9293 §3.10.7.4 (TIME-WAIT) and RFC 6191: a SYN may start a new incarnation if its
/// timestamp is newer than the last one seen, or (without timestamps) its sequence number is
/// beyond `rcv.nxt`.
fn is_reopening_syn(tcb: &Tcb, r: &TcpRepr) -> bool {
    if !r.flags.contains(TcpFlags::SYN) || r.flags.intersects(TcpFlags::ACK | TcpFlags::RST) {
        return false;
    }
    match (tcb.ts.enabled, r.timestamps) {
        (true, Some((tsval, _))) => (tsval.wrapping_sub(tcb.ts.recent) as i32) > 0,
        _ => r.seq.gt(tcb.rcv.nxt),
    }
}

/// SYN-SENT (RFC 9293 §3.10.7.3).
fn syn_sent<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    seg: &mut Segment,
    out: &mut Out<S>,
) {
    let r = seg.repr;
    let has_ack = r.flags.contains(TcpFlags::ACK);
    // First, the ACK: it must acknowledge our SYN and nothing beyond.
    let ack_ok = has_ack && r.ack.gt(tcb.snd.iss) && r.ack.le(tcb.snd.nxt);
    if has_ack && !ack_ok {
        if !r.flags.contains(TcpFlags::RST) {
            output::reset_for(seg, sh, out);
        }
        return;
    }
    // Second, RST: acceptable only with an acceptable ACK (RFC 5961 §3.2 for SYN-SENT).
    if r.flags.contains(TcpFlags::RST) {
        if ack_ok {
            sh.counters.attempt_fails += 1;
            close_tcb(tcb, sh, Some(TcpError::Refused));
        }
        return;
    }
    // Fourth, SYN.
    if !r.flags.contains(TcpFlags::SYN) {
        return;
    }
    tcb.rcv.irs = r.seq;
    tcb.rcv.nxt = r.seq + 1;
    // Our SYN advertised an unscaled window before rcv.nxt was known; anchor it now.
    tcb.rcv.adv = tcb.rcv.nxt + tcb.rcv_free().min(u32::from(u16::MAX));
    handshake::negotiate(tcb, sh, &r, out.now);
    if !ack_ok {
        // Simultaneous open: SYN-RECEIVED, answer with SYN-ACK on the same ISS.
        set_state(tcb, sh, State::SynReceived);
        tcb.snd.wl1 = r.seq;
        handshake::send_syn(tcb, sh, out, true);
        return;
    }
    tcb.snd.una = r.ack;
    tcb.snd.wl1 = r.seq;
    tcb.snd.wl2 = r.ack;
    handshake_rtt(tcb, out);
    set_state(tcb, sh, State::Established);
    tcb.timers.clear(TimerKind::Rto);
    tcb.retries = 0;
    notify_connected(tcb, sh);
    // Keepalive asked for at connect time starts with the connection (accept arms passive
    // opens').
    arm_keepalive(tcb, sh);
    ack_now(tcb, sh);
    // Data or FIN on the SYN-ACK continue at the text step (sixth step in the RFC).
    seg.repr.seq = r.seq + 1;
    seg.repr.flags.remove(TcpFlags::SYN);
    if seg.payload.is_some() || seg.repr.flags.contains(TcpFlags::FIN) {
        let _ = text_and_fin(tcb, sh, seg, out);
    }
}

/// An RTT sample from the handshake, unless the SYN was retransmitted (Karn).
fn handshake_rtt<S: SegmentSink + ?Sized>(tcb: &mut Tcb, out: &Out<S>) {
    if tcb.retries == 0 {
        let rtt = out.now - tcb.last_tx;
        tcb.rtt.sample(rtt);
    }
}

/// The synchronized states and SYN-RECEIVED (RFC 9293 §3.10.7.4).
fn synchronized<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    seg: &mut Segment,
    out: &mut Out<S>,
) {
    if fast_path(tcb, sh, seg, out) {
        return;
    }
    let steps: [StepFn<S>; 6] = [
        check_paws,
        check_sequence,
        check_rst,
        check_syn,
        check_ack,
        text_and_fin,
    ];
    for step in steps {
        if step(tcb, sh, seg, out) == Step::Drop || tcb.state == State::Closed {
            return;
        }
    }
}

/// Header prediction (Linux `tcp_rcv_established`): the common segment of an established
/// connection, handled with the outcome the full pipeline would give but without walking it.
/// Every precondition must hold, else the full pipeline runs:
/// 1. ESTABLISHED, no loss recovery under way, nothing held out of order;
/// 2. the flags are ACK (and maybe PSH), nothing else;
/// 3. SEG.SEQ = RCV.NXT, and the payload fits in the window last advertised (so the sequence
///    test passes and nothing is trimmed);
/// 4. with timestamps negotiated, the option is present and not older than TS.Recent (PAWS
///    passes, RFC 7323 §5.3);
/// 5. SND.UNA =< SEG.ACK =< SND.NXT, no SACK block, and a segment acknowledging nothing new
///    carries data (a bare one may be a duplicate ACK, which needs the recovery logic).
fn fast_path<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    seg: &mut Segment,
    out: &mut Out<S>,
) -> bool {
    let r = &seg.repr;
    let plen = seg.payload_len() as u32;
    let predicted = tcb.state == State::Established
        && tcb.ca == CaState::Open
        && tcb.rq.ooo_segs() == 0
        && (r.flags.bits() & !TcpFlags::PSH.bits()) == TcpFlags::ACK.bits()
        && r.seq == tcb.rcv.nxt
        && plen <= rcv_wnd(tcb)
        && (!tcb.ts.enabled
            || r.timestamps
                .is_some_and(|(tsval, _)| (tsval.wrapping_sub(tcb.ts.recent) as i32) >= 0))
        && r.sack.is_empty()
        && r.ack.ge(tcb.snd.una)
        && r.ack.le(tcb.snd.nxt)
        && (plen > 0 || r.ack != tcb.snd.una);
    if !predicted {
        return false;
    }
    update_ts_recent(tcb, r);
    let r = seg.repr;
    ack::fast(tcb, sh, &r, plen as usize, out);
    if let Some(p) = seg.payload.take() {
        ecn::on_data(tcb, sh, seg.ecn);
        queue_text(tcb, sh, r.seq, p);
    }
    true
}

/// Sequence space the segment occupies (payload, SYN and FIN each count).
fn seg_len(seg: &Segment) -> u32 {
    let r = &seg.repr;
    seg.payload_len() as u32
        + u32::from(r.flags.contains(TcpFlags::SYN))
        + u32::from(r.flags.contains(TcpFlags::FIN))
}

/// The receive window as last advertised (`rcv.adv - rcv.nxt`).
fn rcv_wnd(tcb: &Tcb) -> u32 {
    tcb.rcv.adv.diff(tcb.rcv.nxt).max(0) as u32
}

/// Protection against wrapped sequence numbers (RFC 7323 §5.3, R1-R3).
fn check_paws<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    seg: &mut Segment,
    _out: &mut Out<S>,
) -> Step {
    let r = &seg.repr;
    let Some((tsval, _)) = r.timestamps.filter(|_| tcb.ts.enabled) else {
        return Step::Continue;
    };
    // R1: TS.Recent is invalid after 24 days idle (RFC 7323 §5.5).
    let stale = (seg_now(tcb) - tcb.ts.recent_at).as_secs() > 24 * 24 * 3600;
    if !r.flags.contains(TcpFlags::RST) && !stale && (tsval.wrapping_sub(tcb.ts.recent) as i32) < 0
    {
        sh.counters.paws_estab += 1;
        let data = seg.payload.is_some();
        oow_ack(tcb, sh, data);
        return Step::Drop;
    }
    Step::Continue
}

/// `last_rx` was set to the segment's arrival time on entry.
fn seg_now(tcb: &Tcb) -> Instant {
    tcb.last_rx
}

/// First: is the segment acceptable (the four cases of RFC 9293 §3.10.7.4)? Then trim it to
/// the window: bytes before `rcv.nxt` (a duplicate, reported by D-SACK, RFC 2883) and beyond
/// the right edge are cut off.
fn check_sequence<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    seg: &mut Segment,
    out: &mut Out<S>,
) -> Step {
    let (len, wnd, nxt) = (seg_len(seg), rcv_wnd(tcb), tcb.rcv.nxt);
    let seq = seg.repr.seq;
    let in_wnd = |s: SeqNum| s.ge(nxt) && s.lt(nxt + wnd);
    let acceptable = match (len, wnd) {
        (0, 0) => seq == nxt,
        (0, _) => in_wnd(seq),
        // Zero window: RFC 9293 asks to still process ACKs and RSTs: accept at rcv.nxt, the
        // text is trimmed away below.
        (_, 0) => seq == nxt,
        (_, _) => in_wnd(seq) || in_wnd(seq + len - 1),
    };
    // Simultaneous open (RFC 9293 §3.5, figure 8): the peer's SYN-ACK repeats the SYN we hold
    // and ends at rcv.nxt, so the test above rejects it; accept it (the stale SYN is trimmed
    // below) so that its ACK completes the handshake, as Linux's tcp_validate_incoming does.
    let acceptable = acceptable || is_simultaneous_syn_ack(tcb, &seg.repr);
    if !acceptable {
        if seg.repr.flags.contains(TcpFlags::RST) {
            return Step::Drop;
        }
        // A retransmitted SYN in SYN-RECEIVED means our SYN-ACK was lost: send it again.
        if tcb.state == State::SynReceived
            && seg.repr.flags.contains(TcpFlags::SYN)
            && seq == tcb.rcv.irs
        {
            // Counted as a retransmission, as Linux's tcp_rtx_synack does.
            sh.counters.retrans_segs += 1;
            handshake::send_syn(tcb, sh, out, true);
            return Step::Drop;
        }
        // A duplicate is reported by D-SACK; an old SYN is no duplicate of anything received
        // (another incarnation, or an attack): it gets the plain ACK (as Linux, syn_challenge).
        if len > 0 && (seq + len).le(nxt) && !seg.repr.flags.contains(TcpFlags::SYN) {
            note_duplicate(tcb, sh, seq, seq + len);
        }
        // TIME-WAIT: a retransmission of the peer's FIN (its ACK of our FIN was lost) is
        // acknowledged and restarts the 2·MSL timeout (RFC 9293 §3.10.7.4, eighth step).
        if tcb.state == State::TimeWait && seg.repr.flags.contains(TcpFlags::FIN) {
            let at = out.now + sh.cfg.time_wait;
            set_timer(tcb, sh, TimerKind::TimeWait, at);
        }
        let data = seg.payload.is_some() && !seg.repr.flags.contains(TcpFlags::SYN);
        oow_ack(tcb, sh, data);
        return Step::Drop;
    }
    update_ts_recent(tcb, &seg.repr);
    trim_to_window(tcb, sh, seg, wnd);
    Step::Continue
}

/// RFC 7323 §4.3 (2) and §5.3 R3: an acceptable segment that starts at or before the last ACK
/// we sent, with a timestamp not older than TS.Recent, gives the timestamp to echo from now
/// on (so the peer measures its RTT, and PAWS judges later segments, against it).
#[inline]
fn update_ts_recent(tcb: &mut Tcb, r: &TcpRepr) {
    let Some((tsval, _)) = r.timestamps.filter(|_| tcb.ts.enabled) else {
        return;
    };
    if r.seq.le(tcb.rcv.last_ack_sent) && (tsval.wrapping_sub(tcb.ts.recent) as i32) >= 0 {
        tcb.ts.recent = tsval;
        tcb.ts.recent_at = tcb.last_rx;
    }
}

/// The SYN-ACK that answers our SYN in an active open that became simultaneous: its SYN is
/// the one already received and its ACK acknowledges our SYN.
fn is_simultaneous_syn_ack(tcb: &Tcb, r: &TcpRepr) -> bool {
    tcb.state == State::SynReceived
        && !tcb.has(flag::PASSIVE)
        && r.flags.contains(TcpFlags::SYN | TcpFlags::ACK)
        && r.seq == tcb.rcv.irs
        && r.ack.gt(tcb.snd.una)
        && r.ack.le(tcb.snd.nxt)
}

/// Cuts the parts of an acceptable segment that lie outside `[rcv.nxt, rcv.nxt + wnd)`.
fn trim_to_window(tcb: &mut Tcb, sh: &mut Shared, seg: &mut Segment, wnd: u32) {
    let nxt = tcb.rcv.nxt;
    let r = &mut seg.repr;
    if r.flags.contains(TcpFlags::SYN) && r.seq.lt(nxt) {
        // The SYN is old news; the data after it may not be.
        r.flags.remove(TcpFlags::SYN);
        r.seq += 1;
    }
    let Some(p) = seg.payload.as_mut() else {
        return;
    };
    if r.seq.lt(nxt) {
        let cut = (nxt - r.seq).min(p.len() as u32);
        note_duplicate(tcb, sh, r.seq, r.seq + cut);
        p.trim_front(cut as usize);
        r.seq += cut;
    }
    let room = (nxt + wnd).diff(r.seq).max(0) as usize;
    if p.len() > room {
        p.trim_back(p.len() - room);
        // A FIN beyond the window is not accepted either.
        r.flags.remove(TcpFlags::FIN);
        // Tell the peer what was taken: text beyond the window is unacceptable and earns an
        // ACK (RFC 9293 §3.10.7.4), which is also the answer to a zero-window probe (§3.8.6.1).
        ack_now(tcb, sh);
    }
    if p.is_empty() {
        seg.payload = None;
    }
}

/// Remembers a duplicate range for the first SACK block of the next ACK (RFC 2883 §4).
fn note_duplicate(tcb: &mut Tcb, sh: &mut Shared, start: SeqNum, end: SeqNum) {
    if tcb.sack_ok() {
        tcb.set_dsack(Some((start, end)));
        sh.counters.dsack_old_sent += 1;
    }
}

/// Second: RST (RFC 5961 §3.2: reset only if the sequence number is exactly `rcv.nxt`;
/// anywhere else in the window, send a challenge ACK).
fn check_rst<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    seg: &mut Segment,
    _out: &mut Out<S>,
) -> Step {
    if !seg.repr.flags.contains(TcpFlags::RST) {
        return Step::Continue;
    }
    if seg.repr.seq != tcb.rcv.nxt {
        sh.counters.challenge_acks += 1;
        oow_ack(tcb, sh, false);
        return Step::Drop;
    }
    let err = match tcb.state {
        // A passive open returns to LISTEN: the child simply goes away.
        State::SynReceived if tcb.has(flag::PASSIVE) => None,
        State::SynReceived => {
            sh.counters.attempt_fails += 1;
            Some(TcpError::Refused)
        }
        State::Established | State::CloseWait => {
            sh.counters.estab_resets += 1;
            Some(TcpError::Reset)
        }
        State::FinWait1 | State::FinWait2 => Some(TcpError::Reset),
        _ => None,
    };
    close_tcb(tcb, sh, err);
    Step::Drop
}

/// Fourth: a SYN in a synchronized state gets a challenge ACK (RFC 5961 §4.2); in the
/// SYN-RECEIVED state of a passive open, the connection returns to LISTEN (RFC 9293
/// §3.10.7.4): the child goes away silently.
fn check_syn<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    seg: &mut Segment,
    _out: &mut Out<S>,
) -> Step {
    if !seg.repr.flags.contains(TcpFlags::SYN) {
        return Step::Continue;
    }
    if tcb.state == State::SynReceived && tcb.has(flag::PASSIVE) {
        close_tcb(tcb, sh, None);
        return Step::Drop;
    }
    // Linux `tcp_validate_incoming` counts this SYN as an input error too.
    sh.counters.in_errs += 1;
    sh.counters.syn_challenge += 1;
    sh.counters.challenge_acks += 1;
    oow_ack(tcb, sh, false);
    Step::Drop
}

/// Fifth: the ACK field. SYN-RECEIVED completes the handshake here; the rest is in `ack`.
fn check_ack<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    seg: &mut Segment,
    out: &mut Out<S>,
) -> Step {
    let r = seg.repr;
    if !r.flags.contains(TcpFlags::ACK) {
        return Step::Drop;
    }
    if tcb.state == State::SynReceived && !establish_passive(tcb, sh, &r, out, seg) {
        return Step::Drop;
    }
    ack::process(tcb, sh, &r, seg.payload_len(), out)
}

/// SYN-RECEIVED + acceptable ACK → ESTABLISHED (RFC 9293 §3.10.7.4, fifth step).
fn establish_passive<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    r: &TcpRepr,
    out: &mut Out<S>,
    seg: &Segment,
) -> bool {
    if !(r.ack.gt(tcb.snd.una) && r.ack.le(tcb.snd.nxt)) {
        output::reset_for(seg, sh, out);
        return false;
    }
    if let Some(l) = tcb.listener {
        match sh.child_established(l, tcb) {
            Promotion::Queued => {}
            Promotion::AcceptQueueFull => return false,
            Promotion::ListenerGone => {
                // As if the handshake had completed against a closed port.
                sh.counters.no_port += 1;
                output::reset_for(seg, sh, out);
                close_tcb(tcb, sh, None);
                return false;
            }
        }
    }
    handshake_rtt(tcb, out);
    set_state(tcb, sh, State::Established);
    tcb.retries = 0;
    tcb.timers.clear(TimerKind::Rto);
    tcb.snd.wnd = u32::from(r.window) << tcb.snd.wscale;
    tcb.snd.max_wnd = tcb.snd.wnd;
    tcb.snd.wl1 = r.seq;
    tcb.snd.wl2 = r.ack;
    if tcb.listener.is_none() {
        // Simultaneous open: the application is waiting for connect to finish.
        notify_connected(tcb, sh);
        arm_keepalive(tcb, sh);
    }
    true
}

/// Seventh and eighth: queue the text, then the FIN when every byte before it is here.
fn text_and_fin<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    seg: &mut Segment,
    out: &mut Out<S>,
) -> Step {
    // The FIN follows the payload: measure it before the payload is taken.
    let plen = seg.payload_len() as u32;
    if let Some(p) = seg.payload.take()
        && tcb.state.can_receive()
    {
        if tcb.has(flag::ORPHAN) {
            // Data for a connection the application closed: nobody can read it (RFC 9293
            // §3.10.4 / Linux TCPAbortOnData).
            sh.counters.abort_on_data += 1;
            output::send_rst(tcb, sh, out);
            close_tcb(tcb, sh, None);
            return Step::Drop;
        }
        ecn::on_data(tcb, sh, seg.ecn);
        queue_text(tcb, sh, seg.repr.seq, p);
    }
    if seg.repr.flags.contains(TcpFlags::FIN) {
        let at = seg.repr.seq + plen;
        tcb.rcv.fin_at = Some(at);
    }
    if tcb.rcv.fin_at == Some(tcb.rcv.nxt) {
        tcb.rcv.fin_at = None;
        process_fin(tcb, sh, out);
    }
    Step::Continue
}

/// Puts payload in the receive queue and decides how soon to acknowledge it.
fn queue_text(tcb: &mut Tcb, sh: &mut Shared, seq: SeqNum, p: Pkt) {
    let len = p.len();
    if sh.mem.under_pressure() && !accept_under_pressure(tcb, sh, seq, &p) {
        // Not kept (the peer retransmits it later); tell the peer where we are.
        drop(p);
        ack_now(tcb, sh);
        return;
    }
    // RFC 7323 §2.4 (1): whatever any ACK we sent offered is honoured. The right edge only
    // moves right and each scaled window field rounds it up, so it may creep past the buffer.
    let offered = tcb.rq.bytes() + rcv_wnd(tcb) as usize;
    let limits = RecvLimits {
        max_ooo_segs: max_ooo_segments(tcb, sh),
        max_bytes: (tcb.opts.rcvbuf as usize + (1usize << tcb.rcv.wscale)).max(offered),
    };
    let beyond = seq.gt(tcb.rcv.nxt);
    sh.spares.fill_recv(&mut tcb.rq);
    let ins = tcb.rq.insert(tcb.rcv.nxt, seq, p, &limits);
    tcb.rcv.nxt += ins.advanced;
    if ins.ooo && !tcb.has(flag::OOO_LISTED) && sh.mem.list_ooo(tcb.handle.index) {
        tcb.set(flag::OOO_LISTED);
    }
    if ins.dropped > 0 {
        // Linux counts out-of-order segments it cannot keep apart from in-order ones.
        if beyond {
            sh.counters.ofo_drop += 1;
        } else {
            sh.counters.rcvq_drop += 1;
        }
    }
    if let Some(d) = ins.dup.filter(|_| tcb.sack_ok()) {
        tcb.set_dsack(Some(d));
        sh.counters.dsack_ofo_sent += 1;
    }
    if ins.advanced > 0 {
        notify_readable(tcb, sh);
    }
    // RFC 5681 §4.2: ACK out-of-order data, gap fills and duplicates at once; else every
    // second full-sized segment; else delay if the connection asked for delayed ACKs.
    // Full-sized: the MSS we advertised less the option bytes every segment carries, as the
    // peer computes its own send MSS (with timestamps, 1448 of 1460).
    let opt = if tcb.ts.enabled { TS_OPTION_LEN } else { 0 };
    let full = len >= usize::from(tcb.rcv.mss.saturating_sub(opt));
    tcb.rcv.unacked_segs = tcb.rcv.unacked_segs.saturating_add(u8::from(full));
    let immediate = ins.ooo
        || ins.dup.is_some()
        || tcb.rq.ooo_segs() > 0
        || !tcb.opts.delayed_ack
        || tcb.quickack > 0
        || tcb.rcv.unacked_segs >= 2;
    tcb.quickack = tcb.quickack.saturating_sub(1);
    if ins.ooo {
        sh.counters.ofo_queue += 1;
    }
    if immediate {
        ack_now(tcb, sh);
    } else if !tcb.has(flag::ACK_DELAYED) {
        tcb.set(flag::ACK_DELAYED);
        let at = tcb.last_rx + sh.cfg.delayed_ack;
        set_timer(tcb, sh, TimerKind::DelayedAck, at);
    }
}

/// How many out-of-order segments the connection may hold: the configured floor, and at least
/// two per MSS of receive buffer, so that a window full of full-sized segments behind one hole
/// is always kept (a sender under 1 % loss otherwise saw segments inside the offered window
/// dropped and had to send them twice). Tiny segments are bounded by the buffer too: each
/// counts at least 256 bytes against it (`Tcb::rcv_used`), which closes the window.
fn max_ooo_segments(tcb: &Tcb, sh: &Shared) -> usize {
    let per_buffer = 2 * tcb.opts.rcvbuf as usize / usize::from(tcb.rcv.mss.max(64));
    sh.cfg.max_ooo_segments.max(per_buffer)
}

/// Whether payload `p` at `seq` is queued under memory pressure (`memory`; Linux
/// `tcp_try_rmem_schedule`, `tcp_prune_ofo_queue`, `tcp_prune_queue`). Pressure only stops the
/// window from growing (`select_window`): data inside the window already offered is kept, as
/// accepting it lets the peer free its send queue and our reader consume. What is refused is
/// payload that is the only reference to its data room (a NIC's receive mbuf: dropping it
/// returns the room at once): out of order under pressure, and any at the hard limit, where
/// the out-of-order queue is pruned too (RFC 2018 §8 allows reneging on SACKed data). Payload
/// sharing its room with the sender (net_ring passes the sender's mbuf by reference) is kept:
/// dropping it frees nothing and leaves the peer's copy waiting for an ACK. In-order payload
/// of a connection that holds less than its guarantee is kept at every level (`memory`,
/// Linux `tcp_rmem[0]`): a fresh client is served while others hold the pool.
fn accept_under_pressure(tcb: &mut Tcb, sh: &mut Shared, seq: SeqNum, p: &Pkt) -> bool {
    let hard = sh.mem.level == MemLevel::Hard;
    if hard && tcb.rq.ooo_segs() > 0 {
        sh.counters.ofo_pruned += tcb.rq.ooo_segs() as u64;
        tcb.rq.prune_ooo();
    }
    if p.max_data_refcnt() > 1 {
        return true;
    }
    if !seq.gt(tcb.rcv.nxt) && tcb.held_mbufs() < GUARANTEE_MBUFS {
        return true;
    }
    if hard {
        sh.counters.pressure_drops += 1;
        return false;
    }
    if seq.gt(tcb.rcv.nxt) {
        sh.counters.ofo_pruned += 1;
        return false;
    }
    true
}

/// The peer's FIN (RFC 9293 §3.10.7.4, eighth step).
fn process_fin<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    tcb.rcv.nxt += 1;
    ack_now(tcb, sh);
    match tcb.state {
        State::SynReceived | State::Established => set_state(tcb, sh, State::CloseWait),
        State::FinWait1 if tcb.sq.is_empty() && tcb.snd.una == tcb.snd.nxt => {
            enter_time_wait(tcb, sh, out.now)
        }
        State::FinWait1 => set_state(tcb, sh, State::Closing),
        State::FinWait2 => enter_time_wait(tcb, sh, out.now),
        State::TimeWait => {
            let at = out.now + sh.cfg.time_wait;
            set_timer(tcb, sh, TimerKind::TimeWait, at);
        }
        _ => {}
    }
    notify_readable(tcb, sh);
}
