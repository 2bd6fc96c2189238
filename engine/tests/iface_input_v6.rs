//! Malformed IPv6 input through a whole `Stack` (ARCHITECTURE decision 11), as
//! `iface_input.rs` does for IPv4: frames written by hand into the raw end of a simulated link
//! reach a stack on the other end, which has the address fd00::2/64 beside 10.0.0.2/24.
//!
//! - Every class of bad IPv6, extension-header, ICMPv6, Neighbor Discovery and TCP-over-IPv6
//!   input is dropped without an answer and counted in exactly the counters `ip/ipv6.rs`,
//!   `ip/icmpv6.rs` and `ip/input.rs` name for it (the test compares the whole counter set
//!   before and after each frame), and teaches the neighbour cache nothing; after each, a valid
//!   IPv6 ping is still answered, byte-correct.
//! - Valid input is answered: echo requests to our address and to the groups we joined (also
//!   behind extension headers), Neighbor Solicitations for our address; the answers are checked
//!   byte by byte and their counters exactly.
//! - 10,000+ mutated IPv6 frames (and random ones) go through the stack without a panic or a
//!   leaked mbuf.
//!
//! Frames are built here and in `ifin` without the engine's `wire` module, so a bug there cannot
//! hide in both the frame and its check.

mod ifin;

use std::cell::Cell;
use std::net::Ipv6Addr;

use engine::ip::Lookup;
use engine::rand::Rng;
use engine::wire::MacAddr;
use ifin::{
    Case, IP, OTHER_MAC, OTHER6, PEER, PEER6, Rig, US, US6, by_one, case, check_cases, checksum,
    eth, random_frame, tcp_header, with,
};

const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// Our solicited-node group (RFC 4291 §2.7.1: ff02::1:ff00:0/104 and our low 24 bits).
const SN_US: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 2);
/// The solicited-node group of OTHER6, which we did not join.
const SN_OTHER: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 0x99);
/// Where the upper layer starts in a datagram without extension headers.
const L4: usize = IP + 40;

// Next Header values (IANA).
const HOP: u8 = 0;
const TCP: u8 = 6;
const UDP: u8 = 17;
const ROUTING: u8 = 43;
const FRAG: u8 = 44;
const ICMP6: u8 = 58;
const NO_NEXT: u8 = 59;
const DST_OPTS: u8 = 60;

