//! The command line: `bench [OPTIONS]` runs the matrix; `bench bounce ...` is the raw-link
//! bouncer the matrix starts (also usable by hand).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;

/// Runs the engine and the Linux kernel side by side (64 B and 1 KiB echo RPC, connection
/// churn, bulk stream; 1 and 2 cores; engine over net_ring and memif, kernel over loopback and
/// veth), the raw DPDK link ceiling, callgrind instructions per request, and bulk goodput under
/// random loss (engine and Linux senders over veth, engine to engine in virtual time), and
/// writes RESULTS.md (ratio tables) and results.json (every raw figure) to the output
/// directory.
#[derive(Parser, Debug)]
#[command(name = "bench", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Cmd>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Raw link ceiling: bounce 64 B frames over a DPDK link with no TCP (one side sends with a
    /// window of W frames in flight, the other swaps the MACs and sends them back).
    Bounce(BounceArgs),
    /// Virtual time: one bulk transfer between two engine stacks over the simulated link with
    /// seeded random loss of data segments; goodput, RTOs, retransmitted and lost segments.
    Vtime(crate::loss::vtime::VtimeArgs),
    /// Switches checksum, TSO, GSO and GRO off on an interface (run inside its namespace; the
    /// loss cells use it on their veth ends).
    #[command(hide = true)]
    SetOffloads { ifname: String },
}

/// A part of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Part {
    /// 64 B echo RPC: 16 connections, one request in flight on each.
    Rpc64,
    /// 1 KiB echo RPC: 16 connections, one request in flight on each.
    Rpc1k,
    /// Connect, 64 B request, response, close: connections/s.
    Churn,
    /// One connection sending 64 KiB writes into a sink: Gbit/s.
    Stream,
    /// The raw link ceiling (DPDK frames bounced with no TCP).
    Raw,
    /// Instructions per request of the engine under callgrind.
    Callgrind,
    /// Bulk goodput under random loss: the engine and Linux as senders over the same kind of
    /// veth link with nftables dropping data segments, and engine to engine in virtual time
    /// beside the Mathis bound.
    Loss,
    /// Request rate, p99 and memory at 16, 1k, 10k and 100k connections, the engine beside
    /// Linux on one CPU, and from one CPU to two.
    Scale,
}

/// Where client and server run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Setup {
    /// Engine <-> engine over a net_ring pair in one process (loadgen's embedded set-up).
    Ring,
    /// Engine <-> engine over memif between two processes.
    Memif,
    /// Kernel <-> kernel over loopback (in a private network namespace).
    Loopback,
    /// Kernel <-> kernel over a veth pair between two network namespaces, MTU 1500.
    Veth,
}

/// How churn closes its connections (the same for both stacks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Close {
    /// Graceful close; the client keeps TIME_WAIT and reuses it after --tw-reuse-ms.
    Fin,
    /// Reset: no TIME_WAIT anywhere.
    Rst,
}

impl Close {
    pub fn name(self) -> &'static str {
        match self {
            Close::Fin => "fin",
            Close::Rst => "rst",
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Short run for a smoke test: 1 s measured per cell (0.3 s warm-up), callgrind 1 s.
    #[arg(long)]
    pub quick: bool,
    /// Output directory (default: bench/out in the workspace).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run only these parts (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<Part>,
    /// Run only these set-ups (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub setups: Vec<Setup>,
    /// Core counts to run, 1 and/or 2 (comma-separated; default: both).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=2))]
    pub cores: Vec<u8>,
    /// Seconds measured per cell (default: 3, or 1 with --quick; loss cells: 5, or 2).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Seconds of warm-up per cell (default: 1, or 0.3 with --quick; loss cells: 1, or 0.5).
    #[arg(long)]
    pub warmup: Option<f64>,
    /// How churn closes connections, for both stacks.
    #[arg(long, value_enum, default_value = "fin")]
    pub churn_close: Close,
    /// TIME_WAIT reuse delay in ms for churn with --churn-close fin: the engine's
    /// --tw-reuse-ms and the kernel's net.ipv4.tcp_tw_reuse_delay (with tcp_tw_reuse=1) in the
    /// benchmark's namespaces.
    #[arg(long, default_value_t = 10)]
    pub tw_reuse_ms: u64,
    /// Runs of each cell (interleaved over the set-ups of a row); the tables report the median
    /// run by the cell's headline figure, results.json keeps every run.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=9))]
    pub repeat: u8,
    /// Windows (frames in flight) for the raw link ceiling.
    #[arg(long, value_delimiter = ',', default_values_t = [16usize, 256])]
    pub raw_windows: Vec<usize>,
    /// Where loadgen and serve are (default: beside this binary, built first with cargo).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Do not run `cargo build -p apps` before the matrix.
    #[arg(long)]
    pub no_build: bool,
    /// Loss: the loss rates in percent, in steps of 0.1 (0 is the reference for "kept").
    #[arg(long, value_delimiter = ',', default_values_t = [0.0, 0.1, 1.0, 2.0, 5.0])]
    pub loss_rates: Vec<f64>,
    /// Loss: Linux's congestion control for its sender (set per socket with TCP_CONGESTION).
    #[arg(long, default_value = "cubic")]
    pub linux_cc: String,
    /// Loss: the seeds of the virtual-time transfers (each run twice).
    #[arg(long, value_delimiter = ',', default_values_t = [1u64, 2, 3])]
    pub vt_seeds: Vec<u64>,
    /// Loss: the simulated link's round trip in µs for the virtual-time transfers (1 Gbit/s;
    /// half of it each way). The test suite's `tcp_sim` link has 1 ms each way: 2000.
    #[arg(long, default_value_t = 1000)]
    pub vt_rtt_us: u64,
}

/// Which link the bouncer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Link {
    /// A net_ring pair in this process.
    Ring,
    /// memif between two processes (run one with --role server, one with --role client).
    Memif,
}

/// A memif bouncer's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// memif server: reflects frames until SIGINT/SIGTERM.
    Server,
    /// memif client: sends, measures and reports.
    Client,
}

#[derive(Args, Debug, Clone)]
pub struct BounceArgs {
    #[arg(value_enum)]
    pub link: Link,
    /// ring: 1 = one thread runs both sides in turn; 2 = a thread per side, on the first two
    /// CPUs this process may use.
    #[arg(long, default_value_t = 1)]
    pub cores: usize,
    /// memif: this process's role.
    #[arg(long, value_enum, default_value = "client")]
    pub role: Role,
    /// memif: the socket (abstract unless it starts with a real directory and DPDK is told
    /// otherwise).
    #[arg(long, default_value = "/run/bench-bounce.sock")]
    pub socket: String,
    /// Frames in flight.
    #[arg(long, default_value_t = 32)]
    pub window: usize,
    /// Frame length in bytes (Ethernet header included, no FCS).
    #[arg(long, default_value_t = 64)]
    pub frame: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Seconds before the measurement.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Write the result as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}
