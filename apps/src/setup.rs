//! What every program does first: parse the port and address options, start the EAL, create
//! the pools, open the port. Every failure becomes one [`SetupError`] whose message names the
//! cause and the fix; the programs print it and exit non-zero.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use engine::buf::{PoolError, PoolSizes, Pools};
use engine::dev::dpdk::{Port, PortConfig, PortError, Want};
use engine::dev::spec::{PortSpec, SpecError};
use engine::eal::{self, Eal, EalConfig, EalError};

/// An IPv4 address with its prefix length, as typed: `10.0.0.2/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("bad address {s:?}: expected ADDR/PREFIX such as 10.0.0.2/24");
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if prefix > 32 || addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// `auto`, `on` (required) or `off`, for offload options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WantArg {
    Auto,
    On,
    Off,
}

impl From<WantArg> for Want {
    fn from(w: WantArg) -> Want {
        match w {
            WantArg::Auto => Want::Auto,
            WantArg::On => Want::Require,
            WantArg::Off => Want::Off,
        }
    }
}

/// The options that choose and configure the port, shared by every program.
#[derive(clap::Args, Clone, Debug)]
pub struct PortArgs {
    /// The port: tap:IFNAME, memif:SOCKET[,server|client], af_packet:IFNAME, ring, pci:BDF or
    /// eal:DEVARGS.
    #[arg(long, value_parser = parse_spec)]
    pub port: PortSpec,
    /// The engine's address and prefix, e.g. 10.0.0.2/24.
    #[arg(long, value_parser = Cidr::from_str)]
    pub ip: Cidr,
    /// Gateway for off-link destinations.
    #[arg(long)]
    pub gateway: Option<Ipv4Addr>,
    /// IP MTU to set on the port (default: the port's own).
    #[arg(long)]
    pub mtu: Option<u16>,
    /// TCP segmentation offload: auto (if the port has it), on (required), off.
    #[arg(long, value_enum, default_value = "auto")]
    pub tso: WantArg,
    /// IPv4/TCP checksum offload: auto, on (required), off.
    #[arg(long, value_enum, default_value = "auto")]
    pub csum_offload: WantArg,
    /// Memory for DPDK, MiB (ordinary pages unless --eal-args says otherwise).
    #[arg(long, default_value_t = 1024)]
    pub memory_mb: u32,
    /// Further raw EAL arguments, space-separated (e.g. "--log-level=debug").
    #[arg(long, allow_hyphen_values = true)]
    pub eal_args: Option<String>,
    /// Frames per receive burst (default 8, for latency; 32 suits bulk transfers).
    #[arg(long)]
    pub rx_burst: Option<usize>,
    /// Seed for the engine's random choices (ISN and port secrets), for reproducible runs and
    /// tests only: without it the secrets come from the operating system (RFC 6528, RFC 6056).
    #[arg(long)]
    pub seed: Option<u64>,
}

fn parse_spec(s: &str) -> Result<PortSpec, String> {
    s.parse().map_err(|e: SpecError| e.to_string())
}

/// Why a program could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Eal(#[from] EalError),
    #[error("{0}")]
    Pool(#[from] PoolError),
    #[error("{0}")]
    Port(#[from] PortError),
    #[error("{0}")]
    Other(String),
}

/// The EAL configuration for `args` (PCI scanning only when a PCI port is asked for).
pub fn eal_config(args: &PortArgs, cores: Option<String>) -> EalConfig {
    let mut cfg = EalConfig {
        cores,
        memory_mb: args.memory_mb,
        ..EalConfig::default()
    };
    if let PortSpec::Pci { bdf } = &args.port {
        cfg.no_pci = false;
        cfg.allow_pci.push(bdf.clone());
    }
    if let Some(extra) = &args.eal_args {
        cfg.extra_args
            .extend(extra.split_whitespace().map(String::from));
    }
    cfg
}

/// Starts DPDK for `args`.
pub fn start_eal(args: &PortArgs, cores: Option<String>) -> Result<Eal, SetupError> {
    Ok(eal::init(&eal_config(args, cores))?)
}

/// Creates one set of pools per queue and opens the port with `queues` queue pairs.
pub fn open_port(
    eal: Eal,
    args: &PortArgs,
    queues: u16,
    prefix: &str,
) -> Result<(Port, Vec<Pools>), SetupError> {
    let pools = (0..queues)
        .map(|q| Pools::create(&format!("{prefix}{q}"), &PoolSizes::default()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut cfg = PortConfig::new(pools[0].data);
    cfg.rx_pools = pools.iter().map(|p| p.data).collect();
    cfg.rx_queues = queues;
    cfg.tx_queues = queues;
    cfg.mtu = args.mtu;
    cfg.tso = args.tso.into();
    cfg.checksum = args.csum_offload.into();
    let port = Port::open(eal, &args.port, &cfg)?;
    Ok((port, pools))
}

/// A one-line description of a port for start-up banners.
pub fn describe(port: &Port) -> String {
    let c = &port.caps;
    let mut off = Vec::new();
    if c.tx.tso {
        off.push("tso");
    }
    if c.tx.tcp_cksum {
        off.push("tx-csum");
    }
    if c.rx_tcp_cksum {
        off.push("rx-csum");
    }
    if off.is_empty() {
        off.push("none");
    }
    format!(
        "port {} ({}) mac {} mtu {} offloads {} queues {}",
        port.spec,
        c.driver,
        c.mac,
        c.mtu,
        off.join(","),
        port.rx_queues
    )
}

/// Parses the command line; a usage error prints ONE line (`PROG: error: ...`, without clap's
/// hints) and exits with status 2; `--help` and `--version` print as usual.
pub fn parse_args<T: clap::Parser>(prog: &str) -> T {
    match T::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            // clap's message is a first line plus indented details (e.g. which required
            // arguments are missing) and a usage block after a blank line: keep the first
            // paragraph, joined into one line.
            let text = e.to_string();
            let msg: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let msg = msg.join(" ");
            let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
            eprintln!("{prog}: {msg} (see {prog} --help)");
            std::process::exit(2);
        }
    }
}
