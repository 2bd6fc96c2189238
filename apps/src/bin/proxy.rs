//! `proxy`: an L4 TCP proxy on the engine (see `apps::proxy`). Listens on `--listen` of the
//! client port, connects every accepted client to `--upstream`, and forwards the received
//! mbufs both ways without copying payload; half-close passes through, an error on one side
//! resets the other. Prints `proxy: ready` when listening and, on Ctrl-C or SIGTERM, the
//! counters of its stack(s) and its own statistics as `Name value` lines.
//!
//! ```text
//! # one port: clients and the upstream server on the same link
//! proxy --port tap:ptap0 --ip 10.0.0.2/24 --listen 8080 --upstream 10.0.0.1:80
//! # clients over IPv4 or IPv6 (one listener, both families), an IPv6 upstream
//! proxy --port tap:ptap0 --ip 10.0.0.2/24 --ip fd00::2/64 --listen 8080 --upstream '[fd00::1]:80'
//! # two ports: clients on one link, the upstream server on another
//! proxy --port tap:ptapa --ip 10.10.0.2/24 --listen 8080 --upstream 10.20.0.1:80 \
//!       --upstream-port tap:ptapb --upstream-ip 10.20.0.2/24
//! ```
//!
//! With two ports, each has its own stack (and pools); one thread polls both. Counters are then
//! printed once per side, prefixed `Client` and `Upstream` (`ClientTcpInSegs 123`), with the
//! data pool's mbufs in use when ready (`...PoolDataBase`), at most (`...PoolDataPeak`) and at
//! exit (`...PoolDataInUse`).
//!
//! `--cores N` runs N independent proxies, core `i` on queue `i` of each port (a stack per port
//! per core, joined to the other cores' by the steering mesh: `apps::cores`), each on its own
//! CPU (`apps::cpus`). Counters are summed over the cores (pool figures too: the peak is then
//! the sum of each core's peak); `CoreIProxyAccepted` says how many clients core I accepted.
//!
//! Memory: the payload pools share `--memory-mb` (less [`apps::proxy::RESERVED_MEMORY_MB`]),
//! one pool set per stack, unless `--mbufs` sizes them; `--max-conns` defaults to the pipes
//! those pools hold with every buffer full ([`ProxyConfig::pipes_for_pool`]), so it follows the
//! memory and `--buf`.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use apps::cores::{self, Core};
use apps::proxy::{Proxy, ProxyConfig, ProxyStats, Stacks};
use apps::setup::{self, Gateways, IpCidr, PortArgs, SetupError};
use apps::{cpus, signal};
use engine::buf::{Mempool, PoolSizes};
use engine::dev::dpdk::{DpdkQueue, Port, PortStats};
use engine::dev::spec::PortSpec;
use engine::eal::Eal;
use engine::time::Instant;
use engine::{Counters, Stack};

/// An L4 TCP proxy on DPDK ports: forwards received mbufs between each client and the
/// upstream server without copying them.
#[derive(clap::Parser, Debug)]
#[command(name = "proxy", version)]
struct Cli {
    /// The client-side port and address (and the upstream side's, without --upstream-port).
    #[command(flatten)]
    port: PortArgs,
    /// TCP port to accept clients on, 1-65535.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    listen: u16,
    /// The upstream server, IPv4:PORT or [IPv6]:PORT (10.0.0.1:80, [fd00::1]:80); the engine
    /// needs an address of its family (--ip, or --upstream-ip with --upstream-port).
    #[arg(long)]
    upstream: SocketAddr,
    /// A second port for the upstream side (same syntax as --port); needs --upstream-ip.
    #[arg(long, value_parser = parse_spec)]
    upstream_port: Option<PortSpec>,
    /// The engine's address on the upstream port, IPv4 or IPv6 (10.20.0.2/24, fd20::2/64);
    /// repeat it for both families, as --ip.
    #[arg(long, value_parser = setup::parse_cidr, action = clap::ArgAction::Append)]
    upstream_ip: Vec<IpCidr>,
    /// Gateway for off-link upstream servers on the upstream port, IPv4 or IPv6; give it
    /// twice for one of each family.
    #[arg(long, action = clap::ArgAction::Append)]
    upstream_gateway: Vec<IpAddr>,
    /// Most client connections proxied at once (over all cores); further ones are reset.
    /// Default: as many as the payload pools hold with every buffer full (more risks running a
    /// pool dry under bulk load, which stalls every connection of that port).
    #[arg(long)]
    max_conns: Option<usize>,
    /// Proxies, each on its own queue of the port(s) and its own CPU.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=128))]
    cores: u16,
    /// Send and receive buffer of every connection, bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    buf: u32,
    /// Payload mbufs per stack (default: what --memory-mb holds, shared by the stacks).
    /// Received data stays in them until the other side's peer acknowledges it (zero copy), so
    /// this bounds the connections (see --max-conns).
    #[arg(long)]
    mbufs: Option<u32>,
    /// Print every counter at exit, zeros included.
    #[arg(long)]
    all_counters: bool,
    /// At exit, describe up to this many pipes still open (flows and TCP state), to diagnose
    /// a stall.
    #[arg(long, default_value_t = 0)]
    show_open: usize,
}

