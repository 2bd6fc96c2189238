//! Frame input: Ethernet → ARP | IPv4 → ICMP | TCP, with the checks of RFC 1122 §3.2.1.
//!
//! Every frame either comes out as a [`TcpIn`] for the TCP layer, or is answered (ARP, ping)
//! or dropped here, and every drop is counted. Checksums that the NIC verified
//! (`RTE_MBUF_F_RX_*_CKSUM_GOOD`) are not recomputed; `*_BAD` is a drop; otherwise the check is
//! done in software over all segments. The common TCP segment is first offered to receive
//! prediction (`predict.rs`), which accepts it in one pass or hands it back to this path.

use std::net::Ipv4Addr;

use super::{Iface, TcpIn};
use crate::buf::{Pkt, Pools};
use crate::dev::TxBatch;
use crate::time::Instant;
use crate::wire::{
    self, ArpOperation, ArpPacket, ArpRepr, Checksum, EtherType, EthernetFrame, IcmpPacket,
    IcmpType, IpProtocol, Ipv4Packet, TcpPacket, TcpRepr, checksum,
};

const ETH_LEN: usize = 14;

/// What the NIC said about a checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HwCsum {
    Good,
    Bad,
    Unknown,
}

pub(super) fn hw_csum(trusted: bool, flags: u64, mask: u64, good: u64, bad: u64) -> HwCsum {
    if trusted {
        // A link that cannot corrupt frames (DeviceCaps::trusted): as if checked.
        return HwCsum::Good;
    }
    match flags & mask {
        f if f == good => HwCsum::Good,
        f if f == bad => HwCsum::Bad,
        _ => HwCsum::Unknown,
    }
}

/// Software checksum over `len` bytes of `pkt` from `offset`, across segments.
pub(super) fn chain_sum(pkt: &Pkt, offset: usize, len: usize, mut c: Checksum) -> Checksum {
    let (mut skip, mut left) = (offset, len);
    for seg in pkt.segments() {
        if left == 0 {
            break;
        }
        if skip >= seg.len() {
            skip -= seg.len();
            continue;
        }
        let n = (seg.len() - skip).min(left);
        c.add(&seg[skip..skip + n]);
        left -= n;
        skip = 0;
    }
    c
}

impl Iface {
    /// Processes one received frame. Returns the TCP segment it carried, if any; ARP and ICMP
    /// answers go into `tx`.
    pub fn input(
        &mut self,
        now: Instant,
        frame: Pkt,
        pools: &Pools,
        tx: &mut TxBatch,
    ) -> Option<TcpIn> {
        // The common TCP segment first (see `predict`); anything else takes the general path.
        match self.input_predicted(frame) {
            Ok(seg) => Some(seg),
            Err(frame) => self.input_general(now, frame, pools, tx),
        }
    }

    /// [`Iface::input`] layer by layer, for every frame.
    pub(super) fn input_general(
        &mut self,
        now: Instant,
        frame: Pkt,
        pools: &Pools,
        tx: &mut TxBatch,
    ) -> Option<TcpIn> {
        self.counters.eth_in_frames += 1;
        // Headers must be in the first segment (true of every PMD here, and of a peer
        // engine's header mbuf + payload clone on net_ring): every header view below checks
        // its length against the first segment, and a frame whose headers are split is
        // dropped as malformed.
        let (dst, ethertype) = match EthernetFrame::new_checked(frame.data()) {
            Ok(eth) => (eth.dst(), eth.ethertype()),
            Err(_) => {
                self.counters.eth_in_malformed += 1;
                return None;
            }
        };
        if dst != self.mac && !dst.is_broadcast() {
            if dst.is_multicast() {
                self.counters.eth_in_multicast += 1;
            } else {
                self.counters.eth_in_other_host += 1;
            }
            return None;
        }
        match ethertype {
            EtherType::Arp => {
                self.arp_input(now, &frame, pools, tx);
                None
            }
            EtherType::Ipv4 => self.ipv4_input(now, frame, pools, tx),
            _ => {
                self.counters.eth_in_unknown_type += 1;
                None
            }
        }
    }

