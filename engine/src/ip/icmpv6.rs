//! ICMPv6 (RFC 4443): echo, and Neighbor Discovery (RFC 4861) for address resolution.
//!
//! What is implemented, on the receive side (every message's checksum is verified over the
//! pseudo-header, RFC 4443 §2.3, failures counted in `Icmp6InErrors`; each message is counted
//! by type, as Linux counts it, before Neighbor Discovery messages are validated as RFC 4861
//! §7.1 asks: hop limit 255, code 0, lengths, options, unicast link-layer addresses; a message
//! that fails is dropped silently, as Linux's `ndisc_rcv` drops it):
//! - an echo request to one of our addresses, or to a group we joined, is answered in place
//!   (RFC 4443 §4.2; a reply to a multicast request comes from our unicast address; behind
//!   extension headers, with a fresh frame; never to the unspecified address);
//! - a Neighbor Solicitation for one of our addresses is answered with a solicited Neighbor
//!   Advertisement carrying our MAC (§7.2.4); its source link-layer option creates or updates
//!   the sender's entry (§7.2.3); a solicitation from the unspecified address (another node's
//!   duplicate address detection) is answered to all-nodes, unsolicited (§7.2.4);
//! - a Neighbor Advertisement updates the entry of its target if we have one (a different
//!   address only with the Override flag), or completes a resolution we started (§7.2.5);
//!   frames that waited for it are sent;
//! - router solicitations and advertisements, redirects and ICMPv6 errors are counted and
//!   otherwise ignored.
//!
//! On the send side: Neighbor Solicitations to the target's solicited-node group (or unicast to
//! refresh a stale entry, §7.3.3), retried by the neighbour cache; an unsolicited Neighbor
//! Advertisement for each of our addresses at start (§7.2.6); echo requests.
//!
//! Left out (ARCHITECTURE: a host on one link): duplicate address detection of our own
//! addresses (RFC 4862 §5.4), router discovery and prefix autoconfiguration, redirects, the
//! full reachability state machine (entries are reachable or stale by age, as the ARP cache's),
//! MLD (our groups are link-local and the engine's port receives every frame), and ICMPv6
//! errors, which are neither sent nor passed to TCP yet.

use std::net::{IpAddr, Ipv6Addr};

use super::icmp::{fill_pattern, swap_macs, writable_copy};
use super::input::chain_sum;
use super::template::HOP_LIMIT;
use super::{ETH, IP6};
use super::{IpLayer, Ping};
use crate::buf::{Pkt, Pools};
use crate::dev::TxBatch;
use crate::time::Instant;
use crate::wire::ipv6_addr::{ALL_NODES, multicast_mac, solicited_node};
use crate::wire::{
    Checksum, EtherType, EthernetFrame, EthernetRepr, Icmpv6Packet, Icmpv6Repr, Icmpv6Type,
    IpProtocol, Ipv6Packet, Ipv6Repr, MacAddr, NdpRepr, NeighborFlags, checksum,
};

/// Neighbor Discovery messages travel with hop limit 255, so a receiver knows they come from
/// the link (RFC 4861 §3.1).
const ND_HOP_LIMIT: u8 = 255;

/// The link-layer addresses a Neighbor Discovery message carries are unicast (a multicast one
/// would send our unicast traffic to a group; ARP refuses it the same way).
fn unicast_lladdrs(ndp: &NdpRepr) -> bool {
    let lladdr = match *ndp {
        NdpRepr::NeighborSolicit { source_lladdr, .. } => source_lladdr,
        NdpRepr::NeighborAdvert { target_lladdr, .. } => target_lladdr,
        _ => None,
    };
    lladdr.is_none_or(|m| !m.is_multicast())
}

