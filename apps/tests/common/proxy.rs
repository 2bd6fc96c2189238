//! Declared by `tests/proxy.rs` as `#[path = "common/proxy.rs"] mod proxy_peers;` beside
//! `mod common;` and `#[path = "common/tcp.rs"] mod tcp;` (it refers to both).
//!
//! [`ProxyPeers`]: the `proxy` binary between kernel peers.
//!
//! - Two taps: the kernel client in namespace A behind tap A ([`A_KERNEL`] ↔ [`A_PROXY`]), the
//!   kernel server in namespace B behind tap B ([`B_KERNEL`] ↔ [`B_PROXY`]). A DPDK process
//!   creates its taps in its own namespace, so the proxy starts in A with both taps and tap B
//!   is then moved into B (`ip link set TAPB netns B`). net_tap keeps working after the move:
//!   it reads and writes the tun descriptor, which follows the device; it queries link state
//!   only at start-up, before the move.
//! - One tap: the proxy and both kernel peers in namespace A; the upstream is the kernel's own
//!   address on the tap ([`A_KERNEL`]).
//! - An IPv6 upstream ([`ProxyPeers::start_v6_upstream`]): two taps, clients over IPv4 on A,
//!   the proxy's upstream side on both families (`--upstream-ip` twice) and the kernel server
//!   at [`B_KERNEL6`] (`--upstream [fd20::1]:PORT`), IPv6 on in namespace B.
//!
//! Fields drop in order: the proxy is killed (removing its taps) before the namespaces go.

#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;

use crate::common::{Counters, Netns, Proc, eal_args_any_cpu, mac_in_banner, unique_name};
use crate::tcp::{kernel_connect, kernel_listen_on};

pub const A_KERNEL: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 1);
pub const A_PROXY: Ipv4Addr = Ipv4Addr::new(10, 10, 0, 2);
pub const B_KERNEL: Ipv4Addr = Ipv4Addr::new(10, 20, 0, 1);
pub const B_PROXY: Ipv4Addr = Ipv4Addr::new(10, 20, 0, 2);
pub const B_KERNEL6: Ipv6Addr = Ipv6Addr::new(0xfd20, 0, 0, 0, 0, 0, 0, 1);
pub const B_PROXY6: Ipv6Addr = Ipv6Addr::new(0xfd20, 0, 0, 0, 0, 0, 0, 2);
/// The kernel ends' MACs (distinct from the taps' own, checked against the banners).
pub const A_MAC: &str = "02:6b:65:72:6e:0a";
pub const B_MAC: &str = "02:6b:65:72:6e:0b";
/// The port the proxy listens on.
pub const LISTEN: u16 = 8080;

/// The `proxy` binary cargo built for this test run.
pub fn proxy_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_proxy"))
}

/// A running proxy and the namespaces of its kernel peers.
pub struct ProxyPeers {
    pub proxy: Proc,
    pub tap_a: String,
    /// Two taps: tap B, in namespace B.
    pub tap_b: Option<String>,
    pub ns_a: Netns,
    pub ns_b: Option<Netns>,
    /// Where the kernel server must listen (B_KERNEL, B_KERNEL6, or A_KERNEL with one tap).
    pub upstream: IpAddr,
}

impl ProxyPeers {
    /// Starts `proxy` (every counter printed at exit) toward the kernel's `upstream_port`, on
    /// two taps (`two`) or one, waits until it is ready and configures the kernel ends.
    pub fn start(two: bool, upstream_port: u16) -> ProxyPeers {
        ProxyPeers::start_with(two, upstream_port, &[])
    }

    /// [`ProxyPeers::start`] with further proxy options.
    pub fn start_with(two: bool, upstream_port: u16, extra: &[&str]) -> ProxyPeers {
        ProxyPeers::start_opts(two, false, upstream_port, extra)
    }

    /// Two taps, the upstream server at `[B_KERNEL6]:upstream_port` (see the module's doc).
    pub fn start_v6_upstream(upstream_port: u16) -> ProxyPeers {
        ProxyPeers::start_opts(true, true, upstream_port, &[])
    }

