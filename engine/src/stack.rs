//! `Stack`: one core's engine, run to completion (ARCHITECTURE decision 2).
//!
//! [`Stack::poll`] is the loop body: flush what the application queued since the last poll,
//! `rx_burst`, pass each frame through the IP layer (ARP, ND, IPv4, IPv6, ICMP) to the TCP
//! layer, run due timers, and `tx_burst` everything produced. TCP's segments go back down
//! through the IP layer's sink ([`TcpTx`]). Time comes in as an argument (decision 3):
//! the stack never reads a clock, so two stacks over a simulated link run in virtual time.
//!
//! A stack owns its device queue, its pools, its interface state and its connections; nothing
//! is shared with other cores.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::buf::{Pkt, Pools};
use crate::dev::{Device, DeviceCaps, TxBatch};
use crate::ip::steer::{Msg, Owner, SteerError, Steering};
use crate::ip::{IpCidr, IpConfig, IpCounters, IpLayer, NeighborConfig, Ping, TcpTx};
use crate::rand::Rng;
use crate::tcp::{
    ConnId, ConnInfo, ConnOptions, Event, FourTuple, ListenerId, Out, Tcp, TcpConfig, TcpCounters,
    TcpError,
};
use crate::time::Instant;

/// Default frames taken per `rx_burst` (see [`StackConfig::rx_burst`]).
pub const RX_BURST: usize = 8;

/// How a stack is set up.
#[derive(Clone, Debug)]
pub struct StackConfig {
    /// Our addresses with their prefixes, IPv4 and IPv6 in any number (at least one): the
    /// stack answers on all of them, and a listener takes its port on all of them.
    pub addrs: Vec<IpCidr>,
    /// Where off-link IPv4 traffic goes.
    pub gateway: Option<Ipv4Addr>,
    /// Where off-link IPv6 traffic goes.
    pub gateway6: Option<Ipv6Addr>,
    /// Neighbour caches (ARP and Neighbor Discovery).
    pub neighbor: NeighborConfig,
    /// Frames the TX batch holds before it drops (a TX ring that stays full).
    pub tx_batch: usize,
    /// Frames taken per `rx_burst` and processed before the application runs and the
    /// replies go out. Small bursts keep latency low and let two stacks on two cores work in
    /// parallel instead of in turns (default 8: with 32, a 16-connection RPC load between
    /// two cores ran at less than half the rate); large ones (32) amortise per-poll work and
    /// suit bulk transfers.
    pub rx_burst: usize,
    /// Polls between two counts of the free payload mbufs (the memory level, `tcp::memory`;
    /// counting walks every lcore cache). Default 1024; tests use 1 to see each change.
    pub memory_check_every: u32,
    /// Seed of every random choice (ISN and port secrets, decision 3), for reproducible runs
    /// and tests. `None` (the default) draws the secrets from the operating system, as
    /// RFC 6528 and RFC 6056 require: ISNs and ports then differ from run to run.
    pub seed: Option<u64>,
    /// The TCP layer's configuration.
    pub tcp: TcpConfig,
}

impl StackConfig {
    /// A stack on address `ip` with `prefix_len`; more addresses go into `addrs`.
    pub fn new(ip: impl Into<IpAddr>, prefix_len: u8) -> StackConfig {
        StackConfig::with_addrs(vec![IpCidr::new(ip, prefix_len)])
    }

    /// A stack on `addrs`.
    pub fn with_addrs(addrs: Vec<IpCidr>) -> StackConfig {
        StackConfig {
            addrs,
            gateway: None,
            gateway6: None,
            neighbor: NeighborConfig::default(),
            tx_batch: 4096,
            rx_burst: RX_BURST,
            memory_check_every: 1024,
            seed: None,
            tcp: TcpConfig::default(),
        }
    }
}

