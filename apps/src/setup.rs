//! What every program does first: parse the port and address options, start the EAL, create
//! the pools, open the port. Every failure becomes one [`SetupError`] whose message names the
//! cause and the fix; the programs print it and exit non-zero.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use engine::StackConfig;
use engine::buf::{PoolError, PoolSizes, Pools};
use engine::dev::dpdk::{Port, PortConfig, PortError, Want};
use engine::dev::spec::{PortSpec, SpecError};
use engine::eal::{self, Eal, EalConfig, EalError};
pub use engine::ip::IpCidr;
pub use engine::tcp::congestion::CcKind;

/// Parses `--ip ADDR/PREFIX` (either family) with the engine's parser, whose error names the
/// bad value and the expected form in one line.
pub fn parse_cidr(s: &str) -> Result<IpCidr, String> {
    s.parse().map_err(|e: engine::ip::BadCidr| e.to_string())
}

/// Parses `--cc NAME` with the engine's names (`cubic`, `newreno` or `reno`); the error names
/// the bad value and the choices.
pub fn parse_cc(s: &str) -> Result<CcKind, String> {
    CcKind::from_name(s).ok_or_else(|| {
        format!("unknown congestion control `{s}`: use cubic or newreno (reno is the same)")
    })
}

/// The message for `--cc` given with `--stack kernel`.
pub const CC_KERNEL: &str = "--cc is for the engine stack; the kernel's algorithm is the sysctl \
                             net.ipv4.tcp_congestion_control (loadgen: --congestion NAME)";

