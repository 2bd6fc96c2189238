//! Property tests of `engine::wire`, seeded and deterministic (`engine::rand::Rng`):
//!
//! - no view, repr parser, option iterator or extension-header walk panics on random bytes, nor
//!   on valid packets that were mutated (bytes flipped, truncated, length fields rewritten),
//!   which reach the code behind the length checks (ARCHITECTURE decision 11); IPv4 and IPv6
//!   frames (with extension headers, ICMPv6 and Neighbor Discovery) are mutated apart;
//! - `parse(emit(repr)) == repr` for random reprs of every header and every ICMPv6 message, and
//!   the extension-header walk finds what a random chain was built with;
//! - an emitted checksum verifies, and flipping any one byte makes it fail.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::panic::{AssertUnwindSafe, catch_unwind};

use engine::rand::Rng;
use engine::wire::checksum::{self, Checksum};
use engine::wire::{
    ArpOperation, ArpPacket, ArpRepr, Error, EtherType, EthernetFrame, EthernetRepr,
    ExtHeaderError, IcmpPacket, IcmpRepr, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv4Packet,
    Ipv4Repr, Ipv6ExtHeaders, Ipv6Fragment, Ipv6Packet, Ipv6Repr, Ipv6Routing, MAX_EXT_HEADERS,
    MacAddr, NdpOptions, NdpRepr, NeighborFlags, SackBlocks, SeqNum, TcpFlags, TcpOptions,
    TcpPacket, TcpRepr, walk_ext_headers,
};

const FUZZ_CASES: usize = 200_000;
const ROUND_TRIPS: usize = 10_000;

// ---- poking every accessor of every view ----

/// Runs `f` on `bytes`; a panic is reported with the input that caused it.
fn must_not_panic(bytes: &[u8], f: impl FnOnce(&[u8])) {
    if catch_unwind(AssertUnwindSafe(|| f(bytes))).is_err() {
        panic!("a parser panicked on {} bytes: {bytes:02x?}", bytes.len());
    }
}

fn poke_ethernet(b: &[u8]) {
    black_box(EthernetRepr::parse(&EthernetFrame::new_unchecked(b)).ok());
    let Ok(frame) = EthernetFrame::new_checked(b) else {
        return;
    };
    black_box((frame.src(), frame.dst(), frame.payload().len()));
    black_box(EthernetRepr::parse(&frame).unwrap());
    match frame.ethertype() {
        EtherType::Ipv4 => poke_ipv4(frame.payload()),
        EtherType::Arp => poke_arp(frame.payload()),
        EtherType::Ipv6 => poke_ipv6(frame.payload()),
        _ => {}
    }
}

fn poke_arp(b: &[u8]) {
    black_box(ArpRepr::parse(&ArpPacket::new_unchecked(b)).ok());
    let Ok(p) = ArpPacket::new_checked(b) else {
        return;
    };
    black_box((
        p.hardware_type(),
        p.protocol_type(),
        p.hardware_len(),
        p.protocol_len(),
    ));
    black_box((
        p.operation(),
        p.source_mac(),
        p.source_ip(),
        p.target_mac(),
        p.target_ip(),
    ));
    black_box(ArpRepr::parse(&p).ok());
}

fn poke_ipv4(b: &[u8]) {
    black_box(Ipv4Repr::parse(&Ipv4Packet::new_unchecked(b), true).ok());
    let Ok(p) = Ipv4Packet::new_checked(b) else {
        return;
    };
    black_box((
        p.version(),
        p.header_len(),
        p.dscp_ecn(),
        p.total_len(),
        p.ident(),
    ));
    black_box((
        p.dont_frag(),
        p.more_frags(),
        p.frag_offset(),
        p.is_fragment(),
        p.ttl(),
    ));
    black_box((
        p.protocol(),
        p.checksum(),
        p.src(),
        p.dst(),
        p.options().len(),
    ));
    black_box((p.payload().len(), p.verify_checksum()));
    black_box((
        Ipv4Repr::parse(&p, true).ok(),
        Ipv4Repr::parse(&p, false).ok(),
    ));
    match p.protocol() {
        IpProtocol::Tcp => poke_tcp(p.payload(), p.src(), p.dst()),
        IpProtocol::Icmp => poke_icmp(p.payload()),
        _ => {}
    }
}

