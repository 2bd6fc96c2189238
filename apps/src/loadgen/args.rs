//! Command-line options of `loadgen` (and [`OptPortArgs`], which `serve --stack kernel` shares).
//!
//! `--port`, `--ip` and `--target` are optional: without `--port`, `loadgen` runs the
//! *embedded* set-up: an engine echo server and the engine client in one process over a
//! net_ring pair (client 10.0.0.1/24 and fd00::1/64, server 10.0.0.2/24 and fd00::2/64,
//! target 10.0.0.2:7 unless `--target` names the server's other address, e.g.
//! `--target [fd00::2]:7`), or with `--stack kernel` and no `--target`, a kernel echo server
//! on loopback in the same process.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use engine::dev::spec::PortSpec;

use crate::servers::Mode as ServerMode;
use crate::setup::{CcKind, IpCidr, PortArgs, WantArg, parse_cc, parse_cidr};

use super::proto::Proto;
use super::workload::stream::Direction;

/// Generate load against a TCP server (IPv4 or IPv6): closed-loop RPC, open-loop rate, bulk
/// streams, or connection churn, over the engine or over Linux sockets. Without --port, runs
/// an engine echo server in the same process over an in-memory link and loads it (client
/// 10.0.0.1/24 and fd00::1/64, server 10.0.0.2/24 and fd00::2/64; --target [fd00::2]:7 loads
/// it over IPv6).
#[derive(clap::Parser, Debug)]
#[command(name = "loadgen", version)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// The workload.
#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Closed loop: C connections, each with P requests in flight; requests/s and latency.
    Rpc(RpcArgs),
    /// Open loop: requests at a fixed rate; latency from the scheduled send time.
    Rate(RateArgs),
    /// Bulk transfer one way or both ways; Gbit/s.
    Stream(StreamArgs),
    /// Connect, one request, response, close, repeatedly; connections/s.
    Churn(ChurnArgs),
}

impl Cmd {
    pub fn common(&self) -> &Common {
        match self {
            Cmd::Rpc(a) => &a.common,
            Cmd::Rate(a) => &a.common,
            Cmd::Stream(a) => &a.common,
            Cmd::Churn(a) => &a.common,
        }
    }
}

/// Which TCP/IP stack the client uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StackKind {
    /// This project's engine on a DPDK port.
    Engine,
    /// Linux sockets (nonblocking, epoll, TCP_NODELAY).
    Kernel,
}

/// Where the embedded server's stacks run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Auto,
    Split,
    Shared,
}

/// How `churn` closes each connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CloseKind {
    /// Graceful close (the client keeps TIME_WAIT).
    Fin,
    /// Reset (no TIME_WAIT).
    Rst,
}

