//! Declared by each black-box test crate (`kernel_blackbox_ip.rs`, `kernel_blackbox_tcp.rs`,
//! `kernel_blackbox_loss.rs`) as `#[path = "common/blackbox.rs"] mod blackbox;` beside
//! `mod common;` and `#[path = "common/blackbox_conn.rs"] mod blackbox_conn;` (it refers to
//! `crate::common`).
//!
//! The devices of the black-box scripts, scapy-style, run against the engine AND the Linux
//! kernel: hand-made Ethernet frames go in from the kernel's side of a tap, the frames that
//! come back are taken apart (`common/packets.rs`, independent of `engine::wire`) and the
//! engine's answers must match Linux's in what matters.
//!
//! The two devices under test ([`Dut`]), both at 10.97.0.2/24 and fd97::2/64, both serving TCP
//! echo on port 7 on both families:
//! - the engine: `serve echo --port tap:IF --ip 10.97.0.2/24 --ip fd97::2/64` in a private
//!   namespace (IPv6 off there, no address on the kernel's end of the tap, so the kernel stays
//!   silent); frames are written and read with a packet socket on the tap's kernel end;
//! - Linux: a tap whose descriptor the test opens itself ([`Tap`]) in another namespace, the
//!   kernel's end holding the addresses (no link-local, no DAD, no router solicitations), a
//!   std::net echo server on `[::]:7` ([`KernelEcho`]); frames are written to and read from
//!   the descriptor.
//!
//! The peer the scripts play is 10.97.0.1 / fd97::1 at [`PEER_MAC`] (its TCP end:
//! `common/blackbox_conn.rs`). Every script runs on a fresh device, first on Linux, then on
//! the engine ([`on_both`]); its observation (a struct of the fields that matter, normalised:
//! "ack = our ISN + 1" instead of the number) must be equal for both, and meet the RFC's
//! expectation, which Linux meets too.
//!
//! Not compared, because they may legitimately differ (RFC 9293, RFC 7323, RFC 6437, RFC
//! 4861): ISNs, window values and the window-scale shift, TSvals (only that TSecr echoes one
//! of ours: which one, when a device acknowledges several segments at once, follows its ACK
//! timing, RFC 7323 §4.3), the order and padding of options, IPv4 identification and DF,
//! IPv6 flow labels, TTL and hop limit except Neighbor Discovery's 255, how data is cut into
//! segments (beyond the MSS bound) and how many pure ACKs come (Linux delays some ACKs and
//! its echo server reads and writes at its own pace), the acknowledgment field of a RST
//! without ACK, and whether an advertisement answering a unicast solicitation carries the
//! target link-layer option (Linux leaves it out and clears O; the engine puts it in and
//! sets O; RFC 4861 §7.2.4 allows both). All of these are printed.
//!
//! Timeouts are hang guards, generous for a loaded 2-CPU machine; a "no answer" check waits
//! [`SILENCE`] and then proves the device alive with a control frame answered after it.

#![allow(dead_code)] // each test crate uses a different subset

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::common::packets::{
    self as pk, ARP_REPLY, ARP_REQUEST, BROADCAST, ICMP6_NEIGHBOR_ADVERT, ICMP6_NEIGHBOR_SOLICIT,
    Mac, NA_OVERRIDE, NA_SOLICITED, Parsed,
};
use crate::common::raw::{Link, RawSocket, Tap};
use crate::common::{Netns, Proc, eal_args_any_cpu, mac_in_banner, serve_bin, unique_name};

