//! The engine driver: one [`Stack`] per client core, each on its own queue of the port and its
//! own pinned thread, with the workload run *inside* the stack's poll (responses go out in the
//! same burst as the ACKs of what they answer).
//!
//! Set-ups:
//! - **a port** (`--port --ip --target`): the port is opened with one queue per core; core `i`
//!   takes queue `i`. Over net_ring and memif the sender chooses the queue and replies come
//!   back to the core that sent the request. Elsewhere (net_tap, af_packet, RSS NICs) the
//!   cores join a steering mesh over the port's spread (`Port::spread`, printed at start):
//!   active opens choose source ports the flow's owner function gives to their core, and
//!   frames that arrive on another core's queue are handed over (`engine::ip::steer`).
//! - **embedded** (no `--port`): a net_ring pair in this process, the client at 10.0.0.1/24
//!   and fd00::1/64 and `N` engine servers ([`crate::servers::Server`]) at 10.0.0.2/24 and
//!   fd00::2/64 (target 10.0.0.2, or `--target [fd00::2]:PORT` over IPv6), server core
//!   `i` on queue `i` of the other end. When the machine has a CPU for each of the `2N` stacks,
//!   every stack has its own pinned thread (client cores first, then server cores); otherwise
//!   each of `N` threads polls client stack `i` and server stack `i` in turn (with `--cores 1`
//!   on one CPU, one thread runs both).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use engine::buf::{PoolSizes, Pools};
use engine::dev::dpdk::{DpdkQueue, Port, PortConfig};
use engine::dev::spec::PortSpec;
use engine::eal::{self, Eal};
use engine::ip::steer::Steering;
use engine::tcp::{ConnId, EcnMode, Event, TcpError};
use engine::wire::MacAddr;
use engine::{Counters, Stack, StackConfig};

use super::args::Layout;
use super::net::{ErrKind, IoErr, Net, NetEvent};
use super::run::{self, Outcome, Pacer, Plan, ServerSide};
use super::sources;
use super::stats::{Control, Stats};
use super::workload::{AnyWorkload, Workload};
use crate::clock::Clock;
use crate::conn_table::ConnTable;
use crate::cpus::{self, Place};
use crate::servers::{Server, ServerStats};
use crate::setup::{self, IpCidr, SetupError};

/// The embedded client's address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The embedded server's address.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The embedded client's IPv6 address.
pub const CLIENT_IP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
/// The embedded server's IPv6 address.
pub const SERVER_IP6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

/// The embedded client's addresses (10.0.0.1/24, fd00::1/64).
pub fn client_addrs() -> Vec<IpCidr> {
    vec![IpCidr::new(CLIENT_IP, 24), IpCidr::new(CLIENT_IP6, 64)]
}

/// The embedded server's addresses (10.0.0.2/24, fd00::2/64).
pub fn server_addrs() -> Vec<IpCidr> {
    vec![IpCidr::new(SERVER_IP, 24), IpCidr::new(SERVER_IP6, 64)]
}

const CLIENT_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
const SERVER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);

/// How long a client keeps polling after closing its connections (FINs and RSTs go out, the
/// server sees them), and the most it waits for closes still queued.
const LINGER: Duration = Duration::from_millis(100);
const LINGER_MAX: Duration = Duration::from_secs(2);

/// Connection handle → workload token, indexed by the handle's slab index: no hashing, and
/// no allocation per request (filled at connect, emptied at close).
pub type ConnMap = ConnTable<u32>;

/// The engine as a [`Net`]: a stack, the token map, the target, and the source addresses
/// (connection `t` connects from `sources[t mod len]`; empty: the stack's address for the
/// target).
pub struct EngineNet<'a> {
    pub st: &'a mut Stack<DpdkQueue>,
    pub map: &'a mut ConnMap,
    pub target: SocketAddr,
    pub sources: &'a [IpAddr],
}

