//! A virtual-time pair of stacks for deterministic TCP tests (quinn's `Pair`, style-models §5).
//!
//! [`Pair`] holds two [`Stack`]s, A (10.0.0.1) and B (10.0.0.2), joined by a [`SimLink`]. Each
//! stack's device is a [`Capture`] around a [`FaultInjector`] around its [`SimPort`]:
//! - [`Capture`] (`capture.rs`) sees every frame its stack transmits, in order: it logs it
//!   (instant and parsed TCP header, [`Frame`]) and drops it when a test's [`Script`] says so
//!   ("drop the first SYN-ACK", "drop everything from now on");
//! - [`FaultInjector`] adds seeded random loss, duplication, reordering and corruption
//!   ([`FaultConfig`], [`PairConfig::lossy`]);
//! - [`SimPort`] adds serialization at the line rate, a NIC queue and propagation latency.
//!
//! Time is virtual and never read from a clock: [`Pair::now`] starts at zero and only moves to
//! the earliest `next_deadline()` of the two stacks (a timer, a frame due on the link, a
//! reordered frame released). When a deadline is at or before `now` (frames left over by a
//! full `rx_burst`), the stacks are polled again at the same instant; a bounded number of such
//! polls in a row, a total poll budget and a virtual-time limit per call turn a hung connection
//! into a test failure that says what was awaited and prints both stacks' state.
//!
//! Applications run between polls as closures over the pair ([`Pair::run`]), at the instant of
//! the last poll; whatever they queue is sent by one more poll at that instant before the clock
//! moves on ([`Flow`]). The ready-made ones connect and accept ([`Pair::auto_accept`]),
//! transfer seeded pseudo-random bytes one or both ways checking every byte in order
//! ([`Stream`] in `stream.rs`, [`Pair::transfer`]), close, and report the [`Outcome`].
//! [`Pair::new`] resolves the neighbours (a ping) so no test's first segment waits for ARP.
//!
//! Determinism: everything random is drawn from seeds (the stacks' from `PairConfig::seed`,
//! the faults' from theirs); two pairs built from the same configuration and driven the same
//! way produce the same frames at the same instants.

// Each test binary uses (and re-exports are used by) a different part of the harness.
#![allow(dead_code, unused_imports)]

mod capture;
mod stream;

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

use engine::buf::{Mempool, PoolSizes, Pools};
use engine::dev::fault::{FaultConfig, FaultInjector};
use engine::dev::sim::{SimConfig, SimLink, SimPort};
use engine::tcp::{ConnId, ConnInfo, ConnOptions, Event, ListenerId, TcpConfig, TcpError};
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Stack, StackConfig, eal};

pub use capture::{Capture, Frame, Script, Seg, drop_all_tcp, drop_nth, parse_tcp};
pub use stream::{Outcome, Stream, payload};

/// Address of stack A.
pub const IP_A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Address of stack B.
pub const IP_B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// Polls in a row at one instant before the clock is declared stuck (a 1024-frame burst
/// needs 32; an application acting every poll needs one per action).
const MAX_SAME_INSTANT: u32 = 100_000;

/// The device under each stack.
pub type Dev = Capture<FaultInjector<SimPort>>;

/// One of the two stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn peer(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    pub fn ip(self) -> Ipv4Addr {
        match self {
            Side::A => IP_A,
            Side::B => IP_B,
        }
    }
}

/// How to build a [`Pair`].
#[derive(Clone, Debug)]
pub struct PairConfig {
    /// Prefix of the pools' names (unique per test keeps DPDK names apart).
    pub name: String,
    pub link: SimConfig,
    /// Faults on the frames A transmits (towards B), and on B's.
    pub fault_a: FaultConfig,
    pub fault_b: FaultConfig,
    pub tcp_a: TcpConfig,
    pub tcp_b: TcpConfig,
    /// Seeds of the stacks' own generators (ISNs, ephemeral ports) derive from this.
    pub seed: u64,
    pub pools: PoolSizes,
    /// Log every transmitted frame (see [`Capture`]).
    pub record: bool,
    /// Total polls of each stack before the test is failed as hung.
    pub max_polls: u64,
}

