//! Property tests of `engine::wire` for IPv6, its extension headers, ICMPv6 and Neighbor
//! Discovery, seeded and deterministic (`engine::rand::Rng`); `wire_props.rs` does the same for
//! Ethernet, ARP, IPv4, ICMP and TCP, and `props` holds what the two share:
//!
//! - no view, repr parser, option iterator or extension-header walk panics on valid IPv6 frames
//!   (extension headers, then TCP, ICMPv6 or Neighbor Discovery) that were mutated (lengths,
//!   Next Header values, option and extension lengths, hop limit), and the mutations reach
//!   every rejection and get past every check;
//! - `parse(emit(repr)) == repr` for random IPv6 headers and every ICMPv6 message, and the
//!   extension-header walk finds what a random chain was built with;
//! - an emitted ICMPv6 checksum verifies, and flipping any one byte makes it fail; the IPv6
//!   pseudo-header is the RFC 8200 layout.

mod props;

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use engine::rand::Rng;
use engine::wire::checksum::{self, Checksum};
use engine::wire::{
    Error, EtherType, EthernetFrame, EthernetRepr, ExtHeaderError, Icmpv6Packet, Icmpv6Repr,
    IpProtocol, Ipv6ExtHeaders, Ipv6Fragment, Ipv6Packet, Ipv6Repr, Ipv6Routing, MAX_EXT_HEADERS,
    NdpRepr, TcpPacket, TcpRepr, walk_ext_headers,
};
use props::poke::{poke_ethernet, poke_icmpv6, poke_ipv6, poke_tcp, poke_walk};
use props::reprs::{
    ethernet_repr, icmpv6_repr, ip6, ipv6_repr, ndp_repr, tcp_repr, u8r, u16r, v6_ip,
};
use props::{ETH, FUZZ_CASES, ROUND_TRIPS, must_not_panic, set_nibble, set_u16};

// ---- random extension-header chains ----

/// A random extension-header chain and what the walk must find in it.
struct Chain {
    first: IpProtocol,
    bytes: Vec<u8>,
    expect: Ipv6ExtHeaders,
}

/// `n` walkable extension headers (Hop-by-Hop only first; fragments with offset 0; routing
/// headers with Segments Left 0; options all "skip if unknown") ending in `upper`.
fn ext_chain(rng: &mut Rng, n: usize, upper: IpProtocol) -> Chain {
    let kinds: Vec<u8> = (0..n)
        .map(|i| match rng.below(4) {
            0 if i == 0 => 0,
            0 | 1 => 60,
            2 => 43,
            _ => 44,
        })
        .collect();
    let mut expect = Ipv6ExtHeaders {
        protocol: upper,
        offset: 0,
        next_header_pointer: 6,
        count: n,
        hop_by_hop: false,
        routing: None,
        fragment: None,
    };
    let mut bytes = Vec::new();
    for (i, &kind) in kinds.iter().enumerate() {
        let start = bytes.len();
        let units = if kind == 44 { 0 } else { rng.below(3) as usize };
        bytes.resize(start + 8 + 8 * units, 0);
        let h = &mut bytes[start..];
        h[0] = kinds.get(i + 1).copied().unwrap_or(u8::from(upper));
        h[1] = units as u8;
        match kind {
            44 => expect.fragment = expect.fragment.or(Some(fragment_header(rng, h))),
            43 => {
                let routing = Ipv6Routing {
                    routing_type: u8r(rng),
                    segments_left: 0,
                };
                h[2] = routing.routing_type;
                rng.fill(&mut h[4..]);
                expect.routing = Some(routing);
            }
            _ => skip_options(rng, &mut h[2..]),
        }
        expect.hop_by_hop |= kind == 0;
        expect.next_header_pointer = 40 + start;
    }
    expect.offset = bytes.len();
    let first = kinds.first().map_or(upper, |&k| IpProtocol::from(k));
    Chain {
        first,
        bytes,
        expect,
    }
}

/// Fills an 8-byte Fragment header with offset 0 (random reserved bits, M and ident).
fn fragment_header(rng: &mut Rng, h: &mut [u8]) -> Ipv6Fragment {
    let frag = Ipv6Fragment {
        offset: 0,
        more: rng.chance(0.3),
        ident: rng.next_u32(),
    };
    h[1] = u8r(rng);
    h[2..4].copy_from_slice(&((u16r(rng) & 0x6) | u16::from(frag.more)).to_be_bytes());
    h[4..8].copy_from_slice(&frag.ident.to_be_bytes());
    frag
}

