//! The per-core context every connection works in, and the small operations on a TCB that
//! need it: state changes, timers, output scheduling, application notifications, closing.
//!
//! [`Shared`] is everything a core's TCP layer owns besides the connection slab (so a TCB and
//! the context can be borrowed together); [`Out`] is where the segments go and what time it
//! is. The modules that implement the protocol (`input`, `ack`, `output`, `timeout`,
//! `handshake`, `listen`, `api`) call down into this one; it calls none of them.
//!
//! Invariants kept here:
//! - A connection's state changes only in [`set_state`], which keeps the gauges
//!   ([`Gauges::curr_estab`], [`Gauges::time_wait`]) equal to the number of connections in
//!   those states.
//! - A TCB is in the flow table iff its state is not CLOSED ([`close_tcb`] removes it).
//! - A connection's `queued` bits name exactly the kinds of its live entries in the event
//!   queue (`events`).

use std::collections::VecDeque;

use super::counters::TcpCounters;
use super::events::{EventQueue, Queued};
use super::flow::{FlowTable, ListenTable};
use super::isn::IsnGen;
use super::listener::Listeners;
use super::memory::Memory;
use super::ports::PortAllocator;
use super::segment::{LinkCaps, PathCaps, SegmentSink};
use super::spare::Spares;
use super::state::State;
use super::tcb::{Tcb, flag};
use super::timer::{TimerKind, TimerWheel};
use super::types::{ConnId, Event, ListenerId, TcpConfig, TcpError};
use crate::buf::Pools;
use crate::time::Instant;

/// Outcome of one step of segment arrival (`input`, `ack`): go on, or stop here (a drop may
/// already have queued an ACK or RST).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Continue,
    Drop,
}

/// Where TCP's output goes, and the time it is made at. Generic over the sink so that a
/// stack's sink (the IP layer's) is called directly and inlined; `Out` alone names the
/// dynamic form (`&mut dyn SegmentSink`), which works everywhere too.
pub struct Out<'a, S: SegmentSink + ?Sized = dyn SegmentSink + 'a> {
    pub now: Instant,
    pub sink: &'a mut S,
}

/// What became of a child whose handshake completed ([`Shared::child_established`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Promotion {
    /// In the accept queue.
    Queued,
    /// The accept queue is full: the segment is dropped, the peer retransmits.
    AcceptQueueFull,
    /// The listener went away (`unlisten`): nobody will accept it.
    ListenerGone,
}

/// Connection counts by state, kept by [`set_state`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gauges {
    /// ESTABLISHED or CLOSE-WAIT (RFC 4022 tcpCurrEstab).
    pub curr_estab: u64,
    /// TIME-WAIT.
    pub time_wait: u64,
}

/// State shared by all connections of a core (everything but the slab itself, so that a TCB
/// and this can be borrowed together).
pub struct Shared {
    pub cfg: TcpConfig,
    /// What the layer below carries, per family.
    pub caps: LinkCaps,
    /// Payload mbufs (copies on `send`) and indirect mbufs (clones on split and queueing).
    pub pools: Pools,
    pub flows: FlowTable,
    pub listen_ports: ListenTable,
    pub listeners: Listeners,
    pub wheel: TimerWheel,
    pub isn: IsnGen,
    pub ports: PortAllocator,
    /// Events for the application, oldest first.
    pub events: EventQueue,
    pub counters: TcpCounters,
    pub gauges: Gauges,
    /// Connections needing output at the end of this poll, oldest first.
    pub pending: VecDeque<u32>,
    /// Connections whose output waits for room in the layer below (`flag::THROTTLED`),
    /// oldest first: resumed in this order when there is room (`Tcp::flush_pending`).
    pub throttled: VecDeque<u32>,
    /// Connections that reached CLOSED and must be reaped.
    pub reap: Vec<u32>,
    /// Scratch for expired timers.
    pub expired: Vec<u32>,
    /// Queue storage of freed connections, for the next ones (`spare`).
    pub spares: Spares,
    /// How scarce payload mbufs are (see `Tcp::evaluate_memory` and `memory`).
    pub mem: Memory,
    /// No timer is due before this instant (a lower bound kept as entries are scheduled), so
    /// an idle poll skips the wheel entirely.
    pub timer_check: Instant,
}

impl Shared {
    /// Schedules connection `idx`'s wheel entry at `at` (replacing any earlier one).
    pub fn schedule(&mut self, idx: u32, at: Instant) {
        self.wheel.schedule(idx, at);
        self.timer_check = self.timer_check.min(at);
    }