    fn start_opts(two: bool, v6: bool, upstream_port: u16, extra: &[&str]) -> ProxyPeers {
        let ns_a = Netns::new();
        let ns_b = two.then(|| if v6 { Netns::with_ipv6() } else { Netns::new() });
        let tap_a = unique_name("pa");
        let tap_b = two.then(|| unique_name("pb"));
        let upstream: IpAddr = match (two, v6) {
            (true, true) => B_KERNEL6.into(),
            (true, false) => B_KERNEL.into(),
            (false, _) => A_KERNEL.into(),
        };
        let port_a = format!("tap:{tap_a}");
        let ip_a = format!("{A_PROXY}/24");
        let listen = LISTEN.to_string();
        let up = SocketAddr::new(upstream, upstream_port).to_string();
        let eal = eal_args_any_cpu();
        let mut args = vec![
            "--port",
            &port_a,
            "--ip",
            &ip_a,
            "--listen",
            &listen,
            "--upstream",
            &up,
            "--all-counters",
        ];
        if !extra.iter().any(|a| a.starts_with("--eal-args")) {
            args.push(&eal);
        }
        let (port_b, ip_b, ip_b6) = (
            tap_b.as_ref().map(|t| format!("tap:{t}")),
            format!("{B_PROXY}/24"),
            format!("{B_PROXY6}/64"),
        );
        if let Some(p) = &port_b {
            args.extend_from_slice(&["--upstream-port", p, "--upstream-ip", &ip_b]);
            if v6 {
                args.extend_from_slice(&["--upstream-ip", &ip_b6]);
            }
        }
        args.extend_from_slice(extra);
        let mut proxy = ns_a.spawn(proxy_bin(), &args);
        let banner_a = proxy.wait_for_line(|l| l.starts_with("proxy: client port"));
        assert_ne!(mac_in_banner(&banner_a), A_MAC, "distinct MACs");
        proxy.wait_for_line(|l| l == "proxy: ready");
        ns_a.wait_for_link(&tap_a);
        ns_a.configure_peer(&tap_a, &format!("{A_KERNEL}/24"), Some(A_MAC));
        if let (Some(tb), Some(nb)) = (&tap_b, &ns_b) {
            let banner_b = proxy.wait_for_line(|l| l.starts_with("proxy: upstream port"));
            assert_ne!(mac_in_banner(&banner_b), B_MAC, "distinct MACs");
            ns_a.wait_for_link(tb);
            ns_a.ip(&["link", "set", "dev", tb, "netns", nb.name()]);
            nb.wait_for_link(tb);
            nb.configure_peer(tb, &format!("{B_KERNEL}/24"), Some(B_MAC));
            if v6 {
                nb.add_addr(tb, &format!("{B_KERNEL6}/64"));
            }
        }
        ProxyPeers {
            proxy,
            tap_a,
            tap_b,
            ns_a,
            ns_b,
            upstream,
        }
    }

    /// The namespace of the kernel server.
    pub fn server_ns(&self) -> &Netns {
        self.ns_b.as_ref().unwrap_or(&self.ns_a)
    }

    /// A kernel listener for the upstream server, on `0.0.0.0:port` (or `[::]:port` for an
    /// IPv6 upstream) of its namespace.
    pub fn listen(&self, port: u16) -> TcpListener {
        let any: IpAddr = match self.upstream {
            IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        };
        kernel_listen_on(self.server_ns(), SocketAddr::new(any, port))
    }

    /// A kernel client connection from namespace A to the proxy.
    pub fn connect(&self) -> std::io::Result<TcpStream> {
        kernel_connect(&self.ns_a, A_PROXY, LISTEN)
    }

    /// Stops the proxy with SIGINT; asserts a clean exit with nothing on stderr and returns
    /// the counters it printed.
    pub fn stop(self) -> Counters {
        let ProxyPeers {
            proxy, ns_a, ns_b, ..
        } = self;
        let done = proxy.stop_cleanly("proxy");
        drop(ns_b);
        drop(ns_a);
        done.counters()
    }
}