fn poke_icmp(b: &[u8]) {
    black_box(IcmpRepr::parse(&IcmpPacket::new_unchecked(b), false).ok());
    let mut copy = b.to_vec();
    black_box(
        IcmpPacket::new_unchecked(&mut copy[..])
            .echo_request_to_reply()
            .ok(),
    );
    let Ok(p) = IcmpPacket::new_checked(b) else {
        return;
    };
    black_box((
        p.msg_type(),
        p.code(),
        p.checksum(),
        p.echo_ident(),
        p.echo_seq_no(),
    ));
    black_box((
        p.next_hop_mtu(),
        p.rest_of_header(),
        p.data().len(),
        p.verify_checksum(),
    ));
    black_box((
        IcmpRepr::parse(&p, true).ok(),
        IcmpRepr::parse(&p, false).ok(),
    ));
}

fn poke_tcp(b: &[u8], src: Ipv4Addr, dst: Ipv4Addr) {
    black_box(TcpRepr::parse(&TcpPacket::new_unchecked(b)).ok());
    let Ok(p) = TcpPacket::new_checked(b) else {
        return;
    };
    black_box((
        p.src_port(),
        p.dst_port(),
        p.seq(),
        p.ack(),
        p.header_len(),
        p.flags(),
    ));
    black_box((p.window(), p.checksum(), p.urgent(), p.payload().len()));
    black_box(p.verify_checksum(src, dst));
    poke_options(p.options());
    if let Ok(repr) = TcpRepr::parse(&p) {
        // Whatever was parsed can be emitted again, within 60 bytes.
        assert!(
            repr.header_len() <= 60 && repr.header_len() % 4 == 0,
            "{repr}"
        );
        let mut out = [0u8; 60];
        repr.emit(&mut out);
        black_box(repr.to_string());
    }
}

fn poke_options(b: &[u8]) {
    let mut errors = 0;
    for option in TcpOptions::new(b) {
        errors += usize::from(black_box(option).is_err());
    }
    assert!(errors <= 1, "the option iterator stops after an error");
}

fn poke_ipv6(b: &[u8]) {
    black_box(Ipv6Repr::parse(&Ipv6Packet::new_unchecked(b)).ok());
    let Ok(p) = Ipv6Packet::new_checked(b) else {
        return;
    };
    black_box((
        p.version(),
        p.traffic_class(),
        p.flow_label(),
        p.payload_len(),
    ));
    black_box((p.next_header(), p.hop_limit(), p.src(), p.dst()));
    let repr = Ipv6Repr::parse(&p).expect("a checked packet parses");
    black_box(repr.check_addrs().ok());
    let Some(ext) = poke_walk(p.next_header(), p.payload()) else {
        return;
    };
    let upper = ext.upper_layer(p.payload());
    match ext.protocol {
        IpProtocol::Tcp => poke_tcp(upper, Ipv4Addr::LOCALHOST, Ipv4Addr::BROADCAST),
        IpProtocol::Icmpv6 => poke_icmpv6(upper, &repr),
        _ => {}
    }
}

/// Walks a chain and checks the invariants of the result.
fn poke_walk(first: IpProtocol, payload: &[u8]) -> Option<Ipv6ExtHeaders> {
    match walk_ext_headers(first, payload) {
        Ok(ext) => {
            assert!(ext.offset <= payload.len() && ext.count <= MAX_EXT_HEADERS);
            assert!(ext.next_header_pointer < 40 + ext.offset.max(1));
            black_box((ext.is_fragment(), ext.upper_layer(payload).len()));
            Some(ext)
        }
        Err(e) => {
            black_box((e.param_problem(false), e.param_problem(true)));
            None
        }
    }
}

