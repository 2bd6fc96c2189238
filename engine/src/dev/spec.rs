//! The port spec users type: which DPDK device a port is.
//!
//! | spec | device |
//! |---|---|
//! | `tap:IFNAME` | net_tap: a Linux tap interface `IFNAME` in the caller's network namespace |
//! | `memif:SOCKET[,server\|client]` | net_memif on the unix socket `SOCKET` (default role: server) |
//! | `af_packet:IFNAME` | net_af_packet on an existing Linux interface (e.g. a veth) |
//! | `ring` | an in-process back-to-back pair of net_ring ports (demos, tests) |
//! | `pci:BDF` | a PCI NIC at `BDF` (bound to vfio-pci or uio) |
//! | `eal:DEVARGS` | anything else, as `rte_dev_probe` devargs (e.g. `eal:net_null0`) |

use std::fmt;
use std::str::FromStr;

/// Which side of a memif connection a port is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemifRole {
    Server,
    Client,
}

/// A parsed port spec (see the module table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSpec {
    Tap { ifname: String },
    Memif { socket: String, role: MemifRole },
    AfPacket { ifname: String },
    Ring,
    Pci { bdf: String },
    Eal { devargs: String },
}

/// A port spec that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad port spec {spec:?}: {why}; expected one of tap:IFNAME, memif:SOCKET[,server|client], \
     af_packet:IFNAME, ring, pci:BDF, eal:DEVARGS"
)]
pub struct SpecError {
    pub spec: String,
    pub why: String,
}

/// Linux limits interface names to 15 bytes (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

fn ifname(spec: &str, name: &str) -> Result<String, SpecError> {
    let bad = |why: &str| SpecError {
        spec: spec.into(),
        why: why.into(),
    };
    if name.is_empty() {
        return Err(bad("the interface name is empty"));
    }
    if name == "." || name == ".." {
        return Err(bad("\".\" and \"..\" are not interface names"));
    }
    if name.len() > IFNAME_MAX {
        return Err(bad("interface names are at most 15 characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(bad("interface names use letters, digits, '-', '_' and '.'"));
    }
    Ok(name.into())
}

impl FromStr for PortSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let bad = |why: &str| SpecError {
            spec: s.into(),
            why: why.into(),
        };
        let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
        match kind {
            "tap" => Ok(PortSpec::Tap {
                ifname: ifname(s, rest)?,
            }),
            "af_packet" => Ok(PortSpec::AfPacket {
                ifname: ifname(s, rest)?,
            }),
            "ring" if rest.is_empty() => Ok(PortSpec::Ring),
            "ring" => Err(bad("ring takes no argument")),
            "memif" => {
                let (socket, role) = match rest.rsplit_once(',') {
                    Some((sock, "server")) => (sock, MemifRole::Server),
                    Some((sock, "client")) => (sock, MemifRole::Client),
                    Some((_, r)) => {
                        return Err(bad(&format!("memif role {r:?} is not server or client")));
                    }
                    None => (rest, MemifRole::Server),
                };
                if socket.is_empty() || socket.contains(',') {
                    return Err(bad("memif needs a socket path without commas"));
                }
                Ok(PortSpec::Memif {
                    socket: socket.into(),
                    role,
                })
            }
            "pci" if !rest.is_empty() => Ok(PortSpec::Pci { bdf: rest.into() }),
            "pci" => Err(bad("pci needs a bus address such as 0000:01:00.0")),
            "eal" if !rest.is_empty() => Ok(PortSpec::Eal {
                devargs: rest.into(),
            }),
            "eal" => Err(bad("eal needs devargs such as net_null0")),
            _ => Err(bad(&format!("unknown port kind {kind:?}"))),
        }
    }
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::Tap { ifname } => write!(f, "tap:{ifname}"),
            PortSpec::AfPacket { ifname } => write!(f, "af_packet:{ifname}"),
            PortSpec::Ring => write!(f, "ring"),
            PortSpec::Memif { socket, role } => {
                let r = if *role == MemifRole::Server {
                    "server"
                } else {
                    "client"
                };
                write!(f, "memif:{socket},{r}")
            }
            PortSpec::Pci { bdf } => write!(f, "pci:{bdf}"),
            PortSpec::Eal { devargs } => write!(f, "eal:{devargs}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        let t = |s: &str| s.parse::<PortSpec>();
        assert_eq!(
            t("tap:dtap0"),
            Ok(PortSpec::Tap {
                ifname: "dtap0".into()
            })
        );
        assert_eq!(
            t("af_packet:veth1"),
            Ok(PortSpec::AfPacket {
                ifname: "veth1".into()
            })
        );
        assert_eq!(t("ring"), Ok(PortSpec::Ring));
        assert_eq!(
            t("memif:/tmp/m.sock,client"),
            Ok(PortSpec::Memif {
                socket: "/tmp/m.sock".into(),
                role: MemifRole::Client
            })
        );
        assert_eq!(
            t("memif:/tmp/m.sock"),
            Ok(PortSpec::Memif {
                socket: "/tmp/m.sock".into(),
                role: MemifRole::Server
            })
        );
        assert_eq!(
            t("pci:0000:01:00.0"),
            Ok(PortSpec::Pci {
                bdf: "0000:01:00.0".into()
            })
        );
        assert_eq!(
            t("eal:net_null0"),
            Ok(PortSpec::Eal {
                devargs: "net_null0".into()
            })
        );
        for s in ["tap:dtap0", "ring", "memif:/x,client", "eal:net_null0"] {
            assert_eq!(t(s).unwrap().to_string().parse::<PortSpec>(), t(s));
        }
    }

    #[test]
    fn rejects_bad_specs_with_a_reason() {
        for s in [
            "",
            "tap:",
            "tap:waytoolonginterfacename",
            "tap:a b",
            "ring:x",
            "memif:",
            "memif:/s,peer",
            "pci:",
            "eal:",
            "usb:1",
        ] {
            let e = s.parse::<PortSpec>().unwrap_err();
            assert!(e.to_string().contains("expected one of"), "{e}");
        }
    }
}
