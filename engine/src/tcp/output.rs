//! Output: `write_xmit` walks the send queue and sends what the gates allow (Linux's
//! `tcp_write_xmit`, ARCHITECTURE decision 4), plus ACKs, RSTs and probes.
//!
//! `write_xmit` first retransmits units marked lost (recovery, RFC 6582; after an RTO, RFC
//! 6298 §5.4), then sends new units from `send_head`, stopping at the first gate that says
//! no, in Linux's order:
//! 1. congestion window: bytes in flight < cwnd (RFC 5681; RFC 3042 limited transmit adds up
//!    to two segments on the first two duplicate ACKs);
//! 2. peer window: the unit must fit in `snd.una + snd.wnd`; a unit that fits only in part is
//!    split if the part is worth sending (RFC 9293 §3.8.6.2.1 sender SWS avoidance), else the
//!    persist timer waits for the window to open (and, when it fires on a window that is
//!    open but small, sends what fits: `send_window_fill`);
//! 3. Nagle (RFC 896, RFC 9293 §3.7.4) and cork: a sub-MSS unit waits while data is
//!    unacknowledged (Nagle) or until uncorked (cork); a FIN-carrying unit is never held.
//!
//! Every segment we send carries the current ACK, window and timestamp, and SACK blocks when
//! out-of-order data is held (RFC 2018), a D-SACK block first when a duplicate arrived
//! (RFC 2883); on an ECN connection (`ecn`, RFC 3168), ECE while a CE mark is being echoed,
//! and new data goes out ECT(0), with CWR after a window reduction.

use super::congestion::CongestionControl;
use super::ctx::{Out, Shared, mark_pending, set_timer, throttle};
use super::ecn;
use super::flow::FourTuple;
use super::options::{TCP_HEADER_LEN, TS_OPTION_LEN};
use super::probe;
use super::recovery::Frto;
use super::segment::{Ecn, FlowId, OutSegment, PathCaps, Segment, SegmentSink};
use super::state::State;
use super::tcb::{CaState, Tcb, flag};
use super::timer::TimerKind;
use crate::buf::Pkt;
use crate::wire::{SackBlocks, SeqNum, TcpFlags, TcpRepr};

/// End-of-poll work for a connection touched during input: send what may be sent, then the
/// ACK if one is still owed.
pub fn push_pending<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    // With nothing unsent and nothing marked lost, write_xmit would send nothing.
    if tcb.sq.send_head().is_some() || tcb.sq.lost_bytes() > 0 {
        write_xmit(tcb, sh, out);
    }
    // An owed ACK goes even when the connection's data waits for room (Linux sends ACKs
    // outside TCP small queues): held back with the data, it would add the whole wait on the
    // throttled list (thousands of connections long) to the peer's round-trip time, and the
    // peer's RTO would fire on data we already have. It goes into the TX batch's room above
    // the stop line; when that is used up too (the device has taken nothing for a while and
    // segments kept arriving), the ACK waits with the connection on the throttled list
    // rather than overflow the batch.
    if tcb.has(flag::ACK_NOW) && tcb.state != State::Closed {
        if out.sink.has_control_room() {
            send_ack(tcb, sh, out);
        } else {
            throttle(tcb, sh);
        }
    }
}

/// Whether the layer below takes more output now (`SegmentSink::may_send`). When it does
/// not, the connection waits on the throttled list and resumes in its turn, with its send
/// queue (unsent data, lost units) as it is: nothing was built, so nothing is lost and no
/// timer starts for a segment still waiting (Linux's TCP small queues).
#[inline]
pub fn tx_room<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) -> bool {
    if out.sink.may_send() {
        return true;
    }
    throttle(tcb, sh);
    false
}

/// The largest unit the send queue should build: the MSS, or a TSO super-segment of whole
/// wire segments.
pub fn size_goal(tcb: &Tcb, sh: &Shared) -> usize {
    let path = sh.path(tcb);
    let mss = usize::from(tcb.snd.mss);
    let Some(tso) = path.tso else {
        return mss;
    };
    let segsz = usize::from(tso_segsz(tcb, path));
    let by_len = tso.max_payload as usize / segsz;
    segsz * usize::from(tso.max_segs).min(by_len).max(1)
}

