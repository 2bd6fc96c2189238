//! Black-box scripts, scapy-style, run against the engine AND the Linux kernel: hand-made
//! Ethernet frames go in from the kernel's side of a tap, the frames that come back are taken
//! apart (`common/packets.rs`, independent of `engine::wire`) and the engine's answers must
//! match Linux's in what matters.
//!
//! The two devices under test, both at 10.97.0.2/24 and fd97::2/64, both serving TCP echo on
//! port 7 on both families:
//! - the engine: `serve echo --port tap:IF --ip 10.97.0.2/24 --ip fd97::2/64` in a private
//!   namespace (IPv6 off there, no address on the kernel's end of the tap, so the kernel stays
//!   silent); frames are written and read with a packet socket on the tap's kernel end;
//! - Linux: a tap whose descriptor the test opens itself ([`Tap`]) in another namespace, the
//!   kernel's end holding the addresses (no link-local, no DAD, no router solicitations), a
//!   std::net echo server on `[::]:7`; frames are written to and read from the descriptor.
//!
//! The peer the scripts play is 10.97.0.1 / fd97::1 at [`PEER_MAC`]. Every script runs on a
//! fresh device, first on Linux, then on the engine; its observation (a struct of the fields
//! that matter, normalised: "ack = our ISN + 1" instead of the number) must be equal for both,
//! and meet the RFC's expectation, which Linux meets too.
//!
//! Scripts (IPv6 and IPv4 each, unless named otherwise):
//! 1. neighbour resolution: a Neighbor Solicitation to the solicited-node group with a source
//!    link-layer option, one to the unicast address, one from `::` (duplicate address
//!    detection); an ARP request and an ARP probe (sender 0.0.0.0); and a SYN before any of
//!    that: the device solicits the peer, the test answers, the SYN-ACK follows;
//! 2. handshake with MSS 1400, window scale 7, SACK-permitted and timestamps; the SYN again
//!    before the ACK (the SYN-ACK again, same ISN); then the ACK, and nothing more;
//! 3. echo of three segments (100, 200, 300 bytes, PSH on the last), our ISN just below 2^32
//!    so that sequence numbers wrap; then 3000 bytes echoed in segments of 1400 - 12 (MSS
//!    less the timestamps option); then 50 bytes without the timestamps option (still
//!    echoed); then our FIN, answered by the device's;
//! 4. closed port: a SYN gets RST,ACK seq 0 ack SYN+1 (a SYN with data, a FIN: ack past
//!    them); an ACK gets RST seq = its ack, at a closed port and at the listening one; a RST
//!    gets nothing;
//! 5. default MSS: a SYN with no options gets a SYN-ACK with MSS only, and a 3000-byte echo
//!    comes back in segments of at most 1220 (IPv6) / 536 (IPv4) bytes, the largest exactly
//!    that;
//! 6. ping (ICMPv6 / ICMP echo), and to all-nodes (answered) / the broadcast address (not);
//! 7. a SYN behind a Hop-by-Hop or Destination Options header (PadN) or an atomic fragment
//!    header is answered (IPv6); a fragment with a non-zero offset and a SYN with a bad
//!    checksum get nothing (both families);
//! 8. data beyond a hole gets a duplicate ACK with the SACK block;
//! 9. SYN+FIN at the listening port: discarded, as Linux discards it.
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

mod common;

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::packets::{
    self as pk, ACK, ARP_REPLY, ARP_REQUEST, BROADCAST, FIN, ICMP6_NEIGHBOR_ADVERT,
    ICMP6_NEIGHBOR_SOLICIT, Mac, NA_OVERRIDE, NA_SOLICITED, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP,
    PSH, Parsed, RST, SYN, Tcp, TcpOpt, URG,
};
use common::raw::{Link, RawSocket, Tap};
use common::{Netns, Proc, eal_args_any_cpu, mac_in_banner, serve_bin, unique_name};

const DUT_V4: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 2);
const PEER_V4: Ipv4Addr = Ipv4Addr::new(10, 97, 0, 1);
const DUT_V6: Ipv6Addr = Ipv6Addr::new(0xfd97, 0, 0, 0, 0, 0, 0, 2);
const PEER_V6: Ipv6Addr = Ipv6Addr::new(0xfd97, 0, 0, 0, 0, 0, 0, 1);
/// The MAC of the peer the scripts play.
const PEER_MAC: Mac = [0x02, 0x70, 0x65, 0x65, 0x72, 0x01];
/// The MAC of another host that probes for the device's address (duplicate address detection).
const PROBER_MAC: Mac = [0x02, 0x70, 0x65, 0x65, 0x72, 0x02];
/// The MAC given to Linux's tap.
const LINUX_MAC: Mac = [0x02, 0x6c, 0x69, 0x6e, 0x75, 0x78];
const ECHO_PORT: u16 = 7;
const CLOSED_PORT: u16 = 4444;
/// How long a script waits for an answer that normally takes microseconds.
const ANSWER: Duration = Duration::from_secs(10);
/// How long a script listens for an answer that must not come.
const SILENCE: Duration = Duration::from_millis(1500);
/// Our first TSval; each segment we send takes the next one.
const FIRST_TSVAL: u32 = 0x0001_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fam {
    V4,
    V6,
}

impl Fam {
    fn dut(self) -> IpAddr {
        match self {
            Fam::V4 => DUT_V4.into(),
            Fam::V6 => DUT_V6.into(),
        }
    }

    fn peer(self) -> IpAddr {
        match self {
            Fam::V4 => PEER_V4.into(),
            Fam::V6 => PEER_V6.into(),
        }
    }