pub const DUT_V4: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 2);
pub const PEER_V4: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 1);
pub const DUT_V6: Ipv6Addr = Ipv6Addr::new(0xfd97, 0, 0, 0, 0, 0, 0, 2);
pub const PEER_V6: Ipv6Addr = Ipv6Addr::new(0xfd97, 0, 0, 0, 0, 0, 0, 1);
/// The MAC of the peer the scripts play.
pub const PEER_MAC: Mac = [0x02, 0x70, 0x65, 0x65, 0x72, 0x01];
/// The MAC given to Linux's tap.
pub const LINUX_MAC: Mac = [0x02, 0x6c, 0x69, 0x6e, 0x75, 0x78];
pub const ECHO_PORT: u16 = 7;
/// How long a script waits for an answer that normally takes microseconds.
pub const ANSWER: Duration = Duration::from_secs(10);
/// How long a script listens for an answer that must not come.
pub const SILENCE: Duration = Duration::from_millis(1500);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fam {
    V4,
    V6,
}

impl Fam {
    pub fn dut(self) -> IpAddr {
        match self {
            Fam::V4 => DUT_V4.into(),
            Fam::V6 => DUT_V6.into(),
        }
    }

    pub fn peer(self) -> IpAddr {
        match self {
            Fam::V4 => PEER_V4.into(),
            Fam::V6 => PEER_V6.into(),
        }
    }