fn parse_spec(s: &str) -> Result<PortSpec, String> {
    s.parse()
        .map_err(|e: engine::dev::spec::SpecError| e.to_string())
}

/// The mbufs of a payload pool in use when ready, at most (sampled), and now: a proxy that
/// forwards without copying never draws payload mbufs from the *sending* stack's pool.
#[derive(Clone, Copy, Debug)]
struct PoolWatch {
    pool: Mempool,
    /// In use when the proxy became ready (the port's receive ring).
    base: u32,
    peak: u32,
}

impl PoolWatch {
    fn new(pool: Mempool) -> PoolWatch {
        let n = pool.in_use();
        PoolWatch {
            pool,
            base: n,
            peak: n,
        }
    }

    /// Takes a sample.
    fn sample(&mut self) {
        self.peak = self.peak.max(self.pool.in_use());
    }

    /// `(name suffix, value)` lines: base, peak, and in use now.
    fn entries(&self) -> [(&'static str, u64); 3] {
        [
            ("PoolDataBase", u64::from(self.base)),
            ("PoolDataPeak", u64::from(self.peak)),
            ("PoolDataInUse", u64::from(self.pool.in_use())),
        ]
    }
}

/// One side's stack on one core.
struct Side {
    stack: Stack<DpdkQueue>,
    watch: PoolWatch,
}

/// What a side reports at exit: its stack's counters and its pool's figures.
struct SideReport {
    counters: Counters,
    watch: PoolWatch,
}

/// One core: its proxy, its client-side stack and (with --upstream-port) its upstream-side
/// stack.
struct ProxyCore {
    proxy: Proxy,
    client: Side,
    upstream: Option<Side>,
    iter: u32,
    show_open: usize,
}

/// What a core reports at exit.
struct CoreReport {
    stats: ProxyStats,
    client: SideReport,
    upstream: Option<SideReport>,
    open: Vec<String>,
}

impl Core for ProxyCore {
    type Report = CoreReport;

    fn poll(&mut self, now: Instant) {
        match self.upstream.as_mut() {
            Some(u) => self
                .proxy
                .poll_two(now, &mut self.client.stack, &mut u.stack),
            None => self.proxy.poll_one(now, &mut self.client.stack),
        };
        self.iter = self.iter.wrapping_add(1);
        if self.iter.is_multiple_of(16) {
            self.client.watch.sample();
            if let Some(u) = self.upstream.as_mut() {
                u.watch.sample();
            }
        }
    }