/// All counters of one stack, for printing and summing over cores.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub ip: IpCounters,
    pub tcp: TcpCounters,
    /// Connections ESTABLISHED or CLOSE-WAIT now (a gauge, RFC 4022 tcpCurrEstab).
    pub curr_estab: u64,
    /// Connections in TIME-WAIT now (a gauge).
    pub time_wait: u64,
    /// Frames dropped because the TX batch was full.
    pub tx_dropped: u64,
    /// Times TCP found the TX batch stopped (its device ring full) and its connections
    /// waited for room (`dev::TxBatch::stopped`).
    pub tx_throttled: u64,
    /// Frames handed to the core that owns them (multi-core steering).
    pub steer_forwarded: u64,
    /// Frames steering dropped (a cross-core queue was full).
    pub steer_drops: u64,
    /// Data (payload) mbufs of the stack's pool in use now, the port's receive ring and the
    /// lcore caches included (a gauge, `tcp::memory`).
    pub data_mbufs_in_use: u64,
}

impl Counters {
    /// Every counter as (name, value), the IP layer first. `TcpInErrs` and `TcpInSegs` are
    /// TCP's own counts plus the segments the IP layer rejected for a bad checksum or header,
    /// as Linux counts them.
    pub fn entries(&self) -> Vec<(&'static str, u64)> {
        let mut v: Vec<_> = self.ip.entries().collect();
        // Linux's `tcp_v4_rcv` counts a segment in TcpInSegs "even if it's bad", and a bad
        // checksum or header in TcpInErrs too; here the IP layer rejects those before TCP.
        let rejected = self.ip.tcp_in_csum_errors + self.ip.tcp_in_hdr_errors;
        v.extend(self.tcp.entries().map(|(n, x)| match n {
            "TcpInErrs" | "TcpInSegs" => (n, x + rejected),
            _ => (n, x),
        }));
        v.push(("TcpCurrEstab", self.curr_estab));
        v.push(("TcpExtTimeWaitNow", self.time_wait));
        v.push(("TxDropped", self.tx_dropped));
        v.push(("TxThrottled", self.tx_throttled));
        v.push(("SteerForwarded", self.steer_forwarded));
        v.push(("SteerDrops", self.steer_drops));
        v.push(("MbufDataInUse", self.data_mbufs_in_use));
        v
    }

    /// Looks a counter up by its Linux-style name.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.entries()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// Sums another core's counters into these.
    pub fn add(&mut self, o: &Counters) {
        self.ip.add(&o.ip);
        self.tcp.add(&o.tcp);
        self.curr_estab += o.curr_estab;
        self.time_wait += o.time_wait;
        self.tx_dropped += o.tx_dropped;
        self.tx_throttled += o.tx_throttled;
        self.steer_forwarded += o.steer_forwarded;
        self.steer_drops += o.steer_drops;
        self.data_mbufs_in_use += o.data_mbufs_in_use;
    }
}

/// What one idle connection costs in a whole stack: TCP's share (`tcp::layer::ConnMemory`)
/// and the IP layer's header template for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackConnMemory {
    pub tcp: crate::tcp::layer::ConnMemory,
    pub ip_template: usize,
    pub total: usize,
}

/// Memory per idle connection in a whole stack (see [`StackConnMemory`]).
pub fn memory_per_connection() -> StackConnMemory {
    let tcp = crate::tcp::layer::memory_per_connection();
    let ip_template = IpLayer::template_bytes();
    StackConnMemory {
        total: tcp.total + ip_template,
        tcp,
        ip_template,
    }
}

/// One core's TCP/IP stack over device `D`.
pub struct Stack<D: Device> {
    dev: D,
    caps: DeviceCaps,
    pools: Pools,
    ip: IpLayer,
    rx: Vec<Pkt>,
    /// What other cores handed this one (frames, ARP/ND copies, overrides).
    inbox: Vec<Msg>,
    rx_burst: usize,
    steer: Option<Steering>,
    tx: TxBatch,
    tcp: Tcp,
    announced: bool,
    /// The `now` of the latest poll: the time application calls act at.
    now: Instant,
    /// Polls since the payload pools were last counted, and the period (see `check_memory`).
    polls: u32,
    memory_every: u32,
}