/// Fills an option area with unrecognised options of the "skip" kind and padding that ends it.
fn skip_options(rng: &mut Rng, area: &mut [u8]) {
    let mut at = 0;
    while at < area.len() {
        let left = area.len() - at;
        if left == 1 {
            area[at] = 0; // Pad1
            return;
        }
        if left <= 7 && rng.chance(0.5) {
            // PadN to the end: never more than 7 bytes of padding in a row.
            area[at..at + 2].copy_from_slice(&[1, left as u8 - 2]);
            area[at + 2..].fill(0);
            return;
        }
        let len = rng.below(left as u64 - 1) as usize;
        area[at] = 2 + rng.below(62) as u8;
        area[at + 1] = len as u8;
        rng.fill(&mut area[at + 2..at + 2 + len]);
        at += 2 + len;
    }
}

/// An upper-layer protocol the walk stops at.
fn upper_protocol(rng: &mut Rng) -> IpProtocol {
    loop {
        let p = IpProtocol::from(u8r(rng));
        if !matches!(
            p,
            IpProtocol::HopByHop
                | IpProtocol::Ipv6Route
                | IpProtocol::Ipv6Frag
                | IpProtocol::Ipv6Opts
        ) {
            return p;
        }
    }
}

// ---- valid frames to mutate ----

/// A random valid IPv6 frame: up to `max_ext` extension headers, then TCP, any ICMPv6 message
/// or a Neighbor Discovery message (hop limit 255), checksums right; maybe padded.
fn valid_frame_v6(rng: &mut Rng, max_ext: usize) -> Vec<u8> {
    let kind = rng.below(3);
    let mut ip = ipv6_repr(rng, IpProtocol::Tcp, 0);
    let (protocol, upper) = match kind {
        0 => (IpProtocol::Tcp, tcp_v6(rng, &ip)),
        1 => {
            let data_len = rng.below(40) as usize;
            let repr = icmpv6_repr(rng, data_len);
            (IpProtocol::Icmpv6, icmpv6_message(rng, &ip, repr))
        }
        _ => {
            ip.hop_limit = 255;
            let repr = Icmpv6Repr::Ndp(ndp_repr(rng));
            (IpProtocol::Icmpv6, icmpv6_message(rng, &ip, repr))
        }
    };
    let n = rng.below(max_ext as u64 + 1) as usize;
    let chain = ext_chain(rng, n, protocol);
    ip.next_header = chain.first;
    ip.payload_len = (chain.bytes.len() + upper.len()) as u16;
    let eth = EthernetRepr {
        ethertype: EtherType::Ipv6,
        ..ethernet_repr(rng)
    };
    let mut frame = vec![0u8; ETH + 40];
    eth.emit(&mut frame);
    ip.emit(&mut frame[ETH..]);
    frame.extend_from_slice(&chain.bytes);
    frame.extend_from_slice(&upper);
    if rng.chance(0.2) {
        frame.resize(frame.len() + rng.below(20) as usize, 0);
    }
    frame
}

/// A random TCP segment with its checksum over the IPv6 pseudo-header of `ip`.
fn tcp_v6(rng: &mut Rng, ip: &Ipv6Repr) -> Vec<u8> {
    let tcp = tcp_repr(rng);
    let mut seg = vec![0u8; tcp.buffer_len(rng.below(40) as usize)];
    rng.fill(&mut seg);
    tcp.emit(&mut seg);
    let pseudo = checksum::pseudo_header_v6(&ip.src, &ip.dst, 6, seg.len() as u32);
    let value = Checksum::with_sum(pseudo).add(&seg).finish();
    seg[16..18].copy_from_slice(&value.to_be_bytes());
    seg
}

/// `repr` emitted from `ip.src` to `ip.dst`, after random data.
fn icmpv6_message(rng: &mut Rng, ip: &Ipv6Repr, repr: Icmpv6Repr) -> Vec<u8> {
    let mut msg = vec![0u8; repr.buffer_len()];
    rng.fill(&mut msg);
    repr.emit(&ip.src, &ip.dst, &mut msg);
    msg
}

