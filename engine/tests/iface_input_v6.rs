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
//! Frames are built in `ifin::v6` (the IPv6 datagram builder, its headers and messages, and the
//! checks of the answers) and `ifin` without the engine's `wire` module, so a bug there cannot
//! hide in both the frame and its check; this file holds the cases and the tests.

mod ifin;

use std::cell::Cell;
use std::net::Ipv6Addr;

use engine::ip::Lookup;
use engine::rand::Rng;
use engine::wire::MacAddr;
use ifin::v6::{
    ALL_NODES, ALL_ROUTERS, DST_OPTS, Dgram, FRAG, HOP, ICMP6, L4, NO_NEXT, PING6, ROUTING,
    SN_OTHER, SN_US, TCP, UDP, assert_answers_ping6, assert_cache_untaught, check_echo6_reply,
    check_na, echo6_with, fragment, icmp6, mcast_mac, na, ns, ns_msg, opts, padn, ping6,
    refix_checksums6, routing, tcp6,
};
use ifin::{
    Case, IP, OTHER_MAC, OTHER6, PEER, PEER6, Rig, US, US6, by_one, case, check_cases, checksum,
    random_frame, tcp_header, with,
};

// ---- bad frames ----

const ETH: &[&str] = &["EthInFrames"];
/// Not IPv6 at all (too short, another version): dropped before the ECN field is counted.
const IP6_PRE: &[&str] = &["EthInFrames", "Ip6InReceives"];
/// Past the version check, a datagram is counted by its ECN field, as Linux's `ip6_rcv_core`
/// counts it (RFC 3168 §5); these frames are Not-ECT.
const IP6_IN: &[&str] = &["EthInFrames", "Ip6InReceives", "Ip6InNoECTPkts"];
const IP6_MC: &[&str] = &[
    "EthInFrames",
    "Ip6InReceives",
    "Ip6InNoECTPkts",
    "Ip6InMcastPkts",
];
const DELIVERED: &[&str] = &[
    "EthInFrames",
    "Ip6InReceives",
    "Ip6InNoECTPkts",
    "Ip6InDelivers",
];
const ICMP6_IN: &[&str] = &[
    "EthInFrames",
    "Ip6InReceives",
    "Ip6InNoECTPkts",
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
    let not_v6 = with(IP6_PRE, &["Ip6InHdrErrors"]);

    // The fixed header (RFC 8200 §3, RFC 4291)
    v.push(case(
        "IPv6 header truncated to 39 bytes",
        good().build()[..IP + 39].to_vec(),
        not_v6,
    ));
    let mut f = good().build();
    f[IP] = 0x40;
    v.push(case("version 4 under the IPv6 EtherType", f, not_v6));
    let mut f = good().build();
    f[IP] = 0x70;
    v.push(case("version 7", f, not_v6));
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
    "Ip6InNoECTPkts",
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
