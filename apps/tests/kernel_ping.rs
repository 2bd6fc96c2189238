//! The Linux kernel as the engine's peer (issue 2, "must show"): the real `serve` binary on a
//! net_tap in a private network namespace, the kernel on the tap's other end.
//!
//! - The kernel pings the engine and gets every reply; its neighbour table holds the engine's
//!   MAC; serve's counters at exit account for the echoes and the ARP exchange.
//! - With `--ip` given twice (an IPv4 and an IPv6 address), the kernel pings the engine over
//!   IPv6 (ICMPv6 echo, after Neighbor Discovery) and over IPv4, every echo answered, and its
//!   neighbour table holds the engine's MAC for both addresses.
//! - Frames with malformed IPv4 headers (bad checksum, truncated header, IHL below 5 or past the
//!   frame, bad version, total length past the frame or below the header), written from the
//!   kernel's side with a raw AF_PACKET socket, are counted in the counters
//!   `engine/src/iface/input.rs` assigns them and dropped; the engine keeps answering pings.

mod common;

use std::net::Ipv4Addr;

use common::frames::{self, IP};
use common::raw::RawSocket;
use common::{Counters, Netns, Proc, counter, eal_args_any_cpu, mac_in_banner, serve_bin};

const KERNEL_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const ENGINE_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const KERNEL_IP6: &str = "fd77::1";
const ENGINE_IP6: &str = "fd77::2";
/// The MAC given to the kernel's end of the tap. net_tap gives the kernel's interface the
/// engine's own MAC by default, which would make "the kernel learned the engine's MAC" vacuous.
const KERNEL_MAC: &str = "02:6b:65:72:6e:01";

/// serve running on a tap whose kernel end is configured. Fields drop in order: serve is
/// stopped (killed if the test failed before [`Peer::stop`]) before the namespace goes.
struct Peer {
    serve: Proc,
    tap: String,
    engine_mac: String,
    ns: Netns,
}

impl Peer {
    fn start() -> Peer {
        Peer::start_with(false)
    }

    /// With `ipv6`, serve also has [`ENGINE_IP6`] and the kernel [`KERNEL_IP6`] (IPv6 on in
    /// the namespace).
    fn start_with(ipv6: bool) -> Peer {
        let ns = if ipv6 {
            Netns::with_ipv6()
        } else {
            Netns::new()
        };
        let tap = common::unique_name("tk");
        let port = format!("tap:{tap}");
        let ip = format!("{ENGINE_IP}/24");
        let ip6 = format!("{ENGINE_IP6}/64");
        let eal = eal_args_any_cpu();
        let mut args = vec!["--port", &port, "--ip", &ip, "--all-counters", &eal];
        if ipv6 {
            args.extend_from_slice(&["--ip", &ip6]);
        }
        let mut serve = ns.spawn(serve_bin(), &args);
        let banner = serve.wait_for_line(|l| l.starts_with("serve: port"));
        serve.wait_for_line(|l| l == "serve: ready");
        let engine_mac = mac_in_banner(&banner);
        assert_ne!(engine_mac, KERNEL_MAC, "the test needs distinct MACs");
        ns.wait_for_link(&tap);
        ns.configure_peer(&tap, &format!("{KERNEL_IP}/24"), Some(KERNEL_MAC));
        if ipv6 {
            ns.add_addr(&tap, &format!("{KERNEL_IP6}/64"));
        }
        Peer {
            serve,
            tap,
            engine_mac,
            ns,
        }
    }

    /// Pings the engine `count` times from the kernel and asserts that every reply came. On
    /// failure, the message shows both sides' view: the kernel's link and ICMP counters and
    /// neighbour entry, and serve's counters (serve is stopped to get them).
    fn ping_all(self, count: u32) -> Peer {
        self.ping_all_at(&ENGINE_IP.to_string(), count)
    }

    /// [`Peer::ping_all`] to `dst`, either family.
    fn ping_all_at(self, dst: &str, count: u32) -> Peer {
        let r = self.ns.ping(dst, count, "0.01");
        if r.success && r.transmitted == count && r.received == count {
            let summary = r.output.lines().find(|l| l.contains("packets transmitted"));
            eprintln!("ping {dst}: {}", summary.unwrap_or_default());
            return self;
        }
        let link = self.ns.ip(&["-s", "link", "show", "dev", &self.tap]);
        let neigh = self.ns.neighbour(dst, &self.tap);
        let nstat = self
            .ns
            .exec(&["nstat", "-asz", "Icmp*", "Ip*", "Ip6*", "Icmp6*"]);
        let nstat = String::from_utf8_lossy(&nstat.stdout).into_owned();
        let serve = self.serve.stop();
        panic!(
            "{count} pings, every one answered: {r:?}\nkernel link:\n{link}\nneighbour: \
             {neigh}\nkernel counters:\n{nstat}\nserve: {serve:?}"
        );
    }