fn poke_icmpv6(b: &[u8], ip: &Ipv6Repr) {
    let (src, dst) = (&ip.src, &ip.dst);
    black_box(Icmpv6Repr::parse(&Icmpv6Packet::new_unchecked(b), src, dst, false).ok());
    black_box(NdpRepr::parse(&Icmpv6Packet::new_unchecked(b)).ok());
    let mut copy = b.to_vec();
    let mut p = Icmpv6Packet::new_unchecked(&mut copy[..]);
    black_box(p.echo_request_to_reply().ok());
    let Ok(p) = Icmpv6Packet::new_checked(b) else {
        return;
    };
    black_box((
        p.msg_type(),
        p.code(),
        p.checksum(),
        p.echo_ident(),
        p.echo_seq_no(),
    ));
    black_box((p.mtu(), p.pointer(), p.rest_of_header(), p.data().len()));
    black_box(p.verify_checksum(p.pseudo_header(src, dst)));
    poke_ndp_options(p.data());
    let Ok(repr) = Icmpv6Repr::parse(&p, src, dst, false) else {
        return;
    };
    // Whatever parsed is emitted again within the same length, and parses back the same.
    assert!(repr.buffer_len() <= b.len(), "{repr:?}");
    let mut out = vec![0u8; repr.buffer_len()];
    repr.emit(src, dst, &mut out);
    let again = Icmpv6Repr::parse(
        &Icmpv6Packet::new_checked(&out[..]).unwrap(),
        src,
        dst,
        true,
    );
    assert_eq!(again, Ok(repr));
    black_box(repr.invoking_packet());
    if let Icmpv6Repr::Ndp(ndp) = repr {
        black_box(ndp.validate(ip).ok());
    }
}

fn poke_ndp_options(b: &[u8]) {
    let errors = NdpOptions::new(b).filter(|o| o.is_err()).count();
    assert!(errors <= 1, "the option iterator stops after an error");
}

fn poke_everything(b: &[u8]) {
    let src = Ipv4Addr::new(10, 0, 0, 1);
    let dst = Ipv4Addr::new(10, 0, 0, 2);
    poke_ethernet(b);
    poke_arp(b);
    poke_ipv4(b);
    poke_icmp(b);
    poke_tcp(b, src, dst);
    poke_options(b);
    poke_ipv6(b);
    if let Some((&first, rest)) = b.split_first() {
        poke_walk(IpProtocol::from(first), rest);
    }
    poke_icmpv6(b, &v6_ip(Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED, 255));
    poke_ndp_options(b);
}

// ---- random reprs ----

fn mac(rng: &mut Rng) -> MacAddr {
    let mut m = [0u8; 6];
    rng.fill(&mut m);
    MacAddr(m)
}

fn ip(rng: &mut Rng) -> Ipv4Addr {
    Ipv4Addr::from(rng.next_u32())
}

fn u16r(rng: &mut Rng) -> u16 {
    rng.next_u32() as u16
}

fn u8r(rng: &mut Rng) -> u8 {
    rng.next_u32() as u8
}

fn maybe<T>(rng: &mut Rng, f: impl FnOnce(&mut Rng) -> T) -> Option<T> {
    if rng.chance(0.5) { Some(f(rng)) } else { None }
}

fn ethernet_repr(rng: &mut Rng) -> EthernetRepr {
    EthernetRepr {
        src: mac(rng),
        dst: mac(rng),
        ethertype: EtherType::from(u16r(rng)),
    }
}

fn arp_repr(rng: &mut Rng) -> ArpRepr {
    ArpRepr {
        operation: ArpOperation::from(u16r(rng)),
        source_mac: mac(rng),
        source_ip: ip(rng),
        target_mac: mac(rng),
        target_ip: ip(rng),
    }
}

fn ipv4_repr(rng: &mut Rng, protocol: IpProtocol, payload_len: u16) -> Ipv4Repr {
    Ipv4Repr {
        src: ip(rng),
        dst: ip(rng),
        protocol,
        payload_len,
        ttl: u8r(rng),
        ident: u16r(rng),
        dont_frag: rng.chance(0.5),
        dscp_ecn: u8r(rng),
    }
}

