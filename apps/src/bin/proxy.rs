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
//! printed once per stack, prefixed `Client` and `Upstream` (`ClientTcpInSegs 123`), with the
//! data pool's mbufs in use when ready (`...PoolDataBase`), at most (`...PoolDataPeak`) and at
//! exit (`...PoolDataInUse`).

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use apps::clock::Clock;
use apps::proxy::{Proxy, ProxyConfig, Stacks};
use apps::setup::{self, Gateways, IpCidr, PortArgs, SetupError};
use apps::signal;
use engine::Stack;
use engine::buf::{Mempool, PoolSizes, Pools};
use engine::dev::dpdk::{DpdkQueue, Port, PortConfig};
use engine::dev::spec::PortSpec;
use engine::eal::Eal;

/// An L4 TCP proxy on DPDK ports: forwards received mbufs between each client and the
/// upstream server without copying them.
#[derive(clap::Parser, Debug)]
#[command(name = "proxy", version)]
struct Cli {
    /// The client-side port and address (and the upstream side's, without --upstream-port).
    #[command(flatten)]
    port: PortArgs,
    /// TCP port to accept clients on.
    #[arg(long)]
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
    /// Most client connections proxied at once; further ones are reset. Default: as many as
    /// the payload pools hold with every buffer full (more risks running a pool dry under
    /// bulk load, which stalls every connection of that port).
    #[arg(long)]
    max_conns: Option<usize>,
    /// Send and receive buffer of every connection, bytes.
    #[arg(long, default_value_t = 256 * 1024)]
    buf: u32,
    /// Payload mbufs per stack. Received data stays in them until the other side's peer
    /// acknowledges it (zero copy), so this bounds the connections (see --max-conns).
    #[arg(long, default_value_t = 65535)]
    mbufs: u32,
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

/// One side's port and stack.
struct Side {
    port: Port,
    stack: Stack<DpdkQueue>,
    watch: PoolWatch,
}

/// Opens `args.port` with pools of `mbufs` payload mbufs and builds its stack.
fn open_side(eal: Eal, args: &PortArgs, mbufs: u32, prefix: &str) -> Result<Side, SetupError> {
    let sizes = PoolSizes {
        data: mbufs,
        hdr: (mbufs / 4).max(1024),
        indirect: mbufs,
    };
    let pools = Pools::create(prefix, &sizes)?;
    let mut cfg = PortConfig::new(pools.data);
    cfg.mtu = args.mtu;
    cfg.tso = args.tso.into();
    cfg.checksum = args.csum_offload.into();
    let scfg = args.stack_config()?;
    let port = Port::open(eal, &args.port, &cfg)?;
    let stack = Stack::new(port.queue(0), pools, scfg);
    Ok(Side {
        port,
        stack,
        watch: PoolWatch::new(pools.data),
    })
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
    if cli.mbufs < 4096 {
        return Err(SetupError::Other(format!(
            "--mbufs {} is too small: give at least 4096 (the receive ring alone keeps {})",
            cli.mbufs,
            apps::proxy::RX_RING_MBUFS
        )));
    }

    let mut eal_cfg = setup::eal_config(&cli.port, None);
    if let Some(PortSpec::Pci { bdf }) = &cli.upstream_port {
        eal_cfg.no_pci = false;
        eal_cfg.allow_pci.push(bdf.clone());
    }
    let eal = engine::eal::init(&eal_cfg)?;
    let mut client = open_side(eal, &cli.port, cli.mbufs, "pxc")?;
    let mut upstream = match &up_args {
        Some(a) => Some(open_side(eal, a, cli.mbufs, "pxu")?),
        None => None,
    };
    let stacks = if upstream.is_some() { 2 } else { 1 };
    let mut cfg = ProxyConfig::new(cli.listen, cli.upstream, 1, cli.buf);
    cfg.max_conns = cli
        .max_conns
        .unwrap_or_else(|| cfg.pipes_for_pool(cli.mbufs, stacks))
        .max(1);
    let mut proxy = Proxy::new(&mut client.stack, cfg)
        .map_err(|e| SetupError::Other(format!("cannot listen on {}: {e}", cli.listen)))?;

    println!(
        "proxy: client {} ip {}",
        setup::describe(&client.port),
        setup::cidrs(&cli.port.ip)
    );
    if let (Some(u), Some(a)) = (&upstream, &up_args) {
        println!(
            "proxy: upstream {} ip {}",
            setup::describe(&u.port),
            setup::cidrs(&a.ip)
        );
    }
    println!(
        "proxy: tcp port {} -> {}, {stacks} stack(s), at most {} connections, {} KiB buffers, \
         {} mbufs per pool",
        cli.listen,
        cli.upstream,
        cfg.max_conns,
        cfg.opts.rcvbuf / 1024,
        cli.mbufs
    );
    client.watch = PoolWatch::new(client.watch.pool);
    if let Some(u) = upstream.as_mut() {
        u.watch = PoolWatch::new(u.watch.pool);
    }
    println!("proxy: ready");

    let clock = Clock::new(eal);
    let mut iter: u32 = 0;
    while !signal::stopped() {
        let now = clock.now();
        match upstream.as_mut() {
            Some(u) => proxy.poll_two(now, &mut client.stack, &mut u.stack),
            None => proxy.poll_one(now, &mut client.stack),
        };
        iter = iter.wrapping_add(1);
        if iter.is_multiple_of(16) {
            client.watch.sample();
            if let Some(u) = upstream.as_mut() {
                u.watch.sample();
            }
        }
    }

    let mut out = String::new();
    if cli.show_open > 0 {
        let mut st = Stacks {
            client: &mut client.stack,
            upstream: upstream.as_mut().map(|u| &mut u.stack),
        };
        for line in proxy.describe_open(&mut st, cli.show_open) {
            out.push_str(&format!("proxy: {line}\n"));
        }
    }
    let prefixes: &[(&str, &Side)] = match &upstream {
        Some(u) => &[("Client", &client), ("Upstream", u)],
        None => &[("", &client)],
    };
    for (prefix, side) in prefixes {
        let counters = side.stack.counters();
        let ps = side.port.stats();
        let port = [
            ("PortInPackets", ps.ipackets),
            ("PortOutPackets", ps.opackets),
            ("PortInMissed", ps.imissed),
            ("PortInErrors", ps.ierrors),
            ("PortOutErrors", ps.oerrors),
            ("PortRxNoMbuf", ps.rx_nombuf),
        ];
        let lines = counters
            .entries()
            .into_iter()
            .chain(side.watch.entries())
            .chain(port)
            .filter(|(_, v)| cli.all_counters || *v != 0);
        for (name, v) in lines {
            out.push_str(&format!("{:<36} {v}\n", format!("{prefix}{name}")));
        }
    }
    for (name, v) in proxy.stats.entries() {
        out.push_str(&format!("{name:<36} {v}\n"));
    }
    print!("{out}");
    Ok(())
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
