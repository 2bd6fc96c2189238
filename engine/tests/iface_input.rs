//! Malformed input through a whole `Stack` (ARCHITECTURE decision 11): frames written by hand
//! into the raw end of a simulated link (no stack there) reach a stack on the other end.
//!
//! - Every class of bad Ethernet, ARP, IPv4, ICMP and TCP input is dropped without an answer and
//!   counted in exactly the counters `iface/input.rs` names for it (the test compares the whole
//!   counter set before and after each frame); frames for another MAC or IP address are dropped
//!   and counted; IP fragments are counted in `IpReasmReqds`/`IpReasmFails`.
//! - 10,000 random and mutated frames go through the stack without a panic or a leaked mbuf.
//! - After each of these, a valid ping is still answered, byte-correct.
//!
//! Frames are built here without the engine's `wire` module, so a bug there cannot hide in both
//! the frame and its check.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use engine::buf::{DEFAULT_DATA_ROOM, Mempool, Pkt, PoolSizes, Pools};
use engine::dev::Device;
use engine::dev::sim::{SimConfig, SimLink, SimPort};
use engine::eal;
use engine::rand::Rng;
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Stack, StackConfig};

const US_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const US: [u8; 6] = [2, 0, 0, 0, 0, 2];
const PEER: [u8; 6] = [2, 0, 0, 0, 0, 1];
const OTHER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x99];
const OTHER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 99);
const IP: usize = 14;

// ---- frame building (independent of engine::wire) ----

