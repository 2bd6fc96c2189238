//! `Tcp`: one core's TCP layer, the top of `tcp/`. Owns the connection slab and the per-core
//! context (`ctx::Shared`: flow table, listeners, timer wheel, event queue, counters);
//! dispatches arriving segments and expired timers to connections; frees connections that
//! reached CLOSED; hands events to the application.
//!
//! It takes segments and gives segments (`segment`): it knows no device, address resolution
//! or header below TCP's, so the whole layer runs in tests with an in-memory sink.
//!
//! Invariants:
//! - A TCB is in the flow table iff its state is not CLOSED.
//! - A CLOSED TCB is freed at once unless the application still holds its handle; then it
//!   stays (a zombie with its error) until the application calls `close`.
//! - Output produced while processing a burst is coalesced: connections that need an ACK or
//!   may send are queued once (`flag::PENDING`) and served by [`Tcp::flush_pending`] at the end
//!   of the poll, so one burst of 32 segments yields one ACK (no added delay: same poll).

use std::collections::VecDeque;

use super::counters::TcpCounters;
use super::ctx::{Gauges, Out, Shared, close_tcb, drop_events, notify_writable};
use super::events::{EventQueue, Queued};
use super::flow::{FlowTable, FourTuple, ListenTable};
use super::handshake;
use super::input::{self, Arrival};
use super::isn::IsnGen;
use super::listen;
use super::listener::Listeners;
use super::memory::{HARD_FRACTION, MAX_OOO_LISTED, MemLevel, Memory};
use super::output;
use super::ports::PortAllocator;
use super::recv_queue::RecvStorage;
use super::segment::{LinkCaps, Segment, SegmentSink};
use super::send_queue::SendStorage;
use super::slab::{Handle, Slab};
use super::spare::Spares;
use super::state::State;
use super::tcb::{Tcb, flag};
use super::timeout;
use super::timer::TimerWheel;
use super::types::{Event, TcpConfig};
use crate::buf::Pools;
use crate::rand::Rng;
use crate::time::Instant;

/// One core's TCP layer.
pub struct Tcp {
    pub(crate) conns: Slab<Tcb>,
    pub(crate) sh: Shared,
}

/// Connections the per-core tables are reserved for at creation (they grow beyond).
const INITIAL_CONNECTIONS: usize = 1024;

/// Rounds of `flush_pending` per poll.
const FLUSH_ROUNDS: usize = 4;

impl Tcp {
    /// A TCP layer over a link that carries `caps`, queueing payload in `pools`, drawing its
    /// secrets from `rng`.
    pub fn new(cfg: TcpConfig, caps: LinkCaps, pools: Pools, rng: &mut Rng, now: Instant) -> Tcp {
        let n = cfg.max_connections;
        // Tables are reserved for a few connections and grow with use (amortised, only when
        // more connections are open than ever before): `max_connections` is a bound, not a
        // reservation, so a million costs nothing until they exist.
        let initial = n.min(INITIAL_CONNECTIONS);
        let sh = Shared {
            flows: FlowTable::with_capacity(initial, rng),
            listen_ports: ListenTable::with_capacity(16, rng),
            listeners: Listeners::default(),
            wheel: TimerWheel::new(initial, cfg.timer_tick, now),
            isn: IsnGen::new(rng),
            ports: PortAllocator::new(rng, cfg.ephemeral_ports.clone()),
            events: EventQueue::with_capacity(n, 64),
            counters: TcpCounters::default(),
            gauges: Gauges::default(),
            pending: VecDeque::with_capacity(256),
            throttled: VecDeque::with_capacity(256),
            reap: Vec::with_capacity(64),
            expired: Vec::with_capacity(256),
            spares: Spares::new(),
            timer_check: Instant::FAR_FUTURE,
            mem: Memory::new(),
            caps,
            pools,
            cfg,
        };
        Tcp {
            conns: Slab::with_capacity(n),
            sh,
        }
    }

