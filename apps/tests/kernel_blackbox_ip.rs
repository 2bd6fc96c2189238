//! Black-box scripts below TCP, run against `serve echo` and against the Linux kernel and
//! compared (the devices, the peer and what is compared: `common/blackbox.rs`); IPv6 and IPv4
//! each, unless named otherwise:
//! - neighbour resolution: a Neighbor Solicitation to the solicited-node group with a source
//!   link-layer option, one to the unicast address, one from `::` (duplicate address
//!   detection); an ARP request and an ARP probe (sender 0.0.0.0); and a SYN before any of
//!   that: the device solicits the peer, the test answers, the SYN-ACK follows;
//! - ping (ICMPv6 / ICMP echo), and to all-nodes (answered) / the broadcast address (not);
//! - a SYN behind a Hop-by-Hop or Destination Options header (PadN) or an atomic fragment
//!   header is answered (IPv6); a fragment with a non-zero offset and a SYN with a bad
//!   checksum get nothing (both families).

#[path = "common/blackbox.rs"]
mod blackbox;
#[path = "common/blackbox_conn.rs"]
mod blackbox_conn;
mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use blackbox::{
    ANSWER, Addressing, DUT_V4, DUT_V6, Dut, ECHO_PORT, Fam, PEER_MAC, PEER_V4, PEER_V6,
    arp_request_from, is_na_for, ns_from_peer, on_both,
};
use blackbox_conn::{Conn, SynAck, full_syn_options};
use common::packets::{
    self as pk, ARP_REPLY, ARP_REQUEST, BROADCAST, ICMP6_NEIGHBOR_SOLICIT, Mac, NA_OVERRIDE,
    NA_SOLICITED, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, Parsed, SYN,
};

/// The MAC of another host that probes for the device's address (duplicate address detection).
const PROBER_MAC: Mac = [0x02, 0x70, 0x65, 0x65, 0x72, 0x02];

// ---------------------------------------------------------------------------------------------
// Neighbour resolution

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