fn icmp_repr(rng: &mut Rng, data_len: usize) -> IcmpRepr {
    let (ident, seq_no) = (u16r(rng), u16r(rng));
    match rng.below(4) {
        0 => IcmpRepr::EchoRequest {
            ident,
            seq_no,
            data_len,
        },
        1 => IcmpRepr::EchoReply {
            ident,
            seq_no,
            data_len,
        },
        2 => IcmpRepr::DstUnreachable {
            code: u8r(rng),
            next_hop_mtu: seq_no,
            data_len,
        },
        _ => {
            // Any type that does not parse as one of the variants above.
            let msg_type = loop {
                let t = u8r(rng);
                if ![0, 3, 8].contains(&t) {
                    break t;
                }
            };
            IcmpRepr::Other {
                msg_type,
                code: u8r(rng),
                rest_of_header: rng.next_u32(),
                data_len,
            }
        }
    }
}

/// A random TCP header whose SACK blocks all fit, so that it survives a round trip.
fn tcp_repr(rng: &mut Rng) -> TcpRepr {
    let mut sack = SackBlocks::new();
    for _ in 0..rng.below(5) {
        sack.push((SeqNum(rng.next_u32()), SeqNum(rng.next_u32())));
    }
    let mut repr = TcpRepr {
        src_port: u16r(rng),
        dst_port: u16r(rng),
        seq: SeqNum(rng.next_u32()),
        ack: SeqNum(rng.next_u32()),
        flags: TcpFlags(u8r(rng)),
        window: u16r(rng),
        urgent: u16r(rng),
        mss: maybe(rng, u16r),
        window_scale: maybe(rng, |r| r.below(15) as u8),
        sack_permitted: rng.chance(0.5),
        sack,
        timestamps: maybe(rng, |r| (r.next_u32(), r.next_u32())),
    };
    repr.sack.truncate(repr.sack_blocks_emitted());
    repr
}

fn ip6(rng: &mut Rng) -> Ipv6Addr {
    Ipv6Addr::from((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()))
}

fn v6_ip(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8) -> Ipv6Repr {
    Ipv6Repr {
        src,
        dst,
        next_header: IpProtocol::Icmpv6,
        payload_len: 0,
        hop_limit,
        traffic_class: 0,
        flow_label: 0,
    }
}

fn ipv6_repr(rng: &mut Rng, next_header: IpProtocol, payload_len: u16) -> Ipv6Repr {
    Ipv6Repr {
        next_header,
        payload_len,
        traffic_class: u8r(rng),
        flow_label: rng.next_u32() & 0xf_ffff,
        ..v6_ip(ip6(rng), ip6(rng), u8r(rng))
    }
}

/// A random message of any ICMPv6 variant, every Neighbor Discovery one included.
fn icmpv6_repr(rng: &mut Rng, data_len: usize) -> Icmpv6Repr {
    let (ident, seq_no, code) = (u16r(rng), u16r(rng), u8r(rng));
    match rng.below(8) {
        0 => Icmpv6Repr::EchoRequest {
            ident,
            seq_no,
            data_len,
        },
        1 => Icmpv6Repr::EchoReply {
            ident,
            seq_no,
            data_len,
        },
        2 => Icmpv6Repr::DstUnreachable { code, data_len },
        3 => Icmpv6Repr::PacketTooBig {
            mtu: rng.next_u32(),
            data_len,
        },
        4 => Icmpv6Repr::TimeExceeded { code, data_len },
        5 => Icmpv6Repr::ParamProblem {
            code,
            pointer: rng.next_u32(),
            data_len,
        },
        6 => Icmpv6Repr::Ndp(ndp_repr(rng)),
        _ => {
            // Any type that does not parse as one of the variants above.
            let msg_type = loop {
                let t = u8r(rng);
                if !matches!(t, 1..=4 | 128 | 129 | 133..=137) {
                    break t;
                }
            };
            Icmpv6Repr::Other {
                msg_type,
                code,
                rest_of_header: rng.next_u32(),
                data_len,
            }
        }
    }
}