    fn report(mut self) -> CoreReport {
        let open = if self.show_open > 0 {
            let mut st = Stacks {
                client: &mut self.client.stack,
                upstream: self.upstream.as_mut().map(|u| &mut u.stack),
            };
            self.proxy.describe_open(&mut st, self.show_open)
        } else {
            Vec::new()
        };
        let side = |s: &Side| SideReport {
            counters: s.stack.counters(),
            watch: s.watch,
        };
        CoreReport {
            stats: self.proxy.stats,
            client: side(&self.client),
            upstream: self.upstream.as_ref().map(side),
            open,
        }
    }
}

/// Opens `args.port` with `cores` queues, a pool set of `mbufs` payload mbufs per queue, and
/// its stacks (joined by a steering mesh when there are several).
fn open_side(
    eal: Eal,
    args: &PortArgs,
    cores: u16,
    mbufs: u32,
    prefix: &str,
) -> Result<(Port, Vec<Stack<DpdkQueue>>), SetupError> {
    let sizes = PoolSizes {
        data: mbufs,
        hdr: (mbufs / 4).max(1024),
        indirect: mbufs,
    };
    let scfg = args.stack_config()?;
    let (port, pools) = setup::open_port_sized(eal, args, cores, prefix, &sizes)?;
    cores::check_queues(&port, usize::from(cores), "--cores")?;
    let stacks = cores::stacks(&port, pools, &scfg);
    Ok((port, stacks))
}

/// The payload mbufs per stack: `--mbufs`, or what `--memory-mb` holds for `stacks` stacks.
fn pool_mbufs(cli: &Cli, stacks: usize) -> Result<u32, SetupError> {
    let (mbufs, from) = match cli.mbufs {
        Some(m) => (m, "--mbufs"),
        None => (
            apps::proxy::mbufs_for_memory(cli.port.memory_mb, stacks),
            "--memory-mb",
        ),
    };
    if mbufs < 4096 {
        let fix = match cli.mbufs {
            Some(_) => "give at least 4096".to_string(),
            None => format!(
                "give more --memory-mb (at least {} for {stacks} stacks)",
                apps::proxy::RESERVED_MEMORY_MB
                    + stacks * 4096 * apps::proxy::MEMORY_PER_MBUF / (1 << 20)
                    + 1
            ),
        };
        return Err(SetupError::Other(format!(
            "{from} leaves {mbufs} mbufs per stack, too few: {fix} (the receive ring alone keeps \
             {})",
            apps::proxy::RX_RING_MBUFS
        )));
    }
    Ok(mbufs)
}

fn run(cli: &Cli) -> Result<(), SetupError> {
    let up_args = cli.upstream_port.as_ref().map(|spec| PortArgs {
        port: spec.clone(),
        ip: cli.upstream_ip.clone(),
        gateway: cli.upstream_gateway.clone(),
        ..cli.port.clone()
    });
    cli.port.gateways()?;
    let what = format!("the upstream {}", cli.upstream);
    match &up_args {
        Some(up) => setup::check_route(
            &what,
            cli.upstream.ip(),
            &up.ip,
            Gateways::new(&up.gateway, &up.ip, "--upstream-gateway")?,
            "--upstream-ip",
            "give --upstream-gateway, or an --upstream-ip on the upstream's link",
        )?,
        None => cli.port.check_route(
            &what,
            cli.upstream.ip(),
            "give --gateway, or put the upstream on its own port with --upstream-port and \
             --upstream-ip",
        )?,
    }
    let n = usize::from(cli.cores);
    let sides = if up_args.is_some() { 2 } else { 1 };
    let mbufs = pool_mbufs(cli, n * sides)?;

    let mut eal_cfg = setup::eal_config(&cli.port, None);
    if let Some(PortSpec::Pci { bdf }) = &cli.upstream_port {
        eal_cfg.no_pci = false;
        eal_cfg.allow_pci.push(bdf.clone());
    }
    let chooser = cpus::prepare(&mut eal_cfg);
    let eal = engine::eal::init(&eal_cfg)?;
    cpus::check(eal, chooser, n)?;
    let (client_port, client_stacks) = open_side(eal, &cli.port, cli.cores, mbufs, "pxc")?;
    let (upstream_port, upstream_stacks) = match &up_args {
        Some(a) => {
            let (p, s) = open_side(eal, a, cli.cores, mbufs, "pxu")?;
            (Some(p), s.into_iter().map(Some).collect())
        }
        None => (None, (0..n).map(|_| None).collect::<Vec<_>>()),
    };
    let mut cfg = ProxyConfig::new(cli.listen, cli.upstream, 1, cli.buf);
    let per_core = match cli.max_conns {
        Some(m) => m.div_ceil(n),
        None => cfg.pipes_for_pool(mbufs, sides),
    };
    cfg.max_conns = per_core.max(1);
    let mut list = Vec::with_capacity(n);
    for (mut client, upstream) in client_stacks.into_iter().zip(upstream_stacks) {
        let proxy = Proxy::new(&mut client, cfg)
            .map_err(|e| SetupError::Other(format!("cannot listen on {}: {e}", cli.listen)))?;
        let side = |stack: Stack<DpdkQueue>| Side {
            watch: PoolWatch::new(stack.pools().data),
            stack,
        };
        list.push(ProxyCore {
            proxy,
            client: side(client),
            upstream: upstream.map(side),
            iter: 0,
            show_open: cli.show_open,
        });
    }
    let placement = cpus::choose(eal, chooser, n, None, "proxy")?;

    println!(
        "proxy: client {} ip {}",
        setup::describe(&client_port),
        setup::cidrs(&cli.port.ip)
    );
    if let (Some(u), Some(a)) = (&upstream_port, &up_args) {
        println!(
            "proxy: upstream {} ip {}",
            setup::describe(u),
            setup::cidrs(&a.ip)
        );
    }
    println!(
        "proxy: tcp port {} -> {}, {sides} stack(s) per core, at most {} connections, {} KiB \
         buffers, {mbufs} mbufs per stack",
        cli.listen,
        cli.upstream,
        cfg.max_conns * n,
        cfg.opts.rcvbuf / 1024,
    );
    println!("proxy: {n} core(s) on {}", placement.describe());
    if n > 1 {
        println!("proxy: steering: {}", client_port.steering);
    }
    placement.warn("proxy");
    let reports = cores::run(eal, &placement, list, "proxy", || println!("proxy: ready"));
    print!(
        "{}",
        render(cli, &reports, &client_port, upstream_port.as_ref())
    );
    Ok(())
}

/// The counters printed at exit: per side (summed over cores), the port's, the proxy's, and
/// per core the clients it accepted.
fn render(cli: &Cli, reports: &[CoreReport], client: &Port, upstream: Option<&Port>) -> String {
    let mut out = String::new();
    for line in reports.iter().flat_map(|r| &r.open) {
        out.push_str(&format!("proxy: {line}\n"));
    }
    let client_side: Vec<&SideReport> = reports.iter().map(|r| &r.client).collect();
    let upstream_side: Vec<&SideReport> =
        reports.iter().filter_map(|r| r.upstream.as_ref()).collect();
    let sides: Vec<(&str, &[&SideReport], &Port)> = match upstream {
        Some(u) => vec![
            ("Client", &client_side, client),
            ("Upstream", &upstream_side, u),
        ],
        None => vec![("", &client_side, client)],
    };
    let mut line = |name: String, v: u64| {
        if cli.all_counters || v != 0 {
            out.push_str(&format!("{name:<36} {v}\n"));
        }
    };
    for (prefix, side, port) in sides {
        let mut counters = Counters::default();
        let mut pool = [0u64; 3];
        let mut names = [""; 3];
        for s in side {
            counters.add(&s.counters);
            for (k, (name, v)) in s.watch.entries().into_iter().enumerate() {
                pool[k] += v;
                names[k] = name;
            }
        }
        let pool = names.into_iter().zip(pool);
        for (name, v) in counters
            .entries()
            .into_iter()
            .chain(pool)
            .chain(port_entries(&port.stats()))
        {
            line(format!("{prefix}{name}"), v);
        }
    }
    let mut stats = ProxyStats::default();
    reports.iter().for_each(|r| stats.add(&r.stats));
    for (name, v) in stats.entries() {
        line(name.to_string(), v);
    }
    if reports.len() > 1 {
        for (i, r) in reports.iter().enumerate() {
            line(format!("Core{i}ProxyAccepted"), r.stats.accepted);
        }
    }
    out
}

fn port_entries(ps: &PortStats) -> [(&'static str, u64); 6] {
    [
        ("PortInPackets", ps.ipackets),
        ("PortOutPackets", ps.opackets),
        ("PortInMissed", ps.imissed),
        ("PortInErrors", ps.ierrors),
        ("PortOutErrors", ps.oerrors),
        ("PortRxNoMbuf", ps.rx_nombuf),
    ]
}

/// Options clap cannot check in one line: the upstream port's options go together.
fn check_usage(cli: &Cli) -> Result<(), String> {
    let (ips, gws) = (
        !cli.upstream_ip.is_empty(),
        !cli.upstream_gateway.is_empty(),
    );
    match (&cli.upstream_port, ips, gws) {
        (Some(_), false, _) => Err("--upstream-port needs --upstream-ip, the engine's address \
             on the upstream port (e.g. --upstream-ip 10.20.0.2/24)"
            .into()),
        (None, true, _) | (None, _, true) => Err("--upstream-ip and --upstream-gateway \
             configure a second port: give it with --upstream-port"
            .into()),
        _ if cli.upstream.port() == 0 => Err(format!(
            "--upstream {} has port 0: give the upstream server's TCP port (1-65535)",
            cli.upstream
        )),
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let cli: Cli = setup::parse_args("proxy");
    if let Err(e) = check_usage(&cli) {
        eprintln!("proxy: {e} (see proxy --help)");
        return ExitCode::from(2);
    }
    signal::install();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("proxy: {e}");
            ExitCode::FAILURE
        }
    }
}