/// The report's kind of an engine error.
pub fn kind(e: TcpError) -> ErrKind {
    match e {
        TcpError::Refused => ErrKind::Refused,
        TcpError::Reset => ErrKind::Reset,
        TcpError::TimedOut => ErrKind::TimedOut,
        TcpError::NoPorts => ErrKind::NoPorts,
        _ => ErrKind::Other,
    }
}

/// The workload's view of an engine event (`None` for connections it no longer holds).
#[inline]
pub fn translate(map: &ConnMap, ev: Event) -> Option<NetEvent> {
    match ev {
        Event::Connected(c) => map.get(c).map(|&t| NetEvent::Connected(t)),
        Event::Readable(c) => map.get(c).map(|&t| NetEvent::Readable(t)),
        Event::Writable(c) => map.get(c).map(|&t| NetEvent::Writable(t)),
        Event::Closed(c, e) => map.get(c).map(|&t| NetEvent::Closed(t, e.map(kind))),
        Event::Acceptable(_) => None,
    }
}

impl Net for EngineNet<'_> {
    type Conn = ConnId;

    fn connect(&mut self, token: u32) -> Result<ConnId, ErrKind> {
        let (ip, port) = (self.target.ip(), self.target.port());
        let c = match self.sources.len() {
            0 => self.st.connect(ip, port, None),
            n => self
                .st
                .connect_from_addr(self.sources[token as usize % n], ip, port, None),
        }
        .map_err(kind)?;
        self.map.insert(c, token);
        Ok(c)
    }

    #[inline]
    fn send(&mut self, c: ConnId, data: &[u8]) -> Result<usize, IoErr> {
        match self.st.send(c, data) {
            Ok(n) => Ok(n),
            Err(TcpError::WouldBlock) => Err(IoErr::WouldBlock),
            Err(e) => Err(IoErr::Failed(kind(e))),
        }
    }

    #[inline]
    fn recv(&mut self, c: ConnId, buf: &mut [u8]) -> Result<usize, IoErr> {
        match self.st.recv(c, buf) {
            Ok(n) => Ok(n),
            Err(TcpError::WouldBlock) => Err(IoErr::WouldBlock),
            Err(e) => Err(IoErr::Failed(kind(e))),
        }
    }

    #[inline]
    fn discard(&mut self, c: ConnId) -> Result<(usize, bool), ErrKind> {
        let mut n = 0;
        loop {
            match self.st.recv_pkt(c) {
                Ok(Some(p)) => n += p.len(),
                Ok(None) => return Ok((n, true)),
                Err(TcpError::WouldBlock) => return Ok((n, false)),
                Err(e) => return Err(kind(e)),
            }
        }
    }

    fn shutdown(&mut self, c: ConnId) {
        let _ = self.st.shutdown(c);
    }

    fn close(&mut self, c: ConnId) {
        self.map.remove(c);
        self.st.close(c);
    }

    fn abort(&mut self, c: ConnId) {
        self.map.remove(c);
        self.st.abort(c);
    }
}

/// One client core: its stack, its workload, its phase logic.
struct ClientCore<'a> {
    stack: Stack<DpdkQueue>,
    map: ConnMap,
    wl: AnyWorkload<ConnId>,
    pacer: Pacer,
    target: SocketAddr,
    sources: &'a [IpAddr],
    clock: Clock,
    running: bool,
}

