//! Hand-made frames of either IP family for black-box scripts, and a parser for the frames that
//! come back: Ethernet, ARP, IPv4 (any fragment offset), IPv6 with extension headers (Hop-by-Hop
//! with PadN, Fragment), TCP with its options, ICMP and ICMPv6 echo, Neighbor Discovery.
//!
//! Written from the RFCs (791, 826, 8200, 9293, 7323, 2018, 4443, 4861), independent of the
//! engine's `wire` module, so that a bug there cannot hide in both a frame and its check (as
//! `engine/tests/iface_input.rs` does for IPv4). The parser verifies every checksum it can and
//! says so in [`Parsed::checksums_ok`] instead of refusing the frame.
//!
//! The TCP segment ([`Tcp`], [`TcpOpt`], [`flag_str`]) is in `packets/tcp.rs`, re-exported here.

mod tcp;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::frames::checksum_with;
#[allow(unused_imports)] // each test crate uses a different subset
pub use tcp::{Tcp, TcpOpt, flag_str};

pub type Mac = [u8; 6];

pub const BROADCAST: Mac = [0xff; 6];

pub const ETH_IPV4: u16 = 0x0800;
pub const ETH_ARP: u16 = 0x0806;
pub const ETH_IPV6: u16 = 0x86dd;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_ICMPV6: u8 = 58;
/// IPv6 next-header values of the extension headers the parser walks.
pub const NH_HOP_BY_HOP: u8 = 0;
pub const NH_ROUTING: u8 = 43;
pub const NH_FRAGMENT: u8 = 44;
pub const NH_DEST_OPTS: u8 = 60;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;
/// ECN-Echo and Congestion Window Reduced (RFC 3168 §6.1).
pub const ECE: u8 = 0x40;
pub const CWR: u8 = 0x80;

/// The ECN field of an IP header (RFC 3168 §5): the low two bits of the IPv4 TOS byte or of
/// the IPv6 traffic class.
pub const NOT_ECT: u8 = 0;
pub const ECT1: u8 = 1;
pub const ECT0: u8 = 2;
pub const CE: u8 = 3;

pub const ARP_REQUEST: u16 = 1;
pub const ARP_REPLY: u16 = 2;

pub const ICMP_ECHO_REPLY: u8 = 0;
pub const ICMP_ECHO_REQUEST: u8 = 8;
pub const ICMP6_ECHO_REQUEST: u8 = 128;
pub const ICMP6_ECHO_REPLY: u8 = 129;
pub const ICMP6_ROUTER_SOLICIT: u8 = 133;
pub const ICMP6_NEIGHBOR_SOLICIT: u8 = 135;
pub const ICMP6_NEIGHBOR_ADVERT: u8 = 136;

/// Neighbor Advertisement flags (RFC 4861 §4.4), in the first byte of the message body.
pub const NA_ROUTER: u8 = 0x80;
pub const NA_SOLICITED: u8 = 0x40;
pub const NA_OVERRIDE: u8 = 0x20;

/// Neighbor Discovery option types (RFC 4861 §4.6.1).
const ND_OPT_SLLA: u8 = 1;
const ND_OPT_TLLA: u8 = 2;

/// `aa:bb:cc:dd:ee:ff` of `m`.
pub fn mac_str(m: &Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// An Ethernet frame: `dst`, `src`, `ethertype`, `payload` (no padding, no FCS).
pub fn ethernet(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// The sum of the pseudo-header's 16-bit words (RFC 9293 §3.1, RFC 8200 §8.1): addresses,
/// protocol, upper-layer length.
fn pseudo_sum(src: IpAddr, dst: IpAddr, proto: u8, len: usize) -> u32 {
    let words = |b: &[u8]| -> u32 {
        b.chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum()
    };
    let addrs = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => words(&s.octets()) + words(&d.octets()),
        (IpAddr::V6(s), IpAddr::V6(d)) => words(&s.octets()) + words(&d.octets()),
        _ => panic!("pseudo-header of mixed families {src} {dst}"),
    };
    let len = len as u32;
    addrs + u32::from(proto) + (len >> 16) + (len & 0xffff)
}

/// The checksum of an upper-layer message (TCP, ICMPv6) over its pseudo-header.
fn l4_checksum(src: IpAddr, dst: IpAddr, proto: u8, msg: &[u8]) -> u16 {
    checksum_with(pseudo_sum(src, dst, proto, msg.len()), msg)
}

/// An IPv4 header (20 bytes, TTL 64, identification `ident`, the flags-and-fragment-offset
/// word `frag`, header checksum valid) followed by `payload`.
pub fn ipv4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ident: u16,
    frag: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(20 + payload.len());
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&ident.to_be_bytes());
    p.extend_from_slice(&frag.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let c = checksum_with(0, &p[..20]);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// IPv4's "don't fragment" flag in the flags-and-fragment-offset word.
pub const IPV4_DF: u16 = 0x4000;

/// An IPv6 header (traffic class 0, flow label 0) followed by `payload`, which starts with the
/// header `next` names (an extension header or the upper layer).
pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, hop_limit: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, hop_limit]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// A Hop-by-Hop or Destination Options header (RFC 8200 §4.3, §4.6) of 8 bytes whose only
/// option is a PadN of 4 zero bytes; `next` names the header after it.
pub fn padn_options(next: u8) -> [u8; 8] {
    [next, 0, 1, 4, 0, 0, 0, 0]
}

