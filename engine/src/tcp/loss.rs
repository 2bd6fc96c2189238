//! What ACKs and timers mean for loss recovery, as Linux's `tcp_fastretrans_alert`,
//! `tcp_process_loss` and the tail-loss-probe functions decide it; the algorithms and their
//! state are in `tcp::recovery`.
//!
//! - Loss detection: with SACK, RACK (RFC 8985) over the scoreboard the received SACK blocks
//!   fill (RFC 2018, RFC 2883), plus tail loss probes (RFC 8985 §7); without SACK, three
//!   duplicate ACKs (RFC 5681 §3.2) and NewReno partial ACKs (RFC 6582).
//! - States (Linux's `icsk_ca_state` names, `CaState`): Open; Recovery from the first loss
//!   detected until `snd.una` passes `recover` (the `snd.nxt` of that moment); Loss after an
//!   RTO, likewise.
//! - The reduction in Recovery is PRR's (RFC 6937): `cwnd = pipe + sndcnt` on each ACK,
//!   `cwnd = ssthresh` at the end. The congestion controller chooses `ssthresh` and grows the
//!   window in Open; it never learns how a loss was found.
//! - Undo: a reduction shown spurious by D-SACK (RFC 3708), timestamps (RFC 3522, RFC 4015) or
//!   F-RTO (RFC 5682) is reverted.
//!
//! Invariants: `recover` is only read outside Open; a probe is outstanding only in Open.

use super::congestion::{AckSample, CongestionControl, CongestionEvent};
use super::ctx::{Out, Shared, mark_pending, set_timer};
use super::output;
use super::probe;
use super::recovery::Frto;
use super::recovery::prr::Prr;
use super::recovery::sack::SackOutcome;
use super::recovery::undo::Undo;
use super::recovery::{DUPTHRESH, rack, tlp};
use super::segment::SegmentSink;
use super::send_queue::{AckOutcome, SegFlags};
use super::tcb::{CaState, Tcb};
use super::timer::TimerKind;
use crate::time::Instant;
use crate::wire::{SeqNum, TcpRepr};

/// The connection as it was before an ACK was processed.
#[derive(Clone, Copy, Debug)]
pub struct Prior {
    pub una: SeqNum,
    pub in_flight: u32,
    pub sacked: u32,
}

impl Prior {
    pub fn of(tcb: &Tcb) -> Prior {
        Prior {
            una: tcb.snd.una,
            in_flight: tcb.in_flight(),
            sacked: tcb.sq.sacked_bytes(),
        }
    }
}

/// What one ACK did, gathered by `ack::process` for the decisions here.
#[derive(Clone, Copy, Debug, Default)]
pub struct AckEvent {
    /// The cumulative acknowledgment's effect on the send queue.
    pub acked: AckOutcome,
    /// The SACK blocks' effect on the scoreboard.
    pub sack: SackOutcome,
    /// SND.UNA advanced.
    pub advanced: bool,
    /// A duplicate ACK (RFC 5681 §2; with SACK, RFC 6675 §2: new SACK information).
    pub dupack: bool,
    /// The ACK changed the send window.
    pub win_update: bool,
    /// The RTT sample the ACK gave, nanoseconds.
    pub rtt_ns: Option<u64>,
}