/// The TSO segment size: the MSS, or less where a TSO wire segment carries less than an
/// ordinary segment (`TsoCaps::max_wire_segment`); the MSS without TSO.
pub fn tso_segsz(tcb: &Tcb, path: &PathCaps) -> u16 {
    let mss = tcb.snd.mss;
    let Some(tso) = path.tso else {
        return mss;
    };
    mss.min(tso.max_wire_segment.saturating_sub(tcp_header_len(tcb)))
}

/// The TCP header of our data segments: with the timestamp option once negotiated.
fn tcp_header_len(tcb: &Tcb) -> u16 {
    TCP_HEADER_LEN + if tcb.ts.enabled { TS_OPTION_LEN } else { 0 }
}

/// Sends what the gates allow: lost units first, then new units. Returns the segments sent.
pub fn write_xmit<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
) -> usize {
    if !tcb.state.may_transmit() {
        return 0;
    }
    let mut sent = 0;
    // F-RTO step 2.b (RFC 5682 §3.1): new data first, while the RTO is being judged.
    if !frto_sends_new(tcb) {
        sent += retransmit_lost(tcb, sh, out);
    }
    let new = send_new(tcb, sh, out);
    sent += new;
    note_cwnd_use(tcb);
    if frto_sends_new(tcb) && new == 0 {
        // Nothing new could go: F-RTO cannot judge, the lost units are resent.
        tcb.rec.frto = Frto::Off;
        sent += retransmit_lost(tcb, sh, out);
    }
    // The probe first: the connection's wheel entry then moves once, to the earlier of the
    // two deadlines.
    if new > 0 {
        probe::schedule(tcb, sh, out);
    }
    if sent > 0 && !tcb.timers.is_set(TimerKind::Rto) {
        let at = out.now.add_nanos(tcb.rtt.rto_ns());
        set_timer(tcb, sh, TimerKind::Rto, at);
    }
    sent
}

/// F-RTO's step 2.b: the RTO's retransmission was acknowledged and new data, not
/// retransmissions, goes out next, until `snd.nxt` passes `recover` (`loss::frto_ack`).
fn frto_sends_new(tcb: &Tcb) -> bool {
    tcb.rec.frto == Frto::SendNew && tcb.snd.nxt == tcb.recover
}

/// Records whether the window held ready data back, and the flight, for growth decisions
/// (`tcb::CwndUse`, RFC 7661).
fn note_cwnd_use(tcb: &mut Tcb) {
    let flight = tcb.in_flight();
    let limited =
        tcb.sq.send_head().is_some() && flight + u32::from(tcb.snd.mss) > cwnd_allowance(tcb);
    let (una, nxt) = (tcb.snd.una, tcb.snd.nxt);
    tcb.cwnd_use.update(limited, flight, una, nxt);
}

/// The congestion window, plus RFC 3042 limited transmit on the first two duplicate ACKs.
fn cwnd_allowance(tcb: &Tcb) -> u32 {
    let extra = if tcb.ca == CaState::Open {
        u32::from(tcb.dupacks.min(2))
    } else {
        0
    };
    tcb.cwnd() + extra * u32::from(tcb.snd.mss)
}

/// Retransmits units marked lost, in order, while the congestion window allows.
fn retransmit_lost<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
) -> usize {
    let mut sent = 0;
    let mut from = 0;
    // Cut where the original's wire segments ended: a TSO unit went out in segments of
    // `tso_segsz`, which may be less than the MSS.
    let seg = u32::from(tso_segsz(tcb, sh.path(tcb))).max(1);
    while let Some(i) = tcb.sq.first_lost_from(from) {
        if tcb.sq.send_head().is_some_and(|h| i >= h) || tcb.in_flight() >= cwnd_allowance(tcb) {
            break;
        }
        if tcb.sq.get(i).is_some_and(|s| s.len > seg) && !tcb.sq.split(i, seg, &sh.pools.indirect) {
            break;
        }
        if !tx_room(tcb, sh, out) || !retransmit_unit(tcb, sh, out, i) {
            break;
        }
        sent += 1;
        from = i + 1;
    }
    sent
}