/// One to four mutations of an IPv6 frame, aimed at lengths, Next Header values, option and
/// extension lengths and the hop limit; then, half the time, the ICMPv6 checksum made right.
fn mutate_v6(rng: &mut Rng, frame: &mut Vec<u8>) {
    const KINDS: [u8; 9] = [0, 43, 44, 60, 6, 58, 17, 59, 51];
    for _ in 0..1 + rng.below(4) {
        let len = frame.len();
        if len == 0 {
            return;
        }
        let at = rng.below(len as u64) as usize;
        // A byte of the extension headers or the start of the upper layer.
        let near = ETH + 40 + rng.below(64) as usize;
        match rng.below(9) {
            0 => frame[at] ^= 1 << rng.below(8),
            1 => frame[at] = u8r(rng),
            2 => frame.truncate(at),
            3 => set_nibble(frame, ETH, rng.below(16) as u8, true),
            4 => set_u16(
                frame,
                ETH + 4,
                len as i64 - ETH as i64 - 40 + rng.below(9) as i64 - 4,
            ),
            5 => {
                let at = if rng.chance(0.3) { ETH + 6 } else { near & !7 };
                set_byte(frame, at, KINDS[rng.below(9) as usize]);
            }
            6 => set_byte(frame, near, rng.below(4) as u8),
            7 => set_byte(frame, ETH + 7, if rng.chance(0.5) { 255 } else { u8r(rng) }),
            _ => frame.extend((0..rng.below(16)).map(|_| u8r(rng))),
        }
    }
    if rng.chance(0.5) {
        refill_icmpv6_checksum(frame);
    }
}

fn set_byte(frame: &mut [u8], at: usize, value: u8) {
    if let Some(b) = frame.get_mut(at) {
        *b = value;
    }
}

/// Finds the ICMPv6 message of a frame through its extension headers and refills its checksum.
fn refill_icmpv6_checksum(frame: &mut [u8]) {
    let Some(Ok(ip)) = frame.get(ETH..).map(Ipv6Packet::new_checked) else {
        return;
    };
    let Ok(ext) = ip.ext_headers() else {
        return;
    };
    if ext.protocol != IpProtocol::Icmpv6 || ext.is_fragment() {
        return;
    }
    let (src, dst) = (ip.src(), ip.dst());
    let range = ETH + 40 + ext.offset..ETH + 40 + usize::from(ip.payload_len());
    if let Ok(mut icmp) = Icmpv6Packet::new_checked(&mut frame[range]) {
        let pseudo = icmp.pseudo_header(&src, &dst);
        icmp.fill_checksum(pseudo);
    }
}

// ---- the tests ----

#[test]
fn no_panic_on_mutated_ipv6_packets() {
    let mut rng = Rng::new(0x5eed_0009);
    let mut outcomes: HashMap<Outcome6, usize> = HashMap::new();
    for _ in 0..FUZZ_CASES {
        let mut frame = valid_frame_v6(&mut rng, MAX_EXT_HEADERS + 1);
        mutate_v6(&mut rng, &mut frame);
        must_not_panic(&frame, |b| {
            poke_ethernet(b);
            let inner = b.get(ETH..).unwrap_or(&[]);
            poke_ipv6(inner);
            // The walk and the layers above on their own, whatever the layers below say.
            let payload = inner.get(40..).unwrap_or(&[]);
            let first = IpProtocol::from(inner.get(6).copied().unwrap_or(0));
            let upper = poke_walk(first, payload).map_or(payload, |ext| ext.upper_layer(payload));
            let ip = v6_ip(Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED, 255);
            poke_icmpv6(upper, &ip);
            poke_tcp(upper, Ipv4Addr::LOCALHOST, Ipv4Addr::BROADCAST);
        });
        *outcomes.entry(outcome_v6(&frame)).or_default() += 1;
    }
    // The mutations must reach every rejection and get past every check.
    for expected in [
        Outcome6::Ipv6(Error::Truncated),
        Outcome6::Ipv6(Error::BadVersion),
        Outcome6::Ipv6(Error::BadTotalLen),
        Outcome6::Ext("truncated"),
        Outcome6::Ext("bad options"),
        Outcome6::Ext("too many"),
        Outcome6::Ext("discard option"),
        Outcome6::Ext("routing"),
        Outcome6::Fragment,
        Outcome6::Tcp(Ok(true)),
        Outcome6::Tcp(Ok(false)),
        Outcome6::Tcp(Err(Error::BadHeaderLen)),
        Outcome6::Tcp(Err(Error::Malformed)),
        Outcome6::Icmpv6(Ok(())),
        Outcome6::Icmpv6(Err(Error::BadChecksum)),
        Outcome6::Icmpv6(Err(Error::Truncated)),
        Outcome6::Ndp(Ok(true)),
        Outcome6::Ndp(Ok(false)),
        Outcome6::Ndp(Err(Error::Malformed)),
        Outcome6::Ndp(Err(Error::Truncated)),
        Outcome6::OtherProtocol,
    ] {
        let n = outcomes.get(&expected).copied().unwrap_or(0);
        assert!(n >= 100, "{expected:?} reached {n} times: {outcomes:?}");
    }
}

