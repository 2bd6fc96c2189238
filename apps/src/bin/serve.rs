//! `serve`: brings a port up, answers ARP, Neighbor Discovery and ping (ICMP and ICMPv6), and
//! with a mode serves TCP: `echo` (port 7), `sink` (discard and count, port 9) or `http` (a
//! keep-alive HTTP/1.1 responder with a fixed body, port 80), on every `--ip` address, IPv4
//! and IPv6 alike, on the same TCP port. Prints its counters on Ctrl-C or SIGTERM.
//!
//! ```text
//! serve --port tap:dtap0 --ip 10.0.0.2/24                    # ARP and ping only
//! serve echo --port tap:dtap0 --ip 10.0.0.2/24               # and a TCP echo server on port 7
//! serve http --port tap:dtap0 --ip 10.0.0.2/24 --ip fd00::2/64   # HTTP over IPv4 and IPv6
//! serve echo --stack kernel --listen 7007                     # over Linux sockets
//! ```
//!
//! `--cores N` runs N stacks, each on its own queue of the port and its own thread and CPU
//! (`apps::cores`, `apps::cpus`: the CPUs in use are printed at start, `--eal-args "-l ..."`
//! chooses them); at exit the counters are summed over the cores, and `CoreIServerAccepted`
//! lines say how many connections core I accepted.
//!
//! ECN (RFC 3168) is accepted when a client asks, as Linux's default; `--no-ecn` refuses it.
//!
//! With `--stack kernel` the servers run over Linux sockets (`apps::kernel_servers`), on
//! `--threads` threads sharing the port (SO_REUSEPORT), bound to each `--ip` address, or
//! without `--ip` to 0.0.0.0 and [::] (one socket per family); `--port` is not used.

use std::net::SocketAddr;
use std::process::ExitCode;

use apps::cores::{self, Core};
use apps::kernel_servers;
use apps::loadgen::{OptPortArgs, StackKind};
use apps::servers::{Mode, Server, ServerStats};
use apps::setup::{self, PortArgs, SetupError};
use apps::{cpus, report, signal};
use engine::dev::dpdk::DpdkQueue;
use engine::tcp::EcnMode;
use engine::time::Instant;
use engine::{Counters, Stack};

/// Answer ARP, Neighbor Discovery and ping on a DPDK port and, with a mode, serve TCP on every
/// --ip address (IPv4 and IPv6 on the same port).
#[derive(clap::Parser, Debug)]
#[command(name = "serve", version)]
struct Cli {
    /// echo, sink or http; none answers ARP and ping only.
    #[arg(value_enum)]
    mode: Option<Mode>,
    #[command(flatten)]
    port: OptPortArgs,
    /// engine (a DPDK port; needs --port and --ip) or kernel (Linux sockets).
    #[arg(long, value_enum, default_value = "engine")]
    stack: StackKind,
    /// Kernel stack: server threads sharing the port.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// TCP port to listen on, 1-65535 (default: the mode's well-known port); with --stack
    /// kernel, 0 binds any free port (printed in the banner).
    #[arg(long)]
    listen: Option<u16>,
    /// Engine stack: stacks, each on its own queue of the port and its own CPU.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=128))]
    cores: u16,
    /// Print every counter at exit, zeros included.
    #[arg(long)]
    all_counters: bool,
    /// Refuse ECN (RFC 3168): answer a SYN asking for it with a plain SYN-ACK, as Linux does
    /// with `sysctl net.ipv4.tcp_ecn=0`. By default it is accepted, as Linux's default (2).
    #[arg(long)]
    no_ecn: bool,
}

/// One core of `serve`: its stack and, with a mode, its server.
struct ServeCore {
    stack: Stack<DpdkQueue>,
    server: Option<Server>,
}

impl Core for ServeCore {
    type Report = (Counters, Option<ServerStats>);

    fn poll(&mut self, now: Instant) {
        match self.server.as_mut() {
            Some(s) => self.stack.poll_with(now, |st, ev| s.on_event(st, ev)),
            None => self.stack.poll_with(now, |_, _| {}),
        };
    }

    fn report(self) -> Self::Report {
        (self.stack.counters(), self.server.map(|s| s.stats))
    }
}

