//! IPv6 input (RFC 8200): the fixed header's checks, the extension headers walked (§4), and
//! delivery to TCP or ICMPv6, in the order of Linux's `ip6_rcv_core` and
//! `ip6_input_finish`, with its counter names.
//!
//! - Shorter than 40 bytes, not version 6, or addresses no link may carry (multicast source,
//!   loopback, IPv4-mapped; RFC 4291) → `Ip6InHdrErrors`; a payload length beyond the frame →
//!   `Ip6InTruncatedPkts`.
//! - Multicast is counted in `Ip6InMcastPkts`; a group we did not join (we join the all-nodes
//!   group ff02::1 and the solicited-node groups of our addresses, RFC 4861 §7.2.1) is then
//!   dropped silently, as Linux's `ip6_mc_input` does. A unicast address not ours →
//!   `Ip6InAddrErrors`.
//! - Extension headers: Hop-by-Hop, Routing (Segments Left 0), Destination Options and atomic
//!   Fragment headers are passed over; a malformed chain or an option that demands discard →
//!   `Ip6InHdrErrors`; a fragment → `Ip6ReasmReqds` and `Ip6ReasmFails` (no reassembly);
//!   No Next Header is delivered to nothing (`Ip6InDelivers`, as Linux's discard handler);
//!   another upper layer → `Ip6InUnknownProtos`; TCP to a multicast group is delivered and
//!   dropped (Linux's `tcp_v6_rcv` drops it uncounted). No ICMPv6 error is sent back (as for
//!   IPv4, the engine sends no ICMP errors).
//!
//! The fixed header and the extension headers must lie in the first segment of the frame (every
//! PMD here delivers them so); lengths are checked against the whole frame.

use std::net::{IpAddr, Ipv6Addr};

use super::IpLayer;
use super::{ETH, IP6};
use crate::buf::{Pkt, Pools};
use crate::dev::TxBatch;
use crate::tcp::{Ecn, Segment};
use crate::time::Instant;
use crate::wire::ipv6_addr::{ALL_NODES, multicast_mac, solicited_node};
use crate::wire::{IpProtocol, Ipv6Packet, Ipv6Repr, MacAddr, walk_ext_headers};

impl IpLayer {
    /// One IPv6 datagram. Returns the TCP segment it carried, if any.
    pub(super) fn ipv6_input(
        &mut self,
        now: Instant,
        mut frame: Pkt,
        pools: &Pools,
        tx: &mut TxBatch,
    ) -> Option<Segment> {
        self.counters.ip6_in_receives += 1;
        let total = frame.len() - ETH;
        let data = &frame.data()[ETH..];
        if data.len() < IP6 || data[0] >> 4 != 6 {
            self.counters.ip6_in_hdr_errors += 1;
            return None;
        }
        // Every field read below lies within the checked 40 bytes. (`Ipv6Repr::parse` would
        // check the payload length against the first segment; the datagram may continue in
        // later ones, so it is checked against the whole frame below.)
        let p = Ipv6Packet::new_unchecked(&data[..IP6]);
        let ip = Ipv6Repr {
            src: p.src(),
            dst: p.dst(),
            next_header: p.next_header(),
            payload_len: p.payload_len(),
            hop_limit: p.hop_limit(),
            traffic_class: p.traffic_class(),
            flow_label: p.flow_label(),
        };
        // RFC 3168 §5: the ECN field, counted where Linux counts it (before the rest).
        let ecn = Ecn::from_bits(ip.traffic_class);
        self.counters.in_ecn(true, ecn);
        if ip.check_addrs().is_err() {
            self.counters.ip6_in_hdr_errors += 1;
            return None;
        }
        let plen = usize::from(ip.payload_len);
        if IP6 + plen > total {
            self.counters.ip6_in_truncated_pkts += 1;
            return None;
        }
        if ip.dst.is_multicast() {
            self.counters.ip6_in_mcast_pkts += 1;
            if !self.joined(&ip.dst) {
                return None;
            }
        } else if !self.is_local(IpAddr::V6(ip.dst)) {
            self.counters.ip6_in_addr_errors += 1;
            return None;
        }
        // Drop Ethernet padding beyond the datagram.
        frame.trim_back(total - IP6 - plen);
        let first = &frame.data()[ETH + IP6..];
        let walked = &first[..plen.min(first.len())];
        let ext = match walk_ext_headers(ip.next_header, walked) {
            Ok(e) => e,
            Err(_) => {
                self.counters.ip6_in_hdr_errors += 1;
                return None;
            }
        };
        if ext.is_fragment() {
            self.counters.ip6_reasm_reqds += 1;
            self.counters.ip6_reasm_fails += 1;
            return None;
        }
        let off = ETH + IP6 + ext.offset;
        match ext.protocol {
            IpProtocol::Tcp => {
                self.counters.ip6_in_delivers += 1;
                // TCP is unicast (RFC 9293 §3.9.1): a segment to a group is dropped.
                let unicast = !ip.dst.is_multicast();
                let (src, dst) = (IpAddr::V6(ip.src), IpAddr::V6(ip.dst));
                unicast.then(|| self.tcp_input(frame, src, dst, ecn, off))?
            }
            IpProtocol::Icmpv6 => {
                self.counters.ip6_in_delivers += 1;
                self.icmpv6_input(now, frame, off, &ip, pools, tx);
                None
            }
            IpProtocol::Ipv6NoNxt => {
                self.counters.ip6_in_delivers += 1;
                None
            }
            _ => {
                self.counters.ip6_in_unknown_protos += 1;
                None
            }
        }
    }

    /// Whether we joined the multicast group `dst`: all-nodes, or one of our solicited-node
    /// groups.
    fn joined(&self, dst: &Ipv6Addr) -> bool {
        *dst == ALL_NODES || self.ipv6_addrs().any(|a| solicited_node(&a) == *dst)
    }

    /// Whether we listen to the Ethernet multicast group `mac` (RFC 2464 §7): IPv6's all-nodes
    /// group and the solicited-node groups of our addresses; none without an IPv6 address.
    pub(super) fn wants_multicast(&self, mac: MacAddr) -> bool {
        if mac.0[..2] != [0x33, 0x33] || self.ipv6_addrs().next().is_none() {
            return false;
        }
        mac == multicast_mac(&ALL_NODES)
            || self
                .ipv6_addrs()
                .any(|a| multicast_mac(&solicited_node(&a)) == mac)
    }
}