impl ClientCore<'_> {
    fn start(&mut self) {
        let now = self.clock.now();
        self.stack.poll(now);
        let mut net = EngineNet {
            st: &mut self.stack,
            map: &mut self.map,
            target: self.target,
            sources: self.sources,
        };
        self.wl.start(&mut net, now.as_nanos());
    }

    /// One loop iteration; false once the workload has finished. Never inlined, so a profile
    /// separates the client's work from the server's.
    #[inline(never)]
    fn step(&mut self, ctl: &Control) -> bool {
        let now = self.clock.now();
        let ns = now.as_nanos();
        let (map, wl, target, sources) = (&mut self.map, &mut self.wl, self.target, self.sources);
        let got = self.stack.poll_with(now, |st, ev| {
            if let Some(e) = translate(map, ev) {
                let mut net = EngineNet {
                    st,
                    map,
                    target,
                    sources,
                };
                wl.on_event(&mut net, ns, e);
            }
        });
        let t = &mut self.wl.stats().total;
        t.polls += 1;
        t.idle_polls += u64::from(got == 0);
        if !self.running {
            return false;
        }
        let mut net = EngineNet {
            st: &mut self.stack,
            map: &mut self.map,
            target,
            sources: self.sources,
        };
        self.wl.tick(&mut net, ns);
        self.running = self.pacer.step(ctl, &mut self.wl, &mut net, ns);
        self.running
    }

    fn finish(mut self) -> (Stats, Counters) {
        let stats = std::mem::take(self.wl.stats());
        (stats, self.stack.counters())
    }
}

/// One embedded server core.
struct ServerCore {
    stack: Stack<DpdkQueue>,
    server: Server,
    clock: Clock,
}

impl ServerCore {
    /// One server loop iteration (never inlined: see ClientCore::step).
    #[inline(never)]
    fn step(&mut self) {
        let s = &mut self.server;
        self.stack
            .poll_with(self.clock.now(), |st, ev| s.on_event(st, ev));
    }
}

/// What a client thread needs to build its core.
struct ClientParts {
    queue: DpdkQueue,
    pools: Pools,
    cfg: StackConfig,
    /// This core's end of the steering mesh, where the port does not deliver every frame to
    /// its owner's queue by itself.
    steer: Option<Steering>,
}

impl ClientParts {
    fn stack(self) -> Stack<DpdkQueue> {
        let mut stack = Stack::new(self.queue, self.pools, self.cfg);
        if let Some(st) = self.steer {
            stack.set_steering(st);
        }
        stack
    }
}