/// Retransmits unit `i` at once. (Linux skips a retransmission while the previous copy is
/// still in the host's queue, `skb_still_in_host_queue`; a unit's refcount cannot tell that
/// here: units split from one TSO unit share their data mbufs, and every port of this machine
/// copies or hands over on transmit, so the skip only ever delayed repairs by up to 8 RTO
/// quarters. A duplicate frame in a TX ring is harmless: the payload is never written.)
pub fn retransmit_unit<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
    i: usize,
) -> bool {
    if !transmit_unit(tcb, sh, out, i) {
        return false;
    }
    let space = tcb.sq.get(i).map_or(0, |u| u.space());
    tcb.sq.mark_retransmitted(i, out.now);
    tcb.retransmits = tcb.retransmits.saturating_add(1);
    sh.counters.retrans_segs += 1;
    match tcb.ca {
        CaState::Loss => sh.counters.slow_start_retrans += 1,
        CaState::Recovery => {
            sh.counters.fast_retrans += 1;
            tcb.rec.prr.on_sent(space);
        }
        CaState::Open => {}
    }
    let tsval = tcb.ts.enabled.then(|| tcb.tsval(out.now));
    tcb.rec.undo.on_retransmit(space, tsval);
    true
}

/// Sends new units from `send_head` through the gates.
fn send_new<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) -> usize {
    let mss = u32::from(tcb.snd.mss);
    let mut sent = 0;
    // RFC 5681 §4.1: after an idle period longer than the RTO, restart from the initial window.
    if tcb.snd.una == tcb.snd.nxt
        && tcb.sq.send_head().is_some()
        && out.now.nanos_since(tcb.last_tx) > tcb.rtt.rto_ns()
    {
        tcb.cc.on_idle_restart(mss, out.now);
    }
    while let Some(i) = tcb.sq.send_head() {
        let (seq, len, fin) = match tcb.sq.get(i) {
            Some(s) => (s.seq, s.len, s.fin),
            None => break,
        };
        let flight = tcb.in_flight();
        let cwnd = cwnd_allowance(tcb);
        if flight >= cwnd {
            break;
        }
        let wnd_end = tcb.snd.una + tcb.snd.wnd;
        let avail = wnd_end.diff(seq).max(0) as u32;
        let limit = avail.min(cwnd - flight);
        let need = len + u32::from(fin && len == 0);
        if need > limit {
            if !split_to_fit(tcb, sh, i, len, limit) {
                arm_persist_if_stuck(tcb, sh, out, avail, need);
                break;
            }
            continue;
        }
        if len < mss && !fin && held_by_nagle_or_cork(tcb, i) {
            break;
        }
        if sh.path(tcb).tso.is_none() && len > mss && !tcb.sq.split(i, mss, &sh.pools.indirect) {
            throttle(tcb, sh);
            break;
        }
        if !tx_room(tcb, sh, out) {
            break;
        }
        ecn::cwr_alone(tcb, &sh.pools.indirect, i);
        if !transmit_unit(tcb, sh, out, i) {
            // No mbuf for the header or the clone (a dry pool, decision 11): nothing of this
            // unit is in flight, so no ACK or timer would bring it back; it is tried again
            // at the next flush, in its turn among the throttled connections.
            throttle(tcb, sh);
            break;
        }
        sent_new_unit(tcb, out, i, seq);
        sent += 1;
    }
    sent
}

/// Bookkeeping after unit `i` (at `seq`) went out for the first time.
fn sent_new_unit<S: SegmentSink + ?Sized>(tcb: &mut Tcb, out: &Out<S>, i: usize, seq: SeqNum) {
    let (end, space) = tcb.sq.get(i).map_or((seq, 0), |s| (s.end(), s.space()));
    tcb.sq.advance_send_head(out.now);
    if end.gt(tcb.snd.nxt) {
        tcb.snd.nxt = end;
    }
    tcb.last_tx = out.now;
    if tcb.ca == CaState::Recovery {
        tcb.rec.prr.on_sent(space);
    }
}