/// The Ethernet address of an IPv6 multicast group (RFC 2464 §7).
fn mcast_mac(group: Ipv6Addr) -> [u8; 6] {
    let o = group.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// The IPv6 pseudo-header sum (RFC 8200 §8.1) without the upper-layer length.
fn pseudo6(src: Ipv6Addr, dst: Ipv6Addr, proto: u8) -> u32 {
    let words = src.segments().into_iter().chain(dst.segments());
    words.map(u32::from).sum::<u32>() + u32::from(proto)
}

// ---- frame building (independent of engine::wire) ----

/// An IPv6 datagram from the peer's MAC, built by hand.
#[derive(Clone)]
struct Dgram {
    mac: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    /// Extension headers in order: each its protocol number and its bytes, whose first byte
    /// (Next Header) `build` fills in.
    ext: Vec<(u8, Vec<u8>)>,
    proto: u8,
    upper: Vec<u8>,
    /// Where in `upper` its checksum goes, filled over the pseudo-header by `build`.
    csum_at: Option<usize>,
}

impl Dgram {
    /// `upper` of protocol `proto` from the peer to our address and MAC, hop limit 64.
    fn new(proto: u8, upper: Vec<u8>) -> Dgram {
        let csum_at = match proto {
            ICMP6 => Some(2),
            TCP => Some(if upper.len() >= 18 { 16 } else { 14 }),
            _ => None,
        };
        Dgram {
            mac: US,
            src: PEER6,
            dst: US6,
            hop_limit: 64,
            ext: Vec::new(),
            proto,
            upper,
            csum_at,
        }
    }

    /// To `dst` at the Ethernet address `mac`.
    fn to(mut self, mac: [u8; 6], dst: Ipv6Addr) -> Dgram {
        (self.mac, self.dst) = (mac, dst);
        self
    }

    /// To the group `group`, at its Ethernet address.
    fn at_group(self, group: Ipv6Addr) -> Dgram {
        self.to(mcast_mac(group), group)
    }

    fn from(mut self, src: Ipv6Addr) -> Dgram {
        self.src = src;
        self
    }

    fn hops(mut self, hop_limit: u8) -> Dgram {
        self.hop_limit = hop_limit;
        self
    }

    /// Appends an extension header of protocol `kind`.
    fn ext(mut self, kind: u8, bytes: Vec<u8>) -> Dgram {
        self.ext.push((kind, bytes));
        self
    }

    fn build(&self) -> Vec<u8> {
        let mut f = eth(self.mac, 0x86dd);
        let ext_len: usize = self.ext.iter().map(|(_, b)| b.len()).sum();
        let plen = (ext_len + self.upper.len()) as u16;
        let kinds: Vec<u8> = self.ext.iter().map(|(k, _)| *k).collect();
        f.extend_from_slice(&[0x60, 0, 0, 0]);
        f.extend_from_slice(&plen.to_be_bytes());
        f.extend_from_slice(&[*kinds.first().unwrap_or(&self.proto), self.hop_limit]);
        f.extend_from_slice(&self.src.octets());
        f.extend_from_slice(&self.dst.octets());
        for (i, (_, bytes)) in self.ext.iter().enumerate() {
            let at = f.len();
            f.extend_from_slice(bytes);
            f[at] = *kinds.get(i + 1).unwrap_or(&self.proto);
        }
        let mut upper = self.upper.clone();
        if let Some(at) = self.csum_at {
            upper[at..at + 2].fill(0);
            let pseudo = pseudo6(self.src, self.dst, self.proto) + upper.len() as u32;
            let c = checksum(&upper, pseudo);
            upper[at..at + 2].copy_from_slice(&c.to_be_bytes());
        }
        f.extend_from_slice(&upper);
        f
    }
}

/// A Hop-by-Hop or Destination Options header holding `options` (2 + their length must be a
/// multiple of 8; Hdr Ext Len follows from it).
fn opts(options: &[u8]) -> Vec<u8> {
    let len = 2 + options.len();
    assert_eq!(len % 8, 0, "options fill whole 8-byte units");
    let mut h = vec![0, (len / 8 - 1) as u8];
    h.extend_from_slice(options);
    h
}

/// An options header of 8 bytes with one PadN option.
fn padn() -> Vec<u8> {
    opts(&[1, 4, 0, 0, 0, 0])
}

/// A Routing header of the experimental type 253 (RFC 4727), which no one implements.
fn routing(segments_left: u8) -> Vec<u8> {
    vec![0, 0, 253, segments_left, 0, 0, 0, 0]
}

/// A Fragment header at `offset` 8-byte units, M set if `more`.
fn fragment(offset: u16, more: bool) -> Vec<u8> {
    let word = (offset << 3) | u16::from(more);
    let mut h = vec![0, 0];
    h.extend_from_slice(&word.to_be_bytes());
    h.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    h
}

/// An ICMPv6 echo request (checksum left to `Dgram::build`).
fn echo6(ident: u16, seq: u16, data_len: usize) -> Vec<u8> {
    let mut m = vec![128, 0, 0, 0];
    m.extend_from_slice(&ident.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend((0..data_len).map(|i| (i * 7) as u8));
    m
}

/// An echo request with byte `at` of the message set to `value`.
fn echo6_with(at: usize, value: u8) -> Dgram {
    let mut m = echo6(7, 7, 8);
    m[at] = value;
    icmp6(m)
}

fn icmp6(msg: Vec<u8>) -> Dgram {
    Dgram::new(ICMP6, msg)
}

/// The peer's echo request to our address.
fn ping6(ident: u16, seq: u16) -> Dgram {
    icmp6(echo6(ident, seq, 32))
}

/// A Neighbor Solicitation for `target` with a source link-layer address option if `slla`.
fn ns_msg(target: Ipv6Addr, slla: Option<[u8; 6]>) -> Vec<u8> {
    let mut m = vec![135, 0, 0, 0, 0, 0, 0, 0];
    m.extend_from_slice(&target.octets());
    if let Some(mac) = slla {
        m.extend_from_slice(&[1, 1]);
        m.extend_from_slice(&mac);
    }
    m
}

/// The peer's solicitation for `target` to its solicited-node group, hop limit 255, with the
/// peer's MAC.
fn ns(target: Ipv6Addr) -> Dgram {
    let o = target.octets();
    let group = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    );
    icmp6(ns_msg(target, Some(PEER))).at_group(group).hops(255)
}

/// A Neighbor Advertisement for `target` with `flags` (R 0x80, S 0x40, O 0x20) and a target
/// link-layer address option if `tlla`, hop limit 255, to our address.
fn na(flags: u8, target: Ipv6Addr, tlla: Option<[u8; 6]>) -> Dgram {
    let mut m = vec![136, 0, 0, 0, flags, 0, 0, 0];
    m.extend_from_slice(&target.octets());
    if let Some(mac) = tlla {
        m.extend_from_slice(&[2, 1]);
        m.extend_from_slice(&mac);
    }
    icmp6(m).hops(255)
}

/// A TCP segment from the peer to us with `header` as its header (its checksum filled by
/// `Dgram::build`, see `ifin::tcp_segment` for a header too short to hold one).
fn tcp6(header: Vec<u8>, data: &[u8]) -> Dgram {
    Dgram::new(TCP, [header, data.to_vec()].concat())
}

// ---- reading the stack's answers ----

/// Where the upper layer starts in the IPv6 frame `f` and its protocol, walking Hop-by-Hop,
/// Routing, Destination Options and first-fragment headers; `None` when they do not fit.
fn upper6(f: &[u8]) -> Option<(u8, usize)> {
    let mut nh = *f.get(IP + 6)?;
    let mut at = L4;
    for _ in 0..16 {
        let len = match nh {
            HOP | ROUTING | DST_OPTS => (usize::from(*f.get(at + 1)?) + 1) * 8,
            FRAG if f.get(at + 2..at + 4)? == [0, 0] => 8,
            _ => return Some((nh, at)),
        };
        nh = *f.get(at)?;
        at += len;
    }
    None
}

/// The IPv6 header of our answer `r`: from our MAC to `mac`, from `src` to `dst` with
/// `hop_limit`, a payload length that matches the frame; returns the upper layer.
fn check_ipv6(
    r: &[u8],
    mac: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    proto: u8,
) -> &[u8] {
    assert_eq!(&r[0..6], &mac, "Ethernet destination");
    assert_eq!(&r[6..12], &US, "from our MAC");
    assert_eq!(&r[12..14], &[0x86, 0xdd], "EtherType IPv6");
    assert_eq!(r[IP] >> 4, 6, "version 6");
    let plen = usize::from(u16::from_be_bytes([r[IP + 4], r[IP + 5]]));
    assert_eq!(
        L4 + plen,
        r.len(),
        "payload length is the rest of the frame"
    );
    assert_eq!(r[IP + 7], hop_limit, "hop limit");
    assert_eq!(&r[IP + 8..IP + 24], &src.octets(), "source");
    assert_eq!(&r[IP + 24..IP + 40], &dst.octets(), "destination");
    let (nh, at) = upper6(r).expect("the answer's headers walk");
    assert_eq!(nh, proto, "upper-layer protocol");
    &r[at..]
}

/// `m` (from `src` to `dst`) has a valid ICMPv6 checksum.
fn assert_icmp6_checksum(m: &[u8], src: Ipv6Addr, dst: Ipv6Addr) {
    let pseudo = pseudo6(src, dst, ICMP6) + m.len() as u32;
    assert_eq!(
        checksum(m, pseudo),
        0,
        "ICMPv6 checksum over the pseudo-header"
    );
}

/// `r` is our echo reply, from `from`, to the peer's request `req`: addresses swapped (the
/// request's source is the reply's destination), type 129, valid checksum, identifier, sequence
/// number and data echoed.
fn check_echo6_reply(r: &[u8], req: &[u8], from: Ipv6Addr) {
    let to = Ipv6Addr::from(<[u8; 16]>::try_from(&req[IP + 8..IP + 24]).unwrap());
    let m = check_ipv6(r, PEER, from, to, 64, ICMP6);
    let plen = usize::from(u16::from_be_bytes([req[IP + 4], req[IP + 5]]));
    let (_, at) = upper6(req).expect("the request's headers walk");
    let q = &req[at..L4 + plen];
    assert_eq!((m[0], m[1]), (129, 0), "echo reply");
    assert_eq!(&m[4..8], &q[4..8], "identifier and sequence number");
    assert_eq!(&m[8..], &q[8..], "data echoed");
    assert_icmp6_checksum(m, from, to);
}

/// `r` is our Neighbor Advertisement for US6, to `ip` at `mac`, with `flags` and our MAC in a
/// target link-layer address option (RFC 4861 §7.2.4).
fn check_na(r: &[u8], mac: [u8; 6], ip: Ipv6Addr, flags: u8) {
    let m = check_ipv6(r, mac, US6, ip, 255, ICMP6);
    assert_eq!(m.len(), 32, "NA with one option");
    assert_eq!((m[0], m[1]), (136, 0), "neighbor advertisement");
    assert_eq!(&m[4..8], &[flags, 0, 0, 0], "flags");
    assert_eq!(&m[8..24], &US6.octets(), "target");
    assert_eq!(&m[24..26], &[2, 1], "target link-layer address option");
    assert_eq!(&m[26..32], &US, "our MAC");
    assert_icmp6_checksum(m, US6, ip);
}

/// What a ping to our address moves.
const PING6: &[&str] = &[
    "EthInFrames",
    "Ip6InReceives",
    "Ip6InDelivers",
    "Icmp6InMsgs",
    "Icmp6InEchos",
    "Icmp6OutMsgs",
    "Ip6OutRequests",
    "Icmp6OutEchoReplies",
];

/// A valid ping to our address is answered with a correct echo reply, counted exactly.
fn assert_answers_ping6(rig: &mut Rig, seq: u16) {
    let req = ping6(0xabcd, seq).build();
    let (delta, replies) = rig.inject(&req);
    assert_eq!(replies.len(), 1, "one answer to ping {seq}: {replies:x?}");
    check_echo6_reply(&replies[0], &req, US6);
    assert_eq!(delta, by_one(PING6), "ping {seq}");
}

/// The neighbour cache knows neither the peer nor OTHER6 (no bad frame taught it anything).
fn assert_cache_untaught(rig: &mut Rig) {
    let now = rig.now;
    let nd = rig.stack.ip().nd();
    for ip in [PEER6, OTHER6] {
        assert!(!nd.contains(ip), "{ip} in the neighbour cache");
        assert_eq!(nd.lookup(now, ip), Lookup::Miss, "{ip}");
    }
}

// ---- bad frames ----

const ETH: &[&str] = &["EthInFrames"];
const IP6_IN: &[&str] = &["EthInFrames", "Ip6InReceives"];
const IP6_MC: &[&str] = &["EthInFrames", "Ip6InReceives", "Ip6InMcastPkts"];
const DELIVERED: &[&str] = &["EthInFrames", "Ip6InReceives", "Ip6InDelivers"];
const ICMP6_IN: &[&str] = &[
    "EthInFrames",
    "Ip6InReceives",
    "Ip6InDelivers",
    "Icmp6InMsgs",
];

fn with_mc(more: &'static [&'static str]) -> &'static [&'static str] {
    with(with(ICMP6_IN, &["Ip6InMcastPkts"]), more)
}

