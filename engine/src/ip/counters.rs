//! IP-layer counters, named as Linux names them (`nstat`): `Ip*`, `IpExt*`, `Icmp*`, `Ip6*`,
//! `Icmp6*`, plus the engine's own Ethernet, neighbour and frame-building counters (Linux keeps
//! no MIB for those).

crate::mib! {
    /// One core's Ethernet, ARP, IPv4, IPv6, ICMP and ICMPv6 counters, and how TCP's frames
    /// were built.
    pub struct IpCounters {
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
        /// Frames dropped while waiting for an address (IPv4 or IPv6) that never resolved, or
        /// because the queue was full.
        arp_pending_drops => "ArpPendingDrops",
        ip_in_receives => "IpInReceives",
        ip_in_hdr_errors => "IpInHdrErrors",
        ip_in_addr_errors => "IpInAddrErrors",
        ip_in_unknown_protos => "IpInUnknownProtos",
        ip_in_delivers => "IpInDelivers",
        ip_out_requests => "IpOutRequests",
        ip_out_no_routes => "IpOutNoRoutes",
        ip6_out_requests => "Ip6OutRequests",
        ip6_out_no_routes => "Ip6OutNoRoutes",
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
        /// TCP segments with a bad checksum (the stack's report adds them to `TcpInErrs`, as
        /// Linux's `tcp_v4_rcv` counts both).
        tcp_in_csum_errors => "TcpInCsumErrors",
        /// TCP headers that do not parse (the engine's own name; Linux counts them only in
        /// `TcpInErrs`, to which the stack's report adds them).
        tcp_in_hdr_errors => "TcpExtInHdrErrors",
        /// Frames that could not be built for lack of mbufs.
        out_nombuf => "OutNoBuf",
        /// TSO super-segments handed to the port.
        tso_frames => "TcpExtTsoFrames",
        /// Wire segments those super-segments become.
        tso_wire_segs => "TcpExtTsoWireSegs",
        /// Frames built with headers in the payload's headroom (one extra reference).
        tx_in_headroom => "TcpExtTxInHeadroom",
        /// Frames built as a header mbuf chained to an indirect clone of the payload.
        tx_hdr_mbuf => "TcpExtTxHeaderMbuf",
        /// Frames whose small payload was copied into the header mbuf (copy-break).
        tx_copybreak => "TcpExtTxCopyBreak",
        /// TCP frames that could not be built for lack of mbufs.
        tx_nombuf => "TcpExtTxNoBuf",
    }
}