/// The first unsent unit: its index, sequence number, length, and the room the peer's
/// window leaves from it.
fn unsent_head(tcb: &Tcb) -> Option<(usize, SeqNum, u32, u32)> {
    let i = tcb.sq.send_head()?;
    let u = tcb.sq.get(i)?;
    let avail = (tcb.snd.una + tcb.snd.wnd).diff(u.seq).max(0) as u32;
    Some((i, u.seq, u.len, avail))
}

/// A tail loss probe of new data (RFC 8985 §7.3): one segment from `send_head` if the peer's
/// window has room for it, whatever the congestion window. False if none could go.
pub fn send_one_new<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
) -> bool {
    let Some((i, seq, len, avail)) = unsent_head(tcb) else {
        return false;
    };
    let seg = u32::from(tso_segsz(tcb, sh.path(tcb))).max(1);
    avail >= len.min(seg) && send_head_piece(tcb, sh, out, (i, seq, len), seg)
}

/// Sends the first `cut` bytes (`cut > 0`) of the first unsent unit `(i, seq, len)`, all of
/// it if it is no longer, as new data. False if nothing went.
fn send_head_piece<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
    (i, seq, len): (usize, SeqNum, u32),
    cut: u32,
) -> bool {
    if cut < len && !tcb.sq.split(i, cut, &sh.pools.indirect) {
        return false;
    }
    if !transmit_unit(tcb, sh, out, i) {
        return false;
    }
    sent_new_unit(tcb, out, i, seq);
    true
}

/// Splits unit `i` so its head fits `limit` bytes, if that head is worth sending (at least
/// one MSS, or half the largest window the peer offered: RFC 9293 §3.8.6.2.1). With TSO the
/// cut is rounded down to whole segments.
fn split_to_fit(tcb: &mut Tcb, sh: &Shared, i: usize, len: u32, limit: u32) -> bool {
    let mss = u32::from(tcb.snd.mss);
    let worth = limit >= mss || (limit > 0 && limit >= tcb.snd.max_wnd / 2);
    if !worth || len == 0 {
        return false;
    }
    // Whole wire segments: with TSO those are `tso_segsz` bytes, which may be less than the
    // MSS (a cut at a multiple of the MSS would then leave a runt on the wire).
    let seg = u32::from(tso_segsz(tcb, sh.path(tcb))).max(1);
    let cut = if limit >= seg {
        limit - limit % seg
    } else {
        limit
    };
    cut > 0 && cut < len && tcb.sq.split(i, cut, &sh.pools.indirect)
}

/// Arms the persist timer when nothing is in flight and the peer's window keeps new data
/// back (RFC 9293 §3.8.6.1), so a lost window update cannot deadlock the connection.
fn arm_persist_if_stuck<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &Out<S>,
    avail: u32,
    need: u32,
) {
    if avail >= need || tcb.snd.una != tcb.snd.nxt || tcb.timers.is_set(TimerKind::Persist) {
        return;
    }
    let at = out.now + persist_interval(tcb);
    set_timer(tcb, sh, TimerKind::Persist, at);
}

/// Persist interval: the RTO with its backoff, which each probe doubles (bounded by the RTO
/// maximum) until the window opens, answered or not (RFC 9293 §3.8.6.1; Linux shares
/// `icsk_backoff` between the RTO and the probe timer the same way).
pub fn persist_interval(tcb: &Tcb) -> std::time::Duration {
    tcb.rtt.rto()
}

/// Nagle (a small unit waits while data is unacknowledged) and cork (a small unit waits).
fn held_by_nagle_or_cork(tcb: &Tcb, i: usize) -> bool {
    let last = i + 1 == tcb.sq.len();
    if tcb.opts.cork && last {
        return true;
    }
    !tcb.opts.nodelay && tcb.snd.una != tcb.snd.nxt
}

