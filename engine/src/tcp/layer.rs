//! `Tcp`: one core's TCP layer. Owns the connection slab, the flow table (4-tuple → slab index,
//! no linear scans), the listeners, the timer wheel and the event queue; dispatches arriving
//! segments and expired timers to connections; frees connections that reached CLOSED.
//!
//! Invariants:
//! - A TCB is in the flow table iff its state is not CLOSED.
//! - A CLOSED TCB is freed at once unless the application still holds its handle; then it
//!   stays (a zombie with its error) until the application calls `close`.
//! - Output produced while processing a burst is coalesced: connections that need an ACK or
//!   may send are queued once (`flag::PENDING`) and served by [`Tcp::flush_pending`] at the end
//!   of the poll, so one burst of 32 segments yields one ACK (no added delay: same poll).

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use super::counters::TcpCounters;
use super::flow::{FlowTable, FourTuple, ListenTable};
use super::isn::IsnGen;
use super::listen::Listener;
use super::memory::{MemLevel, Memory};
use super::ports::PortAllocator;
use super::slab::{Handle, Slab};
use super::spare::Spares;
use super::tcb::{State, Tcb, flag};
use super::timer::TimerWheel;
use super::types::{ConnId, Event, TcpConfig, TcpError};
use super::{input, listen, output, timeout};
use crate::buf::Pools;
use crate::dev::{DeviceCaps, TxBatch};
use crate::iface::{Iface, TcpIn};
use crate::rand::Rng;
use crate::time::Instant;

/// What the TCP layer needs from the rest of the stack to send: the time, the interface
/// (addresses and neighbours), the pools, the port's capabilities and the TX batch.
pub struct Out<'a> {
    pub now: Instant,
    pub iface: &'a mut Iface,
    pub pools: &'a Pools,
    pub caps: &'a DeviceCaps,
    pub tx: &'a mut TxBatch,
}

/// State shared by all connections of a core (everything but the slab itself, so that a TCB
/// and this can be borrowed together).
pub struct Shared {
    pub cfg: TcpConfig,
    pub local_ip: Ipv4Addr,
    pub flows: FlowTable,
    pub listen_ports: ListenTable,
    pub listeners: Vec<Option<Listener>>,
    pub wheel: TimerWheel,
    pub isn: IsnGen,
    pub ports: PortAllocator,
    pub events: VecDeque<Event>,
    pub counters: TcpCounters,
    /// Connections needing output at the end of this poll.
    pub pending: Vec<u32>,
    /// Connections that reached CLOSED and must be reaped.
    pub reap: Vec<u32>,
    /// Scratch for expired timers.
    pub expired: Vec<u32>,
    /// Queue storage of freed connections, for the next ones (`spare`).
    pub spares: Spares,
    /// Connections currently in TIME_WAIT.
    pub time_wait: u64,
    /// How scarce payload mbufs are (see [`Tcp::evaluate_memory`] and `memory`).
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
}

/// One core's TCP layer.
pub struct Tcp {
    pub(crate) conns: Slab<Tcb>,
    pub(crate) sh: Shared,
}

impl Tcp {
    /// A TCP layer for `local_ip`, drawing its secrets from `rng`.
    pub fn new(cfg: TcpConfig, local_ip: Ipv4Addr, rng: &mut Rng, now: Instant) -> Tcp {
        let n = cfg.max_connections;
        let sh = Shared {
            flows: FlowTable::with_capacity(n, rng),
            listen_ports: ListenTable::with_capacity(16, rng),
            listeners: Vec::new(),
            wheel: TimerWheel::new(n, cfg.timer_tick, now),
            isn: IsnGen::new(rng),
            ports: PortAllocator::new(rng, cfg.ephemeral_ports.clone()),
            events: VecDeque::with_capacity(1024),
            counters: TcpCounters::default(),
            pending: Vec::with_capacity(256),
            reap: Vec::with_capacity(64),
            expired: Vec::with_capacity(256),
            spares: Spares::new(),
            time_wait: 0,
            timer_check: Instant::FAR_FUTURE,
            mem: Memory::default(),
            local_ip,
            cfg,
        };
        Tcp {
            conns: Slab::with_capacity(n),
            sh,
        }
    }