fn ndp_repr(rng: &mut Rng) -> NdpRepr {
    let lladdr = maybe(rng, mac);
    let (target, dest) = (ip6(rng), ip6(rng));
    match rng.below(5) {
        0 => NdpRepr::RouterSolicit {
            source_lladdr: lladdr,
        },
        1 => NdpRepr::RouterAdvert {
            cur_hop_limit: u8r(rng),
            flags: u8r(rng),
            router_lifetime: u16r(rng),
            reachable_time: rng.next_u32(),
            retrans_timer: rng.next_u32(),
            source_lladdr: lladdr,
            mtu: maybe(rng, |r| r.next_u32()),
        },
        2 => NdpRepr::NeighborSolicit {
            target,
            source_lladdr: lladdr,
        },
        3 => NdpRepr::NeighborAdvert {
            flags: NeighborFlags(u8r(rng) & 0xe0),
            target,
            target_lladdr: lladdr,
        },
        _ => NdpRepr::Redirect {
            target,
            dest,
            target_lladdr: lladdr,
        },
    }
}

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

const ETH: usize = 14;

/// A random valid frame: ARP, IPv4+TCP with options and payload, or IPv4+ICMP, maybe padded.
fn valid_frame(rng: &mut Rng) -> Vec<u8> {
    let kind = rng.below(3);
    let ethertype = if kind == 0 {
        EtherType::Arp
    } else {
        EtherType::Ipv4
    };
    let eth = EthernetRepr {
        ethertype,
        ..ethernet_repr(rng)
    };
    let mut frame = vec![0u8; ETH];
    eth.emit(&mut frame);
    match kind {
        0 => {
            frame.resize(ETH + 28, 0);
            arp_repr(rng).emit(&mut frame[ETH..]);
        }
        1 => push_tcp(rng, &mut frame),
        _ => push_icmp(rng, &mut frame),
    }
    if rng.chance(0.2) {
        frame.resize(frame.len() + rng.below(20) as usize, 0);
    }
    frame
}

fn push_tcp(rng: &mut Rng, frame: &mut Vec<u8>) {
    let tcp = tcp_repr(rng);
    let payload_len = rng.below(40) as usize;
    let seg_len = tcp.buffer_len(payload_len);
    let ip = ipv4_repr(rng, IpProtocol::Tcp, seg_len as u16);
    frame.resize(ETH + ip.buffer_len(), 0);
    ip.emit(&mut frame[ETH..], true);
    let seg = &mut frame[ETH + 20..];
    tcp.emit(seg);
    rng.fill(&mut seg[tcp.header_len()..]);
    TcpPacket::new_unchecked(seg).fill_checksum(ip.src, ip.dst);
}

fn push_icmp(rng: &mut Rng, frame: &mut Vec<u8>) {
    let data_len = rng.below(40) as usize;
    let icmp = icmp_repr(rng, data_len);
    let ip = ipv4_repr(rng, IpProtocol::Icmp, icmp.buffer_len() as u16);
    frame.resize(ETH + ip.buffer_len(), 0);
    ip.emit(&mut frame[ETH..], true);
    rng.fill(&mut frame[ETH + 28..]);
    icmp.emit(&mut frame[ETH + 20..]);
}

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

/// One to four mutations aimed at the fields the parsers trust least.
fn mutate(rng: &mut Rng, frame: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let len = frame.len();
        if len == 0 {
            return;
        }
        let at = rng.below(len as u64) as usize;
        match rng.below(9) {
            0 => frame[at] ^= 1 << rng.below(8),
            1 => frame[at] = u8r(rng),
            2 => frame.truncate(at),
            3 => set_nibble(frame, ETH, rng.below(16) as u8, rng.chance(0.2)), // version or IHL
            4 => set_u16(
                frame,
                ETH + 2,
                len.saturating_sub(ETH) as i64 + rng.below(9) as i64 - 4,
            ),
            5 => {
                let at = tcp_offset(frame) + 12;
                set_nibble(frame, at, rng.below(16) as u8, true);
            }
            6 => set_option_len(rng, frame),
            7 => set_u16(frame, ETH + 6, i64::from(u16r(rng) & 0x3fff)), // fragment bits
            _ => frame.extend((0..rng.below(16)).map(|_| u8r(rng))),
        }
    }
    // Half the time, make the IPv4 checksum right again, so the mutation reaches the layer above.
    if rng.chance(0.5)
        && let Some(Ok(mut ip)) = frame.get_mut(ETH..).map(Ipv4Packet::new_checked)
    {
        ip.fill_checksum();
    }
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