    fn arp_input(&mut self, now: Instant, frame: &Pkt, pools: &Pools, tx: &mut TxBatch) {
        let repr = match ArpPacket::new_checked(&frame.data()[ETH_LEN..])
            .and_then(|p| ArpRepr::parse(&p))
        {
            Ok(r) => r,
            Err(_) => {
                self.counters.arp_in_errors += 1;
                return;
            }
        };
        if repr.source_mac.is_multicast() || matches!(repr.operation, ArpOperation::Unknown(_)) {
            self.counters.arp_in_errors += 1;
            return;
        }
        let for_us = repr.target_ip == self.ip;
        if repr.source_ip.is_unspecified() {
            // An address probe (RFC 5227 §2.1.1): answer it if it is for our address, so the
            // prober sees the conflict; learn nothing from it.
            if repr.operation == ArpOperation::Request && for_us {
                self.counters.arp_in_requests += 1;
                self.send_arp(
                    pools,
                    tx,
                    ArpOperation::Reply,
                    repr.source_mac,
                    repr.source_ip,
                );
            }
            return;
        }
        // RFC 826 packet reception: merge the sender into an existing entry; add it if we are
        // the target.
        self.arp_update(now, repr.source_ip, repr.source_mac, for_us);
        let mut release = |p: Pkt| Self::fill_dst(p, repr.source_mac, tx);
        self.arp.take_pending(repr.source_ip, &mut release);
        if repr.operation == ArpOperation::Reply {
            self.counters.arp_in_replies += 1;
            return;
        }
        self.counters.arp_in_requests += 1;
        if for_us {
            self.send_arp(
                pools,
                tx,
                ArpOperation::Reply,
                repr.source_mac,
                repr.source_ip,
            );
        }
    }

    /// Sets the Ethernet destination of a frame that waited for resolution, and queues it.
    fn fill_dst(mut p: Pkt, mac: wire::MacAddr, tx: &mut TxBatch) {
        if let Some(d) = p.data_mut().filter(|d| d.len() >= ETH_LEN) {
            EthernetFrame::new_unchecked(d).set_dst(mac);
            tx.push(p);
        }
    }

    fn ipv4_input(
        &mut self,
        now: Instant,
        mut frame: Pkt,
        pools: &Pools,
        tx: &mut TxBatch,
    ) -> Option<TcpIn> {
        self.counters.ip_in_receives += 1;
        let flags = frame.ol_flags();
        let ip_hw = hw_csum(
            self.trusted,
            flags,
            dpdk_sys::RTE_MBUF_F_RX_IP_CKSUM_MASK,
            dpdk_sys::RTE_MBUF_F_RX_IP_CKSUM_GOOD,
            dpdk_sys::RTE_MBUF_F_RX_IP_CKSUM_BAD,
        );
        let data = &frame.data()[ETH_LEN..];
        // The datagram may continue in later segments: lengths are checked against the whole
        // frame, the header against the first segment.
        let total = frame.len() - ETH_LEN;
        // RFC 1122 §3.2.1.1-2, in the order of Linux's ip_rcv_core so the counters agree with
        // nstat: header too short, bad version or IHL → IpInHdrErrors; bad checksum →
        // IpExtInCsumErrors too; total length beyond the frame → IpExtInTruncatedPkts;
        // total length shorter than the header → IpInHdrErrors.
        let Some(&ver_ihl) = data.first().filter(|_| data.len() >= 20) else {
            self.counters.ip_in_hdr_errors += 1;
            return None;
        };
        let hlen = usize::from(ver_ihl & 0x0f) * 4;
        if ver_ihl >> 4 != 4 || hlen < 20 || hlen > data.len() {
            self.counters.ip_in_hdr_errors += 1;
            return None;
        }
        // Every field read below lies within the checked header.
        let ip = Ipv4Packet::new_unchecked(data);
        if ip_hw == HwCsum::Bad || (ip_hw == HwCsum::Unknown && !ip.verify_checksum()) {
            self.counters.ip_in_hdr_errors += 1;
            self.counters.ip_ext_in_csum_errors += 1;
            return None;
        }
        if usize::from(ip.total_len()) > total {
            self.counters.ip_ext_in_truncated_pkts += 1;
            return None;
        }
        if usize::from(ip.total_len()) < hlen {
            self.counters.ip_in_hdr_errors += 1;
            return None;
        }
        let (src, dst, tlen) = (ip.src(), ip.dst(), usize::from(ip.total_len()));
        let (proto, fragment) = (ip.protocol(), ip.is_fragment());
        if dst != self.ip && dst != Ipv4Addr::BROADCAST {
            self.counters.ip_in_addr_errors += 1;
            return None;
        }
        if fragment {
            self.counters.ip_reasm_reqds += 1;
            self.counters.ip_reasm_fails += 1;
            return None;
        }
        // Drop Ethernet padding beyond the datagram.
        frame.trim_back(frame.len() - ETH_LEN - tlen);
        match proto {
            IpProtocol::Icmp => {
                self.counters.ip_in_delivers += 1;
                self.icmp_input(now, frame, hlen, pools, tx);
                None
            }
            IpProtocol::Tcp => {
                self.counters.ip_in_delivers += 1;
                self.tcp_input(frame, src, dst, hlen)
            }
            _ => {
                self.counters.ip_in_unknown_protos += 1;
                None
            }
        }
    }