fn checksum(data: &[u8], initial: u32) -> u16 {
    let mut sum = initial
        + data
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
            .sum::<u32>();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn eth(dst: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(128);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An IPv4 datagram from the peer: 20-byte header (checksum valid, DF) + `payload`.
fn ipv4(dst_mac: [u8; 6], dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = eth(dst_mac, 0x0800);
    let total = (20 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&PEER_IP.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(payload);
    fix_ip_checksum(&mut f);
    f
}

fn fix_ip_checksum(f: &mut [u8]) {
    f[IP + 10..IP + 12].fill(0);
    let c = checksum(&f[IP..IP + 20], 0);
    f[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
}

fn icmp(msg_type: u8, ident: u16, seq: u16, data_len: usize) -> Vec<u8> {
    let mut m = vec![msg_type, 0, 0, 0];
    m.extend_from_slice(&ident.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend((0..data_len).map(|i| (i * 7) as u8));
    let c = checksum(&m, 0);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

fn ping(ident: u16, seq: u16) -> Vec<u8> {
    ipv4(US, US_IP, 1, &icmp(8, ident, seq, 32))
}

fn arp(op: u16, sender_mac: [u8; 6], sender_ip: Ipv4Addr, target_ip: Ipv4Addr) -> Vec<u8> {
    let mut f = eth([0xff; 6], 0x0806);
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sender_mac);
    f.extend_from_slice(&sender_ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target_ip.octets());
    f
}

/// A TCP segment with `header` as the TCP header and a valid checksum over the pseudo-header,
/// header and `data`. The checksum goes in its field, or, for a header too short to have one,
/// in the window field (any aligned 16-bit word that was zero makes the sum come out right).
fn tcp_with_header(mut header: Vec<u8>, data: &[u8]) -> Vec<u8> {
    header.extend_from_slice(data);
    let at = if header.len() >= 18 { 16 } else { 14 };
    header[at..at + 2].fill(0);
    let mut pseudo = 0u32;
    for w in [PEER_IP.octets(), US_IP.octets()] {
        pseudo += u32::from(u16::from_be_bytes([w[0], w[1]]));
        pseudo += u32::from(u16::from_be_bytes([w[2], w[3]]));
    }
    pseudo += 6 + header.len() as u32;
    let c = checksum(&header, pseudo);
    header[at..at + 2].copy_from_slice(&c.to_be_bytes());
    ipv4(US, US_IP, 6, &header)
}

/// A TCP header (SYN, data offset `doff` words) followed by `options`.
fn tcp_header(doff: u8, options: &[u8]) -> Vec<u8> {
    let mut h = vec![
        0xc3,
        0x50,
        0,
        80,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        doff << 4,
        0x02,
        0xff,
        0xff,
    ];
    h.extend_from_slice(&[0, 0, 0, 0]);
    h.extend_from_slice(options);
    h
}

// ---- the rig: a stack on one end of a sim link, the test on the other ----

struct Rig {
    stack: Stack<SimPort>,
    raw: SimPort,
    /// Frames the test writes come from here; the link copies into `link`.
    src: Mempool,
    link: Mempool,
    now: Instant,
}

type Snapshot = BTreeMap<&'static str, u64>;

impl Rig {
    fn new(tag: &str) -> Rig {
        eal::init_for_tests();
        let src = Mempool::create(&format!("{tag}s"), 1023, 0, DEFAULT_DATA_ROOM).expect("pool");
        let link = Mempool::create(&format!("{tag}l"), 2047, 0, DEFAULT_DATA_ROOM).expect("pool");
        let sizes = PoolSizes {
            data: 2047,
            hdr: 1023,
            indirect: 1023,
        };
        let pools = Pools::create(tag, &sizes).expect("pools");
        let (port, raw) = SimLink::pair(link, SimConfig::default(), MacAddr(US), MacAddr(PEER));
        let stack = Stack::new(port, pools, StackConfig::new(US_IP, 24));
        let mut rig = Rig {
            stack,
            raw,
            src,
            link,
            now: Instant::ZERO,
        };
        // The stack's start-up announcement (gratuitous ARP), if any, is not under test.
        let _ = rig.exchange(&[]);
        rig
    }

    fn counters(&self) -> Snapshot {
        self.stack.counters().entries().into_iter().collect()
    }

    /// Sends `frames` in one burst, lets the stack run (well past the link's latency), and
    /// returns every frame the stack sent back.
    fn exchange(&mut self, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut burst: Vec<Pkt> = frames
            .iter()
            .map(|f| Pkt::from_slice(&self.src, f).expect("alloc"))
            .collect();
        let n = burst.len();
        assert_eq!(self.raw.tx_burst(self.now, &mut burst), n);
        let mut out = Vec::new();
        let mut got = Vec::with_capacity(64);
        for _ in 0..4 {
            self.now += Duration::from_millis(1);
            while self.stack.poll(self.now) > 0 {}
            self.raw.rx_burst(self.now, &mut got, 64);
            out.extend(got.drain(..).map(|p| {
                let mut v = vec![0; p.len()];
                p.copy_out(0, &mut v);
                v
            }));
        }
        assert_eq!(self.raw.rx_pending(), 0, "everything delivered");
        out
    }

    /// Sends one frame and returns the counters that changed, with their increments.
    fn inject(&mut self, frame: &[u8]) -> (BTreeMap<&'static str, u64>, Vec<Vec<u8>>) {
        let before = self.counters();
        let replies = self.exchange(&[frame.to_vec()]);
        let after = self.counters();
        let delta = after
            .iter()
            .filter_map(|(k, v)| {
                let b = before.get(k).copied().unwrap_or(0);
                (*v != b).then(|| (*k, v.wrapping_sub(b)))
            })
            .collect();
        (delta, replies)
    }

    /// A valid ping is answered with a correct echo reply, and counted as one.
    fn assert_answers_ping(&mut self, seq: u16) {
        let (delta, replies) = self.inject(&ping(0xabcd, seq));
        assert_eq!(replies.len(), 1, "one answer to ping {seq}: {replies:?}");
        check_echo_reply(&replies[0], 0xabcd, seq);
        for (name, inc) in [
            ("IcmpInEchos", 1),
            ("IcmpOutEchoReps", 1),
            ("EthInFrames", 1),
        ] {
            assert_eq!(delta.get(name), Some(&inc), "{name}: {delta:?}");
        }
    }
}

/// `r` is our echo reply to the peer's ping `(ident, seq)`: addresses swapped, type 0, valid
/// IPv4 and ICMP checksums, the request's data echoed.
fn check_echo_reply(r: &[u8], ident: u16, seq: u16) {
    let req = ping(ident, seq);
    assert_eq!(r.len(), req.len(), "same length as the request");
    assert_eq!(&r[0..6], &PEER, "to the peer's MAC");
    assert_eq!(&r[6..12], &US, "from ours");
    assert_eq!(&r[12..14], &[0x08, 0x00]);
    assert_eq!(checksum(&r[IP..IP + 20], 0), 0, "IPv4 header checksum");
    assert_eq!(&r[IP + 12..IP + 16], &US_IP.octets());
    assert_eq!(&r[IP + 16..IP + 20], &PEER_IP.octets());
    let m = &r[IP + 20..];
    assert_eq!(checksum(m, 0), 0, "ICMP checksum");
    assert_eq!((m[0], m[1]), (0, 0), "echo reply");
    assert_eq!(
        &m[4..8],
        &[(ident >> 8) as u8, ident as u8, (seq >> 8) as u8, seq as u8]
    );
    assert_eq!(&m[8..], &req[IP + 28..], "data echoed");
}

/// One malformed frame and the counters it must bump (each by one).
struct Case {
    name: &'static str,
    frame: Vec<u8>,
    counts: &'static [&'static str],
}

fn case(name: &'static str, frame: Vec<u8>, counts: &'static [&'static str]) -> Case {
    Case {
        name,
        frame,
        counts,
    }
}

const ETH: &[&str] = &["EthInFrames"];
const IP_IN: &[&str] = &["EthInFrames", "IpInReceives"];
const ICMP_IN: &[&str] = &["EthInFrames", "IpInReceives", "IpInDelivers", "IcmpInMsgs"];
const TCP_IN: &[&str] = &["EthInFrames", "IpInReceives", "IpInDelivers"];

fn with(base: &'static [&'static str], more: &'static [&'static str]) -> &'static [&'static str] {
    Box::leak([base, more].concat().into_boxed_slice())
}

fn bad_frames() -> Vec<Case> {
    let mut v = Vec::new();
    let good_ping = || ping(0x1111, 1);

    // Ethernet
    v.push(case("empty frame", vec![], with(ETH, &["EthInMalformed"])));
    v.push(case(
        "13 bytes",
        good_ping()[..13].to_vec(),
        with(ETH, &["EthInMalformed"]),
    ));
    let mut f = good_ping();
    f[..6].copy_from_slice(&OTHER_MAC);
    v.push(case(
        "unicast for another MAC",
        f,
        with(ETH, &["EthInOtherHost"]),
    ));
    let mut f = good_ping();
    f[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
    v.push(case(
        "unknown EtherType",
        f,
        with(ETH, &["EthInUnknownType"]),
    ));
    let mut f = good_ping();
    f[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    v.push(case(
        "IPv4 bytes under the IPv6 EtherType",
        f,
        with(ETH, &["Ip6InReceives", "Ip6InHdrErrors"]),
    ));

    // ARP
    let req = || arp(1, PEER, PEER_IP, US_IP);
    v.push(case(
        "ARP truncated to 20 bytes",
        req()[..IP + 20].to_vec(),
        with(ETH, &["ArpInErrors"]),
    ));
    let mut f = req();
    f[IP..IP + 2].copy_from_slice(&6u16.to_be_bytes());
    v.push(case("ARP hardware type 6", f, with(ETH, &["ArpInErrors"])));
    let mut f = req();
    f[IP + 2..IP + 4].copy_from_slice(&0x86ddu16.to_be_bytes());
    v.push(case("ARP protocol IPv6", f, with(ETH, &["ArpInErrors"])));
    let mut f = req();
    f[IP + 4] = 8;
    v.push(case(
        "ARP hardware length 8",
        f,
        with(ETH, &["ArpInErrors"]),
    ));
    v.push(case(
        "ARP from a multicast MAC",
        arp(1, [0x01, 0, 0x5e, 0, 0, 1], PEER_IP, US_IP),
        with(ETH, &["ArpInErrors"]),
    ));
    v.push(case(
        "ARP operation 3",
        arp(3, PEER, PEER_IP, US_IP),
        with(ETH, &["ArpInErrors"]),
    ));
    v.push(case(
        "ARP request for another IP",
        arp(1, PEER, PEER_IP, OTHER_IP),
        with(ETH, &["ArpInRequests"]),
    ));

    // IPv4
    v.push(case(
        "IPv4 header truncated to 19 bytes",
        good_ping()[..IP + 19].to_vec(),
        with(IP_IN, &["IpInHdrErrors"]),
    ));
    let mut f = good_ping();
    f[IP] = 0x65;
    fix_ip_checksum(&mut f);
    v.push(case("IP version 6", f, with(IP_IN, &["IpInHdrErrors"])));
    let mut f = good_ping();
    f[IP] = 0x44;
    fix_ip_checksum(&mut f);
    v.push(case("IHL 4", f, with(IP_IN, &["IpInHdrErrors"])));
    let mut f = good_ping();
    f[IP] = 0x4f;
    fix_ip_checksum(&mut f);
    f.truncate(IP + 40);
    f[IP + 2..IP + 4].copy_from_slice(&40u16.to_be_bytes());
    fix_ip_checksum(&mut f);
    v.push(case(
        "IHL 15 past the frame",
        f,
        with(IP_IN, &["IpInHdrErrors"]),
    ));
    let mut f = good_ping();
    let len = (f.len() - IP) as u16;
    f[IP + 2..IP + 4].copy_from_slice(&(len + 1).to_be_bytes());
    fix_ip_checksum(&mut f);
    v.push(case(
        "total length past the frame",
        f,
        with(IP_IN, &["IpExtInTruncatedPkts"]),
    ));
    let mut f = good_ping();
    f[IP + 2..IP + 4].copy_from_slice(&19u16.to_be_bytes());
    fix_ip_checksum(&mut f);
    v.push(case(
        "total length below the header",
        f,
        with(IP_IN, &["IpInHdrErrors"]),
    ));
    let mut f = good_ping();
    f[IP + 11] ^= 1;
    v.push(case(
        "IPv4 header checksum",
        f,
        with(IP_IN, &["IpInHdrErrors", "IpExtInCsumErrors"]),
    ));
    v.push(case(
        "for another IP",
        ipv4(US, OTHER_IP, 1, &icmp(8, 1, 1, 8)),
        with(IP_IN, &["IpInAddrErrors"]),
    ));
    let mut f = good_ping();
    f[IP + 6] = 0x20; // MF, offset 0
    fix_ip_checksum(&mut f);
    v.push(case(
        "first fragment",
        f,
        with(IP_IN, &["IpReasmReqds", "IpReasmFails"]),
    ));
    let mut f = good_ping();
    f[IP + 6..IP + 8].copy_from_slice(&0x0003u16.to_be_bytes()); // offset 24, last
    fix_ip_checksum(&mut f);
    v.push(case(
        "last fragment",
        f,
        with(IP_IN, &["IpReasmReqds", "IpReasmFails"]),
    ));
    v.push(case(
        "UDP (unknown protocol)",
        ipv4(US, US_IP, 17, &[0x30, 0x39, 0, 53, 0, 8, 0, 0]),
        with(IP_IN, &["IpInUnknownProtos"]),
    ));

    // ICMP
    v.push(case(
        "ICMP truncated to 4 bytes",
        ipv4(US, US_IP, 1, &icmp(8, 1, 1, 0)[..4]),
        with(ICMP_IN, &["IcmpInErrors"]),
    ));
    let mut m = icmp(8, 1, 1, 16);
    m[3] ^= 0x10;
    v.push(case(
        "ICMP checksum",
        ipv4(US, US_IP, 1, &m),
        with(ICMP_IN, &["IcmpInErrors", "IcmpInCsumErrors"]),
    ));
    let mut m = icmp(8, 1, 1, 16);
    m[20] ^= 0xff; // in the data: the checksum covers the whole message
    v.push(case(
        "ICMP data corrupted",
        ipv4(US, US_IP, 1, &m),
        with(ICMP_IN, &["IcmpInErrors", "IcmpInCsumErrors"]),
    ));
    v.push(case(
        "ICMP timestamp request (not answered)",
        ipv4(US, US_IP, 1, &icmp(13, 1, 1, 12)),
        ICMP_IN,
    ));

    // TCP (dropped before the TCP layer sees them)
    let mut f = tcp_with_header(tcp_header(5, &[]), b"");
    let n = f.len();
    f[n - 6] ^= 0x40; // the window field, covered by the checksum
    v.push(case(
        "TCP checksum",
        f,
        with(TCP_IN, &["TcpInCsumErrors", "TcpInErrs"]),
    ));
    v.push(case(
        "TCP header truncated to 16 bytes",
        tcp_with_header(tcp_header(5, &[])[..16].to_vec(), b""),
        with(TCP_IN, &["TcpExtInHdrErrors", "TcpInErrs"]),
    ));
    v.push(case(
        "TCP data offset 4",
        tcp_with_header(tcp_header(4, &[]), b"hello"),
        with(TCP_IN, &["TcpExtInHdrErrors", "TcpInErrs"]),
    ));
    v.push(case(
        "TCP data offset past the segment",
        tcp_with_header(tcp_header(15, &[1, 1, 1, 1]), b""),
        with(TCP_IN, &["TcpExtInHdrErrors", "TcpInErrs"]),
    ));
    v.push(case(
        "TCP MSS option of length 3",
        tcp_with_header(tcp_header(6, &[2, 3, 5, 1]), b""),
        with(TCP_IN, &["TcpExtInHdrErrors", "TcpInErrs"]),
    ));
    v.push(case(
        "TCP option running past the header",
        tcp_with_header(tcp_header(6, &[1, 1, 8, 10]), b""),
        with(TCP_IN, &["TcpExtInHdrErrors", "TcpInErrs"]),
    ));
    v
}

#[test]
fn every_class_of_bad_input_is_dropped_and_counted() {
    let mut rig = Rig::new("ifb");
    rig.assert_answers_ping(0);
    for (i, c) in bad_frames().iter().enumerate() {
        let (delta, replies) = rig.inject(&c.frame);
        assert!(
            replies.is_empty(),
            "{}: dropped without an answer, got {replies:?}",
            c.name
        );
        let want: BTreeMap<&str, u64> = c.counts.iter().map(|n| (*n, 1)).collect();
        // A segment dropped for a bad TCP checksum or header counts in TcpInErrs too, as
        // Linux's tcp_v4_rcv counts it.
        let got: BTreeMap<&str, u64> = delta.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(got, want, "{}: exactly these counters, by one", c.name);
        rig.assert_answers_ping(i as u16 + 1);
    }
    drop(rig.stack);
    assert_eq!(rig.link.in_use() + rig.src.in_use(), 0, "no mbuf leaked");
}

/// Valid frames of every kind the fuzzer mutates.
fn templates() -> Vec<Vec<u8>> {
    let mut frag = ping(2, 2);
    frag[IP + 6] = 0x20;
    fix_ip_checksum(&mut frag);
    vec![
        ping(1, 1),
        arp(1, PEER, PEER_IP, US_IP),
        arp(2, PEER, PEER_IP, US_IP),
        tcp_with_header(tcp_header(8, &[2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 7, 0, 0]), b""),
        tcp_with_header(tcp_header(5, &[]), b"payload bytes"),
        frag,
        ipv4(US, US_IP, 17, &[0x30, 0x39, 0, 53, 0, 8, 0, 0]),
    ]
}

/// Frame `i` of the fuzz run: random bytes (half of them addressed to us so they get past the
/// MAC filter), or a template with random bytes changed, truncated or extended.
fn fuzz_frame(rng: &mut Rng, templates: &[Vec<u8>]) -> Vec<u8> {
    if rng.below(4) == 0 {
        let mut f = vec![0; rng.below(1515) as usize];
        rng.fill(&mut f);
        if f.len() >= 14 && rng.chance(0.5) {
            f[..6].copy_from_slice(&US);
            let types = [0x0800u16, 0x0806];
            f[12..14].copy_from_slice(&types[rng.below(2) as usize].to_be_bytes());
        }
        return f;
    }
    let mut f = templates[rng.below(templates.len() as u64) as usize].clone();
    for _ in 0..=rng.below(8) {
        // Mostly in the headers, where the parsers look.
        let end = f.len().min(80);
        let at = 6 + rng.below((end - 6) as u64) as usize;
        f[at] = rng.next_u32() as u8;
    }
    match rng.below(4) {
        0 => f.truncate(rng.below(f.len() as u64 + 1) as usize),
        1 => {
            let extra = rng.below(64) as usize;
            let mut tail = vec![0; extra];
            rng.fill(&mut tail);
            f.extend_from_slice(&tail);
        }
        _ => {}
    }
    // Half the time, make the checksums right again so the damage reaches the checks behind
    // them (header lengths, fragments, ICMP types, TCP options).
    if rng.chance(0.5) {
        refix_checksums(&mut f);
    }
    f
}

/// Recomputes the IPv4 header checksum and the ICMP or TCP checksum of a (possibly damaged)
/// frame, wherever its own length fields say they are and the bytes exist.
fn refix_checksums(f: &mut [u8]) {
    if f.len() < IP + 20 || f[12..14] != [0x08, 0x00] {
        return;
    }
    let hlen = usize::from(f[IP] & 0x0f) * 4;
    if hlen < 20 || IP + hlen > f.len() {
        return;
    }
    f[IP + 10..IP + 12].fill(0);
    let c = checksum(&f[IP..IP + hlen], 0);
    f[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
    let total = usize::from(u16::from_be_bytes([f[IP + 2], f[IP + 3]]));
    if total < hlen || IP + total > f.len() {
        return;
    }
    let l4 = IP + hlen..IP + total;
    let (at, initial) = match f[IP + 9] {
        1 => (2, 0),
        6 => {
            let mut pseudo = 6 + (total - hlen) as u32;
            for w in f[IP + 12..IP + 20].chunks(2) {
                pseudo += u32::from(u16::from_be_bytes([w[0], w[1]]));
            }
            (16, pseudo)
        }
        _ => return,
    };
    if l4.len() < at + 2 {
        return;
    }
    let seg = &mut f[l4];
    seg[at..at + 2].fill(0);
    let c = checksum(seg, initial);
    seg[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn ten_thousand_random_and_mutated_frames_do_not_break_the_stack() {
    const FRAMES: usize = 10_000;
    const BURST: usize = 16;
    let mut rig = Rig::new("iff");
    let templates = templates();
    let mut rng = Rng::new(0xf0f0_2024);
    let before = rig.counters();
    let mut sent = 0;
    while sent < FRAMES {
        let burst: Vec<Vec<u8>> = (0..BURST.min(FRAMES - sent))
            .map(|_| fuzz_frame(&mut rng, &templates))
            .collect();
        sent += burst.len();
        let _answers = rig.exchange(&burst);
    }
    let after = rig.counters();
    assert_eq!(
        after["EthInFrames"] - before["EthInFrames"],
        FRAMES as u64,
        "every frame reached the stack"
    );
    let s = rig.raw.stats();
    assert_eq!(
        s.tail_drops + s.oversize,
        0,
        "the link dropped nothing: {s:?}"
    );
    rig.assert_answers_ping(1);
    // Let ARP requests the stack may have started give up, then look for leaks on the link.
    rig.now += Duration::from_secs(10);
    let _ = rig.exchange(&[]);
    drop(rig.stack);
    assert_eq!(rig.link.in_use() + rig.src.in_use(), 0, "no mbuf leaked");
}