    /// What the layer below carries to the peer of `tcb`.
    #[inline]
    pub fn path(&self, tcb: &Tcb) -> &PathCaps {
        self.caps.for_addr(tcb.tuple.remote_ip)
    }

    /// Moves a SYN-RECEIVED child of listener `l` to its accept queue and tells the
    /// application.
    pub fn child_established(&mut self, l: ListenerId, tcb: &Tcb) -> Promotion {
        let Some(lis) = self.listeners.get_mut(l) else {
            return Promotion::ListenerGone;
        };
        if !lis.promote(tcb.handle) {
            self.counters.listen_overflows += 1;
            self.counters.listen_drops += 1;
            return Promotion::AcceptQueueFull;
        }
        // Edge-triggered, as `Event::Acceptable` says: when the queue stops being empty.
        if lis.accept.len() == 1 && !lis.acceptable_queued {
            lis.acceptable_queued = true;
            self.events.push(Event::Acceptable(l));
        }
        Promotion::Queued
    }
}

/// Changes `tcb`'s state, keeping the gauges. Every transition goes through here.
pub fn set_state(tcb: &mut Tcb, sh: &mut Shared, to: State) {
    let from = tcb.state;
    if from == to {
        return;
    }
    let g = &mut sh.gauges;
    if matches!(from, State::Established | State::CloseWait) {
        g.curr_estab = g.curr_estab.saturating_sub(1);
    }
    if from == State::TimeWait {
        g.time_wait = g.time_wait.saturating_sub(1);
    }
    match to {
        State::Established | State::CloseWait => g.curr_estab += 1,
        State::TimeWait => g.time_wait += 1,
        _ => {}
    }
    tcb.state = to;
}

/// Queues `tcb` for output at the end of the poll (once).
#[inline]
pub fn mark_pending(tcb: &mut Tcb, sh: &mut Shared) {
    if !tcb.has(flag::PENDING) {
        tcb.set(flag::PENDING);
        sh.pending.push_back(tcb.handle.index);
    }
}

/// Puts `tcb` on the list of connections waiting for room in the layer below (once); it
/// resumes, in its turn, on a flush that finds room.
#[inline]
pub fn throttle(tcb: &mut Tcb, sh: &mut Shared) {
    if !tcb.has(flag::THROTTLED) {
        tcb.set(flag::THROTTLED);
        sh.throttled.push_back(tcb.handle.index);
    }
}

/// Queues an immediate ACK for the end of the poll.
#[inline]
pub fn ack_now(tcb: &mut Tcb, sh: &mut Shared) {
    tcb.set(flag::ACK_NOW);
    mark_pending(tcb, sh);
}

/// Answers an unacceptable or suspicious segment (out of window, PAWS-rejected, a challenge
/// for an in-window RST or SYN, an ACK of unsent data) with an ACK. Segments that carry data
/// always get one; others at most once per `TcpConfig::oow_ack_interval` per connection
/// (RFC 5961 §7, Linux `tcp_oow_rate_limited`), so two confused ends cannot loop ACKs at
/// line rate and a flood of forged segments cannot draw one ACK each.
pub fn oow_ack(tcb: &mut Tcb, sh: &mut Shared, has_data: bool) {
    let now = tcb.last_rx;
    let last = tcb.last_oow_ack;
    if !has_data && last != Instant::FAR_FUTURE && now - last < sh.cfg.oow_ack_interval {
        sh.counters.oow_rate_limited += 1;
        return;
    }
    tcb.last_oow_ack = now;
    ack_now(tcb, sh);
}

/// Queues `ev` for the application, unless `tcb` has one of its kind in the queue already.
#[inline]
fn post(tcb: &mut Tcb, sh: &mut Shared, ev: Event) {
    let bit = Queued::bit(&ev);
    if tcb.queued.0 & bit == 0 {
        tcb.queued.0 |= bit;
        sh.events.push(ev);
    }
}

/// Posts `Connected` (an active or simultaneous open completed).
pub fn notify_connected(tcb: &mut Tcb, sh: &mut Shared) {
    post(tcb, sh, Event::Connected(ConnId(tcb.handle)));
}

/// Posts `Readable` once per edge, if the application holds the connection.
#[inline]
pub fn notify_readable(tcb: &mut Tcb, sh: &mut Shared) {
    if app_holds(tcb) && !tcb.has(flag::READ_NOTIFIED) {
        tcb.set(flag::READ_NOTIFIED);
        post(tcb, sh, Event::Readable(ConnId(tcb.handle)));
    }
}

