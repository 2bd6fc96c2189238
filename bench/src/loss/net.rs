//! The real link of the loss cells: a veth pair between a sender namespace and a receiver
//! namespace, one pair for the engine and a twin for Linux, with nftables in the receiver's
//! namespace dropping a share of the data segments that arrive for the sink.
//!
//! Both pairs are alike: MTU 1500, checksum, segmentation and receive offloads off on both
//! ends (so that the engine on `net_af_packet` gets complete checksums and MTU-sized frames,
//! notes/kernel-peer-testing.md, and so that Linux sends MSS-sized segments, as the engine
//! does, and nftables sees and drops one segment at a time rather than a GSO super-packet).
//! The engine's end has no address (the engine owns it through af_packet; the kernel must not
//! answer for it); Linux's end has the sender's address. IPv6 is off on all four ends. Offloads are set through the
//! `SIOCETHTOOL` ioctl by `bench set-offloads` run inside the namespace (ethtool is not
//! installed here).
//!
//! The nftables table `bench_loss` lives in the receiver's namespace (deleted with it):
//! an input-hook chain at raw priority counts every IPv4 TCP segment to the sink's port longer
//! than 80 bytes (`seen`), and drops `numgen random mod 1000 < N` of them (`dropped`). 80
//! bytes: a segment without data (SYN, ACK, FIN) is at most 60 bytes long with its options, a
//! full data segment 1500, so the handshake and the close are never dropped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

use crate::child::run;
use crate::netns::Netns;

/// The sink's TCP port on both pairs.
pub const SINK_PORT: u16 = 5001;

/// Which stack sends on a pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sender {
    /// The engine (loadgen on net_af_packet on the sender's veth end).
    Engine,
    /// Linux (loadgen --stack kernel in the sender's namespace).
    Linux,
}

impl Sender {
    pub fn key(self) -> &'static str {
        match self {
            Sender::Engine => "engine",
            Sender::Linux => "linux",
        }
    }
}

/// One veth pair with its two namespaces.
#[derive(Debug)]
pub struct LossPair {
    pub sender: Netns,
    pub receiver: Netns,
    pub sender_if: String,
    pub receiver_if: String,
    pub sender_ip: String,
    pub receiver_ip: String,
    nft_file: PathBuf,
}

/// The nftables counters of one cell.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct NftCounters {
    /// Data segments that reached the receiver's input hook, and their IP bytes.
    pub seen_segs: u64,
    pub seen_bytes: u64,
    /// Those dropped, and their IP bytes.
    pub dropped_segs: u64,
    pub dropped_bytes: u64,
}

/// Checks that the tools the loss cells need are here; one message naming the fix if not.
pub fn check_tools() -> Result<(), String> {
    for (tool, arg, pkg) in [
        ("nft", "--version", "nftables"),
        ("nstat", "-V", "iproute2"),
        ("taskset", "-V", "util-linux"),
    ] {
        if run(&[tool, arg]).is_err() {
            return Err(format!(
                "the loss cells need `{tool}`: install the Debian package {pkg} \
                 (apt-get install {pkg}; scripts/deps.sh lists it)"
            ));
        }
    }
    Ok(())
}