/// A Fragment header (RFC 8200 §4.5): `offset` in 8-byte units, `more` fragments, `ident`.
pub fn fragment_header(next: u8, offset: u16, more: bool, ident: u32) -> [u8; 8] {
    let off = (offset << 3) | u16::from(more);
    let mut h = [next, 0, 0, 0, 0, 0, 0, 0];
    h[2..4].copy_from_slice(&off.to_be_bytes());
    h[4..8].copy_from_slice(&ident.to_be_bytes());
    h
}

/// An Ethernet frame carrying an IP datagram from `src` to `dst` (either family) whose payload
/// is `proto`'s message: IPv4 with DF and TTL 64, IPv6 with hop limit 64.
pub fn ip_frame(
    dst_mac: Mac,
    src_mac: Mac,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    msg: &[u8],
) -> Vec<u8> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => ethernet(
            dst_mac,
            src_mac,
            ETH_IPV4,
            &ipv4(s, d, proto, 0, IPV4_DF, msg),
        ),
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            ethernet(dst_mac, src_mac, ETH_IPV6, &ipv6(s, d, proto, 64, msg))
        }
        _ => panic!("datagram of mixed families {src} {dst}"),
    }
}

/// Sets the ECN field of the IP datagram in Ethernet frame `frame` (built by [`ip_frame`] or
/// [`ethernet`]) to `ecn`, keeping the DSCP; the IPv4 header checksum is made right again.
pub fn set_ecn(frame: &mut [u8], ecn: u8) {
    let ip = &mut frame[14..];
    match ip[0] >> 4 {
        4 => {
            ip[1] = (ip[1] & !3) | (ecn & 3);
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            ip[10..12].fill(0);
            let c = checksum_with(0, &ip[..ihl]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
        // The traffic class spans the low nibble of byte 0 and the high nibble of byte 1.
        6 => ip[1] = (ip[1] & !0x30) | ((ecn & 3) << 4),
        v => panic!("set_ecn: IP version {v}"),
    }
}

/// An ARP message for Ethernet and IPv4 (RFC 826), 28 bytes.
pub fn arp(op: u16, sha: Mac, spa: Ipv4Addr, tha: Mac, tpa: Ipv4Addr) -> Vec<u8> {
    let mut a = vec![0, 1, 0x08, 0, 6, 4];
    a.extend_from_slice(&op.to_be_bytes());
    a.extend_from_slice(&sha);
    a.extend_from_slice(&spa.octets());
    a.extend_from_slice(&tha);
    a.extend_from_slice(&tpa.octets());
    a
}

/// An ICMPv6 message (RFC 4443) with its checksum over the pseudo-header.
pub fn icmpv6(src: Ipv6Addr, dst: Ipv6Addr, typ: u8, code: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ, code, 0, 0];
    m.extend_from_slice(body);
    let c = l4_checksum(src.into(), dst.into(), PROTO_ICMPV6, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// An ICMPv4 message (RFC 792) with its checksum.
pub fn icmpv4(typ: u8, code: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ, code, 0, 0];
    m.extend_from_slice(body);
    let c = checksum_with(0, &m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

/// The body of an echo request or reply (either family): identifier, sequence number, data.
pub fn echo_body(ident: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(4 + data.len());
    b.extend_from_slice(&ident.to_be_bytes());
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(data);
    b
}

fn link_layer_option(typ: u8, mac: Mac) -> [u8; 8] {
    let mut o = [typ, 1, 0, 0, 0, 0, 0, 0];
    o[2..].copy_from_slice(&mac);
    o
}

/// The body of a Neighbor Solicitation (RFC 4861 §4.3) for `target`, with a source link-layer
/// address option when `slla` is given.
pub fn neighbor_solicit(target: Ipv6Addr, slla: Option<Mac>) -> Vec<u8> {
    let mut b = vec![0; 4];
    b.extend_from_slice(&target.octets());
    if let Some(m) = slla {
        b.extend_from_slice(&link_layer_option(ND_OPT_SLLA, m));
    }
    b
}

/// The body of a Neighbor Advertisement (RFC 4861 §4.4): `flags` (R, S, O), `target`, with a
/// target link-layer address option when `tlla` is given.
pub fn neighbor_advert(flags: u8, target: Ipv6Addr, tlla: Option<Mac>) -> Vec<u8> {
    let mut b = vec![flags, 0, 0, 0];
    b.extend_from_slice(&target.octets());
    if let Some(m) = tlla {
        b.extend_from_slice(&link_layer_option(ND_OPT_TLLA, m));
    }
    b
}

/// A whole Neighbor Discovery frame: IPv6 with hop limit 255 (RFC 4861 §7.1), ICMPv6 `typ`.
pub fn nd_frame(
    dst_mac: Mac,
    src_mac: Mac,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    typ: u8,
    body: &[u8],
) -> Vec<u8> {
    let msg = icmpv6(src, dst, typ, 0, body);
    ethernet(
        dst_mac,
        src_mac,
        ETH_IPV6,
        &ipv6(src, dst, PROTO_ICMPV6, 255, &msg),
    )
}

/// The solicited-node multicast address of `a` (RFC 4291 §2.7.1): ff02::1:ffXX:XXXX.
pub fn solicited_node(a: Ipv6Addr) -> Ipv6Addr {
    let o = a.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// The Ethernet address of IPv6 multicast group `g` (RFC 2464 §7): 33:33 and its last 32 bits.
pub fn multicast_mac(g: Ipv6Addr) -> Mac {
    let o = g.octets();
    [0x33, 0x33, o[12], o[13], o[14], o[15]]
}

/// An ARP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Arp {
    pub op: u16,
    pub sha: Mac,
    pub spa: Ipv4Addr,
    pub tha: Mac,
    pub tpa: Ipv4Addr,
}

/// The IP header fields a script looks at, either family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpHeader {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The upper-layer protocol (after any IPv6 extension headers).
    pub proto: u8,
    /// TTL or hop limit.
    pub hop_limit: u8,
    /// IPv4: DF set.
    pub df: bool,
    /// IPv4: the identification field.
    pub ident: u16,
    /// IPv6: the flow label.
    pub flow_label: u32,
    /// The traffic class (IPv6) or TOS byte (IPv4); its low two bits are the ECN field.
    pub tclass: u8,
    /// IPv6: the extension headers' types, in order.
    pub ext: Vec<u8>,
    /// A fragment (IPv4 offset or MF, or an IPv6 Fragment header).
    pub fragment: bool,
}

/// An ICMP or ICMPv6 message: type, code and the body after the 4-byte header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Icmp {
    pub typ: u8,
    pub code: u8,
    pub body: Vec<u8>,
}

/// A Neighbor Solicitation's or Advertisement's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nd {
    /// R, S, O of an advertisement (0 for a solicitation).
    pub flags: u8,
    pub target: Ipv6Addr,
    pub slla: Option<Mac>,
    pub tlla: Option<Mac>,
}

impl Icmp {
    /// The Neighbor Discovery content of a solicitation or an advertisement.
    pub fn nd(&self) -> Option<Nd> {
        if !matches!(self.typ, ICMP6_NEIGHBOR_SOLICIT | ICMP6_NEIGHBOR_ADVERT)
            || self.body.len() < 20
        {
            return None;
        }
        let target: [u8; 16] = self.body[4..20].try_into().ok()?;
        let mut nd = Nd {
            flags: if self.typ == ICMP6_NEIGHBOR_ADVERT {
                self.body[0]
            } else {
                0
            },
            target: Ipv6Addr::from(target),
            slla: None,
            tlla: None,
        };
        let mut o = &self.body[20..];
        while o.len() >= 8 {
            let len = usize::from(o[1]) * 8;
            if len == 0 || len > o.len() {
                return None;
            }
            let mac: Mac = o[2..8].try_into().ok()?;
            match o[0] {
                ND_OPT_SLLA => nd.slla = Some(mac),
                ND_OPT_TLLA => nd.tlla = Some(mac),
                _ => {}
            }
            o = &o[len..];
        }
        Some(nd)
    }

    /// An echo message's identifier, sequence number and data.
    pub fn echo(&self) -> Option<(u16, u16, &[u8])> {
        (self.body.len() >= 4).then(|| {
            (
                u16::from_be_bytes([self.body[0], self.body[1]]),
                u16::from_be_bytes([self.body[2], self.body[3]]),
                &self.body[4..],
            )
        })
    }
}

/// A frame taken apart.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub dst_mac: Mac,
    pub src_mac: Mac,
    pub ethertype: u16,
    pub arp: Option<Arp>,
    pub ip: Option<IpHeader>,
    pub tcp: Option<Tcp>,
    pub icmp: Option<Icmp>,
    /// Every checksum present (IPv4 header, TCP, ICMP, ICMPv6) is right.
    pub checksums_ok: bool,
    pub len: usize,
}

