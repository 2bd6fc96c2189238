//! Arming the tail-loss-probe timer (RFC 8985 §7.2), after new data goes out and after each
//! ACK. The probe itself is sent by `loss::on_probe_timer`; this file stands apart so that
//! `output` can arm the timer without importing `loss`.
//!
//! As Linux's `tcp_schedule_loss_probe`: probes need SACK, the Open state, data outstanding
//! and no probe already out.

use super::ctx::{Out, Shared, set_timer};
use super::recovery::tlp;
use super::segment::SegmentSink;
use super::tcb::{CaState, Tcb};
use super::timer::TimerKind;

/// RFC 8985 §7.2: arms the probe timer if a probe may be sent, else clears it.
pub fn schedule<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &Out<S>) {
    let eligible = tcb.sack_ok()
        && tcb.ca == CaState::Open
        && tcb.snd.una != tcb.snd.nxt
        && tcb.rec.tlp.high_seq.is_none()
        && tcb.state.may_transmit();
    if !eligible {
        tcb.timers.clear(TimerKind::LossProbe);
        return;
    }
    let srtt = tcb.rtt.srtt().map(|d| d.as_nanos() as u64);
    let one_out = tcb.in_flight() <= u32::from(tcb.snd.mss);
    // The RTO armed, or the one about to be armed for what was just sent.
    let rto_left = Some(
        tcb.timers
            .get(TimerKind::Rto)
            .map_or(tcb.rtt.rto_ns(), |at| at.nanos_since(out.now)),
    );
    let at = out.now.add_nanos(tlp::pto_ns(srtt, one_out, rto_left));
    set_timer(tcb, sh, TimerKind::LossProbe, at);
}