    /// One arriving segment (already checksummed and parsed by the interface).
    pub fn input(&mut self, seg: TcpIn, out: &mut Out) {
        self.sh.counters.in_segs += 1;
        let tuple = FourTuple {
            local_ip: seg.dst,
            local_port: seg.repr.dst_port,
            remote_ip: seg.src,
            remote_port: seg.repr.src_port,
        };
        if let Some(idx) = self.sh.flows.get(&tuple) {
            let tcb = self
                .conns
                .get_by_index_mut(idx)
                .expect("flow table points at live TCBs");
            match input::segment_arrives(tcb, &mut self.sh, seg, out) {
                None => {
                    self.reap();
                    return;
                }
                // RFC 9293 §3.10.7.4 / RFC 6191: a new SYN may reopen a TIME-WAIT connection.
                Some(seg) => {
                    self.sh.counters.tw_recycled += 1;
                    let tcb = self.conns.get_by_index_mut(idx).expect("live");
                    close_tcb(tcb, &mut self.sh, None);
                    self.reap();
                    return self.listener_or_reset(tuple, seg, out);
                }
            }
        }
        self.listener_or_reset(tuple, seg, out);
    }

    fn listener_or_reset(&mut self, tuple: FourTuple, seg: TcpIn, out: &mut Out) {
        match self.sh.listen_ports.get(tuple.local_port) {
            Some(l) => listen::on_segment(self, l, tuple, seg, out),
            None => {
                self.sh.counters.no_port += 1;
                output::reset_for(&seg, &mut self.sh, out);
            }
        }
    }

    /// Runs every connection timer that is due.
    pub fn poll_timers(&mut self, out: &mut Out) {
        if out.now < self.sh.timer_check {
            return;
        }
        let mut expired = std::mem::take(&mut self.sh.expired);
        self.sh.wheel.poll(out.now, &mut expired);
        for &idx in &expired {
            if let Some(tcb) = self.conns.get_by_index_mut(idx) {
                timeout::on_timer(tcb, &mut self.sh, out);
            }
        }
        expired.clear();
        self.sh.expired = expired;
        self.sh.timer_check = self.sh.wheel.next_deadline().unwrap_or(Instant::FAR_FUTURE);
        self.reap();
    }

    /// Sends what connections touched in this poll owe: data the windows now allow, and
    /// coalesced ACKs.
    pub fn flush_pending(&mut self, out: &mut Out) {
        let mut pending = std::mem::take(&mut self.sh.pending);
        for &idx in &pending {
            if let Some(tcb) = self.conns.get_by_index_mut(idx) {
                tcb.clear(flag::PENDING);
                output::push_pending(tcb, &mut self.sh, out);
            }
        }
        pending.clear();
        self.sh.pending = pending;
        self.reap();
    }

    /// Frees the connections that reached CLOSED, unless the application still holds them.
    #[inline]
    pub(crate) fn reap(&mut self) {
        if !self.sh.reap.is_empty() {
            self.reap_queued();
        }
    }

    fn reap_queued(&mut self) {
        while let Some(idx) = self.sh.reap.pop() {
            let Some(tcb) = self.conns.get_by_index(idx) else {
                continue;
            };
            if tcb.state != State::Closed {
                continue;
            }
            let owned = tcb.has(flag::APP_OWNED) && !tcb.has(flag::ORPHAN);
            if !owned {
                let h = tcb.handle;
                let spares = &mut self.sh.spares;
                self.conns.remove_with(h, |tcb| spares.recycle(tcb));
            }
        }
    }