/// Sets the high (`high`) or low nibble of byte `at`: IP version or IHL, TCP data offset.
fn set_nibble(frame: &mut [u8], at: usize, value: u8, high: bool) {
    if let Some(b) = frame.get_mut(at) {
        *b = if high {
            (*b & 0x0f) | (value << 4)
        } else {
            (*b & 0xf0) | (value & 0x0f)
        };
    }
}

fn set_u16(frame: &mut [u8], at: usize, value: i64) {
    if let Some(b) = frame.get_mut(at..at + 2) {
        b.copy_from_slice(&(value.clamp(0, 0xffff) as u16).to_be_bytes());
    }
}

/// Where the TCP header would start, from the (possibly mutated) IHL.
fn tcp_offset(frame: &[u8]) -> usize {
    ETH + frame.get(ETH).map_or(20, |b| usize::from(b & 0x0f) * 4)
}

/// Puts a small or random value into a byte of the TCP option area, often a length byte.
fn set_option_len(rng: &mut Rng, frame: &mut [u8]) {
    let at = tcp_offset(frame) + 20 + rng.below(40) as usize;
    if let Some(b) = frame.get_mut(at) {
        *b = if rng.chance(0.7) {
            rng.below(12) as u8
        } else {
            u8r(rng)
        };
    }
}

// ---- the tests ----

#[test]
fn no_panic_on_random_bytes() {
    let mut rng = Rng::new(0x5eed_0001);
    let mut buf = [0u8; 128];
    for _ in 0..FUZZ_CASES {
        let len = rng.below(129) as usize;
        rng.fill(&mut buf[..len]);
        must_not_panic(&buf[..len], poke_everything);
    }
}

#[test]
fn no_panic_on_mutated_packets() {
    let mut rng = Rng::new(0x5eed_0002);
    let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
    let mut outcomes: HashMap<Outcome, usize> = HashMap::new();
    for _ in 0..FUZZ_CASES {
        let mut frame = valid_frame(&mut rng);
        mutate(&mut rng, &mut frame);
        must_not_panic(&frame, |b| {
            poke_ethernet(b);
            // Also each layer on its own, so a broken outer header does not hide the inner one.
            let inner = b.get(ETH..).unwrap_or(&[]);
            poke_ipv4(inner);
            poke_arp(inner);
            let l4 = b.get(tcp_offset(b)..).unwrap_or(&[]);
            poke_tcp(l4, src, dst);
            poke_icmp(l4);
        });
        *outcomes.entry(outcome(&frame)).or_default() += 1;
    }
    // The mutations must reach every rejection and get past every check.
    for expected in [
        Outcome::Ipv4(Err(Error::Truncated)),
        Outcome::Ipv4(Err(Error::BadVersion)),
        Outcome::Ipv4(Err(Error::BadHeaderLen)),
        Outcome::Ipv4(Err(Error::BadTotalLen)),
        Outcome::Ipv4(Err(Error::BadChecksum)),
        Outcome::Ipv4(Err(Error::Unsupported)),
        Outcome::Tcp(Err(Error::Truncated)),
        Outcome::Icmp(Err(Error::Truncated)),
        Outcome::Tcp(Err(Error::BadHeaderLen)),
        Outcome::Tcp(Err(Error::Malformed)),
        Outcome::Tcp(Ok(false)),
        Outcome::Tcp(Ok(true)),
        Outcome::Icmp(Ok(true)),
        Outcome::Arp(Ok(true)),
        Outcome::Arp(Err(Error::Unsupported)),
    ] {
        let n = outcomes.get(&expected).copied().unwrap_or(0);
        assert!(n >= 100, "{expected:?} reached {n} times: {outcomes:?}");
    }
}