impl IpLayer {
    /// One ICMPv6 message at offset `off` of `frame`, in the datagram `ip`.
    pub(super) fn icmpv6_input(
        &mut self,
        now: Instant,
        frame: Pkt,
        off: usize,
        ip: &Ipv6Repr,
        pools: &Pools,
        tx: &mut TxBatch,
    ) {
        self.counters.icmp6_in_msgs += 1;
        let len = frame.len() - off;
        let pseudo = checksum::pseudo_header_v6(&ip.src, &ip.dst, 58, len as u32);
        if checksum::fold(chain_sum(&frame, off, len, Checksum::with_sum(pseudo)).sum()) != 0xffff {
            self.counters.icmp6_in_errors += 1;
            self.counters.icmp6_in_csum_errors += 1;
            return;
        }
        // The message's header (and a Neighbor Discovery message whole) in the first segment.
        let first = frame.data().get(off..).unwrap_or_default();
        let Ok(packet) = Icmpv6Packet::new_checked(first) else {
            self.counters.icmp6_in_errors += 1;
            return;
        };
        // Counted by type before anything else is checked, as Linux's `icmpv6_rcv` does: a
        // Neighbor Discovery message that then fails validation is dropped silently.
        self.count_icmpv6_type(packet.msg_type());
        let Ok(repr) = Icmpv6Repr::parse(&packet, &ip.src, &ip.dst, false) else {
            if !NdpRepr::is_ndp(packet.msg_type()) {
                self.counters.icmp6_in_errors += 1;
            }
            return;
        };
        match repr {
            Icmpv6Repr::EchoRequest { .. } => self.echo_reply_v6(frame, off, ip, pools, tx),
            Icmpv6Repr::EchoReply { ident, seq_no, .. } => {
                self.log_echo_reply(IpAddr::V6(ip.src), ident, seq_no, now);
            }
            Icmpv6Repr::Ndp(ndp) if ndp.validate(ip).is_ok() && unicast_lladdrs(&ndp) => {
                let eth_src = EthernetFrame::new_unchecked(frame.data()).src();
                self.ndp_input(now, ndp, ip, eth_src, pools, tx);
            }
            _ => {}
        }
    }

    /// The per-type input counter of an ICMPv6 message.
    fn count_icmpv6_type(&mut self, t: Icmpv6Type) {
        let c = &mut self.counters;
        match t {
            Icmpv6Type::EchoRequest => c.icmp6_in_echos += 1,
            Icmpv6Type::EchoReply => c.icmp6_in_echo_replies += 1,
            Icmpv6Type::DstUnreachable => c.icmp6_in_dest_unreachs += 1,
            Icmpv6Type::PacketTooBig => c.icmp6_in_pkt_too_bigs += 1,
            Icmpv6Type::TimeExceeded => c.icmp6_in_time_excds += 1,
            Icmpv6Type::ParamProblem => c.icmp6_in_parm_problems += 1,
            Icmpv6Type::RouterSolicit => c.icmp6_in_router_solicits += 1,
            Icmpv6Type::RouterAdvert => c.icmp6_in_router_advertisements += 1,
            Icmpv6Type::NeighborSolicit => c.icmp6_in_neighbor_solicits += 1,
            Icmpv6Type::NeighborAdvert => c.icmp6_in_neighbor_advertisements += 1,
            Icmpv6Type::Redirect => c.icmp6_in_redirects += 1,
            _ => {}
        }
    }

    /// A valid Neighbor Discovery message.
    fn ndp_input(
        &mut self,
        now: Instant,
        ndp: NdpRepr,
        ip: &Ipv6Repr,
        eth_src: MacAddr,
        pools: &Pools,
        tx: &mut TxBatch,
    ) {
        match ndp {
            NdpRepr::NeighborSolicit {
                target,
                source_lladdr,
            } => self.solicitation(now, target, source_lladdr, ip, eth_src, pools, tx),
            NdpRepr::NeighborAdvert {
                flags,
                target,
                target_lladdr,
            } => self.advertisement(now, flags, target, target_lladdr, tx),
            // A host on one link: router discovery and redirects are left out.
            NdpRepr::RouterSolicit { .. }
            | NdpRepr::RouterAdvert { .. }
            | NdpRepr::Redirect { .. } => {}
        }
    }