fn run(cli: &Cli) -> Result<(), SetupError> {
    if cli.stack == StackKind::Kernel {
        return run_kernel(cli);
    }
    let port_args = cli.port.port_args().ok_or_else(|| {
        SetupError::Other("the engine stack needs --port and --ip (or use --stack kernel)".into())
    })?;
    let args: &PortArgs = &port_args;
    let mut cfg = args.stack_config()?;
    if cli.no_ecn {
        cfg.tcp.default_options.ecn = EcnMode::Off;
    }
    if cli.listen == Some(0) {
        return Err(SetupError::Other(
            "--listen 0: the engine listens on the port given, so give one in 1-65535 (0, any \
             free port, is for --stack kernel)"
                .into(),
        ));
    }
    let n = usize::from(cli.cores);
    let mut eal_cfg = setup::eal_config(args, None);
    let chooser = cpus::prepare(&mut eal_cfg);
    let eal = engine::eal::init(&eal_cfg)?;
    cpus::check(eal, chooser, n)?;
    let (port, pools) = setup::open_port(eal, args, cli.cores, "srv")?;
    cores::check_queues(&port, n, "--cores")?;
    let listen = cli.mode.map(|m| cli.listen.unwrap_or(m.default_port()));
    let mut list = Vec::with_capacity(n);
    for mut stack in cores::stacks(&port, pools, &cfg) {
        let server = match (cli.mode, listen) {
            (Some(m), Some(p)) => Some(
                Server::new(&mut stack, m, p)
                    .map_err(|e| SetupError::Other(format!("cannot listen on {p}: {e}")))?,
            ),
            _ => None,
        };
        list.push(ServeCore { stack, server });
    }
    let placement = cpus::choose(eal, chooser, n, None, "serve")?;
    println!(
        "serve: {} ip {}",
        setup::describe(&port),
        setup::cidrs(&args.ip)
    );
    if let (Some(m), Some(p)) = (cli.mode, listen) {
        println!("serve: {m:?} on tcp port {p}");
    }
    println!("serve: {n} core(s) on {}", placement.describe());
    if n > 1 {
        println!("serve: steering: {}", port.steering);
    }
    placement.warn("serve");
    let reports = cores::run(eal, &placement, list, "serve", || println!("serve: ready"));
    let mut counters = Counters::default();
    let mut total = ServerStats::default();
    for (c, st) in &reports {
        counters.add(c);
        total.add(&st.unwrap_or_default());
    }
    print!("{}", report::counters(&counters, cli.all_counters));
    if cli.mode.is_some() {
        print_stats(&total);
        for (i, (_, st)) in reports.iter().enumerate().filter(|_| n > 1) {
            println!("Core{i}ServerAccepted {}", st.unwrap_or_default().accepted);
        }
    }
    Ok(())
}

fn print_stats(st: &ServerStats) {
    for (name, v) in st.entries() {
        println!("{name} {v}");
    }
}

/// `--stack kernel`: the same servers over Linux sockets, one epoll thread per `--threads`.
fn run_kernel(cli: &Cli) -> Result<(), SetupError> {
    let mode = cli.mode.ok_or_else(|| {
        SetupError::Other("--stack kernel needs a mode (echo, sink or http)".into())
    })?;
    if cli.port.cc.is_some() {
        return Err(SetupError::Other(setup::CC_KERNEL.into()));
    }
    if cli.cores != 1 {
        return Err(SetupError::Other(
            "--cores is for the engine stack; kernel sockets run on --threads threads".into(),
        ));
    }
    if cli.no_ecn {
        return Err(SetupError::Other(
            "--no-ecn is for the engine stack; Linux sockets follow `sysctl net.ipv4.tcp_ecn` \
             (0 refuses ECN)"
                .into(),
        ));
    }
    let port = cli.listen.unwrap_or(mode.default_port());
    let addrs: Vec<SocketAddr> = if cli.port.ip.is_empty() {
        kernel_servers::any_addrs(port)
    } else {
        cli.port
            .ip
            .iter()
            .map(|c| SocketAddr::new(c.addr, port))
            .collect()
    };
    let listeners = kernel_servers::bind(&addrs, cli.threads.max(1)).map_err(|e| {
        let list: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
        SetupError::Other(format!("cannot listen on {}: {e}", list.join(" ")))
    })?;
    let bound = listeners[0]
        .iter()
        .map(|l| l.local_addr().map(|a| a.to_string()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| SetupError::Other(e.to_string()))?;
    println!(
        "serve: kernel sockets, {mode:?} on tcp {}, {} thread(s)",
        bound.join(" "),
        listeners.len()
    );
    println!("serve: ready");
    let stats: Vec<ServerStats> = std::thread::scope(|s| {
        let handles: Vec<_> = listeners
            .into_iter()
            .map(|l| s.spawn(move || kernel_servers::serve(l, mode, &signal::stopped)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("server thread"))
            .collect()
    });
    let mut total = ServerStats::default();
    stats.iter().for_each(|st| total.add(st));
    print_stats(&total);
    Ok(())
}

fn main() -> ExitCode {
    let cli: Cli = setup::parse_args("serve");
    signal::install();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::FAILURE
        }
    }
}