impl LossPair {
    /// Creates the pair for `sender`: namespaces `bench-ls{e,l}-PID` and `bench-lr{e,l}-PID`,
    /// subnet 10.212.{1,2}.0/24 (sender .1, receiver .2), offloads off through `bench`.
    pub fn create(sender: Sender, bench: &Path, logs: &Path) -> Result<LossPair, String> {
        let (tag, net) = match sender {
            Sender::Engine => ('e', 1),
            Sender::Linux => ('l', 2),
        };
        let s = Netns::create(&format!("ls{tag}"))?;
        let r = Netns::create(&format!("lr{tag}"))?;
        let pid = std::process::id();
        let (si, ri) = (format!("bl{pid}{tag}s"), format!("bl{pid}{tag}r"));
        run(&[
            "ip", "link", "add", &si, "netns", &s.name, "type", "veth", "peer", "name", &ri,
            "netns", &r.name,
        ])?;
        let pair = LossPair {
            sender: s,
            receiver: r,
            sender_if: si,
            receiver_if: ri,
            sender_ip: format!("10.212.{net}.1"),
            receiver_ip: format!("10.212.{net}.2"),
            nft_file: logs.join(format!("loss-{}.nft", sender.key())),
        };
        let bench = bench.display().to_string();
        for (ns, ifn) in [
            (&pair.sender, &pair.sender_if),
            (&pair.receiver, &pair.receiver_if),
        ] {
            ns.exec(&[&bench, "set-offloads", ifn])
                .map_err(|e| format!("switching the offloads of {ifn} off: {e}"))?;
            // IPv4 only: no router solicitations or MLD reports on the link.
            ns.sysctl(&format!("net.ipv6.conf.{ifn}.disable_ipv6"), "1")?;
            ns.ip(&["link", "set", ifn, "mtu", "1500", "up"])?;
        }
        if sender == Sender::Linux {
            pair.sender.ip(&[
                "addr",
                "add",
                &format!("{}/24", pair.sender_ip),
                "dev",
                &pair.sender_if,
            ])?;
        }
        pair.receiver.ip(&[
            "addr",
            "add",
            &format!("{}/24", pair.receiver_ip),
            "dev",
            &pair.receiver_if,
        ])?;
        Ok(pair)
    }

    /// (Re)creates the nftables table with a drop rate of `per_mille` / 1000 and zeroed
    /// counters.
    pub fn set_loss(&self, per_mille: u32) -> Result<(), String> {
        let _ = self
            .receiver
            .exec(&["nft", "delete", "table", "inet", "bench_loss"]);
        let m = "ip protocol tcp tcp dport";
        let rules = format!(
            "table inet bench_loss {{\n  counter seen {{ }}\n  counter dropped {{ }}\n  \
             chain input {{\n    type filter hook input priority raw; policy accept;\n    \
             {m} {SINK_PORT} ip length > 80 counter name \"seen\"\n    \
             {m} {SINK_PORT} ip length > 80 numgen random mod 1000 < {per_mille} \
             counter name \"dropped\" drop\n  }}\n}}\n"
        );
        std::fs::write(&self.nft_file, rules)
            .map_err(|e| format!("cannot write {}: {e}", self.nft_file.display()))?;
        self.receiver
            .exec(&["nft", "-f", &self.nft_file.display().to_string()])
            .map(|_| ())
    }

    /// The table's counters now.
    pub fn counters(&self) -> Result<NftCounters, String> {
        let text = self.receiver.exec(&[
            "nft",
            "-j",
            "list",
            "counters",
            "table",
            "inet",
            "bench_loss",
        ])?;
        parse_counters(&text)
    }
}

/// The `seen` and `dropped` counters of `nft -j list counters`.
fn parse_counters(text: &str) -> Result<NftCounters, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("nft's JSON: {e}: {text}"))?;
    let mut c = NftCounters::default();
    let (mut seen, mut dropped) = (false, false);
    for item in v["nftables"].as_array().into_iter().flatten() {
        let Some(k) = item.get("counter") else {
            continue;
        };
        let (p, b) = (k["packets"].as_u64(), k["bytes"].as_u64());
        match (k["name"].as_str(), p, b) {
            (Some("seen"), Some(p), Some(b)) => {
                (c.seen_segs, c.seen_bytes, seen) = (p, b, true);
            }
            (Some("dropped"), Some(p), Some(b)) => {
                (c.dropped_segs, c.dropped_bytes, dropped) = (p, b, true);
            }
            _ => {}
        }
    }
    if seen && dropped {
        Ok(c)
    } else {
        Err(format!("nft listed no seen and dropped counters: {text}"))
    }
}

/// Every counter of `nstat -asz` inside `ns` (absolute values, history untouched).
pub fn nstat(ns: &Netns) -> Result<BTreeMap<String, u64>, String> {
    Ok(parse_nstat(&ns.exec(&["nstat", "-asz"])?))
}