/// A change to a message.
type Edit = fn(&mut Vec<u8>);

fn bad_frames() -> Vec<Case> {
    let mut v = Vec::new();
    let good = || ping6(0x1111, 1);
    let hdr_err = with(IP6_IN, &["Ip6InHdrErrors"]);

    // The fixed header (RFC 8200 §3, RFC 4291)
    v.push(case(
        "IPv6 header truncated to 39 bytes",
        good().build()[..IP + 39].to_vec(),
        hdr_err,
    ));
    let mut f = good().build();
    f[IP] = 0x40;
    v.push(case("version 4 under the IPv6 EtherType", f, hdr_err));
    let mut f = good().build();
    f[IP] = 0x70;
    v.push(case("version 7", f, hdr_err));
    let mut f = good().build();
    let plen = (f.len() - L4) as u16;
    f[IP + 4..IP + 6].copy_from_slice(&(plen + 1).to_be_bytes());
    v.push(case(
        "payload length past the frame",
        f,
        with(IP6_IN, &["Ip6InTruncatedPkts"]),
    ));
    let mut f = good().build();
    f[IP + 4..IP + 6].copy_from_slice(&0xffffu16.to_be_bytes());
    v.push(case(
        "payload length 65535",
        f,
        with(IP6_IN, &["Ip6InTruncatedPkts"]),
    ));
    let mut f = good().build();
    let plen = (f.len() - L4) as u16;
    f[IP + 4..IP + 6].copy_from_slice(&(plen - 2).to_be_bytes());
    v.push(case(
        "payload length short of the message (its checksum then fails)",
        f,
        with(ICMP6_IN, &["Icmp6InErrors", "Icmp6InCsumErrors"]),
    ));
    for (name, src) in [
        ("multicast source ff02::1", ALL_NODES),
        ("loopback source ::1", Ipv6Addr::LOCALHOST),
        (
            "IPv4-mapped source ::ffff:10.0.0.1",
            Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x0a00, 1),
        ),
    ] {
        v.push(case(name, good().from(src).build(), hdr_err));
    }
    v.push(case(
        "loopback destination ::1",
        good().to(US, Ipv6Addr::LOCALHOST).build(),
        hdr_err,
    ));
    v.push(case(
        "IPv4-mapped destination ::ffff:10.0.0.2",
        good()
            .to(US, Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x0a00, 2))
            .build(),
        hdr_err,
    ));
    v.push(case(
        "interface-local multicast destination ff01::1",
        good()
            .to(mcast_mac(ALL_NODES), "ff01::1".parse().unwrap())
            .build(),
        hdr_err,
    ));
    v.push(case(
        "multicast destination of reserved scope 0 (ff00::1)",
        good()
            .to(mcast_mac(ALL_NODES), "ff00::1".parse().unwrap())
            .build(),
        hdr_err,
    ));

    // Not for us
    let addr_err = with(IP6_IN, &["Ip6InAddrErrors"]);
    v.push(case(
        "for another unicast address",
        good().to(US, OTHER6).build(),
        addr_err,
    ));
    // A group we did not join: counted as multicast and dropped silently (Linux's
    // `ip6_mc_input`).
    v.push(case(
        "for all-routers (a group we did not join), to our MAC",
        good().to(US, ALL_ROUTERS).build(),
        IP6_MC,
    ));
    v.push(case(
        "for another solicited-node group, under the all-nodes MAC",
        good().to(mcast_mac(ALL_NODES), SN_OTHER).build(),
        IP6_MC,
    ));
    let eth_mc = with(ETH, &["EthInMulticast"]);
    v.push(case(
        "to the all-routers MAC",
        good().at_group(ALL_ROUTERS).build(),
        eth_mc,
    ));
    v.push(case(
        "to another solicited-node MAC",
        good().at_group(SN_OTHER).build(),
        eth_mc,
    ));
    v.push(case(
        "to an IPv4 multicast MAC",
        good().to([1, 0, 0x5e, 0, 0, 1], ALL_NODES).build(),
        eth_mc,
    ));
    v.push(case(
        "to another unicast MAC",
        good().to(OTHER_MAC, US6).build(),
        with(ETH, &["EthInOtherHost"]),
    ));

    // Extension headers (RFC 8200 §4)
    let mut f = good().ext(HOP, padn()).build();
    f[L4 + 1] = 200;
    v.push(case(
        "Hop-by-Hop header length past the payload",
        f,
        hdr_err,
    ));
    v.push(case(
        "Hop-by-Hop header of 4 bytes (the whole payload)",
        Dgram::new(HOP, vec![NO_NEXT, 0, 1, 2]).build(),
        hdr_err,
    ));
    v.push(case(
        "PadN with a non-zero byte",
        good().ext(HOP, opts(&[1, 4, 0, 0, 1, 0])).build(),
        hdr_err,
    ));
    v.push(case(
        "more than seven bytes of padding in a row",
        good()
            .ext(DST_OPTS, opts(&[1, 4, 0, 0, 0, 0, 1, 6, 0, 0, 0, 0, 0, 0]))
            .build(),
        hdr_err,
    ));
    v.push(case(
        "option running past its header",
        good().ext(HOP, opts(&[0x1e, 5, 0, 0, 0, 0])).build(),
        hdr_err,
    ));
    for (name, kind, option) in [
        ("Hop-by-Hop option 0x41 (discard)", HOP, 0x41),
        ("Hop-by-Hop option 0x81 (discard, ICMP)", HOP, 0x81),
        (
            "Destination option 0xc2 (discard, ICMP unless multicast)",
            DST_OPTS,
            0xc2,
        ),
    ] {
        v.push(case(
            name,
            good().ext(kind, opts(&[option, 4, 0, 0, 0, 0])).build(),
            hdr_err,
        ));
    }
    v.push(case(
        "Routing header with segments left 1",
        good().ext(ROUTING, routing(1)).build(),
        hdr_err,
    ));
    let mut nine = good();
    for _ in 0..9 {
        nine = nine.ext(DST_OPTS, padn());
    }
    v.push(case("nine extension headers", nine.build(), hdr_err));
    v.push(case(
        "Fragment header truncated to 4 bytes",
        Dgram::new(FRAG, vec![ICMP6, 0, 0, 0]).build(),
        hdr_err,
    ));
    v.push(case(
        "Hop-by-Hop header after a Destination Options header",
        good().ext(DST_OPTS, padn()).ext(HOP, padn()).build(),
        with(IP6_IN, &["Ip6InUnknownProtos"]),
    ));
    let reasm = with(IP6_IN, &["Ip6ReasmReqds", "Ip6ReasmFails"]);
    v.push(case(
        "first fragment",
        good().ext(FRAG, fragment(0, true)).build(),
        reasm,
    ));
    v.push(case(
        "non-first fragment",
        good().ext(FRAG, fragment(8, false)).build(),
        reasm,
    ));
    v.push(case(
        "non-first fragment after a Hop-by-Hop header",
        good().ext(HOP, padn()).ext(FRAG, fragment(8, true)).build(),
        reasm,
    ));
    // Delivered to nothing, as Linux's discard handler for No Next Header.
    let discard = DELIVERED;
    v.push(case(
        "No Next Header",
        Dgram::new(NO_NEXT, vec![]).build(),
        discard,
    ));
    v.push(case(
        "No Next Header after Destination Options",
        Dgram::new(NO_NEXT, vec![0xaa; 4])
            .ext(DST_OPTS, padn())
            .build(),
        discard,
    ));
    let unknown = with(IP6_IN, &["Ip6InUnknownProtos"]);
    v.push(case(
        "UDP (unknown next header)",
        Dgram::new(UDP, vec![0x30, 0x39, 0, 53, 0, 8, 0, 0]).build(),
        unknown,
    ));
    v.push(case(
        "next header 253 after a Routing header",
        Dgram::new(253, vec![0; 8]).ext(ROUTING, routing(0)).build(),
        unknown,
    ));

    // ICMPv6 (RFC 4443)
    let csum = with(ICMP6_IN, &["Icmp6InErrors", "Icmp6InCsumErrors"]);
    let mut f = good().build();
    f[L4 + 3] ^= 0x10;
    v.push(case("ICMPv6 checksum", f, csum));
    let mut f = good().build();
    f[L4 + 20] ^= 0xff;
    v.push(case("ICMPv6 data corrupted", f, csum));
    let mut f = good().build();
    f[L4 + 2..L4 + 4].fill(0);
    let c = checksum(&f[L4..], 0);
    f[L4 + 2..L4 + 4].copy_from_slice(&c.to_be_bytes());
    v.push(case("ICMPv6 checksum without the pseudo-header", f, csum));
    let mut f = good().to(US, OTHER6).build();
    f[IP + 24..IP + 40].copy_from_slice(&US6.octets());
    v.push(case("ICMPv6 checksum over another destination", f, csum));
    v.push(case(
        "ICMPv6 truncated to 4 bytes",
        icmp6(vec![128, 0, 0, 0]).build(),
        with(ICMP6_IN, &["Icmp6InErrors"]),
    ));
    v.push(case(
        "ICMPv6 echo reply nobody asked for",
        echo6_with(0, 129).build(),
        with(ICMP6_IN, &["Icmp6InEchoReplies"]),
    ));
    v.push(case(
        "ICMPv6 destination unreachable",
        icmp6(vec![1, 4, 0, 0, 0, 0, 0, 0]).build(),
        with(ICMP6_IN, &["Icmp6InDestUnreachs"]),
    ));
    v.push(case(
        "ICMPv6 informational type 200",
        icmp6(vec![200, 0, 0, 0, 0, 0, 0, 0]).build(),
        ICMP6_IN,
    ));
    v.push(case(
        "ICMPv6 echo request with code 1",
        echo6_with(1, 1).build(),
        with(ICMP6_IN, &["Icmp6InEchos"]),
    ));

    // Neighbor Discovery (RFC 4861 §7.1): each carries OTHER_MAC for the peer, which must not
    // reach the neighbour cache. Counted by type and dropped silently, as Linux counts them
    // (`icmpv6_rcv`) and drops them (`ndisc_rcv`).
    let nd_err = with_mc(&["Icmp6InNeighborSolicits"]);
    let nd_err_uc = with(ICMP6_IN, &["Icmp6InNeighborSolicits"]);
    let na_err = with_mc(&["Icmp6InNeighborAdvertisements"]);
    let na_err_uc = with(ICMP6_IN, &["Icmp6InNeighborAdvertisements"]);
    let bad_ns = |m: Vec<u8>| icmp6(m).at_group(SN_US).hops(255);
    let ns_msg_us = || ns_msg(US6, Some(OTHER_MAC));
    v.push(case(
        "NS with hop limit 254",
        bad_ns(ns_msg_us()).hops(254).build(),
        nd_err,
    ));
    let ns_edits: [(&str, Edit); 5] = [
        ("NS with code 1", |m| m[1] = 1),
        ("NS with an option of length 0", |m| {
            m.extend_from_slice(&[14, 0, 0, 0, 0, 0, 0, 0])
        }),
        ("NS with a 16-byte link-layer address option", |m| {
            m[25] = 2;
            m.extend_from_slice(&[0; 8]);
        }),
        ("NS with an option running past the message", |m| m[25] = 2),
        ("NS truncated to 20 bytes", |m| m.truncate(20)),
    ];
    for (name, edit) in ns_edits {
        let mut m = ns_msg_us();
        edit(&mut m);
        v.push(case(name, bad_ns(m).build(), nd_err));
    }
    v.push(case(
        "NS whose source link-layer address is multicast",
        bad_ns(ns_msg(US6, Some([0x33, 0x33, 0, 0, 0, 1]))).build(),
        nd_err,
    ));
    v.push(case(
        "NS for a multicast target",
        icmp6(ns_msg(SN_US, Some(OTHER_MAC))).hops(255).build(),
        nd_err_uc,
    ));
    v.push(case(
        "NS from :: with a source link-layer address option",
        bad_ns(ns_msg_us()).from(Ipv6Addr::UNSPECIFIED).build(),
        nd_err,
    ));
    v.push(case(
        "NS from :: to a unicast address",
        icmp6(ns_msg(US6, None))
            .from(Ipv6Addr::UNSPECIFIED)
            .hops(255)
            .build(),
        nd_err_uc,
    ));
    v.push(case(
        "NA with S set, to all-nodes",
        na(0x60, PEER6, Some(OTHER_MAC)).at_group(ALL_NODES).build(),
        na_err,
    ));
    v.push(case(
        "NA for a multicast target",
        na(0x20, SN_US, Some(OTHER_MAC)).build(),
        na_err_uc,
    ));
    v.push(case(
        "NA with hop limit 64",
        na(0x60, PEER6, Some(OTHER_MAC)).hops(64).build(),
        na_err_uc,
    ));
    let mut ra = vec![134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0];
    ra.extend_from_slice(&[1, 1]);
    ra.extend_from_slice(&OTHER_MAC);
    v.push(case(
        "RA from a global address",
        icmp6(ra).hops(255).at_group(ALL_NODES).build(),
        with_mc(&["Icmp6InRouterAdvertisements"]),
    ));
    // Valid, but nothing to answer or learn.
    v.push(case(
        "NS for another address (to ours)",
        icmp6(ns_msg(OTHER6, Some(OTHER_MAC))).hops(255).build(),
        with(ICMP6_IN, &["Icmp6InNeighborSolicits"]),
    ));
    v.push(case(
        "NA for a neighbour we never asked for",
        na(0x60, PEER6, Some(OTHER_MAC)).build(),
        with(ICMP6_IN, &["Icmp6InNeighborAdvertisements"]),
    ));
    v.push(case(
        "RS (a host ignores it)",
        icmp6(vec![133, 0, 0, 0, 0, 0, 0, 0]).hops(255).build(),
        with(ICMP6_IN, &["Icmp6InRouterSolicits"]),
    ));

    // TCP over IPv6 (dropped before the TCP layer sees them)
    let tcp_csum = with(DELIVERED, &["TcpInCsumErrors", "TcpInErrs", "TcpInSegs"]);
    let mut f = tcp6(tcp_header(5, &[]), b"").build();
    let n = f.len();
    f[n - 6] ^= 0x40; // the window field, covered by the checksum
    v.push(case("TCP over IPv6: checksum", f, tcp_csum));
    let mut f = tcp6(tcp_header(5, &[]), b"hello")
        .ext(DST_OPTS, padn())
        .build();
    let n = f.len();
    f[n - 1] ^= 1;
    v.push(case(
        "TCP over IPv6: data corrupted, behind Destination Options",
        f,
        tcp_csum,
    ));
    let mut t = tcp_header(5, &[]);
    let c = checksum(&t, u32::from(TCP) + 20);
    t[16..18].copy_from_slice(&c.to_be_bytes());
    let mut no_addrs = tcp6(t, b"");
    no_addrs.csum_at = None;
    v.push(case(
        "TCP over IPv6: checksum without the addresses",
        no_addrs.build(),
        tcp_csum,
    ));
    let tcp_hdr = with(DELIVERED, &["TcpExtInHdrErrors", "TcpInErrs", "TcpInSegs"]);
    for (name, header, data) in [
        (
            "TCP over IPv6: header truncated to 16 bytes",
            tcp_header(5, &[])[..16].to_vec(),
            &b""[..],
        ),
        (
            "TCP over IPv6: data offset 4",
            tcp_header(4, &[]),
            &b"hello"[..],
        ),
        (
            "TCP over IPv6: data offset past the segment",
            tcp_header(15, &[1, 1, 1, 1]),
            &b""[..],
        ),
        (
            "TCP over IPv6: MSS option of length 3",
            tcp_header(6, &[2, 3, 5, 1]),
            &b""[..],
        ),
    ] {
        v.push(case(name, tcp6(header, data).build(), tcp_hdr));
    }
    v.push(case(
        "TCP SYN to all-nodes",
        tcp6(tcp_header(6, &[2, 4, 5, 0xa0]), b"")
            .at_group(ALL_NODES)
            .build(),
        with(IP6_MC, &["Ip6InDelivers"]),
    ));
    v
}