    /// RFC 4861 §7.2.3-§7.2.4: a solicitation for one of our addresses is answered.
    #[allow(clippy::too_many_arguments)]
    fn solicitation(
        &mut self,
        now: Instant,
        target: Ipv6Addr,
        source_lladdr: Option<MacAddr>,
        ip: &Ipv6Repr,
        eth_src: MacAddr,
        pools: &Pools,
        tx: &mut TxBatch,
    ) {
        if !self.is_local(IpAddr::V6(target)) {
            return;
        }
        if ip.src.is_unspecified() {
            // Another node's duplicate address detection: tell all nodes the address is taken.
            let dst = ALL_NODES;
            let flags = NeighborFlags::OVERRIDE;
            return self.send_na(target, dst, multicast_mac(&dst), flags, pools, tx);
        }
        if let Some(mac) = source_lladdr {
            self.neighbor_update(now, IpAddr::V6(ip.src), mac, true);
            self.release_pending(IpAddr::V6(ip.src), mac, tx);
        }
        // Without the option the solicitation was unicast, so its Ethernet source is the way
        // back (RFC 4861 §7.2.4).
        let mac = source_lladdr.unwrap_or(eth_src);
        let flags = NeighborFlags::SOLICITED | NeighborFlags::OVERRIDE;
        self.send_na(target, ip.src, mac, flags, pools, tx);
    }

    /// RFC 4861 §7.2.5: an advertisement updates an entry we have, or completes a resolution
    /// we asked for; without a target link-layer option it teaches nothing.
    fn advertisement(
        &mut self,
        now: Instant,
        flags: NeighborFlags,
        target: Ipv6Addr,
        target_lladdr: Option<MacAddr>,
        tx: &mut TxBatch,
    ) {
        let Some(mac) = target_lladdr else {
            return;
        };
        if self.is_local(IpAddr::V6(target)) {
            // Someone else claims one of our addresses; without DAD we keep ours.
            return;
        }
        let asked = self.nd.awaiting(target);
        let cached = self.nd.mac_of(target);
        if cached.is_none() && !(asked && flags.contains(NeighborFlags::SOLICITED)) {
            return;
        }
        // §7.2.5: without the Override flag, an advertisement does not replace an address we
        // have (only one that completes a resolution may set it).
        if cached.is_some_and(|m| m != mac) && !flags.contains(NeighborFlags::OVERRIDE) {
            return;
        }
        self.neighbor_update(now, IpAddr::V6(target), mac, true);
        self.release_pending(IpAddr::V6(target), mac, tx);
    }

    /// Asks for `target`'s link-layer address: to its solicited-node group, or unicast to
    /// `known` when refreshing a stale entry (RFC 4861 §7.2.2, §7.3.3), from our address on
    /// its prefix, with our MAC in a source link-layer option.
    pub(super) fn send_neighbor_solicitation(
        &mut self,
        target: Ipv6Addr,
        known: Option<MacAddr>,
        pools: &Pools,
        tx: &mut TxBatch,
    ) {
        let Some(IpAddr::V6(src)) = self.source_for(IpAddr::V6(target)) else {
            return;
        };
        let (dst, dst_mac) = match known {
            Some(mac) => (target, mac),
            None => {
                let group = solicited_node(&target);
                (group, multicast_mac(&group))
            }
        };
        let ns = Icmpv6Repr::Ndp(NdpRepr::NeighborSolicit {
            target,
            source_lladdr: Some(self.mac),
        });
        let frame = self.icmpv6_frame(src, dst, dst_mac, ND_HOP_LIMIT, &ns, pools);
        if self.emit_or_count(frame, tx) {
            self.counters.icmp6_out_neighbor_solicits += 1;
        }
    }

    /// Announces `ours` to all nodes (RFC 4861 §7.2.6): unsolicited, override.
    pub(super) fn send_unsolicited_na(&mut self, ours: Ipv6Addr, pools: &Pools, tx: &mut TxBatch) {
        let flags = NeighborFlags::OVERRIDE;
        self.send_na(ours, ALL_NODES, multicast_mac(&ALL_NODES), flags, pools, tx);
    }

