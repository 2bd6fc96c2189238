//! Poking every accessor of every view and repr parser of `engine::wire` on whatever bytes
//! they are given (random, mutated or valid), and checking what must hold of the results: an
//! option iterator stops after its first error, an extension-header walk stays inside its
//! payload, whatever parsed is emitted again and parses back the same.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use engine::wire::{
    ArpPacket, ArpRepr, EtherType, EthernetFrame, EthernetRepr, IcmpPacket, IcmpRepr, Icmpv6Packet,
    Icmpv6Repr, IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6ExtHeaders, Ipv6Packet, Ipv6Repr,
    MAX_EXT_HEADERS, NdpOptions, NdpRepr, TcpOptions, TcpPacket, TcpRepr, walk_ext_headers,
};

use super::reprs::v6_ip;

pub fn poke_ethernet(b: &[u8]) {
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

pub fn poke_arp(b: &[u8]) {
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

pub fn poke_ipv4(b: &[u8]) {
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

pub fn poke_icmp(b: &[u8]) {
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

pub fn poke_tcp(b: &[u8], src: Ipv4Addr, dst: Ipv4Addr) {
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

pub fn poke_options(b: &[u8]) {
    let mut errors = 0;
    for option in TcpOptions::new(b) {
        errors += usize::from(black_box(option).is_err());
    }
    assert!(errors <= 1, "the option iterator stops after an error");
}

pub fn poke_ipv6(b: &[u8]) {
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
pub fn poke_walk(first: IpProtocol, payload: &[u8]) -> Option<Ipv6ExtHeaders> {
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

pub fn poke_icmpv6(b: &[u8], ip: &Ipv6Repr) {
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

pub fn poke_ndp_options(b: &[u8]) {
    let errors = NdpOptions::new(b).filter(|o| o.is_err()).count();
    assert!(errors <= 1, "the option iterator stops after an error");
}

pub fn poke_everything(b: &[u8]) {
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