    /// Asserts that the kernel's neighbour table holds the engine's MAC for `ip` (`ip neigh`,
    /// `ip -6 neigh`), resolved.
    fn assert_neighbour(&self, ip: &str) {
        let neigh = self.ns.neighbour(ip, &self.tap);
        assert!(
            neigh.contains(&format!("lladdr {}", self.engine_mac)),
            "the kernel's neighbour table holds the engine's MAC {} for {ip}: {neigh:?}",
            self.engine_mac
        );
        assert!(
            !neigh.contains("FAILED") && !neigh.contains("INCOMPLETE"),
            "resolved entry for {ip}: {neigh:?}"
        );
    }

    /// Stops serve with SIGINT and returns the counters it printed; asserts a clean exit.
    fn stop(self) -> Counters {
        let Peer { serve, ns, .. } = self;
        let done = serve.stop_cleanly("serve");
        drop(ns);
        done.counters()
    }
}

#[test]
fn kernel_pings_the_engine_and_gets_every_reply() {
    const PINGS: u64 = 50;
    let peer = Peer::start().ping_all(PINGS as u32);

    peer.assert_neighbour(&ENGINE_IP.to_string());

    let c = peer.stop();
    assert_eq!(counter(&c, "IcmpInEchos"), PINGS, "{c:?}");
    assert_eq!(counter(&c, "IcmpOutEchoReps"), PINGS, "{c:?}");
    assert_eq!(counter(&c, "IpInReceives"), PINGS, "only the pings: {c:?}");
    assert_eq!(counter(&c, "IpInDelivers"), PINGS, "{c:?}");
    let (req, rep) = (counter(&c, "ArpInRequests"), counter(&c, "ArpOutReplies"));
    assert!(
        rep >= 1 && rep <= req,
        "the kernel asked for the engine's MAC and was answered: {c:?}"
    );
    for bad in [
        "IpInHdrErrors",
        "IpExtInCsumErrors",
        "IcmpInErrors",
        "ArpInErrors",
    ] {
        assert_eq!(counter(&c, bad), 0, "{bad}: {c:?}");
    }
}

#[test]
fn kernel_pings_the_engine_over_ipv6_and_ipv4_and_gets_every_reply() {
    const PINGS: u64 = 50;
    let peer = Peer::start_with(true)
        .ping_all_at(ENGINE_IP6, PINGS as u32)
        .ping_all(PINGS as u32);

    peer.assert_neighbour(ENGINE_IP6);
    peer.assert_neighbour(&ENGINE_IP.to_string());

    let c = peer.stop();
    assert_eq!(counter(&c, "Icmp6InEchos"), PINGS, "{c:?}");
    assert_eq!(counter(&c, "Icmp6OutEchoReplies"), PINGS, "{c:?}");
    assert_eq!(counter(&c, "IcmpInEchos"), PINGS, "{c:?}");
    assert_eq!(counter(&c, "IcmpOutEchoReps"), PINGS, "{c:?}");
    let (ns_in, na_out) = (
        counter(&c, "Icmp6InNeighborSolicits"),
        counter(&c, "Icmp6OutNeighborAdvertisements"),
    );
    assert!(
        ns_in >= 1 && na_out >= 1,
        "the kernel asked for the engine's MAC by Neighbor Discovery and was answered: {c:?}"
    );
    for bad in [
        "Ip6InHdrErrors",
        "Ip6InAddrErrors",
        "Icmp6InErrors",
        "Icmp6InCsumErrors",
        "IpInHdrErrors",
        "IcmpInErrors",
    ] {
        assert_eq!(counter(&c, bad), 0, "{bad}: {c:?}");
    }
}

/// One class of malformed frame and the counters `iface/input.rs` bumps for it.
struct Bad {
    name: &'static str,
    frame: Vec<u8>,
    hdr_errors: u64,
    csum_errors: u64,
    truncated: u64,
}