/// Options every mode has.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// The server, IPv4:PORT or [IPv6]:PORT (10.0.0.2:7, [fd00::2]:7). Without --port, the
    /// embedded set-up runs and the target may only be its server: 10.0.0.2 (the default) or
    /// fd00::2.
    #[arg(long)]
    pub target: Option<SocketAddr>,
    /// Seconds of measured load.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Seconds of load before the measurement (not counted).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Seconds to wait at the end for answers to requests in flight before closing.
    #[arg(long, default_value_t = 2.0)]
    pub drain: f64,
    /// Client cores: one stack (or epoll loop) per core, each pinned to its own CPU.
    #[arg(long, default_value_t = 1)]
    pub cores: usize,
    /// First CPU for the client threads (default: 0); embedded servers follow them.
    #[arg(long)]
    pub first_cpu: Option<usize>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// The client's stack.
    #[arg(long, value_enum, default_value = "engine")]
    pub stack: StackKind,
    /// Embedded set-up only: what the in-process server does.
    #[arg(long, value_enum, default_value = "echo")]
    pub server: ServerMode,
    /// Embedded set-up only: `split` gives every client and server stack a thread and CPU of
    /// its own (needs 2 x --cores CPUs); `shared` runs client stack i and server stack i in
    /// turn on thread i; `auto` splits when there are enough CPUs.
    #[arg(long, value_enum, default_value = "auto")]
    pub layout: Layout,
    /// Kernel stack: poll epoll without sleeping (as the engine polls its port).
    #[arg(long)]
    pub busy_poll: bool,
    /// Engine: reuse a TIME_WAIT 4-tuple for a new connection after this many milliseconds
    /// (timestamps protect it, as Linux tcp_tw_reuse). It caps `churn --close fin` near
    /// 28,232 ephemeral ports / this delay connections per second toward one target (beyond
    /// that, connects fail with no_ports); `--close rst` leaves no TIME_WAIT.
    #[arg(long, default_value_t = 1000)]
    pub tw_reuse_ms: u64,
    /// Engine: ask for ECN (RFC 3168) on every connection, as Linux does with `sysctl
    /// net.ipv4.tcp_ecn=1`: data then goes out ECT(0) and congestion marks reduce the window
    /// without a loss. Without it the client, like Linux's default (`tcp_ecn=2`), never asks
    /// (its embedded server accepts either way).
    #[arg(long)]
    pub ecn: bool,
    /// Kernel stack: the congestion control of the client's sockets, as Linux names it
    /// (`cubic`, `reno`, `bbr`, ...; `TCP_CONGESTION` on every socket). Default: the
    /// namespace's `net.ipv4.tcp_congestion_control`. The engine's is `--cc`.
    #[arg(long)]
    pub congestion: Option<String>,
    /// Connect from this many consecutive addresses, starting at the first --ip of the
    /// target's family, each with its own ephemeral ports (about 28,232 per address toward
    /// one target): N addresses allow N times as many connections. Engine: the addresses
    /// become the engine's; the embedded set-up picks enough by itself for --conns, skipping
    /// the server's address (10.0.0.1, 10.0.0.3, 10.0.0.4, ...). Kernel: sockets are bound
    /// to them (the host must have them, as it has all of 127.0.0.0/8).
    #[arg(long, value_name = "N")]
    pub source_ips: Option<usize>,
    /// Engine: the ephemeral port range of each source address, LOW-HIGH (Linux's
    /// ip_local_port_range; default 32768-60999).
    #[arg(long, value_name = "LOW-HIGH", value_parser = parse_port_range)]
    pub local_ports: Option<(u16, u16)>,
    /// Most handshakes in flight per client core: connections are opened at this pace rather
    /// than all in one burst (whose SYNs would overflow every queue on the way).
    #[arg(long, default_value_t = super::workload::HANDSHAKES)]
    pub handshakes: usize,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub engine: OptPortArgs,
}

/// The request and response shape (rpc, rate, churn).
#[derive(clap::Args, Debug, Clone)]
pub struct ReqArgs {
    /// Bytes per request (echo protocol).
    #[arg(long, default_value_t = 64)]
    pub req_size: usize,
    /// Bytes per response (default: the request size, as an echo server answers).
    #[arg(long)]
    pub resp_size: Option<usize>,
    /// Request format: echo (fixed-size) or http (GET, Content-Length responses).
    #[arg(long, value_enum, default_value = "echo")]
    pub proto: Proto,
    /// HTTP path.
    #[arg(long, default_value = "/")]
    pub path: String,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RpcArgs {
    #[command(flatten)]
    pub common: Common,
    /// Connections (over all cores).
    #[arg(long, default_value_t = 16)]
    pub conns: usize,
    /// Requests in flight per connection.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    #[command(flatten)]
    pub req: ReqArgs,
}

/// Arrival process of the open loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Exponential gaps (a Poisson process).
    Poisson,
    /// Equal gaps.
    Constant,
}

#[derive(clap::Args, Debug, Clone)]
pub struct RateArgs {
    #[command(flatten)]
    pub common: Common,
    /// Requests per second, over all cores.
    #[arg(long)]
    pub rate: f64,
    #[arg(long, value_enum, default_value = "poisson")]
    pub arrivals: Arrivals,
    /// Connections (over all cores); scheduled requests go round-robin over them.
    #[arg(long, default_value_t = 16)]
    pub conns: usize,
    /// Requests in flight per connection; more wait in the connection's queue.
    #[arg(long, default_value_t = 1)]
    pub pipeline: usize,
    #[command(flatten)]
    pub req: ReqArgs,
}