/// Posts `Writable` if a send came up short and enough room is free again, and the stack is
/// not under memory pressure (`send` would refuse; `Tcp::evaluate_memory` posts it later).
pub fn notify_writable(tcb: &mut Tcb, sh: &mut Shared) {
    if !tcb.has(flag::WANT_WRITE) || !app_holds(tcb) || sh.mem.under_pressure() {
        return;
    }
    let room = (tcb.opts.sndbuf as usize).saturating_sub(tcb.sq.bytes());
    if room >= (tcb.opts.sndbuf as usize / 4).max(1) {
        tcb.clear(flag::WANT_WRITE);
        post(tcb, sh, Event::Writable(ConnId(tcb.handle)));
    }
}

/// Posts `Closed` once, if the application holds the connection; true if it did.
fn notify_closed(tcb: &mut Tcb, sh: &mut Shared) -> bool {
    if app_holds(tcb) && !tcb.has(flag::CLOSED_NOTIFIED) {
        tcb.set(flag::CLOSED_NOTIFIED);
        post(tcb, sh, Event::Closed(ConnId(tcb.handle), tcb.error));
        return true;
    }
    false
}

/// Forgets the events `tcb` owes (its handle was closed by the application): those still in
/// the queue are skipped when taken.
pub fn drop_events(tcb: &mut Tcb) {
    tcb.queued = Queued::default();
}

/// True when the application holds the handle (connected or accepted, not closed by it).
#[inline]
pub fn app_holds(tcb: &Tcb) -> bool {
    tcb.has(flag::APP_OWNED) && !tcb.has(flag::ORPHAN)
}

/// Moves `tcb` to CLOSED: out of the flow table, timers stopped, queues freed, the listener's
/// counts fixed, the application told (`Closed`, with `err`), and queued for reaping.
pub fn close_tcb(tcb: &mut Tcb, sh: &mut Shared, err: Option<TcpError>) {
    if tcb.state == State::Closed {
        return;
    }
    set_state(tcb, sh, State::Closed);
    sh.flows.remove(&tcb.tuple);
    sh.wheel.cancel(tcb.handle.index);
    tcb.timers = Default::default();
    tcb.sq.reset(tcb.snd.nxt);
    tcb.rq.prune_ooo();
    if let Some(l) = tcb.listener.take()
        && let Some(lis) = sh.listeners.get_mut(l)
    {
        lis.forget(tcb.handle);
    }
    if err.is_some() {
        tcb.error = err;
    }
    if notify_closed(tcb, sh) {
        // A reader blocked on this connection must wake up to see the error or EOF.
        notify_readable(tcb, sh);
    }
    sh.reap.push(tcb.handle.index);
}

/// Sets timer `kind` of `tcb` to `at`, moving the wheel entry earlier if needed (a later
/// deadline leaves the entry alone: it fires early and is re-armed, see `timer`).
pub fn set_timer(tcb: &mut Tcb, sh: &mut Shared, kind: TimerKind, at: Instant) {
    tcb.timers.set(kind, at);
    let idx = tcb.handle.index;
    // TIME-WAIT is armed once the other timers are stopped (and re-armed only by a retransmitted
    // FIN, RFC 9293 §3.10.7.4): the entry a stopped RTO left would fire for nothing, so the
    // entry moves to the table's earliest deadline, later or not.
    if kind == TimerKind::TimeWait {
        if let Some(next) = tcb.timers.next() {
            sh.schedule(idx, next);
        }
        return;
    }
    if sh.wheel.scheduled(idx).is_none_or(|t| at < t) {
        sh.schedule(idx, at);
    }
}

/// Arms keepalive for a connection that has it enabled (at establishment or when enabled).
pub fn arm_keepalive(tcb: &mut Tcb, sh: &mut Shared) {
    if let Some(ka) = tcb.opts.keepalive {
        let at = tcb.last_rx + ka.idle();
        set_timer(tcb, sh, TimerKind::Keepalive, at);
    }
}

/// Enters TIME-WAIT for 2·MSL (RFC 9293 §3.10.7.4).
pub fn enter_time_wait(tcb: &mut Tcb, sh: &mut Shared, now: Instant) {
    set_state(tcb, sh, State::TimeWait);
    tcb.tw_since = now;
    sh.counters.time_wait += 1;
    tcb.timers = Default::default();
    let at = now + sh.cfg.time_wait;
    set_timer(tcb, sh, TimerKind::TimeWait, at);
    // Nothing can be queued any more: TIME-WAIT holds no queue storage (`tcp::spare`).
    sh.spares.recycle_idle(tcb);
    // Both directions are closed: as far as the application is concerned, it is over.
    notify_closed(tcb, sh);
}
