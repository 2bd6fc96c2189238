//! Interface counters, named as Linux names them (`nstat`): `Ip*`, `IpExt*`, `Icmp*`, plus the
//! engine's own Ethernet and ARP counters (Linux keeps no MIB for those).

crate::mib! {
    /// One core's Ethernet, ARP, IPv4 and ICMP counters.
    pub struct IfaceCounters {
        eth_in_frames => "EthInFrames",
        /// Frames too short for an Ethernet header, or headers split across segments.
        eth_in_malformed => "EthInMalformed",
        /// Unicast frames for another MAC address.
        eth_in_other_host => "EthInOtherHost",
        /// Multicast frames (IPv6 neighbour discovery, mDNS, ...): the engine joins no group.
        eth_in_multicast => "EthInMulticast",
        eth_in_unknown_type => "EthInUnknownType",
        arp_in_requests => "ArpInRequests",
        arp_in_replies => "ArpInReplies",
        arp_in_errors => "ArpInErrors",
        arp_out_requests => "ArpOutRequests",
        arp_out_replies => "ArpOutReplies",
        /// Frames dropped while waiting for an address that never resolved, or queue full.
        arp_pending_drops => "ArpPendingDrops",
        ip_in_receives => "IpInReceives",
        ip_in_hdr_errors => "IpInHdrErrors",
        ip_in_addr_errors => "IpInAddrErrors",
        ip_in_unknown_protos => "IpInUnknownProtos",
        ip_in_delivers => "IpInDelivers",
        ip_out_requests => "IpOutRequests",
        ip_out_no_routes => "IpOutNoRoutes",
        ip_reasm_reqds => "IpReasmReqds",
        ip_reasm_fails => "IpReasmFails",
        ip_ext_in_truncated_pkts => "IpExtInTruncatedPkts",
        ip_ext_in_csum_errors => "IpExtInCsumErrors",
        icmp_in_msgs => "IcmpInMsgs",
        icmp_in_errors => "IcmpInErrors",
        icmp_in_csum_errors => "IcmpInCsumErrors",
        icmp_in_echos => "IcmpInEchos",
        icmp_in_echo_reps => "IcmpInEchoReps",
        icmp_out_msgs => "IcmpOutMsgs",
        icmp_out_echo_reps => "IcmpOutEchoReps",
        /// TCP segments with a bad checksum (also counted by the TCP layer as TcpInErrs).
        tcp_in_csum_errors => "TcpInCsumErrors",
        /// TCP headers that do not parse.
        tcp_in_hdr_errors => "TcpInHdrErrors",
        /// Frames that could not be built for lack of mbufs.
        out_nombuf => "OutNoBuf",
    }
}