/// How far a mutated IPv6 frame gets: the first layer that rejects it, or the last that accepts
/// it (`Ok(checksum verifies)` for TCP, `Ok(valid)` for Neighbor Discovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome6 {
    NotIpv6,
    Ipv6(Error),
    Ext(&'static str),
    Fragment,
    Tcp(Result<bool, Error>),
    Icmpv6(Result<(), Error>),
    Ndp(Result<bool, Error>),
    OtherProtocol,
}

fn outcome_v6(b: &[u8]) -> Outcome6 {
    let Ok(eth) = EthernetFrame::new_checked(b) else {
        return Outcome6::NotIpv6;
    };
    if eth.ethertype() != EtherType::Ipv6 {
        return Outcome6::NotIpv6;
    }
    let ip = match Ipv6Packet::new_checked(eth.payload()) {
        Ok(ip) => ip,
        Err(e) => return Outcome6::Ipv6(e),
    };
    let repr = Ipv6Repr::parse(&ip).unwrap();
    let ext = match ip.ext_headers() {
        Ok(ext) => ext,
        Err(e) => return Outcome6::Ext(ext_error_name(e)),
    };
    if ext.is_fragment() {
        return Outcome6::Fragment;
    }
    let upper = ext.upper_layer(ip.payload());
    match ext.protocol {
        IpProtocol::Tcp => Outcome6::Tcp(
            TcpPacket::new_checked(upper)
                .and_then(|p| TcpRepr::parse(&p).map(|_| tcp_v6_verifies(&repr, upper))),
        ),
        IpProtocol::Icmpv6 => {
            let packet = Icmpv6Packet::new_checked(upper);
            let is_ndp = packet.as_ref().is_ok_and(|p| NdpRepr::is_ndp(p.msg_type()));
            match packet.and_then(|p| Icmpv6Repr::parse(&p, &repr.src, &repr.dst, true)) {
                Ok(Icmpv6Repr::Ndp(ndp)) => Outcome6::Ndp(Ok(ndp.validate(&repr).is_ok())),
                Ok(_) => Outcome6::Icmpv6(Ok(())),
                Err(e) if is_ndp && e != Error::BadChecksum => Outcome6::Ndp(Err(e)),
                Err(e) => Outcome6::Icmpv6(Err(e)),
            }
        }
        _ => Outcome6::OtherProtocol,
    }
}

fn ext_error_name(e: ExtHeaderError) -> &'static str {
    match e {
        ExtHeaderError::Truncated => "truncated",
        ExtHeaderError::BadOptions => "bad options",
        ExtHeaderError::TooMany => "too many",
        ExtHeaderError::Option { .. } => "discard option",
        ExtHeaderError::Routing { .. } => "routing",
    }
}

fn tcp_v6_verifies(ip: &Ipv6Repr, seg: &[u8]) -> bool {
    let pseudo = checksum::pseudo_header_v6(&ip.src, &ip.dst, 6, seg.len() as u32);
    Checksum::with_sum(pseudo).add(seg).finish() == 0
}

#[test]
fn valid_ipv6_frames_parse_all_the_way() {
    let mut rng = Rng::new(0x5eed_000a);
    for _ in 0..ROUND_TRIPS {
        let frame = valid_frame_v6(&mut rng, MAX_EXT_HEADERS);
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!(eth.ethertype(), EtherType::Ipv6);
        let ip = Ipv6Packet::new_checked(eth.payload()).unwrap();
        let repr = Ipv6Repr::parse(&ip).unwrap();
        let ext = ip.ext_headers().unwrap();
        let upper = ext.upper_layer(ip.payload());
        if ext.protocol == IpProtocol::Tcp {
            assert!(tcp_v6_verifies(&repr, upper));
            TcpRepr::parse(&TcpPacket::new_checked(upper).unwrap()).unwrap();
        } else {
            assert_eq!(ext.protocol, IpProtocol::Icmpv6);
            let icmp = Icmpv6Packet::new_checked(upper).unwrap();
            Icmpv6Repr::parse(&icmp, &repr.src, &repr.dst, true).unwrap();
        }
    }
}