    /// A Neighbor Advertisement for our address `target`, from it, with our MAC.
    fn send_na(
        &mut self,
        target: Ipv6Addr,
        dst: Ipv6Addr,
        dst_mac: MacAddr,
        flags: NeighborFlags,
        pools: &Pools,
        tx: &mut TxBatch,
    ) {
        let na = Icmpv6Repr::Ndp(NdpRepr::NeighborAdvert {
            flags,
            target,
            target_lladdr: Some(self.mac),
        });
        let frame = self.icmpv6_frame(target, dst, dst_mac, ND_HOP_LIMIT, &na, pools);
        if self.emit_or_count(frame, tx) {
            self.counters.icmp6_out_neighbor_advertisements += 1;
        }
    }

    /// An Ethernet frame carrying the ICMPv6 message `msg` (whole: no data beyond what `msg`
    /// writes) from `src` to `dst`, counted as sent.
    fn icmpv6_frame(
        &mut self,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        dst_mac: MacAddr,
        hop_limit: u8,
        msg: &Icmpv6Repr,
        pools: &Pools,
    ) -> Option<Pkt> {
        let len = msg.buffer_len();
        let mut p = Pkt::alloc(&pools.hdr)?;
        let buf = p.append(ETH + IP6 + len)?;
        self.write_icmpv6_headers(buf, src, dst, dst_mac, hop_limit, len);
        msg.emit(&src, &dst, &mut buf[ETH + IP6..]);
        self.count_icmpv6_out(&dst);
        Some(p)
    }

    /// Ethernet and IPv6 headers of an ICMPv6 message of `len` bytes.
    fn write_icmpv6_headers(
        &self,
        buf: &mut [u8],
        src: Ipv6Addr,
        dst: Ipv6Addr,
        dst_mac: MacAddr,
        hop_limit: u8,
        len: usize,
    ) {
        EthernetRepr {
            src: self.mac,
            dst: dst_mac,
            ethertype: EtherType::Ipv6,
        }
        .emit(buf);
        Ipv6Repr {
            src,
            dst,
            next_header: IpProtocol::Icmpv6,
            payload_len: len as u16,
            hop_limit,
            traffic_class: 0,
            flow_label: 0,
        }
        .emit(&mut buf[ETH..]);
    }

    fn count_icmpv6_out(&mut self, dst: &Ipv6Addr) {
        let c = &mut self.counters;
        c.icmp6_out_msgs += 1;
        c.ip6_out_requests += 1;
        if dst.is_multicast() {
            c.ip6_out_mcast_pkts += 1;
        }
    }