    /// Counts the free payload mbufs and sets the memory level (`memory`: Linux's tcp_mem
    /// pressure and hard limit, decision 11). Entering pressure is counted; finding room again
    /// after pressure or a refused `send` posts the `Writable` that `send` held back (Linux
    /// `sk_stream_write_space` once `sk_stream_memory_free` holds again). Returns the level.
    pub fn evaluate_memory(&mut self, pools: &Pools) -> MemLevel {
        let was = self.sh.mem.level;
        let now = self.sh.mem.evaluate(pools);
        if was == MemLevel::Normal && now > MemLevel::Normal {
            self.sh.counters.memory_pressures += 1;
        }
        let room = self.sh.mem.budget_covers(1);
        if room && (was > MemLevel::Normal || self.sh.mem.refused) {
            self.sh.mem.refused = false;
            for (_, tcb) in self.conns.iter_mut() {
                notify_writable(tcb, &mut self.sh);
            }
        }
        now
    }

    /// The current memory level.
    pub fn memory_level(&self) -> MemLevel {
        self.sh.mem.level
    }

    /// True when connections owe output that the next poll will send (e.g. a window update
    /// queued by a read).
    pub fn has_pending(&self) -> bool {
        !self.sh.pending.is_empty()
    }

    /// The earliest instant a timer is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        (self.sh.timer_check != Instant::FAR_FUTURE).then_some(self.sh.timer_check)
    }

    /// This core's TCP counters.
    pub fn counters(&self) -> &TcpCounters {
        &self.sh.counters
    }

    /// Connections in the table (all states, zombies included).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Connections currently ESTABLISHED or CLOSE-WAIT (RFC 4022 tcpCurrEstab).
    pub fn curr_estab(&self) -> u64 {
        self.conns
            .iter()
            .filter(|(_, t)| matches!(t.state, State::Established | State::CloseWait))
            .count() as u64
    }

    /// Connections in TIME_WAIT.
    pub fn time_wait(&self) -> u64 {
        self.sh.time_wait
    }
}

/// Queues `tcb` for output at the end of the poll (once).
pub(crate) fn mark_pending(tcb: &mut Tcb, sh: &mut Shared) {
    if !tcb.has(flag::PENDING) {
        tcb.set(flag::PENDING);
        sh.pending.push(tcb.handle.index);
    }
}

/// Answers an unacceptable or suspicious segment (out of window, PAWS-rejected, a challenge
/// for an in-window RST or SYN, an ACK of unsent data) with an ACK. Segments that carry data
/// always get one; others at most once per `TcpConfig::oow_ack_interval` per connection
/// (RFC 5961 §7, Linux `tcp_oow_rate_limited`), so two confused ends cannot loop ACKs at
/// line rate and a flood of forged segments cannot draw one ACK each.
pub(crate) fn oow_ack(tcb: &mut Tcb, sh: &mut Shared, has_data: bool) {
    let now = tcb.last_rx;
    if !has_data
        && tcb
            .last_oow_ack
            .is_some_and(|t| now - t < sh.cfg.oow_ack_interval)
    {
        sh.counters.oow_rate_limited += 1;
        return;
    }
    tcb.last_oow_ack = Some(now);
    tcb.set(flag::ACK_NOW);
    mark_pending(tcb, sh);
}

/// Posts `Readable` once per edge, if the application holds the connection.
pub(crate) fn notify_readable(tcb: &mut Tcb, sh: &mut Shared) {
    if app_holds(tcb) && !tcb.has(flag::READ_NOTIFIED) {
        tcb.set(flag::READ_NOTIFIED);
        sh.events.push_back(Event::Readable(ConnId(tcb.handle)));
    }
}

/// Posts `Writable` if a send came up short and enough room is free again, and the stack is
/// not under memory pressure (`send` would refuse; `Tcp::evaluate_memory` posts it later).
pub(crate) fn notify_writable(tcb: &mut Tcb, sh: &mut Shared) {
    if !tcb.has(flag::WANT_WRITE) || !app_holds(tcb) || sh.mem.under_pressure() {
        return;
    }
    let room = (tcb.opts.sndbuf as usize).saturating_sub(tcb.sq.bytes());
    if room >= (tcb.opts.sndbuf as usize / 4).max(1) {
        tcb.clear(flag::WANT_WRITE);
        sh.events.push_back(Event::Writable(ConnId(tcb.handle)));
    }
}