impl Parsed {
    /// The TCP segment if the frame is one between `src` and `dst` (ports included).
    pub fn tcp_between(&self, src: (IpAddr, u16), dst: (IpAddr, u16)) -> Option<&Tcp> {
        let ip = self.ip.as_ref()?;
        let t = self.tcp.as_ref()?;
        (ip.src == src.0 && ip.dst == dst.0 && t.sport == src.1 && t.dport == dst.1).then_some(t)
    }

    /// The ICMPv6 message, with its Neighbor Discovery content, if the frame is a solicitation
    /// or advertisement.
    pub fn nd(&self) -> Option<(&IpHeader, &Icmp, Nd)> {
        let ip = self.ip.as_ref()?;
        let m = self.icmp.as_ref().filter(|_| ip.proto == PROTO_ICMPV6)?;
        Some((ip, m, m.nd()?))
    }
}

/// Parses an IPv4 datagram.
fn parse_ipv4(b: &[u8], p: &mut Parsed) -> Option<()> {
    let ihl = usize::from(b.first()? & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?]));
    if b[0] >> 4 != 4 || ihl < 20 || total < ihl || total > b.len() {
        return None;
    }
    let frag = u16::from_be_bytes([b[6], b[7]]);
    let src = Ipv4Addr::from(<[u8; 4]>::try_from(&b[12..16]).ok()?);
    let dst = Ipv4Addr::from(<[u8; 4]>::try_from(&b[16..20]).ok()?);
    p.checksums_ok &= checksum_with(0, &b[..ihl]) == 0;
    let ip = IpHeader {
        src: src.into(),
        dst: dst.into(),
        proto: b[9],
        hop_limit: b[8],
        df: frag & IPV4_DF != 0,
        ident: u16::from_be_bytes([b[4], b[5]]),
        flow_label: 0,
        tclass: b[1],
        ext: Vec::new(),
        fragment: frag & 0x3fff != 0,
    };
    let payload = &b[ihl..total];
    parse_l4(&ip, payload, p);
    p.ip = Some(ip);
    Some(())
}