impl PairConfig {
    /// A 1 Gbit/s link with 1 ms one-way latency and a 1024-frame NIC queue, no faults, the
    /// default TCP configuration with a 4096-connection table.
    pub fn new(name: &str) -> PairConfig {
        let tcp = TcpConfig {
            max_connections: 4096,
            ..TcpConfig::default()
        };
        PairConfig {
            name: name.into(),
            link: SimConfig {
                latency: Duration::from_millis(1),
                bandwidth_bps: 1_000_000_000,
                queue_limit: 1024,
                mtu: 1500,
            },
            fault_a: FaultConfig::default(),
            fault_b: FaultConfig::default(),
            tcp_a: tcp.clone(),
            tcp_b: tcp,
            seed: 1,
            // About 100 MB in all (the test EAL has 256 MB): room for 1 MiB send and receive
            // buffers at full flight, or a thousand small connections.
            pools: PoolSizes {
                data: 8 * 1024 - 1,
                hdr: 4 * 1024 - 1,
                indirect: 8 * 1024 - 1,
            },
            record: true,
            max_polls: 20_000_000,
        }
    }

    /// Applies `f` to both stacks' TCP configuration.
    pub fn tcp(mut self, f: impl Fn(&mut TcpConfig)) -> Self {
        f(&mut self.tcp_a);
        f(&mut self.tcp_b);
        self
    }

    /// Random loss with probability `loss` in both directions, plus (when `loss > 0`) 1 %
    /// duplication and 1 % reordering by 3 ms, all drawn from `seed` (which also seeds the
    /// stacks).
    pub fn lossy(mut self, loss: f64, seed: u64) -> Self {
        let faults = |s| FaultConfig {
            seed: s,
            drop: loss,
            duplicate: if loss > 0.0 { 0.01 } else { 0.0 },
            reorder: if loss > 0.0 { 0.01 } else { 0.0 },
            reorder_delay: Duration::from_millis(3),
            corrupt: 0.0,
        };
        self.fault_a = faults(seed.wrapping_mul(2).wrapping_add(1));
        self.fault_b = faults(seed.wrapping_mul(2).wrapping_add(2));
        self.seed = seed;
        self
    }
}

/// What a step of application code did ([`Pair::run`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Nothing to do until something happens: after one more poll at this instant (which
    /// sends whatever the application queued), the clock moves on to the next deadline.
    Idle,
    /// Called the stack and may act again at once (more to send or read): poll again and call
    /// the application again at the same instant.
    Acted,
    /// The awaited condition holds: return.
    Done,
}

/// Two stacks over a simulated link, in virtual time. See the module documentation.
pub struct Pair {
    pub a: Stack<Dev>,
    pub b: Stack<Dev>,
    /// The virtual clock.
    pub now: Instant,
    /// Every application event, with when and on which stack it was polled.
    pub events: Vec<(Instant, Side, Event)>,
    /// Connections accepted by the harness, in order.
    pub accepted: Vec<(Instant, Side, ConnId)>,
    /// Accept connections as soon as a listener reports them (default on).
    pub auto_accept: bool,
    listeners: HashMap<(Side, u16), ListenerId>,
    polls: u64,
    max_polls: u64,
    same_instant: u32,
    scratch: Vec<u8>,
    pools: Option<PoolSet>,
}

impl Drop for Pair {
    /// Returns the pools for the next pair of this test (the stacks, dropped right after,
    /// give their mbufs back): DPDK pools are never freed, and the EAL's memory is bounded.
    fn drop(&mut self) {
        if let Some(p) = self.pools.take() {
            FREE_POOLS.with(|f| f.borrow_mut().push(p));
        }
    }
}

/// Every pool a pair uses.
struct PoolSet {
    sizes: (u32, u32, u32),
    a: Pools,
    b: Pools,
    link: Mempool,
    fault_a: Mempool,
    fault_b: Mempool,
}

thread_local! {
    /// Pools of pairs that were dropped, for reuse.
    static FREE_POOLS: RefCell<Vec<PoolSet>> = const { RefCell::new(Vec::new()) };
}