    /// Answers the echo request at `off` of `frame` in place (RFC 4443 §4.2).
    fn echo_reply_v6(
        &mut self,
        frame: Pkt,
        off: usize,
        ip: &Ipv6Repr,
        pools: &Pools,
        tx: &mut TxBatch,
    ) {
        // There is no one to answer at the unspecified address (RFC 4291 §2.5.2), nor behind a
        // multicast Ethernet source.
        let eth_src = EthernetFrame::new_unchecked(frame.data()).src();
        if ip.src.is_unspecified() || eth_src.is_multicast() {
            return;
        }
        // The reply is the request rewritten in place; with extension headers, a fresh frame
        // (they are the request's, not the reply's).
        if off != ETH + IP6 {
            return self.echo_reply_v6_fresh(frame, off, ip, pools, tx);
        }
        // A request to a group is answered from our address for the sender.
        let from = match ip.dst.is_multicast() {
            true => match self.source_for(IpAddr::V6(ip.src)) {
                Some(IpAddr::V6(a)) => a,
                _ => return,
            },
            false => ip.dst,
        };
        let Some(mut reply) = writable_copy(frame, pools) else {
            self.counters.out_nombuf += 1;
            return;
        };
        let Some(d) = reply.data_mut().filter(|d| d.len() >= off + 8) else {
            self.counters.out_nombuf += 1;
            return;
        };
        swap_macs(d, self.mac);
        {
            let mut h = Ipv6Packet::new_unchecked(&mut d[ETH..]);
            h.set_src(&from);
            h.set_dst(&ip.src);
            h.set_hop_limit(HOP_LIMIT);
            h.set_traffic_class(0);
            h.set_flow_label(0);
        }
        let mut icmp = Icmpv6Packet::new_unchecked(&mut d[off..]);
        // Only the type changes when the addresses merely swap (the pseudo-header sum does not
        // depend on their order): update incrementally (RFC 1624), since the data may continue
        // in further segments. A new source needs the sum over the whole message.
        let _ = icmp.echo_request_to_reply();
        if from != ip.dst {
            icmp.set_checksum(0);
            let len = reply.len() - off;
            let pseudo = checksum::pseudo_header_v6(&from, &ip.src, 58, len as u32);
            let sum = chain_sum(&reply, off, len, Checksum::with_sum(pseudo)).finish();
            if let Some(d) = reply.data_mut() {
                Icmpv6Packet::new_unchecked(&mut d[off..]).set_checksum(sum);
            }
        }
        self.count_icmpv6_out(&ip.src);
        self.counters.icmp6_out_echo_replies += 1;
        tx.push(reply);
    }

    /// Answers the echo request at `off` of `frame` (behind extension headers) with a new frame:
    /// our headers, the request's identifier, sequence number and data.
    fn echo_reply_v6_fresh(
        &mut self,
        frame: Pkt,
        off: usize,
        ip: &Ipv6Repr,
        pools: &Pools,
        tx: &mut TxBatch,
    ) {
        let Some(IpAddr::V6(from)) = self.source_for(IpAddr::V6(ip.src)) else {
            return;
        };
        let first = frame.data().get(off..).unwrap_or_default();
        let Ok(req) = Icmpv6Packet::new_checked(first) else {
            return;
        };
        let data_len = frame.len() - off - 8;
        let msg = Icmpv6Repr::EchoReply {
            ident: req.echo_ident(),
            seq_no: req.echo_seq_no(),
            data_len,
        };
        let len = msg.buffer_len();
        let eth_src = EthernetFrame::new_unchecked(frame.data()).src();
        let reply = Pkt::alloc(&pools.data).and_then(|mut p| {
            let buf = p.append(ETH + IP6 + len)?;
            self.write_icmpv6_headers(buf, from, ip.src, eth_src, HOP_LIMIT, len);
            frame.copy_out(off + 8, &mut buf[ETH + IP6 + 8..]);
            msg.emit(&from, &ip.src, &mut buf[ETH + IP6..]);
            Some(p)
        });
        if self.emit_or_count(reply, tx) {
            self.count_icmpv6_out(&ip.src);
            self.counters.icmp6_out_echo_replies += 1;
        }
    }

    /// An ICMPv6 echo request frame with `ping.data_len` bytes of pattern data.
    pub(super) fn echo_request_v6(
        &mut self,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        dst_mac: MacAddr,
        ping: Ping,
        pools: &Pools,
    ) -> Option<Pkt> {
        let data_len = usize::from(ping.data_len);
        let msg = Icmpv6Repr::EchoRequest {
            ident: ping.ident,
            seq_no: ping.seq_no,
            data_len,
        };
        let len = msg.buffer_len();
        let mut p = Pkt::alloc(&pools.data)?;
        let buf = p.append(ETH + IP6 + len)?;
        self.write_icmpv6_headers(buf, src, dst, dst_mac, HOP_LIMIT, len);
        fill_pattern(&mut buf[ETH + IP6 + 8..]);
        msg.emit(&src, &dst, &mut buf[ETH + IP6..]);
        self.count_icmpv6_out(&dst);
        self.counters.icmp6_out_echos += 1;
        Some(p)
    }
}
