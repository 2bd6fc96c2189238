//! Passive open: a segment for a listening port (RFC 9293 §3.10.7.2, LISTEN).
//!
//! A SYN to a listening port creates a TCB in SYN-RECEIVED at once (no separate mini-socket);
//! the listener counts those children (`Listener::syn_count`, the SYN queue). When the
//! handshake completes, the child moves to the accept queue (`Shared::child_established`),
//! where `accept` finds it. Both queues are bounded by the backlog: SYNs beyond it are dropped
//! and counted (`TcpExtListenDrops`), and a completing handshake that finds the accept queue
//! full is dropped too (`TcpExtListenOverflows`; the peer retransmits its ACK or data, as with
//! Linux). A listener takes its port on every address of the stack, in both families.

use super::ctx::{Out, Shared};
use super::flow::FourTuple;
use super::handshake;
use super::output;
use super::segment::{Segment, SegmentSink};
use super::slab::Slab;
use super::state::State;
use super::tcb::{Tcb, flag};
use crate::wire::TcpFlags;

/// LISTEN-state processing of a segment for the listener in `slot` (RFC 9293 §3.10.7.2).
pub fn on_segment<S: SegmentSink + ?Sized>(
    conns: &mut Slab<Tcb>,
    sh: &mut Shared,
    slot: u32,
    tuple: FourTuple,
    seg: Segment,
    out: &mut Out<S>,
) {
    let r = &seg.repr;
    // First, check for an RST: ignore it.
    if r.flags.contains(TcpFlags::RST) {
        return;
    }
    // Second, an ACK is bad in LISTEN: <SEQ=SEG.ACK><CTL=RST>.
    if r.flags.contains(TcpFlags::ACK) {
        sh.counters.no_port += 1;
        output::reset_for(&seg, sh, out);
        return;
    }
    // Third, a SYN opens a connection; anything else is dropped. A SYN with FIN is dropped
    // too, as Linux's `tcp_rcv_state_process` drops it (no sane opener sends one; RFC 9293
    // leaves it open, and accepting it would queue a half-closed child for a scanner).
    if !r.flags.contains(TcpFlags::SYN) || r.flags.contains(TcpFlags::FIN) {
        return;
    }
    let Some(lis) = sh.listeners.in_slot(slot) else {
        return;
    };
    if lis.syn_queue_full() {
        sh.counters.listen_drops += 1;
        if lis.accept_full() {
            sh.counters.listen_overflows += 1;
        }
        return;
    }
    let (id, opts) = (lis.id, lis.opts);
    let Ok(idx) = handshake::create(conns, sh, out.now, tuple, State::SynReceived, opts) else {
        sh.counters.listen_drops += 1;
        return;
    };
    // `create` returned the index of the entry it just inserted.
    let Some(tcb) = conns.get_by_index_mut(idx) else {
        return;
    };
    tcb.set(flag::PASSIVE);
    tcb.listener = Some(id);
    tcb.rcv.irs = r.seq;
    tcb.rcv.nxt = r.seq + 1;
    tcb.rcv.adv = tcb.rcv.nxt;
    tcb.snd.wl1 = r.seq;
    handshake::negotiate(tcb, sh, r, out.now);
    handshake::send_syn(tcb, sh, out, true);
    if let Some(lis) = sh.listeners.get_mut(id) {
        lis.syn_count += 1;
    }
    sh.counters.passive_opens += 1;
}