impl PoolSet {
    /// Pools of the given sizes: a dropped pair's, or new ones named after `name`.
    fn take(name: &str, sizes: &PoolSizes) -> PoolSet {
        let key = (sizes.data, sizes.hdr, sizes.indirect);
        let reused = FREE_POOLS.with(|f| {
            let mut f = f.borrow_mut();
            let i = f.iter().position(|p| p.sizes == key)?;
            Some(f.swap_remove(i))
        });
        reused.unwrap_or_else(|| PoolSet {
            sizes: key,
            a: Pools::create(&format!("{name}A"), sizes).expect("pools of A"),
            b: Pools::create(&format!("{name}B"), sizes).expect("pools of B"),
            // Received frames are copies from the link's pool: both receive queues live there.
            link: Mempool::create(&format!("{name}L"), 2 * sizes.data + 1, 256, 2176)
                .expect("link"),
            fault_a: Mempool::create(&format!("{name}FA"), 2047, 0, 2176).expect("fault A"),
            fault_b: Mempool::create(&format!("{name}FB"), 2047, 0, 2176).expect("fault B"),
        })
    }
}

impl Pair {
    pub fn new(cfg: PairConfig) -> Pair {
        eal::init_for_tests();
        let pools = PoolSet::take(&cfg.name, &cfg.pools);
        let (pa, pb, fa, fb) = (pools.a, pools.b, pools.fault_a, pools.fault_b);
        let (da, db) = SimLink::pair(
            pools.link,
            cfg.link.clone(),
            MacAddr([2, 0, 0, 0, 0, 1]),
            MacAddr([2, 0, 0, 0, 0, 2]),
        );
        let dev = |d, pool, f: &FaultConfig| {
            let mut c = Capture::new(FaultInjector::new(d, pool, f.clone()));
            c.record(cfg.record);
            c
        };
        let stack_cfg = |ip, tcp: &TcpConfig, seed| {
            let mut s = StackConfig::new(ip, 24);
            s.seed = Some(seed);
            s.tcp = tcp.clone();
            // Keep neighbours for the whole test: ARP refreshes would otherwise interleave
            // with the TCP behaviour under test (and be dropped by drop-everything scripts).
            s.neighbor.ttl = Duration::from_secs(1 << 20);
            s
        };
        let seed = cfg.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut pair = Pair {
            a: Stack::new(
                dev(da, fa, &cfg.fault_a),
                pa,
                stack_cfg(IP_A, &cfg.tcp_a, seed ^ 1),
            ),
            b: Stack::new(
                dev(db, fb, &cfg.fault_b),
                pb,
                stack_cfg(IP_B, &cfg.tcp_b, seed ^ 2),
            ),
            now: Instant::ZERO,
            events: Vec::new(),
            accepted: Vec::new(),
            auto_accept: true,
            listeners: HashMap::new(),
            polls: 0,
            max_polls: cfg.max_polls,
            same_instant: 0,
            scratch: vec![0; 64 * 1024],
            pools: Some(pools),
        };
        // Resolve the neighbours first (a ping from A: B learns A from A's ARP request, A
        // learns B from the reply), so that no test's first segment waits for ARP.
        pair.poll();
        assert!(pair.a.ping(pair.now, IP_B, 1, 1, 0), "ping B");
        pair.advance(Duration::from_millis(10));
        pair
    }

    pub fn stack(&mut self, side: Side) -> &mut Stack<Dev> {
        match side {
            Side::A => &mut self.a,
            Side::B => &mut self.b,
        }
    }

    pub fn stack_ref(&self, side: Side) -> &Stack<Dev> {
        match side {
            Side::A => &self.a,
            Side::B => &self.b,
        }
    }

    /// The frames `side` transmitted (needs `PairConfig::record`).
    pub fn log(&self, side: Side) -> &[Frame] {
        self.stack_ref(side).device().log()
    }

    /// TCP segments `side` transmitted, with their instants.
    pub fn segs(&self, side: Side) -> Vec<(Instant, Seg)> {
        self.stack_ref(side).device().segs().collect()
    }

    /// Installs a drop script on the frames `side` transmits (`None` removes it).
    pub fn script(&mut self, side: Side, s: Option<Script>) {
        self.stack(side).device_mut().set_script(s);
    }