/// True when the application holds the handle (connected or accepted, not closed by it).
pub(crate) fn app_holds(tcb: &Tcb) -> bool {
    tcb.has(flag::APP_OWNED) && !tcb.has(flag::ORPHAN)
}

/// Moves `tcb` to CLOSED: out of the flow table, timers stopped, queues freed, the listener's
/// counts fixed, the application told (`Closed`, with `err`), and queued for reaping.
pub(crate) fn close_tcb(tcb: &mut Tcb, sh: &mut Shared, err: Option<TcpError>) {
    if tcb.state == State::Closed {
        return;
    }
    if tcb.state == State::TimeWait {
        sh.time_wait = sh.time_wait.saturating_sub(1);
    }
    tcb.state = State::Closed;
    sh.flows.remove(&tcb.tuple);
    sh.wheel.cancel(tcb.handle.index);
    tcb.timers = Default::default();
    tcb.sq.reset(tcb.snd.nxt);
    tcb.rq.prune_ooo();
    if let Some(l) = tcb.listener.take() {
        listen::forget_child(sh, l, tcb.handle);
    }
    if err.is_some() {
        tcb.error = err;
    }
    if app_holds(tcb) && !tcb.has(flag::CLOSED_NOTIFIED) {
        tcb.set(flag::CLOSED_NOTIFIED);
        sh.events
            .push_back(Event::Closed(ConnId(tcb.handle), tcb.error));
        // A reader blocked on this connection must wake up to see the error or EOF.
        notify_readable(tcb, sh);
    }
    sh.reap.push(tcb.handle.index);
}

/// Sets timer `kind` of `tcb` to `at`, moving the wheel entry earlier if needed (a later
/// deadline leaves the entry alone: it fires early and is re-armed, see `timer`).
pub(crate) fn set_timer(
    tcb: &mut Tcb,
    sh: &mut Shared,
    kind: super::timer::TimerKind,
    at: Instant,
) {
    tcb.timers.set(kind, at);
    let idx = tcb.handle.index;
    // TIME-WAIT is armed once the other timers are stopped (and re-armed only by a retransmitted
    // FIN, RFC 9293 §3.10.7.4): the entry a stopped RTO left would fire for nothing, so the
    // entry moves to the table's earliest deadline, later or not.
    if kind == super::timer::TimerKind::TimeWait {
        if let Some(next) = tcb.timers.next() {
            sh.schedule(idx, next);
        }
        return;
    }
    if sh.wheel.scheduled(idx).is_none_or(|t| at < t) {
        sh.schedule(idx, at);
    }
}

/// The handle of a TCB by slab index (for listeners' accept queues).
pub(crate) fn handle_of(conns: &Slab<Tcb>, idx: u32) -> Option<Handle> {
    conns.handle_of(idx)
}

/// What one connection costs in the per-core tables, buffers excluded (issue 3's measure).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnMemory {
    /// The TCB itself, as stored in the slab (generation and entry tag included).
    pub slab_entry: usize,
    /// One flow-table entry (key, value, hashbrown control byte, at the 7/8 load factor).
    pub flow_entry: usize,
    /// The connection's node in the timer wheel.
    pub timer_node: usize,
    /// Sum of the above.
    pub total: usize,
}

/// Memory per connection in the tables (the send and receive queues' arrays and mbufs are
/// buffers and not counted, nor is the per-core pool of spare arrays, `spare`, bounded at
/// `spare::MAX_SETS` sets).
pub fn memory_per_connection() -> ConnMemory {
    let slab_entry = Slab::<Tcb>::entry_size();
    let flow_entry = (std::mem::size_of::<(FourTuple, u32)>() + 1) * 8 / 7;
    let timer_node = TimerWheel::node_size();
    ConnMemory {
        slab_entry,
        flow_entry,
        timer_node,
        total: slab_entry + flow_entry + timer_node,
    }
}