#[test]
fn round_trip_ipv6() {
    let mut rng = Rng::new(0x5eed_000b);
    let mut buf = [0u8; 40];
    for _ in 0..ROUND_TRIPS {
        let next_header = IpProtocol::from(u8r(&mut rng));
        let payload_len = u16r(&mut rng);
        let repr = ipv6_repr(&mut rng, next_header, payload_len);
        rng.fill(&mut buf);
        repr.emit(&mut buf);
        let mut packet = buf.to_vec();
        packet.resize(repr.buffer_len(), 0);
        let parsed = Ipv6Repr::parse(&Ipv6Packet::new_checked(&packet[..]).unwrap());
        assert_eq!(parsed, Ok(repr));
        // Flow-label bits above the twentieth are not stored.
        let wide = Ipv6Repr {
            flow_label: repr.flow_label | (rng.next_u32() << 20),
            ..repr
        };
        wide.emit(&mut packet);
        assert_eq!(
            Ipv6Repr::parse(&Ipv6Packet::new_checked(&packet[..]).unwrap()),
            Ok(repr)
        );
    }
}

#[test]
fn round_trip_icmpv6_and_checksum() {
    let mut rng = Rng::new(0x5eed_000c);
    for _ in 0..ROUND_TRIPS {
        let data_len = rng.below(100) as usize;
        let repr = icmpv6_repr(&mut rng, data_len);
        let (src, dst) = (ip6(&mut rng), ip6(&mut rng));
        let mut buf = icmpv6_message(&mut rng, &v6_ip(src, dst, 255), repr);
        let packet = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        assert!(packet.verify_checksum(packet.pseudo_header(&src, &dst)));
        assert_eq!(Icmpv6Repr::parse(&packet, &src, &dst, true), Ok(repr));
        if let Icmpv6Repr::EchoRequest {
            ident,
            seq_no,
            data_len,
        } = repr
        {
            // The in-place reply verifies with the addresses swapped.
            let mut reply = buf.clone();
            let mut p = Icmpv6Packet::new_checked(&mut reply[..]).unwrap();
            p.echo_request_to_reply().unwrap();
            let parsed = Icmpv6Repr::parse(&p, &dst, &src, true);
            assert_eq!(
                parsed,
                Ok(Icmpv6Repr::EchoReply {
                    ident,
                    seq_no,
                    data_len
                })
            );
        }
        let at = rng.below(buf.len() as u64) as usize;
        buf[at] ^= 1 + rng.below(255) as u8;
        let packet = Icmpv6Packet::new_checked(&buf[..]).unwrap();
        let parsed = Icmpv6Repr::parse(&packet, &src, &dst, true);
        assert_eq!(
            parsed,
            Err(Error::BadChecksum),
            "flipped byte {at} of {repr:?}"
        );
    }
}

#[test]
fn round_trip_ext_header_chains() {
    let mut rng = Rng::new(0x5eed_000d);
    for _ in 0..ROUND_TRIPS {
        let upper = upper_protocol(&mut rng);
        let n = rng.below(MAX_EXT_HEADERS as u64 + 2) as usize;
        let chain = ext_chain(&mut rng, n, upper);
        let mut payload = chain.bytes.clone();
        payload.extend((0..rng.below(30)).map(|_| u8r(&mut rng)));
        let walked = walk_ext_headers(chain.first, &payload);
        if n > MAX_EXT_HEADERS {
            assert_eq!(walked, Err(ExtHeaderError::TooMany));
            continue;
        }
        assert_eq!(walked, Ok(chain.expect), "{:02x?}", chain.bytes);
        // Cut anywhere inside the headers, the chain is truncated.
        if !chain.bytes.is_empty() {
            let cut = rng.below(chain.bytes.len() as u64) as usize;
            let walked = walk_ext_headers(chain.first, &payload[..cut]);
            assert_eq!(walked, Err(ExtHeaderError::Truncated));
        }
    }
}

#[test]
fn ipv6_pseudo_header_is_the_rfc_layout() {
    let mut rng = Rng::new(0x5eed_000e);
    for _ in 0..ROUND_TRIPS {
        let (src, dst) = (ip6(&mut rng), ip6(&mut rng));
        let (next_header, len) = (u8r(&mut rng), rng.next_u32());
        // RFC 8200 §8.1: source, destination, 32-bit length, 3 zero bytes, Next Header.
        let mut bytes = Vec::with_capacity(40);
        bytes.extend_from_slice(&src.octets());
        bytes.extend_from_slice(&dst.octets());
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, next_header]);
        let sum = checksum::pseudo_header_v6(&src, &dst, next_header, len);
        assert_eq!(
            checksum::fold(sum),
            checksum::fold(checksum::sum(&bytes, 0))
        );
    }
}