#[test]
fn every_class_of_bad_ipv6_input_is_dropped_and_counted() {
    let mut rig = Rig::new("i6b");
    assert_answers_ping6(&mut rig, 0);
    check_cases(rig, &bad_frames(), |rig, i| {
        assert_cache_untaught(rig);
        assert_answers_ping6(rig, i);
    });
}

// ---- valid input ----

/// What a solicitation for our address moves.
const NS_IN: &[&str] = &[
    "EthInFrames",
    "Ip6InReceives",
    "Ip6InDelivers",
    "Icmp6InMsgs",
    "Icmp6InNeighborSolicits",
    "Icmp6OutMsgs",
    "Ip6OutRequests",
    "Icmp6OutNeighborAdvertisements",
];

/// Sends `req`, expects exactly one answer and exactly `counts` moved, each by one.
fn answer(rig: &mut Rig, name: &str, req: &[u8], counts: &[&'static str]) -> Vec<u8> {
    let (delta, mut replies) = rig.inject(req);
    assert_eq!(replies.len(), 1, "{name}: one answer, got {replies:x?}");
    assert_eq!(delta, by_one(counts), "{name}: exactly these counters");
    replies.remove(0)
}

#[test]
fn valid_ipv6_input_is_answered() {
    let mut rig = Rig::new("i6v");
    // A reply comes from our unicast address, whatever group the request went to.
    let ping6_mc = with(PING6, &["Ip6InMcastPkts"]);
    let link_local: Ipv6Addr = "fe80::1".parse().unwrap();
    let echoes: [(&str, Dgram, &[&str]); 8] = [
        ("echo request to our address", ping6(1, 1), PING6),
        ("to all-nodes", ping6(1, 2).at_group(ALL_NODES), ping6_mc),
        (
            "to our solicited-node group",
            ping6(1, 3).at_group(SN_US),
            ping6_mc,
        ),
        (
            "to all-nodes, at our MAC",
            ping6(1, 4).to(US, ALL_NODES),
            ping6_mc,
        ),
        (
            "behind Hop-by-Hop PadN",
            ping6(1, 5).ext(HOP, padn()),
            PING6,
        ),
        (
            "behind Hop-by-Hop, Destination Options with a skippable option, Routing \
             (segments left 0) and atomic Fragment headers",
            ping6(1, 6)
                .ext(HOP, opts(&[1, 0, 0, 0, 0, 0]))
                .ext(DST_OPTS, opts(&[0x1e, 2, 0xaa, 0xbb, 1, 0]))
                .ext(ROUTING, routing(0))
                .ext(FRAG, fragment(0, false)),
            PING6,
        ),
        (
            "to all-nodes behind Hop-by-Hop",
            ping6(1, 7).ext(HOP, padn()).at_group(ALL_NODES),
            ping6_mc,
        ),
        (
            "from a link-local address",
            ping6(1, 8).from(link_local),
            PING6,
        ),
    ];
    for (name, d, counts) in echoes {
        let req = d.build();
        let r = answer(&mut rig, name, &req, counts);
        check_echo6_reply(&r, &req, US6);
    }

    let mut eight = ping6(2, 1);
    for _ in 0..8 {
        eight = eight.ext(DST_OPTS, padn());
    }
    let req = eight.build();
    let r = answer(&mut rig, "eight extension headers", &req, PING6);
    check_echo6_reply(&r, &req, US6);

    // Ethernet padding after the datagram is not part of it.
    let mut req = ping6(2, 2).build();
    let unpadded = req.clone();
    req.extend_from_slice(&[0xee; 20]);
    let r = answer(&mut rig, "echo request with Ethernet padding", &req, PING6);
    assert_eq!(r.len(), unpadded.len(), "the reply leaves the padding out");
    check_echo6_reply(&r, &unpadded, US6);

    // Neighbor Discovery: a solicitation for our address, from the peer (to our solicited-node
    // group, with its MAC), is answered with a solicited advertisement carrying our MAC, and
    // teaches us the peer's MAC.
    assert_cache_untaught(&mut rig);
    let r = answer(
        &mut rig,
        "NS for our address",
        &ns(US6).build(),
        with(NS_IN, &["Ip6InMcastPkts"]),
    );
    check_na(&r, PEER, PEER6, 0x60);
    let now = rig.now;
    let cached = rig.stack.ip().nd().lookup(now, PEER6);
    assert_eq!(cached, Lookup::Hit(MacAddr(PEER)), "the peer learned");

    // Unicast to our address without the option: answered to the frame's source MAC.
    let req = icmp6(ns_msg(US6, None)).hops(255).build();
    let r = answer(&mut rig, "unicast NS without an option", &req, NS_IN);
    check_na(&r, PEER, PEER6, 0x60);

    // Duplicate address detection of our address by another node: the answer goes to all
    // nodes, not solicited (RFC 4861 §7.2.4).
    let req = icmp6(ns_msg(US6, None))
        .from(Ipv6Addr::UNSPECIFIED)
        .at_group(SN_US)
        .hops(255)
        .build();
    let counts = with(NS_IN, &["Ip6InMcastPkts", "Ip6OutMcastPkts"]);
    let r = answer(&mut rig, "DAD NS for our address", &req, counts);
    check_na(&r, mcast_mac(ALL_NODES), ALL_NODES, 0x20);

    rig.assert_answers_ping(1);
    assert_answers_ping6(&mut rig, 1);
    drop(rig.stack);
    assert_eq!(rig.link.in_use() + rig.src.in_use(), 0, "no mbuf leaked");
}

// ---- fuzzing ----

/// Valid IPv6 frames of every kind the fuzzer mutates.
fn templates() -> Vec<Vec<u8>> {
    let syn_options = [
        2, 4, 5, 0xa0, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
    ];
    vec![
        ping6(1, 1).build(),
        ping6(1, 2).at_group(ALL_NODES).build(),
        ns(US6).build(),
        icmp6(ns_msg(US6, None))
            .from(Ipv6Addr::UNSPECIFIED)
            .at_group(SN_US)
            .hops(255)
            .build(),
        na(0x60, PEER6, Some(PEER)).build(),
        tcp6(tcp_header(10, &syn_options), b"").build(),
        tcp6(tcp_header(5, &[]), b"payload bytes")
            .ext(DST_OPTS, padn())
            .build(),
        ping6(1, 3)
            .ext(HOP, padn())
            .ext(DST_OPTS, opts(&[0x1e, 2, 0xaa, 0xbb, 1, 0]))
            .ext(ROUTING, routing(0))
            .ext(FRAG, fragment(0, false))
            .build(),
        ping6(1, 4).ext(FRAG, fragment(0, true)).build(),
        Dgram::new(UDP, vec![0x30, 0x39, 0, 53, 0, 8, 0, 0]).build(),
    ]
}

/// Recomputes the ICMPv6 or TCP checksum of a (possibly damaged) IPv6 frame, wherever its own
/// headers say the upper layer is and the bytes exist; with `fix_len`, first sets the payload
/// length to the rest of the frame.
fn refix_checksums6(f: &mut [u8], fix_len: bool) {
    if f.len() < L4 || f[12..14] != [0x86, 0xdd] {
        return;
    }
    if fix_len {
        let plen = (f.len() - L4) as u16;
        f[IP + 4..IP + 6].copy_from_slice(&plen.to_be_bytes());
    }
    let plen = usize::from(u16::from_be_bytes([f[IP + 4], f[IP + 5]]));
    let Some((proto, at)) = upper6(f) else {
        return;
    };
    let csum_at = match proto {
        ICMP6 => 2,
        TCP => 16,
        _ => return,
    };
    let end = L4 + plen;
    if end > f.len() || at + csum_at + 2 > end {
        return;
    }
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&f[IP + 8..IP + 24]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&f[IP + 24..IP + 40]).unwrap());
    let seg = &mut f[at..end];
    seg[csum_at..csum_at + 2].fill(0);
    let c = checksum(seg, pseudo6(src, dst, proto) + seg.len() as u32);
    seg[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
}

