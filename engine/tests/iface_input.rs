//! Malformed input through a whole `Stack` (ARCHITECTURE decision 11): frames written by hand
//! into the raw end of a simulated link (no stack there) reach a stack on the other end.
//!
//! - Every class of bad Ethernet, ARP, IPv4, ICMP and TCP input is dropped without an answer and
//!   counted in exactly the counters `ip/input.rs` names for it (the test compares the whole
//!   counter set before and after each frame); frames for another MAC or IP address are dropped
//!   and counted; IP fragments are counted in `IpReasmReqds`/`IpReasmFails`.
//! - 10,000 random and mutated frames go through the stack without a panic or a leaked mbuf.
//! - After each of these, a valid ping is still answered, byte-correct.
//!
//! Frames are built here and in `ifin` (the rig and helpers shared with `iface_input_v6.rs`,
//! which does the same for IPv6) without the engine's `wire` module, so a bug there cannot hide
//! in both the frame and its check.

mod ifin;

use std::net::Ipv4Addr;

use engine::rand::Rng;
use ifin::{
    Case, IP, OTHER_IP, OTHER_MAC, PEER, PEER_IP, Rig, US, US_IP, case, check_cases, checksum, eth,
    fix_ip_checksum, icmp, ipv4, ping, random_frame, tcp_header, tcp_segment, with,
};

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

/// The IPv4 pseudo-header sum of a TCP segment from the peer to us, without the length.
fn pseudo4() -> u32 {
    let mut pseudo = 6u32;
    for w in [PEER_IP.octets(), US_IP.octets()] {
        pseudo += u32::from(u16::from_be_bytes([w[0], w[1]]));
        pseudo += u32::from(u16::from_be_bytes([w[2], w[3]]));
    }
    pseudo
}

/// A TCP segment to us with `header` as the TCP header and a valid checksum (see
/// `ifin::tcp_segment`).
fn tcp_with_header(header: Vec<u8>, data: &[u8]) -> Vec<u8> {
    ipv4(US, US_IP, 6, &tcp_segment(header, data, pseudo4()))
}