    /// The MSS a TCP sender assumes when the SYN has no MSS option: 536 over IPv4 (RFC 9293
    /// §3.7.1), 1220 over IPv6 (the IPv6 minimum MTU of 1280 less 60, RFC 8200 §5).
    pub fn default_mss(self) -> usize {
        match self {
            Fam::V4 => 536,
            Fam::V6 => 1220,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Linux,
    Engine,
}

/// A device under test and the link to it. Fields drop in order: serve and the kernel echo
/// server stop before the namespace goes.
pub struct Dut {
    pub kind: Kind,
    pub mac: Mac,
    link: Box<dyn Link>,
    /// Every frame in either direction, one line each, for failure messages and the record.
    log: RefCell<Vec<String>>,
    start: Instant,
    /// Answer the device's Neighbor Solicitations and ARP requests for the peer's address
    /// while waiting for something else (off where a script observes them).
    pub answer_nd: Cell<bool>,
    serve: Option<Proc>,
    _echo: Option<KernelEcho>,
    _ns: Netns,
}

impl Dut {
    /// Starts a device of `kind`.
    fn start(kind: Kind) -> Dut {
        match kind {
            Kind::Linux => Dut::linux(),
            Kind::Engine => Dut::engine(),
        }
    }

    /// Linux on a tap the test holds: addresses on the kernel's end, an echo server on
    /// `[::]:7` (both families).
    fn linux() -> Dut {
        let ns = Netns::with_ipv6();
        let name = unique_name("tl");
        let tap = ns.in_thread(|| Tap::create(&name));
        ns.ip(&[
            "link",
            "set",
            "dev",
            &name,
            "address",
            &pk::mac_str(&LINUX_MAC),
        ]);
        // No link-local address: no duplicate address detection or reports from it.
        ns.ip(&["link", "set", "dev", &name, "addrgenmode", "none"]);
        ns.add_addr(&name, &format!("{DUT_V4}/24"));
        ns.add_addr(&name, &format!("{DUT_V6}/64"));
        ns.ip(&["link", "set", "dev", &name, "up"]);
        let echo = KernelEcho::start(&ns, ECHO_PORT);
        Dut::ready(Kind::Linux, LINUX_MAC, Box::new(tap), None, Some(echo), ns)
    }

    /// `serve echo` on a tap in a namespace where the kernel has no address and IPv6 is off,
    /// so that nothing but the test's frames reaches the engine.
    fn engine() -> Dut {
        let ns = Netns::new();
        let name = unique_name("tb");
        let port = format!("tap:{name}");
        let (ip4, ip6) = (format!("{DUT_V4}/24"), format!("{DUT_V6}/64"));
        let eal = eal_args_any_cpu();
        let args = [
            "echo",
            "--port",
            &port,
            "--ip",
            &ip4,
            "--ip",
            &ip6,
            "--all-counters",
            &eal,
        ];
        let mut serve = ns.spawn(serve_bin(), &args);
        let banner = serve.wait_for_line(|l| l.starts_with("serve: port"));
        serve.wait_for_line(|l| l == "serve: ready");
        let mac = crate::common::frames::mac(&mac_in_banner(&banner));
        ns.wait_for_link(&name);
        ns.ip(&["link", "set", "dev", &name, "up"]);
        let sock = ns.in_thread(|| RawSocket::capture(&name));
        Dut::ready(Kind::Engine, mac, Box::new(sock), Some(serve), None, ns)
    }

    fn ready(
        kind: Kind,
        mac: Mac,
        link: Box<dyn Link>,
        serve: Option<Proc>,
        echo: Option<KernelEcho>,
        ns: Netns,
    ) -> Dut {
        let d = Dut {
            kind,
            mac,
            link,
            log: RefCell::new(Vec::new()),
            start: Instant::now(),
            answer_nd: Cell::new(true),
            serve,
            _echo: echo,
            _ns: ns,
        };
        d.settle();
        d
    }

    /// Lets what a device sends by itself at start (the engine's unsolicited Neighbor
    /// Advertisements and gratuitous ARP, Linux's MLD reports) pass: reads until the link has
    /// been quiet for 700 ms (at most 5 s).
    fn settle(&self) {
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end && self.recv_raw(Duration::from_millis(700)).is_some() {}
    }

    fn note(&self, dir: &str, p: &Parsed) {
        let ms = self.start.elapsed().as_millis();
        self.log.borrow_mut().push(format!("{ms:>6} ms {dir} {p}"));
    }

    fn log_text(&self) -> String {
        self.log.borrow().join("\n")
    }

    pub fn send(&self, frame: &[u8]) {
        if let Some(p) = pk::parse(frame) {
            self.note("->", &p);
        }
        self.link.send(frame);
    }

    fn recv_raw(&self, timeout: Duration) -> Option<Parsed> {
        let f = self.link.recv(timeout)?;
        let p = pk::parse(&f).unwrap_or_else(|| panic!("a runt frame from the device: {f:02x?}"));
        self.note("<-", &p);
        Some(p)
    }

    /// The next frame from the device before `deadline`, after answering its neighbour
    /// solicitations for the peer (when [`Dut::answer_nd`] is on).
    pub fn recv(&self, deadline: Instant) -> Option<Parsed> {
        loop {
            let p = self.recv_raw(deadline.saturating_duration_since(Instant::now()))?;
            if !(self.answer_nd.get() && self.answer_solicitation(&p)) {
                return Some(p);
            }
        }
    }

    /// Answers `p` if it asks for the peer's MAC (a Neighbor Solicitation for the peer's
    /// IPv6 address, an ARP request for its IPv4 address); true if it did.
    pub fn answer_solicitation(&self, p: &Parsed) -> bool {
        if let Some((ip, m, nd)) = p.nd()
            && m.typ == ICMP6_NEIGHBOR_SOLICIT
            && nd.target == PEER_V6
            && let IpAddr::V6(to) = ip.src
        {
            let flags = NA_SOLICITED | NA_OVERRIDE;
            let body = pk::neighbor_advert(flags, PEER_V6, Some(PEER_MAC));
            let na = pk::nd_frame(
                p.src_mac,
                PEER_MAC,
                PEER_V6,
                to,
                ICMP6_NEIGHBOR_ADVERT,
                &body,
            );
            self.send(&na);
            return true;
        }
        if let Some(a) = p
            .arp
            .as_ref()
            .filter(|a| a.op == ARP_REQUEST && a.tpa == PEER_V4)
        {
            let reply = pk::arp(ARP_REPLY, PEER_MAC, PEER_V4, a.sha, a.spa);
            self.send(&pk::ethernet(a.sha, PEER_MAC, pk::ETH_ARP, &reply));
            return true;
        }
        false
    }

    /// The first frame from the device within `timeout` that satisfies `pred`.
    pub fn expect_within(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&Parsed) -> bool,
    ) -> Option<Parsed> {
        let deadline = Instant::now() + timeout;
        while let Some(p) = self.recv(deadline) {
            if pred(&p) {
                return Some(p);
            }
        }
        None
    }

    /// The first frame from the device that satisfies `pred`; fails the test after [`ANSWER`].
    pub fn expect(&self, what: &str, pred: impl FnMut(&Parsed) -> bool) -> Parsed {
        self.expect_within(ANSWER, pred)
            .unwrap_or_else(|| self.fail(&format!("no {what} within {ANSWER:?}")))
    }

    /// Checks that the device sends nothing satisfying `forbidden` in answer to what was just
    /// sent: listens for [`SILENCE`], then sends `control` and reads until a frame satisfying
    /// `answered` comes back (the device handles frames in order, so a late answer would come
    /// before it). Returns the forbidden frames seen.
    pub fn silent(
        &self,
        forbidden: impl Fn(&Parsed) -> bool,
        control: &[u8],
        answered: impl Fn(&Parsed) -> bool,
    ) -> Vec<Parsed> {
        let mut seen = Vec::new();
        let deadline = Instant::now() + SILENCE;
        while let Some(p) = self.recv(deadline) {
            if forbidden(&p) {
                seen.push(p);
            }
        }
        self.send(control);
        self.expect("answer to the control frame", |p| {
            if forbidden(p) {
                seen.push(p.clone());
            }
            answered(p)
        });
        seen
    }

    /// Sets `setting` (`name=value`) with sysctl in Linux's namespace, e.g. the congestion
    /// control of the connections accepted after it; nothing on the engine.
    pub fn linux_sysctl(&self, setting: &str) {
        if self.kind == Kind::Linux {
            self._ns.exec_ok(&["sysctl", "-qw", setting]);
        }
    }

    pub fn fail(&self, msg: &str) -> ! {
        panic!(
            "{:?}: {msg}\nframes so far:\n{}",
            self.kind,
            self.log_text()
        )
    }

    /// Makes the device learn the peer's MAC the way a peer would before talking to it: a
    /// Neighbor Solicitation for the device's IPv6 address with the peer's MAC in it, or an
    /// ARP request for its IPv4 address; waits for the answer.
    pub fn introduce(&self, fam: Fam) {
        match fam {
            Fam::V6 => {
                self.send(&ns_from_peer());
                self.expect("Neighbor Advertisement", |p| is_na_for(p, DUT_V6));
            }
            Fam::V4 => {
                self.send(&arp_request_from(PEER_MAC, PEER_V4));
                self.expect("ARP reply", |p| {
                    p.arp
                        .as_ref()
                        .is_some_and(|a| a.op == ARP_REPLY && a.spa == DUT_V4)
                });
            }
        }
    }

    /// Stops the device. serve must exit cleanly with nothing on stderr; a few of its counters
    /// are printed for the record.
    fn finish(mut self) {
        if let Some(serve) = self.serve.take() {
            let c = serve.stop_cleanly("serve").counters();
            let some: Vec<String> = c
                .iter()
                .filter(|(k, v)| {
                    **v != 0
                        && [
                            "Tcp", "Icmp6", "Ip6", "Arp", "IpReasm", "IpInAddr", "IpInDel",
                            "IpExtIn",
                        ]
                        .iter()
                        .any(|p| k.starts_with(p))
                })
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            eprintln!("serve's counters: {}", some.join(", "));
        }
    }
}

/// The Linux kernel's echo server: a std::net listener in the device's namespace, a thread per
/// connection, each echoing until EOF or an error (a RST from the script ends it).
struct KernelEcho {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl KernelEcho {
    fn start(ns: &Netns, port: u16) -> KernelEcho {
        let l = ns.in_thread(|| {
            TcpListener::bind((Ipv6Addr::UNSPECIFIED, port))
                .unwrap_or_else(|e| panic!("kernel echo server on [::]:{port}: {e}"))
        });
        l.set_nonblocking(true).expect("nonblocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((s, _)) => {
                        std::thread::spawn(move || echo_stream(s));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2))
                    }
                    Err(e) => panic!("kernel echo server: accept: {e}"),
                }
            }
        });
        KernelEcho {
            stop,
            thread: Some(thread),
        }
    }
}