    /// Polls both stacks once at `now` and collects their events (accepting connections when
    /// `auto_accept` is on).
    pub fn poll(&mut self) {
        self.polls += 1;
        if self.polls > self.max_polls {
            panic!(
                "poll budget of {} exhausted: the test is not converging\n{}",
                self.max_polls,
                self.diag()
            );
        }
        let now = self.now;
        self.a.poll(now);
        self.b.poll(now);
        for side in [Side::A, Side::B] {
            while let Some(ev) = self.stack(side).poll_event() {
                self.events.push((now, side, ev));
                if let (Event::Acceptable(l), true) = (ev, self.auto_accept) {
                    while let Some(c) = self.stack(side).accept(l) {
                        self.accepted.push((now, side, c));
                    }
                }
            }
        }
    }

    /// Moves the clock to the stacks' earliest deadline, at most to `limit`. Fails the test if
    /// the clock would have to pass `limit`, or stays stuck at one instant.
    fn step_clock(&mut self, what: &str, limit: Instant) {
        let next = [self.a.next_deadline(), self.b.next_deadline()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) if t <= self.now => {
                self.same_instant += 1;
                if self.same_instant > MAX_SAME_INSTANT {
                    panic!(
                        "{what}: virtual clock stuck at {}: a deadline ({t}) stays due after \
                         {MAX_SAME_INSTANT} polls\n{}",
                        self.now,
                        self.diag()
                    );
                }
            }
            _ if self.now >= limit => panic!(
                "{what}: not reached within the limit ({limit}){}\n{}",
                if next.is_none() {
                    "; nothing left to happen (no timer, no frame in flight)"
                } else {
                    ""
                },
                self.diag()
            ),
            Some(t) => {
                self.now = t.min(limit);
                self.same_instant = 0;
            }
            None => {
                self.now = limit;
                self.same_instant = 0;
            }
        }
    }

    /// Runs `app` after every poll until it returns [`Flow::Done`]; returns that instant.
    /// Fails the test (naming `what`) if that takes more than `limit` of virtual time.
    pub fn run(
        &mut self,
        what: &str,
        limit: Duration,
        mut app: impl FnMut(&mut Pair) -> Flow,
    ) -> Instant {
        let deadline = self.now + limit;
        loop {
            self.poll();
            match app(self) {
                Flow::Done => return self.now,
                Flow::Acted => {
                    self.same_instant += 1;
                    if self.same_instant > MAX_SAME_INSTANT {
                        panic!("{what}: the application acts forever at {}", self.now);
                    }
                }
                Flow::Idle => {
                    // The application may have queued output without saying so (a window
                    // update after a read goes out at the next poll): send it now, not at the
                    // next deadline.
                    self.poll();
                    self.step_clock(what, deadline);
                }
            }
        }
    }

    /// Runs until `cond` holds (checked after every poll); returns that instant.
    pub fn run_until(
        &mut self,
        what: &str,
        limit: Duration,
        mut cond: impl FnMut(&mut Pair) -> bool,
    ) -> Instant {
        self.run(
            what,
            limit,
            |p| if cond(p) { Flow::Done } else { Flow::Idle },
        )
    }

    /// Lets `d` of virtual time pass (polling at every deadline on the way).
    pub fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        self.run("advance", d, |p| {
            if p.now >= target {
                Flow::Done
            } else {
                Flow::Idle
            }
        });
    }

    /// Listens on `side`:`port` (once; later calls return the same listener).
    pub fn listen(&mut self, side: Side, port: u16, opts: Option<ConnOptions>) -> ListenerId {
        if let Some(&l) = self.listeners.get(&(side, port)) {
            return l;
        }
        let l = self.stack(side).listen(port, 1024, opts).expect("listen");
        self.listeners.insert((side, port), l);
        l
    }

    /// Opens a connection from A to B:`port` (B listening with `server_opts`), and runs until
    /// A has `Connected` and B has accepted it. Returns (A's handle, B's handle).
    pub fn connect(
        &mut self,
        port: u16,
        client_opts: Option<ConnOptions>,
        server_opts: Option<ConnOptions>,
    ) -> (ConnId, ConnId) {
        self.listen(Side::B, port, server_opts);
        self.poll();
        let c = self.a.connect(IP_B, port, client_opts).expect("connect");
        let s = self.await_established(Side::A, c, Duration::from_secs(200));
        (c, s)
    }

    /// Runs until `c` on `side` is connected and its peer accepted; returns the peer's handle.
    pub fn await_established(&mut self, side: Side, c: ConnId, limit: Duration) -> ConnId {
        let mut peer = None;
        self.run_until("connection established", limit, |p| {
            if p.event_time(side, |e| e == Event::Connected(c)).is_none() {
                return false;
            }
            peer = p.peer_of(side, c);
            peer.is_some()
        });
        peer.expect("checked")
    }

    /// The connection on the other stack with the mirror 4-tuple of `c`, among those it
    /// accepted or connected.
    pub fn peer_of(&self, side: Side, c: ConnId) -> Option<ConnId> {
        let me = self.stack_ref(side).info(c)?;
        let other = side.peer();
        let accepted = self
            .accepted
            .iter()
            .filter(|(_, s, _)| *s == other)
            .map(|(_, _, c)| *c);
        let connected = self.events.iter().filter_map(|(_, s, e)| match e {
            Event::Connected(c) if *s == other => Some(*c),
            _ => None,
        });
        accepted.chain(connected).find(|&pc| {
            self.stack_ref(other)
                .info(pc)
                .is_some_and(|i| i.local == me.remote && i.remote == me.local)
        })
    }

    /// When `side` first polled an event matching `pred`.
    pub fn event_time(&self, side: Side, pred: impl Fn(Event) -> bool) -> Option<Instant> {
        self.events
            .iter()
            .find(|(_, s, e)| *s == side && pred(*e))
            .map(|(t, _, _)| *t)
    }

    /// How `c` on `side` ended, if it did: `Some(error)` from its `Closed` event.
    pub fn closed(&self, side: Side, c: ConnId) -> Option<Option<TcpError>> {
        self.events.iter().find_map(|(_, s, e)| match e {
            Event::Closed(x, err) if *s == side && *x == c => Some(*err),
            _ => None,
        })
    }

    /// One round of application work for `streams`: send what the send buffers take, read and
    /// check what arrived, shut down writing after the last byte. Fails the test on any
    /// corrupted, reordered or missing byte, or on an unexpected error.
    pub fn pump(&mut self, streams: &mut [Stream]) -> Flow {
        let mut buf = std::mem::take(&mut self.scratch);
        let mut acted = false;
        let mut all_done = true;
        for (i, s) in streams.iter_mut().enumerate() {
            let now = self.now;
            let tx = self.stack(s.from);
            while s.sent < s.data.len() {
                let end = s.data.len().min(s.sent + 256 * 1024);
                match tx.send(s.tx, &s.data[s.sent..end]) {
                    Ok(n) => {
                        s.sent += n;
                        acted = true;
                    }
                    Err(TcpError::WouldBlock | TcpError::NoBufs) => break,
                    Err(e) => panic!("stream {i}: send failed at byte {} at {now}: {e}", s.sent),
                }
            }
            if s.sent == s.data.len() && s.shutdown && !s.shut {
                tx.shutdown(s.tx).expect("shutdown");
                s.shut = true;
                acted = true;
            }
            let rx = self.stack(s.from.peer());
            while s.read && !s.eof {
                match rx.recv(s.rx, &mut buf) {
                    Ok(0) => {
                        s.eof = true;
                        acted = true;
                    }
                    Ok(n) => {
                        s.check(i, &buf[..n], now);
                        acted = true;
                    }
                    Err(TcpError::WouldBlock) => break,
                    Err(e) => panic!("stream {i}: recv failed at byte {} at {now}: {e}", s.got),
                }
            }
            if s.got == s.data.len() && s.done_at.is_none() {
                s.done_at = Some(now);
            }
            all_done &= s.done();
        }
        self.scratch = buf;
        match (all_done, acted) {
            (true, _) => Flow::Done,
            (false, true) => Flow::Acted,
            (false, false) => Flow::Idle,
        }
    }

    /// Runs `streams` until every byte of each arrived (and, for streams that shut down, the
    /// end of file); returns when. Fails on any error, a bad byte, or after `limit`.
    pub fn transfer(&mut self, streams: &mut [Stream], limit: Duration) -> Instant {
        self.run("transfer complete", limit, |p| p.pump(streams))
    }

    /// Closes both ends of a connection gracefully: each side shuts down writing, reads to end
    /// of file (there must be nothing left unread), and releases its handle; runs until both
    /// stacks freed the connection (the active closer after TIME_WAIT). Returns when.
    pub fn close_both(&mut self, a: ConnId, b: ConnId, limit: Duration) -> Instant {
        let mut eof = [false, false];
        let mut closed = false;
        let (before_a, before_b) = (self.a.tcp().connections(), self.b.tcp().connections());
        self.run("graceful close", limit, |p| {
            if closed {
                let done = p.a.tcp().connections() < before_a && p.b.tcp().connections() < before_b;
                return if done { Flow::Done } else { Flow::Idle };
            }
            let mut acted = false;
            for (k, (side, c)) in [(Side::A, a), (Side::B, b)].into_iter().enumerate() {
                let st = p.stack(side);
                match st.shutdown(c) {
                    Ok(()) | Err(TcpError::Shutdown) => {}
                    Err(e) => panic!("{side:?}: shutdown failed: {e}"),
                }
                let mut buf = [0u8; 64];
                while !eof[k] {
                    match st.recv(c, &mut buf) {
                        Ok(0) => eof[k] = true,
                        Ok(n) => panic!("{side:?}: {n} unexpected bytes while closing"),
                        Err(TcpError::WouldBlock) => break,
                        Err(e) => panic!("{side:?}: recv while closing: {e}"),
                    }
                }
            }
            if eof == [true, true] {
                p.a.close(a);
                p.b.close(b);
                closed = true;
                acted = true;
            }
            if acted { Flow::Acted } else { Flow::Idle }
        })
    }

    /// Counters and link statistics now, with the time and bytes of a transfer.
    pub fn outcome(&self, started: Instant, finished: Instant, bytes: u64) -> Outcome {
        Outcome {
            elapsed: finished - started,
            bytes,
            a: self.a.counters(),
            b: self.b.counters(),
            link_a: self.a.device().inner().inner().stats(),
            link_b: self.b.device().inner().inner().stats(),
            fault_a: self.a.device().inner().stats(),
            fault_b: self.b.device().inner().stats(),
        }
    }

    /// Both stacks' state, for failure messages.
    pub fn diag(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "  at {} after {} polls", self.now, self.polls);
        for side in [Side::A, Side::B] {
            let st = self.stack_ref(side);
            let c = st.counters();
            let _ = writeln!(
                s,
                "  {side:?}: {} connections, {} established, {} in TIME_WAIT; \
                 out {} in {} retrans {} timeouts {} rsts {}; faults {:?}; link {:?}",
                st.tcp().connections(),
                c.curr_estab,
                c.time_wait,
                c.tcp.out_segs,
                c.tcp.in_segs,
                c.tcp.retrans_segs,
                c.tcp.timeouts,
                c.tcp.out_rsts,
                st.device().inner().stats(),
                st.device().inner().inner().stats(),
            );
            let mut conns: Vec<ConnId> = self
                .events
                .iter()
                .filter(|(_, s, _)| *s == side)
                .filter_map(|(_, _, e)| match e {
                    Event::Connected(c) | Event::Readable(c) | Event::Writable(c) => Some(*c),
                    Event::Closed(c, _) => Some(*c),
                    Event::Acceptable(_) => None,
                })
                .chain(
                    self.accepted
                        .iter()
                        .filter(|(_, s, _)| *s == side)
                        .map(|(_, _, c)| *c),
                )
                .collect();
            conns.sort_by_key(|c| format!("{c:?}"));
            conns.dedup();
            for c in conns.iter().take(4) {
                if let Some(i) = st.info(*c) {
                    let _ = writeln!(s, "    {}", brief(&i));
                }
            }
        }
        s
    }
}

/// One line of a connection's state.
pub fn brief(i: &ConnInfo) -> String {
    format!(
        "{:?} {}->{} una {} nxt {} rcv_nxt {} snd_wnd {} rcv_wnd {} cwnd {} ssthresh {} \
         rto {:?} srtt {:?} unsent {} unacked {} readable {} retrans {}",
        i.state,
        i.local,
        i.remote,
        i.snd_una,
        i.snd_nxt,
        i.rcv_nxt,
        i.snd_wnd,
        i.rcv_wnd,
        i.cwnd,
        i.ssthresh,
        i.rto,
        i.srtt,
        i.unsent_bytes,
        i.unacked_bytes,
        i.readable_bytes,
        i.retransmits
    )
}