/// One fuzz frame: a sixth random (bytes alone; or addressed to us or a group, with the IPv6
/// EtherType; or a valid IPv6 header before random bytes), the rest a template with random
/// bytes changed, truncated or extended, half of them with checksums (and half of those with
/// the payload length) made right again so the damage reaches the checks behind them.
fn fuzz_frame6(rng: &mut Rng, templates: &[Vec<u8>], mutated: &Cell<usize>) -> Vec<u8> {
    if rng.below(6) == 0 {
        let mut f = random_frame(rng);
        match rng.below(3) {
            0 => {}
            1 if f.len() >= 14 => {
                let macs = [US, mcast_mac(ALL_NODES), mcast_mac(SN_US)];
                f[..6].copy_from_slice(&macs[rng.below(3) as usize]);
                f[12..14].copy_from_slice(&[0x86, 0xdd]);
            }
            _ => {
                let next = [HOP, TCP, ROUTING, FRAG, ICMP6, NO_NEXT, DST_OPTS];
                let body = f[..f.len().min(1400)].to_vec();
                let mut d = Dgram::new(next[rng.below(7) as usize], body);
                d.csum_at = None;
                f = d.build();
                refix_checksums6(&mut f, false);
            }
        }
        return f;
    }
    mutated.set(mutated.get() + 1);
    let mut f = templates[rng.below(templates.len() as u64) as usize].clone();
    ifin::mutate(rng, &mut f, 120);
    if rng.chance(0.5) {
        let fix_len = rng.chance(0.5);
        refix_checksums6(&mut f, fix_len);
    }
    f
}