fn echo_stream(mut s: TcpStream) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(60)));
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n @ 1..) = s.read(&mut buf) {
        if s.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

impl Drop for KernelEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A Neighbor Solicitation from the peer (fd97::1, with its MAC) for the device's IPv6 address,
/// to the address's solicited-node group.
pub fn ns_from_peer() -> Vec<u8> {
    let g = pk::solicited_node(DUT_V6);
    let body = pk::neighbor_solicit(DUT_V6, Some(PEER_MAC));
    pk::nd_frame(
        pk::multicast_mac(g),
        PEER_MAC,
        PEER_V6,
        g,
        ICMP6_NEIGHBOR_SOLICIT,
        &body,
    )
}

/// A broadcast ARP request for the device's IPv4 address from `sha`, `spa`.
pub fn arp_request_from(sha: Mac, spa: Ipv4Addr) -> Vec<u8> {
    let a = pk::arp(ARP_REQUEST, sha, spa, [0; 6], DUT_V4);
    pk::ethernet(BROADCAST, sha, pk::ETH_ARP, &a)
}

/// Whether `p` is a Neighbor Advertisement for `target`.
pub fn is_na_for(p: &Parsed, target: Ipv6Addr) -> bool {
    p.nd()
        .is_some_and(|(_, m, nd)| m.typ == ICMP6_NEIGHBOR_ADVERT && nd.target == target)
}

/// Runs `script` on Linux, then on the engine (fresh devices), prints both observations and
/// both frame logs, and asserts the engine's equals Linux's; returns it.
///
/// With `BLACKBOX_LINUX_ONLY` set in the environment, runs it on Linux alone and returns
/// Linux's observation (to validate a new script against Linux before the engine meets it).
pub fn on_both<O: Debug + PartialEq>(what: &str, script: impl Fn(&Dut) -> O) -> O {
    let linux_only = std::env::var_os("BLACKBOX_LINUX_ONLY").is_some();
    let kinds: &[Kind] = if linux_only {
        &[Kind::Linux]
    } else {
        &[Kind::Linux, Kind::Engine]
    };
    let mut runs = Vec::new();
    for &kind in kinds {
        let d = Dut::start(kind);
        let obs = script(&d);
        let log = d.log_text();
        eprintln!("== {what}: {kind:?}\n{log}\n{kind:?} observed: {obs:#?}");
        d.finish();
        runs.push((obs, log));
    }
    if linux_only {
        return runs.pop().expect("linux").0;
    }
    let (engine, linux) = (runs.pop().expect("engine"), runs.pop().expect("linux"));
    assert_eq!(
        engine.0, linux.0,
        "{what}: the engine's answer (left) differs from Linux's (right)\nLinux's frames:\n{}\nthe engine's frames:\n{}",
        linux.1, engine.1
    );
    engine.0
}

/// Addressing of a frame from the device to the peer.
#[derive(Debug, PartialEq, Eq)]
pub struct Addressing {
    pub eth_dst_is_peer: bool,
    pub eth_src_is_device: bool,
    pub ip_src: IpAddr,
    pub ip_dst: IpAddr,
    pub checksums_ok: bool,
}

impl Addressing {
    pub fn of(d: &Dut, p: &Parsed) -> Addressing {
        let ip = p.ip.as_ref().expect("an IP datagram");
        Addressing {
            eth_dst_is_peer: p.dst_mac == PEER_MAC,
            eth_src_is_device: p.src_mac == d.mac,
            ip_src: ip.src,
            ip_dst: ip.dst,
            checksums_ok: p.checksums_ok,
        }
    }

    pub fn to_peer(fam: Fam) -> Addressing {
        Addressing {
            eth_dst_is_peer: true,
            eth_src_is_device: true,
            ip_src: fam.dut(),
            ip_dst: fam.peer(),
            checksums_ok: true,
        }
    }
}