#[derive(clap::Args, Debug, Clone)]
pub struct StreamArgs {
    #[command(flatten)]
    pub common: Common,
    /// tx: send (reads back and discards what an echo server returns); rx: receive what the
    /// server sends (prompting an echo server with at most --window bytes outstanding); both.
    #[arg(long, value_enum, default_value = "tx")]
    pub direction: Direction,
    /// Connections (over all cores).
    #[arg(long, default_value_t = 1)]
    pub conns: usize,
    /// Bytes per send call.
    #[arg(long, default_value_t = 65536)]
    pub write_size: usize,
    /// rx: most bytes sent and not yet received back.
    #[arg(long, default_value_t = 1 << 20)]
    pub window: usize,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ChurnArgs {
    #[command(flatten)]
    pub common: Common,
    /// Connection slots (over all cores), each opening connections one after another.
    #[arg(long, default_value_t = 16)]
    pub conns: usize,
    #[arg(long, value_enum, default_value = "fin")]
    pub close: CloseKind,
    #[command(flatten)]
    pub req: ReqArgs,
}

/// [`PortArgs`] with the port and address optional (the embedded set-up and the kernel stack
/// need neither).
#[derive(clap::Args, Clone, Debug)]
pub struct OptPortArgs {
    /// The port: tap:IFNAME, memif:SOCKET[,server|client], af_packet:IFNAME, ring, pci:BDF or
    /// eal:DEVARGS.
    #[arg(long, value_parser = parse_spec)]
    pub port: Option<PortSpec>,
    /// The engine's address and prefix, IPv4 or IPv6 (10.0.0.1/24, fd00::1/64); repeat it for
    /// both families (--ip 10.0.0.1/24 --ip fd00::1/64): the engine answers on every one,
    /// serves both families on one TCP port and connects from the address of the target's
    /// family. With `serve --stack kernel`: the addresses to listen on (default 0.0.0.0 and
    /// [::]).
    #[arg(long, value_parser = parse_cidr, action = clap::ArgAction::Append)]
    pub ip: Vec<IpCidr>,
    /// Gateway for off-link destinations, IPv4 or IPv6; give it twice for one of each family.
    #[arg(long, action = clap::ArgAction::Append)]
    pub gateway: Vec<IpAddr>,
    /// IP MTU to set on the port (default: the port's own).
    #[arg(long)]
    pub mtu: Option<u16>,
    /// TCP segmentation offload: auto (if the port has it), on (required), off.
    #[arg(long, value_enum, default_value = "auto")]
    pub tso: WantArg,
    /// IPv4/TCP checksum offload: auto, on (required), off.
    #[arg(long, value_enum, default_value = "auto")]
    pub csum_offload: WantArg,
    /// Memory for DPDK, MiB.
    #[arg(long, default_value_t = 1024)]
    pub memory_mb: u32,
    /// Further raw EAL arguments, space-separated (e.g. "--log-level=debug").
    #[arg(long, allow_hyphen_values = true)]
    pub eal_args: Option<String>,
    /// Frames per receive burst (default 8, for latency; 32 suits bulk transfers).
    #[arg(long)]
    pub rx_burst: Option<usize>,
    /// Seed for random choices (ISN and port secrets, Poisson arrivals), for reproducible runs
    /// and tests only: without it they come from the operating system (RFC 6528, RFC 6056).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Congestion control of the engine's connections (and of loadgen's embedded server):
    /// cubic (the default: RFC 9438 with HyStart++) or newreno (RFC 5681, RFC 6582; also
    /// spelt reno). Engine stack only.
    #[arg(long = "cc", value_name = "ALGORITHM", value_parser = parse_cc)]
    pub cc: Option<CcKind>,
}

/// `LOW-HIGH`, two ports with LOW <= HIGH, LOW at least 1.
fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("bad port range {s:?}: expected LOW-HIGH, e.g. 32768-60999");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (lo, hi): (u16, u16) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if lo == 0 || lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

fn parse_spec(s: &str) -> Result<PortSpec, String> {
    s.parse()
        .map_err(|e: engine::dev::spec::SpecError| e.to_string())
}

impl OptPortArgs {
    /// The full [`PortArgs`] for `port` and `ip`.
    pub fn with(&self, port: PortSpec, ip: Vec<IpCidr>) -> PortArgs {
        PortArgs {
            port,
            ip,
            gateway: self.gateway.clone(),
            mtu: self.mtu,
            tso: self.tso,
            csum_offload: self.csum_offload,
            memory_mb: self.memory_mb,
            eal_args: self.eal_args.clone(),
            rx_burst: self.rx_burst,
            seed: self.seed,
            cc: self.cc,
        }
    }

    /// The full [`PortArgs`], if both `--port` and `--ip` were given.
    pub fn port_args(&self) -> Option<PortArgs> {
        if self.ip.is_empty() {
            return None;
        }
        Some(self.with(self.port.clone()?, self.ip.clone()))
    }
}
