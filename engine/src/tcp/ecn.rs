//! Explicit Congestion Notification in TCP (RFC 3168 §6.1), with the classic feedback of ECE
//! and CWR, as Linux does it with `tcp_ecn` at 2 (its default: accept, never ask) or 1 (ask
//! too). The connection's state is [`EcnState`] in the TCB; the IP layer below puts the
//! codepoint in its header and reads it back (`segment::Ecn`, ARCHITECTURE decision 13).
//!
//! - Negotiation (§6.1.1): an active open with [`EcnMode::On`] sends an ECN-setup SYN (ECE and
//!   CWR); a SYN-ACK with ECE and without CWR completes it. A passive open not
//!   [`EcnMode::Off`] answers an ECN-setup SYN with an ECN-setup SYN-ACK (ECE alone). A SYN sent
//!   again goes without ECE and CWR (§6.1.1.1: the first may have been dropped for them; Linux
//!   `tcp_ecn_clear_syn`), but a SYN-ACK with ECE answering the first still enables ECN, as in
//!   Linux.
//! - Sender (§6.1.1, §6.1.5, §6.1.4): new data goes out ECT(0); retransmissions, pure ACKs,
//!   window probes, a FIN alone and SYNs go out Not-ECT (Linux `tcp_ecn_send`).
//! - Receiver (§6.1.3): in-window data marked CE makes every later segment carry ECE until a
//!   segment with CWR arrives (accepted on any acceptable ACK, pure or not, as Linux does since
//!   5.10), and is acknowledged at once (Linux quick-ACKs on CE). CWR is taken before the
//!   segment's own data is looked at, so data carrying both CWR and CE keeps ECE set.
//! - Reaction (§6.1.2): an ACK with ECE reduces the window as a loss would (the algorithm
//!   sets `ssthresh` for [`CongestionEvent::Ecn`], `cwnd` drops to it at once), at most once
//!   per window of data: not while a loss recovery is under way (its reduction covers the same
//!   congestion), nor until SND.UNA has passed the SND.NXT of the last reduction (ECN or loss).
//!   The first new data segment after any reduction carries CWR; alone, not on a TSO frame
//!   whose every wire segment would repeat it (Linux clears CWR past the first GSO segment).
//!
//! Counters: `TcpExtTCPDeliveredCE` as Linux (segments acknowledged by ACKs with ECE, counted
//! here as MSS-sized pieces of the bytes acknowledged), and the engine's own
//! `TcpExtTCPECNReductions`. The IP layer counts codepoints received (`IpExtInCEPkts`, ...).
//!
//! Nothing here allocates, and every decision is on fields of the TCB and the segment's header.

use super::congestion::{CongestionControl, CongestionEvent};
use super::ctx::{Shared, ack_now};
use super::segment::Ecn;
use super::tcb::{CaState, EcnState, Tcb, flag};
use super::types::EcnMode;
use crate::buf::Mempool;
use crate::time::Instant;
use crate::wire::{SeqNum, TcpFlags, TcpRepr};

/// The state a new connection starts with: asking for ECN when it is an active open with
/// [`EcnMode::On`]; `iss` is its initial sequence number (no loss episode announced yet).
pub fn initial(mode: EcnMode, active: bool, iss: SeqNum) -> EcnState {
    EcnState {
        asked: active && mode == EcnMode::On,
        announced_recover: iss,
        ..EcnState::default()
    }
}

/// The ECN flags of our SYN (`ack` false) or SYN-ACK (§6.1.1): ECE and CWR on an ECN-setup
/// SYN, but not when it is sent again (`tcb.retries > 0`, §6.1.1.1); ECE alone on the SYN-ACK
/// of a connection that agreed.
pub fn syn_flags(tcb: &Tcb, ack: bool) -> TcpFlags {
    match ack {
        true if tcb.ecn.ok => TcpFlags::ECE,
        false if tcb.ecn.asked && tcb.retries == 0 => TcpFlags::ECE | TcpFlags::CWR,
        _ => TcpFlags::EMPTY,
    }
}

/// Takes the peer's SYN or SYN-ACK `r` into `tcb` (§6.1.1). A SYN-ACK answers our ECN-setup
/// SYN when it has ECE without CWR (both set is a peer reflecting the flags it does not
/// know); a SYN asks when it has both, and is agreed to by a passive open not
/// [`EcnMode::Off`], or by a simultaneous open that asked itself.
pub fn negotiate(tcb: &mut Tcb, r: &TcpRepr) {
    let f = r.flags;
    let ece = f.contains(TcpFlags::ECE);
    let cwr = f.contains(TcpFlags::CWR);
    tcb.ecn.ok = if f.contains(TcpFlags::ACK) {
        tcb.ecn.asked && ece && !cwr
    } else {
        let willing = if tcb.has(flag::PASSIVE) {
            tcb.opts.ecn != EcnMode::Off
        } else {
            tcb.ecn.asked
        };
        willing && ece && cwr
    };
}

/// In-window payload arrived with codepoint `ecn`, about to be queued (§6.1.3): a CE mark
/// starts the echo and asks for an immediate ACK.
#[inline]
pub fn on_data(tcb: &mut Tcb, sh: &mut Shared, ecn: Ecn) {
    if ecn == Ecn::Ce && tcb.ecn.ok {
        tcb.ecn.echo = true;
        ack_now(tcb, sh);
    }
}