/// Borrows the parts of a stack that TCP output needs: the IP layer as its sink, the pools
/// and the TX batch (a macro, so the borrows stay split).
macro_rules! out {
    ($s:expr) => {
        &mut Out {
            now: $s.now,
            sink: &mut TcpTx {
                now: $s.now,
                ip: &mut $s.ip,
                pools: &$s.pools,
                tx: &mut $s.tx,
            },
        }
    };
}

impl<D: Device> Stack<D> {
    /// A stack on `dev`, allocating from `pools`.
    pub fn new(dev: D, pools: Pools, cfg: StackConfig) -> Stack<D> {
        let caps = dev.caps().clone();
        let ip_cfg = IpConfig {
            addrs: cfg.addrs.clone(),
            gateway: cfg.gateway,
            gateway6: cfg.gateway6,
            neighbor: cfg.neighbor.clone(),
        };
        let ip = IpLayer::new(&caps, ip_cfg, cfg.tcp.max_connections);
        let mut rng = cfg.seed.map_or_else(Rng::from_entropy, Rng::new);
        let tcp = Tcp::new(
            cfg.tcp.clone(),
            ip.link_caps(),
            pools,
            &mut rng,
            Instant::ZERO,
        );
        let rx_burst = cfg.rx_burst.clamp(1, 512);
        Stack {
            dev,
            caps,
            pools,
            ip,
            rx: Vec::with_capacity(rx_burst),
            inbox: Vec::with_capacity(rx_burst),
            rx_burst,
            steer: None,
            tx: TxBatch::with_capacity(cfg.tx_batch),
            tcp,
            announced: !cfg.neighbor.gratuitous,
            now: Instant::ZERO,
            polls: 0,
            memory_every: cfg.memory_check_every.max(1),
        }
    }

    /// One iteration of the run-to-completion loop at time `now`, without an application
    /// callback: events wait in the queue for [`Stack::poll_event`]. Returns the number of
    /// frames received (0 means the loop was idle).
    pub fn poll(&mut self, now: Instant) -> usize {
        let n = self.receive(now);
        self.transmit(now);
        n
    }

    /// One iteration of the run-to-completion loop with the application inside it
    /// (ARCHITECTURE decision 2): `rx_burst → input → timers → app(event)… → write_xmit →
    /// tx_burst`. Because the application answers before the stack transmits, a response
    /// carries the ACK of its request (no separate pure ACK, and no delay either).
    pub fn poll_with<F: FnMut(&mut Self, Event)>(&mut self, now: Instant, mut app: F) -> usize {
        let n = self.receive(now);
        while let Some(ev) = self.tcp.poll_event() {
            app(self, ev);
        }
        self.transmit(now);
        n
    }

    /// The first half of a poll: flush leftovers, receive a burst, process it, run timers.
    fn receive(&mut self, now: Instant) -> usize {
        self.now = self.now.max(now);
        if !self.announced {
            self.announced = true;
            self.ip.announce(&self.pools, &mut self.tx);
        }
        self.tx.flush(now, &mut self.dev);
        self.check_memory();
        let n = self.dev.rx_burst(now, &mut self.rx, self.rx_burst);
        // Another core wrote these frames: start every miss of the burst before reading any.
        for frame in &self.rx {
            frame.prefetch_meta();
        }
        // Each segment of a received chain made the port draw a fresh mbuf.
        let mut drawn = 0;
        for frame in &self.rx {
            frame.prefetch_data();
            drawn += frame.nb_segs();
        }
        if n > 0 && self.tcp.charge_rx(drawn as u32) {
            self.tcp.evaluate_memory();
        }
        // Take the vectors out so frames can be handed to &mut self methods; put them back to
        // keep their capacity (no allocation per poll).
        let mut rx = std::mem::take(&mut self.rx);
        for frame in rx.drain(..) {
            self.steer_or_input(now, frame);
        }
        self.rx = rx;
        if let Some(st) = self.steer.as_mut() {
            let mut inbox = std::mem::take(&mut self.inbox);
            st.drain(&mut inbox, self.rx_burst);
            for m in inbox.drain(..) {
                match m {
                    // Steered again: this core's view may be newer than the sender's.
                    Msg::Steered(frame) => self.steer_or_input(now, frame),
                    Msg::Copy(frame) => self.input(now, frame),
                    Msg::Override(o) => {
                        let (flow, core) = *o;
                        if let Some(v) = self.tcp.steering_mut() {
                            v.apply(flow, core);
                        }
                    }
                }
            }
            self.inbox = inbox;
        }
        self.tcp.poll_timers(out!(self));
        n
    }