/// Transmits unit `i` as it is queued (the sink sends a clone; the unit stays queued).
fn transmit_unit<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
    i: usize,
) -> bool {
    let Some(seg) = tcb.sq.get(i) else {
        return false;
    };
    let (seq, fin, last, seg_len) = (seg.seq, seg.fin, i + 1 == tcb.sq.len(), seg.len);
    let mut flags = TcpFlags::ACK;
    if seg.len > 0 && last {
        flags |= TcpFlags::PSH;
    }
    if fin {
        flags |= TcpFlags::FIN;
    }
    let dsack = tcb.dsack();
    let mut repr = header(tcb, sh, out, seq, flags);
    let path = *sh.path(tcb);
    // TSO only for units beyond one MSS: a unit of at most one MSS is one ordinary segment
    // even where the TSO segment size is smaller.
    let tso = (seg_len > u32::from(tcb.snd.mss)).then(|| tso_segsz(tcb, &path));
    // The MSS leaves room for the timestamp option only: SACK blocks that would push a wire
    // segment past what the path carries are left off, and a pure ACK after the segment
    // carries them all (Linux shrinks the MSS instead, tcp_current_mss). Without that ACK a
    // peer sending to us while we echo full segments learns nothing of what we hold out of
    // order, and resends it.
    let (wire_payload, limit) = match (tso, path.tso) {
        (Some(sz), Some(t)) => (usize::from(sz), t.max_wire_segment),
        _ => (seg_len as usize, path.max_segment),
    };
    let blocks = repr.sack.len();
    while !repr.sack.is_empty() && repr.header_len() + wire_payload > usize::from(limit) {
        repr.sack.truncate(repr.sack.len() - 1);
    }
    let sack_left_off = repr.sack.len() < blocks;
    let ecn = ecn::data_marks(tcb, &mut repr, seg_len);
    let flow = Some(tcb.flow_id());
    let payload = tcb.sq.get(i).and_then(|s| s.pkt.as_ref());
    let body = Body {
        payload,
        tso_segsz: tso,
        ecn,
    };
    let ok = send(out, sh, &tcb.tuple, flow, &repr, body);
    if ok {
        acked_now(tcb);
        ecn::sent(tcb, &repr);
    }
    if sack_left_off {
        tcb.set(flag::ACK_NOW);
        mark_pending(tcb, sh);
        if repr.sack.is_empty() {
            tcb.set_dsack(dsack);
        }
    }
    ok
}

/// What a segment carries besides its header (see [`OutSegment`]).
struct Body<'a> {
    payload: Option<&'a Pkt>,
    tso_segsz: Option<u16>,
    ecn: Ecn,
}

/// A segment without payload, Not-ECT.
const BARE: Body<'static> = Body {
    payload: None,
    tso_segsz: None,
    ecn: Ecn::NotEct,
};

/// Hands one segment to the sink and counts what went out (RFC 4022 tcpOutSegs counts
/// wire segments: a TSO frame of N segments is N, as Linux's `tcp_skb_pcount`).
fn send<S: SegmentSink + ?Sized>(
    out: &mut Out<S>,
    sh: &mut Shared,
    tuple: &FourTuple,
    flow: Option<FlowId>,
    repr: &TcpRepr,
    body: Body<'_>,
) -> bool {
    let Body {
        payload,
        tso_segsz,
        ecn,
    } = body;
    let seg = OutSegment {
        tuple,
        flow,
        repr,
        payload,
        tso_segsz,
        ecn,
    };
    let ok = out.sink.send(&seg);
    if ok {
        sh.counters.out_segs += seg.wire_segments();
    }
    ok
}

/// The header of a segment from us: ACK, window, timestamps, SACK blocks filled in.
fn header<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &Shared,
    out: &Out<S>,
    seq: SeqNum,
    flags: TcpFlags,
) -> TcpRepr {
    let window = tcb.select_window(false, sh.mem.under_pressure());
    let mut sack = SackBlocks::default();
    if tcb.sack_ok() && (tcb.dsack().is_some() || tcb.rq.ooo_segs() > 0) {
        let dsack = tcb.take_dsack();
        tcb.rq.sack_blocks(dsack, &mut sack);
    }
    let mut flags = flags;
    ecn::echo(tcb, &mut flags);
    TcpRepr {
        src_port: tcb.tuple.local_port,
        dst_port: tcb.tuple.remote_port,
        seq,
        ack: tcb.rcv.nxt,
        flags,
        window,
        urgent: 0,
        mss: None,
        window_scale: None,
        sack_permitted: false,
        sack,
        timestamps: tcb.ts.enabled.then(|| (tcb.tsval(out.now), tcb.ts.recent)),
    }
}