/// Parses an IPv6 datagram, walking its extension headers.
fn parse_ipv6(b: &[u8], p: &mut Parsed) -> Option<()> {
    if b.len() < 40 || b[0] >> 4 != 6 {
        return None;
    }
    let plen = usize::from(u16::from_be_bytes([b[4], b[5]]));
    if 40 + plen > b.len() {
        return None;
    }
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&b[8..24]).ok()?);
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&b[24..40]).ok()?);
    let mut next = b[6];
    let mut rest = &b[40..40 + plen];
    let mut ext = Vec::new();
    let mut fragment = false;
    loop {
        let len = match next {
            NH_HOP_BY_HOP | NH_ROUTING | NH_DEST_OPTS => (usize::from(*rest.get(1)?) + 1) * 8,
            NH_FRAGMENT => {
                fragment = true;
                8
            }
            _ => break,
        };
        if len > rest.len() {
            return None;
        }
        ext.push(next);
        next = rest[0];
        rest = &rest[len..];
    }
    let ip = IpHeader {
        src: src.into(),
        dst: dst.into(),
        proto: next,
        hop_limit: b[7],
        df: false,
        ident: 0,
        flow_label: u32::from_be_bytes([0, b[1] & 0x0f, b[2], b[3]]),
        tclass: (b[0] << 4) | (b[1] >> 4),
        ext,
        fragment,
    };
    if !fragment {
        parse_l4(&ip, rest, p);
    }
    p.ip = Some(ip);
    Some(())
}