/// Everything loss recovery and congestion control do with an acceptable ACK.
pub fn on_ack<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    r: &TcpRepr,
    prior: &Prior,
    ev: &AckEvent,
    out: &mut Out<S>,
) {
    let now = out.now;
    if is_clean(tcb, ev) {
        // The common ACK: in order, nothing marked, nothing probed. Only the window grows
        // (RACK's state is refreshed by the first SACK, which delivers newer data).
        let delivered = tcb.snd.una - prior.una;
        if delivered > 0 {
            let sample = ack_sample(tcb, r, delivered, growth_flight(tcb, prior), ev.rtt_ns, now);
            tcb.cc.on_ack(&sample);
        }
        return probe::schedule(tcb, sh, out);
    }
    note_deliveries(tcb, sh, ev, now);
    probe_acked(tcb, sh, r.ack, ev, now);
    if ev.advanced {
        check_reneging(tcb, sh, now);
    }
    let delivered = delivered_bytes(tcb, prior, ev);
    let was_reducing = tcb.ca == CaState::Recovery;
    detect_losses(tcb, sh, ev, now);
    if tcb.ca == CaState::Open && tcb.sq.lost_bytes() > 0 {
        enter_recovery(tcb, sh, prior, now);
    }
    let tsecr = r.timestamps.filter(|_| tcb.ts.enabled).map(|(_, e)| e);
    match tcb.ca {
        CaState::Recovery => recovery_ack(tcb, sh, ev, delivered, tsecr),
        CaState::Loss => loss_ack(tcb, sh, ev, tsecr),
        CaState::Open if ev.sack.dsack.is_some() && tcb.rec.undo.all_dsacked() => {
            // The D-SACK of a retransmission usually arrives after the original filled the
            // hole and ended the recovery: the reduction is undone then (RFC 3708 §3.2).
            sh.counters.dsack_undo += 1;
            undo(tcb, sh);
        }
        CaState::Open => {}
    }
    // Growth outside a reduction (Linux `tcp_cong_control`): in Open, and in Loss, where
    // slow start rebuilds the window after an RTO; not on the ACK that ended a recovery at
    // ssthresh (RFC 6937).
    if delivered > 0 && tcb.ca != CaState::Recovery && !was_reducing {
        let sample = ack_sample(tcb, r, delivered, growth_flight(tcb, prior), ev.rtt_ns, now);
        tcb.cc.on_ack(&sample);
    }
    probe::schedule(tcb, sh, out);
}

/// An ACK that needs none of the recovery machinery: Open, no duplicate, no SACK block, no
/// probe out, an empty scoreboard (nothing SACKed, lost or retransmitted) and no
/// retransmission ever made on this episode's data (so no undo or reordering to learn).
fn is_clean(tcb: &Tcb, ev: &AckEvent) -> bool {
    tcb.ca == CaState::Open
        && !ev.dupack
        && ev.sack.newly == 0
        && ev.sack.dsack.is_none()
        && !ev.acked.any_retransmitted
        && tcb.rec.tlp.high_seq.is_none()
        && tcb.sq.sacked_bytes() == 0
        && tcb.sq.lost_bytes() == 0
        && tcb.sq.retrans_bytes() == 0
}

/// RACK learns of the deliveries; D-SACKs and reordering are noted (RFC 8985 §6.2 steps 2-4).
fn note_deliveries(tcb: &mut Tcb, sh: &mut Shared, ev: &AckEvent, now: Instant) {
    let min_rtt = tcb.rtt.min_rtt_ns();
    for d in [ev.acked.newest, ev.sack.newest].into_iter().flatten() {
        tcb.rec.rack.on_delivered(d, now, min_rtt);
    }
    if ev.sack.reordered {
        sh.counters.sack_reorder += 1;
        tcb.rec.rack.reord_seen = true;
    }
    if let Some((s, e)) = ev.sack.dsack {
        sh.counters.dsack_recv += 1;
        tcb.rec.rack.on_dsack(tcb.snd.una, tcb.snd.nxt);
        tcb.rec.undo.on_dsack(s, e);
    }
}

/// RFC 2018 §8: the receiver acknowledged up to data it had SACKed and no further, so it
/// dropped what it SACKed. As Linux (`tcp_check_sack_reneging`), the RTO is brought forward
/// to max(SRTT/2, 10 ms); when it fires the SACK marks are forgotten.
fn check_reneging(tcb: &mut Tcb, sh: &mut Shared, now: Instant) {
    let head_sacked = tcb
        .sq
        .get(0)
        .is_some_and(|u| u.tx_count > 0 && u.flags.contains(SegFlags::SACKED));
    if !head_sacked {
        return;
    }
    sh.counters.sack_reneging += 1;
    let half_srtt = tcb.rtt.srtt().map_or(0, |d| d.as_nanos() as u64 / 2);
    let at = now.add_nanos(half_srtt.max(10_000_000));
    set_timer(tcb, sh, TimerKind::Rto, at);
}