/// What the ACK step's part needs to know of the connection before the ACK was processed.
#[derive(Clone, Copy, Debug)]
pub struct BeforeAck {
    una: SeqNum,
    cwnd: u32,
}

/// Notes SND.UNA and the congestion window before an ACK is processed.
#[inline]
pub fn before_ack(tcb: &Tcb) -> BeforeAck {
    BeforeAck {
        una: tcb.snd.una,
        cwnd: tcb.cwnd(),
    }
}

/// The ACK step's part, after the acknowledgment of `r` (carrying `payload_len` bytes) was
/// processed; `before` was taken before (§6.1.2, §6.1.3).
#[inline]
pub fn on_ack(
    tcb: &mut Tcb,
    sh: &mut Shared,
    r: &TcpRepr,
    before: BeforeAck,
    payload_len: usize,
    now: Instant,
) {
    if !tcb.ecn.ok || !r.flags.intersects(TcpFlags::ECE | TcpFlags::CWR) {
        return;
    }
    if r.flags.contains(TcpFlags::CWR) {
        tcb.ecn.echo = false;
        // The peer's window may be down to one segment: do not make it wait (Linux).
        if payload_len > 0 {
            ack_now(tcb, sh);
        }
    }
    if r.flags.contains(TcpFlags::ECE) && !r.flags.contains(TcpFlags::SYN) {
        on_echo(tcb, sh, before, now);
    }
}

/// An ACK with ECE: count what it delivered, and reduce the window unless a reduction is
/// under way; if one is, undo any growth the ACK gave (§6.1.2: the window SHOULD NOT grow in
/// response to an ECE).
fn on_echo(tcb: &mut Tcb, sh: &mut Shared, before: BeforeAck, now: Instant) {
    let mss = u32::from(tcb.snd.mss).max(1);
    let acked = tcb.snd.una - before.una;
    sh.counters.delivered_ce += u64::from(acked.div_ceil(mss));
    if reducing(tcb) {
        if tcb.cwnd() > before.cwnd {
            tcb.cc.set_cwnd(before.cwnd, mss);
        }
        return;
    }
    // The flight when the echo left the peer: what is outstanding now and what it acknowledged.
    let flight = tcb.in_flight().saturating_add(acked);
    tcb.cc.on_congestion(CongestionEvent::Ecn, flight, mss, now);
    let ssthresh = tcb.cc.ssthresh();
    tcb.cc.set_cwnd(ssthresh, mss);
    tcb.ecn.reduce_end = Some(tcb.snd.nxt);
    tcb.ecn.send_cwr = true;
    sh.counters.ecn_reductions += 1;
}

/// Whether the window was already reduced for this window of data: a loss recovery is under
/// way, or SND.UNA has not passed the SND.NXT of the last reduction (ECN's, or the loss
/// episode's `recover`). A recorded point outside `[SND.UNA, SND.NXT]` is long past.
fn reducing(tcb: &Tcb) -> bool {
    if tcb.ca != CaState::Open {
        return true;
    }
    let (una, nxt) = (tcb.snd.una, tcb.snd.nxt);
    let pending = |end: SeqNum| una.le(end) && end.le(nxt);
    tcb.ecn.reduce_end.is_some_and(pending) || pending(tcb.recover)
}

/// A reduction not yet announced: the ECN reaction's, or a loss episode's (a new `recover`).
#[inline]
fn cwr_due(tcb: &Tcb) -> bool {
    tcb.ecn.ok && (tcb.ecn.send_cwr || tcb.recover != tcb.ecn.announced_recover)
}

/// Before unit `i` of the send queue goes out as new data: when it must carry CWR and is
/// longer than one MSS (a TSO frame, whose wire segments would all repeat CWR), cuts its first
/// MSS off to go alone (failing that, for want of an mbuf, CWR rides on the whole frame).
#[inline]
pub fn cwr_alone(tcb: &mut Tcb, indirect: &Mempool, i: usize) {
    let mss = u32::from(tcb.snd.mss);
    if cwr_due(tcb) && tcb.sq.get(i).is_some_and(|s| s.len > mss) {
        tcb.sq.split(i, mss, indirect);
    }
}

/// The marks of a segment of `len` payload bytes about to be sent with header `repr`
/// (§6.1.1, §6.1.2, §6.1.5): new data (at or beyond SND.NXT) of an ECN connection is ECT(0),
/// the first of it after a reduction with CWR set in `repr`; anything else is Not-ECT.
#[inline]
pub fn data_marks(tcb: &Tcb, repr: &mut TcpRepr, len: u32) -> Ecn {
    if !tcb.ecn.ok || len == 0 || repr.seq.lt(tcb.snd.nxt) {
        return Ecn::NotEct;
    }
    if cwr_due(tcb) {
        repr.flags |= TcpFlags::CWR;
    }
    Ecn::Ect0
}

/// The segment with header `repr` left: a CWR it carried has announced every reduction so far.
#[inline]
pub fn sent(tcb: &mut Tcb, repr: &TcpRepr) {
    if repr.flags.contains(TcpFlags::CWR) {
        tcb.ecn.send_cwr = false;
        tcb.ecn.announced_recover = tcb.recover;
    }
}

/// The ECE of every segment but a SYN while the echo is on (§6.1.3).
#[inline]
pub fn echo(tcb: &Tcb, flags: &mut TcpFlags) {
    if tcb.ecn.echo {
        *flags |= TcpFlags::ECE;
    }
}