fn parse_l4(ip: &IpHeader, b: &[u8], p: &mut Parsed) {
    if ip.fragment {
        return;
    }
    match ip.proto {
        PROTO_TCP => match Tcp::parse(b, ip.src, ip.dst) {
            Some((t, ok)) => {
                p.checksums_ok &= ok;
                p.tcp = Some(t);
            }
            None => p.checksums_ok = false,
        },
        PROTO_ICMP | PROTO_ICMPV6 if b.len() >= 4 => {
            let ok = if ip.proto == PROTO_ICMP {
                checksum_with(0, b) == 0
            } else {
                l4_checksum(ip.src, ip.dst, PROTO_ICMPV6, b) == 0
            };
            p.checksums_ok &= ok;
            p.icmp = Some(Icmp {
                typ: b[0],
                code: b[1],
                body: b[4..].to_vec(),
            });
        }
        _ => {}
    }
}

/// Takes a frame apart; `None` if it is shorter than an Ethernet header. A truncated or
/// malformed layer is left `None`.
pub fn parse(frame: &[u8]) -> Option<Parsed> {
    if frame.len() < 14 {
        return None;
    }
    let mut p = Parsed {
        dst_mac: frame[0..6].try_into().ok()?,
        src_mac: frame[6..12].try_into().ok()?,
        ethertype: u16::from_be_bytes([frame[12], frame[13]]),
        arp: None,
        ip: None,
        tcp: None,
        icmp: None,
        checksums_ok: true,
        len: frame.len(),
    };
    let b = &frame[14..];
    match p.ethertype {
        ETH_IPV4 => {
            parse_ipv4(b, &mut p);
        }
        ETH_IPV6 => {
            parse_ipv6(b, &mut p);
        }
        ETH_ARP if b.len() >= 28 && b[..6] == [0, 1, 0x08, 0, 6, 4] => {
            let ip4 = |i: usize| Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]);
            p.arp = Some(Arp {
                op: u16::from_be_bytes([b[6], b[7]]),
                sha: b[8..14].try_into().ok()?,
                spa: ip4(14),
                tha: b[18..24].try_into().ok()?,
                tpa: ip4(24),
            });
        }
        _ => {}
    }
    Some(p)
}

impl fmt::Display for Parsed {
    /// One line, tcpdump-like: MACs, then the innermost layer understood.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} > {} ",
            mac_str(&self.src_mac),
            mac_str(&self.dst_mac)
        )?;
        if let Some(a) = &self.arp {
            let op = match a.op {
                ARP_REQUEST => "request",
                ARP_REPLY => "reply",
                _ => "op?",
            };
            return write!(
                f,
                "ARP {op} sha {} spa {} tha {} tpa {}",
                mac_str(&a.sha),
                a.spa,
                mac_str(&a.tha),
                a.tpa
            );
        }
        let Some(ip) = &self.ip else {
            return write!(f, "ethertype {:#06x} len {}", self.ethertype, self.len);
        };
        write!(f, "{} > {} hlim {}", ip.src, ip.dst, ip.hop_limit)?;
        if ip.tclass & 3 != 0 {
            write!(
                f,
                " {}",
                ["", "ECT(1)", "ECT(0)", "CE"][usize::from(ip.tclass & 3)]
            )?;
        }
        if ip.src.is_ipv4() {
            write!(f, " id {}{}", ip.ident, if ip.df { " DF" } else { "" })?;
        } else if ip.flow_label != 0 {
            write!(f, " flow {:#x}", ip.flow_label)?;
        }
        if !ip.ext.is_empty() {
            write!(f, " ext {:?}", ip.ext)?;
        }
        if !self.checksums_ok {
            write!(f, " BAD-CHECKSUM")?;
        }
        if let Some(t) = &self.tcp {
            write!(f, ": TCP {t}")
        } else if let Some(m) = &self.icmp {
            write!(
                f,
                ": ICMP{} type {} code {}",
                if ip.src.is_ipv6() { "v6" } else { "" },
                m.typ,
                m.code
            )?;
            if let Some(nd) = m.nd() {
                write!(
                    f,
                    " target {} flags {:#04x} slla {:?} tlla {:?}",
                    nd.target,
                    nd.flags,
                    nd.slla.map(|m| mac_str(&m)),
                    nd.tlla.map(|m| mac_str(&m))
                )?;
            }
            Ok(())
        } else {
            write!(f, ": proto {} len {}", ip.proto, self.len)
        }
    }
}
