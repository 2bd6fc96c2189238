//! What `iface_input.rs` (Ethernet, ARP, IPv4, ICMP, TCP) and `iface_input_v6.rs` (IPv6,
//! ICMPv6, Neighbor Discovery, TCP over IPv6) share: frames written by hand into the raw end of
//! a simulated link reach a whole `Stack` on the other end, which has the addresses
//! 10.0.0.2/24 and fd00::2/64.
//!
//! - Frame building without the engine's `wire` module (checksums, Ethernet, an IPv4 ping, TCP
//!   headers), so a bug there cannot hide in both a frame and its check.
//! - [`Rig`]: the stack and the link's raw end; [`Rig::inject`] returns the counters one frame
//!   moved and the frames the stack sent back.
//! - [`check_cases`]: bad frames, each dropped without an answer and counted in exactly the
//!   counters named for it, each followed by a check that the stack still answers.
//! - [`fuzz`], [`mutate`] and [`finish`]: the fuzz runs and the leak check after them.
//! - [`v6`]: IPv6 frames built by hand and the checks of the stack's answers to them.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use engine::buf::{DEFAULT_DATA_ROOM, Mempool, Pkt, PoolSizes, Pools};
use engine::dev::Device;
use engine::dev::sim::{SimConfig, SimLink, SimPort};
use engine::eal;
use engine::ip::IpCidr;
use engine::rand::Rng;
use engine::time::Instant;
use engine::wire::MacAddr;
use engine::{Stack, StackConfig};

pub mod v6;

pub const US_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
pub const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub const OTHER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 99);
pub const US6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
pub const PEER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
pub const OTHER6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x99);
pub const US: [u8; 6] = [2, 0, 0, 0, 0, 2];
pub const PEER: [u8; 6] = [2, 0, 0, 0, 0, 1];
pub const OTHER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x99];
/// Where the network header starts.
pub const IP: usize = 14;

// ---- frame building (independent of engine::wire) ----