/// Bookkeeping after any segment carrying our current ACK went out.
fn acked_now(tcb: &mut Tcb) {
    tcb.rcv.last_ack_sent = tcb.rcv.nxt;
    tcb.rcv.unacked_segs = 0;
    tcb.clear(flag::ACK_NOW | flag::ACK_DELAYED);
    tcb.timers.clear(TimerKind::DelayedAck);
}

/// Sends a pure ACK (RFC 9293 §3.10.7.4 `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`).
pub fn send_ack<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    send_bare_ack(tcb, sh, out, tcb.snd.nxt);
}

/// Sends an ACK without data at sequence number `seq`, carrying our current ACK.
fn send_bare_ack<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
    seq: SeqNum,
) {
    let repr = header(tcb, sh, out, seq, TcpFlags::ACK);
    if send(out, sh, &tcb.tuple, Some(tcb.flow_id()), &repr, BARE) {
        acked_now(tcb);
    }
}

/// The persist timer found the peer's window open but too small for the SWS rules of
/// `send_new`: send the head of the unsent data that fits (at most an MSS), the override
/// timeout of RFC 9293 §3.8.6.2.1, as Linux's `tcp_write_wakeup`. Returns false when nothing
/// fits (a zero window: the caller probes instead).
pub fn send_window_fill<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
) -> bool {
    let Some((i, seq, len, avail)) = unsent_head(tcb) else {
        return false;
    };
    let cut = avail.min(u32::from(tcb.snd.mss));
    cut > 0 && len > 0 && send_head_piece(tcb, sh, out, (i, seq, len), cut)
}

/// Sends a probe that elicits an ACK without new data: `SEG.SEQ = SND.UNA - 1` (keepalive,
/// RFC 1122 §4.2.3.6; zero-window probe, as Linux `tcp_xmit_probe_skb`).
pub fn send_probe<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    send_bare_ack(tcb, sh, out, tcb.snd.una - 1);
}

/// Sends a reset on an existing connection (abort, or data for a closed application).
pub fn send_rst<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    let mut repr = header(tcb, sh, out, tcb.snd.nxt, TcpFlags::RST | TcpFlags::ACK);
    repr.sack = SackBlocks::default();
    repr.window = 0;
    if send(out, sh, &tcb.tuple, Some(tcb.flow_id()), &repr, BARE) {
        sh.counters.out_rsts += 1;
    }
}

/// Sends (or re-sends) our SYN / SYN-ACK header, which carries no payload.
pub fn emit<S: SegmentSink + ?Sized>(
    tcb: &mut Tcb,
    sh: &mut Shared,
    out: &mut Out<S>,
    repr: &TcpRepr,
) -> bool {
    send(out, sh, &tcb.tuple, Some(tcb.flow_id()), repr, BARE)
}

/// The reset for a segment that belongs to no connection (RFC 9293 §3.10.7.1): if it had an
/// ACK, `<SEQ=SEG.ACK><CTL=RST>`, else `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`. Never in
/// answer to a reset.
pub fn reset_for<S: SegmentSink + ?Sized>(seg: &Segment, sh: &mut Shared, out: &mut Out<S>) {
    let r = &seg.repr;
    if r.flags.contains(TcpFlags::RST) {
        return;
    }
    let len = seg.payload_len() as u32
        + u32::from(r.flags.contains(TcpFlags::SYN))
        + u32::from(r.flags.contains(TcpFlags::FIN));
    let (seq, ack, flags) = if r.flags.contains(TcpFlags::ACK) {
        (r.ack, SeqNum(0), TcpFlags::RST)
    } else {
        (SeqNum(0), r.seq + len, TcpFlags::RST | TcpFlags::ACK)
    };
    let repr = TcpRepr {
        src_port: r.dst_port,
        dst_port: r.src_port,
        seq,
        ack,
        flags,
        ..TcpRepr::default()
    };
    let tuple = FourTuple::new((seg.dst, r.dst_port), (seg.src, r.src_port));
    if send(out, sh, &tuple, None, &repr, BARE) {
        sh.counters.out_rsts += 1;
    }
}