/// The text of a list of addresses, `10.0.0.2/24 fd00::2/64`.
pub fn cidrs(addrs: &[IpCidr]) -> String {
    addrs
        .iter()
        .map(IpCidr::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn family(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() { "IPv4" } else { "IPv6" }
}

/// An address of ours on `ip`'s link to suggest in a message: host 1 of its /24 (IPv4) or
/// /64 (IPv6), or host 2 when `ip` is that host.
fn suggest_cidr(ip: IpAddr) -> IpCidr {
    match ip {
        IpAddr::V4(a) => {
            let net = a.to_bits() & 0xffff_ff00;
            let host = if a.to_bits() & 0xff == 1 { 2 } else { 1 };
            IpCidr::new(Ipv4Addr::from_bits(net | host), 24)
        }
        IpAddr::V6(a) => {
            let net = a.to_bits() & !u128::from(u64::MAX);
            let host = if a.to_bits() & u128::from(u64::MAX) == 1 {
                2
            } else {
                1
            };
            IpCidr::new(Ipv6Addr::from_bits(net | host), 64)
        }
    }
}

/// The gateways of `--gateway` (at most one of each family).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gateways {
    pub v4: Option<Ipv4Addr>,
    pub v6: Option<Ipv6Addr>,
}

impl Gateways {
    /// Sorts `--gateway` values (`opt` names the option in errors) by family: at most one
    /// per family, and each of a family that `addrs` has.
    pub fn new(gws: &[IpAddr], addrs: &[IpCidr], opt: &str) -> Result<Gateways, SetupError> {
        let mut g = Gateways::default();
        for &gw in gws {
            let dup = match gw {
                IpAddr::V4(a) => g.v4.replace(a).is_some(),
                IpAddr::V6(a) => g.v6.replace(a).is_some(),
            };
            if dup {
                return Err(SetupError::Other(format!(
                    "{opt} is given twice for {}: give at most one gateway of each family",
                    family(gw)
                )));
            }
            if !addrs.iter().any(|c| c.addr.is_ipv4() == gw.is_ipv4()) {
                return Err(SetupError::Other(format!(
                    "{opt} {gw} is {} but no address of ours is: add one on its link, e.g. {}",
                    family(gw),
                    suggest_cidr(gw)
                )));
            }
        }
        Ok(g)
    }

    fn for_family(&self, ip: IpAddr) -> Option<IpAddr> {
        match ip {
            IpAddr::V4(_) => self.v4.map(IpAddr::V4),
            IpAddr::V6(_) => self.v6.map(IpAddr::V6),
        }
    }
}

/// Fails unless the engine, with `addrs` (given with option `ip_opt`) and `gateways`, can
/// reach `dst` (`what`, e.g. `--target [fd00::2]:7`): an address of `dst`'s family, and
/// `dst` on the link of one of them or a gateway of that family. `off_link_fix` ends the
/// message when only a gateway is missing.
pub fn check_route(
    what: &str,
    dst: IpAddr,
    addrs: &[IpCidr],
    gateways: Gateways,
    ip_opt: &str,
    off_link_fix: &str,
) -> Result<(), SetupError> {
    let fam = family(dst);
    let same: Vec<&IpCidr> = addrs
        .iter()
        .filter(|c| c.addr.is_ipv4() == dst.is_ipv4())
        .collect();
    if same.is_empty() {
        return Err(SetupError::Other(format!(
            "{what} is {fam} but no {ip_opt} is {fam}: add {ip_opt} {}",
            suggest_cidr(dst)
        )));
    }
    if gateways.for_family(dst).is_some() || same.iter().any(|c| c.contains(dst)) {
        return Ok(());
    }
    let nets: Vec<String> = same.iter().map(|c| c.to_string()).collect();
    Err(SetupError::Other(format!(
        "{what} is not on the link of {} and no {fam} gateway is set: {off_link_fix}",
        nets.join(" or ")
    )))
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
    /// The engine's address and prefix, IPv4 or IPv6 (10.0.0.2/24, fd00::2/64). Repeat it
    /// for more addresses (--ip 10.0.0.2/24 --ip fd00::2/64): the engine answers on every one,
    /// serves both families on the same TCP port and connects from the one of the target's
    /// family.
    #[arg(long, value_parser = parse_cidr, action = clap::ArgAction::Append, required = true)]
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
    /// Congestion control of the engine's connections: cubic (the default: RFC 9438 with
    /// HyStart++) or newreno (RFC 5681, RFC 6582; also spelt reno).
    #[arg(long = "cc", value_name = "ALGORITHM", value_parser = parse_cc)]
    pub cc: Option<CcKind>,
}

fn parse_spec(s: &str) -> Result<PortSpec, String> {
    s.parse().map_err(|e: SpecError| e.to_string())
}

impl PortArgs {
    /// The gateways, sorted by family (an error names a second one of a family).
    pub fn gateways(&self) -> Result<Gateways, SetupError> {
        Gateways::new(&self.gateway, &self.ip, "--gateway")
    }

    /// The stack's configuration: every `--ip`, the gateways, `--seed`, `--rx-burst`, `--cc`.
    pub fn stack_config(&self) -> Result<StackConfig, SetupError> {
        let gw = self.gateways()?;
        let mut cfg = StackConfig::with_addrs(self.ip.clone());
        cfg.gateway = gw.v4;
        cfg.gateway6 = gw.v6;
        cfg.seed = self.seed;
        if let Some(b) = self.rx_burst {
            cfg.rx_burst = b;
        }
        if let Some(cc) = self.cc {
            cfg.tcp.congestion = cc;
        }
        Ok(cfg)
    }

    /// Fails unless the engine can reach `dst` (see [`check_route`]).
    pub fn check_route(
        &self,
        what: &str,
        dst: IpAddr,
        off_link_fix: &str,
    ) -> Result<(), SetupError> {
        check_route(what, dst, &self.ip, self.gateways()?, "--ip", off_link_fix)
    }
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
    open_port_sized(eal, args, queues, prefix, &PoolSizes::default())
}

/// [`open_port`] with pools of `sizes`.
pub fn open_port_sized(
    eal: Eal,
    args: &PortArgs,
    queues: u16,
    prefix: &str,
    sizes: &PoolSizes,
) -> Result<(Port, Vec<Pools>), SetupError> {
    let pools = (0..queues)
        .map(|q| Pools::create(&format!("{prefix}{q}"), sizes))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cidrs(list: &[&str]) -> Vec<IpCidr> {
        list.iter().map(|s| s.parse().expect("cidr")).collect()
    }

    fn err(r: Result<(), SetupError>) -> String {
        r.expect_err("an error").to_string()
    }

    #[test]
    fn routes_need_an_address_of_the_family_and_a_link_or_gateway() {
        let v4 = cidrs(&["10.0.0.1/24"]);
        let both = cidrs(&["10.0.0.1/24", "fd00::1/64"]);
        let none = Gateways::default();
        let route = |dst: &str, addrs: &[IpCidr], gw| {
            check_route("--target X", dst.parse().unwrap(), addrs, gw, "--ip", "FIX")
        };
        assert_eq!(
            err(route("fd00::2", &v4, none)),
            "--target X is IPv6 but no --ip is IPv6: add --ip fd00::1/64"
        );
        assert_eq!(
            err(route("fd00::1", &v4, none)),
            "--target X is IPv6 but no --ip is IPv6: add --ip fd00::2/64"
        );
        assert_eq!(
            err(route("10.9.0.7", &cidrs(&["fd00::1/64"]), none)),
            "--target X is IPv4 but no --ip is IPv4: add --ip 10.9.0.1/24"
        );
        assert!(route("fd00::2", &both, none).is_ok());
        assert!(route("10.0.0.2", &both, none).is_ok());
        assert_eq!(
            err(route("fd09::2", &both, none)),
            "--target X is not on the link of fd00::1/64 and no IPv6 gateway is set: FIX"
        );
        let gw6 = Gateways::new(&["fd00::fe".parse().unwrap()], &both, "--gateway").unwrap();
        assert!(route("fd09::2", &both, gw6).is_ok());
        assert!(route("10.9.0.2", &both, gw6).is_err(), "no IPv4 gateway");
    }

    #[test]
    fn gateways_are_one_per_family_of_an_address_we_have() {
        let both = cidrs(&["10.0.0.1/24", "fd00::1/64"]);
        let gws: Vec<IpAddr> = vec!["10.0.0.254".parse().unwrap(), "fd00::fe".parse().unwrap()];
        let g = Gateways::new(&gws, &both, "--gateway").unwrap();
        assert_eq!(g.v4, Some("10.0.0.254".parse().unwrap()));
        assert_eq!(g.v6, Some("fd00::fe".parse().unwrap()));
        let twice: Vec<IpAddr> = vec!["10.0.0.254".parse().unwrap(), "10.0.0.253".parse().unwrap()];
        assert!(Gateways::new(&twice, &both, "--gateway").is_err());
        let v4 = cidrs(&["10.0.0.1/24"]);
        assert!(Gateways::new(&gws, &v4, "--gateway").is_err());
    }
}