/// The Internet checksum of `data` (RFC 1071), starting from the sum `initial`.
pub fn checksum(data: &[u8], initial: u32) -> u16 {
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

/// An Ethernet header from the peer.
pub fn eth(dst: [u8; 6], ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(128);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An IPv4 datagram from the peer: 20-byte header (checksum valid, DF) + `payload`.
pub fn ipv4(dst_mac: [u8; 6], dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
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

pub fn fix_ip_checksum(f: &mut [u8]) {
    f[IP + 10..IP + 12].fill(0);
    let c = checksum(&f[IP..IP + 20], 0);
    f[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
}

pub fn icmp(msg_type: u8, ident: u16, seq: u16, data_len: usize) -> Vec<u8> {
    let mut m = vec![msg_type, 0, 0, 0];
    m.extend_from_slice(&ident.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend((0..data_len).map(|i| (i * 7) as u8));
    let c = checksum(&m, 0);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

pub fn ping(ident: u16, seq: u16) -> Vec<u8> {
    ipv4(US, US_IP, 1, &icmp(8, ident, seq, 32))
}

/// `r` is our echo reply to the peer's ping `(ident, seq)`: addresses swapped, type 0, valid
/// IPv4 and ICMP checksums, the request's data echoed.
pub fn check_echo_reply(r: &[u8], ident: u16, seq: u16) {
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

/// A TCP header (SYN, data offset `doff` words) followed by `options`.
pub fn tcp_header(doff: u8, options: &[u8]) -> Vec<u8> {
    let mut h = vec![0xc3, 0x50, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0];
    h.extend_from_slice(&[doff << 4, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
    h.extend_from_slice(options);
    h
}

/// `header` followed by `data`, with a valid checksum over the pseudo-header sum `pseudo`
/// (which must not include the length: it is added here). The checksum goes in its field, or,
/// for a header too short to have one, in the window field (any aligned 16-bit word that was
/// zero makes the sum come out right).
pub fn tcp_segment(mut header: Vec<u8>, data: &[u8], pseudo: u32) -> Vec<u8> {
    header.extend_from_slice(data);
    let at = if header.len() >= 18 { 16 } else { 14 };
    header[at..at + 2].fill(0);
    let c = checksum(&header, pseudo + header.len() as u32);
    header[at..at + 2].copy_from_slice(&c.to_be_bytes());
    header
}

// ---- the rig: a stack on one end of a sim link, the test on the other ----

pub struct Rig {
    pub stack: Stack<SimPort>,
    pub raw: SimPort,
    /// Frames the test writes come from here; the link copies into `link`.
    pub src: Mempool,
    pub link: Mempool,
    pub now: Instant,
}

pub type Snapshot = BTreeMap<&'static str, u64>;

impl Rig {
    pub fn new(tag: &str) -> Rig {
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
        let addrs = vec![IpCidr::new(US_IP, 24), IpCidr::new(US6, 64)];
        let stack = Stack::new(port, pools, StackConfig::with_addrs(addrs));
        let mut rig = Rig {
            stack,
            raw,
            src,
            link,
            now: Instant::ZERO,
        };
        // The stack's start-up announcements (gratuitous ARP, unsolicited Neighbor
        // Advertisement) are not under test.
        let _ = rig.exchange(&[]);
        rig
    }

    pub fn counters(&self) -> Snapshot {
        self.stack.counters().entries().into_iter().collect()
    }

    /// Sends `frames` in one burst, lets the stack run (well past the link's latency), and
    /// returns every frame the stack sent back.
    pub fn exchange(&mut self, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
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
    pub fn inject(&mut self, frame: &[u8]) -> (Snapshot, Vec<Vec<u8>>) {
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
    pub fn assert_answers_ping(&mut self, seq: u16) {
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

// ---- bad frames ----

/// One malformed frame and the counters it must bump (each by one).
pub struct Case {
    pub name: &'static str,
    pub frame: Vec<u8>,
    pub counts: &'static [&'static str],
}

pub fn case(name: &'static str, frame: Vec<u8>, counts: &'static [&'static str]) -> Case {
    Case {
        name,
        frame,
        counts,
    }
}

/// `base` and `more`, for a case's counters.
pub fn with(
    base: &'static [&'static str],
    more: &'static [&'static str],
) -> &'static [&'static str] {
    Box::leak([base, more].concat().into_boxed_slice())
}

/// `counts` as the delta [`Rig::inject`] returns: each by one.
pub fn by_one(counts: &[&'static str]) -> Snapshot {
    counts.iter().map(|n| (*n, 1)).collect()
}

/// Sends each case's frame: dropped without an answer, and exactly its counters moved, each
/// by one (a segment dropped for a bad TCP checksum or header counts in `TcpInErrs` too, as
/// Linux's `tcp_v4_rcv` and `tcp_v6_rcv` count it). After each, `still_answers(rig, i)` checks
/// that the stack still works. Then no mbuf may be left.
pub fn check_cases(mut rig: Rig, cases: &[Case], mut still_answers: impl FnMut(&mut Rig, u16)) {
    for (i, c) in cases.iter().enumerate() {
        let (delta, replies) = rig.inject(&c.frame);
        assert!(
            replies.is_empty(),
            "{}: dropped without an answer, got {replies:x?}",
            c.name
        );
        assert_eq!(
            delta,
            by_one(c.counts),
            "{}: exactly these counters, by one",
            c.name
        );
        still_answers(&mut rig, i as u16 + 1);
    }
    drop(rig.stack);
    assert_eq!(rig.link.in_use() + rig.src.in_use(), 0, "no mbuf leaked");
}

// ---- fuzzing ----

/// Changes one to eight random bytes of `f` past the Ethernet source, all within the first
/// `span` bytes (the headers, where the parsers look), then a quarter of the time truncates it
/// and a quarter of the time appends up to 63 random bytes.
pub fn mutate(rng: &mut Rng, f: &mut Vec<u8>, span: usize) {
    for _ in 0..=rng.below(8) {
        let end = f.len().min(span);
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
}

/// Random bytes of a random length up to a full frame.
pub fn random_frame(rng: &mut Rng) -> Vec<u8> {
    let mut f = vec![0; rng.below(1515) as usize];
    rng.fill(&mut f);
    f
}

/// Sends `n` frames from `next` through the stack in bursts of 16: every one reaches it, the
/// link drops none, nothing panics.
pub fn fuzz(rig: &mut Rig, n: usize, mut next: impl FnMut() -> Vec<u8>) {
    const BURST: usize = 16;
    let before = rig.counters();
    let mut sent = 0;
    while sent < n {
        let burst: Vec<Vec<u8>> = (0..BURST.min(n - sent)).map(|_| next()).collect();
        sent += burst.len();
        let _answers = rig.exchange(&burst);
    }
    let after = rig.counters();
    assert_eq!(
        after["EthInFrames"] - before["EthInFrames"],
        n as u64,
        "every frame reached the stack"
    );
    let s = rig.raw.stats();
    assert_eq!(
        s.tail_drops + s.oversize,
        0,
        "the link dropped nothing: {s:?}"
    );
}

/// After a fuzz run: lets the neighbour resolutions the stack may have started give up, then
/// looks for leaked mbufs.
pub fn finish(mut rig: Rig) {
    rig.now += Duration::from_secs(10);
    let _ = rig.exchange(&[]);
    drop(rig.stack);
    assert_eq!(rig.link.in_use() + rig.src.in_use(), 0, "no mbuf leaked");
}
