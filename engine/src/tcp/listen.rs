//! Passive open: listeners, their SYN queue and accept queue (RFC 9293 §3.10.7.2, LISTEN).
//!
//! A SYN to a listening port creates a TCB in SYN-RECEIVED at once (no separate mini-socket);
//! the listener counts those children (`syn_count`, the SYN queue). When the handshake
//! completes, the child moves to the accept queue, where `accept` finds it. Both queues are
//! bounded by the backlog: SYNs beyond it are dropped and counted (`TcpExtListenDrops`), and
//! a completing handshake that finds the accept queue full is dropped too
//! (`TcpExtListenOverflows`; the peer retransmits its ACK or data, as with Linux).

use std::collections::VecDeque;

use super::flow::FourTuple;
use super::handshake;
use super::layer::{Out, Shared, Tcp};
use super::output;
use super::slab::Handle;
use super::tcb::{State, flag};
use super::types::{ConnOptions, Event, ListenerId};
use crate::iface::TcpIn;
use crate::wire::TcpFlags;

/// A listening port.
#[derive(Debug)]
pub struct Listener {
    pub id: ListenerId,
    pub port: u16,
    /// Bound on both the SYN queue and the accept queue.
    pub backlog: u32,
    /// Children in SYN-RECEIVED.
    pub syn_count: u32,
    /// Established children not yet accepted.
    pub accept: VecDeque<Handle>,
    /// Options accepted connections start with.
    pub opts: ConnOptions,
}

/// LISTEN-state processing of a segment for listener `l` (RFC 9293 §3.10.7.2).
pub fn on_segment(tcp: &mut Tcp, l: u32, tuple: FourTuple, seg: TcpIn, out: &mut Out) {
    let r = &seg.repr;
    // First, check for an RST: ignore it.
    if r.flags.contains(TcpFlags::RST) {
        return;
    }
    // Second, an ACK is bad in LISTEN: <SEQ=SEG.ACK><CTL=RST>.
    if r.flags.contains(TcpFlags::ACK) {
        tcp.sh.counters.no_port += 1;
        output::reset_for(&seg, &mut tcp.sh, out);
        return;
    }
    // Third, a SYN opens a connection; anything else is dropped.
    if !r.flags.contains(TcpFlags::SYN) {
        return;
    }
    let Some(lis) = tcp.sh.listeners.get(l as usize).and_then(Option::as_ref) else {
        return;
    };
    if lis.syn_count >= lis.backlog || lis.accept.len() as u32 >= lis.backlog {
        tcp.sh.counters.listen_drops += 1;
        if lis.accept.len() as u32 >= lis.backlog {
            tcp.sh.counters.listen_overflows += 1;
        }
        return;
    }
    let opts = lis.opts;
    let Ok(idx) = handshake::create(
        &mut tcp.conns,
        &mut tcp.sh,
        out,
        tuple,
        State::SynReceived,
        opts,
    ) else {
        tcp.sh.counters.listen_drops += 1;
        return;
    };
    let tcb = tcp.conns.get_by_index_mut(idx).expect("just created");
    tcb.set(flag::PASSIVE);
    tcb.listener = Some(l);
    tcb.rcv.irs = r.seq;
    tcb.rcv.nxt = r.seq + 1;
    tcb.rcv.adv = tcb.rcv.nxt;
    tcb.snd.wl1 = r.seq;
    handshake::negotiate(tcb, &tcp.sh, r, out.now);
    handshake::send_syn(tcb, &mut tcp.sh, out, true);
    if let Some(lis) = tcp.sh.listeners[l as usize].as_mut() {
        lis.syn_count += 1;
    }
    tcp.sh.counters.passive_opens += 1;
}

/// A passive child completed its handshake: move it from the SYN queue to the accept queue.
/// Returns false when the accept queue is full (the caller drops the segment).
pub fn child_established(sh: &mut Shared, l: u32, h: Handle) -> bool {
    let Some(lis) = sh.listeners.get_mut(l as usize).and_then(Option::as_mut) else {
        return false;
    };
    if lis.accept.len() as u32 >= lis.backlog {
        sh.counters.listen_overflows += 1;
        sh.counters.listen_drops += 1;
        return false;
    }
    lis.syn_count = lis.syn_count.saturating_sub(1);
    lis.accept.push_back(h);
    if lis.accept.len() == 1 {
        sh.events.push_back(Event::Acceptable(lis.id));
    }
    true
}

/// A child died before being accepted: drop it from whichever queue holds it.
pub fn forget_child(sh: &mut Shared, l: u32, h: Handle) {
    if let Some(lis) = sh.listeners.get_mut(l as usize).and_then(Option::as_mut) {
        if let Some(pos) = lis.accept.iter().position(|&c| c == h) {
            lis.accept.remove(pos);
        } else {
            lis.syn_count = lis.syn_count.saturating_sub(1);
        }
    }
}