/// RFC 6937 `DeliveredData`: the change in `snd.una` plus the change in SACKed bytes. Without
/// SACK a duplicate ACK stands for one segment delivered (Linux `tcp_add_reno_sack`).
fn delivered_bytes(tcb: &Tcb, prior: &Prior, ev: &AckEvent) -> u32 {
    let una = i64::from(tcb.snd.una - prior.una);
    let sacked = i64::from(tcb.sq.sacked_bytes()) - i64::from(prior.sacked);
    let mut d = (una + sacked).max(0) as u32;
    if !tcb.sack_ok() && ev.dupack {
        d = d.max(u32::from(tcb.snd.mss));
    }
    d
}

/// Marks what is lost: RACK with SACK; the duplicate-ACK threshold without (RFC 5681 §3.2,
/// and not again before `recover` is passed, RFC 6582 §4.1). The threshold also serves a
/// SACK connection whose duplicate ACKs carry no SACK block (a middlebox that strips the
/// option; RFC 6675 §5 counts duplicate ACKs as well).
fn detect_losses(tcb: &mut Tcb, sh: &mut Shared, ev: &AckEvent, now: Instant) {
    if ev.dupack {
        tcb.dupacks = tcb.dupacks.saturating_add(1);
    }
    if tcb.sack_ok() && tcb.rec.rack.advanced {
        rack_detect(tcb, sh, now);
    }
    let counting = !tcb.sack_ok() || tcb.sq.sacked_bytes() == 0;
    let dupthresh = u32::from(tcb.dupacks) >= DUPTHRESH;
    if counting && ev.dupack && dupthresh && tcb.ca == CaState::Open && tcb.snd.una.ge(tcb.recover)
    {
        mark_head_lost(tcb, sh);
    }
}

/// One RACK pass; arms the reordering timer for what is not lost yet.
pub fn rack_detect(tcb: &mut Tcb, sh: &mut Shared, now: Instant) {
    tcb.rec.rack.advanced = false;
    if tcb.sq.sacked_bytes() == 0 && tcb.sq.retrans_bytes() == 0 && tcb.ca == CaState::Open {
        // Nothing delivered out of order and nothing resent: nothing can be lost.
        tcb.timers.clear(TimerKind::Reorder);
        return;
    }
    let mss = u32::from(tcb.snd.mss).max(1);
    let srtt = tcb.rtt.srtt().map_or(u64::MAX, |d| d.as_nanos() as u64);
    let reo = rack::reo_wnd(
        &tcb.rec.rack,
        tcb.ca != CaState::Open,
        tcb.sq.sacked_bytes() / mss,
        tcb.rtt.min_rtt_ns(),
        srtt,
    );
    let found = rack::detect_loss(&tcb.rec.rack, &mut tcb.sq, now, reo);
    sh.counters.lost_retransmit += u64::from(found.lost_retrans);
    match found.timeout_ns {
        Some(t) => set_timer(tcb, sh, TimerKind::Reorder, now.add_nanos(t)),
        None => tcb.timers.clear(TimerKind::Reorder),
    }
}

/// Marks the first unacknowledged wire segment lost (fast retransmit and NewReno partial
/// ACKs), cut where the original's wire segment ended.
fn mark_head_lost(tcb: &mut Tcb, sh: &Shared) {
    if tcb.sq.send_head() == Some(0) || tcb.sq.is_empty() {
        return;
    }
    let seg = u32::from(output::tso_segsz(tcb, sh.path(tcb))).max(1);
    if tcb.sq.get(0).is_some_and(|s| s.len > seg) {
        tcb.sq.split(0, seg, &sh.pools.indirect);
    }
    tcb.sq.mark_lost(0);
}