/// Runs `plan` on the engine.
pub fn run(plan: &Plan) -> Result<Outcome, SetupError> {
    let c = &plan.common;
    let embedded = c.engine.port.is_none();
    let (mut port_args, target) = if embedded {
        let target = c
            .target
            .unwrap_or_else(|| SocketAddr::new(IpAddr::V4(SERVER_IP), c.server.default_port()));
        if !server_addrs().iter().any(|s| s.addr == target.ip()) {
            return Err(SetupError::Other(format!(
                "--target {target} needs --port and --ip (without --port, the target is the \
                 embedded server, {SERVER_IP} or [{SERVER_IP6}])"
            )));
        }
        (c.engine.with(PortSpec::Ring, client_addrs()), target)
    } else {
        let pa = c.engine.port_args().ok_or_else(|| {
            SetupError::Other(
                "--port needs --ip ADDR/PREFIX, the engine's address (or leave out --port for \
                 the embedded set-up, or use --stack kernel)"
                    .into(),
            )
        })?;
        let target = c.target.ok_or_else(|| {
            SetupError::Other("--port needs --target IP:PORT (the server to load)".into())
        })?;
        pa.check_route(
            &format!("--target {target}"),
            target.ip(),
            "give --gateway, or an --ip on the target's link",
        )?;
        (pa, target)
    };
    port_args.gateways()?;
    let n = plan.cores;
    let range = sources::port_range(c.local_ports);
    let n_sources = match c.source_ips {
        Some(k) => k,
        None if embedded => sources::needed(plan.conns_of(0), &range, n),
        None => 1,
    };
    let (addrs, source_list) = sources::with_sources(&port_args.ip, target.ip(), n_sources)?;
    port_args.ip = addrs;
    // The embedded client stack i and server stack i allocate from the same pools. Each frees
    // the other's frames into its own mempool cache and allocates its next frames from there,
    // so mbufs are reused while still in this CPU's cache. With a pool per stack, every mbuf
    // freed by the peer went back through the pool's ring (first in, first out, thousands of
    // mbufs round), and every allocation missed the cache.
    let sizes = if embedded {
        let d = PoolSizes::default();
        // Header mbufs carry the small frames: enough for every queue on the way, full, in
        // both directions (net_ring rings of 4096, TX batches, neighbour queues).
        PoolSizes {
            data: 2 * d.data + 1,
            hdr: 2 * d.hdr + 1 + 24 * 1024,
            indirect: 2 * d.indirect + 1,
        }
    } else {
        PoolSizes::default()
    };
    // Pools grow with the connections (`sources::pool_sizes`): the EAL gets the memory they
    // need.
    let biggest = sources::pool_sizes(&sizes, plan.conns_of(0), plan.req_size, embedded);
    port_args.memory_mb = port_args.memory_mb.max(sources::eal_memory_mb(&biggest, n));
    // EAL pins the main thread, and threads inherit it (note §4): unless --eal-args names the
    // lcores, let it run anywhere; every worker enters its own place (crate::cpus).
    let mut eal_cfg = setup::eal_config(&port_args, None);
    let chooser = cpus::prepare(&mut eal_cfg);
    let eal = eal::init(&eal_cfg)?;
    let ncpu = cpus::available(eal, chooser);
    let mut cfgp = PortConfig::new(Pools::create("lgr", &PoolSizes::default())?.data);
    cfgp.rx_queues = n as u16;
    cfgp.tx_queues = n as u16;
    cfgp.mtu = port_args.mtu;
    cfgp.tso = port_args.tso.into();
    cfgp.checksum = port_args.csum_offload.into();
    let (client_port, server_port) = if embedded {
        let (mut a, mut b) = Port::open_ring_pair(eal, &cfgp)?;
        a.caps.mac = CLIENT_MAC;
        b.caps.mac = SERVER_MAC;
        (a, Some(b))
    } else {
        let (p, _) = setup::open_port(eal, &port_args, n as u16, "lgc")?;
        if n > 1 {
            eprintln!("loadgen: steering: {}", p.steering);
        }
        (p, None)
    };
    // Small bursts for request-response loads (latency, and two cores working in parallel),
    // large ones for bulk streams (see StackConfig::rx_burst).
    let burst = port_args.rx_burst.unwrap_or(if plan.mode == "stream" {
        32
    } else {
        engine::stack::RX_BURST
    });
    // Over net_ring and memif the sender picks the queue: replies already reach the core
    // that sent the request, and any source port will do. Elsewhere several cores join a
    // mesh that hands frames to their owner (ip::steer) and ports are chosen by its owner_of.
    let mut mesh = crate::cores::mesh_ends(&client_port, n);
    let client_parts: Vec<ClientParts> = (0..n)
        .map(|i| {
            let mut cfg = port_args.stack_config()?;
            cfg.seed = port_args.seed.map(|s| s.wrapping_add(i as u64));
            cfg.rx_burst = burst;
            cfg.tcp.ephemeral_ports = range.clone();
            cfg.tcp.max_connections =
                sources::max_connections(plan.conns_of(i), cfg.tcp.max_connections);
            cfg.tcp.tw_reuse_after = Some(Duration::from_millis(c.tw_reuse_ms));
            if c.ecn {
                cfg.tcp.default_options.ecn = EcnMode::On;
            }
            let sizes = sources::pool_sizes(&sizes, plan.conns_of(i), plan.req_size, embedded);
            Ok(ClientParts {
                queue: client_port.queue(i as u16),
                pools: Pools::create(&format!("lgp{i}"), &sizes)?,
                cfg,
                steer: mesh[i].take(),
            })
        })
        .collect::<Result<_, SetupError>>()?;
    let server_parts: Vec<ClientParts> = match &server_port {
        Some(sp) => (0..n)
            .map(|i| {
                let mut cfg = crate::servers::server_config(server_addrs());
                cfg.seed = port_args.seed.map(|s| s.wrapping_add(1000 + i as u64));
                cfg.tcp.max_connections =
                    sources::max_connections(plan.conns_of(i), cfg.tcp.max_connections);
                // Every client address is a neighbour of the server.
                cfg.neighbor.capacity = cfg.neighbor.capacity.max(4 * n_sources);
                if let Some(cc) = port_args.cc {
                    cfg.tcp.congestion = cc;
                }
                cfg.rx_burst = burst;
                ClientParts {
                    queue: sp.queue(i as u16),
                    pools: client_parts[i].pools,
                    cfg,
                    steer: None,
                }
            })
            .collect(),
        None => Vec::new(),
    };
    let split = embedded
        && match c.layout {
            Layout::Split => true,
            Layout::Shared => false,
            Layout::Auto => 2 * n <= ncpu,
        };
    let placement = cpus::choose(
        eal,
        chooser,
        if split { 2 * n } else { n },
        c.first_cpu,
        "loadgen",
    )?;
    placement.warn("loadgen");
    let cpu = |k: usize| &placement.places[k];
    let setup = if embedded {
        format!(
            "embedded net_ring pair: client {} on {n} core(s), {:?} server {} on {n} \
             core(s), {}; {}",
            setup::cidrs(&client_addrs()),
            c.server,
            setup::cidrs(&server_addrs()),
            if split {
                "each stack on its own CPU"
            } else {
                "client and server stack i share thread i"
            },
            placement.describe()
        )
    } else {
        format!(
            "{}, ip {}, {n} core(s) on {}",
            setup::describe(&client_port),
            setup::cidrs(&port_args.ip),
            placement.describe()
        )
    };
    let setup = match source_list.len() {
        0 => setup,
        k => format!(
            "{setup}; connecting from {k} source addresses ({} to {}), ports {}-{} each",
            source_list[0],
            source_list[k - 1],
            range.start(),
            range.end()
        ),
    };
    if !c.quiet {
        eprintln!("loadgen: {setup}");
    }
    let ctl = Control::new(n);
    let servers_ready = AtomicUsize::new(0);
    let servers_stop = AtomicBool::new(false);
    let clock = Clock::new(eal);
    let host = target.to_string();
    let ctx = Ctx {
        eal,
        plan,
        ctl: &ctl,
        clock,
        target,
        host: &host,
        ready: &servers_ready,
        stop: &servers_stop,
        servers: if split { n } else { 0 },
        sources: &source_list,
    };
    let (clients, servers, measured) = std::thread::scope(|s| {
        let mut server_handles = Vec::new();
        let mut client_handles = Vec::new();
        let mut sparts = server_parts.into_iter();
        if split {
            for (i, sp) in sparts.by_ref().enumerate() {
                let ctx = &ctx;
                let at = cpu(n + i);
                server_handles.push(s.spawn(move || ctx.server_thread(sp, at)));
            }
        }
        for (i, cp) in client_parts.into_iter().enumerate() {
            let ctx = &ctx;
            let sp = sparts.next();
            let at = cpu(i);
            client_handles.push(s.spawn(move || ctx.client_thread(i, cp, sp, at)));
        }
        let measured = run::coordinate(&ctl, &plan.common);
        let clients: Vec<_> = client_handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect();
        servers_stop.store(true, Ordering::Release);
        let servers: Vec<_> = server_handles
            .into_iter()
            .map(|h| h.join().expect("server thread"))
            .collect();
        (clients, servers, measured)
    });
    let mut stats = Stats::default();
    let mut client_counters = Counters::default();
    let mut server = embedded.then(|| ServerSide {
        stats: ServerStats::default(),
        counters: Some(Counters::default()),
    });
    for (st, cc, sv) in clients {
        stats.merge(&st);
        client_counters.add(&cc);
        if let (Some(srv), Some(sv)) = (server.as_mut(), sv) {
            add_server(srv, sv);
        }
    }
    for sv in servers {
        if let Some(srv) = server.as_mut() {
            add_server(srv, sv);
        }
    }
    Ok(Outcome {
        stats,
        measured,
        client_counters: Some(client_counters),
        server,
        setup,
        target: target.to_string(),
        embedded,
    })
}