    /// One arriving segment (already checksummed and parsed by the layer below).
    #[inline]
    pub fn input<S: SegmentSink + ?Sized>(&mut self, mut seg: Segment, out: &mut Out<S>) {
        self.sh.counters.in_segs += 1;
        let (local, remote) = ((seg.dst, seg.repr.dst_port), (seg.src, seg.repr.src_port));
        // The flow table maps only to live TCBs (`close_tcb` removes the entry before a TCB
        // can be freed); a miss here would only send the segment to the listener path.
        if let Some(tcb) = self
            .sh
            .flows
            .get_parts(local, remote)
            .and_then(|idx| self.conns.get_by_index_mut(idx))
        {
            if input::segment_arrives(tcb, &mut self.sh, &mut seg, out) == Arrival::Done {
                self.reap();
                return;
            }
            // RFC 9293 §3.10.7.4 / RFC 6191: a new SYN may reopen a TIME-WAIT connection.
            self.sh.counters.tw_recycled += 1;
            close_tcb(tcb, &mut self.sh, None);
            self.reap();
        }
        self.listener_or_reset(FourTuple::new(local, remote), seg, out);
    }

    fn listener_or_reset<S: SegmentSink + ?Sized>(
        &mut self,
        tuple: FourTuple,
        seg: Segment,
        out: &mut Out<S>,
    ) {
        match self.sh.listen_ports.get(tuple.local_port) {
            Some(slot) => listen::on_segment(&mut self.conns, &mut self.sh, slot, tuple, seg, out),
            None => {
                self.sh.counters.no_port += 1;
                output::reset_for(&seg, &mut self.sh, out);
            }
        }
    }