    /// Re-evaluates TCP's memory level from the payload pools (which the port also receives
    /// into) every `StackConfig::memory_check_every` polls (decision 11, `tcp::memory`), so
    /// that memory coming back is noticed on an idle stack; received bursts and `send` count
    /// them sooner, as soon as their draws spend the budget (`Memory::charge_rx`).
    fn check_memory(&mut self) {
        self.polls += 1;
        if self.polls < self.memory_every {
            return;
        }
        self.polls = 0;
        self.tcp.evaluate_memory();
    }

    /// Processes a frame here, or hands it to the core that owns it (decision 8).
    fn steer_or_input(&mut self, now: Instant, frame: Pkt) {
        let (Some(st), Some(view)) = (self.steer.as_mut(), self.tcp.steering()) else {
            return self.input(now, frame);
        };
        match st.owner(&frame, view) {
            Owner::Here => self.input(now, frame),
            Owner::Core(c) => st.forward(c, frame),
            Owner::All => {
                st.broadcast(&frame, &self.pools.data);
                self.input(now, frame);
            }
        }
    }

    /// One frame through the IP layer and, if it carries TCP, the TCP layer.
    fn input(&mut self, now: Instant, frame: Pkt) {
        if let Some(seg) = self.ip.input(now, frame, &self.pools, &mut self.tx) {
            self.tcp.input(seg, out!(self));
        }
    }

    /// Joins this stack to a steering mesh (see [`crate::ip::steer::mesh`]): one stack per
    /// queue of a multi-queue port. TCP's ownership view (`TcpConfig::steering`) becomes the
    /// mesh's, so active opens choose ports whose frames steering hands to this core.
    pub fn set_steering(&mut self, steering: Steering) {
        self.tcp.set_steering(Some(steering.view().clone()));
        self.steer = Some(steering);
    }

    /// Makes `core` the owner of `flow` on every core of the mesh (a connection moved there).
    /// Call it on the core that owns the flow now; the other cores apply it in their next poll,
    /// and frames meanwhile reach `core` through this one (`ip::steer`).
    pub fn override_flow(&mut self, flow: FourTuple, core: u16) -> Result<(), SteerError> {
        self.change_owner(flow, Some(core))
    }

    /// Ends an override of `flow` on every core (the flow goes back to its hash owner). Call
    /// it on the core the override names.
    pub fn clear_override(&mut self, flow: FourTuple) -> Result<(), SteerError> {
        self.change_owner(flow, None)
    }

    /// The core that owns `flow` by this stack's view (`None`: no steering, or the flow
    /// belongs wherever its frames arrive).
    pub fn flow_owner(&self, flow: &FourTuple) -> Option<u16> {
        self.tcp.steering().and_then(|v| v.owner_of(flow))
    }

    fn change_owner(&mut self, flow: FourTuple, core: Option<u16>) -> Result<(), SteerError> {
        let (Some(st), Some(view)) = (self.steer.as_mut(), self.tcp.steering_mut()) else {
            return Err(SteerError::NoMesh);
        };
        st.check_override(view, &flow, core)?;
        view.apply(flow, core);
        st.announce_override(flow, core);
        Ok(())
    }