/// Open → Recovery (RFC 6675 §5 step 4, RFC 6937 "on entering recovery").
fn enter_recovery(tcb: &mut Tcb, sh: &mut Shared, prior: &Prior, now: Instant) {
    if tcb.sack_ok() {
        sh.counters.sack_recovery += 1;
    } else {
        sh.counters.reno_recovery += 1;
    }
    let mss = u32::from(tcb.snd.mss);
    tcb.cc
        .on_congestion(CongestionEvent::Loss, prior.in_flight, mss, now);
    tcb.rec.prr = Prr::start(tcb.snd.nxt - prior.una);
    tcb.rec.undo = Undo::start(prior.una);
    tcb.rec.tlp.high_seq = None;
    tcb.timers.clear(TimerKind::LossProbe);
    tcb.recover = tcb.snd.nxt;
    tcb.ca = CaState::Recovery;
}

/// An ACK in Recovery: leave it at `recover` (or undo), else reduce with PRR.
fn recovery_ack(tcb: &mut Tcb, sh: &mut Shared, ev: &AckEvent, delivered: u32, tsecr: Option<u32>) {
    let mss = u32::from(tcb.snd.mss);
    if tcb.snd.una.ge(tcb.recover) {
        if tcb.rec.undo.may_undo(tsecr) {
            sh.counters.full_undo += 1;
            return undo(tcb, sh);
        }
        // RFC 6937: upon exit, cwnd = ssthresh.
        let ssthresh = tcb.cc.ssthresh();
        tcb.cc.set_cwnd(ssthresh, mss);
        return leave(tcb);
    }
    if tcb.rec.undo.all_dsacked() {
        sh.counters.dsack_undo += 1;
        return undo(tcb, sh);
    }
    if ev.advanced && tcb.rec.undo.packet_delayed(tsecr) {
        sh.counters.partial_undo += 1;
        return undo(tcb, sh);
    }
    if ev.advanced && !tcb.sack_ok() {
        // RFC 6582 §3.2 step 5: a partial ACK; the next hole is resent at once.
        sh.counters.partial_acks += 1;
        mark_head_lost(tcb, sh);
    }
    let pipe = tcb.in_flight();
    let ssthresh = tcb.cc.ssthresh();
    let cwnd = tcb.rec.prr.on_ack(delivered, pipe, ssthresh, mss);
    tcb.cc.set_cwnd(cwnd, mss);
}

/// An ACK in Loss (after an RTO): undo if the RTO was spurious (timestamps, D-SACK, F-RTO),
/// end at `recover` (Linux `tcp_process_loss`).
fn loss_ack(tcb: &mut Tcb, sh: &mut Shared, ev: &AckEvent, tsecr: Option<u32>) {
    if ev.advanced && tcb.rec.undo.may_undo(tsecr) {
        sh.counters.loss_undo += 1;
        return undo(tcb, sh);
    }
    if tcb.rec.frto != Frto::Off {
        frto_ack(tcb, sh, ev);
        if tcb.ca != CaState::Loss {
            return;
        }
    }
    if tcb.snd.una.ge(tcb.recover) {
        leave(tcb);
    }
}

/// RFC 5682 §3.1, the SACK-enhanced F-RTO as Linux has it: after the RTO's retransmission is
/// acknowledged, new data goes out instead of more retransmissions; if data that was never
/// retransmitted is then acknowledged or SACKed, the RTO was spurious.
fn frto_ack(tcb: &mut Tcb, sh: &mut Shared, ev: &AckEvent) {
    if ev.acked.orig_acked || ev.sack.orig {
        sh.counters.loss_undo += 1;
        sh.counters.spurious_rtos += 1;
        return undo(tcb, sh);
    }
    match tcb.rec.frto {
        // Step 3.a: new data was sent and the peer still reports holes: the loss was real.
        Frto::SendNew if tcb.snd.nxt.gt(tcb.recover) && (ev.sack.newly > 0 || ev.dupack) => {
            tcb.rec.frto = Frto::Off;
        }
        // Step 2.b: send new data (`output::write_xmit` does, until `snd.nxt` passes
        // `recover`), judge on the next ACK.
        Frto::AwaitAck if ev.advanced && tcb.snd.una.lt(tcb.recover) => {
            tcb.recover = tcb.snd.nxt;
            tcb.rec.frto = if tcb.sq.send_head().is_some() {
                Frto::SendNew
            } else {
                Frto::Off
            };
        }
        _ => {}
    }
}

