//! IP-layer counters, named as Linux names them (`nstat`): `Ip*`, `IpExt*`, `Icmp*`, `Ip6*`,
//! `Icmp6*`, plus the engine's own Ethernet, neighbour and frame-building counters (Linux keeps
//! no MIB for those).

use crate::tcp::Ecn;

crate::mib! {
    /// One core's Ethernet, ARP, IPv4, IPv6, ICMP and ICMPv6 counters, and how TCP's frames
    /// were built.
    pub struct IpCounters {
        eth_in_frames => "EthInFrames",
        /// Frames too short for an Ethernet header, or headers split across segments.
        eth_in_malformed => "EthInMalformed",
        /// Unicast frames for another MAC address.
        eth_in_other_host => "EthInOtherHost",
        /// Multicast frames for groups we did not join (mDNS, MLD, other solicited-node
        /// groups, ...): we join only IPv6's all-nodes group and our solicited-node groups.
        eth_in_multicast => "EthInMulticast",
        eth_in_unknown_type => "EthInUnknownType",
        arp_in_requests => "ArpInRequests",
        arp_in_replies => "ArpInReplies",
        arp_in_errors => "ArpInErrors",
        arp_out_requests => "ArpOutRequests",
        arp_out_replies => "ArpOutReplies",
        /// Frames dropped while waiting for an address (IPv4 or IPv6) that never resolved, or
        /// because its queue or the total of the queues was full (Linux's per-table
        /// `unresolved_discards`, `/proc/net/stat/arp_cache`).
        unresolved_discards => "UnresolvedDiscards",
        ip_in_receives => "IpInReceives",
        ip_in_hdr_errors => "IpInHdrErrors",
        ip_in_addr_errors => "IpInAddrErrors",
        ip_in_unknown_protos => "IpInUnknownProtos",
        ip_in_delivers => "IpInDelivers",
        ip_out_requests => "IpOutRequests",
        ip_out_no_routes => "IpOutNoRoutes",
        ip6_in_receives => "Ip6InReceives",
        ip6_in_hdr_errors => "Ip6InHdrErrors",
        ip6_in_addr_errors => "Ip6InAddrErrors",
        ip6_in_unknown_protos => "Ip6InUnknownProtos",
        ip6_in_truncated_pkts => "Ip6InTruncatedPkts",
        /// Datagrams with nothing to deliver (No Next Header).
        ip6_in_discards => "Ip6InDiscards",
        ip6_in_delivers => "Ip6InDelivers",
        ip6_in_mcast_pkts => "Ip6InMcastPkts",
        ip6_reasm_reqds => "Ip6ReasmReqds",
        ip6_reasm_fails => "Ip6ReasmFails",
        ip6_out_requests => "Ip6OutRequests",
        ip6_out_mcast_pkts => "Ip6OutMcastPkts",
        ip6_out_no_routes => "Ip6OutNoRoutes",
        ip_reasm_reqds => "IpReasmReqds",
        ip_reasm_fails => "IpReasmFails",
        ip_ext_in_truncated_pkts => "IpExtInTruncatedPkts",
        ip_ext_in_csum_errors => "IpExtInCsumErrors",
        /// IPv4 datagrams received, by the ECN field (RFC 3168 §5), counted as Linux's
        /// `ip_rcv_core` counts them: once version and header length are valid.
        ip_ext_in_no_ect_pkts => "IpExtInNoECTPkts",
        ip_ext_in_ect1_pkts => "IpExtInECT1Pkts",
        ip_ext_in_ect0_pkts => "IpExtInECT0Pkts",
        ip_ext_in_ce_pkts => "IpExtInCEPkts",
        /// IPv6 datagrams received, by the ECN field, counted as Linux's `ip6_rcv_core`
        /// counts them: once the version is valid.
        ip6_in_no_ect_pkts => "Ip6InNoECTPkts",
        ip6_in_ect1_pkts => "Ip6InECT1Pkts",
        ip6_in_ect0_pkts => "Ip6InECT0Pkts",
        ip6_in_ce_pkts => "Ip6InCEPkts",
        icmp_in_msgs => "IcmpInMsgs",
        icmp_in_errors => "IcmpInErrors",
        icmp_in_csum_errors => "IcmpInCsumErrors",
        icmp_in_echos => "IcmpInEchos",
        icmp_in_echo_reps => "IcmpInEchoReps",
        icmp_out_msgs => "IcmpOutMsgs",
        icmp_out_echo_reps => "IcmpOutEchoReps",
        icmp6_in_msgs => "Icmp6InMsgs",
        icmp6_in_errors => "Icmp6InErrors",
        icmp6_in_csum_errors => "Icmp6InCsumErrors",
        icmp6_in_dest_unreachs => "Icmp6InDestUnreachs",
        icmp6_in_pkt_too_bigs => "Icmp6InPktTooBigs",
        icmp6_in_time_excds => "Icmp6InTimeExcds",
        icmp6_in_parm_problems => "Icmp6InParmProblems",
        icmp6_in_echos => "Icmp6InEchos",
        icmp6_in_echo_replies => "Icmp6InEchoReplies",
        icmp6_in_router_solicits => "Icmp6InRouterSolicits",
        icmp6_in_router_advertisements => "Icmp6InRouterAdvertisements",
        icmp6_in_neighbor_solicits => "Icmp6InNeighborSolicits",
        icmp6_in_neighbor_advertisements => "Icmp6InNeighborAdvertisements",
        icmp6_in_redirects => "Icmp6InRedirects",
        icmp6_out_msgs => "Icmp6OutMsgs",
        icmp6_out_echos => "Icmp6OutEchos",
        icmp6_out_echo_replies => "Icmp6OutEchoReplies",
        icmp6_out_neighbor_solicits => "Icmp6OutNeighborSolicits",
        icmp6_out_neighbor_advertisements => "Icmp6OutNeighborAdvertisements",
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
        /// Frames whose TCP checksum the engine computed because the port's offload gets their
        /// chain wrong (`DeviceCaps::tx_cksum_odd_chain_bug`).
        tx_csum_odd_chain => "TcpExtTxCsumOddChain",
        /// TSO units sent as ordinary frames for the same reason.
        tso_odd_chain_split => "TcpExtTsoOddChainSplit",
        /// TCP frames that could not be built for lack of mbufs.
        tx_nombuf => "TcpExtTxNoBuf",
        /// Offload requests `buf` refused (a bug: the frame leaves without its checksums).
        tx_offload_refused => "TcpExtTxOffloadRefused",
    }
}

impl IpCounters {
    /// A datagram of the family (`v6`) received with codepoint `ecn`.
    #[inline]
    pub fn in_ecn(&mut self, v6: bool, ecn: Ecn) {
        let c = match (v6, ecn) {
            (false, Ecn::NotEct) => &mut self.ip_ext_in_no_ect_pkts,
            (false, Ecn::Ect1) => &mut self.ip_ext_in_ect1_pkts,
            (false, Ecn::Ect0) => &mut self.ip_ext_in_ect0_pkts,
            (false, Ecn::Ce) => &mut self.ip_ext_in_ce_pkts,
            (true, Ecn::NotEct) => &mut self.ip6_in_no_ect_pkts,
            (true, Ecn::Ect1) => &mut self.ip6_in_ect1_pkts,
            (true, Ecn::Ect0) => &mut self.ip6_in_ect0_pkts,
            (true, Ecn::Ce) => &mut self.ip6_in_ce_pkts,
        };
        *c += 1;
    }

    /// `segs` datagrams handed down for sending, in their family's `OutRequests`.
    #[inline]
    pub fn out_requests(&mut self, v6: bool, segs: u64) {
        match v6 {
            true => self.ip6_out_requests += segs,
            false => self.ip_out_requests += segs,
        }
    }
}