    /// Runs every connection timer that is due.
    pub fn poll_timers<S: SegmentSink + ?Sized>(&mut self, out: &mut Out<S>) {
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
    /// coalesced ACKs; then what throttled connections wait to send, oldest first.
    ///
    /// Flushing may queue a connection again (a data segment too full for its SACK blocks
    /// owes a pure ACK after it): a few rounds serve those; what is still queued then (its
    /// `PENDING` flag set, so the list and the flags agree) waits for the next poll.
    ///
    /// Backpressure (Linux's TCP small queues): when the layer below has no room
    /// (`SegmentSink::may_send`), a connection's data waits on the throttled list
    /// (`flag::THROTTLED`) while its owed ACK still goes; the throttled connections resume in
    /// the order they stopped, as long as there is room. A flush that finds no room costs one
    /// check: the throttled list is never rescanned.
    pub fn flush_pending<S: SegmentSink + ?Sized>(&mut self, out: &mut Out<S>) {
        for _ in 0..FLUSH_ROUNDS {
            // Connections queued during this round wait for the next one.
            for _ in 0..self.sh.pending.len() {
                let Some(idx) = self.sh.pending.pop_front() else {
                    break;
                };
                if let Some(tcb) = self.conns.get_by_index_mut(idx) {
                    tcb.clear(flag::PENDING);
                    serve(tcb, &mut self.sh, out);
                }
            }
            if self.sh.pending.is_empty() {
                break;
            }
        }
        self.resume_throttled(out);
        self.reap();
    }

    /// Serves throttled connections in order while the layer below has room; one stopped
    /// again goes to the back of the list.
    fn resume_throttled<S: SegmentSink + ?Sized>(&mut self, out: &mut Out<S>) {
        for _ in 0..self.sh.throttled.len() {
            if !out.sink.may_send() {
                return;
            }
            let Some(idx) = self.sh.throttled.pop_front() else {
                return;
            };
            if let Some(tcb) = self.conns.get_by_index_mut(idx) {
                if !tcb.has(flag::THROTTLED) {
                    continue;
                }
                tcb.clear(flag::THROTTLED);
                serve(tcb, &mut self.sh, out);
            }
        }
    }

    /// Frees the connections that reached CLOSED, unless the application still holds them.
    #[inline]
    pub(crate) fn reap(&mut self) {
        if !self.sh.reap.is_empty() {
            self.reap_queued();
        }
    }

    fn reap_queued(&mut self) {
        if self.sh.events.wants_compaction() {
            self.compact_events();
        }
        while let Some(idx) = self.sh.reap.pop() {
            let Some(tcb) = self.conns.get_by_index_mut(idx) else {
                continue;
            };
            if tcb.state != State::Closed {
                continue;
            }
            let owned = tcb.has(flag::APP_OWNED) && !tcb.has(flag::ORPHAN);
            if !owned {
                drop_events(tcb);
                let h = tcb.handle;
                let spares = &mut self.sh.spares;
                self.conns.remove_with(h, |tcb| spares.recycle(tcb));
            }
        }
    }

    /// The next event for the application, if any (see `events`), in the order they were
    /// posted, each connection owing each kind of event at most once.
    #[inline(always)]
    pub fn poll_event(&mut self) -> Option<Event> {
        while let Some(ev) = self.sh.events.pop() {
            if self.take_owed(&ev) {
                return Some(ev);
            }
        }
        None
    }

    /// Whether `ev` is still owed (its connection's or listener's mark set); clears the mark.
    #[inline]
    fn take_owed(&mut self, ev: &Event) -> bool {
        match *ev {
            Event::Acceptable(l) => self
                .sh
                .listeners
                .get_mut(l)
                .is_some_and(|lis| std::mem::take(&mut lis.acceptable_queued)),
            Event::Connected(c) | Event::Readable(c) | Event::Writable(c) | Event::Closed(c, _) => {
                let Some(tcb) = self.conns.get_mut(c.0) else {
                    return false;
                };
                let bit = Queued::bit(ev);
                let owed = tcb.queued.0 & bit != 0;
                tcb.queued.0 &= !bit;
                owed
            }
        }
    }

    /// Drops the stale entries of the event queue (events of closed handles), keeping the live
    /// ones in order; see `events` for when.
    fn compact_events(&mut self) {
        let (conns, listeners) = (&self.conns, &self.sh.listeners);
        self.sh.events.retain(|ev| match *ev {
            Event::Acceptable(l) => listeners.get(l).is_some_and(|lis| lis.acceptable_queued),
            Event::Connected(c) | Event::Readable(c) | Event::Writable(c) | Event::Closed(c, _) => {
                conns
                    .get(c.0)
                    .is_some_and(|t| t.queued.0 & Queued::bit(ev) != 0)
            }
        });
    }

    /// Counts the free payload mbufs and sets the memory level (`memory`: Linux's tcp_mem
    /// pressure and hard limit, decision 11). Entering pressure is counted; finding room again
    /// after pressure or a refused `send` posts the `Writable` that `send` held back (Linux
    /// `sk_stream_write_space` once `sk_stream_memory_free` holds again). Returns the level.
    pub fn evaluate_memory(&mut self) -> MemLevel {
        let was = self.sh.mem.level;
        let now = self.sh.mem.evaluate(&self.sh.pools);
        if was == MemLevel::Normal && now > MemLevel::Normal {
            self.sh.counters.memory_pressures += 1;
        }
        if now == MemLevel::Hard && !self.sh.mem.ooo_listed.is_empty() {
            self.prune_ooo_across();
        } else if self.sh.mem.ooo_listed.len() >= MAX_OOO_LISTED / 2 {
            self.compact_ooo_list();
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

    /// Charges `frames` received to the memory budget (`Memory::charge_rx`); true when the
    /// pools must be counted now ([`Tcp::evaluate_memory`]).
    #[inline]
    pub fn charge_rx(&mut self, frames: u32) -> bool {
        self.sh.mem.charge_rx(frames)
    }

    /// At the hard line: drops out-of-order data across connections, largest holder first,
    /// until a hard line's worth of mbufs is freed (`memory`). Stale list entries go.
    fn prune_ooo_across(&mut self) {
        self.compact_ooo_list();
        let (conns, list) = (&mut self.conns, &mut self.sh.mem.ooo_listed);
        let ooo = |i: &u32| conns.get_by_index(*i).map_or(0, |t| t.rq.ooo_segs());
        // Ascending: the largest holder is taken from the end.
        list.sort_unstable_by_key(ooo);
        let goal = (self.sh.pools.data.capacity() / HARD_FRACTION) as usize;
        let mut freed = 0;
        while freed < goal {
            let Some(i) = list.pop() else {
                break;
            };
            if let Some(t) = conns.get_by_index_mut(i) {
                let segs = t.rq.ooo_segs();
                t.rq.prune_ooo();
                t.clear(flag::OOO_LISTED);
                self.sh.counters.ofo_pruned += segs as u64;
                freed += segs;
            }
        }
    }

    /// Drops the entries of the out-of-order list whose connection holds none any more (or
    /// is gone), clearing their mark.
    fn compact_ooo_list(&mut self) {
        let (conns, list) = (&mut self.conns, &mut self.sh.mem.ooo_listed);
        list.retain(|&i| {
            conns.get_by_index_mut(i).is_some_and(|t| {
                let holds = t.rq.ooo_segs() > 0;
                if !holds {
                    t.clear(flag::OOO_LISTED);
                }
                holds && t.has(flag::OOO_LISTED)
            })
        });
    }

    /// The current memory level.
    pub fn memory_level(&self) -> MemLevel {
        self.sh.mem.level
    }

    /// True when connections owe output that the next poll will send (e.g. a window update
    /// queued by a read).
    pub fn has_pending(&self) -> bool {
        !self.sh.pending.is_empty() || !self.sh.throttled.is_empty()
    }

    /// The earliest instant a timer is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        (self.sh.timer_check != Instant::FAR_FUTURE).then_some(self.sh.timer_check)
    }

    /// This core's TCP counters.
    pub fn counters(&self) -> &TcpCounters {
        &self.sh.counters
    }

    /// What the layer below carries, as told at creation.
    pub fn link_caps(&self) -> &LinkCaps {
        &self.sh.caps
    }

    /// Connections in the table (all states, zombies included).
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Connections currently ESTABLISHED or CLOSE-WAIT (RFC 4022 tcpCurrEstab).
    pub fn curr_estab(&self) -> u64 {
        self.sh.gauges.curr_estab
    }

    /// Connections in TIME_WAIT.
    pub fn time_wait(&self) -> u64 {
        self.sh.gauges.time_wait
    }
}

/// A queued connection's output: the SYN a connect had to defer (the TX queue was full,
/// `flag::SYN_DEFERRED`), else what it owes (`output::push_pending`).
fn serve<S: SegmentSink + ?Sized>(tcb: &mut Tcb, sh: &mut Shared, out: &mut Out<S>) {
    if tcb.has(flag::SYN_DEFERRED) {
        tcb.clear(flag::SYN_DEFERRED);
        if tcb.state == State::SynSent {
            handshake::send_syn(tcb, sh, out, false);
        }
        return;
    }
    output::push_pending(tcb, sh, out);
}

/// The handle of a TCB by slab index (for listeners' accept queues).
pub(crate) fn handle_of(conns: &Slab<Tcb>, idx: u32) -> Option<Handle> {
    conns.handle_of(idx)
}

/// What one idle live connection costs, in the per-core tables and in queue storage (payload
/// mbufs excluded: they are the data).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnMemory {
    /// The TCB itself, as stored in the slab (generation and entry tag included).
    pub slab_entry: usize,
    /// One IPv4 flow-table entry (key, value, hashbrown control byte, at the 7/8 load
    /// factor); an IPv6 entry is `FlowTable::entry_size_v6`.
    pub flow_entry: usize,
    /// The connection's node in the timer wheel.
    pub timer_node: usize,
    /// The connection's room in the event queue (four entries, `events`).
    pub event_room: usize,
    /// Queue arrays an idle connection holds: none, they are lent on first use and given
    /// back when the queues empty (`spare`).
    pub queue_arrays: usize,
    /// Queue arrays a busy connection borrows from the per-core pool while its queues hold
    /// data (at their default size; not part of `total`).
    pub busy_queue_arrays: usize,
    /// Sum of the above.
    pub total: usize,
}

/// Memory per idle live connection: tables and queue arrays (see [`ConnMemory`]). The per-core
/// pool of spare arrays (`spare`, at most `spare::MAX_SPARES` of each kind) is not per
/// connection and not counted.
pub fn memory_per_connection() -> ConnMemory {
    let slab_entry = Slab::<Tcb>::entry_size();
    let flow_entry = FlowTable::entry_size_v4();
    let timer_node = TimerWheel::node_size();
    let event_room = 4 * std::mem::size_of::<Event>();
    // What a connection fresh from the handshake holds (`handshake::create`): no storage.
    let queue_arrays = SendStorage::none().reserved() + RecvStorage::none().reserved();
    let busy_queue_arrays = SendStorage::reserved_bytes() + RecvStorage::reserved_bytes();
    ConnMemory {
        slab_entry,
        flow_entry,
        timer_node,
        event_room,
        queue_arrays,
        busy_queue_arrays,
        total: slab_entry + flow_entry + timer_node + event_room + queue_arrays,
    }
}
