//! Random values for the property tests: scalars (addresses, bytes, options) and random reprs
//! of every header `engine::wire` parses, IPv4-era and IPv6, every ICMP and ICMPv6 message and
//! every Neighbor Discovery one included, built to survive `parse(emit(repr))`.

use std::net::{Ipv4Addr, Ipv6Addr};

use engine::rand::Rng;
use engine::wire::{
    ArpOperation, ArpRepr, EtherType, EthernetRepr, IcmpRepr, Icmpv6Repr, IpProtocol, Ipv4Repr,
    Ipv6Repr, MacAddr, NdpRepr, NeighborFlags, SackBlocks, SeqNum, TcpFlags, TcpRepr,
};

pub fn mac(rng: &mut Rng) -> MacAddr {
    let mut m = [0u8; 6];
    rng.fill(&mut m);
    MacAddr(m)
}

pub fn ip(rng: &mut Rng) -> Ipv4Addr {
    Ipv4Addr::from(rng.next_u32())
}

pub fn u16r(rng: &mut Rng) -> u16 {
    rng.next_u32() as u16
}

pub fn u8r(rng: &mut Rng) -> u8 {
    rng.next_u32() as u8
}

pub fn maybe<T>(rng: &mut Rng, f: impl FnOnce(&mut Rng) -> T) -> Option<T> {
    if rng.chance(0.5) { Some(f(rng)) } else { None }
}

pub fn ethernet_repr(rng: &mut Rng) -> EthernetRepr {
    EthernetRepr {
        src: mac(rng),
        dst: mac(rng),
        ethertype: EtherType::from(u16r(rng)),
    }
}

pub fn arp_repr(rng: &mut Rng) -> ArpRepr {
    ArpRepr {
        operation: ArpOperation::from(u16r(rng)),
        source_mac: mac(rng),
        source_ip: ip(rng),
        target_mac: mac(rng),
        target_ip: ip(rng),
    }
}

pub fn ipv4_repr(rng: &mut Rng, protocol: IpProtocol, payload_len: u16) -> Ipv4Repr {
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

pub fn icmp_repr(rng: &mut Rng, data_len: usize) -> IcmpRepr {
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
pub fn tcp_repr(rng: &mut Rng) -> TcpRepr {
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

pub fn ip6(rng: &mut Rng) -> Ipv6Addr {
    Ipv6Addr::from((u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64()))
}

pub fn v6_ip(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8) -> Ipv6Repr {
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

pub fn ipv6_repr(rng: &mut Rng, next_header: IpProtocol, payload_len: u16) -> Ipv6Repr {
    Ipv6Repr {
        next_header,
        payload_len,
        traffic_class: u8r(rng),
        flow_label: rng.next_u32() & 0xf_ffff,
        ..v6_ip(ip6(rng), ip6(rng), u8r(rng))
    }
}

/// A random message of any ICMPv6 variant, every Neighbor Discovery one included.
pub fn icmpv6_repr(rng: &mut Rng, data_len: usize) -> Icmpv6Repr {
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

pub fn ndp_repr(rng: &mut Rng) -> NdpRepr {
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