    /// The second half: what connections owe (data the windows allow, coalesced ACKs), ARP
    /// retries, then `tx_burst`.
    fn transmit(&mut self, now: Instant) {
        if self.tx.stopped() {
            // Make room first: connections waiting for it are served in this poll.
            self.tx.flush(now, &mut self.dev);
        }
        self.tcp.flush_pending(out!(self));
        self.ip.poll(now, &self.pools, &mut self.tx);
        self.tx.flush(now, &mut self.dev);
    }

    /// Sends an echo request (ICMP or ICMPv6 by the family of `dst`); replies appear in
    /// `ip().echo_replies`. Returns false if there is no route or no mbuf.
    pub fn ping(
        &mut self,
        now: Instant,
        dst: impl Into<IpAddr>,
        ident: u16,
        seq_no: u16,
        data_len: u16,
    ) -> bool {
        self.ip.send_echo_request(
            now,
            Ping {
                dst: dst.into(),
                ident,
                seq_no,
                data_len,
            },
            &self.pools,
            &mut self.tx,
        )
    }

    /// Sends everything queued now (also done by every `poll`).
    pub fn flush(&mut self, now: Instant) {
        self.tx.flush(now, &mut self.dev);
    }

    /// The earliest instant at which `poll` has timer work or the device has a frame due
    /// (simulated devices), for virtual-time drivers.
    pub fn next_deadline(&self) -> Option<Instant> {
        // Output queued by application calls since the last poll is due now.
        if !self.tx.is_empty() || self.tcp.has_pending() {
            return Some(self.now);
        }
        [
            self.ip.next_deadline(),
            self.dev.next_arrival(),
            self.tcp.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// This stack's counters.
    pub fn counters(&self) -> Counters {
        Counters {
            ip: self.ip.counters.clone(),
            tcp: self.tcp.counters().clone(),
            curr_estab: self.tcp.curr_estab(),
            time_wait: self.tcp.time_wait(),
            tx_dropped: self.tx.dropped,
            tx_throttled: self.tx.throttled,
            steer_forwarded: self.steer.as_ref().map_or(0, |s| s.forwarded),
            steer_drops: self.steer.as_ref().map_or(0, |s| s.dropped),
            data_mbufs_in_use: u64::from(self.pools.data.in_use()),
        }
    }

    /// The IP layer (addresses, neighbour caches, echo replies, counters).
    pub fn ip(&mut self) -> &mut IpLayer {
        &mut self.ip
    }

    pub fn device(&self) -> &D {
        &self.dev
    }

    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    pub fn caps(&self) -> &DeviceCaps {
        &self.caps
    }

    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// The TCP layer (for inspection).
    pub fn tcp(&self) -> &Tcp {
        &self.tcp
    }

    // ---- Application API: each call acts at the time of the latest poll. ----

    /// Listens on `port` (see [`Tcp::listen`]).
    pub fn listen(
        &mut self,
        port: u16,
        backlog: u32,
        opts: Option<ConnOptions>,
    ) -> Result<ListenerId, TcpError> {
        self.tcp.listen(port, backlog, opts)
    }

    /// Stops listening on `l`; unaccepted connections are reset.
    pub fn unlisten(&mut self, l: ListenerId) {
        self.tcp.unlisten(l, out!(self));
    }

    /// The next connection accepted on `l`.
    pub fn accept(&mut self, l: ListenerId) -> Option<ConnId> {
        self.tcp.accept(l)
    }

    /// Opens a connection to `ip:port`, IPv4 or IPv6 (see [`Tcp::connect`]), from our
    /// address for it. `NoRoute` when we have no address of that family, or the peer is
    /// off-link with no gateway.
    pub fn connect(
        &mut self,
        ip: impl Into<IpAddr>,
        port: u16,
        opts: Option<ConnOptions>,
    ) -> Result<ConnId, TcpError> {
        self.connect_inner(None, None, ip.into(), port, opts)
    }

    /// Opens a connection to `ip:port` from our address `local_ip` (one of the stack's
    /// addresses, of `ip`'s family): Linux's `bind` to an address before `connect`. Each
    /// local address has its own ephemeral ports, so a client with N addresses can open N
    /// times as many connections to one target. `AddrNotAvailable` when `local_ip` is not
    /// ours or not of `ip`'s family; `NoRoute` as for [`Stack::connect`].
    pub fn connect_from_addr(
        &mut self,
        local_ip: impl Into<IpAddr>,
        ip: impl Into<IpAddr>,
        port: u16,
        opts: Option<ConnOptions>,
    ) -> Result<ConnId, TcpError> {
        self.connect_inner(Some(local_ip.into()), None, ip.into(), port, opts)
    }

    /// Opens a connection to `ip:port` from local port `local_port` (see
    /// [`Tcp::connect_from`]; for simultaneous opens).
    pub fn connect_from(
        &mut self,
        local_port: u16,
        ip: impl Into<IpAddr>,
        port: u16,
        opts: Option<ConnOptions>,
    ) -> Result<ConnId, TcpError> {
        self.connect_inner(None, Some(local_port), ip.into(), port, opts)
    }

    fn connect_inner(
        &mut self,
        local_ip: Option<IpAddr>,
        local_port: Option<u16>,
        ip: IpAddr,
        port: u16,
        opts: Option<ConnOptions>,
    ) -> Result<ConnId, TcpError> {
        if let Some(a) = local_ip
            && (!self.ip.is_local(a) || a.is_ipv4() != ip.is_ipv4())
        {
            return Err(TcpError::AddrNotAvailable);
        }
        let routed = self.ip.connect_source(ip).ok_or(TcpError::NoRoute)?;
        let src = local_ip.unwrap_or(routed);
        self.tcp
            .connect_from(src, local_port, (ip, port), opts, out!(self))
    }

    /// Sends a copy of `data`; returns the bytes taken.
    pub fn send(&mut self, c: ConnId, data: &[u8]) -> Result<usize, TcpError> {
        self.tcp.send(c, data, out!(self))
    }

    /// Sends `pkt`'s bytes without copying them.
    pub fn send_pkt(&mut self, c: ConnId, pkt: Pkt) -> Result<(), (TcpError, Pkt)> {
        self.tcp.send_pkt(c, pkt, out!(self))
    }

    /// Copies received bytes out; `Ok(0)` is end of file.
    pub fn recv(&mut self, c: ConnId, buf: &mut [u8]) -> Result<usize, TcpError> {
        self.tcp.recv(c, buf)
    }

    /// Takes the next received mbuf chain; `Ok(None)` is end of file.
    pub fn recv_pkt(&mut self, c: ConnId) -> Result<Option<Pkt>, TcpError> {
        self.tcp.recv_pkt(c)
    }

    /// Borrows the readable bytes in place (follow with [`Stack::consume`]).
    pub fn peek(&self, c: ConnId) -> Result<impl Iterator<Item = &[u8]>, TcpError> {
        self.tcp.peek(c)
    }

    /// Drops `n` readable bytes after a [`Stack::peek`].
    pub fn consume(&mut self, c: ConnId, n: usize) -> Result<usize, TcpError> {
        self.tcp.consume(c, n)
    }

    /// Shuts down the sending side (our FIN follows the queued data).
    pub fn shutdown(&mut self, c: ConnId) -> Result<(), TcpError> {
        self.tcp.shutdown(c, out!(self))
    }

    /// Releases the handle: graceful close, or a reset if received data is unread.
    pub fn close(&mut self, c: ConnId) {
        self.tcp.close(c, out!(self));
    }

    /// Resets the connection and releases the handle.
    pub fn abort(&mut self, c: ConnId) {
        self.tcp.abort(c, out!(self));
    }

    /// Changes a connection's options.
    pub fn set_options(&mut self, c: ConnId, opts: ConnOptions) -> Result<(), TcpError> {
        self.tcp.set_options(c, opts, out!(self))
    }

    /// The next application event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.tcp.poll_event()
    }

    /// A snapshot of a connection's state.
    pub fn info(&self, c: ConnId) -> Option<ConnInfo> {
        self.tcp.info(c)
    }
}