/// Back to Open without undoing. The undo state of a fast recovery is kept so that the
/// D-SACKs still to come can undo it; after an RTO it ends here (Linux keeps neither past the
/// next episode).
fn leave(tcb: &mut Tcb) {
    if tcb.ca == CaState::Recovery {
        tcb.rec.rack.on_recovery_end();
    } else {
        tcb.rec.undo.end();
    }
    tcb.ca = CaState::Open;
    tcb.rec.frto = Frto::Off;
    tcb.dupacks = 0;
}

/// The reduction was spurious: restore the window (Linux `tcp_undo_cwnd_reduction`; after an
/// RTO the loss marks go too).
fn undo(tcb: &mut Tcb, sh: &mut Shared) {
    tcb.cc.undo();
    if tcb.ca == CaState::Loss {
        tcb.sq.clear_lost();
        tcb.retries = 0;
    }
    tcb.rec.rack.reord_seen = true;
    leave(tcb);
    tcb.rec.undo.end();
    mark_pending(tcb, sh);
}

/// The retransmission timer expired (Linux `tcp_enter_loss`): everything outstanding and not
/// SACKed is lost; a SACKed head means the receiver reneged, and the SACK marks go too.
pub fn on_rto(tcb: &mut Tcb, sh: &mut Shared, now: Instant) {
    match tcb.ca {
        CaState::Recovery if tcb.sack_ok() => sh.counters.sack_recovery_fail += 1,
        CaState::Recovery => sh.counters.reno_failures += 1,
        CaState::Loss => sh.counters.loss_failures += 1,
        CaState::Open => {}
    }
    if tcb.ca != CaState::Loss || tcb.rec.undo.marker.is_none() {
        tcb.rec.undo = Undo::start(tcb.snd.una);
    }
    let flight = tcb.in_flight();
    tcb.cc.on_rto(flight, u32::from(tcb.snd.mss), now);
    let reneged = tcb.sq.mark_all_lost();
    if reneged {
        tcb.rec.sack.forget();
    }
    tcb.ca = CaState::Loss;
    tcb.recover = tcb.snd.nxt;
    tcb.dupacks = 0;
    tcb.rec.frto = if tcb.sack_ok() && !reneged {
        Frto::AwaitAck
    } else {
        Frto::Off
    };
    tcb.rec.tlp.high_seq = None;
    tcb.timers.clear(TimerKind::LossProbe);
    tcb.timers.clear(TimerKind::Reorder);
}

/// The reordering timer expired (RFC 8985 §6.3): detect again, and recover if anything is
/// now lost.
pub fn on_reorder_timer<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    let prior = Prior::of(tcb);
    rack_detect(tcb, sh, out.now);
    if tcb.ca == CaState::Open && tcb.sq.lost_bytes() > 0 {
        enter_recovery(tcb, sh, &prior, out.now);
    }
    if tcb.ca == CaState::Recovery {
        let (pipe, ssthresh, mss) = (tcb.in_flight(), tcb.cc.ssthresh(), u32::from(tcb.snd.mss));
        let cwnd = tcb.rec.prr.on_ack(0, pipe, ssthresh, mss);
        tcb.cc.set_cwnd(cwnd, mss);
    }
    output::write_xmit(tcb, sh, out);
}

/// The flight growth is judged by (RFC 7661, `tcb::CwndUse`).
fn growth_flight(tcb: &Tcb, prior: &Prior) -> u32 {
    tcb.cwnd_use
        .flight_for_growth(tcb.cc.cwnd(), prior.in_flight, prior.una)
}