    /// The MSS a TCP sender assumes when the SYN has no MSS option: 536 over IPv4 (RFC 9293
    /// §3.7.1), 1220 over IPv6 (the IPv6 minimum MTU of 1280 less 60, RFC 8200 §5).
    fn default_mss(self) -> usize {
        match self {
            Fam::V4 => 536,
            Fam::V6 => 1220,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Linux,
    Engine,
}

/// A device under test and the link to it. Fields drop in order: serve and the kernel echo
/// server stop before the namespace goes.
struct Dut {
    kind: Kind,
    mac: Mac,
    link: Box<dyn Link>,
    /// Every frame in either direction, one line each, for failure messages and the record.
    log: RefCell<Vec<String>>,
    start: Instant,
    /// Answer the device's Neighbor Solicitations and ARP requests for the peer's address
    /// while waiting for something else (off where a script observes them).
    answer_nd: Cell<bool>,
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
        let mac = common::frames::mac(&mac_in_banner(&banner));
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

    fn send(&self, frame: &[u8]) {
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
    fn recv(&self, deadline: Instant) -> Option<Parsed> {
        loop {
            let p = self.recv_raw(deadline.saturating_duration_since(Instant::now()))?;
            if !(self.answer_nd.get() && self.answer_solicitation(&p)) {
                return Some(p);
            }
        }
    }

    /// Answers `p` if it asks for the peer's MAC (a Neighbor Solicitation for the peer's
    /// IPv6 address, an ARP request for its IPv4 address); true if it did.
    fn answer_solicitation(&self, p: &Parsed) -> bool {
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
    fn expect_within(
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
    fn expect(&self, what: &str, pred: impl FnMut(&Parsed) -> bool) -> Parsed {
        self.expect_within(ANSWER, pred)
            .unwrap_or_else(|| self.fail(&format!("no {what} within {ANSWER:?}")))
    }

    /// Checks that the device sends nothing satisfying `forbidden` in answer to what was just
    /// sent: listens for [`SILENCE`], then sends `control` and reads until a frame satisfying
    /// `answered` comes back (the device handles frames in order, so a late answer would come
    /// before it). Returns the forbidden frames seen.
    fn silent(
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

    fn fail(&self, msg: &str) -> ! {
        panic!(
            "{:?}: {msg}\nframes so far:\n{}",
            self.kind,
            self.log_text()
        )
    }

    /// Makes the device learn the peer's MAC the way a peer would before talking to it: a
    /// Neighbor Solicitation for the device's IPv6 address with the peer's MAC in it, or an
    /// ARP request for its IPv4 address; waits for the answer.
    fn introduce(&self, fam: Fam) {
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
fn ns_from_peer() -> Vec<u8> {
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
fn arp_request_from(sha: Mac, spa: Ipv4Addr) -> Vec<u8> {
    let a = pk::arp(ARP_REQUEST, sha, spa, [0; 6], DUT_V4);
    pk::ethernet(BROADCAST, sha, pk::ETH_ARP, &a)
}

/// Whether `p` is a Neighbor Advertisement for `target`.
fn is_na_for(p: &Parsed, target: Ipv6Addr) -> bool {
    p.nd()
        .is_some_and(|(_, m, nd)| m.typ == ICMP6_NEIGHBOR_ADVERT && nd.target == target)
}

/// Runs `script` on Linux, then on the engine (fresh devices), prints both observations and
/// both frame logs, and asserts the engine's equals Linux's; returns it.
fn on_both<O: Debug + PartialEq>(what: &str, script: impl Fn(&Dut) -> O) -> O {
    let mut runs = Vec::new();
    for kind in [Kind::Linux, Kind::Engine] {
        let d = Dut::start(kind);
        let obs = script(&d);
        let log = d.log_text();
        eprintln!("== {what}: {kind:?}\n{log}\n{kind:?} observed: {obs:#?}");
        d.finish();
        runs.push((obs, log));
    }
    let (engine, linux) = (runs.pop().expect("engine"), runs.pop().expect("linux"));
    assert_eq!(
        engine.0, linux.0,
        "{what}: the engine's answer (left) differs from Linux's (right)\nLinux's frames:\n{}\nthe engine's frames:\n{}",
        linux.1, engine.1
    );
    engine.0
}

// ---------------------------------------------------------------------------------------------
// TCP from the peer's side

/// The options a Linux client puts in its SYN: MSS 1400 (ours), SACK-permitted, timestamps,
/// window scale 7.
fn full_syn_options(tsval: u32) -> Vec<TcpOpt> {
    vec![
        TcpOpt::Mss(1400),
        TcpOpt::SackPermitted,
        TcpOpt::Timestamps { val: tsval, ecr: 0 },
        TcpOpt::Nop,
        TcpOpt::WindowScale(7),
    ]
}

/// The peer's end of one TCP connection to the device, played by hand.
struct Conn<'a> {
    d: &'a Dut,
    fam: Fam,
    sport: u16,
    dport: u16,
    isn: u32,
    snd_nxt: u32,
    rcv_nxt: u32,
    /// Timestamps negotiated: every segment carries the option.
    ts: bool,
    /// The device's last TSval (our TSecr).
    ts_recent: u32,
    /// Every TSval we sent, in order.
    tsvals: Vec<u32>,
    /// In-order bytes received from the device.
    received: Vec<u8>,
    /// Every segment of this connection the device sent.
    segs: Vec<Tcp>,
    bad_checksums: usize,
    /// The device's FIN arrived in order.
    fin_received: bool,
}

impl<'a> Conn<'a> {
    fn new(d: &'a Dut, fam: Fam, sport: u16, dport: u16, isn: u32) -> Conn<'a> {
        Conn {
            d,
            fam,
            sport,
            dport,
            isn,
            snd_nxt: isn,
            rcv_nxt: 0,
            ts: false,
            ts_recent: 0,
            tsvals: Vec::new(),
            received: Vec::new(),
            segs: Vec::new(),
            bad_checksums: 0,
            fin_received: false,
        }
    }

    fn next_tsval(&mut self) -> u32 {
        let v = FIRST_TSVAL + self.tsvals.len() as u32;
        self.tsvals.push(v);
        v
    }

    /// This connection's segment in `p`, if it is one from the device.
    fn ours<'p>(&self, p: &'p Parsed) -> Option<&'p Tcp> {
        p.tcp_between((self.fam.dut(), self.dport), (self.fam.peer(), self.sport))
    }

    /// The frame carrying `t` from the peer to the device.
    fn frame(&self, t: &Tcp) -> Vec<u8> {
        let (src, dst) = (self.fam.peer(), self.fam.dut());
        pk::ip_frame(self.d.mac, PEER_MAC, src, dst, PROTO_TCP, &t.emit(src, dst))
    }

    /// A segment at `snd_nxt` (acknowledging `rcv_nxt` if `flags` has ACK), window 65535,
    /// with `options`.
    fn segment(&self, flags: u8, options: Vec<TcpOpt>, payload: &[u8]) -> Tcp {
        Tcp {
            sport: self.sport,
            dport: self.dport,
            seq: self.snd_nxt,
            ack: if flags & ACK != 0 { self.rcv_nxt } else { 0 },
            flags,
            window: 65535,
            urgent: 0,
            options,
            payload: payload.to_vec(),
        }
    }

    /// Sends a SYN with `options` (their timestamps option, if any, takes our next TSval).
    fn send_syn(&mut self, mut options: Vec<TcpOpt>) -> Tcp {
        for o in &mut options {
            if let TcpOpt::Timestamps { val, .. } = o {
                *val = self.next_tsval();
            }
        }
        let t = self.segment(SYN, options, &[]);
        self.d.send(&self.frame(&t));
        self.snd_nxt = self.snd_nxt.wrapping_add(1);
        t
    }

    /// Sends a segment with `flags` and `payload` (and the timestamps option once negotiated).
    fn send(&mut self, flags: u8, payload: &[u8]) {
        self.send_with(flags, payload, self.ts)
    }

    /// Sends a segment with `flags` and `payload`, with the timestamps option if `ts`.
    fn send_with(&mut self, flags: u8, payload: &[u8], ts: bool) {
        let options = if ts {
            let val = self.next_tsval();
            vec![
                TcpOpt::Nop,
                TcpOpt::Nop,
                TcpOpt::Timestamps {
                    val,
                    ecr: self.ts_recent,
                },
            ]
        } else {
            Vec::new()
        };
        let t = self.segment(flags, options, payload);
        self.d.send(&self.frame(&t));
        self.snd_nxt = self.snd_nxt.wrapping_add(t.seg_len());
    }

    /// Waits for this connection's first segment from the device that satisfies `pred`.
    fn wait(&mut self, what: &str, pred: impl Fn(&Tcp) -> bool) -> Tcp {
        let p = self.d.expect(what, |p| self.ours(p).is_some_and(&pred));
        let t = self.ours(&p).expect("matched").clone();
        self.take(&p, t.clone());
        t
    }

    /// Takes the device's segment `t` (from frame `p`) in: in-order data is appended to
    /// `received` and acknowledged at once, anything else with data is answered with a
    /// duplicate ACK, a repeated SYN-ACK with an ACK.
    fn take(&mut self, p: &Parsed, t: Tcp) {
        self.bad_checksums += usize::from(!p.checksums_ok);
        if let Some((val, _)) = t.timestamps() {
            self.ts_recent = val;
        }
        if t.has(SYN) && !self.segs.is_empty() {
            self.send(ACK, &[]);
        } else if !t.has(SYN) && (!t.payload.is_empty() || t.has(FIN)) {
            let offset = self.rcv_nxt.wrapping_sub(t.seq) as usize;
            if offset < t.payload.len() {
                self.received.extend_from_slice(&t.payload[offset..]);
                self.rcv_nxt = t.seq.wrapping_add(t.payload.len() as u32);
            }
            if t.has(FIN) && t.seq.wrapping_add(t.payload.len() as u32) == self.rcv_nxt {
                self.rcv_nxt = self.rcv_nxt.wrapping_add(1);
                self.fin_received = true;
            }
            if !t.has(RST) {
                self.send(ACK, &[]);
            }
        }
        self.segs.push(t);
    }

    /// Reads the device's segments of this connection, taking each in, until `done` holds;
    /// fails the test after [`ANSWER`].
    fn pump_until(&mut self, what: &str, done: impl Fn(&Conn) -> bool) {
        let deadline = Instant::now() + ANSWER;
        while !done(self) {
            let Some(p) = self.d.recv(deadline) else {
                self.d.fail(&format!(
                    "{what}: not done within {ANSWER:?}; {} bytes received",
                    self.received.len()
                ));
            };
            if let Some(t) = self.ours(&p).cloned() {
                self.take(&p, t);
            }
        }
    }

    /// Sends the SYN with `options`, waits for the SYN-ACK (or RST), and if it is a SYN-ACK,
    /// completes the handshake with an ACK. Returns the answer.
    fn connect(&mut self, options: Vec<TcpOpt>) -> Tcp {
        let syn = self.send_syn(options);
        let answer = self.wait("SYN-ACK", |t| t.has(SYN) || t.has(RST));
        if answer.has(SYN | ACK) {
            self.rcv_nxt = answer.seq.wrapping_add(1);
            self.ts = syn.timestamps().is_some() && answer.timestamps().is_some();
            self.send(ACK, &[]);
        }
        answer
    }

    /// Ends the connection with a RST at `snd_nxt`.
    fn abort(&mut self) {
        let t = self.segment(RST, Vec::new(), &[]);
        self.d.send(&self.frame(&t));
    }

    /// Whether the device has acknowledged everything we sent.
    fn all_acked(&self) -> bool {
        self.segs
            .iter()
            .any(|t| t.has(ACK) && t.ack == self.snd_nxt)
    }
}

/// What matters in a SYN-ACK.
#[derive(Debug, PartialEq, Eq)]
struct SynAck {
    flags: String,
    ack_is_our_isn_plus_1: bool,
    mss: Option<u16>,
    window_scale: bool,
    sack_permitted: bool,
    /// Whether TSecr equals the SYN's TSval; `None` without a timestamps option.
    tsecr_echoes_our_tsval: Option<bool>,
    sack_blocks: bool,
    payload: usize,
}

impl SynAck {
    fn of(c: &Conn, t: &Tcp) -> SynAck {
        SynAck {
            flags: pk::flag_str(t.flags),
            ack_is_our_isn_plus_1: t.ack == c.isn.wrapping_add(1),
            mss: t.mss(),
            window_scale: t.window_scale().is_some(),
            sack_permitted: t.sack_permitted(),
            tsecr_echoes_our_tsval: t
                .timestamps()
                .map(|(_, ecr)| Some(&ecr) == c.tsvals.first()),
            sack_blocks: t.has_sack_blocks(),
            payload: t.payload.len(),
        }
    }
}

/// Addressing of a frame from the device to the peer.
#[derive(Debug, PartialEq, Eq)]
struct Addressing {
    eth_dst_is_peer: bool,
    eth_src_is_device: bool,
    ip_src: IpAddr,
    ip_dst: IpAddr,
    checksums_ok: bool,
}

impl Addressing {
    fn of(d: &Dut, p: &Parsed) -> Addressing {
        let ip = p.ip.as_ref().expect("an IP datagram");
        Addressing {
            eth_dst_is_peer: p.dst_mac == PEER_MAC,
            eth_src_is_device: p.src_mac == d.mac,
            ip_src: ip.src,
            ip_dst: ip.dst,
            checksums_ok: p.checksums_ok,
        }
    }

    fn to_peer(fam: Fam) -> Addressing {
        Addressing {
            eth_dst_is_peer: true,
            eth_src_is_device: true,
            ip_src: fam.dut(),
            ip_dst: fam.peer(),
            checksums_ok: true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Script 1: neighbour resolution

/// What matters in a Neighbor Advertisement.
#[derive(Debug, PartialEq, Eq)]
struct Advert {
    eth_dst: String,
    eth_src_is_device: bool,
    ip_src: IpAddr,
    ip_dst: IpAddr,
    hop_limit: u8,
    router: bool,
    solicited: bool,
    override_: bool,
    target: Ipv6Addr,
    /// Whether the target link-layer option holds the device's MAC; `None` without one.
    tlla_is_device: Option<bool>,
    checksums_ok: bool,
}

impl Advert {
    fn of(d: &Dut, p: &Parsed) -> Advert {
        let (ip, _, nd) = p.nd().expect("a Neighbor Advertisement");
        Advert {
            eth_dst: pk::mac_str(&p.dst_mac),
            eth_src_is_device: p.src_mac == d.mac,
            ip_src: ip.src,
            ip_dst: ip.dst,
            hop_limit: ip.hop_limit,
            router: nd.flags & pk::NA_ROUTER != 0,
            solicited: nd.flags & NA_SOLICITED != 0,
            override_: nd.flags & NA_OVERRIDE != 0,
            target: nd.target,
            tlla_is_device: nd.tlla.map(|m| m == d.mac),
            checksums_ok: p.checksums_ok,
        }
    }
}

impl Advert {
    /// In answer to a unicast solicitation RFC 4861 §7.2.4 lets a node omit the target
    /// link-layer option, and then asks for O = 0: Linux omits it (O = 0), the engine includes
    /// it (O = 1); both are right. This keeps, of the two fields, only whether they agree.
    fn tlla_optional(self) -> (Advert, bool) {
        let agree = match self.tlla_is_device {
            None => !self.override_,
            Some(is_device) => is_device && self.override_,
        };
        let rest = Advert {
            override_: false,
            tlla_is_device: None,
            ..self
        };
        (rest, agree)
    }
}

#[derive(Debug, PartialEq, Eq)]
struct NdAnswers {
    to_solicitation: Advert,
    /// The advertisement less O and the target link-layer option, and whether those agree.
    to_unicast_solicitation: (Advert, bool),
    to_dad: Option<Advert>,
}

#[test]
fn ipv6_neighbor_solicitation_and_dad_probe_get_linux_s_advertisements() {
    let obs = on_both("Neighbor Discovery", |d| {
        d.answer_nd.set(false);
        d.send(&ns_from_peer());
        let na = d.expect("Neighbor Advertisement", |p| is_na_for(p, DUT_V6));
        let to_solicitation = Advert::of(d, &na);
        // A unicast solicitation (as a peer sends to confirm reachability, RFC 4861 §7.3.3).
        let body = pk::neighbor_solicit(DUT_V6, Some(PEER_MAC));
        d.send(&pk::nd_frame(
            d.mac,
            PEER_MAC,
            PEER_V6,
            DUT_V6,
            ICMP6_NEIGHBOR_SOLICIT,
            &body,
        ));
        let na = d.expect("Neighbor Advertisement", |p| is_na_for(p, DUT_V6));
        let to_unicast_solicitation = Advert::of(d, &na).tlla_optional();
        // Duplicate address detection by another host: from ::, no source link-layer option.
        let g = pk::solicited_node(DUT_V6);
        let body = pk::neighbor_solicit(DUT_V6, None);
        let unspec = Ipv6Addr::UNSPECIFIED;
        d.send(&pk::nd_frame(
            pk::multicast_mac(g),
            PROBER_MAC,
            unspec,
            g,
            ICMP6_NEIGHBOR_SOLICIT,
            &body,
        ));
        let to_dad = d
            .expect_within(ANSWER, |p| is_na_for(p, DUT_V6))
            .map(|p| Advert::of(d, &p));
        NdAnswers {
            to_solicitation,
            to_unicast_solicitation,
            to_dad,
        }
    });
    // RFC 4861 §7.2.4: solicited, override, the target as source, the solicitation's source as
    // destination, the target link-layer option (the solicitation was multicast), hop limit 255.
    assert_eq!(
        obs.to_solicitation,
        Advert {
            eth_dst: pk::mac_str(&PEER_MAC),
            eth_src_is_device: true,
            ip_src: DUT_V6.into(),
            ip_dst: PEER_V6.into(),
            hop_limit: 255,
            router: false,
            solicited: true,
            override_: true,
            target: DUT_V6,
            tlla_is_device: Some(true),
            checksums_ok: true,
        }
    );
    // The same to a unicast solicitation, less O and the option (see `tlla_optional`).
    let mut unicast = obs.to_solicitation;
    unicast.override_ = false;
    unicast.tlla_is_device = None;
    assert_eq!(obs.to_unicast_solicitation, (unicast, true));
    // ... and to a solicitation from the unspecified address: to all-nodes, S = 0.
    let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    assert_eq!(
        obs.to_dad,
        Some(Advert {
            eth_dst: pk::mac_str(&pk::multicast_mac(all_nodes)),
            eth_src_is_device: true,
            ip_src: DUT_V6.into(),
            ip_dst: all_nodes.into(),
            hop_limit: 255,
            router: false,
            solicited: false,
            override_: true,
            target: DUT_V6,
            tlla_is_device: Some(true),
            checksums_ok: true,
        })
    );
}

/// What matters in an ARP message from the device.
#[derive(Debug, PartialEq, Eq)]
struct ArpAnswer {
    eth_dst: String,
    eth_src_is_device: bool,
    op: u16,
    sha_is_device: bool,
    spa: Ipv4Addr,
    tha: String,
    tpa: Ipv4Addr,
}

impl ArpAnswer {
    fn of(d: &Dut, p: &Parsed) -> ArpAnswer {
        let a = p.arp.as_ref().expect("an ARP message");
        ArpAnswer {
            eth_dst: pk::mac_str(&p.dst_mac),
            eth_src_is_device: p.src_mac == d.mac,
            op: a.op,
            sha_is_device: a.sha == d.mac,
            spa: a.spa,
            tha: pk::mac_str(&a.tha),
            tpa: a.tpa,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct ArpAnswers {
    to_request: ArpAnswer,
    to_probe: Option<ArpAnswer>,
}

#[test]
fn ipv4_arp_request_and_probe_get_linux_s_replies() {
    let obs = on_both("ARP", |d| {
        d.answer_nd.set(false);
        let is_reply = |p: &Parsed| {
            p.arp
                .as_ref()
                .is_some_and(|a| a.op == ARP_REPLY && a.spa == DUT_V4)
        };
        d.send(&arp_request_from(PEER_MAC, PEER_V4));
        let to_request = ArpAnswer::of(d, &d.expect("ARP reply", is_reply));
        // An ARP probe (RFC 5227 §2.1.1): sender IP 0.0.0.0.
        d.send(&arp_request_from(PROBER_MAC, Ipv4Addr::UNSPECIFIED));
        let to_probe = d
            .expect_within(ANSWER, is_reply)
            .map(|p| ArpAnswer::of(d, &p));
        ArpAnswers {
            to_request,
            to_probe,
        }
    });
    // RFC 826: a reply to the requester, our MAC as sender.
    assert_eq!(
        obs.to_request,
        ArpAnswer {
            eth_dst: pk::mac_str(&PEER_MAC),
            eth_src_is_device: true,
            op: ARP_REPLY,
            sha_is_device: true,
            spa: DUT_V4,
            tha: pk::mac_str(&PEER_MAC),
            tpa: PEER_V4,
        }
    );
    // RFC 5227 §2.1.1 / RFC 826: the owner of the address answers the probe, to the prober.
    let to_probe = obs.to_probe.expect("the probe is answered");
    assert_eq!(
        (to_probe.eth_dst, to_probe.op, to_probe.spa),
        (pk::mac_str(&PROBER_MAC), ARP_REPLY, DUT_V4)
    );
}

/// What matters in the device's request for the peer's link-layer address.
#[derive(Debug, PartialEq, Eq)]
struct Solicitation {
    eth_dst: String,
    eth_src_is_device: bool,
    /// IPv6 source and destination, or the ARP sender and target protocol addresses.
    src: IpAddr,
    dst: IpAddr,
    target: IpAddr,
    /// IPv6 only.
    hop_limit: Option<u8>,
    /// The source link-layer option (IPv6) or the sender hardware address (ARP) is the
    /// device's MAC.
    lladdr_is_device: Option<bool>,
    checksums_ok: bool,
}

impl Solicitation {
    fn of(d: &Dut, p: &Parsed) -> Solicitation {
        let (src, dst, target, hop_limit, lladdr_is_device) = match (&p.arp, p.nd()) {
            (Some(a), _) => (
                a.spa.into(),
                a.tpa.into(),
                a.tpa.into(),
                None,
                Some(a.sha == d.mac),
            ),
            (None, Some((ip, _, nd))) => (
                ip.src,
                ip.dst,
                nd.target.into(),
                Some(ip.hop_limit),
                nd.slla.map(|m| m == d.mac),
            ),
            _ => d.fail(&format!("{p} is no solicitation")),
        };
        Solicitation {
            eth_dst: pk::mac_str(&p.dst_mac),
            eth_src_is_device: p.src_mac == d.mac,
            src,
            dst,
            target,
            hop_limit,
            lladdr_is_device,
            checksums_ok: p.checksums_ok,
        }
    }
}

/// What matters when the device must resolve the peer itself: the solicitation it sends (the
/// first thing it sends after the SYN) and the SYN-ACK once it is answered.
#[derive(Debug, PartialEq, Eq)]
struct Resolution {
    solicitation: Solicitation,
    synack: SynAck,
    synack_to: Addressing,
}

fn resolution_script(d: &Dut, fam: Fam) -> Resolution {
    d.answer_nd.set(false);
    let mut c = Conn::new(d, fam, 40101, ECHO_PORT, 0x1357_9bdf);
    c.send_syn(full_syn_options(0));
    let first = d.expect("a solicitation or an answer to the SYN", |p| {
        c.ours(p).is_some()
            || p.arp.as_ref().is_some_and(|a| a.op == ARP_REQUEST)
            || p.nd()
                .is_some_and(|(_, m, _)| m.typ == ICMP6_NEIGHBOR_SOLICIT)
    });
    if let Some(t) = c.ours(&first) {
        d.fail(&format!(
            "the device answered the SYN without resolving the peer first: {t}"
        ));
    }
    let solicitation = Solicitation::of(d, &first);
    d.answer_nd.set(true);
    assert!(d.answer_solicitation(&first), "{first} asks for the peer");
    let p = d.expect("SYN-ACK after the neighbour was resolved", |p| {
        c.ours(p).is_some()
    });
    let t = c.ours(&p).expect("ours").clone();
    c.abort();
    Resolution {
        solicitation,
        synack: SynAck::of(&c, &t),
        synack_to: Addressing::of(d, &p),
    }
}

#[test]
fn ipv6_syn_before_neighbor_discovery_makes_the_device_solicit_the_peer() {
    let r = on_both("resolution before the SYN-ACK (IPv6)", |d| {
        resolution_script(d, Fam::V6)
    });
    let g = pk::solicited_node(PEER_V6);
    // RFC 4861 §7.2.2: to the target's solicited-node group, from the address the SYN-ACK
    // will leave from, with our link-layer address.
    assert_eq!(
        r.solicitation,
        Solicitation {
            eth_dst: pk::mac_str(&pk::multicast_mac(g)),
            eth_src_is_device: true,
            src: DUT_V6.into(),
            dst: g.into(),
            target: PEER_V6.into(),
            hop_limit: Some(255),
            lladdr_is_device: Some(true),
            checksums_ok: true,
        }
    );
    assert_eq!(
        (r.synack.flags.as_str(), r.synack_to),
        ("S.", Addressing::to_peer(Fam::V6))
    );
}

#[test]
fn ipv4_syn_before_arp_makes_the_device_ask_for_the_peer() {
    let r = on_both("resolution before the SYN-ACK (IPv4)", |d| {
        resolution_script(d, Fam::V4)
    });
    // RFC 826: broadcast, our addresses as sender.
    assert_eq!(
        r.solicitation,
        Solicitation {
            eth_dst: pk::mac_str(&BROADCAST),
            eth_src_is_device: true,
            src: DUT_V4.into(),
            dst: PEER_V4.into(),
            target: PEER_V4.into(),
            hop_limit: None,
            lladdr_is_device: Some(true),
            checksums_ok: true,
        }
    );
    assert_eq!(
        (r.synack.flags.as_str(), r.synack_to),
        ("S.", Addressing::to_peer(Fam::V4))
    );
}

// ---------------------------------------------------------------------------------------------
// Script 2: the handshake with every option

#[derive(Debug, PartialEq, Eq)]
struct Handshake {
    synack: SynAck,
    synack_to: Addressing,
    to_repeated_syn: RepeatedSyn,
    /// Segments of the connection from the device in the [`SILENCE`] after our ACK.
    after_our_ack: Vec<String>,
}

/// The answer to the SYN sent again before the ACK (as a peer does when the SYN-ACK is lost).
#[derive(Debug, PartialEq, Eq)]
struct RepeatedSyn {
    flags: String,
    /// The same ISN as the first SYN-ACK.
    same_seq: bool,
    ack_is_our_isn_plus_1: bool,
    /// Which of our TSvals TSecr echoes: 1 (the first SYN's), 2 (the repeated SYN's), 0: other.
    tsecr_echoes: usize,
}

fn handshake_script(d: &Dut, fam: Fam) -> Handshake {
    d.introduce(fam);
    let mut c = Conn::new(d, fam, 40201, ECHO_PORT, 0x2468_ace0);
    c.send_syn(full_syn_options(0));
    let p = d.expect("SYN-ACK", |p| c.ours(p).is_some());
    let t = c.ours(&p).expect("ours").clone();
    let synack = SynAck::of(&c, &t);
    let synack_to = Addressing::of(d, &p);
    // The SYN again (same ISN, a newer TSval): RFC 9293 §3.10.7.4 answers the unacceptable
    // segment with an ACK, Linux with the SYN-ACK again (what a peer that lost it needs).
    c.snd_nxt = c.isn;
    c.send_syn(full_syn_options(0));
    let p = d.expect("answer to the repeated SYN", |p| c.ours(p).is_some());
    let again = c.ours(&p).expect("ours").clone();
    let to_repeated_syn = RepeatedSyn {
        flags: pk::flag_str(again.flags),
        same_seq: again.seq == t.seq,
        ack_is_our_isn_plus_1: again.ack == c.isn.wrapping_add(1),
        tsecr_echoes: again
            .timestamps()
            .and_then(|(_, ecr)| c.tsvals.iter().position(|v| *v == ecr))
            .map_or(0, |i| i + 1),
    };
    c.rcv_nxt = t.seq.wrapping_add(1);
    c.ts = t.timestamps().is_some();
    c.ts_recent = t.timestamps().map_or(0, |(v, _)| v);
    c.send(ACK, &[]);
    let deadline = Instant::now() + SILENCE;
    let mut after_our_ack = Vec::new();
    while let Some(p) = d.recv(deadline) {
        if let Some(t) = c.ours(&p) {
            after_our_ack.push(pk::flag_str(t.flags));
        }
    }
    c.abort();
    Handshake {
        synack,
        synack_to,
        to_repeated_syn,
        after_our_ack,
    }
}

fn assert_full_handshake(h: &Handshake, fam: Fam) {
    // RFC 9293 §3.5, RFC 7323 §2.2 and §3.2, RFC 2018 §2: every option offered is answered;
    // the MSS is the device's own (its MTU less the headers), compared with Linux's above.
    assert_eq!(
        (
            h.synack.flags.as_str(),
            h.synack.ack_is_our_isn_plus_1,
            h.synack.mss.is_some(),
            h.synack.window_scale,
            h.synack.sack_permitted,
            h.synack.tsecr_echoes_our_tsval,
            h.synack.sack_blocks,
            h.synack.payload
        ),
        ("S.", true, true, true, true, Some(true), false, 0)
    );
    assert_eq!(h.synack_to, Addressing::to_peer(fam));
    assert!(
        h.after_our_ack.is_empty(),
        "nothing after the handshake: {h:?}"
    );
}

#[test]
fn ipv6_handshake_with_mss_wscale_sack_and_timestamps_matches_linux() {
    let h = on_both("handshake (IPv6)", |d| handshake_script(d, Fam::V6));
    assert_full_handshake(&h, Fam::V6);
}

#[test]
fn ipv4_handshake_with_mss_wscale_sack_and_timestamps_matches_linux() {
    let h = on_both("handshake (IPv4)", |d| handshake_script(d, Fam::V4));
    assert_full_handshake(&h, Fam::V4);
}

// ---------------------------------------------------------------------------------------------
// Script 3: echo of several segments

#[derive(Debug, PartialEq, Eq)]
struct Echo {
    echoed_in_order: bool,
    /// The first byte of the echo is at the device's ISN + 1.
    echo_starts_after_isn: bool,
    /// Every acknowledgment lies between our ISN + 1 and the end of what we sent.
    acks_in_range: bool,
    acked_everything: bool,
    /// Every segment carries the timestamps option and its TSecr is a TSval we sent.
    timestamps_echo_ours: bool,
    sack_blocks: bool,
    unexpected_flags: Vec<String>,
    bad_checksums: usize,
    /// The largest segment of the echo of 3000 bytes sent as 1400 + 1400 + 200: our MSS
    /// (1400) less the timestamps option (12), RFC 6691 §2.
    largest_segment_of_3000_bytes: usize,
    /// 50 bytes sent without the timestamps option once it was negotiated came back: Linux
    /// accepts such segments (RFC 7323 §3.2 says SHOULD drop); a peer that forgets the
    /// option must see the same from the engine.
    echoed_without_timestamps: bool,
    /// After our FIN: the device acknowledged it and sent its own FIN (the echo server closes
    /// at end of file), right after the echoed bytes.
    closed_after_our_fin: bool,
    /// What the device sent after our ACK of its FIN.
    after_close: Vec<String>,
}

fn echo_script(d: &Dut, fam: Fam) -> Echo {
    d.introduce(fam);
    // Our ISN just below 2^32: our sequence numbers wrap within the 600 bytes.
    let mut c = Conn::new(d, fam, 40301, ECHO_PORT, 0xffff_fe00);
    let synack = c.connect(full_syn_options(0));
    assert!(synack.has(SYN | ACK), "SYN-ACK: {synack}");
    let irs = synack.seq;
    let sent: Vec<u8> = (0..3650u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let echo = |c: &mut Conn, cuts: &[usize], ts: bool| {
        for w in cuts.windows(2) {
            let flags = if w[1] == *cuts.last().expect("cuts") {
                PSH | ACK
            } else {
                ACK
            };
            c.send_with(flags, &sent[w[0]..w[1]], ts);
        }
        let end = *cuts.last().expect("cuts");
        c.pump_until(&format!("echo of bytes {}..{end}", cuts[0]), |c| {
            c.received.len() >= end && c.all_acked()
        });
    };
    echo(&mut c, &[0, 100, 300, 600], true);
    let large_from = c.segs.len();
    echo(&mut c, &[600, 2000, 3400, 3600], true);
    let largest_segment_of_3000_bytes = c.segs[large_from..]
        .iter()
        .map(|t| t.payload.len())
        .max()
        .unwrap_or(0);
    echo(&mut c, &[3600, 3650], false);
    c.send(FIN | ACK, &[]);
    c.pump_until("the device's FIN", |c| c.fin_received && c.all_acked());
    let fin = c.segs.iter().find(|t| t.has(FIN)).expect("a FIN").clone();
    let closed_after_our_fin =
        fin.seq.wrapping_add(fin.payload.len() as u32) == irs.wrapping_add(1 + sent.len() as u32);
    let before = c.segs.len();
    let deadline = Instant::now() + SILENCE;
    while let Some(p) = d.recv(deadline) {
        if let Some(t) = c.ours(&p).cloned() {
            c.take(&p, t);
        }
    }
    let after_close = c.segs[before..].iter().map(|t| t.to_string()).collect();
    let after_syn: Vec<&Tcp> = c.segs.iter().filter(|t| !t.has(SYN)).collect();
    let first_data = after_syn.iter().find(|t| !t.payload.is_empty());
    let sizes: Vec<usize> = after_syn.iter().map(|t| t.payload.len()).collect();
    eprintln!(
        "{:?}: segment payload sizes after the handshake: {sizes:?}",
        d.kind
    );
    let end = c.snd_nxt;
    Echo {
        echoed_in_order: c.received == sent,
        echo_starts_after_isn: first_data.is_some_and(|t| t.seq == irs.wrapping_add(1)),
        acks_in_range: after_syn.iter().all(|t| {
            t.has(ACK)
                && t.ack.wrapping_sub(c.isn.wrapping_add(1))
                    <= end.wrapping_sub(c.isn.wrapping_add(1))
        }),
        acked_everything: c.all_acked(),
        timestamps_echo_ours: after_syn.iter().all(|t| {
            t.timestamps()
                .is_some_and(|(_, ecr)| c.tsvals.contains(&ecr))
        }),
        sack_blocks: after_syn.iter().any(|t| t.has_sack_blocks()),
        unexpected_flags: after_syn
            .iter()
            .filter(|t| t.flags & (SYN | RST | URG) != 0)
            .map(|t| pk::flag_str(t.flags))
            .collect(),
        bad_checksums: c.bad_checksums,
        largest_segment_of_3000_bytes,
        echoed_without_timestamps: c.received.len() == sent.len(),
        closed_after_our_fin,
        after_close,
    }
}

fn assert_echo(e: &Echo) {
    assert_eq!(
        e,
        &Echo {
            echoed_in_order: true,
            echo_starts_after_isn: true,
            acks_in_range: true,
            acked_everything: true,
            timestamps_echo_ours: true,
            sack_blocks: false,
            unexpected_flags: Vec::new(),
            bad_checksums: 0,
            largest_segment_of_3000_bytes: 1388,
            echoed_without_timestamps: true,
            closed_after_our_fin: true,
            after_close: Vec::new(),
        }
    );
}

#[test]
fn ipv6_echo_of_three_segments_matches_linux() {
    assert_echo(&on_both("echo (IPv6)", |d| echo_script(d, Fam::V6)));
}

#[test]
fn ipv4_echo_of_three_segments_matches_linux() {
    assert_echo(&on_both("echo (IPv4)", |d| echo_script(d, Fam::V4)));
}

// ---------------------------------------------------------------------------------------------
// Script 4: a closed port

/// What matters in a RST.
#[derive(Debug, PartialEq, Eq)]
struct Reset {
    flags: String,
    seq: u32,
    /// The acknowledgment less the end of the segment it answers (`None` without ACK).
    ack_past_segment: Option<u32>,
    options: Vec<TcpOpt>,
    payload: usize,
    to: Addressing,
}

#[derive(Debug, PartialEq, Eq)]
struct ClosedPort {
    to_syn: Reset,
    /// A SYN carrying 10 bytes.
    to_syn_with_data: Reset,
    /// A FIN without ACK carrying 5 bytes.
    to_fin: Reset,
    /// (`seq` here is the RST's sequence number less the ACK segment's acknowledgment.)
    to_ack: Reset,
    /// The same ACK to the listening port (no connection there): the same RST.
    to_ack_at_listener: Reset,
    /// Anything sent in answer to a RST.
    to_rst: Vec<String>,
}

fn closed_port_script(d: &Dut, fam: Fam) -> ClosedPort {
    d.introduce(fam);
    let reset = |c: &Conn, end: u32, seq_base: u32| {
        let p = d.expect("RST", |p| c.ours(p).is_some());
        let t = c.ours(&p).expect("ours").clone();
        Reset {
            flags: pk::flag_str(t.flags),
            seq: t.seq.wrapping_sub(seq_base),
            ack_past_segment: t.has(ACK).then(|| t.ack.wrapping_sub(end)),
            options: t.options.clone(),
            payload: t.payload.len(),
            to: Addressing::of(d, &p),
        }
    };
    // A SYN (with options, as a client sends it): RST,ACK seq 0, ack = SYN + 1.
    let mut syn = Conn::new(d, fam, 40401, CLOSED_PORT, 0x8000_0001);
    syn.send_syn(full_syn_options(0));
    let to_syn = reset(&syn, 0x8000_0002, 0);
    // Segments without ACK that occupy more sequence space: ack = SEG.SEQ + SEG.LEN.
    let odd = |sport: u16, flags: u8, len: usize| {
        let c = Conn::new(d, fam, sport, CLOSED_PORT, 0x7000_0000 + u32::from(sport));
        let t = c.segment(flags, Vec::new(), &vec![0x5a; len]);
        d.send(&c.frame(&t));
        reset(&c, t.seq.wrapping_add(t.seg_len()), 0)
    };
    let to_syn_with_data = odd(40405, SYN, 10);
    let to_fin = odd(40406, FIN, 5);
    // An ACK: RST with seq = its ack.
    let mut ack = Conn::new(d, fam, 40402, CLOSED_PORT, 0x0102_0304);
    ack.rcv_nxt = 0xa0b0_c0d0;
    ack.send(ACK, &[]);
    let to_ack = reset(&ack, 0x0102_0304, 0xa0b0_c0d0);
    let mut ack = Conn::new(d, fam, 40407, ECHO_PORT, 0x0102_0304);
    ack.rcv_nxt = 0xa0b0_c0d0;
    ack.send(ACK, &[]);
    let to_ack_at_listener = reset(&ack, 0x0102_0304, 0xa0b0_c0d0);
    // A RST: nothing (RFC 9293 §3.10.7.1).
    let mut rst = Conn::new(d, fam, 40403, CLOSED_PORT, 0x0badcafe);
    rst.send(RST, &[]);
    let control = Conn::new(d, fam, 40404, CLOSED_PORT, 0x4000_0000);
    let control_syn = control.segment(SYN, Vec::new(), &[]);
    let to_rst = d.silent(
        |p| rst.ours(p).is_some(),
        &control.frame(&control_syn),
        |p| control.ours(p).is_some(),
    );
    ClosedPort {
        to_syn,
        to_syn_with_data,
        to_fin,
        to_ack,
        to_ack_at_listener,
        to_rst: to_rst.iter().map(Parsed::to_string).collect(),
    }
}

fn assert_closed_port(c: &ClosedPort, fam: Fam) {
    // RFC 9293 §3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> for a segment without ACK,
    // <SEQ=SEG.ACK><CTL=RST> for one with ACK; no options; nothing for a RST.
    let rst = |flags: &str, ack| Reset {
        flags: flags.into(),
        seq: 0,
        ack_past_segment: ack,
        options: Vec::new(),
        payload: 0,
        to: Addressing::to_peer(fam),
    };
    assert_eq!(c.to_syn, rst("R.", Some(0)));
    assert_eq!(c.to_syn_with_data, rst("R.", Some(0)));
    assert_eq!(c.to_fin, rst("R.", Some(0)));
    assert_eq!(c.to_ack, rst("R", None));
    assert_eq!(c.to_ack_at_listener, rst("R", None));
    assert!(c.to_rst.is_empty(), "{c:?}");
}

#[test]
fn ipv6_closed_port_resets_match_linux() {
    let c = on_both("closed port (IPv6)", |d| closed_port_script(d, Fam::V6));
    assert_closed_port(&c, Fam::V6);
}

#[test]
fn ipv4_closed_port_resets_match_linux() {
    let c = on_both("closed port (IPv4)", |d| closed_port_script(d, Fam::V4));
    assert_closed_port(&c, Fam::V4);
}

// ---------------------------------------------------------------------------------------------
// Script 5: the default MSS

#[derive(Debug, PartialEq, Eq)]
struct DefaultMss {
    synack: SynAck,
    echoed_in_order: bool,
    largest_segment: usize,
    acked_everything: bool,
}

fn default_mss_script(d: &Dut, fam: Fam) -> DefaultMss {
    d.introduce(fam);
    let mut c = Conn::new(d, fam, 40501, ECHO_PORT, 0x3000_0000);
    let t = c.connect(Vec::new());
    let synack = SynAck::of(&c, &t);
    assert!(t.has(SYN | ACK), "SYN-ACK: {t}");
    // 3000 bytes in segments larger than the default MSS, within the MSS the device offered:
    // the device must cut its echo to the default MSS.
    let sent: Vec<u8> = (0..3000u32).map(|i| (i * 13 + i / 256) as u8).collect();
    let cuts: &[usize] = match fam {
        Fam::V4 => &[0, 1000, 2000, 3000],
        Fam::V6 => &[0, 1400, 2800, 3000],
    };
    for w in cuts.windows(2) {
        let flags = if w[1] == sent.len() { PSH | ACK } else { ACK };
        c.send(flags, &sent[w[0]..w[1]]);
    }
    c.pump_until("echo of 3000 bytes", |c| {
        c.received.len() >= sent.len() && c.all_acked()
    });
    c.abort();
    let sizes: Vec<usize> = c
        .segs
        .iter()
        .map(|t| t.payload.len())
        .filter(|n| *n > 0)
        .collect();
    eprintln!("{:?}: data segment sizes: {sizes:?}", d.kind);
    DefaultMss {
        synack,
        echoed_in_order: c.received == sent,
        largest_segment: sizes.iter().copied().max().unwrap_or(0),
        acked_everything: c.all_acked(),
    }
}

fn assert_default_mss(m: &DefaultMss, fam: Fam) {
    // Nothing offered, nothing answered (RFC 7323 §1.3, RFC 2018 §2); the MSS option is sent
    // anyway (RFC 9293 §3.7.1 MUST).
    assert_eq!(
        (
            m.synack.flags.as_str(),
            m.synack.ack_is_our_isn_plus_1,
            m.synack.mss.is_some(),
            m.synack.window_scale,
            m.synack.sack_permitted,
            m.synack.tsecr_echoes_our_tsval
        ),
        ("S.", true, true, false, false, None)
    );
    assert_eq!(
        (m.echoed_in_order, m.largest_segment, m.acked_everything),
        (true, fam.default_mss(), true),
        "the echo comes back in segments of at most the default MSS"
    );
}

#[test]
fn ipv6_syn_without_options_gets_default_mss_1220() {
    let m = on_both("default MSS (IPv6)", |d| default_mss_script(d, Fam::V6));
    assert_default_mss(&m, Fam::V6);
}

#[test]
fn ipv4_syn_without_options_gets_default_mss_536() {
    let m = on_both("default MSS (IPv4)", |d| default_mss_script(d, Fam::V4));
    assert_default_mss(&m, Fam::V4);
}

// ---------------------------------------------------------------------------------------------
// Ping

#[derive(Debug, PartialEq, Eq)]
struct Pong {
    typ: u8,
    code: u8,
    same_ident_seq_and_data: bool,
    to: Addressing,
}

#[derive(Debug, PartialEq, Eq)]
struct Pings {
    unicast: Pong,
    /// The answer to a ping to all-nodes (ff02::1) or to the subnet's broadcast address.
    to_group: Option<Pong>,
}

fn ping_script(d: &Dut, fam: Fam) -> Pings {
    d.introduce(fam);
    let data: Vec<u8> = (0..56u8).map(|i| i.wrapping_mul(37)).collect();
    let (proto, reply_type) = match fam {
        Fam::V6 => (PROTO_ICMPV6, pk::ICMP6_ECHO_REPLY),
        Fam::V4 => (PROTO_ICMP, pk::ICMP_ECHO_REPLY),
    };
    let ping = |dst_mac: Mac, dst: IpAddr, seq: u16| {
        let body = pk::echo_body(0x5150, seq, &data);
        let msg = match (fam.peer(), dst) {
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                pk::icmpv6(src, dst, pk::ICMP6_ECHO_REQUEST, 0, &body)
            }
            _ => pk::icmpv4(pk::ICMP_ECHO_REQUEST, 0, &body),
        };
        pk::ip_frame(dst_mac, PEER_MAC, fam.peer(), dst, proto, &msg)
    };
    let is_reply = |seq: u16| {
        move |p: &Parsed| {
            p.ip.as_ref().is_some_and(|ip| ip.proto == proto)
                && p.icmp
                    .as_ref()
                    .is_some_and(|m| m.typ == reply_type && m.echo().is_some_and(|e| e.1 == seq))
        }
    };
    let pong = |p: &Parsed, seq: u16| {
        let m = p.icmp.as_ref().expect("ICMP");
        Pong {
            typ: m.typ,
            code: m.code,
            same_ident_seq_and_data: m.echo() == Some((0x5150, seq, &data[..])),
            to: Addressing::of(d, p),
        }
    };
    d.send(&ping(d.mac, fam.dut(), 3));
    let unicast = pong(&d.expect("echo reply", is_reply(3)), 3);
    let (group_mac, group): (Mac, IpAddr) = match fam {
        Fam::V6 => {
            let all_nodes = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
            (pk::multicast_mac(all_nodes), all_nodes.into())
        }
        Fam::V4 => (BROADCAST, Ipv4Addr::new(10, 97, 0, 255).into()),
    };
    d.send(&ping(group_mac, group, 4));
    let seen = d.silent(is_reply(4), &ping(d.mac, fam.dut(), 5), is_reply(5));
    Pings {
        unicast,
        to_group: seen.first().map(|p| pong(p, 4)),
    }
}

fn pong_from_device(fam: Fam) -> Pong {
    Pong {
        typ: match fam {
            Fam::V6 => pk::ICMP6_ECHO_REPLY,
            Fam::V4 => pk::ICMP_ECHO_REPLY,
        },
        code: 0,
        same_ident_seq_and_data: true,
        to: Addressing::to_peer(fam),
    }
}

#[test]
fn ipv6_ping_gets_an_echo_reply_like_linux_s() {
    let p = on_both("ping (IPv6)", |d| ping_script(d, Fam::V6));
    // RFC 4443 §4.2; to a multicast request, from our unicast address (Linux answers pings to
    // ff02::1: net.ipv6.icmp.echo_ignore_multicast is 0).
    assert_eq!(
        p,
        Pings {
            unicast: pong_from_device(Fam::V6),
            to_group: Some(pong_from_device(Fam::V6)),
        }
    );
}

#[test]
fn ipv4_ping_gets_an_echo_reply_like_linux_s() {
    let p = on_both("ping (IPv4)", |d| ping_script(d, Fam::V4));
    // RFC 792; a broadcast request MAY be ignored (RFC 1122 §3.2.2.6), and Linux does
    // (net.ipv4.icmp_echo_ignore_broadcasts is 1).
    assert_eq!(
        p,
        Pings {
            unicast: pong_from_device(Fam::V4),
            to_group: None,
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Extension headers and fragments

#[derive(Debug, PartialEq, Eq)]
struct Headers {
    /// The answer to a SYN behind a Hop-by-Hop Options header with a PadN (IPv6 only).
    hop_by_hop: Option<SynAck>,
    /// ... behind a Destination Options header with a PadN (IPv6 only).
    destination_options: Option<SynAck>,
    /// ... behind a Fragment header with offset 0 and M = 0, an atomic fragment, which RFC
    /// 6946 §4 says MUST be processed as a whole datagram (IPv6 only).
    atomic_fragment: Option<SynAck>,
    /// Anything sent in answer to a non-first fragment of a SYN (the first never comes, so
    /// not even a Time Exceeded, RFC 8200 §4.5).
    to_fragment: Vec<String>,
    /// ... to a SYN with a bad TCP checksum.
    to_bad_checksum: Vec<String>,
}

fn headers_script(d: &Dut, fam: Fam) -> Headers {
    d.introduce(fam);
    let (peer, dut) = (fam.peer(), fam.dut());
    // A SYN from `sport` behind the extension header `first` (IPv6 only): its answer.
    let behind = |sport: u16, first: u8, header: [u8; 8]| {
        let (IpAddr::V6(src), IpAddr::V6(dst)) = (peer, dut) else {
            return None;
        };
        let mut c = Conn::new(d, fam, sport, ECHO_PORT, 0x6000_0000 + u32::from(sport));
        let syn = c.segment(SYN, Vec::new(), &[]);
        c.snd_nxt = c.snd_nxt.wrapping_add(1);
        let mut payload = header.to_vec();
        payload.extend_from_slice(&syn.emit(peer, dut));
        let datagram = pk::ipv6(src, dst, first, 64, &payload);
        d.send(&pk::ethernet(d.mac, PEER_MAC, pk::ETH_IPV6, &datagram));
        let p = d.expect_within(ANSWER, |p| c.ours(p).is_some())?;
        c.abort();
        Some(SynAck::of(&c, c.ours(&p).expect("ours")))
    };
    let hop_by_hop = behind(40601, pk::NH_HOP_BY_HOP, pk::padn_options(PROTO_TCP));
    let destination_options = behind(40602, pk::NH_DEST_OPTS, pk::padn_options(PROTO_TCP));
    let atomic = pk::fragment_header(PROTO_TCP, 0, false, 0x0bb6_0001);
    let atomic_fragment = behind(40603, pk::NH_FRAGMENT, atomic);

    // A SYN's bytes as a fragment at offset 8 (no first fragment will come).
    let frag = Conn::new(d, fam, 40604, ECHO_PORT, 0x6100_0000);
    let bytes = frag.segment(SYN, Vec::new(), &[]).emit(peer, dut);
    d.send(&match (peer, dut) {
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let mut payload = pk::fragment_header(PROTO_TCP, 1, false, 0x0bb6_0002).to_vec();
            payload.extend_from_slice(&bytes);
            let datagram = pk::ipv6(src, dst, pk::NH_FRAGMENT, 64, &payload);
            pk::ethernet(d.mac, PEER_MAC, pk::ETH_IPV6, &datagram)
        }
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let datagram = pk::ipv4(src, dst, PROTO_TCP, 0xbb6, 1, &bytes);
            pk::ethernet(d.mac, PEER_MAC, pk::ETH_IPV4, &datagram)
        }
        _ => unreachable!("one family"),
    });
    // A SYN with its checksum broken.
    let bad = Conn::new(d, fam, 40605, ECHO_PORT, 0x6200_0000);
    let mut bytes = bad.segment(SYN, Vec::new(), &[]).emit(peer, dut);
    bytes[16] ^= 0x5a;
    d.send(&pk::ip_frame(d.mac, PEER_MAC, peer, dut, PROTO_TCP, &bytes));
    let mut control = Conn::new(d, fam, 40607, ECHO_PORT, 0x6400_0000);
    let control_syn = control.segment(SYN, Vec::new(), &[]);
    let icmp_error = |p: &Parsed| {
        p.ip.as_ref()
            .is_some_and(|ip| ip.dst == peer && matches!(ip.proto, PROTO_ICMP | PROTO_ICMPV6))
            && p.icmp
                .as_ref()
                .is_some_and(|m| m.typ < 128 && m.typ != pk::ICMP_ECHO_REPLY)
    };
    let flows = [&frag, &bad];
    let seen = d.silent(
        |p| icmp_error(p) || flows.iter().any(|c| c.ours(p).is_some()),
        &control.frame(&control_syn),
        |p| control.ours(p).is_some(),
    );
    control.snd_nxt = control.snd_nxt.wrapping_add(1);
    control.abort();
    let answers = |f: &dyn Fn(&Parsed) -> bool| -> Vec<String> {
        seen.iter()
            .filter(|p| f(p))
            .map(Parsed::to_string)
            .collect()
    };
    Headers {
        hop_by_hop,
        destination_options,
        atomic_fragment,
        to_fragment: answers(&|p| icmp_error(p) || frag.ours(p).is_some()),
        to_bad_checksum: answers(&|p| bad.ours(p).is_some()),
    }
}

#[test]
fn ipv6_extension_headers_are_skipped_and_a_non_first_fragment_dropped_like_linux() {
    let h = on_both("extension headers (IPv6)", |d| headers_script(d, Fam::V6));
    for (name, synack) in [
        ("Hop-by-Hop", &h.hop_by_hop),
        ("Destination Options", &h.destination_options),
        ("atomic fragment", &h.atomic_fragment),
    ] {
        let synack = synack
            .as_ref()
            .map(|s| (s.flags.as_str(), s.ack_is_our_isn_plus_1));
        assert_eq!(
            synack,
            Some(("S.", true)),
            "a SYN behind a {name} header: {h:?}"
        );
    }
    assert!(h.to_fragment.is_empty(), "{h:?}");
    assert!(h.to_bad_checksum.is_empty(), "{h:?}");
}

#[test]
fn ipv4_non_first_fragment_is_dropped_silently_like_linux() {
    let h = on_both("fragment (IPv4)", |d| headers_script(d, Fam::V4));
    assert!(h.to_fragment.is_empty(), "{h:?}");
    assert!(h.to_bad_checksum.is_empty(), "{h:?}");
}

// ---------------------------------------------------------------------------------------------
// Out-of-order data

#[derive(Debug, PartialEq, Eq)]
struct Reorder {
    /// The device's answer to data beyond a hole: a duplicate ACK (ack = our ISN + 1) ...
    dup_ack_is_our_isn_plus_1: bool,
    /// ... with SACK blocks (RFC 2018 §4), relative to our ISN + 1.
    sack_blocks: Vec<(u32, u32)>,
    echoed_in_order: bool,
    acked_everything: bool,
}

fn reorder_script(d: &Dut, fam: Fam) -> Reorder {
    d.introduce(fam);
    let mut c = Conn::new(d, fam, 40801, ECHO_PORT, 0x5000_0000);
    let synack = c.connect(full_syn_options(0));
    assert!(synack.has(SYN | ACK), "SYN-ACK: {synack}");
    let sent: Vec<u8> = (0..300u32).map(|i| (i * 11 + 3) as u8).collect();
    let base = c.snd_nxt;
    // Bytes 100..300 first.
    c.snd_nxt = base.wrapping_add(100);
    c.send(PSH | ACK, &sent[100..]);
    let dup = c.wait("duplicate ACK", |t| t.has(ACK) && t.payload.is_empty());
    let rel = |x: u32| x.wrapping_sub(base);
    let sack_blocks = dup
        .options
        .iter()
        .find_map(|o| match o {
            TcpOpt::Sack(b) => Some(b.iter().map(|&(l, r)| (rel(l), rel(r))).collect()),
            _ => None,
        })
        .unwrap_or_default();
    // Then the hole.
    c.snd_nxt = base;
    c.send(ACK, &sent[..100]);
    c.snd_nxt = base.wrapping_add(300);
    c.pump_until("echo of 300 bytes", |c| {
        c.received.len() >= 300 && c.all_acked()
    });
    c.abort();
    Reorder {
        dup_ack_is_our_isn_plus_1: dup.ack == base,
        sack_blocks,
        echoed_in_order: c.received == sent,
        acked_everything: c.all_acked(),
    }
}

fn assert_reorder(r: &Reorder) {
    assert_eq!(
        r,
        &Reorder {
            dup_ack_is_our_isn_plus_1: true,
            sack_blocks: vec![(100, 300)],
            echoed_in_order: true,
            acked_everything: true,
        }
    );
}

#[test]
fn ipv6_data_beyond_a_hole_gets_a_sack_like_linux_s() {
    assert_reorder(&on_both("out of order (IPv6)", |d| {
        reorder_script(d, Fam::V6)
    }));
}

#[test]
fn ipv4_data_beyond_a_hole_gets_a_sack_like_linux_s() {
    assert_reorder(&on_both("out of order (IPv4)", |d| {
        reorder_script(d, Fam::V4)
    }));
}

// ---------------------------------------------------------------------------------------------
// SYN and FIN together

/// What the device sends to a SYN with FIN set too, at the listening port, within [`SILENCE`]
/// (then a control SYN proves it alive).
fn syn_fin_script(d: &Dut, fam: Fam) -> Vec<String> {
    d.introduce(fam);
    let mut syn_fin = Conn::new(d, fam, 40701, ECHO_PORT, 0x6300_0000);
    d.send(&syn_fin.frame(&syn_fin.segment(SYN | FIN, Vec::new(), &[])));
    let mut control = Conn::new(d, fam, 40702, ECHO_PORT, 0x6400_0000);
    let control_syn = control.segment(SYN, Vec::new(), &[]);
    let seen = d.silent(
        |p| syn_fin.ours(p).is_some(),
        &control.frame(&control_syn),
        |p| control.ours(p).is_some(),
    );
    for c in [&mut syn_fin, &mut control] {
        c.snd_nxt = c.snd_nxt.wrapping_add(1);
        c.abort();
    }
    seen.iter()
        .filter_map(|p| syn_fin.ours(p).map(|t| pk::flag_str(t.flags)))
        .collect()
}

#[test]
fn ipv6_syn_with_fin_is_discarded_like_linux() {
    let answers = on_both("SYN+FIN (IPv6)", |d| syn_fin_script(d, Fam::V6));
    assert!(answers.is_empty(), "{answers:?}");
}

#[test]
fn ipv4_syn_with_fin_is_discarded_like_linux() {
    let answers = on_both("SYN+FIN (IPv4)", |d| syn_fin_script(d, Fam::V4));
    assert!(answers.is_empty(), "{answers:?}");
}