#[test]
fn ten_thousand_mutated_ipv6_frames_do_not_break_the_stack() {
    let mut rig = Rig::new("i6f");
    let templates = templates();
    for t in &templates {
        // Each template is valid: its checksums already right.
        let mut again = t.clone();
        refix_checksums6(&mut again, true);
        assert_eq!(&again, t, "template checksums");
    }
    let mut rng = Rng::new(0x6f6f_2025);
    let mutated = Cell::new(0);
    let before = rig.counters();
    ifin::fuzz(&mut rig, 12_500, || {
        fuzz_frame6(&mut rng, &templates, &mutated)
    });
    assert!(mutated.get() >= 10_000, "{} mutated frames", mutated.get());
    // The damage reached every check, and valid-looking frames every answer.
    let after = rig.counters();
    let moved = |name: &str| after[name] - before[name];
    for name in [
        "EthInMulticast",
        "Ip6InHdrErrors",
        "Ip6InTruncatedPkts",
        "Ip6InAddrErrors",
        "Ip6InUnknownProtos",
        "Ip6ReasmFails",
        "Icmp6InCsumErrors",
        "Icmp6InEchos",
        "Icmp6InNeighborSolicits",
        "Icmp6InNeighborAdvertisements",
        "TcpInCsumErrors",
        "TcpExtInHdrErrors",
        "TcpInSegs",
    ] {
        assert!(moved(name) > 0, "no frame reached {name}");
    }
    assert!(
        moved("Icmp6InErrors") > moved("Icmp6InCsumErrors"),
        "no frame failed ICMPv6 or Neighbor Discovery validation"
    );
    assert_answers_ping6(&mut rig, 1);
    rig.assert_answers_ping(1);
    ifin::finish(rig);
}

