//! ICMP echo (RFC 792; RFC 1122 §3.2.2.6): requests to our addresses are answered by
//! rewriting them in place into the reply; replies to our own requests are logged
//! ([`IpLayer::echo_replies`]); [`IpLayer::send_echo_request`] pings in either family. ICMPv6
//! echo (RFC 4443 §4) lives beside the rest of ICMPv6 in `icmpv6`.

use std::net::IpAddr;

use super::input::chain_sum;
use super::template::HOP_LIMIT;
use super::{ETH, IP4};
use super::{EchoReply, IpLayer, Ping, Route};
use crate::buf::{Pkt, Pools};
use crate::dev::TxBatch;
use crate::time::Instant;
use crate::wire::{
    Checksum, EtherType, EthernetFrame, EthernetRepr, IcmpPacket, IcmpRepr, IcmpType, IpProtocol,
    Ipv4Packet, Ipv4Repr, MacAddr, checksum,
};

impl IpLayer {
    /// One ICMP message in an IPv4 datagram whose header is `ip_hlen` bytes.
    pub(super) fn icmp_input(
        &mut self,
        now: Instant,
        frame: Pkt,
        ip_hlen: usize,
        pools: &Pools,
        tx: &mut TxBatch,
    ) {
        self.counters.icmp_in_msgs += 1;
        let off = ETH + ip_hlen;
        let len = frame.len() - off;
        let (msg_type, ident, seq_no) = match IcmpPacket::new_checked(&frame.data()[off..]) {
            Ok(p) => (p.msg_type(), p.echo_ident(), p.echo_seq_no()),
            Err(_) => {
                self.counters.icmp_in_errors += 1;
                return;
            }
        };
        if checksum::fold(chain_sum(&frame, off, len, Checksum::default()).sum()) != 0xffff {
            self.counters.icmp_in_errors += 1;
            self.counters.icmp_in_csum_errors += 1;
            return;
        }
        match msg_type {
            IcmpType::EchoRequest => self.counters.icmp_in_echos += 1,
            IcmpType::EchoReply => {
                self.counters.icmp_in_echo_reps += 1;
                let from = Ipv4Packet::new_unchecked(&frame.data()[ETH..]).src();
                self.log_echo_reply(from.into(), ident, seq_no, now);
                return;
            }
            _ => return,
        }
        let Some(mut reply) = writable_copy(frame, pools) else {
            self.counters.out_nombuf += 1;
            return;
        };
        let Some(d) = reply.data_mut().filter(|d| d.len() >= off + 8) else {
            self.counters.out_nombuf += 1;
            return;
        };
        self.echo_to_reply(d, ip_hlen);
        self.counters.icmp_out_msgs += 1;
        self.counters.icmp_out_echo_reps += 1;
        self.counters.ip_out_requests += 1;
        tx.push(reply);
    }

    /// Remembers an echo reply (at most [`super::ECHO_LOG`], oldest dropped first).
    pub(super) fn log_echo_reply(&mut self, from: IpAddr, ident: u16, seq_no: u16, at: Instant) {
        if self.echo_replies.len() == super::ECHO_LOG {
            self.echo_replies.pop_front();
        }
        self.echo_replies.push_back(EchoReply {
            from,
            ident,
            seq_no,
            at,
        });
    }

    /// Turns the echo request in `d` (Ethernet frame) into our reply, in place.
    fn echo_to_reply(&mut self, d: &mut [u8], ip_hlen: usize) {
        swap_macs(d, self.mac);
        let ident = self.ident.next();
        {
            let mut ip = Ipv4Packet::new_unchecked(&mut d[ETH..]);
            let (peer, us) = (ip.src(), ip.dst());
            ip.set_src(us);
            ip.set_dst(peer);
            ip.set_ttl(HOP_LIMIT);
            ip.set_ident(ident);
            ip.fill_checksum();
        }
        let mut icmp = IcmpPacket::new_unchecked(&mut d[ETH + ip_hlen..]);
        // Type 8 → 0 changes one 16-bit word: update the checksum incrementally (RFC 1624),
        // because the data may continue in further segments.
        let _ = icmp.echo_request_to_reply();
    }

    /// Sends an echo request with `data_len` bytes of pattern data to `ping.dst` (ICMP for
    /// IPv4, ICMPv6 for IPv6). Returns false if there is no route or no mbuf; a request for an
    /// unresolved neighbour waits in the neighbour queue.
    pub fn send_echo_request(
        &mut self,
        now: Instant,
        ping: Ping,
        pools: &Pools,
        tx: &mut TxBatch,
    ) -> bool {
        let Some(src) = self.source_for(ping.dst) else {
            return false;
        };
        let route = self.route(now, ping.dst, pools, tx);
        let dst_mac = match route {
            Route::Resolved(m) => m,
            Route::Pending(_) => MacAddr::ZERO,
            Route::NoRoute => return false,
        };
        let frame = match (src, ping.dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => self.echo_request_v4(s, d, dst_mac, ping, pools),
            (IpAddr::V6(s), IpAddr::V6(d)) => self.echo_request_v6(s, d, dst_mac, ping, pools),
            _ => None,
        };
        let Some(p) = frame else {
            self.counters.out_nombuf += 1;
            return false;
        };
        match route {
            Route::Pending(hop) => self.send_unresolved(now, hop, p, pools, tx),
            _ => tx.push(p),
        }
        true
    }

    /// An ICMP echo request frame.
    fn echo_request_v4(
        &mut self,
        src: std::net::Ipv4Addr,
        dst: std::net::Ipv4Addr,
        dst_mac: MacAddr,
        ping: Ping,
        pools: &Pools,
    ) -> Option<Pkt> {
        let data_len = usize::from(ping.data_len);
        let icmp = IcmpRepr::EchoRequest {
            ident: ping.ident,
            seq_no: ping.seq_no,
            data_len,
        };
        let ip = Ipv4Repr {
            src,
            dst,
            protocol: IpProtocol::Icmp,
            payload_len: 8 + ping.data_len,
            ttl: HOP_LIMIT,
            ident: self.ident.next(),
            dont_frag: true,
            dscp_ecn: 0,
        };
        let mut p = Pkt::alloc(&pools.data)?;
        let buf = p.append(ETH + IP4 + 8 + data_len)?;
        EthernetRepr {
            src: self.mac,
            dst: dst_mac,
            ethertype: EtherType::Ipv4,
        }
        .emit(buf);
        ip.emit(&mut buf[ETH..], true);
        fill_pattern(&mut buf[ETH + IP4 + 8..]);
        icmp.emit(&mut buf[ETH + IP4..]);
        self.counters.icmp_out_msgs += 1;
        self.counters.ip_out_requests += 1;
        Some(p)
    }
}

/// Bytes 0, 1, 2, ... as echo data.
pub(super) fn fill_pattern(buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = i as u8;
    }
}

/// Addresses the frame in `d` back to its sender, from `us`.
pub(super) fn swap_macs(d: &mut [u8], us: MacAddr) {
    let mut eth = EthernetFrame::new_unchecked(&mut d[..]);
    let peer = eth.src();
    eth.set_dst(peer);
    eth.set_src(us);
}

/// The frame itself when we own it, else (shared, e.g. net_ring) a private copy: an echo
/// reply is written in place.
pub(super) fn writable_copy(frame: Pkt, pools: &Pools) -> Option<Pkt> {
    if frame.is_exclusive() {
        Some(frame)
    } else {
        frame.deep_copy(&pools.data)
    }
}