/// How far a mutated frame gets: the first layer that rejects it, or the last that accepts it
/// (`Ok(checksum verifies)` for TCP and ICMP, `Ok(true)` for ARP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    Ethernet(Error),
    OtherEtherType,
    Arp(Result<bool, Error>),
    Ipv4(Result<(), Error>),
    Tcp(Result<bool, Error>),
    Icmp(Result<bool, Error>),
    OtherProtocol,
}

fn outcome(b: &[u8]) -> Outcome {
    let eth = match EthernetFrame::new_checked(b) {
        Ok(eth) => eth,
        Err(e) => return Outcome::Ethernet(e),
    };
    match eth.ethertype() {
        EtherType::Arp => {
            let arp = ArpPacket::new_checked(eth.payload()).and_then(|p| ArpRepr::parse(&p));
            return Outcome::Arp(arp.map(|_| true));
        }
        EtherType::Ipv4 => {}
        _ => return Outcome::OtherEtherType,
    }
    let ip = match Ipv4Packet::new_checked(eth.payload()) {
        Ok(ip) => ip,
        Err(e) => return Outcome::Ipv4(Err(e)),
    };
    let repr = match Ipv4Repr::parse(&ip, true) {
        Ok(repr) => repr,
        Err(e) => return Outcome::Ipv4(Err(e)),
    };
    match repr.protocol {
        IpProtocol::Tcp => Outcome::Tcp(
            TcpPacket::new_checked(ip.payload())
                .and_then(|p| TcpRepr::parse(&p).map(|_| p.verify_checksum(repr.src, repr.dst))),
        ),
        IpProtocol::Icmp => Outcome::Icmp(
            IcmpPacket::new_checked(ip.payload())
                .and_then(|p| IcmpRepr::parse(&p, false).map(|_| p.verify_checksum())),
        ),
        _ => Outcome::OtherProtocol,
    }
}

#[test]
fn valid_frames_parse_all_the_way() {
    let mut rng = Rng::new(0x5eed_0003);
    for _ in 0..ROUND_TRIPS {
        let frame = valid_frame(&mut rng);
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        if eth.ethertype() == EtherType::Arp {
            ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap();
            continue;
        }
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        let ip_repr = Ipv4Repr::parse(&ip, true).unwrap();
        assert_eq!(usize::from(ip_repr.payload_len), ip.payload().len());
        if ip_repr.protocol == IpProtocol::Tcp {
            let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
            assert!(tcp.verify_checksum(ip_repr.src, ip_repr.dst));
            TcpRepr::parse(&tcp).unwrap();
        } else {
            IcmpRepr::parse(&IcmpPacket::new_checked(ip.payload()).unwrap(), true).unwrap();
        }
    }
}

#[test]
fn round_trip_ethernet_and_arp() {
    let mut rng = Rng::new(0x5eed_0004);
    for _ in 0..ROUND_TRIPS {
        let repr = ethernet_repr(&mut rng);
        let mut buf = vec![0u8; repr.buffer_len(rng.below(64) as usize)];
        repr.emit(&mut buf);
        assert_eq!(
            EthernetRepr::parse(&EthernetFrame::new_checked(&buf[..]).unwrap()),
            Ok(repr)
        );

        let repr = arp_repr(&mut rng);
        let mut buf = [0u8; 28];
        repr.emit(&mut buf);
        assert_eq!(
            ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()),
            Ok(repr)
        );
    }
}