// ---- engine bugs found by this suite, and fixed ----

/// RFC 4291 §2.5.2: the unspecified address "must not be used as the destination address of
/// IPv6 packets". `echo_reply_v6` (ip/icmpv6.rs) answers a request from :: to ::.
#[test]
fn echo_request_from_the_unspecified_address_is_not_answered() {
    let mut rig = Rig::new("i6u");
    for req in [
        ping6(3, 1).from(Ipv6Addr::UNSPECIFIED),
        ping6(3, 2).from(Ipv6Addr::UNSPECIFIED).at_group(ALL_NODES),
    ] {
        let (delta, replies) = rig.inject(&req.build());
        assert!(
            replies.is_empty(),
            "answered to :: ({delta:?}): {replies:x?}"
        );
    }
    assert_answers_ping6(&mut rig, 1);
}

/// RFC 4861 §7.2.5: an advertisement with the Override flag clear whose link-layer address
/// differs from the cached one "MUST NOT update the cache" (beyond marking the entry STALE).
/// `advertisement` (ip/icmpv6.rs) replaces the cached MAC whatever the flags, so anyone on the
/// link can redirect our traffic for a neighbour with a plain solicited NA.
#[test]
fn advertisement_without_override_keeps_the_cached_address() {
    let mut rig = Rig::new("i6o");
    let (_, replies) = rig.inject(&ns(US6).build());
    assert_eq!(replies.len(), 1, "the peer's solicitation is answered");
    let (_, replies) = rig.inject(&na(0x40, PEER6, Some(OTHER_MAC)).build());
    assert!(replies.is_empty());
    let now = rig.now;
    match rig.stack.ip().nd().lookup(now, PEER6) {
        Lookup::Hit(mac) | Lookup::Refresh(mac) => assert_eq!(mac, MacAddr(PEER), "cached MAC"),
        Lookup::Miss => panic!("the peer was forgotten"),
    }
}