fn add_server(srv: &mut ServerSide, (st, cc): (ServerStats, Counters)) {
    srv.stats.add(&st);
    if let Some(c) = srv.counters.as_mut() {
        c.add(&cc);
    }
}

/// What the threads share.
struct Ctx<'a> {
    eal: Eal,
    plan: &'a Plan,
    ctl: &'a Control,
    clock: Clock,
    target: SocketAddr,
    host: &'a str,
    ready: &'a AtomicUsize,
    stop: &'a AtomicBool,
    /// Server threads of their own to wait for before connecting.
    servers: usize,
    /// The addresses connections are made from (empty: the stack's own choice).
    sources: &'a [IpAddr],
}

impl Ctx<'_> {
    fn enter(&self, place: &Place) {
        place.enter("loadgen");
        if !eal::register_thread(self.eal) {
            eprintln!("loadgen: warning: DPDK has no lcore left for a thread (no mempool cache)");
        }
    }

    fn server_core(&self, p: ClientParts) -> ServerCore {
        let mut stack = p.stack();
        let port = self.target.port();
        let server = Server::new(&mut stack, self.plan.common.server, port)
            .unwrap_or_else(|e| panic!("embedded server cannot listen on {port}: {e}"));
        ServerCore {
            stack,
            server,
            clock: self.clock,
        }
    }

    #[inline(never)]
    fn server_thread(&self, p: ClientParts, cpu: &Place) -> (ServerStats, Counters) {
        self.enter(cpu);
        let mut sc = self.server_core(p);
        self.ready.fetch_add(1, Ordering::Release);
        while !self.stop.load(Ordering::Acquire) {
            for _ in 0..64 {
                sc.step();
            }
        }
        (sc.server.stats, sc.stack.counters())
    }

    /// A client core, and with `server`, the server core that shares its thread. Never
    /// inlined, so a profile attributes the steady state to it.
    #[inline(never)]
    fn client_thread(
        &self,
        i: usize,
        p: ClientParts,
        server: Option<ClientParts>,
        cpu: &Place,
    ) -> (Stats, Counters, Option<(ServerStats, Counters)>) {
        let _guard = run::DoneGuard(self.ctl, i);
        self.enter(cpu);
        let mut sc = server.map(|p| self.server_core(p));
        while self.ready.load(Ordering::Acquire) < self.servers {
            std::hint::spin_loop();
        }
        let map = ConnMap::with_capacity(self.plan.conns_of(i) * 2 + 16);
        let mut cc = ClientCore {
            stack: p.stack(),
            map,
            wl: self.plan.workload(i, self.host),
            pacer: Pacer::new(i, self.plan.common.drain),
            target: self.target,
            sources: self.sources,
            clock: self.clock,
            running: true,
        };
        cc.start();
        self.ctl.worker_started();
        loop {
            let alive = cc.step(self.ctl);
            if let Some(s) = sc.as_mut() {
                s.step();
            }
            if !alive {
                break;
            }
        }
        // Linger until the closes have gone out (FINs of many connections may wait for room
        // in the TX queue), at least LINGER, at most LINGER_MAX.
        let start = self.clock.now();
        let (until, cap) = (start + LINGER, start + LINGER_MAX);
        loop {
            let now = self.clock.now();
            if now >= cap || (now >= until && !cc.stack.tcp().has_pending()) {
                break;
            }
            cc.step(self.ctl);
            if let Some(s) = sc.as_mut() {
                s.step();
            }
        }
        cc.pacer.done(self.ctl);
        // Server i serves only client i: when the client is done, so is its server.
        let srv = sc.map(|s| (s.server.stats, s.stack.counters()));
        let (st, c) = cc.finish();
        (st, c, srv)
    }
}
