//! The IPv6 half of `ifin`, for `iface_input_v6.rs`: IPv6 frames built by hand (without the
//! engine's `wire` module, so a bug there cannot hide in both a frame and its check) and the
//! checks of the stack's answers to them.
//!
//! - Addresses, groups and Next Header values; [`Dgram`], a datagram from the peer with any
//!   extension headers, its checksum filled over the pseudo-header; the extension headers,
//!   echo requests, Neighbor Solicitations and Advertisements and TCP segments it carries;
//!   [`refix_checksums6`], which makes a damaged frame's checksums right again.
//! - `check_ipv6`, [`check_echo6_reply`] and [`check_na`]: our answers, byte by byte;
//!   [`assert_answers_ping6`] and [`assert_cache_untaught`]: the checks after each bad frame.

use std::net::Ipv6Addr;

use engine::ip::Lookup;

use super::{IP, OTHER6, PEER, PEER6, Rig, US, US6, by_one, checksum, eth};

pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);
/// Our solicited-node group (RFC 4291 §2.7.1: ff02::1:ff00:0/104 and our low 24 bits).
pub const SN_US: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 2);
/// The solicited-node group of OTHER6, which we did not join.
pub const SN_OTHER: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 0x99);
/// Where the upper layer starts in a datagram without extension headers.
pub const L4: usize = IP + 40;

// Next Header values (IANA).
pub const HOP: u8 = 0;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ROUTING: u8 = 43;
pub const FRAG: u8 = 44;
pub const ICMP6: u8 = 58;
pub const NO_NEXT: u8 = 59;
pub const DST_OPTS: u8 = 60;

/// The Ethernet address of an IPv6 multicast group (RFC 2464 §7).
pub fn mcast_mac(group: Ipv6Addr) -> [u8; 6] {
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
pub struct Dgram {
    pub mac: [u8; 6],
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    /// Extension headers in order: each its protocol number and its bytes, whose first byte
    /// (Next Header) `build` fills in.
    pub ext: Vec<(u8, Vec<u8>)>,
    pub proto: u8,
    pub upper: Vec<u8>,
    /// Where in `upper` its checksum goes, filled over the pseudo-header by `build`.
    pub csum_at: Option<usize>,
}

impl Dgram {
    /// `upper` of protocol `proto` from the peer to our address and MAC, hop limit 64.
    pub fn new(proto: u8, upper: Vec<u8>) -> Dgram {
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
    pub fn to(mut self, mac: [u8; 6], dst: Ipv6Addr) -> Dgram {
        (self.mac, self.dst) = (mac, dst);
        self
    }

    /// To the group `group`, at its Ethernet address.
    pub fn at_group(self, group: Ipv6Addr) -> Dgram {
        self.to(mcast_mac(group), group)
    }

    pub fn from(mut self, src: Ipv6Addr) -> Dgram {
        self.src = src;
        self
    }

    pub fn hops(mut self, hop_limit: u8) -> Dgram {
        self.hop_limit = hop_limit;
        self
    }

    /// Appends an extension header of protocol `kind`.
    pub fn ext(mut self, kind: u8, bytes: Vec<u8>) -> Dgram {
        self.ext.push((kind, bytes));
        self
    }

    pub fn build(&self) -> Vec<u8> {
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
pub fn opts(options: &[u8]) -> Vec<u8> {
    let len = 2 + options.len();
    assert_eq!(len % 8, 0, "options fill whole 8-byte units");
    let mut h = vec![0, (len / 8 - 1) as u8];
    h.extend_from_slice(options);
    h
}

/// An options header of 8 bytes with one PadN option.
pub fn padn() -> Vec<u8> {
    opts(&[1, 4, 0, 0, 0, 0])
}

/// A Routing header of the experimental type 253 (RFC 4727), which no one implements.
pub fn routing(segments_left: u8) -> Vec<u8> {
    vec![0, 0, 253, segments_left, 0, 0, 0, 0]
}

/// A Fragment header at `offset` 8-byte units, M set if `more`.
pub fn fragment(offset: u16, more: bool) -> Vec<u8> {
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
pub fn echo6_with(at: usize, value: u8) -> Dgram {
    let mut m = echo6(7, 7, 8);
    m[at] = value;
    icmp6(m)
}

pub fn icmp6(msg: Vec<u8>) -> Dgram {
    Dgram::new(ICMP6, msg)
}

/// The peer's echo request to our address.
pub fn ping6(ident: u16, seq: u16) -> Dgram {
    icmp6(echo6(ident, seq, 32))
}

/// A Neighbor Solicitation for `target` with a source link-layer address option if `slla`.
pub fn ns_msg(target: Ipv6Addr, slla: Option<[u8; 6]>) -> Vec<u8> {
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
pub fn ns(target: Ipv6Addr) -> Dgram {
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
pub fn na(flags: u8, target: Ipv6Addr, tlla: Option<[u8; 6]>) -> Dgram {
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
pub fn tcp6(header: Vec<u8>, data: &[u8]) -> Dgram {
    Dgram::new(TCP, [header, data.to_vec()].concat())
}

/// Recomputes the ICMPv6 or TCP checksum of a (possibly damaged) IPv6 frame, wherever its own
/// headers say the upper layer is and the bytes exist; with `fix_len`, first sets the payload
/// length to the rest of the frame.
pub fn refix_checksums6(f: &mut [u8], fix_len: bool) {
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
pub fn check_echo6_reply(r: &[u8], req: &[u8], from: Ipv6Addr) {
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
pub fn check_na(r: &[u8], mac: [u8; 6], ip: Ipv6Addr, flags: u8) {
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
pub const PING6: &[&str] = &[
    "EthInFrames",
    "Ip6InReceives",
    "Ip6InNoECTPkts",
    "Ip6InDelivers",
    "Icmp6InMsgs",
    "Icmp6InEchos",
    "Icmp6OutMsgs",
    "Ip6OutRequests",
    "Icmp6OutEchoReplies",
];

/// A valid ping to our address is answered with a correct echo reply, counted exactly.
pub fn assert_answers_ping6(rig: &mut Rig, seq: u16) {
    let req = ping6(0xabcd, seq).build();
    let (delta, replies) = rig.inject(&req);
    assert_eq!(replies.len(), 1, "one answer to ping {seq}: {replies:x?}");
    check_echo6_reply(&replies[0], &req, US6);
    assert_eq!(delta, by_one(PING6), "ping {seq}");
}

/// The neighbour cache knows neither the peer nor OTHER6 (no bad frame taught it anything).
pub fn assert_cache_untaught(rig: &mut Rig) {
    let now = rig.now;
    let nd = rig.stack.ip().nd();
    for ip in [PEER6, OTHER6] {
        assert!(!nd.contains(ip), "{ip} in the neighbour cache");
        assert_eq!(nd.lookup(now, ip), Lookup::Miss, "{ip}");
    }
}