#[test]
fn round_trip_ipv4_and_checksum() {
    let mut rng = Rng::new(0x5eed_0005);
    let mut buf = vec![0u8; 0xffff];
    for _ in 0..ROUND_TRIPS {
        let payload_len = if rng.chance(0.9) {
            rng.below(1500)
        } else {
            rng.below(0xffff - 19)
        };
        let protocol = IpProtocol::from(u8r(&mut rng));
        let repr = ipv4_repr(&mut rng, protocol, payload_len as u16);
        let packet_buf = &mut buf[..repr.buffer_len()];
        repr.emit(packet_buf, true);
        let packet = Ipv4Packet::new_checked(&*packet_buf).unwrap();
        assert!(packet.verify_checksum());
        assert_eq!(Ipv4Repr::parse(&packet, true), Ok(repr));
        let at = rng.below(20) as usize;
        packet_buf[at] ^= 1 + rng.below(255) as u8;
        if let Ok(packet) = Ipv4Packet::new_checked(&*packet_buf) {
            assert!(!packet.verify_checksum(), "flipped byte {at} not detected");
        }
        repr.emit(packet_buf, false);
        assert_eq!(Ipv4Packet::new_unchecked(&*packet_buf).checksum(), 0);
    }
}

#[test]
fn round_trip_icmp_and_checksum() {
    let mut rng = Rng::new(0x5eed_0006);
    for _ in 0..ROUND_TRIPS {
        let data_len = rng.below(100) as usize;
        let repr = icmp_repr(&mut rng, data_len);
        let mut buf = vec![0u8; repr.buffer_len()];
        rng.fill(&mut buf[8..]);
        repr.emit(&mut buf);
        let packet = IcmpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(IcmpRepr::parse(&packet, true), Ok(repr));
        if let IcmpRepr::EchoRequest {
            ident,
            seq_no,
            data_len,
        } = repr
        {
            let mut reply = buf.clone();
            IcmpPacket::new_unchecked(&mut reply[..])
                .echo_request_to_reply()
                .unwrap();
            let parsed = IcmpRepr::parse(&IcmpPacket::new_checked(&reply[..]).unwrap(), true);
            assert_eq!(
                parsed,
                Ok(IcmpRepr::EchoReply {
                    ident,
                    seq_no,
                    data_len
                })
            );
        }
        let at = rng.below(buf.len() as u64) as usize;
        buf[at] ^= 1 + rng.below(255) as u8;
        let packet = IcmpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(IcmpRepr::parse(&packet, true), Err(Error::BadChecksum));
    }
}

#[test]
fn round_trip_tcp_and_checksum() {
    let mut rng = Rng::new(0x5eed_0007);
    for _ in 0..ROUND_TRIPS {
        let repr = tcp_repr(&mut rng);
        let payload_len = rng.below(100) as usize;
        let mut buf = vec![0u8; repr.buffer_len(payload_len)];
        rng.fill(&mut buf);
        repr.emit(&mut buf);
        let (src, dst) = (ip(&mut rng), ip(&mut rng));
        let mut packet = TcpPacket::new_checked(&mut buf[..]).unwrap();
        assert_eq!(packet.header_len(), repr.header_len());
        assert_eq!(packet.payload().len(), payload_len);
        packet.fill_checksum(src, dst);
        assert!(packet.verify_checksum(src, dst));
        assert_eq!(TcpRepr::parse(&packet), Ok(repr), "{repr}");
        let at = rng.below(buf.len() as u64) as usize;
        buf[at] ^= 1 + rng.below(255) as u8;
        if let Ok(packet) = TcpPacket::new_checked(&buf[..]) {
            assert!(
                !packet.verify_checksum(src, dst),
                "flipped byte {at} not detected"
            );
        }
    }
}

#[test]
fn tcp_sack_blocks_that_do_not_fit_are_dropped_last_first() {
    let mut rng = Rng::new(0x5eed_0008);
    for _ in 0..ROUND_TRIPS {
        let mut repr = tcp_repr(&mut rng);
        while repr
            .sack
            .push((SeqNum(rng.next_u32()), SeqNum(rng.next_u32())))
        {}
        let mut buf = [0u8; 60];
        assert!(repr.header_len() <= 60);
        repr.emit(&mut buf);
        let parsed = TcpRepr::parse(&TcpPacket::new_checked(&buf[..]).unwrap()).unwrap();
        let n = repr.sack_blocks_emitted();
        assert_eq!(parsed.sack.as_slice(), &repr.sack.as_slice()[..n]);
    }
}

// ---- IPv6 ----

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
