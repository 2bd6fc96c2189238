//! What each connection timer does when it expires.
//!
//! - RTO (RFC 6298 §5.4-5.6): retransmit the earliest unacknowledged data, back off the
//!   timer, collapse the congestion window (RFC 5681 §3.1) and mark everything outstanding
//!   lost (Linux `tcp_enter_loss`); in SYN-SENT / SYN-RECEIVED, resend the SYN / SYN-ACK.
//!   Too many in a row and the connection times out (`TcpError::TimedOut`).
//! - Delayed ACK (RFC 1122 §4.2.3.2): send the ACK owed.
//! - Persist (RFC 9293 §3.8.6.1): probe a zero window, backing off; fill a window too small
//!   for the sender's SWS avoidance (the override timeout of §3.8.6.2.1).
//! - Keepalive (RFC 1122 §4.2.3.6): probe an idle connection; no answer after the configured
//!   probes and it is reset and reported dead.
//! - TIME-WAIT (2·MSL) and orphaned FIN-WAIT-2 (Linux `tcp_fin_timeout`): free the TCB.
//!
//! The wheel holds one entry per connection at its earliest deadline; after the due timers
//! run, the entry is re-armed for the next one.

use super::ctx::{Out, Shared, close_tcb, set_timer};
use super::handshake;
use super::loss;
use super::output;
use super::segment::SegmentSink;
use super::state::State;
use super::tcb::{Tcb, flag};
use super::timer::TimerKind;
use super::types::TcpError;

/// Runs `tcb`'s due timers and re-arms its wheel entry.
pub fn on_timer<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    let now = out.now;
    let mut due = [None; 8];
    for (slot, kind) in due.iter_mut().zip(tcb.timers.take_expired(now)) {
        *slot = Some(kind);
    }
    for kind in due.into_iter().flatten() {
        if tcb.state == State::Closed {
            return;
        }
        match kind {
            // Re-armed by the probe just sent (`TimerKind` orders the probe first).
            TimerKind::Rto if tcb.timers.get(TimerKind::Rto).is_some_and(|at| at > now) => {}
            TimerKind::Rto => on_rto(tcb, sh, out),
            TimerKind::DelayedAck => on_delayed_ack(tcb, sh, out),
            TimerKind::Persist => on_persist(tcb, sh, out),
            TimerKind::Keepalive => on_keepalive(tcb, sh, out),
            TimerKind::TimeWait | TimerKind::FinWait2 => close_tcb(tcb, sh, None),
            TimerKind::Reorder => loss::on_reorder_timer(tcb, sh, out),
            TimerKind::LossProbe => loss::on_probe_timer(tcb, sh, out),
        }
    }
    if tcb.state == State::Closed {
        return;
    }
    match tcb.timers.next() {
        Some(at) => sh.schedule(tcb.handle.index, at),
        None => sh.wheel.cancel(tcb.handle.index),
    }
}

fn on_rto<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    match tcb.state {
        State::SynSent => {
            if tcb.retries >= sh.cfg.syn_retries {
                sh.counters.attempt_fails += 1;
                return close_tcb(tcb, sh, Some(TcpError::TimedOut));
            }
            tcb.retries += 1;
            tcb.rtt.backoff();
            sh.counters.retrans_segs += 1;
            handshake::send_syn(tcb, sh, out, false);
        }
        State::SynReceived => {
            if tcb.retries >= sh.cfg.synack_retries {
                return close_tcb(tcb, sh, None);
            }
            tcb.retries += 1;
            tcb.rtt.backoff();
            sh.counters.retrans_segs += 1;
            handshake::send_syn(tcb, sh, out, true);
        }
        _ if tcb.snd.una != tcb.snd.nxt => retransmit_timeout(tcb, sh, out),
        _ => {}
    }
}

/// RFC 6298 §5.4-5.6 for data (and FIN) outstanding.
fn retransmit_timeout<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    if tcb.retries >= sh.cfg.max_retries {
        sh.counters.abort_on_timeout += 1;
        return close_tcb(tcb, sh, Some(TcpError::TimedOut));
    }
    tcb.retries += 1;
    sh.counters.timeouts += 1;
    loss::on_rto(tcb, sh, out.now);
    tcb.rtt.backoff();
    output::write_xmit(tcb, sh, out);
    let at = out.now + tcb.rtt.rto();
    set_timer(tcb, sh, TimerKind::Rto, at);
}

fn on_delayed_ack<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    if tcb.has(flag::ACK_DELAYED) {
        sh.counters.delayed_acks += 1;
        output::send_ack(tcb, sh, out);
    }
}

/// Zero-window probe; gives up like an RTO would if the peer never answers.
fn on_persist<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    if tcb.sq.send_head().is_none() || tcb.snd.una != tcb.snd.nxt {
        tcb.probes = 0;
        return;
    }
    if tcb.probes >= sh.cfg.max_retries {
        sh.counters.abort_on_timeout += 1;
        return close_tcb(tcb, sh, Some(TcpError::TimedOut));
    }
    // A window too small to be worth filling is filled now (the override timeout); data in
    // flight then has the RTO to watch over it.
    if tcb.snd.wnd > 0 && output::send_window_fill(tcb, sh, out) {
        tcb.probes = 0;
        let at = out.now + tcb.rtt.rto();
        return set_timer(tcb, sh, TimerKind::Rto, at);
    }
    output::send_probe(tcb, sh, out);
    sh.counters.win_probes += 1;
    tcb.probes += 1;
    tcb.rtt.backoff();
    let at = out.now + output::persist_interval(tcb);
    set_timer(tcb, sh, TimerKind::Persist, at);
}

/// Keepalive (RFC 1122 §4.2.3.6): after `idle` without a segment from the peer, probe every
/// `interval`; after `probes` unanswered, reset the connection (as Linux does) and report it.
fn on_keepalive<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    let Some(ka) = tcb.opts.keepalive else { return };
    if !matches!(
        tcb.state,
        State::Established | State::CloseWait | State::FinWait2
    ) {
        return;
    }
    let idle = out.now - tcb.last_rx;
    if idle < ka.idle() {
        let at = tcb.last_rx + ka.idle();
        return set_timer(tcb, sh, TimerKind::Keepalive, at);
    }
    if tcb.probes >= ka.probes {
        sh.counters.abort_on_timeout += 1;
        output::send_rst(tcb, sh, out);
        return close_tcb(tcb, sh, Some(TcpError::TimedOut));
    }
    if tcb.snd.una == tcb.snd.nxt {
        output::send_probe(tcb, sh, out);
        sh.counters.keepalive_probes += 1;
    }
    tcb.probes += 1;
    let at = out.now + ka.interval();
    set_timer(tcb, sh, TimerKind::Keepalive, at);
}