/// The malformed frames, each derived from a valid echo request to the engine so that only the
/// named defect differs.
fn malformed(engine_mac: [u8; 6], kernel_mac: [u8; 6]) -> Vec<Bad> {
    let good = || frames::echo_request(engine_mac, kernel_mac, KERNEL_IP, ENGINE_IP, 0x4242, 7, 8);
    let bad = |name, frame, hdr_errors, csum_errors, truncated| Bad {
        name,
        frame,
        hdr_errors,
        csum_errors,
        truncated,
    };
    let mut v = Vec::new();

    let mut f = good();
    f[IP + 10] ^= 0x5a;
    v.push(bad("bad header checksum", f, 1, 1, 0));

    // Ethernet header plus 12 of the 20 bytes of an IPv4 header.
    let f = good()[..IP + 12].to_vec();
    // Linux (ip_rcv_core) counts a header shorter than 20 bytes as a header error.
    v.push(bad("truncated header", f, 1, 0, 0));

    let mut f = good();
    frames::set_version_ihl(&mut f, 4, 4);
    v.push(bad("IHL 4 (< 5)", f, 1, 0, 0));

    // 36 bytes of datagram, IHL 15 announces a 60-byte header.
    let mut f = good();
    assert_eq!(f.len() - IP, 36);
    frames::set_version_ihl(&mut f, 4, 15);
    v.push(bad("IHL 15 (past the frame)", f, 1, 0, 0));

    let mut f = good();
    frames::set_version_ihl(&mut f, 6, 5);
    v.push(bad("version 6", f, 1, 0, 0));

    let mut f = good();
    let len = (f.len() - IP) as u16;
    frames::set_total_len(&mut f, len + 100);
    // ... and a total length beyond the frame as a truncated packet.
    v.push(bad("total length past the frame", f, 0, 0, 1));

    let mut f = good();
    frames::set_total_len(&mut f, 12);
    v.push(bad("total length below the header", f, 1, 0, 0));
    v
}

#[test]
fn malformed_ipv4_headers_are_counted_and_dropped_and_pings_continue() {
    const PINGS: u64 = 20;
    const REPEAT: u64 = 3;
    let peer = Peer::start().ping_all(PINGS as u32);

    let (engine_mac, kernel_mac) = (frames::mac(&peer.engine_mac), frames::mac(KERNEL_MAC));
    let bad = malformed(engine_mac, kernel_mac);
    // A well-formed echo request through the same socket: proves the raw path reaches the
    // engine, so the drops below are the engine's doing.
    let control = frames::echo_request(engine_mac, kernel_mac, KERNEL_IP, ENGINE_IP, 0x4243, 1, 8);
    peer.ns.in_thread(|| {
        let sock = RawSocket::bind(&peer.tap);
        for _ in 0..REPEAT {
            for b in &bad {
                sock.send(&b.frame);
            }
        }
        sock.send(&control);
    });

    // The tap is a FIFO: once these are answered, every frame above has been processed.
    let peer = peer.ping_all(PINGS as u32);

    let c = peer.stop();
    let sum = |f: fn(&Bad) -> u64| REPEAT * bad.iter().map(f).sum::<u64>();
    let classes: Vec<_> = bad.iter().map(|b| b.name).collect();
    assert_eq!(
        counter(&c, "IpInHdrErrors"),
        sum(|b| b.hdr_errors),
        "{classes:?}: {c:?}"
    );
    assert_eq!(
        counter(&c, "IpExtInCsumErrors"),
        sum(|b| b.csum_errors),
        "{c:?}"
    );
    assert_eq!(
        counter(&c, "IpExtInTruncatedPkts"),
        sum(|b| b.truncated),
        "{c:?}"
    );
    let answered = 2 * PINGS + 1; // both rounds and the control frame
    assert_eq!(counter(&c, "IcmpInEchos"), answered, "{c:?}");
    assert_eq!(counter(&c, "IcmpOutEchoReps"), answered, "{c:?}");
    assert_eq!(
        counter(&c, "IpInReceives"),
        answered + REPEAT * bad.len() as u64,
        "every malformed frame reached IPv4 input: {c:?}"
    );
    assert_eq!(
        counter(&c, "IpInDelivers"),
        answered,
        "none was delivered: {c:?}"
    );
    assert_eq!(counter(&c, "IcmpInErrors"), 0, "{c:?}");
}