/// What the congestion controller learns from an ACK.
pub fn ack_sample(
    tcb: &Tcb,
    r: &TcpRepr,
    acked: u32,
    in_flight_before: u32,
    rtt_ns: Option<u64>,
    now: Instant,
) -> AckSample {
    AckSample {
        acked,
        mss: u32::from(tcb.snd.mss),
        in_flight_before,
        now,
        rtt_ns,
        min_rtt_ns: tcb.rtt.min_rtt_ns(),
        snd_nxt: tcb.snd.nxt.0,
        ack: r.ack.0,
    }
}

/// RFC 8985 §7.3: the probe timer expired: send new data if the window allows, else the last
/// unSACKed segment again; then the RTO watches over it.
pub fn on_probe_timer<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    if tcb.ca != CaState::Open || tcb.snd.una == tcb.snd.nxt || tcb.rec.tlp.high_seq.is_some() {
        return;
    }
    // The transmit queue is backed up: the tail is most likely still waiting in it, so no
    // probe now; the RTO watches over it (Linux's `tcp_send_loss_probe` re-arms when the
    // skb is still in the host queue).
    if !out.sink.may_send() {
        let at = out.now.add_nanos(tcb.rtt.rto_ns());
        return set_timer(tcb, sh, TimerKind::Rto, at);
    }
    let probe = if output::send_one_new(tcb, sh, out) {
        Some(false)
    } else {
        retransmit_tail(tcb, sh, out).then_some(true)
    };
    if let Some(retrans) = probe {
        tcb.rec.tlp = tlp::Tlp {
            high_seq: Some(tcb.snd.nxt),
            retrans,
        };
        sh.counters.loss_probes += 1;
    }
    let at = out.now.add_nanos(tcb.rtt.rto_ns());
    set_timer(tcb, sh, TimerKind::Rto, at);
}

/// Retransmits the last wire segment of the highest sent unit that is not SACKed.
fn retransmit_tail<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
) -> bool {
    let sent = tcb.sq.send_head().unwrap_or(tcb.sq.len());
    let Some(i) = (0..sent).rev().find(|&k| {
        tcb.sq
            .get(k)
            .is_some_and(|u| !u.flags.contains(SegFlags::SACKED))
    }) else {
        return false;
    };
    let seg = u32::from(output::tso_segsz(tcb, sh.path(tcb))).max(1);
    let len = tcb.sq.get(i).map_or(0, |u| u.len);
    // The last wire segment of the unit starts at the last multiple of the segment size.
    let tail_at = (len.saturating_sub(1) / seg) * seg;
    let i = if tail_at > 0 && tcb.sq.split(i, tail_at, &sh.pools.indirect) {
        i + 1
    } else {
        i
    };
    output::retransmit_unit(tcb, sh, out, i)
}

/// RFC 8985 §7.4 (Linux `tcp_process_tlp_ack`): was the probe needed?
fn probe_acked(tcb: &mut Tcb, sh: &mut Shared, ack: SeqNum, ev: &AckEvent, now: Instant) {
    let Some(high) = tcb.rec.tlp.high_seq else {
        return;
    };
    if ack.lt(high) {
        return;
    }
    let dsack_of_probe = ev.sack.dsack.is_some_and(|(_, e)| e.ge(high));
    if !tcb.rec.tlp.retrans || dsack_of_probe {
        // New data probed, or the original and the probe both arrived: no loss.
        tcb.rec.tlp.high_seq = None;
    } else if ack.gt(high) {
        // The probe repaired a tail loss: one reduction, as for a recovery (Linux enters CWR
        // and ends it at once).
        let mss = u32::from(tcb.snd.mss);
        let flight = tcb.in_flight();
        tcb.cc
            .on_congestion(CongestionEvent::Loss, flight, mss, now);
        let ssthresh = tcb.cc.ssthresh();
        tcb.cc.set_cwnd(ssthresh.min(tcb.cc.cwnd()), mss);
        sh.counters.loss_probe_recovery += 1;
        tcb.rec.tlp.high_seq = None;
    } else if !ev.advanced && ev.sack.newly == 0 && !ev.win_update {
        // A pure duplicate ACK for the probe: the original had arrived.
        tcb.rec.tlp.high_seq = None;
    }
}