    /// Answers an echo request by rewriting it into the reply (RFC 792; RFC 1122 §3.2.2.6).
    fn icmp_input(
        &mut self,
        now: Instant,
        frame: Pkt,
        ip_hlen: usize,
        pools: &Pools,
        tx: &mut TxBatch,
    ) {
        self.counters.icmp_in_msgs += 1;
        let off = ETH_LEN + ip_hlen;
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
                if self.echo_replies.len() == super::ECHO_LOG {
                    self.echo_replies.pop_front();
                }
                let from = Ipv4Packet::new_unchecked(&frame.data()[ETH_LEN..]).src();
                self.echo_replies.push_back(super::EchoReply {
                    from,
                    ident,
                    seq_no,
                    at: now,
                });
                return;
            }
            _ => return,
        }
        // Rewrite in place when we own the frame; otherwise (shared, e.g. net_ring) copy it.
        let mut reply = if frame.is_exclusive() {
            Some(frame)
        } else {
            frame.deep_copy(&pools.data)
        };
        let Some(d) = reply
            .as_mut()
            .and_then(|r| r.data_mut())
            .filter(|d| d.len() >= off + 8)
        else {
            self.counters.out_nombuf += 1;
            return;
        };
        self.echo_to_reply(d, ip_hlen);
        self.counters.icmp_out_msgs += 1;
        self.counters.icmp_out_echo_reps += 1;
        self.counters.ip_out_requests += 1;
        tx.push(reply.expect("checked above"));
    }

    /// Turns the echo request in `d` (Ethernet frame) into our reply, in place.
    fn echo_to_reply(&mut self, d: &mut [u8], ip_hlen: usize) {
        {
            let mut eth = EthernetFrame::new_unchecked(&mut d[..]);
            let peer = eth.src();
            eth.set_dst(peer);
            eth.set_src(self.mac);
        }
        let ident = self.next_ident();
        {
            let mut ip = Ipv4Packet::new_unchecked(&mut d[ETH_LEN..]);
            let peer = ip.src();
            ip.set_src(self.ip);
            ip.set_dst(peer);
            ip.set_ttl(64);
            ip.set_ident(ident);
            ip.fill_checksum();
        }
        let mut icmp = IcmpPacket::new_unchecked(&mut d[ETH_LEN + ip_hlen..]);
        // Type 8 → 0 changes one 16-bit word: update the checksum incrementally (RFC 1624),
        // because the data may continue in further segments.
        let _ = icmp.echo_request_to_reply();
    }

    fn tcp_input(
        &mut self,
        mut frame: Pkt,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ip_hlen: usize,
    ) -> Option<TcpIn> {
        let off = ETH_LEN + ip_hlen;
        let seg_len = frame.len() - off;
        let hw = hw_csum(
            self.trusted,
            frame.ol_flags(),
            dpdk_sys::RTE_MBUF_F_RX_L4_CKSUM_MASK,
            dpdk_sys::RTE_MBUF_F_RX_L4_CKSUM_GOOD,
            dpdk_sys::RTE_MBUF_F_RX_L4_CKSUM_BAD,
        );
        let ok = match hw {
            HwCsum::Good => true,
            HwCsum::Bad => false,
            HwCsum::Unknown => {
                let pseudo = checksum::pseudo_header(src, dst, 6, seg_len as u32);
                checksum::fold(chain_sum(&frame, off, seg_len, Checksum::with_sum(pseudo)).sum())
                    == 0xffff
            }
        };
        if !ok {
            self.counters.tcp_in_csum_errors += 1;
            return None;
        }
        let parsed = TcpPacket::new_checked(&frame.data()[off..])
            .and_then(|p| Ok((TcpRepr::parse(&p)?, p.header_len())));
        let (repr, thlen) = match parsed {
            Ok(x) => x,
            Err(_) => {
                self.counters.tcp_in_hdr_errors += 1;
                return None;
            }
        };
        let payload = if seg_len > thlen {
            frame.trim_front(off + thlen);
            Some(frame)
        } else {
            None
        };
        Some(TcpIn {
            src,
            dst,
            repr,
            payload,
        })
    }
}