const ETH: &[&str] = &["EthInFrames"];
const IP_IN: &[&str] = &["EthInFrames", "IpInReceives"];
/// Past the version and header length checks, a datagram is counted by its ECN field, as
/// Linux's `ip_rcv_core` counts it (RFC 3168 §5); these frames are Not-ECT.
const IP_OK: &[&str] = &["EthInFrames", "IpInReceives", "IpExtInNoECTPkts"];
const ICMP_IN: &[&str] = &[
    "EthInFrames",
    "IpInReceives",
    "IpExtInNoECTPkts",
    "IpInDelivers",
    "IcmpInMsgs",
];
const TCP_IN: &[&str] = &[
    "EthInFrames",
    "IpInReceives",
    "IpExtInNoECTPkts",
    "IpInDelivers",
];

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
        with(IP_OK, &["IpInHdrErrors"]),
    ));
    let mut f = good_ping();
    let len = (f.len() - IP) as u16;
    f[IP + 2..IP + 4].copy_from_slice(&(len + 1).to_be_bytes());
    fix_ip_checksum(&mut f);
    v.push(case(
        "total length past the frame",
        f,
        with(IP_OK, &["IpExtInTruncatedPkts"]),
    ));
    let mut f = good_ping();
    f[IP + 2..IP + 4].copy_from_slice(&19u16.to_be_bytes());
    fix_ip_checksum(&mut f);
    v.push(case(
        "total length below the header",
        f,
        with(IP_OK, &["IpInHdrErrors"]),
    ));
    let mut f = good_ping();
    f[IP + 11] ^= 1;
    v.push(case(
        "IPv4 header checksum",
        f,
        with(IP_OK, &["IpInHdrErrors", "IpExtInCsumErrors"]),
    ));
    v.push(case(
        "for another IP",
        ipv4(US, OTHER_IP, 1, &icmp(8, 1, 1, 8)),
        with(IP_OK, &["IpInAddrErrors"]),
    ));
    let mut f = good_ping();
    f[IP + 6] = 0x20; // MF, offset 0
    fix_ip_checksum(&mut f);
    v.push(case(
        "first fragment",
        f,
        with(IP_OK, &["IpReasmReqds", "IpReasmFails"]),
    ));
    let mut f = good_ping();
    f[IP + 6..IP + 8].copy_from_slice(&0x0003u16.to_be_bytes()); // offset 24, last
    fix_ip_checksum(&mut f);
    v.push(case(
        "last fragment",
        f,
        with(IP_OK, &["IpReasmReqds", "IpReasmFails"]),
    ));
    v.push(case(
        "UDP (unknown protocol)",
        ipv4(US, US_IP, 17, &[0x30, 0x39, 0, 53, 0, 8, 0, 0]),
        with(IP_OK, &["IpInUnknownProtos"]),
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
    // The same, with each ECN codepoint (and a DSCP) in the TOS byte: counted by codepoint.
    let marked: [(u8, &'static [&'static str]); 3] = [
        (0xb9, &["IpExtInECT1Pkts"]),
        (0xba, &["IpExtInECT0Pkts"]),
        (0xbb, &["IpExtInCEPkts"]),
    ];
    for (tos, counter) in marked {
        let mut f = ipv4(US, US_IP, 1, &icmp(13, 1, 1, 12));
        f[IP + 1] = tos;
        fix_ip_checksum(&mut f);
        let base: &'static [&'static str] = &["EthInFrames", "IpInReceives", "IpInDelivers"];
        let counts = with(with(base, &["IcmpInMsgs"]), counter);
        v.push(case("ICMP timestamp request, ECN-marked", f, counts));
    }

    // TCP (dropped before the TCP layer sees them)
    let mut f = tcp_with_header(tcp_header(5, &[]), b"");
    let n = f.len();
    f[n - 6] ^= 0x40; // the window field, covered by the checksum
    v.push(case(
        "TCP checksum",
        f,
        with(TCP_IN, &["TcpInCsumErrors", "TcpInErrs", "TcpInSegs"]),
    ));
    v.push(case(
        "TCP header truncated to 16 bytes",
        tcp_with_header(tcp_header(5, &[])[..16].to_vec(), b""),
        with(TCP_IN, &["TcpExtInHdrErrors", "TcpInErrs", "TcpInSegs"]),
    ));
    v.push(case(
        "TCP data offset 4",
        tcp_with_header(tcp_header(4, &[]), b"hello"),
        with(TCP_IN, &["TcpExtInHdrErrors", "TcpInErrs", "TcpInSegs"]),
    ));
    v.push(case(
        "TCP data offset past the segment",
        tcp_with_header(tcp_header(15, &[1, 1, 1, 1]), b""),
        with(TCP_IN, &["TcpExtInHdrErrors", "TcpInErrs", "TcpInSegs"]),
    ));
    v.push(case(
        "TCP MSS option of length 3",
        tcp_with_header(tcp_header(6, &[2, 3, 5, 1]), b""),
        with(TCP_IN, &["TcpExtInHdrErrors", "TcpInErrs", "TcpInSegs"]),
    ));
    v.push(case(
        "TCP option running past the header",
        tcp_with_header(tcp_header(6, &[1, 1, 8, 10]), b""),
        with(TCP_IN, &["TcpExtInHdrErrors", "TcpInErrs", "TcpInSegs"]),
    ));
    v
}

#[test]
fn every_class_of_bad_input_is_dropped_and_counted() {
    let mut rig = Rig::new("ifb");
    rig.assert_answers_ping(0);
    check_cases(rig, &bad_frames(), |rig, i| rig.assert_answers_ping(i));
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
        let mut f = random_frame(rng);
        if f.len() >= 14 && rng.chance(0.5) {
            f[..6].copy_from_slice(&US);
            let types = [0x0800u16, 0x0806];
            f[12..14].copy_from_slice(&types[rng.below(2) as usize].to_be_bytes());
        }
        return f;
    }
    let mut f = templates[rng.below(templates.len() as u64) as usize].clone();
    ifin::mutate(rng, &mut f, 80);
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
    let mut rig = Rig::new("iff");
    let templates = templates();
    let mut rng = Rng::new(0xf0f0_2024);
    ifin::fuzz(&mut rig, 10_000, || fuzz_frame(&mut rng, &templates));
    rig.assert_answers_ping(1);
    ifin::finish(rig);
}