/// `Name value rate` lines (after the `#kernel` header).
fn parse_nstat(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// `bench set-offloads IFNAME`: offloads off through SIOCETHTOOL (run inside the namespace).
// ---------------------------------------------------------------------------------------------

const ETHTOOL_GTXCSUM: u32 = 0x16;
const ETHTOOL_STXCSUM: u32 = 0x17;
const ETHTOOL_GTSO: u32 = 0x1e;
const ETHTOOL_STSO: u32 = 0x1f;
const ETHTOOL_GGSO: u32 = 0x23;
const ETHTOOL_SGSO: u32 = 0x24;
const ETHTOOL_GGRO: u32 = 0x2b;
const ETHTOOL_SGRO: u32 = 0x2c;

/// `struct ethtool_value`.
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// One ethtool get or set on `ifname` through `fd`.
fn ethtool(fd: i32, ifname: &str, cmd: u32, data: u32) -> Result<u32, String> {
    let mut v = EthtoolValue { cmd, data };
    // SAFETY: ifreq is plain data; zero is a valid start.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if ifname.len() >= req.ifr_name.len() {
        return Err(format!("interface name {ifname} is too long"));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(ifname.bytes()) {
        *d = s as libc::c_char;
    }
    req.ifr_ifru.ifru_data = (&mut v as *mut EthtoolValue).cast();
    // SAFETY: req names the interface and points at v, which outlives the call.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCETHTOOL, &mut req) };
    if rc != 0 {
        return Err(format!(
            "SIOCETHTOOL {cmd:#x} on {ifname}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(v.data)
}

/// Switches checksum, TSO, GSO and GRO off on `ifname` and checks they stay off.
fn offloads_off(ifname: &str) -> Result<(), String> {
    // SAFETY: plain syscall; the descriptor is closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    let res = (|| {
        for set in [ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_SGRO, ETHTOOL_STXCSUM] {
            ethtool(fd, ifname, set, 0)?;
        }
        for (get, name) in [
            (ETHTOOL_GTXCSUM, "tx-checksumming"),
            (ETHTOOL_GTSO, "tcp-segmentation-offload"),
            (ETHTOOL_GGSO, "generic-segmentation-offload"),
            (ETHTOOL_GGRO, "generic-receive-offload"),
        ] {
            if ethtool(fd, ifname, get, 0)? != 0 {
                return Err(format!("{name} is still on for {ifname}"));
            }
        }
        Ok(())
    })();
    // SAFETY: fd is ours and open.
    unsafe { libc::close(fd) };
    res
}

/// `bench set-offloads IFNAME`.
pub fn set_offloads_main(ifname: &str) -> ExitCode {
    match offloads_off(ifname) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench set-offloads: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nft_counters_are_read_from_its_json() {
        let text = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}},
            {"counter": {"family": "inet", "name": "seen", "table": "bench_loss",
             "handle": 2, "packets": 1842, "bytes": 2763000}},
            {"counter": {"family": "inet", "name": "dropped", "table": "bench_loss",
             "handle": 3, "packets": 18, "bytes": 27000}}]}"#;
        let c = parse_counters(text).unwrap();
        assert_eq!(
            c,
            NftCounters {
                seen_segs: 1842,
                seen_bytes: 2_763_000,
                dropped_segs: 18,
                dropped_bytes: 27_000
            }
        );
        assert!(parse_counters(r#"{"nftables": []}"#).is_err());
        assert!(parse_counters("not json").is_err());
    }

    #[test]
    fn nstat_lines_are_parsed() {
        let m = parse_nstat(
            "#kernel\nTcpRetransSegs                  1043               0.0\n\
             TcpExtTCPTimeouts               0                  0.0\n",
        );
        assert_eq!(m.get("TcpRetransSegs"), Some(&1043));
        assert_eq!(m.get("TcpExtTCPTimeouts"), Some(&0));
        assert_eq!(m.len(), 2);
    }
}
